//! The one tbot.yaml reader: it keeps the byte span of every key and value, for the subset tbot
//! configs use: block mappings and sequences, one-line or multi-line flow collections, plain and
//! quoted scalars, block scalars, comments. Anything else is a clear error, never a panic. The
//! linter and the token writer read with it and change files through [`edit`].

pub(crate) mod edit;

use std::fmt;

/// Byte offsets into the source, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Scalar(Scalar),
    Map(Map),
    Seq(Vec<Node>),
    Alias,
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub text: String,
    pub style: Style,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Quoted,
    Block,
}

#[derive(Debug, Clone)]
pub(crate) struct Map {
    pub entries: Vec<Entry>,
    /// `{...}` on one or more lines, rather than one key per line.
    pub flow: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    pub(crate) fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub(crate) fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(scalar) => Some(&scalar.text),
            _ => None,
        }
    }
}

impl Map {
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A parsed document: its root (None when empty) and the duplicate keys found (tbot rejects them).
#[derive(Debug)]
pub(crate) struct Document {
    pub root: Option<Node>,
    pub duplicates: Vec<(String, Span)>,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

pub(crate) fn parse(src: &str) -> Result<Document, YamlError> {
    let mut parser = Parser::new(src);
    let root = parser.document()?;
    Ok(Document {
        root,
        duplicates: parser.duplicates,
    })
}

struct Line {
    start: usize,
    /// End of the line's text, before `\n` or `\r\n`.
    end: usize,
    indent: usize,
    blank: bool,
}

struct Parser<'a> {
    src: &'a str,
    lines: Vec<Line>,
    /// The next line to read.
    i: usize,
    depth: usize,
    duplicates: Vec<(String, Span)>,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, YamlError> {
    Err(YamlError {
        offset,
        message: message.into(),
    })
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        let mut lines = Vec::new();
        let mut start = 0;
        let bytes = src.as_bytes();
        while start < bytes.len() {
            let newline = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i);
            let mut end = newline.unwrap_or(bytes.len());
            if end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
            let text = &bytes[start..end];
            let indent = text.iter().take_while(|&&b| b == b' ').count();
            let rest = &text[indent..];
            let first = rest.iter().position(|&b| b != b' ' && b != b'\t');
            let blank = first.is_none_or(|p| rest[p] == b'#');
            lines.push(Line {
                start,
                end,
                indent,
                blank,
            });
            start = newline.map_or(bytes.len(), |n| n + 1);
        }
        Parser {
            src,
            lines,
            i: 0,
            depth: 0,
            duplicates: Vec::new(),
        }
    }

    fn text(&self, i: usize) -> &'a str {
        self.lines
            .get(i)
            .map_or("", |line| &self.src[line.start..line.end])
    }

    fn skip_blank(&mut self) {
        while self.i < self.lines.len() && self.lines[self.i].blank {
            self.i += 1;
        }
    }

    fn offset(&self, i: usize, col: usize) -> usize {
        self.lines
            .get(i)
            .map_or(self.src.len(), |line| (line.start + col).min(line.end))
    }

    fn line_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|line| line.start <= offset)
            .saturating_sub(1)
    }

    fn document(&mut self) -> Result<Option<Node>, YamlError> {
        self.skip_blank();
        while self.i < self.lines.len() && self.text(self.i).starts_with('%') {
            self.i += 1;
            self.skip_blank();
        }
        if self.i < self.lines.len() && is_marker(self.text(self.i), "---") {
            if !rest_is_blank(&self.text(self.i)[3..]) {
                return err(
                    self.offset(self.i, 3),
                    "content on the `---` line is not supported: start it on the next line",
                );
            }
            self.i += 1;
            self.skip_blank();
        }
        let root = if self.i < self.lines.len() && !is_marker(self.text(self.i), "...") {
            self.check_tabs(self.i)?;
            let indent = self.lines[self.i].indent;
            Some(self.block(self.i, indent, -1, false)?)
        } else {
            None
        };
        self.skip_blank();
        if self.i < self.lines.len() && is_marker(self.text(self.i), "...") {
            self.i += 1;
            self.skip_blank();
        }
        if self.i < self.lines.len() {
            let offset = self.offset(self.i, self.lines[self.i].indent);
            if is_marker(self.text(self.i), "---") {
                return err(offset, "a second YAML document: tbot reads only one");
            }
            return err(
                offset,
                "unexpected text: check the indentation of this line",
            );
        }
        Ok(root)
    }

    fn check_tabs(&self, i: usize) -> Result<(), YamlError> {
        let line = &self.lines[i];
        if !line.blank && self.src.as_bytes().get(line.start + line.indent) == Some(&b'\t') {
            return err(
                line.start + line.indent,
                "a tab is used for indentation: YAML allows only spaces",
            );
        }
        Ok(())
    }

    /// A node whose text starts on line `i` at byte column `col`, inside a collection indented at
    /// `parent` (-1 for the root).
    fn block(
        &mut self,
        i: usize,
        col: usize,
        parent: isize,
        map_value: bool,
    ) -> Result<Node, YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(self.offset(i, col), "nesting is too deep");
        }
        let rest = self.text(i).get(col..).unwrap_or("");
        let node = if is_seq_entry(rest) {
            self.sequence(i, col)
        } else if self.key_at(i, col)?.is_some() {
            self.mapping(i, col)
        } else {
            self.inline(i, col, parent, map_value)
        };
        self.depth -= 1;
        node
    }

    /// After an item of a block list or mapping at `indent`: skips blank lines and says whether
    /// the block goes on at the next line (same indentation, no document marker); a line indented
    /// deeper is the error `deeper`.
    fn block_continues(&mut self, indent: usize, deeper: &str) -> Result<bool, YamlError> {
        self.skip_blank();
        if self.i >= self.lines.len() {
            return Ok(false);
        }
        self.check_tabs(self.i)?;
        let line = &self.lines[self.i];
        if line.indent < indent
            || is_marker(self.text(self.i), "---")
            || is_marker(self.text(self.i), "...")
        {
            return Ok(false);
        }
        if line.indent > indent {
            return err(line.start + line.indent, deeper);
        }
        Ok(true)
    }

    fn sequence(&mut self, first: usize, indent: usize) -> Result<Node, YamlError> {
        let start = self.offset(first, indent);
        let mut items = Vec::new();
        let mut i = first;
        let mut end = start + 1;
        loop {
            let text = self.text(i);
            let after = indent + 1;
            let content = after + count_spaces(text.get(after..).unwrap_or(""));
            let item = if rest_is_blank(text.get(after..).unwrap_or("")) {
                self.i = i + 1;
                self.nested_or_null(self.offset(i, after), indent as isize, false)?
            } else {
                self.block(i, content, indent as isize, false)?
            };
            end = end.max(item.span.end);
            items.push(item);
            if !self.block_continues(indent, "unexpected indentation inside a list")?
                || !is_seq_entry(&self.text(self.i)[indent..])
            {
                break;
            }
            i = self.i;
        }
        Ok(Node {
            value: Value::Seq(items),
            span: Span { start, end },
        })
    }

    fn mapping(&mut self, first: usize, indent: usize) -> Result<Node, YamlError> {
        let start = self.offset(first, indent);
        let mut entries: Vec<Entry> = Vec::new();
        let mut i = first;
        let mut end = start;
        loop {
            let Some((key, key_span, after_colon)) = self.key_at(i, indent)? else {
                return err(
                    self.offset(i, indent),
                    "expected `key: value` here (or check the indentation)",
                );
            };
            if entries.iter().any(|e| e.key == key) {
                self.duplicates.push((key.clone(), key_span));
            }
            let text = self.text(i);
            let value = if rest_is_blank(text.get(after_colon..).unwrap_or("")) {
                self.i = i + 1;
                self.nested_or_null(self.offset(i, after_colon), indent as isize, true)?
            } else {
                let content = after_colon + count_spaces(text.get(after_colon..).unwrap_or(""));
                self.inline(i, content, indent as isize, true)?
            };
            end = end.max(value.span.end).max(key_span.end);
            entries.push(Entry {
                key,
                key_span,
                value,
            });
            if !self.block_continues(
                indent,
                "unexpected indentation: this line is indented more than the key above",
            )? {
                break;
            }
            i = self.i;
        }
        Ok(Node {
            value: Value::Map(Map {
                entries,
                flow: false,
            }),
            span: Span { start, end },
        })
    }

    /// The value of a key or list entry whose line ends after the indicator: a block on the next
    /// lines, indented more than `parent` (a list may sit at the key's own indentation), or null.
    fn nested_or_null(
        &mut self,
        at: usize,
        parent: isize,
        map_value: bool,
    ) -> Result<Node, YamlError> {
        self.skip_blank();
        if self.i < self.lines.len() {
            self.check_tabs(self.i)?;
            let line = &self.lines[self.i];
            let text = self.text(self.i);
            let deeper = line.indent as isize > parent;
            let same_level_list =
                map_value && line.indent as isize == parent && is_seq_entry(&text[line.indent..]);
            if (deeper || same_level_list) && !is_marker(text, "---") && !is_marker(text, "...") {
                let (i, indent) = (self.i, line.indent);
                return self.block(i, indent, parent, map_value);
            }
        }
        Ok(Node {
            value: Value::Null,
            span: Span { start: at, end: at },
        })
    }

    /// A value starting on line `i` at column `col` that is not a block collection.
    fn inline(
        &mut self,
        i: usize,
        col: usize,
        parent: isize,
        map_value: bool,
    ) -> Result<Node, YamlError> {
        let text = self.text(i);
        let rest = text.get(col..).unwrap_or("");
        let start = self.offset(i, col);
        let Some(first) = rest.chars().next() else {
            self.i = i + 1;
            return Ok(Node {
                value: Value::Null,
                span: Span { start, end: start },
            });
        };
        match first {
            '"' | '\'' | '[' | '{' => {
                let (node, end) = if first == '"' || first == '\'' {
                    let (text, end) = self.quoted(start, self.src.len())?;
                    (
                        Node {
                            value: Value::Scalar(Scalar {
                                text,
                                style: Style::Quoted,
                            }),
                            span: Span { start, end },
                        },
                        end,
                    )
                } else {
                    self.flow(start, 0)?
                };
                let line = self.line_of(end.saturating_sub(1).max(start));
                let tail = self.src.get(end..self.lines[line].end).unwrap_or("");
                if !rest_is_blank(tail) {
                    return err(end, "unexpected text after the value");
                }
                self.i = line + 1;
                Ok(node)
            }
            '&' | '!' => {
                // Anchors and tags carry no meaning for tbot: skip them, the value follows.
                let mut after = col;
                while let Some(word) = text.get(after..).filter(|r| r.starts_with(['&', '!'])) {
                    after += word.find([' ', '\t']).unwrap_or(word.len());
                    after += count_spaces(text.get(after..).unwrap_or(""));
                }
                if rest_is_blank(text.get(after..).unwrap_or("")) {
                    self.i = i + 1;
                    self.nested_or_null(self.offset(i, after), parent, map_value)
                } else {
                    self.inline(i, after, parent, map_value)
                }
            }
            '*' => {
                let word = rest.find([' ', '\t']).unwrap_or(rest.len());
                if !rest_is_blank(&rest[word..]) {
                    return err(start + word, "unexpected text after the alias");
                }
                self.i = i + 1;
                Ok(Node {
                    value: Value::Alias,
                    span: Span {
                        start,
                        end: start + word,
                    },
                })
            }
            '|' | '>' => self.block_scalar(i, col, parent),
            '?' if rest.len() == 1 || rest[1..].starts_with([' ', '\t']) => err(
                start,
                "complex keys (`? `) are not supported in a tbot config",
            ),
            '%' | '@' | '`' => err(
                start,
                format!("`{first}` cannot start a plain value: quote it"),
            ),
            '-' if is_seq_entry(rest) => err(
                start,
                "a list cannot start on the line of its key: put `- ` on the next line",
            ),
            _ => self.plain(i, col, parent),
        }
    }

    fn plain(&mut self, i: usize, col: usize, parent: isize) -> Result<Node, YamlError> {
        let text = self.text(i);
        let rest = strip_comment(text.get(col..).unwrap_or(""));
        let value = rest.trim_end();
        if let Some(at) = mapping_indicator(value) {
            return err(
                self.offset(i, col + at),
                "a `: ` inside a value: quote the value, or put the key on its own line",
            );
        }
        let start = self.offset(i, col);
        let mut end = start + value.len();
        let mut joined = value.to_string();
        self.i = i + 1;
        // A plain value may go on over lines indented more than its parent.
        loop {
            // Empty lines inside a plain value are kept as newlines; a comment ends it.
            let mut next = self.i;
            let mut empty = 0;
            while next < self.lines.len() && self.text(next).trim().is_empty() {
                next += 1;
                empty += 1;
            }
            let Some(line) = self.lines.get(next) else {
                break;
            };
            if line.blank {
                break;
            }
            if line.indent as isize <= parent || self.text(next).starts_with("---") {
                break;
            }
            let raw = &self.text(next)[line.indent..];
            let lead = count_spaces(raw);
            let part = strip_comment(&raw[lead..]).trim_end();
            if part.is_empty() {
                break;
            }
            let part_start = line.start + line.indent + lead;
            if let Some(at) = mapping_indicator(part) {
                return err(
                    part_start + at,
                    "a `: ` inside a value: quote the value, or check the indentation",
                );
            }
            if empty == 0 {
                joined.push(' ');
            } else {
                joined.extend(std::iter::repeat_n('\n', empty));
            }
            joined.push_str(part);
            end = part_start + part.len();
            self.i = next + 1;
        }
        Ok(Node {
            value: Value::Scalar(Scalar {
                text: joined,
                style: Style::Plain,
            }),
            span: Span { start, end },
        })
    }

    fn block_scalar(&mut self, i: usize, col: usize, parent: isize) -> Result<Node, YamlError> {
        let text = self.text(i);
        let header = strip_comment(text.get(col..).unwrap_or("")).trim_end();
        if !header[1..]
            .chars()
            .all(|c| c == '+' || c == '-' || c.is_ascii_digit())
        {
            return err(
                self.offset(i, col),
                "a block scalar header is `|` or `>` with at most `+`, `-` and a digit",
            );
        }
        let literal = header.starts_with('|');
        let start = self.offset(i, col);
        let mut end = start + header.len();
        let mut parts: Vec<&str> = Vec::new();
        let mut content_indent = None;
        let mut next = i + 1;
        while let Some(line) = self.lines.get(next) {
            let raw = self.text(next);
            if raw.trim().is_empty() {
                parts.push("");
                next += 1;
                continue;
            }
            if line.indent as isize <= parent {
                break;
            }
            let indent = *content_indent.get_or_insert(line.indent);
            if line.indent < indent {
                break;
            }
            parts.push(&raw[indent..]);
            end = line.end;
            next += 1;
        }
        while parts.last() == Some(&"") {
            parts.pop();
        }
        self.i = next;
        Ok(Node {
            value: Value::Scalar(Scalar {
                text: parts.join(if literal { "\n" } else { " " }),
                style: Style::Block,
            }),
            span: Span { start, end },
        })
    }

    /// A mapping key at line `i`, column `col`: the key, its span and the column after its `:`.
    fn key_at(&self, i: usize, col: usize) -> Result<Option<(String, Span, usize)>, YamlError> {
        let text = self.text(i);
        let Some(rest) = text.get(col..) else {
            return Ok(None);
        };
        let Some(first) = rest.chars().next() else {
            return Ok(None);
        };
        let base = self.offset(i, col);
        if first == '"' || first == '\'' {
            let line_end = self.lines[i].end;
            let Ok((key, end)) = self.quoted(base, line_end) else {
                return Ok(None);
            };
            if end > line_end {
                return Ok(None);
            }
            let after = &self.src[end..line_end];
            let spaces = count_spaces(after);
            let tail = &after[spaces..];
            if tail.starts_with(':') && (tail.len() == 1 || tail[1..].starts_with([' ', '\t'])) {
                let colon = end - self.lines[i].start + spaces + 1;
                return Ok(Some((key, Span { start: base, end }, colon)));
            }
            return Ok(None);
        }
        if "[{&*!|>%@`#".contains(first) || (("-?:".contains(first)) && is_indicator_at(rest)) {
            return Ok(None);
        }
        let bytes = rest.as_bytes();
        for (j, &b) in bytes.iter().enumerate() {
            if b == b'#' && j > 0 && (bytes[j - 1] == b' ' || bytes[j - 1] == b'\t') {
                return Ok(None);
            }
            if b == b':' && (j + 1 == bytes.len() || bytes[j + 1] == b' ' || bytes[j + 1] == b'\t')
            {
                let key = rest[..j].trim_end();
                if key.is_empty() {
                    return Ok(None);
                }
                return Ok(Some((
                    key.to_string(),
                    Span {
                        start: base,
                        end: base + key.len(),
                    },
                    col + j + 1,
                )));
            }
        }
        Ok(None)
    }

    /// A quoted scalar starting at `start` (on `'` or `"`), possibly over several lines. Returns
    /// its value and the offset after the closing quote.
    fn quoted(&self, start: usize, limit: usize) -> Result<(String, usize), YamlError> {
        let src = self.src.get(start..limit).unwrap_or("");
        let mut chars = src.char_indices();
        let Some((_, quote)) = chars.next() else {
            return err(start, "expected a quoted string");
        };
        let mut out = String::new();
        // Line breaks seen since the last character: one folds to a space, more to newlines.
        let mut breaks = 0usize;
        while let Some((at, c)) = chars.next() {
            match c {
                '\'' if quote == '\'' => {
                    fold(&mut out, &mut breaks);
                    if src[at + 1..].starts_with('\'') {
                        chars.next();
                        out.push('\'');
                    } else {
                        return Ok((out, start + at + 1));
                    }
                }
                '"' if quote == '"' => {
                    fold(&mut out, &mut breaks);
                    return Ok((out, start + at + 1));
                }
                '\\' if quote == '"' => {
                    fold(&mut out, &mut breaks);
                    let Some((_, escape)) = chars.next() else {
                        break;
                    };
                    let simple = match escape {
                        'n' => Some('\n'),
                        't' | '\t' => Some('\t'),
                        'r' => Some('\r'),
                        '0' => Some('\0'),
                        ' ' => Some(' '),
                        '"' => Some('"'),
                        '/' => Some('/'),
                        '\\' => Some('\\'),
                        'a' => Some('\u{7}'),
                        'b' => Some('\u{8}'),
                        'e' => Some('\u{1b}'),
                        'f' => Some('\u{c}'),
                        'v' => Some('\u{b}'),
                        'N' => Some('\u{85}'),
                        '_' => Some('\u{a0}'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        continue;
                    }
                    let digits = match escape {
                        'x' => 2,
                        'u' => 4,
                        'U' => 8,
                        '\n' | '\r' => {
                            // An escaped line break joins the lines without a space.
                            while let Some((_, c)) = chars.clone().next() {
                                if c == ' ' || c == '\t' || c == '\n' {
                                    chars.next();
                                } else {
                                    break;
                                }
                            }
                            continue;
                        }
                        _ => {
                            return err(
                                start + at,
                                format!("unknown escape `\\{escape}` in a double-quoted string"),
                            );
                        }
                    };
                    let hex: String = chars.by_ref().take(digits).map(|(_, c)| c).collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == digits);
                    match code.and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => return err(start + at, "invalid escape in a double-quoted string"),
                    }
                }
                '\n' | '\r' => {
                    if c == '\r' && src[at + 1..].starts_with('\n') {
                        continue;
                    }
                    while out.ends_with([' ', '\t']) && breaks == 0 {
                        out.pop();
                    }
                    breaks += 1;
                    while let Some((_, c)) = chars.clone().next() {
                        if c == ' ' || c == '\t' || c == '\r' {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                c => {
                    fold(&mut out, &mut breaks);
                    out.push(c);
                }
            }
        }
        err(start, "a quoted string is not closed")
    }

    /// A flow collection or flow scalar at `pos`. Returns the node and the offset after it.
    fn flow(&self, pos: usize, depth: usize) -> Result<(Node, usize), YamlError> {
        if depth > MAX_DEPTH {
            return err(pos, "nesting is too deep");
        }
        let bytes = self.src.as_bytes();
        let pos = self.skip_flow_space(pos);
        match bytes.get(pos) {
            Some(b'[') => {
                let mut items = Vec::new();
                let mut at = pos + 1;
                loop {
                    at = self.skip_flow_space(at);
                    match bytes.get(at) {
                        Some(b']') => break,
                        None => return err(pos, "a `[` list is not closed"),
                        _ => {}
                    }
                    let (item, after) = self.flow_entry(at, depth, b']')?;
                    items.push(item);
                    at = self.skip_flow_space(after);
                    match bytes.get(at) {
                        Some(b',') => at += 1,
                        Some(b']') => break,
                        _ => return err(at, "expected `,` or `]` in a flow list"),
                    }
                }
                Ok((
                    Node {
                        value: Value::Seq(items),
                        span: Span {
                            start: pos,
                            end: at + 1,
                        },
                    },
                    at + 1,
                ))
            }
            Some(b'{') => {
                let mut entries: Vec<Entry> = Vec::new();
                let mut at = pos + 1;
                loop {
                    at = self.skip_flow_space(at);
                    match bytes.get(at) {
                        Some(b'}') => break,
                        None => return err(pos, "a `{` mapping is not closed"),
                        _ => {}
                    }
                    let (entry, after) = self.flow_pair(at, depth, b'}')?;
                    if entries.iter().any(|e| e.key == entry.key) {
                        return err(
                            entry.key_span.start,
                            format!("duplicate key `{}`", entry.key),
                        );
                    }
                    entries.push(entry);
                    at = self.skip_flow_space(after);
                    match bytes.get(at) {
                        Some(b',') => at += 1,
                        Some(b'}') => break,
                        _ => return err(at, "expected `,` or `}` in a flow mapping"),
                    }
                }
                Ok((
                    Node {
                        value: Value::Map(Map {
                            entries,
                            flow: true,
                        }),
                        span: Span {
                            start: pos,
                            end: at + 1,
                        },
                    },
                    at + 1,
                ))
            }
            Some(b'"') | Some(b'\'') => {
                let (text, end) = self.quoted(pos, self.src.len())?;
                Ok((
                    Node {
                        value: Value::Scalar(Scalar {
                            text,
                            style: Style::Quoted,
                        }),
                        span: Span { start: pos, end },
                    },
                    end,
                ))
            }
            Some(_) => {
                let end = self.flow_plain_end(pos);
                let text = self.src[pos..end].trim_end();
                if text.is_empty() {
                    return err(pos, "expected a value");
                }
                if text.starts_with(['&', '!', '*', '|', '>', '%', '@', '`']) {
                    return err(
                        pos,
                        "anchors, tags, aliases and block scalars are not supported inside `[...]` or `{...}`",
                    );
                }
                Ok((
                    Node {
                        value: Value::Scalar(Scalar {
                            text: fold_lines(text),
                            style: Style::Plain,
                        }),
                        span: Span {
                            start: pos,
                            end: pos + text.len(),
                        },
                    },
                    pos + text.len(),
                ))
            }
            None => err(pos, "expected a value"),
        }
    }

    /// A flow list entry: a value, or a single `key: value` pair.
    fn flow_entry(&self, at: usize, depth: usize, close: u8) -> Result<(Node, usize), YamlError> {
        let (node, after) = self.flow(at, depth + 1)?;
        let next = self.skip_inline_space(after);
        if self.is_flow_colon(next) && matches!(node.value, Value::Scalar(_)) {
            let (entry, end) = self.flow_pair(at, depth, close)?;
            let span = Span {
                start: at,
                end: entry.value.span.end.max(entry.key_span.end),
            };
            return Ok((
                Node {
                    value: Value::Map(Map {
                        entries: vec![entry],
                        flow: true,
                    }),
                    span,
                },
                end,
            ));
        }
        Ok((node, after))
    }

    fn flow_pair(&self, at: usize, depth: usize, close: u8) -> Result<(Entry, usize), YamlError> {
        let (key_node, after) = self.flow(at, depth + 1)?;
        let Value::Scalar(key) = key_node.value else {
            return err(at, "a mapping key must be a plain or quoted string");
        };
        let bytes = self.src.as_bytes();
        let next = self.skip_flow_space(after);
        let (value, end) = if self.is_flow_colon(next) {
            let value_at = self.skip_flow_space(next + 1);
            match bytes.get(value_at) {
                Some(&b) if b == b',' || b == close => (
                    Node {
                        value: Value::Null,
                        span: Span {
                            start: next + 1,
                            end: next + 1,
                        },
                    },
                    value_at,
                ),
                _ => self.flow(value_at, depth + 1)?,
            }
        } else {
            (
                Node {
                    value: Value::Null,
                    span: Span {
                        start: after,
                        end: after,
                    },
                },
                after,
            )
        };
        Ok((
            Entry {
                key: key.text,
                key_span: key_node.span,
                value,
            },
            end,
        ))
    }

    fn is_flow_colon(&self, at: usize) -> bool {
        let bytes = self.src.as_bytes();
        bytes.get(at) == Some(&b':') && bytes.get(at + 1).is_none_or(|b| b" \t\r\n,]}".contains(b))
    }

    fn skip_inline_space(&self, mut at: usize) -> usize {
        let bytes = self.src.as_bytes();
        while bytes.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
            at += 1;
        }
        at
    }

    /// Skips spaces, line breaks and comments inside a flow collection.
    fn skip_flow_space(&self, mut at: usize) -> usize {
        let bytes = self.src.as_bytes();
        loop {
            match bytes.get(at) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => at += 1,
                Some(b'#') if at == 0 || matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                    at = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
                }
                _ => return at,
            }
        }
    }

    /// The end of a plain scalar inside a flow collection (it may go on over lines).
    fn flow_plain_end(&self, start: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut at = start;
        while let Some(&b) = bytes.get(at) {
            match b {
                b',' | b'[' | b']' | b'{' | b'}' => break,
                b':' if self.is_flow_colon(at) => break,
                b'#' if at > start && matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                    break;
                }
                _ => at += 1,
            }
        }
        at
    }
}

/// A plain value written over several lines: lines join with a space, empty lines give newlines.
fn fold_lines(text: &str) -> String {
    if !text.contains('\n') {
        return text.to_string();
    }
    let mut out = String::new();
    let mut empty = 0;
    for (i, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() {
            empty += 1;
            continue;
        }
        if i > 0 {
            if empty == 0 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', empty));
            }
        }
        empty = 0;
        out.push_str(line);
    }
    out
}

/// Line folding inside quotes: one line break reads as a space, each further one as a newline.
fn fold(out: &mut String, breaks: &mut usize) {
    match *breaks {
        0 => {}
        1 => out.push(' '),
        n => out.extend(std::iter::repeat_n('\n', n - 1)),
    }
    *breaks = 0;
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.starts_with(marker) && rest_is_blank(&line[marker.len()..])
        || line.starts_with(&format!("{marker} "))
}

/// `-`, `?` or `:` followed by a space, a tab or the end of the line.
fn is_indicator_at(rest: &str) -> bool {
    rest.len() == 1 || rest[1..].starts_with([' ', '\t'])
}

fn is_seq_entry(rest: &str) -> bool {
    rest.starts_with('-') && is_indicator_at(rest)
}

fn count_spaces(text: &str) -> usize {
    text.bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count()
}

/// Empty, spaces only, or a comment.
fn rest_is_blank(text: &str) -> bool {
    let trimmed = text.trim_start_matches([' ', '\t']);
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// The text before a ` #` comment.
pub(crate) fn strip_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            return &text[..i];
        }
    }
    text
}

/// Where a plain value holds `: ` (or ends in `:`), which YAML reads as a mapping.
fn mapping_indicator(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        (b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t'))
            .then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(src: &str) -> Node {
        parse(src).expect("valid YAML").root.expect("a root node")
    }

    fn slice(src: &str, span: Span) -> &str {
        &src[span.start..span.end]
    }

    #[test]
    fn block_mapping_keeps_key_and_value_spans() {
        let src = "version: v2\nauth_server: \"a:3025\" # c\nstorage:\n  type: memory\n";
        let node = root(src);
        let map = node.as_map().expect("map");
        assert_eq!(map.entries.len(), 3);
        let auth = map.get("auth_server").expect("auth_server");
        assert_eq!(slice(src, auth.key_span), "auth_server");
        assert_eq!(slice(src, auth.value.span), "\"a:3025\"");
        assert_eq!(auth.value.as_str(), Some("a:3025"));
        let storage = map
            .get("storage")
            .expect("storage")
            .value
            .as_map()
            .expect("map");
        assert_eq!(
            storage.get("type").and_then(|e| e.value.as_str()),
            Some("memory")
        );
    }

    #[test]
    fn sequence_of_compact_mappings() {
        let src = "services:\n  - type: identity\n    destination:\n      type: directory\n      path: /opt/x\n  - type: kubernetes\n    kubernetes_cluster: k8s\n";
        let node = root(src);
        let services = node
            .as_map()
            .and_then(|m| m.get("services"))
            .expect("services");
        let items = services.value.as_seq().expect("seq");
        assert_eq!(items.len(), 2);
        let second = items[1].as_map().expect("map");
        assert_eq!(
            second
                .get("kubernetes_cluster")
                .and_then(|e| e.value.as_str()),
            Some("k8s")
        );
        let dest = items[0]
            .as_map()
            .and_then(|m| m.get("destination"))
            .expect("dest");
        assert_eq!(
            dest.value
                .as_map()
                .and_then(|m| m.get("path"))
                .and_then(|e| e.value.as_str()),
            Some("/opt/x")
        );
    }

    #[test]
    fn list_at_the_keys_indentation() {
        let src = "services:\n- type: identity\n- type: database\nversion: v2\n";
        let node = root(src);
        let map = node.as_map().expect("map");
        assert_eq!(
            map.get("services")
                .and_then(|e| e.value.as_seq())
                .map(<[Node]>::len),
            Some(2)
        );
        assert_eq!(
            map.get("version").and_then(|e| e.value.as_str()),
            Some("v2")
        );
    }

    #[test]
    fn flow_collections_over_lines() {
        let src = "a: [x, \"y\", {k: v}]\nb: {c: 1,\n  d: [2, 3]}\n";
        let node = root(src);
        let map = node.as_map().expect("map");
        let a = map.get("a").and_then(|e| e.value.as_seq()).expect("seq");
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].as_str(), Some("y"));
        let b = map.get("b").and_then(|e| e.value.as_map()).expect("map");
        assert!(b.flow);
        assert_eq!(
            b.get("d").and_then(|e| e.value.as_seq()).map(<[Node]>::len),
            Some(2)
        );
    }

    #[test]
    fn null_value_has_an_empty_span_after_the_colon() {
        let src = "ssh_config:   # nothing\nnext: 1\n";
        let node = root(src);
        let entry = node
            .as_map()
            .and_then(|m| m.get("ssh_config"))
            .expect("entry");
        assert!(matches!(entry.value.value, Value::Null));
        assert_eq!(entry.value.span.start, "ssh_config:".len());
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let doc = parse("a: 1\na: 2\n").expect("parses");
        assert_eq!(doc.duplicates.len(), 1);
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("a: 1\n   b: 2\n").expect_err("bad indentation");
        assert_eq!(e.offset, 9, "{e}");
        let e = parse("a:\n  b: 1\n    c: 2\n").expect_err("bad indentation");
        assert_eq!(e.offset, 15, "{e}");
        let e = parse("a: b: c\n").expect_err("nested mapping on one line");
        assert_eq!(e.offset, 4);
        assert!(parse("a: \"open\n").is_err());
        assert!(parse("a:\n\t- b\n").is_err());
        assert!(parse("a: [1, 2\n").is_err());
    }

    #[test]
    fn block_scalar_and_multi_line_plain() {
        let src = "token: |\n  abc\n  def\nnote: one\n  two\n";
        let node = root(src);
        let map = node.as_map().expect("map");
        assert_eq!(
            map.get("token").and_then(|e| e.value.as_str()),
            Some("abc\ndef")
        );
        assert_eq!(
            map.get("note").and_then(|e| e.value.as_str()),
            Some("one two")
        );
    }

    /// Whether this reader and a full YAML parser see the same structure (aliases match anything).
    fn same_shape(node: &Node, value: &serde_yaml_ng::Value) -> bool {
        use serde_yaml_ng::Value as V;
        let value = match value {
            V::Tagged(tagged) => &tagged.value,
            other => other,
        };
        match (&node.value, value) {
            (Value::Alias, _) => true,
            (Value::Null, V::Null) => true,
            (Value::Scalar(s), V::Null) => {
                matches!(s.text.as_str(), "null" | "Null" | "NULL" | "~" | "")
            }
            (Value::Scalar(s), V::String(t)) => s.text == *t || s.style == Style::Block,
            (Value::Scalar(_), V::Bool(_) | V::Number(_)) => true,
            (Value::Seq(items), V::Sequence(values)) => {
                items.len() == values.len()
                    && items.iter().zip(values).all(|(n, v)| same_shape(n, v))
            }
            (Value::Map(map), V::Mapping(values)) => {
                map.entries.len() == values.len()
                    && map.entries.iter().zip(values).all(|(entry, (key, value))| {
                        let key = match key {
                            V::String(k) => k.clone(),
                            V::Number(n) => n.to_string(),
                            V::Bool(b) => b.to_string(),
                            _ => return true,
                        };
                        key == entry.key && same_shape(&entry.value, value)
                    })
            }
            _ => false,
        }
    }

    #[test]
    fn agrees_with_a_full_yaml_parser_on_mutated_configs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/configs");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("corpus")
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).expect("read"))
            .collect();
        files.sort();
        let pieces = [
            " ",
            "  ",
            "\n",
            "- ",
            ": ",
            "#",
            "'",
            "\"",
            "[",
            "]",
            "{",
            "}",
            ",",
            "a",
            "|",
            "\n  x: 1\n",
            "\n- y\n",
        ];
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let mut state = env("MWI_YAML_DIFF_SEED").unwrap_or(0x9E37_79B9_7F4A_7C15) | 1;
        let rounds = env("MWI_YAML_DIFF_ROUNDS").unwrap_or(20_000) as usize;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        let mut compared = 0;
        for round in 0..rounds {
            let mut text = files[round % files.len()].clone();
            for _ in 0..=next(3) {
                let mut at = next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if next(2) == 0 {
                    text.insert_str(at, pieces[next(pieces.len())]);
                } else {
                    let mut end = (at + next(6)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
            }
            let (Ok(doc), Ok(value)) = (
                parse(&text),
                serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text),
            ) else {
                continue;
            };
            if !doc.duplicates.is_empty() {
                continue;
            }
            let agrees = match &doc.root {
                Some(root) => same_shape(root, &value),
                None => value.is_null(),
            };
            assert!(agrees, "round {round}: the readers disagree on:\n{text}");
            compared += 1;
        }
        assert!(
            compared > rounds / 4,
            "only {compared} inputs were valid YAML"
        );
    }

    #[test]
    fn empty_document_has_no_root() {
        assert!(
            parse("# only a comment\n\n")
                .expect("parses")
                .root
                .is_none()
        );
        assert!(parse("---\n...\n").expect("parses").root.is_none());
    }
}

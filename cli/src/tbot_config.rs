//! Writes a new join token into a tbot.yaml (`onboarding.token`) by changing only the token's bytes,
//! or into the token file that value names; the rewrite is atomic, backed up, mode and owner kept.
//!
//! tbot.yaml is never round-tripped through a YAML serializer: that would drop comments and
//! reorder keys. Instead a small scanner finds the byte span of the token's value (plain, quoted or
//! inside a flow mapping `onboarding: {token: x}`) and only that span changes; when `onboarding:`
//! or `token:` is missing, one line is inserted with the file's own indentation and line ending.

use std::fs;
use std::path::{Path, PathBuf};

use mwi_identity::durable;

/// Why the token cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum TbotConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not UTF-8 text; is it a tbot.yaml?", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}: {detail}; put the token in by hand", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`write_token`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// The file that now holds the token: the tbot.yaml, or the token file it names.
    pub file: PathBuf,
    /// A copy of that file as it was, beside it; `None` when nothing changed or it did not exist.
    pub backup: Option<PathBuf>,
    /// False when the file already held this token.
    pub changed: bool,
    /// True when `onboarding.token` is an absolute path and the token went into that file.
    pub via_token_file: bool,
}

/// How the token gets into a tbot.yaml's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEdit {
    /// The new text of the tbot.yaml (equal to the old one when it already held the token).
    Config(String),
    /// `onboarding.token` is this absolute path: tbot reads the token from that file.
    TokenFile(PathBuf),
}

/// The token `onboarding.token` holds (decoded from its quoting), if any.
pub fn current_token(text: &str) -> Result<Option<String>, String> {
    let doc = Scan::new(text);
    let Some(onboarding) = doc.onboarding()? else {
        return Ok(None);
    };
    Ok(match doc.token_in(&onboarding)? {
        TokenSlot::Value(v) => Some(v.decoded),
        TokenSlot::Missing(_) => None,
    })
}

/// Computes how `token` gets into the tbot.yaml `text`; errors are one line without the path.
pub fn plan_token_edit(text: &str, token: &str) -> Result<TokenEdit, String> {
    if token.is_empty() || token.contains(['\n', '\r']) {
        return Err("the token is empty or spans lines".into());
    }
    let doc = Scan::new(text);
    let eol = doc.eol();
    let edit = match doc.onboarding()? {
        None => {
            let indent = " ".repeat(doc.top_indent());
            let child = " ".repeat(doc.top_indent() + doc.indent_unit());
            let sep = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                eol
            };
            let at = text.len();
            Edit::insert(
                at,
                format!(
                    "{sep}{indent}onboarding:{eol}{child}token: {}{eol}",
                    render(token)
                ),
            )
        }
        Some(onboarding) => match doc.token_in(&onboarding)? {
            TokenSlot::Value(v) => {
                if v.decoded == token {
                    return Ok(TokenEdit::Config(text.to_string()));
                }
                if v.decoded.starts_with('/') {
                    return Ok(TokenEdit::TokenFile(PathBuf::from(v.decoded)));
                }
                let value = match v.quote {
                    Quote::Plain => render(token),
                    quote => escape_inner(token, quote),
                };
                let replacement = format!("{}{value}{}", v.prefix, v.suffix);
                Edit {
                    start: v.start,
                    end: v.end,
                    text: replacement,
                }
            }
            TokenSlot::Missing(insert) => match insert {
                Insert::Line { at, indent } => {
                    // The block's last line may end the file without a newline.
                    let sep = if at > 0 && !text[..at].ends_with('\n') {
                        eol
                    } else {
                        ""
                    };
                    Edit::insert(
                        at,
                        format!("{sep}{}token: {}{eol}", " ".repeat(indent), render(token)),
                    )
                }
                Insert::AfterNull { start, end, indent } => Edit {
                    start,
                    end,
                    text: format!("{eol}{}token: {}", " ".repeat(indent), render(token)),
                },
                Insert::Flow { at, empty } => {
                    let value = render(token);
                    let text = if empty {
                        format!("token: {value}")
                    } else {
                        format!("token: {value}, ")
                    };
                    Edit::insert(at, text)
                }
            },
        },
    };
    let mut out = String::with_capacity(text.len() + edit.text.len());
    out.push_str(&text[..edit.start]);
    out.push_str(&edit.text);
    out.push_str(&text[edit.end..]);
    Ok(TokenEdit::Config(out))
}

/// Puts `token` into the tbot.yaml at `config` (or into the token file its `onboarding.token`
/// names), atomically, with a backup named `<file>.<backup_tag>.bak` beside the changed file. An
/// existing backup of that name is kept: it holds the file as it was before this run.
pub fn write_token(
    config: &Path,
    token: &str,
    backup_tag: &str,
) -> Result<Written, TbotConfigError> {
    let config = resolve(config)?;
    let bytes = fs::read(&config).map_err(|source| TbotConfigError::Read {
        path: config.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TbotConfigError::NotUtf8 {
        path: config.clone(),
    })?;
    let edit = plan_token_edit(&text, token).map_err(|detail| TbotConfigError::Unsupported {
        path: config.clone(),
        detail,
    })?;
    match edit {
        TokenEdit::Config(new) => {
            if new == text {
                return Ok(Written {
                    file: config,
                    backup: None,
                    changed: false,
                    via_token_file: false,
                });
            }
            let backup = replace_file(&config, new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: config,
                backup,
                changed: true,
                via_token_file: false,
            })
        }
        TokenEdit::TokenFile(path) => write_token_file(&path, token, backup_tag),
    }
}

/// tbot reads a token file trimmed; the file gets the token and a newline.
fn write_token_file(
    path: &Path,
    token: &str,
    backup_tag: &str,
) -> Result<Written, TbotConfigError> {
    let new = format!("{token}\n");
    match fs::read(path) {
        Ok(old) => {
            let path = resolve(path)?;
            if String::from_utf8_lossy(&old).trim() == token {
                return Ok(Written {
                    file: path,
                    backup: None,
                    changed: false,
                    via_token_file: true,
                });
            }
            let backup = replace_file(&path, new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: path,
                backup,
                changed: true,
                via_token_file: true,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            durable::replace(path, new.as_bytes(), &durable::Options::keep_mode(0o600))
                .map_err(write_error)?;
            Ok(Written {
                file: path.to_path_buf(),
                backup: None,
                changed: true,
                via_token_file: true,
            })
        }
        Err(source) => Err(TbotConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The file a symlink points to, so the link itself stays a link.
fn resolve(path: &Path) -> Result<PathBuf, TbotConfigError> {
    fs::canonicalize(path).map_err(|source| TbotConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Backs the file up as [`backup_path`] (unless that backup exists), then replaces it with `new`
/// keeping its mode and owner (see `durable`).
fn replace_file(
    path: &Path,
    new: &[u8],
    backup_tag: &str,
) -> Result<Option<PathBuf>, TbotConfigError> {
    let options = durable::Options::keep_mode(0o600)
        .backup(durable::Backup::KeepFirst(format!(".{backup_tag}.bak")));
    let done = durable::replace(path, new, &options).map_err(write_error)?;
    Ok(done.backup)
}

fn write_error(e: durable::DurableError) -> TbotConfigError {
    TbotConfigError::Write {
        path: e.path().to_path_buf(),
        source: e.into_io(),
    }
}

/// `<path>.<tag>.bak`.
pub fn backup_path(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}.bak"));
    path.with_file_name(name)
}

// ---- the scanner ----

/// One replacement of `start..end` by `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

impl Edit {
    fn insert(at: usize, text: String) -> Edit {
        Edit {
            start: at,
            end: at,
            text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Plain,
    Single,
    Double,
}

/// The value of `token`: the bytes to replace (inside the quotes when quoted) and what it says.
struct TokenValue {
    start: usize,
    end: usize,
    quote: Quote,
    decoded: String,
    /// Text to add before and after the new value (a space where `token:` had none).
    prefix: &'static str,
    suffix: &'static str,
}

enum Insert {
    /// A new line `token: X` at byte `at` with `indent` spaces.
    Line { at: usize, indent: usize },
    /// `onboarding: null`: the null scalar at `start..end` becomes a line break and the token line.
    AfterNull {
        start: usize,
        end: usize,
        indent: usize,
    },
    /// Inside a flow mapping, at `at` (right after `{` and its spaces).
    Flow { at: usize, empty: bool },
}

enum TokenSlot {
    Value(TokenValue),
    Missing(Insert),
}

/// Where the `onboarding` value is.
enum Onboarding {
    /// A block mapping: its key line and the lines after it.
    Block { line: usize },
    /// A flow mapping starting at this byte (`{`).
    Flow { open: usize },
    /// `onboarding:` followed by a null scalar at `start..end`.
    Null {
        line: usize,
        start: usize,
        end: usize,
    },
}

struct Line<'a> {
    /// Byte offset of the line's first byte.
    start: usize,
    /// The line without its line break (and without a `\r`).
    text: &'a str,
    indent: usize,
}

impl Line<'_> {
    /// Not blank, not a comment, not a document marker or directive.
    fn is_content(&self) -> bool {
        let t = self.text.trim_start();
        !(t.is_empty()
            || t.starts_with('#')
            || t.starts_with('%')
            || self.text.starts_with("---")
            || self.text.starts_with("..."))
    }

    /// Offset just past the line break.
    fn next_start(&self, text: &str) -> usize {
        let end = self.start + self.text.len();
        match text.as_bytes().get(end) {
            Some(b'\r') => end + 2,
            Some(b'\n') => end + 1,
            _ => end,
        }
    }
}

struct Scan<'a> {
    text: &'a str,
    lines: Vec<Line<'a>>,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        let mut lines = Vec::new();
        let mut start = 0;
        for raw in text.split_inclusive('\n') {
            let body = raw.strip_suffix('\n').unwrap_or(raw);
            let body = body.strip_suffix('\r').unwrap_or(body);
            let indent = body.len() - body.trim_start_matches(' ').len();
            lines.push(Line {
                start,
                text: body,
                indent,
            });
            start += raw.len();
        }
        Scan { text, lines }
    }

    fn eol(&self) -> &'static str {
        if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }

    fn top_indent(&self) -> usize {
        self.lines
            .iter()
            .find(|l| l.is_content())
            .map_or(0, |l| l.indent)
    }

    /// The indentation step the file uses (the first nested line's), else 2.
    fn indent_unit(&self) -> usize {
        let top = self.top_indent();
        self.lines
            .iter()
            .filter(|l| l.is_content() && l.indent > top)
            .map(|l| l.indent - top)
            .next()
            .unwrap_or(2)
    }

    fn onboarding(&self) -> Result<Option<Onboarding>, String> {
        let top = self.top_indent();
        if let Some(first) = self.lines.iter().find(|l| l.is_content())
            && first.text.trim_start().starts_with(['{', '['])
        {
            return Err("the file is a single flow collection, not a block mapping".into());
        }
        let mut found = None;
        for (i, line) in self.lines.iter().enumerate() {
            if !line.is_content() || line.indent != top {
                continue;
            }
            let Some((key, after)) = split_key(&line.text[line.indent..]) else {
                continue;
            };
            if key != "onboarding" {
                continue;
            }
            if found.is_some() {
                return Err("onboarding appears twice".into());
            }
            let value_at = line.start + line.text.len() - after.len();
            let value = after.trim_start();
            let value_start = value_at + (after.len() - value.len());
            let value = strip_comment(value);
            found = Some(match value {
                "" => Onboarding::Block { line: i },
                "~" | "null" | "Null" | "NULL" => Onboarding::Null {
                    line: i,
                    start: value_at,
                    end: value_start + value.len(),
                },
                v if v.starts_with('{') => Onboarding::Flow { open: value_start },
                _ => return Err("onboarding is not a mapping".into()),
            });
        }
        Ok(found)
    }

    fn token_in(&self, onboarding: &Onboarding) -> Result<TokenSlot, String> {
        match *onboarding {
            Onboarding::Flow { open } => self.token_in_flow(open),
            Onboarding::Null { line, start, end } => Ok(TokenSlot::Missing(Insert::AfterNull {
                start,
                end,
                indent: self.lines[line].indent + self.indent_unit(),
            })),
            Onboarding::Block { line } => self.token_in_block(line),
        }
    }

    fn token_in_block(&self, key_line: usize) -> Result<TokenSlot, String> {
        let parent = &self.lines[key_line];
        let children: Vec<&Line> = self.lines[key_line + 1..]
            .iter()
            .filter(|l| l.is_content())
            .take_while(|l| l.indent > parent.indent)
            .collect();
        let after_key = parent.next_start(self.text);
        let Some(first) = children.first() else {
            return Ok(TokenSlot::Missing(Insert::Line {
                at: after_key,
                indent: parent.indent + self.indent_unit(),
            }));
        };
        let indent = first.indent;
        let mut found = None;
        for (n, child) in children.iter().enumerate() {
            if child.indent != indent {
                continue;
            }
            let Some((key, after)) = split_key(&child.text[indent..]) else {
                continue;
            };
            if key != "token" {
                continue;
            }
            if found.is_some() {
                return Err("onboarding.token appears twice".into());
            }
            let at = child.start + child.text.len() - after.len();
            let value = match scalar_at(self.text, at, child.start + child.text.len(), false)? {
                Some(v) => v,
                // `token:` alone: the value may sit on the next, more indented line.
                None => match children.get(n + 1) {
                    Some(next) if next.indent > indent => scalar_at(
                        self.text,
                        next.start + next.indent,
                        next.start + next.text.len(),
                        false,
                    )?
                    .ok_or("onboarding.token has an unexpected shape")?,
                    _ => {
                        // `token:` with no value: after the colon's space if there is one
                        // (before any comment), else after the colon with a space added.
                        let spaced = after.starts_with([' ', '\t']);
                        let commented = after.trim_start().starts_with('#');
                        let at = if spaced { at + 1 } else { at };
                        TokenValue {
                            start: at,
                            end: at,
                            quote: Quote::Plain,
                            decoded: String::new(),
                            prefix: if spaced { "" } else { " " },
                            suffix: if commented { " " } else { "" },
                        }
                    }
                },
            };
            found = Some(value);
        }
        Ok(match found {
            Some(v) => TokenSlot::Value(v),
            None => TokenSlot::Missing(Insert::Line {
                at: after_key,
                indent,
            }),
        })
    }

    /// Scans the flow mapping opening at `open` for a top-level `token` key.
    fn token_in_flow(&self, open: usize) -> Result<TokenSlot, String> {
        let bytes = self.text.as_bytes();
        let mut i = open + 1;
        let skip_space = |mut i: usize| {
            loop {
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'#' {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                return i;
            }
        };
        i = skip_space(i);
        let insert_at = i;
        if bytes.get(i) == Some(&b'}') {
            return Ok(TokenSlot::Missing(Insert::Flow {
                at: insert_at,
                empty: true,
            }));
        }
        loop {
            i = skip_space(i);
            let key_start = i;
            let key = match bytes.get(i) {
                None => return Err("onboarding's flow mapping is not closed".into()),
                Some(b'}') => break,
                Some(b'"' | b'\'') => {
                    let v = scalar_at(self.text, i, self.text.len(), true)?
                        .ok_or("onboarding's flow mapping has an unexpected key")?;
                    i = v.end + 1;
                    v.decoded
                }
                Some(_) => {
                    while i < bytes.len() && !matches!(bytes[i], b':' | b',' | b'}' | b'\n') {
                        i += 1;
                    }
                    self.text[key_start..i].trim().to_string()
                }
            };
            i = skip_space(i);
            if bytes.get(i) != Some(&b':') {
                return Err("onboarding's flow mapping has a key without a value".into());
            }
            i = skip_space(i + 1);
            if key == "token" {
                let value = scalar_at(self.text, i, self.text.len(), true)?
                    .ok_or("onboarding.token is not a scalar")?;
                return Ok(TokenSlot::Value(value));
            }
            i = skip_flow_value(bytes, i)?;
            i = skip_space(i);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => break,
                _ => return Err("onboarding's flow mapping is not closed".into()),
            }
        }
        Ok(TokenSlot::Missing(Insert::Flow {
            at: insert_at,
            empty: false,
        }))
    }
}

/// `key: rest` of a block mapping line (the key unquoted), or `None` when the line is not one.
fn split_key(line: &str) -> Option<(String, &str)> {
    let line = line.strip_prefix("- ").unwrap_or(line);
    let (key, rest) = match line.as_bytes().first()? {
        b'"' | b'\'' => {
            let v = scalar_at(line, 0, line.len(), false).ok()??;
            (v.decoded, &line[v.end + 1..])
        }
        _ => {
            let colon = line.find(": ").or_else(|| {
                line.strip_suffix(':')
                    .map(|k| k.len())
                    .filter(|_| !line.ends_with("::"))
            })?;
            (line[..colon].trim_end().to_string(), &line[colon..])
        }
    };
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    if key.starts_with('#') {
        return None;
    }
    Some((key, rest))
}

/// A value without its trailing ` # comment`.
fn strip_comment(value: &str) -> &str {
    if value.starts_with('#') {
        return "";
    }
    match value.find(" #").or_else(|| value.find("\t#")) {
        Some(i) => value[..i].trim_end(),
        None => value.trim_end(),
    }
}

/// The scalar starting at `start` (after spaces) and ending before `limit`: quoted, or plain up to
/// a comment (or `,`/`}` in a flow mapping). `None` when nothing is there.
fn scalar_at(
    text: &str,
    start: usize,
    limit: usize,
    in_flow: bool,
) -> Result<Option<TokenValue>, String> {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < limit && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    if i >= limit {
        return Ok(None);
    }
    match bytes[i] {
        b'"' => {
            let open = i;
            i += 1;
            let mut decoded = String::new();
            while i < limit {
                match bytes[i] {
                    b'"' => {
                        return Ok(Some(TokenValue {
                            start: open + 1,
                            end: i,
                            quote: Quote::Double,
                            decoded,
                            prefix: "",
                            suffix: "",
                        }));
                    }
                    b'\\' if i + 1 < limit => {
                        let (c, len) = unescape(&text[i + 1..limit]);
                        decoded.push_str(&c);
                        i += 1 + len;
                    }
                    b'\n' => return Err("a quoted value spans lines".into()),
                    _ => {
                        let c = text[i..].chars().next().unwrap_or('\u{fffd}');
                        decoded.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            Err("a double-quoted value is not closed".into())
        }
        b'\'' => {
            let open = i;
            i += 1;
            let mut decoded = String::new();
            while i < limit {
                match bytes[i] {
                    b'\'' if bytes.get(i + 1) == Some(&b'\'') && i + 1 < limit => {
                        decoded.push('\'');
                        i += 2;
                    }
                    b'\'' => {
                        return Ok(Some(TokenValue {
                            start: open + 1,
                            end: i,
                            quote: Quote::Single,
                            decoded,
                            prefix: "",
                            suffix: "",
                        }));
                    }
                    b'\n' => return Err("a quoted value spans lines".into()),
                    _ => {
                        let c = text[i..].chars().next().unwrap_or('\u{fffd}');
                        decoded.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            Err("a single-quoted value is not closed".into())
        }
        b'#' => Ok(None),
        b'|' | b'>' => Err("onboarding.token is a block scalar".into()),
        b'&' | b'*' | b'!' => Err("onboarding.token uses an anchor, alias or tag".into()),
        b'[' | b'{' => Err("onboarding.token is not a scalar".into()),
        _ => {
            let begin = i;
            let mut end = i;
            while i < limit {
                let b = bytes[i];
                if b == b'\n' || b == b'\r' {
                    break;
                }
                if in_flow && matches!(b, b',' | b'}' | b']') {
                    break;
                }
                if b == b'#' && matches!(bytes[i - 1], b' ' | b'\t') {
                    break;
                }
                i += 1;
                if !matches!(b, b' ' | b'\t') {
                    end = i;
                }
            }
            let value = &text[begin..end];
            let decoded = match value {
                "~" | "null" | "Null" | "NULL" => String::new(),
                v => v.to_string(),
            };
            Ok(Some(TokenValue {
                start: begin,
                end,
                quote: Quote::Plain,
                decoded,
                prefix: "",
                suffix: "",
            }))
        }
    }
}

/// One escape of a double-quoted scalar (after the backslash): its text and length.
fn unescape(rest: &str) -> (String, usize) {
    let mut chars = rest.chars();
    let Some(c) = chars.next() else {
        return (String::new(), 0);
    };
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        '0' => Some('\0'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '/' => Some('/'),
        ' ' => Some(' '),
        _ => None,
    };
    if let Some(s) = simple {
        return (s.to_string(), 1);
    }
    let hex_len = match c {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return (c.to_string(), c.len_utf8()),
    };
    let digits: String = rest[1..].chars().take(hex_len).collect();
    match u32::from_str_radix(&digits, 16)
        .ok()
        .and_then(char::from_u32)
    {
        Some(ch) if digits.len() == hex_len => (ch.to_string(), 1 + hex_len),
        _ => (c.to_string(), 1),
    }
}

/// Skips a flow value (scalar or nested collection), returning the offset after it.
fn skip_flow_value(bytes: &[u8], mut i: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Ok(i),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Ok(i),
            _ => {}
        }
        i += 1;
    }
    Err("onboarding's flow mapping is not closed".into())
}

/// The token as a YAML scalar: plain when that reads back as the same string, else double-quoted.
fn render(token: &str) -> String {
    if plain_is_safe(token) {
        token.to_string()
    } else {
        format!("\"{}\"", escape_inner(token, Quote::Double))
    }
}

fn escape_inner(token: &str, quote: Quote) -> String {
    match quote {
        Quote::Single => token.replace('\'', "''"),
        Quote::Double => token.replace('\\', "\\\\").replace('"', "\\\""),
        Quote::Plain => token.to_string(),
    }
}

/// A plain scalar that YAML reads as this very string: word characters only, and not something
/// that resolves to a number, bool or null (`1234`, `1e5`, `yes`).
fn plain_is_safe(token: &str) -> bool {
    let word = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !token.starts_with(['-', '.']);
    let looks_typed = token.parse::<f64>().is_ok()
        || token.starts_with("0x")
        || token.starts_with("0o")
        || matches!(
            token.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        )
        || token.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    word && !looks_typed
}

#[cfg(test)]
mod tests;

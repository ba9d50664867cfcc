//! Surgical edits of a YAML text read by [`crate::yaml`]: byte replacements that change only what
//! is needed (comments, quoting and formatting stay), and where a new key or line goes, with the
//! file's own indentation and line ending. Lint's fixes and the token writer both use them.

use super::{Entry, Map, Node, Span, Value, strip_comment};

/// Replace `remove` bytes at `at` with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub at: usize,
    pub remove: usize,
    pub insert: String,
}

/// `src` with `edits` applied; edits overlapping an earlier one are skipped.
pub(crate) fn apply(src: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.at, e.remove));
    let mut out = String::with_capacity(src.len() + 64);
    let mut copied = 0;
    for edit in sorted {
        let end = edit.at + edit.remove;
        if edit.at < copied
            || end > src.len()
            || !src.is_char_boundary(edit.at)
            || !src.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(&src[copied..edit.at]);
        out.push_str(&edit.insert);
        copied = end;
    }
    out.push_str(&src[copied..]);
    out
}

/// The file's line ending: `\r\n` when it has one, else `\n`.
pub(crate) fn line_ending(src: &str) -> &'static str {
    if src.contains("\r\n") { "\r\n" } else { "\n" }
}

fn line_start(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

/// The column (in bytes) of `offset` in its line.
pub(crate) fn column(src: &str, offset: usize) -> usize {
    offset - line_start(src, offset)
}

/// The file's indentation: that of its first line with content, and the step its first nested
/// line adds to it (2 when nothing is nested).
pub(crate) fn indentation(src: &str) -> (usize, usize) {
    let mut indents = src
        .lines()
        .filter(|line| {
            let text = line.trim_start();
            !(text.is_empty()
                || text.starts_with('#')
                || text.starts_with('%')
                || line.starts_with("---")
                || line.starts_with("..."))
        })
        .map(|line| line.len() - line.trim_start_matches(' ').len());
    let Some(top) = indents.next() else {
        return (0, 2);
    };
    (top, indents.find(|&i| i > top).map_or(2, |i| i - top))
}

/// The offset just after the first `:` at or after `offset` (a key's end), or `offset`.
pub(crate) fn colon_after(src: &str, offset: usize) -> usize {
    src[offset..].find(':').map_or(offset, |i| offset + i + 1)
}

/// The offset where the line after the one holding `offset` starts, if there is one.
fn next_line(src: &str, offset: usize) -> Option<usize> {
    src[offset..].find('\n').map(|n| offset + n + 1)
}

/// `line` as a new line after the line holding `offset`; at the end of a file without a final
/// line break, one is added before it.
pub(crate) fn insert_line_after(src: &str, offset: usize, line: &str) -> Edit {
    let eol = line_ending(src);
    match next_line(src, offset) {
        Some(at) => Edit {
            at,
            remove: 0,
            insert: format!("{line}{eol}"),
        },
        None => Edit {
            at: src.len(),
            remove: 0,
            insert: format!("{eol}{line}{eol}"),
        },
    }
}

/// Adds `key: value` to the mapping `node`: in a block mapping as a new line with the keys'
/// indentation, after the entry `after` (when its value is on one line) or after the last entry;
/// in a flow mapping before its `}`.
pub(crate) fn insert_entry(
    src: &str,
    node: &Node,
    after: &str,
    key: &str,
    value: &str,
) -> Option<Edit> {
    let Value::Map(map) = &node.value else {
        return None;
    };
    if map.flow {
        let close = node.span.end.checked_sub(1)?;
        if src.as_bytes().get(close) != Some(&b'}') {
            return None;
        }
        let separator = if map.entries.is_empty() { "" } else { ", " };
        return Some(Edit {
            at: close,
            remove: 0,
            insert: format!("{separator}{key}: {value}"),
        });
    }
    let first = map.entries.first()?;
    let indent = column(src, first.key_span.start);
    let anchor = anchor_entry(src, map, after)?;
    let eol = line_ending(src);
    let line = format!("{}{key}: {value}", " ".repeat(indent));
    match next_line(src, anchor) {
        Some(at) => Some(Edit {
            at,
            remove: 0,
            insert: format!("{line}{eol}"),
        }),
        None => Some(Edit {
            at: src.len(),
            remove: 0,
            insert: format!("{eol}{line}"),
        }),
    }
}

/// The offset after which the new entry's line goes: the end of `after`'s value if it is on one
/// line, else the end of the last entry.
fn anchor_entry(src: &str, map: &Map, after: &str) -> Option<usize> {
    let end_of = |e: &Entry| e.value.span.end.max(e.key_span.end);
    if let Some(entry) = map.get(after) {
        let end = end_of(entry);
        if !src.get(entry.key_span.start..end)?.contains('\n') {
            return Some(end);
        }
    }
    map.entries.last().map(end_of)
}

/// A new first line for the block mapping `map`, with its indentation.
pub(crate) fn insert_first_line(src: &str, map: &Map, line: &str) -> Option<Edit> {
    let first = map.entries.first()?;
    let start = line_start(src, first.key_span.start);
    Some(Edit {
        at: start,
        remove: 0,
        insert: format!(
            "{}{line}{}",
            " ".repeat(first.key_span.start - start),
            line_ending(src)
        ),
    })
}

/// Sets a value: replaces it, or writes it where an empty value is (after the `:` and its space,
/// before a comment; `key` alone in a flow mapping gets `: value`).
pub(crate) fn set_value(src: &str, node: &Node, value: &str) -> Edit {
    let at = node.span.start;
    if !matches!(node.value, Value::Null) {
        return Edit {
            at,
            remove: node.span.end - at,
            insert: value.to_string(),
        };
    }
    if !src[..at].ends_with(':') {
        return Edit {
            at,
            remove: 0,
            insert: format!(": {value}"),
        };
    }
    let rest = &src[at..next_line(src, at).unwrap_or(src.len())];
    if rest.starts_with([' ', '\t']) {
        let before_comment = if rest.trim_start().starts_with('#') {
            " "
        } else {
            ""
        };
        return Edit {
            at: at + 1,
            remove: 0,
            insert: format!("{value}{before_comment}"),
        };
    }
    Edit {
        at,
        remove: 0,
        insert: format!(" {value}"),
    }
}

/// Renames a key in place.
pub(crate) fn rename_key(key_span: Span, to: &str) -> Edit {
    Edit {
        at: key_span.start,
        remove: key_span.end - key_span.start,
        insert: to.to_string(),
    }
}

/// Whether `line` has an anchor or tag marker outside its comment.
pub(crate) fn has_anchor_or_tag(line: &str) -> bool {
    strip_comment(line).contains(['&', '!'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn root(src: &str) -> Node {
        parse(src).expect("valid").root.expect("root")
    }

    #[test]
    fn insert_goes_after_the_named_entry_with_its_indentation() {
        let src = "services:\n  - type: kubernetes # k8s\n    kubernetes_cluster: k\n    destination:\n      type: kubernetes_secret\n";
        let node = root(src);
        let service = &node
            .as_map()
            .and_then(|m| m.get("services"))
            .and_then(|e| e.value.as_seq())
            .expect("seq")[0];
        let edit = insert_entry(
            src,
            service,
            "kubernetes_cluster",
            "disable_exec_plugin",
            "true",
        )
        .expect("edit");
        assert_eq!(
            apply(src, &[edit]),
            "services:\n  - type: kubernetes # k8s\n    kubernetes_cluster: k\n    disable_exec_plugin: true\n    destination:\n      type: kubernetes_secret\n"
        );
    }

    #[test]
    fn insert_at_end_of_file_without_newline() {
        let src = "a:\n  b: 1";
        let node = root(src);
        let inner = &node.as_map().and_then(|m| m.get("a")).expect("a").value;
        let edit = insert_entry(src, inner, "zzz", "c", "2").expect("edit");
        assert_eq!(apply(src, &[edit]), "a:\n  b: 1\n  c: 2");
    }

    #[test]
    fn insert_into_flow_mapping() {
        let src = "a: {b: 1}\n";
        let node = root(src);
        let inner = &node.as_map().and_then(|m| m.get("a")).expect("a").value;
        let edit = insert_entry(src, inner, "b", "c", "2").expect("edit");
        assert_eq!(apply(src, &[edit]), "a: {b: 1, c: 2}\n");
    }

    #[test]
    fn crlf_files_get_crlf_lines() {
        let src = "a:\r\n  b: 1\r\n";
        let node = root(src);
        let inner = &node.as_map().and_then(|m| m.get("a")).expect("a").value;
        let edit = insert_entry(src, inner, "b", "c", "2").expect("edit");
        assert_eq!(apply(src, &[edit]), "a:\r\n  b: 1\r\n  c: 2\r\n");
    }

    #[test]
    fn set_value_fills_an_empty_value() {
        let src = "ssh_config: # later\n";
        let node = root(src);
        let value = &node
            .as_map()
            .and_then(|m| m.get("ssh_config"))
            .expect("key")
            .value;
        assert_eq!(
            apply(src, &[set_value(src, value, "\"off\"")]),
            "ssh_config: \"off\" # later\n"
        );
    }

    #[test]
    fn overlapping_edits_keep_the_first() {
        let edits = [
            Edit {
                at: 0,
                remove: 3,
                insert: "x".into(),
            },
            Edit {
                at: 1,
                remove: 1,
                insert: "y".into(),
            },
        ];
        assert_eq!(apply("abcd", &edits), "xd");
    }

    #[test]
    fn set_value_after_the_space_and_before_a_comment() {
        for (src, want) in [
            ("a: \n", "a: x\n"),
            ("a:\n", "a: x\n"),
            ("a: # c\n", "a: x # c\n"),
            ("{a}\n", "{a: x}\n"),
            ("{a: }\n", "{a: x}\n"),
        ] {
            let node = root(src);
            let value = &node.as_map().and_then(|m| m.get("a")).expect("a").value;
            assert_eq!(apply(src, &[set_value(src, value, "x")]), want, "{src:?}");
        }
    }

    #[test]
    fn indentation_is_the_files_own() {
        assert_eq!(indentation(""), (0, 2));
        assert_eq!(indentation("# c\na:\n   b: 1\n"), (0, 3));
        assert_eq!(indentation("  a:\n      b: 1\n"), (2, 4));
    }

    #[test]
    fn a_line_after_the_last_line_gets_a_line_break() {
        let edit = insert_line_after("a:", 0, "  b: 1");
        assert_eq!(apply("a:", &[edit]), "a:\n  b: 1\n");
        let edit = insert_line_after("a:\r\nc: 2\r\n", 0, "  b: 1");
        assert_eq!(apply("a:\r\nc: 2\r\n", &[edit]), "a:\r\n  b: 1\r\nc: 2\r\n");
    }
}

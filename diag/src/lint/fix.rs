//! Surgical fixes: byte edits that change only what a rule needs (comments and formatting stay),
//! the unified diff shown to the user, and the atomic rewrite with a backup.

use super::LintError;
use super::yaml::{Map, Node, Value};
use mwi_identity::durable;
use std::fs;
use std::path::{Path, PathBuf};

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

fn line_ending(src: &str) -> &'static str {
    if src.contains("\r\n") { "\r\n" } else { "\n" }
}

fn line_start(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
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
    let indent = first.key_span.start - line_start(src, first.key_span.start);
    let anchor = anchor_entry(src, map, after)?;
    let eol = line_ending(src);
    let line = format!("{}{key}: {value}", " ".repeat(indent));
    match src[anchor..].find('\n') {
        Some(newline) => Some(Edit {
            at: anchor + newline + 1,
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
    let end_of = |e: &super::yaml::Entry| e.value.span.end.max(e.key_span.end);
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
    let indent = first.key_span.start - start;
    Some(Edit {
        at: start,
        remove: 0,
        insert: format!("{}{line}{}", " ".repeat(indent), line_ending(src)),
    })
}

/// Sets a value: replaces it, or writes it after the `:` when the value is empty.
pub(crate) fn set_value(node: &Node, value: &str) -> Edit {
    match node.value {
        Value::Null => Edit {
            at: node.span.start,
            remove: 0,
            insert: format!(" {value}"),
        },
        _ => Edit {
            at: node.span.start,
            remove: node.span.end - node.span.start,
            insert: value.to_string(),
        },
    }
}

/// Renames a key in place.
pub(crate) fn rename_key(key_span: super::yaml::Span, to: &str) -> Edit {
    Edit {
        at: key_span.start,
        remove: key_span.end - key_span.start,
        insert: to.to_string(),
    }
}

pub(crate) fn diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Replaces `path`'s content `expected` with `new`, keeping its mode, owner and symlink, after a
/// backup `PATH.bak` (or `PATH.bak.N`). Returns the backup's path.
pub(crate) fn write_atomically(
    path: &Path,
    expected: &[u8],
    new: &[u8],
) -> Result<PathBuf, LintError> {
    let write_err = |error| LintError::Write {
        path: path.to_path_buf(),
        error,
    };
    let current = fs::read(path).map_err(write_err)?;
    if current != expected {
        return Err(LintError::Changed {
            path: path.to_path_buf(),
        });
    }
    let options =
        durable::Options::keep_mode(0o600).backup(durable::Backup::Numbered(".bak".into()));
    let done = durable::replace(path, new, &options).map_err(|e| write_err(e.into_io()))?;
    done.backup.ok_or_else(|| {
        write_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "it was removed while being fixed",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::yaml::parse;

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
            apply(src, &[set_value(value, "\"off\"")]),
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
    fn backups_never_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 1\n").expect("write");
        fs::write(dir.path().join("tbot.yaml.bak"), "older\n").expect("write");
        let backup = write_atomically(&path, b"a: 1\n", b"a: 2\n").expect("fix");
        assert_eq!(backup, dir.path().join("tbot.yaml.bak.1"));
        assert_eq!(fs::read_to_string(&backup).expect("read"), "a: 1\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("tbot.yaml.bak")).expect("read"),
            "older\n"
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 2\n");
    }

    #[test]
    fn a_changed_file_is_not_touched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 3\n").expect("write");
        let e = write_atomically(&path, b"a: 1\n", b"a: 2\n").expect_err("changed");
        assert!(matches!(e, LintError::Changed { .. }));
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 3\n");
        assert!(!dir.path().join("tbot.yaml.bak").exists());
    }

    #[cfg(unix)]
    #[test]
    fn file_mode_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 1\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, b"a: 1\n", b"a: 2\n").expect("fix");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}

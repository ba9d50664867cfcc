//! A YAML emitter for resource documents in the block style tctl prints (sorted keys, lists not
//! indented under their key), quoting every string a YAML 1.1 reader such as tctl's would take
//! for something else (`yes`, `on`, `0777`, `10:30`, dates), which YAML 1.2 emitters leave bare.

use serde_json::{Map, Value};

/// The YAML text of one document, ending in a newline.
pub(crate) fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0, false),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

/// Writes `map` at `indent`; with `continues_line` the first key goes where the cursor is (after
/// a `- ` list marker).
fn mapping(out: &mut String, map: &Map<String, Value>, indent: usize, continues_line: bool) {
    let mut keys: Vec<&String> = map.keys().collect();
    // Sorted here, not by relying on serde_json's map order, which a crate feature can change.
    keys.sort();
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 || !continues_line {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&string(key));
        out.push(':');
        match &map[key] {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(out, inner, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(out, items, indent, false);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize, continues_line: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !continues_line {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => mapping(out, inner, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => sequence(out, inner, indent + 2, true),
            scalar => {
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// A value that fits on the line of its key: a scalar or an empty collection.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// A string scalar: bare when that reads back as the same string, single-quoted when it has only
/// printable characters, double-quoted with escapes otherwise.
fn string(s: &str) -> String {
    if s.chars().any(needs_escape) {
        double_quoted(s)
    } else if needs_quotes(s) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

/// Characters that cannot appear raw in a quoted scalar on one line.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a bare `s` would read back as something other than this string in YAML 1.1 or 1.2.
fn needs_quotes(s: &str) -> bool {
    const INDICATORS: &str = "-?:,[]{}#&*!|>'\"%@`";
    let Some(first) = s.chars().next() else {
        return true;
    };
    s.trim() != s
        || INDICATORS.contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || is_special_word(s)
        || looks_numeric(s)
        || looks_like_date(s)
}

/// Words YAML 1.1 or 1.2 resolve to null, a boolean, or a merge/value key.
fn is_special_word(s: &str) -> bool {
    matches!(
        s,
        "~" | "null"
            | "Null"
            | "NULL"
            | "y"
            | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "<<"
            | "="
    )
}

/// Whether `s` matches a YAML 1.1 or 1.2 int or float: decimal, `0o`/`0x`/`0b` and leading-zero
/// octal, `_` separators, exponents, sexagesimal (`1:30`), `.inf` and `.nan`. The net is a little
/// wider than the specs (`1.2.3` is caught too); quoting a string needlessly is harmless.
fn looks_numeric(s: &str) -> bool {
    let digits = |t: &str, allowed: &str| {
        !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || allowed.contains(c))
    };
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if matches!(unsigned.to_ascii_lowercase().as_str(), ".inf" | ".nan") {
        return true;
    }
    if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(binary) = unsigned.strip_prefix("0b") {
        return !binary.is_empty() && binary.chars().all(|c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(octal) = unsigned.strip_prefix("0o") {
        return !octal.is_empty() && octal.chars().all(|c| matches!(c, '0'..='7' | '_'));
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['+', '-']).unwrap_or(e))),
        None => (unsigned, None),
    };
    let mantissa_ok = mantissa.chars().any(|c| c.is_ascii_digit()) && digits(mantissa, "_.:");
    mantissa_ok && exponent.is_none_or(|e| digits(e, ""))
}

/// `2026-01-02…`: YAML 1.1 timestamps.
fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reads_back(value: &Value) {
        let text = to_yaml(value);
        let parsed: Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&parsed, value, "{text}");
    }

    #[test]
    fn block_style_matches_tctl() {
        let value = json!({
            "version": "v7",
            "kind": "role",
            "spec": {
                "allow": {
                    "rules": [{"resources": ["cert_authority"], "verbs": ["readnosecrets"]}],
                    "node_labels": {"*": "*"},
                },
                "deny": {},
            },
            "nested": [["a", "b"], []],
        });
        assert_eq!(
            to_yaml(&value),
            "\
kind: role
nested:
- - a
  - b
- []
spec:
  allow:
    node_labels:
      '*': '*'
    rules:
    - resources:
      - cert_authority
      verbs:
      - readnosecrets
  deny: {}
version: v7
"
        );
    }

    #[test]
    fn yaml_1_1_lookalikes_are_quoted() {
        for s in [
            "",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "~",
            "null",
            "true",
            "0",
            "0777",
            "0o17",
            "0x1f",
            "0b101",
            "1e3",
            "1E+3",
            "1.5e-3",
            "1_000",
            "1:30",
            "1:30.5",
            ".5",
            "5.",
            "-1",
            "+1",
            ".inf",
            "-.Inf",
            ".NaN",
            "1.2.3",
            "2026-01-02",
            "2026-01-02T15:04:05Z",
            "<<",
            "=",
        ] {
            assert_ne!(string(s), s, "{s:?} must be quoted");
            reads_back(&json!({ "k": s }));
        }
    }

    #[test]
    fn ordinary_strings_stay_bare() {
        for s in [
            "bot-example",
            "12h0m0s",
            "43200s",
            "teleport.internal/bot",
            "5cee949f-5203-4f3b-9805-dac35d798a16",
            "The bot user \"bot-example\" has been locked, possibly.",
            "contains(user.spec.traits[\"groups\"], \"prod\")",
            "v2",
            "deadbeef",
            "1d",
            "0xyz",
            "1e",
            "e5",
            "1.5GB",
            ".",
            "봇",
        ] {
            assert_eq!(string(s), s);
            reads_back(&json!({ "k": s }));
        }
    }

    #[test]
    fn awkward_strings_read_back_unchanged() {
        for s in [
            "*",
            "- item",
            "a: b",
            "a #b",
            "key:",
            " leading",
            "trailing ",
            "it's",
            "line\nbreak",
            "tab\there",
            "quote\"back\\slash",
            "\u{85}nel",
            "\u{2028}",
            "\u{feff}bom",
            "%TAG",
            "@at",
            "`tick",
            "!tag",
            "&anchor",
            "|pipe",
            ">fold",
        ] {
            reads_back(&json!({ "k": s, s: [s] }));
        }
    }

    #[test]
    fn scalars_and_empty_documents() {
        assert_eq!(to_yaml(&json!({})), "{}\n");
        assert_eq!(to_yaml(&json!([])), "[]\n");
        assert_eq!(
            to_yaml(&json!({"five": 5, "b": false, "z": null, "n": "y"})),
            "b: false\nfive: 5\n'n': 'y'\nz: null\n"
        );
    }
}

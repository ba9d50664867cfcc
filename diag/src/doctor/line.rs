//! Reading one log line whatever wrote it: tbot's text and JSON formats, journalctl's short,
//! short-iso and JSON output, auth service logs, ssh/tsh output. Gives the message text to classify,
//! with HTML character references decoded (the one place they are).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// How a matched line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    /// Plain text: tbot/teleport text logs, ssh and tsh output.
    Text,
    /// One JSON object per line (tbot/teleport `--log-format=json`).
    Json,
    /// journalctl's `short`/`short-iso`/`short-precise` output (`Jan 21 18:11:16 host tbot[42]: ...`).
    Journal,
    /// `journalctl -o json`, with the log line in `MESSAGE`.
    JournalJson,
}

/// A matched line ready to classify.
pub(crate) struct LogLine<'a> {
    pub format: LineFormat,
    /// The message to classify; for JSON, the message followed by the other fields as `key=value`.
    pub text: Cow<'a, str>,
    /// The message without time stamps, so repeated lines can be told apart from new ones.
    pub dedup: Cow<'a, str>,
    /// For JSON lines, a readable one-line form: `LEVEL [component] message key=value ...`.
    pub display: Option<String>,
}

/// JSON lines longer than this are classified as text: parsing them would cost more than it tells.
const MAX_JSON_LINE: usize = 1 << 20;

/// Reads one line; the text to classify and the dedup key have HTML character references
/// decoded. tbot's multi-line error reports went through Go's `html/template` in some releases,
/// so a quote arrives as `&#34;` (teleport PR #65258 shows `desc = &#34;transport: ...&#34;`);
/// evidence keeps the line as written.
pub(crate) fn read_line(raw: &str) -> LogLine<'_> {
    let mut line = read_raw(raw);
    line.text = decode_entities(line.text);
    line.dedup = decode_entities(line.dedup);
    line
}

fn read_raw(raw: &str) -> LogLine<'_> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{')
        && trimmed.len() <= MAX_JSON_LINE
        && let Some(line) = json_line(trimmed, LineFormat::Json)
    {
        return line;
    }
    if let Some(rest) = strip_journal_prefix(trimmed) {
        let rest = rest.trim_start();
        if rest.starts_with('{')
            && let Some(mut line) = json_line(rest, LineFormat::Journal)
        {
            line.format = LineFormat::Journal;
            return line;
        }
        return LogLine {
            format: LineFormat::Journal,
            text: Cow::Borrowed(rest),
            dedup: Cow::Borrowed(strip_leading_timestamp(rest)),
            display: None,
        };
    }
    LogLine {
        format: LineFormat::Text,
        text: Cow::Borrowed(trimmed),
        dedup: Cow::Borrowed(strip_leading_timestamp(trimmed)),
        display: None,
    }
}

fn json_line(raw: &str, format: LineFormat) -> Option<LogLine<'static>> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(raw) else {
        return None;
    };
    // journalctl -o json: the log line is MESSAGE, itself possibly tbot's JSON.
    if let Some(Value::String(message)) = object.get("MESSAGE") {
        let inner = read_raw(message);
        let display = inner.display.unwrap_or_else(|| inner.text.to_string());
        return Some(LogLine {
            format: LineFormat::JournalJson,
            text: Cow::Owned(inner.text.into_owned()),
            dedup: Cow::Owned(inner.dedup.into_owned()),
            display: Some(display),
        });
    }
    const MESSAGE_KEYS: &[&str] = &["message", "msg"];
    const TIME_KEYS: &[&str] = &["timestamp", "time", "ts", "@timestamp"];
    const HEAD_KEYS: &[&str] = &["level", "severity", "component", "caller"];
    let message = MESSAGE_KEYS
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .unwrap_or("");
    let mut text = message.to_string();
    let mut dedup = message.to_string();
    let field = |key: &str| object.get(key).and_then(Value::as_str);
    let mut display = String::new();
    if let Some(level) = field("level").or_else(|| field("severity")) {
        display.push_str(&level.to_ascii_uppercase());
        display.push(' ');
    }
    if let Some(component) = field("component") {
        display.push_str(&format!("[{component}] "));
    }
    display.push_str(message);
    for (key, value) in &object {
        if MESSAGE_KEYS.contains(&key.as_str()) {
            continue;
        }
        let value = match value {
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Array(items) => Cow::Owned(format!(
                "[{}]",
                items
                    .iter()
                    .map(|item| item
                        .as_str()
                        .map_or_else(|| item.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            other => Cow::Owned(other.to_string()),
        };
        text.push(' ');
        text.push_str(key);
        text.push('=');
        text.push_str(&value);
        if !TIME_KEYS.contains(&key.as_str()) {
            dedup.push(' ');
            dedup.push_str(key);
            dedup.push('=');
            dedup.push_str(&value);
            if !HEAD_KEYS.contains(&key.as_str()) {
                display.push(' ');
                display.push_str(key);
                display.push('=');
                display.push_str(&value);
            }
        }
    }
    Some(LogLine {
        format,
        text: Cow::Owned(text),
        dedup: Cow::Owned(dedup),
        display: Some(display),
    })
}

/// The rest of a journalctl line after `TIME HOST IDENT[PID]: `, if it has that prefix.
fn strip_journal_prefix(line: &str) -> Option<&str> {
    let mut rest = line;
    let first = next_word(&mut rest)?;
    if is_month(first) {
        let day = next_word(&mut rest)?;
        let clock = next_word(&mut rest)?;
        if !day.bytes().all(|b| b.is_ascii_digit()) || !is_clock(clock) {
            return None;
        }
    } else if !is_iso_time(first) {
        return None;
    }
    let host = next_word(&mut rest)?;
    let ident = next_word(&mut rest)?;
    if host.is_empty() || host.contains(['[', ']', '=']) || !ident.ends_with(':') {
        return None;
    }
    let name = ident.trim_end_matches(':');
    let name = match name.split_once('[') {
        Some((name, pid)) if pid.ends_with(']') => {
            if !pid[..pid.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            name
        }
        Some(_) => return None,
        None => name,
    };
    if name.is_empty() || name.contains(['"', '=', '(', ')']) {
        return None;
    }
    Some(rest)
}

fn next_word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let trimmed = rest.trim_start_matches(' ');
    let end = trimmed.find(' ').unwrap_or(trimmed.len());
    let (word, tail) = trimmed.split_at(end);
    *rest = tail;
    (!word.is_empty()).then_some(word)
}

fn is_month(word: &str) -> bool {
    const MONTHS: &[&str] = &[
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.contains(&word)
}

/// `18:11:16` or `18:11:16.320123`.
fn is_clock(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 8
        && bytes[2] == b':'
        && bytes[5] == b':'
        && bytes[..8]
            .iter()
            .enumerate()
            .all(|(i, b)| i == 2 || i == 5 || b.is_ascii_digit())
}

/// `2026-01-21T18:11:16-0700` and other RFC 3339 shapes: date, `T`, clock.
fn is_iso_time(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 19
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && word.get(11..).is_some_and(is_clock)
}

/// `text` with HTML character references decoded: the named ones Go's `html/template` and
/// `html.EscapeString` write (`&quot;`, `&#39;`, `&amp;`, `&lt;`, `&gt;`, and `&apos;`) and numeric
/// ones (`&#34;`, `&#x22;`). Anything else, a bare `&` included, stays as it is; one pass, so
/// `&amp;#34;` becomes `&#34;`, not a quote.
pub(crate) fn decode_entities(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('&') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = &*text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match entity(rest) {
            Some((decoded, len)) => {
                out.push(decoded);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character a reference at the start of `text` (which starts with `&`) stands for, and the
/// reference's length.
fn entity(text: &str) -> Option<(char, usize)> {
    // The longest reference decoded is `&#x10FFFF;` or `&#1114111;`.
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let name = &text[1..end];
    let decoded = match name {
        "quot" => '"',
        "apos" => '\'',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            // NUL and other control characters would only hide the line's words.
            char::from_u32(code).filter(|c| !c.is_control() || *c == '\t')?
        }
    };
    Some((decoded, end + 1))
}

/// A text log line without its leading RFC 3339 time stamp, if it starts with one.
fn strip_leading_timestamp(line: &str) -> &str {
    let mut rest = line;
    match next_word(&mut rest) {
        Some(word) if is_iso_time(word) => rest.trim_start(),
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_short_prefix_is_removed() {
        let line = read_line(
            "Jan 21 18:11:16 host1 tbot[812]: ERROR: renewable cert generation mismatch: stored=3, presented=2",
        );
        assert_eq!(line.format, LineFormat::Journal);
        assert_eq!(
            line.text,
            "ERROR: renewable cert generation mismatch: stored=3, presented=2"
        );
    }

    #[test]
    fn journal_iso_prefix_is_removed() {
        let line =
            read_line("2026-01-21T18:11:16-0700 host1 tbot[812]: ERRO [TBOT] Failed to ping proxy");
        assert_eq!(line.format, LineFormat::Journal);
        assert_eq!(line.text, "ERRO [TBOT] Failed to ping proxy");
    }

    #[test]
    fn tbot_text_line_with_timestamp_is_not_journal() {
        let line = read_line(
            "2026-01-21T18:11:16.320-07:00 ERRO [TBOT:PROX] Failed to ping proxy error:[",
        );
        assert_eq!(line.format, LineFormat::Text);
        assert_eq!(line.dedup, "ERRO [TBOT:PROX] Failed to ping proxy error:[");
    }

    #[test]
    fn json_line_flattens_fields() {
        let line = read_line(
            r#"{"timestamp":"2026-01-21T18:11:16Z","level":"error","component":"TBOT","message":"Failed to renew","error":"renewable cert generation mismatch: stored=3, presented=2"}"#,
        );
        assert_eq!(line.format, LineFormat::Json);
        assert!(
            line.text
                .contains("error=renewable cert generation mismatch")
        );
        assert!(!line.dedup.contains("2026"));
    }

    #[test]
    fn journal_json_reads_message() {
        let line = read_line(
            r#"{"__REALTIME_TIMESTAMP":"1","_SYSTEMD_UNIT":"tbot.service","MESSAGE":"ERRO [TBOT] Identity has expired. The renewal is likely to fail."}"#,
        );
        assert_eq!(line.format, LineFormat::JournalJson);
        assert!(line.text.starts_with("ERRO [TBOT] Identity has expired"));
    }

    #[test]
    fn html_escaped_quotes_are_decoded_for_matching_only() {
        let line = read_line(
            "Original Error: *trace.NotFoundError database &#34;pg-prod&#34; not found, user &quot;bot-ci&quot; &lt;x&gt; &#x27;a&#39; &amp;",
        );
        assert_eq!(
            line.text,
            "Original Error: *trace.NotFoundError database \"pg-prod\" not found, user \"bot-ci\" <x> 'a' &"
        );
        assert_eq!(line.dedup, line.text);
    }

    #[test]
    fn what_is_not_a_reference_stays() {
        for text in [
            "a & b",
            "&#; &#x; &bogus; &#99999999999; &#0; &amp",
            "R&D &#3",
            "no ampersand",
        ] {
            assert_eq!(decode_entities(Cow::Borrowed(text)), text, "{text}");
        }
        assert_eq!(decode_entities(Cow::Borrowed("&amp;#34;")), "&#34;");
        assert_eq!(decode_entities(Cow::Borrowed("é&#233;&#x1F600;")), "éé😀");
    }

    #[test]
    fn json_and_journal_lines_are_decoded_once() {
        let line = read_line(
            r#"{"level":"error","message":"Failed","error":"database &#34;db&#34; not found"}"#,
        );
        assert!(
            line.text.contains(r#"error=database "db" not found"#),
            "{}",
            line.text
        );
        let line = read_line(
            r#"{"MESSAGE":"ERRO [TBOT] user &amp;#34;x&amp;#34;","_SYSTEMD_UNIT":"tbot.service"}"#,
        );
        assert!(line.text.contains("user &#34;x&#34;"), "{}", line.text);
    }

    #[test]
    fn broken_json_is_text() {
        let line = read_line(r#"{"message":"access denied"#);
        assert_eq!(line.format, LineFormat::Text);
    }
}

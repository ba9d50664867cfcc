//! The agent's log in tbot's two formats (text: `TIME LEVEL [TBOT]      message key:value caller`;
//! JSON: one object per line), written to stderr and, when asked, appended to a file.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How log records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// tbot's text lines.
    #[default]
    Text,
    /// One JSON object per line, keys as Teleport's JSON logger writes them.
    Json,
}

/// Severity of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn text(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    /// Teleport's JSON logger writes levels in lower case (`"level":"info"`).
    fn json(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Where in tbot a line of this kind comes from, printed as tbot prints its caller.
pub type Caller = &'static str;

/// The component tag tbot's text format prints, padded as Teleport pads it.
const TEXT_COMPONENT: &str = "[TBOT]";
const JSON_COMPONENT: &str = "tbot";

/// A cheap, cloneable handle to the agent's log.
#[derive(Clone)]
pub struct Logger {
    format: LogFormat,
    sinks: Arc<Mutex<Sinks>>,
}

struct Sinks {
    file: Option<File>,
    stderr: bool,
}

impl Logger {
    /// A log to stderr (unless `quiet`, which needs a file) and, if `file` is given, appended to
    /// it (created with mode 0600).
    pub fn new(format: LogFormat, file: Option<&Path>, quiet: bool) -> std::io::Result<Logger> {
        let file = match file {
            Some(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                Some(options.open(path)?)
            }
            None => None,
        };
        let stderr = !quiet || file.is_none();
        Ok(Logger {
            format,
            sinks: Arc::new(Mutex::new(Sinks { file, stderr })),
        })
    }

    /// A log to stderr only.
    pub fn stderr(format: LogFormat) -> Logger {
        Logger {
            format,
            sinks: Arc::new(Mutex::new(Sinks {
                file: None,
                stderr: true,
            })),
        }
    }

    pub fn info(&self, caller: Caller, message: &str, fields: &[(&str, String)]) {
        self.log(Level::Info, caller, message, fields);
    }

    pub fn warn(&self, caller: Caller, message: &str, fields: &[(&str, String)]) {
        self.log(Level::Warn, caller, message, fields);
    }

    pub fn error(&self, caller: Caller, message: &str, fields: &[(&str, String)]) {
        self.log(Level::Error, caller, message, fields);
    }

    pub fn log(&self, level: Level, caller: Caller, message: &str, fields: &[(&str, String)]) {
        let line = render(
            self.format,
            OffsetDateTime::now_utc(),
            level,
            caller,
            message,
            fields,
        );
        // A log that cannot be written must not stop the agent: it keeps renewing.
        if let Ok(mut sinks) = self.sinks.lock() {
            if sinks.stderr {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            if let Some(file) = sinks.file.as_mut() {
                let _ = file.write_all(line.as_bytes());
            }
        }
    }
}

/// One record as one line, newline included.
pub fn render(
    format: LogFormat,
    at: OffsetDateTime,
    level: Level,
    caller: Caller,
    message: &str,
    fields: &[(&str, String)],
) -> String {
    let timestamp = timestamp(at);
    match format {
        LogFormat::Text => {
            let mut line = format!(
                "{timestamp} {} {TEXT_COMPONENT:<11} {message}",
                level.text()
            );
            for (key, value) in fields {
                line.push(' ');
                line.push_str(key);
                line.push(':');
                line.push_str(&text_value(value));
            }
            line.push(' ');
            line.push_str(caller);
            line.push('\n');
            line
        }
        LogFormat::Json => {
            // serde_json's map is ordered by key, as Teleport's JSON lines are.
            let mut object = serde_json::Map::new();
            for (key, value) in fields {
                object.insert((*key).to_string(), value.clone().into());
            }
            object.insert("timestamp".into(), timestamp.into());
            object.insert("level".into(), level.json().into());
            object.insert("component".into(), JSON_COMPONENT.into());
            object.insert("message".into(), message.into());
            object.insert("caller".into(), caller.into());
            let mut line = serde_json::Value::Object(object).to_string();
            line.push('\n');
            line
        }
    }
}

/// RFC 3339 in UTC to the second, as tbot's lines and identity descriptions print time.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A field value as Go's text handler prints it: bare when it is one plain word, quoted otherwise.
fn text_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '\\' && !c.is_control());
    if plain {
        value.to_string()
    } else {
        serde_json::Value::from(value).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_687_200).unwrap()
    }

    #[test]
    fn text_line_has_tbot_prefix_padding_and_caller() {
        let line = render(
            LogFormat::Text,
            at(),
            Level::Error,
            "tbot/renew.go:412",
            "Failed to renew bot identity: renewable cert generation mismatch for bot example/u1: stored=3, presented=2",
            &[],
        );
        assert_eq!(
            line,
            "2026-11-26T10:00:00Z ERROR [TBOT]      Failed to renew bot identity: renewable cert generation mismatch for bot example/u1: stored=3, presented=2 tbot/renew.go:412\n"
        );
    }

    #[test]
    fn text_fields_are_bare_words_or_quoted() {
        let line = render(
            LogFormat::Text,
            at(),
            Level::Warn,
            "tbot/renew.go:1",
            "Retrying",
            &[
                ("attempt", "1/7".into()),
                ("error", "auth API: access denied [00]".into()),
            ],
        );
        assert!(
            line.ends_with(
                "WARN [TBOT]      Retrying attempt:1/7 error:\"auth API: access denied [00]\" tbot/renew.go:1\n"
            ),
            "{line}"
        );
    }

    #[test]
    fn json_line_is_one_object_with_teleport_keys() {
        let line = render(
            LogFormat::Json,
            at(),
            Level::Info,
            "tbot/renew.go:1",
            "Successfully renewed bot identity",
            &[("generation", "2".into())],
        );
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["timestamp"], "2026-11-26T10:00:00Z");
        assert_eq!(value["level"], "info");
        assert_eq!(value["component"], "tbot");
        assert_eq!(value["message"], "Successfully renewed bot identity");
        assert_eq!(value["caller"], "tbot/renew.go:1");
        assert_eq!(value["generation"], "2");
    }

    #[test]
    fn a_field_cannot_overwrite_the_message() {
        let line = render(
            LogFormat::Json,
            at(),
            Level::Info,
            "c",
            "real",
            &[("message", "forged".into())],
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], "real");
    }

    #[test]
    fn log_file_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = Logger::new(LogFormat::Text, Some(&path), false).unwrap();
        log.info("c", "hello", &[]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier\n") && text.contains("INFO [TBOT]      hello c\n"));
    }
}

//! Rendering: every command's result goes to stdout as a text table, JSON or YAML (`--format`);
//! status and warnings go to stderr and `--quiet` silences them. Long lists stream page by page,
//! and a result may write itself piece by piece (`Output::write_to`).
//! Below it: `table` (tables fitted to the terminal) and `resources` (one row per resource kind,
//! one lock row for every lock table). It depends on no command and no op.

use std::fmt::Display;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CommandError;

mod resources;
mod table;

pub use resources::{LockColumn, headers, lock_count, lock_json, lock_row, lock_table};
pub use table::{Fitting, Layout, Table, fitted_table, table_time, terminal_width};

/// The `--format` of data written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Tables and `key: value` lines for people.
    #[default]
    Text,
    /// JSON; a list is an array.
    Json,
    /// YAML; a list is one document per item, separated by `---`.
    Yaml,
    /// Prometheus text exposition, for node_exporter's textfile collector (`mwictl triage` only).
    Prometheus,
}

/// A command's result, in each format.
pub trait Output {
    /// The human form; ends with a newline unless empty.
    fn text(&self) -> String;
    /// The machine form, for `--format json` and (by default) `--format yaml`.
    fn json(&self) -> serde_json::Value;
    fn yaml(&self) -> String {
        yaml_document(&self.json())
    }
    /// The metrics form, for `--format prometheus`; `None` for a result that has none.
    fn prometheus(&self) -> Option<String> {
        None
    }
    /// Writes the form `format` names to `out`. By default the whole form is built first; a
    /// result too large to hold in a second form (triage of a big fleet) writes piece by piece.
    fn write_to(&self, format: Format, out: &mut dyn Write) -> Result<(), WriteError> {
        let text = match format {
            Format::Text => self.text(),
            Format::Json => json_text(&self.json()),
            Format::Yaml => self.yaml(),
            Format::Prometheus => self.prometheus().ok_or(WriteError::NoMetrics)?,
        };
        Ok(out.write_all(text.as_bytes())?)
    }
}

/// Why a result could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// `--format prometheus` on a result that has no metrics form.
    #[error("no metrics form")]
    NoMetrics,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Writes data to stdout and status to stderr, as `--format` and `--quiet` say. When the reader
/// of stdout goes away (`| head`), later writes are dropped instead of failing the command.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    quiet: bool,
    closed: AtomicBool,
}

impl Printer {
    pub fn new(format: Format, quiet: bool) -> Printer {
        Printer {
            format,
            quiet,
            closed: AtomicBool::new(false),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes a command's result in the chosen format, as it is rendered (through a buffer).
    pub fn print(&self, out: &dyn Output) -> Result<(), CommandError> {
        if self.is_closed() {
            return Ok(());
        }
        let mut stdout = BufWriter::new(self.stdout());
        let written = out.write_to(self.format, &mut stdout);
        match written.and_then(|()| Ok(stdout.flush()?)) {
            Ok(()) => Ok(()),
            Err(WriteError::NoMetrics) => Err(only_triage_has_metrics()),
            Err(WriteError::Io(e)) => Err(cannot_write(e)),
        }
    }

    /// Writes text to stdout as is.
    pub fn write(&self, text: &str) -> Result<(), CommandError> {
        if self.is_closed() || text.is_empty() {
            return Ok(());
        }
        let mut out = self.stdout();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(cannot_write)
    }

    fn stdout(&self) -> Stdout<'_> {
        Stdout {
            closed: &self.closed,
            inner: std::io::stdout().lock(),
        }
    }

    /// True once the reader of stdout went away; long listings stop fetching then.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// A status line on stderr (progress, "no locks found"); silenced by `--quiet`.
    pub fn status(&self, message: impl Display) {
        if !self.quiet {
            to_stderr(format_args!("{message}\n"));
        }
    }

    /// A `warning: ...` line on stderr; silenced by `--quiet`.
    pub fn warn(&self, message: impl Display) {
        if !self.quiet {
            to_stderr(format_args!("warning: {message}\n"));
        }
    }
}

/// Locked stdout that drops every write once its reader went away (`| head`) and says so in
/// `closed`; other write errors pass.
struct Stdout<'p> {
    closed: &'p AtomicBool,
    inner: std::io::StdoutLock<'static>,
}

impl Stdout<'_> {
    fn dropping_closed<T>(&mut self, done: T, result: std::io::Result<T>) -> std::io::Result<T> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(done)
            }
            other => other,
        }
    }
}

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.dropping_closed(buf.len(), result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = self.inner.flush();
        self.dropping_closed((), result)
    }
}

fn cannot_write(e: std::io::Error) -> CommandError {
    CommandError::failure(format!("cannot write to stdout: {e}"))
}

/// The error for `--format prometheus` on a command whose result has no metrics form.
pub fn only_triage_has_metrics() -> CommandError {
    CommandError::usage("--format prometheus: only `mwictl triage` writes metrics")
        .hint("use --format text, json or yaml here")
}

/// Writes to stderr. Unlike `eprintln!` it does not panic when stderr is a closed pipe
/// (`mwictl ... 2>&1 | head -1`): there is no one left to tell.
pub fn to_stderr(text: std::fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(text);
}

/// JSON as written: pretty, with a final newline.
pub fn json_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    text.push('\n');
    text
}

/// Writes `value` as `json_text` writes the Value it serializes to, without building that Value.
pub fn write_json(out: &mut dyn Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

/// A list that serializes as the array of `json` of each item, each Value made as it is written.
pub struct Items<'a, T>(pub &'a [T], pub fn(&T) -> serde_json::Value);

impl<T> serde::Serialize for Items<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(self.1))
    }
}

/// One YAML document (no `---`), with a final newline.
pub fn yaml_document(value: &serde_json::Value) -> String {
    serde_yaml_ng::to_string(value).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

/// An item of a streamed list: its table row and its machine forms.
pub trait Listed {
    fn row(&self) -> Vec<String>;
    fn json(&self) -> serde_json::Value;
    /// One YAML document (no `---`).
    fn yaml(&self) -> String {
        yaml_document(&self.json())
    }
}

/// Writes a list page by page in the chosen format, never holding more than a page: text as a
/// table whose column widths come from the first page; JSON as one array; YAML as documents.
pub struct ListWriter<'p> {
    printer: &'p Printer,
    headers: Vec<&'static str>,
    widths: Option<Vec<usize>>,
    count: usize,
}

impl<'p> ListWriter<'p> {
    pub fn new(printer: &'p Printer, headers: &[&'static str]) -> ListWriter<'p> {
        ListWriter {
            printer,
            headers: headers.to_vec(),
            widths: None,
            count: 0,
        }
    }

    /// Writes one page.
    pub fn page(&mut self, items: &[impl Listed]) -> Result<(), CommandError> {
        let text = self.render_page(items);
        self.printer.write(&text)
    }

    /// Ends the list and returns how many items it had. An empty list is `[]` in JSON and YAML
    /// and nothing in text (the caller says "no ... found" on stderr).
    pub fn finish(self) -> Result<usize, CommandError> {
        self.printer.write(self.tail())?;
        Ok(self.count)
    }

    fn render_page(&mut self, items: &[impl Listed]) -> String {
        let mut text = String::new();
        if items.is_empty() {
            return text;
        }
        match self.printer.format() {
            // `cli::run` refuses --format prometheus for every command but triage.
            Format::Text | Format::Prometheus => {
                let mut table = Table::new(&self.headers);
                for item in items {
                    table.push(item.row());
                }
                let widths = self.widths.get_or_insert_with(|| {
                    let widths = table.widths();
                    text.push_str(&table.render_header(&widths));
                    widths
                });
                text.push_str(&table.render_rows(widths));
            }
            Format::Json => {
                for (i, item) in items.iter().enumerate() {
                    text.push_str(if self.count + i == 0 { "[\n" } else { ",\n" });
                    let pretty = serde_json::to_string_pretty(&item.json())
                        .unwrap_or_else(|_| "null".into());
                    // One level deeper, as an element of the array.
                    text.push_str("  ");
                    text.push_str(&pretty.replace('\n', "\n  "));
                }
            }
            Format::Yaml => {
                for (i, item) in items.iter().enumerate() {
                    if self.count + i > 0 {
                        text.push_str("---\n");
                    }
                    text.push_str(&item.yaml());
                }
            }
        }
        self.count += items.len();
        text
    }

    fn tail(&self) -> &'static str {
        match (self.printer.format(), self.count) {
            (Format::Text | Format::Prometheus, _) | (Format::Yaml, 1..) => "",
            (_, 0) => "[]\n",
            (Format::Json, _) => "\n]\n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(format: Format, pages: &[Vec<Item>]) -> String {
        let printer = Printer::new(format, true);
        let mut w = ListWriter::new(&printer, &["N", "Tags"]);
        let mut text: String = pages.iter().map(|p| w.render_page(p)).collect();
        text.push_str(w.tail());
        text
    }

    struct Item(i64);

    impl Listed for Item {
        fn row(&self) -> Vec<String> {
            vec![self.0.to_string(), "a".into()]
        }
        fn json(&self) -> serde_json::Value {
            serde_json::json!({"n": self.0, "tags": ["a"]})
        }
    }

    fn item(n: i64) -> Item {
        Item(n)
    }

    #[test]
    fn streamed_json_equals_one_pretty_array() {
        let pages = vec![vec![item(1), item(2)], vec![], vec![item(3)]];
        let expected = json_text(&serde_json::json!([
            {"n": 1, "tags": ["a"]}, {"n": 2, "tags": ["a"]}, {"n": 3, "tags": ["a"]}
        ]));
        assert_eq!(stream(Format::Json, &pages), expected);
        assert_eq!(stream(Format::Json, &[]), "[]\n");
    }

    #[test]
    fn streamed_yaml_separates_documents() {
        let pages = vec![vec![item(1)], vec![item(2)]];
        assert_eq!(
            stream(Format::Yaml, &pages),
            "n: 1\ntags:\n- a\n---\nn: 2\ntags:\n- a\n"
        );
        assert_eq!(stream(Format::Yaml, &[]), "[]\n");
    }

    #[test]
    fn streamed_table_prints_one_header() {
        let pages = vec![vec![item(1)], vec![item(22)]];
        assert_eq!(stream(Format::Text, &pages), "N Tags\n- ----\n1 a\n22 a\n");
        assert_eq!(stream(Format::Text, &[]), "");
    }
}

//! Text tables like tctl's (a header, a dashed rule, left-aligned columns), fitted to the
//! terminal by cutting one free-text column short, and times as tables show them.

use crate::resource::format_timestamp;

/// A text table like tctl's: a header row, a dashed rule, then one row per item; columns are
/// left-aligned and separated by one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Column widths that fit the headers and every row.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(width(cell));
                }
            }
        }
        widths
    }

    /// The header and rule lines for `widths`.
    pub fn render_header(&self, widths: &[usize]) -> String {
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let mut out = line(&self.headers, widths);
        out.push_str(&line(&rule, widths));
        out
    }

    /// The rows only, padded to `widths` (a cell wider than its column pushes the rest right).
    pub fn render_rows(&self, widths: &[usize]) -> String {
        self.rows.iter().map(|r| line(r, widths)).collect()
    }

    /// The whole table.
    pub fn render(&self) -> String {
        let widths = self.widths();
        let mut out = self.render_header(&widths);
        out.push_str(&self.render_rows(&widths));
        out
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        // Cells are one line each: a newline inside would break the table.
        let cell = cell.replace(['\n', '\r'], " ");
        let last = i + 1 == cells.len();
        if last {
            out.push_str(&cell);
        } else {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(width(&cell));
            out.push_str(&cell);
            out.push_str(&" ".repeat(pad + 1));
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// A time as tables show it: RFC 3339 in UTC to the second (JSON and YAML keep the fraction).
pub fn table_time(ts: &prost_types::Timestamp) -> String {
    format_timestamp(&prost_types::Timestamp {
        seconds: ts.seconds,
        nanos: 0,
    })
}

/// The width of the terminal `term` (stdout or stderr) writes to, or `None` when it is not a
/// terminal: a pipe or a file gets whole cells.
pub fn terminal_width(term: &console::Term) -> Option<usize> {
    term.size_checked().map(|(_, cols)| usize::from(cols))
}

/// The narrowest a shortened column gets, so it stays readable on a tiny terminal.
const MIN_COLUMN: usize = 12;

/// A table of `rows` under `headers`, with column `squeeze` (a free-text column such as the
/// message) cut short with `…` so that each line fits in `width`, when given.
pub fn fitted_table(
    headers: &[&str],
    mut rows: Vec<Vec<String>>,
    squeeze: usize,
    width: Option<usize>,
) -> Table {
    if let Some(width) = width {
        let mut probe = Table::new(headers);
        for row in &rows {
            probe.push(row.clone());
        }
        let widths = probe.widths();
        let others: usize = widths
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != squeeze)
            .map(|(_, w)| w + 1)
            .sum();
        let room = width.saturating_sub(others).max(MIN_COLUMN);
        for row in &mut rows {
            if let Some(cell) = row.get_mut(squeeze) {
                *cell = shorten(cell, room);
            }
        }
    }
    let mut table = Table::new(headers);
    for row in rows {
        table.push(row);
    }
    table
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_like_tctl() {
        let mut t = Table::new(&["ID", "Target", "Message"]);
        t.push(vec!["a1".into(), "User:\"bot-x\"".into(), "locked".into()]);
        t.push(vec!["b".into(), "Role:\"r\"".into(), String::new()]);
        assert_eq!(
            t.render(),
            "ID Target       Message\n\
             -- ------------ -------\n\
             a1 User:\"bot-x\" locked\n\
             b  Role:\"r\"\n"
        );
    }

    #[test]
    fn newlines_in_cells_do_not_break_rows() {
        let mut t = Table::new(&["A", "B"]);
        t.push(vec!["x\ny".into(), "z".into()]);
        assert_eq!(t.render().lines().count(), 3);
    }

    #[test]
    fn table_times_are_to_the_second() {
        let ts = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        };
        assert_eq!(table_time(&ts), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_long_message_is_cut_to_fit_the_terminal() {
        let rows = vec![vec!["id".into(), "x".repeat(200), "never".into()]];
        let table = fitted_table(&["ID", "Message", "Expires"], rows, 1, Some(60));
        for line in table.render().lines() {
            assert!(line.chars().count() <= 60, "{line}");
        }
        assert!(table.render().contains('…'));
    }

    #[test]
    fn without_a_terminal_cells_stay_whole() {
        let long = "x".repeat(200);
        let rows = vec![vec!["id".into(), long.clone()]];
        let table = fitted_table(&["ID", "Message"], rows, 1, None);
        assert!(table.render().contains(&long));
    }
}

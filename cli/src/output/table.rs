//! Text tables like tctl's (a header, a dashed rule, left-aligned columns), fitted to the
//! terminal by cutting one free-text column short (whole, or in two passes over rows too many to
//! hold), and times as tables show them.

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
            widen(&mut widths, row);
        }
        widths
    }

    /// The header and rule lines for `widths`.
    pub fn render_header(&self, widths: &[usize]) -> String {
        header_lines(&self.headers, widths)
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

/// Widens `widths` to fit `row` (cells past the headers do not count).
fn widen(widths: &mut [usize], row: &[String]) {
    for (w, cell) in widths.iter_mut().zip(row) {
        *w = (*w).max(width(cell));
    }
}

fn header_lines(headers: &[String], widths: &[usize]) -> String {
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = line(headers, widths);
    out.push_str(&line(&rule, widths));
    out
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
    rows: Vec<Vec<String>>,
    squeeze: usize,
    width: Option<usize>,
) -> Table {
    let mut fitting = Fitting::new(headers, squeeze);
    for row in &rows {
        fitting.measure(row);
    }
    let layout = fitting.fit(width);
    let mut table = Table::new(headers);
    for row in rows {
        table.push(layout.cut(row));
    }
    table
}

/// The first pass of a fitted table too large to hold: the column widths of the headers and
/// every row, measured as the rows go by.
#[derive(Debug, Clone)]
pub struct Fitting {
    headers: Vec<String>,
    widths: Vec<usize>,
    squeeze: usize,
}

impl Fitting {
    /// A table under `headers` whose column `squeeze` is the one `fit` may cut.
    pub fn new(headers: &[&str], squeeze: usize) -> Fitting {
        Fitting {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            widths: headers.iter().map(|h| width(h)).collect(),
            squeeze,
        }
    }

    /// Widens the columns to fit `row`.
    pub fn measure(&mut self, row: &[String]) {
        widen(&mut self.widths, row);
    }

    /// The layout whose lines fit in `terminal` columns (when given): the squeezed column gets
    /// the room the others leave, never less than `MIN_COLUMN`.
    pub fn fit(self, terminal: Option<usize>) -> Layout {
        let Fitting {
            headers,
            mut widths,
            squeeze,
        } = self;
        let room = terminal.map(|terminal| {
            let others: usize = widths
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != squeeze)
                .map(|(_, w)| w + 1)
                .sum();
            terminal.saturating_sub(others).max(MIN_COLUMN)
        });
        if let (Some(room), Some(header), Some(w)) =
            (room, headers.get(squeeze), widths.get_mut(squeeze))
        {
            // Cut cells are `room` wide; the header is never cut.
            *w = width(header).max((*w).min(room));
        }
        Layout {
            headers,
            widths,
            squeeze,
            room,
        }
    }
}

/// The second pass of a fitted table: each line as `fitted_table(..).render()` writes it.
#[derive(Debug, Clone)]
pub struct Layout {
    headers: Vec<String>,
    widths: Vec<usize>,
    squeeze: usize,
    room: Option<usize>,
}

impl Layout {
    /// The header and rule lines.
    pub fn header(&self) -> String {
        header_lines(&self.headers, &self.widths)
    }

    /// One row's line, its squeezed cell cut to fit.
    pub fn row(&self, row: Vec<String>) -> String {
        line(&self.cut(row), &self.widths)
    }

    /// `row` with its squeezed cell cut to fit.
    fn cut(&self, mut row: Vec<String>) -> Vec<String> {
        if let (Some(room), Some(cell)) = (self.room, row.get_mut(self.squeeze)) {
            *cell = shorten(cell, room);
        }
        row
    }
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

    /// The table `Fitting` and `Layout` write line by line.
    fn streamed(
        headers: &[&str],
        rows: &[Vec<String>],
        squeeze: usize,
        width: Option<usize>,
    ) -> String {
        let mut fitting = Fitting::new(headers, squeeze);
        for row in rows {
            fitting.measure(row);
        }
        let layout = fitting.fit(width);
        let mut out = layout.header();
        for row in rows {
            out.push_str(&layout.row(row.clone()));
        }
        out
    }

    #[test]
    fn a_table_written_line_by_line_equals_the_fitted_table() {
        let rows: Vec<Vec<String>> = vec![
            vec![
                "alpha".into(),
                "x".repeat(90),
                "mwictl unlock --bot alpha".into(),
            ],
            vec![String::new(), "short".into(), "fix".into()],
            vec!["b".into(), "line\nbreak ünïcode".repeat(3), String::new()],
        ];
        let headers = &["Bot", "Needs attention", "Fix"];
        // No terminal, a wide one, a narrow one, and one so narrow the header outgrows the room.
        for width in [None, Some(200), Some(60), Some(20)] {
            let whole = fitted_table(headers, rows.clone(), 1, width).render();
            assert_eq!(streamed(headers, &rows, 1, width), whole, "width {width:?}");
        }
        let short = vec![vec!["a".into(), "b".into(), "c".into()]];
        assert_eq!(
            streamed(headers, &short, 1, Some(20)),
            fitted_table(headers, short, 1, Some(20)).render()
        );
    }

    #[test]
    fn without_a_terminal_cells_stay_whole() {
        let long = "x".repeat(200);
        let rows = vec![vec!["id".into(), long.clone()]];
        let table = fitted_table(&["ID", "Message"], rows, 1, None);
        assert!(table.render().contains(&long));
    }
}

//! The linter's text report: the release it judged against, one `file:line:col: severity[rule]`
//! line per finding with its fix under it, the diffs of applied fixes, and a summary line.

use super::{LintReport, Severity};
use std::io::{self, Write};

pub(crate) fn render(report: &LintReport, w: &mut impl Write, color: bool) -> io::Result<()> {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    writeln!(w, "{}", report.target.describe())?;
    for fix in &report.fixes {
        for line in fix.diff.lines() {
            let code = match line.chars().next() {
                Some('+') if !line.starts_with("+++") => "32",
                Some('-') if !line.starts_with("---") => "31",
                Some('@') => "36",
                _ => "0",
            };
            writeln!(w, "{}", paint(code, line))?;
        }
        writeln!(w, "fixed {} (backup: {})", fix.path, fix.backup_path)?;
        writeln!(w)?;
    }
    for file in &report.files {
        for finding in &file.findings {
            let severity = match finding.severity {
                Severity::Error => paint("1;31", "error"),
                Severity::Warning => paint("1;33", "warning"),
                Severity::Info => paint("1;36", "info"),
            };
            let incident = finding
                .incident
                .map_or(String::new(), |i| format!(" ({})", i.id()));
            writeln!(
                w,
                "{}:{}:{}: {severity}[{}]{incident}: {}",
                file.path, finding.line, finding.column, finding.rule, finding.message
            )?;
            if let Some(fix) = &finding.fix {
                let how = if finding.fixable {
                    "fix (--fix)"
                } else {
                    "fix"
                };
                writeln!(w, "    {}: {fix}", paint("36", how))?;
            }
        }
    }
    let s = &report.summary;
    let files = report.files.len();
    let files_word = if files == 1 { "file" } else { "files" };
    if s.errors + s.warnings + s.infos == 0 {
        return writeln!(
            w,
            "{} in {files} {files_word}.",
            paint("32", "No problems found")
        );
    }
    let mut parts = vec![plural(s.errors, "error"), plural(s.warnings, "warning")];
    if s.infos > 0 {
        parts.push(plural(s.infos, "note"));
    }
    let fixable = if s.fixable > 0 {
        format!("; {} fixable with --fix", s.fixable)
    } else {
        String::new()
    };
    writeln!(w, "{} in {files} {files_word}{fixable}.", parts.join(", "))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

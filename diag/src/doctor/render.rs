//! The doctor's text report: one block per finding (evidence, cause, fix, live status) and a
//! closing summary line.

use super::{Confidence, Finding, LiveCheck, Report};
use std::io::{self, Write};

const WIDTH: usize = 100;
/// Evidence text is shortened to this many characters on screen; JSON keeps the whole line.
const SHOWN_TEXT: usize = 160;

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

pub(crate) fn render(report: &Report, w: &mut impl Write, color: bool) -> io::Result<()> {
    let style = Style { color };
    for (i, finding) in report.findings.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        finding_block(finding, w, &style)?;
    }
    let lines: u64 = report.sources.iter().map(|s| s.lines).sum();
    let sources = report.sources.len();
    let sources_word = if sources == 1 { "source" } else { "sources" };
    let low = report
        .findings
        .iter()
        .filter(|f| f.confidence == Confidence::Low)
        .count();
    let n = report.findings.len();
    if n == 0 {
        return writeln!(
            w,
            "{} in {lines} lines from {sources} {sources_word}.",
            style.paint("32", "No known incident found")
        );
    }
    writeln!(w)?;
    if low == n {
        writeln!(
            w,
            "{}; {low} low-confidence {} in {lines} lines from {sources} {sources_word}.",
            style.paint("32", "No known incident found"),
            if low == 1 { "note" } else { "notes" }
        )
    } else {
        let of_low = match low {
            0 => String::new(),
            low => format!(" ({low} of low confidence)"),
        };
        writeln!(
            w,
            "{} {}{of_low} in {lines} lines from {sources} {sources_word}.",
            n,
            if n == 1 { "finding" } else { "findings" }
        )
    }
}

fn finding_block(finding: &Finding, w: &mut impl Write, style: &Style) -> io::Result<()> {
    let bot = finding
        .bot
        .as_deref()
        .map_or(String::new(), |b| format!(" (bot {b})"));
    let (id_color, confidence) = match finding.confidence {
        Confidence::High => ("1;31", ""),
        Confidence::Low => ("1;33", " (low confidence)"),
    };
    writeln!(
        w,
        "{} {}{bot}{confidence}",
        style.paint(id_color, finding.incident.id()),
        style.paint("1", &finding.title)
    )?;
    if let Some(note) = &finding.note {
        labelled(w, style, "note", note)?;
    }
    if let Some(variant) = &finding.variant {
        labelled(w, style, "seen", variant)?;
    }
    writeln!(w, "  {}", style.paint("36", "evidence:"))?;
    for evidence in &finding.evidence {
        let mut text = shorten(evidence.message.as_deref().unwrap_or(&evidence.text));
        if !evidence.also_at.is_empty() {
            let lines: Vec<String> = evidence.also_at.iter().map(u64::to_string).collect();
            let more = evidence
                .repeats
                .saturating_sub(evidence.also_at.len() as u64);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            text.push_str(&format!("  (again at {}{more})", lines.join(", ")));
        }
        writeln!(
            w,
            "    {}  {text}",
            style.paint("2", &format!("{}:{}", evidence.source, evidence.line))
        )?;
    }
    let listed: u64 = finding.evidence.iter().map(|e| 1 + e.repeats).sum();
    if finding.occurrences > listed {
        writeln!(
            w,
            "    … {} more matching lines",
            finding.occurrences - listed
        )?;
    }
    labelled(w, style, "cause", &finding.cause)?;
    if let Some(command) = &finding.fix.mwictl {
        writeln!(
            w,
            "  {} {}",
            style.paint("36", "fix:  "),
            style.paint("32", command)
        )?;
    }
    for (i, command) in finding.fix.tctl.iter().enumerate() {
        let label = if i == 0 { "tctl: " } else { "      " };
        writeln!(w, "  {} {command}", style.paint("36", label))?;
    }
    if let Some(then) = &finding.fix.then {
        labelled(w, style, "then", then)?;
    }
    match (&finding.live, &finding.live_check) {
        (Some(answer), _) => {
            let state = match answer.current {
                Some(true) => style.paint("1;31", "still current"),
                Some(false) => style.paint("32", "resolved"),
                None => style.paint("33", "unknown"),
            };
            labelled(w, style, "live", &format!("{state}: {}", answer.detail))?;
        }
        (None, Some(check)) => labelled(
            w,
            style,
            "live",
            &format!("--live checks {}", describe(check)),
        )?,
        (None, None) => {}
    }
    Ok(())
}

/// `label: text`, wrapped at the report width with the text aligned.
fn labelled(w: &mut impl Write, style: &Style, label: &str, text: &str) -> io::Result<()> {
    let head = format!("{label}:");
    let lines = wrap(text, WIDTH - 9);
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            writeln!(w, "  {} {line}", style.paint("36", &format!("{head:<6}")))?;
        } else {
            writeln!(w, "         {line}")?;
        }
    }
    Ok(())
}

fn describe(check: &LiveCheck) -> String {
    let bot = |b: &Option<String>| b.clone().unwrap_or_else(|| "BOT_NAME".to_string());
    match check {
        LiveCheck::LockForBot { bot: b } => {
            format!("whether a lock blocking bot {} is in force", bot(b))
        }
        LiveCheck::InstanceExpired { bot: b } => {
            format!("whether bot {} has no unexpired instance", bot(b))
        }
        LiveCheck::LoginMissing { bot: b, login } => format!(
            "whether bot {}'s roles still lack login {}",
            bot(b),
            login.as_deref().unwrap_or("LOGIN")
        ),
        LiveCheck::RoleLacksDbAccess { bot: b, db } => {
            format!(
                "whether database {db} exists or was renamed, and whether bot {}'s roles still \
                 lack access to it",
                bot(b)
            )
        }
        LiveCheck::RoleLacksRule {
            bot: b,
            verb,
            resource,
        } => format!(
            "whether bot {}'s roles still lack {verb} on {resource}",
            bot(b)
        ),
        LiveCheck::BotHasNoRoles { bot: b } => format!("whether bot {} has roles", bot(b)),
        LiveCheck::BoundKeypair {
            incident,
            bot: b,
            tokens,
        } => {
            let whose = match tokens.as_slice() {
                [one] => format!("token {one}"),
                [_, ..] => format!("tokens {}", tokens.join(", ")),
                [] if b.is_none() && *incident == crate::incident::Incident::BkRollback => {
                    "every bound_keypair token".to_string()
                }
                [] => format!("bot {}'s bound_keypair tokens", bot(b)),
            };
            format!(
                "{whose}: recovery mode, count and limit, bound key and bot instance, and the \
                 locks in force on the bot"
            )
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= SHOWN_TEXT {
        return text.to_string();
    }
    let cut: String = text.chars().take(SHOWN_TEXT - 1).collect();
    format!("{cut}…")
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

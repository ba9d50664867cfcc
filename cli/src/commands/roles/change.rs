//! The shared end of `roles add-login`, `remove-login` and `add-db-access`: show the diff, ask,
//! write conditionally on the revision, and report, the same way for each.

use std::io::IsTerminal;

use serde_json::json;

use crate::client::Client;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::roles::{self, RoleChange};
use crate::output::{Format, Output};

/// Flags every role fix takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangeArgs {
    /// Show the diff only; write nothing (exit 0).
    #[arg(long)]
    pub dry_run: bool,
}

/// What a role fix reports: `{role, changed, applied, dry_run, diff, warnings, message}`.
struct ChangeOutput {
    role: String,
    changed: bool,
    applied: bool,
    dry_run: bool,
    diff: String,
    warnings: Vec<String>,
    message: String,
}

impl Output for ChangeOutput {
    /// The diff is written before the question, so only the closing line is left.
    fn text(&self) -> String {
        if self.message.is_empty() {
            String::new()
        } else {
            format!("{}\n", self.message)
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "role": self.role,
            "changed": self.changed,
            "applied": self.applied,
            "dry_run": self.dry_run,
            "diff": self.diff,
            "warnings": self.warnings,
            "message": self.message,
        })
    }
}

/// Shows `change`, asks, applies it and reports. `unchanged` is the line printed when there is
/// nothing to do (`role "x" already grants login "root"`).
pub async fn finish(
    ctx: &Context,
    client: &Client,
    change: RoleChange,
    args: &ChangeArgs,
    unchanged: String,
) -> Result<ExitStatus, CommandError> {
    let printer = ctx.printer();
    for warning in &change.warnings {
        printer.warn(warning);
    }
    let mut out = ChangeOutput {
        role: change.role.clone(),
        changed: change.changed,
        applied: false,
        dry_run: args.dry_run,
        diff: change.diff.clone(),
        warnings: change.warnings.clone(),
        message: String::new(),
    };
    if !change.changed {
        out.message = unchanged;
        printer.print(&out)?;
        return Ok(ExitStatus::Success);
    }
    if printer.format() == Format::Text {
        printer.write(&colored(&change.diff, std::io::stdout().is_terminal()))?;
    }
    if args.dry_run {
        printer.status(format!("dry run: role {:?} was not changed", change.role));
        printer.print(&out)?;
        return Ok(ExitStatus::Success);
    }
    if !confirm(ctx, &change.role)? {
        printer.status(format!("canceled: role {:?} was not changed", change.role));
        printer.print(&out)?;
        return Ok(ExitStatus::Failure);
    }
    match roles::apply(client, &change).await? {
        roles::Applied::Written(written) => {
            out.applied = true;
            out.diff = written.diff;
            out.message = format!("role {:?} has been updated", change.role);
        }
        roles::Applied::AlreadyThere => {
            out.message = format!(
                "role {:?} was not changed: it already has the change (made meanwhile by someone else)",
                change.role
            );
            printer.print(&out)?;
            return Ok(ExitStatus::Success);
        }
    }
    printer.print(&out)?;
    printer.status(
        "bots using this role get the change on their next renewal (every 20 minutes by \
         default), or at once when tbot restarts or gets SIGUSR1",
    );
    Ok(ExitStatus::Success)
}

/// Asks once; without a terminal and without `--yes` refuses at once, naming the flags.
fn confirm(ctx: &Context, role: &str) -> Result<bool, CommandError> {
    ctx.confirm(&format!("Update role {role:?}?"), || {
        CommandError::usage(format!(
            "refusing to update role {role:?} without confirmation: stdin is not a terminal"
        ))
        .hint("pass --yes to update it, or --dry-run to only see the diff")
    })
}

/// The diff, with removed lines red, added lines green and hunk headers cyan when `color`.
fn colored(diff: &str, color: bool) -> String {
    if !color || !console::colors_enabled() {
        return diff.to_string();
    }
    diff.split_inclusive('\n')
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                console::Style::new().bold()
            } else if line.starts_with('+') {
                console::Style::new().green()
            } else if line.starts_with('-') {
                console::Style::new().red()
            } else if line.starts_with("@@") {
                console::Style::new().cyan()
            } else {
                return line.to_string();
            };
            let (text, newline) = match line.strip_suffix('\n') {
                Some(text) => (text, "\n"),
                None => (line, ""),
            };
            format!("{}{newline}", style.force_styling(true).apply_to(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncolored_diff_is_unchanged() {
        let diff = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n";
        assert_eq!(colored(diff, false), diff);
    }

    #[test]
    fn output_json_says_what_happened() {
        let out = ChangeOutput {
            role: "r".into(),
            changed: true,
            applied: true,
            dry_run: false,
            diff: "d".into(),
            warnings: vec![],
            message: "role \"r\" has been updated".into(),
        };
        assert_eq!(out.json()["applied"], true);
        assert_eq!(out.text(), "role \"r\" has been updated\n");
    }
}

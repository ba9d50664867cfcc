//! `mwictl create [-f] FILE|-`: creates (or with -f overwrites) the locks, roles, join tokens and
//! bots of a YAML or JSON file in tctl's shape, keeping the unknown fields of what it overwrites.

use std::io::{IsTerminal, Read};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::apply::{Action, Applied, ApplyOptions, apply, read_only};
use crate::output::Output;
use crate::resource::{Kind, MAX_INPUT_BYTES, check_name, parse_documents, shown};

/// Create resources from a file in tctl's format (YAML documents or JSON), or from stdin.
///
/// Kinds: lock, role, token and bot (bot instances are read-only). A resource that already
/// exists is refused (exit 5) unless -f is given; then it is overwritten, keeping any field of
/// the stored copy that this version of mwictl does not know. Files from `mwictl get --format
/// yaml` (or json) or `tctl get` work as they are; the table `mwictl get` prints by default does
/// not. A join token's `status` is written by the auth server as bots join, so the server's is
/// kept (a warning says when the file's differs); `--restore-status` writes the file's instead.
/// Names are at most 253 bytes, without `/`, control characters or spaces at either end;
/// one resource is at most 4 MiB (what the auth service accepts in one request). Prints `KIND "NAME" has been created|updated` per resource;
/// JSON/YAML: `[{kind, name, action: created|updated}]`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Overwrite resources that already exist.
    #[arg(short, long)]
    pub force: bool,

    /// Write the `status` of join tokens from the file (restoring a backup: the bound key, bot
    /// instance and recovery count) instead of keeping the server's. With -f an existing token
    /// is deleted and created again, the one way Teleport writes a given status.
    #[arg(long)]
    pub restore_status: bool,

    /// The file to read; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
}

/// Every resource written, in file order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CreateOutput {
    pub resources: Vec<Applied>,
}

impl Output for CreateOutput {
    fn text(&self) -> String {
        self.resources
            .iter()
            .map(|a| {
                let action = match a.action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                };
                format!("{} {} has been {action}\n", a.kind, shown(&a.name))
            })
            .collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.resources).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: CreateArgs) -> Result<ExitStatus, CommandError> {
    let (source, text) = read_input(args.file.as_deref())?;
    let resources = parse_documents(&text).map_err(|e| {
        let err = CommandError::usage(format!("{source}: {e}"));
        if looks_like_table(&text) {
            err.hint("this is the table `mwictl get` prints; write the file with `mwictl get --format yaml KIND/NAME > FILE`")
        } else {
            err
        }
    })?;
    // Refused before anything is written, so a file is never half applied for this reason.
    if let Some(instance) = resources.iter().find(|r| r.kind() == Kind::BotInstance) {
        return Err(read_only(&instance.name()));
    }
    if let Some(nameless) = resources.iter().find(|r| r.name().is_empty()) {
        return Err(CommandError::usage(format!(
            "{source}: a {} has no metadata.name",
            nameless.kind()
        )));
    }
    // The name rule is checked before connecting, so no bad name reaches a server.
    for resource in resources.iter().filter(|r| r.kind() != Kind::BotInstance) {
        let name = resource.name();
        check_name(&name).map_err(|e| {
            CommandError::usage(format!(
                "{source}: {} {}: {e}",
                resource.kind(),
                shown(&name)
            ))
            .hint("choose a name of letters, digits, `-`, `_` and `.`")
        })?;
    }
    let client = ctx.client().await?;
    let total = resources.len();
    let mut out = CreateOutput {
        resources: Vec::with_capacity(total),
    };
    let options = ApplyOptions {
        force: args.force,
        restore_status: args.restore_status,
    };
    for resource in resources {
        match apply(client, resource, options).await {
            Ok(applied) => {
                for warning in &applied.warnings {
                    ctx.printer().warn(warning);
                }
                out.resources.push(applied);
            }
            Err(e) if out.resources.is_empty() => return Err(e),
            Err(e) => {
                // Say what was already written before failing.
                ctx.printer().print(&out)?;
                return Err(e.hint(format!(
                    "{} of {total} resources from {source} were written before this one",
                    out.resources.len()
                )));
            }
        }
    }
    ctx.printer().print(&out)?;
    Ok(ExitStatus::Success)
}

/// Whether `text` is the table `mwictl get` prints: a header line, then a line of dashes under
/// each column (unlike YAML's `---`, the first line is not a separator).
fn looks_like_table(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let (Some(header), Some(rule)) = (lines.next(), lines.next()) else {
        return false;
    };
    let rule = rule.trim_end();
    header.trim() != "---"
        && rule.len() > 3
        && rule.starts_with('-')
        && rule.bytes().all(|b| b == b'-' || b == b' ')
}

/// The text to read and how to name it in errors.
fn read_input(file: Option<&str>) -> Result<(String, String), CommandError> {
    match file {
        None | Some("-") => {
            if file.is_none() && std::io::stdin().is_terminal() {
                return Err(CommandError::usage("no FILE given and stdin is a terminal")
                    .hint("pass a file, e.g. `mwictl create role.yaml`, or pipe one in with `-`"));
            }
            let text = read_capped(std::io::stdin())
                .map_err(|e| CommandError::usage(format!("cannot read stdin: {e}")))?;
            Ok(("stdin".to_owned(), text))
        }
        Some(path) => {
            let text = std::fs::File::open(path)
                .and_then(read_capped)
                .map_err(|e| CommandError::usage(format!("cannot read {path}: {e}")))?;
            Ok((path.to_owned(), text))
        }
    }
}

/// All of `input`, but never more than one byte past [`MAX_INPUT_BYTES`]: enough for
/// `parse_documents` to refuse it as too large without holding a huge file in memory.
fn read_capped(input: impl Read) -> std::io::Result<String> {
    let mut text = String::new();
    input
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_get_prints_is_recognised() {
        let table = "Role  Allowed to login as\n----- -------------------\nops   alice\n";
        assert!(looks_like_table(table));
        assert!(looks_like_table("Name\n----\nx\n"));
        assert!(!looks_like_table("---\nkind: role\n"));
        assert!(!looks_like_table("kind: role\n---\nkind: lock\n"));
        assert!(!looks_like_table("kind: role\nmetadata:\n  name: ops\n"));
    }
}

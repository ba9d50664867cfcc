//! `mwictl lint PATH... [--fix]`: checks tbot.yaml files offline and applies the safe fixes in
//! place, changing only the bytes that need to change.

use std::io::IsTerminal;
use std::path::PathBuf;

use mwi_diag::lint::{self, LintOptions};

use super::doctor::{Report, status};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Check tbot.yaml files: schema (unknown keys with "did you mean", wrong types, v1 and
/// deprecated `outputs:`), and the rules behind the troubleshooting guide's incidents
/// (kubernetes_secret without disable_exec_plugin, auth_server with ssh_config on, split-DNS
/// proxies, shared or network-mounted storage, TTLs, token paths, duplicate destinations).
///
/// Exit 1 when there is any warning or error, 0 when clean, 2 when a file cannot be read (or is
/// a directory, or larger than 1 MiB).
/// Configs given together are checked together (a storage path shared between them is S1's
/// root cause).
#[derive(Debug, clap::Args)]
#[command(after_long_help = lint::rules::help_text())]
pub struct LintArgs {
    /// tbot.yaml files (`-` reads standard input); none means /etc/tbot.yaml.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Apply the safe fixes in place (only the needed bytes change; comments and formatting are
    /// kept), atomically, with a PATH.bak backup; prints the diff.
    #[arg(long)]
    pub fix: bool,
}

pub async fn run(ctx: &Context, args: LintArgs) -> Result<ExitStatus, CommandError> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") && std::io::stdin().is_terminal() {
        eprintln!("reading from stdin (Ctrl-D to end)");
    }
    let report = lint::lint_and_fix(&args.paths, args.fix, &LintOptions::default())
        .map_err(|e| CommandError::usage(e.to_string()))?;
    ctx.printer().print(&Report {
        report: &report,
        render: |r, w, color| r.render_text(w, color),
    })?;
    Ok(status(report.exit_code()))
}

//! `mwictl lint PATH... [--fix]`: checks tbot.yaml files offline and applies the safe fixes in
//! place, changing only the bytes that need to change.

mod probe;

use std::io::IsTerminal;
use std::path::PathBuf;

use mwi_diag::lint::tbot_env::{self, TbotEnv};
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
/// tbot's environment (`TBOT_USE_PROXY_ADDR`) matters for split DNS (S6): give it with --env or
/// --unit. mwictl's own environment is never read for this (tbot runs elsewhere, as a service);
/// without them, lint says what it could not check. Whether DNS is split cannot be seen offline.
///
/// Checks that read the machine lint runs on (token files, the storage's file system, asking
/// `auth_server` whether it is a proxy) run only with --on-host, on the bot's host; elsewhere
/// each is a note that it was not checked. Everything decidable from the text is checked anyway.
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

    /// A variable of tbot's environment, e.g. TBOT_USE_PROXY_ADDR=yes; repeatable. Set after
    /// --unit's, so it overrides them.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,

    /// Lint runs on the bot's host: check paths and file systems here, and ask `auth_server`
    /// whether a Teleport proxy answers (`https://ADDRESS/webapi/find`, 3 s timeouts, the
    /// certificate not verified). Without it those checks are notes, not checked here.
    #[arg(long)]
    pub on_host: bool,

    /// The systemd unit tbot runs from: its `Environment=` lines and the `EnvironmentFile=`
    /// files it names (`-` before a path: may be missing) are tbot's environment.
    #[arg(long, value_name = "FILE")]
    pub unit: Option<PathBuf>,
}

fn parse_env_pair(given: &str) -> Result<(String, String), String> {
    tbot_env::parse_pair(given).map_err(|e| e.to_string())
}

/// tbot's environment from --unit then --env; None when neither was given.
fn tbot_environment(args: &LintArgs) -> Result<Option<TbotEnv>, CommandError> {
    if args.unit.is_none() && args.env.is_empty() {
        return Ok(None);
    }
    let mut env = match &args.unit {
        Some(unit) => tbot_env::read_unit(unit).map_err(|e| CommandError::usage(e.to_string()))?,
        None => TbotEnv::new(),
    };
    env.extend(args.env.iter().cloned());
    Ok(Some(env))
}

pub async fn run(ctx: &Context, args: LintArgs) -> Result<ExitStatus, CommandError> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") && std::io::stdin().is_terminal() {
        eprintln!("reading from stdin (Ctrl-D to end)");
    }
    let options = LintOptions {
        tbot_env: tbot_environment(&args)?,
        on_host: args.on_host,
        proxy_probe: Some(probe::webapi_find),
        ..LintOptions::default()
    };
    let report = lint::lint_and_fix(&args.paths, args.fix, &options)
        .map_err(|e| CommandError::usage(e.to_string()))?;
    ctx.printer().print(&Report {
        report: &report,
        render: |r, w, color| r.render_text(w, color),
    })?;
    Ok(status(report.exit_code()))
}

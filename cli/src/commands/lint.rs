//! `mwictl lint PATH... [--fix]`: checks tbot.yaml files offline and applies the safe fixes in
//! place, changing only the bytes that need to change.

mod probe;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mwi_diag::lint::target::{self, Release, Target, TargetSource};
use mwi_diag::lint::tbot_env::{self, TbotEnv};
use mwi_diag::lint::{self, BoundToken, LintOptions, LiveTokens};
use mwi_identity::Version;

use super::doctor::{Report, status};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bound_keypair;

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
/// Configs are judged against a Teleport release: a deprecated form is a note unless that release
/// removed it, and `--fix` never rewrites into a form it rejects. The release is, in this order:
/// --teleport-version, the cluster's (--live), the tbot binary's (--tbot, else a `tbot` on PATH),
/// else the oldest supported release. The report's first line names it and why.
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

    /// The Teleport release tbot runs (e.g. 17.4.2); judges the configs against it. `17` or
    /// `17.4` stand for the newest release of that line.
    #[arg(long, value_name = "X.Y[.Z]", value_parser = parse_release)]
    pub teleport_version: Option<(Release, String)>,

    /// A tbot binary: its `tbot version` is the release to judge against (without this, a
    /// `tbot` on PATH is used when there is one).
    #[arg(long, value_name = "PATH")]
    pub tbot: Option<PathBuf>,

    /// Ask the cluster (connects like every command: --auth-server/--identity or the profile):
    /// judge against its release (a Ping), and judge a bound-keypair static key against its
    /// token (recovery mode insecure, no `rotate_after`).
    #[arg(long)]
    pub live: bool,
}

fn parse_release(given: &str) -> Result<(Release, String), String> {
    target::parse_release(given)
        .map(|v| (v, given.to_string()))
        .ok_or_else(|| {
            "not a Teleport release; write it as X.Y[.Z], e.g. 17.4 or 17.4.2".to_string()
        })
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
    let target = lint_target(ctx, &args).await?;
    let live = match args.live {
        true => Some(live_tokens(ctx).await?),
        false => None,
    };
    let options = LintOptions {
        tbot_env: tbot_environment(&args)?,
        on_host: args.on_host,
        proxy_probe: Some(probe::webapi_find),
        target,
        live,
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

/// The release to judge against: --teleport-version, else the cluster's (--live), else the given
/// tbot's, else the tbot on PATH, else the default; a source that gives no release is named in
/// the target's note.
async fn lint_target(ctx: &Context, args: &LintArgs) -> Result<Target, CommandError> {
    if let Some((release, given)) = &args.teleport_version {
        return Ok(Target::new(*release, TargetSource::Flag, given.clone()));
    }
    let mut notes = Vec::new();
    if args.live {
        let client = ctx.client().await?;
        let server = client.server().await?;
        match target::cluster_release(&server.server_version) {
            Some(version) => {
                return Ok(Target::new(
                    Release::exact(version),
                    TargetSource::Cluster,
                    server.cluster_name.clone(),
                ));
            }
            None => notes.push(format!(
                "cluster {} reported version `{}`, which is not a release",
                server.cluster_name, server.server_version
            )),
        }
    }
    if let Some(path) = &args.tbot {
        let version = tbot_version(path).await.map_err(|why| {
            CommandError::usage(format!(
                "--tbot {}: {why}; give the path of a tbot binary, or the release with --teleport-version",
                path.display()
            ))
        })?;
        return Ok(with_notes(
            Target::new(
                Release::exact(version),
                TargetSource::Tbot,
                path.display().to_string(),
            ),
            notes,
        ));
    }
    if let Some(path) = tbot_on_path() {
        match tbot_version(&path).await {
            Ok(version) => {
                return Ok(with_notes(
                    Target::new(
                        Release::exact(version),
                        TargetSource::TbotOnPath,
                        path.display().to_string(),
                    ),
                    notes,
                ));
            }
            Err(why) => notes.push(format!("the tbot on PATH ({}): {why}", path.display())),
        }
    }
    Ok(with_notes(Target::default(), notes))
}

/// `--live`: the cluster's bound_keypair tokens, for the rules that judge a static key against
/// its token. Tokens that cannot be read (no permission, an older server) are named by those
/// rules as not checked; the lint itself goes on.
async fn live_tokens(ctx: &Context) -> Result<LiveTokens, CommandError> {
    let client = ctx.client().await?;
    let cluster = client.server().await?.cluster_name.clone();
    let tokens = match client.get_tokens().await {
        Ok(tokens) => tokens,
        Err(error) => {
            let why = CommandError::from(error).render();
            return Ok(LiveTokens::Unread(format!(
                "the cluster's tokens could not be read ({})",
                why.lines().next().unwrap_or("")
            )));
        }
    };
    let tokens = tokens
        .iter()
        .filter_map(|token| {
            let state = bound_keypair::state(&token.value)?;
            let name = token.value.metadata.as_ref()?.name.clone();
            let bound = BoundToken {
                recovery_mode: state.recovery_mode,
                rotation_pending: state.rotate_after.filter(|_| state.rotation_pending),
            };
            Some((name, bound))
        })
        .collect();
    Ok(LiveTokens::Read { cluster, tokens })
}

fn with_notes(mut target: Target, notes: Vec<String>) -> Target {
    if !notes.is_empty() {
        target.note = Some(notes.join("; "));
    }
    target
}

/// How long `tbot version` may take before it is given up on.
const TBOT_VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The release `PATH version` prints, or why there is none (one line).
async fn tbot_version(path: &Path) -> Result<Version, String> {
    let run = tokio::process::Command::new(path)
        .arg("version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(TBOT_VERSION_TIMEOUT, run).await {
        Err(_) => return Err("`version` did not answer within 10 s".to_string()),
        Ok(Err(e)) => return Err(format!("cannot run it: {e}")),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match target::parse_tbot_version(&stdout).or_else(|| target::parse_tbot_version(&stderr)) {
        Some(version) => Ok(version),
        None if !output.status.success() => Err(format!("`version` failed ({})", output.status)),
        None => {
            let first = stdout.lines().next().unwrap_or("").trim();
            Err(format!(
                "`version` printed no release (expected `Teleport vX.Y.Z ...`, got `{}`)",
                first.chars().take(80).collect::<String>()
            ))
        }
    }
}

/// An executable file named `tbot` in a directory of PATH.
fn tbot_on_path() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = crate::environment::PATH.get_os()?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("tbot"))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

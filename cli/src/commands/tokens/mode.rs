//! `mwictl tokens mode NAME MODE`: sets a bound-keypair token's recovery mode; the direct way to
//! restore a mode a recover run left in `insecure`.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::recovery_mode;
use crate::output::Output;

/// Set a bound_keypair token's recovery mode (spec.bound_keypair.recovery.mode): standard
/// enforces recovery.limit and the join state, relaxed ignores the limit, insecure also skips the
/// join-state check (anyone holding the bot's key can recover it).
///
/// The write is refused when the token changed since it was read (exit 5). Setting a mode other
/// than insecure on a token an unfinished `mwictl recover` run switched to insecure marks that
/// run's record restored. Exit 3 when the token does not exist, 2 when it is not a bound_keypair
/// token. JSON/YAML: `{token, previous, mode, changed, runs_marked_restored}`.
#[derive(Debug, clap::Args)]
pub struct ModeArgs {
    /// The bound_keypair token.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// standard, relaxed or insecure.
    #[arg(value_name = "MODE")]
    pub mode: String,
}

/// The mode set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModeSet {
    pub token: String,
    pub previous: String,
    pub mode: String,
    pub changed: bool,
    pub runs_marked_restored: Vec<String>,
}

impl Output for ModeSet {
    fn text(&self) -> String {
        let mut out = if self.changed {
            format!(
                "token {}: recovery mode {} (was {})\n",
                self.token, self.mode, self.previous
            )
        } else {
            format!(
                "token {}: recovery mode {} already\n",
                self.token, self.mode
            )
        };
        for run in &self.runs_marked_restored {
            out.push_str(&format!("marked restored in recover run {run}\n"));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: ModeArgs) -> Result<ExitStatus, CommandError> {
    let mode = recovery_mode::check_mode(&args.mode)?;
    let client = ctx.client().await?;
    let read = recovery_mode::read(client, &args.name).await?;
    let previous = recovery_mode::mode_of(&read.value);
    let changed = previous != mode;
    if changed {
        recovery_mode::write(client, &read, |r| r.mode = mode.clone()).await?;
    }
    let runs =
        crate::recover::insecure::mark_restored(&ctx.home()?.state_dir(), &args.name, &mode)?;
    ctx.printer().print(&ModeSet {
        token: args.name,
        previous,
        mode,
        changed,
        runs_marked_restored: runs,
    })?;
    Ok(ExitStatus::Success)
}

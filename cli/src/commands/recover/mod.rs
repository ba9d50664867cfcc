//! `mwictl recover ...`: the interactive wizard (`recover [BOT]`), the unattended flows (one
//! subcommand each) and `recover --resume`. This file only dispatches.

pub mod bk_keypair_lost;
pub mod bk_token_wiped;
pub mod bound_keypair;
pub mod bulk;
pub mod common;
pub mod db_access;
pub mod expired;
pub mod generation_mismatch;
pub mod interactive;
pub mod resume;
pub mod ssh_login;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Recover a bot: diagnose it, show the plan, fix it, update tbot.yaml and verify.
///
/// Without a subcommand this is an interactive wizard: pick the bot (or name it), see its locks,
/// instances, tokens and identity expiry (and, if you point to them, what its tbot log and
/// tbot.yaml say), get the matching incident and the plan as numbered steps, confirm, watch each
/// step run, and read what changed, where the backups went and what is left to do on the bot's
/// host. It needs a terminal; every question has a flag in the subcommands, which run unattended
/// with --yes.
///
/// Every run keeps a journal in the state directory. A run that was interrupted or failed
/// continues where it stopped when the same command runs again, or with `mwictl recover
/// --resume`: it reuses an unused token instead of issuing a second one and keeps every backup.
///
/// With --format json a run prints one object: {schema: "mwictl.recover/v1", run_id, flow,
/// incident, bot, state, resumed, steps: [{index, kind, title, state, output, error}], created:
/// {token: {name, expires, written_to_config}, bot_instance}, backups, verification: {state,
/// detail, instance, to_check}, after, journal, elapsed_ms, rpc_count, verify: {elapsed_ms,
/// rpc_count}}; --plan prints {schema: "mwictl.recover.plan/v1", flow, incident, bot, steps, after}.
/// The journal holds the token name, which is the token's secret: it is private (mode 0600).
///
/// generation-mismatch, expired and bk-exhausted also run in bulk: --bots A,B or --all-locked
/// (the bots that need the flow), --parallel N at a time, each with its own journal, unattended
/// (--yes, or --plan to print every plan). Each bot's result is a line as it finishes, then a
/// summary; with --format json {schema: "mwictl.recover.bulk/v1", flow, bot, state (fixed,
/// recovered, not_recovered, failed), run_id, journal, exit_code, error, hints} per bot and
/// {schema: "mwictl.recover.bulk.summary/v1", flow, bots, succeeded, failed: [bot], elapsed_ms}.
/// One bot failing never stops the others; the run exits 1 when any failed.
///
/// A bound-keypair flow that switched a token to mode insecure restores it once the bot
/// recovered; a run that stops before (no --wait, or it ran out) keeps it in the journal,
/// reports it as `insecure_left` with `restore_commands`, and `bots ls`, `bots show` and `tokens
/// show` flag the token until it is restored.
///
/// Exit codes: 0 done (or pending a tbot restart), 1 a step failed, verification failed or timed
/// out, or the run stopped at its wait with a token left in insecure, 2 usage (e.g. no terminal and no --yes), 3 no such bot, 4 access denied, 5 conflict,
/// 6 unreachable, 7 admin MFA required.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RecoverArgs {
    #[command(subcommand)]
    pub command: Option<RecoverCommand>,

    /// The bot to recover; the wizard lists the bots to pick from when omitted.
    #[arg(value_name = "BOT")]
    pub bot: Option<String>,

    /// Continue the last interrupted or failed recovery run (of any bot and flow).
    #[arg(long, conflicts_with = "bot")]
    pub resume: bool,

    /// With --resume: continue this run (its id, as reports and journal file names give it)
    /// instead of the newest.
    #[arg(long, value_name = "RUN_ID", requires = "resume")]
    pub run: Option<String>,

    #[command(flatten)]
    pub common: common::CommonArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum RecoverCommand {
    GenerationMismatch(generation_mismatch::GenerationMismatchArgs),
    Expired(expired::ExpiredArgs),
    SshLogin(ssh_login::SshLoginArgs),
    DbAccess(db_access::DbAccessArgs),
    BkExhausted(bound_keypair::BkExhaustedArgs),
    BkJoinState(bound_keypair::BkJoinStateArgs),
    BkTokenWiped(bk_token_wiped::BkTokenWipedArgs),
    BkKeypairLost(bk_keypair_lost::BkKeypairLostArgs),
    BkRollback(bound_keypair::BkRollbackArgs),
}

pub async fn run(ctx: &Context, args: RecoverArgs) -> Result<ExitStatus, CommandError> {
    match args.command {
        Some(RecoverCommand::GenerationMismatch(a)) => generation_mismatch::run(ctx, a).await,
        Some(RecoverCommand::Expired(a)) => expired::run(ctx, a).await,
        Some(RecoverCommand::SshLogin(a)) => ssh_login::run(ctx, a).await,
        Some(RecoverCommand::DbAccess(a)) => db_access::run(ctx, a).await,
        Some(RecoverCommand::BkExhausted(a)) => bound_keypair::exhausted(ctx, a).await,
        Some(RecoverCommand::BkJoinState(a)) => bound_keypair::join_state(ctx, a).await,
        Some(RecoverCommand::BkTokenWiped(a)) => bk_token_wiped::run(ctx, a).await,
        Some(RecoverCommand::BkKeypairLost(a)) => bk_keypair_lost::run(ctx, a).await,
        Some(RecoverCommand::BkRollback(a)) => bound_keypair::rollback(ctx, a).await,
        None if args.resume => resume::run(ctx, args.run.as_deref(), args.common).await,
        None => interactive::run(ctx, args.bot, args.common).await,
    }
}

#[cfg(test)]
mod tests {
    use crate::recover::plan::Flow;

    #[test]
    fn each_flow_is_a_recover_subcommand_that_names_its_incident() {
        let cli = crate::cli::command();
        let recover = cli.find_subcommand("recover").unwrap();
        let names: Vec<&str> = recover.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(names, Flow::ALL.map(Flow::name));
        for flow in Flow::ALL {
            let about = recover
                .find_subcommand(flow.name())
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default();
            let id = flow.incident().id();
            assert!(about.contains(&format!("({id})")), "{about}");
        }
    }
}

//! `mwictl recover bk-exhausted|bk-join-state|bk-rollback` (S8, S9, S12): the bound-keypair
//! recoveries that change a token's recovery limit or mode, the mode always restored.

use crate::commands::recover::bulk::{self, BulkArgs};
use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::recovery_mode;
use crate::recover::flows::bound_keypair::{self as flows, EVERY_BOT};
use crate::recover::{diagnose, plan::Flow};

/// Recover a bound-keypair bot whose recovery limit is used up (S8).
///
/// tbot logged `no rejoins remaining` or `no recovery attempts remaining`: the token is in
/// recovery mode standard and recovery_count reached recovery.limit. This shows the token's mode,
/// count, limit and last recovery, raises recovery.limit to recovery_count + 1 (one supervised
/// recovery; --spare 2 leaves one spare), or with --relaxed sets mode relaxed (no limit; the join
/// state is still checked), runs --restart-cmd, and with --wait waits until the count rose and a
/// new bot instance joined.
///
/// The bot's bound-keypair token is found on the server; a bot with several needs --token.
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct BkExhaustedArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["all_locked", "bots"])]
    pub bot: Option<String>,

    #[command(flatten)]
    pub bulk: BulkArgs,

    /// The bound-keypair token tbot joins with, when the bot has several.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["all_locked", "bots"])]
    pub token: Option<String>,

    /// Recoveries above recovery_count the new limit allows (1: this recovery only).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100), conflicts_with = "relaxed")]
    pub spare: u32,

    /// Set recovery mode relaxed instead of raising the limit (it stays relaxed).
    #[arg(long)]
    pub relaxed: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Recover a bound-keypair bot whose join state was rejected and whose join token is locked (S9).
///
/// tbot logged `join state verification failed`, then `lock targeting JoinToken:"…" is in
/// force`: two bots share one keypair, the storage was copied or restored, or the key was stolen.
/// This shows the locks and the token's state with a stolen-key warning, removes every lock that
/// blocks the bot (its user, instances and join tokens; each backed up), switches the token to
/// recovery mode insecure (the previous mode journaled first), runs --restart-cmd, waits until
/// recovery_count rises (the bot recovered and holds a fresh join state), restores the mode,
/// keeps one recovery spare in mode standard, and checks that no lock is left.
///
/// insecure is never left behind: without --wait the run stops before restoring, exits 1 and
/// prints the commands that restore the mode (`mwictl recover --resume --run RUN_ID --wait 5m` waits
/// and then restores; `mwictl tokens mode TOKEN MODE` restores at once); `bots ls`, `bots show` and
/// `tokens show` flag the token until then.
#[derive(Debug, clap::Args)]
pub struct BkJoinStateArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// The bound-keypair token tbot joins with, when the bot has several.
    #[arg(long, value_name = "NAME")]
    pub token: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Let every bound-keypair bot rejoin after an auth backend restore (S12).
///
/// After a restore the tokens' recovery counters are older than the join states the bots hold,
/// so their recoveries fail the join-state check across the fleet. This switches every
/// bound-keypair token (or those of --bots) to recovery mode insecure (old modes journaled
/// first), removes the locks on those join tokens, waits with a progress bar until each bot
/// recovered (its recovery_count rose), then restores each mode. Without --wait the run stops
/// before restoring, exits 1 and prints the restore commands, as bk-join-state does.
#[derive(Debug, clap::Args)]
pub struct BkRollbackArgs {
    /// Only these bots (comma-separated); every bot with a bound-keypair token when omitted.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub bots: Vec<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn exhausted(ctx: &Context, args: BkExhaustedArgs) -> Result<ExitStatus, CommandError> {
    let mut input = args.common.input();
    input.token = args.token.clone();
    input.relaxed = args.relaxed;
    input.spare = if args.relaxed { 0 } else { args.spare };
    if args.bulk.is_bulk() {
        return bulk::run(ctx, &args.common, &args.bulk, Flow::BkExhausted, input).await;
    }
    let bot = bulk::single_bot(args.bot)?;
    common::run_flow(
        ctx,
        &args.common,
        Flow::BkExhausted,
        &bot,
        input.clone(),
        async |client| bulk::plan(client, Flow::BkExhausted, &bot, &input).await,
    )
    .await
}

pub async fn join_state(ctx: &Context, args: BkJoinStateArgs) -> Result<ExitStatus, CommandError> {
    let mut input = args.common.input();
    input.token = args.token.clone();
    let bot = args.bot.clone();
    common::run_flow(
        ctx,
        &args.common,
        Flow::BkJoinState,
        &args.bot,
        input.clone(),
        async |client| {
            let token =
                recovery_mode::existing_bot_token(client, &bot, input.token.as_deref()).await?;
            let state = diagnose::gather(client, &bot).await?;
            Ok(flows::join_state(&state, &token.value, &input))
        },
    )
    .await
}

pub async fn rollback(ctx: &Context, args: BkRollbackArgs) -> Result<ExitStatus, CommandError> {
    let mut input = args.common.input();
    input.bots = args.bots.clone();
    let subject = if args.bots.is_empty() {
        EVERY_BOT.to_string()
    } else {
        args.bots.join(",")
    };
    common::run_flow(
        ctx,
        &args.common,
        Flow::BkRollback,
        &subject,
        input.clone(),
        async |client| {
            let tokens = recovery_mode::fleet_tokens(client, &input.bots).await?;
            Ok(flows::rollback(&tokens, &subject, &input))
        },
    )
    .await
}

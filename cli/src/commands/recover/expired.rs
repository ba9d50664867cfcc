//! `mwictl recover expired --bot NAME` (S2): issues a new bot instance token, updates tbot.yaml,
//! verifies.

use crate::commands::recover::bulk::{self, BulkArgs};
use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::plan::Flow;

/// Recover a bot whose identity expired (S2).
///
/// tbot logged `Identity has expired` and then `tls: bad certificate`: a token-joined bot's
/// certificate expired (tbot was stopped longer than its TTL) and its one-time token is spent, so
/// it cannot come back by itself. This shows its instances with their identity expiry, issues a
/// one-time join token for a new bot instance, writes it into tbot.yaml (--tbot-config), runs
/// --restart-cmd and verifies (--wait) that a new instance joins.
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct ExpiredArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["all_locked", "bots"])]
    pub bot: Option<String>,

    #[command(flatten)]
    pub bulk: BulkArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: ExpiredArgs) -> Result<ExitStatus, CommandError> {
    let input = args.common.input();
    if args.bulk.is_bulk() {
        return bulk::run(ctx, &args.common, &args.bulk, Flow::Expired, input).await;
    }
    let bot = bulk::single_bot(args.bot)?;
    common::run_flow(
        ctx,
        &args.common,
        Flow::Expired,
        &bot,
        input.clone(),
        async |client| bulk::plan(client, Flow::Expired, &bot, &input).await,
    )
    .await
}

//! `mwictl recover expired --bot NAME` (S2): issues a new bot instance token, updates tbot.yaml,
//! verifies.

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::{diagnose, flows, plan::Flow};

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
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: ExpiredArgs) -> Result<ExitStatus, CommandError> {
    let input = args.common.input();
    let bot = args.bot.clone();
    common::run_flow(
        ctx,
        &args.common,
        Flow::Expired,
        &args.bot,
        input.clone(),
        async |client| {
            let state = diagnose::gather(client, &bot).await?;
            Ok(flows::expired::plan(&state, &input))
        },
    )
    .await
}

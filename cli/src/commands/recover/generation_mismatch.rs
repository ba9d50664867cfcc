//! `mwictl recover generation-mismatch --bot NAME` (S1): shows the locks and instances involved,
//! removes the locks (backed up), issues a new bot instance token, updates tbot.yaml, verifies.

use crate::commands::recover::bulk::{self, BulkArgs};
use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::plan::Flow;

/// Recover a bot locked after a certificate generation mismatch (S1).
///
/// tbot logged `renewable cert generation mismatch` and then `access denied`: two tbot processes
/// shared one data directory, the directory was copied or shared (NFS), or tbot crashed after a
/// renewal before saving it. The server locked the bot. This shows the evidence first (each lock
/// with its message and creation time, the instances involved with their hostnames) and warns
/// that a mismatch can mean a stolen certificate; then removes every lock that blocks the bot
/// (each backed up as YAML), issues a one-time join token for a new bot instance, writes it into
/// tbot.yaml (--tbot-config), runs --restart-cmd, and verifies (--wait) that a new instance joins.
///
/// tbot reads the token only when it starts: restart it; a signal does not reload it.
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct GenerationMismatchArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["all_locked", "bots"])]
    pub bot: Option<String>,

    #[command(flatten)]
    pub bulk: BulkArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: GenerationMismatchArgs) -> Result<ExitStatus, CommandError> {
    let input = args.common.input();
    if args.bulk.is_bulk() {
        return bulk::run(
            ctx,
            &args.common,
            &args.bulk,
            Flow::GenerationMismatch,
            input,
        )
        .await;
    }
    let bot = bulk::single_bot(args.bot)?;
    common::run_flow(
        ctx,
        &args.common,
        Flow::GenerationMismatch,
        &bot,
        input.clone(),
        async |client| bulk::plan(client, Flow::GenerationMismatch, &bot, &input).await,
    )
    .await
}

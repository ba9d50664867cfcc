//! `mwictl recover bk-token-wiped --bot NAME` (S10): recreates the bot's bound-keypair token with
//! its public key and restored status, insecure for one join, then restores the mode.

use std::path::PathBuf;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::{flows, plan::Flow};

/// Recover a bound-keypair bot whose token was deleted or lost its status (S10).
///
/// The token was deleted, or re-applied from a spec-only file (`create -f` without status,
/// Teleport issue #68211): it no longer knows the key tbot holds. tbot logs `cannot perform
/// first bound keypair join with existing credentials` while its certificates are valid, later
/// `a valid registration secret is required`. This reads the bot's public key from tbot's
/// storage (--storage DIR, its id_bkp.pub) or --public-key, backs up the token as it is (if
/// any), and recreates it under the same name for the same bot with the key as
/// initial_public_key, its status restored (the key bound, the bot instance and recovery count
/// from the bot's join state in --storage or its newest instance) and recovery mode insecure for
/// one join, the previous mode journaled before the write. Then it runs --restart-cmd, waits
/// (--wait) until the bot authenticated with the token, and restores the mode. Without --wait,
/// or if the wait runs out, the run stops unfinished with a non-zero exit and prints the command
/// that restores the mode; `mwictl recover --resume` waits again and restores it.
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct BkTokenWipedArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// The token to recreate (default: the bot's only bound-keypair token, or the one
    /// tbot.yaml's onboarding.token names); needed when it was deleted and no --tbot-config is
    /// given.
    #[arg(long, value_name = "NAME")]
    pub token: Option<String>,

    /// tbot's storage directory (storage.path in tbot.yaml): the bot's public key is its
    /// id_bkp.pub, its join state names the bot instance and recovery count to restore.
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,

    /// The bot's public key in authorized_keys form (the content of id_bkp.pub), or @FILE.
    #[arg(long, value_name = "KEY|@FILE", conflicts_with = "storage")]
    pub public_key: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: BkTokenWipedArgs) -> Result<ExitStatus, CommandError> {
    let input = common::bound_keypair_input(
        &args.common,
        args.token.as_deref(),
        args.storage.as_deref(),
        args.public_key.as_deref(),
    )?;
    let bot = args.bot.clone();
    common::run_flow(
        ctx,
        &args.common,
        Flow::BkTokenWiped,
        &args.bot,
        input.clone(),
        async |client| flows::bk_token_wiped::plan(client, &bot, &input).await,
    )
    .await
}

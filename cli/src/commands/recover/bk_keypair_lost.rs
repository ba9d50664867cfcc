//! `mwictl recover bk-keypair-lost --bot NAME` (S11): a fresh bound-keypair token, the old one
//! deleted, tbot.yaml and tbot's storage updated, verified.

use std::path::PathBuf;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::{flows, plan::Flow};

/// Recover a bound-keypair bot that lost its private key (S11).
///
/// tbot's storage was wiped or replaced, so it holds no private key for the public key its
/// token is bound to (tbot logs `failed to complete challenge`, or asks for a registration
/// secret it no longer sends). The key cannot be recovered on the server (Teleport's admin
/// guide, runbook "keypair lost"). This creates a fresh bound-keypair token for the bot under a
/// new name, onboarding with a new registration secret (or, with --public-key, a key made by
/// `tbot keypair create`), keeping the old token's recovery limit and mode; backs up and deletes
/// the old token; writes the new name and secret into tbot.yaml (--tbot-config: its join_uri,
/// or onboarding.token and bound_keypair.registration_secret, or the file
/// registration_secret_path names); moves the stale id_bkp, id_bkp.pub, bkp_state and
/// bkp_key_history.json out of tbot's storage (--storage) into the run's backups; runs
/// --restart-cmd and verifies (--wait) that a new instance joined.
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct BkKeypairLostArgs {
    /// The bot to recover.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// The bot's bound-keypair token, when it has several (default: its only one, or the one
    /// tbot.yaml's onboarding.token names).
    #[arg(long, value_name = "NAME")]
    pub token: Option<String>,

    /// tbot's storage directory (storage.path in tbot.yaml): its stale key files are moved into
    /// the run's backups, never deleted.
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,

    /// Preregister this new public key (`tbot keypair create` prints it; or @FILE) instead of a
    /// registration secret.
    #[arg(long, value_name = "KEY|@FILE")]
    pub public_key: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: BkKeypairLostArgs) -> Result<ExitStatus, CommandError> {
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
        Flow::BkKeypairLost,
        &args.bot,
        input.clone(),
        async |client| flows::bk_keypair_lost::plan(client, &bot, &input).await,
    )
    .await
}

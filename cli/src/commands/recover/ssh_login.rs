//! `mwictl recover ssh-login --bot NAME --login LOGIN [--role ROLE | --trait]` (S3): shows which
//! roles grant which logins and adds the login to a role or to the bot's logins trait.

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::{flows, plan::Flow};

/// Let a bot log in over SSH as LOGIN (S3).
///
/// tbot's SSH connections fail with `ssh: handshake failed: ssh: unable to authenticate` when
/// the login is not among the principals of the roles the bot impersonates. This shows which
/// role grants which logins, then adds the login to a role (diff preview; the update fails if
/// the role changed since it was read) or to the bot's `logins` trait (when a role uses
/// `{{internal.logins}}`), and checks the bot's access again. Without --role or --trait it uses
/// the trait when a role takes logins from it, else the bot's first role.
///
/// tbot gets the login with its next certificates: at the next renewal (every 20 minutes by
/// default), at once when restarted, or when sent SIGUSR1.
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct SshLoginArgs {
    /// The bot to fix.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// The SSH login (Unix user) the bot must be allowed.
    #[arg(long, value_name = "LOGIN")]
    pub login: String,

    /// Add the login to this role (one the bot impersonates).
    #[arg(long, value_name = "ROLE", conflicts_with = "use_trait")]
    pub role: Option<String>,

    /// Add the login to the bot's `logins` trait instead of a role.
    #[arg(long = "trait", id = "use_trait")]
    pub use_trait: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: SshLoginArgs) -> Result<ExitStatus, CommandError> {
    let mut input = args.common.input();
    input.login = Some(args.login.clone());
    input.role = args.role.clone();
    input.use_trait = args.use_trait;
    let bot = args.bot.clone();
    common::run_flow(
        ctx,
        &args.common,
        Flow::SshLogin,
        &args.bot,
        input.clone(),
        async |client| flows::ssh_login::plan(client, &bot, &input).await,
    )
    .await
}

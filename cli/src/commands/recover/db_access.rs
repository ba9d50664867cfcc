//! `mwictl recover db-access --bot NAME --db DB [--db-user USER] [--role ROLE | --recreate ROLE]`
//! (S4): adds the missing rule and db grants to a role, or recreates the bot with a role added.

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::roles::parse_labels;
use crate::recover::{flows, plan::Flow};

/// Let a bot reach database DB (S4).
///
/// tbot's database output fails with `database "DB" not found` while `tsh db ls` shows it: the
/// bot's roles lack `rules: [{resources: [db_server, db], verbs: [read, list]}]`, or db_labels,
/// db_names or db_users that grant it. This shows each part of the access check, then adds what
/// is missing to a role the bot impersonates (diff preview; the update fails if the role changed
/// since it was read), or with --recreate deletes and creates the bot again with that role added,
/// keeping its roles, traits, logins and TTL (which needs a new token in tbot.yaml).
///
/// The result (--format json) and exit codes are described in `mwictl recover --help`.
#[derive(Debug, clap::Args)]
pub struct DbAccessArgs {
    /// The bot to fix.
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// The Teleport database resource name (tbot's database output `service`).
    #[arg(long, value_name = "DB")]
    pub db: String,

    /// The database user tbot connects as (its `username`), added to db_users.
    #[arg(long, value_name = "USER")]
    pub db_user: Option<String>,

    /// The database name inside it (tbot's `database`), added to db_names.
    #[arg(long, value_name = "NAME")]
    pub db_name: Option<String>,

    /// Labels to add to the role's db_labels, KEY=VALUE (repeatable or comma-separated); needed
    /// when no role of the bot has db_labels. `tsh db ls` shows the database's labels.
    #[arg(long, value_name = "KEY=VALUE")]
    pub db_labels: Vec<String>,

    /// Add the access to this role (one the bot impersonates) [default: the role the access
    /// check names, else the bot's first role].
    #[arg(long, value_name = "ROLE", conflicts_with = "recreate")]
    pub role: Option<String>,

    /// Instead of editing a role, recreate the bot with ROLE (an existing role that grants the
    /// database) added to its roles, keeping everything else; a new join token is issued.
    #[arg(long, value_name = "ROLE")]
    pub recreate: Option<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(ctx: &Context, args: DbAccessArgs) -> Result<ExitStatus, CommandError> {
    let mut input = args.common.input();
    input.db = Some(args.db.clone());
    input.db_user = args.db_user.clone();
    input.db_name = args.db_name.clone();
    input.db_labels = parse_labels(&args.db_labels)?;
    input.role = args.role.clone();
    input.recreate_with = args.recreate.clone();
    let bot = args.bot.clone();
    common::run_flow(
        ctx,
        &args.common,
        Flow::DbAccess,
        &args.bot,
        input.clone(),
        async |client| flows::db_access::plan(client, &bot, &input).await,
    )
    .await
}

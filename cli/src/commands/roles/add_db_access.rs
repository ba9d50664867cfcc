//! `mwictl roles add-db-access ROLE`: gives a role what a bot needs to see and use a database
//! (the db_server/db read+list rule, labels, names, users), with a diff preview.

use super::change::{self, ChangeArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::roles::{self, DbGrant};

/// Give a role database access: the rule and the db_labels, db_names and db_users grants.
///
/// Adds the rule `{resources: [db_server, db], verbs: [read, list]}` unless the role's rules
/// already grant it (without it Teleport tells the bot `database "NAME" not found`), and merges
/// the labels, names and users given into allow (existing entries stay, duplicates are
/// skipped). Without --db-labels the labels stay as they are; a role without db_labels matches
/// no database, and mwictl warns about it.
///
/// Shows the unified diff of the role's YAML and asks before writing (--yes to skip; without a
/// terminal and without --yes it refuses). A role changed since it was read is read again and the
/// edit redone (it is idempotent). Bots get the access on their next renewal, or at once on restart
/// or SIGUSR1.
///
/// Exit codes: 0 updated, nothing to change, or --dry-run; 1 declined; 2 no terminal and no
/// --yes; 3 no such role; 5 the role kept changing, or changed so the diff no longer applies.
#[derive(Debug, clap::Args)]
pub struct AddDbAccessArgs {
    /// The role to change.
    pub role: String,
    /// Database labels to match, KEY=VALUE; repeat the flag or separate with commas. `'*=*'`
    /// matches every database.
    #[arg(long = "db-labels", value_name = "KEY=VALUE")]
    pub db_labels: Vec<String>,
    /// Database names (inside the database server) to allow; `*` for any.
    #[arg(long = "db-names", value_name = "NAME", value_delimiter = ',')]
    pub db_names: Vec<String>,
    /// Database users to allow; `*` for any.
    #[arg(long = "db-users", value_name = "USER", value_delimiter = ',')]
    pub db_users: Vec<String>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

pub async fn run(ctx: &Context, args: AddDbAccessArgs) -> Result<ExitStatus, CommandError> {
    let grant = DbGrant {
        labels: roles::parse_labels(&args.db_labels)?,
        names: args.db_names,
        users: args.db_users,
    };
    let client = ctx.client().await?;
    let plan = roles::plan_add_db_access(client, &args.role, &grant).await?;
    let unchanged = format!(
        "role {:?} already grants read and list on db_server and db{}",
        plan.role,
        if grant == DbGrant::default() {
            String::new()
        } else {
            " and the labels, names and users given".to_string()
        }
    );
    change::finish(ctx, client, plan, &args.change, unchanged).await
}

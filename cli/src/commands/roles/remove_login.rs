//! `mwictl roles remove-login ROLE LOGIN...`: removes SSH logins from a role's allow.logins,
//! with a diff preview and a write conditional on the role's revision.

use super::add_login::quoted_list;
use super::change::{self, ChangeArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::roles;

/// Remove SSH logins from a role's allow.logins.
///
/// Shows the unified diff of the role's YAML and asks before writing (--yes to skip; without a
/// terminal and without --yes it refuses). A role changed since it was read is read again and the
/// edit redone (it is idempotent). Certificates already issued keep the login until they expire;
/// bots renew every 20 minutes by default.
///
/// Exit codes: 0 updated, nothing to change, or --dry-run; 1 declined; 2 no terminal and no
/// --yes; 3 no such role; 5 the role kept changing, or changed so the diff no longer applies.
#[derive(Debug, clap::Args)]
pub struct RemoveLoginArgs {
    /// The role to change.
    pub role: String,
    /// The logins to remove.
    #[arg(required = true, value_name = "LOGIN")]
    pub logins: Vec<String>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

pub async fn run(ctx: &Context, args: RemoveLoginArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let plan = roles::plan_remove_login(client, &args.role, &args.logins).await?;
    let unchanged = format!(
        "role {:?} does not grant {}",
        plan.role,
        quoted_list("login", &args.logins)
    );
    change::finish(ctx, client, plan, &args.change, unchanged).await
}

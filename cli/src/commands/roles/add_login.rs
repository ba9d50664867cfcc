//! `mwictl roles add-login ROLE LOGIN...`: adds SSH logins to a role's allow.logins, with a
//! diff preview and a write conditional on the role's revision.

use super::change::{self, ChangeArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::roles;

/// Add SSH logins (principals) to a role's allow.logins.
///
/// Shows the unified diff of the role's YAML and asks before writing (--yes to skip; without a
/// terminal and without --yes it refuses). A role changed since it was read is read again and the
/// edit redone (it is idempotent). Bots with this role get the login on their next renewal, or at
/// once on restart or SIGUSR1. To give one bot a login through its `logins` trait instead, use
/// `mwictl bots update NAME --add-logins LOGIN` (when its role allows `{{internal.logins}}`).
///
/// Exit codes: 0 updated, nothing to change, or --dry-run; 1 declined; 2 no terminal and no
/// --yes; 3 no such role; 5 the role kept changing, or changed so the diff no longer applies.
#[derive(Debug, clap::Args)]
pub struct AddLoginArgs {
    /// The role to change.
    pub role: String,
    /// The logins to allow, e.g. `root` or `{{internal.logins}}`.
    #[arg(required = true, value_name = "LOGIN")]
    pub logins: Vec<String>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

pub async fn run(ctx: &Context, args: AddLoginArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let plan = roles::plan_add_login(client, &args.role, &args.logins).await?;
    let unchanged = format!(
        "role {:?} already grants {}",
        plan.role,
        quoted_list("login", &args.logins)
    );
    change::finish(ctx, client, plan, &args.change, unchanged).await
}

/// `login "root"` or `logins "root", "ubuntu"`.
pub(super) fn quoted_list(noun: &str, items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    let plural = if items.len() == 1 { "" } else { "s" };
    format!("{noun}{plural} {}", quoted.join(", "))
}

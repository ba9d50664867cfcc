//! `mwictl tokens rm NAME`: deletes a join token (after a backup), like `tctl tokens rm`.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::resource::Kind;

/// Delete a join token, so nothing can join with it any more.
///
/// The token is first written to a YAML file in $MWICTL_HOME/backups. Exit 3 when it does not
/// exist.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// The token (its full name, as `mwictl tokens ls --show-secrets` shows it).
    #[arg(value_name = "NAME")]
    pub name: String,
}

pub async fn run(ctx: &Context, args: RmArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let backups = ctx.home()?.backups_dir();
    let removed = crate::ops::remove::remove(client, Kind::Token, &args.name, &backups).await?;
    ctx.printer().print(&removed)?;
    ctx.printer()
        .status(format!("backup: {}", removed.backup.display()));
    Ok(ExitStatus::Success)
}

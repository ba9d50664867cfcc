//! `mwictl roles ...`: list and show roles, and fix them in one command (add or remove logins,
//! add database access) with a diff preview. This file only dispatches.

pub mod add_db_access;
pub mod add_login;
mod change;
pub mod ls;
pub mod remove_login;
pub mod show;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum RolesCommand {
    Ls(ls::LsArgs),
    Show(show::ShowArgs),
    AddDbAccess(add_db_access::AddDbAccessArgs),
    AddLogin(add_login::AddLoginArgs),
    RemoveLogin(remove_login::RemoveLoginArgs),
}

pub async fn run(ctx: &Context, command: RolesCommand) -> Result<ExitStatus, CommandError> {
    match command {
        RolesCommand::Ls(args) => ls::run(ctx, args).await,
        RolesCommand::Show(args) => show::run(ctx, args).await,
        RolesCommand::AddDbAccess(args) => add_db_access::run(ctx, args).await,
        RolesCommand::AddLogin(args) => add_login::run(ctx, args).await,
        RolesCommand::RemoveLogin(args) => remove_login::run(ctx, args).await,
    }
}

//! `mwictl locks ...`: list and add locks. This file only dispatches.

pub mod add;
pub mod ls;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// List and add locks (remove them with `mwictl unlock`).
#[derive(Debug, clap::Subcommand)]
pub enum LocksCommand {
    Ls(ls::LsArgs),
    Add(add::AddArgs),
}

pub async fn run(ctx: &Context, command: LocksCommand) -> Result<ExitStatus, CommandError> {
    match command {
        LocksCommand::Ls(args) => ls::run(ctx, args).await,
        LocksCommand::Add(args) => add::run(ctx, args).await,
    }
}

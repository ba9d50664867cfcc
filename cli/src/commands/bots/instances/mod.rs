//! `mwictl bots instances ...`: a bot's instances (one per tbot that joined). This file only
//! dispatches.

pub mod add;
pub mod ls;
pub mod show;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum InstancesCommand {
    Ls(ls::LsArgs),
    Show(show::ShowArgs),
    Add(add::AddArgs),
}

pub async fn run(ctx: &Context, command: InstancesCommand) -> Result<ExitStatus, CommandError> {
    match command {
        InstancesCommand::Ls(args) => ls::run(ctx, args).await,
        InstancesCommand::Show(args) => show::run(ctx, args).await,
        InstancesCommand::Add(args) => add::run(ctx, args).await,
    }
}

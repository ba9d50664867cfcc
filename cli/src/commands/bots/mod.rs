//! `mwictl bots ...`: bots, their instances and what they may access. This file only
//! dispatches.

pub mod add;
pub mod can;
pub mod instances;
mod join;
mod leftover_locks;
pub mod ls;
pub mod recreate;
pub mod rm;
pub mod show;
pub mod update;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum BotsCommand {
    Ls(ls::LsArgs),
    Show(show::ShowArgs),
    Add(add::AddArgs),
    Rm(rm::RmArgs),
    Update(update::UpdateArgs),
    Recreate(recreate::RecreateArgs),
    /// Check whether the bot may log in as LOGIN or read database DB, from its roles.
    Can(can::CanArgs),
    /// List, show and add bot instances (each tbot that joined is one).
    #[command(subcommand)]
    Instances(instances::InstancesCommand),
}

pub async fn run(ctx: &Context, command: BotsCommand) -> Result<ExitStatus, CommandError> {
    match command {
        BotsCommand::Ls(args) => ls::run(ctx, args).await,
        BotsCommand::Show(args) => show::run(ctx, args).await,
        BotsCommand::Add(args) => add::run(ctx, args).await,
        BotsCommand::Rm(args) => rm::run(ctx, args).await,
        BotsCommand::Update(args) => update::run(ctx, args).await,
        BotsCommand::Recreate(args) => recreate::run(ctx, args).await,
        BotsCommand::Can(args) => can::run(ctx, args).await,
        BotsCommand::Instances(command) => instances::run(ctx, command).await,
    }
}

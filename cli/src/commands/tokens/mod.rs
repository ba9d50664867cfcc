//! `mwictl tokens ...`: bot join tokens. This file only dispatches.

pub mod add;
pub mod ls;
pub mod rm;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// List, add and remove join tokens.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    Ls(ls::LsArgs),
    Add(add::AddArgs),
    Rm(rm::RmArgs),
}

pub async fn run(ctx: &Context, command: TokensCommand) -> Result<ExitStatus, CommandError> {
    match command {
        TokensCommand::Ls(args) => ls::run(ctx, args).await,
        TokensCommand::Add(args) => add::run(ctx, args).await,
        TokensCommand::Rm(args) => rm::run(ctx, args).await,
    }
}

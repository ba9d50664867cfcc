//! `mwictl tokens ...`: bot join tokens. This file only dispatches.

pub mod add;
pub mod ls;
pub mod mode;
pub mod rm;
pub mod rotate;
pub mod show;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// List, add, show and remove join tokens; request a bound-keypair key rotation or set its recovery mode.
#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    Ls(ls::LsArgs),
    Add(add::AddArgs),
    Rm(rm::RmArgs),
    Show(show::ShowArgs),
    Rotate(rotate::RotateArgs),
    Mode(mode::ModeArgs),
}

pub async fn run(ctx: &Context, command: TokensCommand) -> Result<ExitStatus, CommandError> {
    match command {
        TokensCommand::Ls(args) => ls::run(ctx, args).await,
        TokensCommand::Add(args) => add::run(ctx, args).await,
        TokensCommand::Rm(args) => rm::run(ctx, args).await,
        TokensCommand::Show(args) => show::run(ctx, args).await,
        TokensCommand::Rotate(args) => rotate::run(ctx, args).await,
        TokensCommand::Mode(args) => mode::run(ctx, args).await,
    }
}

//! `mwictl fleet ...`: fleet monitoring. This file only dispatches.

pub mod serve;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    Serve(serve::ServeArgs),
}

pub async fn run(ctx: &Context, command: FleetCommand) -> Result<ExitStatus, CommandError> {
    match command {
        FleetCommand::Serve(args) => serve::run(ctx, args).await,
    }
}

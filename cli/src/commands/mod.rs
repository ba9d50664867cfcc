//! One module per command (group); each subcommand is one file with its clap `Args` and `run`.
//! This file only dispatches.

pub mod completions;
pub mod generate_docs;
pub mod get;
pub mod lab;
pub mod ping;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitStatus, CommandError> {
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::Lab(command) => lab::run(&ctx, command).await,
        Command::Ping(args) => ping::run(&ctx, args).await,
        Command::Get(args) => get::run(&ctx, args).await,
        Command::Completions(args) => completions::run(&ctx, args),
        Command::GenerateDocs(args) => generate_docs::run(&ctx, args),
    }
}

//! One module per command (group); each subcommand is one file with its clap `Args` and `run`.
//! This file only dispatches.

pub mod bots;
pub mod completions;
pub mod create;
#[cfg(feature = "lab")]
pub mod demo;
pub mod doctor;
pub mod edit;
pub mod generate_docs;
pub mod get;
#[cfg(feature = "lab")]
pub mod lab;
pub mod lint;
pub mod locks;
#[cfg(not(feature = "lab"))]
mod no_lab;
pub mod ping;
pub mod recover;
pub mod rm;
pub mod roles;
pub mod tokens;
pub mod unlock;

#[cfg(not(feature = "lab"))]
pub use no_lab::{demo, lab};

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
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Lint(args) => lint::run(&ctx, args).await,
        Command::Get(args) => get::run(&ctx, args).await,
        Command::Rm(args) => rm::run(&ctx, args).await,
        Command::Create(args) => create::run(&ctx, args).await,
        Command::Edit(args) => edit::run(&ctx, args).await,
        Command::Unlock(args) => unlock::run(&ctx, args).await,
        Command::Locks(command) => locks::run(&ctx, command).await,
        Command::Tokens(command) => tokens::run(&ctx, command).await,
        Command::Roles(command) => roles::run(&ctx, command).await,
        Command::Bots(command) => bots::run(&ctx, command).await,
        Command::Recover(args) => recover::run(&ctx, args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Completions(args) => completions::run(&ctx, args),
        Command::GenerateDocs(args) => generate_docs::run(&ctx, args),
    }
}

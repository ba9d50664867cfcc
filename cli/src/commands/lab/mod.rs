//! `mwictl lab ...`: the lab auth service. This file only dispatches.

pub mod bot;
pub mod break_cmd;
pub mod db;
pub mod keypair;
pub mod seed;
pub mod snapshot;
pub mod start;
pub mod user;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    Start(start::StartArgs),
    // Boxed: the agent's flags make this variant several times larger than the others.
    Bot(Box<bot::BotArgs>),
    #[command(name = "break")]
    Break(break_cmd::BreakArgs),
    /// Register databases in the lab, as database agents or auto-discovery would.
    #[command(subcommand)]
    Db(db::DbCommand),
    User(user::UserArgs),
    /// Bound keypairs for the lab agent, as `tbot keypair`.
    #[command(subcommand)]
    Keypair(keypair::KeypairCommand),
    Seed(seed::SeedArgs),
    Snapshot(snapshot::SnapshotArgs),
    Restore(snapshot::RestoreArgs),
}

pub async fn run(ctx: &Context, command: LabCommand) -> Result<ExitStatus, CommandError> {
    match command {
        LabCommand::Start(args) => start::run(ctx, args).await,
        LabCommand::Bot(args) => bot::run(ctx, *args).await,
        LabCommand::Break(args) => break_cmd::run(ctx, args).await,
        LabCommand::Db(command) => db::run(ctx, command).await,
        LabCommand::User(args) => user::run(ctx, args).await,
        LabCommand::Keypair(command) => keypair::run(ctx, command).await,
        LabCommand::Seed(args) => seed::run(ctx, args).await,
        LabCommand::Snapshot(args) => snapshot::snapshot(ctx, args).await,
        LabCommand::Restore(args) => snapshot::restore(ctx, args).await,
    }
}

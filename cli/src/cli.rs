//! The clap definition of the whole interface (the global flags are `context::GlobalArgs`) and
//! the dispatch to each command; the same `Command` generates `--help`, man pages, completions.

use clap::{Parser, Subcommand};

use crate::commands;
use crate::context::{Context, GlobalArgs};
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Admin CLI for Teleport Machine & Workload Identity: unlock, recover and diagnose tbot bots.
///
/// mwictl talks to a Teleport auth service (or the lab one from `mwictl lab start`) over mutual
/// TLS with an identity file, like tctl. `--help` ends with the environment variables, files and
/// exit codes.
#[derive(Debug, Parser)]
#[command(
    name = "mwictl",
    version,
    propagate_version = true,
    max_term_width = crate::docs::HELP_WIDTH,
    after_long_help = crate::docs::after_long_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the lab auth service, a Teleport-compatible auth service for rehearsal and tests.
    #[command(subcommand)]
    #[cfg_attr(not(feature = "lab"), command(about = crate::commands::lab::ABOUT))]
    Lab(commands::lab::LabCommand),
    Ping(commands::ping::PingArgs),
    Doctor(commands::doctor::DoctorArgs),
    Lint(commands::lint::LintArgs),
    Get(commands::get::GetArgs),
    Rm(commands::rm::RmArgs),
    Create(commands::create::CreateArgs),
    Edit(commands::edit::EditArgs),
    Unlock(commands::unlock::UnlockArgs),
    /// List and add locks (remove them with `mwictl unlock`).
    #[command(subcommand)]
    Locks(commands::locks::LocksCommand),
    /// List, add and remove bot join tokens.
    #[command(subcommand)]
    Tokens(commands::tokens::TokensCommand),
    /// Inspect roles and fix them in one command: add or remove logins, add database access.
    #[command(subcommand)]
    Roles(commands::roles::RolesCommand),
    /// Bots: list with their health, show, add, remove, update, recreate; their instances.
    #[command(subcommand)]
    Bots(commands::bots::BotsCommand),
    Recover(Box<commands::recover::RecoverArgs>),
    Triage(commands::triage::TriageArgs),
    /// Fleet monitoring: serve the triage as Prometheus metrics.
    #[command(subcommand)]
    Fleet(commands::fleet::FleetCommand),
    Demo(commands::demo::DemoArgs),
    Completions(commands::completions::CompletionsArgs),
    #[command(hide = true)]
    GenerateDocs(commands::generate_docs::GenerateDocsArgs),
}

/// The clap command, for generators.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitStatus, CommandError> {
    if cli.global.format == crate::output::Format::Prometheus
        && !matches!(cli.command, Command::Triage(_))
    {
        return Err(crate::output::only_triage_has_metrics());
    }
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::Lab(command) => commands::lab::run(&ctx, command).await,
        Command::Ping(args) => commands::ping::run(&ctx, args).await,
        Command::Doctor(args) => commands::doctor::run(&ctx, args).await,
        Command::Lint(args) => commands::lint::run(&ctx, args).await,
        Command::Get(args) => commands::get::run(&ctx, args).await,
        Command::Rm(args) => commands::rm::run(&ctx, args).await,
        Command::Create(args) => commands::create::run(&ctx, args).await,
        Command::Edit(args) => commands::edit::run(&ctx, args).await,
        Command::Unlock(args) => commands::unlock::run(&ctx, args).await,
        Command::Locks(command) => commands::locks::run(&ctx, command).await,
        Command::Tokens(command) => commands::tokens::run(&ctx, command).await,
        Command::Roles(command) => commands::roles::run(&ctx, command).await,
        Command::Bots(command) => commands::bots::run(&ctx, command).await,
        Command::Recover(args) => commands::recover::run(&ctx, *args).await,
        Command::Triage(args) => commands::triage::run(&ctx, args).await,
        Command::Fleet(command) => commands::fleet::run(&ctx, command).await,
        Command::Demo(args) => commands::demo::run(&ctx, args).await,
        Command::Completions(args) => commands::completions::run(&ctx, args, command()),
        Command::GenerateDocs(args) => commands::generate_docs::run(&ctx, args, command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "mwictl",
            "ping",
            "--auth-server",
            "a:1",
            "-i",
            "id",
            "--format",
            "json",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.global.auth_server.as_deref(), Some("a:1"));
        assert_eq!(cli.global.format, crate::output::Format::Json);
        assert_eq!(cli.global.verbose, 2);
    }
}

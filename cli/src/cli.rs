//! The clap definition of the whole interface: global flags and the subcommand tree. The same
//! `Command` generates `--help`, the man pages and the shell completions.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::commands;
use crate::output::Format;

/// Admin CLI for Teleport Machine & Workload Identity: unlock, recover and diagnose tbot bots.
///
/// mwictl talks to a Teleport auth service (or the lab one from `mwictl lab start`) over mutual
/// TLS with an identity file, like tctl. Exit codes: 0 ok, 1 failure or findings, 2 usage,
/// 3 not found, 4 access denied, 5 conflict (stale revision or already exists), 6 unreachable.
#[derive(Debug, Parser)]
#[command(
    name = "mwictl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Address of the auth service, HOST:PORT (port 3025 if omitted). Defaults to the saved
    /// profile.
    #[arg(
        long,
        global = true,
        env = "TELEPORT_AUTH_SERVER",
        hide_env_values = true,
        value_name = "HOST:PORT"
    )]
    pub auth_server: Option<String>,

    /// Identity file (from `tctl auth sign`, tbot or `mwictl lab start`). Defaults to the saved
    /// profile.
    #[arg(
        short = 'i',
        long,
        global = true,
        env = "TELEPORT_IDENTITY_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub identity: Option<PathBuf>,

    /// Reach auth through a Teleport proxy with TLS routing at HOST:PORT (takes precedence over
    /// --auth-server).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub proxy: Option<String>,

    /// Output format of the data written to stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Answer yes to every confirmation (for scripts; no TTY needed).
    #[arg(long, global = true)]
    pub yes: bool,

    /// Log what mwictl does to stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Print only data and errors: no status lines or warnings on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
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
    Recover(commands::recover::RecoverArgs),
    Demo(commands::demo::DemoArgs),
    Completions(commands::completions::CompletionsArgs),
    #[command(hide = true)]
    GenerateDocs(commands::generate_docs::GenerateDocsArgs),
}

/// The clap command, for generators.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
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
        assert_eq!(cli.global.format, Format::Json);
        assert_eq!(cli.global.verbose, 2);
    }
}

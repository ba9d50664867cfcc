//! `mwictl completions SHELL`: prints a shell completion script.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Print the shell completion script for SHELL to stdout.
///
/// For example: `mwictl completions bash > ~/.local/share/bash-completion/completions/mwictl`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `cli` is the whole interface, which the caller (above every command) knows.
pub fn run(
    ctx: &Context,
    args: CompletionsArgs,
    cli: clap::Command,
) -> Result<ExitStatus, CommandError> {
    let script = crate::docs::completion_script(args.shell, cli);
    ctx.printer().write(&String::from_utf8_lossy(&script))?;
    Ok(ExitStatus::Success)
}

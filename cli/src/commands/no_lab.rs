//! `mwictl lab ...` and `mwictl demo` in a build without the `lab` feature (the admin client
//! alone): they stay in `--help` and say in one line that this build has no lab.

use std::ffi::OsString;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Exit 2 (usage), like an unknown subcommand: this binary cannot run the command however it is
/// called, and exit 1 would read as "the lab ran and failed".
fn no_lab() -> CommandError {
    CommandError::usage(
        "this mwictl was built without the lab (`mwictl lab`, `mwictl demo`); install the full build with `cargo install --path cli`",
    )
}

pub mod lab {
    use super::*;

    /// The help line of `mwictl lab` in this build.
    pub const ABOUT: &str =
        "Run the lab auth service (not in this build: built without the `lab` feature)";

    #[derive(Debug, clap::Subcommand)]
    pub enum LabCommand {
        #[command(external_subcommand)]
        Any(Vec<OsString>),
    }

    pub async fn run(_ctx: &Context, _command: LabCommand) -> Result<ExitStatus, CommandError> {
        Err(super::no_lab())
    }
}

pub mod demo {
    use super::*;

    /// Watch a bot break and recover in a throwaway lab (not in this build: built without the
    /// `lab` feature).
    #[derive(Debug, clap::Args)]
    pub struct DemoArgs {
        /// Whatever follows `demo`; this build cannot run it.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _args: Vec<OsString>,
    }

    pub async fn run(_ctx: &Context, _args: DemoArgs) -> Result<ExitStatus, CommandError> {
        Err(super::no_lab())
    }
}

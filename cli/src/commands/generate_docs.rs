//! `mwictl generate-docs DIR` (hidden): regenerates the checked-in completions and man pages.

use std::path::PathBuf;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;

/// Write shell completions to DIR/completions and man pages to DIR/man.
#[derive(Debug, clap::Args)]
pub struct GenerateDocsArgs {
    /// The repository root (or any directory).
    pub dir: PathBuf,
}

/// `cli` is the whole interface, which the caller (above every command) knows.
pub fn run(
    ctx: &Context,
    args: GenerateDocsArgs,
    cli: clap::Command,
) -> Result<ExitStatus, CommandError> {
    let written = crate::docs::generate(&args.dir, cli).map_err(|e| {
        CommandError::failure(format!(
            "cannot write docs under {}: {e}",
            args.dir.display()
        ))
    })?;
    for dir in written {
        ctx.printer().status(format!("wrote {}", dir.display()));
    }
    Ok(ExitStatus::Success)
}

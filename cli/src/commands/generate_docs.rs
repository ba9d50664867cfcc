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

pub fn run(ctx: &Context, args: GenerateDocsArgs) -> Result<ExitStatus, CommandError> {
    let written = crate::docs::generate(&args.dir).map_err(|e| {
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

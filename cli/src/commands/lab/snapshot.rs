//! `mwictl lab snapshot` and `mwictl lab restore FILE`: a consistent copy of the lab's database,
//! and putting one back under the lab (running or not), as an auth backend restore would.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::lab::snapshots::{Restored, default_path, put_back, take};
use crate::output::Output;
use crate::shell::shell_word;

/// Save a consistent copy of the lab's database (every resource: roles, users, bots, tokens
/// with their status, bot instances, locks).
///
/// The copy is SQLite's `VACUUM INTO`, one read transaction: a running lab goes on serving. It
/// is written to DATA_DIR/snapshots/lab-TIME.db unless --out names a new file. `mwictl lab
/// restore FILE` puts it back.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// The file to write (it must not exist) [default: DATA_DIR/snapshots/lab-TIME.db].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The lab's data dir [default: the saved lab profile's, else $MWICTL_HOME/lab].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Roll the lab's database back to a snapshot, as restoring an auth backend from a backup does.
///
/// Every resource is replaced by the snapshot's in one transaction, and the state it replaces is
/// saved first to DATA_DIR/snapshots/before-restore-TIME.db. A running lab needs no restart: it
/// serves the restored state at once (its locks and roles within a fraction of a second).
/// Bots that joined or recovered since the snapshot now hold join states and certificates newer
/// than the lab remembers, which is what `lab break bk-rollback` rehearses. Asks first unless
/// --yes.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The snapshot to restore (from `mwictl lab snapshot`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The lab's data dir [default: the saved lab profile's, else $MWICTL_HOME/lab].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn snapshot(ctx: &Context, args: SnapshotArgs) -> Result<ExitStatus, CommandError> {
    let data_dir = lab_dir(ctx, args.data_dir)?;
    let out = match args.out {
        Some(out) => std::path::absolute(&out).unwrap_or(out),
        None => default_path(&data_dir, "lab"),
    };
    let resources = take(&data_dir, &out).await?;
    ctx.printer().print(&Snapshotted {
        path: out,
        resources,
    })?;
    Ok(ExitStatus::Success)
}

pub async fn restore(ctx: &Context, args: RestoreArgs) -> Result<ExitStatus, CommandError> {
    let data_dir = lab_dir(ctx, args.data_dir)?;
    let file = std::path::absolute(&args.file).unwrap_or(args.file);
    let question = format!(
        "Replace every resource of the lab in {} with those of {}?",
        data_dir.display(),
        file.display()
    );
    let go = ctx.confirm(&question, || {
        CommandError::usage("lab restore replaces the lab's whole state and asks first")
            .hint("pass --yes to restore without asking")
    })?;
    if !go {
        return Err(CommandError::usage(
            "lab restore: not confirmed; nothing changed",
        ));
    }
    let restored = put_back(&data_dir, &file).await?;
    ctx.printer().print(&restored)?;
    Ok(ExitStatus::Success)
}

/// `--data-dir`, else the saved lab profile's data dir, else the default one.
fn lab_dir(ctx: &Context, data_dir: Option<PathBuf>) -> Result<PathBuf, CommandError> {
    if let Some(dir) = data_dir {
        return Ok(std::path::absolute(&dir).unwrap_or(dir));
    }
    let from_profile = ctx
        .profile()?
        .and_then(|p| p.identity.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("lab.json").is_file());
    match from_profile {
        Some(dir) => Ok(dir),
        None => Ok(ctx.home()?.lab_dir()),
    }
}

struct Snapshotted {
    path: PathBuf,
    resources: u64,
}

impl Output for Snapshotted {
    fn text(&self) -> String {
        format!(
            "saved {} resources of the lab to {}\nrestore with: mwictl lab restore {}\n",
            self.resources,
            self.path.display(),
            shell_word(&self.path.display().to_string())
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path.display().to_string(),
            "resources": self.resources,
        })
    }
}

impl Output for Restored {
    fn text(&self) -> String {
        format!(
            "restored {} resources from {}; the lab serves them now\nthe state it replaced is in {}\n",
            self.resources,
            self.from.display(),
            self.saved.display()
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "restored_from": self.from.display().to_string(),
            "resources": self.resources,
            "saved_before": self.saved.display().to_string(),
        })
    }
}

//! Snapshots of the lab's database (`lab snapshot`, `lab restore`, `lab break bk-rollback`):
//! where they go, and restoring one after saving the state it replaces.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::CommandError;

/// Where snapshots go in the lab's data dir, unless `--out` says otherwise.
const SNAPSHOTS: &str = "snapshots";

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub from: PathBuf,
    pub resources: u64,
    /// The snapshot of the state it replaced.
    pub saved: PathBuf,
}

/// Saves the lab's current state beside its other snapshots, then restores `from`.
pub async fn put_back(data_dir: &Path, from: &Path) -> Result<Restored, CommandError> {
    let (dir, file) = (data_dir.to_path_buf(), from.to_path_buf());
    tokio::task::spawn_blocking(move || mwi_auth::lab::check_snapshot(&file))
        .await
        .map_err(|e| CommandError::failure(format!("reading the snapshot failed: {e}")))?
        .map_err(lab_error)?;
    let saved = default_path(data_dir, "before-restore");
    take(data_dir, &saved).await?;
    let file = from.to_path_buf();
    let resources = tokio::task::spawn_blocking(move || mwi_auth::lab::restore(&dir, &file))
        .await
        .map_err(|e| CommandError::failure(format!("the restore failed: {e}")))?
        .map_err(lab_error)?;
    Ok(Restored {
        from: from.to_path_buf(),
        resources,
        saved,
    })
}

/// Writes a snapshot of the lab at `data_dir` to `out`; returns how many resources it holds.
pub async fn take(data_dir: &Path, out: &Path) -> Result<u64, CommandError> {
    let (dir, file) = (data_dir.to_path_buf(), out.to_path_buf());
    tokio::task::spawn_blocking(move || mwi_auth::lab::snapshot(&dir, &file))
        .await
        .map_err(|e| CommandError::failure(format!("the snapshot failed: {e}")))?
        .map_err(lab_error)
}

fn lab_error(e: mwi_auth::lab::LabError) -> CommandError {
    match e {
        mwi_auth::lab::LabError::Snapshot { .. } | mwi_auth::lab::LabError::Foreign { .. } => {
            CommandError::usage(e.to_string())
        }
        other => CommandError::failure(other.to_string()),
    }
}

/// DATA_DIR/snapshots/PREFIX-YYYYMMDDTHHMMSS.sssZ.db.
pub fn default_path(data_dir: &Path, prefix: &str) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_millis(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    data_dir
        .join(SNAPSHOTS)
        .join(format!("{prefix}-{stamp}.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_snapshot_names_sort_by_time_and_have_no_colons() {
        let path = default_path(Path::new("/lab"), "lab");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(path.starts_with("/lab/snapshots"), "{path:?}");
        assert!(
            name.starts_with("lab-20") && name.ends_with("Z.db"),
            "{name}"
        );
        assert!(!name.contains(':'), "{name}");
    }
}

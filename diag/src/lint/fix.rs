//! What `mwictl lint --fix` does with the planned edits: the unified diff shown to the user, and
//! the atomic rewrite with a backup.

use super::LintError;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) fn diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Replaces `path`'s content `expected` with `new`, keeping a backup. Returns the backup's path.
pub(crate) fn write_atomically(
    path: &Path,
    expected: &[u8],
    new: &[u8],
) -> Result<PathBuf, LintError> {
    let write_err = |error| LintError::Write {
        path: path.to_path_buf(),
        error,
    };
    // Write through a symlink to its target, so the link stays a link.
    let target = fs::canonicalize(path).map_err(write_err)?;
    let current = fs::read(&target).map_err(write_err)?;
    if current != expected {
        return Err(LintError::Changed {
            path: path.to_path_buf(),
        });
    }
    let metadata = fs::metadata(&target).map_err(write_err)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let backup = write_backup(&target, &current).map_err(write_err)?;

    let mut temp = tempfile::Builder::new()
        .prefix(".mwictl-lint-")
        .tempfile_in(dir)
        .map_err(write_err)?;
    temp.write_all(new).map_err(write_err)?;
    temp.as_file()
        .set_permissions(metadata.permissions())
        .map_err(write_err)?;
    keep_owner(temp.as_file(), &metadata);
    temp.as_file().sync_all().map_err(write_err)?;
    temp.persist(&target).map_err(|e| write_err(e.error))?;
    if let Ok(dir) = fs::File::open(dir) {
        // The rename is durable only once the directory is synced; the new content already is.
        let _ = dir.sync_all();
    }
    Ok(backup)
}

/// Writes `content` to `PATH.bak`, or `PATH.bak.N` for the first N not taken; never overwrites.
fn write_backup(target: &Path, content: &[u8]) -> std::io::Result<PathBuf> {
    let base = target.as_os_str().to_os_string();
    for n in 0..1000u32 {
        let mut name = base.clone();
        if n == 0 {
            name.push(".bak");
        } else {
            name.push(format!(".bak.{n}"));
        }
        let candidate = PathBuf::from(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut file) => {
                file.write_all(content)?;
                file.sync_all()?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "1000 backups already exist; remove old PATH.bak.N files",
    ))
}

#[cfg(unix)]
fn keep_owner(file: &fs::File, metadata: &fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    // Only root can give a file away; for others the file already has their ownership.
    let _ = std::os::unix::fs::fchown(file, Some(metadata.uid()), Some(metadata.gid()));
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _metadata: &fs::Metadata) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_never_overwrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 1\n").expect("write");
        fs::write(dir.path().join("tbot.yaml.bak"), "older\n").expect("write");
        let backup = write_atomically(&path, b"a: 1\n", b"a: 2\n").expect("fix");
        assert_eq!(backup, dir.path().join("tbot.yaml.bak.1"));
        assert_eq!(fs::read_to_string(&backup).expect("read"), "a: 1\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("tbot.yaml.bak")).expect("read"),
            "older\n"
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 2\n");
    }

    #[test]
    fn a_changed_file_is_not_touched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 3\n").expect("write");
        let e = write_atomically(&path, b"a: 1\n", b"a: 2\n").expect_err("changed");
        assert!(matches!(e, LintError::Changed { .. }));
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 3\n");
        assert!(!dir.path().join("tbot.yaml.bak").exists());
    }

    #[cfg(unix)]
    #[test]
    fn file_mode_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "a: 1\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomically(&path, b"a: 1\n", b"a: 2\n").expect("fix");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}

//! What `mwictl lint --fix` does with the planned edits: the unified diff shown to the user, and
//! the rewrite with a backup through the one durable writer (`mwi_identity::durable`).

use super::LintError;
use mwi_identity::durable;
use std::fs;
use std::path::{Path, PathBuf};

pub(crate) fn diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Replaces `path`'s content `expected` with `new`, keeping its mode, owner and symlink, after a
/// backup `PATH.bak` (or `PATH.bak.N`). Returns the backup's path.
pub(crate) fn write_atomically(
    path: &Path,
    expected: &[u8],
    new: &[u8],
) -> Result<PathBuf, LintError> {
    let write_err = |error| LintError::Write {
        path: path.to_path_buf(),
        error,
    };
    let current = fs::read(path).map_err(write_err)?;
    if current != expected {
        return Err(LintError::Changed {
            path: path.to_path_buf(),
        });
    }
    let options =
        durable::Options::keep_mode(0o600).backup(durable::Backup::Numbered(".bak".into()));
    let done = durable::replace(path, new, &options).map_err(|e| write_err(e.into_io()))?;
    done.backup.ok_or_else(|| {
        write_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "it was removed while being fixed",
        ))
    })
}

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

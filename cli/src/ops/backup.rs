//! Backups of resources mwictl is about to remove or overwrite: YAML files in the home's backups
//! dir, each written atomically under a new name (a timestamp and a counter), never overwriting.
//! Names are bounded: a long resource name is cut and a short hash of it keeps it apart.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use mwi_identity::durable;

use crate::error::CommandError;

/// Writes `yaml` to a new file `STEM-YYYYMMDDTHHMMSSZ.yaml` (or `…-N.yaml` when that name is
/// taken) in `dir`, creating `dir` (mode 0700) if needed, and returns its path. The file (mode
/// 0600) appears complete or not at all and never replaces an existing backup
/// (`durable::create_unique`).
pub fn write_backup(dir: &Path, stem: &str, yaml: &str) -> Result<PathBuf, CommandError> {
    let unwritable = |path: &Path, e: std::io::Error| {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                format!(
                    "make {} writable, or point MWICTL_HOME at a writable directory",
                    dir.display()
                )
            }
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => format!(
                "free some space on the file system of {}, or point MWICTL_HOME elsewhere",
                dir.display()
            ),
            _ => format!(
                "nothing was removed or changed; fix the cause above, or point MWICTL_HOME at another directory (now {})",
                dir.display()
            ),
        };
        CommandError::failure(format!("cannot write the backup {}: {e}", path.display())).hint(hint)
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| unwritable(dir, e))?;
    let base = format!("{}-{}", safe_stem(stem), timestamp());
    let name = |n: u32| {
        Some(OsString::from(if n == 0 {
            format!("{base}.yaml")
        } else {
            format!("{base}-{}.yaml", n + 1)
        }))
    };
    durable::create_unique(dir, yaml.as_bytes(), 0o600, name).map_err(|e| {
        let path = e.path().to_path_buf();
        unwritable(&path, e.into_io())
    })
}

/// The most bytes of a stem kept in a file name: with the timestamp, counter and `.yaml` the
/// name stays far below the 255 bytes file systems allow.
const MAX_STEM: usize = 100;

/// The stem with anything but letters, digits, `_` and `-` replaced, so a resource name cannot
/// leave the backups dir or make an awkward file name; a longer one than [`MAX_STEM`] is cut and
/// ends in a hash of the whole stem, so two long names still get different files.
fn safe_stem(stem: &str) -> String {
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "backup".to_owned()
    } else if cleaned.len() > MAX_STEM {
        // All ASCII after cleaning, so any byte index is a character boundary.
        format!("{}-{:08x}", &cleaned[..MAX_STEM - 9], short_hash(stem))
    } else {
        cleaned
    }
}

/// 32 bits of FNV-1a: enough to tell cut names apart, and the same in every mwictl version.
fn short_hash(text: &str) -> u32 {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    // The upper and lower halves folded together.
    (hash ^ (hash >> 32)) as u32
}

fn timestamp() -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "unknown-time".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn backup_is_private_and_holds_the_text() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("backups");
        let path = write_backup(&dir, "unlock-bot-example", "kind: lock\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "kind: lock\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("unlock-bot-example-"), "{name}");
        assert!(name.ends_with(".yaml"), "{name}");
    }

    #[test]
    fn backups_in_the_same_second_never_overwrite_each_other() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("backups");
        let paths: Vec<PathBuf> = (0..3)
            .map(|i| write_backup(&dir, "same", &format!("doc {i}\n")).unwrap())
            .collect();
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(fs::read_to_string(path).unwrap(), format!("doc {i}\n"));
        }
        let entries = fs::read_dir(&dir).unwrap().count();
        assert_eq!(entries, 3, "no temporary file is left behind");
    }

    #[test]
    fn stem_cannot_escape_the_directory() {
        assert_eq!(safe_stem("../../etc/passwd"), "------etc-passwd");
        assert_eq!(safe_stem(""), "backup");
        assert_eq!(safe_stem("lock-5cee949f"), "lock-5cee949f");
    }

    #[test]
    fn long_names_make_bounded_distinct_file_names() {
        let a = safe_stem(&format!("rm-role-{}", "a".repeat(10_000)));
        let b = safe_stem(&format!("rm-role-{}b", "a".repeat(10_000)));
        assert_eq!(a.len(), MAX_STEM);
        assert!(a.starts_with("rm-role-aaaa"), "{a}");
        assert_ne!(a, b);
        let root = tempfile::tempdir().unwrap();
        let path = write_backup(
            root.path(),
            &format!("rm-role-{}", "a".repeat(10_000)),
            "x\n",
        );
        assert!(path.unwrap().file_name().unwrap().len() < 255);
    }

    #[test]
    fn unwritable_dir_is_a_one_line_error_with_a_hint() {
        let err = write_backup(Path::new("/proc/mwictl-no"), "x", "y").unwrap_err();
        assert!(
            err.message.starts_with("cannot write the backup"),
            "{}",
            err.message
        );
        assert!(err.hints[0].contains("MWICTL_HOME"));
    }
}

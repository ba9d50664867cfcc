//! Durable file writes, one policy for every crate: replace a file atomically (same-directory temp
//! file, fsync, rename, fsync of the directory) keeping its mode, owner and symlinks, and create new
//! files under names that are never reused.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many names `create_unique` tries before it gives up.
const MAX_NAMES: u32 = 1000;

/// A durable write that failed. Each renders as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "cannot write {}: cannot keep its owner {uid}:{gid} ({source}); run as that user or root",
        path.display()
    )]
    Owner {
        path: PathBuf,
        uid: u32,
        gid: u32,
        source: io::Error,
    },
    #[error(
        "cannot write {}: {MAX_NAMES} files with that name already exist; remove old ones",
        path.display()
    )]
    NoFreeName { path: PathBuf },
}

impl DurableError {
    /// The file the write was for.
    pub fn path(&self) -> &Path {
        match self {
            DurableError::Write { path, .. }
            | DurableError::Owner { path, .. }
            | DurableError::NoFreeName { path } => path,
        }
    }

    /// The cause without the path, for callers that name the file in their own words.
    pub fn into_io(self) -> io::Error {
        match self {
            DurableError::Write { source, .. } => source,
            DurableError::Owner {
                uid, gid, source, ..
            } => io::Error::new(
                source.kind(),
                format!("cannot keep its owner {uid}:{gid} ({source}); run as that user or root"),
            ),
            DurableError::NoFreeName { .. } => io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{MAX_NAMES} files with that name already exist; remove old ones"),
            ),
        }
    }
}

/// The permission bits of a replaced file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Always these bits, whatever the umask or the old file had.
    Exactly(u32),
    /// The bits of the file being replaced, or these for a new file.
    KeepOr(u32),
}

/// What happens to the previous content of a replaced file. Backups sit beside the file (its
/// symlink target), are named after it plus a suffix, and have its mode and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    None,
    /// `FILE<suffix>`, written only if no such file exists: the oldest content is the one kept.
    KeepFirst(String),
    /// `FILE<suffix>`, or `FILE<suffix>.N` for the first N not taken; never overwrites.
    Numbered(String),
}

/// How `replace` writes a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub backup: Backup,
}

impl Options {
    /// A file with exactly `mode`, no backup.
    pub fn mode(mode: u32) -> Options {
        Options {
            mode: Mode::Exactly(mode),
            backup: Backup::None,
        }
    }

    /// A file that keeps the mode of the one it replaces (`new` for a new file), no backup.
    pub fn keep_mode(new: u32) -> Options {
        Options {
            mode: Mode::KeepOr(new),
            backup: Backup::None,
        }
    }

    pub fn backup(self, backup: Backup) -> Options {
        Options { backup, ..self }
    }
}

/// A finished replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The file written: the path asked for, or the file its symlink points to.
    pub path: PathBuf,
    /// Where the previous content was saved, if a backup was asked for and there was a file.
    pub backup: Option<PathBuf>,
}

/// New content written and synced under a temporary name beside its file, waiting for `commit`.
/// Dropping it without committing removes the temporary file and leaves the file untouched.
#[derive(Debug)]
pub struct Staged {
    temp: Option<PathBuf>,
    target: PathBuf,
    backup: Option<PathBuf>,
}

impl Staged {
    /// Renames the new content over the file and syncs the directory, so the change survives a
    /// crash once this returns.
    pub fn commit(mut self) -> Result<Replaced, DurableError> {
        let Some(temp) = self.temp.take() else {
            unreachable!("a staged write is committed once");
        };
        let result = fs::rename(&temp, &self.target).and_then(|()| sync_dir(&self.target));
        if let Err(source) = result {
            let _ = fs::remove_file(&temp);
            return Err(DurableError::Write {
                path: self.target.clone(),
                source,
            });
        }
        Ok(Replaced {
            path: self.target.clone(),
            backup: self.backup.take(),
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Replaces `path` with `bytes` atomically: readers see the old content or the new one, never a
/// mix, and after a crash the file holds one of them.
pub fn replace(path: &Path, bytes: &[u8], options: &Options) -> Result<Replaced, DurableError> {
    stage(path, bytes, options)?.commit()
}

/// The first half of `replace`: backs the old content up if asked and writes the new content
/// under a temporary name. Several files staged first and committed together are all complete
/// before any of them changes.
pub fn stage(path: &Path, bytes: &[u8], options: &Options) -> Result<Staged, DurableError> {
    let target = resolve(path)?;
    let write_err = |source| DurableError::Write {
        path: target.clone(),
        source,
    };
    let old = match fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(write_err(e)),
    };
    let mode = match (options.mode, &old) {
        (Mode::KeepOr(_), Some(meta)) => meta.permissions().mode() & 0o7777,
        (Mode::Exactly(mode) | Mode::KeepOr(mode), _) => mode,
    };
    let backup = match (&options.backup, &old) {
        (Backup::None, _) | (_, None) => None,
        (backup, Some(meta)) => Some(write_backup(&target, backup, mode, meta)?),
    };
    let dir = parent(&target);
    let (temp, mut file) = create_temp(dir, &target).map_err(write_err)?;
    let staged = Staged {
        temp: Some(temp),
        target: target.clone(),
        backup,
    };
    file.write_all(bytes).map_err(write_err)?;
    // The mode is set after creation because the umask may have narrowed it.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(write_err)?;
    if let Some(meta) = &old {
        keep_owner(&file, meta, &target)?;
    }
    file.sync_all().map_err(write_err)?;
    Ok(staged)
}

/// Writes a new file `path` with `bytes` and `mode`; fails if it exists. The file appears
/// complete or not at all.
pub fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DurableError> {
    let dir = parent(path);
    let name = path.file_name().unwrap_or_default().to_os_string();
    let mut taken = false;
    create_unique(dir, bytes, mode, |n| {
        // Only the one name: a second call means it was taken.
        taken = n > 0;
        (!taken).then(|| name.clone())
    })
    .map_err(|e| match e {
        DurableError::NoFreeName { path } if taken => DurableError::Write {
            path,
            source: io::Error::new(io::ErrorKind::AlreadyExists, "it already exists"),
        },
        other => other,
    })
    .map(|_| ())
}

/// Writes `bytes` with `mode` to a new file in `dir` under the first free name `names(0)`,
/// `names(1)`, … (until `names` returns None) and returns its path. The file is written and synced
/// under a temporary name, then linked to its final name, so it appears complete or not at all
/// and never replaces an existing file, even when two processes race for the same name.
pub fn create_unique(
    dir: &Path,
    bytes: &[u8],
    mode: u32,
    mut names: impl FnMut(u32) -> Option<OsString>,
) -> Result<PathBuf, DurableError> {
    let first = names(0).unwrap_or_default();
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DurableError::Write { path, source }
    };
    let first_path = dir.join(&first);
    let (temp, mut file) = create_temp(dir, &first_path).map_err(write_err(&first_path))?;
    let result = (|| {
        file.write_all(bytes).map_err(write_err(&first_path))?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(write_err(&first_path))?;
        file.sync_all().map_err(write_err(&first_path))?;
        let mut name = Some(first.clone());
        for n in 1..=MAX_NAMES {
            let Some(current) = name else { break };
            let path = dir.join(current);
            match fs::hard_link(&temp, &path) {
                Ok(()) => {
                    sync_dir(&path).map_err(write_err(&path))?;
                    return Ok(path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => name = names(n),
                Err(e) => return Err(write_err(&path)(e)),
            }
        }
        Err(DurableError::NoFreeName { path: first_path })
    })();
    let _ = fs::remove_file(&temp);
    result
}

/// The file `path` names: its symlink target when it is a link that resolves, so the link stays
/// a link; otherwise `path` itself.
fn resolve(path: &Path) -> Result<PathBuf, DurableError> {
    match fs::canonicalize(path) {
        Ok(target) => Ok(target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path.to_path_buf()),
        Err(source) => Err(DurableError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_backup(
    target: &Path,
    backup: &Backup,
    mode: u32,
    meta: &fs::Metadata,
) -> Result<PathBuf, DurableError> {
    let old = fs::read(target).map_err(|source| DurableError::Write {
        path: target.to_path_buf(),
        source,
    })?;
    let name = target.file_name().unwrap_or_default();
    let named = |suffix: &str| {
        let mut n = name.to_os_string();
        n.push(suffix);
        n
    };
    let dir = parent(target);
    let path = match backup {
        Backup::None => unreachable!("no backup is written for Backup::None"),
        Backup::KeepFirst(suffix) => {
            let path = dir.join(named(suffix));
            match create_new(&path, &old, mode) {
                Ok(()) => {}
                Err(DurableError::Write { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    return Ok(path);
                }
                Err(e) => return Err(e),
            }
            path
        }
        Backup::Numbered(suffix) => create_unique(dir, &old, mode, |n| {
            Some(if n == 0 {
                named(suffix)
            } else {
                named(&format!("{suffix}.{n}"))
            })
        })?,
    };
    let file = File::open(&path).map_err(|source| DurableError::Write {
        path: path.clone(),
        source,
    })?;
    keep_owner(&file, meta, &path)?;
    Ok(path)
}

/// A private (0600) new file beside `target`, named after it; the name contains `.tmp`.
fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, File)> {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let pid = std::process::id();
    for n in 0..MAX_NAMES {
        let temp = dir.join(format!(".{name}.tmp.{pid}.{n}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "too many leftover temporary files beside it",
    ))
}

/// Gives `file` the owner of the file it replaces; refuses instead of changing who owns it.
fn keep_owner(file: &File, old: &fs::Metadata, path: &Path) -> Result<(), DurableError> {
    let new = file.metadata().map_err(|source| DurableError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    if new.uid() == old.uid() && new.gid() == old.gid() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(|source| {
        DurableError::Owner {
            path: path.to_path_buf(),
            uid: old.uid(),
            gid: old.gid(),
            source,
        }
    })
}

/// A new name is durable only once its directory entry is.
fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path))?.sync_all()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replace_writes_a_new_file_with_the_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let done = replace(&path, b"one\n", &Options::mode(0o600)).unwrap();
        assert_eq!(done.path, path.canonicalize().unwrap());
        assert_eq!(done.backup, None);
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn exact_mode_wins_over_the_old_mode_and_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        replace(&path, b"new", &Options::mode(0o600)).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        replace(&path, b"new", &Options::mode(0o755)).unwrap();
        assert_eq!(mode_of(&path), 0o755);
    }

    #[test]
    fn keep_mode_keeps_the_replaced_files_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        replace(&path, b"a", &Options::keep_mode(0o600)).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, b"b", &Options::keep_mode(0o600)).unwrap();
        assert_eq!(mode_of(&path), 0o640);
        assert_eq!(fs::read(&path).unwrap(), b"b");
    }

    #[test]
    fn keep_first_backup_holds_the_oldest_content_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "v1").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let options = Options::keep_mode(0o600).backup(Backup::KeepFirst(".recover-1.bak".into()));
        let first = replace(&path, b"v2", &options).unwrap();
        let backup = dir.path().join("tbot.yaml.recover-1.bak");
        assert_eq!(first.backup.as_deref(), Some(backup.as_path()));
        let second = replace(&path, b"v3", &options).unwrap();
        assert_eq!(second.backup.as_deref(), Some(backup.as_path()));
        assert_eq!(fs::read(&backup).unwrap(), b"v1");
        assert_eq!(mode_of(&backup), 0o640);
        assert_eq!(fs::read(&path).unwrap(), b"v3");
    }

    #[test]
    fn numbered_backups_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        fs::write(&path, "v1").unwrap();
        let options = Options::keep_mode(0o600).backup(Backup::Numbered(".bak".into()));
        let first = replace(&path, b"v2", &options).unwrap().backup.unwrap();
        let second = replace(&path, b"v3", &options).unwrap().backup.unwrap();
        assert_eq!(first, dir.path().join("tbot.yaml.bak"));
        assert_eq!(second, dir.path().join("tbot.yaml.bak.1"));
        assert_eq!(fs::read(&first).unwrap(), b"v1");
        assert_eq!(fs::read(&second).unwrap(), b"v2");
    }

    #[test]
    fn no_backup_is_made_of_a_file_that_did_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tbot.yaml");
        let options = Options::keep_mode(0o600).backup(Backup::Numbered(".bak".into()));
        assert_eq!(replace(&path, b"v1", &options).unwrap().backup, None);
        assert_eq!(entries(dir.path()), ["tbot.yaml"]);
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("tbot.yaml");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink("real.yaml", &link).unwrap();
        let options = Options::keep_mode(0o600).backup(Backup::Numbered(".bak".into()));
        let done = replace(&link, b"new", &options).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(done.path, real.canonicalize().unwrap());
        assert_eq!(
            done.backup,
            Some(real.canonicalize().unwrap().with_extension("yaml.bak"))
        );
    }

    #[test]
    fn owner_is_kept_when_replacing() {
        if running_as_root() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tbot.yaml");
            fs::write(&path, "old").unwrap();
            std::os::unix::fs::chown(&path, Some(4321), Some(4322)).unwrap();
            let options = Options::keep_mode(0o600).backup(Backup::Numbered(".bak".into()));
            let done = replace(&path, b"new", &options).unwrap();
            for file in [&path, &done.backup.unwrap()] {
                let meta = fs::metadata(file).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (4321, 4322), "{}", file.display());
            }
        }
    }

    /// Whether this test runs as root, judged by owning a file it creates as uid 0.
    fn running_as_root() -> bool {
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        fs::write(&probe, "").unwrap();
        fs::metadata(&probe).unwrap().uid() == 0
    }

    #[test]
    fn a_failed_replace_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be replaced by a file: the rename fails after the temp is written.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "keep").unwrap();
        let err = replace(&path, b"new", &Options::mode(0o600)).unwrap_err();
        assert!(err.to_string().starts_with("cannot write "), "{err}");
        assert!(err.to_string().contains("taken"), "{err}");
        assert_eq!(entries(dir.path()), ["taken"]);
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"keep");
    }

    #[test]
    fn a_staged_write_dropped_without_commit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        fs::write(&path, "old").unwrap();
        let staged = stage(&path, b"new", &Options::mode(0o600)).unwrap();
        assert_eq!(entries(dir.path()).len(), 2, "the temp file is beside it");
        drop(staged);
        assert_eq!(entries(dir.path()), ["key"]);
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn unique_names_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let names = |n: u32| {
            Some(OsString::from(if n == 0 {
                "snap.yaml".to_owned()
            } else {
                format!("snap-{}.yaml", n + 1)
            }))
        };
        let paths: Vec<PathBuf> = (0..3)
            .map(|i| create_unique(dir.path(), format!("{i}").as_bytes(), 0o600, names).unwrap())
            .collect();
        assert_eq!(
            entries(dir.path()),
            ["snap-2.yaml", "snap-3.yaml", "snap.yaml"]
        );
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(fs::read_to_string(path).unwrap(), format!("{i}"));
            assert_eq!(mode_of(path), 0o600);
        }
    }

    #[test]
    fn unique_names_run_out_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("only"), "x").unwrap();
        let err = create_unique(dir.path(), b"y", 0o600, |n| (n == 0).then(|| "only".into()))
            .unwrap_err();
        assert!(matches!(err, DurableError::NoFreeName { .. }), "{err}");
        assert_eq!(entries(dir.path()), ["only"]);
    }

    #[test]
    fn create_new_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.key");
        create_new(&path, b"one", 0o600).unwrap();
        let err = create_new(&path, b"two", 0o600).unwrap_err();
        assert_eq!(err.path(), path);
        assert_eq!(err.into_io().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(entries(dir.path()), ["ca.key"]);
    }

    #[test]
    fn create_new_in_a_missing_directory_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/ca.key");
        let err = create_new(&path, b"one", 0o600).unwrap_err();
        assert!(err.to_string().contains("missing/ca.key"), "{err}");
    }
}

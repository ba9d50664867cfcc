//! Writes a new join token into a tbot.yaml (`onboarding.token`) by changing only the token's bytes,
//! or into the token file that value names; the rewrite is atomic, backed up, mode and owner kept.
//!
//! tbot.yaml is never round-tripped through a YAML serializer: that would drop comments and
//! reorder keys. The edit is planned by [`token`] on the linter's span-preserving reader, so the
//! token writer and `mwictl lint --fix` read and edit tbot.yaml the same way.

mod token;

pub use token::{TokenEdit, current_token, plan_token_edit};

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the token cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum TbotConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not UTF-8 text; is it a tbot.yaml?", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}: {detail}; put the token in by hand", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`write_token`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// The file that now holds the token: the tbot.yaml, or the token file it names.
    pub file: PathBuf,
    /// A copy of that file as it was, beside it; `None` when nothing changed or it did not exist.
    pub backup: Option<PathBuf>,
    /// False when the file already held this token.
    pub changed: bool,
    /// True when `onboarding.token` is an absolute path and the token went into that file.
    pub via_token_file: bool,
}

/// Puts `token` into the tbot.yaml at `config` (or into the token file its `onboarding.token`
/// names), atomically, with a backup named `<file>.<backup_tag>.bak` beside the changed file. An
/// existing backup of that name is kept: it holds the file as it was before this run.
pub fn write_token(
    config: &Path,
    token: &str,
    backup_tag: &str,
) -> Result<Written, TbotConfigError> {
    let config = resolve(config)?;
    let bytes = fs::read(&config).map_err(|source| TbotConfigError::Read {
        path: config.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TbotConfigError::NotUtf8 {
        path: config.clone(),
    })?;
    let edit = plan_token_edit(&text, token).map_err(|detail| TbotConfigError::Unsupported {
        path: config.clone(),
        detail,
    })?;
    match edit {
        TokenEdit::Config(new) => {
            if new == text {
                return Ok(Written {
                    file: config,
                    backup: None,
                    changed: false,
                    via_token_file: false,
                });
            }
            let backup = replace_file(&config, text.as_bytes(), new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: config,
                backup: Some(backup),
                changed: true,
                via_token_file: false,
            })
        }
        TokenEdit::TokenFile(path) => write_token_file(&path, token, backup_tag),
    }
}

/// tbot reads a token file trimmed; the file gets the token and a newline.
fn write_token_file(
    path: &Path,
    token: &str,
    backup_tag: &str,
) -> Result<Written, TbotConfigError> {
    let new = format!("{token}\n");
    match fs::read(path) {
        Ok(old) => {
            let path = resolve(path)?;
            if String::from_utf8_lossy(&old).trim() == token {
                return Ok(Written {
                    file: path,
                    backup: None,
                    changed: false,
                    via_token_file: true,
                });
            }
            let backup = replace_file(&path, &old, new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: path,
                backup: Some(backup),
                changed: true,
                via_token_file: true,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let write_err = |source| TbotConfigError::Write {
                path: path.to_path_buf(),
                source,
            };
            let dir = path.parent().unwrap_or(Path::new("/"));
            let tmp = temp_path(path);
            let result = (|| {
                let mut file = create_private(&tmp, 0o600)?;
                file.write_all(new.as_bytes())?;
                file.sync_all()?;
                fs::rename(&tmp, path)?;
                sync_dir(dir)
            })();
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            result.map_err(write_err)?;
            Ok(Written {
                file: path.to_path_buf(),
                backup: None,
                changed: true,
                via_token_file: true,
            })
        }
        Err(source) => Err(TbotConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The file a symlink points to, so the link itself stays a link.
fn resolve(path: &Path) -> Result<PathBuf, TbotConfigError> {
    fs::canonicalize(path).map_err(|source| TbotConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Backs `old` up beside `path` (unless that backup exists), then replaces `path` with `new`:
/// temp file in the same directory, same mode and owner, fsync, rename, fsync of the directory.
fn replace_file(
    path: &Path,
    old: &[u8],
    new: &[u8],
    backup_tag: &str,
) -> Result<PathBuf, TbotConfigError> {
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| TbotConfigError::Write { path: p, source }
    };
    let meta = fs::metadata(path).map_err(|source| TbotConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    let dir = path.parent().unwrap_or(Path::new("/"));
    let backup = backup_path(path, backup_tag);
    if !backup.exists() {
        let tmp = temp_path(&backup);
        let result = (|| {
            let mut file = create_private(&tmp, mode)?;
            file.write_all(old)?;
            file.sync_all()?;
            keep_owner(&file, &meta)?;
            fs::rename(&tmp, &backup)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(write_err(&backup))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = create_private(&tmp, mode)?;
        file.write_all(new)?;
        file.sync_all()?;
        keep_owner(&file, &meta)?;
        // The mode is set again after writing: the umask may have narrowed it at creation.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_err(path))?;
    Ok(backup)
}

/// `<path>.<tag>.bak`.
pub fn backup_path(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}.bak"));
    path.with_file_name(name)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".mwictl-tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn create_private(path: &Path, mode: u32) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
}

/// Gives the new file the old one's owner; refuses (instead of changing the owner) when that is
/// not allowed.
fn keep_owner(file: &fs::File, old: &fs::Metadata) -> std::io::Result<()> {
    let new = file.metadata()?;
    if new.uid() == old.uid() && new.gid() == old.gid() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot keep its owner {}:{} ({e}); run as that user or root",
                old.uid(),
                old.gid()
            ),
        )
    })
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;

//! Writes a new join token into a tbot.yaml (`onboarding.token`) by changing only the token's bytes,
//! or into the token file that value names; the rewrite is atomic, backed up, mode and owner kept.
//!
//! tbot.yaml is never round-tripped through a YAML serializer: that would drop comments and
//! reorder keys. The edit is planned by [`token`] on the linter's span-preserving reader, so the
//! token writer and `mwictl lint --fix` read and edit tbot.yaml the same way.

mod bound_keypair;
mod token;

pub use bound_keypair::{BoundKeypairEdit, plan_bound_keypair_edit, rewrite_join_uri};
pub use token::{TokenEdit, current_token, plan_token_edit};

use std::fs;
use std::path::{Path, PathBuf};

use mwi_identity::durable;

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
    #[error("{} is not a tbot configuration: {detail}", path.display())]
    NotTbotConfig { path: PathBuf, detail: String },
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

/// The tbot.yaml at `config` (symlinks resolved, so the edit replaces the real file) and its text.
fn read_resolved(config: &Path) -> Result<(PathBuf, String), TbotConfigError> {
    let config = resolve(config)?;
    let bytes = fs::read(&config).map_err(|source| TbotConfigError::Read {
        path: config.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TbotConfigError::NotUtf8 {
        path: config.clone(),
    })?;
    Ok((config, text))
}

/// Puts `token` into the tbot.yaml at `config` (or into the token file its `onboarding.token`
/// names), atomically, with a backup named `<file>.<backup_tag>.bak` beside the changed file. An
/// existing backup of that name is kept: it holds the file as it was before this run.
pub fn write_token(
    config: &Path,
    token: &str,
    backup_tag: &str,
) -> Result<Written, TbotConfigError> {
    let (config, text) = read_resolved(config)?;
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
            let backup = replace_file(&config, new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: config,
                backup,
                changed: true,
                via_token_file: false,
            })
        }
        TokenEdit::TokenFile(path) => write_token_file(&path, token, backup_tag),
    }
}

/// What [`write_bound_keypair`] did: every file it changed (or found already holding the new
/// values), the tbot.yaml first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BoundKeypairWritten {
    pub files: Vec<Written>,
    /// True when the file joins by `join_uri`, which now names the token and the secret.
    pub via_join_uri: bool,
}

/// Puts a bound-keypair bot's fresh `token` and registration `secret` (none for a preregistered
/// key) into the tbot.yaml at `config` and the files it names for them (see
/// [`plan_bound_keypair_edit`]), each replaced atomically with a backup `<file>.<backup_tag>.bak`.
pub fn write_bound_keypair(
    config: &Path,
    token: &str,
    secret: Option<&str>,
    backup_tag: &str,
) -> Result<BoundKeypairWritten, TbotConfigError> {
    let (config, text) = read_resolved(config)?;
    let edit = plan_bound_keypair_edit(&text, token, secret).map_err(|detail| {
        TbotConfigError::Unsupported {
            path: config.clone(),
            detail,
        }
    })?;
    let mut files = Vec::new();
    if let Some(path) = &edit.token_file {
        files.push(write_token_file(path, token, backup_tag)?);
    }
    if let (Some(path), Some(secret)) = (&edit.secret_file, secret) {
        let mut written = write_token_file(path, secret, backup_tag)?;
        written.via_token_file = false;
        files.push(written);
    }
    let yaml = if edit.config == text {
        Written {
            file: config,
            backup: None,
            changed: false,
            via_token_file: false,
        }
    } else {
        let backup = replace_file(&config, edit.config.as_bytes(), backup_tag)?;
        Written {
            file: config,
            backup,
            changed: true,
            via_token_file: false,
        }
    };
    files.insert(0, yaml);
    Ok(BoundKeypairWritten {
        files,
        via_join_uri: edit.via_join_uri,
    })
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
            let backup = replace_file(&path, new.as_bytes(), backup_tag)?;
            Ok(Written {
                file: path,
                backup,
                changed: true,
                via_token_file: true,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            durable::replace(path, new.as_bytes(), &durable::Options::keep_mode(0o600))
                .map_err(write_error)?;
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

/// Backs the file up as [`backup_path`] (unless that backup exists), then replaces it with `new`
/// keeping its mode and owner (see `durable`).
fn replace_file(
    path: &Path,
    new: &[u8],
    backup_tag: &str,
) -> Result<Option<PathBuf>, TbotConfigError> {
    let options = durable::Options::keep_mode(0o600)
        .backup(durable::Backup::KeepFirst(format!(".{backup_tag}.bak")));
    let done = durable::replace(path, new, &options).map_err(write_error)?;
    Ok(done.backup)
}

fn write_error(e: durable::DurableError) -> TbotConfigError {
    TbotConfigError::Write {
        path: e.path().to_path_buf(),
        source: e.into_io(),
    }
}

/// The top-level keys every tbot configuration has; an alternative is separated by `/`.
const TBOT_KEYS: [&[&str]; 5] = [
    &["version"],
    &["onboarding"],
    &["storage"],
    &["services", "outputs"],
    &["proxy_server", "auth_server"],
];

/// Refuses, before any token is issued for it, a file that is not a tbot configuration: not
/// UTF-8, not YAML, not a mapping, or a mapping without tbot's keys (the missing ones are named).
pub fn check_config(path: &Path) -> Result<(), TbotConfigError> {
    let bytes = fs::read(path).map_err(|source| TbotConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TbotConfigError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    check_config_text(&text).map_err(|detail| TbotConfigError::NotTbotConfig {
        path: path.to_path_buf(),
        detail,
    })
}

/// [`check_config`] on the file's text: why it is not a tbot configuration.
pub fn check_config_text(text: &str) -> Result<(), String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML ({e})"))?;
    let serde_yaml_ng::Value::Mapping(map) = doc else {
        return Err("a tbot.yaml is a YAML mapping (version, onboarding, storage, ...)".into());
    };
    let missing: Vec<String> = TBOT_KEYS
        .iter()
        .filter(|alternatives| !alternatives.iter().any(|k| map.contains_key(*k)))
        .map(|alternatives| alternatives.join(" or "))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!("it has no {}", missing.join(", no ")))
}

/// `<path>.<tag>.bak`.
pub fn backup_path(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}.bak"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests;

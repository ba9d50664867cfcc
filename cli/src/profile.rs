//! The saved connection profile: which auth server and identity file plain `mwictl` commands use
//! when no flags say otherwise. `mwictl lab start` writes it; every command may read it.

use std::path::{Path, PathBuf};

use mwi_identity::durable;
use serde::{Deserialize, Serialize};

/// Where to connect by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `HOST:PORT` of the auth service.
    pub auth_server: String,
    /// The identity file to authenticate with.
    pub identity: PathBuf,
    /// The cluster name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
}

/// Why a profile cannot be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("profile {path} is not valid: {source}")]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("profile {path}: cannot write it: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Profile {
    /// Reads the profile at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Profile>, ProfileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ProfileError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ProfileError::Invalid {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Writes the profile atomically (see `durable`), creating its directory. A new profile gets
    /// mode 0644; a replaced one keeps its mode.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let err = |source| ProfileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        // Fails only for a non-UTF-8 identity path, which JSON cannot hold.
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        text.push('\n');
        durable::replace(path, text.as_bytes(), &durable::Options::keep_mode(0o644))
            .map(|_| ())
            .map_err(|e| err(e.into_io()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_profile_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/profile.json");
        let profile = Profile {
            auth_server: "127.0.0.1:3025".into(),
            identity: "/x/admin.identity".into(),
            cluster_name: Some("lab".into()),
        };
        profile.save(&path).unwrap();
        assert_eq!(Profile::load(&path).unwrap(), Some(profile));
    }

    #[test]
    fn missing_profile_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Profile::load(&dir.path().join("profile.json")).unwrap(),
            None
        );
    }

    #[test]
    fn garbage_profile_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = Profile::load(&path).unwrap_err().to_string();
        assert!(err.contains("profile.json is not valid"), "{err}");
    }
}

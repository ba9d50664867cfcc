//! Every path mwictl writes: the profile, wizard state and journal, lock backups and the default
//! lab data dir, all under one root (`MWICTL_HOME`, else the platform data dir + `mwictl`).

use std::path::{Path, PathBuf};

/// The environment variable that moves every file mwictl writes (tests point it at a temp dir).
pub const HOME_ENV: &str = "MWICTL_HOME";

/// Why the home directory cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot find a data directory for mwictl (no platform data dir); set {HOME_ENV}")]
    NoDataDir,
    #[error("{HOME_ENV} is set but empty; set it to a directory or unset it")]
    EmptyEnv,
}

/// The root of mwictl's files and the paths under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Uses `MWICTL_HOME` when set, else the platform data dir (`~/.local/share/mwictl` on Linux).
    pub fn from_env() -> Result<Home, HomeError> {
        match std::env::var_os(HOME_ENV) {
            Some(v) if v.is_empty() => Err(HomeError::EmptyEnv),
            Some(v) => Ok(Home::at(PathBuf::from(v))),
            None => dirs::data_dir()
                .map(|d| Home::at(d.join("mwictl")))
                .ok_or(HomeError::NoDataDir),
        }
    }

    /// A home rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The saved connection profile (`mwictl lab start` writes it).
    pub fn profile(&self) -> PathBuf {
        self.root.join("profile.json")
    }

    /// State of interrupted wizards, so they can be resumed.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// The journal of executed wizard steps.
    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// Backups of removed locks and edited resources.
    pub fn backups_dir(&self) -> PathBuf {
        self.root.join("backups")
    }

    /// The default data dir of `mwictl lab start`.
    pub fn lab_dir(&self) -> PathBuf {
        self.root.join("lab")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_under_the_root() {
        let home = Home::at("/tmp/mw");
        for p in [
            home.profile(),
            home.state_dir(),
            home.journal_dir(),
            home.backups_dir(),
            home.lab_dir(),
        ] {
            assert!(p.starts_with("/tmp/mw"), "{}", p.display());
        }
        assert_eq!(home.profile(), Path::new("/tmp/mw/profile.json"));
    }
}

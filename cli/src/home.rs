//! Every path mwictl writes: the profile, journals of multi-step runs, backups and the default
//! lab data dirs, all under one root (`MWICTL_HOME`, else the platform data dir + `mwictl`).

use std::path::{Path, PathBuf};

use crate::environment;
use crate::recover::plan::{Operation, RECOVER_JOURNALS};

/// The environment variable that moves every file mwictl writes (tests point it at a temp dir).
pub const HOME_ENV: &str = environment::MWICTL_HOME.name();

const PROFILE: &str = "profile.json";
const STATE: &str = "state";
const BACKUPS: &str = "backups";
const LAB: &str = "lab";
const LAB_BOTS: &str = "lab-bots";

/// One file or directory under the home, for the FILES section of `--help` and the man page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeFile {
    /// Relative to the home; directories end in `/`.
    pub path: String,
    pub about: &'static str,
}

/// Everything mwictl keeps under the home, with what writes and reads it.
pub fn files() -> Vec<HomeFile> {
    let state = |name: &str, about| HomeFile {
        path: format!("{STATE}/{name}/"),
        about,
    };
    vec![
        HomeFile {
            path: PROFILE.into(),
            about: "The connection profile (auth server, identity file) `mwictl lab start` saves; \
                    used when neither --auth-server nor -i is given.",
        },
        state(
            RECOVER_JOURNALS,
            "Journals of `mwictl recover` runs, one file per run; `recover --resume` continues \
             the newest unfinished one.",
        ),
        state(
            Operation::Unlock.journal_dir_name(),
            "Journals of `mwictl unlock --bot` runs (`unlock --resume`).",
        ),
        state(
            Operation::BotsRecreate.journal_dir_name(),
            "Journals of `mwictl bots recreate` runs (`bots recreate --resume`).",
        ),
        HomeFile {
            path: format!("{BACKUPS}/"),
            about: "YAML copies of the resources mwictl removed or replaced (rm, unlock, bots \
                    recreate, recover, ...); `mwictl create FILE` restores one.",
        },
        HomeFile {
            path: format!("{LAB}/"),
            about: "Default data dir of `mwictl lab start`: its CAs, admin identity and database.",
        },
        HomeFile {
            path: format!("{LAB_BOTS}/NAME/"),
            about: "Default dir of `mwictl lab break NAME` and of the recover wizard's lab bot: \
                    tbot.yaml, its log and data.",
        },
    ]
}

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
        match environment::MWICTL_HOME.get_os() {
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
        self.root.join(PROFILE)
    }

    /// The journals of multi-step runs, one directory per operation, so they can be resumed.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE)
    }

    /// Backups of removed locks and edited resources.
    pub fn backups_dir(&self) -> PathBuf {
        self.root.join(BACKUPS)
    }

    /// The default data dir of `mwictl lab start`.
    pub fn lab_dir(&self) -> PathBuf {
        self.root.join(LAB)
    }

    /// The default dir of lab bot `bot` (`mwictl lab break`, the recover wizard).
    pub fn lab_bot_dir(&self, bot: &str) -> PathBuf {
        self.root.join(LAB_BOTS).join(bot)
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
            home.backups_dir(),
            home.lab_dir(),
            home.lab_bot_dir("b"),
        ] {
            assert!(p.starts_with("/tmp/mw"), "{}", p.display());
        }
        assert_eq!(home.profile(), Path::new("/tmp/mw/profile.json"));
    }

    #[test]
    fn the_documented_files_are_the_paths_used() {
        let home = Home::at("/h");
        let documented: Vec<PathBuf> = files().iter().map(|f| home.root().join(&f.path)).collect();
        let recover = home.state_dir().join(RECOVER_JOURNALS);
        for used in [
            home.profile(),
            recover,
            home.state_dir().join(Operation::Unlock.journal_dir_name()),
            home.state_dir()
                .join(Operation::BotsRecreate.journal_dir_name()),
            home.backups_dir(),
            home.lab_dir(),
            home.lab_bot_dir("NAME"),
        ] {
            assert!(
                documented.contains(&used),
                "{} is not in files()",
                used.display()
            );
        }
        assert_eq!(documented.len(), 7);
    }
}

//! The agent's internal data directory, laid out with tbot's file names (`key`, `tlscert`,
//! `tokenhash`, ..., and the bound-keypair files `id_bkp`, `id_bkp.pub`, `bkp_state`,
//! `bkp_key_history.json`), its exclusive `lock` file, and atomic saves (temp file, fsync, rename).

use mwi_identity::durable;
use std::fs::File;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::identity::{Identity, Parts};

/// tbot's internal file names.
pub mod name {
    pub const KEY: &str = "key";
    pub const KEY_PUB: &str = "key.pub";
    pub const TLS_CERT: &str = "tlscert";
    pub const SSH_CERT: &str = "key-cert.pub";
    pub const TLS_CAS: &str = "tlscacerts";
    pub const SSH_CAS: &str = "sshcacerts";
    pub const TOKEN_HASH: &str = "tokenhash";
    pub const LOCK: &str = "lock";
    pub const WRITE_TEST: &str = ".write-test";
    /// Bound-keypair client state (lib/auth/join/boundkeypair/boundkeypair.go, 2025).
    pub const BKP_KEY: &str = "id_bkp";
    pub const BKP_PUBLIC_KEY: &str = "id_bkp.pub";
    pub const BKP_JOIN_STATE: &str = "bkp_state";
    pub const BKP_KEY_HISTORY: &str = "bkp_key_history.json";
}

/// How many keys tbot keeps in `bkp_key_history.json` (`KeyHistoryLength`).
pub const KEY_HISTORY_LENGTH: usize = 10;

/// One key of `bkp_key_history.json`, newest first: when it was made and its PEM.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyHistoryEntry {
    /// RFC 3339, as Go marshals a time.Time.
    pub time: String,
    pub private_key: String,
}

impl std::fmt::Debug for KeyHistoryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHistoryEntry")
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeyHistory {
    entries: Vec<KeyHistoryEntry>,
}

/// The bound-keypair files of a data directory.
#[derive(Clone, PartialEq, Eq)]
pub struct BkpFiles {
    /// `id_bkp`: the active private key (PEM).
    pub private_key: String,
    /// `id_bkp.pub`: the active public key, authorized_keys form.
    pub public_key: String,
    /// `bkp_state`: the join state JWT from the last join; empty before the first.
    pub join_state: Vec<u8>,
    /// `bkp_key_history.json`, newest first.
    pub history: Vec<KeyHistoryEntry>,
}

impl std::fmt::Debug for BkpFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private keys never reach a log or a panic message.
        f.debug_struct("BkpFiles")
            .field("public_key", &self.public_key)
            .field("join_state", &!self.join_state.is_empty())
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// What [`Store::load_bkp`] found.
#[derive(Debug)]
pub struct LoadedBkp {
    pub files: BkpFiles,
    /// Why `bkp_key_history.json` was not used, if it was not (tbot goes on without it).
    pub history_problem: Option<String>,
}

/// tbot joins several CAs in one file with this separator.
const CA_SEPARATOR: char = '$';

/// Why the data directory cannot be used. Each renders as one line naming the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data directory {}: cannot create it: {source}", .dir.display())]
    Create {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {} is in use by another agent (it holds {}); run one agent per data directory, or pass --no-data-dir-lock to share it on purpose",
        .dir.display(), .dir.join(name::LOCK).display()
    )]
    Locked { dir: PathBuf },
    #[error("{}: cannot lock it: {source}", .path.display())]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read it: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write it: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the identity stored in {} is unusable: {reason}", .dir.display())]
    Unusable { dir: PathBuf, reason: String },
}

/// The opened data directory; holds the `lock` file's lock for as long as it lives.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: Option<File>,
}

/// The SHA-256 of a join token, in hex, as tbot stores it in `tokenhash`.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a configured token differs from the one the stored identity was joined with. As in
/// tbot, an empty value on either side is not a change.
pub fn token_changed(stored_hash: Option<&str>, token: Option<&str>) -> bool {
    match (stored_hash, token) {
        (Some(stored), Some(token)) if !stored.is_empty() && !token.is_empty() => {
            stored != token_hash(token)
        }
        _ => false,
    }
}

impl Store {
    /// Opens (creating, mode 0700) the directory and, when `lock` is set, takes the exclusive
    /// non-blocking lock on its `lock` file.
    pub fn open(dir: &Path, lock: bool) -> Result<Store, StoreError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| StoreError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
        let lock = if lock { Some(take_lock(dir)?) } else { None };
        Ok(Store {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored identity, or `None` when there is none (no `tlscert`).
    pub fn load(&self) -> Result<Option<Identity>, StoreError> {
        let Some(tls_cert_pem) = self.read_optional(name::TLS_CERT)? else {
            return Ok(None);
        };
        let required = |file: &str| {
            self.read_optional(file)?
                .ok_or_else(|| StoreError::Unusable {
                    dir: self.dir.clone(),
                    reason: format!("{file} is missing"),
                })
        };
        let parts = Parts {
            private_key_pem: required(name::KEY)?,
            ssh_public_key: self.read_optional(name::KEY_PUB)?.unwrap_or_default(),
            tls_cert_pem,
            ssh_cert: self
                .read_optional(name::SSH_CERT)?
                .unwrap_or_default()
                .trim()
                .to_string(),
            tls_ca_pems: pem_blocks(&required(name::TLS_CAS)?),
            ssh_ca_keys: self
                .read_optional(name::SSH_CAS)?
                .unwrap_or_default()
                .split([CA_SEPARATOR, '\n'])
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty())
                .collect(),
        };
        Identity::assemble(parts)
            .map(Some)
            .map_err(|e| StoreError::Unusable {
                dir: self.dir.clone(),
                reason: e.to_string(),
            })
    }

    /// The stored `tokenhash`, trimmed; `None` when absent or empty.
    pub fn token_hash(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .read_optional(name::TOKEN_HASH)?
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty()))
    }

    /// Saves the identity (and the token hash, when given) so that each file is either the old or
    /// the new one: every file is written to a temporary name and synced first, then all are
    /// renamed, then the directory is synced.
    pub fn save(&self, identity: &Identity, token_hash: Option<&str>) -> Result<(), StoreError> {
        let tls_cas = identity
            .tls_ca_pems
            .iter()
            .map(|p| p.trim())
            .collect::<Vec<_>>()
            .join(&CA_SEPARATOR.to_string());
        let ssh_cas = identity.ssh_ca_keys.join(&CA_SEPARATOR.to_string());
        let mut files: Vec<(&str, String)> = vec![
            (name::KEY, identity.private_key_pem.clone()),
            (name::KEY_PUB, line(&identity.ssh_public_key)),
            (name::TLS_CERT, identity.tls_cert_pem.clone()),
            (name::SSH_CERT, line(&identity.ssh_cert)),
            (name::TLS_CAS, tls_cas + "\n"),
            (name::SSH_CAS, line(&ssh_cas)),
        ];
        if let Some(hash) = token_hash {
            files.push((name::TOKEN_HASH, hash.to_string()));
        }
        write_files_atomically(&self.dir, &files)
    }

    /// The bound-keypair files, or `None` when there is no active key (`id_bkp` absent or
    /// empty). A missing `bkp_state` is an unbound key; an unreadable history is reported and
    /// left out, as tbot does.
    pub fn load_bkp(&self) -> Result<Option<LoadedBkp>, StoreError> {
        let Some(private_key) = self
            .read_optional(name::BKP_KEY)?
            .filter(|k| !k.trim().is_empty())
        else {
            return Ok(None);
        };
        let join_state = self
            .read_optional(name::BKP_JOIN_STATE)?
            .unwrap_or_default()
            .trim()
            .as_bytes()
            .to_vec();
        let public_key = self
            .read_optional(name::BKP_PUBLIC_KEY)?
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut history_problem = None;
        let history = match self.read_optional(name::BKP_KEY_HISTORY) {
            Ok(Some(text)) if !text.trim().is_empty() => {
                match serde_json::from_str::<KeyHistory>(&text) {
                    Ok(history) => history.entries,
                    Err(e) => {
                        history_problem = Some(format!(
                            "{}: not a key history: {e}",
                            self.dir.join(name::BKP_KEY_HISTORY).display()
                        ));
                        Vec::new()
                    }
                }
            }
            Ok(_) => Vec::new(),
            Err(e) => {
                history_problem = Some(e.to_string());
                Vec::new()
            }
        };
        Ok(Some(LoadedBkp {
            files: BkpFiles {
                private_key,
                public_key,
                join_state,
                history,
            },
            history_problem,
        }))
    }

    /// Writes the bound-keypair files (mode 0600) all-or-nothing per file: `bkp_state` only
    /// when there is a join state, the history trimmed to [`KEY_HISTORY_LENGTH`].
    pub fn save_bkp(&self, files: &BkpFiles) -> Result<(), StoreError> {
        let history = KeyHistory {
            entries: files
                .history
                .iter()
                .take(KEY_HISTORY_LENGTH)
                .cloned()
                .collect(),
        };
        let history = serde_json::to_string(&history).map_err(|e| StoreError::Write {
            path: self.dir.join(name::BKP_KEY_HISTORY),
            source: std::io::Error::other(e),
        })?;
        let mut list: Vec<(&str, String)> = vec![
            (name::BKP_KEY, files.private_key.clone()),
            (name::BKP_PUBLIC_KEY, line(&files.public_key)),
            (name::BKP_KEY_HISTORY, history),
        ];
        if !files.join_state.is_empty() {
            list.push((
                name::BKP_JOIN_STATE,
                String::from_utf8_lossy(&files.join_state).into_owned(),
            ));
        }
        write_files_atomically(&self.dir, &list)
    }

    /// tbot's `.write-test`: proves the directory still takes writes before each renewal.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let path = self.dir.join(name::WRITE_TEST);
        let write = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        std::fs::write(&path, b"").map_err(write)?;
        std::fs::remove_file(&path).map_err(write)
    }

    fn read_optional(&self, file: &str) -> Result<Option<String>, StoreError> {
        let path = self.dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }
}

fn line(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{}\n", text.trim_end())
    }
}

/// Every `-----BEGIN ...-----` ... `-----END ...-----` block of `text`, whatever separates them.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from = &rest[start..];
        let Some(end) = from.find("-----END ") else {
            break;
        };
        let tail = &from[end + "-----END ".len()..];
        let Some(close) = tail.find("-----") else {
            break;
        };
        let stop = end + "-----END ".len() + close + "-----".len();
        blocks.push(format!("{}\n", &from[..stop]));
        rest = &from[stop..];
    }
    blocks
}

/// Writes `files` (mode 0600) into `dir` so that a crash leaves each file whole: all are staged
/// (written and synced under temporary names) before the first is renamed into place.
pub fn write_files_atomically(dir: &Path, files: &[(&str, String)]) -> Result<(), StoreError> {
    let failed = |e: durable::DurableError| StoreError::Write {
        path: e.path().to_path_buf(),
        source: e.into_io(),
    };
    let options = durable::Options::mode(0o600);
    let staged = files
        .iter()
        .map(|(file, content)| durable::stage(&dir.join(file), content.as_bytes(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    for file in staged {
        file.commit().map_err(failed)?;
    }
    Ok(())
}

fn take_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(name::LOCK);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|source| StoreError::Lock {
        path: path.clone(),
        source,
    })?;
    flock_exclusive(&file).map_err(|source| {
        if source.kind() == std::io::ErrorKind::WouldBlock {
            StoreError::Locked {
                dir: dir.to_path_buf(),
            }
        } else {
            StoreError::Lock { path, source }
        }
    })?;
    Ok(file)
}

#[cfg(unix)]
fn flock_exclusive(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the whole call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn flock_exclusive(_: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::{TestCa, bot_id, certs};
    use crate::keys::KeyPair;

    fn identity(generation: u64) -> Identity {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        Identity::from_certs(
            &key,
            &certs(&ca, &key, &bot_id(generation), 0, 4_000_000_000),
        )
        .unwrap()
    }

    #[test]
    fn token_hash_is_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_a_different_non_empty_token_is_a_change() {
        let stored = token_hash("old");
        assert!(token_changed(Some(&stored), Some("new")));
        assert!(!token_changed(Some(&stored), Some("old")));
        assert!(!token_changed(None, Some("new")));
        assert!(!token_changed(Some(""), Some("new")));
        assert!(!token_changed(Some(&stored), None));
        assert!(!token_changed(Some(&stored), Some("")));
    }

    #[test]
    fn saved_identity_uses_tbots_file_names_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), true).unwrap();
        assert!(store.load().unwrap().is_none());
        let id = identity(3);
        store.save(&id, Some(&token_hash("t"))).unwrap();
        for file in [
            name::KEY,
            name::KEY_PUB,
            name::TLS_CERT,
            name::SSH_CERT,
            name::TLS_CAS,
            name::SSH_CAS,
            name::TOKEN_HASH,
            name::LOCK,
        ] {
            assert!(dir.path().join(file).exists(), "{file} missing");
        }
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.cert.generation, 3);
        assert_eq!(loaded.tls_ca_pems, id.tls_ca_pems);
        assert_eq!(loaded.ssh_ca_keys, id.ssh_ca_keys);
        assert_eq!(store.token_hash().unwrap(), Some(token_hash("t")));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn saved_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        store.save(&identity(1), None).unwrap();
        let mode = std::fs::metadata(dir.path().join(name::KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key is readable by others: {mode:o}");
    }

    #[test]
    fn renewal_save_keeps_the_stored_token_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        store.save(&identity(1), Some("h1")).unwrap();
        store.save(&identity(2), None).unwrap();
        assert_eq!(store.token_hash().unwrap().as_deref(), Some("h1"));
    }

    #[test]
    fn second_locker_of_a_directory_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), true).unwrap();
        let err = Store::open(dir.path(), true).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }));
        let text = err.to_string();
        assert!(
            text.contains("--no-data-dir-lock") && text.contains("lock"),
            "{text}"
        );
        assert!(
            Store::open(dir.path(), false).is_ok(),
            "lock off shares the directory"
        );
        drop(first);
        assert!(Store::open(dir.path(), true).is_ok());
    }

    #[test]
    fn a_stored_identity_missing_its_key_is_unusable_not_absent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        store.save(&identity(1), None).unwrap();
        std::fs::remove_file(dir.path().join(name::KEY)).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("key is missing"), "{err}");
    }

    #[test]
    fn write_test_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        store.check_writable().unwrap();
        assert!(!dir.path().join(name::WRITE_TEST).exists());
    }

    fn bkp(n: usize) -> BkpFiles {
        BkpFiles {
            private_key: format!("PEM {n}\n"),
            public_key: format!("ssh-ed25519 AAAA{n}"),
            join_state: format!("jwt.{n}").into_bytes(),
            history: (0..n)
                .map(|i| KeyHistoryEntry {
                    time: format!("2026-01-01T00:00:{i:02}Z"),
                    private_key: format!("PEM {i}\n"),
                })
                .collect(),
        }
    }

    #[test]
    fn bound_keypair_files_use_tbots_names_and_keep_ten_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        assert!(store.load_bkp().unwrap().is_none());
        store.save_bkp(&bkp(12)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(name::BKP_KEY_HISTORY)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["entries"].as_array().unwrap().len(),
            KEY_HISTORY_LENGTH
        );
        assert_eq!(value["entries"][0]["time"], "2026-01-01T00:00:00Z");
        assert_eq!(value["entries"][0]["private_key"], "PEM 0\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name::BKP_PUBLIC_KEY)).unwrap(),
            "ssh-ed25519 AAAA12\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name::BKP_JOIN_STATE)).unwrap(),
            "jwt.12"
        );
        let loaded = store.load_bkp().unwrap().unwrap();
        assert!(loaded.history_problem.is_none());
        assert_eq!(loaded.files.private_key, "PEM 12\n");
        assert_eq!(loaded.files.join_state, b"jwt.12");
        assert_eq!(loaded.files.history.len(), KEY_HISTORY_LENGTH);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(name::BKP_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "id_bkp is readable by others: {mode:o}");
        }
    }

    #[test]
    fn an_unbound_key_has_no_join_state_and_a_bad_history_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let mut files = bkp(1);
        files.join_state.clear();
        store.save_bkp(&files).unwrap();
        assert!(!dir.path().join(name::BKP_JOIN_STATE).exists());
        std::fs::write(dir.path().join(name::BKP_KEY_HISTORY), "{not json").unwrap();
        let loaded = store.load_bkp().unwrap().unwrap();
        assert!(loaded.files.join_state.is_empty());
        assert!(loaded.files.history.is_empty());
        let problem = loaded.history_problem.unwrap();
        assert!(
            problem.contains("bkp_key_history.json: not a key history"),
            "{problem}"
        );
        std::fs::write(dir.path().join(name::BKP_KEY), "  \n").unwrap();
        assert!(
            store.load_bkp().unwrap().is_none(),
            "an empty id_bkp is no key"
        );
    }

    #[test]
    fn pem_blocks_split_on_dollar_or_newline() {
        let a = "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----";
        let b = "-----BEGIN CERTIFICATE-----\nBB\n-----END CERTIFICATE-----";
        assert_eq!(
            pem_blocks(&format!("{a}${b}\n")),
            vec![format!("{a}\n"), format!("{b}\n")]
        );
        assert_eq!(pem_blocks(&format!("{a}\n{b}")).len(), 2);
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\ntruncated").is_empty());
    }
}

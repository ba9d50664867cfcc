//! The agent's internal data directory, laid out with tbot's file names (`key`, `tlscert`,
//! `tokenhash`, ...), its exclusive `lock` file, and atomic saves (temp file, fsync, rename).

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

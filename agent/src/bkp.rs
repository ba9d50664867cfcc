//! Bound-keypair client state as tbot keeps it: the active key, the key history (newest first,
//! last 10), the join state from the last join, and the static-key variant that stores nothing.
//!
//! Behaviour follows gravitational/teleport `lib/auth/join/boundkeypair/boundkeypair.go` (2025):
//! the secret is sent only while no join state is held; a challenge is signed by the active key
//! or, failing that, a key from the history; a rotation makes a key for the server's suite and
//! stores it before answering; after a join the key the server bound becomes the active one.

use std::path::Path;

use mwi_identity::jose::{self, SigningKey, VerifyingKey};

use crate::store::{BkpFiles, KEY_HISTORY_LENGTH, KeyHistoryEntry, Store};

/// A bound-keypair problem, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BkpError(pub String);

/// A private key the agent can answer challenges with.
#[derive(Clone)]
pub struct BoundKey {
    /// PEM as stored in `id_bkp` and the history.
    pub pem: String,
    /// The public key, authorized_keys form (no comment).
    pub public: String,
    key: SigningKey,
}

impl std::fmt::Debug for BoundKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches a log or a panic message.
        f.debug_struct("BoundKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl BoundKey {
    /// A new key for `BoundKeypairJoining` under a signature algorithm suite: ECDSA P-256 for
    /// `fips-v1`, Ed25519 for the others (lib/cryptosuites, per teleport-bound-keypair.md §3).
    pub fn generate(suite: &str) -> Result<BoundKey, BkpError> {
        let key = if suite == "fips-v1" {
            SigningKey::generate_p256()
        } else {
            SigningKey::generate_ed25519()
        };
        let pem = key
            .to_pem()
            .map_err(|e| BkpError(format!("cannot encode the new key: {e}")))?;
        BoundKey::from_key(pem, key)
    }

    /// Reads a private key from PEM (PKCS#8, SEC1, PKCS#1 or OpenSSH; Ed25519, P-256 or RSA).
    pub fn from_pem(pem: &str) -> Result<BoundKey, BkpError> {
        let key = SigningKey::from_pem(pem).map_err(|e| BkpError(e.to_string()))?;
        BoundKey::from_key(pem.to_string(), key)
    }

    fn from_key(pem: String, key: SigningKey) -> Result<BoundKey, BkpError> {
        let public = key
            .verifying_key()
            .to_authorized_key()
            .map_err(|e| BkpError(format!("cannot encode the public key: {e}")))?;
        Ok(BoundKey { pem, public, key })
    }

    /// The challenge document signed as-is as a compact JWS (`typ: JWT`, no `kid`), as tbot's
    /// solveBoundKeypairChallenge does.
    pub fn sign_challenge(&self, challenge: &str) -> String {
        jose::sign(&self.key, None, challenge.as_bytes())
    }

    /// Whether `authorized_key` (authorized_keys text, comment allowed) is this key's public key.
    pub fn matches(&self, authorized_key: &str) -> bool {
        VerifyingKey::from_authorized_key(authorized_key)
            .is_ok_and(|other| other == self.key.verifying_key())
    }
}

/// RFC 3339 with nanoseconds in UTC, as Go marshals a time.Time in JSON.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What `keypair create` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keypair {
    /// The public key, authorized_keys form.
    pub public_key: String,
    /// An existing key was printed instead of making one (no `--overwrite`).
    pub existing: bool,
    /// For a static key: its PEM, base64-encoded as TBOT_BOUND_KEYPAIR_STATIC_KEY takes it.
    pub encoded_private_key: Option<String>,
}

/// `tbot keypair create --storage DIR`: a new unbound key in the data directory's bound-keypair
/// files, or the existing one unless `overwrite` (tool/tbot/keypair.go).
pub fn create_keypair(storage: &Path, overwrite: bool, suite: &str) -> Result<Keypair, BkpError> {
    let store = Store::open(storage, false).map_err(|e| BkpError(e.to_string()))?;
    if !overwrite && let Some((state, _)) = StoredState::load(&store)? {
        let public_key = state.active.map(|k| k.public).unwrap_or_default();
        return Ok(Keypair {
            public_key,
            existing: true,
            encoded_private_key: None,
        });
    }
    let state = StoredState::new_unbound(suite)?;
    state.save(&store)?;
    Ok(Keypair {
        public_key: state.active.map(|k| k.public).unwrap_or_default(),
        existing: false,
        encoded_private_key: None,
    })
}

/// `tbot keypair create --static [--static-key-path FILE]`: a key kept outside the data
/// directory, written (mode 0600) to `path` when given; an existing key there is reused unless
/// `overwrite`.
pub fn create_static_keypair(
    path: Option<&Path>,
    overwrite: bool,
    suite: &str,
) -> Result<Keypair, BkpError> {
    let existing = match path {
        Some(path) if !overwrite => match std::fs::read_to_string(path) {
            Ok(pem) => Some(BoundKey::from_pem(&pem).map_err(|e| {
                BkpError(format!(
                    "could not parse existing key at static key path {}: {e}",
                    path.display()
                ))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(BkpError(format!(
                    "could not read from static key path {}: {e}",
                    path.display()
                )));
            }
        },
        _ => None,
    };
    let is_existing = existing.is_some();
    let key = match existing {
        Some(key) => key,
        None => BoundKey::generate(suite)?,
    };
    if let (Some(path), false) = (path, is_existing) {
        let options = mwi_identity::durable::Options::mode(0o600);
        mwi_identity::durable::replace(path, key.pem.as_bytes(), &options).map_err(|e| {
            BkpError(format!(
                "writing static key to {}: {}",
                path.display(),
                e.into_io()
            ))
        })?;
    }
    use base64ct::Encoding;
    Ok(Keypair {
        public_key: key.public.clone(),
        existing: is_existing,
        encoded_private_key: Some(base64ct::Base64::encode_string(key.pem.as_bytes())),
    })
}

/// The signature algorithm suite a proxy's `/webapi/find` names (tbot keypair create's
/// `--proxy-server`), its web certificate checked against `web_ca` unless `insecure`.
pub async fn proxy_suite(
    addr: &str,
    web_ca: Option<&Path>,
    insecure: bool,
) -> Result<String, BkpError> {
    let trust = match (insecure, web_ca) {
        (true, _) => crate::settings::WebTrust::Insecure,
        (false, Some(path)) => crate::settings::WebTrust::CaFile(path.to_path_buf()),
        (false, None) => crate::settings::WebTrust::Unset,
    };
    crate::webapi::find(addr, &trust)
        .await
        .map(|pong| pong.signature_algorithm_suite)
        .map_err(|e| {
            BkpError(format!(
                "pinging proxy to determine signature algorithm suite: {e}"
            ))
        })
}

/// The client side of a bound-keypair join: which key answers a challenge, what to send, and what
/// to keep afterwards.
#[derive(Debug)]
pub enum ClientState {
    /// Kept in the data directory and written after every change.
    Stored(StoredState),
    /// A static key: never rotated, no join state, nothing written.
    Static(BoundKey),
}

/// The data directory's bound-keypair state.
#[derive(Debug, Default)]
pub struct StoredState {
    /// `None` before the first join with a registration secret.
    pub active: Option<BoundKey>,
    pub join_state: Vec<u8>,
    pub history: Vec<KeyHistoryEntry>,
}

impl StoredState {
    /// Reads the state from `store`; `None` when it holds no key. The `String` is a warning to
    /// log (an unreadable history).
    pub fn load(store: &Store) -> Result<Option<(StoredState, Option<String>)>, BkpError> {
        let Some(loaded) = store.load_bkp().map_err(|e| BkpError(e.to_string()))? else {
            return Ok(None);
        };
        let active = BoundKey::from_pem(&loaded.files.private_key).map_err(|e| {
            BkpError(format!(
                "{}: {e}",
                store.dir().join(crate::store::name::BKP_KEY).display()
            ))
        })?;
        let mut history = loaded.files.history;
        // tbot starts the history with the active key when there is none.
        if history.is_empty() {
            history.push(KeyHistoryEntry {
                time: now_rfc3339(),
                private_key: active.pem.clone(),
            });
        }
        Ok(Some((
            StoredState {
                active: Some(active),
                join_state: loaded.files.join_state,
                history,
            },
            loaded.history_problem,
        )))
    }

    /// A state with a new, unbound key (`keypair create`).
    pub fn new_unbound(suite: &str) -> Result<StoredState, BkpError> {
        let key = BoundKey::generate(suite)?;
        Ok(StoredState {
            history: vec![KeyHistoryEntry {
                time: now_rfc3339(),
                private_key: key.pem.clone(),
            }],
            active: Some(key),
            join_state: Vec::new(),
        })
    }

    pub fn save(&self, store: &Store) -> Result<(), BkpError> {
        let (private_key, public_key) = match &self.active {
            Some(key) => (key.pem.clone(), key.public.clone()),
            None => (String::new(), String::new()),
        };
        store
            .save_bkp(&BkpFiles {
                private_key,
                public_key,
                join_state: self.join_state.clone(),
                history: self.history.clone(),
            })
            .map_err(|e| BkpError(e.to_string()))
    }
}

impl ClientState {
    /// The registration secret to send: none once a join state is held, none for static keys.
    pub fn secret_to_send<'a>(&self, configured: Option<&'a str>) -> Option<&'a str> {
        match self {
            ClientState::Stored(state) if state.join_state.is_empty() => configured,
            _ => None,
        }
    }

    /// The join state to present (empty before the first join and for static keys).
    pub fn join_state(&self) -> &[u8] {
        match self {
            ClientState::Stored(state) => &state.join_state,
            ClientState::Static(_) => &[],
        }
    }

    /// The key whose public half the server challenges: the active key, else one from history.
    pub fn signer_for(&self, public_key: &str) -> Result<BoundKey, BkpError> {
        match self {
            ClientState::Static(key) if key.matches(public_key) => Ok(key.clone()),
            // tbot's wording (StaticClientState.checkedSigner).
            ClientState::Static(_) => Err(BkpError(
                "configured static private key does match the value requested by the server, cannot continue".into(),
            )),
            ClientState::Stored(state) => {
                if let Some(active) = state.active.as_ref().filter(|k| k.matches(public_key)) {
                    return Ok(active.clone());
                }
                for entry in &state.history {
                    let key = BoundKey::from_pem(&entry.private_key)?;
                    if key.matches(public_key) {
                        return Ok(key);
                    }
                }
                Err(BkpError(format!(
                    "could not lookup signer for public key {}: no matching key found",
                    public_key.trim()
                )))
            }
        }
    }

    /// Answers a rotation request: a new key for `suite`, put first in the history and stored
    /// before the server hears of it, so a failure later cannot lose it.
    pub fn rotate(&mut self, suite: &str, store: &Store) -> Result<BoundKey, BkpError> {
        let state = match self {
            ClientState::Static(_) => {
                // tbot's wording (StaticClientState.ToJoinParams).
                return Err(BkpError(
                    "static private keys do not support automatic rotation, `rotate_after` must be unset in the token to continue".into(),
                ));
            }
            ClientState::Stored(state) => state,
        };
        let key = BoundKey::generate(suite)?;
        state.history.insert(
            0,
            KeyHistoryEntry {
                time: now_rfc3339(),
                private_key: key.pem.clone(),
            },
        );
        state.history.truncate(KEY_HISTORY_LENGTH);
        state.save(store)?;
        Ok(key)
    }

    /// After a join: the key the server bound becomes the active one and its join state is kept;
    /// both are stored. Static keys keep nothing.
    pub fn update(
        &mut self,
        bound_public_key: &str,
        join_state: &[u8],
        store: &Store,
    ) -> Result<(), BkpError> {
        if matches!(self, ClientState::Static(_)) {
            return Ok(());
        }
        let key = self
            .signer_for(bound_public_key)
            .map_err(|e| BkpError(format!("fetching key requested by auth: {e}")))?;
        let ClientState::Stored(state) = self else {
            return Ok(());
        };
        state.active = Some(key);
        state.join_state = join_state.to_vec();
        state.save(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_per_suite_round_trip_through_pem_and_sign_challenges() {
        for (suite, prefix, alg, label) in [
            ("balanced-v1", "ssh-ed25519 ", "EdDSA", "PRIVATE KEY"),
            ("legacy", "ssh-ed25519 ", "EdDSA", "PRIVATE KEY"),
            ("fips-v1", "ecdsa-sha2-nistp256 ", "ES256", "EC PRIVATE KEY"),
        ] {
            let key = BoundKey::generate(suite).unwrap();
            assert!(key.public.starts_with(prefix), "{suite}: {}", key.public);
            assert!(key.pem.starts_with(&format!("-----BEGIN {label}-----\n")));
            let again = BoundKey::from_pem(&key.pem).unwrap();
            assert_eq!(again.public, key.public);
            let challenge = r#"{"nonce":"00ff"}"#;
            let jws = again.sign_challenge(challenge);
            let parsed = jose::parse(&jws).unwrap();
            assert_eq!(parsed.header.alg, alg);
            assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
            assert_eq!(parsed.header.kid, None);
            let public = VerifyingKey::from_authorized_key(&key.public).unwrap();
            assert_eq!(jose::verify(&jws, &public).unwrap(), challenge.as_bytes());
            assert!(key.matches(&format!("{} comment", key.public)));
            assert!(!key.matches(&BoundKey::generate(suite).unwrap().public));
        }
    }

    #[test]
    fn unusable_keys_say_why() {
        assert!(BoundKey::from_pem("junk").is_err());
        let bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(BoundKey::from_pem(bad).is_err());
    }

    #[test]
    fn secret_goes_only_without_join_state_and_never_for_static_keys() {
        let mut state = StoredState::new_unbound("balanced-v1").unwrap();
        assert_eq!(
            ClientState::Stored(StoredState {
                active: state.active.clone(),
                ..Default::default()
            })
            .secret_to_send(Some("s")),
            Some("s")
        );
        state.join_state = b"jwt".to_vec();
        assert_eq!(ClientState::Stored(state).secret_to_send(Some("s")), None);
        let key = BoundKey::generate("balanced-v1").unwrap();
        let static_state = ClientState::Static(key);
        assert_eq!(static_state.secret_to_send(Some("s")), None);
        assert!(static_state.join_state().is_empty());
    }

    #[test]
    fn rotation_stores_the_new_key_first_and_the_result_makes_it_active() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let first = StoredState::new_unbound("balanced-v1").unwrap();
        let old_public = first.active.as_ref().unwrap().public.clone();
        first.save(&store).unwrap();
        let (loaded, problem) = StoredState::load(&store).unwrap().unwrap();
        assert!(problem.is_none());
        let mut state = ClientState::Stored(loaded);
        let new = state.rotate("balanced-v1", &store).unwrap();
        let on_disk = store.load_bkp().unwrap().unwrap().files;
        assert_eq!(on_disk.history.len(), 2);
        assert_eq!(on_disk.history[0].private_key, new.pem);
        assert_eq!(
            on_disk.public_key, old_public,
            "still active until the result"
        );
        assert!(state.signer_for(&new.public).is_ok(), "found in history");
        state.update(&new.public, b"jwt.2", &store).unwrap();
        let on_disk = store.load_bkp().unwrap().unwrap().files;
        assert_eq!(on_disk.public_key, new.public);
        assert_eq!(on_disk.join_state, b"jwt.2");
        assert!(
            state.signer_for(&old_public).is_ok(),
            "old key stays in history"
        );
        for _ in 0..12 {
            state.rotate("balanced-v1", &store).unwrap();
        }
        assert_eq!(
            store.load_bkp().unwrap().unwrap().files.history.len(),
            KEY_HISTORY_LENGTH
        );
        let stranger = BoundKey::generate("balanced-v1").unwrap();
        let err = state.signer_for(&stranger.public).unwrap_err().0;
        assert!(err.ends_with("no matching key found"), "{err}");
    }

    #[test]
    fn keypair_create_prints_the_existing_key_unless_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let made = create_keypair(dir.path(), false, "balanced-v1").unwrap();
        assert!(!made.existing && made.public_key.starts_with("ssh-ed25519 "));
        let again = create_keypair(dir.path(), false, "balanced-v1").unwrap();
        assert_eq!(
            (again.existing, &again.public_key),
            (true, &made.public_key)
        );
        let fresh = create_keypair(dir.path(), true, "balanced-v1").unwrap();
        assert!(!fresh.existing);
        assert_ne!(fresh.public_key, made.public_key);
        let files = Store::open(dir.path(), false)
            .unwrap()
            .load_bkp()
            .unwrap()
            .unwrap();
        assert_eq!(files.files.public_key, fresh.public_key);
        assert!(files.files.join_state.is_empty());
        assert_eq!(files.files.history.len(), 1);
    }

    #[test]
    fn static_keypair_is_written_once_and_reused() {
        use base64ct::Encoding;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("static");
        let made = create_static_keypair(Some(&path), false, "balanced-v1").unwrap();
        let pem = std::fs::read_to_string(&path).unwrap();
        let encoded = made.encoded_private_key.clone().unwrap();
        assert_eq!(
            base64ct::Base64::decode_vec(&encoded).unwrap(),
            pem.as_bytes()
        );
        let again = create_static_keypair(Some(&path), false, "balanced-v1").unwrap();
        assert!(again.existing);
        assert_eq!(again.public_key, made.public_key);
        std::fs::write(&path, "junk").unwrap();
        let err = create_static_keypair(Some(&path), false, "balanced-v1").unwrap_err();
        assert!(
            err.0
                .starts_with("could not parse existing key at static key path")
        );
        assert!(
            create_static_keypair(None, false, "fips-v1")
                .unwrap()
                .public_key
                .starts_with("ecdsa-sha2-nistp256 ")
        );
    }

    #[test]
    fn static_keys_refuse_rotation_and_other_keys_in_tbots_words() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), false).unwrap();
        let key = BoundKey::generate("balanced-v1").unwrap();
        let mut state = ClientState::Static(key.clone());
        assert!(state.signer_for(&key.public).is_ok());
        let other = BoundKey::generate("balanced-v1").unwrap();
        assert!(
            state
                .signer_for(&other.public)
                .unwrap_err()
                .0
                .starts_with("configured static private key does match")
        );
        assert!(
            state
                .rotate("balanced-v1", &store)
                .unwrap_err()
                .0
                .starts_with("static private keys do not support automatic rotation")
        );
        state.update(&key.public, b"jwt", &store).unwrap();
        assert!(
            store.load_bkp().unwrap().is_none(),
            "static keys write nothing"
        );
    }
}

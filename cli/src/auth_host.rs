//! The auth host's own credentials, as tctl uses them there: teleport.yaml (-c, TELEPORT_CONFIG_FILE
//! or /etc/teleport.yaml) with the auth service enabled names the data dir, whose `host_uuid` and
//! process storage `proc/sqlite.db` (key `/ids/admin/current`) hold the local Admin identity.
//! Facts and tctl's wordings: teleport-reach.md §2 (tctl v16–v18, lib/auth/storage, lib/backend/lite).

use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use mwi_identity::{CertIdentity, keys};
use serde::Deserialize;

use crate::connect::ClientIdentity;

/// tctl's default config file, used when it exists and no -c or TELEPORT_CONFIG_FILE says another.
pub const DEFAULT_CONFIG: &str = "/etc/teleport.yaml";
/// Teleport's default data dir and auth address.
const DEFAULT_DATA_DIR: &str = "/var/lib/teleport";
const DEFAULT_AUTH_ADDR: &str = "127.0.0.1:3025";

/// An auth host's config: where its data dir is and where its auth service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHost {
    pub config: PathBuf,
    pub data_dir: PathBuf,
    /// `HOST:PORT` to dial: `teleport.auth_server(s)`, else the auth listen address (an
    /// unspecified host means this host).
    pub addr: String,
}

/// Why the auth host's credentials cannot be used; one line each, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum AuthHostError {
    #[error("config file {path}: {reason}; pass -c with a readable teleport.yaml")]
    Config { path: PathBuf, reason: String },
    /// tctl's words (lib/auth/storage, v16+).
    #[error("Could not load Teleport host UUID file at {}; run mwictl on the auth host as the user that runs Teleport, or use a tsh profile or an identity file (-i)", .0.display())]
    NoHostUuid(PathBuf),
    #[error("Teleport does not have permission to read {}; run mwictl as the user that runs Teleport (often root)", .0.display())]
    Permission(PathBuf),
    /// tctl's words (v16+).
    #[error("tctl must be used on an Auth Service host or provided with credentials by logging in with tsh first. ({})", .0)]
    NoAdminIdentity(String),
    #[error("the local Admin identity in {path} is not usable: {reason}")]
    Unusable { path: PathBuf, reason: String },
}

#[derive(Debug, Default, Deserialize)]
struct Config {
    #[serde(default)]
    teleport: TeleportSection,
    auth_service: Option<AuthService>,
}

#[derive(Debug, Default, Deserialize)]
struct TeleportSection {
    data_dir: Option<PathBuf>,
    auth_server: Option<String>,
    #[serde(default)]
    auth_servers: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthService {
    /// Absent counts as enabled, as tctl reads it.
    enabled: Option<YesNo>,
    listen_addr: Option<String>,
}

/// Teleport's booleans: `yes`/`no`, `true`/`false`, `on`/`off`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum YesNo {
    Bool(bool),
    Word(String),
}

impl YesNo {
    fn on(&self) -> bool {
        match self {
            YesNo::Bool(b) => *b,
            YesNo::Word(w) => {
                matches!(w.to_ascii_lowercase().as_str(), "yes" | "true" | "on" | "y")
            }
        }
    }
}

/// The process storage's record of an identity (`kind: identity`, version v2); byte fields are
/// base64 as Go's JSON writes them.
#[derive(Debug, Deserialize)]
struct StoredIdentity {
    spec: StoredSpec,
}

#[derive(Debug, Deserialize)]
struct StoredSpec {
    key: String,
    tls_cert: String,
    #[serde(default)]
    tls_ca_certs: Vec<String>,
}

impl AuthHost {
    /// The config `flag` (or TELEPORT_CONFIG_FILE) names, which must exist, else
    /// /etc/teleport.yaml when it exists. None when there is none, or when its auth service is
    /// disabled (not an auth host: tctl then looks for other credentials).
    pub fn find(flag: Option<&Path>) -> Result<Option<AuthHost>, AuthHostError> {
        match flag {
            Some(path) => AuthHost::load(path),
            None if Path::new(DEFAULT_CONFIG).exists() => AuthHost::load(Path::new(DEFAULT_CONFIG)),
            None => Ok(None),
        }
    }

    /// Reads `path`; None when its auth service is disabled.
    pub fn load(path: &Path) -> Result<Option<AuthHost>, AuthHostError> {
        let err = |reason: String| AuthHostError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => err("not found".into()),
            _ => err(format!("cannot read it: {e}")),
        })?;
        let config: Config = match text.trim().is_empty() {
            true => Config::default(),
            false => serde_yaml_ng::from_str(&text).map_err(|e| err(e.to_string()))?,
        };
        let auth = config.auth_service.unwrap_or_default();
        if auth.enabled.as_ref().is_some_and(|e| !e.on()) {
            return Ok(None);
        }
        let addr = config
            .teleport
            .auth_server
            .or_else(|| config.teleport.auth_servers.into_iter().next())
            .or_else(|| auth.listen_addr.map(|a| local_addr(&a)))
            .unwrap_or_else(|| DEFAULT_AUTH_ADDR.into());
        Ok(Some(AuthHost {
            config: path.to_path_buf(),
            data_dir: config
                .teleport
                .data_dir
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            addr,
        }))
    }

    /// The local Admin identity from the data dir, as tctl reads it.
    pub fn identity(&self) -> Result<ClientIdentity, AuthHostError> {
        let uuid = self.data_dir.join("host_uuid");
        std::fs::read_to_string(&uuid).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => AuthHostError::Permission(uuid.clone()),
            _ => AuthHostError::NoHostUuid(uuid.clone()),
        })?;
        let db = self.data_dir.join("proc").join("sqlite.db");
        let value = read_admin_record(&db)?;
        let unusable = |reason: String| AuthHostError::Unusable {
            path: db.clone(),
            reason,
        };
        let stored: StoredIdentity =
            serde_json::from_slice(&value).map_err(|e| unusable(e.to_string()))?;
        let text = |b64: &str| -> Result<String, AuthHostError> {
            let bytes = Base64::decode_vec(b64).map_err(|e| unusable(e.to_string()))?;
            String::from_utf8(bytes).map_err(|e| unusable(e.to_string()))
        };
        let key = keys::software_key_pem(&text(&stored.spec.key)?)
            .map_err(|e| unusable(e.to_string()))?;
        let tls_cert_pem = text(&stored.spec.tls_cert)?;
        let cert = CertIdentity::from_pem(&tls_cert_pem).map_err(|e| unusable(e.to_string()))?;
        let tls_ca_pems = (stored.spec.tls_ca_certs.iter())
            .map(|c| text(c))
            .collect::<Result<Vec<_>, _>>()?;
        if tls_ca_pems.is_empty() {
            return Err(unusable("no TLS CA certificate".into()));
        }
        Ok(ClientIdentity::tls_only(
            db,
            key,
            tls_cert_pem,
            tls_ca_pems,
            cert,
        ))
    }
}

/// An auth listen address as a dialable one: an unspecified or missing host is this host.
fn local_addr(listen: &str) -> String {
    match listen.rsplit_once(':') {
        Some(("" | "0.0.0.0" | "[::]" | "::", port)) => format!("127.0.0.1:{port}"),
        Some(_) => listen.to_string(),
        None => format!("{listen}:3025"),
    }
}

/// The value of the Admin identity's record in the process storage (read only).
fn read_admin_record(db: &Path) -> Result<Vec<u8>, AuthHostError> {
    let missing =
        |reason: String| AuthHostError::NoAdminIdentity(format!("{}: {reason}", db.display()));
    if !db.is_file() {
        return Err(missing("not found".into()));
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        rusqlite::Connection::open_with_flags(db, flags).map_err(|e| match db.metadata() {
            Err(m) if m.kind() == std::io::ErrorKind::PermissionDenied => {
                AuthHostError::Permission(db.to_path_buf())
            }
            _ => missing(e.to_string()),
        })?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
    let value: Option<rusqlite::types::Value> = conn
        .query_row(
            "SELECT value FROM kv WHERE key IN ('/ids/admin/current', 'ids/admin/current') LIMIT 1",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(missing(other.to_string())),
        })?;
    match value {
        Some(rusqlite::types::Value::Blob(b)) => Ok(b),
        Some(rusqlite::types::Value::Text(t)) => Ok(t.into_bytes()),
        _ => Err(missing("no Admin identity (key /ids/admin/current)".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("teleport.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn an_absent_enabled_flag_counts_as_an_auth_host_with_teleports_defaults() {
        let (_dir, path) = config("version: v3\nteleport:\n  nodename: a\n");
        let host = AuthHost::load(&path).unwrap().unwrap();
        assert_eq!(host.data_dir, Path::new("/var/lib/teleport"));
        assert_eq!(host.addr, "127.0.0.1:3025");
    }

    #[test]
    fn a_disabled_auth_service_is_not_an_auth_host() {
        for enabled in ["no", "false", "off"] {
            let (_dir, path) = config(&format!("auth_service:\n  enabled: {enabled}\n"));
            assert_eq!(AuthHost::load(&path).unwrap(), None, "{enabled}");
        }
    }

    #[test]
    fn the_address_is_the_auth_servers_else_the_listen_address_on_this_host() {
        let (_dir, path) = config(
            "teleport:\n  data_dir: /d\nauth_service:\n  enabled: yes\n  listen_addr: 0.0.0.0:4025\n",
        );
        let host = AuthHost::load(&path).unwrap().unwrap();
        assert_eq!(
            (host.addr.as_str(), host.data_dir.as_path()),
            ("127.0.0.1:4025", Path::new("/d"))
        );
        let (_dir, path) = config("teleport:\n  auth_servers: [auth.example.com:3025]\n");
        assert_eq!(
            AuthHost::load(&path).unwrap().unwrap().addr,
            "auth.example.com:3025"
        );
    }

    #[test]
    fn a_missing_config_or_host_uuid_is_one_line_naming_the_file() {
        let err = AuthHost::load(Path::new("/nonexistent/t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/t.yaml: not found"), "{err}");
        let data = tempfile::tempdir().unwrap();
        let host = AuthHost {
            config: "/c".into(),
            data_dir: data.path().into(),
            addr: DEFAULT_AUTH_ADDR.into(),
        };
        let err = host.identity().unwrap_err().to_string();
        assert!(
            err.starts_with("Could not load Teleport host UUID file at"),
            "{err}"
        );
        std::fs::write(data.path().join("host_uuid"), "u").unwrap();
        let err = host.identity().unwrap_err().to_string();
        assert!(
            err.starts_with("tctl must be used on an Auth Service host")
                && err.contains("sqlite.db"),
            "{err}"
        );
    }
}

//! Makes a lab data dir look like a Teleport auth host's to tctl-style clients: `host_uuid`,
//! process storage `proc/sqlite.db` holding the Admin identity under `/ids/admin/current`, and a
//! `teleport.yaml` naming the data dir and the auth address (teleport-reach.md §2, step 5).

use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use mwi_identity::{IdentityFile, durable};

use crate::lab::{LabError, Ready};

/// The config file written into the data dir.
pub const CONFIG: &str = "teleport.yaml";

/// Writes `host_uuid` (once), the Admin identity into `proc/sqlite.db` and `teleport.yaml`;
/// returns the config's path.
pub fn write(ready: &Ready) -> Result<PathBuf, LabError> {
    let dir = &ready.data_dir;
    let io = |path: &Path, e: &dyn std::fmt::Display| LabError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let uuid = dir.join("host_uuid");
    if !uuid.is_file() {
        durable::replace(
            &uuid,
            uuid::Uuid::new_v4().to_string().as_bytes(),
            &durable::Options::mode(0o600),
        )
        .map_err(|e| io(&uuid, &e))?;
    }
    let identity = IdentityFile::read(&ready.identity_path)
        .map_err(|e| io(&ready.identity_path, &e))?
        .identity;
    let proc_dir = dir.join("proc");
    std::fs::create_dir_all(&proc_dir).map_err(|e| io(&proc_dir, &e))?;
    let db = proc_dir.join("sqlite.db");
    store_admin(&db, &identity).map_err(|e| io(&db, &e))?;
    let config = dir.join(CONFIG);
    let yaml = format!(
        "# Written by `mwictl lab start`: this lab as an auth host, for `mwictl -c {}`.\n\
         version: v3\nteleport:\n  data_dir: {}\nauth_service:\n  enabled: yes\n  listen_addr: {}\n\
         proxy_service:\n  enabled: no\nssh_service:\n  enabled: no\n",
        config.display(),
        serde_json::to_string(&dir.display().to_string()).unwrap_or_default(),
        ready.addr
    );
    durable::replace(&config, yaml.as_bytes(), &durable::Options::mode(0o644))
        .map_err(|e| io(&config, &e))?;
    Ok(config)
}

/// The identity record as Teleport's process storage keeps it (kind identity, v2; byte fields
/// base64, as Go's JSON writes []byte), in the lite backend's `kv` table.
fn store_admin(db: &Path, identity: &IdentityFile) -> Result<(), rusqlite::Error> {
    let b64 = |s: &str| Base64::encode_string(s.as_bytes());
    let record = serde_json::json!({
        "kind": "identity",
        "version": "v2",
        "metadata": {"name": "current"},
        "spec": {
            "key": b64(&identity.private_key_pem),
            "ssh_cert": b64(&identity.ssh_cert),
            "tls_cert": b64(&identity.tls_cert_pem),
            "tls_ca_certs": identity.tls_ca_pems.iter().map(|p| b64(p)).collect::<Vec<_>>(),
            "ssh_ca_certs": identity.ssh_ca_lines.iter().map(|l| b64(l)).collect::<Vec<_>>(),
        }
    });
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (key TEXT NOT NULL PRIMARY KEY, modified INTEGER NOT NULL, \
         expires DATETIME, value BLOB, revision TEXT)",
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO kv (key, modified, value) VALUES ('/ids/admin/current', 0, ?1)",
        [record.to_string().into_bytes()],
    )?;
    Ok(())
}

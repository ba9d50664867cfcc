//! The lab's data directory: created on first start (CA, SSH CA, server certificate, admin
//! identity, database, and `lab.json` last), reused on later starts, refused when foreign or
//! damaged — never overwritten.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mwi_identity::{CertIdentity, IdentityFile, durable};
use mwi_proto::types::{
    ImpersonateConditions, Metadata, RoleConditions, RoleOptions, RoleSpecV6, RoleV6, Rule,
};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::lab::LabError;
use crate::pki::{self, JwtCa, TlsCa};
use crate::records::UserRecord;
use crate::sshca::SshCa;
use crate::store;

/// The marker file; its presence makes a directory a lab data dir.
pub(crate) const MARKER: &str = "lab.json";
const FORMAT: u32 = 1;
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SSH_CA_KEY: &str = "ssh_ca.key";
const BOUND_KEYPAIR_CA_KEY: &str = "bound_keypair_ca.key";
const SERVER_CERT: &str = "server.crt";
const SERVER_KEY: &str = "server.key";
pub(crate) const IDENTITY: &str = "admin.identity";
pub(crate) const DATABASE: &str = "lab.db";

/// The administrator's user and role name.
pub(crate) const ADMIN: &str = "admin";
const DAY: Duration = Duration::from_secs(24 * 3600);
const CA_YEARS: u64 = 10;
const LEAF_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Server certificates and the admin identity are reissued when they get this close to expiry.
const REISSUE_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: u32,
    cluster_name: String,
    created_at: String,
}

/// Everything the service needs from the data dir.
pub(crate) struct Material {
    pub cluster: String,
    pub tls_ca: TlsCa,
    pub ssh_ca: SshCa,
    pub bound_keypair_ca: JwtCa,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub identity_path: PathBuf,
    pub db_path: PathBuf,
}

fn damaged(dir: &Path, file: &str, reason: impl std::fmt::Display) -> LabError {
    LabError::Damaged {
        path: dir.to_path_buf(),
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> LabError {
    LabError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A cluster name must fit a certificate subject and a known_hosts line.
fn check_cluster_name(name: &str) -> Result<(), LabError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(LabError::ClusterName {
            name: name.to_string(),
        })
    }
}

/// Opens the data dir, creating it on first start.
pub(crate) fn open(dir: &Path, cluster: Option<&str>) -> Result<Material, LabError> {
    if let Some(name) = cluster {
        check_cluster_name(name)?;
    }
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if dir.join(MARKER).exists() {
                return load(dir, cluster);
            }
            if entries.next().is_some() {
                return Err(LabError::Foreign {
                    path: dir.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dir(dir)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(LabError::Foreign {
                path: dir.to_path_buf(),
            });
        }
        Err(e) => return Err(io_error(dir, e)),
    }
    init(dir, cluster.unwrap_or("lab"))
}

fn create_dir(dir: &Path) -> Result<(), LabError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| io_error(dir, e))
}

/// Private files (keys, the admin identity) get mode 0600, the others 0644.
fn file_mode(private: bool) -> u32 {
    if private { 0o600 } else { 0o644 }
}

/// Writes a new file that must not exist yet (see `durable::create_new`).
fn write_new(path: &Path, text: &str, private: bool) -> Result<(), LabError> {
    durable::create_new(path, text.as_bytes(), file_mode(private))
        .map_err(|e| io_error(path, e.into_io()))
}

/// Replaces a file atomically; for reissued certificates.
fn replace(path: &Path, text: &str, private: bool) -> Result<(), LabError> {
    let options = durable::Options::mode(file_mode(private));
    durable::replace(path, text.as_bytes(), &options)
        .map(|_| ())
        .map_err(|e| io_error(path, e.into_io()))
}

fn server_cert(ca: &TlsCa, cluster: &str) -> Result<(String, String), LabError> {
    let key = pki::new_key().map_err(|e| LabError::Crypto(e.to_string()))?;
    let der = ca
        .issue_server(cluster, &key.key, SystemTime::now() + LEAF_LIFETIME)
        .map_err(|e| LabError::Crypto(e.to_string()))?;
    let pem = pki::cert_pem(&der).map_err(|e| LabError::Crypto(e.to_string()))?;
    Ok((pem, key.pem))
}

fn write_identity(identity: &IdentityFile, path: &Path) -> Result<(), LabError> {
    identity.write(path).map_err(|e| LabError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Issues the admin identity (CN admin, O admin) valid for a year.
fn admin_identity(ca: &TlsCa, ssh_ca: &SshCa, cluster: &str) -> Result<IdentityFile, LabError> {
    let not_after = SystemTime::now() + LEAF_LIFETIME;
    user_identity(ca, ssh_ca, cluster, ADMIN, &[ADMIN.into()], not_after)
}

/// Issues an identity file for `username` with `roles` (CN and O), valid until `not_after`.
fn user_identity(
    ca: &TlsCa,
    ssh_ca: &SshCa,
    cluster: &str,
    username: &str,
    roles: &[String],
    not_after: SystemTime,
) -> Result<IdentityFile, LabError> {
    let crypto = |e: &dyn std::fmt::Display| LabError::Crypto(e.to_string());
    let key = pki::new_key().map_err(|e| crypto(&e))?;
    let id = CertIdentity {
        username: username.into(),
        roles: roles.to_vec(),
        teleport_cluster: Some(cluster.into()),
        ..Default::default()
    };
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(*key.key.verifying_key())
        .map_err(|e| crypto(&e))?;
    let tls = ca
        .issue_client(&id, spki, not_after)
        .map_err(|e| crypto(&e))?;
    let ssh_public = ssh_key::PublicKey::from(ssh_key::public::EcdsaPublicKey::from(
        key.key.verifying_key(),
    ));
    let ssh_cert = ssh_ca
        .issue_user(&ssh_public, username, &[], not_after)
        .map_err(|e| crypto(&e))?;
    Ok(IdentityFile {
        private_key_pem: key.pem,
        ssh_cert,
        tls_cert_pem: pki::cert_pem(&tls).map_err(|e| crypto(&e))?,
        ssh_ca_lines: vec![
            ssh_ca
                .cert_authority_line(cluster)
                .map_err(|e| crypto(&e))?,
        ],
        tls_ca_pems: vec![ca.cert_pem().to_string()],
    })
}

/// The preset administrator role: every verb on every resource, and impersonation of any user
/// or role (what `tctl` run on an auth server may do).
fn admin_role() -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: ADMIN.into(),
            description: "Lab administrator: every verb on every resource".into(),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            options: Some(RoleOptions {
                max_session_ttl: i64::try_from(30 * DAY.as_nanos()).unwrap_or(i64::MAX),
                ..Default::default()
            }),
            allow: Some(RoleConditions {
                rules: vec![Rule {
                    resources: vec!["*".into()],
                    verbs: vec!["*".into()],
                    ..Default::default()
                }],
                impersonate: Some(ImpersonateConditions {
                    users: vec!["*".into()],
                    roles: vec!["*".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            deny: Some(RoleConditions::default()),
        }),
        ..Default::default()
    }
}

/// Issues an identity for the normal (non-bot, non-admin) user `name` with `roles`, valid for
/// `ttl`, and records the user, so a lab has identities that are not exempt from admin MFA.
/// Works whether or not the lab is running.
pub(crate) fn issue_user(
    dir: &Path,
    name: &str,
    roles: &[String],
    ttl: Duration,
) -> Result<IdentityFile, LabError> {
    let refuse = |reason: &str| LabError::UserName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name == ADMIN {
        return Err(refuse(
            "it is the lab's local admin, whose identity is admin.identity",
        ));
    }
    if name.starts_with("bot-") {
        return Err(refuse("bot users are made with `mwictl bots add`"));
    }
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(refuse("use letters, digits, '.', '-', '_' or '@'"));
    }
    if !dir.join(MARKER).is_file() {
        return Err(LabError::Foreign {
            path: dir.to_path_buf(),
        });
    }
    let material = load(dir, None)?;
    let identity = user_identity(
        &material.tls_ca,
        &material.ssh_ca,
        &material.cluster,
        name,
        roles,
        SystemTime::now() + ttl,
    )?;
    let user = UserRecord {
        name: name.into(),
        roles: roles.to_vec(),
        created_by: ADMIN.into(),
        ..Default::default()
    };
    store::upsert_record(&material.db_path, store::Kind::User, name, &user.to_bytes())
        .map_err(|e| damaged(dir, DATABASE, e))?;
    Ok(identity)
}

fn init(dir: &Path, cluster: &str) -> Result<Material, LabError> {
    let crypto = |e: &dyn std::fmt::Display| LabError::Crypto(e.to_string());
    let ca_key = pki::new_key().map_err(|e| crypto(&e))?;
    let tls_ca = TlsCa::generate(cluster, ca_key.key, CA_YEARS).map_err(|e| crypto(&e))?;
    let (ssh_ca, ssh_ca_pem) = SshCa::generate().map_err(|e| crypto(&e))?;
    let (server_cert_pem, server_key_pem) = server_cert(&tls_ca, cluster)?;
    let identity = admin_identity(&tls_ca, &ssh_ca, cluster)?;

    write_new(&dir.join(CA_KEY), &ca_key.pem, true)?;
    write_new(&dir.join(CA_CERT), tls_ca.cert_pem(), false)?;
    write_new(&dir.join(SSH_CA_KEY), &ssh_ca_pem, true)?;
    write_new(&dir.join(SERVER_KEY), &server_key_pem, true)?;
    write_new(&dir.join(SERVER_CERT), &server_cert_pem, false)?;
    let identity_path = dir.join(IDENTITY);
    write_identity(&identity, &identity_path)?;

    let db_path = dir.join(DATABASE);
    let admin_user = UserRecord {
        name: ADMIN.into(),
        roles: vec![ADMIN.into()],
        ..Default::default()
    };
    store::create(
        &db_path,
        &[
            (
                store::Kind::Role,
                ADMIN.into(),
                admin_role().encode_to_vec(),
            ),
            (store::Kind::User, ADMIN.into(), admin_user.to_bytes()),
        ],
    )
    .map_err(|e| damaged(dir, DATABASE, e))?;

    let marker = Marker {
        format: FORMAT,
        cluster_name: cluster.to_string(),
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    let text = serde_json::to_string_pretty(&marker).map_err(|e| damaged(dir, MARKER, e))?;
    write_new(&dir.join(MARKER), &format!("{text}\n"), false)?;
    Ok(Material {
        cluster: cluster.to_string(),
        tls_ca,
        ssh_ca,
        bound_keypair_ca: bound_keypair_ca(dir)?,
        server_cert_pem,
        server_key_pem,
        identity_path,
        db_path,
    })
}

/// The `bound_keypair` CA key, created on first use (data dirs older than bound-keypair joining
/// have none yet).
fn bound_keypair_ca(dir: &Path) -> Result<JwtCa, LabError> {
    let path = dir.join(BOUND_KEYPAIR_CA_KEY);
    if path.is_file() {
        return JwtCa::load(&read(dir, BOUND_KEYPAIR_CA_KEY)?)
            .map_err(|e| damaged(dir, BOUND_KEYPAIR_CA_KEY, e));
    }
    let (ca, pem) = JwtCa::generate().map_err(|e| LabError::Crypto(e.to_string()))?;
    write_new(&path, &pem, true)?;
    Ok(ca)
}

fn read(dir: &Path, file: &str) -> Result<String, LabError> {
    std::fs::read_to_string(dir.join(file)).map_err(|e| damaged(dir, file, e))
}

fn expires_soon(pem: &str) -> bool {
    let soon = SystemTime::now() + REISSUE_BEFORE;
    let soon = soon
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    pki::not_after_of_pem(pem).is_ok_and(|t| t <= i64::try_from(soon).unwrap_or(i64::MAX))
}

fn load(dir: &Path, cluster: Option<&str>) -> Result<Material, LabError> {
    let marker: Marker =
        serde_json::from_str(&read(dir, MARKER)?).map_err(|e| damaged(dir, MARKER, e))?;
    if marker.format != FORMAT {
        return Err(damaged(
            dir,
            MARKER,
            format!(
                "format {} is not the format {FORMAT} this mwictl writes (a newer mwictl made it)",
                marker.format
            ),
        ));
    }
    if let Some(wanted) = cluster.filter(|w| *w != marker.cluster_name) {
        return Err(LabError::ClusterMismatch {
            path: dir.to_path_buf(),
            stored: marker.cluster_name,
            wanted: wanted.to_string(),
        });
    }
    let cluster = marker.cluster_name;
    check_cluster_name(&cluster).map_err(|e| damaged(dir, MARKER, e))?;

    let ca_key = pki::read_key(&read(dir, CA_KEY)?).map_err(|e| damaged(dir, CA_KEY, e))?;
    let tls_ca = TlsCa::load(&read(dir, CA_CERT)?, ca_key).map_err(|e| damaged(dir, CA_CERT, e))?;
    let ssh_ca = SshCa::load(&read(dir, SSH_CA_KEY)?).map_err(|e| damaged(dir, SSH_CA_KEY, e))?;

    let mut server_cert_pem = read(dir, SERVER_CERT)?;
    let mut server_key_pem = read(dir, SERVER_KEY)?;
    pki::read_key(&server_key_pem).map_err(|e| damaged(dir, SERVER_KEY, e))?;
    pki::not_after_of_pem(&server_cert_pem).map_err(|e| damaged(dir, SERVER_CERT, e))?;
    // A certificate from an older lab lacks names clients now dial: reissued like an old one.
    if expires_soon(&server_cert_pem) || !pki::has_server_names(&server_cert_pem) {
        (server_cert_pem, server_key_pem) = server_cert(&tls_ca, &cluster)?;
        replace(&dir.join(SERVER_KEY), &server_key_pem, true)?;
        replace(&dir.join(SERVER_CERT), &server_cert_pem, false)?;
    }

    let identity_path = dir.join(IDENTITY);
    check_identity(dir, &identity_path, &tls_ca, &ssh_ca, &cluster)?;

    let db_path = dir.join(DATABASE);
    if !db_path.is_file() {
        return Err(damaged(dir, DATABASE, "it is missing"));
    }
    Ok(Material {
        cluster,
        tls_ca,
        ssh_ca,
        bound_keypair_ca: bound_keypair_ca(dir)?,
        server_cert_pem,
        server_key_pem,
        identity_path,
        db_path,
    })
}

/// Reuses the admin identity; issues a new one when it is missing or about to expire, and
/// refuses one that is garbled or from another CA.
fn check_identity(
    dir: &Path,
    path: &Path,
    ca: &TlsCa,
    ssh_ca: &SshCa,
    cluster: &str,
) -> Result<(), LabError> {
    if !path.exists() {
        return write_identity(&admin_identity(ca, ssh_ca, cluster)?, path);
    }
    let loaded = IdentityFile::read(path).map_err(|e| damaged(dir, IDENTITY, e))?;
    let ours = loaded
        .identity
        .tls_ca_pems
        .iter()
        .any(|pem| pem.trim() == ca.cert_pem().trim());
    if !ours {
        return Err(damaged(dir, IDENTITY, "its CA is not this lab's CA"));
    }
    loaded
        .identity
        .cert()
        .map_err(|e| damaged(dir, IDENTITY, e))?;
    if expires_soon(&loaded.identity.tls_cert_pem) {
        write_identity(&admin_identity(ca, ssh_ca, cluster)?, path)?;
    }
    Ok(())
}

/// The address the running lab's proxy listens on (one line), so that `lab break` can point a
/// bot's `proxy_server` at it; absent while the lab runs without a proxy.
pub const PROXY_ADDR: &str = "proxy.addr";

/// Records (or, with `None`, removes the record of) the lab proxy's address.
pub(crate) fn record_proxy(dir: &Path, addr: Option<SocketAddr>) -> Result<(), LabError> {
    let path = dir.join(PROXY_ADDR);
    match addr {
        Some(addr) => replace(&path, &format!("{addr}\n"), false),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path, e)),
            _ => Ok(()),
        },
    }
}

/// The lab proxy's web CA (its own, never the cluster's: a client that trusts the cluster CA must
/// not take the web certificate for auth's) and web certificate, in the data dir.
pub const WEB_CA_CERT: &str = "web-ca.crt";
const WEB_CA_KEY: &str = "web-ca.key";
const WEB_CERT: &str = "web.crt";
const WEB_KEY: &str = "web.key";

/// The web certificate chain (leaf, then the web CA) and key for `hosts`, PEM. The web CA is
/// created on first use and kept; the leaf is issued at every start, so a changed
/// `--proxy-public-addr` gets its name.
pub(crate) fn web_material(
    dir: &Path,
    cluster: &str,
    hosts: &[&str],
) -> Result<(String, String), LabError> {
    let crypto = |e: &dyn std::fmt::Display| LabError::Crypto(e.to_string());
    let ca = if dir.join(WEB_CA_CERT).exists() {
        let key =
            pki::read_key(&read(dir, WEB_CA_KEY)?).map_err(|e| damaged(dir, WEB_CA_KEY, e))?;
        TlsCa::load(&read(dir, WEB_CA_CERT)?, key).map_err(|e| damaged(dir, WEB_CA_CERT, e))?
    } else {
        let key = pki::new_key().map_err(|e| crypto(&e))?;
        let ca = TlsCa::generate(&format!("{cluster} web CA"), key.key, CA_YEARS)
            .map_err(|e| crypto(&e))?;
        write_new(&dir.join(WEB_CA_KEY), &key.pem, true)?;
        write_new(&dir.join(WEB_CA_CERT), ca.cert_pem(), false)?;
        ca
    };
    let key = pki::new_key().map_err(|e| crypto(&e))?;
    let der = ca
        .issue_for_hosts(hosts, cluster, &key.key, SystemTime::now() + LEAF_LIFETIME)
        .map_err(|e| crypto(&e))?;
    let chain = pki::cert_pem(&der).map_err(|e| crypto(&e))? + ca.cert_pem();
    replace(&dir.join(WEB_KEY), &key.pem, true)?;
    replace(&dir.join(WEB_CERT), &chain, false)?;
    Ok((chain, key.pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_user_gets_a_plain_users_identity_and_admin_or_bot_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("lab");
        open(&dir, None).unwrap();
        let identity =
            issue_user(&dir, "alice", &["editor".into()], Duration::from_secs(600)).unwrap();
        let cert = identity.cert().unwrap();
        assert_eq!(cert.username, "alice");
        assert_eq!(cert.roles, ["editor"]);
        assert_eq!(cert.bot_name, None);
        assert_eq!(cert.impersonator, None);
        let lifetime = cert.not_after - unix_now();
        assert!((590..=600).contains(&lifetime), "{lifetime}");
        for name in [ADMIN, "bot-ops", "", "a b"] {
            let err = issue_user(&dir, name, &[], Duration::from_secs(60)).unwrap_err();
            assert!(matches!(err, LabError::UserName { .. }), "{name:?}: {err}");
        }
        let foreign = tmp.path().join("not-a-lab");
        std::fs::create_dir(&foreign).unwrap();
        let err = issue_user(&foreign, "alice", &[], Duration::from_secs(60)).unwrap_err();
        assert!(matches!(err, LabError::Foreign { .. }), "{err}");
    }

    fn unix_now() -> i64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

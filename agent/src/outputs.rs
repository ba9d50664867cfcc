//! Outputs: impersonated certificates requested as the bot for each configured destination
//! (identity or database), written atomically with tbot's destination file names.

use std::path::Path;
use std::time::Duration;

use mwi_proto::proto::RouteToDatabase;
use tonic::transport::Channel;

use crate::config::{Output, OutputKind};
use crate::identity::Identity;
use crate::keys::KeyPair;
use crate::rpc::{self, Failure};
use crate::store::{StoreError, write_files_atomically};

/// tbot's destination file names (the key and certificates are named as in its internal data).
pub mod name {
    pub use crate::store::name::{KEY, KEY_PUB, SSH_CERT, TLS_CERT};
    pub const IDENTITY: &str = "identity";
    pub const HOST_CA: &str = "teleport-host-ca.crt";
}

/// The symptom an ssh client shows when its certificate does not allow the login.
pub const SSH_UNABLE_TO_AUTHENTICATE: &str = "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain";

/// Requests the output's certificates as `bot` and writes them to its destination.
pub async fn refresh(
    channel: Channel,
    bot: &Identity,
    output: &Output,
    ttl: Duration,
) -> Result<Identity, Failure> {
    let key = KeyPair::generate().map_err(|e| Failure::local(e.to_string()))?;
    let route = match &output.kind {
        OutputKind::Identity { .. } => None,
        OutputKind::Database {
            service,
            database,
            username,
        } => Some(RouteToDatabase {
            service_name: service.clone(),
            database: database.clone().unwrap_or_default(),
            username: username.clone().unwrap_or_default(),
            ..Default::default()
        }),
    };
    let certs = rpc::impersonate(channel, bot, &key, ttl, &output.roles, route).await?;
    let identity = Identity::from_certs(&key, &certs)
        .map_err(|e| Failure::local(format!("the server's answer is unusable: {e}")))?;
    write(&output.destination, &output.kind, &identity)
        .map_err(|e| Failure::local(e.to_string()))?;
    Ok(identity)
}

/// Writes an output's files (mode 0600) into `dir`, creating it (mode 0700) if needed.
pub fn write(dir: &Path, kind: &OutputKind, identity: &Identity) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| StoreError::Create {
        dir: dir.to_path_buf(),
        source,
    })?;
    let host_cas: String = identity.tls_ca_pems.concat();
    let mut files: Vec<(&str, String)> = vec![
        (name::KEY, identity.private_key_pem.clone()),
        (name::TLS_CERT, identity.tls_cert_pem.clone()),
        (name::HOST_CA, host_cas),
    ];
    if let OutputKind::Identity { .. } = kind {
        files.push((
            name::KEY_PUB,
            format!("{}\n", identity.ssh_public_key.trim()),
        ));
        if !identity.ssh_cert.is_empty() {
            files.push((name::SSH_CERT, format!("{}\n", identity.ssh_cert)));
            files.push((name::IDENTITY, identity.identity_file().to_text()));
        }
    }
    write_files_atomically(dir, &files)
}

/// Whether an SSH login is among the output certificate's principals (the lab-only
/// `ssh_login` check); the login an ssh client would be refused is returned.
pub fn refused_login<'a>(kind: &'a OutputKind, identity: &Identity) -> Option<&'a str> {
    match kind {
        OutputKind::Identity {
            ssh_login: Some(login),
        } if !identity.ssh_principals.iter().any(|p| p == login) => Some(login),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::{TestCa, bot_id, certs};
    use mwi_identity::IdentityFile;

    fn identity() -> Identity {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        Identity::from_certs(&key, &certs(&ca, &key, &bot_id(0), 0, 4_000_000_000)).unwrap()
    }

    #[test]
    fn identity_output_without_ssh_cert_writes_the_tls_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let kind = OutputKind::Identity { ssh_login: None };
        write(&out, &kind, &identity()).unwrap();
        for file in [name::KEY, name::TLS_CERT, name::HOST_CA, name::KEY_PUB] {
            assert!(out.join(file).exists(), "{file} missing");
        }
        assert!(
            !out.join(name::IDENTITY).exists(),
            "no identity file without an SSH cert"
        );
    }

    #[test]
    fn identity_output_with_ssh_cert_writes_a_readable_identity_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut id = identity();
        id.ssh_cert = "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAcert".into();
        let kind = OutputKind::Identity { ssh_login: None };
        write(dir.path(), &kind, &id).unwrap();
        let loaded = IdentityFile::read(&dir.path().join(name::IDENTITY)).unwrap();
        assert_eq!(loaded.identity.ssh_cert, id.ssh_cert);
        assert!(
            loaded.warnings.is_empty(),
            "mode 0600: {:?}",
            loaded.warnings
        );
    }

    #[test]
    fn ssh_login_check_refuses_a_login_outside_the_principals() {
        let mut id = identity();
        id.ssh_principals = vec!["alice".into(), "-teleport-internal-join".into()];
        let bob = OutputKind::Identity {
            ssh_login: Some("bob".into()),
        };
        let alice = OutputKind::Identity {
            ssh_login: Some("alice".into()),
        };
        assert_eq!(refused_login(&bob, &id), Some("bob"));
        assert_eq!(refused_login(&alice, &id), None);
        assert_eq!(
            refused_login(&OutputKind::Identity { ssh_login: None }, &id),
            None
        );
    }
}

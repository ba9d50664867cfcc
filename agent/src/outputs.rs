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
    pub const SSH_CONFIG: &str = "ssh_config";
    pub const KNOWN_HOSTS: &str = "known_hosts";
}

/// The proxy an identity output's `ssh_config` goes through: its web address (`HOST:PORT`) as
/// tbot picks it (the advertised one, or the configured one with `TBOT_USE_PROXY_ADDR=yes`), and
/// the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshProxy {
    pub addr: String,
    pub cluster: String,
}

impl SshProxy {
    fn host(&self) -> &str {
        mwi_identity::tls::host(&self.addr)
    }

    /// `known_hosts`: the cluster's SSH host CAs as `@cert-authority` lines for the proxy and the
    /// cluster's hosts (lib/tbot/service_identity_output.go, `ssh.GenerateKnownHosts`).
    fn known_hosts(&self, identity: &Identity) -> String {
        let (host, cluster) = (self.host(), &self.cluster);
        identity
            .ssh_ca_keys
            .iter()
            .map(|key| {
                let key: Vec<&str> = key.split_whitespace().take(2).collect();
                format!(
                    "@cert-authority {host},{cluster},*.{cluster} {} type=host\n",
                    key.join(" ")
                )
            })
            .collect()
    }

    /// `ssh_config` in the shape tbot renders (lib/config/openssh/openssh.go with
    /// `PureTBotProxyCommand` and `Resume`, as lib/tbot/service_identity_output.go asks): the
    /// cluster's hosts through the proxy with this output's key, certificate and known_hosts.
    fn ssh_config(&self, dir: &Path) -> String {
        let (host, cluster) = (self.host(), &self.cluster);
        let port = self.addr.rsplit_once(':').map_or("443", |(_, port)| port);
        let dest = dir.display();
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\"'\"'").replace('%', "%%"));
        format!(
            "# Begin generated Teleport configuration for {host} by tbot\n\n\
             # Common flags for all {cluster} hosts\n\
             Host *.{cluster} {host}\n\
             \x20   UserKnownHostsFile \"{dest}/{known_hosts}\"\n\
             \x20   IdentityFile \"{dest}/{key}\"\n\
             \x20   CertificateFile \"{dest}/{cert}\"\n\n\
             # Flags for all {cluster} hosts except the proxy\n\
             Host *.{cluster} !{host}\n\
             \x20   Port 3022\n\
             \x20   ProxyCommand 'tbot' ssh-proxy-command --destination-dir={qdest} --proxy-server={qproxy} --cluster={qcluster} --tls-routing --no-connection-upgrade --resume --user=%r --host=%h --port=%p\n\n\
             # End generated Teleport configuration\n",
            known_hosts = name::KNOWN_HOSTS,
            key = name::KEY,
            cert = name::SSH_CERT,
            qdest = quote(&dir.display().to_string()),
            qproxy = quote(&format!("{host}:{port}")),
            qcluster = quote(cluster),
        )
    }
}

/// The symptom an ssh client shows when its certificate does not allow the login.
pub const SSH_UNABLE_TO_AUTHENTICATE: &str = "ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain";

/// Requests the output's certificates as `bot` and writes them to its destination.
pub async fn refresh(
    channel: Channel,
    bot: &Identity,
    output: &Output,
    ttl: Duration,
    ssh: Option<&SshProxy>,
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
    write(&output.destination, &output.kind, &identity, ssh)
        .map_err(|e| Failure::local(e.to_string()))?;
    Ok(identity)
}

/// Writes an output's files (mode 0600) into `dir`, creating it (mode 0700) if needed; with `ssh`,
/// an identity output with `ssh_config` on also gets `ssh_config` and `known_hosts`.
pub fn write(
    dir: &Path,
    kind: &OutputKind,
    identity: &Identity,
    ssh: Option<&SshProxy>,
) -> Result<(), StoreError> {
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
    if let OutputKind::Identity { ssh_config, .. } = kind {
        if let Some(ssh) = ssh.filter(|_| *ssh_config) {
            files.push((name::KNOWN_HOSTS, ssh.known_hosts(identity)));
            files.push((name::SSH_CONFIG, ssh.ssh_config(dir)));
        }
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
            ..
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
        let kind = OutputKind::Identity {
            ssh_login: None,
            ssh_config: true,
        };
        write(&out, &kind, &identity(), None).unwrap();
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
        let kind = OutputKind::Identity {
            ssh_login: None,
            ssh_config: true,
        };
        write(dir.path(), &kind, &id, None).unwrap();
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
            ssh_config: true,
            ssh_login: Some("bob".into()),
        };
        let alice = OutputKind::Identity {
            ssh_config: true,
            ssh_login: Some("alice".into()),
        };
        assert_eq!(refused_login(&bob, &id), Some("bob"));
        assert_eq!(refused_login(&alice, &id), None);
        assert_eq!(
            refused_login(
                &OutputKind::Identity {
                    ssh_login: None,
                    ssh_config: true,
                },
                &id
            ),
            None
        );
    }

    #[test]
    fn with_a_proxy_an_identity_output_writes_ssh_config_and_known_hosts_unless_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut id = identity();
        id.ssh_ca_keys = vec!["ssh-ed25519 AAAAC3Nz host-ca".into()];
        let proxy = SshProxy {
            addr: "proxy.example.com:443".into(),
            cluster: "lab".into(),
        };
        let on = OutputKind::Identity {
            ssh_login: None,
            ssh_config: true,
        };
        write(dir.path(), &on, &id, Some(&proxy)).unwrap();
        let known = std::fs::read_to_string(dir.path().join(name::KNOWN_HOSTS)).unwrap();
        assert_eq!(
            known,
            "@cert-authority proxy.example.com,lab,*.lab ssh-ed25519 AAAAC3Nz type=host\n"
        );
        let config = std::fs::read_to_string(dir.path().join(name::SSH_CONFIG)).unwrap();
        let dest = dir.path().display();
        assert_eq!(
            config,
            format!(
                "# Begin generated Teleport configuration for proxy.example.com by tbot\n\n\
                 # Common flags for all lab hosts\n\
                 Host *.lab proxy.example.com\n\
                 \x20   UserKnownHostsFile \"{dest}/known_hosts\"\n\
                 \x20   IdentityFile \"{dest}/key\"\n\
                 \x20   CertificateFile \"{dest}/key-cert.pub\"\n\n\
                 # Flags for all lab hosts except the proxy\n\
                 Host *.lab !proxy.example.com\n\
                 \x20   Port 3022\n\
                 \x20   ProxyCommand 'tbot' ssh-proxy-command --destination-dir='{dest}' --proxy-server='proxy.example.com:443' --cluster='lab' --tls-routing --no-connection-upgrade --resume --user=%r --host=%h --port=%p\n\n\
                 # End generated Teleport configuration\n"
            )
        );

        let off_dir = tempfile::tempdir().unwrap();
        let off = OutputKind::Identity {
            ssh_login: None,
            ssh_config: false,
        };
        write(off_dir.path(), &off, &id, Some(&proxy)).unwrap();
        assert!(!off_dir.path().join(name::SSH_CONFIG).exists());
        assert!(!off_dir.path().join(name::KNOWN_HOSTS).exists());
    }
}

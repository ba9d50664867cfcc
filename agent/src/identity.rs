//! One issued identity (the bot's own or an output's): key, TLS and SSH certificates and the
//! cluster CAs, with what the certificates say and tbot's one-line description of them.

use std::time::Duration;

use mwi_identity::{CertIdentity, IdentityFile};
use mwi_proto::proto::Certs;
use time::OffsetDateTime;

use crate::keys::KeyPair;

/// 1.3.9999.2.9: the certificate may not be used to issue further certificates.
const DISALLOW_REISSUE: &[u64] = &[1, 3, 9999, 2, 9];

/// Certificates and the key they were issued for.
#[derive(Clone)]
pub struct Identity {
    pub private_key_pem: String,
    /// The SSH public key line (`key.pub`).
    pub ssh_public_key: String,
    pub tls_cert_pem: String,
    /// The SSH certificate line; empty when the server issued none.
    pub ssh_cert: String,
    pub tls_ca_pems: Vec<String>,
    /// SSH CA public keys, authorized_keys form.
    pub ssh_ca_keys: Vec<String>,
    /// What the TLS certificate names.
    pub cert: CertIdentity,
    pub disallow_reissue: bool,
    /// The SSH certificate's valid principals (empty without an SSH certificate).
    pub ssh_principals: Vec<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

/// An issued or stored identity that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the TLS certificate is unreadable: {0}")]
    TlsCert(String),
    #[error("the SSH certificate is unreadable: {0}")]
    SshCert(String),
    #[error("no TLS CA certificate came with it")]
    NoCa,
}

impl Identity {
    /// Assembles an identity from an answer (`proto.Certs`) to a request made with `key`.
    pub fn from_certs(key: &KeyPair, certs: &Certs) -> Result<Identity, IdentityError> {
        Identity::assemble(Parts {
            private_key_pem: key.private_pem.clone(),
            ssh_public_key: key.ssh_public.clone(),
            tls_cert_pem: String::from_utf8_lossy(&certs.tls).into_owned(),
            ssh_cert: String::from_utf8_lossy(&certs.ssh).trim().to_string(),
            tls_ca_pems: certs
                .tlsca_certs
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect(),
            ssh_ca_keys: certs
                .sshca_certs
                .iter()
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .collect(),
        })
    }

    /// Checks and reads the parts (from an answer or from storage).
    pub fn assemble(parts: Parts) -> Result<Identity, IdentityError> {
        let cert = CertIdentity::from_pem(&parts.tls_cert_pem)
            .map_err(|e| IdentityError::TlsCert(e.to_string()))?;
        let disallow_reissue = disallow_reissue(&parts.tls_cert_pem);
        let tls_ca_pems: Vec<String> = parts
            .tls_ca_pems
            .into_iter()
            .map(|p| p.trim().to_string() + "\n")
            .filter(|p| p.contains("-----BEGIN CERTIFICATE-----"))
            .collect();
        if tls_ca_pems.is_empty() {
            return Err(IdentityError::NoCa);
        }
        let ssh_principals = if parts.ssh_cert.is_empty() {
            Vec::new()
        } else {
            ssh_key::Certificate::from_openssh(&parts.ssh_cert)
                .map_err(|e| IdentityError::SshCert(e.to_string()))?
                .valid_principals()
                .to_vec()
        };
        Ok(Identity {
            private_key_pem: parts.private_key_pem,
            ssh_public_key: parts.ssh_public_key,
            tls_cert_pem: parts.tls_cert_pem,
            ssh_cert: parts.ssh_cert,
            tls_ca_pems,
            ssh_ca_keys: parts
                .ssh_ca_keys
                .into_iter()
                .filter(|k| !k.is_empty())
                .collect(),
            cert,
            disallow_reissue,
            ssh_principals,
        })
    }

    /// The principals tbot prints: the SSH certificate's, else the TLS certificate's logins.
    pub fn principals(&self) -> &[String] {
        if self.ssh_cert.is_empty() {
            &self.cert.logins
        } else {
            &self.ssh_principals
        }
    }

    /// Whether the certificate is outside its validity window at `now` (Unix seconds).
    pub fn expired_at(&self, now: i64) -> bool {
        self.cert.expired_at(now) || now < self.cert.not_before
    }

    /// The cluster that issued it (certificate attribute, else the issuer's organization).
    pub fn cluster_name(&self) -> Option<&str> {
        self.cert
            .teleport_cluster
            .as_deref()
            .or(self.cert.issuer_cluster.as_deref())
    }

    /// tbot's description: `valid: after=..., before=..., duration=1h0m0s | kind=tls, ...`.
    pub fn describe(&self) -> String {
        let span = Duration::from_secs(
            u64::try_from(self.cert.not_after - self.cert.not_before).unwrap_or(0),
        );
        format!(
            "valid: after={}, before={}, duration={} | kind=tls, renewable={}, disallow-reissue={}, roles=[{}], principals=[{}], generation={}",
            unix_rfc3339(self.cert.not_before),
            unix_rfc3339(self.cert.not_after),
            mwi_identity::duration::format(span),
            self.cert.renewable,
            self.disallow_reissue,
            self.cert.roles.join(" "),
            self.principals().join(" "),
            self.cert.generation,
        )
    }

    /// The identity in Teleport's identity-file format (the `identity` output file).
    pub fn identity_file(&self) -> IdentityFile {
        let cluster = self.cluster_name().unwrap_or("teleport.cluster.local");
        IdentityFile {
            private_key_pem: self.private_key_pem.clone(),
            ssh_cert: self.ssh_cert.clone(),
            tls_cert_pem: self.tls_cert_pem.clone(),
            ssh_ca_lines: self
                .ssh_ca_keys
                .iter()
                .map(|key| {
                    let key: Vec<&str> = key.split_whitespace().take(2).collect();
                    format!(
                        "@cert-authority {cluster},*.{cluster} {} type=host",
                        key.join(" ")
                    )
                })
                .collect(),
            tls_ca_pems: self.tls_ca_pems.clone(),
        }
    }
}

/// The stored or received text of an identity, before it is checked.
#[derive(Default)]
pub struct Parts {
    pub private_key_pem: String,
    pub ssh_public_key: String,
    pub tls_cert_pem: String,
    pub ssh_cert: String,
    pub tls_ca_pems: Vec<String>,
    pub ssh_ca_keys: Vec<String>,
}

fn disallow_reissue(pem: &str) -> bool {
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    cert.subject().iter_attributes().any(|attr| {
        attr.attr_type()
            .iter()
            .is_some_and(|arcs| arcs.eq(DISALLOW_REISSUE.iter().copied()))
            && attr.as_str().ok() != Some("false")
    })
}

/// Unix seconds as RFC 3339 UTC (`2022-07-21T21:49:26Z`).
pub fn unix_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::log::timestamp)
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CA and certificates it signs, the way the lab issues them, for tests.
    pub(crate) struct TestCa {
        pub issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
        pub cert: rcgen::Certificate,
    }

    impl TestCa {
        pub(crate) fn new() -> TestCa {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::default();
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::OrganizationName, "lab");
            dn.push(rcgen::DnType::CommonName, "lab");
            params.distinguished_name = dn;
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let cert = params.self_signed(&key).unwrap();
            TestCa {
                issuer: rcgen::Issuer::new(params, key),
                cert,
            }
        }

        /// A certificate for `key`'s public half naming `id`, valid `from..to` (Unix seconds).
        pub(crate) fn issue(&self, key: &KeyPair, id: &CertIdentity, from: i64, to: i64) -> String {
            self.issue_with(key, id, from, to, &[])
        }

        pub(crate) fn issue_with(
            &self,
            key: &KeyPair,
            id: &CertIdentity,
            from: i64,
            to: i64,
            extra: &[(&'static [u64], &str)],
        ) -> String {
            let public = rcgen::SubjectPublicKeyInfo::from_pem(&key.tls_public_pem).unwrap();
            let mut params = rcgen::CertificateParams::default();
            let mut dn = rcgen::DistinguishedName::new();
            for (o, v) in id.subject_entries() {
                dn.push(rcgen::DnType::CustomDnType(o.to_vec()), v);
            }
            for (o, v) in extra {
                dn.push(rcgen::DnType::CustomDnType(o.to_vec()), *v);
            }
            params.distinguished_name = dn;
            params.not_before = OffsetDateTime::from_unix_timestamp(from).unwrap();
            params.not_after = OffsetDateTime::from_unix_timestamp(to).unwrap();
            params.signed_by(&public, &self.issuer).unwrap().pem()
        }
    }

    pub(crate) fn bot_id(generation: u64) -> CertIdentity {
        CertIdentity {
            username: "bot-example".into(),
            roles: vec!["bot-example".into()],
            renewable: true,
            generation,
            bot_name: Some("example".into()),
            bot_instance_id: Some("7f0c".into()),
            ..Default::default()
        }
    }

    pub(crate) fn certs(
        ca: &TestCa,
        key: &KeyPair,
        id: &CertIdentity,
        from: i64,
        to: i64,
    ) -> Certs {
        Certs {
            ssh: Vec::new(),
            tls: ca.issue(key, id, from, to).into_bytes(),
            tlsca_certs: vec![ca.cert.pem().into_bytes()],
            sshca_certs: vec![b"ecdsa-sha2-nistp256 AAAAca lab".to_vec()],
        }
    }

    #[test]
    fn bot_identity_description_matches_tbots_line() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let mut id = bot_id(2);
        id.logins = vec!["-teleport-internal-join".into()];
        let identity =
            Identity::from_certs(&key, &certs(&ca, &key, &id, 1_658_440_166, 1_658_443_826))
                .unwrap();
        assert_eq!(
            identity.describe(),
            "valid: after=2022-07-21T21:49:26Z, before=2022-07-21T22:50:26Z, duration=1h1m0s | kind=tls, renewable=true, disallow-reissue=false, roles=[bot-example], principals=[-teleport-internal-join], generation=2"
        );
    }

    #[test]
    fn disallow_reissue_is_read_from_the_certificate() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let id = CertIdentity {
            username: "bot-example".into(),
            roles: vec!["access".into()],
            ..Default::default()
        };
        let pem = ca.issue_with(&key, &id, 0, 4_000_000_000, &[(DISALLOW_REISSUE, "true")]);
        let parts = Parts {
            tls_cert_pem: pem,
            tls_ca_pems: vec![ca.cert.pem()],
            ..Default::default()
        };
        let identity = Identity::assemble(parts).unwrap();
        assert!(identity.disallow_reissue);
        assert!(
            identity
                .describe()
                .contains("renewable=false, disallow-reissue=true, roles=[access]")
        );
    }

    #[test]
    fn an_answer_without_ca_or_with_garbage_is_refused() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let mut certs = certs(&ca, &key, &bot_id(1), 0, 4_000_000_000);
        certs.tlsca_certs.clear();
        assert_eq!(
            Identity::from_certs(&key, &certs).unwrap_err(),
            IdentityError::NoCa
        );
        let garbage = Certs {
            tls: b"nope".to_vec(),
            ..Default::default()
        };
        assert!(matches!(
            Identity::from_certs(&key, &garbage),
            Err(IdentityError::TlsCert(_))
        ));
        let mut bad_ssh = self::certs(&ca, &key, &bot_id(1), 0, 4_000_000_000);
        bad_ssh.ssh = b"ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAbroken".to_vec();
        assert!(matches!(
            Identity::from_certs(&key, &bad_ssh),
            Err(IdentityError::SshCert(_))
        ));
    }

    #[test]
    fn identity_file_has_cert_authority_lines_for_the_cluster() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let identity =
            Identity::from_certs(&key, &certs(&ca, &key, &bot_id(1), 0, 4_000_000_000)).unwrap();
        let file = identity.identity_file();
        assert_eq!(
            file.ssh_ca_lines,
            vec!["@cert-authority lab,*.lab ecdsa-sha2-nistp256 AAAAca type=host"]
        );
        assert_eq!(identity.cluster_name(), Some("lab"));
    }

    #[test]
    fn expiry_covers_both_ends_of_the_window() {
        let ca = TestCa::new();
        let key = KeyPair::generate().unwrap();
        let identity = Identity::from_certs(&key, &certs(&ca, &key, &bot_id(1), 100, 200)).unwrap();
        assert!(identity.expired_at(50));
        assert!(!identity.expired_at(150));
        assert!(identity.expired_at(200));
    }
}

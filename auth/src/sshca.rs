//! The lab's SSH certificate authority (ECDSA P-256): user certificates for joined and renewed
//! bots and the admin, and the `@cert-authority` line identity files carry.

use std::time::{SystemTime, UNIX_EPOCH};

use ssh_key::certificate::{Builder, CertType};
use ssh_key::{Algorithm, EcdsaCurve, LineEnding, PrivateKey, PublicKey};

/// Failure to create, read or use SSH key material; one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SshError(String);

/// The standard OpenSSH permissions of a user certificate.
const EXTENSIONS: &[&str] = &[
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

pub(crate) struct SshCa {
    key: PrivateKey,
}

/// Reads an `authorized_keys`-form public key (`ecdsa-sha2-nistp256 AAAA... [comment]`).
pub(crate) fn parse_authorized_key(bytes: &[u8]) -> Result<PublicKey, SshError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SshError("SSH public key is not UTF-8 authorized_keys text".into()))?;
    PublicKey::from_openssh(text.trim())
        .map_err(|e| SshError(format!("not an authorized_keys SSH public key: {e}")))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SshCa {
    /// A new CA key and its OpenSSH private key PEM.
    pub(crate) fn generate() -> Result<(SshCa, String), SshError> {
        let key = PrivateKey::random(
            &mut rand::rngs::OsRng,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
        )
        .map_err(|e| SshError(format!("generate SSH CA key: {e}")))?;
        let pem = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| SshError(format!("encode SSH CA key: {e}")))?;
        Ok((SshCa { key }, pem.to_string()))
    }

    /// Loads the CA from its OpenSSH private key PEM.
    pub(crate) fn load(pem: &str) -> Result<SshCa, SshError> {
        let key = PrivateKey::from_openssh(pem)
            .map_err(|e| SshError(format!("not an OpenSSH private key: {e}")))?;
        if key.is_encrypted() {
            return Err(SshError("the SSH CA key is encrypted".into()));
        }
        Ok(SshCa { key })
    }

    /// The CA public key in `authorized_keys` form (what `Certs.SSHCACerts` carries).
    pub(crate) fn public_line(&self) -> Result<String, SshError> {
        self.key
            .public_key()
            .to_openssh()
            .map_err(|e| SshError(format!("encode SSH CA public key: {e}")))
    }

    /// The known_hosts line trusting this CA for the cluster's hosts, as in identity files.
    pub(crate) fn cert_authority_line(&self, cluster: &str) -> Result<String, SshError> {
        Ok(format!(
            "@cert-authority {cluster},*.{cluster} {} type=host",
            self.public_line()?
        ))
    }

    /// A user certificate for `subject`, in `authorized_keys` form. Without principals the
    /// certificate gets a unique no-login principal, as Teleport's do.
    pub(crate) fn issue_user(
        &self,
        subject: &PublicKey,
        key_id: &str,
        principals: &[String],
        not_after: SystemTime,
    ) -> Result<String, SshError> {
        let err = |e: ssh_key::Error| SshError(format!("SSH certificate for {key_id:?}: {e}"));
        let valid_after = unix(SystemTime::now()).saturating_sub(60);
        let mut builder = Builder::new_with_random_nonce(
            &mut rand::rngs::OsRng,
            subject.key_data().clone(),
            valid_after,
            unix(not_after).max(valid_after),
        )
        .map_err(err)?;
        builder
            .serial(rand::random())
            .map_err(err)?
            .cert_type(CertType::User)
            .map_err(err)?
            .key_id(key_id)
            .map_err(err)?;
        if principals.is_empty() {
            builder
                .valid_principal(format!("-teleport-nologin-{}", uuid::Uuid::new_v4()))
                .map_err(err)?;
        }
        for principal in principals {
            builder.valid_principal(principal.clone()).map_err(err)?;
        }
        for ext in EXTENSIONS {
            builder.extension(*ext, "").map_err(err)?;
        }
        let cert = builder.sign(&self.key).map_err(err)?;
        cert.to_openssh().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificates_carry_the_principals_and_verify_against_the_ca() {
        let (ca, pem) = SshCa::generate().unwrap();
        let ca = SshCa::load(&pem).unwrap_or(ca);
        let user = PrivateKey::random(
            &mut rand::rngs::OsRng,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
        )
        .unwrap();
        let line = ca
            .issue_user(
                user.public_key(),
                "bot-a",
                &["root".into()],
                SystemTime::now() + std::time::Duration::from_secs(600),
            )
            .unwrap();
        let cert = ssh_key::Certificate::from_openssh(&line).unwrap();
        assert_eq!(cert.valid_principals(), ["root"]);
        let ca_key = PublicKey::from_openssh(&ca.public_line().unwrap()).unwrap();
        assert!(
            cert.validate_at(
                unix(SystemTime::now()),
                [&ca_key.fingerprint(Default::default())]
            )
            .is_ok()
        );
    }

    #[test]
    fn garbage_keys_are_errors() {
        assert!(SshCa::load("nope").is_err());
        assert!(parse_authorized_key(b"ssh-ed25519 !!!").is_err());
        assert!(parse_authorized_key(&[0xff, 0xfe]).is_err());
    }
}

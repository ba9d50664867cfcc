//! Key pairs the agent asks certificates for: ECDSA P-256 (tbot's default suite for bots), with
//! the public half in the two forms the wire wants (PEM PKIX for TLS, authorized_keys for SSH).

use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

/// A fresh private key and its public key in every form the agent sends or stores.
#[derive(Clone)]
pub struct KeyPair {
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as stored in `key`.
    pub private_pem: String,
    /// PKIX PEM (`-----BEGIN PUBLIC KEY-----`), sent as TLSPublicKey / PublicTLSKey.
    pub tls_public_pem: String,
    /// `ecdsa-sha2-nistp256 AAAA...`, sent as SSHPublicKey / PublicSSHKey and stored in `key.pub`.
    pub ssh_public: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches a log or a panic message.
        f.debug_struct("KeyPair")
            .field("ssh_public", &self.ssh_public)
            .finish_non_exhaustive()
    }
}

/// The system could not make or encode a key.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate a key pair: {0}")]
pub struct KeyError(String);

impl KeyPair {
    pub fn generate() -> Result<KeyPair, KeyError> {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let private_pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError(e.to_string()))?
            .to_string();
        let tls_public_pem = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError(e.to_string()))?;
        let verifying = p256::ecdsa::VerifyingKey::from(secret.public_key());
        let ssh_public =
            ssh_key::PublicKey::from(ssh_key::public::EcdsaPublicKey::from(&verifying))
                .to_openssh()
                .map_err(|e| KeyError(e.to_string()))?;
        Ok(KeyPair {
            private_pem,
            tls_public_pem,
            ssh_public,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_every_form() {
        let pair = KeyPair::generate().unwrap();
        assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(
            pair.tls_public_pem
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        assert!(pair.ssh_public.starts_with("ecdsa-sha2-nistp256 AAAA"));
        assert!(ssh_key::PublicKey::from_openssh(&pair.ssh_public).is_ok());
    }

    #[test]
    fn each_pair_is_new_and_debug_hides_the_private_key() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        assert_ne!(a.private_pem, b.private_pem);
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn rustls_accepts_the_private_key() {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        let pair = KeyPair::generate().unwrap();
        let der = PrivateKeyDer::from_pem_slice(pair.private_pem.as_bytes()).unwrap();
        assert!(
            rustls::crypto::ring::sign::any_supported_type(&der).is_ok(),
            "ring can sign with it"
        );
    }
}

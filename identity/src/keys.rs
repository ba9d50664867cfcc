//! Private keys in every software format Teleport writes (PKCS#1, PKCS#8, SEC1, OpenSSH), turned
//! into a PEM rustls signs with; a hardware-key (PIV) reference is refused with the way around it.

use p256::pkcs8::der::pem;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use ssh_key::private::KeypairData;

/// Why a private key cannot be used. Each renders as one line; the caller names the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "the private key is a hardware key (PIV) reference; mwictl needs the hardware key, which it cannot use: use an identity file (`tctl auth sign` or a bot's identity output) with -i"
    )]
    Hardware,
    #[error("the private key is encrypted with a passphrase; mwictl needs an unencrypted key")]
    Encrypted,
    #[error("no private key PEM block (file truncated or not a key?)")]
    NoKey,
    #[error("the {label} block is not a usable key ({reason}); the file may be truncated")]
    Malformed { label: String, reason: String },
    #[error("{0} keys are not supported in OpenSSH format; use an Ed25519 or ECDSA P-256 key")]
    Unsupported(String),
}

/// The PEM label of a hardware key reference (api/utils/keys, teleport v14+).
const PIV_LABEL: &str = "PIV YUBIKEY PRIVATE KEY";

/// Returns a PEM that rustls accepts (PKCS#1, PKCS#8 or SEC1) for the key in `pem`. PKCS#1,
/// PKCS#8 (ECDSA, Ed25519, RSA) and SEC1 come back as they are once checked; OpenSSH Ed25519 and
/// P-256 keys are re-encoded as PKCS#8.
pub fn software_key_pem(pem: &str) -> Result<String, KeyError> {
    let label = pem
        .lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|rest| rest.strip_suffix("-----"))
        .ok_or(KeyError::NoKey)?;
    let malformed = |reason: String| KeyError::Malformed {
        label: label.to_string(),
        reason,
    };
    match label {
        PIV_LABEL => Err(KeyError::Hardware),
        "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
        "OPENSSH PRIVATE KEY" => openssh_to_pkcs8(pem).map_err(|e| match e {
            KeyError::Malformed { reason, .. } => malformed(reason),
            other => other,
        }),
        "RSA PRIVATE KEY" | "PRIVATE KEY" | "EC PRIVATE KEY" => {
            let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| malformed(e.to_string()))?;
            crate::tls::provider()
                .key_provider
                .load_private_key(der)
                .map_err(|e| malformed(e.to_string()))?;
            Ok(pem.to_string())
        }
        _ if label.contains("PRIVATE KEY") => Err(malformed("unknown key type".into())),
        _ => Err(KeyError::NoKey),
    }
}

/// Re-encodes an OpenSSH private key as PKCS#8 PEM.
fn openssh_to_pkcs8(pem: &str) -> Result<String, KeyError> {
    let malformed = |reason: String| KeyError::Malformed {
        label: "OPENSSH PRIVATE KEY".into(),
        reason,
    };
    let key = ssh_key::PrivateKey::from_openssh(pem).map_err(|e| malformed(e.to_string()))?;
    if key.is_encrypted() {
        return Err(KeyError::Encrypted);
    }
    match key.key_data() {
        KeypairData::Ed25519(pair) => pem::encode_string(
            "PRIVATE KEY",
            LineEnding::LF,
            &ed25519_pkcs8(pair.private.as_ref()),
        )
        .map_err(|e| malformed(e.to_string())),
        KeypairData::Ecdsa(ssh_key::private::EcdsaKeypair::NistP256 { private, .. }) => {
            p256::SecretKey::from_slice(private.as_slice())
                .map_err(|e| malformed(e.to_string()))?
                .to_pkcs8_pem(LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|e| malformed(e.to_string()))
        }
        other => Err(KeyError::Unsupported(
            other
                .algorithm()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "these".into()),
        )),
    }
}

/// PKCS#8 v1 (RFC 8410) for an Ed25519 seed: a fixed prefix naming the algorithm, then the seed.
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::LineEnding as SshLineEnding;

    /// Throwaway RSA test keys (ring cannot generate RSA): `openssl genrsa -traditional 2048`
    /// and the same key through `openssl pkcs8 -topk8 -nocrypt`.
    const RSA_PKCS1: &str = include_str!("testdata/rsa-pkcs1.pem");
    const RSA_PKCS8: &str = include_str!("testdata/rsa-pkcs8.pem");

    fn p256_secret() -> p256::SecretKey {
        p256::SecretKey::from_slice(&[0x42; 32]).unwrap()
    }

    fn assert_usable(pem: &str) {
        let out = software_key_pem(pem).unwrap();
        let der = PrivateKeyDer::from_pem_slice(out.as_bytes()).unwrap();
        crate::tls::provider()
            .key_provider
            .load_private_key(der)
            .unwrap();
    }

    #[test]
    fn pkcs1_rsa_is_used_as_it_is() {
        assert!(RSA_PKCS1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert_eq!(software_key_pem(RSA_PKCS1).unwrap(), RSA_PKCS1);
        assert_usable(RSA_PKCS1);
    }

    #[test]
    fn pkcs8_rsa_ecdsa_and_ed25519_are_used() {
        assert_usable(RSA_PKCS8);
        assert_usable(&rcgen::KeyPair::generate().unwrap().serialize_pem());
        assert_usable(
            &rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                .unwrap()
                .serialize_pem(),
        );
    }

    #[test]
    fn sec1_ecdsa_is_used() {
        let pem = p256_secret().to_sec1_pem(LineEnding::LF).unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert_usable(&pem);
    }

    #[test]
    fn openssh_ed25519_becomes_pkcs8_of_the_same_key() {
        let pair = ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]);
        let public = pair.public.0;
        let pem = ssh_key::PrivateKey::from(pair)
            .to_openssh(SshLineEnding::LF)
            .unwrap();
        let out = software_key_pem(&pem).unwrap();
        assert!(out.starts_with("-----BEGIN PRIVATE KEY-----"), "{out}");
        let key = rcgen::KeyPair::from_pem(&out).unwrap();
        assert_eq!(key.public_key_raw(), public);
        assert_usable(&pem);
    }

    #[test]
    fn openssh_p256_becomes_pkcs8_of_the_same_key() {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let pair = ssh_key::private::EcdsaKeypair::NistP256 {
            public: p256_secret().public_key().to_encoded_point(false),
            private: p256_secret().into(),
        };
        let pem = ssh_key::PrivateKey::try_from(ssh_key::private::KeypairData::from(pair))
            .unwrap()
            .to_openssh(SshLineEnding::LF)
            .unwrap();
        let out = software_key_pem(&pem).unwrap();
        let back: p256::SecretKey = p256::pkcs8::DecodePrivateKey::from_pkcs8_pem(&out).unwrap();
        assert_eq!(back, p256_secret());
        assert_usable(&pem);
    }

    #[test]
    fn a_hardware_key_reference_says_to_use_an_identity_file() {
        let pem = "-----BEGIN PIV YUBIKEY PRIVATE KEY-----\nAAAA\n-----END PIV YUBIKEY PRIVATE KEY-----\n";
        let err = software_key_pem(pem).unwrap_err();
        assert_eq!(err, KeyError::Hardware);
        let line = err.to_string();
        assert!(
            line.contains("needs the hardware key") && line.contains("use an identity file"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn truncated_and_empty_keys_are_one_line_errors() {
        let pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let cut = &pem[..pem.len() / 2];
        assert!(matches!(
            software_key_pem(cut).unwrap_err(),
            KeyError::Malformed { .. }
        ));
        let body_cut = pem.replacen("\n", "\nAAAA", 1);
        assert!(matches!(
            software_key_pem(&body_cut).unwrap_err(),
            KeyError::Malformed { .. }
        ));
        assert_eq!(software_key_pem("").unwrap_err(), KeyError::NoKey);
        let openssh =
            ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[1; 32]))
                .to_openssh(SshLineEnding::LF)
                .unwrap();
        let err = software_key_pem(&openssh[..openssh.len() - 60]).unwrap_err();
        assert!(err.to_string().contains("OPENSSH PRIVATE KEY"), "{err}");
    }

    #[test]
    fn an_encrypted_key_is_refused() {
        let pem =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(software_key_pem(pem).unwrap_err(), KeyError::Encrypted);
    }
}

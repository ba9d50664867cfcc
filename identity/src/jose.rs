//! Compact JWS (RFC 7515) signing and verification for EdDSA (Ed25519, RFC 8037), ES256 and
//! RS256, the JWT claims bound-keypair joining uses, and Teleport's key ID of a public key.
//!
//! Teleport's bound-keypair challenge is a JSON document the client signs byte for byte as a JWS
//! payload (protected header `{"alg":..,"typ":"JWT"}`, no `kid`); the join state is a JWT the
//! auth service signs with its `bound_keypair` CA, with `kid` naming the CA key
//! (teleport-bound-keypair.md §3–§4).

use base64ct::{Base64UrlUnpadded, Encoding};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a token, key or claim set is refused. Each renders as one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoseError {
    #[error("malformed compact JWS: {0}")]
    Malformed(String),
    #[error("invalid JWT header: {0}")]
    Header(String),
    #[error("JWS algorithm {found:?} does not match the key (want {want:?})")]
    Algorithm { found: String, want: &'static str },
    #[error("JWS signature does not verify with the expected key")]
    Signature,
    #[error("malformed key: {0}")]
    Key(String),
    #[error("unsupported key type {0}; use Ed25519, ECDSA P-256 or RSA")]
    UnsupportedKey(String),
    #[error("malformed JWT claims: {0}")]
    Claims(String),
    // The validation wordings are go-jose's (go-jose/v4 jwt/errors.go), which Teleport surfaces.
    #[error("go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)")]
    Issuer,
    #[error("go-jose/go-jose/jwt: validation failed, invalid subject claim (sub)")]
    Subject,
    #[error("go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)")]
    Audience,
    #[error("go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)")]
    NotValidYet,
    #[error("go-jose/go-jose/jwt: validation failed, token is expired (exp)")]
    Expired,
    #[error("go-jose/go-jose/jwt: validation field, token issued in the future (iat)")]
    IssuedInTheFuture,
}

/// The JWS `alg` of each key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    EdDsa,
    Es256,
    Rs256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::EdDsa => "EdDSA",
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }
}

/// A private key that signs JWS.
#[derive(Clone)]
pub enum SigningKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.alg().name())
    }
}

/// A public key that verifies JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

/// The PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The PKIX prefix of an Ed25519 public key (RFC 8410): the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl SigningKey {
    /// A new Ed25519 key (Teleport's `balanced-v1` and `legacy` suites for bound keypairs).
    pub fn generate_ed25519() -> SigningKey {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// A new ECDSA P-256 key (the `fips-v1` and `hsm-v1` suites).
    pub fn generate_p256() -> SigningKey {
        SigningKey::P256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
    }

    pub fn alg(&self) -> Alg {
        match self {
            SigningKey::Ed25519(_) => Alg::EdDsa,
            SigningKey::P256(_) => Alg::Es256,
            SigningKey::Rsa(_) => Alg::Rs256,
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            SigningKey::Ed25519(k) => VerifyingKey::Ed25519(k.verifying_key()),
            SigningKey::P256(k) => VerifyingKey::P256(*k.verifying_key()),
            SigningKey::Rsa(k) => VerifyingKey::Rsa(k.to_public_key()),
        }
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`, any of the three types), SEC1
    /// (`EC PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or OpenSSH (Ed25519, P-256).
    pub fn from_pem(pem: &str) -> Result<SigningKey, JoseError> {
        let bad = |e: &dyn std::fmt::Display| JoseError::Key(e.to_string());
        if pem.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let key = ssh_key::PrivateKey::from_openssh(pem).map_err(|e| bad(&e))?;
            return match key.key_data() {
                ssh_key::private::KeypairData::Ed25519(pair) => Ok(SigningKey::Ed25519(
                    ed25519_dalek::SigningKey::from_bytes(&pair.private.to_bytes()),
                )),
                ssh_key::private::KeypairData::Ecdsa(
                    ssh_key::private::EcdsaKeypair::NistP256 { private, .. },
                ) => p256::ecdsa::SigningKey::from_slice(private.as_slice())
                    .map(SigningKey::P256)
                    .map_err(|e| bad(&e)),
                other => Err(JoseError::UnsupportedKey(
                    other
                        .algorithm()
                        .map(|a| a.to_string())
                        .unwrap_or_else(|_| "unknown".into()),
                )),
            };
        }
        if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
            let key = p256::SecretKey::from_sec1_pem(pem).map_err(|e| bad(&e))?;
            return Ok(SigningKey::P256(key.into()));
        }
        if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad(&e))?;
            return Ok(SigningKey::Rsa(Box::new(key)));
        }
        let (label, der) =
            p256::pkcs8::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| bad(&e))?;
        if label != "PRIVATE KEY" {
            return Err(JoseError::Key(format!("unexpected PEM block {label:?}")));
        }
        if let Some(seed) = der.strip_prefix(&ED25519_PKCS8_PREFIX[..]) {
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| JoseError::Key("Ed25519 key is not 32 bytes".into()))?;
            return Ok(SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                &seed,
            )));
        }
        if let Ok(key) = p256::SecretKey::from_pkcs8_der(&der) {
            return Ok(SigningKey::P256(key.into()));
        }
        rsa::RsaPrivateKey::from_pkcs8_der(&der)
            .map(|k| SigningKey::Rsa(Box::new(k)))
            .map_err(|_| JoseError::UnsupportedKey("in PKCS#8".into()))
    }

    /// The key as PEM the way Teleport writes private keys: PKCS#8 for Ed25519, SEC1 for ECDSA,
    /// PKCS#1 for RSA.
    pub fn to_pem(&self) -> Result<String, JoseError> {
        let bad = |e: &dyn std::fmt::Display| JoseError::Key(e.to_string());
        match self {
            SigningKey::Ed25519(k) => {
                let mut der = ED25519_PKCS8_PREFIX.to_vec();
                der.extend_from_slice(&k.to_bytes());
                p256::pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der)
                    .map_err(|e| bad(&e))
            }
            SigningKey::P256(k) => p256::SecretKey::from(k)
                .to_sec1_pem(LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| bad(&e)),
            SigningKey::Rsa(k) => k
                .to_pkcs1_pem(LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| bad(&e)),
        }
    }

    /// The key as PKCS#8 PEM (any type), for tools that read only PKCS#8.
    pub fn to_pkcs8_pem(&self) -> Result<String, JoseError> {
        let bad = |e: &dyn std::fmt::Display| JoseError::Key(e.to_string());
        match self {
            SigningKey::Ed25519(_) => self.to_pem(),
            SigningKey::P256(k) => p256::SecretKey::from(k)
                .to_pkcs8_pem(LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| bad(&e)),
            SigningKey::Rsa(k) => k
                .to_pkcs8_pem(LineEnding::LF)
                .map(|p| p.to_string())
                .map_err(|e| bad(&e)),
        }
    }

    fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Ed25519(k) => k.sign(input).to_bytes().to_vec(),
            SigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(input);
                sig.to_bytes().to_vec()
            }
            SigningKey::Rsa(k) => rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone())
                .sign(input)
                .to_vec(),
        }
    }
}

impl VerifyingKey {
    pub fn alg(&self) -> Alg {
        match self {
            VerifyingKey::Ed25519(_) => Alg::EdDsa,
            VerifyingKey::P256(_) => Alg::Es256,
            VerifyingKey::Rsa(_) => Alg::Rs256,
        }
    }

    /// Reads an SSH public key in authorized_keys form (`ssh-ed25519 AAAA... [comment]`), the
    /// form bound-keypair tokens and challenges carry.
    pub fn from_authorized_key(line: &str) -> Result<VerifyingKey, JoseError> {
        let key = ssh_key::PublicKey::from_openssh(line.trim())
            .map_err(|e| JoseError::Key(format!("not an SSH public key: {e}")))?;
        match key.key_data() {
            ssh_key::public::KeyData::Ed25519(k) => ed25519_dalek::VerifyingKey::from_bytes(&k.0)
                .map(VerifyingKey::Ed25519)
                .map_err(|e| JoseError::Key(e.to_string())),
            ssh_key::public::KeyData::Ecdsa(ssh_key::public::EcdsaPublicKey::NistP256(point)) => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point.as_bytes())
                    .map(VerifyingKey::P256)
                    .map_err(|e| JoseError::Key(e.to_string()))
            }
            ssh_key::public::KeyData::Rsa(k) => rsa::RsaPublicKey::try_from(k)
                .map(VerifyingKey::Rsa)
                .map_err(|e| JoseError::Key(e.to_string())),
            other => Err(JoseError::UnsupportedKey(other.algorithm().to_string())),
        }
    }

    /// The key in authorized_keys form, without a comment.
    pub fn to_authorized_key(&self) -> Result<String, JoseError> {
        let data = match self {
            VerifyingKey::Ed25519(k) => {
                ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(k.to_bytes()))
            }
            VerifyingKey::P256(k) => ssh_key::public::KeyData::Ecdsa(
                ssh_key::public::EcdsaPublicKey::from_sec1_bytes(
                    k.to_encoded_point(false).as_bytes(),
                )
                .map_err(|e| JoseError::Key(e.to_string()))?,
            ),
            VerifyingKey::Rsa(k) => ssh_key::public::KeyData::Rsa(
                ssh_key::public::RsaPublicKey::try_from(k)
                    .map_err(|e| JoseError::Key(e.to_string()))?,
            ),
        };
        ssh_key::PublicKey::new(data, "")
            .to_openssh()
            .map_err(|e| JoseError::Key(e.to_string()))
    }

    /// DER the way Teleport hashes it for a key ID: PKIX for Ed25519 and ECDSA, PKCS#1 for RSA
    /// (gravitational/teleport lib/jwt KeyID).
    pub fn der(&self) -> Vec<u8> {
        match self {
            VerifyingKey::Ed25519(k) => {
                let mut der = ED25519_SPKI_PREFIX.to_vec();
                der.extend_from_slice(k.as_bytes());
                der
            }
            VerifyingKey::P256(k) => p256::PublicKey::from(k)
                .to_public_key_der()
                .map(|d| d.into_vec())
                .unwrap_or_default(),
            VerifyingKey::Rsa(k) => k.to_pkcs1_der().map(|d| d.into_vec()).unwrap_or_default(),
        }
    }

    /// Teleport's key ID: unpadded base64url of SHA-256 over [`VerifyingKey::der`].
    pub fn key_id(&self) -> String {
        Base64UrlUnpadded::encode_string(&Sha256::digest(self.der()))
    }

    fn verify_bytes(&self, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let ok =
            match self {
                VerifyingKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig)
                    .is_ok_and(|s| k.verify(input, &s).is_ok()),
                VerifyingKey::P256(k) => p256::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| k.verify(input, &s).is_ok()),
                VerifyingKey::Rsa(k) => rsa::pkcs1v15::Signature::try_from(sig).is_ok_and(|s| {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone())
                        .verify(input, &s)
                        .is_ok()
                }),
            };
        if ok {
            Ok(())
        } else {
            Err(JoseError::Signature)
        }
    }
}

/// The protected header of a compact JWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// Signs `payload` as a compact JWS with header `{"alg":..,"kid":..,"typ":"JWT"}` (`kid` only
/// when given).
pub fn sign(key: &SigningKey, kid: Option<&str>, payload: &[u8]) -> String {
    let header = Header {
        alg: key.alg().name().to_string(),
        kid: kid.map(str::to_string),
        typ: Some("JWT".into()),
    };
    // A struct of strings always serialises.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(&header),
        Base64UrlUnpadded::encode_string(payload)
    );
    let sig = key.sign_bytes(input.as_bytes());
    format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
}

/// A compact JWS split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    pub header: Header,
    pub payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS without verifying it (to read `kid` first).
pub fn parse(token: &str) -> Result<Parsed<'_>, JoseError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed(
            "expected three base64url parts separated by '.'".into(),
        ));
    };
    let decode = |what: &str, part: &str| {
        Base64UrlUnpadded::decode_vec(part)
            .map_err(|_| JoseError::Malformed(format!("{what} is not unpadded base64url")))
    };
    let header_bytes = decode("protected header", h)?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| JoseError::Header(format!("not a JSON header with \"alg\": {e}")))?;
    Ok(Parsed {
        header,
        payload: decode("payload", p)?,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: decode("signature", s)?,
    })
}

impl Parsed<'_> {
    /// Checks the signature with `key`; the header's `alg` must be the key's.
    pub fn verify(&self, key: &VerifyingKey) -> Result<&[u8], JoseError> {
        let want = key.alg().name();
        if self.header.alg != want {
            return Err(JoseError::Algorithm {
                found: self.header.alg.clone(),
                want,
            });
        }
        key.verify_bytes(self.signing_input.as_bytes(), &self.signature)?;
        Ok(&self.payload)
    }
}

/// Verifies a compact JWS with `key` and returns its payload.
pub fn verify(token: &str, key: &VerifyingKey) -> Result<Vec<u8>, JoseError> {
    parse(token)?.verify(key).map(<[u8]>::to_vec)
}

/// A JWT `aud`: one string (how go-jose marshals a single audience) or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Audience::One(a) => a == name,
            Audience::Many(all) => all.iter().any(|a| a == name),
        }
    }
}

/// The registered JWT claims (RFC 7519 §4.1) that bound-keypair documents use; NumericDates
/// are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// What [`Claims::validate`] expects; `None` skips a check.
#[derive(Debug, Clone, Default)]
pub struct Expected<'a> {
    pub issuer: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub audience: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: i64,
    pub leeway_secs: i64,
}

impl Claims {
    /// go-jose's ValidateWithLeeway: issuer, subject, audience, then nbf, exp, iat with leeway.
    pub fn validate(&self, want: &Expected<'_>) -> Result<(), JoseError> {
        if want.issuer.is_some() && self.iss.as_deref() != want.issuer {
            return Err(JoseError::Issuer);
        }
        if want.subject.is_some() && self.sub.as_deref() != want.subject {
            return Err(JoseError::Subject);
        }
        if let Some(aud) = want.audience
            && !self.aud.as_ref().is_some_and(|a| a.contains(aud))
        {
            return Err(JoseError::Audience);
        }
        let now = want.now;
        let leeway = want.leeway_secs;
        if self.nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err(JoseError::NotValidYet);
        }
        if self.exp.is_some_and(|exp| now - leeway > exp) {
            return Err(JoseError::Expired);
        }
        if self.iat.is_some_and(|iat| now + leeway < iat) {
            return Err(JoseError::IssuedInTheFuture);
        }
        Ok(())
    }
}

/// Signs a JSON claims object as a JWT.
pub fn sign_claims<T: Serialize>(
    key: &SigningKey,
    kid: Option<&str>,
    claims: &T,
) -> Result<String, JoseError> {
    let payload = serde_json::to_vec(claims).map_err(|e| JoseError::Claims(e.to_string()))?;
    Ok(sign(key, kid, &payload))
}

/// Decodes a verified payload as JSON claims.
pub fn decode_claims<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Result<T, JoseError> {
    serde_json::from_slice(payload).map_err(|e| JoseError::Claims(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        Base64UrlUnpadded::decode_vec(s).unwrap()
    }

    // RFC 8037 Appendix A.1/A.4: an Ed25519 key and its deterministic signature.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    // RFC 7515 Appendix A.3: ES256.
    const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const RFC7515_A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    const RFC7515_A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    // RFC 7515 Appendix A.2: RS256 (PKCS#1 v1.5 is deterministic).
    const RFC7515_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const RFC7515_A2_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    const RFC7515_PAYLOAD: &[u8] =
        b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

    fn rfc8037_key() -> SigningKey {
        let seed: [u8; 32] = b64(RFC8037_D).try_into().unwrap();
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn rfc7515_p256() -> VerifyingKey {
        let mut point = vec![4];
        point.extend(b64(RFC7515_A3_X));
        point.extend(b64(RFC7515_A3_Y));
        VerifyingKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap())
    }

    fn rfc7515_rsa() -> VerifyingKey {
        let n = rsa::BigUint::from_bytes_be(&b64(RFC7515_A2_N));
        VerifyingKey::Rsa(rsa::RsaPublicKey::new(n, rsa::BigUint::from(65537u32)).unwrap())
    }

    /// Flips one bit of the last signature byte, keeping the base64url valid.
    fn tamper(token: &str) -> String {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = b64(sig);
        *sig.last_mut().unwrap() ^= 1;
        format!("{input}.{}", Base64UrlUnpadded::encode_string(&sig))
    }

    #[test]
    fn ed25519_signs_the_rfc_8037_vector_exactly() {
        let key = rfc8037_key();
        let VerifyingKey::Ed25519(public) = key.verifying_key() else {
            panic!("not Ed25519")
        };
        assert_eq!(public.as_bytes().to_vec(), b64(RFC8037_X));
        // The RFC's header is {"alg":"EdDSA"} alone, so sign its signing input directly.
        let (input, sig) = RFC8037_JWS.rsplit_once('.').unwrap();
        assert_eq!(key.sign_bytes(input.as_bytes()), b64(sig));
        assert_eq!(
            verify(RFC8037_JWS, &key.verifying_key()).unwrap(),
            b"Example of Ed25519 signing"
        );
        assert_eq!(
            verify(&tamper(RFC8037_JWS), &key.verifying_key()),
            Err(JoseError::Signature)
        );
    }

    #[test]
    fn es256_verifies_the_rfc_7515_vector_and_refuses_a_tampered_one() {
        let key = rfc7515_p256();
        assert_eq!(verify(RFC7515_A3_JWS, &key).unwrap(), RFC7515_PAYLOAD);
        assert_eq!(
            verify(&tamper(RFC7515_A3_JWS), &key),
            Err(JoseError::Signature)
        );
        let private = p256::ecdsa::SigningKey::from_slice(&b64(RFC7515_A3_D)).unwrap();
        assert_eq!(SigningKey::P256(private).verifying_key(), key);
    }

    #[test]
    fn rs256_verifies_the_rfc_7515_vector_and_refuses_a_tampered_one() {
        let key = rfc7515_rsa();
        assert_eq!(verify(RFC7515_A2_JWS, &key).unwrap(), RFC7515_PAYLOAD);
        assert_eq!(
            verify(&tamper(RFC7515_A2_JWS), &key),
            Err(JoseError::Signature)
        );
    }

    #[test]
    fn each_key_type_round_trips_sign_and_verify_with_a_jwt_header() {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        for key in [
            SigningKey::generate_ed25519(),
            SigningKey::generate_p256(),
            SigningKey::Rsa(Box::new(rsa)),
        ] {
            let token = sign(&key, None, b"{\"nonce\":\"n\"}");
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.header.alg, key.alg().name());
            assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
            assert_eq!(parsed.header.kid, None);
            assert_eq!(
                verify(&token, &key.verifying_key()).unwrap(),
                b"{\"nonce\":\"n\"}"
            );
            assert_eq!(
                verify(&tamper(&token), &key.verifying_key()),
                Err(JoseError::Signature)
            );
            let line = key.verifying_key().to_authorized_key().unwrap();
            assert_eq!(
                VerifyingKey::from_authorized_key(&line).unwrap(),
                key.verifying_key()
            );
            let again = SigningKey::from_pem(&key.to_pem().unwrap()).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key());
            let again = SigningKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key());
        }
    }

    #[test]
    fn a_signature_by_another_key_or_alg_is_refused() {
        let a = SigningKey::generate_ed25519();
        let b = SigningKey::generate_ed25519();
        let token = sign(&a, None, b"x");
        assert_eq!(
            verify(&token, &b.verifying_key()),
            Err(JoseError::Signature)
        );
        let p = SigningKey::generate_p256();
        assert_eq!(
            verify(&token, &p.verifying_key()),
            Err(JoseError::Algorithm {
                found: "EdDSA".into(),
                want: "ES256"
            })
        );
        // A payload swapped under the same signature does not verify.
        let other = sign(&a, None, b"y");
        let (_, sig) = token.rsplit_once('.').unwrap();
        let (input, _) = other.rsplit_once('.').unwrap();
        assert_eq!(
            verify(&format!("{input}.{sig}"), &a.verifying_key()),
            Err(JoseError::Signature)
        );
    }

    #[test]
    fn malformed_tokens_are_refused_with_the_part_named() {
        let key = SigningKey::generate_ed25519().verifying_key();
        for (token, want) in [
            ("", "three base64url parts"),
            ("a.b", "three base64url parts"),
            ("a.b.c.d", "three base64url parts"),
            ("!!.e30.AA", "protected header is not unpadded base64url"),
            ("e30.e30.AA", "not a JSON header"),
            ("eyJhbGciOiJFZERTQSJ9.*.AA", "payload is not"),
        ] {
            let err = verify(token, &key).unwrap_err().to_string();
            assert!(err.contains(want), "{token:?}: {err}");
        }
    }

    #[test]
    fn key_ids_hash_pkix_or_pkcs1_der() {
        let key = rfc8037_key().verifying_key();
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend(b64(RFC8037_X));
        assert_eq!(key.der(), der);
        assert_eq!(
            key.key_id(),
            Base64UrlUnpadded::encode_string(&Sha256::digest(&der))
        );
        // PKIX of a P-256 key is 91 bytes; PKCS#1 of a 2048-bit RSA key starts with a SEQUENCE.
        assert_eq!(rfc7515_p256().der().len(), 91);
        assert_eq!(rfc7515_rsa().der()[..2], [0x30, 0x82]);
        assert_eq!(key.key_id().len(), 43);
    }

    #[test]
    fn claims_validate_like_go_jose_with_leeway() {
        let claims = Claims {
            iss: Some("lab".into()),
            sub: Some("kid".into()),
            aud: Some(Audience::One("lab".into())),
            exp: Some(1060),
            nbf: Some(990),
            iat: Some(1000),
        };
        let want = |now| Expected {
            issuer: Some("lab"),
            subject: Some("kid"),
            audience: Some("lab"),
            now,
            leeway_secs: 60,
        };
        assert_eq!(claims.validate(&want(1000)), Ok(()));
        assert_eq!(claims.validate(&want(1120)), Ok(()));
        assert_eq!(claims.validate(&want(1121)), Err(JoseError::Expired));
        assert_eq!(claims.validate(&want(929)), Err(JoseError::NotValidYet));
        let mut other = want(1000);
        other.issuer = Some("x");
        assert_eq!(claims.validate(&other), Err(JoseError::Issuer));
        let mut other = want(1000);
        other.subject = Some("x");
        assert_eq!(claims.validate(&other), Err(JoseError::Subject));
        let mut other = want(1000);
        other.audience = Some("x");
        assert_eq!(claims.validate(&other), Err(JoseError::Audience));
        // A single audience marshals as a plain string, as go-jose does.
        let json = serde_json::to_string(&claims).unwrap();
        assert!(json.contains("\"aud\":\"lab\""), "{json}");
        let many: Claims = serde_json::from_str(r#"{"aud":["a","lab"]}"#).unwrap();
        assert!(many.aud.unwrap().contains("lab"));
    }
}

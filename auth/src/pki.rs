//! The lab's X.509 side: the cluster CA (ECDSA P-256), the auth server's certificate, and
//! client certificates whose subject carries a Teleport identity (one O per role, as Teleport).

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use mwi_identity::CertIdentity;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::asn1::{Any, BitString, Ia5String, SetOfVec, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use x509_cert::der::{Decode, Encode, EncodePem};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, attr::AttributeTypeAndValue};

/// Failure to build, sign or read certificate material; one line naming what failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PkiError {
    #[error("{0}")]
    Invalid(String),
}

fn invalid(what: &str) -> impl Fn(&dyn std::fmt::Display) -> PkiError + '_ {
    move |e| PkiError::Invalid(format!("{what}: {e}"))
}

/// How far back a certificate's validity starts, so that a client whose clock runs a little
/// behind accepts it at once (Teleport backdates by a minute too).
const BACKDATE: Duration = Duration::from_secs(60);

/// The names the auth server answers to: Teleport's API domain and every name under it, as
/// Teleport's auth certificates carry them (lib/auth `DefaultDNSNamesForRole`), so a client that
/// dials `<hex(cluster)>.teleport.cluster.local` (tctl from a tsh profile) matches; and loopback.
pub(crate) const SERVER_DNS_NAMES: &[&str] = &[
    mwi_identity::tls::SERVER_NAME,
    "*.teleport.cluster.local",
    "localhost",
];

/// Whether a server certificate (PEM) carries every name of [`SERVER_DNS_NAMES`]; one issued by
/// an older lab lacks the wildcard.
pub(crate) fn has_server_names(pem: &str) -> bool {
    let Ok((_, der)) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes()) else {
        return false;
    };
    mwi_identity::tls::dns_names(&der).is_some_and(|names| {
        SERVER_DNS_NAMES
            .iter()
            .all(|want| names.iter().any(|n| n == want))
    })
}

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The cluster's TLS certificate authority.
pub(crate) struct TlsCa {
    key: SigningKey,
    subject: Name,
    cert_pem: String,
}

/// The cluster's `bound_keypair` CA: one JWT key (Ed25519, the balanced-v1 suite's choice) that
/// signs join-state documents, named in their `kid` by its key ID (teleport-bound-keypair.md §4).
pub(crate) struct JwtCa {
    key: mwi_identity::jose::SigningKey,
    kid: String,
}

impl JwtCa {
    /// A new CA key and its PEM.
    pub(crate) fn generate() -> Result<(JwtCa, String), PkiError> {
        let key = mwi_identity::jose::SigningKey::generate_ed25519();
        let pem = key.to_pem().map_err(|e| invalid("encode JWT key")(&e))?;
        Ok((JwtCa::new(key), pem))
    }

    /// Reads the CA key from PEM.
    pub(crate) fn load(pem: &str) -> Result<JwtCa, PkiError> {
        mwi_identity::jose::SigningKey::from_pem(pem)
            .map(JwtCa::new)
            .map_err(|e| invalid("not a JWT signing key")(&e))
    }

    fn new(key: mwi_identity::jose::SigningKey) -> JwtCa {
        let kid = key.verifying_key().key_id();
        JwtCa { key, kid }
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn key(&self) -> &mwi_identity::jose::SigningKey {
        &self.key
    }
}

/// A freshly generated private key and its PKCS#8 PEM.
pub(crate) struct NewKey {
    pub key: SigningKey,
    pub pem: String,
}

/// Generates an ECDSA P-256 key.
pub(crate) fn new_key() -> Result<NewKey, PkiError> {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| invalid("encode private key")(&e))?;
    Ok(NewKey {
        key,
        pem: pem.to_string(),
    })
}

/// Reads a PKCS#8 PEM ECDSA P-256 private key.
pub(crate) fn read_key(pem: &str) -> Result<SigningKey, PkiError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| invalid("not a PKCS#8 P-256 private key")(&e))
}

/// The PKIX DER public key of `key`.
pub(crate) fn public_der(key: &SigningKey) -> Result<Vec<u8>, PkiError> {
    SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())
        .and_then(|spki| spki.to_der().map_err(Into::into))
        .map_err(|e| invalid("encode public key")(&e))
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and without a leading zero byte, as DER wants for an INTEGER.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| invalid("serial number")(&e))
}

fn validity(not_after: SystemTime) -> Result<Validity, PkiError> {
    let not_before = SystemTime::now()
        .checked_sub(BACKDATE)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Validity {
        not_before: Time::try_from(not_before).map_err(|e| invalid("not before")(&e))?,
        not_after: Time::try_from(not_after).map_err(|e| invalid("not after")(&e))?,
    })
}

fn oid(arcs: &[u64]) -> Result<ObjectIdentifier, PkiError> {
    let dotted = arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    ObjectIdentifier::new(&dotted).map_err(|e| invalid("attribute type")(&e))
}

/// A subject from (type, value) pairs; a run of the same type becomes one multi-valued RDN,
/// as Go's pkix.Name encodes Organization (roles) and Locality (logins).
fn subject(entries: &[(&'static [u64], String)]) -> Result<Name, PkiError> {
    let mut rdns = Vec::new();
    let mut rest = entries;
    while let Some((arcs, _)) = rest.first() {
        let run = rest.iter().take_while(|(a, _)| a == arcs).count();
        let mut set = SetOfVec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (_, value) in &rest[..run] {
            if !seen.insert(value.as_str()) {
                continue;
            }
            let text = Utf8StringRef::new(value).map_err(|e| invalid("subject value")(&e))?;
            let atv = AttributeTypeAndValue {
                oid: oid(arcs)?,
                value: Any::encode_from(&text).map_err(|e| invalid("subject value")(&e))?,
            };
            set.insert(atv).map_err(|e| invalid("subject")(&e))?;
        }
        rdns.push(RelativeDistinguishedName(set));
        rest = &rest[run..];
    }
    Ok(RdnSequence(rdns))
}

/// Reads a client's public key: PEM `PUBLIC KEY` (PKIX) or `RSA PUBLIC KEY` (PKCS#1), as
/// Teleport accepts them. Only RSA, ECDSA and Ed25519 keys are taken.
pub(crate) fn parse_public_key_pem(pem: &[u8]) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let item = rustls_pemfile::read_one_from_slice(pem)
        .map_err(|e| PkiError::Invalid(format!("not a PEM public key: {e:?}")))?
        .map(|(item, _)| item);
    let spki = match item {
        Some(rustls_pemfile::Item::SubjectPublicKeyInfo(der)) => {
            SubjectPublicKeyInfoOwned::from_der(der.as_ref())
                .map_err(|e| invalid("not a PKIX public key")(&e))?
        }
        _ => parse_pkcs1_rsa(pem)?,
    };
    let alg = spki.algorithm.oid;
    if alg != OID_RSA_ENCRYPTION && alg != OID_EC_PUBLIC_KEY && alg != OID_ED25519 {
        return Err(PkiError::Invalid(format!(
            "public key algorithm {alg} is not supported; use ECDSA, RSA or Ed25519"
        )));
    }
    Ok(spki)
}

/// `RSA PUBLIC KEY` PEM, wrapped into a PKIX structure.
fn parse_pkcs1_rsa(pem: &[u8]) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let text = std::str::from_utf8(pem).map_err(|_| {
        PkiError::Invalid("public key is neither PEM PUBLIC KEY nor RSA PUBLIC KEY".into())
    })?;
    let (label, der) = x509_cert::der::pem::decode_vec(text.trim().as_bytes()).map_err(|_| {
        PkiError::Invalid("public key is neither PEM PUBLIC KEY nor RSA PUBLIC KEY".into())
    })?;
    if label != "RSA PUBLIC KEY" {
        return Err(PkiError::Invalid(format!(
            "PEM block {label:?} is not a public key (want PUBLIC KEY or RSA PUBLIC KEY)"
        )));
    }
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: OID_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(&der)
            .map_err(|e| invalid("RSA public key")(&e))?,
    })
}

/// PEM `PUBLIC KEY` text of a public key (what a bot instance records).
pub(crate) fn public_key_pem(spki: &SubjectPublicKeyInfoOwned) -> Result<String, PkiError> {
    spki.to_pem(LineEnding::LF)
        .map_err(|e| invalid("encode public key")(&e))
}

impl TlsCa {
    /// Creates a self-signed CA for `cluster` (CN and O = cluster name, as Teleport's).
    pub(crate) fn generate(cluster: &str, key: SigningKey, years: u64) -> Result<TlsCa, PkiError> {
        let subject = subject(&[
            (mwi_identity::oid::COMMON_NAME, cluster.to_string()),
            (mwi_identity::oid::ORGANIZATION, cluster.to_string()),
        ])?;
        let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())
            .map_err(|e| invalid("CA public key")(&e))?;
        let not_after = SystemTime::now() + Duration::from_secs(years * 365 * 24 * 3600);
        let builder = CertificateBuilder::new(
            Profile::Root,
            random_serial()?,
            validity(not_after)?,
            subject.clone(),
            spki,
            &key,
        )
        .map_err(|e| invalid("CA certificate")(&e))?;
        let cert = builder
            .build::<DerSignature>()
            .map_err(|e| invalid("sign CA certificate")(&e))?;
        let cert_pem = cert
            .to_pem(LineEnding::LF)
            .map_err(|e| invalid("encode CA certificate")(&e))?;
        Ok(TlsCa {
            key,
            subject,
            cert_pem,
        })
    }

    /// Loads the CA from its certificate and key PEM; the key must be the certificate's.
    pub(crate) fn load(cert_pem: &str, key: SigningKey) -> Result<TlsCa, PkiError> {
        let (label, der) = x509_cert::der::pem::decode_vec(cert_pem.trim().as_bytes())
            .map_err(|e| invalid("not a PEM certificate")(&e))?;
        if label != "CERTIFICATE" {
            return Err(PkiError::Invalid(format!(
                "PEM block {label:?} is not a CERTIFICATE"
            )));
        }
        let cert = Certificate::from_der(&der).map_err(|e| invalid("not a certificate")(&e))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| invalid("certificate public key")(&e))?;
        if spki != public_der(&key)? {
            return Err(PkiError::Invalid(
                "the CA key does not belong to the CA certificate".into(),
            ));
        }
        Ok(TlsCa {
            key,
            subject: cert.tbs_certificate.subject,
            cert_pem: cert_pem.to_string(),
        })
    }

    /// The CA certificate, PEM.
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn leaf(
        &self,
        name: Name,
        spki: SubjectPublicKeyInfoOwned,
        not_after: SystemTime,
        san: Option<SubjectAltName>,
    ) -> Result<Vec<u8>, PkiError> {
        let rsa = spki.algorithm.oid == OID_RSA_ENCRYPTION;
        let mut builder = CertificateBuilder::new(
            Profile::Leaf {
                issuer: self.subject.clone(),
                enable_key_agreement: false,
                enable_key_encipherment: rsa,
            },
            random_serial()?,
            validity(not_after)?,
            name,
            spki,
            &self.key,
        )
        .map_err(|e| invalid("certificate")(&e))?;
        builder
            .add_extension(&ExtendedKeyUsage(vec![
                ID_KP_SERVER_AUTH,
                ID_KP_CLIENT_AUTH,
            ]))
            .map_err(|e| invalid("extended key usage")(&e))?;
        if let Some(san) = san {
            builder
                .add_extension(&san)
                .map_err(|e| invalid("subject alternative names")(&e))?;
        }
        let cert = builder
            .build::<DerSignature>()
            .map_err(|e| invalid("sign certificate")(&e))?;
        cert.to_der().map_err(|e| invalid("encode certificate")(&e))
    }

    /// A client certificate naming `identity`, for `public_key`, valid until `not_after`; DER.
    pub(crate) fn issue_client(
        &self,
        identity: &CertIdentity,
        public_key: SubjectPublicKeyInfoOwned,
        not_after: SystemTime,
    ) -> Result<Vec<u8>, PkiError> {
        self.leaf(
            subject(&identity.subject_entries())?,
            public_key,
            not_after,
            None,
        )
    }

    /// The auth server's certificate: the API domain, localhost and loopback addresses; DER.
    pub(crate) fn issue_server(
        &self,
        cluster: &str,
        key: &SigningKey,
        not_after: SystemTime,
    ) -> Result<Vec<u8>, PkiError> {
        let mut hosts: Vec<&str> = SERVER_DNS_NAMES.to_vec();
        hosts.extend(["127.0.0.1", "::1"]);
        self.issue_for_hosts(&hosts, cluster, key, not_after)
    }

    /// A server certificate for `hosts` (DNS names or IP addresses; the first is the CN),
    /// organization `org`; DER. The lab proxy's web certificate is one.
    pub(crate) fn issue_for_hosts(
        &self,
        hosts: &[&str],
        org: &str,
        key: &SigningKey,
        not_after: SystemTime,
    ) -> Result<Vec<u8>, PkiError> {
        let mut names = Vec::new();
        for host in hosts {
            match IpAddr::from_str(host) {
                Ok(ip) => names.push(GeneralName::from(ip)),
                Err(_) => {
                    let dns = Ia5String::new(host).map_err(|e| invalid("DNS name")(&e))?;
                    names.push(GeneralName::DnsName(dns));
                }
            }
        }
        let first = hosts.first().copied().unwrap_or("localhost");
        let name = subject(&[
            (mwi_identity::oid::COMMON_NAME, first.to_string()),
            (mwi_identity::oid::ORGANIZATION, org.to_string()),
        ])?;
        let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())
            .map_err(|e| invalid("server public key")(&e))?;
        self.leaf(name, spki, not_after, Some(SubjectAltName(names)))
    }
}

/// PEM text of a DER certificate.
pub(crate) fn cert_pem(der: &[u8]) -> Result<String, PkiError> {
    x509_cert::der::pem::encode_string("CERTIFICATE", LineEnding::LF, der)
        .map_err(|e| invalid("encode certificate")(&e))
}

/// Unix seconds of a certificate's expiry.
pub(crate) fn not_after_of_pem(pem: &str) -> Result<i64, PkiError> {
    let (_, der) = x509_cert::der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| invalid("not a PEM certificate")(&e))?;
    let cert = Certificate::from_der(&der).map_err(|e| invalid("not a certificate")(&e))?;
    let secs = cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_secs();
    Ok(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> TlsCa {
        TlsCa::generate("lab", new_key().unwrap().key, 1).unwrap()
    }

    #[test]
    fn roles_and_logins_repeat_in_the_subject_and_read_back() {
        let ca = ca();
        let id = CertIdentity {
            username: "bot-x".into(),
            roles: vec!["access".into(), "bot-x".into(), "db".into()],
            logins: vec!["root".into(), "ubuntu".into()],
            renewable: true,
            generation: 2,
            bot_name: Some("x".into()),
            bot_instance_id: Some("i-1".into()),
            ..Default::default()
        };
        let client = new_key().unwrap().key;
        let spki = SubjectPublicKeyInfoOwned::from_key(*client.verifying_key()).unwrap();
        let der = ca
            .issue_client(&id, spki, SystemTime::now() + Duration::from_secs(600))
            .unwrap();
        let read = CertIdentity::from_der(&der).unwrap();
        let mut roles = read.roles.clone();
        roles.sort();
        assert_eq!(roles, ["access", "bot-x", "db"]);
        assert_eq!(read.logins.len(), 2);
        assert_eq!((read.renewable, read.generation), (true, 2));
        assert_eq!(read.bot_instance_id.as_deref(), Some("i-1"));
        assert_eq!(read.issuer_cluster.as_deref(), Some("lab"));
    }

    #[test]
    fn the_server_certificate_answers_to_every_cluster_name_under_the_api_domain() {
        let ca = ca();
        let key = new_key().unwrap().key;
        let der = ca
            .issue_server("lab", &key, SystemTime::now() + Duration::from_secs(600))
            .unwrap();
        let names = mwi_identity::tls::dns_names(&der).unwrap();
        assert_eq!(
            names,
            [
                "teleport.cluster.local",
                "*.teleport.cluster.local",
                "localhost"
            ]
        );
        assert!(has_server_names(&cert_pem(&der).unwrap()));
        assert!(!has_server_names(ca.cert_pem()));
        assert!(!has_server_names("junk"));
    }

    #[test]
    fn a_ca_loads_back_only_with_its_own_key() {
        let key = new_key().unwrap();
        let ca = TlsCa::generate("lab", key.key.clone(), 1).unwrap();
        assert!(TlsCa::load(ca.cert_pem(), key.key).is_ok());
        let err = TlsCa::load(ca.cert_pem(), new_key().unwrap().key)
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn public_keys_are_read_from_pkix_pem_and_garbage_is_refused() {
        let key = new_key().unwrap().key;
        let spki = SubjectPublicKeyInfoOwned::from_key(*key.verifying_key()).unwrap();
        let pem = public_key_pem(&spki).unwrap();
        assert_eq!(parse_public_key_pem(pem.as_bytes()).unwrap(), spki);
        assert!(parse_public_key_pem(b"hello").is_err());
        assert!(
            parse_public_key_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
    }
}

//! The client's check of the server certificate against the identity's CAs, and what a refused
//! certificate was when it carries none of Teleport's names: a proxy's or load balancer's web one.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::{SERVER_NAME, TlsError, provider};

/// How many DNS names a description lists before it says how many more there are.
const NAMES_SHOWN: usize = 5;

/// A server certificate that failed the check and is no Teleport certificate: none of its DNS
/// names is `teleport.cluster.local` or under it, which every Teleport auth, proxy and host
/// certificate carries (lib/auth `DefaultDNSNamesForRole`). What answered was a web server: a
/// Teleport proxy's web listener or a load balancer that ends TLS.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{cause}; it is a web certificate, not a Teleport one ({})", self.describe())]
pub struct WebCertificate {
    /// Why the check failed (an unknown issuer, mostly).
    pub cause: CertificateError,
    /// The subject, as `CN=..., O=...`.
    pub subject: String,
    /// The issuer, the same way.
    pub issuer: String,
    /// Its DNS names (subjectAltName).
    pub dns_names: Vec<String>,
}

impl WebCertificate {
    /// `der` described, when it parses and carries none of Teleport's names; else `None` (a
    /// Teleport certificate of another cluster, or garbage the caller reports as it is).
    pub fn of(der: &[u8], cause: CertificateError) -> Option<WebCertificate> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let dns_names = names_of(&cert);
        if dns_names.iter().any(|n| is_teleport_name(n)) {
            return None;
        }
        Some(WebCertificate {
            cause,
            subject: printable(&cert.subject().to_string()),
            issuer: printable(&cert.issuer().to_string()),
            dns_names: dns_names.iter().map(|n| printable(n)).collect(),
        })
    }

    /// The one a TLS failure carries, if any.
    pub fn find(err: &rustls::Error) -> Option<&WebCertificate> {
        match err {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                other.0.downcast_ref::<WebCertificate>()
            }
            _ => None,
        }
    }

    /// Subject, issuer and DNS names on one line, e.g.
    /// `subject "CN=proxy.example.com", issuer "CN=R11, O=Let's Encrypt", DNS names proxy.example.com`.
    pub fn describe(&self) -> String {
        let issuer = match self.issuer == self.subject {
            true => "self-signed".to_string(),
            false => format!("issuer {:?}", self.issuer),
        };
        let names = match self.dns_names.len() {
            0 => "no DNS names".to_string(),
            n if n > NAMES_SHOWN => format!(
                "DNS names {} and {} more",
                self.dns_names[..NAMES_SHOWN].join(", "),
                n - NAMES_SHOWN
            ),
            _ => format!("DNS names {}", self.dns_names.join(", ")),
        };
        format!("subject {:?}, {issuer}, {names}", self.subject)
    }
}

/// Whether a certificate DNS name is one of Teleport's: `teleport.cluster.local` or a name
/// under it (`*.teleport.cluster.local`, `<hex(cluster)>.teleport.cluster.local`).
pub fn is_teleport_name(name: &str) -> bool {
    name.eq_ignore_ascii_case(SERVER_NAME)
        || name
            .len()
            .checked_sub(SERVER_NAME.len() + 1)
            .and_then(|at| name.get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(&format!(".{SERVER_NAME}")))
}

/// The DNS names (subjectAltName) of a DER certificate; `None` when it does not parse.
pub fn dns_names(der: &[u8]) -> Option<Vec<String>> {
    X509Certificate::from_der(der)
        .ok()
        .map(|(_, cert)| names_of(&cert))
}

fn names_of(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_string()),
            _ => None,
        })
        .collect()
}

/// Text a server chose (a certificate's names, an HTTP answer), safe to print: control
/// characters escaped, so it cannot move the cursor or recolour the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// A verifier of the server against `roots` (webpki, as rustls's own) whose refusal of a web
/// certificate carries a [`WebCertificate`]; a Teleport certificate's refusal stays as webpki
/// words it.
pub(super) fn verifier(roots: RootCertStore) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Setup(format!("server verifier: {e}")))?;
    Ok(Arc::new(NamesWebCertificates(webpki)))
}

/// Accepts any server certificate; the handshake's signatures are still checked, so the server
/// holds the key of the certificate it sent. Only where the CA cannot be known and nothing secret
/// is sent: the agent's explicit `--insecure` join, lint's `/webapi/find` probe.
#[derive(Debug)]
pub struct AnyCertificate(Arc<CryptoProvider>);

impl AnyCertificate {
    pub fn new() -> Arc<AnyCertificate> {
        Arc::new(AnyCertificate(provider()))
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct NamesWebCertificates(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NamesWebCertificates {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(cause) => {
                    match WebCertificate::of(end_entity.as_ref(), cause.clone()) {
                        Some(web) => rustls::Error::InvalidCertificate(CertificateError::Other(
                            OtherError(Arc::new(web)),
                        )),
                        None => rustls::Error::InvalidCertificate(cause),
                    }
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject_cn: &str, names: &[&str]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, subject_cn);
        params.distinguished_name = dn;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn teleport_names_are_the_api_domain_and_names_under_it() {
        for name in [
            "teleport.cluster.local",
            "*.teleport.cluster.local",
            "6c6162.teleport.cluster.local",
            "Teleport.Cluster.Local",
        ] {
            assert!(is_teleport_name(name), "{name}");
        }
        for name in [
            "proxy.example.com",
            "xteleport.cluster.local",
            "teleport.cluster.local.evil.com",
            "localhost",
            "",
            "é",
        ] {
            assert!(!is_teleport_name(name), "{name}");
        }
    }

    #[test]
    fn a_web_certificate_is_described_and_a_teleport_one_is_not() {
        let web = WebCertificate::of(
            &cert("proxy.example.com", &["proxy.example.com", "localhost"]),
            CertificateError::UnknownIssuer,
        )
        .expect("a web certificate");
        assert_eq!(
            web.describe(),
            "subject \"CN=proxy.example.com\", self-signed, DNS names proxy.example.com, localhost"
        );
        assert!(
            web.to_string()
                .starts_with("UnknownIssuer; it is a web certificate, not a Teleport one"),
            "{web}"
        );
        let teleport = cert(
            "teleport.cluster.local",
            &["teleport.cluster.local", "localhost"],
        );
        assert!(WebCertificate::of(&teleport, CertificateError::UnknownIssuer).is_none());
        let wildcard = cert("x", &["*.teleport.cluster.local"]);
        assert!(WebCertificate::of(&wildcard, CertificateError::UnknownIssuer).is_none());
        assert!(WebCertificate::of(b"junk", CertificateError::UnknownIssuer).is_none());
    }

    #[test]
    fn long_name_lists_are_cut_and_control_characters_escaped() {
        let names: Vec<String> = (0..8).map(|i| format!("n{i}.example.com")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let web = WebCertificate::of(&cert("evil\nline", &refs), CertificateError::UnknownIssuer)
            .unwrap();
        let text = web.describe();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("n4.example.com and 3 more"), "{text}");
        assert_eq!(
            dns_names(&cert("a", &["a.example", "b.example"])),
            Some(vec!["a.example".to_string(), "b.example".to_string()])
        );
        assert_eq!(dns_names(b"junk"), None);
    }
}

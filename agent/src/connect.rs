//! The agent's connection to the auth service: TCP + rustls (ring) with ALPN h2 and server name
//! `teleport.cluster.local`, as the bot (mTLS) or, for the first join, anonymously with a CA
//! file, a CA pin or no verification; and failures rendered the way tbot prints them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::identity::Identity;

/// The name every Teleport auth server certificate carries.
pub const SERVER_NAME: &str = "teleport.cluster.local";
/// Teleport's default auth port, used when an address has none.
pub const DEFAULT_AUTH_PORT: u16 = 3025;
/// How long dialing (TCP and TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take once connected.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server is verified.
#[derive(Debug, Clone)]
pub enum ServerTrust {
    /// Trust these CA certificates (PEM blocks).
    Roots(Vec<String>),
    /// Trust a CA presented in the server's chain whose SubjectPublicKeyInfo hashes to a pin.
    Pins(Vec<[u8; 32]>),
    /// Verify nothing but the handshake signature.
    Insecure,
}

/// A TLS setup or dial failure, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

fn provider() -> Arc<CryptoProvider> {
    // Chosen here, not taken from a process default, so another provider linked elsewhere in
    // the binary cannot change what the agent speaks.
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration trusting `trust` and, when given, presenting `client`.
pub fn tls_config(
    trust: &ServerTrust,
    client: Option<&Identity>,
) -> Result<ClientConfig, ConnectError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError(format!("TLS setup failed: {e}")))?;
    let builder = match trust {
        ServerTrust::Roots(pems) => builder.with_root_certificates(roots(pems)?),
        ServerTrust::Pins(pins) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCa {
                pins: Some(pins.clone()),
                provider,
            })),
        ServerTrust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCa {
                pins: None,
                provider,
            })),
    };
    let mut config = match client {
        Some(identity) => {
            let chain = CertificateDer::pem_slice_iter(identity.tls_cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    ConnectError(format!("the stored TLS certificate is unreadable: {e}"))
                })?;
            let key = PrivateKeyDer::from_pem_slice(identity.private_key_pem.as_bytes())
                .map_err(|e| ConnectError(format!("the stored private key is unreadable: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                ConnectError(format!("the stored key or certificate is unusable: {e}"))
            })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A root store from PEM CA certificates.
pub fn roots(pems: &[String]) -> Result<RootCertStore, ConnectError> {
    let mut store = RootCertStore::empty();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert =
                cert.map_err(|e| ConnectError(format!("a CA block is not a certificate: {e}")))?;
            store
                .add(cert)
                .map_err(|e| ConnectError(format!("a CA certificate is unusable: {e}")))?;
        }
    }
    if store.is_empty() {
        return Err(ConnectError(
            "no CA certificate to verify the auth server with".into(),
        ));
    }
    Ok(store)
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, the digest of Teleport's `ca_pins`.
pub fn spki_sha256(der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(Sha256::digest(cert.tbs_certificate.subject_pki.raw).into())
}

/// Adds Teleport's default auth port to an address that has none.
pub fn with_default_port(addr: &str) -> String {
    let addr = addr.trim();
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return addr.to_string();
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{addr}]:{DEFAULT_AUTH_PORT}");
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => addr.to_string(),
        _ => format!("{addr}:{DEFAULT_AUTH_PORT}"),
    }
}

/// Opens a gRPC channel to `addr`. The first dial happens here, so its failure is returned;
/// reconnects dial the same way.
pub async fn channel(addr: &str, config: ClientConfig) -> Result<Channel, ConnectError> {
    let dialer = Dialer {
        addr: with_default_port(addr),
        tls: TlsConnector::from(Arc::new(config)),
    };
    let first = dialer
        .dial()
        .await
        .map_err(|e| ConnectError(describe(&e)))?;
    let slot = Arc::new(Mutex::new(Some(first)));
    let connector = tower::service_fn(move |_: Uri| {
        let dialer = dialer.clone();
        let ready = slot.lock().ok().and_then(|mut s| s.take());
        async move {
            let stream = match ready {
                Some(stream) => stream,
                None => dialer.dial().await?,
            };
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Endpoint::from_static("http://teleport.cluster.local")
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .connect_with_connector(connector)
        .await
        .map_err(|e| ConnectError(describe(&e)))
}

#[derive(Clone)]
struct Dialer {
    addr: String,
    tls: TlsConnector,
}

impl Dialer {
    async fn dial(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let attempt = async {
            let tcp = TcpStream::connect(self.addr.as_str()).await.map_err(|e| {
                // Go's wording, which is what tbot's logs carry.
                let cause = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
                    _ => e.to_string(),
                };
                std::io::Error::new(e.kind(), format!("dial tcp {}: {cause}", self.addr))
            })?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(SERVER_NAME)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.tls.connect(name, tcp).await
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("dial tcp {}: i/o timeout", self.addr),
                )
            })?
    }
}

/// A failed call's cause as tbot would print it: the server's message for an answer, the TLS or
/// network failure (Go's wording, e.g. `remote error: tls: bad certificate`) for a transport error.
pub fn status_text(status: &tonic::Status) -> String {
    use std::error::Error;
    match status.source() {
        Some(source)
            if matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown
            ) =>
        {
            describe(source)
        }
        _ => status.message().to_string(),
    }
}

/// The most telling line of an error chain: a TLS failure in Go's words, else the chain joined.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut next = Some(err);
    let mut parts: Vec<String> = Vec::new();
    while let Some(e) = next {
        if let Some(tls) = find_rustls(e) {
            return rustls_text(tls);
        }
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let joined = parts.join(": ");
    // h2 reports an I/O failure through the I/O error's own source, which skips the rustls
    // error it carries; its text still names the alert.
    match alert_named_in(&joined) {
        Some(alert) => format!("remote error: tls: {}", go_alert(alert)),
        None => joined,
    }
}

/// The alert in rustls's `received fatal alert: <Name>` text, if any.
fn alert_named_in(text: &str) -> Option<AlertDescription> {
    const KNOWN: &[AlertDescription] = &[
        AlertDescription::BadCertificate,
        AlertDescription::CertificateExpired,
        AlertDescription::CertificateRevoked,
        AlertDescription::CertificateUnknown,
        AlertDescription::UnknownCA,
        AlertDescription::UnsupportedCertificate,
        AlertDescription::CertificateRequired,
        AlertDescription::HandshakeFailure,
        AlertDescription::AccessDenied,
        AlertDescription::DecryptError,
        AlertDescription::NoApplicationProtocol,
    ];
    let rest = &text[text.find("received fatal alert: ")? + "received fatal alert: ".len()..];
    let name: String = rest
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    KNOWN
        .iter()
        .copied()
        .find(|alert| format!("{alert:?}") == name)
}

fn find_rustls<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    e.downcast_ref::<rustls::Error>().or_else(|| {
        e.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    })
}

fn rustls_text(err: &rustls::Error) -> String {
    match err {
        rustls::Error::AlertReceived(alert) => format!("remote error: tls: {}", go_alert(*alert)),
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => "x509: certificate signed by unknown authority".into(),
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            format!("x509: certificate is not valid for {SERVER_NAME}")
        }
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::NotValidYet,
        ) => "x509: certificate has expired or is not yet valid".into(),
        rustls::Error::General(text) => text.clone(),
        other => format!("tls: {other}"),
    }
}

/// TLS alert names as Go's crypto/tls prints them after `remote error: tls: `.
fn go_alert(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::BadCertificate => "bad certificate".into(),
        AlertDescription::CertificateExpired => "expired certificate".into(),
        AlertDescription::CertificateRevoked => "revoked certificate".into(),
        AlertDescription::CertificateUnknown => "unknown certificate".into(),
        AlertDescription::UnknownCA => "unknown certificate authority".into(),
        AlertDescription::UnsupportedCertificate => "unsupported certificate".into(),
        AlertDescription::CertificateRequired => "certificate required".into(),
        AlertDescription::HandshakeFailure => "handshake failure".into(),
        AlertDescription::AccessDenied => "access denied".into(),
        AlertDescription::NoApplicationProtocol => "no application protocol".into(),
        AlertDescription::DecryptError => "error decrypting message".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Verifies the server against a CA from its own chain that matches a pin; with no pins
/// (explicit --insecure only) accepts any server certificate. Handshake signatures are always
/// checked.
#[derive(Debug)]
struct PinnedCa {
    pins: Option<Vec<[u8; 32]>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pins) = &self.pins else {
            return Ok(ServerCertVerified::assertion());
        };
        let ca = intermediates
            .iter()
            .find(|c| spki_sha256(c).is_some_and(|h| pins.contains(&h)))
            .ok_or_else(|| {
                rustls::Error::General(
                    "the auth server presented no CA matching --ca-pin (it may not send its CA; use --ca-path with the CA certificate)".into(),
                )
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_added_only_when_missing() {
        assert_eq!(
            with_default_port("auth.example.com"),
            "auth.example.com:3025"
        );
        assert_eq!(with_default_port("127.0.0.1:4000"), "127.0.0.1:4000");
        assert_eq!(with_default_port("::1"), "[::1]:3025");
        assert_eq!(with_default_port("[::1]:4000"), "[::1]:4000");
    }

    #[test]
    fn alerts_read_like_go() {
        let err = std::io::Error::other(rustls::Error::AlertReceived(
            AlertDescription::BadCertificate,
        ));
        assert_eq!(describe(&err), "remote error: tls: bad certificate");
        let err = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            describe(&err),
            "x509: certificate signed by unknown authority"
        );
    }

    #[test]
    fn an_alert_known_only_by_its_text_still_reads_like_go() {
        let err = std::io::Error::other(
            "transport error: connection error: received fatal alert: CertificateExpired",
        );
        assert_eq!(describe(&err), "remote error: tls: expired certificate");
    }

    #[test]
    fn plain_errors_are_joined_without_repeats() {
        let err = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "dial tcp 127.0.0.1:1: connection refused",
        );
        assert_eq!(describe(&err), "dial tcp 127.0.0.1:1: connection refused");
    }

    #[test]
    fn answered_status_keeps_the_server_message_verbatim() {
        let status = tonic::Status::permission_denied(
            "renewable cert generation mismatch for bot example/u: stored=3, presented=2",
        );
        assert_eq!(
            status_text(&status),
            "renewable cert generation mismatch for bot example/u: stored=3, presented=2"
        );
    }

    #[test]
    fn spki_pin_of_a_ca_matches_its_public_key() {
        let ca = crate::identity::tests::TestCa::new();
        let digest = spki_sha256(ca.cert.der()).unwrap();
        let key_der = rcgen::PublicKeyData::subject_public_key_info(ca.issuer.key());
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&key_der)));
        assert!(spki_sha256(b"junk").is_none());
    }

    #[test]
    fn empty_or_bad_roots_are_refused() {
        assert!(roots(&[]).is_err());
        assert!(roots(&["not pem".into()]).is_err());
    }

    #[test]
    fn configs_for_each_trust_offer_h2() {
        let ca = crate::identity::tests::TestCa::new();
        for trust in [
            ServerTrust::Roots(vec![ca.cert.pem()]),
            ServerTrust::Pins(vec![[0; 32]]),
            ServerTrust::Insecure,
        ] {
            let config = tls_config(&trust, None).unwrap();
            assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        }
    }

    /// A TLS server for `teleport.cluster.local` signed by `ca` that sends the CA after its
    /// leaf when `send_ca`; it only completes handshakes.
    async fn tls_server(ca: &crate::identity::tests::TestCa, send_ca: bool) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
        let leaf = params.signed_by(&key, &ca.issuer).unwrap();
        let mut chain = vec![leaf.der().clone()];
        if send_ca {
            chain.push(ca.cert.der().clone());
        }
        let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = acceptor.accept(tcp).await;
                });
            }
        });
        addr
    }

    async fn dial(addr: &str, trust: ServerTrust) -> Result<(), String> {
        let dialer = Dialer {
            addr: addr.to_string(),
            tls: TlsConnector::from(Arc::new(tls_config(&trust, None).unwrap())),
        };
        dialer.dial().await.map(|_| ()).map_err(|e| describe(&e))
    }

    #[tokio::test]
    async fn pin_verifies_a_server_that_sends_its_ca() {
        let ca = crate::identity::tests::TestCa::new();
        let addr = tls_server(&ca, true).await;
        let pin = spki_sha256(ca.cert.der()).unwrap();
        assert_eq!(dial(&addr, ServerTrust::Pins(vec![pin])).await, Ok(()));
        let err = dial(&addr, ServerTrust::Pins(vec![[7; 32]]))
            .await
            .unwrap_err();
        assert!(err.contains("no CA matching --ca-pin"), "{err}");
    }

    #[tokio::test]
    async fn pin_without_the_ca_in_the_chain_points_to_ca_path() {
        let ca = crate::identity::tests::TestCa::new();
        let addr = tls_server(&ca, false).await;
        let pin = spki_sha256(ca.cert.der()).unwrap();
        let err = dial(&addr, ServerTrust::Pins(vec![pin])).await.unwrap_err();
        assert!(err.contains("--ca-path"), "{err}");
    }

    #[tokio::test]
    async fn roots_accept_the_right_ca_and_name_a_wrong_one_like_go() {
        let ca = crate::identity::tests::TestCa::new();
        let addr = tls_server(&ca, false).await;
        assert_eq!(
            dial(&addr, ServerTrust::Roots(vec![ca.cert.pem()])).await,
            Ok(())
        );
        let other = crate::identity::tests::TestCa::new();
        let err = dial(&addr, ServerTrust::Roots(vec![other.cert.pem()]))
            .await
            .unwrap_err();
        assert_eq!(err, "x509: certificate signed by unknown authority");
        assert_eq!(dial(&addr, ServerTrust::Insecure).await, Ok(()));
    }

    #[tokio::test]
    async fn refused_connection_names_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = dial(&addr, ServerTrust::Insecure).await.unwrap_err();
        assert_eq!(err, format!("dial tcp {addr}: connect: connection refused"));
    }
}

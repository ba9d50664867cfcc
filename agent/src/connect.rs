//! The agent's connection to the auth service through the shared dialer (mwi_identity::tls), as
//! the bot (mTLS) or, for the first join, anonymously with a CA file, a CA pin or no verification;
//! and failures rendered the way tbot prints them.

use std::sync::Arc;

use mwi_identity::tls::{self, AnyCertificate, ClientCert, Dialer, SERVER_NAME, ServerCheck};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use crate::identity::Identity;

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

/// Where a connection to auth goes: straight to an auth address, or to a proxy with TLS routing
/// that splices `teleport-auth@<hex(cluster)>…` connections to that cluster's auth service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `HOST:PORT` dialed.
    pub addr: String,
    /// Through a proxy: the cluster whose auth it routes to.
    pub proxy_cluster: Option<String>,
}

impl Route {
    pub fn direct(addr: &str) -> Route {
        Route {
            addr: addr.to_string(),
            proxy_cluster: None,
        }
    }
}

/// A TLS setup or dial failure, as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub String);

/// A rustls client configuration trusting `trust` and, when given, presenting `client`.
pub fn tls_config(
    trust: &ServerTrust,
    client: Option<&Identity>,
) -> Result<ClientConfig, ConnectError> {
    let check = match trust {
        ServerTrust::Roots(pems) => {
            ServerCheck::Roots(tls::roots_from_pem(pems).map_err(|e| ConnectError(e.to_string()))?)
        }
        ServerTrust::Pins(pins) => ServerCheck::Verifier(Arc::new(PinnedCa {
            pins: pins.clone(),
            signatures: AnyCertificate::new(),
        })),
        ServerTrust::Insecure => ServerCheck::Verifier(AnyCertificate::new()),
    };
    let client = client.map(|identity| ClientCert {
        cert_pem: &identity.tls_cert_pem,
        key_pem: &identity.private_key_pem,
    });
    tls::client_config(check, client, None).map_err(|e| ConnectError(e.to_string()))
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, the digest of Teleport's `ca_pins`.
pub fn spki_sha256(der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(Sha256::digest(cert.tbs_certificate.subject_pki.raw).into())
}

/// Opens a gRPC channel along `route`. The first dial happens here, so its failure is returned;
/// reconnects dial the same way. Through a proxy the client offers `teleport-auth@…` before
/// `h2` (api/client `ALPNSNIAuthDialClusterName`), and a failed dial reads as tbot's does when
/// its proxy dial fails (lib/auth/authclient/authclient.go `Connect`).
pub async fn channel(route: &Route, mut config: ClientConfig) -> Result<Channel, ConnectError> {
    config.alpn_protocols = tls::alpn_protocols(route.proxy_cluster.as_deref());
    let dialer = Dialer::new(&route.addr, config).map_err(|e| ConnectError(e.to_string()))?;
    let text = match dialer.channel().await {
        Ok(channel) => return Ok(channel),
        Err(tls::DialError::Unreachable { addr, source }) => {
            crate::webapi::dial_text(&addr, &source)
        }
        Err(e) => describe(&e),
    };
    Err(ConnectError(match route.proxy_cluster {
        Some(_) => format!("failed dial to auth server through reverse tunnel: {text}"),
        None => text,
    }))
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
    if let Some(tls) = tls::find_rustls_error(err) {
        return rustls_text(tls);
    }
    let joined = tls::error_chain(err);
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

fn rustls_text(err: &rustls::Error) -> String {
    // A refused web certificate carries webpki's cause, which is what tbot words.
    if let Some(web) = tls::WebCertificate::find(err) {
        return rustls_text(&rustls::Error::InvalidCertificate(web.cause.clone()));
    }
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

/// Verifies the server against a CA from its own chain that matches a pin. Handshake signatures
/// are checked as for any certificate.
#[derive(Debug)]
struct PinnedCa {
    pins: Vec<[u8; 32]>,
    signatures: Arc<AnyCertificate>,
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
        let ca = intermediates
            .iter()
            .find(|c| spki_sha256(c).is_some_and(|h| self.pins.contains(&h)))
            .ok_or_else(|| {
                rustls::Error::General(
                    "the auth server presented no CA matching --ca-pin (it may not send its CA; use --ca-path with the CA certificate)".into(),
                )
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), tls::provider())
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
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_addresses_are_refused_before_dialing() {
        let config = tls_config(&ServerTrust::Insecure, None).unwrap();
        let err = channel(&Route::direct("host:notaport"), config)
            .await
            .unwrap_err();
        assert_eq!(
            err.0,
            "auth server address \"host:notaport\" is not HOST:PORT"
        );
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
        let key = rcgen::KeyPair::generate().unwrap();
        let web = rcgen::CertificateParams::new(vec!["proxy.example.com".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let web = tls::WebCertificate::of(web.der(), CertificateError::UnknownIssuer).unwrap();
        let err = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            Arc::new(web),
        )));
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
        for pems in [vec![], vec!["not pem".to_string()]] {
            let err = tls_config(&ServerTrust::Roots(pems), None).unwrap_err();
            assert!(err.0.contains("no TLS CA certificate block"), "{err}");
        }
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
    /// leaf when `send_ca`; it completes handshakes and speaks first, as a gRPC server does.
    async fn tls_server(ca: &crate::identity::tests::TestCa, send_ca: bool) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
        let leaf = params.signed_by(&key, &ca.issuer).unwrap();
        let mut chain = vec![leaf.der().clone()];
        if send_ca {
            chain.push(ca.cert.der().clone());
        }
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let anyone = Arc::new(rustls::server::NoClientAuth);
        let config = tls::server_config(anyone, chain, key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    if let Ok(mut stream) = acceptor.accept(tcp).await {
                        let _ = stream.write_all(b"ready").await;
                        let _ = stream.read(&mut [0u8; 1]).await;
                    }
                });
            }
        });
        addr
    }

    async fn dial(addr: &str, trust: ServerTrust) -> Result<(), String> {
        let dialer = Dialer::new(addr, tls_config(&trust, None).unwrap()).unwrap();
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

//! TLS with a Teleport auth service, one place for it: roots, chains and keys from PEM, client and
//! server rustls configurations (ring, ALPN), auth addresses, the dialer tonic connects through, and one bounded HTTPS GET.

mod address;
mod dial;
mod https;
mod verify;

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use address::{AddressError, host, server_name, with_default_port};
pub use dial::{
    BoxedIo, CONNECT_TIMEOUT, DialError, Dialer, Io, Opening, Primed, REQUEST_TIMEOUT, Transport,
    tcp,
};
pub use https::{HttpsGet, HttpsGetError};
pub use verify::{AnyCertificate, WebCertificate, dns_names, is_teleport_name, printable};

/// The name every Teleport auth server certificate carries, whatever address it is reached at.
pub const SERVER_NAME: &str = "teleport.cluster.local";

/// Teleport's default auth port, used when an address has none.
pub const DEFAULT_AUTH_PORT: u16 = 3025;

/// Why PEM material or a rustls configuration is unusable, as one line; callers add which file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("a TLS CA block is not a certificate: {0}")]
    CaBlock(String),
    #[error("a TLS CA certificate is unusable: {0}")]
    CaUnusable(String),
    #[error("no TLS CA certificate block (the cluster's CA) to verify the other side with")]
    NoCa,
    #[error("the TLS certificate block is unreadable: {0}")]
    CertBlock(String),
    #[error("no TLS certificate block")]
    NoCert,
    #[error("the private key block is unreadable: {0}")]
    KeyBlock(String),
    #[error("the private key does not match the TLS certificate")]
    KeyMismatch,
    #[error("the key or certificate is unusable: {0}")]
    Unusable(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// How a client checks the server's certificate.
#[derive(Debug)]
pub enum ServerCheck {
    /// Against these CAs, for the dialed server name ([`SERVER_NAME`] unless set); a refused web
    /// certificate comes back as a [`WebCertificate`].
    Roots(RootCertStore),
    /// With a verifier of the caller's (a CA pin, say).
    Verifier(Arc<dyn ServerCertVerifier>),
}

/// A client certificate chain and its private key, as PEM.
#[derive(Debug, Clone, Copy)]
pub struct ClientCert<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
}

/// The crypto every configuration here uses. Chosen here rather than taken from a process
/// default, so linking another rustls provider elsewhere can never change what we speak.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The CA certificates in PEM blocks; at least one.
pub fn ca_certs<S: AsRef<str>>(pems: &[S]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut certs = Vec::new();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_ref().as_bytes()) {
            certs.push(cert.map_err(|e| TlsError::CaBlock(e.to_string()))?);
        }
    }
    if certs.is_empty() {
        return Err(TlsError::NoCa);
    }
    Ok(certs)
}

/// A root store holding `cas`.
pub fn roots(cas: Vec<CertificateDer<'static>>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in cas {
        store
            .add(cert)
            .map_err(|e| TlsError::CaUnusable(e.to_string()))?;
    }
    Ok(store)
}

/// A root store from the CA certificates in PEM blocks; at least one.
pub fn roots_from_pem<S: AsRef<str>>(pems: &[S]) -> Result<RootCertStore, TlsError> {
    roots(ca_certs(pems)?)
}

/// A certificate chain (leaf first) from PEM; at least one certificate.
pub fn cert_chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertBlock(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCert);
    }
    Ok(chain)
}

/// A private key (PKCS#8, PKCS#1 or SEC1) from PEM.
pub fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::KeyBlock(e.to_string()))
}

/// The ALPN protocols a client offers: through a Teleport proxy with TLS routing, first the
/// protocol that routes to `proxy_cluster`'s auth service, then (always) gRPC's `h2`.
pub fn alpn_protocols(proxy_cluster: Option<&str>) -> Vec<Vec<u8>> {
    let mut alpn: Vec<Vec<u8>> = proxy_cluster
        .map(|cluster| proxy_alpn(cluster).into_bytes())
        .into_iter()
        .collect();
    alpn.push(b"h2".to_vec());
    alpn
}

/// The ALPN protocol a Teleport proxy with TLS routing forwards, end to end, to the auth service
/// of `cluster`.
pub fn proxy_alpn(cluster: &str) -> String {
    format!("teleport-auth@{}", cluster_server_name(cluster))
}

/// The server name that routes to `cluster`: `<hex(cluster)>.teleport.cluster.local`, as tctl
/// dials with a tsh profile (api/utils `EncodeClusterName`). Teleport's auth certificates carry
/// `*.teleport.cluster.local`, so it matches any cluster's; the auth server picks the client CAs
/// by the cluster it names.
pub fn cluster_server_name(cluster: &str) -> String {
    format!("{}.{SERVER_NAME}", hex::encode(cluster))
}

/// The cluster a [`cluster_server_name`] names; `None` for any other server name (the bare
/// [`SERVER_NAME`], an address, a label that is not hex of UTF-8).
pub fn cluster_of_server_name(name: &str) -> Option<String> {
    let label = name
        .len()
        .checked_sub(SERVER_NAME.len() + 1)
        .and_then(|at| name.get(..at).zip(name.get(at..)))
        .filter(|(label, tail)| {
            !label.is_empty() && tail.eq_ignore_ascii_case(&format!(".{SERVER_NAME}"))
        })?
        .0;
    String::from_utf8(hex::decode(label).ok()?).ok()
}

/// A client configuration checking the server with `check`, presenting `client` when given, and
/// offering [`alpn_protocols`] for `proxy_cluster`.
pub fn client_config(
    check: ServerCheck,
    client: Option<ClientCert<'_>>,
    proxy_cluster: Option<&str>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let verifier = match check {
        ServerCheck::Roots(roots) => verify::verifier(roots)?,
        ServerCheck::Verifier(verifier) => verifier,
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        Some(client) => {
            let chain = cert_chain(client.cert_pem)?;
            let key = private_key(client.key_pem)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(key_error)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn_protocols(proxy_cluster);
    Ok(config)
}

/// A server configuration presenting `chain` (leaf first) with `key`, checking clients with
/// `clients`, speaking gRPC's `h2`.
pub fn server_config(
    clients: Arc<dyn ClientCertVerifier>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_client_cert_verifier(clients)
        .with_single_cert(chain, key)
        .map_err(key_error)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn key_error(e: rustls::Error) -> TlsError {
    match e {
        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch,
        other => TlsError::Unusable(other.to_string()),
    }
}

/// The rustls error somewhere in an error's source chain (I/O errors wrap it).
pub fn find_rustls_error<'e>(
    err: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        next = e.source();
    }
    None
}

/// An error and its sources on one line, most specific last, leaving out a source whose text
/// the line already holds.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CA, a server certificate for [`SERVER_NAME`] and a client certificate, all from it.
    pub(crate) struct Pki {
        pub ca_pem: String,
        pub server_pem: String,
        pub server_key_pem: String,
        pub client_pem: String,
        pub client_key_pem: String,
    }

    impl Pki {
        pub(crate) fn new(cluster: &str) -> Pki {
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let mut ca = rcgen::CertificateParams::default();
            ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::OrganizationName, cluster);
            ca.distinguished_name = dn;
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            let issuer = rcgen::Issuer::new(ca, ca_key);
            let server_key = rcgen::KeyPair::generate().unwrap();
            let server = rcgen::CertificateParams::new(vec![SERVER_NAME.into()])
                .unwrap()
                .signed_by(&server_key, &issuer)
                .unwrap();
            let client_key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::default();
            let mut dn = rcgen::DistinguishedName::new();
            dn.push(rcgen::DnType::CommonName, "admin");
            params.distinguished_name = dn;
            let client = params.signed_by(&client_key, &issuer).unwrap();
            Pki {
                ca_pem: ca_cert.pem(),
                server_pem: server.pem(),
                server_key_pem: server_key.serialize_pem(),
                client_pem: client.pem(),
                client_key_pem: client_key.serialize_pem(),
            }
        }

        /// A server configuration that demands a client certificate of `client_ca`.
        pub(crate) fn server_config(&self, client_ca: &Pki) -> ServerConfig {
            let roots = Arc::new(roots_from_pem(&[&client_ca.ca_pem]).unwrap());
            let clients =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .unwrap();
            server_config(
                clients,
                cert_chain(&self.server_pem).unwrap(),
                private_key(&self.server_key_pem).unwrap(),
            )
            .unwrap()
        }

        pub(crate) fn client_config(&self, proxy_cluster: Option<&str>) -> ClientConfig {
            let roots = roots_from_pem(&[&self.ca_pem]).unwrap();
            let cert = ClientCert {
                cert_pem: &self.client_pem,
                key_pem: &self.client_key_pem,
            };
            client_config(ServerCheck::Roots(roots), Some(cert), proxy_cluster).unwrap()
        }
    }

    #[test]
    fn ca_pem_without_a_certificate_is_refused_in_one_wording() {
        let none: [&str; 0] = [];
        assert_eq!(roots_from_pem(&none).unwrap_err(), TlsError::NoCa);
        assert_eq!(roots_from_pem(&["not pem"]).unwrap_err(), TlsError::NoCa);
        let err = roots_from_pem(&["-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"])
            .unwrap_err();
        assert!(matches!(err, TlsError::CaBlock(_)), "{err}");
        assert!(
            TlsError::NoCa
                .to_string()
                .contains("no TLS CA certificate block")
        );
    }

    #[test]
    fn a_ca_that_is_not_a_ca_certificate_is_unusable() {
        let pki = Pki::new("lab");
        let junk = CertificateDer::from(b"junk".to_vec());
        assert!(matches!(roots(vec![junk]), Err(TlsError::CaUnusable(_))));
        assert_eq!(roots_from_pem(&[&pki.ca_pem]).unwrap().len(), 1);
    }

    #[test]
    fn client_certificate_and_key_errors_name_the_block() {
        let pki = Pki::new("lab");
        let roots = || ServerCheck::Roots(roots_from_pem(&[&pki.ca_pem]).unwrap());
        let with = |cert_pem: &str, key_pem: &str| {
            client_config(roots(), Some(ClientCert { cert_pem, key_pem }), None).unwrap_err()
        };
        assert_eq!(with("", &pki.client_key_pem), TlsError::NoCert);
        assert!(matches!(
            with(&pki.client_pem, "junk"),
            TlsError::KeyBlock(_)
        ));
        assert_eq!(
            with(&pki.client_pem, &pki.server_key_pem),
            TlsError::KeyMismatch
        );
        assert!(client_config(roots(), None, None).is_ok());
    }

    #[test]
    fn alpn_offers_teleport_auth_routing_first_only_through_a_proxy() {
        assert_eq!(
            proxy_alpn("lab"),
            "teleport-auth@6c6162.teleport.cluster.local"
        );
        assert_eq!(alpn_protocols(None), vec![b"h2".to_vec()]);
        assert_eq!(
            alpn_protocols(Some("lab")),
            vec![proxy_alpn("lab").into_bytes(), b"h2".to_vec()]
        );
        let pki = Pki::new("lab");
        assert_eq!(
            pki.client_config(Some("lab")).alpn_protocols,
            alpn_protocols(Some("lab"))
        );
        assert_eq!(pki.server_config(&pki).alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn a_cluster_server_name_is_hex_under_the_api_domain_and_reads_back() {
        assert_eq!(
            cluster_server_name("example.com"),
            "6578616d706c652e636f6d.teleport.cluster.local"
        );
        assert_eq!(
            cluster_of_server_name(&cluster_server_name("lab")).as_deref(),
            Some("lab")
        );
        for other in [
            SERVER_NAME,
            "localhost",
            "127.0.0.1",
            "zz.teleport.cluster.local",
            "6c6162.teleport.cluster.local.example.com",
            "ff.teleport.cluster.local",
            ".teleport.cluster.local",
            "",
        ] {
            assert_eq!(cluster_of_server_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_rustls_error_is_found_inside_io_errors_and_chains_skip_repeats() {
        let err = std::io::Error::other(rustls::Error::AlertReceived(
            rustls::AlertDescription::BadCertificate,
        ));
        assert_eq!(
            find_rustls_error(&err),
            Some(&rustls::Error::AlertReceived(
                rustls::AlertDescription::BadCertificate
            ))
        );
        assert_eq!(find_rustls_error(&std::io::Error::other("plain")), None);
        let err = DialError::Unreachable {
            addr: "a:1".into(),
            source: std::io::Error::other("no route to host"),
        };
        assert_eq!(error_chain(&err), "dial tcp a:1: no route to host");
    }
}

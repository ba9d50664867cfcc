//! A plain HTTPS-style TLS server with a self-signed web certificate on a loopback port: what a
//! client meets when a Teleport proxy's web listener or an L7 load balancer answers instead of
//! the auth service. It completes handshakes (offering `h2` and `http/1.1`) and says nothing.

use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;

/// A running web server; it stops with its runtime when dropped.
pub struct WebServer {
    pub addr: String,
    _runtime: tokio::runtime::Runtime,
}

impl WebServer {
    /// Serves a self-signed certificate with subject CN `names[0]` for `names`.
    pub fn start(names: &[&str]) -> WebServer {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CommonName,
            names.first().copied().unwrap_or("web"),
        );
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).expect("self-signed certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).expect("key"),
            )
            .expect("server config");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = runtime.block_on(serve(config));
        WebServer {
            addr,
            _runtime: runtime,
        }
    }
}

async fn serve(config: rustls::ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The client refuses the certificate; the handshake's outcome is all there is.
            tokio::spawn(async move { acceptor.accept(tcp).await.map(drop) });
        }
    });
    addr
}

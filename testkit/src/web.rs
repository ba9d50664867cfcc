//! A plain HTTPS-style TLS server with a self-signed web certificate on a loopback port: what a
//! client meets when a Teleport proxy's web listener or an L7 load balancer answers instead of
//! the auth service. It completes handshakes (offering `h2` and `http/1.1`) and says nothing, or
//! (`answering`) answers each request with one canned HTTP response.

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
        WebServer::serving(names, None)
    }

    /// As [`WebServer::start`], and answers each request with `response` (a whole HTTP
    /// response, e.g. a Teleport proxy's `/webapi/find` JSON).
    pub fn answering(names: &[&str], response: &str) -> WebServer {
        WebServer::serving(names, Some(response.to_string()))
    }

    fn serving(names: &[&str], response: Option<String>) -> WebServer {
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
        let addr = runtime.block_on(serve(config, response.map(Arc::from)));
        WebServer {
            addr,
            _runtime: runtime,
        }
    }
}

async fn serve(config: rustls::ServerConfig, response: Option<Arc<str>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let response = response.clone();
            tokio::spawn(async move {
                // Without a response: the client refuses the certificate, and the handshake's
                // outcome is all there is.
                let mut tls = acceptor.accept(tcp).await?;
                if let Some(response) = response {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
                        let n = tls.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        request.extend_from_slice(&buf[..n]);
                    }
                    tls.write_all(response.as_bytes()).await?;
                    tls.shutdown().await?;
                }
                Ok::<(), std::io::Error>(())
            });
        }
    });
    addr
}

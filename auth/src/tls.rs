//! The lab's TLS listener: the shared server configuration (mwi_identity::tls) with client
//! certificates optional (joining has none) and every bad one answered with `bad_certificate`,
//! chosen per connection by the cluster its server name asks for. Each connection's caller is
//! read from its certificate once, at the handshake.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mwi_identity::CertIdentity;
use mwi_identity::tls::{self, TlsError};
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub remote: Option<SocketAddr>,
    /// The identity of a verified client certificate; `None` when the client presented none.
    pub caller: Option<Arc<CertIdentity>>,
}

/// A TLS connection with its [`ConnInfo`]; tonic puts the info into every request.
pub(crate) struct LabConn {
    stream: TlsStream<TcpStream>,
    info: ConnInfo,
}

impl Connected for LabConn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for LabConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LabConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The server's rustls configurations: the lab's certificate with its CA in the chain, client
/// certificates optional (joining has none) and checked against the CA; and the same for a
/// client that names another cluster, which has no CA here to check with.
pub(crate) struct ServerConfigs {
    cluster: String,
    own: Arc<rustls::ServerConfig>,
    other_cluster: Arc<rustls::ServerConfig>,
}

impl ServerConfigs {
    /// The configuration for a client hello naming `server_name`. Like Teleport's auth server
    /// (lib/auth `WithClusterCAs`), a `<hex(cluster)>.teleport.cluster.local` name picks that
    /// cluster's CA for client certificates; any other name, the lab's own. A cluster the lab is
    /// not gets no CA: its client certificates are refused.
    pub(crate) fn for_server_name(&self, server_name: Option<&str>) -> Arc<rustls::ServerConfig> {
        match server_name.and_then(tls::cluster_of_server_name) {
            Some(named) if named != self.cluster => self.other_cluster.clone(),
            _ => self.own.clone(),
        }
    }
}

pub(crate) fn server_config(
    cluster: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<ServerConfigs, TlsError> {
    let ca = tls::ca_certs(&[ca_pem])?;
    let webpki: Arc<dyn rustls::server::danger::ClientCertVerifier> =
        WebPkiClientVerifier::builder_with_provider(
            Arc::new(tls::roots(ca.clone())?),
            tls::provider(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Setup(format!("client verifier: {e}")))?;
    // The CA rides in the chain so a joining client can check it against a CA pin
    // (tbot's `ca_pins`) before it trusts anything.
    let chain = [tls::cert_chain(cert_pem)?, ca].concat();
    let config = |refuse_all: bool| {
        let verifier = BadCertificateAlerts {
            inner: webpki.clone(),
            refuse_all,
        };
        tls::server_config(
            Arc::new(verifier),
            chain.clone(),
            tls::private_key(key_pem)?,
        )
        .map(Arc::new)
    };
    Ok(ServerConfigs {
        cluster: cluster.to_string(),
        own: config(false)?,
        other_cluster: config(true)?,
    })
}

/// Verifies client certificates like `WebPkiClientVerifier`, but refuses every bad one with the
/// `bad_certificate` alert, as Teleport's Go TLS stack does: an expired bot identity then shows
/// tbot's documented symptom `remote error: tls: bad certificate`, not `expired certificate`.
/// With `refuse_all` every client certificate is bad (no CA of the cluster asked for).
#[derive(Debug)]
struct BadCertificateAlerts {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    refuse_all: bool,
}

impl rustls::server::danger::ClientCertVerifier for BadCertificateAlerts {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        match self.refuse_all {
            true => &[],
            false => self.inner.root_hint_subjects(),
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        if self.refuse_all {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ));
        }
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| match e {
                // BadEncoding is the certificate error rustls answers with bad_certificate.
                rustls::Error::InvalidCertificate(_) => {
                    rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn caller_of(stream: &TlsStream<TcpStream>) -> Option<Arc<CertIdentity>> {
    let (_, session) = stream.get_ref();
    let leaf = session.peer_certificates()?.first()?;
    CertIdentity::from_der(leaf.as_ref()).ok().map(Arc::new)
}

/// Accepts connections until `stop` turns true, handshaking each on its own task; yields the
/// connections that completed the handshake. A failed handshake only ends that connection.
pub(crate) fn incoming(
    listener: TcpListener,
    configs: ServerConfigs,
    mut stop: watch::Receiver<bool>,
) -> mpsc::Receiver<io::Result<LabConn>> {
    let (tx, rx) = mpsc::channel(64);
    let configs = Arc::new(configs);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = crate::lab::until_stopped(&mut stop) => break,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("lab: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let configs = configs.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let handshake = async {
                    let start =
                        LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
                    let config = configs.for_server_name(start.client_hello().server_name());
                    start.into_stream(config).await
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => {
                        let info = ConnInfo {
                            remote: Some(remote),
                            caller: caller_of(&stream),
                        };
                        let _ = tx.send(Ok(LabConn { stream, info })).await;
                    }
                    Ok(Err(e)) => tracing::debug!("lab: TLS handshake from {remote} failed: {e}"),
                    Err(_) => tracing::debug!("lab: TLS handshake from {remote} timed out"),
                }
            });
        }
    });
    rx
}

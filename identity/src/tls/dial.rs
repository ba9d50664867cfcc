//! The dialer tonic connects through: a transport (TCP, or a tunnel such as the connection
//! upgrade) then TLS for [`SERVER_NAME`] (or a cluster's `<hex>.teleport.cluster.local`), a wait
//! for the server's first bytes (so a refused client certificate shows at the dial), and one
//! timeout policy.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{AddressError, SERVER_NAME, TlsError, with_default_port};

/// How long dialing (resolve, TCP, TLS handshake, the server's first bytes) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one call may take once connected.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the server's first bytes after the TLS handshake.
const VERDICT_WAIT: Duration = Duration::from_secs(1);

/// The URI tonic is given; only its authority matters, and that is [`SERVER_NAME`].
const ENDPOINT: &str = "http://teleport.cluster.local";

/// Why a dial failed, naming the address (`HOST:PORT`). The wording is Go's `net` package's,
/// which is what Teleport's own tools print.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("dial tcp {addr}: connect: connection refused")]
    Refused { addr: String },
    #[error("dial tcp {addr}: i/o timeout")]
    Timeout { addr: String, after: Duration },
    #[error("dial tcp {addr}: {source}")]
    Unreachable { addr: String, source: io::Error },
    /// The handshake or the first read failed; a rustls error inside says which side refused.
    #[error("TLS with {addr}: {source}")]
    Tls { addr: String, source: io::Error },
    #[error("TLS with {addr}: the server closed the connection right after the handshake")]
    Closed { addr: String },
    #[error("HTTP/2 with {addr}: {source}")]
    Channel {
        addr: String,
        source: tonic::transport::Error,
    },
    /// A tunnel could not be opened; its error says why (the caller's transport's type).
    #[error("{source}")]
    Transport {
        addr: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A byte stream TLS runs over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl std::fmt::Debug for dyn Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// What the dialer's TLS runs over, opened per connection.
pub type BoxedIo = Box<dyn Io>;

/// The future of [`Transport::open`].
pub type Opening<'a> = Pin<Box<dyn Future<Output = Result<BoxedIo, DialError>> + Send + 'a>>;

/// Opens the stream to `addr` that the dialer's TLS runs over: TCP by default, or a tunnel (the
/// connection upgrade through an L7 load balancer).
pub trait Transport: Send + Sync {
    fn open<'a>(&'a self, addr: &'a str) -> Opening<'a>;
}

/// Plain TCP, with Nagle off (gRPC writes small frames).
struct Tcp;

impl Transport for Tcp {
    fn open<'a>(&'a self, addr: &'a str) -> Opening<'a> {
        Box::pin(async move {
            let tcp = tcp(addr).await?;
            Ok(Box::new(tcp) as BoxedIo)
        })
    }
}

/// A TCP connection to `addr`, its failure in Go's words.
pub async fn tcp(addr: &str) -> Result<TcpStream, DialError> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
        io::ErrorKind::ConnectionRefused => DialError::Refused {
            addr: addr.to_string(),
        },
        _ => DialError::Unreachable {
            addr: addr.to_string(),
            source: e,
        },
    })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Dials one address with one TLS configuration; clones share the configuration.
#[derive(Clone)]
pub struct Dialer {
    addr: String,
    tls: TlsConnector,
    /// What the handshake names (SNI) and the server's certificate must match.
    server_name: ServerName<'static>,
    transport: Arc<dyn Transport>,
}

impl Dialer {
    /// A dialer for `addr` (the default auth port added when it has none), naming
    /// [`SERVER_NAME`].
    pub fn new(addr: &str, config: ClientConfig) -> Result<Dialer, AddressError> {
        Ok(Dialer {
            addr: with_default_port(addr)?,
            tls: TlsConnector::from(Arc::new(config)),
            // A constant that the tests parse: this cannot fail.
            server_name: ServerName::try_from(SERVER_NAME).expect("SERVER_NAME is a DNS name"),
            transport: Arc::new(Tcp),
        })
    }

    /// The same dialer running TLS over `transport` instead of TCP.
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Dialer {
        self.transport = transport;
        self
    }

    /// The same dialer naming `name` instead, e.g. [`super::cluster_server_name`] as tctl does
    /// from a tsh profile. A name that is no DNS name (a label over 63 bytes: the hex of a
    /// cluster name over 31) is refused.
    pub fn with_server_name(mut self, name: &str) -> Result<Dialer, TlsError> {
        self.server_name = ServerName::try_from(name.to_string())
            .map_err(|e| TlsError::Setup(format!("server name {name:?}: {e}")))?;
        Ok(self)
    }

    /// The `HOST:PORT` dialed.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Opens a gRPC channel with [`REQUEST_TIMEOUT`] per call. The first dial happens here, so its
    /// failure is returned; reconnects dial the same way.
    pub async fn channel(self) -> Result<Channel, DialError> {
        let addr = self.addr.clone();
        let first = self.dial().await?;
        let slot = Arc::new(Mutex::new(Some(first)));
        let connector = tower::service_fn(move |_: Uri| {
            let dialer = self.clone();
            let ready = slot.lock().ok().and_then(|mut s| s.take());
            async move {
                let stream = match ready {
                    Some(stream) => stream,
                    None => dialer.dial().await.map_err(io::Error::other)?,
                };
                Ok::<_, io::Error>(TokioIo::new(stream))
            }
        });
        Endpoint::from_static(ENDPOINT)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .connect_with_connector(connector)
            .await
            .map_err(|source| DialError::Channel { addr, source })
    }

    /// One transport (TCP) + TLS connection, within [`CONNECT_TIMEOUT`].
    pub async fn dial(&self) -> Result<Primed<TlsStream<BoxedIo>>, DialError> {
        let attempt = async {
            let io = self.transport.open(&self.addr).await?;
            let tls = self
                .tls
                .connect(self.server_name.clone(), io)
                .await
                .map_err(|source| self.tls_error(source))?;
            self.await_verdict(tls).await
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| DialError::Timeout {
                addr: self.addr.clone(),
                after: CONNECT_TIMEOUT,
            })?
    }

    /// Waits for the server's first bytes. In TLS 1.3 the client's handshake ends before the
    /// server has checked the client certificate; a refusal only arrives as an alert on the first
    /// read, which the HTTP/2 layer would report as a bare "connection closed". A gRPC server
    /// speaks first (its SETTINGS frame), so this costs no round trip.
    async fn await_verdict(
        &self,
        mut tls: TlsStream<BoxedIo>,
    ) -> Result<Primed<TlsStream<BoxedIo>>, DialError> {
        let mut first = vec![0u8; 16 * 1024];
        match tokio::time::timeout(VERDICT_WAIT, tls.read(&mut first)).await {
            Ok(Ok(0)) => Err(DialError::Closed {
                addr: self.addr.clone(),
            }),
            Ok(Ok(n)) => {
                first.truncate(n);
                Ok(Primed::new(first, tls))
            }
            Ok(Err(source)) => Err(self.tls_error(source)),
            // A server that waits for the client first: let HTTP/2 go ahead.
            Err(_) => Ok(Primed::new(Vec::new(), tls)),
        }
    }

    fn tls_error(&self, source: io::Error) -> DialError {
        DialError::Tls {
            addr: self.addr.clone(),
            source,
        }
    }
}

/// A stream whose first bytes were already read: it yields them before reading on (the dialer's
/// first TLS bytes, the lab proxy's peeked ClientHello).
#[derive(Debug)]
pub struct Primed<S> {
    first: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Primed<S> {
    pub fn new(first: Vec<u8>, inner: S) -> Primed<S> {
        Primed {
            first,
            pos: 0,
            inner,
        }
    }

    /// The stream underneath (for its TLS session).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Primed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.first.len() {
            let n = buf.remaining().min(self.first.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.first[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Primed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::find_rustls_error;
    use crate::tls::tests::Pki;
    use rustls::ServerConfig;
    use tokio::io::AsyncWriteExt;

    /// A TLS server for one connection that reports the ALPN protocols the client offered, then
    /// (when the handshake completes) writes `ready` and holds the connection until read.
    async fn tls_server(config: ServerConfig) -> (String, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = rustls::server::Acceptor::default();
            let start = tokio_rustls::LazyConfigAcceptor::new(acceptor, tcp)
                .await
                .unwrap();
            let offered = start
                .client_hello()
                .alpn()
                .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
                .unwrap_or_default();
            if let Ok(mut stream) = start.into_stream(Arc::new(config)).await {
                let _ = stream.write_all(b"ready").await;
                let _ = stream.flush().await;
                let _ = stream.read(&mut [0u8; 1]).await;
            }
            offered
        });
        (addr, handle)
    }

    #[test]
    fn the_endpoint_names_the_server() {
        assert_eq!(ENDPOINT, format!("http://{SERVER_NAME}"));
        assert!(ServerName::try_from(SERVER_NAME).is_ok());
    }

    #[tokio::test]
    async fn mutual_tls_on_loopback_replays_the_first_bytes() {
        let pki = Pki::new("lab.example");
        let (addr, server) = tls_server(pki.server_config(&pki)).await;
        let dialer = Dialer::new(&addr, pki.client_config(None)).unwrap();
        let mut stream = dialer.dial().await.unwrap();
        assert_eq!(
            stream.get_ref().get_ref().1.alpn_protocol(),
            Some(&b"h2"[..])
        );
        let mut first = [0u8; 5];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(
            &first, b"ready",
            "the bytes read while waiting are replayed"
        );
        drop(stream);
        assert_eq!(server.await.unwrap(), vec![b"h2".to_vec()]);
    }

    #[tokio::test]
    async fn proxy_dial_offers_teleport_auth_routing_first_then_h2() {
        let pki = Pki::new("lab.example");
        let (addr, server) = tls_server(pki.server_config(&pki)).await;
        let dialer = Dialer::new(&addr, pki.client_config(Some("lab.example"))).unwrap();
        let stream = dialer.dial().await.unwrap();
        assert_eq!(
            stream.get_ref().get_ref().1.alpn_protocol(),
            Some(&b"h2"[..])
        );
        drop(stream);
        assert_eq!(
            server.await.unwrap(),
            vec![
                crate::tls::proxy_alpn("lab.example").into_bytes(),
                b"h2".to_vec()
            ]
        );
    }

    #[tokio::test]
    async fn a_refused_client_certificate_fails_the_dial_with_the_alert() {
        let ours = Pki::new("a");
        let other = Pki::new("b");
        // The server presents a certificate we trust but only accepts another CA's clients.
        let (addr, _server) = tls_server(ours.server_config(&other)).await;
        let dialer = Dialer::new(&addr, ours.client_config(None)).unwrap();
        let err = dialer.dial().await.unwrap_err();
        assert!(matches!(err, DialError::Tls { .. }), "{err}");
        assert!(
            matches!(
                find_rustls_error(&err),
                Some(rustls::Error::AlertReceived(_))
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_server_of_another_ca_fails_the_handshake() {
        let ours = Pki::new("a");
        let theirs = Pki::new("b");
        let (addr, _server) = tls_server(theirs.server_config(&ours)).await;
        let dialer = Dialer::new(&addr, ours.client_config(None)).unwrap();
        let err = dialer.dial().await.unwrap_err();
        assert!(
            matches!(
                find_rustls_error(&err),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_certificate_must_match_the_server_name_dialed() {
        let pki = Pki::new("lab");
        let (addr, _server) = tls_server(pki.server_config(&pki)).await;
        // This server's certificate names only `teleport.cluster.local`, no wildcard.
        let dialer = Dialer::new(&addr, pki.client_config(None))
            .unwrap()
            .with_server_name(&crate::tls::cluster_server_name("lab"))
            .unwrap();
        let err = dialer.dial().await.unwrap_err();
        assert!(
            matches!(
                find_rustls_error(&err),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{err}"
        );
        let long = crate::tls::cluster_server_name(&"c".repeat(32));
        let refused = Dialer::new(&addr, pki.client_config(None))
            .unwrap()
            .with_server_name(&long)
            .err()
            .unwrap();
        assert!(refused.to_string().contains(&long), "{refused}");
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_naming_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let pki = Pki::new("a");
        let err = Dialer::new(&addr, pki.client_config(None))
            .unwrap()
            .channel()
            .await
            .unwrap_err();
        assert!(matches!(err, DialError::Refused { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("dial tcp {addr}: connect: connection refused")
        );
    }

    #[test]
    fn a_bad_address_is_refused_before_dialing() {
        let pki = Pki::new("a");
        assert!(Dialer::new("host:x", pki.client_config(None)).is_err());
        let dialer = Dialer::new("auth.example", pki.client_config(None)).unwrap();
        assert_eq!(dialer.addr(), "auth.example:3025");
    }
}

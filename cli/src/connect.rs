//! The connection to a Teleport auth service: reads the identity file, checks its certificate,
//! builds mutual TLS (rustls, ring) and opens a gRPC channel, directly or through a TLS-routing proxy.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use mwi_identity::{CertIdentity, IdentityError, IdentityFile};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

/// The name every Teleport auth server certificate carries, whatever address it is reached at.
pub const SERVER_NAME: &str = "teleport.cluster.local";

/// Teleport's default auth port, used when an address has none.
pub const DEFAULT_AUTH_PORT: u16 = 3025;

/// How long dialing (resolve, TCP, TLS handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the server's first bytes after the TLS handshake.
const VERDICT_WAIT: Duration = Duration::from_secs(1);

/// Where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `HOST:PORT` dialed: the auth server, or the proxy when `via_proxy` is set.
    pub addr: String,
    /// The identity file to authenticate with.
    pub identity: PathBuf,
    /// Dial a Teleport proxy with TLS routing, which forwards the TLS stream to auth.
    pub via_proxy: bool,
}

/// An identity file read and checked, ready to connect with.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub path: PathBuf,
    pub file: IdentityFile,
    /// What the TLS client certificate names.
    pub cert: CertIdentity,
    /// Things to tell the user (a too-open file mode), not errors.
    pub warnings: Vec<String>,
}

/// An open gRPC channel to the auth service.
#[derive(Debug, Clone)]
pub struct Connection {
    pub channel: Channel,
    pub target: Target,
    /// What the client certificate names (user, roles, bot).
    pub cert: CertIdentity,
    /// The cluster that issued the identity (from the certificate), when it says.
    pub cluster_name: Option<String>,
}

/// Why a connection could not be made. Each renders as one line naming the file or address.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the client certificate in {path} expired at {at} ({ago} ago)")]
    Expired {
        path: PathBuf,
        at: String,
        ago: String,
    },
    #[error("the client certificate in {path} is not valid until {at}")]
    NotYetValid { path: PathBuf, at: String },
    #[error("identity file {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error(
        "identity file {path} does not name its cluster, which the proxy needs to route to auth"
    )]
    NoClusterName { path: PathBuf },
    #[error("auth server address {addr:?} is not HOST:PORT")]
    BadAddress { addr: String },
    #[error("cannot connect to the auth server at {addr}: connection refused")]
    Refused { addr: String },
    #[error("cannot connect to the auth server at {addr}: no answer within {}s", .after.as_secs())]
    Timeout { addr: String, after: Duration },
    #[error("cannot connect to the auth server at {addr}: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error(
        "the server's certificate at {addr} is not signed by the CA in {}: wrong cluster or stale identity ({detail})",
        .identity.display()
    )]
    WrongCa {
        addr: String,
        identity: PathBuf,
        detail: String,
    },
    #[error("the server at {addr} refused the client certificate in {} ({detail})", .identity.display())]
    Rejected {
        addr: String,
        identity: PathBuf,
        detail: String,
    },
    #[error("TLS with the server at {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
}

impl ClientIdentity {
    /// Reads the identity file and checks that its certificate is valid now.
    pub fn load(path: &Path) -> Result<ClientIdentity, ConnectError> {
        let loaded = IdentityFile::read(path)?;
        let cert = loaded
            .identity
            .cert()
            .map_err(|e| ConnectError::Credentials {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let identity = ClientIdentity {
            path: path.to_path_buf(),
            file: loaded.identity,
            cert,
            warnings: loaded.warnings,
        };
        identity.check_validity(unix_now())?;
        Ok(identity)
    }

    /// Refuses a certificate outside its validity window at `now` (Unix seconds), before any
    /// connection: a server would only answer with a bare "bad certificate".
    pub fn check_validity(&self, now: i64) -> Result<(), ConnectError> {
        if self.cert.expired_at(now) {
            let ago = Duration::from_secs(now.saturating_sub(self.cert.not_after).max(0) as u64);
            return Err(ConnectError::Expired {
                path: self.path.clone(),
                at: rfc3339(self.cert.not_after),
                ago: humantime::format_duration(ago).to_string(),
            });
        }
        if now < self.cert.not_before {
            return Err(ConnectError::NotYetValid {
                path: self.path.clone(),
                at: rfc3339(self.cert.not_before),
            });
        }
        Ok(())
    }

    /// The cluster that issued this identity: the certificate's Teleport cluster attribute,
    /// else its issuer's organization (Teleport CAs put the cluster name there).
    pub fn cluster_name(&self) -> Option<&str> {
        self.cert
            .teleport_cluster
            .as_deref()
            .or(self.cert.issuer_cluster.as_deref())
    }

    /// A rustls client configuration presenting this identity and trusting only its CAs.
    pub fn tls_config(&self, alpn: Vec<Vec<u8>>) -> Result<ClientConfig, ConnectError> {
        let bad = |reason: String| ConnectError::Credentials {
            path: self.path.clone(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for pem in &self.file.tls_ca_pems {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| bad(format!("a TLS CA block is not a certificate: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("a TLS CA certificate is unusable: {e}")))?;
            }
        }
        if roots.is_empty() {
            return Err(bad("no TLS CA certificate block (the cluster's CA)".into()));
        }
        let chain = CertificateDer::pem_slice_iter(self.file.tls_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("the TLS certificate block is unreadable: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(self.file.private_key_pem.as_bytes())
            .map_err(|e| bad(format!("the private key block is unreadable: {e}")))?;
        // The provider is chosen here rather than taken from a process default, so linking
        // another rustls provider elsewhere can never change what this client speaks.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    bad("the private key does not match the TLS certificate".into())
                }
                other => bad(format!("the key or certificate is unusable: {other}")),
            })?;
        config.alpn_protocols = alpn;
        Ok(config)
    }
}

/// The ALPN protocol a Teleport proxy with TLS routing forwards, end to end, to the auth service of
/// `cluster`.
pub fn proxy_alpn(cluster: &str) -> String {
    format!("teleport-auth@{}.{SERVER_NAME}", hex::encode(cluster))
}

/// Adds Teleport's default auth port to an address without one.
pub fn with_default_port(addr: &str) -> Result<String, ConnectError> {
    let addr = addr.trim();
    let bad = || ConnectError::BadAddress { addr: addr.into() };
    if addr.is_empty() {
        return Err(bad());
    }
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(addr.into());
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{addr}]:{DEFAULT_AUTH_PORT}"));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            port.parse::<u16>().map_err(|_| bad())?;
            Ok(addr.into())
        }
        Some(_) => Err(bad()),
        None => Ok(format!("{addr}:{DEFAULT_AUTH_PORT}")),
    }
}

/// Opens a gRPC channel to `target` with `identity`. The first TCP + TLS dial happens here, so
/// its failures come back typed; later reconnects dial the same way.
pub async fn connect(
    target: &Target,
    identity: &ClientIdentity,
) -> Result<Connection, ConnectError> {
    let dialer = Dialer::new(target, identity)?;
    tracing::info!(addr = %dialer.addr, proxy = target.via_proxy, "dialing the auth service");
    let first = dialer.dial().await?;
    let slot = Arc::new(Mutex::new(Some(first)));
    let connector = tower::service_fn(move |_: Uri| {
        let dialer = dialer.clone();
        let ready = slot.lock().ok().and_then(|mut s| s.take());
        async move {
            let stream = match ready {
                Some(stream) => stream,
                None => dialer.dial().await.map_err(std::io::Error::other)?,
            };
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    let channel = Endpoint::from_static("http://teleport.cluster.local")
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_with_connector(connector)
        .await
        .map_err(|e| ConnectError::Unreachable {
            addr: target.addr.clone(),
            reason: error_chain(&e),
        })?;
    Ok(Connection {
        channel,
        target: target.clone(),
        cert: identity.cert.clone(),
        cluster_name: identity.cluster_name().map(str::to_string),
    })
}

#[derive(Clone)]
struct Dialer {
    addr: String,
    identity: PathBuf,
    tls: TlsConnector,
}

impl Dialer {
    /// TLS to `target` as `identity`: ALPN `h2`, or through a proxy Teleport's auth routing
    /// protocol first, then `h2`.
    fn new(target: &Target, identity: &ClientIdentity) -> Result<Dialer, ConnectError> {
        let mut alpn = Vec::new();
        if target.via_proxy {
            let cluster = identity
                .cluster_name()
                .ok_or_else(|| ConnectError::NoClusterName {
                    path: identity.path.clone(),
                })?;
            alpn.push(proxy_alpn(cluster).into_bytes());
        }
        alpn.push(b"h2".to_vec());
        Ok(Dialer {
            addr: with_default_port(&target.addr)?,
            identity: identity.path.clone(),
            tls: TlsConnector::from(Arc::new(identity.tls_config(alpn)?)),
        })
    }

    async fn dial(&self) -> Result<Primed<TlsStream<TcpStream>>, ConnectError> {
        let attempt = async {
            let tcp = TcpStream::connect(self.addr.as_str())
                .await
                .map_err(|e| self.tcp_error(e))?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| self.tls_error(e))?;
            self.await_verdict(tls).await
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| ConnectError::Timeout {
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
        mut tls: TlsStream<TcpStream>,
    ) -> Result<Primed<TlsStream<TcpStream>>, ConnectError> {
        let mut first = vec![0u8; 16 * 1024];
        match tokio::time::timeout(VERDICT_WAIT, tls.read(&mut first)).await {
            Ok(Ok(0)) => Err(ConnectError::Rejected {
                addr: self.addr.clone(),
                identity: self.identity.clone(),
                detail: "it closed the connection right after the TLS handshake".into(),
            }),
            Ok(Ok(n)) => {
                first.truncate(n);
                Ok(Primed::new(first, tls))
            }
            Ok(Err(e)) => Err(self.tls_error(e)),
            // A server that waits for the client first: let HTTP/2 go ahead.
            Err(_) => Ok(Primed::new(Vec::new(), tls)),
        }
    }

    fn tcp_error(&self, e: std::io::Error) -> ConnectError {
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectError::Refused {
                addr: self.addr.clone(),
            },
            _ => ConnectError::Unreachable {
                addr: self.addr.clone(),
                reason: e.to_string(),
            },
        }
    }

    fn tls_error(&self, e: std::io::Error) -> ConnectError {
        match find_rustls_error(&e) {
            Some(err) => tls_failure(&self.addr, &self.identity, err),
            None => ConnectError::Tls {
                addr: self.addr.clone(),
                detail: format!(
                    "{e} (is {} a Teleport auth server or TLS-routing proxy?)",
                    self.addr
                ),
            },
        }
    }
}

/// A stream whose first bytes were already read: it yields them before reading on.
#[derive(Debug)]
struct Primed<S> {
    first: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Primed<S> {
    fn new(first: Vec<u8>, inner: S) -> Primed<S> {
        Primed {
            first,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Primed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
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
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Classifies a rustls failure: our check of the server, or the server's check of us.
pub fn tls_failure(addr: &str, identity: &Path, err: &rustls::Error) -> ConnectError {
    match err {
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => ConnectError::WrongCa {
            addr: addr.into(),
            identity: identity.into(),
            detail: err.to_string(),
        },
        rustls::Error::AlertReceived(alert) => ConnectError::Rejected {
            addr: addr.into(),
            identity: identity.into(),
            detail: format!("TLS alert {alert:?}"),
        },
        rustls::Error::NoApplicationProtocol => ConnectError::Tls {
            addr: addr.into(),
            detail: "the server speaks neither gRPC (h2) nor Teleport's auth routing".into(),
        },
        other => ConnectError::Tls {
            addr: addr.into(),
            detail: other.to_string(),
        },
    }
}

/// The rustls error somewhere in an error's source chain (io errors wrap it).
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

/// An error and its sources on one line, most specific last.
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

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("unix time {unix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Issued {
        identity: ClientIdentity,
        /// A server certificate for `teleport.cluster.local` and its key, from the same CA.
        server: (CertificateDer<'static>, PrivateKeyDer<'static>),
        ca: CertificateDer<'static>,
    }

    /// A CA and a client certificate valid from `not_before` to `not_after` (Unix seconds).
    fn issue(not_before: i64, not_after: i64) -> Issued {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "lab.example");
        ca.distinguished_name = dn;
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "admin");
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let file = IdentityFile {
            private_key_pem: key.serialize_pem(),
            ssh_cert: "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA".into(),
            tls_cert_pem: cert.pem(),
            ssh_ca_lines: vec![],
            tls_ca_pems: vec![ca_cert.pem()],
        };
        let cert = file.cert().unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_params = rcgen::CertificateParams::new(vec![SERVER_NAME.into()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        Issued {
            identity: ClientIdentity {
                path: "/tmp/test.identity".into(),
                file,
                cert,
                warnings: vec![],
            },
            server: (
                server_cert.der().clone(),
                PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
            ),
            ca: ca_cert.der().clone(),
        }
    }

    /// A TLS server for one connection that reports the ALPN protocols the client offered and
    /// then writes `ready`; with `client_ca`, it demands a client certificate of that CA.
    async fn tls_server(
        issued: &Issued,
        client_ca: Option<&CertificateDer<'static>>,
    ) -> (String, tokio::task::JoinHandle<Vec<Vec<u8>>>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca.clone()).unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let (cert, key) = &issued.server;
        let mut config = builder
            .with_single_cert(vec![cert.clone()], key.clone_key())
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handle = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
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
                // Hold the connection until the client has read.
                let _ = stream.read(&mut [0u8; 1]).await;
            }
            offered
        });
        (addr, handle)
    }

    fn target(addr: &str, via_proxy: bool) -> Target {
        Target {
            addr: addr.into(),
            identity: "/tmp/test.identity".into(),
            via_proxy,
        }
    }

    #[tokio::test]
    async fn proxy_dial_offers_teleport_auth_routing_first_then_h2() {
        let issued = issue(0, i64::from(i32::MAX));
        let (addr, server) = tls_server(&issued, None).await;
        let dialer = Dialer::new(&target(&addr, true), &issued.identity).unwrap();
        let stream = dialer.dial().await.unwrap();
        assert_eq!(stream.inner.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        drop(stream);
        assert_eq!(
            server.await.unwrap(),
            vec![proxy_alpn("lab.example").into_bytes(), b"h2".to_vec()]
        );
    }

    #[tokio::test]
    async fn direct_dial_offers_only_h2() {
        let issued = issue(0, i64::from(i32::MAX));
        let (addr, server) = tls_server(&issued, None).await;
        let dialer = Dialer::new(&target(&addr, false), &issued.identity).unwrap();
        let mut stream = dialer.dial().await.unwrap();
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
    async fn client_certificate_refused_by_the_server_is_reported_as_rejected() {
        let ours = issue(0, i64::from(i32::MAX));
        let other = issue(0, i64::from(i32::MAX));
        // The server trusts only another CA's clients, but presents a certificate we trust.
        let (addr, _server) = tls_server(&ours, Some(&other.ca)).await;
        let dialer = Dialer::new(&target(&addr, false), &ours.identity).unwrap();
        let err = dialer.dial().await.unwrap_err();
        assert!(matches!(err, ConnectError::Rejected { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("refused the client certificate in /tmp/test.identity"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn server_of_another_ca_is_reported_as_wrong_ca() {
        let ours = issue(0, i64::from(i32::MAX));
        let theirs = issue(0, i64::from(i32::MAX));
        let (addr, _server) = tls_server(&theirs, None).await;
        let dialer = Dialer::new(&target(&addr, false), &ours.identity).unwrap();
        let err = dialer.dial().await.unwrap_err();
        assert!(matches!(err, ConnectError::WrongCa { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("not signed by the CA in /tmp/test.identity")
        );
    }

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_750_000_000;

    #[test]
    fn expired_certificate_is_refused_with_when_it_expired() {
        let issued = issue(NOW - 2 * DAY, NOW - 3600);
        let err = issued.identity.check_validity(NOW).unwrap_err().to_string();
        assert!(err.contains("/tmp/test.identity"), "{err}");
        assert!(
            err.contains("expired at 2025-06-15T14:06:40Z (1h ago)"),
            "{err}"
        );
    }

    #[test]
    fn certificate_from_the_future_is_refused() {
        let issued = issue(NOW + DAY, NOW + 2 * DAY);
        let err = issued.identity.check_validity(NOW).unwrap_err().to_string();
        assert!(err.contains("not valid until"), "{err}");
    }

    #[test]
    fn valid_certificate_builds_a_tls_config_with_the_requested_alpn() {
        let issued = issue(NOW - DAY, NOW + DAY);
        issued.identity.check_validity(NOW).unwrap();
        let config = issued.identity.tls_config(vec![b"h2".to_vec()]).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        assert_eq!(issued.identity.cluster_name(), Some("lab.example"));
    }

    #[test]
    fn key_of_another_certificate_is_refused() {
        let mut issued = issue(NOW - DAY, NOW + DAY);
        issued.identity.file.private_key_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = issued.identity.tls_config(vec![]).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn proxy_alpn_hex_encodes_the_cluster_name() {
        assert_eq!(
            proxy_alpn("lab"),
            "teleport-auth@6c6162.teleport.cluster.local"
        );
    }

    #[test]
    fn addresses_get_the_default_port_and_garbage_is_refused() {
        assert_eq!(
            with_default_port("auth.example").unwrap(),
            "auth.example:3025"
        );
        assert_eq!(with_default_port("10.0.0.1:443").unwrap(), "10.0.0.1:443");
        assert_eq!(with_default_port("::1").unwrap(), "[::1]:3025");
        assert_eq!(with_default_port("[::1]:3025").unwrap(), "[::1]:3025");
        assert!(with_default_port("host:notaport").is_err());
        assert!(with_default_port("").is_err());
    }

    #[tokio::test]
    async fn closed_port_is_refused_not_a_panic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let issued = issue(0, i64::from(i32::MAX));
        let target = Target {
            addr: addr.clone(),
            identity: issued.identity.path.clone(),
            via_proxy: false,
        };
        let err = connect(&target, &issued.identity).await.unwrap_err();
        assert!(matches!(err, ConnectError::Refused { .. }), "{err}");
        assert!(err.to_string().contains(&addr));
    }
}

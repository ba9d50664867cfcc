//! The lab proxy (`lab start --proxy-listen`): one listener that, like a Teleport proxy with TLS
//! routing, peeks each ClientHello and splices `teleport-auth@…` connections to the lab auth
//! untouched, and ends every other TLS connection with its web certificate to answer the webapi
//! and the connection upgrade (whose inner TLS it routes the same way). With `l7` it stands for
//! an L7 load balancer in front of Teleport: TLS ends at the web certificate, HTTP/1.1 only.

mod hello;
mod upgrade;
mod web;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mwi_identity::tls::Primed;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::lab::LabError;

pub(crate) use web::Info;

/// How long a client may take to send its ClientHello, and then to finish the web handshake.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reaching the lab auth may take.
const AUTH_DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The route prefix of ALPN protocols that go to a cluster's auth service
/// (lib/srv/alpnproxy/common/protocols.go `ProtocolAuth`).
const AUTH_ALPN_PREFIX: &[u8] = b"teleport-auth@";

/// The reverse tunnel's ALPN protocols (`teleport-reversetunnel`, `…v2`): clients offer them to
/// test whether ALPN reaches the proxy (api/client `IsALPNConnUpgradeRequired`).
const TUNNEL_ALPN_PREFIX: &[u8] = b"teleport-reversetunnel";

/// The only protocol an L7 load balancer negotiates with clients here.
const HTTP1: &[u8] = b"http/1.1";

/// How to run the lab proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The `HOST:PORT` advertised as the proxy's public address; the listen address when `None`.
    pub public_addr: Option<String>,
    /// Behave as an L7 load balancer in front of the proxy: end TLS with the web certificate,
    /// negotiate only `http/1.1`, so clients must use the connection upgrade.
    pub l7: bool,
}

/// What one lab proxy needs for every connection.
pub(crate) struct Proxy {
    pub cluster: String,
    /// The lab auth listener, as dialed from here.
    pub auth_addr: SocketAddr,
    pub web: Arc<rustls::ServerConfig>,
    pub info: Info,
    pub l7: bool,
}

/// The web TLS configuration: the web certificate chain, no client certificates, no ALPN (a
/// client offering only `h2` still gets the certificate and can tell it is no auth server's).
pub(crate) fn web_config(chain_pem: &str, key_pem: &str) -> Result<rustls::ServerConfig, String> {
    use mwi_identity::tls;
    let chain = tls::cert_chain(chain_pem).map_err(|e| e.to_string())?;
    let key = tls::private_key(key_pem).map_err(|e| e.to_string())?;
    rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())
}

/// Binds the proxy listener.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), LabError> {
    let error = |e: io::Error| LabError::ProxyListen {
        addr,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}

/// The address to reach a listener bound to `addr` from this host: loopback for 0.0.0.0/[::].
pub(crate) fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Accepts connections until `stop` turns true, each on its own task.
pub(crate) async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = crate::lab::until_stopped(&mut stop) => return,
        };
        match accepted {
            Ok((tcp, remote)) => {
                let _ = tcp.set_nodelay(true);
                let proxy = proxy.clone();
                tokio::spawn(async move {
                    if let Err(e) = handle(tcp, &proxy).await {
                        tracing::debug!("lab proxy: connection from {remote}: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("lab proxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why one connection ended early; logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Hello(#[from] hello::HelloError),
    #[error("no ClientHello within {}s", HELLO_TIMEOUT.as_secs())]
    Slow,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("it asks for cluster {0:?}, which this lab is not")]
    OtherCluster(String),
    #[error("the lab auth at {0} did not answer")]
    AuthDown(SocketAddr),
    #[error("the connection upgrade carries only the auth route here, not ALPN {0:?}")]
    NotAuth(String),
}

async fn handle(mut tcp: TcpStream, proxy: &Proxy) -> Result<(), ConnError> {
    if proxy.l7 {
        let mut config = (*proxy.web).clone();
        config.alpn_protocols = vec![HTTP1.to_vec()];
        return web(accept(tcp, Vec::new(), config).await?, proxy).await;
    }
    let mut buf = Vec::with_capacity(2048);
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, read_hello(&mut tcp, &mut buf)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(ConnError::Hello(e))) => {
            if looks_like_http(&buf) {
                // What Go's TLS server answers a plain HTTP request with.
                let _ = tcp
                    .write_all(
                        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                    )
                    .await;
                let _ = tcp.shutdown().await;
                // Unread request bytes at close would reset the connection before the client
                // reads the answer: take what comes for a moment.
                let mut sink = [0u8; 1024];
                let drain = async { while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {} };
                let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            }
            return Err(e.into());
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ConnError::Slow),
    };
    match hello.alpn.first() {
        Some(first) if first.starts_with(AUTH_ALPN_PREFIX) => to_auth(tcp, buf, first, proxy).await,
        Some(first) if first.starts_with(TUNNEL_ALPN_PREFIX) => {
            // Negotiating it tells the client that ALPN reaches the proxy (no upgrade needed);
            // the lab has no reverse tunnel server behind it, so the connection ends there.
            let mut config = (*proxy.web).clone();
            config.alpn_protocols = vec![first.clone()];
            let mut tls = accept(tcp, buf, config).await?;
            tls.shutdown().await.map_err(ConnError::Io)
        }
        _ => web(accept(tcp, buf, (*proxy.web).clone()).await?, proxy).await,
    }
}

/// Ends TLS with the web certificate (the ClientHello already read is `hello`).
async fn accept(
    tcp: TcpStream,
    hello: Vec<u8>,
    config: rustls::ServerConfig,
) -> Result<tokio_rustls::server::TlsStream<Primed<TcpStream>>, ConnError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let tls = tokio::time::timeout(HELLO_TIMEOUT, acceptor.accept(Primed::new(hello, tcp)))
        .await
        .map_err(|_| ConnError::Slow)??;
    Ok(tls)
}

/// Splices a stream whose ClientHello (in `hello`) asks for the auth route `first` to the lab
/// auth; Teleport's auth route reads the cluster from the first protocol's suffix.
async fn to_auth<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    hello: Vec<u8>,
    first: &[u8],
    proxy: &Proxy,
) -> Result<(), ConnError> {
    let suffix = String::from_utf8_lossy(&first[AUTH_ALPN_PREFIX.len()..]).into_owned();
    match mwi_identity::tls::cluster_of_server_name(&suffix) {
        Some(cluster) if cluster == proxy.cluster => splice(stream, &hello, proxy.auth_addr).await,
        other => Err(ConnError::OtherCluster(other.unwrap_or(suffix))),
    }
}

/// Answers the webapi on a connection whose TLS ended here; an upgraded connection carries an
/// inner TLS, routed by its ClientHello like the listener's (the auth route only).
async fn web<S>(tls: S, proxy: &Proxy) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let web::Request::Upgrade { stream, head, rest } = web::serve(tls, &proxy.info).await? else {
        return Ok(());
    };
    let Some(mut inner) = upgrade::accept(stream, &head, rest).await? else {
        return Ok(());
    };
    let mut buf = Vec::with_capacity(2048);
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_hello(&mut inner, &mut buf))
        .await
        .map_err(|_| ConnError::Slow)??;
    match hello.alpn.first() {
        Some(first) if first.starts_with(AUTH_ALPN_PREFIX) => {
            to_auth(inner, buf, first, proxy).await
        }
        other => Err(ConnError::NotAuth(
            other
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
        )),
    }
}

fn looks_like_http(buf: &[u8]) -> bool {
    buf.len() >= 3 && buf[..3].iter().all(u8::is_ascii_uppercase)
}

/// Reads until `buf` holds a whole ClientHello record (at most [`hello::MAX_HELLO`] bytes).
async fn read_hello<S: AsyncRead + Unpin>(
    tcp: &mut S,
    buf: &mut Vec<u8>,
) -> Result<hello::Hello, ConnError> {
    loop {
        let need = match hello::parse(buf) {
            Ok(hello) => return Ok(hello),
            Err(hello::HelloError::Incomplete(need)) => need.min(hello::MAX_HELLO),
            Err(e) => return Err(e.into()),
        };
        let mut chunk = vec![0u8; need.saturating_sub(buf.len()).max(1)];
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(hello::HelloError::Incomplete(need).into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Hands the connection to the lab auth: the ClientHello bytes, then both directions as they come.
async fn splice<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    hello: &[u8],
    auth: SocketAddr,
) -> Result<(), ConnError> {
    let mut upstream = tokio::time::timeout(AUTH_DIAL_TIMEOUT, TcpStream::connect(auth))
        .await
        .map_err(|_| ConnError::AuthDown(auth))?
        .map_err(|_| ConnError::AuthDown(auth))?;
    let _ = upstream.set_nodelay(true);
    upstream.write_all(hello).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

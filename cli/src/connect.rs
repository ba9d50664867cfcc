//! The CLI's connection to a Teleport auth service: reads the identity file, checks its
//! certificate, dials through mwi_identity::tls (directly, through a TLS-routing proxy whose
//! cluster comes from the identity or `/webapi/find`, or inside the connection upgrade when an
//! L7 load balancer is in front) and words every failure for the user, naming the address and
//! the identity file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mwi_identity::tls::{self, AddressError, ClientCert, DialError, Dialer, ServerCheck};
use mwi_identity::{CertIdentity, IdentityError, IdentityFile};

use crate::upgrade::{self, Upgrade, UpgradeError};
use crate::webapi::{self, FindError};
use rustls::{CertificateError, ClientConfig};
use tonic::transport::Channel;

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

/// How the connection reaches auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// TLS straight to the auth service.
    Direct,
    /// One TLS session to auth through a proxy that routes it by ALPN
    /// (`teleport-auth@<hex(cluster)>.teleport.cluster.local`) without ending it.
    TlsRouting { cluster: String },
    /// The same TLS session inside a WebSocket (`GET /webapi/connectionupgrade`), for a proxy
    /// behind an L7 load balancer that ends TLS.
    ConnUpgrade { cluster: String },
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Direct => f.write_str("direct"),
            Route::TlsRouting { .. } => f.write_str("TLS routing"),
            Route::ConnUpgrade { .. } => f.write_str("connection upgrade"),
        }
    }
}

/// How to treat the proxy, besides where it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Skip checking the proxy's web certificate (the connection upgrade's outer TLS only; auth
    /// is always checked against the identity's CA), as tctl's `--insecure`.
    pub insecure: bool,
}

/// An open gRPC channel to the auth service.
#[derive(Debug, Clone)]
pub struct Connection {
    pub channel: Channel,
    pub target: Target,
    pub route: Route,
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
        /// The bot whose identity output this is (tbot renews those), when the certificate says.
        bot: Option<String>,
    },
    #[error("the client certificate in {path} is not valid until {at}")]
    NotYetValid { path: PathBuf, at: String },
    #[error("identity file {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error(
        "identity file {path} does not name its cluster, which the proxy needs to route to auth, \
         and the proxy did not say it ({why})"
    )]
    NoClusterName { path: PathBuf, why: String },
    #[error("the proxy at {addr} is not a Teleport proxy: {why}")]
    NotProxy { addr: String, why: FindError },
    #[error(
        "the Teleport proxy at {addr} (cluster {cluster}) has TLS routing off, so it cannot pass a connection to auth"
    )]
    NoTlsRouting { addr: String, cluster: String },
    #[error(
        "the proxy at {addr} serves cluster {serves:?}, not {wanted:?} (the cluster of {})",
        .identity.display()
    )]
    OtherCluster {
        addr: String,
        serves: String,
        wanted: String,
        identity: PathBuf,
    },
    #[error(transparent)]
    BadAddress(#[from] AddressError),
    #[error("cannot connect to {} at {addr}: connection refused", server(*.via_proxy))]
    Refused { addr: String, via_proxy: bool },
    #[error("cannot connect to {} at {addr}: no answer within {}s", server(*.via_proxy), .after.as_secs())]
    Timeout {
        addr: String,
        via_proxy: bool,
        after: Duration,
    },
    #[error("cannot connect to {} at {addr}: {reason}", server(*.via_proxy))]
    Unreachable {
        addr: String,
        via_proxy: bool,
        reason: String,
    },
    #[error(
        "the server's certificate at {addr} is not signed by the CA in {}: wrong cluster or stale identity ({detail})",
        .identity.display()
    )]
    WrongCa {
        addr: String,
        via_proxy: bool,
        identity: PathBuf,
        detail: String,
    },
    /// A web server answered (a Teleport proxy's web listener, or a load balancer that ends TLS),
    /// not a Teleport auth service nor a proxy routing to one.
    #[error("{}", web_answered(.addr, *.via_proxy, .described))]
    WebCertificate {
        addr: String,
        via_proxy: bool,
        /// Its certificate's subject, issuer and DNS names.
        described: String,
    },
    #[error("the server at {addr} refused the client certificate in {} ({detail})", .identity.display())]
    Rejected {
        addr: String,
        via_proxy: bool,
        identity: PathBuf,
        detail: String,
    },
    #[error("TLS with the server at {addr} failed: {detail}")]
    Tls {
        addr: String,
        via_proxy: bool,
        detail: String,
    },
    #[error(transparent)]
    Upgrade(#[from] UpgradeError),
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

    /// An identity of TLS parts only (a tsh profile's, an auth host's Admin): no SSH certificate
    /// and no warnings. `cert` is what `tls_cert_pem` names.
    pub fn tls_only(
        path: PathBuf,
        private_key_pem: String,
        tls_cert_pem: String,
        tls_ca_pems: Vec<String>,
        cert: CertIdentity,
    ) -> ClientIdentity {
        ClientIdentity {
            path,
            file: IdentityFile {
                private_key_pem,
                ssh_cert: String::new(),
                tls_cert_pem,
                ssh_ca_lines: Vec::new(),
                tls_ca_pems,
            },
            cert,
            warnings: Vec::new(),
        }
    }

    /// The bot that issued this identity (its own certificate or one it impersonated, as every
    /// tbot output is), if any.
    fn bot_output(&self) -> Option<String> {
        let by_bot = self
            .cert
            .impersonator
            .as_deref()
            .and_then(|who| who.strip_prefix("bot-"));
        let own = self.cert.username.strip_prefix("bot-");
        self.cert
            .bot_name
            .as_deref()
            .or(by_bot)
            .or(own)
            .map(str::to_string)
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
                bot: self.bot_output(),
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

    /// A rustls client configuration presenting this identity and trusting only its CAs; through
    /// a proxy it asks for `proxy_cluster`'s auth service first.
    pub fn tls_config(&self, proxy_cluster: Option<&str>) -> Result<ClientConfig, ConnectError> {
        let bad = |e: tls::TlsError| ConnectError::Credentials {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let roots = tls::roots_from_pem(&self.file.tls_ca_pems).map_err(bad)?;
        let cert = ClientCert {
            cert_pem: &self.file.tls_cert_pem,
            key_pem: &self.file.private_key_pem,
        };
        tls::client_config(ServerCheck::Roots(roots), Some(cert), proxy_cluster).map_err(bad)
    }
}

/// Opens a gRPC channel to `target` with `identity` and default [`Options`].
pub async fn connect(
    target: &Target,
    identity: &ClientIdentity,
) -> Result<Connection, ConnectError> {
    connect_with(target, identity, Options::default()).await
}

/// Opens a gRPC channel to `target` with `identity`. The first TCP + TLS dial happens here, so
/// its failures come back typed; later reconnects dial the same way. Through a proxy, the
/// connection upgrade is used when Teleport would use it ([`upgrade::required`]).
pub async fn connect_with(
    target: &Target,
    identity: &ClientIdentity,
    options: Options,
) -> Result<Connection, ConnectError> {
    let route = match target.via_proxy {
        true => {
            let cluster = proxy_cluster(target, identity).await?;
            match upgrade::required(&tls::with_default_port(&target.addr)?).await {
                true => Route::ConnUpgrade { cluster },
                false => Route::TlsRouting { cluster },
            }
        }
        false => Route::Direct,
    };
    let dialer = dialer(target, identity, &route, options)?;
    tracing::info!(addr = %dialer.addr(), %route, "dialing the auth service");
    let addr = dialer.addr().to_string();
    let channel = match dialer.channel().await {
        Ok(channel) => channel,
        Err(e) => {
            let err = dial_failure(e, target.via_proxy, &identity.path);
            return Err(match &route {
                Route::TlsRouting { cluster } | Route::ConnUpgrade { cluster } => {
                    explain(err, &addr, cluster, identity).await
                }
                Route::Direct => err,
            });
        }
    };
    Ok(Connection {
        channel,
        target: target.clone(),
        route,
        cert: identity.cert.clone(),
        cluster_name: identity.cluster_name().map(str::to_string),
    })
}

/// The cluster to ask the proxy for: the identity's, else what the proxy's `/webapi/find` says.
async fn proxy_cluster(target: &Target, identity: &ClientIdentity) -> Result<String, ConnectError> {
    if let Some(cluster) = identity.cluster_name() {
        return Ok(cluster.to_string());
    }
    let addr = tls::with_default_port(&target.addr)?;
    let found = webapi::find(&addr).await;
    tracing::debug!(%addr, ?found, "asked the proxy for its cluster");
    match found {
        Ok(find) => Ok(find.cluster_name),
        Err(why) => Err(ConnectError::NoClusterName {
            path: identity.path.clone(),
            why: format!("{addr}: {why}"),
        }),
    }
}

/// A failed dial through a proxy, explained by what the proxy's `/webapi/find` says: not a
/// Teleport proxy, TLS routing off, another cluster; otherwise the failure as it was. A proxy
/// that cannot be reached at all needs no second question.
async fn explain(
    err: ConnectError,
    addr: &str,
    cluster: &str,
    identity: &ClientIdentity,
) -> ConnectError {
    if matches!(
        err,
        ConnectError::Refused { .. }
            | ConnectError::Timeout { .. }
            | ConnectError::Unreachable { .. }
    ) {
        return err;
    }
    let addr = addr.to_string();
    match webapi::find(&addr).await {
        Err(why @ (FindError::NotTls(_) | FindError::NotTeleport { .. })) => {
            ConnectError::NotProxy { addr, why }
        }
        Err(FindError::NoAnswer(_)) => err,
        Ok(find) if !find.tls_routing => ConnectError::NoTlsRouting {
            addr,
            cluster: find.cluster_name,
        },
        Ok(find) if find.cluster_name != cluster => ConnectError::OtherCluster {
            addr,
            serves: find.cluster_name,
            wanted: cluster.to_string(),
            identity: identity.path.clone(),
        },
        Ok(_) => err,
    }
}

/// The dialer for `target` as `identity` on `route`. Through a proxy it offers the cluster's
/// auth route first and names `<hex(cluster)>.teleport.cluster.local`, as tctl does; a cluster
/// name too long for one DNS label names the bare `teleport.cluster.local` (auth's certificate
/// carries both).
fn dialer(
    target: &Target,
    identity: &ClientIdentity,
    route: &Route,
    options: Options,
) -> Result<Dialer, ConnectError> {
    let addr = tls::with_default_port(&target.addr)?;
    let routed = |cluster: &str| -> Result<Dialer, ConnectError> {
        let dialer = Dialer::new(&addr, identity.tls_config(Some(cluster))?)?;
        Ok(dialer
            .clone()
            .with_server_name(&tls::cluster_server_name(cluster))
            .unwrap_or(dialer))
    };
    match route {
        Route::Direct => Ok(Dialer::new(&addr, identity.tls_config(None)?)?),
        Route::TlsRouting { cluster } => routed(cluster),
        Route::ConnUpgrade { cluster } => {
            let transport = Upgrade::new(options.insecure)?;
            Ok(routed(cluster)?.with_transport(Arc::new(transport)))
        }
    }
}

/// A failed dial in the CLI's words, naming what was dialed (the auth server or the proxy), its
/// address and, for certificate trouble, the identity file.
fn dial_failure(err: DialError, via_proxy: bool, identity: &Path) -> ConnectError {
    match err {
        DialError::Refused { addr } => ConnectError::Refused { addr, via_proxy },
        DialError::Timeout { addr, after } => ConnectError::Timeout {
            addr,
            via_proxy,
            after,
        },
        DialError::Unreachable { addr, source } => ConnectError::Unreachable {
            reason: source.to_string(),
            addr,
            via_proxy,
        },
        DialError::Tls { addr, source } => match tls::find_rustls_error(&source) {
            Some(err) => tls_failure(&addr, via_proxy, identity, err),
            None => ConnectError::Tls {
                detail: format!(
                    "{source} (is {addr} a Teleport auth server or TLS-routing proxy?)"
                ),
                addr,
                via_proxy,
            },
        },
        DialError::Closed { addr } => ConnectError::Rejected {
            addr,
            via_proxy,
            identity: identity.into(),
            detail: "it closed the connection right after the TLS handshake".into(),
        },
        DialError::Channel { addr, source } => ConnectError::Unreachable {
            reason: tls::error_chain(&source),
            addr,
            via_proxy,
        },
        DialError::Transport { addr, source } => match source.downcast::<UpgradeError>() {
            Ok(upgrade) => ConnectError::Upgrade(*upgrade),
            Err(other) => ConnectError::Tls {
                detail: other.to_string(),
                addr,
                via_proxy,
            },
        },
    }
}

/// Classifies a rustls failure: our check of the server, or the server's check of us.
pub fn tls_failure(
    addr: &str,
    via_proxy: bool,
    identity: &Path,
    err: &rustls::Error,
) -> ConnectError {
    if let Some(web) = tls::WebCertificate::find(err) {
        return ConnectError::WebCertificate {
            addr: addr.into(),
            via_proxy,
            described: web.describe(),
        };
    }
    match err {
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => ConnectError::WrongCa {
            addr: addr.into(),
            via_proxy,
            identity: identity.into(),
            detail: err.to_string(),
        },
        // A server that negotiates none of our ALPN protocols: a web listener or an L7 load
        // balancer ending TLS (with TELEPORT_TLS_ROUTING_CONN_UPGRADE=false, say).
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
        | rustls::Error::NoApplicationProtocol => ConnectError::Tls {
            addr: addr.into(),
            via_proxy,
            detail: "the server speaks neither gRPC (h2) nor Teleport's auth routing".into(),
        },
        rustls::Error::AlertReceived(alert) => ConnectError::Rejected {
            addr: addr.into(),
            via_proxy,
            identity: identity.into(),
            detail: format!("TLS alert {alert:?}"),
        },
        other => ConnectError::Tls {
            addr: addr.into(),
            via_proxy,
            detail: other.to_string(),
        },
    }
}

/// The line for a web certificate where a Teleport one was expected. Dialed as an auth server,
/// the address is most likely a proxy's; dialed as a proxy, the proxy (or what is in front of
/// it) ended TLS instead of routing it to auth.
fn web_answered(addr: &str, via_proxy: bool, described: &str) -> String {
    match via_proxy {
        false => format!(
            "{addr} answered with a web certificate ({described}), not a Teleport auth server's: \
             a proxy or a load balancer answered; reach auth through it with --proxy {addr}"
        ),
        true => format!(
            "the proxy at {addr} answered with a web certificate ({described}) instead of \
             routing to the auth service: TLS routing is off, or a load balancer in front of it \
             ends TLS"
        ),
    }
}

/// What a dialed address is, as messages name it.
fn server(via_proxy: bool) -> &'static str {
    match via_proxy {
        true => "the proxy",
        false => "the auth server",
    }
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
    use std::sync::Arc;

    use super::*;
    use mwi_identity::tls::{Primed, SERVER_NAME};
    use rustls::RootCertStore;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::AsyncReadExt;

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
        // As Teleport's auth certificates: the API domain and every name under it.
        let server_params = rcgen::CertificateParams::new(vec![
            SERVER_NAME.into(),
            "*.teleport.cluster.local".into(),
        ])
        .unwrap();
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

    /// One dial of `target` as `identity`, failures in the CLI's words.
    async fn dial(
        target: &Target,
        identity: &ClientIdentity,
    ) -> Result<Primed<tokio_rustls::client::TlsStream<tls::BoxedIo>>, ConnectError> {
        let route = match target.via_proxy {
            true => Route::TlsRouting {
                cluster: identity.cluster_name().unwrap().to_string(),
            },
            false => Route::Direct,
        };
        let dialer = dialer(target, identity, &route, Options::default())?;
        dialer
            .dial()
            .await
            .map_err(|e| dial_failure(e, target.via_proxy, &identity.path))
    }

    #[tokio::test]
    async fn proxy_dial_offers_teleport_auth_routing_first_then_h2() {
        let issued = issue(0, i64::from(i32::MAX));
        let (addr, server) = tls_server(&issued, None).await;
        let stream = dial(&target(&addr, true), &issued.identity).await.unwrap();
        assert_eq!(
            stream.get_ref().get_ref().1.alpn_protocol(),
            Some(&b"h2"[..])
        );
        drop(stream);
        assert_eq!(
            server.await.unwrap(),
            vec![tls::proxy_alpn("lab.example").into_bytes(), b"h2".to_vec()]
        );
    }

    #[tokio::test]
    async fn direct_dial_offers_only_h2() {
        let issued = issue(0, i64::from(i32::MAX));
        let (addr, server) = tls_server(&issued, None).await;
        let mut stream = dial(&target(&addr, false), &issued.identity).await.unwrap();
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
        let err = dial(&target(&addr, false), &ours.identity)
            .await
            .unwrap_err();
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
        let err = dial(&target(&addr, false), &ours.identity)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::WrongCa { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("not signed by the CA in /tmp/test.identity")
        );
    }

    /// Issue 11 item 10: a web certificate (a proxy's, a load balancer's) is named and points to
    /// --proxy; a Teleport certificate of another cluster keeps the wrong-cluster message.
    #[test]
    fn a_web_certificate_is_named_apart_from_another_clusters_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["proxy.example.com".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "proxy.example.com");
        params.distinguished_name = dn;
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let web = tls::WebCertificate::of(&der, CertificateError::UnknownIssuer).unwrap();
        let err = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            Arc::new(web),
        )));
        let identity = Path::new("/tmp/test.identity");
        let direct = tls_failure("proxy.example.com:443", false, identity, &err);
        assert!(
            matches!(direct, ConnectError::WebCertificate { .. }),
            "{direct}"
        );
        assert_eq!(
            direct.to_string(),
            "proxy.example.com:443 answered with a web certificate (subject \"CN=proxy.example.com\", \
             self-signed, DNS names proxy.example.com), not a Teleport auth server's: a proxy or a \
             load balancer answered; reach auth through it with --proxy proxy.example.com:443"
        );
        let routed = tls_failure("proxy.example.com:443", true, identity, &err).to_string();
        assert!(
            routed
                .starts_with("the proxy at proxy.example.com:443 answered with a web certificate")
                && routed.contains("TLS routing is off"),
            "{routed}"
        );
        let teleport = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let other_cluster = tls_failure("auth:3025", false, identity, &teleport);
        assert!(
            matches!(other_cluster, ConnectError::WrongCa { .. }),
            "{other_cluster}"
        );
        assert!(
            other_cluster
                .to_string()
                .contains("wrong cluster or stale identity")
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
    fn an_expired_bot_output_names_its_bot_and_a_users_does_not() {
        let mut issued = issue(NOW - 2 * DAY, NOW - 3600);
        let bot = |identity: &ClientIdentity| match identity.check_validity(NOW) {
            Err(ConnectError::Expired { bot, .. }) => bot,
            other => panic!("not expired: {other:?}"),
        };
        assert_eq!(bot(&issued.identity), None);
        issued.identity.cert.impersonator = Some("bot-ops".into());
        assert_eq!(bot(&issued.identity).as_deref(), Some("ops"));
        issued.identity.cert.bot_name = Some("runner".into());
        assert_eq!(bot(&issued.identity).as_deref(), Some("runner"));
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
        let config = issued.identity.tls_config(None).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        let config = issued.identity.tls_config(Some("lab.example")).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![tls::proxy_alpn("lab.example").into_bytes(), b"h2".to_vec()]
        );
        assert_eq!(issued.identity.cluster_name(), Some("lab.example"));
    }

    #[test]
    fn key_of_another_certificate_is_refused() {
        let mut issued = issue(NOW - DAY, NOW + DAY);
        issued.identity.file.private_key_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let err = issued.identity.tls_config(None).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn a_bad_address_is_a_usage_error_naming_it_before_any_credential_check() {
        let mut issued = issue(NOW - DAY, NOW + DAY);
        issued.identity.file.tls_ca_pems.clear();
        for addr in ["host:notaport", "", "[::1"] {
            let err = dialer(
                &target(addr, false),
                &issued.identity,
                &Route::Direct,
                Options::default(),
            )
            .err()
            .unwrap();
            assert!(matches!(err, ConnectError::BadAddress(_)), "{err}");
            assert!(err.to_string().contains("is not HOST:PORT"), "{err}");
        }
        let err = dialer(
            &target("auth.example", false),
            &issued.identity,
            &Route::Direct,
            Options::default(),
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("no TLS CA certificate block"),
            "{err}"
        );
    }

    /// Without a cluster in the identity, the proxy is asked (`/webapi/find`); a proxy that
    /// cannot say leaves the identity's missing name as the error, naming what it answered.
    #[tokio::test]
    async fn proxy_dial_needs_the_cluster_name() {
        let issued = issue(NOW - DAY, NOW + DAY);
        let mut unnamed = issued.identity.clone();
        unnamed.cert.teleport_cluster = None;
        unnamed.cert.issuer_cluster = None;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = proxy_cluster(&target(&closed, true), &unnamed)
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::NoClusterName { .. }), "{err}");
        assert!(err.to_string().contains(&closed), "{err}");
        assert_eq!(
            proxy_cluster(&target(&closed, true), &issued.identity)
                .await
                .unwrap(),
            "lab.example"
        );
        let route = Route::TlsRouting {
            cluster: "lab.example".into(),
        };
        assert!(
            dialer(
                &target("auth.example", true),
                &issued.identity,
                &route,
                Options::default()
            )
            .is_ok()
        );
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

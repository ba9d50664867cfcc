//! The ALPN connection upgrade for a proxy behind an L7 load balancer (api/client
//! alpn_conn_upgrade.go, alpn_websocket.go): whether it is needed (Teleport's probe, or
//! `TELEPORT_TLS_ROUTING_CONN_UPGRADE`), and the transport that opens TLS to the web certificate,
//! upgrades `GET /webapi/connectionupgrade` to a WebSocket (`alpn-ping`) and carries the inner TLS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mwi_identity::tls::{
    self, AnyCertificate, BoxedIo, DialError, Opening, ServerCheck, Transport, WebCertificate,
};
use mwi_identity::websocket::{self, Role, WsStream};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::environment::{self, EnvVar};

/// Overrides the probe: `true`/`false`, or `ADDR=BOOL` items separated by `,` or `;`
/// (api/defaults `TLSRoutingConnUpgradeEnvVar`).
const ENV: EnvVar = environment::TELEPORT_TLS_ROUTING_CONN_UPGRADE;

/// How long the probe may take (Teleport's, in `IsALPNConnUpgradeRequired`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The upgrade path and the WebSocket subprotocol Teleport's clients ask for.
const PATH: &str = "/webapi/connectionupgrade";
const SUBPROTOCOL: &str = "alpn-ping";

/// The most of a response head read.
const MAX_HEAD: usize = 8 * 1024;

/// The reverse tunnel's ALPN protocol, which only a Teleport proxy negotiates: the probe offers
/// it alone (api/constants `ALPNSNIProtocolReverseTunnel`).
const PROBE_ALPN: &[u8] = b"teleport-reversetunnel";

/// The CA bundles Go looks for on Linux (crypto/x509 root_linux.go), in its order.
const CERT_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why the upgrade failed; each one line naming the address.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("the proxy at {addr} does not speak TLS ({detail})")]
    NotTls { addr: String, detail: String },
    #[error("the web certificate of the proxy at {addr} is not trusted: {detail}")]
    Untrusted { addr: String, detail: String },
    #[error("CA bundle {} from SSL_CERT_FILE: {reason}", .path.display())]
    Roots { path: PathBuf, reason: String },
    #[error(
        "no CA certificates to check the proxy's web certificate with (SSL_CERT_FILE unset or empty, no system bundle such as {})",
        CERT_FILES[0]
    )]
    NoRoots,
    #[error("TLS with the proxy at {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
    // Teleport's wording (api/client alpn_conn_upgrade.go).
    #[error(
        "the proxy at {addr}: connection upgrade call to \"{PATH}\" with upgrade type {SUBPROTOCOL} failed with status code 404. Please upgrade the server and try again."
    )]
    NotFound { addr: String },
    #[error(
        "the proxy at {addr} refused the connection upgrade: failed to switch Protocols {status}"
    )]
    Refused { addr: String, status: String },
    #[error("the proxy at {addr}: WebSocket handshake failed: {why}")]
    Handshake { addr: String, why: &'static str },
    #[error("the proxy at {addr} broke off the connection upgrade: {detail}")]
    Broken { addr: String, detail: String },
}

/// What `TELEPORT_TLS_ROUTING_CONN_UPGRADE` says for `addr`, if it is set: an `ADDR=BOOL` item
/// naming it decides, else the last bare `BOOL`, else no upgrade. As Teleport does, an item
/// matches when it contains `ADDR=`, and an unreadable BOOL counts as false.
pub fn required_by_env(addr: &str, value: &str) -> Option<bool> {
    if value.is_empty() {
        return None;
    }
    let mut all = false;
    for token in value.split([';', ',']).filter(|t| !t.is_empty()) {
        if token.contains('=') {
            if let Some((_, value)) = token.split_once(&format!("{addr}=")) {
                return Some(parse_bool(value).unwrap_or(false));
            }
        } else if let Some(value) = parse_bool(token) {
            all = value;
        }
    }
    Some(all)
}

/// Teleport's boolean words (api/utils `ParseBool`).
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "yeah" | "y" | "true" | "1" | "on" => Some(true),
        "no" | "nope" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// Whether the proxy at `addr` (`HOST:PORT`) needs the upgrade: the environment's say, else
/// Teleport's probe — TLS offering only `teleport-reversetunnel`; a Teleport proxy negotiates it,
/// an L7 load balancer answers "no application protocol" or negotiates none. Any other failure
/// means no upgrade (the route's own dial then says what is wrong). The probe sends nothing, so
/// it does not check the certificate; the upgrade's own TLS does.
pub async fn required(addr: &str) -> bool {
    if let Some(says) = ENV.get().and_then(|v| required_by_env(addr, &v)) {
        tracing::debug!(%addr, says, "{} decides the connection upgrade", ENV.name());
        return says;
    }
    let verdict = tokio::time::timeout(PROBE_TIMEOUT, probe(addr))
        .await
        .unwrap_or(false);
    tracing::debug!(%addr, verdict, "connection upgrade probe");
    verdict
}

async fn probe(addr: &str) -> bool {
    let Ok(name) = tls::server_name(addr) else {
        return false;
    };
    let Ok(tcp) = tls::tcp(addr).await else {
        return false;
    };
    let Ok(mut config) = insecure_config() else {
        return false;
    };
    config.alpn_protocols = vec![PROBE_ALPN.to_vec()];
    match tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
    {
        Ok(tls) => tls.get_ref().1.alpn_protocol().is_none(),
        Err(e) => matches!(
            tls::find_rustls_error(&e),
            Some(
                rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
                    | rustls::Error::PeerMisbehaved(
                        rustls::PeerMisbehaved::SelectedUnofferedApplicationProtocol
                    )
            )
        ),
    }
}

fn insecure_config() -> Result<ClientConfig, rustls::Error> {
    Ok(ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(AnyCertificate::new())
        .with_no_client_auth())
}

/// The roots the web certificate is checked against, as Go finds them on Linux: the file in
/// `SSL_CERT_FILE`, else the first system bundle that exists; plus every file in the
/// directories of `SSL_CERT_DIR` (`:`-separated) when set.
pub fn web_roots() -> Result<RootCertStore, UpgradeError> {
    roots_from(
        environment::SSL_CERT_FILE
            .get_os()
            .filter(|v| !v.is_empty()),
        environment::SSL_CERT_DIR.get_os(),
    )
}

fn roots_from(
    cert_file: Option<std::ffi::OsString>,
    cert_dirs: Option<std::ffi::OsString>,
) -> Result<RootCertStore, UpgradeError> {
    let mut roots = RootCertStore::empty();
    let add = |roots: &mut RootCertStore, pem: &[u8]| {
        roots.add_parsable_certificates(pem_certs(pem));
    };
    match cert_file {
        Some(path) => {
            let path = PathBuf::from(path);
            let pem = std::fs::read(&path).map_err(|e| UpgradeError::Roots {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            add(&mut roots, &pem);
        }
        None => {
            if let Some(pem) = CERT_FILES.iter().find_map(|f| std::fs::read(f).ok()) {
                add(&mut roots, &pem);
            }
        }
    }
    if let Some(dirs) = cert_dirs {
        for dir in std::env::split_paths(&dirs) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if let Ok(pem) = std::fs::read(entry.path()) {
                    add(&mut roots, &pem);
                }
            }
        }
    }
    Ok(roots)
}

fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// Opens TLS to the proxy's web certificate and upgrades it to a WebSocket for the inner TLS.
pub struct Upgrade {
    outer: tokio_rustls::TlsConnector,
}

impl Upgrade {
    /// The transport; `insecure` skips checking the web certificate (tctl's `--insecure`).
    pub fn new(insecure: bool) -> Result<Upgrade, UpgradeError> {
        let check = match insecure {
            true => ServerCheck::Verifier(AnyCertificate::new()),
            false => {
                let roots = web_roots()?;
                if roots.is_empty() {
                    return Err(UpgradeError::NoRoots);
                }
                ServerCheck::Roots(roots)
            }
        };
        let mut config = tls::client_config(check, None, None).map_err(|e| UpgradeError::Tls {
            addr: String::new(),
            detail: e.to_string(),
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Upgrade {
            outer: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    async fn upgrade(&self, addr: &str) -> Result<BoxedIo, DialError> {
        let failed = |e: UpgradeError| DialError::Transport {
            addr: addr.to_string(),
            source: Box::new(e),
        };
        let name = tls::server_name(addr).map_err(|detail| {
            failed(UpgradeError::Tls {
                addr: addr.to_string(),
                detail,
            })
        })?;
        let tcp = tls::tcp(addr).await?;
        let mut stream = self
            .outer
            .connect(name, tcp)
            .await
            .map_err(|e| failed(outer_failure(addr, &e)))?;
        let key = websocket::new_key();
        let request = format!(
            "GET {PATH} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: mwictl/{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        let broken = |e: std::io::Error| {
            failed(UpgradeError::Broken {
                addr: addr.to_string(),
                detail: e.to_string(),
            })
        };
        stream.write_all(request.as_bytes()).await.map_err(broken)?;
        stream.flush().await.map_err(broken)?;
        let mut head = Vec::with_capacity(512);
        let mut chunk = [0u8; 1024];
        let end = loop {
            if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if head.len() > MAX_HEAD {
                return Err(failed(UpgradeError::Broken {
                    addr: addr.to_string(),
                    detail: format!("an answer head over {MAX_HEAD} bytes"),
                }));
            }
            let n = stream.read(&mut chunk).await.map_err(broken)?;
            if n == 0 {
                return Err(failed(UpgradeError::Broken {
                    addr: addr.to_string(),
                    detail: "it closed the connection without an answer".into(),
                }));
            }
            head.extend_from_slice(&chunk[..n]);
        };
        let rest = head.split_off(end);
        let head = String::from_utf8_lossy(&head).into_owned();
        check_answer(addr, &head, &key).map_err(failed)?;
        tracing::debug!(%addr, "connection upgraded to a WebSocket ({SUBPROTOCOL})");
        Ok(Box::new(WsStream::new(stream, Role::Client, rest)))
    }
}

impl Transport for Upgrade {
    fn open<'a>(&'a self, addr: &'a str) -> Opening<'a> {
        Box::pin(self.upgrade(addr))
    }
}

/// A failed outer handshake: not TLS at all, a web certificate not trusted, or else.
fn outer_failure(addr: &str, e: &std::io::Error) -> UpgradeError {
    let addr = addr.to_string();
    match tls::find_rustls_error(e) {
        Some(rustls::Error::InvalidMessage(_)) => UpgradeError::NotTls {
            addr,
            detail: e.to_string(),
        },
        Some(err @ rustls::Error::InvalidCertificate(_)) => UpgradeError::Untrusted {
            addr,
            detail: match WebCertificate::find(err) {
                Some(web) => format!("{} ({})", web.cause, web.describe()),
                None => err.to_string(),
            },
        },
        _ => UpgradeError::Tls {
            addr,
            detail: e.to_string(),
        },
    }
}

/// Checks the answer to the upgrade: 101 to a WebSocket with our subprotocol and accept key.
fn check_answer(addr: &str, head: &str, key: &str) -> Result<(), UpgradeError> {
    let status_line = head.lines().next().unwrap_or("").trim();
    let status = status_line.split(' ').nth(1).unwrap_or("");
    match status {
        "101" => {}
        "404" => {
            return Err(UpgradeError::NotFound {
                addr: addr.to_string(),
            });
        }
        _ => {
            return Err(UpgradeError::Refused {
                addr: addr.to_string(),
                status: tls::printable(&status_line.chars().take(60).collect::<String>()),
            });
        }
    }
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let handshake = |why| UpgradeError::Handshake {
        addr: addr.to_string(),
        why,
    };
    if !header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(handshake("the answer is no WebSocket upgrade"));
    }
    if header("Sec-WebSocket-Protocol") != Some(SUBPROTOCOL) {
        return Err(handshake("Sec-WebSocket-Protocol does not match"));
    }
    if header("Sec-WebSocket-Accept") != Some(websocket::accept_key(key).as_str()) {
        return Err(handshake("invalid Sec-WebSocket-Accept"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_as_teleport_reads_it() {
        let addr = "proxy.example.com:443";
        for (value, want) in [
            ("", None),
            ("true", Some(true)),
            ("yes", Some(true)),
            ("0", Some(false)),
            ("nonsense", Some(false)),
            ("proxy.example.com:443=yes", Some(true)),
            ("proxy.example.com:443=1;other:443=0", Some(true)),
            ("other:443=1,proxy.example.com:443=off", Some(false)),
            ("true,proxy.example.com:443=false", Some(false)),
            ("other:443=true", Some(false)),
            ("other:443=true;1", Some(true)),
            ("proxy.example.com:443=maybe,1", Some(false)),
        ] {
            assert_eq!(required_by_env(addr, value), want, "{value:?}");
        }
    }

    fn answer(lines: &[&str]) -> String {
        let mut head = lines.join("\r\n");
        head.push_str("\r\n\r\n");
        head
    }

    #[test]
    fn the_answer_must_be_a_websocket_with_our_subprotocol_and_key() {
        let key = websocket::new_key();
        let accept = format!("Sec-WebSocket-Accept: {}", websocket::accept_key(&key));
        let ok = answer(&[
            "HTTP/1.1 101 Switching Protocols",
            "upgrade: WebSocket",
            "Connection: Upgrade",
            &accept,
            "Sec-WebSocket-Protocol: alpn-ping",
        ]);
        check_answer("p:443", &ok, &key).unwrap();

        let not_found = check_answer("p:443", &answer(&["HTTP/1.1 404 Not Found"]), &key);
        assert_eq!(
            not_found.unwrap_err().to_string(),
            "the proxy at p:443: connection upgrade call to \"/webapi/connectionupgrade\" with upgrade type alpn-ping failed with status code 404. Please upgrade the server and try again."
        );
        let refused = check_answer("p:443", &answer(&["HTTP/1.1 400 Bad Request"]), &key)
            .unwrap_err()
            .to_string();
        assert!(
            refused.ends_with("failed to switch Protocols HTTP/1.1 400 Bad Request"),
            "{refused}"
        );

        let legacy = answer(&["HTTP/1.1 101 Switching Protocols", "Upgrade: alpn-ping"]);
        let wrong_protocol = answer(&[
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            &accept,
            "Sec-WebSocket-Protocol: alpn",
        ]);
        let wrong_key = answer(&[
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Sec-WebSocket-Accept: AAAA",
            "Sec-WebSocket-Protocol: alpn-ping",
        ]);
        for (head, says) in [
            (legacy, "no WebSocket upgrade"),
            (wrong_protocol, "Sec-WebSocket-Protocol does not match"),
            (wrong_key, "invalid Sec-WebSocket-Accept"),
        ] {
            let err = check_answer("p:443", &head, &key).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains("p:443"), "{err}");
        }
    }

    #[test]
    fn the_bundle_is_ssl_cert_file_and_an_unreadable_one_is_named() {
        let err = roots_from(Some("/nonexistent/bundle.pem".into()), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("CA bundle /nonexistent/bundle.pem from SSL_CERT_FILE: "),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["ca.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, format!("junk\n{}", ca.pem())).unwrap();
        let roots = roots_from(Some(file.into_os_string()), None).unwrap();
        assert_eq!(roots.len(), 1);
        let both = roots_from(
            Some(dir.path().join("ca.pem").into_os_string()),
            Some(dir.path().as_os_str().to_owned()),
        )
        .unwrap();
        assert_eq!(both.len(), 2, "the directory's files are added");
    }
}

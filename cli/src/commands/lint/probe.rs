//! `lint --on-host`'s question to an `auth_server` address: does a Teleport proxy answer
//! `https://ADDRESS/webapi/find` there? One HTTPS GET with short timeouts.
//!
//! The certificate is not verified: the answer only tells "a Teleport proxy answered" from
//! "something else did" (a Teleport proxy's web certificate is often from a CA this host does not
//! trust, or for a load balancer's name), and nothing is sent but the request line.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use mwi_diag::lint::ProxyProbe;
use mwi_identity::tls::{self, AnyCertificate};
use rustls::pki_types::ServerName;

/// How long connecting, and then each read or write, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The most of the answer read: `/webapi/find` answers with a few hundred bytes of JSON.
const MAX_ANSWER: u64 = 64 * 1024;

/// What answered at `https://ADDRESS/webapi/find` (port 443 when the address has none).
pub fn webapi_find(address: &str) -> ProxyProbe {
    match get(address) {
        Ok(answer) => read_answer(&answer),
        Err(why) => ProxyProbe::NoAnswer(why),
    }
}

/// `host` and `port` of `ADDRESS`, `[v6]:port`, or a bare host (443).
fn host_port(address: &str) -> Result<(String, u16), String> {
    let address = address.trim();
    let address = address.strip_prefix("https://").unwrap_or(address);
    let address = address.split('/').next().unwrap_or(address);
    let parse_port = |port: &str| {
        port.parse::<u16>()
            .map_err(|_| format!("`{address}` is not HOST:PORT"))
    };
    if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest.split_once(']').ok_or("an unclosed `[`")?;
        let port = match port.strip_prefix(':') {
            Some(port) => parse_port(port)?,
            None => 443,
        };
        return Ok((host.to_string(), port));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host.to_string(), parse_port(port)?)),
        _ => Ok((address.to_string(), 443)),
    }
}

/// The raw HTTP answer to `GET /webapi/find`.
fn get(address: &str) -> Result<Vec<u8>, String> {
    let (host, port) = host_port(address)?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} has no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) => last = format!("connect to {addr}: {e}"),
        }
    }
    let mut tcp = tcp.ok_or(last)?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(AnyCertificate::new())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
    let mut tls =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| format!("TLS: {e}"))?;
    let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
    let request = format!(
        "GET /webapi/find HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nUser-Agent: mwictl-lint\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("TLS: {e}"))?;
    let mut answer = Vec::new();
    match stream.take(MAX_ANSWER).read_to_end(&mut answer) {
        Ok(_) => {}
        // Servers that close without close_notify still gave their answer.
        Err(_) if !answer.is_empty() => {}
        Err(e) => return Err(format!("TLS: {e}")),
    }
    Ok(answer)
}

/// The most of a server's words (status line, cluster name, version) a report repeats.
const MAX_SHOWN: usize = 120;

/// A server's words as the report shows them: control characters escaped, at most
/// [`MAX_SHOWN`] characters.
fn shown(text: &str) -> String {
    let text: String = text.chars().take(MAX_SHOWN).collect();
    tls::printable(&text)
}

/// A Teleport proxy answers 200 with JSON holding `proxy` and `server_version`.
fn read_answer(answer: &[u8]) -> ProxyProbe {
    let text = String::from_utf8_lossy(answer);
    let status = shown(text.lines().next().unwrap_or("").trim());
    if !status.starts_with("HTTP/") {
        return ProxyProbe::NotProxy("not an HTTP server".to_string());
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    // A chunked body has size lines around the JSON: take the outermost braces.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if start < end => &body[start..=end],
        _ => "",
    };
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let ok = status.split_whitespace().nth(1) == Some("200");
    if !ok || value.get("proxy").is_none() {
        let what = if ok {
            "no Teleport proxy settings in the answer".to_string()
        } else {
            status
        };
        return ProxyProbe::NotProxy(what);
    }
    let field = |key: &str| shown(value.get(key).and_then(|v| v.as_str()).unwrap_or(""));
    let mut what = Vec::new();
    if !field("cluster_name").is_empty() {
        what.push(format!("cluster {}", field("cluster_name")));
    }
    if !field("server_version").is_empty() {
        what.push(format!("Teleport {}", field("server_version")));
    }
    if what.is_empty() {
        what.push("a Teleport proxy".to_string());
    }
    ProxyProbe::Proxy(what.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_443() {
        assert_eq!(
            host_port("p.example.com"),
            Ok(("p.example.com".into(), 443))
        );
        assert_eq!(
            host_port("p.example.com:3080"),
            Ok(("p.example.com".into(), 3080))
        );
        assert_eq!(host_port("[::1]:8443"), Ok(("::1".into(), 8443)));
        assert_eq!(host_port("https://p:8443/"), Ok(("p".into(), 8443)));
        assert!(host_port("p:x").is_err());
    }

    #[test]
    fn a_teleport_answer_names_cluster_and_version() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"auth\":{},\"proxy\":{\"tls_routing_enabled\":true},\"server_version\":\"17.4.2\",\"cluster_name\":\"example.com\"}";
        assert_eq!(
            read_answer(answer),
            ProxyProbe::Proxy("cluster example.com, Teleport 17.4.2".into())
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n{\"proxy\":{},\"auth\":{}}\r\n0\r\n\r\n";
        assert_eq!(
            read_answer(chunked),
            ProxyProbe::Proxy("a Teleport proxy".into())
        );
    }

    #[test]
    fn other_answers_say_what_they_were() {
        assert_eq!(
            read_answer(b"HTTP/1.1 404 Not Found\r\n\r\nnope"),
            ProxyProbe::NotProxy("HTTP/1.1 404 Not Found".into())
        );
        assert_eq!(
            read_answer(b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"ok\"}"),
            ProxyProbe::NotProxy("no Teleport proxy settings in the answer".into())
        );
        assert_eq!(
            read_answer(b"\x15\x03\x01"),
            ProxyProbe::NotProxy("not an HTTP server".into())
        );
    }

    #[test]
    fn a_servers_words_are_shown_short_and_without_control_characters() {
        let long = "x".repeat(5000);
        let answer = format!(
            "HTTP/1.1 200 OK\r\n\r\n{{\"proxy\":{{}},\"cluster_name\":\"evil\\u001b[31m\",\"server_version\":\"{long}\"}}"
        );
        let ProxyProbe::Proxy(what) = read_answer(answer.as_bytes()) else {
            panic!("a proxy answered");
        };
        assert!(!what.chars().any(char::is_control), "{what:?}");
        assert!(what.contains("evil\\u{1b}[31m"), "{what:?}");
        assert!(what.len() < 300, "{}", what.len());
    }

    #[test]
    fn mutated_answers_never_panic_and_never_print_control_characters() {
        let base = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5a\r\n{\"auth\":{\"type\":\"local\"},\"proxy\":{\"tls_routing_enabled\":true},\"server_version\":\"17.4.2\",\"cluster_name\":\"a\"}\r\n0\r\n\r\n";
        crate::testing::for_each_mutation(base, 3000, |text| {
            let words = match read_answer(text.as_bytes()) {
                ProxyProbe::Proxy(w) | ProxyProbe::NotProxy(w) | ProxyProbe::NoAnswer(w) => w,
            };
            assert!(
                !words.chars().any(char::is_control),
                "{text:?} -> {words:?}"
            );
        });
    }

    #[test]
    fn nothing_listening_is_no_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(matches!(
            webapi_find(&format!("127.0.0.1:{port}")),
            ProxyProbe::NoAnswer(_)
        ));
    }
}

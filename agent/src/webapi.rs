//! A proxy's `GET /webapi/find`, as tbot asks it (api/client/webclient `Find`): HTTPS to the
//! proxy's web address, its certificate checked against the web CAs (or not, when insecure).
//! Failures read like Go's `net/http` (`Get "https://…/webapi/find": dial tcp …`).

use std::time::Duration;

use mwi_identity::tls::{self, AnyCertificate, HttpsGet, HttpsGetError};

use crate::connect;
use crate::settings::WebTrust;

/// How long the whole question (connect, TLS, request, answer) may take.
const FIND_TIMEOUT: Duration = Duration::from_secs(5);

/// `/webapi/find` answers with a few hundred bytes of JSON.
const MAX_ANSWER: u64 = 64 * 1024;

/// What a proxy says about itself (webclient.PingResponse, the fields the agent uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub cluster_name: String,
    /// `proxy.tls_routing_enabled`.
    pub tls_routing: bool,
    /// `proxy.ssh.public_addr`: the proxy's public web address, which tbot connects to
    /// (lib/tbot/tbot.go `proxyWebAddr`); may be empty.
    pub public_addr: String,
    /// `auth.signature_algorithm_suite` by name (`legacy`, `balanced-v1`, `fips-v1`, `hsm-v1`);
    /// empty when unspecified.
    pub signature_algorithm_suite: String,
}

/// The name of a `types.SignatureAlgorithmSuite`, which JSON carries as its number.
fn suite_name(value: &serde_json::Value) -> String {
    match value.as_u64() {
        Some(1) => "legacy".into(),
        Some(2) => "balanced-v1".into(),
        Some(3) => "fips-v1".into(),
        Some(4) => "hsm-v1".into(),
        _ => value.as_str().unwrap_or_default().to_string(),
    }
}

/// Asks the proxy at `addr` (`HOST:PORT`). The error is one line in Go's words.
pub async fn find(addr: &str, trust: &WebTrust) -> Result<Pong, String> {
    let url = format!("https://{addr}/webapi/find");
    let answer = tokio::time::timeout(FIND_TIMEOUT, get(addr, trust))
        .await
        .map_err(|_| {
            format!("Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
        })?
        .map_err(|e| format!("Get {url:?}: {e}"))?;
    read_answer(&url, &answer)
}

async fn get(addr: &str, trust: &WebTrust) -> Result<Vec<u8>, String> {
    if tls::host(addr).is_empty() {
        return Err("http: no Host in request URL".into());
    }
    let name = tls::server_name(addr)?;
    let builder = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match trust {
        WebTrust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(AnyCertificate::new())
            .with_no_client_auth(),
        WebTrust::CaFile(path) => {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("the web CA file {} cannot be read: {e}", path.display()))?;
            let roots = tls::roots_from_pem(&[pem])
                .map_err(|e| format!("the web CA file {}: {e}", path.display()))?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        WebTrust::Unset => {
            return Err("no CA to verify the proxy's web certificate: run the agent with `mwictl lab bot` and a saved lab (it trusts the lab's web CA), or set insecure: true (lab only)".into());
        }
    };
    HttpsGet {
        addr,
        name,
        path: "/webapi/find",
        user_agent: "tbot (mwictl lab agent)",
        max_answer: MAX_ANSWER,
    }
    .send(config)
    .await
    .map_err(|e| match e {
        HttpsGetError::Dial(e) => dial_text(addr, &e),
        HttpsGetError::Handshake(e) => connect::describe(&e),
        HttpsGetError::Exchange(e) => e.to_string(),
    })
}

/// A TCP dial failure in Go's words: `dial tcp ADDR: connect: connection refused`, or for a
/// name that does not resolve, `dial tcp: lookup HOST: no such host`.
pub fn dial_text(addr: &str, err: &std::io::Error) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {addr}: connect: connection refused")
        }
        _ if err.to_string().contains("lookup") || err.to_string().contains("not known") => {
            format!("dial tcp: lookup {host}: no such host")
        }
        _ => format!("dial tcp {addr}: {err}"),
    }
}

fn read_answer(url: &str, answer: &[u8]) -> Result<Pong, String> {
    let text = String::from_utf8_lossy(answer);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let base = url.trim_end_matches("/webapi/find");
    let not_teleport = || format!("cannot parse server response; is {base:?} a Teleport server?");
    let json: serde_json::Value = serde_json::from_str(body.trim()).map_err(|_| not_teleport())?;
    let proxy = json
        .get("proxy")
        .filter(|p| p.is_object())
        .ok_or_else(not_teleport)?;
    Ok(Pong {
        cluster_name: json["cluster_name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        tls_routing: proxy["tls_routing_enabled"].as_bool() == Some(true),
        public_addr: proxy["ssh"]["public_addr"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        signature_algorithm_suite: suite_name(&json["auth"]["signature_algorithm_suite"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_gives_the_cluster_routing_and_public_address() {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"cluster_name\":\"lab\",\"proxy\":{\"ssh\":{\"public_addr\":\"proxy.example.com:443\"},\"tls_routing_enabled\":true}}";
        assert_eq!(
            read_answer("https://p:1/webapi/find", answer),
            Ok(Pong {
                cluster_name: "lab".into(),
                tls_routing: true,
                public_addr: "proxy.example.com:443".into(),
                signature_algorithm_suite: String::new(),
            })
        );
        let answer =
            b"HTTP/1.1 200 OK\r\n\r\n{\"auth\":{\"signature_algorithm_suite\":3},\"proxy\":{}}";
        let pong = read_answer("https://p:1/webapi/find", answer).unwrap();
        assert_eq!(pong.signature_algorithm_suite, "fips-v1");
        let err =
            read_answer("https://p:1/webapi/find", b"HTTP/1.1 200 OK\r\n\r\n<html>").unwrap_err();
        assert_eq!(
            err,
            "cannot parse server response; is \"https://p:1\" a Teleport server?"
        );
    }

    #[tokio::test]
    async fn a_closed_port_and_an_unknown_name_read_like_go() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = find(&addr, &WebTrust::Insecure).await.unwrap_err();
        assert_eq!(
            err,
            format!(
                "Get \"https://{addr}/webapi/find\": dial tcp {addr}: connect: connection refused"
            )
        );
        let err = find("proxy.lab.invalid:3080", &WebTrust::Insecure)
            .await
            .unwrap_err();
        assert!(
            err.ends_with("dial tcp: lookup proxy.lab.invalid: no such host"),
            "{err}"
        );
        let err = find(":443", &WebTrust::Insecure).await.unwrap_err();
        assert!(err.ends_with("http: no Host in request URL"), "{err}");
    }
}

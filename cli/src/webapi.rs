//! A Teleport proxy's `GET /webapi/find`, asked over HTTPS with bounded timeouts: which cluster
//! it serves and whether it routes TLS. The answer only chooses the route and words errors; the
//! connection to auth inside is checked against the identity's CA, so the web certificate is
//! not verified here (Teleport's own discovery skips it only when asked; nothing secret is sent).

use std::time::Duration;

use mwi_identity::tls::{self, AnyCertificate, HttpsGet, HttpsGetError};

/// How long the whole question (connect, TLS, request, answer) may take.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(5);

/// `/webapi/find` answers with a few hundred bytes of JSON.
const MAX_ANSWER: u64 = 64 * 1024;

/// What a Teleport proxy says about itself (webclient.PingResponse, the fields used here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Find {
    pub cluster_name: String,
    /// `proxy.tls_routing_enabled`.
    pub tls_routing: bool,
}

/// Why no Teleport proxy answered; each names what answered instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    #[error("it does not speak TLS ({0})")]
    NotTls(String),
    #[error("{0}")]
    NoAnswer(String),
    #[error("https://{addr}/webapi/find answered {what}, not a Teleport proxy's JSON")]
    NotTeleport { addr: String, what: String },
}

/// Asks `addr` (`HOST:PORT`).
pub async fn find(addr: &str) -> Result<Find, FindError> {
    let answer = tokio::time::timeout(FIND_TIMEOUT, get(addr))
        .await
        .map_err(|_| {
            FindError::NoAnswer(format!("no answer within {}s", FIND_TIMEOUT.as_secs()))
        })??;
    read_answer(addr, &answer)
}

async fn get(addr: &str) -> Result<Vec<u8>, FindError> {
    let name = tls::server_name(addr).map_err(FindError::NoAnswer)?;
    let config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| FindError::NoAnswer(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(AnyCertificate::new())
        .with_no_client_auth();
    HttpsGet {
        addr,
        name,
        path: "/webapi/find",
        user_agent: "mwictl",
        max_answer: MAX_ANSWER,
    }
    .send(config)
    .await
    .map_err(|e| match e {
        HttpsGetError::Handshake(e) => match tls::find_rustls_error(&e) {
            Some(rustls::Error::InvalidMessage(_)) => FindError::NotTls(e.to_string()),
            _ => FindError::NoAnswer(format!("TLS: {e}")),
        },
        HttpsGetError::Dial(e) | HttpsGetError::Exchange(e) => FindError::NoAnswer(e.to_string()),
    })
}

/// A Teleport proxy answers 200 with JSON naming its cluster and its proxy settings.
fn read_answer(addr: &str, answer: &[u8]) -> Result<Find, FindError> {
    let text = String::from_utf8_lossy(answer);
    let status: String = text
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(60)
        .collect();
    let not_teleport = |what: String| FindError::NotTeleport {
        addr: addr.to_string(),
        what: tls::printable(&what),
    };
    if !status.starts_with("HTTP/") {
        return Err(not_teleport("something that is not HTTP".into()));
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json: serde_json::Value =
        serde_json::from_str(body.trim()).map_err(|_| not_teleport(format!("{status:?}")))?;
    let cluster = json["cluster_name"].as_str().filter(|c| !c.is_empty());
    match (cluster, json["proxy"].is_object()) {
        (Some(cluster), true) => Ok(Find {
            cluster_name: cluster.to_string(),
            tls_routing: json["proxy"]["tls_routing_enabled"].as_bool() == Some(true),
        }),
        _ => Err(not_teleport(format!("{status:?} with other JSON"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teleport_answer_names_the_cluster_and_tls_routing() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"cluster_name\":\"lab\",\"proxy\":{\"tls_routing_enabled\":true}}";
        assert_eq!(
            read_answer("a:1", ok.as_bytes()).unwrap(),
            Find {
                cluster_name: "lab".into(),
                tls_routing: true
            }
        );
        let off = "HTTP/1.1 200 OK\r\n\r\n{\"cluster_name\":\"lab\",\"proxy\":{}}";
        assert!(!read_answer("a:1", off.as_bytes()).unwrap().tls_routing);
    }

    #[test]
    fn other_answers_are_named_in_one_line() {
        for (answer, says) in [
            (
                "HTTP/1.1 404 Not Found\r\n\r\n<html>nope</html>",
                "\"HTTP/1.1 404 Not Found\"",
            ),
            ("HTTP/1.1 200 OK\r\n\r\n{\"a\":1}", "with other JSON"),
            ("SSH-2.0-OpenSSH\r\n", "not HTTP"),
            ("", "not HTTP"),
            (
                "HTTP/1.1 200 OK\r\n\r\n{\"cluster_name\":\"\",\"proxy\":{}}",
                "other JSON",
            ),
        ] {
            let err = read_answer("a:1", answer.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(says) && !err.contains('\n'),
                "{answer:?}: {err}"
            );
            assert!(err.contains("https://a:1/webapi/find"), "{err}");
        }
    }
}

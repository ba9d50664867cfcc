//! The lab proxy's web side: `GET /webapi/find` and `/webapi/ping` (also under `/v1/`) with the
//! JSON shape of Teleport's webclient PingResponse (api/client/webclient/webclient.go), over
//! HTTP/1.1, one request per connection, with bounded reads; `/webapi/connectionupgrade` is
//! handed back to the caller.

use std::io;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most of a request head read; a webapi GET needs a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the proxy advertises.
#[derive(Debug, Clone)]
pub(crate) struct Info {
    pub cluster: String,
    pub server_version: String,
    /// The address it listens on.
    pub web_listen_addr: String,
    /// The address it tells clients to use (`--proxy-public-addr`, else the listen address).
    pub public_addr: String,
}

/// The proxy settings both answers carry. `ssh.public_addr` is the web public address, as in
/// Teleport; with TLS routing the tunnel rides the web port too.
fn proxy_settings(info: &Info) -> Value {
    json!({
        "kube": {"enabled": false},
        "ssh": {
            "listen_addr": info.web_listen_addr,
            "tunnel_listen_addr": info.web_listen_addr,
            "web_listen_addr": info.web_listen_addr,
            "public_addr": info.public_addr,
            "ssh_public_addr": info.public_addr,
            "ssh_tunnel_public_addr": info.public_addr,
            "dial_timeout": 30_000_000_000u64,
        },
        "db": {},
        "tls_routing_enabled": true,
    })
}

fn common(info: &Info, auth: Value) -> Value {
    json!({
        "auth": auth,
        "proxy": proxy_settings(info),
        "server_version": info.server_version,
        "min_client_version": "17.0.0",
        "cluster_name": info.cluster,
        "auto_update": {"tools_auto_update": false, "agent_auto_update": false},
        "edition": "community",
        "fips": false,
    })
}

/// `/webapi/find`: the cached answer, whose auth part says only the signature suite.
pub(crate) fn find(info: &Info) -> Value {
    common(info, json!({"signature_algorithm_suite": 1}))
}

/// `/webapi/ping`: local users, second factor optional.
pub(crate) fn ping(info: &Info) -> Value {
    common(
        info,
        json!({
            "type": "local",
            "second_factor": "on",
            "preferred_local_mfa": "webauthn",
            "local": {"name": ""},
            "private_key_policy": "none",
            "device_trust": {"disabled": true},
            "has_motd": false,
            "load_all_cas": false,
            "signature_algorithm_suite": 1,
        }),
    )
}

/// The status and JSON body for a request line's method and target.
pub(crate) fn route(info: &Info, method: &str, target: &str) -> (u16, Value) {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let answer = match path.trim_end_matches('/') {
        "/webapi/find" => find(info),
        "/webapi/ping" => ping(info),
        p if p.starts_with("/webapi/ping/") => ping(info),
        _ => return (404, error("not found")),
    };
    match method {
        "GET" => (200, answer),
        _ => (405, error("method not allowed")),
    }
}

fn error(message: &str) -> Value {
    json!({"error": {"message": message}})
}

/// Where Teleport's proxy serves the ALPN connection upgrade (api/constants `WebAPIConnUpgrade`).
pub(crate) const CONN_UPGRADE_PATH: &str = "/webapi/connectionupgrade";

/// What became of a request.
#[derive(Debug)]
pub(crate) enum Request<S> {
    /// Answered, and the connection closed.
    Answered,
    /// A `GET /webapi/connectionupgrade`, not answered yet: its head and the bytes after it.
    Upgrade {
        stream: S,
        head: String,
        rest: Vec<u8>,
    },
}

/// An HTTP/1.1 answer with a Teleport-style JSON error body, closing the connection.
pub(crate) fn error_response(status: u16, message: &str) -> String {
    response(status, &error(message).to_string())
}

fn response(status: u16, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Answers one request on `stream`, then closes it; an upgrade request is handed back.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    info: &Info,
) -> io::Result<Request<S>> {
    let head = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(head) => head?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request in time",
            ));
        }
    };
    let (status, body) = match request_line(&head) {
        Some(("GET", target)) if target.split('?').next() == Some(CONN_UPGRADE_PATH) => {
            let end = head
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(head.len(), |at| at + 4);
            let rest = head[end..].to_vec();
            let head = String::from_utf8_lossy(&head[..end]).into_owned();
            return Ok(Request::Upgrade { stream, head, rest });
        }
        Some((method, target)) => route(info, method, target),
        None => (400, error("bad request")),
    };
    stream
        .write_all(response(status, &body.to_string()).as_bytes())
        .await?;
    stream.shutdown().await?;
    Ok(Request::Answered)
}

/// The request head up to its blank line, at most [`MAX_HEAD`] bytes.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// The method and target of an HTTP/1.x request line.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && version.starts_with("HTTP/1.")).then_some((method, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info {
            cluster: "lab".into(),
            server_version: "18.0.0+lab".into(),
            web_listen_addr: "127.0.0.1:3080".into(),
            public_addr: "proxy.example.com:443".into(),
        }
    }

    #[test]
    fn find_and_ping_carry_teleports_fields() {
        for target in [
            "/webapi/find",
            "/v1/webapi/find?group=a",
            "/webapi/ping",
            "/webapi/ping/github",
        ] {
            let (status, body) = route(&info(), "GET", target);
            assert_eq!(status, 200, "{target}");
            assert_eq!(body["cluster_name"], "lab");
            assert_eq!(body["server_version"], "18.0.0+lab");
            assert_eq!(body["proxy"]["tls_routing_enabled"], true);
            assert_eq!(body["proxy"]["ssh"]["public_addr"], "proxy.example.com:443");
            assert_eq!(body["proxy"]["ssh"]["web_listen_addr"], "127.0.0.1:3080");
        }
        assert_eq!(
            route(&info(), "GET", "/webapi/ping").1["auth"]["type"],
            "local"
        );
        assert_eq!(route(&info(), "GET", "/nope").0, 404);
        assert_eq!(route(&info(), "POST", "/webapi/find").0, 405);
    }

    #[test]
    fn request_lines_are_read_or_refused() {
        assert_eq!(
            request_line(b"GET /webapi/find HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/webapi/find"))
        );
        for bad in [
            &b""[..],
            b"GET\r\n",
            b"GET / SPDY\r\n",
            b"\xff\xfe / HTTP/1.1\r\n",
            b"A B HTTP/1.1 x\r\n",
        ] {
            assert_eq!(request_line(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn one_request_gets_one_json_answer_and_a_long_head_is_refused() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(async move { serve(server, &info()).await });
        client
            .write_all(b"GET /webapi/find HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        task.await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        let json: Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["cluster_name"], "lab");

        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(async move { serve(server, &info()).await });
        client.write_all(&[b'a'; MAX_HEAD + 2048]).await.unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

//! The lab proxy's `GET /webapi/connectionupgrade`, as Teleport's proxy answers it
//! (lib/web/conn_upgrade.go): a WebSocket (subprotocol `alpn` or `alpn-ping`, pinged) or the
//! legacy `Upgrade: alpn`/`alpn-ping` forms, whose stream carries an inner TLS to route by ALPN.

use std::io;
use std::time::Duration;

use mwi_identity::tls::{BoxedIo, Primed};
use mwi_identity::websocket::{self, Role, WsStream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// The WebSocket subprotocols (and legacy upgrade types) Teleport accepts.
pub(crate) const ALPN: &str = "alpn";
pub(crate) const ALPN_PING: &str = "alpn-ping";
const WEBSOCKET: &str = "websocket";

/// How often the proxy pings an `alpn-ping` connection (Teleport's `defaults.ProxyPingInterval`,
/// lib/defaults). The lab also pings at once, so every upgraded connection exercises the
/// client's pong.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Unanswered pings in a row after which the lab ends the connection (Teleport only logs).
const PING_LIMIT: u32 = 3;

/// What the request asks for, in Teleport's order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    WebSocket,
    /// The legacy forms (Teleport removes them in v19): a raw stream, or one framed as u32
    /// big-endian length + payload with empty frames as pings.
    Legacy(&'static str),
}

/// The answer to an upgrade request the lab refuses: status and message.
pub(crate) type Refusal = (u16, String);

/// The header values of `name` (case-insensitive), each comma-separated item on its own.
pub(crate) fn header_values<'h>(head: &'h str, name: &str) -> Vec<&'h str> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Picks the upgrade from `Upgrade` and `X-Teleport-Upgrade`: WebSocket first, then the legacy
/// `alpn-ping`, then `alpn`; anything else is Teleport's NotFound.
pub(crate) fn select(head: &str) -> Result<Kind, Refusal> {
    let mut offered = header_values(head, "X-Teleport-Upgrade");
    offered.extend(header_values(head, "Upgrade"));
    let has = |t: &str| offered.iter().any(|o| o.eq_ignore_ascii_case(t));
    if has(WEBSOCKET) {
        Ok(Kind::WebSocket)
    } else if has(ALPN_PING) {
        Ok(Kind::Legacy(ALPN_PING))
    } else if has(ALPN) {
        Ok(Kind::Legacy(ALPN))
    } else {
        Err((
            404,
            format!("unsupported upgrade types: [{}]", offered.join(" ")),
        ))
    }
}

/// The 101 answer to a WebSocket upgrade, and the subprotocol chosen (the client's first one
/// the proxy knows; none means the proxy closes right after, as Teleport does).
pub(crate) fn websocket_answer(head: &str) -> Result<(String, Option<&'static str>), Refusal> {
    let key = header_values(head, "Sec-WebSocket-Key");
    let [key] = key.as_slice() else {
        return Err((
            400,
            "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing or blank"
                .into(),
        ));
    };
    if !header_values(head, "Sec-WebSocket-Version").contains(&"13") {
        return Err((
            400,
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header".into(),
        ));
    }
    let protocol = header_values(head, "Sec-WebSocket-Protocol")
        .into_iter()
        .find_map(|p| [ALPN, ALPN_PING].into_iter().find(|known| *known == p));
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        websocket::accept_key(key)
    );
    if let Some(p) = protocol {
        answer.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    answer.push_str("\r\n");
    Ok((answer, protocol))
}

/// The legacy 101 answer, echoing the type in both headers.
pub(crate) fn legacy_answer(kind: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: {kind}\r\nX-Teleport-Upgrade: {kind}\r\nConnection: Upgrade\r\n\r\n"
    )
}

/// Answers the upgrade request whose head is `head` (`rest`: bytes after it) on `stream`, and
/// returns the stream the inner TLS rides in, or `None` when the request was refused (answered).
pub(crate) async fn accept<S>(
    mut stream: S,
    head: &str,
    rest: Vec<u8>,
) -> io::Result<Option<BoxedIo>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let refuse = |(status, message): Refusal| super::web::error_response(status, &message);
    match select(head) {
        Err(refusal) => {
            stream.write_all(refuse(refusal).as_bytes()).await?;
            stream.shutdown().await?;
            Ok(None)
        }
        Ok(Kind::WebSocket) => match websocket_answer(head) {
            Err(refusal) => {
                stream.write_all(refuse(refusal).as_bytes()).await?;
                stream.shutdown().await?;
                Ok(None)
            }
            Ok((answer, protocol)) => {
                stream.write_all(answer.as_bytes()).await?;
                stream.flush().await?;
                let ws = WsStream::new(stream, Role::Server, rest);
                match protocol {
                    Some(ALPN_PING) => Ok(Some(Box::new(ws.with_pings(PING_INTERVAL, PING_LIMIT)))),
                    Some(_) => Ok(Some(Box::new(ws))),
                    None => Ok(None),
                }
            }
        },
        Ok(Kind::Legacy(kind)) if kind == ALPN => {
            stream.write_all(legacy_answer(kind).as_bytes()).await?;
            stream.flush().await?;
            Ok(Some(Box::new(Primed::new(rest, stream))))
        }
        Ok(Kind::Legacy(kind)) => {
            let message =
                format!("the lab proxy does not serve the legacy {kind} upgrade; use a WebSocket");
            stream.write_all(refuse((400, message)).as_bytes()).await?;
            stream.shutdown().await?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn request(headers: &[&str]) -> String {
        let mut head = "GET /webapi/connectionupgrade HTTP/1.1\r\nHost: proxy\r\n".to_string();
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head
    }

    #[test]
    fn websocket_is_preferred_then_the_legacy_types() {
        let teleport_client = request(&[
            "Upgrade: websocket",
            "Upgrade: alpn-ping",
            "X-Teleport-Upgrade: alpn-ping",
            "Connection: Upgrade",
        ]);
        assert_eq!(select(&teleport_client), Ok(Kind::WebSocket));
        assert_eq!(
            select(&request(&[
                "X-Teleport-Upgrade: alpn",
                "Upgrade: alpn-ping"
            ])),
            Ok(Kind::Legacy(ALPN_PING))
        );
        assert_eq!(select(&request(&["upgrade: ALPN"])), Ok(Kind::Legacy(ALPN)));
        let (status, message) = select(&request(&["Upgrade: h2c"])).unwrap_err();
        assert_eq!(
            (status, message.as_str()),
            (404, "unsupported upgrade types: [h2c]")
        );
        assert_eq!(select(&request(&[])).unwrap_err().0, 404);
    }

    #[test]
    fn the_websocket_answer_echoes_the_subprotocol_and_the_accept_key() {
        let head = request(&[
            "Upgrade: websocket",
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: alpn-ping",
        ]);
        let (answer, protocol) = websocket_answer(&head).unwrap();
        assert_eq!(protocol, Some(ALPN_PING));
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.contains("Sec-WebSocket-Protocol: alpn-ping\r\n"));
        assert!(answer.ends_with("\r\n\r\n"));

        let other = request(&[
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: chat, superchat",
        ]);
        let (answer, protocol) = websocket_answer(&other).unwrap();
        assert_eq!(protocol, None);
        assert!(!answer.contains("Sec-WebSocket-Protocol"));

        let no_key = request(&["Sec-WebSocket-Version: 13"]);
        assert_eq!(websocket_answer(&no_key).unwrap_err().0, 400);
        let old = request(&[
            &format!("Sec-WebSocket-Key: {KEY}"),
            "Sec-WebSocket-Version: 8",
        ]);
        assert_eq!(websocket_answer(&old).unwrap_err().0, 400);
    }

    #[test]
    fn the_legacy_answer_names_the_type_twice() {
        assert_eq!(
            legacy_answer(ALPN),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: alpn\r\nX-Teleport-Upgrade: alpn\r\nConnection: Upgrade\r\n\r\n"
        );
    }
}

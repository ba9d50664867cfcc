//! The metrics endpoint behind `mwictl fleet serve`: `GET /metrics` answers the last good triage
//! (404 elsewhere), refreshed on an interval in the background; a failed refresh keeps serving
//! the last good one and counts the failure.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Limits, RefreshState, Triage, render_metrics, render_refresh, triage};
use crate::client::Client;
use crate::error::CommandError;

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The longest request head read; scrapers send a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens on `addr`; a port in use is a one-line error naming it.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, CommandError> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            CommandError::usage(format!("cannot listen on {addr}: the port is in use"))
                .hint("pick another --listen address, or stop what listens there")
        } else {
            CommandError::usage(format!("cannot listen on {addr}: {e}"))
        }
    })
}

/// What is served now: the last good triage's metrics as rendered (the triage itself is not
/// kept: at 10,000 bots it is several times their size), and what the refreshes report.
struct Shared {
    cluster: String,
    metrics: Arc<[u8]>,
    refresh: RefreshState,
    /// The refresh metrics, rendered again whenever `refresh` changes.
    tail: Arc<[u8]>,
}

impl Shared {
    fn new(first: Triage, duration: Duration) -> Shared {
        let mut shared = Shared {
            cluster: first.cluster.clone(),
            metrics: Arc::from(Vec::new()),
            refresh: RefreshState {
                failures: 0,
                duration,
            },
            tail: Arc::from(Vec::new()),
        };
        shared.take(first);
        shared
    }

    /// Serves `fresh` from now on.
    fn take(&mut self, fresh: Triage) {
        let mut metrics = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = render_metrics(&mut metrics, &fresh, None);
        self.cluster = fresh.cluster;
        self.metrics = metrics.into();
        self.render_tail();
    }

    fn render_tail(&mut self) {
        let mut tail = Vec::new();
        let _ = render_refresh(&mut tail, &self.cluster, &self.refresh);
        self.tail = tail.into();
    }
}

/// Serves `/metrics` on `listener` until the future is dropped. The first triage must succeed
/// (it runs before this is called: `first`); later ones run every `interval`, and each failure
/// goes to `on_failure` and the failure counter. Each refresh reads the recover journals in
/// `state_dir` again (a run may have switched a token to insecure, or restored it).
pub async fn serve(
    client: &Client,
    listener: TcpListener,
    first: (Triage, Duration),
    interval: Duration,
    limits: Limits,
    state_dir: &Path,
    on_failure: impl Fn(&CommandError),
) -> Result<(), CommandError> {
    let shared = Arc::new(RwLock::new(Shared::new(first.0, first.1)));
    let refresh = async {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let started = Instant::now();
            let switched = crate::recover::insecure::switched(state_dir);
            let result = triage(client, SystemTime::now(), limits, &switched).await;
            let mut shared = shared.write().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(fresh) => {
                    shared.refresh.duration = started.elapsed();
                    shared.take(fresh);
                }
                Err(e) => {
                    on_failure(&e);
                    shared.refresh.failures += 1;
                    shared.render_tail();
                }
            }
        }
    };
    let accept = async {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            };
            let body = {
                let shared = shared.read().unwrap_or_else(|e| e.into_inner());
                [shared.metrics.clone(), shared.tail.clone()]
            };
            tokio::spawn(answer(stream, body));
        }
    };
    tokio::select! {
        () = refresh => Ok(()),
        () = accept => Ok(()),
    }
}

/// Reads one request and answers it; the connection closes after.
async fn answer(mut stream: TcpStream, body: [Arc<[u8]>; 2]) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    for part in respond(&head, &[&body[0], &body[1]]) {
        if stream.write_all(&part).await.is_err() {
            return;
        }
    }
    let _ = stream.shutdown().await;
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

/// The HTTP/1.1 response to a request head, in parts to write in order: the head, then the
/// body (the `metrics` parts for `/metrics`), which is never copied.
fn respond<'a>(head: &str, metrics: &[&'a [u8]]) -> Vec<Cow<'a, [u8]>> {
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body): (_, _, &[&'a [u8]]) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", CONTENT_TYPE, metrics),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            &[b"not found: mwictl fleet serve answers /metrics\n"],
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            &[b"method not allowed: use GET /metrics\n"],
        ),
    };
    let length: usize = body.iter().map(|part| part.len()).sum();
    let mut out = vec![Cow::Owned(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    )];
    if method != "HEAD" {
        out.extend(body.iter().map(|part| Cow::Borrowed(*part)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: Vec<Cow<'_, [u8]>>) -> String {
        String::from_utf8(parts.concat()).unwrap()
    }

    #[test]
    fn metrics_are_served_at_slash_metrics_only() {
        let ok = text(respond(
            "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            &[b"m 1", b"\n"],
        ));
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: text/plain; version=0.0.4"));
        assert!(ok.contains("Content-Length: 4\r\n"));
        assert!(ok.ends_with("\r\n\r\nm 1\n"));
        let query = text(respond("GET /metrics?x=1 HTTP/1.1\r\n\r\n", &[b"m 1\n"]));
        assert!(query.starts_with("HTTP/1.1 200 OK"));
        let other = text(respond("GET / HTTP/1.1\r\n\r\n", &[b"m 1\n"]));
        assert!(other.starts_with("HTTP/1.1 404 Not Found"), "{other}");
        assert!(!other.contains("m 1"));
        let post = text(respond("POST /metrics HTTP/1.1\r\n\r\n", &[b"m 1\n"]));
        assert!(post.starts_with("HTTP/1.1 405"));
        let head = text(respond("HEAD /metrics HTTP/1.1\r\n\r\n", &[b"m 1\n"]));
        assert!(head.ends_with("\r\n\r\n"), "{head}");
    }

    #[tokio::test]
    async fn a_busy_port_is_named_in_one_line() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err();
        assert_eq!(
            err.message,
            format!("cannot listen on {addr}: the port is in use")
        );
    }

    #[test]
    fn what_is_served_is_the_whole_exposition_without_keeping_the_triage() {
        let triage = Triage {
            cluster: "lab".into(),
            server_version: "18.1.0".into(),
            checked_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            bots: Vec::new(),
            rpcs: 6,
        };
        let whole = |refresh: &RefreshState| {
            let mut out = Vec::new();
            render_metrics(&mut out, &triage, Some(refresh)).unwrap();
            out
        };
        let mut shared = Shared::new(triage.clone(), Duration::from_millis(1500));
        let served = |s: &Shared| [&s.metrics[..], &s.tail[..]].concat();
        assert_eq!(served(&shared), whole(&shared.refresh));
        shared.refresh.failures += 1;
        shared.render_tail();
        assert_eq!(served(&shared), whole(&shared.refresh));
        assert!(
            String::from_utf8(served(&shared))
                .unwrap()
                .contains("mwictl_refresh_failures_total{cluster=\"lab\"} 1")
        );
    }
}

//! The one test kit of the workspace: a lab on a free loopback port in a temp dir (in-process,
//! or the real `mwictl lab start` process), fixture builders, one scripted auth server and a web
//! TLS server (what answers when a proxy or load balancer does), and a strict reader of the
//! Prometheus text format.
//!
//! Used as a dev-dependency only (by mwi-auth, mwi-agent and mwictl); it panics on any setup
//! failure, which is what a test wants. Everything it creates lives in a temp dir of its own and
//! binds port 0, so tests stay hermetic and can run in parallel.

pub mod fixtures;
pub mod lab;
pub mod metrics;
pub mod pki;
pub mod process;
pub mod scripted;
pub mod web;
pub mod wire;

pub use lab::Lab;

/// A free loopback address nothing listens on.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    addr
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A timestamp `secs` seconds from now.
pub fn in_secs(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: unix_now() + secs,
        nanos: 0,
    }
}

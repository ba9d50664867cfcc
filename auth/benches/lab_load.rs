//! Load benchmark of the lab auth service: 64 concurrent clients over loopback mTLS (a few
//! connections, many requests in flight), measuring Ping (the baseline), GetLock and UpsertLock
//! throughput and latency. Run: `cargo bench -p mwi-auth --bench lab_load`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mwi_auth::lab::{LabConfig, spawn};
use mwi_identity::IdentityFile;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{GetLockRequest, PingRequest};
use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

const CLIENTS: usize = 64;
const CONNECTIONS: usize = 4;

#[derive(Clone, Copy)]
enum Op {
    Ping,
    GetLock,
    UpsertLock,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Ping => "Ping",
            Op::GetLock => "GetLock",
            Op::UpsertLock => "UpsertLock",
        }
    }
}

struct Measured {
    op: Op,
    count: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of the whole process (clients and lab) per request: what a request costs
    /// regardless of how busy the machine is with other work.
    cpu_per_request: Duration,
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn lock(name: String) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name,
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(LockTarget {
                user: "bench-user".into(),
                ..Default::default()
            }),
            message: "benchmark".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn run(op: Op, count: usize, channels: &[Channel]) -> Measured {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_start = cpu_time();
    let start = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..CLIENTS {
        let mut client = AuthServiceClient::new(channels[worker % channels.len()].clone());
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return latencies;
                }
                let sent = Instant::now();
                let ok = match op {
                    Op::Ping => client.ping(PingRequest {}).await.is_ok(),
                    Op::GetLock => client
                        .get_lock(GetLockRequest {
                            name: "bench".into(),
                        })
                        .await
                        .is_ok(),
                    Op::UpsertLock => client.upsert_lock(lock(format!("bench-{i}"))).await.is_ok(),
                };
                assert!(ok, "{} failed", op.name());
                latencies.push(sent.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_start);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Measured {
        op,
        count,
        per_sec: count as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_request: cpu / count as u32,
    }
}

async fn connect(addr: std::net::SocketAddr, admin: &IdentityFile) -> Channel {
    let tls = ClientTlsConfig::new()
        .domain_name("teleport.cluster.local")
        .ca_certificate(Certificate::from_pem(&admin.tls_ca_pems[0]))
        .identity(Identity::from_pem(
            &admin.tls_cert_pem,
            &admin.private_key_pem,
        ));
    Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Request counts of one run: the real measurement under `cargo bench` (which passes
/// `--bench`), a quick smoke run under `cargo test --benches`.
struct Counts {
    ping: usize,
    get: usize,
    upsert: usize,
}

async fn bench(counts: Counts) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = LabConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().expect("addr");
    let lab = spawn(config).await.expect("lab starts");
    let admin = IdentityFile::read(&lab.ready().identity_path)
        .expect("admin identity")
        .identity;
    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(connect(lab.addr(), &admin).await);
    }
    AuthServiceClient::new(channels[0].clone())
        .upsert_lock(lock("bench".into()))
        .await
        .expect("seed lock");
    run(Op::Ping, counts.ping / 10, &channels).await;

    let results = [
        run(Op::Ping, counts.ping, &channels).await,
        run(Op::GetLock, counts.get, &channels).await,
        run(Op::UpsertLock, counts.upsert, &channels).await,
    ];
    let baseline = results[0].per_sec;
    println!(
        "lab_load: {CLIENTS} concurrent clients over {CONNECTIONS} mTLS connections (loopback)"
    );
    println!(
        "{:<11} {:>7} {:>10} {:>8} {:>8} {:>9} {:>12} {:>13}",
        "op", "count", "req/s", "p50 ms", "p99 ms", "vs Ping", "CPU us/req", "req/s/2 CPUs"
    );
    for r in &results {
        let cpu_us = r.cpu_per_request.as_secs_f64() * 1e6;
        println!(
            "{:<11} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2}x {:>12.1} {:>13.0}",
            r.op.name(),
            r.count,
            r.per_sec,
            ms(r.p50),
            ms(r.p99),
            r.per_sec / baseline,
            cpu_us,
            2e6 / cpu_us
        );
    }
    println!(
        "(CPU us/req counts clients and lab together; req/s/2 CPUs is what two idle cores \
         would sustain at that cost; load average now {})",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let target = |ok: bool| if ok { "met" } else { "MISSED" };
    let (get, upsert) = (&results[1], &results[2]);
    println!(
        "targets: GetLock >= 10000/s {}; UpsertLock >= 2000/s {}; p99 <= 20 ms {}",
        target(get.per_sec >= 10_000.0),
        target(upsert.per_sec >= 2_000.0),
        target(results.iter().all(|r| r.p99 <= Duration::from_millis(20)))
    );
    lab.shutdown().await.expect("lab stops");
}

fn main() {
    let counts = if std::env::args().any(|a| a == "--bench") {
        Counts {
            ping: 30_000,
            get: 30_000,
            upsert: 10_000,
        }
    } else {
        Counts {
            ping: 640,
            get: 640,
            upsert: 128,
        }
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench(counts));
}

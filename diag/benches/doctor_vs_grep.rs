//! Doctor's streaming scan against `grep -F -f` with the same signature strings, on one generated
//! log with a few incidents buried in noise, in the same run. Prints MB/s, the ratio and peak RSS.
//!
//! `cargo bench -p mwi-diag --bench doctor_vs_grep` (1024 MB; `MWI_BENCH_LOG_MB` to change).
//! Run by `cargo test` (no `--bench` argument) it does a 2 MB smoke run.

use mwi_diag::doctor::{Doctor, Incident, SIGNATURES};
use mwi_diag::incident::Incident as Product;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MB: u64 = 1 << 20;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let size_mb: u64 = std::env::var("MWI_BENCH_LOG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 1024 } else { 2 });
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("tbot-bench.log");
    let started = Instant::now();
    let written = generate(&log, size_mb * MB).expect("generate the log");
    eprintln!(
        "generated {} MB in {:.1}s: {}",
        written / MB,
        started.elapsed().as_secs_f64(),
        log.display()
    );
    let signatures = dir.path().join("signatures.txt");
    std::fs::write(&signatures, SIGNATURES.join("\n") + "\n").expect("write signatures");

    // Read once so both tools start from the page cache.
    drain(File::open(&log).expect("open log"));

    let rounds = if benching { 2 } else { 1 };
    let mut doctor_best = Duration::MAX;
    let mut grep_best = Duration::MAX;
    let mut peak_kb = 0;
    let mut findings = Vec::new();
    let mut grep_lines = 0;
    for _ in 0..rounds {
        reset_peak_rss();
        let t = Instant::now();
        let mut doctor = Doctor::new();
        doctor
            .feed_reader("tbot-bench.log", File::open(&log).expect("open log"))
            .expect("scan");
        let report = doctor.finish();
        doctor_best = doctor_best.min(t.elapsed());
        peak_kb = peak_kb.max(peak_rss_kb());
        findings = report.findings.iter().map(|f| f.incident).collect();

        let t = Instant::now();
        let mut child = Command::new("grep")
            .env("LC_ALL", "C")
            .args(["-F", "-n", "-f"])
            .arg(&signatures)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run grep");
        let out = child.stdout.take().expect("grep stdout");
        grep_lines = count_lines(out);
        child.wait().expect("grep exit");
        grep_best = grep_best.min(t.elapsed());
    }

    let expected = [
        Incident::Product(Product::GenerationMismatch),
        Incident::Product(Product::Expired),
        Incident::Product(Product::DbAccess),
        Incident::Product(Product::NoProxy),
    ];
    assert_eq!(findings, expected, "the buried incidents are found");
    let mb = written as f64 / MB as f64;
    let doctor_rate = mb / doctor_best.as_secs_f64();
    let grep_rate = mb / grep_best.as_secs_f64();
    println!("log: {mb:.0} MB, {grep_lines} lines matched by grep, findings: {findings:?}");
    println!(
        "doctor: {doctor_rate:.0} MB/s ({:.2}s)",
        doctor_best.as_secs_f64()
    );
    println!(
        "grep -F -f: {grep_rate:.0} MB/s ({:.2}s)",
        grep_best.as_secs_f64()
    );
    println!("ratio doctor/grep: {:.2}", doctor_rate / grep_rate);
    println!("doctor peak RSS (VmHWM): {peak_kb} kB");
}

/// Writes about `size` bytes of realistic tbot/auth/journal noise with four incidents buried at
/// fixed fractions of the file. Returns the bytes written.
fn generate(path: &Path, size: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut written = 0u64;
    let mut n = 0u64;
    let incidents: [&[&str]; 4] = [
        &[
            "2025-03-02T10:40:02Z WARN [TBOT:IDENTITY] Failed to renew bot identity error:[renewable cert generation mismatch for bot fleet/0b5e5f1c-3c1f-4a0b-9d5e-2f7c1a9e8b21: stored=15, presented=14]\n",
            "ERROR: failed direct dial to auth server: auth API: access denied [00]\n",
            "[AUTH]      WARN lock targeting User:\"bot-fleet\" is in force: The bot user \"bot-fleet\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate. auth/apiserver.go:224\n",
        ],
        &[
            "ERRO [TBOT]      Identity has expired. The renewal is likely to fail. (expires: 2022-07-21T22:50:26Z, current time: 2022-07-25T20:18:33Z) tbot/tbot.go:415\n",
            "ERROR: failed direct dial to auth server: Get \"https://teleport.cluster.local/v2/configuration/name\": remote error: tls: bad certificate\n",
        ],
        &[
            "{\"timestamp\":\"2025-06-11T07:30:00Z\",\"level\":\"error\",\"component\":\"TBOT:DB\",\"message\":\"Failed to generate impersonated certs for directory /opt/machine-id/pg\",\"error\":\"database \\\"pg-prod\\\" not found\"}\n",
        ],
        &[
            "2026-01-21T18:11:16.320-07:00 ERRO [TBOT:PROX] Failed to ping proxy error:[\n",
            "Original Error: *url.Error Get \"https://teleport.example.com:443/webapi/find\": dial tcp 1.2.3.4:443: connect: connection refused\n",
        ],
    ];
    let marks = [size / 10, size * 35 / 100, size * 6 / 10, size * 85 / 100];
    let mut next_incident = 0;
    while written < size {
        if next_incident < marks.len() && written >= marks[next_incident] {
            for line in incidents[next_incident] {
                out.write_all(line.as_bytes())?;
                written += line.len() as u64;
            }
            next_incident += 1;
        }
        n += 1;
        let line = noise(n);
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()?;
    Ok(written)
}

/// One line of everyday logging, varied by `n` (time stamps, ids, formats).
fn noise(n: u64) -> String {
    let (h, m, s) = ((n / 3600) % 24, (n / 60) % 60, n % 60);
    let ts = format!("2025-03-02T{h:02}:{m:02}:{s:02}.{:03}Z", n % 1000);
    match n % 16 {
        0 => format!(
            "{ts} INFO [TBOT:IDENTITY] Renewed bot identity identity:[kind=tls, renewable=true, generation={}] service_bot_identity.go:217\n",
            n % 97
        ),
        1 => format!(
            "Mar 02 {h:02}:{m:02}:{s:02} build-{} tbot[{}]: {ts} DEBU [TBOT:OUTPUT] Writing artifact path:/opt/machine-id/key-cert.pub artifacts.go:88\n",
            n % 7,
            1000 + n % 50
        ),
        2 => format!(
            "{{\"timestamp\":\"{ts}\",\"level\":\"debug\",\"component\":\"TBOT:OUTPUT\",\"caller\":\"tbot/service_identity_output.go:140\",\"message\":\"Writing artifact\",\"path\":\"/opt/machine-id/identity\",\"n\":{n}}}\n"
        ),
        3 => format!(
            "{ts} INFO [AUTH]      Certificate issued for bot-web-{} user:bot-web roles:[bot-web] ttl:1h0m0s auth/auth.go:2471\n",
            n % 13
        ),
        4 => format!(
            "Mar 02 {h:02}:{m:02}:{s:02} node-{} sshd[{}]: Accepted publickey for ubuntu from 10.1.{}.{} port {} ssh2: ED25519-CERT SHA256:Zk2n\n",
            n % 9,
            2000 + n % 300,
            n % 250,
            n % 200,
            40000 + n % 20000
        ),
        5 => format!(
            "{ts} DEBU [TBOT:CACHE] Cache refresh completed entries:{} took:{}ms cache/cache.go:611\n",
            n % 400,
            n % 90
        ),
        6 => format!(
            "{{\"timestamp\":\"{ts}\",\"level\":\"info\",\"component\":\"AUTH:GRPC\",\"message\":\"Handled request\",\"method\":\"/proto.AuthService/GetClusterCACert\",\"duration_ms\":{},\"peer\":\"10.2.3.{}:{}\"}}\n",
            n % 40,
            n % 250,
            30000 + n % 30000
        ),
        7 => format!(
            "{ts} INFO [PROXY:SERVER] Heartbeat sent server:proxy-{} kind:proxy srv/heartbeat.go:{}\n",
            n % 3,
            200 + n % 50
        ),
        8 => format!(
            "Mar 02 {h:02}:{m:02}:{s:02} auth-1 teleport[901]: {ts} INFO [AUTH:1]    Session tracker updated session_id:{:016x} state:active\n",
            n.wrapping_mul(0x9E37_79B9)
        ),
        9 => format!(
            "{ts} DEBU [TBOT]      Loop iteration complete next_run_in:20m0s service:identity-output-{} loop.go:161\n",
            n % 4
        ),
        10 => format!(
            "{ts} INFO [KUBE:PROXY] Forwarding request method:GET path:/api/v1/namespaces/default/pods cluster:k8s-{} user:bot-ci\n",
            n % 5
        ),
        11 => format!(
            "{{\"time\":\"{ts}\",\"level\":\"warn\",\"msg\":\"slow backend write\",\"component\":\"backend:sqlite\",\"key\":\"/nodes/default/{}\",\"took\":\"{}ms\"}}\n",
            n % 1000,
            50 + n % 500
        ),
        12 => format!(
            "{ts} INFO [DB:SERVICE] Database session started db:postgres-{} user:reader protocol:postgres\n",
            n % 6
        ),
        13 => format!(
            "Mar 02 {h:02}:{m:02}:{s:02} build-{} systemd[1]: tbot-{}.service: Consumed {}.{}s CPU time.\n",
            n % 7,
            n % 3,
            n % 9,
            n % 100
        ),
        14 => format!(
            "{ts} INFO [TBOT]      Successfully renewed impersonated certificates for directory /opt/machine-id, valid: after={ts}, before={ts}, duration=1h1m0s | kind=tls, renewable=false, disallow-reissue=true, roles=[access], principals=[alice -teleport-internal-join], generation=0 tbot/renew.go:630\n"
        ),
        _ => format!(
            "{ts} DEBU [RBAC]      Access to read node:{:08x} granted, allow rule in role \"access\" matched services/role.go:2450\n",
            n.wrapping_mul(2654435761) & 0xffff_ffff
        ),
    }
}

fn drain(mut reader: impl Read) -> u64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n as u64,
        }
    }
}

fn count_lines(mut reader: impl Read) -> u64 {
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => return lines,
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }
}

/// Resets VmHWM (Linux: writing 5 to clear_refs), so the next reading is the scan's own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

//! Fleet scale (issue 15 item 5): the real (release) mwictl binary against a lab seeded as
//! `mwictl lab seed` does, 10,000 bots, 100,000 instances and 100,000 locks. For each command a
//! fresh process runs several times: its median wall time, its peak RSS (`ru_maxrss` from wait4)
//! and the RPCs it reports, each as a ratio to a plain `locks ls` of the same lab in the same run;
//! then `fleet serve` on a free port: the `mwictl_refresh_duration_seconds` it exports against its
//! `--interval`, and its peak RSS (VmHWM) after a few refreshes. The issue's targets (triage
//! <= 3 s, <= 64 MB) are marked met or not met. A command that runs longer than 60 s
//! (`MWICTL_BENCH_TIMEOUT=SECONDS`) is killed and reported as a timeout, so the benchmark always
//! finishes. Run: `cargo bench -p mwictl --bench fleet`; `MWICTL_BENCH_FLEET=200,2000,2000`
//! (bots, instances, locks) for a quick run.
//!
//! The lab is the real `mwictl lab start` in a process of its own, not in this one: at exec the
//! kernel carries the spawning process's peak RSS into the child's `ru_maxrss`, so this process
//! stays small (its own peak, printed as the floor, is all a child can inherit) and children's
//! output goes to files, never into its memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mwi_testkit::process::LabProcess;

const BIN: &str = env!("CARGO_BIN_EXE_mwictl");
/// Bots, instances and locks seeded unless `MWICTL_BENCH_FLEET=BOTS,INSTANCES,LOCKS` says.
const FLEET: (usize, usize, usize) = (10_000, 100_000, 100_000);
/// Fresh processes per command.
const RUNS: usize = 5;
/// A command still running after this is killed and reported as a timeout, unless
/// `MWICTL_BENCH_TIMEOUT=SECONDS` says.
const TIMEOUT: Duration = Duration::from_secs(60);
/// `fleet serve --interval`, and how many intervals it runs before its RSS is read.
const SERVE_INTERVAL: Duration = Duration::from_secs(5);
const SERVE_REFRESHES: u32 = 2;
/// Issue 15's targets for triage.
const TRIAGE_WALL: f64 = 3.0;
const TRIAGE_RSS_MB: f64 = 64.0;

/// How one process ended.
enum Outcome {
    /// It exited with a code the case accepts: its wall time and peak RSS (KiB).
    Done {
        wall: Duration,
        rss_kb: i64,
    },
    TimedOut,
    Failed(String),
}

/// One measured case: what it runs and what it found.
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    /// Exit codes that are not failures (triage exits 1 when a bot needs attention).
    codes: &'static [i32],
    /// Where the command reports its RPCs, if it does.
    rpcs: Rpcs,
}

#[derive(Clone, Copy)]
enum Rpcs {
    None,
    /// The `"rpcs"` number of the JSON on stdout.
    Json,
    /// The "(N RPCs)" of the status line on stderr.
    Status,
}

/// A case's figures over its runs.
struct Row {
    name: String,
    runs: usize,
    /// `None` when no run finished.
    wall: Option<f64>,
    rss_mb: Option<f64>,
    rpcs: Option<u64>,
    /// Why the case has no figures.
    note: Option<String>,
}

struct Bench {
    lab: LabProcess,
    out: PathBuf,
}

impl Bench {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--auth-server", &self.lab.addr, "-i"])
            .arg(&self.lab.identity)
            .env("MWICTL_HOME", self.lab.home())
            .env("TELEPORT_HOME", self.lab.home().join("tsh"))
            .env_remove("TELEPORT_AUTH_SERVER")
            .env_remove("TELEPORT_IDENTITY_FILE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn stdout_path(&self) -> PathBuf {
        self.out.join("stdout")
    }

    fn stderr_path(&self) -> PathBuf {
        self.out.join("stderr")
    }

    /// Runs `mwictl ARGS` once, its output to files, killed after [`timeout`].
    fn run(&self, args: &[&str], codes: &[i32]) -> Outcome {
        let stdout = std::fs::File::create(self.stdout_path()).expect("stdout file");
        let stderr = std::fs::File::create(self.stderr_path()).expect("stderr file");
        let mut cmd = self.command(args);
        cmd.stdout(stdout).stderr(stderr);
        let (code, wall, rss_kb) = match measured(&mut cmd) {
            Some(done) => done,
            None => return Outcome::TimedOut,
        };
        if codes.contains(&code) {
            return Outcome::Done { wall, rss_kb };
        }
        let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
        Outcome::Failed(format!(
            "exit {code}: {}",
            stderr.lines().next().unwrap_or_default()
        ))
    }

    /// Runs `mwictl ARGS` to completion, its stdout to the file; only its output counts.
    fn unmeasured(&self, args: &[&str]) {
        let stdout = std::fs::File::create(self.stdout_path()).expect("stdout file");
        let status = self
            .command(args)
            .stdout(stdout)
            .stderr(Stdio::null())
            .status()
            .expect("run mwictl");
        assert!(status.code().is_some(), "mwictl {args:?}: {status}");
    }

    fn measure(&self, case: &Case) -> Row {
        let mut walls = Vec::new();
        let mut rss = Vec::new();
        let mut rpcs = None;
        let mut note = None;
        for _ in 0..RUNS {
            match self.run(&case.args, case.codes) {
                Outcome::Done { wall, rss_kb } => {
                    walls.push(wall.as_secs_f64());
                    rss.push(rss_kb as f64 / 1024.0);
                    rpcs = match case.rpcs {
                        Rpcs::None => None,
                        Rpcs::Json => number_after(&self.stdout_path(), b"\"rpcs\":"),
                        Rpcs::Status => status_rpcs(&self.stderr_path()),
                    };
                }
                Outcome::TimedOut => {
                    note = Some(format!("timeout (> {:?})", timeout()));
                    break;
                }
                Outcome::Failed(why) => {
                    note = Some(why);
                    break;
                }
            }
        }
        Row {
            name: case.name.to_owned(),
            runs: walls.len(),
            wall: median(&mut walls),
            rss_mb: median(&mut rss),
            rpcs,
            note,
        }
    }
}

/// Spawns the command and waits for it, killing it after [`timeout`]: its exit code, wall time
/// and peak RSS (KiB), or `None` when it was killed. The child is reaped with wait4, not
/// `Child::wait`, for its rusage.
#[expect(clippy::zombie_processes, reason = "wait4 reaps the child")]
fn measured(cmd: &mut Command) -> Option<(i32, Duration, i64)> {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn mwictl");
    let pid = child.id() as libc::pid_t;
    let (done, cancelled) = mpsc::channel::<()>();
    let limit = timeout();
    let watchdog = std::thread::spawn(move || {
        let timed_out = cancelled.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout);
        if timed_out {
            // The child is not reaped before this thread is joined, so the pid is still its.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        timed_out
    });
    // Wait for the exit without reaping (WNOWAIT): the wall time ends here.
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(err.kind(), std::io::ErrorKind::Interrupted, "waitid: {err}");
    }
    let wall = start.elapsed();
    let _ = done.send(());
    let timed_out = watchdog.join().expect("watchdog");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    if timed_out {
        return None;
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Some((code, wall, usage.ru_maxrss))
}

/// This process's own peak RSS (KiB, VmHWM): what a child's `ru_maxrss` can inherit at exec.
/// Not getrusage: that carries the peak of whatever exec'd this process (cargo) in turn.
fn own_peak_kb() -> i64 {
    vm_hwm_kb(std::process::id()).unwrap_or(0)
}

fn median(samples: &mut [f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    Some(if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    })
}

/// The unsigned number after the first `key` in the file, read a chunk at a time (a fleet's
/// JSON is tens of MB; this process must stay small).
fn number_after(path: &Path, key: &[u8]) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut window: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut chunk).ok()?;
        window.extend_from_slice(&chunk[..n]);
        if let Some(at) = window.windows(key.len()).position(|w| w == key) {
            let rest = &window[at + key.len()..];
            let start = rest.iter().position(|b| !b.is_ascii_whitespace());
            let end = start.and_then(|s| {
                rest[s..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map(|e| s + e)
            });
            let digits = match (start, end) {
                (Some(s), Some(e)) => &rest[s..e],
                // The number may run on into the next chunk.
                _ if n > 0 => continue,
                (Some(s), None) => &rest[s..],
                (None, _) => return None,
            };
            return std::str::from_utf8(digits).ok()?.parse().ok();
        }
        if n == 0 {
            return None;
        }
        let keep = window.len().saturating_sub(key.len() + 32);
        window.drain(..keep);
    }
}

/// The N of "(N RPCs)" in triage's status line.
fn status_rpcs(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let before = text
        .split(" RPCs)")
        .next()
        .filter(|b| b.len() < text.len())?;
    before.rsplit('(').next()?.trim().parse().ok()
}

/// Seeds the lab as an operator would (`mwictl lab seed`) and waits until it lists every lock
/// and every bot (it notices the outside write within a second or so).
fn seed(bench: &Bench, (bots, instances, locks): (usize, usize, usize)) -> Duration {
    let (bots, instances, locks) = (bots.to_string(), instances.to_string(), locks.to_string());
    let args = [
        "lab",
        "seed",
        "--bots",
        &bots,
        "--instances",
        &instances,
        "--locks",
        &locks,
    ];
    let started = Instant::now();
    let out = bench.command(&args).output().expect("run lab seed");
    assert!(
        out.status.success(),
        "lab seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seeded = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = |what: &str, listed: usize, seeded: &str| {
        assert!(
            Instant::now() < deadline,
            "the lab lists {listed} of {seeded} seeded {what} after 60 s"
        );
    };
    loop {
        bench.unmeasured(&["locks", "ls", "--format", "json"]);
        let file = std::fs::File::open(bench.stdout_path()).expect("locks ls output");
        let listed = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.trim_start() == "\"kind\": \"lock\",")
            .count();
        if listed.to_string() == locks {
            break;
        }
        want("locks", listed, &locks);
        std::thread::sleep(Duration::from_millis(250));
    }
    loop {
        bench.unmeasured(&["triage", "--format", "json"]);
        let listed = number_after(&bench.stdout_path(), b"\"bots\":").unwrap_or(0);
        if listed.to_string() == bots {
            return seeded;
        }
        want("bots", listed as usize, &bots);
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `MWICTL_BENCH_TIMEOUT=SECONDS`, or [`TIMEOUT`].
fn timeout() -> Duration {
    static LIMIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let Ok(spec) = std::env::var("MWICTL_BENCH_TIMEOUT") else {
            return TIMEOUT;
        };
        match spec.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
            _ => {
                eprintln!(
                    "error: MWICTL_BENCH_TIMEOUT={spec:?} is not a number of seconds (e.g. 600)"
                );
                std::process::exit(2);
            }
        }
    })
}

/// `MWICTL_BENCH_FLEET=BOTS,INSTANCES,LOCKS`, or the issue's fleet.
fn fleet_size() -> (usize, usize, usize) {
    let Ok(spec) = std::env::var("MWICTL_BENCH_FLEET") else {
        return FLEET;
    };
    let parsed: Vec<usize> = spec
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    match parsed[..] {
        [bots, instances, locks] if bots > 0 => (bots, instances, locks),
        _ => {
            eprintln!(
                "error: MWICTL_BENCH_FLEET={spec:?} is not BOTS,INSTANCES,LOCKS (e.g. 200,2000,2000)"
            );
            std::process::exit(2);
        }
    }
}

/// What `fleet serve` reported: its last refresh, its peak RSS, and how long the first answer
/// took.
struct Serve {
    refresh: f64,
    rss_mb: f64,
    first_answer: f64,
}

/// Runs `fleet serve` on a free port through [`SERVE_REFRESHES`] refreshes and reads its last
/// refresh duration and its VmHWM.
fn fleet_serve(bench: &Bench) -> Result<Serve, String> {
    let interval = format!("{}s", SERVE_INTERVAL.as_secs());
    let started = Instant::now();
    let mut child = bench
        .command(&[
            "fleet",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            &interval,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fleet serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining stderr so warnings never block the server.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let result = (|| {
        let line = loop {
            let line = rx
                .recv_timeout(timeout())
                .map_err(|_| format!("timeout (no serving line in {:?})", timeout()))?;
            if line.contains("http://") {
                break line;
            }
        };
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("no address in {line:?}"))?
            .to_owned();
        let metrics = scrape(&addr)?;
        let first_answer = started.elapsed().as_secs_f64();
        refresh_seconds(&metrics).ok_or("no mwictl_refresh_duration_seconds")?;
        std::thread::sleep(SERVE_INTERVAL * SERVE_REFRESHES + Duration::from_secs(1));
        let metrics = scrape(&addr)?;
        let refresh = refresh_seconds(&metrics).ok_or("no mwictl_refresh_duration_seconds")?;
        let rss_kb = vm_hwm_kb(child.id()).ok_or("no VmHWM in /proc")?;
        Ok(Serve {
            refresh,
            rss_mb: rss_kb as f64 / 1024.0,
            first_answer,
        })
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `GET /metrics`, retried until the server answers 200 or [`timeout`] passes.
fn scrape(addr: &str) -> Result<String, String> {
    let deadline = Instant::now() + timeout();
    loop {
        let answer = TcpStream::connect(addr).and_then(|mut stream| {
            stream.set_read_timeout(Some(timeout()))?;
            write!(
                stream,
                "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        });
        if let Ok(response) = answer
            && response.starts_with("HTTP/1.1 200")
        {
            return Ok(response);
        }
        if Instant::now() > deadline {
            return Err(format!("timeout (/metrics on {addr} never answered 200)"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn refresh_seconds(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("mwictl_refresh_duration_seconds"))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn vm_hwm_kb(pid: u32) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn cases() -> Vec<Case> {
    let triage_codes: &[i32] = &[0, 1];
    let case =
        |name: &'static str, args: &[&'static str], codes: &'static [i32], rpcs: Rpcs| Case {
            name,
            args: args.to_vec(),
            codes,
            rpcs,
        };
    vec![
        case("locks ls", &["locks", "ls"], &[0], Rpcs::None),
        case(
            "triage --format prometheus",
            &["triage", "--format", "prometheus"],
            triage_codes,
            Rpcs::None,
        ),
        case("triage", &["triage"], triage_codes, Rpcs::Status),
        case(
            "triage --format json",
            &["triage", "--format", "json"],
            triage_codes,
            Rpcs::Json,
        ),
        case("bots ls", &["bots", "ls"], &[0], Rpcs::None),
        case(
            "bots ls --format json",
            &["bots", "ls", "--format", "json"],
            &[0],
            Rpcs::None,
        ),
        case(
            "bots instances ls",
            &["bots", "instances", "ls"],
            &[0],
            Rpcs::None,
        ),
        case(
            "bots instances ls --query older_than(18.0.0)",
            &[
                "bots",
                "instances",
                "ls",
                "--query",
                r#"older_than(version, "18.0.0")"#,
            ],
            &[0],
            Rpcs::None,
        ),
        case(
            "bots instances ls --sort-index version_latest desc",
            &[
                "bots",
                "instances",
                "ls",
                "--sort-index",
                "version_latest",
                "--sort-order",
                "descending",
            ],
            &[0],
            Rpcs::None,
        ),
    ]
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn ratio(value: Option<f64>, base: Option<f64>) -> String {
    match (value, base) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}x", v / b),
        _ => "-".into(),
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn main() {
    let size = fleet_size();
    let lab = LabProcess::start(Path::new(BIN), &[]);
    let out = lab.root().join("bench-out");
    std::fs::create_dir_all(&out).expect("output dir");
    let bench = Bench { lab, out };

    println!("mwictl fleet benchmark: binary {BIN}");
    println!(
        "lab `mwictl lab start` on {} (loopback, its own process)",
        bench.lab.addr
    );
    let seeded = seed(&bench, size);
    println!(
        "seeded {} bots, {} instances, {} locks (`mwictl lab seed`: {:.1} s)\n",
        size.0,
        size.1,
        size.2,
        seeded.as_secs_f64()
    );
    // Warm the page cache and the lab before measuring.
    for _ in 0..2 {
        bench.unmeasured(&["locks", "ls"]);
    }

    let rows: Vec<Row> = cases().iter().map(|c| bench.measure(c)).collect();
    let floor_mb = own_peak_kb() as f64 / 1024.0;
    let serve = fleet_serve(&bench);

    let base = &rows[0];
    println!(
        "{:<52} {:>4} {:>9} {:>9} {:>8} {:>9} {:>6}",
        "case (fresh process)", "runs", "median s", "x locks", "RSS MB", "x locks", "RPCs"
    );
    for row in &rows {
        println!(
            "{:<52} {:>4} {:>9} {:>9} {:>8} {:>9} {:>6}{}",
            row.name,
            row.runs,
            cell(row.wall, 3),
            ratio(row.wall, base.wall),
            cell(row.rss_mb, 1),
            ratio(row.rss_mb, base.rss_mb),
            row.rpcs.map_or("-".into(), |n| n.to_string()),
            row.note
                .as_ref()
                .map_or(String::new(), |n| format!("  {n}")),
        );
    }
    let interval = SERVE_INTERVAL.as_secs_f64();
    match &serve {
        Ok(s) => println!(
            "{:<52} {:>4} {:>9} {:>9} {:>8} {:>9} {:>6}",
            format!("fleet serve: last refresh (--interval {interval:.0}s)"),
            1,
            cell(Some(s.refresh), 3),
            ratio(Some(s.refresh), base.wall),
            cell(Some(s.rss_mb), 1),
            ratio(Some(s.rss_mb), base.rss_mb),
            "-",
        ),
        Err(why) => println!("{:<52}  {why}", "fleet serve"),
    }

    println!();
    println!(
        "targets (issue 15): triage <= {TRIAGE_WALL} s wall and <= {TRIAGE_RSS_MB} MB peak RSS; \
         fleet serve refreshes within its interval"
    );
    for row in rows.iter().filter(|r| r.name.starts_with("triage")) {
        match (row.wall, row.rss_mb) {
            (Some(wall), Some(rss)) => println!(
                "  {:<28} {wall:.2} s {:<8} {rss:.1} MB {}",
                row.name,
                met(wall <= TRIAGE_WALL),
                met(rss <= TRIAGE_RSS_MB)
            ),
            _ => println!("  {:<28} not met (no run finished)", row.name),
        }
    }
    match &serve {
        Ok(s) => println!(
            "  {:<28} {:.2} s in a {interval:.0} s interval: {} (first answer after {:.1} s)",
            "fleet serve refresh",
            s.refresh,
            met(s.refresh <= interval),
            s.first_answer
        ),
        Err(_) => println!(
            "  {:<28} not met (it never answered)",
            "fleet serve refresh"
        ),
    }
    println!(
        "(peak RSS is the child's ru_maxrss from wait4, which includes this process's own peak \
         at exec: {floor_mb:.1} MB; fleet serve's is its VmHWM)"
    );
}

//! Starts the real `mwictl lab start` on a free loopback port in a temp dir and hands tests
//! commands that reach it; the lab is stopped (SIGTERM, then kill) when the `Lab` is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwictl::connect::{self, ClientIdentity, Target};
use tonic::transport::Channel;

/// How long a lab may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub const BIN: &str = env!("CARGO_BIN_EXE_mwictl");

/// A running lab auth service and the temp dir holding its data and mwictl's home.
pub struct Lab {
    /// The ready line as printed, without the newline.
    pub ready_line: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The admin identity file.
    pub identity: PathBuf,
    pub cluster: String,
    child: Child,
    /// mwictl's home (the saved profile): in `root`, or another lab's.
    home: PathBuf,
    root: tempfile::TempDir,
}

impl Lab {
    /// Starts a lab with default options.
    pub fn start() -> Lab {
        Lab::start_with(&[])
    }

    /// Starts a lab with extra `lab start` arguments.
    pub fn start_with(extra: &[&str]) -> Lab {
        let root = tempfile::tempdir().expect("temp dir");
        let lab_dir = root.path().join("lab");
        Lab::launch(root, &lab_dir, extra)
    }

    /// Starts a lab on an existing data dir (of a stopped lab), with a fresh home.
    pub fn start_on(lab_dir: &Path) -> Lab {
        Lab::launch(tempfile::tempdir().expect("temp dir"), lab_dir, &[])
    }

    /// Starts a second lab that shares `first`'s home (and so its saved profile).
    pub fn start_sharing_home(first: &Lab, extra: &[&str]) -> Lab {
        let root = tempfile::tempdir().expect("temp dir");
        let lab_dir = root.path().join("lab");
        Lab::launch_in(root, &lab_dir, &first.home, extra)
    }

    fn launch(root: tempfile::TempDir, lab_dir: &Path, extra: &[&str]) -> Lab {
        let home = root.path().join("home");
        Lab::launch_in(root, lab_dir, &home, extra)
    }

    fn launch_in(root: tempfile::TempDir, lab_dir: &Path, home: &Path, extra: &[&str]) -> Lab {
        let log = std::fs::File::create(root.path().join("lab.log")).expect("log file");
        let mut command = std::process::Command::new(BIN);
        command
            .args(["lab", "start", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(lab_dir)
            .args(extra)
            .env("MWICTL_HOME", home)
            .env_remove("TELEPORT_AUTH_SERVER")
            .env_remove("TELEPORT_IDENTITY_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = command.spawn().expect("spawn mwictl lab start");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading after the ready line so the lab never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut lab = Lab {
            ready_line: String::new(),
            addr: String::new(),
            identity: PathBuf::new(),
            cluster: String::new(),
            child,
            home: home.to_path_buf(),
            root,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!("no ready line from the lab ({e}); its log:\n{}", lab.log()),
        };
        let fields = parse_ready_line(&line)
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}; log:\n{}", lab.log()));
        lab.addr = fields.0;
        lab.identity = fields.1;
        lab.cluster = fields.2;
        lab.ready_line = line;
        lab
    }

    /// The temp dir holding everything of this lab.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The `MWICTL_HOME` of this lab (holds the saved profile).
    pub fn home(&self) -> PathBuf {
        self.home.clone()
    }

    /// What the lab wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("lab.log")).unwrap_or_default()
    }

    /// `mwictl ARGS` using this lab's profile, without a TTY.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        mwictl_cmd(&self.home(), args)
    }

    /// `mwictl ARGS` with an empty home (no profile): only flags say where to connect.
    pub fn bare_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        mwictl_cmd(&self.root.path().join("bare-home"), args)
    }

    /// mwictl's own client, connected as the lab's admin (call inside a tokio runtime).
    pub async fn client(&self) -> mwictl::client::Client {
        let identity = ClientIdentity::load(&self.identity).expect("admin identity");
        let target = Target {
            addr: self.addr.clone(),
            identity: self.identity.clone(),
            via_proxy: false,
        };
        let connection = connect::connect(&target, &identity)
            .await
            .expect("connect as admin");
        mwictl::client::Client::new(connection)
    }

    /// Runs `f` with a generated tonic client connected as the lab's admin, through mwictl's
    /// connect module: for setting up server state without the commands under test.
    pub fn admin<T>(&self, f: impl AsyncFnOnce(AuthServiceClient<Channel>) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let identity = ClientIdentity::load(&self.identity).expect("admin identity");
            let target = Target {
                addr: self.addr.clone(),
                identity: self.identity.clone(),
                via_proxy: false,
            };
            let connection = connect::connect(&target, &identity)
                .await
                .expect("connect as admin");
            f(AuthServiceClient::new(connection.channel)).await
        })
    }

    /// Replaces this run's variable parts (temp paths, port, cluster) with stable markers.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root.path().display().to_string(), "[ROOT]")
            .replace(&self.addr, "[ADDR]")
    }
}

impl Lab {
    /// Stops the lab as an operator would (SIGTERM) and returns its exit code, or `None` if it
    /// had to be killed after 10 s.
    /// The lab process's id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own, not yet reaped child has no memory-safety
            // preconditions.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `mwictl ARGS` with `MWICTL_HOME=home`, no Teleport env vars and no stdin.
pub fn mwictl_cmd(home: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.args(args)
        .env("MWICTL_HOME", home)
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .write_stdin("");
    cmd
}

/// `(addr, identity, cluster)` of `lab auth service ready: addr=A identity=P cluster=C`.
pub fn parse_ready_line(line: &str) -> Option<(String, PathBuf, String)> {
    let rest = line.strip_prefix("lab auth service ready: addr=")?;
    let (addr, rest) = rest.split_once(" identity=")?;
    let (identity, cluster) = rest.rsplit_once(" cluster=")?;
    Some((addr.into(), identity.into(), cluster.into()))
}

/// The output of a finished command, as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the command and captures its exit code and output.
pub fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out = cmd.output().expect("run mwictl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A free loopback address nothing listens on.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    addr
}

/// insta settings that hide UUIDs and timestamps.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[UUID]",
    );
    settings.add_filter(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
        "[TIME]",
    );
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The child's peak resident memory (KiB), sampled from /proc until it exits. `ru_maxrss` from
/// wait4 would not do: at exec the kernel records the spawning process's peak, and the test
/// process is far bigger than mwictl.
pub fn sample_peak_rss(pid: u32) -> i64 {
    let path = format!("/proc/{pid}/status");
    let mut peak = 0;
    while let Ok(status) = std::fs::read_to_string(&path) {
        if status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains("zombie"))
        {
            break;
        }
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        peak = peak.max(hwm);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    peak
}

//! The real `mwictl lab start` as a child process, for tests that need the binary: started on a
//! free loopback port in a temp dir (which also holds mwictl's home), stopped with SIGTERM (then
//! killed) when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a lab may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `mwictl lab start` and the temp dir holding its data and mwictl's home.
pub struct LabProcess {
    /// The ready line as printed, without the newline.
    pub ready_line: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The admin identity file.
    pub identity: PathBuf,
    pub cluster: String,
    /// The lab proxy's `127.0.0.1:PORT`, when started with `--proxy-listen`.
    pub proxy: Option<String>,
    child: Child,
    /// mwictl's home (the saved profile): in `root`, or another lab's.
    home: PathBuf,
    root: tempfile::TempDir,
}

impl LabProcess {
    /// Starts `bin lab start` with data in a new temp dir and `extra` arguments.
    pub fn start(bin: &Path, extra: &[&str]) -> LabProcess {
        let root = tempfile::tempdir().expect("temp dir");
        let lab_dir = root.path().join("lab");
        LabProcess::launch(bin, root, &lab_dir, extra)
    }

    /// Starts `bin lab start` on an existing data dir (of a stopped lab), with a fresh home.
    pub fn start_on(bin: &Path, lab_dir: &Path) -> LabProcess {
        LabProcess::launch(bin, tempfile::tempdir().expect("temp dir"), lab_dir, &[])
    }

    /// Starts a second lab (data in a new temp dir) whose mwictl home is `home`, another lab's.
    pub fn start_sharing_home(bin: &Path, home: &Path, extra: &[&str]) -> LabProcess {
        let root = tempfile::tempdir().expect("temp dir");
        let lab_dir = root.path().join("lab");
        LabProcess::launch_in(bin, root, &lab_dir, home, extra)
    }

    fn launch(bin: &Path, root: tempfile::TempDir, lab_dir: &Path, extra: &[&str]) -> LabProcess {
        let home = root.path().join("home");
        LabProcess::launch_in(bin, root, lab_dir, &home, extra)
    }

    fn launch_in(
        bin: &Path,
        root: tempfile::TempDir,
        lab_dir: &Path,
        home: &Path,
        extra: &[&str],
    ) -> LabProcess {
        let log = std::fs::File::create(root.path().join("lab.log")).expect("log file");
        let mut command = std::process::Command::new(bin);
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
        let mut lab = LabProcess {
            ready_line: String::new(),
            addr: String::new(),
            identity: PathBuf::new(),
            cluster: String::new(),
            proxy: None,
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
        lab.proxy = line.split_once(" proxy=").map(|(_, addr)| addr.to_string());
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

    /// The lab process's id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the lab as an operator would (SIGTERM) and returns its exit code, or `None` if it
    /// had to be killed after 10 s.
    pub fn stop(&mut self) -> Option<i32> {
        terminate(&mut self.child, Duration::from_secs(10))
    }
}

/// Sends SIGTERM to `child` unless it has exited, waits up to `grace` for it to end and kills
/// it after that. Returns its exit code, or `None` if it was killed (or died of a signal).
pub fn terminate(child: &mut Child, grace: Duration) -> Option<i32> {
    if let Ok(Some(status)) = child.try_wait() {
        return status.code();
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own, not yet reaped child has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `(addr, identity, cluster)` of `lab auth service ready: addr=A identity=P cluster=C`
/// (followed by ` proxy=ADDR` when the lab runs a proxy).
pub fn parse_ready_line(line: &str) -> Option<(String, PathBuf, String)> {
    let rest = line.strip_prefix("lab auth service ready: addr=")?;
    let (addr, rest) = rest.split_once(" identity=")?;
    let rest = rest.rsplit_once(" proxy=").map_or(rest, |(head, _)| head);
    let (identity, cluster) = rest.rsplit_once(" cluster=")?;
    Some((addr.into(), identity.into(), cluster.into()))
}

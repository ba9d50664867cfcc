//! The e2e side of the test kit: the real `mwictl lab start` (`mwi_testkit::process`) with the
//! commands and clients that reach it, and helpers to run the binary and read its output.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use bytes::Bytes;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
pub use mwi_testkit::closed_port;
use mwi_testkit::process::LabProcess;
pub use mwi_testkit::process::parse_ready_line;
use mwi_testkit::scripted::Scripted;
use mwictl::connect::{self, ClientIdentity, Target};
use tonic::transport::Channel;

pub const BIN: &str = env!("CARGO_BIN_EXE_mwictl");

/// A running lab auth service (this build's `mwictl lab start`) and the temp dir holding its
/// data and mwictl's home; stopped when dropped.
pub struct Lab(LabProcess);

impl Deref for Lab {
    type Target = LabProcess;
    fn deref(&self) -> &LabProcess {
        &self.0
    }
}

impl DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut LabProcess {
        &mut self.0
    }
}

impl Lab {
    /// Starts a lab with default options.
    pub fn start() -> Lab {
        Lab::start_with(&[])
    }

    /// Starts a lab with extra `lab start` arguments.
    pub fn start_with(extra: &[&str]) -> Lab {
        Lab(LabProcess::start(Path::new(BIN), extra))
    }

    /// Starts a lab on an existing data dir (of a stopped lab), with a fresh home.
    pub fn start_on(lab_dir: &Path) -> Lab {
        Lab(LabProcess::start_on(Path::new(BIN), lab_dir))
    }

    /// Starts a second lab that shares `first`'s home (and so its saved profile).
    pub fn start_sharing_home(first: &Lab, extra: &[&str]) -> Lab {
        Lab(LabProcess::start_sharing_home(
            Path::new(BIN),
            &first.home(),
            extra,
        ))
    }

    /// `mwictl ARGS` using this lab's profile, without a TTY.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        mwictl_cmd(&self.home(), args)
    }

    /// `mwictl ARGS` with an empty home (no profile): only flags say where to connect.
    pub fn bare_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        mwictl_cmd(&self.root().join("bare-home"), args)
    }

    /// mwictl's own client, connected as the lab's admin (call inside a tokio runtime).
    pub async fn client(&self) -> mwictl::client::Client {
        mwictl::client::Client::new(admin_connection(self).await)
    }

    /// Runs `f` with a generated tonic client connected as the lab's admin, through mwictl's
    /// connect module: for setting up server state without the commands under test.
    pub fn admin<T>(&self, f: impl AsyncFnOnce(AuthServiceClient<Channel>) -> T) -> T {
        with_admin(self, async |channel| {
            f(AuthServiceClient::new(channel)).await
        })
    }

    /// Replaces this run's variable parts (temp paths, port, cluster) with stable markers.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root().display().to_string(), "[ROOT]")
            .replace(&self.addr, "[ADDR]")
    }
}

async fn admin_connection(lab: &Lab) -> connect::Connection {
    let identity = ClientIdentity::load(&lab.identity).expect("admin identity");
    let target = Target {
        addr: lab.addr.clone(),
        identity: lab.identity.clone(),
        via_proxy: false,
    };
    connect::connect(&target, &identity)
        .await
        .expect("connect as admin")
}

/// Runs `f` on a channel connected as the lab's admin through mwictl's connect module (for any
/// generated client), on a runtime of its own.
pub fn with_admin<T>(lab: &Lab, f: impl AsyncFnOnce(Channel) -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async { f(admin_connection(lab).await.channel).await })
}

/// One unary call as the lab's admin with raw bytes both ways, so requests can carry fields no
/// message declares.
pub fn raw_call(lab: &Lab, method: &'static str, body: Vec<u8>) -> Result<Bytes, tonic::Status> {
    with_admin(lab, async |channel| {
        mwi_testkit::wire::raw_call(channel, method, body).await
    })
}

/// A teleport.yaml whose auth service is disabled: tests point TELEPORT_CONFIG_FILE at it, so
/// a /etc/teleport.yaml of the machine never selects the auth host's credentials.
pub fn not_an_auth_host() -> &'static Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("not-an-auth-host.yaml");
        std::fs::write(&path, "auth_service:\n  enabled: no\n").expect("write config");
        path
    })
}

/// Where every mwictl a test runs looks for its files: `MWICTL_HOME=home`, tsh's profiles in an
/// empty `home/tsh` (never the user's ~/.tsh), a teleport.yaml that is not an auth host's (never
/// the machine's /etc/teleport.yaml). Commands built by hand take it with `.envs(...)`.
pub fn hermetic_env(home: &Path) -> [(&'static str, std::path::PathBuf); 3] {
    [
        ("MWICTL_HOME", home.to_path_buf()),
        ("TELEPORT_HOME", home.join("tsh")),
        ("TELEPORT_CONFIG_FILE", not_an_auth_host().to_path_buf()),
    ]
}

/// `mwictl ARGS` with [`hermetic_env`], no Teleport env vars and no stdin.
pub fn mwictl_cmd(home: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.args(args)
        .envs(hermetic_env(home))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .env_remove("TELEPORT_TLS_ROUTING_CONN_UPGRADE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .write_stdin("");
    cmd
}

/// `mwictl ARGS` connected to the scripted server, with `MWICTL_HOME=home`.
pub fn scripted_cmd(server: &Scripted, home: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = mwictl_cmd(home, &[]);
    cmd.args(server.flags()).args(args);
    cmd
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

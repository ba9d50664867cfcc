//! Closed pipes: when the reader of stdout (`| head -1`) or stderr goes away, mwictl stops
//! writing quietly and ends with the command's own exit status, never "Broken pipe".

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::harness::BIN;

/// S1 as the auth service logs it; repeated, doctor's report is long.
const S1_AUTH_LINE: &str = "2026-11-26T10:00:00Z [AUTH]      WARN lock targeting User:\"bot-example\" is in force: The bot user \"bot-example\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate. auth/apiserver.go:224\n";

/// A pipe whose read end is already closed: every write to the returned end fails with EPIPE.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two new descriptors into the array we own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

/// Which of the child's outputs has no reader.
#[derive(Clone, Copy)]
pub enum Closed {
    Stdout,
    Stderr,
}

/// Runs `mwictl ARGS` (no profile, no stdin) with one output a closed pipe; returns the exit
/// code and what went to the other output.
pub fn run_closed(home: &std::path::Path, args: &[&str], closed: Closed) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .envs(crate::harness::hermetic_env(home))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    match closed {
        Closed::Stdout => cmd
            .stdout(Stdio::from(closed_pipe()))
            .stderr(Stdio::piped()),
        Closed::Stderr => cmd
            .stderr(Stdio::from(closed_pipe()))
            .stdout(Stdio::piped()),
    };
    let out = cmd.output().expect("run mwictl");
    let other = match closed {
        Closed::Stdout => &out.stderr,
        Closed::Stderr => &out.stdout,
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(other).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_every_kind_of_output_quietly_with_the_commands_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, S1_AUTH_LINE.repeat(2000)).unwrap();
    let config = dir.path().join("tbot.yaml");
    std::fs::write(
        &config,
        "version: v2\nproxy_server: example.teleport.sh:443\nonboarding:\n  join_method: kubernetes\n  token: kube-token\nstorage:\n  type: memory\nservices:\n  - type: kubernetes\n    kubernetes_cluster: prod\n    destination:\n      type: kubernetes_secret\n      name: identity-output\n",
    )
    .unwrap();
    let (log, config) = (log.to_str().unwrap(), config.to_str().unwrap());
    let cases: [(&[&str], i32); 6] = [
        // doctor and lint write their reports piece by piece; findings are exit 1.
        (&["doctor", log], 1),
        (&["doctor", "--format", "json", log], 1),
        // At 16.0.3 tbot still fails a kubernetes_secret output in exec-plugin mode (S5, an error).
        (&["lint", "--teleport-version", "16.0.3", config], 1),
        (
            &[
                "lint",
                "--teleport-version",
                "16.0.3",
                "--format",
                "json",
                config,
            ],
            1,
        ),
        // Everything else goes through the printer in one piece.
        (&["completions", "bash"], 0),
        (&["--help"], 0),
    ];
    for (args, status) in cases {
        let (code, stderr) = run_closed(dir.path(), args, Closed::Stdout);
        assert_eq!((code, stderr.as_str()), (status, ""), "mwictl {args:?}");
    }
}

#[test]
fn a_closed_stderr_does_not_turn_an_error_into_a_crash() {
    let home = tempfile::tempdir().unwrap();
    // No profile: "error: no auth server configured" goes to the closed stderr; still exit 2.
    let (code, stdout) = run_closed(home.path(), &["ping"], Closed::Stderr);
    assert_eq!((code, stdout.as_str()), (2, ""));
    // Status lines and warnings on a closed stderr do not stop the data on stdout.
    let (code, stdout) = run_closed(home.path(), &["completions", "bash"], Closed::Stderr);
    assert_eq!(code, 0);
    assert!(stdout.contains("_mwictl()"), "{stdout}");
}

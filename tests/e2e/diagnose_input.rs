//! What `mwictl doctor` and `mwictl lint` accept as input: gzip-compressed logs read as they are,
//! other binary input refused (exit 2, with the command that reads it), partly unreadable input
//! reported like grep does, standard input, directories and oversized configs. No lab needed.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::{Eof, Session};

use crate::harness::{BIN, Run, mwictl_cmd, run};

const S1_LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../diag/tests/corpus/logs/s1_newest_journal.log"
);

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn doctor_json(home: &std::path::Path, args: &[&str], stdin: Vec<u8>) -> Run {
    let mut cmd = mwictl_cmd(home, &["doctor", "--format", "json"]);
    cmd.args(args).write_stdin(stdin);
    run(&mut cmd)
}

fn incidents(out: &Run) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["incident"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn doctor_reads_a_gzip_compressed_s1_log_like_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(S1_LOG).unwrap();
    // Named without .gz: the content tells, not the name. Two members, as logrotate + cat make.
    let (head, tail) = plain.split_at(plain.len() / 2);
    let mut zipped = gzip(head);
    zipped.extend(gzip(tail));
    let path = dir.path().join("tbot.log.1");
    std::fs::write(&path, &zipped).unwrap();
    let expected = doctor_json(dir.path(), &[S1_LOG], Vec::new());
    assert_eq!(expected.code, 1, "{}", expected.stderr);
    assert_eq!(incidents(&expected), ["S1"]);
    let from_file = doctor_json(dir.path(), &[path.to_str().unwrap()], Vec::new());
    assert_eq!(from_file.code, 1, "{}", from_file.stderr);
    assert_eq!(incidents(&from_file), incidents(&expected));
    let from_stdin = doctor_json(dir.path(), &["-"], zipped);
    assert_eq!(from_stdin.code, 1, "{}", from_stdin.stderr);
    assert_eq!(incidents(&from_stdin), incidents(&expected));
}

#[test]
fn doctor_refuses_a_binary_file_with_exit_2_and_no_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core");
    let noise: Vec<u8> = (0u32..300_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&path, noise).unwrap();
    let out = run(&mut mwictl_cmd(
        dir.path(),
        &["doctor", path.to_str().unwrap()],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "", "no report, no findings");
    assert!(
        out.stderr.contains("it is binary, not a log"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn doctor_names_zstdcat_for_a_zstd_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tbot.log.zst");
    std::fs::write(&path, [0x28, 0xB5, 0x2F, 0xFD, 0x24, 0x05, 0x29, 0x00]).unwrap();
    let path = path.to_str().unwrap();
    let out = run(&mut mwictl_cmd(dir.path(), &["doctor", path]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains(&format!("zstdcat {path} | mwictl doctor -")),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_reports_the_readable_file_then_the_missing_one_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut mwictl_cmd(
        dir.path(),
        &["doctor", S1_LOG, "/nonexistent/missing.log"],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stdout.contains("S1 generation mismatch"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("cannot open /nonexistent/missing.log"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_on_a_terminal_says_it_reads_stdin() {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("doctor")
        .envs(crate::harness::hermetic_env(home.path()))
        .env_remove("RUST_LOG");
    let mut s = Session::spawn(command).expect("spawn mwictl under a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    s.expect("reading from stdin (Ctrl-D to end)")
        .expect("the prompt");
    s.send("\x04").unwrap();
    s.expect("No known incident found").expect("the report");
    s.expect(Eof).expect("exits");
}

#[test]
fn lint_reads_standard_input_for_dash() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = mwictl_cmd(dir.path(), &["lint", "--format", "json", "-"]);
    cmd.write_stdin("version: v2\nproxy_sever: example.teleport.sh:443\n");
    let out = run(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("lint JSON");
    assert_eq!(report["files"][0]["path"], "-", "{}", out.stdout);
}

#[test]
fn lint_of_a_directory_asks_for_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut mwictl_cmd(
        dir.path(),
        &["lint", dir.path().to_str().unwrap()],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is a directory; give the tbot.yaml files"),
        "{}",
        out.stderr
    );
}

#[test]
fn lint_refuses_a_50_mb_file_or_stdin_at_once_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    let line = b"key: value\n";
    let big: Vec<u8> = line.iter().copied().cycle().take(50 << 20).collect();
    std::fs::write(&path, &big).unwrap();
    let started = Instant::now();
    let out = run(&mut mwictl_cmd(
        dir.path(),
        &["lint", path.to_str().unwrap()],
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} is larger than 1048576 bytes (1 MiB)",
            path.display()
        )),
        "{}",
        out.stderr
    );
    let mut cmd = mwictl_cmd(dir.path(), &["lint", "-"]);
    cmd.write_stdin(big);
    let out = run(&mut cmd);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("- is larger than 1048576 bytes"),
        "{}",
        out.stderr
    );
}

/// `lint --format json` of `config` (written to a temp file) with `extra` flags: exit code and
/// each finding as `rule:severity`.
fn lint_findings(home: &std::path::Path, config: &str, extra: &[&str]) -> (i32, Vec<String>) {
    let path = home.join("tbot.yaml");
    std::fs::write(&path, config).unwrap();
    let mut args = vec!["lint", "--format", "json"];
    args.extend(extra);
    args.push(path.to_str().unwrap());
    let out = run(&mut mwictl_cmd(home, &args));
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("lint JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    let findings = report["files"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    (out.code, findings)
}

#[test]
fn lint_checks_this_machine_only_with_on_host() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let config = format!(
        "version: v2\nproxy_server: teleport.example.com:443\nonboarding:\n  join_method: token\n  token: /nonexistent/tbot/token\nstorage:\n  type: directory\n  path: {}\n",
        storage.display()
    );
    // Elsewhere: the host checks are notes that they were not made; exit 0.
    let (code, findings) = lint_findings(dir.path(), &config, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(
        findings.contains(&"token-path-missing:info".to_string()),
        "{findings:?}"
    );
    assert!(
        findings.contains(&"network-storage:info".to_string()),
        "{findings:?}"
    );
    // On the bot's host: the token file is looked for (missing: an error), the file system read
    // (a local temp dir: nothing to say).
    let (code, findings) = lint_findings(dir.path(), &config, &["--on-host"]);
    assert_eq!(code, 1, "{findings:?}");
    assert!(
        findings.contains(&"token-path-missing:error".to_string()),
        "{findings:?}"
    );
    assert!(
        !findings.iter().any(|f| f.starts_with("network-storage")),
        "{findings:?}"
    );
    // A token file that exists is fine.
    std::fs::write(dir.path().join("token"), "secret").unwrap();
    let config = config.replace(
        "/nonexistent/tbot/token",
        dir.path().join("token").to_str().unwrap(),
    );
    let (code, findings) = lint_findings(dir.path(), &config, &["--on-host"]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(
        !findings.iter().any(|f| f.starts_with("token-path-missing")),
        "{findings:?}"
    );
}

#[test]
fn lint_on_host_asks_auth_server_whether_a_proxy_answers() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the probe gets no answer, so S7 stays and says what it saw.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = format!(
        "version: v2\nauth_server: 127.0.0.1:{port}\nservices:\n  - type: identity\n    destination: {{type: directory, path: {}}}\n",
        dir.path().join("out").display()
    );
    let path = dir.path().join("tbot.yaml");
    std::fs::write(&path, &config).unwrap();
    let p = path.to_str().unwrap();
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", "--on-host", p]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("warning[auth-server-ssh-config]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "No Teleport proxy answered at https://127.0.0.1:{port}/webapi/find"
        )),
        "{}",
        out.stdout
    );
    // Off the bot's host, whether tbot reaches the proxy is unknown: a note saying how to ask.
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", p]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("info[auth-server-ssh-config]")
            && out.stdout.contains("run lint with --on-host"),
        "{}",
        out.stdout
    );
    // A proxy port needs no probe: a note, exit 0.
    std::fs::write(
        &path,
        config.replace(&format!("127.0.0.1:{port}"), "teleport.example.com:443"),
    )
    .unwrap();
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", p]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("info[auth-server-ssh-config]"),
        "{}",
        out.stdout
    );
}

#[test]
fn lint_on_host_takes_auth_server_for_a_proxy_when_one_answers_webapi_find() {
    let dir = tempfile::tempdir().unwrap();
    let body = r#"{"auth":{"type":"local"},"proxy":{"tls_routing_enabled":true},"server_version":"17.4.2","cluster_name":"example.com"}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let proxy = mwi_testkit::web::WebServer::answering(&["localhost"], &response);
    let config = format!(
        "version: v2\nauth_server: {}\nservices:\n  - type: identity\n    destination: {{type: directory, path: {}}}\n",
        proxy.addr,
        dir.path().join("out").display()
    );
    let path = dir.path().join("tbot.yaml");
    std::fs::write(&path, &config).unwrap();
    let p = path.to_str().unwrap();
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", "--on-host", p]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("info[auth-server-ssh-config]")
            && out.stdout.contains("a Teleport proxy answered")
            && out.stdout.contains("cluster example.com, Teleport 17.4.2"),
        "{}",
        out.stdout
    );
    // Not on the host: nothing is asked, and S7 is the note that says so.
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", p]));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        !out.stdout.contains("a Teleport proxy answered")
            && out.stdout.contains("not checked here"),
        "{}",
        out.stdout
    );
    // Something else answering is not a proxy: S7 stays, naming what answered.
    let other = mwi_testkit::web::WebServer::answering(
        &["localhost"],
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    std::fs::write(&path, config.replace(&proxy.addr, &other.addr)).unwrap();
    let out = run(&mut mwictl_cmd(dir.path(), &["lint", "--on-host", p]));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("answered, but not as a Teleport proxy (HTTP/1.1 404 Not Found)"),
        "{}",
        out.stdout
    );
}

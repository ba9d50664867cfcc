//! Credentials from a tsh profile: `lab start --tsh-home` logs a lab user in as tsh would (v17+
//! layout), and mwictl without -i uses that profile as tctl does.

use std::path::Path;

use crate::harness::{Lab, run};

fn tsh_lab() -> (Lab, tempfile::TempDir) {
    let tsh = tempfile::tempdir().unwrap();
    let dir = tsh.path().display().to_string();
    let lab = Lab::start_with(&["--tsh-home", &dir, "--no-profile"]);
    (lab, tsh)
}

fn cmd(lab: &Lab, tsh: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = lab.bare_cmd(args);
    cmd.env("TELEPORT_HOME", tsh);
    cmd
}

#[test]
fn lab_writes_a_v17_profile_and_ping_says_it_was_used() {
    let (lab, tsh) = tsh_lab();
    let keys = tsh.path().join("keys/127.0.0.1");
    for file in ["lab-admin.key", "lab-admin.crt"] {
        assert!(keys.join(file).is_file(), "{file}");
    }
    assert!(keys.join(format!("cas/{}.pem", lab.cluster)).is_file());
    assert_eq!(
        std::fs::read_to_string(tsh.path().join("current-profile")).unwrap(),
        "127.0.0.1\n"
    );

    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &["--auth-server", &lab.addr, "ping", "--format", "json"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["credentials"], "tsh profile 127.0.0.1");
    assert_eq!(json["user"], "lab-admin");
    assert_eq!(json["auth_server"], lab.addr.as_str());

    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &["--auth-server", &lab.addr, "ping"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("(tsh profile 127.0.0.1, user lab-admin)"),
        "{}",
        out.stdout
    );

    // The profile's certificate is a working admin's: a command that reads the cluster.
    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &["--auth-server", &lab.addr, "locks", "ls"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn the_profiles_proxy_without_tls_routing_is_said_in_one_line() {
    let (lab, tsh) = tsh_lab();
    let out = run(&mut cmd(&lab, tsh.path(), &["ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("its proxy {} has no TLS routing", lab.addr))
            && first.contains("--auth-server"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_or_truncated_key_names_the_file_and_an_identity_file_wins() {
    let (lab, tsh) = tsh_lab();
    let key = tsh.path().join("keys/127.0.0.1/lab-admin.key");
    let text = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, &text[..text.len() / 2]).unwrap();
    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &["--auth-server", &lab.addr, "ping"],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&*key.to_string_lossy()) && out.stderr.contains("truncated"),
        "{}",
        out.stderr
    );

    std::fs::remove_file(&key).unwrap();
    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &["--auth-server", &lab.addr, "ping"],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("lab-admin.key is missing")
            && out
                .stderr
                .contains(&format!("tsh login --proxy={}", lab.addr)),
        "{}",
        out.stderr
    );

    let identity = lab.identity.display().to_string();
    let out = run(&mut cmd(
        &lab,
        tsh.path(),
        &[
            "--auth-server",
            &lab.addr,
            "-i",
            &identity,
            "ping",
            "--format",
            "json",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["credentials"], "identity file");
}

#[test]
fn with_the_lab_proxy_the_profile_alone_reaches_auth_by_tls_routing() {
    let tsh = tempfile::tempdir().unwrap();
    let dir = tsh.path().display().to_string();
    let lab = Lab::start_with(&[
        "--tsh-home",
        &dir,
        "--no-profile",
        "--proxy-listen",
        "127.0.0.1:0",
    ]);
    let proxy = lab.proxy.clone().expect("the ready line names the proxy");
    let out = run(&mut cmd(&lab, tsh.path(), &["ping", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["auth_server"], proxy.as_str());
    assert_eq!(json["via_proxy"], true);
    assert_eq!(json["source"], "tsh_profile");
    assert_eq!(json["credentials"], "tsh profile 127.0.0.1");
    assert_eq!(json["user"], "lab-admin");
}

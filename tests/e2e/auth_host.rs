//! The auth host's credentials: `lab start` makes its data dir look like an auth host's
//! (host_uuid, proc/sqlite.db, teleport.yaml) and `mwictl -c teleport.yaml` uses the local Admin
//! identity from it, as tctl does there; tctl's errors when its files are missing.

use crate::harness::{Lab, run};

#[test]
fn the_labs_teleport_yaml_selects_the_local_admin_identity() {
    let lab = Lab::start_with(&["--no-profile"]);
    let config = lab.identity.parent().unwrap().join("teleport.yaml");
    let config_arg = config.display().to_string();
    let out = run(&mut lab.bare_cmd(&["-c", &config_arg, "ping", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["auth_server"], lab.addr.as_str());
    assert_eq!(json["source"], "config");
    assert_eq!(json["credentials"], format!("auth host {config_arg}"));
    assert_eq!(json["user"], "admin");

    // The environment variable works as -c does, and -i still wins over it.
    let identity = lab.identity.display().to_string();
    let out = run(lab
        .bare_cmd(&[
            "--auth-server",
            &lab.addr,
            "-i",
            &identity,
            "ping",
            "--format",
            "json",
        ])
        .env("TELEPORT_CONFIG_FILE", &config));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["credentials"], "identity file");
    let out = run(lab
        .bare_cmd(&["locks", "ls"])
        .env("TELEPORT_CONFIG_FILE", &config));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn missing_auth_host_files_get_tctls_errors() {
    let lab = Lab::start_with(&["--no-profile"]);
    let data = lab.identity.parent().unwrap().to_path_buf();
    let config = data.join("teleport.yaml").display().to_string();

    let out = run(&mut lab.bare_cmd(&["-c", "/nonexistent/teleport.yaml", "ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/teleport.yaml: not found"),
        "{}",
        out.stderr
    );

    std::fs::rename(data.join("proc/sqlite.db"), data.join("proc/moved.db")).unwrap();
    let out = run(&mut lab.bare_cmd(&["-c", &config, "ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("tctl must be used on an Auth Service host or provided with credentials by logging in with tsh first.")
            && out.stderr.contains("sqlite.db"),
        "{}",
        out.stderr
    );

    std::fs::remove_file(data.join("host_uuid")).unwrap();
    let out = run(&mut lab.bare_cmd(&["-c", &config, "ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Could not load Teleport host UUID file at {}",
            data.join("host_uuid").display()
        )),
        "{}",
        out.stderr
    );
}

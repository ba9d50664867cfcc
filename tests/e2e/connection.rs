//! Connecting: the profile, explicit flags, and every way a connection can fail, each with its
//! exit code and a one-line error with a hint.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Lab, closed_port, mwictl_cmd, run, snapshot_settings};

#[test]
fn ping_uses_the_saved_profile() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["ping"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = lab.redact(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Server version: "))
        .expect("version line")
        .to_string();
    let text = text.replace(&version, "[VERSION]");
    snapshot_settings().bind(|| insta::assert_snapshot!("ping_text", text));
}

#[test]
fn ping_with_explicit_flags_needs_no_profile() {
    let lab = Lab::start();
    let identity = lab.identity.display().to_string();
    let out = run(&mut lab.bare_cmd(&[
        "--auth-server",
        &lab.addr,
        "-i",
        &identity,
        "ping",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json["cluster_name"], lab.cluster.as_str());
    assert_eq!(json["auth_server"], lab.addr.as_str());
    assert_eq!(json["identity"], identity.as_str());
    assert_eq!(json["source"], "flags");
    assert!(
        json["server_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
}

#[test]
fn ping_reads_the_teleport_env_vars() {
    let lab = Lab::start();
    let out = run(lab
        .bare_cmd(&["ping", "--format", "yaml"])
        .env("TELEPORT_AUTH_SERVER", &lab.addr)
        .env("TELEPORT_IDENTITY_FILE", &lab.identity));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("cluster_name: {}", lab.cluster)),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("source: flags"), "{}", out.stdout);
}

#[test]
fn nothing_configured_says_how_to_start_a_lab() {
    let home = tempfile::tempdir().unwrap();
    let out = run(&mut mwictl_cmd(home.path(), &["ping"]));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: no auth server configured\n\
         hint: start a lab with `mwictl lab start`, or pass --auth-server HOST:PORT and -i FILE\n"
    );
}

#[test]
fn identity_of_another_cluster_is_refused_with_exit_6() {
    let lab_a = Lab::start();
    let lab_b = Lab::start();
    let identity_a = lab_a.identity.display().to_string();
    let out = run(&mut lab_b.bare_cmd(&["--auth-server", &lab_b.addr, "-i", &identity_a, "ping"]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "error: the server's certificate at {} is not signed by the CA in {identity_a}: wrong cluster or stale identity",
            lab_b.addr
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\nhint: "), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn missing_identity_file_is_a_usage_error() {
    let lab = Lab::start();
    let missing = lab.root().join("nope.identity").display().to_string();
    let out = run(&mut lab.bare_cmd(&["--auth-server", &lab.addr, "-i", &missing, "ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("error: identity file {missing}: not found")),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        2,
        "one error line and one hint: {}",
        out.stderr
    );
}

#[test]
fn identity_without_a_ca_block_is_a_usage_error() {
    let lab = Lab::start();
    let text = std::fs::read_to_string(&lab.identity).unwrap();
    // Keep the key, the SSH cert and the TLS cert; drop the CA blocks after them.
    let cert_end =
        text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
    let path = lab.root().join("no-ca.identity");
    std::fs::write(&path, &text[..cert_end]).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&mut lab.cmd(&["-i", path.to_str().unwrap(), "ping"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no TLS CA certificate block"),
        "{}",
        out.stderr
    );
}

#[test]
fn expired_identity_is_refused_before_connecting() {
    let lab = Lab::start();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let mut identity = mwi_identity::IdentityFile::read(&lab.identity)
        .unwrap()
        .identity;
    identity.private_key_pem = key.serialize_pem();
    identity.tls_cert_pem = cert.pem();
    let path = lab.root().join("expired.identity");
    identity.write(&path).unwrap();
    let out = run(&mut lab.cmd(&["-i", path.to_str().unwrap(), "ping"]));
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: the client certificate in {} expired at 2023-11-14T22:13:20Z (",
            path.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("hint: get a new identity with `tctl auth sign"),
        "{}",
        out.stderr
    );
}

#[test]
fn unreachable_server_exits_6_with_a_lab_hint() {
    let home = tempfile::tempdir().unwrap();
    let lab = Lab::start();
    let addr = closed_port();
    let identity = lab.identity.display().to_string();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["--auth-server", &addr, "-i", &identity, "ping"],
    ));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to the auth server at {addr}: connection refused\n\
             hint: is it running? start one with `mwictl lab start`, or pass --auth-server HOST:PORT\n"
        )
    );
}

#[test]
fn world_readable_identity_warns_like_ssh_and_still_works() {
    let lab = Lab::start();
    let path = lab.root().join("open.identity");
    std::fs::copy(&lab.identity, &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&mut lab.cmd(&["-i", path.to_str().unwrap(), "ping"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "warning: identity file {} is readable by group or others (mode 0644); run `chmod 600 {}`",
            path.display(),
            path.display()
        )),
        "{}",
        out.stderr
    );
    let quiet = run(&mut lab.cmd(&["-q", "-i", path.to_str().unwrap(), "ping"]));
    assert_eq!(quiet.stderr, "");
}

#[test]
fn verbose_logs_the_dial_and_the_ping_to_stderr() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["-v", "ping", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("dialing the auth service"),
        "{}",
        out.stderr
    );
    serde_json::from_str::<serde_json::Value>(&out.stdout).expect("stdout stays pure JSON");
}

#[test]
fn client_certificate_of_another_cluster_is_refused_with_exit_6() {
    let lab_a = Lab::start();
    let lab_b = Lab::start();
    // Trusts lab A's CA (so the server check passes) but presents lab B's certificate.
    let mut mixed = mwi_identity::IdentityFile::read(&lab_a.identity)
        .unwrap()
        .identity;
    let b = mwi_identity::IdentityFile::read(&lab_b.identity)
        .unwrap()
        .identity;
    mixed.private_key_pem = b.private_key_pem;
    mixed.tls_cert_pem = b.tls_cert_pem;
    let path = lab_a.root().join("mixed.identity");
    mixed.write(&path).unwrap();
    let out = run(&mut lab_a.cmd(&["-i", path.to_str().unwrap(), "ping"]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: the server at {} refused the client certificate in {}",
            lab_a.addr,
            path.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn unreachable_proxy_is_named_as_the_proxy_with_a_proxy_hint() {
    let home = tempfile::tempdir().unwrap();
    let lab = Lab::start();
    let addr = closed_port();
    let identity = lab.identity.display().to_string();
    let out = run(&mut mwictl_cmd(
        home.path(),
        &["--proxy", &addr, "-i", &identity, "ping"],
    ));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to the proxy at {addr}: connection refused\n\
             hint: is the proxy running and the address right? pass --proxy HOST:PORT (its TLS-routing port, often 443)\n"
        )
    );
    assert!(!out.stderr.contains("--auth-server"), "{}", out.stderr);
}

/// The rule `--help` (EXIT STATUS), the man page and the README state: a local input file that
/// is missing is a usage error (2), not "not found" (3, for resources on the server); a server
/// of another cluster (wrong CA) is "unreachable" (6), with a hint naming the identity.
#[test]
fn exit_codes_follow_the_documented_rule_for_missing_files_and_a_wrong_ca() {
    let lab_a = Lab::start();
    let lab_b = Lab::start();
    let help = run(&mut lab_a.bare_cmd(&["--help"]));
    assert_eq!(help.code, 0, "{}", help.stderr);
    for line in [
        "  2       usage: bad arguments or flags, or a local input file",
        "  3       not found: the named resource",
        "  6       unreachable: no trusted connection to the auth server",
    ] {
        assert!(help.stdout.contains(line), "{line:?} in {}", help.stdout);
    }

    let missing = lab_a.root().join("missing");
    let missing = missing.to_str().unwrap();
    let addr = lab_a.addr.as_str();
    for args in [
        vec!["--auth-server", addr, "-i", missing, "ping"],
        vec!["doctor", missing],
        vec!["lint", missing],
    ] {
        let out = run(&mut lab_a.bare_cmd(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(missing), "{args:?}: {}", out.stderr);
    }

    let identity_a = lab_a.identity.to_str().unwrap();
    let wrong_ca =
        run(&mut lab_b.bare_cmd(&["--auth-server", &lab_b.addr, "-i", identity_a, "ping"]));
    assert_eq!(wrong_ca.code, 6, "{}", wrong_ca.stderr);
    assert!(
        wrong_ca.stderr.contains("is not signed by the CA in")
            && wrong_ca
                .stderr
                .contains("\nhint: use the identity file issued by this cluster (-i)"),
        "{}",
        wrong_ca.stderr
    );
}

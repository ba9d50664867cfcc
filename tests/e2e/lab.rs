//! `mwictl lab start`: the ready line and the saved profile.

use crate::harness::{Lab, parse_ready_line, run};

#[test]
fn ready_line_names_the_address_identity_and_cluster() {
    let lab = Lab::start();
    let (addr, identity, cluster) = parse_ready_line(&lab.ready_line).expect("ready line");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(addr, "127.0.0.1:0", "the real port is printed");
    assert!(identity.is_file(), "{}", identity.display());
    assert!(identity.starts_with(lab.root()), "{}", identity.display());
    assert!(!cluster.is_empty());
}

#[test]
fn lab_start_saves_a_profile_pointing_at_itself() {
    let lab = Lab::start();
    let text = std::fs::read_to_string(lab.home().join("profile.json")).expect("profile");
    let profile: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(profile["auth_server"], lab.addr.as_str());
    assert_eq!(
        profile["identity"],
        lab.identity.display().to_string().as_str()
    );
    assert_eq!(profile["cluster_name"], lab.cluster.as_str());
}

#[test]
fn cluster_name_flag_names_the_cluster() {
    let lab = Lab::start_with(&["--cluster-name", "rehearsal"]);
    assert_eq!(lab.cluster, "rehearsal");
    lab.cmd(&["ping"])
        .assert()
        .success()
        .stdout(predicates::str::contains("Cluster:        rehearsal"));
}

#[test]
fn sigterm_stops_the_lab_cleanly() {
    let mut lab = Lab::start();
    assert_eq!(lab.stop(), Some(0), "log:\n{}", lab.log());
    assert!(
        lab.log().contains("lab auth service stopped"),
        "{}",
        lab.log()
    );
}

#[test]
fn restarted_lab_reuses_its_identity() {
    let mut first = Lab::start();
    let identity = std::fs::read_to_string(&first.identity).unwrap();
    assert_eq!(first.stop(), Some(0));
    let second = Lab::start_on(&first.root().join("lab"));
    assert_eq!(std::fs::read_to_string(&second.identity).unwrap(), identity);
    second.cmd(&["ping"]).assert().success();
}

/// The address the saved profile in `lab`'s home points at.
fn profile_addr(lab: &Lab) -> String {
    let text = std::fs::read_to_string(lab.home().join("profile.json")).expect("profile");
    let profile: serde_json::Value = serde_json::from_str(&text).expect("json");
    profile["auth_server"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_second_lab_says_it_repoints_the_profile_unless_told_not_to() {
    let first = Lab::start();
    let profile = first.home().join("profile.json").display().to_string();

    let kept = Lab::start_sharing_home(&first, &["--no-profile"]);
    assert_eq!(profile_addr(&first), first.addr, "--no-profile leaves it");
    assert!(
        kept.log().contains(&format!(
            "left the profile {profile} as it is (--no-profile); reach this lab with --auth-server {} -i ",
            kept.addr
        )),
        "{}",
        kept.log()
    );
    let ping = run(&mut first.cmd(&["ping", "--format", "json"]));
    assert_eq!(ping.code, 0, "{}", ping.stderr);
    assert!(ping.stdout.contains(&first.addr), "{}", ping.stdout);

    let mut second = Lab::start_sharing_home(&first, &[]);
    assert_eq!(profile_addr(&first), second.addr);
    assert!(
        second.log().contains(&format!(
            "the profile {profile} now points at this lab: {} (was {}, identity {});",
            second.addr,
            first.addr,
            first.identity.display()
        )),
        "{}",
        second.log()
    );
    assert!(second.log().contains("--no-profile"), "{}", second.log());

    // The profile's lab is gone while the first still runs: the error names the address and
    // that it came from the saved profile.
    assert_eq!(second.stop(), Some(0));
    let out = run(&mut first.cmd(&["ping"]));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot connect to the auth server at {addr}: connection refused\n\
             hint: {addr} is the address in the saved profile {profile}, written by the last `mwictl lab start`; that lab is not running: start it again, or pass --auth-server HOST:PORT -i FILE\n",
            addr = second.addr
        )
    );
}

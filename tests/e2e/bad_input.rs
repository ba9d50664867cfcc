//! Bad input to the resource verbs (issue 10): names mwictl will not write but can still read
//! and remove, long names in backups and messages, deep nesting, `get`'s table fed to `create`,
//! and resources larger than a request may be.

use mwi_proto::types::RoleConditions;
use mwi_testkit::fixtures::role_allowing;

use crate::harness::{Lab, run};
use crate::roles::upsert_role;

/// A role as another tool would make it, with any name the server keeps.
fn made_elsewhere(lab: &Lab, name: &str) {
    upsert_role(
        lab,
        role_allowing(
            name,
            RoleConditions {
                logins: vec!["alice".into()],
                ..Default::default()
            },
        ),
    );
}

fn role_yaml(name: &str) -> String {
    format!(
        "kind: role\nversion: v7\nmetadata:\n  name: '{name}'\nspec:\n  allow:\n    logins: [alice]\n"
    )
}

fn write(lab: &Lab, file: &str, text: &str) -> String {
    let path = lab.root().join(file);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

/// Issue 10 item 5: one name rule, applied by `create` before it connects.
#[test]
fn create_refuses_names_mwictl_would_not_write_before_sending() {
    let lab = Lab::start();
    let long = "a".repeat(10_000);
    for (name, reason) in [
        ("../../etc/x", "names have no `/`"),
        ("a/b", "names have no `/`"),
        (
            long.as_str(),
            "the name is 10000 bytes, more than the 253 allowed",
        ),
    ] {
        let file = write(&lab, "bad-name.yaml", &role_yaml(name));
        let out = run(&mut lab.cmd(&["create", &file]));
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(reason), "{}", out.stderr);
        let reference = format!("role/{name}");
        assert_eq!(
            run(&mut lab.cmd(&["get", &reference])).code,
            3,
            "nothing was created"
        );
    }
}

/// Issue 10 item 5: `bots add` follows the same rule, before it connects.
#[test]
fn bots_add_refuses_names_mwictl_would_not_write() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "add", "../x", "--roles", "access"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("names have no `/`"), "{}", out.stderr);
    let bots = run(&mut lab.cmd(&["get", "bots", "--format", "json"]));
    assert!(!bots.stdout.contains("../x"), "{}", bots.stdout);
}

/// Issue 10 item 5: what another tool made with such a name can still be read and removed.
#[test]
fn names_made_elsewhere_can_still_be_read_and_removed() {
    let lab = Lab::start();
    for name in ["../../etc/x", "a/b"] {
        made_elsewhere(&lab, name);
        let reference = format!("role/{name}");
        let got = run(&mut lab.cmd(&["get", &reference, "--format", "yaml"]));
        assert_eq!(got.code, 0, "{}", got.stderr);
        assert!(got.stdout.contains(name), "{}", got.stdout);
        let removed = run(&mut lab.cmd(&["rm", &reference]));
        assert_eq!(removed.code, 0, "{}", removed.stderr);
        assert_eq!(run(&mut lab.cmd(&["get", &reference])).code, 3);
    }
}

/// Issue 10 items 6 and 27: a 10,000-byte name is removed with a bounded backup file name, and
/// messages show it cut, once.
#[test]
fn a_long_name_is_removed_with_a_bounded_backup_and_short_messages() {
    let lab = Lab::start();
    let long = "a".repeat(10_000);
    made_elsewhere(&lab, &long);
    let reference = format!("role/{long}");
    let out = run(&mut lab.cmd(&["rm", &reference]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.len() < 200, "{}", out.stdout);
    let backup = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("backup: "))
        .expect("a backup line");
    let file_name = std::path::Path::new(backup).file_name().expect("a file");
    assert!(file_name.len() < 255, "{}", file_name.len());
    let text = std::fs::read_to_string(backup).expect("backup");
    assert!(text.contains(&long), "the backup holds the whole name");
    // Gone now: the not-found error cuts the name.
    let missing = run(&mut lab.cmd(&["get", &reference]));
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.len() < 300, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("(10000 bytes)"),
        "{}",
        missing.stderr
    );
}

/// Issue 10 item 27: an error about a long name in a file says its size, not the whole name.
#[test]
fn create_errors_cut_long_names() {
    let lab = Lab::start();
    let file = write(&lab, "long.yaml", &role_yaml(&"b".repeat(10_000)));
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.len() < 600, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("(10000 bytes)").count(),
        1,
        "{}",
        out.stderr
    );
}

/// Issue 10 item 7: deep nesting is refused before any parser sees it.
#[test]
fn create_refuses_deep_nesting_before_parsing() {
    let lab = Lab::start();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let file = write(&lab, "deep.yaml", &deep);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: {file}: line 1: nesting deeper than 64 levels"
        )),
        "{}",
        out.stderr
    );
    let mappings = format!("{}{}", "{a: ".repeat(50_000), "}".repeat(50_000));
    let file = write(&lab, "deep-map.yaml", &mappings);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("nesting deeper than 64"),
        "{}",
        out.stderr
    );
}

/// Issue 10 item 16: `get`'s table is not a file `create` reads; the error says what to run.
#[test]
fn create_of_gets_table_says_to_use_format_yaml() {
    let lab = Lab::start();
    made_elsewhere(&lab, "ops");
    let table = run(&mut lab.cmd(&["get", "role/ops"]));
    assert_eq!(table.code, 0, "{}", table.stderr);
    let file = write(&lab, "table.txt", &table.stdout);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: this is the table `mwictl get` prints; write the file with `mwictl get --format yaml KIND/NAME > FILE`"),
        "{}",
        out.stderr
    );
    let yaml = run(&mut lab.cmd(&["get", "role/ops", "--format", "yaml"]));
    let file = write(&lab, "role.yaml", &yaml.stdout);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// Issue 10 item 17: a resource larger than one request may be is refused before sending,
/// naming the limit.
#[test]
fn create_of_a_resource_over_the_request_limit_names_the_limit() {
    let lab = Lab::start();
    let logins = vec!["x".repeat(100); 50_000].join(", ");
    let big = format!(
        "kind: role\nversion: v7\nmetadata:\n  name: big\nspec:\n  allow:\n    logins: [{logins}]\n"
    );
    assert!(big.len() > 5_000_000);
    let file = write(&lab, "big.yaml", &big);
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: role \"big\" is 4.9 MiB encoded, more than the 4.0 MiB a Teleport auth service accepts in one request"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("decoded message length"),
        "{}",
        out.stderr
    );
    assert_eq!(run(&mut lab.cmd(&["get", "role/big"])).code, 3);
}

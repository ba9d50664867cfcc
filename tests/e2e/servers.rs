//! Servers that are not our lab (issue 11 items 8 and 10): RPC variants chosen by trying the
//! newest and falling back on `Unimplemented`, whatever version the server reports.

use mwi_proto::method::auth;
use mwi_testkit::scripted::{Script, Scripted};

use crate::harness::{run, scripted_cmd};

fn role_yaml(name: &str) -> String {
    format!(
        "kind: role\nversion: v7\nmetadata:\n  name: {name}\nspec:\n  allow:\n    logins: [alice]\n"
    )
}

/// A server of `version` that answers `lacks` with `Unimplemented`.
fn server(version: &str, lacks: &[&'static str], dir: &std::path::Path) -> Scripted {
    Scripted::start(
        Script {
            server_version: version.into(),
            lacks: lacks.to_vec(),
            ..Default::default()
        },
        dir,
    )
}

/// Item 8: a dev build reports `0.0.0-dev` and has no `UpsertRole` any more; `create -f` goes
/// through `UpsertRoleV2` instead of taking the placeholder for an old server.
#[test]
fn a_placeholder_version_still_gets_the_newest_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let server = server("0.0.0-dev", &[auth::UPSERT_ROLE], dir.path());
    let file = dir.path().join("role.yaml");
    std::fs::write(&file, role_yaml("dev")).unwrap();
    let home = dir.path().join("home");
    let out = run(&mut scripted_cmd(
        &server,
        &home,
        &["create", "-f", file.to_str().unwrap()],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let calls = server.calls();
    assert_eq!(calls.get(auth::UPSERT_ROLE_V2), Some(&1), "{calls:?}");
    assert_eq!(calls.get(auth::UPSERT_ROLE), None, "{calls:?}");

    let listed = run(&mut scripted_cmd(&server, &home, &["get", "roles"]));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("dev"), "{}", listed.stdout);
    let calls = server.calls();
    assert_eq!(calls.get(auth::LIST_ROLES), Some(&1), "{calls:?}");
    assert_eq!(calls.get(auth::GET_ROLES), None, "{calls:?}");
}

/// Item 8, the reverse: a server without `UpsertRoleV2` (or `ListRoles`) is asked for it once per
/// process, then the older RPC carries every later call of that process.
#[test]
fn a_missing_newer_rpc_is_asked_once_per_process() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(
        "0.0.0-dev",
        &[auth::UPSERT_ROLE_V2, auth::LIST_ROLES],
        dir.path(),
    );
    let file = dir.path().join("roles.yaml");
    std::fs::write(
        &file,
        format!("{}---\n{}", role_yaml("one"), role_yaml("two")),
    )
    .unwrap();
    let home = dir.path().join("home");
    let out = run(&mut scripted_cmd(
        &server,
        &home,
        &["create", "-f", file.to_str().unwrap()],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let calls = server.calls();
    assert_eq!(calls.get(auth::UPSERT_ROLE_V2), Some(&1), "{calls:?}");
    assert_eq!(calls.get(auth::UPSERT_ROLE), Some(&2), "{calls:?}");

    let listed = run(&mut scripted_cmd(&server, &home, &["get", "roles"]));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("one") && listed.stdout.contains("two"),
        "{}",
        listed.stdout
    );
    let calls = server.calls();
    assert_eq!(calls.get(auth::LIST_ROLES), Some(&1), "{calls:?}");
    assert_eq!(calls.get(auth::GET_ROLES), Some(&1), "{calls:?}");
    // A new process does not know what the last one learnt: it asks again, once.
    let again = run(&mut scripted_cmd(
        &server,
        &home,
        &["create", "-f", file.to_str().unwrap()],
    ));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let calls = server.calls();
    assert_eq!(calls.get(auth::UPSERT_ROLE_V2), Some(&2), "{calls:?}");
    assert_eq!(calls.get(auth::UPSERT_ROLE), Some(&4), "{calls:?}");
}

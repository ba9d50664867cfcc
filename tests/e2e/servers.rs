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

/// Item 10: a web server answers where auth was expected (a proxy's web listener, an L7 load
/// balancer): the error names what answered and points to --proxy, with the connection exit code.
#[test]
fn a_web_certificate_is_named_and_points_to_the_proxy_flag() {
    let dir = tempfile::tempdir().unwrap();
    let web = mwi_testkit::web::WebServer::start(&["proxy.example.com", "localhost"]);
    let identity = dir.path().join("lab.identity");
    mwi_testkit::pki::Pki::new("lab")
        .client_identity()
        .write(&identity)
        .unwrap();
    let identity = identity.to_str().unwrap();
    let home = dir.path().join("home");
    let addr = web.addr.as_str();
    let direct = run(&mut crate::harness::mwictl_cmd(
        &home,
        &["ping", "--auth-server", addr, "-i", identity],
    ));
    assert_eq!(direct.code, 6, "{}", direct.stderr);
    let described =
        "subject \"CN=proxy.example.com\", self-signed, DNS names proxy.example.com, localhost";
    assert_eq!(
        direct.stderr.lines().next().unwrap(),
        format!(
            "error: {addr} answered with a web certificate ({described}), not a Teleport auth \
             server's: a proxy or a load balancer answered; reach auth through it with --proxy {addr}"
        )
    );
    assert!(
        direct.stderr.contains("L7 load balancer"),
        "{}",
        direct.stderr
    );
    assert!(
        !direct.stderr.contains("wrong cluster"),
        "{}",
        direct.stderr
    );

    // TLS routing (the connection upgrade turned off, as a TCP load balancer would need).
    let routed = run(
        crate::harness::mwictl_cmd(&home, &["ping", "--proxy", addr, "-i", identity])
            .env("TELEPORT_TLS_ROUTING_CONN_UPGRADE", "false"),
    );
    assert_eq!(routed.code, 6, "{}", routed.stderr);
    assert!(
        routed.stderr.starts_with(&format!(
            "error: the proxy at {addr} answered with a web certificate ({described}) instead of \
             routing to the auth service"
        )),
        "{}",
        routed.stderr
    );

    // Detected as Teleport does, the server needs the connection upgrade (it negotiates no
    // Teleport ALPN), whose TLS to the web certificate names the certificate it refused.
    let upgraded = run(&mut crate::harness::mwictl_cmd(
        &home,
        &["ping", "--proxy", addr, "-i", identity],
    ));
    assert_eq!(upgraded.code, 6, "{}", upgraded.stderr);
    assert!(
        upgraded.stderr.starts_with(&format!(
            "error: the web certificate of the proxy at {addr} is not trusted: UnknownIssuer ({described})"
        )),
        "{}",
        upgraded.stderr
    );
}

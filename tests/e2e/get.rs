//! `mwictl get`: tables, JSON arrays and YAML documents of what is on the server, and not-found
//! and usage errors.

use mwi_proto::types::{LockTarget, LockV2};
use mwi_testkit::fixtures;

use crate::harness::{Lab, run, snapshot_settings};

fn lock(name: &str, target: LockTarget, message: &str, expires: Option<i64>) -> LockV2 {
    let mut lock = fixtures::lock(name, target, message);
    if let Some(spec) = lock.spec.as_mut() {
        spec.expires = expires.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 });
    }
    lock
}

/// Two locks as the seed incident has them: the bot user, and one bot instance.
fn create_two_locks(lab: &Lab) {
    lab.admin(async |mut client| {
        client
            .upsert_lock(lock(
                "lock-bot-user",
                LockTarget {
                    user: "bot-example".into(),
                    ..Default::default()
                },
                "The bot user \"bot-example\" associated with bot \"example\" has been locked.",
                None,
            ))
            .await
            .expect("upsert lock 1");
        client
            .upsert_lock(lock(
                "lock-bot-instance",
                LockTarget {
                    bot_instance_id: "5cee949f-1111-4222-8333-444455556666".into(),
                    ..Default::default()
                },
                "generation mismatch",
                Some(4_102_444_800),
            ))
            .await
            .expect("upsert lock 2");
    });
}

#[test]
fn get_locks_on_a_new_lab_prints_nothing_and_says_so() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["get", "locks"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "no locks found\n");
    let json = run(&mut lab.cmd(&["get", "locks", "--format", "json"]));
    assert_eq!(json.stdout, "[]\n");
    let yaml = run(&mut lab.cmd(&["get", "locks", "--format", "yaml"]));
    assert_eq!(yaml.stdout, "[]\n");
}

#[test]
fn get_locks_shows_a_tctl_like_table() {
    let lab = Lab::start();
    create_two_locks(&lab);
    let out = run(&mut lab.cmd(&["get", "locks"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("get_locks_text", out.stdout));
}

#[test]
fn get_locks_json_is_an_array_of_tctl_shaped_locks() {
    let lab = Lab::start();
    create_two_locks(&lab);
    let out = run(&mut lab.cmd(&["get", "locks", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let locks = json.as_array().expect("an array");
    assert_eq!(locks.len(), 2);
    let names: Vec<&str> = locks
        .iter()
        .filter_map(|l| l["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"lock-bot-user"), "{names:?}");
    let user_lock = locks
        .iter()
        .find(|l| l["spec"]["target"]["user"] == "bot-example")
        .expect("the user lock");
    assert_eq!(user_lock["kind"], "lock");
    assert_eq!(user_lock["version"], "v2");
}

#[test]
fn get_locks_yaml_is_one_document_per_lock() {
    let lab = Lab::start();
    create_two_locks(&lab);
    let out = run(&mut lab.cmd(&["get", "locks", "--format", "yaml"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.matches("\n---\n").count(), 1, "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("kind: lock").count(),
        2,
        "{}",
        out.stdout
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("get_locks_yaml", out.stdout));
}

#[test]
fn get_one_lock_by_name() {
    let lab = Lab::start();
    create_two_locks(&lab);
    let out = run(&mut lab.cmd(&["get", "lock/lock-bot-instance", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    assert_eq!(
        json[0]["spec"]["target"]["bot_instance_id"],
        "5cee949f-1111-4222-8333-444455556666"
    );
}

#[test]
fn missing_lock_is_not_found_with_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["get", "lock/nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: lock \"nope\" not found\nhint: list them with `mwictl get lock`\n"
    );
}

#[test]
fn unknown_kind_is_a_usage_error_naming_the_kinds() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["get", "lokcs"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stderr.contains("lock"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("hint: kinds are lock, role, token, bot and bot_instance")
    );
}

#[test]
fn every_kind_lists_as_a_json_array() {
    let lab = Lab::start();
    for kind in ["locks", "roles", "tokens", "bots", "bot_instances"] {
        let out = run(&mut lab.cmd(&["get", kind, "--format", "json"]));
        assert_eq!(out.code, 0, "{kind}: {}", out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        assert!(json.is_array(), "{kind}: {}", out.stdout);
    }
}

#[test]
fn empty_bot_instance_listing_says_so_in_words() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["get", "bot_instances"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "no bot instances found\n");
}

#[test]
fn missing_bot_instance_names_bot_and_id() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["get", "bot_instance/example/0000"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: bot_instance \"example/0000\" not found\n\
         hint: list them with `mwictl get bot_instance`\n"
    );
}

#[test]
fn admin_role_is_listed_and_readable_by_name() {
    let lab = Lab::start();
    let list = run(&mut lab.cmd(&["get", "roles", "--format", "json"]));
    assert_eq!(list.code, 0, "{}", list.stderr);
    let roles: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    let names: Vec<&str> = roles
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["metadata"]["name"].as_str())
        .collect();
    let first = names.first().copied().expect("at least one role");
    let one = run(&mut lab.cmd(&["get", &format!("role/{first}"), "--format", "yaml"]));
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(
        one.stdout.contains(&format!("name: {first}")),
        "{}",
        one.stdout
    );
    assert!(one.stdout.starts_with("kind: role\n"), "{}", one.stdout);
}

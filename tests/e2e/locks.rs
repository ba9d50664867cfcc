//! `mwictl locks ls` and `mwictl locks add`: the locks table, the per-bot and in-force filters,
//! and locks created like `tctl lock`.

use mwi_proto::proto::GetLockRequest;
use mwi_testkit::fixtures::{lock, target};

use crate::harness::{Lab, run, snapshot_settings};
use crate::unlock::{Blocked, blocked_bot, put_locks};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn names(list: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|l| l["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn locks_ls_on_a_new_lab_says_there_are_none() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["locks", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "no locks found\n");
    let json_out = run(&mut lab.cmd(&["locks", "ls", "--format", "json"]));
    assert_eq!(json_out.stdout, "[]\n");
}

#[test]
fn locks_ls_shows_id_target_message_created_and_expires() {
    let lab = Lab::start();
    let mut ending = lock("lock-ends", target("login", "root"), "maintenance");
    if let Some(spec) = ending.spec.as_mut() {
        spec.expires = Some(prost_types::Timestamp {
            seconds: 4_102_444_800,
            nanos: 0,
        });
    }
    put_locks(
        &lab,
        vec![
            lock(
                "lock-forever",
                target("user", "bot-example"),
                "generation mismatch",
            ),
            ending,
        ],
    );
    let out = run(&mut lab.cmd(&["locks", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    // Both were created in the same second or so; the order of equal times is by name.
    lines[2..].sort();
    let text = lines.join("\n");
    snapshot_settings().bind(|| insta::assert_snapshot!("locks_ls_text", text));
}

#[test]
fn locks_ls_bot_lists_every_lock_that_targets_the_bot() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["locks", "ls", "--bot", "example", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        names(&json(&out.stdout)),
        vec!["lock-instance", "lock-role", "lock-token", "lock-user"]
    );
    let all = run(&mut lab.cmd(&["locks", "ls", "--format", "json"]));
    assert_eq!(names(&json(&all.stdout)).len(), 5);
}

#[test]
fn locks_ls_in_force_leaves_out_ended_locks() {
    let lab = Lab::start();
    let mut ended = lock("ended", target("user", "bot-x"), "");
    if let Some(spec) = ended.spec.as_mut() {
        spec.expires = Some(prost_types::Timestamp {
            seconds: 1_000_000_000,
            nanos: 0,
        });
    }
    put_locks(&lab, vec![ended, lock("live", target("user", "bot-x"), "")]);
    let all = run(&mut lab.cmd(&["locks", "ls", "--format", "json"]));
    assert_eq!(names(&json(&all.stdout)), vec!["ended", "live"]);
    let live = run(&mut lab.cmd(&["locks", "ls", "--in-force", "--format", "json"]));
    assert_eq!(names(&json(&live.stdout)), vec!["live"]);
}

#[test]
fn locks_ls_yaml_reads_back_with_create() {
    let lab = Lab::start();
    put_locks(&lab, vec![lock("l1", target("role", "dev"), "m")]);
    let out = run(&mut lab.cmd(&["locks", "ls", "--format", "yaml"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = lab.root().join("locks.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    let again = run(&mut lab.cmd(&["create", "-f", file.to_str().unwrap()]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, "lock \"l1\" has been updated\n");
}

#[test]
fn locks_add_creates_a_lock_with_a_uuid_name_like_tctl() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "locks",
        "add",
        "--user",
        "bot-example",
        "--message",
        "stolen?",
        "--ttl",
        "2h",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("locks_add_text", out.stdout));
    let name = out
        .stdout
        .strip_prefix("Created a lock with name \"")
        .and_then(|rest| rest.strip_suffix("\".\n"))
        .expect("tctl's line")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&name).is_ok(), "{name}");
    let stored = lab.admin(async |mut c| {
        c.get_lock(GetLockRequest { name: name.clone() })
            .await
            .expect("the lock exists")
            .into_inner()
    });
    let spec = stored.spec.expect("spec");
    assert_eq!(spec.target.expect("target").user, "bot-example");
    assert_eq!(spec.message, "stolen?");
    let expires = spec.expires.expect("an end").seconds;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((expires - now - 7200).abs() < 60, "{expires} vs {now}");
}

#[test]
fn locks_add_json_prints_the_stored_lock() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "locks",
        "add",
        "--bot-instance-id",
        "5cee949f-1111-4222-8333-444455556666",
        "--expires",
        "2999-01-01T00:00:00Z",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lock = json(&out.stdout);
    assert_eq!(lock["kind"], "lock");
    assert_eq!(
        lock["spec"]["target"]["bot_instance_id"],
        "5cee949f-1111-4222-8333-444455556666"
    );
    assert_eq!(lock["spec"]["expires"], "2999-01-01T00:00:00Z");
    assert!(lock["spec"]["created_at"].is_string(), "{lock}");
}

#[test]
fn locks_add_needs_a_target() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["locks", "add", "--message", "x"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--user"), "{}", out.stderr);
}

#[test]
fn locks_add_refuses_ttl_with_expires_and_ends_in_the_past() {
    let lab = Lab::start();
    let both = run(&mut lab.cmd(&[
        "locks",
        "add",
        "--user",
        "u",
        "--ttl",
        "1h",
        "--expires",
        "2999-01-01T00:00:00Z",
    ]));
    assert_eq!(both.code, 2, "{}", both.stderr);
    let past = run(&mut lab.cmd(&[
        "locks",
        "add",
        "--user",
        "u",
        "--expires",
        "2001-01-01T00:00:00Z",
    ]));
    assert_eq!(past.code, 2, "{}", past.stderr);
    assert!(past.stderr.contains("in the past"), "{}", past.stderr);
}

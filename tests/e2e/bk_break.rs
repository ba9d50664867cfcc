//! `mwictl lab break bk-…`: each bound-keypair incident (S8–S12) caused for real against the lab,
//! and named by `mwictl doctor` from the agent's own log.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mwi_proto::types::{ProvisionTokenStatusV2BoundKeypair, ResourceRequest};

use crate::harness::*;

const BOT: &str = "example";

/// How long one break may take (each waits on a few agent runs of well under a second).
const BREAK_LIMIT: Duration = Duration::from_secs(15);

fn bot_dir(lab: &Lab) -> PathBuf {
    lab.root().join("bots").join(BOT)
}

/// `mwictl lab break SCENARIO --bot example --dir DIR EXTRA --format json`, which must succeed
/// in time; its JSON summary.
fn break_json(lab: &Lab, scenario: &str, extra: &[&str]) -> serde_json::Value {
    let dir = bot_dir(lab);
    let mut args = vec![
        "lab",
        "break",
        scenario,
        "--bot",
        BOT,
        "--dir",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let out = run(&mut lab.cmd(&args));
    assert_eq!(
        out.code, 0,
        "lab break {scenario}:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        started.elapsed() < BREAK_LIMIT,
        "lab break {scenario} took {:?}",
        started.elapsed()
    );
    serde_json::from_str(&out.stdout).expect("break JSON")
}

/// The incident ids `mwictl doctor --format json LOG...` reports (it exits 1 on findings).
fn doctor_incidents(lab: &Lab, logs: &[&str]) -> Vec<String> {
    let mut args = vec!["doctor", "--format", "json"];
    args.extend_from_slice(logs);
    let out = run(&mut lab.cmd(&args));
    assert_eq!(
        out.code, 1,
        "doctor finds something:\n{}\n{}",
        out.stdout, out.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["incident"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn status(lab: &Lab, token: &str) -> Option<ProvisionTokenStatusV2BoundKeypair> {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: token.into() })
            .await
            .ok()
            .map(|t| t.into_inner())
    })
    .map(|t| t.status.and_then(|s| s.bound_keypair).unwrap_or_default())
}

/// Checks the summary's common parts: incident, token, log, seen lines and next commands.
fn check_summary(json: &serde_json::Value, id: &str, seen: &str) -> (String, String) {
    assert_eq!(json["incident"], id, "{json}");
    let token = json["token"].as_str().expect("the token").to_string();
    assert!(token.starts_with("bot-example-"), "{json}");
    let log = json["log"].as_str().expect("a log").to_string();
    let lines = json["seen"].as_array().expect("seen lines");
    assert!(
        lines.iter().any(|l| l.as_str().unwrap().contains(seen)),
        "{json}"
    );
    let next = json["next"].as_array().expect("next commands");
    assert_eq!(next[0], format!("mwictl doctor {log}"), "{json}");
    assert!(
        next[1].as_str().unwrap().starts_with("mwictl recover bk-"),
        "{json}"
    );
    (token, log)
}

#[test]
fn s8_recovering_until_the_limit_is_refused_and_named_by_the_doctor() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-exhausted", &[]);
    let (token, log) = check_summary(&json, "S8", "no rejoins remaining");
    let status = status(&lab, &token).expect("the token");
    assert_eq!(status.recovery_count, 3, "onboarding and two recoveries");
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S8"]);
    assert!(
        json["next"][1]
            .as_str()
            .unwrap()
            .contains("--bot example --tbot-config "),
        "{json}"
    );
}

#[test]
fn s9_a_copied_storage_presents_a_stale_join_state_and_the_join_token_is_locked() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-join-state", &[]);
    let (token, log) = check_summary(&json, "S9", "join state verification failed");
    assert!(json["lock"].as_str().is_some(), "{json}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!("lock targeting JoinToken:\"{token}\" is in force")),
        "{text}"
    );
    assert_eq!(
        status(&lab, &token).expect("the token").recovery_count,
        2,
        "onboarding and the first agent's recovery"
    );
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S9"]);
    // The bot is locked now: breaking it again is refused until it is recovered.
    let again = run(&mut lab.cmd(&[
        "lab",
        "break",
        "bk-exhausted",
        "--bot",
        BOT,
        "--dir",
        bot_dir(&lab).to_str().unwrap(),
    ]));
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("is locked"), "{}", again.stderr);
}

#[test]
fn s10_a_spec_only_reapply_or_a_delete_of_the_token_refuses_the_bot() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-token-wiped", &[]);
    let (token, log) = check_summary(
        &json,
        "S10",
        "cannot perform first bound keypair join with existing credentials",
    );
    let status_now = status(&lab, &token).expect("the token was created again");
    assert_eq!(status_now.bound_public_key, "", "the status is gone");
    assert_eq!(status_now.recovery_count, 0);
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S10"]);
    assert!(
        json["next"][1].as_str().unwrap().contains("--storage "),
        "{json}"
    );

    // Again with --delete: the earlier token is replaced by a new one, which is then deleted.
    let json = break_json(&lab, "bk-token-wiped", &["--delete"]);
    let (deleted, log) = check_summary(&json, "S10", "token expired or not found");
    assert_ne!(deleted, token);
    assert_eq!(status(&lab, &deleted), None, "deleted");
    assert_eq!(
        status(&lab, &token),
        None,
        "the earlier token was cleaned up"
    );
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S10"]);
}

#[test]
fn s11_a_wiped_storage_with_a_new_keypair_is_refused_and_named_by_the_doctor() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-keypair-lost", &[]);
    let (token, log) = check_summary(&json, "S11", "could not lookup signer for public key");
    let bound = status(&lab, &token).expect("the token").bound_public_key;
    let held = std::fs::read_to_string(bot_dir(&lab).join("data").join("id_bkp.pub")).unwrap();
    assert_ne!(
        bound.trim(),
        held.trim(),
        "the storage holds a key the token does not know"
    );
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S11"]);
}

#[test]
fn delete_is_refused_for_other_scenarios_before_anything_is_done() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "lab",
        "break",
        "bk-exhausted",
        "--bot",
        BOT,
        "--dir",
        bot_dir(&lab).to_str().unwrap(),
        "--delete",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--delete is for bk-token-wiped only"),
        "{}",
        out.stderr
    );
    assert!(!bot_dir(&lab).join("tbot.yaml").exists());
}

#[test]
fn s12_a_lab_restored_under_a_fleet_fails_every_join_state_and_the_doctor_sees_a_rollback() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-rollback", &[]);
    let (token, log) = check_summary(&json, "S12", "join state verification failed");
    let second = bot_dir(&lab).join("example-2").join("tbot.yaml");
    let recover = json["next"][1].as_str().unwrap();
    assert!(
        recover.starts_with("mwictl recover bk-rollback --restart-cmd ")
            && recover.contains(&format!("mwictl lab bot -c {} --oneshot", second.display())),
        "{json}"
    );
    assert_eq!(
        json["next"][3],
        format!("mwictl lab bot -c {}", second.display()),
        "{json}"
    );
    // The restore put the token back where the snapshot had it: onboarding only.
    assert_eq!(status(&lab, &token).expect("the token").recovery_count, 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("join state verification failed").count(),
        2,
        "{text}"
    );
    assert_eq!(doctor_incidents(&lab, &[&log]), ["S12"]);
}

/// `mwictl lab snapshot|restore ARGS --format json`, which must succeed; its JSON.
fn snapshot_cmd(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["lab"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&mut lab.cmd(&all));
    assert_eq!(out.code, 0, "{args:?}:\n{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).expect("JSON")
}

fn token_exists(lab: &Lab, name: &str) -> bool {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: name.into() })
            .await
            .is_ok()
    })
}

fn add_token(lab: &Lab) -> String {
    let out = run(&mut lab.cmd(&["tokens", "add", "--bot", BOT, "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    json["token"].as_str().expect("token name").to_string()
}

#[test]
fn snapshot_and_restore_roll_a_running_lab_back() {
    let lab = Lab::start();
    crate::bots::put_bot(&lab, BOT, &[], &[], None);
    let kept = add_token(&lab);
    let snapshot = snapshot_cmd(&lab, &["snapshot"]);
    let path = snapshot["path"].as_str().expect("path").to_string();
    assert!(
        path.starts_with(lab.root().join("lab").join("snapshots").to_str().unwrap()),
        "{snapshot}"
    );
    assert!(snapshot["resources"].as_u64().unwrap() > 0, "{snapshot}");
    let later = add_token(&lab);
    // A lock made after the snapshot that shuts the admin out: the running lab must stop
    // enforcing it once the restore took it away.
    crate::unlock::put_locks(
        &lab,
        vec![mwi_testkit::fixtures::lock(
            "admin-out",
            mwi_testkit::fixtures::target("user", "admin"),
            "locked after the snapshot",
        )],
    );
    let refused = run(&mut lab.cmd(&["get", "tokens"]));
    assert_ne!(refused.code, 0, "the lock is in force");
    assert!(refused.stderr.contains("is in force"), "{}", refused.stderr);

    let restored = snapshot_cmd(&lab, &["restore", &path, "--yes"]);
    assert_eq!(restored["restored_from"], path.as_str(), "{restored}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while run(&mut lab.cmd(&["get", "tokens"])).code != 0 {
        assert!(Instant::now() < deadline, "the lab still enforces the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(token_exists(&lab, &kept));
    assert!(!token_exists(&lab, &later), "created after the snapshot");
    assert!(!crate::unlock::lock_exists(&lab, "admin-out"));
    let saved = restored["saved_before"]
        .as_str()
        .expect("saved")
        .to_string();
    assert!(std::path::Path::new(&saved).is_file());

    // The state the restore replaced comes back the same way (the lock with it).
    snapshot_cmd(&lab, &["restore", &saved, "--yes"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while run(&mut lab.cmd(&["get", "tokens"])).code == 0 {
        assert!(
            Instant::now() < deadline,
            "the lab does not enforce the restored lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn snapshot_and_restore_refuse_bad_paths_in_one_line() {
    let lab = Lab::start();
    let taken = snapshot_cmd(
        &lab,
        &[
            "snapshot",
            "--out",
            lab.root().join("s.db").to_str().unwrap(),
        ],
    );
    let path = taken["path"].as_str().unwrap().to_string();
    let one_line = |args: &[&str], words: &str| {
        let out = run(&mut lab.cmd(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(words), "{args:?}: {}", out.stderr);
    };
    one_line(&["lab", "snapshot", "--out", &path], "already exists");
    let missing = lab.root().join("missing.db");
    one_line(
        &["lab", "restore", missing.to_str().unwrap(), "--yes"],
        "no such file",
    );
    let junk = lab.root().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap();
    one_line(
        &["lab", "restore", junk.to_str().unwrap(), "--yes"],
        "not a lab database snapshot",
    );
    let not_lab = lab.root().join("empty");
    std::fs::create_dir(&not_lab).unwrap();
    one_line(
        &["lab", "snapshot", "--data-dir", not_lab.to_str().unwrap()],
        "not a lab data dir",
    );
    // Without --yes and without a terminal, restore asks for the flag and changes nothing.
    one_line(&["lab", "restore", &path], "asks first");
    let snapshots = lab.root().join("lab").join("snapshots");
    assert!(!snapshots.exists(), "no before-restore snapshot was taken");
}

#[test]
fn bk_exhausted_summary_and_its_tbot_yaml_in_text() {
    let lab = Lab::start();
    let dir = bot_dir(&lab);
    let out = run(&mut lab.cmd(&[
        "lab",
        "break",
        "bk-exhausted",
        "--bot",
        BOT,
        "--dir",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let yaml = std::fs::read_to_string(dir.join("tbot.yaml")).unwrap();
    let mut settings = snapshot_settings();
    settings.add_filter(r"took \d+\.\ds", "took [SECONDS]");
    settings.add_filter(r"bot-example-[0-9a-f]{8}", "bot-example-[ID]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[SECRET]");
    settings.bind(|| {
        insta::assert_snapshot!("lab_break_bk_exhausted_text", lab.redact(&out.stdout));
        insta::assert_snapshot!("lab_break_bk_exhausted_tbot_yaml", lab.redact(&yaml));
    });
}

#[test]
fn s12s_next_recover_command_brings_the_fleet_back_with_every_mode_restored() {
    let lab = Lab::start();
    let json = break_json(&lab, "bk-rollback", &[]);
    let token = json["token"].as_str().unwrap().to_string();
    let recover = json["next"][1].as_str().unwrap().to_string();
    // Run at once: the break dropped the certificates from before the restore.
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = assert_cmd::Command::new("sh");
    sh.args(["-c", &recover])
        .envs(hermetic_env(&lab.home()))
        .env("PATH", path)
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE");
    let out = run(&mut sh);
    assert_eq!(out.code, 0, "{recover}:\n{}\n{}", out.stdout, out.stderr);
    let status = status(&lab, &token).expect("the token");
    assert_eq!(
        status.recovery_count, 2,
        "the bot recovered after the restore"
    );
    let mode = lab.admin(async |mut c| {
        c.get_token(ResourceRequest {
            name: token.clone(),
        })
        .await
        .expect("the token")
        .into_inner()
        .spec
        .and_then(|s| s.bound_keypair)
        .and_then(|b| b.recovery)
        .map(|r| r.mode)
        .unwrap_or_default()
    });
    assert_eq!(mode, "standard", "insecure is not left behind");
}

#[test]
fn a_stopped_lab_is_restored_by_its_data_dir_and_starts_with_the_snapshots_state() {
    let mut lab = Lab::start();
    crate::bots::put_bot(&lab, BOT, &[], &[], None);
    let kept = add_token(&lab);
    let out = lab.root().join("before.db");
    snapshot_cmd(&lab, &["snapshot", "--out", out.to_str().unwrap()]);
    let later = add_token(&lab);
    assert_eq!(lab.stop(), Some(0));

    let data_dir = lab.root().join("lab");
    let args = [
        "lab",
        "restore",
        out.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--yes",
    ];
    let restored = run(&mut mwictl_cmd(&lab.root().join("other-home"), &args));
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert!(restored.stdout.contains("restored "), "{}", restored.stdout);

    let again = Lab::start_on(&data_dir);
    assert!(token_exists(&again, &kept));
    assert!(!token_exists(&again, &later), "created after the snapshot");
}

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

//! `mwictl doctor` on the real agent's own log (`mwictl lab bot` against the lab): the
//! bound-keypair refusals it prints name S8 (recovery limit used up), S9 (a stale join state
//! locks the join token), S10 (the token deleted and re-created without its status) and S11 (the
//! storage wiped), with the token and bot in the fix.

use std::path::Path;

use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_testkit::fixtures;

use crate::bots::put_bot;
use crate::bots_bound::wait_expiry;
use crate::harness::*;

const BOT: &str = "web";
const TOKEN: &str = "bot-web-5f2a9c1e";
const SECRET: &str = "s3cret";
const ARGS: [&str; 4] = ["--credential-ttl", "2s", "--registration-secret", SECRET];

/// A lab with bot `web` and its bound_keypair token onboarding by secret, with `limit`.
fn lab_with_limit(limit: u32) -> Lab {
    let lab = Lab::start();
    put_bot(&lab, BOT, &[], &[], None);
    put_token(&lab, limit);
    lab
}

/// Writes the token (spec only, as a careless re-create does).
fn put_token(lab: &Lab, limit: u32) {
    let secret = OnboardingSpec {
        registration_secret: SECRET.into(),
        ..Default::default()
    };
    let token = fixtures::bound_keypair_token(TOKEN, BOT, secret, limit, "standard");
    crate::bound_keypair::put_token(lab, token);
}

/// One `mwictl lab bot --oneshot` run with storage `dir`.
fn agent(lab: &Lab, dir: &Path) -> Run {
    let mut args = vec![
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
        "--join-method",
        "bound_keypair",
        "--token",
        TOKEN,
    ];
    args.extend_from_slice(&ARGS);
    run(&mut lab.cmd(&args))
}

/// Doctor's JSON and text reports on `log`, written to a file in the lab's home.
fn doctor(lab: &Lab, log: &str) -> (serde_json::Value, Run) {
    let path = lab.root().join("tbot.log");
    std::fs::write(&path, log).unwrap();
    let path = path.to_str().unwrap();
    let json = run(&mut lab.cmd(&["doctor", "--format", "json", path]));
    assert_eq!(json.code, 1, "a finding: {}{}", json.stdout, json.stderr);
    let report = serde_json::from_str(&json.stdout).expect("doctor's JSON");
    (report, run(&mut lab.cmd(&["doctor", path])))
}

#[test]
fn the_agents_refusal_after_the_last_recovery_is_s8() {
    let lab = lab_with_limit(1);
    let dir = lab.root().join("bot");
    let first = agent(&lab, &dir);
    assert_eq!(
        first.code, 0,
        "onboarding spends the one recovery: {}",
        first.stderr
    );
    wait_expiry(&dir);
    let refused = agent(&lab, &dir);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let (report, text) = doctor(&lab, &refused.stderr);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", text.stdout);
    assert_eq!(findings[0]["incident"], "S8");
    assert_eq!(findings[0]["facts"]["refusals"], "no rejoins remaining");
    assert!(
        text.stdout
            .contains("S8 bound keypair: recovery limit used up"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("mwictl recover bk-exhausted"),
        "{}",
        text.stdout
    );
}

#[test]
fn the_agents_stale_join_state_and_the_lock_it_caused_are_one_s9() {
    let lab = lab_with_limit(5);
    let dir = lab.root().join("bot");
    assert_eq!(agent(&lab, &dir).code, 0);
    let stale = std::fs::read(dir.join("bkp_state")).unwrap();
    wait_expiry(&dir);
    assert_eq!(agent(&lab, &dir).code, 0, "first recovery");
    // A copy of the storage from before the recovery: its join state is one recovery behind.
    std::fs::write(dir.join("bkp_state"), &stale).unwrap();
    wait_expiry(&dir);
    let failed = agent(&lab, &dir);
    let locked = agent(&lab, &dir);
    assert_eq!(
        (failed.code, locked.code),
        (1, 1),
        "{}{}",
        failed.stderr,
        locked.stderr
    );
    let log = format!("{}{}", failed.stderr, locked.stderr);
    let (report, text) = doctor(&lab, &log);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", text.stdout);
    assert_eq!(findings[0]["incident"], "S9");
    assert_eq!(findings[0]["bot"], BOT);
    assert_eq!(findings[0]["facts"]["tokens"], TOKEN);
    assert_eq!(
        findings[0]["fix"]["mwictl"],
        "mwictl recover bk-join-state --bot web --wait 5m"
    );
    assert!(
        text.stdout
            .contains(&format!("journals {TOKEN}'s recovery mode")),
        "{}",
        text.stdout
    );
}

#[test]
fn the_agent_with_its_storage_wiped_is_s11() {
    let lab = lab_with_limit(3);
    let dir = lab.root().join("bot");
    assert_eq!(agent(&lab, &dir).code, 0);
    std::fs::remove_dir_all(&dir).unwrap();
    let lost = agent(&lab, &dir);
    assert_eq!(lost.code, 1, "{}", lost.stderr);
    let (report, text) = doctor(&lab, &lost.stderr);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", text.stdout);
    assert_eq!(findings[0]["incident"], "S11");
    assert!(
        text.stdout
            .contains("mwictl recover bk-keypair-lost --bot BOT_NAME --tbot-config"),
        "{}",
        text.stdout
    );
}

#[test]
fn the_agent_after_its_token_was_deleted_and_recreated_is_s10() {
    let lab = lab_with_limit(3);
    let dir = lab.root().join("bot");
    assert_eq!(agent(&lab, &dir).code, 0);
    let rm = run(&mut lab.cmd(&["tokens", "rm", TOKEN]));
    assert_eq!(rm.code, 0, "{}{}", rm.stdout, rm.stderr);
    put_token(&lab, 3);
    let refused = agent(&lab, &dir);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let (report, text) = doctor(&lab, &refused.stderr);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", text.stdout);
    assert_eq!(findings[0]["incident"], "S10");
}

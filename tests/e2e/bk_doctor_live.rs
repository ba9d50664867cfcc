//! `mwictl doctor --live` on the bound-keypair incidents: the lab agent's own refusal after its
//! last recovery (S8) answered from the token on the lab, still current at the limit and
//! resolved once the limit is raised; a join-token lock (S9) current until it is removed.

use std::path::Path;

use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_testkit::fixtures;

use crate::bots::put_bot;
use crate::bots_bound::wait_expiry;
use crate::bound_keypair::put_token;
use crate::harness::*;

const BOT: &str = "web";
const TOKEN: &str = "bot-web-5f2a9c1e";
const SECRET: &str = "s3cret";

/// Bot `web`'s token, onboarding by secret, with `limit` (the lab keeps the status on update).
fn put_web_token(lab: &Lab, limit: u32) {
    let secret = OnboardingSpec {
        registration_secret: SECRET.into(),
        ..Default::default()
    };
    put_token(
        lab,
        fixtures::bound_keypair_token(TOKEN, BOT, secret, limit, "standard"),
    );
}

/// One `mwictl lab bot --oneshot` run with storage `dir` and 2 s certificates.
fn agent(lab: &Lab, dir: &Path) -> Run {
    run(&mut lab.cmd(&[
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
        "--join-method",
        "bound_keypair",
        "--token",
        TOKEN,
        "--credential-ttl",
        "2s",
        "--registration-secret",
        SECRET,
    ]))
}

/// `doctor --live --bot web` on `log`: the one finding's JSON and the text report.
fn doctor_live(lab: &Lab, log: &str) -> (serde_json::Value, String) {
    let path = lab.root().join("tbot.log");
    std::fs::write(&path, log).unwrap();
    let path = path.to_str().unwrap();
    let args = ["doctor", "--live", "--bot", BOT, path];
    let json = run(&mut lab.cmd(&[&["--format", "json"], &args[..]].concat()));
    assert_eq!(json.code, 1, "a finding: {}{}", json.stdout, json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("doctor's JSON");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{}", json.stdout);
    let text = run(&mut lab.cmd(&args));
    (findings[0].clone(), text.stdout)
}

#[test]
fn live_says_s8_is_current_at_the_limit_with_the_numbers_and_resolved_once_raised() {
    let lab = Lab::start();
    put_bot(&lab, BOT, &[], &[], None);
    put_web_token(&lab, 1);
    let dir = lab.root().join("bot");
    assert_eq!(
        agent(&lab, &dir).code,
        0,
        "onboarding spends the one recovery"
    );
    wait_expiry(&dir);
    let refused = agent(&lab, &dir);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no rejoins remaining"),
        "{}",
        refused.stderr
    );

    let (finding, text) = doctor_live(&lab, &refused.stderr);
    assert_eq!(finding["incident"], "S8");
    assert_eq!(finding["live_check"]["kind"], "bound_keypair");
    assert_eq!(finding["live"]["current"], true, "{finding}");
    let detail = finding["live"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "token {TOKEN} mode standard, 1/1 recoveries used, bound key SHA256:"
        )),
        "{detail}"
    );
    assert!(detail.ends_with("no lock in force on bot web"), "{detail}");
    assert!(
        text.contains(&format!(
            "live:  still current: token {TOKEN} mode standard, 1/1 recoveries used"
        )),
        "{text}"
    );

    // Runbook A: the limit raised above the count.
    put_web_token(&lab, 3);
    let (finding, text) = doctor_live(&lab, &refused.stderr);
    assert_eq!(finding["live"]["current"], false, "{finding}");
    assert!(
        text.contains(&format!(
            "live:  resolved: token {TOKEN} mode standard, limit 3 > count 1"
        )),
        "{text}"
    );
    assert_eq!(
        agent(&lab, &dir).code,
        0,
        "the bot recovers, as the answer says"
    );
}

#[test]
fn live_says_s9_is_current_while_the_join_token_lock_is_in_force() {
    let lab = Lab::start();
    put_bot(&lab, BOT, &[], &[], None);
    put_web_token(&lab, 5);
    let dir = lab.root().join("bot");
    assert_eq!(agent(&lab, &dir).code, 0);
    let lock = run(&mut lab.cmd(&[
        "locks",
        "add",
        "--join-token",
        TOKEN,
        "--message",
        "a join state failed to verify",
    ]));
    assert_eq!(lock.code, 0, "{}", lock.stderr);
    let log = format!(
        "2026-12-06T05:10:02Z WARN [TBOT] Failed to fetch bot identity error:\"access denied: join state verification failed\" join_token={TOKEN}\n"
    );
    let (finding, _) = doctor_live(&lab, &log);
    assert_eq!(finding["incident"], "S9", "{finding}");
    assert_eq!(finding["live"]["current"], true, "{finding}");
    let detail = finding["live"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 lock(s) in force on bot web:"),
        "{detail}"
    );
    assert!(
        detail.contains("mode standard, 1/5 recoveries used"),
        "{detail}"
    );

    let unlock = run(&mut lab.cmd(&["unlock", "--bot", BOT, "--yes"]));
    assert_eq!(unlock.code, 0, "{}", unlock.stderr);
    let (finding, _) = doctor_live(&lab, &log);
    assert_eq!(finding["live"]["current"], false, "{finding}");
    assert!(
        finding["live"]["detail"]
            .as_str()
            .unwrap()
            .contains("no lock in force on bot web"),
        "{finding}"
    );
}

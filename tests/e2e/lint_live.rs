//! `mwictl lint --live` judging a bound-keypair static key against its token on a real lab: a
//! token not in recovery mode insecure (the agent with that key is then refused, as the finding
//! says), and a rotation requested with `tokens rotate` on a static key's token.

use std::path::Path;

use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_testkit::fixtures;

use crate::bots::put_bot;
use crate::bound_keypair::put_token;
use crate::harness::*;

const BOT: &str = "ci";
const TOKEN: &str = "bot-ci-static";

/// A static key written to `dir/static.pem`; returns its public key.
fn static_key(dir: &Path) -> String {
    let path = dir.join("static.pem");
    let out = run(&mut mwictl_cmd(
        dir,
        &[
            "lab",
            "keypair",
            "create",
            "--static",
            "--static-key-path",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    json["public_key"].as_str().unwrap().to_string()
}

/// The static key's token with `mode` and a limit that is not the reason for a refusal.
fn put_static_token(lab: &Lab, public_key: &str, mode: &str) {
    let onboarding = OnboardingSpec {
        initial_public_key: public_key.to_string(),
        ..Default::default()
    };
    put_token(
        lab,
        fixtures::bound_keypair_token(TOKEN, BOT, onboarding, 5, mode),
    );
}

/// `lint --live --format json` on `config`: the exit code, and the static-key rules' findings
/// as (rule, severity) and as reported.
fn lint_live(lab: &Lab, config: &Path) -> (i32, Vec<(String, String)>, serde_json::Value) {
    let out = run(&mut lab.cmd(&[
        "lint",
        "--live",
        "--format",
        "json",
        config.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let findings: Vec<serde_json::Value> = report["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("static-key-"))
        .cloned()
        .collect();
    let found = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out.code, found, serde_json::Value::Array(findings))
}

/// One `lab bot --oneshot` run of `config` with a fresh storage directory (nothing carried over,
/// as on a CI runner): every run joins anonymously, a recovery.
fn agent(lab: &Lab, config: &Path, run_no: u32) -> Run {
    let storage = lab.root().join(format!("storage-{run_no}"));
    run(&mut lab.cmd(&[
        "lab",
        "bot",
        "-c",
        config.to_str().unwrap(),
        "--oneshot",
        "--data-dir",
        storage.to_str().unwrap(),
    ]))
}

#[test]
fn live_lint_names_a_static_keys_token_that_is_not_insecure_or_asks_for_a_rotation() {
    let lab = Lab::start();
    put_bot(&lab, BOT, &[], &[], None);
    let public = static_key(lab.root());
    put_static_token(&lab, &public, "standard");
    let config = lab.root().join("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v2\nonboarding:\n  join_method: bound_keypair\n  token: {TOKEN}\n  bound_keypair:\n    static_private_key_path: {}\n",
            lab.root().join("static.pem").display()
        ),
    )
    .unwrap();

    let (code, found, findings) = lint_live(&lab, &config);
    assert_eq!(code, 1, "{findings}");
    assert_eq!(
        found,
        [("static-key-recovery-mode".to_string(), "error".to_string())],
        "{findings}"
    );
    let message = findings[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("token `{TOKEN}` on cluster"))
            && message.contains("recovery mode standard"),
        "{message}"
    );
    assert_eq!(findings[0]["incident"], "S9");

    // What the finding predicts: the first join onboards, the next is refused for want of a
    // join state the static key never keeps.
    assert_eq!(agent(&lab, &config, 1).code, 0, "onboarding");
    let refused = agent(&lab, &config, 2);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("join state verification failed"),
        "{}",
        refused.stderr
    );

    // Mode insecure, as the fix says, and then a rotation requested on the token.
    put_static_token(&lab, &public, "insecure");
    let (code, found, findings) = lint_live(&lab, &config);
    assert_eq!((code, found.len()), (0, 0), "{findings}");
    let rotate = run(&mut lab.cmd(&["tokens", "rotate", TOKEN]));
    assert_eq!(rotate.code, 0, "{}", rotate.stderr);
    let (code, found, findings) = lint_live(&lab, &config);
    assert_eq!(code, 1, "{findings}");
    assert_eq!(
        found,
        [("static-key-rotate-after".to_string(), "error".to_string())],
        "{findings}"
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("public key may not be reused after rotation"),
        "{findings}"
    );
    let refused = agent(&lab, &config, 3);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("static private keys do not support automatic rotation"),
        "the static key cannot rotate: {}",
        refused.stderr
    );
}

#[test]
fn without_live_a_static_key_is_a_note_and_the_cluster_is_not_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tbot.yaml");
    std::fs::write(
        &config,
        "version: v2\nproxy_server: p.example.com:443\nonboarding:\n  join_method: bound_keypair\n  token: t\n  bound_keypair:\n    static_private_key_path: /run/key\n",
    )
    .unwrap();
    let mut cmd = mwictl_cmd(
        dir.path(),
        &[
            "lint",
            "--teleport-version",
            "18.2",
            "--env",
            "TBOT_USE_PROXY_ADDR=yes",
            config.to_str().unwrap(),
        ],
    );
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "notes only: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("info[static-key-recovery-mode] (S9)")
            && out.stdout.contains("run with --live to ask the cluster"),
        "{}",
        out.stdout
    );
}

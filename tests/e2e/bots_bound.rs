//! `bots add` and `bots instances add` as in tctl 19 (a bound-keypair token by default, the
//! joining URI printed), joined and renewed by the real agent; `bots ls` / `bots show` with the
//! join method and recovery headroom; `unlock --bot` lifting a join-token lock.

use std::path::Path;

use mwi_proto::types::{ProvisionTokenStatusV2BoundKeypair, ResourceRequest};

use crate::bots::{json, put_roles, table_settings};
use crate::harness::*;

/// Token names (`bot-NAME-` and 8 hex) and registration secrets (32 hex) vary per run.
fn bound_settings(settings: &mut insta::Settings) {
    settings.add_filter(r"bot-example-[0-9a-f]{8}", "[BKTOKEN]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[SECRET]");
}

pub fn joining_uri(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot joining URI: "))
        .expect("the joining URI line")
        .to_owned()
}

/// The token a `tbot+auth+bound-keypair://TOKEN[:SECRET]@ADDR` joining URI names.
pub fn token_in(uri: &str) -> String {
    uri.strip_prefix("tbot+auth+bound-keypair://")
        .and_then(|rest| rest.split(['@', ':']).next())
        .expect("the token in the URI")
        .to_owned()
}

/// `mwictl ARGS --format json` on the lab, which must succeed: what it printed.
pub fn ok_json(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&mut lab.cmd(&all));
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out.stdout)
}

/// `mwictl lab bot --oneshot` with storage `dir`, plus `extra`.
pub fn agent(lab: &Lab, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&mut lab.cmd(&args))
}

pub fn status(lab: &Lab, token: &str) -> ProvisionTokenStatusV2BoundKeypair {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: token.into() })
            .await
            .expect("the token exists")
            .into_inner()
    })
    .status
    .and_then(|s| s.bound_keypair)
    .unwrap_or_default()
}

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// Waits until the identity in `dir` has expired.
pub fn wait_expiry(dir: &Path) {
    let not_after = mwi_identity::CertIdentity::from_pem(&read(dir, "tlscert"))
        .expect("stored tlscert")
        .not_after;
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        <= not_after
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn bots_add_prints_a_joining_uri_the_agent_joins_and_renews_with() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    let out = run(&mut lab.cmd(&["bots", "add", "example", "--roles", "access"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = snapshot_settings();
    bound_settings(&mut settings);
    let text = lab.redact(&out.stdout);
    settings.bind(|| insta::assert_snapshot!("bots_add_bound_keypair_text", text));
    let uri = joining_uri(&out.stdout);
    let token = token_in(&uri);
    assert!(uri.ends_with(&format!("@{}", lab.addr)), "{uri}");

    let dir = lab.root().join("bot");
    let joined = agent(&lab, &dir, &["--join-uri", &uri]);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    let s = status(&lab, &token);
    assert_eq!(s.bound_public_key, read(&dir, "id_bkp.pub").trim());
    assert_eq!((s.recovery_count, s.registration_secret.as_str()), (1, ""));
    let renewed = agent(&lab, &dir, &["--join-uri", &uri]);
    assert_eq!(renewed.code, 0, "{}", renewed.stderr);
    assert!(
        renewed.stderr.contains("Successfully renewed bot identity"),
        "{}",
        renewed.stderr
    );
    assert_eq!(
        status(&lab, &token).recovery_count,
        1,
        "a renewal counts nothing"
    );

    // The bot's listing shows the method and that onboarding used the only recovery.
    let out = run(&mut lab.cmd(&["bots", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    table_settings().bind(|| insta::assert_snapshot!("bots_ls_bound_keypair_text", out.stdout));
    assert!(
        out.stderr.contains(&format!(
            "hint: at 0/N left a bound-keypair bot cannot rejoin once its certificates expire (`no rejoins remaining`); allow one more with `mwictl edit token/{token}`"
        )),
        "{}",
        out.stderr
    );
    let out = run(&mut lab.cmd(&["bots", "show", "example"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = table_settings();
    bound_settings(&mut settings);
    settings.bind(|| insta::assert_snapshot!("bots_show_bound_keypair_text", out.stdout));
    let shown = json(&run(&mut lab.cmd(&["bots", "show", "example", "--format", "json"])).stdout);
    let t = &shown["tokens"][0];
    assert_eq!(
        t["token"],
        token.as_str(),
        "a bound token's name is not masked"
    );
    assert_eq!(
        (
            &t["join_method"],
            &t["recovery_count"],
            &t["recovery_limit"],
            &t["recoveries_left"]
        ),
        (&"bound_keypair".into(), &1.into(), &1.into(), &0.into())
    );
}

#[test]
fn instances_add_json_has_tctls_fields_and_the_bound_keypair_facts() {
    let lab = Lab::start();
    crate::bots::put_bot(&lab, "example", &[], &[], None);
    let added = ok_json(
        &lab,
        &[
            "bots",
            "instances",
            "add",
            "example",
            "--recovery-mode",
            "relaxed",
            "--recovery-limit",
            "3",
            "--ttl",
            "30m",
        ],
    );
    let token = added["token_id"].as_str().expect("token_id");
    let secret = added["registration_secret"].as_str().expect("a secret");
    assert!(token.starts_with("bot-example-"), "{token}");
    assert_eq!(added["user_name"], "bot-example");
    assert_eq!(added["token_ttl"], 1_800_000_000_000u64);
    assert_eq!(added["join_method"], "bound_keypair");
    assert_eq!(
        (&added["recovery_mode"], &added["recovery_limit"]),
        (&"relaxed".into(), &3.into())
    );
    assert_eq!(
        added["join_uri"],
        format!("tbot+auth+bound-keypair://{token}:{secret}@{}", lab.addr)
    );
    assert_eq!(
        added["tbot_start_join_uri"],
        format!(
            "tbot start identity --join-uri={} --destination=./destination",
            added["join_uri"].as_str().unwrap()
        )
    );
    assert_eq!(added["blocking_locks"], serde_json::json!([]));
    assert_eq!(status(&lab, token).registration_secret, secret);
    let dir = lab.root().join("bot");
    let joined = agent(
        &lab,
        &dir,
        &["--join-uri", added["join_uri"].as_str().unwrap()],
    );
    assert_eq!(joined.code, 0, "{}", joined.stderr);
}

#[test]
fn a_preregistered_key_passes_through_and_legacy_gives_a_one_time_token() {
    let lab = Lab::start();
    let dir = lab.root().join("bot");
    let made = ok_json(
        &lab,
        &[
            "lab",
            "keypair",
            "create",
            "--storage",
            dir.to_str().unwrap(),
        ],
    );
    let key = made["public_key"].as_str().expect("key").to_owned();
    let added = ok_json(
        &lab,
        &["bots", "add", "example", "--initial-public-key", &key],
    );
    assert_eq!(added["registration_secret"], serde_json::Value::Null);
    assert!(
        added["initial_key_fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("SHA256:"))
    );
    let token = added["token_id"].as_str().expect("token_id");
    let uri = added["join_uri"].as_str().expect("join_uri");
    assert_eq!(
        uri,
        format!("tbot+auth+bound-keypair://{token}@{}", lab.addr),
        "no secret in the URI"
    );
    let joined = agent(&lab, &dir, &["--join-uri", uri]);
    assert_eq!(joined.code, 0, "{}", joined.stderr);
    assert_eq!(status(&lab, token).bound_public_key, key.trim());

    let legacy = ok_json(&lab, &["bots", "instances", "add", "example", "--legacy"]);
    assert_eq!(legacy["token_id"].as_str().map(str::len), Some(32));
    assert_eq!(legacy["join_uri"], serde_json::Value::Null);
    let joined = crate::unlock::join(&lab, legacy["token_id"].as_str().unwrap());
    assert!(joined.is_ok(), "{joined:?}");

    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "add",
        "example",
        "--legacy",
        "--recovery-limit",
        "2",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--recovery-limit"), "{}", out.stderr);
}

#[test]
fn unlock_bot_removes_the_join_token_lock_a_stale_join_state_made_and_the_agent_rejoins() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "add", "example", "--recovery-limit", "5"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let uri = joining_uri(&out.stdout);
    let dir = lab.root().join("bot");
    let ttl = ["--credential-ttl", "2s", "--join-uri", uri.as_str()];
    assert_eq!(agent(&lab, &dir, &ttl).code, 0, "onboarding");
    let stale = read(&dir, "bkp_state");
    wait_expiry(&dir);
    assert_eq!(agent(&lab, &dir, &ttl).code, 0, "first recovery");
    let good = read(&dir, "bkp_state");
    std::fs::write(dir.join("bkp_state"), &stale).unwrap();
    wait_expiry(&dir);
    let out = agent(&lab, &dir, &ttl);
    assert!(
        out.stderr.contains("join state verification failed"),
        "{}",
        out.stderr
    );

    let listed = json(&run(&mut lab.cmd(&["bots", "ls", "--format", "json"])).stdout);
    assert_eq!(listed[0]["status"], "locked", "{listed}");
    let report = ok_json(&lab, &["unlock", "--bot", "example", "--yes"]);
    assert_eq!(
        report["removed"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(
        report["locks"][0]["reason"],
        "targets a join token of bot example"
    );

    // With its real join state back, the bot recovers once the lock is gone.
    std::fs::write(dir.join("bkp_state"), &good).unwrap();
    let out = agent(&lab, &dir, &ttl);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(status(&lab, &token_in(&uri)).recovery_count, 3);
}

#[test]
fn unlock_scan_all_finds_a_join_token_lock_whose_token_was_removed() {
    let lab = Lab::start();
    crate::bots::put_bot(&lab, "example", &[], &[], None);
    // The lock the lab makes on a stale join state, left after the token was deleted (the
    // lost-keypair runbook removes the token).
    crate::unlock::put_locks(
        &lab,
        vec![mwi_testkit::fixtures::lock(
            "stale-state",
            mwi_testkit::fixtures::target("join_token", "bot-example-0a6f812a"),
            "The join token \"bot-example-0a6f812a\" has been locked by bot \"example\" after a client failed to verify its join state, possibly indicating a stolen keypair.",
        )],
    );
    assert_eq!(
        ok_json(&lab, &["unlock", "--bot", "example", "--yes"])["locks"],
        serde_json::json!([]),
        "the filter cannot see it"
    );
    let report = ok_json(&lab, &["unlock", "--bot", "example", "--scan-all", "--yes"]);
    assert_eq!(
        report["removed"],
        serde_json::json!(["stale-state"]),
        "{report}"
    );
    assert!(!crate::unlock::lock_exists(&lab, "stale-state"));
}

//! The bound-keypair recover flows (S8 bk-exhausted, S9 bk-join-state, S12 bk-rollback) against
//! the lab with the real agent, and the safeguard that no token is left in mode insecure:
//! `tokens mode`, the listings' flag, and a rerun after a crash at every step.

use mwi_proto::types::{ProvisionTokenV2, ResourceRequest};

use crate::bots::json;
use crate::bots_bound::{joining_uri, ok_json, token_in};
use crate::harness::*;

/// The token as the server has it.
fn token(lab: &Lab, name: &str) -> ProvisionTokenV2 {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: name.into() })
            .await
            .expect("the token exists")
            .into_inner()
    })
}

/// The token's recovery mode and limit as stored (`""` is standard).
fn recovery(lab: &Lab, name: &str) -> (String, u32) {
    let r = token(lab, name)
        .spec
        .and_then(|s| s.bound_keypair)
        .and_then(|b| b.recovery)
        .unwrap_or_default();
    (r.mode, r.limit)
}

/// `bots add NAME` (a bound-keypair bot) with `extra`: the joining URI it printed.
fn add_bot(lab: &Lab, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["bots", "add", name];
    args.extend_from_slice(extra);
    let out = run(&mut lab.cmd(&args));
    assert_eq!(out.code, 0, "{}", out.stderr);
    joining_uri(&out.stdout)
}

#[test]
fn tokens_mode_switches_a_bound_token_refuses_others_and_the_listings_flag_insecure() {
    let lab = Lab::start();
    let uri = add_bot(&lab, "example", &[]);
    let name = token_in(&uri);

    let set = ok_json(&lab, &["tokens", "mode", &name, "insecure"]);
    assert_eq!(
        (set["previous"].as_str(), set["changed"].as_bool()),
        (Some("standard"), Some(true)),
        "{set}"
    );
    assert_eq!(recovery(&lab, &name).0, "insecure");

    let shown = run(&mut lab.cmd(&["tokens", "show", &name]));
    assert!(
        shown
            .stdout
            .contains("WARNING:        mode insecure: not switched by an unfinished mwictl run"),
        "{}",
        shown.stdout
    );
    let shown = ok_json(&lab, &["tokens", "show", &name]);
    assert_eq!(shown["insecure"]["run_id"], serde_json::Value::Null);
    assert_eq!(
        shown["insecure"]["restore"],
        format!("mwictl tokens mode {name} standard")
    );
    let listed = run(&mut lab.cmd(&["bots", "ls", "--format", "json"]));
    let listed = json(&listed.stdout);
    assert_eq!(
        listed[0]["bound_tokens"][0]["insecure"]["restore"],
        format!("mwictl tokens mode {name} standard"),
        "{listed}"
    );
    let table = run(&mut lab.cmd(&["bots", "ls"]));
    assert!(
        table.stderr.contains(&format!(
            "bot \"example\": token {name} is in mode insecure"
        )),
        "{}",
        table.stderr
    );

    let back = ok_json(&lab, &["tokens", "mode", &name, "standard"]);
    assert_eq!(back["previous"], "insecure");
    assert_eq!(recovery(&lab, &name).0, "standard");
    let shown = ok_json(&lab, &["tokens", "show", &name]);
    assert_eq!(shown.get("insecure"), None, "{shown}");

    let bad = run(&mut lab.cmd(&["tokens", "mode", &name, "lax"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .starts_with("error: recovery mode \"lax\": not a mode")
    );

    let legacy = ok_json(&lab, &["bots", "instances", "add", "example", "--legacy"]);
    let plain = legacy["token_id"].as_str().unwrap();
    let refused = run(&mut lab.cmd(&["tokens", "mode", plain, "insecure"]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(
        refused.stderr.lines().next(),
        Some(format!("error: token {plain} is of type token, not bound_keypair").as_str())
    );
    assert_eq!(
        token(&lab, plain).spec.unwrap().bound_keypair,
        None,
        "nothing changed"
    );
}

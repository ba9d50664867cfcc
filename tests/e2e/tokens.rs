//! `mwictl tokens ls|add|rm`: bot join tokens as tctl makes them, masked listings, and a token
//! that a bot can join with.

use mwi_proto::types::ResourceRequest;

use crate::harness::{Lab, run, snapshot_settings};
use crate::unlock::{create_bot, instance_ids, join, put_token};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn tokens_add_issues_a_one_time_bot_token_and_prints_the_start_line() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    let out = run(&mut lab.cmd(&["tokens", "add", "--bot", "example", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issued = json(&out.stdout);
    let token = issued["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert_eq!(issued["ttl"], "1h0m0s");
    assert_eq!(
        issued["tbot_start"],
        format!(
            "tbot start --data-dir=/var/lib/teleport/bot --destination-dir=./tbot-user --token={token} --auth-server={} --join-method=token",
            lab.addr
        )
    );
    let stored = lab.admin(async |mut c| {
        c.get_token(ResourceRequest {
            name: token.clone(),
        })
        .await
        .expect("the token exists")
        .into_inner()
    });
    let spec = stored.spec.expect("spec");
    assert_eq!(spec.roles, vec!["Bot"]);
    assert_eq!(spec.join_method, "token");
    assert_eq!(spec.bot_name, "example");
    let instance = join(&lab, &token).expect("a bot joins with it");
    assert!(instance_ids(&lab, "example").contains(&instance));
}

#[test]
fn tokens_add_text_names_token_expiry_and_tbot_command() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    let out = run(&mut lab.cmd(&["tokens", "add", "--bot", "example", "--ttl", "30m"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = snapshot_settings();
    settings.add_filter(r"[0-9a-f]{32}", "[TOKEN]");
    let text = lab.redact(&out.stdout);
    settings.bind(|| insta::assert_snapshot!("tokens_add_text", text));
}

#[test]
fn tokens_add_for_a_missing_bot_is_exit_3_with_the_command_that_adds_it() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["tokens", "add", "--bot", "ghost"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: bot \"ghost\" not found\nhint: create it with `mwictl bots add ghost --roles ROLE,...`, or list bots with `mwictl get bots`\n"
    );
}

#[test]
fn tokens_ls_masks_names_unless_asked_to_show_them() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_token(&lab, "0123456789abcdef0123456789abcdef", "example");
    let out = run(&mut lab.cmd(&["tokens", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stdout.contains("0123456789abcdef0123"),
        "{}",
        out.stdout
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("tokens_ls_text", out.stdout));
    let shown = run(&mut lab.cmd(&["tokens", "ls", "--show-secrets", "--format", "json"]));
    assert_eq!(
        json(&shown.stdout)[0]["metadata"]["name"],
        "0123456789abcdef0123456789abcdef"
    );
    let masked = run(&mut lab.cmd(&["tokens", "ls", "--format", "json"]));
    assert_eq!(
        json(&masked.stdout)[0]["metadata"]["name"],
        "0123****************************"
    );
}

#[test]
fn tokens_ls_on_a_new_lab_says_there_are_none() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["tokens", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "no tokens found\n");
}

#[test]
fn tokens_rm_deletes_the_token_and_a_missing_one_is_exit_3() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_token(&lab, "doomed-token", "example");
    let out = run(&mut lab.cmd(&["tokens", "rm", "doomed-token"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "token \"doomed-token\" has been deleted\n");
    assert!(join(&lab, "doomed-token").is_err());
    let again = run(&mut lab.cmd(&["tokens", "rm", "doomed-token"]));
    assert_eq!(again.code, 3, "{}", again.stderr);
}

//! The whole join token through the lab: a `tctl get` file of every join method through
//! `create` and `get`, the server-written status kept on re-apply (teleport#68211) unless
//! `--restore-status` asks, `edit` refusing status changes, and Teleport's checks on create.

use mwi_proto::types::{ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2, ResourceRequest};

use crate::harness::{BIN, Lab, run};

/// One `tctl get token/X` file per join method, shared with the unit tests.
const FIXTURES: &[&str] = &[
    include_str!("../../cli/src/resource/testdata/tokens/token.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/ec2.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/iam.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/github.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/gitlab.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/circleci.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/kubernetes.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/azure.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/gcp.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/spacelift.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/tpm.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/terraform_cloud.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/bitbucket.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/oracle.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/azure_devops.yaml"),
    include_str!("../../cli/src/resource/testdata/tokens/bound_keypair_secret.yaml"),
];
const BOUND: &str = include_str!("../../cli/src/resource/testdata/tokens/bound_keypair_bound.yaml");

/// The document without its leading `# docs:` comment.
fn body(fixture: &str) -> String {
    fixture
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `text` without the `revision:` line the lab adds on every write.
fn without_revision(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("revision:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn write(lab: &Lab, file: &str, text: &str) -> String {
    let path = lab.root().join(file);
    std::fs::write(&path, text).expect("write file");
    path.display().to_string()
}

fn stored(lab: &Lab, name: &str) -> ProvisionTokenV2 {
    let name = name.to_owned();
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name })
            .await
            .expect("the token exists")
            .into_inner()
    })
}

fn bound_status(lab: &Lab, name: &str) -> ProvisionTokenStatusV2BoundKeypair {
    stored(lab, name)
        .status
        .and_then(|s| s.bound_keypair)
        .expect("a bound_keypair status")
}

/// The stored token's `spec.bound_keypair.recovery.limit`.
fn recovery_limit(lab: &Lab, name: &str) -> u32 {
    stored(lab, name)
        .spec
        .and_then(|s| s.bound_keypair)
        .and_then(|b| b.recovery)
        .expect("a bound-keypair token with a recovery block")
        .limit
}

/// The bound token of the fixture, restored with its status.
fn restore_bound(lab: &Lab) -> ProvisionTokenStatusV2BoundKeypair {
    let file = write(lab, "bound.yaml", &body(BOUND));
    let out = run(&mut lab.cmd(&["create", "--restore-status", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    bound_status(lab, "example-token")
}

#[test]
fn a_tctl_file_of_every_join_method_goes_through_create_and_prints_back_identically() {
    let lab = Lab::start();
    let restored = body(BOUND);
    let cases = FIXTURES
        .iter()
        .map(|f| (body(f), false))
        .chain([(restored, true)]);
    for (i, (text, restore)) in cases.enumerate() {
        let file = write(&lab, &format!("token{i}.yaml"), &text);
        let mut args = vec!["create", file.as_str()];
        if restore {
            args.push("--restore-status");
        }
        let out = run(&mut lab.cmd(&args));
        assert_eq!(out.code, 0, "{text}\n{}", out.stderr);
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("  name: "))
            .expect("a name");
        let out = run(&mut lab.cmd(&["get", &format!("token/{name}"), "--format", "yaml"]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(without_revision(&out.stdout), text);
    }
}

#[test]
fn re_applying_a_spec_only_file_keeps_the_servers_status_and_changes_the_spec() {
    let lab = Lab::start();
    let before = restore_bound(&lab);
    assert_eq!(before.recovery_count, 2);
    let text = body(BOUND);
    let spec_only =
        text[..text.find("status:").unwrap()].replace("limit: 3", "limit: 5") + "version: v2\n";
    let file = write(&lab, "spec-only.yaml", &spec_only);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "token \"example-token\" has been updated\n");
    assert_eq!(out.stderr, "");
    assert_eq!(recovery_limit(&lab, "example-token"), 5);
    assert_eq!(bound_status(&lab, "example-token"), before);
}

#[test]
fn a_tampered_status_in_create_f_is_not_written_and_says_so() {
    let lab = Lab::start();
    let before = restore_bound(&lab);
    let tampered = body(BOUND)
        .replace("recovery_count: 2", "recovery_count: 0")
        .replace("bound_bot_instance_id: 7b6a", "bound_bot_instance_id: 0000");
    let file = write(&lab, "tampered.yaml", &tampered);
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "warning: token \"example-token\": the file's status was not written, the server's is kept \
         (status is written by the auth server as bots join; `--restore-status` writes a saved one)\n"
    );
    assert_eq!(bound_status(&lab, "example-token"), before);
    // The UpsertTokenV2 RPC keeps it too: the lab ignores a status sent over a stored token.
    let mut token = stored(&lab, "example-token");
    let status = token
        .status
        .as_mut()
        .and_then(|s| s.bound_keypair.as_mut())
        .unwrap();
    status.recovery_count = 0;
    status.bound_public_key = String::new();
    lab.admin(async |mut c| {
        c.upsert_token_v2(mwi_proto::proto::UpsertTokenV2Request {
            token: Some(mwi_proto::proto::upsert_token_v2_request::Token::V2(token)),
        })
        .await
        .expect("upsert")
    });
    assert_eq!(bound_status(&lab, "example-token"), before);
}

#[test]
fn restore_status_writes_the_files_status_over_an_existing_token_with_a_warning() {
    let lab = Lab::start();
    restore_bound(&lab);
    let saved = body(BOUND).replace("recovery_count: 2", "recovery_count: 1");
    let file = write(&lab, "saved.yaml", &saved);
    let out = run(&mut lab.cmd(&["create", "-f", "--restore-status", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "warning: token \"example-token\": writing the file's status (bound key, bot instance, \
             recovery count) instead of the server's"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(bound_status(&lab, "example-token").recovery_count, 1);
}

#[test]
fn create_refuses_a_bound_keypair_token_without_its_block_or_recovery_and_writes_nothing() {
    let lab = Lab::start();
    let head = "kind: token\nversion: v2\nmetadata: {name: bk}\nspec:\n  roles: [Bot]\n  \
                bot_name: example\n  join_method: bound_keypair\n";
    for (extra, message) in [
        (
            "",
            "bound_keypair token requires non-nil spec.bound_keypair",
        ),
        (
            "  bound_keypair: {onboarding: {}}\n",
            "spec.bound_keypair.recovery: field is required",
        ),
    ] {
        let file = write(&lab, "bk.yaml", &format!("{head}{extra}"));
        let out = run(&mut lab.cmd(&["create", &file]));
        assert_ne!(out.code, 0);
        assert!(out.stderr.contains(message), "{}", out.stderr);
        let out = run(&mut lab.cmd(&["get", "token/bk"]));
        assert_eq!(out.code, 3, "nothing was created: {}", out.stdout);
    }
    let err = lab.admin(async |mut c| {
        let token = ProvisionTokenV2 {
            metadata: Some(mwi_proto::types::Metadata {
                name: "bk".into(),
                ..Default::default()
            }),
            spec: Some(mwi_proto::types::ProvisionTokenSpecV2 {
                roles: vec!["Bot".into()],
                bot_name: "example".into(),
                join_method: "bound_keypair".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        c.create_token_v2(mwi_proto::proto::CreateTokenV2Request {
            token: Some(mwi_proto::proto::create_token_v2_request::Token::V2(token)),
        })
        .await
        .expect_err("refused")
    });
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        err.message(),
        "bound_keypair token requires non-nil spec.bound_keypair"
    );
}

#[test]
fn a_bound_keypair_token_without_key_or_secret_gets_a_generated_registration_secret() {
    let lab = Lab::start();
    let file = write(
        &lab,
        "bk.yaml",
        "kind: token\nversion: v2\nmetadata: {name: bk}\nspec:\n  roles: [Bot]\n  \
         bot_name: example\n  join_method: bound_keypair\n  bound_keypair:\n    \
         recovery: {limit: 1, mode: standard}\n",
    );
    let out = run(&mut lab.cmd(&["create", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let secret = bound_status(&lab, "bk").registration_secret;
    assert_eq!(secret.len(), 32);
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()), "{secret}");
    // Re-applying the same file keeps the secret the bot was given.
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(bound_status(&lab, "bk").registration_secret, secret);
}

#[test]
fn edit_shows_the_status_refuses_changes_to_it_and_applies_spec_changes() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::start();
    let before = restore_bound(&lab);
    let script = |name: &str, sed: &str| {
        let path = lab.root().join(name);
        std::fs::write(&path, format!("#!/bin/sh\nset -e\nsed -i '{sed}' \"$1\"\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    let edit = |editor: &str| {
        let mut cmd = lab.cmd(&["edit", "token/example-token"]);
        cmd.env("TELEPORT_EDITOR", editor)
            .env("TMPDIR", lab.root())
            .env("MWICTL_BIN", BIN);
        run(&mut cmd)
    };
    let out = edit(&script(
        "count.sh",
        "s/recovery_count: 2/recovery_count: 0/",
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "token \"example-token\": status is written by the auth server as bots join and \
             cannot be edited; changed: status.bound_keypair.recovery_count"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(bound_status(&lab, "example-token"), before);
    let out = edit(&script("limit.sh", "s/limit: 3/limit: 4/"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(recovery_limit(&lab, "example-token"), 4);
    assert_eq!(bound_status(&lab, "example-token"), before);
}

// ---- tokens add --join-method bound_keypair, tokens show, tokens rotate ----

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `mwictl tokens add --bot example --join-method bound_keypair`, plus `extra`.
fn add_bound(lab: &Lab, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec![
        "tokens",
        "add",
        "--bot",
        "example",
        "--join-method",
        "bound_keypair",
    ];
    args.extend_from_slice(extra);
    run(&mut lab.cmd(&args))
}

/// [`add_bound`] with `--format json`, which must succeed: what it printed.
fn add_bound_json(lab: &Lab, extra: &[&str]) -> serde_json::Value {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--format", "json"]);
    let out = add_bound(lab, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out.stdout)
}

fn seconds_from_now(ts: &prost_types::Timestamp) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    ts.seconds - now
}

#[test]
fn tokens_add_bound_keypair_prints_the_secret_the_server_made_and_the_join_uri() {
    let lab = Lab::start();
    crate::unlock::create_bot(&lab, "example", &[]);
    let issued = add_bound_json(&lab, &["--recovery-limit", "2"]);
    let name = issued["token"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("bot-example-") && name.len() == 20,
        "{name}"
    );
    let secret = issued["registration_secret"].as_str().unwrap().to_owned();
    let token = stored(&lab, &name);
    assert_eq!(token.metadata.as_ref().unwrap().expires, None);
    let spec = token.spec.unwrap();
    assert_eq!(
        (spec.join_method.as_str(), spec.bot_name.as_str()),
        ("bound_keypair", "example")
    );
    let bk = spec.bound_keypair.unwrap();
    let recovery = bk.recovery.unwrap();
    assert_eq!((recovery.limit, recovery.mode.as_str()), (2, "standard"));
    let deadline = bk.onboarding.unwrap().must_register_before.unwrap();
    assert!((3590..=3600).contains(&seconds_from_now(&deadline)));
    assert_eq!(bound_status(&lab, &name).registration_secret, secret);
    assert_eq!(
        issued["join_uri"],
        format!("tbot+auth+bound-keypair://{name}:{secret}@{}", lab.addr)
    );
    assert_eq!(
        issued["tbot_start"],
        format!(
            "tbot start --data-dir=/var/lib/teleport/bot --destination-dir=./tbot-user --token={name} \
             --registration-secret={secret} --auth-server={} --join-method=bound_keypair",
            lab.addr
        )
    );
    let out = add_bound(&lab, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = crate::harness::snapshot_settings();
    settings.add_filter(r"bot-example-[0-9a-f]{8}", "[TOKEN]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[SECRET]");
    let text = lab.redact(&out.stdout);
    settings.bind(|| insta::assert_snapshot!("tokens_add_bound_keypair_text", text));
}

#[test]
fn tokens_add_bound_keypair_with_a_preregistered_key_makes_no_secret_and_refuses_a_bad_key() {
    let lab = Lab::start();
    crate::unlock::create_bot(&lab, "example", &[]);
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsqVA9xfvZBF+SY1+fE/bs+O7A7n6iSE3Z2l+Lud9Jy";
    let issued = add_bound_json(
        &lab,
        &["--initial-public-key", key, "--recovery-mode", "insecure"],
    );
    assert_eq!(issued["registration_secret"], serde_json::Value::Null);
    assert_eq!(
        issued["initial_key_fingerprint"],
        "SHA256:23i19WvFyPGr/E7rMY7KpdnNO28MtUnxPzIsZjGnHy4"
    );
    let name = issued["token"].as_str().unwrap();
    let spec = stored(&lab, name).spec.unwrap().bound_keypair.unwrap();
    let onboarding = spec.onboarding.unwrap();
    assert_eq!(
        (
            onboarding.initial_public_key.as_str(),
            onboarding.must_register_before
        ),
        (key, None)
    );
    assert_eq!(spec.recovery.unwrap().mode, "insecure");
    assert_eq!(bound_status(&lab, name).registration_secret, "");
    let out = add_bound(&lab, &["--initial-public-key", "ssh-ed25519 AAAA"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--initial-public-key \"ssh-ed25519 AAAA\": not an SSH public key"),
        "{}",
        out.stderr
    );
    let out = run(&mut lab.cmd(&["tokens", "ls", "--format", "json"]));
    assert_eq!(
        json(&out.stdout).as_array().unwrap().len(),
        1,
        "the bad key made no token"
    );
}

#[test]
fn tokens_show_and_rotate_a_bound_token() {
    let lab = Lab::start();
    let before = restore_bound(&lab);
    let out = run(&mut lab.cmd(&["tokens", "show", "example-token"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = out.stdout;
    crate::harness::snapshot_settings()
        .bind(|| insta::assert_snapshot!("tokens_show_bound_text", text));
    let out = run(&mut lab.cmd(&["tokens", "rotate", "example-token"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Token rotation flag has been set, rotation will be required during the next authentication attempt.\n"
    );
    let token = stored(&lab, "example-token");
    let after = token
        .spec
        .unwrap()
        .bound_keypair
        .unwrap()
        .rotate_after
        .unwrap();
    assert!((-5..=0).contains(&seconds_from_now(&after)));
    assert_eq!(bound_status(&lab, "example-token"), before, "status kept");
    let out = run(&mut lab.cmd(&["tokens", "show", "example-token", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = json(&out.stdout);
    let bk = &shown["bound_keypair"];
    assert_eq!(bk["rotation_pending"], true);
    assert_eq!(
        bk["bound_key_fingerprint"],
        "SHA256:23i19WvFyPGr/E7rMY7KpdnNO28MtUnxPzIsZjGnHy4"
    );
    assert_eq!(
        bk["bound_bot_instance_id"],
        "7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11"
    );
    assert_eq!(
        (
            &bk["recovery_count"],
            &bk["recovery_limit"],
            &bk["recoveries_left"]
        ),
        (
            &serde_json::json!(2),
            &serde_json::json!(3),
            &serde_json::json!(1)
        )
    );
    let out = run(&mut lab.cmd(&["tokens", "show", "example-token"]));
    assert!(
        out.stdout
            .contains("Rotation:       pending (requested for after "),
        "{}",
        out.stdout
    );
}

#[test]
fn tokens_rotate_refuses_other_join_methods_and_missing_tokens() {
    let lab = Lab::start();
    crate::unlock::put_token(&lab, "plain-token", "example");
    let out = run(&mut lab.cmd(&["tokens", "rotate", "plain-token"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("token plain-token is of type token, not bound_keypair"),
        "{}",
        out.stderr
    );
    let out = run(&mut lab.cmd(&["tokens", "rotate", "nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    let out = run(&mut lab.cmd(&["tokens", "show", "nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
}

#[test]
fn tokens_ls_masks_registration_secrets_unless_asked() {
    let lab = Lab::start();
    let file = write(&lab, "secret.yaml", &body(FIXTURES[15]));
    assert_eq!(run(&mut lab.cmd(&["create", &file])).code, 0);
    let out = run(&mut lab.cmd(&["tokens", "ls", "--format", "yaml"]));
    assert!(
        !out.stdout.contains("8a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("registration_secret: 8a3c****"),
        "{}",
        out.stdout
    );
    let out = run(&mut lab.cmd(&["tokens", "ls", "--show-secrets", "--format", "yaml"]));
    assert!(
        out.stdout.contains("8a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e"),
        "{}",
        out.stdout
    );
}

// ---- with the real agent ----

/// `mwictl lab bot --oneshot` with storage `dir`, plus `args`.
fn agent(lab: &Lab, dir: &std::path::Path, args: &[&str]) -> crate::harness::Run {
    let mut all = vec![
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run(&mut lab.cmd(&all))
}

#[test]
fn a_bot_onboarded_from_tokens_add_keeps_joining_after_its_token_file_is_re_applied() {
    let lab = Lab::start();
    crate::unlock::create_bot(&lab, "example", &[]);
    let issued = add_bound_json(&lab, &["--recovery-limit", "2"]);
    let name = issued["token"].as_str().unwrap().to_owned();
    let dir = lab.root().join("bot");
    // The joining URI tokens add printed onboards the agent.
    let out = agent(
        &lab,
        &dir,
        &["--join-uri", issued["join_uri"].as_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let joined = bound_status(&lab, &name);
    assert_eq!(
        (joined.recovery_count, joined.registration_secret.as_str()),
        (1, "")
    );
    assert!(!joined.bound_public_key.is_empty());

    // The admin re-applies the token from a spec-only file (teleport#68211).
    let out = run(&mut lab.cmd(&["get", &format!("token/{name}"), "--format", "yaml"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let spec_only = &out.stdout[..out.stdout.find("status:").expect("a status")];
    let file = write(&lab, "token.yaml", &format!("{spec_only}version: v2\n"));
    let out = run(&mut lab.cmd(&["create", "-f", &file]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(bound_status(&lab, &name), joined);

    // The bot still renews with the ceremony, as the same instance, without a recovery.
    let out = agent(
        &lab,
        &dir,
        &["--join-method", "bound_keypair", "--token", &name],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Successfully renewed bot identity"),
        "{}",
        out.stderr
    );
    let after = bound_status(&lab, &name);
    assert_eq!(after.recovery_count, 1);
    assert_eq!(after.bound_bot_instance_id, joined.bound_bot_instance_id);
    let out = run(&mut lab.cmd(&["tokens", "show", &name]));
    assert!(
        out.stdout
            .contains("Recoveries:     1 of 2 used, 1 left (mode standard)"),
        "{}",
        out.stdout
    );
}

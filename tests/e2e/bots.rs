//! `mwictl bots ls|show|add|rm|update|recreate` against the lab: output snapshots, exit codes,
//! lock handling without a terminal, and the server state afterwards; against a scripted
//! server, that a bot's fields unknown to mwictl survive update and recreate.

use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{
    Bot, BotSpec, CreateBotRequest, GetBotRequest, Trait, UpdateBotRequest,
};
use mwi_proto::proto::{GetRoleRequest, UpsertRoleRequest};
use mwi_proto::types::{Metadata, ResourceRequest, RoleSpecV6, RoleV6};
use mwi_testkit::fixtures::{self, lock, target};
use mwi_testkit::scripted::{Script, Scripted};
use mwi_testkit::wire::{field_1, has_future_field, raw_call, with_unknown};
use prost::Message;

use crate::harness::{Lab, run, scripted_cmd, snapshot_settings, with_admin};
use crate::instances::new_token;
use crate::unlock::{join, lock_exists, put_locks};

// ---- fixtures ----

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Snapshot settings that also hide tokens and backup file time stamps.
pub fn settings() -> insta::Settings {
    let mut settings = snapshot_settings();
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[TOKEN]");
    settings.add_filter(r"\b[0-9a-f]{4}\*{28}", "[MASKED]");
    settings.add_filter(r"\d{8}T\d{6}Z(-\d+)?", "[STAMP]");
    settings
}

/// [`settings`] for tables: a hidden value (a time, a UUID) changes column widths, so runs of
/// spaces and of dashes are folded and only the cells are compared.
pub fn table_settings() -> insta::Settings {
    let mut settings = settings();
    settings.add_filter(r" {2,}", " ");
    settings.add_filter(r"-{2,}", "--");
    settings
}

/// Roles `names`, empty but valid.
pub fn put_roles(lab: &Lab, names: &[&str]) {
    lab.admin(async |mut c| {
        for name in names {
            let role = RoleV6 {
                kind: "role".into(),
                version: "v7".into(),
                metadata: Some(Metadata {
                    name: name.to_string(),
                    ..Default::default()
                }),
                spec: Some(RoleSpecV6::default()),
                ..Default::default()
            };
            c.upsert_role_v2(UpsertRoleRequest { role: Some(role) })
                .await
                .expect("upsert role");
        }
    });
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Creates bot `name` over gRPC with roles, a `logins` trait (also when empty) and a max
/// session TTL in seconds.
pub fn put_bot(lab: &Lab, name: &str, roles: &[&str], logins: &[&str], ttl: Option<i64>) {
    let bot = fixtures::bot_with(name, roles, &[("logins", logins)], ttl);
    with_admin(lab, async |channel| {
        BotServiceClient::new(channel)
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .expect("create bot");
    });
}

/// The bot as the server has it, or `None`.
pub fn stored_bot(lab: &Lab, name: &str) -> Option<Bot> {
    with_admin(lab, async |channel| {
        BotServiceClient::new(channel)
            .get_bot(GetBotRequest {
                bot_name: name.into(),
            })
            .await
            .ok()
            .map(tonic::Response::into_inner)
    })
}

pub fn logins_of(bot: &Bot) -> Vec<String> {
    bot.spec
        .as_ref()
        .map(|s| {
            s.traits
                .iter()
                .filter(|t| t.name == "logins")
                .flat_map(|t| t.values.clone())
                .collect()
        })
        .unwrap_or_default()
}

pub fn roles_of(bot: &Bot) -> Vec<String> {
    bot.spec
        .as_ref()
        .map(|s| s.roles.clone())
        .unwrap_or_default()
}

/// The roles the bot role `bot-NAME` impersonates.
fn impersonated(lab: &Lab, bot: &str) -> Vec<String> {
    lab.admin(async |mut c| {
        c.get_role(GetRoleRequest {
            name: format!("bot-{bot}"),
        })
        .await
        .expect("bot role")
        .into_inner()
        .spec
        .and_then(|s| s.allow)
        .and_then(|a| a.impersonate)
        .map(|i| i.roles)
        .unwrap_or_default()
    })
}

// ---- bots ls ----

#[test]
fn bots_ls_on_a_new_lab_says_no_bots_found() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "No bots found\n");
    let out = run(&mut lab.cmd(&["bots", "ls", "--format", "json"]));
    assert_eq!(out.stdout, "[]\n");
}

/// Three bots: `healthy` (a live instance), `idle` (none) and `stuck` (a live instance, and its
/// user locked as after a generation mismatch).
fn fleet(lab: &Lab) {
    put_roles(lab, &["access", "editor"]);
    put_bot(lab, "healthy", &["access"], &["root"], None);
    put_bot(lab, "idle", &["access", "editor"], &[], None);
    put_bot(lab, "stuck", &["editor"], &[], None);
    for bot in ["healthy", "stuck"] {
        join(lab, &new_token(lab, bot)).expect("join");
    }
    put_locks(
        lab,
        vec![lock(
            "lock-stuck",
            target("user", "bot-stuck"),
            "The bot user \"bot-stuck\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate.",
        )],
    );
}

#[test]
fn bots_ls_shows_which_bots_are_locked_or_idle() {
    let lab = Lab::start();
    fleet(&lab);
    let out = run(&mut lab.cmd(&["bots", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings().bind(|| insta::assert_snapshot!("bots_ls_text", out.stdout));
    assert!(
        out.stderr.contains("`mwictl unlock --bot NAME`"),
        "{}",
        out.stderr
    );
}

#[test]
fn bots_ls_json_has_stable_fields_per_bot() {
    let lab = Lab::start();
    fleet(&lab);
    let out = run(&mut lab.cmd(&["bots", "ls", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bots = json(&out.stdout);
    let by_name = |name: &str| {
        bots.as_array()
            .expect("array")
            .iter()
            .find(|b| b["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {bots}"))
    };
    let stuck = by_name("stuck");
    let mut keys: Vec<&str> = stuck
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bound_tokens",
            "instances",
            "join_methods",
            "live_instances",
            "locks",
            "logins",
            "max_session_ttl",
            "name",
            "role_name",
            "roles",
            "status",
            "tokens",
            "user_name"
        ]
    );
    assert_eq!(stuck["status"], "locked");
    assert_eq!(stuck["locks"], serde_json::json!(["lock-stuck"]));
    assert_eq!(stuck["live_instances"], 1);
    assert_eq!(by_name("idle")["status"], "no_live_instance");
    let healthy = by_name("healthy");
    assert_eq!(healthy["status"], "ok");
    assert_eq!(healthy["logins"], serde_json::json!(["root"]));
    assert_eq!(healthy["user_name"], "bot-healthy");
}

#[test]
fn bots_ls_counts_a_lock_on_a_live_instance() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let instance = join(&lab, &new_token(&lab, "example")).expect("join");
    put_locks(
        &lab,
        vec![lock(
            "lock-instance",
            target("bot_instance_id", &instance),
            "The bot instance example/... has been locked",
        )],
    );
    let out = run(&mut lab.cmd(&["bots", "ls", "--format", "json"]));
    let bots = json(&out.stdout);
    assert_eq!(bots[0]["status"], "locked", "{bots}");
    assert_eq!(bots[0]["locks"], serde_json::json!(["lock-instance"]));
}

// ---- bots show ----

#[test]
fn bots_show_prints_settings_locks_instances_and_masked_tokens() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    put_bot(
        &lab,
        "example",
        &["access"],
        &["root", "ubuntu"],
        Some(7200),
    );
    join(&lab, &new_token(&lab, "example")).expect("join");
    run(&mut lab.cmd(&["bots", "instances", "add", "example", "--legacy"]));
    put_locks(
        &lab,
        vec![lock("lock-user", target("user", "bot-example"), "stolen")],
    );
    let out = run(&mut lab.cmd(&["bots", "show", "example"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    table_settings().bind(|| insta::assert_snapshot!("bots_show_text", out.stdout));

    let out = run(&mut lab.cmd(&["bots", "show", "example", "--format", "json"]));
    let shown = json(&out.stdout);
    assert_eq!(shown["status"], "locked");
    assert_eq!(shown["logins"], serde_json::json!(["root", "ubuntu"]));
    assert_eq!(
        shown["traits"]["logins"],
        serde_json::json!(["root", "ubuntu"])
    );
    assert_eq!(shown["max_session_ttl"], "2h0m0s");
    assert_eq!(shown["locks"][0]["id"], "lock-user");
    assert_eq!(
        shown["locks"][0]["reason"],
        "targets the bot user bot-example"
    );
    assert_eq!(shown["instances"][0]["locked"], true);
    let token = shown["tokens"][0]["token"].as_str().expect("token");
    assert!(token.ends_with("****"), "masked: {token}");
}

#[test]
fn bots_show_of_a_missing_bot_is_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "show", "ghost"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: bot \"ghost\" not found\nhint: list bots with `mwictl bots ls`\n"
    );
}

// ---- bots add ----

#[test]
fn bots_add_creates_the_bot_and_a_token_it_joins_with() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "editor"]);
    let out = run(&mut lab.cmd(&[
        "bots",
        "add",
        "example",
        "--legacy",
        "--roles",
        "access,editor",
        "--logins",
        "root,ubuntu",
        "--max-session-ttl",
        "2h",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = lab.redact(&out.stdout);
    settings().bind(|| insta::assert_snapshot!("bots_add_text", text));

    let bot = stored_bot(&lab, "example").expect("the bot exists");
    assert_eq!(roles_of(&bot), ["access", "editor"]);
    assert_eq!(logins_of(&bot), ["root", "ubuntu"]);
    assert_eq!(
        bot.spec.and_then(|s| s.max_session_ttl).map(|d| d.seconds),
        Some(7200)
    );
    assert_eq!(impersonated(&lab, "example"), ["access", "editor"]);
    let token = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot token: "))
        .expect("token line")
        .to_owned();
    let stored = lab.admin(async |mut c| {
        c.get_token(ResourceRequest {
            name: token.clone(),
        })
        .await
        .expect("the token exists")
        .into_inner()
    });
    let spec = stored.spec.expect("spec");
    assert_eq!(
        (spec.roles, spec.bot_name),
        (strings(&["Bot"]), "example".into())
    );
    join(&lab, &token).expect("a bot joins with the token");
    assert!(join(&lab, &token).is_err(), "the token works once");
}

#[test]
fn bots_add_json_has_tctls_fields_and_the_expiry() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&[
        "bots",
        "add",
        "example",
        "--legacy",
        "--token-ttl",
        "30m",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("no --roles"), "{}", out.stderr);
    let added = json(&out.stdout);
    assert_eq!(added["user_name"], "bot-example");
    assert_eq!(added["role_name"], "bot-example");
    assert_eq!(added["token_ttl"], 1_800_000_000_000u64);
    assert_eq!(added["token_id"].as_str().map(str::len), Some(32));
    assert!(added["expires"].is_string());
    assert_eq!(added["removed_locks"], serde_json::json!([]));
}

#[test]
fn bots_add_of_an_existing_bot_is_exit_5_naming_update_and_recreate() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let out = run(&mut lab.cmd(&["bots", "add", "example"]));
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: bot \"example\" already exists\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`mwictl bots update example"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`mwictl bots recreate example`"),
        "{}",
        out.stderr
    );
}

#[test]
fn bots_add_with_a_missing_role_is_exit_3_and_creates_nothing() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "add", "example", "--roles", "nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: role \"nope\" does not exist; nothing was changed\n"),
        "{}",
        out.stderr
    );
    assert!(stored_bot(&lab, "example").is_none());
}

/// A lock left on `bot-example` by a deleted bot.
fn leftover_lock(lab: &Lab) {
    put_locks(
        lab,
        vec![lock(
            "old-lock",
            target("user", "bot-example"),
            "The bot user \"bot-example\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate.",
        )],
    );
}

#[test]
fn bots_add_over_leftover_locks_without_a_terminal_refuses_naming_both_flags() {
    let lab = Lab::start();
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "add", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("old-lock"),
        "the lock is shown: {}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(
            "error: cannot ask whether to remove 1 lock on bot \"example\": stdin is not a terminal; nothing was changed\n\
             hint: pass --yes to remove them (backed up first), or --keep-locks to keep them\n"
        ),
        "{}",
        out.stderr
    );
    assert!(stored_bot(&lab, "example").is_none());
    assert!(lock_exists(&lab, "old-lock"));
}

#[test]
fn bots_add_yes_removes_leftover_locks_after_backing_them_up() {
    let lab = Lab::start();
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&[
        "bots", "add", "example", "--legacy", "--yes", "--format", "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let added = json(&out.stdout);
    assert_eq!(added["removed_locks"], serde_json::json!(["old-lock"]));
    let backup = added["locks_backup"].as_str().expect("backup path");
    let saved = std::fs::read_to_string(backup).expect("backup file");
    assert!(saved.contains("name: old-lock"), "{saved}");
    assert!(!lock_exists(&lab, "old-lock"));
    join(&lab, added["token_id"].as_str().expect("token")).expect("the new bot can join");
}

#[test]
fn bots_add_keep_locks_keeps_them_and_the_join_stays_refused() {
    let lab = Lab::start();
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "add", "example", "--legacy", "--keep-locks"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("KEPT 1 lock that blocks this bot (old-lock)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("`mwictl unlock --bot example`"),
        "{}",
        out.stderr
    );
    assert!(lock_exists(&lab, "old-lock"));
    let token = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot token: "))
        .expect("token line");
    let refused = join(&lab, token).expect_err("the lock refuses the join");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
}

// ---- bots rm ----

#[test]
fn bots_rm_deletes_the_bot_like_tctl() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let out = run(&mut lab.cmd(&["bots", "rm", "example"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Bot \"example\" deleted successfully.\n");
    assert!(stored_bot(&lab, "example").is_none());
}

#[test]
fn bots_rm_with_locks_and_no_terminal_refuses_and_keeps_the_bot() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "rm", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--keep-locks"), "{}", out.stderr);
    assert!(stored_bot(&lab, "example").is_some());
    assert!(lock_exists(&lab, "old-lock"));
}

#[test]
fn bots_rm_yes_removes_its_locks_with_a_backup() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "rm", "example", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = lab.redact(&out.stdout);
    settings().bind(|| insta::assert_snapshot!("bots_rm_yes_text", text));
    assert!(!lock_exists(&lab, "old-lock"));
    assert!(stored_bot(&lab, "example").is_none());
}

#[test]
fn bots_rm_keep_locks_names_them_and_the_unlock_command() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "rm", "example", "--keep-locks"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Bot \"example\" deleted successfully.\n\
         Kept 1 lock that targets it: old-lock.\n\
         A bot created again as \"example\" stays blocked until you run `mwictl unlock --bot example`.\n"
    );
    assert!(lock_exists(&lab, "old-lock"));
}

#[test]
fn bots_rm_of_a_missing_bot_is_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "rm", "ghost"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: bot \"ghost\" not found\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn bots_rm_of_a_deleted_bot_points_at_its_leftover_locks() {
    let lab = Lab::start();
    leftover_lock(&lab);
    let out = run(&mut lab.cmd(&["bots", "rm", "example"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.ends_with(
            "hint: an earlier bot's locks still target the name (1 lock): remove them with `mwictl unlock --bot example`\n"
        ),
        "{}",
        out.stderr
    );
    assert!(lock_exists(&lab, "old-lock"));
}

/// `mwictl ARGS` under a pseudo-terminal, with the lab's profile.
fn interactive(lab: &Lab, args: &[&str]) -> expectrl::Session {
    let mut command = std::process::Command::new(crate::harness::BIN);
    command
        .args(args)
        .envs(crate::harness::hermetic_env(&lab.home()))
        .env("TERM", "xterm")
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE");
    let mut session = expectrl::Session::spawn(command).expect("spawn mwictl under a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(30)));
    session
}

#[test]
fn bots_rm_under_a_terminal_asks_once_and_removes_the_locks_on_yes() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    leftover_lock(&lab);
    let mut s = interactive(&lab, &["bots", "rm", "example"]);
    s.expect("Remove the 1 lock above together with bot \"example\"?")
        .expect("the question");
    s.send("y").expect("answer");
    s.expect("deleted successfully").expect("the report");
    s.expect(expectrl::Eof).expect("exit");
    assert!(!lock_exists(&lab, "old-lock"));
    assert!(stored_bot(&lab, "example").is_none());
}

#[test]
fn bots_recreate_under_a_terminal_changes_nothing_on_no() {
    let lab = Lab::start();
    locked_example(&lab);
    let before = stored_bot(&lab, "example");
    let mut s = interactive(&lab, &["bots", "recreate", "example"]);
    s.expect("Recreate bot \"example\"?").expect("the question");
    s.send("n").expect("answer");
    s.expect("Canceled: nothing was changed.")
        .expect("canceled");
    s.expect(expectrl::Eof).expect("exit");
    assert_eq!(stored_bot(&lab, "example"), before);
    assert!(lock_exists(&lab, "lock-user"));
}

// ---- bots update ----

#[test]
fn bots_update_changes_roles_and_logins_and_the_server_has_them() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "editor"]);
    put_bot(&lab, "example", &["access"], &["root"], None);
    let out = run(&mut lab.cmd(&[
        "bots",
        "update",
        "example",
        "--add-roles",
        "editor",
        "--add-logins",
        "ubuntu",
        "--set-max-session-ttl",
        "1h",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings().bind(|| insta::assert_snapshot!("bots_update_text", out.stdout));
    let bot = stored_bot(&lab, "example").expect("bot");
    assert_eq!(roles_of(&bot), ["access", "editor"]);
    assert_eq!(logins_of(&bot), ["root", "ubuntu"]);
    assert_eq!(impersonated(&lab, "example"), ["access", "editor"]);

    let out = run(&mut lab.cmd(&[
        "bots",
        "update",
        "example",
        "--remove-roles",
        "access",
        "--set-logins",
        "deploy",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(
        report["paths"],
        serde_json::json!(["spec.roles", "spec.traits"])
    );
    assert_eq!(report["after"]["roles"], serde_json::json!(["editor"]));
    let bot = stored_bot(&lab, "example").expect("bot");
    assert_eq!(logins_of(&bot), ["deploy"]);
    assert_eq!(impersonated(&lab, "example"), ["editor"]);
}

#[test]
fn bots_update_without_effect_says_nothing_to_do() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    put_bot(&lab, "example", &["access"], &["root"], None);
    let out = run(&mut lab.cmd(&["bots", "update", "example", "--add-roles", "access"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "No changes requested, nothing to do\n");
}

#[test]
fn bots_update_with_a_missing_role_is_exit_3_and_changes_nothing() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let before = stored_bot(&lab, "example");
    let out = run(&mut lab.cmd(&["bots", "update", "example", "--add-roles", "nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("role \"nope\" does not exist"),
        "{}",
        out.stderr
    );
    assert_eq!(stored_bot(&lab, "example"), before);
}

#[test]
fn bots_update_needs_a_change_flag() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "update", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn a_stale_revision_fails_the_update_with_exit_5() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "editor"]);
    put_bot(&lab, "example", &["access"], &[], None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = runtime.block_on(lab.client());
    let read = runtime
        .block_on(mwictl::ops::bots::get(&client, "example"))
        .expect("get bot");
    // Someone else changes the bot between our read and our write.
    let mut bot = stored_bot(&lab, "example").expect("bot");
    with_admin(&lab, async |channel| {
        if let Some(spec) = bot.spec.as_mut() {
            spec.roles = strings(&["editor"]);
        }
        BotServiceClient::new(channel)
            .update_bot(UpdateBotRequest {
                bot: Some(bot),
                update_mask: Some(prost_types::FieldMask {
                    paths: strings(&["spec.roles"]),
                }),
            })
            .await
            .expect("concurrent update");
    });
    let plan = mwictl::ops::bots::Update::plan(
        &read,
        &mwictl::ops::bots::BotChanges {
            add_logins: strings(&["root"]),
            ..Default::default()
        },
    );
    let err = runtime
        .block_on(plan.send(&client))
        .expect_err("a stale revision is refused");
    assert_eq!(err.status.code(), 5, "{}", err.render());
    assert!(err.message.contains("stale revision"), "{}", err.message);
    assert_eq!(
        roles_of(&stored_bot(&lab, "example").expect("bot")),
        ["editor"]
    );
}

#[test]
fn bots_update_keeps_fields_of_the_bot_role_mwictl_does_not_know() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    put_bot(&lab, "example", &[], &[], None);
    with_admin(&lab, async |channel| {
        let role = mwi_proto::proto::auth_service_client::AuthServiceClient::new(channel.clone())
            .get_role(GetRoleRequest {
                name: "bot-example".into(),
            })
            .await
            .expect("role")
            .into_inner();
        let mut body = Vec::new();
        prost::encoding::bytes::encode(1, &with_unknown(role.encode_to_vec()), &mut body);
        raw_call(channel, mwi_proto::method::auth::UPSERT_ROLE_V2, body)
            .await
            .expect("UpsertRoleV2");
    });
    let out = run(&mut lab.cmd(&["bots", "update", "example", "--add-roles", "access"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let raw = with_admin(&lab, async |channel| {
        let body = GetRoleRequest {
            name: "bot-example".into(),
        }
        .encode_to_vec();
        raw_call(channel, mwi_proto::method::auth::GET_ROLE, body)
            .await
            .expect("GetRole")
    });
    assert!(has_future_field(&raw), "the role lost a field");
    assert_eq!(impersonated(&lab, "example"), ["access"]);
}

/// Bot `example` as a newer Teleport stores it: with a field mwictl does not know.
fn newer_bot_bytes() -> Vec<u8> {
    let bot = Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: "example".into(),
            revision: "rev-1".into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: vec![],
            traits: vec![Trait {
                name: "logins".into(),
                values: strings(&["root"]),
            }],
            max_session_ttl: None,
        }),
        status: Some(mwi_proto::machineid::BotStatus {
            user_name: "bot-example".into(),
            role_name: "bot-example".into(),
        }),
        ..Default::default()
    };
    with_unknown(bot.encode_to_vec())
}

/// A scripted server holding [`newer_bot_bytes`].
fn newer_server(dir: &std::path::Path) -> Scripted {
    Scripted::start(
        Script {
            bot: Some(newer_bot_bytes().into()),
            ..Default::default()
        },
        dir,
    )
}

/// Standard padded base64, as the snapshot writes raw bytes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize])
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn bots_update_sends_back_fields_of_the_bot_mwictl_does_not_know() {
    let dir = tempfile::tempdir().expect("dir");
    let server = newer_server(dir.path());
    let out = run(&mut scripted_cmd(
        &server,
        &dir.path().join("home"),
        &["bots", "update", "example", "--add-logins", "ubuntu"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent = server.bodies(mwi_proto::method::bot::UPDATE_BOT);
    assert_eq!(sent.len(), 1);
    let request = UpdateBotRequest::decode(sent[0].clone()).expect("request");
    assert_eq!(
        request.update_mask.expect("mask").paths,
        strings(&["spec.traits"])
    );
    let raw = field_1(&sent[0]);
    assert!(
        has_future_field(&raw),
        "UpdateBot dropped the unknown field"
    );
    let bot = Bot::decode(raw).expect("bot");
    assert_eq!(logins_of(&bot), ["root", "ubuntu"]);
    assert_eq!(bot.metadata.expect("metadata").revision, "rev-1");
}

#[test]
fn bots_recreate_sends_back_fields_of_the_bot_mwictl_does_not_know() {
    let dir = tempfile::tempdir().expect("dir");
    let server = newer_server(dir.path());
    let home = dir.path().join("home");
    let out = run(&mut scripted_cmd(
        &server,
        &home,
        &["bots", "recreate", "example", "--yes", "--format", "json"],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.bodies(mwi_proto::method::bot::DELETE_BOT).len(), 1);
    let created = server.bodies(mwi_proto::method::bot::CREATE_BOT);
    assert_eq!(created.len(), 1);
    let bot = field_1(&created[0]);
    assert!(
        has_future_field(&bot),
        "CreateBot dropped the unknown field"
    );
    let bot = Bot::decode(bot).expect("bot");
    assert_eq!(
        bot.metadata.expect("metadata").revision,
        "",
        "no stale revision"
    );
    assert!(bot.status.is_none());
    let report = json(&out.stdout);
    let snapshot = std::fs::read_to_string(report["snapshot"].as_str().expect("snapshot"))
        .expect("snapshot file");
    assert_eq!(
        json(&snapshot)["raw"]["bot"],
        base64(&newer_bot_bytes()),
        "the snapshot keeps the bytes as the server sent them"
    );
}

// ---- bots recreate ----

/// Bot `example` with roles, logins and a TTL, joined once, under a user lock and an instance
/// lock, as after a generation mismatch.
fn locked_example(lab: &Lab) -> String {
    put_roles(lab, &["access", "db-reader"]);
    put_bot(lab, "example", &["access"], &["root"], Some(7200));
    let instance = join(lab, &new_token(lab, "example")).expect("join");
    put_locks(
        lab,
        vec![
            lock(
                "lock-user",
                target("user", "bot-example"),
                "generation mismatch",
            ),
            lock(
                "lock-instance",
                target("bot_instance_id", &instance),
                "generation mismatch",
            ),
        ],
    );
    instance
}

#[test]
fn bots_recreate_without_a_terminal_refuses_and_changes_nothing() {
    let lab = Lab::start();
    locked_example(&lab);
    let before = stored_bot(&lab, "example");
    let out = run(&mut lab.cmd(&["bots", "recreate", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("Plan for bot \"example\":"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(
            "error: refusing to recreate bot \"example\" without confirmation: stdin is not a terminal\n\
             hint: pass --yes to go ahead without asking\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(stored_bot(&lab, "example"), before);
    assert!(lock_exists(&lab, "lock-user"));
}

#[test]
fn bots_recreate_keeps_settings_adds_roles_removes_locks_and_saves_a_snapshot() {
    let lab = Lab::start();
    locked_example(&lab);
    let out = run(&mut lab.cmd(&[
        "bots",
        "recreate",
        "example",
        "--add-roles",
        "db-reader",
        "--yes",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = lab.redact(&out.stdout);
    settings().bind(|| insta::assert_snapshot!("bots_recreate_text", text));
    let plan = lab.redact(&out.stderr);
    table_settings().bind(|| insta::assert_snapshot!("bots_recreate_plan", plan));

    let bot = stored_bot(&lab, "example").expect("bot");
    assert_eq!(roles_of(&bot), ["access", "db-reader"]);
    assert_eq!(logins_of(&bot), ["root"]);
    assert_eq!(
        bot.spec.and_then(|s| s.max_session_ttl).map(|d| d.seconds),
        Some(7200)
    );
    assert!(!lock_exists(&lab, "lock-user"));
    assert!(!lock_exists(&lab, "lock-instance"));
    let token = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot token: "))
        .expect("token line");
    join(&lab, token).expect("the recreated bot joins");

    // The snapshot restores the old bot.
    let backups = lab.home().join("backups");
    let restore = std::fs::read_dir(&backups)
        .expect("backups")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("bot-example-snapshot-") && name.ends_with(".yaml")
        })
        .expect("a snapshot yaml");
    let snapshot =
        json(&std::fs::read_to_string(restore.with_extension("json")).expect("snapshot json"));
    assert_eq!(
        snapshot["bot"]["spec"]["roles"],
        serde_json::json!(["access"])
    );
    assert!(snapshot["raw"]["role"].is_string());
    run(&mut lab.cmd(&["bots", "rm", "example", "--yes"]));
    let restored = run(&mut lab.cmd(&["create", "-f", &restore.display().to_string()]));
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert_eq!(
        roles_of(&stored_bot(&lab, "example").expect("restored")),
        ["access"]
    );
}

#[test]
fn bots_recreate_of_a_missing_bot_is_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "recreate", "ghost", "--yes"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
}

//! `mwictl unlock`: finds every lock that blocks a bot (user, role, instance, join token),
//! confirms, backs up, deletes and reports; explicit lock IDs; dry runs and refusals. The
//! server-state helpers at the top (on mwi_testkit's fixtures) are shared by the locks, tokens
//! and verbs tests.

use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{CreateBotRequest, ListBotInstancesRequest};
use mwi_proto::proto::join_service_client::JoinServiceClient;
use mwi_proto::proto::upsert_token_v2_request::Token;
use mwi_proto::proto::{GetLockRequest, UpsertTokenV2Request};
use mwi_proto::types::{LockV2, RegisterUsingTokenRequest};
use mwi_testkit::fixtures::{self, lock, target};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::harness::{Lab, run, snapshot_settings, with_admin};

// ---- fixtures ----

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn put_locks(lab: &Lab, locks: Vec<LockV2>) {
    lab.admin(async |mut c| {
        for l in locks {
            c.upsert_lock(l).await.expect("upsert lock");
        }
    });
}

/// The names of every lock on the server (also ended ones), sorted.
pub fn lock_names(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> = lab.admin(async |mut c| {
        c.get_locks(mwi_proto::proto::GetLocksRequest::default())
            .await
            .expect("get locks")
            .into_inner()
            .locks
            .into_iter()
            .filter_map(|l| l.metadata.map(|m| m.name))
            .collect()
    });
    names.sort();
    names
}

pub fn lock_exists(lab: &Lab, name: &str) -> bool {
    lab.admin(async |mut c| {
        c.get_lock(GetLockRequest { name: name.into() })
            .await
            .is_ok()
    })
}

/// Creates bot `name` (and its user and role `bot-NAME`) with `roles` and no traits.
pub fn create_bot(lab: &Lab, name: &str, roles: &[&str]) {
    let bot = fixtures::bot_with(name, roles, &[], None);
    with_admin(lab, async |channel| {
        BotServiceClient::new(channel)
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .expect("create bot");
    });
}

/// A one-time join token for `bot`, valid for an hour.
pub fn put_token(lab: &Lab, name: &str, bot: &str) {
    let token = fixtures::token(name, bot, 3600);
    lab.admin(async |mut c| {
        c.upsert_token_v2(UpsertTokenV2Request {
            token: Some(Token::V2(token)),
        })
        .await
        .expect("upsert token");
    });
}

/// Joins with `token` as a fresh tbot does (no client certificate); returns the new bot
/// instance's ID.
pub fn join(lab: &Lab, token: &str) -> Result<String, tonic::Status> {
    let ca = mwi_identity::IdentityFile::read(&lab.identity)
        .expect("admin identity")
        .identity
        .tls_ca_pems[0]
        .clone();
    runtime().block_on(async {
        let tls = ClientTlsConfig::new()
            .domain_name("teleport.cluster.local")
            .ca_certificate(Certificate::from_pem(ca));
        let channel = Endpoint::from_shared(format!("https://{}", lab.addr))
            .expect("endpoint")
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
            .expect("connect anonymously");
        let key = rcgen::KeyPair::generate().expect("key");
        let req = RegisterUsingTokenRequest {
            role: "Bot".into(),
            token: token.into(),
            public_tls_key: key.public_key_pem().into_bytes(),
            ..Default::default()
        };
        let certs = JoinServiceClient::new(channel)
            .register_using_token(req)
            .await?
            .into_inner();
        let pem = String::from_utf8(certs.tls).expect("PEM");
        let cert = mwi_identity::CertIdentity::from_pem(&pem).expect("certificate");
        Ok(cert.bot_instance_id.unwrap_or_default())
    })
}

/// The instance IDs the server lists for `bot`.
pub fn instance_ids(lab: &Lab, bot: &str) -> Vec<String> {
    with_admin(lab, async |channel| {
        BotInstanceServiceClient::new(channel)
            .list_bot_instances(ListBotInstancesRequest {
                filter_bot_name: bot.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("list instances")
            .into_inner()
            .bot_instances
            .into_iter()
            .filter_map(|i| i.spec.map(|s| s.instance_id))
            .collect()
    })
}

/// A lab with bot `example` joined once (instance `instance`), a bound join token `kept-token`
/// and five locks: one per target kind of the bot, and one on another user.
pub struct Blocked {
    pub lab: Lab,
    pub instance: String,
}

pub fn blocked_bot() -> Blocked {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_token(&lab, "join-once", "example");
    let instance = join(&lab, "join-once").expect("join");
    put_token(&lab, "kept-token", "example");
    put_locks(
        &lab,
        vec![
            lock(
                "lock-user",
                target("user", "bot-example"),
                "The bot user \"bot-example\" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate.",
            ),
            lock("lock-role", target("role", "bot-example"), "role locked"),
            lock(
                "lock-instance",
                target("bot_instance_id", &instance),
                "instance locked",
            ),
            lock(
                "lock-token",
                target("join_token", "kept-token"),
                "token locked",
            ),
            lock("lock-other", target("user", "alice"), "someone else"),
        ],
    );
    Blocked { lab, instance }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

// ---- unlock --bot ----

#[test]
fn unlock_bot_removes_only_the_bots_locks() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example", "--yes", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(lock_names(&lab), vec!["lock-other"]);
    let report = json(&out.stdout);
    let mut removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        vec!["lock-instance", "lock-role", "lock-token", "lock-user"]
    );
    assert_eq!(report["remaining"], serde_json::json!([]));
    let reasons: Vec<&str> = report["locks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"targets the bot user bot-example"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"targets a join token of bot example"),
        "{reasons:?}"
    );
    for name in ["lock-user", "lock-role", "lock-instance", "lock-token"] {
        assert!(
            out.stderr
                .contains(&format!("lock \"{name}\" has been deleted")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn unlock_backs_up_every_removed_lock_to_one_file_that_create_restores() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example", "--yes", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let backup = json(&out.stdout)["backup"].as_str().unwrap().to_owned();
    assert!(
        std::path::Path::new(&backup).starts_with(lab.home().join("backups")),
        "{backup}"
    );
    let text = std::fs::read_to_string(&backup).expect("backup file");
    assert_eq!(text.matches("kind: lock").count(), 4, "{text}");
    let restore = run(&mut lab.cmd(&["create", &backup]));
    assert_eq!(restore.code, 0, "{}", restore.stderr);
    assert_eq!(lock_names(&lab).len(), 5);
}

#[test]
fn unlock_text_shows_the_plan_then_reports() {
    let Blocked { lab, instance } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stderr = out.stderr.replace(&instance, "[INSTANCE]");
    let stdout = lab.redact(&out.stdout);
    let mut settings = snapshot_settings();
    settings.add_filter(r"\d{8}T\d{6}Z", "[STAMP]");
    settings.bind(|| {
        insta::assert_snapshot!("unlock_bot_text_stderr", stderr);
        insta::assert_snapshot!("unlock_bot_text_stdout", stdout);
    });
}

#[test]
fn unlock_without_a_terminal_or_yes_refuses_and_names_the_flag() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: refusing to remove 4 locks without confirmation"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(lock_names(&lab).len(), 5);
    assert!(
        !lab.home().join("backups").exists(),
        "no backup without a removal"
    );
}

#[test]
fn unlock_dry_run_lists_the_locks_and_removes_nothing() {
    let Blocked { lab, instance } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(lock_names(&lab).len(), 5);
    let stdout = out.stdout.replace(&instance, "[INSTANCE]");
    snapshot_settings().bind(|| insta::assert_snapshot!("unlock_bot_dry_run", stdout));
}

#[test]
fn unlock_when_nothing_blocks_the_bot_says_so_and_succeeds() {
    let lab = Lab::start();
    create_bot(&lab, "free", &[]);
    put_locks(&lab, vec![lock("other", target("user", "alice"), "")]);
    let out = run(&mut lab.cmd(&["unlock", "--bot", "free"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Nothing blocks bot \"free\""),
        "{}",
        out.stdout
    );
    assert_eq!(lock_names(&lab), vec!["other"]);
}

#[test]
fn unlock_of_a_mistyped_bot_is_exit_3_with_the_nearest_names() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    let out = run(&mut lab.cmd(&["unlock", "--bot", "exmaple", "--yes"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: bot \"exmaple\" not found, and no lock in force targets its name\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: did you mean \"example\"?"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--scan-all"), "{}", out.stderr);
    let plan = run(&mut lab.cmd(&["unlock", "--bot", "exmaple", "--plan"]));
    assert_eq!(plan.code, 3, "{}", plan.stderr);
}

#[test]
fn unlock_of_a_deleted_bot_still_removes_the_locks_left_on_its_name() {
    let lab = Lab::start();
    put_locks(&lab, vec![lock("left", target("user", "bot-gone"), "")]);
    let out = run(&mut lab.cmd(&["unlock", "--bot", "gone", "--yes", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    assert_eq!(json(&out.stdout)["removed"], serde_json::json!(["left"]));
    assert!(lock_names(&lab).is_empty());
}

#[test]
fn unlock_ignores_locks_whose_end_has_passed() {
    let lab = Lab::start();
    create_bot(&lab, "old", &[]);
    let mut ended = lock("ended", target("user", "bot-old"), "over");
    if let Some(spec) = ended.spec.as_mut() {
        spec.expires = Some(prost_types::Timestamp {
            seconds: 1_000_000_000,
            nanos: 0,
        });
    }
    put_locks(&lab, vec![ended]);
    let out = run(&mut lab.cmd(&["unlock", "--bot", "old", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["locks"], serde_json::json!([]));
}

#[test]
fn unlock_scan_all_finds_a_lock_on_an_instance_whose_record_is_gone() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    let gone = "0b1c7c56-0000-4000-8000-000000000001";
    put_locks(
        &lab,
        vec![lock(
            "lock-gone",
            target("bot_instance_id", gone),
            &format!(
                "The bot instance example/{gone} has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate."
            ),
        )],
    );
    let filtered = run(&mut lab.cmd(&["unlock", "--bot", "example", "--dry-run"]));
    assert_eq!(filtered.code, 0, "{}", filtered.stderr);
    assert!(
        filtered.stdout.contains("--scan-all"),
        "{}",
        filtered.stdout
    );
    let scanned = run(&mut lab.cmd(&[
        "unlock",
        "--bot",
        "example",
        "--scan-all",
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(scanned.code, 0, "{}", scanned.stderr);
    assert_eq!(
        json(&scanned.stdout)["removed"],
        serde_json::json!(["lock-gone"])
    );
    assert!(lock_names(&lab).is_empty());
}

#[test]
fn unlock_lets_a_locked_bot_join_again() {
    let lab = Lab::start();
    create_bot(&lab, "example", &[]);
    put_locks(
        &lab,
        vec![lock(
            "l",
            target("user", "bot-example"),
            "generation mismatch",
        )],
    );
    put_token(&lab, "first-try", "example");
    let refused = join(&lab, "first-try").expect_err("a lock on the bot user refuses the join");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let out = run(&mut lab.cmd(&["unlock", "--bot", "example", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let instance = join(&lab, "first-try").expect("the unspent token works once unlocked");
    assert!(instance_ids(&lab, "example").contains(&instance));
}

// ---- unlock LOCK_ID... ----

#[test]
fn unlock_named_locks_removes_exactly_those() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "lock-other", "lock-role", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("Removed 2 locks; backup: "),
        "{}",
        out.stdout
    );
    assert_eq!(
        lock_names(&lab),
        vec!["lock-instance", "lock-token", "lock-user"]
    );
}

/// Two runs racing on the same locks: each lock is counted as removed by exactly one of them,
/// the other says it was already gone (never both "Removed 2 locks").
#[test]
fn racing_unlock_runs_count_only_what_each_removed() {
    let lab = Lab::start();
    for round in 0..4 {
        let names = [format!("race-a-{round}"), format!("race-b-{round}")];
        put_locks(
            &lab,
            names
                .iter()
                .map(|n| lock(n, target("user", "alice"), "race"))
                .collect(),
        );
        let args = [
            "unlock",
            names[0].as_str(),
            names[1].as_str(),
            "--yes",
            "--format",
            "json",
        ];
        let outs: Vec<_> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| run(&mut lab.cmd(&args))))
                .collect();
            runs.into_iter()
                .map(|r| r.join().expect("unlock ran"))
                .collect()
        });
        let mut removed = 0;
        for out in outs {
            match out.code {
                // Read after the other run had deleted a lock: nothing removed.
                3 => assert!(out.stderr.contains("not found"), "{}", out.stderr),
                0 => {
                    let report = json(&out.stdout);
                    let mine = report["removed"].as_array().unwrap().len();
                    let gone = report["already_gone"].as_array().unwrap().len();
                    assert_eq!(mine + gone, 2, "{report:#}");
                    removed += mine;
                }
                other => panic!("unlock exited {other}: {}", out.stderr),
            }
        }
        assert_eq!(removed, 2, "round {round}: each lock removed once");
        assert!(!lock_exists(&lab, &names[0]) && !lock_exists(&lab, &names[1]));
    }
}

#[test]
fn unlock_of_a_missing_lock_is_exit_3_and_removes_nothing() {
    let Blocked { lab, .. } = blocked_bot();
    let out = run(&mut lab.cmd(&["unlock", "lock-role", "no-such-lock", "--yes"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: lock \"no-such-lock\" not found"),
        "{}",
        out.stderr
    );
    assert!(lock_exists(&lab, "lock-role"));
}

#[test]
fn unlock_needs_a_bot_or_lock_ids() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["unlock"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let both = run(&mut lab.cmd(&["unlock", "--bot", "x", "some-id"]));
    assert_eq!(both.code, 2, "{}", both.stderr);
}

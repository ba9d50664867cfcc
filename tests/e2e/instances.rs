//! `mwictl bots instances ls|show|add` against the lab (real joins and the lab bot agent), and
//! a listing of 100,000 instances from a scripted server in flat memory.

use std::io::Read;
use std::process::Stdio;
use std::time::Instant;

use mwi_proto::types::ResourceRequest;
use mwi_testkit::fixtures::{lock, target};
use mwi_testkit::scripted::{Script, Scripted};

use crate::bots::{json, put_bot, settings, table_settings};
use crate::harness::{BIN, Lab, run};
use crate::unlock::{instance_ids, join, put_locks};

/// A new one-time token for `bot`, from `mwictl bots instances add`.
pub(crate) fn new_token(lab: &Lab, bot: &str) -> String {
    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "add",
        bot,
        "--legacy",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    json(&out.stdout)["token_id"]
        .as_str()
        .expect("token_id")
        .to_owned()
}

fn token_exists(lab: &Lab, name: &str) -> bool {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: name.into() })
            .await
            .is_ok()
    })
}

// ---- ls ----

#[test]
fn instances_ls_on_a_new_lab_says_none_found() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "instances", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "No bot instances found.\n");
    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "example"]));
    assert_eq!(
        out.stderr,
        "No bot instances found with name \"example\".\n"
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "--format", "json"]));
    assert_eq!(out.stdout, "[]\n");
}

#[test]
fn instances_ls_shows_generation_and_which_instances_are_locked() {
    let lab = Lab::start();
    put_bot(&lab, "alpha", &[], &[], None);
    put_bot(&lab, "beta", &[], &[], None);
    let locked = join(&lab, &new_token(&lab, "alpha")).expect("join");
    join(&lab, &new_token(&lab, "beta")).expect("join");
    put_locks(
        &lab,
        vec![lock("l1", target("bot_instance_id", &locked), "mismatch")],
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    table_settings().bind(|| insta::assert_snapshot!("bots_instances_ls_text", out.stdout));

    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "alpha", "--format", "json"]));
    let rows = json(&out.stdout);
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let mut keys: Vec<&str> = row
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bot",
            "generation",
            "hostname",
            "id",
            "instance_id",
            "join_method",
            "joined",
            "last_seen",
            "locked",
            "status",
            "version"
        ]
    );
    assert_eq!(row["id"], format!("alpha/{locked}"));
    assert_eq!(
        row["status"],
        serde_json::Value::Null,
        "no heartbeat, no health"
    );
    assert_eq!(row["generation"], 1);
    assert_eq!(row["join_method"], "token");
    assert_eq!(row["locked"], true);
    assert!(
        out.stderr.contains("`mwictl bots instances add alpha`"),
        "{}",
        out.stderr
    );
}

#[test]
fn instances_ls_marks_every_instance_of_a_bot_whose_user_is_locked() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    join(&lab, &new_token(&lab, "example")).expect("join");
    join(&lab, &new_token(&lab, "example")).expect("join");
    put_locks(
        &lab,
        vec![lock("l1", target("user", "bot-example"), "mismatch")],
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "ls", "example", "--format", "json"]));
    let rows = json(&out.stdout);
    let locked: Vec<bool> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["locked"] == true)
        .collect();
    assert_eq!(locked, [true, true]);
}

/// Runs `bots instances ls` over `count` instances; returns (lines written, peak RSS KiB).
fn list_scripted(count: usize) -> (usize, i64) {
    let dir = tempfile::tempdir().expect("dir");
    let server = Scripted::start(
        Script {
            instances: count,
            ..Default::default()
        },
        dir.path(),
    );
    let mut child = std::process::Command::new(BIN)
        .args(["--auth-server", &server.addr, "-i"])
        .arg(&server.identity)
        .args(["bots", "instances", "ls"])
        .envs(crate::harness::hermetic_env(&dir.path().join("home")))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mwictl");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => lines += buf[..n].iter().filter(|b| **b == b'\n').count(),
            }
        }
        lines
    });
    let peak = crate::harness::sample_peak_rss(child.id());
    let status = child.wait().expect("wait");
    let lines = reader.join().expect("reader");
    assert!(status.success(), "mwictl bots instances ls failed");
    (lines, peak)
}

#[test]
fn hundred_thousand_instances_list_in_flat_memory() {
    let started = Instant::now();
    let (small_lines, small_peak) = list_scripted(1_000);
    let (lines, peak) = list_scripted(100_000);
    let elapsed = started.elapsed();
    // A header, a rule, then one line per instance.
    assert_eq!(small_lines, 1_002);
    assert_eq!(lines, 100_002);
    eprintln!(
        "bots instances ls: 1,000 instances peak {small_peak} KiB; 100,000 instances peak {peak} KiB; both runs {elapsed:?}"
    );
    assert!(peak < 50 * 1024, "peak RSS {peak} KiB is over 50 MB");
    assert!(
        peak < small_peak + 16 * 1024,
        "memory grows with the count: {small_peak} KiB for 1,000, {peak} KiB for 100,000"
    );
}

// ---- show ----

#[test]
fn instances_show_prints_authentications_and_the_latest_heartbeat() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let token = new_token(&lab, "example");
    let data_dir = lab.root().join("tbot-data");
    let agent = run(&mut lab.cmd(&[
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        &data_dir.display().to_string(),
        "--token",
        &token,
    ]));
    assert_eq!(agent.code, 0, "the lab bot joins: {}", agent.stderr);
    let id = instance_ids(&lab, "example").pop().expect("an instance");
    let out = run(&mut lab.cmd(&["bots", "instances", "show", &format!("example/{id}")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut settings = settings();
    for field in ["Hostname:", "Version:", "Uptime:", "OS/Arch:"] {
        settings.add_filter(&format!(r"(?m)^(  {field}\s+).*$"), "$1[VARIES]");
    }
    settings.bind(|| insta::assert_snapshot!("bots_instances_show_text", out.stdout));

    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "show",
        &format!("example/{id}"),
        "--format",
        "json",
    ]));
    let shown = json(&out.stdout);
    assert_eq!(shown["generation"], 1);
    assert_eq!(shown["locked"], false);
    assert_eq!(shown["instance"]["kind"], "bot_instance");
    assert_eq!(shown["instance"]["spec"]["instance_id"], id);
}

#[test]
fn instances_show_names_a_missing_instance_and_refuses_a_bad_reference() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "instances", "show", "example/0000"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: bot instance \"example/0000\" not found\n\
         hint: list the bot's instances with `mwictl bots instances ls example`\n"
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "show", "example"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("expected BOT/UUID"), "{}", out.stderr);
}

#[test]
fn instances_show_says_which_lock_blocks_it() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let id = join(&lab, &new_token(&lab, "example")).expect("join");
    put_locks(
        &lab,
        vec![lock("l-user", target("user", "bot-example"), "x")],
    );
    let out = run(&mut lab.cmd(&["bots", "instances", "show", &format!("example/{id}")]));
    assert!(
        out.stdout
            .contains("Locked: LOCKED by l-user (remove with `mwictl unlock --bot example`)\n"),
        "{}",
        out.stdout
    );
}

// ---- add ----

#[test]
fn instances_add_issues_a_one_time_token_that_joins() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "add",
        "example",
        "--legacy",
        "--ttl",
        "30m",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = lab.redact(&out.stdout);
    settings().bind(|| insta::assert_snapshot!("bots_instances_add_text", text));
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
        .expect("token")
        .into_inner()
    });
    assert_eq!(stored.spec.expect("spec").bot_name, "example");
    let instance = join(&lab, &token).expect("join");
    assert!(instance_ids(&lab, "example").contains(&instance));
    assert!(!token_exists(&lab, &token), "the join spent the token");
}

#[test]
fn instances_add_json_has_tctls_fields() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    let out = run(&mut lab.cmd(&["bots", "instances", "join", "example", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let added = json(&out.stdout);
    assert_eq!(added["user_name"], "bot-example");
    assert_eq!(added["role_name"], "bot-example");
    assert_eq!(added["token_ttl"], 3_600_000_000_000u64);
    assert_eq!(added["blocking_locks"], serde_json::json!([]));
}

#[test]
fn instances_add_warns_that_a_user_lock_will_refuse_the_join() {
    let lab = Lab::start();
    put_bot(&lab, "example", &[], &[], None);
    put_locks(
        &lab,
        vec![lock(
            "l-user",
            target("user", "bot-example"),
            "generation mismatch",
        )],
    );
    let out = run(&mut lab.cmd(&[
        "bots",
        "instances",
        "add",
        "example",
        "--legacy",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "warning: 1 lock on bot \"example\" refuses every join: the join will be refused until you run `mwictl unlock --bot example`\n"
        ),
        "{}",
        out.stderr
    );
    let added = json(&out.stdout);
    assert_eq!(added["blocking_locks"], serde_json::json!(["l-user"]));
    let token = added["token_id"].as_str().expect("token");
    let refused = join(&lab, token).expect_err("the lock refuses the join");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        token_exists(&lab, token),
        "a refused join does not spend it"
    );
}

#[test]
fn instances_add_for_a_missing_bot_is_exit_3() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "instances", "add", "ghost"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: bot \"ghost\" not found\nhint: list bots with `mwictl bots ls`\n"
    );
}

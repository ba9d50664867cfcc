//! `mwictl triage` and `mwictl fleet serve` against the lab: each reason with its fix and exit 1
//! on a lab with broken bots, exit 0 on a healthy one, the table's snapshot, the metrics read
//! by a strict parser (and `promtool check metrics` when it is installed), scraped over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use mwi_proto::types::provision_token_spec_v2_bound_keypair::OnboardingSpec;
use mwi_proto::types::{ProvisionTokenStatusV2, ProvisionTokenStatusV2BoundKeypair};
use mwi_testkit::fixtures::{self, lock, target};
use mwi_testkit::metrics::{Exposition, parse};

use crate::bots::{json, put_bot, put_roles, table_settings};
use crate::harness::{BIN, Lab, hermetic_env, run};
use crate::health::{agent_that_cannot_write, wait_for_status};
use crate::instances::new_token;
use crate::pipes::{Closed, run_closed};
use crate::unlock::{instance_ids, put_locks};

// ---- fixtures ----

/// Bot `name` with `roles`, joined once by the lab agent (`--oneshot`): a live instance that
/// sent its heartbeat.
fn joined_bot(lab: &Lab, name: &str, roles: &[&str]) {
    put_bot(lab, name, roles, &[], None);
    let token = new_token(lab, name);
    let dir = lab.root().join(format!("tbot-{name}"));
    let out = run(&mut lab.cmd(&[
        "lab",
        "bot",
        "--oneshot",
        "--data-dir",
        dir.to_str().unwrap(),
        "--token",
        &token,
    ]));
    assert_eq!(out.code, 0, "the lab bot {name} joins: {}", out.stderr);
}

/// A bound-keypair token for `bot` with `limit` recoveries in `mode`, `used` of them used.
fn bound_token(lab: &Lab, name: &str, bot: &str, limit: u32, used: u32, mode: &str) {
    let secret = OnboardingSpec {
        registration_secret: "s3cret".into(),
        ..Default::default()
    };
    let mut token = fixtures::bound_keypair_token(name, bot, secret, limit, mode);
    token.status = Some(ProvisionTokenStatusV2 {
        bound_keypair: Some(ProvisionTokenStatusV2BoundKeypair {
            recovery_count: used,
            ..Default::default()
        }),
    });
    crate::bound_keypair::put_token(lab, token);
}

fn delete_role(lab: &Lab, name: &str) {
    lab.admin(async |mut c| {
        c.delete_role(mwi_proto::proto::DeleteRoleRequest { name: name.into() })
            .await
            .expect("delete role");
    });
}

/// A lab with one healthy bot and one of each kind of trouble: `locked` (a lock on its user),
/// `exhausted` (live, but its bound-keypair token is at 2/2 recoveries), `insecure` (a token left in mode
/// insecure, tbot never started), `roleless` (its role was deleted).
fn troubled_lab() -> Lab {
    let lab = Lab::start();
    put_roles(&lab, &["access", "gone"]);
    joined_bot(&lab, "healthy", &["access"]);
    joined_bot(&lab, "locked", &["access"]);
    put_locks(
        &lab,
        vec![lock(
            "triage-lock",
            target("user", "bot-locked"),
            "locked for the triage test",
        )],
    );
    joined_bot(&lab, "exhausted", &["access"]);
    bound_token(&lab, "exhausted-token", "exhausted", 2, 2, "standard");
    put_bot(&lab, "insecure", &["access"], &[], None);
    bound_token(&lab, "insecure-token", "insecure", 1, 0, "insecure");
    joined_bot(&lab, "roleless", &["gone"]);
    delete_role(&lab, "gone");
    lab
}

/// The reasons triage's JSON gives `bot`, as (kind, fix).
fn reasons(report: &serde_json::Value, bot: &str) -> Vec<(String, String)> {
    let entry = report["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["bot"] == bot)
        .unwrap_or_else(|| panic!("no entry for {bot}: {report}"));
    entry["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["fix"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Reads `text` with the strict parser and, when promtool is on PATH, with `promtool check
/// metrics` (which also lints names and help).
fn checked_metrics(text: &str) -> Exposition {
    let parsed = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    if let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write to promtool");
        let out = child.wait_with_output().expect("promtool");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parsed
}

// ---- triage ----

#[test]
fn each_troubled_bot_gets_its_reason_and_fix_and_triage_exits_1() {
    let lab = troubled_lab();
    let out = run(&mut lab.cmd(&["triage", "--format", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["schema"], "mwictl.triage/v1");
    assert_eq!(report["bots"], 5);
    assert_eq!(report["needing_attention"], 4);
    assert_eq!(reasons(&report, "healthy"), pairs(&[]));
    assert_eq!(
        reasons(&report, "locked"),
        pairs(&[("locked", "mwictl unlock --bot locked")])
    );
    let locks = &report["entries"][0]["reasons"][0]["locks"];
    assert_eq!(report["entries"][0]["bot"], "locked", "a lock ranks first");
    assert_eq!(locks[0]["name"], "triage-lock");
    assert_eq!(locks[0]["target"], "User:\"bot-locked\"");
    assert_eq!(
        reasons(&report, "exhausted"),
        pairs(&[(
            "recoveries_exhausted",
            "mwictl recover bk-exhausted --bot exhausted"
        )])
    );
    assert_eq!(
        reasons(&report, "insecure"),
        pairs(&[
            ("no_live_instance", "mwictl recover insecure"),
            (
                "insecure_token",
                "mwictl tokens mode insecure-token standard"
            ),
        ])
    );
    assert_eq!(
        reasons(&report, "roleless"),
        pairs(&[(
            "missing_roles",
            "mwictl bots update roleless --remove-roles gone"
        )])
    );
    assert_eq!(report["counts"]["locked"], 1);
    assert_eq!(report["counts"]["missing_roles"], 1);
    let healthy = report["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(healthy["bot"], "healthy", "a fine bot ranks last");
    assert_eq!(healthy["live_instances"], 1);
}

#[test]
fn triage_table_lists_each_reason_with_its_fix() {
    let lab = troubled_lab();
    let out = run(&mut lab.cmd(&["triage"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("4 of 5 bots need attention ("),
        "{}",
        out.stderr
    );
    table_settings().bind(|| insta::assert_snapshot!("triage_text", out.stdout));
}

#[test]
fn an_expired_instance_with_its_token_spent_needs_recover_expired() {
    let lab = Lab::start_with(&["--bot-ttl", "2s"]);
    joined_bot(&lab, "expired", &[]);
    std::thread::sleep(Duration::from_secs(3));
    let out = run(&mut lab.cmd(&["triage", "--format", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(
        reasons(&report, "expired"),
        pairs(&[("token_spent", "mwictl recover expired --bot expired")])
    );
    assert_eq!(report["entries"][0]["instances"], 1);
    assert_eq!(report["entries"][0]["live_instances"], 0);
}

#[test]
fn an_output_the_agent_cannot_write_is_an_unhealthy_service_to_show() {
    let lab = Lab::start();
    let _agent = agent_that_cannot_write(&lab, "sick");
    wait_for_status(&lab, "sick", "unhealthy");
    let id = instance_ids(&lab, "sick").pop().expect("an instance");
    let out = run(&mut lab.cmd(&["triage", "--format", "json"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    assert_eq!(
        reasons(&report, "sick"),
        vec![(
            "unhealthy_services".to_owned(),
            format!("mwictl bots instances show sick/{id}")
        )]
    );
    let reason = &report["entries"][0]["reasons"][0];
    assert_eq!(reason["services"][0]["service"], "identity identity-1");
    assert!(
        reason["services"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not-a-dir"),
        "{reason}"
    );
    let out = run(&mut lab.cmd(&["triage", "--format", "prometheus"]));
    let m = checked_metrics(&out.stdout);
    assert_eq!(
        m.value("mwictl_bot_unhealthy_services", &[("bot", "sick")]),
        Some(1.0)
    );
}

#[test]
fn triage_on_a_closed_stdout_ends_quietly_with_exit_1_in_every_format() {
    let lab = troubled_lab();
    let home = lab.home();
    for format in ["text", "json", "yaml", "prometheus"] {
        let args = ["-q", "triage", "--format", format];
        let (code, stderr) = run_closed(&home, &args, Closed::Stdout);
        assert_eq!((code, stderr.as_str()), (1, ""), "mwictl {args:?}");
    }
}

#[test]
fn a_healthy_lab_exits_0_with_nothing_to_list() {
    let lab = Lab::start();
    joined_bot(&lab, "web", &[]);
    let out = run(&mut lab.cmd(&["triage"]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("No bot needs attention (1 checked, "),
        "{}",
        out.stderr
    );
}

#[test]
fn triage_writes_prometheus_metrics_a_strict_parser_accepts() {
    let lab = troubled_lab();
    let out = run(&mut lab.cmd(&["triage", "--format", "prometheus"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let m = checked_metrics(&out.stdout);
    let bot = |name| [("bot", name)];
    assert_eq!(m.value("mwictl_bot_locked", &bot("locked")), Some(1.0));
    assert_eq!(m.value("mwictl_bot_locked", &bot("healthy")), Some(0.0));
    assert_eq!(
        m.value("mwictl_bot_live_instances", &bot("healthy")),
        Some(1.0)
    );
    assert_eq!(
        m.value("mwictl_bot_recoveries_remaining", &bot("exhausted")),
        Some(0.0)
    );
    assert_eq!(
        m.value("mwictl_bot_recoveries_remaining", &bot("healthy")),
        None
    );
    let expires = m
        .value("mwictl_bot_identity_expires_seconds", &bot("healthy"))
        .expect("a live bot's expiry");
    assert!(expires > 0.0 && expires <= 3600.0, "{expires}");
    assert!(
        m.value("mwictl_bot_heartbeat_age_seconds", &bot("healthy"))
            .is_some()
    );
    assert_eq!(m.value("mwictl_bots", &[]), Some(5.0));
    assert_eq!(m.value("mwictl_bots_needing_attention", &[]), Some(4.0));
    assert_eq!(
        m.value("mwictl_bots_with_reason", &[("reason", "missing_roles")]),
        Some(1.0)
    );
}

#[test]
fn prometheus_format_is_refused_for_other_commands() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "ls", "--format", "prometheus"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--format prometheus: only `mwictl triage` writes metrics"),
        "{}",
        out.stderr
    );
}

// ---- fleet serve ----

/// A running `mwictl fleet serve` and the address it serves; killed when dropped.
struct Serving {
    child: Child,
    addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(home: &Path, interval: &str) -> Serving {
    let mut child = std::process::Command::new(BIN)
        .args([
            "fleet",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            interval,
        ])
        .envs(hermetic_env(home))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fleet serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("the serving line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // Keep draining stderr so warnings never block the server.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Serving { child, addr }
}

/// `GET path` over plain HTTP/1.1: (status line, body).
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[test]
fn fleet_serve_answers_metrics_and_404_elsewhere() {
    let lab = troubled_lab();
    let server = serve(&lab.home(), "30s");
    let (status, body) = get(&server.addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let m = checked_metrics(&body);
    assert_eq!(
        m.value("mwictl_bot_locked", &[("bot", "locked")]),
        Some(1.0)
    );
    assert_eq!(m.value("mwictl_refresh_failures_total", &[]), Some(0.0));
    let (status, body) = get(&server.addr, "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(!body.contains("mwictl_bot_locked"));
}

#[test]
fn fleet_serve_keeps_the_last_good_triage_when_a_refresh_fails() {
    let mut lab = Lab::start();
    joined_bot(&lab, "web", &[]);
    let server = serve(&lab.home(), "1s");
    lab.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(&server.addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        let m = checked_metrics(&body);
        assert_eq!(
            m.value("mwictl_bot_live_instances", &[("bot", "web")]),
            Some(1.0)
        );
        if m.value("mwictl_refresh_failures_total", &[]) >= Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed refresh counted: {body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn fleet_serve_on_a_busy_port_names_it() {
    let lab = Lab::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&mut lab.cmd(&["fleet", "serve", "--listen", &addr]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().next().unwrap_or_default(),
        format!("error: cannot listen on {addr}: the port is in use")
    );
}

#[test]
fn the_contrib_alert_rules_pass_promtool_when_it_is_installed() {
    let rules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/prometheus/mwictl-alerts.yml");
    let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
    else {
        eprintln!(
            "promtool is not installed: the rules are checked by the metrics names test only"
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GetLocks is read as it arrives (no size limit, one lock in memory at a time); a refusal
/// still reaches the user as the one-line error naming the call, for triage and for the
/// instance listing that marks locked instances.
#[test]
fn a_refused_lock_listing_is_the_usual_one_line_error() {
    let lab = Lab::start();
    joined_bot(&lab, "web", &[]);
    let reader = fixtures::role(
        "fleet-reader",
        &[(&["bot", "role", "token", "bot_instance"], &["list", "read"])],
    );
    lab.admin(async |mut c| {
        c.upsert_role_v2(mwi_proto::proto::UpsertRoleRequest { role: Some(reader) })
            .await
            .expect("upsert role");
    });
    let identity = lab.root().join("reader.identity");
    let out = run(&mut lab.cmd(&[
        "lab",
        "user",
        "reader",
        "--roles",
        "fleet-reader",
        "--out",
        identity.to_str().unwrap(),
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for args in [&["triage"][..], &["bots", "instances", "ls"]] {
        let mut cmd = lab.cmd(args);
        cmd.arg("-i").arg(&identity);
        let out = run(&mut cmd);
        assert_ne!(out.code, 0, "{args:?}");
        assert!(
            out.stderr.starts_with(
                "error: access denied: GetLocks on locks: access denied to perform action \"list\" on \"lock\"\n"
            ),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

//! Incidents S8–S12 end to end, as an admin meets them: `lab break bk-…` against a real lab, the
//! doctor names the incident from the agent's own log, the recover command the break printed is
//! run as printed, and then the agent renews, its token is in its old mode and no lock is left.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

/// How long the restarted agent may take to renew twice (it renews every 200ms).
const RENEW_LIMIT: Duration = Duration::from_secs(10);

/// The line the lab agent logs, as tbot does, for each renewal of its identity.
const RENEWED: &str = "Successfully renewed bot identity";

/// `mwictl lab break SCENARIO --bot BOT --dir ROOT/BOT EXTRA --format json`, which must succeed:
/// its summary.
fn break_json(lab: &Lab, scenario: &str, bot: &str, extra: &[&str]) -> serde_json::Value {
    let dir = lab.root().join(bot);
    let mut args = vec![
        "lab",
        "break",
        scenario,
        "--bot",
        bot,
        "--dir",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = run(&mut lab.cmd(&args));
    assert_eq!(out.code, 0, "{scenario}:\n{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).expect("break JSON")
}

/// The incidents `mwictl doctor LOG --format json` names (it exits 1 on findings).
fn doctor_names(lab: &Lab, log: &str) -> Vec<String> {
    let out = run(&mut lab.cmd(&["doctor", log, "--format", "json"]));
    assert_eq!(out.code, 1, "doctor {log}:\n{}\n{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["incident"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `mwictl ARGS --format json` with the lab's profile, which must succeed: its JSON.
pub fn ok_json(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&mut lab.cmd(&all));
    assert_eq!(out.code, 0, "{args:?}:\n{}\n{}", out.stdout, out.stderr);
    serde_json::from_str(&out.stdout).expect("JSON")
}

/// The recovery mode of each bound-keypair token of `bot`, by token name, as `bots show` reads
/// them back from the server.
pub fn modes(lab: &Lab, bot: &str) -> Vec<(String, String)> {
    ok_json(lab, &["bots", "show", bot])["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter(|t| t["join_method"] == "bound_keypair")
        .map(|t| {
            let name = t["token"].as_str().unwrap().to_string();
            let shown = ok_json(lab, &["tokens", "show", &name]);
            let mode = shown["bound_keypair"]["recovery_mode"].as_str();
            (name, mode.expect("a recovery mode").to_string())
        })
        .collect()
}

/// Runs a command line the break printed through `sh`, with this build's mwictl first on PATH.
fn run_printed(lab: &Lab, line: &str) -> Run {
    let mut sh = assert_cmd::Command::new("sh");
    sh.args(["-c", line])
        .envs(hermetic_env(&lab.home()))
        .env("PATH", path_with_bin())
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .env_remove("RUST_LOG");
    run(&mut sh)
}

fn path_with_bin() -> String {
    let bin_dir = Path::new(BIN).parent().unwrap();
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Starts the agent as the break printed it (`mwictl lab bot -c tbot.yaml`), renewing every
/// 200ms into `log`, and stops it once it renewed twice: a failure if it does not in time.
pub fn renews_twice(lab: &Lab, agent_line: &str, log: &Path) {
    let config = agent_line
        .strip_prefix("mwictl lab bot -c ")
        .unwrap_or_else(|| panic!("not an agent command: {agent_line}"));
    let mut child = std::process::Command::new(BIN)
        .args(["lab", "bot", "-c", config, "--renewal-interval", "200ms"])
        .arg("--log-file")
        .arg(log)
        .envs(hermetic_env(&lab.home()))
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    let deadline = Instant::now() + RENEW_LIMIT;
    let renewed = loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let count = text.matches(RENEWED).count();
        if count >= 2 || Instant::now() > deadline {
            break (count, text);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("the agent exited ({status}) before renewing twice:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("stop the agent");
    child.wait().expect("reap the agent");
    assert!(
        renewed.0 >= 2,
        "the agent renewed {} times in {RENEW_LIMIT:?}:\n{}",
        renewed.0,
        renewed.1
    );
}

/// The whole incident: break, doctor, the printed recover command, then two renewals of every
/// agent the break printed, every token of `bots` in its old mode, and no lock at all.
fn incident(scenario: &str, id: &str, bots: &[&str], extra: &[&str]) -> serde_json::Value {
    let lab = Lab::start();
    let json = break_json(&lab, scenario, bots[0], extra);
    assert_eq!(json["incident"], id, "{json}");
    let log = json["log"].as_str().expect("the agent's log");
    assert!(
        doctor_names(&lab, log).contains(&id.to_string()),
        "the doctor names {id} from {log}"
    );
    let before = created_modes(&json);
    assert_eq!(before.len(), bots.len(), "{json}");

    let next: Vec<&str> = json["next"]
        .as_array()
        .expect("next commands")
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let recover = next
        .iter()
        .find(|c| c.starts_with(&format!("mwictl recover {scenario} ")))
        .unwrap_or_else(|| panic!("no recover command: {json}"));
    let out = run_printed(&lab, recover);
    assert_eq!(out.code, 0, "{recover}:\n{}\n{}", out.stdout, out.stderr);

    recovered(&lab, &json, bots, &before);
    json
}

/// The modes the break (its JSON summary) created its tokens in; S10 may have deleted the token
/// since.
pub fn created_modes(json: &serde_json::Value) -> Vec<String> {
    json["did"]
        .as_array()
        .expect("did")
        .iter()
        .filter_map(|d| {
            d.as_str()?
                .split("(recovery mode ")
                .nth(1)?
                .split(',')
                .next()
        })
        .map(String::from)
        .collect()
}

/// After a recovery: every agent the break printed renews twice, each token of `bots` is bound
/// to an instance that joined and renewed, the tokens are back in their modes `before`, and no
/// lock is left.
pub fn recovered(lab: &Lab, json: &serde_json::Value, bots: &[&str], before: &[String]) {
    let agents: Vec<&str> = json["next"]
        .as_array()
        .expect("next commands")
        .iter()
        .filter_map(|c| c.as_str())
        .filter(|c| c.starts_with("mwictl lab bot -c "))
        .collect();
    assert_eq!(agents.len(), bots.len(), "{json}");
    for (i, agent) in agents.iter().enumerate() {
        renews_twice(lab, agent, &lab.root().join(format!("renewed-{i}.log")));
    }

    // Read back from the server: each token's bound instance renewed twice after it joined.
    for bot in bots {
        for (token, _) in modes(lab, bot) {
            let shown = ok_json(lab, &["tokens", "show", &token]);
            let instance = shown["bound_keypair"]["bound_bot_instance_id"]
                .as_str()
                .unwrap_or_else(|| panic!("token {token} has no bound instance: {shown}"));
            let id = format!("{bot}/{instance}");
            let shown = ok_json(lab, &["bots", "instances", "show", &id]);
            let generation = shown["generation"].as_u64().expect("a generation");
            assert!(generation >= 3, "joined and renewed twice: {shown}");
        }
    }

    let after: Vec<String> = bots
        .iter()
        .flat_map(|b| modes(lab, b))
        .map(|(_, mode)| mode)
        .collect();
    assert_eq!(after, before, "every token is back in its mode");
    let locks = ok_json(lab, &["locks", "ls"]);
    assert_eq!(locks, serde_json::json!([]), "no lock blocks the bot");
}

#[test]
fn s8_bk_exhausted_is_named_recovered_and_the_agent_renews() {
    incident("bk-exhausted", "S8", &["s8bot"], &[]);
}

#[test]
fn s9_bk_join_state_is_named_recovered_and_the_agent_renews() {
    incident("bk-join-state", "S9", &["s9bot"], &[]);
}

#[test]
fn s11_bk_keypair_lost_is_named_recovered_and_the_agent_renews() {
    incident("bk-keypair-lost", "S11", &["s11bot"], &[]);
}

#[test]
fn s12_bk_rollback_is_named_recovered_and_the_fleet_renews() {
    incident("bk-rollback", "S12", &["s12bot", "s12bot-2"], &[]);
}

#[test]
fn s10_bk_token_wiped_is_named_recovered_and_the_agent_renews() {
    incident("bk-token-wiped", "S10", &["s10bot"], &[]);
}

#[test]
fn s10_bk_token_deleted_is_named_recovered_and_the_agent_renews() {
    incident("bk-token-wiped", "S10", &["s10bot"], &["--delete"]);
}

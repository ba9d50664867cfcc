//! The bound-keypair recover flows (S8 bk-exhausted, S9 bk-join-state, S12 bk-rollback) against
//! the lab with the real agent, and the safeguard that no token is left in mode insecure:
//! `tokens mode`, the listings' flag, and a rerun after a crash at every step.

use mwi_proto::types::{ProvisionTokenV2, ResourceRequest};

use crate::bots::json;
use crate::bots_bound::{joining_uri, ok_json, read, status, token_in, wait_expiry};
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

/// A bound-keypair bot (limit `limit`) whose agent onboarded with a 2s identity and recovered
/// once, in `lab.root()/NAME`: its token, joining URI, storage dir and the first (by now stale)
/// join state.
struct BkBot {
    token: String,
    uri: String,
    dir: std::path::PathBuf,
    stale: String,
}

impl BkBot {
    fn new(lab: &Lab, name: &str, limit: &str) -> BkBot {
        let uri = add_bot(lab, name, &["--recovery-limit", limit]);
        let dir = lab.root().join(name);
        let bot = BkBot {
            token: token_in(&uri),
            uri,
            dir,
            stale: String::new(),
        };
        assert_eq!(bot.agent(lab).code, 0, "onboarding");
        let stale = read(&bot.dir, "bkp_state");
        wait_expiry(&bot.dir);
        assert_eq!(bot.agent(lab).code, 0, "first recovery");
        BkBot { stale, ..bot }
    }

    /// `mwictl lab bot --oneshot` for this bot, as tests and --restart-cmd run it.
    fn agent_args(&self) -> Vec<String> {
        [
            "lab",
            "bot",
            "--oneshot",
            "--data-dir",
            self.dir.to_str().unwrap(),
            "--credential-ttl",
            "2s",
            "--join-uri",
            &self.uri,
        ]
        .map(String::from)
        .to_vec()
    }

    fn agent(&self, lab: &Lab) -> Run {
        let args = self.agent_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut lab.cmd(&args))
    }

    fn restart_cmd(&self) -> String {
        format!("{BIN} {}", self.agent_args().join(" "))
    }

    /// S9: the agent presents the stale join state once its identity expired; the lab refuses it
    /// and locks the join token.
    fn break_join_state(&self, lab: &Lab) {
        std::fs::write(self.dir.join("bkp_state"), &self.stale).unwrap();
        wait_expiry(&self.dir);
        let out = self.agent(lab);
        assert!(
            out.stderr.contains("join state verification failed"),
            "{}",
            out.stderr
        );
    }
}

/// Locks in force on the lab.
fn lock_count(lab: &Lab) -> usize {
    let listed = run(&mut lab.cmd(&["get", "locks", "--format", "json"]));
    json(&listed.stdout).as_array().map_or(0, Vec::len)
}

#[test]
fn bk_join_state_unlocks_lets_the_bot_recover_in_insecure_and_restores_the_mode() {
    let lab = Lab::start();
    let bot = BkBot::new(&lab, "example", "3");
    bot.break_join_state(&lab);
    assert_eq!(lock_count(&lab), 1, "the join token is locked");
    let (mode, limit) = recovery(&lab, &bot.token);
    let before = token(&lab, &bot.token);

    // --plan changes nothing.
    let plan = run(&mut lab.cmd(&["recover", "bk-join-state", "--bot", "example", "--plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let mut settings = crate::bots::settings();
    settings.add_filter(r"bot-example-[0-9a-f]{8}", "[BKTOKEN]");
    settings.add_filter(r"[0-9a-f-]{36}", "[UUID]");
    settings.add_filter(r"host \S+ generation", "host [HOST] generation");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    settings.bind(|| insta::assert_snapshot!("bk_join_state_plan", plan.stdout));
    assert_eq!(token(&lab, &bot.token), before, "--plan changed the token");
    assert_eq!(lock_count(&lab), 1, "--plan removed a lock");

    let restart = bot.restart_cmd();
    let out = run(&mut lab.cmd(&[
        "recover",
        "bk-join-state",
        "--bot",
        "example",
        "--yes",
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = json(&out.stdout);
    assert_eq!(report["state"], "finished", "{report}");
    assert_eq!(report["insecure_left"], serde_json::json!([]));
    assert_eq!(report["verification"]["state"], "verified", "{report}");
    let kinds: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "show_evidence",
            "remove_bot_locks",
            "switch_token_mode",
            "run_restart",
            "wait_for_recovery",
            "restore_token_mode",
            "ensure_recovery_headroom",
            "verify"
        ]
    );
    assert_eq!(status(&lab, &bot.token).recovery_count, 3);
    assert_eq!(
        recovery(&lab, &bot.token),
        (mode, limit + 1),
        "mode restored, and one recovery spare above the count"
    );
    assert_eq!(lock_count(&lab), 0);
    // The restarted agent holds a fresh join state: it recovers again in mode standard.
    wait_expiry(&bot.dir);
    let again = bot.agent(&lab);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(status(&lab, &bot.token).recovery_count, 4);
}

#[test]
fn bk_join_state_without_wait_stops_before_restoring_and_says_how_to_restore() {
    let lab = Lab::start();
    let bot = BkBot::new(&lab, "example", "5");
    bot.break_join_state(&lab);
    let out = run(&mut lab.cmd(&["recover", "bk-join-state", "--bot", "example", "--yes"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(recovery(&lab, &bot.token).0, "insecure");
    let shown = ok_json(&lab, &["bots", "show", "example"]);
    let flag = &shown["tokens"][0]["insecure"];
    assert!(
        flag["message"]
            .as_str()
            .unwrap()
            .starts_with("switched by mwictl run "),
        "{shown}"
    );
    let run_id = flag["run_id"].as_str().unwrap().to_string();
    assert!(
        out.stdout.contains(&format!(
            "Left in mode insecure (anyone holding the bot's key can recover it): {} (was standard)\nRestore with:\n  mwictl recover --resume --run {run_id} --wait 5m (waits for the recovery, then restores)\n  mwictl tokens mode {} standard (restores at once)\n",
            bot.token, bot.token
        )),
        "{}",
        out.stdout
    );
    // Another run left open does not stand in the way of the command printed for this one.
    let other = run(&mut lab.cmd(&[
        "recover",
        "--resume",
        "--run",
        "20260101-nosuchrun",
        "--yes",
    ]));
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(
        other
            .stderr
            .contains("--run \"20260101-nosuchrun\" names no recover run"),
        "{}",
        other.stderr
    );

    // The agent recovers while the token is insecure; resuming sees it and restores.
    assert_eq!(bot.agent(&lab).code, 0);
    let resumed = run(&mut lab.cmd(&[
        "recover", "--resume", "--run", &run_id, "--yes", "--wait", "10s",
    ]));
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    assert_eq!(recovery(&lab, &bot.token).0, "standard");
    let again = run(&mut lab.cmd(&["recover", "--resume", "--run", &run_id, "--yes"]));
    assert_eq!(again.code, 3, "a finished run: {}", again.stderr);
    assert!(again.stderr.contains("is finished"), "{}", again.stderr);
    let shown = ok_json(&lab, &["bots", "show", "example"]);
    assert_eq!(
        shown["tokens"][0]["insecure"],
        serde_json::Value::Null,
        "{shown}"
    );
}

/// Runs `args` with a crash after step `step`, then `recover --resume --wait`; the run must
/// converge. A crash after the last step leaves nothing to resume.
fn crash_and_resume(lab: &Lab, args: &[&str], step: usize, steps: usize) {
    let crashed = run(lab
        .cmd(args)
        .env("MWICTL_TEST_CRASH_AFTER_STEP", step.to_string()));
    assert_ne!(crashed.code, 0, "step {step}: {}", crashed.stderr);
    let resumed = run(&mut lab.cmd(&["recover", "--resume", "--yes", "--wait", "30s"]));
    let expected = if step == steps { 3 } else { 0 };
    assert_eq!(
        resumed.code, expected,
        "resume after step {step}: {}\n{}",
        resumed.stdout, resumed.stderr
    );
}

#[test]
fn bk_join_state_killed_after_every_step_converges_on_resume_with_the_mode_restored() {
    let lab = Lab::start();
    let bot = BkBot::new(&lab, "example", "50");
    let restart = bot.restart_cmd();
    let args = [
        "recover",
        "bk-join-state",
        "--bot",
        "example",
        "--yes",
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
    ];
    let steps = 8;
    for step in 1..=steps {
        bot.break_join_state(&lab);
        let count = status(&lab, &bot.token).recovery_count;
        crash_and_resume(&lab, &args, step, steps);
        assert_eq!(
            recovery(&lab, &bot.token).0,
            "standard",
            "step {step}: the mode is back"
        );
        assert_eq!(
            status(&lab, &bot.token).recovery_count,
            count + 1,
            "step {step}: the bot recovered once"
        );
        assert_eq!(lock_count(&lab), 0, "step {step}: no lock left");
    }
}

#[test]
fn bk_rollback_killed_after_every_step_converges_on_resume_with_every_mode_restored() {
    let lab = Lab::start();
    let bots = [
        BkBot::new(&lab, "alpha", "50"),
        BkBot::new(&lab, "beta", "50"),
    ];
    // beta's token was relaxed before the incident: it must come back relaxed.
    assert_eq!(
        ok_json(&lab, &["tokens", "mode", &bots[1].token, "relaxed"])["changed"],
        true
    );
    let restart = format!("{} && {}", bots[0].restart_cmd(), bots[1].restart_cmd());
    let args = [
        "recover",
        "bk-rollback",
        "--yes",
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
    ];
    // --plan changes nothing, broken as the bots are.
    for bot in &bots {
        bot.break_join_state(&lab);
    }
    let before: Vec<ProvisionTokenV2> = bots.iter().map(|b| token(&lab, &b.token)).collect();
    let plan = ok_json(&lab, &["recover", "bk-rollback", "--plan"]);
    assert_eq!(plan["bot"], "*", "{plan}");
    assert_eq!(plan["steps"].as_array().map(Vec::len), Some(7), "{plan}");
    let after: Vec<ProvisionTokenV2> = bots.iter().map(|b| token(&lab, &b.token)).collect();
    assert_eq!(after, before, "--plan changed a token");
    assert_eq!(lock_count(&lab), 2, "--plan removed a lock");
    // Evidence, two switches, the lock removal, restart, wait, two restores.
    let steps = 8;
    let mut broken = true;
    for step in 1..=steps {
        if !broken {
            for bot in &bots {
                bot.break_join_state(&lab);
            }
        }
        broken = false;
        assert_eq!(lock_count(&lab), 2, "step {step}: both join tokens locked");
        let counts: Vec<u32> = bots
            .iter()
            .map(|b| status(&lab, &b.token).recovery_count)
            .collect();
        crash_and_resume(&lab, &args, step, steps);
        for (bot, (count, mode)) in bots.iter().zip(counts.iter().zip(["standard", "relaxed"])) {
            assert_eq!(
                recovery(&lab, &bot.token).0,
                mode,
                "step {step}: {} has its mode back",
                bot.token
            );
            assert_eq!(
                status(&lab, &bot.token).recovery_count,
                count + 1,
                "step {step}: {} recovered once",
                bot.token
            );
        }
        assert_eq!(lock_count(&lab), 0, "step {step}: no lock left");
    }
}

#[test]
fn bk_exhausted_raises_the_limit_and_the_agent_recovers_with_a_new_instance() {
    let lab = Lab::start();
    // Onboarding and one recovery use up a limit of 2.
    let bot = BkBot::new(&lab, "example", "2");
    wait_expiry(&bot.dir);
    let refused = bot.agent(&lab);
    assert!(
        refused.stderr.contains("no rejoins remaining"),
        "{}",
        refused.stderr
    );
    let before = token(&lab, &bot.token);
    let plan = run(&mut lab.cmd(&["recover", "bk-exhausted", "--bot", "example", "--plan"]));
    assert!(
        plan.stdout.starts_with(&format!(
            "Incident S8 on bot \"example\": the bot's bound-keypair token has no recoveries left\n\nPlan (4 steps):\n 1. Evidence: token {}: recovery_count 2 reached recovery.limit 2 in mode standard\n",
            bot.token
        )),
        "{}",
        plan.stdout
    );
    assert_eq!(token(&lab, &bot.token), before, "--plan changed the token");

    let restart = bot.restart_cmd();
    let out = run(&mut lab.cmd(&[
        "recover",
        "bk-exhausted",
        "--bot",
        "example",
        "--spare",
        "2",
        "--yes",
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Raised recovery.limit of token {} from 2 to 4 (recovery_count 2)",
            bot.token
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.starts_with("Recovered: bot \"example\""),
        "{}",
        out.stdout
    );
    assert_eq!(status(&lab, &bot.token).recovery_count, 3);
    assert_eq!(recovery(&lab, &bot.token), ("standard".into(), 4));
}

#[test]
fn a_bot_with_two_bound_tokens_or_a_token_of_another_method_is_refused_and_nothing_changes() {
    let lab = Lab::start();
    let first = token_in(&add_bot(&lab, "example", &[]));
    let second = ok_json(&lab, &["bots", "instances", "add", "example"]);
    let second = second["token_id"].as_str().unwrap().to_string();
    let legacy = ok_json(&lab, &["bots", "instances", "add", "example", "--legacy"]);
    let plain = legacy["token_id"].as_str().unwrap().to_string();
    let before: Vec<ProvisionTokenV2> = [&first, &second, &plain]
        .iter()
        .map(|t| token(&lab, t))
        .collect();

    let several = run(&mut lab.cmd(&["recover", "bk-join-state", "--bot", "example", "--yes"]));
    assert_eq!(several.code, 2, "{}", several.stderr);
    let mut names = [first.clone(), second.clone()];
    names.sort();
    assert_eq!(
        several.stderr.lines().next(),
        Some(
            format!(
                "error: bot \"example\" has 2 bound_keypair tokens ({}, {})",
                names[0], names[1]
            )
            .as_str()
        )
    );
    let other = run(&mut lab.cmd(&[
        "recover",
        "bk-exhausted",
        "--bot",
        "example",
        "--token",
        &plain,
        "--yes",
    ]));
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert_eq!(
        other.stderr.lines().next(),
        Some(format!("error: token {plain} is of type token, not bound_keypair").as_str())
    );
    let after: Vec<ProvisionTokenV2> = [&first, &second, &plain]
        .iter()
        .map(|t| token(&lab, t))
        .collect();
    assert_eq!(after, before, "nothing changed");
    let journals = lab.home().join("state/recover");
    assert!(
        std::fs::read_dir(&journals).map_or(true, |d| d.count() == 0),
        "no run was started"
    );

    // --token picks one: the plan names it.
    let plan = run(&mut lab.cmd(&[
        "recover",
        "bk-join-state",
        "--bot",
        "example",
        "--token",
        &second,
        "--plan",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "Set the recovery mode of token {second} to insecure"
        )),
        "{}",
        plan.stdout
    );
}

#[test]
fn the_wizard_names_s9_for_a_locked_join_token_and_restores_the_mode_after_the_recovery() {
    use crate::recover_pty::{expect, plain, spawn, to_recovery_choice};
    let lab = Lab::start();
    let bot = BkBot::new(&lab, "example", "5");
    bot.break_join_state(&lab);
    let mut s = spawn(&lab, &["recover", "example"], &[("COLUMNS", "200")], 60);
    let diagnosis = to_recovery_choice(&mut s);
    assert!(
        diagnosis.contains(&format!(
            "This looks like S9: the bot's join state was rejected and its join token is locked (a lock on its bound-keypair join token {} blocks the bot)",
            bot.token
        )),
        "{diagnosis}"
    );
    s.send("\r").unwrap();
    expect(&mut s, "Command that restarts tbot");
    s.send_line(bot.restart_cmd()).unwrap();
    expect(&mut s, "Wait for tbot to come back");
    s.send_line("30s").unwrap();
    let plan = plain(&expect(&mut s, "Apply this plan?"));
    assert!(plan.contains("stolen key"), "{plan}");
    s.send("y").unwrap();
    let result = plain(&expect(&mut s, "Journal:"));
    assert!(result.contains("Recovered: bot \"example\""), "{result}");
    assert!(
        result.contains(&format!("Restored token {} to mode standard", bot.token)),
        "{result}"
    );
    s.expect(expectrl::Eof).expect("the wizard ends");
    assert_eq!(recovery(&lab, &bot.token).0, "standard");
    assert_eq!(lock_count(&lab), 0);
}

#[tokio::test]
async fn a_recovery_write_on_a_token_changed_since_it_was_read_is_a_conflict() {
    use mwictl::ops::recovery_mode;
    let lab = Lab::start();
    let name = token_in(&add_bot(&lab, "example", &[]));
    let client = lab.client().await;
    let read = recovery_mode::read(&client, &name).await.unwrap();
    recovery_mode::write(&client, &read, |r| r.limit = 7)
        .await
        .expect("a write at the revision read");
    let stale = recovery_mode::write(&client, &read, |r| r.mode = "insecure".into())
        .await
        .unwrap_err();
    assert_eq!(stale.status, mwictl::exit::ExitStatus::Conflict);
    assert_eq!(
        stale.message,
        format!("token {name} changed since it was read (stale revision)")
    );
    let now = client.get_token(&name).await.unwrap().value;
    assert_eq!(
        (
            recovery_mode::mode_of(&now),
            recovery_mode::recovery(&now).limit
        ),
        ("standard".to_string(), 7)
    );
}

#[test]
fn a_mode_set_by_hand_while_the_run_waits_is_left_alone_by_the_restore() {
    let lab = Lab::start();
    let bot = BkBot::new(&lab, "example", "5");
    bot.break_join_state(&lab);
    let out = run(&mut lab.cmd(&["recover", "bk-join-state", "--bot", "example", "--yes"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(bot.agent(&lab).code, 0, "recovers while insecure");
    let set = ok_json(&lab, &["tokens", "mode", &bot.token, "relaxed"]);
    assert_eq!(
        set["runs_marked_restored"].as_array().map(Vec::len),
        Some(1),
        "{set}"
    );
    let resumed = run(&mut lab.cmd(&["recover", "--resume", "--yes", "--wait", "10s"]));
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stdout.contains(&format!(
            "Left token {} in mode relaxed: restored already; it is in mode relaxed",
            bot.token
        )),
        "{}",
        resumed.stdout
    );
    assert_eq!(recovery(&lab, &bot.token).0, "relaxed");
}

#[test]
fn bk_exhausted_all_locked_raises_the_limit_of_each_exhausted_bot_only() {
    let lab = Lab::start();
    let spent = [BkBot::new(&lab, "one", "2"), BkBot::new(&lab, "two", "2")];
    let spare = BkBot::new(&lab, "spare", "5");
    let out = run(&mut lab.cmd(&[
        "recover",
        "bk-exhausted",
        "--all-locked",
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let mut bots: Vec<&str> = lines[..lines.len() - 1]
        .iter()
        .map(|l| l["bot"].as_str().unwrap())
        .collect();
    bots.sort();
    assert_eq!(bots, ["one", "two"], "{}", out.stdout);
    assert_eq!(lines[2]["succeeded"], 2, "{}", out.stdout);
    for bot in &spent {
        assert_eq!(recovery(&lab, &bot.token), ("standard".into(), 3));
    }
    assert_eq!(recovery(&lab, &spare.token).1, 5, "untouched");
    assert_eq!(status(&lab, &spare.token).recovery_count, 2);
}

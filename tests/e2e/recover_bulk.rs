//! `mwictl recover FLOW --all-locked | --bots`: several bots broken for real by `mwictl lab break`,
//! recovered in one run (one journal each), one JSON line per bot and a summary, server state
//! read back over gRPC.

use crate::harness::{Lab, run};
use crate::recover::{bot_tokens, bot_user_locks, break_bot, config_token, token_exists};

const BOTS: [&str; 3] = ["alpha", "bravo", "charlie"];

/// Breaks every bot of `BOTS` with S1; returns the `--tbot-config` pattern with `{bot}`.
fn three_locked(lab: &Lab) -> String {
    for bot in BOTS {
        break_bot(lab, "generation-mismatch", bot, &[]);
        assert_eq!(bot_user_locks(lab, bot), 1, "{bot} is locked");
    }
    lab.root()
        .join("bot-{bot}")
        .join("tbot.yaml")
        .display()
        .to_string()
}

/// Each stdout line as JSON.
fn lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn all_locked_recovers_every_locked_bot_with_a_json_line_each_and_a_summary() {
    let lab = Lab::start();
    let pattern = three_locked(&lab);
    let before: Vec<String> = BOTS
        .iter()
        .map(|b| config_token(&lab.root().join(format!("bot-{b}/tbot.yaml"))))
        .collect();
    let out = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--all-locked",
        "--tbot-config",
        &pattern,
        "--parallel",
        "2",
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    let mut bots: Vec<&str> = lines[..3]
        .iter()
        .map(|l| {
            assert_eq!(l["schema"], "mwictl.recover.bulk/v1");
            assert_eq!(l["state"], "fixed", "{l}");
            assert_eq!(l["exit_code"], 0);
            l["bot"].as_str().unwrap()
        })
        .collect();
    bots.sort();
    assert_eq!(bots, BOTS);
    let journals: std::collections::BTreeSet<&str> = lines[..3]
        .iter()
        .map(|l| l["journal"].as_str().unwrap())
        .collect();
    assert_eq!(journals.len(), 3, "one journal per bot");
    let summary = &lines[3];
    assert_eq!(summary["schema"], "mwictl.recover.bulk.summary/v1");
    assert_eq!(
        (summary["bots"].as_u64(), summary["succeeded"].as_u64()),
        (Some(3), Some(3))
    );
    for (bot, old) in BOTS.iter().zip(&before) {
        assert_eq!(bot_user_locks(&lab, bot), 0, "{bot} unlocked");
        let token = config_token(&lab.root().join(format!("bot-{bot}/tbot.yaml")));
        assert_ne!(&token, old, "{bot} got a new token");
        assert!(
            token_exists(&lab, &token),
            "{bot}'s new token is on the server"
        );
        assert!(bot_tokens(&lab, bot).contains(&token));
    }
}

#[test]
fn one_failing_bot_does_not_stop_the_others_and_the_run_exits_non_zero() {
    let lab = Lab::start();
    let pattern = three_locked(&lab);
    let broken = lab.root().join("bot-bravo/tbot.yaml");
    std::fs::write(&broken, "this is not: [a tbot config\n").unwrap();
    let out = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bots",
        "alpha,bravo,charlie",
        "--tbot-config",
        &pattern,
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    let bravo = lines
        .iter()
        .find(|l| l["bot"] == "bravo")
        .expect("bravo's line");
    assert_eq!(bravo["state"], "failed");
    assert!(
        bravo["error"].as_str().unwrap().contains("bot-bravo"),
        "{bravo}"
    );
    assert_eq!(lines[3]["failed"], serde_json::json!(["bravo"]));
    assert_eq!(
        bot_user_locks(&lab, "bravo"),
        1,
        "nothing changed for bravo"
    );
    for bot in ["alpha", "charlie"] {
        assert_eq!(bot_user_locks(&lab, bot), 0, "{bot} still recovered");
    }
}

#[test]
fn plan_prints_every_plan_and_changes_nothing_and_a_run_needs_yes() {
    let lab = Lab::start();
    let pattern = three_locked(&lab);
    let out = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--all-locked",
        "--tbot-config",
        &pattern,
        "--plan",
    ]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for bot in BOTS {
        assert!(
            out.stdout.contains(&format!("for bot {bot:?}")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("bot-{bot}/tbot.yaml")),
            "{}",
            out.stdout
        );
    }
    let refused = run(&mut lab.cmd(&["recover", "generation-mismatch", "--all-locked"]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    for bot in BOTS {
        assert_eq!(bot_user_locks(&lab, bot), 1, "{bot} still locked");
    }
}

/// `--all-locked` picks the bots triage says need the flow: the expired bot for `expired`, the
/// locked one for `generation-mismatch`, never the other.
#[test]
fn all_locked_picks_the_bots_each_flow_fixes() {
    let lab = Lab::start();
    crate::recover::break_bot(&lab, "expired", "exp", &[]);
    crate::recover::break_bot(&lab, "generation-mismatch", "gm", &[]);
    for (flow, picked, left) in [
        ("expired", "exp", "gm"),
        ("generation-mismatch", "gm", "exp"),
    ] {
        let out = run(&mut lab.cmd(&["recover", flow, "--all-locked", "--plan"]));
        assert_eq!(out.code, 0, "{flow}: {}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!("for bot {picked:?}")),
            "{flow}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains(&format!("for bot {left:?}")),
            "{flow}: {}",
            out.stdout
        );
    }
}

/// A bot `--plan` cannot plan is a line of its own and exit 1; the other bots are planned.
#[test]
fn plan_goes_on_past_a_bot_it_cannot_plan() {
    let lab = Lab::start();
    let pattern = three_locked(&lab);
    let out = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bots",
        "alpha,ghost,bravo",
        "--tbot-config",
        &pattern,
        "--plan",
    ]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for bot in ["alpha", "bravo"] {
        assert!(
            out.stdout.contains(&format!("for bot {bot:?}")),
            "{}",
            out.stdout
        );
    }
    let ghost: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("✗ ghost: failed ("))
        .collect();
    assert_eq!(ghost.len(), 1, "{}", out.stdout);
    for bot in BOTS {
        assert_eq!(bot_user_locks(&lab, bot), 1, "{bot} still locked");
    }
}

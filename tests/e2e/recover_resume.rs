//! Interrupted recover runs: the process is killed right after each step is journaled, and a
//! rerun (or `recover --resume`) converges: one token, no lock, every backup kept.

use std::path::PathBuf;

use crate::harness::{Lab, run};
use crate::recover::{bot_tokens, bot_user_locks, break_bot, config_token};

/// The test hook that aborts mwictl right after step N is journaled.
pub const CRASH_ENV: &str = "MWICTL_TEST_CRASH_AFTER_STEP";

/// The journal files in the lab's home.
fn journals(lab: &Lab) -> Vec<PathBuf> {
    let dir = lab.home().join("state/recover");
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Whether a lock backup under the home's backups dir holds a lock on `bot-BOT`.
fn lock_backup_of(lab: &Lab, bot: &str) -> bool {
    let Ok(runs) = std::fs::read_dir(lab.home().join("backups")) else {
        return false;
    };
    runs.filter_map(Result::ok)
        .filter_map(|run| std::fs::read_dir(run.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|f| std::fs::read_to_string(f.path()).ok())
        .any(|text| text.contains("kind: lock") && text.contains(&format!("bot-{bot}\n")))
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn a_run_killed_after_each_step_converges_when_run_again() {
    let lab = Lab::start();
    // Six steps: evidence, remove locks, issue token, update tbot.yaml, restart, verify.
    for step in 1..=6 {
        let bot = format!("crash{step}");
        let dir = break_bot(&lab, "generation-mismatch", &bot, &[]);
        let config = dir.join("tbot.yaml").display().to_string();
        let args = [
            "recover",
            "generation-mismatch",
            "--bot",
            &bot,
            "--tbot-config",
            &config,
            "--restart-cmd",
            "true",
            "--yes",
            "--format",
            "json",
        ];
        let mut killed = lab.cmd(&args);
        killed.env(CRASH_ENV, step.to_string());
        let out = run(&mut killed);
        assert_eq!(
            out.code, -1,
            "step {step}: killed by SIGABRT: {}",
            out.stderr
        );
        let journal: serde_json::Value = {
            let path = journals(&lab)
                .into_iter()
                .find(|p| {
                    std::fs::read_to_string(p)
                        .unwrap()
                        .contains(&format!("\"bot\": \"{bot}\""))
                })
                .expect("journal of the killed run");
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let done = journal["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "done")
            .count();
        assert_eq!(done, step, "step {step}: the journal records what was done");
        // A second kill in the middle of the rerun must not mint another token either.
        if step == 2 {
            let mut again = lab.cmd(&args);
            again.env(CRASH_ENV, "3");
            assert_eq!(run(&mut again).code, -1);
        }
        let rerun = run(&mut lab.cmd(&args));
        assert_eq!(rerun.code, 0, "step {step}: {}", rerun.stderr);
        let json: serde_json::Value = serde_json::from_str(&rerun.stdout).unwrap();
        assert_eq!(json["state"], "finished");
        if step < 6 {
            assert_eq!(json["resumed"], true, "step {step}");
        } else {
            // The killed run had finished: the rerun is a new run that reuses its unused token.
            assert_eq!(json["resumed"], false);
            let issue = json["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["kind"] == "issue_token")
                .unwrap();
            assert_eq!(issue["output"]["reused"], true, "{json:#}");
        }
        assert_eq!(
            bot_user_locks(&lab, &bot),
            0,
            "step {step}: the lock is gone"
        );
        let tokens = bot_tokens(&lab, &bot);
        assert_eq!(
            tokens.len(),
            1,
            "step {step}: exactly one token: {tokens:?}"
        );
        assert_eq!(json["created"]["token"]["name"], tokens[0].as_str());
        assert_eq!(
            config_token(&dir.join("tbot.yaml")),
            tokens[0],
            "step {step}"
        );
        assert!(
            lock_backup_of(&lab, &bot),
            "step {step}: the removed lock is backed up"
        );
    }
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn resume_continues_the_last_interrupted_run() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "expired", "exp", &[]);
    let config = dir.join("tbot.yaml").display().to_string();
    let mut killed = lab.cmd(&[
        "recover",
        "expired",
        "--bot",
        "exp",
        "--tbot-config",
        &config,
        "--yes",
    ]);
    killed.env(CRASH_ENV, "2");
    assert_eq!(run(&mut killed).code, -1);
    let plan = run(&mut lab.cmd(&["recover", "--resume", "--plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("Incident S2 on bot \"exp\""),
        "{}",
        plan.stdout
    );
    let refused = run(&mut lab.cmd(&["recover", "--resume"]));
    assert_eq!(refused.code, 2, "no terminal, no --yes: {}", refused.stderr);
    let resumed = run(&mut lab.cmd(&["recover", "--resume", "--yes"]));
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("continuing run"),
        "{}",
        resumed.stderr
    );
    assert!(resumed.stdout.contains("resumed run"), "{}", resumed.stdout);
    assert_eq!(bot_tokens(&lab, "exp").len(), 1);
    let none = run(&mut lab.cmd(&["recover", "--resume", "--yes"]));
    assert_eq!(none.code, 3, "{}", none.stderr);
    assert!(
        none.stderr.contains("no unfinished recover run"),
        "{}",
        none.stderr
    );
}

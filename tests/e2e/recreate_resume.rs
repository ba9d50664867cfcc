//! Interrupted recreates: `bots recreate` and `recover db-access --recreate` killed right after
//! each of their steps (journaled, and also before its end was journaled), then run again: the
//! bot exists with its roles, traits and TTL, no lock blocks it, and it has exactly one unused
//! token. And `unlock --bot` killed while removing, continued.

use std::path::{Path, PathBuf};

use mwi_testkit::fixtures::{lock, target};

use crate::bots::{json, logins_of, put_bot, put_roles, roles_of, stored_bot};
use crate::harness::{Lab, run};
use crate::recover::bot_tokens;
use crate::recover_resume::CRASH_ENV;
use crate::unlock::{lock_exists, put_locks};

/// Bot `bot` with role access, login root and a 2h TTL, locked on its user and its role.
fn locked_bot(lab: &Lab, bot: &str) {
    put_bot(lab, bot, &["access"], &["root"], Some(7200));
    put_locks(
        lab,
        vec![
            lock(
                &format!("{bot}-user"),
                target("user", &format!("bot-{bot}")),
                "generation mismatch",
            ),
            lock(
                &format!("{bot}-role"),
                target("role", &format!("bot-{bot}")),
                "role locked",
            ),
        ],
    );
}

/// Every file under `dir`, one level of directories deep.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(
                std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            out.push(path);
        }
    }
    out
}

/// The journal of `bot`'s run in `STATE/journals`.
fn journal_of(lab: &Lab, journals: &str, bot: &str) -> serde_json::Value {
    let needle = format!("\"bot\": \"{bot}\"");
    let path = files_under(&lab.home().join("state").join(journals))
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(&needle)))
        .unwrap_or_else(|| panic!("no journal of {bot} in {journals}"));
    json(&std::fs::read_to_string(path).expect("journal"))
}

/// Runs `args` killed at `point` (`N` or `N:unjournaled`) and checks that the journal shows the
/// run stopped there.
fn kill_at(lab: &Lab, args: &[&str], point: &str, journals: &str, bot: &str) {
    let mut killed = lab.cmd(args);
    killed.env(CRASH_ENV, point);
    let out = run(&mut killed);
    assert_eq!(out.code, -1, "{point}: killed by SIGABRT: {}", out.stderr);
    let (step, journaled) = match point.strip_suffix(":unjournaled") {
        Some(step) => (step.parse::<usize>().expect("step"), false),
        None => (point.parse::<usize>().expect("step"), true),
    };
    let journal = journal_of(lab, journals, bot);
    let states: Vec<&str> = journal["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["state"].as_str().unwrap_or_default())
        .collect();
    let done = states.iter().filter(|s| **s == "done").count();
    if journaled {
        assert_eq!(done, step, "{point}: {states:?}");
    } else {
        assert_eq!(done, step - 1, "{point}: {states:?}");
        assert_eq!(states[step - 1], "started", "{point}: {states:?}");
    }
    let delete = journal["plan"]["steps"]
        .as_array()
        .expect("plan steps")
        .iter()
        .position(|s| s["kind"] == "delete_bot");
    if delete.is_some_and(|d| states[d] != "pending") {
        assert!(
            journal["snapshot"]["bot"].is_string(),
            "{point}: the bot's bytes are journaled before it is deleted"
        );
    }
}

/// What must hold after the rerun: the bot as it was plus db-reader, no lock, one token (`token`),
/// the locks and the bot backed up.
fn converged(lab: &Lab, bot: &str, token: &str, point: &str) {
    let stored = stored_bot(lab, bot).unwrap_or_else(|| panic!("{point}: bot {bot} exists"));
    assert_eq!(roles_of(&stored), ["access", "db-reader"], "{point}");
    assert_eq!(logins_of(&stored), ["root"], "{point}");
    assert_eq!(
        stored
            .spec
            .and_then(|s| s.max_session_ttl)
            .map(|d| d.seconds),
        Some(7200),
        "{point}"
    );
    assert!(!lock_exists(lab, &format!("{bot}-user")), "{point}");
    assert!(!lock_exists(lab, &format!("{bot}-role")), "{point}");
    assert_eq!(
        bot_tokens(lab, bot),
        [token],
        "{point}: exactly one unused token"
    );
    let backups = files_under(&lab.home().join("backups"));
    let text = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        backups
            .iter()
            .any(|p| text(p).contains("kind: lock") && text(p).contains(&format!("{bot}-user"))),
        "{point}: the removed locks are backed up"
    );
    let snapshot = format!("bot-{bot}-snapshot-");
    assert!(
        backups.iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&snapshot))
        }),
        "{point}: the bot is backed up"
    );
}

/// Every point a run can stop at: after each step's end is journaled, and, for the steps that
/// change something, after the step ran but before its end was journaled.
fn points(steps: std::ops::RangeInclusive<usize>) -> Vec<String> {
    steps
        .flat_map(|s| [s.to_string(), format!("{s}:unjournaled")])
        .collect()
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn bots_recreate_killed_after_each_step_converges_when_run_again() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "db-reader"]);
    // Five steps: snapshot, delete, remove locks, create, issue token.
    for (i, point) in points(1..=5).iter().enumerate() {
        let bot = format!("rc{i}");
        locked_bot(&lab, &bot);
        let args = [
            "bots",
            "recreate",
            &bot,
            "--add-roles",
            "db-reader",
            "--yes",
            "--format",
            "json",
        ];
        kill_at(&lab, &args, point, "bots-recreate", &bot);
        let rerun = run(&mut lab.cmd(&args));
        assert_eq!(rerun.code, 0, "{point}: {}", rerun.stderr);
        let report = json(&rerun.stdout);
        assert_eq!(
            report["roles"],
            serde_json::json!(["access", "db-reader"]),
            "{point}"
        );
        assert_eq!(report["logins"], serde_json::json!(["root"]), "{point}");
        assert_eq!(report["max_session_ttl"], "2h0m0s", "{point}");
        let token = report["token_id"].as_str().expect("token_id");
        converged(&lab, &bot, token, point);
    }
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn bots_recreate_resume_continues_the_interrupted_run() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "db-reader"]);
    locked_bot(&lab, "rs");
    let args = [
        "bots",
        "recreate",
        "rs",
        "--add-roles",
        "db-reader",
        "--yes",
    ];
    kill_at(&lab, &args, "2", "bots-recreate", "rs");
    assert!(stored_bot(&lab, "rs").is_none(), "deleted, not created yet");
    let plan = run(&mut lab.cmd(&["bots", "recreate", "--resume", "--plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("Delete bot \"rs\""), "{}", plan.stdout);
    let refused = run(&mut lab.cmd(&["bots", "recreate", "--resume"]));
    assert_eq!(refused.code, 2, "no terminal, no --yes: {}", refused.stderr);
    let resumed = run(&mut lab.cmd(&["bots", "recreate", "--resume", "--yes"]));
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("continuing run"),
        "{}",
        resumed.stderr
    );
    let token = resumed
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("The bot token: "))
        .expect("token line");
    converged(&lab, "rs", token, "resume");
    let none = run(&mut lab.cmd(&["bots", "recreate", "--resume", "--yes"]));
    assert_eq!(none.code, 3, "{}", none.stderr);
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn recover_db_access_recreate_killed_after_each_step_converges_when_run_again() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "db-reader"]);
    // Seven steps: evidence, snapshot, delete, remove locks, create, issue token, verify.
    let mut all = points(2..=6);
    all.push("7".into());
    for (i, point) in all.iter().enumerate() {
        let bot = format!("rd{i}");
        locked_bot(&lab, &bot);
        let args = [
            "recover",
            "db-access",
            "--bot",
            &bot,
            "--db",
            "example",
            "--recreate",
            "db-reader",
            "--yes",
            "--format",
            "json",
        ];
        kill_at(&lab, &args, point, "recover", &bot);
        let rerun = run(&mut lab.cmd(&args));
        assert_eq!(rerun.code, 0, "{point}: {}", rerun.stderr);
        let report = json(&rerun.stdout);
        assert_eq!(report["state"], "finished", "{point}");
        let kinds: Vec<&str> = report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds,
            [
                "show_evidence",
                "snapshot_bot",
                "delete_bot",
                "remove_bot_locks",
                "create_bot",
                "issue_token",
                "verify"
            ],
            "{point}"
        );
        // A run killed after its last step had finished: the rerun is a new one that takes
        // over its unused token.
        assert_eq!(report["resumed"], point != "7", "{point}");
        let token = report["created"]["token"]["name"].as_str().expect("token");
        converged(&lab, &bot, token, point);
    }
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the crash hook exists only in debug builds"
)]
fn unlock_bot_killed_while_removing_continues_when_run_again() {
    let lab = Lab::start();
    put_roles(&lab, &["access"]);
    locked_bot(&lab, "ul");
    let args = ["unlock", "--bot", "ul", "--yes", "--format", "json"];
    // The locks are deleted, but the step's end is not journaled.
    kill_at(&lab, &args, "1:unjournaled", "unlock", "ul");
    assert!(!lock_exists(&lab, "ul-user"));
    let plan = run(&mut lab.cmd(&["unlock", "--resume", "--plan", "--format", "json"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(json(&plan.stdout)["steps"][0]["kind"], "remove_locks");
    let rerun = run(&mut lab.cmd(&args));
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(rerun.stderr.contains("continuing run"), "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("lock \"ul-user\" was already gone"),
        "{}",
        rerun.stderr
    );
    // The killed process deleted them: this one counts them as already gone, not removed.
    let report = json(&rerun.stdout);
    assert_eq!(report["removed"], serde_json::json!([]), "{report:#}");
    let mut gone: Vec<&str> = report["already_gone"]
        .as_array()
        .expect("already_gone")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    gone.sort();
    assert_eq!(gone, ["ul-role", "ul-user"], "{report:#}");
    assert_eq!(report["remaining"], serde_json::json!([]));
    let none = run(&mut lab.cmd(&["unlock", "--resume", "--yes"]));
    assert_eq!(none.code, 3, "{}", none.stderr);
}

/// A release build has no crash hook: the variable changes nothing. (Runs under `cargo test
/// --release`, whose binary is a release build.)
#[test]
#[cfg(not(debug_assertions))]
fn a_release_build_ignores_the_crash_hook() {
    let lab = Lab::start();
    put_roles(&lab, &["access", "db-reader"]);
    locked_bot(&lab, "rel");
    let mut cmd = lab.cmd(&[
        "bots",
        "recreate",
        "rel",
        "--add-roles",
        "db-reader",
        "--yes",
    ]);
    cmd.env(CRASH_ENV, "1");
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        roles_of(&stored_bot(&lab, "rel").expect("bot")),
        ["access", "db-reader"]
    );
}

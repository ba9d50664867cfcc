//! The interactive wizard `mwictl recover` driven under a pseudo-terminal: pick the locked bot,
//! point it at the tbot log and tbot.yaml (mistyped first: it asks again; the lab bot's files are
//! the defaults), accept the S1 suggestion and the plan, read the result; Esc cancels. The
//! bound-keypair branches S10 and S11 likewise, down to the token's mode and the agent's renewals.

use std::process::Command;
use std::time::Duration;

use expectrl::{Eof, Session};

use crate::bk_incidents::{created_modes, recovered};
use crate::harness::{BIN, Lab, run};
use crate::recover::{bot_user_locks, break_bot, config_token};

/// Waits for `needle` on the terminal, failing with what was on screen.
pub fn expect(session: &mut Session, needle: &str) -> String {
    match session.expect(needle) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("waiting for {needle:?}: {e}"),
    }
}

/// The terminal's text without colours and cursor movement.
pub fn plain(text: &str) -> String {
    console::strip_ansi_codes(text).into_owned()
}

/// Takes the wizard's default log and tbot.yaml, up to the choice of recovery: the diagnosis
/// shown before it.
pub fn to_recovery_choice(s: &mut Session) -> String {
    expect(s, "tbot log to read");
    s.send_line("").unwrap();
    expect(s, "tbot.yaml of this bot");
    s.send_line("").unwrap();
    plain(&expect(s, "Recovery to run"))
}

/// `mwictl ARGS` under a pseudo-terminal (xterm), with the lab's profile and the harness's
/// hermetic environment; `wait` bounds each expectation.
pub fn spawn(lab: &Lab, args: &[&str], env: &[(&str, &str)], wait: u64) -> Session {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .envs(crate::harness::hermetic_env(&lab.home()))
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE");
    let mut s = Session::spawn(command).expect("spawn mwictl under a pty");
    s.set_expect_timeout(Some(Duration::from_secs(wait)));
    s
}

#[test]
fn wizard_recovers_a_locked_bot_under_a_terminal() {
    let lab = Lab::start();
    // In lab break's default directory, whose files the wizard offers.
    let broke = run(&mut lab.cmd(&["lab", "break", "generation-mismatch", "--bot", "example"]));
    assert_eq!(broke.code, 0, "{}", broke.stderr);
    let dir = lab.home().join("lab-bots/example");
    // A healthy second bot, so the wizard has a choice to make.
    break_bot(&lab, "ssh-login", "other", &[]);
    let config = dir.join("tbot.yaml");
    let log = dir.join("tbot.log");
    let mut s = spawn(&lab, &["recover"], &[("COLUMNS", "200")], 30);

    expect(&mut s, "Bot to recover");
    let mut list = expect(&mut s, "other");
    list.push_str("other");
    list.push_str(&expect(&mut s, " ago"));
    list.push_str(" ago");
    let list = plain(&list);
    assert!(!list.contains("?:"), "{list}");
    // One line per bot, columns aligned, last seen in relative time (no nanoseconds).
    let rows: Vec<&str> = list
        .lines()
        .map(|l| l.trim_start_matches(['>', ' ', '❯']))
        .filter(|l| l.contains("live instances"))
        .collect();
    let example = rows
        .iter()
        .rev()
        .find(|r| r.starts_with("example"))
        .expect(&list);
    let other = rows
        .iter()
        .rev()
        .find(|r| r.starts_with("other"))
        .expect(&list);
    for column in ["[", "locks", "live instances", "last seen"] {
        assert_eq!(example.find(column), other.find(column), "{column}: {list}");
    }
    assert!(!list.contains("Z  ") && !list.contains("T00"), "{list}");
    // The locked bot is the default choice.
    s.send("\r").unwrap();
    // The lab bot's log is offered; a mistyped path asks again.
    expect(&mut s, "tbot log to read");
    let offered = plain(&expect(&mut s, "]"));
    assert!(offered.contains(&log.display().to_string()), "{offered}");
    s.send_line("/no/such/tbot.log").unwrap();
    let again = plain(&expect(&mut s, "try again"));
    assert!(
        again.contains("cannot read the tbot log /no/such/tbot.log"),
        "{again}"
    );
    expect(&mut s, "tbot log to read");
    expect(&mut s, "]");
    s.send_line("").unwrap();
    // The lab bot's tbot.yaml is offered; a file that is not a tbot configuration is refused.
    expect(&mut s, "tbot.yaml of this bot");
    let offered = plain(&expect(&mut s, "]"));
    assert!(offered.contains(&config.display().to_string()), "{offered}");
    s.send_line(log.display().to_string()).unwrap();
    let refused = plain(&expect(&mut s, "try again"));
    assert!(refused.contains("is not a tbot configuration"), "{refused}");
    expect(&mut s, "tbot.yaml of this bot");
    expect(&mut s, "]");
    s.send_line("").unwrap();
    let diagnosis = expect(&mut s, "Recovery to run");
    assert!(diagnosis.contains("locks in force: 1"), "{diagnosis}");
    assert!(diagnosis.contains("log: S1"), "{diagnosis}");
    assert!(diagnosis.contains("This looks like S1"), "{diagnosis}");
    s.send("\r").unwrap();
    expect(&mut s, "Command that restarts tbot");
    s.send_line("").unwrap();
    expect(&mut s, "Wait for tbot to come back");
    s.send_line("").unwrap();
    let plan = expect(&mut s, "Apply this plan?");
    assert!(plan.contains("stolen certificate"), "{plan}");
    assert!(plan.contains("2. Remove lock"), "{plan}");
    assert!(
        plan.contains("Write the token into onboarding.token"),
        "{plan}"
    );
    // The time spent answering is not the run's.
    std::thread::sleep(Duration::from_millis(2500));
    s.send("y").unwrap();
    let result = expect(&mut s, "Journal:");
    let took = plain(&expect(&mut s, " ms executing"));
    let ms: u64 = took.rsplit(' ').next().unwrap().parse().expect(&took);
    assert!(ms < 2500, "{took}");
    // Each step once: the progress lines go away, the summary stays.
    assert_eq!(
        plain(&result).matches("Removed lock").count(),
        1,
        "{result}"
    );
    assert!(
        result.contains("Fixed on the server: bot \"example\""),
        "{result}"
    );
    assert!(result.contains("Removed lock"), "{result}");
    assert!(result.contains("restart tbot"), "{result}");
    s.expect(Eof).expect("the wizard ends");

    assert_eq!(bot_user_locks(&lab, "example"), 0);
    let token = config_token(&config);
    assert_eq!(token.len(), 32, "a new token is in tbot.yaml: {token}");
}

#[test]
fn wizard_quits_without_changing_anything() {
    let lab = Lab::start();
    break_bot(&lab, "generation-mismatch", "example", &[]);
    let mut s = spawn(&lab, &["recover", "example"], &[], 30);
    to_recovery_choice(&mut s);
    // Down four times to "Quit".
    for _ in 0..4 {
        s.send("\x1b[B").unwrap();
    }
    s.send("\r").unwrap();
    expect(&mut s, "nothing was changed");
    s.expect(Eof).expect("the wizard ends");
    assert_eq!(bot_user_locks(&lab, "example"), 1);
}

#[test]
fn esc_cancels_the_wizard_without_changes() {
    let lab = Lab::start();
    break_bot(&lab, "generation-mismatch", "example", &[]);
    let mut s = spawn(&lab, &["recover", "example"], &[], 30);
    to_recovery_choice(&mut s);
    s.send("\x1b").unwrap();
    expect(&mut s, "canceled, no changes made");
    s.expect(Eof).expect("the wizard ends");
    let status = format!("{:?}", s.get_process().wait().expect("exit status"));
    assert!(
        status.starts_with("Exited(") && !status.ends_with(", 0)"),
        "{status}"
    );
    assert_eq!(bot_user_locks(&lab, "example"), 1);
}

#[test]
fn lab_break_on_a_terminal_shows_progress_on_one_transient_line() {
    let lab = Lab::start();
    let mut s = spawn(
        &lab,
        &["lab", "break", "generation-mismatch", "--bot", "example"],
        &[],
        60,
    );
    // Before the summary, the steps were redrawn on one line, never printed one per line.
    let progress = expect(&mut s, "did:");
    assert!(progress.matches('\n').count() <= 1, "{progress:?}");
    let summary = plain(&expect(&mut s, "took "));
    assert!(
        summary.lines().filter(|l| l.starts_with("  - ")).count() >= 2,
        "{summary}"
    );
    s.expect(Eof).expect("lab break ends");
}

#[test]
fn esc_at_the_confirmation_declines_the_plan() {
    let lab = Lab::start();
    break_bot(&lab, "generation-mismatch", "example", &[]);
    let mut s = spawn(
        &lab,
        &["recover", "generation-mismatch", "--bot", "example"],
        &[],
        30,
    );
    expect(&mut s, "Apply this plan?");
    s.send("\x1b").unwrap();
    expect(&mut s, "nothing was changed");
    s.expect(Eof).expect("recover ends");
    let status = format!("{:?}", s.get_process().wait().expect("exit status"));
    assert!(
        status.starts_with("Exited(") && !status.ends_with(", 0)"),
        "{status}"
    );
    assert_eq!(bot_user_locks(&lab, "example"), 1);
}

/// S10 and S11 through the wizard, as an admin answers it: `lab break SCENARIO` (in its default
/// directory, whose files the wizard offers), the wizard's defaults for the log, tbot.yaml and
/// storage, the suggested recovery, a typed restart command and wait; the plan names the incident
/// and holds `step`; then the server state `bk_incidents` checks after the unattended recover.
fn wizard_recovers_bound_keypair(scenario: &str, id: &str, step: &str) {
    let lab = Lab::start();
    let broke = run(&mut lab.cmd(&[
        "lab", "break", scenario, "--bot", "example", "--format", "json",
    ]));
    assert_eq!(broke.code, 0, "{}", broke.stderr);
    let json: serde_json::Value = serde_json::from_str(&broke.stdout).expect("break JSON");
    let before = created_modes(&json);
    let dir = lab.home().join("lab-bots/example");
    let restart = format!(
        "{BIN} lab bot -c {} --oneshot",
        dir.join("tbot.yaml").display()
    );
    let mut s = spawn(&lab, &["recover", "example"], &[("COLUMNS", "400")], 30);

    let diagnosis = to_recovery_choice(&mut s);
    assert!(
        diagnosis.contains(&format!("This looks like {id}")),
        "{diagnosis}"
    );
    s.send("\r").unwrap();
    expect(&mut s, "tbot's storage directory");
    let offered = plain(&expect(&mut s, "]"));
    assert!(offered.contains(&dir.display().to_string()), "{offered}");
    s.send_line("").unwrap();
    expect(&mut s, "Command that restarts tbot");
    s.send_line(&restart).unwrap();
    expect(&mut s, "Wait for tbot to come back");
    s.send_line("30s").unwrap();
    let plan = plain(&expect(&mut s, "Apply this plan?"));
    assert!(
        plan.contains(&format!("Incident {id} on bot \"example\"")),
        "{plan}"
    );
    assert!(plan.contains(step), "{plan}");
    s.send("y").unwrap();
    let result = plain(&expect(&mut s, "Journal:"));
    // S10 ends "Fixed on the server" (its wait is a step), S11 "Recovered" (it verifies).
    let verdict = ["Fixed on the server", "Recovered"]
        .map(|v| format!("{v}: bot \"example\", "))
        .into_iter()
        .any(|v| result.contains(&v));
    assert!(verdict && result.contains(&format!("({id})")), "{result}");
    s.expect(Eof).expect("the wizard ends");
    let status = format!("{:?}", s.get_process().wait().expect("exit status"));
    assert!(
        status.starts_with("Exited(") && status.ends_with(", 0)"),
        "{status}: {result}"
    );

    recovered(&lab, &json, &["example"], &before);
}

#[test]
fn wizard_recovers_a_wiped_bound_keypair_token_under_a_terminal() {
    wizard_recovers_bound_keypair("bk-token-wiped", "S10", "in mode insecure for one join");
}

#[test]
fn wizard_recovers_a_bound_keypair_bot_whose_storage_was_wiped_under_a_terminal() {
    wizard_recovers_bound_keypair(
        "bk-keypair-lost",
        "S11",
        "Create a fresh bound-keypair token",
    );
}

//! The interactive wizard `mwictl recover` driven under a pseudo-terminal: pick the locked bot,
//! point it at the tbot log and tbot.yaml, accept the S1 suggestion and the plan, read the result.

use std::process::Command;
use std::time::Duration;

use expectrl::{Eof, Session};

use crate::harness::{BIN, Lab};
use crate::recover::{bot_user_locks, break_bot, config_token};

/// Waits for `needle` on the terminal, failing with what was on screen.
fn expect(session: &mut Session, needle: &str) -> String {
    match session.expect(needle) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("waiting for {needle:?}: {e}"),
    }
}

#[test]
fn wizard_recovers_a_locked_bot_under_a_terminal() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    // A healthy second bot, so the wizard has a choice to make.
    break_bot(&lab, "ssh-login", "other", &[]);
    let config = dir.join("tbot.yaml");
    let log = dir.join("tbot.log");
    let mut command = Command::new(BIN);
    command
        .arg("recover")
        .env("MWICTL_HOME", lab.home())
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE");
    let mut s = Session::spawn(command).expect("spawn mwictl under a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));

    let picker = expect(&mut s, "Which bot?");
    let _ = picker;
    let list = expect(&mut s, "other");
    assert!(list.contains("example"), "{list}");
    // The locked bot is the default choice.
    s.send("\r").unwrap();
    expect(&mut s, "tbot log to read");
    s.send_line(log.display().to_string()).unwrap();
    expect(&mut s, "tbot.yaml of this bot");
    s.send_line(config.display().to_string()).unwrap();
    let diagnosis = expect(&mut s, "Which recovery?");
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
    s.send("y").unwrap();
    let result = expect(&mut s, "Journal:");
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
    let mut command = Command::new(BIN);
    command
        .args(["recover", "example"])
        .env("MWICTL_HOME", lab.home())
        .env("TERM", "xterm")
        .env_remove("TELEPORT_AUTH_SERVER")
        .env_remove("TELEPORT_IDENTITY_FILE");
    let mut s = Session::spawn(command).expect("spawn mwictl under a pty");
    s.set_expect_timeout(Some(Duration::from_secs(30)));
    expect(&mut s, "tbot log to read");
    s.send_line("").unwrap();
    expect(&mut s, "tbot.yaml of this bot");
    s.send_line("").unwrap();
    expect(&mut s, "Which recovery?");
    // Down four times to "Quit".
    for _ in 0..4 {
        s.send("\x1b[B").unwrap();
    }
    s.send("\r").unwrap();
    expect(&mut s, "nothing was changed");
    s.expect(Eof).expect("the wizard ends");
    assert_eq!(bot_user_locks(&lab, "example"), 1);
}

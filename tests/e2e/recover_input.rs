//! What `mwictl recover FLOW` accepts and says: a `--tbot-config` that is not a tbot
//! configuration is refused before any token exists, a rerun may name another one, the summary
//! of a verified run, and a plan for a bot that does not show the incident.

use crate::harness::{BIN, Lab, run};
use crate::recover::{bot_tokens, bot_user_locks, break_bot, config_token};

#[test]
fn a_file_that_is_not_a_tbot_config_is_refused_before_any_token_is_issued() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let tokens_before = bot_tokens(&lab, "example");
    let cases = [
        (
            "script.sh",
            "#!/bin/sh\nexec tbot start\n",
            "a YAML mapping",
        ),
        ("list.yaml", "- version\n- onboarding\n", "a YAML mapping"),
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
            "a YAML mapping",
        ),
        (
            "partial.yaml",
            "version: v2\nonboarding:\n  token: x\n",
            "no storage, no services or outputs, no proxy_server or auth_server",
        ),
    ];
    for (name, text, named) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let path_arg = path.display().to_string();
        let out = run(&mut lab.cmd(&[
            "recover",
            "generation-mismatch",
            "--bot",
            "example",
            "--tbot-config",
            &path_arg,
            "--yes",
        ]));
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains("is not a tbot configuration") && out.stderr.contains(named),
            "{name}: {}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}");
        assert_eq!(bot_tokens(&lab, "example"), tokens_before, "{name}");
        assert_eq!(bot_user_locks(&lab, "example"), 1, "{name}");
    }
}

#[test]
fn after_the_tbot_yaml_step_failed_a_rerun_may_name_another_tbot_config() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let good = dir.join("tbot.yaml");
    // A tbot configuration whose token the writer will not edit (a block scalar).
    let text = std::fs::read_to_string(&good).unwrap();
    let odd: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                "  token: |\n    old\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let odd_path = dir.join("odd.yaml");
    std::fs::write(&odd_path, &odd).unwrap();
    let recover = |config: &std::path::Path| {
        run(&mut lab.cmd(&[
            "recover",
            "generation-mismatch",
            "--bot",
            "example",
            "--tbot-config",
            config.to_str().unwrap(),
            "--yes",
        ]))
    };
    let failed = recover(&odd_path);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("run the same command again with another --tbot-config"),
        "{}",
        failed.stderr
    );
    assert_eq!(bot_tokens(&lab, "example").len(), 1);
    let again = recover(&good);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("continues with --tbot-config"),
        "{}",
        again.stderr
    );
    assert_eq!(config_token(&good), bot_tokens(&lab, "example")[0]);
    assert_eq!(std::fs::read_to_string(&odd_path).unwrap(), odd);
    // Not verified yet (no --wait): not ticked, and the restart is still to do.
    assert!(
        again.stdout.contains("… 5. Verify: pending"),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("restart tbot"), "{}", again.stdout);
    assert!(
        again.stderr.contains("[5/5] … 5. Verify: pending"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_verified_run_ticks_the_verification_and_asks_no_restart() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "expired", "exp", &[]);
    let config = dir.join("tbot.yaml");
    let restart = format!("{BIN} lab bot -c {} --oneshot", config.display());
    let out = run(&mut lab.cmd(&[
        "recover",
        "expired",
        "--bot",
        "exp",
        "--tbot-config",
        config.to_str().unwrap(),
        "--restart-cmd",
        &restart,
        "--wait",
        "30s",
        "--yes",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("✓ 5. Verify: verified"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("restart tbot"), "{}", out.stdout);
    assert!(out.stdout.contains("ms executing)"), "{}", out.stdout);
}

#[test]
fn expired_on_a_healthy_bot_says_what_was_found() {
    let lab = Lab::start();
    // ssh-login leaves the bot joined with a valid identity.
    break_bot(&lab, "ssh-login", "fine", &[]);
    let out = run(&mut lab.cmd(&["recover", "expired", "--bot", "fine", "--plan"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let headline = out.stdout.lines().next().unwrap_or_default();
    assert!(
        headline.starts_with("Bot \"fine\" does not show incident S2")
            && headline.contains("still hold a valid identity"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Incident S2 on bot"), "{}", out.stdout);
}

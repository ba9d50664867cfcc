//! `mwictl recover FLOW`: each unattended flow against the lab, with the incident caused for real
//! by `mwictl lab break` (lab bot agents), then the server state checked over gRPC.

use std::path::{Path, PathBuf};

use mwi_proto::proto::GetLocksRequest;
use mwi_proto::types::{LockTarget, ResourceRequest};

use crate::harness::{BIN, Lab, closed_port, mwictl_cmd, run, snapshot_settings};

/// Causes `scenario` for `bot` with lab bot agents; returns the bot's working dir (tbot.yaml,
/// tbot.log, data/).
pub fn break_bot(lab: &Lab, scenario: &str, bot: &str, extra: &[&str]) -> PathBuf {
    let dir = lab.root().join(format!("bot-{bot}"));
    let dir_text = dir.display().to_string();
    let mut args = vec!["lab", "break", scenario, "--bot", bot, "--dir", &dir_text];
    args.extend_from_slice(extra);
    let out = run(&mut lab.cmd(&args));
    assert_eq!(
        out.code, 0,
        "lab break {scenario}: {}\n{}",
        out.stdout, out.stderr
    );
    dir
}

/// The in-force locks that target the bot's user or role.
pub fn bot_user_locks(lab: &Lab, bot: &str) -> usize {
    let user = format!("bot-{bot}");
    lab.admin(async |mut c| {
        let targets = vec![
            LockTarget {
                user: user.clone(),
                ..Default::default()
            },
            LockTarget {
                role: user.clone(),
                ..Default::default()
            },
        ];
        c.get_locks(GetLocksRequest {
            targets,
            in_force_only: true,
        })
        .await
        .expect("get locks")
        .into_inner()
        .locks
        .len()
    })
}

/// Names of the unexpired join tokens of `bot`.
pub fn bot_tokens(lab: &Lab, bot: &str) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    lab.admin(async |mut c| {
        c.get_tokens(())
            .await
            .expect("get tokens")
            .into_inner()
            .provision_tokens
            .into_iter()
            .filter(|t| t.spec.as_ref().is_some_and(|s| s.bot_name == bot))
            .filter(|t| {
                t.metadata
                    .as_ref()
                    .and_then(|m| m.expires.as_ref())
                    .is_none_or(|e| e.seconds > now)
            })
            .filter_map(|t| t.metadata.map(|m| m.name))
            .collect()
    })
}

/// Whether the token exists on the server.
pub fn token_exists(lab: &Lab, name: &str) -> bool {
    lab.admin(async |mut c| {
        c.get_token(ResourceRequest { name: name.into() })
            .await
            .is_ok()
    })
}

/// The value of `onboarding.token` in a tbot.yaml.
pub fn config_token(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read tbot.yaml");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
    doc["onboarding"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// Asserts `new` differs from `old` only in the token's bytes, on one line.
pub fn only_the_token_changed(old: &str, new: &str, token: &str) {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    assert_eq!(old_lines.len(), new_lines.len(), "line count changed");
    let changed: Vec<(&str, &str)> = old_lines
        .iter()
        .zip(&new_lines)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (*a, *b))
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (a, b) = changed[0];
    let old_token = a.trim().trim_start_matches("token:").trim();
    assert_eq!(a.replace(old_token, token), b, "only the token differs");
}

/// `mwictl recover ...` as a JSON result.
pub fn recover_json(lab: &Lab, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["recover"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&mut lab.cmd(&all));
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, json, out.stderr)
}

fn kinds(json: &serde_json::Value) -> Vec<String> {
    json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn generation_mismatch_unlocks_issues_a_token_and_rewrites_only_the_token() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let config = dir.join("tbot.yaml");
    let before = std::fs::read_to_string(&config).unwrap();
    assert_eq!(bot_user_locks(&lab, "example"), 1);
    let config_arg = config.display().to_string();
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "generation-mismatch",
            "--bot",
            "example",
            "--tbot-config",
            &config_arg,
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        kinds(&json),
        [
            "show_evidence",
            "remove_locks",
            "issue_token",
            "update_tbot_config",
            "verify"
        ]
    );
    assert_eq!(json["state"], "finished");
    assert_eq!(json["verification"]["state"], "pending");
    assert_eq!(bot_user_locks(&lab, "example"), 0);
    let token = json["created"]["token"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token_exists(&lab, &token));
    let after = std::fs::read_to_string(&config).unwrap();
    only_the_token_changed(&before, &after, &token);
    assert_eq!(config_token(&config), token);
    let backups: Vec<String> = json["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    let lock_backup = std::fs::read_to_string(&backups[0]).unwrap();
    assert!(lock_backup.contains("kind: lock") && lock_backup.contains("bot-example"));
    assert_eq!(std::fs::read_to_string(&backups[1]).unwrap(), before);
    let journal = PathBuf::from(json["journal"].as_str().unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the journal holds the token");
    assert!(stderr.contains("stolen certificate"), "{stderr}");
}

#[test]
fn generation_mismatch_with_restart_and_wait_sees_the_new_instance() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let config = dir.join("tbot.yaml");
    let restart = format!(
        "{BIN} lab bot -c {} --oneshot --log-file {}",
        config.display(),
        dir.join("restart.log").display()
    );
    let config_arg = config.display().to_string();
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "generation-mismatch",
            "--bot",
            "example",
            "--tbot-config",
            &config_arg,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json["verification"]["state"], "verified", "{json:#}");
    let instance = &json["created"]["bot_instance"];
    assert!(instance["generation"].as_i64().unwrap() >= 1);
    assert!(!instance["id"].as_str().unwrap().is_empty());
    assert!(json["rpc_count"].as_u64().unwrap() > 0);
    // The one-time token was spent by the join.
    let token = json["created"]["token"]["name"].as_str().unwrap();
    assert!(!token_exists(&lab, token));
}

#[test]
fn generation_mismatch_on_a_newer_teleport_removes_the_instance_lock() {
    let lab = Lab::start_with(&["--lock-style", "instance"]);
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let config = dir.join("tbot.yaml").display().to_string();
    let plan = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--plan",
        "--format",
        "json",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let target = plan["steps"][1]["locks"][0]["target"].as_str().unwrap();
    assert!(target.starts_with("BotInstanceID:"), "{target}");
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "generation-mismatch",
            "--bot",
            "example",
            "--tbot-config",
            &config,
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json["steps"][1]["output"]["removed"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let again = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--plan",
    ]));
    assert!(
        again.stdout.contains("no lock in force blocks"),
        "{}",
        again.stdout
    );
}

#[test]
fn expired_issues_a_token_and_the_restarted_bot_joins() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "expired", "exp", &[]);
    let config = dir.join("tbot.yaml");
    let restart = format!("{BIN} lab bot -c {} --oneshot", config.display());
    let config_arg = config.display().to_string();
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "expired",
            "--bot",
            "exp",
            "--tbot-config",
            &config_arg,
            "--restart-cmd",
            &restart,
            "--wait",
            "30s",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        kinds(&json),
        [
            "show_evidence",
            "issue_token",
            "update_tbot_config",
            "run_restart",
            "verify"
        ]
    );
    assert_eq!(json["verification"]["state"], "verified", "{json:#}");
    assert_eq!(json["created"]["bot_instance"]["generation"], 1);
}

/// Right after the identity expired (its record lives five minutes longer), every view agrees:
/// `bots ls` (the wizard's picker reads the same overview), `bots show` and `recover --plan`.
#[test]
fn an_expired_bot_is_not_live_in_bots_ls_show_or_recover() {
    let lab = Lab::start();
    break_bot(&lab, "expired", "exp", &[]);
    let ls = run(&mut lab.cmd(&["bots", "ls", "--format", "json"]));
    assert_eq!(ls.code, 0, "{}", ls.stderr);
    let ls: serde_json::Value = serde_json::from_str(&ls.stdout).unwrap();
    let exp = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "exp")
        .expect("bot exp listed");
    assert_eq!(exp["live_instances"], 0, "{exp:#}");
    assert_eq!(exp["status"], "no_live_instance", "{exp:#}");
    let show = run(&mut lab.cmd(&["bots", "show", "exp", "--format", "json"]));
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(show["live_instances"], 0, "{show:#}");
    assert_eq!(show["status"], "no_live_instance", "{show:#}");
    let text = run(&mut lab.cmd(&["bots", "ls"]));
    assert!(text.stdout.contains("0/1"), "{}", text.stdout);
    let plan = run(&mut lab.cmd(&["recover", "expired", "--bot", "exp", "--plan"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains("holds a valid identity"),
        "{}",
        plan.stdout
    );
}

#[test]
fn ssh_login_adds_the_login_to_the_role_and_the_bot_may_log_in() {
    let lab = Lab::start();
    break_bot(&lab, "ssh-login", "sshbot", &["--login", "bob"]);
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "ssh-login",
            "--bot",
            "sshbot",
            "--login",
            "bob",
            "--role",
            "access-sshbot",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(kinds(&json), ["show_evidence", "update_role", "verify"]);
    assert_eq!(json["verification"]["state"], "verified");
    let logins = lab.admin(async |mut c| {
        c.get_role(mwi_proto::proto::GetRoleRequest {
            name: "access-sshbot".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .spec
        .unwrap()
        .allow
        .unwrap()
        .logins
    });
    assert_eq!(logins, ["alice", "bob"]);
    assert!(
        stderr.contains("role \"access-sshbot\" grants alice"),
        "{stderr}"
    );
    let can = run(&mut lab.cmd(&["bots", "can", "sshbot", "ssh", "bob"]));
    assert_eq!(can.code, 0, "{}", can.stdout);
}

#[test]
fn breaking_one_lab_bot_leaves_a_recovered_one_fixed() {
    let lab = Lab::start();
    break_bot(&lab, "ssh-login", "first", &["--login", "bob"]);
    let (code, _, stderr) = recover_json(
        &lab,
        &["ssh-login", "--bot", "first", "--login", "bob", "--yes"],
    );
    assert_eq!(code, 0, "{stderr}");
    // Each lab bot has its own role, so this break resets only the second bot's.
    break_bot(&lab, "ssh-login", "second", &["--login", "bob"]);
    let first = run(&mut lab.cmd(&["bots", "can", "first", "ssh", "bob"]));
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let second = run(&mut lab.cmd(&["bots", "can", "second", "ssh", "bob"]));
    assert_eq!(second.code, 1, "{}{}", second.stdout, second.stderr);
}

#[test]
fn ssh_login_on_an_allowed_login_changes_nothing() {
    let lab = Lab::start();
    break_bot(&lab, "ssh-login", "sshbot", &["--login", "bob"]);
    let (code, json, stderr) = recover_json(
        &lab,
        &["ssh-login", "--bot", "sshbot", "--login", "alice", "--yes"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(kinds(&json), ["show_evidence", "verify"]);
}

#[test]
fn db_access_adds_the_rule_and_grants_and_the_bot_sees_the_database() {
    let lab = Lab::start();
    break_bot(&lab, "db-access", "dbbot", &[]);
    let missing_labels = run(&mut lab.cmd(&[
        "recover",
        "db-access",
        "--bot",
        "dbbot",
        "--db",
        "example",
        "--role",
        "access-dbbot",
        "--yes",
    ]));
    assert_eq!(missing_labels.code, 2, "{}", missing_labels.stderr);
    assert!(
        missing_labels.stderr.contains("--db-labels"),
        "{}",
        missing_labels.stderr
    );
    let (code, json, stderr) = recover_json(
        &lab,
        &[
            "db-access",
            "--bot",
            "dbbot",
            "--db",
            "example",
            "--db-user",
            "alice",
            "--db-labels",
            "env=dev",
            "--role",
            "access-dbbot",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(kinds(&json), ["show_evidence", "update_role", "verify"]);
    assert_eq!(json["verification"]["state"], "verified", "{json:#}");
    let allow = lab.admin(async |mut c| {
        c.get_role(mwi_proto::proto::GetRoleRequest {
            name: "access-dbbot".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .spec
        .unwrap()
        .allow
        .unwrap()
    });
    assert!(
        allow
            .rules
            .iter()
            .any(|r| r.resources.contains(&"db_server".to_string()))
    );
    assert_eq!(allow.database_users, ["alice"]);
    assert!(stderr.contains("+"), "the plan shows the diff: {stderr}");
}

#[test]
fn without_a_terminal_and_without_yes_it_refuses_at_once_naming_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let addr = closed_port();
    for args in [
        vec![
            "recover",
            "generation-mismatch",
            "--bot",
            "x",
            "--auth-server",
            &addr,
            "-i",
            "/none",
        ],
        vec![
            "recover",
            "expired",
            "--bot",
            "x",
            "--auth-server",
            &addr,
            "-i",
            "/none",
        ],
        vec![
            "recover",
            "ssh-login",
            "--bot",
            "x",
            "--login",
            "y",
            "--auth-server",
            &addr,
            "-i",
            "/none",
        ],
    ] {
        let started = std::time::Instant::now();
        let out = run(&mut mwictl_cmd(home.path(), &args));
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains("--yes"), "{}", out.stderr);
        assert!(out.stderr.contains("not a terminal"), "{}", out.stderr);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    let wizard = run(&mut mwictl_cmd(home.path(), &["recover", "example"]));
    assert_eq!(wizard.code, 2);
    assert!(
        wizard.stderr.contains("needs a terminal"),
        "{}",
        wizard.stderr
    );
    assert!(wizard.stderr.contains("--yes"), "{}", wizard.stderr);
}

#[test]
fn plan_prints_the_numbered_steps_and_changes_nothing() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let config = dir.join("tbot.yaml");
    let before = std::fs::read_to_string(&config).unwrap();
    let config_arg = config.display().to_string();
    let out = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--tbot-config",
        &config_arg,
        "--restart-cmd",
        "systemctl restart tbot",
        "--plan",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(bot_user_locks(&lab, "example"), 1);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    let text = lab.redact(&out.stdout);
    let mut settings = snapshot_settings();
    settings.add_filter(r"host \S+ generation", "host [HOST] generation");
    settings.bind(|| insta::assert_snapshot!("recover_generation_mismatch_plan", text));
}

#[test]
fn an_unfinished_run_with_other_options_is_not_mixed_up() {
    let lab = Lab::start();
    let dir = break_bot(&lab, "generation-mismatch", "example", &[]);
    let config = dir.join("tbot.yaml").display().to_string();
    let mut first = lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--tbot-config",
        &config,
        "--yes",
    ]);
    first.env(crate::recover_resume::CRASH_ENV, "2");
    let crashed = run(&mut first);
    assert_ne!(crashed.code, 0);
    let other = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--yes",
    ]));
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains("--new-run"), "{}", other.stderr);
    let fresh = run(&mut lab.cmd(&[
        "recover",
        "generation-mismatch",
        "--bot",
        "example",
        "--yes",
        "--new-run",
    ]));
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    assert!(
        fresh.stderr.contains("abandoned the unfinished run"),
        "{}",
        fresh.stderr
    );
}

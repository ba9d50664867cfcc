//! `mwictl bots can NAME ssh|db` against the lab: yes and no answers with the granting role or
//! the missing piece, fixes that turn a no into a yes, and agreement with what the lab itself
//! issues to a bot (the S4 "database not found" incident, reproduced with the lab bot agent).

use std::collections::BTreeMap;
use std::path::Path;

use mwi_proto::types::{RoleConditions, Rule};
use mwi_testkit::fixtures::role_allowing;

use crate::harness::{Lab, Run, run, snapshot_settings};
use crate::roles::{create_bot, create_token, labels, strings, upsert_role};

/// Role `access` (logins ubuntu and the bot's `logins` trait, nodes env=prod) and bot `example`
/// with the trait logins=deploy.
fn ssh_setup(lab: &Lab) {
    upsert_role(
        lab,
        role_allowing(
            "access",
            RoleConditions {
                logins: strings(&["ubuntu", "{{internal.logins}}"]),
                node_labels: labels(&[("env", "prod")]),
                ..Default::default()
            },
        ),
    );
    create_bot(lab, "example", &["access"], &[("logins", &["deploy"])]);
}

fn json(out: &Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

#[test]
fn ssh_login_from_the_bots_trait_is_a_yes_naming_the_role() {
    let lab = Lab::start();
    ssh_setup(&lab);
    let out = run(&mut lab.cmd(&["bots", "can", "example", "ssh", "deploy"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("bots_can_ssh_yes", out.stdout));
}

#[test]
fn ssh_login_no_role_grants_is_a_no_with_the_missing_piece_and_fix() {
    let lab = Lab::start();
    ssh_setup(&lab);
    let out = run(&mut lab.cmd(&["bots", "can", "example", "ssh", "root"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    snapshot_settings().bind(|| insta::assert_snapshot!("bots_can_ssh_no", out.stdout));
    let answer =
        json(&run(&mut lab.cmd(&[
            "bots", "can", "example", "ssh", "root", "--format", "json",
        ])));
    assert_eq!(answer["allowed"], false);
    assert_eq!(answer["by_role"], serde_json::Value::Null);
    assert_eq!(
        answer["missing"],
        "no role of bot \"example\" allows login \"root\": roles access (logins ubuntu, deploy)"
    );
    assert_eq!(
        answer["fix_command"],
        "mwictl bots update example --add-logins root"
    );
    assert_eq!(
        answer["roles"],
        serde_json::json!([{"role": "access", "logins": ["ubuntu", "deploy"]}])
    );
}

/// Runs a fix command as printed (`mwictl roles ...`), answering yes.
fn run_fix(lab: &Lab, fix: &str) -> Run {
    let words: Vec<&str> = fix.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"mwictl"), "{fix}");
    let mut args = words[1..].to_vec();
    args.push("--yes");
    run(&mut lab.cmd(&args))
}

#[test]
fn the_suggested_role_fix_turns_an_ssh_no_into_a_yes() {
    let lab = Lab::start();
    upsert_role(
        &lab,
        role_allowing(
            "ops",
            RoleConditions {
                logins: strings(&["ubuntu"]),
                ..Default::default()
            },
        ),
    );
    create_bot(&lab, "ops-bot", &["ops"], &[]);
    let before =
        json(&run(&mut lab.cmd(&[
            "bots", "can", "ops-bot", "ssh", "root", "--format", "json",
        ])));
    let fix = before["fix_command"].as_str().expect("a fix");
    assert_eq!(fix, "mwictl roles add-login ops root");
    let fixed = run_fix(&lab, fix);
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    let after = run(&mut lab.cmd(&["bots", "can", "ops-bot", "ssh", "root", "--format", "json"]));
    assert_eq!(after.code, 0, "{}", after.stderr);
    let after = json(&after);
    assert_eq!(after["allowed"], true);
    assert_eq!(after["by_role"], "ops");
    assert_eq!(after["detail"], "role \"ops\" allows login \"root\"");
}

#[test]
fn asking_about_a_missing_bot_is_not_found() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["bots", "can", "ghost", "ssh", "root"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: bot \"ghost\" not found\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_role_the_bot_names_but_that_does_not_exist_is_the_answer() {
    let lab = Lab::start();
    ssh_setup(&lab);
    lab.admin(async |mut c| {
        c.delete_role(mwi_proto::proto::DeleteRoleRequest {
            name: "access".into(),
        })
        .await
        .expect("delete role");
    });
    let out = run(&mut lab.cmd(&["bots", "can", "example", "ssh", "deploy"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "  FAIL roles: role \"access\" of bot \"example\" does not exist, so tbot's outputs fail"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  fix: mwictl bots update example --remove-roles access\n"),
        "{}",
        out.stdout
    );
}

/// The lab bot agent, once (`--oneshot`), with a database output for `example` as user reader
/// with role db-reader (the lab agent does not look the bot's roles up).
fn run_agent(lab: &Lab, token: &str, dir: &Path) -> Run {
    std::fs::create_dir_all(dir).expect("agent dir");
    let config = dir.join("tbot.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v2\n\
             onboarding:\n  token: {token}\n  join_method: token\n\
             storage:\n  type: directory\n  path: {storage}\n\
             services:\n  - type: database\n    service: example\n    database: app\n    \
             username: reader\n    roles: [db-reader]\n    destination:\n      type: directory\n      path: {out}\n",
            storage = dir.join("bot").display(),
            out = dir.join("db-out").display(),
        ),
    )
    .expect("write tbot.yaml");
    let config = config.display().to_string();
    run(&mut lab.cmd(&["lab", "bot", "-c", &config, "--oneshot"]))
}

#[test]
fn database_answers_match_what_the_lab_issues_before_and_after_the_fix() {
    let lab = Lab::start();
    let prod: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
    mwi_auth::lab::seed_database(&lab.root().join("lab"), "example", prod).expect("seed db");
    // S4: the role names the database user but has neither the rule nor db_labels.
    upsert_role(
        &lab,
        role_allowing(
            "db-reader",
            RoleConditions {
                database_users: strings(&["reader"]),
                ..Default::default()
            },
        ),
    );
    create_bot(&lab, "dbbot", &["db-reader"], &[]);
    let ask = [
        "bots",
        "can",
        "dbbot",
        "db",
        "example",
        "--db-user",
        "reader",
        "--db-labels",
        "env=prod",
    ];

    let no = run(&mut lab.cmd(&ask));
    assert_eq!(no.code, 1, "{}", no.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("bots_can_db_no", no.stdout));
    create_token(&lab, "dbbot", "token-before-fix");
    let agent = run_agent(&lab, "token-before-fix", &lab.root().join("agent-1"));
    assert_eq!(agent.code, 1, "the lab refuses too: {}", agent.stderr);
    assert!(
        agent.stderr.contains("database \"example\" not found"),
        "{}",
        agent.stderr
    );

    let mut json_ask = ask.to_vec();
    json_ask.extend(["--format", "json"]);
    let answer = json(&run(&mut lab.cmd(&json_ask)));
    let fix = answer["fix_command"].as_str().expect("a fix");
    assert_eq!(
        fix,
        "mwictl roles add-db-access db-reader --db-labels env=prod"
    );
    let fixed = run_fix(&lab, fix);
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);

    let yes = run(&mut lab.cmd(&ask));
    assert_eq!(yes.code, 0, "{}", yes.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("bots_can_db_yes", yes.stdout));
    create_token(&lab, "dbbot", "token-after-fix");
    let agent = run_agent(&lab, "token-after-fix", &lab.root().join("agent-2"));
    assert_eq!(agent.code, 0, "the lab issues it now: {}", agent.stderr);
}

#[test]
fn database_labels_not_given_are_reported_as_not_checked() {
    let lab = Lab::start();
    upsert_role(
        &lab,
        role_allowing(
            "db-all",
            RoleConditions {
                rules: vec![Rule {
                    resources: strings(&["db_server", "db"]),
                    verbs: strings(&["read", "list"]),
                    ..Default::default()
                }],
                database_labels: labels(&[("env", "prod")]),
                database_users: strings(&["*"]),
                ..Default::default()
            },
        ),
    );
    create_bot(&lab, "dbbot", &["db-all"], &[]);
    let out = run(&mut lab.cmd(&[
        "bots",
        "can",
        "dbbot",
        "db",
        "pg",
        "--db-user",
        "anyone",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let answer = json(&out);
    assert_eq!(answer["allowed"], true);
    assert_eq!(answer["by_role"], "db-all");
    let labels_check = answer["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["check"] == "db_labels")
        .expect("a db_labels check");
    assert_eq!(labels_check["outcome"], "not_checked");
}

#[test]
fn a_deny_on_the_database_user_wins_and_points_at_the_role() {
    let lab = Lab::start();
    let mut r = role_allowing(
        "db-all",
        RoleConditions {
            rules: vec![Rule {
                resources: strings(&["*"]),
                verbs: strings(&["*"]),
                ..Default::default()
            }],
            database_labels: labels(&[("*", "*")]),
            database_users: strings(&["*"]),
            ..Default::default()
        },
    );
    if let Some(spec) = r.spec.as_mut() {
        spec.deny = Some(RoleConditions {
            database_labels: labels(&[("*", "*")]),
            database_users: strings(&["postgres"]),
            ..Default::default()
        });
    }
    upsert_role(&lab, r);
    create_bot(&lab, "dbbot", &["db-all"], &[]);
    let out = run(&mut lab.cmd(&["bots", "can", "dbbot", "db", "pg", "--db-user", "postgres"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "  FAIL db_users: role \"db-all\" denies database user \"postgres\" (deny.db_users)\n  \
             fix: mwictl edit role/db-all\n"
        ),
        "{}",
        out.stdout
    );
}

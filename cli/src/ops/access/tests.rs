//! The access checks against roles built here: SSH and database answers, denies over allows,
//! templates, label selectors and the quoting of the fixes they suggest.

use super::eval::*;
use super::templates::*;
use super::*;
use crate::shell::shell_word;
use mwi_proto::types::{Metadata, RoleSpecV6};
use mwi_proto::types::{RoleConditions, RoleV6, Rule};
use mwi_proto::wrappers::LabelValues;
use mwi_proto::wrappers::StringValues;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn labels(pairs: &[(&str, &[&str])]) -> Option<LabelValues> {
    Some(LabelValues {
        values: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), StringValues { values: strings(v) }))
            .collect(),
    })
}

fn rule(resources: &[&str], verbs: &[&str]) -> Rule {
    Rule {
        resources: strings(resources),
        verbs: strings(verbs),
        ..Default::default()
    }
}

fn role(name: &str, allow: RoleConditions, deny: RoleConditions) -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            allow: Some(allow),
            deny: Some(deny),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn logins_role(name: &str, logins: &[&str]) -> RoleV6 {
    role(
        name,
        RoleConditions {
            logins: strings(logins),
            ..Default::default()
        },
        RoleConditions::default(),
    )
}

fn bot(roles: Vec<RoleV6>, traits: &[(&str, &[&str])]) -> BotRoles {
    BotRoles {
        bot: "example".into(),
        role_names: roles.iter().map(|r| role_name(r).to_string()).collect(),
        roles,
        traits: traits
            .iter()
            .map(|(k, v)| (k.to_string(), strings(v)))
            .collect(),
    }
}

fn db_role(name: &str, allow: RoleConditions) -> RoleV6 {
    role(
        name,
        RoleConditions {
            rules: vec![rule(&["db_server", "db"], &["read", "list"])],
            ..allow
        },
        RoleConditions::default(),
    )
}

fn query(db: &str) -> DbQuery {
    DbQuery {
        db: db.into(),
        ..Default::default()
    }
}

fn denied(answer: &Answer) -> (String, String) {
    match &answer.decision {
        Decision::Denied {
            missing,
            fix_command,
        } => (missing.clone(), fix_command.clone()),
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn allowed_by(answer: &Answer) -> &str {
    match &answer.decision {
        Decision::Allowed { by_role, .. } => by_role,
        other => panic!("expected allowed, got {other:?}"),
    }
}

#[test]
fn traits_expand_in_logins_with_prefix_and_suffix() {
    let traits: Traits = [("logins".to_string(), strings(&["alice", "bob"]))].into();
    let out = expand_all(
        &strings(&["root", "{{internal.logins}}", "x-{{ external.logins }}-y"]),
        &traits,
    );
    assert_eq!(
        out.values,
        strings(&["root", "alice", "bob", "x-alice-y", "x-bob-y"])
    );
    let indexed = expand_all(&strings(&["{{internal[\"logins\"]}}"]), &traits);
    assert_eq!(indexed.values, strings(&["alice", "bob"]));
}

#[test]
fn unset_traits_and_functions_expand_to_nothing_and_are_named() {
    let out = expand_all(
        &strings(&["{{internal.db_users}}", "{{email.local(external.email)}}"]),
        &Traits::new(),
    );
    assert!(out.values.is_empty());
    assert_eq!(out.empty, strings(&["{{internal.db_users}}"]));
    assert_eq!(
        out.unsupported,
        strings(&["{{email.local(external.email)}}"])
    );
}

#[test]
fn ssh_is_allowed_by_the_role_that_lists_the_login() {
    let b = bot(
        vec![logins_role("a", &["ubuntu"]), logins_role("b", &["root"])],
        &[],
    );
    let answer = b.ssh("root");
    assert_eq!(allowed_by(&answer), "b");
    assert_eq!(answer.roles[0].logins, strings(&["ubuntu"]));
}

#[test]
fn ssh_login_from_the_logins_trait_is_allowed() {
    let b = bot(
        vec![logins_role("access", &["{{internal.logins}}"])],
        &[("logins", &["deploy"])],
    );
    let answer = b.ssh("deploy");
    assert_eq!(allowed_by(&answer), "access");
    assert_eq!(answer.roles[0].logins, strings(&["deploy"]));
}

#[test]
fn ssh_denial_names_each_role_and_adds_the_login_to_the_first() {
    let b = bot(
        vec![logins_role("a", &["root"]), logins_role("b", &[])],
        &[],
    );
    let answer = b.ssh("deploy");
    let (missing, fix) = denied(&answer);
    assert_eq!(
        missing,
        "no role of bot \"example\" allows login \"deploy\": roles a (logins root), b (no logins)"
    );
    assert_eq!(fix, "mwictl roles add-login a deploy");
}

#[test]
fn ssh_denial_suggests_the_bot_trait_when_a_role_uses_it() {
    let b = bot(vec![logins_role("a", &["{{internal.logins}}"])], &[]);
    let answer = b.ssh("deploy");
    let (missing, fix) = denied(&answer);
    assert!(
        missing.contains("{{internal.logins}} is empty for this bot"),
        "{missing}"
    );
    assert_eq!(fix, "mwictl bots update example --add-logins deploy");
}

#[test]
fn deny_logins_win_over_allow() {
    let denier = role(
        "no-root",
        RoleConditions::default(),
        RoleConditions {
            logins: strings(&["root"]),
            ..Default::default()
        },
    );
    let b = bot(vec![logins_role("a", &["root"]), denier], &[]);
    let answer = b.ssh("root");
    let (missing, fix) = denied(&answer);
    assert!(
        missing.starts_with("role \"no-root\" denies login \"root\""),
        "{missing}"
    );
    assert_eq!(fix, "mwictl edit role/no-root");
}

#[test]
fn a_bot_without_roles_or_with_a_missing_role_gets_nothing() {
    let none = bot(vec![], &[]);
    assert_eq!(
        denied(&none.ssh("root")).1,
        "mwictl bots update example --add-roles ROLE"
    );
    let mut gone = bot(vec![logins_role("a", &["root"])], &[]);
    gone.role_names.push("ghost".into());
    let answer = gone.db(&query("pg"));
    let (missing, fix) = denied(&answer);
    assert!(missing.starts_with("role \"ghost\" of bot \"example\" does not exist"));
    assert_eq!(fix, "mwictl bots update example --remove-roles ghost");
}

#[test]
fn db_without_the_rule_is_not_found_and_the_fix_adds_it() {
    let b = bot(
        vec![role(
            "access",
            RoleConditions {
                database_labels: labels(&[("*", &["*"])]),
                ..Default::default()
            },
            RoleConditions::default(),
        )],
        &[],
    );
    let answer = b.db(&query("example"));
    let (missing, fix) = denied(&answer);
    assert!(
        missing.contains("database \"example\" not found"),
        "{missing}"
    );
    assert!(
        missing.starts_with("no role of bot \"example\" allows read and list on db_server and db,"),
        "{missing}"
    );
    assert_eq!(fix, "mwictl roles add-db-access access");
    let partial = bot(
        vec![db_role_with_rules(
            "access",
            vec![rule(&["db_server"], &["read", "list"])],
        )],
        &[],
    );
    let (missing, _) = denied(&partial.db(&query("example")));
    assert!(
        missing.contains("allows read on db, list on db,"),
        "{missing}"
    );
}

fn db_role_with_rules(name: &str, rules: Vec<Rule>) -> RoleV6 {
    role(
        name,
        RoleConditions {
            rules,
            database_labels: labels(&[("*", &["*"])]),
            ..Default::default()
        },
        RoleConditions::default(),
    )
}

#[test]
fn wildcard_rules_grant_db_access() {
    let b = bot(
        vec![role(
            "admin",
            RoleConditions {
                rules: vec![rule(&["*"], &["*"])],
                database_labels: labels(&[("*", &["*"])]),
                ..Default::default()
            },
            RoleConditions::default(),
        )],
        &[],
    );
    let answer = b.db(&query("pg"));
    assert_eq!(allowed_by(&answer), "admin");
    assert!(
        answer
            .checks
            .iter()
            .any(|c| c.check == "db_labels" && c.outcome == Outcome::NotChecked)
    );
}

#[test]
fn rules_may_come_from_one_role_and_labels_from_another() {
    let rules = role(
        "db-rules",
        RoleConditions {
            rules: vec![
                rule(&["db_server"], &["read", "list"]),
                rule(&["db"], &["*"]),
            ],
            ..Default::default()
        },
        RoleConditions::default(),
    );
    let grants = role(
        "db-prod",
        RoleConditions {
            database_labels: labels(&[("env", &["prod"])]),
            database_users: strings(&["{{internal.db_users}}"]),
            ..Default::default()
        },
        RoleConditions::default(),
    );
    let b = bot(vec![rules, grants], &[("db_users", &["reader"])]);
    let answer = b.db(&DbQuery {
        db: "pg".into(),
        user: Some("reader".into()),
        labels: Some(vec![("env".into(), "prod".into())]),
        ..Default::default()
    });
    assert_eq!(allowed_by(&answer), "db-prod");
    assert!(
        answer.checks.iter().all(|c| c.outcome == Outcome::Pass),
        "{:?}",
        answer.checks
    );
}

#[test]
fn labels_that_do_not_match_are_the_missing_piece() {
    let b = bot(
        vec![db_role(
            "db",
            RoleConditions {
                database_labels: labels(&[("env", &["dev"])]),
                ..Default::default()
            },
        )],
        &[],
    );
    let answer = b.db(&DbQuery {
        db: "pg".into(),
        labels: Some(vec![("env".into(), "prod".into())]),
        ..Default::default()
    });
    let (missing, fix) = denied(&answer);
    assert_eq!(
        missing,
        "no role's db_labels match the database's labels env=prod: roles db (db_labels env=dev)"
    );
    assert_eq!(fix, "mwictl roles add-db-access db --db-labels env=prod");
}

#[test]
fn a_user_the_role_already_allows_is_not_part_of_the_fix() {
    let b = bot(
        vec![role(
            "db-reader",
            RoleConditions {
                database_users: strings(&["reader"]),
                ..Default::default()
            },
            RoleConditions::default(),
        )],
        &[],
    );
    let answer = b.db(&DbQuery {
        db: "example".into(),
        user: Some("reader".into()),
        labels: Some(vec![("env".into(), "prod".into())]),
        ..Default::default()
    });
    let (_, fix) = denied(&answer);
    assert_eq!(
        fix,
        "mwictl roles add-db-access db-reader --db-labels env=prod"
    );
    let users = answer.checks.iter().find(|c| c.check == "db_users");
    assert_eq!(users.map(|c| c.outcome), Some(Outcome::Pass));
}

#[test]
fn no_db_labels_at_all_matches_no_database_even_unchecked() {
    let b = bot(vec![db_role("db", RoleConditions::default())], &[]);
    let (missing, fix) = denied(&b.db(&query("pg")));
    assert!(
        missing.contains("has db_labels, so it matches no database"),
        "{missing}"
    );
    assert_eq!(fix, "mwictl roles add-db-access db --db-labels KEY=VALUE");
}

#[test]
fn missing_user_is_added_to_the_role_whose_labels_match() {
    let b = bot(
        vec![
            db_role("first", RoleConditions::default()),
            db_role(
                "prod",
                RoleConditions {
                    database_labels: labels(&[("env", &["prod-*"])]),
                    ..Default::default()
                },
            ),
        ],
        &[],
    );
    let answer = b.db(&DbQuery {
        db: "pg".into(),
        user: Some("reader".into()),
        name: Some("app".into()),
        labels: Some(vec![("env".into(), "prod-eu".into())]),
    });
    let (_, fix) = denied(&answer);
    assert_eq!(
        fix,
        "mwictl roles add-db-access prod --db-names app --db-users reader"
    );
}

#[test]
fn deny_conditions_on_db_users_win() {
    let denier = role(
        "no-admin",
        RoleConditions::default(),
        RoleConditions {
            database_labels: labels(&[("*", &["*"])]),
            database_users: strings(&["admin"]),
            ..Default::default()
        },
    );
    let b = bot(
        vec![
            db_role(
                "db",
                RoleConditions {
                    database_labels: labels(&[("*", &["*"])]),
                    database_users: strings(&["*"]),
                    ..Default::default()
                },
            ),
            denier,
        ],
        &[],
    );
    let mut q = query("pg");
    q.user = Some("admin".into());
    let (missing, fix) = denied(&b.db(&q));
    assert_eq!(
        missing,
        "role \"no-admin\" denies database user \"admin\" (deny.db_users)"
    );
    assert_eq!(fix, "mwictl edit role/no-admin");
    q.user = Some("reader".into());
    assert_eq!(allowed_by(&b.db(&q)), "db");
}

#[test]
fn deny_rules_win_over_allow_rules() {
    let denier = role(
        "no-db",
        RoleConditions::default(),
        RoleConditions {
            rules: vec![rule(&["db"], &["list"])],
            ..Default::default()
        },
    );
    let b = bot(
        vec![
            db_role(
                "db",
                RoleConditions {
                    database_labels: labels(&[("*", &["*"])]),
                    ..Default::default()
                },
            ),
            denier,
        ],
        &[],
    );
    let (missing, fix) = denied(&b.db(&query("pg")));
    assert_eq!(missing, "role \"no-db\" denies list on db (deny.rules)");
    assert_eq!(fix, "mwictl edit role/no-db");
}

#[test]
fn rules_with_where_do_not_grant() {
    let mut r = db_role(
        "db",
        RoleConditions {
            database_labels: labels(&[("*", &["*"])]),
            ..Default::default()
        },
    );
    if let Some(allow) = r.spec.as_mut().and_then(|s| s.allow.as_mut()) {
        allow.rules[0].r#where = "contains(user.spec.traits[\"x\"], \"y\")".into();
    }
    let (missing, _) = denied(&bot(vec![r], &[]).db(&query("pg")));
    assert!(missing.contains("`where` predicate"), "{missing}");
}

#[test]
fn label_selectors_match_like_teleport() {
    let db = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let none = Traits::new();
    let sel = labels(&[("env", &["prod", "staging"]), ("team", &["*"])]);
    assert!(labels_match(
        sel.as_ref(),
        &db(&[("env", "prod"), ("team", "x")]),
        &none
    ));
    assert!(!labels_match(sel.as_ref(), &db(&[("env", "prod")]), &none));
    assert!(!labels_match(
        sel.as_ref(),
        &db(&[("env", "dev"), ("team", "x")]),
        &none
    ));
    assert!(labels_match(
        labels(&[("*", &["*"])]).as_ref(),
        &db(&[]),
        &none
    ));
    assert!(!labels_match(
        labels(&[]).as_ref(),
        &db(&[("env", "prod")]),
        &none
    ));
    assert!(!labels_match(None, &db(&[("env", "prod")]), &none));
    let regex = labels(&[("env", &["^(prod|staging)$"])]);
    assert!(labels_match(regex.as_ref(), &db(&[("env", "prod")]), &none));
    assert!(!labels_match(regex.as_ref(), &db(&[("env", "dev")]), &none));
    let traits: Traits = [("env".to_string(), strings(&["prod"]))].into();
    let templated = labels(&[("env", &["{{internal.env}}"])]);
    assert!(labels_match(
        templated.as_ref(),
        &db(&[("env", "prod")]),
        &traits
    ));
}

#[test]
fn fix_commands_quote_what_the_shell_would_read() {
    assert_eq!(shell_word("root"), "root");
    assert_eq!(shell_word("*=*"), "'*=*'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
}

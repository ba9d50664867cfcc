//! Role fixes as plans: add or remove logins, add database access. Each plan holds the role as
//! read, the edited role and the unified diff of their YAML; `apply` writes it conditionally.
//!
//! A plan keeps the bytes the role was read as, so the write carries every field this mwictl
//! does not model, and the server refuses it if the role changed since (stale revision). The
//! edits are idempotent, so `apply` then reads the role again and redoes the edit on it (a few
//! times), and reports a conflict only when the change no longer applies as shown.

use mwi_proto::types::{RoleConditions, RoleV6, Rule};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::access;
use crate::resource::{Resource, render_yaml};

/// The label that marks a role `bot-NAME` made by CreateBot.
const BOT_LABEL: &str = "teleport.internal/bot";

/// A planned change to one role.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleChange {
    pub role: String,
    /// The role's YAML as read, and as it will be written.
    pub before_yaml: String,
    pub after_yaml: String,
    /// The unified diff of the two (empty when nothing changes).
    pub diff: String,
    pub changed: bool,
    /// The edited role, with the bytes it was read as (which carry unknown fields).
    pub edited: Fetched<RoleV6>,
    /// What the user should know before writing (the change may not have the effect wanted).
    pub warnings: Vec<String>,
    /// The edit, to redo on a newer copy of the role when this one is stale.
    pub edit: Edit,
}

/// An idempotent edit of a role: redone on a copy that already has it, it changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    AddLogins(Vec<String>),
    RemoveLogins(Vec<String>),
    AddDbAccess(DbGrant),
}

impl Edit {
    /// The change this edit makes to `fetched`.
    fn plan(&self, fetched: Fetched<RoleV6>) -> RoleChange {
        match self {
            Edit::AddLogins(logins) => add_login(fetched, logins),
            Edit::RemoveLogins(logins) => remove_login(fetched, logins),
            Edit::AddDbAccess(grant) => add_db_access(fetched, grant),
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Written; the change as finally written (redone on a newer copy when the first was stale).
    Written(Box<RoleChange>),
    /// Nothing to write: the role already had the change (someone else made it meanwhile).
    AlreadyThere,
}

/// How many times [`apply`] writes a role that keeps changing before it reports a conflict.
pub const WRITE_ATTEMPTS: usize = 5;

/// Database access to grant: label selectors, database names and users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbGrant {
    pub labels: Vec<(String, String)>,
    pub names: Vec<String>,
    pub users: Vec<String>,
}

/// Plans adding `logins` to the role's allow.logins (those already there are skipped).
pub async fn plan_add_login(
    client: &Client,
    role: &str,
    logins: &[String],
) -> Result<RoleChange, CommandError> {
    check_values("login", logins)?;
    let fetched = client.get_role(role).await?;
    Ok(add_login(fetched, logins))
}

/// Plans removing `logins` from the role's allow.logins (those not there are skipped).
pub async fn plan_remove_login(
    client: &Client,
    role: &str,
    logins: &[String],
) -> Result<RoleChange, CommandError> {
    check_values("login", logins)?;
    let fetched = client.get_role(role).await?;
    Ok(remove_login(fetched, logins))
}

/// Plans database access: the rule `{resources: [db_server, db], verbs: [read, list]}` unless
/// the role's rules already grant it, and the labels, names and users merged into allow.
pub async fn plan_add_db_access(
    client: &Client,
    role: &str,
    grant: &DbGrant,
) -> Result<RoleChange, CommandError> {
    check_values("database name", &grant.names)?;
    check_values("database user", &grant.users)?;
    let fetched = client.get_role(role).await?;
    Ok(add_db_access(fetched, grant))
}

/// Writes the edited role with UpdateRole, conditional on the revision it was read at. When the
/// role changed since, it reads it again and redoes the edit (up to [`WRITE_ATTEMPTS`] writes):
/// a role that now already has the change is [`Applied::AlreadyThere`]; a conflict (exit 5) is
/// reported only when the redone change brings a warning the user was not shown, or the role
/// keeps changing. Nothing is sent when nothing changed.
pub async fn apply(client: &Client, change: &RoleChange) -> Result<Applied, CommandError> {
    if !change.changed {
        return Ok(Applied::AlreadyThere);
    }
    let mut attempt = change.clone();
    for n in 1..=WRITE_ATTEMPTS {
        match client.update_role(&attempt.edited).await {
            Ok(_) => return Ok(Applied::Written(Box::new(attempt))),
            Err(e) if e.is_stale() => {}
            Err(e) => return Err(e.into()),
        }
        tracing::debug!(role = %change.role, attempt = n, "stale revision: reading the role again");
        attempt = change.edit.plan(client.get_role(&change.role).await?);
        if !attempt.changed {
            return Ok(Applied::AlreadyThere);
        }
        if let Some(new) = attempt
            .warnings
            .iter()
            .find(|w| !change.warnings.contains(w))
        {
            return Err(CommandError::conflict(format!(
                "role {:?} changed while it was being written, and the change no longer applies as shown: {new}; nothing was changed",
                change.role
            ))
            .hint("run the command again to see the new diff"));
        }
    }
    Err(CommandError::conflict(format!(
        "role {:?} kept changing while it was being written ({WRITE_ATTEMPTS} attempts); nothing was changed",
        change.role
    ))
    .hint("run the command again once nobody else is editing it"))
}

/// Parses `--db-labels` values: `KEY=VALUE`, each argument possibly a comma-separated list.
pub fn parse_labels(args: &[String]) -> Result<Vec<(String, String)>, CommandError> {
    let mut labels = Vec::new();
    for arg in args {
        for item in arg.split(',').filter(|s| !s.trim().is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                CommandError::usage(format!("--db-labels {item:?}: expected KEY=VALUE"))
                    .hint("e.g. --db-labels env=prod, or --db-labels '*=*' for every database")
            })?;
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                return Err(CommandError::usage(format!(
                    "--db-labels {item:?}: the key and the value must not be empty"
                ))
                .hint("e.g. --db-labels env=prod, or --db-labels '*=*' for every database"));
            }
            let pair = (key.to_string(), value.to_string());
            if !labels.contains(&pair) {
                labels.push(pair);
            }
        }
    }
    Ok(labels)
}

fn check_values(what: &str, values: &[String]) -> Result<(), CommandError> {
    for value in values {
        if value.trim().is_empty() || value.chars().any(char::is_control) {
            return Err(CommandError::usage(format!(
                "{what} {value:?} is not valid: it must be a non-empty word"
            )));
        }
    }
    Ok(())
}

fn add_login(fetched: Fetched<RoleV6>, logins: &[String]) -> RoleChange {
    plan(
        fetched,
        Edit::AddLogins(logins.to_vec()),
        |role, warnings| {
            let allow = allow_mut(role);
            for login in logins {
                push_unique(&mut allow.logins, login);
            }
            if let Some(d) = deny_of(role).filter(|d| !d.logins.is_empty()) {
                for login in logins
                    .iter()
                    .filter(|l| d.logins.contains(l) || d.logins.iter().any(|d| d == "*"))
                {
                    warnings.push(format!(
                    "the role also denies login {login:?} (deny.logins), and deny wins; remove it \
                     with `mwictl edit role/{}`",
                    name_of(role)
                ));
                }
            }
        },
    )
}

fn remove_login(fetched: Fetched<RoleV6>, logins: &[String]) -> RoleChange {
    plan(
        fetched,
        Edit::RemoveLogins(logins.to_vec()),
        |role, warnings| {
            let allow = allow_mut(role);
            allow.logins.retain(|l| !logins.contains(l));
            let templated: Vec<&String> =
                allow.logins.iter().filter(|l| l.contains("{{")).collect();
            if !templated.is_empty() {
                warnings.push(format!(
                    "the role also takes logins from traits ({}): a login the bot has as a trait \
                 stays allowed; remove it with `mwictl bots update BOT --remove-logins LOGIN`",
                    templated
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        },
    )
}

fn add_db_access(fetched: Fetched<RoleV6>, grant: &DbGrant) -> RoleChange {
    plan(
        fetched,
        Edit::AddDbAccess(grant.clone()),
        |role, warnings| {
            let name = name_of(role).to_string();
            let allow = allow_mut(role);
            if !access::rules_grant_db_access(&allow.rules) {
                allow.rules.push(Rule {
                    resources: vec!["db_server".into(), "db".into()],
                    verbs: vec!["read".into(), "list".into()],
                    ..Default::default()
                });
            }
            if !grant.labels.is_empty() {
                let labels = allow.database_labels.get_or_insert_default();
                for (key, value) in &grant.labels {
                    let values = &mut labels.values.entry(key.clone()).or_default().values;
                    push_unique(values, value);
                }
            }
            for db_name in &grant.names {
                push_unique(&mut allow.database_names, db_name);
            }
            for user in &grant.users {
                push_unique(&mut allow.database_users, user);
            }
            if allow
                .database_labels
                .as_ref()
                .is_none_or(|l| l.values.is_empty())
            {
                warnings.push(format!(
                    "role {name:?} has no db_labels, so it matches no database; add the database's \
                 labels with --db-labels KEY=VALUE (or --db-labels '*=*' for every database)"
                ));
            }
            if let Some(d) = deny_of(role) {
                let denied = ["db_server", "db"].iter().any(|resource| {
                    ["read", "list"].iter().any(|verb| {
                        d.rules
                            .iter()
                            .any(|r| access::rule_covers(r, resource, verb))
                    })
                });
                if denied {
                    warnings.push(format!(
                    "role {name:?} denies access to db_server or db in its deny rules, and deny \
                     wins; remove them with `mwictl edit role/{name}`"
                ));
                }
            }
        },
    )
}

/// Applies `edit` to a copy of the role and describes the change.
fn plan(
    fetched: Fetched<RoleV6>,
    what: Edit,
    edit: impl FnOnce(&mut RoleV6, &mut Vec<String>),
) -> RoleChange {
    let mut warnings = Vec::new();
    let mut value = fetched.value.clone();
    edit(&mut value, &mut warnings);
    let role = name_of(&value).to_string();
    if let Some(bot) = value
        .metadata
        .as_ref()
        .and_then(|m| m.labels.get(BOT_LABEL))
    {
        warnings.push(format!(
            "role {role:?} is bot {bot:?}'s own role; its outputs use the roles it impersonates \
             (see `mwictl get bot/{bot}`), so change one of those instead"
        ));
    }
    let before_yaml = render_yaml(&[Resource::Role(fetched.value.clone())]);
    let after_yaml = render_yaml(&[Resource::Role(value.clone())]);
    let changed = value != fetched.value;
    let diff = if changed {
        similar::TextDiff::from_lines(&before_yaml, &after_yaml)
            .unified_diff()
            .context_radius(3)
            .header(&format!("role/{role}"), &format!("role/{role} (edited)"))
            .to_string()
    } else {
        String::new()
    };
    RoleChange {
        role,
        before_yaml,
        after_yaml,
        diff,
        changed,
        edited: Fetched {
            value,
            raw: fetched.raw,
        },
        warnings,
        edit: what,
    }
}

fn name_of(role: &RoleV6) -> &str {
    role.metadata.as_ref().map_or("", |m| m.name.as_str())
}

fn allow_mut(role: &mut RoleV6) -> &mut RoleConditions {
    role.spec
        .get_or_insert_default()
        .allow
        .get_or_insert_default()
}

fn deny_of(role: &RoleV6) -> Option<&RoleConditions> {
    role.spec.as_ref().and_then(|s| s.deny.as_ref())
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;
    use mwi_proto::types::Metadata;
    use mwi_proto::types::RoleSpecV6;
    use mwi_proto::wrappers::{LabelValues, StringValues};
    use prost::Message;

    fn role(allow: RoleConditions) -> Fetched<RoleV6> {
        let value = RoleV6 {
            kind: "role".into(),
            version: "v7".into(),
            metadata: Some(Metadata {
                name: "access".into(),
                revision: "r1".into(),
                ..Default::default()
            }),
            spec: Some(RoleSpecV6 {
                allow: Some(allow),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut raw = value.encode_to_vec();
        prost::encoding::string::encode(900, &"future".to_string(), &mut raw);
        Fetched {
            value,
            raw: raw.into(),
        }
    }

    fn logins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn allow_of(change: &RoleChange) -> RoleConditions {
        change
            .edited
            .value
            .spec
            .clone()
            .and_then(|s| s.allow)
            .unwrap_or_default()
    }

    #[test]
    fn add_login_appends_only_new_logins_and_diffs_the_yaml() {
        let change = add_login(
            role(RoleConditions {
                logins: logins(&["ubuntu"]),
                ..Default::default()
            }),
            &logins(&["ubuntu", "root"]),
        );
        assert!(change.changed);
        assert_eq!(allow_of(&change).logins, logins(&["ubuntu", "root"]));
        assert!(
            change
                .diff
                .starts_with("--- role/access\n+++ role/access (edited)\n")
        );
        assert!(change.diff.contains("\n+    - root\n"), "{}", change.diff);
        assert!(!change.diff.contains("\n-"), "{}", change.diff);
    }

    #[test]
    fn adding_a_login_already_there_changes_nothing() {
        let change = add_login(
            role(RoleConditions {
                logins: logins(&["root"]),
                ..Default::default()
            }),
            &logins(&["root"]),
        );
        assert!(!change.changed);
        assert_eq!(change.diff, "");
        assert_eq!(change.before_yaml, change.after_yaml);
    }

    #[test]
    fn the_edit_keeps_the_bytes_it_was_read_as() {
        let original = role(RoleConditions::default());
        let raw = original.raw.clone();
        let change = add_login(original, &logins(&["root"]));
        assert_eq!(change.edited.raw, raw);
        let wire = crate::client::ToWire::<RoleV6>::to_wire(&change.edited);
        assert!(mwi_proto::unknown::has_unknown::<RoleV6>(&wire));
    }

    #[test]
    fn remove_login_keeps_the_others_in_order() {
        let change = remove_login(
            role(RoleConditions {
                logins: logins(&["a", "root", "b"]),
                ..Default::default()
            }),
            &logins(&["root", "nobody"]),
        );
        assert_eq!(allow_of(&change).logins, logins(&["a", "b"]));
        assert!(change.diff.contains("\n-    - root\n"), "{}", change.diff);
    }

    #[test]
    fn removing_a_login_from_a_templated_role_warns_about_traits() {
        let change = remove_login(
            role(RoleConditions {
                logins: logins(&["root", "{{internal.logins}}"]),
                ..Default::default()
            }),
            &logins(&["root"]),
        );
        assert!(
            change.warnings[0].contains("--remove-logins"),
            "{:?}",
            change.warnings
        );
    }

    #[test]
    fn db_access_adds_the_rule_and_merges_grants() {
        let grant = DbGrant {
            labels: vec![("env".into(), "prod".into()), ("env".into(), "dev".into())],
            names: logins(&["app", "app"]),
            users: logins(&["reader"]),
        };
        let change = add_db_access(
            role(RoleConditions {
                database_users: logins(&["reader"]),
                ..Default::default()
            }),
            &grant,
        );
        let allow = allow_of(&change);
        assert_eq!(
            allow.rules,
            vec![Rule {
                resources: logins(&["db_server", "db"]),
                verbs: logins(&["read", "list"]),
                ..Default::default()
            }]
        );
        let env = &allow.database_labels.unwrap().values["env"].values;
        assert_eq!(env, &logins(&["prod", "dev"]));
        assert_eq!(allow.database_names, logins(&["app"]));
        assert_eq!(allow.database_users, logins(&["reader"]));
        assert!(change.warnings.is_empty(), "{:?}", change.warnings);
    }

    #[test]
    fn db_access_does_not_duplicate_a_rule_a_wildcard_already_grants() {
        let change = add_db_access(
            role(RoleConditions {
                rules: vec![Rule {
                    resources: logins(&["*"]),
                    verbs: logins(&["*"]),
                    ..Default::default()
                }],
                database_labels: Some(LabelValues {
                    values: [(
                        "*".to_string(),
                        StringValues {
                            values: logins(&["*"]),
                        },
                    )]
                    .into_iter()
                    .collect(),
                }),
                ..Default::default()
            }),
            &DbGrant::default(),
        );
        assert!(!change.changed, "{}", change.diff);
    }

    #[test]
    fn db_access_without_labels_warns_that_nothing_matches() {
        let change = add_db_access(role(RoleConditions::default()), &DbGrant::default());
        assert!(change.changed);
        assert!(
            change
                .warnings
                .iter()
                .any(|w| w.contains("matches no database")),
            "{:?}",
            change.warnings
        );
    }

    #[test]
    fn a_bots_own_role_gets_a_warning() {
        let mut fetched = role(RoleConditions::default());
        if let Some(m) = fetched.value.metadata.as_mut() {
            m.labels.insert(BOT_LABEL.into(), "example".into());
        }
        let change = add_login(fetched, &logins(&["root"]));
        assert!(
            change.warnings.iter().any(|w| w.contains("own role")),
            "{:?}",
            change.warnings
        );
    }

    #[test]
    fn labels_parse_from_repeated_and_comma_lists() {
        let labels = parse_labels(&logins(&["env=prod,team=db", "*=*", "env=prod"])).unwrap();
        assert_eq!(
            labels,
            vec![
                ("env".to_string(), "prod".to_string()),
                ("team".to_string(), "db".to_string()),
                ("*".to_string(), "*".to_string()),
            ]
        );
    }

    #[test]
    fn a_label_without_value_is_a_usage_error_naming_it() {
        let err = parse_labels(&logins(&["env"])).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        assert_eq!(err.message, "--db-labels \"env\": expected KEY=VALUE");
        assert!(parse_labels(&logins(&["=x"])).is_err());
    }

    #[test]
    fn empty_logins_are_refused() {
        assert!(check_values("login", &logins(&[" "])).is_err());
        assert!(check_values("login", &logins(&["root", "{{internal.logins}}"])).is_ok());
    }
}

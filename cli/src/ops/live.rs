//! Answers the doctor's live checks against the auth service: is the incident a log shows still
//! current (the lock still in force, the role still lacking the rule), or already resolved?

use mwi_diag::doctor::{DISCOVERED_NAME_LABEL, LiveAnswer, LiveCheck};
use mwi_proto::types::DatabaseServerV3;

mod bound_keypair;

use crate::client::Client;
use crate::ops::access::{self, DbQuery, Decision};
use crate::ops::instances::is_live;
use crate::ops::unlock;

/// Answers one check; any error becomes an "unknown" answer naming it, never a failure of the
/// whole report.
pub async fn answer(client: &Client, check: &LiveCheck) -> LiveAnswer {
    match ask(client, check).await {
        Ok(answer) => answer,
        Err(error) => LiveAnswer {
            current: None,
            detail: format!(
                "could not check: {}",
                error.render().lines().next().unwrap_or("")
            ),
        },
    }
}

async fn ask(client: &Client, check: &LiveCheck) -> Result<LiveAnswer, crate::error::CommandError> {
    let unknown = |why: &str| LiveAnswer {
        current: None,
        detail: why.to_string(),
    };
    Ok(match check {
        LiveCheck::LockForBot { bot: Some(bot) } => {
            let locks = unlock::find_blocking_locks(client, bot).await?;
            match locks.first() {
                Some(first) => LiveAnswer {
                    current: Some(true),
                    detail: format!(
                        "{} lock(s) block bot {bot}, e.g. {} ({})",
                        locks.len(),
                        first
                            .lock
                            .value
                            .metadata
                            .as_ref()
                            .map(|m| m.name.as_str())
                            .unwrap_or("?"),
                        first.reason
                    ),
                },
                None => LiveAnswer {
                    current: Some(false),
                    detail: format!("no lock in force blocks bot {bot}"),
                },
            }
        }
        LiveCheck::InstanceExpired { bot: Some(bot) } => {
            let now = std::time::SystemTime::now();
            let mut live = 0usize;
            let mut pager = client.bot_instances(Some(bot));
            while let Some(page) = pager.next_page().await? {
                live += page.iter().filter(|i| is_live(&i.value, now)).count();
            }
            LiveAnswer {
                current: Some(live == 0),
                detail: match live {
                    0 => format!("bot {bot} has no unexpired instance"),
                    n => format!("bot {bot} has {n} unexpired instance(s)"),
                },
            }
        }
        LiveCheck::LoginMissing {
            bot: Some(bot),
            login: Some(login),
        } => decision(access::can_ssh(client, bot, login).await?.0),
        LiveCheck::RoleLacksDbAccess { bot, db } => database(client, bot.as_deref(), db).await?,
        LiveCheck::BotHasNoRoles { bot: Some(bot) } => {
            let roles = client
                .get_bot(bot)
                .await?
                .value
                .spec
                .map(|s| s.roles)
                .unwrap_or_default();
            LiveAnswer {
                current: Some(roles.is_empty()),
                detail: match roles.is_empty() {
                    true => format!("bot {bot} has no roles"),
                    false => format!("bot {bot} has roles {}", roles.join(", ")),
                },
            }
        }
        LiveCheck::BoundKeypair {
            incident,
            bot,
            tokens,
        } => bound_keypair::answer(client, *incident, bot.as_deref(), tokens).await?,
        LiveCheck::RoleLacksRule { .. } => unknown("not checked: rules of arbitrary resources"),
        _ => unknown("not checked: the log does not name the bot"),
    })
}

/// `database "DB" not found`: is DB registered (then the bot's roles hide it), renamed by
/// auto-discovery (another database keeps DB in its discovered-name label, or its name starts
/// with `DB-`), or not registered at all?
async fn database(
    client: &Client,
    bot: Option<&str>,
    db: &str,
) -> Result<LiveAnswer, crate::error::CommandError> {
    let servers = match client.database_servers().await {
        Ok(servers) => servers,
        // Without the list, the roles can still be checked, as before this check existed.
        Err(error) => {
            let unread = format!(
                "the database list could not be read ({})",
                crate::error::CommandError::from(error)
                    .render()
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            return Ok(match bot {
                Some(bot) => {
                    let mut answer = decision(access::can_db(client, bot, db, None).await?);
                    answer.detail = format!("{}; {unread}", answer.detail);
                    answer
                }
                None => LiveAnswer {
                    current: None,
                    detail: format!("not checked: {unread} and the log does not name the bot"),
                },
            });
        }
    };
    Ok(match presence(&servers, db) {
        Presence::Registered { labels } => match bot {
            Some(bot) => {
                let query = DbQuery {
                    db: db.to_string(),
                    labels: Some(labels),
                    ..Default::default()
                };
                let answer = access::check_db(client, bot, &query).await?;
                let mut answer = decision(answer.decision);
                answer.detail = format!(
                    "database {db} is registered, so the cause is RBAC: {}",
                    answer.detail
                );
                answer
            }
            None => LiveAnswer {
                current: None,
                detail: format!(
                    "database {db} is registered, so the cause is RBAC: the bot's roles hide it; \
                     name the bot (--bot NAME) to check its roles"
                ),
            },
        },
        Presence::Renamed { names, by_label } => {
            let how = if by_label {
                format!("its {DISCOVERED_NAME_LABEL} label is {db}")
            } else {
                format!("its name starts with {db}-")
            };
            let new = names.join(", ");
            LiveAnswer {
                current: Some(true),
                detail: format!(
                    "no database is named {db}, but auto-discovery renamed it: {new} ({how}). \
                     Point the output's `service:` in tbot.yaml at {}, or pin the name in the \
                     discovery config",
                    names[0]
                ),
            }
        }
        Presence::Missing => LiveAnswer {
            current: Some(true),
            detail: format!(
                "no database named {db} is registered and none was discovered as {db} (as far as \
                 this identity sees): check the database agent and the name in tbot.yaml"
            ),
        },
    })
}

/// Whether a database is registered under a name, as [`database`] tells.
#[derive(Debug, PartialEq, Eq)]
enum Presence {
    Registered {
        labels: Vec<(String, String)>,
    },
    /// `names` are the current names; `by_label` when found by the discovered-name label.
    Renamed {
        names: Vec<String>,
        by_label: bool,
    },
    Missing,
}

fn presence(servers: &[DatabaseServerV3], db: &str) -> Presence {
    // A server's own metadata names its database; the database's metadata holds its labels.
    let databases: Vec<(String, Vec<(String, String)>)> = servers
        .iter()
        .map(|server| {
            let database = server.spec.as_ref().and_then(|s| s.database.as_ref());
            let meta = database
                .and_then(|d| d.metadata.as_ref())
                .or(server.metadata.as_ref());
            let name = meta.map(|m| m.name.clone()).unwrap_or_default();
            let labels = meta
                .map(|m| m.labels.clone().into_iter().collect())
                .unwrap_or_default();
            (name, labels)
        })
        .collect();
    if let Some((_, labels)) = databases.iter().find(|(name, _)| name == db) {
        return Presence::Registered {
            labels: labels.clone(),
        };
    }
    let mut by_label: Vec<String> = databases
        .iter()
        .filter(|(_, labels)| {
            labels
                .iter()
                .any(|(k, v)| k == DISCOVERED_NAME_LABEL && v == db)
        })
        .map(|(name, _)| name.clone())
        .collect();
    by_label.sort();
    by_label.dedup();
    if !by_label.is_empty() {
        return Presence::Renamed {
            names: by_label,
            by_label: true,
        };
    }
    let prefix = format!("{db}-");
    let mut by_prefix: Vec<String> = databases
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with(&prefix))
        .collect();
    by_prefix.sort();
    by_prefix.dedup();
    match by_prefix.is_empty() {
        true => Presence::Missing,
        false => Presence::Renamed {
            names: by_prefix,
            by_label: false,
        },
    }
}

fn decision(decision: Decision) -> LiveAnswer {
    match decision {
        Decision::Allowed { by_role, detail } => LiveAnswer {
            current: Some(false),
            detail: format!("now allowed by role {by_role}: {detail}"),
        },
        Decision::Denied { missing, .. } => LiveAnswer {
            current: Some(true),
            detail: format!("still missing: {missing}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{DatabaseServerSpecV3, DatabaseV3, Metadata};

    fn server(name: &str, labels: &[(&str, &str)]) -> DatabaseServerV3 {
        let meta = |labels: &[(&str, &str)]| Metadata {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        DatabaseServerV3 {
            metadata: Some(meta(&[])),
            spec: Some(DatabaseServerSpecV3 {
                database: Some(DatabaseV3 {
                    metadata: Some(meta(labels)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_registered_name_wins_and_keeps_its_labels() {
        let servers = [
            server("pg", &[("env", "prod")]),
            server("pg-rds-us-east-1-1", &[(DISCOVERED_NAME_LABEL, "pg")]),
        ];
        assert_eq!(
            presence(&servers, "pg"),
            Presence::Registered {
                labels: vec![("env".into(), "prod".into())]
            }
        );
    }

    #[test]
    fn the_discovered_name_label_finds_a_renamed_database_before_a_name_prefix() {
        let servers = [
            server("pg-old-copy", &[]),
            server("pg-rds-us-east-1-1", &[(DISCOVERED_NAME_LABEL, "pg")]),
            server("other", &[(DISCOVERED_NAME_LABEL, "other")]),
        ];
        assert_eq!(
            presence(&servers, "pg"),
            Presence::Renamed {
                names: vec!["pg-rds-us-east-1-1".into()],
                by_label: true
            }
        );
        assert_eq!(
            presence(&servers[..1], "pg"),
            Presence::Renamed {
                names: vec!["pg-old-copy".into()],
                by_label: false
            }
        );
    }

    #[test]
    fn neither_name_nor_label_nor_prefix_is_missing() {
        let servers = [
            server("pgx", &[]),
            server("mysql", &[(DISCOVERED_NAME_LABEL, "my")]),
        ];
        assert_eq!(presence(&servers, "pg"), Presence::Missing);
        assert_eq!(presence(&[], "pg"), Presence::Missing);
    }
}

//! Answers the doctor's live checks against the auth service: is the incident a log shows still
//! current (the lock still in force, the role still lacking the rule), or already resolved?

use mwi_diag::doctor::{LiveAnswer, LiveCheck};

use crate::client::Client;
use crate::ops::access::{self, Decision};
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
        LiveCheck::RoleLacksDbAccess { bot: Some(bot), db } => {
            decision(access::can_db(client, bot, db, None).await?)
        }
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
        LiveCheck::RoleLacksRule { .. } => unknown("not checked: rules of arbitrary resources"),
        _ => unknown("not checked: the log does not name the bot"),
    })
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

//! Verification of a recovery: a new bot instance that joined after the run started, or the
//! access check passing (and, with `--wait`, a renewal after the change), polled until a deadline.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use mwi_proto::machineid::BotInstance;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::access::{self, DbQuery, Decision};
use crate::ops::instances::latest_authentication;
use crate::recover::step::{Expect, SeenInstance, Verification, VerifyState};
use crate::resource::format_timestamp;

/// How often `--wait` asks the server.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// Clocks of client and server may disagree this much when comparing authentication times.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What verification needs to know about the run.
pub struct VerifyInput<'a> {
    pub bot: &'a str,
    pub expect: &'a Expect,
    /// When the run started (a new instance authenticated after it).
    pub since: SystemTime,
    /// When the last change was made (a renewal after it carries the change).
    pub changed_at: SystemTime,
    /// `--wait`: poll until this much time has passed.
    pub wait: Option<Duration>,
    pub tbot_config: Option<&'a Path>,
}

/// Runs the check, polling every [`POLL_EVERY`] while `--wait` allows.
pub async fn verify(
    client: &Client,
    input: &VerifyInput<'_>,
) -> Result<Verification, CommandError> {
    let deadline = input.wait.map(|w| Instant::now() + w);
    match input.expect {
        Expect::NewInstance { known } => {
            let known: HashSet<&str> = known.iter().map(String::as_str).collect();
            let since = input.since - CLOCK_SKEW;
            loop {
                let instances = instances_of(client, input.bot).await?;
                let fresh = instances.iter().find(|i| {
                    let id = i.spec.as_ref().map_or("", |s| s.instance_id.as_str());
                    !known.contains(id) && joined_after(i, since)
                });
                if let Some(instance) = fresh {
                    let seen = seen(instance);
                    return Ok(Verification {
                        state: VerifyState::Verified,
                        detail: format!(
                            "bot instance {}/{} joined with generation {}",
                            input.bot,
                            seen.id,
                            seen.generation.map_or("n/a".into(), |g| g.to_string())
                        ),
                        instance: Some(seen),
                        to_check: Vec::new(),
                    });
                }
                if !sleep_until(deadline).await {
                    return not_joined(client, input).await;
                }
            }
        }
        Expect::Unlocked => {
            let locks = crate::ops::unlock::find_blocking_locks(client, input.bot).await?;
            let names: Vec<&str> = locks.iter().map(|l| l.name()).collect();
            Ok(if names.is_empty() {
                Verification {
                    state: VerifyState::Verified,
                    detail: format!("no lock blocks bot {:?}", input.bot),
                    instance: None,
                    to_check: Vec::new(),
                }
            } else {
                Verification {
                    state: VerifyState::Failed,
                    detail: format!("locks block bot {:?}: {}", input.bot, names.join(", ")),
                    instance: None,
                    to_check: vec![format!("`mwictl unlock --bot {}`", input.bot)],
                }
            })
        }
        Expect::SshLogin { login } => {
            let (decision, _) = access::can_ssh(client, input.bot, login).await?;
            access_result(
                client,
                input,
                decision,
                &format!("SSH login {login:?}"),
                deadline,
            )
            .await
        }
        Expect::Database { db, name, user } => {
            let query = DbQuery {
                db: db.clone(),
                name: name.clone(),
                user: user.clone(),
                labels: None,
            };
            let decision = access::check_db(client, input.bot, &query).await?.decision;
            access_result(
                client,
                input,
                decision,
                &format!("database {db:?}"),
                deadline,
            )
            .await
        }
    }
}

/// The access check's verdict; with `--wait`, also waits for a renewal after the change.
async fn access_result(
    client: &Client,
    input: &VerifyInput<'_>,
    decision: Decision,
    what: &str,
    deadline: Option<Instant>,
) -> Result<Verification, CommandError> {
    let granted = match decision {
        Decision::Denied {
            missing,
            fix_command,
        } => {
            return Ok(Verification {
                state: VerifyState::Failed,
                detail: format!("the bot's roles still do not allow {what}: {missing}"),
                instance: None,
                to_check: vec![format!("fix it with `{fix_command}`")],
            });
        }
        Decision::Allowed { detail, .. } => detail,
    };
    if deadline.is_none() {
        return Ok(Verification {
            state: VerifyState::Verified,
            detail: format!(
                "{granted}; tbot gets it at its next renewal (or at once on restart or SIGUSR1)"
            ),
            instance: None,
            to_check: Vec::new(),
        });
    }
    let since = input.changed_at - CLOCK_SKEW.min(Duration::from_secs(1));
    loop {
        let instances = instances_of(client, input.bot).await?;
        if let Some(instance) = instances.iter().find(|i| renewed_after(i, since)) {
            let seen = seen(instance);
            return Ok(Verification {
                state: VerifyState::Verified,
                detail: format!(
                    "{granted}; bot instance {}/{} renewed after the change, so its certificates carry it",
                    input.bot, seen.id
                ),
                instance: Some(seen),
                to_check: Vec::new(),
            });
        }
        if !sleep_until(deadline).await {
            return Ok(Verification {
                state: VerifyState::TimedOut,
                detail: format!("{granted}, but no bot instance renewed before --wait ran out"),
                instance: None,
                to_check: vec![
                    "send tbot SIGUSR1 (renews at once) or restart it on the bot's host".into(),
                    format!("check it renews: `mwictl bots instances ls {}`", input.bot),
                ],
            });
        }
    }
}

/// Sleeps one poll interval if that ends before `deadline`; false when there is no time left.
async fn sleep_until(deadline: Option<Instant>) -> bool {
    let Some(deadline) = deadline else {
        return false;
    };
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
    true
}

/// No new instance: what to check, including a lock that still blocks the bot.
async fn not_joined(
    client: &Client,
    input: &VerifyInput<'_>,
) -> Result<Verification, CommandError> {
    let listing = format!(
        "list the bot's instances: `mwictl bots instances ls {}`",
        input.bot
    );
    let Some(wait) = input.wait else {
        return Ok(Verification {
            state: VerifyState::Pending,
            detail: "no new bot instance yet: tbot joins with the new token once restarted (pass --wait to wait for it)".to_string(),
            instance: None,
            to_check: vec![format!("once tbot runs again, {listing}")],
        });
    };
    let mut to_check = vec![crate::recover::flows::RESTART_NOTE.to_string()];
    match input.tbot_config {
        Some(path) => to_check.push(format!(
            "check that tbot runs with {} (its onboarding.token holds the new token)",
            path.display()
        )),
        None => to_check.push(
            "put the new token in tbot.yaml's onboarding.token (or pass --token) before restarting"
                .to_string(),
        ),
    }
    to_check.push("run `mwictl doctor TBOT_LOG` on tbot's log to see why it did not join".into());
    to_check.push(listing);
    let locks = crate::ops::unlock::find_blocking_locks(client, input.bot).await?;
    if !locks.is_empty() {
        let names: Vec<&str> = locks.iter().map(|l| l.name()).collect();
        to_check.insert(
            0,
            format!(
                "a lock blocks the bot ({}): `mwictl unlock --bot {}`",
                names.join(", "),
                input.bot
            ),
        );
    }
    let state = VerifyState::TimedOut;
    let detail = format!(
        "no new bot instance joined within {}",
        crate::resource::format_go_duration(wait)
    );
    Ok(Verification {
        state,
        detail,
        instance: None,
        to_check,
    })
}

async fn instances_of(client: &Client, bot: &str) -> Result<Vec<BotInstance>, CommandError> {
    let all = client.bot_instances(Some(bot)).collect_all().await?;
    Ok(all
        .into_iter()
        .map(|f| f.value)
        .filter(|i| i.spec.as_ref().is_some_and(|s| s.bot_name == bot))
        .collect())
}

fn time_of(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    ts.and_then(|t| SystemTime::try_from(*t).ok())
}

/// Whether the instance's first authentication happened after `since`.
fn joined_after(i: &BotInstance, since: SystemTime) -> bool {
    let initial = i
        .status
        .as_ref()
        .and_then(|s| s.initial_authentication.as_ref())
        .and_then(|a| a.authenticated_at.as_ref());
    time_of(initial).is_some_and(|t| t >= since)
}

/// Whether the instance's newest authentication happened after `since`.
fn renewed_after(i: &BotInstance, since: SystemTime) -> bool {
    time_of(latest_authentication(i).and_then(|a| a.authenticated_at.as_ref()))
        .is_some_and(|t| t >= since)
}

fn seen(i: &BotInstance) -> SeenInstance {
    let latest = latest_authentication(i);
    SeenInstance {
        id: i
            .spec
            .as_ref()
            .map(|s| s.instance_id.clone())
            .unwrap_or_default(),
        generation: latest.map(|a| a.generation),
        authenticated_at: latest
            .and_then(|a| a.authenticated_at.as_ref())
            .map(format_timestamp),
        hostname: crate::ops::instances::latest_heartbeat(i)
            .map(|h| h.hostname.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::machineid::{
        BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
    };

    fn instance(joined: SystemTime, latest: SystemTime) -> BotInstance {
        let auth = |t: SystemTime, generation| BotInstanceStatusAuthentication {
            authenticated_at: Some(t.into()),
            generation,
            ..Default::default()
        };
        BotInstance {
            spec: Some(BotInstanceSpec {
                bot_name: "b".into(),
                instance_id: "i".into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(auth(joined, 1)),
                latest_authentications: vec![auth(joined, 1), auth(latest, 2)],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn join_and_renewal_times_are_told_apart() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let i = instance(t0, t0 + Duration::from_secs(600));
        assert!(joined_after(&i, t0));
        assert!(!joined_after(&i, t0 + Duration::from_secs(1)));
        assert!(renewed_after(&i, t0 + Duration::from_secs(599)));
        assert!(!renewed_after(&i, t0 + Duration::from_secs(601)));
        assert_eq!(seen(&i).generation, Some(2));
    }

    #[tokio::test]
    async fn without_wait_there_is_no_sleep() {
        assert!(!sleep_until(None).await);
        assert!(!sleep_until(Some(Instant::now())).await);
    }
}

//! `bots instances add`: a new one-time join token for an existing bot, and the locks that bear
//! on the join (those on its user or role refuse it; the others do not).

use std::time::Duration;

use mwi_proto::machineid::Bot;
use mwi_proto::types::{LockTarget, LockV2};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::tokens::{IssuedToken, issue_bot_token};
use crate::ops::unlock::{BlockingLock, bot_resource_name, find_blocking_locks};

use super::calls::get;

/// A new one-time join token for an existing bot, and the locks that bear on the join.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub bot: Fetched<Bot>,
    pub token: IssuedToken,
    /// Locks on the bot's user or role: the join is refused while any is in force.
    pub refusing: Vec<BlockingLock>,
    /// Other locks of the bot (older instances, join tokens): they do not stop this join.
    pub other_locks: Vec<BlockingLock>,
}

/// Issues a one-time token for bot `bot` (which must exist) valid for `ttl`, after reading the
/// locks that would refuse the join, so the caller can warn before anyone restarts tbot.
pub async fn add_instance(
    client: &Client,
    bot: &str,
    ttl: Duration,
) -> Result<Ticket, CommandError> {
    let found = get(client, bot).await?;
    let (refusing, other_locks) = find_blocking_locks(client, bot)
        .await?
        .into_iter()
        .partition(|l| refuses_join(&l.lock.value, bot));
    let token = issue_bot_token(client, bot, ttl).await?;
    Ok(Ticket {
        bot: found,
        token,
        refusing,
        other_locks,
    })
}

/// Whether `lock` refuses any new join of `bot`: it targets the bot's user or role, which every
/// certificate the join issues carries.
pub fn refuses_join(lock: &LockV2, bot: &str) -> bool {
    let user = bot_resource_name(bot);
    let target: LockTarget = lock
        .spec
        .as_ref()
        .and_then(|s| s.target.clone())
        .unwrap_or_default();
    target.user == user || target.role == user
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::LockSpecV2;

    #[test]
    fn only_user_and_role_locks_refuse_a_join() {
        let on = |target: LockTarget| LockV2 {
            spec: Some(LockSpecV2 {
                target: Some(target),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(refuses_join(
            &on(LockTarget {
                user: "bot-example".into(),
                ..Default::default()
            }),
            "example"
        ));
        assert!(refuses_join(
            &on(LockTarget {
                role: "bot-example".into(),
                ..Default::default()
            }),
            "example"
        ));
        assert!(!refuses_join(
            &on(LockTarget {
                bot_instance_id: "old".into(),
                ..Default::default()
            }),
            "example"
        ));
    }
}

//! The fleet overview behind `bots ls`: every bot with its lock state, instance counts and
//! tokens, folded from one pass over the fleet, and the health that stands out.

use std::time::{Duration, SystemTime};

use mwi_proto::machineid::{Bot, BotInstance};
use mwi_proto::types::ProvisionTokenV2;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair::Headroom;
use crate::ops::fleet::{self, Fold, LockHit};

use super::spec::{bot_name, logins, max_session_ttl, user_and_role};

/// One bot in the fleet overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotSummary {
    pub name: String,
    pub user_name: String,
    pub role_name: String,
    pub roles: Vec<String>,
    pub logins: Vec<String>,
    pub max_session_ttl: Option<Duration>,
    /// Names of the in-force locks that block it (its user or role, a live instance, a token).
    pub locks: Vec<String>,
    /// Instance records the server still has.
    pub instances: usize,
    /// Of those, the ones holding a usable identity.
    pub live_instances: usize,
    /// Unexpired join tokens for it.
    pub tokens: usize,
    /// The join methods of those tokens, sorted, each once.
    pub join_methods: Vec<String>,
    /// The recovery headroom of its bound-keypair tokens, fewest recoveries left first.
    pub bound_tokens: Vec<Headroom>,
}

/// What stands out about a bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// An in-force lock blocks it.
    Locked,
    /// Not locked, but no instance holds a usable identity: tbot is not running, or its identity
    /// expired and needs a new token.
    NoLiveInstance,
}

impl Health {
    /// The value in JSON: `ok`, `locked`, `no_live_instance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Locked => "locked",
            Health::NoLiveInstance => "no_live_instance",
        }
    }

    /// The value in tables, loud when something is wrong.
    pub fn text(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Locked => "LOCKED",
            Health::NoLiveInstance => "no live instance",
        }
    }
}

impl BotSummary {
    pub fn health(&self) -> Health {
        health(self.locks.len(), self.live_instances)
    }
}

pub(super) fn health(locks: usize, live: usize) -> Health {
    if locks > 0 {
        Health::Locked
    } else if live == 0 {
        Health::NoLiveInstance
    } else {
        Health::Ok
    }
}

/// Folds the fleet pass into `bots ls` rows.
struct OverviewFold {
    now: SystemTime,
}

impl Fold for OverviewFold {
    type Bot = BotSummary;

    fn bot(&mut self, bot: Bot) -> BotSummary {
        let (user_name, role_name) = user_and_role(&bot);
        let name = bot_name(&bot).to_owned();
        let spec = bot.spec.unwrap_or_default();
        BotSummary {
            name,
            user_name,
            role_name,
            logins: logins(&spec),
            max_session_ttl: max_session_ttl(&spec),
            roles: spec.roles,
            locks: Vec::new(),
            instances: 0,
            live_instances: 0,
            tokens: 0,
            join_methods: Vec::new(),
            bound_tokens: Vec::new(),
        }
    }

    fn token(&mut self, summary: &mut BotSummary, token: &ProvisionTokenV2, _name: &str) {
        let unexpired = token
            .metadata
            .as_ref()
            .and_then(|m| m.expires)
            .is_none_or(|e| SystemTime::try_from(e).is_ok_and(|e| e > self.now));
        let Some(spec) = token.spec.as_ref().filter(|_| unexpired) else {
            return;
        };
        summary.tokens += 1;
        if let Err(at) = summary.join_methods.binary_search(&spec.join_method) {
            summary.join_methods.insert(at, spec.join_method.clone());
        }
        if let Some(headroom) = Headroom::of(token) {
            let at = summary
                .bound_tokens
                .partition_point(|h| least_headroom_first(h) <= least_headroom_first(&headroom));
            summary.bound_tokens.insert(at, headroom);
        }
    }

    fn instance(&mut self, summary: &mut BotSummary, _instance: &BotInstance, live: bool) {
        summary.instances += 1;
        summary.live_instances += usize::from(live);
    }

    fn lock(&mut self, summary: &mut BotSummary, hit: LockHit) {
        summary.locks.push(hit.name().to_owned());
    }
}

/// Every bot with its lock state, instance counts and tokens, sorted by name, from one pass over
/// the fleet (`ops::fleet`): the same reads however many bots there are, each lock matched to
/// its bots in memory.
pub async fn overview(client: &Client, now: SystemTime) -> Result<Vec<BotSummary>, CommandError> {
    let fleet = fleet::read(client, now, &mut OverviewFold { now }).await?;
    Ok(fleet
        .bots
        .into_iter()
        .map(|(_, mut summary)| {
            summary.locks.sort();
            summary
        })
        .collect())
}

/// Orders tokens by recoveries left (an unlimited mode last), then by name.
pub(super) fn least_headroom_first(h: &Headroom) -> (u32, String) {
    (h.recoveries_left.unwrap_or(u32::MAX), h.token.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_fewer_recoveries_left_come_first_and_unlimited_ones_last() {
        let h = |token: &str, left: Option<u32>| Headroom {
            token: token.into(),
            recovery_mode: if left.is_some() {
                "standard"
            } else {
                "relaxed"
            }
            .into(),
            recovery_count: 0,
            recovery_limit: 3,
            recoveries_left: left,
            insecure: None,
        };
        let mut all = [
            h("a", None),
            h("b", Some(2)),
            h("c", Some(0)),
            h("d", Some(2)),
        ];
        all.sort_by_key(least_headroom_first);
        let names: Vec<&str> = all.iter().map(|h| h.token.as_str()).collect();
        assert_eq!(names, ["c", "b", "d", "a"]);
    }

    #[test]
    fn health_puts_locks_before_liveness() {
        assert_eq!(health(1, 0), Health::Locked);
        assert_eq!(health(0, 0), Health::NoLiveInstance);
        assert_eq!(health(0, 2), Health::Ok);
    }
}

//! The fleet overview behind `bots ls`: every bot with its lock state, instance counts and
//! tokens, read in a few calls however many bots there are, and the health that stands out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use mwi_proto::machineid::Bot;
use mwi_proto::types::{LockTarget, LockV2};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::bound_keypair::Headroom;
use crate::ops::instances;
use crate::ops::unlock::{BotTargets, bot_resource_name, lock_name};

use super::spec::{bot_name, logins, max_session_ttl, user_and_role};

/// How many lock targets one `GetLocks` carries when asking about the whole fleet.
const TARGETS_PER_CALL: usize = 500;

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

fn summary_of(bot: &Bot) -> BotSummary {
    let spec = bot.spec.clone().unwrap_or_default();
    let (user_name, role_name) = user_and_role(bot);
    BotSummary {
        name: bot_name(bot).to_owned(),
        user_name,
        role_name,
        roles: spec.roles.clone(),
        logins: logins(&spec),
        max_session_ttl: max_session_ttl(&spec),
        locks: Vec::new(),
        instances: 0,
        live_instances: 0,
        tokens: 0,
        join_methods: Vec::new(),
        bound_tokens: Vec::new(),
    }
}

/// Every bot with its lock state, instance counts and tokens, sorted by name. It reads the bots,
/// the tokens and every instance record (streamed, counting), then asks for the locks that
/// target any bot's user, role, live instance or token in a few `GetLocks` calls (never one per
/// bot).
pub async fn overview(client: &Client, now: SystemTime) -> Result<Vec<BotSummary>, CommandError> {
    let (bots, tokens) = tokio::try_join!(client.bots().collect_all(), client.get_tokens())?;
    let mut summaries: Vec<BotSummary> = bots.iter().map(|b| summary_of(&b.value)).collect();
    summaries.sort_by(|a, b| a.name.cmp(&b.name));
    let index: HashMap<String, usize> = summaries
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    let mut targets: Vec<BotTargets> = summaries
        .iter()
        .map(|s| BotTargets {
            bot: s.name.clone(),
            user: bot_resource_name(&s.name),
            instance_ids: BTreeSet::new(),
            join_tokens: BTreeSet::new(),
        })
        .collect();
    for token in &tokens {
        let (Some(spec), Some(meta)) = (&token.value.spec, &token.value.metadata) else {
            continue;
        };
        let unexpired = meta
            .expires
            .is_none_or(|e| SystemTime::try_from(e).is_ok_and(|e| e > now));
        if let Some(&i) = index.get(&spec.bot_name)
            && unexpired
        {
            let summary = &mut summaries[i];
            summary.tokens += 1;
            if !summary.join_methods.contains(&spec.join_method) {
                summary.join_methods.push(spec.join_method.clone());
            }
            summary.bound_tokens.extend(Headroom::of(&token.value));
            targets[i].join_tokens.insert(meta.name.clone());
        }
    }
    for summary in &mut summaries {
        summary.join_methods.sort();
        summary.bound_tokens.sort_by_key(least_headroom_first);
    }
    let mut pager = client.bot_instances(None);
    while let Some(page) = pager.next_page().await? {
        for instance in page {
            let spec = instance.value.spec.clone().unwrap_or_default();
            let Some(&i) = index.get(&spec.bot_name) else {
                continue;
            };
            summaries[i].instances += 1;
            // A lock on an instance that no longer holds an identity blocks nothing.
            if instances::is_live(&instance.value, now) {
                summaries[i].live_instances += 1;
                targets[i].instance_ids.insert(spec.instance_id);
            }
        }
    }
    let filters: Vec<LockTarget> = targets.iter().flat_map(BotTargets::filters).collect();
    let mut locks: BTreeMap<String, Fetched<LockV2>> = BTreeMap::new();
    for chunk in filters.chunks(TARGETS_PER_CALL) {
        for lock in client.get_locks(chunk.to_vec(), true).await? {
            let name = lock_name(&lock.value).to_owned();
            locks.insert(name, lock);
        }
    }
    for (name, lock) in &locks {
        let target = lock
            .value
            .spec
            .as_ref()
            .and_then(|s| s.target.clone())
            .unwrap_or_default();
        for (i, t) in targets.iter().enumerate() {
            if t.reason(&target).is_some() {
                summaries[i].locks.push(name.clone());
            }
        }
    }
    Ok(summaries)
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

//! The fleet in one pass, behind `triage`, `fleet serve` and `bots ls`: every bot, role, join
//! token, bot instance and in-force lock read once (a page per call where the server pages, never
//! a call per bot) and joined per bot in memory; what a reader keeps of each bot is its own.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use mwi_proto::machineid::{Bot, BotInstance};
use mwi_proto::types::{LockTarget, LockV2, ProvisionTokenV2};

use crate::client::{Client, ServerInfo};
use crate::error::CommandError;
use crate::ops::bots::bot_name;
use crate::ops::instances::is_live;
use crate::ops::unlock::{Blocks, bot_resource_name};
use crate::resource::lock_target_text;

/// What a fleet-wide reader keeps of each bot while the listings stream by. The pass calls
/// `bot` for each bot, then `token` for each of its join tokens, `instance` for each of its
/// instance records and `lock` for each in-force lock that blocks it.
pub trait Fold {
    /// The reader's record of one bot.
    type Bot;
    /// The server that answers, before any bot.
    fn server(&mut self, _server: &ServerInfo) {}
    fn bot(&mut self, bot: Bot) -> Self::Bot;
    fn token(&mut self, bot: &mut Self::Bot, token: &ProvisionTokenV2, name: &str);
    /// `live`: the instance holds a usable identity ([`is_live`]).
    fn instance(&mut self, bot: &mut Self::Bot, instance: &BotInstance, live: bool);
    fn lock(&mut self, bot: &mut Self::Bot, hit: LockHit);
}

/// An in-force lock that blocks a bot, compact because a fleet may hold 100,000 of them: the
/// lock's name and its targets that can block a bot in one string, and which of them block this
/// bot. Worded on demand: [`LockHit::target_text`] as `tctl get lock` shows the target,
/// [`LockHit::why`] as `mwictl unlock` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHit {
    /// The name, user, role, bot instance ID and join token, end to end.
    text: Box<str>,
    /// Where each of the first four ends in `text`.
    ends: [u32; 4],
    blocks: Blocks,
}

impl LockHit {
    pub fn new(name: &str, target: &LockTarget, blocks: Blocks) -> LockHit {
        let parts = [
            name,
            &target.user,
            &target.role,
            &target.bot_instance_id,
            &target.join_token,
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0; 4];
        for (i, part) in parts.into_iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(i) {
                *end = text.len() as u32;
            }
        }
        LockHit {
            text: text.into_boxed_str(),
            ends,
            blocks,
        }
    }

    fn part(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
        let end = self.ends.get(i).map_or(self.text.len(), |&e| e as usize);
        &self.text[start..end]
    }

    pub fn name(&self) -> &str {
        self.part(0)
    }

    /// The lock's targets that can block a bot (its user, role, bot instance and join token).
    pub fn target(&self) -> LockTarget {
        LockTarget {
            user: self.part(1).to_owned(),
            role: self.part(2).to_owned(),
            bot_instance_id: self.part(3).to_owned(),
            join_token: self.part(4).to_owned(),
            ..Default::default()
        }
    }

    /// [`LockHit::target`] as `tctl get lock` shows it.
    pub fn target_text(&self) -> String {
        lock_target_text(&self.target())
    }

    /// Which of bot `bot`'s targets the lock hits, as `mwictl unlock` says it.
    pub fn why(&self, bot: &str) -> String {
        self.blocks.text(bot, &self.target()).unwrap_or_default()
    }
}

/// The fleet as one pass read it: each bot's record (sorted by bot name), the roles that exist
/// and the server that answered.
#[derive(Debug)]
pub struct Fleet<B> {
    pub server: ServerInfo,
    pub bots: Vec<(String, B)>,
    pub roles: HashSet<String>,
    /// RPCs the pass sent: a handful per listing page.
    pub rpcs: usize,
}

/// Reads the fleet at `now`, folding each bot's tokens, instances and blocking locks into its
/// record. Bots, roles and tokens are read together; then the instances, page by page, keeping
/// only which bot each live instance belongs to; then the in-force locks, one at a time as
/// `GetLocks` answers (it has no pages), each matched to the bots it can block through indexes
/// by user, role, token and instance, so memory grows with bots and live instances, not with the
/// listings.
pub async fn read<F: Fold>(
    client: &Client,
    now: SystemTime,
    fold: &mut F,
) -> Result<Fleet<F::Bot>, CommandError> {
    let before = client.rpc_count();
    let collect_bots = async {
        let mut bots = Vec::new();
        let mut pager = client.bots();
        while let Some(page) = pager.next_page().await? {
            bots.extend(page.into_iter().map(|b| b.value));
        }
        Ok(bots)
    };
    let role_names = async {
        let mut names = HashSet::new();
        let mut pager = client.roles();
        while let Some(page) = pager.next_page().await? {
            names.extend(
                page.into_iter()
                    .filter_map(|r| r.value.metadata.map(|m| m.name)),
            );
        }
        Ok(names)
    };
    let (server, bots, roles, tokens) = tokio::try_join!(
        client.server(),
        collect_bots,
        role_names,
        client.get_tokens(),
    )?;
    fold.server(server);
    let mut bots: Vec<(String, F::Bot)> = bots
        .into_iter()
        .map(|bot| (bot_name(&bot).to_owned(), fold.bot(bot)))
        .collect();
    bots.sort_by(|a, b| a.0.cmp(&b.0));
    let index: HashMap<String, u32> = bots
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), i as u32))
        .collect();
    let mut owners = Owners::of(bots.iter().map(|(name, _)| name.as_str()));

    for token in tokens {
        let token = token.value;
        let Some(&i) = token.spec.as_ref().and_then(|s| index.get(&s.bot_name)) else {
            continue;
        };
        let name = token
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        fold.token(&mut bots[i as usize].1, &token, &name);
        owners.token.insert(name.into(), i);
    }

    let mut pager = client.bot_instances(None);
    while let Some(page) = pager.next_page().await? {
        for instance in page {
            let instance = instance.value;
            let Some((&i, id)) = instance
                .spec
                .as_ref()
                .and_then(|s| Some((index.get(&s.bot_name)?, &s.instance_id)))
            else {
                continue;
            };
            let live = is_live(&instance, now);
            owners.add_instance(id, live, i);
            fold.instance(&mut bots[i as usize].1, &instance, live);
        }
    }

    client
        .for_each_lock(true, |lock| {
            for (i, hit) in owners.hits(lock, |i| bots[i as usize].0.as_str()) {
                fold.lock(&mut bots[i as usize].1, hit);
            }
        })
        .await?;

    Ok(Fleet {
        server: server.clone(),
        bots,
        roles,
        rpcs: client.rpc_count() - before,
    })
}

/// Which bot (by index) each bot user or role, join token and live instance belongs to.
#[derive(Default)]
struct Owners {
    /// `bot-NAME`, the name of both the bot's user and its role.
    by_user: HashMap<Box<str>, u32>,
    token: HashMap<Box<str>, u32>,
    instance: HashMap<Box<str>, u32>,
}

impl Owners {
    /// The owners of the bots named in order (bot `i` is the `i`th), before any token or
    /// instance is known.
    fn of<'a>(bots: impl Iterator<Item = &'a str>) -> Owners {
        Owners {
            by_user: bots
                .enumerate()
                .map(|(i, name)| (bot_resource_name(name).into(), i as u32))
                .collect(),
            ..Default::default()
        }
    }

    /// Records that bot `i` has instance `id`. A lock on an instance that no longer holds an
    /// identity blocks nothing, so only a live one is recorded.
    fn add_instance(&mut self, id: &str, live: bool, i: u32) {
        if live && !id.is_empty() {
            self.instance.insert(id.into(), i);
        }
    }

    /// The bots `lock` blocks, each with how; `name_of` gives a bot's name by index.
    fn hits<'a>(&self, lock: LockV2, name_of: impl Fn(u32) -> &'a str) -> Vec<(u32, LockHit)> {
        let name = lock.metadata.map(|m| m.name).unwrap_or_default();
        let target = lock.spec.and_then(|s| s.target).unwrap_or_default();
        let mut candidates: Vec<u32> = [
            self.by_user.get(target.user.as_str()),
            self.by_user.get(target.role.as_str()),
            self.token.get(target.join_token.as_str()),
            self.instance.get(target.bot_instance_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .copied()
        .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|i| {
                let blocks = Blocks::of(
                    name_of(i),
                    &target,
                    |id| self.instance.get(id) == Some(&i),
                    |token| self.token.get(token) == Some(&i),
                );
                blocks
                    .any()
                    .then(|| (i, LockHit::new(&name, &target, blocks)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(name: &str, target: LockTarget) -> LockV2 {
        LockV2 {
            metadata: Some(mwi_proto::types::Metadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(mwi_proto::types::LockSpecV2 {
                target: Some(target),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn owners() -> Owners {
        let mut owners = Owners::of(["a", "b"].into_iter());
        owners.token.insert("tok-b".into(), 1);
        owners.add_instance("i-a", true, 0);
        owners.add_instance("i-gone", false, 0);
        owners.add_instance("", true, 1);
        owners
    }

    fn hits(target: LockTarget) -> Vec<(u32, String)> {
        let names = ["a", "b"];
        owners()
            .hits(lock("l", target), |i| names[i as usize])
            .into_iter()
            .map(|(i, hit)| (i, hit.why(names[i as usize])))
            .collect()
    }

    #[test]
    fn a_lock_blocks_only_the_bots_whose_targets_it_names() {
        let user = |u: &str| LockTarget {
            user: u.into(),
            ..Default::default()
        };
        assert_eq!(hits(user("alice")), [], "a lock on a person is no bot's");
        assert_eq!(
            hits(user("bot-a")),
            [(0, "targets the bot user bot-a".to_owned())]
        );
        let role = LockTarget {
            role: "bot-b".into(),
            ..Default::default()
        };
        assert_eq!(hits(role), [(1, "targets the bot role bot-b".to_owned())]);
        let instance = LockTarget {
            bot_instance_id: "i-a".into(),
            ..Default::default()
        };
        assert_eq!(
            hits(instance),
            [(0, "targets bot instance a/i-a".to_owned())]
        );
        let unknown_instance = LockTarget {
            bot_instance_id: "i-gone".into(),
            ..Default::default()
        };
        assert_eq!(hits(unknown_instance), []);
        let token = LockTarget {
            join_token: "tok-b".into(),
            ..Default::default()
        };
        assert_eq!(
            hits(token),
            [(1, "targets a join token of bot b".to_owned())]
        );
    }

    #[test]
    fn a_lock_on_a_bots_user_and_role_is_one_hit_showing_only_bot_targets() {
        let both = LockTarget {
            user: "bot-a".into(),
            role: "bot-a".into(),
            login: "root".into(),
            ..Default::default()
        };
        let names = ["a", "b"];
        let got = owners().hits(lock("l", both), |i| names[i as usize]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 0);
        assert_eq!(
            got[0].1.why("a"),
            "targets the bot user bot-a; targets the bot role bot-a"
        );
        assert_eq!(got[0].1.target_text(), "User:\"bot-a\" Role:\"bot-a\"");
        assert_eq!(got[0].1.name(), "l");
    }

    #[test]
    fn only_live_instances_are_owned() {
        let o = owners();
        assert_eq!(
            o.instance.len(),
            1,
            "neither the expired nor the ID-less one"
        );
        assert_eq!(o.instance.get("i-a"), Some(&0));
    }

    #[test]
    fn a_hit_shows_and_says_every_kind_of_target() {
        let target = LockTarget {
            user: "bot-b".into(),
            role: "bot-b".into(),
            bot_instance_id: "i-b".into(),
            join_token: "tok-b".into(),
            ..Default::default()
        };
        let all = Blocks {
            user: true,
            role: true,
            instance: true,
            token: true,
        };
        let hit = LockHit::new("l", &target, all);
        assert_eq!(hit.name(), "l");
        assert_eq!(hit.target(), target);
        assert_eq!(
            hit.target_text(),
            "User:\"bot-b\" Role:\"bot-b\" BotInstanceID:\"i-b\" JoinToken:\"tok-b\""
        );
        assert_eq!(
            hit.why("b"),
            "targets the bot user bot-b; targets the bot role bot-b; targets bot instance b/i-b; targets a join token of bot b"
        );
    }
}

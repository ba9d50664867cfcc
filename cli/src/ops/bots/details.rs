//! One bot as `bots show` prints it: the bot, the in-force locks that block it (and why), its
//! instances with their lock state, and its join tokens.

use std::collections::BTreeSet;
use std::time::SystemTime;

use mwi_proto::machineid::Bot;
use mwi_proto::types::LockV2;

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::ops::bound_keypair::Headroom;
use crate::ops::instances::{self, InstanceRow};
use crate::ops::unlock::{BlockingLock, BotTargets, bot_resource_name};

use super::calls::get;
use super::overview::{Health, health};

/// A join token of a bot, as `bots show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotToken {
    /// The token's name; for join method `token` it is the secret: show it masked.
    pub name: String,
    pub expires: Option<prost_types::Timestamp>,
    pub join_method: String,
    /// For a bound-keypair token, its recovery headroom.
    pub headroom: Option<Headroom>,
}

/// Everything `bots show` prints about one bot.
#[derive(Debug, Clone)]
pub struct BotDetails {
    pub bot: Fetched<Bot>,
    pub locks: Vec<BlockingLock>,
    pub instances: Vec<InstanceRow>,
    pub live_instances: usize,
    pub tokens: Vec<BotToken>,
    /// Roles of the bot that do not exist (deleted since): the bot cannot use them.
    pub missing_roles: Vec<String>,
}

impl BotDetails {
    pub fn health(&self) -> Health {
        health(self.locks.len(), self.live_instances)
    }
}

/// Bot `name` with its in-force locks (and why each blocks it), its instances and its tokens.
pub async fn details(
    client: &Client,
    name: &str,
    now: SystemTime,
) -> Result<BotDetails, CommandError> {
    let bot = get(client, name).await?;
    let instances_and_live = async {
        let mut all = Vec::new();
        let mut live_ids = BTreeSet::new();
        let mut pager = client.bot_instances(Some(name));
        while let Some(page) = pager.next_page().await? {
            for i in page {
                let spec = i.value.spec.clone().unwrap_or_default();
                if spec.bot_name != name {
                    continue;
                }
                if instances::is_live(&i.value, now) {
                    live_ids.insert(spec.instance_id.clone());
                }
                all.push(i.value);
            }
        }
        Ok::<_, ClientError>((all, live_ids))
    };
    let (records, tokens) = tokio::try_join!(instances_and_live, client.get_tokens())?;
    let (records, live_ids) = records;
    let tokens: Vec<BotToken> = tokens
        .into_iter()
        .filter(|t| t.value.spec.as_ref().is_some_and(|s| s.bot_name == name))
        .filter_map(|t| {
            let headroom = Headroom::of(&t.value);
            let join_method = t.value.spec.as_ref()?.join_method.clone();
            let m = t.value.metadata?;
            Some(BotToken {
                name: m.name,
                expires: m.expires,
                join_method,
                headroom,
            })
        })
        .collect();
    let targets = BotTargets {
        bot: name.to_owned(),
        user: bot_resource_name(name),
        instance_ids: records
            .iter()
            .filter_map(|i| i.spec.as_ref().map(|s| s.instance_id.clone()))
            .collect(),
        join_tokens: tokens.iter().map(|t| t.name.clone()).collect(),
    };
    let locks = targets.find_locks(client, true).await?;
    let mut missing_roles = Vec::new();
    for role in bot
        .value
        .spec
        .as_ref()
        .map(|s| s.roles.as_slice())
        .unwrap_or_default()
    {
        match client.get_role(role).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => missing_roles.push(role.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    let fetched: Vec<Fetched<LockV2>> = locks.iter().map(|l| l.lock.clone()).collect();
    let locked = instances::locked_ids_of(&fetched);
    let instances = records
        .iter()
        .map(|i| instances::instance_row(i, &locked))
        .collect();
    Ok(BotDetails {
        bot,
        locks,
        instances,
        live_instances: live_ids.len(),
        tokens,
        missing_roles,
    })
}

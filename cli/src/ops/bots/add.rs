//! `bots add`: the Bot message tctl sends for a new bot, the checks before creating it, and the
//! creation itself (stale locks removed first, then a join token, bound-keypair by default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mwi_proto::machineid::{Bot, BotSpec};
use mwi_proto::teleport::header::v1::Metadata;
use mwi_proto::types::LockV2;

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::unlock::{BlockingLock, find_blocking_locks, remove_locks_reporting};

use super::calls::{already_exists, bot_error, check_roles_exist, create, token_failed};
use super::join::{IssuedJoin, NewJoin, issue_join};
use super::spec::set_logins;

/// A bot to create, as `bots add` takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewBot {
    pub name: String,
    pub roles: Vec<String>,
    pub logins: Vec<String>,
    pub max_session_ttl: Option<Duration>,
}

impl NewBot {
    /// The Bot message `tctl bots add` sends: kind bot, version v1, roles, the `logins` trait,
    /// and the max session TTL when given.
    pub fn message(&self) -> Bot {
        let mut spec = BotSpec {
            roles: self.roles.clone(),
            max_session_ttl: self
                .max_session_ttl
                .and_then(|d| prost_types::Duration::try_from(d).ok()),
            ..Default::default()
        };
        set_logins(&mut spec, self.logins.clone());
        Bot {
            kind: "bot".into(),
            version: "v1".into(),
            metadata: Some(Metadata {
                name: self.name.clone(),
                ..Default::default()
            }),
            spec: Some(spec),
            ..Default::default()
        }
    }
}

/// Checks before `bots add` changes anything: the bot must not exist (exit 5) and its roles
/// must (exit 3). Returns the locks already in force against the name, which a deleted bot
/// leaves behind and which would block the new one.
pub async fn preflight_add(
    client: &Client,
    new: &NewBot,
) -> Result<Vec<BlockingLock>, CommandError> {
    match client.get_bot(&new.name).await {
        Ok(_) => return Err(already_exists(&new.name)),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(bot_error(e, &new.name)),
    }
    check_roles_exist(client, &new.roles).await?;
    find_blocking_locks(client, &new.name).await
}

/// What `bots add` did.
#[derive(Debug, Clone)]
pub struct Added {
    pub bot: Fetched<Bot>,
    pub token: IssuedJoin,
    /// Locks removed before creating the bot, and their backup.
    pub removed_locks: Vec<String>,
    pub locks_backup: Option<PathBuf>,
}

/// Removes `stale_locks` (backed up into `backup_dir` first), creates the bot and issues the
/// join token `join` describes.
pub async fn add(
    client: &Client,
    new: &NewBot,
    stale_locks: &[Fetched<LockV2>],
    backup_dir: &Path,
    join: &NewJoin,
) -> Result<Added, CommandError> {
    let stem = format!("bots-add-{}", new.name);
    let removed = remove_locks_reporting(client, stale_locks, backup_dir, &stem, |_| {}).await?;
    let bot = create(client, &new.name, &new.message()).await?;
    let token = issue_join(client, &new.name, join)
        .await
        .map_err(|e| token_failed(e, &new.name, "created"))?;
    Ok(Added {
        bot,
        token,
        locks_backup: removed.backup(),
        removed_locks: removed.deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::bots::fixtures::strings;
    use crate::ops::bots::spec::bot_name;
    use mwi_proto::machineid::Trait;

    #[test]
    fn a_new_bot_is_what_tctl_sends() {
        let bot = NewBot {
            name: "example".into(),
            roles: strings(&["access"]),
            logins: strings(&["root"]),
            max_session_ttl: Some(Duration::from_secs(12 * 3600)),
        }
        .message();
        assert_eq!(bot.kind, "bot");
        assert_eq!(bot.version, "v1");
        assert_eq!(bot_name(&bot), "example");
        let spec = bot.spec.unwrap();
        assert_eq!(spec.roles, ["access"]);
        assert_eq!(
            spec.traits,
            [Trait {
                name: "logins".into(),
                values: strings(&["root"])
            }]
        );
        assert_eq!(spec.max_session_ttl.unwrap().seconds, 43_200);
    }

    #[test]
    fn a_new_bot_without_logins_has_no_traits() {
        let bot = NewBot {
            name: "b".into(),
            ..Default::default()
        }
        .message();
        assert!(bot.spec.unwrap().traits.is_empty());
    }
}

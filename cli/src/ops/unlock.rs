//! Finding the locks that block a bot, whatever their target kind (its user and role `bot-NAME`,
//! its bot instances, its join tokens), and removing locks with a backup written first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mwi_proto::types::{LockTarget, LockV2};

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::resource::{Resource, render_yaml};

/// A lock that blocks a bot, and why it matches (e.g. "targets the bot user bot-example").
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingLock {
    pub lock: Fetched<LockV2>,
    pub reason: String,
}

impl BlockingLock {
    pub fn name(&self) -> &str {
        lock_name(&self.lock.value)
    }
}

/// Everything a lock can target to block one bot: its user and role, the IDs of its bot
/// instances, and its join tokens, as the server knows them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotTargets {
    pub bot: String,
    /// `bot-NAME`: the name of both the bot's user and its role.
    pub user: String,
    pub instance_ids: BTreeSet<String>,
    pub join_tokens: BTreeSet<String>,
}

pub use mwi_identity::bot_resource_name;

impl BotTargets {
    /// Reads the bot's instances and join tokens (concurrently). Works for a deleted bot too:
    /// its locks and instance records outlive it.
    pub async fn collect(client: &Client, bot: &str) -> Result<BotTargets, CommandError> {
        let instances = async {
            let mut ids = BTreeSet::new();
            let mut pager = client.bot_instances(Some(bot));
            while let Some(page) = pager.next_page().await? {
                ids.extend(
                    page.into_iter()
                        .filter_map(|i| i.value.spec)
                        .filter(|s| s.bot_name == bot)
                        .map(|s| s.instance_id)
                        .filter(|id| !id.is_empty()),
                );
            }
            Ok::<_, ClientError>(ids)
        };
        let tokens = async {
            let tokens = client.get_tokens().await?;
            Ok::<_, ClientError>(
                tokens
                    .into_iter()
                    .filter(|t| t.value.spec.as_ref().is_some_and(|s| s.bot_name == bot))
                    .filter_map(|t| t.value.metadata.map(|m| m.name))
                    .filter(|name| !name.is_empty())
                    .collect::<BTreeSet<_>>(),
            )
        };
        let (instance_ids, join_tokens) = tokio::try_join!(instances, tokens)?;
        Ok(BotTargets {
            bot: bot.to_owned(),
            user: bot_resource_name(bot),
            instance_ids,
            join_tokens,
        })
    }

    /// The server-side filter: a lock matches when it targets any of these.
    pub fn filters(&self) -> Vec<LockTarget> {
        let mut filters = vec![
            LockTarget {
                user: self.user.clone(),
                ..Default::default()
            },
            LockTarget {
                role: self.user.clone(),
                ..Default::default()
            },
        ];
        filters.extend(self.instance_ids.iter().map(|id| LockTarget {
            bot_instance_id: id.clone(),
            ..Default::default()
        }));
        filters.extend(self.join_tokens.iter().map(|token| LockTarget {
            join_token: token.clone(),
            ..Default::default()
        }));
        filters
    }

    /// Why `target` blocks this bot, or `None` if it does not.
    pub fn reason(&self, target: &LockTarget) -> Option<String> {
        blocking_reason(
            &self.bot,
            target,
            |id| self.instance_ids.contains(id),
            |token| self.join_tokens.contains(token),
        )
    }

    /// The locks that target the bot, asked of the server with its target filter (only those in
    /// force when `in_force_only`).
    pub async fn find_locks(
        &self,
        client: &Client,
        in_force_only: bool,
    ) -> Result<Vec<BlockingLock>, CommandError> {
        let locks = client.get_locks(self.filters(), in_force_only).await?;
        Ok(self.explain(locks, false))
    }

    /// Like [`BotTargets::find_locks`], but downloads every lock and also matches a lock on a
    /// `bot_instance_id` whose message names `bot instance NAME/ID`: that finds locks on
    /// instances whose record has already expired, which the filter cannot.
    pub async fn scan_all(
        &self,
        client: &Client,
        in_force_only: bool,
    ) -> Result<Vec<BlockingLock>, CommandError> {
        let locks = client.get_locks(Vec::new(), in_force_only).await?;
        Ok(self.explain(locks, true))
    }

    fn explain(&self, locks: Vec<Fetched<LockV2>>, by_message: bool) -> Vec<BlockingLock> {
        let mut found: Vec<BlockingLock> = locks
            .into_iter()
            .filter_map(|lock| {
                let spec = lock.value.spec.as_ref();
                let target = spec.and_then(|s| s.target.clone()).unwrap_or_default();
                let reason = self.reason(&target).or_else(|| {
                    let message = spec.map_or("", |s| s.message.as_str());
                    by_message
                        .then(|| self.reason_from_message(&target, message))
                        .flatten()
                })?;
                Some(BlockingLock { lock, reason })
            })
            .collect();
        found.sort_by(|a, b| created_key(&a.lock.value).cmp(&created_key(&b.lock.value)));
        found
    }

    /// A lock on an instance or join token that no longer exists, matched by its message:
    /// Teleport's "The bot instance NAME/ID has been locked …" names the bot and the instance;
    /// its join-token locks name the bot as `by bot "NAME"` (a join state that failed to verify)
    /// or `mismatch by NAME/ID` (a bound-keypair generation mismatch), per lib/auth/bot.go and
    /// lib/join/boundkeypair of gravitational/teleport.
    fn reason_from_message(&self, target: &LockTarget, message: &str) -> Option<String> {
        let gone = "(it no longer exists, so only --scan-all finds it)";
        if !target.bot_instance_id.is_empty() {
            let named = format!("bot instance {}/{}", self.bot, target.bot_instance_id);
            return message.contains(&named).then(|| {
                format!(
                    "its message names {named} (the instance record is gone, so only --scan-all finds it)"
                )
            });
        }
        if target.join_token.is_empty() {
            return None;
        }
        let by_bot = format!("by bot {:?} ", self.bot);
        let by_instance = format!("mismatch by {}/", self.bot);
        (message.contains(&by_bot) || message.contains(&by_instance)).then(|| {
            format!(
                "its message names bot {} as the holder of join token {} {gone}",
                self.bot, target.join_token
            )
        })
    }
}

/// Why a lock on `target` blocks bot `bot`, or `None` if it does not: it targets the bot's user
/// or role `bot-NAME`, an instance `owns_instance` says is the bot's, or a join token
/// `owns_token` says is the bot's. The one wording of `unlock`, `locks ls --bot`, `bots ls` and
/// `triage`, whether the bot's instances and tokens are held as sets or as fleet-wide maps.
pub fn blocking_reason(
    bot: &str,
    target: &LockTarget,
    owns_instance: impl Fn(&str) -> bool,
    owns_token: impl Fn(&str) -> bool,
) -> Option<String> {
    Blocks::of(bot, target, owns_instance, owns_token).text(bot, target)
}

/// Which of a lock's targets block a bot: the parts of [`blocking_reason`], kept in a byte by
/// readers that hold many locks and word them later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Blocks {
    pub user: bool,
    pub role: bool,
    pub instance: bool,
    pub token: bool,
}

impl Blocks {
    pub fn of(
        bot: &str,
        target: &LockTarget,
        owns_instance: impl Fn(&str) -> bool,
        owns_token: impl Fn(&str) -> bool,
    ) -> Blocks {
        let user = bot_resource_name(bot);
        Blocks {
            user: target.user == user,
            role: target.role == user,
            instance: !target.bot_instance_id.is_empty() && owns_instance(&target.bot_instance_id),
            token: !target.join_token.is_empty() && owns_token(&target.join_token),
        }
    }

    pub fn any(self) -> bool {
        self.user || self.role || self.instance || self.token
    }

    /// The wording of [`blocking_reason`] for the lock on `target`.
    pub fn text(self, bot: &str, target: &LockTarget) -> Option<String> {
        let user = bot_resource_name(bot);
        let mut reasons = Vec::new();
        if self.user {
            reasons.push(format!("targets the bot user {user}"));
        }
        if self.role {
            reasons.push(format!("targets the bot role {user}"));
        }
        if self.instance {
            reasons.push(format!(
                "targets bot instance {bot}/{}",
                target.bot_instance_id
            ));
        }
        if self.token {
            reasons.push(format!("targets a join token of bot {bot}"));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

/// The locks in force that block bot `bot`: one `GetLocks` with the server-side target filter
/// (its user and role `bot-NAME`, each of its instance IDs, each of its join tokens), never a
/// download of every lock. A lock on an instance whose record has expired is not found this way
/// (see [`BotTargets::scan_all`]).
pub async fn find_blocking_locks(
    client: &Client,
    bot: &str,
) -> Result<Vec<BlockingLock>, CommandError> {
    BotTargets::collect(client, bot)
        .await?
        .find_locks(client, true)
        .await
}

/// Locks removed by [`remove_locks`], and where their backup is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedLocks {
    /// The one YAML file holding every lock that was to be removed (empty when there were none).
    pub backup_path: PathBuf,
    /// The names of the locks this call deleted, in order.
    pub deleted: Vec<String>,
    /// The names of the locks someone else removed after they were read (a racing run).
    pub already_gone: Vec<String>,
}

impl RemovedLocks {
    /// The backup, when there was a lock to remove.
    pub fn backup(&self) -> Option<PathBuf> {
        (!self.backup_path.as_os_str().is_empty()).then(|| self.backup_path.clone())
    }
}

/// What happened to one lock during [`remove_locks_reporting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal<'a> {
    Deleted(&'a str),
    /// Someone else removed it after it was read: not counted as removed by this run.
    AlreadyGone(&'a str),
}

/// Backs up every lock to one YAML file in `backup_dir`, then deletes them one by one. Nothing
/// is deleted unless the backup was written. An empty list writes nothing.
pub async fn remove_locks(
    client: &Client,
    locks: &[Fetched<LockV2>],
    backup_dir: &Path,
) -> Result<RemovedLocks, CommandError> {
    remove_locks_reporting(client, locks, backup_dir, "locks", |_| {}).await
}

/// [`remove_locks`] with the backup named `STEM-TIME.yaml` and `on_each` called after each lock
/// is gone, so a command can print progress as it happens. When a deletion fails, the error says
/// how many were deleted and where the backup is.
pub async fn remove_locks_reporting(
    client: &Client,
    locks: &[Fetched<LockV2>],
    backup_dir: &Path,
    stem: &str,
    mut on_each: impl FnMut(Removal<'_>),
) -> Result<RemovedLocks, CommandError> {
    if locks.is_empty() {
        return Ok(RemovedLocks {
            backup_path: PathBuf::new(),
            deleted: Vec::new(),
            already_gone: Vec::new(),
        });
    }
    let resources: Vec<Resource> = locks
        .iter()
        .map(|l| Resource::Lock(l.value.clone()))
        .collect();
    let backup_path = super::backup::write_backup(backup_dir, stem, &render_yaml(&resources))?;
    let mut deleted = Vec::with_capacity(locks.len());
    let mut already_gone = Vec::new();
    for lock in locks {
        let name = lock_name(&lock.value);
        match client.delete_lock(name).await {
            Ok(()) => {
                on_each(Removal::Deleted(name));
                deleted.push(name.to_owned());
            }
            Err(e) if e.is_not_found() => {
                on_each(Removal::AlreadyGone(name));
                already_gone.push(name.to_owned());
            }
            Err(e) => {
                let cause = CommandError::from(e);
                let mut err = CommandError::new(
                    cause.status,
                    format!(
                        "removed {} of {} locks, then: {}",
                        deleted.len(),
                        locks.len(),
                        cause.message
                    ),
                );
                err.hints = cause.hints;
                return Err(err.hint(format!(
                    "every lock is backed up in {}; restore one with `mwictl create FILE`",
                    backup_path.display()
                )));
            }
        }
    }
    Ok(RemovedLocks {
        backup_path,
        deleted,
        already_gone,
    })
}

pub(crate) fn lock_name(lock: &LockV2) -> &str {
    lock.metadata.as_ref().map_or("", |m| m.name.as_str())
}

fn created_key(lock: &LockV2) -> (i64, i32, &str) {
    let created = lock.spec.as_ref().and_then(|s| s.created_at.as_ref());
    (
        created.map_or(0, |t| t.seconds),
        created.map_or(0, |t| t.nanos),
        lock_name(lock),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{LockSpecV2, Metadata};

    fn targets() -> BotTargets {
        BotTargets {
            bot: "example".into(),
            user: "bot-example".into(),
            instance_ids: ["i-1".to_owned()].into(),
            join_tokens: ["tok".to_owned()].into(),
        }
    }

    fn lock(name: &str, target: LockTarget, message: &str) -> Fetched<LockV2> {
        Fetched {
            value: LockV2 {
                metadata: Some(Metadata {
                    name: name.into(),
                    ..Default::default()
                }),
                spec: Some(LockSpecV2 {
                    target: Some(target),
                    message: message.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            raw: Default::default(),
        }
    }

    #[test]
    fn bot_names_map_to_resource_names_like_teleport() {
        assert_eq!(bot_resource_name("example"), "bot-example");
        assert_eq!(bot_resource_name("my bot"), "bot-my-bot");
    }

    #[test]
    fn filters_cover_every_target_kind_once_each() {
        let filters = targets().filters();
        assert_eq!(filters.len(), 4);
        assert_eq!(filters[0].user, "bot-example");
        assert_eq!(filters[1].role, "bot-example");
        assert_eq!(filters[2].bot_instance_id, "i-1");
        assert_eq!(filters[3].join_token, "tok");
    }

    #[test]
    fn reason_says_which_target_matched() {
        let t = targets();
        let user = LockTarget {
            user: "bot-example".into(),
            ..Default::default()
        };
        assert_eq!(
            t.reason(&user).as_deref(),
            Some("targets the bot user bot-example")
        );
        let instance = LockTarget {
            bot_instance_id: "i-1".into(),
            ..Default::default()
        };
        assert_eq!(
            t.reason(&instance).as_deref(),
            Some("targets bot instance example/i-1")
        );
        let other = LockTarget {
            user: "bot-other".into(),
            ..Default::default()
        };
        assert_eq!(t.reason(&other), None);
    }

    #[test]
    fn scan_matches_locks_of_vanished_instances_by_their_message() {
        let t = targets();
        let gone = LockTarget {
            bot_instance_id: "i-gone".into(),
            ..Default::default()
        };
        let locks = vec![
            lock(
                "a",
                gone.clone(),
                "The bot instance example/i-gone has been locked due to a certificate generation mismatch",
            ),
            lock(
                "b",
                gone.clone(),
                "The bot instance other/i-gone has been locked",
            ),
        ];
        assert!(t.explain(locks.clone(), false).is_empty());
        let found = t.explain(locks, true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name(), "a");
        assert!(
            found[0].reason.contains("--scan-all"),
            "{}",
            found[0].reason
        );
    }

    #[test]
    fn a_lock_on_one_of_the_bots_join_tokens_blocks_it_and_no_other_token_does() {
        let t = targets();
        let on = |token: &str| LockTarget {
            join_token: token.into(),
            ..Default::default()
        };
        assert_eq!(
            t.reason(&on("tok")).as_deref(),
            Some("targets a join token of bot example")
        );
        assert_eq!(t.reason(&on("other-tok")), None);
        assert_eq!(t.reason(&LockTarget::default()), None);
        let found = t.explain(vec![lock("j", on("tok"), "")], false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].reason, "targets a join token of bot example");
    }

    #[test]
    fn scan_matches_join_token_locks_of_a_vanished_token_by_teleports_messages() {
        let t = targets();
        let gone = LockTarget {
            join_token: "bot-example-0a6f812a".into(),
            ..Default::default()
        };
        let locks = vec![
            lock(
                "state",
                gone.clone(),
                "The join token \"bot-example-0a6f812a\" has been locked by bot \"example\" after a client failed to verify its join state, possibly indicating a stolen keypair.",
            ),
            lock(
                "generation",
                gone.clone(),
                "Bot joins via the token \"bot-example-0a6f812a\" have been locked due to a certificate generation mismatch by example/i-9, possibly indicating a stolen certificate.",
            ),
            lock(
                "other-bot",
                gone.clone(),
                "The join token \"bot-example-0a6f812a\" has been locked by bot \"example-2\" after a client failed to verify its join state, possibly indicating a stolen keypair.",
            ),
            lock(
                "other-instance",
                gone.clone(),
                "Bot joins via the token \"t\" have been locked due to a certificate generation mismatch by example-2/i-9, possibly indicating a stolen certificate.",
            ),
        ];
        assert!(t.explain(locks.clone(), false).is_empty());
        let found: Vec<_> = t
            .explain(locks, true)
            .iter()
            .map(|l| (l.name().to_owned(), l.reason.clone()))
            .collect();
        let reason = "its message names bot example as the holder of join token \
                      bot-example-0a6f812a (it no longer exists, so only --scan-all finds it)";
        assert_eq!(
            found,
            [
                ("generation".to_owned(), reason.to_owned()),
                ("state".to_owned(), reason.to_owned())
            ]
        );
    }

    #[test]
    fn a_message_alone_does_not_match_a_lock_without_an_instance_target() {
        let t = targets();
        let login = LockTarget {
            login: "root".into(),
            ..Default::default()
        };
        let locks = vec![lock("c", login, "bot instance example/i-9")];
        assert!(t.explain(locks, true).is_empty());
    }
}

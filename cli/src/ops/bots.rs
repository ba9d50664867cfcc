//! Bots: the fleet overview (locks, live instances, tokens per bot), one bot's details, create,
//! update through a field mask, delete, and recreate from a snapshot saved first. Every write of
//! a bot read from the server keeps the fields this version of mwictl does not know.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mwi_proto::machineid::{Bot, BotSpec, Trait};
use mwi_proto::teleport::header::v1::Metadata;
use mwi_proto::types::{LockTarget, LockV2, RoleV6};

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::instances::{self, InstanceRow};
use crate::ops::tokens::{IssuedToken, issue_bot_token};
use crate::ops::unlock::{
    BlockingLock, BotTargets, bot_resource_name, find_blocking_locks, remove_locks_reporting,
};
use crate::resource::{Resource, format_timestamp, render_yaml};

/// The trait that holds a bot's SSH logins.
pub const LOGINS_TRAIT: &str = "logins";

/// How many lock targets one `GetLocks` carries when asking about the whole fleet.
const TARGETS_PER_CALL: usize = 500;

/// The field-mask paths `UpdateBot` understands.
pub const PATH_ROLES: &str = "spec.roles";
pub const PATH_TRAITS: &str = "spec.traits";
pub const PATH_MAX_SESSION_TTL: &str = "spec.max_session_ttl";

/// Bot `name`; a missing bot is exit 3 with a hint to list them.
pub async fn get(client: &Client, name: &str) -> Result<Fetched<Bot>, CommandError> {
    client.get_bot(name).await.map_err(|e| bot_error(e, name))
}

fn bot_error(e: ClientError, name: &str) -> CommandError {
    let err = CommandError::from(e);
    if err.status == ExitStatus::NotFound {
        return CommandError::new(ExitStatus::NotFound, format!("bot {name:?} not found"))
            .hint("list bots with `mwictl bots ls`");
    }
    err
}

/// The bot's name (`metadata.name`).
pub fn bot_name(bot: &Bot) -> &str {
    bot.metadata.as_ref().map_or("", |m| m.name.as_str())
}

/// The bot's user and role names, from its status, else Teleport's `bot-NAME`.
pub fn user_and_role(bot: &Bot) -> (String, String) {
    let fallback = bot_resource_name(bot_name(bot));
    let status = bot.status.clone().unwrap_or_default();
    let or_fallback = |name: String| {
        if name.is_empty() {
            fallback.clone()
        } else {
            name
        }
    };
    (or_fallback(status.user_name), or_fallback(status.role_name))
}

/// The values of the `logins` trait.
pub fn logins(spec: &BotSpec) -> Vec<String> {
    spec.traits
        .iter()
        .filter(|t| t.name == LOGINS_TRAIT)
        .flat_map(|t| t.values.iter().cloned())
        .collect()
}

/// Replaces the `logins` trait (leaving other traits alone); no logins removes it.
fn set_logins(spec: &mut BotSpec, logins: Vec<String>) {
    let at = spec.traits.iter().position(|t| t.name == LOGINS_TRAIT);
    spec.traits.retain(|t| t.name != LOGINS_TRAIT);
    if logins.is_empty() {
        return;
    }
    let t = Trait {
        name: LOGINS_TRAIT.into(),
        values: logins,
    };
    match at {
        Some(i) => spec.traits.insert(i.min(spec.traits.len()), t),
        None => spec.traits.push(t),
    }
}

/// The bot's max session TTL, when it sets one.
pub fn max_session_ttl(spec: &BotSpec) -> Option<Duration> {
    spec.max_session_ttl
        .and_then(|d| Duration::try_from(d).ok())
        .filter(|d| !d.is_zero())
}

// ---- changes ----

/// Changes to a bot's roles, logins and TTL. `set_*` replaces the list, then `remove_*` drops
/// entries, then `add_*` appends the missing ones; `None`/empty leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotChanges {
    pub add_roles: Vec<String>,
    pub remove_roles: Vec<String>,
    pub set_roles: Option<Vec<String>>,
    pub add_logins: Vec<String>,
    pub remove_logins: Vec<String>,
    pub set_logins: Option<Vec<String>>,
    pub max_session_ttl: Option<Duration>,
}

impl BotChanges {
    /// True when no change was asked for.
    pub fn is_empty(&self) -> bool {
        *self == BotChanges::default()
    }

    /// `spec` with the changes applied.
    pub fn apply(&self, spec: &BotSpec) -> BotSpec {
        let mut out = spec.clone();
        out.roles = edit_list(
            &spec.roles,
            self.set_roles.as_deref(),
            &self.remove_roles,
            &self.add_roles,
        );
        let logins = edit_list(
            &logins(spec),
            self.set_logins.as_deref(),
            &self.remove_logins,
            &self.add_logins,
        );
        if logins != self::logins(spec) {
            set_logins(&mut out, logins);
        }
        if let Some(ttl) = self.max_session_ttl {
            out.max_session_ttl = prost_types::Duration::try_from(ttl).ok();
        }
        out
    }
}

fn edit_list(
    current: &[String],
    set: Option<&[String]>,
    remove: &[String],
    add: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let kept = set
        .unwrap_or(current)
        .iter()
        .filter(|i| !remove.contains(i));
    for item in kept.chain(add) {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// The `UpdateBot` field-mask paths whose values differ between `before` and `after`.
pub fn changed_paths(before: &BotSpec, after: &BotSpec) -> Vec<&'static str> {
    let mut paths = Vec::new();
    if before.roles != after.roles {
        paths.push(PATH_ROLES);
    }
    if before.traits != after.traits {
        paths.push(PATH_TRAITS);
    }
    if max_session_ttl(before) != max_session_ttl(after) {
        paths.push(PATH_MAX_SESSION_TTL);
    }
    paths
}

/// Fails with exit 3 naming the first of `roles` that does not exist.
pub async fn check_roles_exist(client: &Client, roles: &[String]) -> Result<(), CommandError> {
    for role in roles {
        if let Err(e) = client.get_role(role).await {
            let err = CommandError::from(e);
            if err.status != ExitStatus::NotFound {
                return Err(err);
            }
            return Err(CommandError::new(
                ExitStatus::NotFound,
                format!("role {role:?} does not exist; nothing was changed"),
            )
            .hint("list roles with `mwictl get roles`, or create it with `mwictl create -f ROLE.yaml`"));
        }
    }
    Ok(())
}

/// Roles in `after` that `before` does not have.
fn new_roles(before: &BotSpec, after: &BotSpec) -> Vec<String> {
    after
        .roles
        .iter()
        .filter(|r| !before.roles.contains(r))
        .cloned()
        .collect()
}

// ---- create ----

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
        Err(e) => {
            let err = bot_error(e, &new.name);
            if err.status != ExitStatus::NotFound {
                return Err(err);
            }
        }
    }
    check_roles_exist(client, &new.roles).await?;
    find_blocking_locks(client, &new.name).await
}

fn already_exists(name: &str) -> CommandError {
    CommandError::new(ExitStatus::Conflict, format!("bot {name:?} already exists"))
        .hint(format!(
            "change it with `mwictl bots update {name} --add-roles ROLE`"
        ))
        .hint(format!(
            "or start it over with `mwictl bots recreate {name}` (keeps its roles, traits and TTL)"
        ))
}

/// Creates the bot; one that exists is exit 5 with hints to update or recreate it.
pub async fn create(
    client: &Client,
    name: &str,
    bot: &impl crate::client::ToWire<Bot>,
) -> Result<Fetched<Bot>, CommandError> {
    client.create_bot(bot).await.map_err(|e| {
        let err = CommandError::from(e);
        if err.status == ExitStatus::Conflict {
            already_exists(name)
        } else {
            err
        }
    })
}

/// What `bots add` did.
#[derive(Debug, Clone)]
pub struct Added {
    pub bot: Fetched<Bot>,
    pub token: IssuedToken,
    /// Locks removed before creating the bot, and their backup.
    pub removed_locks: Vec<String>,
    pub locks_backup: Option<PathBuf>,
}

/// Removes `stale_locks` (backed up into `backup_dir` first), creates the bot and issues a join
/// token valid for `token_ttl`.
pub async fn add(
    client: &Client,
    new: &NewBot,
    stale_locks: &[Fetched<LockV2>],
    backup_dir: &Path,
    token_ttl: Duration,
) -> Result<Added, CommandError> {
    let stem = format!("bots-add-{}", new.name);
    let removed = remove_locks_reporting(client, stale_locks, backup_dir, &stem, |_| {}).await?;
    let bot = create(client, &new.name, &new.message()).await?;
    let token = issue_bot_token(client, &new.name, token_ttl)
        .await
        .map_err(|e| token_failed(e, &new.name, "created"))?;
    Ok(Added {
        bot,
        token,
        locks_backup: (!removed.names.is_empty()).then_some(removed.backup_path),
        removed_locks: removed.names,
    })
}

fn token_failed(e: CommandError, name: &str, done: &str) -> CommandError {
    let mut err = CommandError::new(
        e.status,
        format!(
            "bot {name:?} was {done}, but no join token could be issued: {}",
            e.message
        ),
    );
    err.hints = e.hints;
    err.hint(format!("issue one with `mwictl bots instances add {name}`"))
}

// ---- update ----

/// A planned update: the bot as read, the same bot with the new spec (its original bytes kept,
/// so fields unknown here go back unchanged), and the field-mask paths that differ.
#[derive(Debug, Clone)]
pub struct Update {
    pub before: Fetched<Bot>,
    pub after: Fetched<Bot>,
    pub paths: Vec<&'static str>,
}

impl Update {
    /// Applies `changes` to `bot` without talking to the server.
    pub fn plan(bot: &Fetched<Bot>, changes: &BotChanges) -> Update {
        let spec = bot.value.spec.clone().unwrap_or_default();
        let new_spec = changes.apply(&spec);
        let paths = changed_paths(&spec, &new_spec);
        let mut after = bot.clone();
        after.value.spec = Some(new_spec);
        Update {
            before: bot.clone(),
            after,
            paths,
        }
    }

    pub fn is_noop(&self) -> bool {
        self.paths.is_empty()
    }

    /// Roles the update adds, which must exist.
    pub fn added_roles(&self) -> Vec<String> {
        new_roles(
            &self.before.value.spec.clone().unwrap_or_default(),
            &self.after.value.spec.clone().unwrap_or_default(),
        )
    }

    /// Sends the update, conditional on the revision the bot was read at: if the bot changed on
    /// the server since, it fails with exit 5.
    pub async fn send(&self, client: &Client) -> Result<Fetched<Bot>, CommandError> {
        let name = bot_name(&self.before.value).to_owned();
        client
            .update_bot(&self.after, &self.paths)
            .await
            .map_err(|e| {
                let err = bot_error(e, &name);
                if err.status != ExitStatus::Conflict {
                    return err;
                }
                CommandError::new(
                    ExitStatus::Conflict,
                    format!("bot {name:?} changed on the server since it was read (stale revision); nothing was changed"),
                )
                .hint(format!("run the command again to work from the latest state (`mwictl bots show {name}`)"))
            })
    }
}

/// Reads bot `name`, applies `changes`, checks that added roles exist and sends the update. A
/// plan with nothing to change is returned unsent.
pub async fn update(
    client: &Client,
    name: &str,
    changes: &BotChanges,
) -> Result<(Update, Option<Fetched<Bot>>), CommandError> {
    let bot = get(client, name).await?;
    let plan = Update::plan(&bot, changes);
    if plan.is_noop() {
        return Ok((plan, None));
    }
    check_roles_exist(client, &plan.added_roles()).await?;
    let updated = plan.send(client).await?;
    Ok((plan, Some(updated)))
}

// ---- delete ----

/// Deletes bot `name` (its user and role); its locks and instance records stay, as in Teleport.
pub async fn delete(client: &Client, name: &str) -> Result<(), CommandError> {
    client
        .delete_bot(name)
        .await
        .map_err(|e| bot_error(e, name))
}

// ---- recreate ----

/// A bot as read before recreating it: the bot and its `bot-NAME` role, with their bytes.
#[derive(Debug, Clone)]
pub struct BotSnapshot {
    pub bot: Fetched<Bot>,
    /// `None` when the server has no such role (or hides it).
    pub role: Option<Fetched<RoleV6>>,
}

/// Reads bot `name` and its role.
pub async fn snapshot(client: &Client, name: &str) -> Result<BotSnapshot, CommandError> {
    let bot = get(client, name).await?;
    let (_, role_name) = user_and_role(&bot.value);
    let role = match client.get_role(&role_name).await {
        Ok(role) => Some(role),
        Err(ClientError::Rpc { status, .. }) if status.code() == tonic::Code::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    Ok(BotSnapshot { bot, role })
}

impl BotSnapshot {
    pub fn name(&self) -> &str {
        bot_name(&self.bot.value)
    }

    /// The snapshot as saved: both resources in tctl's shape and the exact bytes the server sent
    /// (base64 protobuf, with every field this version does not know).
    pub fn to_json(&self, taken_at: SystemTime) -> serde_json::Value {
        let b64 = |raw: &[u8]| crate::resource::base64::encode(raw);
        serde_json::json!({
            "kind": "bot_snapshot",
            "taken_at": format_timestamp(&taken_at.into()),
            "bot": Resource::Bot(self.bot.value.clone()).to_value(),
            "role": self.role.as_ref().map(|r| Resource::Role(r.value.clone()).to_value()),
            "raw": {
                "bot": b64(&self.bot.raw),
                "role": self.role.as_ref().map(|r| b64(&r.raw)),
            },
        })
    }

    /// YAML that `mwictl create -f` restores the bot from: the bot, then its role (which the
    /// bot's creation makes and the role document then overwrites with the saved one).
    /// Revisions and the server-owned status are left out so the documents apply to a new bot.
    pub fn restore_yaml(&self) -> String {
        let mut bot = self.bot.value.clone();
        bot.status = None;
        if let Some(m) = bot.metadata.as_mut() {
            m.revision.clear();
        }
        let mut docs = vec![Resource::Bot(bot)];
        if let Some(role) = &self.role {
            let mut role = role.value.clone();
            if let Some(m) = role.metadata.as_mut() {
                m.revision.clear();
            }
            docs.push(Resource::Role(role));
        }
        render_yaml(&docs)
    }

    /// The bot to create again: the snapshot's bot with `changes` applied, its revision and
    /// status cleared, on the snapshot's bytes so unknown fields are sent back.
    pub fn recreated(&self, changes: &BotChanges) -> Fetched<Bot> {
        let mut bot = self.bot.clone();
        let spec = bot.value.spec.clone().unwrap_or_default();
        bot.value.spec = Some(changes.apply(&spec));
        bot.value.status = None;
        if let Some(m) = bot.value.metadata.as_mut() {
            m.revision.clear();
        }
        bot
    }
}

/// Where a snapshot was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSnapshot {
    /// The whole snapshot as JSON, raw bytes included.
    pub json: PathBuf,
    /// The documents `mwictl create -f` restores the bot from.
    pub yaml: PathBuf,
}

/// Saves `snap` in `backup_dir`: `bot-NAME-TIME.yaml` to restore from and, beside it, the same
/// name with `.json` holding everything, raw bytes included.
pub fn save_snapshot(snap: &BotSnapshot, backup_dir: &Path) -> Result<SavedSnapshot, CommandError> {
    let now = SystemTime::now();
    let stem = format!("{}-snapshot", bot_resource_name(snap.name()));
    let header = format!(
        "# Snapshot of bot {:?} taken by `mwictl bots recreate` at {}.\n\
         # Restore it with: mwictl create -f THIS_FILE\n",
        snap.name(),
        format_timestamp(&now.into())
    );
    let yaml = crate::ops::backup::write_backup(
        backup_dir,
        &stem,
        &format!("{header}{}", snap.restore_yaml()),
    )?;
    let json = yaml.with_extension("json");
    let text = crate::output::json_text(&snap.to_json(now));
    mwi_identity::durable::create_new(&json, text.as_bytes(), 0o600).map_err(|e| {
        let e = e.into_io();
        CommandError::failure(format!("cannot write the snapshot {}: {e}", json.display())).hint(
            "make the backups directory writable, or point MWICTL_HOME at a writable directory",
        )
    })?;
    Ok(SavedSnapshot { json, yaml })
}

/// What `bots recreate` did.
#[derive(Debug, Clone)]
pub struct Recreated {
    /// The whole snapshot (JSON, raw bytes included).
    pub snapshot_path: PathBuf,
    /// The YAML to restore the old bot from with `mwictl create -f`.
    pub restore_path: PathBuf,
    pub removed_locks: Vec<String>,
    pub locks_backup: Option<PathBuf>,
    pub bot: Fetched<Bot>,
    pub token: IssuedToken,
}

/// Saves `snap` under `backup_dir`, deletes the bot, removes every lock that blocks it (backed up
/// first), creates it again with its roles, traits, logins and TTL plus `changes` (keeping the
/// fields of the old bot this version does not know), and issues a join token valid for
/// `token_ttl`. If the creation fails after the delete, the error names the snapshot and the
/// command that restores it.
pub async fn recreate(
    client: &Client,
    snap: &BotSnapshot,
    changes: &BotChanges,
    backup_dir: &Path,
    token_ttl: Duration,
) -> Result<Recreated, CommandError> {
    let name = snap.name().to_owned();
    let new_bot = snap.recreated(changes);
    check_roles_exist(
        client,
        &new_roles(
            &snap.bot.value.spec.clone().unwrap_or_default(),
            &new_bot.value.spec.clone().unwrap_or_default(),
        ),
    )
    .await?;
    let saved = save_snapshot(snap, backup_dir)?;
    delete(client, &name).await?;
    let restore_hint = || {
        format!(
            "the old bot is saved in {}; restore it with `mwictl create -f {}`",
            saved.json.display(),
            saved.yaml.display()
        )
    };
    let locks = find_blocking_locks(client, &name)
        .await
        .map_err(|e| e.hint(restore_hint()))?;
    let locks: Vec<Fetched<LockV2>> = locks.into_iter().map(|l| l.lock).collect();
    let stem = format!("bots-recreate-{name}");
    let removed = remove_locks_reporting(client, &locks, backup_dir, &stem, |_| {})
        .await
        .map_err(|e| e.hint(restore_hint()))?;
    let bot = create(client, &name, &new_bot).await.map_err(|e| {
        let mut err = CommandError::new(
            e.status,
            format!(
                "bot {name:?} was deleted but could not be created again: {}",
                e.message
            ),
        );
        err.hints = vec![restore_hint()];
        err
    })?;
    let token = issue_bot_token(client, &name, token_ttl)
        .await
        .map_err(|e| token_failed(e, &name, "recreated"))?;
    Ok(Recreated {
        snapshot_path: saved.json,
        restore_path: saved.yaml,
        locks_backup: (!removed.names.is_empty()).then_some(removed.backup_path),
        removed_locks: removed.names,
        bot,
        token,
    })
}

// ---- overview and details ----

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

fn health(locks: usize, live: usize) -> Health {
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
            summaries[i].tokens += 1;
            targets[i].join_tokens.insert(meta.name.clone());
        }
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
            let name = crate::ops::unlock::lock_name(&lock.value).to_owned();
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

/// A join token of a bot, as `bots show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotToken {
    /// The token's name, which is its secret: show it masked.
    pub name: String,
    pub expires: Option<prost_types::Timestamp>,
}

/// Everything `bots show` prints about one bot.
#[derive(Debug, Clone)]
pub struct BotDetails {
    pub bot: Fetched<Bot>,
    pub locks: Vec<BlockingLock>,
    pub instances: Vec<InstanceRow>,
    pub live_instances: usize,
    pub tokens: Vec<BotToken>,
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
        .filter_map(|t| t.value.metadata)
        .map(|m| BotToken {
            name: m.name,
            expires: m.expires,
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn spec(roles: &[&str], logins: &[&str]) -> BotSpec {
        let mut spec = BotSpec {
            roles: strings(roles),
            traits: vec![Trait {
                name: "env".into(),
                values: strings(&["prod"]),
            }],
            ..Default::default()
        };
        set_logins(&mut spec, strings(logins));
        spec
    }

    #[test]
    fn adding_and_removing_roles_keeps_order_and_skips_duplicates() {
        let changes = BotChanges {
            add_roles: strings(&["b", "c"]),
            remove_roles: strings(&["a"]),
            ..Default::default()
        };
        assert_eq!(changes.apply(&spec(&["a", "b"], &[])).roles, ["b", "c"]);
    }

    #[test]
    fn set_replaces_then_add_appends() {
        let changes = BotChanges {
            set_roles: Some(strings(&["x"])),
            add_roles: strings(&["y"]),
            ..Default::default()
        };
        assert_eq!(changes.apply(&spec(&["a"], &[])).roles, ["x", "y"]);
    }

    #[test]
    fn logins_live_in_their_trait_and_other_traits_stay() {
        let before = spec(&["a"], &["root"]);
        let after = BotChanges {
            add_logins: strings(&["ubuntu"]),
            ..Default::default()
        }
        .apply(&before);
        assert_eq!(logins(&after), ["root", "ubuntu"]);
        assert!(after.traits.iter().any(|t| t.name == "env"));
        assert_eq!(changed_paths(&before, &after), [PATH_TRAITS]);

        let cleared = BotChanges {
            remove_logins: strings(&["root", "ubuntu"]),
            ..Default::default()
        }
        .apply(&after);
        assert!(logins(&cleared).is_empty());
        assert!(cleared.traits.iter().all(|t| t.name != LOGINS_TRAIT));
    }

    #[test]
    fn no_effective_change_has_no_paths() {
        let before = spec(&["a"], &["root"]);
        let after = BotChanges {
            add_roles: strings(&["a"]),
            remove_logins: strings(&["nobody"]),
            ..Default::default()
        }
        .apply(&before);
        assert!(changed_paths(&before, &after).is_empty());
    }

    #[test]
    fn ttl_change_names_its_path() {
        let before = spec(&["a"], &[]);
        let after = BotChanges {
            max_session_ttl: Some(Duration::from_secs(3600)),
            ..Default::default()
        }
        .apply(&before);
        assert_eq!(changed_paths(&before, &after), [PATH_MAX_SESSION_TTL]);
        assert_eq!(max_session_ttl(&after), Some(Duration::from_secs(3600)));
    }

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

    fn fetched_with_unknown(bot: Bot) -> Fetched<Bot> {
        use prost::Message;
        let mut raw = bot.encode_to_vec();
        prost::encoding::string::encode(901, &"from-the-future".to_string(), &mut raw);
        Fetched::decode(raw.into()).unwrap()
    }

    fn stored_bot() -> Bot {
        Bot {
            kind: "bot".into(),
            version: "v1".into(),
            metadata: Some(Metadata {
                name: "example".into(),
                revision: "r1".into(),
                ..Default::default()
            }),
            spec: Some(spec(&["access"], &["root"])),
            status: Some(mwi_proto::machineid::BotStatus {
                user_name: "bot-example".into(),
                role_name: "bot-example".into(),
            }),
            ..Default::default()
        }
    }

    fn has_future_field(bytes: &[u8]) -> bool {
        bytes.windows(15).any(|w| w == b"from-the-future")
    }

    #[test]
    fn an_update_sends_unknown_fields_back_with_the_revision() {
        use crate::client::ToWire;
        let bot = fetched_with_unknown(stored_bot());
        let plan = Update::plan(
            &bot,
            &BotChanges {
                add_roles: strings(&["editor"]),
                ..Default::default()
            },
        );
        assert_eq!(plan.paths, [PATH_ROLES]);
        assert_eq!(plan.added_roles(), ["editor"]);
        let wire = plan.after.to_wire();
        assert!(has_future_field(&wire));
        use prost::Message;
        let sent = Bot::decode(wire).unwrap();
        assert_eq!(sent.metadata.unwrap().revision, "r1");
        assert_eq!(sent.spec.unwrap().roles, ["access", "editor"]);
    }

    #[test]
    fn a_recreated_bot_keeps_unknown_fields_but_not_revision_or_status() {
        use crate::client::ToWire;
        use prost::Message;
        let snap = BotSnapshot {
            bot: fetched_with_unknown(stored_bot()),
            role: None,
        };
        let wire = snap
            .recreated(&BotChanges {
                set_roles: Some(strings(&["db-reader"])),
                ..Default::default()
            })
            .to_wire();
        assert!(has_future_field(&wire));
        let sent = Bot::decode(wire).unwrap();
        assert_eq!(sent.metadata.as_ref().unwrap().revision, "");
        assert!(sent.status.is_none());
        let spec = sent.spec.unwrap();
        assert_eq!(spec.roles, ["db-reader"]);
        assert_eq!(logins(&spec), ["root"], "logins are kept");
    }

    #[test]
    fn the_snapshot_holds_the_raw_bytes_and_restores_without_revisions() {
        let snap = BotSnapshot {
            bot: fetched_with_unknown(stored_bot()),
            role: None,
        };
        let json = snap.to_json(SystemTime::UNIX_EPOCH);
        let raw = json["raw"]["bot"].as_str().unwrap();
        let bytes = crate::resource::base64::decode(raw).unwrap();
        assert_eq!(bytes, snap.bot.raw.as_ref());
        assert_eq!(json["bot"]["metadata"]["name"], "example");

        let yaml = snap.restore_yaml();
        assert!(!yaml.contains("r1"), "{yaml}");
        assert!(!yaml.contains("status"), "{yaml}");
        let docs = crate::resource::parse_documents(&yaml).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].name(), "example");
    }

    #[test]
    fn health_puts_locks_before_liveness() {
        assert_eq!(health(1, 0), Health::Locked);
        assert_eq!(health(0, 0), Health::NoLiveInstance);
        assert_eq!(health(0, 2), Health::Ok);
    }
}

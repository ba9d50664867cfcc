//! Bot RPCs (teleport.machineid.v1.BotService). As in Teleport, a bot is not stored itself: it
//! is the user `bot-NAME` (traits, labels) plus the role `bot-NAME` (impersonated roles, max
//! session TTL), and GetBot assembles it from the two. Deleting a bot leaves its locks and
//! instances alone.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use mwi_identity::{BOT_PREFIX, bot_resource_name};
use mwi_proto::machineid::{
    Bot, BotSpec, BotStatus, CreateBotRequest, DeleteBotRequest, GetBotRequest, ListBotsRequest,
    ListBotsResponse, Trait, UpdateBotRequest, UpsertBotRequest,
};
use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;
use mwi_proto::types::{
    ImpersonateConditions, Metadata, RoleConditions, RoleOptions, RoleSpecV6, RoleV6, Rule,
};
use prost::Message;

use crate::authz::Caller;
use crate::error::ApiError;
use crate::records::{BOT_GENERATION_LABEL, BOT_LABEL, UserRecord};
use crate::rpc::{decode, empty};
use crate::server::Auth;
use crate::store::{Kind, Page, Row, Tx};

/// A bot role's max_session_ttl when the bot does not set one (Teleport's default).
const DEFAULT_MAX_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;
/// Labels Teleport reserves; they are not part of a bot's own metadata.
const INTERNAL_PREFIX: &str = "teleport.internal/";

fn bot_not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("bot {name:?} not found"))
}

fn check_bot_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::BadParameter(
            "missing bot name: set metadata.name".into(),
        ));
    }
    if name.contains('/') || name.chars().any(char::is_control) || name.len() > 200 {
        return Err(ApiError::BadParameter(format!(
            "bot name {name:?} is not usable: no '/', no control characters, at most 200 bytes"
        )));
    }
    Ok(())
}

fn nanos(d: &prost_types::Duration) -> Result<i64, ApiError> {
    if d.seconds < 0 || d.nanos < 0 {
        return Err(ApiError::BadParameter(
            "spec.max_session_ttl must not be negative".into(),
        ));
    }
    d.seconds
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(i64::from(d.nanos)))
        .ok_or_else(|| ApiError::BadParameter("spec.max_session_ttl is too large".into()))
}

fn duration_of(nanos: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: i32::try_from(nanos % 1_000_000_000).unwrap_or(0),
    }
}

fn default_ttl_nanos() -> i64 {
    i64::try_from(DEFAULT_MAX_SESSION_TTL.as_nanos()).unwrap_or(i64::MAX)
}

/// The role `bot-NAME` that CreateBot makes (botToUserAndRole in Teleport).
fn bot_role(bot: &str, roles: &[String], max_session_ttl: Option<i64>) -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: crate::roles::DEFAULT_VERSION.into(),
        metadata: Some(Metadata {
            name: bot_resource_name(bot),
            description: format!("Automatically generated role for bot {bot}"),
            labels: BTreeMap::from([(BOT_LABEL.to_string(), bot.to_string())]),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            options: Some(RoleOptions {
                max_session_ttl: max_session_ttl.unwrap_or_else(default_ttl_nanos),
                ..Default::default()
            }),
            allow: Some(RoleConditions {
                rules: vec![Rule {
                    resources: vec!["cert_authority".into()],
                    verbs: vec!["readnosecrets".into()],
                    ..Default::default()
                }],
                impersonate: Some(ImpersonateConditions {
                    roles: roles.to_vec(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            deny: Some(RoleConditions::default()),
        }),
        ..Default::default()
    }
}

fn traits_of(spec: &BotSpec) -> BTreeMap<String, Vec<String>> {
    let mut traits: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &spec.traits {
        traits
            .entry(t.name.clone())
            .or_default()
            .extend(t.values.iter().cloned());
    }
    traits
}

/// The Bot that a bot user and its role make up; its revision is the user's.
fn assemble(user: &UserRecord, user_revision: &str, role: &RoleV6) -> Bot {
    let bot = user.bot_name().unwrap_or_default().to_string();
    let spec = role.spec.clone().unwrap_or_default();
    let roles = spec
        .allow
        .and_then(|a| a.impersonate)
        .map(|i| i.roles)
        .unwrap_or_default();
    let ttl = spec.options.map(|o| o.max_session_ttl).filter(|n| *n > 0);
    Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(HeaderMetadata {
            name: bot,
            labels: user
                .labels
                .iter()
                .filter(|(k, _)| !k.starts_with(INTERNAL_PREFIX))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            revision: user_revision.to_string(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles,
            traits: user
                .traits
                .iter()
                .map(|(name, values)| Trait {
                    name: name.clone(),
                    values: values.clone(),
                })
                .collect(),
            max_session_ttl: ttl.map(duration_of),
        }),
        status: Some(BotStatus {
            user_name: user.name.clone(),
            role_name: user.name.clone(),
        }),
        ..Default::default()
    }
}

/// The bot user of `bot`, if it exists and carries the bot label.
pub(crate) fn read_user(
    row: Option<Row>,
    bot: &str,
) -> Result<Option<(UserRecord, Row)>, ApiError> {
    let Some(row) = row else { return Ok(None) };
    let user = UserRecord::from_bytes(&row.value)?;
    Ok((user.bot_name() == Some(bot)).then_some((user, row)))
}

/// A validated bot from a request: its name, spec and metadata labels.
struct BotInput {
    name: String,
    spec: BotSpec,
    labels: BTreeMap<String, String>,
    revision: String,
}

fn bot_input(bot: Option<Bot>) -> Result<BotInput, ApiError> {
    let bot = bot.ok_or_else(|| ApiError::BadParameter("missing bot (field bot)".into()))?;
    if !bot.scope.is_empty() {
        return Err(ApiError::BadParameter(
            "scoped bots are not supported by the lab auth service; leave scope empty".into(),
        ));
    }
    let meta = bot.metadata.unwrap_or_default();
    check_bot_name(&meta.name)?;
    let spec = bot.spec.unwrap_or_default();
    if let Some(ttl) = &spec.max_session_ttl {
        nanos(ttl)?;
    }
    Ok(BotInput {
        name: meta.name,
        spec,
        labels: meta
            .labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with(INTERNAL_PREFIX))
            .collect(),
        revision: meta.revision,
    })
}

/// Writes the user and role of a bot; `generation` is the legacy label's value to keep.
fn put_bot(
    tx: &mut Tx<'_>,
    input: &BotInput,
    created_by: &str,
    generation: i32,
    existing_role: Option<&Row>,
) -> Result<Bot, ApiError> {
    let user_name = bot_resource_name(&input.name);
    let ttl = input.spec.max_session_ttl.as_ref().map(nanos).transpose()?;
    let fresh = bot_role(&input.name, &input.spec.roles, ttl);
    let role_bytes = match existing_role {
        // Keep fields of an existing role that the lab does not model.
        Some(row) => mwi_proto::unknown::keep_unknown(&row.value, &fresh),
        None => fresh.encode_to_vec(),
    };
    tx.put_resource(Kind::Role, &user_name, &role_bytes, None)?;
    let mut labels = input.labels.clone();
    labels.insert(BOT_LABEL.into(), input.name.clone());
    labels.insert(BOT_GENERATION_LABEL.into(), generation.to_string());
    let user = UserRecord {
        name: user_name.clone(),
        roles: vec![user_name.clone()],
        traits: traits_of(&input.spec),
        labels,
        created_by: created_by.to_string(),
    };
    let row = tx.put_record(Kind::User, &user_name, user.to_bytes(), None)?;
    Ok(assemble(&user, &row.revision, &fresh))
}

/// The stored role and user of a new bot `name` with no roles, as CreateBot writes them (for
/// seeding a lab in bulk): (kind, name, value) rows, the role without its revision yet.
pub(crate) fn new_bot_rows(name: &str, created_by: &str) -> [(Kind, String, Vec<u8>); 2] {
    let user_name = bot_resource_name(name);
    let user = UserRecord {
        name: user_name.clone(),
        roles: vec![user_name.clone()],
        traits: BTreeMap::new(),
        labels: BTreeMap::from([
            (BOT_LABEL.to_string(), name.to_string()),
            (BOT_GENERATION_LABEL.to_string(), "0".to_string()),
        ]),
        created_by: created_by.to_string(),
    };
    [
        (
            Kind::Role,
            user_name.clone(),
            bot_role(name, &[], None).encode_to_vec(),
        ),
        (Kind::User, user_name, user.to_bytes()),
    ]
}

fn role_of(row: &Row) -> Result<RoleV6, ApiError> {
    RoleV6::decode(row.value.as_ref())
        .map_err(|e| ApiError::Internal(format!("stored role {:?} is unreadable: {e}", row.name)))
}

/// Applies UpdateBot's field mask to the stored user and role.
fn update(tx: &mut Tx<'_>, input: &BotInput, paths: &[String]) -> Result<Bot, ApiError> {
    let user_name = bot_resource_name(&input.name);
    let (mut user, user_row) = read_user(tx.get(Kind::User, &user_name)?, &input.name)?
        .ok_or_else(|| bot_not_found(&input.name))?;
    let role_row = tx
        .get(Kind::Role, &user_name)?
        .ok_or_else(|| bot_not_found(&input.name))?;
    if !input.revision.is_empty() && input.revision != user_row.revision {
        return Err(ApiError::stale_revision());
    }
    let mut role = role_of(&role_row)?;
    let spec = role.spec.get_or_insert_with(Default::default);
    for path in paths {
        match path.as_str() {
            "spec.roles" => {
                let allow = spec.allow.get_or_insert_with(Default::default);
                allow.impersonate.get_or_insert_with(Default::default).roles =
                    input.spec.roles.clone();
            }
            "spec.traits" => user.traits = traits_of(&input.spec),
            "spec.max_session_ttl" => {
                let ttl = input.spec.max_session_ttl.as_ref().map(nanos).transpose()?;
                spec.options
                    .get_or_insert_with(Default::default)
                    .max_session_ttl = ttl.unwrap_or_else(default_ttl_nanos);
            }
            other => {
                return Err(ApiError::BadParameter(format!(
                    "update_mask path {other:?} is not supported; use spec.roles, spec.traits \
                     or spec.max_session_ttl"
                )));
            }
        }
    }
    let role_bytes = mwi_proto::unknown::keep_unknown(&role_row.value, &role);
    tx.put_resource(Kind::Role, &user_name, &role_bytes, role_row.expires)?;
    let row = tx.put_record(Kind::User, &user_name, user.to_bytes(), user_row.expires)?;
    Ok(assemble(&user, &row.revision, &role))
}

impl Auth {
    pub(crate) async fn get_bot(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "bot")?;
        let req: GetBotRequest = decode(body)?;
        check_bot_name(&req.bot_name)?;
        let bot = req.bot_name;
        let user_name = bot_resource_name(&bot);
        let user = self
            .store
            .read(move |r| r.get(Kind::User, &user_name))
            .await?;
        let (user, row) = read_user(user, &bot)?.ok_or_else(|| bot_not_found(&bot))?;
        let role = self
            .policy
            .role(&user.name, crate::store::now_ms())
            .ok_or_else(|| bot_not_found(&bot))?;
        Ok(assemble(&user, &row.revision, &role.role)
            .encode_to_vec()
            .into())
    }

    pub(crate) async fn list_bots(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "bot")?;
        let req: ListBotsRequest = decode(body)?;
        let size = usize::try_from(req.page_size)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(PAGE_DEFAULT)
            .min(PAGE_MAX);
        let mut from = (!req.page_token.is_empty()).then_some(req.page_token);
        let mut response = ListBotsResponse::default();
        let now = crate::store::now_ms();
        // Bot users all start with `bot-`; users without the bot label are skipped.
        'pages: loop {
            let page = Page {
                prefix: Some(BOT_PREFIX.into()),
                from: from.clone(),
                limit: size + 1,
                ..Default::default()
            };
            let rows = self.store.read(move |r| r.list(Kind::User, &page)).await?;
            let last_page = rows.len() <= size;
            for row in &rows {
                if response.bots.len() == size {
                    response.next_page_token = row.name.clone();
                    break 'pages;
                }
                let user = UserRecord::from_bytes(&row.value)?;
                let role = self.policy.role(&user.name, now);
                if let (Some(_), Some(role)) = (user.bot_name(), role) {
                    response
                        .bots
                        .push(assemble(&user, &row.revision, &role.role));
                }
            }
            match rows.last() {
                // The smallest name after the last one seen.
                Some(last) if !last_page => from = Some(format!("{}\0", last.name)),
                _ => break,
            }
        }
        Ok(response.encode_to_vec().into())
    }

    pub(crate) async fn create_bot(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create"], "bot")?;
        let req: CreateBotRequest = decode(body)?;
        let input = bot_input(req.bot)?;
        let created_by = caller.id.username.clone();
        let bot = self
            .store
            .write(move |tx| {
                let user_name = bot_resource_name(&input.name);
                if tx.get(Kind::User, &user_name)?.is_some() {
                    return Err(ApiError::AlreadyExists(format!(
                        "user {user_name:?} already exists"
                    )));
                }
                if tx.get(Kind::Role, &user_name)?.is_some() {
                    return Err(ApiError::AlreadyExists(format!(
                        "role {user_name:?} already exists"
                    )));
                }
                put_bot(tx, &input, &created_by, 0, None)
            })
            .await?;
        Ok(bot.encode_to_vec().into())
    }

    pub(crate) async fn update_bot(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["update"], "bot")?;
        let req: UpdateBotRequest = decode(body)?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(ApiError::BadParameter(
                "update_mask is empty; name what to change: spec.roles, spec.traits or \
                 spec.max_session_ttl"
                    .into(),
            ));
        }
        let input = bot_input(req.bot)?;
        let bot = self
            .store
            .write(move |tx| update(tx, &input, &paths))
            .await?;
        Ok(bot.encode_to_vec().into())
    }

    pub(crate) async fn upsert_bot(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create", "update"], "bot")?;
        let req: UpsertBotRequest = decode(body)?;
        let input = bot_input(req.bot)?;
        let created_by = caller.id.username.clone();
        let bot = self
            .store
            .write(move |tx| {
                let user_name = bot_resource_name(&input.name);
                let user_row = tx.get(Kind::User, &user_name)?;
                if let Some(row) = &user_row
                    && read_user(Some(row.clone()), &input.name)?.is_none()
                {
                    return Err(ApiError::AlreadyExists(format!(
                        "user {user_name:?} exists and does not belong to bot {:?}",
                        input.name
                    )));
                }
                let existing = read_user(user_row, &input.name)?;
                // Like Teleport, an upsert keeps the generation counter of the bot it replaces.
                let generation = existing.as_ref().map(|(u, _)| u.generation()).unwrap_or(0);
                let created_by = existing
                    .map(|(u, _)| u.created_by)
                    .filter(|c| !c.is_empty())
                    .unwrap_or(created_by);
                let role_row = tx.get(Kind::Role, &user_name)?;
                put_bot(tx, &input, &created_by, generation, role_row.as_ref())
            })
            .await?;
        Ok(bot.encode_to_vec().into())
    }

    pub(crate) async fn delete_bot(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "bot")?;
        let req: DeleteBotRequest = decode(body)?;
        check_bot_name(&req.bot_name)?;
        let bot = req.bot_name;
        self.store
            .write(move |tx| {
                let user_name = bot_resource_name(&bot);
                let user = read_user(tx.get(Kind::User, &user_name)?, &bot)?;
                let role = tx.get(Kind::Role, &user_name)?;
                let role_is_bots = match &role {
                    Some(row) => role_of(row)?
                        .metadata
                        .is_some_and(|m| m.labels.get(BOT_LABEL) == Some(&bot)),
                    None => false,
                };
                if user.is_none() && !role_is_bots {
                    return Err(bot_not_found(&bot));
                }
                // Locks and bot instances stay, as in Teleport: instances age out, locks
                // must be removed on purpose.
                if user.is_some() {
                    tx.delete(Kind::User, &user_name)?;
                }
                if role_is_bots {
                    tx.delete(Kind::Role, &user_name)?;
                }
                Ok(empty())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_names_map_to_user_names_like_teleport() {
        assert_eq!(bot_resource_name("example"), "bot-example");
        assert_eq!(bot_resource_name("my bot"), "bot-my-bot");
    }

    #[test]
    fn the_bot_role_impersonates_the_bots_roles_and_reads_cas() {
        let role = bot_role("b", &["access".into()], None);
        let spec = role.spec.unwrap();
        let allow = spec.allow.unwrap();
        assert_eq!(allow.impersonate.unwrap().roles, ["access"]);
        assert_eq!(allow.rules[0].resources, ["cert_authority"]);
        assert_eq!(allow.rules[0].verbs, ["readnosecrets"]);
        assert_eq!(
            spec.options.unwrap().max_session_ttl,
            12 * 3600 * 1_000_000_000
        );
        let meta = role.metadata.unwrap();
        assert_eq!(meta.labels[BOT_LABEL], "b");
        assert_eq!(meta.description, "Automatically generated role for bot b");
    }

    #[test]
    fn names_with_a_slash_are_refused() {
        assert!(check_bot_name("a/b").is_err());
        assert!(check_bot_name("").is_err());
        assert!(check_bot_name("ok name").is_ok());
    }
}

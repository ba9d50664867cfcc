//! Bot instance RPCs (teleport.machineid.v1.BotInstanceService): get, list (keyset pages, so
//! 100,000 instances never sit in memory at once), delete, and heartbeats (with per-service
//! health) from the bot itself.
//! Instances are stored under `BOT/INSTANCE_ID`, which keeps one bot's instances together.

use bytes::Bytes;
use mwi_proto::machineid::{
    BotInstance, DeleteBotInstanceRequest, GetBotInstanceRequest, ListBotInstancesRequest,
    ListBotInstancesV2Request, SubmitHeartbeatRequest, SubmitHeartbeatResponse,
};
use prost::Message;

use mwi_diag::query::Query;

use crate::authz::Caller;
use crate::error::ApiError;
use crate::instance_index;
use crate::rpc::{decode, empty, repeated};
use crate::server::Auth;
use crate::store::{Kind, Page};
use crate::wire;

const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;
/// Teleport keeps the newest 10 heartbeats and authentications of an instance.
pub(crate) const HISTORY: usize = 10;

/// The store name of an instance.
pub(crate) fn key(bot: &str, instance_id: &str) -> String {
    format!("{bot}/{instance_id}")
}

fn instance_not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("bot instance {key:?} not found"))
}

fn check_ids(bot: &str, instance_id: &str) -> Result<String, ApiError> {
    if bot.is_empty() || instance_id.is_empty() {
        return Err(ApiError::BadParameter(
            "set both bot_name and instance_id".into(),
        ));
    }
    Ok(key(bot, instance_id))
}

pub(crate) fn decode_instance(bytes: &[u8]) -> Result<BotInstance, ApiError> {
    BotInstance::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("a stored bot instance is unreadable: {e}")))
}

/// Separates the parts of a page token that resumes a sort other than by name.
const TOKEN_SEP: char = '\u{1f}';

/// The page token that resumes `field`'s order at (`value`, `name`). Sorted by name, it is the
/// name itself, as ListBotInstances' tokens are.
fn page_token(field: &str, value: &str, name: &str) -> String {
    if field == "bot_name" {
        name.to_owned()
    } else {
        format!("{field}{TOKEN_SEP}{value}{TOKEN_SEP}{name}")
    }
}

/// The (sort value, name) a page token resumes at; refused when it came from another sort.
fn page_position(field: &str, token: &str) -> Result<instance_index::Position, ApiError> {
    if field == "bot_name" && !token.contains(TOKEN_SEP) {
        return Ok((token.to_owned(), token.to_owned()));
    }
    token
        .split_once(TOKEN_SEP)
        .filter(|(f, _)| *f == field)
        .and_then(|(_, rest)| rest.rsplit_once(TOKEN_SEP))
        .map(|(value, name)| (value.to_owned(), name.to_owned()))
        .ok_or_else(|| {
            ApiError::BadParameter(format!(
                "page token {token:?} does not continue a listing sorted by {field}"
            ))
        })
}

fn page_size(asked: i32) -> usize {
    usize::try_from(asked)
        .ok()
        .filter(|s| *s > 0)
        .unwrap_or(PAGE_DEFAULT)
        .min(PAGE_MAX)
}

impl Auth {
    pub(crate) async fn get_bot_instance(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "bot_instance")?;
        let req: GetBotInstanceRequest = decode(body)?;
        let key = check_ids(&req.bot_name, &req.instance_id)?;
        self.store
            .read(move |r| {
                r.get(Kind::BotInstance, &key)?
                    .map(|row| row.value)
                    .ok_or_else(|| instance_not_found(&key))
            })
            .await
    }

    async fn list_instances(&self, page: Page) -> Result<Bytes, ApiError> {
        let size = page.limit;
        let mut page = page;
        page.limit = size + 1;
        let mut rows = self
            .store
            .read(move |r| r.list(Kind::BotInstance, &page))
            .await?;
        let next = if rows.len() > size {
            rows.pop().map(|r| r.name)
        } else {
            None
        };
        let items: Vec<Bytes> = rows.into_iter().map(|r| r.value).collect();
        let mut out = repeated(1, &items);
        if let Some(next) = next {
            wire::put_bytes(&mut out, 2, next.as_bytes());
        }
        Ok(out.into())
    }

    pub(crate) async fn list_bot_instances(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "bot_instance")?;
        let req: ListBotInstancesRequest = decode(body)?;
        self.list_instances(Page {
            prefix: (!req.filter_bot_name.is_empty()).then(|| format!("{}/", req.filter_bot_name)),
            from: (!req.page_token.is_empty()).then_some(req.page_token),
            contains: Some(req.filter_search_term),
            desc: false,
            limit: page_size(req.page_size),
        })
        .await
    }

    /// ListBotInstancesV2: sorted by any of Teleport's sort fields, filtered by bot, search term
    /// and predicate query, paged by keyset over the instance index (see `instance_index`).
    pub(crate) async fn list_bot_instances_v2(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "bot_instance")?;
        let req: ListBotInstancesV2Request = decode(body)?;
        let field = if req.sort_field.is_empty() {
            "bot_name"
        } else {
            req.sort_field.as_str()
        };
        let Some((field, column)) = instance_index::SORTS.iter().find(|(f, _)| *f == field) else {
            return Err(ApiError::BadParameter(format!(
                "unsupported sort field {:?}; use one of {}",
                req.sort_field,
                instance_index::sort_names()
            )));
        };
        let filter = req.filter.unwrap_or_default();
        let query = if filter.query.is_empty() {
            None
        } else {
            Some(
                Query::parse(&filter.query)
                    .map_err(|e| ApiError::BadParameter(format!("parsing expression: {e}")))?,
            )
        };
        let from = (!req.page_token.is_empty())
            .then(|| page_position(field, &req.page_token))
            .transpose()?;
        let listing = instance_index::Listing {
            column,
            desc: req.sort_desc,
            bot: (!filter.bot_name.is_empty()).then_some(filter.bot_name),
            search: (!filter.search_term.is_empty()).then_some(filter.search_term),
            query,
            from,
            limit: page_size(req.page_size),
        };
        if self.store.read(|r| r.instance_index_stale()).await? {
            self.store.write(|tx| tx.refresh_instance_index()).await?;
        }
        let (rows, next) = self.store.read(move |r| r.instance_page(&listing)).await?;
        let items: Vec<Bytes> = rows.into_iter().map(|r| r.value).collect();
        let mut out = repeated(1, &items);
        if let Some((value, name)) = next {
            wire::put_bytes(&mut out, 2, page_token(field, &value, &name).as_bytes());
        }
        Ok(out.into())
    }

    pub(crate) async fn delete_bot_instance(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "bot_instance")?;
        let req: DeleteBotInstanceRequest = decode(body)?;
        let key = check_ids(&req.bot_name, &req.instance_id)?;
        self.store
            .write(move |tx| {
                if tx.delete(Kind::BotInstance, &key)? {
                    Ok(empty())
                } else {
                    Err(instance_not_found(&key))
                }
            })
            .await
    }

    /// Records a heartbeat on the caller's own instance (from its certificate); only bots send
    /// them, and only about themselves.
    pub(crate) async fn submit_heartbeat(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        let (Some(bot), Some(instance)) = (&caller.id.bot_name, &caller.id.bot_instance_id) else {
            return Err(ApiError::AccessDenied(
                "only a bot identity with a bot instance may submit heartbeats".into(),
            ));
        };
        let req: SubmitHeartbeatRequest = decode(body)?;
        let mut heartbeat = req
            .heartbeat
            .ok_or_else(|| ApiError::BadParameter("missing heartbeat (field heartbeat)".into()))?;
        heartbeat.recorded_at = Some(std::time::SystemTime::now().into());
        let service_health = req.service_health;
        let key = key(bot, instance);
        self.store
            .write(move |tx| {
                let row = tx
                    .get(Kind::BotInstance, &key)?
                    .ok_or_else(|| instance_not_found(&key))?;
                let mut instance = decode_instance(&row.value)?;
                let status = instance.status.get_or_insert_with(Default::default);
                if status.initial_heartbeat.is_none() {
                    status.initial_heartbeat = Some(heartbeat.clone());
                }
                status.latest_heartbeats.push(heartbeat);
                let excess = status.latest_heartbeats.len().saturating_sub(HISTORY);
                status.latest_heartbeats.drain(..excess);
                // Each heartbeat carries every service's current health, which replaces the last.
                status.service_health = service_health;
                let bytes = mwi_proto::unknown::keep_unknown(&row.value, &instance);
                tx.put_resource(Kind::BotInstance, &key, &bytes, row.expires)
            })
            .await?;
        Ok(SubmitHeartbeatResponse {}.encode_to_vec().into())
    }
}

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

use crate::authz::Caller;
use crate::error::ApiError;
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

    pub(crate) async fn list_bot_instances_v2(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "bot_instance")?;
        let req: ListBotInstancesV2Request = decode(body)?;
        if !matches!(req.sort_field.as_str(), "" | "bot_name") {
            return Err(ApiError::BadParameter(format!(
                "sort_field {:?} is not supported by the lab auth service; use \"bot_name\" \
                 (or leave it empty)",
                req.sort_field
            )));
        }
        let filter = req.filter.unwrap_or_default();
        if !filter.query.is_empty() {
            return Err(ApiError::BadParameter(
                "filter.query (predicate language) is not supported by the lab auth service; \
                 use filter.bot_name or filter.search_term"
                    .into(),
            ));
        }
        self.list_instances(Page {
            prefix: (!filter.bot_name.is_empty()).then(|| format!("{}/", filter.bot_name)),
            from: (!req.page_token.is_empty()).then_some(req.page_token),
            contains: Some(filter.search_term),
            desc: req.sort_desc,
            limit: page_size(req.page_size),
        })
        .await
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

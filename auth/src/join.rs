//! Joining with a bot token (`proto.JoinService/RegisterUsingToken`), the one call that needs
//! no client certificate: checks the token and locks, issues a renewable identity with
//! generation 1 and a new bot instance, and only then consumes the one-time token.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use mwi_identity::{CertIdentity, bot_resource_name};
use mwi_proto::types::{ProvisionTokenV2, RegisterUsingTokenRequest};
use prost::Message;

use crate::bots::read_user;
use crate::certs::{
    INSTANCE_MARGIN, Keys, MAX_RENEWABLE_TTL, authentication, new_instance, raise_generation_label,
};
use crate::error::ApiError;
use crate::instances::key;
use crate::policy::{Target, timestamp_ms};
use crate::rpc::decode;
use crate::server::Auth;
use crate::store::{Kind, now_ms};
use crate::tokens::{BOT_ROLE, TOKEN_METHOD};

impl Auth {
    /// The lifetime of a joining bot's certificates: the lab's bot TTL, capped by Teleport's
    /// renewable maximum, the expiry the client asked for and the roles' max_session_ttl.
    pub(crate) fn join_ttl(
        &self,
        roles: &[String],
        asked: Option<&prost_types::Timestamp>,
        now: i64,
    ) -> Duration {
        let mut ttl = self.bot_ttl.min(MAX_RENEWABLE_TTL);
        if let Some(asked) = timestamp_ms(asked).filter(|t| *t > now) {
            ttl = ttl.min(Duration::from_millis(
                u64::try_from(asked - now).unwrap_or(0),
            ));
        }
        if let Some(max) = self
            .policy
            .role_set(roles, now)
            .iter()
            .filter_map(|r| r.spec.as_ref()?.options.as_ref())
            .map(|o| o.max_session_ttl)
            .filter(|n| *n > 0)
            .min()
        {
            ttl = ttl.min(Duration::from_nanos(u64::try_from(max).unwrap_or(0)));
        }
        ttl
    }

    pub(crate) async fn register_using_token(&self, body: Bytes) -> Result<Bytes, ApiError> {
        let req: RegisterUsingTokenRequest = decode(&body)?;
        let refused = |reason: &str| {
            ApiError::AccessDenied(format!(
                "{:?} can not join the cluster with role {:?}, {reason}",
                req.node_name, req.role
            ))
        };
        if req.role != BOT_ROLE {
            return Err(ApiError::BadParameter(format!(
                "the lab auth service joins only bots (role \"Bot\"), not role {:?}",
                req.role
            )));
        }
        if req.token.is_empty() {
            return Err(refused("token expired or not found"));
        }
        let keys = Keys::parse(&req.public_tls_key, &req.public_ssh_key)?;
        if keys.tls.is_none() {
            return Err(ApiError::BadParameter(
                "PublicTLSKey is required to join (PEM public key)".into(),
            ));
        }

        let name = req.token.clone();
        let row = self.store.read(move |r| r.get(Kind::Token, &name)).await?;
        let row = row.ok_or_else(|| refused("token expired or not found"))?;
        let token = ProvisionTokenV2::decode(row.value.as_ref())
            .map_err(|e| ApiError::Internal(format!("a stored token is unreadable: {e}")))?;
        let spec = token.spec.unwrap_or_default();
        if !spec.roles.iter().any(|r| r == BOT_ROLE) || spec.bot_name.is_empty() {
            return Err(refused("the token is not valid"));
        }
        if !matches!(spec.join_method.as_str(), "" | TOKEN_METHOD) {
            return Err(ApiError::BadParameter(format!(
                "join method {:?} is not supported by the lab auth service; use a token with \
                 join_method \"token\"",
                spec.join_method
            )));
        }
        let bot = spec.bot_name;
        let user_row = {
            let name = bot_resource_name(&bot);
            self.store.read(move |r| r.get(Kind::User, &name)).await?
        };
        let (user, _) = read_user(user_row, &bot)?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "bot {bot:?} named by the token does not exist; create the bot, then a new token"
            ))
        })?;

        let now = now_ms();
        let instance_id = uuid::Uuid::new_v4().to_string();
        let identity = CertIdentity {
            renewable: true,
            generation: 1,
            ..self.bot_identity(&user.name, &user.roles, &bot, &instance_id)
        };
        // Locks first: a refused join must leave the token for a later try.
        self.check_issue_locks(&identity)?;
        self.policy
            .check_locks(&[(Target::JoinToken, req.token.as_str())], now)?;

        let ttl = self.join_ttl(&user.roles, req.expires.as_ref(), now);
        let certs = self.issue(&identity, &keys, &[], SystemTime::now() + ttl)?;

        let margin = i64::try_from((ttl + INSTANCE_MARGIN).as_millis()).unwrap_or(0);
        let instance = new_instance(
            &bot,
            &instance_id,
            authentication(1, req.public_tls_key.clone()),
            now + margin,
        );
        let token_name = req.token.clone();
        let refused_late = refused("token expired or not found");
        self.store
            .write(move |tx| {
                // Another join may have spent the token meanwhile.
                if !tx.delete(Kind::Token, &token_name)? {
                    return Err(refused_late);
                }
                tx.put_resource(
                    Kind::BotInstance,
                    &key(&bot, &instance_id),
                    &instance.encode_to_vec(),
                    Some(now + margin),
                )?;
                // The legacy label follows too, as v16–v18 keep it for downgrades.
                raise_generation_label(tx, &bot, 1)
            })
            .await?;
        Ok(certs.encode_to_vec().into())
    }
}

//! Join token RPCs: GetToken, GetTokens, CreateTokenV2, UpsertTokenV2, DeleteToken. A token's
//! expiry is its `metadata.expires`; expired tokens are invisible and swept.

use bytes::Bytes;
use mwi_proto::types::{ProvisionTokenV2, ResourceRequest};

use crate::authz::Caller;
use crate::error::ApiError;
use crate::policy::timestamp_ms;
use crate::rpc::{decode, decode_empty, empty, not_found, repeated, require_name};
use crate::server::Auth;
use crate::store::{Kind, Page};
use crate::wire;

/// Teleport's system roles a token may grant.
const SYSTEM_ROLES: &[&str] = &[
    "Auth",
    "Node",
    "Proxy",
    "Kube",
    "App",
    "Db",
    "WindowsDesktop",
    "Discovery",
    "Instance",
    "Bot",
    "MDM",
    "Okta",
];
/// The system role of bot tokens.
pub(crate) const BOT_ROLE: &str = "Bot";
/// The join method the lab can check (the token itself is the secret).
pub(crate) const TOKEN_METHOD: &str = "token";

/// Validates a token and fills in kind, version and the default join method, keeping every
/// field of the original bytes.
fn complete_token(original: &[u8], mut token: ProvisionTokenV2) -> Result<Vec<u8>, ApiError> {
    let name = token
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    require_name("token", &name)?;
    if !token.kind.is_empty() && token.kind != "token" {
        return Err(ApiError::BadParameter(format!(
            "a token's kind is \"token\", not {:?}",
            token.kind
        )));
    }
    let spec = token.spec.get_or_insert_with(Default::default);
    if spec.roles.is_empty() {
        return Err(ApiError::BadParameter(
            "token has no roles; set spec.roles (e.g. [Bot])".into(),
        ));
    }
    if let Some(bad) = spec
        .roles
        .iter()
        .find(|r| !SYSTEM_ROLES.contains(&r.as_str()))
    {
        return Err(ApiError::BadParameter(format!(
            "token role {bad:?} is not a Teleport system role; use one of {}",
            SYSTEM_ROLES.join(", ")
        )));
    }
    if spec.roles.iter().any(|r| r == BOT_ROLE) && spec.bot_name.is_empty() {
        return Err(ApiError::BadParameter(
            "a token with role \"Bot\" needs spec.bot_name (the bot it joins)".into(),
        ));
    }
    let mut changed = false;
    if spec.join_method.is_empty() {
        spec.join_method = TOKEN_METHOD.into();
        changed = true;
    }
    if token.kind.is_empty() {
        token.kind = "token".into();
        changed = true;
    }
    if token.version.is_empty() {
        token.version = "v2".into();
        changed = true;
    }
    if !changed {
        return Ok(original.to_vec());
    }
    Ok(mwi_proto::unknown::keep_unknown(original, &token))
}

impl Auth {
    pub(crate) async fn get_token(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "token")?;
        let req: ResourceRequest = decode(body)?;
        require_name("token", &req.name)?;
        let name = req.name;
        self.store
            .read(move |r| {
                r.get(Kind::Token, &name)?
                    .map(|row| row.value)
                    .ok_or_else(|| not_found("token", &name))
            })
            .await
    }

    pub(crate) async fn get_tokens(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "token")?;
        decode_empty(body)?;
        let rows = self
            .store
            .read(|r| {
                r.list(
                    Kind::Token,
                    &Page {
                        limit: usize::MAX,
                        ..Default::default()
                    },
                )
            })
            .await?;
        let tokens: Vec<Bytes> = rows.into_iter().map(|r| r.value).collect();
        Ok(repeated(1, &tokens).into())
    }

    /// CreateTokenV2 (`upsert` false: AlreadyExists when present) and UpsertTokenV2.
    pub(crate) async fn create_token(
        &self,
        caller: &Caller,
        body: &[u8],
        upsert: bool,
    ) -> Result<Bytes, ApiError> {
        let (verbs, type_name): (&[&str], _) = if upsert {
            (&["create", "update"], "proto.UpsertTokenV2Request")
        } else {
            (&["create"], "proto.CreateTokenV2Request")
        };
        self.authorize(caller, verbs, "token")?;
        let original = wire::message_field(body, 1)
            .map_err(|e| ApiError::BadParameter(format!("malformed {type_name} request: {e}")))?
            .ok_or_else(|| {
                ApiError::BadParameter(format!("{type_name}: missing token (field V2)"))
            })?;
        let token: ProvisionTokenV2 = decode(&original)?;
        let bytes = complete_token(&original, token.clone())?;
        let meta = token.metadata.unwrap_or_default();
        let expires = timestamp_ms(meta.expires.as_ref());
        let name = meta.name;
        self.store
            .write(move |tx| {
                if !upsert && tx.get(Kind::Token, &name)?.is_some() {
                    return Err(ApiError::AlreadyExists(format!(
                        "token {name:?} already exists"
                    )));
                }
                tx.put_resource(Kind::Token, &name, &bytes, expires)
            })
            .await?;
        Ok(empty())
    }

    pub(crate) async fn delete_token(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "token")?;
        let req: ResourceRequest = decode(body)?;
        require_name("token", &req.name)?;
        let name = req.name;
        self.store
            .write(move |tx| {
                if tx.delete(Kind::Token, &name)? {
                    Ok(empty())
                } else {
                    Err(not_found("token", &name))
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{Metadata, ProvisionTokenSpecV2};
    use prost::Message;

    fn token(roles: &[&str], bot: &str) -> ProvisionTokenV2 {
        ProvisionTokenV2 {
            metadata: Some(Metadata {
                name: "0123456789abcdef0123456789abcdef".into(),
                ..Default::default()
            }),
            spec: Some(ProvisionTokenSpecV2 {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                bot_name: bot.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_bot_token_defaults_to_the_token_join_method() {
        let t = token(&["Bot"], "b");
        let out = complete_token(&t.encode_to_vec(), t).unwrap();
        let back = ProvisionTokenV2::decode(out.as_slice()).unwrap();
        assert_eq!(back.spec.unwrap().join_method, "token");
        assert_eq!((back.kind.as_str(), back.version.as_str()), ("token", "v2"));
    }

    #[test]
    fn a_bot_token_without_a_bot_or_with_an_unknown_role_is_refused() {
        let t = token(&["Bot"], "");
        assert!(complete_token(&t.encode_to_vec(), t).is_err());
        let t = token(&["Wizard"], "");
        let err = complete_token(&t.encode_to_vec(), t).unwrap_err();
        assert!(err.to_string().contains("Wizard"), "{err}");
    }
}

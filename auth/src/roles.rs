//! Role RPCs: GetRole, GetRoles, ListRoles (paged), CreateRole, UpdateRole (revision-checked),
//! UpsertRoleV2, UpsertRole, DeleteRole. Roles are stored as the bytes they arrived in.

use bytes::Bytes;
use mwi_proto::proto::{DeleteRoleRequest, GetRoleRequest, ListRolesRequest};
use mwi_proto::types::RoleV6;

use crate::authz::Caller;
use crate::error::ApiError;
use crate::policy::timestamp_ms;
use crate::records::UserRecord;
use crate::rpc::{decode, decode_empty, empty, not_found, repeated, require_name};
use crate::server::Auth;
use crate::store::{Kind, Page, Tx, now_ms};
use crate::wire;

/// Role versions Teleport accepts (v3 to v8 share one message).
const VERSIONS: &[&str] = &["v3", "v4", "v5", "v6", "v7", "v8"];
/// The version given to a role sent without one (Teleport 16–17's default).
pub(crate) const DEFAULT_VERSION: &str = "v7";
const PAGE_DEFAULT: usize = 1000;

/// What a write does when the role already exists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Update,
    Upsert,
}

/// The role inside a `Create/Update/UpsertRoleRequest` (field 1), as its original bytes.
fn role_field(body: &[u8], type_name: &str) -> Result<Bytes, ApiError> {
    wire::message_field(body, 1)
        .map_err(|e| ApiError::BadParameter(format!("malformed {type_name} request: {e}")))?
        .map(Bytes::from)
        .ok_or_else(|| ApiError::BadParameter(format!("{type_name}: missing role (field Role)")))
}

/// Validates a role and fills in kind and version, keeping every field of the original bytes.
pub(crate) fn complete_role(original: &[u8], mut role: RoleV6) -> Result<Vec<u8>, ApiError> {
    let name = role
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    require_name("role", &name)?;
    if !role.kind.is_empty() && role.kind != "role" {
        return Err(ApiError::BadParameter(format!(
            "role {name:?} has kind {:?}; a role's kind is \"role\"",
            role.kind
        )));
    }
    if !role.version.is_empty() && !VERSIONS.contains(&role.version.as_str()) {
        return Err(ApiError::BadParameter(format!(
            "role {name:?} has version {:?}; use one of {}",
            role.version,
            VERSIONS.join(", ")
        )));
    }
    if !role.kind.is_empty() && !role.version.is_empty() {
        return Ok(original.to_vec());
    }
    if role.kind.is_empty() {
        role.kind = "role".into();
    }
    if role.version.is_empty() {
        role.version = DEFAULT_VERSION.into();
    }
    Ok(mwi_proto::unknown::keep_unknown(original, &role))
}

/// A user that holds `role`, if any (Teleport refuses to delete a role in use).
fn user_of_role(tx: &Tx<'_>, role: &str) -> Result<Option<String>, ApiError> {
    let mut from = None;
    loop {
        let page = Page {
            from: from.take(),
            limit: 500,
            ..Default::default()
        };
        let rows = tx.list(Kind::User, &page)?;
        for row in &rows {
            if UserRecord::from_bytes(&row.value)?
                .roles
                .iter()
                .any(|r| r == role)
            {
                return Ok(Some(row.name.clone()));
            }
        }
        match rows.last() {
            Some(last) if rows.len() == 500 => from = Some(format!("{}\0", last.name)),
            _ => return Ok(None),
        }
    }
}

impl Auth {
    pub(crate) fn get_role(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "role")?;
        let req: GetRoleRequest = decode(body)?;
        require_name("role", &req.name)?;
        self.policy
            .role(&req.name, now_ms())
            .map(|r| r.row.value)
            .ok_or_else(|| not_found("role", &req.name))
    }

    pub(crate) fn get_roles(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "role")?;
        decode_empty(body)?;
        let roles: Vec<Bytes> = self
            .policy
            .roles("", usize::MAX, now_ms(), |_| true)
            .into_iter()
            .map(|r| r.row.value)
            .collect();
        Ok(repeated(1, &roles).into())
    }

    pub(crate) fn list_roles(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "role")?;
        let req: ListRolesRequest = decode(body)?;
        let limit = usize::try_from(req.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(PAGE_DEFAULT)
            .min(PAGE_DEFAULT);
        let keywords: Vec<String> = req
            .filter
            .map(|f| f.search_keywords)
            .unwrap_or_default()
            .iter()
            .map(|k| k.to_lowercase())
            .collect();
        let mut page = self.policy.roles(&req.start_key, limit + 1, now_ms(), |r| {
            let meta = r.role.metadata.clone().unwrap_or_default();
            let text = format!("{} {}", meta.name, meta.description).to_lowercase();
            keywords.iter().all(|k| text.contains(k.as_str()))
        });
        let next = if page.len() > limit {
            page.pop().map(|r| r.row.name)
        } else {
            None
        };
        let roles: Vec<Bytes> = page.into_iter().map(|r| r.row.value).collect();
        let mut out = repeated(1, &roles);
        if let Some(next) = next {
            wire::put_bytes(&mut out, 2, next.as_bytes());
        }
        Ok(out.into())
    }

    async fn write_role(&self, original: Bytes, mode: Mode) -> Result<Bytes, ApiError> {
        let role: RoleV6 = decode(&original)?;
        let bytes = complete_role(&original, role.clone())?;
        let meta = role.metadata.unwrap_or_default();
        let expires = timestamp_ms(meta.expires.as_ref());
        let (name, revision) = (meta.name, meta.revision);
        self.store
            .write(move |tx| {
                let existing = tx.get(Kind::Role, &name)?;
                match (mode, &existing) {
                    (Mode::Create, Some(_)) => {
                        return Err(ApiError::AlreadyExists(format!(
                            "role {name:?} already exists"
                        )));
                    }
                    (Mode::Update, None) => return Err(not_found("role", &name)),
                    (Mode::Update, Some(row)) if row.revision != revision => {
                        return Err(ApiError::stale_revision());
                    }
                    _ => {}
                }
                Ok(tx.put_resource(Kind::Role, &name, &bytes, expires)?.value)
            })
            .await
    }

    pub(crate) async fn create_role(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create"], "role")?;
        let role = role_field(body, "proto.CreateRoleRequest")?;
        self.write_role(role, Mode::Create).await
    }

    pub(crate) async fn update_role(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["update"], "role")?;
        let role = role_field(body, "proto.UpdateRoleRequest")?;
        self.write_role(role, Mode::Update).await
    }

    pub(crate) async fn upsert_role_v2(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create", "update"], "role")?;
        let role = role_field(body, "proto.UpsertRoleRequest")?;
        self.write_role(role, Mode::Upsert).await
    }

    pub(crate) async fn upsert_role(
        &self,
        caller: &Caller,
        body: Bytes,
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create", "update"], "role")?;
        self.write_role(body, Mode::Upsert).await?;
        Ok(empty())
    }

    pub(crate) async fn delete_role(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "role")?;
        let req: DeleteRoleRequest = decode(body)?;
        require_name("role", &req.name)?;
        let name = req.name;
        self.store
            .write(move |tx| {
                if let Some(user) = user_of_role(tx, &name)? {
                    return Err(ApiError::BadParameter(format!(
                        "role {name:?} is still used by user {user:?}; take it away from the \
                         user first (for a bot: delete or update the bot)"
                    )));
                }
                if tx.delete(Kind::Role, &name)? {
                    Ok(empty())
                } else {
                    Err(not_found("role", &name))
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::Metadata;
    use prost::Message;

    fn role(name: &str, version: &str) -> RoleV6 {
        RoleV6 {
            version: version.into(),
            metadata: Some(Metadata {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_role_without_kind_or_version_gets_teleports_defaults() {
        let r = role("r", "");
        let out = complete_role(&r.encode_to_vec(), r).unwrap();
        let back = RoleV6::decode(out.as_slice()).unwrap();
        assert_eq!((back.kind.as_str(), back.version.as_str()), ("role", "v7"));
    }

    #[test]
    fn an_unknown_version_or_a_missing_name_is_refused() {
        let r = role("r", "v99");
        let err = complete_role(&r.encode_to_vec(), r).unwrap_err();
        assert!(err.to_string().contains("v3, v4"), "{err}");
        let r = role("", "v7");
        assert!(complete_role(&r.encode_to_vec(), r).is_err());
    }
}

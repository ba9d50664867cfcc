//! Lock RPCs: GetLock, GetLocks (targets, in-force filter), UpsertLock (validated, created_at
//! and created_by filled in), DeleteLock. Locks are stored as the bytes they arrived in.

use bytes::Bytes;
use mwi_proto::proto::{DeleteLockRequest, GetLockRequest, GetLocksRequest};
use mwi_proto::types::LockV2;
use prost::Message;

use crate::authz::Caller;
use crate::error::ApiError;
use crate::policy::{target_fields, timestamp_ms};
use crate::rpc::{decode, empty, not_found, repeated, require_name};
use crate::server::Auth;
use crate::store::{Kind, now_ms};
use crate::wire;

/// Field numbers of types.LockV2 and types.LockSpecV2 that the lab fills in.
const LOCK_KIND: u32 = 1;
const LOCK_VERSION: u32 = 3;
const LOCK_SPEC: u32 = 5;
const SPEC_CREATED_AT: u32 = 4;
const SPEC_CREATED_BY: u32 = 5;

impl Auth {
    pub(crate) fn get_lock(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "lock")?;
        let req: GetLockRequest = decode(body)?;
        require_name("lock", &req.name)?;
        self.policy
            .lock(&req.name, now_ms())
            .ok_or_else(|| not_found("lock", &req.name))
    }

    pub(crate) fn get_locks(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "lock")?;
        let req: GetLocksRequest = decode(body)?;
        let locks = self.policy.locks(&req.targets, req.in_force_only, now_ms());
        Ok(repeated(1, &locks).into())
    }

    pub(crate) async fn upsert_lock(
        &self,
        caller: &Caller,
        body: Bytes,
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["create", "update"], "lock")?;
        let lock: LockV2 = decode(&body)?;
        let bytes = complete_lock(body, lock.clone(), &caller.id.username)?;
        let name = lock
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let expires = timestamp_ms(lock.metadata.as_ref().and_then(|m| m.expires.as_ref()));
        self.store
            .write(move |tx| tx.put_resource(Kind::Lock, &name, &bytes, expires))
            .await?;
        Ok(empty())
    }

    pub(crate) async fn delete_lock(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "lock")?;
        let req: DeleteLockRequest = decode(body)?;
        require_name("lock", &req.name)?;
        let name = req.name;
        self.store
            .write(move |tx| {
                if tx.delete(Kind::Lock, &name)? {
                    Ok(empty())
                } else {
                    Err(not_found("lock", &name))
                }
            })
            .await
    }
}

/// Validates a lock and fills in what Teleport fills in (kind, version, created_at,
/// created_by), splicing them into the original bytes so every other field stays as sent.
fn complete_lock(original: Bytes, lock: LockV2, caller: &str) -> Result<Vec<u8>, ApiError> {
    let name = lock
        .metadata
        .as_ref()
        .map(|m| m.name.as_str())
        .unwrap_or("");
    require_name("lock", name)?;
    if !lock.kind.is_empty() && lock.kind != "lock" {
        return Err(ApiError::BadParameter(format!(
            "lock {name:?} has kind {:?}; a lock's kind is \"lock\"",
            lock.kind
        )));
    }
    let spec = lock.spec.unwrap_or_default();
    if target_fields(&spec.target.clone().unwrap_or_default()).is_empty() {
        return Err(ApiError::BadParameter(format!(
            "lock {name:?} has an empty target; set at least one of user, role, login, \
             mfa_device, windows_desktop, access_request, device, server_id, bot_instance_id, \
             join_token"
        )));
    }
    let malformed = |e: wire::Malformed| ApiError::BadParameter(format!("lock {name:?}: {e}"));
    let mut out = original.to_vec();
    let mut spec_bytes = wire::message_field(&out, LOCK_SPEC)
        .map_err(malformed)?
        .unwrap_or_default();
    let no_created_at = timestamp_ms(spec.created_at.as_ref()).is_none();
    if no_created_at {
        let now = prost_types::Timestamp::from(std::time::SystemTime::now());
        spec_bytes = wire::replace_field(&spec_bytes, SPEC_CREATED_AT, &now.encode_to_vec())
            .map_err(malformed)?;
    }
    if spec.created_by.is_empty() {
        spec_bytes = wire::replace_field(&spec_bytes, SPEC_CREATED_BY, caller.as_bytes())
            .map_err(malformed)?;
    }
    if no_created_at || spec.created_by.is_empty() {
        out = wire::replace_field(&out, LOCK_SPEC, &spec_bytes).map_err(malformed)?;
    }
    if lock.kind.is_empty() {
        out = wire::replace_field(&out, LOCK_KIND, b"lock").map_err(malformed)?;
    }
    if lock.version.is_empty() {
        out = wire::replace_field(&out, LOCK_VERSION, b"v2").map_err(malformed)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{LockSpecV2, LockTarget, Metadata};

    fn lock(target: LockTarget) -> LockV2 {
        LockV2 {
            metadata: Some(Metadata {
                name: "l1".into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(target),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_target_is_refused() {
        let l = lock(LockTarget::default());
        let err = complete_lock(l.encode_to_vec().into(), l, "admin").unwrap_err();
        assert!(err.to_string().contains("empty target"), "{err}");
    }

    #[test]
    fn created_at_and_created_by_are_filled_and_unknown_fields_kept() {
        let l = lock(LockTarget {
            user: "bot-a".into(),
            ..Default::default()
        });
        let mut bytes = l.encode_to_vec();
        prost::encoding::string::encode(500, &"future".to_string(), &mut bytes);
        let out = complete_lock(bytes.into(), l, "admin").unwrap();
        let back = LockV2::decode(out.as_slice()).unwrap();
        let spec = back.spec.unwrap();
        assert!(timestamp_ms(spec.created_at.as_ref()).is_some());
        assert_eq!(spec.created_by, "admin");
        assert_eq!((back.kind.as_str(), back.version.as_str()), ("lock", "v2"));
        assert!(mwi_proto::unknown::has_unknown::<LockV2>(&out));
    }

    #[test]
    fn gos_zero_creation_time_counts_as_unset() {
        let mut l = lock(LockTarget {
            role: "r".into(),
            ..Default::default()
        });
        l.spec.as_mut().unwrap().created_at = Some(prost_types::Timestamp {
            seconds: -62_135_596_800,
            nanos: 0,
        });
        let out = complete_lock(l.encode_to_vec().into(), l, "admin").unwrap();
        let created = LockV2::decode(out.as_slice())
            .unwrap()
            .spec
            .unwrap()
            .created_at;
        assert!(created.is_some_and(|t| t.seconds > 1_600_000_000));
    }
}

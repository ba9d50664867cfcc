//! Locks as `tctl lock` makes them (a random UUIDv4 name, a target, a message, an optional end),
//! and the locks listed oldest first.

use std::time::SystemTime;

use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::resource::lock_target_text;

/// What a new lock says: whom it targets, why, and until when (`None`: forever).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewLock {
    pub target: LockTarget,
    pub message: String,
    pub expires: Option<SystemTime>,
}

/// The lock `tctl lock` would send for `new`, named `name`.
pub fn build_lock(name: &str, new: &NewLock) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(new.target.clone()),
            message: new.message.clone(),
            expires: new.expires.map(prost_types::Timestamp::from),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates a lock with a new UUIDv4 name (one `UpsertLock`) and returns it as the server stored
/// it (with `created_at` and `created_by`), or as sent when it cannot be read back.
pub async fn create_lock(client: &Client, new: &NewLock) -> Result<LockV2, CommandError> {
    if lock_target_text(&new.target).is_empty() {
        return Err(CommandError::usage("a lock needs a target")
            .hint("pass --user, --role, --login, --bot-instance-id or --join-token"));
    }
    let name = uuid::Uuid::new_v4().to_string();
    let lock = build_lock(&name, new);
    client.upsert_lock(&lock).await?;
    match client.get_lock(&name).await {
        Ok(stored) => Ok(stored.value),
        Err(e) => {
            tracing::debug!(error = %e, "reading the new lock back failed");
            Ok(lock)
        }
    }
}

/// The locks `in_force_only` (or all, also expired) matching any of `targets` (all locks when
/// empty), oldest first.
pub async fn list_locks(
    client: &Client,
    targets: Vec<LockTarget>,
    in_force_only: bool,
) -> Result<Vec<Fetched<LockV2>>, CommandError> {
    let mut locks = client.get_locks(targets, in_force_only).await?;
    locks.sort_by_key(|l| {
        let spec = l.value.spec.as_ref();
        let created = spec.and_then(|s| s.created_at.as_ref());
        (
            created.map_or(0, |t| t.seconds),
            created.map_or(0, |t| t.nanos),
            super::unlock::lock_name(&l.value).to_owned(),
        )
    });
    Ok(locks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> LockTarget {
        LockTarget {
            user: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn new_lock_has_tctls_shape() {
        let lock = build_lock(
            "n",
            &NewLock {
                target: user("bot-x"),
                message: "m".into(),
                expires: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10)),
            },
        );
        assert_eq!(lock.kind, "lock");
        assert_eq!(lock.version, "v2");
        let spec = lock.spec.unwrap();
        assert_eq!(spec.expires.unwrap().seconds, 10);
        assert_eq!(spec.target.unwrap().user, "bot-x");
    }
}

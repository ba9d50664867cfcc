//! Locks: stored as sent, filtered like Teleport, validated, and enforced on every call.

use mwi_proto::proto::{DeleteLockRequest, GetLockRequest, GetLocksRequest, PingRequest};
use mwi_proto::types::{LockTarget, LockV2};
use prost::Message;
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::{lock, user};
use mwi_testkit::wire::{has_future_field, raw_call, with_unknown};

#[tokio::test]
async fn an_upserted_lock_reads_back_with_revision_creation_time_and_unknown_fields() {
    let lab = Lab::start().await;
    let bytes = with_unknown(lock("l1", user("bot-a"), "stolen").encode_to_vec());
    raw_call(
        lab.admin_channel().await,
        mwi_proto::method::auth::UPSERT_LOCK,
        bytes,
    )
    .await
    .unwrap();
    let req = GetLockRequest { name: "l1".into() }.encode_to_vec();
    let raw = raw_call(
        lab.admin_channel().await,
        mwi_proto::method::auth::GET_LOCK,
        req,
    )
    .await
    .unwrap();
    assert!(has_future_field(&raw), "an unknown field was dropped");
    let got = LockV2::decode(raw).unwrap();
    let meta = got.metadata.unwrap();
    assert!(!meta.revision.is_empty());
    let spec = got.spec.unwrap();
    assert!(spec.created_at.is_some_and(|t| t.seconds > 0));
    assert_eq!(spec.created_by, "admin");
    assert_eq!(spec.message, "stolen");
}

#[tokio::test]
async fn every_write_gets_a_new_revision() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let mut revisions = Vec::new();
    for _ in 0..2 {
        auth.upsert_lock(lock("l1", user("u"), "")).await.unwrap();
        let got = auth
            .get_lock(GetLockRequest { name: "l1".into() })
            .await
            .unwrap()
            .into_inner();
        revisions.push(got.metadata.unwrap().revision);
    }
    assert_ne!(revisions[0], revisions[1]);
}

#[tokio::test]
async fn get_lock_of_an_unknown_name_is_not_found() {
    let lab = Lab::start().await;
    let err = lab
        .auth()
        .await
        .get_lock(GetLockRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), r#"lock "nope" not found"#);
}

#[tokio::test]
async fn get_locks_returns_locks_matching_any_target() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    auth.upsert_lock(lock("a", user("bot-a"), ""))
        .await
        .unwrap();
    auth.upsert_lock(lock("b", user("bot-b"), ""))
        .await
        .unwrap();
    let role = LockTarget {
        role: "r".into(),
        ..Default::default()
    };
    auth.upsert_lock(lock("c", role.clone(), "")).await.unwrap();
    let names = |locks: Vec<LockV2>| {
        locks
            .into_iter()
            .map(|l| l.metadata.unwrap().name)
            .collect::<Vec<_>>()
    };
    let all = auth
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(all.locks), ["a", "b", "c"]);
    let some = auth
        .get_locks(GetLocksRequest {
            targets: vec![user("bot-b"), role],
            in_force_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(some.locks), ["b", "c"]);
}

#[tokio::test]
async fn in_force_only_leaves_out_expired_locks() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let mut expired = lock("old", user("u"), "");
    expired.spec.as_mut().unwrap().expires = Some(prost_types::Timestamp {
        seconds: 1_000_000,
        nanos: 0,
    });
    auth.upsert_lock(expired).await.unwrap();
    auth.upsert_lock(lock("new", user("u"), "")).await.unwrap();
    let all = auth
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.locks.len(), 2);
    let live = auth
        .get_locks(GetLocksRequest {
            targets: vec![],
            in_force_only: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live.locks.len(), 1);
    assert_eq!(live.locks[0].metadata.as_ref().unwrap().name, "new");
}

#[tokio::test]
async fn a_lock_without_a_target_is_invalid() {
    let lab = Lab::start().await;
    let err = lab
        .auth()
        .await
        .upsert_lock(lock("l", LockTarget::default(), ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("empty target"), "{}", err.message());
}

#[tokio::test]
async fn delete_lock_removes_it_and_a_missing_one_is_not_found() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    auth.upsert_lock(lock("l", user("u"), "")).await.unwrap();
    auth.delete_lock(DeleteLockRequest { name: "l".into() })
        .await
        .unwrap();
    let err = auth
        .get_lock(GetLockRequest { name: "l".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = auth
        .delete_lock(DeleteLockRequest { name: "l".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), r#"lock "l" not found"#);
}

#[tokio::test]
async fn an_in_force_lock_on_a_callers_role_refuses_every_call() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let target = LockTarget {
        role: "admin".into(),
        ..Default::default()
    };
    auth.upsert_lock(lock("l", target, "maintenance"))
        .await
        .unwrap();
    let err = auth.ping(PingRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        r#"lock targeting Role:"admin" is in force: maintenance"#
    );
}

#[tokio::test]
async fn locks_survive_a_restart() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_lock(lock("keep", user("u"), ""))
        .await
        .unwrap();
    let lab = lab.restart().await;
    let got = lab
        .auth()
        .await
        .get_lock(GetLockRequest {
            name: "keep".into(),
        })
        .await;
    assert!(got.is_ok());
}

#[tokio::test]
async fn an_acknowledged_write_is_already_in_the_database_file() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_lock(lock("durable", user("u"), ""))
        .await
        .unwrap();
    // A separate connection, as a restarted process after kill -9 would open.
    let db = rusqlite::Connection::open(lab.data_dir().join("lab.db")).unwrap();
    let count: i64 = db
        .query_row(
            "SELECT count(*) FROM resources WHERE kind = 'lock' AND name = 'durable'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 1);
}

//! mwictl's typed client against the lab: writes land, reads return what was written, edits
//! keep fields this mwictl does not know, and a stale revision is refused as a conflict.

use bytes::Bytes;
use mwi_proto::types::{RoleConditions, RoleV6};
use mwi_testkit::fixtures::{lock, role_allowing, user};
use mwictl::client::{ClientError, Fetched};
use mwictl::error::CommandError;
use mwictl::exit::ExitStatus;
use prost::Message;

use crate::harness::Lab;

fn role(name: &str) -> RoleV6 {
    role_allowing(
        name,
        RoleConditions {
            logins: vec!["ubuntu".into()],
            ..Default::default()
        },
    )
}

/// `message` encoded with an extra field number 900 no version of Teleport uses, as a newer
/// server's field would arrive.
fn with_future_field(message: &impl Message) -> Bytes {
    let mut bytes = message.encode_to_vec();
    prost::encoding::string::encode(900, &"from the future".to_string(), &mut bytes);
    bytes.into()
}

#[tokio::test]
async fn locks_written_by_the_client_read_back_and_delete() {
    let lab = Lab::start();
    let client = lab.client().await;
    let lock = lock("l1", user("bot-example"), "test");
    client.upsert_lock(&lock).await.expect("upsert");
    let read = client.get_lock("l1").await.expect("get");
    assert_eq!(
        read.value.spec.as_ref().map(|s| s.message.as_str()),
        Some("test")
    );
    assert_eq!(
        client.get_locks(vec![], false).await.expect("list").len(),
        1
    );
    client.delete_lock("l1").await.expect("delete");
    let gone = client.get_lock("l1").await.unwrap_err();
    assert_eq!(CommandError::from(gone).status, ExitStatus::NotFound);
}

#[tokio::test]
async fn role_edits_keep_fields_this_mwictl_does_not_know() {
    let lab = Lab::start();
    let client = lab.client().await;
    let new = Fetched {
        value: role("future"),
        raw: with_future_field(&role("future")),
    };
    client.upsert_role(&new).await.expect("upsert");
    let mut read = client.get_role("future").await.expect("get");
    assert!(
        mwi_proto::unknown::has_unknown::<RoleV6>(&read.raw),
        "the lab kept the unknown field"
    );
    if let Some(allow) = read.value.spec.as_mut().and_then(|s| s.allow.as_mut()) {
        allow.logins.push("root".into());
    }
    client.update_role(&read).await.expect("update");
    let after = client.get_role("future").await.expect("get again");
    assert!(mwi_proto::unknown::has_unknown::<RoleV6>(&after.raw));
    let logins = after.value.spec.and_then(|s| s.allow).map(|a| a.logins);
    assert_eq!(logins, Some(vec!["ubuntu".to_string(), "root".to_string()]));
}

#[tokio::test]
async fn update_from_a_stale_read_is_a_conflict() {
    let lab = Lab::start();
    let client = lab.client().await;
    client.upsert_role(&role("r")).await.expect("upsert");
    let stale = client.get_role("r").await.expect("read 1");
    let mut fresh = client.get_role("r").await.expect("read 2");
    fresh.value.metadata.get_or_insert_default().description = "first".into();
    client.update_role(&fresh).await.expect("first update");
    let err = client.update_role(&stale).await.unwrap_err();
    assert!(matches!(err, ClientError::Rpc { .. }), "{err}");
    let err = CommandError::from(err);
    assert_eq!(err.status, ExitStatus::Conflict, "{}", err.message);
    assert!(
        err.message.starts_with("role \"r\" changed on the server"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn the_server_is_pinged_once_and_remembered() {
    let lab = Lab::start();
    let client = lab.client().await;
    let first = client.server().await.expect("ping").clone();
    let second = client.server().await.expect("cached");
    assert_eq!(&first, second);
    assert_eq!(first.cluster_name, lab.cluster);
    assert!(first.version.is_some(), "{}", first.server_version);
}

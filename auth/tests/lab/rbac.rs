//! Authorization: the caller's roles' rules decide, deny wins, bots may only renew themselves
//! and report heartbeats.

use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{DeleteLockRequest, GetLocksRequest, UserCertsRequest};
use mwi_proto::types::{RoleConditions, Rule};
use tonic::Code;
use tonic::transport::Channel;

use mwi_testkit::fixtures::{client_key, lock, role, user};
use mwi_testkit::{Lab, in_secs};

/// A channel whose certificate carries only `roles` (the admin impersonates them).
async fn as_roles(lab: &Lab, roles: &[&str]) -> Channel {
    let key = client_key();
    let req = UserCertsRequest {
        username: "admin".into(),
        role_requests: roles.iter().map(|r| r.to_string()).collect(),
        use_role_requests: true,
        tls_public_key: key.tls_public_pem.clone().into_bytes(),
        expires: Some(in_secs(600)),
        ..Default::default()
    };
    let certs = lab
        .auth()
        .await
        .generate_user_certs(req)
        .await
        .unwrap()
        .into_inner();
    lab.channel_as(std::str::from_utf8(&certs.tls).unwrap(), &key.key_pem)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bot_may_not_list_locks() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let bot = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let err = AuthServiceClient::new(lab.channel_of(&bot).await)
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        r#"access denied to perform action "list" on "lock""#
    );
}

#[tokio::test]
async fn a_bot_may_not_create_bots() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let bot = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let mut client =
        mwi_proto::machineid::bot_service_client::BotServiceClient::new(lab.channel_of(&bot).await);
    let err = client
        .create_bot(mwi_proto::machineid::CreateBotRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        r#"access denied to perform action "create" on "bot""#
    );
}

#[tokio::test]
async fn a_read_only_role_reads_locks_but_may_not_write_them() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_role(role("lock-reader", &[(&["lock"], &["read", "list"])]))
        .await
        .unwrap();
    let mut reader = AuthServiceClient::new(as_roles(&lab, &["lock-reader"]).await);
    assert!(reader.get_locks(GetLocksRequest::default()).await.is_ok());
    let err = reader
        .upsert_lock(lock("l", user("u"), ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        r#"access denied to perform action "create" on "lock""#
    );
}

#[tokio::test]
async fn a_deny_rule_wins_over_a_wildcard_allow() {
    let lab = Lab::start().await;
    let mut r = role("no-unlock", &[(&["*"], &["*"])]);
    r.spec.as_mut().unwrap().deny = Some(RoleConditions {
        rules: vec![Rule {
            resources: vec!["lock".into()],
            verbs: vec!["delete".into()],
            ..Default::default()
        }],
        ..Default::default()
    });
    lab.auth().await.upsert_role(r).await.unwrap();
    lab.auth()
        .await
        .upsert_lock(lock("l", user("u"), ""))
        .await
        .unwrap();
    let err = AuthServiceClient::new(as_roles(&lab, &["no-unlock"]).await)
        .delete_lock(DeleteLockRequest { name: "l".into() })
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        r#"access denied to perform action "delete" on "lock""#
    );
}

#[tokio::test]
async fn only_a_bot_submits_heartbeats_and_only_for_itself() {
    use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
    use mwi_proto::machineid::{
        BotInstanceHealthStatus, BotInstanceServiceHealth, BotInstanceServiceIdentifier,
        BotInstanceStatusHeartbeat, GetBotInstanceRequest, SubmitHeartbeatRequest,
    };
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let bot = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let beat = || SubmitHeartbeatRequest {
        heartbeat: Some(BotInstanceStatusHeartbeat {
            hostname: "host-1".into(),
            is_startup: true,
            ..Default::default()
        }),
        service_health: vec![BotInstanceServiceHealth {
            service: Some(BotInstanceServiceIdentifier {
                r#type: "identity".into(),
                name: "identity-1".into(),
            }),
            status: BotInstanceHealthStatus::Unhealthy.into(),
            reason: Some("access denied".into()),
            updated_at: None,
        }],
    };
    BotInstanceServiceClient::new(lab.channel_of(&bot).await)
        .submit_heartbeat(beat())
        .await
        .unwrap();
    let err = lab
        .instances()
        .await
        .submit_heartbeat(beat())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let instance = lab
        .instances()
        .await
        .get_bot_instance(GetBotInstanceRequest {
            bot_name: "example".into(),
            instance_id: bot.cert().bot_instance_id.unwrap(),
        })
        .await
        .unwrap()
        .into_inner();
    let status = instance.status.unwrap();
    let initial = status.initial_heartbeat.unwrap();
    assert_eq!(initial.hostname, "host-1");
    assert!(initial.recorded_at.is_some());
    assert_eq!(status.latest_heartbeats.len(), 1);
    let health = &status.service_health;
    assert_eq!(health.len(), 1, "the heartbeat's service health is stored");
    assert_eq!(health[0].status(), BotInstanceHealthStatus::Unhealthy);
    assert_eq!(health[0].reason.as_deref(), Some("access denied"));
}

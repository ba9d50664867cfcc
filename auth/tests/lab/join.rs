//! Joining and renewing like tbot: one-time tokens, the generation counter, the lock Teleport
//! creates on a mismatch, and what that lock then refuses.

use mwi_auth::lab::LockStyle;
use mwi_proto::machineid::GetBotInstanceRequest;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{GetLocksRequest, PingRequest};
use mwi_proto::types::{LockTarget, ResourceRequest};
use tonic::Code;

use mwi_testkit::Lab;

async fn lab_with_bot(style: LockStyle) -> Lab {
    let lab = Lab::start_with(|c| c.lock_style = style).await;
    lab.create_bot("example", &["access"], &["ubuntu"]).await;
    lab
}

#[tokio::test]
async fn a_join_issues_a_renewable_generation_one_identity_and_a_new_instance() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    let bot = lab.join_bot(&token).await.unwrap();
    let cert = bot.cert();
    assert_eq!(cert.username, "bot-example");
    assert_eq!(cert.roles, ["bot-example"]);
    assert!(cert.renewable);
    assert_eq!(cert.generation, 1);
    assert_eq!(cert.bot_name.as_deref(), Some("example"));
    let instance_id = cert.bot_instance_id.clone().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(&instance_id)
            .unwrap()
            .get_version_num(),
        4
    );
    assert!(
        bot.certs
            .ssh
            .starts_with(b"ecdsa-sha2-nistp256-cert-v01@openssh.com ")
    );
    assert_eq!(bot.certs.tlsca_certs.len(), 1);
    assert_eq!(bot.certs.sshca_certs.len(), 1);

    let instance = lab
        .instances()
        .await
        .get_bot_instance(GetBotInstanceRequest {
            bot_name: "example".into(),
            instance_id: instance_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let status = instance.status.unwrap();
    let initial = status.initial_authentication.unwrap();
    assert_eq!(
        (initial.generation, initial.join_method.as_str()),
        (1, "token")
    );
    assert_eq!(initial.public_key, bot.key.tls_public_pem.as_bytes());
    assert!(initial.authenticated_at.is_some());
    assert_eq!(status.latest_authentications.len(), 1);
    let expires = instance.metadata.unwrap().expires.unwrap().seconds;
    let margin = expires - cert.not_after;
    assert!(
        (290..=310).contains(&margin),
        "instance expiry is cert expiry + 5 min, got {margin}s"
    );
}

#[tokio::test]
async fn a_token_is_consumed_by_a_successful_join() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    lab.join_bot(&token).await.unwrap();
    let err = lab
        .auth()
        .await
        .get_token(ResourceRequest {
            name: token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = lab.join_bot(&token).await.err().unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn an_unknown_or_expired_token_is_refused_with_teleports_words() {
    let lab = lab_with_bot(LockStyle::User).await;
    lab.put_token("expired0expired0expired0expired0", "example", -60)
        .await;
    for token in ["nope", "expired0expired0expired0expired0"] {
        let err = lab.join_bot(token).await.err().unwrap();
        assert_eq!(err.code(), Code::PermissionDenied);
        assert_eq!(
            err.message(),
            r#""" can not join the cluster with role "Bot", token expired or not found"#
        );
    }
}

#[tokio::test]
async fn renewal_advances_the_generation_and_records_it() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    let first = lab.join_bot(&token).await.unwrap();
    let second = lab.renew(&first).await.unwrap();
    let third = lab.renew(&second).await.unwrap();
    assert_eq!(third.cert().generation, 3);
    assert!(third.cert().renewable);
    assert_eq!(third.cert().bot_instance_id, first.cert().bot_instance_id);
    let instance = lab
        .instances()
        .await
        .get_bot_instance(GetBotInstanceRequest {
            bot_name: "example".into(),
            instance_id: first.cert().bot_instance_id.unwrap(),
        })
        .await
        .unwrap()
        .into_inner();
    let gens: Vec<i32> = instance
        .status
        .unwrap()
        .latest_authentications
        .iter()
        .map(|a| a.generation)
        .collect();
    assert_eq!(gens, [1, 2, 3]);
}

#[tokio::test]
async fn a_renewed_identity_lives_no_longer_than_the_bot_ttl() {
    let lab = Lab::start_with(|c| c.bot_ttl = std::time::Duration::from_secs(600)).await;
    lab.create_bot("example", &[], &[]).await;
    let token = lab.bot_token("example").await;
    let first = lab.join_bot(&token).await.unwrap();
    let renewed = lab.renew(&first).await.unwrap().cert();
    let ttl = renewed.not_after - renewed.not_before;
    assert!(
        ttl <= 600 + 60,
        "ttl {ttl}s exceeds the 10 min bot ttl (+1 min backdating)"
    );
}

/// The seed incident (S1), end to end with Teleport v16–v18 behaviour.
#[tokio::test]
async fn a_stale_renewal_locks_the_bot_user_and_the_lock_refuses_a_fresh_join() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    let gen1 = lab.join_bot(&token).await.unwrap();
    let gen2 = lab.renew(&gen1).await.unwrap();
    let gen3 = lab.renew(&gen2).await.unwrap();
    assert_eq!(gen3.cert().generation, 3);
    let instance = gen1.cert().bot_instance_id.unwrap();

    // A copy of the generation-1 identity renews: Teleport sees a stolen certificate.
    let err = lab.renew(&gen1).await.err().unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(
        err.message(),
        format!(
            "renewable cert generation mismatch for bot example/{instance}: stored=3, presented=1"
        )
    );
    let locks = lab
        .auth()
        .await
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .locks;
    assert_eq!(locks.len(), 1);
    let spec = locks[0].spec.clone().unwrap();
    assert_eq!(spec.target.unwrap().user, "bot-example");
    assert_eq!(
        spec.message,
        r#"The bot user "bot-example" has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate."#
    );
    assert!(spec.created_at.is_some());
    assert!(!spec.created_by.is_empty());

    // The current identity is refused too: the whole bot is locked.
    let mut client = AuthServiceClient::new(lab.channel_of(&gen3).await);
    let err = client.ping(PingRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message()
            .starts_with(r#"lock targeting User:"bot-example" is in force: The bot user"#),
        "{}",
        err.message()
    );

    // A new token cannot get around the lock, and is not spent by trying.
    let fresh = lab.bot_token("example").await;
    let err = lab.join_bot(&fresh).await.err().unwrap();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message()
            .starts_with(r#"lock targeting User:"bot-example" is in force"#),
        "{}",
        err.message()
    );
    assert!(
        lab.auth()
            .await
            .get_token(ResourceRequest {
                name: fresh.clone()
            })
            .await
            .is_ok()
    );

    // Once the lock is gone, the same token joins as a new instance at generation 1.
    let name = locks[0].metadata.clone().unwrap().name;
    lab.auth()
        .await
        .delete_lock(mwi_proto::proto::DeleteLockRequest { name })
        .await
        .unwrap();
    let rejoined = lab.join_bot(&fresh).await.unwrap().cert();
    assert_eq!(rejoined.generation, 1);
    assert_ne!(rejoined.bot_instance_id.unwrap(), instance);
}

#[tokio::test]
async fn with_the_newest_lock_style_a_mismatch_locks_only_the_instance() {
    let lab = lab_with_bot(LockStyle::Instance).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    lab.renew(&first).await.unwrap();
    let instance = first.cert().bot_instance_id.unwrap();
    let err = lab.renew(&first).await.err().unwrap();
    assert_eq!(
        err.message(),
        format!("cert generation mismatch for bot example/{instance}: stored=2, presented=1")
    );
    let locks = lab
        .auth()
        .await
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner()
        .locks;
    let spec = locks[0].spec.clone().unwrap();
    assert_eq!(
        spec.target.unwrap(),
        LockTarget {
            bot_instance_id: instance.clone(),
            ..Default::default()
        }
    );
    assert_eq!(
        spec.message,
        format!(
            "The bot instance example/{instance} has been locked due to a certificate generation mismatch, possibly indicating a stolen certificate."
        )
    );
    // Another instance of the same bot still joins and works.
    let other = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    assert!(lab.renew(&other).await.is_ok());
}

#[tokio::test]
async fn a_join_for_a_deleted_bot_is_refused() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    lab.bots()
        .await
        .delete_bot(mwi_proto::machineid::DeleteBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap();
    let err = lab.join_bot(&token).await.err().unwrap();
    assert_eq!(err.code(), Code::NotFound, "{err}");
}

#[tokio::test]
async fn a_join_without_a_public_key_is_invalid() {
    let lab = lab_with_bot(LockStyle::User).await;
    let token = lab.bot_token("example").await;
    let req = mwi_proto::types::RegisterUsingTokenRequest {
        role: "Bot".into(),
        token,
        ..Default::default()
    };
    let err = lab
        .join()
        .await
        .register_using_token(req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

async fn delete_instance(lab: &Lab, bot: &mwi_testkit::lab::BotIdentity) {
    lab.instances()
        .await
        .delete_bot_instance(mwi_proto::machineid::DeleteBotInstanceRequest {
            bot_name: "example".into(),
            instance_id: bot.cert().bot_instance_id.unwrap(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn v16_style_renewal_without_its_instance_falls_back_to_the_user_generation_label() {
    let lab = lab_with_bot(LockStyle::User).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let second = lab.renew(&first).await.unwrap();
    delete_instance(&lab, &second).await;
    let third = lab.renew(&second).await.unwrap();
    assert_eq!(third.cert().generation, 3);
    // The stale copy still mismatches the label, with the legacy wording.
    let err = lab.renew(&first).await.err().unwrap();
    assert!(
        err.message()
            .starts_with("renewable cert generation mismatch"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn upsert_bot_keeps_the_generation_label_so_renewal_goes_on() {
    use mwi_proto::machineid::{Bot, BotSpec, UpsertBotRequest};
    let lab = lab_with_bot(LockStyle::User).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let second = lab.renew(&first).await.unwrap();
    let bot = Bot {
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: "example".into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: vec!["other".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    lab.bots()
        .await
        .upsert_bot(UpsertBotRequest { bot: Some(bot) })
        .await
        .unwrap();
    delete_instance(&lab, &second).await;
    assert_eq!(lab.renew(&second).await.unwrap().cert().generation, 3);
}

#[tokio::test]
async fn newest_style_renewal_without_its_instance_is_a_mismatch() {
    let lab = lab_with_bot(LockStyle::Instance).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    delete_instance(&lab, &first).await;
    let instance = first.cert().bot_instance_id.unwrap();
    let err = lab.renew(&first).await.err().unwrap();
    assert_eq!(
        err.message(),
        format!(
            "cert generation mismatch for bot example/{instance}: instance not found, presented=1"
        )
    );
}

#[tokio::test]
async fn renewing_after_the_bot_was_deleted_is_refused() {
    let lab = lab_with_bot(LockStyle::User).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    lab.bots()
        .await
        .delete_bot(mwi_proto::machineid::DeleteBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap();
    let err = lab.renew(&first).await.err().unwrap();
    assert_eq!(err.code(), Code::NotFound, "{err}");
}

#[tokio::test]
async fn concurrent_renewals_of_one_identity_let_exactly_one_through() {
    let lab = lab_with_bot(LockStyle::User).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let (a, b) = tokio::join!(lab.renew(&first), lab.renew(&first));
    assert_eq!(
        a.is_ok() as u8 + b.is_ok() as u8,
        1,
        "one renewal must win, the other mismatch"
    );
    let locks = lab
        .auth()
        .await
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locks.locks.len(), 1);
}

#[tokio::test]
async fn a_join_sets_the_legacy_generation_label_so_a_lost_instance_can_renew() {
    let lab = lab_with_bot(LockStyle::User).await;
    let first = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    delete_instance(&lab, &first).await;
    assert_eq!(lab.renew(&first).await.unwrap().cert().generation, 2);
}

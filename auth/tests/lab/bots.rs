//! Bots: CreateBot makes user and role `bot-NAME`; get, list, update, upsert, delete.

use mwi_proto::machineid::ListBotInstancesRequest;
use mwi_proto::machineid::{
    Bot, BotSpec, DeleteBotRequest, GetBotRequest, ListBotsRequest, Trait, UpdateBotRequest,
    UpsertBotRequest,
};
use mwi_proto::proto::{GetLocksRequest, GetRoleRequest};
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::{lock, user};

#[tokio::test]
async fn create_bot_makes_the_bot_role_like_teleport() {
    let lab = Lab::start().await;
    let bot = lab
        .create_bot("example", &["access", "db"], &["ubuntu"])
        .await;
    let status = bot.status.unwrap();
    assert_eq!(
        (status.user_name.as_str(), status.role_name.as_str()),
        ("bot-example", "bot-example")
    );
    assert!(!bot.metadata.unwrap().revision.is_empty());

    let role = lab
        .auth()
        .await
        .get_role(GetRoleRequest {
            name: "bot-example".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let meta = role.metadata.unwrap();
    assert_eq!(meta.labels["teleport.internal/bot"], "example");
    assert_eq!(
        meta.description,
        "Automatically generated role for bot example"
    );
    let spec = role.spec.unwrap();
    assert_eq!(
        spec.options.unwrap().max_session_ttl,
        12 * 3600 * 1_000_000_000
    );
    let allow = spec.allow.unwrap();
    assert_eq!(allow.impersonate.unwrap().roles, ["access", "db"]);
    assert_eq!(allow.rules[0].resources, ["cert_authority"]);
    assert_eq!(allow.rules[0].verbs, ["readnosecrets"]);
}

#[tokio::test]
async fn get_bot_returns_roles_traits_and_the_user() {
    let lab = Lab::start().await;
    lab.create_bot("example", &["access"], &["ubuntu", "root"])
        .await;
    let bot = lab
        .bots()
        .await
        .get_bot(GetBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let spec = bot.spec.unwrap();
    assert_eq!(spec.roles, ["access"]);
    assert_eq!(
        spec.traits,
        [Trait {
            name: "logins".into(),
            values: vec!["ubuntu".into(), "root".into()]
        }]
    );
    assert_eq!(spec.max_session_ttl.unwrap().seconds, 12 * 3600);
    assert_eq!(bot.kind, "bot");
}

#[tokio::test]
async fn creating_a_bot_twice_is_already_exists() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let bot = Bot {
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: "example".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = lab
        .bots()
        .await
        .create_bot(mwi_proto::machineid::CreateBotRequest { bot: Some(bot) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("bot-example"), "{}", err.message());
}

#[tokio::test]
async fn a_bot_whose_role_name_is_taken_is_already_exists() {
    let lab = Lab::start().await;
    let role = mwi_testkit::fixtures::role("bot-taken", &[]);
    lab.auth().await.upsert_role(role).await.unwrap();
    let bot = Bot {
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: "taken".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = lab
        .bots()
        .await
        .create_bot(mwi_proto::machineid::CreateBotRequest { bot: Some(bot) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(err.message(), r#"role "bot-taken" already exists"#);
}

#[tokio::test]
async fn get_bot_of_an_unknown_bot_is_not_found() {
    let lab = Lab::start().await;
    let err = lab
        .bots()
        .await
        .get_bot(GetBotRequest {
            bot_name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), r#"bot "nope" not found"#);
}

#[tokio::test]
async fn list_bots_pages_through_every_bot() {
    let lab = Lab::start().await;
    for name in ["a", "b", "c", "d", "e"] {
        lab.create_bot(name, &[], &[]).await;
    }
    let mut client = lab.bots().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_bots(ListBotsRequest {
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.bots.len() <= 2);
        seen.extend(page.bots.into_iter().map(|b| b.metadata.unwrap().name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
}

fn update(name: &str, spec: BotSpec, revision: &str, paths: &[&str]) -> UpdateBotRequest {
    UpdateBotRequest {
        bot: Some(Bot {
            metadata: Some(mwi_proto::teleport::header::v1::Metadata {
                name: name.into(),
                revision: revision.into(),
                ..Default::default()
            }),
            spec: Some(spec),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    }
}

#[tokio::test]
async fn update_bot_rewrites_the_roles_it_may_impersonate() {
    let lab = Lab::start().await;
    lab.create_bot("example", &["access"], &["ubuntu"]).await;
    let spec = BotSpec {
        roles: vec!["editor".into()],
        ..Default::default()
    };
    let bot = lab
        .bots()
        .await
        .update_bot(update("example", spec, "", &["spec.roles"]))
        .await
        .unwrap()
        .into_inner();
    let spec = bot.spec.unwrap();
    assert_eq!(spec.roles, ["editor"]);
    assert_eq!(
        spec.traits[0].values,
        ["ubuntu"],
        "traits were not in the mask"
    );
    let role = lab
        .auth()
        .await
        .get_role(GetRoleRequest {
            name: "bot-example".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        role.spec.unwrap().allow.unwrap().impersonate.unwrap().roles,
        ["editor"]
    );
}

#[tokio::test]
async fn update_bot_rewrites_traits_and_max_session_ttl() {
    let lab = Lab::start().await;
    lab.create_bot("example", &["access"], &["ubuntu"]).await;
    let spec = BotSpec {
        traits: vec![Trait {
            name: "logins".into(),
            values: vec!["deploy".into()],
        }],
        max_session_ttl: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ..Default::default()
    };
    let bot = lab
        .bots()
        .await
        .update_bot(update(
            "example",
            spec,
            "",
            &["spec.traits", "spec.max_session_ttl"],
        ))
        .await
        .unwrap()
        .into_inner();
    let spec = bot.spec.unwrap();
    assert_eq!(spec.traits[0].values, ["deploy"]);
    assert_eq!(spec.max_session_ttl.unwrap().seconds, 3600);
    assert_eq!(spec.roles, ["access"]);
}

#[tokio::test]
async fn update_bot_with_a_stale_revision_fails_and_changes_nothing() {
    let lab = Lab::start().await;
    let created = lab.create_bot("example", &["access"], &[]).await;
    let old = created.metadata.unwrap().revision;
    let spec = BotSpec {
        roles: vec!["a".into()],
        ..Default::default()
    };
    lab.bots()
        .await
        .update_bot(update("example", spec.clone(), &old, &["spec.roles"]))
        .await
        .unwrap();
    let err = lab
        .bots()
        .await
        .update_bot(update("example", spec, &old, &["spec.roles"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message()
            .starts_with("resource revision does not match"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn update_bot_with_an_unsupported_path_is_invalid() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let err = lab
        .bots()
        .await
        .update_bot(update(
            "example",
            BotSpec::default(),
            "",
            &["status.user_name"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("status.user_name"));
}

#[tokio::test]
async fn upsert_bot_creates_then_replaces() {
    let lab = Lab::start().await;
    let bot = |roles: &[&str]| Bot {
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: "example".into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut client = lab.bots().await;
    client
        .upsert_bot(UpsertBotRequest {
            bot: Some(bot(&["a"])),
        })
        .await
        .unwrap();
    let replaced = client
        .upsert_bot(UpsertBotRequest {
            bot: Some(bot(&["b"])),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.spec.unwrap().roles, ["b"]);
}

#[tokio::test]
async fn delete_bot_removes_user_and_role_but_leaves_locks_and_instances() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    lab.auth()
        .await
        .upsert_lock(lock("l", user("bot-example"), ""))
        .await
        .unwrap();
    lab.bots()
        .await
        .delete_bot(DeleteBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap();

    let err = lab
        .bots()
        .await
        .get_bot(GetBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = lab
        .auth()
        .await
        .get_role(GetRoleRequest {
            name: "bot-example".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let locks = lab
        .auth()
        .await
        .get_locks(GetLocksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(locks.locks.len(), 1);
    let instances = lab
        .instances()
        .await
        .list_bot_instances(ListBotInstancesRequest {
            filter_bot_name: "example".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(instances.bot_instances.len(), 1);

    let err = lab
        .bots()
        .await
        .delete_bot(DeleteBotRequest {
            bot_name: "example".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn update_bot_keeps_fields_of_the_bot_role_the_lab_does_not_model() {
    use prost::Message;
    let lab = Lab::start().await;
    lab.create_bot("example", &["access"], &[]).await;
    let channel = lab.admin_channel().await;
    let stored = mwi_testkit::wire::raw_call(
        channel.clone(),
        mwi_proto::method::auth::GET_ROLE,
        GetRoleRequest {
            name: "bot-example".into(),
        }
        .encode_to_vec(),
    )
    .await
    .unwrap();
    let mut body = Vec::new();
    prost::encoding::bytes::encode(
        1,
        &mwi_testkit::wire::with_unknown(stored.to_vec()),
        &mut body,
    );
    mwi_testkit::wire::raw_call(
        channel.clone(),
        mwi_proto::method::auth::UPSERT_ROLE_V2,
        body,
    )
    .await
    .unwrap();

    let spec = BotSpec {
        roles: vec!["editor".into()],
        ..Default::default()
    };
    lab.bots()
        .await
        .update_bot(update("example", spec, "", &["spec.roles"]))
        .await
        .unwrap();
    let after = mwi_testkit::wire::raw_call(
        channel,
        mwi_proto::method::auth::GET_ROLE,
        GetRoleRequest {
            name: "bot-example".into(),
        }
        .encode_to_vec(),
    )
    .await
    .unwrap();
    assert!(
        mwi_testkit::wire::has_future_field(&after),
        "UpdateBot dropped an unknown role field"
    );
    let role = mwi_proto::types::RoleV6::decode(after).unwrap();
    assert_eq!(
        role.spec.unwrap().allow.unwrap().impersonate.unwrap().roles,
        ["editor"]
    );
}

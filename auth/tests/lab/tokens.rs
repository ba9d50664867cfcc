//! Join tokens: create, get, list, delete, and expiry.

use mwi_proto::proto::CreateTokenV2Request;
use mwi_proto::proto::create_token_v2_request::Token;
use mwi_proto::types::ResourceRequest;
use prost::Message;
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::token;
use mwi_testkit::wire::{has_future_field, raw_call, with_unknown};

#[tokio::test]
async fn a_created_token_reads_back_with_its_expiry_and_bot() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let name = "0123456789abcdef0123456789abcdef";
    auth.create_token_v2(CreateTokenV2Request {
        token: Some(Token::V2(token(name, "example", 3600))),
    })
    .await
    .unwrap();
    let got = auth
        .get_token(ResourceRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.spec.unwrap().bot_name, "example");
    let meta = got.metadata.unwrap();
    assert!(meta.expires.is_some());
    assert!(!meta.revision.is_empty());
    let all = auth.get_tokens(()).await.unwrap().into_inner();
    assert_eq!(all.provision_tokens.len(), 1);
}

#[tokio::test]
async fn creating_an_existing_token_is_already_exists_but_upsert_replaces_it() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let req = || CreateTokenV2Request {
        token: Some(Token::V2(token("t", "example", 3600))),
    };
    auth.create_token_v2(req()).await.unwrap();
    let err = auth.create_token_v2(req()).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    lab.put_token("t", "other", 60).await;
    let got = auth
        .get_token(ResourceRequest { name: "t".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.spec.unwrap().bot_name, "other");
}

#[tokio::test]
async fn an_expired_token_is_gone() {
    let lab = Lab::start().await;
    lab.put_token("old", "example", -1).await;
    let err = lab
        .auth()
        .await
        .get_token(ResourceRequest { name: "old".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        lab.auth()
            .await
            .get_tokens(())
            .await
            .unwrap()
            .into_inner()
            .provision_tokens
            .is_empty()
    );
}

#[tokio::test]
async fn a_bot_token_without_a_bot_name_is_invalid() {
    let lab = Lab::start().await;
    let err = lab
        .auth()
        .await
        .create_token_v2(CreateTokenV2Request {
            token: Some(Token::V2(token("t", "", 3600))),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("bot_name"), "{}", err.message());
}

#[tokio::test]
async fn delete_token_removes_it_and_a_missing_one_is_not_found() {
    let lab = Lab::start().await;
    lab.put_token("t", "example", 60).await;
    let mut auth = lab.auth().await;
    auth.delete_token(ResourceRequest { name: "t".into() })
        .await
        .unwrap();
    let err = auth
        .delete_token(ResourceRequest { name: "t".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn unknown_fields_of_a_token_survive() {
    let lab = Lab::start().await;
    let channel = lab.admin_channel().await;
    let mut body = Vec::new();
    prost::encoding::bytes::encode(
        1,
        &with_unknown(token("t", "b", 3600).encode_to_vec()),
        &mut body,
    );
    raw_call(
        channel.clone(),
        mwi_proto::method::auth::UPSERT_TOKEN_V2,
        body,
    )
    .await
    .unwrap();
    let got = raw_call(
        channel,
        mwi_proto::method::auth::GET_TOKEN,
        ResourceRequest { name: "t".into() }.encode_to_vec(),
    )
    .await
    .unwrap();
    assert!(has_future_field(&got));
}

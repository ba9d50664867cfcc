//! Roles: create, conditional update by revision, upsert, list pages, delete; unknown fields
//! survive every path.

use mwi_proto::proto::{
    CreateRoleRequest, DeleteRoleRequest, GetRoleRequest, ListRolesRequest, UpdateRoleRequest,
    UpsertRoleRequest,
};
use mwi_proto::types::RoleV6;
use prost::Message;
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::role;
use mwi_testkit::wire::{has_future_field, raw_call, with_unknown};

#[tokio::test]
async fn create_role_returns_the_stored_role_with_a_revision() {
    let lab = Lab::start().await;
    let created = lab
        .auth()
        .await
        .create_role(CreateRoleRequest {
            role: Some(role("r", &[])),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!created.metadata.unwrap().revision.is_empty());
}

#[tokio::test]
async fn creating_an_existing_role_is_already_exists() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    auth.create_role(CreateRoleRequest {
        role: Some(role("r", &[])),
    })
    .await
    .unwrap();
    let err = auth
        .create_role(CreateRoleRequest {
            role: Some(role("r", &[])),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(err.message(), r#"role "r" already exists"#);
}

#[tokio::test]
async fn update_role_with_the_current_revision_succeeds_and_a_stale_one_fails() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    let created = auth
        .create_role(CreateRoleRequest {
            role: Some(role("r", &[])),
        })
        .await
        .unwrap()
        .into_inner();
    let mut edit = created.clone();
    edit.metadata.as_mut().unwrap().description = "first".into();
    let updated = auth
        .update_role(UpdateRoleRequest { role: Some(edit) })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        updated.metadata.as_ref().unwrap().revision,
        created.metadata.as_ref().unwrap().revision
    );

    let mut stale = created;
    stale.metadata.as_mut().unwrap().description = "second".into();
    let err = auth
        .update_role(UpdateRoleRequest { role: Some(stale) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.message(),
        "resource revision does not match, it may have been concurrently created|modified|deleted; please work from the latest state, or use --force to overwrite"
    );
    let now = auth
        .get_role(GetRoleRequest { name: "r".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.metadata.unwrap().description, "first");
}

#[tokio::test]
async fn update_role_of_a_missing_role_is_not_found() {
    let lab = Lab::start().await;
    let err = lab
        .auth()
        .await
        .update_role(UpdateRoleRequest {
            role: Some(role("nope", &[])),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn upsert_role_overwrites_whatever_the_revision() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    auth.upsert_role_v2(UpsertRoleRequest {
        role: Some(role("r", &[])),
    })
    .await
    .unwrap();
    let mut again = role("r", &[]);
    again.metadata.as_mut().unwrap().revision = "whatever".into();
    again.metadata.as_mut().unwrap().description = "new".into();
    let out = auth
        .upsert_role_v2(UpsertRoleRequest {
            role: Some(again.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.metadata.unwrap().description, "new");
    auth.upsert_role(again).await.unwrap();
}

#[tokio::test]
async fn unknown_fields_of_a_role_survive_create_and_update() {
    let lab = Lab::start().await;
    let channel = lab.admin_channel().await;
    let body = |role: Vec<u8>| {
        let mut out = Vec::new();
        prost::encoding::bytes::encode(1, &role, &mut out);
        out
    };
    let created = raw_call(
        channel.clone(),
        mwi_proto::method::auth::CREATE_ROLE,
        body(with_unknown(role("r", &[]).encode_to_vec())),
    )
    .await
    .unwrap();
    assert!(has_future_field(&created));
    let revision = RoleV6::decode(created.clone())
        .unwrap()
        .metadata
        .unwrap()
        .revision;
    let mut edited = role("r", &[(&["lock"], &["read"])]);
    edited.metadata.as_mut().unwrap().revision = revision;
    let updated = raw_call(
        channel.clone(),
        mwi_proto::method::auth::UPDATE_ROLE,
        body(with_unknown(edited.encode_to_vec())),
    )
    .await
    .unwrap();
    assert!(has_future_field(&updated));
    let got = raw_call(
        channel,
        mwi_proto::method::auth::GET_ROLE,
        GetRoleRequest { name: "r".into() }.encode_to_vec(),
    )
    .await
    .unwrap();
    assert!(has_future_field(&got));
}

#[tokio::test]
async fn list_roles_pages_with_next_key_and_filters_by_keyword() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    for name in ["dev-a", "dev-b", "ops-a"] {
        auth.upsert_role(role(name, &[])).await.unwrap();
    }
    let first = auth
        .list_roles(ListRolesRequest {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names = |roles: &[RoleV6]| {
        roles
            .iter()
            .map(|r| r.metadata.clone().unwrap().name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first.roles), ["admin", "dev-a"]);
    let second = auth
        .list_roles(ListRolesRequest {
            limit: 2,
            start_key: first.next_key,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&second.roles), ["dev-b", "ops-a"]);
    assert!(second.next_key.is_empty());
    let filtered = auth
        .list_roles(ListRolesRequest {
            limit: 10,
            filter: Some(mwi_proto::types::RoleFilter {
                search_keywords: vec!["DEV".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&filtered.roles), ["dev-a", "dev-b"]);
    let all = auth.get_roles(()).await.unwrap().into_inner();
    assert_eq!(all.roles.len(), 4);
}

#[tokio::test]
async fn delete_role_removes_it_and_a_missing_one_is_not_found() {
    let lab = Lab::start().await;
    let mut auth = lab.auth().await;
    auth.upsert_role(role("r", &[])).await.unwrap();
    auth.delete_role(DeleteRoleRequest { name: "r".into() })
        .await
        .unwrap();
    let err = auth
        .get_role(GetRoleRequest { name: "r".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = auth
        .delete_role(DeleteRoleRequest { name: "r".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::NotFound, r#"role "r" not found"#)
    );
}

#[tokio::test]
async fn a_role_with_an_unknown_version_is_invalid() {
    let lab = Lab::start().await;
    let mut r = role("r", &[]);
    r.version = "v42".into();
    let err = lab.auth().await.upsert_role(r).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_role_a_user_still_holds_cannot_be_deleted() {
    let lab = Lab::start().await;
    let err = lab
        .auth()
        .await
        .delete_role(DeleteRoleRequest {
            name: "admin".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains(r#"still used by user "admin""#),
        "{}",
        err.message()
    );
}

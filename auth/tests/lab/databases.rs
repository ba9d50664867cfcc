//! ListResources of database servers: what `mwictl doctor --live` asks to tell a database hidden
//! by RBAC from one renamed by auto-discovery or one not registered.

use std::collections::BTreeMap;

use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::paginated_resource::Resource;
use mwi_proto::proto::{ListResourcesRequest, ListResourcesResponse};
use tonic::Code;

use mwi_testkit::Lab;
use mwi_testkit::fixtures::access_role;

fn request(limit: i32, start_key: &str) -> ListResourcesRequest {
    ListResourcesRequest {
        resource_type: "db_server".into(),
        limit,
        start_key: start_key.into(),
        ..Default::default()
    }
}

fn names(page: &ListResourcesResponse) -> Vec<(String, Option<String>)> {
    page.resources
        .iter()
        .map(|r| match &r.resource {
            Some(Resource::DatabaseServer(server)) => {
                let db = server.spec.as_ref().unwrap().database.as_ref().unwrap();
                let meta = db.metadata.as_ref().unwrap();
                (
                    meta.name.clone(),
                    meta.labels
                        .get("teleport.internal/discovered-name")
                        .cloned(),
                )
            }
            None => panic!("an empty resource"),
        })
        .collect()
}

fn seed(lab: &Lab) {
    lab.handle.seed_database("a-db", BTreeMap::new()).unwrap();
    lab.handle
        .seed_database(
            "pg-prod-rds-us-east-1-123456789012",
            BTreeMap::from([("teleport.internal/discovered-name".into(), "pg-prod".into())]),
        )
        .unwrap();
    lab.handle.seed_database("z-db", BTreeMap::new()).unwrap();
}

#[tokio::test]
async fn the_admin_pages_through_every_database_server_with_its_labels() {
    let lab = Lab::start().await;
    seed(&lab);
    let mut auth = lab.auth().await;
    let first = auth
        .list_resources(request(2, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        names(&first),
        vec![
            ("a-db".to_string(), None),
            (
                "pg-prod-rds-us-east-1-123456789012".to_string(),
                Some("pg-prod".to_string())
            )
        ]
    );
    assert_eq!(first.next_key, "z-db");
    let second = auth
        .list_resources(request(2, &first.next_key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&second), vec![("z-db".to_string(), None)]);
    assert_eq!(second.next_key, "");
    let Some(Resource::DatabaseServer(server)) = &second.resources[0].resource else {
        panic!("a database server");
    };
    assert_eq!(server.kind, "db_server");
    assert_eq!(server.metadata.as_ref().unwrap().name, "z-db");
}

#[tokio::test]
async fn labels_and_keywords_filter_and_other_types_are_refused() {
    let lab = Lab::start().await;
    seed(&lab);
    let mut auth = lab.auth().await;
    let mut req = request(0, "");
    req.labels = BTreeMap::from([("teleport.internal/discovered-name".into(), "pg-prod".into())]);
    let page = auth.list_resources(req).await.unwrap().into_inner();
    assert_eq!(names(&page).len(), 1);
    let mut req = request(0, "");
    req.search_keywords = vec!["Z-".into()];
    let page = auth.list_resources(req).await.unwrap().into_inner();
    assert_eq!(names(&page), vec![("z-db".to_string(), None)]);

    let mut req = request(0, "");
    req.resource_type = "node".into();
    let err = auth.list_resources(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut req = request(0, "");
    req.predicate_expression = r#"name == "a-db""#.into();
    let err = auth.list_resources(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
}

#[tokio::test]
async fn a_caller_without_rules_on_db_server_is_refused() {
    let lab = Lab::start().await;
    seed(&lab);
    lab.auth()
        .await
        .upsert_role(access_role("plain", &[]))
        .await
        .unwrap();
    lab.create_bot("example", &["plain"], &[]).await;
    let bot = lab.join_bot(&lab.bot_token("example").await).await.unwrap();
    let err = AuthServiceClient::new(lab.channel_of(&bot).await)
        .list_resources(request(0, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

//! Impersonation: a bot's output certificates carry the roles it may impersonate, the logins
//! those roles grant (traits expanded), and database routes the roles can see.

use std::collections::BTreeMap;

use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{Certs, RouteToDatabase, UserCertsRequest};
use mwi_proto::wrappers::{LabelValues, StringValues};
use tonic::Code;

use mwi_testkit::fixtures::{access_role, client_key, role};
use mwi_testkit::lab::BotIdentity;
use mwi_testkit::{Lab, in_secs};

async fn impersonate(
    lab: &Lab,
    bot: &BotIdentity,
    roles: &[&str],
    db: Option<&str>,
) -> Result<Certs, tonic::Status> {
    let key = client_key();
    let req = UserCertsRequest {
        username: "bot-example".into(),
        role_requests: roles.iter().map(|r| r.to_string()).collect(),
        use_role_requests: true,
        tls_public_key: key.tls_public_pem.into_bytes(),
        ssh_public_key: key.ssh_public.into_bytes(),
        expires: Some(in_secs(1200)),
        route_to_database: db.map(|name| RouteToDatabase {
            service_name: name.into(),
            protocol: "postgres".into(),
            username: "alice".into(),
            ..Default::default()
        }),
        usage: if db.is_some() { 3 } else { 0 },
        ..Default::default()
    };
    AuthServiceClient::new(lab.channel_of(bot).await)
        .generate_user_certs(req)
        .await
        .map(tonic::Response::into_inner)
}

async fn joined_bot(lab: &Lab, roles: &[&str]) -> BotIdentity {
    lab.create_bot("example", roles, &["ubuntu"]).await;
    lab.join_bot(&lab.bot_token("example").await).await.unwrap()
}

#[tokio::test]
async fn a_bot_gets_non_renewable_certs_with_its_roles_and_expanded_logins() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_role(access_role("access", &["{{internal.logins}}", "deploy"]))
        .await
        .unwrap();
    let bot = joined_bot(&lab, &["access"]).await;
    let certs = impersonate(&lab, &bot, &["access"], None).await.unwrap();
    let cert =
        mwi_identity::CertIdentity::from_pem(std::str::from_utf8(&certs.tls).unwrap()).unwrap();
    assert_eq!(cert.roles, ["access"]);
    assert!(!cert.renewable);
    assert_eq!(cert.generation, 0);
    let mut logins = cert.logins.clone();
    logins.sort();
    assert_eq!(logins, ["deploy", "ubuntu"]);
    let ssh = ssh_key::Certificate::from_openssh(std::str::from_utf8(&certs.ssh).unwrap().trim())
        .unwrap();
    let mut principals = ssh.valid_principals().to_vec();
    principals.sort();
    assert_eq!(principals, ["deploy", "ubuntu"]);
    assert!(cert.not_after - cert.not_before <= 1200 + 60);
}

#[tokio::test]
async fn a_bot_may_not_impersonate_a_role_its_bot_role_does_not_list() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_role(access_role("access", &[]))
        .await
        .unwrap();
    lab.auth()
        .await
        .upsert_role(access_role("editor", &[]))
        .await
        .unwrap();
    let bot = joined_bot(&lab, &["access"]).await;
    let err = impersonate(&lab, &bot, &["editor"], None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains(r#"role "editor""#),
        "{}",
        err.message()
    );
}

fn db_labels(pairs: &[(&str, &str)]) -> Option<LabelValues> {
    Some(LabelValues {
        values: pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    StringValues {
                        values: vec![v.to_string()],
                    },
                )
            })
            .collect(),
    })
}

/// The seed incident S4: `database "example" not found` although the database exists.
#[tokio::test]
async fn a_database_the_roles_cannot_see_is_not_found_until_the_rules_allow_it() {
    let lab = Lab::start().await;
    mwi_auth::lab::seed_database(
        lab.data_dir(),
        "example",
        BTreeMap::from([("env".to_string(), "prod".to_string())]),
    )
    .unwrap();
    let mut db_role = access_role("db", &[]);
    db_role
        .spec
        .as_mut()
        .unwrap()
        .allow
        .as_mut()
        .unwrap()
        .database_labels = db_labels(&[("env", "prod")]);
    lab.auth().await.upsert_role(db_role.clone()).await.unwrap();
    let bot = joined_bot(&lab, &["db"]).await;

    let err = impersonate(&lab, &bot, &["db"], Some("example"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), r#"database "example" not found"#);

    db_role = role("db", &[(&["db_server", "db"], &["read", "list"])]);
    db_role
        .spec
        .as_mut()
        .unwrap()
        .allow
        .as_mut()
        .unwrap()
        .database_labels = db_labels(&[("env", "prod")]);
    lab.auth().await.upsert_role(db_role).await.unwrap();
    let certs = impersonate(&lab, &bot, &["db"], Some("example"))
        .await
        .unwrap();
    let cert =
        mwi_identity::CertIdentity::from_pem(std::str::from_utf8(&certs.tls).unwrap()).unwrap();
    assert_eq!(cert.db_service.as_deref(), Some("example"));
    assert_eq!(cert.db_user.as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_database_whose_labels_the_roles_do_not_match_is_not_found() {
    let lab = Lab::start().await;
    lab.handle
        .seed_database("example", BTreeMap::from([("env".into(), "prod".into())]))
        .unwrap();
    let mut db_role = role("db", &[(&["db_server", "db"], &["read", "list"])]);
    db_role
        .spec
        .as_mut()
        .unwrap()
        .allow
        .as_mut()
        .unwrap()
        .database_labels = db_labels(&[("env", "dev")]);
    lab.auth().await.upsert_role(db_role).await.unwrap();
    let bot = joined_bot(&lab, &["db"]).await;
    let err = impersonate(&lab, &bot, &["db"], Some("example"))
        .await
        .unwrap_err();
    assert_eq!(err.message(), r#"database "example" not found"#);
    let err = impersonate(&lab, &bot, &["db"], Some("missing"))
        .await
        .unwrap_err();
    assert_eq!(err.message(), r#"database "missing" not found"#);
}

#[tokio::test]
async fn impersonated_certs_are_refused_while_the_bot_is_locked() {
    let lab = Lab::start().await;
    lab.auth()
        .await
        .upsert_role(access_role("access", &[]))
        .await
        .unwrap();
    let bot = joined_bot(&lab, &["access"]).await;
    lab.auth()
        .await
        .upsert_lock(mwi_testkit::fixtures::lock(
            "l",
            mwi_testkit::fixtures::user("bot-example"),
            "stop",
        ))
        .await
        .unwrap();
    let err = impersonate(&lab, &bot, &["access"], None)
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        r#"lock targeting User:"bot-example" is in force: stop"#
    );
}

#[tokio::test]
async fn the_admin_gets_certs_for_a_bot_user_it_may_impersonate() {
    let lab = Lab::start().await;
    lab.create_bot("example", &[], &[]).await;
    let key = client_key();
    let req = UserCertsRequest {
        username: "bot-example".into(),
        tls_public_key: key.tls_public_pem.into_bytes(),
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
    let cert =
        mwi_identity::CertIdentity::from_pem(std::str::from_utf8(&certs.tls).unwrap()).unwrap();
    assert_eq!(cert.username, "bot-example");
    assert_eq!(cert.roles, ["bot-example"]);
    assert!(!cert.renewable);
    assert_eq!(cert.impersonator.as_deref(), Some("admin"));
}

#[tokio::test]
async fn a_bot_may_not_get_certs_for_another_user() {
    let lab = Lab::start().await;
    let bot = joined_bot(&lab, &[]).await;
    let key = client_key();
    let req = UserCertsRequest {
        username: "admin".into(),
        tls_public_key: key.tls_public_pem.into_bytes(),
        ..Default::default()
    };
    let err = AuthServiceClient::new(lab.channel_of(&bot).await)
        .generate_user_certs(req)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn an_older_clients_single_public_key_gets_both_certificates() {
    let lab = Lab::start().await;
    let key = client_key();
    let req = UserCertsRequest {
        public_key: key.ssh_public.into_bytes(),
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
    assert!(!certs.tls.is_empty() && !certs.ssh.is_empty());
}

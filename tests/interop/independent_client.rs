//! An independent gRPC client for the lab, written from Teleport's wire facts alone: its messages
//! are declared here by hand with Teleport's field numbers, its TLS setup reads the identity file
//! itself, and it shares no code with mwictl's client, proto crate or identity parser (only the
//! lab process comes from mwi_testkit). It proves that the lab speaks Teleport's wire protocol,
//! not merely mwictl's.

use std::sync::Arc;
use std::time::Duration;

use mwi_testkit::process::LabProcess;
use prost::Message;
use tonic::Code;

// --- Messages, by hand, from the wire facts (package, message and field numbers). ---

#[derive(Clone, PartialEq, Message)]
struct Empty {}

#[derive(Clone, PartialEq, Message)]
struct PingResponse {
    #[prost(string, tag = "1")]
    cluster_name: String,
    #[prost(string, tag = "2")]
    server_version: String,
}

#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// types.Metadata
#[derive(Clone, PartialEq, Message)]
struct Metadata {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "6")]
    expires: Option<Timestamp>,
    #[prost(string, tag = "8")]
    revision: String,
}

/// types.LockTarget
#[derive(Clone, PartialEq, Message)]
struct LockTarget {
    #[prost(string, tag = "1")]
    user: String,
    #[prost(string, tag = "2")]
    role: String,
    #[prost(string, tag = "10")]
    bot_instance_id: String,
}

#[derive(Clone, PartialEq, Message)]
struct LockSpec {
    #[prost(message, optional, tag = "1")]
    target: Option<LockTarget>,
    #[prost(string, tag = "2")]
    message: String,
}

/// types.LockV2
#[derive(Clone, PartialEq, Message)]
struct Lock {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "3")]
    version: String,
    #[prost(message, optional, tag = "4")]
    metadata: Option<Metadata>,
    #[prost(message, optional, tag = "5")]
    spec: Option<LockSpec>,
}

#[derive(Clone, PartialEq, Message)]
struct GetLocksRequest {
    #[prost(message, repeated, tag = "1")]
    targets: Vec<LockTarget>,
    #[prost(bool, tag = "2")]
    in_force_only: bool,
}

#[derive(Clone, PartialEq, Message)]
struct GetLocksResponse {
    #[prost(message, repeated, tag = "1")]
    locks: Vec<Lock>,
}

/// GetLockRequest, DeleteLockRequest, GetRoleRequest, types.ResourceRequest: Name = 1.
#[derive(Clone, PartialEq, Message)]
struct NameRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct Rule {
    #[prost(string, repeated, tag = "1")]
    resources: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    verbs: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct Impersonate {
    #[prost(string, repeated, tag = "2")]
    roles: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct RoleConditions {
    #[prost(string, repeated, tag = "1")]
    logins: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    rules: Vec<Rule>,
    #[prost(message, optional, tag = "14")]
    impersonate: Option<Impersonate>,
}

#[derive(Clone, PartialEq, Message)]
struct RoleSpec {
    #[prost(message, optional, tag = "2")]
    allow: Option<RoleConditions>,
    #[prost(message, optional, tag = "3")]
    deny: Option<RoleConditions>,
}

/// types.RoleV6
#[derive(Clone, PartialEq, Message)]
struct Role {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "3")]
    version: String,
    #[prost(message, optional, tag = "4")]
    metadata: Option<Metadata>,
    #[prost(message, optional, tag = "5")]
    spec: Option<RoleSpec>,
}

/// CreateRoleRequest / UpdateRoleRequest: Role = 1.
#[derive(Clone, PartialEq, Message)]
struct RoleRequest {
    #[prost(message, optional, tag = "1")]
    role: Option<Role>,
}

#[derive(Clone, PartialEq, Message)]
struct TokenSpec {
    #[prost(string, repeated, tag = "1")]
    roles: Vec<String>,
    #[prost(string, tag = "4")]
    join_method: String,
    #[prost(string, tag = "5")]
    bot_name: String,
}

/// types.ProvisionTokenV2
#[derive(Clone, PartialEq, Message)]
struct Token {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "3")]
    version: String,
    #[prost(message, optional, tag = "4")]
    metadata: Option<Metadata>,
    #[prost(message, optional, tag = "5")]
    spec: Option<TokenSpec>,
}

/// CreateTokenV2Request: oneof Token { V2 = 1 }.
#[derive(Clone, PartialEq, Message)]
struct CreateTokenRequest {
    #[prost(message, optional, tag = "1")]
    v2: Option<Token>,
}

/// teleport.header.v1.Metadata
#[derive(Clone, PartialEq, Message)]
struct HeaderMetadata {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "8")]
    revision: String,
}

#[derive(Clone, PartialEq, Message)]
struct Trait {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, repeated, tag = "2")]
    values: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct BotSpec {
    #[prost(string, repeated, tag = "1")]
    roles: Vec<String>,
    #[prost(message, repeated, tag = "2")]
    traits: Vec<Trait>,
}

#[derive(Clone, PartialEq, Message)]
struct BotStatus {
    #[prost(string, tag = "1")]
    user_name: String,
    #[prost(string, tag = "3")]
    role_name: String,
}

/// teleport.machineid.v1.Bot
#[derive(Clone, PartialEq, Message)]
struct Bot {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "3")]
    version: String,
    #[prost(message, optional, tag = "4")]
    metadata: Option<HeaderMetadata>,
    #[prost(message, optional, tag = "5")]
    spec: Option<BotSpec>,
    #[prost(message, optional, tag = "6")]
    status: Option<BotStatus>,
}

/// teleport.machineid.v1.CreateBotRequest: bot = 1.
#[derive(Clone, PartialEq, Message)]
struct CreateBotRequest {
    #[prost(message, optional, tag = "1")]
    bot: Option<Bot>,
}

// --- Transport: mTLS with the identity file, server name teleport.cluster.local, ALPN h2. ---

/// The real `mwictl lab start`, on a free loopback port in a temp dir.
fn start_lab() -> LabProcess {
    LabProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_mwictl")), &[])
}

async fn channel(lab: &LabProcess) -> tonic::transport::Channel {
    let text = std::fs::read(&lab.identity).unwrap();
    let mut key = None;
    let mut certs = Vec::new();
    for item in rustls_pemfile::read_all(&mut text.as_slice()) {
        match item.unwrap() {
            rustls_pemfile::Item::Pkcs8Key(k) => key = Some(k.into()),
            rustls_pemfile::Item::Sec1Key(k) => key = Some(k.into()),
            rustls_pemfile::Item::Pkcs1Key(k) => key = Some(k.into()),
            rustls_pemfile::Item::X509Certificate(c) => certs.push(c),
            _ => {}
        }
    }
    // Teleport's order: key, then the client certificate, then the CA certificates.
    let client_cert = certs.remove(0);
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs {
        roots.add(ca).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![client_cert], key.expect("identity has a key"))
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = lab.addr.clone();
    tonic::transport::Endpoint::from_static("http://teleport.cluster.local")
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            let addr = addr.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name =
                    rustls_pki_types::ServerName::try_from("teleport.cluster.local").unwrap();
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .unwrap()
}

async fn call<Req: Message + 'static, Resp: Message + Default + 'static>(
    ch: &tonic::transport::Channel,
    path: &'static str,
    req: Req,
) -> Result<Resp, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(
        tonic::Request::new(req),
        http::uri::PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(|r| r.into_inner())
}

fn lock(name: &str, target: LockTarget) -> Lock {
    Lock {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(LockSpec {
            target: Some(target),
            message: format!("lock {name}"),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_built_from_the_wire_facts_alone_drives_the_lab() {
    let lab = start_lab();
    let ch = channel(&lab).await;

    // Ping.
    let ping: PingResponse = call(&ch, "/proto.AuthService/Ping", Empty {})
        .await
        .unwrap();
    assert_eq!(ping.cluster_name, lab.cluster);
    assert!(!ping.server_version.is_empty());

    // A role for the bot to impersonate, then the bot.
    let access = Role {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: "access".into(),
            ..Default::default()
        }),
        spec: Some(RoleSpec {
            allow: Some(RoleConditions {
                logins: vec!["root".into()],
                ..Default::default()
            }),
            deny: None,
        }),
    };
    let created: Role = call(
        &ch,
        "/proto.AuthService/CreateRole",
        RoleRequest { role: Some(access) },
    )
    .await
    .unwrap();
    let first_revision = created.metadata.clone().unwrap().revision;
    assert!(
        !first_revision.is_empty(),
        "a created role carries a revision"
    );

    let bot = Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(HeaderMetadata {
            name: "example".into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: vec!["access".into()],
            traits: vec![Trait {
                name: "logins".into(),
                values: vec!["root".into()],
            }],
        }),
        status: None,
    };
    let made: Bot = call(
        &ch,
        "/teleport.machineid.v1.BotService/CreateBot",
        CreateBotRequest { bot: Some(bot) },
    )
    .await
    .unwrap();
    let status = made.status.unwrap();
    assert_eq!(status.user_name, "bot-example");
    assert_eq!(status.role_name, "bot-example");

    // The bot's role, read back through the wire.
    let bot_role: Role = call(
        &ch,
        "/proto.AuthService/GetRole",
        NameRequest {
            name: "bot-example".into(),
        },
    )
    .await
    .unwrap();
    let allow = bot_role.spec.unwrap().allow.unwrap();
    assert_eq!(allow.impersonate.unwrap().roles, vec!["access"]);

    // A join token for the bot.
    let name = "0123456789abcdef0123456789abcdef".to_string();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let token = Token {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.clone(),
            expires: Some(Timestamp {
                seconds: expires,
                nanos: 0,
            }),
            ..Default::default()
        }),
        spec: Some(TokenSpec {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: "example".into(),
        }),
    };
    let _: Empty = call(
        &ch,
        "/proto.AuthService/CreateTokenV2",
        CreateTokenRequest { v2: Some(token) },
    )
    .await
    .unwrap();
    let got: Token = call(
        &ch,
        "/proto.AuthService/GetToken",
        NameRequest { name: name.clone() },
    )
    .await
    .unwrap();
    assert_eq!(got.spec.unwrap().bot_name, "example");
    assert_eq!(got.metadata.unwrap().expires.unwrap().seconds, expires);

    // Locks with target filters.
    let user = LockTarget {
        user: "bot-example".into(),
        ..Default::default()
    };
    let role = LockTarget {
        role: "other".into(),
        ..Default::default()
    };
    let inst = LockTarget {
        bot_instance_id: "1d2c".into(),
        ..Default::default()
    };
    for (n, t) in [("l-user", &user), ("l-role", &role), ("l-inst", &inst)] {
        let _: Empty = call(&ch, "/proto.AuthService/UpsertLock", lock(n, t.clone()))
            .await
            .unwrap();
    }
    let all: GetLocksResponse = call(
        &ch,
        "/proto.AuthService/GetLocks",
        GetLocksRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(all.locks.len(), 3);
    let only_user: GetLocksResponse = call(
        &ch,
        "/proto.AuthService/GetLocks",
        GetLocksRequest {
            targets: vec![user.clone()],
            in_force_only: true,
        },
    )
    .await
    .unwrap();
    let names: Vec<_> = only_user
        .locks
        .iter()
        .map(|l| l.metadata.clone().unwrap().name)
        .collect();
    assert_eq!(names, vec!["l-user"]);
    let two: GetLocksResponse = call(
        &ch,
        "/proto.AuthService/GetLocks",
        GetLocksRequest {
            targets: vec![role.clone(), inst.clone()],
            in_force_only: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(two.locks.len(), 2);
    let one: Lock = call(
        &ch,
        "/proto.AuthService/GetLock",
        NameRequest {
            name: "l-inst".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(one.spec.unwrap().target.unwrap().bot_instance_id, "1d2c");
    let _: Empty = call(
        &ch,
        "/proto.AuthService/DeleteLock",
        NameRequest {
            name: "l-inst".into(),
        },
    )
    .await
    .unwrap();
    let gone = call::<_, Lock>(
        &ch,
        "/proto.AuthService/GetLock",
        NameRequest {
            name: "l-inst".into(),
        },
    )
    .await;
    assert_eq!(gone.unwrap_err().code(), Code::NotFound);

    // Conditional role updates: the current revision wins, a stale one is refused.
    let mut edited = created.clone();
    edited
        .spec
        .as_mut()
        .unwrap()
        .allow
        .as_mut()
        .unwrap()
        .logins
        .push("ubuntu".into());
    let updated: Role = call(
        &ch,
        "/proto.AuthService/UpdateRole",
        RoleRequest {
            role: Some(edited.clone()),
        },
    )
    .await
    .unwrap();
    assert_ne!(updated.metadata.unwrap().revision, first_revision);
    let stale = call::<_, Role>(
        &ch,
        "/proto.AuthService/UpdateRole",
        RoleRequest { role: Some(edited) },
    )
    .await
    .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    assert!(stale.message().contains("revision"), "{}", stale.message());
    tokio::time::sleep(Duration::from_millis(1)).await;
}

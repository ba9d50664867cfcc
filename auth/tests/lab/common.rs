//! Test harness: a lab in a temp dir, and mTLS channels for the admin or any issued identity.

use std::path::Path;

use mwi_auth::lab::{LabConfig, LabHandle};
use mwi_identity::IdentityFile;
use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::join_service_client::JoinServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub struct Lab {
    pub handle: LabHandle,
    pub dir: tempfile::TempDir,
    pub admin: IdentityFile,
}

pub fn config(dir: &Path) -> LabConfig {
    let mut config = LabConfig::new(dir.join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

impl Lab {
    pub async fn start() -> Lab {
        Lab::start_with(|_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut LabConfig)) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        edit(&mut config);
        let handle = mwi_auth::lab::spawn(config).await.unwrap();
        let admin = IdentityFile::read(&handle.ready().identity_path)
            .unwrap()
            .identity;
        Lab { handle, dir, admin }
    }

    pub fn data_dir(&self) -> &Path {
        &self.handle.ready().data_dir
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::from_shared(format!("https://{}", self.handle.addr())).unwrap()
    }

    fn tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .domain_name("teleport.cluster.local")
            .ca_certificate(Certificate::from_pem(&self.admin.tls_ca_pems[0]))
    }

    /// A channel authenticated as the given certificate and key.
    pub async fn channel_as(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Channel, tonic::transport::Error> {
        let tls = self.tls().identity(Identity::from_pem(cert_pem, key_pem));
        self.endpoint().tls_config(tls).unwrap().connect().await
    }

    /// A channel without a client certificate (only joining works over it).
    pub async fn anonymous(&self) -> Channel {
        self.endpoint()
            .tls_config(self.tls())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn admin_channel(&self) -> Channel {
        self.channel_as(&self.admin.tls_cert_pem, &self.admin.private_key_pem)
            .await
            .unwrap()
    }

    pub async fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(self.admin_channel().await)
    }

    pub async fn bots(&self) -> BotServiceClient<Channel> {
        BotServiceClient::new(self.admin_channel().await)
    }

    pub async fn instances(&self) -> BotInstanceServiceClient<Channel> {
        BotInstanceServiceClient::new(self.admin_channel().await)
    }

    pub async fn join(&self) -> JoinServiceClient<Channel> {
        JoinServiceClient::new(self.anonymous().await)
    }
}

/// Calls `path` with raw request bytes and returns the raw response bytes.
pub async fn raw_call(
    channel: Channel,
    path: &'static str,
    body: Vec<u8>,
) -> Result<bytes::Bytes, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(
        tonic::Request::new(bytes::Bytes::from(body)),
        path,
        mwi_proto::raw::RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// Appends fields with numbers no Teleport message declares (a "newer server" would).
pub fn with_unknown(mut bytes: Vec<u8>) -> Vec<u8> {
    prost::encoding::string::encode(901, &"from-the-future".to_string(), &mut bytes);
    bytes
}

pub fn has_future_field(bytes: &[u8]) -> bool {
    bytes.windows(15).any(|w| w == b"from-the-future")
}

/// A client key pair, in the forms requests carry.
#[derive(Clone)]
pub struct ClientKey {
    pub key_pem: String,
    pub tls_public_pem: String,
    pub ssh_public: String,
}

pub fn client_key() -> ClientKey {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let ssh = ssh_key::PublicKey::from(ssh_key::public::EcdsaPublicKey::from(key.verifying_key()));
    ClientKey {
        key_pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        tls_public_pem: key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        ssh_public: ssh.to_openssh().unwrap(),
    }
}

/// A bot's identity: its certificate and the key it was issued for.
#[derive(Clone)]
pub struct BotIdentity {
    pub cert_pem: String,
    pub key: ClientKey,
    pub certs: mwi_proto::proto::Certs,
}

impl BotIdentity {
    pub fn cert(&self) -> mwi_identity::CertIdentity {
        mwi_identity::CertIdentity::from_pem(&self.cert_pem).unwrap()
    }
}

fn identity_of(certs: mwi_proto::proto::Certs, key: ClientKey) -> BotIdentity {
    BotIdentity {
        cert_pem: String::from_utf8(certs.tls.clone()).unwrap(),
        key,
        certs,
    }
}

impl Lab {
    /// Creates bot `name` with `roles` and the `logins` trait.
    pub async fn create_bot(
        &self,
        name: &str,
        roles: &[&str],
        logins: &[&str],
    ) -> mwi_proto::machineid::Bot {
        use mwi_proto::machineid::{Bot, BotSpec, CreateBotRequest, Trait};
        let bot = Bot {
            kind: "bot".into(),
            version: "v1".into(),
            metadata: Some(mwi_proto::teleport::header::v1::Metadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(BotSpec {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                traits: vec![Trait {
                    name: "logins".into(),
                    values: logins.iter().map(|l| l.to_string()).collect(),
                }],
                max_session_ttl: None,
            }),
            ..Default::default()
        };
        self.bots()
            .await
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .unwrap()
            .into_inner()
    }

    /// A one-time bot join token (32 hex characters, 1h), like `tctl bots instances add`.
    pub async fn bot_token(&self, bot: &str) -> String {
        let name = hex::encode(rand::random::<[u8; 16]>());
        self.put_token(&name, bot, 3600).await;
        name
    }

    pub async fn put_token(&self, name: &str, bot: &str, ttl_secs: i64) {
        use mwi_proto::proto::UpsertTokenV2Request;
        use mwi_proto::proto::upsert_token_v2_request::Token;
        use mwi_proto::types::{Metadata, ProvisionTokenSpecV2, ProvisionTokenV2};
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let token = ProvisionTokenV2 {
            kind: "token".into(),
            version: "v2".into(),
            metadata: Some(Metadata {
                name: name.into(),
                expires: Some(prost_types::Timestamp {
                    seconds: now + ttl_secs,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            spec: Some(ProvisionTokenSpecV2 {
                roles: vec!["Bot".into()],
                join_method: "token".into(),
                bot_name: bot.into(),
            }),
            ..Default::default()
        };
        self.auth()
            .await
            .upsert_token_v2(UpsertTokenV2Request {
                token: Some(Token::V2(token)),
            })
            .await
            .unwrap();
    }

    /// Joins with `token` as tbot does (fresh key, no client certificate).
    pub async fn join_bot(&self, token: &str) -> Result<BotIdentity, tonic::Status> {
        let key = client_key();
        let req = mwi_proto::types::RegisterUsingTokenRequest {
            role: "Bot".into(),
            token: token.into(),
            public_tls_key: key.tls_public_pem.clone().into_bytes(),
            public_ssh_key: key.ssh_public.clone().into_bytes(),
            ..Default::default()
        };
        let certs = self
            .join()
            .await
            .register_using_token(req)
            .await?
            .into_inner();
        Ok(identity_of(certs, key))
    }

    /// A channel authenticated as `bot`.
    pub async fn channel_of(&self, bot: &BotIdentity) -> Channel {
        self.channel_as(&bot.cert_pem, &bot.key.key_pem)
            .await
            .unwrap()
    }

    /// Renews `bot`'s identity with a fresh key, as tbot does every renewal.
    pub async fn renew(&self, bot: &BotIdentity) -> Result<BotIdentity, tonic::Status> {
        let key = client_key();
        let req = mwi_proto::proto::UserCertsRequest {
            username: bot.cert().username,
            tls_public_key: key.tls_public_pem.clone().into_bytes(),
            ssh_public_key: key.ssh_public.clone().into_bytes(),
            expires: Some(in_secs(3600)),
            ..Default::default()
        };
        let certs = AuthServiceClient::new(self.channel_of(bot).await)
            .generate_user_certs(req)
            .await?
            .into_inner();
        Ok(identity_of(certs, key))
    }
}

pub fn in_secs(secs: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    prost_types::Timestamp {
        seconds: now + secs,
        nanos: 0,
    }
}

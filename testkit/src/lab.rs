//! The lab auth service in-process: started with `mwi_auth::lab::spawn` on a free loopback port
//! in a temp dir, with admin and per-identity channels and the calls tests set state up with.

use std::path::{Path, PathBuf};

use mwi_auth::lab::{LabConfig, LabHandle};
use mwi_identity::IdentityFile;
use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{Bot, BotInstance, CreateBotRequest, ListBotInstancesRequest};
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::join_service_client::JoinServiceClient;
use mwi_proto::proto::{
    Certs, GetLocksRequest, UpsertRoleRequest, UpsertTokenV2Request, UserCertsRequest,
    upsert_token_v2_request,
};
use mwi_proto::types::{LockV2, RegisterUsingTokenRequest, RoleV6};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::fixtures::{self, ClientKey, client_key};

/// A running lab and the temp dir holding its data; it stops when dropped.
pub struct Lab {
    pub handle: LabHandle,
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The admin identity the lab wrote.
    pub admin: IdentityFile,
    /// The lab's CA certificates as a PEM file (for `--ca-path`).
    pub ca_path: PathBuf,
}

/// The configuration `Lab::start` uses: data in `dir/data`, port 0 on loopback.
pub fn config(dir: &Path) -> LabConfig {
    let mut config = LabConfig::new(dir.join("data"));
    config.listen = "127.0.0.1:0".parse().expect("loopback address");
    config
}

impl Lab {
    pub async fn start() -> Lab {
        Lab::start_with(|_| {}).await
    }

    /// Starts a lab with `edit` applied to the default configuration.
    pub async fn start_with(edit: impl FnOnce(&mut LabConfig)) -> Lab {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config(dir.path());
        edit(&mut config);
        Lab::spawn(dir, config).await
    }

    /// Stops this lab and starts a new one on the same data dir (default configuration).
    pub async fn restart(self) -> Lab {
        let Lab { handle, dir, .. } = self;
        handle.shutdown().await.expect("the lab stops");
        let config = config(dir.path());
        Lab::spawn(dir, config).await
    }

    async fn spawn(dir: tempfile::TempDir, config: LabConfig) -> Lab {
        let handle = mwi_auth::lab::spawn(config).await.expect("the lab starts");
        let admin = IdentityFile::read(&handle.ready().identity_path)
            .expect("the admin identity")
            .identity;
        let ca_path = dir.path().join("lab-ca.pem");
        std::fs::write(&ca_path, admin.tls_ca_pems.concat()).expect("write the CA file");
        Lab {
            addr: handle.addr().to_string(),
            handle,
            dir,
            admin,
            ca_path,
        }
    }

    /// The lab's data dir.
    pub fn data_dir(&self) -> &Path {
        &self.handle.ready().data_dir
    }

    /// `name` inside the temp dir (for agent data dirs, logs, configs).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::from_shared(format!("https://{}", self.addr)).expect("endpoint")
    }

    fn tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .domain_name("teleport.cluster.local")
            .ca_certificate(Certificate::from_pem(self.admin.tls_ca_pems.concat()))
    }

    /// A channel authenticated as the given certificate and key.
    pub async fn channel_as(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Channel, tonic::transport::Error> {
        let tls = self.tls().identity(Identity::from_pem(cert_pem, key_pem));
        self.endpoint()
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
    }

    /// A channel without a client certificate (only joining works over it).
    pub async fn anonymous(&self) -> Channel {
        self.endpoint()
            .tls_config(self.tls())
            .expect("tls")
            .connect()
            .await
            .expect("connect")
    }

    pub async fn admin_channel(&self) -> Channel {
        self.channel_as(&self.admin.tls_cert_pem, &self.admin.private_key_pem)
            .await
            .expect("admin channel")
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

    /// Creates bot `name` (see [`fixtures::bot`]) and returns it as stored.
    pub async fn create_bot(&self, name: &str, roles: &[&str], logins: &[&str]) -> Bot {
        let bot = fixtures::bot(name, roles, logins);
        self.bots()
            .await
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .expect("CreateBot")
            .into_inner()
    }

    /// A new one-time join token for `bot`, valid one hour, like `tctl bots instances add`.
    pub async fn bot_token(&self, bot: &str) -> String {
        let name = fixtures::token_name();
        self.put_token(&name, bot, 3600).await;
        name
    }

    /// Upserts join token `name` for `bot`, expiring `ttl_secs` from now.
    pub async fn put_token(&self, name: &str, bot: &str, ttl_secs: i64) {
        self.auth()
            .await
            .upsert_token_v2(UpsertTokenV2Request {
                token: Some(upsert_token_v2_request::Token::V2(fixtures::token(
                    name, bot, ttl_secs,
                ))),
            })
            .await
            .expect("UpsertTokenV2");
    }

    pub async fn upsert_role(&self, role: RoleV6) {
        self.auth()
            .await
            .upsert_role_v2(UpsertRoleRequest { role: Some(role) })
            .await
            .expect("UpsertRoleV2");
    }

    /// The instances of `bot` (first page of 100).
    pub async fn bot_instances(&self, bot: &str) -> Vec<BotInstance> {
        self.instances()
            .await
            .list_bot_instances(ListBotInstancesRequest {
                filter_bot_name: bot.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("ListBotInstances")
            .into_inner()
            .bot_instances
    }

    pub async fn locks(&self) -> Vec<LockV2> {
        self.auth()
            .await
            .get_locks(GetLocksRequest::default())
            .await
            .expect("GetLocks")
            .into_inner()
            .locks
    }

    /// Joins with `token` as tbot does (fresh key, no client certificate).
    pub async fn join_bot(&self, token: &str) -> Result<BotIdentity, tonic::Status> {
        let key = client_key();
        let req = RegisterUsingTokenRequest {
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
        Ok(BotIdentity::new(certs, key))
    }

    /// A channel authenticated as `bot`.
    pub async fn channel_of(&self, bot: &BotIdentity) -> Channel {
        self.channel_as(&bot.cert_pem, &bot.key.key_pem)
            .await
            .expect("bot channel")
    }

    /// Renews `bot`'s identity with a fresh key, as tbot does every renewal.
    pub async fn renew(&self, bot: &BotIdentity) -> Result<BotIdentity, tonic::Status> {
        let key = client_key();
        let req = UserCertsRequest {
            username: bot.cert().username,
            tls_public_key: key.tls_public_pem.clone().into_bytes(),
            ssh_public_key: key.ssh_public.clone().into_bytes(),
            expires: Some(crate::in_secs(3600)),
            ..Default::default()
        };
        let certs = AuthServiceClient::new(self.channel_of(bot).await)
            .generate_user_certs(req)
            .await?
            .into_inner();
        Ok(BotIdentity::new(certs, key))
    }
}

/// A bot's identity: its certificate and the key it was issued for.
#[derive(Clone)]
pub struct BotIdentity {
    pub cert_pem: String,
    pub key: ClientKey,
    pub certs: Certs,
}

impl BotIdentity {
    fn new(certs: Certs, key: ClientKey) -> BotIdentity {
        BotIdentity {
            cert_pem: String::from_utf8(certs.tls.clone()).expect("PEM is UTF-8"),
            key,
            certs,
        }
    }

    pub fn cert(&self) -> mwi_identity::CertIdentity {
        mwi_identity::CertIdentity::from_pem(&self.cert_pem).expect("a Teleport certificate")
    }
}

/// The generation of an instance's latest authentication.
pub fn generation(instance: &BotInstance) -> i32 {
    instance
        .status
        .as_ref()
        .and_then(|s| s.latest_authentications.last())
        .map_or(0, |a| a.generation)
}

//! A lab auth service for the agent's tests: started in-process on a free loopback port in a
//! temporary directory, with an admin channel to create bots, tokens and roles and to read
//! bot instances and locks.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use mwi_auth::lab::{LabConfig, LabHandle, LockStyle};
use mwi_identity::IdentityFile;
use mwi_identity::tls;
use mwi_proto::machineid::bot_instance_service_client::BotInstanceServiceClient;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::machineid::{
    Bot, BotInstance, BotSpec, CreateBotRequest, ListBotInstancesRequest, Trait,
};
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{
    GetLocksRequest, UpsertRoleRequest, UpsertTokenV2Request, upsert_token_v2_request,
};
use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;
use mwi_proto::types::{LockV2, Metadata, ProvisionTokenSpecV2, ProvisionTokenV2, RoleV6};
use tonic::transport::Channel;

pub struct Lab {
    pub handle: Option<LabHandle>,
    pub dir: tempfile::TempDir,
    pub addr: String,
    /// The lab's CA certificate (PEM file), for --ca-path.
    pub ca_path: PathBuf,
    pub admin: Channel,
}

impl Lab {
    pub async fn start() -> Lab {
        Lab::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut LabConfig)) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LabConfig::new(dir.path().join("lab"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.lock_style = LockStyle::User;
        adjust(&mut config);
        let handle = mwi_auth::lab::spawn(config).await.expect("the lab starts");
        let addr = handle.addr().to_string();
        let identity = IdentityFile::read(&handle.ready().identity_path)
            .unwrap()
            .identity;
        let ca_path = dir.path().join("lab-ca.pem");
        std::fs::write(&ca_path, identity.tls_ca_pems.concat()).unwrap();
        let admin = admin_channel(&addr, &identity).await;
        Lab {
            handle: Some(handle),
            dir,
            addr,
            ca_path,
            admin,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn create_bot(&self, name: &str, roles: &[&str], logins: &[&str]) {
        let bot = Bot {
            kind: "bot".into(),
            version: "v1".into(),
            metadata: Some(HeaderMetadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(BotSpec {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                traits: if logins.is_empty() {
                    Vec::new()
                } else {
                    vec![Trait {
                        name: "logins".into(),
                        values: logins.iter().map(|l| l.to_string()).collect(),
                    }]
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        BotServiceClient::new(self.admin.clone())
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .expect("CreateBot");
    }

    /// A new one-time join token for `bot`, valid one hour.
    pub async fn create_token(&self, bot: &str) -> String {
        let name = hex::encode(rand_bytes());
        let token = ProvisionTokenV2 {
            kind: "token".into(),
            version: "v2".into(),
            metadata: Some(Metadata {
                name: name.clone(),
                expires: Some((SystemTime::now() + Duration::from_secs(3600)).into()),
                ..Default::default()
            }),
            spec: Some(ProvisionTokenSpecV2 {
                roles: vec!["Bot".into()],
                join_method: "token".into(),
                bot_name: bot.into(),
            }),
            ..Default::default()
        };
        AuthServiceClient::new(self.admin.clone())
            .upsert_token_v2(UpsertTokenV2Request {
                token: Some(upsert_token_v2_request::Token::V2(token)),
            })
            .await
            .expect("UpsertTokenV2");
        name
    }

    pub async fn upsert_role(&self, role: RoleV6) {
        AuthServiceClient::new(self.admin.clone())
            .upsert_role_v2(UpsertRoleRequest { role: Some(role) })
            .await
            .expect("UpsertRoleV2");
    }

    pub async fn instances(&self, bot: &str) -> Vec<BotInstance> {
        BotInstanceServiceClient::new(self.admin.clone())
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
        AuthServiceClient::new(self.admin.clone())
            .get_locks(GetLocksRequest::default())
            .await
            .expect("GetLocks")
            .into_inner()
            .locks
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

fn rand_bytes() -> [u8; 16] {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

async fn admin_channel(addr: &str, identity: &IdentityFile) -> Channel {
    let roots = tls::roots_from_pem(&identity.tls_ca_pems).unwrap();
    let cert = tls::ClientCert {
        cert_pem: &identity.tls_cert_pem,
        key_pem: &identity.private_key_pem,
    };
    let config = tls::client_config(tls::ServerCheck::Roots(roots), Some(cert), None).unwrap();
    tls::Dialer::new(addr, config)
        .unwrap()
        .channel()
        .await
        .expect("admin channel")
}

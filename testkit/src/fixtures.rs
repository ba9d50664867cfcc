//! Fixture builders: the Teleport resources tests create (bot, role, token, lock), client key
//! pairs as requests carry them, and a bot identity stored in tbot's file layout.

use std::path::Path;

use mwi_identity::CertIdentity;
use mwi_proto::machineid::{Bot, BotSpec, Trait};
use mwi_proto::types::{
    LockSpecV2, LockTarget, LockV2, Metadata, ProvisionTokenSpecV2, ProvisionTokenV2,
    RoleConditions, RoleSpecV6, RoleV6, Rule,
};

/// Bot `name` that may impersonate `roles`, with a `logins` trait when `logins` is not empty.
pub fn bot(name: &str, roles: &[&str], logins: &[&str]) -> Bot {
    Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: strings(roles),
            traits: if logins.is_empty() {
                Vec::new()
            } else {
                vec![Trait {
                    name: "logins".into(),
                    values: strings(logins),
                }]
            },
            max_session_ttl: None,
        }),
        ..Default::default()
    }
}

/// Role `name` (v7) allowing `rules`, each a list of resources and a list of verbs.
pub fn role(name: &str, rules: &[(&[&str], &[&str])]) -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            allow: Some(RoleConditions {
                rules: rules
                    .iter()
                    .map(|(res, verbs)| Rule {
                        resources: strings(res),
                        verbs: strings(verbs),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Role `name` (v7) allowing SSH as `logins` and nothing else.
pub fn access_role(name: &str, logins: &[&str]) -> RoleV6 {
    let mut role = role(name, &[]);
    if let Some(allow) = role.spec.as_mut().and_then(|s| s.allow.as_mut()) {
        allow.logins = strings(logins);
    }
    role
}

/// Bot join token `name` (method `token`) for `bot`, expiring `ttl_secs` from now.
pub fn token(name: &str, bot: &str, ttl_secs: i64) -> ProvisionTokenV2 {
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            expires: Some(crate::in_secs(ttl_secs)),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: bot.into(),
        }),
        ..Default::default()
    }
}

/// A random one-time token name: 32 hex characters, like `tctl bots instances add` makes.
pub fn token_name() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Lock `name` on `target` with `message`.
pub fn lock(name: &str, target: LockTarget, message: &str) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(target),
            message: message.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A lock target naming user `name`.
pub fn user(name: &str) -> LockTarget {
    LockTarget {
        user: name.into(),
        ..Default::default()
    }
}

/// A client key pair, in the forms requests carry.
#[derive(Clone)]
pub struct ClientKey {
    pub key_pem: String,
    pub tls_public_pem: String,
    pub ssh_public: String,
}

/// A fresh P-256 client key, as tbot makes one for each join and renewal.
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

/// A bot identity as tbot stores it in `dir`, issued by a throwaway CA, valid `from..to`
/// (Unix seconds), joined with `token` (its hash goes to `tokenhash`).
pub fn store_identity(dir: &Path, generation: u64, from: i64, to: i64, token: &str) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "lab");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().unwrap();
    let id = CertIdentity {
        username: "bot-example".into(),
        roles: vec!["bot-example".into()],
        renewable: true,
        generation,
        bot_name: Some("example".into()),
        bot_instance_id: Some("5cee949f-5203-4f3b-9805-dac35d798a16".into()),
        ..Default::default()
    };
    let mut params = rcgen::CertificateParams::default();
    for (oid, value) in id.subject_entries() {
        params
            .distinguished_name
            .push(rcgen::DnType::CustomDnType(oid.to_vec()), value);
    }
    params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(to).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();

    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("tlscert"), cert.pem()).unwrap();
    std::fs::write(dir.join("tlscacerts"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("tokenhash"), sha256_hex(token)).unwrap();
}

/// Lowercase hex SHA-256 of `text` (how tbot records the token it joined with).
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

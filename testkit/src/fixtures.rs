//! Fixture builders: the Teleport resources tests create (bot, role, token, lock), client key
//! pairs as requests carry them, and a bot identity stored in tbot's file layout.

use std::path::Path;

use mwi_identity::CertIdentity;
use mwi_proto::machineid::{Bot, BotSpec, Trait};
use mwi_proto::types::provision_token_spec_v2_bound_keypair::{OnboardingSpec, RecoverySpec};
use mwi_proto::types::{
    LockSpecV2, LockTarget, LockV2, Metadata, ProvisionTokenSpecV2,
    ProvisionTokenSpecV2BoundKeypair, ProvisionTokenV2, RoleConditions, RoleSpecV6, RoleV6, Rule,
};

/// Bot `name` that may impersonate `roles`, with a `logins` trait when `logins` is not empty.
pub fn bot(name: &str, roles: &[&str], logins: &[&str]) -> Bot {
    if logins.is_empty() {
        bot_with(name, roles, &[], None)
    } else {
        bot_with(name, roles, &[("logins", logins)], None)
    }
}

/// Bot `name` with exactly these `traits` (name, values) and an optional max session TTL in
/// seconds.
pub fn bot_with(
    name: &str,
    roles: &[&str],
    traits: &[(&str, &[&str])],
    max_session_ttl: Option<i64>,
) -> Bot {
    Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: strings(roles),
            traits: traits
                .iter()
                .map(|(name, values)| Trait {
                    name: name.to_string(),
                    values: strings(values),
                })
                .collect(),
            max_session_ttl: max_session_ttl
                .map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        }),
        ..Default::default()
    }
}

/// Role `name` (v7) allowing `rules`, each a list of resources and a list of verbs.
pub fn role(name: &str, rules: &[(&[&str], &[&str])]) -> RoleV6 {
    role_allowing(
        name,
        RoleConditions {
            rules: rules
                .iter()
                .map(|(res, verbs)| Rule {
                    resources: strings(res),
                    verbs: strings(verbs),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    )
}

/// Role `name` (v7) with these `allow` conditions.
pub fn role_allowing(name: &str, allow: RoleConditions) -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            allow: Some(allow),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Role `name` (v7) allowing SSH as `logins` and nothing else.
pub fn access_role(name: &str, logins: &[&str]) -> RoleV6 {
    role_allowing(
        name,
        RoleConditions {
            logins: strings(logins),
            ..Default::default()
        },
    )
}

/// Bot join token `name` (method `token`) for `bot`, expiring `ttl_secs` from now.
pub fn token(name: &str, bot: &str, ttl_secs: i64) -> ProvisionTokenV2 {
    token_until(name, bot, crate::in_secs(ttl_secs))
}

/// Bot join token `name` (method `token`) for `bot`, expiring at `expires`.
pub fn token_until(name: &str, bot: &str, expires: prost_types::Timestamp) -> ProvisionTokenV2 {
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            expires: Some(expires),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: "token".into(),
            bot_name: bot.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Bound-keypair join token `name` for `bot` (spec only, no expiry: bound-keypair tokens live
/// until deleted) with `onboarding`, a recovery `limit` and `mode`.
pub fn bound_keypair_token(
    name: &str,
    bot: &str,
    onboarding: OnboardingSpec,
    limit: u32,
    mode: &str,
) -> ProvisionTokenV2 {
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            bot_name: bot.into(),
            join_method: "bound_keypair".into(),
            bound_keypair: Some(ProvisionTokenSpecV2BoundKeypair {
                onboarding: Some(onboarding),
                recovery: Some(RecoverySpec {
                    limit,
                    mode: mode.into(),
                }),
                rotate_after: None,
            }),
            ..Default::default()
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
    target("user", name)
}

/// A lock target with one field set: `user`, `role`, `login`, `bot_instance_id` or
/// `join_token`.
pub fn target(field: &str, value: &str) -> LockTarget {
    let mut target = LockTarget::default();
    let slot = match field {
        "user" => &mut target.user,
        "role" => &mut target.role,
        "login" => &mut target.login,
        "bot_instance_id" => &mut target.bot_instance_id,
        "join_token" => &mut target.join_token,
        other => panic!("no lock target field {other}"),
    };
    *slot = value.to_owned();
    target
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

//! Join token RPCs: GetToken, GetTokens, CreateTokenV2, UpsertTokenV2, DeleteToken. A token's
//! expiry is its `metadata.expires`; expired tokens are invisible and swept. Writes validate
//! bound-keypair tokens and keep their server-written status (see [`settle_status`]).

use bytes::Bytes;
use mwi_proto::types::{ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2, ResourceRequest};

use crate::authz::Caller;
use crate::error::ApiError;
use crate::policy::timestamp_ms;
use crate::rpc::{decode, decode_empty, empty, not_found, repeated, require_name};
use crate::server::Auth;
use crate::store::{Kind, Page};
use crate::wire;

/// Teleport's system roles a token may grant.
const SYSTEM_ROLES: &[&str] = &[
    "Auth",
    "Node",
    "Proxy",
    "Kube",
    "App",
    "Db",
    "WindowsDesktop",
    "Discovery",
    "Instance",
    "Bot",
    "MDM",
    "Okta",
];
/// The system role of bot tokens.
pub(crate) const BOT_ROLE: &str = "Bot";
/// The join method the lab can check (the token itself is the secret).
pub(crate) const TOKEN_METHOD: &str = "token";
/// The join method whose token carries a bound key and a recovery counter in its status.
pub(crate) const BOUND_KEYPAIR_METHOD: &str = "bound_keypair";

/// Validates a token and fills in kind, version and the default join method.
fn complete_token(token: &mut ProvisionTokenV2) -> Result<(), ApiError> {
    let name = token
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    require_name("token", &name)?;
    if !token.kind.is_empty() && token.kind != "token" {
        return Err(ApiError::BadParameter(format!(
            "a token's kind is \"token\", not {:?}",
            token.kind
        )));
    }
    let spec = token.spec.get_or_insert_with(Default::default);
    if spec.roles.is_empty() {
        return Err(ApiError::BadParameter(
            "token has no roles; set spec.roles (e.g. [Bot])".into(),
        ));
    }
    if let Some(bad) = spec
        .roles
        .iter()
        .find(|r| !SYSTEM_ROLES.contains(&r.as_str()))
    {
        return Err(ApiError::BadParameter(format!(
            "token role {bad:?} is not a Teleport system role; use one of {}",
            SYSTEM_ROLES.join(", ")
        )));
    }
    if spec.roles.iter().any(|r| r == BOT_ROLE) && spec.bot_name.is_empty() {
        return Err(ApiError::BadParameter(
            "a token with role \"Bot\" needs spec.bot_name (the bot it joins)".into(),
        ));
    }
    if spec.join_method == BOUND_KEYPAIR_METHOD {
        check_bound_keypair(spec)?;
    }
    if spec.join_method.is_empty() {
        spec.join_method = TOKEN_METHOD.into();
    }
    if token.kind.is_empty() {
        token.kind = "token".into();
    }
    if token.version.is_empty() {
        token.version = "v2".into();
    }
    Ok(())
}

/// Teleport's checks of a bound_keypair token on create and upsert (lib/auth/bound_keypair_tokens.go
/// and join_bound_keypair.go, `validateBoundKeypairTokenSpec`): the block and its recovery are
/// required. The recovery mode is checked when a bot joins, as Teleport does.
fn check_bound_keypair(spec: &mwi_proto::types::ProvisionTokenSpecV2) -> Result<(), ApiError> {
    let Some(bound_keypair) = &spec.bound_keypair else {
        return Err(ApiError::BadParameter(
            "bound_keypair token requires non-nil spec.bound_keypair".into(),
        ));
    };
    if bound_keypair.recovery.is_none() {
        return Err(ApiError::BadParameter(
            "spec.bound_keypair.recovery: field is required".into(),
        ));
    }
    Ok(())
}

/// The server-written bound-keypair status of `token`, created empty when absent (Teleport reads a
/// missing status as an empty one).
pub(crate) fn bound_keypair_status_mut(
    token: &mut ProvisionTokenV2,
) -> &mut ProvisionTokenStatusV2BoundKeypair {
    token
        .status
        .get_or_insert_with(Default::default)
        .bound_keypair
        .get_or_insert_with(Default::default)
}

/// Decides the status a token write stores, before [`complete_token`] encodes it.
///
/// A new token keeps the status it was sent with (Teleport's create path keeps it "for backup and
/// restore"). Over an existing token the stored status wins and the one sent is ignored, so that
/// re-applying a spec-only file never wipes a bound key, its instance or its recovery count (the
/// failure of teleport#68211; the rule proposed in teleport#69444). The exception keeps teleport
/// #68727's revocation: before any key is bound, a change of the onboarding key or secret drops
/// the unused registration secret so a new one is made.
///
/// Then a bound_keypair token gets its registration secret as Teleport's
/// `populateRegistrationSecret` gives it: none once a key is bound or preregistered, the stored
/// one if any, else the spec's, else 32 random hex characters.
fn settle_status(token: &mut ProvisionTokenV2, stored: Option<&ProvisionTokenV2>) {
    if let Some(stored) = stored {
        token.status = stored.status.clone();
        let onboarding = |t: &ProvisionTokenV2| {
            let o = t
                .spec
                .as_ref()
                .and_then(|s| s.bound_keypair.as_ref())
                .and_then(|b| b.onboarding.as_ref());
            (
                o.map(|o| o.initial_public_key.clone()).unwrap_or_default(),
                o.map(|o| o.registration_secret.clone()).unwrap_or_default(),
            )
        };
        let bound = token
            .status
            .as_ref()
            .and_then(|s| s.bound_keypair.as_ref())
            .is_some_and(|b| !b.bound_public_key.is_empty());
        if !bound
            && onboarding(token) != onboarding(stored)
            && let Some(b) = token.status.as_mut().and_then(|s| s.bound_keypair.as_mut())
        {
            b.registration_secret.clear();
        }
    }
    let Some(spec) = token.spec.as_mut() else {
        return;
    };
    if spec.join_method != BOUND_KEYPAIR_METHOD {
        return;
    }
    let onboarding = spec
        .bound_keypair
        .get_or_insert_with(Default::default)
        .onboarding
        .get_or_insert_with(Default::default);
    let initial_key = onboarding.initial_public_key.clone();
    let spec_secret = onboarding.registration_secret.clone();
    let status = bound_keypair_status_mut(token);
    if !status.bound_public_key.is_empty()
        || !initial_key.is_empty()
        || !status.registration_secret.is_empty()
    {
        return;
    }
    status.registration_secret = if spec_secret.is_empty() {
        // Teleport: utils.CryptoRandomHex(defaults.TokenLenBytes), 16 bytes.
        rand::random::<[u8; 16]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        spec_secret
    };
}

impl Auth {
    pub(crate) async fn get_token(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["read"], "token")?;
        let req: ResourceRequest = decode(body)?;
        require_name("token", &req.name)?;
        let name = req.name;
        self.store
            .read(move |r| {
                r.get(Kind::Token, &name)?
                    .map(|row| row.value)
                    .ok_or_else(|| not_found("token", &name))
            })
            .await
    }

    pub(crate) async fn get_tokens(&self, caller: &Caller, body: &[u8]) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["list", "read"], "token")?;
        decode_empty(body)?;
        let rows = self
            .store
            .read(|r| {
                r.list(
                    Kind::Token,
                    &Page {
                        limit: usize::MAX,
                        ..Default::default()
                    },
                )
            })
            .await?;
        let tokens: Vec<Bytes> = rows.into_iter().map(|r| r.value).collect();
        Ok(repeated(1, &tokens).into())
    }

    /// CreateTokenV2 (`upsert` false: AlreadyExists when present) and UpsertTokenV2.
    pub(crate) async fn create_token(
        &self,
        caller: &Caller,
        body: &[u8],
        upsert: bool,
    ) -> Result<Bytes, ApiError> {
        let (verbs, type_name): (&[&str], _) = if upsert {
            (&["create", "update"], "proto.UpsertTokenV2Request")
        } else {
            (&["create"], "proto.CreateTokenV2Request")
        };
        self.authorize(caller, verbs, "token")?;
        let original = wire::message_field(body, 1)
            .map_err(|e| ApiError::BadParameter(format!("malformed {type_name} request: {e}")))?
            .ok_or_else(|| {
                ApiError::BadParameter(format!("{type_name}: missing token (field V2)"))
            })?;
        let mut token: ProvisionTokenV2 = decode(&original)?;
        // Validated before the store is touched, so a refused write changes nothing.
        complete_token(&mut token)?;
        let meta = token.metadata.clone().unwrap_or_default();
        let expires = timestamp_ms(meta.expires.as_ref());
        let name = meta.name;
        self.store
            .write(move |tx| {
                let stored = match tx.get(Kind::Token, &name)? {
                    Some(_) if !upsert => {
                        return Err(ApiError::AlreadyExists(format!(
                            "token {name:?} already exists"
                        )));
                    }
                    Some(row) => Some(decode::<ProvisionTokenV2>(&row.value)?),
                    None => None,
                };
                settle_status(&mut token, stored.as_ref());
                let bytes = mwi_proto::unknown::keep_unknown(&original, &token);
                tx.put_resource(Kind::Token, &name, &bytes, expires)
            })
            .await?;
        Ok(empty())
    }

    pub(crate) async fn delete_token(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        self.authorize(caller, &["delete"], "token")?;
        let req: ResourceRequest = decode(body)?;
        require_name("token", &req.name)?;
        let name = req.name;
        self.store
            .write(move |tx| {
                if tx.delete(Kind::Token, &name)? {
                    Ok(empty())
                } else {
                    Err(not_found("token", &name))
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{Metadata, ProvisionTokenSpecV2};

    fn token(roles: &[&str], bot: &str) -> ProvisionTokenV2 {
        ProvisionTokenV2 {
            metadata: Some(Metadata {
                name: "0123456789abcdef0123456789abcdef".into(),
                ..Default::default()
            }),
            spec: Some(ProvisionTokenSpecV2 {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                bot_name: bot.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_bot_token_defaults_to_the_token_join_method() {
        let mut back = token(&["Bot"], "b");
        complete_token(&mut back).unwrap();
        assert_eq!(back.spec.unwrap().join_method, "token");
        assert_eq!((back.kind.as_str(), back.version.as_str()), ("token", "v2"));
    }

    #[test]
    fn a_bot_token_without_a_bot_or_with_an_unknown_role_is_refused() {
        assert!(complete_token(&mut token(&["Bot"], "")).is_err());
        let err = complete_token(&mut token(&["Wizard"], "")).unwrap_err();
        assert!(err.to_string().contains("Wizard"), "{err}");
    }

    fn bound(initial_key: &str, secret: &str) -> ProvisionTokenV2 {
        use mwi_proto::types::ProvisionTokenSpecV2BoundKeypair;
        use mwi_proto::types::provision_token_spec_v2_bound_keypair::{
            OnboardingSpec, RecoverySpec,
        };
        let mut t = token(&["Bot"], "b");
        let spec = t.spec.as_mut().unwrap();
        spec.join_method = BOUND_KEYPAIR_METHOD.into();
        spec.bound_keypair = Some(ProvisionTokenSpecV2BoundKeypair {
            onboarding: Some(OnboardingSpec {
                initial_public_key: initial_key.into(),
                registration_secret: secret.into(),
                ..Default::default()
            }),
            recovery: Some(RecoverySpec {
                limit: 1,
                mode: String::new(),
            }),
            rotate_after: None,
        });
        t
    }

    fn status(t: &ProvisionTokenV2) -> ProvisionTokenStatusV2BoundKeypair {
        t.status.clone().unwrap().bound_keypair.unwrap()
    }

    #[test]
    fn a_bound_keypair_token_needs_its_block_and_its_recovery() {
        let mut t = bound("", "");
        t.spec.as_mut().unwrap().bound_keypair = None;
        assert_eq!(
            complete_token(&mut t).unwrap_err(),
            ApiError::BadParameter(
                "bound_keypair token requires non-nil spec.bound_keypair".into()
            )
        );
        let mut t = bound("", "");
        t.spec
            .as_mut()
            .unwrap()
            .bound_keypair
            .as_mut()
            .unwrap()
            .recovery = None;
        assert_eq!(
            complete_token(&mut t).unwrap_err(),
            ApiError::BadParameter("spec.bound_keypair.recovery: field is required".into())
        );
        assert_eq!(complete_token(&mut bound("", "")), Ok(()));
    }

    #[test]
    fn a_new_token_gets_a_generated_secret_the_specs_secret_or_none_with_a_key() {
        let mut t = bound("", "");
        settle_status(&mut t, None);
        let secret = status(&t).registration_secret;
        assert_eq!(secret.len(), 32);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()), "{secret}");
        let mut t = bound("", "s3cret");
        settle_status(&mut t, None);
        assert_eq!(status(&t).registration_secret, "s3cret");
        let mut t = bound("ssh-ed25519 AAAA", "s3cret");
        settle_status(&mut t, None);
        assert_eq!(status(&t), ProvisionTokenStatusV2BoundKeypair::default());
        // A token of another method gets no status.
        let mut t = token(&["Bot"], "b");
        t.spec.as_mut().unwrap().join_method = "token".into();
        settle_status(&mut t, None);
        assert_eq!(t.status, None);
    }

    #[test]
    fn a_new_token_keeps_the_status_it_was_sent_with_for_restores() {
        let mut t = bound("", "");
        bound_keypair_status_mut(&mut t).bound_public_key = "ssh-ed25519 AAAA".into();
        bound_keypair_status_mut(&mut t).recovery_count = 4;
        settle_status(&mut t, None);
        assert_eq!(status(&t).recovery_count, 4);
        assert_eq!(status(&t).registration_secret, "");
    }

    #[test]
    fn rewriting_a_token_keeps_the_stored_status_and_ignores_the_one_sent() {
        let mut stored = bound("", "");
        settle_status(&mut stored, None);
        let status_of_stored = {
            let s = bound_keypair_status_mut(&mut stored);
            s.bound_public_key = "ssh-ed25519 AAAA".into();
            s.bound_bot_instance_id = "i-1".into();
            s.recovery_count = 1;
            s.registration_secret.clear();
            s.clone()
        };
        // A spec-only file (teleport#68211), with the limit raised.
        let mut sent = bound("", "");
        sent.spec
            .as_mut()
            .unwrap()
            .bound_keypair
            .as_mut()
            .unwrap()
            .recovery
            .as_mut()
            .unwrap()
            .limit = 3;
        settle_status(&mut sent, Some(&stored));
        assert_eq!(status(&sent), status_of_stored);
        // A tampered status is ignored.
        let mut sent = bound("", "");
        bound_keypair_status_mut(&mut sent).recovery_count = 0;
        bound_keypair_status_mut(&mut sent).bound_public_key = "ssh-ed25519 EVIL".into();
        settle_status(&mut sent, Some(&stored));
        assert_eq!(status(&sent), status_of_stored);
    }

    #[test]
    fn changing_the_onboarding_secret_before_the_first_join_replaces_the_unused_one() {
        let mut stored = bound("", "old");
        settle_status(&mut stored, None);
        let mut same = bound("", "old");
        settle_status(&mut same, Some(&stored));
        assert_eq!(status(&same).registration_secret, "old");
        let mut changed = bound("", "new");
        settle_status(&mut changed, Some(&stored));
        assert_eq!(status(&changed).registration_secret, "new");
        let mut generated = bound("", "");
        settle_status(&mut generated, Some(&stored));
        let secret = status(&generated).registration_secret;
        assert!(secret != "old" && secret.len() == 32, "{secret}");
    }
}

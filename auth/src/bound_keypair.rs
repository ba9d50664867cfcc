//! Bound-keypair joining (teleport-bound-keypair.md §3–§5): the decision table over a token's
//! bound key, bound bot instance and the caller; challenges; recovery accounting and its three
//! modes; rotation; the join-state JWT; and the join-token locks it enforces and creates.
//!
//! The rules follow gravitational/teleport lib/auth/join_bound_keypair.go and
//! lib/boundkeypair (paraphrased in the facts file); error texts are Teleport's.

use std::sync::Arc;
use std::time::SystemTime;

use mwi_identity::jose::{self, Audience, Claims, Expected, VerifyingKey};
use mwi_identity::{CertIdentity, bot_resource_name};
use mwi_proto::proto::Certs;
use mwi_proto::types::provision_token_spec_v2_bound_keypair::RecoverySpec;
use mwi_proto::types::{
    LockTarget, ProvisionTokenStatusV2, ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2,
};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::bots::read_user;
use crate::certs::{
    INSTANCE_MARGIN, Keys, generation_lock, last_generation, new_instance, put_lock,
    record_authentication, system_time,
};
use crate::error::ApiError;
use crate::instances::{decode_instance, key};
use crate::join_stream::Wire;
use crate::policy::{Target, timestamp_ms};
use crate::server::Auth;
use crate::store::{Kind, Tx, now_ms};
use crate::tokens::BOT_ROLE;

/// The join method name.
pub(crate) const METHOD: &str = "bound_keypair";
/// The suite the lab reports: its keys for bound keypairs are Ed25519.
pub(crate) const SUITE: &str = "balanced-v1";
/// A challenge is valid this long; nbf is backdated by NBF_SKEW; claims get LEEWAY.
const CHALLENGE_TTL: i64 = 60;
const NBF_SKEW: i64 = 10;
const LEEWAY: i64 = 60;
/// What the client sees whatever made join-state verification fail.
const JOIN_STATE_FAILED: &str = "join state verification failed";

/// One bound-keypair join as either RPC delivers it.
pub(crate) struct Request {
    pub token: String,
    pub system_role: String,
    /// A valid bot identity the caller presented over mTLS; `None` joins anonymously.
    pub caller: Option<Arc<CertIdentity>>,
    pub secret: String,
    pub join_state: Vec<u8>,
    pub keys: Keys,
    pub expires: Option<prost_types::Timestamp>,
}

/// Certificates, the next join state and the key now bound.
pub(crate) struct Outcome {
    pub certs: Certs,
    pub join_state: String,
    pub public_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Standard,
    Relaxed,
    Insecure,
}

impl Mode {
    fn parse(mode: &str) -> Result<Mode, ApiError> {
        match mode {
            "" | "standard" => Ok(Mode::Standard),
            "relaxed" => Ok(Mode::Relaxed),
            "insecure" => Ok(Mode::Insecure),
            other => Err(ApiError::BadParameter(format!(
                "invalid recovery mode: {other}"
            ))),
        }
    }
}

/// The challenge document: JWT claims plus a nonce, serialised as the challenge string.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ChallengeDoc {
    #[serde(flatten)]
    claims: Claims,
    nonce: String,
}

/// The join-state document's claims (teleport-bound-keypair.md §4); no `exp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JoinState {
    #[serde(flatten)]
    claims: Claims,
    bot_instance_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    host_id: String,
    recovery_sequence: u32,
    recovery_limit: u32,
    recovery_mode: String,
}

/// Equality that takes the same time wherever the first difference is.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    system_time(ms).into()
}

fn nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `rotate_after` asks for a rotation now: set, reached, and not yet done since.
fn rotation_due(
    rotate_after: Option<&prost_types::Timestamp>,
    last_rotated: Option<&prost_types::Timestamp>,
    now: i64,
) -> bool {
    let Some(after) = timestamp_ms(rotate_after) else {
        return false;
    };
    after <= now && timestamp_ms(last_rotated).is_none_or(|last| last < after)
}

/// The status fields a commit re-checks, as read before the ceremony.
fn unchanged(
    before: &ProvisionTokenStatusV2BoundKeypair,
    now: &ProvisionTokenStatusV2BoundKeypair,
) -> bool {
    before.recovery_count == now.recovery_count
        && before.bound_public_key == now.bound_public_key
        && before.bound_bot_instance_id == now.bound_bot_instance_id
        && before.registration_secret == now.registration_secret
        && timestamp_ms(before.last_rotated_at.as_ref())
            == timestamp_ms(now.last_rotated_at.as_ref())
}

fn decode_token(bytes: &[u8]) -> Result<ProvisionTokenV2, ApiError> {
    ProvisionTokenV2::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("a stored token is unreadable: {e}")))
}

fn status_of(token: &ProvisionTokenV2) -> ProvisionTokenStatusV2BoundKeypair {
    token
        .status
        .as_ref()
        .and_then(|s| s.bound_keypair.clone())
        .unwrap_or_default()
}

/// A failed challenge as Teleport reports it: a trace error wrapped in messages, whose kind
/// is AccessDenied (its own checks) or none (go-jose's errors, `Unknown` over gRPC).
#[derive(Debug)]
struct Failure {
    denied: bool,
    /// Outermost message first; the last is the error itself.
    chain: Vec<String>,
}

impl Failure {
    fn denied(wraps: &[&str], inner: &str) -> Failure {
        Failure::new(true, wraps, inner.to_string())
    }

    fn unknown(wraps: &[&str], inner: String) -> Failure {
        Failure::new(false, wraps, inner)
    }

    fn new(denied: bool, wraps: &[&str], inner: String) -> Failure {
        let mut chain: Vec<String> = wraps.iter().map(|w| w.to_string()).collect();
        chain.push(inner);
        Failure { denied, chain }
    }

    /// Renders like gravitational/trace's UserMessage (what trail.ToGRPC sends): the
    /// outermost message, then each inner one on its own line one tab deeper.
    fn into_error(self, outer: &[&str]) -> ApiError {
        let text = outer
            .iter()
            .map(|o| o.to_string())
            .chain(self.chain)
            .enumerate()
            .map(|(depth, line)| format!("{}{line}", "\t".repeat(depth)))
            .collect::<Vec<_>>()
            .join("\n");
        if self.denied {
            ApiError::AccessDenied(text)
        } else {
            ApiError::Unknown(text)
        }
    }
}

/// go-jose's wording where ours differs (go-jose/v4 jws.go, shared.go).
fn go_jose(e: &jose::JoseError) -> String {
    match e {
        jose::JoseError::Malformed(m) if m.contains("three") => {
            "go-jose/go-jose: compact JWS format must have three parts".into()
        }
        jose::JoseError::Signature => "go-jose/go-jose: error in cryptographic primitive".into(),
        other => other.to_string(),
    }
}

/// What the commit decided.
enum Committed {
    Joined {
        instance_id: String,
        generation: i32,
        status: ProvisionTokenStatusV2BoundKeypair,
    },
    /// Refused; the lock it made is committed all the same.
    Refused(ApiError),
}

impl Auth {
    /// Runs one bound-keypair ceremony over `wire` and commits its outcome.
    pub(crate) async fn bound_keypair_join(
        &self,
        req: Request,
        wire: &mut Wire<'_>,
    ) -> Result<Outcome, ApiError> {
        let name = req.token.clone();
        let row = self.store.read(move |r| r.get(Kind::Token, &name)).await?;
        let row = row.ok_or_else(|| {
            ApiError::AccessDenied(format!(
                "{:?} can not join the cluster with role {:?}, token expired or not found",
                "", req.system_role
            ))
        })?;
        let token = decode_token(&row.value)?;
        let spec = token.spec.clone().unwrap_or_default();
        if spec.join_method != METHOD {
            return Err(ApiError::BadParameter(
                "specified join token is not for `bound_keypair` method".into(),
            ));
        }
        if req.system_role != BOT_ROLE {
            return Err(ApiError::BadParameter(
                "bound keypair joining is only supported for bots".into(),
            ));
        }
        if !spec.roles.iter().any(|r| r == BOT_ROLE) {
            return Err(ApiError::AccessDenied(format!(
                "can not join the cluster, the token does not allow role {}",
                req.system_role
            )));
        }
        let bk = spec.bound_keypair.clone().ok_or_else(|| {
            ApiError::BadParameter("bound_keypair token requires non-nil spec.bound_keypair".into())
        })?;
        let recovery = bk.recovery.clone().unwrap_or_default();
        let mode = Mode::parse(&recovery.mode)?;
        let bot = spec.bot_name.clone();
        let status = status_of(&token);
        // Only this token's bot counts as authenticated; anyone else joins anonymously.
        let caller = req
            .caller
            .clone()
            .filter(|c| c.bot_name.as_deref() == Some(bot.as_str()));
        let within_limit = status.recovery_count < recovery.limit;
        let mut next = status.clone();
        let mut previous_instance = String::new();
        let has_key = !status.bound_public_key.is_empty();
        let has_instance = !status.bound_bot_instance_id.is_empty();
        let new_instance = match (has_key, has_instance, &caller) {
            (false, _, Some(_)) => {
                return Err(ApiError::BadParameter(
                    "cannot perform first bound keypair join with existing credentials".into(),
                ));
            }
            (false, _, None) => {
                if mode == Mode::Standard && !within_limit {
                    return Err(ApiError::AccessDenied(
                        "no recovery attempts remaining".into(),
                    ));
                }
                let onboarding = bk.onboarding.clone().unwrap_or_default();
                if !onboarding.initial_public_key.is_empty() {
                    // Teleport hides why an onboarding challenge failed.
                    self.solve(wire, &onboarding.initial_public_key, &[])
                        .await
                        .map_err(|e| match e {
                            ApiError::AccessDenied(_) | ApiError::Unknown(_) => {
                                ApiError::AccessDenied("failed to complete challenge".into())
                            }
                            other => other,
                        })?;
                    next.bound_public_key = onboarding.initial_public_key.trim().to_string();
                } else if !status.registration_secret.is_empty() {
                    let expired = timestamp_ms(onboarding.must_register_before.as_ref())
                        .is_some_and(|t| now_ms() > t);
                    if req.secret.is_empty()
                        || expired
                        || !same_secret(&req.secret, &status.registration_secret)
                    {
                        return Err(ApiError::AccessDenied(
                            "a valid registration secret is required".into(),
                        ));
                    }
                    next.bound_public_key =
                        self.rotate(wire, None, &["requesting public key"]).await?;
                    next.registration_secret = String::new();
                } else {
                    return Err(ApiError::BadParameter(
                        "either an initial public key or registration secret is required".into(),
                    ));
                }
                self.check_token_lock(&req.token)?;
                true
            }
            (true, false, _) => {
                return Err(ApiError::BadParameter(
                    "bad backend state, please recreate the join token".into(),
                ));
            }
            (true, true, Some(c)) => {
                self.solve(wire, &status.bound_public_key, &[]).await?;
                self.check_token_lock(&req.token)?;
                self.check_join_state(&req, &bot, &status, mode).await?;
                if c.bot_instance_id.as_deref() != Some(status.bound_bot_instance_id.as_str()) {
                    return Err(ApiError::AccessDenied("bot instance mismatch".into()));
                }
                false
            }
            (true, true, None) => {
                self.solve(wire, &status.bound_public_key, &[]).await?;
                if mode == Mode::Standard && !within_limit {
                    return Err(ApiError::AccessDenied("no rejoins remaining".into()));
                }
                self.check_token_lock(&req.token)?;
                if let Some(state) = self.check_join_state(&req, &bot, &status, mode).await? {
                    previous_instance = state.bot_instance_id;
                }
                true
            }
        };
        if new_instance {
            next.recovery_count += 1;
            next.last_recovered_at = Some(timestamp(now_ms()));
        }
        if rotation_due(
            bk.rotate_after.as_ref(),
            status.last_rotated_at.as_ref(),
            now_ms(),
        ) {
            next.bound_public_key = self.rotate(wire, Some(&next.bound_public_key), &[]).await?;
            next.last_rotated_at = Some(timestamp(now_ms()));
        }

        let user_row = {
            let name = bot_resource_name(&bot);
            self.store.read(move |r| r.get(Kind::User, &name)).await?
        };
        let (user, _) = read_user(user_row, &bot)?.ok_or_else(|| {
            ApiError::NotFound(format!(
                "bot {bot:?} named by the token does not exist; create the bot again"
            ))
        })?;
        let now = now_ms();
        let ttl = self.join_ttl(&user.roles, req.expires.as_ref(), now);
        let expires = now + i64::try_from((ttl + INSTANCE_MARGIN).as_millis()).unwrap_or(0);
        let public_key = req.keys.tls_pem();
        let presented = caller
            .as_ref()
            .map(|c| i32::try_from(c.generation).unwrap_or(i32::MAX));
        let (token_name, b, before) = (req.token.clone(), bot.clone(), status.clone());
        let limit = recovery.limit;
        let committed = self
            .store
            .write(move |tx| {
                commit(
                    tx,
                    &token_name,
                    &b,
                    &before,
                    limit,
                    next,
                    presented,
                    previous_instance,
                    public_key,
                    expires,
                )
            })
            .await?;
        let (instance_id, generation, status) = match committed {
            Committed::Joined {
                instance_id,
                generation,
                status,
            } => (instance_id, generation, status),
            Committed::Refused(e) => return Err(e),
        };
        let identity = CertIdentity {
            // Bound-keypair certificates are not renewable: the bot joins again instead.
            renewable: false,
            generation: u64::try_from(generation).unwrap_or(0),
            ..self.bot_identity(&user.name, &user.roles, &bot, &instance_id)
        };
        self.check_issue_locks(&identity)?;
        let certs = self.issue(&identity, &req.keys, &[], SystemTime::now() + ttl)?;
        let join_state = self.sign_join_state(&bot, &status, &recovery)?;
        Ok(Outcome {
            certs,
            join_state,
            public_key: status.bound_public_key,
        })
    }

    fn check_token_lock(&self, token: &str) -> Result<(), ApiError> {
        self.policy
            .check_locks(&[(Target::JoinToken, token)], now_ms())
    }

    /// Challenges the holder of `public_key` and checks the signed answer; a failure is wrapped
    /// in `outer` (outermost first), as Teleport's callers wrap it.
    async fn solve(
        &self,
        wire: &mut Wire<'_>,
        public_key: &str,
        outer: &[&str],
    ) -> Result<(), ApiError> {
        let key = VerifyingKey::from_authorized_key(public_key)
            .map_err(|e| ApiError::BadParameter(format!("parsing bound public key: {e}")))?;
        let now = now_secs();
        let doc = ChallengeDoc {
            claims: Claims {
                iss: Some(self.cluster.clone()),
                sub: Some(key.key_id()),
                aud: Some(Audience::One(self.cluster.clone())),
                exp: Some(now + CHALLENGE_TTL),
                nbf: Some(now - NBF_SKEW),
                iat: Some(now),
            },
            nonce: nonce(),
        };
        let text = serde_json::to_string(&doc)
            .map_err(|e| ApiError::Internal(format!("encoding a challenge: {e}")))?;
        let solution = wire.challenge(public_key.trim(), &text).await?;
        self.check_solution(&key, &doc, &solution)
            .map_err(|f| f.into_error(outer))
    }

    /// Teleport's ValidateChallengeResponse (lib/boundkeypair/bound_keypair.go): signature,
    /// go-jose claim validation with a minute of leeway, then the issued times and nonce
    /// exactly.
    fn check_solution(
        &self,
        key: &VerifyingKey,
        issued: &ChallengeDoc,
        solution: &str,
    ) -> Result<(), Failure> {
        const RESPONSE: &str = "validating challenge response";
        let parsed = jose::parse(solution)
            .map_err(|e| Failure::unknown(&[RESPONSE, "parsing signed response"], go_jose(&e)))?;
        let payload = parsed
            .verify(key)
            .map_err(|e| Failure::unknown(&[RESPONSE], go_jose(&e)))?;
        let got: ChallengeDoc = jose::decode_claims(payload)
            .map_err(|e| Failure::unknown(&[RESPONSE], e.to_string()))?;
        got.claims
            .validate(&Expected {
                issuer: Some(&self.cluster),
                subject: issued.claims.sub.as_deref(),
                audience: Some(&self.cluster),
                now: now_secs(),
                leeway_secs: LEEWAY,
            })
            .map_err(|e| {
                Failure::unknown(&[RESPONSE, "validating challenge claims"], e.to_string())
            })?;
        if got.claims.iat != issued.claims.iat
            || got.claims.exp != issued.claims.exp
            || got.claims.nbf != issued.claims.nbf
        {
            return Err(Failure::denied(&[RESPONSE], "invalid challenge document"));
        }
        if !same_secret(&got.nonce, &issued.nonce) {
            return Err(Failure::denied(&[RESPONSE], "invalid nonce"));
        }
        Ok(())
    }

    /// Asks for a new key and challenges it; a rotation (`old` set) may not bring the bound
    /// key back. `outer` wraps a failed challenge, as in [`Auth::solve`].
    async fn rotate(
        &self,
        wire: &mut Wire<'_>,
        old: Option<&str>,
        outer: &[&str],
    ) -> Result<String, ApiError> {
        let line = wire.rotate(SUITE).await?;
        let new = VerifyingKey::from_authorized_key(&line)
            .map_err(|e| ApiError::BadParameter(format!("parsing bound public key: {e}")))?;
        let line = new
            .to_authorized_key()
            .map_err(|e| ApiError::BadParameter(format!("parsing bound public key: {e}")))?;
        let outer = [outer, &["solving challenge for new public key"]].concat();
        self.solve(wire, &line, &outer).await?;
        if let Some(old) = old
            && VerifyingKey::from_authorized_key(old).is_ok_and(|k| k == new)
        {
            return Err(ApiError::BadParameter(
                "public key may not be reused after rotation".into(),
            ));
        }
        Ok(line)
    }

    /// Verifies the client's join state when the token requires one; on a failure locks the
    /// join token (a stale document suggests a copied keypair).
    async fn check_join_state(
        &self,
        req: &Request,
        bot: &str,
        status: &ProvisionTokenStatusV2BoundKeypair,
        mode: Mode,
    ) -> Result<Option<JoinState>, ApiError> {
        if status.recovery_count == 0 || mode == Mode::Insecure {
            return Ok(None);
        }
        if req.join_state.is_empty() {
            // "previous join state is required but was not provided": no lock for this one.
            return Err(ApiError::AccessDenied(JOIN_STATE_FAILED.into()));
        }
        match self.verify_join_state(&req.join_state, bot, status) {
            Ok(state) => Ok(Some(state)),
            Err(reason) => {
                tracing::warn!(token = %req.token, %reason, "bound keypair join state verification failed");
                let lock = generation_lock(
                    LockTarget {
                        join_token: req.token.clone(),
                        ..Default::default()
                    },
                    format!(
                        "The join token {:?} has been locked by bot {bot:?} after a client \
                         failed to verify its join state, possibly indicating a stolen keypair.",
                        req.token
                    ),
                );
                self.store.write(move |tx| put_lock(tx, &lock)).await?;
                Err(ApiError::AccessDenied(JOIN_STATE_FAILED.into()))
            }
        }
    }

    fn verify_join_state(
        &self,
        state: &[u8],
        bot: &str,
        status: &ProvisionTokenStatusV2BoundKeypair,
    ) -> Result<JoinState, String> {
        let text = std::str::from_utf8(state).map_err(|_| "invalid JWT header".to_string())?;
        let parsed = jose::parse(text).map_err(|e| e.to_string())?;
        let kid = parsed
            .header
            .kid
            .as_deref()
            .ok_or("required key ID is missing from JWT header")?;
        let ca = &self.bound_keypair_ca;
        if kid != ca.kid() {
            return Err("join state could not be verified".into());
        }
        let payload = parsed
            .verify(&ca.key().verifying_key())
            .map_err(|e| e.to_string())?;
        let doc: JoinState = jose::decode_claims(payload).map_err(|e| e.to_string())?;
        doc.claims
            .validate(&Expected {
                issuer: Some(&self.cluster),
                subject: Some(bot),
                audience: Some(&self.cluster),
                now: now_secs(),
                leeway_secs: LEEWAY,
            })
            .map_err(|e| e.to_string())?;
        if doc.recovery_sequence != status.recovery_count {
            return Err("recovery counter mismatch".into());
        }
        if doc.bot_instance_id != status.bound_bot_instance_id {
            return Err("bot instance mismatch".into());
        }
        Ok(doc)
    }

    fn sign_join_state(
        &self,
        bot: &str,
        status: &ProvisionTokenStatusV2BoundKeypair,
        recovery: &RecoverySpec,
    ) -> Result<String, ApiError> {
        let now = now_secs();
        let doc = JoinState {
            claims: Claims {
                iss: Some(self.cluster.clone()),
                sub: Some(bot.to_string()),
                aud: Some(Audience::One(self.cluster.clone())),
                exp: None,
                nbf: Some(now - NBF_SKEW),
                iat: Some(now),
            },
            bot_instance_id: status.bound_bot_instance_id.clone(),
            host_id: String::new(),
            recovery_sequence: status.recovery_count,
            recovery_limit: recovery.limit,
            recovery_mode: recovery.mode.clone(),
        };
        let ca = &self.bound_keypair_ca;
        jose::sign_claims(ca.key(), Some(ca.kid()), &doc)
            .map_err(|e| ApiError::Internal(format!("signing the join state: {e}")))
    }
}

/// The write transaction of a successful ceremony: re-checks the token's status, records the
/// bot instance (a new one, or the next generation of the caller's after the generation
/// check), and stores the new status.
#[allow(clippy::too_many_arguments)]
fn commit(
    tx: &mut Tx<'_>,
    token_name: &str,
    bot: &str,
    before: &ProvisionTokenStatusV2BoundKeypair,
    limit: u32,
    mut next: ProvisionTokenStatusV2BoundKeypair,
    presented: Option<i32>,
    previous_instance: String,
    public_key: Vec<u8>,
    expires: i64,
) -> Result<Committed, ApiError> {
    // Teleport's PatchToken mutators refuse with AccessDenied, wrapped twice.
    let retry = || {
        Failure::denied(
            &[
                "committing updated token state, please try again",
                "applying status mutator",
            ],
            "unexpected backend state",
        )
        .into_error(&[])
    };
    let row = tx.get(Kind::Token, token_name)?.ok_or_else(retry)?;
    let mut token = decode_token(&row.value)?;
    let now_limit = token
        .spec
        .as_ref()
        .and_then(|s| s.bound_keypair.as_ref())
        .and_then(|b| b.recovery.as_ref())
        .map(|r| r.limit)
        .unwrap_or(0);
    if !unchanged(before, &status_of(&token)) || now_limit < limit {
        return Err(retry());
    }
    let (instance_id, generation) = match presented {
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let mut first = crate::certs::authentication(1, public_key);
            first.join_method = crate::bound_keypair::METHOD.into();
            let mut instance = new_instance(bot, &id, first, expires);
            if let Some(spec) = instance.spec.as_mut() {
                spec.previous_instance_id = previous_instance;
            }
            tx.put_resource(
                Kind::BotInstance,
                &key(bot, &id),
                &instance.encode_to_vec(),
                Some(expires),
            )?;
            (id, 1)
        }
        Some(presented) => {
            let id = before.bound_bot_instance_id.clone();
            let Some(row) = tx.get(Kind::BotInstance, &key(bot, &id))? else {
                let lock = token_generation_lock(token_name, bot, &id);
                put_lock(tx, &lock)?;
                return Ok(Committed::Refused(ApiError::AccessDenied(format!(
                    "cert generation mismatch for bot {bot}/{id}: instance not found, \
                     presented={presented}"
                ))));
            };
            let instance = decode_instance(&row.value)?;
            let stored = last_generation(&instance);
            if stored != presented {
                let lock = token_generation_lock(token_name, bot, &id);
                put_lock(tx, &lock)?;
                return Ok(Committed::Refused(ApiError::AccessDenied(format!(
                    "cert generation mismatch for bot {bot}/{id}: stored={stored}, \
                     presented={presented}"
                ))));
            }
            let mut auth = crate::certs::authentication(stored + 1, public_key);
            auth.join_method = METHOD.into();
            record_authentication(tx, &key(bot, &id), &row.value, instance, auth, expires)?;
            (id, stored + 1)
        }
    };
    next.bound_bot_instance_id = instance_id.clone();
    token.status = Some(ProvisionTokenStatusV2 {
        bound_keypair: Some(next.clone()),
    });
    let bytes = mwi_proto::unknown::keep_unknown(&row.value, &token);
    tx.put_resource(Kind::Token, token_name, &bytes, row.expires)?;
    Ok(Committed::Joined {
        instance_id,
        generation,
        status: next,
    })
}

/// The lock on the join token a bound-keypair generation mismatch creates ([BOT] lib/auth/bot.go).
fn token_generation_lock(token: &str, bot: &str, instance: &str) -> mwi_proto::types::LockV2 {
    generation_lock(
        LockTarget {
            join_token: token.to_string(),
            ..Default::default()
        },
        format!(
            "Bot joins via the token {token:?} have been locked due to a certificate generation \
             mismatch by {bot}/{instance}, possibly indicating a stolen certificate."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> prost_types::Timestamp {
        timestamp(ms)
    }

    #[test]
    fn rotation_is_due_once_per_rotate_after() {
        assert!(!rotation_due(None, None, 1_000));
        assert!(!rotation_due(Some(&ts(2_000)), None, 1_000));
        assert!(rotation_due(Some(&ts(1_000)), None, 1_000));
        assert!(rotation_due(Some(&ts(1_000)), Some(&ts(500)), 1_500));
        assert!(!rotation_due(Some(&ts(1_000)), Some(&ts(1_200)), 1_500));
    }

    #[test]
    fn recovery_modes_are_teleports_three() {
        assert_eq!(Mode::parse("").unwrap(), Mode::Standard);
        assert_eq!(Mode::parse("relaxed").unwrap(), Mode::Relaxed);
        assert_eq!(Mode::parse("insecure").unwrap(), Mode::Insecure);
        assert_eq!(
            Mode::parse("lax").unwrap_err().to_string(),
            "invalid recovery mode: lax"
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert_eq!(nonce().len(), 32);
    }
}

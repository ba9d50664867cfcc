//! Certificate issuing for callers: `GenerateUserCerts` in its three shapes — a bot renewing its
//! renewable identity (the generation counter check, and the lock on a mismatch), role
//! impersonation (non-renewable certificates with the requested roles, logins and database
//! route, decided by RBAC), and certificates for another user (impersonate.users).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mwi_identity::{CertIdentity, bot_resource_name};
use mwi_proto::machineid::{BotInstance, BotInstanceStatusAuthentication};
use mwi_proto::proto::{Certs, UserCertsRequest};
use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata, RoleV6};
use mwi_proto::wrappers::LabelValues;
use prost::Message;
use ssh_key::PublicKey;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::authz::{Caller, identity_targets};
use crate::bots::read_user;
use crate::error::ApiError;
use crate::instances::{HISTORY, decode_instance, key};
use crate::lab::LockStyle;
use crate::pki;
use crate::policy::{self, timestamp_ms};
use crate::records::{BOT_GENERATION_LABEL, DatabaseRecord, UserRecord};
use crate::rpc::decode;
use crate::server::Auth;
use crate::sshca;
use crate::store::{Kind, Tx, now_ms};
use crate::tokens::TOKEN_METHOD;

/// Teleport's cap on a renewable certificate (MaxRenewableCertTTL).
pub(crate) const MAX_RENEWABLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// A bot instance outlives its latest certificate by this much (Teleport's ExpiryMargin).
pub(crate) const INSTANCE_MARGIN: Duration = Duration::from_secs(5 * 60);
/// The lifetime of a non-bot certificate when the request names none.
const DEFAULT_USER_TTL: Duration = Duration::from_secs(3600);
/// Who the lab names as the creator of the locks it makes itself.
const SYSTEM_CREATOR: &str = "auth";
/// `CertUsage::Database` of `UserCertsRequest.Usage`.
const USAGE_DATABASE: i32 = 3;

/// The public keys a certificate request carries.
pub(crate) struct Keys {
    pub tls: Option<SubjectPublicKeyInfoOwned>,
    pub ssh: Option<PublicKey>,
}

impl Keys {
    /// Reads TLS (PEM, PKIX or PKCS#1) and SSH (authorized_keys) public keys.
    pub(crate) fn parse(tls_pem: &[u8], ssh_line: &[u8]) -> Result<Keys, ApiError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            ApiError::BadParameter(format!("{what} public key: {e}"))
        };
        let tls = (!tls_pem.is_empty())
            .then(|| pki::parse_public_key_pem(tls_pem).map_err(|e| bad("TLS", &e)))
            .transpose()?;
        let ssh = (!ssh_line.is_empty())
            .then(|| sshca::parse_authorized_key(ssh_line).map_err(|e| bad("SSH", &e)))
            .transpose()?;
        if tls.is_none() && ssh.is_none() {
            return Err(ApiError::BadParameter(
                "no public key: send a TLS public key (PEM) and/or an SSH public key \
                 (authorized_keys)"
                    .into(),
            ));
        }
        Ok(Keys { tls, ssh })
    }

    /// The keys of a `UserCertsRequest`: fields 23/22, or the legacy field 1 (an SSH key used
    /// for both, as older clients send).
    fn of_request(req: &UserCertsRequest) -> Result<Keys, ApiError> {
        if req.tls_public_key.is_empty()
            && req.ssh_public_key.is_empty()
            && !req.public_key.is_empty()
        {
            let ssh = sshca::parse_authorized_key(&req.public_key)
                .map_err(|e| ApiError::BadParameter(format!("PublicKey: {e}")))?;
            let tls = spki_of_ssh(&ssh)?;
            return Ok(Keys {
                tls: Some(tls),
                ssh: Some(ssh),
            });
        }
        Keys::parse(&req.tls_public_key, &req.ssh_public_key)
    }

    /// The TLS public key as PEM (what a bot instance records), empty without one.
    pub(crate) fn tls_pem(&self) -> Vec<u8> {
        self.tls
            .as_ref()
            .and_then(|k| pki::public_key_pem(k).ok())
            .map(String::into_bytes)
            .unwrap_or_default()
    }
}

/// The PKIX form of an ECDSA P-256 SSH key (legacy single-key requests).
fn spki_of_ssh(key: &PublicKey) -> Result<SubjectPublicKeyInfoOwned, ApiError> {
    let unsupported = || {
        ApiError::BadParameter(
            "PublicKey: only ECDSA P-256 keys can be used for both SSH and TLS; send \
             TLSPublicKey and SSHPublicKey instead"
                .into(),
        )
    };
    let ssh_key::public::KeyData::Ecdsa(ssh_key::public::EcdsaPublicKey::NistP256(point)) =
        key.key_data()
    else {
        return Err(unsupported());
    };
    let public = p256::PublicKey::from_sec1_bytes(point.as_bytes()).map_err(|_| unsupported())?;
    SubjectPublicKeyInfoOwned::from_key(public).map_err(|_| unsupported())
}

pub(crate) fn system_time(unix_ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(unix_ms).unwrap_or(0))
}

/// How long the client asked for (from its `Expires`), if it asked.
fn requested_ttl(expires: Option<&prost_types::Timestamp>) -> Option<Duration> {
    let until = timestamp_ms(expires)?;
    let left = until - now_ms();
    (left > 0).then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0)))
}

/// The smallest `max_session_ttl` of `roles` (those that set one).
fn max_session_ttl(roles: &[Arc<RoleV6>]) -> Option<Duration> {
    roles
        .iter()
        .filter_map(|r| r.spec.as_ref()?.options.as_ref())
        .map(|o| o.max_session_ttl)
        .filter(|n| *n > 0)
        .map(|n| Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
        .min()
}

/// The logins `roles` grant to `user`: allow.logins with `{{internal.X}}`/`{{external.X}}`
/// replaced by the user's trait X, minus deny.logins. Unresolvable templates are dropped.
fn logins(roles: &[Arc<RoleV6>], user: Option<&UserRecord>) -> Vec<String> {
    let expand = |login: &String| -> Vec<String> {
        let Some(inner) = login
            .trim()
            .strip_prefix("{{")
            .and_then(|l| l.strip_suffix("}}"))
        else {
            return vec![login.clone()];
        };
        let inner = inner.trim();
        let trait_name = inner
            .strip_prefix("internal.")
            .or_else(|| inner.strip_prefix("external."));
        match (trait_name, user) {
            (Some(name), Some(user)) => user.traits.get(name).cloned().unwrap_or_default(),
            _ => Vec::new(),
        }
    };
    let collect = |allow: bool| -> BTreeSet<String> {
        roles
            .iter()
            .filter_map(|r| {
                let spec = r.spec.as_ref()?;
                if allow {
                    spec.allow.as_ref()
                } else {
                    spec.deny.as_ref()
                }
            })
            .flat_map(|c| c.logins.iter().flat_map(expand))
            .collect()
    };
    let denied = collect(false);
    collect(true)
        .into_iter()
        .filter(|l| !denied.contains(l))
        .collect()
}

/// Whether role `labels` match resource `labels`, with Teleport's semantics (see
/// `mwi_identity::labels`). Trait templates in the values are not expanded: see
/// `templated_labels_are_matched_literally`.
fn labels_match(
    role: Option<&LabelValues>,
    resource: &std::collections::BTreeMap<String, String>,
) -> bool {
    role.is_some_and(|role| {
        mwi_identity::labels::labels_match(
            role.values
                .iter()
                .map(|(k, v)| (k.as_str(), v.values.as_slice())),
            |key| resource.get(key).map(String::as_str),
        )
    })
}

/// Whether `roles` see database `db`: rules allow read and list on `db_server` and `db`, some
/// role's allow.db_labels match it, and no role's deny.db_labels do. Teleport answers a
/// database the roles cannot see exactly as one that does not exist.
pub(crate) fn database_visible(roles: &[Arc<RoleV6>], db: &DatabaseRecord) -> bool {
    let rules = ["db_server", "db"].iter().all(|resource| {
        ["read", "list"]
            .iter()
            .all(|verb| policy::rules_allow(roles, verb, resource))
    });
    let conditions = |r: &RoleV6, allow: bool| {
        let spec = r.spec.as_ref()?;
        let cond = if allow {
            spec.allow.as_ref()
        } else {
            spec.deny.as_ref()
        }?;
        cond.database_labels.clone()
    };
    let allowed = roles
        .iter()
        .any(|r| labels_match(conditions(r, true).as_ref(), &db.labels));
    let denied = roles
        .iter()
        .any(|r| labels_match(conditions(r, false).as_ref(), &db.labels));
    rules && allowed && !denied
}

/// The lock Teleport creates on a generation mismatch, and the error the caller gets.
fn mismatch(
    style: LockStyle,
    bot: &str,
    instance: &str,
    stored: i32,
    presented: i32,
) -> (LockV2, ApiError) {
    let (target, message, error) = match style {
        LockStyle::User => {
            let user = bot_resource_name(bot);
            (
                LockTarget {
                    user: user.clone(),
                    ..Default::default()
                },
                format!(
                    "The bot user {user:?} has been locked due to a certificate generation \
                     mismatch, possibly indicating a stolen certificate."
                ),
                format!(
                    "renewable cert generation mismatch for bot {bot}/{instance}: \
                     stored={stored}, presented={presented}"
                ),
            )
        }
        LockStyle::Instance => (
            LockTarget {
                bot_instance_id: instance.to_string(),
                ..Default::default()
            },
            format!(
                "The bot instance {bot}/{instance} has been locked due to a certificate \
                 generation mismatch, possibly indicating a stolen certificate."
            ),
            format!(
                "cert generation mismatch for bot {bot}/{instance}: stored={stored}, \
                 presented={presented}"
            ),
        ),
    };
    (
        generation_lock(target, message),
        ApiError::AccessDenied(error),
    )
}

pub(crate) fn generation_lock(target: LockTarget, message: String) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(target),
            message,
            created_at: Some(SystemTime::now().into()),
            created_by: SYSTEM_CREATOR.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn put_lock(tx: &mut Tx<'_>, lock: &LockV2) -> Result<(), ApiError> {
    let name = lock
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    tx.put_resource(Kind::Lock, &name, &lock.encode_to_vec(), None)?;
    Ok(())
}

/// A new authentication record of a bot instance.
pub(crate) fn authentication(
    generation: i32,
    public_key: Vec<u8>,
) -> BotInstanceStatusAuthentication {
    BotInstanceStatusAuthentication {
        authenticated_at: Some(SystemTime::now().into()),
        join_method: TOKEN_METHOD.into(),
        generation,
        public_key,
        ..Default::default()
    }
}

/// What a renewal's transaction decided.
enum Renewal {
    /// Renewed: the certificate gets this generation.
    Issued(i32),
    /// Refused; any lock it made is committed all the same.
    Refused(ApiError),
}

/// Raises the legacy generation label of a bot user to at least `generation` (max wins).
pub(crate) fn raise_generation_label(
    tx: &mut Tx<'_>,
    bot: &str,
    generation: i32,
) -> Result<(), ApiError> {
    let name = bot_resource_name(bot);
    if let Some((mut user, row)) = read_user(tx.get(Kind::User, &name)?, bot)?
        && user.generation() < generation
    {
        user.labels
            .insert(BOT_GENERATION_LABEL.into(), generation.to_string());
        tx.put_record(Kind::User, &name, user.to_bytes(), row.expires)?;
    }
    Ok(())
}

/// The generation check and bookkeeping of one renewal, inside the write transaction.
fn renew(
    tx: &mut Tx<'_>,
    style: LockStyle,
    bot: &str,
    instance_id: &str,
    presented: i32,
    public_key: Vec<u8>,
    expires_ms: i64,
) -> Result<Renewal, ApiError> {
    if presented <= 0 {
        return Ok(Renewal::Refused(ApiError::AccessDenied(
            "a current identity generation must be provided".into(),
        )));
    }
    if read_user(tx.get(Kind::User, &bot_resource_name(bot))?, bot)?.is_none() {
        return Ok(Renewal::Refused(ApiError::NotFound(format!(
            "user {:?} not found (bot {bot:?} was deleted)",
            bot_resource_name(bot)
        ))));
    }
    let key = key(bot, instance_id);
    let margin = i64::try_from(INSTANCE_MARGIN.as_millis()).unwrap_or(0);
    let Some(row) = tx.get(Kind::BotInstance, &key)? else {
        return renew_without_instance(
            tx,
            style,
            bot,
            instance_id,
            presented,
            public_key,
            expires_ms + margin,
        );
    };
    let instance = decode_instance(&row.value)?;
    let stored = last_generation(&instance);
    if stored != presented {
        let (lock, error) = mismatch(style, bot, instance_id, stored, presented);
        put_lock(tx, &lock)?;
        return Ok(Renewal::Refused(error));
    }
    let generation = stored + 1;
    let auth = authentication(generation, public_key);
    record_authentication(tx, &key, &row.value, instance, auth, expires_ms + margin)?;
    raise_generation_label(tx, bot, generation)?;
    Ok(Renewal::Issued(generation))
}

/// The generation of the instance's newest authentication (0 when it has none).
pub(crate) fn last_generation(instance: &BotInstance) -> i32 {
    instance
        .status
        .as_ref()
        .and_then(|s| s.latest_authentications.last())
        .map_or(0, |a| a.generation)
}

/// Adds `auth` as the instance's newest authentication (keeping the last [`HISTORY`]) and
/// stores the instance under `key` until `expires_ms`, keeping the fields of `stored` (its
/// encoded record) that this build does not know.
pub(crate) fn record_authentication(
    tx: &mut Tx<'_>,
    key: &str,
    stored: &[u8],
    mut instance: BotInstance,
    auth: BotInstanceStatusAuthentication,
    expires_ms: i64,
) -> Result<(), ApiError> {
    let status = instance.status.get_or_insert_with(Default::default);
    status.latest_authentications.push(auth);
    let excess = status.latest_authentications.len().saturating_sub(HISTORY);
    status.latest_authentications.drain(..excess);
    instance
        .metadata
        .get_or_insert_with(Default::default)
        .expires = Some(system_time(expires_ms).into());
    let bytes = mwi_proto::unknown::keep_unknown(stored, &instance);
    tx.put_resource(Kind::BotInstance, key, &bytes, Some(expires_ms))?;
    Ok(())
}

/// A renewal whose instance record is gone. v16–v18 fall back to the user's legacy generation
/// label and start a new record; the newest Teleport treats it as a mismatch.
fn renew_without_instance(
    tx: &mut Tx<'_>,
    style: LockStyle,
    bot: &str,
    instance_id: &str,
    presented: i32,
    public_key: Vec<u8>,
    expires_ms: i64,
) -> Result<Renewal, ApiError> {
    if style == LockStyle::Instance {
        let (lock, _) = mismatch(style, bot, instance_id, 0, presented);
        put_lock(tx, &lock)?;
        return Ok(Renewal::Refused(ApiError::AccessDenied(format!(
            "cert generation mismatch for bot {bot}/{instance_id}: instance not found, \
             presented={presented}"
        ))));
    }
    let stored = read_user(tx.get(Kind::User, &bot_resource_name(bot))?, bot)?
        .map(|(u, _)| u.generation())
        .unwrap_or(0);
    if stored != presented {
        let (lock, _) = mismatch(style, bot, instance_id, stored, presented);
        put_lock(tx, &lock)?;
        return Ok(Renewal::Refused(ApiError::AccessDenied(format!(
            "renewable cert generation mismatch: stored={stored}, presented={presented}"
        ))));
    }
    let generation = presented + 1;
    let instance = new_instance(
        bot,
        instance_id,
        authentication(generation, public_key),
        expires_ms,
    );
    tx.put_resource(
        Kind::BotInstance,
        &key(bot, instance_id),
        &instance.encode_to_vec(),
        Some(expires_ms),
    )?;
    raise_generation_label(tx, bot, generation)?;
    Ok(Renewal::Issued(generation))
}

/// A bot instance record starting with `first` (initial and latest authentication).
pub(crate) fn new_instance(
    bot: &str,
    instance_id: &str,
    first: BotInstanceStatusAuthentication,
    expires_ms: i64,
) -> BotInstance {
    BotInstance {
        kind: "bot_instance".into(),
        version: "v1".into(),
        metadata: Some(mwi_proto::teleport::header::v1::Metadata {
            name: instance_id.to_string(),
            expires: Some(system_time(expires_ms).into()),
            ..Default::default()
        }),
        spec: Some(mwi_proto::machineid::BotInstanceSpec {
            bot_name: bot.to_string(),
            instance_id: instance_id.to_string(),
            ..Default::default()
        }),
        status: Some(mwi_proto::machineid::BotInstanceStatus {
            initial_authentication: Some(first.clone()),
            latest_authentications: vec![first],
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Auth {
    /// Issues TLS and SSH certificates for `identity` (whichever keys were sent), valid until
    /// `not_after`, after checking that no lock targets the identity.
    pub(crate) fn issue(
        &self,
        identity: &CertIdentity,
        keys: &Keys,
        principals: &[String],
        not_after: SystemTime,
    ) -> Result<Certs, ApiError> {
        let internal =
            |e: &dyn std::fmt::Display| ApiError::Internal(format!("issuing certificates: {e}"));
        let tls = match &keys.tls {
            Some(spki) => {
                let der = self
                    .tls_ca
                    .issue_client(identity, spki.clone(), not_after)
                    .map_err(|e| internal(&e))?;
                pki::cert_pem(&der).map_err(|e| internal(&e))?.into_bytes()
            }
            None => Vec::new(),
        };
        let ssh = match &keys.ssh {
            Some(key) => {
                let line = self
                    .ssh_ca
                    .issue_user(key, &identity.username, principals, not_after)
                    .map_err(|e| internal(&e))?;
                format!("{line}\n").into_bytes()
            }
            None => Vec::new(),
        };
        let ssh_ca = self.ssh_ca.public_line().map_err(|e| internal(&e))?;
        Ok(Certs {
            ssh,
            tls,
            tlsca_certs: vec![self.tls_ca.cert_pem().as_bytes().to_vec()],
            sshca_certs: vec![format!("{ssh_ca}\n").into_bytes()],
        })
    }

    /// A bot's own certificate subject as this cluster issues it: its user and roles, the bot and
    /// the instance. Callers say whether it renews and which generation it is.
    pub(crate) fn bot_identity(
        &self,
        username: &str,
        roles: &[String],
        bot: &str,
        instance_id: &str,
    ) -> CertIdentity {
        CertIdentity {
            username: username.to_string(),
            roles: roles.to_vec(),
            teleport_cluster: Some(self.cluster.clone()),
            bot_name: Some(bot.to_string()),
            bot_instance_id: Some(instance_id.to_string()),
            ..Default::default()
        }
    }

    /// Refuses when an in-force lock targets the identity about to be issued.
    pub(crate) fn check_issue_locks(&self, identity: &CertIdentity) -> Result<(), ApiError> {
        self.policy
            .check_locks(&identity_targets(identity), now_ms())
    }

    pub(crate) async fn generate_user_certs(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        let req: UserCertsRequest = decode(body)?;
        let keys = Keys::of_request(&req)?;
        let own = req.username.is_empty() || req.username == caller.id.username;
        let wants_roles = !req.role_requests.is_empty() || req.use_role_requests;
        let certs = if !own {
            self.certs_for_user(caller, &req, &keys).await?
        } else if wants_roles {
            self.impersonate_roles(caller, &req, &keys).await?
        } else if caller.id.renewable && caller.id.is_bot() {
            self.renew_bot(caller, &req, keys).await?
        } else {
            self.reissue(caller, &req, &keys)?
        };
        Ok(certs.encode_to_vec().into())
    }

    /// A token-joined bot renews its renewable identity: generation check, new generation.
    async fn renew_bot(
        &self,
        caller: &Caller,
        req: &UserCertsRequest,
        keys: Keys,
    ) -> Result<Certs, ApiError> {
        let id = &caller.id;
        let bot = id.bot_name.clone().unwrap_or_default();
        let Some(instance_id) = id.bot_instance_id.clone() else {
            return Err(ApiError::AccessDenied(
                "a renewable bot certificate without a bot instance cannot be renewed; join again \
                 with a new token"
                    .into(),
            ));
        };
        let role = self.policy.role_set(&id.roles, now_ms());
        let mut ttl = requested_ttl(req.expires.as_ref())
            .unwrap_or(self.bot_ttl)
            .min(self.bot_ttl)
            .min(MAX_RENEWABLE_TTL);
        if let Some(max) = max_session_ttl(&role) {
            ttl = ttl.min(max);
        }
        let not_after = SystemTime::now() + ttl;
        let expires_ms = now_ms() + i64::try_from(ttl.as_millis()).unwrap_or(0);
        let presented = i32::try_from(id.generation).unwrap_or(i32::MAX);
        let style = self.lock_style;
        let public_key = keys.tls_pem();
        let (b, i) = (bot.clone(), instance_id.clone());
        let outcome = self
            .store
            .write(move |tx| renew(tx, style, &b, &i, presented, public_key, expires_ms))
            .await?;
        let generation = match outcome {
            Renewal::Issued(g) => g,
            Renewal::Refused(e) => return Err(e),
        };
        let identity = CertIdentity {
            renewable: true,
            generation: u64::try_from(generation).unwrap_or(0),
            ..self.bot_identity(&id.username, &id.roles, &bot, &instance_id)
        };
        self.issue(&identity, &keys, &logins(&role, None), not_after)
    }

    /// The user record of `name`, if any.
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, ApiError> {
        let name = name.to_string();
        let row = self.store.read(move |r| r.get(Kind::User, &name)).await?;
        row.map(|r| UserRecord::from_bytes(&r.value)).transpose()
    }

    /// Non-renewable certificates with the requested roles, each of which the caller's roles
    /// must allow it to impersonate.
    async fn impersonate_roles(
        &self,
        caller: &Caller,
        req: &UserCertsRequest,
        keys: &Keys,
    ) -> Result<Certs, ApiError> {
        let id = &caller.id;
        let now = now_ms();
        let own_roles = self.policy.role_set(&id.roles, now);
        let grant = |allow: bool| -> BTreeSet<String> {
            own_roles
                .iter()
                .filter_map(|r| {
                    let spec = r.spec.as_ref()?;
                    let cond = if allow {
                        spec.allow.as_ref()
                    } else {
                        spec.deny.as_ref()
                    }?;
                    cond.impersonate.as_ref().map(|i| i.roles.clone())
                })
                .flatten()
                .collect()
        };
        let (allowed, denied) = (grant(true), grant(false));
        let requested: Vec<String> = if req.role_requests.is_empty() {
            allowed.iter().filter(|r| *r != "*").cloned().collect()
        } else {
            req.role_requests.clone()
        };
        if requested.is_empty() {
            return Err(ApiError::AccessDenied(format!(
                "user {:?} may not impersonate any role",
                id.username
            )));
        }
        for role in &requested {
            let permitted = (allowed.contains(role) || allowed.contains("*"))
                && !denied.contains(role)
                && !denied.contains("*");
            if !permitted {
                return Err(ApiError::AccessDenied(format!(
                    "user {:?} may not impersonate role {role:?}: it is not in \
                     allow.impersonate.roles of its roles",
                    id.username
                )));
            }
            if self.policy.role(role, now).is_none() {
                return Err(ApiError::NotFound(format!("role {role:?} not found")));
            }
        }
        let roles = self.policy.role_set(&requested, now);
        let user = self.user(&id.username).await?;
        let mut identity = CertIdentity {
            username: id.username.clone(),
            roles: requested,
            logins: logins(&roles, user.as_ref()),
            teleport_cluster: Some(self.cluster.clone()),
            bot_name: id.bot_name.clone(),
            bot_instance_id: id.bot_instance_id.clone(),
            ..Default::default()
        };
        let route = req.route_to_database.clone().unwrap_or_default();
        if req.usage == USAGE_DATABASE || !route.service_name.is_empty() {
            if route.service_name.is_empty() {
                return Err(ApiError::BadParameter(
                    "a database certificate needs RouteToDatabase.ServiceName".into(),
                ));
            }
            let name = route.service_name.clone();
            let db = self
                .store
                .read(move |r| r.get(Kind::DbServer, &name))
                .await?
                .map(|row| DatabaseRecord::from_bytes(&row.value))
                .transpose()?;
            if !db.is_some_and(|db| database_visible(&roles, &db)) {
                return Err(ApiError::NotFound(format!(
                    "database {:?} not found",
                    route.service_name
                )));
            }
            identity.usage = vec!["usage:db".into()];
            identity.db_service = Some(route.service_name);
            identity.db_user = (!route.username.is_empty()).then_some(route.username);
            identity.db_name = (!route.database.is_empty()).then_some(route.database);
        }
        self.check_issue_locks(&identity)?;
        let remaining = Duration::from_secs(u64::try_from(id.not_after - now / 1000).unwrap_or(0));
        let mut ttl = requested_ttl(req.expires.as_ref())
            .unwrap_or(remaining)
            .min(remaining);
        if let Some(max) = max_session_ttl(&roles) {
            ttl = ttl.min(max);
        }
        let principals = identity.logins.clone();
        self.issue(&identity, keys, &principals, SystemTime::now() + ttl)
    }

    /// The caller's own identity again (not renewable), never outliving the current one.
    fn reissue(
        &self,
        caller: &Caller,
        req: &UserCertsRequest,
        keys: &Keys,
    ) -> Result<Certs, ApiError> {
        let id = &caller.id;
        let now = now_ms();
        let roles = self.policy.role_set(&id.roles, now);
        let remaining = Duration::from_secs(u64::try_from(id.not_after - now / 1000).unwrap_or(0));
        let ttl = requested_ttl(req.expires.as_ref())
            .unwrap_or(remaining)
            .min(remaining);
        let identity = CertIdentity {
            username: id.username.clone(),
            roles: id.roles.clone(),
            logins: logins(&roles, None),
            teleport_cluster: Some(self.cluster.clone()),
            bot_name: id.bot_name.clone(),
            bot_instance_id: id.bot_instance_id.clone(),
            ..Default::default()
        };
        self.check_issue_locks(&identity)?;
        let principals = identity.logins.clone();
        self.issue(&identity, keys, &principals, SystemTime::now() + ttl)
    }

    /// Certificates for another user, when the caller's roles allow impersonating it.
    async fn certs_for_user(
        &self,
        caller: &Caller,
        req: &UserCertsRequest,
        keys: &Keys,
    ) -> Result<Certs, ApiError> {
        let now = now_ms();
        let own_roles = self.policy.role_set(&caller.id.roles, now);
        let matches = |allow: bool| {
            own_roles.iter().any(|r| {
                let cond = r.spec.as_ref().and_then(|s| {
                    if allow {
                        s.allow.as_ref()
                    } else {
                        s.deny.as_ref()
                    }
                });
                cond.and_then(|c| c.impersonate.as_ref())
                    .is_some_and(|i| i.users.iter().any(|u| u == "*" || *u == req.username))
            })
        };
        if !matches(true) || matches(false) {
            return Err(ApiError::denied("impersonate", "user"));
        }
        let user = self
            .user(&req.username)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("user {:?} not found", req.username)))?;
        let roles = self.policy.role_set(&user.roles, now);
        let identity = CertIdentity {
            username: user.name.clone(),
            roles: user.roles.clone(),
            logins: logins(&roles, Some(&user)),
            teleport_cluster: Some(self.cluster.clone()),
            bot_name: user.bot_name().map(str::to_string),
            impersonator: Some(caller.id.username.clone()),
            ..Default::default()
        };
        self.check_issue_locks(&identity)?;
        let mut ttl = requested_ttl(req.expires.as_ref()).unwrap_or(DEFAULT_USER_TTL);
        if let Some(max) = max_session_ttl(&roles) {
            ttl = ttl.min(max);
        }
        let principals = identity.logins.clone();
        self.issue(&identity, keys, &principals, SystemTime::now() + ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{RoleConditions, RoleSpecV6};
    use mwi_proto::wrappers::StringValues;
    use std::collections::BTreeMap;

    fn role(logins: &[&str], deny: &[&str]) -> Arc<RoleV6> {
        let cond = |l: &[&str]| RoleConditions {
            logins: l.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        Arc::new(RoleV6 {
            spec: Some(RoleSpecV6 {
                allow: Some(cond(logins)),
                deny: Some(cond(deny)),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn login_templates_take_the_users_traits_and_deny_wins() {
        let mut user = UserRecord::default();
        user.traits
            .insert("logins".into(), vec!["ubuntu".into(), "root".into()]);
        let roles = [role(&["{{internal.logins}}", "deploy"], &["root"])];
        assert_eq!(logins(&roles, Some(&user)), ["deploy", "ubuntu"]);
        assert_eq!(logins(&roles, None), ["deploy"]);
    }

    fn labels(pairs: &[(&str, &[&str])]) -> LabelValues {
        LabelValues {
            values: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        StringValues {
                            values: v.iter().map(|s| s.to_string()).collect(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn label_matching_follows_teleports_rules() {
        let db = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        assert!(labels_match(Some(&labels(&[("*", &["*"])])), &db));
        assert!(labels_match(
            Some(&labels(&[("env", &["prod", "dev"])])),
            &db
        ));
        assert!(!labels_match(Some(&labels(&[("env", &["dev"])])), &db));
        assert!(!labels_match(Some(&labels(&[])), &db));
        assert!(!labels_match(None, &db));
        assert!(labels_match(Some(&labels(&[("env", &["pr*"])])), &db));
        assert!(labels_match(
            Some(&labels(&[("env", &["^(prod|staging)$"])])),
            &db
        ));
    }

    /// The lab and the client differ here on purpose: Teleport expands `{{internal.x}}` in label
    /// values, and so does the client's access check (its template layer, `cli/src/access.rs`),
    /// but the lab links no template layer and no lab scenario puts templates in db_labels, so
    /// the lab matches the value as literal text.
    #[test]
    fn templated_labels_are_matched_literally() {
        let db = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let templated = labels(&[("env", &["{{internal.env}}"])]);
        assert!(!labels_match(Some(&templated), &db));
        let literal = BTreeMap::from([("env".to_string(), "{{internal.env}}".to_string())]);
        assert!(labels_match(Some(&templated), &literal));
    }

    #[test]
    fn a_mismatch_locks_what_the_style_says_with_teleports_words() {
        let (lock, err) = mismatch(LockStyle::User, "example", "u-1", 3, 2);
        let spec = lock.spec.unwrap();
        assert_eq!(spec.target.unwrap().user, "bot-example");
        assert_eq!(
            spec.message,
            "The bot user \"bot-example\" has been locked due to a certificate generation \
             mismatch, possibly indicating a stolen certificate."
        );
        assert_eq!(
            err.to_string(),
            "renewable cert generation mismatch for bot example/u-1: stored=3, presented=2"
        );
        let (lock, err) = mismatch(LockStyle::Instance, "example", "u-1", 3, 2);
        assert_eq!(lock.spec.unwrap().target.unwrap().bot_instance_id, "u-1");
        assert_eq!(
            err.to_string(),
            "cert generation mismatch for bot example/u-1: stored=3, presented=2"
        );
    }
}

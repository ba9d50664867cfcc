//! Diagnosis of one bot for recovery: its locks (and why each blocks it), instances with
//! generation, last heartbeat and identity expiry, join tokens, plus an optional tbot log (read by
//! the log doctor) and tbot.yaml; from these it names the matching incident.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use mwi_diag::doctor;
use mwi_diag::incident::Incident;
use mwi_proto::machineid::{Bot, BotInstance};
use mwi_proto::types::{LockV2, ProvisionTokenV2};

use crate::client::{Client, ClientError, Fetched};
use crate::error::CommandError;
use crate::ops::bound_keypair;
use crate::ops::instances::{
    identity_expires, instance_row, is_live, latest_authentication, locked_ids_of,
};
use crate::ops::unlock::{BlockingLock, BotTargets, bot_resource_name};
use crate::recover::plan::Flow;
use crate::recover::step::{InstanceSummary, LockSummary};
use crate::resource::{format_timestamp, lock_target_text};

/// What the server says about a bot.
#[derive(Debug, Clone)]
pub struct BotState {
    pub bot: Fetched<Bot>,
    /// In-force locks that block it, oldest first.
    pub locks: Vec<BlockingLock>,
    pub instances: Vec<BotInstance>,
    /// Its join tokens: name and expiry.
    pub tokens: Vec<(String, Option<prost_types::Timestamp>)>,
    /// Its bound-keypair tokens, whole (mode, limit, recovery_count).
    pub bound_tokens: Vec<ProvisionTokenV2>,
}

#[cfg(test)]
impl BotState {
    /// Bot `name` with `instances` and nothing else: no lock, no token.
    pub(crate) fn bare(name: &str, instances: Vec<BotInstance>) -> BotState {
        BotState {
            bot: Fetched {
                value: Bot {
                    metadata: Some(mwi_proto::teleport::header::v1::Metadata {
                        name: name.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                raw: Default::default(),
            },
            locks: Vec::new(),
            instances,
            tokens: Vec::new(),
            bound_tokens: Vec::new(),
        }
    }
}

/// Reads the bot, its instances and tokens (concurrently), then the locks that block it with one
/// filtered `GetLocks`.
pub async fn gather(client: &Client, bot: &str) -> Result<BotState, CommandError> {
    let get_bot = async { crate::ops::bots::get(client, bot).await };
    let instances = async {
        let all = client.bot_instances(Some(bot)).collect_all().await?;
        Ok::<_, CommandError>(
            all.into_iter()
                .map(|f| f.value)
                .filter(|i| i.spec.as_ref().is_some_and(|s| s.bot_name == bot))
                .collect::<Vec<_>>(),
        )
    };
    let tokens = async {
        let all = client.get_tokens().await?;
        Ok::<_, CommandError>(
            all.into_iter()
                .map(|t| t.value)
                .filter(|t| t.spec.as_ref().is_some_and(|s| s.bot_name == bot))
                .collect::<Vec<_>>(),
        )
    };
    let (fetched, instances, all_tokens) = tokio::try_join!(get_bot, instances, tokens)?;
    let tokens: Vec<(String, Option<prost_types::Timestamp>)> = all_tokens
        .iter()
        .filter_map(|t| t.metadata.as_ref())
        .map(|m| (m.name.clone(), m.expires))
        .collect();
    let bound_tokens = all_tokens
        .into_iter()
        .filter(|t| crate::ops::bound_keypair::state(t).is_some())
        .collect();
    let targets = BotTargets {
        bot: bot.to_string(),
        user: bot_resource_name(bot),
        instance_ids: instances
            .iter()
            .filter_map(|i| i.spec.as_ref().map(|s| s.instance_id.clone()))
            .filter(|id| !id.is_empty())
            .collect(),
        join_tokens: tokens.iter().map(|(name, _)| name.clone()).collect(),
    };
    let locks = targets.find_locks(client, true).await?;
    Ok(BotState {
        bot: fetched,
        locks,
        instances,
        tokens,
        bound_tokens,
    })
}

impl BotState {
    pub fn name(&self) -> &str {
        crate::ops::bots::bot_name(&self.bot.value)
    }

    pub fn lock_summaries(&self) -> Vec<LockSummary> {
        self.locks.iter().map(lock_summary).collect()
    }

    /// Instances whose identity is still valid.
    pub fn live_instances(&self, now: SystemTime) -> usize {
        self.instances.iter().filter(|i| is_live(i, now)).count()
    }

    /// Every instance, newest authentication last.
    pub fn instance_summaries(&self) -> Vec<InstanceSummary> {
        let fetched: Vec<Fetched<LockV2>> = self.locks.iter().map(|l| l.lock.clone()).collect();
        let locked = locked_ids_of(&fetched);
        let mut out: Vec<InstanceSummary> = self
            .instances
            .iter()
            .map(|i| {
                let row = instance_row(i, &locked);
                InstanceSummary {
                    id: row.id,
                    hostname: row.hostname,
                    generation: row.generation,
                    joined: row.joined.as_ref().map(format_timestamp),
                    last_seen: row.last_seen.as_ref().map(format_timestamp),
                    expires: identity_expires(i).map(|t| format_timestamp(&t.into())),
                    locked: row.locked,
                }
            })
            .collect();
        out.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
        out
    }

    /// How many of its instances last authenticated by bound-keypair joining.
    pub fn bound_keypair_instances(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| {
                latest_authentication(i).is_some_and(|a| a.join_method == bound_keypair::METHOD)
            })
            .count()
    }

    /// Why the bot's bound-keypair token looks wiped (S10): it has bound-keypair instances, but
    /// no such token, or one without a bound key.
    pub fn wiped_token(&self) -> Option<String> {
        let instances = self.bound_keypair_instances();
        if instances == 0 {
            return None;
        }
        if self.bound_tokens.is_empty() {
            return Some(format!(
                "{instances} instance(s) joined by bound keypair, but the bot has no bound-keypair token"
            ));
        }
        self.bound_tokens.iter().find_map(|t| {
            let s = bound_keypair::state(t)?;
            s.bound_public_key.is_none().then(|| {
                format!(
                    "token {} has no bound key while {instances} instance(s) joined by bound keypair",
                    t.metadata.as_ref().map_or("", |m| m.name.as_str())
                )
            })
        })
    }

    /// The IDs of every instance the server knows now.
    pub fn instance_ids(&self) -> Vec<String> {
        self.instances
            .iter()
            .filter_map(|i| i.spec.as_ref().map(|s| s.instance_id.clone()))
            .collect()
    }

    /// Locks made by a generation mismatch (Teleport's message says so).
    pub fn mismatch_locks(&self) -> usize {
        self.locks
            .iter()
            .filter(|l| {
                l.lock
                    .value
                    .spec
                    .as_ref()
                    .is_some_and(|s| s.message.contains("generation mismatch"))
            })
            .count()
    }

    /// Unexpired join tokens.
    pub fn usable_tokens(&self, now: SystemTime) -> usize {
        let now = prost_types::Timestamp::from(now);
        self.tokens
            .iter()
            .filter(|(_, e)| {
                e.as_ref()
                    .is_none_or(|e| (e.seconds, e.nanos) > (now.seconds, now.nanos))
            })
            .count()
    }
}

/// A lock as plans show it.
pub fn lock_summary(lock: &BlockingLock) -> LockSummary {
    let spec = lock.lock.value.spec.clone().unwrap_or_default();
    LockSummary {
        name: lock.name().to_string(),
        target: lock_target_text(&spec.target.unwrap_or_default()),
        message: spec.message,
        // Go's zero time means "not set".
        created_at: spec
            .created_at
            .filter(|t| t.seconds > 0)
            .as_ref()
            .map(format_timestamp),
        expires: spec.expires.as_ref().map(format_timestamp),
        reason: lock.reason.clone(),
    }
}

/// A finding of the log doctor, as the wizard uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFinding {
    pub incident: doctor::Incident,
    pub title: String,
    pub bot: Option<String>,
    pub facts: BTreeMap<String, String>,
    pub first_line: Option<String>,
}

/// Reads a tbot log with the log doctor.
pub fn read_log(path: &Path) -> Result<Vec<LogFinding>, CommandError> {
    let file = std::fs::File::open(path).map_err(|e| {
        CommandError::usage(format!("cannot read the tbot log {}: {e}", path.display()))
            .hint("give the path of tbot's log file (journalctl -u tbot > tbot.log)")
    })?;
    let mut doctor = doctor::Doctor::new();
    doctor
        .feed_reader(&path.display().to_string(), file)
        .map_err(|e| CommandError::usage(e.to_string()))?;
    Ok(doctor
        .finish()
        .findings
        .into_iter()
        .map(|f| LogFinding {
            incident: f.incident,
            title: f.title,
            bot: f.bot,
            facts: f.facts,
            first_line: f
                .evidence
                .first()
                .map(|e| format!("{}:{}: {}", e.source, e.line, e.text)),
        })
        .collect())
}

/// What a tbot.yaml says that matters for recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFacts {
    pub path: PathBuf,
    pub join_method: Option<String>,
    /// `set`, `a token file PATH`, or `not set`; never the token itself.
    pub token: String,
    /// Whether the configured token is one of the bot's unexpired tokens.
    pub token_is_current: bool,
    pub storage: Option<String>,
    /// The network file system the storage is on, a cause of S1.
    pub storage_fs: Option<String>,
}

/// Reads a tbot.yaml for the facts recovery needs; it is not changed.
pub fn read_config(path: &Path, state: Option<&BotState>) -> Result<ConfigFacts, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CommandError::usage(format!("cannot read {}: {e}", path.display()))
            .hint("give the path of the tbot.yaml tbot runs with (tbot start -c PATH)")
    })?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        CommandError::usage(format!("{} is not valid YAML: {e}", path.display()))
            .hint("check it with `mwictl lint`")
    })?;
    let token = mwi_diag::tbot_config::current_token(&text).unwrap_or_default();
    let token_is_current = match (&token, state) {
        (Some(t), Some(s)) => s.tokens.iter().any(|(name, _)| name == t),
        _ => false,
    };
    let storage = doc["storage"]["path"]
        .as_str()
        .or_else(|| doc["storage"]["directory"]["path"].as_str())
        .map(str::to_string);
    Ok(ConfigFacts {
        path: path.to_path_buf(),
        join_method: doc["onboarding"]["join_method"]
            .as_str()
            .map(str::to_string),
        token: match &token {
            Some(t) if t.starts_with('/') => format!("a token file {t}"),
            Some(_) => "set".to_string(),
            None => "not set".to_string(),
        },
        token_is_current,
        storage_fs: storage
            .as_deref()
            .and_then(|p| mwi_diag::lint::network_fs_of(Path::new(p))),
        storage,
    })
}

/// The incident the evidence points at, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub flow: Flow,
    pub reason: String,
    /// From the log: the SSH login (S3) or database (S4) that failed.
    pub login: Option<String>,
    pub db: Option<String>,
}

/// Names the incident: a lock means S1; a log finding of S3 or S4 names those; no live instance
/// means S2. `None` when nothing looks wrong.
pub fn suggest(state: &BotState, log: &[LogFinding], now: SystemTime) -> Option<Suggestion> {
    let found = |incident: Incident| {
        log.iter()
            .find(|f| f.incident == doctor::Incident::Product(incident))
    };
    if let Some(s) = bound_keypair_suggestion(state, log, now) {
        return Some(s);
    }
    if !state.locks.is_empty() {
        let reason = if state.mismatch_locks() > 0 {
            format!(
                "{} lock(s) from a certificate generation mismatch block the bot",
                state.mismatch_locks()
            )
        } else {
            format!("{} lock(s) block the bot", state.locks.len())
        };
        return Some(Suggestion {
            flow: Flow::GenerationMismatch,
            reason,
            login: None,
            db: None,
        });
    }
    if let Some(f) = found(Incident::GenerationMismatch) {
        return Some(Suggestion {
            flow: Flow::GenerationMismatch,
            reason: format!("the log shows {}", f.title),
            login: None,
            db: None,
        });
    }
    if let Some(f) = found(Incident::SshLogin) {
        return Some(Suggestion {
            flow: Flow::SshLogin,
            reason: format!("the log shows {}", f.title),
            login: f.facts.get("login").cloned(),
            db: None,
        });
    }
    if let Some(f) = found(Incident::DbAccess) {
        return Some(Suggestion {
            flow: Flow::DbAccess,
            reason: format!("the log shows {}", f.title),
            login: None,
            db: f.facts.get("db").cloned(),
        });
    }
    if state.live_instances(now) == 0 {
        let reason = match found(Incident::Expired) {
            Some(f) => format!(
                "the log shows {}, and no instance holds a valid identity",
                f.title
            ),
            None => "no instance of the bot holds a valid identity".to_string(),
        };
        return Some(Suggestion {
            flow: Flow::Expired,
            reason,
            login: None,
            db: None,
        });
    }
    None
}

/// A bound-keypair incident: a lock on a bound-keypair join token or a log finding of S9 (S12
/// when the log shows several bots), a token at its limit in mode standard with no live
/// instance or a log finding of S8, a log finding of S11, a token without its bound key (or
/// none) while bound-keypair instances exist or a log finding of S10.
fn bound_keypair_suggestion(
    state: &BotState,
    log: &[LogFinding],
    now: SystemTime,
) -> Option<Suggestion> {
    let suggestion = |flow: Flow, reason: String| Suggestion {
        flow,
        reason,
        login: None,
        db: None,
    };
    let found = |incident: Incident| {
        log.iter()
            .find(|f| f.incident == doctor::Incident::Product(incident))
    };
    if let Some(f) = found(Incident::BkRollback) {
        return Some(suggestion(
            Flow::BkRollback,
            format!("the log shows {}", f.title),
        ));
    }
    let bound: Vec<String> = state
        .bound_tokens
        .iter()
        .map(crate::ops::recovery_mode::name_of)
        .collect();
    let locked = state.locks.iter().find_map(|l| {
        let target = l.lock.value.spec.as_ref()?.target.as_ref()?;
        bound
            .contains(&target.join_token)
            .then(|| target.join_token.clone())
    });
    if let Some(token) = locked {
        return Some(suggestion(
            Flow::BkJoinState,
            format!("a lock on its bound-keypair join token {token} blocks the bot"),
        ));
    }
    if let Some(f) = found(Incident::BkJoinState) {
        return Some(suggestion(
            Flow::BkJoinState,
            format!("the log shows {}", f.title),
        ));
    }
    let spent = state
        .bound_tokens
        .iter()
        .find(|t| crate::ops::bound_keypair::state(t).and_then(|s| s.recoveries_left) == Some(0));
    if let Some(f) = found(Incident::BkExhausted) {
        return Some(suggestion(
            Flow::BkExhausted,
            format!("the log shows {}", f.title),
        ));
    }
    if let Some(t) = spent
        && state.live_instances(now) == 0
    {
        return Some(suggestion(
            Flow::BkExhausted,
            format!(
                "token {} has no recoveries left and no instance holds a valid identity",
                crate::ops::recovery_mode::name_of(t)
            ),
        ));
    }
    if let Some(f) = found(Incident::BkKeypairLost) {
        return Some(suggestion(
            Flow::BkKeypairLost,
            format!("the log shows {}", f.title),
        ));
    }
    if let Some(f) = found(Incident::BkTokenWiped) {
        return Some(suggestion(
            Flow::BkTokenWiped,
            format!("the log shows {}", f.title),
        ));
    }
    state
        .wiped_token()
        .map(|reason| suggestion(Flow::BkTokenWiped, reason))
}

/// The diagnosis as the wizard prints it.
pub fn render(
    state: &BotState,
    log: &[LogFinding],
    config: Option<&ConfigFacts>,
    now: SystemTime,
) -> String {
    let mut out = format!("Bot {:?}\n", state.name());
    let spec = state.bot.value.spec.clone().unwrap_or_default();
    out.push_str(&format!(
        "  roles: {}\n",
        if spec.roles.is_empty() {
            "none".to_string()
        } else {
            spec.roles.join(", ")
        }
    ));
    if state.locks.is_empty() {
        out.push_str("  locks: none in force\n");
    } else {
        out.push_str(&format!("  locks in force: {}\n", state.locks.len()));
        for lock in state.lock_summaries() {
            out.push_str(&format!(
                "    {} {} created {} ({}): {:?}\n",
                lock.name,
                lock.target,
                lock.created_at.as_deref().unwrap_or("n/a"),
                lock.reason,
                lock.message
            ));
        }
    }
    out.push_str(&format!(
        "  instances: {} ({} with a valid identity)\n",
        state.instances.len(),
        state.live_instances(now)
    ));
    for i in state.instance_summaries() {
        out.push_str(&format!(
            "    {} host {} generation {} last seen {} identity expires {}{}\n",
            i.id,
            if i.hostname.is_empty() {
                "n/a"
            } else {
                &i.hostname
            },
            i.generation.map_or("n/a".into(), |g| g.to_string()),
            i.last_seen.as_deref().unwrap_or("n/a"),
            i.expires.as_deref().unwrap_or("n/a"),
            if i.locked { " LOCKED" } else { "" }
        ));
    }
    out.push_str(&format!(
        "  join tokens: {} ({} unexpired)\n",
        state.tokens.len(),
        state.usable_tokens(now)
    ));
    for f in log {
        out.push_str(&format!("  log: {} {}\n", f.incident.id(), f.title));
        if let Some(line) = &f.first_line {
            out.push_str(&format!("       {line}\n"));
        }
    }
    if let Some(c) = config {
        out.push_str(&format!(
            "  tbot.yaml {}: join_method {}, token {}{}, storage {}\n",
            c.path.display(),
            c.join_method.as_deref().unwrap_or("n/a"),
            c.token,
            if c.token_is_current {
                " (an unused token of this bot)"
            } else {
                ""
            },
            c.storage.as_deref().unwrap_or("default")
        ));
        if let Some(fs) = &c.storage_fs {
            out.push_str(&format!(
                "  WARNING: tbot's storage is on {fs}: a copy or a second node replaying its certificate causes generation mismatches\n"
            ));
        }
    }
    out
}

/// Whether a client error is a missing resource.
pub fn is_not_found(e: &ClientError) -> bool {
    matches!(e, ClientError::Rpc { status, .. } if status.code() == tonic::Code::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_diag::doctor::Other;

    fn state() -> BotState {
        BotState {
            bot: Fetched {
                value: Bot::default(),
                raw: Default::default(),
            },
            locks: Vec::new(),
            instances: Vec::new(),
            tokens: Vec::new(),
            bound_tokens: Vec::new(),
        }
    }

    fn finding(incident: doctor::Incident, facts: &[(&str, &str)]) -> LogFinding {
        LogFinding {
            incident,
            title: incident.id().to_string(),
            bot: None,
            facts: facts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            first_line: None,
        }
    }

    #[test]
    fn log_findings_name_the_flow_with_its_facts() {
        let now = SystemTime::now();
        let ssh = finding(
            doctor::Incident::Product(Incident::SshLogin),
            &[("login", "root")],
        );
        let locked = finding(doctor::Incident::Other(Other::BotLocked), &[]);
        let s = suggest(&state(), &[locked.clone(), ssh.clone()], now).unwrap();
        assert_eq!(s.flow, Flow::SshLogin);
        assert_eq!(s.login.as_deref(), Some("root"));
        let mismatch = finding(doctor::Incident::Product(Incident::GenerationMismatch), &[]);
        let s = suggest(&state(), &[ssh, mismatch], now).unwrap();
        assert_eq!(s.flow, Flow::GenerationMismatch);
        let db = finding(
            doctor::Incident::Product(Incident::DbAccess),
            &[("db", "pg")],
        );
        let s = suggest(&state(), &[db], now).unwrap();
        assert_eq!((s.flow, s.db.as_deref()), (Flow::DbAccess, Some("pg")));
        let s = suggest(&state(), &[locked], now).unwrap();
        assert_eq!(
            s.flow,
            Flow::Expired,
            "no live instance and no other finding"
        );
    }

    fn bound(name: &str, count: u32, limit: u32) -> ProvisionTokenV2 {
        let mut t = crate::ops::bound_keypair::token(
            name,
            "b",
            &crate::ops::bound_keypair::Onboarding {
                initial_public_key: None,
                must_register_before: None,
                recovery_mode: "standard".into(),
                recovery_limit: limit,
            },
        );
        t.status
            .get_or_insert_with(Default::default)
            .bound_keypair
            .get_or_insert_with(Default::default)
            .recovery_count = count;
        t
    }

    #[test]
    fn a_join_token_lock_is_s9_and_a_spent_token_without_a_live_instance_is_s8() {
        let now = SystemTime::now();
        let mut s = state();
        s.bound_tokens = vec![bound("bot-b-1", 2, 2)];
        let found = suggest(&s, &[], now).unwrap();
        assert_eq!(found.flow, Flow::BkExhausted);
        assert_eq!(
            found.reason,
            "token bot-b-1 has no recoveries left and no instance holds a valid identity"
        );
        let lock = mwi_proto::types::LockV2 {
            spec: Some(mwi_proto::types::LockSpecV2 {
                target: Some(mwi_proto::types::LockTarget {
                    join_token: "bot-b-1".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        s.locks = vec![BlockingLock {
            lock: Fetched {
                value: lock,
                raw: Default::default(),
            },
            reason: "targets a join token of bot b".into(),
        }];
        let found = suggest(&s, &[], now).unwrap();
        assert_eq!(
            (found.flow, found.reason.as_str()),
            (
                Flow::BkJoinState,
                "a lock on its bound-keypair join token bot-b-1 blocks the bot"
            )
        );
        let rollback = finding(doctor::Incident::Product(Incident::BkRollback), &[]);
        assert_eq!(
            suggest(&s, &[rollback], now).unwrap().flow,
            Flow::BkRollback
        );
        s.bound_tokens = vec![bound("bot-b-1", 1, 2)];
        s.locks.clear();
        assert_eq!(suggest(&s, &[], now).unwrap().flow, Flow::Expired);
    }

    #[test]
    fn a_bound_keypair_token_without_its_key_or_gone_is_s10_and_a_lost_key_in_the_log_s11() {
        use mwi_proto::machineid::{BotInstanceStatus, BotInstanceStatusAuthentication};
        let now = SystemTime::now();
        let mut s = state();
        s.instances.push(BotInstance {
            status: Some(BotInstanceStatus {
                initial_authentication: Some(BotInstanceStatusAuthentication {
                    join_method: "bound_keypair".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let gone = suggest(&s, &[], now).unwrap();
        assert_eq!(gone.flow, Flow::BkTokenWiped);
        assert!(
            gone.reason.contains("no bound-keypair token"),
            "{}",
            gone.reason
        );
        let onboarding = crate::ops::bound_keypair::Onboarding {
            initial_public_key: None,
            must_register_before: None,
            recovery_mode: "standard".into(),
            recovery_limit: 1,
        };
        let mut token = crate::ops::bound_keypair::token("bot-x-1", "x", &onboarding);
        s.bound_tokens.push(token.clone());
        let wiped = suggest(&s, &[], now).unwrap();
        assert_eq!(wiped.flow, Flow::BkTokenWiped);
        assert!(
            wiped.reason.starts_with("token bot-x-1 has no bound key"),
            "{}",
            wiped.reason
        );
        token
            .status
            .get_or_insert_with(Default::default)
            .bound_keypair
            .get_or_insert_with(Default::default)
            .bound_public_key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsqVA9xfvZBF+SY1+fE/bs+O7A7n6iSE3Z2l+Lud9Jy"
                .into();
        s.bound_tokens = vec![token];
        assert_ne!(
            suggest(&s, &[], now).map(|x| x.flow),
            Some(Flow::BkTokenWiped)
        );
        let lost = finding(doctor::Incident::Product(Incident::BkKeypairLost), &[]);
        assert_eq!(suggest(&s, &[lost], now).unwrap().flow, Flow::BkKeypairLost);
    }
}

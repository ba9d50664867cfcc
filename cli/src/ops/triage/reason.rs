//! Why a bot needs attention: each reason, most urgent kind first, with its words for people, its
//! fields for JSON and the one command (or host step) that fixes it.

use std::time::Duration;

use crate::ops::fleet::LockHit;
use crate::recover::insecure::InsecureFlag;
use crate::recover::plan::Flow;

/// The kinds of reason, in the order triage ranks them (most urgent first). The JSON `kind`
/// and the metric label `reason` are [`Kind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Locked,
    TokenSpent,
    NoLiveInstance,
    RecoveriesExhausted,
    MissingRoles,
    StaticKeyRotation,
    IdentityExpiring,
    UnhealthyServices,
    StaleHeartbeat,
    AgentTooOld,
    LastRecovery,
    InsecureToken,
}

impl Kind {
    /// Every kind, in rank order.
    pub const ALL: [Kind; 12] = [
        Kind::Locked,
        Kind::TokenSpent,
        Kind::NoLiveInstance,
        Kind::RecoveriesExhausted,
        Kind::MissingRoles,
        Kind::StaticKeyRotation,
        Kind::IdentityExpiring,
        Kind::UnhealthyServices,
        Kind::StaleHeartbeat,
        Kind::AgentTooOld,
        Kind::LastRecovery,
        Kind::InsecureToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Locked => "locked",
            Kind::TokenSpent => "token_spent",
            Kind::NoLiveInstance => "no_live_instance",
            Kind::RecoveriesExhausted => "recoveries_exhausted",
            Kind::MissingRoles => "missing_roles",
            Kind::StaticKeyRotation => "static_key_rotation",
            Kind::IdentityExpiring => "identity_expiring",
            Kind::UnhealthyServices => "unhealthy_services",
            Kind::StaleHeartbeat => "stale_heartbeat",
            Kind::AgentTooOld => "agent_too_old",
            Kind::LastRecovery => "last_recovery",
            Kind::InsecureToken => "insecure_token",
        }
    }
}

/// One instance a reason is about: `bot/ID` and the host its last heartbeat named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRef {
    pub id: String,
    pub host: String,
}

impl InstanceRef {
    fn on_host(&self) -> String {
        if self.host.is_empty() {
            "its host".to_owned()
        } else {
            self.host.clone()
        }
    }
}

/// Why a bot needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// In-force locks block it.
    Locked { bot: String, locks: Vec<LockHit> },
    /// No instance holds a usable identity and no token is left to join with: it cannot come
    /// back by itself. `exhausted` names its bound-keypair token when that has no recovery left
    /// (S8); otherwise its one-time tokens are spent or expired (S2).
    TokenSpent {
        instances: u32,
        exhausted: Option<String>,
    },
    /// No instance holds a usable identity, though a token could still join: tbot is not running.
    NoLiveInstance { instances: u32, tokens: u32 },
    /// A bound-keypair token (mode standard) with `left` recoveries: 0 means the next expiry
    /// locks the bot out (S8), 1 means one recovery is left.
    Recoveries {
        token: String,
        left: u32,
        limit: u32,
    },
    /// Roles the bot may impersonate that no longer exist.
    MissingRoles { roles: Vec<String> },
    /// A rotation was requested on a token whose key looks static (mode insecure with a
    /// preregistered key): tbot refuses to rotate a static key, so the next join fails.
    StaticKeyRotation { token: String },
    /// A live identity that expires within one renewal interval: renewals are failing.
    IdentityExpiring {
        instance: InstanceRef,
        expires_in: Duration,
    },
    /// Services or outputs a live instance's latest heartbeat reported unhealthy, each as
    /// `type name` with the reason it gave; `more` counts those on its other live instances.
    UnhealthyServices {
        instance: InstanceRef,
        services: Vec<(String, String)>,
        more: u32,
    },
    /// A live instance whose newest heartbeat (or, without one, its join) is older than the
    /// stale limit; `age` is `None` when it never sent one.
    StaleHeartbeat {
        instance: InstanceRef,
        age: Option<Duration>,
    },
    /// An agent more than one major version behind the cluster.
    AgentTooOld {
        instance: InstanceRef,
        version: String,
        cluster_version: String,
    },
    /// A bound-keypair token left in recovery mode `insecure` (the join state is not checked),
    /// with who switched it (an unfinished `mwictl recover` run, or not) and how to restore it.
    InsecureToken { token: String, flag: InsecureFlag },
}

impl Reason {
    pub fn kind(&self) -> Kind {
        match self {
            Reason::Locked { .. } => Kind::Locked,
            Reason::TokenSpent { .. } => Kind::TokenSpent,
            Reason::NoLiveInstance { .. } => Kind::NoLiveInstance,
            Reason::Recoveries { left: 0, .. } => Kind::RecoveriesExhausted,
            Reason::Recoveries { .. } => Kind::LastRecovery,
            Reason::MissingRoles { .. } => Kind::MissingRoles,
            Reason::StaticKeyRotation { .. } => Kind::StaticKeyRotation,
            Reason::IdentityExpiring { .. } => Kind::IdentityExpiring,
            Reason::UnhealthyServices { .. } => Kind::UnhealthyServices,
            Reason::StaleHeartbeat { .. } => Kind::StaleHeartbeat,
            Reason::AgentTooOld { .. } => Kind::AgentTooOld,
            Reason::InsecureToken { .. } => Kind::InsecureToken,
        }
    }

    /// What is wrong, in one line for people.
    pub fn text(&self) -> String {
        match self {
            Reason::Locked { bot, locks } => {
                let each: Vec<String> = locks
                    .iter()
                    .map(|l| format!("{} on {} ({})", l.name(), l.target_text(), l.why(bot)))
                    .collect();
                format!(
                    "locked by {}: {}",
                    plural(locks.len(), "lock"),
                    each.join("; ")
                )
            }
            Reason::TokenSpent {
                instances,
                exhausted: None,
            } => format!(
                "no live instance ({instances} on record) and no unexpired join token: it cannot rejoin by itself"
            ),
            Reason::TokenSpent {
                instances,
                exhausted: Some(token),
            } => format!(
                "no live instance ({instances} on record) and bound-keypair token {token} has no recoveries left: it cannot rejoin by itself"
            ),
            Reason::NoLiveInstance { instances, tokens } => format!(
                "no live instance ({instances} on record) though {} could join: tbot is not running",
                plural(*tokens as usize, "token")
            ),
            Reason::Recoveries { token, left, limit } => match left {
                0 => format!(
                    "bound-keypair token {token} has no recoveries left ({limit}/{limit} used): the next expiry locks the bot out"
                ),
                _ => format!("bound-keypair token {token} has {left} of {limit} recoveries left"),
            },
            Reason::MissingRoles { roles } => {
                format!("its roles no longer exist: {}", roles.join(", "))
            }
            Reason::StaticKeyRotation { token } => format!(
                "rotation requested on token {token}, whose key is static (mode insecure, preregistered key): tbot cannot rotate it and will fail to join"
            ),
            Reason::IdentityExpiring {
                instance,
                expires_in,
            } => format!(
                "identity of instance {} expires in {}, within one renewal interval: it is not renewing",
                instance.id,
                short_duration(*expires_in)
            ),
            Reason::UnhealthyServices {
                instance,
                services,
                more,
            } => {
                let each: Vec<String> = services
                    .iter()
                    .map(|(service, why)| {
                        if why.is_empty() {
                            service.clone()
                        } else {
                            format!("{service} ({why})")
                        }
                    })
                    .collect();
                let others = if *more > 0 {
                    format!("; {} more on other instances", more)
                } else {
                    String::new()
                };
                format!(
                    "instance {} reports unhealthy: {}{others}",
                    instance.id,
                    each.join(", ")
                )
            }
            Reason::StaleHeartbeat { instance, age } => match age {
                Some(age) => format!(
                    "instance {} last sent a heartbeat {} ago",
                    instance.id,
                    short_duration(*age)
                ),
                None => format!("instance {} never sent a heartbeat", instance.id),
            },
            Reason::AgentTooOld {
                instance,
                version,
                cluster_version,
            } => format!(
                "instance {} runs tbot {version}, more than one major version behind the cluster's {cluster_version}",
                instance.id
            ),
            Reason::InsecureToken { token, flag } => match &flag.run_id {
                Some(run) => format!(
                    "bound-keypair token {token} is in recovery mode insecure, switched by mwictl run {run} that has not finished"
                ),
                None => format!(
                    "bound-keypair token {token} is in recovery mode insecure: its join state is not checked, so anyone holding the bot's key can recover it"
                ),
            },
        }
    }

    /// The command (or the step on the bot's host) that fixes it.
    pub fn fix(&self, bot: &str) -> String {
        match self {
            Reason::Locked { .. } => format!("mwictl unlock --bot {bot}"),
            Reason::TokenSpent {
                exhausted: None, ..
            } => format!("mwictl recover {} --bot {bot}", Flow::Expired.name()),
            Reason::TokenSpent {
                exhausted: Some(_), ..
            } => format!("mwictl recover {} --bot {bot}", Flow::BkExhausted.name()),
            Reason::NoLiveInstance { .. } => format!("mwictl recover {bot}"),
            Reason::Recoveries { left: 0, .. } => {
                format!("mwictl recover {} --bot {bot}", Flow::BkExhausted.name())
            }
            Reason::Recoveries { token, .. } => {
                format!("mwictl edit token/{token} (raise spec.bound_keypair.recovery.limit)")
            }
            Reason::MissingRoles { roles } => {
                format!(
                    "mwictl bots update {bot} --remove-roles {}",
                    roles.join(",")
                )
            }
            Reason::StaticKeyRotation { token } => {
                format!("mwictl edit token/{token} (remove spec.bound_keypair.rotate_after)")
            }
            Reason::IdentityExpiring { instance, .. } => format!(
                "on {}: check tbot is running, `pkill -USR1 tbot` renews now",
                instance.on_host()
            ),
            Reason::UnhealthyServices { instance, .. } => {
                format!("mwictl bots instances show {}", instance.id)
            }
            Reason::StaleHeartbeat { instance, .. } => format!(
                "on {}: check tbot is running, then mwictl doctor its tbot log",
                instance.on_host()
            ),
            Reason::AgentTooOld {
                instance,
                cluster_version,
                ..
            } => format!(
                "on {}: upgrade tbot to {}",
                instance.on_host(),
                major_line(cluster_version)
            ),
            Reason::InsecureToken { flag, .. } => flag.restore.clone(),
        }
    }

    /// The machine form: `kind`, `text`, `fix` and the reason's own fields.
    pub fn json(&self, bot: &str) -> serde_json::Value {
        let mut value = serde_json::json!({
            "kind": self.kind().as_str(),
            "text": self.text(),
            "fix": self.fix(bot),
        });
        let fields = match self {
            Reason::Locked { locks, .. } => serde_json::json!({
                "locks": locks.iter().map(|l| serde_json::json!({
                    "name": l.name(), "target": l.target_text(), "why": l.why(bot),
                })).collect::<Vec<_>>(),
            }),
            Reason::TokenSpent {
                instances,
                exhausted,
            } => serde_json::json!({"instances": instances, "exhausted_token": exhausted}),
            Reason::NoLiveInstance { instances, tokens } => {
                serde_json::json!({"instances": instances, "tokens": tokens})
            }
            Reason::Recoveries { token, left, limit } => {
                serde_json::json!({"token": token, "recoveries_left": left, "recovery_limit": limit})
            }
            Reason::MissingRoles { roles } => serde_json::json!({"roles": roles}),
            Reason::StaticKeyRotation { token } => serde_json::json!({"token": token}),
            Reason::InsecureToken { token, flag } => {
                serde_json::json!({"token": token, "switched_by_run": flag.run_id})
            }
            Reason::UnhealthyServices {
                instance,
                services,
                more,
            } => serde_json::json!({
                "instance": instance.id, "host": instance.host,
                "services": services.iter().map(|(service, reason)| serde_json::json!({
                    "service": service, "reason": reason,
                })).collect::<Vec<_>>(),
                "more_on_other_instances": more,
            }),
            Reason::IdentityExpiring {
                instance,
                expires_in,
            } => serde_json::json!({
                "instance": instance.id, "host": instance.host,
                "expires_in_seconds": expires_in.as_secs(),
            }),
            Reason::StaleHeartbeat { instance, age } => serde_json::json!({
                "instance": instance.id, "host": instance.host,
                "heartbeat_age_seconds": age.map(|a| a.as_secs()),
            }),
            Reason::AgentTooOld {
                instance,
                version,
                cluster_version,
            } => serde_json::json!({
                "instance": instance.id, "host": instance.host,
                "version": version, "cluster_version": cluster_version,
            }),
        };
        if let (Some(out), serde_json::Value::Object(more)) = (value.as_object_mut(), fields) {
            out.extend(more);
        }
        value
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1h5m`, `4m10s`, `12s`: to the second, largest units first.
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m"),
    }
}

/// `18.x` for `18.1.2`: the release line to upgrade to.
fn major_line(version: &str) -> String {
    match crate::client::Version::parse(version) {
        Some(v) => format!("{}.x", v.major),
        None => version.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> InstanceRef {
        InstanceRef {
            id: "example/i-1".into(),
            host: "web-1".into(),
        }
    }

    #[test]
    fn kinds_rank_locks_first_and_an_insecure_token_last() {
        let mut sorted = Kind::ALL;
        sorted.sort();
        assert_eq!(sorted, Kind::ALL);
        assert_eq!(Kind::ALL[0], Kind::Locked);
        assert_eq!(Kind::ALL[11], Kind::InsecureToken);
    }

    #[test]
    fn recoveries_left_splits_into_exhausted_and_last() {
        let r = |left| Reason::Recoveries {
            token: "t".into(),
            left,
            limit: 2,
        };
        assert_eq!(r(0).kind(), Kind::RecoveriesExhausted);
        assert_eq!(r(1).kind(), Kind::LastRecovery);
        assert_eq!(r(0).fix("b"), "mwictl recover bk-exhausted --bot b");
        assert!(r(1).fix("b").starts_with("mwictl edit token/t"));
    }

    #[test]
    fn each_reason_names_its_fix_and_its_fields_in_json() {
        let target = mwi_proto::types::LockTarget {
            user: "bot-b".into(),
            ..Default::default()
        };
        let blocks = crate::ops::unlock::Blocks {
            user: true,
            ..Default::default()
        };
        let locked = Reason::Locked {
            bot: "b".into(),
            locks: vec![LockHit::new("l1", &target, blocks)],
        };
        assert_eq!(locked.fix("b"), "mwictl unlock --bot b");
        assert_eq!(
            locked.text(),
            "locked by 1 lock: l1 on User:\"bot-b\" (targets the bot user bot-b)"
        );
        let json = locked.json("b");
        assert_eq!(json["kind"], "locked");
        assert_eq!(json["locks"][0]["name"], "l1");
        assert_eq!(json["locks"][0]["target"], "User:\"bot-b\"");
        assert_eq!(json["locks"][0]["why"], "targets the bot user bot-b");
        let spent = Reason::TokenSpent {
            instances: 1,
            exhausted: None,
        };
        assert_eq!(spent.fix("b"), "mwictl recover expired --bot b");
        let bound = Reason::TokenSpent {
            instances: 1,
            exhausted: Some("t".into()),
        };
        assert_eq!(bound.fix("b"), "mwictl recover bk-exhausted --bot b");
        assert_eq!(bound.json("b")["exhausted_token"], "t");
        let old = Reason::AgentTooOld {
            instance: instance(),
            version: "16.4.0".into(),
            cluster_version: "18.1.0".into(),
        };
        assert_eq!(old.fix("b"), "on web-1: upgrade tbot to 18.x");
        let stale = Reason::StaleHeartbeat {
            instance: InstanceRef {
                id: "b/i".into(),
                host: String::new(),
            },
            age: None,
        };
        assert!(stale.fix("b").starts_with("on its host:"));
        assert_eq!(
            stale.json("b")["heartbeat_age_seconds"],
            serde_json::Value::Null
        );
        let roles = Reason::MissingRoles {
            roles: vec!["gone".into(), "old".into()],
        };
        assert_eq!(
            roles.fix("b"),
            "mwictl bots update b --remove-roles gone,old"
        );
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_secs(12)), "12s");
        assert_eq!(short_duration(Duration::from_secs(250)), "4m10s");
        assert_eq!(short_duration(Duration::from_secs(3900)), "1h5m");
    }
}

//! Fleet triage behind `mwictl triage` and `mwictl fleet serve`: every bot ranked by what needs
//! attention, from one pass over the fleet (`ops::fleet`) folded into compact per-bot records.

mod metrics;
mod reason;
pub mod serve;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use mwi_proto::machineid::{Bot, BotInstance, BotInstanceHealthStatus};
use mwi_proto::types::ProvisionTokenV2;

use crate::client::{Client, ServerInfo, Version};
use crate::error::CommandError;
use crate::ops::bound_keypair;
use crate::ops::fleet::{self, Fold};
use crate::ops::instances::{identity_expires, latest_authentication, latest_heartbeat};
use crate::recover::insecure::{Switched, flag};

pub use crate::ops::fleet::LockHit;
pub use metrics::{RefreshState, render as render_metrics, render_refresh};
pub use reason::{InstanceRef, Kind, Reason, short_duration};

/// What triage holds a bot's identity and heartbeats against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// tbot's renewal interval (its default is 20 min): an identity that expires sooner than
    /// this has missed its renewals.
    pub renewal_interval: Duration,
    /// A live instance whose newest heartbeat is older than this is stale.
    pub stale_after: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            renewal_interval: Duration::from_secs(20 * 60),
            stale_after: Duration::from_secs(60 * 60),
        }
    }
}

/// One bot's triage: what needs attention (most urgent first) and the figures metrics report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotReport {
    pub bot: String,
    pub reasons: Vec<Reason>,
    /// In-force locks that block it.
    pub locks: u32,
    pub instances: u32,
    pub live_instances: u32,
    /// The fewest recoveries left on its bound-keypair tokens in mode standard (none without one).
    pub recoveries_remaining: Option<u32>,
    /// When the first of its live identities expires.
    pub identity_expires: Option<SystemTime>,
    /// The oldest of its live instances' newest heartbeats.
    pub heartbeat_at: Option<SystemTime>,
    /// Services and outputs its live instances' latest heartbeats reported unhealthy.
    pub unhealthy_services: u32,
}

impl BotReport {
    /// The most urgent kind of reason, `None` when the bot is fine.
    pub fn worst(&self) -> Option<Kind> {
        self.reasons.iter().map(Reason::kind).min()
    }
}

/// The fleet's triage at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub cluster: String,
    pub server_version: String,
    pub checked_at: SystemTime,
    /// Every bot, those needing attention first (most urgent, then most reasons, then by name).
    pub bots: Vec<BotReport>,
    /// RPCs this triage sent: a handful per listing page, never one per bot.
    pub rpcs: usize,
}

impl Triage {
    /// The bots that need attention.
    pub fn needing_attention(&self) -> impl Iterator<Item = &BotReport> {
        self.bots.iter().filter(|b| !b.reasons.is_empty())
    }

    /// How many bots have a reason of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.bots
            .iter()
            .filter(|b| b.reasons.iter().any(|r| r.kind() == kind))
            .count()
    }
}

/// What triage keeps of a bot while the listings stream by.
#[derive(Default)]
struct Acc {
    name: String,
    roles: Vec<String>,
    locks: Vec<LockHit>,
    instances: u32,
    live: u32,
    usable_tokens: u32,
    recoveries: Option<(u32, u32, String)>,
    token_reasons: Vec<Reason>,
    soonest_expiry: Option<(SystemTime, InstanceRef)>,
    /// The live instance with the oldest newest heartbeat (or join, without one).
    stalest: Option<(SystemTime, bool, InstanceRef)>,
    /// The oldest newest heartbeat of a live instance.
    oldest_beat: Option<SystemTime>,
    too_old: Option<(InstanceRef, String)>,
    /// The first live instance reporting unhealthy services, with them (`type name`, reason).
    unhealthy: Option<(InstanceRef, Vec<(String, String)>)>,
    unhealthy_total: u32,
}

/// Folds the fleet pass into triage's per-bot records.
struct TriageFold<'s> {
    now: SystemTime,
    switched: &'s HashMap<String, Switched>,
    cluster_major: Option<u64>,
}

impl Fold for TriageFold<'_> {
    type Bot = Acc;

    fn server(&mut self, server: &ServerInfo) {
        self.cluster_major = server.version.map(|v| v.major);
    }

    fn bot(&mut self, bot: Bot) -> Acc {
        Acc {
            name: crate::ops::bots::bot_name(&bot).to_owned(),
            roles: bot.spec.map(|s| s.roles).unwrap_or_default(),
            ..Default::default()
        }
    }

    fn token(&mut self, acc: &mut Acc, token: &ProvisionTokenV2, name: &str) {
        assess_token(acc, token, name, self.now, self.switched);
    }

    fn instance(&mut self, acc: &mut Acc, instance: &BotInstance, live: bool) {
        assess_instance(acc, instance, live, self.cluster_major);
    }

    fn lock(&mut self, acc: &mut Acc, hit: LockHit) {
        acc.locks.push(hit);
    }
}

/// Triage of every bot, at `now`. `switched` names the tokens unfinished `mwictl recover` runs
/// left in mode insecure (`recover::insecure::switched`).
pub async fn triage(
    client: &Client,
    now: SystemTime,
    limits: Limits,
    switched: &HashMap<String, Switched>,
) -> Result<Triage, CommandError> {
    let mut fold = TriageFold {
        now,
        switched,
        cluster_major: None,
    };
    let fleet = fleet::read(client, now, &mut fold).await?;
    let cluster_version = fleet.server.server_version.clone();
    let mut reports: Vec<BotReport> = fleet
        .bots
        .into_iter()
        .map(|(_, acc)| report(acc, &fleet.roles, &cluster_version, now, limits))
        .collect();
    reports.sort_by(|a, b| rank(a).cmp(&rank(b)));
    Ok(Triage {
        cluster: fleet.server.cluster_name,
        server_version: cluster_version,
        checked_at: now,
        bots: reports,
        rpcs: fleet.rpcs,
    })
}

/// Bots needing attention first: the most urgent kind, then the most reasons, then by name.
fn rank(r: &BotReport) -> (bool, Option<Kind>, std::cmp::Reverse<usize>, &str) {
    (
        r.reasons.is_empty(),
        r.worst(),
        std::cmp::Reverse(r.reasons.len()),
        &r.bot,
    )
}

fn assess_token(
    acc: &mut Acc,
    token: &ProvisionTokenV2,
    name: &str,
    now: SystemTime,
    switched: &HashMap<String, Switched>,
) {
    let unexpired = token
        .metadata
        .as_ref()
        .and_then(|m| m.expires)
        .is_none_or(|e| SystemTime::try_from(e).is_ok_and(|e| e > now));
    let Some(state) = bound_keypair::state(token) else {
        acc.usable_tokens += u32::from(unexpired);
        return;
    };
    if let Some(left) = state.recoveries_left {
        // A bound-keypair token with no recovery left cannot bring the bot back.
        acc.usable_tokens += u32::from(left > 0);
        if acc.recoveries.as_ref().is_none_or(|(l, _, _)| left < *l) {
            acc.recoveries = Some((left, state.recovery_limit, name.to_owned()));
        }
    } else {
        acc.usable_tokens += 1;
    }
    if state.recovery_mode == "insecure" {
        // tbot's static keys need mode insecure and a preregistered key, and cannot rotate
        // (its StaticClientState refuses `rotate_after`; static-keys guide).
        if state.rotation_pending && state.initial_key_fingerprint.is_some() {
            acc.token_reasons.push(Reason::StaticKeyRotation {
                token: name.to_owned(),
            });
        } else if state.initial_key_fingerprint.is_none()
            && let Some(flag) = flag(name, &state.recovery_mode, switched)
        {
            acc.token_reasons.push(Reason::InsecureToken {
                token: name.to_owned(),
                flag,
            });
        }
    }
}

fn assess_instance(acc: &mut Acc, instance: &BotInstance, live: bool, cluster_major: Option<u64>) {
    acc.instances += 1;
    if !live {
        return;
    }
    acc.live += 1;
    let spec = instance.spec.as_ref();
    let heartbeat = latest_heartbeat(instance);
    let reference = || InstanceRef {
        id: format!(
            "{}/{}",
            spec.map_or("", |s| s.bot_name.as_str()),
            spec.map_or("", |s| s.instance_id.as_str())
        ),
        host: heartbeat.map(|h| h.hostname.clone()).unwrap_or_default(),
    };
    if let Some(expires) = identity_expires(instance)
        && acc
            .soonest_expiry
            .as_ref()
            .is_none_or(|(t, _)| expires < *t)
    {
        acc.soonest_expiry = Some((expires, reference()));
    }
    let beat_at = heartbeat
        .and_then(|h| h.recorded_at)
        .and_then(|t| SystemTime::try_from(t).ok());
    let seen_at = beat_at.or_else(|| {
        latest_authentication(instance)
            .and_then(|a| a.authenticated_at)
            .and_then(|t| SystemTime::try_from(t).ok())
    });
    if let Some(beat) = beat_at {
        acc.oldest_beat = Some(acc.oldest_beat.map_or(beat, |t| t.min(beat)));
    }
    if let Some(seen) = seen_at
        && acc.stalest.as_ref().is_none_or(|(t, _, _)| seen < *t)
    {
        acc.stalest = Some((seen, beat_at.is_some(), reference()));
    }
    let unhealthy: Vec<(String, String)> = instance
        .status
        .iter()
        .flat_map(|s| &s.service_health)
        .filter(|h| h.status() == BotInstanceHealthStatus::Unhealthy)
        .map(|h| {
            let id = h.service.clone().unwrap_or_default();
            let service = format!("{} {}", id.r#type, id.name).trim().to_owned();
            (service, h.reason.clone().unwrap_or_default())
        })
        .collect();
    acc.unhealthy_total += unhealthy.len() as u32;
    if !unhealthy.is_empty() && acc.unhealthy.is_none() {
        acc.unhealthy = Some((reference(), unhealthy));
    }
    if let (Some(major), Some(beat)) = (cluster_major, heartbeat)
        && acc.too_old.is_none()
        && Version::parse(&beat.version).is_some_and(|v| v.major + 1 < major)
    {
        // Teleport supports agents at most one major version behind the auth service
        // (docs: upgrading/overview, "Component compatibility").
        acc.too_old = Some((reference(), beat.version.clone()));
    }
}

fn report(
    acc: Acc,
    roles: &HashSet<String>,
    cluster_version: &str,
    now: SystemTime,
    limits: Limits,
) -> BotReport {
    let mut reasons = Vec::new();
    let locks = acc.locks.len() as u32;
    if !acc.locks.is_empty() {
        reasons.push(Reason::Locked {
            bot: acc.name.clone(),
            locks: acc.locks,
        });
    }
    let exhausted = acc
        .recoveries
        .as_ref()
        .filter(|(left, _, _)| *left == 0)
        .map(|(_, _, token)| token.clone());
    let locked_out = acc.live == 0 && acc.usable_tokens == 0;
    if locked_out {
        reasons.push(Reason::TokenSpent {
            instances: acc.instances,
            exhausted,
        });
    } else if acc.live == 0 {
        reasons.push(Reason::NoLiveInstance {
            instances: acc.instances,
            tokens: acc.usable_tokens,
        });
    }
    match &acc.recoveries {
        // Said by TokenSpent already, with the same fix.
        Some((0, _, _)) if locked_out => {}
        Some((left @ (0 | 1), limit, token)) => reasons.push(Reason::Recoveries {
            token: token.clone(),
            left: *left,
            limit: *limit,
        }),
        _ => {}
    }
    let missing: Vec<String> = acc
        .roles
        .iter()
        .filter(|r| !roles.contains(*r))
        .cloned()
        .collect();
    if !missing.is_empty() {
        reasons.push(Reason::MissingRoles { roles: missing });
    }
    if let Some((expires, instance)) = &acc.soonest_expiry {
        let left = expires.duration_since(now).unwrap_or_default();
        if left < limits.renewal_interval {
            reasons.push(Reason::IdentityExpiring {
                instance: instance.clone(),
                expires_in: left,
            });
        }
    }
    if let Some((instance, services)) = &acc.unhealthy {
        reasons.push(Reason::UnhealthyServices {
            instance: instance.clone(),
            more: acc.unhealthy_total - services.len() as u32,
            services: services.clone(),
        });
    }
    if let Some((seen, had_beat, instance)) = &acc.stalest {
        let age = now.duration_since(*seen).unwrap_or_default();
        if age > limits.stale_after {
            reasons.push(Reason::StaleHeartbeat {
                instance: instance.clone(),
                age: had_beat.then_some(age),
            });
        }
    }
    if let Some((instance, version)) = &acc.too_old {
        reasons.push(Reason::AgentTooOld {
            instance: instance.clone(),
            version: version.clone(),
            cluster_version: cluster_version.to_owned(),
        });
    }
    reasons.extend(acc.token_reasons.iter().cloned());
    reasons.sort_by_key(Reason::kind);
    BotReport {
        reasons,
        locks,
        instances: acc.instances,
        live_instances: acc.live,
        recoveries_remaining: acc.recoveries.as_ref().map(|r| r.0),
        identity_expires: acc.soonest_expiry.map(|e| e.0),
        heartbeat_at: acc.oldest_beat,
        unhealthy_services: acc.unhealthy_total,
        bot: acc.name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::instances::is_live;
    use mwi_proto::machineid::{
        BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
        BotInstanceStatusHeartbeat,
    };
    use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;

    const NOW: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// A live instance whose identity expires `expires_in` from now, with a heartbeat of
    /// `version` sent `beat_age` ago (none when `None`).
    fn instance(expires_in: u64, beat_age: Option<u64>, version: &str) -> BotInstance {
        // The record outlives the certificate by Teleport's 5 min margin.
        let record = at(NOW + expires_in + 300);
        let beat = beat_age.map(|age| BotInstanceStatusHeartbeat {
            recorded_at: Some(at(NOW - age).into()),
            version: version.into(),
            hostname: "web-1".into(),
            ..Default::default()
        });
        BotInstance {
            metadata: Some(HeaderMetadata {
                expires: Some(record.into()),
                ..Default::default()
            }),
            spec: Some(BotInstanceSpec {
                bot_name: "b".into(),
                instance_id: "i-1".into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(BotInstanceStatusAuthentication {
                    authenticated_at: Some(at(NOW - 7200).into()),
                    ..Default::default()
                }),
                latest_heartbeats: beat.into_iter().collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn assess(instances: &[BotInstance], cluster_major: u64) -> BotReport {
        let mut acc = Acc {
            name: "b".into(),
            usable_tokens: 0,
            ..Default::default()
        };
        for i in instances {
            assess_instance(&mut acc, i, is_live(i, at(NOW)), Some(cluster_major));
        }
        report(acc, &HashSet::new(), "18.1.0", at(NOW), Limits::default())
    }

    fn kinds(r: &BotReport) -> Vec<Kind> {
        r.reasons.iter().map(Reason::kind).collect()
    }

    #[test]
    fn a_renewing_instance_with_a_fresh_heartbeat_needs_nothing() {
        let r = assess(&[instance(3000, Some(60), "18.1.0")], 18);
        assert_eq!(kinds(&r), []);
        assert_eq!(r.live_instances, 1);
        assert_eq!(r.identity_expires, Some(at(NOW + 3000)));
        assert_eq!(r.heartbeat_at, Some(at(NOW - 60)));
    }

    #[test]
    fn an_identity_within_one_renewal_interval_of_expiry_is_not_renewing() {
        let r = assess(&[instance(600, Some(60), "18.1.0")], 18);
        assert_eq!(kinds(&r), [Kind::IdentityExpiring]);
        assert!(r.reasons[0].text().contains("expires in 10m0s"));
        assert_eq!(
            r.reasons[0].fix("b"),
            "on web-1: check tbot is running, `pkill -USR1 tbot` renews now"
        );
    }

    #[test]
    fn an_old_heartbeat_or_none_at_all_is_stale() {
        let r = assess(&[instance(3000, Some(7200), "18.1.0")], 18);
        assert_eq!(kinds(&r), [Kind::StaleHeartbeat]);
        assert!(
            r.reasons[0].text().contains("2h0m ago"),
            "{}",
            r.reasons[0].text()
        );
        let r = assess(&[instance(3000, None, "")], 18);
        assert_eq!(kinds(&r), [Kind::StaleHeartbeat]);
        assert!(r.reasons[0].text().contains("never sent"));
        assert_eq!(r.heartbeat_at, None);
    }

    #[test]
    fn agents_more_than_one_major_behind_the_cluster_are_too_old() {
        assert_eq!(
            kinds(&assess(&[instance(3000, Some(60), "17.9.9")], 18)),
            []
        );
        let r = assess(&[instance(3000, Some(60), "16.4.2")], 18);
        assert_eq!(kinds(&r), [Kind::AgentTooOld]);
        assert!(r.reasons[0].text().contains("tbot 16.4.2"));
    }

    #[test]
    fn an_expired_instance_without_a_token_is_locked_out() {
        let r = assess(&[instance(0, Some(60), "18.1.0")], 18);
        assert_eq!(r.live_instances, 0);
        assert_eq!(kinds(&r), [Kind::TokenSpent]);
        assert_eq!(r.reasons[0].fix("b"), "mwictl recover expired --bot b");
    }

    fn bound(limit: u32, used: u32, mode: &str, key: bool, rotate: bool) -> ProvisionTokenV2 {
        let onboarding = bound_keypair::Onboarding {
            initial_public_key: key.then(|| {
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsqVA9xfvZBF+SY1+fE/bs+O7A7n6iSE3Z2l+Lud9Jy"
                    .to_owned()
            }),
            must_register_before: None,
            recovery_mode: mode.into(),
            recovery_limit: limit,
        };
        let mut t = bound_keypair::token("t", "b", &onboarding);
        t.status
            .get_or_insert_with(Default::default)
            .bound_keypair
            .get_or_insert_with(Default::default)
            .recovery_count = used;
        if rotate {
            let bk = t.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
            bk.rotate_after = Some(at(NOW).into());
        }
        t
    }

    fn assess_tokens(tokens: &[ProvisionTokenV2], live: bool) -> BotReport {
        let mut acc = Acc {
            name: "b".into(),
            ..Default::default()
        };
        for t in tokens {
            assess_token(&mut acc, t, "t", at(NOW), &HashMap::new());
        }
        if live {
            assess_instance(
                &mut acc,
                &instance(3000, Some(60), "18.1.0"),
                true,
                Some(18),
            );
        }
        report(acc, &HashSet::new(), "18.1.0", at(NOW), Limits::default())
    }

    #[test]
    fn bound_keypair_headroom_of_zero_or_one_is_reported_in_mode_standard_only() {
        let r = assess_tokens(&[bound(2, 2, "standard", false, false)], true);
        assert_eq!(kinds(&r), [Kind::RecoveriesExhausted]);
        assert_eq!(r.recoveries_remaining, Some(0));
        let r = assess_tokens(&[bound(2, 1, "standard", false, false)], true);
        assert_eq!(kinds(&r), [Kind::LastRecovery]);
        assert_eq!(
            kinds(&assess_tokens(
                &[bound(5, 1, "standard", false, false)],
                true
            )),
            []
        );
        let r = assess_tokens(&[bound(1, 9, "relaxed", false, false)], true);
        assert_eq!((kinds(&r), r.recoveries_remaining), (vec![], None));
    }

    #[test]
    fn an_exhausted_token_without_a_live_instance_is_one_reason_with_the_bound_keypair_fix() {
        let r = assess_tokens(&[bound(1, 1, "standard", false, false)], false);
        assert_eq!(kinds(&r), [Kind::TokenSpent]);
        assert_eq!(r.reasons[0].fix("b"), "mwictl recover bk-exhausted --bot b");
    }

    #[test]
    fn insecure_mode_is_flagged_unless_the_key_is_static_where_only_a_rotation_is() {
        let r = assess_tokens(&[bound(1, 0, "insecure", false, false)], true);
        assert_eq!(kinds(&r), [Kind::InsecureToken]);
        assert_eq!(
            kinds(&assess_tokens(
                &[bound(1, 0, "insecure", true, false)],
                true
            )),
            []
        );
        let r = assess_tokens(&[bound(1, 0, "insecure", true, true)], true);
        assert_eq!(kinds(&r), [Kind::StaticKeyRotation]);
    }

    #[test]
    fn bots_needing_attention_rank_by_their_most_urgent_reason_then_by_count() {
        let bot = |name: &str, reasons: Vec<Reason>| BotReport {
            bot: name.into(),
            reasons,
            locks: 0,
            instances: 0,
            live_instances: 0,
            recoveries_remaining: None,
            identity_expires: None,
            heartbeat_at: None,
            unhealthy_services: 0,
        };
        let insecure = || Reason::InsecureToken {
            token: "t".into(),
            flag: flag("t", "insecure", &HashMap::new()).unwrap(),
        };
        let roles = || Reason::MissingRoles {
            roles: vec!["r".into()],
        };
        let mut all = [
            bot("a-fine", vec![]),
            bot("b-insecure", vec![insecure()]),
            bot("c-roles", vec![roles()]),
            bot("d-roles-and-insecure", vec![roles(), insecure()]),
        ];
        all.sort_by(|a, b| rank(a).cmp(&rank(b)));
        let names: Vec<&str> = all.iter().map(|b| b.bot.as_str()).collect();
        assert_eq!(
            names,
            ["d-roles-and-insecure", "c-roles", "b-insecure", "a-fine"]
        );
    }

    #[test]
    fn an_insecure_token_names_the_recover_run_that_switched_it_and_its_restore() {
        let mut acc = Acc {
            name: "b".into(),
            ..Default::default()
        };
        let switched = HashMap::from([(
            "t".to_owned(),
            Switched {
                run_id: "run-7".into(),
                previous: "standard".into(),
            },
        )]);
        assess_token(
            &mut acc,
            &bound(1, 0, "insecure", false, false),
            "t",
            at(NOW),
            &switched,
        );
        let r = report(acc, &HashSet::new(), "18.1.0", at(NOW), Limits::default());
        let reason = r
            .reasons
            .iter()
            .find(|r| r.kind() == Kind::InsecureToken)
            .unwrap();
        assert!(
            reason.text().contains("switched by mwictl run run-7"),
            "{}",
            reason.text()
        );
        assert_eq!(reason.fix("b"), "mwictl tokens mode t standard");
        assert_eq!(reason.json("b")["switched_by_run"], "run-7");
    }

    #[test]
    fn unhealthy_services_of_live_instances_are_counted_and_the_first_is_named() {
        use mwi_proto::machineid::{BotInstanceServiceHealth, BotInstanceServiceIdentifier};
        let sick = |name: &str| BotInstanceServiceHealth {
            service: Some(BotInstanceServiceIdentifier {
                r#type: "identity".into(),
                name: name.into(),
            }),
            status: BotInstanceHealthStatus::Unhealthy.into(),
            reason: Some("permission denied".into()),
            ..Default::default()
        };
        let mut first = instance(3000, Some(60), "18.1.0");
        first.status.as_mut().unwrap().service_health = vec![sick("out-1")];
        let mut second = instance(3000, Some(60), "18.1.0");
        second.status.as_mut().unwrap().service_health = vec![sick("out-2")];
        let r = assess(&[first, second], 18);
        assert_eq!(kinds(&r), [Kind::UnhealthyServices]);
        assert_eq!(r.unhealthy_services, 2);
        assert_eq!(
            r.reasons[0].text(),
            "instance b/i-1 reports unhealthy: identity out-1 (permission denied); 1 more on other instances"
        );
        assert_eq!(r.reasons[0].fix("b"), "mwictl bots instances show b/i-1");
    }
}

//! The in-memory view of locks and roles, kept in step with the store's commits. Every RPC
//! consults it (lock enforcement, RBAC), so it must not cost a database read per call.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use mwi_proto::types::{LockTarget, LockV2, RoleV6, Rule};
use prost::Message;

use crate::error::ApiError;
use crate::store::{Change, Kind, Row};

/// Go's zero `time.Time` as a Timestamp: gogo writes it for an unset non-nullable time.
const GO_ZERO_SECONDS: i64 = -62_135_596_800;

/// Unix milliseconds of a timestamp; `None` when unset (absent or Go's zero time).
pub(crate) fn timestamp_ms(ts: Option<&prost_types::Timestamp>) -> Option<i64> {
    let ts = ts?;
    if ts.seconds <= GO_ZERO_SECONDS || (ts.seconds == 0 && ts.nanos == 0) {
        return None;
    }
    Some(
        ts.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(ts.nanos / 1_000_000)),
    )
}

/// The attributes a lock can target, with the names Teleport prints them under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Target {
    User,
    Role,
    Login,
    Node,
    MfaDevice,
    WindowsDesktop,
    AccessRequest,
    Device,
    ServerId,
    BotInstanceId,
    JoinToken,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::User => "User",
            Target::Role => "Role",
            Target::Login => "Login",
            Target::Node => "Node",
            Target::MfaDevice => "MFADevice",
            Target::WindowsDesktop => "WindowsDesktop",
            Target::AccessRequest => "AccessRequest",
            Target::Device => "Device",
            Target::ServerId => "ServerID",
            Target::BotInstanceId => "BotInstanceID",
            Target::JoinToken => "JoinToken",
        }
    }
}

/// The set attributes of a lock target, in field order.
pub(crate) fn target_fields(t: &LockTarget) -> Vec<(Target, &str)> {
    [
        (Target::User, t.user.as_str()),
        (Target::Role, t.role.as_str()),
        (Target::Login, t.login.as_str()),
        (Target::Node, t.node.as_str()),
        (Target::MfaDevice, t.mfa_device.as_str()),
        (Target::WindowsDesktop, t.windows_desktop.as_str()),
        (Target::AccessRequest, t.access_request.as_str()),
        (Target::Device, t.device.as_str()),
        (Target::ServerId, t.server_id.as_str()),
        (Target::BotInstanceId, t.bot_instance_id.as_str()),
        (Target::JoinToken, t.join_token.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect()
}

/// A target in gogo's compact text form, e.g. `User:"bot-example"` (Teleport's lock messages).
pub(crate) fn render_target(t: &LockTarget) -> String {
    target_fields(t)
        .iter()
        .map(|(f, v)| format!("{}:{v:?}", f.label()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `filter` (a GetLocks target) selects `lock`: every attribute the filter sets must
/// equal the lock's (Teleport's LockTarget.Match). An empty filter selects nothing.
pub(crate) fn filter_matches(filter: &LockTarget, lock: &LockTarget) -> bool {
    let set = target_fields(filter);
    let of_lock = target_fields(lock);
    !set.is_empty()
        && set
            .iter()
            .all(|(f, v)| of_lock.iter().any(|(lf, lv)| lf == f && lv == v))
}

#[derive(Debug, Clone)]
struct LockEntry {
    row: Row,
    target: LockTarget,
    message: String,
    /// Spec.Expires: the lock stops being in force after this (Unix ms).
    until: Option<i64>,
}

impl LockEntry {
    fn live(&self, now: i64) -> bool {
        self.row.expires.is_none_or(|e| e > now)
    }

    fn in_force(&self, now: i64) -> bool {
        self.live(now) && self.until.is_none_or(|u| u > now)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RoleEntry {
    pub row: Row,
    pub role: Arc<RoleV6>,
}

#[derive(Default)]
struct State {
    locks: BTreeMap<String, LockEntry>,
    /// Lock names by what they target, so a caller's check is a few map lookups.
    by_target: HashMap<Target, HashMap<String, BTreeSet<String>>>,
    roles: BTreeMap<String, RoleEntry>,
}

impl State {
    fn put_lock(&mut self, row: Row) {
        self.remove_lock(&row.name);
        let Ok(lock) = LockV2::decode(row.value.as_ref()) else {
            return;
        };
        let spec = lock.spec.unwrap_or_default();
        let target = spec.target.unwrap_or_default();
        for (field, value) in target_fields(&target) {
            self.by_target
                .entry(field)
                .or_default()
                .entry(value.to_string())
                .or_default()
                .insert(row.name.clone());
        }
        let entry = LockEntry {
            until: timestamp_ms(spec.expires.as_ref()),
            message: spec.message,
            target,
            row,
        };
        self.locks.insert(entry.row.name.clone(), entry);
    }

    fn remove_lock(&mut self, name: &str) {
        let Some(old) = self.locks.remove(name) else {
            return;
        };
        for (field, value) in target_fields(&old.target) {
            let Some(values) = self.by_target.get_mut(&field) else {
                continue;
            };
            if let Some(names) = values.get_mut(value) {
                names.remove(name);
                if names.is_empty() {
                    values.remove(value);
                }
            }
        }
    }

    fn put_role(&mut self, row: Row) {
        let Ok(role) = RoleV6::decode(row.value.as_ref()) else {
            self.roles.remove(&row.name);
            return;
        };
        self.roles.insert(
            row.name.clone(),
            RoleEntry {
                row,
                role: Arc::new(role),
            },
        );
    }
}

/// Locks and roles in memory.
#[derive(Default)]
pub(crate) struct Policy {
    state: RwLock<State>,
}

impl Policy {
    /// Applies committed store changes (the store's observer).
    pub(crate) fn apply(&self, changes: &[Change]) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        for change in changes {
            match change {
                Change::Reset => *state = State::default(),
                Change::Put(Kind::Lock, row) => state.put_lock(row.clone()),
                Change::Delete(Kind::Lock, name) => state.remove_lock(name),
                Change::Put(Kind::Role, row) => state.put_role(row.clone()),
                Change::Delete(Kind::Role, name) => {
                    state.roles.remove(name);
                }
                _ => {}
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A writer that panicked mid-update leaves a state no worse than before it started.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The first in-force lock targeting any of `targets`, as Teleport's AccessDenied.
    pub(crate) fn check_locks(&self, targets: &[(Target, &str)], now: i64) -> Result<(), ApiError> {
        let state = self.read();
        for (field, value) in targets {
            let Some(names) = state.by_target.get(field).and_then(|v| v.get(*value)) else {
                continue;
            };
            for name in names {
                if let Some(lock) = state.locks.get(name).filter(|l| l.in_force(now)) {
                    let mut text =
                        format!("lock targeting {} is in force", render_target(&lock.target));
                    if !lock.message.is_empty() {
                        text.push_str(": ");
                        text.push_str(&lock.message);
                    }
                    return Err(ApiError::AccessDenied(text));
                }
            }
        }
        Ok(())
    }

    /// The stored bytes of a live lock.
    pub(crate) fn lock(&self, name: &str, now: i64) -> Option<Bytes> {
        let state = self.read();
        state
            .locks
            .get(name)
            .filter(|l| l.live(now))
            .map(|l| l.row.value.clone())
    }

    /// Live locks matching at least one filter (all when `filters` is empty), by name.
    pub(crate) fn locks(
        &self,
        filters: &[LockTarget],
        in_force_only: bool,
        now: i64,
    ) -> Vec<Bytes> {
        let state = self.read();
        state
            .locks
            .values()
            .filter(|l| {
                if in_force_only {
                    l.in_force(now)
                } else {
                    l.live(now)
                }
            })
            .filter(|l| filters.is_empty() || filters.iter().any(|f| filter_matches(f, &l.target)))
            .map(|l| l.row.value.clone())
            .collect()
    }

    /// A live role.
    pub(crate) fn role(&self, name: &str, now: i64) -> Option<RoleEntry> {
        let state = self.read();
        state
            .roles
            .get(name)
            .filter(|r| r.row.expires.is_none_or(|e| e > now))
            .cloned()
    }

    /// Live roles by name, from `start` (inclusive), at most `limit`, filtered by `keep`.
    pub(crate) fn roles(
        &self,
        start: &str,
        limit: usize,
        now: i64,
        keep: impl Fn(&RoleEntry) -> bool,
    ) -> Vec<RoleEntry> {
        let state = self.read();
        state
            .roles
            .range(start.to_string()..)
            .map(|(_, r)| r)
            .filter(|r| r.row.expires.is_none_or(|e| e > now))
            .filter(|r| keep(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The live roles among `names` (missing ones are skipped, as Teleport ignores them).
    pub(crate) fn role_set(&self, names: &[String], now: i64) -> Vec<Arc<RoleV6>> {
        let state = self.read();
        names
            .iter()
            .filter_map(|n| state.roles.get(n))
            .filter(|r| r.row.expires.is_none_or(|e| e > now))
            .map(|r| r.role.clone())
            .collect()
    }
}

fn rule_matches(rule: &Rule, verb: &str, resource: &str) -> bool {
    let has = |list: &[String], want: &str| list.iter().any(|x| x == want || x == "*");
    has(&rule.resources, resource) && has(&rule.verbs, verb)
}

/// Whether `roles` allow `verb` on `resource`: some allow rule matches and no deny rule does.
/// Rules with a `where` predicate are not evaluated by the lab: they never allow, and always
/// deny, so that the lab errs on the side of refusing.
pub(crate) fn rules_allow(roles: &[Arc<RoleV6>], verb: &str, resource: &str) -> bool {
    fn conditions(r: &RoleV6, allow: bool) -> &[Rule] {
        let spec = r.spec.as_ref();
        let cond = if allow {
            spec.and_then(|s| s.allow.as_ref())
        } else {
            spec.and_then(|s| s.deny.as_ref())
        };
        cond.map(|c| c.rules.as_slice()).unwrap_or_default()
    }
    let denied = roles.iter().any(|r| {
        conditions(r, false)
            .iter()
            .any(|rule| rule_matches(rule, verb, resource))
    });
    let allowed = roles.iter().any(|r| {
        conditions(r, true)
            .iter()
            .any(|rule| rule.r#where.is_empty() && rule_matches(rule, verb, resource))
    });
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{LockSpecV2, Metadata, RoleConditions, RoleSpecV6};

    fn lock_row(name: &str, target: LockTarget, message: &str, until: Option<i64>) -> Row {
        let lock = LockV2 {
            kind: "lock".into(),
            version: "v2".into(),
            metadata: Some(Metadata {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(target),
                message: message.into(),
                expires: until.map(|ms| prost_types::Timestamp {
                    seconds: ms / 1000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        Row {
            name: name.into(),
            value: lock.encode_to_vec().into(),
            revision: "r".into(),
            expires: None,
        }
    }

    fn user(u: &str) -> LockTarget {
        LockTarget {
            user: u.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_in_force_lock_refuses_with_teleports_wording() {
        let policy = Policy::default();
        policy.apply(&[Change::Put(
            Kind::Lock,
            lock_row("l1", user("bot-example"), "stolen", None),
        )]);
        let err = policy
            .check_locks(&[(Target::User, "bot-example")], 0)
            .unwrap_err();
        assert_eq!(
            err,
            ApiError::AccessDenied(
                r#"lock targeting User:"bot-example" is in force: stolen"#.into()
            )
        );
        assert!(
            policy
                .check_locks(&[(Target::User, "bot-other")], 0)
                .is_ok()
        );
    }

    #[test]
    fn an_expired_lock_no_longer_refuses_but_is_still_listed() {
        let policy = Policy::default();
        policy.apply(&[Change::Put(
            Kind::Lock,
            lock_row("l1", user("u"), "", Some(1000)),
        )]);
        assert!(policy.check_locks(&[(Target::User, "u")], 2000).is_ok());
        assert_eq!(policy.locks(&[], false, 2000).len(), 1);
        assert!(policy.locks(&[], true, 2000).is_empty());
    }

    #[test]
    fn deleting_a_lock_drops_it_from_the_target_index() {
        let policy = Policy::default();
        policy.apply(&[Change::Put(Kind::Lock, lock_row("l1", user("u"), "", None))]);
        policy.apply(&[Change::Delete(Kind::Lock, "l1".into())]);
        assert!(policy.check_locks(&[(Target::User, "u")], 0).is_ok());
        assert!(policy.lock("l1", 0).is_none());
    }

    #[test]
    fn filters_match_when_every_set_attribute_equals() {
        let lock = LockTarget {
            user: "u".into(),
            role: "r".into(),
            ..Default::default()
        };
        assert!(filter_matches(&user("u"), &lock));
        assert!(!filter_matches(&user("x"), &lock));
        assert!(!filter_matches(&LockTarget::default(), &lock));
    }

    fn role(allow: Vec<Rule>, deny: Vec<Rule>) -> Arc<RoleV6> {
        Arc::new(RoleV6 {
            spec: Some(RoleSpecV6 {
                allow: Some(RoleConditions {
                    rules: allow,
                    ..Default::default()
                }),
                deny: Some(RoleConditions {
                    rules: deny,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn rule(resources: &[&str], verbs: &[&str]) -> Rule {
        Rule {
            resources: resources.iter().map(|s| s.to_string()).collect(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards_allow_and_deny_wins() {
        let admin = role(vec![rule(&["*"], &["*"])], vec![]);
        assert!(rules_allow(std::slice::from_ref(&admin), "list", "lock"));
        let no_delete = role(vec![], vec![rule(&["lock"], &["delete"])]);
        assert!(!rules_allow(&[admin, no_delete], "delete", "lock"));
        let reader = role(vec![rule(&["lock"], &["read"])], vec![]);
        assert!(!rules_allow(&[reader], "list", "lock"));
    }
}

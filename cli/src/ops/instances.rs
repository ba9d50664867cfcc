//! Bot instances: their table rows (with lock state and service health), streamed page by page
//! so any number can be listed in flat memory, whether one still holds an identity, and one
//! instance's details.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use mwi_proto::machineid::{
    BotInstance, BotInstanceHealthStatus, BotInstanceServiceHealth,
    BotInstanceStatusAuthentication, BotInstanceStatusHeartbeat,
};
use mwi_proto::types::LockV2;

use mwi_diag::query::{Instance as QueryInstance, Query};

use crate::client::{Client, Fetched, InstanceFilter};
use crate::error::CommandError;
use crate::ops::unlock::bot_resource_name;
use crate::output::Listed;
use crate::resource::{format_go_duration, format_timestamp};

/// The table columns of `bots instances ls`: tctl 19's (tool/tctl/common/bots_command.go
/// `ListBotInstances`) plus `Locked`.
pub const HEADERS: &[&str] = &[
    "ID",
    "Join Method",
    "Version",
    "Hostname",
    "Status",
    "Last Seen",
    "Locked",
];

/// One bot instance as `bots instances ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// The bot's name.
    pub bot: String,
    /// The instance's UUID (the table shows `bot/id`).
    pub id: String,
    /// Of the latest authentication (`token`, `iam`, ...).
    pub join_method: String,
    /// Of the latest heartbeat; empty before the first one.
    pub hostname: String,
    /// The tbot version of the latest heartbeat; empty before the first one.
    pub version: String,
    /// The least healthy of its services (see [`aggregate_health`]); `None` when none reported.
    pub status: Option<BotInstanceHealthStatus>,
    /// When the instance first authenticated.
    pub joined: Option<prost_types::Timestamp>,
    /// The latest heartbeat or authentication, whichever is newer.
    pub last_seen: Option<prost_types::Timestamp>,
    /// Of the last entry of `latest_authentications`; what the next renewal must present.
    pub generation: Option<i32>,
    /// A `bot_instance_id` lock on it, or a lock on the bot's user or role, is in force.
    pub locked: bool,
}

impl InstanceRow {
    /// `bot/uuid`, as references and tctl name an instance.
    pub fn full_id(&self) -> String {
        format!("{}/{}", self.bot, self.id)
    }
}

/// The row of `instance`. `locked_ids` is what [`locked_ids`] returns: instance IDs under a
/// `bot_instance_id` lock, and user names (`bot-NAME`) of bots under a user or role lock.
pub fn instance_row(i: &BotInstance, locked_ids: &HashSet<String>) -> InstanceRow {
    let spec = i.spec.clone().unwrap_or_default();
    let status = i.status.clone().unwrap_or_default();
    let latest_auth = latest_authentication(i);
    let heartbeat = latest_heartbeat(i);
    let joined = status
        .initial_authentication
        .as_ref()
        .and_then(|a| a.authenticated_at);
    let last_seen = [
        heartbeat.and_then(|h| h.recorded_at),
        latest_auth.and_then(|a| a.authenticated_at),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|t| (t.seconds, t.nanos));
    let locked = locked_ids.contains(&spec.instance_id)
        || locked_ids.contains(&bot_resource_name(&spec.bot_name));
    InstanceRow {
        join_method: latest_auth
            .map(|a| a.join_method.clone())
            .unwrap_or_default(),
        hostname: heartbeat.map(|h| h.hostname.clone()).unwrap_or_default(),
        version: heartbeat.map(|h| h.version.clone()).unwrap_or_default(),
        status: aggregate_health(&status.service_health),
        joined,
        last_seen,
        generation: status.latest_authentications.last().map(|a| a.generation),
        locked,
        bot: spec.bot_name,
        id: spec.instance_id,
    }
}

/// The least healthy status among `services`, in tctl's order (unhealthy, unknown,
/// initializing, healthy; tool/tctl/common/bots_command.go `aggregateServiceHealth`); `None`
/// when no service reported.
pub fn aggregate_health(services: &[BotInstanceServiceHealth]) -> Option<BotInstanceHealthStatus> {
    use BotInstanceHealthStatus::{Healthy, Initializing, Unhealthy, Unspecified};
    let rank = |s: BotInstanceHealthStatus| match s {
        Unhealthy => 0,
        Unspecified => 1,
        Initializing => 2,
        Healthy => 3,
    };
    services.iter().map(|s| s.status()).min_by_key(|s| rank(*s))
}

/// A health status as tctl prints it (`Healthy`, `Unhealthy`, `Initializing`, `Unknown`).
pub fn health_text(status: BotInstanceHealthStatus) -> &'static str {
    match status {
        BotInstanceHealthStatus::Healthy => "Healthy",
        BotInstanceHealthStatus::Unhealthy => "Unhealthy",
        BotInstanceHealthStatus::Initializing => "Initializing",
        BotInstanceHealthStatus::Unspecified => "Unknown",
    }
}

/// The JSON name of a health status (`healthy`, `unhealthy`, `initializing`, `unknown`).
pub fn health_json(status: BotInstanceHealthStatus) -> &'static str {
    match status {
        BotInstanceHealthStatus::Healthy => "healthy",
        BotInstanceHealthStatus::Unhealthy => "unhealthy",
        BotInstanceHealthStatus::Initializing => "initializing",
        BotInstanceHealthStatus::Unspecified => "unknown",
    }
}

/// The newest authentication: the last of `latest_authentications`, else the initial one.
pub fn latest_authentication(i: &BotInstance) -> Option<&BotInstanceStatusAuthentication> {
    let status = i.status.as_ref()?;
    status
        .latest_authentications
        .last()
        .or(status.initial_authentication.as_ref())
}

/// The newest heartbeat: the last of `latest_heartbeats`, else the initial one.
pub fn latest_heartbeat(i: &BotInstance) -> Option<&BotInstanceStatusHeartbeat> {
    let status = i.status.as_ref()?;
    status
        .latest_heartbeats
        .last()
        .or(status.initial_heartbeat.as_ref())
}

/// Whether the instance still holds a usable identity: its certificate has not expired (see
/// [`identity_expires`]), or, when a server sets no expiry, it was seen within the longest
/// certificate TTL. The one definition of "live" for `bots ls`, `bots show`, recover and doctor.
pub fn is_live(i: &BotInstance, now: SystemTime) -> bool {
    if i.metadata.as_ref().is_some_and(|m| m.expires.is_some()) {
        return identity_expires(i).is_some_and(|expires| expires > now);
    }
    let now = prost_types::Timestamp::from(now);
    let row = instance_row(i, &HashSet::new());
    row.last_seen.is_some_and(|seen| {
        let until = (
            seen.seconds
                .saturating_add(LIVE_WITHOUT_EXPIRY.as_secs() as i64),
            seen.nanos,
        );
        until > (now.seconds, now.nanos)
    })
}

/// Teleport keeps an instance record this long past its certificate's expiry.
const RECORD_MARGIN: Duration = Duration::from_secs(5 * 60);

/// When the instance's certificate expires: its record's `metadata.expires` (which the server
/// sets to the certificate's expiry plus [`RECORD_MARGIN`] at every authentication) less the
/// margin.
pub fn identity_expires(i: &BotInstance) -> Option<SystemTime> {
    let record = i.metadata.as_ref()?.expires?;
    SystemTime::try_from(record)
        .ok()?
        .checked_sub(RECORD_MARGIN)
}

/// How long after its last sighting an instance without an expiry counts as live: Teleport's
/// longest renewable certificate (24h) would be too generous, so the default TTL (1h) plus the
/// 5 min margin Teleport adds to instance records.
const LIVE_WITHOUT_EXPIRY: Duration = Duration::from_secs(65 * 60);

/// The IDs [`instance_row`] checks, from locks: every in-force `bot_instance_id` target, and the
/// user or role of every in-force lock on a bot (`bot-NAME`).
pub fn locked_ids_of(locks: &[Fetched<LockV2>]) -> HashSet<String> {
    let mut ids = HashSet::new();
    for lock in locks {
        add_locked_ids(&mut ids, &lock.value);
    }
    ids
}

fn add_locked_ids(ids: &mut HashSet<String>, lock: &LockV2) {
    let Some(target) = lock.spec.as_ref().and_then(|s| s.target.as_ref()) else {
        return;
    };
    if !target.bot_instance_id.is_empty() {
        ids.insert(target.bot_instance_id.clone());
    }
    for name in [&target.user, &target.role] {
        if name.starts_with(mwi_identity::BOT_PREFIX) {
            ids.insert(name.clone());
        }
    }
}

/// Reads the in-force locks once (one `GetLocks`, each lock dropped as soon as its IDs are
/// taken), so a listing of any length checks each instance against a set instead of asking the
/// server per instance.
pub async fn locked_ids(client: &Client) -> Result<HashSet<String>, CommandError> {
    let mut ids = HashSet::new();
    client
        .for_each_lock(true, |lock| add_locked_ids(&mut ids, &lock))
        .await?;
    Ok(ids)
}

/// The sort fields `bots instances ls --sort-index` accepts: tctl's
/// (tool/tctl/common/bots_command.go), which ListBotInstancesV2 takes as `sort_field`.
pub const SORT_INDEXES: &[&str] = &[
    "bot_name",
    "active_at_latest",
    "version_latest",
    "host_name_latest",
];

/// Which instances a listing shows and in which order, checked before any RPC: the query is
/// parsed here (a syntax error names its position) and applied here too when the server is too
/// old to (it then gets the bot and the search term only).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: InstanceFilter,
    pub query: Option<Query>,
}

impl Selection {
    /// `bot`, `search`, `query` as typed, `sort_index` one of [`SORT_INDEXES`].
    pub fn new(
        bot: Option<&str>,
        search: Option<&str>,
        query: Option<&str>,
        sort_index: &str,
        descending: bool,
    ) -> Result<Selection, CommandError> {
        if !SORT_INDEXES.contains(&sort_index) {
            return Err(CommandError::usage(format!(
                "unknown --sort-index {sort_index:?}; use one of: {}",
                SORT_INDEXES.join(", ")
            )));
        }
        let parsed = query
            .map(|text| {
                Query::parse(text).map_err(|e| {
                    CommandError::usage(format!("--query: parsing expression: {e}")).hint(format!(
                        "names: {}; functions: {}",
                        mwi_diag::query::field_names()
                            .collect::<Vec<_>>()
                            .join(", "),
                        mwi_diag::query::FUNCTIONS.join(", ")
                    ))
                })
            })
            .transpose()?;
        Ok(Selection {
            filter: InstanceFilter {
                bot_name: bot.unwrap_or_default().to_owned(),
                search: search.unwrap_or_default().to_owned(),
                query: query.unwrap_or_default().to_owned(),
                sort_field: sort_index.to_owned(),
                sort_desc: descending,
            },
            query: parsed,
        })
    }

    fn default_order(&self) -> bool {
        self.filter.sort_field == "bot_name" && !self.filter.sort_desc
    }
}

/// Whether `query` matches `i` (for an older server, which cannot evaluate it).
fn query_matches(query: &Query, i: &BotInstance) -> bool {
    let spec = i.spec.clone().unwrap_or_default();
    let heartbeat = latest_heartbeat(i).cloned().unwrap_or_default();
    let join_method = latest_authentication(i).map_or("", |a| a.join_method.as_str());
    query.matches(&QueryInstance {
        name: &spec.instance_id,
        bot_name: &spec.bot_name,
        instance_id: &spec.instance_id,
        hostname: &heartbeat.hostname,
        version: &heartbeat.version,
        os: &heartbeat.os,
        architecture: &heartbeat.architecture,
        one_shot: heartbeat.one_shot,
        join_method,
    })
}

/// Streams the rows of the selected instances to `page`, one server page at a time, and
/// returns how many there were. Stops early when `page` returns `false` (the reader of stdout
/// went away). An older server without ListBotInstancesV2 cannot sort: asking it for another
/// order than the default is refused rather than printed out of order.
pub async fn for_each_page(
    client: &Client,
    selection: &Selection,
    locked_ids: &HashSet<String>,
    mut page: impl FnMut(&[InstanceRow]) -> Result<bool, CommandError>,
) -> Result<usize, CommandError> {
    let mut pager = client.bot_instances_where(selection.filter.clone());
    let mut count = 0;
    while let Some(items) = pager.next_page().await? {
        let by_server = pager.filtered_by_server();
        if !by_server && !selection.default_order() {
            return Err(CommandError::failure(
                "this auth service is older than ListBotInstancesV2 and cannot sort bot instances",
            )
            .hint(
                "leave out --sort-index and --sort-order (the default is by bot name, ascending)",
            ));
        }
        let rows: Vec<InstanceRow> = items
            .iter()
            .filter(|i| {
                by_server
                    || selection
                        .query
                        .as_ref()
                        .is_none_or(|q| query_matches(q, &i.value))
            })
            .map(|i| instance_row(&i.value, locked_ids))
            .collect();
        count += rows.len();
        if !page(&rows)? {
            break;
        }
    }
    Ok(count)
}

/// Splits `NAME/UUID` into the bot and the instance ID.
pub fn parse_instance_ref(text: &str) -> Result<(&str, &str), CommandError> {
    match text.split_once('/') {
        Some((bot, id)) if !bot.is_empty() && !id.is_empty() && !id.contains('/') => Ok((bot, id)),
        _ => Err(CommandError::usage(format!(
            "{text:?} is not an instance ID; expected BOT/UUID, as `mwictl bots instances ls` prints it"
        ))),
    }
}

/// One instance, by `bot` and `id`; not found names both.
pub async fn get(client: &Client, bot: &str, id: &str) -> Result<BotInstance, CommandError> {
    match client.get_bot_instance(bot, id).await {
        Ok(instance) => Ok(instance.value),
        Err(e) if e.is_not_found() => Err(CommandError::not_found(format!(
            "bot instance \"{bot}/{id}\" not found"
        ))
        .hint(format!(
            "list the bot's instances with `mwictl bots instances ls {bot}`"
        ))),
        Err(e) => Err(e.into()),
    }
}

impl Listed for InstanceRow {
    fn row(&self) -> Vec<String> {
        vec![
            self.full_id(),
            or_na(&self.join_method),
            dash(&self.version),
            dash(&self.hostname),
            self.status.map_or("-", health_text).into(),
            time_text(self.last_seen.as_ref()),
            if self.locked { "LOCKED" } else { "no" }.into(),
        ]
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.full_id(),
            "bot": self.bot,
            "instance_id": self.id,
            "join_method": self.join_method,
            "hostname": self.hostname,
            "version": self.version,
            "status": self.status.map(health_json),
            "joined": self.joined.as_ref().map(format_timestamp),
            "last_seen": self.last_seen.as_ref().map(format_timestamp),
            "generation": self.generation,
            "locked": self.locked,
        })
    }
}

/// `-` for a heartbeat value before the first heartbeat, as tctl 19's instance list prints it.
fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.into()
    }
}

/// `n/a` for an unknown value, as tctl prints it.
pub fn or_na(text: &str) -> String {
    if text.is_empty() {
        "n/a".into()
    } else {
        text.into()
    }
}

/// A timestamp as tctl prints it, or `n/a`.
pub fn time_text(ts: Option<&prost_types::Timestamp>) -> String {
    ts.map_or_else(|| "n/a".into(), format_timestamp)
}

/// A protobuf duration as Go prints it (`1h2m3s`), or `n/a`.
pub fn duration_text(d: Option<&prost_types::Duration>) -> String {
    d.and_then(|d| Duration::try_from(*d).ok())
        .map_or_else(|| "n/a".into(), format_go_duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;
    use mwi_proto::machineid::{BotInstanceSpec, BotInstanceStatus};
    use mwi_proto::teleport::header::v1::Metadata;
    use mwi_proto::types::{LockSpecV2, LockTarget};

    fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    fn auth(generation: i32, at: i64) -> BotInstanceStatusAuthentication {
        BotInstanceStatusAuthentication {
            authenticated_at: ts(at),
            join_method: "token".into(),
            generation,
            ..Default::default()
        }
    }

    fn instance(bot: &str, id: &str, expires: Option<i64>) -> BotInstance {
        BotInstance {
            metadata: Some(Metadata {
                name: id.into(),
                expires: expires.and_then(ts),
                ..Default::default()
            }),
            spec: Some(BotInstanceSpec {
                bot_name: bot.into(),
                instance_id: id.into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(auth(1, 100)),
                latest_authentications: vec![auth(1, 100), auth(4, 500)],
                latest_heartbeats: vec![BotInstanceStatusHeartbeat {
                    recorded_at: ts(300),
                    hostname: "host-a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn lock(target: LockTarget) -> Fetched<LockV2> {
        Fetched {
            value: LockV2 {
                spec: Some(LockSpecV2 {
                    target: Some(target),
                    ..Default::default()
                }),
                ..Default::default()
            },
            raw: Default::default(),
        }
    }

    #[test]
    fn a_row_takes_the_newest_generation_and_sighting() {
        let row = instance_row(&instance("example", "u1", None), &HashSet::new());
        assert_eq!(row.full_id(), "example/u1");
        assert_eq!(row.generation, Some(4));
        assert_eq!(row.joined, ts(100));
        assert_eq!(
            row.last_seen,
            ts(500),
            "the renewal is newer than the heartbeat"
        );
        assert_eq!(row.hostname, "host-a");
        assert!(!row.locked);
    }

    #[test]
    fn an_instance_is_locked_by_its_own_lock_or_its_bots() {
        let by_instance = locked_ids_of(&[lock(LockTarget {
            bot_instance_id: "u1".into(),
            ..Default::default()
        })]);
        assert!(instance_row(&instance("example", "u1", None), &by_instance).locked);
        assert!(!instance_row(&instance("example", "u2", None), &by_instance).locked);

        let by_user = locked_ids_of(&[lock(LockTarget {
            user: "bot-example".into(),
            ..Default::default()
        })]);
        assert!(instance_row(&instance("example", "u2", None), &by_user).locked);
        assert!(!instance_row(&instance("other", "u3", None), &by_user).locked);
    }

    #[test]
    fn locks_on_people_do_not_mark_instances() {
        let ids = locked_ids_of(&[lock(LockTarget {
            user: "alice".into(),
            ..Default::default()
        })]);
        assert!(ids.is_empty());
    }

    #[test]
    fn an_instance_without_authentications_shows_na() {
        let row = instance_row(&BotInstance::default(), &HashSet::new());
        assert_eq!(row.generation, None);
        let cells = row.row();
        assert_eq!(cells[1..6], ["n/a", "-", "-", "-", "n/a"]);
        assert_eq!(cells[6], "no");
    }

    fn service(status: BotInstanceHealthStatus) -> BotInstanceServiceHealth {
        BotInstanceServiceHealth {
            status: status.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_least_healthy_service_is_the_instances_status() {
        use BotInstanceHealthStatus::{Healthy, Initializing, Unhealthy, Unspecified};
        assert_eq!(aggregate_health(&[]), None);
        let cases: &[(&[BotInstanceHealthStatus], BotInstanceHealthStatus)] = &[
            (&[Healthy], Healthy),
            (&[Healthy, Initializing], Initializing),
            (&[Initializing, Unspecified, Healthy], Unspecified),
            (&[Healthy, Unhealthy, Unspecified], Unhealthy),
        ];
        for (services, want) in cases {
            let services: Vec<_> = services.iter().map(|s| service(*s)).collect();
            assert_eq!(aggregate_health(&services), Some(*want), "{services:?}");
        }
        let mut i = instance("example", "u1", None);
        i.status.as_mut().unwrap().service_health = vec![service(Unhealthy)];
        let row = instance_row(&i, &HashSet::new());
        assert_eq!(row.row()[4], "Unhealthy");
        assert_eq!(Listed::json(&row)["status"], "unhealthy");
    }

    #[test]
    fn liveness_follows_the_record_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(is_live(&instance("b", "u", Some(2_000)), now));
        assert!(!is_live(&instance("b", "u", Some(900)), now));
    }

    #[test]
    fn an_identity_in_the_records_margin_has_expired() {
        // The record outlives the certificate by five minutes: the identity expired at 1_000.
        let record_until_1300 = instance("b", "u", Some(1_300));
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(identity_expires(&record_until_1300), Some(at(1_000)));
        assert!(is_live(&record_until_1300, at(999)));
        assert!(!is_live(&record_until_1300, at(1_000)));
        assert!(!is_live(&record_until_1300, at(1_200)));
    }

    #[test]
    fn without_expiry_a_recent_sighting_is_live() {
        let seen_at_500 = instance("b", "u", None);
        let soon = SystemTime::UNIX_EPOCH + Duration::from_secs(600);
        let much_later = SystemTime::UNIX_EPOCH + Duration::from_secs(500 + 66 * 60);
        assert!(is_live(&seen_at_500, soon));
        assert!(!is_live(&seen_at_500, much_later));
    }

    #[test]
    fn a_selection_checks_the_sort_index_and_the_query_before_any_rpc() {
        let err = Selection::new(None, None, None, "hostname", false).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        assert_eq!(
            err.render().lines().next().unwrap(),
            "error: unknown --sort-index \"hostname\"; use one of: bot_name, active_at_latest, version_latest, host_name_latest"
        );
        let err = Selection::new(
            None,
            None,
            Some(r#"older_than(version, "18.0.0""#),
            "bot_name",
            false,
        )
        .unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        let text = err.render();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "error: --query: parsing expression: 1:29: expected ')', found 'EOF'"
        );
        let selection = Selection::new(
            Some("web"),
            Some("ip-"),
            Some("true"),
            "version_latest",
            true,
        )
        .unwrap();
        assert_eq!(selection.filter.sort_field, "version_latest");
        assert!(selection.filter.sort_desc);
        assert_eq!(selection.filter.bot_name, "web");
        assert!(!selection.default_order());
    }

    #[test]
    fn the_query_applies_to_a_listed_instance() {
        let query = Query::parse(r#"hostname == "host-a" && bot_name == "example""#).unwrap();
        assert!(query_matches(&query, &instance("example", "u1", None)));
        assert!(!query_matches(&query, &instance("other", "u1", None)));
    }

    #[test]
    fn instance_refs_need_bot_and_uuid() {
        assert_eq!(parse_instance_ref("example/u1").unwrap(), ("example", "u1"));
        for bad in ["example", "/u1", "example/", "a/b/c"] {
            let err = parse_instance_ref(bad).unwrap_err();
            assert_eq!(err.status, ExitStatus::Usage, "{bad}");
        }
    }

    #[test]
    fn json_fields_are_stable() {
        let row = instance_row(&instance("example", "u1", None), &HashSet::new());
        let json = Listed::json(&row);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "bot",
                "generation",
                "hostname",
                "id",
                "instance_id",
                "join_method",
                "joined",
                "last_seen",
                "locked",
                "status",
                "version"
            ]
        );
        assert_eq!(json["id"], "example/u1");
        assert_eq!(json["status"], serde_json::Value::Null);
    }
}

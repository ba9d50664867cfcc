//! One table row per resource kind (the rows of `mwictl get`), and the one lock row every lock
//! table picks its columns from: `get`, `locks ls`, and the locks that block a bot.

use mwi_proto::machineid::{Bot, BotInstance, BotInstanceStatusAuthentication};
use mwi_proto::types::{LockV2, ProvisionTokenV2, RoleV6};
use mwi_proto::wrappers::LabelValues;

use crate::resource::{Kind, Resource, format_timestamp, lock_target_text, render_yaml};

use super::Listed;
use super::table::{Table, fitted_table, table_time};

/// The table columns of each kind.
pub fn headers(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Lock => &["ID", "Target", "Message", "Expires"],
        Kind::Role => &[
            "Role",
            "Allowed to login as",
            "Node Labels",
            "Access to resources",
        ],
        Kind::Token => &["Token", "Type", "Join Method", "Bot", "Expiry Time (UTC)"],
        Kind::Bot => &["Bot", "User", "Roles"],
        Kind::BotInstance => &[
            "ID",
            "Join Method",
            "Hostname",
            "Joined",
            "Last Seen",
            "Generation",
        ],
    }
}

impl Listed for Resource {
    fn row(&self) -> Vec<String> {
        match self {
            Resource::Lock(lock) => lock_row(lock, "", GET_LOCK_COLUMNS),
            Resource::Role(role) => role_row(role),
            Resource::Token(token) => token_row(token),
            Resource::Bot(bot) => bot_row(bot),
            Resource::BotInstance(instance) => bot_instance_row(instance),
        }
    }

    fn json(&self) -> serde_json::Value {
        self.to_value()
    }

    fn yaml(&self) -> String {
        render_yaml(std::slice::from_ref(self))
    }
}

/// A column of a lock table; each table shows the ones it needs, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockColumn {
    Id,
    Target,
    /// Why the lock blocks a bot (which of its names it targets).
    Why,
    /// The free-text column, cut short to fit the terminal.
    Message,
    /// When the server recorded it, to the second; empty when it did not.
    Created,
    /// The end, to the second, or `never`.
    Expires,
    /// The end as stored (fractions kept, like `tctl get`), or `never`.
    ExpiresExact,
}

impl LockColumn {
    pub fn header(self) -> &'static str {
        match self {
            LockColumn::Id => "ID",
            LockColumn::Target => "Target",
            LockColumn::Why => "Why",
            LockColumn::Message => "Message",
            LockColumn::Created => "Created",
            LockColumn::Expires | LockColumn::ExpiresExact => "Expires",
        }
    }
}

/// The columns of `mwictl get lock`, like `tctl get`.
const GET_LOCK_COLUMNS: &[LockColumn] = &[
    LockColumn::Id,
    LockColumn::Target,
    LockColumn::Message,
    LockColumn::ExpiresExact,
];

/// The cells of `lock` for `columns`; `why` fills the Why column.
pub fn lock_row(lock: &LockV2, why: &str, columns: &[LockColumn]) -> Vec<String> {
    let spec = lock.spec.clone().unwrap_or_default();
    columns
        .iter()
        .map(|column| match column {
            LockColumn::Id => lock
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            LockColumn::Target => spec
                .target
                .as_ref()
                .map(lock_target_text)
                .unwrap_or_default(),
            LockColumn::Why => why.to_owned(),
            LockColumn::Message => spec.message.clone(),
            LockColumn::Created => spec
                .created_at
                .as_ref()
                .filter(|t| t.seconds > 0)
                .map(table_time)
                .unwrap_or_default(),
            LockColumn::Expires => spec
                .expires
                .as_ref()
                .map_or_else(|| "never".to_owned(), table_time),
            LockColumn::ExpiresExact => spec
                .expires
                .as_ref()
                .map_or_else(|| "never".to_owned(), format_timestamp),
        })
        .collect()
}

/// A table of `locks`, each with why it is listed, under `columns`; the message is cut short
/// so that each line fits in `width`, when given.
pub fn lock_table<'a>(
    locks: impl IntoIterator<Item = (&'a LockV2, &'a str)>,
    columns: &[LockColumn],
    width: Option<usize>,
) -> Table {
    let headers: Vec<&str> = columns.iter().map(|c| c.header()).collect();
    let rows = locks
        .into_iter()
        .map(|(lock, why)| lock_row(lock, why, columns))
        .collect();
    let squeeze = columns
        .iter()
        .position(|c| *c == LockColumn::Message)
        .unwrap_or(usize::MAX);
    fitted_table(&headers, rows, squeeze, width)
}

/// A lock and why it is listed, as JSON: `{id, target, reason, message, expires}`.
pub fn lock_json(lock: &LockV2, why: &str) -> serde_json::Value {
    let spec = lock.spec.clone().unwrap_or_default();
    serde_json::json!({
        "id": lock.metadata.as_ref().map(|m| m.name.as_str()).unwrap_or_default(),
        "target": lock_target_text(&spec.target.unwrap_or_default()),
        "reason": why,
        "message": spec.message,
        "expires": spec.expires.as_ref().map(format_timestamp),
    })
}

/// `1 lock`, `2 locks`.
pub fn lock_count(n: usize) -> String {
    if n == 1 {
        "1 lock".to_owned()
    } else {
        format!("{n} locks")
    }
}

fn role_row(role: &RoleV6) -> Vec<String> {
    let allow = role
        .spec
        .as_ref()
        .and_then(|s| s.allow.clone())
        .unwrap_or_default();
    let rules: Vec<String> = allow
        .rules
        .iter()
        .map(|r| format!("{}:{}", r.resources.join(","), r.verbs.join(",")))
        .collect();
    vec![
        role.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        allow.logins.join(","),
        allow
            .node_labels
            .as_ref()
            .map(labels_text)
            .unwrap_or_default(),
        rules.join(" "),
    ]
}

fn labels_text(labels: &LabelValues) -> String {
    labels
        .values
        .iter()
        .map(|(k, v)| format!("{k}={}", v.values.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn token_row(token: &ProvisionTokenV2) -> Vec<String> {
    let spec = token.spec.clone().unwrap_or_default();
    let meta = token.metadata.clone().unwrap_or_default();
    vec![
        meta.name,
        spec.roles.join(","),
        spec.join_method,
        spec.bot_name,
        meta.expires
            .as_ref()
            .map_or_else(|| "never".into(), format_timestamp),
    ]
}

fn bot_row(bot: &Bot) -> Vec<String> {
    let status = bot.status.clone().unwrap_or_default();
    vec![
        bot.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        status.user_name,
        bot.spec
            .as_ref()
            .map(|s| s.roles.join(","))
            .unwrap_or_default(),
    ]
}

fn bot_instance_row(instance: &BotInstance) -> Vec<String> {
    let spec = instance.spec.clone().unwrap_or_default();
    let status = instance.status.clone().unwrap_or_default();
    let latest_auth: Option<&BotInstanceStatusAuthentication> = status
        .latest_authentications
        .last()
        .or(status.initial_authentication.as_ref());
    let heartbeat = status
        .latest_heartbeats
        .last()
        .or(status.initial_heartbeat.as_ref());
    let time = |ts: Option<&prost_types::Timestamp>| {
        ts.map(format_timestamp).unwrap_or_else(|| "n/a".into())
    };
    let last_seen = heartbeat
        .and_then(|h| h.recorded_at.as_ref())
        .or(latest_auth.and_then(|a| a.authenticated_at.as_ref()));
    vec![
        format!("{}/{}", spec.bot_name, spec.instance_id),
        latest_auth
            .map(|a| a.join_method.clone())
            .unwrap_or_default(),
        heartbeat.map(|h| h.hostname.clone()).unwrap_or_default(),
        time(
            status
                .initial_authentication
                .as_ref()
                .and_then(|a| a.authenticated_at.as_ref()),
        ),
        time(last_seen),
        status
            .latest_authentications
            .last()
            .map_or_else(|| "n/a".into(), |a| a.generation.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::machineid::BotInstanceStatusAuthentication;
    use mwi_proto::machineid::{BotInstanceSpec, BotInstanceStatus, BotInstanceStatusHeartbeat};
    use mwi_proto::types::{LockSpecV2, LockTarget, Metadata};

    const LOCKS_LS: &[LockColumn] = &[
        LockColumn::Id,
        LockColumn::Target,
        LockColumn::Message,
        LockColumn::Created,
        LockColumn::Expires,
    ];

    fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn lock_row_shows_target_and_never_expiring() {
        let lock = LockV2 {
            metadata: Some(Metadata {
                name: "l1".into(),
                ..Default::default()
            }),
            spec: Some(LockSpecV2 {
                target: Some(LockTarget {
                    user: "bot-example".into(),
                    ..Default::default()
                }),
                message: "generation mismatch".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            Resource::Lock(lock).row(),
            vec!["l1", "User:\"bot-example\"", "generation mismatch", "never"]
        );
    }

    #[test]
    fn bot_instance_row_takes_the_latest_generation() {
        let auth = |generation, at| BotInstanceStatusAuthentication {
            authenticated_at: ts(at),
            join_method: "token".into(),
            generation,
            ..Default::default()
        };
        let instance = BotInstance {
            spec: Some(BotInstanceSpec {
                bot_name: "example".into(),
                instance_id: "u1".into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(auth(1, 0)),
                latest_authentications: vec![auth(1, 0), auth(3, 60)],
                latest_heartbeats: vec![BotInstanceStatusHeartbeat {
                    recorded_at: ts(120),
                    hostname: "host-a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = Resource::BotInstance(instance).row();
        assert_eq!(row[0], "example/u1");
        assert_eq!(row[1], "token");
        assert_eq!(row[2], "host-a");
        assert_eq!(row[5], "3");
        assert!(row[3].starts_with("1970-01-01T00:00:00"), "{}", row[3]);
        assert!(row[4].starts_with("1970-01-01T00:02:00"), "{}", row[4]);
    }

    #[test]
    fn instance_without_authentications_has_no_generation() {
        let row = Resource::BotInstance(BotInstance::default()).row();
        assert_eq!(row[5], "n/a");
        assert_eq!(row.len(), headers(Kind::BotInstance).len());
    }

    #[test]
    fn a_lock_without_an_end_expires_never() {
        let lock = LockV2 {
            spec: Some(LockSpecV2 {
                target: Some(LockTarget {
                    user: "bot-x".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let row = lock_row(&lock, "", LOCKS_LS);
        assert_eq!(row[1], "User:\"bot-x\"");
        assert_eq!(row[3], "");
        assert_eq!(row[4], "never");
    }

    #[test]
    fn every_lock_table_takes_its_header_from_its_columns() {
        let table = lock_table(std::iter::empty(), LOCKS_LS, None).render();
        assert!(
            table.starts_with("ID Target Message Created Expires\n"),
            "{table}"
        );
        let lock = LockV2::default();
        assert_eq!(lock_row(&lock, "why", &[LockColumn::Why]), ["why"]);
    }
}

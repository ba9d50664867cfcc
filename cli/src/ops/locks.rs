//! Locks as `tctl lock` makes them (a random UUIDv4 name, a target, a message, an optional end),
//! and the locks table (ID, target, message, created, expires) cut to fit the terminal.

use std::time::SystemTime;

use mwi_proto::types::{LockSpecV2, LockTarget, LockV2, Metadata};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::output::Table;
use crate::resource::{format_timestamp, lock_target_text};

/// What a new lock says: whom it targets, why, and until when (`None`: forever).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewLock {
    pub target: LockTarget,
    pub message: String,
    pub expires: Option<SystemTime>,
}

/// The lock `tctl lock` would send for `new`, named `name`.
pub fn build_lock(name: &str, new: &NewLock) -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(new.target.clone()),
            message: new.message.clone(),
            expires: new.expires.map(prost_types::Timestamp::from),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates a lock with a new UUIDv4 name (one `UpsertLock`) and returns it as the server stored
/// it (with `created_at` and `created_by`), or as sent when it cannot be read back.
pub async fn create_lock(client: &Client, new: &NewLock) -> Result<LockV2, CommandError> {
    if lock_target_text(&new.target).is_empty() {
        return Err(CommandError::usage("a lock needs a target")
            .hint("pass --user, --role, --login, --bot-instance-id or --join-token"));
    }
    let name = uuid::Uuid::new_v4().to_string();
    let lock = build_lock(&name, new);
    client.upsert_lock(&lock).await?;
    match client.get_lock(&name).await {
        Ok(stored) => Ok(stored.value),
        Err(e) => {
            tracing::debug!(error = %e, "reading the new lock back failed");
            Ok(lock)
        }
    }
}

/// The headers of the locks table.
pub const HEADERS: [&str; 5] = ["ID", "Target", "Message", "Created", "Expires"];

/// One lock as a row of the locks table: the end is `never` when the lock has none.
pub fn lock_row(lock: &LockV2) -> Vec<String> {
    let spec = lock.spec.clone().unwrap_or_default();
    vec![
        lock.metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        lock_target_text(&spec.target.unwrap_or_default()),
        spec.message,
        spec.created_at
            .as_ref()
            .filter(|t| t.seconds > 0)
            .map(table_time)
            .unwrap_or_default(),
        spec.expires
            .as_ref()
            .map_or_else(|| "never".to_owned(), table_time),
    ]
}

/// A time as tables show it: RFC 3339 in UTC to the second (JSON and YAML keep the fraction).
pub fn table_time(ts: &prost_types::Timestamp) -> String {
    format_timestamp(&prost_types::Timestamp {
        seconds: ts.seconds,
        nanos: 0,
    })
}

/// The width of the terminal `term` (stdout or stderr) writes to, or `None` when it is not a
/// terminal: a pipe or a file gets whole cells.
pub fn terminal_width(term: &console::Term) -> Option<usize> {
    term.size_checked().map(|(_, cols)| usize::from(cols))
}

/// The narrowest a shortened column gets, so it stays readable on a tiny terminal.
const MIN_COLUMN: usize = 12;

/// A table of `rows` under `headers`, with column `squeeze` (a free-text column such as the
/// message) cut short with `…` so that each line fits in `width`, when given.
pub fn fitted_table(
    headers: &[&str],
    mut rows: Vec<Vec<String>>,
    squeeze: usize,
    width: Option<usize>,
) -> Table {
    if let Some(width) = width {
        let mut probe = Table::new(headers);
        for row in &rows {
            probe.push(row.clone());
        }
        let widths = probe.widths();
        let others: usize = widths
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != squeeze)
            .map(|(_, w)| w + 1)
            .sum();
        let room = width.saturating_sub(others).max(MIN_COLUMN);
        for row in &mut rows {
            if let Some(cell) = row.get_mut(squeeze) {
                *cell = shorten(cell, room);
            }
        }
    }
    let mut table = Table::new(headers);
    for row in rows {
        table.push(row);
    }
    table
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The locks `in_force_only` (or all, also expired) matching any of `targets` (all locks when
/// empty), oldest first.
pub async fn list_locks(
    client: &Client,
    targets: Vec<LockTarget>,
    in_force_only: bool,
) -> Result<Vec<Fetched<LockV2>>, CommandError> {
    let mut locks = client.get_locks(targets, in_force_only).await?;
    locks.sort_by_key(|l| {
        let spec = l.value.spec.as_ref();
        let created = spec.and_then(|s| s.created_at.as_ref());
        (
            created.map_or(0, |t| t.seconds),
            created.map_or(0, |t| t.nanos),
            super::unlock::lock_name(&l.value).to_owned(),
        )
    });
    Ok(locks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> LockTarget {
        LockTarget {
            user: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn new_lock_has_tctls_shape() {
        let lock = build_lock(
            "n",
            &NewLock {
                target: user("bot-x"),
                message: "m".into(),
                expires: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10)),
            },
        );
        assert_eq!(lock.kind, "lock");
        assert_eq!(lock.version, "v2");
        let spec = lock.spec.unwrap();
        assert_eq!(spec.expires.unwrap().seconds, 10);
        assert_eq!(spec.target.unwrap().user, "bot-x");
    }

    #[test]
    fn lock_without_an_end_expires_never() {
        let lock = build_lock(
            "n",
            &NewLock {
                target: user("bot-x"),
                ..Default::default()
            },
        );
        let row = lock_row(&lock);
        assert_eq!(row[1], "User:\"bot-x\"");
        assert_eq!(row[3], "");
        assert_eq!(row[4], "never");
    }

    #[test]
    fn table_times_are_to_the_second() {
        let ts = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        };
        assert_eq!(table_time(&ts), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_long_message_is_cut_to_fit_the_terminal() {
        let rows = vec![vec!["id".into(), "x".repeat(200), "never".into()]];
        let table = fitted_table(&["ID", "Message", "Expires"], rows, 1, Some(60));
        for line in table.render().lines() {
            assert!(line.chars().count() <= 60, "{line}");
        }
        assert!(table.render().contains('…'));
    }

    #[test]
    fn without_a_terminal_cells_stay_whole() {
        let long = "x".repeat(200);
        let rows = vec![vec!["id".into(), long.clone()]];
        let table = fitted_table(&["ID", "Message"], rows, 1, None);
        assert!(table.render().contains(&long));
    }
}

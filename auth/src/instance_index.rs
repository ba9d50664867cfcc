//! The bot instance index: one row per stored instance with what listings sort and filter on
//! (latest hostname, version, last seen, ...), kept in step with `resources` on every write (and
//! by a trigger on every delete), so ListBotInstancesV2 sorts, searches and queries 100,000
//! instances by walking an index instead of decoding every instance. Rows that another process
//! wrote into the database (tests, seeding tools) are marked stale by triggers and indexed
//! before the next listing.

use mwi_diag::query::{Instance, Query, Version};
use mwi_proto::machineid::BotInstance;
use prost::Message;
use rusqlite::{Connection, params_from_iter, types::Value};

use crate::error::ApiError;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS instance_index (
    name TEXT PRIMARY KEY,
    bot TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    active_at INTEGER NOT NULL,
    os TEXT NOT NULL,
    arch TEXT NOT NULL,
    join_method TEXT NOT NULL,
    one_shot INTEGER NOT NULL,
    -- Written by another process (a test, a seeding tool) and not indexed yet.
    stale INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instance_index_stale ON instance_index (name) WHERE stale = 1;
CREATE INDEX IF NOT EXISTS instance_index_version ON instance_index (version_key, name);
CREATE INDEX IF NOT EXISTS instance_index_hostname ON instance_index (hostname, name);
CREATE INDEX IF NOT EXISTS instance_index_active ON instance_index (active_at, name);
CREATE TRIGGER IF NOT EXISTS instance_index_forget AFTER DELETE ON resources
    WHEN old.kind = 'bot_instance'
    BEGIN DELETE FROM instance_index WHERE name = old.name; END;
CREATE TRIGGER IF NOT EXISTS instance_index_added AFTER INSERT ON resources
    WHEN new.kind = 'bot_instance'
    BEGIN INSERT OR REPLACE INTO instance_index
        (name, bot, instance_id, hostname, version, version_key, active_at, os, arch,
         join_method, one_shot, stale)
        VALUES (new.name, '', '', '', '', '', 0, '', '', '', 0, 1); END;
CREATE TRIGGER IF NOT EXISTS instance_index_changed AFTER UPDATE OF value ON resources
    WHEN new.kind = 'bot_instance'
    BEGIN UPDATE instance_index SET stale = 1 WHERE name = new.name; END;
";

/// The sort fields ListBotInstancesV2 accepts (tctl's `--sort-index`), and the index column each
/// sorts by (ties broken by name).
pub(crate) const SORTS: &[(&str, &str)] = &[
    ("bot_name", "name"),
    ("active_at_latest", "active_at"),
    ("version_latest", "version_key"),
    ("host_name_latest", "hostname"),
];

/// The sort field names, for messages.
pub(crate) fn sort_names() -> String {
    SORTS
        .iter()
        .map(|(n, _)| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One instance's index row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub bot: String,
    pub instance_id: String,
    pub hostname: String,
    pub version: String,
    pub active_at: i64,
    pub os: String,
    pub arch: String,
    pub join_method: String,
    pub one_shot: bool,
}

fn ms(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos / 1_000_000))
}

impl Entry {
    /// The row of stored instance `name`; an unreadable value indexes as empty (it is still
    /// listed, by name).
    pub(crate) fn of(name: &str, value: &[u8]) -> Entry {
        let instance = BotInstance::decode(value).unwrap_or_default();
        let spec = instance.spec.unwrap_or_default();
        let status = instance.status.unwrap_or_default();
        let heartbeat = status
            .latest_heartbeats
            .last()
            .or(status.initial_heartbeat.as_ref());
        let auth = status
            .latest_authentications
            .last()
            .or(status.initial_authentication.as_ref());
        let active_at = [
            heartbeat.and_then(|h| h.recorded_at.as_ref()).map(ms),
            auth.and_then(|a| a.authenticated_at.as_ref()).map(ms),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        let hb = heartbeat.cloned().unwrap_or_default();
        Entry {
            name: name.to_owned(),
            bot: spec.bot_name,
            instance_id: spec.instance_id,
            hostname: hb.hostname,
            version: hb.version,
            active_at,
            os: hb.os,
            arch: hb.architecture,
            join_method: auth.map(|a| a.join_method.clone()).unwrap_or_default(),
            one_shot: hb.one_shot,
        }
    }

    fn instance(&self) -> Instance<'_> {
        Instance {
            name: &self.instance_id,
            bot_name: &self.bot,
            instance_id: &self.instance_id,
            hostname: &self.hostname,
            version: &self.version,
            os: &self.os,
            architecture: &self.arch,
            one_shot: self.one_shot,
            join_method: &self.join_method,
        }
    }

    /// Whether a search term matches: any of bot name, instance ID, hostname, version or join
    /// method contains it, ignoring case.
    fn found_by(&self, term: &str) -> bool {
        let term = term.to_lowercase();
        [
            &self.bot,
            &self.instance_id,
            &self.hostname,
            &self.version,
            &self.join_method,
        ]
        .iter()
        .any(|v| v.to_lowercase().contains(&term))
    }

    /// The value this row sorts by under `column`, as a page token carries it.
    fn sort_value(&self, column: &str) -> String {
        match column {
            "active_at" => self.active_at.to_string(),
            "version_key" => version_key(&self.version),
            "hostname" => self.hostname.clone(),
            _ => self.name.clone(),
        }
    }
}

fn version_key(version: &str) -> String {
    Version::parse(version).map_or_else(String::new, |v| v.sort_key())
}

/// Writes (or replaces) the row of instance `name`.
pub(crate) fn upsert(conn: &Connection, name: &str, value: &[u8]) -> rusqlite::Result<()> {
    let e = Entry::of(name, value);
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO instance_index
         (name, bot, instance_id, hostname, version, version_key, active_at, os, arch,
          join_method, one_shot, stale)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0)",
    )?;
    stmt.execute(rusqlite::params![
        e.name,
        e.bot,
        e.instance_id,
        e.hostname,
        e.version,
        version_key(&e.version),
        e.active_at,
        e.os,
        e.arch,
        e.join_method,
        e.one_shot,
    ])?;
    Ok(())
}

/// Whether some rows wait to be indexed (see [`refresh`]).
pub(crate) fn has_stale(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM instance_index WHERE stale = 1)",
        [],
        |r| r.get(0),
    )
}

/// Indexes the rows marked stale; returns how many.
pub(crate) fn refresh(conn: &Connection) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.name, r.value FROM instance_index i
         JOIN resources r ON r.kind = 'bot_instance' AND r.name = i.name
         WHERE i.stale = 1",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (name, value) in &rows {
        upsert(conn, name, value)?;
    }
    Ok(rows.len())
}

/// Creates the index if this database has none (a lab made before it existed), fills it from
/// the stored instances when it is out of step with them, and indexes stale rows.
pub(crate) fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    refresh(conn)?;
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let indexed = count("SELECT count(*) FROM instance_index")?;
    let stored = count("SELECT count(*) FROM resources WHERE kind = 'bot_instance'")?;
    if indexed == stored {
        return Ok(());
    }
    conn.execute_batch("BEGIN; DELETE FROM instance_index;")?;
    let rebuilt = (|| {
        let mut stmt =
            conn.prepare("SELECT name, value FROM resources WHERE kind = 'bot_instance'")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let value: Vec<u8> = row.get(1)?;
            upsert(conn, &name, &value)?;
        }
        Ok(())
    })();
    match rebuilt {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Where a page resumes: (the sort value, the name) of its first instance, inclusive.
pub(crate) type Position = (String, String);

/// What one ListBotInstancesV2 page asks for.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The index column to sort by (one of [`SORTS`]).
    pub column: &'static str,
    pub desc: bool,
    /// Only this bot's instances.
    pub bot: Option<String>,
    pub search: Option<String>,
    pub query: Option<Query>,
    /// Resume at this (sort value, name), inclusive: the previous page's token.
    pub from: Option<Position>,
    pub limit: usize,
}

/// The names of the next `limit` matching instances in order (those `live` accepts; it sees each
/// in order), plus the position to resume from when there are more. Walks the index in sort order, so the cost of all the pages of a
/// listing is one pass over the index.
pub(crate) fn page(
    conn: &Connection,
    listing: &Listing,
    mut live: impl FnMut(&str) -> Result<bool, ApiError>,
) -> Result<(Vec<String>, Option<Position>), ApiError> {
    let internal = |e: rusqlite::Error| ApiError::Internal(format!("lab store: {e}"));
    let column = listing.column;
    let mut sql = String::from(
        "SELECT name, bot, instance_id, hostname, version, active_at, os, arch, join_method,
                one_shot FROM instance_index WHERE 1",
    );
    let mut args: Vec<Value> = Vec::new();
    if let Some(bot) = &listing.bot {
        // Names are `BOT/ID`, and `0` follows `/`: one bot's instances are one range of the key.
        args.push(format!("{bot}/").into());
        args.push(format!("{bot}0").into());
        args.push(bot.clone().into());
        sql.push_str(&format!(
            " AND name >= ?{} AND name < ?{} AND bot = ?{}",
            args.len() - 2,
            args.len() - 1,
            args.len()
        ));
    }
    let (cmp, order) = if listing.desc {
        ("<=", "DESC")
    } else {
        (">=", "ASC")
    };
    if let Some((value, name)) = &listing.from {
        let value: Value = if column == "active_at" {
            value
                .parse::<i64>()
                .map_err(|_| ApiError::BadParameter(format!("page token {value:?} is not a time")))?
                .into()
        } else {
            value.clone().into()
        };
        args.push(value);
        let v = args.len();
        args.push(name.clone().into());
        let n = args.len();
        // A row value, so SQLite seeks the (column, name) index instead of scanning from the
        // start on every page.
        sql.push_str(&format!(" AND ({column}, name) {cmp} (?{v}, ?{n})"));
    }
    sql.push_str(&format!(" ORDER BY {column} {order}, name {order}"));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(internal)?;
    let mut names = Vec::new();
    while let Some(row) = rows.next().map_err(internal)? {
        let entry = Entry {
            name: row.get(0).map_err(internal)?,
            bot: row.get(1).map_err(internal)?,
            instance_id: row.get(2).map_err(internal)?,
            hostname: row.get(3).map_err(internal)?,
            version: row.get(4).map_err(internal)?,
            active_at: row.get(5).map_err(internal)?,
            os: row.get(6).map_err(internal)?,
            arch: row.get(7).map_err(internal)?,
            join_method: row.get(8).map_err(internal)?,
            one_shot: row.get(9).map_err(internal)?,
        };
        if let Some(term) = listing.search.as_deref().filter(|t| !t.is_empty())
            && !entry.found_by(term)
        {
            continue;
        }
        if let Some(query) = &listing.query
            && !query.matches(&entry.instance())
        {
            continue;
        }
        if names.len() == listing.limit {
            // The next page starts here (an expired instance there is skipped then).
            return Ok((names, Some((entry.sort_value(column), entry.name))));
        }
        if live(&entry.name)? {
            names.push(entry.name);
        }
    }
    Ok((names, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::machineid::{
        BotInstanceSpec, BotInstanceStatus, BotInstanceStatusAuthentication,
        BotInstanceStatusHeartbeat,
    };

    fn instance(bot: &str, id: &str, host: &str, version: &str, seen: i64) -> Vec<u8> {
        BotInstance {
            spec: Some(BotInstanceSpec {
                bot_name: bot.into(),
                instance_id: id.into(),
                ..Default::default()
            }),
            status: Some(BotInstanceStatus {
                initial_authentication: Some(BotInstanceStatusAuthentication {
                    join_method: "token".into(),
                    authenticated_at: Some(prost_types::Timestamp {
                        seconds: 1,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                latest_heartbeats: vec![BotInstanceStatusHeartbeat {
                    hostname: host.into(),
                    version: version.into(),
                    recorded_at: Some(prost_types::Timestamp {
                        seconds: seen,
                        nanos: 0,
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE resources (kind TEXT, name TEXT, value BLOB, PRIMARY KEY (kind, name));",
        )
        .unwrap();
        ensure(&conn).unwrap();
        let rows = [
            ("a", "1", "h-c", "18.1.0", 30),
            ("a", "2", "h-a", "9.0.0", 10),
            ("b", "3", "h-b", "18.0.0-rc.1", 20),
            ("b", "4", "h-d", "", 40),
        ];
        for (bot, id, host, version, seen) in rows {
            let name = format!("{bot}/{id}");
            let value = instance(bot, id, host, version, seen);
            conn.execute(
                "INSERT INTO resources VALUES ('bot_instance', ?1, ?2)",
                rusqlite::params![name, value],
            )
            .unwrap();
            upsert(&conn, &name, &value).unwrap();
        }
        conn
    }

    /// Every page of `listing` at `limit` per page, joined.
    fn all(conn: &Connection, mut listing: Listing, limit: usize) -> Vec<String> {
        listing.limit = limit;
        let mut out = Vec::new();
        loop {
            let (names, next) = page(conn, &listing, |_| Ok(true)).unwrap();
            out.extend(names);
            match next {
                Some(from) => listing.from = Some(from),
                None => return out,
            }
        }
    }

    fn sorted(column: &'static str, desc: bool) -> Listing {
        Listing {
            column,
            desc,
            ..Default::default()
        }
    }

    #[test]
    fn each_sort_pages_in_order_at_any_page_size() {
        let conn = db();
        for limit in [1, 2, 3, 10] {
            assert_eq!(
                all(&conn, sorted("name", false), limit),
                ["a/1", "a/2", "b/3", "b/4"]
            );
            assert_eq!(
                all(&conn, sorted("version_key", false), limit),
                ["b/4", "a/2", "b/3", "a/1"],
                "semver order; no version first"
            );
            assert_eq!(
                all(&conn, sorted("hostname", true), limit),
                ["b/4", "a/1", "b/3", "a/2"]
            );
            assert_eq!(
                all(&conn, sorted("active_at", true), limit),
                ["b/4", "a/1", "b/3", "a/2"]
            );
        }
    }

    #[test]
    fn search_query_and_bot_filter_the_walk() {
        let conn = db();
        let mut listing = sorted("name", false);
        listing.query = Some(Query::parse(r#"older_than(version, "18.1.0")"#).unwrap());
        assert_eq!(all(&conn, listing, 1), ["a/2", "b/3"]);
        let mut listing = sorted("name", false);
        listing.search = Some("H-D".into());
        assert_eq!(all(&conn, listing, 1), ["b/4"]);
        let mut listing = sorted("name", true);
        listing.bot = Some("a".into());
        assert_eq!(all(&conn, listing, 1), ["a/2", "a/1"]);
    }

    #[test]
    fn a_deleted_instance_leaves_the_index_and_a_stale_index_is_rebuilt() {
        let conn = db();
        conn.execute("DELETE FROM resources WHERE name = 'a/1'", [])
            .unwrap();
        assert_eq!(all(&conn, sorted("name", false), 10), ["a/2", "b/3", "b/4"]);
        conn.execute("DELETE FROM instance_index", []).unwrap();
        ensure(&conn).unwrap();
        assert_eq!(all(&conn, sorted("name", false), 10), ["a/2", "b/3", "b/4"]);
    }

    #[test]
    fn rows_written_by_another_process_are_indexed_before_listing() {
        let conn = db();
        let value = instance("c", "5", "h-e", "1.0.0", 50);
        conn.execute(
            "INSERT INTO resources VALUES ('bot_instance', 'c/5', ?1)",
            [&value],
        )
        .unwrap();
        assert!(has_stale(&conn).unwrap());
        assert_eq!(refresh(&conn).unwrap(), 1);
        assert!(!has_stale(&conn).unwrap());
        let mut listing = sorted("hostname", true);
        listing.limit = 1;
        assert_eq!(page(&conn, &listing, |_| Ok(true)).unwrap().0, ["c/5"]);
        let newer = instance("c", "5", "h-0", "1.0.0", 50);
        conn.execute(
            "UPDATE resources SET value = ?1 WHERE name = 'c/5'",
            [&newer],
        )
        .unwrap();
        assert!(has_stale(&conn).unwrap());
        refresh(&conn).unwrap();
        listing.desc = false;
        assert_eq!(page(&conn, &listing, |_| Ok(true)).unwrap().0, ["c/5"]);
    }
}

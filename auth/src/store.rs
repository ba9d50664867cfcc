//! The SQLite store: one table `resources(kind, name, value, revision, expires)` like Teleport's
//! "lite" backend, in WAL mode with full sync. Writes go through one writer thread that commits
//! queued jobs together (group commit) and acknowledges each only after its commit is durable;
//! reads use a small pool of connections on blocking threads.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter, types::Value};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::wire;

/// The kinds of resource the lab stores (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Lock,
    Role,
    Token,
    User,
    BotInstance,
    DbServer,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Lock => "lock",
            Kind::Role => "role",
            Kind::Token => "token",
            Kind::User => "user",
            Kind::BotInstance => "bot_instance",
            Kind::DbServer => "db_server",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Lock,
            Kind::Role,
            Kind::Token,
            Kind::User,
            Kind::BotInstance,
            Kind::DbServer,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub name: String,
    pub value: Bytes,
    pub revision: String,
    /// Unix milliseconds after which the row no longer exists.
    pub expires: Option<i64>,
}

/// A committed change, reported to the observer (the in-memory policy cache).
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Put(Kind, Row),
    Delete(Kind, String),
    /// Another connection changed the database (`lab restore`): forget everything; the puts
    /// that follow are the whole of it.
    Reset,
}

/// Which rows a listing returns: keyset pagination, never an OFFSET, so a page costs the same
/// at row 100,000 as at row 0.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// Only names with this prefix.
    pub prefix: Option<String>,
    /// Start here (inclusive): a page token handed out with the previous page.
    pub from: Option<String>,
    /// Only names containing this text.
    pub contains: Option<String>,
    /// Newest name first.
    pub desc: bool,
    pub limit: usize,
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn internal(e: rusqlite::Error) -> ApiError {
    ApiError::Internal(format!("lab store: {e}"))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    revision TEXT NOT NULL,
    expires INTEGER,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_expires ON resources (expires) WHERE expires IS NOT NULL;
PRAGMA user_version = 1;
";

/// Why the database file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("it has no `resources` table (not a lab database)")]
    NotLab,
    #[error("its path is not UTF-8, which SQLite needs")]
    Path,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Creates the database, its schema and the `seed` resources (first start only). Seeded
/// protobuf resources (locks, roles, tokens, bot instances) get a revision in their metadata.
pub(crate) fn create(path: &Path, seed: &[(Kind, String, Vec<u8>)]) -> Result<(), OpenError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    conn.execute_batch(SCHEMA)?;
    let txn = conn.transaction()?;
    for (kind, name, value) in seed {
        let revision = uuid::Uuid::new_v4().to_string();
        let value = match kind {
            Kind::User | Kind::DbServer => value.clone(),
            _ => wire::with_revision(value, &revision)
                .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?,
        };
        txn.execute(
            "INSERT INTO resources (kind, name, value, revision) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![kind.as_str(), name, value, revision],
        )?;
    }
    txn.commit()?;
    Ok(())
}

fn open_existing(path: &Path) -> Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    configure(&conn)?;
    check_lab(&conn)?;
    Ok(conn)
}

/// Inserts or replaces one lab-internal record through a short-lived connection; for the lab's
/// own tools (seeding databases), which may run beside a live lab (WAL allows it).
pub(crate) fn upsert_record(
    path: &Path,
    kind: Kind,
    name: &str,
    value: &[u8],
) -> Result<(), OpenError> {
    let conn = open_existing(path)?;
    conn.execute(
        "INSERT INTO resources (kind, name, value, revision) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, name) DO UPDATE SET value = excluded.value, revision = excluded.revision",
        rusqlite::params![kind.as_str(), name, value, uuid::Uuid::new_v4().to_string()],
    )?;
    Ok(())
}

/// Inserts (or replaces) `rows` through a short-lived connection, `batch` rows per transaction,
/// indexing bot instances as it goes; for seeding a lab in bulk, which may run beside a live
/// lab (WAL allows it). Protobuf resources get a revision as [`create`] gives them.
pub(crate) fn insert_bulk(
    path: &Path,
    rows: impl Iterator<Item = (Kind, String, Vec<u8>, Option<i64>)>,
    batch: usize,
) -> Result<usize, OpenError> {
    let mut conn = open_existing(path)?;
    crate::instance_index::ensure(&conn)?;
    let mut rows = rows.peekable();
    let mut written = 0;
    while rows.peek().is_some() {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached(
                "INSERT OR REPLACE INTO resources (kind, name, value, revision, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (kind, name, value, expires) in rows.by_ref().take(batch.max(1)) {
                let revision = uuid::Uuid::new_v4().to_string();
                let value = match kind {
                    Kind::User | Kind::DbServer => value,
                    _ => wire::with_revision(&value, &revision)
                        .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))?,
                };
                insert.execute(rusqlite::params![
                    kind.as_str(),
                    name,
                    value,
                    revision,
                    expires
                ])?;
                if kind == Kind::BotInstance {
                    crate::instance_index::upsert(&txn, &name, &value)?;
                }
                written += 1;
            }
        }
        txn.commit()?;
    }
    Ok(written)
}

/// Writes a consistent copy of the database at `path` to the new file `out` (SQLite's `VACUUM
/// INTO`, a read transaction: a running lab goes on serving); returns how many resources it holds.
pub(crate) fn snapshot(path: &Path, out: &Path) -> Result<u64, OpenError> {
    let conn = open_existing(path)?;
    let target = out.to_str().ok_or(OpenError::Path)?;
    conn.execute("VACUUM INTO ?1", [target])?;
    count(&open_snapshot(out)?)
}

/// Replaces every resource in the database at `path` with those of the snapshot `from`, in one
/// transaction; returns how many there are now. A running lab's readers see the restored rows
/// at their next read, and its writer reloads its locks and roles (see [`RELOAD_CHECK`]).
pub(crate) fn restore(path: &Path, from: &Path) -> Result<u64, OpenError> {
    check_snapshot(from)?;
    let mut conn = open_existing(path)?;
    let source = from.to_str().ok_or(OpenError::Path)?;
    conn.execute("ATTACH DATABASE ?1 AS snapshot", [source])?;
    let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    txn.execute("DELETE FROM main.resources", [])?;
    let rows = txn.execute(
        "INSERT INTO main.resources (kind, name, value, revision, expires)
         SELECT kind, name, value, revision, expires FROM snapshot.resources",
        [],
    )?;
    txn.commit()?;
    conn.execute("DETACH DATABASE snapshot", [])?;
    Ok(u64::try_from(rows).unwrap_or(u64::MAX))
}

/// Checks that `path` is a readable lab database snapshot; returns how many resources it holds.
pub(crate) fn check_snapshot(path: &Path) -> Result<u64, OpenError> {
    count(&open_snapshot(path)?)
}

/// Refuses a database that is not a lab's (it has no `resources` table).
fn check_lab(conn: &Connection) -> Result<(), OpenError> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'resources'",
        [],
        |r| r.get(0),
    )?;
    if tables != 1 {
        return Err(OpenError::NotLab);
    }
    Ok(())
}

/// A snapshot file, opened read-only and checked to be a lab database.
fn open_snapshot(path: &Path) -> Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check_lab(&conn)?;
    Ok(conn)
}

fn count(conn: &Connection) -> Result<u64, OpenError> {
    let rows: i64 = conn.query_row("SELECT count(*) FROM resources", [], |r| r.get(0))?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        name: r.get(0)?,
        value: Bytes::from(r.get::<_, Vec<u8>>(1)?),
        revision: r.get(2)?,
        expires: r.get(3)?,
    })
}

fn get(conn: &Connection, kind: Kind, name: &str, now: i64) -> Result<Option<Row>, ApiError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, value, revision, expires FROM resources
             WHERE kind = ?1 AND name = ?2 AND (expires IS NULL OR expires > ?3)",
        )
        .map_err(internal)?;
    stmt.query_row(rusqlite::params![kind.as_str(), name, now], row)
        .optional()
        .map_err(internal)
}

/// The first name after every name that starts with `prefix` (prefix with its last byte raised).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

fn list(conn: &Connection, kind: Kind, page: &Page, now: i64) -> Result<Vec<Row>, ApiError> {
    let mut sql = String::from(
        "SELECT name, value, revision, expires FROM resources
         WHERE kind = ?1 AND (expires IS NULL OR expires > ?2)",
    );
    let mut args: Vec<Value> = vec![kind.as_str().to_string().into(), now.into()];
    let mut bind = |sql: &mut String, clause: &str, v: Value| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(prefix) = &page.prefix {
        bind(&mut sql, "name >=", prefix.clone().into());
        if let Some(end) = prefix_end(prefix) {
            bind(&mut sql, "name <", end.into());
        }
    }
    if let Some(from) = &page.from {
        let op = if page.desc { "name <=" } else { "name >=" };
        bind(&mut sql, op, from.clone().into());
    }
    if let Some(text) = page.contains.as_ref().filter(|t| !t.is_empty()) {
        args.push(text.clone().into());
        sql.push_str(&format!(" AND instr(name, ?{}) > 0", args.len()));
    }
    sql.push_str(if page.desc {
        " ORDER BY name DESC"
    } else {
        " ORDER BY name ASC"
    });
    args.push(i64::try_from(page.limit).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(" LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
    let rows = stmt
        .query_map(params_from_iter(args), row)
        .map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// Read access, on a pooled connection.
pub(crate) struct Reader<'a> {
    conn: &'a Connection,
    now: i64,
}

impl Reader<'_> {
    pub(crate) fn get(&self, kind: Kind, name: &str) -> Result<Option<Row>, ApiError> {
        get(self.conn, kind, name, self.now)
    }

    pub(crate) fn list(&self, kind: Kind, page: &Page) -> Result<Vec<Row>, ApiError> {
        list(self.conn, kind, page, self.now)
    }

    /// Whether the bot instance index has rows another process wrote and it has not indexed.
    pub(crate) fn instance_index_stale(&self) -> Result<bool, ApiError> {
        crate::instance_index::has_stale(self.conn).map_err(internal)
    }

    /// One page of bot instances from their index (see [`crate::instance_index::page`]), with
    /// their stored rows; expired instances are skipped.
    pub(crate) fn instance_page(
        &self,
        listing: &crate::instance_index::Listing,
    ) -> Result<(Vec<Row>, Option<crate::instance_index::Position>), ApiError> {
        let mut rows = Vec::new();
        let (_, next) = crate::instance_index::page(self.conn, listing, |name| {
            match self.get(Kind::BotInstance, name)? {
                Some(row) => {
                    rows.push(row);
                    Ok(true)
                }
                None => Ok(false),
            }
        })?;
        Ok((rows, next))
    }
}

/// Write access inside the writer's transaction. Every change is recorded for the observer.
pub(crate) struct Tx<'a> {
    conn: &'a Connection,
    changes: &'a mut Vec<Change>,
    now: i64,
}

impl Tx<'_> {
    #[cfg(test)]
    pub(crate) fn now(&self) -> i64 {
        self.now
    }

    pub(crate) fn get(&self, kind: Kind, name: &str) -> Result<Option<Row>, ApiError> {
        get(self.conn, kind, name, self.now)
    }

    pub(crate) fn list(&self, kind: Kind, page: &Page) -> Result<Vec<Row>, ApiError> {
        list(self.conn, kind, page, self.now)
    }

    /// Indexes bot instances another process wrote (see [`crate::instance_index::refresh`]).
    pub(crate) fn refresh_instance_index(&self) -> Result<usize, ApiError> {
        crate::instance_index::refresh(self.conn).map_err(internal)
    }

    /// Stores a protobuf resource with a new revision, written into its `metadata.revision`.
    pub(crate) fn put_resource(
        &mut self,
        kind: Kind,
        name: &str,
        value: &[u8],
        expires: Option<i64>,
    ) -> Result<Row, ApiError> {
        let revision = uuid::Uuid::new_v4().to_string();
        let value = wire::with_revision(value, &revision)
            .map_err(|e| ApiError::BadParameter(format!("{} {name:?}: {e}", kind.as_str())))?;
        self.put_row(kind, name, value, revision, expires)
    }

    /// Stores a lab-internal record (not a Teleport message) with a new revision.
    pub(crate) fn put_record(
        &mut self,
        kind: Kind,
        name: &str,
        value: Vec<u8>,
        expires: Option<i64>,
    ) -> Result<Row, ApiError> {
        let revision = uuid::Uuid::new_v4().to_string();
        self.put_row(kind, name, value, revision, expires)
    }

    fn put_row(
        &mut self,
        kind: Kind,
        name: &str,
        value: Vec<u8>,
        revision: String,
        expires: Option<i64>,
    ) -> Result<Row, ApiError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO resources (kind, name, value, revision, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, name) DO UPDATE SET
                   value = excluded.value, revision = excluded.revision, expires = excluded.expires",
            )
            .map_err(internal)?;
        stmt.execute(rusqlite::params![
            kind.as_str(),
            name,
            value,
            revision,
            expires
        ])
        .map_err(internal)?;
        if kind == Kind::BotInstance {
            crate::instance_index::upsert(self.conn, name, &value).map_err(internal)?;
        }
        let row = Row {
            name: name.to_string(),
            value: Bytes::from(value),
            revision,
            expires,
        };
        self.changes.push(Change::Put(kind, row.clone()));
        Ok(row)
    }

    /// Deletes a row; false when there was no live row of that name.
    pub(crate) fn delete(&mut self, kind: Kind, name: &str) -> Result<bool, ApiError> {
        let existed = self.get(kind, name)?.is_some();
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM resources WHERE kind = ?1 AND name = ?2")
            .map_err(internal)?;
        stmt.execute(rusqlite::params![kind.as_str(), name])
            .map_err(internal)?;
        if existed {
            self.changes.push(Change::Delete(kind, name.to_string()));
        }
        Ok(existed)
    }

    /// Deletes every expired row; returns how many.
    fn sweep(&mut self) -> Result<usize, ApiError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "DELETE FROM resources WHERE expires IS NOT NULL AND expires <= ?1
                 RETURNING kind, name",
            )
            .map_err(internal)?;
        let gone = stmt
            .query_map([self.now], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(internal)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        for (kind, name) in &gone {
            if let Some(kind) = Kind::parse(kind) {
                self.changes.push(Change::Delete(kind, name.clone()));
            }
        }
        Ok(gone.len())
    }
}

/// A job's completion: told whether the batch committed, it answers the waiting caller.
type Done = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
/// A write job: runs inside the batch transaction (or not at all, given `None`, when the
/// transaction could not be started); `true` keeps its changes, `false` rolls them back (its
/// savepoint) without affecting the other jobs of the batch.
type Job = Box<dyn FnOnce(Option<&mut Tx<'_>>) -> (bool, Done) + Send>;
/// Told about every committed change, in commit order, on the writer thread.
pub(crate) type Observer = Arc<dyn Fn(&[Change]) + Send + Sync>;

/// Most jobs committed by one transaction.
const MAX_BATCH: usize = 512;
const READERS: usize = 4;

/// The store: a writer thread and a reader pool over one SQLite file.
pub(crate) struct Store {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    readers: Arc<Vec<Mutex<Connection>>>,
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the WAL on its own connection and thread, so that the writer never stalls on
/// copying pages and syncing the database file (it would with SQLite's automatic checkpoints).
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    loop {
        let stopping = !matches!(
            stop.recv_timeout(CHECKPOINT_EVERY),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        let mode = if stopping { "TRUNCATE" } else { "PASSIVE" };
        let done = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()));
        if let Err(e) = done {
            tracing::warn!("lab store: WAL checkpoint failed: {e}");
        }
        if stopping {
            return;
        }
    }
}

fn spawn_named<F: FnOnce() + Send + 'static>(
    name: &str,
    f: F,
) -> Result<JoinHandle<()>, OpenError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| {
            OpenError::Sqlite(rusqlite::Error::InvalidParameterName(format!(
                "cannot start thread {name}: {e}"
            )))
        })
}

impl Store {
    /// Opens an existing lab database; `observer` hears every committed change.
    pub(crate) fn open(path: &Path, observer: Observer) -> Result<Store, OpenError> {
        let writer_conn = open_existing(path)?;
        crate::instance_index::ensure(&writer_conn)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = open_existing(path)?;
            conn.pragma_update(None, "query_only", "ON")?;
            readers.push(Mutex::new(conn));
        }
        writer_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpoint_conn = open_existing(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let checkpointer = spawn_named("lab-store-checkpoint", move || {
            checkpoint_loop(checkpoint_conn, stopped)
        })?;
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = spawn_named("lab-store-writer", move || {
            write_loop(writer_conn, rx, observer)
        })?;
        Ok(Store {
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            checkpointer: Mutex::new(Some((stop, checkpointer))),
            readers: Arc::new(readers),
        })
    }

    /// Runs `f` in a write transaction; returns once its commit is durable. An `Err` from `f`
    /// rolls back only `f`'s own writes.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |tx| match tx {
            Some(tx) => {
                let result = f(tx);
                let keep = result.is_ok();
                let done: Done = Box::new(move |committed| {
                    let _ = reply.send(committed.and(result));
                });
                (keep, done)
            }
            None => {
                let done: Done = Box::new(move |committed| {
                    let _ = reply.send(Err(committed.err().unwrap_or_else(|| {
                        ApiError::Internal("lab store: cannot start a savepoint".into())
                    })));
                });
                (false, done)
            }
        });
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|j| j.send(job).is_ok()));
        if sent != Some(true) {
            return Err(ApiError::Internal("the lab is shutting down".into()));
        }
        answer
            .await
            .map_err(|_| ApiError::Internal("the lab store writer stopped".into()))?
    }

    /// Runs `f` with a pooled read connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let slot = readers
                .iter()
                .find_map(|m| m.try_lock().ok())
                .or_else(|| {
                    let pick = usize::try_from(now_ms()).unwrap_or(0) % readers.len();
                    readers[pick].lock().ok()
                })
                .ok_or_else(|| ApiError::Internal("lab store reader poisoned".into()))?;
            f(&Reader {
                conn: &slot,
                now: now_ms(),
            })
        })
        .await
        .map_err(|e| ApiError::Internal(format!("lab store reader failed: {e}")))?
    }

    /// Deletes expired rows (the periodic sweep).
    pub(crate) async fn sweep(&self) -> Result<usize, ApiError> {
        self.write(|tx| tx.sweep()).await
    }

    /// Stops accepting writes, lets the writer finish what is queued, and waits for it.
    pub(crate) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(writer) = writer {
                let _ = writer.join();
            }
            if let Some((stop, handle)) = checkpointer {
                drop(stop);
                let _ = handle.join();
            }
        })
        .await;
    }
}

/// How often an idle writer looks for changes other connections made (`lab restore`).
const RELOAD_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// SQLite's `data_version`: it changes when another connection commits, never for this
/// connection's own commits.
fn data_version(conn: &Connection) -> Option<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok()
}

/// Tells the observer the database was changed under the lab: a reset, then every lock and
/// role as stored now.
fn reload(conn: &Connection, observer: &Observer) {
    let mut changes = vec![Change::Reset];
    let all = Page {
        limit: usize::MAX,
        ..Default::default()
    };
    for kind in [Kind::Lock, Kind::Role] {
        match list(conn, kind, &all, now_ms()) {
            Ok(rows) => changes.extend(rows.into_iter().map(|r| Change::Put(kind, r))),
            Err(e) => {
                tracing::warn!("lab store: reloading after an outside change failed: {e}");
                return;
            }
        }
    }
    observer(&changes);
}

fn write_loop(mut conn: Connection, jobs: mpsc::Receiver<Job>, observer: Observer) {
    let mut seen = data_version(&conn);
    loop {
        let first = match jobs.recv_timeout(RELOAD_CHECK) {
            Ok(job) => Some(job),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Before a batch too: its jobs must decide on the restored state's locks.
        let now = data_version(&conn);
        if now != seen {
            seen = now;
            reload(&conn, &observer);
        }
        let Some(first) = first else { continue };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut changes = Vec::new();
        let mut dones = Vec::with_capacity(batch.len());
        let committed = run_batch(&mut conn, batch, &mut changes, &mut dones);
        if committed.is_ok() {
            observer(&changes);
        }
        for done in dones {
            done(committed.clone());
        }
    }
}

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    changes: &mut Vec<Change>,
    dones: &mut Vec<Done>,
) -> Result<(), ApiError> {
    let now = now_ms();
    let mut txn = match conn.transaction() {
        Ok(txn) => txn,
        Err(e) => {
            dones.extend(batch.into_iter().map(|job| job(None).1));
            return Err(internal(e));
        }
    };
    for job in batch {
        let mark = changes.len();
        let Ok(sp) = txn.savepoint() else {
            dones.push(job(None).1);
            continue;
        };
        let (keep, done) = job(Some(&mut Tx {
            conn: &sp,
            changes,
            now,
        }));
        let released = keep && sp.commit().is_ok();
        if !released {
            // Dropping an unreleased savepoint rolls it back.
            changes.truncate(mark);
        }
        if keep && !released {
            dones.push(Box::new(move |_| {
                done(Err(ApiError::Internal(
                    "lab store: cannot release a savepoint".into(),
                )))
            }));
        } else {
            dones.push(done);
        }
    }
    txn.commit().map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Store, Arc<Mutex<Vec<Change>>>) {
        let path = dir.join("lab.db");
        create(&path, &[]).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let store = Store::open(
            &path,
            Arc::new(move |c: &[Change]| sink.lock().unwrap().extend_from_slice(c)),
        )
        .unwrap();
        (store, seen)
    }

    #[tokio::test]
    async fn a_failed_job_rolls_back_only_its_own_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (store, seen) = open(dir.path());
        let ok = store.write(|tx| tx.put_record(Kind::User, "a", b"1".to_vec(), None));
        let bad = store.write(|tx| {
            tx.put_record(Kind::User, "b", b"2".to_vec(), None)?;
            Err::<(), _>(ApiError::BadParameter("no".into()))
        });
        let (ok, bad) = tokio::join!(ok, bad);
        assert!(ok.is_ok());
        assert!(bad.is_err());
        assert_eq!(user_names(&store).await, ["a"]);
        assert_eq!(seen.lock().unwrap().len(), 1);
        store.close().await;
    }

    #[tokio::test]
    async fn expired_rows_are_invisible_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let (store, seen) = open(dir.path());
        store
            .write(|tx| {
                let past = tx.now() - 1;
                tx.put_record(Kind::Token, "old", b"x".to_vec(), Some(past))
            })
            .await
            .unwrap();
        assert!(
            store
                .read(|r| r.get(Kind::Token, "old"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.sweep().await.unwrap(), 1);
        assert!(
            matches!(seen.lock().unwrap().last(), Some(Change::Delete(Kind::Token, n)) if n == "old")
        );
        store.close().await;
    }

    #[tokio::test]
    async fn keyset_pages_walk_a_prefix_in_order_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store
            .write(|tx| {
                for name in ["a/1", "a/2", "a/3", "b/1"] {
                    tx.put_record(Kind::BotInstance, name, vec![], None)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let page = |from: Option<&str>, desc| Page {
            prefix: Some("a/".into()),
            from: from.map(str::to_string),
            desc,
            limit: 2,
            ..Default::default()
        };
        let names = |rows: Vec<Row>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        let first = store
            .read(move |r| r.list(Kind::BotInstance, &page(None, false)))
            .await
            .unwrap();
        assert_eq!(names(first), ["a/1", "a/2"]);
        let next = store
            .read(move |r| r.list(Kind::BotInstance, &page(Some("a/3"), false)))
            .await
            .unwrap();
        assert_eq!(names(next), ["a/3"]);
        let back = store
            .read(move |r| r.list(Kind::BotInstance, &page(None, true)))
            .await
            .unwrap();
        assert_eq!(names(back), ["a/3", "a/2"]);
        store.close().await;
    }

    #[tokio::test]
    async fn writes_after_close_are_refused_not_lost_silently() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = open(dir.path());
        store.close().await;
        let err = store
            .write(|tx| tx.put_record(Kind::User, "a", vec![], None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shutting down"));
    }

    async fn user_names(store: &Store) -> Vec<String> {
        let rows = store
            .read(|r| {
                r.list(
                    Kind::User,
                    &Page {
                        limit: 10,
                        ..Default::default()
                    },
                )
            })
            .await
            .unwrap();
        rows.into_iter().map(|r| r.name).collect()
    }

    #[tokio::test]
    async fn a_restore_under_a_running_store_brings_the_snapshot_back_and_resets_the_observer() {
        let dir = tempfile::tempdir().unwrap();
        let (store, seen) = open(dir.path());
        let put = |name: &'static str| {
            store.write(move |tx| tx.put_record(Kind::User, name, vec![], None))
        };
        put("a").await.unwrap();
        let (db, snap) = (dir.path().join("lab.db"), dir.path().join("snap.db"));
        assert_eq!(snapshot(&db, &snap).unwrap(), 1);
        put("b").await.unwrap();
        assert_eq!(user_names(&store).await, ["a", "b"]);

        assert_eq!(restore(&db, &snap).unwrap(), 1);
        assert_eq!(user_names(&store).await, ["a"], "readers see it at once");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !seen
            .lock()
            .unwrap()
            .iter()
            .any(|c| matches!(c, Change::Reset))
        {
            assert!(std::time::Instant::now() < deadline, "no reset");
            std::thread::sleep(RELOAD_CHECK);
        }
        // The store's own writes go on, and are not taken for outside changes.
        let resets = |seen: &Mutex<Vec<Change>>| {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|c| matches!(c, Change::Reset))
                .count()
        };
        let before = resets(&seen);
        put("c").await.unwrap();
        std::thread::sleep(RELOAD_CHECK * 3);
        assert_eq!(resets(&seen), before);
        assert_eq!(user_names(&store).await, ["a", "c"]);
        store.close().await;
    }

    #[test]
    fn a_snapshot_is_a_lab_database_and_anything_else_is_refused_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lab.db");
        create(&db, &[(Kind::User, "a".into(), vec![])]).unwrap();
        let snap = dir.path().join("snap.db");
        assert_eq!(snapshot(&db, &snap).unwrap(), 1);
        assert_eq!(check_snapshot(&snap).unwrap(), 1);
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x42; 4096]).unwrap();
        assert!(restore(&db, &junk).is_err());
        let empty = dir.path().join("empty.db");
        Connection::open(&empty)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(restore(&db, &empty), Err(OpenError::NotLab)));
        assert_eq!(check_snapshot(&db).unwrap(), 1, "nothing changed");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.db");
        std::fs::write(&path, vec![0x42; 4096]).unwrap();
        assert!(Store::open(&path, Arc::new(|_: &[Change]| {})).is_err());
    }
}

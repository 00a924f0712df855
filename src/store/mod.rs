//! Storage: one `Db` over SQLite (default) or PostgreSQL, chosen by the URL.
//!
//! Queries are written once in the SQL both backends accept, with `$1`-style
//! placeholders (SQLite understands `$NNN` too) and only the types the `Any`
//! driver carries unchanged on both: `i64`, `f64`, `String`. Booleans are
//! stored as 0/1 and times as UTC milliseconds, so nothing depends on a
//! backend's own date or boolean types.

pub mod backup;
pub mod batch;
pub mod lock;
pub mod pg_array;
pub mod scope;
mod sql;
pub mod versioned;

pub use scope::{Scope, Tx};
pub use sql::{Arg, Sql, is_sqlite, like_contains, rows_per_statement};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// From the batched SQLite writer (`batch`).
    #[error("database error: {0}")]
    Sqlite(batch::SqliteFailure),
    /// The batched SQLite writer's thread is gone (it panicked, or the
    /// runtime it returns connections to has stopped).
    #[error("the database writer has stopped")]
    WriterGone,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The storage, not the request, is at fault and will likely recover by
    /// itself: a full disk, a read-only file system, an I/O error, the
    /// database busy or out of reach. Answered with 503 and Retry-After.
    pub fn is_unavailable(&self) -> bool {
        let e = match self {
            StoreError::Db(e) => e,
            StoreError::Sqlite(f) => {
                return f.code.is_some_and(|c| unavailable_code(&c.to_string()));
            }
            StoreError::WriterGone => return true,
            _ => return false,
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::InvalidSavePointStatement
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| unavailable_code(&c)),
            _ => false,
        }
    }
}

/// SQLite result codes and PostgreSQL SQLSTATEs that mean the storage
/// cannot take writes now.
fn unavailable_code(code: &str) -> bool {
    // PostgreSQL (five characters, which may all be digits): disk full, out
    // of memory or other resources, read-only transaction, connection
    // failures, the server shutting down.
    if code.len() == 5 {
        return matches!(
            code,
            "53100" | "53200" | "53000" | "25006" | "57P01" | "57P02" | "57P03"
        ) || code.starts_with("08");
    }
    // SQLite: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR,
    // SQLITE_FULL, SQLITE_CANTOPEN (extended codes keep the primary in the low byte).
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// Why a write did not happen; nothing was changed in any case.
#[derive(Debug)]
pub enum WriteError {
    Invalid(crate::validate::FieldError),
    NotFound,
    Conflict(String),
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}
impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        WriteError::Store(StoreError::Db(e))
    }
}
impl From<crate::validate::FieldError> for WriteError {
    fn from(e: crate::validate::FieldError) -> Self {
        WriteError::Invalid(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Where write transactions run. On SQLite a pool of one connection:
    /// SQLite has one writer at a time, and writers that contend for its
    /// lock wait in its busy handler, which sleeps 1, 2, 5, 10 … ms between
    /// tries; queueing for this one connection instead wakes the next
    /// writer the moment the last one commits. On PostgreSQL the same pool.
    writer: AnyPool,
    /// PostgreSQL: connections that hold advisory locks across transactions
    /// (`lock`), apart from `pool` so that a daemon waiting for a lock never
    /// holds a connection the lock's holder needs to finish.
    locks: Option<AnyPool>,
    /// Writes that failed and were tried again (a notice's later pages):
    /// how often the database refused work it later took.
    pub retried_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whose view this handle is ([`Db::scoped`]); `None`: the daemon's own.
    scope: Option<std::sync::Arc<Scope>>,
    /// SQLite (a database file): the batched writer the hot writes take
    /// (answers, delivery outcomes, ledger writes through the API): a
    /// whole transaction in one hand-off, group-committed (`batch`).
    batch: Option<std::sync::Arc<batch::Writer>>,
}

impl Db {
    /// Opens (and for SQLite creates) the database and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_parent(url)?;
        }
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url)?;
        let pool_opts = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        let (pool, writer) = match backend {
            // Pragmas are per connection: set them on every new connection, not
            // once on whichever connection the pool hands out first.
            // No ping before each use on SQLite: a connection to a local file
            // does not go stale, and the ping is one more round trip to the
            // connection's thread (on the writer, while holding the lock).
            Backend::Sqlite => {
                let pool = sqlite_pragmas(pool_opts.test_before_acquire(false))
                    .connect_with(opts.clone())
                    .await?;
                let writer = sqlite_pragmas(
                    AnyPoolOptions::new()
                        .max_connections(1)
                        .test_before_acquire(false)
                        .acquire_timeout(Duration::from_secs(30)),
                )
                .connect_with(opts.clone())
                .await?;
                (pool, writer)
            }
            Backend::Postgres => {
                let pool = pool_opts.connect_with(opts.clone()).await?;
                (pool.clone(), pool)
            }
        };
        let locks = (backend == Backend::Postgres).then(|| {
            AnyPoolOptions::new()
                .max_connections((max_connections / 2).max(2))
                .acquire_timeout(Duration::from_secs(60))
                .connect_lazy_with(opts)
        });
        let mut db = Db {
            pool,
            backend,
            writer,
            locks,
            retried_writes: Default::default(),
            scope: None,
            batch: None,
        };
        db.migrate().await?;
        if backend == Backend::Sqlite
            && std::env::var("FENGHUO_SQLITE_BATCH").as_deref() != Ok("off")
            && let Some(path) = sqlite_file(&url)
        {
            db.batch = Some(std::sync::Arc::new(batch::Writer::start(
                &path,
                db.writer.clone(),
            )?));
        }
        Ok(db)
    }

    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then
    /// writes fails with SQLITE_BUSY when another writer got in between.
    /// It runs on the writer connection (see [`Db::writer`]), so it must not
    /// wait for another write transaction of this process while it is open.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let started = std::time::Instant::now();
        let tx = self.begin_waiting().await;
        crate::telemetry::metrics()
            .db_write_wait_seconds
            .observe(started.elapsed().as_secs_f64());
        let mut tx = tx?;
        self.enter(&mut tx).await?;
        Ok(tx)
    }

    /// The pools, named as the metrics name them: on SQLite `read` and
    /// `write` (the one writer connection), on PostgreSQL `main`.
    pub fn pools(&self) -> Vec<(&'static str, &AnyPool)> {
        match self.backend {
            Backend::Sqlite => vec![("read", &self.pool), ("write", &self.writer)],
            Backend::Postgres => vec![("main", &self.pool)],
        }
    }

    /// [`Db::begin`] without the timing: waits for the writer and begins.
    async fn begin_waiting(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let _wanted = self.batch.as_ref().map(|b| b.want_gate());
        Ok(match self.backend {
            Backend::Sqlite => match self.writer.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => tx,
                // A COMMIT that failed on a full disk is rolled back by SQLite,
                // but sqlx still counts the transaction open, and every BEGIN
                // on that connection fails from then on. Replace the connection.
                Err(sqlx::Error::InvalidSavePointStatement | sqlx::Error::BeginFailed) => {
                    tracing::warn!(
                        "the SQLite writer connection was left in a failed transaction; replacing it"
                    );
                    if let Ok(c) = self.writer.acquire().await {
                        let _ = sqlx::Connection::close(c.detach()).await;
                    }
                    self.writer.begin_with("BEGIN IMMEDIATE").await?
                }
                Err(e) => return Err(e.into()),
            },
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// The batched SQLite writer, where there is one (a SQLite file, unless
    /// `FENGHUO_SQLITE_BATCH=off`); `None` on PostgreSQL, whose writes keep
    /// their sqlx paths.
    pub fn batched(&self) -> Option<&batch::Writer> {
        self.batch.as_deref()
    }

    /// The pool for single-statement writes that are frequent enough to
    /// contend (the outbox's claims): on SQLite the one writer connection.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A small write transaction, as every write needs one: fails while the
    /// disk is full or the database read-only, and works again when they are
    /// fixed. `/readyz` uses it so that it does not say ready while writes fail.
    pub async fn probe_write(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('readyz_probe', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(now_ms().to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has row locks; SQLite has one
    /// writer at a time, so its claim is already exclusive.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Runs `inner` (a SELECT of exactly `columns`) and returns its rows.
    /// On SQLite the rows come back as one JSON array built by SQLite
    /// (`json_group_array`): sqlx's SQLite driver hands each row from its
    /// worker thread to the async side on its own, ~8–15 µs a row on a
    /// busy two-core machine, which made resolving 10k recipients take
    /// ~160 ms. The order of the array is not promised: callers that care
    /// sort. On PostgreSQL the rows are fetched as usual (its `json_agg`
    /// measured slower than decoding the rows).
    pub async fn fetch_rows<T>(&self, inner: &Sql, columns: &str) -> Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned
            + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>
            + Send
            + Unpin,
    {
        match self.backend {
            Backend::Postgres if self.scope.is_some() => {
                let mut tx = self.read().await?;
                let rows = inner.query_as().fetch_all(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows)
            }
            Backend::Postgres => Ok(inner.query_as().fetch_all(&self.pool).await?),
            Backend::Sqlite => {
                let json = self.fetch_json(inner, columns).await?;
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))
            }
        }
    }

    /// The rows of `inner` (a SELECT of exactly `columns`) as one JSON
    /// array of arrays, for callers that parse it themselves (borrowing
    /// text from it). Meant for SQLite; see [`Db::fetch_rows`].
    pub async fn fetch_json(&self, inner: &Sql, columns: &str) -> Result<String> {
        let text = match self.backend {
            Backend::Sqlite => format!(
                "SELECT json_group_array(json_array({columns})) FROM ({}) AS q",
                inner.text
            ),
            Backend::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_array({columns})), '[]')::text FROM ({}) AS q",
                inner.text
            ),
        };
        let wrapped = Sql {
            text,
            args: inner.args.clone(),
        };
        let (json,): (String,) = if self.backend == Backend::Postgres && self.scope.is_some() {
            let mut tx = self.read().await?;
            let row = wrapped.query_as().fetch_one(&mut *tx).await?;
            tx.commit().await?;
            row
        } else {
            wrapped.query_as().fetch_one(&self.pool).await?
        };
        Ok(json)
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        let v: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|v| v.0))
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn sqlite_pragmas(opts: AnyPoolOptions) -> AnyPoolOptions {
    opts.after_connect(|conn, _meta| {
        Box::pin(async move {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
            )
            .await?;
            Ok(())
        })
    })
}

/// The file of a SQLite URL; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<String> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(path.to_string())
}

fn ensure_sqlite_parent(url: &str) -> Result<()> {
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    let path = path.as_str();
    if let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Current time as UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn bool_i(b: bool) -> i64 {
    i64::from(b)
}

impl WriteError {
    pub fn field(field: &str, message: impl Into<String>) -> WriteError {
        WriteError::Invalid(crate::validate::FieldError {
            field: field.into(),
            message: message.into(),
        })
    }
}

/// A 409 unless the version the editor saw (when given) is the current one.
pub fn check_version(
    entity: &str,
    id: i64,
    current: i64,
    seen: Option<i64>,
) -> Result<(), WriteError> {
    match seen {
        Some(v) if v != current => Err(WriteError::Conflict(format!(
            "{entity} {id} was changed by someone else (now version {current}, you edited {v})"
        ))),
        _ => Ok(()),
    }
}

/// A conditional UPDATE (`… AND version = $n`) that touched no row: someone
/// else saved in between.
pub fn changed_meanwhile(entity: &str, id: i64, rows_affected: u64) -> Result<(), WriteError> {
    if rows_affected == 0 {
        Err(WriteError::Conflict(format!(
            "{entity} {id} was changed by someone else"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn storage_faults_are_told_from_bad_requests() {
        // SQLite: full, an I/O error while writing (extended), read-only, busy.
        for c in ["13", "778", "8", "5", "1032"] {
            assert!(unavailable_code(c), "{c}");
        }
        // SQLite: a constraint, a unique violation (extended), a syntax error.
        for c in ["19", "2067", "1"] {
            assert!(!unavailable_code(c), "{c}");
        }
        // PostgreSQL: disk full, read-only, connection lost, shutting down.
        for c in ["53100", "25006", "08006", "57P01"] {
            assert!(unavailable_code(c), "{c}");
        }
        // PostgreSQL: unique violation, not-null, raised by a trigger.
        for c in ["23505", "23502", "P0001"] {
            assert!(!unavailable_code(c), "{c}");
        }
    }
}

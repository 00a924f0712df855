//! SQLite's batched writer (group commit): one OS thread owns a write
//! connection (rusqlite, on the same libsqlite3 as sqlx) and runs the jobs
//! queued for it synchronously, several to a transaction.
//!
//! Through sqlx every statement is a round trip between the async runtime
//! and the connection's own thread, four or five of them per answer while
//! SQLite's only write lock is held. Here a job is a closure that runs all
//! its statements on the writer's thread in one hand-off, and the jobs
//! waiting when a batch starts share its transaction: each inside its own
//! `SAVEPOINT`, so a job that fails is rolled back to it and fails only its
//! own caller, while the others commit. Callers are answered only after the
//! `COMMIT`: an acknowledged write is durable (WAL, `synchronous = NORMAL`:
//! durable against a crash of the process, as every other write here).
//!
//! Fairness: jobs run in arrival order; a batch closes after [`MAX_JOBS`]
//! jobs or [`MAX_BATCH`] of work, so a slow job delays the others by its own
//! length at most and never holds a batch open behind it.
//!
//! The sqlx writer (`Db::begin`) and this writer exclude each other: the
//! writer holds the sqlx writer pool's one connection (the gate) while it
//! runs, so neither waits in SQLite's busy handler (which sleeps between
//! tries). Once it has the gate it runs batch after batch while jobs wait,
//! for up to [`MAX_HOLD`], then lets the sqlx writes waiting for the gate
//! (a notice's pages, the outbox's claims) have their turn.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Arg, Sql, StoreError};

/// Jobs in one transaction at most.
pub const MAX_JOBS: usize = 256;
/// How long a batch keeps taking queued jobs once it has started.
pub const MAX_BATCH: Duration = Duration::from_millis(4);
/// How long the writer keeps the gate (see [`Writer::start`]) for batch
/// after batch while jobs wait, before the sqlx writes waiting for it get
/// their turn.
pub const MAX_HOLD: Duration = Duration::from_millis(20);
/// How long the writer keeps the gate with nothing queued, for a job about
/// to come, while no sqlx write asks for it.
pub const LINGER: Duration = Duration::from_millis(1);

/// A failure of SQLite seen through rusqlite: its (extended) result code,
/// when it has one, and the message. Clonable, so that a failed `COMMIT`
/// can fail every job of its batch.
#[derive(Debug, Clone)]
pub struct SqliteFailure {
    pub code: Option<i32>,
    pub message: String,
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) => write!(f, "{} (code {c})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
            _ => None,
        };
        StoreError::Sqlite(SqliteFailure {
            code,
            message: e.to_string(),
        })
    }
}

impl StoreError {
    /// The same failure again, for another job of the batch it failed.
    fn again(&self) -> StoreError {
        match self {
            StoreError::Sqlite(f) => StoreError::Sqlite(f.clone()),
            StoreError::WriterGone => StoreError::WriterGone,
            other => StoreError::Sqlite(SqliteFailure {
                code: None,
                message: other.to_string(),
            }),
        }
    }
}

/// The writer's connection, as a job sees it: statements built with
/// [`Sql`] (the same text and arguments the sqlx paths use), rows decoded
/// through serde from an array of the row's columns (a tuple, or a struct
/// deriving `Deserialize` with the columns in order).
pub struct SyncConn<'a> {
    conn: &'a Connection,
}

impl SyncConn<'_> {
    fn prepare(&self, sql: &Sql) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
        let mut st = self.conn.prepare_cached(&sql.text)?;
        for i in 1..=st.parameter_count() {
            // `$N` names the N-th argument (the same placeholder may come
            // twice, and a statement's text may name them out of order).
            let n = match st.parameter_name(i) {
                Some(name) => name
                    .strip_prefix('$')
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(i),
                None => i,
            };
            let Some(arg) = sql.args.get(n - 1) else {
                return Err(StoreError::Sqlite(SqliteFailure {
                    code: None,
                    message: format!("no argument for placeholder {i} of: {}", sql.text),
                }));
            };
            match arg {
                Arg::I(v) => st.raw_bind_parameter(i, v)?,
                Arg::F(v) => st.raw_bind_parameter(i, v)?,
                Arg::T(v) => st.raw_bind_parameter(i, v.as_str())?,
                Arg::NullI | Arg::NullT | Arg::NullF => {
                    st.raw_bind_parameter(i, rusqlite::types::Null)?
                }
            }
        }
        Ok(st)
    }

    /// Runs a statement; returns the rows it changed.
    pub fn execute(&self, sql: &Sql) -> Result<u64, StoreError> {
        let mut st = self.prepare(sql)?;
        Ok(st.raw_execute()? as u64)
    }

    /// Every row of a query.
    pub fn fetch_all<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Vec<T>, StoreError> {
        let mut st = self.prepare(sql)?;
        let columns = st.column_count();
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for c in 0..columns {
                values.push(match row.get_ref(c)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::from(i),
                    ValueRef::Real(f) => serde_json::Number::from_f64(f)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(
                serde_json::from_value(Value::Array(values))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        Ok(out)
    }

    /// The first row of a query, if any.
    pub fn fetch_optional<T: DeserializeOwned>(&self, sql: &Sql) -> Result<Option<T>, StoreError> {
        Ok(self.fetch_all(sql)?.into_iter().next())
    }

    /// The first row of a query; none is an error (as sqlx's `fetch_one`).
    pub fn fetch_one<T: DeserializeOwned>(&self, sql: &Sql) -> Result<T, StoreError> {
        self.fetch_optional(sql)?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}

/// What a job leaves to do once its batch has committed (or failed):
/// answer its caller.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A queued job: given the connection (or why there is none), it runs and
/// says whether it succeeded.
type Job = Box<dyn FnOnce(Result<&SyncConn<'_>, &StoreError>) -> (bool, Finish) + Send>;

/// A job with the moment it was queued (for the queue-wait metric).
struct Queued {
    job: Job,
    queued: Instant,
}

/// The handle to the writer's thread; the thread ends when every handle
/// is dropped.
#[derive(Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Queued>,
    commits: Arc<AtomicU64>,
    /// sqlx write transactions waiting for the gate (`Db::begin`).
    wanted: Arc<AtomicUsize>,
}

impl Writer {
    /// Opens the write connection to the database file at `path` and starts
    /// the thread. `gate` is the sqlx writer pool the batches exclude.
    pub fn start(path: &str, gate: sqlx::AnyPool) -> Result<Writer, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
        )?;
        conn.set_prepared_statement_cache_capacity(128);
        let (jobs, queue) = mpsc::channel::<Queued>();
        let rt = tokio::runtime::Handle::current();
        let commits = Arc::new(AtomicU64::new(0));
        let counted = commits.clone();
        let wanted = Arc::new(AtomicUsize::new(0));
        let asked = wanted.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, queue, gate, rt, &counted, &asked))
            .map_err(|e| StoreError::DataDir {
                path: path.to_string(),
                source: e,
            })?;
        Ok(Writer {
            jobs,
            commits,
            wanted,
        })
    }

    /// Counts a sqlx write transaction waiting for the gate while the
    /// returned guard lives: the writer then gives the gate up as soon as
    /// its queue is empty instead of keeping it a moment for the next job.
    pub fn want_gate(&self) -> WantGate {
        self.wanted.fetch_add(1, Ordering::Relaxed);
        WantGate(self.wanted.clone())
    }

    /// Transactions committed so far (each of one batch of jobs).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `f` in a transaction of the writer (with other jobs, each in
    /// its own savepoint) and returns its result once that transaction has
    /// committed. An `Err` from `f` rolls back what `f` did, and only that.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&SyncConn<'_>) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            let r = match conn {
                Ok(c) => f(c),
                Err(e) => Err(E::from(e.again())),
            };
            let ok = r.is_ok();
            let finish: Finish = Box::new(move |failed: Option<&StoreError>| {
                let r = match (r, failed) {
                    (Ok(_), Some(e)) => Err(E::from(e.again())),
                    (r, _) => r,
                };
                let _ = tx.send(r);
            });
            (ok, finish)
        });
        self.jobs
            .send(Queued {
                job,
                queued: Instant::now(),
            })
            .map_err(|_| E::from(StoreError::WriterGone))?;
        rx.await.map_err(|_| E::from(StoreError::WriterGone))?
    }
}

/// See [`Writer::want_gate`].
pub struct WantGate(Arc<AtomicUsize>);

impl Drop for WantGate {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn serve(
    conn: Connection,
    queue: mpsc::Receiver<Queued>,
    gate: sqlx::AnyPool,
    rt: tokio::runtime::Handle,
    commits: &AtomicU64,
    wanted: &AtomicUsize,
) {
    let sync = SyncConn { conn: &conn };
    let m = crate::telemetry::metrics();
    while let Ok(first) = queue.recv() {
        // Hold the sqlx writer's one connection: no `Db::begin` transaction
        // is open meanwhile, so BEGIN IMMEDIATE does not wait for the lock.
        let waited = Instant::now();
        let lease = catch_unwind(AssertUnwindSafe(|| rt.block_on(gate.acquire())))
            .map_err(|_| StoreError::WriterGone)
            .and_then(|r| r.map_err(StoreError::from));
        m.db_batch_gate_wait_seconds
            .observe(waited.elapsed().as_secs_f64());
        let held = Instant::now();
        let mut next = Some(first);
        // While the gate is held, batch after batch as long as jobs wait
        // (up to MAX_HOLD): a batch closed after MAX_BATCH once waited for
        // the gate again behind the sqlx writes (a notice's pages, the
        // outbox's claims), and during a fan-out that wait, not the work,
        // set how many jobs an hour the writer could do.
        while let Some(first) = next.take() {
            let begun = lease
                .as_ref()
                .map_err(StoreError::again)
                .and_then(|_| Ok(conn.execute_batch("BEGIN IMMEDIATE")?));
            let finishes = run_batch(&conn, &sync, &queue, first, &begun, m);
            let committed = match &begun {
                Ok(()) => conn.execute_batch("COMMIT").map_err(StoreError::from),
                Err(e) => Err(e.again()),
            };
            if committed.is_ok() {
                commits.fetch_add(1, Ordering::Relaxed);
            }
            if committed.is_err() && !conn.is_autocommit() {
                // A COMMIT refused (disk full) leaves the transaction open.
                let _ = conn.execute_batch("ROLLBACK");
            }
            for finish in finishes {
                finish(committed.as_ref().err());
            }
            if lease.is_ok() && held.elapsed() < MAX_HOLD {
                next = match queue.try_recv() {
                    Ok(job) => Some(job),
                    // Nothing queued: keep the gate a moment for the next
                    // job unless a sqlx write waits for it. Giving it back
                    // and taking it again costs a turn of the async
                    // runtime each way (the pool returns a connection on a
                    // task of its own), which under load was most of a
                    // quiet API write's wait.
                    Err(_) if wanted.load(Ordering::Relaxed) == 0 => {
                        queue.recv_timeout(LINGER).ok()
                    }
                    Err(_) => None,
                };
            }
        }
        if let Ok(lease) = lease {
            // Returning it to the pool needs the runtime.
            let _ = catch_unwind(AssertUnwindSafe(|| rt.block_on(async move { drop(lease) })));
        }
    }
}

/// Runs `first` and the jobs queued behind it, each in its own savepoint
/// of the transaction `begun`, until MAX_JOBS or MAX_BATCH; returns how to
/// answer their callers once the transaction has ended.
fn run_batch(
    conn: &Connection,
    sync: &SyncConn<'_>,
    queue: &mpsc::Receiver<Queued>,
    first: Queued,
    begun: &Result<(), StoreError>,
    m: &crate::telemetry::Metrics,
) -> Vec<Finish> {
    let started = Instant::now();
    let mut finishes: Vec<Finish> = Vec::new();
    let mut next = Some(first);
    while let Some(Queued { job, queued }) = next.take() {
        m.db_batch_queue_seconds
            .observe(queued.elapsed().as_secs_f64());
        let ran = match begun {
            Err(e) => run_job(job, Err(e)),
            Ok(()) => match conn.execute_batch("SAVEPOINT job") {
                Err(e) => run_job(job, Err(&StoreError::from(e))),
                Ok(()) => {
                    let (ok, finish) = run_job(job, Ok(sync));
                    let end = if ok {
                        "RELEASE job"
                    } else {
                        "ROLLBACK TO job; RELEASE job"
                    };
                    if let Err(e) = conn.execute_batch(end) {
                        tracing::error!(error = %e, "ending a job's savepoint");
                    }
                    (ok, finish)
                }
            },
        };
        finishes.push(ran.1);
        if finishes.len() < MAX_JOBS && started.elapsed() < MAX_BATCH {
            next = queue.try_recv().ok();
        }
    }
    finishes
}

/// Runs one job; a job that panics fails (its caller hears that the writer
/// is gone) without taking the thread with it.
fn run_job(job: Job, conn: Result<&SyncConn<'_>, &StoreError>) -> (bool, Finish) {
    match catch_unwind(AssertUnwindSafe(|| job(conn))) {
        Ok(r) => r,
        Err(_) => (false, Box::new(|_| {})),
    }
}

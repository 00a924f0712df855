//! `fenghuo backup DIR` and `fenghuo restore FILE`.
//!
//! SQLite: `VACUUM INTO` a temporary file in DIR. It reads the database in
//! one read transaction, so the copy is the database as of one instant
//! while the daemon goes on writing (WAL readers do not block the writer),
//! and it is one statement on the driver we already use: no raw handle, no
//! FFI. The online backup API copies page by page and starts again whenever
//! another connection writes, unless it copies everything in one step under
//! one read lock, which is what `VACUUM INTO` does anyway. The copy comes
//! out compacted and in rollback-journal mode: one self-contained file.
//! SQLite does not fsync it, so we do, check it, and only then rename it to
//! its final name.
//!
//! PostgreSQL: `pg_dump --format=custom` when it is on PATH, into the same
//! naming scheme; otherwise a refusal that prints the command to run.
//! Restoring a PostgreSQL database is left to `pg_restore` (printed).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("备份目录不存在 / the backup directory does not exist: {0}")]
    DirMissing(PathBuf),
    #[error("不是目录 / not a directory: {0}")]
    NotADir(PathBuf),
    #[error("磁盘已满，未写出备份 / the disk is full, no backup written: {0}")]
    DiskFull(PathBuf),
    #[error("无法写入 / cannot write {path}: {cause}")]
    Write { path: PathBuf, cause: io::Error },
    #[error("已存在，未覆盖 / exists already, not overwritten: {0}")]
    Exists(PathBuf),
    #[error("数据库文件不存在 / the database file does not exist: {0}")]
    SourceMissing(PathBuf),
    #[error("无法读取数据库 / cannot read the database {path}: {cause}")]
    Source { path: PathBuf, cause: sqlx::Error },
    #[error("复制数据库失败 / copying the database into {path} failed: {cause}")]
    Copy { path: PathBuf, cause: sqlx::Error },
    #[error("备份文件不存在 / no such backup file: {0}")]
    BackupMissing(PathBuf),
    #[error("不是 SQLite 数据库文件 / not a SQLite database file: {0}")]
    NotSqlite(PathBuf),
    #[error("文件已损坏（完整性检查未通过）/ the file is corrupt (integrity check failed): {0}")]
    Corrupt(String),
    #[error("不是烽火数据库 / not a Fenghuo database: {0}")]
    NotFenghuo(String),
    #[error(
        "备份来自更新的烽火版本 / {file} is from a newer fenghuo: its migration {found} is newer than {known}, the newest this binary knows; upgrade fenghuo first"
    )]
    TooNew {
        file: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("与本版本不兼容 / not compatible with this fenghuo: {0}")]
    Incompatible(String),
    #[error(
        "守护进程正在使用该数据库 / a fenghuo daemon is using this database (it holds {0}): stop it first (systemctl stop fenghuo)"
    )]
    DaemonRunning(PathBuf),
    #[error("{0}")]
    Postgres(String),
    #[error("pg_dump 失败 / pg_dump failed: {0}")]
    PgDump(String),
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;

/// A backup written.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// The newest migration applied in the copy.
    pub migration: i64,
    /// Older backups removed by `--keep`.
    pub pruned: Vec<PathBuf>,
}

/// A restore done.
#[derive(Debug)]
pub struct Restored {
    pub target: PathBuf,
    /// Where the database that was replaced now is (none if there was none).
    pub kept: Option<PathBuf>,
    pub copy: Inspected,
    /// The newest migration this binary knows (applied at the next start).
    pub known: i64,
    pub key: KeyCheck,
}

/// What a Fenghuo SQLite file holds, as far as backup and restore care.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub migration: i64,
    pub villages: i64,
    pub contacts: i64,
    pub sites: i64,
    /// The answer key the database's links were made with (its fingerprint).
    pub answer_key_fingerprint: Option<String>,
}

/// Whether the daemon will accept the answer key file beside the restored
/// database: it refuses to start with another key than the links were made with.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Matches,
    /// The database has no links yet: any key will do.
    NotNeeded,
    /// No key file: copy the one from where the backup was made.
    Missing(PathBuf),
    /// A different key file (or one that cannot be read) is there.
    Differs(PathBuf),
}

/// The SQLite file a database URL names; None for PostgreSQL.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    Some(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// The newest SQLite migration this binary knows (PostgreSQL has some of
/// its own, so the numbers of the two may differ).
pub fn known_migration() -> i64 {
    super::SQLITE_MIGRATIONS
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// `fenghuo backup DIR [--keep N]`: a consistent copy of the configured
/// database in DIR, named by the UTC time it was taken.
pub async fn backup(
    url: &str,
    dir: &Path,
    keep: Option<usize>,
    now: DateTime<Utc>,
) -> Result<Written> {
    check_dir(dir)?;
    let stamp = stamp(now);
    let mut written = match sqlite_file(url) {
        Some(db) => backup_sqlite(&db, dir, &stamp).await?,
        None => backup_postgres(url, dir, &stamp).await?,
    };
    if let Some(keep) = keep {
        written.pruned = prune(dir, extension(url), keep)?;
    }
    Ok(written)
}

fn extension(url: &str) -> &'static str {
    if sqlite_file(url).is_some() {
        ".db"
    } else {
        ".pgdump"
    }
}

fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

fn check_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(BackupError::NotADir(dir.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(BackupError::DirMissing(dir.to_path_buf()))
        }
        Err(cause) => Err(BackupError::Write {
            path: dir.to_path_buf(),
            cause,
        }),
    }
}

/// Removes a temporary file unless it was renamed into place: a failed or
/// interrupted step leaves no partial copy behind.
struct Partial(Option<PathBuf>);

impl Partial {
    /// Creates `path` empty, readable by its owner only (a backup holds
    /// names and phone numbers).
    fn create(path: PathBuf) -> Result<Partial> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(_) => Ok(Partial(Some(path))),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(BackupError::Exists(path)),
            Err(e) => Err(write_error(&path, e)),
        }
    }

    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    /// It was moved into place by the caller: nothing to remove.
    fn placed(mut self) {
        self.0 = None;
    }

    /// Renames it to `to` (never over an existing file's name) and syncs the directory.
    fn finish(mut self, to: &Path) -> Result<()> {
        let from = self.0.take().unwrap_or_default();
        if to.exists() {
            self.0 = Some(from);
            return Err(BackupError::Exists(to.to_path_buf()));
        }
        if let Err(e) = fs::rename(&from, to) {
            self.0 = Some(from);
            return Err(write_error(to, e));
        }
        sync_dir(to)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(&p);
            for suffix in ["-journal", "-wal", "-shm"] {
                let _ = fs::remove_file(with_suffix(&p, suffix));
            }
        }
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_error(path: &Path, e: io::Error) -> BackupError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        BackupError::DiskFull(path.to_path_buf())
    } else {
        BackupError::Write {
            path: path.to_path_buf(),
            cause: e,
        }
    }
}

fn sync_file(p: &Path) -> Result<()> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| write_error(p, e))
}

/// A rename is durable once its directory is synced.
fn sync_dir(file: &Path) -> Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| write_error(dir, e))
}

/// The SQLite primary result code of a database error (extended codes keep
/// it in the low byte).
fn sqlite_code(e: &sqlx::Error) -> Option<u32> {
    match e {
        sqlx::Error::Database(d) => d.code()?.parse::<u32>().ok().map(|c| c & 0xff),
        _ => None,
    }
}

const SQLITE_CORRUPT: u32 = 11;
const SQLITE_FULL: u32 = 13;
const SQLITE_NOTADB: u32 = 26;

async fn backup_sqlite(db: &Path, dir: &Path, stamp: &str) -> Result<Written> {
    if !db.exists() {
        return Err(BackupError::SourceMissing(db.to_path_buf()));
    }
    let name = format!("fenghuo-{stamp}.db");
    let path = dir.join(&name);
    if path.exists() {
        return Err(BackupError::Exists(path));
    }
    let partial = Partial::create(dir.join(format!("{name}.partial")))?;
    let source = |cause| BackupError::Source {
        path: db.to_path_buf(),
        cause,
    };
    // Read-write, never created: a read-only connection cannot always open
    // a WAL database (it needs the -shm), and nothing here writes to it.
    let opts = SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(source)?;
    let into = partial.path().to_str().ok_or_else(|| BackupError::Write {
        path: partial.path().to_path_buf(),
        cause: io::Error::other("the path is not UTF-8"),
    })?;
    // The file exists and is empty, which VACUUM INTO accepts: it keeps the
    // mode it was created with.
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(into)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    if let Err(e) = copied {
        return Err(match sqlite_code(&e) {
            Some(SQLITE_FULL) => BackupError::DiskFull(partial.path().to_path_buf()),
            Some(SQLITE_CORRUPT | SQLITE_NOTADB) => source(e),
            _ => BackupError::Copy {
                path: partial.path().to_path_buf(),
                cause: e,
            },
        });
    }
    sync_file(partial.path())?;
    let copy = inspect(partial.path(), partial.path(), true).await?;
    partial.finish(&path)?;
    let (size, sha256) = digest(&path)?;
    Ok(Written {
        path,
        size,
        sha256,
        migration: copy.migration,
        pruned: Vec::new(),
    })
}

/// Opens a SQLite file and checks that it is a sound Fenghuo database:
/// SQLite's integrity check, Fenghuo's first migration applied (same
/// checksum), and the migrations recorded. Newer or unknown migrations are
/// reported by [`check_compatible`], not here: a backup of a database an
/// older binary cannot run is still a backup. Messages name `named` (the
/// file the user gave, when `path` is the copy being checked).
async fn inspect(path: &Path, named: &Path, read_only: bool) -> Result<Inspected> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .read_only(read_only)
        .foreign_keys(false);
    let classify = |e: sqlx::Error| match sqlite_code(&e) {
        Some(SQLITE_NOTADB) => BackupError::NotSqlite(named.to_path_buf()),
        Some(SQLITE_CORRUPT) => BackupError::Corrupt(format!("{}: {e}", named.display())),
        _ => BackupError::Source {
            path: named.to_path_buf(),
            cause: e,
        },
    };
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(classify)?;
    let result = inspect_on(&mut conn, named).await.map_err(|e| match e {
        Inspect::Db(e) => classify(e),
        Inspect::Found(e) => e,
    });
    let _ = conn.close().await;
    result
}

enum Inspect {
    Db(sqlx::Error),
    Found(BackupError),
}

impl From<sqlx::Error> for Inspect {
    fn from(e: sqlx::Error) -> Self {
        Inspect::Db(e)
    }
}

async fn inspect_on(conn: &mut SqliteConnection, path: &Path) -> Result<Inspected, Inspect> {
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await?;
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        return Err(Inspect::Found(BackupError::Corrupt(format!(
            "{}: {}",
            path.display(),
            shown.join("; ")
        ))));
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
         AND name IN ('_sqlx_migrations', 'meta', 'villages', 'contacts', 'sites')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if tables != 5 {
        return Err(Inspect::Found(BackupError::NotFenghuo(format!(
            "{} has no Fenghuo tables (_sqlx_migrations, meta, villages, contacts, sites)",
            path.display()
        ))));
    }
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    // The first migration creates Fenghuo's tables: its checksum (of the
    // SQL text) tells a Fenghuo database from one that has tables so named.
    let first = super::SQLITE_MIGRATIONS.iter().find(|m| m.version == 1);
    let ours = applied
        .first()
        .zip(first)
        .is_some_and(|((v, sum), m)| *v == 1 && *sum == *m.checksum);
    if !ours {
        return Err(Inspect::Found(BackupError::NotFenghuo(format!(
            "{}: its first migration is not Fenghuo's",
            path.display()
        ))));
    }
    let (villages, contacts, sites): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM villages), (SELECT count(*) FROM contacts), \
         (SELECT count(*) FROM sites)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let answer_key_fingerprint =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'answer_key_fingerprint'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(Inspected {
        migration: applied.last().map_or(0, |a| a.0),
        villages,
        contacts,
        sites,
        answer_key_fingerprint,
    })
}

/// Can this binary run on the database at `path`? Every migration recorded
/// must be one it has, with the same checksum, and finished: the daemon's
/// start would stop on any other (sqlx checks them) after the old database
/// was already replaced.
async fn check_compatible(path: &Path, named: &Path, copy: &Inspected) -> Result<()> {
    let known = known_migration();
    if copy.migration > known {
        return Err(BackupError::TooNew {
            file: named.to_path_buf(),
            found: copy.migration,
            known,
        });
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let source = |cause| BackupError::Source {
        path: named.to_path_buf(),
        cause,
    };
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(source)?;
    let applied: std::result::Result<Vec<(i64, Vec<u8>, bool)>, _> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await;
    let _ = conn.close().await;
    for (version, checksum, success) in applied.map_err(source)? {
        let Some(m) = super::SQLITE_MIGRATIONS
            .iter()
            .find(|m| m.version == version)
        else {
            return Err(BackupError::Incompatible(format!(
                "{}: migration {version} is not one this fenghuo has",
                named.display()
            )));
        };
        if !success {
            return Err(BackupError::Incompatible(format!(
                "{}: migration {version} did not finish in that database",
                named.display()
            )));
        }
        if checksum != *m.checksum {
            return Err(BackupError::Incompatible(format!(
                "{}: migration {version} differs from this fenghuo's",
                named.display()
            )));
        }
    }
    Ok(())
}

/// Size and SHA-256 of a file.
fn digest(path: &Path) -> Result<(u64, String)> {
    let io_err = |cause| BackupError::Io {
        what: format!("reading {}", path.display()),
        cause,
    };
    let mut f = File::open(path).map_err(io_err)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hash.finalize())))
}

/// Whether `name` is a backup this command made: `fenghuo-YYYYMMDDTHHMMSSZ<ext>`.
fn is_backup_name(name: &str, ext: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix("fenghuo-")
        .and_then(|r| r.strip_suffix(ext))
    else {
        return false;
    };
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

/// Keeps the `keep` newest backups of this kind in `dir` (the names sort by
/// time) and removes the older ones; any other file is left alone.
fn prune(dir: &Path, ext: &str, keep: usize) -> Result<Vec<PathBuf>> {
    let io_err = |cause| BackupError::Io {
        what: format!("listing {}", dir.display()),
        cause,
    };
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(io_err)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_backup_name(n, ext))
        .collect();
    // Newest first.
    names.sort_unstable();
    names.reverse();
    let mut pruned = Vec::new();
    for name in names.into_iter().skip(keep.max(1)) {
        let p = dir.join(name);
        fs::remove_file(&p).map_err(|cause| BackupError::Io {
            what: format!("removing {}", p.display()),
            cause,
        })?;
        pruned.push(p);
    }
    Ok(pruned)
}

/// `fenghuo restore FILE`: checks the backup and puts it in place of the
/// configured SQLite database, keeping the one it replaces.
pub async fn restore(
    url: &str,
    file: &Path,
    key_path: &Path,
    now: DateTime<Utc>,
) -> Result<Restored> {
    let Some(target) = sqlite_file(url) else {
        return Err(BackupError::Postgres(postgres_restore_advice(url, file)));
    };
    match fs::metadata(file) {
        Ok(m) if m.is_file() => {}
        _ => return Err(BackupError::BackupMissing(file.to_path_buf())),
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
    // The daemon holds `<db>.lock` while it runs; holding it here also keeps
    // one from starting on the database while it is swapped.
    let _lock = crate::server::lock_database(url).map_err(|e| match e {
        crate::server::ServeError::Locked(lock) => BackupError::DaemonRunning(lock.into()),
        other => BackupError::Io {
            what: "taking the database lock".into(),
            cause: io::Error::other(other.to_string()),
        },
    })?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("fenghuo.db")
        .to_string();
    let stamp = stamp(now);
    // Checked as the copy that will be put in place, in the target's
    // directory (so the rename is atomic), never the user's file itself.
    let partial = Partial::create(dir.join(format!(".{name}.restoring-{stamp}")))?;
    copy_into(file, partial.path())?;
    let copy = inspect(partial.path(), file, false).await?;
    one_file(partial.path(), file).await?;
    check_compatible(partial.path(), file, &copy).await?;
    sync_file(partial.path())?;

    let kept = if target.exists() {
        let kept = dir.join(format!("{name}.before-restore-{stamp}"));
        set_aside(&target, &kept)?;
        Some(kept)
    } else {
        None
    };
    if let Err(e) = fs::rename(partial.path(), &target) {
        // The target is still the old database: give it its WAL back.
        if let Some(kept) = &kept {
            let _ = fs::rename(with_suffix(kept, "-wal"), with_suffix(&target, "-wal"));
        }
        return Err(write_error(&target, e));
    }
    partial.placed();
    sync_dir(&target)?;
    let key = check_key(&copy, key_path);
    Ok(Restored {
        target,
        kept,
        copy,
        known: known_migration(),
        key,
    })
}

fn check_key(copy: &Inspected, key_path: &Path) -> KeyCheck {
    use crate::notify::response::answers::AnswerKey;
    let Some(wanted) = &copy.answer_key_fingerprint else {
        return KeyCheck::NotNeeded;
    };
    if !key_path.exists() {
        return KeyCheck::Missing(key_path.to_path_buf());
    }
    // The file exists, so this only reads it.
    match AnswerKey::load_or_create(key_path) {
        Ok(k) if k.fingerprint() == *wanted => KeyCheck::Matches,
        _ => KeyCheck::Differs(key_path.to_path_buf()),
    }
}

fn copy_into(from: &Path, to: &Path) -> Result<()> {
    let mut src = File::open(from).map_err(|cause| BackupError::Io {
        what: format!("reading {}", from.display()),
        cause,
    })?;
    let mut dst = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(to)
        .map_err(|e| write_error(to, e))?;
    io::copy(&mut src, &mut dst).map_err(|e| write_error(to, e))?;
    dst.sync_all().map_err(|e| write_error(to, e))
}

/// A backup may be a plain copy of a WAL database; make it one
/// self-contained file (rollback journal), as `VACUUM INTO` writes them.
/// The daemon turns WAL on again when it opens it.
async fn one_file(path: &Path, named: &Path) -> Result<()> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let source = |cause| BackupError::Source {
        path: named.to_path_buf(),
        cause,
    };
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(source)?;
    let set = sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    set.map_err(source)?;
    Ok(())
}

/// Keeps the database being replaced as `kept`, with its WAL (the commits
/// not yet checkpointed into the main file) as `kept-wal`, which is where
/// SQLite looks for it when `kept` is opened. The -shm is only an index of
/// the WAL, rebuilt on open, so it goes. The main file is hard-linked first,
/// so the target's name never points at nothing.
fn set_aside(target: &Path, kept: &Path) -> Result<()> {
    let moved = |from: &Path, to: &Path, e: io::Error| BackupError::Io {
        what: format!("keeping {} as {}", from.display(), to.display()),
        cause: e,
    };
    if fs::hard_link(target, kept).is_err() {
        fs::rename(target, kept).map_err(|e| moved(target, kept, e))?;
    }
    for suffix in ["-wal", "-journal"] {
        let from = with_suffix(target, suffix);
        if from.exists() {
            let to = with_suffix(kept, suffix);
            fs::rename(&from, &to).map_err(|e| moved(&from, &to, e))?;
        }
    }
    let shm = with_suffix(target, "-shm");
    if shm.exists() {
        fs::remove_file(&shm).map_err(|e| moved(&shm, Path::new("(removed)"), e))?;
    }
    Ok(())
}

/// The URL with its password taken out (passed to the tools in
/// `PGPASSWORD`, never on a command line `ps` shows), and the password.
fn split_password(url: &str) -> (String, Option<String>) {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return (url.to_string(), None);
    };
    let password = u.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() && u.set_password(None).is_err() {
        return (url.to_string(), None);
    }
    (u.to_string(), password)
}

/// `name` on PATH, as the shell would find it.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn pg_dump_command(url: &str, file: &Path) -> String {
    format!(
        "pg_dump --format=custom --file={} '{}'",
        file.display(),
        split_password(url).0
    )
}

/// What to run to restore a dump on PostgreSQL: into a new, empty
/// database, then point `database_url` at it.
fn postgres_restore_advice(url: &str, file: &Path) -> String {
    let (plain, _) = split_password(url);
    let (server, new_db) = match reqwest::Url::parse(&plain) {
        Ok(u) => {
            let name = u.path().trim_start_matches('/');
            let restored = format!(
                "{}_restored",
                if name.is_empty() { "fenghuo" } else { name }
            );
            let mut admin = u.clone();
            admin.set_path("/postgres");
            let mut target = u;
            target.set_path(&format!("/{restored}"));
            (admin.to_string(), target.to_string())
        }
        Err(_) => (plain.clone(), plain.clone()),
    };
    let db_name = new_db.rsplit('/').next().unwrap_or("fenghuo_restored");
    let db_name = db_name.split('?').next().unwrap_or(db_name);
    format!(
        "PostgreSQL 的恢复用 pg_restore 完成 / on PostgreSQL, restore with pg_restore: \
         stop every fenghuo daemon, then\n  \
         psql '{server}' -c 'CREATE DATABASE {db_name}'\n  \
         pg_restore --no-owner --exit-on-error --single-transaction --dbname='{new_db}' {}\n\
         then set database_url to '{new_db}' (with its password) and start the daemons",
        file.display()
    )
}

async fn backup_postgres(url: &str, dir: &Path, stamp: &str) -> Result<Written> {
    let name = format!("fenghuo-{stamp}.pgdump");
    let path = dir.join(&name);
    let Some(pg_dump) = on_path("pg_dump") else {
        return Err(BackupError::Postgres(format!(
            "PostgreSQL 备份需要 pg_dump（Debian: apt install postgresql-client）/ \
             backing up PostgreSQL needs pg_dump on PATH (Debian: apt install postgresql-client); \
             or run it yourself (password in PGPASSWORD or ~/.pgpass):\n  {}",
            pg_dump_command(url, &path)
        )));
    };
    if path.exists() {
        return Err(BackupError::Exists(path));
    }
    // The migration the dump will hold, read first: it says the URL works.
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|cause| BackupError::Source {
            path: PathBuf::from(split_password(url).0),
            cause,
        })?;
    let migration: std::result::Result<i64, _> =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await;
    let _ = conn.close().await;
    let migration = migration.map_err(|_| {
        BackupError::NotFenghuo(format!(
            "{} has no Fenghuo migrations",
            split_password(url).0
        ))
    })?;

    let partial = Partial::create(dir.join(format!("{name}.partial")))?;
    let (plain, password) = split_password(url);
    let mut cmd = std::process::Command::new(&pg_dump);
    cmd.arg("--format=custom")
        .arg(format!("--file={}", partial.path().display()))
        .arg(format!("--dbname={plain}"));
    if let Some(p) = &password {
        cmd.env("PGPASSWORD", p);
    }
    run_tool(cmd, "pg_dump", partial.path())?;
    sync_file(partial.path())?;
    // pg_restore reads the archive's table of contents: a truncated or
    // garbled dump fails here, before it takes the final name.
    let pg_restore = on_path("pg_restore").unwrap_or_else(|| PathBuf::from("pg_restore"));
    let mut list = std::process::Command::new(pg_restore);
    list.arg("--list").arg(partial.path());
    run_tool(list, "pg_restore --list", partial.path())?;
    partial.finish(&path)?;
    let (size, sha256) = digest(&path)?;
    Ok(Written {
        path,
        size,
        sha256,
        migration,
        pruned: Vec::new(),
    })
}

/// Runs a PostgreSQL client tool to completion; its standard error is the message.
fn run_tool(mut cmd: std::process::Command, what: &str, file: &Path) -> Result<()> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| BackupError::PgDump(format!("{what} did not run: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if text.contains("No space left on device") {
        return Err(BackupError::DiskFull(file.to_path_buf()));
    }
    Err(BackupError::PgDump(format!("{what}: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_commands_names_are_backups() {
        assert!(is_backup_name("fenghuo-20261130T033000Z.db", ".db"));
        assert!(is_backup_name("fenghuo-20261130T033000Z.pgdump", ".pgdump"));
        for other in [
            "fenghuo-20261130T033000Z.pgdump",
            "fenghuo-20261130T033000Z.db.partial",
            "fenghuo-latest.db",
            "fenghuo-2026113OT033000Z.db",
            "fenghuo.db",
            "x-fenghuo-20261130T033000Z.db",
        ] {
            assert!(!is_backup_name(other, ".db"), "{other}");
        }
    }

    #[test]
    fn passwords_stay_off_the_command_line() {
        let (plain, pw) = split_password("postgres://fh:p%40ss@db.lan:5432/fenghuo");
        assert_eq!(plain, "postgres://fh@db.lan:5432/fenghuo");
        assert_eq!(pw.as_deref(), Some("p@ss"));
        let advice = postgres_restore_advice(
            "postgres://fh:secret@db.lan/fenghuo",
            Path::new("/b/x.pgdump"),
        );
        assert!(!advice.contains("secret"), "{advice}");
        assert!(
            advice.contains("pg_restore --no-owner --exit-on-error --single-transaction --dbname='postgres://fh@db.lan/fenghuo_restored' /b/x.pgdump"),
            "{advice}"
        );
        assert!(advice.contains("CREATE DATABASE fenghuo_restored"));
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/fenghuo/fenghuo.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/fenghuo/fenghuo.db"))
        );
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
    }
}

//! `fenghuo backup DIR` and `fenghuo restore FILE`, run as the binary
//! against a running daemon (the library's `TestApp`) on SQLite and
//! PostgreSQL: a backup taken while contacts are being written holds every
//! row committed before it and no half-written one; a restore brings the same
//! rows back over the API; what a restore refuses and what it keeps.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;
use sqlx::Connection;

fn bin(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fenghuo"));
    c.env_remove("FENGHUO_LISTEN")
        .env_remove("FENGHUO_DATA_DIR")
        .env("FENGHUO_DATABASE_URL", url)
        .env("FENGHUO_LOG", "warn");
    c
}

/// Runs the binary off the async runtime (the daemon under test shares it).
async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run fenghuo"))
        .await
        .expect("join")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `fenghuo backup DIR`; asserts success, the printed size and SHA-256,
/// and returns the file written.
async fn backup(url: &str, dir: &Path, keep: Option<u32>) -> (PathBuf, String) {
    let mut c = bin(url);
    c.arg("backup").arg(dir);
    if let Some(k) = keep {
        c.args(["--keep", &k.to_string()]);
    }
    let out = run(c).await;
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.split(key).nth(1))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no '{key}' in: {said}"))
    };
    let path = PathBuf::from(field("backup written: "));
    assert_eq!(path.parent(), Some(dir), "{said}");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // fenghuo-YYYYMMDDTHHMMSSZ.db (or .pgdump), in UTC
    let stamp = name
        .strip_prefix("fenghuo-")
        .and_then(|n| n.split('.').next())
        .unwrap_or_default();
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
            .is_ok_and(|t| { (chrono::Utc::now().naive_utc() - t).num_seconds().abs() < 120 }),
        "{name}"
    );
    let bytes = std::fs::read(&path).expect("read backup");
    assert_eq!(field("size: "), format!("{} bytes", bytes.len()));
    assert_eq!(field("sha256: "), hex::encode(sha2::Sha256::digest(&bytes)));
    assert_no_partial(dir, name);
    (path, stdout)
}

/// Nothing half-done left beside the backup named `name`.
fn assert_no_partial(dir: &Path, name: &str) {
    let partial = dir.join(format!("{name}.partial"));
    assert!(!partial.exists(), "{} was left", partial.display());
}

fn sqlite_url(p: &Path) -> String {
    format!("sqlite://{}", p.display())
}

/// Row counts, and rows whose audit entry is missing (or the reverse): a
/// contact and its audit entry are written in one transaction, so a copy
/// that caught one without the other is not a consistent copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    villages: i64,
    contacts: i64,
    sites: i64,
    audit: i64,
    torn: i64,
}

async fn counts(url: &str) -> Counts {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.expect("connect");
    let one = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let villages = one("SELECT count(*) FROM villages")
        .fetch_one(&mut c)
        .await
        .expect("villages");
    let contacts = one("SELECT count(*) FROM contacts")
        .fetch_one(&mut c)
        .await
        .expect("contacts");
    let sites = one("SELECT count(*) FROM sites")
        .fetch_one(&mut c)
        .await
        .expect("sites");
    let audit = one("SELECT count(*) FROM audit_log")
        .fetch_one(&mut c)
        .await
        .expect("audit");
    let torn = one(
        "SELECT (SELECT count(*) FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM audit_log a \
           WHERE a.entity = 'contact' AND a.action = 'create' AND a.entity_id = c.id)) \
         + (SELECT count(*) FROM audit_log a WHERE a.entity = 'contact' AND a.action = 'create' \
           AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = a.entity_id))",
    )
    .fetch_one(&mut c)
    .await
    .expect("torn");
    let _ = c.close().await;
    Counts {
        villages,
        contacts,
        sites,
        audit,
        torn,
    }
}

fn site_body(name: &str, lon: f64, lat: f64) -> Value {
    json!({
        "name": name, "kind": "fireworks_retail", "risk_grade": "general",
        "location": {"lon": lon, "lat": lat},
        "safety_officer": "王五", "safety_officer_phone": "139 0000 1111",
        "licence": {"number": "(闽)LS〔2025〕0315", "issued_on": "2025-01-10", "expires_on": "2027-01-09"},
        "inventory": [{"chemical": "丙酮", "cas": "67-64-1", "un_number": "UN1090", "hazard_class": "3", "max_quantity": 2.5, "unit": "t"}]
    })
}

/// Two villages, a few contacts and sites; returns the first village's id.
async fn seed(app: &TestApp) -> i64 {
    let mut first = 0;
    for (i, code) in ["350524101201", "350524101202"].into_iter().enumerate() {
        let lon = 118.0 + 0.02 * i as f64;
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": format!("示例{i}村"), "boundary": square(lon, 25.2, 0.01), "population": 800}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        if i == 0 {
            first = v["id"].as_i64().expect("id");
        }
        for j in 0..3 {
            let (s, v) = app
                .post(
                    "/api/v1/contacts",
                    json!({"name": format!("村干部{i}{j}"), "roles": ["村支书"], "village_id": v["id"], "phone": format!("+8613900{i}{j:05}")}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        let (s, v) = app
            .post(
                "/api/v1/sites",
                site_body(&format!("烟花店{i}"), lon + 0.005, 25.205),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    first
}

/// What a user reads back over the API.
async fn readable(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        "/api/v1/villages",
        "/api/v1/contacts?per_page=500",
        "/api/v1/sites?per_page=500",
    ] {
        let (s, v) = app.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        assert!(v["total"].as_i64().unwrap_or(0) > 0, "{path}: {v}");
        all.push(v);
    }
    all
}

/// pg_dump and pg_restore, or a skip (a failure under FENGHUO_TEST_STRICT).
fn pg_tools() -> bool {
    let ok = ["pg_dump", "pg_restore"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok {
        common::skip_or_fail(
            "the PostgreSQL backup test needs pg_dump and pg_restore (apt install postgresql-client)",
        );
    }
    ok
}

/// Restores a custom-format dump into a new empty database as the README
/// says, and returns that database's URL.
async fn pg_restore(file: &Path, dir: &Path) -> String {
    let url = common::fresh_database(Backend::Postgres, dir)
        .await
        .expect("fresh database");
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--single-transaction"])
        .arg(format!("--dbname={url}"))
        .arg(file)
        .output()
        .expect("pg_restore");
    assert!(out.status.success(), "{}", text(&out));
    url
}

/// A backup taken while contacts are being written: it opens, SQLite's
/// integrity check passes, it holds every row committed before it began,
/// and no contact without its audit entry (or the reverse).
async fn backup_while_writing(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    if b == Backend::Postgres && !pg_tools() {
        return app.stop().await;
    }
    let village = seed(&app).await;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (client, base, token) = (app.client.clone(), app.base.clone(), app.admin.clone());
        let (stop, written) = (stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = client
                    .post(format!("{base}/api/v1/contacts"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("网格员{i}"), "roles": ["网格员"], "village_id": village, "phone": format!("+86138{i:08}")}))
                    .send()
                    .await
                    .expect("write");
                assert_eq!(r.status(), StatusCode::CREATED);
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let url = app.cfg.database_url();
    let before = counts(&url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, stdout) = backup(&url, dir.path(), None).await;
    let during = written.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let after = counts(&url).await;
    assert!(
        after.contacts > before.contacts,
        "the writes went on: {before:?} {after:?}"
    );

    let copy_url = match b {
        Backend::Sqlite => {
            sqlx::any::install_default_drivers();
            assert!(file.to_string_lossy().ends_with(".db"));
            let mut c = sqlx::AnyConnection::connect(&format!("{}?mode=ro", sqlite_url(&file)))
                .await
                .expect("the backup opens");
            let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&mut c)
                .await
                .expect("integrity_check");
            assert_eq!(check, ["ok"]);
            let _ = c.close().await;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
                assert_eq!(mode & 0o077, 0, "a backup is readable by its owner only");
            }
            format!("{}?mode=ro", sqlite_url(&file))
        }
        Backend::Postgres => {
            assert!(file.to_string_lossy().ends_with(".pgdump"));
            pg_restore(&file, dir.path()).await
        }
    };
    let copy = counts(&copy_url).await;
    assert_eq!(copy.torn, 0, "a contact without its audit entry: {copy:?}");
    assert_eq!((copy.villages, copy.sites), (before.villages, before.sites));
    assert!(
        copy.contacts >= before.contacts && copy.contacts <= after.contacts,
        "committed before the backup: {before:?}; in it: {copy:?}; after: {after:?}"
    );
    assert!(copy.audit >= before.audit && copy.audit <= after.audit);
    // The migration printed is the one the database is at.
    let (migration,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&app.db().pool)
        .await
        .expect("version");
    assert!(
        stdout.contains(&format!("migration: {migration}")),
        "{stdout}"
    );
    eprintln!(
        "backup during writes: {} contacts before, {} in the copy, {} after ({during} written by then)",
        before.contacts, copy.contacts, after.contacts
    );
    app.stop().await;
}
both!(backup_while_writing);

/// Backed up, then restored into a fresh place (a new SQLite path; on
/// PostgreSQL a new database with pg_restore, as the README says), the
/// daemon started on it serves the same villages, contacts and sites.
async fn restore_into_a_fresh_place(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    if b == Backend::Postgres && !pg_tools() {
        return app.stop().await;
    }
    seed(&app).await;
    let url = app.cfg.database_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, _) = backup(&url, dir.path(), None).await;
    let seen = readable(&app).await;
    // The answer key goes with the database (its links were made with it).
    let key = std::fs::read(app.cfg.answer_key_path()).expect("answer key");
    app.stop().await;

    let fresh = tempfile::tempdir().expect("tempdir");
    let data = fresh.path().join("data");
    let restored_url = match b {
        Backend::Sqlite => {
            let target = data.join("fenghuo.db");
            let target_url = sqlite_url(&target);
            let out = run({
                let mut c = bin(&target_url);
                c.arg("restore").arg(&file);
                c
            })
            .await;
            let said = text(&out);
            assert!(out.status.success(), "{said}");
            assert!(said.contains("there was no database to replace"), "{said}");
            assert!(
                said.contains("contents: 2 villages, 6 contacts, 2 sites"),
                "{said}"
            );
            assert!(
                said.contains("no answer key file"),
                "warns that answer.key must come too: {said}"
            );
            assert!(target.is_file());
            target_url
        }
        Backend::Postgres => {
            // `fenghuo restore` does not write into PostgreSQL: it prints the commands.
            let out = run({
                let mut c = bin(&url);
                c.arg("restore").arg(&file);
                c
            })
            .await;
            let said = text(&out);
            assert!(!out.status.success(), "{said}");
            assert!(
                said.contains(
                    "pg_restore --no-owner --exit-on-error --single-transaction --dbname="
                ),
                "{said}"
            );
            // Without pg_dump on PATH, a backup says what to run instead.
            let empty = tempfile::tempdir().expect("tempdir");
            let out = run({
                let mut c = bin(&url);
                c.env("PATH", empty.path()).arg("backup").arg(dir.path());
                c
            })
            .await;
            let said = text(&out);
            assert!(!out.status.success(), "{said}");
            assert!(said.contains("pg_dump --format=custom --file="), "{said}");
            pg_restore(&file, fresh.path()).await
        }
    };
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::write(data.join("answer.key"), key).expect("key");
    let again = TestApp::start_with(b, |cfg| {
        cfg.database_url = restored_url.clone();
        cfg.data_dir = data.clone();
    })
    .await
    .expect("start on the restored database");
    assert_eq!(readable(&again).await, seen);
    again.stop().await;
}
both!(restore_into_a_fresh_place);

/// A backup made by an older fenghuo (fewer migrations) is restored, and the
/// daemon started on it applies the newer migrations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_backup_is_migrated_when_the_daemon_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.db");
    let known = fenghuo::store::backup::known_migration();
    {
        let m = sqlx::migrate::Migrator::new(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .expect("migrations");
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&old)
            .create_if_missing(true);
        let mut c = sqlx::SqliteConnection::connect_with(&opts)
            .await
            .expect("old db");
        m.run_to(known - 1, &mut c).await.expect("old migrations");
        let _ = c.close().await;
    }
    let data = dir.path().join("data");
    let target = data.join("fenghuo.db");
    let out = run({
        let mut c = bin(&sqlite_url(&target));
        c.arg("restore").arg(&old);
        c
    })
    .await;
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("applies the newer migrations (up to {known})")),
        "{said}"
    );
    let app = TestApp::start_with(Backend::Sqlite, |cfg| {
        cfg.database_url = sqlite_url(&target);
        cfg.data_dir = data.clone();
    })
    .await
    .expect("starts on the restored database");
    let (newest,): (i64,) = sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&app.db().pool)
        .await
        .expect("version");
    assert_eq!(newest, known);
    app.stop().await;
}

/// The names in `dir`, without the daemon's lock file (a restore takes it).
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    v.sort();
    v
}

/// Runs statements on a SQLite file (created if missing).
async fn sqlite_exec(path: &Path, sql: &'static str) {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let mut c = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .expect("open");
    sqlx::raw_sql(sql).execute(&mut c).await.expect("exec");
    let _ = c.close().await;
}

async fn village_codes(path: &Path) -> Result<Vec<String>, sqlx::Error> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    let v = sqlx::query_scalar("SELECT code FROM villages ORDER BY code")
        .fetch_all(&mut c)
        .await;
    let _ = c.close().await;
    v
}

/// What a restore refuses, naming why, with the target left as it was: a
/// daemon running on it, a file that is not SQLite, a SQLite file that is not
/// Fenghuo's, a corrupt backup, one from a newer fenghuo. Then a good one
/// over a database a killed daemon left (commits still in its -wal): the
/// replaced database is kept with its WAL and still holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_what_it_must_and_keeps_the_replaced_database() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    seed(&app).await;
    let url = app.cfg.database_url();
    let live = fenghuo::store::backup::sqlite_file(&url).expect("sqlite");
    let backups = tempfile::tempdir().expect("tempdir");
    let (good, _) = backup(&url, backups.path(), None).await;
    // Written after the backup: in the replaced database, not in the restored one.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "350524101299", "name": "备份后新增村", "boundary": square(118.1, 25.3, 0.01), "population": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A daemon killed now would leave the main file, its -wal and -shm.
    let crashed = tempfile::tempdir().expect("tempdir");
    let target = crashed.path().join("fenghuo.db");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::copy(
            format!("{}{suffix}", live.display()),
            format!("{}{suffix}", target.display()),
        )
        .expect("copy");
    }
    let main_only = crashed.path().join("main-only.db");
    std::fs::copy(&target, &main_only).expect("copy");
    // Without its -wal the main file lacks the new village (here even the
    // tables: a new database lives in its WAL until the first checkpoint).
    assert!(
        !village_codes(&main_only)
            .await
            .unwrap_or_default()
            .contains(&"350524101299".to_string()),
        "the new village is still only in the -wal"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", main_only.display()));
    }
    let untouched = listing(crashed.path());

    let restore = |url: String, file: PathBuf| {
        let mut c = bin(&url);
        c.arg("restore").arg(file);
        run(c)
    };
    // The daemon holds <db>.lock: refused, and the database serves on.
    let out = restore(url.clone(), good.clone()).await;
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("daemon is using this database"), "{said}");
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(app.get("/api/v1/villages").await.1["total"], 3);
    assert!(
        !listing(live.parent().expect("dir"))
            .iter()
            .any(|n| n.contains("before-restore") || n.contains("restoring")),
        "nothing moved"
    );

    let bad = tempfile::tempdir().expect("tempdir");
    let not_sqlite = bad.path().join("notes.db");
    std::fs::write(&not_sqlite, "这不是数据库 / not a database\n".repeat(200)).expect("write");
    let foreign = bad.path().join("other.db");
    // A database that only looks like Fenghuo's: the same table names.
    sqlite_exec(
        &foreign,
        "CREATE TABLE villages (code TEXT); CREATE TABLE _sqlx_migrations (version INTEGER, checksum BLOB); \
         CREATE TABLE meta (key TEXT); CREATE TABLE contacts (id INTEGER); CREATE TABLE sites (id INTEGER); \
         INSERT INTO _sqlx_migrations VALUES (1, x'00');",
    )
    .await;
    let corrupt = bad.path().join("corrupt.db");
    let mut bytes = std::fs::read(&good).expect("read");
    let page = 4096;
    assert!(bytes.len() > 8 * page, "{}", bytes.len());
    for b in &mut bytes[3 * page..6 * page] {
        *b = 0x5a;
    }
    std::fs::write(&corrupt, bytes).expect("write");
    let newer = bad.path().join("newer.db");
    std::fs::copy(&good, &newer).expect("copy");
    sqlite_exec(
        &newer,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .await;
    let missing = bad.path().join("no-such.db");
    for (file, why) in [
        (&not_sqlite, "not a SQLite database file"),
        (&foreign, "not a Fenghuo database"),
        (&corrupt, "corrupt"),
        (&newer, "migration 9999 is newer than"),
        (&missing, "no such backup file"),
    ] {
        let out = restore(sqlite_url(&target), file.clone()).await;
        let said = text(&out);
        assert!(!out.status.success(), "{}: {said}", file.display());
        assert!(said.contains(why), "{}: {said}", file.display());
        assert!(
            said.contains(&file.display().to_string()),
            "names the file given: {said}"
        );
        assert_eq!(listing(crashed.path()), untouched, "{}", file.display());
    }

    let out = restore(sqlite_url(&target), good.clone()).await;
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let kept = said
        .lines()
        .find_map(|l| l.split("kept as: ").nth(1))
        .map(|k| PathBuf::from(k.trim()))
        .unwrap_or_else(|| panic!("{said}"));
    let kept_name = kept
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    assert!(
        kept_name.starts_with("fenghuo.db.before-restore-"),
        "{kept_name}"
    );
    assert_eq!(
        listing(crashed.path()),
        vec![
            "fenghuo.db".to_string(),
            kept_name.clone(),
            format!("{kept_name}-wal")
        ],
        "the target's -wal went with the kept database and its -shm was dropped"
    );
    assert!(
        village_codes(&kept)
            .await
            .expect("the kept database opens")
            .contains(&"350524101299".to_string()),
        "the kept database has what was committed after the backup"
    );
    assert_eq!(village_codes(&target).await.expect("restored").len(), 2);
    app.stop().await;
}

/// A small file system of its own (needs root to mount).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: PathBuf, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            common::skip_or_fail("the backup failure test mounts small tmpfs, which needs root");
            return None;
        }
        Some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A backup into a missing directory, a file, a read-only file system or a
/// full disk, or of a database that is missing or corrupt, fails with a
/// message saying which, and leaves no file behind;
/// `--keep` prunes only this command's older backups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_failures_leave_nothing_and_keep_prunes_only_backups() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    seed(&app).await;
    let url = app.cfg.database_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let attempt = |to: PathBuf| {
        let mut c = bin(&url);
        c.arg("backup").arg(to);
        run(c)
    };

    let out = attempt(dir.path().join("no-such-dir")).await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the backup directory does not exist"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("no-such-dir").exists());

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let out = attempt(file.clone()).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("not a directory"), "{}", text(&out));

    let tag = std::process::id();
    if let Some(ro) = Mount::tmpfs(
        std::env::temp_dir().join(format!("fenghuo-ro-{tag}")),
        "ro,size=1m",
    ) {
        let out = attempt(ro.0.clone()).await;
        assert!(!out.status.success());
        assert!(text(&out).contains("cannot write"), "{}", text(&out));
        assert_eq!(listing(&ro.0), Vec::<String>::new());
    }
    if let Some(small) = Mount::tmpfs(
        std::env::temp_dir().join(format!("fenghuo-small-{tag}")),
        "size=256k",
    ) {
        // Leave less room than the copy needs.
        let filler = small.0.join("filler");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&filler).expect("filler");
            let block = vec![0u8; 4096];
            while f.write_all(&block).is_ok() {}
            let _ = f.sync_all();
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .and_then(|f| {
                let len = f.metadata()?.len();
                f.set_len(len.saturating_sub(16 * 1024))
            })
            .expect("free a little");
        let out = attempt(small.0.clone()).await;
        assert!(!out.status.success());
        assert!(text(&out).contains("the disk is full"), "{}", text(&out));
        assert_eq!(listing(&small.0), vec!["filler".to_string()]);
    }

    // A database that cannot be read: missing, or corrupt.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).expect("mkdir");
    let gone = broken.join("gone.db");
    let out = run({
        let mut c = bin(&sqlite_url(&gone));
        c.arg("backup").arg(dir.path());
        c
    })
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the database file does not exist"),
        "{}",
        text(&out)
    );
    assert!(!gone.exists(), "a backup creates no database");
    let (good, _) = backup(&url, &broken, None).await;
    let corrupt = broken.join("corrupt.db");
    let mut bytes = std::fs::read(&good).expect("read");
    for b in &mut bytes[2 * 4096..] {
        *b = 0x5a;
    }
    std::fs::write(&corrupt, bytes).expect("write");
    std::fs::remove_file(&good).expect("rm");
    let out = run({
        let mut c = bin(&sqlite_url(&corrupt));
        c.arg("backup").arg(&broken);
        c
    })
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot read the database") || text(&out).contains("corrupt"),
        "{}",
        text(&out)
    );
    assert_eq!(listing(&broken), vec!["corrupt.db".to_string()]);

    // --keep N: the N newest of this command's backups stay; nothing else goes.
    let keep = tempfile::tempdir().expect("tempdir");
    let others = [
        "notes.txt",
        "fenghuo-latest.db",
        "fenghuo-20190101T000000Z.pgdump",
        "fenghuo-20190101T000000Z.db.partial",
    ];
    for n in others {
        std::fs::write(keep.path().join(n), "keep me").expect("write");
    }
    for n in [
        "fenghuo-20200101T000000Z.db",
        "fenghuo-20210101T000000Z.db",
        "fenghuo-20220101T000000Z.db",
    ] {
        std::fs::write(keep.path().join(n), "old backup").expect("write");
    }
    let (file, stdout) = backup(&url, keep.path(), Some(2)).await;
    for gone in ["fenghuo-20200101T000000Z.db", "fenghuo-20210101T000000Z.db"] {
        assert!(!keep.path().join(gone).exists(), "{gone}");
        assert!(stdout.contains(&format!("pruned: {}", keep.path().join(gone).display())));
    }
    let mut want: Vec<String> = others.iter().map(|s| s.to_string()).collect();
    want.push("fenghuo-20220101T000000Z.db".into());
    want.push(
        file.file_name()
            .expect("name")
            .to_string_lossy()
            .to_string(),
    );
    want.sort();
    assert_eq!(listing(keep.path()), want);
    let out = run({
        let mut c = bin(&url);
        c.arg("backup").arg(keep.path()).args(["--keep", "0"]);
        c
    })
    .await;
    assert!(!out.status.success(), "--keep 0 would remove every backup");
    app.stop().await;
}

/// The shipped timer and service: daily with catch-up, `--keep`, the
/// daemon's configuration, data directory and user, and every hardening line
/// of fenghuo.service.
#[test]
fn the_backup_units_match_the_daemons() {
    let read = |f: &str| {
        std::fs::read_to_string(format!("{}/deploy/{f}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let daemon = read("fenghuo.service");
    let service = read("fenghuo-backup.service");
    let timer = read("fenghuo-backup.timer");
    let has = |unit: &str, line: &str| unit.lines().any(|l| l.trim() == line);
    let hardening = daemon
        .split("# Hardening")
        .nth(1)
        .and_then(|h| h.split("[Install]").next())
        .expect("fenghuo.service has a hardening section");
    let mut n = 0;
    for line in hardening
        .lines()
        .map(str::trim)
        .filter(|l| l.contains('=') && !l.starts_with('#'))
    {
        assert!(has(&service, line), "fenghuo-backup.service lacks {line}");
        n += 1;
    }
    assert!(n > 20, "{n} hardening lines");
    for line in [
        "Type=oneshot",
        "DynamicUser=yes",
        "User=fenghuo",
        "UMask=0077",
        "Environment=FENGHUO_DATA_DIR=/var/lib/fenghuo",
    ] {
        assert!(has(&service, line), "fenghuo-backup.service lacks {line}");
    }
    let exec = |unit: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("ExecStart")
            .to_string()
    };
    let (d, b) = (exec(&daemon), exec(&service));
    let config = d.split(" serve").next().unwrap_or_default();
    assert!(b.starts_with(config), "same binary and configuration: {b}");
    assert!(b.contains(" backup /") && b.contains(" --keep "), "{b}");
    assert!(has(&timer, "Persistent=true"));
    let when = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar="))
        .expect("OnCalendar");
    assert!(when.ends_with(" Asia/Shanghai"), "{when}");
    match Command::new("systemd-analyze")
        .args(["calendar", when])
        .output()
    {
        Ok(o) => assert!(o.status.success(), "{when}: {}", text(&o)),
        Err(_) => eprintln!("SKIPPED: systemd-analyze is not installed; OnCalendar not parsed"),
    }
}

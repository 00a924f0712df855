//! Several daemons on one PostgreSQL, as a county runs them behind a
//! reverse proxy: three real daemon processes (the built binary) share one
//! fresh database and one SMS provider stand-in on loopback.
//!
//! - A 10,000-contact notice accepted by daemon 1, which is killed (SIGKILL)
//!   midway: the other two finish it (its unwritten pages too, if the kill
//!   came before the 202). Every phone gets the notice, once; the only
//!   second copies are sends the killed daemon had handed to the provider
//!   without recording them, and each of those is marked `maybe_duplicate`.
//!   Every delivery ends `sent`.
//! - With daemon 1 started again (three daemons): two drill reminders due
//!   at once go out once each, and an unanswered notice escalates once per
//!   due moment. The due moments are reached by moving the stored times
//!   (drills' creation, answer deadlines) into the past: the daemons are
//!   driven by what is stored, so that is what time passing does to them.
//! - A dashboard session (and its CSRF token) made on daemon 1 works on
//!   daemons 2 and 3; signing out on one ends it on all. A token revoked on
//!   one daemon is refused by another within `auth::TOKEN_CACHE_TTL`.
//! - A plan reloaded on daemon 1 is the plan in force on 2 and 3 (whose own
//!   files are unchanged) within `planbook::FOLLOW_EVERY`.
//! - `/readyz` answers per daemon: a killed one does not answer, and every
//!   one says not ready (503) while the database refuses connections.
//! - The shipped `deploy/nginx.example.conf`, with this test's addresses,
//!   runs in front of them: one session across the daemons through it, the
//!   public pages and answer links passed on, a client's own
//!   `X-Forwarded-For` not believed, `/metrics` kept in, a killed daemon
//!   stepped around.
//!
//! PostgreSQL only; skipped without it unless `FENGHUO_TEST_STRICT=1`.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind, Sim};
use sqlx::Connection;
use web_client::Web;

const CONTACTS: i64 = 10_000;
/// The daemon accepting the notice is killed when the provider has taken this many.
const KILL_AT: usize = 1_000;
const SECRET: &str = "daemons-secret";
const PASSWORD: &str = "hushang-duty-2026";
const HOUR: i64 = 3_600_000;

const PLAN_V1: &str = r#"id = "flood-daemons"
title = "多守护进程防汛预案"
hazard = "flood_typhoon"
version = "1"
status = "draft"
approved_on = 2025-01-01
approved_by = "湖上乡人民政府"

[templates.t]
title = "{plan}{level}"
body = "{name}：{village}请于{deadline}前打开{link}确认"

[[levels]]
level = 4
conditions = ["1小时降雨20毫米"]
lead = "分管领导"
triggers = { rainstorm_signal = "blue" }
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 30 }]

[[levels]]
level = 3
conditions = ["1小时降雨30毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "yellow" }
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 2
conditions = ["1小时降雨40毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "orange" }
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 10 }]

[[levels]]
level = 1
conditions = ["1小时降雨50毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "red" }
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 5 }]
"#;

struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(config: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("FENGHUO_LOG", "warn")
        .env_remove("FENGHUO_DATABASE_URL")
        .env_remove("FENGHUO_LISTEN")
        .env_remove("FENGHUO_DATA_DIR")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line.split("listening on ").nth(1) {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("daemon started");
    Daemon { child, base }
}

/// Daemon `n`'s configuration: the database, the answer key and the SMS
/// provider shared; its data directory (spool) and plans directory its own.
fn config(dir: &Path, n: usize, url: &str, hook: &str) -> PathBuf {
    let plans = dir.join(format!("plans{n}"));
    std::fs::create_dir_all(&plans).expect("plans dir");
    std::fs::write(plans.join("flood.toml"), PLAN_V1).expect("plan");
    let path = dir.join(format!("daemon{n}.toml"));
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\ndatabase_url = \"{url}\"\n\
             trusted_proxies = [\"127.0.0.1\"]\n\
             plans_dir = \"{plans}\"\nanswer_key_file = \"{key}\"\n\
             [sms]\nprovider = \"webhook\"\nrate_per_second = 1000\nconcurrency = 16\n\
             [sms.webhook]\nurl = \"{hook}\"\nsecret = \"{SECRET}\"\n\
             [email]\nenabled = false\n\
             [delivery]\nlease_secs = 2.0\npoll_ms = 50\nbackoff_base_secs = 0.05\nbackoff_max_secs = 0.2\n\
             [drills]\ncheck_secs = 0.2\nquiet_start = \"00:00\"\nquiet_end = \"00:00\"\n\
             [escalation]\ncheck_secs = 0.2\nrepeats = 2\n",
            data = dir.join(format!("data{n}")).display(),
            plans = plans.display(),
            key = dir.join("answer.key").display(),
        ),
    )
    .expect("config");
    path
}

async fn scalar(db: &fenghuo::store::Db, sql: &str, id: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect(sql);
    n
}

/// Waits until `done` holds, checking every 100 ms; panics with `what` after `secs`.
async fn until<F, Fut>(secs: u64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages the provider accepted, per phone, whose text contains `marker`.
fn per_phone(sim: &Sim, marker: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in sim.accepted() {
        if r.text.contains(marker) {
            *m.entry(r.to).or_insert(0) += 1;
        }
    }
    m
}

struct Proxy {
    child: Child,
    base: String,
    http: String,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// nginx with `deploy/nginx.example.conf` as an operator would fill it in:
/// these daemons as the upstream, loopback ports, a throwaway certificate.
fn proxy(dir: &Path, daemons: &[String]) -> Option<Proxy> {
    if Command::new("nginx").arg("-v").output().is_err() {
        common::skip_or_fail(
            "nginx is not installed (apt-get install nginx-light): the proxy example was not run",
        );
        return None;
    }
    let ng = dir.join("nginx");
    std::fs::create_dir_all(ng.join("logs")).expect("nginx dir");
    let (crt, key) = (ng.join("site.crt"), ng.join("site.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output();
    assert!(
        made.is_ok_and(|o| o.status.success()),
        "openssl made a certificate"
    );
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/nginx.example.conf"
    ))
    .expect("the example");
    let upstream: String = daemons
        .iter()
        .map(|b| {
            format!(
                "    server {} max_fails=2 fail_timeout=10s;\n",
                b.trim_start_matches("http://")
            )
        })
        .collect();
    let mut site = String::new();
    let mut placed = false;
    for line in example.lines() {
        if line.trim_start().starts_with("server 10.0.0.") {
            if !placed {
                site.push_str(&upstream);
                placed = true;
            }
            continue;
        }
        site.push_str(line);
        site.push('\n');
    }
    let (http, https) = (free_port(), free_port());
    let site = site
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{https} ssl;"))
        .replace(
            "/etc/nginx/tls/yjb.example.gov.cn.crt",
            &crt.display().to_string(),
        )
        .replace(
            "/etc/nginx/tls/yjb.example.gov.cn.key",
            &key.display().to_string(),
        );
    assert!(
        placed && site.contains(&format!("{https} ssl;")) && site.contains("site.crt"),
        "the example's upstream, listen and certificate lines are where an operator edits them"
    );
    std::fs::write(ng.join("site.conf"), site).expect("site");
    let p = ng.display();
    std::fs::write(
        ng.join("nginx.conf"),
        format!(
            "pid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{}}\nhttp {{\n\
             access_log {p}/logs/access.log;\ninclude {p}/site.conf;\n}}\n"
        ),
    )
    .expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(&ng)
        .arg("-c")
        .arg(ng.join("nginx.conf"))
        // One process (no workers left behind by a kill), its output in logs/.
        .args(["-g", "daemon off; master_process off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nginx");
    Some(Proxy {
        child,
        base: format!("https://127.0.0.1:{https}"),
        http: format!("http://127.0.0.1:{http}"),
    })
}

async fn readyz(client: &reqwest::Client, base: &str) -> Option<StatusCode> {
    client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_share_one_postgres() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(url) = common::fresh_database(Backend::Postgres, dir.path()).await else {
        return;
    };
    let db_name = url.rsplit('/').next().unwrap_or_default().to_string();
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", SECRET)).await;
    let configs: Vec<PathBuf> = (1..=3)
        .map(|n| config(dir.path(), n, &url, &sim.base_url))
        .collect();

    // The registry, written through the library (and, for the 10,000, in
    // one statement) into the shared database.
    let cfg = fenghuo::config::Config::load(Some(&configs[0])).expect("config loads");
    let db = fenghuo::server::open_db(&cfg).await.expect("db");
    let system = fenghuo::auth::Actor::system();
    let tz = chrono_tz::Asia::Shanghai;
    let village = |code: &str, name: &str, lon: f64| fenghuo::registry::villages::VillageInput {
        code: code.into(),
        name: name.into(),
        name_en: None,
        boundary: common::square(lon, 25.2, 0.01),
        population: None,
        area_code: None,
        version: None,
    };
    let big = village("K1", "坑头村", 118.0);
    let small = village("D1", "岭头村", 118.1);
    let mut vids = Vec::new();
    for v in [&big, &small] {
        match fenghuo::registry::villages::create(
            &db,
            &system,
            v,
            &fenghuo::geometry::GeoLimits::STORED,
            false,
            tz,
        )
        .await
        {
            Ok(v) => vids.push(v.id),
            Err(_) => panic!("village {}", v.code),
        }
    }
    let (k1, d1) = (vids[0], vids[1]);
    let now = fenghuo::store::now_ms();
    sqlx::query(
        "INSERT INTO contacts (name, village_id, phone, escalation_order, active, created_at, updated_at) \
         SELECT '村民' || g, $1, '+86139' || lpad(g::text, 8, '0'), 10, 1, $2, $2 FROM generate_series(0, $3 - 1) AS g",
    )
    .bind(k1)
    .bind(now)
    .bind(CONTACTS)
    .execute(&db.pool)
    .await
    .expect("10,000 contacts");
    sqlx::query("INSERT INTO contact_roles (contact_id, role) SELECT id, '信息员' FROM contacts WHERE village_id = $1")
        .bind(k1)
        .execute(&db.pool)
        .await
        .expect("roles");
    // The small village: A answers to B, B to C.
    let mut small_ids = Vec::new();
    for (i, name) in ["甲", "乙", "丙"].iter().enumerate() {
        let c = fenghuo::registry::contacts::ContactInput {
            name: (*name).into(),
            roles: fenghuo::registry::roles::known(&["网格员"]),
            village_id: Some(d1),
            phone: fenghuo::phone::Phone::parse(&format!("1370000000{i}")).expect("a phone"),
            email: None,
            escalation_order: Some(i as i64 + 1),
            active: Some(true),
            note: None,
            version: None,
        };
        match fenghuo::registry::contacts::create(&db, &system, &c, false, tz).await {
            Ok(c) => small_ids.push(c.id),
            Err(_) => panic!("contact {name}"),
        }
    }
    let (_, admin) = fenghuo::auth::create_token(&db, "ops", fenghuo::auth::Role::Admin)
        .await
        .expect("admin token");
    let (viewer_id, viewer) =
        fenghuo::auth::create_token(&db, "county", fenghuo::auth::Role::Viewer)
            .await
            .expect("viewer token");
    if fenghuo::accounts::users::create(
        &db,
        "system",
        "duty",
        fenghuo::auth::Role::Dispatcher,
        PASSWORD,
    )
    .await
    .is_err()
    {
        panic!("user");
    }

    let mut daemons: Vec<Option<Daemon>> = configs.iter().map(|c| Some(start(c))).collect();
    let bases: Vec<String> = daemons
        .iter()
        .map(|d| d.as_ref().map(|d| d.base.clone()).unwrap_or_default())
        .collect();
    // Redirects are answers here (a sign-out's 303), not followed.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for b in &bases {
        assert_eq!(readyz(&client, b).await, Some(StatusCode::OK), "{b}");
    }
    let get = |base: &str, path: &str, token: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
    };

    // A token revoked on daemon 1 is refused on daemon 2 within the cache's bound.
    let r = get(&bases[1], "/api/v1/villages", &viewer)
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "daemon 2 takes the token (and caches it)"
    );
    let r = client
        .delete(format!("{}/api/v1/tokens/{viewer_id}", bases[0]))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("revoke");
    assert!(r.status().is_success(), "revoked: {}", r.status());
    let revoked_at = Instant::now();
    let r = get(&bases[0], "/api/v1/villages", &viewer)
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "refused at once where revoked"
    );
    let refused_on_2 = {
        let (client, base, viewer) = (client.clone(), bases[1].clone(), viewer.clone());
        tokio::spawn(async move {
            loop {
                let r = client
                    .get(format!("{base}/api/v1/villages"))
                    .bearer_auth(&viewer)
                    .send()
                    .await
                    .expect("get");
                if r.status() == StatusCode::UNAUTHORIZED {
                    return revoked_at.elapsed();
                }
                assert_eq!(r.status(), StatusCode::OK);
                if revoked_at.elapsed() > Duration::from_secs(30) {
                    return revoked_at.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // A dashboard session made on daemon 1 is good on 2 and 3, with its CSRF token.
    let web1 = Web::new(&bases[0]);
    web1.sign_in("duty", PASSWORD).await;
    let csrf = web1.token().await;
    let cookie = web1.cookie_header();
    let page = |base: &str| {
        client
            .get(format!("{base}/"))
            .header("cookie", cookie.clone())
            .send()
    };
    for b in &bases[1..] {
        let r = page(b).await.expect("page");
        assert_eq!(r.status(), StatusCode::OK, "signed in on {b}");
        let body = r.text().await.expect("body");
        assert!(body.contains(&csrf), "the same session's CSRF token on {b}");
    }
    let post = |base: &str, token: &str| {
        client
            .post(format!("{base}/logout"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_csrf={token}"))
            .send()
    };
    let r = post(&bases[1], "0".repeat(64).as_str())
        .await
        .expect("post");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a wrong CSRF token is refused on daemon 2"
    );
    let r = post(&bases[2], &csrf).await.expect("post");
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the session's CSRF token works on daemon 3"
    );
    for b in &bases {
        let r = page(b).await.expect("page");
        assert_ne!(r.status(), StatusCode::OK, "signed out everywhere: {b}");
    }

    // The nginx example in front of the three daemons.
    let nginx = proxy(dir.path(), &bases);
    let through = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    if let Some(p) = &nginx {
        let (through, base) = (&through, p.base.clone());
        until(10, "nginx answers", || {
            let base = base.clone();
            async move { readyz(through, &base).await == Some(StatusCode::OK) }
        })
        .await;
        let r = through
            .get(format!("{}/overview", p.http))
            .send()
            .await
            .expect("http");
        assert_eq!(
            r.status(),
            StatusCode::MOVED_PERMANENTLY,
            "plain HTTP goes to https"
        );
        // Signed in through the proxy with a made-up X-Forwarded-For: the
        // daemon records the proxy's view of the client, not the header.
        let web = Web::with_client(&p.base, through.clone());
        let login = web.get("/login").await;
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("_csrf", login.csrf().as_str()),
                ("name", "duty"),
                ("password", PASSWORD),
                ("next", "/"),
            ])
            .finish();
        let r = web
            .send(
                through
                    .post(format!("{}/login", p.base))
                    .header("x-forwarded-for", "203.0.113.9")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "signed in through nginx: {}",
            r.body
        );
        let (ip,): (String,) =
            sqlx::query_as("SELECT ip FROM user_sessions ORDER BY created_at DESC LIMIT 1")
                .fetch_one(&db.pool)
                .await
                .expect("session");
        assert_eq!(
            ip, "127.0.0.1",
            "the client's own X-Forwarded-For is not passed on"
        );
        // Round robin: six pages, two from each daemon, one session.
        for _ in 0..6 {
            let r = web.get("/").await;
            assert_eq!(r.status, StatusCode::OK, "a page through nginx");
            assert!(
                r.headers.contains_key("x-request-id"),
                "answered by a daemon"
            );
        }
        let r = web.get("/public/").await;
        assert_eq!(r.status, StatusCode::OK, "the public pages through nginx");
        let r = web.get(&format!("/a/{}", "0".repeat(32))).await;
        assert!(
            r.headers.contains_key("x-request-id") && r.status.is_client_error(),
            "an answer link reaches a daemon: {}",
            r.status
        );
        let r = through
            .get(format!("{}/metrics", p.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("metrics");
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "metrics are scraped per daemon"
        );
        assert!(
            !r.headers().contains_key("x-request-id"),
            "nginx answered it"
        );
    }

    // The plan in force: reloaded on daemon 1 from a changed file, followed by 2 and 3.
    let plan_hash = |base: String| {
        let (client, admin) = (client.clone(), admin.clone());
        async move {
            let v: Value = client
                .get(format!("{base}/api/v1/plans/flood-daemons"))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("plan")
                .json()
                .await
                .expect("json");
            v["version_hash"].as_str().unwrap_or_default().to_string()
        }
    };
    let v1 = plan_hash(bases[0].clone()).await;
    assert!(!v1.is_empty(), "the plan is in force");
    for b in &bases[1..] {
        assert_eq!(plan_hash(b.clone()).await, v1);
    }
    std::fs::write(
        dir.path().join("plans1/flood.toml"),
        PLAN_V1.replace("version = \"1\"", "version = \"2\""),
    )
    .expect("plan v2");
    let r = client
        .post(format!("{}/api/v1/plans/reload", bases[0]))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("reload");
    assert_eq!(r.status(), StatusCode::OK);
    let v2 = plan_hash(bases[0].clone()).await;
    assert_ne!(v1, v2, "daemon 1 reloaded the changed file");
    let reloaded = Instant::now();
    for b in &bases[1..] {
        let b = b.clone();
        until(10, "the reloaded plan in force on every daemon", || {
            let (b, v2) = (b.clone(), v2.clone());
            let fetch = plan_hash(b);
            async move { fetch.await == v2 }
        })
        .await;
    }
    let followed_in = reloaded.elapsed();

    // The 10,000-contact notice, accepted by daemon 1, which is killed midway.
    let sending = {
        let (client, base, admin) = (client.clone(), bases[0].clone(), admin.clone());
        tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/alerts"))
                .bearer_auth(&admin)
                .json(
                    &json!({"title": "撤离通知", "body": "请立即转移到避灾点。", "level": 1,
                    "targets": {"villages": [k1]}}),
                )
                .send()
                .await
                .ok()?;
            let status = r.status();
            let v: Value = r.json().await.ok()?;
            Some((status, v))
        })
    };
    let sent_from = Instant::now();
    let (dbr, simr) = (&db, &sim);
    until(60, "the provider takes the first messages", || async move {
        simr.accepted().len() >= KILL_AT
    })
    .await;
    if let Some(mut d) = daemons[0].take() {
        d.child.kill().expect("SIGKILL");
        let _ = d.child.wait();
    }
    let accepted_at_kill = sim.accepted().len();
    assert!(
        readyz(&client, &bases[0]).await.is_none(),
        "a killed daemon does not answer /readyz (the proxy takes it out)"
    );
    if let Some(p) = &nginx {
        for _ in 0..6 {
            let r = through
                .get(format!("{}/api/v1/villages", p.base))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("through nginx");
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "nginx steps around the killed daemon"
            );
        }
    }
    let answer = sending.await.expect("task");
    let before_202 = answer.is_none();
    let alert_id = match answer {
        Some((status, v)) => {
            assert_eq!(status, StatusCode::ACCEPTED, "{v}");
            v["id"].as_i64().expect("id")
        }
        // Killed before the 202: the notice is in the database all the same.
        None => scalar(&db, "SELECT MAX(id) FROM alerts WHERE $1 = $1", 0).await,
    };
    let recipients_at_kill = scalar(
        &db,
        "SELECT COUNT(*) FROM alert_recipients WHERE alert_id = $1",
        alert_id,
    )
    .await;
    let sending_at_kill = scalar(
        &db,
        "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND state = 'sending'",
        alert_id,
    )
    .await;
    until(
        90,
        "every delivery of the notice sent by the two daemons left",
        || async move {
            scalar(
                dbr,
                "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND state = 'sent'",
                alert_id,
            )
            .await
                == CONTACTS
        },
    )
    .await;
    let complete_after = sent_from.elapsed();
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(alert_id)
            .fetch_all(&db.pool)
            .await
            .expect("states");
    assert_eq!(
        states,
        vec![("sent".to_string(), CONTACTS)],
        "every delivery sent, nothing else"
    );
    let (status, recipients): (String, i64) =
        sqlx::query_as("SELECT status, recipients FROM alerts WHERE id = $1")
            .bind(alert_id)
            .fetch_one(&db.pool)
            .await
            .expect("alert");
    assert_eq!((status.as_str(), recipients), ("active", CONTACTS));
    let maybe: std::collections::HashSet<String> = sqlx::query_as::<_, (i64,)>(
        "SELECT id FROM deliveries WHERE alert_id = $1 AND maybe_duplicate = 1",
    )
    .bind(alert_id)
    .fetch_all(&db.pool)
    .await
    .expect("maybe")
    .into_iter()
    .map(|(id,)| id.to_string())
    .collect();
    let mut notice_per_phone: HashMap<String, usize> = HashMap::new();
    let mut per_delivery: HashMap<String, usize> = HashMap::new();
    for r in sim.accepted() {
        assert!(r.signature_ok);
        if r.to.starts_with("+86139") {
            *notice_per_phone.entry(r.to).or_default() += 1;
            *per_delivery.entry(r.reference).or_default() += 1;
        }
    }
    assert_eq!(
        notice_per_phone.len() as i64,
        CONTACTS,
        "every phone got the notice"
    );
    let twice: Vec<&String> = per_delivery
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        per_delivery.values().all(|n| *n <= 2),
        "nobody got it three times"
    );
    for id in &twice {
        assert!(
            maybe.contains(*id),
            "delivery {id} went out twice without being marked maybe_duplicate"
        );
    }
    assert_eq!(
        notice_per_phone.values().filter(|n| **n > 1).count(),
        twice.len(),
        "one delivery per phone"
    );
    assert!(
        twice.len() as i64 <= sending_at_kill,
        "{} sent twice, but the killed daemon held only {sending_at_kill} claims",
        twice.len()
    );
    let duplicates = twice.len();
    let marked = maybe.len();

    // Three daemons again for the timers.
    daemons[0] = Some(start(&configs[0]));
    let base1 = daemons[0]
        .as_ref()
        .map(|d| d.base.clone())
        .unwrap_or_default();
    assert_eq!(readyz(&client, &base1).await, Some(StatusCode::OK));

    // Two drill reminders due at the same moment (the drill was scheduled
    // three hours ago, as far as the daemons can tell), sent once each.
    let at = (chrono::Utc::now() + chrono::Duration::minutes(30))
        .with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let r = client
        .post(format!("{base1}/api/v1/drills"))
        .bearer_auth(&admin)
        .json(&json!({"title": "岭头村转移演练", "at": at, "villages": [d1], "lead_times": ["2h", "1h"]}))
        .send()
        .await
        .expect("drill");
    assert_eq!(r.status(), StatusCode::CREATED);
    let drill: Value = r.json().await.expect("json");
    let drill_id = drill["id"].as_i64().expect("id");
    sqlx::query(
        "UPDATE drills SET created_at = created_at - $1, activated_at = activated_at - $1 WHERE id = $2",
    )
    .bind(3 * HOUR)
    .bind(drill_id)
    .execute(&db.pool)
    .await
    .expect("scheduled earlier");
    until(30, "both reminders sent", || async move {
        scalar(
            dbr,
            "SELECT COUNT(*) FROM drill_reminders WHERE drill_id = $1 AND status = 'sent'",
            drill_id,
        )
        .await
            == 2
    })
    .await;

    // An unanswered notice to 甲: each due moment fires once (a repeat to
    // 甲, and the first time 乙 is told), whatever the three daemons do.
    let (a, b) = (small_ids[0], small_ids[1]);
    let r = client
        .post(format!("{}/api/v1/alerts", bases[1]))
        .bearer_auth(&admin)
        .json(
            &json!({"title": "巡查通知", "body": "请巡查山塘。", "level": 4,
            "ack_within_minutes": 1, "targets": {"contacts": [a]}}),
        )
        .send()
        .await
        .expect("notice");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let escalated: Value = r.json().await.expect("json");
    let esc_id = escalated["id"].as_i64().expect("id");
    let deliveries_of = |contact: i64| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM deliveries d JOIN alert_recipients r ON r.id = d.recipient_id \
                 WHERE d.alert_id = $1 AND r.contact_id = $2",
            )
            .bind(esc_id)
            .bind(contact)
            .fetch_one(&db.pool)
            .await
            .expect("count");
            n
        }
    };
    for moment in 1..=2 {
        sqlx::query(
            "UPDATE alert_recipients SET ack_due_at = $1 WHERE alert_id = $2 AND contact_id = $3",
        )
        .bind(fenghuo::store::now_ms() - 1)
        .bind(esc_id)
        .bind(a)
        .execute(&db.pool)
        .await
        .expect("due now");
        let dof = &deliveries_of;
        until(30, "the escalation fired", || async move {
            dof(a).await == 1 + moment
        })
        .await;
    }
    // Every daemon checks five times a second: give them time to do wrong.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        deliveries_of(a).await,
        3,
        "the notice and one repeat per due moment"
    );
    assert_eq!(deliveries_of(b).await, 1, "the next person up told once");
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE entity = 'alert' AND entity_id = $1 AND action = 'escalate'",
            esc_id
        )
        .await,
        2,
        "one escalation per due moment"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM alerts WHERE title LIKE '演练提醒%' AND $1 = $1",
            0
        )
        .await,
        2,
        "one reminder notice per due moment"
    );
    until(
        30,
        "the reminders and escalations reached the provider",
        || async move {
            let r = per_phone(simr, "演练提醒");
            let e = per_phone(simr, "请巡查山塘");
            r.values().sum::<usize>() == 6
                && e.get("+8613700000000") == Some(&3)
                && e.get("+8613700000001") == Some(&1)
        },
    )
    .await;
    let reminders = per_phone(&sim, "演练提醒");
    assert!(
        reminders.values().all(|n| *n == 2),
        "two reminders per person, one per lead time: {reminders:?}"
    );
    let escalations = per_phone(&sim, "请巡查山塘");
    assert_eq!(
        escalations.get("+8613700000000"),
        Some(&3),
        "{escalations:?}"
    );
    assert_eq!(
        escalations.get("+8613700000001"),
        Some(&1),
        "{escalations:?}"
    );

    let refused_after = refused_on_2.await.expect("task");
    assert!(
        refused_after <= fenghuo::auth::TOKEN_CACHE_TTL + Duration::from_secs(2),
        "a revoked token worked on another daemon for {refused_after:?}"
    );

    // The database gone: every daemon says not ready; back, ready again.
    let admin_url = common::pg_admin_url().await.expect("admin url");
    let mut pg = sqlx::AnyConnection::connect(&admin_url)
        .await
        .expect("admin");
    db.pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {db_name} ALLOW_CONNECTIONS false"
    )))
    .execute(&mut pg)
    .await
    .expect("refuse connections");
    sqlx::query("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db_name)
        .execute(&mut pg)
        .await
        .expect("drop connections");
    let bases_now = [base1.clone(), bases[1].clone(), bases[2].clone()];
    for b in &bases_now {
        assert_eq!(
            readyz(&client, b).await,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "not ready without its database: {b}"
        );
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {db_name} ALLOW_CONNECTIONS true"
    )))
    .execute(&mut pg)
    .await
    .expect("allow connections");
    for b in &bases_now {
        let b = b.clone();
        until(30, "ready again", || {
            let (client, b) = (client.clone(), b.clone());
            async move { readyz(&client, &b).await == Some(StatusCode::OK) }
        })
        .await;
    }
    let _ = pg.close().await;

    eprintln!(
        "daemons: 3 on one PostgreSQL; SIGKILL of the accepting daemon at {accepted_at_kill} accepted \
         ({}; {recipients_at_kill} recipients written, {sending_at_kill} claims held); all {CONTACTS} sent \
         {:.1} s after the call; {duplicates} sent twice, {marked} marked maybe_duplicate; \
         plan followed in {:.1} s; revoked token refused on another daemon after {:.1} s; whole test {:.0} s",
        if before_202 {
            "before the 202"
        } else {
            "after the 202"
        },
        complete_after.as_secs_f64(),
        followed_in.as_secs_f64(),
        refused_after.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}

//! The batched SQLite writer (`store::batch`, issue 21) keeps every
//! transaction's all-or-nothing meaning: in a batch, a job that fails is
//! rolled back alone and fails only its own caller, the others commit; a
//! crash (SIGKILL of the real binary) with answers in flight loses no
//! answer the API acknowledged. The board's ETag: a board nothing changed
//! on is a 304, an answer makes it 200 with the new counts. Answers,
//! summary and crash on SQLite and PostgreSQL (whose writes keep sqlx).

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, TestApp, square};
use fenghuo::store::{Db, Sql, StoreError};
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind};

fn meta_insert(key: &str) -> Sql {
    Sql {
        text: "INSERT INTO meta (key, value) VALUES ($1, $2)".into(),
        args: vec![key.into(), "v".into()],
    }
}

async fn meta_keys(db: &Db, like: &str) -> Vec<String> {
    let mut keys: Vec<String> = sqlx::query_scalar("SELECT key FROM meta WHERE key LIKE $1")
        .bind(like)
        .fetch_all(&db.pool)
        .await
        .expect("keys");
    keys.sort();
    keys
}

/// Many jobs at once, every third failing after a write of its own: the
/// failing ones are told so and leave nothing, the others are all there,
/// and they shared transactions (fewer commits than jobs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_fails_only_its_own_caller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = common::fresh_database(Backend::Sqlite, dir.path())
        .await
        .expect("sqlite url");
    let db = Db::connect(&url, 4).await.expect("db");
    let writer = db.batched().expect("a SQLite file has the batched writer");
    let before = writer.commits();
    // A slow first job, so that the rest queue up behind it and go together.
    let first = db.clone();
    let slow = tokio::spawn(async move {
        let writer = first.batched().expect("writer");
        writer
            .run(|c| {
                std::thread::sleep(Duration::from_millis(100));
                c.execute(&meta_insert("ok-slow")).map(|_| ())
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut jobs = Vec::new();
    for i in 0..60 {
        let w = db.clone();
        jobs.push(tokio::spawn(async move {
            let writer = w.batched().expect("writer");
            writer
                .run(move |c| {
                    if i % 3 == 0 {
                        c.execute(&meta_insert(&format!("bad-{i:02}")))?;
                        // A unique violation: the key is taken.
                        c.execute(&meta_insert(&format!("bad-{i:02}")))?;
                    } else {
                        c.execute(&meta_insert(&format!("ok-{i:02}")))?;
                    }
                    Ok::<_, StoreError>(i)
                })
                .await
        }));
    }
    slow.await.expect("join").expect("the slow job commits");
    let mut failed = Vec::new();
    for (i, j) in jobs.into_iter().enumerate() {
        match j.await.expect("join") {
            Ok(n) => assert_eq!(n, i),
            Err(e) => {
                assert!(!e.is_unavailable(), "a constraint, not the storage: {e}");
                failed.push(i);
            }
        }
    }
    assert_eq!(failed, (0..60).filter(|i| i % 3 == 0).collect::<Vec<_>>());
    assert!(
        meta_keys(&db, "bad-%").await.is_empty(),
        "failed jobs left nothing"
    );
    let ok = meta_keys(&db, "ok-%").await;
    assert_eq!(ok.len(), 41, "every other job committed: {ok:?}");
    let commits = writer.commits() - before;
    assert!(commits < 20, "61 jobs in {commits} transactions");

    // A job's panic fails it alone; the writer goes on.
    let panicked = writer
        .run(|_| -> Result<(), StoreError> { panic!("a bug in one job") })
        .await;
    assert!(panicked.is_err());
    writer
        .run(|c| c.execute(&meta_insert("after-panic")).map(|_| ()))
        .await
        .expect("the writer survives a job's panic");
    // Rows come back decoded through serde, in column order.
    let row: (String, String) = writer
        .run(|c| {
            c.fetch_one(&Sql {
                text: "SELECT key, value FROM meta WHERE key = $1".into(),
                args: vec!["after-panic".into()],
            })
        })
        .await
        .expect("read back");
    assert_eq!(row, ("after-panic".to_string(), "v".to_string()));
    db.pool.close().await;
}

/// While jobs keep coming (a flood of answers), the batched writer runs
/// batch after batch on one hold of the gate it shares with the sqlx
/// writes, but it gives the gate up: a sqlx write transaction (a notice's
/// page, the outbox's claim) gets its turn while the jobs still flow, and
/// every job's write is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_jobs_leaves_the_other_writes_their_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = common::fresh_database(Backend::Sqlite, dir.path())
        .await
        .expect("sqlite url");
    let db = Db::connect(&url, 4).await.expect("db");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut streams = Vec::new();
    for s in 0..8 {
        let (db, stop, done) = (db.clone(), stop.clone(), done.clone());
        streams.push(tokio::spawn(async move {
            let writer = db.batched().expect("writer");
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writer
                    .run(move |c| {
                        // Each job takes a while: the queue never runs dry.
                        std::thread::sleep(Duration::from_millis(1));
                        c.execute(&meta_insert(&format!("stream-{s}-{n:05}")))
                            .map(|_| ())
                    })
                    .await
                    .expect("a stream's job commits");
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                n += 1;
            }
            n
        }));
    }
    // Let the stream fill the writer's queue.
    while done.load(std::sync::atomic::Ordering::Relaxed) < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sqlx_write = async {
        let mut tx = db.begin().await.expect("begin");
        meta_insert("sqlx-write")
            .query()
            .execute(&mut *tx)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    };
    let got_in = tokio::time::timeout(Duration::from_secs(30), sqlx_write).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        got_in.is_ok(),
        "the sqlx write waited 30 s behind the stream of jobs"
    );
    let mut made = 0;
    for s in streams {
        made += s.await.expect("join");
    }
    assert_eq!(meta_keys(&db, "sqlx-write").await.len(), 1);
    assert_eq!(
        meta_keys(&db, "stream-%").await.len(),
        made as usize,
        "every job's write is kept"
    );
    db.pool.close().await;
}

/// Makes a village with `n` contacts and sends them a notice; returns the
/// notice's id and each recipient's (id, answer link token).
async fn notice(app: &TestApp, n: usize) -> (i64, Vec<(i64, String)>) {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "BW1", "name": "白沙村", "boundary": square(118.3, 25.3, 0.01)}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let village = v["id"].as_i64().expect("village");
    for i in 0..n {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": format!("村民{i}"), "village_id": village, "phone": format!("+86139{:08}", 7000 + i)}),
            )
            .await;
        assert_eq!(s, 201, "{c}");
    }
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨预警", "body": "请确认收到", "channels": ["sms"], "targets": {"villages": [village]}}),
        )
        .await;
    assert_eq!(s, 202, "{a}");
    let alert = a["id"].as_i64().expect("alert");
    let seeds: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, answer_token FROM alert_recipients WHERE alert_id = $1 ORDER BY id",
    )
    .bind(alert)
    .fetch_all(&app.db().pool)
    .await
    .expect("seeds");
    let tokens = seeds
        .into_iter()
        .map(|(id, seed)| (id, app.cfg.answer_key.token(&seed)))
        .collect();
    (alert, tokens)
}

async fn get_with(app: &TestApp, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut r = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&app.admin);
    if let Some(e) = etag {
        r = r.header("If-None-Match", e);
    }
    r.send().await.expect("request")
}

/// Answers arriving together are all recorded, each once with its audit
/// entry; the board's summary counts them; a board nothing changed on is a
/// 304, and an answer makes it 200 again with the new count.
async fn answers_and_the_board(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (alert, tokens) = notice(&app, 30).await;
    app.wait_alert(alert, 30, |v| v["delivery_states"]["sent"] == 30)
        .await;

    // The board and its summary, asked again unchanged: 304.
    for path in [
        format!("/api/v1/alerts/{alert}"),
        format!("/api/v1/alerts/{alert}/summary"),
    ] {
        let r = get_with(&app, &path, None).await;
        assert_eq!(r.status(), 200);
        let etag = r.headers()["etag"].to_str().expect("etag").to_string();
        let r = get_with(&app, &path, Some(&etag)).await;
        assert_eq!(r.status(), 304, "{path} unchanged");
        assert!(r.bytes().await.expect("body").is_empty());
    }
    let r = get_with(&app, &format!("/api/v1/alerts/{alert}"), None).await;
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    let r = get_with(&app, &format!("/api/v1/alerts/{alert}/summary"), None).await;
    let summary_etag = r.headers()["etag"].to_str().expect("etag").to_string();
    let s: Value = r.json().await.expect("summary");
    assert_eq!(s["answered"], 0);
    assert_eq!(s["villages"][0]["recipients"], 30);

    // 20 answers at once, then one of them again.
    let mut posts = Vec::new();
    for (_, token) in tokens.iter().take(20) {
        let (client, url) = (app.client.clone(), format!("{}/a/{token}", app.base));
        posts.push(tokio::spawn(async move {
            client.post(url).send().await.expect("answer").status()
        }));
    }
    for p in posts {
        assert_eq!(p.await.expect("join"), 200);
    }
    let again = app
        .client
        .post(format!("{}/a/{}", app.base, tokens[0].1))
        .send()
        .await
        .expect("again");
    assert_eq!(again.status(), 200);
    let r = get_with(&app, &format!("/api/v1/alerts/{alert}"), Some(&etag)).await;
    assert_eq!(r.status(), 200, "answers changed the board");
    let board: Value = r.json().await.expect("board");
    assert_eq!(board["answered"], 20);
    let r = get_with(
        &app,
        &format!("/api/v1/alerts/{alert}/summary"),
        Some(&summary_etag),
    )
    .await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.expect("summary");
    assert_eq!(s["answered"], 20, "{s}");
    assert_eq!(s["villages"][0]["answered"], 20, "{s}");
    assert_eq!(s["villages"][0]["recipients"], 30, "{s}");
    let (answers, audited): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM answers WHERE alert_id = $1), \
         (SELECT COUNT(*) FROM audit_log WHERE action = 'answer' AND entity_id = $1)",
    )
    .bind(alert)
    .fetch_one(&app.db().pool)
    .await
    .expect("counts");
    // The repeated press of a link is not kept again.
    assert_eq!((answers, audited), (20, 20));

    // A dispatcher's phone answer and its undo move the counts too.
    let rid = tokens[25].0;
    let (s, v) = app
        .post(
            &format!("/api/v1/alerts/{alert}/answers"),
            json!({"recipient_id": rid}),
        )
        .await;
    assert!(s.is_success(), "{s} {v}");
    let s: Value = get_with(&app, &format!("/api/v1/alerts/{alert}/summary"), None)
        .await
        .json()
        .await
        .expect("summary");
    assert_eq!(s["answered"], 21, "{s}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_the_board_sqlite() {
    answers_and_the_board(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_the_board_postgres() {
    answers_and_the_board(Backend::Postgres).await;
}

struct Daemon(Child);
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &std::path::Path) -> (Daemon, String) {
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
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("daemon started");
    (Daemon(child), addr)
}

const CRASH_CONTACTS: usize = 400;

/// SIGKILL while answers are arriving: every answer the API acknowledged
/// (200) is in the database after the restart.
async fn crash_with_answers_in_flight(b: Backend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(url) = common::fresh_database(b, dir.path()).await else {
        return;
    };
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "answer-secret")).await;
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\ndatabase_url = \"{url}\"\n\
             [sms]\nprovider = \"webhook\"\nrate_per_second = 5000\nconcurrency = 8\n[sms.webhook]\nurl = \"{hook}\"\nsecret = \"answer-secret\"\n\
             [email]\nenabled = false\n",
            data = dir.path().join("data").display(),
            hook = sim.base_url,
        ),
    )
    .expect("config");
    let cfg = fenghuo::config::Config::load(Some(&config)).expect("config loads");
    let db = fenghuo::server::open_db(&cfg).await.expect("db");
    let actor = fenghuo::auth::Actor::system();
    let tz = chrono_tz::Asia::Shanghai;
    let village = fenghuo::registry::villages::VillageInput {
        code: "D1".into(),
        name: "东岭村".into(),
        name_en: None,
        boundary: square(118.0, 25.4, 0.01),
        population: None,
        area_code: None,
        version: None,
    };
    let Ok(vid) = fenghuo::registry::villages::create(
        &db,
        &actor,
        &village,
        &fenghuo::geometry::GeoLimits::STORED,
        false,
        tz,
    )
    .await
    .map(|v| v.id) else {
        panic!("village");
    };
    for i in 0..CRASH_CONTACTS {
        let c = fenghuo::registry::contacts::ContactInput {
            name: format!("村民{i}"),
            roles: fenghuo::registry::roles::known(&["信息员"]),
            village_id: Some(vid),
            phone: fenghuo::phone::Phone::parse(&format!("137{i:08}")).expect("a phone"),
            email: None,
            escalation_order: Some(10),
            active: Some(true),
            note: None,
            version: None,
        };
        assert!(
            fenghuo::registry::contacts::create(&db, &actor, &c, false, tz)
                .await
                .is_ok()
        );
    }
    let (_, token) = fenghuo::auth::create_token(&db, "answers", fenghuo::auth::Role::Admin)
        .await
        .expect("token");

    let (mut daemon, base) = start(&config);
    let key = fenghuo::notify::response::answers::AnswerKey::load_or_create(&cfg.answer_key_path())
        .expect("the daemon's answer key");
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(&token)
        .json(&json!({"title": "山洪预警", "body": "请确认收到。", "level": 2, "channels": ["sms"], "targets": {"villages": [vid]}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let accepted: Value = r.json().await.expect("json");
    let alert_id = accepted["id"].as_i64().expect("id");
    let seeds: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, answer_token FROM alert_recipients WHERE alert_id = $1")
            .bind(alert_id)
            .fetch_all(&db.pool)
            .await
            .expect("seeds");
    assert_eq!(seeds.len(), CRASH_CONTACTS);

    // Answers at ~2,000/s; the kill comes once a third are acknowledged.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let mut posts = Vec::new();
    for (rid, seed) in &seeds {
        let (client, url, mine, rid) = (
            client.clone(),
            format!("{base}/a/{}", key.token(seed)),
            acked.clone(),
            *rid,
        );
        posts.push(tokio::spawn(async move {
            if let Ok(r) = client.post(url).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                mine.lock().expect("lock").push(rid);
            }
        }));
        tokio::time::sleep(Duration::from_micros(500)).await;
        if acked.lock().expect("lock").len() >= CRASH_CONTACTS / 3 {
            break;
        }
    }
    daemon.0.kill().expect("SIGKILL");
    let _ = daemon.0.wait();
    for p in posts {
        let _ = p.await;
    }
    let acked: Vec<i64> = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 20 && acked.len() < CRASH_CONTACTS,
        "the kill came mid-burst: {} acknowledged",
        acked.len()
    );

    // Restart: it comes up, and every acknowledged answer is there.
    let (_daemon, base) = start(&config);
    let answered: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM alert_recipients WHERE alert_id = $1 AND answered_at IS NOT NULL",
    )
    .bind(alert_id)
    .fetch_all(&db.pool)
    .await
    .expect("answered");
    let answered: std::collections::HashSet<i64> = answered.into_iter().map(|r| r.0).collect();
    let lost: Vec<&i64> = acked.iter().filter(|r| !answered.contains(r)).collect();
    assert!(lost.is_empty(), "acknowledged answers lost: {lost:?}");
    // The kept counts agree with the recipients after the crash.
    let s: Value = client
        .get(format!("{base}/api/v1/alerts/{alert_id}/summary"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("summary")
        .json()
        .await
        .expect("json");
    assert_eq!(s["answered"], answered.len(), "{s}");
    eprintln!(
        "answer crash test ({b:?}): {} acknowledged before SIGKILL, {} recorded",
        acked.len(),
        answered.len()
    );
    db.pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_answers_in_flight_sqlite() {
    crash_with_answers_in_flight(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_answers_in_flight_postgres() {
    crash_with_answers_in_flight(Backend::Postgres).await;
}

//! Faults a township office meets, on both backends where storage is
//! involved: a provider down for a long time, a full disk, a hung provider at
//! shutdown, and a daemon killed mid-send. Nothing accepted is lost, nobody
//! gets a notice twice unless its outcome was truly lost (and then the
//! board says so), and the daemon recovers by itself.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::collections::HashMap;
use std::time::Duration;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind, Sim};

async fn sim() -> Sim {
    sms_provider_sim::start(Kind::Webhook, Creds::new("", "fault-secret")).await
}

/// A village with `n` contacts (phones +8613900000000 + i).
async fn village_with(app: &TestApp, n: usize) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "F1", "name": "坑头村", "boundary": square(118.0, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    for i in 0..n {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": format!("村民{i}"), "roles": ["网格员"], "village_id": vid, "phone": format!("139{i:08}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    vid
}

async fn send(app: &TestApp, vid: i64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请立即转移。", "level": 2, "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_i64().expect("id")
}

fn all_sent(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["sent"] == s["total"]
}

/// Messages the provider accepted, per phone.
fn accepted_per_phone(sim: &Sim) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in sim.accepted() {
        *m.entry(r.to).or_insert(0) += 1;
    }
    m
}

/// The provider answers 503 for far longer than the old fixed attempts
/// lasted: no delivery fails, the breaker stops hammering it (fewer requests
/// than deliveries), the overview says it is down, and everyone is reached
/// once it is back.
async fn a_provider_down_for_long_is_waited_out(b: Backend) {
    let sim = sim().await;
    let Some(app) = TestApp::start_with(b, |c| {
        sim.configure(&mut c.sms);
        c.sms.rate_per_second = 1000;
    })
    .await
    else {
        return;
    };
    let vid = village_with(&app, 40).await;
    sim.fail_next(1_000_000, 503);
    let id = send(&app, vid).await;
    // Down for three seconds: with backoff of at most 0.2 s in these tests,
    // the old eight attempts were spent in about one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(board["delivery_states"]["failed"], 0, "{board}");
    let tried = sim.requests();
    assert!(
        tried < 40,
        "the breaker held the deliveries back: {tried} requests for 40 deliveries"
    );
    let (_, channels) = app.get("/api/v1/channels").await;
    let sms = &channels["items"][0];
    assert_eq!(sms["channel"], "sms", "{channels}");
    assert!(
        matches!(sms["breaker"]["state"].as_str(), Some("open" | "probing")),
        "{channels}"
    );
    assert!(
        sms["breaker"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{channels}"
    );

    sim.recover();
    app.wait_alert(id, 30, all_sent).await;
    let per = accepted_per_phone(&sim);
    assert_eq!(per.len(), 40, "everyone reached");
    assert!(per.values().all(|n| *n == 1), "once each: {per:?}");
    let (_, channels) = app.get("/api/v1/channels").await;
    assert_eq!(channels["items"][0]["breaker"]["state"], "closed");
    app.stop().await;
}
both!(a_provider_down_for_long_is_waited_out);

/// On SIGTERM with a provider that takes requests and never answers, the
/// daemon stops within its grace period, sends nothing more after the
/// signal, and the next start sends each remaining delivery once; the ones
/// cut mid-send are sent again and counted as possible duplicates.
async fn shutdown_with_a_hung_provider_is_bounded(b: Backend) {
    let sim = sim().await;
    let Some(mut app) = TestApp::start_with(b, |c| {
        sim.configure(&mut c.sms);
        c.sms.concurrency = 4;
        c.sms.timeout_secs = 120;
        c.delivery.shutdown_grace_secs = 1.0;
    })
    .await
    else {
        return;
    };
    let vid = village_with(&app, 30).await;
    sim.hang(true);
    let id = send(&app, vid).await;
    let waited = std::time::Instant::now();
    while sim.requests() < 4 {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "no send started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_stop = sim.requests();
    assert_eq!(before_stop, 4, "four sends hang with the provider");
    let stopping = std::time::Instant::now();
    app.halt().await;
    let stopped_in = stopping.elapsed();
    sim.hang(false);
    app.resume().await;
    assert!(
        stopped_in < Duration::from_secs(10),
        "the stop waited for the hung provider: {stopped_in:?}"
    );
    app.wait_alert(id, 30, all_sent).await;
    let per = accepted_per_phone(&sim);
    assert_eq!(per.len(), 30, "everyone reached after the restart");
    assert!(per.values().all(|n| *n == 1), "accepted once each: {per:?}");
    // 4 hung + 30 after the restart: nothing was sent after the signal.
    assert_eq!(sim.requests(), 34);
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        board["delivery_states"]["maybe_duplicate"], 4,
        "the four cut mid-send may have gone out: {board}"
    );
    app.stop().await;
}
both!(shutdown_with_a_hung_provider_is_bounded);

/// A daemon killed mid-send left claims with a long lease: on SQLite (one
/// process owns the file) the next start sends them at once, marked as
/// possible duplicates, instead of an hour later when the lease runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_of_a_killed_run_are_sent_at_once_on_sqlite() {
    let sim = sim().await;
    let mut app = TestApp::start_with(Backend::Sqlite, |c| {
        sim.configure(&mut c.sms);
        c.delivery.lease_secs = 3600.0;
    })
    .await
    .expect("app");
    let vid = village_with(&app, 10).await;
    sim.hang(true);
    let id = send(&app, vid).await;
    app.halt().await;
    // What a killed daemon leaves: every delivery claimed for an hour.
    let db = fenghuo::server::open_db(&app.cfg).await.expect("db");
    sqlx::query("UPDATE deliveries SET state = 'sending', lease_until = $1, maybe_duplicate = 0")
        .bind(fenghuo::store::now_ms() + 3_600_000)
        .execute(&db.pool)
        .await
        .expect("claims");
    sqlx::query("DELETE FROM delivery_attempts")
        .execute(&db.pool)
        .await
        .expect("attempts");
    db.pool.close().await;
    sim.hang(false);
    app.resume().await;
    app.wait_alert(id, 20, all_sent).await;
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(board["delivery_states"]["maybe_duplicate"], 10, "{board}");
    let (_, list) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    let first = &list["items"][0];
    assert_eq!(first["maybe_duplicate"], true, "{first}");
    assert!(
        first["attempt_log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|a| a["outcome"] == "unknown")),
        "{first}"
    );
    app.stop().await;
}

/// One process owns a SQLite file: a second daemon on it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_one_sqlite_file_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let mut cfg = app.cfg.clone();
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    let db = fenghuo::server::open_db(&cfg).await.expect("db");
    match fenghuo::server::start(cfg, db).await {
        Err(e) => assert!(e.to_string().contains("another fenghuo"), "{e}"),
        Ok(_) => panic!("a second daemon started on the same SQLite file"),
    }
    app.stop().await;
}

/// A data directory on its own small file system, filled to the last byte
/// and freed again. Needs root (mount); unmounted when dropped.
struct SmallDisk {
    dir: std::path::PathBuf,
    filler: std::path::PathBuf,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("fenghuo-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            common::skip_or_fail("the disk-full test mounts a small tmpfs, which needs root");
            return None;
        }
        Some(SmallDisk {
            filler: dir.join("filler"),
            dir,
        })
    }

    /// Takes every free byte.
    fn fill(&self) {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&self.filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = vec![0u8; 512];
        while f.write_all(&small).is_ok() {}
        while f.write_all(&[0]).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(&self.filler).expect("free");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Arms a fault that answers every write to the chosen tables with
/// PostgreSQL's disk_full, as a full disk would.
async fn arm_postgres_disk_full(app: &TestApp) {
    let pool = &app.db().pool;
    for sql in [
        "CREATE TABLE IF NOT EXISTS fault (armed BIGINT)",
        "CREATE OR REPLACE FUNCTION disk_full() RETURNS trigger AS $$ BEGIN \
         IF EXISTS (SELECT 1 FROM fault) THEN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END IF; \
         RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER disk_full_villages BEFORE INSERT OR UPDATE ON villages FOR EACH ROW EXECUTE FUNCTION disk_full()",
        "CREATE TRIGGER disk_full_meta BEFORE INSERT OR UPDATE ON meta FOR EACH ROW EXECUTE FUNCTION disk_full()",
        "CREATE TRIGGER disk_full_attempts BEFORE INSERT ON delivery_attempts FOR EACH ROW EXECUTE FUNCTION disk_full()",
        "CREATE TRIGGER disk_full_deliveries BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION disk_full()",
        "INSERT INTO fault (armed) VALUES (1)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .expect("fault");
    }
}

/// The disk fills up: writes answer 503 with Retry-After (nothing changed),
/// `/readyz` is not ready; a notice being sent is neither lost nor sent
/// twice while outcomes cannot be recorded; when space is back, writes work
/// again without a restart and everyone has the notice exactly once.
async fn a_full_disk_is_survived(b: Backend) {
    let disk = match b {
        Backend::Sqlite => match SmallDisk::mount() {
            Some(d) => Some(d),
            None => return,
        },
        Backend::Postgres => None,
    };
    let sim = sim().await;
    let Some(app) = TestApp::start_with(b, |c| {
        sim.configure(&mut c.sms);
        // Slow enough that the disk fills while the notice is going out;
        // leases short enough that the old code resent every expired claim.
        c.sms.rate_per_second = 20;
        c.delivery.lease_secs = 0.5;
        if let Some(d) = &disk {
            c.data_dir = d.dir.join("data");
            c.database_url = format!("sqlite://{}", d.dir.join("fenghuo.db").display());
        }
    })
    .await
    else {
        return;
    };
    let vid = village_with(&app, 30).await;
    let id = send(&app, vid).await;
    match &disk {
        Some(d) => d.fill(),
        None => arm_postgres_disk_full(&app).await,
    }
    // Writes are refused as unavailable, not as a crash, and change nothing.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "F2", "name": "石门村", "boundary": square(118.2, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("磁盘")),
        "{v}"
    );
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Several lease lengths pass while the disk is full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = accepted_per_phone(&sim);
    assert!(
        during.values().all(|n| *n == 1),
        "nobody got it twice while outcomes could not be recorded: {during:?}"
    );

    match &disk {
        Some(d) => d.free(),
        None => {
            sqlx::query("DELETE FROM fault")
                .execute(&app.db().pool)
                .await
                .expect("clear");
        }
    }
    // Back by itself: ready, writes work, the notice completes.
    let waited = std::time::Instant::now();
    loop {
        let r = app
            .client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .expect("readyz");
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "F2", "name": "石门村", "boundary": square(118.2, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.wait_alert(id, 30, all_sent).await;
    let per = accepted_per_phone(&sim);
    assert_eq!(per.len(), 30, "everyone reached");
    assert!(per.values().all(|n| *n == 1), "exactly once each: {per:?}");
    app.stop().await;
    drop(disk);
}
both!(a_full_disk_is_survived);

/// A notice closed while its provider is down is not sent when the provider
/// comes back: an order to move must not arrive after the all-clear.
async fn a_notice_closed_during_an_outage_is_not_sent_afterwards(b: Backend) {
    let sim = sim().await;
    let Some(app) = TestApp::start_with(b, |c| {
        sim.configure(&mut c.sms);
    })
    .await
    else {
        return;
    };
    let vid = village_with(&app, 12).await;
    sim.fail_next(1_000_000, 503);
    let id = send(&app, vid).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (s, v) = app
        .post(&format!("/api/v1/alerts/{id}/close"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    sim.recover();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sim.accepted().is_empty(),
        "nothing of a closed notice goes out: {:?}",
        sim.accepted()
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    let st = &board["delivery_states"];
    assert_eq!(st["cancelled"], 12, "{board}");
    assert_eq!(
        (st["queued"].as_i64(), st["sending"].as_i64()),
        (Some(0), Some(0)),
        "{board}"
    );
    // A retry written back while the close was being committed does not
    // see it and is queued again: the claim must still not send it.
    sqlx::query("UPDATE deliveries SET state = 'queued', due_at = 0 WHERE alert_id = $1")
        .bind(id)
        .execute(&app.db().pool)
        .await
        .expect("requeue");
    app.notifier().wake.notify_waiters();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        sim.accepted().is_empty(),
        "a queued delivery of a closed notice is not sent: {:?}",
        sim.accepted()
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(board["delivery_states"]["cancelled"], 12, "{board}");
    app.stop().await;
}
both!(a_notice_closed_during_an_outage_is_not_sent_afterwards);

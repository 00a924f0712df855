//! Kill the daemon (SIGKILL) in the middle of a 1,000-contact send and start
//! it again: every delivery is sent, none is lost, and the only duplicates
//! are sends whose outcome was unknown at the kill. Runs the real binary on
//! SQLite and on PostgreSQL.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Backend;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind};

const CONTACTS: usize = 1000;

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

async fn crash_mid_send(b: Backend) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(url) = common::fresh_database(b, dir.path()).await else {
        return;
    };
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "crash-secret")).await;
    let config = dir.path().join("fenghuo.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\ndatabase_url = \"{url}\"\n\
             [sms]\nprovider = \"webhook\"\nrate_per_second = 400\nconcurrency = 8\n[sms.webhook]\nurl = \"{hook}\"\nsecret = \"crash-secret\"\n\
             [email]\nenabled = false\n[delivery]\nlease_secs = 1.0\npoll_ms = 20\nbackoff_base_secs = 0.05\nbackoff_max_secs = 0.2\n",
            data = dir.path().join("data").display(),
            hook = sim.base_url,
        ),
    )
    .expect("config");

    // Registry written through the library into the same database.
    let cfg = fenghuo::config::Config::load(Some(&config)).expect("config loads");
    let db = fenghuo::server::open_db(&cfg).await.expect("db");
    let actor = fenghuo::auth::Actor::system();
    let tz = chrono_tz::Asia::Shanghai;
    let village = fenghuo::registry::villages::VillageInput {
        code: "K1".into(),
        name: "坑头村".into(),
        name_en: None,
        boundary: common::square(118.0, 25.2, 0.01),
        population: None,
        area_code: None,
        version: None,
    };
    let vid = match fenghuo::registry::villages::create(
        &db,
        &actor,
        &village,
        &fenghuo::geometry::GeoLimits::STORED,
        false,
        tz,
    )
    .await
    {
        Ok(v) => v.id,
        Err(_) => panic!("village"),
    };
    for i in 0..CONTACTS {
        let c = fenghuo::registry::contacts::ContactInput {
            name: format!("村民{i}"),
            roles: fenghuo::registry::roles::known(&["信息员"]),
            village_id: Some(vid),
            phone: fenghuo::phone::Phone::parse(&format!("139{i:08}")).expect("a phone"),
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
    let (_, token) = fenghuo::auth::create_token(&db, "crash", fenghuo::auth::Role::Admin)
        .await
        .expect("token");

    let (mut daemon, base) = start(&config);
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/api/v1/alerts"))
        .bearer_auth(&token)
        .json(&json!({"title": "撤离通知", "body": "请立即转移到避灾点。", "level": 1, "targets": {"villages": [vid]}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let accepted: Value = r.json().await.expect("json");
    assert_eq!(accepted["deliveries"], CONTACTS);
    let alert_id = accepted["id"].as_i64().expect("id");

    // Kill it mid-send.
    let until = Instant::now() + Duration::from_secs(60);
    while sim.requests() < CONTACTS / 3 {
        assert!(Instant::now() < until, "sending did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    daemon.0.kill().expect("SIGKILL");
    let _ = daemon.0.wait();
    let received_at_kill = sim.requests();
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(alert_id)
            .fetch_all(&db.pool)
            .await
            .expect("states");
    let at_kill: HashMap<String, i64> = states.into_iter().collect();
    let unknown = at_kill.get("sending").copied().unwrap_or(0);
    assert!(
        at_kill.get("queued").copied().unwrap_or(0) > 0,
        "killed too late to test anything: {at_kill:?}"
    );

    // Restart; the expired leases come back and everything goes out.
    let (_daemon, base) = start(&config);
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let v: Value = client
            .get(format!("{base}/api/v1/alerts/{alert_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("board")
            .json()
            .await
            .expect("json");
        if v["delivery_states"]["sent"] == CONTACTS {
            break;
        }
        assert!(
            Instant::now() < until,
            "not everything was sent after the restart: {}",
            v["delivery_states"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM deliveries WHERE alert_id = $1")
        .bind(alert_id)
        .fetch_all(&db.pool)
        .await
        .expect("ids");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in sim.received() {
        assert!(r.signature_ok);
        *seen.entry(r.reference).or_default() += 1;
    }
    for (id,) in &ids {
        assert!(
            seen.contains_key(&id.to_string()),
            "delivery {id} was never sent"
        );
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "crash test ({b:?}): {CONTACTS} deliveries, {received_at_kill} requests before SIGKILL, state at kill {at_kill:?}, \
         {unknown} with unknown outcome, {duplicates} sent twice"
    );
    assert!(
        duplicates as i64 <= unknown,
        "{duplicates} duplicates but only {unknown} sends had an unknown outcome"
    );
    db.pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_send_loses_nothing_sqlite() {
    crash_mid_send(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_send_loses_nothing_postgres() {
    crash_mid_send(Backend::Postgres).await;
}

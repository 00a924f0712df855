//! A second SMS path: Aliyun (the first path) failing moves deliveries to Tencent (the
//! fallback) with every message arriving exactly once across the two, counted by reference at
//! the loopback simulators; Aliyun recovering takes them back after the retry interval; the
//! overview and `GET /api/v1/channels` show the path in use. Delivery receipts the simulators
//! play back (signed as each provider does) are recorded on the deliveries and shown on the
//! notice's page. The daily self-check (canary) over each path, driven by the test's clock:
//! one whose receipt never comes is failed on the overview and the worklist, a good one is not.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::HashMap;

use chrono::TimeZone;
use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::notify::delivery::canary;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind, Sim};
use web_client::Web;

const RELAY_TOKEN: &str = "relay-token";
const PASSWORD: &str = "correct-horse-9";
const PEOPLE: usize = 50;
const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

async fn sims() -> (Sim, Sim) {
    (
        sms_provider_sim::start(Kind::Aliyun, Creds::new("ali-key", "ali-secret")).await,
        sms_provider_sim::start(Kind::Tencent, Creds::new("AKIDtc", "tc-secret")).await,
    )
}

/// Aliyun first, Tencent as the fallback. The circuit breaker, were it to open, would hold the
/// queue for five minutes (`one_failing_path_leaves_the_breaker_shut` checks, one message at a
/// time, that one path failing never opens it).
async fn app(a: &Sim, b: &Sim, backend: Backend) -> Option<TestApp> {
    TestApp::start_with(backend, |c| {
        a.configure(&mut c.sms);
        b.configure_as_fallback(&mut c.sms);
        c.sms.failover_after = 3;
        c.sms.primary_retry_secs = 60.0;
        c.sms.inbound_token = RELAY_TOKEN.into();
        c.delivery.breaker_failures = 1;
        c.delivery.breaker_secs = 300.0;
        c.delivery.breaker_max_secs = 300.0;
    })
    .await
}

/// A village with `n` contacts (phones +86 138 0013 0000, …); returns its id.
async fn village_with(app: &TestApp, n: usize) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "F1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    for i in 0..n {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": format!("联系人{i}"), "roles": ["网格员"],
                "village_id": vid, "phone": format!("1380013{i:04}"), "escalation_order": i + 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    vid
}

async fn notice(app: &TestApp, vid: i64, title: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": title, "body": "请立即转移。", "level": 2, "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_i64().expect("id")
}

fn settled(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["queued"] == 0 && s["sending"] == 0
}

async fn deliveries(app: &TestApp, alert: i64) -> Vec<Value> {
    let (s, d) = app.get(&format!("/api/v1/alerts/{alert}/deliveries")).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d["items"].as_array().expect("items").clone()
}

/// Sends a notice to the village and waits until every delivery is sent; checks that each
/// arrived exactly once across the two simulators (by our reference, the delivery id).
/// Returns how many of them each simulator took.
async fn exactly_once(
    app: &TestApp,
    vid: i64,
    title: &str,
    a: &Sim,
    b: &Sim,
) -> (i64, usize, usize) {
    let id = notice(app, vid, title).await;
    let board = app.wait_alert(id, 60, settled).await;
    assert_eq!(
        board["delivery_states"]["sent"], PEOPLE as i64,
        "{title}: every delivery sent: {board}"
    );
    let (at_a, at_b) = (a.accepted_by_reference(), b.accepted_by_reference());
    let (mut on_a, mut on_b) = (0, 0);
    for d in deliveries(app, id).await {
        let reference = d["id"].as_i64().expect("id").to_string();
        let (x, y) = (
            at_a.get(&reference).copied().unwrap_or(0),
            at_b.get(&reference).copied().unwrap_or(0),
        );
        assert_eq!(
            x + y,
            1,
            "{title}: delivery {reference} arrived {x}× at A and {y}× at B"
        );
        on_a += x;
        on_b += y;
        // The provider id says which path sent it.
        let pid = d["provider_id"].as_str().expect("provider id");
        let want = if x == 1 { "aliyun:" } else { "tencent:" };
        assert!(pid.starts_with(want), "{title}: {pid} for {reference}");
    }
    (id, on_a, on_b)
}

async fn sms_health(app: &TestApp) -> Value {
    let (s, v) = app.get("/api/v1/channels").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["channel"] == "sms")
        .expect("the SMS channel")
        .clone()
}

/// The audit log's path switches, oldest first: (from, to, why).
async fn switches(app: &TestApp, at_least: usize) -> Vec<(String, String, String)> {
    for _ in 0..200 {
        let (_, v) = app.get("/api/v1/audit?entity=sms_path&per_page=50").await;
        let mut got: Vec<(String, String, String)> = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| {
                (
                    e["before"]["path"].as_str().unwrap_or("").to_string(),
                    e["after"]["path"].as_str().unwrap_or("").to_string(),
                    e["after"]["why"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        if got.len() >= at_least {
            got.reverse();
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("fewer than {at_least} path switches in the audit log");
}

async fn signed_in(app: &TestApp) -> Web {
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    web
}

async fn a_failing_path_moves_deliveries_to_the_next_and_back(backend: Backend) {
    let (a, b) = sims().await;
    let Some(app) = app(&a, &b, backend).await else {
        return;
    };
    let vid = village_with(&app, PEOPLE).await;
    let web = signed_in(&app).await;

    // Aliyun is down (HTTP 500, nothing sent): after 3 failures deliveries go to Tencent.
    a.down(500);
    let (first, on_a, on_b) = exactly_once(&app, vid, "山洪预警（一）", &a, &b).await;
    assert_eq!((on_a, on_b), (0, PEOPLE), "all went out over Tencent");
    assert!(a.requests() >= 3, "Aliyun was tried: {}", a.requests());
    let sms = sms_health(&app).await;
    assert_eq!(sms["provider"], "tencent", "{sms}");
    let paths = sms["paths"].as_array().expect("paths");
    assert_eq!(paths.len(), 2, "{sms}");
    assert_eq!(
        (&paths[0]["name"], &paths[0]["in_use"], &paths[0]["failing"]),
        (&json!("aliyun"), &json!(false), &json!(true)),
        "{sms}"
    );
    assert!(
        paths[0]["failures_last_hour"].as_i64().unwrap_or(0) >= 3,
        "{sms}"
    );
    assert!(
        paths[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("aliyun")),
        "{sms}"
    );
    assert_eq!(
        (&paths[1]["name"], &paths[1]["in_use"]),
        (&json!("tencent"), &json!(true)),
        "{sms}"
    );
    assert!(paths[1]["since"].is_i64(), "since when: {sms}");
    // One path failing is not the channel failing: the breaker never counted it.
    assert_eq!(
        (&sms["breaker"]["state"], &sms["breaker"]["failures"]),
        (&json!("closed"), &json!(0)),
        "{sms}"
    );
    assert_eq!(
        switches(&app, 1).await,
        [("aliyun".into(), "tencent".into(), "failing".into())]
    );
    let page = web.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("data-path=\"tencent\" data-in-use=\"1\"")
            && page.body.contains("data-path=\"aliyun\" data-in-use=\"0\""),
        "the overview shows the path in use: {}",
        page.body
    );
    assert!(page.body.contains("在用（自 "), "{}", page.body);
    let (_, metrics) = scrape(&app).await;
    assert!(
        metrics.contains(
            "fenghuo_sms_path_switches_total{channel=\"sms\",from=\"aliyun\",to=\"tencent\"}"
        ),
        "{metrics}"
    );

    // Receipts, as Tencent pushes them (through the relay, signed with its token): two
    // phones did not get it.
    let undelivered = ["+8613800130003", "+8613800130007"];
    let receipts = b.receipts_for(|r| {
        Some(if undelivered.contains(&r.to.as_str()) {
            (false, "MN:0017")
        } else {
            (true, "DELIVRD")
        })
    });
    assert_eq!(receipts.len(), PEOPLE);
    // A forged push changes nothing.
    assert_eq!(
        b.play_receipts(&app.base, "not-the-token", &receipts).await,
        [StatusCode::UNAUTHORIZED]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{first}")).await;
    assert_eq!(board["delivery_states"]["delivered"], 0, "{board}");
    assert_eq!(
        b.play_receipts(&app.base, RELAY_TOKEN, &receipts).await,
        [StatusCode::OK]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{first}")).await;
    assert_eq!(
        (
            &board["delivery_states"]["delivered"],
            &board["delivery_states"]["undelivered"]
        ),
        (&json!(PEOPLE - 2), &json!(2)),
        "{board}"
    );
    let mut not_got: Vec<String> = Vec::new();
    for d in deliveries(&app, first).await {
        let (status, code) = (d["receipt_status"].as_str(), d["receipt_code"].as_str());
        if undelivered.contains(&d["address"].as_str().unwrap_or("")) {
            assert_eq!((status, code), (Some("failed"), Some("MN:0017")), "{d}");
            not_got.push(d["name"].as_str().expect("name").to_string());
        } else {
            assert_eq!((status, code), (Some("delivered"), Some("DELIVRD")), "{d}");
        }
        assert!(d["receipt_at"].is_string(), "{d}");
    }
    // Beside the person on the board, so the office phones them.
    let people: Vec<Value> = board["villages"][0]["not_answered"]
        .as_array()
        .expect("people")
        .clone();
    for p in &people {
        let failed = p["failed_deliveries"].as_array().expect("failed");
        let name = p["name"].as_str().unwrap_or("");
        if not_got.iter().any(|n| n == name) {
            assert_eq!(
                (&failed[0]["at_handset"], &failed[0]["error"]),
                (&json!(true), &json!("MN:0017")),
                "{p}"
            );
        } else {
            assert!(failed.is_empty(), "{p}");
        }
    }
    let page = web.get(&format!("/alerts/{first}")).await;
    assert!(
        page.body.contains("id=\"delivered-count\">48<")
            && page.body.contains("id=\"undelivered-count\">2<")
            && page.body.contains("短信已发出，但未送达手机（状态报告）"),
        "{}",
        page.body
    );
    // Pushed again (a provider's retry): nothing changes, nothing matched twice.
    let (_, again) = {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/alerts/{first}", app.base))
            .bearer_auth(&app.admin)
            .send()
            .await
            .expect("get");
        (r.status(), r.json::<Value>().await.expect("json"))
    };
    assert_eq!(
        b.play_receipts(&app.base, RELAY_TOKEN, &receipts).await,
        [StatusCode::OK]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{first}")).await;
    assert_eq!(board["delivery_states"], again["delivery_states"]);

    // Aliyun recovers. Before the retry interval nothing changes: Tencent stays in use.
    a.recover();
    let (_, on_a, on_b) = exactly_once(&app, vid, "山洪预警（二）", &a, &b).await;
    assert_eq!((on_a, on_b), (0, PEOPLE));
    // After it (the paths' clock driven past it), one send tries Aliyun, it goes through,
    // and deliveries move back.
    let paths_of = app.notifier();
    let failover = paths_of.senders.sms_paths.as_ref().expect("paths");
    failover.drive_clock(Some(fenghuo::store::now_ms() + 61_000));
    let (_, on_a, on_b) = exactly_once(&app, vid, "山洪预警（三）", &a, &b).await;
    assert!(
        on_a >= 1 && on_a + on_b == PEOPLE,
        "{on_a} on A, {on_b} on B"
    );
    assert_eq!(
        switches(&app, 2).await[1],
        ("tencent".into(), "aliyun".into(), "back".into())
    );
    let sms = sms_health(&app).await;
    assert_eq!(sms["provider"], "aliyun", "{sms}");
    assert_eq!(sms["paths"][0]["in_use"], true, "{sms}");
    let (fourth, on_a, on_b) = exactly_once(&app, vid, "山洪预警（四）", &a, &b).await;
    assert_eq!((on_a, on_b), (PEOPLE, 0), "all back on Aliyun");
    // Aliyun's SmsReport, pushed with the relay's signature, lands on those.
    let ours: Vec<String> = deliveries(&app, fourth)
        .await
        .iter()
        .map(|d| d["id"].as_i64().expect("id").to_string())
        .collect();
    let receipts = a.receipts_for(|r| ours.contains(&r.reference).then_some((true, "DELIVERED")));
    assert_eq!(receipts.len(), PEOPLE);
    assert_eq!(
        a.play_receipts(&app.base, RELAY_TOKEN, &receipts).await,
        [StatusCode::OK]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{fourth}")).await;
    assert_eq!(
        board["delivery_states"]["delivered"], PEOPLE as i64,
        "{board}"
    );
    let page = web.get("/").await;
    assert!(
        page.body.contains("data-path=\"aliyun\" data-in-use=\"1\""),
        "{}",
        page.body
    );
    assert_eq!(a.rejected() + b.rejected(), 0, "every request was signed");
    app.stop().await;
}
both!(a_failing_path_moves_deliveries_to_the_next_and_back);

/// One message at a time, so nothing sent on Tencent closes a breaker Aliyun's failures
/// opened: the breaker must never count them (it would hold the queue for five minutes).
async fn one_failing_path_leaves_the_breaker_shut(backend: Backend) {
    let (a, b) = sims().await;
    let Some(app) = TestApp::start_with(backend, |c| {
        a.configure(&mut c.sms);
        b.configure_as_fallback(&mut c.sms);
        c.sms.concurrency = 1;
        c.delivery.breaker_failures = 1;
        c.delivery.breaker_secs = 300.0;
        c.delivery.breaker_max_secs = 300.0;
    })
    .await
    else {
        return;
    };
    let vid = village_with(&app, 5).await;
    a.down(503);
    let id = notice(&app, vid, "大风预警").await;
    let board = app.wait_alert(id, 60, settled).await;
    assert_eq!(board["delivery_states"]["sent"], 5, "{board}");
    assert_eq!(b.accepted().len(), 5);
    let sms = sms_health(&app).await;
    assert_eq!(sms["breaker"]["state"], "closed", "{sms}");
    app.stop().await;
}
both!(one_failing_path_leaves_the_breaker_shut);

async fn scrape(app: &TestApp) -> (StatusCode, String) {
    let r = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("scrape");
    (r.status(), r.text().await.expect("text"))
}

/// Today's `canary.at` (09:00 in Shanghai) as UTC ms.
fn nine_today() -> i64 {
    let tz = chrono_tz::Asia::Shanghai;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    tz.from_local_datetime(&today.and_hms_opt(9, 0, 0).expect("09:00"))
        .earliest()
        .expect("a time")
        .timestamp_millis()
}

/// The self-check messages a simulator accepted, by their reference.
fn canaries_at(sim: &Sim) -> Vec<sms_provider_sim::Received> {
    sim.accepted()
        .into_iter()
        .filter(|r| r.reference.starts_with("canary-"))
        .collect()
}

async fn a_self_check_without_its_receipt_shows_failed(backend: Backend) {
    let (a, b) = sims().await;
    let Some(app) = app(&a, &b, backend).await else {
        return;
    };
    // The township's duty officer (应急办值班): the self-checks go to their phone.
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "值班员", "roles": ["应急办值班"], "phone": "13905951200"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let web = signed_in(&app).await;
    let n = app.notifier();
    let t0 = nine_today();

    // Before 09:00 nothing goes.
    assert_eq!(canary::tick(&n, t0 - MIN).await.expect("tick").sent, 0);
    assert!(canaries_at(&a).is_empty() && canaries_at(&b).is_empty());
    // At 09:00 one test text over each path, straight to it, to the duty phone.
    assert_eq!(canary::tick(&n, t0).await.expect("tick").sent, 2);
    // A second tick, or a restart's, sends nothing again.
    assert_eq!(canary::tick(&n, t0 + MIN).await.expect("tick").sent, 0);
    let (on_a, on_b) = (canaries_at(&a), canaries_at(&b));
    assert_eq!((on_a.len(), on_b.len()), (1, 1));
    assert_eq!(on_a[0].to, "+8613905951200");
    assert!(
        on_a[0].text.starts_with("烽火通道自检：阿里云短信 ")
            && on_a[0].text.ends_with("09:00，无需回复"),
        "{}",
        on_a[0].text
    );
    assert!(on_b[0].text.contains("腾讯云短信"), "{}", on_b[0].text);

    // Aliyun's receipt comes; Tencent's never does.
    let receipts = a.receipts_for(|r| {
        r.reference
            .starts_with("canary-")
            .then_some((true, "DELIVERED"))
    });
    assert_eq!(
        a.play_receipts(&app.base, RELAY_TOKEN, &receipts).await,
        [StatusCode::OK]
    );
    // Within the 15 minutes both are still fine.
    let report = canary::tick(&n, t0 + 14 * MIN).await.expect("tick");
    assert_eq!(report.timed_out, 0);
    let (_, c) = app.get("/api/v1/canaries").await;
    assert!(
        c["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .all(|p| p["failing"] == false),
        "{c}"
    );
    // After them Tencent's has failed.
    let report = canary::tick(&n, t0 + 16 * MIN).await.expect("tick");
    assert_eq!(report.timed_out, 1);
    let (_, c) = app.get("/api/v1/canaries").await;
    let by_path: HashMap<String, Value> = c["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| (p["path"].as_str().expect("path").to_string(), p.clone()))
        .collect();
    assert_eq!(by_path["aliyun"]["failing"], false, "{c}");
    assert_eq!(by_path["aliyun"]["latest"]["status"], "ok", "{c}");
    assert_eq!(
        by_path["aliyun"]["latest"]["receipt_code"], "DELIVERED",
        "{c}"
    );
    assert_eq!(by_path["tencent"]["failing"], true, "{c}");
    assert_eq!(
        (
            &by_path["tencent"]["latest"]["status"],
            &by_path["tencent"]["latest"]["reason"]
        ),
        (&json!("failed"), &json!("no_receipt")),
        "{c}"
    );
    let sms = sms_health(&app).await;
    assert_eq!(sms["paths"][1]["canary"]["status"], "failed", "{sms}");
    // A receipt after the wait changes no verdict.
    let late = b.receipts_for(|r| {
        r.reference
            .starts_with("canary-")
            .then_some((true, "DELIVRD"))
    });
    assert_eq!(
        b.play_receipts(&app.base, RELAY_TOKEN, &late).await,
        [StatusCode::OK]
    );
    let (_, c) = app.get("/api/v1/canaries").await;
    assert!(
        c["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .any(|p| p["path"] == "tencent" && p["failing"] == true),
        "{c}"
    );

    // The overview names the path and why; Aliyun's good check is not there.
    let page = web.get("/").await;
    let at = page
        .body
        .find("id=\"canary-failed\"")
        .expect("the failed self-check on the overview");
    let boxed = &page.body[at..];
    let boxed = &boxed[..boxed.find("</div>").unwrap_or(boxed.len())];
    assert!(
        boxed.contains("data-path=\"tencent\"")
            && boxed.contains("腾讯云短信")
            && boxed.contains("15 分钟内未收到送达回执"),
        "{boxed}"
    );
    assert!(!boxed.contains("data-path=\"aliyun\""), "{boxed}");
    // So does the worklist.
    let list = web.get("/worklist").await;
    assert_eq!(list.status, StatusCode::OK);
    let at = list
        .body
        .find("id=\"canaries\"")
        .expect("the worklist's self-check section");
    let section = &list.body[at..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    assert!(
        section.contains("data-path=\"tencent\"") && section.contains("15 分钟内未收到送达回执"),
        "{section}"
    );
    assert!(!section.contains("data-path=\"aliyun\""), "{section}");
    // In English too.
    let page = web.get("/?lang=en").await;
    assert!(
        page.body.contains("no delivery receipt within 15 minutes"),
        "{}",
        page.body
    );

    // The next day both go through and their receipts come: the failure is cleared.
    assert_eq!(canary::tick(&n, t0 + DAY).await.expect("tick").sent, 2);
    let fresh = |sim: &Sim| {
        let seen: Vec<String> = sim
            .accepted()
            .iter()
            .filter(|r| r.reference.starts_with("canary-"))
            .map(|r| r.reference.clone())
            .collect();
        seen.last().cloned().expect("a check")
    };
    for (sim, code) in [(&a, "DELIVERED"), (&b, "DELIVRD")] {
        let last = fresh(sim);
        let receipts = sim.receipts_for(|r| (r.reference == last).then_some((true, code)));
        assert_eq!(receipts.len(), 1);
        assert_eq!(
            sim.play_receipts(&app.base, RELAY_TOKEN, &receipts).await,
            [StatusCode::OK]
        );
    }
    assert_eq!(
        canary::tick(&n, t0 + DAY + 16 * MIN)
            .await
            .expect("tick")
            .timed_out,
        0
    );
    let (_, c) = app.get("/api/v1/canaries").await;
    assert!(
        c["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .all(|p| p["failing"] == false && p["latest"]["status"] == "ok"),
        "{c}"
    );
    let page = web.get("/").await;
    assert!(!page.body.contains("id=\"canary-failed\""), "{}", page.body);
    let list = web.get("/worklist").await;
    let at = list.body.find("id=\"canaries\"").expect("the section");
    let section = &list.body[at..];
    let section = &section[..section.find("</section>").unwrap_or(section.len())];
    assert!(!section.contains("data-path="), "{section}");
    // Each check was sent and judged in the audit log.
    let (_, audit) = app.get("/api/v1/audit?entity=canary&per_page=50").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        (
            actions.iter().filter(|a| **a == "send").count(),
            actions.iter().filter(|a| **a == "fail").count()
        ),
        (4, 1),
        "{audit}"
    );
    app.stop().await;
}
both!(a_self_check_without_its_receipt_shows_failed);

/// Twilio is asked for receipts at the daemon's public address and its StatusCallback is
/// checked with its signature; the webhook gateway's receipts are signed with its secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_and_webhook_receipts() {
    let tw = sms_provider_sim::start(
        Kind::Twilio,
        Creds::new("AC00000000000000000000000000000001", "tw-token"),
    )
    .await;
    let hook = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.public_base_url = "https://fenghuo.example".into();
        tw.configure(&mut c.sms);
        hook.configure_as_fallback(&mut c.sms);
    })
    .await
    .expect("app");
    let vid = village_with(&app, 3).await;
    let id = notice(&app, vid, "森林火险").await;
    app.wait_alert(id, 20, settled).await;
    let sent = tw.accepted();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|r| r.status_callback.as_deref()
            == Some("https://fenghuo.example/hooks/sms/twilio/receipts")),
        "{sent:?}"
    );
    let receipts = tw.receipts_for(|r| {
        Some(if r.to.ends_with('1') {
            (false, "30003")
        } else {
            (true, "")
        })
    });
    assert_eq!(
        tw.play_receipts(&app.base, "wrong-token", &receipts).await,
        vec![StatusCode::UNAUTHORIZED; 3]
    );
    assert_eq!(
        tw.play_receipts(&app.base, "tw-token", &receipts).await,
        vec![StatusCode::OK; 3]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        (
            &board["delivery_states"]["delivered"],
            &board["delivery_states"]["undelivered"]
        ),
        (&json!(2), &json!(1)),
        "{board}"
    );
    let failed: Vec<Value> = deliveries(&app, id)
        .await
        .into_iter()
        .filter(|d| d["receipt_status"] == "failed")
        .collect();
    assert_eq!(failed[0]["receipt_code"], "30003", "{failed:?}");

    // The webhook as the only path left: its receipts, signed with its secret.
    tw.down(503);
    let second = notice(&app, vid, "森林火险（二）").await;
    app.wait_alert(second, 30, settled).await;
    let ours: Vec<String> = deliveries(&app, second)
        .await
        .iter()
        .map(|d| d["id"].as_i64().expect("id").to_string())
        .collect();
    let receipts = hook.receipts_for(|r| ours.contains(&r.reference).then_some((true, "DELIVRD")));
    assert_eq!(receipts.len(), 3, "{:?}", hook.accepted());
    assert_eq!(
        hook.play_receipts(&app.base, "other-secret", &receipts)
            .await,
        [StatusCode::UNAUTHORIZED]
    );
    assert_eq!(
        hook.play_receipts(&app.base, "hook-secret", &receipts)
            .await,
        [StatusCode::OK]
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{second}")).await;
    assert_eq!(board["delivery_states"]["delivered"], 3, "{board}");
    app.stop().await;
}

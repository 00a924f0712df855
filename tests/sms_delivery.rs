//! SMS through real HTTP to loopback stand-ins for each provider, which check
//! every request's signature the way the provider would; retries, permanent
//! failures, and inbound replies that answer a notice.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::time::Duration;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind, Sim};

/// `None` for PostgreSQL when no test server is configured.
async fn app_with(sim: &Sim, b: Backend) -> Option<TestApp> {
    TestApp::start_with(b, |c| {
        sim.configure(&mut c.sms);
        c.delivery.max_attempts = 4;
    })
    .await
}

/// A village with `n` contacts; returns the village id.
async fn village_with(app: &TestApp, n: usize) -> i64 {
    let (_, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "Y1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    let vid = v["id"].as_i64().expect("id");
    for i in 0..n {
        let (s, c) = app
            .post("/api/v1/contacts", json!({"name": format!("联系人{i}"), "roles": ["网格员"], "village_id": vid, "phone": format!("1380013{i:04}")}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    vid
}

async fn send(app: &TestApp, vid: i64, body: &str) -> i64 {
    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "森林火险橙色预警", "body": body, "level": 2, "targets": {"villages": [vid]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_i64().expect("id")
}

fn settled(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["queued"] == 0 && s["sending"] == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_receives_signed_utf8_requests() {
    for kind in [Kind::Aliyun, Kind::Tencent, Kind::Twilio, Kind::Webhook] {
        let sim = sms_provider_sim::start(kind, Creds::new("test-key-id", "s3cr3t-key")).await;
        let app = app_with(&sim, Backend::Sqlite).await.expect("app");
        let vid = village_with(&app, 3).await;
        let body = "大风伴有雷雨，请{village}护林员立即上山巡查，严禁野外用火。~*+&=%";
        let id = send(&app, vid, body).await;
        let board = app.wait_alert(id, 20, settled).await;
        assert_eq!(board["delivery_states"]["sent"], 3, "{kind:?}: {board}");
        let got = sim.accepted();
        assert_eq!(got.len(), 3, "{kind:?}");
        assert_eq!(
            sim.rejected(),
            0,
            "{kind:?}: a request failed signature verification"
        );
        for r in &got {
            assert!(r.signature_ok);
            assert!(r.to.starts_with("+86138001300"), "{kind:?} {}", r.to);
            assert!(
                r.text
                    .contains("请溪口村护林员立即上山巡查，严禁野外用火。~*+&=%"),
                "{kind:?}: {}",
                r.text
            );
            assert!(
                r.text.contains("回复1确认收到") && r.text.contains("/a/"),
                "{kind:?}: {}",
                r.text
            );
            // Aliyun and Tencent add the signature from their SignName; the others carry it in the text.
            let signed = r.text.starts_with("【湖上乡应急办】");
            assert_eq!(
                signed,
                matches!(kind, Kind::Twilio | Kind::Webhook),
                "{kind:?}: {}",
                r.text
            );
        }
        let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
        assert!(
            d["items"]
                .as_array()
                .expect("items")
                .iter()
                .all(|i| i["provider_id"].as_str().is_some_and(|p| !p.is_empty()))
        );
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_by_the_provider() {
    let sim = sms_provider_sim::start(Kind::Tencent, Creds::new("id", "right")).await;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        sim.configure(&mut c.sms);
        c.sms.tencent.secret_key = "wrong".into();
    })
    .await
    .expect("app");
    let vid = village_with(&app, 1).await;
    let id = send(&app, vid, "测试").await;
    let board = app.wait_alert(id, 20, settled).await;
    assert_eq!(board["delivery_states"]["failed"], 1, "{board}");
    assert!(sim.rejected() >= 1);
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    assert!(
        d["items"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("AuthFailure")),
        "{d}"
    );
    app.stop().await;
}

/// On both backends: recording outcomes is one set-based statement whose
/// values mix sent, retried and failed deliveries.
async fn transient_failures_are_retried_and_permanent_ones_recorded(b: Backend) {
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let Some(app) = app_with(&sim, b).await else {
        return;
    };
    let vid = village_with(&app, 4).await;
    // Two 503s then a 429: retried with backoff, then delivered.
    sim.fail_next(2, 503);
    let id = send(&app, vid, "第一次").await;
    let board = app.wait_alert(id, 20, settled).await;
    assert_eq!(board["delivery_states"]["sent"], 4, "{board}");
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    let retries: usize = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            i["attempt_log"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|x| x["outcome"] == "retry").count())
        })
        .sum();
    assert_eq!(retries, 2, "{d}");
    for i in d["items"].as_array().expect("items") {
        assert!(
            i["sent_at"].is_string() && i["last_error"].is_null(),
            "sent, and the earlier error cleared: {i}"
        );
    }
    // A 400 is permanent: recorded with the reason, the others still go out.
    sim.fail_next(1, 400);
    let id = send(&app, vid, "第二次").await;
    let board = app.wait_alert(id, 20, settled).await;
    assert_eq!(
        (
            board["delivery_states"]["sent"].as_i64(),
            board["delivery_states"]["failed"].as_i64()
        ),
        (Some(3), Some(1)),
        "{board}"
    );
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    let failed = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["state"] == "failed")
        .expect("failed");
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("400")),
        "{failed}"
    );
    assert_eq!(failed["attempts"], 1, "a permanent failure is not retried");
    // Attempts are capped: a provider that keeps failing ends in `failed`, not in a loop.
    sim.fail_next(100, 500);
    let id = send(&app, vid, "第三次").await;
    let board = app.wait_alert(id, 30, settled).await;
    assert_eq!(board["delivery_states"]["failed"], 4, "{board}");
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    assert!(
        d["items"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("gave up after 4 attempts")),
        "{d}"
    );
    app.stop().await;
}
both!(transient_failures_are_retried_and_permanent_ones_recorded);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_replies_answer_the_latest_open_notice() {
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        sim.configure(&mut c.sms);
        c.sms.inbound_token = "inbound-token".into();
    })
    .await
    .expect("app");
    let vid = village_with(&app, 2).await;
    let id = send(&app, vid, "请回复").await;
    app.wait_alert(id, 20, settled).await;
    // A signed webhook reply "收到" from the first contact.
    let body = json!({"from": "+8613800130000", "text": "收到"}).to_string();
    let ts = chrono::Utc::now().timestamp();
    let sig = fenghuo::notify::delivery::sms::webhook::webhook_signature_header(
        "hook-secret",
        ts,
        body.as_bytes(),
    );
    let post = |sig: String, body: String| {
        app.client
            .post(format!("{}/hooks/sms/webhook", app.base))
            .header("X-Fenghuo-Signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(sig.clone(), body.clone()).await.expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    // A forged one is refused and changes nothing.
    let forged = json!({"from": "+8613800130001", "text": "1"}).to_string();
    let r = post(sig, forged).await.expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Aliyun-style reply with the shared token (in its header, never the URL), from the
    // second contact, in Chinese.
    let r = app
        .client
        .post(format!("{}/hooks/sms/aliyun", app.base))
        .header("X-Fenghuo-Token", "inbound-token")
        .json(&json!([{"phone_number": "13800130001", "content": "1", "send_time": "2026-11-26 10:00:00", "sign_name": "x", "dest_code": "1", "sequence_id": 1}]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .post(format!("{}/hooks/sms/aliyun", app.base))
        .header("X-Fenghuo-Token", "wrong")
        .json(&json!([{"phone_number": "13800130001", "content": "1"}]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let board = app.wait_alert(id, 5, |v| v["answered"] == 2).await;
    let vias: Vec<&str> = board["villages"][0]["answered"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|a| a["via"].as_str())
        .collect();
    assert_eq!(vias, ["sms", "sms"]);
    // A reply that is not an acknowledgement answers nothing.
    let body = json!({"from": "+8613800130000", "text": "什么事？"}).to_string();
    let sig = fenghuo::notify::delivery::sms::webhook::webhook_signature_header(
        "hook-secret",
        ts,
        body.as_bytes(),
    );
    let r = post(sig, body).await.expect("post");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["answered"], 0);
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
}

//! Replies as people write them: acknowledgements in many phrasings answer
//! the notice; a reply reporting danger is flagged (with or without an
//! acknowledgement) on the inbox and the overview; anything more than an
//! acknowledgement waits in the inbox for a person, who marks it read or
//! handled; a village user sees their village's replies only.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const HOOK_SECRET: &str = "hook-secret";
const PASSWORD: &str = "correct-horse-9";

async fn sms_from(app: &TestApp, national: &str, text: &str, id: &str) -> Value {
    let body = json!({"from": format!("+86{national}"), "text": text, "id": id}).to_string();
    let signature = fenghuo::notify::delivery::sms::webhook::webhook_signature_header(
        HOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let resp = app
        .client
        .post(format!("{}/hooks/sms/webhook", app.base))
        .header("content-type", "application/json")
        .header("X-Fenghuo-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn replies_to_read_and_danger_flagged(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.sms.webhook.secret = HOOK_SECRET.into()).await
    else {
        return;
    };
    let mut villages = Vec::new();
    for (code, name, lon) in [("A1", "东坑村", 118.0), ("B1", "西坑村", 118.1)] {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": name, "boundary": square(lon, 25.2, 0.02)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        villages.push(v["id"].as_i64().expect("id"));
    }
    // Six people in 东坑村, one in 西坑村.
    for i in 0..7 {
        let village = if i < 6 { villages[0] } else { villages[1] };
        let (s, v) = app
            .post("/api/v1/contacts", json!({"name": format!("联系人{i}"), "roles": ["网格员"], "village_id": village, "phone": format!("1380013{i:04}")}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, a) = app
        .post("/api/v1/alerts", json!({"title": "暴雨预警", "body": "请立即巡查", "level": 3, "ack_within_minutes": 30, "targets": {"villages": "all"}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let alert = a["id"].as_i64().expect("alert");
    let said = [
        ("13800130000", "收到，马上落实", true),
        ("13800130001", "好的收到", true),
        ("13800130002", "收到，后山有滑坡", true),
        ("13800130003", "后山滑坡了，有两户被困", false),
        ("13800130004", "你们是哪个单位？", false),
        ("13800130005", "１", true),
        ("13800130006", "收到，我们村桥被冲毁", true),
    ];
    for (k, (phone, text, _)) in said.iter().enumerate() {
        sms_from(&app, phone, text, &format!("r{k}")).await;
    }
    let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(
        board["answered"].as_i64(),
        Some(said.iter().filter(|s| s.2).count() as i64),
        "{board}"
    );
    // The inbox: everything but the plain acknowledgements, newest first.
    let (s, inbox) = app.get("/api/v1/replies?unread=1").await;
    assert_eq!(s, StatusCode::OK, "{inbox}");
    let texts: Vec<&str> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "收到，我们村桥被冲毁",
            "你们是哪个单位？",
            "后山滑坡了，有两户被困",
            "收到，后山有滑坡"
        ],
        "{inbox}"
    );
    let question = &inbox["items"][1];
    assert_eq!(
        question["alert_id"], alert,
        "matched to the notice it answers: {question}"
    );
    assert_eq!(question["name"], "联系人4");
    assert_eq!(question["village"], "东坑村");
    assert_eq!(question["outcome"], "not_acknowledgement");
    // Beside the person on the notice's board, as the API and the page show it.
    let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    let people: Vec<&Value> = board["villages"]
        .as_array()
        .expect("villages")
        .iter()
        .flat_map(|v| {
            v["answered"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(v["not_answered"].as_array().into_iter().flatten())
        })
        .collect();
    let asked = people
        .iter()
        .find(|p| p["name"] == "联系人4")
        .expect("联系人4");
    assert_eq!(asked["replies"][0]["text"], "你们是哪个单位？", "{asked}");
    let hurt = people
        .iter()
        .find(|p| p["name"] == "联系人2")
        .expect("联系人2");
    assert_eq!(hurt["replies"][0]["danger"], true, "{hurt}");
    let (_, danger) = app.get("/api/v1/replies?danger=1").await;
    assert_eq!(danger["total"], 3, "{danger}");
    // The overview says so.
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let page = web.get("/").await;
    assert!(page.body.contains("id=\"danger-replies\""), "{}", page.body);
    let page = web.get(&format!("/alerts/{alert}")).await;
    assert!(
        page.body.contains("你们是哪个单位？") && page.body.contains("class=\"reply danger\""),
        "{}",
        page.body
    );
    let page = web.get("/replies?danger=1").await;
    assert_eq!(
        page.body.matches("class=\"card danger\"").count(),
        3,
        "{}",
        page.body
    );
    // Handled, with who and when; the overview's flag goes when all are.
    for r in danger["items"].as_array().expect("items") {
        let id = r["id"].as_i64().expect("id");
        let (s, v) = app
            .post(&format!("/api/v1/replies/{id}/handled"), json!({}))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let (_, all) = app.get("/api/v1/replies").await;
    let handled = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|r| r["handled_by"] == "token:test-admin")
        .count();
    assert_eq!(handled, 3, "{all}");
    assert!(!web.get("/").await.body.contains("id=\"danger-replies\""));
    let page = web.get("/replies").await;
    let id = inbox["items"][1]["id"].as_i64().expect("id");
    let r = web
        .post(&format!("/replies/{id}/read"), &[("_csrf", &page.csrf())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, left) = app.get("/api/v1/replies?unread=1").await;
    assert_eq!(left["total"], 0, "{left}");
    // A village user: their village's replies only.
    let scope = Scope::Village {
        township: 1,
        village: villages[1],
    };
    let (_, token) = fenghuo::auth::create_scoped_token(
        app.db(),
        "西坑村网格员",
        Role::Editor,
        false,
        &scope,
        1,
    )
    .await
    .expect("token");
    let (_, mine) = app.send_as(&token, "GET", "/api/v1/replies", None).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["text"], "收到，我们村桥被冲毁");
    let (s, _) = app
        .send_as(
            &token,
            "POST",
            &format!("/api/v1/replies/{id}/read"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another village's reply");
    app.stop().await;
}
both!(replies_to_read_and_danger_flagged);

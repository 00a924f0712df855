//! Notices end to end on both backends: accepting (validation, targets,
//! idempotency), delivering through the spool channel, answering (link,
//! dispatcher), escalation with a controlled clock, and CAP publishing.

mod common;

use common::{Backend, TestApp, elements, square, validate_cap};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Township {
    v1: i64,
    v2: i64,
    /// Village 1 contacts by escalation order: 村支书(1), 村主任(2), 网格员(3).
    c1: Vec<i64>,
    c2: Vec<i64>,
    duty: i64,
}

async fn township(app: &TestApp) -> Township {
    let mut vids = Vec::new();
    for (code, lon) in [("V1", 118.0), ("V2", 118.01)] {
        let (s, v) = app.post("/api/v1/villages", json!({"code": code, "name": format!("{code}村"), "boundary": square(lon, 25.2, 0.01)})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        vids.push(v["id"].as_i64().expect("id"));
    }
    let mut per = Vec::new();
    for (i, vid) in vids.iter().enumerate() {
        let mut ids = Vec::new();
        for (order, role) in [(1, "村支书"), (2, "村主任"), (3, "网格员")] {
            let (s, c) = app
                .post(
                    "/api/v1/contacts",
                    json!({"name": format!("{role}{i}"), "roles": [role], "village_id": vid, "phone": format!("1380000{i}{order:03}"),
                           "email": format!("c{i}{order}@example.test"), "escalation_order": order}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            ids.push(c["id"].as_i64().expect("id"));
        }
        per.push(ids);
    }
    let (_, d) = app.post("/api/v1/contacts", json!({"name": "值班员", "roles": ["应急办值班"], "phone": "13900009999", "escalation_order": 1})).await;
    Township {
        v1: vids[0],
        v2: vids[1],
        c1: per[0].clone(),
        c2: per[1].clone(),
        duty: d["id"].as_i64().expect("id"),
    }
}

fn all_sent(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["sent"] == s["total"]
}

async fn alert_is_delivered_by_spool_and_answered(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨蓝色预警", "body": "{name}：{village}请立即巡查山塘水库，{deadline}前回复。", "level": "blue",
                   "channels": ["sms", "email"], "ack_within_minutes": 30, "targets": {"villages": [t.v1]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (v["recipients"].as_i64(), v["deliveries"].as_i64()),
        (Some(3), Some(6))
    );
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, all_sent).await;

    // The spool holds readable messages: signature, level, the village filled in, the answer link.
    let dir = app.cfg.data_dir.join("outbox");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("outbox")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 6);
    let token = app.token_of(id, t.c1[0]).await;
    let sms = files
        .iter()
        .map(|f| std::fs::read_to_string(f.path()).expect("read"))
        .find(|c| c.contains("Channel: SMS") && c.contains(&token))
        .expect("sms for the first contact");
    assert!(
        sms.contains("【湖上乡应急办】[") || sms.contains("【湖上乡应急办】Ⅳ级"),
        "{sms}"
    );
    assert!(
        sms.contains("Ⅳ级（蓝色）暴雨蓝色预警") && sms.contains("村支书0：V1村请立即巡查"),
        "{sms}"
    );
    assert!(
        sms.contains(&format!("/a/{token}")) && sms.contains("回复1确认收到"),
        "{sms}"
    );

    // The answer page shows the notice; only the POST records the answer.
    let page = app
        .client
        .get(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("暴雨蓝色预警") && html.contains("确认收到"));
    assert!(
        html.contains("村支书0：V1村请立即巡查") && !html.contains("{name}"),
        "the page shows the notice as sent: {html}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/alerts/{id}")).await.1["answered"],
        0
    );
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("html").contains("已确认"));
    // A second press (a double tap, a reload) adds nothing: no second answer, no audit row.
    let again = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(again.status(), StatusCode::OK);
    let (kept,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM answers WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("answers");
    assert_eq!(kept, 1, "one press, one answer row");

    // The dispatcher records a phone answer for the second contact.
    let (s, v) = app
        .post(
            &format!("/api/v1/alerts/{id}/answers"),
            json!({"contact_id": t.c1[1], "note": "电话确认"}),
        )
        .await;
    assert_eq!((s, &v["counted"]), (StatusCode::OK, &json!(true)), "{v}");
    let (s, _) = app
        .post(
            &format!("/api/v1/alerts/{id}/answers"),
            json!({"contact_id": t.c2[0]}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a contact who was not notified cannot answer"
    );

    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(board["answered"], 2);
    let village = &board["villages"][0];
    assert_eq!(village["village_id"].as_i64(), Some(t.v1));
    let answered: Vec<&str> = village["answered"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["via"].as_str())
        .collect();
    assert_eq!(answered, ["link", "phone"]);
    assert_eq!(
        village["not_answered"][0]["contact_id"].as_i64(),
        Some(t.c1[2])
    );
    assert!(village["answered"][0]["after_seconds"].as_i64().is_some());

    // Unknown and expired links.
    let r = app
        .client
        .get(format!("{}/a/nope", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    sqlx::query("UPDATE alert_recipients SET token_expires_at = 0 WHERE alert_id = $1")
        .bind(id)
        .execute(&app.db().pool)
        .await
        .expect("expire");
    let tok3 = app.token_of(id, t.c1[2]).await;
    let r = app
        .client
        .post(format!("{}/a/{tok3}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::GONE);

    // Every delivery and its attempt are listed; answers are audited.
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    let items = d["items"].as_array().expect("items");
    assert_eq!(items.len(), 6);
    assert!(
        items
            .iter()
            .all(|i| i["state"] == "sent" && i["attempt_log"][0]["outcome"] == "sent")
    );
    let (_, audit) = app
        .get(&format!(
            "/api/v1/audit?entity=alert&entity_id={id}&action=answer"
        ))
        .await;
    assert_eq!(audit["total"], 2, "{audit}");
    app.stop().await;
}
both!(alert_is_delivered_by_spool_and_answered);

/// Once a notice is closed its board is final: the link, the dispatcher's
/// phone answer and an SMS reply all record nothing, and the link says so.
async fn answers_after_close_are_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请巡查。", "targets": {"villages": [t.v1]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, all_sent).await;
    let token = app.token_of(id, t.c1[0]).await;
    let (s, closed) = app
        .post(&format!("/api/v1/alerts/{id}/close"), json!({}))
        .await;
    assert_eq!(
        (s, closed["status"].as_str()),
        (StatusCode::OK, Some("closed"))
    );

    let page = app
        .client
        .get(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("此通知已结束") && !html.contains("<form"),
        "a closed notice offers no answer button: {html}"
    );
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.expect("html").contains("此通知已结束"));

    let (s, v) = app
        .post(
            &format!("/api/v1/alerts/{id}/answers"),
            json!({"contact_id": t.c1[1], "note": "电话确认"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(board["answered"], 0, "{board}");
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM answers WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("answers");
    assert_eq!(rows, 0, "nothing recorded after close");
    app.stop().await;
}
both!(answers_after_close_are_refused);

async fn targets_resolve_and_dedupe(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    // Roles across villages, plus a named contact already selected: deduplicated by person.
    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "t", "body": "b", "targets": {"roles": ["村支书", "village_head"], "contacts": [t.c1[0], t.duty]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recipients"], 5);
    // All villages includes township-level contacts.
    let (_, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "t", "body": "b", "targets": {"villages": "all"}}),
        )
        .await;
    assert_eq!(v["recipients"], 7);
    // A circle touching only village 2 (plus a ledger site's safety officer inside it).
    let (s, _) = app
        .post("/api/v1/sites", json!({"name": "油库", "kind": "hazchem_storage", "risk_grade": "major", "location": {"lon": 118.015, "lat": 25.205}, "safety_officer": "钱", "safety_officer_phone": "13700001111"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "t", "body": "b", "targets": {"area": {"circle": {"lon": 118.015, "lat": 25.205, "radius_m": 300}}}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        v["recipients"], 4,
        "three village-2 contacts and the site's safety officer"
    );
    let id = v["id"].as_i64().expect("id");
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    let names: Vec<&str> = board["villages"][0]["not_answered"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.iter().any(|n| n.contains("钱")), "{names:?}");
    assert_eq!(board["villages"][0]["village_id"].as_i64(), Some(t.v2));
    // A polygon over village 1 with a role filter.
    let (_, v) = app
        .post("/api/v1/alerts", json!({"title": "t", "body": "b", "targets": {"area": square(118.002, 25.202, 0.003), "roles": ["网格员"]}}))
        .await;
    assert_eq!(v["recipients"], 1);
    app.stop().await;
}
both!(targets_resolve_and_dedupe);

async fn bad_alerts_create_nothing(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let ok = json!({"title": "t", "body": "b", "targets": {"villages": [t.v1]}});
    let with = |k: &str, x: Value| {
        let mut v = ok.clone();
        v[k] = x;
        v
    };
    let cases = [
        (
            with("targets", json!({"villages": [999]})),
            "targets.villages[0]",
        ),
        (
            with("targets", json!({"villages": ["NOPE"]})),
            "targets.villages[0]",
        ),
        (
            with("targets", json!({"roles": ["村长老"]})),
            "targets.roles[0]",
        ),
        (with("targets", json!({})), "targets"),
        (
            with("targets", json!({"contacts": [12345]})),
            "targets.contacts[0]",
        ),
        (
            with(
                "targets",
                json!({"area": {"type": "Polygon", "coordinates": [[[118, 25], [118.1, 25], [118, 25]]]}}),
            ),
            "targets.area.coordinates[0]",
        ),
        (
            with(
                "targets",
                json!({"area": {"circle": {"lon": 118.0, "lat": 25.2, "radius_m": -5}}}),
            ),
            "targets.area.circle.radius_m",
        ),
        (
            with("targets", json!({"area": square(100.0, 10.0, 0.01)})),
            "targets",
        ),
        (with("body", json!("请{villag}注意")), "body"),
        (with("title", json!("{nope}")), "title"),
        (with("body", json!("长".repeat(1001))), "body"),
        (with("body", json!("  ")), "body"),
        (with("level", json!("purple")), "level"),
        (with("level", json!(7)), "level"),
        (with("channels", json!(["fax"])), "channels[0]"),
        (with("channels", json!([])), "channels"),
        (with("ack_within_minutes", json!(0)), "ack_within_minutes"),
        (with("updates", json!(4242)), "updates"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let (s, v) = app.post("/api/v1/alerts", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {v}");
        assert_eq!(v["error"]["field"].as_str(), Some(field), "{body} -> {v}");
    }
    // Too little role.
    let editor = app.token("editor").await;
    assert_eq!(
        app.send_as(&editor, "POST", "/api/v1/alerts", Some(ok.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Nothing was created.
    assert_eq!(app.get("/api/v1/alerts").await.1["total"], 0);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM deliveries")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
    app.stop().await;
}
both!(bad_alerts_create_nothing);

async fn idempotency_key_returns_first_answer(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let body =
        json!({"title": "停课通知", "body": "明日停课", "targets": {"villages": [t.v1, t.v2]}});
    let send = |b: Value| {
        app.client
            .post(format!("{}/api/v1/alerts", app.base))
            .bearer_auth(&app.admin)
            .header("Idempotency-Key", "req-7f3a")
            .json(&b)
            .send()
    };
    let r1 = send(body.clone()).await.expect("send");
    assert_eq!(r1.status(), StatusCode::ACCEPTED);
    let v1: Value = r1.json().await.expect("json");
    let r2 = send(body.clone()).await.expect("send");
    assert_eq!(r2.status(), StatusCode::ACCEPTED);
    let v2: Value = r2.json().await.expect("json");
    assert_eq!(v1, v2);
    let mut other = body.clone();
    other["body"] = json!("后天停课");
    let r3 = send(other).await.expect("send");
    assert_eq!(r3.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v3: Value = r3.json().await.expect("json");
    assert_eq!(v3["error"]["field"], "Idempotency-Key");
    assert_eq!(app.get("/api/v1/alerts").await.1["total"], 1);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM deliveries")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 6);
    app.stop().await;
}
both!(idempotency_key_returns_first_answer);

/// POSTs a notice as `token` with an `Idempotency-Key`.
async fn send_keyed(app: &TestApp, token: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/alerts", app.base))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    (r.status(), r.json().await.expect("json"))
}

async fn alert_count(app: &TestApp) -> i64 {
    app.get("/api/v1/alerts").await.1["total"]
        .as_i64()
        .expect("total")
}

async fn idempotency_keys_are_each_callers_own(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let dispatcher = app.token("dispatcher").await;
    let body = json!({"title": "停课通知", "body": "明日停课", "targets": {"villages": [t.v1]}});
    // Two callers who happen to pick the same key: two notices.
    let (s1, first) = send_keyed(&app, &app.admin, "daily-1", &body).await;
    assert_eq!(s1, StatusCode::ACCEPTED, "{first}");
    let (s2, theirs) = send_keyed(&app, &dispatcher, "daily-1", &body).await;
    assert_eq!(s2, StatusCode::ACCEPTED, "{theirs}");
    assert_ne!(first["id"], theirs["id"], "{first} {theirs}");
    assert_eq!(alert_count(&app).await, 2);
    // Each caller replaying gets their own first answer, and nothing new is sent.
    let (s3, again) = send_keyed(&app, &app.admin, "daily-1", &body).await;
    assert_eq!((s3, &again), (StatusCode::ACCEPTED, &first));
    let (s4, again) = send_keyed(&app, &dispatcher, "daily-1", &body).await;
    assert_eq!((s4, &again), (StatusCode::ACCEPTED, &theirs));
    assert_eq!(alert_count(&app).await, 2);
    // A different request under a key is refused only by the key's owner.
    let mut other = body.clone();
    other["body"] = json!("后天停课");
    let (s5, v5) = send_keyed(&app, &dispatcher, "daily-1", &other).await;
    assert_eq!(s5, StatusCode::UNPROCESSABLE_ENTITY, "{v5}");
    assert_eq!(v5["error"]["field"], "Idempotency-Key");
    // Each notice records the caller whose key it was.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM idempotency_keys k JOIN alerts a ON a.id = k.alert_id \
         WHERE k.key = 'daily-1' AND k.scope = a.created_by",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("count");
    assert_eq!(n, 2);
    app.stop().await;
}
both!(idempotency_keys_are_each_callers_own);

/// Moves every stored idempotency key `ms` into the past.
async fn age_keys(app: &TestApp, ms: i64) {
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - $1")
        .bind(ms)
        .execute(&app.db().pool)
        .await
        .expect("age keys");
}

async fn idempotency_keys_expire(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.delivery.idempotency_hours = 2.0).await else {
        return;
    };
    let t = township(&app).await;
    let dispatcher = app.token("dispatcher").await;
    let body = json!({"title": "停课通知", "body": "明日停课", "targets": {"villages": [t.v1]}});
    let (s1, first) = send_keyed(&app, &app.admin, "weekly", &body).await;
    assert_eq!(s1, StatusCode::ACCEPTED, "{first}");
    let (s2, _) = send_keyed(&app, &dispatcher, "theirs", &body).await;
    assert_eq!(s2, StatusCode::ACCEPTED);
    // Both keys were stored more than the two hours ago.
    age_keys(&app, 2 * 3_600_000 + 1_000).await;
    // The same caller, the same key and body: the key has expired, so it is a new notice.
    let (s3, second) = send_keyed(&app, &app.admin, "weekly", &body).await;
    assert_eq!(s3, StatusCode::ACCEPTED, "{second}");
    assert_ne!(first["id"], second["id"], "{first} {second}");
    assert_eq!(alert_count(&app).await, 3);
    // The key now names the new notice, and the other caller's expired key was pruned.
    let keys: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT scope, key, alert_id FROM idempotency_keys ORDER BY key")
            .fetch_all(&app.db().pool)
            .await
            .expect("keys");
    assert_eq!(
        keys,
        vec![(
            "token:test-admin".to_string(),
            "weekly".to_string(),
            second["id"].as_i64().expect("id")
        )]
    );
    // Within its time the new key still answers as before.
    age_keys(&app, 3_600_000).await;
    let (s4, again) = send_keyed(&app, &app.admin, "weekly", &body).await;
    assert_eq!((s4, &again), (StatusCode::ACCEPTED, &second));
    // An expired key is not a reused one: another request under it is simply new.
    age_keys(&app, 3_600_000).await;
    let mut other = body.clone();
    other["body"] = json!("后天停课");
    let (s5, third) = send_keyed(&app, &app.admin, "weekly", &other).await;
    assert_eq!(s5, StatusCode::ACCEPTED, "{third}");
    assert_eq!(alert_count(&app).await, 4);
    app.stop().await;
}
both!(idempotency_keys_expire);

async fn repeats(app: &TestApp, alert: i64, contact: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries d JOIN alert_recipients r ON r.id = d.recipient_id WHERE d.alert_id = $1 AND r.contact_id = $2 AND d.purpose = 'repeat'",
    )
    .bind(alert)
    .bind(contact)
    .fetch_one(&app.db().pool)
    .await
    .expect("count");
    n
}

async fn escalation_fires_survives_restart_and_stops_on_answer(b: Backend) {
    let Some(mut app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let (_, v) = app
        .post("/api/v1/alerts", json!({"title": "山洪预警", "body": "请转移", "level": 2, "ack_within_minutes": 10, "targets": {"contacts": [t.c1[0]]}}))
        .await;
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, all_sent).await;
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let min = 60_000;
    // Before the deadline nothing fires.
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 9 * min)
            .await
            .expect("tick"),
        0
    );
    // After it: the silent contact is called again and the next in the village (村主任) is told.
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 11 * min)
            .await
            .expect("tick"),
        1
    );
    assert_eq!(repeats(&app, id, t.c1[0]).await, 1);
    let next = app.token_of(id, t.c1[1]).await;
    assert!(!next.is_empty());
    // The same moment again fires nothing, even after a restart.
    app.restart().await;
    let n = app.notifier();
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 11 * min)
            .await
            .expect("tick"),
        0
    );
    assert_eq!(repeats(&app, id, t.c1[0]).await, 1);
    // Ten minutes later both are silent: the contact gets a second repeat, and the
    // 村主任's own deadline tells the next one up (网格员).
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 22 * min)
            .await
            .expect("tick"),
        2
    );
    assert_eq!(repeats(&app, id, t.c1[0]).await, 2);
    assert!(!app.token_of(id, t.c1[2]).await.is_empty());
    // The first contact answers: nothing more is sent to them.
    let tok = app.token_of(id, t.c1[0]).await;
    let r = app
        .client
        .post(format!("{}/a/{tok}", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    // The others stay silent: the 村主任 is called a second time, and the 网格员,
    // the last in the village, has the township duty officer told.
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 33 * min)
            .await
            .expect("tick"),
        2
    );
    assert_eq!(
        repeats(&app, id, t.c1[0]).await,
        2,
        "no repeat after the answer"
    );
    assert!(
        !app.token_of(id, t.duty).await.is_empty(),
        "duty officer told"
    );
    // Repeats are capped at two.
    for k in 4..8 {
        fenghuo::notify::response::escalation::tick(&n, now + k * 11 * min)
            .await
            .expect("tick");
    }
    assert_eq!(repeats(&app, id, t.c1[1]).await, 2);
    let board = app.wait_alert(id, 20, all_sent).await;
    let escalated: usize = board["villages"]
        .as_array()
        .expect("v")
        .iter()
        .map(|v| v["escalated_to"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(escalated, 3, "{board}");
    // Closing the alert stops the timers.
    app.post(&format!("/api/v1/alerts/{id}/close"), json!({}))
        .await;
    assert_eq!(
        fenghuo::notify::response::escalation::tick(&n, now + 1000 * min)
            .await
            .expect("tick"),
        0
    );
    app.stop().await;
}
both!(escalation_fires_survives_restart_and_stops_on_answer);

async fn public_alerts_are_valid_cap(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    // A public notice may use the notice-wide variables, never a recipient's own.
    for (title, body, field) in [
        ("暴雨预警", "{name}：请做好防范。", "body"),
        ("暴雨预警", "详见{link}", "body"),
        ("{village}暴雨预警", "请做好防范。", "title"),
    ] {
        let (s, v) = app
            .post("/api/v1/alerts", json!({"title": title, "body": body, "public": true, "targets": {"villages": [t.v1]}}))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{v}"
        );
    }
    let (s, a) = app
        .post("/api/v1/alerts", json!({"title": "{office}暴雨橙色预警", "body": "{office}发布{level}暴雨预警：预计未来3小时降雨50毫米以上，请做好防范。",
                                       "level": "orange", "public": true, "targets": {"villages": [t.v1, t.v2]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let id = a["id"].as_i64().expect("id");
    app.approve(id).await;
    let office = app.cfg.office_name.clone();
    let (_, u) = app
        .post("/api/v1/alerts", json!({"title": "暴雨红色预警", "body": "升级为红色。", "level": 1, "public": true, "updates": id, "targets": {"area": {"circle": {"lon": 118.005, "lat": 25.205, "radius_m": 500}}}}))
        .await;
    let uid = u["id"].as_i64().expect("id");
    app.approve(uid).await;
    let (_, e) = app
        .post("/api/v1/alerts", json!({"title": "防汛演练", "body": "演练通知", "exercise": true, "public": true, "targets": {"villages": [t.v1]}}))
        .await;
    let eid = e["id"].as_i64().expect("id");
    app.approve(eid).await;
    let (_, private) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "内部", "body": "内部", "targets": {"villages": [t.v1]}}),
        )
        .await;
    let get = |path: String| {
        let c = app.client.clone();
        let base = app.base.clone();
        async move {
            let r = c.get(format!("{base}{path}")).send().await.expect("get");
            (
                r.status(),
                r.headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
                r.text().await.expect("text"),
            )
        }
    };
    let (s, ct, alert) = get(format!("/public/alerts/{id}.cap")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/cap+xml"));
    assert_eq!(elements(&alert, "status"), ["Actual"]);
    assert_eq!(elements(&alert, "msgType"), ["Alert"]);
    assert!(elements(&alert, "sent")[0].ends_with("+08:00"), "{alert}");
    // The public reads the text filled in: the level once, the office's name.
    assert_eq!(
        elements(&alert, "headline"),
        [format!("Ⅱ级（橙色）{office}暴雨橙色预警")],
        "{alert}"
    );
    assert_eq!(
        elements(&alert, "description"),
        [format!(
            "{office}发布Ⅱ级（橙色）暴雨预警：预计未来3小时降雨50毫米以上，请做好防范。"
        )],
        "{alert}"
    );
    assert_eq!(
        elements(&alert, "geocode").len(),
        2,
        "both villages: {alert}"
    );
    let (_, _, update) = get(format!("/public/alerts/{uid}.cap")).await;
    assert!(
        update.contains("<msgType>Update</msgType>") && update.contains("<references>"),
        "{update}"
    );
    assert!(update.contains("<circle>"), "{update}");
    let (_, _, exercise) = get(format!("/public/alerts/{eid}.cap")).await;
    assert_eq!(elements(&exercise, "status"), ["Exercise"]);
    let (s, _, _) = get(format!("/public/alerts/{}.cap", private["id"])).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "non-public notices are not published"
    );
    let (s, ct, feed) = get("/public/feed.atom".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/atom+xml"));
    assert_eq!(feed.matches("<entry>").count(), 3, "{feed}");
    assert!(
        elements(&feed, "title").contains(&format!("Ⅱ级（橙色）{office}暴雨橙色预警")),
        "{feed}"
    );
    for (name, doc) in [
        ("alert", &alert),
        ("update", &update),
        ("exercise", &exercise),
        ("feed", &feed),
    ] {
        assert!(
            !doc.contains('{') && !doc.contains('}'),
            "{name}: no raw template reaches the public: {doc}"
        );
    }
    validate_cap(&[
        ("alert.xml", alert),
        ("update.xml", update),
        ("exercise.xml", exercise),
        ("feed.atom", feed),
    ]);
    app.stop().await;
}
both!(public_alerts_are_valid_cap);

/// A long notice is cut to the configured number of SMS parts, never its answer link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_sms_keeps_the_answer_link() {
    let Some(app) = TestApp::start_with(Backend::Sqlite, |c| c.sms.max_parts = 2).await else {
        return;
    };
    let t = township(&app).await;
    let body = format!(
        "{{name}}：{}请打开{{link}}确认。",
        "山洪预警，请立即组织危险区群众转移。".repeat(30)
    );
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": body, "targets": {"contacts": [t.c1[0]]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, all_sent).await;
    let token = app.token_of(id, t.c1[0]).await;
    let file = std::fs::read_dir(app.cfg.data_dir.join("outbox"))
        .expect("outbox")
        .filter_map(Result::ok)
        .next()
        .expect("file");
    let content = std::fs::read_to_string(file.path()).expect("read");
    let text = content.split("\n\n").nth(1).expect("text").trim_end();
    assert!(text.ends_with(&format!("/a/{token}")), "{text}");
    let seg = fenghuo::notify::delivery::segments::count(text);
    assert!(seg.parts <= 2, "{seg:?}: {text}");
    assert!(
        text.starts_with("【湖上乡应急办】") && text.contains('…'),
        "{text}"
    );
    app.stop().await;
}

/// Inserts `n` contacts of village `vid` straight into the table (the API
/// would take minutes): escalation order 1, 2, 3 in turn; contact `i` has
/// phone `+861370000{i:04}` unless `phone_of` says otherwise.
async fn bulk_contacts(app: &TestApp, vid: i64, n: usize, phone_of: impl Fn(usize) -> String) {
    let now = 1_700_000_000_000i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let mut sql = String::from(
            "INSERT INTO contacts (name, village_id, phone, escalation_order, active, created_at, updated_at) VALUES ",
        );
        for (k, _) in chunk.iter().enumerate() {
            let p = k * 4;
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, {vid}, ${}, ${}, 1, ${}, {now})",
                p + 1,
                p + 2,
                p + 3,
                p + 4
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            q = q
                .bind(format!("村民{i}"))
                .bind(phone_of(i))
                .bind((i % 3) as i64 + 1)
                .bind(now);
        }
        q.execute(&app.db().pool).await.expect("insert contacts");
    }
}

/// A notice larger than one page of the outbox: resolved and committed page
/// by page, yet every person gets exactly one delivery, a phone shared by
/// two contacts (on different pages) and by a site's safety officer is
/// notified once, first contacts go first, and the answer counts all.
async fn large_notice_is_paged_without_loss_or_duplicates(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "BIG", "name": "大村", "boundary": square(118.0, 25.0, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    // Contact 2500 (order 2) and contact 5 (order 3) share a phone.
    let phone = |i: usize| format!("+861370000{:04}", if i == 2500 { 5 } else { i });
    bulk_contacts(&app, vid, 2600, phone).await;
    // Two sites inside: one officer shares contact 7's phone, one is new.
    for (name, p) in [("油库", "+8613700000007"), ("烟花仓库", "+8613911112222")] {
        let (s, v) = app
            .post("/api/v1/sites", json!({"name": name, "kind": "hazchem_storage", "risk_grade": "major",
                "location": {"lon": 118.02, "lat": 25.02}, "safety_officer": "安全员", "safety_officer_phone": p}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let body = json!({"title": "山洪预警", "body": "请立即转移", "targets": {"villages": [vid], "area": square(118.01, 25.01, 0.02)}});
    let send = || {
        app.client
            .post(format!("{}/api/v1/alerts", app.base))
            .bearer_auth(&app.admin)
            .header("Idempotency-Key", "big-1")
            .json(&body)
            .send()
    };
    let first: Value = send().await.expect("send").json().await.expect("json");
    // 2600 contacts less the duplicate phone, plus the one new officer.
    assert_eq!(first["recipients"], 2600, "{first}");
    assert_eq!(first["deliveries"], 2600, "{first}");
    assert_eq!(first["status"], "accepted");
    let again: Value = send().await.expect("send").json().await.expect("json");
    assert_eq!(first, again, "a retry gets the final answer");
    let id = first["id"].as_i64().expect("id");

    let pool = &app.db().pool;
    let (n, phones): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT phone) FROM alert_recipients WHERE alert_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("count");
    assert_eq!((n, phones), (2600, 2600));
    let (d, per): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT recipient_id) FROM deliveries WHERE alert_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("count");
    assert_eq!((d, per), (2600, 2600), "one delivery per recipient");
    let (who,): (String,) = sqlx::query_as(
        "SELECT name FROM alert_recipients WHERE alert_id = $1 AND phone = '+8613700000005'",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("shared phone");
    assert_eq!(
        who, "村民2500",
        "the shared phone goes to the earlier in escalation order"
    );
    // First contacts first: escalation order never falls as recipients are
    // written, and the officers (after every contact) come last.
    let orders: Vec<(i64,)> = sqlx::query_as(
        "SELECT escalation_order FROM alert_recipients WHERE alert_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("orders");
    assert!(orders.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(orders.last().map(|o| o.0), Some(1000));
    assert_eq!(orders.iter().filter(|o| o.0 == 1000).count(), 1);
    app.wait_alert(id, 60, all_sent).await;
    app.stop().await;
}
both!(large_notice_is_paged_without_loss_or_duplicates);

/// A notice whose acceptance was cut short (status `accepting`, part of its
/// outbox missing) is completed when the daemon starts: the missing people
/// are added once, nobody twice, and a retry gets the final counts.
async fn notice_cut_short_is_completed_at_start(b: Backend) {
    let Some(mut app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let r = app
        .client
        .post(format!("{}/api/v1/alerts", app.base))
        .bearer_auth(&app.admin)
        .header("Idempotency-Key", "cut-1")
        .json(&json!({"title": "t", "body": "b", "targets": {"villages": "all"}}))
        .send()
        .await
        .expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["recipients"], 7, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 30, all_sent).await;
    // What a crash after the first page leaves: the alert still accepting,
    // later recipients (village 2's) and their deliveries not yet written.
    let pool = app.db().pool.clone();
    for sql in [
        "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE alert_id = $1 AND recipient_id IN (SELECT id FROM alert_recipients WHERE alert_id = $1 AND village_id = $2))",
        "DELETE FROM deliveries WHERE alert_id = $1 AND recipient_id IN (SELECT id FROM alert_recipients WHERE alert_id = $1 AND village_id = $2)",
        "DELETE FROM alert_recipients WHERE alert_id = $1 AND village_id = $2",
    ] {
        sqlx::query(sql)
            .bind(id)
            .bind(t.v2)
            .execute(&pool)
            .await
            .expect("cut");
    }
    sqlx::query(
        "UPDATE alerts SET status = 'accepting', recipients = 0, deliveries = 0 WHERE id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("cut");
    sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE alert_id = $2")
        .bind(
            json!({"id": id, "recipients": 0, "deliveries": 0, "status": "accepting"}).to_string(),
        )
        .bind(id)
        .execute(&pool)
        .await
        .expect("cut");
    app.restart().await;
    let board = app.wait_alert(id, 30, all_sent).await;
    assert_eq!(board["status"], "active", "{board}");
    assert_eq!(board["recipients"], 7, "{board}");
    let pool = app.db().pool.clone();
    let (n, people): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT phone) FROM alert_recipients WHERE alert_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!((n, people), (7, 7));
    let again: Value = app
        .client
        .post(format!("{}/api/v1/alerts", app.base))
        .bearer_auth(&app.admin)
        .header("Idempotency-Key", "cut-1")
        .json(&json!({"title": "t", "body": "b", "targets": {"villages": "all"}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(again["recipients"], 7, "{again}");
    assert_eq!(again["deliveries"], 7, "{again}");
    assert_eq!(again["status"], "accepted", "{again}");
    app.stop().await;
}
both!(notice_cut_short_is_completed_at_start);

/// The database refuses the outbox's later pages for a while (a fault
/// injected with a trigger): the notice is still completed, in the same
/// request, with everyone written once.
async fn later_pages_survive_a_passing_database_fault(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "F", "name": "故障村", "boundary": square(118.0, 25.0, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    bulk_contacts(&app, vid, 1500, |i| format!("+861370000{i:04}")).await;
    let fault: &[&str] = match b {
        Backend::Sqlite => &[
            "CREATE TABLE fault (armed INTEGER)",
            "CREATE TRIGGER fault_recipients BEFORE INSERT ON alert_recipients \
             WHEN EXISTS (SELECT 1 FROM fault) AND (SELECT COUNT(*) FROM alert_recipients WHERE alert_id = NEW.alert_id) >= 200 \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ],
        Backend::Postgres => &[
            "CREATE TABLE fault (armed BIGINT)",
            "CREATE FUNCTION fault_recipients() RETURNS trigger AS $$ BEGIN \
             IF EXISTS (SELECT 1 FROM fault) AND (SELECT COUNT(*) FROM alert_recipients WHERE alert_id = NEW.alert_id) >= 200 \
             THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fault_recipients BEFORE INSERT ON alert_recipients FOR EACH ROW EXECUTE FUNCTION fault_recipients()",
        ],
    };
    let pool = app.db().pool.clone();
    for sql in fault
        .iter()
        .copied()
        .chain(["INSERT INTO fault (armed) VALUES (1)"])
    {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("fault");
    }
    // The notice is sent while the fault is armed; the fault is cleared only
    // once the daemon has seen a later page refused and tried it again.
    let retried = app.db().retried_writes.clone();
    let send = {
        let client = app.client.clone();
        let url = format!("{}/api/v1/alerts", app.base);
        let admin = app.admin.clone();
        tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({"title": "t", "body": "b", "targets": {"villages": [vid]}}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.expect("json"))
        })
    };
    let waited = std::time::Instant::now();
    while retried.load(std::sync::atomic::Ordering::Relaxed) < 2 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(30),
            "the injected fault never refused a page"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    sqlx::query("DELETE FROM fault")
        .execute(&pool)
        .await
        .expect("clear");
    let (s, v) = send.await.expect("send task");
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recipients"], 1500, "{v}");
    assert_eq!(v["deliveries"], 1500, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (n, people, d): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT phone), (SELECT COUNT(*) FROM deliveries WHERE alert_id = $1) \
         FROM alert_recipients WHERE alert_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!((n, people, d), (1500, 1500, 1500));
    let board = app.wait_alert(id, 60, all_sent).await;
    assert_eq!(board["status"], "active", "{board}");
    app.stop().await;
}
both!(later_pages_survive_a_passing_database_fault);

/// A notice naming `escalate_to` roles (as a plan rule does) tells those
/// roles in order when someone is silent, instead of the village order;
/// after the last role nobody more is told.
async fn escalate_to_roles_are_told_in_order(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "t", "body": "b", "ack_within_minutes": 10,
            "targets": {"contacts": [t.c1[2]]}, "escalate_to": ["村支书", "乡村振兴专员"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "escalate_to[1]");
    // The 网格员 (last in the village order) is silent: the chain says 村支书,
    // then the duty officer; without it the duty officer would come first.
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "t", "body": "b", "ack_within_minutes": 10,
            "targets": {"contacts": [t.c1[2]]}, "escalate_to": ["村支书", "应急办值班"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, all_sent).await;
    let told = || async {
        let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(
            "SELECT contact_id, step FROM alert_recipients WHERE alert_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&app.db().pool)
        .await
        .expect("recipients");
        rows
    };
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let min = 60_000;
    fenghuo::notify::response::escalation::tick(&n, now + 11 * min)
        .await
        .expect("tick");
    assert_eq!(told().await, vec![(Some(t.c1[2]), 0), (Some(t.c1[0]), 1)]);
    // The 村支书 is silent too: the next role, the township duty officer.
    fenghuo::notify::response::escalation::tick(&n, now + 22 * min)
        .await
        .expect("tick");
    assert_eq!(
        told().await,
        vec![(Some(t.c1[2]), 0), (Some(t.c1[0]), 1), (Some(t.duty), 2)]
    );
    // Everyone silent, the chain used up: repeats only, nobody new.
    fenghuo::notify::response::escalation::tick(&n, now + 33 * min)
        .await
        .expect("tick");
    fenghuo::notify::response::escalation::tick(&n, now + 44 * min)
        .await
        .expect("tick");
    assert_eq!(told().await.len(), 3);
    app.stop().await;
}
both!(escalate_to_roles_are_told_in_order);

/// A read that fails half-way through a page (here: the ledger's sites
/// table briefly missing while the area's safety officers are read, after
/// the village's and the named contacts were gathered) loses nobody: the
/// next call returns them all, each once.
async fn a_failed_read_mid_page_loses_nobody(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = township(&app).await;
    let (s, _) = app
        .post("/api/v1/sites", json!({"name": "油库", "kind": "hazchem_storage", "risk_grade": "major", "location": {"lon": 118.005, "lat": 25.205}, "safety_officer": "钱", "safety_officer_phone": "13700001111"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let targets: fenghuo::notify::intake::targets::Targets = serde_json::from_value(json!({
        "villages": [t.v1], "contacts": [t.duty], "area": square(118.002, 25.202, 0.005)
    }))
    .expect("targets");
    let db = app.db();
    let mut r = fenghuo::notify::intake::targets::Resolution::new(
        db,
        &targets,
        &fenghuo::geometry::GeoLimits::STORED,
        None,
    )
    .await
    .expect("resolution");
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    sqlx::query(sqlx::AssertSqlSafe(rename("sites", "sites_away")))
        .execute(&db.pool)
        .await
        .expect("rename");
    assert!(
        r.next_page(db, 100).await.is_err(),
        "the officers' read fails"
    );
    sqlx::query(sqlx::AssertSqlSafe(rename("sites_away", "sites")))
        .execute(&db.pool)
        .await
        .expect("rename back");
    let page = r.next_page(db, 100).await.expect("read").expect("a page");
    let mut contacts: Vec<i64> = page.iter().filter_map(|x| x.contact_id).collect();
    contacts.sort_unstable();
    let mut want: Vec<i64> = t.c1.iter().copied().chain([t.duty]).collect();
    want.sort_unstable();
    assert_eq!(
        contacts, want,
        "the village's and the named contacts, once each"
    );
    assert_eq!(
        page.iter().filter(|x| x.contact_id.is_none()).count(),
        1,
        "the officer"
    );
    assert!(r.next_page(db, 100).await.expect("read").is_none());
    app.stop().await;
}
both!(a_failed_read_mid_page_loses_nobody);

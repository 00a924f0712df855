//! The two-person rule on both backends. A public notice is sent and
//! published only after a second person with the leader permission
//! (带班领导/签发人) approves it; its author cannot, a non-leader cannot, and
//! a rejection sends nothing. Real Ⅱ/Ⅰ activations wait the same way. CAP
//! identifiers and geocodes are in the GB/T 35965.1 shape and still valid
//! CAP 1.2; the public page lists what went out, and nothing else.

mod common;

use common::{Backend, TestApp, elements, square, validate_cap};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Two villages with 12-digit division codes, three contacts each.
async fn township(app: &TestApp) -> Vec<i64> {
    let mut vids = Vec::new();
    for (i, code) in ["V1", "V2"].iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": format!("{code}村"), "area_code": format!("35052420820{}", i + 1),
                       "boundary": square(118.0 + 0.01 * i as f64, 25.2, 0.01)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let vid = v["id"].as_i64().expect("id");
        vids.push(vid);
        for (order, role) in [(1, "村支书"), (2, "村主任"), (3, "网格员")] {
            let (s, c) = app
                .post("/api/v1/contacts", json!({"name": format!("{code}{role}"), "roles": [role], "village_id": vid,
                                                  "phone": format!("1370000{i}{order:03}"), "escalation_order": order}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
        }
    }
    vids
}

async fn deliveries(app: &TestApp, alert: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE alert_id = $1")
        .bind(alert)
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    n
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("get");
    (r.status(), r.text().await.expect("text"))
}

async fn audit_actions(app: &TestApp, alert: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT actor, action FROM audit_log WHERE entity = 'alert' AND entity_id = $1 ORDER BY id",
    )
    .bind(alert)
    .fetch_all(&app.db().pool)
    .await
    .expect("audit")
}

async fn public_notice_waits_for_a_second_leader(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let vids = township(&app).await;
    let leader = app.leader_token("zhang", "viewer").await;
    let dispatcher = app.token("dispatcher").await;
    let (s, a) = app
        .post("/api/v1/alerts", json!({"title": "{office}暴雨橙色预警", "body": "{office}发布{level}暴雨预警：请沿河群众注意防范。",
                                       "level": 2, "public": true, "targets": {"villages": vids}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    assert_eq!(a["status"], "pending", "{a}");
    let id = a["id"].as_i64().expect("id");
    // Stored as the public reads it: no template left anywhere.
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    let office = app.cfg.office_name.clone();
    assert_eq!(board["title"], format!("{office}暴雨橙色预警"), "{board}");
    assert_eq!(
        board["body"],
        format!("{office}发布Ⅱ级（橙色）暴雨预警：请沿河群众注意防范。"),
        "{board}"
    );
    // Awaiting sign-off: nobody is sent anything, nothing is published.
    assert_eq!(deliveries(&app, id).await, 0);
    assert_eq!(board["recipients"], 0, "{board}");
    assert_eq!(
        get_text(&app, &format!("/public/alerts/{id}.cap")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, feed) = get_text(&app, "/public/feed.atom").await;
    assert_eq!(feed.matches("<entry>").count(), 0, "{feed}");
    let (s, page) = get_text(&app, "/public/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains("暴雨橙色预警"), "{page}");
    let (_, list) = app.send_as(&leader, "GET", "/api/v1/signoffs", None).await;
    assert_eq!(list["notices"][0]["id"].as_i64(), Some(id), "{list}");

    // A dispatcher without the leader permission cannot approve.
    let (s, v) = app
        .send_as(
            &dispatcher,
            "POST",
            &format!("/api/v1/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A leader cannot approve their own draft.
    let (s, own) = app
        .send_as(&leader, "POST", "/api/v1/alerts", Some(json!({"title": "山洪预警", "body": "请注意。", "public": true, "targets": {"villages": vids}})))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a viewer cannot draft at all: {own}"
    );
    let leading_dispatcher = app.leader_token("wang", "dispatcher").await;
    let (s, own) = app
        .send_as(&leading_dispatcher, "POST", "/api/v1/alerts", Some(json!({"title": "山洪预警", "body": "请注意。", "public": true, "targets": {"villages": vids}})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{own}");
    let own_id = own["id"].as_i64().expect("id");
    let (s, v) = app
        .send_as(
            &leading_dispatcher,
            "POST",
            &format!("/api/v1/alerts/{own_id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        deliveries(&app, id).await + deliveries(&app, own_id).await,
        0
    );

    // A second person with the leader permission approves: it goes out.
    let (s, ok) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    assert_eq!(ok["recipients"], 6, "{ok}");
    assert_eq!(deliveries(&app, id).await, 6);
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        (board["status"].as_str(), board["signoff_by"].as_str()),
        (Some("active"), Some("token:zhang")),
        "{board}"
    );
    let (s, again) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "approved once: {again}");
    let (s, cap) = get_text(&app, &format!("/public/alerts/{id}.cap")).await;
    assert_eq!(s, StatusCode::OK);
    let (_, feed) = get_text(&app, "/public/feed.atom").await;
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    for doc in [&cap, &feed] {
        assert!(
            !doc.contains('{') && !doc.contains('}'),
            "no raw template: {doc}"
        );
    }
    assert_eq!(
        elements(&cap, "headline"),
        [format!("Ⅱ级（橙色）{office}暴雨橙色预警")],
        "{cap}"
    );
    validate_cap(&[("approved.xml", cap.clone()), ("feed.xml", feed.clone())]);
    let audit = audit_actions(&app, id).await;
    assert!(
        audit.contains(&("token:test-admin".into(), "draft".into())),
        "{audit:?}"
    );
    assert!(
        audit.contains(&("token:zhang".into(), "approve".into())),
        "{audit:?}"
    );
}
both!(public_notice_waits_for_a_second_leader);

async fn rejected_public_notice_sends_nothing(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let vids = township(&app).await;
    let leader = app.leader_token("zhang", "viewer").await;
    let (_, a) = app
        .post("/api/v1/alerts", json!({"title": "山洪预警", "body": "请沿河群众转移。", "level": 1, "public": true, "targets": {"villages": vids}}))
        .await;
    let id = a["id"].as_i64().expect("id");
    let (s, v) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/alerts/{id}/reject"),
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")),
        "{v}"
    );
    let (s, v) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/alerts/{id}/reject"),
            Some(json!({"reason": "范围过大，请只发沿河两村"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["signoff_note"].as_str()),
        (Some("rejected"), Some("范围过大，请只发沿河两村")),
        "{v}"
    );
    let (s, v) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/alerts/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a rejected notice stays unsent: {v}"
    );
    assert_eq!(deliveries(&app, id).await, 0);
    assert_eq!(
        get_text(&app, &format!("/public/alerts/{id}.cap")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, feed) = get_text(&app, "/public/feed.atom").await;
    assert_eq!(feed.matches("<entry>").count(), 0, "{feed}");
    let audit = audit_actions(&app, id).await;
    assert!(
        audit.contains(&("token:zhang".into(), "reject".into())),
        "{audit:?}"
    );
    // A literal brace is refused outright in a public text.
    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "预警", "body": "详见{{附件}}", "public": true, "targets": {"villages": vids}}))
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body")),
        "{v}"
    );
}
both!(rejected_public_notice_sends_nothing);

async fn cap_identifiers_and_geocodes_in_the_national_shape(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let vids = township(&app).await;
    // The division code: 12 digits, one village each.
    for (bad, why) in [
        ("35052420820", "11 digits"),
        ("35052420820x", "a letter"),
        ("350524208201", "V1's"),
    ] {
        let (s, v) = app
            .post("/api/v1/villages", json!({"code": "V9", "name": "V9村", "area_code": bad, "boundary": square(118.1, 25.2, 0.01)}))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("area_code")),
            "{why}: {v}"
        );
    }
    let (_, a) = app
        .post("/api/v1/alerts", json!({"title": "森林火险橙色预警", "body": "禁止野外用火。", "level": 2, "public": true, "targets": {"villages": vids}}))
        .await;
    let id = a["id"].as_i64().expect("id");
    app.approve(id).await;
    let (_, u) = app
        .post("/api/v1/alerts", json!({"title": "森林火险红色预警", "body": "全面禁止野外用火。", "level": 1, "public": true, "updates": id, "targets": {"villages": [vids[0]]}}))
        .await;
    let uid = u["id"].as_i64().expect("id");
    app.approve(uid).await;
    let (_, cap) = get_text(&app, &format!("/public/alerts/{id}.cap")).await;
    let (_, update) = get_text(&app, &format!("/public/alerts/{uid}.cap")).await;
    // area_code 350524208000 (the default), unit code 000:
    // county 350524, unit 000, township 208, extension 00.
    let sender = "35052400020800";
    assert_eq!(elements(&cap, "sender"), [sender], "{cap}");
    let ident = elements(&cap, "identifier");
    let shape = |s: &str| {
        let parts: Vec<&str> = s.split('_').collect();
        parts.len() == 3
            && parts[0] == sender
            && parts[1].len() == 14
            && parts[1].bytes().all(|c| c.is_ascii_digit())
            && parts[2].len() == 1
            && parts[2].bytes().all(|c| c.is_ascii_digit())
            && s.len() == 31
    };
    assert!(shape(&ident[0]), "{ident:?}");
    // The time in the identifier is the time sent, in Beijing time.
    let sent = &elements(&cap, "sent")[0];
    let digits: String = sent[..19].chars().filter(char::is_ascii_digit).collect();
    assert_eq!(&ident[0][15..29], digits, "{sent}");
    assert!(sent.ends_with("+08:00"), "{sent}");
    // The update refers to the first by the same identifier.
    let refs = elements(&update, "references");
    assert_eq!(refs.len(), 1, "{update}");
    assert_eq!(refs[0], format!("{sender},{},{sent}", ident[0]), "{update}");
    assert!(shape(&elements(&update, "identifier")[0]), "{update}");
    // Geocodes: each village's statistical code.
    assert_eq!(
        elements(&cap, "valueName"),
        ["统计用区划代码", "统计用区划代码"],
        "{cap}"
    );
    assert_eq!(
        elements(&cap, "value"),
        ["350524208201", "350524208202"],
        "{cap}"
    );
    assert_eq!(elements(&update, "value"), ["350524208201"], "{update}");
    // <web>: the public page of the warning, for people.
    let web = elements(&cap, "web");
    assert_eq!(
        web,
        [format!("{}/public/warnings/{id}", app.cfg.public_base())],
        "{cap}"
    );
    let (s, page) = get_text(&app, &format!("/public/warnings/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("森林火险红色预警") && page.contains("森林火险橙色预警"),
        "the warning and its update: {page}"
    );
    validate_cap(&[("first.xml", cap), ("update.xml", update)]);
}
both!(cap_identifiers_and_geocodes_in_the_national_shape);

async fn public_page_lists_what_went_out_and_nobody(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let vids = township(&app).await;
    let (_, a) = app
        .post("/api/v1/alerts", json!({"title": "暴雨黄色预警", "body": "{office}提醒：请远离河道。\n低洼地带群众做好转移准备。", "level": 3,
                                       "public": true, "targets": {"villages": [vids[1]]}}))
        .await;
    let id = a["id"].as_i64().expect("id");
    let (_, private) = app
        .post("/api/v1/alerts", json!({"title": "内部值班通知", "body": "{name}：请到岗。", "targets": {"villages": vids}}))
        .await;
    assert!(private["id"].is_i64(), "{private}");
    let (_, page) = get_text(&app, "/public/").await;
    assert!(
        page.contains("目前没有生效中的预警信息"),
        "nothing approved yet: {page}"
    );
    app.approve(id).await;
    // No sign-in: a plain client without any cookie or token.
    let r = reqwest::Client::new()
        .get(format!("{}/public/", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("text");
    assert!(
        page.contains("暴雨黄色预警") && page.contains("请远离河道。"),
        "{page}"
    );
    assert!(page.contains("V2村"), "the area is named: {page}");
    assert!(page.contains("class=\"pubmap\""), "with a map: {page}");
    assert!(
        !page.contains("内部值班通知"),
        "internal notices are not public: {page}"
    );
    for phone in ["137000", "+86137"] {
        assert!(!page.contains(phone), "no recipient data: {page}");
    }
    assert!(
        !page.contains("V2村支书") && !page.contains("村主任"),
        "no recipient names: {page}"
    );
    let text_only: String = page
        .split("data-area=")
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(!text_only.contains('{'), "no raw template: {page}");
    // Closed: off the list.
    let (s, _) = app
        .post(&format!("/api/v1/alerts/{id}/close"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, page) = get_text(&app, "/public/").await;
    assert!(!page.contains("暴雨黄色预警"), "{page}");
}
both!(public_page_lists_what_went_out_and_nobody);

const PLAN: &str = r#"id = "flood-test"
title = "测试防汛预案"
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
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 30 }]

[[levels]]
level = 3
conditions = ["1小时降雨30毫米"]
lead = "乡长"
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 2
conditions = ["1小时降雨40毫米"]
lead = "乡长"
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 10 }]

[[levels]]
level = 1
conditions = ["1小时降雨50毫米"]
lead = "乡长"
notify = [{ roles = ["村支书", "村主任", "网格员"], template = "t", ack_within_minutes = 5 }]
"#;

async fn with_plan(b: Backend, levels: Vec<u8>) -> Option<(TestApp, Vec<i64>)> {
    let plans = tempfile::tempdir().expect("tempdir");
    let dir = plans.path().to_path_buf();
    std::mem::forget(plans);
    let app = TestApp::start_with(b, |c| {
        c.plans_dir = dir.clone();
        c.incidents.two_person_levels = levels;
    })
    .await?;
    let vids = township(&app).await;
    std::fs::write(dir.join("flood-test.toml"), PLAN).expect("plan");
    let (s, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["plans"], json!(["flood-test"]), "{r}");
    Some((app, vids))
}

async fn alert_count(app: &TestApp) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    n
}

fn kinds(t: &Value) -> Vec<String> {
    t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn high_levels_wait_for_a_second_leader(b: Backend) {
    let Some((app, _)) = with_plan(b, vec![1, 2]).await else {
        return;
    };
    let leader = app.leader_token("zhang", "viewer").await;
    let dispatcher = app.token("dispatcher").await;
    // Opening a real Ⅱ: pending, nothing sent.
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 2, "villages": ["V1"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    assert_eq!(
        (inc["status"].as_str(), inc["pending_level"].as_i64()),
        (Some("pending"), Some(2)),
        "{inc}"
    );
    assert_eq!(inc["alerts"], json!([]));
    assert_eq!(alert_count(&app).await, 0);
    let id = inc["id"].as_i64().expect("id");
    let (s, v) = app
        .send_as(
            &dispatcher,
            "POST",
            &format!("/api/v1/incidents/{id}/confirm"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not a leader: {v}");
    let (s, list) = app.send_as(&leader, "GET", "/api/v1/signoffs", None).await;
    assert_eq!(
        (s, list["activations"][0]["id"].as_i64()),
        (StatusCode::OK, Some(id)),
        "{list}"
    );
    let (s, ok) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/incidents/{id}/confirm"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ok}");
    assert_eq!(
        (ok["status"].as_str(), ok["level"].as_i64()),
        (Some("open"), Some(2)),
        "{ok}"
    );
    assert_eq!(ok["alerts"].as_array().map(Vec::len), Some(1), "{ok}");
    let (_, t) = app.get(&format!("/api/v1/incidents/{id}")).await;
    let k = kinds(&t);
    assert_eq!(
        &k[..3],
        ["activation_requested", "activation_confirmed", "open"],
        "{t}"
    );
    assert!(k.contains(&"notice".to_string()), "{t}");
    let confirmed = &t["timeline"][1];
    assert_eq!(
        (
            confirmed["actor"].as_str(),
            confirmed["detail"]["requested_by"].as_str()
        ),
        (Some("token:zhang"), Some("token:test-admin")),
        "{t}"
    );

    // Raising to Ⅰ: the level asked for waits; a rejection sends nothing.
    let before = alert_count(&app).await;
    let (s, r) = app
        .post(
            &format!("/api/v1/incidents/{id}/level"),
            json!({"level": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["level"].as_i64(), r["pending_level"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(alert_count(&app).await, before);
    let (s, r) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/incidents/{id}/reject"),
            Some(json!({"reason": "雨势减弱，维持Ⅱ级"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["status"].as_str(),
            r["level"].as_i64(),
            r["pending_level"].as_i64()
        ),
        (Some("open"), Some(2), None),
        "{r}"
    );
    assert_eq!(alert_count(&app).await, before, "a rejection sends nothing");
    let (_, t) = app.get(&format!("/api/v1/incidents/{id}")).await;
    let last = t["timeline"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["kind"].as_str(), last["detail"]["reason"].as_str()),
        (Some("activation_rejected"), Some("雨势减弱，维持Ⅱ级")),
        "{t}"
    );
    let audit: Vec<(String, String)> = sqlx::query_as("SELECT actor, action FROM audit_log WHERE entity = 'incident' AND entity_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&app.db().pool)
        .await
        .expect("audit");
    for want in [
        ("token:test-admin", "request_open"),
        ("token:zhang", "confirm"),
        ("token:test-admin", "request_level"),
        ("token:zhang", "reject"),
    ] {
        assert!(
            audit.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {audit:?}"
        );
    }

    // The one who asked cannot confirm, even as a leader.
    let asking_leader = app.leader_token("li", "dispatcher").await;
    let (_, inc) = app
        .send_as(
            &asking_leader,
            "POST",
            "/api/v1/incidents",
            Some(json!({"plan": "flood-test", "level": 1, "villages": ["V2"]})),
        )
        .await;
    let id2 = inc["id"].as_i64().expect("id");
    let (s, v) = app
        .send_as(
            &asking_leader,
            "POST",
            &format!("/api/v1/incidents/{id2}/confirm"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/incidents/{id2}/reject"),
            Some(json!({"reason": "误报"})),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{v}"
    );
    assert_eq!(alert_count(&app).await, before);

    // An exercise and a Ⅲ do not wait.
    let (_, ex) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 1, "villages": ["V2"], "exercise": true}),
        )
        .await;
    assert_eq!(
        (ex["status"].as_str(), ex["alerts"].as_array().map(Vec::len)),
        (Some("open"), Some(1)),
        "{ex}"
    );
}
both!(high_levels_wait_for_a_second_leader);

async fn two_person_levels_are_configurable(b: Backend) {
    let Some((app, _)) = with_plan(b, Vec::new()).await else {
        return;
    };
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 1, "villages": ["V1"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    assert_eq!(
        (
            inc["status"].as_str(),
            inc["alerts"].as_array().map(Vec::len)
        ),
        (Some("open"), Some(1)),
        "empty list: nobody waits: {inc}"
    );
}
both!(two_person_levels_are_configurable);

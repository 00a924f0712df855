//! Plans in force, incidents and observations on both backends: activation
//! notifies exactly the roles and villages a level names, raising sends
//! updates, closing sends the all-clear; rainfall readings open and raise
//! incidents automatically, never lower them and never send twice; a broken
//! plan edit keeps the last good version in force.

mod common;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};

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
auto = ["rainfall"]
triggers = { rainstorm_signal = "blue", rainfall = [{ hours = 1, mm = 20, by_village = { S02 = 15 } }] }
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 30 }]

[[levels]]
level = 3
conditions = ["1小时降雨30毫米"]
lead = "乡长"
auto = ["rainfall"]
triggers = { rainstorm_signal = "yellow", rainfall = [{ hours = 1, mm = 30 }] }
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 2
conditions = ["1小时降雨40毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "orange", rainfall = [{ hours = 1, mm = 40 }] }
notify = [{ roles = ["村支书", "村主任", "网格员"], template = "t", ack_within_minutes = 10 }, { roles = ["应急办值班"], template = "t" }]

[[levels]]
level = 1
conditions = ["1小时降雨50毫米"]
lead = "乡长"
triggers = { rainstorm_signal = "red", rainfall = [{ hours = 1, mm = 50 }] }
notify = [{ roles = ["村支书", "村主任", "网格员", "应急办值班"], template = "t", ack_within_minutes = 5 }]
"#;

struct World {
    app: TestApp,
    /// contact id → (village code, role)
    contacts: Vec<(i64, String, String)>,
    duty: i64,
}

async fn world(b: Backend) -> Option<World> {
    world_with(b, |_| {}).await
}

async fn world_with(b: Backend, tweak: impl FnOnce(&mut fenghuo::config::Config)) -> Option<World> {
    world_of(b, PLAN, tweak).await
}

async fn world_of(
    b: Backend,
    plan: &str,
    tweak: impl FnOnce(&mut fenghuo::config::Config),
) -> Option<World> {
    let plans = tempfile::tempdir().expect("tempdir");
    let dir = plans.path().to_path_buf();
    std::mem::forget(plans);
    let app = TestApp::start_with(b, |c| {
        c.plans_dir = dir.clone();
        tweak(c);
    })
    .await?;
    let mut contacts = Vec::new();
    for (i, code) in ["S01", "S02", "S03"].iter().enumerate() {
        let (_, v) = app.post("/api/v1/villages", json!({"code": code, "name": format!("{code}村"), "boundary": square(118.0 + 0.01 * i as f64, 25.2, 0.01)})).await;
        let vid = v["id"].as_i64().expect("id");
        for (order, role) in [(1, "村支书"), (2, "村主任"), (3, "网格员")] {
            let (_, c) = app
                .post("/api/v1/contacts", json!({"name": format!("{code}{role}"), "roles": [role], "village_id": vid, "phone": format!("1360000{i}{order:03}"), "escalation_order": order}))
                .await;
            contacts.push((
                c["id"].as_i64().expect("id"),
                code.to_string(),
                role.to_string(),
            ));
        }
    }
    let (_, d) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "值班员", "roles": ["应急办值班"], "phone": "13900001234"}),
        )
        .await;
    std::fs::write(dir.join("flood-test.toml"), plan).expect("plan");
    let (s, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["plans"], json!(["flood-test"]), "{r}");
    Some(World {
        app,
        contacts,
        duty: d["id"].as_i64().expect("id"),
    })
}

/// The contact ids an alert went to, sorted.
async fn recipients(app: &TestApp, alert: i64) -> Vec<i64> {
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT contact_id FROM alert_recipients WHERE alert_id = $1 AND contact_id IS NOT NULL ORDER BY contact_id")
        .bind(alert)
        .fetch_all(&app.db().pool)
        .await
        .expect("recipients");
    rows.into_iter().map(|r| r.0).collect()
}

fn pick(w: &World, villages: &[&str], roles: &[&str]) -> Vec<i64> {
    let mut v: Vec<i64> = w
        .contacts
        .iter()
        .filter(|(_, c, r)| villages.contains(&c.as_str()) && roles.contains(&r.as_str()))
        .map(|(id, _, _)| *id)
        .collect();
    v.sort_unstable();
    v
}

async fn activation_raise_and_close(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    let (_, plan) = app.get("/api/v1/plans/flood-test").await;
    let hash = plan["version_hash"].as_str().expect("hash").to_string();
    assert_eq!(plan["plan"]["levels"].as_array().map(Vec::len), Some(4));

    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": "Ⅲ", "villages": ["S01", "S02"], "note": "暴雨"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_i64().expect("id");
    let alerts: Vec<i64> = inc["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        recipients(app, alerts[0]).await,
        pick(&w, &["S01", "S02"], &["村支书", "村主任"]),
        "exactly the roles and villages Ⅲ names"
    );

    // A real Ⅱ waits for a second person (incidents.two_person_levels):
    // nothing is sent until a leader confirms it.
    let (s, asked) = app
        .post(
            &format!("/api/v1/incidents/{id}/level"),
            json!({"level": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{asked}");
    assert_eq!(
        (asked["level"].as_i64(), asked["pending_level"].as_i64()),
        (Some(3), Some(2)),
        "{asked}"
    );
    assert_eq!(asked["alerts"], json!([]), "{asked}");
    let leader = app.leader_token("duty-leader", "viewer").await;
    let (s, raised) = app
        .send_as(
            &leader,
            "POST",
            &format!("/api/v1/incidents/{id}/confirm"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{raised}");
    assert_eq!(raised["level"], 2);
    assert_eq!(raised["pending_level"], Value::Null);
    let updates: Vec<i64> = raised["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(
        recipients(app, updates[0]).await,
        pick(&w, &["S01", "S02"], &["村支书", "村主任", "网格员"])
    );
    assert_eq!(recipients(app, updates[1]).await, vec![w.duty]);
    for u in &updates {
        let (_, a) = app.get(&format!("/api/v1/alerts/{u}")).await;
        assert_eq!(a["msg_type"], "Update", "{a}");
        assert_eq!(a["references"].as_i64(), Some(alerts[0]));
    }

    let (s, closed) = app
        .post(
            &format!("/api/v1/incidents/{id}/close"),
            json!({"note": "雨停"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    let all_clear = closed["all_clear_alert"].as_i64().expect("all-clear");
    let mut everyone = pick(&w, &["S01", "S02"], &["村支书", "村主任", "网格员"]);
    everyone.push(w.duty);
    everyone.sort_unstable();
    assert_eq!(
        recipients(app, all_clear).await,
        everyone,
        "the all-clear goes to everyone notified"
    );
    // Every notice of the incident stops: the first and both updates.
    for a in alerts.iter().chain(&updates) {
        let (_, v) = app.get(&format!("/api/v1/alerts/{a}")).await;
        assert_eq!(
            v["status"], "closed",
            "notice {a} stops with the incident: {v}"
        );
    }
    // Nobody is repeated to or escalated past, however long nobody answers.
    let ids: Vec<String> = alerts.iter().chain(&updates).map(i64::to_string).collect();
    let follow_ups = format!(
        "SELECT COUNT(*) FROM deliveries WHERE purpose <> 'notice' AND alert_id IN ({})",
        ids.join(",")
    );
    let count = |sql: String| async move {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.db().pool)
            .await
            .expect("count");
        n
    };
    let before = count(follow_ups.clone()).await;
    fenghuo::notify::response::escalation::tick(
        &app.notifier(),
        fenghuo::store::now_ms() + 24 * 3_600_000,
    )
    .await
    .expect("tick");
    assert_eq!(
        count(follow_ups).await,
        before,
        "a closed incident's notices are neither repeated nor escalated"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/incidents/{id}/level"),
            json!({"level": 1})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );

    let (_, t) = app.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(t["plan_version"], hash.as_str());
    assert!(
        t["plan_text"]
            .as_str()
            .is_some_and(|p| p.contains("测试防汛预案"))
    );
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "open",
            "notice",
            "activation_requested",
            "activation_confirmed",
            "level",
            "notice",
            "notice",
            "all_clear",
            "close"
        ]
    );
    let first_notice = &t["timeline"][1]["notice"];
    assert_eq!(first_notice["recipients"], 4);
    assert_eq!(
        first_notice["villages"].as_array().map(Vec::len),
        Some(2),
        "answers per village"
    );

    // Bad activations change nothing.
    for (body, field) in [
        (
            json!({"plan": "nope", "level": 3, "villages": ["S01"]}),
            "plan",
        ),
        (
            json!({"plan": "flood-test", "level": 9, "villages": ["S01"]}),
            "level",
        ),
        (
            json!({"plan": "flood-test", "level": 3, "villages": ["S99"]}),
            "villages[0]",
        ),
        (json!({"plan": "flood-test", "level": 3}), "villages"),
    ] {
        let (s, v) = app.post("/api/v1/incidents", body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body} -> {v}"
        );
    }
    assert_eq!(
        app.get("/api/v1/incidents").await.1["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    w.app.stop().await;
}
both!(activation_raise_and_close);

/// A plan's activation goes through the one way notices are sent, which
/// wakes the delivery workers as it commits: with the idle poll set to a
/// minute, the first message is still handed to the provider at once.
async fn activation_wakes_the_workers_at_once(b: Backend) {
    let Some(w) = world_with(b, |c| c.delivery.poll_ms = 60_000).await else {
        return;
    };
    let app = &w.app;
    // Let the workers finish their first look at an empty outbox and go idle.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 4, "villages": ["S01"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let alert = inc["alerts"][0].as_i64().expect("alert");
    let mut handed_off = None;
    for _ in 0..500 {
        let (sent,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND state = 'sent'",
        )
        .bind(alert)
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
        if sent > 0 {
            handed_off = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Without the wake the first send would wait for the minute's poll.
    let took =
        handed_off.expect("the first message of an activation was not handed off within 5 s");
    println!("activation → first hand-off: {} ms", took.as_millis());
    w.app.stop().await;
}
both!(activation_wakes_the_workers_at_once);

async fn observe(app: &TestApp, body: Value) -> Value {
    let (s, v) = app.post("/api/v1/observations", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn rainfall_opens_and_raises_automatically(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    // Under every threshold: nothing.
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 14, "village": "S02"}),
    )
    .await;
    assert_eq!(v["results"], json!([]));
    // Over S02's own Ⅳ threshold (15 mm), under the township's (20 mm).
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 16, "village": "S02"}),
    )
    .await;
    let r = &v["results"][0];
    assert_eq!(
        (r["action"].as_str(), r["level"].as_i64()),
        (Some("opened"), Some(4)),
        "{v}"
    );
    let id = r["incident_id"].as_i64().expect("incident");
    let first = r["alerts"][0].as_i64().expect("alert");
    assert_eq!(
        recipients(app, first).await,
        pick(&w, &["S02"], &["村支书"])
    );
    // A real response opened by a reading: said so, and the duty officer told.
    assert_eq!(r["real_response"], true, "{v}");
    let told = r["alerts"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_i64)
        .expect("duty notice");
    assert_eq!(recipients(app, told).await, vec![w.duty], "{v}");
    let count = |app: &TestApp| {
        let pool = app.db().pool.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
                .fetch_one(&pool)
                .await
                .expect("count");
            n
        }
    };
    let before = count(app).await;
    // The same level again sends nothing.
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 18, "village": "S02"}),
    )
    .await;
    assert_eq!(v["results"][0]["action"], "none", "{v}");
    assert_eq!(count(app).await, before);
    // Over Ⅲ: raised, with updates.
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 33, "village": "S02"}),
    )
    .await;
    assert_eq!(
        (
            v["results"][0]["action"].as_str(),
            v["results"][0]["level"].as_i64()
        ),
        (Some("raised"), Some(3)),
        "{v}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.1["level"],
        3
    );
    // A lower reading never lowers the level.
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 16, "village": "S02"}),
    )
    .await;
    assert_eq!(v["results"][0]["action"], "none");
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.1["level"],
        3
    );
    // Warning signals only suggest in this plan.
    let v = observe(app, json!({"kind": "rainstorm_signal", "colour": "orange"})).await;
    assert_eq!(
        (
            v["results"][0]["action"].as_str(),
            v["results"][0]["level"].as_i64()
        ),
        (Some("suggested"), Some(2))
    );
    let (_, sug) = app.get("/api/v1/observations/suggestions").await;
    assert_eq!(sug["items"][0]["suggestions"][0]["plan"], "flood-test");
    // Bad readings.
    for (body, field) in [
        (
            json!({"kind": "rainfall", "window_hours": 2, "mm": 10}),
            "window_hours",
        ),
        (
            json!({"kind": "rainfall", "window_hours": 1, "mm": -3}),
            "mm",
        ),
        (
            json!({"kind": "rainfall", "window_hours": 1, "mm": 10, "village": "S99"}),
            "village",
        ),
        (json!({"kind": "fire_danger", "rating": 9}), "rating"),
        (
            json!({"kind": "rainstorm_signal", "colour": "purple"}),
            "colour",
        ),
        (json!({"kind": "hail"}), "kind"),
    ] {
        let (s, v) = app.post("/api/v1/observations", body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body} -> {v}"
        );
    }
    w.app.stop().await;
}
both!(rainfall_opens_and_raises_automatically);

/// The fixture plan with no level marked `auto`, and two warnings: a rain
/// watch for the gauge's village (grid workers) and a rainstorm signal with
/// a public text.
fn plan_with_warnings() -> String {
    let mut p = PLAN.replace("auto = [\"rainfall\"]\n", "");
    p.push_str(
        r#"
[templates.watch]
title = "{title}"
body = "{name}：{village}雨量已达{title}指标，请巡查溪沟。"

[templates.public]
title = "{title}：请远离溪河"
body = "{office}提醒：已发布{title}，请远离溪河、山塘。"

[[warnings]]
id = "rain-watch"
title = "雨情提醒"
conditions = ["1小时降雨10毫米"]
hours = 6
triggers = { rainfall = [{ hours = 1, mm = 10 }] }
notify = [{ roles = ["网格员"], template = "watch", ack_within_minutes = 30 }]

[[warnings]]
id = "rainstorm-yellow"
title = "暴雨黄色预警"
conditions = ["暴雨黄色预警信号"]
public = "public"
triggers = { rainstorm_signal = "yellow" }
notify = [{ roles = ["村主任"], template = "watch" }]
"#,
    );
    p
}

/// A reading over a response threshold opens nothing unless the level is
/// marked `auto`: it is a suggestion. A warning it meets goes out at once,
/// to the reading's village only, once while it is in force.
async fn readings_issue_warnings_and_only_suggest_responses(b: Backend) {
    let Some(w) = world_of(b, &plan_with_warnings(), |_| {}).await else {
        return;
    };
    let app = &w.app;
    // 45 mm in an hour at S02: over Ⅱ's threshold (40 mm).
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 45, "village": "S02"}),
    )
    .await;
    let results = v["results"].as_array().expect("results");
    let warned = results
        .iter()
        .find(|r| r["action"] == "warned")
        .unwrap_or_else(|| panic!("a warning was issued: {v}"));
    assert_eq!(warned["warning"], "rain-watch", "{v}");
    let suggested = results
        .iter()
        .find(|r| r["level"].is_number())
        .unwrap_or_else(|| panic!("a level was evaluated: {v}"));
    assert_eq!(
        (suggested["action"].as_str(), suggested["level"].as_i64()),
        (Some("suggested"), Some(2)),
        "{v}"
    );
    assert_eq!(suggested["real_response"], false);
    let (_, incs) = app.get("/api/v1/incidents").await;
    assert_eq!(incs["items"], json!([]), "no response was opened: {incs}");
    // The warning's notice went to S02's grid worker and nobody else.
    let alert = warned["alerts"][0].as_i64().expect("alert");
    assert_eq!(
        recipients(app, alert).await,
        pick(&w, &["S02"], &["网格员"])
    );
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(
        a["title"], "雨情提醒",
        "{{title}} is the warning's name: {a}"
    );
    assert_eq!(a["public"], false, "a readiness notice is internal: {a}");
    // In force: the same or a lesser reading at S02 sends nothing again …
    let (n_before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 12, "village": "S02"}),
    )
    .await;
    assert_eq!(v["results"][0]["action"], "warning_in_force", "{v}");
    let (n_after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n_after, n_before);
    // … but another village's gauge is a new warning for that village.
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 12, "village": "S03"}),
    )
    .await;
    assert_eq!(v["results"][0]["action"], "warned", "{v}");
    let a3 = v["results"][0]["alerts"][0].as_i64().expect("alert");
    assert_eq!(recipients(app, a3).await, pick(&w, &["S03"], &["网格员"]));
    // Lifted: its notices close, and the next reading warns again.
    let record = warned["warning_record"].as_i64().expect("record");
    let (_, in_force) = app.get("/api/v1/warnings").await;
    assert_eq!(
        in_force["items"].as_array().map(Vec::len),
        Some(2),
        "{in_force}"
    );
    let (s, lifted) = app
        .post(&format!("/api/v1/warnings/{record}/lift"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{lifted}");
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(a["status"], "closed", "{a}");
    let (s, again) = app
        .post(&format!("/api/v1/warnings/{record}/lift"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
    let v = observe(
        app,
        json!({"kind": "rainfall", "window_hours": 1, "mm": 12, "village": "S02"}),
    )
    .await;
    assert_eq!(v["results"][0]["action"], "warned", "{v}");

    // A signal: the readiness notice to every village's 村主任, and the
    // public text filled for everyone before it is stored.
    let v = observe(app, json!({"kind": "rainstorm_signal", "colour": "yellow"})).await;
    let warned = v["results"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["action"] == "warned"))
        .unwrap_or_else(|| panic!("the signal issued its warning: {v}"))
        .clone();
    let public = warned["public_alert"]
        .as_i64()
        .or_else(|| {
            warned["alerts"]
                .as_array()
                .and_then(|a| a.last())
                .and_then(Value::as_i64)
        })
        .expect("public alert");
    let (_, p) = app.get(&format!("/api/v1/alerts/{public}")).await;
    assert_eq!(p["public"], true, "{p}");
    for field in ["title", "body"] {
        let text = p[field].as_str().expect("text");
        assert!(
            !text.contains('{'),
            "{field} filled before it is stored: {text}"
        );
        assert!(text.contains("暴雨黄色预警"), "{field}: {text}");
    }
    let internal = warned["alerts"][0].as_i64().expect("alert");
    assert_eq!(
        recipients(app, internal).await,
        pick(&w, &["S01", "S02", "S03"], &["村主任"])
    );
    // Issued by hand: a bad warning or village is refused by name, nothing sent.
    let (n_before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    for (path, body, field) in [
        (
            "/api/v1/plans/flood-test/warnings/nope/issue",
            json!({"villages": "all"}),
            "warning",
        ),
        (
            "/api/v1/plans/flood-test/warnings/rain-watch/issue",
            json!({"villages": ["S99"]}),
            "villages[0]",
        ),
        (
            "/api/v1/plans/flood-test/warnings/rain-watch/issue",
            json!({"villages": 7}),
            "villages",
        ),
    ] {
        let (s, v) = app.post(path, body).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{path} -> {v}"
        );
    }
    let (n_after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n_after, n_before);
    let (s, v) = app.post("/api/v1/warnings/9999/lift", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // Still no response opened by any of it.
    let (_, incs) = app.get("/api/v1/incidents").await;
    assert_eq!(incs["items"], json!([]), "{incs}");
    w.app.stop().await;
}
both!(readings_issue_warnings_and_only_suggest_responses);

async fn a_broken_edit_keeps_the_last_good_plan(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    let (_, before) = app.get("/api/v1/plans/flood-test").await;
    let file = app.cfg.plans_dir.join("flood-test.toml");
    std::fs::write(
        &file,
        PLAN.replace("level = 3\n", "level = 3\nlevel_typo = 7\n"),
    )
    .expect("edit");
    let (s, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        r["plans"],
        json!(["flood-test"]),
        "the plan stays in force: {r}"
    );
    let problem = r["problems"][0].as_str().expect("problem").to_string();
    assert!(
        problem.contains("flood-test.toml:") && problem.contains("level_typo"),
        "{problem}"
    );
    let (_, after) = app.get("/api/v1/plans/flood-test").await;
    assert_eq!(after["version_hash"], before["version_hash"]);
    assert!(
        after["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("level_typo"))
    );
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["plans"]["status"], "problems", "{ready}");
    // It still activates with the good version.
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 4, "villages": ["S01"], "exercise": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    assert_eq!(inc["plan_version"], before["version_hash"]);
    assert_eq!(inc["exercise"], true);
    // A drill's notices are marked as such. A plan's duty notices are
    // internal (named roles, answer links, `{name}` templates): never
    // published, neither as CAP nor in the feed.
    let alert = inc["alerts"][0].as_i64().expect("alert");
    let (_, a) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    // The title reads in words (plan and level filled in when stored); the
    // exercise mark is the flag, added once when a message is written.
    assert_eq!(a["title"], "测试防汛预案Ⅳ级（蓝色）", "{a}");
    assert_eq!(
        (a["exercise"].as_bool(), a["public"].as_bool()),
        (Some(true), Some(false)),
        "{a}"
    );
    let cap = app
        .client
        .get(format!("{}/public/alerts/{alert}.cap", app.base))
        .send()
        .await
        .expect("cap");
    assert_eq!(cap.status(), StatusCode::NOT_FOUND);
    let feed = app
        .client
        .get(format!("{}/public/feed.atom", app.base))
        .send()
        .await
        .expect("feed")
        .text()
        .await
        .expect("text");
    assert!(
        !feed.contains("<entry>") && !feed.contains('{'),
        "no duty notice in the public feed: {feed}"
    );
    // Fixed again: the new version is recorded by its hash.
    std::fs::write(&file, PLAN.replace("测试防汛预案", "测试防汛预案（修订）")).expect("edit");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]));
    let (_, fixed) = app.get("/api/v1/plans/flood-test").await;
    assert_ne!(fixed["version_hash"], before["version_hash"]);
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM plan_versions WHERE plan_id = 'flood-test'")
            .fetch_one(&app.db().pool)
            .await
            .expect("n");
    assert_eq!(n, 2);
    w.app.stop().await;
}
both!(a_broken_edit_keeps_the_last_good_plan);

async fn drill_of_a_plan_runs_as_an_exercise_incident(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    let (_, d) = app.post("/api/v1/drills", json!({"title": "汛前转移演练", "plan_id": "flood-test", "cron": "0 9 15 4 *", "villages": ["S01", "S02"], "lead_times": ["1d"]})).await;
    let id = d["id"].as_i64().expect("drill");
    let (s, started) = app
        .post(&format!("/api/v1/drills/{id}/start"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    let inc = started["incident_id"]
        .as_i64()
        .expect("an exercise incident");
    let (_, t) = app.get(&format!("/api/v1/incidents/{inc}")).await;
    assert_eq!(
        (t["exercise"].as_bool(), t["level"].as_i64()),
        (Some(true), Some(4)),
        "{t}"
    );
    let alert = started["alert_id"].as_i64().expect("alert");
    // Level Ⅳ names the 村支书 of each village; S01's answers, S02's stays silent.
    let s01 = pick(&w, &["S01"], &["村支书"])[0];
    let tok = app.token_of(alert, s01).await;
    app.client
        .post(format!("{}/a/{tok}", app.base))
        .send()
        .await
        .expect("answer");
    let n = app.notifier();
    let fired =
        fenghuo::notify::response::escalation::tick(&n, fenghuo::store::now_ms() + 31 * 60_000)
            .await
            .expect("tick");
    assert_eq!(fired, 1, "the silent 村支书 is chased");
    assert!(
        !app.token_of(alert, pick(&w, &["S02"], &["村主任"])[0])
            .await
            .is_empty(),
        "and the next in S02 told"
    );
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let (s, rec) = app
        .post(
            &format!("/api/v1/drills/{id}/records"),
            json!({"held_on": today, "participants": ["S01", "S02"], "duration_minutes": 30}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    let villages = rec["answer_stats"]["villages"]
        .as_array()
        .expect("villages");
    let rates: Vec<(String, f64)> = villages
        .iter()
        .map(|v| {
            (
                v["village"].as_str().unwrap_or("").to_string(),
                v["answer_rate"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        rates,
        [("S01村".to_string(), 1.0), ("S02村".to_string(), 0.0)]
    );
    assert!(villages[0]["mean_seconds"].is_number());
    let (_, card) = app.get(&format!("/api/v1/drills/{id}/scorecard")).await;
    assert_eq!(card["records"].as_array().map(Vec::len), Some(1));
    w.app.stop().await;
}
both!(drill_of_a_plan_runs_as_an_exercise_incident);

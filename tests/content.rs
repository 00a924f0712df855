//! The shipped content, on SQLite and on PostgreSQL: the shelter register
//! (records, versions, audit, and plans that name a shelter not in it), site
//! safety officers reached by site kind within the notice's villages, the
//! fireworks retail licence rule and stock over the permitted amount, and the
//! sample township that has someone for every role the shipped plans notify.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::BTreeSet;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn village(app: &TestApp, code: &str, lon0: f64, lat0: f64) -> i64 {
    let (s, v) = app
        .post("/api/v1/villages", json!({"code": code, "name": format!("{code}村"), "boundary": square(lon0, lat0, 0.01)}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

fn field(v: &Value) -> &str {
    v["error"]["field"].as_str().unwrap_or("")
}

async fn shelter_register(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let s01 = village(&app, "S01", 118.0, 25.2).await;
    let s02 = village(&app, "S02", 118.02, 25.2).await;
    let body = json!({
        "code": "BZ-S01-1", "name": "湖上中心小学", "location": {"lon": 118.005, "lat": 25.205},
        "capacity": 400, "manager": "林某", "phone": "138 0000 1111", "status": "启用",
        "address": "教学楼二、三层"
    });
    let (s, v) = app.post("/api/v1/shelters", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert_eq!(v["village_id"], s01, "placed by its location");
    assert_eq!(
        (v["status"].as_str(), v["status_label"].as_str()),
        (Some("open"), Some("启用"))
    );
    assert_eq!(v["phone"], "+8613800001111");

    // Bad input names its field and writes nothing.
    for (change, want) in [
        (json!({}), "code"),
        (json!({"code": "BZ S01"}), "code"),
        (json!({"code": "BZ-S01-2", "capacity": 0}), "capacity"),
        (json!({"code": "BZ-S01-2", "village_id": s02}), "location"),
        (
            json!({"code": "BZ-S01-2", "village_id": 999_999}),
            "village_id",
        ),
        (
            json!({"code": "BZ-S01-2", "location": {"lon": 218.0, "lat": 25.2}}),
            "location",
        ),
    ] {
        let mut b = body.clone();
        for (k, x) in change.as_object().expect("object") {
            b[k] = x.clone();
        }
        let (s, v) = app.post("/api/v1/shelters", b).await;
        assert_eq!(
            (s, field(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{change}: {v}"
        );
    }
    let (_, list) = app.get("/api/v1/shelters").await;
    assert_eq!(list["total"], 1, "{list}");

    // Versioned edits: the current version wins, a stale one is a conflict.
    let mut edit = body.clone();
    edit["capacity"] = json!(350);
    edit["status"] = json!("repair");
    edit["version"] = json!(1);
    let (s, v) = app
        .put(&format!("/api/v1/shelters/{id}"), edit.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["version"].as_i64(), v["capacity"].as_i64()),
        (Some(2), Some(350))
    );
    assert_eq!(v["status_label"], "维修中");
    let (s, _) = app.put(&format!("/api/v1/shelters/{id}"), edit).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, audit) = app
        .get(&format!("/api/v1/audit?entity=shelter&entity_id={id}"))
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["update", "create"], "{audit}");

    // A plan naming a shelter not in the register is a problem at its code.
    let plans = app.cfg.plans_dir.clone();
    std::fs::create_dir_all(&plans).expect("plans dir");
    std::fs::write(
        plans.join("p.toml"),
        PLAN.replace("SHELTERS", r#"["BZ-S01-1", "BZ-S09-9"]"#),
    )
    .expect("plan");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    let problems = r["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{r}");
    let p = problems[0].as_str().unwrap_or("");
    assert!(
        p.ends_with("p.toml:8:25: shelter 'BZ-S09-9' is not in the shelter register (避灾点未登记); register it on the dashboard (避灾点) or fix the code; registered: BZ-S01-1"),
        "{p}"
    );
    std::fs::write(
        plans.join("p.toml"),
        PLAN.replace("SHELTERS", r#"["BZ-S01-1"]"#),
    )
    .expect("plan");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(
        (&r["plans"], &r["problems"]),
        (&json!(["p"]), &json!([])),
        "{r}"
    );

    // Archived, it leaves the list and the plans naming it are flagged.
    let (s, v) = app
        .send("DELETE", &format!("/api/v1/shelters/{id}?version=2"), None)
        .await;
    assert_eq!((s, &v["archived"]), (StatusCode::OK, &json!(true)), "{v}");
    assert_eq!(app.get("/api/v1/shelters").await.1["total"], 0);
    let (s, _) = app
        .post("/api/v1/shelters", json!({"code": "BZ-S02-1", "name": "湖东村村委会", "location": {"lon": 118.025, "lat": 25.205}, "capacity": 150}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert!(
        r["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("'BZ-S01-1' is not in the shelter register")),
        "{r}"
    );
    app.stop().await;
}
both!(shelter_register);

/// A small valid plan; SHELTERS is its shelter list (line 8).
const PLAN: &str = r#"id = "p"
title = "测试预案"
hazard = "flood"
version = "1"
status = "draft"
approved_on = 2025-04-01
approved_by = "湖上乡人民政府"
shelters = SHELTERS
templates.t.title = "{plan}{level}"
templates.t.body = "{name}：请于{deadline}前打开{link}确认"
[[levels]]
level = 4
conditions = ["暴雨蓝色预警"]
lead = "分管领导"
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 15 }]
[[levels]]
level = 3
conditions = ["暴雨黄色预警"]
lead = "乡长"
notify = [{ roles = ["企业安全员"], site_kinds = ["fireworks_retail", "fireworks_wholesale"], template = "t" }]
[[levels]]
level = 2
conditions = ["暴雨橙色预警"]
lead = "乡长"
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 10 }]
[[levels]]
level = 1
conditions = ["暴雨红色预警"]
lead = "乡长"
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 5 }]
"#;

async fn site(app: &TestApp, name: &str, kind: &str, lon: f64, lat: f64, phone: &str) {
    let (s, v) = app
        .post("/api/v1/sites", json!({"name": name, "kind": kind, "risk_grade": "general", "location": {"lon": lon, "lat": lat}, "safety_officer": format!("{name}安全员"), "safety_officer_phone": phone}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

async fn phones(app: &TestApp, alert: i64) -> BTreeSet<String> {
    let rows: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT phone FROM alert_recipients WHERE alert_id = $1")
            .bind(alert)
            .fetch_all(&app.db().pool)
            .await
            .expect("recipients");
    rows.into_iter().filter_map(|r| r.0).collect()
}

async fn safety_officers_by_site_kind(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "S01", 118.0, 25.2).await;
    village(&app, "S02", 118.02, 25.2).await;
    // In S01: a retail and a wholesale fireworks point and a petrol depot;
    // in S02 another retail point.
    site(
        &app,
        "零售点",
        "fireworks_retail",
        118.003,
        25.203,
        "13900000001",
    )
    .await;
    site(
        &app,
        "批发部",
        "fireworks_wholesale",
        118.006,
        25.206,
        "13900000002",
    )
    .await;
    site(
        &app,
        "油库",
        "hazchem_storage",
        118.008,
        25.202,
        "13900000003",
    )
    .await;
    site(
        &app,
        "二村零售点",
        "fireworks_retail",
        118.025,
        25.205,
        "13900000004",
    )
    .await;
    let want = |xs: &[&str]| {
        xs.iter()
            .map(|p| format!("+86{p}"))
            .collect::<BTreeSet<_>>()
    };

    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "t", "body": "b", "targets": {"villages": ["S01"], "roles": ["企业安全员"], "site_kinds": ["fireworks_retail"]}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert_eq!(phones(&app, id).await, want(&["13900000001"]));

    // Site kinds need villages or an area to look in.
    let (s, v) = app
        .post("/api/v1/alerts", json!({"title": "t", "body": "b", "targets": {"roles": ["企业安全员"], "site_kinds": ["fireworks_retail"]}}))
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "targets.site_kinds")
    );

    // A plan's activation for S01: the rule's kinds, in S01 only.
    let plans = app.cfg.plans_dir.clone();
    std::fs::create_dir_all(&plans).expect("plans dir");
    std::fs::write(plans.join("p.toml"), PLAN.replace("SHELTERS", "[]")).expect("plan");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]), "{r}");
    let (s, v) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "p", "level": 3, "villages": ["S01"], "exercise": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let alerts: Vec<(i64,)> = sqlx::query_as("SELECT id FROM alerts WHERE plan = '测试预案'")
        .fetch_all(&app.db().pool)
        .await
        .expect("alerts");
    let mut reached = BTreeSet::new();
    for (a,) in alerts {
        reached.extend(phones(&app, a).await);
    }
    assert_eq!(reached, want(&["13900000001", "13900000002"]));
    app.stop().await;
}
both!(safety_officers_by_site_kind);

async fn retail_licence_and_stock(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "S01", 118.0, 25.2).await;
    let body = json!({
        "name": "烟花零售点", "kind": "fireworks_retail", "risk_grade": "low",
        "location": {"lon": 118.004, "lat": 25.204},
        "licence": {"number": "(闽)LS〔2025〕00315", "issued_on": "2025-01-10", "expires_on": "2027-01-11"},
        "max_stock": 200, "max_stock_unit": "箱",
        "inventory": [{"chemical": "烟花爆竹（1.4G 类）", "un_number": "UN0336", "max_quantity": 500, "unit": "箱"}]
    });
    // A retail licence runs at most two years.
    let (s, v) = app.post("/api/v1/sites", body.clone()).await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "licence.expires_on"),
        "{v}"
    );
    let mut ok = body.clone();
    ok["licence"]["expires_on"] = json!("2027-01-10");
    // 500 boxes against 200 permitted: a retail point may not be registered
    // holding more than its licence permits.
    let (s, v) = app.post("/api/v1/sites", ok.clone()).await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "inventory"),
        "{v}"
    );
    let mut within = ok.clone();
    within["inventory"][0]["max_quantity"] = json!(180);
    let (s, v) = app.post("/api/v1/sites", within).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["over_stock"], Value::Null);
    // Wholesale licences may run longer; over its stock it is flagged, not refused.
    let mut wholesale = body.clone();
    wholesale["kind"] = json!("fireworks_wholesale");
    wholesale["name"] = json!("烟花批发部");
    wholesale["licence"]["expires_on"] = json!("2028-01-09");
    let (s, w) = app.post("/api/v1/sites", wholesale.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["id"].as_i64().expect("id");

    // 500 boxes against 200 permitted: flagged on the site and the worklist.
    assert_eq!(w["over_stock"], json!(500.0));
    let (_, wl) = app.get("/api/v1/worklist").await;
    let over = wl["over_stock"].as_array().expect("over_stock");
    assert_eq!(over.len(), 1, "{wl}");
    assert_eq!(
        (
            &over[0]["site"]["id"],
            &over[0]["held"],
            &over[0]["permitted"],
            &over[0]["unit"]
        ),
        (&json!(id), &json!(500.0), &json!(200.0), &json!("箱"))
    );
    // Brought within it, the flag goes.
    let mut fixed = wholesale.clone();
    fixed["inventory"][0]["max_quantity"] = json!(150);
    fixed["version"] = json!(1);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), fixed).await;
    assert_eq!((s, &v["over_stock"]), (StatusCode::OK, &Value::Null), "{v}");
    let (_, wl) = app.get("/api/v1/worklist").await;
    assert_eq!(wl["over_stock"], json!([]));
    app.stop().await;
}
both!(retail_licence_and_stock);

/// Every role a shipped plan notifies or escalates to has an active
/// contact in the sample township where the rule looks (its villages or the
/// township level), and 企业安全员 an active site with an officer's phone
/// of the rule's kinds: no plan notice is skipped for want of a contact.
async fn sample_township_covers_every_plan_role(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.plans_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))
    })
    .await
    else {
        return;
    };
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]), "{r}");
    let (_, shelters) = app.get("/api/v1/shelters").await;
    assert_eq!(shelters["total"], 13, "a shelter per village");
    let (_, villages) = app.get("/api/v1/villages").await;
    let village_id = |code: &str| {
        villages["items"]
            .as_array()
            .expect("villages")
            .iter()
            .find(|v| v["code"] == code)
            .and_then(|v| v["id"].as_i64())
    };
    let all_ids: Vec<i64> = villages["items"]
        .as_array()
        .expect("villages")
        .iter()
        .filter_map(|v| v["id"].as_i64())
        .collect();
    let (_, contacts) = app.get("/api/v1/contacts?per_page=500&active=true").await;
    let contacts = contacts["items"].as_array().expect("contacts").clone();
    let (_, sites) = app.get("/api/v1/sites?per_page=500").await;
    let sites = sites["items"].as_array().expect("sites").clone();
    let shipped = fenghuo::plans::load_dir(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/plans")),
        None,
    );
    let mut checked = 0;
    for p in shipped.plans() {
        let parts = p
            .plan
            .levels
            .iter()
            .map(|l| (format!("level {}", l.level), &l.notify))
            .chain(
                p.plan
                    .warnings
                    .iter()
                    .map(|w| (format!("warning {}", w.id), &w.notify)),
            );
        for (part, rules) in parts {
            for (k, rule) in rules.iter().enumerate() {
                let ids: Vec<i64> = match rule.villages.codes() {
                    None => all_ids.clone(),
                    Some(cs) => cs.iter().filter_map(|c| village_id(c)).collect(),
                };
                let held = |role: &str| {
                    contacts.iter().any(|c| {
                        c["roles"]
                            .as_array()
                            .is_some_and(|rs| rs.iter().any(|r| r == role))
                            && c["village_id"].as_i64().is_none_or(|v| ids.contains(&v))
                    })
                };
                let officer = |kinds: &[fenghuo::ledger::sites::SiteKind]| {
                    sites.iter().any(|s| {
                        s["status"] == "active"
                            && s["safety_officer_phone"].is_string()
                            && s["village_id"].as_i64().is_some_and(|v| ids.contains(&v))
                            && (kinds.is_empty() || kinds.iter().any(|k| s["kind"] == k.as_str()))
                    })
                };
                for role in rule.roles.iter().chain(&rule.escalate_to) {
                    let ok = if role == "企业安全员" {
                        officer(&rule.site_kinds)
                    } else {
                        held(role)
                    };
                    assert!(
                        ok,
                        "{} {part} rule {k}: nobody active holds {role}",
                        p.plan.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 80, "{checked}");
    app.stop().await;
}
both!(sample_township_covers_every_plan_role);

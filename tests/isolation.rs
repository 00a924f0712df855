//! One county, several townships (issue 16): a township's office cannot read
//! or change another township's rows through any API route or any page, and
//! the county sees them all.
//!
//! Township 1 holds the sample township (villages, contacts, sites with
//! inspections and findings, shelters) plus a notice, a drill and an
//! incident made through the API; township 2 holds a village, a contact and
//! a site of its own. Then, as township 2's admin, every operation of the
//! OpenAPI document is called with township 1's ids, and every page of the
//! dashboard is opened (and every form posted) with them: no answer may be
//! a success for a foreign id, no answer may carry township 1's names or
//! phone numbers, and township 1's rows must be exactly as they were.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::BTreeMap;

use chrono_tz::Asia::Shanghai;
use common::{Backend, TestApp};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

/// The owned tables whose township-1 rows must not change.
const OWNED: [&str; 25] = [
    "plan_warnings",
    "villages",
    "contacts",
    "sites",
    "inspections",
    "findings",
    "shelters",
    "message_templates",
    "alerts",
    "incidents",
    "observations",
    "drills",
    "drill_records",
    "users",
    "api_tokens",
    "daily_rounds",
    "duty_shifts",
    "duty_handovers",
    "group_robots",
    "photos",
    "inspectors",
    "draw_plans",
    "documents",
    "dispositions",
    "supervisions",
];

struct County {
    app: TestApp,
    t2: i64,
    /// Township 2's admin token and the county's.
    t2_admin: String,
    county: String,
    /// Township 1's ids by what the routes call them.
    ids: BTreeMap<&'static str, i64>,
    /// Texts only township 1's rows contain.
    marks: Vec<String>,
    /// Texts only township 2's rows contain.
    own: Vec<String>,
}

async fn scalar(db: &fenghuo::store::Db, sql: &str) -> Option<i64> {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_optional(&db.pool)
        .await
        .expect(sql)
        .map(|r| r.0)
}

async fn texts(db: &fenghuo::store::Db, sql: &str) -> Vec<String> {
    sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&db.pool)
        .await
        .expect(sql)
        .into_iter()
        .map(|r| r.0)
        .collect()
}

/// Township 1's rows, table by table, as text: equal before and after means
/// nothing of township 1 changed.
async fn snapshot(db: &fenghuo::store::Db) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in OWNED {
        let cols: &str = match table {
            "users" => "id, name, role, disabled_at",
            "api_tokens" => "id, name, revoked_at",
            "alerts" => "id, status, closed_at",
            "incidents" => "id, status, level",
            "plan_warnings" => "id, lifted_at",
            "daily_rounds" => "id, chased_at, summarised_at, summary_text",
            "findings" => "id, status",
            "draw_plans" => "id, version, drawn_at, seed",
            "observations" | "inspections" | "drill_records" | "duty_handovers" | "photos"
            | "dispositions" => "id",
            "documents" => "id, superseded_by",
            "supervisions" => "id, status",
            _ => "id, version, archived_at",
        };
        let mut rows = Vec::new();
        for col in cols.split(", ") {
            let sql = format!(
                "SELECT COALESCE(CAST({col} AS TEXT), '-') FROM {table} WHERE township_id = 1 ORDER BY id"
            );
            rows.push(format!("{col}={}", texts(db, &sql).await.join(",")));
        }
        let count = scalar(
            db,
            &format!("SELECT COUNT(*) FROM {table} WHERE township_id = 1"),
        )
        .await
        .unwrap_or(0);
        rows.push(format!("count={count}"));
        out.insert(table, rows);
    }
    out
}

async fn county(backend: Backend) -> Option<County> {
    let app = TestApp::start_with(backend, |c| {
        c.sample_plans = true;
    })
    .await?;
    let db = app.db().clone();
    assert!(fenghuo::demo::load(&db, Shanghai).await.expect("demo"));

    // Township 1's notice, drill and incident, through the API.
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "甲乡山塘巡查通知", "body": "{name}：请立即巡查山塘。", "level": "blue",
                   "channels": ["sms"], "targets": {"villages": [scalar(&db, "SELECT MIN(id) FROM villages").await]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let at = (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    let vid = scalar(&db, "SELECT MIN(id) FROM villages").await;
    let (s, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "甲乡防汛转移演练", "at": at, "villages": [vid], "lead_times": ["7d", "1d"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-typhoon", "level": "Ⅳ", "villages": ["S01"], "note": "甲乡暴雨"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");

    // Township 2, with rows of its own (codes SQLite keeps unique install-wide).
    let t2 = sqlx::query_as::<_, (i64,)>(
        "INSERT INTO townships (code, name, county_code, created_at, updated_at) \
         VALUES ('350524102000', '乙镇', '350524', 0, 0) RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("township 2")
    .0;
    // Made through the API by the home office, then moved to township 2:
    // what township 2's own rows look like does not depend on the code
    // under test.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "Y01", "name": "乙镇一村", "boundary": common::square(118.6, 25.6, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let v2 = v["id"].as_i64().expect("village 2");
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "乙镇联络员", "roles": ["网格员"], "village_id": v2, "phone": "13900002222", "escalation_order": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let c2 = v["id"].as_i64().expect("contact 2");
    let (s, v) = app
        .post(
            "/api/v1/sites",
            json!({
                "name": "乙镇烟花仓库", "kind": "fireworks_retail", "risk_grade": "general",
                "location": {"lon": 118.605, "lat": 25.605},
                "safety_officer": "赵六", "safety_officer_phone": "139 0000 3333",
                "licence": {"number": "(闽)LS〔2025〕0999", "issued_on": "2025-01-10", "expires_on": "2027-01-09"}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let s2 = v["id"].as_i64().expect("site 2");
    for (table, id) in [("villages", v2), ("contacts", c2), ("sites", s2)] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET township_id = $1 WHERE id = $2"
        )))
        .bind(t2)
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("move to township 2");
    }
    for (entity, id) in [("village", v2), ("contact", c2), ("site", s2)] {
        sqlx::query("UPDATE audit_log SET township_id = $1 WHERE entity = $2 AND entity_id = $3")
            .bind(t2)
            .bind(entity)
            .bind(id)
            .execute(&db.pool)
            .await
            .expect("their audit entries");
    }

    let (_, t2_admin) = fenghuo::auth::create_scoped_token(
        &db,
        "t2-admin",
        Role::Admin,
        true,
        &Scope::township(t2),
        t2,
    )
    .await
    .expect("t2 token");
    let (_, county) =
        fenghuo::auth::create_scoped_token(&db, "county", Role::Admin, true, &Scope::County, 1)
            .await
            .expect("county token");

    let one = async |sql: &str| scalar(&db, sql).await.expect(sql);
    let mut ids = BTreeMap::new();
    ids.insert(
        "villages",
        one("SELECT MIN(id) FROM villages WHERE township_id = 1").await,
    );
    ids.insert(
        "contacts",
        one("SELECT MIN(id) FROM contacts WHERE township_id = 1").await,
    );
    ids.insert(
        "sites",
        one("SELECT MIN(id) FROM sites WHERE township_id = 1").await,
    );
    ids.insert(
        "shelters",
        one("SELECT MIN(id) FROM shelters WHERE township_id = 1").await,
    );
    ids.insert(
        "message-templates",
        one("SELECT MIN(id) FROM message_templates WHERE township_id = 1").await,
    );
    ids.insert(
        "findings",
        one("SELECT MIN(id) FROM findings WHERE township_id = 1").await,
    );
    ids.insert(
        "inspections",
        one("SELECT MIN(id) FROM inspections WHERE township_id = 1").await,
    );
    // The sample township's photos (`demo::load`: an inspection's, a finding's).
    ids.insert(
        "photos",
        one("SELECT MIN(id) FROM photos WHERE township_id = 1").await,
    );
    // The sample township's enforcement documents (`demo::load`).
    ids.insert(
        "documents",
        one("SELECT MIN(id) FROM documents WHERE township_id = 1").await,
    );
    // The sample township's work-group robots (`demo::load`, switched off).
    ids.insert(
        "group-robots",
        one("SELECT MIN(id) FROM group_robots WHERE township_id = 1").await,
    );
    // The sample township's inspectors and its drawn 双随机 plan (`demo::load`).
    ids.insert(
        "inspectors",
        one("SELECT MIN(id) FROM inspectors WHERE township_id = 1").await,
    );
    let plan = one("SELECT MIN(id) FROM draw_plans WHERE township_id = 1").await;
    ids.insert("draw-plans", plan);
    ids.insert("draws", plan);
    let zone = one("SELECT MIN(id) FROM danger_zones WHERE township_id = 1").await;
    ids.insert("danger-zones", zone);
    ids.insert(
        "households",
        one("SELECT MIN(id) FROM households WHERE township_id = 1").await,
    );
    let (s, v) = app
        .post("/api/v1/transfers", json!({"zones": [zone]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    ids.insert(
        "transfers",
        v["items"][0]["transfer_id"].as_i64().expect("transfer id"),
    );
    let (reply,): (i64,) = sqlx::query_as(
        "INSERT INTO inbound_messages (provider, message_key, received_at, phone, text, outcome, township_id, needs_reading) \
         VALUES ('webhook', 'iso-1', 1, '+8613800009999', '甲乡后山滑坡', 'not_acknowledgement', 1, 1) RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a reply in township 1");
    ids.insert("replies", reply);
    // The sample township's daily reports (two past days, `demo::load`).
    ids.insert(
        "daily-reports",
        one("SELECT MIN(id) FROM daily_rounds WHERE township_id = 1").await,
    );
    // The sample township's duty roster (`demo::load`): the API's
    // `/duty-shifts/{id}` and the dashboard's `/duty/shifts/{id}/…`.
    let shift = one("SELECT MIN(id) FROM duty_shifts WHERE township_id = 1").await;
    ids.insert("duty-shifts", shift);
    ids.insert("shifts", shift);
    ids.insert("alerts", a["id"].as_i64().expect("alert id"));
    ids.insert("drills", d["id"].as_i64().expect("drill id"));
    ids.insert("incidents", inc["id"].as_i64().expect("incident id"));
    let (s, rep) = app
        .post(
            &format!("/api/v1/incidents/{}/reports", ids["incidents"]),
            json!({"kind": "initial", "situation": "甲乡初报", "reporter": "甲乡报告人"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rep}");
    ids.insert("incident-reports", rep["id"].as_i64().expect("report id"));
    ids.insert(
        "tokens",
        one("SELECT MIN(id) FROM api_tokens WHERE township_id = 1").await,
    );
    let (s, w) = app
        .post(
            "/api/v1/plans/flood-typhoon/warnings/rainstorm-blue/issue",
            json!({"villages": ["S01"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    ids.insert(
        "warnings",
        one("SELECT MIN(id) FROM plan_warnings WHERE township_id = 1").await,
    );

    let mut marks = texts(&db, "SELECT phone FROM contacts WHERE township_id = 1").await;
    marks.extend(texts(&db, "SELECT name FROM sites WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT name FROM villages WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT name FROM shelters WHERE township_id = 1").await);
    marks.extend(
        texts(
            &db,
            "SELECT name FROM message_templates WHERE township_id = 1",
        )
        .await,
    );
    marks.extend(texts(&db, "SELECT name FROM danger_zones WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT name FROM group_robots WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT head FROM households WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT caption FROM photos WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT phone FROM inspectors WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT name FROM inspectors WHERE township_id = 1").await);
    marks.extend(texts(&db, "SELECT title FROM draw_plans WHERE township_id = 1").await);
    marks.extend(
        texts(
            &db,
            "SELECT notes FROM duty_handovers WHERE township_id = 1",
        )
        .await,
    );
    marks.extend([
        "甲乡山塘巡查通知".to_string(),
        "甲乡防汛转移演练".to_string(),
        "甲乡后山滑坡".to_string(),
        "甲乡报告人".to_string(),
    ]);
    // JSON writes "+86…" as is; pages write phones as dialled too.
    let dialled: Vec<String> = marks
        .iter()
        .filter_map(|m| m.strip_prefix("+86").map(str::to_string))
        .collect();
    marks.extend(dialled);
    Some(County {
        app,
        t2,
        t2_admin,
        county,
        ids,
        marks,
        own: vec![
            "乙镇烟花仓库".into(),
            "乙镇联络员".into(),
            "乙镇一村".into(),
        ],
    })
}

fn leaked<'a>(marks: &'a [String], text: &str) -> Option<&'a String> {
    marks
        .iter()
        .find(|m| m.chars().count() >= 3 && text.contains(m.as_str()))
}

/// The path with its `{…}` parameters filled from township 1's ids; None
/// when a parameter is not one of them.
fn fill(path: &str, ids: &BTreeMap<&'static str, i64>) -> Option<String> {
    let mut out = Vec::new();
    let mut last = "";
    for seg in path.split('/') {
        if seg == "{id}" {
            out.push(ids.get(last)?.to_string());
        } else if seg == "{rid}" {
            // A report of an incident (`/incidents/{id}/reports/{rid}`).
            out.push(ids.get("incident-reports")?.to_string());
        } else if seg == "{kind}" {
            // What an import holds.
            out.push("sites".to_string());
        } else if let Some(ext) = seg.strip_prefix("{id}.") {
            out.push(format!("{}.{ext}", ids.get(last)?));
        } else if seg.starts_with('{') {
            return None;
        } else {
            out.push(seg.to_string());
        }
        last = match seg {
            "alerts" | "contacts" | "daily-reports" | "danger-zones" | "drills" | "duty-shifts"
            | "findings" | "group-robots" | "households" | "incidents" | "incident-reports"
            | "inspections" | "message-templates" | "photos" | "replies" | "shelters"
            | "shifts" | "sites" | "tokens" | "transfers" | "villages" | "warnings"
            | "inspectors" | "draw-plans" | "draws" | "documents" => seg,
            _ => last,
        };
    }
    Some(out.join("/"))
}

async fn api_routes_keep_townships_apart(backend: Backend) {
    let Some(c) = county(backend).await else {
        return;
    };
    let app = &c.app;
    let before = snapshot(app.db()).await;
    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    let mut called = 0;
    for (path, ops) in paths {
        // Answer links, provider callbacks and the public face are no
        // township's office's: they are answered for everyone.
        if !path.starts_with("/api/v1/") || path.contains("openapi") {
            continue;
        }
        for method in ops.as_object().expect("ops").keys() {
            let Some(concrete) = fill(path, &c.ids) else {
                // Plans are addressed by their file's id; they are checked
                // below through the county's plans.
                assert!(path.contains("/plans/"), "no id to try for {path}");
                continue;
            };
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let (s, v) = app
                .send_as(&c.t2_admin, &method.to_uppercase(), &concrete, body)
                .await;
            called += 1;
            if path.contains("{id}") {
                assert!(
                    !s.is_success(),
                    "{} {concrete}: township 2 got {s} for township 1's record: {v}",
                    method.to_uppercase()
                );
            }
            if let Some(m) = leaked(&c.marks, &v.to_string()) {
                panic!(
                    "{} {concrete} answered township 2 with township 1's «{m}»: {v}",
                    method.to_uppercase()
                );
            }
        }
    }
    assert!(called > 40, "only {called} operations tried");

    // Writes that would succeed for township 1's own office, tried by
    // township 2's: each one not found.
    let site = c.ids["sites"];
    let (_, as_county) = app
        .send_as(&c.county, "GET", &format!("/api/v1/sites/{site}"), None)
        .await;
    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PUT",
            format!("/api/v1/sites/{site}"),
            Some(
                json!({"name": "改名", "kind": as_county["kind"], "village_id": as_county["village_id"], "address": "x", "lon": as_county["lon"], "lat": as_county["lat"], "risk_grade": as_county["risk_grade"], "version": as_county["version"]}),
            ),
        ),
        ("DELETE", format!("/api/v1/sites/{site}"), None),
        (
            "DELETE",
            format!("/api/v1/contacts/{}", c.ids["contacts"]),
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/villages/{}", c.ids["villages"]),
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/shelters/{}", c.ids["shelters"]),
            None,
        ),
        (
            "POST",
            format!("/api/v1/alerts/{}/close", c.ids["alerts"]),
            Some(json!({"reason": "x"})),
        ),
        (
            "POST",
            format!("/api/v1/incidents/{}/close", c.ids["incidents"]),
            Some(json!({"note": "x"})),
        ),
        (
            "DELETE",
            format!("/api/v1/drills/{}", c.ids["drills"]),
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/tokens/{}", c.ids["tokens"]),
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/duty-shifts/{}", c.ids["duty-shifts"]),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/duty-shifts/{}", c.ids["duty-shifts"]),
            Some(json!({"date": "2030-01-01", "start": "08:30", "end": "17:30", "version": 1})),
        ),
        (
            "POST",
            format!("/api/v1/findings/{}/rectify", c.ids["findings"]),
            Some(json!({"note": "已整改"})),
        ),
    ];
    for (m, p, b) in attempts {
        let (s, v) = app.send_as(&c.t2_admin, m, &p, b).await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{m} {p} by township 2: {s} {v}"
        );
    }
    assert_eq!(
        snapshot(app.db()).await,
        before,
        "township 1's rows changed"
    );

    // Lists: township 2 sees its own; the county sees both townships.
    for list in [
        "/api/v1/sites?per_page=500",
        "/api/v1/contacts?per_page=500",
        "/api/v1/villages",
    ] {
        let (s, mine) = app.send_as(&c.t2_admin, "GET", list, None).await;
        assert_eq!(s, StatusCode::OK, "{list}: {mine}");
        assert!(
            c.own.iter().any(|o| mine.to_string().contains(o.as_str())),
            "{list}: township 2 does not see its own rows: {mine}"
        );
        let (s, all) = app.send_as(&c.county, "GET", list, None).await;
        assert_eq!(s, StatusCode::OK);
        let all = all.to_string();
        assert!(
            c.own.iter().any(|o| all.contains(o.as_str())),
            "{list}: county misses township 2"
        );
        assert!(
            leaked(&c.marks, &all).is_some(),
            "{list}: county misses township 1"
        );
    }
    // The audit trail: township 1's entries are not township 2's to read.
    // Township 2's own three records' creation only.
    let (_, audit) = app.send_as(&c.t2_admin, "GET", "/api/v1/audit", None).await;
    let seen: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["entity"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(seen.len(), 3, "{audit}");
    let (_, audit) = app.send_as(&c.county, "GET", "/api/v1/audit", None).await;
    assert!(audit["total"].as_i64().unwrap_or(0) > 0, "{audit}");
    let _ = c.t2;
    c.app.stop().await;
}

/// Every `.route("…", …)` of the dashboard's router, from its source: a page
/// added later is covered without touching this test.
fn page_routes() -> Vec<(String, bool)> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/mod.rs"))
        .expect("web/mod.rs");
    let mut out = Vec::new();
    for line in src.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(".route(\"") else {
            continue;
        };
        let Some((path, handlers)) = rest.split_once('"') else {
            continue;
        };
        if handlers.contains("get(") {
            out.push((path.to_string(), false));
        }
        if handlers.contains("post(") {
            out.push((path.to_string(), true));
        }
    }
    out
}

async fn pages_keep_townships_apart(backend: Backend) {
    let Some(c) = county(backend).await else {
        return;
    };
    let app = &c.app;
    let db = app.db().clone();
    fenghuo::accounts::users::create(&db, "system", "yizhen", Role::Admin, "乙镇的口令很长很长")
        .await
        .expect("user");
    sqlx::query(
        "UPDATE users SET township_id = $1, scope = 'township', leader = 1 WHERE name = 'yizhen'",
    )
    .bind(c.t2)
    .execute(&db.pool)
    .await
    .expect("scope");
    let before = snapshot(&db).await;
    let web = Web::new(&app.base);
    web.sign_in("yizhen", "乙镇的口令很长很长").await;
    let csrf = web.get("/").await.csrf();
    let mut opened = 0;
    for (path, post) in page_routes() {
        if path.starts_with("/public") || path.starts_with("/assets") || path.starts_with("/log") {
            continue;
        }
        let Some(concrete) = fill(&path, &c.ids) else {
            continue;
        };
        let r = if post {
            web.post(
                &concrete,
                &[
                    ("_csrf", csrf.as_str()),
                    ("version", "1"),
                    ("note", "x"),
                    ("reason", "x"),
                    ("name", "x"),
                ],
            )
            .await
        } else {
            web.get(&concrete).await
        };
        opened += 1;
        if path.contains("{id}") && !post {
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "GET {concrete} as township 2"
            );
        }
        if let Some(m) = leaked(&c.marks, &r.body) {
            panic!("{concrete} showed township 2 township 1's «{m}»");
        }
    }
    assert!(opened > 30, "only {opened} pages tried");
    assert_eq!(snapshot(&db).await, before, "township 1's rows changed");
    // Its own pages show its own rows.
    let sites = web.get("/sites").await;
    assert!(sites.body.contains("乙镇烟花仓库"), "{}", sites.body);
    c.app.stop().await;
}

/// A token is made with at most its maker's scope.
async fn tokens_grant_no_more_than_their_maker(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let db = app.db().clone();
    let t2 = fenghuo::registry::townships::add(&db, "350524102000", "乙镇", false)
        .await
        .expect("township 2")
        .id;
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "Y01", "name": "乙镇一村", "boundary": common::square(118.6, 25.6, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let v2 = v["id"].as_i64().expect("village");
    sqlx::query("UPDATE villages SET township_id = $1 WHERE id = $2")
        .bind(t2)
        .bind(v2)
        .execute(&db.pool)
        .await
        .expect("move");
    let (_, county) =
        fenghuo::auth::create_scoped_token(&db, "county", Role::Admin, false, &Scope::County, 1)
            .await
            .expect("county token");

    // The county makes township 2's admin token.
    let (s, v) = app
        .send_as(&county, "POST", "/api/v1/tokens",
            Some(json!({"name": "乙镇管理员", "role": "admin", "scope": "township", "township_id": t2})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let t2_admin = v["token"].as_str().expect("token").to_string();

    // Township 2's admin cannot make a county token, nor one of township 1.
    for (body, field) in [
        (
            json!({"name": "x", "role": "viewer", "scope": "county"}),
            "scope",
        ),
        (
            json!({"name": "x", "role": "viewer", "scope": "township", "township_id": 1}),
            "township_id",
        ),
        (
            json!({"name": "x", "role": "viewer", "scope": "township", "township_id": 999}),
            "township_id",
        ),
        (
            json!({"name": "x", "role": "viewer", "scope": "village"}),
            "village_id",
        ),
        (
            json!({"name": "x", "role": "viewer", "scope": "planet"}),
            "scope",
        ),
        // A village scope edits its village; notices are the township's.
        (
            json!({"name": "x", "role": "dispatcher", "scope": "village", "village_id": v2}),
            "role",
        ),
    ] {
        let (s, v) = app
            .send_as(&t2_admin, "POST", "/api/v1/tokens", Some(body.clone()))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {v}"
        );
    }
    // … but a village token of its own village, which then sees that village only.
    let (s, v) = app
        .send_as(
            &t2_admin,
            "POST",
            "/api/v1/tokens",
            Some(
                json!({"name": "乙镇一村", "role": "viewer", "scope": "village", "village_id": v2}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let village_token = v["token"].as_str().expect("token").to_string();
    // Even a village token stored with a higher role (made before the rule,
    // or by hand) acts as an editor at most: it sends no notice.
    sqlx::query("UPDATE api_tokens SET role = 'dispatcher', leader = 1 WHERE name = '乙镇一村'")
        .execute(&app.db().pool)
        .await
        .expect("raise the stored role");
    let (s, v) = app
        .send_as(
            &village_token,
            "POST",
            "/api/v1/alerts",
            Some(json!({"title": "通知", "body": "请回复1", "channels": ["sms"], "targets": {"villages": [v2]}})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = app
        .send_as(
            &village_token,
            "GET",
            &format!("/api/v1/villages/{v2}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "it still reads its village: {v}");
    let (s, list) = app.send_as(&t2_admin, "GET", "/api/v1/tokens", None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<(&str, &str)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or(""),
                t["scope"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![("乙镇管理员", "township"), ("乙镇一村", "village")]
    );
    // Township 1's tokens are not township 2's to revoke.
    let (_, all) = app.send_as(&county, "GET", "/api/v1/tokens", None).await;
    let home = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == "test-admin")
        .and_then(|t| t["id"].as_i64())
        .expect("home admin token");
    let (s, _) = app
        .send_as(&t2_admin, "DELETE", &format!("/api/v1/tokens/{home}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/api/v1/tokens").await.0,
        StatusCode::OK,
        "the home token still works"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_grant_no_more_than_their_maker_sqlite() {
    tokens_grant_no_more_than_their_maker(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_grant_no_more_than_their_maker_postgres() {
    tokens_grant_no_more_than_their_maker(Backend::Postgres).await;
}

macro_rules! both {
    ($($name:ident),*) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(Backend::Postgres).await;
            }
        }
    )*};
}

both!(api_routes_keep_townships_apart, pages_keep_townships_apart);

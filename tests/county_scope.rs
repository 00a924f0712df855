//! Township scoping of the registry and the ledger, and the county's views
//! (issue 16). Two townships, each with a village, a contact, a shelter, a
//! site with a licence about to expire and an inspection whose finding is
//! past its deadline: a township-2 token and user get 404 and empty lists
//! for township 1's records through the API and the pages, cannot place
//! records in township 1's village (422 naming the field), and what they
//! make is township 2's; the county sees both, filters by township, and
//! its overview counts what was made here.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "county-test-password-1";

fn day(offset: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(offset)).to_string()
}

struct Made {
    village: i64,
    contact: i64,
    shelter: i64,
    site: i64,
    finding: i64,
}

/// One township's records, made through the API with `token`.
async fn records(app: &TestApp, token: &str, code: &str, lon: f64, phone: &str) -> Made {
    let (s, v) = app
        .send_as(
            token,
            "POST",
            "/api/v1/villages",
            Some(
                json!({"code": code, "name": format!("{code}村"), "boundary": square(lon, 25.0, 0.01)}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let village = v["id"].as_i64().expect("village id");
    let (s, c) = app
        .send_as(
            token,
            "POST",
            "/api/v1/contacts",
            Some(json!({"name": format!("{code}主任"), "roles": ["村主任"], "village_id": village, "phone": phone})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, sh) = app
        .send_as(
            token,
            "POST",
            "/api/v1/shelters",
            Some(json!({"code": format!("{code}-S1"), "name": format!("{code}避灾点"), "capacity": 50,
                        "location": {"lon": lon + 0.002, "lat": 25.002}, "village_id": village})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sh}");
    let (s, site) = app
        .send_as(
            token,
            "POST",
            "/api/v1/sites",
            Some(json!({"name": format!("{code}烟花店"), "kind": "fireworks_retail", "risk_grade": "general",
                        "location": {"lon": lon + 0.005, "lat": 25.005}, "village_id": village,
                        "licence": {"number": format!("{code}-L"), "issued_on": day(-300), "expires_on": day(10)}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let site_id = site["id"].as_i64().expect("site id");
    let mut team = Vec::new();
    for n in 1..=2 {
        let (s, v) = app
            .send_as(
                token,
                "POST",
                "/api/v1/inspectors",
                Some(json!({"name": format!("{code}检查员{n}"), "certificate_no": format!("{code}-Z{n}"),
                            "unit": "镇安监站", "valid_from": day(-400), "valid_until": day(400)})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        team.push(v["id"].as_i64().expect("inspector id"));
    }
    let (s, i) = app
        .send_as(
            token,
            "POST",
            &format!("/api/v1/sites/{site_id}/inspections"),
            Some(json!({"inspected_on": day(-10), "inspector_ids": team,
                        "findings": [{"grade": "general", "item": format!("{code}灭火器过期"), "deadline": day(-5)}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    Made {
        village,
        contact: c["id"].as_i64().expect("contact id"),
        shelter: sh["id"].as_i64().expect("shelter id"),
        site: site_id,
        finding: i["findings"][0]["id"].as_i64().expect("finding id"),
    }
}

fn ids(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

async fn user(app: &TestApp, name: &str, scope: &str, township: i64) {
    fenghuo::accounts::users::create(app.db(), "test", name, Role::Editor, PASSWORD)
        .await
        .expect("user");
    sqlx::query("UPDATE users SET scope = $1, township_id = $2 WHERE name = $3")
        .bind(scope)
        .bind(township)
        .bind(name)
        .execute(&app.db().pool)
        .await
        .expect("scope");
}

async fn registry_and_ledger_are_scoped(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let db = app.db();
    sqlx::query(
        "INSERT INTO townships (code, name, county_code, created_at, updated_at) \
         VALUES ('350524299000', '西坪镇', '350524', 0, 0)",
    )
    .execute(&db.pool)
    .await
    .expect("township 2");
    let t2: i64 = sqlx::query_scalar("SELECT id FROM townships WHERE code = '350524299000'")
        .fetch_one(&db.pool)
        .await
        .expect("id");
    let (_, two) =
        fenghuo::auth::create_scoped_token(db, "t2", Role::Editor, false, &Scope::township(t2), t2)
            .await
            .expect("t2 token");
    let (_, county) =
        fenghuo::auth::create_scoped_token(db, "county", Role::Viewer, false, &Scope::County, 1)
            .await
            .expect("county token");
    let admin = app.token("admin").await;

    let a = records(&app, &admin, "A01", 118.0, "13800138001").await;
    let z = records(&app, &two, "B01", 118.2, "13800138002").await;

    // What township 2 made is township 2's.
    let (s, site) = app
        .send_as(&county, "GET", &format!("/api/v1/sites/{}", z.site), None)
        .await;
    assert_eq!(
        (s, site["township_id"].as_i64()),
        (StatusCode::OK, Some(t2)),
        "{site}"
    );
    for (table, id) in [
        ("villages", z.village),
        ("contacts", z.contact),
        ("shelters", z.shelter),
        ("findings", z.finding),
    ] {
        let t: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT township_id FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect(table);
        assert_eq!(t, t2, "{table}");
    }

    // Township 2 sees only its own.
    for (path, mine) in [
        ("/api/v1/villages", z.village),
        ("/api/v1/contacts", z.contact),
        ("/api/v1/shelters", z.shelter),
        ("/api/v1/sites", z.site),
    ] {
        let (s, v) = app.send_as(&two, "GET", path, None).await;
        assert_eq!((s, ids(&v)), (StatusCode::OK, vec![mine]), "{path}: {v}");
    }
    for path in [
        format!("/api/v1/villages/{}", a.village),
        format!("/api/v1/contacts/{}", a.contact),
        format!("/api/v1/shelters/{}", a.shelter),
        format!("/api/v1/sites/{}", a.site),
        format!("/api/v1/sites/{}/inspections", a.site),
        format!("/api/v1/findings/{}", a.finding),
    ] {
        let (s, v) = app.send_as(&two, "GET", &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    // Nor change them.
    let (s, v) = app
        .send_as(
            &two,
            "POST",
            &format!("/api/v1/sites/{}/inspections", a.site),
            Some(json!({"inspected_on": day(-1), "inspector_ids": [1, 2]})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .send_as(
            &two,
            "POST",
            &format!("/api/v1/findings/{}/rectify", a.finding),
            Some(json!({"version": 1, "rectified_on": day(0)})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .send_as(
            &two,
            "DELETE",
            &format!("/api/v1/contacts/{}?version=1", a.contact),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // Township 1's village does not exist for township 2.
    for (path, body) in [
        (
            "/api/v1/contacts",
            json!({"name": "越界", "village_id": a.village, "phone": "13800138009"}),
        ),
        (
            "/api/v1/sites",
            json!({"name": "越界店", "kind": "fireworks_retail", "risk_grade": "low", "village_id": a.village}),
        ),
        (
            "/api/v1/shelters",
            json!({"code": "X-1", "name": "越界点", "capacity": 1, "location": {"lon": 118.003, "lat": 25.003}, "village_id": a.village}),
        ),
    ] {
        let (s, v) = app.send_as(&two, "POST", path, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(v["error"]["field"], "village_id", "{path}: {v}");
    }
    // The worklist: township 2's items only; another township's filter is empty.
    let (_, wl) = app.send_as(&two, "GET", "/api/v1/worklist", None).await;
    assert_eq!(wl["counts"]["expiring_licences"], 1, "{wl}");
    assert_eq!(
        wl["expiring_licences"][0]["site"]["id"].as_i64(),
        Some(z.site)
    );
    assert_eq!(wl["counts"]["overdue_rectifications"], 1, "{wl}");
    assert_eq!(
        wl["overdue_rectifications"][0]["finding_id"].as_i64(),
        Some(z.finding)
    );
    let (s, v) = app
        .send_as(&two, "GET", "/api/v1/sites?township_id=1", None)
        .await;
    assert_eq!((s, v["total"].as_i64()), (StatusCode::OK, Some(0)), "{v}");
    let (s, v) = app
        .send_as(&two, "GET", "/api/v1/worklist?township_id=1", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["counts"]["expiring_licences"], 0, "{v}");
    assert_eq!(v["expiring_licences"], json!([]));

    // The county sees both, and filters by township.
    let (_, v) = app.send_as(&county, "GET", "/api/v1/sites", None).await;
    assert_eq!(ids(&v), vec![a.site, z.site], "{v}");
    let (_, v) = app
        .send_as(
            &county,
            "GET",
            &format!("/api/v1/sites?township_id={t2}"),
            None,
        )
        .await;
    assert_eq!(ids(&v), vec![z.site], "{v}");
    let (_, v) = app.send_as(&county, "GET", "/api/v1/contacts", None).await;
    assert_eq!(ids(&v), vec![a.contact, z.contact], "{v}");
    let (_, v) = app.send_as(&county, "GET", "/api/v1/villages", None).await;
    assert_eq!(ids(&v), vec![a.village, z.village], "{v}");
    let (_, wl) = app.send_as(&county, "GET", "/api/v1/worklist", None).await;
    assert_eq!(wl["counts"]["overdue_rectifications"], 2, "{wl}");
    let (_, wl) = app
        .send_as(
            &county,
            "GET",
            &format!("/api/v1/worklist?township_id={t2}&per_page=1"),
            None,
        )
        .await;
    assert_eq!(wl["counts"]["overdue_rectifications"], 1, "{wl}");
    assert_eq!(wl["per_page"], 1, "{wl}");
    let (s, v) = app
        .send_as(&county, "GET", "/api/v1/worklist?per_page=0", None)
        .await;
    assert_eq!(
        (s, &v["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("per_page")),
        "{v}"
    );

    // The overview: a notice in township 1 answered by its one recipient,
    // an open incident in township 2.
    let (s, n) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试通知", "body": "请回复1", "channels": ["sms"], "targets": {"villages": [a.village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{n}");
    let alert = n["id"].as_i64().expect("alert id");
    sqlx::query("UPDATE alert_recipients SET answered_at = $1 WHERE alert_id = $2")
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(alert)
        .execute(&db.pool)
        .await
        .expect("answered");
    sqlx::query(
        "INSERT INTO incidents (plan_id, plan_hash, level, villages, status, opened_by, opened_at, township_id) \
         VALUES ('flood', 'x', 3, '[]', 'open', 'test', $1, $2)",
    )
    .bind(chrono::Utc::now().timestamp_millis())
    .bind(t2)
    .execute(&db.pool)
    .await
    .expect("incident");
    let (s, o) = app
        .send_as(&county, "GET", "/api/v1/county/overview", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let line = |id: i64| {
        o["townships"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["id"].as_i64() == Some(id)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let (one, second) = (line(1), line(t2));
    assert_eq!(
        (
            &one["notices"],
            &one["recipients"],
            &one["answered"],
            &one["answer_rate"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1.0)),
        "{o}"
    );
    assert_eq!(
        (&one["open_incidents"], &second["open_incidents"]),
        (&json!(0), &json!(1)),
        "{o}"
    );
    assert_eq!(
        (&second["notices"], &second["answer_rate"]),
        (&json!(0), &Value::Null),
        "{o}"
    );
    for t in [&one, &second] {
        assert_eq!(t["licences_due"], 1, "{o}");
        assert_eq!(t["overdue_findings"], 1, "{o}");
        assert_eq!(t["overdue_inspections"], 0, "{o}");
        assert_eq!(t["overdue_total"], 2, "{o}");
    }
    assert_eq!(second["name"], "西坪镇");
    assert_eq!(o["totals"]["overdue_total"], 4, "{o}");
    // A township's overview is its own line.
    let (_, o2) = app
        .send_as(&two, "GET", "/api/v1/county/overview", None)
        .await;
    let lines: Vec<i64> = o2["townships"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(lines, vec![t2], "{o2}");

    // The pages.
    user(&app, "xiping", "township", t2).await;
    user(&app, "xian", "county", 1).await;
    let web = Web::new(&app.base);
    web.sign_in("xiping", PASSWORD).await;
    for path in [
        format!("/sites/{}", a.site),
        format!("/villages/{}", a.village),
        format!("/sites/{}/edit", a.site),
        format!("/contacts/{}/edit", a.contact),
        format!("/shelters/{}/edit", a.shelter),
    ] {
        let r = web.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in [
        "/sites",
        "/villages",
        "/contacts",
        "/shelters",
        "/worklist",
        "/map",
    ] {
        let r = web.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.body.contains("A01"),
            "{path} shows township 1: {}",
            r.body
        );
    }
    let r = web.get("/sites").await;
    assert!(r.body.contains("B01烟花店"), "{}", r.body);
    assert!(
        !r.body.contains("href=\"/county\""),
        "no county link for a township"
    );
    let r = web.get("/worklist").await;
    assert!(r.body.contains("B01灭火器过期"), "{}", r.body);
    let r = web.get("/web/map.json").await;
    assert!(!r.body.contains("A01"), "{}", r.body);

    let web = Web::new(&app.base);
    web.sign_in("xian", PASSWORD).await;
    let r = web.get("/").await;
    assert!(
        r.body.contains("href=\"/county\""),
        "the county's nav links its table"
    );
    // Each page built on the kept figures says when they were counted.
    let clock = |body: &str| {
        body.split("id=\"counted-at\">")
            .nth(1)
            .and_then(|t| t.get(..8))
            .map(str::to_string)
    };
    for path in ["/", "/county", "/worklist"] {
        let r = web.get(path).await;
        let at = clock(&r.body);
        assert!(
            at.as_deref()
                .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':'),
            "{path}: counted at {at:?}"
        );
    }
    let r = web.get("/county").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("西坪镇"), "{}", r.body);
    assert!(
        r.body.contains(&format!("/worklist?township_id={t2}")),
        "{}",
        r.body
    );
    assert!(r.body.contains("1/1 · 100%"), "{}", r.body);
    let r = web.get("/sites").await;
    assert!(r.body.contains("A01烟花店") && r.body.contains("B01烟花店"));
    assert!(r.body.contains("西坪镇"), "a township column: {}", r.body);
    let r = web.get(&format!("/sites?township_id={t2}")).await;
    assert!(!r.body.contains("A01烟花店") && r.body.contains("B01烟花店"));
    let r = web.get(&format!("/worklist?township_id={t2}")).await;
    assert!(!r.body.contains("A01灭火器过期") && r.body.contains("B01灭火器过期"));
    let r = web.get("/county?lang=en").await;
    assert!(r.body.contains("County overview"), "{}", r.body);
}

both!(registry_and_ledger_are_scoped);

/// `counts.counted_at` and `counts.expiring_licences` of `/worklist` on `base`.
async fn worklist_counts(app: &TestApp, base: &str) -> (String, i64) {
    let r = app
        .client
        .get(format!("{base}/api/v1/worklist"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("worklist");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    (
        v["counts"]["counted_at"].as_str().unwrap_or("").to_string(),
        v["counts"]["expiring_licences"].as_i64().unwrap_or(-1),
    )
}

/// The overviews' and the worklist's figures are counted for every township
/// at once and kept: a second read with nothing changed gives the same count
/// from the same moment; a site added (through either daemon, on
/// PostgreSQL) is counted on the very next read; what the audit trail does
/// not carry (an answer) is counted once the figures are a few seconds old.
async fn figures_are_kept_until_something_changes(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let made = records(&app, &app.admin, "A01", 118.1, "+8613800000001").await;
    // A second daemon on the same database (SQLite allows one daemon).
    let second = if b == Backend::Postgres {
        let db = fenghuo::server::open_db(&app.cfg).await.expect("db");
        Some(
            fenghuo::server::start(app.cfg.clone(), db)
                .await
                .expect("second daemon"),
        )
    } else {
        None
    };
    let other = second
        .as_ref()
        .map_or(app.base.clone(), |r| format!("http://{}", r.addr));

    let (at, n) = worklist_counts(&app, &app.base).await;
    assert_eq!(n, 1, "the site's licence expires in 10 days");
    assert!(at.contains('T'), "counted_at is a time: {at:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        worklist_counts(&app, &app.base).await,
        (at.clone(), 1),
        "nothing changed: the kept count, from the same moment"
    );

    // Another expiring licence, added through the other daemon.
    let r = app
        .client
        .post(format!("{other}/api/v1/sites"))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "A01烟花仓库", "kind": "fireworks_retail", "risk_grade": "general",
                      "location": {"lon": 118.104, "lat": 25.004}, "village_id": made.village,
                      "licence": {"number": "A01-L2", "issued_on": day(-300), "expires_on": day(-1)}}))
        .send()
        .await
        .expect("site");
    assert_eq!(r.status(), StatusCode::CREATED);
    let added: Value = r.json().await.expect("site json");
    let (at2, n) = worklist_counts(&app, &app.base).await;
    assert_eq!(n, 2, "counted at once on this daemon");
    assert_ne!(at2, at, "counted again");
    // The ledger's length is the kept count too.
    let (_, l) = app.get("/api/v1/sites").await;
    assert_eq!(l["total"], 2, "{l}");
    let (s, o) = app.get("/api/v1/county/overview").await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["totals"]["licences_due"], 2, "{o}");
    assert_eq!(o["counted_at"], json!(at2), "the same kept count: {o}");
    // Archived through the other daemon: gone from the ledger's length at once.
    let r = app
        .client
        .delete(format!(
            "{other}/api/v1/sites/{}?version={}",
            added["id"], added["version"]
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("archive");
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let (_, l) = app.get("/api/v1/sites").await;
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["items"].as_array().map(Vec::len), Some(1), "{l}");
    let (_, l) = app.get("/api/v1/sites?include_archived=true").await;
    assert_eq!(l["total"], 2, "counted, not kept, when filtered: {l}");

    // A notice and a phone answer: answers are not in the figures' audit
    // mark, so the answer is counted once the kept figures are old.
    let (s, n) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试通知", "body": "请回复1", "channels": ["sms"], "targets": {"villages": [made.village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{n}");
    let alert = n["id"].as_i64().expect("alert id");
    let (_, o) = app.get("/api/v1/county/overview").await;
    assert_eq!(
        (&o["totals"]["notices"], &o["totals"]["answered"]),
        (&json!(1), &json!(0)),
        "{o}"
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/alerts/{alert}/answers"),
            json!({"contact_id": made.contact}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    tokio::time::sleep(fenghuo::county::kept::KEEP + std::time::Duration::from_millis(300)).await;
    let (_, o) = app.get("/api/v1/county/overview").await;
    assert_eq!(o["totals"]["answered"], 1, "{o}");
    assert_eq!(o["totals"]["answer_rate"], 1.0, "{o}");
    if let Some(r) = second {
        r.shutdown().await.expect("second daemon stops");
    }
}

both!(figures_are_kept_until_something_changes);

//! The foundation's contract, run on SQLite and on PostgreSQL: auth and roles,
//! the registry and ledger, optimistic versions, audit, restart, and bad input
//! on every write endpoint.

mod common;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn village(app: &TestApp, code: &str, lon0: f64, lat0: f64) -> i64 {
    let (s, v) = app
        .post("/api/v1/villages", json!({"code": code, "name": format!("{code}村"), "boundary": square(lon0, lat0, 0.01), "population": 1000}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

fn site_body(name: &str, lon: f64, lat: f64) -> Value {
    json!({
        "name": name, "kind": "fireworks_retail", "risk_grade": "general",
        "location": {"lon": lon, "lat": lat},
        "safety_officer": "王五", "safety_officer_phone": "139 0000 1111",
        "licence": {"number": "(闽)LS〔2025〕0315", "issued_on": "2025-01-10", "expires_on": "2027-01-09"},
        "inventory": [{"chemical": "丙酮", "cas": "67-64-1", "un_number": "UN1090", "hazard_class": "3", "max_quantity": 2.5, "unit": "t"}]
    })
}

async fn auth_and_roles(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app.get("/healthz").await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(app.get("/readyz").await.0, StatusCode::OK);

    let resp = app
        .client
        .get(format!("{}/api/v1/sites", app.base))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .send_as("fh_not_a_token", "GET", "/api/v1/sites", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let viewer = app.token("viewer").await;
    assert_eq!(
        app.send_as(&viewer, "GET", "/api/v1/sites", None).await.0,
        StatusCode::OK
    );
    let (s, v) = app
        .send_as(
            &viewer,
            "POST",
            "/api/v1/villages",
            Some(json!({"code": "X", "name": "x", "boundary": square(118.0, 25.0, 0.01)})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let editor = app.token("editor").await;
    let (s, _) = app
        .send_as(
            &editor,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Nothing was written by the refused requests.
    assert_eq!(app.get("/api/v1/villages").await.1["total"], 0);

    // A revoked token stops working.
    let (_, list) = app.get("/api/v1/tokens").await;
    let vid = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["role"] == "viewer")
        .expect("viewer")["id"]
        .as_i64()
        .expect("id");
    assert_eq!(
        app.send("DELETE", &format!("/api/v1/tokens/{vid}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.send_as(&viewer, "GET", "/api/v1/sites", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}
both!(auth_and_roles);

async fn site_village_by_point_in_polygon(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let west = village(&app, "W01", 118.00, 25.20).await;
    let east = village(&app, "E01", 118.01, 25.20).await;
    let (s, v) = app
        .post("/api/v1/sites", site_body("东边烟花店", 118.015, 25.205))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["village_id"].as_i64(), Some(east));
    assert_eq!(v["outside_villages"], false);
    assert_eq!(v["safety_officer_phone"], "+8613900001111");
    let (_, v) = app
        .post("/api/v1/sites", site_body("西边烟花店", 118.002, 25.209))
        .await;
    assert_eq!(v["village_id"].as_i64(), Some(west));
    // Outside every village: accepted, no village, flagged.
    let (s, v) = app
        .post("/api/v1/sites", site_body("山外烟花店", 118.5, 25.5))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["village_id"], Value::Null);
    assert_eq!(v["outside_villages"], true);
    // An explicit village wins over the location.
    let mut body = site_body("指定村", 118.5, 25.5);
    body["village_id"] = json!(west);
    assert_eq!(
        app.post("/api/v1/sites", body).await.1["village_id"].as_i64(),
        Some(west)
    );
    app.stop().await;
}
both!(site_village_by_point_in_polygon);

/// A village's own editor keeps its village's sites: one placed in another
/// village, outside every village, or named into another village is refused
/// on `village_id` and leaves nothing written.
async fn village_editor_keeps_its_village_sites(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let west = village(&app, "W01", 118.00, 25.20).await;
    let east = village(&app, "E01", 118.01, 25.20).await;
    let (s, v) = app
        .post(
            "/api/v1/tokens",
            json!({"name": "西村信息员", "role": "editor", "scope": "village", "village_id": west}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let editor = v["token"].as_str().expect("token").to_string();

    let (s, v) = app
        .send_as(
            &editor,
            "POST",
            "/api/v1/sites",
            Some(site_body("西村烟花店", 118.002, 25.209)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["village_id"].as_i64(), Some(west));
    let mut named = site_body("西村加油点", 118.5, 25.5);
    named["village_id"] = json!(west);
    let (s, v) = app
        .send_as(&editor, "POST", "/api/v1/sites", Some(named))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["village_id"].as_i64(), Some(west));

    let mut into_east = site_body("指定东村", 118.002, 25.209);
    into_east["village_id"] = json!(east);
    for body in [
        site_body("东村烟花店", 118.015, 25.205),
        site_body("山外烟花店", 118.5, 25.5),
        into_east,
    ] {
        let (s, v) = app
            .send_as(&editor, "POST", "/api/v1/sites", Some(body.clone()))
            .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("village_id")),
            "{body}: {v}"
        );
    }
    let (_, list) = app.get("/api/v1/sites").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"西村烟花店") && names.contains(&"西村加油点"));
    app.stop().await;
}
both!(village_editor_keeps_its_village_sites);

async fn stale_update_conflicts_and_audit_records(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "A01", 118.0, 25.2).await;
    let (_, site) = app
        .post("/api/v1/sites", site_body("甲店", 118.005, 25.205))
        .await;
    let id = site["id"].as_i64().expect("id");
    assert_eq!(site["version"], 1);

    let mut first = site_body("甲店（一号电脑改）", 118.005, 25.205);
    first["version"] = json!(1);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), first).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);

    let mut second = site_body("甲店（二号电脑改）", 118.005, 25.205);
    second["version"] = json!(1);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), second).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, now) = app.get(&format!("/api/v1/sites/{id}")).await;
    assert_eq!(now["name"], "甲店（一号电脑改）");
    assert_eq!(now["version"], 2);

    // Archive with a stale version is refused too; then archive for real.
    assert_eq!(
        app.send("DELETE", &format!("/api/v1/sites/{id}?version=1"), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (s, v) = app
        .send("DELETE", &format!("/api/v1/sites/{id}?version=2"), None)
        .await;
    assert_eq!((s, &v["archived"]), (StatusCode::OK, &json!(true)));
    assert_eq!(app.get("/api/v1/sites").await.1["total"], 0);
    assert_eq!(
        app.get("/api/v1/sites?include_archived=true").await.1["total"],
        1
    );

    let (_, audit) = app
        .get(&format!("/api/v1/audit?entity=site&entity_id={id}"))
        .await;
    let items = audit["items"].as_array().expect("items");
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["archive", "update", "create"]);
    let update = &items[1];
    assert_eq!(update["before"]["name"], "甲店");
    assert_eq!(update["after"]["name"], "甲店（一号电脑改）");
    assert_eq!(update["actor"], "token:test-admin");
    assert_eq!(items[2]["before"], Value::Null);
    app.stop().await;
}
both!(stale_update_conflicts_and_audit_records);

async fn records_survive_restart(b: Backend) {
    let Some(mut app) = TestApp::start(b).await else {
        return;
    };
    let vid = village(&app, "R01", 118.0, 25.2).await;
    let (_, c) = app
        .post("/api/v1/contacts", json!({"name": "赵六", "roles": ["村支书", "grid_worker"], "village_id": vid, "phone": "138 0013 8000"}))
        .await;
    assert_eq!(c["phone"], "+8613800138000");
    assert_eq!(c["roles"], json!(["村支书", "网格员"]));
    app.restart().await;
    let (s, v) = app.get(&format!("/api/v1/contacts/{}", c["id"])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["name"], "赵六");
    assert_eq!(v["roles"], json!(["村支书", "网格员"]));
    assert_eq!(app.get("/api/v1/villages").await.1["total"], 1);
    app.stop().await;
}
both!(records_survive_restart);

async fn site_filters_and_pagination(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let v1 = village(&app, "F01", 118.0, 25.2).await;
    village(&app, "F02", 118.01, 25.2).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    for i in 0..6 {
        let mut b = site_body(&format!("店{i}"), 118.0015 + 0.003 * f64::from(i), 25.205);
        if i % 2 == 0 {
            b["kind"] = json!("hazchem_storage");
            b["risk_grade"] = json!("major");
        }
        if i == 1 {
            b["licence"]["issued_on"] = json!((today - chrono::Duration::days(700)).to_string());
            b["licence"]["expires_on"] = json!((today + chrono::Duration::days(10)).to_string());
        }
        assert_eq!(app.post("/api/v1/sites", b).await.0, StatusCode::CREATED);
    }
    let total = |v: &Value| v["total"].as_i64().unwrap_or(-1);
    assert_eq!(
        total(&app.get("/api/v1/sites?kind=hazchem_storage").await.1),
        3
    );
    assert_eq!(total(&app.get("/api/v1/sites?risk_grade=major").await.1), 3);
    assert_eq!(
        total(&app.get(&format!("/api/v1/sites?village_id={v1}")).await.1),
        3
    );
    assert_eq!(
        total(&app.get("/api/v1/sites?expiring_within_days=30").await.1),
        1
    );
    assert_eq!(total(&app.get("/api/v1/sites?status=active").await.1), 6);
    // Within 350 m of the first site: 0.003° of longitude at 25.2°N is ~302 m.
    let near = app
        .get("/api/v1/sites?near_lon=118.0015&near_lat=25.205&radius_m=350")
        .await
        .1;
    assert_eq!(total(&near), 2, "{near}");
    let (s, v) = app
        .post("/api/v1/sites/search", json!({"area": {"type": "Polygon", "coordinates": [[[118.0, 25.2], [118.0085, 25.2], [118.0085, 25.21], [118.0, 25.21], [118.0, 25.2]]]}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(total(&v), 3);
    let p1 = app.get("/api/v1/sites?per_page=4&page=1").await.1;
    let p2 = app.get("/api/v1/sites?per_page=4&page=2").await.1;
    assert_eq!(
        (
            p1["items"].as_array().map(Vec::len),
            p2["items"].as_array().map(Vec::len)
        ),
        (Some(4), Some(2))
    );
    assert_eq!(total(&p2), 6);
    app.stop().await;
}
both!(site_filters_and_pagination);

async fn inspections_findings_and_worklist(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "I01", 118.0, 25.2).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let d = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let mut body = site_body("检查对象", 118.005, 25.205);
    body["licence"] = json!({"number": "X1", "issued_on": d(-700), "expires_on": d(20)});
    let (_, site) = app.post("/api/v1/sites", body).await;
    let sid = site["id"].as_i64().expect("id");
    let team = app.inspectors(&["李四", "周七"]).await;
    let (s, insp) = app
        .post(
            &format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": d(-40), "inspector_ids": team, "findings": [
                {"grade": "major", "item": "储存超量", "measures": "清点转移", "funding": "企业自筹", "responsible": "王五", "deadline": d(-10), "reinspector": "李四"},
                {"grade": "general", "item": "标识缺失", "deadline": d(30)}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let overdue_id = insp["findings"][0]["id"].as_i64().expect("finding id");

    let (_, wl) = app.get("/api/v1/worklist").await;
    let lic = &wl["expiring_licences"][0];
    assert_eq!(
        (lic["site"]["id"].as_i64(), lic["days_left"].as_i64()),
        (Some(sid), Some(20))
    );
    let od = wl["overdue_rectifications"].as_array().expect("overdue");
    assert_eq!(od.len(), 1);
    assert_eq!(
        (od[0]["finding_id"].as_i64(), od[0]["days_overdue"].as_i64()),
        (Some(overdue_id), Some(10))
    );
    assert_eq!(wl["not_inspected"].as_array().map(Vec::len), Some(0));

    // Close-out needs rectification first.
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{overdue_id}/close"),
            json!({"version": 1, "closed_on": d(0), "closed_by": "李四"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{overdue_id}/rectify"),
            json!({"version": 1, "rectified_on": d(-1), "note": "已转移"}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("rectified")),
        "{v}"
    );
    assert_eq!(
        app.get("/api/v1/worklist").await.1["overdue_rectifications"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/findings/{overdue_id}/close"),
            json!({"version": 1, "closed_on": d(0), "closed_by": "李四"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{overdue_id}/close"),
            json!({"version": 2, "closed_on": d(0), "closed_by": "李四"}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("closed")));

    // An old inspection puts the site on the six-month list.
    let (_, site2) = app
        .post("/api/v1/sites", site_body("久未检查", 118.006, 25.206))
        .await;
    let sid2 = site2["id"].as_i64().expect("id");
    app.post(
        &format!("/api/v1/sites/{sid2}/inspections"),
        json!({"inspected_on": d(-200), "inspector_ids": team}),
    )
    .await;
    let (_, wl) = app.get("/api/v1/worklist").await;
    let stale = wl["not_inspected"].as_array().expect("list");
    assert_eq!(stale.len(), 1);
    assert_eq!(
        (
            stale[0]["site"]["id"].as_i64(),
            stale[0]["days_since"].as_i64()
        ),
        (Some(sid2), Some(200))
    );
    app.stop().await;
}
both!(inspections_findings_and_worklist);

/// Every write endpoint answers bad input with 4xx naming the field, and
/// nothing is written.
async fn bad_input_is_refused_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let vid = village(&app, "B01", 118.0, 25.2).await;
    let (_, site) = app
        .post("/api/v1/sites", site_body("好店", 118.005, 25.205))
        .await;
    let sid = site["id"].as_i64().expect("id");
    let (_, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "甲", "phone": "13800138000", "village_id": vid}),
        )
        .await;
    let cid = c["id"].as_i64().expect("id");
    let (_, insp) = app
        .post(&format!("/api/v1/sites/{sid}/inspections"), json!({"inspected_on": "2026-01-05", "inspector_ids": app.inspectors(&["李", "王"]).await, "findings": [{"grade": "general", "item": "x", "deadline": "2026-02-01"}]}))
        .await;
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let (_, audit_before) = app.get("/api/v1/audit?per_page=1").await;

    let with = |mut v: Value, k: &str, x: Value| {
        v[k] = x;
        v
    };
    let good_site = site_body("新店", 118.005, 25.205);
    let good_village =
        json!({"code": "N01", "name": "新村", "boundary": square(118.1, 25.1, 0.01)});
    let good_contact = json!({"name": "乙", "phone": "13800138001"});
    let cases: Vec<(&str, String, Value, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/villages".into(),
            with(
                good_village.clone(),
                "boundary",
                json!({"type": "Point", "coordinates": [118, 25]}),
            ),
            422,
            "boundary.type",
        ),
        (
            "POST",
            "/api/v1/villages".into(),
            with(
                good_village.clone(),
                "boundary",
                json!({"type": "Polygon", "coordinates": [[[118, 25], [118.1, 25], [118.1, 25.1], [118, 25.1]]]}),
            ),
            422,
            "boundary.coordinates[0]",
        ),
        (
            "POST",
            "/api/v1/villages".into(),
            with(good_village.clone(), "code", json!("B01")),
            422,
            "code",
        ),
        (
            "POST",
            "/api/v1/villages".into(),
            with(good_village.clone(), "population", json!("many")),
            422,
            "population",
        ),
        (
            "POST",
            "/api/v1/villages".into(),
            with(good_village.clone(), "name", json!("  ")),
            422,
            "name",
        ),
        (
            "PUT",
            format!("/api/v1/villages/{vid}"),
            good_village.clone(),
            422,
            "version",
        ),
        (
            "POST",
            "/api/v1/contacts".into(),
            with(good_contact.clone(), "phone", json!("12345")),
            422,
            "phone",
        ),
        (
            "POST",
            "/api/v1/contacts".into(),
            with(good_contact.clone(), "roles", json!(["村长老"])),
            422,
            "roles[0]",
        ),
        (
            "POST",
            "/api/v1/contacts".into(),
            with(good_contact.clone(), "village_id", json!(9999)),
            422,
            "village_id",
        ),
        (
            "POST",
            "/api/v1/contacts".into(),
            with(good_contact.clone(), "email", json!("not-an-email")),
            422,
            "email",
        ),
        (
            "POST",
            "/api/v1/contacts".into(),
            with(good_contact.clone(), "nickname", json!("x")),
            422,
            "nickname",
        ),
        (
            "PUT",
            format!("/api/v1/contacts/{cid}"),
            with(good_contact.clone(), "version", json!(7)),
            409,
            "",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(good_site.clone(), "kind", json!("nuclear_plant")),
            422,
            "kind",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(good_site.clone(), "risk_grade", json!(3)),
            422,
            "risk_grade",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "location",
                json!({"lon": 218.0, "lat": 25.0}),
            ),
            422,
            "location",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "licence",
                json!({"issued_on": "2026-05-01", "expires_on": "2025-05-01"}),
            ),
            422,
            "licence.expires_on",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "licence",
                json!({"expires_on": "2026-13-01"}),
            ),
            422,
            "licence.expires_on",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "credit_code",
                json!("91350100M000100Y44"),
            ),
            422,
            "credit_code",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(good_site.clone(), "phone_24h", json!("call me")),
            422,
            "phone_24h",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "inventory",
                json!([{"chemical": "丙酮", "cas": "67-64-2", "max_quantity": 1, "unit": "t"}]),
            ),
            422,
            "inventory[0].cas",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(
                good_site.clone(),
                "inventory",
                json!([{"chemical": "丙酮", "max_quantity": -1, "unit": "t"}]),
            ),
            422,
            "inventory[0].max_quantity",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            with(good_site.clone(), "village_id", json!(4242)),
            422,
            "village_id",
        ),
        (
            "POST",
            "/api/v1/sites".into(),
            json!({"kind": "hazchem_use", "risk_grade": "low"}),
            422,
            "name",
        ),
        (
            "PUT",
            format!("/api/v1/sites/{sid}"),
            good_site.clone(),
            422,
            "version",
        ),
        (
            "POST",
            "/api/v1/sites/search".into(),
            json!({"area": {"type": "Polygon", "coordinates": "nope"}}),
            422,
            "area.coordinates",
        ),
        (
            "POST",
            format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": "2026-03-01", "inspector_ids": []}),
            422,
            "inspector_ids",
        ),
        (
            "POST",
            format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": "2099-03-01", "inspector_ids": [1, 2]}),
            422,
            "inspected_on",
        ),
        (
            "POST",
            format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": "2026-03-01", "inspector_ids": [1, 2], "findings": [{"grade": "general", "item": "x", "deadline": "2026-02-01"}]}),
            422,
            "findings[0].deadline",
        ),
        (
            "POST",
            format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": "2026-03-01", "inspector_ids": [1, 2], "findings": [{"grade": "huge", "item": "x", "deadline": "2026-04-01"}]}),
            422,
            "findings[0].grade",
        ),
        (
            "POST",
            "/api/v1/sites/9999/inspections".into(),
            json!({"inspected_on": "2026-03-01", "inspector_ids": [1, 2]}),
            404,
            "",
        ),
        (
            "POST",
            format!("/api/v1/findings/{fid}/rectify"),
            json!({"version": 1, "rectified_on": "2025-01-01"}),
            422,
            "rectified_on",
        ),
        (
            "POST",
            format!("/api/v1/findings/{fid}/rectify"),
            json!({"rectified_on": "2026-01-06"}),
            422,
            "version",
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            json!({"name": "x", "role": "god"}),
            422,
            "role",
        ),
    ];
    for (method, path, body, status, field) in cases {
        let (s, v) = app.send(method, &path, Some(body.clone())).await;
        assert_eq!(s.as_u16(), status, "{method} {path} {body} -> {v}");
        if !field.is_empty() {
            assert_eq!(
                v["error"]["field"].as_str(),
                Some(field),
                "{method} {path} {body} -> {v}"
            );
        }
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    // Malformed JSON and wrong query values.
    let (s, v) = app.send_raw("POST", "/api/v1/sites", "{\"name\": ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app.send_raw("POST", "/api/v1/villages", "").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    for (q, field) in [
        ("per_page=0", "per_page"),
        ("kind=x", "kind"),
        ("near_lon=118", "radius_m"),
        ("village_id=abc", "village_id"),
        ("colour=red", "colour"),
    ] {
        let (s, v) = app.get(&format!("/api/v1/sites?{q}")).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{q}"
        );
    }
    // Nothing was written: the newest audit entry is the same, the counts unchanged.
    let (_, audit_after) = app.get("/api/v1/audit?per_page=1").await;
    assert_eq!(
        audit_before["items"][0]["id"],
        audit_after["items"][0]["id"]
    );
    assert_eq!(audit_before["total"], audit_after["total"]);
    assert_eq!(app.get("/api/v1/sites").await.1["total"], 1);
    assert_eq!(app.get("/api/v1/villages").await.1["total"], 1);
    app.stop().await;
}
both!(bad_input_is_refused_and_writes_nothing);

async fn demo_township_is_visible(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    // Loading twice does nothing.
    assert!(
        !fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, v) = app.get("/api/v1/villages").await;
    assert_eq!(v["total"], 13);
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|v| v["sample"] == true && v["name"].as_str().is_some_and(|n| n.contains("示例")))
    );
    let (_, c) = app.get("/api/v1/contacts?per_page=100").await;
    assert!(c["total"].as_i64().unwrap_or(0) >= 40, "{}", c["total"]);
    let (_, s) = app.get("/api/v1/sites?per_page=100").await;
    assert_eq!(
        s["total"], 35,
        "30 in turn, one of each other kind, a chlorine store"
    );
    let kinds: std::collections::BTreeSet<&str> = s["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.len(),
        fenghuo::ledger::sites::SiteKind::ALL.len(),
        "every kind of site is present"
    );
    assert!(
        s["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|s| s["village_id"].is_i64()),
        "sample sites lie inside the sample villages"
    );
    let (_, wl) = app.get("/api/v1/worklist").await;
    for k in [
        "expiring_licences",
        "overdue_rectifications",
        "not_inspected",
    ] {
        assert!(
            wl[k].as_array().is_some_and(|a| !a.is_empty()),
            "{k} empty in sample data"
        );
    }
    app.stop().await;
}
both!(demo_township_is_visible);

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let resp = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    // The document is generated from the mounted handlers; the served one is that document.
    assert_eq!(doc, fenghuo::api::document());
    let mut endpoints = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            endpoints.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(endpoints.len() >= 50, "{} operations", endpoints.len());
    for (method, e_path) in &endpoints {
        let op = &doc["paths"][e_path][method.to_lowercase()];
        assert!(
            op["x-required-role"].is_string(),
            "{method} {e_path}: no role"
        );
        // And the documented endpoint is really mounted (401 or 2xx, never the 404 fallback).
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let path: String = e_path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let r = app
            .client
            .request(m, format!("{}{}", app.base, path))
            .send()
            .await
            .expect("req");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        // A 404 from the handler (no such record) is fine; the router's own fallback is not.
        assert!(
            !body.contains("route not found"),
            "{method} {e_path} is documented but not mounted"
        );
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {e_path} is documented but not mounted"
        );
    }
    app.stop().await;
}

/// Garbage sent to every endpoint of the route table never makes a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_makes_the_server_fail() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    village(&app, "G01", 118.0, 25.2).await;
    // No connection reuse: a handler that ignores a body may close its connection.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"{}".to_vec(),
        b"{\"name\": 1e400}".to_vec(),
        b"{\"name\": \"\\u0000\", \"kind\": {\"a\": [1, 2]}, \"level\": -99999999999999999999}".to_vec(),
        b"{\"targets\": {\"villages\": [null, 1.5, {}], \"area\": {\"type\": \"Polygon\", \"coordinates\": [[[1e308, 1e308]]]}}}".to_vec(),
        vec![0xff, 0xfe, 0x7b, 0x22],
        format!("{{\"title\": \"{}\", \"body\": \"x\"}}", "长".repeat(100_000)).into_bytes(),
    ];
    let doc = fenghuo::api::document();
    let mut endpoints = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            endpoints.push((
                method.to_uppercase(),
                path.clone(),
                op["requestBody"].is_object(),
            ));
        }
    }
    for (method, e_path, has_body) in &endpoints {
        let path: String = e_path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for q in [
            "",
            "?page=-1&per_page=99999999999999999999&near_lon=x&version=abc",
        ] {
            // A GET's body is not read; the server may close before a large one is sent.
            // Likewise the large body goes only where a body is read.
            let bodies = if method == "GET" {
                &bodies[..1]
            } else if !has_body {
                &bodies[..bodies.len() - 1]
            } else {
                &bodies[..]
            };
            for b in bodies {
                let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let r = client
                    .request(m, format!("{}{}{}", app.base, path, q))
                    .bearer_auth(&app.admin)
                    .header("content-type", "application/json")
                    .body(b.clone())
                    .send()
                    .await
                    .expect("request");
                assert!(
                    r.status().as_u16() < 500,
                    "{method} {path}{q} with {:?} -> {}",
                    String::from_utf8_lossy(&b[..b.len().min(80)]),
                    r.status()
                );
            }
        }
    }
    app.stop().await;
}

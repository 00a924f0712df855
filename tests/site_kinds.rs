//! The ledger kinds the township supervises beyond hazchem and fireworks
//! (非煤矿山, 加油站, 瓶装燃气供应点, 山塘/小水库) with their own details, the
//! major hazard source of a hazchem site (GB 18218-2018 Σq/Q, R and grade),
//! and a fireworks retail point's permitted stock and sale season — on
//! SQLite and on PostgreSQL.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

async fn village(app: &TestApp, code: &str, name: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": name, "boundary": square(118.0, 25.2, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

fn field(v: &Value) -> &str {
    v["error"]["field"].as_str().unwrap_or("")
}

fn credit_code(n: usize) -> String {
    let body = format!("91350524MA{n:07}");
    let check = fenghuo::ledger::sites::credit_code_check(&body).expect("check");
    format!("{body}{check}")
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

async fn signed_in(app: &TestApp) -> Web {
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    web
}

fn pond(patrol: Value) -> Value {
    json!({
        "name": "后垄山塘", "kind": "pond_reservoir", "risk_grade": "general",
        "location": {"lon": 118.004, "lat": 25.204},
        "details": {"pond": {
            "capacity_10k_m3": 4.2, "dam_height_m": 9.5,
            "administrative": {"name": "林副乡长", "phone": "139 0595 1001"},
            "technical": {"name": "陈水利员", "phone": "139 0595 1002"},
            "patrol": patrol
        }}
    })
}

/// The worked example: 液化石油气 20 t (Q 50) + 甲醇 300 t (Q 500) gives
/// S = 0.4 + 0.6 = 1.0, a major hazard source; with β 1.5 and 1 and 40
/// people within 500 m (α 1.2), R = 1.44: 四级. A chemical in neither table
/// is flagged, not guessed.
async fn major_hazard_source(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "S01", "坑头村").await;
    let body = json!({
        "name": "坑头化工仓库", "kind": "hazchem_storage", "risk_grade": "major",
        "location": {"lon": 118.004, "lat": 25.204}, "people_within_500m": 40,
        "inventory": [
            {"chemical": "液化石油气", "max_quantity": 20, "unit": "t"},
            {"chemical": "工业甲醇", "cas": "67-56-1", "max_quantity": 300000, "unit": "kg"},
            {"chemical": "某清洗剂", "max_quantity": 5, "unit": "t"}
        ]
    });
    let (s, v) = app.post("/api/v1/sites", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = app.get(&format!("/api/v1/sites/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let h = &v["hazard"];
    assert!(close(&h["s"], 1.0), "{h}");
    assert_eq!(h["major"], true);
    assert!(close(&h["lines"][0]["ratio"], 0.4), "{h}");
    assert!(close(&h["lines"][1]["ratio"], 0.6), "{h}");
    assert_eq!(
        h["lines"][1]["matched"], "甲醇",
        "matched by its CAS number"
    );
    assert!(close(&h["lines"][0]["beta"], 1.5));
    assert!(close(&h["alpha"], 1.2));
    assert!(close(&h["r"], 1.44), "{h}");
    assert_eq!(h["grade"], "fourth");
    assert_eq!(h["grade_label"], "四级重大危险源");
    assert_eq!(h["lines"][2]["basis"], "unknown");
    assert_eq!(h["lines"][2]["ratio"], Value::Null);
    assert_eq!(h["unknown_lines"], 1);

    // The unknown line given its 表2 category counts: 5 t of W5.1 (Q 10).
    let mut more = body.clone();
    more["inventory"][2]["gb18218_category"] = json!("W5.1");
    more["version"] = json!(1);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), more.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(close(&v["hazard"]["s"], 1.5), "{}", v["hazard"]);
    assert_eq!(v["hazard"]["unknown_lines"], 0);
    // A category that is not in 表2 is refused, naming the line.
    more["inventory"][2]["gb18218_category"] = json!("W99");
    more["version"] = json!(2);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), more).await;
    assert_eq!(
        (s, field(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "inventory[2].gb18218_category"
        ),
        "{v}"
    );
    // Below the threshold: no major hazard source, no grade.
    let (s, v) = app
        .post(
            "/api/v1/sites",
            json!({"name": "小油库", "kind": "hazchem_storage", "risk_grade": "general",
                   "inventory": [{"chemical": "汽油", "max_quantity": 20, "unit": "吨"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(close(&v["hazard"]["s"], 0.1));
    assert_eq!(
        (&v["hazard"]["major"], &v["hazard"]["grade"]),
        (&json!(false), &Value::Null)
    );
    // A pond holds no chemicals: no assessment.
    let (_, p) = app
        .post(
            "/api/v1/sites",
            pond(json!({"name": "王巡查", "phone": "139 0595 1003"})),
        )
        .await;
    assert_eq!(p["hazard"], Value::Null, "{p}");

    // The site's page shows S, R, the grade and each line's part.
    let web = signed_in(&app).await;
    let page = web.get(&format!("/sites/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "id=\"hazard-source\"",
        "四级重大危险源",
        "id=\"hazard-s\">1.5<",
    ] {
        assert!(page.body.contains(want), "the page lacks {want:?}");
    }
    app.stop().await;
}
both!(major_hazard_source);

/// A pond is kept only with its three responsible persons, each reachable
/// by phone; they are listed in the 责任人名单 (a contact with the same
/// phone is named as such).
async fn pond_needs_its_three_persons(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let v1 = village(&app, "S01", "石门村").await;
    let (s, v) = app.post("/api/v1/sites", pond(Value::Null)).await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "details.pond.patrol"),
        "{v}"
    );
    let (s, v) = app
        .post(
            "/api/v1/sites",
            pond(json!({"name": "王巡查", "phone": ""})),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "details.pond.patrol.phone"
        ),
        "{v}"
    );
    let mut no_details = pond(Value::Null);
    no_details["details"] = json!({});
    let (s, v) = app.post("/api/v1/sites", no_details).await;
    assert_eq!(
        (s, field(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "details.pond.administrative"
        ),
        "{v}"
    );
    // A pond's details on a fuel station are refused.
    let mut wrong = pond(json!({"name": "王巡查", "phone": "139 0595 1003"}));
    wrong["kind"] = json!("fuel_station");
    let (s, v) = app.post("/api/v1/sites", wrong).await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "details.pond"),
        "{v}"
    );

    // The patrol person is also a contact of the village.
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "王巡查", "village_id": v1, "roles": ["网格员"], "phone": "139 0595 1003"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, v) = app
        .post(
            "/api/v1/sites",
            pond(json!({"name": "王巡查", "phone": "139 0595 1003"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert_eq!(v["kind_label"], "山塘/小水库");
    assert_eq!(v["village_id"], v1);
    assert_eq!(
        v["details"]["pond"]["patrol"]["phone"], "+8613905951003",
        "stored as E.164"
    );
    let (_, list) = app.get("/api/v1/responsible-persons").await;
    let ponds: Vec<&Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["site_id"] == id)
        .collect();
    let lines: Vec<(&str, &str, &str, &str)> = ponds
        .iter()
        .map(|p| {
            (
                p["village"].as_str().unwrap_or(""),
                p["category"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
                p["phone"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("石门村", "山塘行政责任人", "林副乡长", "139 0595 1001"),
            ("石门村", "山塘技术责任人", "陈水利员", "139 0595 1002"),
            ("石门村", "山塘巡查责任人", "王巡查", "139 0595 1003"),
        ]
    );
    assert_eq!(ponds[0]["area"], "后垄山塘（山塘/小水库）");
    assert_eq!(ponds[0]["contact_id"], Value::Null);
    assert_eq!(
        ponds[2]["contact_id"], c["id"],
        "the contact with that phone"
    );
    // A notice to the safety officers of the village's ponds reaches the
    // pond's three persons.
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山塘巡查", "body": "请立即巡查山塘", "targets": {"villages": ["S01"], "roles": ["企业安全员"], "site_kinds": ["pond_reservoir"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let rows: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT phone FROM alert_recipients WHERE alert_id = $1")
            .bind(a["id"].as_i64().expect("id"))
            .fetch_all(&app.db().pool)
            .await
            .expect("recipients");
    let mut reached: Vec<String> = rows.into_iter().filter_map(|r| r.0).collect();
    reached.sort();
    assert_eq!(
        reached,
        ["+8613905951001", "+8613905951002", "+8613905951003"]
    );
    // The dashboard's form: the missing person is marked on its input;
    // with all three the pond is saved and its page lists them.
    let web = signed_in(&app).await;
    let csrf = web.token().await;
    let mut form = vec![
        ("_csrf", csrf.as_str()),
        ("name", "前山山塘"),
        ("kind", "pond_reservoir"),
        ("risk_grade", "general"),
        ("status", "active"),
        ("village_id", ""),
        ("lon", "118.006"),
        ("lat", "25.206"),
        ("pond_capacity", "12"),
        ("pond_dam_height", "11.5"),
        ("pond_admin_name", "林副乡长"),
        ("pond_admin_phone", "139 0595 1001"),
        ("pond_tech_name", "陈水利员"),
        ("pond_tech_phone", "139 0595 1002"),
    ];
    let r = web.post("/sites/new", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-pond_patrol_name\""), "{}", r.body);
    form.extend([
        ("pond_patrol_name", "王巡查"),
        ("pond_patrol_phone", "139 0595 1003"),
    ]);
    let r = web.post("/sites/new", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&r.location()).await;
    for want in ["小(2)型水库", "巡查责任人", "王巡查 139 0595 1003"] {
        assert!(page.body.contains(want), "the pond's page lacks {want:?}");
    }
    let edit = web
        .get(&format!(
            "{}/edit",
            r.location().split('?').next().unwrap_or("")
        ))
        .await;
    assert!(
        edit.body.contains("value=\"+8613905951003\""),
        "the form shows the stored phone"
    );
    // The workbook lists them too.
    let resp = app
        .client
        .get(format!("{}/api/v1/responsible-persons.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK);
    app.stop().await;
}
both!(pond_needs_its_three_persons);

/// A retail point over its licence's permitted stock is refused; one with
/// stock outside its sale season is flagged on its page and the worklist.
async fn fireworks_stock_and_season(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "S01", "湖上村").await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let days = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let body = |qty: f64, from: String, to: String| {
        json!({
            "name": "湖上烟花零售点", "kind": "fireworks_retail", "risk_grade": "low",
            "location": {"lon": 118.004, "lat": 25.204}, "seasonal": true,
            "max_stock": 200, "max_stock_unit": "箱",
            "inventory": [{"chemical": "烟花爆竹（1.4G 类）", "un_number": "UN0336", "max_quantity": qty, "unit": "箱"}],
            "details": {"sale_season": {"name": "春节", "from": from, "to": to}}
        })
    };
    let (s, v) = app
        .post("/api/v1/sites", body(250.0, days(-10), days(30)))
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "inventory"),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap_or("").contains("250"),
        "{v}"
    );
    let (s, v) = app
        .post("/api/v1/sites", body(120.0, days(10), days(5)))
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "details.sale_season.to"),
        "{v}"
    );
    // In season: nothing to flag.
    let (s, v) = app
        .post("/api/v1/sites", body(120.0, days(-10), days(30)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["out_of_season_stock"], false);
    let id = v["id"].as_i64().expect("id");
    let (_, wl) = app.get("/api/v1/worklist").await;
    assert_eq!(wl["out_of_season"], json!([]), "{wl}");
    // The season over, the stock still held: 季节外储存.
    let mut past = body(120.0, days(-60), days(-20));
    past["version"] = json!(1);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), past.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["out_of_season_stock"], true, "{v}");
    let (_, wl) = app.get("/api/v1/worklist").await;
    let flagged = wl["out_of_season"].as_array().expect("out_of_season");
    assert_eq!(flagged.len(), 1, "{wl}");
    assert_eq!(flagged[0]["site"]["id"], id);
    assert_eq!(flagged[0]["season"], "春节");
    assert_eq!(flagged[0]["held"], "120 箱");
    assert_eq!(wl["counts"]["out_of_season"], 1);
    let web = signed_in(&app).await;
    let page = web.get(&format!("/sites/{id}")).await;
    assert!(page.body.contains("id=\"out-of-season\""), "{}", page.body);
    assert!(page.body.contains("季节外储存"));
    let page = web.get("/worklist").await;
    assert!(page.body.contains("湖上烟花零售点"));
    // Emptied, the flag goes.
    let mut empty = past;
    empty["inventory"] = json!([]);
    empty["version"] = json!(2);
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), empty).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["out_of_season_stock"], false);
    app.stop().await;
}
both!(fireworks_stock_and_season);

/// Each new kind goes through create → get → Excel export → import
/// preview (every row unchanged), with its details kept.
async fn new_kinds_round_trip(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "S01", "坑头村").await;
    let samples = [
        (
            "坑头石场",
            "non_coal_mine",
            "非煤矿山",
            json!({"mine": {"mining_licence_no": "C3505242011047130112345", "mining_licence_expires": "2028-06-30",
                            "mine_type": "open_pit", "tailings_pond": false}}),
        ),
        (
            "中石化坑头加油站",
            "fuel_station",
            "加油站",
            json!({"fuel_station": {"tank_count": 4, "tank_volume_m3": 120.0, "retail_licence_no": "油零售证书第3505240012号"}}),
        ),
        (
            "坑头液化气供应站",
            "lpg_supply_point",
            "瓶装燃气供应点",
            json!({"lpg": {"gas_licence_no": "闽202503505240017", "max_cylinders": 80}}),
        ),
        (
            "坑头山塘",
            "pond_reservoir",
            "山塘/小水库",
            pond(json!({"name": "王巡查", "phone": "139 0595 1003"}))["details"].clone(),
        ),
    ];
    for (k, (name, kind, label, details)) in samples.iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/v1/sites",
                json!({"name": name, "kind": kind, "risk_grade": "general", "credit_code": credit_code(k + 1),
                       "location": {"lon": 118.004 + k as f64 * 0.001, "lat": 25.204}, "details": details}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{kind}: {v}");
        let (_, got) = app.get(&format!("/api/v1/sites/{}", v["id"])).await;
        assert_eq!(
            (&got["kind"], &got["kind_label"]),
            (&json!(kind), &json!(label))
        );
        let mut want = details.clone();
        if *kind == "pond_reservoir" {
            for (who, phone) in [
                ("administrative", "+8613905951001"),
                ("technical", "+8613905951002"),
                ("patrol", "+8613905951003"),
            ] {
                want["pond"][who]["phone"] = json!(phone);
            }
        }
        assert_eq!(got["details"], want, "{kind}");
    }
    let (s, list) = app.get("/api/v1/sites?kind=pond_reservoir").await;
    assert_eq!((s, &list["total"]), (StatusCode::OK, &json!(1)), "{list}");
    let resp = app
        .client
        .get(format!("{}/api/v1/sites.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    let exported = resp.bytes().await.expect("bytes").to_vec();
    let resp = app
        .client
        .post(format!("{}/api/v1/imports/sites/preview", app.base))
        .query(&[("file", "sites.xlsx")])
        .bearer_auth(&app.admin)
        .header("content-type", "application/octet-stream")
        .body(exported)
        .send()
        .await
        .expect("preview");
    assert_eq!(resp.status(), StatusCode::OK);
    let back: Value = resp.json().await.expect("json");
    assert_eq!(back["counts"]["refused"], 0, "{}", back["problems"]);
    assert_eq!(back["counts"]["unchanged"], 4, "{back}");
    let kinds: Vec<String> = back["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| {
            r["values"]
                .as_array()?
                .iter()
                .find(|v| v["column"] == "类型")
                .and_then(|v| v["value"].as_str())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        kinds,
        ["非煤矿山", "加油站", "瓶装燃气供应点", "山塘/小水库"]
    );
    app.stop().await;
}
both!(new_kinds_round_trip);

/// The sample township has one site of each new kind, a pond with its three
/// persons, a chlorine store graded 三级, and retail points with 春节 dates.
async fn demo_has_the_new_kinds(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, sites) = app.get("/api/v1/sites?per_page=500").await;
    let items = sites["items"].as_array().expect("items");
    for kind in [
        "non_coal_mine",
        "fuel_station",
        "lpg_supply_point",
        "pond_reservoir",
    ] {
        assert!(
            items
                .iter()
                .any(|s| s["kind"] == kind && s["sample"] == true),
            "no sample {kind}"
        );
    }
    assert!(
        items
            .iter()
            .any(|s| s["hazard"]["grade"] == "third" && s["hazard"]["major"] == true),
        "a 三级 major hazard source"
    );
    assert!(
        items
            .iter()
            .any(|s| s["kind"] == "fireworks_retail"
                && s["details"]["sale_season"]["name"] == "春节")
    );
    assert!(items.iter().any(|s| s["out_of_season_stock"] == true));
    let (_, people) = app.get("/api/v1/responsible-persons").await;
    let pond_people = people["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["category"].as_str().unwrap_or("").starts_with("山塘"))
        .count();
    assert_eq!(pond_people, 3);
    app.stop().await;
}
both!(demo_has_the_new_kinds);

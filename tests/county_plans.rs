//! Plans per township and the county plan, on both backends: the sample
//! county layout (`tests/fixtures/plans-county`: a county plan and two
//! townships' folders) loads with each folder checked against its own
//! township's villages, so `fenghuo plans check` finds a village code that
//! only the other township has; an activation under a plan that follows the
//! county plan reaches the county duty officer's phone and the county's list.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind, Sim};

const TOWNSHIP_A: &str = "350524101000";
const TOWNSHIP_B: &str = "350524102000";
const COUNTY: &str = "350524000000";
const COUNTY_PHONE: &str = "+8613911110000";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans-county")
}

/// Copies the fixture's folders into `to`.
fn copy_fixture(to: &Path) {
    for sub in ["county", TOWNSHIP_A, TOWNSHIP_B] {
        std::fs::create_dir_all(to.join(sub)).expect("mkdir");
        for f in std::fs::read_dir(fixture().join(sub)).expect("fixture") {
            let f = f.expect("entry").path();
            std::fs::copy(&f, to.join(sub).join(f.file_name().expect("name"))).expect("copy");
        }
    }
}

struct World {
    app: TestApp,
    sim: Sim,
    plans: PathBuf,
    township_b: i64,
    county: i64,
}

/// The home township is 甲乡 (the fixture's first folder); 乙镇 and the
/// county bureau are rows of their own. Villages A01, A02 are 甲乡's, B01
/// 乙镇's; the county bureau has one duty officer (县应急局值班员).
async fn world(b: Backend) -> Option<World> {
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let plans = tempfile::tempdir().expect("tempdir");
    let dir = plans.path().to_path_buf();
    std::mem::forget(plans);
    let app = TestApp::start_with(b, |c| {
        c.plans_dir = dir.clone();
        c.area_code = TOWNSHIP_A.into();
        c.township_name = "甲乡".into();
        sim.configure(&mut c.sms);
    })
    .await?;
    let db = app.db();
    let mut ids = Vec::new();
    for (code, name, kind) in [
        (TOWNSHIP_B, "乙镇", "township"),
        (COUNTY, "示例县应急管理局", "county"),
    ] {
        sqlx::query(
            "INSERT INTO townships (code, name, county_code, created_at, updated_at, kind) \
             VALUES ($1, $2, '350524', 0, 0, $3)",
        )
        .bind(code)
        .bind(name)
        .bind(kind)
        .execute(&db.pool)
        .await
        .expect("township");
        let id: i64 = sqlx::query_scalar("SELECT id FROM townships WHERE code = $1")
            .bind(code)
            .fetch_one(&db.pool)
            .await
            .expect("id");
        ids.push(id);
    }
    let (township_b, county) = (ids[0], ids[1]);
    for (i, code) in ["A01", "A02", "B01"].iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": format!("{code}村"), "boundary": square(118.0 + 0.01 * i as f64, 25.2, 0.01)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let vid = v["id"].as_i64().expect("id");
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": format!("{code}村支书"), "roles": ["村支书"], "village_id": vid, "phone": format!("1360000{i}001")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        if code.starts_with('B') {
            for table in ["villages", "contacts"] {
                let id = if table == "villages" {
                    vid
                } else {
                    c["id"].as_i64().expect("id")
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET township_id = $1 WHERE id = $2"
                )))
                .bind(township_b)
                .bind(id)
                .execute(&db.pool)
                .await
                .expect("move to 乙镇");
            }
        }
    }
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "县值班员", "roles": ["county_duty_officer"], "phone": COUNTY_PHONE}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["roles"], json!(["县应急局值班员"]), "{c}");
    sqlx::query("UPDATE contacts SET township_id = $1 WHERE id = $2")
        .bind(county)
        .bind(c["id"].as_i64().expect("id"))
        .execute(&db.pool)
        .await
        .expect("the county's own");
    copy_fixture(&dir);
    let (s, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["problems"], json!([]), "{r}");
    let mut in_force: Vec<String> = r["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    in_force.sort();
    assert_eq!(
        in_force,
        vec![
            "county/county-flood".to_string(),
            "flood-typhoon".to_string(),
            format!("township {township_b}/flood-typhoon"),
        ],
        "{r}"
    );
    Some(World {
        app,
        sim,
        plans: dir,
        township_b,
        county,
    })
}

/// `fenghuo plans check --with-database DIR` against the test's database.
fn check(app: &TestApp, dir: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["plans", "check", "--with-database"])
        .arg(dir)
        .env("FENGHUO_DATABASE_URL", &app.cfg.database_url)
        .env("FENGHUO_DATA_DIR", &app.cfg.data_dir)
        .output()
        .expect("run fenghuo");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn plans_check_uses_each_townships_own_villages(b: Backend) {
    let Some(w) = world(b).await else { return };
    let (code, out, err) = check(&w.app, &w.plans);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!err.contains("not checked"), "villages were checked: {err}");
    // 甲乡's plan naming 乙镇's village: a problem at the code, though the
    // village exists (in the other township).
    let a = w.plans.join(TOWNSHIP_A).join("flood-typhoon.toml");
    let text = std::fs::read_to_string(&a).expect("read");
    let line = text
        .lines()
        .position(|l| l.contains("villages = [\"A01\"]"))
        .expect("A01 named")
        + 1;
    std::fs::write(&a, text.replacen("[\"A01\"]", "[\"B01\"]", 1)).expect("edit");
    // A folder named by no township's code.
    std::fs::create_dir(w.plans.join("350524999000")).expect("mkdir");
    let (code, out, err) = check(&w.app, &w.plans);
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let at = format!("{TOWNSHIP_A}/flood-typhoon.toml:{line}:42: ");
    assert!(
        lines[0].contains(&at)
            && lines[0].contains("unknown village code 'B01' (未知村代码); known codes: A01, A02"),
        "{out}"
    );
    // The county bureau's row has county/, not a code folder.
    assert!(
        lines[1].contains("350524999000:1:1: no township has the division code '350524999000'")
            && lines[1].ends_with(&format!("as registered: {TOWNSHIP_A}, {TOWNSHIP_B}")),
        "{out}"
    );
    // 乙镇's own plan names B01 and is fine; the daemon keeps 甲乡's last
    // good version in force.
    let (_, r) = w.app.post("/api/v1/plans/reload", json!({})).await;
    let problems = r["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 2, "{r}");
    assert!(
        r["plans"]
            .as_array()
            .expect("plans")
            .contains(&json!("flood-typhoon")),
        "{r}"
    );
    w.app.stop().await;
}
both!(plans_check_uses_each_townships_own_villages);

/// The SMS the county duty officer got, waiting for `n` of them.
async fn county_sms(sim: &Sim, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let got: Vec<String> = sim
            .accepted()
            .into_iter()
            .filter(|r| r.to == COUNTY_PHONE)
            .map(|r| r.text)
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the county duty officer did not get {n} messages");
}

async fn reports(app: &TestApp, token: &str) -> Vec<Value> {
    let (s, r) = app
        .send_as(token, "GET", "/api/v1/county/reports", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r["items"].as_array().expect("items").clone()
}

async fn activations_are_reported_to_the_county(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    let db = app.db();
    let (_, county_token) = fenghuo::auth::create_scoped_token(
        db,
        "county-viewer",
        Role::Viewer,
        false,
        &Scope::County,
        w.county,
    )
    .await
    .expect("county token");
    let (_, b_token) = fenghuo::auth::create_scoped_token(
        db,
        "yizhen-dispatcher",
        Role::Dispatcher,
        false,
        &Scope::township(w.township_b),
        w.township_b,
    )
    .await
    .expect("乙镇 token");

    // 甲乡 opens its plan at Ⅳ: the county's duty officer is told.
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-typhoon", "level": 4, "villages": ["A01"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_i64().expect("id");
    let sms = county_sms(&w.sim, 1).await;
    let text = &sms[0];
    for part in [
        "甲乡响应报告",
        "甲乡甲乡防汛防台风应急预案启动Ⅳ级（蓝色）响应",
        "执行示例县防汛防台风应急预案",
        "A01村",
        "Report to the county: 甲乡 opened 甲乡防汛防台风应急预案 at Level IV (blue)",
        "县值班员",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(!text.contains('{') && !text.contains('}'), "{text}");
    // In the county's list, and in the incident's timeline.
    let listed = reports(app, &county_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!(
        (
            r["incident"].as_i64(),
            r["township"].as_str(),
            r["county_plan"].as_str(),
            r["level"].as_i64(),
            r["raised"].as_bool(),
            r["recipients"].as_i64(),
            r["reason"].is_null(),
        ),
        (
            Some(id),
            Some("甲乡"),
            Some("county-flood"),
            Some(4),
            Some(false),
            Some(1),
            true
        ),
        "{r}"
    );
    let alert = r["alert_id"].as_i64().expect("the notice");
    let (_, t) = app.get(&format!("/api/v1/incidents/{id}")).await;
    let events: Vec<&Value> = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "county_report")
        .collect();
    assert_eq!(events.len(), 1, "{t}");
    assert_eq!(events[0]["alert_id"].as_i64(), Some(alert), "{t}");

    // Raised to Ⅲ: reported again; lowered back to Ⅳ: not.
    let (s, r) = app
        .post(
            &format!("/api/v1/incidents/{id}/level"),
            json!({"level": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let sms = county_sms(&w.sim, 2).await;
    assert!(
        sms.iter()
            .any(|t| t.contains("由Ⅳ级（蓝色）提升至Ⅲ级（黄色）")
                && t.contains("from Level IV (blue) to Level III (yellow)")),
        "{sms:?}"
    );
    let (s, r) = app
        .post(
            &format!("/api/v1/incidents/{id}/level"),
            json!({"level": 4}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let listed = reports(app, &county_token).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["raised"], true, "{listed:?}");
    assert_eq!(listed[0]["level"], 3, "{listed:?}");

    // 乙镇 opens its own plan of the same id: reported under its name; the
    // county sees both townships' reports, 乙镇 only its own.
    let (s, inc_b) = app
        .send_as(
            &b_token,
            "POST",
            "/api/v1/incidents",
            Some(json!({"plan": "flood-typhoon", "level": 4, "villages": ["B01"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc_b}");
    let sms = county_sms(&w.sim, 3).await;
    assert!(
        sms.iter()
            .any(|t| t.contains("乙镇乙镇防汛防台风应急预案启动Ⅳ级（蓝色）响应")),
        "{sms:?}"
    );
    let county_list = reports(app, &county_token).await;
    let townships: Vec<&str> = county_list
        .iter()
        .filter_map(|r| r["township"].as_str())
        .collect();
    assert_eq!(townships, vec!["乙镇", "甲乡", "甲乡"], "{county_list:?}");
    let own = reports(app, &b_token).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["township"], "乙镇", "{own:?}");
    assert_eq!(own[0]["incident"], inc_b["id"], "{own:?}");

    // Each office lists and reads its own township's plans, on the API and
    // the dashboard.
    let (_, plans) = app.send_as(&b_token, "GET", "/api/v1/plans", None).await;
    let titles: Vec<&str> = plans["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(titles, vec!["乙镇防汛防台风应急预案"], "{plans}");
    let (_, one) = app
        .send_as(&b_token, "GET", "/api/v1/plans/flood-typhoon", None)
        .await;
    assert_eq!(one["plan"]["title"], "乙镇防汛防台风应急预案", "{one}");
    let (_, home) = app.get("/api/v1/plans/flood-typhoon").await;
    assert_eq!(home["plan"]["title"], "甲乡防汛防台风应急预案", "{home}");
    w.app.stop().await;
}
both!(activations_are_reported_to_the_county);

/// A report that reaches nobody (the county bureau has no one holding the
/// county plan's roles) is still in the timeline and the list, with why.
async fn a_report_to_nobody_says_why(b: Backend) {
    let Some(w) = world(b).await else { return };
    let app = &w.app;
    sqlx::query("UPDATE contacts SET archived_at = 1 WHERE township_id = $1")
        .bind(w.county)
        .execute(&app.db().pool)
        .await
        .expect("archive");
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-typhoon", "level": 4, "villages": ["A01"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let (_, r) = app.get("/api/v1/county/reports").await;
    let items = r["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{r}");
    assert_eq!(items[0]["recipients"], 0, "{r}");
    assert!(items[0]["alert_id"].is_null(), "{r}");
    assert!(
        items[0]["reason"]
            .as_str()
            .is_some_and(|m| m.contains("县应急局值班员") && m.contains("nothing was sent")),
        "{r}"
    );
    w.app.stop().await;
}
both!(a_report_to_nobody_says_why);

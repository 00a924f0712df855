//! Reports upward of an incident (初报 / 续报 / 核报): an incident notifies
//! two villages, some answer (by link and by SMS), one reply reports danger,
//! a zone is moved; the 初报 holds each village's answer rate, the danger
//! reply and the transfer figure; an edit is a new version and the old one
//! stays as it was; 续报 are numbered, the 核报 comes after the 初报; bad
//! input names the field, a stale version is a conflict; the `.xlsx` holds
//! what the API says, cell by cell; the pages render; a village user is
//! refused.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use calamine::{Data, Reader, Xlsx};
use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const HOOK_SECRET: &str = "hook-secret";
const PASSWORD: &str = "correct-horse-9";

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
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 30 }]

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

async fn sms_from(app: &TestApp, national: &str, text: &str, id: &str) {
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
}

async fn post_form(web: &Web, path: &str, f: &[(&str, String)]) -> web_client::Resp {
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    web.post(path, &f).await
}

async fn created(app: &TestApp, path: &str, body: Value) -> i64 {
    let (s, v) = app.post(path, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_i64().expect("id")
}

async fn xlsx(app: &TestApp, path: &str) -> Xlsx<std::io::Cursor<Vec<u8>>> {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let bytes = resp.bytes().await.expect("bytes");
    Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx")
}

fn text(d: Data) -> String {
    match d {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("not text: {other:?}"),
    }
}

fn num(d: Data) -> f64 {
    match d {
        Data::Float(f) => f,
        Data::Int(i) => i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// The "报告" sheet as (项目 → value).
fn report_sheet(wb: &mut Xlsx<std::io::Cursor<Vec<u8>>>) -> Vec<(String, Data)> {
    let sheet = wb.worksheet_range("报告").expect("报告 sheet");
    let h = fenghuo::workbook::HEADER_ROW;
    assert_eq!(sheet.get_value((h, 0)), Some(&Data::String("项目".into())));
    let mut out = Vec::new();
    let mut r = h + 1;
    while let Some(Data::String(k)) = sheet.get_value((r, 0)) {
        out.push((
            k.clone(),
            sheet.get_value((r, 1)).cloned().unwrap_or(Data::Empty),
        ));
        r += 1;
    }
    out
}

fn item(rows: &[(String, Data)], k: &str) -> Data {
    rows.iter()
        .find(|(n, _)| n == k)
        .unwrap_or_else(|| panic!("no row {k}: {rows:?}"))
        .1
        .clone()
}

fn village<'a>(facts: &'a Value, name: &str) -> &'a Value {
    facts["village_answers"]
        .as_array()
        .expect("village_answers")
        .iter()
        .find(|v| v["village"] == name)
        .unwrap_or_else(|| panic!("no {name}: {facts}"))
}

async fn reports_upward(b: Backend) {
    let plans = tempfile::tempdir().expect("tempdir");
    let dir = plans.path().to_path_buf();
    let Some(app) = TestApp::start_with(b, |c| {
        c.plans_dir = dir.clone();
        c.sms.webhook.secret = HOOK_SECRET.into();
        c.office_name = "湖上乡人民政府".into();
    })
    .await
    else {
        return;
    };
    // Two villages, each with its 村支书 and 村主任.
    let mut villages = Vec::new();
    let mut people = Vec::new();
    for (i, code) in ["S01", "S02"].iter().enumerate() {
        let v = created(
            &app,
            "/api/v1/villages",
            json!({"code": code, "name": format!("{code}村"), "boundary": square(118.0 + 0.05 * i as f64, 25.2, 0.02)}),
        )
        .await;
        villages.push(v);
        for (order, role) in [(1, "村支书"), (2, "村主任")] {
            let c = created(
                &app,
                "/api/v1/contacts",
                json!({"name": format!("{code}{role}"), "roles": [role], "village_id": v,
                       "phone": format!("1360000{i}{order:03}"), "escalation_order": order}),
            )
            .await;
            people.push(c);
        }
    }
    std::fs::write(dir.join("flood-test.toml"), PLAN).expect("plan");
    let (s, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["plans"], json!(["flood-test"]), "{r}");
    let (s, opened) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-test", "level": 4, "villages": ["S01", "S02"], "note": "暴雨"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{opened}");
    let inc = opened["id"].as_i64().expect("incident");
    let alert = opened["alerts"][0].as_i64().expect("alert");

    // S01: both answer (one by the link, one by SMS); S02: one answers and
    // reports danger, the other is silent.
    let tok = app.token_of(alert, people[0]).await;
    let r = app
        .client
        .post(format!("{}/a/{tok}", app.base))
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success(), "{}", r.status());
    sms_from(&app, "13600000002", "收到", "m1").await;
    sms_from(&app, "13600001001", "收到，后山有滑坡", "m2").await;
    let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(board["answered"], 3, "{board}");

    // A zone of S02 moved out for the incident: 1 household of 3 reported moved.
    let leader = created(
        &app,
        "/api/v1/contacts",
        json!({"name": "转移责任人", "roles": ["网格员"], "village_id": villages[1], "phone": "13600009999"}),
    )
    .await;
    let zone = created(
        &app,
        "/api/v1/danger-zones",
        json!({"code": "S02-DZ-01", "name": "后山滑坡点", "village_id": villages[1], "kind": "地质灾害点",
               "geometry": {"type": "Point", "coordinates": [118.05, 25.2]}, "leader_id": leader}),
    )
    .await;
    for (head, members) in [("户主甲", 3), ("户主乙", 2)] {
        created(
            &app,
            "/api/v1/households",
            json!({"zone_id": zone, "head": head, "members": members, "phone": "13700000001"}),
        )
        .await;
    }
    let (s, t) = app
        .post(
            "/api/v1/transfers",
            json!({"zones": [zone], "incident_id": inc, "reason": "乡防指命令"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let transfer = t["items"][0]["transfer_id"].as_i64().expect("transfer");
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/reports"),
            json!({"moved": {"households": 1, "persons": 3}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let reports = format!("/api/v1/incidents/{inc}/reports");
    // Nothing before the 初报.
    for kind in ["followup", "verified"] {
        let (s, v) = app.post(&reports, json!({"kind": kind})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["field"], "kind", "{v}");
    }
    let (s, v) = app.post(&reports, json!({"deaths": 0})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "kind", "{v}");

    // The 初报.
    let (s, first) = app
        .post(
            &reports,
            json!({"kind": "initial", "deaths": 0, "missing": 0, "injured": 2, "affected": 150,
                   "houses_collapsed": 1, "houses_damaged": 4, "economic_loss": 12.5,
                   "situation": "6月12日凌晨强降雨，S02村后山发生滑坡。", "handling": "已转移受威胁群众。",
                   "reporter": "王明", "signer": "李书记"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let rid = first["id"].as_i64().expect("report id");
    assert_eq!(first["kind"], "initial");
    assert_eq!(first["label"], "初报");
    assert_eq!(first["version"], 1);
    let v1 = first["versions"][0].clone();
    assert_eq!(first["versions"].as_array().map(Vec::len), Some(1));
    let facts = &v1["facts"];
    assert_eq!(facts["level"], 4, "{facts}");
    assert_eq!(facts["level_label"], "Ⅳ级（蓝色）");
    assert_eq!(facts["villages"], json!(["S01村", "S02村"]));
    let s01 = village(facts, "S01村");
    assert_eq!(
        (
            &s01["recipients"],
            &s01["answered"],
            s01["answer_rate"].as_f64()
        ),
        (&json!(2), &json!(2), Some(1.0)),
        "{s01}"
    );
    let s02 = village(facts, "S02村");
    assert_eq!(
        (
            &s02["recipients"],
            &s02["answered"],
            s02["answer_rate"].as_f64()
        ),
        (&json!(2), &json!(1), Some(0.5)),
        "{s02}"
    );
    assert_eq!(s02["by_notice"][0]["alert_id"], alert);
    let danger = facts["danger_replies"].as_array().expect("danger");
    assert_eq!(danger.len(), 1, "{facts}");
    assert_eq!(danger[0]["text"], "收到，后山有滑坡");
    assert_eq!(danger[0]["village"], "S02村");
    assert_eq!(danger[0]["name"], "S02村支书");
    assert!(
        facts["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|l| l["what"].as_str().unwrap_or("").starts_with("启动响应")),
        "{facts}"
    );
    // The transfers: the table's figure and its text; 紧急转移人数 prefilled.
    assert_eq!(
        facts["transfers"]["totals"]["moved"]["persons"], 3,
        "{facts}"
    );
    let upward = facts["transfers"]["text"].as_str().expect("text");
    assert!(upward.starts_with("【初报】湖上乡人民政府"), "{upward}");
    assert_eq!(v1["relocated"], 3, "{v1}");
    assert_eq!(v1["injured"], 2);
    assert_eq!(v1["economic_loss"].as_f64(), Some(12.5));

    // One 初报 only.
    let (s, v) = app.post(&reports, json!({"kind": "initial"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Bad input names the field.
    for (body, field) in [
        (json!({"kind": "followup", "deaths": -1}), "deaths"),
        (
            json!({"kind": "followup", "economic_loss": -3.0}),
            "economic_loss",
        ),
        (json!({"kind": "followup", "injured": "许多"}), "injured"),
        (
            json!({"kind": "followup", "reporter": "王\n明"}),
            "reporter",
        ),
        (json!({"kind": "sideways"}), "kind"),
        (json!({"kind": "followup", "casualties": 3}), "casualties"),
    ] {
        let (s, v) = app.post(&reports, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }

    // An edit is version 2; version 1 stays as it was.
    let one = format!("/api/v1/incident-reports/{rid}");
    let (s, edited) = app
        .put(
            &one,
            json!({"version": 1, "deaths": 1, "missing": 0, "injured": 3, "affected": 150,
                   "houses_collapsed": 1, "houses_damaged": 4, "economic_loss": 20,
                   "situation": "更正：1人经抢救无效死亡。", "reporter": "王明", "signer": "李书记"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!(edited["version"], 2);
    let (s, got) = app.get(&one).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    let versions = got["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0], v1, "version 1 unchanged");
    assert_eq!(versions[1]["deaths"], 1);
    assert_eq!(versions[1]["injured"], 3);
    assert_eq!(versions[1]["handling"], Value::Null, "left out: empty");
    assert_eq!(
        versions[1]["facts"], v1["facts"],
        "the facts are kept unless refreshed"
    );
    // A stale version is a conflict; none given names the field.
    let (s, v) = app.put(&one, json!({"version": 1, "deaths": 5})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app.put(&one, json!({"deaths": 5})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "version");
    let (s, v) = app.put(&one, json!({"version": 2, "missing": -2})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "missing");
    let (_, still) = app.get(&one).await;
    assert_eq!(still["version"], 2, "nothing saved by a refused edit");

    // 续报 numbered; the 核报 once.
    let (s, f1) = app
        .post(&reports, json!({"kind": "followup", "deaths": 1}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f1}");
    let (s, f2) = app
        .post(&reports, json!({"kind": "followup", "deaths": 1}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{f2}");
    assert_eq!((&f1["label"], &f1["number"]), (&json!("续报一"), &json!(1)));
    assert_eq!((&f2["label"], &f2["number"]), (&json!("续报二"), &json!(2)));
    assert!(
        f1["versions"][0]["facts"]["transfers"]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("【续报】"),
        "{f1}"
    );
    let (s, ver) = app
        .post(
            &reports,
            json!({"kind": "verified", "deaths": 1, "relocated": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ver}");
    assert_eq!(ver["label"], "核报");
    assert_eq!(ver["versions"][0]["relocated"], 5, "editable");
    let (s, v) = app.post(&reports, json!({"kind": "verified"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, list) = app.get(&reports).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let labels: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["label"].as_str())
        .collect();
    assert_eq!(labels, ["初报", "续报一", "续报二", "核报"]);
    // Audited: made and edited.
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE entity = 'incident_report'")
            .fetch_one(&app.db().pool)
            .await
            .expect("audit");
    assert_eq!(n, 5, "4 made, 1 edited");

    // The .xlsx of version 1, cell by cell against the API.
    let mut wb = xlsx(&app, &format!("{one}/report.xlsx?version=1")).await;
    let rows = report_sheet(&mut wb);
    assert_eq!(text(item(&rows, "报告类别")), "初报");
    assert_eq!(num(item(&rows, "版本")), 1.0);
    for (k, field) in [
        ("死亡（人）", "deaths"),
        ("失踪（人）", "missing"),
        ("受伤（人）", "injured"),
        ("受灾人口（人）", "affected"),
        ("紧急转移人数（人）", "relocated"),
        ("倒塌房屋（间）", "houses_collapsed"),
        ("损坏房屋（间）", "houses_damaged"),
        ("直接经济损失（万元）", "economic_loss"),
    ] {
        assert_eq!(
            Some(num(item(&rows, k))),
            v1[field].as_f64(),
            "{k} against {field}"
        );
    }
    for (k, field) in [
        ("基本情况", "situation"),
        ("处置情况", "handling"),
        ("报告人", "reporter"),
        ("签发领导", "signer"),
    ] {
        assert_eq!(
            text(item(&rows, k)),
            v1[field].as_str().unwrap_or(""),
            "{k}"
        );
    }
    assert_eq!(text(item(&rows, "当前响应级别")), "Ⅳ级（蓝色）");
    assert_eq!(text(item(&rows, "群众转移")), upward);
    assert_eq!(num(item(&rows, "险情回复（条）")), 1.0);
    // Each village's answers: the summary sheet and a sheet per village.
    let h = fenghuo::workbook::HEADER_ROW;
    let summary = wb.worksheet_range("各村叫应").expect("各村叫应");
    let expected = facts["village_answers"].as_array().expect("villages");
    for (i, v) in expected.iter().enumerate() {
        let r = h + 1 + i as u32;
        let cell = |c: u32| summary.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(text(cell(0)), v["village"].as_str().unwrap_or(""));
        assert_eq!(Some(num(cell(1))), v["notices"].as_f64());
        assert_eq!(Some(num(cell(2))), v["recipients"].as_f64());
        assert_eq!(Some(num(cell(3))), v["answered"].as_f64());
        let rate = v["answer_rate"].as_f64().expect("rate");
        assert_eq!(num(cell(4)), (rate * 1000.0).round() / 10.0);
    }
    assert_eq!(summary.get_value((h + 1 + expected.len() as u32, 0)), None);
    for v in expected {
        let name = v["village"].as_str().expect("name");
        let sheet = wb.worksheet_range(name).expect("a sheet per village");
        let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        let notices = v["by_notice"].as_array().expect("by_notice");
        for (i, n) in notices.iter().enumerate() {
            let r = h + 1 + i as u32;
            assert_eq!(text(cell(r, 0)), n["title"].as_str().unwrap_or(""));
            assert!(matches!(cell(r, 1), Data::DateTime(_)), "{:?}", cell(r, 1));
            assert_eq!(Some(num(cell(r, 2))), n["recipients"].as_f64());
            assert_eq!(Some(num(cell(r, 3))), n["answered"].as_f64());
        }
        let total = h + 1 + notices.len() as u32;
        assert_eq!(text(cell(total, 0)), "合计");
        assert_eq!(Some(num(cell(total, 3))), v["answered"].as_f64());
    }
    let danger_sheet = wb.worksheet_range("险情回复").expect("险情回复");
    assert_eq!(
        danger_sheet.get_value((h + 1, 4)),
        Some(&Data::String("收到，后山有滑坡".into()))
    );
    // Without a version: the latest.
    let mut wb = xlsx(&app, &format!("{one}/report.xlsx")).await;
    let rows = report_sheet(&mut wb);
    assert_eq!(num(item(&rows, "版本")), 2.0);
    assert_eq!(num(item(&rows, "死亡（人）")), 1.0);
    assert_eq!(text(item(&rows, "处置情况")), "");

    // Roles: a viewer reads but does not write; a village user neither.
    let viewer = app.token("viewer").await;
    let (s, _) = app.send_as(&viewer, "GET", &reports, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .send_as(&viewer, "POST", &reports, Some(json!({"kind": "followup"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let scope = Scope::Village {
        township: 1,
        village: villages[1],
    };
    let (_, village_token) =
        fenghuo::auth::create_scoped_token(app.db(), "S02网格员", Role::Editor, false, &scope, 1)
            .await
            .expect("token");
    for (m, p, body) in [
        ("GET", reports.clone(), None),
        ("POST", reports.clone(), Some(json!({"kind": "followup"}))),
        ("GET", one.clone(), None),
        ("PUT", one.clone(), Some(json!({"version": 2}))),
        ("GET", format!("{one}/report.xlsx"), None),
    ] {
        let (s, v) = app.send_as(&village_token, m, &p, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {p}: {v}");
    }

    // The pages.
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let page = web.get(&format!("/incidents/{inc}")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/incidents/{inc}/reports\"")),
        "{}",
        page.body
    );
    let page = web.get(&format!("/incidents/{inc}/reports")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for want in [
        "初报",
        "续报一",
        "续报二",
        "核报",
        "S02村",
        "50%",
        "收到，后山有滑坡",
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    // The form offers the next 续报, prefilled with the figures so far.
    assert!(page.body.contains("续报三"), "{}", page.body);
    let page = web
        .get(&format!("/incidents/{inc}/reports/{rid}?v=1"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("6月12日凌晨强降雨"), "{}", page.body);
    assert!(page.body.contains("id=\"versions\""), "{}", page.body);
    assert!(page.body.contains("id=\"signatures\""), "{}", page.body);
    assert!(page.body.contains("class=\"printable"), "{}", page.body);
    assert!(page.body.contains("report.xlsx?v=1"), "{}", page.body);
    // An edit from the page: version 3; one made from version 2 after that is refused.
    let csrf = page.csrf();
    let path = format!("/incidents/{inc}/reports/{rid}");
    let form = |version: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("version", version.to_string()),
            ("deaths", "1".to_string()),
            ("injured", "4".to_string()),
            ("reporter", "王明".to_string()),
        ]
    };
    let r = post_form(&web, &path, &form("2")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, got) = app.get(&one).await;
    assert_eq!(got["version"], 3);
    assert_eq!(got["versions"][2]["injured"], 4);
    assert_eq!(got["versions"][2]["made_by"], "web:wang");
    let r = post_form(&web, &path, &form("2")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let mut bad = form("3");
    bad.push(("houses_damaged", "-1".to_string()));
    let r = post_form(&web, &path, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-houses_damaged\""), "{}", r.body);
    let r = web
        .get(&format!("/incidents/{inc}/reports/{rid}/report.xlsx"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A village user is refused the pages.
    fenghuo::accounts::users::create(app.db(), "test", "cun", Role::Editor, PASSWORD)
        .await
        .expect("user");
    sqlx::query("UPDATE users SET scope = 'village', village_id = $1 WHERE name = 'cun'")
        .bind(villages[1])
        .execute(&app.db().pool)
        .await
        .expect("village scope");
    let cun = Web::new(&app.base);
    cun.sign_in("cun", PASSWORD).await;
    for p in [
        format!("/incidents/{inc}/reports"),
        format!("/incidents/{inc}/reports/{rid}"),
    ] {
        let r = cun.get(&p).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{p}: {}", r.body);
    }
    app.stop().await;
}
both!(reports_upward);

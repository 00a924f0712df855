//! The office's lists as it keeps them in Excel: each workbook the API gives
//! (the site ledger, 隐患整改台账, 演练台账, contacts, 责任人名单, an incident's
//! 叫应 record), read back as a spreadsheet program would (calamine), holds
//! every record the API's JSON list gives the same asker, cell by cell, with
//! dates as dates and the title naming who exported it; a village's token
//! gets its village's rows; the dashboard links each beside its list.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::HashMap;

use calamine::{Data, Reader, Xlsx};
use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn the_site_ledger_exports_cell_by_cell(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.office_name = "湖上乡人民政府".into()).await
    else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "K1", "name": "坑头村", "boundary": square(118.0, 25.2, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for (k, (name, kind, grade)) in [
        ("坑头加油站", "hazchem_trade_with_storage", "significant"),
        ("坑头烟花零售点", "fireworks_retail", "general"),
        ("坑头化工仓库", "hazchem_storage", "major"),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, v) = app
            .post(
                "/api/v1/sites",
                json!({"name": name, "kind": kind, "risk_grade": grade, "location": {"lon": 118.005 + k as f64 * 0.001, "lat": 25.205},
                    "address": format!("坑头村{}号", k + 1), "safety_officer": "林安全", "safety_officer_phone": "139 5951 2468",
                    "max_stock": 20.0 + k as f64, "max_stock_unit": "吨",
                    "inventory": [{"chemical": "汽油", "max_quantity": 10.0, "unit": "吨"}],
                    "licence": {"number": format!("(闽)WH〔2025〕00{k}"), "issued_on": "2025-01-10", "expires_on": "2027-01-09"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (_, listed) = app.get("/api/v1/sites?per_page=500").await;
    let mut sites: Vec<Value> = listed["items"].as_array().expect("items").clone();
    sites.sort_by_key(|s| s["id"].as_i64());
    let resp = app
        .client
        .get(format!("{}/api/v1/sites.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.expect("bytes");
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let sheet = wb.worksheet_range("台账").expect("sheet");
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    let text = |r: u32, c: u32| match cell(r, c) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("not text at {r},{c}: {other:?}"),
    };
    assert!(text(0, 0).starts_with("湖上乡人民政府"), "{}", text(0, 0));
    assert!(
        text(1, 0).contains("test-admin") && text(1, 0).contains("共3家"),
        "{}",
        text(1, 0)
    );
    for (c, h) in fenghuo::ledger::export::headers().iter().enumerate() {
        assert_eq!(text(3, c as u32), *h);
    }
    assert_eq!(sheet.height(), 4 + sites.len(), "one row per site");
    for (i, s) in sites.iter().enumerate() {
        let r = 4 + i as u32;
        assert_eq!(cell(r, 0), Data::Float((i + 1) as f64));
        assert_eq!(text(r, 1), s["name"].as_str().unwrap_or(""));
        assert_eq!(text(r, 2), s["kind_label"].as_str().unwrap_or(""));
        assert_eq!(text(r, 3), s["credit_code"].as_str().unwrap_or(""));
        assert_eq!(text(r, 4), "坑头村");
        assert_eq!(text(r, 5), s["address"].as_str().unwrap_or(""));
        assert_eq!(text(r, 8), "139 5951 2468");
        assert_eq!(text(r, 10), s["licence"]["number"].as_str().unwrap_or(""));
        for (c, key) in [(13, "issued_on"), (14, "expires_on")] {
            match cell(r, c) {
                Data::DateTime(d) => {
                    // Excel counts days from 1899-12-30.
                    let want = chrono::NaiveDate::parse_from_str(
                        s["licence"][key].as_str().unwrap_or(""),
                        "%Y-%m-%d",
                    )
                    .expect("date")
                    .signed_duration_since(
                        chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("epoch"),
                    )
                    .num_days() as f64;
                    assert_eq!(d.as_f64(), want, "{key}");
                }
                other => panic!("{key} is not a date: {other:?}"),
            }
        }
        assert_eq!(
            cell(r, 15),
            Data::Float(s["max_stock"].as_f64().unwrap_or(-1.0))
        );
        assert_eq!(text(r, 16), "吨");
        assert_eq!(text(r, 17), "汽油 10吨");
        let grade = match s["risk_grade"].as_str() {
            Some("major") => "重大",
            Some("significant") => "较大",
            _ => "一般",
        };
        assert_eq!(text(r, 18), grade);
        assert_eq!(text(r, 19), "在营");
    }
    // The dashboard's list links the same workbook.
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "wang",
        fenghuo::auth::Role::Viewer,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("wang", "correct-horse-9").await;
    assert!(
        web.get("/sites")
            .await
            .body
            .contains("href=\"/sites.xlsx\"")
    );
    let x = web.get("/sites.xlsx").await;
    assert_eq!(x.status, StatusCode::OK);
    app.stop().await;
}
both!(the_site_ledger_exports_cell_by_cell);

// ---------------------------------------------------------------------------
// The other lists: each workbook read back and compared, cell by cell, with
// the JSON list the API gives for the same asker.

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const OFFICE: &str = "湖上乡人民政府";

/// What a cell must hold, taken from the JSON list.
#[derive(Debug)]
enum Want {
    /// Text; empty: an empty cell.
    T(String),
    N(f64),
    /// A number or an empty cell.
    OptN(Option<f64>),
    /// `YYYY-MM-DD` as an Excel date; empty: an empty cell.
    D(String),
    /// An RFC 3339 time as an Excel date-time at its wall-clock time.
    At(String),
}

fn s(v: &Value) -> Want {
    Want::T(v.as_str().unwrap_or("").trim().to_string())
}

fn d(v: &Value) -> Want {
    Want::D(v.as_str().unwrap_or("").to_string())
}

fn at(v: &Value) -> Want {
    Want::At(v.as_str().unwrap_or("").to_string())
}

fn excel_epoch() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .expect("epoch")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
}

/// The workbook at `path` as `token` downloads it (200, the xlsx type).
async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(XLSX_TYPE),
        "{path}"
    );
    resp.bytes().await.expect("bytes").to_vec()
}

/// The workbook's one sheet `list` holds the title, the exported-by line,
/// `headers`, and exactly `rows`, cell by cell.
fn check_sheet(bytes: &[u8], list: &str, by: &str, headers: &[&str], rows: &[Vec<Want>]) {
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let sheet = wb.worksheet_range(list).expect("sheet");
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    assert_eq!(cell(0, 0), Data::String(format!("{OFFICE} {list}")));
    match cell(1, 0) {
        Data::String(line) => assert!(
            line.starts_with("导出：")
                && line.contains(by)
                && line.contains(&format!("共{}", rows.len())),
            "{line}"
        ),
        other => panic!("no exported-by line: {other:?}"),
    }
    for (c, h) in headers.iter().enumerate() {
        assert_eq!(
            cell(3, c as u32),
            Data::String(h.to_string()),
            "{list} header {c}"
        );
    }
    assert_eq!(sheet.height(), 4 + rows.len(), "{list}: one row per record");
    for (i, row) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        assert_eq!(row.len(), headers.len(), "{list}: a cell per column");
        assert_eq!(cell(r, 0), Data::Float((i + 1) as f64), "{list} 序号");
        for (c, want) in row.iter().enumerate().skip(1) {
            let got = cell(r, c as u32);
            let here = format!("{list} row {i} column {} ({})", c, headers[c]);
            match want {
                Want::T(t) if t.is_empty() => assert!(
                    matches!(&got, Data::Empty) || got == Data::String(String::new()),
                    "{here}: {got:?}"
                ),
                Want::T(t) => assert_eq!(got, Data::String(t.clone()), "{here}"),
                Want::N(n) => assert_eq!(got, Data::Float(*n), "{here}"),
                Want::OptN(None) => assert_eq!(got, Data::Empty, "{here}"),
                Want::OptN(Some(n)) => assert_eq!(got, Data::Float(*n), "{here}"),
                Want::D(t) if t.is_empty() => assert_eq!(got, Data::Empty, "{here}"),
                Want::D(t) => match got {
                    Data::DateTime(x) => {
                        let day = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").expect("date");
                        let want =
                            (day.and_hms_opt(0, 0, 0).expect("t") - excel_epoch()).num_days();
                        assert_eq!(x.as_f64(), want as f64, "{here}");
                    }
                    other => panic!("{here}: not a date: {other:?}"),
                },
                Want::At(t) if t.is_empty() => assert_eq!(got, Data::Empty, "{here}"),
                Want::At(t) => match got {
                    Data::DateTime(x) => {
                        let local = chrono::DateTime::parse_from_rfc3339(t)
                            .expect("rfc3339")
                            .naive_local();
                        let want = (local - excel_epoch()).num_seconds();
                        assert_eq!((x.as_f64() * 86_400.0).round() as i64, want, "{here}");
                    }
                    other => panic!("{here}: not a date-time: {other:?}"),
                },
            }
        }
    }
}

async fn created(app: &TestApp, path: &str, body: Value) -> i64 {
    let (s, v) = app.post(path, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_i64().expect("id")
}

async fn village_token(app: &TestApp, village: i64) -> String {
    let (s, v) = app
        .post(
            "/api/v1/tokens",
            json!({"name": "村级查看", "role": "viewer", "scope": "village", "village_id": village}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().expect("token").to_string()
}

async fn listed(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let (s, v) = app.send_as(token, "GET", path, None).await;
    assert_eq!(s, StatusCode::OK, "{path}: {v}");
    v["items"].as_array().expect("items").clone()
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn finding_rows(items: &[Value]) -> Vec<Vec<Want>> {
    items
        .iter()
        .map(|f| {
            let content = match f["description"].as_str() {
                Some(d) if !d.is_empty() => format!("{}：{d}", f["item"].as_str().unwrap_or("")),
                _ => f["item"].as_str().unwrap_or("").to_string(),
            };
            let inspectors: Vec<&str> = f["inspectors"]
                .as_array()
                .expect("inspectors")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            vec![
                Want::N(0.0),
                s(&f["site_name"]),
                s(&f["village"]),
                d(&f["inspected_on"]),
                Want::T(inspectors.join("、")),
                Want::T(content),
                s(&f["grade_label"]),
                s(&f["measures"]),
                s(&f["funding"]),
                s(&f["responsible"]),
                d(&f["deadline"]),
                s(&f["reinspector"]),
                s(&f["status_label"]),
                d(&f["rectified_on"]),
                d(&f["closed_on"]),
                s(&f["closed_by"]),
            ]
        })
        .collect()
}

fn contact_rows(items: &[Value], villages: &HashMap<i64, &str>) -> Vec<Vec<Want>> {
    items
        .iter()
        .map(|c| {
            let roles: Vec<&str> = c["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let village = c["village_id"]
                .as_i64()
                .map_or("乡级", |v| villages.get(&v).copied().unwrap_or("?"));
            let state = if c["archived"] == true {
                "已归档"
            } else if c["active"] == true {
                "在用"
            } else {
                "停用"
            };
            vec![
                Want::N(0.0),
                s(&c["name"]),
                Want::T(village.into()),
                Want::T(roles.join("、")),
                Want::T(fenghuo::phone::dialled(c["phone"].as_str().unwrap_or(""))),
                s(&c["email"]),
                Want::N(c["escalation_order"].as_f64().expect("order")),
                Want::T(state.into()),
                s(&c["note"]),
            ]
        })
        .collect()
}

fn responsible_rows(items: &[Value]) -> Vec<Vec<Want>> {
    items
        .iter()
        .map(|p| {
            let mut row = vec![Want::N(0.0)];
            for k in ["village", "category", "area", "name", "title", "phone"] {
                row.push(s(&p[k]));
            }
            row
        })
        .collect()
}

fn drill_rows(items: &[Value]) -> Vec<Vec<Want>> {
    items
        .iter()
        .map(|r| {
            let people: Vec<&str> = r["participants"]
                .as_array()
                .expect("participants")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            vec![
                Want::N(0.0),
                s(&r["drill_title"]),
                s(&r["plan"]),
                d(&r["held_on"]),
                at(&r["notice_at"]),
                s(&r["organiser"]),
                Want::T(people.join("、")),
                Want::N(r["participant_count"].as_f64().expect("count")),
                Want::OptN(r["duration_minutes"].as_f64()),
                Want::OptN(
                    r["answer_rate"]
                        .as_f64()
                        .map(|x| (x * 1000.0).round() / 10.0),
                ),
                Want::OptN(r["mean_answer_minutes"].as_f64()),
                s(&r["problems"]),
                s(&r["follow_up"]),
                s(&r["recorded_by"]),
            ]
        })
        .collect()
}

fn headers_of(columns: &[(&'static str, f64)]) -> Vec<&'static str> {
    fenghuo::workbook::headers(columns)
}

async fn the_registers_export_cell_by_cell(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.office_name = OFFICE.into()).await else {
        return;
    };
    let k1 = created(
        &app,
        "/api/v1/villages",
        json!({"code": "K1", "name": "坑头村", "boundary": square(118.0, 25.2, 0.02)}),
    )
    .await;
    let k2 = created(
        &app,
        "/api/v1/villages",
        json!({"code": "K2", "name": "岭下村", "boundary": square(118.1, 25.2, 0.02)}),
    )
    .await;
    let villages: HashMap<i64, &str> = [(k1, "坑头村"), (k2, "岭下村")].into_iter().collect();

    // Contacts with roles, in both villages and at township level.
    let secretary = created(&app, "/api/v1/contacts", json!({"name": "林支书", "roles": ["村支书"], "village_id": k1, "phone": "139 5951 2468", "email": "lin@example.cn", "escalation_order": 1})).await;
    let head = created(&app, "/api/v1/contacts", json!({"name": "林主任", "roles": ["村主任"], "village_id": k1, "phone": "13959510002", "escalation_order": 2})).await;
    let monitor = created(&app, "/api/v1/contacts", json!({"name": "陈监测", "roles": ["山洪监测员", "网格员"], "village_id": k1, "phone": "13959510003", "escalation_order": 3, "note": "后山组"})).await;
    created(&app, "/api/v1/contacts", json!({"name": "停用员", "roles": ["网格员"], "village_id": k1, "phone": "13959510004", "active": false})).await;
    created(
        &app,
        "/api/v1/contacts",
        json!({"name": "王支书", "roles": ["村支书"], "village_id": k2, "phone": "13959520001"}),
    )
    .await;
    created(&app, "/api/v1/contacts", json!({"name": "包村干部郑", "roles": ["包村干部"], "village_id": k2, "phone": "13959520002"})).await;
    created(
        &app,
        "/api/v1/contacts",
        json!({"name": "值班员", "roles": ["应急办值班"], "phone": "13900001234"}),
    )
    .await;
    // A danger zone with its three people.
    created(
        &app,
        "/api/v1/danger-zones",
        json!({"code": "K1-SH-01", "name": "后山山洪危险区", "village_id": k1, "kind": "山洪",
            "geometry": {"type": "Point", "coordinates": [118.005, 25.205]},
            "monitor_id": monitor, "warner_id": head, "leader_id": secretary}),
    )
    .await;

    // Sites with inspections: one finding overdue, one closed, one major open.
    let mut sites = Vec::new();
    for (name, village) in [("坑头烟花零售点", k1), ("岭下加油站", k2)] {
        sites.push(
            created(
                &app,
                "/api/v1/sites",
                json!({"name": name, "kind": "fireworks_retail", "risk_grade": "general", "village_id": village,
                    "location": {"lon": if village == k1 { 118.005 } else { 118.105 }, "lat": 25.205}}),
            )
            .await,
        );
    }
    let day = |n: i64| (today() - chrono::Duration::days(n)).to_string();
    let team = app.inspectors(&["张检查", "李安监", "王检查"]).await;
    let (st, insp) = app
        .post(
            &format!("/api/v1/sites/{}/inspections", sites[0]),
            json!({"inspected_on": day(30), "inspector_ids": [team[0], team[1]], "findings": [
                {"grade": "general", "item": "灭火器过期", "description": "两具干粉灭火器压力不足", "measures": "更换灭火器",
                 "funding": "200元", "responsible": "林老板", "deadline": day(10), "reinspector": "张检查"},
                {"grade": "major", "item": "超量储存", "measures": "清退超量产品", "responsible": "林老板", "deadline": day(20)}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{insp}");
    let closed = &insp["findings"][1];
    let (st, v) = app
        .post(
            &format!("/api/v1/findings/{}/rectify", closed["id"]),
            json!({"version": closed["version"], "rectified_on": day(25), "note": "已清退"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = app
        .post(
            &format!("/api/v1/findings/{}/close", closed["id"]),
            json!({"version": v["version"], "closed_on": day(22), "closed_by": "张检查"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = app
        .post(
            &format!("/api/v1/sites/{}/inspections", sites[1]),
            json!({"inspected_on": day(1), "inspector_ids": [team[2], team[0]], "findings": [
                {"grade": "major", "item": "油罐区无防雷检测", "deadline": day(-30)}]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // 隐患整改台账.
    let findings = listed(&app, &app.admin, "/api/v1/findings?per_page=500").await;
    assert_eq!(findings.len(), 3);
    let labels: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["status_label"].as_str())
        .collect();
    assert_eq!(
        labels,
        ["整改中（逾期）", "已销号", "整改中"],
        "{findings:?}"
    );
    let cols = headers_of(fenghuo::ledger::rectifications::COLUMNS);
    let bytes = download(&app, &app.admin, "/api/v1/findings.xlsx").await;
    check_sheet(
        &bytes,
        "隐患整改台账",
        "test-admin",
        &cols,
        &finding_rows(&findings),
    );
    // Filters: the overdue ones, the major ones, in the list and the workbook alike.
    let overdue = listed(&app, &app.admin, "/api/v1/findings?status=overdue").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["overdue"], true);
    let bytes = download(&app, &app.admin, "/api/v1/findings.xlsx?status=overdue").await;
    check_sheet(
        &bytes,
        "隐患整改台账",
        "test-admin",
        &cols,
        &finding_rows(&overdue),
    );
    let major = listed(&app, &app.admin, "/api/v1/findings?grade=major").await;
    assert_eq!(major.len(), 2);
    let (st, v) = app.get("/api/v1/findings?status=late").await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        "{v}"
    );

    // Contacts, with and without a filter.
    let ccols = headers_of(fenghuo::registry::export::COLUMNS);
    let contacts = listed(&app, &app.admin, "/api/v1/contacts?per_page=500").await;
    assert_eq!(contacts.len(), 7);
    let bytes = download(&app, &app.admin, "/api/v1/contacts.xlsx").await;
    check_sheet(
        &bytes,
        "通讯录",
        "test-admin",
        &ccols,
        &contact_rows(&contacts, &villages),
    );
    let heads = listed(
        &app,
        &app.admin,
        "/api/v1/contacts?role=村支书&per_page=500",
    )
    .await;
    assert_eq!(heads.len(), 2);
    let bytes = download(
        &app,
        &app.admin,
        "/api/v1/contacts.xlsx?role=%E6%9D%91%E6%94%AF%E4%B9%A6",
    )
    .await;
    check_sheet(
        &bytes,
        "通讯录",
        "test-admin",
        &ccols,
        &contact_rows(&heads, &villages),
    );

    // 责任人名单: role holders per village and the zone's three people.
    let rcols = headers_of(fenghuo::registry::responsible::COLUMNS);
    let people = listed(&app, &app.admin, "/api/v1/responsible-persons").await;
    let lines: Vec<(String, String, String)> = people
        .iter()
        .map(|p| {
            (
                p["village"].as_str().unwrap_or("").to_string(),
                p["category"].as_str().unwrap_or("").to_string(),
                p["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("坑头村", "村支书", "林支书"),
        ("坑头村", "村主任", "林主任"),
        ("坑头村", "山洪监测员", "陈监测"),
        ("坑头村", "网格员", "陈监测"),
        ("坑头村", "危险区监测员", "陈监测"),
        ("坑头村", "危险区预警员", "林主任"),
        ("坑头村", "转移责任人", "林支书"),
        ("岭下村", "村支书", "王支书"),
        ("岭下村", "包村干部", "包村干部郑"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(
        lines, want,
        "the inactive 网格员 and the duty officer are not listed"
    );
    assert_eq!(people[4]["area"], "后山山洪危险区（K1-SH-01）");
    assert_eq!(people[0]["phone"], "139 5951 2468");
    let bytes = download(&app, &app.admin, "/api/v1/responsible-persons.xlsx").await;
    check_sheet(
        &bytes,
        "责任人名单",
        "test-admin",
        &rcols,
        &responsible_rows(&people),
    );

    // 演练台账: a drill of 坑头村 run as an exercise notice, answered by one of
    // two, and recorded.
    let at = (today() + chrono::Duration::days(3))
        .format("%Y-%m-%dT09:00")
        .to_string();
    let drill = created(&app, "/api/v1/drills", json!({"title": "山洪转移演练", "at": at, "villages": [k1], "roles": ["村支书", "村主任"], "lead_times": ["1d"]})).await;
    let (st, started) = app
        .post(
            &format!("/api/v1/drills/{drill}/start"),
            json!({"ack_within_minutes": 10}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{started}");
    let alert = started["alert_id"].as_i64().expect("alert");
    let tok = app.token_of(alert, secretary).await;
    let r = app
        .client
        .post(format!("{}/a/{tok}", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    let held = today().to_string();
    let (st, rec) = app
        .post(&format!("/api/v1/drills/{drill}/records"), json!({"held_on": held, "participants": ["林支书", "林主任", "陈监测"], "duration_minutes": 45, "problems": "一人未及时回复", "follow_up": "加强值守"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{rec}");
    let records = listed(&app, &app.admin, "/api/v1/drill-records").await;
    assert_eq!(records.len(), 1);
    let r0 = &records[0];
    assert_eq!(
        (r0["drill_title"].as_str(), r0["participant_count"].as_i64()),
        (Some("山洪转移演练"), Some(3))
    );
    assert_eq!(r0["answer_rate"].as_f64(), Some(0.5), "{r0}");
    assert_eq!(
        r0["organiser"].as_str(),
        Some(app.cfg.township_name.as_str())
    );
    assert!(r0["notice_at"].is_string(), "{r0}");
    let dcols = headers_of(fenghuo::drills::ledger::COLUMNS);
    let bytes = download(&app, &app.admin, "/api/v1/drill-records.xlsx").await;
    check_sheet(
        &bytes,
        "演练台账",
        "test-admin",
        &dcols,
        &drill_rows(&records),
    );

    // A village's token: its village's rows only, in the lists and the workbooks.
    let k2_token = village_token(&app, k2).await;
    let mine = listed(&app, &k2_token, "/api/v1/findings").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["village"], "岭下村");
    let bytes = download(&app, &k2_token, "/api/v1/findings.xlsx").await;
    check_sheet(
        &bytes,
        "隐患整改台账",
        "村级查看",
        &cols,
        &finding_rows(&mine),
    );
    let mine = listed(&app, &k2_token, "/api/v1/contacts?per_page=500").await;
    assert_eq!(mine.len(), 2);
    let bytes = download(&app, &k2_token, "/api/v1/contacts.xlsx").await;
    check_sheet(
        &bytes,
        "通讯录",
        "村级查看",
        &ccols,
        &contact_rows(&mine, &villages),
    );
    let mine = listed(&app, &k2_token, "/api/v1/responsible-persons").await;
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|p| p["village"] == "岭下村"), "{mine:?}");
    let bytes = download(&app, &k2_token, "/api/v1/responsible-persons.xlsx").await;
    check_sheet(
        &bytes,
        "责任人名单",
        "村级查看",
        &rcols,
        &responsible_rows(&mine),
    );
    // The drill was 坑头村's: not on 岭下村's ledger.
    assert!(
        listed(&app, &k2_token, "/api/v1/drill-records")
            .await
            .is_empty()
    );
    let bytes = download(&app, &k2_token, "/api/v1/drill-records.xlsx").await;
    check_sheet(&bytes, "演练台账", "村级查看", &dcols, &[]);
    let k1_token = village_token(&app, k1).await;
    assert_eq!(
        listed(&app, &k1_token, "/api/v1/drill-records").await.len(),
        1
    );

    // The dashboard links each workbook beside its list.
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "wang",
        fenghuo::auth::Role::Viewer,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("wang", "correct-horse-9").await;
    for (page, href) in [
        ("/worklist", "/findings.xlsx"),
        ("/sites", "/findings.xlsx"),
        ("/drills", "/drill-records.xlsx"),
        ("/contacts", "/contacts.xlsx"),
        ("/contacts", "/responsible-persons.xlsx"),
        ("/contacts/chain", "/responsible-persons.xlsx"),
    ] {
        let body = web.get(page).await.body;
        assert!(
            body.contains(&format!("href=\"{href}\"")),
            "{page} links {href}"
        );
        let x = web.get(href).await;
        assert_eq!(x.status, StatusCode::OK, "{href}");
        assert_eq!(
            x.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some(XLSX_TYPE),
            "{href}"
        );
    }
    // The contacts' link keeps the list's filters.
    let body = web.get(&format!("/contacts?village_id={k2}")).await.body;
    assert!(
        body.contains(&format!("href=\"/contacts.xlsx?village_id={k2}\"")),
        "filtered export link"
    );
    app.stop().await;
}
both!(the_registers_export_cell_by_cell);

const HOOK_SECRET: &str = "hook-secret";

const PLAN: &str = r#"id = "flood-x"
title = "湖上乡防汛预案"
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
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 30 }]

[[levels]]
level = 3
conditions = ["1小时降雨30毫米"]
lead = "乡长"
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 20 }]

[[levels]]
level = 2
conditions = ["1小时降雨40毫米"]
lead = "乡长"
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 10 }]

[[levels]]
level = 1
conditions = ["1小时降雨50毫米"]
lead = "乡长"
notify = [{ roles = ["村支书", "村主任"], template = "t", ack_within_minutes = 5 }]
"#;

/// One signed inbound SMS through the webhook provider, as the gateway sends it.
async fn sms_from(app: &TestApp, national: &str, text: &str) {
    let body =
        json!({"from": format!("+86{national}"), "text": text, "note": "m-exports-1"}).to_string();
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

fn call_rows(items: &[Value]) -> Vec<Vec<Want>> {
    items
        .iter()
        .map(|c| {
            let channels: Vec<&str> = c["channels"]
                .as_array()
                .expect("channels")
                .iter()
                .map(|x| match x.as_str() {
                    Some("sms") => "短信",
                    Some("email") => "邮件",
                    _ => "其他",
                })
                .collect();
            let told: Vec<String> = c["escalated_to"]
                .as_array()
                .expect("escalated_to")
                .iter()
                .map(|e| {
                    let at = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at"))
                        .expect("time")
                        .format("%Y-%m-%d %H:%M");
                    format!("{} {at}", e["name"].as_str().unwrap_or(""))
                })
                .collect();
            vec![
                Want::N(0.0),
                s(&c["notice"]),
                at(&c["sent_at"]),
                s(&c["village"]),
                s(&c["name"]),
                s(&c["title"]),
                s(&c["phone"]),
                Want::T(channels.join("、")),
                s(&c["delivery_label"]),
                at(&c["answered_at"]),
                Want::OptN(c["answer_minutes"].as_f64()),
                s(&c["via_label"]),
                Want::T(told.join("；")),
            ]
        })
        .collect()
}

async fn an_incidents_calls_export_cell_by_cell(b: Backend) {
    let plans = tempfile::tempdir().expect("tempdir");
    std::fs::write(plans.path().join("flood-x.toml"), PLAN).expect("plan");
    let dir = plans.path().to_path_buf();
    let Some(app) = TestApp::start_with(b, |c| {
        c.office_name = OFFICE.into();
        c.plans_dir = dir;
        c.sms.webhook.secret = HOOK_SECRET.into();
    })
    .await
    else {
        return;
    };
    let s1 = created(
        &app,
        "/api/v1/villages",
        json!({"code": "S1", "name": "坑头村", "boundary": square(118.0, 25.2, 0.01)}),
    )
    .await;
    let s2 = created(
        &app,
        "/api/v1/villages",
        json!({"code": "S2", "name": "岭下村", "boundary": square(118.1, 25.2, 0.01)}),
    )
    .await;
    let a = created(&app, "/api/v1/contacts", json!({"name": "林支书", "roles": ["村支书"], "village_id": s1, "phone": "13959510001", "escalation_order": 1})).await;
    created(&app, "/api/v1/contacts", json!({"name": "林主任", "roles": ["村主任"], "village_id": s1, "phone": "13959510002", "escalation_order": 2})).await;
    created(&app, "/api/v1/contacts", json!({"name": "王支书", "roles": ["村支书"], "village_id": s2, "phone": "13959520001", "escalation_order": 1})).await;
    created(
        &app,
        "/api/v1/contacts",
        json!({"name": "值班员", "roles": ["应急办值班"], "phone": "13900001234"}),
    )
    .await;
    // The plan is read once its villages exist.
    let (st, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["plans"], json!(["flood-x"]), "{r}");

    let (st, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-x", "level": 4, "villages": ["S1", "S2"], "note": "暴雨"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{inc}");
    let id = inc["id"].as_i64().expect("id");
    let alert = inc["alerts"][0].as_i64().expect("alert");
    app.wait_alert(alert, 20, |v| v["delivery_states"]["sent"] == 3)
        .await;
    // 林支书 answers by the link, 王支书 by SMS, 林主任 stays silent and the
    // duty officer is told.
    let tok = app.token_of(alert, a).await;
    let r = app
        .client
        .post(format!("{}/a/{tok}", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    sms_from(&app, "13959520001", "收到").await;
    let fired = fenghuo::notify::response::escalation::tick(
        &app.notifier(),
        fenghuo::store::now_ms() + 31 * 60_000,
    )
    .await
    .expect("escalate");
    assert_eq!(fired, 1);
    app.wait_alert(alert, 20, |v| {
        v["delivery_states"]["queued"] == 0 && v["delivery_states"]["sending"] == 0
    })
    .await;

    let calls = listed(&app, &app.admin, &format!("/api/v1/incidents/{id}/calls")).await;
    let by_name = |n: &str| {
        calls
            .iter()
            .find(|c| c["name"] == n)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(
        (
            by_name("林支书")["via_label"].as_str(),
            by_name("林支书")["delivery_label"].as_str()
        ),
        (Some("链接"), Some("已送达"))
    );
    assert_eq!(by_name("王支书")["via_label"], "回复短信");
    assert!(by_name("王支书")["answer_minutes"].as_f64().is_some());
    let silent = by_name("林主任");
    assert_eq!(silent["answered_at"], Value::Null);
    assert_eq!(silent["escalated_to"][0]["name"], "值班员", "{silent}");
    assert_eq!(
        (
            by_name("值班员")["village"].as_str(),
            by_name("值班员")["reason"].as_str()
        ),
        (Some("乡级"), Some("escalation"))
    );
    assert_eq!(by_name("林支书")["title"], "村支书");
    assert_eq!(by_name("林支书")["channels"], json!(["sms"]));
    let cols = headers_of(fenghuo::incidents::calls::COLUMNS);
    let list = format!("事件{id}叫应记录");
    let bytes = download(
        &app,
        &app.admin,
        &format!("/api/v1/incidents/{id}/calls.xlsx"),
    )
    .await;
    check_sheet(&bytes, &list, "test-admin", &cols, &call_rows(&calls));

    // 岭下村's token: its own people only.
    let s2_token = village_token(&app, s2).await;
    let mine = listed(&app, &s2_token, &format!("/api/v1/incidents/{id}/calls")).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["name"], "王支书");
    let bytes = download(
        &app,
        &s2_token,
        &format!("/api/v1/incidents/{id}/calls.xlsx"),
    )
    .await;
    check_sheet(&bytes, &list, "村级查看", &cols, &call_rows(&mine));
    let (st, _) = app.get("/api/v1/incidents/999999/calls").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The incident page links the workbook.
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "wang",
        fenghuo::auth::Role::Viewer,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("wang", "correct-horse-9").await;
    let href = format!("/incidents/{id}/calls.xlsx");
    assert!(
        web.get(&format!("/incidents/{id}"))
            .await
            .body
            .contains(&format!("href=\"{href}\""))
    );
    let x = web.get(&href).await;
    assert_eq!(x.status, StatusCode::OK);
    assert_eq!(
        x.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(XLSX_TYPE)
    );
    app.stop().await;
    drop(plans);
}
both!(an_incidents_calls_export_cell_by_cell);

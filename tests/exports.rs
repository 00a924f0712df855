//! The ledger as the office keeps it in Excel: the workbook the API gives,
//! read back as a spreadsheet program would (calamine), holds every site the
//! API lists, cell by cell, with dates as dates and the title naming who
//! exported it.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

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

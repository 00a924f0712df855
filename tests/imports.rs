//! Importing the office's Excel and CSV lists: a 2,000-row sites workbook
//! with five bad rows is previewed with exactly those five problems (row
//! and column) and writes nothing until confirmed; the good rows imported;
//! the same file twice changes nothing; an exported ledger reads back
//! unchanged; contacts from a workbook LibreOffice made from a CSV; villages
//! and findings; who may import; the dashboard's upload, preview and
//! confirmation.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::BTreeSet;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use rust_xlsxwriter::{ExcelDateTime, Workbook};
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-9";

/// A valid unified social credit code numbered `n`.
fn credit_code(n: usize) -> String {
    let body = format!("91350524MA{n:07}");
    let check = fenghuo::ledger::sites::credit_code_check(&body).expect("check");
    format!("{body}{check}")
}

const SITE_HEADERS: [&str; 13] = [
    "单位名称*",
    "类型",
    "统一社会信用代码",
    "所属村",
    "地址",
    "安全负责人",
    "安全负责人电话",
    "许可证号",
    "发证日期",
    "有效期至",
    "核定储存量",
    "单位",
    "储存品种及最大储存量",
];

/// The sites workbook: header on row 1, `n` sites below; `bad` changes a
/// row's cells before it is written (index from 0).
fn sites_workbook(n: usize, bad: impl Fn(usize, &mut Vec<String>)) -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in SITE_HEADERS.iter().chain(["风险等级"].iter()).enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    let issued = ExcelDateTime::from_ymd(2025, 1, 10).expect("date");
    let day = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    for i in 0..n {
        let mut cells = vec![
            format!("湖上测试单位{i:04}"),
            if i % 3 == 0 {
                "烟花爆竹零售"
            } else {
                "危化品经营（带储存）"
            }
            .to_string(),
            credit_code(i),
            "坑头村".to_string(),
            format!("坑头村{}号", i + 1),
            "陈安全".to_string(),
            format!("139 5951 {:04}", i),
            format!("(闽)WH〔2025〕{i:04}"),
            String::new(), // the issue date is an Excel date, below
            "2026/12/31".to_string(),
            "30".to_string(),
            "吨".to_string(),
            "汽油 8006-61-9 UN1203 20吨；柴油 10吨".to_string(),
            "一般".to_string(),
        ];
        bad(i, &mut cells);
        let r = i as u32 + 1;
        for (c, v) in cells.iter().enumerate() {
            if c == 8 {
                ws.write_datetime_with_format(r, 8, &issued, &day)
                    .expect("date");
            } else if c == 10 {
                ws.write_number(r, 10, v.parse::<f64>().expect("number"))
                    .expect("cell");
            } else {
                ws.write_string(r, c as u16, v).expect("cell");
            }
        }
    }
    wb.save_to_buffer().expect("workbook")
}

/// Where a preview's problems are: (row, column).
fn problem_cells(p: &Value) -> Vec<(u64, String)> {
    p["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|x| {
            (
                x["row"].as_u64().unwrap_or(0),
                x["column"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn post_file(
    app: &TestApp,
    token: &str,
    path: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!("{}{path}", app.base))
        .query(&[("file", name)])
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("post");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn village(app: &TestApp, code: &str, name: &str, lon: f64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": name, "boundary": square(lon, 25.2, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

async fn sites_total(app: &TestApp) -> i64 {
    let (_, v) = app.get("/api/v1/sites?per_page=1").await;
    v["total"].as_i64().expect("total")
}

async fn two_thousand_sites_with_five_bad_rows(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let kengtou = village(&app, "K1", "坑头村", 118.0).await;
    // Five bad rows (spreadsheet rows: data index + 2).
    let bytes = sites_workbook(2000, |i, c| match i {
        100 => {
            let good = credit_code(100);
            let wrong = if good.ends_with('0') { '1' } else { '0' };
            c[2] = format!("{}{wrong}", &good[..17]);
        }
        500 => c[6] = "12345".into(),
        900 => c[9] = "明年".into(),
        1300 => c[3] = "不存在村".into(),
        1999 => c[13] = "很高".into(),
        _ => {}
    });
    let (s, p) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites/preview",
        "台账.xlsx",
        bytes.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["counts"]["rows"], 2000);
    assert_eq!(p["counts"]["create"], 1995, "{}", p["problems"]);
    assert_eq!(p["counts"]["refused"], 5);
    assert_eq!(p["header_row"], 1);
    let problems: BTreeSet<(u64, String)> = problem_cells(&p).into_iter().collect();
    let want: BTreeSet<(u64, String)> = [
        (102, "统一社会信用代码"),
        (502, "安全负责人电话"),
        (902, "有效期至"),
        (1302, "所属村"),
        (2001, "风险等级"),
    ]
    .into_iter()
    .map(|(r, c)| (r, c.to_string()))
    .collect();
    assert_eq!(problems, want, "{}", p["problems"]);
    for x in p["problems"].as_array().expect("problems") {
        let m = x["message"].as_str().unwrap_or("");
        assert!(
            m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "a message in Chinese: {m}"
        );
    }
    // A row as it will be stored: the Excel date read as a date, the
    // village by its name, the inventory's lines.
    let row2 = &p["rows"][0];
    assert_eq!(row2["row"], 2);
    assert_eq!(row2["action"], "create");
    let value = |r: &Value, col: &str| {
        r["values"]
            .as_array()
            .expect("values")
            .iter()
            .find(|v| v["column"] == col)
            .map(|v| v["value"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert_eq!(value(row2, "发证日期"), "2025-01-10");
    assert_eq!(value(row2, "有效期至"), "2026-12-31");
    assert_eq!(value(row2, "所属村"), "坑头村");
    assert_eq!(value(row2, "安全负责人电话"), "139 5951 0000");
    assert_eq!(sites_total(&app).await, 0, "a preview writes nothing");

    // Confirmed with problems in it: nothing is written.
    let (s, e) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites",
        "台账.xlsx",
        bytes.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["field"], "file");
    assert_eq!(sites_total(&app).await, 0);

    // Only the good rows: 1,995 sites, the five listed as left out.
    let (s, o) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites?only_good=true",
        "台账.xlsx",
        bytes.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["counts"]["create"], 1995);
    assert_eq!(o["skipped_rows"], json!([102, 502, 902, 1302, 2001]));
    assert_eq!(sites_total(&app).await, 1995);
    let (_, found) = app
        .get(&format!("/api/v1/sites?q={}", "湖上测试单位0007"))
        .await;
    let site = &found["items"][0];
    assert_eq!(site["credit_code"], credit_code(7));
    assert_eq!(site["village_id"], kengtou);
    assert_eq!(site["safety_officer_phone"], "+8613959510007");
    assert_eq!(site["licence"]["issued_on"], "2025-01-10");
    assert_eq!(site["licence"]["expires_on"], "2026-12-31");
    assert_eq!(site["max_stock"], 30.0);
    assert_eq!(site["inventory"][0]["cas"], "8006-61-9");
    assert_eq!(site["inventory"][0]["un_number"], "UN1203");
    assert_eq!(site["inventory"][1]["chemical"], "柴油");
    assert_eq!(site["kind"], "hazchem_trade_with_storage");
    // One audit entry, naming the file and its hash.
    let (_, audit) = app.get("/api/v1/audit?action=import").await;
    assert_eq!(audit["total"], 1, "{audit}");
    let entry = &audit["items"][0];
    assert_eq!(entry["after"]["file"], "台账.xlsx");
    assert_eq!(entry["after"]["sha256"], p["sha256"]);
    assert_eq!(entry["after"]["created"], 1995);

    // The same file again changes nothing.
    let (s, again) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites?only_good=true",
        "台账.xlsx",
        bytes.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["counts"]["create"], 0);
    assert_eq!(again["counts"]["update"], 0);
    assert_eq!(again["counts"]["unchanged"], 1995);
    assert_eq!(sites_total(&app).await, 1995);
    let (_, v7) = app.get(&format!("/api/v1/sites/{}", site["id"])).await;
    assert_eq!(
        v7["version"], site["version"],
        "an unchanged row is not rewritten"
    );

    // The exported ledger reads back as it is.
    let resp = app
        .client
        .get(format!("{}/api/v1/sites.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("export");
    let exported = resp.bytes().await.expect("bytes").to_vec();
    let (s, back) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites/preview",
        "sites.xlsx",
        exported,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["header_row"], 4, "below the export's title rows");
    assert_eq!(back["counts"]["unchanged"], 1995, "{}", back["problems"]);
    assert_eq!(back["counts"]["refused"], 0, "{}", back["problems"]);

    // A file changing one cell updates that site and keeps the rest.
    let one = sites_workbook(8, |i, c| {
        if i == 7 {
            c[6] = "138 0013 8000".into();
            c[12] = "汽油 25吨；柴油 10吨".into();
        }
    });
    let (s, o) = post_file(&app, &app.admin, "/api/v1/imports/sites", "更正.xlsx", one).await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(
        (
            o["counts"]["update"].as_u64(),
            o["counts"]["unchanged"].as_u64()
        ),
        (Some(1), Some(7)),
        "{o}"
    );
    let (_, v7) = app.get(&format!("/api/v1/sites/{}", site["id"])).await;
    assert_eq!(v7["safety_officer_phone"], "+8613800138000");
    assert_eq!(v7["inventory"][0]["max_quantity"], 25.0);
    assert_eq!(
        v7["inventory"][0]["cas"], "8006-61-9",
        "kept from the stored line"
    );
    assert_eq!(v7["address"], site["address"]);
    assert_eq!(
        v7["version"],
        site["version"].as_i64().expect("version") + 1
    );
    app.stop().await;
}
both!(two_thousand_sites_with_five_bad_rows);

/// LibreOffice's own `.xlsx`, converted from a CSV as an office would save it.
fn libreoffice_xlsx(dir: &std::path::Path, csv: &str) -> Option<Vec<u8>> {
    let src = dir.join("联系人.csv");
    std::fs::write(&src, csv).expect("csv");
    let out = std::process::Command::new("soffice")
        .args([
            "--headless",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "xlsx",
            "--outdir",
        ])
        .arg(dir)
        .arg(&src)
        .env("HOME", dir)
        .output();
    match out {
        Ok(o) if o.status.success() => std::fs::read(dir.join("联系人.xlsx")).ok(),
        other => {
            common::skip_or_fail(&format!(
                "LibreOffice (soffice) could not convert a CSV ({other:?}); apt-get install libreoffice-calc-nogui"
            ));
            None
        }
    }
}

async fn contacts_villages_and_findings(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let kengtou = village(&app, "K1", "坑头村", 118.0).await;
    village(&app, "K2", "溪口村", 118.1).await;
    let dir = tempfile::tempdir().expect("dir");
    let csv = "姓名,手机,村,职务,叫应顺序\n林志强,139 5951 2468,坑头村,村主任、网格员,10\n陈秀英,13805950001,溪口村,村支书,5\n王海,0595-2345 6789,乡级,应急办值班,\n";
    if let Some(xlsx) = libreoffice_xlsx(dir.path(), csv) {
        let (s, o) = post_file(
            &app,
            &app.admin,
            "/api/v1/imports/contacts",
            "联系人.xlsx",
            xlsx.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{o}");
        assert_eq!(o["counts"]["create"], 3, "{o}");
        let (_, list) = app.get("/api/v1/contacts?q=林志强").await;
        let lin = &list["items"][0];
        assert_eq!(lin["phone"], "+8613959512468");
        assert_eq!(lin["village_id"], kengtou);
        assert_eq!(lin["roles"], json!(["村主任", "网格员"]));
        assert_eq!(lin["escalation_order"], 10);
        let (_, again) = post_file(
            &app,
            &app.admin,
            "/api/v1/imports/contacts",
            "联系人.xlsx",
            xlsx,
        )
        .await;
        assert_eq!(again["counts"]["unchanged"], 3, "{again}");
    }
    // A CSV as Excel saves it (with a byte-order mark): a known phone
    // updated, an unknown role and a bad phone named at their cells.
    let csv = "\u{feff}姓名,手机,村,职务\n林志强,139 5951 2468,坑头村,村主任、护林员\n赵六,12345,坑头村,村主任\n钱七,13900000007,坑头村,队长\n";
    let (s, p) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/contacts/preview",
        "c.csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        problem_cells(&p),
        [(3, "手机".into()), (4, "职务".into())],
        "{p}"
    );
    let first = &p["rows"][0];
    assert_eq!(first["action"], "update", "{p}");

    // Villages: one new with its boundary, one known with a new population.
    let boundary = square(118.3, 25.2, 0.02).to_string().replace('"', "\"\"");
    let csv = format!(
        "村代码,村名,人口,边界\nK1,坑头村,1260,\nK9,新村,300,\"{boundary}\"\nK8,无界村,100,\n"
    );
    let (s, p) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/villages/preview",
        "v.csv",
        csv.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let actions: Vec<&str> = p["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["update", "create", "refused"], "{p}");
    assert_eq!(p["problems"][0]["column"], "边界");
    let (s, o) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/villages?only_good=true",
        "v.csv",
        csv.into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let (_, k1) = app.get(&format!("/api/v1/villages/{kengtou}")).await;
    assert_eq!(k1["population"], 1260);
    assert!(
        k1["boundary"]["coordinates"].is_array(),
        "the boundary kept"
    );
    let (_, all) = app.get("/api/v1/villages").await;
    assert!(
        all["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|v| v["code"] == "K9")
    );

    // Findings of a site: two rows of one visit, one inspection.
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "坑头加油站", "kind": "hazchem_trade_with_storage", "risk_grade": "significant",
                   "village_id": kengtou, "credit_code": credit_code(1)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    // The inspectors are registered; a name that is not is a row's problem.
    app.inspectors(&["林一", "陈二"]).await;
    let csv = format!(
        "统一社会信用代码,检查日期,检查人员,隐患内容,等级,整改措施,资金,责任人,整改期限,复查人\n\
         {c},2026-06-12,林一、陈二,储罐区静电接地线断开,一般,重新连接并检测,0.2万元,陈安全,2026-06-30,林一\n\
         {c},2026-06-12,林一、陈二,未设置可燃气体报警器,重大,加装报警器,1万元,陈安全,2026-07-15,林一\n\
         ,2026-06-12,林一、陈二,不明单位的隐患,一般,,,,2026-06-30,\n\
         {c},2026-06-12,林一、陈二,期限早于检查,一般,,,,2026-06-01,\n\
         {c},2026-06-12,林一、赵某,未登记的执法人员,一般,,,,2026-06-30,\n",
        c = credit_code(1)
    );
    let (s, p) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/findings/preview",
        "隐患.csv",
        csv.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        problem_cells(&p),
        [
            (4, "单位名称".into()),
            (5, "整改期限".into()),
            (6, "检查人员".into())
        ],
        "{p}"
    );
    let (s, o) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/findings?only_good=true",
        "隐患.csv",
        csv.clone().into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["counts"]["create"], 2);
    let (_, insp) = app
        .get(&format!("/api/v1/sites/{}/inspections", site["id"]))
        .await;
    let insp = insp["items"]
        .as_array()
        .or(insp.as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(insp.len(), 1, "one visit, one inspection: {insp:?}");
    assert_eq!(insp[0]["findings"].as_array().map(Vec::len), Some(2));
    let names = insp[0]["inspectors"].to_string();
    assert!(
        names.contains("林一（T") && names.contains("陈二（T"),
        "{names}"
    );
    assert_eq!(insp[0]["inspector_ids"].as_array().map(Vec::len), Some(2));
    let major = insp[0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["grade"] == "major")
        .cloned()
        .unwrap_or_default();
    assert_eq!(major["deadline"], "2026-07-15");
    assert_eq!(major["funding"], "1万元");
    let (_, again) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/findings?only_good=true",
        "隐患.csv",
        csv.into_bytes(),
    )
    .await;
    assert_eq!(again["counts"]["unchanged"], 2, "{again}");
    assert_eq!(again["counts"]["create"], 0, "{again}");

    // Who may import: a viewer no; a village's account no.
    let (_, viewer) = fenghuo::auth::create_token(app.db(), "viewer", Role::Viewer)
        .await
        .expect("token");
    let (s, _) = post_file(
        &app,
        &viewer,
        "/api/v1/imports/sites/preview",
        "a.csv",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let scope = Scope::Village {
        township: 1,
        village: kengtou,
    };
    let (_, vt) =
        fenghuo::auth::create_scoped_token(app.db(), "村文书", Role::Editor, false, &scope, 1)
            .await
            .expect("token");
    let (s, e) = post_file(
        &app,
        &vt,
        "/api/v1/imports/sites/preview",
        "a.csv",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    // A file that is no table; an unknown kind.
    let (s, e) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/sites/preview",
        "a.csv",
        b"hello\nworld\n".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("表头"),
        "{e}"
    );
    let (s, e) = post_file(
        &app,
        &app.admin,
        "/api/v1/imports/ships/preview",
        "a.csv",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
    );

    // The template opens, its headers marked where required.
    let resp = app
        .client
        .get(format!("{}/api/v1/imports/sites/template.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("template");
    assert_eq!(resp.status(), StatusCode::OK);
    use calamine::Reader;
    let bytes = resp.bytes().await.expect("bytes").to_vec();
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("xlsx");
    let sheet = wb.worksheet_range("导入").expect("sheet");
    let heads: Vec<String> = (0..4)
        .map(|c| {
            sheet
                .get_value((3, c))
                .map(|d| d.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(heads, ["单位名称*", "类型*", "统一社会信用代码*", "所属村"]);
    app.stop().await;
}
both!(contacts_villages_and_findings);

/// The dashboard: upload, the preview page with the problems, the
/// confirmation, the done page.
async fn the_dashboard_previews_then_imports(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    village(&app, "K1", "坑头村", 118.0).await;
    fenghuo::accounts::users::create(app.db(), "test", "lin", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("lin", PASSWORD).await;
    let page = web.get("/import").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("/import/sites/template.xlsx"));
    let csrf = page.csrf();
    let file = sites_workbook(3, |i, c| {
        if i == 1 {
            c[6] = "12345".into();
        }
    });
    let boundary = "----fenghuo-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [("_csrf", csrf.as_str()), ("kind", "sites")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"台账.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let preview = web
        .send(
            web.client
                .post(format!("{}/import/preview", app.base))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("id=\"n-refused\">1<"),
        "one row with a problem"
    );
    assert!(
        preview.body.contains("<td>3</td><td>安全负责人电话</td>"),
        "the problem at its row and column"
    );
    assert_eq!(sites_total(&app).await, 0, "nothing written by the preview");
    let field = |name: &str| {
        let at = preview
            .body
            .find(&format!("name=\"{name}\" value=\""))
            .expect(name)
            + name.len()
            + 15;
        preview.body[at..]
            .split('"')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let (data, sha) = (field("data"), field("sha256"));
    let confirm = |only_good: &'static str| {
        let (data, sha, csrf) = (data.clone(), sha.clone(), csrf.clone());
        let web = &web;
        async move {
            web.post(
                "/import/confirm",
                &[
                    ("_csrf", &csrf),
                    ("kind", "sites"),
                    ("name", "台账.xlsx"),
                    ("sha256", &sha),
                    ("data", &data),
                    ("only_good", only_good),
                ],
            )
            .await
        }
    };
    let refused = confirm("").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("import-error"));
    assert_eq!(sites_total(&app).await, 0);
    let done = confirm("1").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"n-create\">2<"), "{}", done.body);
    assert_eq!(sites_total(&app).await, 2);
    // The audit log says who imported which file.
    let (_, audit) = app.get("/api/v1/audit?action=import").await;
    assert_eq!(audit["items"][0]["actor"], "web:lin");
    app.stop().await;
}
both!(the_dashboard_previews_then_imports);

/// A workbook over the multipart reader's default 2 MB still reaches the
/// importer through the dashboard (bounded by the guard's 48 MB instead):
/// it is read and judged, never refused as "choose a file".
async fn a_large_upload_reaches_the_importer(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    fenghuo::accounts::users::create(app.db(), "test", "lin", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("lin", PASSWORD).await;
    let csrf = web.get("/import").await.csrf();
    let boundary = "----fenghuo-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [("_csrf", csrf.as_str()), ("kind", "sites")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"台账.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    // 3 MB that only begins like one (a zip's signature): the importer's
    // own refusal names it.
    body.extend_from_slice(b"PK\x03\x04");
    body.extend(std::iter::repeat_n(b'x', 3 * 1024 * 1024));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let preview = web
        .send(
            web.client
                .post(format!("{}/import/preview", app.base))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body),
        )
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        preview.body.contains("无法读取"),
        "the file was read and refused as unreadable: {}",
        preview.body
    );
    assert!(!preview.body.contains("请选择要上传的文件"));
    app.stop().await;
}
both!(a_large_upload_reaches_the_importer);

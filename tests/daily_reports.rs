//! The flood season's daily village reports (值班报告 / 零报告) on a driven
//! clock: at the plan's ask time each village's duty contact (a village
//! without one: its 信息员) gets one SMS; "0" and "无" are zero reports, a
//! report is kept for a person to read; at the deadline only the silent
//! village is asked again (one SMS); at the summary time the summary lists
//! every village, the silent one as 未报, in the API, on the page, in the
//! text for the county and in the `.xlsx` read back with calamine. Ticking
//! twice asks nobody twice; out of season nobody is asked; a village user
//! sees their own village.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use calamine::{Data, Reader, Xlsx};
use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::daily::cycle::{TickReport, tick};
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const HOOK_SECRET: &str = "hook-secret";
const PASSWORD: &str = "correct-horse-9";
const REPORT: &str = "今天后山有小塌方，已设警示";

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

/// The spooled SMS: (to, text) of each file in the outbox.
fn spooled(app: &TestApp) -> Vec<(String, String)> {
    let dir = app.cfg.data_dir.join("outbox");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with("-sms.txt"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .map(|t| {
                    let to = t
                        .lines()
                        .find_map(|l| l.strip_prefix("To: "))
                        .unwrap_or("")
                        .to_string();
                    (to, t)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Waits until `n` SMS are spooled, then a little more to see no others come.
async fn wait_spooled(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while spooled(app).len() < n {
        assert!(
            std::time::Instant::now() < until,
            "{} SMS spooled, {n} expected",
            spooled(app).len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    spooled(app)
}

fn at(day: NaiveDate, h: u32, m: u32) -> i64 {
    Shanghai
        .from_local_datetime(&day.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("local")
        .timestamp_millis()
}

fn md(d: NaiveDate) -> String {
    format!("{:02}-{:02}", d.month(), d.day())
}

const PLAN: &str = r#"id = "flood"
title = "测试防汛预案"
hazard = "flood"
version = "1"
status = "draft"
approved_on = 2025-04-01
approved_by = "湖上乡人民政府"
templates.t.title = "{plan}{level}"
templates.t.body = "{name}：请加强巡查"
[daily_report]
season = [SEASON]
ask_at = "15:00"
deadline = "17:00"
summary_at = "18:00"
role = "village_duty"
[[levels]]
level = 4
conditions = ["暴雨蓝色预警"]
lead = "分管领导"
notify = [{ roles = ["村支书"], template = "t" }]
[[levels]]
level = 3
conditions = ["暴雨黄色预警"]
lead = "乡长"
notify = [{ roles = ["村支书"], template = "t" }]
[[levels]]
level = 2
conditions = ["暴雨橙色预警"]
lead = "乡长"
notify = [{ roles = ["村支书"], template = "t" }]
[[levels]]
level = 1
conditions = ["暴雨红色预警"]
lead = "乡长"
notify = [{ roles = ["村支书"], template = "t" }]
"#;

async fn a_day_of_reports(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.sms.webhook.secret = HOOK_SECRET.into()).await
    else {
        return;
    };
    let n = app.notifier();
    // The season is a month some weeks away from today, so the real clock
    // is out of it; the test drives the clock inside it (a year ahead).
    let today = fenghuo::time::today(Shanghai);
    let start = today + chrono::Duration::days(60);
    let season = format!(
        "\"{}\", \"{}\"",
        md(start),
        md(start + chrono::Duration::days(30))
    );
    let day = NaiveDate::from_ymd_opt(start.year() + 1, start.month(), start.day())
        .unwrap_or(start + chrono::Duration::days(365))
        + chrono::Duration::days(5);

    // A township with no village asks nobody.
    std::fs::create_dir_all(&app.cfg.plans_dir).expect("plans dir");
    std::fs::write(
        app.cfg.plans_dir.join("flood.toml"),
        PLAN.replace("SEASON", &season),
    )
    .expect("plan");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(
        (&r["plans"], &r["problems"]),
        (&json!(["flood"]), &json!([])),
        "{r}"
    );
    assert_eq!(
        tick(&n, at(day, 15, 1)).await.expect("tick"),
        TickReport::default()
    );

    // Four villages: three with a duty contact (村值班员), one with only its
    // 信息员 (asked instead) — each also with a 村支书 who is not asked.
    let mut villages = Vec::new();
    for (k, (code, name)) in [
        ("D1", "东坑村"),
        ("D2", "西坑村"),
        ("D3", "南山村"),
        ("D4", "北岭村"),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": name, "boundary": square(118.0 + 0.03 * k as f64, 25.2, 0.02)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().expect("village");
        villages.push(id);
        let duty = if k == 3 { "信息员" } else { "村值班员" };
        for (i, role) in [(0, duty), (1, "村支书")] {
            let (s, v) = app
                .post(
                    "/api/v1/contacts",
                    json!({"name": format!("{name}{role}"), "roles": [role], "village_id": id,
                    "phone": format!("139000{k}{i}000"), "escalation_order": i + 1}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
    }
    let duty_phone = |k: usize| format!("139000{k}0000");

    // 14:59: not yet. 15:00: asked, one SMS to each village's duty contact.
    assert_eq!(tick(&n, at(day, 14, 59)).await.expect("tick").asked, 0);
    assert_eq!(tick(&n, at(day, 15, 0)).await.expect("tick").asked, 1);
    assert_eq!(
        tick(&n, at(day, 15, 0)).await.expect("tick"),
        TickReport::default(),
        "a second tick at the same moment asks nobody"
    );
    assert_eq!(tick(&n, at(day, 15, 30)).await.expect("tick").asked, 0);
    let sent = wait_spooled(&app, 4).await;
    assert_eq!(sent.len(), 4, "{sent:?}");
    let to: Vec<String> = sent.iter().map(|s| s.0.clone()).collect();
    assert_eq!(
        to,
        (0..4)
            .map(|k| format!("+86{}", duty_phone(k)))
            .collect::<Vec<_>>()
    );
    for (_, text) in &sent {
        assert!(
            text.contains("〔湖上乡〕请于17:00前回复") && text.contains("无情况回复0"),
            "{text}"
        );
        assert!(
            !text.contains("回复1确认收到") && !text.contains("/a/"),
            "{text}"
        );
    }
    let (_, list) = app.get("/api/v1/daily-reports").await;
    assert_eq!(list["total"], 1, "{list}");
    let id = list["items"][0]["id"].as_i64().expect("round");
    assert_eq!(list["items"][0]["day"], day.format("%Y-%m-%d").to_string());
    assert_eq!(list["items"][0]["silent"], 4);

    // Two zero reports, one report, one silent.
    sms_from(&app, &duty_phone(0), "0", "d0").await;
    sms_from(&app, &duty_phone(1), "无", "d1").await;
    sms_from(&app, &duty_phone(2), REPORT, "d2").await;
    let (_, round) = app.get(&format!("/api/v1/daily-reports/{id}")).await;
    let kinds: Vec<(&str, &str)> = round["answers"]
        .as_array()
        .expect("answers")
        .iter()
        .map(|a| {
            (
                a["village"].as_str().unwrap_or(""),
                a["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("东坑村", "zero"),
            ("西坑村", "zero"),
            ("南山村", "report"),
            ("北岭村", "none")
        ],
        "{round}"
    );
    assert_eq!(round["answers"][3]["role"], "信息员");
    assert_eq!(round["answers"][3]["fallback"], true);
    assert_eq!(round["answers"][0]["fallback"], false);
    // They answered the notice; only the report waits in the inbox (flagged:
    // 塌方 is a danger word).
    let alert = round["ask_alert_id"].as_i64().expect("notice");
    let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    assert_eq!(board["answered"], 3, "{board}");
    let (_, inbox) = app.get("/api/v1/replies?unread=1").await;
    assert_eq!(inbox["total"], 1, "{inbox}");
    assert_eq!(inbox["items"][0]["text"], REPORT);
    assert_eq!(inbox["items"][0]["danger"], true);

    // The escalation loop does not chase these notices.
    let escalated = fenghuo::notify::response::escalation::tick(&n, at(day, 16, 59))
        .await
        .expect("escalation");
    assert_eq!(escalated, 0);

    // 17:00: only the silent village is asked again, once.
    let r = tick(&n, at(day, 17, 0)).await.expect("tick");
    assert_eq!((r.asked, r.chased, r.summarised), (0, 1, 0));
    assert_eq!(tick(&n, at(day, 17, 1)).await.expect("tick").chased, 0);
    let sent = wait_spooled(&app, 5).await;
    assert_eq!(sent.len(), 5, "exactly one more SMS: {sent:?}");
    let chase: Vec<&(String, String)> = sent.iter().filter(|s| s.1.contains("尚未收到")).collect();
    assert_eq!(chase.len(), 1, "{sent:?}");
    assert_eq!(chase[0].0, format!("+86{}", duty_phone(3)));

    // 18:00: the summary, the silent village as 未报.
    let r = tick(&n, at(day, 18, 0)).await.expect("tick");
    assert_eq!((r.asked, r.chased, r.summarised), (0, 0, 1));
    assert_eq!(
        tick(&n, at(day, 18, 0)).await.expect("tick"),
        TickReport::default()
    );
    let (_, round) = app.get(&format!("/api/v1/daily-reports/{id}")).await;
    let text = round["summary_text"].as_str().expect("text");
    let date = format!("{}月{}日", day.month(), day.day());
    assert_eq!(
        text,
        format!(
            "湖上乡{date}汛情日报：全乡4个村，零报告2个，报告情况1个（南山村：{REPORT}），未报1个（北岭村）。"
        ),
        "{round}"
    );
    assert_eq!(
        (&round["zero"], &round["reports"], &round["silent"]),
        (&json!(2), &json!(1), &json!(1))
    );
    assert!(round["summarised_at"].is_string(), "{round}");
    let silent = &round["answers"][3];
    assert_eq!(
        (&silent["kind_zh"], &silent["chased"]),
        (&json!("未报"), &json!(true))
    );
    assert_eq!(round["answers"][0]["chased"], false);

    // The .xlsx, read back.
    let resp = app
        .client
        .get(format!("{}/api/v1/daily-reports/{id}.xlsx", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.expect("bytes");
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let sheet = wb.worksheet_range("汛情日报").expect("sheet");
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    let text_at = |r: u32, c: u32| match cell(r, c) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("not text at {r},{c}: {other:?}"),
    };
    assert!(text_at(0, 0).contains("湖上乡") && text_at(0, 0).contains("汛情日报"));
    assert!(text_at(1, 0).contains("test-admin") && text_at(1, 0).contains("未报1个（北岭村）"));
    let h = fenghuo::workbook::HEADER_ROW;
    let headers: Vec<String> = (0..7).map(|c| text_at(h, c)).collect();
    assert_eq!(headers, fenghuo::daily::export::headers());
    let rows: Vec<(String, String, String, String, String)> = (0..4)
        .map(|i| {
            let r = h + 1 + i;
            (
                text_at(r, 0),
                text_at(r, 2),
                text_at(r, 4),
                text_at(r, 5),
                text_at(r, 6),
            )
        })
        .collect();
    let dialled = |k: usize| fenghuo::phone::dialled(&format!("+86{}", duty_phone(k)));
    assert_eq!(
        rows,
        [
            (
                "东坑村".into(),
                dialled(0),
                "0".into(),
                "零报告".into(),
                "否".into()
            ),
            (
                "西坑村".into(),
                dialled(1),
                "无".into(),
                "零报告".into(),
                "否".into()
            ),
            (
                "南山村".into(),
                dialled(2),
                REPORT.into(),
                "报告情况".into(),
                "否".into()
            ),
            (
                "北岭村".into(),
                dialled(3),
                String::new(),
                "未报".into(),
                "是".into()
            ),
        ]
    );
    assert!(
        matches!(cell(h + 1, 3), Data::DateTime(_)),
        "{:?}",
        cell(h + 1, 3)
    );
    assert_eq!(cell(h + 4, 3), Data::Empty);
    assert_eq!(text_at(h + 4, 1), "北岭村信息员（信息员）");
    assert_eq!(cell(h + 5, 0), Data::Empty, "four villages, four rows");

    // The next day's ask; out of season nobody is asked.
    let next = day + chrono::Duration::days(1);
    assert_eq!(tick(&n, at(next, 15, 0)).await.expect("tick").asked, 1);
    let outside = day + chrono::Duration::days(120);
    assert_eq!(
        tick(&n, at(outside, 15, 30)).await.expect("tick"),
        TickReport::default()
    );
    let (_, list) = app.get("/api/v1/daily-reports").await;
    assert_eq!(list["total"], 2, "{list}");
    wait_spooled(&app, 9).await;

    // A village user: their village only.
    let scope = Scope::Village {
        township: 1,
        village: villages[2],
    };
    let (_, token) =
        fenghuo::auth::create_scoped_token(app.db(), "南山村", Role::Viewer, false, &scope, 1)
            .await
            .expect("token");
    let (s, mine) = app
        .send_as(&token, "GET", &format!("/api/v1/daily-reports/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["answers"].as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine["answers"][0]["village"], "南山村");
    assert!(
        !mine["summary_text"]
            .as_str()
            .unwrap_or("")
            .contains("北岭村"),
        "{mine}"
    );
    let (_, list) = app
        .send_as(&token, "GET", "/api/v1/daily-reports", None)
        .await;
    assert_eq!(list["items"][1]["villages"], 1, "{list}");

    // The pages.
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let page = web.get("/daily-reports").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("href=\"/daily-reports/{id}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/daily-reports\""),
        "the nav links it"
    );
    let page = web.get(&format!("/daily-reports/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(text), "{}", page.body);
    assert_eq!(
        page.body.matches("class=\"daily-zero\"").count(),
        2,
        "{}",
        page.body
    );
    assert!(page.body.contains("由信息员代报"), "{}", page.body);
    let x = web.get(&format!("/daily-reports/{id}/report.xlsx")).await;
    assert_eq!(x.status, StatusCode::OK);
    app.stop().await;
}
both!(a_day_of_reports);

/// The answer of a village that replies twice: a zero report then a report
/// becomes the report; nothing else (a reply of another's number) changes it.
async fn a_later_report_replaces_a_zero(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.sms.webhook.secret = HOOK_SECRET.into()).await
    else {
        return;
    };
    let n = app.notifier();
    let today = fenghuo::time::today(Shanghai);
    let start = today + chrono::Duration::days(60);
    let season = format!(
        "\"{}\", \"{}\"",
        md(start),
        md(start + chrono::Duration::days(30))
    );
    let day = start + chrono::Duration::days(2);
    std::fs::create_dir_all(&app.cfg.plans_dir).expect("plans dir");
    std::fs::write(
        app.cfg.plans_dir.join("flood.toml"),
        PLAN.replace("SEASON", &season),
    )
    .expect("plan");
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]), "{r}");
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "D1", "name": "东坑村", "boundary": square(118.0, 25.2, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, c) = app
        .post("/api/v1/contacts", json!({"name": "东坑值班", "roles": ["村值班员"], "village_id": v["id"], "phone": "13900011111"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(tick(&n, at(day, 15, 5)).await.expect("tick").asked, 1);
    wait_spooled(&app, 1).await;
    sms_from(&app, "13900011111", "收到，无异常", "a").await;
    let (_, list) = app.get("/api/v1/daily-reports").await;
    let id = list["items"][0]["id"].as_i64().expect("round");
    let (_, round) = app.get(&format!("/api/v1/daily-reports/{id}")).await;
    assert_eq!(round["answers"][0]["kind"], "zero", "{round}");
    sms_from(&app, "13900011111", "补充：村口水渠堵了", "b").await;
    let (_, round) = app.get(&format!("/api/v1/daily-reports/{id}")).await;
    assert_eq!(round["answers"][0]["kind"], "report", "{round}");
    assert_eq!(round["answers"][0]["reply"], "补充：村口水渠堵了");
    let r: Value = app.get("/api/v1/replies?unread=1").await.1;
    assert_eq!(r["total"], 1, "{r}");
    app.stop().await;
}
both!(a_later_report_replaces_a_zero);

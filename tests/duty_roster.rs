//! The duty roster (值班表) on both backends: a night shift decides who is
//! called at 02:00 (the night officer, then the night's leader — not the
//! day's, not the role's first holder), checked at the signed SMS
//! simulator; a moment no shift covers falls back to the role's holders and
//! the audit entry says the roster had a gap; a gap a few days ahead is on
//! the worklist and leaves it when the shift is added on the dashboard; the
//! office's workbook previewed, imported and imported again to no effect;
//! handovers recorded and listed; a second township neither sees nor
//! changes the first's roster.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

fn at(day: NaiveDate, h: u32, m: u32) -> i64 {
    Shanghai
        .from_local_datetime(&day.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("local")
        .timestamp_millis()
}

fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Shanghai).date_naive()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn contact(app: &TestApp, name: &str, roles: &[&str], phone: &str, order: i64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": name, "roles": roles, "phone": phone, "escalation_order": order}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    id(&v)
}

async fn shift(
    app: &TestApp,
    date: NaiveDate,
    start: &str,
    end: &str,
    leader: Option<i64>,
    officers: &[i64],
) -> Value {
    let (s, v) = app
        .post(
            "/api/v1/duty-shifts",
            json!({"date": date.to_string(), "start": start, "end": end, "leader_id": leader, "officer_ids": officers}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// (contact, step) of each recipient of a notice, in the order added.
async fn told(app: &TestApp, alert: i64) -> Vec<(Option<i64>, i64)> {
    sqlx::query_as("SELECT contact_id, step FROM alert_recipients WHERE alert_id = $1 ORDER BY id")
        .bind(alert)
        .fetch_all(&app.db().pool)
        .await
        .expect("recipients")
}

/// The township's people: a silent village secretary; duty officers and
/// leaders on the roster (day and night) and the first holders of the
/// roles, who are nobody's shift.
struct People {
    secretary: i64,
    holder: i64,
    day: i64,
    night: i64,
    holder_leader: i64,
    day_leader: i64,
    night_leader: i64,
    village: i64,
}

const PHONES: [(&str, &str); 7] = [
    ("secretary", "13800000001"),
    ("holder", "13900000001"),
    ("day", "13900000002"),
    ("night", "13900000003"),
    ("holder_leader", "13900000011"),
    ("day_leader", "13900000012"),
    ("night_leader", "13900000013"),
];

fn e164(who: &str) -> String {
    let national = PHONES
        .iter()
        .find(|(w, _)| *w == who)
        .map(|(_, p)| *p)
        .expect("known person");
    format!("+86{national}")
}

async fn people(app: &TestApp) -> People {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let village = id(&v);
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "村支书", "roles": ["村支书"], "village_id": village, "phone": "13800000001", "escalation_order": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let secretary = id(&v);
    // Everyone of the township holds the role; the role's first holder (by
    // escalation order) is on no shift.
    People {
        secretary,
        village,
        holder: contact(app, "常值班", &["应急办值班"], "13900000001", 1).await,
        day: contact(app, "白班员", &["应急办值班"], "13900000002", 2).await,
        night: contact(app, "夜班员", &["应急办值班"], "13900000003", 3).await,
        holder_leader: contact(app, "常带班", &["带班领导"], "13900000011", 1).await,
        day_leader: contact(app, "白班领导", &["带班领导"], "13900000012", 2).await,
        night_leader: contact(app, "夜班领导", &["带班领导"], "13900000013", 3).await,
    }
}

fn all_sent(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["sent"] == s["total"]
}

/// The phones the simulator accepted a message for.
fn texted(sim: &sms_provider_sim::Sim) -> BTreeSet<String> {
    sim.accepted().into_iter().map(|r| r.to).collect()
}

async fn wait_texted(sim: &sms_provider_sim::Sim, who: &str) {
    let want = e164(who);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !texted(sim).contains(&want) {
        assert!(
            std::time::Instant::now() < until,
            "no SMS reached {who} ({want}); texted: {:?}",
            texted(sim)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The escalation audit entries of a notice: what the roster said.
async fn roster_notes(app: &TestApp, alert: i64) -> Vec<Value> {
    let (s, v) = app
        .get(&format!(
            "/api/v1/audit?entity=alert&entity_id={alert}&action=escalate"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .flat_map(|e| e["after"]["roster"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn roster_at_two_in_the_morning(b: Backend) {
    let sim =
        sms_provider_sim::start(Kind::Aliyun, Creds::new("roster-key", "roster-secret")).await;
    let Some(app) = TestApp::start_with(b, |c| sim.configure(&mut c.sms)).await else {
        return;
    };
    let p = people(&app).await;
    // The night from X-1 17:30 to X 08:30, then the day of X.
    let x = today() + chrono::Duration::days(2);
    let night = shift(
        &app,
        x.pred_opt().expect("day"),
        "17:30",
        "8:30",
        Some(p.night_leader),
        &[p.night],
    )
    .await;
    let day = shift(&app, x, "08:30", "17:30", Some(p.day_leader), &[p.day]).await;
    assert_eq!(
        (
            night["kind"].as_str(),
            night["overnight"].as_bool(),
            night["end"].as_str()
        ),
        (Some("night"), Some(true), Some("08:30"))
    );
    assert_eq!(night["officers"][0]["contact_id"], p.night, "{night}");
    // The API's list over those two days: both, in order.
    let (s, list) = app
        .get(&format!(
            "/api/v1/duty-shifts?from={}&to={x}",
            x.pred_opt().expect("day")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let ids: Vec<i64> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(ids, vec![id(&night), id(&day)]);
    // A shift overlapping another is refused, naming the field.
    let (s, v) = app
        .post(
            "/api/v1/duty-shifts",
            json!({"date": x.to_string(), "start": "07:00", "end": "09:00", "officer_ids": [p.day]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("start")),
        "{v}"
    );

    // Two notices to the silent secretary: one whose chain names the duty
    // officer then the leader on duty, one with the village order only.
    let (s, chain) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "{name}：请立即巡查。", "channels": ["sms"], "ack_within_minutes": 10,
                   "targets": {"contacts": [p.secretary]}, "escalate_to": ["应急办值班", "带班领导"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{chain}");
    let chain = id(&chain);
    let (s, plain) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨预警", "body": "{name}：请注意。", "channels": ["sms"], "ack_within_minutes": 10,
                   "targets": {"villages": [p.village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{plain}");
    let plain = id(&plain);
    app.wait_alert(chain, 20, all_sent).await;
    app.wait_alert(plain, 20, all_sent).await;

    // 02:00 on X: the night shift's officer is told, for both notices.
    let n = app.notifier();
    fenghuo::notify::response::escalation::tick(&n, at(x, 2, 0))
        .await
        .expect("tick");
    assert_eq!(
        told(&app, chain).await,
        vec![(Some(p.secretary), 0), (Some(p.night), 1)]
    );
    assert_eq!(
        told(&app, plain).await,
        vec![(Some(p.secretary), 0), (Some(p.night), 1)]
    );
    wait_texted(&sim, "night").await;
    // The night officer silent too: the chain's next duty, the night's leader.
    fenghuo::notify::response::escalation::tick(&n, at(x, 2, 11))
        .await
        .expect("tick");
    assert_eq!(
        told(&app, chain).await,
        vec![
            (Some(p.secretary), 0),
            (Some(p.night), 1),
            (Some(p.night_leader), 2)
        ]
    );
    // The village order has nobody more: the night's officers are all told,
    // and the role's holders off shift are not woken.
    assert_eq!(told(&app, plain).await.len(), 2);
    wait_texted(&sim, "night_leader").await;
    app.wait_alert(chain, 20, all_sent).await;
    app.wait_alert(plain, 20, all_sent).await;
    let sent = texted(&sim);
    for who in ["day", "holder", "day_leader", "holder_leader"] {
        assert!(
            !sent.contains(&e164(who)),
            "{who} was texted at night: {sent:?}"
        );
    }
    // Every message was signed as Aliyun documents it.
    assert!(sim.received().iter().all(|r| r.signature_ok));
    // The audit entries name the shift that decided.
    let notes = roster_notes(&app, chain).await;
    assert!(
        notes
            .iter()
            .any(|n| n["shift_id"] == id(&night) && n["role"] == "应急办值班"),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n["shift_id"] == id(&night) && n["role"] == "带班领导"),
        "{notes:?}"
    );
    assert!(notes.iter().all(|n| n.get("gap").is_none()), "{notes:?}");

    // Three days later no shift covers 02:00: the role's first holders, and
    // the audit entry records the gap.
    let later = x + chrono::Duration::days(3);
    let (s, gap) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "{name}：请立即巡查。", "channels": ["sms"], "ack_within_minutes": 10,
                   "targets": {"contacts": [p.secretary]}, "escalate_to": ["应急办值班", "带班领导"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{gap}");
    let gap = id(&gap);
    app.wait_alert(gap, 20, all_sent).await;
    fenghuo::notify::response::escalation::tick(&n, at(later, 2, 0))
        .await
        .expect("tick");
    fenghuo::notify::response::escalation::tick(&n, at(later, 2, 11))
        .await
        .expect("tick");
    assert_eq!(
        told(&app, gap).await,
        vec![
            (Some(p.secretary), 0),
            (Some(p.holder), 1),
            (Some(p.holder_leader), 2)
        ]
    );
    let notes = roster_notes(&app, gap).await;
    assert!(
        notes
            .iter()
            .any(|n| n["gap"] == true && n["role"] == "应急办值班"),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n["gap"] == true && n["role"] == "带班领导"),
        "{notes:?}"
    );
    wait_texted(&sim, "holder_leader").await;

    // The day of X at 10:00: the day officer.
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "t", "body": "{name}：请注意。", "channels": ["sms"], "ack_within_minutes": 10,
                   "targets": {"contacts": [p.secretary]}, "escalate_to": ["应急办值班"]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let daytime = id(&v);
    app.wait_alert(daytime, 20, all_sent).await;
    fenghuo::notify::response::escalation::tick(&n, at(x, 10, 0))
        .await
        .expect("tick");
    assert_eq!(
        told(&app, daytime).await,
        vec![(Some(p.secretary), 0), (Some(p.day), 1)]
    );
    app.stop().await;
}
both!(roster_at_two_in_the_morning);

/// A user signed in on the dashboard, with the role.
async fn signed_in(app: &TestApp, name: &str, role: Role) -> Web {
    fenghuo::accounts::users::create(app.db(), "test", name, role, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in(name, PASSWORD).await;
    web
}

fn md(d: NaiveDate) -> String {
    format!("{}月{}日", d.month(), d.day())
}

async fn gap_on_the_worklist(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let officer = contact(&app, "值班员甲", &["应急办值班"], "13900000021", 1).await;
    let leader = contact(&app, "带班领导甲", &["带班领导"], "13900000022", 1).await;
    // 24-hour shifts from yesterday to a week ahead, but none on day 3.
    let t = today();
    let hole = t + chrono::Duration::days(3);
    for k in -1..=7 {
        let d = t + chrono::Duration::days(k);
        if d != hole {
            shift(&app, d, "08:30", "08:30", Some(leader), &[officer]).await;
        }
    }
    let web = signed_in(&app, "wang", Role::Editor).await;
    let gap_text = format!("值班表缺口：{} 08:30 起无人值班", md(hole));
    let page = web.get("/worklist").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&gap_text), "{}", page.body);
    assert!(page.body.contains("id=\"duty-gaps\""), "{}", page.body);
    let (_, gaps) = app.get("/api/v1/duty-shifts/gaps").await;
    assert_eq!(gaps["total"], 1, "{gaps}");
    assert_eq!(gaps["items"][0]["kind"], "uncovered", "{gaps}");
    // The roster page: the shift on now stands out, the gap is a row.
    let roster = web.get(&format!("/duty?from={hole}")).await;
    assert_eq!(roster.status, StatusCode::OK);
    assert!(roster.body.contains("无人值班"), "{}", roster.body);
    let now_page = web.get("/duty").await;
    assert!(
        now_page.body.contains("class=\"on-now\""),
        "{}",
        now_page.body
    );
    assert!(now_page.body.contains("值班员甲"), "{}", now_page.body);

    // Filled on the dashboard's form (a 24-hour shift, by its preset).
    let form = web.get(&format!("/duty/shifts/new?date={hole}")).await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let (o, l) = (officer.to_string(), leader.to_string());
    let r = web
        .post(
            "/duty/shifts/new",
            &[
                ("_csrf", csrf.as_str()),
                ("date", &hole.to_string()),
                ("kind", "full"),
                ("start", ""),
                ("end", ""),
                ("leader_id", l.as_str()),
                ("officer_1", o.as_str()),
                ("note", "补排"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get("/worklist").await;
    assert!(!page.body.contains(&gap_text), "{}", page.body);
    assert!(
        page.body.contains("值班表缺口（未来 7 天） (0)"),
        "{}",
        page.body
    );
    let (_, gaps) = app.get("/api/v1/duty-shifts/gaps").await;
    assert_eq!(gaps["total"], 0, "{gaps}");

    // A shift of the week without a leader is a gap of its own.
    let (_, list) = app
        .get(&format!("/api/v1/duty-shifts?from={hole}&to={hole}"))
        .await;
    // The day's list also has the shift from the day before that ends that morning.
    let filled = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["date"] == hole.to_string())
        .expect("the shift filled in");
    assert_eq!(filled["note"], "补排", "{list}");
    let (s, v) = app
        .put(
            &format!("/api/v1/duty-shifts/{}", id(filled)),
            json!({"date": hole.to_string(), "start": "08:30", "end": "08:30", "officer_ids": [officer], "version": filled["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let page = web.get("/worklist").await;
    assert!(
        page.body
            .contains(&format!("值班表缺口：{} 08:30 起的24小时班", md(hole)))
            && page.body.contains("无带班领导"),
        "{}",
        page.body
    );
    // A stale edit is a conflict; deleting the shift on the page makes the gap again.
    let (s, _) = app
        .put(
            &format!("/api/v1/duty-shifts/{}", id(filled)),
            json!({"date": hole.to_string(), "start": "08:30", "end": "08:30", "version": filled["version"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let csrf = web.get("/duty").await.csrf();
    let r = web
        .post(
            &format!("/duty/shifts/{}/delete", id(filled)),
            &[
                ("_csrf", csrf.as_str()),
                ("version", &v["version"].to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get("/worklist").await;
    assert!(page.body.contains(&gap_text), "{}", page.body);
    // Kept on record: the deletion is in the audit trail.
    let (_, audit) = app
        .get(&format!(
            "/api/v1/audit?entity=duty_shift&entity_id={}",
            id(filled)
        ))
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"delete") && actions.contains(&"create"),
        "{audit}"
    );
    app.stop().await;
}
both!(gap_on_the_worklist);

const HEADERS: [&str; 9] = [
    "日期*",
    "班次",
    "开始时间",
    "结束时间",
    "带班领导",
    "带班领导电话",
    "值班员",
    "值班员电话",
    "备注",
];

/// The office's roster workbook: a title row, the headers, the shifts.
fn roster_workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "湖上乡2030年3月值班表")
        .expect("title");
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string(1, c as u16, *h).expect("header");
    }
    let rows: [[&str; 9]; 5] = [
        [
            "2030-03-01",
            "白班",
            "",
            "",
            "林志强",
            "139 5951 2468",
            "陈建华、黄丽",
            "138 5050 1234、137 0595 6789",
            "",
        ],
        // The date is an Excel date cell, written below.
        [
            "",
            "夜班",
            "",
            "",
            "林志强",
            "13959512468",
            "黄丽",
            "137 0595 6789",
            "",
        ],
        [
            "2030/3/2",
            "",
            "8:30",
            "8:30",
            "王五",
            "136 0000 0000",
            "陈建华",
            "",
            "汛期加强值班",
        ],
        // Overlaps the 24-hour shift above.
        ["2030-03-02", "夜班", "", "", "", "", "陈建华", "", ""],
        ["明天", "白班", "", "", "", "", "", "", ""],
    ];
    let day = Format::new().set_num_format("yyyy-mm-dd");
    for (i, cells) in rows.iter().enumerate() {
        let r = i as u32 + 2;
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r, c as u16, *v).expect("cell");
            }
        }
    }
    let d = ExcelDateTime::from_ymd(2030, 3, 1).expect("date");
    ws.write_datetime_with_format(3, 0, &d, &day)
        .expect("date cell");
    wb.save_to_buffer().expect("xlsx")
}

async fn post_file(app: &TestApp, path: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!("{}{path}", app.base))
        .query(&[("file", "值班表.xlsx")])
        .bearer_auth(&app.admin)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("post");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn import_the_office_workbook(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    // Two people the township knows: the leader and one officer.
    let lin = contact(&app, "林志强", &["带班领导"], "13959512468", 1).await;
    let chen = contact(&app, "陈建华", &["应急办值班"], "13850501234", 2).await;
    let file = roster_workbook();
    let (s, p) = post_file(&app, "/api/v1/imports/duty_roster/preview", file.clone()).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["header_row"], 2, "{p}");
    assert_eq!(
        (
            p["counts"]["create"].as_i64(),
            p["counts"]["refused"].as_i64()
        ),
        (Some(3), Some(2)),
        "{p}"
    );
    let problems: Vec<(i64, String)> = p["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|x| {
            (
                x["row"].as_i64().unwrap_or(0),
                x["column"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        vec![(6, "日期".to_string()), (7, "日期".to_string())],
        "{p}"
    );
    // The preview says who it will add, and reads the times as written.
    let rows = p["rows"].as_array().expect("rows");
    let cell = |row: usize, col: &str| -> String {
        rows[row]["values"]
            .as_array()
            .expect("values")
            .iter()
            .find(|v| v["column"] == col)
            .and_then(|v| v["value"].as_str())
            .unwrap_or("")
            .to_string()
    };
    assert!(
        cell(0, "说明").contains("新建联系人：黄丽 137 0595 6789（应急办值班）"),
        "{p}"
    );
    assert_eq!(cell(1, "时间"), "17:30–次日08:30", "{p}");
    assert!(cell(1, "说明").contains("新建联系人：黄丽"), "{p}");
    assert_eq!(cell(2, "班次"), "24小时班", "{p}");
    assert!(
        cell(2, "说明").contains("新建联系人：王五 136 0000 0000（带班领导）"),
        "{p}"
    );
    // Nothing written by a preview.
    let (_, list) = app
        .get("/api/v1/duty-shifts?from=2030-03-01&to=2030-03-03")
        .await;
    assert_eq!(list["total"], 0, "{list}");
    // With problems, nothing imported unless only the good rows are asked for.
    let (s, v) = post_file(&app, "/api/v1/imports/duty_roster", file.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, o) = post_file(
        &app,
        "/api/v1/imports/duty_roster?only_good=true",
        file.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["counts"]["create"], 3, "{o}");
    assert_eq!(o["skipped_rows"], json!([6, 7]), "{o}");
    let (_, list) = app
        .get("/api/v1/duty-shifts?from=2030-03-01&to=2030-03-03")
        .await;
    assert_eq!(list["total"], 3, "{list}");
    let items = list["items"].as_array().expect("items");
    let names = |s: &Value| -> Vec<String> {
        s["officers"]
            .as_array()
            .expect("officers")
            .iter()
            .map(|o| o["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(&items[0]), ["陈建华", "黄丽"]);
    assert_eq!(items[0]["leader"]["contact_id"], lin);
    assert_eq!(items[0]["officers"][0]["contact_id"], chen);
    assert_eq!(items[1]["kind"], "night");
    assert_eq!(items[1]["date"], "2030-03-01");
    assert_eq!(items[2]["kind"], "full");
    assert_eq!(items[2]["leader"]["name"], "王五");
    assert_eq!(items[2]["note"], "汛期加强值班");
    // 黄丽 once, on two shifts; the new people are township contacts with their roles.
    let (_, found) = app.get("/api/v1/contacts?q=黄丽").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["roles"], json!(["应急办值班"]), "{found}");
    assert_eq!(found["items"][0]["village_id"], Value::Null, "{found}");
    let (_, found) = app.get("/api/v1/contacts?q=王五").await;
    assert_eq!(found["items"][0]["roles"], json!(["带班领导"]), "{found}");
    // The same file again changes nothing.
    let (s, again) = post_file(&app, "/api/v1/imports/duty_roster?only_good=true", file).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(
        (
            again["counts"]["create"].as_i64(),
            again["counts"]["update"].as_i64(),
            again["counts"]["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(3)),
        "{again}"
    );
    let (_, found) = app.get("/api/v1/contacts?q=黄丽").await;
    assert_eq!(found["total"], 1, "{found}");
    // The template downloads with the roster's columns.
    let resp = app
        .client
        .get(format!(
            "{}/api/v1/imports/duty_roster/template.xlsx",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("template");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.expect("bytes");
    let lines = fenghuo::import::read::lines("t.xlsx", &bytes).expect("read back");
    assert!(
        lines
            .iter()
            .any(|l| l.cells.iter().any(|c| c == "值班员电话")),
        "{lines:?}"
    );
    app.stop().await;
}
both!(import_the_office_workbook);

async fn handovers_are_recorded_and_listed(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let a = contact(&app, "交班甲", &["应急办值班"], "13900000031", 1).await;
    let c = contact(&app, "接班乙", &["应急办值班"], "13900000032", 2).await;
    let (s, v) = app
        .post(
            "/api/v1/duty-handovers",
            json!({"from_contact_id": a, "to_contact_id": a}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("to_contact_id")),
        "{v}"
    );
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let (s, v) = app
        .post(
            "/api/v1/duty-handovers",
            json!({"from_contact_id": a, "to_contact_id": c, "at": tomorrow}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("at")),
        "{v}"
    );
    let (s, v) = app
        .post(
            "/api/v1/duty-handovers",
            json!({"from_contact_id": a, "to_contact_id": c, "notes": "溪口村山塘待回电"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["from"]["name"], "交班甲");
    // On the dashboard: recorded through the form, both listed.
    let web = signed_in(&app, "li", Role::Dispatcher).await;
    let page = web.get("/duty").await;
    assert!(page.body.contains("溪口村山塘待回电"), "{}", page.body);
    let r = web
        .post(
            "/duty/handovers",
            &[
                ("_csrf", page.csrf().as_str()),
                ("from_contact_id", &c.to_string()),
                ("to_contact_id", &a.to_string()),
                ("at", ""),
                ("notes", "夜间无险情，卫星电话已充电"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, list) = app.get("/api/v1/duty-handovers").await;
    assert_eq!(list["total"], 2, "{list}");
    // Newest first.
    assert_eq!(
        list["items"][0]["notes"], "夜间无险情，卫星电话已充电",
        "{list}"
    );
    assert_eq!(list["items"][0]["recorded_by"], "web:li", "{list}");
    let page = web.get("/duty").await;
    assert!(
        page.body.contains("夜间无险情，卫星电话已充电"),
        "{}",
        page.body
    );
    // Audited.
    let (_, audit) = app.get("/api/v1/audit?entity=duty_handover").await;
    assert_eq!(audit["total"], 2, "{audit}");
    // A viewer reads the roster but gets no form.
    let viewer = signed_in(&app, "zhao", Role::Viewer).await;
    let page = viewer.get("/duty").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"handover-form\""), "{}", page.body);
    let r = viewer
        .post("/duty/handovers", &[("_csrf", page.csrf().as_str())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.stop().await;
}
both!(handovers_are_recorded_and_listed);

async fn a_second_township_cannot_see_or_edit(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let officer = contact(&app, "甲乡值班员", &["应急办值班"], "13900000041", 1).await;
    let d = today();
    // Midnight to midnight: on now whenever the test runs.
    let s1 = shift(&app, d, "00:00", "00:00", None, &[officer]).await;
    let db = app.db().clone();
    let t2 = fenghuo::registry::townships::add(&db, "350524102000", "乙镇", false)
        .await
        .expect("township 2")
        .id;
    let (_, t2_admin) = fenghuo::auth::create_scoped_token(
        &db,
        "t2-admin",
        Role::Admin,
        false,
        &Scope::township(t2),
        t2,
    )
    .await
    .expect("t2 token");
    let path = format!("/api/v1/duty-shifts/{}", id(&s1));
    let (s, v) = app.send_as(&t2_admin, "GET", &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .send_as(
            &t2_admin,
            "PUT",
            &path,
            Some(json!({"date": d.to_string(), "start": "08:30", "end": "17:30", "version": s1["version"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .send_as(&t2_admin, "DELETE", &format!("{path}?version=1"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // The first township's people are nobody in the second.
    let (s, v) = app
        .send_as(
            &t2_admin,
            "POST",
            "/api/v1/duty-shifts",
            Some(json!({"date": d.to_string(), "start": "08:30", "end": "17:30", "officer_ids": [officer]})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("officer_ids[0]")),
        "{v}"
    );
    let (s, v) = app
        .send_as(
            &t2_admin,
            "POST",
            "/api/v1/duty-handovers",
            Some(json!({"from_contact_id": officer, "to_contact_id": officer + 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for list in [
        "/api/v1/duty-shifts",
        "/api/v1/duty-shifts/current",
        "/api/v1/duty-shifts/gaps",
        "/api/v1/duty-handovers",
    ] {
        let (s, v) = app.send_as(&t2_admin, "GET", list, None).await;
        assert_eq!(s, StatusCode::OK, "{list}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains("甲乡值班员") && !text.contains("13900000041"),
            "{list} showed township 1's roster to township 2: {v}"
        );
    }
    // Township 2 has nobody on duty now; township 1 has.
    let (_, now2) = app
        .send_as(&t2_admin, "GET", "/api/v1/duty-shifts/current", None)
        .await;
    assert_eq!(now2["items"][0]["township_id"], t2, "{now2}");
    assert_eq!(now2["items"][0]["shift"], Value::Null, "{now2}");
    let (_, now1) = app.get("/api/v1/duty-shifts/current").await;
    assert_eq!(now1["items"][0]["shift"]["id"], id(&s1), "{now1}");
    // Nothing of township 1 changed.
    let (_, after) = app.get(&path).await;
    assert_eq!(after["version"], s1["version"], "{after}");
    // A village's user reads the roster but may not change it.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V9", "name": "九村", "boundary": square(118.3, 25.3, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, village_token) = fenghuo::auth::create_scoped_token(
        &db,
        "v-editor",
        Role::Editor,
        false,
        &Scope::Village {
            township: 1,
            village: id(&v),
        },
        1,
    )
    .await
    .expect("village token");
    let (s, _) = app.send_as(&village_token, "GET", &path, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .send_as(
            &village_token,
            "POST",
            "/api/v1/duty-shifts",
            Some(json!({"date": d.to_string(), "start": "08:30", "end": "17:30"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    app.stop().await;
}
both!(a_second_township_cannot_see_or_edit);

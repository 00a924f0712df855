//! Drills: cron semantics against an independent implementation, reminders
//! with a controlled clock (exactly once, late after downtime or missed,
//! quiet hours), a drill run end to end with its scorecard, bad input.

mod common;

use chrono::{Duration, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use common::{Backend, TestApp, square};
use fenghuo::drills::reminders::{TickReport, tick};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[test]
fn cron_agrees_with_croniter() {
    let exprs = [
        "0 9 * * 1",
        "30 8 1 */3 *",
        "0 0 * * 0",
        "15 14 1 * *",
        "0 22 * * 1-5",
        "0 9 * * 5-7",
        "*/20 7-9 * * *",
        "0 9 1,15 * *",
        "45 23 31 12 *",
        "0 6 * 3-5 SAT",
    ];
    let start = Shanghai
        .with_ymd_and_hms(2026, 11, 26, 20, 47, 0)
        .single()
        .expect("time");
    let script = r#"
import sys, json, datetime
from zoneinfo import ZoneInfo
from croniter import croniter
tz = ZoneInfo("Asia/Shanghai")
start = datetime.datetime(2026, 11, 26, 20, 47, tzinfo=tz)
out = {}
for e in json.loads(sys.argv[1]):
    it = croniter(e, start)
    out[e] = [it.get_next(datetime.datetime).isoformat() for _ in range(12)]
print(json.dumps(out))
"#;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args(["-c", script, &serde_json::to_string(&exprs).expect("json")])
        .output()
        .expect("python");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        common::skip_or_fail(&format!(
            "croniter is not installed (pip install croniter): {err}"
        ));
        return;
    }
    let theirs: Value = serde_json::from_slice(&out.stdout).expect("croniter json");
    for e in exprs {
        let ours: Vec<String> = fenghuo::drills::schedule::parse_cron(e, Shanghai)
            .expect("parse")
            .after(start.with_timezone(&chrono::Utc), 12)
            .into_iter()
            .map(|t| {
                t.with_timezone(&Shanghai)
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .collect();
        let expected: Vec<String> = theirs[e]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        assert_eq!(ours, expected, "next occurrences of '{e}'");
    }
}

async fn setup(app: &TestApp, contacts: usize) -> (i64, Vec<i64>) {
    let (_, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "D1", "name": "岭头村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    let vid = v["id"].as_i64().expect("id");
    let mut ids = Vec::new();
    for i in 0..contacts {
        let (_, c) = app
            .post("/api/v1/contacts", json!({"name": format!("演练员{i}"), "roles": ["网格员"], "village_id": vid, "phone": format!("1370000{i:04}"), "escalation_order": i + 1}))
            .await;
        ids.push(c["id"].as_i64().expect("id"));
    }
    app.post(
        "/api/v1/contacts",
        json!({"name": "值班", "roles": ["应急办值班"], "phone": "13900000000"}),
    )
    .await;
    (vid, ids)
}

/// A local time on the day `days` from today, as UTC milliseconds.
fn local_ms(days: i64, h: u32, m: u32) -> (i64, String) {
    let day: NaiveDate =
        chrono::Utc::now().with_timezone(&Shanghai).date_naive() + Duration::days(days);
    let t = Shanghai
        .from_local_datetime(&day.and_hms_opt(h, m, 0).expect("time"))
        .single()
        .expect("local");
    (t.timestamp_millis(), t.format("%Y-%m-%dT%H:%M").to_string())
}

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

async fn statuses(app: &TestApp, drill: i64) -> Vec<(String, String)> {
    sqlx::query_as("SELECT lead, status FROM drill_reminders WHERE drill_id = $1 ORDER BY due_at")
        .bind(drill)
        .fetch_all(&app.db().pool)
        .await
        .expect("reminders")
}

async fn reminders_fire_once_at_the_right_moments(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = setup(&app, 2).await;
    let (occ, at) = local_ms(10, 10, 0);
    let (s, d) = app.post("/api/v1/drills", json!({"title": "防汛转移演练", "at": at, "villages": [vid], "lead_times": ["7d", "1d", "2h"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_i64().expect("id");
    assert!(
        d["next_occurrences"][0]
            .as_str()
            .is_some_and(|t| t.ends_with("T10:00:00+08:00")),
        "{d}"
    );
    let n = app.notifier();
    let sent = |r: TickReport| r.sent;
    assert_eq!(sent(tick(&n, occ - 7 * DAY - MIN).await.expect("tick")), 0);
    assert_eq!(sent(tick(&n, occ - 7 * DAY + MIN).await.expect("tick")), 1);
    assert_eq!(
        sent(tick(&n, occ - 7 * DAY + 2 * MIN).await.expect("tick")),
        0,
        "never twice"
    );
    assert_eq!(sent(tick(&n, occ - DAY + MIN).await.expect("tick")), 1);
    assert_eq!(sent(tick(&n, occ - 2 * HOUR + MIN).await.expect("tick")), 1);
    assert_eq!(sent(tick(&n, occ - HOUR).await.expect("tick")), 0);
    assert_eq!(
        statuses(&app, id).await,
        [
            ("7d".into(), "sent".into()),
            ("1d".into(), "sent".into()),
            ("2h".into(), "sent".into())
        ]
    );
    let (_, alerts) = app.get("/api/v1/alerts").await;
    assert_eq!(alerts["total"], 3);
    let first = &alerts["items"][2];
    assert!(
        first["title"]
            .as_str()
            .is_some_and(|t| t.contains("演练提醒")),
        "{first}"
    );
    assert_eq!(first["exercise"], true);
    app.stop().await;
}
both!(reminders_fire_once_at_the_right_moments);

async fn downtime_gives_one_late_reminder_or_a_recorded_miss(b: Backend) {
    let Some(mut app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = setup(&app, 1).await;
    let (occ, at) = local_ms(10, 10, 0);
    let (_, d) = app.post("/api/v1/drills", json!({"title": "森林防火演练", "at": at, "villages": [vid], "lead_times": ["7d", "1d", "2h"]})).await;
    let id = d["id"].as_i64().expect("id");
    let n = app.notifier();
    assert_eq!(tick(&n, occ - 7 * DAY + MIN).await.expect("tick").sent, 1);
    // Down from before the 1d reminder until three hours before the drill.
    app.restart().await;
    let n = app.notifier();
    let r = tick(&n, occ - 3 * HOUR).await.expect("tick");
    assert_eq!(
        (r.sent, r.missed),
        (1, 0),
        "the 1d reminder goes out late, once"
    );
    assert_eq!(tick(&n, occ - 3 * HOUR + MIN).await.expect("tick").sent, 0);
    // Down again across the 2h reminder and the drill itself.
    app.restart().await;
    let n = app.notifier();
    let r = tick(&n, occ + HOUR).await.expect("tick");
    assert_eq!(
        (r.sent, r.missed),
        (0, 1),
        "the 2h reminder is recorded as missed, not sent"
    );
    let r = tick(&n, occ + 2 * HOUR).await.expect("tick");
    assert_eq!((r.sent, r.missed), (0, 0));
    assert_eq!(
        statuses(&app, id).await,
        [
            ("7d".into(), "sent".into()),
            ("1d".into(), "sent".into()),
            ("2h".into(), "missed".into())
        ]
    );
    assert_eq!(app.get("/api/v1/alerts").await.1["total"], 2);
    app.stop().await;
}
both!(downtime_gives_one_late_reminder_or_a_recorded_miss);

async fn quiet_hours_defer_to_the_morning(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = setup(&app, 1).await;
    // A 07:30 drill with a 2h reminder: due at 05:30, inside 22:00–07:00.
    let (occ, at) = local_ms(5, 7, 30);
    let (_, d) = app
        .post(
            "/api/v1/drills",
            json!({"title": "早间演练", "at": at, "villages": [vid], "lead_times": ["2h"]}),
        )
        .await;
    let id = d["id"].as_i64().expect("id");
    let n = app.notifier();
    let r = tick(&n, occ - 2 * HOUR + MIN).await.expect("tick");
    assert_eq!((r.sent, r.deferred), (0, 1));
    let r = tick(&n, occ - 31 * MIN - MIN).await.expect("tick");
    assert_eq!((r.sent, r.deferred), (0, 1), "06:58 is still quiet");
    let r = tick(&n, occ - 30 * MIN + MIN).await.expect("tick");
    assert_eq!(r.sent, 1, "sent at 07:01");
    assert_eq!(statuses(&app, id).await, [("2h".into(), "sent".into())]);
    app.stop().await;
}
both!(quiet_hours_defer_to_the_morning);

/// A reminder goes to the roles and villages its drill names and to nobody
/// else: two villages, three roles each, and drills naming a subset.
async fn reminders_reach_exactly_the_roles_and_villages_named(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    // contact id → (village code, role)
    let mut people: Vec<(i64, &str, &str)> = Vec::new();
    let mut vids = Vec::new();
    for (i, code) in ["R1", "R2"].into_iter().enumerate() {
        let (s, v) = app.post("/api/v1/villages", json!({"code": code, "name": format!("{code}村"), "boundary": square(118.0 + 0.02 * i as f64, 25.2, 0.01)})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let vid = v["id"].as_i64().expect("id");
        vids.push(vid);
        for (order, role) in [(1, "村支书"), (2, "网格员"), (3, "护林员")] {
            let (s, c) = app
                .post("/api/v1/contacts", json!({"name": format!("{code}{role}"), "roles": [role], "village_id": vid, "phone": format!("1371111{i}{order:03}"), "escalation_order": order}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            people.push((c["id"].as_i64().expect("id"), code, role));
        }
    }
    let (_, d) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "值班", "roles": ["应急办值班"], "phone": "13900000001"}),
        )
        .await;
    let duty = d["id"].as_i64().expect("id");
    let pick = |villages: &[&str], roles: &[&str]| {
        let mut v: Vec<i64> = people
            .iter()
            .filter(|(_, c, r)| villages.contains(c) && roles.contains(r))
            .map(|(id, _, _)| *id)
            .collect();
        v.sort_unstable();
        v
    };
    let (occ, at) = local_ms(10, 10, 0);
    let cases = [
        (
            json!([vids[0]]),
            json!(["网格员"]),
            pick(&["R1"], &["网格员"]),
        ),
        (
            json!([vids[0], vids[1]]),
            json!(["村支书", "护林员"]),
            pick(&["R1", "R2"], &["村支书", "护林员"]),
        ),
        (
            json!([vids[1]]),
            json!([]),
            pick(&["R2"], &["村支书", "网格员", "护林员"]),
        ),
    ];
    let n = app.notifier();
    for (i, (villages, roles, expected)) in cases.into_iter().enumerate() {
        let (s, d) = app
            .post(
                "/api/v1/drills",
                json!({"title": format!("演练{i}"), "at": at, "villages": villages, "roles": roles, "lead_times": ["7d"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        let before = app.get("/api/v1/alerts").await.1["total"]
            .as_i64()
            .expect("total");
        // Each drill's reminder falls due in its own tick (the earlier ones are claimed).
        let r = tick(&n, occ - 7 * DAY + MIN).await.expect("tick");
        assert_eq!(r.sent, 1, "case {i}");
        let (_, list) = app.get("/api/v1/alerts").await;
        assert_eq!(list["total"].as_i64(), Some(before + 1), "case {i}");
        let alert = list["items"][0]["id"].as_i64().expect("id");
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT contact_id FROM alert_recipients WHERE alert_id = $1 AND contact_id IS NOT NULL ORDER BY contact_id",
        )
        .bind(alert)
        .fetch_all(&app.db().pool)
        .await
        .expect("recipients");
        let got: Vec<i64> = rows.into_iter().map(|r| r.0).collect();
        assert!(
            !got.contains(&duty),
            "case {i}: the township duty officer is not a drill role"
        );
        assert_eq!(
            got, expected,
            "case {i}: exactly the roles and villages named"
        );
    }
    app.stop().await;
}
both!(reminders_reach_exactly_the_roles_and_villages_named);

async fn drill_run_end_to_end_with_scorecard(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, contacts) = setup(&app, 3).await;
    let (occ, at) = local_ms(3, 9, 0);
    let (_, d) = app.post("/api/v1/drills", json!({"title": "山洪转移演练", "at": at, "villages": [vid], "roles": ["网格员"], "lead_times": ["1d"]})).await;
    let id = d["id"].as_i64().expect("id");
    let n = app.notifier();
    assert_eq!(
        tick(&n, occ - DAY + MIN).await.expect("tick").sent,
        1,
        "reminder"
    );

    for (round, answering) in [(1, 2usize), (2, 3usize)] {
        let (s, started) = app
            .post(
                &format!("/api/v1/drills/{id}/start"),
                json!({"ack_within_minutes": 10}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{started}");
        let alert = started["alert_id"].as_i64().expect("alert");
        let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
        assert_eq!(board["exercise"], true);
        for c in contacts.iter().take(answering) {
            let tok = app.token_of(alert, *c).await;
            let r = app
                .client
                .post(format!("{}/a/{tok}", app.base))
                .send()
                .await
                .expect("answer");
            assert_eq!(r.status(), StatusCode::OK);
        }
        if answering < contacts.len() {
            // The silent one is called again and the duty officer is told.
            let fired = fenghuo::notify::response::escalation::tick(
                &n,
                fenghuo::store::now_ms() + 11 * MIN,
            )
            .await
            .expect("escalate");
            assert_eq!(fired, 1);
            let (_, board) = app.get(&format!("/api/v1/alerts/{alert}")).await;
            let escalated: usize = board["villages"]
                .as_array()
                .expect("v")
                .iter()
                .map(|v| v["escalated_to"].as_array().map_or(0, Vec::len))
                .sum();
            assert_eq!(escalated, 1, "{board}");
        }
        let held = chrono::Utc::now()
            .with_timezone(&Shanghai)
            .date_naive()
            .to_string();
        let (s, rec) = app
            .post(&format!("/api/v1/drills/{id}/records"), json!({"held_on": held, "participants": ["岭头村网格员"], "duration_minutes": 45, "problems": format!("第{round}次：一人未及时回复"), "follow_up": "加强值守"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{rec}");
        assert_eq!(rec["alert_id"].as_i64(), Some(alert));
        let v = &rec["answer_stats"]["villages"][0];
        assert_eq!(
            (v["recipients"].as_i64(), v["answered"].as_i64()),
            (Some(3), Some(answering as i64)),
            "{rec}"
        );
    }
    let (_, card) = app.get(&format!("/api/v1/drills/{id}/scorecard")).await;
    let records = card["records"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    let v1 = &records[0]["villages"][0];
    let v2 = &records[1]["villages"][0];
    assert!((v1["answer_rate"].as_f64().unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(v2["answer_rate"].as_f64(), Some(1.0));
    assert!(
        (v2["answer_rate_change"].as_f64().unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-9,
        "{card}"
    );
    assert!(v2["mean_seconds"].is_number());
    app.stop().await;
}
both!(drill_run_end_to_end_with_scorecard);

async fn bad_drills_are_refused_and_site_compliance_is_tracked(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = setup(&app, 1).await;
    let ok = json!({"title": "演练", "cron": "0 9 1 */3 *", "villages": [vid]});
    let with = |k: &str, x: Value| {
        let mut v = ok.clone();
        v[k] = x;
        v
    };
    for (body, field) in [
        (with("cron", json!("0 25 * * *")), "cron"),
        (with("cron", json!("every monday")), "cron"),
        (with("lead_times", json!(["1d", "2w"])), "lead_times[1]"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (with("villages", json!(["ZZ"])), "villages[0]"),
        (with("roles", json!(["村长老"])), "roles[0]"),
        (json!({"title": "演练", "villages": [vid]}), "cron"),
        (with("at", json!("2026-12-01T09:00")), "cron"),
        (
            json!({"title": "演练", "at": "next week", "villages": [vid]}),
            "at",
        ),
    ] {
        let (s, v) = app.post("/api/v1/drills", body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body} -> {v}"
        );
    }
    assert_eq!(app.get("/api/v1/drills").await.1["total"], 0);
    let (s, d) = app.post("/api/v1/drills", ok.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    // Bad records.
    let id = d["id"].as_i64().expect("id");
    let (s, v) = app
        .post(
            &format!("/api/v1/drills/{id}/records"),
            json!({"held_on": "2099-01-01", "participants": ["x"]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("held_on"))
    );
    let (s, v) = app
        .post(
            &format!("/api/v1/drills/{id}/records"),
            json!({"held_on": "2026-01-01", "participants": []}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("participants"))
    );

    // A business whose last drill was 200 days ago is on the worklist.
    let (_, site) = app.post("/api/v1/sites", json!({"name": "烟花批发部", "kind": "fireworks_wholesale", "risk_grade": "major", "location": {"lon": 118.005, "lat": 25.205}})).await;
    let sid = site["id"].as_i64().expect("id");
    let old = (chrono::Utc::now().with_timezone(&Shanghai).date_naive() - Duration::days(200))
        .to_string();
    let (_, bd) = app
        .post(
            "/api/v1/drills",
            json!({"title": "企业演练", "cron": "0 9 1 */6 *", "site_id": sid}),
        )
        .await;
    let (s, v) = app
        .post(
            &format!("/api/v1/drills/{}/records", bd["id"]),
            json!({"held_on": old, "participants": ["企业全员"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, wl) = app.get("/api/v1/worklist").await;
    let od = wl["overdue_drills"].as_array().expect("list");
    assert_eq!(od.len(), 1, "{wl}");
    assert_eq!(
        (od[0]["site"]["id"].as_i64(), od[0]["days_since"].as_i64()),
        (Some(sid), Some(200))
    );
    app.stop().await;
}
both!(bad_drills_are_refused_and_site_compliance_is_tracked);

//! The escalation ladder (叫应阶梯), on both backends, with a loopback voice provider that
//! verifies every call's signature: SMS first; ten minutes unanswered, a call; picked up
//! without a key, the next rung comes; the next person up is told, then the leader on duty;
//! a key "1" on the call answers and the climb stops. Each rung is a step on the board.

mod common;
#[path = "support/voice_provider_sim.rs"]
mod voice_provider_sim;

use std::time::Duration;

use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};
use voice_provider_sim::{Creds, Kind};

const MIN: i64 = 60_000;

async fn board(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/alerts/{id}")).await.1
}

/// A person on the board and the rungs shown beside them.
fn steps(board: &Value, name: &str) -> Vec<(String, String)> {
    for v in board["villages"].as_array().expect("villages") {
        for list in ["answered", "not_answered"] {
            if let Some(p) = v[list]
                .as_array()
                .expect("list")
                .iter()
                .find(|p| p["name"] == name)
            {
                return p["steps"]
                    .as_array()
                    .expect("steps")
                    .iter()
                    .map(|s| {
                        (
                            s["rung"].as_str().unwrap_or_default().to_string(),
                            s["detail"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
            }
        }
    }
    panic!("{name} is not on the board: {board}")
}

async fn tick(app: &TestApp, at: i64) -> usize {
    fenghuo::notify::response::escalation::tick(&app.notifier(), at)
        .await
        .expect("tick")
}

async fn contact(app: &TestApp, body: Value) -> i64 {
    let (s, c) = app.post("/api/v1/contacts", body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().expect("id")
}

async fn climbs_rung_by_rung_and_a_key_stops_it(b: Backend) {
    let voice =
        voice_provider_sim::start(Kind::AliyunIvr, Creds::new("voice-id", "voice-secret")).await;
    let Some(app) = TestApp::start_with(b, |c| {
        voice.configure(&mut c.voice);
        c.public_base_url = "https://fenghuo.example".into();
    })
    .await
    else {
        return;
    };
    voice.deliver_to(&app.base);
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "L1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    let zhang = contact(&app, json!({"name": "张三", "roles": ["村主任"], "village_id": vid, "phone": "13800138001", "escalation_order": 1})).await;
    contact(&app, json!({"name": "李四", "roles": ["包村干部"], "village_id": vid, "phone": "13800138002", "escalation_order": 2})).await;
    contact(
        &app,
        json!({"name": "陈带班", "roles": ["带班领导"], "phone": "13800138009"}),
    )
    .await;
    // The roster has 王领导 leading every shift from yesterday to tomorrow morning: the
    // leader on duty is whoever is on shift at the rung's moment, not any holder of the role.
    let wang = contact(&app, json!({"name": "王领导", "roles": ["带班领导"], "phone": "13800138010", "escalation_order": 200})).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    for day in [today - chrono::Duration::days(1), today] {
        for (start, end) in [("08:30", "17:30"), ("17:30", "08:30")] {
            let (s, v) = app
                .post(
                    "/api/v1/duty-shifts",
                    json!({"date": day.to_string(), "start": start, "end": end, "leader_id": wang, "officer_ids": []}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
    }

    // A bad ladder is refused by its field.
    let bad = json!({"title": "山洪预警", "body": "请转移", "level": 2, "targets": {"contacts": [zhang]},
                     "ladder": [{"after_minutes": 0, "then": "call"}]});
    let (s, e) = app.post("/api/v1/alerts", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("ladder"), "{e}");

    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "溪口村危险区群众立即转移", "level": 2,
                   "targets": {"contacts": [zhang]}, "channels": ["sms"],
                   "escalate_to": ["包村干部"],
                   "ladder": [{"after_minutes": 10, "then": "call"}, {"after_minutes": 5, "then": "call"},
                              {"after_minutes": 5, "then": "next"}, {"after_minutes": 10, "then": "leader_on_duty"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, |a| a["delivery_states"]["queued"] == 0)
        .await;
    let start = fenghuo::store::now_ms();
    // The first rung's wait is the answer deadline; SMS only until then.
    assert_eq!(board(&app, id).await["ack_within_minutes"], 10);
    assert_eq!(tick(&app, start + 9 * MIN).await, 0);
    assert!(voice.calls().is_empty(), "no call before the rung");

    // Ten minutes silent: a call.
    assert_eq!(tick(&app, start + 11 * MIN).await, 1);
    let calls = voice.wait_for_calls(1, Duration::from_secs(20)).await;
    assert_eq!(calls[0].to, "+8613800138001");
    assert_eq!(voice.rejected(), 0);
    // The same moment again (another daemon, a restart) does nothing more.
    assert_eq!(tick(&app, start + 11 * MIN).await, 0);
    // Picked up, no key: reached, not answered, the climb goes on.
    assert_eq!(voice.pick_up_no_key(&calls[0]).await, StatusCode::OK);
    assert_eq!(board(&app, id).await["answered"], 0);
    assert_eq!(
        tick(&app, start + 15 * MIN).await,
        0,
        "the second call waits its 5 minutes"
    );
    assert_eq!(tick(&app, start + 17 * MIN).await, 1, "second call");
    // Five more: the next person up (the chain: 包村干部) is told.
    assert_eq!(tick(&app, start + 23 * MIN).await, 1);
    // Ten more: the leader on duty.
    assert_eq!(tick(&app, start + 34 * MIN).await, 1);
    let b1 = board(&app, id).await;
    let rungs: Vec<String> = steps(&b1, "张三").into_iter().map(|(r, _)| r).collect();
    assert_eq!(rungs, ["call", "call", "next", "leader_on_duty"], "{b1}");
    let told: Vec<String> = steps(&b1, "张三")
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.starts_with("告知"))
        .collect();
    assert!(
        told[0].contains("李四") && told[1].contains("王领导"),
        "{told:?}"
    );
    let names: Vec<&str> = b1["villages"]
        .as_array()
        .expect("villages")
        .iter()
        .flat_map(|v| v["escalated_to"].as_array().expect("escalated_to").iter())
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"李四") && names.contains(&"王领导"), "{b1}");
    assert!(
        !names.contains(&"陈带班"),
        "the roster decides, not the role: {b1}"
    );
    // The ladder is climbed: nothing more fires for 张三.
    assert_eq!(tick(&app, start + 120 * MIN).await, 0);

    // 张三 presses 1 on the first call: answered, as by a link.
    assert_eq!(voice.press(&calls[0], "1").await, StatusCode::OK);
    let b2 = board(&app, id).await;
    assert!(b2["answered"].as_i64().expect("answered") >= 1, "{b2}");
    app.stop().await;
}
both!(climbs_rung_by_rung_and_a_key_stops_it);

/// Without a voice provider a call rung sends the SMS again and says so, and a person the
/// ladder told is reached by its later calling rungs (here: an SMS again).
async fn without_voice_a_call_rung_texts_and_says_so(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "L2", "name": "岭头村", "boundary": square(118.1, 25.3, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    let a = contact(&app, json!({"name": "赵一", "roles": ["村主任"], "village_id": vid, "phone": "13900139001", "escalation_order": 1})).await;
    contact(&app, json!({"name": "钱二", "roles": ["村支书"], "village_id": vid, "phone": "13900139002", "escalation_order": 2})).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "台风预警", "body": "加固门窗", "level": 3, "targets": {"contacts": [a]},
                   "ladder": [{"after_minutes": 5, "then": "next"}, {"after_minutes": 5, "then": "call"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    app.wait_alert(id, 20, |a| a["delivery_states"]["queued"] == 0)
        .await;
    let start = fenghuo::store::now_ms();
    assert_eq!(tick(&app, start + 6 * MIN).await, 1, "next person told");
    // Both silent: 赵一's call rung and 钱二's (they climb the calling rungs).
    assert_eq!(tick(&app, start + 12 * MIN).await, 2);
    let b1 = board(&app, id).await;
    for name in ["赵一", "钱二"] {
        let last = steps(&b1, name).pop().expect("a step");
        assert_eq!(last.0, "call", "{b1}");
        assert!(last.1.contains("未配置语音通道，改发短信"), "{last:?}");
    }
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    let ladder_sms = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|d| d["purpose"] == "ladder" && d["channel"] == "sms")
        .count();
    assert_eq!(ladder_sms, 2, "{d}");
    app.stop().await;
}
both!(without_voice_a_call_rung_texts_and_says_so);

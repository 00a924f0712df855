//! 叫应 by phone call, on both backends: real HTTP to loopback stand-ins for each voice
//! provider (they verify every request's signature as the provider documents it) and their
//! receipts and key presses played back to `/hooks/voice/{provider}`, signed as the provider
//! (or the relay in front of the daemon) signs them. A key "1" answers; a call picked up
//! without it does not, and escalation goes on; a forged receipt changes nothing; the limit
//! on calls per number postpones a call and says so, and a driven clock shows the spacing.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/voice_provider_sim.rs"]
mod voice_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use std::time::Duration;

use common::{Backend, TestApp, square};
use fenghuo::notify::delivery::voice::calls::{self, Placing, Slot};
use fenghuo::notify::delivery::voice::limits::{self, Span};
use reqwest::StatusCode;
use serde_json::{Value, json};
use voice_provider_sim::{Creds, Kind, Sim};

/// Where providers call back; the simulators deliver to the daemon's real address, as a
/// proxy in front of it would.
const PUBLIC: &str = "https://fenghuo.example";
const MIN: i64 = 60_000;

async fn app_with(b: Backend, voice: &Sim, sms: Option<&sms_provider_sim::Sim>) -> Option<TestApp> {
    let app = TestApp::start_with(b, |c| {
        voice.configure(&mut c.voice);
        if let Some(s) = sms {
            s.configure(&mut c.sms);
        }
        c.public_base_url = PUBLIC.into();
    })
    .await?;
    voice.deliver_to(&app.base);
    Some(app)
}

/// A village and its contacts (name, mobile, escalation order); returns their ids.
async fn village(app: &TestApp, people: &[(&str, &str, i64)]) -> Vec<i64> {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "Y1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    let mut ids = Vec::new();
    for (name, phone, order) in people {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "roles": ["村主任"], "village_id": vid,
                                              "phone": phone, "escalation_order": order}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_i64().expect("id"));
    }
    ids
}

async fn send(app: &TestApp, contacts: &[i64], channels: &[&str]) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨Ⅱ级预警",
                   "body": "预计17:30前过程降雨200mm，请{village}立即组织危险区群众转移。详见 http://yj.example/a/1",
                   "level": 2, "targets": {"contacts": contacts}, "channels": channels,
                   "ack_within_minutes": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_i64().expect("id")
}

async fn board(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/alerts/{id}")).await.1
}

/// A person on the board, answered or not, and which list they are in.
fn person<'a>(board: &'a Value, name: &str) -> (&'a Value, &'static str) {
    for v in board["villages"].as_array().expect("villages") {
        for (list, key) in [("answered", "answered"), ("not_answered", "not_answered")] {
            if let Some(p) = v[list]
                .as_array()
                .expect("list")
                .iter()
                .find(|p| p["name"] == name)
            {
                return (p, key);
            }
        }
    }
    panic!("{name} is not on the board: {board}")
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
    d["items"].as_array().expect("items").clone()
}

/// What a call must sound like: the level and numbers as said, no link, no roman numeral,
/// under 250 characters, ending with the key.
fn spoken_well(text: &str, key: bool) {
    assert!(text.chars().count() < 250, "{text}");
    for printed in ["Ⅱ", "http", "200mm", "17:30", "yj.example"] {
        assert!(!text.contains(printed), "'{printed}' read out: {text}");
    }
    for said in ["二级", "十七点三十分", "二百毫米", "溪口村"] {
        assert!(text.contains(said), "'{said}' missing: {text}");
    }
    let close = if key {
        "收到请按1。"
    } else {
        "收到请回复短信1。"
    };
    assert!(text.ends_with(close), "{text}");
}

/// SMS and call go out together; the SMS is not answered, the call's key "1" is (a forged
/// key first changes nothing); the other person picks up without a key: reached, not
/// answered, and at the deadline escalation calls the next person up while the repeat to
/// the silent one waits for the number's limit.
async fn sms_unanswered_call_key_one_answers_no_key_escalates(b: Backend) {
    let voice =
        voice_provider_sim::start(Kind::AliyunIvr, Creds::new("voice-id", "voice-secret")).await;
    let sms = sms_provider_sim::start(
        sms_provider_sim::Kind::Webhook,
        sms_provider_sim::Creds::new("", "hook-secret"),
    )
    .await;
    let Some(app) = app_with(b, &voice, Some(&sms)).await else {
        return;
    };
    let ids = village(
        &app,
        &[
            ("张三", "13800138001", 1),
            ("李四", "13800138002", 2),
            ("王五", "13800138003", 3),
        ],
    )
    .await;
    let id = send(&app, &ids[..2], &["sms", "voice"]).await;
    sms.wait_for_accepted(2, Duration::from_secs(20)).await;
    let calls = voice.wait_for_calls(2, Duration::from_secs(20)).await;
    assert_eq!(voice.rejected(), 0, "every call request verified");
    for c in &calls {
        assert_eq!(c.action, "IvrCall");
        spoken_well(&c.text, true);
    }
    let call_to = |n: &str| calls.iter().find(|c| c.to == n).cloned().expect("called");
    let (zhang, li) = (call_to("+8613800138001"), call_to("+8613800138002"));
    let b0 = board(&app, id).await;
    assert_eq!(b0["answered"], 0, "the SMS went, nobody answered: {b0}");

    // A forged key press is refused and answers nobody.
    assert_eq!(voice.forged_press(&zhang, "1").await, StatusCode::FORBIDDEN);
    assert_eq!(board(&app, id).await["answered"], 0);

    // 张三 presses 1: answered by phone key, recorded like a link answer.
    assert_eq!(voice.press(&zhang, "1").await, StatusCode::OK);
    let b1 = board(&app, id).await;
    assert_eq!(b1["answered"], 1, "{b1}");
    let (p, list) = person(&b1, "张三");
    assert_eq!(
        (list, p["via"].as_str()),
        ("answered", Some("voice")),
        "{p}"
    );
    assert_eq!(p["calls"][0]["outcome"], "answered", "{p}");
    assert_eq!(p["calls"][0]["duration_secs"], 25, "{p}");
    // The receipts again (a provider's retry): still one answer.
    assert_eq!(voice.press(&zhang, "1").await, StatusCode::OK);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM answers WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("answers");
    assert_eq!(n, 1, "a replayed key answers nothing more");

    // 李四 picks up and listens, no key: reached, not answered.
    assert_eq!(voice.pick_up_no_key(&li).await, StatusCode::OK);
    let b2 = board(&app, id).await;
    assert_eq!(b2["answered"], 1, "{b2}");
    let (p, list) = person(&b2, "李四");
    assert_eq!(list, "not_answered", "{p}");
    assert_eq!(p["calls"][0]["outcome"], "reached", "{p}");
    assert_eq!(p["calls"][0]["outcome_words"], "接通未按键", "{p}");
    assert_eq!(p["calls"][0]["duration_secs"], 40, "{p}");

    // The deadline passes (a driven clock): 李四 is called again and 王五, next up, is told.
    let n = app.notifier();
    let fired =
        fenghuo::notify::response::escalation::tick(&n, fenghuo::store::now_ms() + 11 * MIN)
            .await
            .expect("tick");
    assert_eq!(fired, 1, "only 李四 was silent");
    let calls = voice.wait_for_calls(3, Duration::from_secs(20)).await;
    let wang = calls
        .iter()
        .find(|c| c.to == "+8613800138003")
        .expect("王五 called");
    assert!(
        wang.text.contains("催办") && wang.text.contains("李四"),
        "{}",
        wang.text
    );
    let b3 = board(&app, id).await;
    let escalated: Vec<&str> = b3["villages"][0]["escalated_to"]
        .as_array()
        .expect("escalated_to")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(escalated, ["王五"], "{b3}");
    // The repeat call to 李四 came within the minute of the first: it waits, and says why.
    let repeat = loop {
        let ds = deliveries(&app, id).await;
        let r = ds
            .iter()
            .find(|d| d["channel"] == "voice" && d["purpose"] == "repeat")
            .cloned()
            .expect("a repeat call");
        if r["last_error"].is_string() {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(repeat["state"], "queued", "{repeat}");
    let why = repeat["last_error"].as_str().expect("reason");
    assert!(
        why.starts_with("阿里云限制：同一号码每分钟1次，已顺延至 "),
        "{why}"
    );
    assert_eq!(
        voice
            .calls()
            .iter()
            .filter(|c| c.to == "+8613800138002")
            .count(),
        1,
        "the provider never saw the held-back call"
    );
    app.stop().await;
}
both!(sms_unanswered_call_key_one_answers_no_key_escalates);

/// A second call to a number within the minute is postponed to the first allowed moment,
/// with the reason on the notice's page (the API's board and the dashboard's); a driven clock
/// shows the spacing of 1 a minute, then 5 an hour; the provider's own flow control answer
/// waits, it does not fail.
async fn the_per_number_limit_postpones_and_says_so(b: Backend) {
    let voice =
        voice_provider_sim::start(Kind::AliyunIvr, Creds::new("voice-id", "voice-secret")).await;
    let Some(app) = app_with(b, &voice, None).await else {
        return;
    };
    let ids = village(
        &app,
        &[("陈支书", "13900139001", 1), ("林主任", "13900139002", 2)],
    )
    .await;
    let first = send(&app, &ids[..1], &["voice"]).await;
    voice.wait_for_calls(1, Duration::from_secs(20)).await;
    let number = "+8613900139001";
    let (t1,): (i64,) = sqlx::query_as("SELECT at FROM voice_calls WHERE alert_id = $1")
        .bind(first)
        .fetch_one(&app.db().pool)
        .await
        .expect("the first call");
    let second = send(&app, &ids[..1], &["voice"]).await;
    let held = loop {
        let ds = deliveries(&app, second).await;
        if ds[0]["last_error"].is_string() {
            break ds[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let tz = app.cfg.tz();
    let want = limits::reason(
        "aliyun",
        limits::Wait {
            until: t1 + MIN,
            span: Span::Minute,
            limit: 1,
        },
        t1,
        tz,
    );
    assert_eq!(held["state"], "queued", "{held}");
    assert_eq!(held["last_error"].as_str(), Some(want.as_str()), "{held}");
    assert_eq!(
        held["attempts"], 0,
        "a postponed call is not an attempt: {held}"
    );
    assert_eq!(held["attempt_log"][0]["outcome"], "postponed", "{held}");
    let (due,): (i64,) = sqlx::query_as("SELECT due_at FROM deliveries WHERE id = $1")
        .bind(held["id"].as_i64().expect("id"))
        .fetch_one(&app.db().pool)
        .await
        .expect("due");
    assert_eq!(
        due,
        t1 + MIN,
        "due exactly when the minute's limit frees the number"
    );
    assert_eq!(voice.accepted().len(), 1, "the provider saw one call");
    // On the notice's page, beside the person.
    let b2 = board(&app, second).await;
    let (p, _) = person(&b2, "陈支书");
    assert_eq!(p["failed_deliveries"][0]["retrying"], true, "{p}");
    assert_eq!(
        p["failed_deliveries"][0]["error"].as_str(),
        Some(want.as_str()),
        "{p}"
    );
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "duty",
        fenghuo::auth::Role::Viewer,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("duty", "correct-horse-9").await;
    let page = web.get(&format!("/alerts/{second}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("电话待拨：{want}")),
        "{}",
        page.body
    );

    // The driven clock: the number is held until exactly a minute after the call…
    let limits_cfg = app.cfg.voice.limits;
    let db = app.db();
    let w = calls::wait_for(db, number, t1 + MIN - 1, limits_cfg)
        .await
        .expect("read");
    assert_eq!(w.map(|w| (w.until, w.span)), Some((t1 + MIN, Span::Minute)));
    // …and the engine's own slot-taking, minute by minute, places four more calls a minute
    // apart; the sixth in the hour waits until the first is an hour old.
    let delivery = held["id"].as_i64().expect("id");
    let placing = Placing {
        delivery_id: delivery,
        alert_id: second,
        number,
        provider: "aliyun",
    };
    let mut placed = vec![t1];
    let mut t = t1;
    let wait = loop {
        t += MIN;
        match calls::reserve(db, &placing, t, limits_cfg)
            .await
            .expect("reserve")
        {
            Slot::Go(_) => placed.push(t),
            Slot::Wait(w) => break w,
        }
    };
    assert_eq!(placed, (0..5).map(|k| t1 + k * MIN).collect::<Vec<_>>());
    assert_eq!(
        (wait.until, wait.span, wait.limit),
        (t1 + 60 * MIN, Span::Hour, 5)
    );
    assert!(limits::reason("aliyun", wait, t, tz).contains("同一号码每小时5次"));
    assert_eq!(
        calls::reserve(db, &placing, t1 + 60 * MIN - 1, limits_cfg)
            .await
            .expect("reserve"),
        Slot::Wait(wait)
    );

    // Answered meanwhile (here by a dispatcher after phoning): when its time comes (the due
    // time moved to now, as if the minute had passed) the held-back call is not made.
    let (s, v) = app
        .post(
            &format!("/api/v1/alerts/{second}/answers"),
            json!({"contact_id": ids[0], "note": "电话联系上"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    sqlx::query("UPDATE deliveries SET due_at = $1 WHERE id = $2")
        .bind(fenghuo::store::now_ms())
        .bind(delivery)
        .execute(&db.pool)
        .await
        .expect("due now");
    app.notifier().wake.notify_waiters();
    let cancelled = app
        .wait_alert(second, 20, |v| v["delivery_states"]["cancelled"] == 1)
        .await;
    assert_eq!(cancelled["delivery_states"]["queued"], 0, "{cancelled}");
    assert_eq!(
        voice.accepted().len(),
        1,
        "nobody is called who has answered"
    );

    // The provider's own flow control (a call made from elsewhere on the account): the call
    // waits, and is not failed.
    voice.limit_next(1);
    let third = send(&app, &ids[1..2], &["voice"]).await;
    let limited = loop {
        let ds = deliveries(&app, third).await;
        if ds[0]["last_error"].is_string() {
            break ds[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(limited["state"], "queued", "{limited}");
    let why = limited["last_error"].as_str().expect("reason");
    assert!(
        why.starts_with("阿里云限流（")
            && why.contains("isv.BUSINESS_LIMIT_CONTROL")
            && why.contains("已顺延至 "),
        "{why}"
    );
    let (counts,): (i64,) = sqlx::query_as("SELECT counts FROM voice_calls WHERE alert_id = $1")
        .bind(third)
        .fetch_one(&db.pool)
        .await
        .expect("call");
    assert_eq!(
        counts, 0,
        "a call the provider did not place does not count"
    );
    app.stop().await;
}
both!(the_per_number_limit_postpones_and_says_so);

/// Each provider: its call request verified by the simulator as the provider documents it;
/// its key press and receipts understood; a forged receipt refused (403) and nothing changed.
async fn every_provider_calls_signed_and_reads_its_receipts(b: Backend) {
    for kind in [
        Kind::AliyunIvr,
        Kind::AliyunTts,
        Kind::Tencent,
        Kind::Twilio,
        Kind::Webhook,
    ] {
        let voice =
            voice_provider_sim::start(kind, Creds::new("AC-voice-id", "voice-s3cret")).await;
        let Some(app) = app_with(b, &voice, None).await else {
            return;
        };
        let ids = village(
            &app,
            &[("周一", "13700137001", 1), ("吴二", "13700137002", 2)],
        )
        .await;
        let id = send(&app, &ids, &["voice"]).await;
        let calls = voice.wait_for_calls(2, Duration::from_secs(20)).await;
        assert_eq!(
            voice.rejected(),
            0,
            "{kind:?}: a request failed verification"
        );
        let keys = kind != Kind::AliyunTts;
        for c in &calls {
            assert!(c.signature_ok, "{kind:?}");
            spoken_well(&c.text, keys);
        }
        // The call's id is the delivery's provider id.
        app.wait_alert(id, 20, |v| v["delivery_states"]["sent"] == 2)
            .await;
        for d in deliveries(&app, id).await {
            assert!(
                calls
                    .iter()
                    .any(|c| Some(c.call_id.as_str()) == d["provider_id"].as_str()),
                "{kind:?}: {d}"
            );
        }
        let (first, second) = (&calls[0], &calls[1]);
        let name_of = |c: &voice_provider_sim::Call| {
            if c.to == "+8613700137001" {
                "周一"
            } else {
                "吴二"
            }
        };
        assert_eq!(
            voice.forged_press(first, "1").await,
            StatusCode::FORBIDDEN,
            "{kind:?}"
        );
        assert_eq!(
            board(&app, id).await["answered"],
            0,
            "{kind:?}: a forgery answered"
        );
        if keys {
            assert_eq!(voice.press(first, "1").await, StatusCode::OK, "{kind:?}");
            let b1 = board(&app, id).await;
            let (p, list) = person(&b1, name_of(first));
            assert_eq!(
                (list, p["via"].as_str()),
                ("answered", Some("voice")),
                "{kind:?}: {p}"
            );
        } else {
            // Read out only: picking up is all a call can say.
            assert_eq!(voice.pick_up_no_key(first).await, StatusCode::OK);
            let b1 = board(&app, id).await;
            let (p, list) = person(&b1, name_of(first));
            assert_eq!(
                (list, &p["calls"][0]["outcome"]),
                ("not_answered", &json!("reached"))
            );
        }
        let (status, want) = if kind == Kind::Webhook {
            (voice.busy(second).await, "busy")
        } else {
            (voice.no_answer(second).await, "no_answer")
        };
        assert_eq!(status, StatusCode::OK, "{kind:?}");
        let b2 = board(&app, id).await;
        let (p, list) = person(&b2, name_of(second));
        assert_eq!(
            (list, &p["calls"][0]["outcome"]),
            ("not_answered", &json!(want)),
            "{kind:?}: {p}"
        );
        app.stop().await;
    }
}
both!(every_provider_calls_signed_and_reads_its_receipts);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_by_the_provider_and_voice_off_is_refused_by_us() {
    let voice = voice_provider_sim::start(Kind::Tencent, Creds::new("AKIDvoice", "right")).await;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        voice.configure(&mut c.voice);
        c.voice.tencent.secret_key = "wrong".into();
    })
    .await
    .expect("app");
    let ids = village(&app, &[("郑三", "13600136001", 1)]).await;
    let id = send(&app, &ids, &["voice"]).await;
    let failed = app
        .wait_alert(id, 20, |v| v["delivery_states"]["failed"] == 1)
        .await;
    let (p, _) = person(&failed, "郑三");
    assert!(
        p["failed_deliveries"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("AuthFailure")),
        "{p}"
    );
    assert!(voice.rejected() >= 1);
    app.stop().await;

    // Voice off (the default): a notice asking for it is refused, naming the field.
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let ids = village(&app, &[("郑三", "13600136001", 1)]).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "t", "body": "b", "targets": {"contacts": ids}, "channels": ["sms", "voice"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "channels", "{v}");
    app.stop().await;
}

/// The demo's sample notice shows its calls beside each person, on the API's board and the
/// dashboard's: answered by key, reached without a key, not answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_notice_shows_its_calls() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, list) = app.get("/api/v1/alerts").await;
    let sample = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["title"] == "暴雨橙色预警（示例）")
        .cloned()
        .expect("the sample notice");
    let id = sample["id"].as_i64().expect("id");
    let b = board(&app, id).await;
    let mut outcomes: Vec<String> = b["villages"][0]["answered"]
        .as_array()
        .into_iter()
        .chain(b["villages"][0]["not_answered"].as_array())
        .flatten()
        .filter_map(|p| p["calls"][0]["outcome"].as_str().map(str::to_string))
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["answered", "no_answer", "reached"], "{b}");
    assert_eq!(b["answered"], 1, "{b}");
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "duty",
        fenghuo::auth::Role::Viewer,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("duty", "correct-horse-9").await;
    let page = web.get(&format!("/alerts/{id}")).await;
    for words in [
        "按键确认（通话32秒）",
        "接通未按键（通话41秒）",
        "无人接听",
        "电话按键",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    app.stop().await;
}

//! Work-group robots (WeCom / DingTalk / Feishu) against a loopback
//! simulator that checks each provider's signature and body shape, on a
//! driven clock (`notify::robots::tick(n, now)`), on both backends:
//!
//! - a notice to two villages posts a signed, well-formed summary to the
//!   office's group and to each village's group (the village's @mentioning
//!   its 村支书 / 包村干部), none to an untouched village; answers then
//!   change the counts posted (no sooner than `robots.update_secs`), the
//!   overdue are counted, and 全部叫应 ends it; the robots add no answer;
//! - a wrong secret or key is refused by the simulator and shown failed
//!   with the provider's message; an HTTP 502 is tried again after backoff;
//! - 25 posts to one robot go 20 in the first minute, 5 in the next;
//! - a township's robots are its own;
//! - queued posts survive a restart and are sent once; a post whose send was
//!   cut short is sent again;
//! - the dashboard registers a robot (secret masked, kept when left empty)
//!   and sends its test message;
//! - a failure in the robots' part never holds a notice back.

mod common;
#[path = "support/robot_sim.rs"]
mod robot_sim;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::notify::robots::{TickReport, tick};
use fenghuo::store::Scope;
use reqwest::StatusCode;
use robot_sim::{Fail, Robot};
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";
const MIN: i64 = 60_000;

async fn start(b: Backend) -> Option<TestApp> {
    TestApp::start_with(b, |c| {
        // The test drives the rounds with its own clock.
        c.robots.check_secs = 0.0;
        c.robots.extra_hosts = vec!["127.0.0.1".into()];
        c.public_base_url = "https://fh.example".into();
    })
    .await
}

async fn village(app: &TestApp, code: &str, name: &str, lon: f64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": name, "boundary": square(lon, 25.0, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("village id")
}

async fn contact(app: &TestApp, name: &str, role: &str, village: i64, phone: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/contacts",
            json!({"name": name, "roles": [role], "village_id": village, "phone": phone}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("contact id")
}

async fn robot_as(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = app
        .send_as(token, "POST", "/api/v1/group-robots", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn robot(app: &TestApp, body: Value) -> Value {
    robot_as(app, &app.admin.clone(), body).await
}

async fn notice(app: &TestApp, villages: &[i64]) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪灾害预警", "level": "blue", "channels": ["sms"], "ack_within_minutes": 30,
                   "body": "{name}：{village}上游出现短时强降雨，请立即巡查。\n沿溪群众准备转移。请于{deadline}前点击{link}确认。",
                   "targets": {"villages": villages}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_i64().expect("alert id")
}

async fn answer(app: &TestApp, alert: i64, contact: i64) {
    let token = app.token_of(alert, contact).await;
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success(), "{}", r.status());
}

async fn group_posts(app: &TestApp, alert: i64) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/api/v1/alerts/{alert}/group-posts"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn round(app: &TestApp, now: i64) -> TickReport {
    tick(&app.notifier(), now).await.expect("robot round")
}

async fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    sqlx::query_as::<_, (String,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&app.db().pool)
        .await
        .expect(sql)
        .into_iter()
        .map(|r| r.0)
        .collect()
}

async fn signed_in(app: &TestApp, name: &str, role: Role) -> Web {
    fenghuo::accounts::users::create(app.db(), "system", name, role, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in(name, PASSWORD).await;
    web
}

async fn summaries_and_counts_reach_the_groups(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    let v2 = village(&app, "V02", "西坑村", 118.1).await;
    let v3 = village(&app, "V03", "南坑村", 118.2).await;
    let a = contact(&app, "张书记", "村支书", v1, "13800000001").await;
    let bb = contact(&app, "李网格", "网格员", v1, "13800000002").await;
    let c = contact(&app, "王书记", "村支书", v2, "13800000003").await;
    let d = contact(&app, "赵干部", "包村干部", v2, "13800000004").await;
    contact(&app, "钱书记", "村支书", v3, "13800000005").await;

    let office = robot(
        &app,
        json!({"name": "乡应急办工作群", "kind": "wecom", "webhook_url": sim.wecom("office-key-0001")}),
    )
    .await;
    let ding = robot(
        &app,
        json!({"name": "东坑村群", "kind": "dingtalk", "village_id": v1,
               "webhook_url": sim.dingtalk("ding-token-0001", "SECding-secret-0001"), "secret": "SECding-secret-0001"}),
    )
    .await;
    robot(
        &app,
        json!({"name": "西坑村群", "kind": "feishu", "village_id": v2,
               "webhook_url": sim.feishu("feishu-hook-0001", Some("feishu-secret-0001")), "secret": "feishu-secret-0001"}),
    )
    .await;
    robot(
        &app,
        json!({"name": "西坑村企业微信群", "kind": "wecom", "village_id": v2, "webhook_url": sim.wecom("west-key-0001")}),
    )
    .await;
    robot(
        &app,
        json!({"name": "南坑村群", "kind": "wecom", "village_id": v3, "webhook_url": sim.wecom("south-key-0001")}),
    )
    .await;
    // Keys and secrets are masked in every answer and never audited.
    assert!(
        office["webhook"]
            .as_str()
            .is_some_and(|w| w.ends_with("/cgi-bin/webhook/send?key=****0001")),
        "{office}"
    );
    assert_eq!(ding["secret"], "SEC****0001", "{ding}");
    let (_, list) = app.get("/api/v1/group-robots").await;
    assert_eq!(list["total"], 5, "{list}");
    let audit = texts(
        &app,
        "SELECT COALESCE(after, '') FROM audit_log WHERE entity = 'group_robot'",
    )
    .await;
    assert_eq!(audit.len(), 5);
    for secret in [
        "office-key-0001",
        "ding-token-0001",
        "ding-secret-0001",
        "feishu-hook-0001",
        "feishu-secret-0001",
        "south-key-0001",
        "west-key-0001",
    ] {
        assert!(!list.to_string().contains(secret), "{secret} in {list}");
        assert!(
            !audit.iter().any(|e| e.contains(secret)),
            "{secret} audited: {audit:?}"
        );
    }

    let id = notice(&app, &[v1, v2]).await;
    // Queued with the notice: the office's group and the two villages' only.
    let posts = group_posts(&app, id).await;
    let mut queued: Vec<(&str, &str, &str)> = posts
        .iter()
        .map(|p| {
            (
                p["robot"].as_str().unwrap_or(""),
                p["kind"].as_str().unwrap_or(""),
                p["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    queued.sort();
    assert_eq!(
        queued,
        vec![
            ("东坑村群", "summary", "queued"),
            ("乡应急办工作群", "summary", "queued"),
            ("西坑村企业微信群", "summary", "queued"),
            ("西坑村群", "summary", "queued"),
        ]
    );

    let t0 = fenghuo::store::now_ms();
    let r = round(&app, t0).await;
    assert_eq!((r.sent, r.failed, r.written), (4, 0, 0), "{r:?}");
    let board = format!("https://fh.example/alerts/{id}");
    let o = sim.posted_to("office-key-0001");
    assert_eq!(o.len(), 1, "{o:?}");
    assert_eq!(
        (o[0].robot, o[0].msgtype.as_str()),
        (Robot::Wecom, "markdown")
    );
    let text = &o[0].content;
    assert!(
        text.starts_with("### 【Ⅳ级（蓝色）】山洪灾害预警\n"),
        "{text}"
    );
    for want in [
        "> 各位：各村上游出现短时强降雨",
        "涉及村：东坑村、西坑村",
        "叫应对象：4 人，已叫应 0 人",
        "须在 30 分钟内",
        board.as_str(),
        "在群里回复不算叫应",
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    let dg = sim.posted_to("ding-token-0001");
    assert_eq!(dg.len(), 1, "{dg:?}");
    assert!(dg[0].signed, "DingTalk post not signed: {dg:?}");
    let ts: i64 = dg[0]
        .timestamp
        .as_deref()
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    assert!((ts - fenghuo::store::now_ms()).abs() < 10 * MIN, "ms: {ts}");
    assert_eq!(dg[0].msgtype, "markdown");
    assert!(
        dg[0]
            .title
            .as_deref()
            .is_some_and(|t| t.starts_with("【Ⅳ级"))
    );
    assert_eq!(dg[0].mentions, vec!["13800000001".to_string()]);
    assert!(dg[0].content.contains("@13800000001"), "{}", dg[0].content);
    assert!(
        dg[0].content.contains("> 各位：东坑村上游出现"),
        "{}",
        dg[0].content
    );
    assert!(
        dg[0].content.contains("叫应对象：2 人"),
        "{}",
        dg[0].content
    );
    let fs = sim.posted_to("feishu-hook-0001");
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(fs[0].signed && fs[0].msgtype == "text", "{fs:?}");
    assert_eq!(fs[0].body["timestamp"].as_str().map(str::len), Some(10));
    assert!(
        fs[0].content.contains("「各位：西坑村上游出现"),
        "{}",
        fs[0].content
    );
    assert!(!fs[0].content.contains("###"), "{}", fs[0].content);
    // WeCom's markdown cannot @mention: a village's WeCom group gets text
    // naming its 村支书 and 包村干部.
    let w = sim.posted_to("west-key-0001");
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].msgtype, "text");
    assert_eq!(
        w[0].mentions,
        vec!["13800000003".to_string(), "13800000004".to_string()]
    );
    assert!(
        w[0].content.starts_with("【Ⅳ级（蓝色）】山洪灾害预警\n"),
        "{}",
        w[0].content
    );
    assert!(
        w[0].content.contains("「各位：西坑村上游出现"),
        "{}",
        w[0].content
    );
    assert!(sim.posted_to("south-key-0001").is_empty());
    for p in sim.received() {
        // Group members are not recipients: never an answer link.
        assert!(!p.content.contains("/a/"), "{}", p.content);
        assert!(p.accepted, "{p:?}");
    }

    // An answer: the counts change, posted no sooner than update_secs (300).
    answer(&app, id, a).await;
    let r = round(&app, t0 + MIN).await;
    assert_eq!((r.written, r.sent), (0, 0), "{r:?}");
    let r = round(&app, t0 + 6 * MIN).await;
    assert_eq!((r.written, r.sent), (2, 2), "{r:?}");
    let o = sim.posted_to("office-key-0001");
    let text = &o[1].content;
    assert!(text.starts_with("### 【叫应进展】【Ⅳ级（蓝色）】山洪灾害预警\n已叫应 1/4（25%）\n- 东坑村 1/2\n- 西坑村 0/2\n"), "{text}");
    let dg = sim.posted_to("ding-token-0001");
    assert_eq!(dg.len(), 2);
    assert!(dg[1].signed);
    assert!(
        dg[1].content.contains("已叫应 1/2（50%）"),
        "{}",
        dg[1].content
    );
    assert!(!dg[1].content.contains("西坑村"), "{}", dg[1].content);
    // The other village's groups: nothing changed, nothing posted.
    assert_eq!(sim.posted_to("feishu-hook-0001").len(), 1);
    assert_eq!(sim.posted_to("west-key-0001").len(), 1);

    // Past the 30-minute window the silent are overdue.
    let r = round(&app, t0 + 31 * MIN).await;
    assert_eq!((r.written, r.sent), (4, 4), "{r:?}");
    let text = &sim.posted_to("office-key-0001")[2].content;
    assert!(
        text.contains(
            "- 东坑村 1/2，超时未叫应 1 人\n- 西坑村 0/2，超时未叫应 2 人\n超时未叫应 3 人"
        ),
        "{text}"
    );
    let fs = sim.posted_to("feishu-hook-0001");
    assert!(
        fs[1].content.contains("已叫应 0/2（0%）"),
        "{}",
        fs[1].content
    );
    assert!(
        fs[1].content.contains("超时未叫应 2 人"),
        "{}",
        fs[1].content
    );

    // Everyone answers: 全部叫应 at once, then nothing more.
    for who in [bb, c, d] {
        answer(&app, id, who).await;
    }
    let r = round(&app, t0 + 31 * MIN + 1000).await;
    assert_eq!((r.written, r.sent), (4, 4), "{r:?}");
    let last = sim.posted_to("office-key-0001");
    assert!(
        last[3]
            .content
            .starts_with("### 【全部叫应】【Ⅳ级（蓝色）】山洪灾害预警\n4 人已全部叫应确认"),
        "{}",
        last[3].content
    );
    assert!(
        sim.posted_to("ding-token-0001")[3]
            .content
            .contains("2 人已全部叫应确认")
    );
    let r = round(&app, t0 + 120 * MIN).await;
    assert_eq!(r, TickReport::default());
    assert_eq!(sim.received().len(), 4 + 4 + 3 + 3);

    // The robots answered for nobody: the four answers are the people's.
    let (_, st) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(st["answered"], 4, "{st}");
    assert_eq!(st["delivery_states"]["total"], 4, "{st}");
    let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM answers WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("answers");
    assert_eq!(n.0, 4);

    // The notice's page lists the posts.
    let web = signed_in(&app, "wang", Role::Viewer).await;
    let page = web.get(&format!("/alerts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "工作群通报",
        "乡应急办工作群",
        "东坑村群",
        "西坑村群",
        "西坑村企业微信群",
        "已发送",
        "全部叫应",
        "叫应进展",
    ] {
        assert!(page.body.contains(want), "{want} not on the page");
    }
    assert!(!page.body.contains("南坑村群"));
    app.stop().await;
}

async fn refusals_are_shown_and_passing_failures_retried(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    let a = contact(&app, "张书记", "村支书", v1, "13800000001").await;
    // Registration checks the provider's rules first.
    for (body, field) in [
        (
            json!({"name": "x", "kind": "dingtalk", "webhook_url": sim.dingtalk("t", "SECx"), "secret": "no-sec-prefix"}),
            "secret",
        ),
        (
            json!({"name": "x", "kind": "dingtalk", "webhook_url": sim.dingtalk("t", "SECx")}),
            "secret",
        ),
        (
            json!({"name": "x", "kind": "wecom", "webhook_url": "https://evil.example/cgi-bin/webhook/send?key=k"}),
            "webhook_url",
        ),
        (
            json!({"name": "x", "kind": "feishu", "webhook_url": sim.wecom("k")}),
            "webhook_url",
        ),
        (
            json!({"name": "x", "kind": "wecom", "webhook_url": sim.wecom("k"), "village_id": 999_999}),
            "village_id",
        ),
    ] {
        let (s, v) = app.post("/api/v1/group-robots", body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {v}"
        );
    }
    let right = sim.dingtalk("ding-token-0002", "SECright-secret-0002");
    robot(
        &app,
        json!({"name": "钉钉群", "kind": "dingtalk", "village_id": v1, "webhook_url": right, "secret": "SECwrong-secret-0002"}),
    )
    .await;
    let hook = sim.feishu("feishu-hook-0002", Some("right-feishu-secret"));
    robot(
        &app,
        json!({"name": "飞书群", "kind": "feishu", "webhook_url": hook, "secret": "wrong-feishu-secret"}),
    )
    .await;
    robot(
        &app,
        json!({"name": "未知key群", "kind": "wecom", "webhook_url": format!("{}/cgi-bin/webhook/send?key=unknown-key", sim.base)}),
    )
    .await;
    robot(
        &app,
        json!({"name": "时好时坏群", "kind": "wecom", "webhook_url": sim.wecom("flaky-key-0002")}),
    )
    .await;
    sim.fail_next(1, Fail::Http(502));
    let id = notice(&app, &[v1]).await;
    let t0 = fenghuo::store::now_ms();
    let r = round(&app, t0).await;
    assert_eq!((r.sent, r.failed, r.retried), (0, 3, 1), "{r:?}");
    let by_robot = |posts: &[Value], name: &str| -> Value {
        posts
            .iter()
            .find(|p| p["robot"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let posts = group_posts(&app, id).await;
    for (name, code) in [
        ("钉钉群", "310000"),
        ("飞书群", "19021"),
        ("未知key群", "93000"),
    ] {
        let p = by_robot(&posts, name);
        assert_eq!(p["status"], "failed", "{p}");
        assert!(
            p["error"].as_str().is_some_and(|e| e.contains(code)),
            "{name}: {p}"
        );
    }
    let flaky = by_robot(&posts, "时好时坏群");
    assert_eq!(
        (flaky["status"].as_str(), flaky["attempts"].as_i64()),
        (Some("queued"), Some(1)),
        "{flaky}"
    );
    assert!(
        flaky["error"].as_str().is_some_and(|e| e.contains("502")),
        "{flaky}"
    );
    // The simulator refused the bad signatures.
    let refused: Vec<(Robot, i64, bool)> = sim
        .received()
        .iter()
        .filter(|p| !p.accepted)
        .map(|p| (p.robot, p.code, p.signed))
        .collect();
    assert!(
        refused.contains(&(Robot::Dingtalk, 310000, false)),
        "{refused:?}"
    );
    assert!(
        refused.contains(&(Robot::Feishu, 19021, false)),
        "{refused:?}"
    );
    assert!(
        refused.contains(&(Robot::Wecom, 93000, false)),
        "{refused:?}"
    );
    // Backoff: not before 10 s, then it goes.
    assert_eq!(round(&app, t0 + 5_000).await.sent, 0);
    let r = round(&app, t0 + 11_000).await;
    assert_eq!((r.sent, r.failed), (1, 0), "{r:?}");
    assert_eq!(sim.posted_to("flaky-key-0002").len(), 1);
    // A group that never got the summary gets no counts.
    answer(&app, id, a).await;
    let r = round(&app, t0 + 10 * MIN).await;
    assert_eq!(r.written, 1, "only the flaky group's final: {r:?}");
    assert_eq!(sim.posted_to("flaky-key-0002").len(), 2);
    assert!(sim.posted_to("ding-token-0002").is_empty());
    // The page says which failed and why.
    let web = signed_in(&app, "wang", Role::Viewer).await;
    let page = web.get(&format!("/alerts/{id}")).await;
    for want in [
        "发送失败",
        "钉钉 errcode 310000",
        "飞书 code 19021",
        "企业微信 errcode 93000",
    ] {
        assert!(page.body.contains(want), "{want} not on the page");
    }
    app.stop().await;
}

async fn twenty_a_minute(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let r = robot(
        &app,
        json!({"name": "乡应急办工作群", "kind": "wecom", "webhook_url": sim.wecom("busy-key-0003")}),
    )
    .await;
    let rid = r["id"].as_i64().expect("robot id");
    let dispatcher = app.token("dispatcher").await;
    for _ in 0..25 {
        let (s, v) = app
            .send_as(
                &dispatcher,
                "POST",
                &format!("/api/v1/group-robots/{rid}/test"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let t0 = fenghuo::store::now_ms();
    let r = round(&app, t0).await;
    assert_eq!((r.sent, r.held), (20, 1), "{r:?}");
    assert_eq!(sim.posted_to("busy-key-0003").len(), 20);
    let r = round(&app, t0 + 30_000).await;
    assert_eq!((r.sent, r.held), (0, 1), "{r:?}");
    let r = round(&app, t0 + 61_000).await;
    assert_eq!((r.sent, r.held), (5, 0), "{r:?}");
    let got = sim.posted_to("busy-key-0003");
    assert_eq!(got.len(), 25);
    assert!(got.iter().all(|p| p.content.contains("【测试】")));
    // On the round's clock no minute holds more than 20 tries.
    let at: Vec<(i64,)> =
        sqlx::query_as("SELECT at FROM robot_attempts WHERE robot_id = $1 ORDER BY at")
            .bind(rid)
            .fetch_all(&app.db().pool)
            .await
            .expect("attempts");
    assert_eq!(at.len(), 25);
    for w in at.windows(21) {
        assert!(w[20].0 - w[0].0 >= MIN, "21 tries within a minute: {at:?}");
    }
    let (_, posts) = app.get(&format!("/api/v1/group-robots/{rid}/posts")).await;
    assert_eq!(posts["items"].as_array().map(Vec::len), Some(25));
    assert!(
        posts["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|p| p["status"] == "sent"))
    );
    app.stop().await;
}

async fn robots_are_their_townships(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let db = app.db().clone();
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    contact(&app, "张书记", "村支书", v1, "13800000001").await;
    let t2 = fenghuo::registry::townships::add(&db, "350524102000", "乙镇", false)
        .await
        .expect("township 2")
        .id;
    let v2 = village(&app, "Y01", "乙镇一村", 118.5).await;
    sqlx::query("UPDATE villages SET township_id = $1 WHERE id = $2")
        .bind(t2)
        .bind(v2)
        .execute(&db.pool)
        .await
        .expect("move");
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
    let mine = robot(
        &app,
        json!({"name": "甲乡工作群", "kind": "wecom", "webhook_url": sim.wecom("jia-key-0004")}),
    )
    .await;
    let r1 = mine["id"].as_i64().expect("id");
    let theirs = robot_as(
        &app,
        &t2_admin,
        json!({"name": "乙镇工作群", "kind": "wecom", "webhook_url": sim.wecom("yi-key-0004")}),
    )
    .await;
    assert_eq!(theirs["township_id"], t2, "{theirs}");
    // Township 2 names township 1's village: refused.
    let (s, v) = app
        .send_as(&t2_admin, "POST", "/api/v1/group-robots",
            Some(json!({"name": "x", "kind": "wecom", "webhook_url": sim.wecom("x"), "village_id": v1})))
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("village_id")),
        "{v}"
    );
    let (_, list) = app
        .send_as(&t2_admin, "GET", "/api/v1/group-robots", None)
        .await;
    assert_eq!(list["total"], 1, "{list}");
    assert!(!list.to_string().contains("甲乡工作群"), "{list}");
    for (m, path, body) in [
        ("GET", format!("/api/v1/group-robots/{r1}"), None),
        ("GET", format!("/api/v1/group-robots/{r1}/posts"), None),
        ("POST", format!("/api/v1/group-robots/{r1}/test"), None),
        (
            "PUT",
            format!("/api/v1/group-robots/{r1}"),
            Some(json!({"name": "改名", "kind": "wecom", "version": 1})),
        ),
        ("DELETE", format!("/api/v1/group-robots/{r1}"), None),
    ] {
        let (s, v) = app.send_as(&t2_admin, m, &path, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {path}: {v}");
    }
    // Township 1's notice goes to township 1's group only.
    let id = notice(&app, &[v1]).await;
    let r = round(&app, fenghuo::store::now_ms()).await;
    assert_eq!(r.sent, 1, "{r:?}");
    assert_eq!(sim.posted_to("jia-key-0004").len(), 1);
    assert!(sim.posted_to("yi-key-0004").is_empty());
    let (s, _) = app
        .send_as(
            &t2_admin,
            "GET",
            &format!("/api/v1/alerts/{id}/group-posts"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The same on the dashboard.
    fenghuo::accounts::users::create(&db, "system", "yizhen", Role::Admin, PASSWORD)
        .await
        .expect("user");
    sqlx::query("UPDATE users SET township_id = $1, scope = 'township' WHERE name = 'yizhen'")
        .bind(t2)
        .execute(&db.pool)
        .await
        .expect("scope");
    let web = Web::new(&app.base);
    web.sign_in("yizhen", PASSWORD).await;
    let page = web.get("/group-robots").await;
    assert!(page.body.contains("乙镇工作群") && !page.body.contains("甲乡工作群"));
    assert_eq!(
        web.get(&format!("/group-robots/{r1}/edit")).await.status,
        StatusCode::NOT_FOUND
    );
    let csrf = web.token().await;
    let r = web
        .post(
            &format!("/group-robots/{r1}/test"),
            &[("_csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn posts_survive_a_restart(b: Backend) {
    let Some(mut app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    contact(&app, "张书记", "村支书", v1, "13800000001").await;
    let r = robot(
        &app,
        json!({"name": "乡应急办工作群", "kind": "wecom", "webhook_url": sim.wecom("kept-key-0005")}),
    )
    .await;
    let rid = r["id"].as_i64().expect("id");
    let id = notice(&app, &[v1]).await;
    // Stopped with the summary queued: the next daemon sends it, once.
    app.restart().await;
    let t0 = fenghuo::store::now_ms();
    assert_eq!(round(&app, t0).await.sent, 1);
    assert_eq!(round(&app, t0 + 1000).await.sent, 0);
    assert_eq!(sim.posted_to("kept-key-0005").len(), 1);
    // Closed: the follow ends, nothing more is posted about it.
    let (s, v) = app
        .post(&format!("/api/v1/alerts/{id}/close"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(round(&app, t0 + 10 * MIN).await.written, 0);
    let done = texts(
        &app,
        &format!("SELECT CAST(done AS TEXT) FROM robot_follows WHERE alert_id = {id}"),
    )
    .await;
    assert_eq!(done, vec!["1".to_string()]);
    // A daemon died while posting a test message: its robot's lease has run
    // out and the post is still `sending`. It is sent again, the lost try logged.
    let (s, v) = app
        .post(&format!("/api/v1/group-robots/{rid}/test"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let post = v["post_id"].as_i64().expect("post id");
    sqlx::query("UPDATE robot_posts SET status = 'sending', attempts = 1 WHERE id = $1")
        .bind(post)
        .execute(&app.db().pool)
        .await
        .expect("cut short");
    sqlx::query("UPDATE group_robots SET send_lease_until = $1 WHERE id = $2")
        .bind(t0)
        .bind(rid)
        .execute(&app.db().pool)
        .await
        .expect("lease");
    // While the lease holds, nobody else sends it.
    assert_eq!(round(&app, t0 - 1000).await.sent, 0);
    let r = round(&app, t0 + 11 * MIN).await;
    assert_eq!(r.sent, 1, "{r:?}");
    let outcomes = texts(
        &app,
        &format!("SELECT outcome FROM robot_attempts WHERE post_id = {post} ORDER BY id"),
    )
    .await;
    assert_eq!(outcomes, vec!["unknown".to_string(), "sent".to_string()]);
    let got = sim.posted_to("kept-key-0005");
    assert_eq!(got.len(), 2);
    assert!(got[1].content.contains("【测试】"));
    app.stop().await;
}

async fn a_failure_in_the_robots_never_holds_a_notice(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    contact(&app, "张书记", "村支书", v1, "13800000001").await;
    robot(
        &app,
        json!({"name": "乡应急办工作群", "kind": "wecom", "webhook_url": sim.wecom("broken-key-0007")}),
    )
    .await;
    // The robots' part of turning a notice active fails (a table gone).
    sqlx::query("DROP TABLE robot_follows")
        .execute(&app.db().pool)
        .await
        .expect("drop");
    let id = notice(&app, &[v1]).await;
    let (_, st) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(
        (st["status"].as_str(), st["recipients"].as_i64()),
        (Some("active"), Some(1)),
        "{st}"
    );
    // Its savepoint rolled back: no half-written summary either.
    assert!(group_posts(&app, id).await.is_empty());
    app.stop().await;
}

async fn the_dashboard_registers_and_tests(b: Backend) {
    let Some(app) = start(b).await else {
        return;
    };
    let sim = robot_sim::start().await;
    let v1 = village(&app, "V01", "东坑村", 118.0).await;
    let web = signed_in(&app, "admin1", Role::Admin).await;
    let form = web.get("/group-robots/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let url = sim.dingtalk("ding-token-0006", "SECdash-secret-0006");
    let v1s = v1.to_string();
    // A wrong secret is refused beside the field, and not shown back.
    let r = web
        .post(
            "/group-robots/new",
            &[
                ("_csrf", csrf.as_str()),
                ("name", "东坑村群"),
                ("kind", "dingtalk"),
                ("village_id", v1s.as_str()),
                ("webhook_url", url.as_str()),
                ("secret", "NOSEC-dash-secret"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"err-secret\""), "{}", r.body);
    assert!(!r.body.contains("NOSEC-dash-secret") && !r.body.contains("ding-token-0006"));
    let r = web
        .post(
            "/group-robots/new",
            &[
                ("_csrf", csrf.as_str()),
                ("name", "东坑村群"),
                ("kind", "dingtalk"),
                ("village_id", v1s.as_str()),
                ("webhook_url", url.as_str()),
                ("secret", "SECdash-secret-0006"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = web.get("/group-robots").await;
    assert!(
        list.body.contains("东坑村群") && list.body.contains("SEC****0006"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("SECdash-secret-0006") && !list.body.contains("ding-token-0006"));
    let (_, robots) = app.get("/api/v1/group-robots").await;
    let rid = robots["items"][0]["id"].as_i64().expect("id");
    // A change with the address and secret left empty keeps them.
    let edit = web.get(&format!("/group-robots/{rid}/edit")).await;
    assert!(!edit.body.contains("SECdash-secret-0006") && edit.body.contains("SEC****0006"));
    let r = web
        .post(
            &format!("/group-robots/{rid}/edit"),
            &[
                ("_csrf", csrf.as_str()),
                ("name", "东坑村防汛群"),
                ("kind", "dingtalk"),
                ("village_id", v1s.as_str()),
                ("webhook_url", ""),
                ("secret", ""),
                ("active", "1"),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            &format!("/group-robots/{rid}/test"),
            &[("_csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, format!("/group-robots?tested={rid}"))
    );
    assert!(web.get(&r.location()).await.body.contains("测试消息已排队"));
    let t = round(&app, fenghuo::store::now_ms()).await;
    assert_eq!(t.sent, 1, "{t:?}");
    let got = sim.posted_to("ding-token-0006");
    assert_eq!(got.len(), 1);
    assert!(got[0].signed, "signed with the kept secret");
    assert!(
        got[0].content.contains("东坑村防汛群"),
        "{}",
        got[0].content
    );
    let list = web.get("/group-robots").await;
    assert!(list.body.contains("已发送"), "{}", list.body);
    // The audit trail names the test, in words, without the secret.
    let audit = web.get("/audit?entity=group_robot").await;
    assert!(audit.body.contains("发送测试消息"), "{}", audit.body);
    assert!(!audit.body.contains("SECdash-secret-0006"));
    app.stop().await;
}

both!(summaries_and_counts_reach_the_groups);
both!(refusals_are_shown_and_passing_failures_retried);
both!(twenty_a_minute);
both!(robots_are_their_townships);
both!(posts_survive_a_restart);
both!(the_dashboard_registers_and_tests);
both!(a_failure_in_the_robots_never_holds_a_notice);

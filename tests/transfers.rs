//! Moving people out of danger zones, as a township lives it: a reading
//! passes a zone's 立即转移 threshold and its cadres are told, each with
//! their own households; they report by SMS in the words they type (full-
//! and half-width digits, Chinese numerals, extra words, typos) or tick
//! households on their phone; the board adds it up; a silent zone is
//! chased; people go back; the table goes upward as `.xlsx`.

mod common;
#[path = "support/web_client.rs"]
mod web_client;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::collections::HashMap;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const HOOK_SECRET: &str = "hook-secret";
const MIN: i64 = 60_000;

async fn app(b: Backend) -> Option<TestApp> {
    TestApp::start_with(b, |c| {
        c.sms.webhook.secret = HOOK_SECRET.into();
        c.office_name = "湖上乡人民政府".into();
    })
    .await
}

/// The people of the sample: cadre A (5 households), cadre B (3), the
/// zone's 转移责任人 (1 household of no cadre), the warner, the village's
/// 包村干部, the township's leader on duty and duty officer.
struct Town {
    village: i64,
    other_village: i64,
    zone: i64,
    other_zone: i64,
    cadre_a: i64,
    cadre_b: i64,
    leader: i64,
    warner: i64,
    /// Household ids by cadre (A, B, leader).
    households: HashMap<&'static str, Vec<i64>>,
    /// Persons registered in the zone.
    persons: i64,
}

async fn created(app: &TestApp, path: &str, body: Value) -> i64 {
    let (s, v) = app.post(path, body).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["id"].as_i64().expect("id")
}

async fn contact(app: &TestApp, name: &str, role: &str, village: Option<i64>, phone: &str) -> i64 {
    created(
        app,
        "/api/v1/contacts",
        json!({"name": name, "roles": [role], "village_id": village, "phone": phone}),
    )
    .await
}

async fn town(app: &TestApp) -> Town {
    let village = created(
        app,
        "/api/v1/villages",
        json!({"code": "XK", "name": "溪口村", "boundary": square(118.0, 25.2, 0.02)}),
    )
    .await;
    let other_village = created(
        app,
        "/api/v1/villages",
        json!({"code": "SP", "name": "上坪村", "boundary": square(118.1, 25.2, 0.02)}),
    )
    .await;
    let cadre_a = contact(app, "林建国", "网格员", Some(village), "13900000001").await;
    let cadre_b = contact(app, "陈秀英", "网格员", Some(village), "13900000002").await;
    let leader = contact(app, "黄志强", "村主任", Some(village), "13900000003").await;
    let warner = contact(app, "郑明", "山洪监测员", Some(village), "13900000004").await;
    contact(app, "吴海", "包村干部", Some(village), "13900000005").await;
    contact(app, "刘书记", "带班领导", None, "13900000006").await;
    contact(app, "值班员", "应急办值班", None, "13900000007").await;
    let other_leader = contact(app, "张三", "村主任", Some(other_village), "13900000008").await;
    let shelter = created(
        app,
        "/api/v1/shelters",
        json!({"code": "BZ-XK-1", "name": "溪口村委会避灾点", "location": {"lon": 118.012, "lat": 25.212}, "capacity": 80}),
    )
    .await;
    let zone = created(
        app,
        "/api/v1/danger-zones",
        json!({"code": "XK-SH-01", "name": "后山山洪危险区", "village_id": village, "natural_village": "后山",
            "kind": "山洪", "geometry": {"type": "Point", "coordinates": [118.005, 25.205]},
            "thresholds": {"prepare": {"rain_mm": {"1": 30}}, "move": {"rain_mm": {"1": 50, "3": 80}, "signal": "red"}},
            "auto_move": true, "monitor_id": warner, "warner_id": warner, "leader_id": leader,
            "shelter_id": shelter, "route": "沿村道向东至村委会", "report_minutes": 30}),
    )
    .await;
    let other_zone = created(
        app,
        "/api/v1/danger-zones",
        json!({"code": "SP-DZ-01", "name": "上坪滑坡点", "village_id": other_village, "kind": "地质灾害点",
            "geometry": {"type": "Polygon", "coordinates": [[[118.101, 25.201], [118.105, 25.201], [118.105, 25.205], [118.101, 25.201]]]},
            "leader_id": other_leader}),
    )
    .await;
    let mut households: HashMap<&'static str, Vec<i64>> = HashMap::new();
    let mut persons = 0;
    let people = [
        ("A", Some(cadre_a), 3, 1),
        ("A", Some(cadre_a), 2, 0),
        ("A", Some(cadre_a), 4, 2),
        ("A", Some(cadre_a), 1, 1),
        ("A", Some(cadre_a), 2, 0),
        ("B", Some(cadre_b), 5, 0),
        ("B", Some(cadre_b), 3, 1),
        ("B", Some(cadre_b), 2, 0),
        ("L", None, 2, 2),
    ];
    for (i, (who, cadre, members, elderly)) in people.into_iter().enumerate() {
        let id = created(
            app,
            "/api/v1/households",
            json!({"zone_id": zone, "head": format!("户主{i}"), "members": members, "elderly": elderly,
                "phone": format!("1370000{i:04}"), "cadre_id": cadre}),
        )
        .await;
        households.entry(who).or_default().push(id);
        persons += members;
    }
    created(
        app,
        "/api/v1/households",
        json!({"zone_id": other_zone, "head": "上坪户主", "members": 4, "phone": "13700009999"}),
    )
    .await;
    Town {
        village,
        other_village,
        zone,
        other_zone,
        cadre_a,
        cadre_b,
        leader,
        warner,
        households,
        persons,
    }
}

/// One signed inbound SMS through the webhook provider, as the gateway sends it.
async fn sms_from(app: &TestApp, national: &str, text: &str) -> Value {
    let body =
        json!({"from": format!("+86{national}"), "text": text, "note": uuid_like()}).to_string();
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
    resp.json().await.expect("json")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "m{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The transfer notices' bodies by contact.
async fn notices(app: &TestApp, transfer: i64) -> HashMap<i64, String> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT tn.contact_id, a.body FROM transfer_notices tn JOIN alerts a ON a.id = tn.alert_id WHERE tn.transfer_id = $1",
    )
    .bind(transfer)
    .fetch_all(&app.db().pool)
    .await
    .expect("notices");
    rows.into_iter().collect()
}

async fn board(app: &TestApp, transfer: i64) -> Value {
    let (s, b) = app.get(&format!("/api/v1/transfers/{transfer}")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["zones"][0].clone()
}

/// A rainfall reading over the zone's 立即转移 threshold orders its transfer
/// by itself (the zone acts automatically); each person in charge is told
/// their own count with the shelter and route, the warner to sound the
/// warning; ordering it again adds nothing.
async fn a_reading_over_the_threshold_orders_the_transfer(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    // Under the 准备转移 threshold: nothing.
    let (s, v) = app
        .post(
            "/api/v1/observations",
            json!({"kind": "rainfall", "window_hours": 1, "mm": 20, "village": "XK"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["danger_zones"], json!([]), "{v}");
    let (s, v) = app
        .post(
            "/api/v1/observations",
            json!({"kind": "rainfall", "window_hours": 1, "mm": 55, "village": "XK"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let reached = &v["danger_zones"];
    assert_eq!(
        reached.as_array().map(Vec::len),
        Some(1),
        "only XK's zone: {v}"
    );
    assert_eq!(reached[0]["stage"], "move");
    let ordered = &reached[0]["ordered"];
    assert_eq!(ordered["outcome"], "ordered", "{v}");
    assert_eq!(ordered["households"], 9);
    assert_eq!(ordered["persons"], t.persons);
    let transfer = ordered["transfer_id"].as_i64().expect("transfer");
    let told = notices(&app, transfer).await;
    assert_eq!(told.len(), 4, "A, B, the leader and the warner: {told:?}");
    let a = &told[&t.cadre_a];
    assert!(
        a.contains("您负责5户12人") && a.contains("需帮扶4人"),
        "{a}"
    );
    assert!(a.contains("请立即组织溪口村后山山洪危险区群众转移"), "{a}");
    assert!(
        a.contains("转移至溪口村委会避灾点") && a.contains("路线：沿村道向东至村委会"),
        "{a}"
    );
    assert!(
        told[&t.cadre_b].contains("您负责3户10人"),
        "{}",
        told[&t.cadre_b]
    );
    assert!(
        told[&t.leader].contains("您负责1户2人"),
        "{}",
        told[&t.leader]
    );
    assert!(
        told[&t.warner].contains("发出转移预警"),
        "{}",
        told[&t.warner]
    );
    // The SMS as it leaves carries the count and the answer link.
    let sms = spooled(&app, "+8613900000001", |s| s.contains("您负责5户12人")).await;
    assert!(sms.contains("/a/"), "{sms}");

    // A second reading, or a person's order, adds no second transfer.
    let (_, v) = app
        .post(
            "/api/v1/observations",
            json!({"kind": "rainfall", "window_hours": 3, "mm": 90, "village": "XK"}),
        )
        .await;
    assert_eq!(v["danger_zones"][0]["ordered"]["outcome"], "already", "{v}");
    let (s, v) = app
        .post("/api/v1/transfers", json!({"zones": [t.zone]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["outcome"], "already");
    assert_eq!(notices(&app, transfer).await.len(), 4);
    // A zone without auto_move is ordered by a person: all zones of a kind.
    let (s, v) = app
        .post(
            "/api/v1/transfers",
            json!({"kind": "地质灾害点", "stage": "prepare", "reason": "县防指命令"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["zone_id"], t.other_zone);
    assert_eq!(v["items"][0]["outcome"], "ordered");
    let other = v["items"][0]["transfer_id"].as_i64().expect("id");
    let (s, v) = app
        .post(
            "/api/v1/transfers",
            json!({"zones": [t.other_zone], "stage": "move"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["outcome"], "raised", "准备 → 立即: {v}");
    let (told_twice,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM transfer_notices WHERE transfer_id = $1")
            .bind(other)
            .fetch_one(&app.db().pool)
            .await
            .expect("count");
    assert_eq!(told_twice, 2, "the leader told again on the raise");
    let (raised,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM transfer_notices tn JOIN alerts a ON a.id = tn.alert_id \
         WHERE tn.transfer_id = $1 AND a.title LIKE '立即转移%' AND a.body LIKE '%请立即组织%'",
    )
    .bind(other)
    .fetch_one(&app.db().pool)
    .await
    .expect("raised");
    assert_eq!(raised, 1, "the raise says 立即转移");
    // Bad orders name the field.
    let (s, v) = app
        .post("/api/v1/transfers", json!({"zones": [999_999]}))
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("zones[0]")),
        "{v}"
    );
    let (s, v) = app.post("/api/v1/transfers", json!({})).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("zones")),
        "{v}"
    );
    let _ = t.other_village;
    app.stop().await;
}
both!(a_reading_over_the_threshold_orders_the_transfer);

/// An open incident (a drill when `exercise`), as a plan's activation leaves it.
async fn open_incident(app: &TestApp, exercise: bool) -> i64 {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO incidents (plan_id, plan_hash, level, exercise, villages, status, opened_by, opened_at, version) \
         VALUES ('flood', 'x', 4, $2, '[]', 'open', 'test', $1, 1) RETURNING id",
    )
    .bind(fenghuo::store::now_ms())
    .bind(i64::from(exercise))
    .fetch_one(&app.db().pool)
    .await
    .expect("incident");
    id
}

/// The first spooled SMS to `to` whose text passes `want`.
async fn spooled(app: &TestApp, to: &str, want: impl Fn(&str) -> bool) -> String {
    let dir = app.cfg.data_dir.join("outbox");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .find(|t| t.contains(to) && want(t))
            })
            .unwrap_or_default();
        if let Some(t) = found {
            return t;
        }
        assert!(
            std::time::Instant::now() < until,
            "no SMS to {to} as wanted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn ordered(app: &TestApp, zone: i64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/transfers",
            json!({"zones": [zone], "reason": "乡防指命令"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["items"][0]["transfer_id"].as_i64().expect("transfer")
}

/// (moved h, moved p, refused h, refused p, away h).
type Figures = (i64, i64, i64, i64, i64);

/// Figures of the newest report on the board.
fn last_report(zone: &Value) -> Figures {
    let r = zone["reports"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    // A figure the report did not say is null: 0 here.
    let n = |a: &str, b: &str| r[a][b].as_i64().unwrap_or(0);
    (
        n("moved", "households"),
        n("moved", "persons"),
        n("refused", "households"),
        n("refused", "persons"),
        n("away", "households"),
    )
}

/// Replies as cadres type them are read into the right figures, read back
/// to them, and answer their notice; an unknown number and an unreadable
/// reply are kept for a person and change nothing; a correction replaces
/// the sender's last figure; two reporting at once both count; all of it
/// survives a restart.
async fn sms_reports_in_real_phrasings_count(b: Backend) {
    let Some(mut app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    let transfer = ordered(&app, t.zone).await;
    let phrasings: &[(&str, Figures)] = &[
        ("已转移 5户12人", (5, 12, 0, 0, 0)),
        ("转移 12", (0, 12, 0, 0, 0)),
        ("剩余 2户 拒绝转移", (0, 0, 2, 0, 0)),
        ("已转移5户 12人。", (5, 12, 0, 0, 0)),
        ("已转移５户１２人", (5, 12, 0, 0, 0)),
        ("已转移五户十二人", (5, 12, 0, 0, 0)),
        ("收到，已转移 两户 七人", (2, 7, 0, 0, 0)),
        ("已撤离3户8人", (3, 8, 0, 0, 0)),
        ("转义5户12人", (5, 12, 0, 0, 0)),
        ("已转移5戶12人", (5, 12, 0, 0, 0)),
        ("已转移12人，其中老人3人", (0, 12, 0, 0, 0)),
        ("已转移8户，外出2户", (8, 0, 0, 0, 2)),
        ("　已转移　５户　１２人　", (5, 12, 0, 0, 0)),
    ];
    for (text, want) in phrasings {
        let v = sms_from(&app, "13900000001", text).await;
        assert_eq!(v["received"], 1, "{text}: {v}");
        let z = board(&app, transfer).await;
        assert_eq!(last_report(&z), *want, "{text}");
    }
    // Each was read back to the sender, asking for no answer.
    let receipt = spooled(&app, "+8613900000001", |s| s.contains("已记录")).await;
    assert!(
        !receipt.contains("回复1确认"),
        "a receipt asks nothing: {receipt}"
    );
    // The report answered A's transfer notice (叫应).
    let (answered,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM alert_recipients r JOIN transfer_notices tn ON tn.alert_id = r.alert_id \
         WHERE tn.transfer_id = $1 AND r.contact_id = $2 AND r.answered_at IS NOT NULL",
    )
    .bind(transfer)
    .bind(t.cadre_a)
    .fetch_one(&app.db().pool)
    .await
    .expect("answered");
    assert_eq!(answered, 1);

    // A fresh transfer for clean sums.
    let (s, v) = app
        .post(&format!("/api/v1/transfers/{transfer}/close"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let transfer = ordered(&app, t.zone).await;
    // Unknown number: kept and shown, nothing counted.
    sms_from(&app, "13999999999", "已转移 5户12人").await;
    // A's unreadable reply: kept on the zone's board.
    sms_from(&app, "13900000001", "转移工作正在进行，路上塌方").await;
    let z = board(&app, transfer).await;
    assert_eq!(
        z["figures"]["moved"],
        json!({"households": 0, "persons": 0}),
        "{z}"
    );
    assert_eq!(z["replies"][0]["text"], "转移工作正在进行，路上塌方", "{z}");
    let (_, all) = app.get("/api/v1/transfers").await;
    assert_eq!(
        all["unknown_senders"][0]["phone"], "+8613999999999",
        "{all}"
    );

    // A and B report at once: both count.
    let (ra, rb) = tokio::join!(
        sms_from(&app, "13900000001", "已转移4户10人"),
        sms_from(&app, "13900000002", "已转移2户5人")
    );
    assert_eq!(
        (ra["received"].as_i64(), rb["received"].as_i64()),
        (Some(1), Some(1))
    );
    let z = board(&app, transfer).await;
    assert_eq!(
        z["figures"]["moved"],
        json!({"households": 6, "persons": 15}),
        "{z}"
    );
    // A corrects: the 10 becomes 11, households kept from the figure replaced.
    sms_from(&app, "13900000001", "更正 转移 11").await;
    let z = board(&app, transfer).await;
    assert_eq!(
        z["figures"]["moved"],
        json!({"households": 6, "persons": 16}),
        "{z}"
    );
    // B's refusals; A ticks a household away on the page (the larger of
    // ticked and texted counts per cadre, so no double count).
    sms_from(&app, "13900000002", "剩余1户拒绝转移").await;
    let away = t.households["A"][4];
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/households"),
            json!({"household_id": away, "status": "away"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // The shelter manager checks in 3 of a household of B's.
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/checkin"),
            json!({"household_id": t.households["B"][1], "arrived": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/checkin"),
            json!({"household_id": t.households["B"][1], "arrived": 9}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("arrived")),
        "{v}"
    );
    let z = board(&app, transfer).await;
    let f = &z["figures"];
    assert_eq!(f["planned"], json!({"households": 9, "persons": 24}), "{z}");
    assert_eq!(f["moved"], json!({"households": 6, "persons": 16}), "{z}");
    assert_eq!(f["refused"], json!({"households": 1, "persons": 0}), "{z}");
    assert_eq!(f["away"], json!({"households": 1, "persons": 2}), "{z}");
    assert_eq!(
        f["at_shelters"],
        json!({"households": 1, "persons": 3}),
        "{z}"
    );
    assert_eq!(f["unknown"], json!({"households": 1, "persons": 6}), "{z}");
    assert_eq!(z["flagged"], false);
    // The shelter: everyone not refusing or away is expected there (B's
    // refusal was texted, not ticked: all of B's households still count).
    let (_, all) = app.get("/api/v1/transfers").await;
    let load = &all["shelters"][0];
    assert_eq!(load["name"], "溪口村委会避灾点", "{all}");
    assert_eq!(
        (load["arrived"].as_i64(), load["capacity"].as_i64()),
        (Some(3), Some(80)),
        "{load}"
    );
    assert_eq!(
        load["expected"],
        t.persons - 2,
        "all but the household away: {load}"
    );
    // Vulnerable households not yet moved come first.
    assert!(
        z["waiting"][0]["vulnerable"].as_i64() >= z["waiting"][1]["vulnerable"].as_i64(),
        "{z}"
    );
    // More than registered: accepted, flagged, and the sender told.
    sms_from(&app, "13900000002", "已转移 3户 30人").await;
    let z = board(&app, transfer).await;
    assert_eq!(z["flagged"], true, "{z}");
    spooled(&app, "+8613900000002", |s| s.contains("超过登记人数")).await;
    // The village and the totals add the zones up.
    let (_, all) = app.get("/api/v1/transfers").await;
    assert_eq!(all["villages"][0]["village_id"], t.village);
    assert_eq!(
        all["villages"][0]["figures"]["moved"],
        z["figures"]["moved"]
    );
    assert_eq!(all["totals"]["moved"], z["figures"]["moved"]);
    // Everything survives a restart.
    app.restart().await;
    let again = board(&app, transfer).await;
    assert_eq!(again["figures"], z["figures"]);
    assert_eq!(again["reports"], z["reports"]);
    app.stop().await;
}
both!(sms_reports_in_real_phrasings_count);

/// Nobody reports: after `report_minutes` the village's 包村干部 is chased,
/// after as long again the township's leader on duty; a zone reported on
/// is not. After the stand-down people go back, and the return closes
/// itself when every household is home.
async fn a_silent_zone_is_chased_and_people_come_back(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    let transfer = ordered(&app, t.zone).await;
    let reported = ordered(&app, t.other_zone).await;
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{reported}/reports"),
            json!({"moved": {"households": 1, "persons": 4}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let chase = fenghuo::transfer::orders::chase_silent;
    assert_eq!(
        chase(&n, now + 29 * MIN).await.expect("chase"),
        0,
        "not yet"
    );
    assert_eq!(
        chase(&n, now + 31 * MIN).await.expect("chase"),
        1,
        "the 包村干部"
    );
    assert_eq!(chase(&n, now + 32 * MIN).await.expect("chase"), 0, "once");
    assert_eq!(
        chase(&n, now + 61 * MIN).await.expect("chase"),
        1,
        "the leader on duty"
    );
    assert_eq!(
        chase(&n, now + 200 * MIN).await.expect("chase"),
        0,
        "then no more"
    );
    let chased: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.name, a.body FROM transfer_notices tn JOIN contacts c ON c.id = tn.contact_id \
         JOIN alerts a ON a.id = tn.alert_id WHERE tn.transfer_id = $1 AND tn.purpose = 'chase' ORDER BY tn.alert_id",
    )
    .bind(transfer)
    .fetch_all(&app.db().pool)
    .await
    .expect("chased");
    assert_eq!(
        chased.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
        ["吴海", "刘书记"],
        "{chased:?}"
    );
    assert!(chased[0].1.contains("尚无任何转移报告"), "{}", chased[0].1);
    let z = board(&app, transfer).await;
    assert_eq!(z["escalation_step"], 2);

    // Moved: A ticks all five households, B two of three (one refuses).
    for h in &t.households["A"] {
        app.post(
            &format!("/api/v1/transfers/{transfer}/households"),
            json!({"household_id": h, "status": "moved"}),
        )
        .await;
    }
    let b_hh = &t.households["B"];
    app.post(
        &format!("/api/v1/transfers/{transfer}/households"),
        json!({"household_id": b_hh[0], "status": "shelter"}),
    )
    .await;
    app.post(
        &format!("/api/v1/transfers/{transfer}/households"),
        json!({"household_id": b_hh[1], "status": "moved"}),
    )
    .await;
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/households"),
            json!({"household_id": b_hh[2], "status": "refused", "note": "老人不愿离开"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/transfers/{transfer}/households"),
            json!({"household_id": b_hh[2], "status": "returned"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        "{v}"
    );
    // The return: the out transfer closes, the moved households go back.
    let (s, v) = app
        .post("/api/v1/transfers/return", json!({"zones": [t.zone]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let back = v["items"][0]["transfer_id"].as_i64().expect("return");
    assert_eq!(v["items"][0]["households"], 8, "all but the refusal: {v}");
    let told = notices(&app, back).await;
    assert!(
        told[&t.cadre_a].contains("可组织群众返回") && told[&t.cadre_a].contains("您负责5户12人"),
        "{told:?}"
    );
    let z = board(&app, transfer).await;
    assert_eq!(z["closed"], true);
    // A texts; B's two are ticked home; the last of A's, then it closes.
    sms_from(&app, "13900000001", "已返回4户11人").await;
    let z = board(&app, back).await;
    assert_eq!(z["direction"], "back");
    assert_eq!(
        z["figures"]["moved"],
        json!({"households": 4, "persons": 11}),
        "{z}"
    );
    for h in b_hh
        .iter()
        .take(2)
        .chain(t.households["A"].iter())
        .chain(t.households["L"].iter())
    {
        let (s, v) = app
            .post(
                &format!("/api/v1/transfers/{back}/households"),
                json!({"household_id": h, "status": "returned"}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    }
    let z = board(&app, back).await;
    assert_eq!(z["closed"], true, "everyone back closes it: {z}");
    assert_eq!(
        z["figures"]["unknown"],
        json!({"households": 0, "persons": 0}),
        "{z}"
    );
    let (s, _) = app
        .post(
            &format!("/api/v1/transfers/{back}/households"),
            json!({"household_id": b_hh[0], "status": "returned"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a closed transfer takes no ticks");
    let _ = t.cadre_b;
    app.stop().await;
}
both!(a_silent_zone_is_chased_and_people_come_back);

/// The incident's table as `.xlsx` opens in a spreadsheet reader and holds
/// the board's figures, with the title and who exported it.
async fn the_export_holds_the_boards_figures(b: Backend) {
    use calamine::{Data, Reader, Xlsx};
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    let incident = open_incident(&app, false).await;
    let (s, v) = app
        .post(
            "/api/v1/transfers",
            json!({"zones": [t.zone, t.other_zone], "incident_id": incident}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let transfer = v["items"][0]["transfer_id"].as_i64().expect("id");
    sms_from(&app, "13900000001", "已转移 5户12人").await;
    sms_from(&app, "13900000002", "已转移2户5人，剩余1户拒绝转移").await;
    let (s, json_table) = app
        .get(&format!("/api/v1/incidents/{incident}/transfers"))
        .await;
    assert_eq!(s, StatusCode::OK, "{json_table}");
    let upward = json_table["upward"].as_str().expect("upward");
    assert!(
        upward.starts_with("【初报】") || upward.starts_with("【续报】"),
        "{upward}"
    );
    assert!(upward.contains("已转移7户17人"), "{upward}");
    let resp = app
        .client
        .get(format!(
            "{}/api/v1/incidents/{incident}/transfers.xlsx",
            app.base
        ))
        .bearer_auth(&app.admin)
        .send()
        .await
        .expect("xlsx");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.expect("bytes");
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let sheet = wb.worksheet_range("转移统计").expect("sheet");
    let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    assert!(
        matches!(cell(0, 0), Data::String(s) if s.contains("湖上乡人民政府") && s.contains("转移统计表"))
    );
    assert!(
        matches!(cell(1, 0), Data::String(s) if s.contains("test-admin")),
        "{:?}",
        cell(1, 0)
    );
    assert_eq!(cell(3, 0), Data::String("村".into()));
    assert_eq!(cell(3, 10), Data::String("已转移人数".into()));
    let z = board(&app, transfer).await;
    // The row of XK's zone (villages ordered by id: XK first).
    assert_eq!(cell(4, 1), Data::String("后山山洪危险区".into()));
    assert!(
        matches!(cell(4, 4), Data::DateTime(_)),
        "a date-time: {:?}",
        cell(4, 4)
    );
    let num = |r: u32, c: u32| match cell(r, c) {
        Data::Float(f) => f as i64,
        Data::Int(i) => i,
        other => panic!("not a number at {r},{c}: {other:?}"),
    };
    assert_eq!(
        num(4, 7),
        z["figures"]["planned"]["persons"].as_i64().expect("p")
    );
    assert_eq!(
        num(4, 9),
        z["figures"]["moved"]["households"].as_i64().expect("h")
    );
    assert_eq!(
        num(4, 10),
        z["figures"]["moved"]["persons"].as_i64().expect("p")
    );
    assert_eq!(
        num(4, 12),
        z["figures"]["refused"]["households"].as_i64().expect("r")
    );
    // Totals row after the two zones.
    assert_eq!(cell(6, 0), Data::String("合计".into()));
    assert_eq!(
        num(6, 10),
        json_table["table"]["totals"]["moved"]["persons"]
            .as_i64()
            .expect("t")
    );
    app.stop().await;
}
both!(the_export_holds_the_boards_figures);

/// Households are personal data: a village user reads only their village's
/// (list, one, board), every list read is audited with who read it.
async fn a_village_user_reads_only_their_villages_households(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    ordered(&app, t.zone).await;
    ordered(&app, t.other_zone).await;
    let scope = Scope::Village {
        township: 1,
        village: t.other_village,
    };
    let (_, token) = fenghuo::auth::create_scoped_token(
        app.db(),
        "上坪村网格员",
        Role::Editor,
        false,
        &scope,
        1,
    )
    .await
    .expect("token");
    let (s, v) = app.send_as(&token, "GET", "/api/v1/households", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["items"][0]["head"], "上坪户主");
    let (s, _) = app
        .send_as(
            &token,
            "GET",
            &format!("/api/v1/households/{}", t.households["A"][0]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .send_as(
            &token,
            "GET",
            &format!("/api/v1/households?village_id={}", t.village),
            None,
        )
        .await;
    assert_eq!((s, v["total"].as_i64()), (StatusCode::OK, Some(0)), "{v}");
    let (s, v) = app.send_as(&token, "GET", "/api/v1/transfers", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["zones"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["zones"][0]["zone_id"], t.other_zone);
    // Nor may they register a household in another village's zone.
    let (s, v) = app
        .send_as(
            &token,
            "POST",
            "/api/v1/households",
            Some(json!({"zone_id": t.zone, "head": "某", "members": 1})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("zone_id")),
        "{v}"
    );
    // Every list read is in the audit trail, with who read it.
    let (readers,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'household' AND action = 'read' AND actor LIKE '%上坪村网格员%'",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("audit");
    assert_eq!(readers, 2);
    // Bad input names the field.
    let (s, v) = app
        .post(
            "/api/v1/households",
            json!({"zone_id": t.zone, "head": "某", "members": 2, "elderly": 3}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("elderly")),
        "{v}"
    );
    let (s, v) = app
        .post(
            "/api/v1/danger-zones",
            json!({"code": "X", "name": "x", "village_id": t.village, "kind": "火山",
            "geometry": {"type": "Point", "coordinates": [118.0, 25.2]}, "leader_id": t.leader}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")),
        "{v}"
    );
    let (s, v) = app
        .post(
            "/api/v1/danger-zones",
            json!({"code": "X", "name": "x", "village_id": t.village, "kind": "山洪",
            "geometry": {"type": "Point", "coordinates": [118.0, 25.2]}, "leader_id": t.leader,
            "thresholds": {"move": {"rain_mm": {"2": 40}}}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("thresholds.move.rain_mm")
        ),
        "{v}"
    );
    app.stop().await;
}
both!(a_village_user_reads_only_their_villages_households);

const PASSWORD: &str = "correct-horse-9";

/// A's transfer notice and the token of its link.
async fn link_of(app: &TestApp, transfer: i64, contact: i64) -> String {
    let (alert,): (i64,) = sqlx::query_as(
        "SELECT alert_id FROM transfer_notices WHERE transfer_id = $1 AND contact_id = $2 AND purpose = 'out'",
    )
    .bind(transfer)
    .bind(contact)
    .fetch_one(&app.db().pool)
    .await
    .expect("notice");
    app.token_of(alert, contact).await
}

/// The cadre's page from the SMS link: their own households only (the
/// zone's 转移责任人 sees all), ticking one saves it, another cadre's is
/// refused, a wrong link is not found, the read is audited. The office's
/// pages: board, transfer, register, zone, incident table and its `.xlsx`.
async fn the_link_page_and_the_office_pages(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    let transfer = ordered(&app, t.zone).await;
    let token = link_of(&app, transfer, t.cadre_a).await;
    let phone = Web::new(&app.base);
    // The answer page leads to the list.
    let r = phone.get(&format!("/a/{token}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains(&format!("/a/{token}/households")),
        "{}",
        r.body
    );
    let r = phone.get(&format!("/a/{token}/households")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body.matches("<li class=\"card").count(),
        5,
        "A's five: {}",
        r.body
    );
    assert!(r.body.contains("您负责 <b>5户12人</b>"), "{}", r.body);
    for h in &t.households["B"] {
        assert!(!r.body.contains(&format!("id=\"h-{h}\"")), "not B's");
    }
    let csrf = r.csrf();
    let own = t.households["A"][0].to_string();
    let r = phone
        .post(
            &format!("/a/{token}/households"),
            &[
                ("_csrf", &csrf),
                ("household_id", &own),
                ("status", "moved"),
                ("note", "已到亲戚家"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let theirs = t.households["B"][0].to_string();
    let r = phone
        .post(
            &format!("/a/{token}/households"),
            &[
                ("_csrf", &csrf),
                ("household_id", &theirs),
                ("status", "moved"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不是您负责的户"), "{}", r.body);
    let r = phone.get(&format!("/a/{token}/households?saved=1")).await;
    assert!(
        r.body.contains("id=\"saved\"") && r.body.contains("已到亲戚家"),
        "{}",
        r.body
    );
    let z = board(&app, transfer).await;
    assert_eq!(z["figures"]["moved"]["households"], 1, "{z}");
    // The zone's 转移责任人 sees every household.
    let lead = link_of(&app, transfer, t.leader).await;
    let r = phone.get(&format!("/a/{lead}/households")).await;
    assert_eq!(r.body.matches("<li class=\"card").count(), 9);
    let r = phone.get("/a/not-a-token/households").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (reads,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'transfer' AND action = 'read' AND actor = 'link:林建国'",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("audit");
    assert!(reads >= 2, "{reads}");

    // The office.
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let incident = open_incident(&app, false).await;
    let page = web.get("/transfers").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"order-form\"") && page.body.contains("后山山洪危险区"),
        "{}",
        page.body
    );
    // The order form: the other zone, by tick box.
    let r = web
        .post(
            "/transfers/order",
            &[
                ("_csrf", &page.csrf()),
                ("zone", &t.other_zone.to_string()),
                ("stage", "move"),
                ("reason", "乡防指命令"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web
        .post(
            "/transfers/order",
            &[("_csrf", &page.csrf()), ("stage", "move")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"problem\""), "{}", r.body);
    let fragment = web.get("/web/transfers/board").await;
    assert!(
        fragment.body.contains("上坪滑坡点") && fragment.body.contains("id=\"total-moved\""),
        "{}",
        fragment.body
    );
    let show = web.get(&format!("/transfers/{transfer}")).await;
    assert_eq!(show.status, StatusCode::OK);
    assert!(
        show.body.contains("已到亲戚家") && show.body.contains("/checkin"),
        "{}",
        show.body
    );
    let r = web
        .post(
            &format!("/transfers/{transfer}/checkin"),
            &[
                ("_csrf", &show.csrf()),
                ("household_id", &t.households["B"][0].to_string()),
                ("arrived", "4"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let z = board(&app, transfer).await;
    assert_eq!(z["figures"]["at_shelters"]["persons"], 4, "{z}");
    assert_eq!(web.get("/zones").await.status, StatusCode::OK);
    let zone = web.get(&format!("/zones/{}", t.zone)).await;
    assert!(
        zone.body.contains("户主0") && zone.body.contains("tel:+86137"),
        "{}",
        zone.body
    );
    sqlx::query("UPDATE transfers SET incident_id = $1")
        .bind(incident)
        .execute(&app.db().pool)
        .await
        .expect("link to the incident");
    let report = web.get(&format!("/incidents/{incident}/transfers")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(
        report.body.contains("id=\"upward\"")
            && report.body.contains("已转移2户8人，其中集中安置4人"),
        "{}",
        report.body
    );
    // The zone's list as a workbook carries who exported it, and is audited.
    let x = web.get(&format!("/zones/{}/households.xlsx", t.zone)).await;
    assert_eq!(x.status, StatusCode::OK);
    let (exports,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'household' AND action = 'export' AND actor LIKE '%wang%'",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("audit");
    assert_eq!(exports, 1);
    // A village user's pages hold their village only.
    fenghuo::accounts::users::create(app.db(), "test", "cun", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let scope = Scope::Village {
        township: 1,
        village: t.other_village,
    };
    fenghuo::accounts::users::set_scope(app.db(), "test", "cun", &scope, 1)
        .await
        .expect("scope");
    let cun = Web::new(&app.base);
    cun.sign_in("cun", PASSWORD).await;
    assert_eq!(
        cun.get(&format!("/zones/{}", t.zone)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        cun.get(&format!("/transfers/{transfer}")).await.status,
        StatusCode::NOT_FOUND
    );
    let own = cun.get("/transfers").await;
    assert!(
        !own.body.contains("后山山洪危险区") && own.body.contains("上坪滑坡点"),
        "{}",
        own.body
    );
    let zone = cun.get(&format!("/zones/{}", t.other_zone)).await;
    assert!(
        zone.body.contains("上坪户主") && !zone.body.contains("户主0"),
        "{}",
        zone.body
    );
    let x = web
        .get(&format!("/incidents/{incident}/transfers.xlsx"))
        .await;
    assert_eq!(x.status, StatusCode::OK);
    assert_eq!(
        x.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    app.stop().await;
}
both!(the_link_page_and_the_office_pages);

/// On a phone-sized window in Chromium: the cadre opens the link from the
/// SMS, sees their households (vulnerable first), ticks one moved; the
/// office's board, open in another window, changes by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cadre_ticks_and_the_board_changes() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "browser_cadre_ticks_and_the_board_changes needs {} and {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = app(Backend::Sqlite).await.expect("app");
    let t = town(&app).await;
    let transfer = ordered(&app, t.zone).await;
    let token = link_of(&app, transfer, t.cadre_a).await;
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let base = app.base.clone();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/transfers");
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");
    d.set_window_size(390, 844).await.expect("phone size");

    // The office's board first (signed in), to watch it change.
    d.goto(&format!("{base}/login"))
        .await
        .expect("sign-in page");
    d.wait_for("#f-password", 10).await.expect("form");
    d.fill("#f-name", "wang").await.expect("name");
    d.fill("#f-password", PASSWORD).await.expect("password");
    d.click_css("#signin").await.expect("submit");
    d.wait_for("#live", 10).await.expect("signed in");
    d.goto(&format!("{base}/transfers")).await.expect("board");
    d.wait_for("#total-moved", 10).await.expect("board");
    assert_eq!(d.text_of("#total-moved").await.expect("moved"), "0户0人");
    d.screenshot("01-board-before").await.expect("shot");

    // The cadre's phone: the answer page, then the list.
    d.goto(&format!("{base}/a/{token}"))
        .await
        .expect("answer page");
    let link = d.wait_for("#households", 10).await.expect("list link");
    d.click(&link).await.expect("open the list");
    d.wait_for("#my-households", 10).await.expect("the list");
    let cards = d.find_all("#my-households li.card").await.expect("cards");
    assert_eq!(cards.len(), 5);
    d.screenshot("02-cadre-list").await.expect("shot");
    let width: i64 = d
        .exec("return document.documentElement.scrollWidth;", json!([]))
        .await
        .expect("width")
        .as_i64()
        .unwrap_or(0);
    assert!(width <= 390, "no wider than the phone: {width}");
    // Vulnerable first: the first card has a vulnerable chip.
    let first = d
        .text_of("#my-households li.card:first-child")
        .await
        .expect("first");
    assert!(first.contains("老"), "{first}");
    d.click_css("#my-households li.card:first-child button[value=moved]")
        .await
        .expect("tick moved");
    d.wait_for("#saved", 10).await.expect("saved");
    let first = d
        .text_of("#my-households li.card:first-child")
        .await
        .expect("first");
    assert!(first.contains("现在：已转移"), "{first}");
    assert!(d.text_of("#done").await.expect("done").starts_with("1户"));
    d.screenshot("03-cadre-ticked").await.expect("shot");

    // Back on the board: it has counted the tick by itself.
    d.goto(&format!("{base}/transfers")).await.expect("board");
    d.wait_for("#total-moved", 10).await.expect("board");
    let moved = d.text_of("#total-moved").await.expect("moved");
    assert!(moved.starts_with("1户"), "{moved}");
    // A report arriving while it is open shows without a reload.
    sms_from(&app, "13900000002", "已转移2户5人").await;
    d.wait_until(
        "return document.getElementById('total-moved').textContent.indexOf('3户') === 0;",
        20,
    )
    .await
    .expect("the board refreshed itself");
    d.screenshot("04-board-after").await.expect("shot");
    d.quit().await;
    app.stop().await;
}

const SCRIPT: &str = "<script>alert(1)</script>";

/// The dashboard's forms register a zone (point picked, thresholds, people
/// in charge) and a household; refusals come back beside their field with
/// what was typed; markup typed anywhere comes back as text on every page
/// that shows it (register, zone, board, the cadre's page).
async fn the_forms_register_a_zone_and_its_households(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    fenghuo::accounts::users::create(app.db(), "test", "li", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("li", PASSWORD).await;
    let form = web.get("/zones/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let village = t.village.to_string();
    let leader = t.leader.to_string();
    let name = format!("河坝下{SCRIPT}");
    let zone_form = |code: &'static str, leader: &str, prepare: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("code", code.to_string()),
            ("name", name.clone()),
            ("kind", "low_lying".to_string()),
            ("village_id", village.clone()),
            ("natural_village", format!("洋中{SCRIPT}")),
            ("lon", "118.01".to_string()),
            ("lat", "25.21".to_string()),
            ("geometry", String::new()),
            ("prepare_1h", prepare.to_string()),
            ("prepare_3h", String::new()),
            ("prepare_24h", "80".to_string()),
            ("prepare_signal", String::new()),
            ("move_1h", String::new()),
            ("move_3h", String::new()),
            ("move_24h", "120".to_string()),
            ("move_signal", "red".to_string()),
            ("auto_move", "1".to_string()),
            ("leader_id", leader.to_string()),
            ("monitor_id", String::new()),
            ("warner_id", String::new()),
            ("shelter_id", String::new()),
            ("report_minutes", "30".to_string()),
            ("route", format!("沿河堤{SCRIPT}")),
            ("note", String::new()),
        ]
    };
    let pairs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
    // No person in charge, a threshold that is not a number: both named, the typing kept.
    let bad = pairs(&zone_form("XK-LL-01", "", "很多"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/zones/new", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"err-leader_id\"")
            && r.body.contains("id=\"err-prepare_1h\"")
            && r.body.contains("很多"),
        "{}",
        r.body
    );
    assert!(!r.body.contains(SCRIPT), "escaped on the refused form");
    let good = pairs(&zone_form("XK-LL-01", &leader, "40"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/zones/new", &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let zone: i64 = r
        .location()
        .trim_start_matches("/zones/")
        .parse()
        .expect("zone id");
    let (_, z) = app.get(&format!("/api/v1/danger-zones/{zone}")).await;
    assert_eq!(
        z["thresholds"],
        json!({"prepare": {"rain_mm": {"1": 40.0, "24": 80.0}}, "move": {"rain_mm": {"24": 120.0}, "signal": "red"}}),
        "{z}"
    );
    assert_eq!(
        (z["auto_move"].as_bool(), z["kind"].as_str()),
        (Some(true), Some("low_lying")),
        "{z}"
    );
    assert_eq!(
        z["geometry"],
        json!({"type": "Point", "coordinates": [118.01, 25.21]})
    );
    let edit = web.get(&format!("/zones/{zone}/edit")).await;
    assert!(
        edit.body.contains("value=\"40\"") && !edit.body.contains(SCRIPT),
        "{}",
        edit.body
    );

    // A household, refused first (more elderly than people), then saved.
    let hf = web.get(&format!("/households/new?zone={zone}")).await;
    assert!(
        hf.body
            .contains(&format!("<option value=\"{zone}\" selected")),
        "{}",
        hf.body
    );
    let zone_s = zone.to_string();
    let cadre = t.cadre_a.to_string();
    let head = format!("郑某{SCRIPT}");
    let household = |elderly: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("zone_id", zone_s.clone()),
            ("head", head.clone()),
            ("members", "3".to_string()),
            ("phone", "139 5951 2468".to_string()),
            ("elderly", elderly.to_string()),
            ("infirm", "0".to_string()),
            ("sick", "0".to_string()),
            ("disabled", "1".to_string()),
            ("pregnant", "0".to_string()),
            ("children", "0".to_string()),
            ("cadre_id", cadre.clone()),
            ("shelter_id", String::new()),
            ("address", format!("洋中3号{SCRIPT}")),
            ("note", format!("需轮椅{SCRIPT}")),
        ]
    };
    let bad = household("4");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/households/new", &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"err-elderly\""), "{}", r.body);
    let good = household("1");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/households/new", &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, hs) = app.get(&format!("/api/v1/households?zone_id={zone}")).await;
    assert_eq!(hs["items"][0]["phone"], "+8613959512468", "{hs}");
    assert_eq!(hs["items"][0]["vulnerable"], 2, "{hs}");

    // Every page that shows what was typed shows it as text.
    for page in ["/zones".to_string(), format!("/zones/{zone}")] {
        let r = web.get(&page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(
            !r.body.contains(SCRIPT) && r.body.contains("&lt;script&gt;"),
            "{page}: {}",
            r.body
        );
    }
    let transfer = ordered(&app, zone).await;
    for page in ["/transfers".to_string(), format!("/transfers/{transfer}")] {
        let r = web.get(&page).await;
        assert!(
            !r.body.contains(SCRIPT) && r.body.contains("&lt;script&gt;"),
            "{page}: {}",
            r.body
        );
    }
    let token = link_of(&app, transfer, t.cadre_a).await;
    let r = Web::new(&app.base)
        .get(&format!("/a/{token}/households"))
        .await;
    assert!(
        !r.body.contains(SCRIPT) && r.body.contains("&lt;script&gt;"),
        "{}",
        r.body
    );
    // A household registered while its zone is being moved joins the transfer.
    let later = household("0");
    let later: Vec<(&str, &str)> = later.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = web.post("/households/new", &later).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let z = board(&app, transfer).await;
    assert_eq!(
        z["figures"]["planned"],
        json!({"households": 2, "persons": 6}),
        "{z}"
    );
    let r = Web::new(&app.base)
        .get(&format!("/a/{token}/households"))
        .await;
    assert_eq!(r.body.matches("<li class=\"card").count(), 2, "{}", r.body);
    app.stop().await;
}
both!(the_forms_register_a_zone_and_its_households);

async fn alerts_count(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db().pool)
        .await
        .expect(sql);
    n
}

/// The hard cases: a drill open in the township does not mark a real
/// order 演练; a cadre archived since is replaced by the zone's leader and
/// nobody else goes untold; danger again during the return moves everyone
/// out again; “已返回” during a transfer out is not counted the wrong way;
/// a 准备转移 is not chased for reports it never asked for, and a reading
/// that changes nothing texts nobody; a "收到" after a read-back answers
/// the real notice, not the receipt.
async fn the_loop_holds_in_hard_cases(b: Backend) {
    let Some(app) = app(b).await else {
        return;
    };
    let t = town(&app).await;
    // A drill is open.
    open_incident(&app, true).await;
    // Cadre B has left: archived.
    let (_, c) = app.get(&format!("/api/v1/contacts/{}", t.cadre_b)).await;
    let (s, v) = app
        .send_as(
            &app.admin,
            "DELETE",
            &format!("/api/v1/contacts/{}?version={}", t.cadre_b, c["version"]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let transfer = ordered(&app, t.zone).await;
    let told = notices(&app, transfer).await;
    assert!(!told.contains_key(&t.cadre_b), "{told:?}");
    assert!(
        told[&t.leader].contains("您负责4户12人"),
        "B's households are the leader's: {told:?}"
    );
    assert!(told[&t.cadre_a].contains("您负责5户12人"), "{told:?}");
    assert_eq!(
        alerts_count(&app, &format!("SELECT COUNT(*) FROM alerts a JOIN transfer_notices tn ON tn.alert_id = a.id WHERE tn.transfer_id = {transfer} AND a.exercise = 1")).await,
        0,
        "a real order is not marked as a drill"
    );
    // “已返回” while people are going out: kept for a person, not counted.
    sms_from(&app, "13900000001", "已返回 3户").await;
    let z = board(&app, transfer).await;
    assert_eq!(z["figures"]["moved"]["households"], 0, "{z}");
    assert_eq!(z["replies"][0]["text"], "已返回 3户", "{z}");
    // A cadre's figures are running totals: the latest counts, not the sum.
    sms_from(&app, "13900000001", "已转移3户").await;
    sms_from(&app, "13900000001", "已转移5户").await;
    let z = board(&app, transfer).await;
    assert_eq!(z["figures"]["moved"]["households"], 5, "{z}");
    // A "收到" now answers nothing it should not: the receipts ask nothing.
    let receipts = alerts_count(&app, "SELECT COUNT(*) FROM alerts WHERE msg_type = 'Ack'").await;
    assert!(receipts >= 2, "{receipts}");
    let v = sms_from(&app, "13900000001", "收到").await;
    assert_eq!(
        v["answered"], 0,
        "A's notice was answered by the report; the receipts ask nothing: {v}"
    );
    // The return; then danger again: everyone out again.
    let (s, v) = app
        .post("/api/v1/transfers/return", json!({"zones": [t.zone]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let back = v["items"][0]["transfer_id"].as_i64().expect("return");
    let (s, v) = app
        .post("/api/v1/transfers", json!({"zones": [t.zone]}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["items"][0]["outcome"], "ordered", "{v}");
    let again = v["items"][0]["transfer_id"].as_i64().expect("again");
    assert_eq!(board(&app, back).await["closed"], true);
    assert_eq!(
        board(&app, again).await["figures"]["planned"]["households"],
        9
    );
    // A 准备转移 asks for no report: it is not chased. A second reading
    // passing the same threshold texts the duty officer no second time.
    let (s, v) = app
        .post(
            "/api/v1/transfers",
            json!({"zones": [t.other_zone], "stage": "prepare"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let chased = fenghuo::transfer::orders::chase_silent(&n, now + 31 * MIN)
        .await
        .expect("chase");
    assert_eq!(chased, 1, "the zone ordered to move only");
    let (_, z) = app
        .get(&format!("/api/v1/danger-zones/{}", t.other_zone))
        .await;
    let mut z = z.clone();
    z["thresholds"] = json!({"prepare": {"rain_mm": {"24": 80}}});
    z["leader_id"] = json!(t.leader);
    let body = json!({"code": z["code"], "name": z["name"], "village_id": z["village_id"], "kind": z["kind"],
        "geometry": z["geometry"], "thresholds": z["thresholds"], "leader_id": t.leader, "version": z["version"]});
    let (s, v) = app
        .put(&format!("/api/v1/danger-zones/{}", t.other_zone), body)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let duty = "SELECT COUNT(*) FROM alerts WHERE title = '危险区达到转移条件'";
    let before = alerts_count(&app, duty).await;
    let (s, v) = app
        .post(
            "/api/v1/observations",
            json!({"kind": "rainfall", "window_hours": 24, "mm": 90, "village": "SP"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["danger_zones"][0]["stage"], "prepare", "{v}");
    assert_eq!(
        alerts_count(&app, duty).await,
        before,
        "already getting ready: nobody texted"
    );
    app.stop().await;
}
both!(the_loop_holds_in_hard_cases);

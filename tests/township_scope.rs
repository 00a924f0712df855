//! Townships kept apart in notices, incidents, drills, observations, the
//! audit trail and users (issue 16), and county notices. Two townships side
//! by side (on SQLite too: distinct village codes), a county bureau row; a
//! township-2 token or user gets 404 or empty lists for township 1's
//! records through the API and the pages, the county sees both. A county
//! notice to two townships escalates through each township's own chain.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Two townships' records: (village, village head, duty officer) each.
struct Two {
    t2: i64,
    county: i64,
    v1: i64,
    v2: i64,
    head1: i64,
    head2: i64,
    /// Tokens: township 2's admin, the county's admin.
    tok2: String,
    county_tok: String,
}

const HEAD1: &str = "+8613800138001";
const HEAD2: &str = "+8613800138002";
const DUTY1: &str = "+8613800138011";
const DUTY2: &str = "+8613800138022";

async fn contact(app: &TestApp, name: &str, role: &str, village: Option<i64>, phone: &str) -> i64 {
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": name, "roles": [role], "village_id": village, "phone": phone}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().expect("contact id")
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

async fn move_to(app: &TestApp, table: &str, id: i64, township: i64) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET township_id = $1 WHERE id = $2"
    )))
    .bind(township)
    .bind(id)
    .execute(&app.db().pool)
    .await
    .expect("move");
}

async fn township(app: &TestApp, code: &str, name: &str, kind: &str) -> i64 {
    sqlx::query(
        "INSERT INTO townships (code, name, county_code, kind, created_at, updated_at) \
         VALUES ($1, $2, '350524', $3, 0, 0)",
    )
    .bind(code)
    .bind(name)
    .bind(kind)
    .execute(&app.db().pool)
    .await
    .expect("township");
    sqlx::query_scalar("SELECT id FROM townships WHERE code = $1")
        .bind(code)
        .fetch_one(&app.db().pool)
        .await
        .expect("id")
}

/// Township 1 (the home one) and township 2, each with a village, its head
/// and a duty officer (应急办值班, township level); the county bureau.
/// Township 2's duty officer is made first, so a chain that ignored
/// townships would reach them first from township 1 too.
async fn two_townships(app: &TestApp) -> Two {
    let t2 = township(app, "350524209000", "西坪镇", "township").await;
    let county = township(app, "350524000000", "安溪县应急管理局", "county").await;
    let duty2 = contact(app, "西坪值班员", "应急办值班", None, DUTY2).await;
    let _duty1 = contact(app, "城厢值班员", "应急办值班", None, DUTY1).await;
    let v1 = village(app, "CX01", "城厢一村", 118.0).await;
    let v2 = village(app, "XP01", "西坪一村", 118.3).await;
    let head1 = contact(app, "城厢村主任", "村主任", Some(v1), HEAD1).await;
    let head2 = contact(app, "西坪村主任", "村主任", Some(v2), HEAD2).await;
    for (table, id) in [("villages", v2), ("contacts", head2), ("contacts", duty2)] {
        move_to(app, table, id, t2).await;
    }
    let db = app.db();
    let (_, tok2) = fenghuo::auth::create_scoped_token(
        db,
        "t2-admin",
        Role::Admin,
        false,
        &Scope::township(t2),
        t2,
    )
    .await
    .expect("token");
    let (_, county_tok) = fenghuo::auth::create_scoped_token(
        db,
        "county-admin",
        Role::Admin,
        false,
        &Scope::County,
        county,
    )
    .await
    .expect("token");
    Two {
        t2,
        county,
        v1,
        v2,
        head1,
        head2,
        tok2,
        county_tok,
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["id"].as_i64()).collect())
        .unwrap_or_default()
}

async fn notice(app: &TestApp, token: &str, targets: Value) -> (StatusCode, Value) {
    app.send_as(
        token,
        "POST",
        "/api/v1/alerts",
        Some(json!({"title": "山洪预警", "body": "请回复1", "ack_within_minutes": 10, "targets": targets})),
    )
    .await
}

async fn alerts_are_apart(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = two_townships(&app).await;
    // Township 1's notice (the home admin), township 2's.
    let (s, a1) = notice(&app, &app.admin, json!({"villages": [t.v1]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a1}");
    let a1 = a1["id"].as_i64().expect("id");
    let (s, a2) = notice(&app, &t.tok2, json!({"villages": "all"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a2}");
    assert_eq!(
        a2["recipients"], 2,
        "all of township 2: its head and duty officer: {a2}"
    );
    let a2 = a2["id"].as_i64().expect("id");
    let owner: i64 = sqlx::query_scalar("SELECT township_id FROM alerts WHERE id = $1")
        .bind(a2)
        .fetch_one(&app.db().pool)
        .await
        .expect("owner");
    assert_eq!(owner, t.t2, "a notice is its sender's township's");
    let reached: Vec<i64> = sqlx::query_scalar(
        "SELECT contact_id FROM alert_recipients WHERE alert_id = $1 ORDER BY contact_id",
    )
    .bind(a2)
    .fetch_all(&app.db().pool)
    .await
    .expect("recipients");
    assert!(
        !reached.contains(&t.head1),
        "\"all\" is the sender's township only"
    );

    // Township 2 does not see township 1's notice.
    let (s, l) = app.send_as(&t.tok2, "GET", "/api/v1/alerts", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&l), vec![a2], "{l}");
    for path in [
        format!("/api/v1/alerts/{a1}"),
        format!("/api/v1/alerts/{a1}/deliveries"),
        format!("/api/v1/alerts/{a1}/summary"),
    ] {
        let (s, v) = app.send_as(&t.tok2, "GET", &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
    }
    let (s, _) = app
        .send_as(
            &t.tok2,
            "POST",
            &format!("/api/v1/alerts/{a1}/answers"),
            Some(json!({"contact_id": t.head1})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .send_as(&t.tok2, "POST", &format!("/api/v1/alerts/{a1}/close"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, board) = app.get(&format!("/api/v1/alerts/{a1}")).await;
    assert_eq!(board["status"], "active", "township 2 could not close it");
    // Nor may it reach township 1's people.
    for (targets, field) in [
        (json!({"villages": [t.v1]}), "targets.villages[0]"),
        (json!({"villages": ["CX01"]}), "targets.villages[0]"),
        (json!({"contacts": [t.head1]}), "targets.contacts[0]"),
        (json!({"townships": [1]}), "targets.townships[0]"),
    ] {
        let (s, v) = notice(&app, &t.tok2, targets.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{targets}: {v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    // "All townships" from a township office is its own township.
    let (s, v) = notice(
        &app,
        &t.tok2,
        json!({"townships": "all", "roles": ["村主任"]}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recipients"], 1, "{v}");
    // A role alone reaches the township's own holders only.
    let (s, v) = notice(&app, &t.tok2, json!({"roles": ["村主任"]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recipients"], 1, "{v}");
    let (s, v) = app
        .send_as(&t.tok2, "POST", "/api/v1/alerts", Some(json!({"title": "更新", "body": "x", "updates": a1, "targets": {"villages": "all"}})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "updates");

    // The county sees both, and township 1 its own only.
    let (_, l) = app
        .send_as(&t.county_tok, "GET", "/api/v1/alerts?per_page=50", None)
        .await;
    let all = ids(&l);
    assert!(all.contains(&a1) && all.contains(&a2), "{l}");
    let (s, _) = app
        .send_as(&t.county_tok, "GET", &format!("/api/v1/alerts/{a2}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, l) = app.get("/api/v1/alerts?per_page=50").await;
    assert!(!ids(&l).contains(&a2), "{l}");

    // The audit trail: township 2 sees its notice's entries, not township 1's.
    let (s, log) = app
        .send_as(&t.tok2, "GET", "/api/v1/audit?entity=alert", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let seen: Vec<i64> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["entity_id"].as_i64())
        .collect();
    assert!(seen.contains(&a2) && !seen.contains(&a1), "{log}");
    let (_, log) = app
        .send_as(&t.county_tok, "GET", "/api/v1/audit?entity=alert", None)
        .await;
    let seen: Vec<i64> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["entity_id"].as_i64())
        .collect();
    assert!(seen.contains(&a2) && seen.contains(&a1), "{log}");
    let _ = (t.county, t.head2, t.v2);
    app.stop().await;
}
both!(alerts_are_apart);

async fn incidents_drills_observations_are_apart(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = two_townships(&app).await;
    let db = app.db();
    // Incidents and observations as stored (opening one needs a plan in force).
    let mut incident = Vec::new();
    for township in [1, t.t2] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (plan_id, plan_hash, level, villages, status, opened_by, opened_at, township_id) \
             VALUES ('flood', 'h', 4, '[]', 'open', 'x', 0, $1) RETURNING id",
        )
        .bind(township)
        .fetch_one(&db.pool)
        .await
        .expect("incident");
        incident.push(id);
        sqlx::query(
            "INSERT INTO observations (at, kind, payload, results, actor, township_id) \
             VALUES ($1, 'rainfall', $2, '[{\"action\": \"suggested\"}]', 'x', $3)",
        )
        .bind(fenghuo::store::now_ms())
        .bind(json!({"kind": "rainfall", "township": township}).to_string())
        .bind(township)
        .execute(&db.pool)
        .await
        .expect("observation");
    }
    let (i1, i2) = (incident[0], incident[1]);
    let (s, l) = app.send_as(&t.tok2, "GET", "/api/v1/incidents", None).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(ids(&l), vec![i2], "{l}");
    let (s, _) = app
        .send_as(&t.tok2, "GET", &format!("/api/v1/incidents/{i1}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .send_as(
            &t.tok2,
            "POST",
            &format!("/api/v1/incidents/{i1}/close"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = app
        .send_as(&t.county_tok, "GET", "/api/v1/incidents", None)
        .await;
    assert_eq!(ids(&l).len(), 2, "{l}");
    let (s, sug) = app
        .send_as(&t.tok2, "GET", "/api/v1/observations/suggestions", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{sug}");
    let seen: Vec<Value> = sug["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|x| x["observation"]["township"].clone())
        .collect();
    assert_eq!(seen, vec![json!(t.t2)], "{sug}");
    let (_, sug) = app
        .send_as(
            &t.county_tok,
            "GET",
            "/api/v1/observations/suggestions",
            None,
        )
        .await;
    assert_eq!(sug["items"].as_array().map(Vec::len), Some(2), "{sug}");
    // A reading is its reader's township's; another township's village is unknown.
    let (s, v) = app
        .send_as(
            &t.tok2,
            "POST",
            "/api/v1/observations",
            Some(json!({"kind": "rainfall", "window_hours": 1, "mm": 5.0, "village": t.v1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "village");
    let (s, v) = app
        .send_as(
            &t.tok2,
            "POST",
            "/api/v1/observations",
            Some(json!({"kind": "rainfall", "window_hours": 1, "mm": 5.0, "village": t.v2})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let owners: Vec<i64> = sqlx::query_scalar(
        "SELECT township_id FROM observations WHERE kind = 'rainfall' AND actor <> 'x'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("owners");
    assert_eq!(owners, vec![t.t2]);

    // Drills: township 1's schedule is not township 2's to see or start.
    let drill = |villages: Value| json!({"title": "山洪演练", "cron": "0 9 1 6 *", "villages": villages, "lead_times": []});
    let (s, d1) = app.post("/api/v1/drills", drill(json!([t.v1]))).await;
    assert_eq!(s, StatusCode::CREATED, "{d1}");
    let d1 = d1["id"].as_i64().expect("id");
    let (s, v) = app
        .send_as(
            &t.tok2,
            "POST",
            "/api/v1/drills",
            Some(drill(json!([t.v1]))),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "villages[0]");
    let (s, d2) = app
        .send_as(&t.tok2, "POST", "/api/v1/drills", Some(drill(json!("all"))))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d2}");
    let d2 = d2["id"].as_i64().expect("id");
    let (_, l) = app.send_as(&t.tok2, "GET", "/api/v1/drills", None).await;
    assert_eq!(ids(&l), vec![d2], "{l}");
    for path in [
        format!("/api/v1/drills/{d1}"),
        format!("/api/v1/drills/{d1}/scorecard"),
    ] {
        let (s, _) = app.send_as(&t.tok2, "GET", &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, _) = app
        .send_as(
            &t.tok2,
            "POST",
            &format!("/api/v1/drills/{d1}/start"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Township 2's drill "all" reaches township 2 only, even started by the county.
    let (s, started) = app
        .send_as(
            &t.county_tok,
            "POST",
            &format!("/api/v1/drills/{d2}/start"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    let alert = started["alert_id"].as_i64().expect("alert");
    let reached: Vec<i64> =
        sqlx::query_scalar("SELECT contact_id FROM alert_recipients WHERE alert_id = $1")
            .bind(alert)
            .fetch_all(&db.pool)
            .await
            .expect("recipients");
    assert!(
        !reached.is_empty() && !reached.contains(&t.head1),
        "{reached:?}"
    );
    let (_, l) = app
        .send_as(&t.county_tok, "GET", "/api/v1/drills", None)
        .await;
    assert_eq!(ids(&l).len(), 2, "{l}");
    app.stop().await;
}
both!(incidents_drills_observations_are_apart);

/// The pages: a township-2 user signs in and finds nothing of township 1.
async fn pages_and_users_are_apart(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let t = two_townships(&app).await;
    let db = app.db();
    let (s, a1) = notice(&app, &app.admin, json!({"villages": [t.v1]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a1}");
    let a1 = a1["id"].as_i64().expect("id");
    let (s, d1) = app
        .post(
            "/api/v1/drills",
            json!({"title": "城厢演练", "cron": "0 9 1 6 *", "villages": [t.v1], "lead_times": []}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d1}");
    let d1 = d1["id"].as_i64().expect("id");
    let i1: i64 = sqlx::query_scalar(
        "INSERT INTO incidents (plan_id, plan_hash, level, villages, status, opened_by, opened_at) \
         VALUES ('flood', 'h', 4, '[]', 'open', 'x', 0) RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("incident");
    const PW: &str = "correct horse 2";
    use fenghuo::accounts::users;
    users::create(db, "cli", "chengxiang", Role::Admin, PW)
        .await
        .expect("user 1");
    users::create_in(
        db,
        "cli",
        "xiping",
        Role::Admin,
        PW,
        &Scope::township(t.t2),
        t.t2,
    )
    .await
    .expect("user 2");
    users::create_in(
        db,
        "cli",
        "county",
        Role::Admin,
        PW,
        &Scope::County,
        t.county,
    )
    .await
    .expect("county user");

    let web = web_client::Web::new(&app.base);
    web.sign_in("xiping", PW).await;
    for path in [
        format!("/alerts/{a1}"),
        format!("/drills/{d1}"),
        format!("/incidents/{i1}"),
    ] {
        let r = web.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = web.get("/alerts").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains(&format!("/alerts/{a1}\"")),
        "township 1's notice listed"
    );
    let r = web.get("/users").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("xiping") && !r.body.contains("chengxiang"),
        "{}",
        r.body
    );
    // A user the township-2 admin adds is township 2's, with its scope.
    let csrf = r.csrf();
    let r = web
        .post(
            "/users",
            &[
                ("_csrf", &csrf),
                ("name", "xiping2"),
                ("role", "viewer"),
                ("password", PW),
            ],
        )
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.body
    );
    let (scope, township): (String, i64) =
        sqlx::query_as("SELECT scope, township_id FROM users WHERE name = 'xiping2'")
            .fetch_one(&db.pool)
            .await
            .expect("user");
    assert_eq!((scope.as_str(), township), ("township", t.t2));
    // Nor can they change township 1's users.
    let r = web
        .post(
            "/users/disable",
            &[("_csrf", &csrf), ("name", "chengxiang"), ("disabled", "1")],
        )
        .await;
    let disabled: Option<i64> =
        sqlx::query_scalar("SELECT disabled_at FROM users WHERE name = 'chengxiang'")
            .fetch_one(&db.pool)
            .await
            .expect("user");
    assert!(disabled.is_none(), "{} {}", r.status, r.body);
    let r = web.get("/audit").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains("城厢演练"),
        "township 1's audit entry shown"
    );

    // The county's user sees both townships' records.
    let web = web_client::Web::new(&app.base);
    web.sign_in("county", PW).await;
    for path in [
        format!("/alerts/{a1}"),
        format!("/drills/{d1}"),
        format!("/incidents/{i1}"),
    ] {
        let r = web.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    let r = web.get("/users").await;
    assert!(r.body.contains("xiping") && r.body.contains("chengxiang"));
    // Its notice form offers the townships.
    let r = web.get("/alerts/new").await;
    assert!(r.body.contains("name=\"townships\""), "{}", r.body);
    app.stop().await;
}
both!(pages_and_users_are_apart);

/// The board of a notice (as `token` sees it) once `sent` deliveries are sent.
async fn wait_sent(app: &TestApp, token: &str, id: i64, sent: i64) -> Value {
    let mut board = Value::Null;
    for _ in 0..200 {
        let (_, b) = app
            .send_as(token, "GET", &format!("/api/v1/alerts/{id}"), None)
            .await;
        board = b;
        if board["delivery_states"]["sent"].as_i64() >= Some(sent) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    board
}

/// The must-show: a county notice to two townships; nobody answers; each
/// escalation SMS reaches the right township's duty officer, none crosses.
async fn a_county_notice_to_two_townships_escalates_through_each_townships_own_duty_officer(
    b: Backend,
) {
    let sim = sms_provider_sim::start(
        sms_provider_sim::Kind::Webhook,
        sms_provider_sim::Creds::new("test-key-id", "s3cr3t-key"),
    )
    .await;
    let Some(app) = TestApp::start_with(b, |c| sim.configure(&mut c.sms)).await else {
        return;
    };
    let t = two_townships(&app).await;
    let (s, v) = notice(&app, &t.county_tok, json!({"townships": [9999]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "targets.townships[0]");

    // The county's notice to both townships' village heads (by id and by code).
    let (s, v) = notice(
        &app,
        &t.county_tok,
        json!({"townships": [1, "350524209000"], "roles": ["村主任"]}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recipients"], 2, "{v}");
    let id = v["id"].as_i64().expect("id");
    let owner: i64 = sqlx::query_scalar("SELECT township_id FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("owner");
    assert_eq!(owner, t.county, "the county's notice");
    let board = wait_sent(&app, &t.county_tok, id, 2).await;
    assert_eq!(board["delivery_states"]["sent"], 2, "{board}");

    // Nobody answers: each head's own township chain is told.
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let fired = fenghuo::notify::response::escalation::tick(&n, now + 11 * 60_000)
        .await
        .expect("tick");
    assert_eq!(fired, 2);
    let board = wait_sent(&app, &t.county_tok, id, 6).await;
    assert_eq!(
        board["delivery_states"]["sent"], 6,
        "2 notices, 2 repeats, 2 escalations: {board}"
    );
    let got = sim.accepted();
    let to = |phone: &str| -> Vec<String> {
        got.iter()
            .filter(|r| r.to == phone)
            .map(|r| r.text.clone())
            .collect()
    };
    let (d1, d2) = (to(DUTY1), to(DUTY2));
    assert_eq!(d1.len(), 1, "township 1's duty officer told once: {d1:?}");
    assert_eq!(d2.len(), 1, "township 2's duty officer told once: {d2:?}");
    // Each hears of their own township's silent head, never the other's.
    assert!(
        d1[0].contains("城厢村主任") && !d1[0].contains("西坪村主任"),
        "{}",
        d1[0]
    );
    assert!(
        d2[0].contains("西坪村主任") && !d2[0].contains("城厢村主任"),
        "{}",
        d2[0]
    );
    assert_eq!(to(HEAD1).len(), 2, "the head: the notice and one repeat");
    assert_eq!(to(HEAD2).len(), 2);
    // As stored: each escalation from its own township's head.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT e.phone, f.contact_id FROM alert_recipients e JOIN alert_recipients f ON f.id = e.escalated_from \
         WHERE e.alert_id = $1 AND e.reason = 'escalation' ORDER BY e.phone",
    )
    .bind(id)
    .fetch_all(&app.db().pool)
    .await
    .expect("escalations");
    assert_eq!(
        rows,
        vec![(DUTY1.to_string(), t.head1), (DUTY2.to_string(), t.head2)]
    );
    let _ = (t.v1, t.v2);
    app.stop().await;
}
both!(a_county_notice_to_two_townships_escalates_through_each_townships_own_duty_officer);

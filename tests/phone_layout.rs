//! The dashboard on a phone and on a desktop. In headless Chromium, at
//! 1366 × 768 and at 390 × 844, signed in as a dispatcher (an admin, who sees
//! every page), as a leader and as a village cadre (a viewer): every page in
//! the navigation, a notice's board, an incident, the sign-off page and the
//! answer page a recipient opens; none may be wider than the window. The
//! board's cards must have a number to tap for everyone not yet answered.
//! Every page is kept as a screenshot at both sizes, and all of them as one
//! contact sheet, in test-artifacts/phone_layout.
//!
//! And, on both backends through the dashboard's forms: a phone answer asks
//! first, can be taken back, and taking it back puts the person on the
//! escalation path again without sending anything twice.

mod common;
#[path = "support/contact_sheet.rs"]
mod contact_sheet;
#[path = "support/web_client.rs"]
mod web_client;
#[path = "support/webdriver.rs"]
mod webdriver;

use common::{Backend, TestApp};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// The sample township of `serve --demo` with the shipped plans, and the
/// users: `demo` (admin, as `serve --demo` makes it), `demo-leader`
/// (dispatcher with the leader permission) and `cun` (a village cadre who
/// only looks: viewer).
async fn township(b: Backend) -> Option<TestApp> {
    let app = TestApp::start_with(b, |c| {
        c.plans_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))
    })
    .await?;
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (_, r) = app.post("/api/v1/plans/reload", json!({})).await;
    assert_eq!(r["problems"], json!([]), "{r}");
    let db = app.db();
    fenghuo::accounts::users::create(db, "test", "demo", Role::Admin, PASSWORD)
        .await
        .expect("user");
    fenghuo::accounts::users::create(db, "test", "demo-leader", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    fenghuo::accounts::users::set_leader(db, "test", "demo-leader", true)
        .await
        .expect("leader");
    fenghuo::accounts::users::create(db, "test", "cun", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    Some(app)
}

fn all_sent(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["sent"] == s["total"]
}

/// A notice to the first `n` villages, answered within 30 minutes, by SMS;
/// returned once every SMS went out (to the spool), with its board.
async fn notice(app: &TestApp, n: usize) -> (i64, Value) {
    let (_, vs) = app.get("/api/v1/villages").await;
    let ids: Vec<i64> = vs["items"]
        .as_array()
        .expect("villages")
        .iter()
        .take(n)
        .filter_map(|v| v["id"].as_i64())
        .collect();
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "{village}请立即巡查山塘水库，{deadline}前回复。",
                   "level": "blue", "channels": ["sms"], "ack_within_minutes": 30,
                   "targets": {"villages": ids}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let board = app.wait_alert(id, 30, all_sent).await;
    (id, board)
}

/// Everyone not yet answered on a board, as the API gives them.
fn not_answered(board: &Value) -> Vec<Value> {
    board["villages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|v| v["not_answered"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn one_i64(app: &TestApp, sql: &'static str, id: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("query");
    n
}

async fn deliveries_of(app: &TestApp, recipient: i64) -> i64 {
    one_i64(
        app,
        "SELECT COUNT(*) FROM deliveries WHERE recipient_id = $1",
        recipient,
    )
    .await
}

async fn answered(app: &TestApp, recipient: i64) -> bool {
    one_i64(
        app,
        "SELECT COUNT(*) FROM alert_recipients WHERE id = $1 AND answered_at IS NOT NULL",
        recipient,
    )
    .await
        == 1
}

async fn audit_actions(app: &TestApp, alert: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE entity = 'alert' AND entity_id = $1 ORDER BY id",
    )
    .bind(alert)
    .fetch_all(&app.db().pool)
    .await
    .expect("audit")
}

async fn phone_answers_are_confirmed_and_undone(b: Backend) {
    let Some(app) = township(b).await else {
        return;
    };
    let web = Web::new(&app.base);
    web.sign_in("demo", PASSWORD).await;
    let t = web.token().await;
    let (id, board) = notice(&app, 1).await;
    let waiting = not_answered(&board);
    assert!(waiting.len() >= 3, "{board}");

    // The board: a number to tap beside everyone not yet answered, and a
    // phone answer that asks before it is recorded.
    let page = web.get(&format!("/alerts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for p in &waiting {
        let phone = p["phone"].as_str().expect("phone on the board");
        assert!(
            page.body.contains(&format!("href=\"tel:{phone}\"")),
            "no tel: link for {p}: {}",
            page.body
        );
        assert!(
            page.body.contains(&fenghuo::phone::dialled(phone)),
            "{phone} shown as dialled"
        );
    }
    assert!(
        page.body.contains(&format!(
            "action=\"/alerts/{id}/answer\" class=\"inline\" data-confirm=\""
        )),
        "电话已确认 asks first: {}",
        page.body
    );
    assert!(!page.body.contains("/answer/undo"), "nothing to undo yet");

    let r1 = waiting[0]["recipient_id"].as_i64().expect("recipient");
    let r2 = waiting[1]["recipient_id"].as_i64().expect("recipient");
    let r1s = r1.to_string();
    let r = web
        .post(
            &format!("/alerts/{id}/answer"),
            &[("_csrf", &t), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(answered(&app, r1).await);
    let page = web.get(&format!("/alerts/{id}")).await;
    assert!(
        page.body.contains(&format!("action=\"/alerts/{id}/answer/undo\""))
            && page
                .body
                .contains(&format!("name=\"recipient_id\" value=\"{r1}\"><button type=\"submit\" class=\"small undo-phone\"")),
        "撤销 beside the phone answer: {}",
        page.body
    );

    // The deadline passes while r1 counts as answered: the others are sent
    // again and escalated, r1 is left alone.
    let n = app.notifier();
    let now = fenghuo::store::now_ms();
    let min = 60_000;
    let fired = fenghuo::notify::response::escalation::tick(&n, now + 31 * min)
        .await
        .expect("tick");
    assert!(fired >= 2, "the others are overdue: {fired}");
    assert_eq!(deliveries_of(&app, r1).await, 1, "r1 answered: no repeat");
    let sent_before_undo = deliveries_of(&app, r1).await;

    // Taken back: unanswered again, nothing sent by the undo itself.
    let r = web
        .post(
            &format!("/alerts/{id}/answer/undo"),
            &[("_csrf", &t), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(!answered(&app, r1).await, "the phone answer is taken back");
    assert_eq!(
        deliveries_of(&app, r1).await,
        sent_before_undo,
        "an undo sends nothing by itself"
    );
    let (_, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert!(
        not_answered(&board)
            .iter()
            .any(|p| p["recipient_id"].as_i64() == Some(r1)),
        "back among those not yet answered: {board}"
    );
    let page = web.get(&format!("/alerts/{id}")).await;
    assert!(!page.body.contains("/answer/undo"), "{}", page.body);
    let actions = audit_actions(&app, id).await;
    let answer_at = actions
        .iter()
        .position(|(a, who)| a == "answer" && who == "web:demo")
        .expect("the phone answer audited");
    let undo_at = actions
        .iter()
        .position(|(a, who)| a == "answer_undo" && who == "web:demo")
        .unwrap_or_else(|| panic!("the undo audited: {actions:?}"));
    assert!(answer_at < undo_at, "{actions:?}");

    // Back on the escalation path: its deadline has passed, so the next round
    // repeats the notice to r1 and tells the next person up, once.
    let repeats = || {
        one_i64(
            &app,
            "SELECT repeats + 10 * escalated FROM alert_recipients WHERE id = $1",
            r1,
        )
    };
    assert_eq!(repeats().await, 0);
    fenghuo::notify::response::escalation::tick(&n, now + 32 * min)
        .await
        .expect("tick");
    assert_eq!(
        repeats().await,
        11,
        "repeated once and escalated after the undo"
    );
    assert_eq!(deliveries_of(&app, r1).await, sent_before_undo + 1);

    // Nothing left to take back.
    let r = web
        .post(
            &format!("/alerts/{id}/answer/undo"),
            &[("_csrf", &t), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // An answer the person gave by link is theirs: it cannot be undone.
    let contact = waiting[1]["contact_id"].as_i64().expect("contact");
    let token = app.token_of(id, contact).await;
    let r = reqwest::Client::new()
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success());
    let r2s = r2.to_string();
    let r = web
        .post(
            &format!("/alerts/{id}/answer/undo"),
            &[("_csrf", &t), ("recipient_id", &r2s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("只能撤销电话确认"), "{}", r.body);
    assert!(answered(&app, r2).await);

    // A viewer may not undo; on a closed notice nobody may.
    let viewer = Web::new(&app.base);
    viewer.sign_in("cun", PASSWORD).await;
    let vt = viewer.token().await;
    let r = web
        .post(
            &format!("/alerts/{id}/answer"),
            &[("_csrf", &t), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = viewer
        .post(
            &format!("/alerts/{id}/answer/undo"),
            &[("_csrf", &vt), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = web
        .post(&format!("/alerts/{id}/close"), &[("_csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = web
        .post(
            &format!("/alerts/{id}/answer/undo"),
            &[("_csrf", &t), ("recipient_id", &r1s)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(answered(&app, r1).await, "a closed board stays as it was");
    app.stop().await;
}
both!(phone_answers_are_confirmed_and_undone);

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/phone_layout")
}

/// A page's name for screenshots and failures: `/` is the overview,
/// `/alerts/3` is `alerts-3`.
fn page_name(path: &str) -> String {
    let p = path.split('?').next().unwrap_or(path).trim_matches('/');
    if p.is_empty() {
        "overview".to_string()
    } else {
        p.replace('/', "-")
    }
}

const SIZES: [(u32, u32, &str); 2] = [(1366, 768, "desktop"), (390, 844, "phone")];

/// What is measured on every page: how wide the document is, and the first
/// few elements reaching past the window's right edge (to name the culprit).
const MEASURE: &str = "var w = window.innerWidth, out = [];
    var all = document.body.getElementsByTagName('*');
    for (var i = 0; i < all.length && out.length < 4; i++) {
      var r = all[i].getBoundingClientRect();
      if (r.right > w + 1 && r.width > 0) {
        out.push(all[i].tagName.toLowerCase() + (all[i].id ? '#' + all[i].id : '') +
          (all[i].className && typeof all[i].className === 'string' ? '.' + all[i].className.split(' ').join('.') : '') +
          ' right=' + Math.round(r.right));
      }
    }
    return [document.documentElement.scrollWidth, w, out];";

struct Visit {
    who: &'static str,
    name: String,
    shots: Vec<std::path::PathBuf>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_desktop() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "every_page_fits_a_phone_and_a_desktop needs {} and {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = township(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();

    // Something on every page: a notice half answered, an exercise incident
    // with its notices, a real Ⅱ waiting for a leader, a public warning
    // waiting for sign-off, a reading with its suggestion.
    let (alert, board) = notice(&app, 3).await;
    let waiting = not_answered(&board);
    let first = waiting[0]["contact_id"].as_i64().expect("contact");
    let token = app.token_of(alert, first).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/a/{token}"))
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success());
    let answer_token = app
        .token_of(alert, waiting[1]["contact_id"].as_i64().expect("contact"))
        .await;
    let web = Web::new(&base);
    web.sign_in("demo", PASSWORD).await;
    let t = web.token().await;
    let (_, vs) = app.get("/api/v1/villages").await;
    let v1 = vs["items"][0]["id"].as_i64().expect("village").to_string();
    let v2 = vs["items"][1]["id"].as_i64().expect("village").to_string();
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "4"),
                ("exercise", "1"),
                ("villages", &v1),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let incident = r.location();
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "2"),
                ("villages", &v2),
                ("confirm", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪橙色预警", "body": "请沿河群众注意防范。", "level": 2, "public": true,
                   "targets": {"villages": [v1.parse::<i64>().unwrap_or(0)]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let r = web
        .post(
            "/observations",
            &[
                ("_csrf", &t),
                ("kind", "typhoon_signal"),
                ("colour", "yellow"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let shots = artifacts();
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");

    let mut wide = Vec::new();
    let mut visits: Vec<Visit> = Vec::new();
    for who in ["demo", "demo-leader", "cun"] {
        d.set_window_size(1366, 768).await.expect("window");
        d.goto(&format!("{base}/login"))
            .await
            .expect("sign-in page");
        d.wait_for("#f-password", 10).await.expect("sign-in form");
        d.fill("#f-name", who).await.expect("name");
        d.fill("#f-password", PASSWORD).await.expect("password");
        d.click_css("#signin").await.expect("submit");
        d.wait_for("#signout", 10).await.expect("signed in");
        let links = d
            .exec(
                "var out = []; var a = document.querySelectorAll('header nav a');
                 for (var i = 0; i < a.length; i++) { out.push(a[i].getAttribute('href')); } return out;",
                json!([]),
            )
            .await
            .expect("navigation");
        let mut pages: Vec<String> = links
            .as_array()
            .expect("links")
            .iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect();
        assert!(
            pages.iter().any(|p| p == "/observations"),
            "雨情水情 in the navigation: {pages:?}"
        );
        if who == "demo-leader" {
            assert!(pages.iter().any(|p| p == "/signoff"), "{pages:?}");
        }
        pages.push(format!("/alerts/{alert}"));
        pages.push(incident.clone());
        if who == "demo" {
            pages.push(format!("/a/{answer_token}"));
        }
        let mut mine: Vec<Visit> = pages
            .iter()
            .map(|p| Visit {
                who,
                name: if p.starts_with("/a/") {
                    "answer-page".to_string()
                } else {
                    page_name(p)
                },
                shots: Vec::new(),
            })
            .collect();
        for (w, h, size) in SIZES {
            d.set_window_size(w, h).await.expect("window");
            for (path, visit) in pages.iter().zip(mine.iter_mut()) {
                d.goto(&format!("{base}{path}")).await.expect("page");
                d.wait_until("return document.readyState === 'complete'", 10)
                    .await
                    .expect("loaded");
                if path == "/map" {
                    d.wait_until(
                        "var m = document.getElementById('map'); return !m || m.getAttribute('data-ready') === '1'",
                        15,
                    )
                    .await
                    .expect("map drawn");
                }
                let m = d.exec(MEASURE, json!([])).await.expect("measure");
                let (sw, iw) = (m[0].as_i64().unwrap_or(0), m[1].as_i64().unwrap_or(0));
                if sw > iw {
                    wide.push(format!(
                        "{who} at {w}×{h}: {path} is {sw} px wide in a {iw} px window (past the edge: {})",
                        m[2]
                    ));
                }
                // What a person reads: no JSON, no raw {variable} (the audit
                // page included, as the browser shows it).
                let text = d
                    .exec("return document.body.innerText", json!([]))
                    .await
                    .expect("text");
                let text = text.as_str().unwrap_or("");
                assert!(!text.contains("{\""), "{who}: {path} shows JSON");
                for raw in [
                    "{level}",
                    "{name}",
                    "{village}",
                    "{plan}",
                    "{office}",
                    "{deadline}",
                ] {
                    assert!(!text.contains(raw), "{who}: {path} shows {raw}");
                }
                if path.starts_with("/alerts/") && size == "phone" {
                    // A card per village; a number to tap for everyone not yet answered.
                    let c = d
                        .exec(
                            "var b = document.getElementById('board-table');
                             return [b.querySelectorAll('.vcard').length,
                                     b.querySelectorAll('li.person.wait').length,
                                     b.querySelectorAll('li.person.wait a[href^=\"tel:+86\"]').length,
                                     b.querySelectorAll('li.person.ok').length];",
                            json!([]),
                        )
                        .await
                        .expect("cards");
                    assert_eq!(c[0].as_i64(), Some(3), "a card per village: {c}");
                    assert!(c[1].as_i64().unwrap_or(0) > 0, "{c}");
                    assert_eq!(c[1], c[2], "a tel: link for each unanswered person: {c}");
                    assert!(c[3].as_i64().unwrap_or(0) >= 1, "the answer shows: {c}");
                }
                if path == "/" && size == "phone" {
                    // The navigation folds behind 菜单 and opens with no script.
                    let shown =
                        "return window.getComputedStyle(document.getElementById('nav')).display";
                    let before = d.exec(shown, json!([])).await.expect("nav");
                    assert_eq!(before, json!("none"), "folded on a phone");
                    d.click_css("label.menu-button").await.expect("menu");
                    let after = d.exec(shown, json!([])).await.expect("nav");
                    assert_eq!(after, json!("flex"), "opened by 菜单");
                    d.screenshot(&format!("{who}-{size}-menu"))
                        .await
                        .expect("shot");
                    d.click_css("label.menu-button").await.expect("menu");
                }
                if path == "/" && size == "desktop" {
                    let shown = d
                        .exec(
                            "return [window.getComputedStyle(document.getElementById('nav')).display,
                                     window.getComputedStyle(document.querySelector('label.menu-button')).display]",
                            json!([]),
                        )
                        .await
                        .expect("nav");
                    assert_eq!(shown, json!(["flex", "none"]), "a row on a desktop");
                }
                let shot = d
                    .screenshot(&format!("{who}-{size}-{}", visit.name))
                    .await
                    .expect("shot");
                visit.shots.push(shot);
            }
        }
        visits.extend(mine);
        d.set_window_size(1366, 768).await.expect("window");
        d.goto(&format!("{base}/")).await.expect("overview");
        d.click_css("#signout").await.expect("sign out");
        d.wait_for("#f-password", 10).await.expect("signed out");
    }
    d.quit().await;

    // The favicon answers where browsers look for it.
    let r = reqwest::get(format!("{base}/favicon.ico"))
        .await
        .expect("favicon");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/svg+xml")
    );

    let entries: Vec<contact_sheet::Entry> = visits
        .iter()
        .map(|v| contact_sheet::Entry {
            label: format!("{} {}", v.who, v.name),
            shots: v.shots.clone(),
        })
        .collect();
    let sheet = shots.join("contact-sheet.png");
    contact_sheet::make(&entries, 3, 3, &sheet).expect("contact sheet");
    eprintln!("screenshots and {} in {}", sheet.display(), shots.display());
    app.stop().await;
    assert!(
        wide.is_empty(),
        "pages wider than the window:\n{}",
        wide.join("\n")
    );
}

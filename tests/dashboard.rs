//! The dashboard, end to end: the real daemon on loopback, driven by headless
//! Chromium through chromedriver (the browser scenario), and by plain HTTP for
//! sign-in, CSRF, lock-out, forms, roles, external URLs and render times.

mod common;
#[path = "support/web_client.rs"]
mod web_client;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// Two villages with contacts, and a user of `role`.
/// The incidents not closed (the sample data holds a closed one).
fn open_incidents(list: &Value) -> Vec<Value> {
    list["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["status"] != "closed")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

async fn seed(app: &TestApp, role: Role) -> (i64, i64, Vec<i64>) {
    let (s, a) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V01", "name": "湖上村", "boundary": square(117.96, 25.17, 0.02), "population": 1500}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, b) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V02", "name": "湖东村", "boundary": square(117.98, 25.17, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (va, vb) = (a["id"].as_i64().expect("id"), b["id"].as_i64().expect("id"));
    let mut contacts = Vec::new();
    for (i, (name, village, role)) in [
        ("张支书", va, "村支书"),
        ("李主任", va, "村主任"),
        ("王网格", va, "网格员"),
        ("陈支书", vb, "村支书"),
    ]
    .iter()
    .enumerate()
    {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "village_id": village, "roles": [role], "phone": format!("+86138001380{i:02}"), "escalation_order": i + 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        contacts.push(c["id"].as_i64().expect("id"));
    }
    fenghuo::accounts::users::create(app.db(), "test", "wang", role, PASSWORD)
        .await
        .expect("user");
    (va, vb, contacts)
}

/// A fresh daemon with `seed`'s villages and contacts, and `wang` (of
/// `role`) signed in; with the CSRF token of his session.
async fn signed_in(b: Backend, role: Role) -> Option<(TestApp, Web, String)> {
    let app = TestApp::start(b).await?;
    seed(&app, role).await;
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    Some((app, web, t))
}

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/dashboard")
}

/// The scenario an office clerk goes through, in a real browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_scenario() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "browser_scenario needs {} and {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (va, _vb, contacts) = seed(&app, Role::Dispatcher).await;
    let base = app.base.clone();
    let shots = artifacts();
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");

    // Sign in: the overview needs it, so the browser lands on the form.
    d.goto(&format!("{base}/")).await.expect("open");
    d.wait_for("#f-password", 10).await.expect("sign-in form");
    assert!(d.url().await.expect("url").contains("/login"));
    d.screenshot("01-sign-in").await.expect("shot");
    d.fill("#f-name", "wang").await.expect("name");
    d.fill("#f-password", PASSWORD).await.expect("password");
    d.click_css("#signin").await.expect("submit");
    d.wait_for("#live", 10)
        .await
        .expect("overview after sign-in");
    d.screenshot("02-overview").await.expect("shot");

    // English on request, and back.
    d.goto(&format!("{base}/?lang=en")).await.expect("english");
    let body = d.body_text().await.expect("text");
    assert!(
        body.contains("Overview") && body.contains("Channel health"),
        "{body}"
    );
    d.goto(&format!("{base}/?lang=zh")).await.expect("chinese");

    // A site through the form: a bad value first, which must keep the input.
    d.goto(&format!("{base}/sites/new"))
        .await
        .expect("new site");
    d.wait_for("#site-form", 10).await.expect("form");
    d.fill("#f-name", "测试烟花零售点（浏览器）")
        .await
        .expect("name");
    d.choose("#f-kind", "fireworks_retail").await.expect("kind");
    d.choose("#f-risk_grade", "significant")
        .await
        .expect("grade");
    d.fill("#f-address", "湖上村 8 号").await.expect("address");
    d.fill("#f-lon", "117.97a").await.expect("lon");
    d.fill("#f-lat", "25.175").await.expect("lat");
    d.fill("#f-licence_number", "(闽)LS〔2025〕0315")
        .await
        .expect("licence");
    d.fill("#f-phone_24h", "0595-2345 6789")
        .await
        .expect("phone");
    d.fill("#f-inv0_chemical", "烟花爆竹（1.4G）")
        .await
        .expect("inventory");
    d.fill("#f-inv0_max_quantity", "200").await.expect("qty");
    d.fill("#f-inv0_unit", "箱").await.expect("unit");
    d.click_css("#save").await.expect("save");
    let err = d
        .wait_for("#err-lon", 10)
        .await
        .expect("error beside the longitude");
    assert!(d.text(&err).await.expect("text").contains("117.97a"));
    assert_eq!(
        d.value_of("#f-name").await.expect("kept"),
        "测试烟花零售点（浏览器）"
    );
    assert_eq!(
        d.value_of("#f-licence_number").await.expect("kept"),
        "(闽)LS〔2025〕0315"
    );
    assert_eq!(d.value_of("#f-inv0_unit").await.expect("kept"), "箱");
    d.screenshot("03-site-form-error").await.expect("shot");
    // A domain rule too: the message comes from ledger::sites, beside its field.
    d.fill("#f-lon", "117.97").await.expect("lon");
    d.fill("#f-credit_code", "91350100M000100Y44")
        .await
        .expect("credit code");
    d.click_css("#save").await.expect("save");
    d.wait_for("#err-credit_code", 10)
        .await
        .expect("credit code error");
    d.fill("#f-credit_code", "91350100M000100Y43")
        .await
        .expect("credit code");
    d.click_css("#save").await.expect("save");
    d.wait_for("#saved", 10).await.expect("saved site page");
    let site_url = d.url().await.expect("url");
    let body = d.body_text().await.expect("text");
    assert!(
        body.contains("湖上村") && body.contains("烟花爆竹（1.4G）"),
        "{body}"
    );
    d.screenshot("04-site-page").await.expect("shot");

    d.goto(&format!("{base}/sites")).await.expect("list");
    let list = d.text_of("#sites").await.expect("table");
    assert!(list.contains("测试烟花零售点（浏览器）"), "{list}");
    d.screenshot("05-ledger").await.expect("shot");

    // A village whose name is markup: the map's tooltip must show it as text.
    let markup = "\"><img src=x onerror=alert(1)>";
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V09", "name": markup, "boundary": square(117.94, 25.17, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    d.goto(&format!("{base}/map")).await.expect("map");
    d.wait_until(
        "return document.getElementById('map').getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("map drawn");
    let tooltip = d
        .exec(
            "var name = arguments[0];
             var t = null;
             window.fhMap.map.eachLayer(function (l) {
               if (l.feature && l.feature.properties && l.feature.properties.name === name && l.getTooltip()) {
                 l.openTooltip();
                 t = l.getTooltip().getElement();
               }
             });
             return t ? [t.textContent, t.querySelectorAll('*').length - t.querySelectorAll('span').length] : null;",
            json!([markup]),
        )
        .await
        .expect("tooltip");
    assert_eq!(
        tooltip,
        json!([markup, 0]),
        "the tooltip holds the name as text, no elements"
    );
    let side = d.text_of("#map-sites").await.expect("list");
    assert!(side.contains("测试烟花零售点（浏览器）"), "{side}");
    let markers = d
        .exec(
            "return document.querySelectorAll('#map path.leaflet-interactive').length",
            json!([]),
        )
        .await
        .expect("markers");
    assert!(
        markers.as_i64().unwrap_or(0) >= 3,
        "two villages and a site: {markers}"
    );
    d.click_css("#map-sites li a").await.expect("click site");
    d.wait_until(
        "var p = document.querySelector('.leaflet-popup-content'); return !!p && p.textContent.indexOf('测试烟花零售点') >= 0",
        10,
    )
    .await
    .expect("popup with the site");
    d.screenshot("06-map").await.expect("shot");
    assert!(site_url.contains("/sites/"));

    // An exercise alert to one village: see the counts, confirm, watch answers.
    d.goto(&format!("{base}/alerts/new"))
        .await
        .expect("compose");
    d.fill("#f-title", "防汛演练").await.expect("title");
    d.fill("#f-body", "请{village}做好人员转移准备。")
        .await
        .expect("body");
    d.click_css(&format!("input[name=villages][value=\"{va}\"]"))
        .await
        .expect("village");
    d.wait_until(
        "var e = document.getElementById('preview-recipients'); return !!e && e.textContent === '3'",
        10,
    )
    .await
    .expect("live recipient count");
    d.screenshot("07-compose").await.expect("shot");
    d.click_css("#review").await.expect("review");
    d.wait_for("#confirm-send", 10).await.expect("review page");
    assert_eq!(d.text_of("#recipient-count").await.expect("count"), "3");
    let parts = d.text_of("#sms-parts").await.expect("parts");
    let n: usize = parts
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!((1..=4).contains(&n), "{parts}");
    assert!(
        d.text_of("#sms-sample")
            .await
            .expect("sample")
            .contains("[演练]")
    );
    d.screenshot("08-review").await.expect("shot");
    d.click_css("#confirm-send").await.expect("send");
    let asked = d.accept_confirm().await.expect("asked before sending");
    assert!(asked.contains("演练") && asked.contains('3'), "{asked}");
    d.wait_for("#answered-count", 10)
        .await
        .expect("status board");
    let board_url = d.url().await.expect("url");
    let alert_id: i64 = board_url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("alert id in the url");
    assert_eq!(d.text_of("#answered-count").await.expect("count"), "0");
    app.wait_alert(alert_id, 20, |v| v["delivery_states"]["sent"] == 3)
        .await;
    d.screenshot("09-board-sent").await.expect("shot");

    // A contact answers from their phone; the open board changes by itself.
    let token = app.token_of(alert_id, contacts[0]).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/a/{token}"))
        .send()
        .await
        .expect("answer");
    assert!(r.status().is_success());
    d.wait_until(
        "return document.getElementById('answered-count').textContent === '1'",
        20,
    )
    .await
    .expect("board shows the answer without a reload");
    let board = d.text_of("#board-table").await.expect("board");
    assert!(board.contains("张支书"), "{board}");
    d.screenshot("10-board-answered").await.expect("shot");

    // Another answers through the link in the browser.
    let token = app.token_of(alert_id, contacts[1]).await;
    d.goto(&format!("{base}/a/{token}"))
        .await
        .expect("answer page");
    d.screenshot("11-answer-page").await.expect("shot");
    d.click_css("button[type=submit]").await.expect("confirm");
    // Wait for the confirmation page: leaving earlier would cancel the POST.
    d.wait_until("return document.body.innerText.includes('已确认')", 20)
        .await
        .expect("answer recorded");
    d.goto(&board_url).await.expect("board");
    assert_eq!(d.text_of("#answered-count").await.expect("count"), "2");

    // Sign out: pages need signing in again.
    d.click_css("#signout").await.expect("sign out");
    d.wait_for("#f-password", 10).await.expect("sign-in form");
    d.goto(&format!("{base}/sites")).await.expect("sites");
    d.wait_for("#f-password", 10).await.expect("sign-in again");
    d.screenshot("12-signed-out").await.expect("shot");
    eprintln!("screenshots in {}", shots.display());
    d.quit().await;
    app.stop().await;
}

/// A public warning in a real browser: drafted by one user, approved by a
/// second with the leader permission (带班领导/签发人), then on `/public/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_public_warning_signed_off() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "browser_public_warning_signed_off needs {} and {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (va, _vb, _contacts) = seed(&app, Role::Dispatcher).await;
    fenghuo::accounts::users::create(app.db(), "test", "zhao", Role::Viewer, PASSWORD)
        .await
        .expect("leader");
    fenghuo::accounts::users::set_leader(app.db(), "test", "zhao", true)
        .await
        .expect("leader permission");
    let base = app.base.clone();
    let shots = artifacts().join("signoff");
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser-signoff");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");
    let sign_in = |name: &'static str| {
        let d = &d;
        let base = base.clone();
        async move {
            d.goto(&format!("{base}/login"))
                .await
                .expect("sign-in page");
            d.wait_for("#f-password", 10).await.expect("sign-in form");
            d.fill("#f-name", name).await.expect("name");
            d.fill("#f-password", PASSWORD).await.expect("password");
            d.click_css("#signin").await.expect("submit");
            d.wait_for("#live", 10)
                .await
                .expect("overview after sign-in");
        }
    };

    // wang (dispatcher) drafts a public warning for one village.
    sign_in("wang").await;
    d.goto(&format!("{base}/alerts/new"))
        .await
        .expect("compose");
    d.fill("#f-title", "暴雨橙色预警").await.expect("title");
    d.fill(
        "#f-body",
        "{office}发布{level}暴雨预警：请沿河群众远离河道。",
    )
    .await
    .expect("body");
    d.choose("#f-level", "2").await.expect("level");
    d.click_css("input[name=public]").await.expect("public");
    d.click_css(&format!("input[name=villages][value=\"{va}\"]"))
        .await
        .expect("village");
    d.click_css("#review-real").await.expect("review");
    d.wait_for("#confirm-send", 10).await.expect("review page");
    d.click_css("#confirm-send").await.expect("send");
    let asked = d.accept_confirm().await.expect("asked before sending");
    assert!(asked.contains("实战"), "{asked}");
    d.wait_for("#awaiting-signoff", 10)
        .await
        .expect("the draft awaits sign-off");
    d.screenshot("01-awaiting").await.expect("shot");
    let alert_url = d.url().await.expect("url");
    let id: i64 = alert_url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("alert id in the url");
    assert!(
        d.find_all("#approve").await.expect("find").is_empty(),
        "the author has no approve button"
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE alert_id = $1")
        .bind(id)
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 0, "nothing is sent before sign-off");
    d.goto(&format!("{base}/public/"))
        .await
        .expect("public page");
    assert!(!d.body_text().await.expect("text").contains("暴雨橙色预警"));
    d.goto(&alert_url).await.expect("back");
    d.click_css("#signout").await.expect("sign out");
    d.wait_for("#f-password", 10).await.expect("signed out");

    // zhao (leader) finds it on the sign-off page and approves it.
    sign_in("zhao").await;
    d.goto(&format!("{base}/signoff"))
        .await
        .expect("sign-off page");
    d.wait_for(&format!("#notice-{id}"), 10)
        .await
        .expect("the draft is listed");
    d.screenshot("02-signoff-list").await.expect("shot");
    d.click_css(&format!("#notice-{id} button.primary"))
        .await
        .expect("approve");
    d.accept_confirm().await.expect("asked before approving");
    d.wait_for("#signoff", 10).await.expect("approved");
    assert!(
        d.find_all("#awaiting-signoff")
            .await
            .expect("find")
            .is_empty()
    );
    app.wait_alert(id, 20, |v| v["delivery_states"]["sent"] == 3)
        .await;

    // On the public page, without signing in.
    d.click_css("#signout").await.expect("sign out");
    d.wait_for("#f-password", 10).await.expect("signed out");
    d.goto(&format!("{base}/public/"))
        .await
        .expect("public page");
    d.wait_for(&format!("#warning-{id}"), 10)
        .await
        .expect("the warning is public");
    let text = d.body_text().await.expect("text");
    assert!(
        text.contains("暴雨橙色预警") && text.contains("请沿河群众远离河道"),
        "{text}"
    );
    assert!(!text.contains('{'), "{text}");
    assert!(
        !text.contains("张支书") && !text.contains("+86"),
        "no recipients: {text}"
    );
    d.wait_until(
        "return document.querySelectorAll('.pubmap .leaflet-interactive').length > 0",
        10,
    )
    .await
    .expect("the area on the map");
    d.screenshot("03-public").await.expect("shot");
    d.quit().await;
    app.stop().await;
}

async fn sign_in_csrf_and_lockout(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    seed(&app, Role::Viewer).await;
    let web = Web::new(&app.base);

    // Pages need a session; the sign-in page comes back to where one was.
    let r = web.get("/sites?kind=fireworks_retail").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        "/login?next=%2Fsites%3Fkind%3Dfireworks_retail"
    );

    // No token, no sign-in: even the sign-in form is CSRF-checked.
    let r = web
        .post("/login", &[("name", "wang"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Wrong passwords: five are refused plainly, then the delay starts and
    // even the right password must wait. Failures are in the database.
    let page = web.get("/login").await;
    let csrf = page.csrf();
    assert_eq!(csrf.len(), 64);
    for i in 0..5 {
        let r = web
            .post(
                "/login",
                &[
                    ("_csrf", &csrf),
                    ("name", "wang"),
                    ("password", "wrong-password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "try {i}");
        assert!(r.body.contains("value=\"wang\""), "the name is kept");
        assert!(
            !r.body.contains("wrong-password"),
            "the password is never echoed"
        );
    }
    let r = web
        .post(
            "/login",
            &[("_csrf", &csrf), ("name", "wang"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM login_failures WHERE user_name = 'wang'")
            .fetch_one(&app.db().pool)
            .await
            .expect("count");
    assert_eq!(n, 5);
    // Another user from the same address is not locked out by wang's failures.
    fenghuo::accounts::users::create(app.db(), "test", "li", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let r = web
        .post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("name", "li"),
                ("password", PASSWORD),
                ("next", "/sites"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/sites");
    let set: Vec<String> = r
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("fh_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    // The session id is stored only hashed.
    let raw = session
        .trim_start_matches("fh_session=")
        .split(';')
        .next()
        .expect("id");
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_sessions WHERE id_hash = $1")
        .bind(fenghuo::auth::hash_token(raw))
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(stored, 1);
    let (plain,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_sessions WHERE id_hash = $1")
        .bind(raw)
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(plain, 0);

    // Signed in, a POST with a wrong token saves nothing but shows the input.
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", "0".repeat(64).as_str()),
                ("name", "赵新人"),
                ("phone", "13800138099"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("赵新人"), "typed input is shown back");
    // Sign-out ends the session in the database too.
    let t = web.token().await;
    let r = web.post("/logout", &[("_csrf", &t)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = web.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_sessions")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    app.stop().await;
}
both!(sign_in_csrf_and_lockout);

async fn forms_keep_input_and_show_conflicts(b: Backend) {
    let Some((app, web, t)) = signed_in(b, Role::Editor).await else {
        return;
    };
    let base_form = |name: &'static str, credit: &'static str| {
        vec![
            ("name", name),
            ("kind", "hazchem_storage"),
            ("risk_grade", "major"),
            ("status", "active"),
            ("credit_code", credit),
            ("lon", "117.97"),
            ("lat", "25.18"),
            ("licence_issued_on", "2024-01-01"),
            ("licence_expires_on", "2027-01-01"),
            ("inv0_chemical", "汽油"),
            ("inv0_cas", "86290-81-5"),
            ("inv0_max_quantity", "30"),
            ("inv0_unit", "t"),
            ("inv1_chemical", "硫酸"),
            ("inv1_cas", "7664-93-9"),
            ("inv1_max_quantity", "x"),
            ("inv1_unit", "t"),
        ]
    };
    // A bad number and a bad check digit: each shown beside its field, the
    // rest of the input kept.
    let mut f = base_form("油库<甲>", "");
    f.push(("_csrf", &t));
    let r = web.post("/sites/new", &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"err-inv1_max_quantity\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("value=\"油库&lt;甲&gt;\""),
        "the name is kept, escaped"
    );
    assert!(r.body.contains("value=\"7664-93-9\""));
    // Nothing chosen for the kind and grade, half a location: said in Chinese.
    let mut f = base_form("油库<甲>", "");
    f.retain(|(k, _)| !matches!(*k, "kind" | "risk_grade" | "lat" | "inv1_max_quantity"));
    f.push(("_csrf", &t));
    let r = web.post("/sites/new", &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for zh in [
        "请选择类别",
        "请选择风险等级",
        "经度和纬度请同时填写，或都不填",
    ] {
        assert!(r.body.contains(zh), "{zh}: {}", r.body);
    }
    for en in ["choose a kind", "choose a risk grade", "or neither"] {
        assert!(!r.body.contains(en), "{en} on the Chinese page");
    }
    let mut f = base_form("油库<甲>", "91350100M000100Y44");
    f.retain(|(k, _)| *k != "inv1_max_quantity");
    f.push(("inv1_max_quantity", "10"));
    f.push(("_csrf", &t));
    let r = web.post("/sites/new", &f).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"err-credit_code\""), "{}", r.body);
    assert!(r.body.contains("统一社会信用代码"), "message in Chinese");
    let mut f = base_form("油库<甲>", "91350100M000100Y43");
    f.retain(|(k, _)| *k != "inv1_max_quantity");
    f.push(("inv1_max_quantity", "10"));
    f.push(("_csrf", &t));
    let r = web.post("/sites/new", &f).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r
        .location()
        .trim_start_matches("/sites/")
        .split('?')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("site id");
    let (_, site) = app.get(&format!("/api/v1/sites/{id}")).await;
    assert_eq!(site["inventory"].as_array().map(Vec::len), Some(2));
    assert!(
        site["village_id"].as_i64().is_some(),
        "village from the boundary"
    );
    // The site shows in the list, the name escaped.
    let r = web.get("/sites").await;
    assert!(r.body.contains("油库&lt;甲&gt;"));

    // Someone else edits through the API while this editor has the form open.
    let edit = web.get(&format!("/sites/{id}/edit")).await;
    assert!(edit.body.contains("name=\"version\" value=\"1\""));
    let mut other = site.clone();
    for k in [
        "id",
        "kind_label",
        "outside_villages",
        "over_stock",
        "risk_colour",
        "sample",
        "archived",
        "created_at",
        "updated_at",
        "township_id",
        "hazard",
        "out_of_season_stock",
    ] {
        other.as_object_mut().expect("object").remove(k);
    }
    other["address"] = json!("别人改的地址");
    let (s, v) = app.put(&format!("/api/v1/sites/{id}"), other).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut f = base_form("油库（新名）", "91350100M000100Y43");
    f.retain(|(k, _)| *k != "inv1_max_quantity");
    f.push(("inv1_max_quantity", "10"));
    f.push(("address", "我填的地址"));
    f.push(("version", "1"));
    f.push(("_csrf", &t));
    let r = web.post(&format!("/sites/{id}/edit"), &f).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("id=\"conflict\""));
    assert!(r.body.contains("别人改的地址"), "current value shown");
    assert!(r.body.contains("value=\"我填的地址\""), "own input kept");
    assert!(
        r.body.contains("name=\"version\" value=\"2\""),
        "saving again is deliberate"
    );
    let (_, now) = app.get(&format!("/api/v1/sites/{id}")).await;
    assert_eq!(now["address"], "别人改的地址", "nothing overwritten");
    // Saving again after seeing the conflict does save.
    let mut f2 = f.clone();
    f2.retain(|(k, _)| *k != "version");
    f2.push(("version", "2"));
    let r = web.post(&format!("/sites/{id}/edit"), &f2).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, now) = app.get(&format!("/api/v1/sites/{id}")).await;
    assert_eq!(now["address"], "我填的地址");
    assert_eq!(now["name"], "油库（新名）");
    // The audit log names the dashboard user.
    let r = web.get(&format!("/audit?entity=site&entity_id={id}")).await;
    assert!(r.body.contains("wang（网页）"), "{}", r.body);

    // Contacts: a bad phone is shown beside the field; a good one is saved.
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", &t),
                ("name", "赵新人"),
                ("phone", "12345"),
                ("roles", "网格员"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"err-phone\"") && r.body.contains("value=\"赵新人\""));
    let r = web
        .post(
            "/contacts/new",
            &[
                ("_csrf", &t),
                ("name", "赵新人"),
                ("phone", "138 0013 8099"),
                ("roles", "网格员"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = web.get("/contacts?q=赵新人").await;
    assert!(
        r.body.contains("138 0013 8099"),
        "shown as dialled: {}",
        r.body
    );
    app.stop().await;
}
both!(forms_keep_input_and_show_conflicts);

async fn roles_are_enforced(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (va, _, _) = seed(&app, Role::Viewer).await;
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    assert_eq!(web.get("/sites").await.status, StatusCode::OK);
    assert_eq!(web.get("/sites/new").await.status, StatusCode::FORBIDDEN);
    assert_eq!(web.get("/alerts/new").await.status, StatusCode::FORBIDDEN);
    assert_eq!(web.get("/users").await.status, StatusCode::FORBIDDEN);
    let v = va.to_string();
    let r = web
        .post(
            "/alerts/send",
            &[
                ("_csrf", &t),
                ("title", "x"),
                ("body", "y"),
                ("channels", "sms"),
                ("villages", &v),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
    // Unknown records are a 404 page, not an internal error.
    assert_eq!(web.get("/sites/999999").await.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(roles_are_enforced);

/// Every page and everything it loads comes from the daemon itself: no
/// http(s):// reference to anywhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_references_an_external_url() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        // Answer links in notices point here; they must not count as external.
        c.public_base_url = String::new();
    })
    .await
    .expect("app");
    let (va, _, contacts) = seed(&app, Role::Admin).await;
    fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
        .await
        .ok();
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试", "body": "正文", "exercise": true, "targets": {"villages": [va]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let alert = a["id"].as_i64().expect("id");
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "示例油库", "kind": "hazchem_storage", "risk_grade": "major",
                   "location": {"lon": 117.97, "lat": 25.18},
                   "inventory": [{"chemical": "汽油", "cas": "86290-81-5", "max_quantity": 30, "unit": "t"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let site = site["id"].as_i64().expect("site id");
    let web = Web::new(&app.base);
    let login = web.get("/login").await;
    let mut pages: Vec<(String, String)> = vec![("/login".into(), login.body.clone())];
    web.sign_in("wang", PASSWORD).await;
    let token = app.token_of(alert, contacts[0]).await;
    for p in [
        "/".to_string(),
        "/?lang=en".into(),
        "/map".into(),
        "/sites".into(),
        format!("/sites/{site}"),
        format!("/sites/{site}/edit"),
        "/sites/new".into(),
        "/villages".into(),
        format!("/villages/{va}"),
        "/villages/new".into(),
        format!("/villages/{va}/edit"),
        "/shelters/new".into(),
        "/contacts".into(),
        "/contacts/new".into(),
        "/alerts".into(),
        "/alerts/new".into(),
        format!("/alerts/{alert}"),
        "/audit".into(),
        "/worklist".into(),
        "/duty".into(),
        "/users".into(),
        "/plans".into(),
        "/drills".into(),
        "/web/map.json".into(),
        format!("/a/{token}"),
    ] {
        let r = web.get(&p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        pages.push((p, r.body));
    }
    // Everything the pages load.
    let mut assets: Vec<String> = Vec::new();
    for (_, body) in &pages {
        for attr in ["href=\"/assets/", "src=\"/assets/"] {
            for part in body.split(attr).skip(1) {
                let path = format!("/assets/{}", part.split('"').next().unwrap_or(""));
                if !assets.contains(&path) {
                    assets.push(path);
                }
            }
        }
    }
    for (name, _, _) in fenghuo::web::assets::FILES {
        let p = fenghuo::web::assets::url(name);
        if !assets.contains(&p) {
            assets.push(p);
        }
    }
    assert!(assets.iter().any(|a| a.contains("leaflet.js")));
    for a in &assets {
        let r = web.get(a).await;
        assert_eq!(r.status, StatusCode::OK, "{a}");
        if !a.ends_with(".png") && !a.contains("LICENSE") {
            pages.push((a.clone(), r.body));
        }
    }
    // Never fetched: XML namespace names, and in the vendored Leaflet the
    // attribution link (the map turns attribution off) and bug links in
    // CSS comments; in the vendored Leaflet-Geoman its package.json's
    // homepage and bug tracker (bundled as data) and, inside its icons'
    // data: SVGs, the drawing program's namespace and a comment. Kept
    // unmodified so the vendored files match the release.
    let allowed = [
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "https://leafletjs.com",
        "https://bugs.chromium.org/p/chromium/issues/detail?id=600120",
        "https://bugzilla.mozilla.org/show_bug.cgi?id=888319",
        "http://geoman.io",
        "https://geoman.io",
        "https://github.com/geoman-io/leaflet-geoman/issues",
        "http://www.bohemiancoding.com/sketch",
        "https://sketch.com",
    ];
    let own = &app.base;
    let mut bad = Vec::new();
    for (path, body) in &pages {
        for scheme in ["http://", "https://"] {
            for (i, _) in body.match_indices(scheme) {
                let url: String = body[i..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !"\"'<>)".contains(*c))
                    .collect();
                if url.starts_with(own.as_str()) || allowed.contains(&url.as_str()) {
                    continue;
                }
                bad.push(format!("{path}: {url}"));
            }
        }
    }
    assert!(bad.is_empty(), "external references:\n{}", bad.join("\n"));
    app.stop().await;
}

/// Render times of the heaviest pages with 500 sites and 2,000 contacts:
/// printed, not asserted (speed is measured, not tested).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_time_500_sites_2000_contacts() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (va, vb, _) = seed(&app, Role::Viewer).await;
    let db = app.db();
    // Bulk rows straight into the tables: the point is rendering, not writing.
    let now = fenghuo::store::now_ms();
    let mut tx = db.pool.begin().await.expect("tx");
    for i in 0..500i64 {
        let v = if i % 2 == 0 { va } else { vb };
        sqlx::query(
            "INSERT INTO sites (name, kind, lon, lat, village_id, risk_grade, status, licence_no, licence_expires, phone_24h, \
             inventory, created_at, updated_at) VALUES ($1, 'fireworks_retail', $2, $3, $4, $5, 'active', $6, $7, '+8659523000000', \
             '[]', $8, $8)",
        )
        .bind(format!("性能测试场所{i:03}"))
        .bind(117.961 + (i % 40) as f64 * 0.0009)
        .bind(25.171 + (i / 40) as f64 * 0.0012)
        .bind(v)
        .bind(["major", "significant", "general", "low"][(i % 4) as usize])
        .bind(format!("(闽)LS〔2025〕{i:04}"))
        .bind(format!("2027-{:02}-15", 1 + i % 12))
        .bind(now)
        .execute(&mut *tx)
        .await
        .expect("site");
    }
    for i in 0..2000i64 {
        let v = if i % 2 == 0 { va } else { vb };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO contacts (name, village_id, phone, escalation_order, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
        )
        .bind(format!("联系人{i:04}"))
        .bind(v)
        .bind(format!("+86139{i:08}"))
        .bind(i % 100)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .expect("contact");
        sqlx::query("INSERT INTO contact_roles (contact_id, role) VALUES ($1, '网格员')")
            .bind(id)
            .execute(&mut *tx)
            .await
            .expect("role");
    }
    tx.commit().await.expect("commit");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let mut report = Vec::new();
    for (p, must) in [
        ("/sites?per_page=500", "性能测试场所499"),
        ("/contacts?per_page=5000", "联系人1999"),
        ("/web/map.json", "性能测试场所499"),
        ("/villages", "湖上村"),
        ("/", "channels"),
        ("/worklist", "licences"),
    ] {
        // One warm-up, then the best of three: steady state, not cold caches.
        let _ = web.get(p).await;
        let mut best = Duration::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let r = web.get(p).await;
            best = best.min(t.elapsed());
            assert_eq!(r.status, StatusCode::OK, "{p}");
            assert!(r.body.contains(must), "{p} lacks {must}");
            size = r.body.len();
        }
        report.push(format!(
            "{p:<26} {:>8.1} ms {:>9} bytes",
            best.as_secs_f64() * 1000.0,
            size
        ));
    }
    // Printed (seen with --nocapture) and kept beside the screenshots.
    let text = format!(
        "dashboard render times, 500 sites and 2,000 contacts (best of 3, this build):\n{}\n",
        report
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("{text}");
    // Not inside artifacts(): the browser test clears that folder as it starts.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join("dashboard-render-times.txt"), &text);
    }
    app.stop().await;
}

/// `fenghuo user add` reads the password from standard input and stores only
/// an argon2 hash of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_user_add_reads_the_password_from_stdin() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("dir");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
            .args(args)
            .env("FENGHUO_DATA_DIR", dir.path())
            .env_remove("FENGHUO_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run fenghuo");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
    };
    let out = run(
        &["user", "add", "zhangsan", "--role", "dispatcher"],
        "a-long-password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["user", "add", "lisi", "--role", "viewer"], "short\n");
    assert!(!out.status.success(), "a short password is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = run(
        &["user", "add", "zhangsan", "--role", "viewer"],
        "another-password\n",
    );
    assert!(!out.status.success(), "names are unique");
    let url = format!("sqlite://{}", dir.path().join("fenghuo.db").display());
    let db = fenghuo::store::Db::connect(&url, 1).await.expect("db");
    let u = fenghuo::accounts::users::find(&db, "zhangsan")
        .await
        .expect("find")
        .expect("user");
    assert_eq!(u.role, "dispatcher");
    assert!(u.password_hash.starts_with("$argon2id$"));
    assert!(!u.password_hash.contains("a-long-password"));
    assert!(fenghuo::accounts::users::verify_password(
        "a-long-password",
        &u.password_hash
    ));
}

/// Plans, incidents and drills: the shipped plans on the sample township,
/// activated, raised and stood down through the dashboard's forms.
/// The sample township with the shipped plans in force and a dispatcher
/// `wang`.
async fn township_with_plans(b: Backend) -> Option<TestApp> {
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
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    Some(app)
}

/// The notices an incident sent, oldest first.
async fn incident_alerts(app: &TestApp, incident: i64) -> Vec<i64> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT alert_id FROM incident_events WHERE incident_id = $1 AND alert_id IS NOT NULL ORDER BY alert_id",
    )
    .bind(incident)
    .fetch_all(&app.db().pool)
    .await
    .expect("incident alerts");
    rows.into_iter().map(|r| r.0).collect()
}

/// The village of everyone an incident's notices reached (None: township level).
async fn incident_recipient_villages(app: &TestApp, incident: i64) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for a in incident_alerts(app, incident).await {
        let rows: Vec<(Option<i64>,)> =
            sqlx::query_as("SELECT village_id FROM alert_recipients WHERE alert_id = $1")
                .bind(a)
                .fetch_all(&app.db().pool)
                .await
                .expect("recipients");
        out.extend(rows.into_iter().map(|r| r.0));
    }
    out
}

async fn plans_incidents_and_drills(b: Backend) {
    let Some(app) = township_with_plans(b).await else {
        return;
    };
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;

    let r = web.get("/plans").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("/plans/flood-typhoon"), "{}", r.body);
    let r = web.get("/plans/flood-typhoon").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"shelters\"") && r.body.contains("id=\"activate\""));
    let (_, vs) = app.get("/api/v1/villages").await;
    let v1 = vs["items"][0]["id"].as_i64().expect("village").to_string();

    // No villages chosen: refused, the choice kept, nothing sent.
    let r = web
        .post(
            "/plans/flood-typhoon/activate",
            &[
                ("_csrf", &t),
                ("level", "4"),
                ("exercise", "1"),
                ("note", "台风演练"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("value=\"台风演练\""));
    // First the preview: who gets what, nothing sent yet.
    let form = [
        ("_csrf", t.as_str()),
        ("level", "4"),
        ("exercise", "1"),
        ("villages", v1.as_str()),
    ];
    let r = web.post("/plans/flood-typhoon/activate", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"confirm-activation\""), "{}", r.body);
    let (_, incidents_before) = app.get("/api/v1/incidents").await;
    assert_eq!(
        open_incidents(&incidents_before),
        Vec::<Value>::new(),
        "a preview opens nothing"
    );
    let mut confirm = form.to_vec();
    confirm.push(("confirm", "1"));
    let r = web.post("/plans/flood-typhoon/activate", &confirm).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let inc = r.location();
    assert!(inc.starts_with("/incidents/"), "{inc}");
    let inc_id: i64 = inc["/incidents/".len()..].parse().expect("incident id");
    let page = web.get(&inc).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"timeline\"") && page.body.contains("/alerts/"),
        "{}",
        page.body
    );
    // What the activation did: an exercise at Ⅳ, notices to the chosen
    // village and the township's own people, nobody in another village.
    let (_, i) = app.get(&format!("/api/v1/incidents/{inc_id}")).await;
    assert_eq!(
        (i["level"].as_i64(), i["exercise"].as_bool()),
        (Some(4), Some(true)),
        "{i}"
    );
    let reached = incident_recipient_villages(&app, inc_id).await;
    assert!(
        reached.contains(&Some(v1.parse().expect("id"))),
        "{reached:?}"
    );
    assert!(
        reached
            .iter()
            .all(|v| v.is_none() || *v == Some(v1.parse().expect("id"))),
        "only the chosen village is notified: {reached:?}"
    );
    let notices_at_4 = incident_alerts(&app, inc_id).await.len();
    let r = web
        .post(&format!("{inc}/level"), &[("_csrf", &t), ("level", "3")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, i) = app.get(&format!("/api/v1/incidents/{inc_id}")).await;
    assert_eq!(i["level"].as_i64(), Some(3), "the level changed: {i}");
    let alerts = incident_alerts(&app, inc_id).await;
    assert!(alerts.len() > notices_at_4, "raising sends Ⅲ's notices");
    let (_, newest) = app
        .get(&format!("/api/v1/alerts/{}", alerts[alerts.len() - 1]))
        .await;
    assert_eq!(newest["msg_type"], "Update", "{newest}");
    let r = web
        .post(&format!("{inc}/close"), &[("_csrf", &t), ("note", "解除")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = web.get(&inc).await;
    assert!(page.body.contains("已结束"), "{}", page.body);
    let (_, i) = app.get(&format!("/api/v1/incidents/{inc_id}")).await;
    assert_eq!(i["status"], "closed", "{i}");
    for a in &alerts {
        let (_, v) = app.get(&format!("/api/v1/alerts/{a}")).await;
        assert_eq!(v["status"], "closed", "notice {a} stops with the incident");
    }
    let reached = incident_recipient_villages(&app, inc_id).await;
    assert!(
        reached
            .iter()
            .all(|v| v.is_none() || *v == Some(v1.parse().expect("id"))),
        "the all-clear goes to nobody else either: {reached:?}"
    );
    // Closing twice is a conflict shown on the page, not an error page.
    let r = web.post(&format!("{inc}/close"), &[("_csrf", &t)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"timeline\""));

    // Drills from the plan files, their pages, and the overview's list.
    let r = web.get("/drills").await;
    assert_eq!(r.status, StatusCode::OK);
    let first = r
        .body
        .split("href=\"/drills/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a drill link")
        .to_string();
    assert_eq!(
        web.get(&format!("/drills/{first}")).await.status,
        StatusCode::OK
    );
    let r = web
        .post(
            &format!("/drills/{first}/start"),
            &[("_csrf", &t), ("ack_within_minutes", "15")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let started = r.location();
    assert!(
        started.starts_with("/incidents/") || started.starts_with("/alerts/"),
        "{started}"
    );
    assert_eq!(web.get(&started).await.status, StatusCode::OK);
    // The drill sent an exercise notice to its own villages.
    let (_, drill) = app.get(&format!("/api/v1/drills/{first}")).await;
    let (_, list) = app.get("/api/v1/alerts").await;
    let newest = &list["items"][0];
    assert_eq!(newest["exercise"], true, "{newest}");
    let drilled: Vec<i64> = match drill["villages"].as_array() {
        Some(v) => v.iter().filter_map(serde_json::Value::as_i64).collect(),
        None => Vec::new(),
    };
    let rows: Vec<(Option<i64>,)> =
        sqlx::query_as("SELECT village_id FROM alert_recipients WHERE alert_id = $1")
            .bind(newest["id"].as_i64().expect("id"))
            .fetch_all(&app.db().pool)
            .await
            .expect("recipients");
    assert!(!rows.is_empty(), "the drill notified somebody");
    if !drilled.is_empty() {
        assert!(
            rows.iter()
                .all(|(v,)| v.is_none_or(|v| drilled.contains(&v))),
            "the drill's notice stays in its villages {drilled:?}: {rows:?}"
        );
    }
    assert!(web.get("/").await.body.contains("id=\"upcoming-drills\""));
    let r = web.get("/worklist").await;
    assert!(r.body.contains("id=\"undrilled\""));
    // Shelters reach the map.
    let r = web.get("/web/map.json").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert!(!v["shelters"].as_array().expect("shelters").is_empty());
    app.stop().await;
}
both!(plans_incidents_and_drills);

/// `serve --demo` prints a dashboard user and password that sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_prints_a_dashboard_user_that_signs_in() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    /// Stops the daemon however the test ends.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_fenghuo"))
        .args(["serve", "--demo"])
        .env("FENGHUO_DATA_DIR", dir.path().join("data"))
        .env("FENGHUO_LISTEN", "127.0.0.1:0")
        .env_remove("FENGHUO_DATABASE_URL")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut child = Reap(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut password, mut addr) = (None, None);
    while password.is_none() || addr.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("daemon output");
        if let Some(p) = line.split("dashboard user: demo / ").nth(1) {
            password = Some(p.trim().to_string());
        }
        if let Some(a) = line.split("listening on ").nth(1) {
            addr = Some(a.trim().to_string());
        }
    }
    let (password, addr) = (password.unwrap_or_default(), addr.unwrap_or_default());
    assert!(password.len() >= 12, "{password}");
    let web = Web::new(&addr);
    web.sign_in("demo", &password).await;
    let r = web.get("/sites").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("（示例）"), "the sample ledger is listed");
}

/// Nonsense in any form field or query parameter is refused or ignored,
/// never an internal error.
async fn garbage_never_makes_a_500(b: Backend) {
    let Some((app, web, t)) = signed_in(b, Role::Admin).await else {
        return;
    };
    let junk: &[&str] = &[
        "",
        "-1",
        "abc",
        "9999999999999999999999",
        "1e309",
        "NaN",
        "<script>",
        "'; DROP TABLE sites;--",
        "\u{0}",
        "全部",
    ];
    let fields = [
        "name",
        "kind",
        "risk_grade",
        "status",
        "lon",
        "lat",
        "village_id",
        "credit_code",
        "max_stock",
        "licence_issued_on",
        "licence_expires_on",
        "inv0_chemical",
        "inv0_max_quantity",
        "inv0_cas",
        "inv7_unit",
        "version",
        "phone",
        "email",
        "roles",
        "escalation_order",
        "title",
        "body",
        "level",
        "channels",
        "villages",
        "ack_within_minutes",
        "recipient_id",
        "note",
        "role",
        "password",
        "idempotency_key",
        "exercise",
        "date",
        "start",
        "end",
        "leader_id",
        "officer_1",
        "officer_2",
        "from_contact_id",
        "to_contact_id",
        "at",
        "notes",
        "from",
    ];
    for path in [
        "/sites/new",
        "/sites/1/edit",
        "/sites/1/archive",
        "/contacts/new",
        "/contacts/1/edit",
        "/alerts/new",
        "/alerts/send",
        "/alerts/1/answer",
        "/alerts/1/close",
        "/web/alerts/preview",
        "/plans/x/activate",
        "/incidents/1/level",
        "/incidents/1/close",
        "/drills/1/start",
        "/users",
        "/duty/shifts/new",
        "/duty/shifts/1/edit",
        "/duty/shifts/1/delete",
        "/duty/handovers",
    ] {
        for j in junk {
            let mut form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, *j)).collect();
            form.push(("_csrf", &t));
            let r = web.post(path, &form).await;
            assert!(
                r.status != StatusCode::INTERNAL_SERVER_ERROR,
                "{path} with {j:?}: {}",
                r.body
            );
        }
    }
    for q in [
        "/sites?kind=x&village_id=abc&risk_grade=&status=zzz&expiring_within_days=-5&page=-1&per_page=100000",
        "/sites?near_lon=1e309&near_lat=abc&radius_m=-1",
        "/sites?near_lon=200&near_lat=100&radius_m=5",
        "/contacts?per_page=-5&page=abc&village_id=zz&role=nobody&active=7",
        "/audit?since=yesterday&until=2026-13-45&entity_id=x&page=0",
        "/alerts?page=-3",
        "/map?site=%3Cscript%3E&village=x",
        "/sites/99999999999999999999",
        "/web/alerts/424242/board",
        "/incidents/424242",
        "/drills/424242",
        "/plans/nope",
        "/duty?from=99999-01-01",
        "/duty?from=1900-13-01",
        "/duty/shifts/new?date=%3Cscript%3E&kind=zzz",
        "/duty/shifts/99999999999999999999/edit",
    ] {
        let r = web.get(q).await;
        assert!(
            r.status != StatusCode::INTERNAL_SERVER_ERROR,
            "{q}: {}",
            r.body
        );
        assert!(!r.body.contains("<script>"), "{q} echoes markup unescaped");
    }
    app.stop().await;
}
both!(garbage_never_makes_a_500);

/// A hidden danger is rectified and closed out (销号) from the site page;
/// a bad date keeps what was typed, a stale form shows a conflict.
async fn findings_are_rectified_and_closed_out(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    seed(&app, Role::Editor).await;
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "油库", "kind": "hazchem_storage", "risk_grade": "major"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let sid = site["id"].as_i64().expect("id");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let inspected = (today - chrono::Duration::days(10)).to_string();
    let (s, insp) = app
        .post(
            &format!("/api/v1/sites/{sid}/inspections"),
            json!({"inspected_on": inspected, "inspector_ids": app.inspectors(&["李检查", "王检查"]).await, "findings": [
                {"grade": "major", "item": "灭火器过期", "deadline": (today + chrono::Duration::days(5)).to_string()}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(page.body.contains(&format!("/findings/{fid}/rectify")));
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &t),
                ("version", "1"),
                ("rectified_on", "2001-01-01"),
                ("note", "已更换灭火器"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(&format!("id=\"err-finding-{fid}\"")));
    assert!(
        r.body.contains("value=\"已更换灭火器\""),
        "the note is kept"
    );
    let day = today.to_string();
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[
                ("_csrf", &t),
                ("version", "1"),
                ("rectified_on", &day),
                ("note", "已更换灭火器"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The same (now stale) form again: refused beside the finding, which
    // now offers the close-out with its own defaults.
    let r = web
        .post(
            &format!("/findings/{fid}/rectify"),
            &[("_csrf", &t), ("version", "1"), ("rectified_on", &day)],
        )
        .await;
    assert!(
        r.status == StatusCode::CONFLICT || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        r.body
    );
    assert!(r.body.contains(&format!("id=\"err-finding-{fid}\"")));
    assert!(
        r.body
            .contains(&format!("name=\"closed_on\" value=\"{day}\""))
    );
    let (_, f) = app.get(&format!("/api/v1/findings/{fid}")).await;
    assert_eq!(f["version"], 2);
    let r = web
        .post(
            &format!("/findings/{fid}/close"),
            &[
                ("_csrf", &t),
                ("version", "2"),
                ("closed_on", &day),
                ("closed_by", "王复查"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, f) = app.get(&format!("/api/v1/findings/{fid}")).await;
    assert_eq!(f["status"], "closed");
    assert_eq!(f["closed_by"], "王复查");
    app.stop().await;
}
both!(findings_are_rectified_and_closed_out);

/// An inspection with its hidden dangers is recorded through the form; a
/// deadline before the inspection is shown at its row, the rest kept.
async fn inspections_are_recorded_through_the_form(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    seed(&app, Role::Editor).await;
    let (_, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "烟花店", "kind": "fireworks_retail", "risk_grade": "general"}),
        )
        .await;
    let sid = site["id"].as_i64().expect("id");
    let team = app.inspectors(&["张三", "李四"]).await;
    let (i1, i2) = (team[0].to_string(), team[1].to_string());
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    let page = web.get(&format!("/sites/{sid}/inspections/new")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("name=\"inspector_ids\" value=\"{i1}\"")),
        "{}",
        page.body
    );
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let on = (today - chrono::Duration::days(3)).to_string();
    let early = (today - chrono::Duration::days(30)).to_string();
    let later = (today + chrono::Duration::days(30)).to_string();
    let mut form = vec![
        ("_csrf", t.as_str()),
        ("inspected_on", on.as_str()),
        ("inspector_ids", i1.as_str()),
        ("summary", "春节前检查"),
        ("f0_grade", "major"),
        ("f0_item", "超量储存"),
        ("f0_deadline", later.as_str()),
        ("f1_grade", "general"),
        ("f1_item", "灭火器过期"),
        ("f1_responsible", "店主"),
    ];
    let mut bad = form.clone();
    bad.push(("f1_deadline", early.as_str()));
    let r = web
        .post(&format!("/sites/{sid}/inspections/new"), &bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-f1_deadline\""), "{}", r.body);
    assert!(r.body.contains("value=\"超量储存\"") && r.body.contains("春节前检查"));
    // One inspector is not enough: refused naming the field, Chinese first.
    form.push(("f1_deadline", later.as_str()));
    let r = web
        .post(&format!("/sites/{sid}/inspections/new"), &form)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-inspector_ids\""), "{}", r.body);
    assert!(r.body.contains("至少"), "{}", r.body);
    form.push(("inspector_ids", i2.as_str()));
    let r = web
        .post(&format!("/sites/{sid}/inspections/new"), &form)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, list) = app.get(&format!("/api/v1/sites/{sid}/inspections")).await;
    let findings = &list["items"][0]["findings"];
    assert_eq!(findings.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(findings[0]["grade"], "major");
    assert_eq!(list["items"][0]["inspector_ids"], json!(team));
    let names = list["items"][0]["inspectors"].to_string();
    assert!(
        names.contains("张三（T") && names.contains("李四（T"),
        "{names}"
    );
    let page = web.get(&format!("/sites/{sid}")).await;
    assert!(page.body.contains("灭火器过期"));
    app.stop().await;
}
both!(inspections_are_recorded_through_the_form);

/// An unknown path answers a person with the dashboard's page and a
/// program (the API, a provider's webhook) with JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_answer_in_the_callers_terms() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let r = app
        .client
        .get(format!("{}/sitez/12", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.headers()
    );
    assert!(r.text().await.expect("text").contains("找不到该页面"));
    for path in ["/api/v1/nothing-here", "/hooks/nothing"] {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "not_found", "{path}: {v}");
    }
    app.stop().await;
}

/// The office enters a reading it was phoned: the plans evaluate it as
/// through the API, a bad reading keeps the input and names the field, and
/// a suggested activation is listed for a person to confirm.
async fn observations_are_entered_and_suggestions_listed(b: Backend) {
    let Some(app) = township_with_plans(b).await else {
        return;
    };
    fenghuo::accounts::users::create(app.db(), "test", "li", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    let r = web.get("/plans").await;
    assert!(r.body.contains("href=\"/observations\""), "{}", r.body);
    let r = web.get("/observations").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"observation-form\""), "{}", r.body);

    // Rainfall without an amount: refused, the field named, the input kept.
    let r = web
        .post(
            "/observations",
            &[
                ("_csrf", &t),
                ("kind", "rainfall"),
                ("village", "S08"),
                ("window_hours", "3"),
                ("mm", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-mm\""), "{}", r.body);
    assert!(
        r.body.contains("<option value=\"S08\" selected"),
        "{}",
        r.body
    );

    // Text where the amount goes: refused beside the field.
    let r = web
        .post(
            "/observations",
            &[
                ("_csrf", &t),
                ("kind", "rainfall"),
                ("village", "S08"),
                ("window_hours", "3"),
                ("mm", "很多"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("id=\"err-mm\"") && r.body.contains("很多"),
        "{}",
        r.body
    );

    // A yellow typhoon signal: the flood plan suggests Ⅲ (signals only suggest).
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
    assert!(r.body.contains("id=\"observation-results\""), "{}", r.body);
    assert!(r.body.contains("/plans/flood-typhoon"), "{}", r.body);
    let (_, sug) = app.get("/api/v1/observations/suggestions").await;
    assert_eq!(sug["items"].as_array().map(Vec::len), Some(1), "{sug}");
    let (_, incidents) = app.get("/api/v1/incidents").await;
    assert!(
        open_incidents(&incidents).is_empty(),
        "a suggestion opens nothing: {incidents}"
    );
    // The overview says so until someone acts on it.
    let r = web.get("/").await;
    assert!(r.body.contains("id=\"pending-suggestions\""), "{}", r.body);
    let (s, inc) = app
        .post(
            "/api/v1/incidents",
            json!({"plan": "flood-typhoon", "level": 3, "villages": ["S08"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{inc}");
    let r = web.get("/").await;
    assert!(!r.body.contains("id=\"pending-suggestions\""), "{}", r.body);

    // A viewer sees the suggestion but no form, and may not record.
    let viewer = Web::new(&app.base);
    viewer.sign_in("li", PASSWORD).await;
    let vt = viewer.token().await;
    let r = viewer.get("/observations").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("id=\"observation-form\""));
    assert!(
        r.body.contains("台风预警信号") && r.body.contains("/plans/flood-typhoon"),
        "{}",
        r.body
    );
    let r = viewer
        .post(
            "/observations",
            &[("_csrf", &vt), ("kind", "fire_danger"), ("rating", "5")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.stop().await;
}
both!(observations_are_entered_and_suggestions_listed);

/// Behind a reverse proxy listed in `trusted_proxies`, a failed sign-in is
/// counted against the person's address from `X-Forwarded-For`, so one
/// person's wrong passwords do not hold back the office; from anyone else
/// the header is ignored.
async fn lockout_counts_the_address_behind_a_trusted_proxy(b: Backend) {
    for (trusted, want) in [(true, "203.0.113.7"), (false, "127.0.0.1")] {
        let Some(app) = TestApp::start_with(b, |c| {
            if trusted {
                c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
            }
        })
        .await
        else {
            return;
        };
        let web = Web::new(&app.base);
        let page = web.get("/login").await;
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("_csrf", page.csrf().as_str()),
                ("name", "nobody"),
                ("password", "wrong-password"),
            ])
            .finish();
        let r = web
            .send(
                web.client
                    .post(format!("{}/login", app.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
                    .body(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        let (ip,): (String,) = sqlx::query_as("SELECT ip FROM login_failures")
            .fetch_one(&app.db().pool)
            .await
            .expect("failure");
        assert_eq!(ip, want, "trusted: {trusted}");
        app.stop().await;
    }
}
both!(lockout_counts_the_address_behind_a_trusted_proxy);

/// A drill that was held is recorded through the form: a list of names as
/// people write them, a date in the future refused with the input kept,
/// and the record in the drill's scorecard.
async fn drill_records_are_entered_through_the_form(b: Backend) {
    let Some(app) = township_with_plans(b).await else {
        return;
    };
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    let (_, drills) = app.get("/api/v1/drills").await;
    let id = drills["items"][0]["id"]
        .as_i64()
        .expect("a drill from the plans");
    let r = web.get(&format!("/drills/{id}")).await;
    assert!(r.body.contains("id=\"record-drill\""), "{}", r.body);
    let r = web.get(&format!("/drills/{id}/records/new")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"drill-record-form\""), "{}", r.body);

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let form = |held: &str| {
        vec![
            ("_csrf".to_string(), t.clone()),
            ("held_on".to_string(), held.to_string()),
            ("participants".to_string(), "张三、李四\n王五".to_string()),
            ("duration_minutes".to_string(), "40".to_string()),
            ("problems".to_string(), "广播有盲区".to_string()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let web = &web;
        async move {
            let pairs: Vec<(&str, &str)> =
                f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            web.post(&format!("/drills/{id}/records"), &pairs).await
        }
    };
    // Text where a number goes, and nobody named: each field says so.
    let mut bad = form("2026-03-01");
    bad.retain(|(k, _)| k != "participants" && k != "duration_minutes");
    bad.push(("duration_minutes".into(), "四十".into()));
    let r = post(bad.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-duration_minutes\""), "{}", r.body);
    bad.retain(|(k, _)| k != "duration_minutes");
    let r = post(bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-participants\""), "{}", r.body);
    let r = post(form(&tomorrow)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-held_on\""), "{}", r.body);
    assert!(r.body.contains("广播有盲区"), "the input is kept");
    let (_, card) = app.get(&format!("/api/v1/drills/{id}/scorecard")).await;
    assert_eq!(card["records"].as_array().map(Vec::len), Some(0));

    let r = post(form("2026-03-01")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, card) = app.get(&format!("/api/v1/drills/{id}/scorecard")).await;
    let records = card["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{card}");
    assert_eq!(records[0]["held_on"], "2026-03-01", "{card}");
    assert_eq!(
        records[0]["participants"],
        json!(["张三", "李四", "王五"]),
        "{card}"
    );
    let r = web.get(&format!("/drills/{id}")).await;
    assert!(r.body.contains("2026-03-01"), "{}", r.body);
    app.stop().await;
}
both!(drill_records_are_entered_through_the_form);

/// Villages are created and edited through the form: a boundary that is
/// not GeoJSON is refused with the input kept, a saved boundary places a
/// site's location in the village, and an edit of a village changed
/// meanwhile is refused with what is stored now.
async fn villages_are_created_and_edited_through_the_form(b: Backend) {
    let Some((app, web, t)) = signed_in(b, Role::Editor).await else {
        return;
    };
    assert!(
        web.get("/villages")
            .await
            .body
            .contains("id=\"new-village\"")
    );
    let r = web
        .post(
            "/villages/new",
            &[
                ("_csrf", &t),
                ("code", "V03"),
                ("name", "后洋村"),
                ("boundary", "{\"type\": \"Polygon\", "),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("id=\"err-boundary\"") && r.body.contains("value=\"后洋村\""),
        "{}",
        r.body
    );
    let boundary = square(118.0, 25.17, 0.02).to_string();
    let r = web
        .post(
            "/villages/new",
            &[
                ("_csrf", &t),
                ("code", "V03"),
                ("name", "后洋村"),
                ("population", "820"),
                ("boundary", &boundary),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = r
        .headers
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .expect("location")
        .to_string();
    let id: i64 = page
        .trim_start_matches("/villages/")
        .parse()
        .expect("village id");
    // The boundary is in force: a site inside it belongs to the new village.
    let (s, site) = app
        .post("/api/v1/sites", json!({"name": "后洋烟花店", "kind": "fireworks_retail", "risk_grade": "low", "location": {"lon": 118.01, "lat": 25.18}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    assert_eq!(site["village_id"].as_i64(), Some(id), "{site}");

    let edit = web.get(&format!("/villages/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(
        edit.body.contains("name=\"version\" value=\"1\""),
        "{}",
        edit.body
    );
    // Someone else renames it meanwhile (version 2).
    let (s, _) = app
        .put(&format!("/api/v1/villages/{id}"), json!({"code": "V03", "name": "后洋行政村", "boundary": square(118.0, 25.17, 0.02), "version": 1}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let form = |version: &'static str| {
        [
            ("_csrf", t.as_str()),
            ("code", "V03"),
            ("name", "后洋村"),
            ("population", "900"),
            ("boundary", boundary.as_str()),
            ("version", version),
        ]
    };
    let r = web.post(&format!("/villages/{id}/edit"), &form("1")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("id=\"conflict\"") && r.body.contains("后洋行政村"),
        "{}",
        r.body
    );
    let r = web.post(&format!("/villages/{id}/edit"), &form("2")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, v) = app.get(&format!("/api/v1/villages/{id}")).await;
    assert_eq!(
        (v["name"].as_str(), v["population"].as_i64()),
        (Some("后洋村"), Some(900)),
        "{v}"
    );
    app.stop().await;
}
both!(villages_are_created_and_edited_through_the_form);

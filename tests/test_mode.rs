//! A test set-up must not look like a live one: the "演示/测试模式" banner
//! while SMS or e-mail are written to files or off, or answer links point at
//! this machine (and never on the public pages); the review steps warn when
//! links would not open on a phone; counts say "written to test files".
//! Also what keeps a clerk from sending by mistake (two explicit buttons,
//! exercise and real) and what a mistyped address shows (GET /logout, 404
//! and 405 in the page's language), and the escalation text the duty
//! officer gets: the people not yet answered, with their numbers.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;
#[path = "support/webdriver.rs"]
mod webdriver;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::config::Config;
use reqwest::StatusCode;
use serde_json::json;
use sms_provider_sim::{Creds, Kind};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// A village of five people (one of them answers in the escalation test)
/// and the township duty officer; `wang` a dispatcher.
async fn seed(app: &TestApp) -> (i64, Vec<i64>) {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "T01", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("village id");
    let mut contacts = Vec::new();
    for (i, (name, role)) in [
        ("林支书", "村支书"),
        ("陈主任", "村主任"),
        ("吴网格", "网格员"),
        ("郑网格", "网格员"),
        ("黄网格", "网格员"),
    ]
    .iter()
    .enumerate()
    {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "roles": [role], "village_id": vid,
                       "phone": format!("1395951246{i}"), "escalation_order": i + 1}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        contacts.push(c["id"].as_i64().expect("contact id"));
    }
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "周值班", "roles": ["应急办值班"], "phone": "13800138000", "escalation_order": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    (vid, contacts)
}

async fn signed_in(app: &TestApp) -> (Web, String) {
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    (web, t)
}

/// The compose form posted to its review step, for one village.
async fn review(web: &Web, t: &str, village: i64, exercise: &str) -> web_client::Resp {
    let v = village.to_string();
    web.post(
        "/alerts/new",
        &[
            ("_csrf", t),
            ("title", "山洪预警"),
            ("body", "请立即转移。"),
            ("level", "2"),
            ("channels", "sms"),
            ("ack_within_minutes", "10"),
            ("villages", &v),
            ("exercise", exercise),
        ],
    )
    .await
}

/// A set-up with nothing of a test in it: a real SMS provider (the
/// simulator), an SMTP host, links at a public https address.
fn live(sim: &sms_provider_sim::Sim, c: &mut Config) {
    sim.configure(&mut c.sms);
    c.email.host = "127.0.0.1".into();
    c.email.port = 2525;
    c.public_base_url = "https://yj.example.gov.cn".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banner_says_which_parts_are_a_test() {
    // The defaults: SMS and e-mail to files, links at the listen address.
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (village, contacts) = seed(&app).await;
    let (web, t) = signed_in(&app).await;
    let outbox = app.cfg.data_dir.join("outbox").display().to_string();
    for path in ["/", "/alerts", "/plans", "/contacts", "/alerts/new"] {
        let r = web.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.body.contains("id=\"test-mode\"") && r.body.contains("演示/测试模式"),
            "{path}: {}",
            r.body
        );
        for reason in ["sms-spool", "email-spool", "loopback"] {
            assert!(
                r.body.contains(&format!("data-reason=\"{reason}\"")),
                "{path} {reason}"
            );
        }
    }
    let r = web.get("/").await;
    assert!(
        r.body
            .contains(&format!("短信未真正发出：写入测试文件 {outbox}")),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("回复链接指向本机地址 127.0.0.1，村民手机打不开"),
        "{}",
        r.body
    );
    // The channel table says files, not a provider that sends.
    assert!(r.body.contains("只写入测试文件，未真正发出"), "{}", r.body);
    let en = web.get("/?lang=en").await;
    assert!(
        en.body.contains("Demo / test mode") && en.body.contains("not really sent"),
        "{}",
        en.body
    );
    web.get("/?lang=zh").await;
    // The public pages are read by villagers: a "test" banner there would
    // read as "this warning is not real". Nor before sign-in.
    for path in ["/public/", "/login"] {
        let anon = Web::new(&app.base);
        let r = anon.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.body.contains("test-mode") && !r.body.contains("演示/测试模式"),
            "{path}: {}",
            r.body
        );
    }
    let r = web.get("/public/").await;
    assert!(!r.body.contains("演示/测试模式"), "{}", r.body);

    // The review step warns about both, and the sent count says files.
    let r = review(&web, &t, village, "1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"review-warnings\"")
            && r.body.contains("id=\"warn-link\"")
            && r.body.contains("id=\"warn-spool\"")
            && r.body.contains("村民手机打不开"),
        "{}",
        r.body
    );
    let (_, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "测试", "body": "正文", "channels": ["sms"], "targets": {"villages": [village]}}),
        )
        .await;
    let id = a["id"].as_i64().expect("alert id");
    app.wait_alert(id, 20, |v| v["delivery_states"]["sent"] == 5)
        .await;
    let r = web.get(&format!("/alerts/{id}")).await;
    assert!(
        r.body.contains("条已写入测试文件（未真正发出）") && !r.body.contains("条已发出"),
        "{}",
        r.body
    );
    // Nor on the page a villager answers on.
    let token = app.token_of(id, contacts[0]).await;
    let r = Web::new(&app.base).get(&format!("/a/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        !r.body.contains("演示/测试模式") && !r.body.contains("测试文件"),
        "{}",
        r.body
    );
    app.stop().await;

    // E-mail off, links at a private address: the banner names e-mail;
    // the review step warns about the links (phones on mobile data cannot
    // open them) though the banner does not.
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        live(&sim, c);
        c.email.enabled = false;
        c.public_base_url = "http://192.168.1.10:8080".into();
    })
    .await
    .expect("app");
    let (village, _) = seed(&app).await;
    let (web, t) = signed_in(&app).await;
    let r = web.get("/").await;
    assert!(
        r.body.contains("data-reason=\"email-off\"") && r.body.contains("邮件已关闭"),
        "{}",
        r.body
    );
    for reason in ["sms-spool", "email-spool", "loopback"] {
        assert!(
            !r.body.contains(&format!("data-reason=\"{reason}\"")),
            "{reason}"
        );
    }
    let r = review(&web, &t, village, "1").await;
    assert!(
        r.body.contains("id=\"warn-link\"")
            && r.body.contains("192.168.1.10")
            && !r.body.contains("id=\"warn-spool\""),
        "{}",
        r.body
    );
    app.stop().await;

    // A live set-up: no banner, no warning, counts say sent.
    let app = TestApp::start_with(Backend::Sqlite, |c| live(&sim, c))
        .await
        .expect("app");
    let (village, _) = seed(&app).await;
    let (web, t) = signed_in(&app).await;
    for path in ["/", "/alerts", "/plans"] {
        let r = web.get(path).await;
        assert!(
            !r.body.contains("id=\"test-mode\"") && !r.body.contains("演示/测试模式"),
            "{path}: {}",
            r.body
        );
    }
    let r = review(&web, &t, village, "1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("review-warnings"), "{}", r.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_plans_directory_is_said_in_chinese_on_the_overview() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    seed(&app).await;
    let (web, _) = signed_in(&app).await;
    let dir = app.cfg.plans_dir.display().to_string();
    for path in ["/", "/plans"] {
        let r = web.get(path).await;
        assert!(
            r.body.contains("id=\"plans-dir-problem\"")
                && r.body.contains("预案目录不存在")
                && r.body.contains(&dir)
                && r.body.contains("fenghuo plans init"),
            "{path}: {}",
            r.body
        );
    }
    let r = web.get("/plans").await;
    assert!(
        !r.body.contains("cannot read the plans directory"),
        "{}",
        r.body
    );
}

/// The plan page's two buttons; exercise=1 opens an exercise, exercise=0 a
/// real response; the preview warns about the links and the spool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exercise_and_real_are_two_buttons() {
    let app = TestApp::start_with(Backend::Sqlite, |c| {
        c.plans_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))
    })
    .await
    .expect("app");
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
    let (web, t) = signed_in(&app).await;
    let page = web.get("/plans/flood-typhoon").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"exercise\" value=\"1\"")
            && page.body.contains("name=\"exercise\" value=\"0\"")
            && page.body.contains("演练启动")
            && page.body.contains("实战启动")
            && !page.body.contains("type=\"checkbox\" name=\"exercise\""),
        "{}",
        page.body
    );
    // The real button is red and asks first.
    let real = page
        .body
        .split("id=\"activate-real\"")
        .next()
        .and_then(|b| b.rsplit("<button").next())
        .unwrap_or("");
    assert!(real.contains("danger"), "{real}");
    assert!(
        page.body
            .split("id=\"activate-real\"")
            .nth(1)
            .is_some_and(|rest| rest.starts_with(" data-confirm=\"")),
        "{}",
        page.body
    );
    let (_, vs) = app.get("/api/v1/villages").await;
    let v1 = vs["items"][0]["id"].as_i64().expect("village").to_string();
    let mut opened = Vec::new();
    for exercise in ["1", "0"] {
        let form = [
            ("_csrf", t.as_str()),
            ("level", "4"),
            ("villages", v1.as_str()),
            ("exercise", exercise),
        ];
        let r = web.post("/plans/flood-typhoon/activate", &form).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            r.body.contains("id=\"review-warnings\"")
                && r.body.contains("id=\"warn-link\"")
                && r.body.contains("id=\"warn-spool\""),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("id=\"confirm-activation\" data-confirm=\""),
            "{}",
            r.body
        );
        let button = if exercise == "1" {
            "id=\"confirm-exercise\""
        } else {
            "id=\"confirm-real\""
        };
        assert!(r.body.contains(button), "{}", r.body);
        let mut confirm = form.to_vec();
        confirm.push(("confirm", "1"));
        let r = web.post("/plans/flood-typhoon/activate", &confirm).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let inc: i64 = r.location()["/incidents/".len()..]
            .parse()
            .expect("incident id");
        let (_, i) = app.get(&format!("/api/v1/incidents/{inc}")).await;
        opened.push(i["exercise"].as_bool());
        // Stand down, so the next activation is a new incident.
        let r = web
            .post(&format!("/incidents/{inc}/close"), &[("_csrf", &t)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    assert_eq!(opened, [Some(true), Some(false)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_on_what_sends_or_changes_a_level() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (village, _) = seed(&app).await;
    let (web, t) = signed_in(&app).await;
    let compose = web.get("/alerts/new").await;
    assert!(
        compose.body.contains("id=\"review\"")
            && compose.body.contains("id=\"review-real\"")
            && !compose.body.contains("type=\"checkbox\" name=\"exercise\""),
        "{}",
        compose.body
    );
    let r = review(&web, &t, village, "0").await;
    let asked = r
        .body
        .split("id=\"send-form\" data-confirm=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("");
    assert!(asked.contains("实战") && asked.contains("5 人"), "{asked}");
    let r = review(&web, &t, village, "1").await;
    assert!(
        r.body.contains("发送演练通知（标注【演练】）给 5 人？"),
        "{}",
        r.body
    );
    // Without a village: a Chinese message naming the field.
    let r = web
        .post(
            "/alerts/new",
            &[
                ("_csrf", &t),
                ("title", "山洪预警"),
                ("body", "请立即转移。"),
                ("channels", "sms"),
                ("exercise", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("发送对象") && r.body.contains("请至少选择一个村"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_typed_and_errors_in_the_page_language() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    seed(&app).await;
    let (web, _) = signed_in(&app).await;
    let r = web.get("/logout").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"sign-out-button\"")
            && r.body.contains("action=\"/logout\"")
            && r.body.contains("id=\"back-link\""),
        "{}",
        r.body
    );
    // The button works.
    let token = r.csrf();
    let out = web.post("/logout", &[("_csrf", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let r = web.get("/logout").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("您已退出登录"), "{}", r.body);

    // 404 and 405, in Chinese by default, in English by query or cookie.
    for (path, status) in [
        ("/no-such-page", StatusCode::NOT_FOUND),
        ("/alerts/send", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let anon = Web::new(&app.base);
        let zh = anon.get(path).await;
        assert_eq!(zh.status, status, "{path}");
        assert!(zh.body.contains("<html lang=\"zh-CN\">"), "{}", zh.body);
        assert!(
            !zh.body.contains("does not exist") && !zh.body.contains("cannot be opened"),
            "{}",
            zh.body
        );
        let en = anon.get(&format!("{path}?lang=en")).await;
        assert_eq!(en.status, status, "{path}");
        assert!(en.body.contains("<html lang=\"en\">"), "{}", en.body);
        assert!(
            !en.body.contains("找不到") && !en.body.contains("不能这样打开"),
            "{}",
            en.body
        );
        let by_cookie = app
            .client
            .get(format!("{}{path}", app.base))
            .header("cookie", "fh_lang=en")
            .send()
            .await
            .expect("get");
        assert_eq!(by_cookie.status(), status);
        let body = by_cookie.text().await.expect("body");
        assert!(body.contains("<html lang=\"en\">"), "{body}");
    }
    // `?lang=en` on a dashboard address kept English in a cookie: a new visitor.
    let anon = Web::new(&app.base);
    let zh = anon.get("/no-such-page").await;
    assert!(zh.body.contains("找不到该页面或记录"), "{}", zh.body);
    let zh = anon.get("/alerts/send").await;
    assert!(zh.body.contains("此地址不能这样打开"), "{}", zh.body);
    assert!(zh.headers.get("allow").is_some(), "{:?}", zh.headers);
    // An address whose number is not one: the page, not bare English text.
    let (web, _) = signed_in(&app).await;
    let r = web.get("/alerts/abc").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("地址或提交的内容有误"), "{}", r.body);
    let r = web.get("/alerts/999999?lang=en").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.body.contains("This page or record does not exist."),
        "{}",
        r.body
    );
}

/// The duty officer is told who has not answered, with numbers as dialled:
/// through the real SMS path (the provider simulator) on both backends.
async fn escalation_text_names_who_to_phone(b: Backend) {
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let Some(app) = TestApp::start_with(b, |c| sim.configure(&mut c.sms)).await else {
        return;
    };
    let (village, contacts) = seed(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请立即转移沿河群众。", "level": 2, "ack_within_minutes": 10,
                   "channels": ["sms"], "targets": {"villages": [village]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    sim.wait_for_accepted(5, std::time::Duration::from_secs(20))
        .await;
    // 林支书 answers; the other four do not.
    let token = app.token_of(id, contacts[0]).await;
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::OK);
    let fired = fenghuo::notify::response::escalation::tick(
        &app.notifier(),
        fenghuo::store::now_ms() + 11 * 60_000,
    )
    .await
    .expect("escalation");
    assert!(fired >= 4, "{fired}");
    // Four repeats and one escalation to the duty officer.
    let got = sim
        .wait_for_accepted(10, std::time::Duration::from_secs(20))
        .await;
    let to_duty: Vec<_> = got.iter().filter(|m| m.to == "+8613800138000").collect();
    assert_eq!(
        to_duty.len(),
        1,
        "{:?}",
        got.iter().map(|m| &m.text).collect::<Vec<_>>()
    );
    let text = &to_duty[0].text;
    assert!(
        text.contains("溪口村尚未确认收到：陈主任 139 5951 2461、吴网格 139 5951 2462、郑网格 139 5951 2463等 4 人"),
        "{text}"
    );
    assert!(!text.contains("林支书") && !text.contains("2460"), "{text}");
    assert!(text.contains("/a/"), "the answer link is kept: {text}");
    let parts = fenghuo::notify::delivery::segments::count(text).parts;
    assert!(parts <= app.cfg.sms.max_parts, "{parts} parts: {text}");
    app.stop().await;
}
both!(escalation_text_names_who_to_phone);

/// In a real browser: the banner is there, visible, under the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_shows_the_test_mode_banner() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "browser_shows_the_test_mode_banner needs {} and {}",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    seed(&app).await;
    let base = app.base.clone();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/test-mode");
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots)
        .await
        .expect("start chromedriver and chromium");
    d.goto(&format!("{base}/login")).await.expect("open");
    d.wait_for("#f-password", 10).await.expect("sign-in form");
    d.fill("#f-name", "wang").await.expect("name");
    d.fill("#f-password", PASSWORD).await.expect("password");
    d.click_css("#signin").await.expect("submit");
    d.wait_for("#test-mode", 10).await.expect("the banner");
    d.wait_until(
        "var b = document.getElementById('test-mode'); var r = b.getBoundingClientRect(); \
         var h = document.querySelector('header.top').getBoundingClientRect(); \
         return r.height > 0 && r.width > 300 && r.top >= h.bottom - 1 && r.top < 400 && \
         getComputedStyle(b).display !== 'none' && getComputedStyle(b).visibility === 'visible'",
        10,
    )
    .await
    .expect("the banner is visible under the header");
    let text = d.text_of("#test-mode").await.expect("text");
    assert!(
        text.contains("演示/测试模式") && text.contains("短信未真正发出"),
        "{text}"
    );
    d.screenshot("banner").await.expect("shot");
    d.goto(&format!("{base}/public/")).await.expect("public");
    assert!(
        d.find_all("#test-mode").await.expect("find").is_empty(),
        "no banner on the public page"
    );
    d.quit().await;
    app.stop().await;
}

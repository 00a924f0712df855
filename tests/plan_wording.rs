//! The sample flow as the office and the villages meet it, on the shipped
//! plans and the sample township: a heavy reading on the observations page,
//! an exercise activation through its preview, the all-clear. Every SMS that
//! left (the spool) and every page on the way reads in words: no template
//! variable, no JSON, no English level names, one exercise mark, one answer
//! instruction, and an all-clear that asks for no answer.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::json;
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// What must never show: a template variable, a JSON object, English level names.
fn raw_bits(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (name, _) in fenghuo::notify::intake::template::VARIABLES {
        let var = format!("{{{name}}}");
        if text.contains(&var) {
            found.push(var);
        }
    }
    for bad in [
        "{\"", "Level I", "Level V", "(blue)", "(yellow)", "(orange)", "(red)",
    ] {
        if text.contains(bad) {
            found.push(bad.to_string());
        }
    }
    found
}

/// The spooled SMS texts, waiting until there are at least `n`.
async fn spooled(app: &TestApp, n: usize) -> Vec<String> {
    let dir = app.cfg.data_dir.join("outbox");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .filter_map(|e| {
                        let body = std::fs::read_to_string(e.path()).ok()?;
                        let sms = body.split_once("\n\n").map(|(_, s)| s.to_string())?;
                        Some((e.file_name().to_string_lossy().to_string(), sms))
                    })
                    .collect()
            })
            .unwrap_or_default();
        texts.sort();
        if texts.len() >= n || std::time::Instant::now() > until {
            return texts.into_iter().map(|t| t.1).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn spooled_count(app: &TestApp) -> usize {
    std::fs::read_dir(app.cfg.data_dir.join("outbox"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// Messages the daemon has queued or sent so far (all will reach the spool).
async fn deliveries(app: &TestApp) -> usize {
    // The sample notice's deliveries (recorded as sent when the sample data
    // was loaded) never pass through the spool.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries WHERE channel = 'sms' \
         AND (provider_id IS NULL OR provider_id NOT LIKE 'sample-%')",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("count");
    usize::try_from(n).unwrap_or(0)
}

/// The SMS text without its link (the only place Latin letters belong).
fn without_link(sms: &str) -> String {
    sms.split_whitespace()
        .filter(|w| !w.starts_with("http"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn the_sample_flow_reads_in_words(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.plans_dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))
    })
    .await
    else {
        return;
    };
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
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let t = web.token().await;
    let (_, vs) = app.get("/api/v1/villages").await;
    let village = |code: &str| {
        vs["items"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["code"] == code))
            .and_then(|x| x["id"].as_i64())
            .expect("village")
    };

    // A heavy reading at 坑头村: the page says in red that a real response was opened.
    let r = web
        .post(
            "/observations",
            &[
                ("_csrf", &t),
                ("kind", "rainfall"),
                ("village", "S08"),
                ("window_hours", "3"),
                ("mm", "55"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("class=\"box danger\"") && r.body.contains("实战"),
        "a real response is announced plainly: {}",
        r.body
    );
    assert!(raw_bits(&r.body).is_empty(), "{:?}", raw_bits(&r.body));
    let (_, incs) = app.get("/api/v1/incidents").await;
    let real = incs["items"][0]["id"].as_i64().expect("the real incident");
    // Stood down, so the exercise below is a separate incident.
    let r = web
        .post(&format!("/incidents/{real}/close"), &[("_csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // An exercise for 溪口村 at Ⅳ: the preview lists who gets what and sends nothing.
    let xikou = village("S10").to_string();
    let before = deliveries(&app).await;
    let form = [
        ("_csrf", t.as_str()),
        ("level", "4"),
        ("exercise", "1"),
        ("villages", xikou.as_str()),
    ];
    let preview = web.post("/plans/flood-typhoon/activate", &form).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview.body.contains("id=\"preview\"")
            && preview.body.contains("id=\"confirm-activation\""),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("溪口村"), "{}", preview.body);
    let listed = preview
        .body
        .split("id=\"preview\"")
        .nth(1)
        .and_then(|p| p.split("id=\"confirm-activation\"").next())
        .unwrap_or("");
    assert!(
        !listed.contains("坑头村") && !listed.contains("石门村"),
        "the preview lists nobody from another village: {listed}"
    );
    assert!(
        raw_bits(&preview.body).is_empty(),
        "{:?}",
        raw_bits(&preview.body)
    );
    assert_eq!(deliveries(&app).await, before, "a preview sends nothing");
    let mut confirm = form.to_vec();
    confirm.push(("confirm", "1"));
    let r = web.post("/plans/flood-typhoon/activate", &confirm).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let inc = r.location();
    let page = web.get(&inc).await;
    assert!(
        page.body.contains("湖上乡防汛抗旱防台风应急预案"),
        "named by its plan: {}",
        page.body
    );
    assert!(!page.body.contains("flood-typhoon #"), "{}", page.body);
    assert!(
        raw_bits(&page.body).is_empty(),
        "{:?}",
        raw_bits(&page.body)
    );
    let r = web
        .post(
            &format!("{inc}/close"),
            &[("_csrf", &t), ("note", "演练结束")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for path in [
        inc.as_str(),
        "/",
        "/alerts",
        "/plans/flood-typhoon",
        "/plans/forest-fire",
        "/observations",
    ] {
        let p = web.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert!(
            raw_bits(&p.body).is_empty(),
            "{path}: {:?}",
            raw_bits(&p.body)
        );
    }

    // Every SMS as it left.
    let queued = deliveries(&app).await;
    let texts = spooled(&app, queued).await;
    assert_eq!(texts.len(), queued, "every message reached the spool");
    assert!(spooled_count(&app).await >= 3);
    let mut all_clears = 0;
    for sms in &texts {
        assert!(raw_bits(sms).is_empty(), "{sms}");
        assert!(!sms.contains('{') && !sms.contains('}'), "{sms}");
        assert!(sms.matches("演练").count() <= 2, "{sms}");
        assert!(
            sms.matches("[演练]").count() + sms.matches("【演练】").count() <= 1,
            "one exercise mark: {sms}"
        );
        assert!(
            sms.matches("回复").count() <= 1,
            "one answer instruction: {sms}"
        );
        let letters = without_link(sms)
            .chars()
            .filter(char::is_ascii_alphabetic)
            .count();
        assert_eq!(letters, 0, "no English in a Chinese text: {sms}");
        if sms.contains("解除") {
            all_clears += 1;
            assert!(
                !sms.contains("回复1") && !sms.contains("http"),
                "an all-clear asks for no answer: {sms}"
            );
            assert!(sms.contains("无需回复"), "{sms}");
        } else {
            assert_eq!(sms.matches("回复1确认收到").count(), 1, "{sms}");
        }
    }
    assert!(
        all_clears >= 2,
        "both stand-downs sent their all-clear: {texts:?}"
    );
    app.stop().await;
}

both!(the_sample_flow_reads_in_words);

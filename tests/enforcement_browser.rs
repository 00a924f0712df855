//! The enforcement file as an office uses it, in headless Chromium: a 双随机
//! plan made and drawn, the draw on the public site, an inspection by two
//! registered inspectors (one alone refused) with a photo from the phone's
//! camera input, and its 责令限期整改指令书 issued and printed.

mod common;
#[path = "support/webdriver.rs"]
mod webdriver;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct-horse-9";

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/enforcement")
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// Sets a date field's value as its picker would (typing into a date input
/// depends on the browser's locale).
async fn set_date(d: &webdriver::Driver, css: &str, day: &str) {
    d.exec(
        "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
         e.dispatchEvent(new Event('change', {bubbles: true}));",
        json!([css, day]),
    )
    .await
    .expect("set the date");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draw_inspect_photograph_and_print() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "the enforcement browser test needs {} and {} (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "V01", "name": "湖上村", "boundary": square(117.96, 25.17, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let village = id(&v);
    let mut sites = Vec::new();
    for (i, name) in ["湖上烟花零售点甲", "湖上烟花零售点乙"].iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/v1/sites",
                json!({"name": name, "kind": "fireworks_retail", "risk_grade": "general",
                       "village_id": village, "address": format!("湖上村 {} 号", i + 3),
                       "location": {"lon": 117.955 + i as f64 * 0.005, "lat": 25.165}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        sites.push((id(&v), name.to_string()));
    }
    for (name, cert, phone) in [
        ("林执法", "闽执0001", "+8613800138901"),
        ("陈执法", "闽执0002", "+8613800138902"),
        ("黄执法", "闽执0003", "+8613800138903"),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/inspectors",
                json!({"name": name, "certificate_no": cert, "unit": "镇综合执法队", "phone": phone,
                       "valid_from": "2020-01-01", "valid_until": "2099-12-31"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");

    let shots = artifacts();
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");
    d.goto(&format!("{base}/login")).await.expect("open");
    d.wait_for("#f-password", 10).await.expect("sign-in form");
    d.fill("#f-name", "wang").await.expect("name");
    d.fill("#f-password", PASSWORD).await.expect("password");
    d.click_css("#signin").await.expect("submit");
    d.wait_for("#live", 10).await.expect("overview");

    // The plan: this quarter's fireworks retail points, one drawn, by two
    // of the three inspectors.
    let today = chrono::Utc::now().date_naive();
    let title = "烟花爆竹零售点双随机抽查（浏览器测试）";
    d.goto(&format!("{base}/draws/new"))
        .await
        .expect("plan form");
    d.wait_for("#plan-form", 10).await.expect("form");
    d.fill("#f-title", title).await.expect("title");
    set_date(&d, "#f-period_from", &today.to_string()).await;
    set_date(
        &d,
        "#f-period_to",
        &(today + chrono::Duration::days(60)).to_string(),
    )
    .await;
    d.fill("#f-object_count", "1").await.expect("count");
    d.fill("#f-team_size", "2").await.expect("team");
    d.click_css("#f-site_kinds input[value=\"fireworks_retail\"]")
        .await
        .expect("kind");
    for el in d
        .find_all("#f-inspector_ids input[type=checkbox]")
        .await
        .expect("pool")
    {
        d.click(&el).await.expect("tick");
    }
    d.screenshot("01-draw-plan").await.expect("shot");
    d.click_css("#save").await.expect("save the plan");
    d.wait_for("#draw-form", 10).await.expect("the plan's page");
    let plan_url = d.url().await.expect("url");
    let plan: i64 = plan_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("plan id in {plan_url}"));

    // The draw, with the public value the office announced.
    d.fill("#f-public_value", "2026139")
        .await
        .expect("public value");
    d.click_css("#draw").await.expect("draw");
    d.wait_for("#picks", 10).await.expect("the drawn pairs");
    let picks = d.text_of("#picks").await.expect("picks");
    let seed = d.text_of("#seed").await.expect("seed");
    assert!(seed.trim().len() >= 32, "the seed is shown: {seed}");
    let (site, site_name) = sites
        .iter()
        .find(|(_, n)| picks.contains(n.as_str()))
        .cloned()
        .unwrap_or_else(|| panic!("a drawn site in {picks}"));
    let team: Vec<&str> = ["林执法", "陈执法", "黄执法"]
        .into_iter()
        .filter(|n| picks.contains(n))
        .collect();
    assert_eq!(team.len(), 2, "two inspectors drawn: {picks}");
    d.screenshot("02-drawn").await.expect("shot");

    // 一公开: the public site shows it, without anyone's phone.
    d.goto(&format!("{base}/public/")).await.expect("public");
    let public = d.body_text().await.expect("text");
    assert!(public.contains(title), "{public}");
    d.goto(&format!("{base}/public/draws/{plan}"))
        .await
        .expect("public draw");
    let public = d.body_text().await.expect("text");
    assert!(
        public.contains(&site_name) && public.contains(seed.trim()),
        "{public}"
    );
    for n in team.iter() {
        assert!(public.contains(n), "{n} in {public}");
    }
    assert!(
        !public.contains("0138901") && !public.contains("0138 901") && !public.contains("138901"),
        "no phone published: {public}"
    );
    d.screenshot("03-public-draw").await.expect("shot");

    // The inspection of the drawn site: one inspector alone is refused.
    d.goto(&format!("{base}/sites/{site}/inspections/new"))
        .await
        .expect("inspection form");
    d.wait_for("#inspection-form", 10).await.expect("form");
    set_date(&d, "#f-inspected_on", &today.to_string()).await;
    let boxes = d
        .find_all("#f-inspector_ids label")
        .await
        .expect("inspectors");
    let mut ticks = Vec::new();
    for label in &boxes {
        let text = d.text(label).await.expect("label");
        if team.iter().any(|n| text.contains(n)) {
            ticks.push(label.clone());
        }
    }
    assert_eq!(ticks.len(), 2, "both drawn inspectors listed");
    d.click(&ticks[0]).await.expect("tick one");
    d.fill("#f-f0_item", "零售点内存放打火机等其他易燃物品")
        .await
        .expect("item");
    d.choose("#f-f0_checklist_item", "YH-02")
        .await
        .expect("checklist item");
    d.fill("#f-f0_measures", "立即清出，另行存放")
        .await
        .expect("measures");
    d.fill("#f-f0_responsible", "店主 林某")
        .await
        .expect("person");
    set_date(
        &d,
        "#f-f0_deadline",
        &(today + chrono::Duration::days(7)).to_string(),
    )
    .await;
    d.click_css("#save").await.expect("save");
    let err = d
        .wait_for("#err-inspector_ids", 10)
        .await
        .expect("the rule named beside the inspectors");
    assert!(d.text(&err).await.expect("text").contains('2'));
    d.screenshot("04-one-inspector-refused")
        .await
        .expect("shot");
    let (_, listed) = app.get(&format!("/api/v1/sites/{site}/inspections")).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "nothing kept"
    );
    // The form kept what was typed; the second inspector ticked, it is saved.
    assert_eq!(
        d.value_of("#f-f0_item").await.expect("kept"),
        "零售点内存放打火机等其他易燃物品"
    );
    let labels = d
        .find_all("#f-inspector_ids label")
        .await
        .expect("inspectors");
    for label in &labels {
        let text = d.text(label).await.expect("label");
        if text.contains(team[1]) {
            d.click(label).await.expect("tick the second");
        }
    }
    set_date(&d, "#f-inspected_on", &today.to_string()).await;
    set_date(
        &d,
        "#f-f0_deadline",
        &(today + chrono::Duration::days(7)).to_string(),
    )
    .await;
    d.click_css("#save").await.expect("save");
    d.wait_until("return !document.querySelector('#inspection-form');", 10)
        .await
        .expect("saved");
    let (_, listed) = app.get(&format!("/api/v1/sites/{site}/inspections")).await;
    let inspection = &listed["items"][0];
    let inspection_id = id(inspection);
    let names = inspection["inspectors"].to_string();
    assert!(team.iter().all(|n| names.contains(n)), "{names}");

    // A photo, chosen through the phone-camera input.
    d.goto(&format!("{base}/inspections/{inspection_id}/photos"))
        .await
        .expect("photos page");
    d.wait_for("#photo-form", 10).await.expect("upload form");
    let photo =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ledger/sample_photos/scene.png");
    let input = d.find("#f-photo").await.expect("file input");
    d.type_text(&input, &photo.display().to_string())
        .await
        .expect("choose the file");
    d.fill("#f-caption", "货架旁堆放打火机")
        .await
        .expect("caption");
    d.click_css("#upload").await.expect("upload");
    d.wait_for("#photos img", 10)
        .await
        .expect("the photo listed");
    d.screenshot("05-photo").await.expect("shot");

    // The 责令限期整改指令书: numbered, naming both inspectors, with the photo.
    d.goto(&format!("{base}/inspections/{inspection_id}"))
        .await
        .expect("inspection page");
    d.click_css("#issue-rectification_order")
        .await
        .expect("issue");
    let number = d.wait_for("#doc-number", 10).await.expect("issued");
    let number = d.text(&number).await.expect("number");
    assert!(number.contains("〔001〕"), "{number}");
    let doc = d.text_of("#document").await.expect("document");
    for n in team.iter() {
        assert!(doc.contains(n), "{n} in {doc}");
    }
    assert!(doc.contains("零售点内存放打火机等其他易燃物品"), "{doc}");
    d.wait_until(
        "const i = document.querySelector('#document img'); return !!i && i.complete && i.naturalWidth > 0;",
        10,
    )
    .await
    .expect("the photo shown in the document");
    d.screenshot("06-rectification-order").await.expect("shot");
    let pdf = d.print_pdf("07-rectification-order").await.expect("print");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    assert!(
        pdf.len() > 10_000,
        "a printed page with its photo: {} bytes",
        pdf.len()
    );
    d.quit().await;
    app.stop().await;
}

//! The enforcement file on both backends: documents (执法文书) numbered
//! without gaps when eight sessions issue at once; an issued document
//! unchanged after the records it was drawn from change, and a correction
//! issued under a new number marking the old superseded; a checklist's
//! major item making its finding major and another kind's item refused;
//! a 首违不罚 refused without its 免罚清单 entry and a disposition kept with
//! who decided and when (a 责令整改 issuing its 指令书); a major finding put
//! under supervision (挂牌督办) and its responsible person reminded once a
//! week until it is closed out.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Asia::Shanghai;
use common::{Backend, TestApp, square};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Shanghai).date_naive()
}

fn d(n: i64) -> String {
    (today() + chrono::Duration::days(n)).to_string()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

async fn site(app: &TestApp, kind: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "E01", "name": "东坑村", "boundary": square(118.0, 25.2, 0.01), "population": 900}),
        )
        .await;
    assert!(
        s == StatusCode::CREATED
            || s == StatusCode::CONFLICT
            || s == StatusCode::UNPROCESSABLE_ENTITY,
        "{v}"
    );
    let (s, v) = app
        .post(
            "/api/v1/sites",
            json!({
                "name": format!("东坑{kind}"), "kind": kind, "risk_grade": "general",
                "location": {"lon": 118.005, "lat": 25.205},
                "address": "东坑村 12 号",
                "safety_officer": "王五", "safety_officer_phone": "139 0000 1111",
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    id(&v)
}

/// The two registered inspectors every inspection here names (registered
/// on first use).
async fn team(app: &TestApp) -> Vec<i64> {
    let (s, list) = app.get("/api/v1/inspectors").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let mut ids: Vec<i64> = list["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default();
    for (name, cert) in [("李四", "35050001"), ("周七", "35050002")]
        .iter()
        .skip(ids.len())
    {
        let (s, v) = app
            .post(
                "/api/v1/inspectors",
                json!({"name": name, "certificate_no": cert, "unit": "镇安监站",
                       "valid_from": "2020-01-01", "valid_until": "2099-12-31"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(id(&v));
    }
    ids
}

/// Records an inspection of a site with these findings.
async fn inspect(app: &TestApp, site: i64, findings: Value) -> (StatusCode, Value) {
    let inspectors = team(app).await;
    app.post(
        &format!("/api/v1/sites/{site}/inspections"),
        json!({"inspected_on": d(-10), "inspector_ids": inspectors,
               "summary": "现场检查储存区", "findings": findings}),
    )
    .await
}

fn seq_of(number: &str) -> i64 {
    let tail = number.rsplit('〔').next().expect("number");
    tail.trim_end_matches("〕号").parse().expect("seq")
}

async fn documents_numbered_without_gaps(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let sid = site(&app, "hazchem_storage").await;
    let (s, insp) = inspect(
        &app,
        sid,
        json!([{"grade": "general", "item": "灭火器失效", "deadline": d(5), "checklist_item": "GN-04"}]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let iid = id(&insp);

    // Eight sessions issue at once.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}/api/v1/inspections/{iid}/documents", app.base),
            app.admin.clone(),
        );
        set.spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"kind": "inspection_record"}))
                .send()
                .await
                .expect("send");
            let status = r.status();
            (status, r.json::<Value>().await.expect("json"))
        });
    }
    let mut seqs = Vec::new();
    let year = today().year();
    while let Some(r) = set.join_next().await {
        let (status, v) = r.expect("task");
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let number = v["number"].as_str().expect("number");
        assert!(
            number.starts_with(&format!("〔{year}〕")) && number.contains("应急检记〔"),
            "{number}"
        );
        assert_eq!(v["content"]["number"].as_str(), Some(number));
        seqs.push(seq_of(number));
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=8).collect::<Vec<_>>(),
        "distinct, consecutive, no gap"
    );

    // Another kind is its own series.
    let (s, v) = app
        .post(
            &format!("/api/v1/inspections/{iid}/documents"),
            json!({"kind": "rectification_order"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        v["number"]
            .as_str()
            .expect("n")
            .ends_with("应急责改〔001〕号"),
        "{v}"
    );
    // Nothing rectified yet: no re-inspection opinion.
    let (s, v) = app
        .post(
            &format!("/api/v1/inspections/{iid}/documents"),
            json!({"kind": "reinspection_opinion"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")),
        "{v}"
    );
    let (_, list) = app
        .get(&format!("/api/v1/inspections/{iid}/documents"))
        .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(9));
    let (_, all) = app.get("/api/v1/documents?per_page=5").await;
    assert_eq!(all["total"].as_i64(), Some(9), "{all}");
    app.stop().await;
}
both!(documents_numbered_without_gaps);

async fn issued_documents_are_kept_as_issued(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let sid = site(&app, "hazchem_storage").await;
    let (s, insp) = inspect(
        &app,
        sid,
        json!([{"grade": "general", "item": "危化品混放", "measures": "分区分类储存", "responsible": "王五",
                "deadline": d(5), "checklist_item": "HC-20"}]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let iid = id(&insp);
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let (s, doc) = app
        .post(
            &format!("/api/v1/inspections/{iid}/documents"),
            json!({"kind": "rectification_order"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{doc}");
    let did = id(&doc);
    let c = &doc["content"];
    assert_eq!(c["site"]["name"].as_str(), Some("东坑hazchem_storage"));
    assert_eq!(c["inspectors"][0].as_str(), Some("李四（35050001）"));
    assert_eq!(c["findings"][0]["deadline"].as_str(), Some(d(5).as_str()));
    assert_eq!(
        c["findings"][0]["checklist_item"]["code"].as_str(),
        Some("HC-20")
    );
    assert_eq!(
        c["findings"][0]["checklist_item"]["major"].as_bool(),
        Some(true)
    );
    let (_, before) = app.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(before, doc);

    // The records change: the finding is rectified, the inspection's text
    // and the finding's item edited.
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{fid}/rectify"),
            json!({"version": 1, "rectified_on": d(-2), "note": "已分区存放"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let pool = &app.db().pool;
    sqlx::query("UPDATE inspections SET summary = '改过的检查情况' WHERE id = $1")
        .bind(iid)
        .execute(pool)
        .await
        .expect("edit");
    sqlx::query("UPDATE findings SET item = '改过的隐患' WHERE id = $1")
        .bind(fid)
        .execute(pool)
        .await
        .expect("edit");
    let (_, after) = app.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(after, before, "an issued document does not change");

    // A correction: a new number, from the records as they are now.
    let (s, new) = app
        .post(
            &format!("/api/v1/documents/{did}/corrections"),
            json!({"reason": "隐患描述有误"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{new}");
    assert!(
        new["number"]
            .as_str()
            .expect("n")
            .ends_with("应急责改〔002〕号"),
        "{new}"
    );
    assert_eq!(new["supersedes"].as_i64(), Some(did));
    assert_eq!(
        new["content"]["findings"][0]["item"].as_str(),
        Some("改过的隐患")
    );
    assert_eq!(new["content"]["corrects"], before["number"]);
    let (_, old) = app.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(old["superseded_by"].as_i64(), Some(id(&new)));
    assert_eq!(
        old["content"], before["content"],
        "the content stays as issued"
    );
    let (s, v) = app
        .post(&format!("/api/v1/documents/{did}/corrections"), json!({}))
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a superseded document is not corrected again: {v}"
    );

    // Rectified: the re-inspection opinion names the order in force.
    let (s, v) = app
        .post(
            &format!("/api/v1/inspections/{iid}/documents"),
            json!({"kind": "reinspection_opinion"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["content"]["order_number"], new["number"]);
    assert_eq!(
        v["content"]["findings"][0]["rectified_on"].as_str(),
        Some(d(-2).as_str())
    );
    app.stop().await;
}
both!(issued_documents_are_kept_as_issued);

async fn checklist_items_grade_findings(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app.get("/api/v1/checklists?kind=hazchem_storage").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"][0]["items"].as_array().expect("items");
    let hc20 = items.iter().find(|i| i["code"] == "HC-20").expect("HC-20");
    assert_eq!(hc20["major"].as_bool(), Some(true));
    assert!(
        hc20["source"]
            .as_str()
            .expect("source")
            .contains("安监总管三〔2017〕121号")
    );
    assert!(
        items
            .iter()
            .any(|i| i["code"] == "GN-04" && i["major"] == false)
    );
    let (s, v) = app.get("/api/v1/checklists?kind=spaceport").await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
    );

    let sid = site(&app, "fireworks_retail").await;
    // A major item makes the finding major, whatever grade was sent.
    let (s, insp) = inspect(
        &app,
        sid,
        json!([
            {"grade": "general", "item": "店铺后间住人", "deadline": d(3), "checklist_item": "FW-16"},
            {"grade": "general", "item": "灭火器过期", "deadline": d(3), "checklist_item": "GN-04"}
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    assert_eq!(insp["findings"][0]["grade"].as_str(), Some("major"));
    assert_eq!(
        insp["findings"][0]["checklist_item"].as_str(),
        Some("FW-16")
    );
    assert_eq!(insp["findings"][1]["grade"].as_str(), Some("general"));
    // An item of another kind's list is refused, naming the field; nothing stored.
    let (s, v) = inspect(
        &app,
        sid,
        json!([
            {"grade": "general", "item": "超量储存", "deadline": d(3)},
            {"grade": "general", "item": "混放", "deadline": d(3), "checklist_item": "HC-20"}
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["error"]["field"].as_str(),
        Some("findings[1].checklist_item")
    );
    let (_, list) = app.get(&format!("/api/v1/sites/{sid}/inspections")).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}
both!(checklist_items_grade_findings);

async fn dispositions_are_recorded(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let sid = site(&app, "hazchem_trade_with_storage").await;
    let (s, insp) = inspect(
        &app,
        sid,
        json!([{"grade": "general", "item": "灭火器压力不足", "deadline": d(5), "checklist_item": "GN-04"}]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let path = format!("/api/v1/findings/{fid}/dispositions");
    let (s, v) = app
        .post(
            &path,
            json!({"kind": "first_offence_exempt", "decided_on": d(-9), "decided_by": "林海（应急办主任）"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"].as_str(), Some("exemption_item"));
    let (s, v) = app
        .post(
            &path,
            json!({"kind": "first_offence_exempt", "decided_on": d(-9), "decided_by": "林海（应急办主任）",
                   "exemption_item": "免罚清单第 3 项：未按规定配备消防器材，首次发现且及时改正"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["decided_by"].as_str(), Some("林海（应急办主任）"));
    assert_eq!(v["decided_on"].as_str(), Some(d(-9).as_str()));
    assert!(
        v["recorded_by"]
            .as_str()
            .expect("recorded_by")
            .contains("test-admin"),
        "{v}"
    );
    assert!(
        v["exemption_item"]
            .as_str()
            .expect("item")
            .starts_with("免罚清单第 3 项")
    );
    let (s, v) = app
        .post(
            &path,
            json!({"kind": "warning", "decided_on": d(1), "decided_by": "林海"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("decided_on"))
    );
    // 责令整改 issues its order for the finding.
    let (s, order) = app
        .post(
            &path,
            json!({"kind": "order_rectification", "decided_on": d(-8), "decided_by": "陈建国（副乡长）"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let doc = order["document_id"].as_i64().expect("document");
    assert!(
        order["document_number"]
            .as_str()
            .expect("n")
            .ends_with("应急责改〔001〕号")
    );
    let (_, dv) = app.get(&format!("/api/v1/documents/{doc}")).await;
    assert_eq!(dv["finding_id"].as_i64(), Some(fid));
    assert_eq!(dv["content"]["findings"].as_array().map(Vec::len), Some(1));
    let (s, v) = app
        .post(
            &path,
            json!({"kind": "referral", "decided_on": d(-7), "decided_by": "陈建国"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["referred_to"].as_str(), Some("县应急管理局"));
    let (_, list) = app.get(&path).await;
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["first_offence_exempt", "order_rectification", "referral"]
    );
    app.stop().await;
}
both!(dispositions_are_recorded);

fn at(day: NaiveDate, h: u32) -> i64 {
    Shanghai
        .from_local_datetime(&day.and_hms_opt(h, 0, 0).expect("time"))
        .single()
        .expect("local")
        .timestamp_millis()
}

async fn reminders(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM alerts WHERE title = '挂牌督办隐患整改提醒'",
    )
    .fetch_one(&app.db().pool)
    .await
    .expect("count")
    .0
}

async fn major_findings_are_supervised(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "王五", "roles": ["企业安全员"], "phone": "139 0000 1111"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let sid = site(&app, "fireworks_retail").await;
    let (s, insp) = inspect(
        &app,
        sid,
        json!([
            {"grade": "major", "item": "住店合一", "responsible": "王五", "deadline": d(7)},
            {"grade": "general", "item": "标识缺失", "deadline": d(7)}
        ]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{insp}");
    let fid = insp["findings"][0]["id"].as_i64().expect("finding");
    let (_, list) = app.get("/api/v1/supervisions").await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "only the major finding: {list}");
    assert_eq!(items[0]["finding_id"].as_i64(), Some(fid));
    assert_eq!(items[0]["status"].as_str(), Some("open"));
    assert_eq!(items[0]["deadline"].as_str(), Some(d(7).as_str()));
    assert_eq!(items[0]["contact_id"].as_i64(), Some(id(&c)));
    let (_, wl) = app.get("/api/v1/worklist").await;
    assert_eq!(
        wl["under_supervision"][0]["finding_id"].as_i64(),
        Some(fid),
        "{wl}"
    );

    // Once a week, from the reminder hour, whoever ticks and however often.
    let n = app.notifier();
    let monday = NaiveDate::from_ymd_opt(2026, 12, 7).expect("day");
    let tick = |t: i64| {
        let n = n.clone();
        async move {
            fenghuo::enforcement::supervision::tick(&n, t)
                .await
                .expect("tick")
        }
    };
    assert_eq!(tick(at(monday, 8)).await, 0, "before the hour");
    assert_eq!(tick(at(monday, 10)).await, 1);
    assert_eq!(tick(at(monday, 10)).await, 0, "the same week again");
    assert_eq!(tick(at(monday + chrono::Duration::days(3), 15)).await, 0);
    assert_eq!(reminders(&app).await, 1);
    assert_eq!(
        tick(at(monday + chrono::Duration::days(7), 9)).await,
        1,
        "the next week"
    );
    assert_eq!(reminders(&app).await, 2);
    let (_, list) = app.get("/api/v1/supervisions").await;
    assert_eq!(list["items"][0]["reminders"].as_i64(), Some(2), "{list}");

    // Closed out: supervision ends, no more reminders.
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{fid}/rectify"),
            json!({"version": 1, "rectified_on": d(-3)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            &format!("/api/v1/findings/{fid}/close"),
            json!({"version": 2, "closed_on": d(-1), "closed_by": "李四"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, open) = app.get("/api/v1/supervisions").await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0));
    let (_, all) = app.get("/api/v1/supervisions?all=true").await;
    assert_eq!(all["items"][0]["status"].as_str(), Some("closed"));
    assert_eq!(all["items"][0]["closed_on"].as_str(), Some(d(-1).as_str()));
    assert_eq!(tick(at(monday + chrono::Duration::days(14), 10)).await, 0);
    assert_eq!(reminders(&app).await, 2);
    app.stop().await;
}
both!(major_findings_are_supervised);

/// The sample township's enforcement file on the dashboard: the printable
/// checklist, the documents as issued, the supervision list and the
/// overview's count, the inspection form's checklist select.
async fn dashboard_pages(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    assert!(fenghuo::demo::load(app.db(), Shanghai).await.expect("demo"));
    fenghuo::accounts::users::create(
        app.db(),
        "test",
        "wang",
        fenghuo::auth::Role::Admin,
        "correct-horse-9",
    )
    .await
    .expect("user");
    let web = web_client::Web::new(&app.base);
    web.sign_in("wang", "correct-horse-9").await;
    let r = web.get("/checklists/hazchem_storage").await;
    assert_eq!(r.status, StatusCode::OK);
    for text in ["HC-20", "安监总管三〔2017〕121号", "id=\"signatures\""] {
        assert!(r.body.contains(text), "{text}: {}", r.body);
    }
    assert_eq!(
        web.get("/checklists/spaceport").await.status,
        StatusCode::NOT_FOUND
    );
    let r = web.get("/documents").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("应急检记〔001〕号"), "{}", r.body);
    let (_, docs) = app.get("/api/v1/documents?per_page=100").await;
    for d in docs["items"].as_array().expect("items") {
        let r = web.get(&format!("/documents/{}", id(d))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains(d["number"].as_str().expect("number")));
        // The sample photos (an inspection's and its finding's) are listed
        // in that inspection's documents; the others have none.
        let iid = d["inspection_id"].as_i64().expect("inspection");
        let (_, photos) = app.get(&format!("/api/v1/inspections/{iid}/photos")).await;
        match photos["items"].as_array().and_then(|a| a.first()) {
            Some(p) => assert!(
                r.body.contains(&format!("src=\"/photos/{}\"", id(p))),
                "{}",
                r.body
            ),
            None => assert!(r.body.contains("id=\"no-photos\""), "{}", r.body),
        }
    }
    let (_, sup) = app.get("/api/v1/supervisions").await;
    let open = sup["items"].as_array().expect("items").len();
    assert!(
        open > 0,
        "the sample's major findings are under supervision"
    );
    let r = web.get("/supervision").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("示例"), "{}", r.body);
    let r = web.get("/").await;
    assert!(
        r.body
            .contains(&format!("<b id=\"count-supervision\">{open}</b>")),
        "{}",
        r.body
    );
    let finding = sup["items"][0]["finding_id"].as_i64().expect("finding");
    let r = web.get(&format!("/findings/{finding}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"supervision\""), "{}", r.body);
    assert!(r.body.contains("责令整改") || r.body.contains("disposition-form"));
    let site = sup["items"][0]["site_id"].as_i64().expect("site");
    let r = web.get(&format!("/sites/{site}/inspections/new")).await;
    assert!(r.body.contains("class=\"checklist\""), "{}", r.body);
    app.stop().await;
}
both!(dashboard_pages);

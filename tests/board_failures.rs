//! A delivery that failed shows on the alert's board beside the person, with
//! its channel and the provider's reason: in GET /api/v1/alerts/{id} and on
//! the dashboard page /alerts/{id}.

mod common;
#[path = "support/sms_provider_sim.rs"]
mod sms_provider_sim;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sms_provider_sim::{Creds, Kind};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";
/// What the provider answers for the dead number: markup and an ampersand,
/// so the page must escape it.
const REASON: &str = "号码已停机 <b>空号</b> & 欠费";

fn settled(v: &Value) -> bool {
    let s = &v["delivery_states"];
    s["total"].as_i64().unwrap_or(0) > 0 && s["queued"] == 0 && s["sending"] == 0
}

async fn a_failed_delivery_shows_on_the_board(b: Backend) {
    let sim = sms_provider_sim::start(Kind::Webhook, Creds::new("", "hook-secret")).await;
    let Some(app) = TestApp::start_with(b, |c| sim.configure(&mut c.sms)).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "Y1", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    for (i, name) in ["林支书", "陈主任", "吴网格"].iter().enumerate() {
        let (s, c) = app
            .post("/api/v1/contacts", json!({"name": name, "roles": ["网格员"], "village_id": vid,
                                              "phone": format!("1380013000{i}"), "escalation_order": i + 1}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    // The provider refuses 陈主任's number for good.
    sim.fail_number("+8613800130001", 400, REASON);
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请立即转移。", "level": 2,
                                       "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let board = app.wait_alert(id, 20, settled).await;
    assert_eq!(board["delivery_states"]["failed"], 1, "{board}");

    let people = board["villages"][0]["not_answered"]
        .as_array()
        .expect("not answered");
    assert_eq!(people.len(), 3, "{board}");
    for p in people {
        let failed = p["failed_deliveries"]
            .as_array()
            .expect("failed_deliveries");
        if p["name"] == "陈主任" {
            assert_eq!(failed.len(), 1, "{p}");
            assert_eq!(failed[0]["channel"], "sms", "{p}");
            assert_eq!(failed[0]["purpose"], "notice", "{p}");
            let error = failed[0]["error"].as_str().expect("error");
            assert!(
                error.contains("400") && error.contains(REASON),
                "the reason as recorded: {p}"
            );
            // The same text as the delivery list has.
            let (_, d) = app.get(&format!("/api/v1/alerts/{id}/deliveries")).await;
            let listed = d["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|i| i["id"] == failed[0]["delivery_id"])
                .expect("the failed delivery is listed");
            assert_eq!(listed["last_error"].as_str(), Some(error), "{listed}");
        } else {
            assert!(failed.is_empty(), "{p}");
        }
    }

    // The dashboard's board shows it beside 陈主任, escaped.
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let page = web.get(&format!("/alerts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let escaped = "号码已停机 &lt;b&gt;空号&lt;/b&gt; &amp; 欠费";
    let at = page.body.find("陈主任").expect("陈主任 on the board");
    let row = &page.body[at..];
    let row = &row[..row.find("<li class=\"person").unwrap_or(row.len())];
    assert!(
        row.contains("短信发送失败：") && row.contains(escaped),
        "the reason beside 陈主任: {row}"
    );
    assert!(
        !page.body.contains("<b>空号</b>"),
        "unescaped: {}",
        page.body
    );
    for other in ["林支书", "吴网格"] {
        let at = page.body.find(other).expect("on the board");
        let row = &page.body[at..];
        let row = &row[..row.find("<li class=\"person").unwrap_or(row.len())];
        assert!(!row.contains("发送失败"), "{other}: {row}");
    }
    // In English on request.
    let page = web.get(&format!("/alerts/{id}?lang=en")).await;
    assert!(
        page.body.contains("SMS not delivered: ") && page.body.contains(escaped),
        "{}",
        page.body
    );
    app.stop().await;
}
both!(a_failed_delivery_shows_on_the_board);

//! Message templates (通知模板库) on both backends: added, listed, changed
//! with a version (a stale one is a 409), archived; an unknown 〔…〕 or
//! `{…}` refused naming the field; names unique per township; another
//! township sees none of them and a village user cannot change them; the
//! compose page filled from `?template=ID`; and a notice sent from a
//! template reaches each person with their own name where it said 〔姓名〕.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use fenghuo::store::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

async fn village(app: &TestApp, code: &str, name: &str, lon: f64) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": name, "boundary": square(lon, 25.2, 0.02)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("village id")
}

fn transfer_notice() -> Value {
    json!({
        "name": "台风来临前转移通知",
        "category": "防汛防台",
        "title": "〔等级〕台风转移通知",
        "body": "〔姓名〕：〔村〕请立即组织危险区群众转移，〔截止时间〕前回复。闽应急〔2025〕3号",
        "channels": ["sms"]
    })
}

async fn templates_are_a_versioned_register(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, t) = app
        .post("/api/v1/message-templates", transfer_notice())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let id = t["id"].as_i64().expect("id");
    assert_eq!(t["category"], "flood");
    assert_eq!(t["category_label"], "防汛防台");
    assert_eq!(t["version"], 1);
    // Shown as written; kept and offered to the API as a notice template.
    assert_eq!(
        t["body"],
        "〔姓名〕：〔村〕请立即组织危险区群众转移，〔截止时间〕前回复。闽应急〔2025〕3号"
    );
    assert_eq!(
        t["notice_body"],
        "{name}：{village}请立即组织危险区群众转移，{deadline}前回复。闽应急〔2025〕3号"
    );
    assert_eq!(t["notice_title"], "{level}台风转移通知");
    assert_eq!(
        t["variables"],
        json!(["〔等级〕", "〔姓名〕", "〔村〕", "〔截止时间〕"])
    );

    // A second template in another category; the list is by category.
    let (s, v) = app
        .post(
            "/api/v1/message-templates",
            json!({"name": "森林防火戒严期提醒", "category": "forest_fire", "title": "森林防火戒严期提醒",
                   "body": "{name}：严禁野外用火。", "channels": ["sms", "email"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["body"], "〔姓名〕：严禁野外用火。", "{v}");
    let (s, list) = app.get("/api/v1/message-templates").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(list["items"][0]["name"], "台风来临前转移通知");
    assert_eq!(list["items"][1]["channels"], json!(["email", "sms"]));
    let (_, fire) = app
        .get("/api/v1/message-templates?category=forest_fire")
        .await;
    assert_eq!(fire["total"], 1, "{fire}");

    // Changed with the version seen; a stale version is a conflict.
    let mut edit = transfer_notice();
    edit["body"] = json!("〔姓名〕：〔村〕请立即转移到〔单位〕指定的避灾点。");
    edit["version"] = json!(1);
    let (s, v) = app
        .put(&format!("/api/v1/message-templates/{id}"), edit.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(
        v["variables"],
        json!(["〔等级〕", "〔姓名〕", "〔村〕", "〔单位〕"])
    );
    edit["title"] = json!("别人的改动");
    let (s, v) = app
        .put(&format!("/api/v1/message-templates/{id}"), edit.clone())
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, now) = app.get(&format!("/api/v1/message-templates/{id}")).await;
    assert_eq!(
        now["title"], "〔等级〕台风转移通知",
        "the stale edit wrote nothing"
    );

    // An unknown 〔…〕 or {…}: 422 naming the field and the known forms.
    let mut bad = transfer_notice();
    bad["name"] = json!("新模板");
    bad["body"] = json!("〔名字〕：请转移。");
    let (s, v) = app.post("/api/v1/message-templates", bad.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "body", "{v}");
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(
        msg.contains("〔名字〕") && msg.contains("〔姓名〕") && msg.contains("〔单位〕"),
        "{msg}"
    );
    bad["body"] = json!("请转移。");
    bad["title"] = json!("{villag}转移");
    let (s, v) = app.post("/api/v1/message-templates", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "title", "{v}");

    // A name is the township's once.
    let (s, v) = app
        .post("/api/v1/message-templates", transfer_notice())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "name", "{v}");

    // Every change audited.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE entity = 'message_template' AND entity_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db().pool)
    .await
    .expect("audit");
    assert_eq!(n, 2, "create and update audited");

    // Another township sees none of them and cannot change them.
    sqlx::query(
        "INSERT INTO townships (code, name, county_code, kind, created_at, updated_at) \
         VALUES ('350524209000', '西坪镇', '350524', 'township', 0, 0)",
    )
    .execute(&app.db().pool)
    .await
    .expect("township 2");
    let t2: i64 = sqlx::query_scalar("SELECT id FROM townships WHERE code = '350524209000'")
        .fetch_one(&app.db().pool)
        .await
        .expect("id");
    let (_, t2_admin) = fenghuo::auth::create_scoped_token(
        app.db(),
        "t2",
        Role::Admin,
        true,
        &Scope::township(t2),
        t2,
    )
    .await
    .expect("token");
    let (s, theirs) = app
        .send_as(&t2_admin, "GET", "/api/v1/message-templates", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["total"], 0, "{theirs}");
    let path = format!("/api/v1/message-templates/{id}");
    let (s, _) = app.send_as(&t2_admin, "GET", &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let mut take = transfer_notice();
    take["version"] = json!(2);
    let (s, _) = app.send_as(&t2_admin, "PUT", &path, Some(take)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.send_as(&t2_admin, "DELETE", &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Township 2 may use the same name for its own.
    let (s, v) = app
        .send_as(
            &t2_admin,
            "POST",
            "/api/v1/message-templates",
            Some(transfer_notice()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["township_id"], t2);
    let (_, mine) = app.get("/api/v1/message-templates").await;
    assert_eq!(
        mine["total"], 2,
        "township 1's own, not township 2's: {mine}"
    );

    // A village's user reads the township's templates, and changes none.
    let v1 = village(&app, "A1", "东坑村", 118.0).await;
    let (_, village_tok) = fenghuo::auth::create_scoped_token(
        app.db(),
        "东坑村",
        Role::Admin,
        false,
        &Scope::Village {
            township: 1,
            village: v1,
        },
        1,
    )
    .await
    .expect("token");
    let (_, seen) = app
        .send_as(&village_tok, "GET", "/api/v1/message-templates", None)
        .await;
    assert_eq!(seen["total"], 2, "{seen}");
    let mut other = transfer_notice();
    other["name"] = json!("村里自拟");
    let (s, v) = app
        .send_as(
            &village_tok,
            "POST",
            "/api/v1/message-templates",
            Some(other),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = app
        .send_as(&village_tok, "DELETE", &format!("{path}?version=2"), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Archived: out of the list, kept, its name free again.
    let (s, v) = app.send("DELETE", &format!("{path}?version=1"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app.send("DELETE", &format!("{path}?version=2"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["archived"], true);
    let (_, left) = app.get("/api/v1/message-templates").await;
    assert_eq!(left["total"], 1, "{left}");
    let (_, all) = app
        .get("/api/v1/message-templates?include_archived=1")
        .await;
    assert_eq!(all["total"], 2, "{all}");
    let (s, v) = app
        .post("/api/v1/message-templates", transfer_notice())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.stop().await;
}
both!(templates_are_a_versioned_register);

async fn a_notice_from_a_template_names_each_person(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let east = village(&app, "A1", "东坑村", 118.0).await;
    let west = village(&app, "B1", "西坑村", 118.1).await;
    let people = [
        ("林水福", east, "13800130001"),
        ("陈金兰", east, "13800130002"),
        ("黄明华", west, "13800130003"),
    ];
    for (name, v, phone) in people {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "roles": ["网格员"], "village_id": v, "phone": phone}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let (s, t) = app
        .post("/api/v1/message-templates", transfer_notice())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let id = t["id"].as_i64().expect("id");

    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;

    // The templates page lists it with its variables in words.
    let page = web.get("/message-templates").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("台风来临前转移通知")
            && page.body.contains("〔等级〕 〔姓名〕 〔村〕 〔截止时间〕"),
        "{}",
        page.body
    );
    // The picker on the compose page, and the form filled without JS.
    let page = web.get("/alerts/new").await;
    assert!(
        page.body.contains("id=\"f-template\"")
            && page.body.contains(&format!(
                "<option value=\"{id}\" data-title=\"〔等级〕台风转移通知\""
            )),
        "{}",
        page.body
    );
    let page = web.get(&format!("/alerts/new?template={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("value=\"〔等级〕台风转移通知\""),
        "title filled: {}",
        page.body
    );
    assert!(
        page.body.contains(
            ">〔姓名〕：〔村〕请立即组织危险区群众转移，〔截止时间〕前回复。闽应急〔2025〕3号</textarea>"
        ),
        "body filled: {}",
        page.body
    );
    let missing = web.get("/alerts/new?template=999999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // An unknown 〔…〕 typed on the compose page is refused beside the body.
    let csrf = page.csrf();
    let r = web
        .post(
            "/alerts/new",
            &[
                ("_csrf", &csrf),
                ("title", "转移通知"),
                ("body", "〔名字〕请转移"),
                ("channels", "sms"),
                ("villages", "all"),
                ("ack_within_minutes", "30"),
                ("exercise", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("id=\"err-body\"") && r.body.contains("〔名字〕"),
        "{}",
        r.body
    );

    // Sent as the form was filled: everyone gets their own name and village.
    let body = "〔姓名〕：〔村〕请立即组织危险区群众转移，〔截止时间〕前回复。闽应急〔2025〕3号";
    let r = web
        .post(
            "/alerts/send",
            &[
                ("_csrf", &csrf),
                ("title", "〔等级〕台风转移通知"),
                ("body", body),
                ("level", "3"),
                ("channels", "sms"),
                ("villages", "all"),
                ("ack_within_minutes", "30"),
                ("exercise", "1"),
                ("idempotency_key", "web:template-test"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let alert: i64 = r
        .location()
        .trim_start_matches("/alerts/")
        .parse()
        .expect("alert id");
    app.wait_alert(alert, 20, |v| {
        let s = &v["delivery_states"];
        s["total"].as_i64().unwrap_or(0) == 3 && s["sent"] == s["total"]
    })
    .await;
    let (_, stored) = app.get(&format!("/api/v1/alerts/{alert}")).await;
    let dir = app.cfg.data_dir.join("outbox");
    let sms: Vec<String> = std::fs::read_dir(&dir)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|f| std::fs::read_to_string(f.path()).expect("read"))
        .filter(|c| c.contains("Channel: SMS"))
        .collect();
    assert_eq!(sms.len(), 3, "{stored}");
    for (name, v, _) in people {
        let place = if v == east { "东坑村" } else { "西坑村" };
        let mine = sms
            .iter()
            .find(|c| c.contains(&format!("{name}：{place}请立即组织危险区群众转移")))
            .unwrap_or_else(|| panic!("no SMS naming {name} of {place}: {sms:?}"));
        assert!(
            !mine.contains('〔') || mine.contains("〔2025〕"),
            "no variable left unfilled: {mine}"
        );
        assert!(
            !mine.contains("{name}") && !mine.contains("〔姓名〕"),
            "{mine}"
        );
        assert!(mine.contains("Ⅲ级（黄色）台风转移通知"), "{mine}");
    }
    app.stop().await;
}
both!(a_notice_from_a_template_names_each_person);

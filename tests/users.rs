//! Managing dashboard users from the dashboard, as an admin and as each user:
//! disabling and enabling, a password reset shown once, changing one's own
//! password and name, the last sign-in; and the printed sheets (worklist,
//! 叫应 chain, drill and inspection records) on A4 with the person to call
//! and the lines to sign.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::accounts::users::{self, UserError};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";
const LI_PASSWORD: &str = "li-first-pass-1";

/// Signs in and returns the status: 303 on success, 401 on a wrong password.
async fn try_sign_in(app: &TestApp, name: &str, password: &str) -> StatusCode {
    let web = Web::new(&app.base);
    let page = web.get("/login").await;
    web.post(
        "/login",
        &[
            ("_csrf", &page.csrf()),
            ("name", name),
            ("password", password),
            ("next", "/"),
        ],
    )
    .await
    .status
}

/// Whether a client's session still opens the overview.
async fn signed_in(web: &Web) -> bool {
    let r = web.get("/").await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert!(r.location().starts_with("/login"), "{}", r.location());
            false
        }
        s => panic!("unexpected {s}: {}", r.body),
    }
}

/// The row of the users table for one user.
fn user_row<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page
        .find(&format!("data-user=\"{name}\""))
        .unwrap_or_else(|| panic!("no row for {name}:\n{page}"));
    let end = page[start..]
        .find("</tr>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let (s, v) = app.get("/api/v1/audit?entity=user&per_page=200").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

async fn an_admin_manages_users(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    users::create(app.db(), "test", "wang", Role::Admin, PASSWORD)
        .await
        .expect("admin");
    let admin = Web::new(&app.base);
    admin.sign_in("wang", PASSWORD).await;

    // Added through the form, with a full name.
    let page = admin.get("/users").await;
    let r = admin
        .post(
            "/users",
            &[
                ("_csrf", &page.csrf()),
                ("name", "li"),
                ("full_name", "李明"),
                ("role", "editor"),
                ("password", LI_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let row = user_row(&r.body, "li");
    assert!(row.contains("李明"), "{row}");
    assert!(
        row.contains("从未登录"),
        "not yet signed in shows as never: {row}"
    );

    let li = Web::new(&app.base);
    li.sign_in("li", LI_PASSWORD).await;
    assert!(signed_in(&li).await);
    let page = admin.get("/users").await;
    let row = user_row(&page.body, "li");
    assert!(
        !row.contains("从未登录") && row.contains(&chrono::Utc::now().format("%Y").to_string()),
        "the last sign-in is shown: {row}"
    );

    // Disabled: signed out at once and refused at sign-in.
    let r = admin
        .post(
            "/users/disable",
            &[("_csrf", &page.csrf()), ("name", "li"), ("disabled", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(user_row(&r.body, "li").contains("已停用"), "{}", r.body);
    assert!(!signed_in(&li).await, "a disabled user's session ends");
    assert_eq!(
        try_sign_in(&app, "li", LI_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );

    // An admin cannot disable themself; nothing changes.
    let r = admin
        .post(
            "/users/disable",
            &[("_csrf", &page.csrf()), ("name", "wang"), ("disabled", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("不能停用自己"), "{}", r.body);
    assert!(signed_in(&admin).await);
    // Nor can the last admin be disabled by anyone (here the command line).
    match users::set_disabled(app.db(), "cli", "wang", true).await {
        Err(UserError::Refused(fe)) => assert_eq!(fe.field, "name"),
        other => panic!("the last admin was not protected: {other:?}"),
    }
    assert_eq!(
        try_sign_in(&app, "wang", PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    // Enabled again: the old password works again.
    let r = admin
        .post(
            "/users/disable",
            &[("_csrf", &page.csrf()), ("name", "li"), ("disabled", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(user_row(&r.body, "li").contains("在用"), "{}", r.body);
    li.sign_in("li", LI_PASSWORD).await;

    // A reset: a new password shown this once; sessions end; the old one fails.
    let r = admin
        .post("/users/reset", &[("_csrf", &page.csrf()), ("name", "li")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let at = r.body.find("<code>").expect("the new password is shown") + 6;
    let new_password = r.body[at..]
        .split("</code>")
        .next()
        .expect("code")
        .to_string();
    assert_eq!(new_password.chars().count(), 16, "{new_password}");
    assert!(!signed_in(&li).await, "a reset ends the user's sessions");
    assert_eq!(
        try_sign_in(&app, "li", LI_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_sign_in(&app, "li", &new_password).await,
        StatusCode::SEE_OTHER
    );
    let later = admin.get("/users").await;
    assert!(
        !later.body.contains(&new_password),
        "the password is shown only once"
    );

    // Each change is in the audit log, by the admin who made it.
    let actions = audit_actions(&app).await;
    for want in ["create", "update", "disable", "enable", "reset_password"] {
        assert!(
            actions
                .iter()
                .any(|(a, who)| a == want && who == "web:wang"),
            "no {want} by web:wang in {actions:?}"
        );
    }

    // Bad requests: a named field for a bad form, 404 for nobody, nothing written.
    let before = users::list(app.db()).await.expect("list").len();
    for (form, field) in [
        (
            vec![
                ("name", "zhao"),
                ("role", "chief"),
                ("password", LI_PASSWORD),
            ],
            "role",
        ),
        (
            vec![
                ("name", "zhao zhao"),
                ("role", "viewer"),
                ("password", LI_PASSWORD),
            ],
            "name",
        ),
        (
            vec![("name", "zhao"), ("role", "viewer"), ("password", "short")],
            "password",
        ),
        (
            vec![
                ("name", "li"),
                ("role", "viewer"),
                ("password", LI_PASSWORD),
            ],
            "name",
        ),
    ] {
        let csrf = page.csrf();
        let mut f = vec![("_csrf", csrf.as_str())];
        f.extend(form);
        let r = admin.post("/users", &f).await;
        assert!(r.status.is_client_error(), "{field}: {}", r.status);
        assert!(
            r.body.contains(&format!("id=\"err-{field}\"")),
            "{field}: {}",
            r.body
        );
    }
    assert_eq!(users::list(app.db()).await.expect("list").len(), before);
    for path in ["/users/reset", "/users/disable"] {
        let r = admin
            .post(
                path,
                &[
                    ("_csrf", &page.csrf()),
                    ("name", "nobody"),
                    ("disabled", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Only an admin manages users.
    let r = li.get("/users").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "not signed in after the reset"
    );
    let li2 = Web::new(&app.base);
    li2.sign_in("li", &new_password).await;
    let r = li2.get("/users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = li2
        .post(
            "/users/reset",
            &[
                ("_csrf", &li2.get("/account").await.csrf()),
                ("name", "wang"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        try_sign_in(&app, "wang", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}
both!(an_admin_manages_users);

async fn a_user_changes_their_own_password_and_name(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    users::create(app.db(), "test", "li", Role::Viewer, LI_PASSWORD)
        .await
        .expect("user");
    let here = Web::new(&app.base);
    here.sign_in("li", LI_PASSWORD).await;
    let elsewhere = Web::new(&app.base);
    elsewhere.sign_in("li", LI_PASSWORD).await;

    let page = here.get("/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        let csrf = csrf.clone();
        let here = &here;
        async move {
            here.post(
                "/account/password",
                &[
                    ("_csrf", csrf.as_str()),
                    ("current", current),
                    ("password", new),
                    ("password2", again),
                ],
            )
            .await
        }
    };
    for (current, new, again, field, words) in [
        (
            "wrong-pass-123",
            "new-pass-2345",
            "new-pass-2345",
            "current",
            "当前密码不对",
        ),
        (
            LI_PASSWORD,
            "new-pass-2345",
            "new-pass-2346",
            "password2",
            "两次输入的新密码不一致",
        ),
        (LI_PASSWORD, "short", "short", "password", "至少 8 位"),
        (
            LI_PASSWORD,
            LI_PASSWORD,
            LI_PASSWORD,
            "password",
            "不能与当前密码相同",
        ),
    ] {
        let r = change(current, new, again).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.contains(&format!("id=\"err-{field}\"")) && r.body.contains(words),
            "{field}: {words}\n{}",
            r.body
        );
        assert!(
            !r.body.contains("wrong-pass-123") && !r.body.contains("new-pass-234"),
            "a password is never echoed"
        );
    }
    assert_eq!(
        try_sign_in(&app, "li", LI_PASSWORD).await,
        StatusCode::SEE_OTHER
    );

    let r = change(LI_PASSWORD, "new-pass-2345", "new-pass-2345").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("密码已修改"), "{}", r.body);
    assert!(signed_in(&here).await, "the session in use stays signed in");
    assert!(!signed_in(&elsewhere).await, "other sessions end");
    assert_eq!(
        try_sign_in(&app, "li", LI_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_sign_in(&app, "li", "new-pass-2345").await,
        StatusCode::SEE_OTHER
    );

    // The name a user signs printed sheets with.
    let r = here
        .post(
            "/account/name",
            &[("_csrf", &csrf), ("full_name", "  李明 ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("value=\"李明\""), "{}", r.body);
    let wl = here.get("/worklist").await;
    assert!(
        wl.body.contains("制表人：<span class=\"line\">李明</span>"),
        "{}",
        wl.body
    );
    // A name is text, never markup, wherever it is shown.
    let r = here
        .post(
            "/account/name",
            &[
                ("_csrf", &csrf),
                ("full_name", "李<script>alert(1)</script>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for page in ["/account", "/worklist", "/contacts/chain"] {
        let p = here.get(page).await;
        assert!(!p.body.contains("<script>alert"), "{page}: {}", p.body);
    }
    let wl = here.get("/worklist").await;
    assert!(
        wl.body.contains("李&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        wl.body
    );
    let long = "长".repeat(40);
    let r = here
        .post("/account/name", &[("_csrf", &csrf), ("full_name", &long)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"err-full_name\""), "{}", r.body);
    app.stop().await;
}
both!(a_user_changes_their_own_password_and_name);

/// The sample township's printed sheets: A4, the person and number to call,
/// dates kept whole, the signature lines.
async fn printed_sheets_carry_people_and_signatures(b: Backend) {
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
    users::create(app.db(), "test", "wang", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;

    // The print stylesheet (A4) is linked from every page, for print only.
    let wl = web.get("/worklist").await;
    assert_eq!(wl.status, StatusCode::OK);
    let at = wl
        .body
        .find("media=\"print\" href=\"")
        .expect("a print stylesheet")
        + 20;
    let href = wl.body[at..].split('"').next().expect("href").to_string();
    let css = web.get(&href).await;
    assert_eq!(css.status, StatusCode::OK, "{href}");
    assert!(css.body.contains("size: A4"), "{}", css.body);

    // Every worklist row names who to call and their number, as dialled.
    let (s, api) = app.get("/api/v1/worklist").await;
    assert_eq!(s, StatusCode::OK, "{api}");
    let rows: Vec<Value> = [
        "expiring_licences",
        "overdue_rectifications",
        "not_inspected",
        "over_stock",
    ]
    .iter()
    .flat_map(|k| api[*k].as_array().cloned().unwrap_or_default())
    .collect();
    assert!(!rows.is_empty(), "the sample ledger has work: {api}");
    let mut shown = 0;
    for r in &rows {
        if let Some(p) = r["site"]["phone"].as_str() {
            let dialled = fenghuo::phone::dialled(p);
            assert!(
                wl.body
                    .contains(&format!("<td class=\"nowrap\">{dialled}</td>")),
                "{dialled} for {}",
                r["site"]["name"]
            );
            shown += 1;
        }
    }
    assert!(shown > 0, "no row had a phone: {api}");
    assert!(wl.body.contains("<th>责任人</th><th>电话</th>"));
    assert!(wl.body.contains("制表人：<span class=\"line\">wang</span>"));
    assert!(wl.body.contains("审核人："));
    assert!(wl.body.contains("日期："));

    // Drill and inspection records print with the same lines.
    let (_, drills) = app.get("/api/v1/drills").await;
    let drill = drills["items"][0]["id"].as_i64().expect("a sample drill");
    let page = web.get(&format!("/drills/{drill}")).await;
    assert!(page.body.contains("id=\"print-drill\""), "{}", page.body);
    assert!(page.body.contains("id=\"signatures\""));
    let (_, sites) = app.get("/api/v1/sites?per_page=1").await;
    let site = sites["items"][0]["id"].as_i64().expect("a sample site");
    let page = web.get(&format!("/sites/{site}")).await;
    assert!(page.body.contains("id=\"print-site\""), "{}", page.body);
    assert!(page.body.contains("id=\"signatures\""));
    app.stop().await;
}
both!(printed_sheets_carry_people_and_signatures);

/// The 叫应 chain sheet lists each village's people in the order escalation
/// calls them, then the township duty officer.
async fn the_call_chain_prints_in_escalation_order(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "350524100201", "name": "溪口村", "boundary": square(118.0, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("id");
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "350524100202", "name": "湖上村", "boundary": square(118.1, 25.2, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for (name, order, phone, active) in [
        ("吴网格", 3, "139 5951 2468", true),
        ("林支书", 1, "138 0013 8000", true),
        ("陈主任", 2, "0595-2328 1234", true),
        ("郑离任", 0, "137 0000 0001", false),
    ] {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": name, "roles": ["网格员"], "village_id": vid, "phone": phone,
                       "escalation_order": order, "active": active}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": "黄值班", "roles": ["应急办值班"], "phone": "0595-2328 0000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    users::create(app.db(), "test", "wang", Role::Viewer, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    let r = web.get("/contacts/chain").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let section = r.body[r.body.find("id=\"chain-350524100201\"").expect("溪口村")..]
        .split("</section>")
        .next()
        .expect("section")
        .to_string();
    let pos = |s: &str| {
        section
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing:\n{section}"))
    };
    assert!(pos("林支书") < pos("陈主任") && pos("陈主任") < pos("吴网格"));
    assert!(
        !section.contains("郑离任"),
        "an inactive contact is not called"
    );
    assert!(section.contains("<a href=\"tel:+8613959512468\">139 5951 2468</a>"));
    assert!(section.contains("<a href=\"tel:+8659523281234\">0595-2328 1234</a>"));
    assert!(section.contains("黄值班 0595-2328 0000"), "{section}");
    let empty = r.body[r.body.find("id=\"chain-350524100202\"").expect("湖上村")..]
        .split("</section>")
        .next()
        .expect("section");
    assert!(empty.contains("本村没有在用的联系人"), "{empty}");
    assert!(r.body.contains("id=\"signatures\""));
    let list = web.get("/contacts").await;
    assert!(list.body.contains("href=\"/contacts/chain\""));
    app.stop().await;
}
both!(the_call_chain_prints_in_escalation_order);

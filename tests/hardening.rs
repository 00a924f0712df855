//! What an attacker on the network tries, on both backends: parallel
//! password guessing, redirects off-site after sign-in, what `/readyz` tells
//! a stranger, oversized and out-of-area polygons, search patterns, line
//! breaks in titles, and the answer page's and the dashboard's headers.

mod common;
#[path = "support/web_client.rs"]
mod web_client;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

/// A sign-in form post from `address` (the daemon trusts the loopback proxy's
/// `X-Forwarded-For`), with the CSRF token of a fresh form.
async fn sign_in_from(base: String, address: &str, name: &str, password: &str) -> StatusCode {
    let web = Web::new(&base);
    let form = web.get("/login").await;
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("_csrf", form.csrf().as_str()),
            ("name", name),
            ("password", password),
        ])
        .finish();
    web.send(
        web.client
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", address)
            .body(body),
    )
    .await
    .status
}

async fn behind_proxy(b: Backend) -> Option<TestApp> {
    let app = TestApp::start_with(b, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await?;
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Dispatcher, PASSWORD)
        .await
        .expect("user");
    Some(app)
}

/// Sixty wrong passwords at once for one name from one address: only the
/// configured five are checked, the rest are refused before argon2 runs.
/// The rightful user, at another address, still signs in.
async fn parallel_guesses_are_limited_and_the_user_is_not_locked_out(b: Backend) {
    let Some(app) = behind_proxy(b).await else {
        return;
    };
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..60 {
        let base = app.base.clone();
        tries.spawn(async move {
            sign_in_from(base, "198.51.100.9", "wang", &format!("guess-{i}")).await
        });
    }
    let got: Vec<StatusCode> = tries.join_all().await;
    let wrong = got
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = got
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (wrong, refused),
        (5, 55),
        "five checked, the rest refused: {got:?}"
    );
    // The attacker's address stays shut, even with the right password…
    assert_eq!(
        sign_in_from(app.base.clone(), "198.51.100.9", "wang", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …while wang, at the office, signs in.
    assert_eq!(
        sign_in_from(app.base.clone(), "203.0.113.20", "wang", PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    app.stop().await;
}
both!(parallel_guesses_are_limited_and_the_user_is_not_locked_out);

/// After sign-in only a path on this site is followed: tab, backslash, a
/// second slash, CR/LF or a scheme all land on the overview.
async fn next_goes_nowhere_but_this_site(b: Backend) {
    let Some(app) = behind_proxy(b).await else {
        return;
    };
    for next in [
        "/\t/evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "//evil.example",
        "/\r\nSet-Cookie: x=1",
        "https://evil.example/",
        "javascript:alert(1)",
        "/ /evil.example",
    ] {
        let web = Web::new(&app.base);
        let form = web.get("/login").await;
        let r = web
            .post(
                "/login",
                &[
                    ("_csrf", &form.csrf()),
                    ("name", "wang"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/".to_string()),
            "next={next:?}"
        );
        // Signed in, the form's own redirect follows the same rule.
        let q: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let r = web.get(&format!("/login?next={q}")).await;
        assert_eq!(
            (r.status, r.location()),
            (StatusCode::SEE_OTHER, "/".to_string()),
            "GET next={next:?}"
        );
    }
    // A real path is still followed.
    let web = Web::new(&app.base);
    let form = web.get("/login").await;
    let r = web
        .post(
            "/login",
            &[
                ("_csrf", &form.csrf()),
                ("name", "wang"),
                ("password", PASSWORD),
                ("next", "/sites?kind=fireworks_retail"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/sites?kind=fireworks_retail");
    app.stop().await;
}
both!(next_goes_nowhere_but_this_site);

/// `/readyz` tells a stranger (and a viewer) ready or not, nothing more: no
/// paths, plan problems, villages or shelters. An admin sees the details.
async fn readyz_says_ready_and_nothing_else(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v, json!({"status": "ready"}));
    let viewer = app.token("viewer").await;
    let (s, v) = app.send_as(&viewer, "GET", "/readyz", None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ready"})));
    let (_, v) = app.get("/readyz").await;
    assert_eq!(v["database"], "ok", "{v}");
    assert!(v["plans"].is_object(), "an admin sees the plans: {v}");
    app.stop().await;
}
both!(readyz_says_ready_and_nothing_else);

/// A ring of `n` corners around (118.0, 25.2), closed.
fn polygon_of(n: usize) -> Value {
    let mut pts: Vec<Value> = (0..n - 1)
        .map(|i| {
            let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
            json!([118.0 + 0.05 * a.cos(), 25.2 + 0.05 * a.sin()])
        })
        .collect();
    pts.push(pts[0].clone());
    json!({"type": "Polygon", "coordinates": [pts]})
}

/// Polygons are bounded: 20,000 corners are refused naming the ring, before
/// any work; a shape outside the served region is refused too; search text
/// is bounded and taken literally.
async fn areas_and_searches_are_bounded(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.limits.region = [117.5, 24.7, 118.5, 25.7];
    })
    .await
    else {
        return;
    };
    let big = polygon_of(20_000);
    for (path, body, field) in [
        (
            "/api/v1/sites/search",
            json!({"area": big}),
            "area.coordinates[0]",
        ),
        (
            "/api/v1/villages",
            json!({"code": "X1", "name": "大村", "boundary": big}),
            "boundary.coordinates[0]",
        ),
        (
            "/api/v1/alerts",
            json!({"title": "t", "body": "b", "targets": {"area": big}}),
            "targets.area.coordinates[0]",
        ),
    ] {
        let (s, v) = app.post(path, body).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{path}: {v}"
        );
    }
    let (s, v) = app
        .post("/api/v1/sites/search", json!({"area": polygon_of(2_000)}))
        .await;
    assert_eq!(s, StatusCode::OK, "2,000 corners are fine: {v}");
    // Outside the served region (Beijing).
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "X2", "name": "远村", "boundary": square(116.4, 39.9, 0.01)}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("boundary.coordinates[0][0]")
        ),
        "{v}"
    );

    // Search text: at most 200 characters, `%` and `_` literal.
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "S1", "name": "湖上村", "boundary": square(118.0, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    for name in ["百分百%加油站", "下划线_仓库", "普通商店"] {
        let (s, v) = app
            .post(
                "/api/v1/sites",
                json!({"name": name, "kind": "fireworks_retail", "risk_grade": "general", "location": {"lon": 118.0, "lat": 25.2}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (s, v) = app.get("/api/v1/sites?q=%25").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(names(&v), ["百分百%加油站"], "q=% is a percent sign");
    let (_, v) = app.get("/api/v1/sites?q=_").await;
    assert_eq!(names(&v), ["下划线_仓库"], "q=_ is an underscore");
    let long = "a".repeat(60_000);
    let (s, v) = app.get(&format!("/api/v1/sites?q={long}")).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("q")),
        "{v}"
    );
    let (s, _) = app.get(&format!("/api/v1/contacts?q={long}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}
both!(areas_and_searches_are_bounded);

/// A village `code` with a 村支书 for each phone; gives its id and the contacts'.
async fn village(app: &TestApp, code: &str, phones: &[&str]) -> (i64, Vec<i64>) {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": format!("{code}村"), "boundary": square(118.0, 25.2, 0.05)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().expect("village");
    let mut ids = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let (s, c) = app
            .post(
                "/api/v1/contacts",
                json!({"name": format!("支书{i}"), "roles": ["村支书"], "village_id": vid, "phone": phone}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        ids.push(c["id"].as_i64().expect("contact"));
    }
    (vid, ids)
}

/// A title is one line: CR/LF would reach the SMS, the spool file's headers
/// and CAP. Names and codes likewise.
async fn single_line_fields_refuse_line_breaks(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = village(&app, "L1", &[]).await;
    for (path, body, field) in [
        (
            "/api/v1/alerts",
            json!({"title": "暴雨预警\r\nX-Injected: 1", "body": "b", "targets": {"villages": [vid]}}),
            "title",
        ),
        (
            "/api/v1/villages",
            json!({"code": "L2", "name": "坑\n头村", "boundary": square(118.2, 25.2, 0.05)}),
            "name",
        ),
        (
            "/api/v1/contacts",
            json!({"name": "张\t三", "roles": ["村支书"], "village_id": vid, "phone": "13800000001"}),
            "name",
        ),
        (
            "/api/v1/sites",
            json!({"name": "加油站", "kind": "fireworks_retail", "risk_grade": "general", "location": {"lon": 118.0, "lat": 25.2}, "address": "一号\r\n二号"}),
            "address",
        ),
    ] {
        let (s, v) = app.post(path, body).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{path}: {v}"
        );
    }
    // A notice's body may still have several lines.
    let (s, v) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "暴雨预警", "body": "第一行\n第二行", "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "no contacts yet: {v}");
    assert_eq!(v["error"]["field"], "targets", "{v}");
    app.stop().await;
}
both!(single_line_fields_refuse_line_breaks);

/// The answer page is the person's key: never framed, cached or passed on
/// as a referrer, and it runs nothing but its own style.
async fn answer_pages_carry_strict_headers(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, contacts) = village(&app, "A1", &["13800000002"]).await;
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请巡查。", "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let token = app
        .token_of(a["id"].as_i64().expect("alert"), contacts[0])
        .await;
    for (method, path) in [
        ("GET", format!("/a/{token}")),
        ("POST", format!("/a/{token}")),
        ("GET", "/a/no-such-token".to_string()),
    ] {
        let r = app
            .client
            .request(
                method.parse().expect("method"),
                format!("{}{path}", app.base),
            )
            .send()
            .await
            .expect("answer page");
        let h = r.headers();
        let header = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let csp = header("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("default-src 'none'")
                && !csp.contains("unsafe-inline"),
            "{method} {path}: {csp}"
        );
        assert_eq!(header("cache-control"), "no-store", "{method} {path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{method} {path}");
    }
    app.stop().await;
}
both!(answer_pages_carry_strict_headers);

/// Every dashboard page, the guard's own refusals included, carries the
/// security headers and is not cached; a page that says how to cache keeps
/// its word, and the embedded assets are cached as they ask.
async fn dashboard_pages_carry_security_headers(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.map_tile_url = "https://tiles.example.test/{z}/{x}/{y}.png".into();
    })
    .await
    else {
        return;
    };
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();
    let sign_in_page = get("/login").await.expect("login page");
    // A POST without a CSRF token: refused by the guard before any handler.
    let stale = app
        .client
        .post(format!("{}/sites/new", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .expect("post");
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    for (what, r) in [("sign-in page", &sign_in_page), ("stale form", &stale)] {
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let csp = header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && csp.contains("img-src 'self' data: https:"),
            "{what}: {csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        assert_eq!(header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(header("cache-control"), "no-store", "{what}");
    }
    // The sign-in page sets the pre-sign-in CSRF cookie, HttpOnly for the whole site.
    let pre = sign_in_page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("fh_csrf="))
        .expect("fh_csrf cookie")
        .to_string();
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Lax") && pre.contains("Path=/"),
        "{pre}"
    );
    let css = get(&fenghuo::web::assets::url("app.css"))
        .await
        .expect("asset");
    assert_eq!(css.status(), StatusCode::OK);
    let cache = css
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_ne!(cache, "no-store", "assets are not pages");
    app.stop().await;
}
both!(dashboard_pages_carry_security_headers);

/// The database holds no answer link: the token in the SMS is derived from
/// a stored seed with a key kept in a file, and only its hash is stored. A
/// copy of the database answers for nobody; the link in the SMS still works.
async fn answer_links_are_stored_as_hashes(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (vid, _) = village(&app, "H1", &["13800000003", "13800000004"]).await;
    let (s, a) = app
        .post(
            "/api/v1/alerts",
            json!({"title": "山洪预警", "body": "请巡查。", "targets": {"villages": [vid]}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{a}");
    let id = a["id"].as_i64().expect("alert");
    app.wait_alert(id, 20, |v| {
        v["delivery_states"]["sent"] == v["delivery_states"]["total"]
    })
    .await;
    // The link as the SMS carries it.
    let spool = app.cfg.data_dir.join("outbox");
    let text: String = std::fs::read_dir(&spool)
        .expect("outbox")
        .filter_map(Result::ok)
        .map(|f| std::fs::read_to_string(f.path()).expect("read"))
        .find(|t| t.contains("To: +8613800000003"))
        .expect("王五's SMS");
    let token: String = text
        .split("/a/")
        .nth(1)
        .expect("a link")
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(token.len(), 32, "{text}");
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT answer_token, answer_token_hash FROM alert_recipients WHERE alert_id = $1",
    )
    .bind(id)
    .fetch_all(&app.db().pool)
    .await
    .expect("recipients");
    assert_eq!(rows.len(), 2);
    for (seed, hash) in &rows {
        assert_ne!(seed, &token, "the database does not hold the link");
        assert!(hash.is_some(), "every new link has its hash");
    }
    assert!(
        rows.iter().any(|(_, h)| h.as_deref()
            == Some(fenghuo::notify::response::answers::token_hash(&token).as_str())),
        "the stored hash is the link's"
    );
    // What a copy of the database holds answers nothing…
    for (seed, _) in &rows {
        let r = app
            .client
            .post(format!("{}/a/{seed}", app.base))
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    // …the link from the SMS does.
    let r = app
        .client
        .post(format!("{}/a/{token}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/alerts/{id}")).await.1["answered"],
        1
    );

    // A link sent before hashing (no hash stored) keeps working by its token.
    let (seed,): (String,) = sqlx::query_as(
        "SELECT answer_token FROM alert_recipients WHERE alert_id = $1 AND answered_at IS NULL",
    )
    .bind(id)
    .fetch_one(&app.db().pool)
    .await
    .expect("unanswered");
    sqlx::query("UPDATE alert_recipients SET answer_token_hash = NULL WHERE answer_token = $1")
        .bind(&seed)
        .execute(&app.db().pool)
        .await
        .expect("make legacy");
    let r = app
        .client
        .post(format!("{}/a/{seed}", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/alerts/{id}")).await.1["answered"],
        2
    );
    app.stop().await;
}
both!(answer_links_are_stored_as_hashes);

/// A daemon started with another answer key than the database's links were
/// made with (a second daemon configured apart, a database restored without
/// its key file) is refused, naming the file, instead of sending links that
/// lead nowhere.
async fn another_answer_key_is_refused(b: Backend) {
    let Some(mut app) = TestApp::start(b).await else {
        return;
    };
    app.halt().await;
    let other = app.dir.path().join("other.key");
    let mut cfg = app.cfg.clone();
    cfg.answer_key_file = other.clone();
    cfg.answer_key =
        fenghuo::notify::response::answers::AnswerKey::load_or_create(&other).expect("key");
    let db = fenghuo::server::open_db(&cfg).await.expect("db");
    match fenghuo::server::start(cfg, db).await {
        Err(e) => assert!(
            e.to_string().contains("other.key") && e.to_string().contains("not the key"),
            "{e}"
        ),
        Ok(_) => panic!("started with another answer key"),
    }
    // The right key still starts.
    app.resume().await;
    app.stop().await;
}
both!(another_answer_key_is_refused);

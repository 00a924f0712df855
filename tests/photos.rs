//! Photos of inspections and rectifications (issue 20): uploaded through the
//! API (the body is the file) and the dashboard (multipart, the phone's
//! camera), listed, served with the same bytes and type to a signed-in user
//! or a token of the township, kept once per content on disk; a non-image
//! (text named .jpg, an SVG) or an oversize file refused with nothing kept;
//! no photo for an anonymous request nor for another township's token.

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
/// The limit the tests configure (`limits.photo_bytes`).
const LIMIT: usize = 4096;

/// A real baseline JPEG: one 8×8 grey block (DC and AC Huffman tables of
/// one code each), with a comment making each `note` a different file.
fn tiny_jpeg(note: &str) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    // JFIF header.
    j.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
    j.extend_from_slice(b"JFIF\0");
    j.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
    // A comment.
    let c = note.as_bytes();
    j.extend_from_slice(&[0xFF, 0xFE]);
    j.extend_from_slice(&u16::try_from(c.len() + 2).expect("short").to_be_bytes());
    j.extend_from_slice(c);
    // Quantisation table 0: all ones.
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1u8; 64]);
    // Baseline frame: 8 bits, 8×8, one component using table 0.
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    // Huffman tables: DC 0 and AC 0, one code of length 1 each (category
    // 0, and end of block).
    for class in [0x00u8, 0x10] {
        j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        j.extend_from_slice(&[0u8; 15]);
        j.push(0x00);
    }
    // The scan: DC difference 0 ("0"), end of block ("0"), padded with ones.
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    j.push(0b0011_1111);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// A real PNG, `w`×`h`, coloured by `seed`.
fn tiny_png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        let mut wr = e.write_header().expect("png header");
        let data: Vec<u8> = (0..w * h * 3)
            .map(|i| (i as u8).wrapping_mul(seed))
            .collect();
        wr.write_image_data(&data).expect("png data");
    }
    out
}

/// Every file under `<data_dir>/photos` (temporary ones too).
fn files_on_disk(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.cfg.data_dir.join("photos"), &mut out);
    out
}

/// A site with an inspection that found one hidden danger: (inspection, finding).
async fn inspection(app: &TestApp) -> (i64, i64) {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": "P01", "name": "照片村", "boundary": square(118.0, 25.0, 0.01)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, site) = app
        .post(
            "/api/v1/sites",
            json!({"name": "照片烟花店", "kind": "fireworks_retail", "risk_grade": "general",
                   "location": {"lon": 118.005, "lat": 25.005}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let today = chrono::Utc::now().date_naive();
    let mut team = Vec::new();
    for (name, cert) in [("林检查", "35050101"), ("陈检查", "35050102")] {
        let (s, v) = app
            .post(
                "/api/v1/inspectors",
                json!({"name": name, "certificate_no": cert, "unit": "镇安监站",
                       "valid_from": "2020-01-01", "valid_until": "2099-12-31"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        team.push(v["id"].clone());
    }
    let (s, i) = app
        .post(
            &format!("/api/v1/sites/{}/inspections", site["id"]),
            json!({"inspected_on": (today - chrono::Duration::days(1)).to_string(),
                   "inspector_ids": team,
                   "findings": [{"grade": "general", "item": "安全出口堵塞", "deadline": (today + chrono::Duration::days(10)).to_string()}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    (
        i["id"].as_i64().expect("inspection"),
        i["findings"][0]["id"].as_i64().expect("finding"),
    )
}

/// Sends a photo's bytes through the API as `token`.
async fn post_photo(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("request");
    let s = r.status();
    let text = r.text().await.expect("body");
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET with a token (or none): status, headers, bytes.
async fn fetch(
    app: &TestApp,
    token: Option<&str>,
    cookie: Option<String>,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.expect("request");
    let (s, h) = (r.status(), r.headers().clone());
    (s, h, r.bytes().await.expect("bytes").to_vec())
}

/// A multipart upload from the dashboard's form: `_csrf` first, as a browser
/// sends the form's fields in order.
async fn upload_form(
    web: &Web,
    path: &str,
    csrf: &str,
    fields: &[(&str, &str)],
    file: (&str, &str, &[u8]),
) -> web_client::Resp {
    let boundary = "----fenghuo-photo-boundary";
    let mut body = Vec::new();
    let mut all = vec![("_csrf", csrf)];
    all.extend_from_slice(fields);
    for (name, value) in all {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    let (name, ctype, bytes) = file;
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    web.send(
        web.client
            .post(format!("{}{path}", web.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await
}

async fn start(backend: Backend) -> Option<TestApp> {
    TestApp::start_with(backend, |c| c.limits.photo_bytes = LIMIT).await
}

async fn upload_list_serve(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (insp, finding) = inspection(&app).await;
    let jpeg = tiny_jpeg("现场");
    let (s, p) = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/inspections/{insp}/photos?caption=%E4%BB%93%E5%BA%93%E5%A4%96%E8%A7%82&file=IMG_0001.JPG"),
        "image/jpeg",
        jpeg.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["content_type"], "image/jpeg");
    assert_eq!(p["tag"], "scene");
    assert_eq!(p["caption"], "仓库外观");
    assert_eq!(p["file_name"], "IMG_0001.JPG");
    assert_eq!(p["size_bytes"], jpeg.len());
    let jpeg_id = p["id"].as_i64().expect("id");

    // A finding's photo needs to say before or after.
    let png = tiny_png(8, 6, 7);
    let (s, v) = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/findings/{finding}/photos"),
        "image/png",
        png.clone(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tag")),
        "{v}"
    );
    let (s, p) = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/findings/{finding}/photos?tag=before"),
        "image/png",
        png.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(
        (p["tag"].as_str(), p["content_type"].as_str()),
        (Some("before"), Some("image/png"))
    );
    let png_id = p["id"].as_i64().expect("id");
    // The same JPEG again, now as the finding's "after": a second photo, one file.
    let (s, again) = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/findings/{finding}/photos?tag=after"),
        "application/octet-stream",
        jpeg.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_eq!(
        again["content_type"], "image/jpeg",
        "the type is the bytes'"
    );
    let files = files_on_disk(&app);
    assert_eq!(files.len(), 2, "the same bytes are kept once: {files:?}");
    assert!(
        files
            .iter()
            .any(|f| std::fs::read(f).expect("read") == jpeg),
        "the JPEG is kept as sent"
    );

    // Listed, before then after.
    let (s, list) = app.get(&format!("/api/v1/findings/{finding}/photos")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let tags: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["tag"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(tags, vec!["before", "after"]);
    let (_, list) = app.get(&format!("/api/v1/inspections/{insp}/photos")).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    // For the documents: the domain's lists.
    let db = app.db();
    assert_eq!(
        fenghuo::ledger::photos::list_for_inspection(db, insp)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(
        fenghuo::ledger::photos::list_for_finding(db, finding)
            .await
            .expect("list")
            .len(),
        2
    );

    // Served to a token with the same bytes and type.
    let viewer = app.token("viewer").await;
    for (id, bytes, ctype) in [(jpeg_id, &jpeg, "image/jpeg"), (png_id, &png, "image/png")] {
        let (s, h, body) = fetch(&app, Some(&viewer), None, &format!("/api/v1/photos/{id}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(&body, bytes);
        assert_eq!(h["content-type"], ctype);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(
            h["cache-control"]
                .to_str()
                .unwrap_or("")
                .starts_with("private"),
            "{h:?}"
        );
    }

    // The dashboard: the site's page links the photos; the photo pages show
    // thumbnails and, for an editor, the camera's upload form.
    fenghuo::accounts::users::create(db, "test", "lin", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("lin", PASSWORD).await;
    let (s, h, body) = fetch(
        &app,
        None,
        Some(web.cookie_header()),
        &format!("/photos/{jpeg_id}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, jpeg);
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["cache-control"]
            .to_str()
            .unwrap_or("")
            .starts_with("private")
    );
    let page = web.get(&format!("/findings/{finding}/photos")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!("src=\"/photos/{png_id}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("capture=\"environment\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("accept=\"image/*\""));
    let other = tiny_png(4, 4, 3);
    let r = upload_form(
        &web,
        &format!("/findings/{finding}/photos"),
        &page.csrf(),
        &[("tag", "after"), ("caption", "已清理通道")],
        ("IMG_0002.PNG", "image/png", &other),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, list) = app.get(&format!("/api/v1/findings/{finding}/photos")).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{list}");
    let last = &items[2];
    assert_eq!(
        (last["tag"].as_str(), last["caption"].as_str()),
        (Some("after"), Some("已清理通道"))
    );
    assert_eq!(last["uploaded_by"], "web:lin");
    let (_, _, body) = fetch(
        &app,
        Some(&viewer),
        None,
        last["url"].as_str().unwrap_or(""),
    )
    .await;
    assert_eq!(body, other, "the dashboard's upload kept the file as sent");
    // A caption with markup comes back as text.
    let r = upload_form(
        &web,
        &format!("/inspections/{insp}/photos"),
        &page.csrf(),
        &[("caption", "<script>alert(1)</script>")],
        ("x.png", "image/png", &tiny_png(3, 3, 9)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let shown = web.get(&format!("/inspections/{insp}/photos")).await;
    assert!(!shown.body.contains("<script>alert(1)"), "{}", shown.body);
    assert!(shown.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The audit log tells the uploads in words.
    let audit = web.get("/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("照片"), "{}", audit.body);
    assert!(audit.body.contains("整改后"), "{}", audit.body);
    app.stop().await;
}

async fn refusals_keep_nothing(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (insp, finding) = inspection(&app).await;
    let text = b"this is not a photo, only named like one".to_vec();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="8" height="8"/></svg>"#.to_vec();
    let mut big = tiny_jpeg("big");
    big.resize(LIMIT + 1, 0);
    for (what, path, ctype, bytes, status) in [
        (
            "text as .jpg",
            format!("/api/v1/inspections/{insp}/photos?file=a.jpg"),
            "image/jpeg",
            text.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "an SVG",
            format!("/api/v1/inspections/{insp}/photos?file=a.svg"),
            "image/svg+xml",
            svg.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty",
            format!("/api/v1/inspections/{insp}/photos"),
            "image/jpeg",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "oversize",
            format!("/api/v1/findings/{finding}/photos?tag=before"),
            "image/jpeg",
            big.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let (s, v) = post_photo(&app, &app.admin, &path, ctype, bytes).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (status, Some("photo")),
            "{what}: {v}"
        );
    }
    // The dashboard: the same refusals, at the photo field.
    fenghuo::accounts::users::create(app.db(), "test", "lin", Role::Editor, PASSWORD)
        .await
        .expect("user");
    let web = Web::new(&app.base);
    web.sign_in("lin", PASSWORD).await;
    let page = web.get(&format!("/inspections/{insp}/photos")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let path = format!("/inspections/{insp}/photos");
    for (what, file, status) in [
        (
            "text as .jpg",
            ("a.jpg", "image/jpeg", &text[..]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "an SVG",
            ("a.svg", "image/svg+xml", &svg[..]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "oversize",
            ("big.jpg", "image/jpeg", &big[..]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let r = upload_form(&web, &path, &csrf, &[("caption", "x")], file).await;
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(r.body.contains("id=\"photo-error\""), "{what}: {}", r.body);
        assert!(
            r.body.contains("照片"),
            "{what}: the message names the photo"
        );
    }
    // Far over the limit: refused before it is read, naming the photo.
    let huge = vec![0xFFu8; LIMIT * 40];
    let r = upload_form(&web, &path, &csrf, &[], ("huge.jpg", "image/jpeg", &huge)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("照片太大"), "{}", r.body);
    let r = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/inspections/{insp}/photos"),
        "image/jpeg",
        huge,
    )
    .await;
    assert_eq!(r.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.1);

    assert!(files_on_disk(&app).is_empty(), "{:?}", files_on_disk(&app));
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM photos")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 0, "no row for a refused photo");
    app.stop().await;
}

async fn strangers_see_no_photo(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    let (insp, finding) = inspection(&app).await;
    let jpeg = tiny_jpeg("私密");
    let (s, p) = post_photo(
        &app,
        &app.admin,
        &format!("/api/v1/inspections/{insp}/photos"),
        "image/jpeg",
        jpeg.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().expect("id");

    // Anonymous: no bytes, from the API nor from the dashboard.
    let (s, _, body) = fetch(&app, None, None, &format!("/api/v1/photos/{id}")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_ne!(body, jpeg);
    let (s, h, body) = fetch(&app, None, None, &format!("/photos/{id}")).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "to the sign-in");
    assert!(
        h["location"].to_str().unwrap_or("").starts_with("/login"),
        "{h:?}"
    );
    assert!(!body.windows(4).any(|w| w == &jpeg[..4]));
    let (s, _, _) = fetch(
        &app,
        None,
        None,
        &format!("/api/v1/inspections/{insp}/photos"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = fetch(&app, None, None, &format!("/inspections/{insp}/photos")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let anon = app
        .client
        .post(format!("{}/api/v1/inspections/{insp}/photos", app.base))
        .header("content-type", "image/jpeg")
        .body(jpeg.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    // A dashboard upload without a session and token: refused, nothing kept.
    let stranger = Web::new(&app.base);
    let r = upload_form(
        &stranger,
        &format!("/inspections/{insp}/photos"),
        "",
        &[],
        ("a.jpg", "image/jpeg", &tiny_jpeg("anon")),
    )
    .await;
    assert!(
        r.status == StatusCode::FORBIDDEN || r.status == StatusCode::SEE_OTHER,
        "{}",
        r.status
    );

    // Another township's token: not found, however asked.
    let db = app.db().clone();
    let t2 = fenghuo::registry::townships::add(&db, "350524102000", "乙镇", false)
        .await
        .expect("township 2")
        .id;
    let (_, t2_admin) = fenghuo::auth::create_scoped_token(
        &db,
        "t2-admin",
        Role::Admin,
        true,
        &Scope::township(t2),
        t2,
    )
    .await
    .expect("t2 token");
    for path in [
        format!("/api/v1/photos/{id}"),
        format!("/api/v1/inspections/{insp}/photos"),
        format!("/api/v1/findings/{finding}/photos"),
    ] {
        let (s, _, body) = fetch(&app, Some(&t2_admin), None, &path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_ne!(body, jpeg);
    }
    let (s, v) = post_photo(
        &app,
        &t2_admin,
        &format!("/api/v1/findings/{finding}/photos?tag=after"),
        "image/jpeg",
        tiny_jpeg("t2"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // Its dashboard user neither.
    fenghuo::accounts::users::create(&db, "system", "yizhen", Role::Admin, "乙镇的口令很长很长")
        .await
        .expect("user");
    sqlx::query("UPDATE users SET township_id = $1, scope = 'township' WHERE name = 'yizhen'")
        .bind(t2)
        .execute(&db.pool)
        .await
        .expect("scope");
    let web = Web::new(&app.base);
    web.sign_in("yizhen", "乙镇的口令很长很长").await;
    let (s, _, body) = fetch(
        &app,
        None,
        Some(web.cookie_header()),
        &format!("/photos/{id}"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_ne!(body, jpeg);
    assert_eq!(
        web.get(&format!("/inspections/{insp}/photos")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(files_on_disk(&app).len(), 1, "only the one photo is kept");
    app.stop().await;
}

/// The demo's photos are served from the binary.
async fn demo_photos(backend: Backend) {
    let Some(app) = start(backend).await else {
        return;
    };
    assert!(
        fenghuo::demo::load(app.db(), chrono_tz::Asia::Shanghai)
            .await
            .expect("demo")
    );
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM photos WHERE sample = 1")
        .fetch_one(&app.db().pool)
        .await
        .expect("count");
    assert_eq!(n, 3);
    let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM photos")
        .fetch_one(&app.db().pool)
        .await
        .expect("id");
    let (s, h, body) = fetch(
        &app,
        Some(&app.admin),
        None,
        &format!("/api/v1/photos/{id}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "image/png");
    assert!(body.starts_with(b"\x89PNG"));
    assert!(files_on_disk(&app).is_empty(), "the demo writes no file");
    app.stop().await;
}

both!(upload_list_serve);
both!(refusals_keep_nothing);
both!(strangers_see_no_photo);
both!(demo_photos);

//! The area a notice is targeted at is the area it reaches and the area its
//! CAP publishes: a posted polygon or circle as posted (not the whole
//! villages it touches), and a circle tested by distance, exact at its edge.

mod common;

use common::{Backend, TestApp, elements, square, validate_cap};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The mean Earth radius the daemon's haversine distance uses (IUGG), m.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (haversine), written out here so the
/// test does not lean on the code it checks.
fn haversine(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The point `d` metres from (lon, lat) on the initial bearing `bearing`
/// (degrees clockwise from north), on the same sphere.
fn destination(lon: f64, lat: f64, bearing: f64, d: f64) -> (f64, f64) {
    let (p1, th, dr) = (lat.to_radians(), bearing.to_radians(), d / EARTH_RADIUS_M);
    let p2 = (p1.sin() * dr.cos() + p1.cos() * dr.sin() * th.cos()).asin();
    let dl = (th.sin() * dr.sin() * p1.cos()).atan2(dr.cos() - p1.sin() * p2.sin());
    let (x, y) = (lon + dl.to_degrees(), p2.to_degrees());
    let back = haversine(lon, lat, x, y);
    assert!((back - d).abs() < 1e-6, "{d} m came out {back} m");
    (x, y)
}

/// Rounded to the 6 decimals CAP is written with, so what is posted can
/// be compared with what is published.
fn six(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// A closed GeoJSON ring through `corners` (lon, lat).
fn polygon(corners: &[(f64, f64)]) -> Value {
    let mut ring: Vec<Value> = corners.iter().map(|&(x, y)| json!([x, y])).collect();
    ring.push(ring[0].clone());
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// Each `<polygon>` of a CAP document as (lat, lon) points.
fn cap_polygons(xml: &str) -> Vec<Vec<(f64, f64)>> {
    elements(xml, "polygon")
        .iter()
        .map(|p| {
            p.split_whitespace()
                .map(|pt| {
                    let (lat, lon) = pt.split_once(',').expect("lat,lon");
                    (
                        lat.parse().expect("latitude"),
                        lon.parse().expect("longitude"),
                    )
                })
                .collect()
        })
        .collect()
}

/// The CAP ring a posted (lon, lat) ring should become: (lat, lon), closed.
fn as_cap_ring(corners: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut ring: Vec<(f64, f64)> = corners.iter().map(|&(x, y)| (y, x)).collect();
    ring.push(ring[0]);
    ring
}

fn same_ring(got: &[(f64, f64)], want: &[(f64, f64)]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(a, b)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9)
}

async fn village(app: &TestApp, code: &str, boundary: Value) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/villages",
            json!({"code": code, "name": format!("{code}村"), "boundary": boundary}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

async fn contact(app: &TestApp, name: &str, village: i64, phone: &str) {
    let (s, c) = app
        .post(
            "/api/v1/contacts",
            json!({"name": name, "roles": ["网格员"], "village_id": village, "phone": phone}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
}

async fn site(app: &TestApp, name: &str, (lon, lat): (f64, f64), phone: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/v1/sites",
            json!({"name": name, "kind": "hazchem_storage", "risk_grade": "major",
                   "location": {"lon": lon, "lat": lat},
                   "safety_officer": format!("{name}安全员"), "safety_officer_phone": phone}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

/// Sends a notice; a public one is approved by a leader (it goes out only then).
async fn alert(app: &TestApp, body: Value) -> i64 {
    let public = body["public"] == json!(true);
    let (s, v) = app.post("/api/v1/alerts", body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["id"].as_i64().expect("id");
    if public {
        app.approve(id).await;
    }
    id
}

async fn cap(app: &TestApp, id: i64) -> String {
    let r = app
        .client
        .get(format!("{}/public/alerts/{id}.cap", app.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("text")
}

/// Everyone on an alert's board, by name.
async fn names_on_board(app: &TestApp, id: i64) -> Vec<String> {
    let (s, board) = app.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{board}");
    let mut names = Vec::new();
    for v in board["villages"].as_array().expect("villages") {
        for list in ["answered", "not_answered"] {
            for p in v[list].as_array().expect("list") {
                names.push(p["name"].as_str().expect("name").to_string());
            }
        }
    }
    names
}

/// Two villages side by side (V1 118.00–118.01°E, V2 118.01–118.02°E,
/// 25.20–25.21°N), a contact in each.
async fn two_villages(app: &TestApp) {
    let v1 = village(app, "V1", square(118.0, 25.2, 0.01)).await;
    let v2 = village(app, "V2", square(118.01, 25.2, 0.01)).await;
    contact(app, "甲", v1, "13800000001").await;
    contact(app, "乙", v2, "13800000002").await;
}

async fn polygon_and_circle_targets_are_published_as_posted(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    two_villages(&app).await;
    // A 10-corner polygon across the border of the two villages.
    let decagon: Vec<(f64, f64)> = (0..10)
        .map(|i| {
            let t = f64::from(i) * std::f64::consts::TAU / 10.0;
            (six(118.01 + 0.003 * t.cos()), six(25.205 + 0.002 * t.sin()))
        })
        .collect();
    let a = alert(
        &app,
        json!({"title": "山洪预警", "body": "请沿河群众转移。", "level": 2, "public": true,
               "targets": {"area": polygon(&decagon)}}),
    )
    .await;
    let xml = cap(&app, a).await;
    let polys = cap_polygons(&xml);
    assert_eq!(
        polys.len(),
        1,
        "the posted polygon only, no village boundary: {xml}"
    );
    assert!(
        same_ring(&polys[0], &as_cap_ring(&decagon)),
        "{:?}\n{xml}",
        polys[0]
    );
    assert!(elements(&xml, "circle").is_empty(), "{xml}");
    // The villages it touches are named by code.
    assert_eq!(elements(&xml, "value"), ["V1", "V2"], "{xml}");

    // An Update with an area of its own: a triangle inside village 1.
    let triangle = [(118.002, 25.202), (118.006, 25.202), (118.004, 25.205)];
    let u = alert(
        &app,
        json!({"title": "山洪预警更新", "body": "范围缩小。", "level": 3, "public": true, "updates": a,
               "targets": {"area": polygon(&triangle)}}),
    )
    .await;
    let update = cap(&app, u).await;
    assert_eq!(elements(&update, "msgType"), ["Update"]);
    let polys = cap_polygons(&update);
    assert_eq!(polys.len(), 1, "{update}");
    assert!(same_ring(&polys[0], &as_cap_ring(&triangle)), "{update}");
    assert_eq!(elements(&update, "value"), ["V1"], "{update}");

    // A circle: `<circle>` as posted, no polygon, not even the villages'.
    let c = alert(
        &app,
        json!({"title": "危化品泄漏", "body": "请关闭门窗。", "level": 1, "public": true,
               "targets": {"area": {"circle": {"lon": 118.0095, "lat": 25.2051, "radius_m": 800}}}}),
    )
    .await;
    let circle = cap(&app, c).await;
    assert_eq!(
        elements(&circle, "circle"),
        ["25.2051,118.0095 0.8"],
        "{circle}"
    );
    assert!(elements(&circle, "polygon").is_empty(), "{circle}");
    assert_eq!(elements(&circle, "value"), ["V1", "V2"], "{circle}");
    // Its Update, a wider circle: the same.
    let cu = alert(
        &app,
        json!({"title": "危化品泄漏扩大", "body": "请撤离。", "level": 1, "public": true, "updates": c,
               "targets": {"area": {"circle": {"lon": 118.0095, "lat": 25.2051, "radius_m": 1250.5}}}}),
    )
    .await;
    let circle_update = cap(&app, cu).await;
    assert_eq!(elements(&circle_update, "msgType"), ["Update"]);
    assert_eq!(
        elements(&circle_update, "circle"),
        ["25.2051,118.0095 1.2505"],
        "{circle_update}"
    );
    assert!(
        elements(&circle_update, "polygon").is_empty(),
        "{circle_update}"
    );

    // Villages named one by one are still drawn whole, beside a circle.
    let n = alert(
        &app,
        json!({"title": "停水通知", "body": "明日停水。", "public": true,
               "targets": {"villages": ["V1"], "area": {"circle": {"lon": 118.015, "lat": 25.205, "radius_m": 300}}}}),
    )
    .await;
    let named = cap(&app, n).await;
    let polys = cap_polygons(&named);
    let v1_ring = as_cap_ring(&[
        (118.0, 25.2),
        (118.01, 25.2),
        (118.01, 25.21),
        (118.0, 25.21),
    ]);
    assert_eq!(polys.len(), 1, "{named}");
    assert!(same_ring(&polys[0], &v1_ring), "{named}");
    assert_eq!(
        elements(&named, "circle"),
        ["25.205,118.015 0.3"],
        "{named}"
    );
    assert_eq!(elements(&named, "value"), ["V1", "V2"], "{named}");

    validate_cap(&[
        ("polygon.xml", xml),
        ("polygon-update.xml", update),
        ("circle.xml", circle),
        ("circle-update.xml", circle_update),
        ("named.xml", named),
    ]);
    app.stop().await;
}
both!(polygon_and_circle_targets_are_published_as_posted);

/// Sites 4,995 m and 5,005 m from a 5 km circle's centre: due north, due
/// east, and in two directions between (2.8125° and 87.1875°, where a
/// 64-sided polygon drawn inside the circle cuts 6 m short).
async fn a_circle_reaches_exactly_its_radius(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (lon, lat, r) = (118.3, 25.4, 5_000.0);
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for (i, bearing) in [0.0, 2.8125, 87.1875, 90.0].into_iter().enumerate() {
        for (d, list, tag, n) in [
            (4_995.0, &mut inside, "近", 1),
            (5_005.0, &mut outside, "远", 2),
        ] {
            let at = destination(lon, lat, bearing, d);
            let name = format!("{tag}{i}号库");
            let id = site(&app, &name, at, &format!("1370000{n}{i:03}")).await;
            list.push((id, name));
        }
    }
    // 3 mm either side of the edge, in eight more directions: the daemon
    // reads positions in whole 10⁻⁷ degrees (about 1 cm) and must still
    // decide these on the stored position.
    for i in 0..8 {
        let bearing = 22.5 + f64::from(i) * 45.0;
        for (d, list, tag, n) in [
            (r - 0.003, &mut inside, "边内", 3),
            (r + 0.003, &mut outside, "边外", 4),
        ] {
            let at = destination(lon, lat, bearing, d);
            let name = format!("{tag}{i}号库");
            let id = site(&app, &name, at, &format!("1370000{n}{i:03}")).await;
            list.push((id, name));
        }
    }
    // Villages whose nearest edge is 4,995 m (east-north-east) and 5,005 m
    // (west-south-west) from the centre, square to that direction.
    for (bearing, d, code, phone) in [
        (87.1875, 4_995.0, "NEAR", "13800000011"),
        (267.1875, 5_005.0, "FAR", "13800000012"),
    ] {
        let mid = destination(lon, lat, bearing, d);
        let a = destination(mid.0, mid.1, bearing - 90.0, 1_000.0);
        let b = destination(mid.0, mid.1, bearing + 90.0, 1_000.0);
        let far = destination(mid.0, mid.1, bearing, 1_000.0);
        let vid = village(&app, code, polygon(&[a, b, far])).await;
        contact(&app, &format!("{code}联系人"), vid, phone).await;
    }
    let id = alert(
        &app,
        json!({"title": "危化品泄漏", "body": "请立即撤离。", "level": 1,
               "targets": {"area": {"circle": {"lon": lon, "lat": lat, "radius_m": r}}}}),
    )
    .await;
    let names = names_on_board(&app, id).await;
    for (_, name) in &inside {
        assert!(
            names.iter().any(|n| n.contains(name.as_str())),
            "{name} (inside) is not notified: {names:?}"
        );
    }
    for (_, name) in &outside {
        assert!(
            !names.iter().any(|n| n.contains(name.as_str())),
            "{name} (outside) is notified: {names:?}"
        );
    }
    assert!(names.contains(&"NEAR联系人".to_string()), "{names:?}");
    assert!(!names.contains(&"FAR联系人".to_string()), "{names:?}");
    assert_eq!(names.len(), inside.len() + 1, "{names:?}");

    // The sites search near a point measures the same way.
    let (s, v) = app
        .get(&format!(
            "/api/v1/sites?near_lon={lon}&near_lat={lat}&radius_m={r}&per_page=100"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut found: Vec<i64> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    found.sort_unstable();
    let mut want: Vec<i64> = inside.iter().map(|(id, _)| *id).collect();
    want.sort_unstable();
    assert_eq!(found, want, "{v}");
    app.stop().await;
}
both!(a_circle_reaches_exactly_its_radius);

/// Far from the equator a circle is widest poleward of its centre, wider
/// than r / cos(lat) degrees of longitude: a site there, 10 m inside a
/// 200 km circle at 50°N, is reached by a notice and found by a search.
async fn a_circle_keeps_its_widest_points(b: Backend) {
    let Some(app) = TestApp::start(b).await else {
        return;
    };
    let (lon, lat, r) = (120.0, 50.0, 200_000.0);
    // The bearing at which the circle reaches farthest east.
    let widest = (0..=20_000)
        .map(|i| 80.0 + f64::from(i) / 1_000.0)
        .max_by(|a, b| {
            let ea = destination(lon, lat, *a, r).0;
            let eb = destination(lon, lat, *b, r).0;
            ea.total_cmp(&eb)
        })
        .expect("a bearing");
    let near = destination(lon, lat, widest, r - 10.0);
    let far = destination(lon, lat, widest, r + 10.0);
    let naive = lon + (r / EARTH_RADIUS_M).to_degrees() / lat.to_radians().cos();
    assert!(
        near.0 > naive,
        "the site lies beyond r / cos(lat): {near:?} {naive}"
    );
    let inside = site(&app, "北库", near, "13700000001").await;
    site(&app, "北库外", far, "13700000002").await;
    let id = alert(
        &app,
        json!({"title": "危化品泄漏", "body": "请立即撤离。", "level": 1,
               "targets": {"area": {"circle": {"lon": lon, "lat": lat, "radius_m": r}}}}),
    )
    .await;
    assert_eq!(
        names_on_board(&app, id).await,
        ["北库安全员（北库）"],
        "only the site inside"
    );
    let (s, v) = app
        .get(&format!(
            "/api/v1/sites?near_lon={lon}&near_lat={lat}&radius_m={r}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let found: Vec<i64> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(found, [inside], "{v}");
    app.stop().await;
}
both!(a_circle_keeps_its_widest_points);

//! The map and the forms' small maps, in a real browser: village names as
//! labels, the side filter hiding markers, SVG icons and no emoji, a location
//! picked by clicking the map on the site form, a village boundary drawn with
//! the vendored Leaflet-Geoman and saved as the village's GeoJSON. And the
//! vendored files, each listed with its licence.

mod common;
#[path = "support/web_client.rs"]
mod web_client;
#[path = "support/webdriver.rs"]
mod webdriver;

use common::{Backend, TestApp, square};
use fenghuo::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use web_client::Web;

const PASSWORD: &str = "correct-horse-9";

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts/map")
}

/// Emoji and pictographs (U+2600–U+27BF, U+2B00–U+2BFF, U+1F000–U+1FAFF, the
/// emoji presentation selector): they show as empty boxes on a machine
/// without an emoji font.
fn emoji(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            let u = *c as u32;
            (0x2600..=0x27BF).contains(&u)
                || (0x2B00..=0x2BFF).contains(&u)
                || (0x1F000..=0x1FAFF).contains(&u)
                || u == 0xFE0F
        })
        .collect()
}

/// Two villages, a fireworks shop in the first, an oil depot in the second,
/// a shelter in the first, and `wang`, an editor.
async fn seed(app: &TestApp) -> (i64, i64) {
    let mut ids = Vec::new();
    for (code, name, lon) in [("V01", "湖上村", 117.96), ("V02", "湖东村", 117.98)] {
        let (s, v) = app
            .post(
                "/api/v1/villages",
                json!({"code": code, "name": name, "boundary": square(lon, 25.17, 0.02)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_i64().expect("id"));
    }
    for (name, kind, grade, lon) in [
        ("湖上烟花店", "fireworks_retail", "general", 117.965),
        ("湖东油库", "hazchem_storage", "major", 117.99),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/sites",
                json!({"name": name, "kind": kind, "risk_grade": grade,
                       "location": {"lon": lon, "lat": 25.18}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, v) = app
        .post(
            "/api/v1/shelters",
            json!({"code": "BZ-V01-1", "name": "湖上小学", "location": {"lon": 117.97, "lat": 25.175},
                   "capacity": 200}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    fenghuo::accounts::users::create(app.db(), "test", "wang", Role::Editor, PASSWORD)
        .await
        .expect("user");
    (ids[0], ids[1])
}

/// Markers on the map and rows in the side list, as the browser shows them.
const SHOWN: &str =
    "var m = window.fhMap, out = {markers: 0, pins: 0, shelters: 0, rows: 0, agree: true};
  for (var i = 0; i < m.entries.length; i++) {
    var e = m.entries[i], on = m.map.hasLayer(e.marker), row = e.li.style.display !== 'none';
    if (on !== row) { out.agree = false; }
    if (row) { out.rows++; }
  }
  out.markers = document.querySelectorAll('#map .leaflet-marker-icon').length;
  out.pins = document.querySelectorAll('#map .fh-pin').length;
  out.shelters = document.querySelectorAll('#map .fh-shelter').length;
  return out;";

/// The viewport pixels of `arguments[0]`'s [lat, lon] points on the boundary map.
const VIEWPORT: &str =
    "var map = window.fhDraw.map, box = map.getContainer().getBoundingClientRect();
  return arguments[0].map(function (ll) {
    var p = map.latLngToContainerPoint(ll);
    return [Math.round(box.left + p.x), Math.round(box.top + p.y)];
  });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_labels_filter_pick_and_draw_in_a_browser() {
    if !webdriver::installed() {
        common::skip_or_fail(&format!(
            "the map's browser test needs {} and {}",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        ));
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (v1, v2) = seed(&app).await;
    let base = app.base.clone();
    let shots = artifacts();
    let _ = std::fs::remove_dir_all(&shots);
    let profile = app.dir.path().join("browser");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let d = webdriver::Driver::start(&profile, shots.clone())
        .await
        .expect("start chromedriver and chromium");
    d.set_window_size(1366, 768).await.expect("window size");

    d.goto(&format!("{base}/login")).await.expect("open");
    d.wait_for("#f-password", 10).await.expect("sign-in form");
    d.fill("#f-name", "wang").await.expect("name");
    d.fill("#f-password", PASSWORD).await.expect("password");
    d.click_css("#signin").await.expect("submit");
    d.wait_for("#live", 10).await.expect("overview");

    // ---- The map page ----
    d.goto(&format!("{base}/map")).await.expect("map");
    d.wait_until(
        "return document.getElementById('map').getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("map drawn");
    // Village names as labels, each shown, none covering another.
    let labels = d
        .exec(
            "var out = [], ls = document.querySelectorAll('#map .leaflet-tooltip.village-label');
             for (var i = 0; i < ls.length; i++) {
               var r = ls[i].getBoundingClientRect();
               out.push({text: ls[i].textContent, hidden: ls[i].classList.contains('overlap') || getComputedStyle(ls[i]).visibility === 'hidden' || getComputedStyle(ls[i]).display === 'none',
                         l: r.left, r: r.right, t: r.top, b: r.bottom});
             }
             return out;",
            json!([]),
        )
        .await
        .expect("labels");
    let labels = labels.as_array().cloned().unwrap_or_default();
    let mut names: Vec<&str> = labels.iter().filter_map(|l| l["text"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["湖上村", "湖东村"], "{labels:?}");
    let shown: Vec<&Value> = labels.iter().filter(|l| l["hidden"] == false).collect();
    assert_eq!(
        shown.len(),
        2,
        "both names readable at the default zoom: {labels:?}"
    );
    let (a, b) = (shown[0], shown[1]);
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let overlap = f(a, "l") < f(b, "r")
        && f(a, "r") > f(b, "l")
        && f(a, "t") < f(b, "b")
        && f(a, "b") > f(b, "t");
    assert!(!overlap, "labels overlap: {labels:?}");

    // SVG icons, loaded from the binary; no emoji anywhere on the page.
    let icons = d
        .exec(
            "var out = [], is = document.querySelectorAll('#map .leaflet-marker-icon img, #map-legend img, #map-kinds img, #map-sites img');
             for (var i = 0; i < is.length; i++) { out.push([is[i].getAttribute('src'), is[i].complete && is[i].naturalWidth > 0]); }
             return out;",
            json!([]),
        )
        .await
        .expect("icons");
    let icons = icons.as_array().cloned().unwrap_or_default();
    assert!(icons.len() >= 3 + 2 + 7, "{icons:?}");
    for i in &icons {
        let src = i[0].as_str().unwrap_or("");
        assert!(
            src.starts_with("/assets/icons/") && src.contains(".svg"),
            "{i}"
        );
    }
    // Image decoding can lag the DOM: wait until every icon has loaded.
    d.wait_until(
        "var is = document.querySelectorAll('#map .leaflet-marker-icon img, #map-legend img');
         for (var i = 0; i < is.length; i++) { if (!(is[i].complete && is[i].naturalWidth > 0)) { return false; } }
         return is.length > 0;",
        10,
    )
    .await
    .expect("icons loaded");
    let html = d
        .exec("return document.documentElement.outerHTML", json!([]))
        .await
        .expect("html");
    let html = html.as_str().unwrap_or("");
    assert!(emoji(html).is_empty(), "emoji: {:?}", emoji(html));
    let web = Web::new(&base);
    web.sign_in("wang", PASSWORD).await;
    for p in ["/map", "/sites/new", "/shelters/new", "/villages/new"] {
        let r = web.get(p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        assert!(emoji(&r.body).is_empty(), "{p}: {:?}", emoji(&r.body));
    }

    // The filter: what it hides in the list it hides on the map.
    let all = d.exec(SHOWN, json!([])).await.expect("shown");
    assert_eq!(
        all,
        json!({"markers": 3, "pins": 2, "shelters": 1, "rows": 3, "agree": true})
    );
    d.fill("#map-filter", "油库").await.expect("filter");
    let one = d.exec(SHOWN, json!([])).await.expect("shown");
    assert_eq!(
        one,
        json!({"markers": 1, "pins": 1, "shelters": 0, "rows": 1, "agree": true})
    );
    let count = d.text_of("#map-count").await.expect("count");
    assert!(count.contains("1 / 3"), "{count}");
    d.fill("#map-filter", "").await.expect("clear");
    d.exec(
        "document.getElementById('map-filter').dispatchEvent(new Event('input'))",
        json!([]),
    )
    .await
    .expect("input");
    d.choose("#map-kind", "shelter").await.expect("kind");
    let shelters = d.exec(SHOWN, json!([])).await.expect("shown");
    assert_eq!(
        shelters,
        json!({"markers": 1, "pins": 0, "shelters": 1, "rows": 1, "agree": true})
    );
    d.choose("#map-kind", "").await.expect("all kinds");
    d.choose("#map-village", &v2.to_string())
        .await
        .expect("village");
    let east = d.exec(SHOWN, json!([])).await.expect("shown");
    assert_eq!(
        east,
        json!({"markers": 1, "pins": 1, "shelters": 0, "rows": 1, "agree": true})
    );
    d.choose("#map-village", &v1.to_string())
        .await
        .expect("village");
    let west = d.exec(SHOWN, json!([])).await.expect("shown");
    assert_eq!(
        west,
        json!({"markers": 2, "pins": 1, "shelters": 1, "rows": 2, "agree": true})
    );
    d.choose("#map-village", "").await.expect("all villages");
    d.exec(
        "window.fhMap.map.fitBounds(window.fhMap.villages.getBounds(), {padding: [20, 20]})",
        json!([]),
    )
    .await
    .expect("fit");
    d.screenshot("map-1366x768").await.expect("shot");
    d.set_window_size(390, 844).await.expect("phone");
    d.goto(&format!("{base}/map")).await.expect("map");
    d.wait_until(
        "return document.getElementById('map').getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("map drawn on a phone");
    d.screenshot("map-390x844").await.expect("shot");
    d.set_window_size(1366, 768).await.expect("window size");

    // ---- A location picked on the site form ----
    d.goto(&format!("{base}/sites/new"))
        .await
        .expect("new site");
    d.wait_until(
        "var m = document.getElementById('pick-map'); return !!m && m.getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("the form's map");
    // Inside the second village, away from the border the two share.
    d.exec("window.fhPick.map.setView([25.18, 117.99], 15)", json!([]))
        .await
        .expect("view");
    d.fill("#f-name", "地图选点加油站").await.expect("name");
    d.choose("#f-kind", "hazchem_trade_with_storage")
        .await
        .expect("kind");
    d.choose("#f-risk_grade", "general").await.expect("grade");
    assert_eq!(d.value_of("#f-lon").await.expect("lon"), "");
    // A real click, in the middle of the map.
    let map_el = d.find("#pick-map").await.expect("map element");
    d.exec(
        "document.getElementById('pick-map').scrollIntoView({block: 'center'})",
        json!([]),
    )
    .await
    .expect("scroll");
    d.click(&map_el).await.expect("click the map");
    d.wait_until("return document.getElementById('f-lon').value !== ''", 10)
        .await
        .expect("longitude filled by the click");
    let picked = d
        .exec(
            "var p = window.fhPick, c = p.map.getCenter(), m = p.marker().getLatLng();
             var here = p.map.latLngToContainerPoint(m), mid = p.map.latLngToContainerPoint(c);
             return {lon: document.getElementById('f-lon').value, lat: document.getElementById('f-lat').value,
                     mlon: m.lng, mlat: m.lat, dx: here.x - mid.x, dy: here.y - mid.y};",
            json!([]),
        )
        .await
        .expect("picked");
    let num = |v: &Value, k: &str| -> f64 {
        v[k].as_f64()
            .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(f64::NAN)
    };
    let (lon, lat) = (num(&picked, "lon"), num(&picked, "lat"));
    assert!((lon - num(&picked, "mlon")).abs() < 1e-6, "{picked}");
    assert!((lat - num(&picked, "mlat")).abs() < 1e-6, "{picked}");
    assert!(
        num(&picked, "dx").abs() <= 2.0 && num(&picked, "dy").abs() <= 2.0,
        "the marker is where the click was: {picked}"
    );
    assert!(
        (117.9..118.1).contains(&lon) && (25.1..25.3).contains(&lat),
        "{picked}"
    );
    d.screenshot("site-form-picked").await.expect("shot");
    d.click_css("#save").await.expect("save");
    d.wait_for("#saved", 10).await.expect("saved site page");
    let site_url = d.url().await.expect("url");
    let site_id: i64 = site_url
        .rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .and_then(|s| s.parse().ok())
        .expect("site id in the URL");
    let (s, site) = app.get(&format!("/api/v1/sites/{site_id}")).await;
    assert_eq!(s, StatusCode::OK, "{site}");
    let loc = &site["location"];
    assert!(
        (loc["lon"].as_f64().unwrap_or(0.0) - lon).abs() < 1e-6
            && (loc["lat"].as_f64().unwrap_or(0.0) - lat).abs() < 1e-6,
        "stored {loc}, picked {lon} {lat}"
    );
    // Typed numbers move the marker.
    d.goto(&format!("{base}/sites/{site_id}/edit"))
        .await
        .expect("edit");
    d.wait_until(
        "var m = document.getElementById('pick-map'); return !!m && m.getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("the form's map");
    d.fill("#f-lon", "117.991").await.expect("lon");
    d.fill("#f-lat", "25.181").await.expect("lat");
    d.exec(
        "document.getElementById('f-lat').dispatchEvent(new Event('change'))",
        json!([]),
    )
    .await
    .expect("change");
    let moved = d
        .exec(
            "var m = window.fhPick.marker().getLatLng(); return [m.lng, m.lat];",
            json!([]),
        )
        .await
        .expect("marker");
    assert_eq!(moved, json!([117.991, 25.181]));
    // "Use my location": the browser's answer (a phone's GPS, stubbed here)
    // fills both inputs and moves the marker.
    d.exec(
        "navigator.geolocation.getCurrentPosition = function (ok) {
           setTimeout(function () { ok({coords: {latitude: 25.1834567, longitude: 117.9876543, accuracy: 8}}); }, 10);
         };",
        json!([]),
    )
    .await
    .expect("stub");
    d.click_css("#pick-here").await.expect("use my location");
    d.wait_until(
        "return document.getElementById('f-lon').value === '117.987654'",
        10,
    )
    .await
    .expect("longitude from the location");
    assert_eq!(d.value_of("#f-lat").await.expect("lat"), "25.183457");
    let status = d.text_of("#pick-status").await.expect("status");
    assert!(status.contains("±8 m"), "{status}");

    // ---- A boundary drawn on the village form ----
    d.goto(&format!("{base}/villages/new"))
        .await
        .expect("new village");
    d.wait_until(
        "var m = document.getElementById('draw-map'); return !!m && m.getAttribute('data-ready') === '1'",
        15,
    )
    .await
    .expect("the boundary map");
    // The map fits the villages when they arrive, animated: let that end
    // before the test moves the view itself.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    d.fill("#f-code", "V03").await.expect("code");
    d.fill("#f-name", "湖北村").await.expect("name");
    d.exec(
        "document.getElementById('draw-map').scrollIntoView({block: 'center'})",
        json!([]),
    )
    .await
    .expect("scroll");
    // The plugin's own polygon button, then mouse clicks on the map: four
    // corners north of the two villages, and the first corner again to finish.
    d.click_css("#draw-map .leaflet-pm-icon-polygon")
        .await
        .expect("polygon tool");
    let corners = json!([
        [25.205, 117.962],
        [25.205, 117.985],
        [25.22, 117.99],
        [25.222, 117.965]
    ]);
    d.exec(
        "window.fhDraw.map.fitBounds([[25.2, 117.955], [25.227, 117.995]], {animate: false})",
        json!([]),
    )
    .await
    .expect("view");
    // Clicking the tool may have scrolled the page (a taller header wraps
    // the navigation): the whole map back in the window before its pixels
    // are read.
    d.exec(
        "document.getElementById('draw-map').scrollIntoView({block: 'center'})",
        json!([]),
    )
    .await
    .expect("scroll");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let points = d.exec(VIEWPORT, json!([corners])).await.expect("points");
    let points: Vec<(i64, i64)> = points
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p[0].as_i64().unwrap_or(0), p[1].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(points.len(), 4);
    for (x, y) in points.iter().chain(points.first()) {
        d.click_at(*x, *y).await.expect("click on the map");
    }
    let drawn = d
        .exec(
            "var out = [];
             window.fhDraw.shapes.eachLayer(function (l) {
               out.push(l.getLatLngs()[0].map(function (p) { return [p.lng, p.lat]; }));
             });
             return out;",
            json!([]),
        )
        .await
        .expect("drawn");
    let drawn = drawn.as_array().cloned().unwrap_or_default();
    assert_eq!(drawn.len(), 1, "one polygon drawn: {drawn:?}");
    let ring = drawn[0].as_array().cloned().unwrap_or_default();
    assert_eq!(ring.len(), 4, "four corners: {ring:?}");
    // Where the clicks were, to a pixel or so (here about 1e-4 degree).
    for (p, c) in ring.iter().zip(corners.as_array().into_iter().flatten()) {
        let (x, y) = (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0));
        let (cx, cy) = (c[1].as_f64().unwrap_or(0.0), c[0].as_f64().unwrap_or(0.0));
        assert!((x - cx).abs() < 2e-4 && (y - cy).abs() < 2e-4, "{p} vs {c}");
    }
    let text = d.value_of("#f-boundary").await.expect("textarea");
    let geo: Value = serde_json::from_str(&text).expect("the textarea holds GeoJSON");
    assert_eq!(geo["type"], "Polygon", "{geo}");
    d.screenshot("village-form-drawn-1366x768")
        .await
        .expect("shot");
    d.click_css("#village-form button[type=submit]")
        .await
        .expect("save");
    d.wait_until("return /\\/villages\\/\\d+$/.test(location.pathname)", 10)
        .await
        .expect("village page after saving");
    let url = d.url().await.expect("url");
    let vid: i64 = url
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("village id");
    let (s, v) = app.get(&format!("/api/v1/villages/{vid}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["boundary"]["type"], "Polygon", "{v}");
    let stored = v["boundary"]["coordinates"][0]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(stored.len(), ring.len() + 1, "a closed ring: {stored:?}");
    assert_eq!(stored.first(), stored.last());
    for (s, p) in stored.iter().zip(&ring) {
        for k in 0..2 {
            let (a, b) = (s[k].as_f64().unwrap_or(0.0), p[k].as_f64().unwrap_or(9.0));
            assert!((a - b).abs() <= 1e-6, "stored {s} drawn {p}");
        }
    }

    // The edit form shows it for editing: a corner dragged with the plugin's
    // edit tool moves in the textarea and is saved.
    let ready = "var m = document.getElementById('draw-map'); return !!m && m.getAttribute('data-ready') === '1'";
    d.goto(&format!("{base}/villages/{vid}/edit"))
        .await
        .expect("edit village");
    d.wait_until(ready, 15).await.expect("the boundary map");
    let loaded = d
        .exec(
            "var n = []; window.fhDraw.shapes.eachLayer(function (l) { n.push(l.getLatLngs()[0].length); }); return n;",
            json!([]),
        )
        .await
        .expect("loaded");
    assert_eq!(loaded, json!([4]));
    d.exec(
        "document.getElementById('draw-map').scrollIntoView({block: 'center'});
         var f = window.fhDraw; f.map.fitBounds(f.shapes.getBounds(), {padding: [40, 40], animate: false});",
        json!([]),
    )
    .await
    .expect("view");
    d.screenshot("village-form-edit-1366x768")
        .await
        .expect("shot");
    d.click_css("#draw-map .leaflet-pm-icon-edit")
        .await
        .expect("edit tool");
    let third = d
        .exec(
            "var p = window.fhDraw.shapes.getLayers()[0].getLatLngs()[0][2]; return [[p.lat, p.lng]];",
            json!([]),
        )
        .await
        .expect("corner");
    let at = d
        .exec(VIEWPORT, json!([third]))
        .await
        .expect("corner on screen");
    let (x, y) = (
        at[0][0].as_i64().unwrap_or(0),
        at[0][1].as_i64().unwrap_or(0),
    );
    d.drag((x, y), (x + 40, y + 25))
        .await
        .expect("drag the corner");
    d.click_css("#draw-map .leaflet-pm-icon-edit")
        .await
        .expect("edit tool off");
    let edited = d
        .exec(
            "var r = window.fhDraw.shapes.getLayers()[0].getLatLngs()[0];
             return r.map(function (p) { return [p.lng, p.lat]; });",
            json!([]),
        )
        .await
        .expect("edited");
    let edited = edited.as_array().cloned().unwrap_or_default();
    assert_eq!(edited.len(), 4, "{edited:?}");
    assert!(
        edited[2][0].as_f64().unwrap_or(0.0) > ring[2][0].as_f64().unwrap_or(0.0) + 1e-4
            && edited[2][1].as_f64().unwrap_or(0.0) < ring[2][1].as_f64().unwrap_or(0.0) - 1e-4,
        "the corner moved right and down: {edited:?} from {ring:?}"
    );
    let text = d.value_of("#f-boundary").await.expect("textarea");
    assert!(
        text.contains(&format!("{:.4}", edited[2][0].as_f64().unwrap_or(0.0))),
        "{text}"
    );
    d.click_css("#village-form button[type=submit]")
        .await
        .expect("save");
    d.wait_until("return /\\/villages\\/\\d+$/.test(location.pathname)", 10)
        .await
        .expect("village page after saving");
    let (_, v) = app.get(&format!("/api/v1/villages/{vid}")).await;
    let stored = v["boundary"]["coordinates"][0]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(stored.len(), 5, "{v}");
    for (s, p) in stored.iter().zip(&edited) {
        for k in 0..2 {
            let (a, b) = (s[k].as_f64().unwrap_or(0.0), p[k].as_f64().unwrap_or(9.0));
            assert!((a - b).abs() <= 1e-6, "stored {s} edited {p}");
        }
    }

    // On a phone.
    d.set_window_size(390, 844).await.expect("phone");
    d.goto(&format!("{base}/villages/{vid}/edit"))
        .await
        .expect("edit village");
    d.wait_until(ready, 15)
        .await
        .expect("the boundary map on a phone");
    d.exec(
        "document.getElementById('draw-map').scrollIntoView({block: 'start'})",
        json!([]),
    )
    .await
    .expect("scroll");
    d.screenshot("village-form-390x844").await.expect("shot");
    d.set_window_size(1366, 768).await.expect("window size");

    // Removed with the plugin's delete tool, the textarea empties; saving
    // then is refused with a message beside the boundary.
    d.goto(&format!("{base}/villages/{vid}/edit"))
        .await
        .expect("edit village");
    d.wait_until(ready, 15).await.expect("the boundary map");
    d.exec(
        "document.getElementById('draw-map').scrollIntoView({block: 'center'});
         var f = window.fhDraw; f.map.fitBounds(f.shapes.getBounds(), {padding: [40, 40], animate: false});",
        json!([]),
    )
    .await
    .expect("view");
    d.click_css("#draw-map .leaflet-pm-icon-delete")
        .await
        .expect("delete tool");
    let mid = d
        .exec(
            "var c = window.fhDraw.shapes.getLayers()[0].getCenter(); return [[c.lat, c.lng]];",
            json!([]),
        )
        .await
        .expect("centre");
    let at = d
        .exec(VIEWPORT, json!([mid]))
        .await
        .expect("centre on screen");
    d.click_at(
        at[0][0].as_i64().unwrap_or(0),
        at[0][1].as_i64().unwrap_or(0),
    )
    .await
    .expect("click the polygon");
    assert_eq!(d.value_of("#f-boundary").await.expect("textarea"), "");
    d.click_css("#village-form button[type=submit]")
        .await
        .expect("save");
    let err = d
        .wait_for("#err-boundary", 10)
        .await
        .expect("boundary error");
    let msg = d.text(&err).await.expect("text");
    assert!(msg.contains("边界"), "{msg}");
    let (_, v) = app.get(&format!("/api/v1/villages/{vid}")).await;
    assert_eq!(
        v["boundary"]["coordinates"][0].as_array().map(Vec::len),
        Some(5)
    );

    // The map page itself loads no drawing plugin.
    let r = web.get("/map").await;
    assert!(
        !r.body.contains("leaflet-geoman"),
        "the map page loads no drawing plugin"
    );
    d.quit().await;
    app.stop().await;
}

/// Every file under assets/vendor/ is listed in assets/vendor/README.md with
/// its package, version and licence file, is embedded (src/web/assets.rs),
/// and so is its licence; nothing listed is missing.
#[test]
fn every_vendored_file_is_listed_with_its_licence() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vendor");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("assets/vendor/README.md");
    let mut listed: Vec<(String, String)> = Vec::new();
    for line in readme.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | file | package | version | licence | licence file |
        if cells.len() == 7 && cells[1] != "file" && !cells[1].starts_with("---") {
            assert!(
                !cells[2].is_empty() && !cells[3].is_empty() && !cells[4].is_empty(),
                "{line}"
            );
            listed.push((cells[1].to_string(), cells[5].to_string()));
        }
    }
    assert!(listed.len() >= 2, "{readme}");
    let embedded: Vec<&str> = fenghuo::web::assets::FILES
        .iter()
        .map(|(n, _, _)| *n)
        .collect();
    let mut on_disk = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Ok(rel) = p.strip_prefix(&root) {
                on_disk.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let licences: Vec<&str> = listed.iter().map(|(_, l)| l.as_str()).collect();
    for f in &on_disk {
        if f == "README.md" {
            continue;
        }
        assert!(
            listed.iter().any(|(n, _)| n == f) || licences.contains(&f.as_str()),
            "assets/vendor/{f} is not listed in assets/vendor/README.md"
        );
        let asset = format!("vendor/{f}");
        assert!(
            embedded.contains(&asset.as_str()),
            "assets/vendor/{f} is not embedded"
        );
    }
    for (file, licence) in &listed {
        assert!(on_disk.contains(file), "{file} is listed but missing");
        assert!(
            on_disk.contains(licence),
            "{file}: its licence {licence} is missing"
        );
        let text = std::fs::read_to_string(root.join(licence)).expect("licence");
        assert!(
            text.contains("Permission") || text.contains("Redistribution"),
            "{licence} is a licence text"
        );
    }
    for n in &embedded {
        if let Some(f) = n.strip_prefix("vendor/") {
            assert!(
                on_disk.iter().any(|d| d == f),
                "{n} embedded but not on disk"
            );
        }
    }
}

/// The boundary and location maps are on the forms, with the plugin only
/// where boundaries are drawn; the map data names each site's icon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_carry_their_maps_and_the_data_its_icons() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let (v1, _) = seed(&app).await;
    let web = Web::new(&app.base);
    web.sign_in("wang", PASSWORD).await;
    for (page, map, plugin) in [
        ("/sites/new".to_string(), "id=\"pick-map\"", false),
        ("/shelters/new".to_string(), "id=\"pick-map\"", false),
        ("/villages/new".to_string(), "id=\"draw-map\"", true),
        (format!("/villages/{v1}/edit"), "id=\"draw-map\"", true),
    ] {
        let r = web.get(&page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains(map), "{page}");
        assert!(r.body.contains("用我的位置") || plugin, "{page}");
        assert_eq!(r.body.contains("leaflet-geoman.min.js"), plugin, "{page}");
        assert!(r.body.contains("mapform.js"), "{page}");
    }
    let r = web.get(&format!("/villages/{v1}/edit")).await;
    assert!(r.body.contains(&format!("data-self=\"{v1}\"")));
    let r = web.get("/web/map.json").await;
    let data: Value = serde_json::from_str(&r.body).expect("json");
    for s in data["sites"].as_array().into_iter().flatten() {
        let icon = s["icon"].as_str().unwrap_or("");
        assert!(
            icon.starts_with("/assets/icons/") && icon.contains(".svg?v="),
            "{s}"
        );
        let r = web.get(icon).await;
        assert_eq!(r.status, StatusCode::OK, "{icon}");
        assert!(r.body.contains("<svg"), "{icon}");
    }
    let shelter = data["icons"]["shelter"].as_str().unwrap_or("");
    assert!(shelter.starts_with("/assets/icons/shelter.svg"), "{data}");
    assert_eq!(data["shelters"][0]["village_id"], json!(v1), "{data}");
    app.stop().await;
}

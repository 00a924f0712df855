//! Static files, embedded in the binary so the dashboard works with no
//! internet and no files beside the daemon. URLs carry a content hash, so a
//! browser may keep them for a year and still never sees a stale copy.

use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    (
        "print.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/print.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/map.js"),
    ),
    (
        "public.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/public.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/favicon.svg"),
    ),
    (
        "vendor/leaflet/leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.js"),
    ),
    (
        "vendor/leaflet/leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/leaflet.css"),
    ),
    (
        "vendor/leaflet/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet/LICENSE"),
    ),
    (
        "vendor/leaflet/images/layers.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/layers.png"),
    ),
    (
        "vendor/leaflet/images/layers-2x.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/layers-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-icon.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon-2x.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-icon-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-shadow.png",
        "image/png",
        include_bytes!("../../assets/vendor/leaflet/images/marker-shadow.png"),
    ),
    (
        "map.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/map.css"),
    ),
    (
        "mapform.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/mapform.js"),
    ),
    (
        "icons/fireworks.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/fireworks.svg"),
    ),
    (
        "icons/fuel-station.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/fuel-station.svg"),
    ),
    (
        "icons/lpg.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/lpg.svg"),
    ),
    (
        "icons/pond.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/pond.svg"),
    ),
    (
        "icons/quarry.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/quarry.svg"),
    ),
    (
        "icons/hazchem-production.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/hazchem-production.svg"),
    ),
    (
        "icons/hazchem-storage.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/hazchem-storage.svg"),
    ),
    (
        "icons/hazchem-trade.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/hazchem-trade.svg"),
    ),
    (
        "icons/hazchem-use.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/hazchem-use.svg"),
    ),
    (
        "icons/shelter.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/shelter.svg"),
    ),
    (
        "icons/village.svg",
        "image/svg+xml",
        include_bytes!("../../assets/icons/village.svg"),
    ),
    (
        "vendor/leaflet-geoman/leaflet-geoman.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet-geoman/leaflet-geoman.min.js"),
    ),
    (
        "vendor/leaflet-geoman/leaflet-geoman.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet-geoman/leaflet-geoman.css"),
    ),
    (
        "vendor/leaflet-geoman/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/leaflet-geoman/LICENSE"),
    ),
    (
        "vendor/README.md",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/vendor/README.md"),
    ),
];

/// One hash over every file: changes whenever any asset does.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for (name, _, bytes) in FILES {
            h.update(name.as_bytes());
            h.update(bytes);
        }
        hex::encode(&h.finalize()[..6])
    })
}

pub fn url(name: &str) -> String {
    format!("/assets/{name}?v={}", version())
}

pub async fn serve(Path(path): Path<String>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((_, ctype, bytes)) = FILES.iter().find(|(n, _, _)| *n == path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // Versioned URLs never change; others (Leaflet's own image lookups) are
    // kept for a day.
    let cache = if q.iter().any(|(k, v)| k == "v" && v == version()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=86400"
    };
    (
        [
            (header::CONTENT_TYPE, *ctype),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *bytes,
    )
        .into_response()
}

/// `/favicon.ico`, which browsers ask for whatever a page links: the SVG
/// icon (every current browser takes it under that name), so no console shows
/// a 404 for it.
pub async fn favicon() -> Response {
    let bytes: &'static [u8] = include_bytes!("../../assets/favicon.svg");
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

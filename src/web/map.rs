//! The map: village boundaries and ledger sites coloured by risk grade,
//! drawn by the vendored Leaflet from GeoJSON served here. No tile server is
//! needed; one is used only when `map_tile_url` is configured.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::html::{E, Nav, Page, grade_label, kind_label, status_label};
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::sites::{self, RiskGrade};
use crate::registry::villages;

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q =
        super::html::FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut b = String::new();
    let _ = write!(
        b,
        "<div class=\"head\"><h1>{}</h1><div class=\"legend\">",
        ctx.t("地图", "Map")
    );
    for g in ["major", "significant", "general", "low"] {
        let c = RiskGrade::parse(g).map_or("grey", RiskGrade::colour);
        let _ = write!(
            b,
            "<span><i class=\"dot {c}\"></i>{}</span>",
            grade_label(lang, g)
        );
    }
    let _ = write!(
        b,
        "<span><i class=\"area\"></i>{}</span><span><i class=\"shelter-icon\">⛺</i>{}</span></div></div>\
         <div class=\"mapwrap\"><div id=\"map\" data-src=\"/web/map.json\" data-tiles=\"{}\" data-site=\"{}\" data-village=\"{}\" \
         data-l-details=\"{}\" data-l-population=\"{}\" data-l-none=\"{}\" data-l-shelter=\"{}\" data-l-capacity=\"{}\" role=\"application\" aria-label=\"{}\"></div>\
         <aside class=\"maplist\"><input type=\"search\" id=\"map-filter\" placeholder=\"{}\" aria-label=\"{}\"><ul id=\"map-sites\"></ul></aside></div>",
        ctx.t("村界", "Village boundary"),
        ctx.t("避灾点", "Shelter"),
        E(&s.cfg.map_tile_url),
        E(q.get("site")),
        E(q.get("village")),
        ctx.t("查看详情", "Details"),
        ctx.t("人口", "Population"),
        ctx.t(
            "无位置的场所不显示在地图上。",
            "Sites without a location are not on the map."
        ),
        ctx.t("避灾点", "Shelter"),
        ctx.t("容量", "capacity"),
        ctx.t("场所和村界地图", "Map of sites and village boundaries"),
        ctx.t("筛选场所…", "Filter sites…"),
        ctx.t("筛选场所", "Filter sites"),
    );
    let head = format!(
        "<link rel=\"stylesheet\" href=\"{}\">",
        super::assets::url("vendor/leaflet/leaflet.css")
    );
    let mut p = Page::new(ctx.t("地图", "Map"), Nav::Map, b);
    p.head = &head;
    p.scripts = &["vendor/leaflet/leaflet.js", "map.js"];
    Ok(p.render(&ctx))
}

/// Villages as a GeoJSON FeatureCollection, sites as points with what the
/// popup shows (labels already in the page's language).
pub async fn data(State(s): State<AppState>, ctx: Ctx) -> WebResult<Json<Value>> {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let vs = villages::list(&s.db, false).await?;
    let features: Vec<Value> = vs
        .iter()
        .map(|v| {
            json!({
                "type": "Feature",
                "geometry": serde_json::from_str::<Value>(&v.boundary).unwrap_or(Value::Null),
                "properties": {"id": v.id, "code": v.code, "name": v.name, "population": v.population},
            })
        })
        .collect();
    let names: std::collections::HashMap<i64, &str> =
        vs.iter().map(|v| (v.id, v.name.as_str())).collect();
    let (rows, _) = sites::search(&s.db, &sites::Filter::default(), 100_000, 0, s.tz).await?;
    let sites: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            let (lon, lat) = (r.lon?, r.lat?);
            Some(json!({
                "id": r.id,
                "name": r.name,
                "lon": lon,
                "lat": lat,
                "kind": kind_label(lang, &r.kind),
                "grade": grade_label(lang, &r.risk_grade),
                "colour": RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour),
                "status": status_label(lang, &r.status),
                "village": r.village_id.and_then(|v| names.get(&v).copied()),
            }))
        })
        .collect();
    Ok(Json(json!({
        "villages": {"type": "FeatureCollection", "features": features},
        "sites": sites,
        "shelters": super::plans::shelters(&s).await,
    })))
}

//! The map: village boundaries and ledger sites coloured by risk grade,
//! drawn by the vendored Leaflet from GeoJSON served here. No tile server is
//! needed; one is used only when `map_tile_url` is configured.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{FormData, Nav, Shell, grade_label, kind_label, render, status_label};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::sites::{self, RiskGrade};
use crate::registry::shelters::ShelterStatus;
use crate::registry::villages;

#[derive(Template)]
#[template(path = "map/page.html")]
struct MapPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    legend: Vec<(&'static str, &'static str)>,
    tiles: &'a str,
    site: &'a str,
    village: &'a str,
}

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let legend = ["major", "significant", "general", "low"]
        .into_iter()
        .map(|g| {
            (
                RiskGrade::parse(g).map_or("grey", RiskGrade::colour),
                grade_label(lang, g),
            )
        })
        .collect();
    let mut shell = Shell::new(&ctx, ctx.t("地图", "Map"), Nav::Map);
    shell.styles = &["vendor/leaflet/leaflet.css"];
    shell.scripts = &["vendor/leaflet/leaflet.js", "map.js"];
    Ok(render(
        StatusCode::OK,
        &MapPage {
            shell,
            lang,
            legend,
            tiles: &s.cfg.map_tile_url,
            site: q.get("site"),
            village: q.get("village"),
        },
    ))
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
        "shelters": shelters(&s, lang, &names).await?,
    })))
}

/// The shelter register, for the map: every shelter not archived, with its
/// code, manager, phone and status in the popup.
async fn shelters(
    s: &AppState,
    lang: Lang,
    names: &std::collections::HashMap<i64, &str>,
) -> WebResult<Vec<Value>> {
    let rows =
        crate::registry::shelters::list(&s.db, &crate::registry::shelters::Filter::default())
            .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let status = ShelterStatus::parse(&r.status)
                .map_or("", |st| lang.t(st.label_zh(), st.label_en()));
            let manager = [r.manager.as_deref(), r.phone.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            json!({
                "code": r.code,
                "name": r.name,
                "village": r.village_id.and_then(|v| names.get(&v).copied()).unwrap_or(""),
                "capacity": r.capacity,
                "lon": r.lon,
                "lat": r.lat,
                "detail": format!("{} · {status} · {}{manager}", r.code, lang.t("管理员 ", "manager ")),
                "address": r.address,
            })
        })
        .collect())
}

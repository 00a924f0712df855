//! The map: village boundaries with their names, ledger sites (an icon per
//! kind, ringed in the colour of their risk grade) and shelters, drawn by the
//! vendored Leaflet from GeoJSON served here. No tile server is needed; one is
//! used only when `map_tile_url` is configured. The same data gives the small
//! maps on the site, shelter and village forms their context.

use super::Scoped;
use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{FormData, Nav, Shell, asset, grade_label, kind_label, render, status_label};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::sites::{self, RiskGrade, SiteKind};
use crate::registry::shelters::ShelterStatus;
use crate::registry::villages;

#[derive(Template)]
#[template(path = "map/page.html")]
struct MapPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    legend: Vec<(&'static str, &'static str)>,
    /// Each kind's icon (its asset URL) and name, for the legend and the filter.
    kinds: Vec<(String, String, &'static str)>,
    tiles: &'a str,
    site: &'a str,
    village: &'a str,
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
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
    let kinds = SiteKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                asset(kind_icon(k.as_str())),
                kind_label(lang, k.as_str()),
            )
        })
        .collect();
    let mut shell = Shell::new(&ctx, ctx.t("地图", "Map"), Nav::Map);
    shell.styles = &["vendor/leaflet/leaflet.css", "map.css"];
    shell.scripts = &["vendor/leaflet/leaflet.js", "map.js"];
    Ok(render(
        StatusCode::OK,
        &MapPage {
            shell,
            lang,
            legend,
            kinds,
            tiles: &s.cfg.map_tile_url,
            site: q.get("site"),
            village: q.get("village"),
        },
    ))
}

/// Villages as a GeoJSON FeatureCollection, sites as points with what the
/// popup shows (labels already in the page's language).
pub async fn data(Scoped(s): Scoped, ctx: Ctx) -> WebResult<Json<Value>> {
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
                "kind_code": r.kind,
                "icon": asset(kind_icon(&r.kind)),
                "grade": grade_label(lang, &r.risk_grade),
                "colour": RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour),
                "status": status_label(lang, &r.status),
                "village": r.village_id.and_then(|v| names.get(&v).copied()),
                "village_id": r.village_id,
            }))
        })
        .collect();
    Ok(Json(json!({
        "tiles": s.cfg.map_tile_url,
        "icons": {"shelter": asset(SHELTER_ICON), "village": asset(VILLAGE_ICON)},
        "villages": {"type": "FeatureCollection", "features": features},
        "sites": sites,
        "shelters": shelters(&s, lang, &names).await?,
        "zones": danger_zones(&s, lang, &names).await?,
    })))
}

/// The danger zones: a marker at each (its point, or the middle of its
/// polygon, whose outline is drawn too), with its kind and people.
async fn danger_zones(
    s: &AppState,
    lang: Lang,
    names: &std::collections::HashMap<i64, &str>,
) -> WebResult<Vec<Value>> {
    use crate::transfer::zones;
    let counts = zones::counts(&s.db).await?;
    let rows = zones::list(&s.db, &zones::Filter::default()).await?;
    Ok(rows
        .iter()
        .filter_map(|z| {
            let (lon, lat) = z.marker()?;
            let (h, p, v) = counts.get(&z.id).copied().unwrap_or_default();
            let geometry = z.geometry();
            let polygon = geometry.get("type").and_then(Value::as_str) != Some("Point");
            Some(json!({
                "id": z.id,
                "code": z.code,
                "name": z.name,
                "kind": lang.t(zones::kind_zh(&z.kind), &z.kind),
                "village": names.get(&z.village_id).copied(),
                "village_id": z.village_id,
                "lon": lon,
                "lat": lat,
                "outline": if polygon { geometry } else { Value::Null },
                "people": format!("{h}{}{p}{}{v}", lang.t("户", " households, "), lang.t("人，需帮扶", " people, vulnerable ")),
                "label": lang.t("危险区", "danger zone"),
            }))
        })
        .collect())
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
                "id": r.id,
                "code": r.code,
                "name": r.name,
                "village": r.village_id.and_then(|v| names.get(&v).copied()).unwrap_or(""),
                "village_id": r.village_id,
                "capacity": r.capacity,
                "lon": r.lon,
                "lat": r.lat,
                "detail": format!("{} · {status} · {}{manager}", r.code, lang.t("管理员 ", "manager ")),
                "address": r.address,
            })
        })
        .collect())
}

/// The shell of a form with a location map (templates/map/pick.html).
pub fn form_shell<'a>(ctx: &'a Ctx, title: &str, nav: Nav) -> Shell<'a> {
    let mut shell = Shell::new(ctx, title, nav);
    shell.styles = &["vendor/leaflet/leaflet.css", "map.css"];
    shell.scripts = &["vendor/leaflet/leaflet.js", "mapform.js"];
    shell
}

pub const SHELTER_ICON: &str = "icons/shelter.svg";
pub const VILLAGE_ICON: &str = "icons/village.svg";

/// The icon (an embedded SVG) of a site of `kind`: one per kind of work, the
/// risk grade being the colour of the ring the map draws round it.
pub fn kind_icon(kind: &str) -> &'static str {
    match SiteKind::parse(kind) {
        Some(SiteKind::HazchemProduction) => "icons/hazchem-production.svg",
        Some(SiteKind::HazchemStorage) => "icons/hazchem-storage.svg",
        Some(SiteKind::HazchemTradeWithStorage | SiteKind::HazchemTradeWithoutStorage) => {
            "icons/hazchem-trade.svg"
        }
        Some(SiteKind::HazchemUse) => "icons/hazchem-use.svg",
        Some(SiteKind::NonCoalMine) => "icons/quarry.svg",
        Some(SiteKind::FuelStation) => "icons/fuel-station.svg",
        Some(SiteKind::LpgSupplyPoint) => "icons/lpg.svg",
        Some(SiteKind::PondReservoir) => "icons/pond.svg",
        Some(SiteKind::FireworksWholesale | SiteKind::FireworksRetail) | None => {
            "icons/fireworks.svg"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_icon_is_an_embedded_svg() {
        let mut names: Vec<&str> = SiteKind::ALL
            .iter()
            .map(|k| kind_icon(k.as_str()))
            .collect();
        names.extend([SHELTER_ICON, VILLAGE_ICON, kind_icon("no such kind")]);
        for n in names {
            let file = crate::web::assets::FILES.iter().find(|(f, _, _)| *f == n);
            let Some((_, ctype, bytes)) = file else {
                panic!("{n} is not embedded");
            };
            assert_eq!(*ctype, "image/svg+xml", "{n}");
            let text = std::str::from_utf8(bytes).unwrap_or("");
            assert!(text.trim_start().starts_with("<svg"), "{n}");
        }
    }
}

//! Sites, inspections, findings and the worklist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Page, Query, Routes, ep};
use crate::auth::{Actor, Role};
use crate::ledger::inspections::{self, CloseInput, FindingStep, RectifyInput};
use crate::ledger::sites::{self, Filter, RiskGrade, SiteKind, SiteStatus};
use crate::ledger::worklist;

const SITE_QUERY: &[&str] = &[
    "kind",
    "village_id",
    "risk_grade",
    "status",
    "expiring_within_days",
    "near_lon",
    "near_lat",
    "radius_m",
    "include_archived",
    "q",
    "page",
    "per_page",
];

pub fn mount(r: Routes) -> Routes {
    r.add(ep("GET", "/api/v1/sites", "viewer", "List ledger sites with filters").query(SITE_QUERY), get(list_sites).post(create_site))
        .doc(ep("POST", "/api/v1/sites", "editor", "Create a site").body("SiteInput"))
        .add(
            ep("POST", "/api/v1/sites/search", "viewer", "Sites inside a posted GeoJSON polygon, with the list filters")
                .body("{area: GeoJSON Polygon|MultiPolygon, kind?, village_id?, risk_grade?, status?, expiring_within_days?}")
                .query(&["page", "per_page"]),
            post(search_sites),
        )
        .add(ep("GET", "/api/v1/sites/{id}", "viewer", "One site"), get(get_site).put(update_site).delete(archive_site))
        .doc(ep("PUT", "/api/v1/sites/{id}", "editor", "Update a site (send the version you edited)").body("SiteInput"))
        .doc(ep("DELETE", "/api/v1/sites/{id}", "editor", "Archive a site (never deleted)").query(&["version"]))
        .add(ep("GET", "/api/v1/sites/{id}/inspections", "viewer", "Inspections of a site with their findings"), get(list_inspections).post(create_inspection))
        .doc(ep("POST", "/api/v1/sites/{id}/inspections", "editor", "Record an inspection and its findings").body("InspectionInput"))
        .add(ep("GET", "/api/v1/findings/{id}", "viewer", "One finding (hidden danger)"), get(get_finding))
        .add(ep("POST", "/api/v1/findings/{id}/rectify", "editor", "Record the rectification of a finding").body("{version, rectified_on, note?}"), post(rectify))
        .add(ep("POST", "/api/v1/findings/{id}/close", "editor", "Close out (销号) a rectified finding").body("{version, closed_on, closed_by}"), post(close))
        .add(ep("GET", "/api/v1/worklist", "viewer", "Expiring licences, overdue rectifications, sites not inspected for six months"), get(get_worklist))
}

fn filter_from_query(q: &Query, search_chars: usize) -> ApiResult<Filter> {
    let kind = q
        .text("kind")
        .map(|k| {
            SiteKind::parse(k)
                .ok_or_else(|| ApiError::invalid("kind", format!("unknown kind '{k}'")))
        })
        .transpose()?;
    let risk_grade = q
        .text("risk_grade")
        .map(|k| {
            RiskGrade::parse(k).ok_or_else(|| {
                ApiError::invalid(
                    "risk_grade",
                    format!("unknown risk grade '{k}'; use major, significant, general or low"),
                )
            })
        })
        .transpose()?;
    let status = q
        .text("status")
        .map(|k| {
            SiteStatus::parse(k).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("unknown status '{k}'; use active, suspended or closed"),
                )
            })
        })
        .transpose()?;
    let expiring = q.int("expiring_within_days")?;
    if let Some(d) = expiring
        && !(0..=3650).contains(&d)
    {
        return Err(ApiError::invalid(
            "expiring_within_days",
            "must be between 0 and 3650",
        ));
    }
    let near = match (
        q.float("near_lon")?,
        q.float("near_lat")?,
        q.float("radius_m")?,
    ) {
        (None, None, None) => None,
        (Some(lon), Some(lat), Some(r)) => {
            crate::validate::lon_lat("near_lon", lon, lat)?;
            if !(0.0..=200_000.0).contains(&r) {
                return Err(ApiError::invalid(
                    "radius_m",
                    "must be between 0 and 200000",
                ));
            }
            Some((lon, lat, r))
        }
        _ => {
            return Err(ApiError::invalid(
                "radius_m",
                "near_lon, near_lat and radius_m go together",
            ));
        }
    };
    Ok(Filter {
        kind,
        village_id: q.int("village_id")?,
        risk_grade,
        status,
        expiring_within_days: expiring,
        near,
        area: None,
        include_archived: q.flag("include_archived")?.unwrap_or(false),
        q: q.search(search_chars)?,
    })
}

async fn list_sites(State(s): State<AppState>, actor: Actor, q: Query) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(SITE_QUERY)?;
    let page = Page::from_query(&q)?;
    let f = filter_from_query(&q, s.cfg.limits.search_chars)?;
    let (rows, total) = sites::search(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(page.json(items, total)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    area: Value,
    #[serde(default)]
    kind: Option<SiteKind>,
    #[serde(default)]
    village_id: Option<i64>,
    #[serde(default)]
    risk_grade: Option<RiskGrade>,
    #[serde(default)]
    status: Option<SiteStatus>,
    #[serde(default)]
    expiring_within_days: Option<i64>,
    #[serde(default)]
    include_archived: bool,
}

async fn search_sites(
    State(s): State<AppState>,
    actor: Actor,
    q: Query,
    Body(input): Body<SearchInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&["page", "per_page"])?;
    let page = Page::from_query(&q)?;
    let area = crate::geometry::parse_area("area", &input.area, &s.cfg.limits.geo())?;
    let f = Filter {
        kind: input.kind,
        village_id: input.village_id,
        risk_grade: input.risk_grade,
        status: input.status,
        expiring_within_days: input.expiring_within_days,
        near: None,
        area: Some(area),
        include_archived: input.include_archived,
        q: None,
    };
    let (rows, total) = sites::search(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(page.json(items, total)))
}

async fn get_site(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let r = sites::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("site"))?;
    Ok(Json(json!(r.view(s.tz))))
}

async fn create_site(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<sites::SiteInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Editor)?;
    let r = sites::create(&s.db, &actor, input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(json!(r.view(s.tz)))))
}

async fn update_site(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<sites::SiteInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    let r = sites::update(&s.db, &actor, id, input, s.tz).await?;
    Ok(Json(json!(r.view(s.tz))))
}

async fn archive_site(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    q.only(&["version"])?;
    let r = sites::archive(&s.db, &actor, id, q.int("version")?, s.tz).await?;
    Ok(Json(json!(r.view(s.tz))))
}

async fn list_inspections(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    if sites::get(&s.db, id).await?.is_none() {
        return Err(ApiError::not_found("site"));
    }
    let items = inspections::list_for_site(&s.db, id).await?;
    Ok(Json(json!({ "items": items })))
}

async fn create_inspection(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<inspections::InspectionInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Editor)?;
    let i = inspections::create(&s.db, &actor, id, &input, s.tz).await?;
    Ok((StatusCode::CREATED, Json(json!(i))))
}

async fn get_finding(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let f = inspections::get_finding(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("finding"))?;
    Ok(Json(json!(f)))
}

async fn rectify(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<RectifyInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    let f = inspections::advance(&s.db, &actor, id, FindingStep::Rectify(input), s.tz).await?;
    Ok(Json(json!(f)))
}

async fn close(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<CloseInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    let f = inspections::advance(&s.db, &actor, id, FindingStep::Close(input), s.tz).await?;
    Ok(Json(json!(f)))
}

async fn get_worklist(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    Ok(Json(json!(worklist::build(&s.db, s.tz).await?)))
}

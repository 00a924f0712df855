//! Sites, inspections, findings and the worklist.

use super::extract::Scoped;
use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::registry::VersionQuery;
use super::{AppState, Items, Page, Paged};
use crate::auth::{Actor, Role};
use crate::ledger::inspections::{
    self, CloseInput, FindingRow, FindingStep, Inspection, InspectionInput, RectifyInput,
};
use crate::ledger::rectifications;
use crate::ledger::sites::{self, Filter, RiskGrade, Site, SiteInput, SiteKind, SiteStatus};
use crate::ledger::worklist::{self, Worklist};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(search_sites))
        .routes(routes!(get_site, update_site, archive_site))
        .routes(routes!(list_inspections, create_inspection))
        .routes(routes!(get_finding))
        .routes(routes!(rectify))
        .routes(routes!(close))
        .routes(routes!(get_worklist))
        .routes(routes!(sites_xlsx))
        .routes(routes!(list_findings))
        .routes(routes!(findings_xlsx))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FindingQuery {
    #[param(inline)]
    status: Option<rectifications::StatusFilter>,
    #[param(inline)]
    grade: Option<inspections::Grade>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// The hidden-danger rectification ledger (隐患整改台账): every finding of the
/// sites the asker may see, with its site, village and inspection, oldest
/// inspection first.
#[utoipa::path(get, path = "/api/v1/findings", tag = "ledger", security(("bearer" = ["viewer"])),
    params(FindingQuery), responses((status = 200, body = Paged<rectifications::LedgerFinding>)))]
async fn list_findings(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<FindingQuery>,
) -> ApiResult<Json<Paged<rectifications::LedgerFinding>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let f = rectifications::Filter {
        status: q.status,
        grade: q.grade,
    };
    let (items, total) = rectifications::list(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    Ok(Json(page.of(items, total)))
}

/// The same ledger as an Excel workbook, every page (`page` and `per_page` are checked, then ignored).
#[utoipa::path(get, path = "/api/v1/findings.xlsx", tag = "ledger", security(("bearer" = ["viewer"])),
    params(FindingQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn findings_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<FindingQuery>,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    // Checked as the list checks them, though the workbook holds every page.
    Page::new(q.page, q.per_page)?;
    let f = rectifications::Filter {
        status: q.status,
        grade: q.grade,
    };
    let (items, _) = rectifications::list(&s.db, &f, 1_000_000, 0, s.tz).await?;
    super::xlsx(
        rectifications::workbook(&super::heading(&s, &actor), &items),
        "findings.xlsx",
    )
}

/// The whole site ledger (the sites the asker may see, not archived) as an
/// Excel workbook: one row per site with licence and inventory, Chinese
/// headers, dates as dates, a title row naming who exported it and when.
#[utoipa::path(get, path = "/api/v1/sites.xlsx", tag = "ledger", security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn sites_xlsx(Scoped(s): Scoped, actor: Actor) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    let (rows, _) = sites::search(&s.db, &Filter::default(), 100_000, 0, s.tz).await?;
    let views: Vec<Site> = rows.iter().map(|r| r.view(s.tz)).collect();
    let villages = crate::registry::villages::names(&s.db).await?;
    let at = crate::transfer::board::zh_time(crate::store::now_ms(), s.tz);
    super::xlsx(
        crate::ledger::export::sites_workbook(
            &s.cfg.office_name,
            &views,
            &villages,
            &actor.name,
            &at,
        ),
        "sites.xlsx",
    )
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SiteQuery {
    /// One township's sites (another township's than the asker's: none).
    #[serde(default, deserialize_with = "query::int")]
    township_id: Option<i64>,
    #[param(inline)]
    kind: Option<SiteKind>,
    #[serde(default, deserialize_with = "query::int")]
    village_id: Option<i64>,
    #[param(inline)]
    risk_grade: Option<RiskGrade>,
    #[param(inline)]
    status: Option<SiteStatus>,
    /// Licences expiring within this many days (0–3650).
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 0, maximum = 3650)]
    expiring_within_days: Option<i64>,
    /// With near_lat and radius_m: sites within the circle.
    #[serde(default, deserialize_with = "query::float")]
    #[param(minimum = -180.0, maximum = 180.0)]
    near_lon: Option<f64>,
    #[serde(default, deserialize_with = "query::float")]
    #[param(minimum = -90.0, maximum = 90.0)]
    near_lat: Option<f64>,
    /// Metres, 0–200000.
    #[serde(default, deserialize_with = "query::float")]
    #[param(minimum = 0.0, maximum = 200000.0)]
    radius_m: Option<f64>,
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
    /// Search text: part of the name or address, or one of the site's phone
    /// numbers however it is typed.
    #[serde(default, deserialize_with = "query::text")]
    q: Option<String>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

fn expiring_ok(expiring: Option<i64>) -> ApiResult<Option<i64>> {
    if let Some(d) = expiring
        && !(0..=3650).contains(&d)
    {
        return Err(ApiError::invalid(
            "expiring_within_days",
            "must be between 0 and 3650",
        ));
    }
    Ok(expiring)
}

fn filter_from_query(q: SiteQuery, search_chars: usize) -> ApiResult<Filter> {
    let expiring = expiring_ok(q.expiring_within_days)?;
    let near = match (q.near_lon, q.near_lat, q.radius_m) {
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
        township_id: q.township_id,
        kind: q.kind,
        village_id: q.village_id,
        risk_grade: q.risk_grade,
        status: q.status,
        expiring_within_days: expiring,
        near,
        area: None,
        include_archived: q.include_archived.unwrap_or(false),
        q: query::search(&q.q, search_chars)?,
    })
}

/// List ledger sites with filters.
#[utoipa::path(get, path = "/api/v1/sites", tag = "ledger", security(("bearer" = ["viewer"])),
    params(SiteQuery), responses((status = 200, body = Paged<Site>)))]
async fn list_sites(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<SiteQuery>,
) -> ApiResult<Json<Paged<Site>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let f = filter_from_query(q, s.cfg.limits.search_chars)?;
    let (rows, total) =
        sites::list(&s.db, &s.figures, &f, page.limit(), page.offset(), s.tz).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(page.of(items, total)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SearchInput {
    /// A GeoJSON Polygon or MultiPolygon.
    #[schema(value_type = Object)]
    area: Value,
    /// One township's sites (another township's than the asker's: none).
    #[serde(default)]
    township_id: Option<i64>,
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

/// Sites inside a posted GeoJSON polygon, with the list filters.
#[utoipa::path(post, path = "/api/v1/sites/search", tag = "ledger", security(("bearer" = ["viewer"])),
    params(PageQuery), request_body = SearchInput, responses((status = 200, body = Paged<Site>)))]
async fn search_sites(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<PageQuery>,
    Body(input): Body<SearchInput>,
) -> ApiResult<Json<Paged<Site>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let area = crate::geometry::parse_area("area", &input.area, &s.cfg.limits.geo())?;
    let f = Filter {
        township_id: input.township_id,
        kind: input.kind,
        village_id: input.village_id,
        risk_grade: input.risk_grade,
        status: input.status,
        expiring_within_days: expiring_ok(input.expiring_within_days)?,
        near: None,
        area: Some(area),
        include_archived: input.include_archived,
        q: None,
    };
    let (rows, total) = sites::search(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(page.of(items, total)))
}

/// One site.
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Site)))]
async fn get_site(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Site>> {
    actor.require(Role::Viewer)?;
    let r = sites::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("site"))?;
    Ok(Json(r.view(s.tz)))
}

/// Create a site.
#[utoipa::path(post, path = "/api/v1/sites", tag = "ledger", security(("bearer" = ["editor"])),
    request_body = SiteInput, responses((status = 201, body = Site)))]
async fn create_site(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<SiteInput>,
) -> ApiResult<(StatusCode, Json<Site>)> {
    actor.require(Role::Editor)?;
    let r = sites::create(&s.db, &actor, input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(r.view(s.tz))))
}

/// Update a site (send the version you edited).
#[utoipa::path(put, path = "/api/v1/sites/{id}", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = SiteInput, responses((status = 200, body = Site)))]
async fn update_site(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<SiteInput>,
) -> ApiResult<Json<Site>> {
    actor.require(Role::Editor)?;
    let r = sites::update(&s.db, &actor, id, input, s.tz).await?;
    Ok(Json(r.view(s.tz)))
}

/// Archive a site (never deleted).
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Site)))]
async fn archive_site(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Site>> {
    actor.require(Role::Editor)?;
    let r = sites::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(r.view(s.tz)))
}

/// Inspections of a site with their findings.
#[utoipa::path(get, path = "/api/v1/sites/{id}/inspections", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<Inspection>)))]
async fn list_inspections(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<Inspection>>> {
    actor.require(Role::Viewer)?;
    if sites::get(&s.db, id).await?.is_none() {
        return Err(ApiError::not_found("site"));
    }
    let items = inspections::list_for_site(&s.db, id).await?;
    Ok(Json(Items { items }))
}

/// Record an inspection and its findings.
#[utoipa::path(post, path = "/api/v1/sites/{id}/inspections", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = InspectionInput, responses((status = 201, body = Inspection)))]
async fn create_inspection(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<InspectionInput>,
) -> ApiResult<(StatusCode, Json<Inspection>)> {
    actor.require(Role::Editor)?;
    let min = s.cfg.enforcement.min_inspectors;
    let i = inspections::create(&s.db, &actor, id, &input, min, s.tz).await?;
    Ok((StatusCode::CREATED, Json(i)))
}

/// One finding (hidden danger).
#[utoipa::path(get, path = "/api/v1/findings/{id}", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = FindingRow)))]
async fn get_finding(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<FindingRow>> {
    actor.require(Role::Viewer)?;
    let f = inspections::get_finding(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("finding"))?;
    Ok(Json(f))
}

/// Record the rectification of a finding.
#[utoipa::path(post, path = "/api/v1/findings/{id}/rectify", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = RectifyInput, responses((status = 200, body = FindingRow)))]
async fn rectify(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<RectifyInput>,
) -> ApiResult<Json<FindingRow>> {
    actor.require(Role::Editor)?;
    let f = inspections::advance(&s.db, &actor, id, FindingStep::Rectify(input), s.tz).await?;
    Ok(Json(f))
}

/// Close out (销号) a rectified finding.
#[utoipa::path(post, path = "/api/v1/findings/{id}/close", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = CloseInput, responses((status = 200, body = FindingRow)))]
async fn close(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<CloseInput>,
) -> ApiResult<Json<FindingRow>> {
    actor.require(Role::Editor)?;
    let f = inspections::advance(&s.db, &actor, id, FindingStep::Close(input), s.tz).await?;
    Ok(Json(f))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WorklistQuery {
    /// One township's items (another township's than the asker's: none).
    #[serde(default, deserialize_with = "query::int")]
    township_id: Option<i64>,
    /// The page of every section (from 1).
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    /// Items per section (1–500, 100 unless given).
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// Expiring licences, overdue rectifications, sites not inspected for six
/// months: each section's count and one page of it.
#[utoipa::path(get, path = "/api/v1/worklist", tag = "ledger", security(("bearer" = ["viewer"])),
    params(WorklistQuery), responses((status = 200, body = Worklist)))]
async fn get_worklist(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<WorklistQuery>,
) -> ApiResult<Json<Worklist>> {
    actor.require(Role::Viewer)?;
    if let Some(p) = q.page
        && !(1..=1_000_000).contains(&p)
    {
        return Err(ApiError::invalid("page", "must be between 1 and 1000000"));
    }
    if let Some(n) = q.per_page
        && !(1..=500).contains(&n)
    {
        return Err(ApiError::invalid("per_page", "must be between 1 and 500"));
    }
    let o = worklist::Options {
        township_id: q.township_id,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(worklist::DEFAULT_PER_PAGE),
    };
    Ok(Json(worklist::build(&s.db, &s.figures, s.tz, o).await?))
}

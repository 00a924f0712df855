//! Danger zones, the households in them, and transfers: order, return,
//! report, tick, check in, the board and the incident's table (JSON and
//! `.xlsx`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id, Scoped};
use super::query::{self, Params};
use super::registry::VersionQuery;
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::transfer::board::{self, Board, Table, Which};
use crate::transfer::households::{self, Household, HouseholdInput};
use crate::transfer::orders::{self, OrderInput, Ordered, ReturnInput};
use crate::transfer::progress::{self, CheckinInput, ReportInput, TickInput};
use crate::transfer::zones::{self, Zone, ZoneInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_zones, create_zone))
        .routes(routes!(get_zone, update_zone, archive_zone))
        .routes(routes!(list_households, create_household))
        .routes(routes!(get_household, update_household, archive_household))
        .routes(routes!(live_board, order_transfer))
        .routes(routes!(order_return))
        .routes(routes!(transfer_board))
        .routes(routes!(report_figures))
        .routes(routes!(tick_household))
        .routes(routes!(check_in))
        .routes(routes!(close_transfer))
        .routes(routes!(incident_table))
        .routes(routes!(incident_table_xlsx))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ZoneQuery {
    #[serde(default, deserialize_with = "query::int")]
    village_id: Option<i64>,
    /// flash_flood, geohazard … (or 山洪 …)
    kind: Option<String>,
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
}

/// List danger zones (危险区).
#[utoipa::path(get, path = "/api/v1/danger-zones", tag = "transfer", security(("bearer" = ["viewer"])),
    params(ZoneQuery), responses((status = 200, body = Counted<Zone>)))]
async fn list_zones(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ZoneQuery>,
) -> ApiResult<Json<Counted<Zone>>> {
    actor.require(Role::Viewer)?;
    let kind = match &q.kind {
        Some(k) => Some(
            zones::kind_code(k)
                .ok_or_else(|| ApiError::invalid("kind", format!("unknown kind '{k}'")))?,
        ),
        None => None,
    };
    let f = zones::Filter {
        village_id: q.village_id,
        kind,
        include_archived: q.include_archived.unwrap_or(false),
    };
    let items: Vec<_> = zones::list(&s.db, &f)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One danger zone.
#[utoipa::path(get, path = "/api/v1/danger-zones/{id}", tag = "transfer", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Zone)))]
async fn get_zone(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Zone>> {
    actor.require(Role::Viewer)?;
    let row = zones::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("danger zone"))?;
    Ok(Json(row.view(s.tz)))
}

/// Register a danger zone.
#[utoipa::path(post, path = "/api/v1/danger-zones", tag = "transfer", security(("bearer" = ["editor"])),
    request_body = ZoneInput, responses((status = 201, body = Zone)))]
async fn create_zone(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<ZoneInput>,
) -> ApiResult<(StatusCode, Json<Zone>)> {
    actor.require(Role::Editor)?;
    let row = zones::create(&s.db, &actor, &input, &s.cfg.limits.geo(), false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Update a danger zone (send the version you edited).
#[utoipa::path(put, path = "/api/v1/danger-zones/{id}", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = ZoneInput, responses((status = 200, body = Zone)))]
async fn update_zone(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ZoneInput>,
) -> ApiResult<Json<Zone>> {
    actor.require(Role::Editor)?;
    let row = zones::update(&s.db, &actor, id, &input, &s.cfg.limits.geo(), s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a danger zone.
#[utoipa::path(delete, path = "/api/v1/danger-zones/{id}", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Zone)))]
async fn archive_zone(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Zone>> {
    actor.require(Role::Editor)?;
    let row = zones::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HouseholdQuery {
    #[serde(default, deserialize_with = "query::int")]
    village_id: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    zone_id: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    cadre_id: Option<i64>,
}

/// List the households to move (转移对象). Personal data: a village user
/// gets only their village's, and every read is in the audit trail.
#[utoipa::path(get, path = "/api/v1/households", tag = "transfer", security(("bearer" = ["viewer"])),
    params(HouseholdQuery), responses((status = 200, body = Counted<Household>)))]
async fn list_households(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<HouseholdQuery>,
) -> ApiResult<Json<Counted<Household>>> {
    actor.require(Role::Viewer)?;
    let f = households::Filter {
        village_id: q.village_id,
        zone_id: q.zone_id,
        cadre_id: q.cadre_id,
    };
    let items: Vec<_> = households::list(&s.db, &actor, &f, "read")
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One household.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "transfer", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Household)))]
async fn get_household(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Household>> {
    actor.require(Role::Viewer)?;
    let row = households::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("household"))?;
    Ok(Json(row.view(s.tz)))
}

/// Register a household in a danger zone.
#[utoipa::path(post, path = "/api/v1/households", tag = "transfer", security(("bearer" = ["editor"])),
    request_body = HouseholdInput, responses((status = 201, body = Household)))]
async fn create_household(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<HouseholdInput>,
) -> ApiResult<(StatusCode, Json<Household>)> {
    actor.require(Role::Editor)?;
    let row = households::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Update a household (send the version you edited).
#[utoipa::path(put, path = "/api/v1/households/{id}", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = HouseholdInput, responses((status = 200, body = Household)))]
async fn update_household(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<HouseholdInput>,
) -> ApiResult<Json<Household>> {
    actor.require(Role::Editor)?;
    let row = households::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a household (moved away for good).
#[utoipa::path(delete, path = "/api/v1/households/{id}", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Household)))]
async fn archive_household(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Household>> {
    actor.require(Role::Editor)?;
    let row = households::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BoardQuery {
    /// One incident's transfers, closed ones included.
    #[serde(default, deserialize_with = "query::int")]
    incident_id: Option<i64>,
    /// Closed transfers too.
    #[serde(default, deserialize_with = "query::flag")]
    include_closed: Option<bool>,
}

/// The live transfer board: per zone and village, planned / moved / at
/// shelters / refused / away / unknown, vulnerable people not yet moved.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfer", security(("bearer" = ["viewer"])),
    params(BoardQuery), responses((status = 200, body = Board)))]
async fn live_board(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<BoardQuery>,
) -> ApiResult<Json<Board>> {
    actor.require(Role::Viewer)?;
    let which = Which {
        incident_id: q.incident_id,
        transfer_id: None,
        include_closed: q.include_closed.unwrap_or(false),
    };
    Ok(Json(board::board(&s.db, s.tz, which).await?))
}

#[derive(Serialize, ToSchema)]
struct OrderAnswer {
    items: Vec<Ordered>,
}

/// Order a transfer (转移) of zones: by id, a village's, or a kind's. The
/// people in charge are told at once, each with their own households.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "transfer", security(("bearer" = ["dispatcher"])),
    request_body = OrderInput, responses((status = 201, body = OrderAnswer)))]
async fn order_transfer(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<OrderInput>,
) -> ApiResult<(StatusCode, Json<OrderAnswer>)> {
    actor.require(Role::Dispatcher)?;
    let items = orders::order(&s.notifier, &actor, &s.db, &input).await?;
    Ok((StatusCode::CREATED, Json(OrderAnswer { items })))
}

/// Order the people of zones back home (返回) after the stand-down.
#[utoipa::path(post, path = "/api/v1/transfers/return", tag = "transfer", security(("bearer" = ["dispatcher"])),
    request_body = ReturnInput, responses((status = 201, body = OrderAnswer)))]
async fn order_return(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<ReturnInput>,
) -> ApiResult<(StatusCode, Json<OrderAnswer>)> {
    actor.require(Role::Dispatcher)?;
    let items = orders::order_return(&s.notifier, &actor, &s.db, &input).await?;
    Ok((StatusCode::CREATED, Json(OrderAnswer { items })))
}

/// One transfer's board.
#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = "transfer", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Board)))]
async fn transfer_board(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Board>> {
    actor.require(Role::Viewer)?;
    let which = Which {
        transfer_id: Some(id),
        ..Default::default()
    };
    let b = board::board(&s.db, s.tz, which).await?;
    if b.zones.is_empty() {
        return Err(ApiError::not_found("transfer"));
    }
    Ok(Json(b))
}

#[derive(Serialize, ToSchema)]
struct Recorded {
    id: i64,
}

/// Figures a cadre reported by phone, entered by the office.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/reports", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = ReportInput, responses((status = 201, body = Recorded)))]
async fn report_figures(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ReportInput>,
) -> ApiResult<(StatusCode, Json<Recorded>)> {
    actor.require(Role::Editor)?;
    let id = progress::report(&s.db, &actor, id, &input).await?;
    Ok((StatusCode::CREATED, Json(Recorded { id })))
}

/// A household's state in the transfer (moved, at shelter, refused, away, returned).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/households", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = TickInput, responses((status = 204)))]
async fn tick_household(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<TickInput>,
) -> ApiResult<StatusCode> {
    actor.require(Role::Editor)?;
    progress::tick(&s.db, &actor.name, id, None, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// People of a household arrived at the shelter (by its manager).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/checkin", tag = "transfer", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = CheckinInput, responses((status = 204)))]
async fn check_in(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<CheckinInput>,
) -> ApiResult<StatusCode> {
    actor.require(Role::Editor)?;
    progress::checkin(&s.db, &actor, id, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Close a transfer (a return once everyone is back closes by itself).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/close", tag = "transfer", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), responses((status = 204)))]
async fn close_transfer(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<StatusCode> {
    actor.require(Role::Dispatcher)?;
    orders::close(&s.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct IncidentTable {
    table: Table,
    /// The text to report upward (初报 when nothing was reported yet, else 续报), ready to paste.
    upward: String,
}

async fn table_of(s: &AppState, id: i64) -> ApiResult<(Table, String)> {
    let inc = crate::incidents::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(board::upward(&s.db, s.tz, &s.cfg.office_name, inc.id).await?)
}

/// An incident's transfer table by village and zone, with the upward report text.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/transfers", tag = "transfer", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = IncidentTable)))]
async fn incident_table(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<IncidentTable>> {
    actor.require(Role::Viewer)?;
    let (table, upward) = table_of(&s, id).await?;
    Ok(Json(IncidentTable { table, upward }))
}

/// The same table as an Excel workbook (`.xlsx`), with who exported it.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/transfers.xlsx", tag = "transfer", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn incident_table_xlsx(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Response> {
    actor.require(Role::Viewer)?;
    let (table, upward) = table_of(&s, id).await?;
    let bytes = xlsx(&s, &actor.name, id, &table, &upward)?;
    Ok(crate::app::xlsx_download(
        bytes,
        &format!("transfers-{id}.xlsx"),
    ))
}

/// The workbook of an incident's table.
fn xlsx(s: &AppState, by: &str, incident: i64, table: &Table, upward: &str) -> ApiResult<Vec<u8>> {
    crate::transfer::export::incident_workbook(
        table,
        &s.cfg.office_name,
        incident,
        by,
        upward,
        s.tz,
    )
    .map_err(|e| {
        tracing::error!(error = %e, "writing the transfer workbook");
        ApiError::internal()
    })
}

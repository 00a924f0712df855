//! Enforcement: the inspectors register (执法人员) and the 双随机 draw plans.

use super::extract::Scoped;
use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::registry::VersionQuery;
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::enforcement::draws::{self, DrawInput, Plan, PlanInput};
use crate::enforcement::inspectors::{self, Inspector, InspectorInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_inspectors, create_inspector))
        .routes(routes!(get_inspector, update_inspector, archive_inspector))
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_plan))
        .routes(routes!(draw_plan))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InspectorQuery {
    /// Include archived inspectors.
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
}

/// List the inspectors (执法人员) register.
#[utoipa::path(get, path = "/api/v1/inspectors", tag = "ledger", security(("bearer" = ["viewer"])),
    params(InspectorQuery), responses((status = 200, body = Counted<Inspector>)))]
async fn list_inspectors(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<InspectorQuery>,
) -> ApiResult<Json<Counted<Inspector>>> {
    actor.require(Role::Viewer)?;
    let f = inspectors::Filter {
        include_archived: q.include_archived.unwrap_or(false),
    };
    let items: Vec<_> = inspectors::list(&s.db, &f)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One inspector.
#[utoipa::path(get, path = "/api/v1/inspectors/{id}", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Inspector)))]
async fn get_inspector(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Inspector>> {
    actor.require(Role::Viewer)?;
    let row = inspectors::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("inspector"))?;
    Ok(Json(row.view(s.tz)))
}

/// Register an inspector (执法证号 unique in the township).
#[utoipa::path(post, path = "/api/v1/inspectors", tag = "ledger", security(("bearer" = ["editor"])),
    request_body = InspectorInput, responses((status = 201, body = Inspector)))]
async fn create_inspector(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<InspectorInput>,
) -> ApiResult<(StatusCode, Json<Inspector>)> {
    actor.require(Role::Editor)?;
    let row = inspectors::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Update an inspector (send the whole record and the version you edited).
#[utoipa::path(put, path = "/api/v1/inspectors/{id}", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = InspectorInput, responses((status = 200, body = Inspector)))]
async fn update_inspector(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<InspectorInput>,
) -> ApiResult<Json<Inspector>> {
    actor.require(Role::Editor)?;
    let row = inspectors::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive an inspector (no longer named in inspections or pools).
#[utoipa::path(delete, path = "/api/v1/inspectors/{id}", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Inspector)))]
async fn archive_inspector(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Inspector>> {
    actor.require(Role::Editor)?;
    let row = inspectors::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// List the draw plans (抽查计划), newest first.
#[utoipa::path(get, path = "/api/v1/draw-plans", tag = "ledger", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<Plan>)))]
async fn list_plans(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Counted<Plan>>> {
    actor.require(Role::Viewer)?;
    let items: Vec<_> = draws::list(&s.db)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// Make a draw plan: objects by filter, count, inspector pool, team size.
#[utoipa::path(post, path = "/api/v1/draw-plans", tag = "ledger", security(("bearer" = ["dispatcher"])),
    request_body = PlanInput, responses((status = 201, body = Plan)))]
async fn create_plan(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<PlanInput>,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    actor.require(Role::Dispatcher)?;
    let row = draws::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// One draw plan, with its draw and the drawn sites' inspection outcomes.
#[utoipa::path(get, path = "/api/v1/draw-plans/{id}", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Plan)))]
async fn get_plan(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Plan>> {
    actor.require(Role::Viewer)?;
    let row = draws::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("draw plan"))?;
    Ok(Json(draws::with_outcomes(&s.db, &row, s.tz).await?))
}

/// Draw the plan (once; a second draw is refused with 409). The seed is
/// SHA-256 of the plan's canonical text and the public value.
#[utoipa::path(post, path = "/api/v1/draw-plans/{id}/draw", tag = "ledger", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), request_body = DrawInput, responses((status = 200, body = Plan)))]
async fn draw_plan(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<DrawInput>,
) -> ApiResult<Json<Plan>> {
    actor.require(Role::Dispatcher)?;
    let row = draws::draw_plan(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

//! Drill schedules, runs, records and scorecards.

use super::extract::Scoped;
use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::drills::ledger;
use crate::drills::records::{self, Scorecard};
use crate::drills::{self, DrillInput, DrillView, Started};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, update, archive))
        .routes(routes!(activate))
        .routes(routes!(start))
        .routes(routes!(records_list, record))
        .routes(routes!(scorecard))
        .routes(routes!(drill_records))
        .routes(routes!(drill_records_xlsx))
}

/// The drill ledger (演练台账): every drill held that the asker may see, oldest first.
#[utoipa::path(get, path = "/api/v1/drill-records", tag = "drills", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<ledger::LedgerRecord>)))]
async fn drill_records(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<Json<Counted<ledger::LedgerRecord>>> {
    actor.require(Role::Viewer)?;
    let items = ledger::list(&s.db, &s.notifier.plans, s.tz).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// The drill ledger as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/drill-records.xlsx", tag = "drills", security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn drill_records_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    let items = ledger::list(&s.db, &s.notifier.plans, s.tz).await?;
    super::xlsx(
        ledger::workbook(&super::heading(&s, &actor), &items),
        "drill-records.xlsx",
    )
}

/// Drill schedules with their next occurrences.
#[utoipa::path(get, path = "/api/v1/drills", tag = "drills", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<DrillView>)))]
async fn list(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Counted<DrillView>>> {
    actor.require(Role::Viewer)?;
    let items: Vec<DrillView> = drills::list(&s.db)
        .await?
        .iter()
        .map(|d| d.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One drill with its next occurrences in local time.
#[utoipa::path(get, path = "/api/v1/drills/{id}", tag = "drills", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = DrillView)))]
async fn one(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<DrillView>> {
    actor.require(Role::Viewer)?;
    let d = drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    Ok(Json(d.view(s.tz)))
}

/// Schedule a drill (cron or a single date-time, reminder lead times; occurrences at least
/// drills.min_interval_hours apart, leads at least drills.min_lead_minutes). A dispatcher's
/// schedule is active; an editor's is a draft (no reminders, cannot be started) until a
/// dispatcher activates it.
#[utoipa::path(post, path = "/api/v1/drills", tag = "drills", security(("bearer" = ["editor"])),
    request_body = DrillInput, responses((status = 201, body = DrillView)))]
async fn create(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<DrillInput>,
) -> ApiResult<(StatusCode, Json<DrillView>)> {
    actor.require(Role::Editor)?;
    let d = drills::create(&s.db, &s.cfg.drills, &actor, &input, "api", s.tz).await?;
    Ok((StatusCode::CREATED, Json(d.view(s.tz))))
}

/// Update a drill (send the version you edited); an editor's change makes it a draft again.
#[utoipa::path(put, path = "/api/v1/drills/{id}", tag = "drills", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = DrillInput, responses((status = 200, body = DrillView)))]
async fn update(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<DrillInput>,
) -> ApiResult<Json<DrillView>> {
    actor.require(Role::Editor)?;
    Ok(Json(
        drills::update(&s.db, &s.cfg.drills, &actor, id, &input, s.tz)
            .await?
            .view(s.tz),
    ))
}

/// Archive a drill.
#[utoipa::path(delete, path = "/api/v1/drills/{id}", tag = "drills", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), responses((status = 200, body = DrillView)))]
async fn archive(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<DrillView>> {
    actor.require(Role::Editor)?;
    Ok(Json(
        drills::archive(&s.db, &actor, id, s.tz).await?.view(s.tz),
    ))
}

/// Activate a draft drill schedule: its reminders go out (none owed from before) and it can be started.
#[utoipa::path(post, path = "/api/v1/drills/{id}/activate", tag = "drills", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), responses((status = 200, body = DrillView)))]
async fn activate(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<DrillView>> {
    actor.require(Role::Dispatcher)?;
    Ok(Json(
        drills::activate(&s.db, &s.cfg.drills, &actor, id, s.tz)
            .await?
            .view(s.tz),
    ))
}

/// Optional; an empty body is the same as `{}`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartInput {
    /// Minutes to answer before escalation (default 15).
    #[serde(default)]
    ack_within_minutes: Option<i64>,
}

/// Run the drill now: an exercise notice through the real answer and escalation path (an active schedule only).
#[utoipa::path(post, path = "/api/v1/drills/{id}/start", tag = "drills", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), request_body(content = StartInput, description = "Optional", content_type = "application/json"),
    responses((status = 202, body = Started)))]
async fn start(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Started>)> {
    actor.require(Role::Dispatcher)?;
    let input: StartInput = if body.iter().all(u8::is_ascii_whitespace) {
        StartInput::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let d = drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    let started = drills::start_now(
        &s.notifier,
        &actor,
        &d,
        input.ack_within_minutes.unwrap_or(15),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// Record a drill held: participants, duration, problems, follow-up.
#[utoipa::path(post, path = "/api/v1/drills/{id}/records", tag = "drills", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = records::RecordInput,
    responses((status = 201, description = "The record with its answer statistics", body = records::DrillRecord)))]
async fn record(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<records::RecordInput>,
) -> ApiResult<(StatusCode, Json<records::DrillRecord>)> {
    actor.require(Role::Editor)?;
    Ok((
        StatusCode::CREATED,
        Json(records::create(&s.db, &actor, id, &input, s.tz).await?),
    ))
}

/// Records of the drill (its scorecard).
#[utoipa::path(get, path = "/api/v1/drills/{id}/records", tag = "drills", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Scorecard)))]
async fn records_list(state: Scoped, actor: Actor, id: Id) -> ApiResult<Json<Scorecard>> {
    scorecard(state, actor, id).await
}

/// Per-village answer rates and times compared with previous drills.
#[utoipa::path(get, path = "/api/v1/drills/{id}/scorecard", tag = "drills", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Scorecard)))]
async fn scorecard(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Scorecard>> {
    actor.require(Role::Viewer)?;
    drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    Ok(Json(records::scorecard(&s.db, id).await?))
}

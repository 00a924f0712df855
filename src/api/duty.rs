//! The duty roster (值班表): shifts by date range, who is on duty now, the
//! gaps ahead, and handovers (交接班). Thin handlers: the rules are in
//! `crate::duty`.

use axum::Json;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id, Scoped};
use super::query::{self, Params};
use super::registry::VersionQuery;
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::duty::gaps::{self, RosterGap};
use crate::duty::handovers::{self, Handover, HandoverInput};
use crate::duty::shifts::{self, DutyShift, OnDutyNow, ShiftInput};
use crate::store::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_shifts, create_shift))
        .routes(routes!(current))
        .routes(routes!(list_gaps))
        .routes(routes!(get_shift, update_shift, delete_shift))
        .routes(routes!(list_handovers, create_handover))
}

/// The roster is kept by the township office: a village's user reads it only.
fn township_office(actor: &Actor) -> ApiResult<()> {
    actor.require(Role::Editor)?;
    if actor.scope.village().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the duty roster is kept by the township office (值班表由乡镇应急办维护)",
        ));
    }
    Ok(())
}

/// The longest range one list covers.
const MAX_DAYS: i64 = 62;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// The first local day, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "query::text")]
    from: Option<String>,
    /// The last local day, inclusive (at most 62 days after `from`).
    #[serde(default, deserialize_with = "query::text")]
    to: Option<String>,
}

fn day(field: &str, v: &Option<String>) -> ApiResult<Option<NaiveDate>> {
    let Some(d) = v.as_deref() else {
        return Ok(None);
    };
    let d = crate::validate::date(field, d).map_err(|e| ApiError::invalid(e.field, e.message))?;
    // Days far out would overflow the arithmetic below; no roster is kept there.
    if !(2000..=2100).contains(&chrono::Datelike::year(&d)) {
        return Err(ApiError::invalid(
            field,
            "must be a day between 2000 and 2100",
        ));
    }
    Ok(Some(d))
}

/// The range asked for as UTC milliseconds, with defaults: `back` and
/// `ahead` days around today when a bound is left out.
fn range(s: &AppState, q: &RangeQuery, back: i64, ahead: i64) -> ApiResult<(i64, i64)> {
    let today = crate::time::today(s.tz);
    let from = day("from", &q.from)?.unwrap_or(today - chrono::Duration::days(back));
    let to = day("to", &q.to)?.unwrap_or(from + chrono::Duration::days(back + ahead));
    if to < from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("at most {MAX_DAYS} days after from"),
        ));
    }
    crate::duty::days_span(s.tz, from, to).ok_or_else(|| ApiError::invalid("from", "out of range"))
}

/// List the shifts overlapping a range of local days (default: today and the
/// next 13 days), by township and start.
#[utoipa::path(get, path = "/api/v1/duty-shifts", tag = "duty", security(("bearer" = ["viewer"])),
    params(RangeQuery), responses((status = 200, body = Counted<DutyShift>)))]
async fn list_shifts(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<RangeQuery>,
) -> ApiResult<Json<Counted<DutyShift>>> {
    actor.require(Role::Viewer)?;
    let (from, until) = range(&s, &q, 0, 13)?;
    let items = shifts::list(&s.db, from, until, s.tz).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// Who is on duty now, per township: the shift covering this moment, or
/// none (a gap: escalation then tells the contacts holding the roles).
#[utoipa::path(get, path = "/api/v1/duty-shifts/current", tag = "duty", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<OnDutyNow>)))]
async fn current(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Counted<OnDutyNow>>> {
    actor.require(Role::Viewer)?;
    let items = shifts::on_duty_now(&s.db, now_ms(), s.tz).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GapsQuery {
    /// Days ahead from now (default 7, at most 62).
    #[serde(default, deserialize_with = "query::int")]
    days: Option<i64>,
}

/// The roster's gaps ahead (what the worklist shows): time no shift covers,
/// shifts without a leader or without a duty officer. Only townships that
/// keep a roster.
#[utoipa::path(get, path = "/api/v1/duty-shifts/gaps", tag = "duty", security(("bearer" = ["viewer"])),
    params(GapsQuery), responses((status = 200, body = Counted<RosterGap>)))]
async fn list_gaps(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<GapsQuery>,
) -> ApiResult<Json<Counted<RosterGap>>> {
    actor.require(Role::Viewer)?;
    let days = q.days.unwrap_or(gaps::WORKLIST_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "days",
            format!("must be between 1 and {MAX_DAYS}"),
        ));
    }
    let items = gaps::upcoming(&s.db, now_ms(), days, s.tz).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One shift.
#[utoipa::path(get, path = "/api/v1/duty-shifts/{id}", tag = "duty", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = DutyShift)))]
async fn get_shift(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<DutyShift>> {
    actor.require(Role::Viewer)?;
    shifts::get(&s.db, id, s.tz)
        .await?
        .filter(|x| !x.archived)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("shift"))
}

/// Add a shift to the township's roster (people are contacts of the
/// township; a shift may not overlap another).
#[utoipa::path(post, path = "/api/v1/duty-shifts", tag = "duty", security(("bearer" = ["editor"])),
    request_body = ShiftInput, responses((status = 201, body = DutyShift)))]
async fn create_shift(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<ShiftInput>,
) -> ApiResult<(StatusCode, Json<DutyShift>)> {
    township_office(&actor)?;
    let shift = shifts::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(shift)))
}

/// Change a shift (send the version you edited; 409 if stale).
#[utoipa::path(put, path = "/api/v1/duty-shifts/{id}", tag = "duty", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = ShiftInput, responses((status = 200, body = DutyShift)))]
async fn update_shift(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ShiftInput>,
) -> ApiResult<Json<DutyShift>> {
    township_office(&actor)?;
    Ok(Json(shifts::update(&s.db, &actor, id, &input, s.tz).await?))
}

/// Delete a shift from the roster (kept on record; its time becomes a gap).
#[utoipa::path(delete, path = "/api/v1/duty-shifts/{id}", tag = "duty", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = DutyShift)))]
async fn delete_shift(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<DutyShift>> {
    township_office(&actor)?;
    Ok(Json(
        shifts::delete(&s.db, &actor, id, q.version, s.tz).await?,
    ))
}

/// List handovers (交接班) in a range of local days (default: the last 30
/// days), newest first.
#[utoipa::path(get, path = "/api/v1/duty-handovers", tag = "duty", security(("bearer" = ["viewer"])),
    params(RangeQuery), responses((status = 200, body = Counted<Handover>)))]
async fn list_handovers(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<RangeQuery>,
) -> ApiResult<Json<Counted<Handover>>> {
    actor.require(Role::Viewer)?;
    let (from, until) = range(&s, &q, 30, 0)?;
    let items = handovers::list(&s.db, from, until, s.tz).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// Record a handover: who handed the duty to whom, when, and what was pending.
#[utoipa::path(post, path = "/api/v1/duty-handovers", tag = "duty", security(("bearer" = ["editor"])),
    request_body = HandoverInput, responses((status = 201, body = Handover)))]
async fn create_handover(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<HandoverInput>,
) -> ApiResult<(StatusCode, Json<Handover>)> {
    township_office(&actor)?;
    let h = handovers::record(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(h)))
}

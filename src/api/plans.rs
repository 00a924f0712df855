//! Plans in force, incidents opened from them, and observations.

use super::extract::Scoped;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::{AppState, Items, Page, Paged};
use crate::auth::{Actor, Role};
use crate::incidents::calls;
use crate::incidents::{self, IncidentError, IncidentSummary, Level, OpenInput, observations};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(reload))
        .routes(routes!(list_incidents, open))
        .routes(routes!(timeline))
        .routes(routes!(level))
        .routes(routes!(close))
        .routes(routes!(confirm))
        .routes(routes!(reject))
        .routes(routes!(observe))
        .routes(routes!(suggestions))
        .routes(routes!(warnings_in_force))
        .routes(routes!(issue_warning))
        .routes(routes!(preview))
        .routes(routes!(lift_warning))
        .routes(routes!(county_reports))
        .routes(routes!(incident_calls))
        .routes(routes!(incident_calls_xlsx))
}

/// The incident's 叫应 record: per notice, one line per person reached (sent
/// when, by which channel, delivered, answered when, how and how fast, escalated
/// to whom). A village's token sees its village's people.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/calls", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<calls::Call>)))]
async fn incident_calls(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<calls::Call>>> {
    actor.require(Role::Viewer)?;
    let items = calls::list(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(Items { items }))
}

/// The incident's 叫应 record as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/calls.xlsx", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn incident_calls_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    let items = calls::list(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    super::xlsx(
        calls::workbook(&super::heading(&s, &actor), id, &items),
        &format!("calls-{id}.xlsx"),
    )
}

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        match e {
            IncidentError::Invalid(f) => ApiError::invalid(f.field, f.message),
            IncidentError::NotFound => ApiError::not_found("incident"),
            IncidentError::Conflict(m) => ApiError::conflict(m),
            IncidentError::Refused(r) => ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                r.to_string(),
            ),
            IncidentError::Store(s) => ApiError::from(s),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct PlanList {
    items: Vec<PlanItem>,
    /// Problems in the plan files (file:line:column); a broken file keeps its last good version.
    problems: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct PlanItem {
    id: String,
    title: String,
    #[schema(value_type = String)]
    hazard: Value,
    version: String,
    approved_on: String,
    approved_by: String,
    file: String,
    version_hash: String,
    levels: Vec<u8>,
    problems: Vec<String>,
}

/// Plans in force with their version hash and any problems in their files.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", security(("bearer" = ["viewer"])),
    responses((status = 200, body = PlanList)))]
async fn list(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<PlanList>> {
    actor.require(Role::Viewer)?;
    let book = &s.notifier.plans;
    let owner = crate::plans::PlanOwner::of(&actor);
    let mut items = Vec::new();
    for p in book.of(owner).await {
        items.push(PlanItem {
            id: p.plan.id.clone(),
            title: p.plan.title.clone(),
            hazard: serde_json::to_value(p.plan.hazard).unwrap_or(Value::Null),
            version: p.plan.version.clone(),
            approved_on: p.plan.approved_on.to_string(),
            approved_by: p.plan.approved_by.clone(),
            file: p.file.clone(),
            version_hash: p.content_hash.clone(),
            levels: p.plan.levels.iter().map(|l| l.level).collect(),
            problems: book
                .problems_of(owner, &p.plan.id)
                .await
                .iter()
                .map(ToString::to_string)
                .collect(),
        });
    }
    let problems: Vec<String> = book
        .problems()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(PlanList { items, problems }))
}

#[derive(Serialize, ToSchema)]
struct PlanDetail {
    /// The parsed plan file (see plans/README).
    plan: Value,
    file: String,
    version_hash: String,
    problems: Vec<String>,
}

/// One plan, parsed, with its version hash and load errors.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = String, Path, description = "The plan's id")), responses((status = 200, body = PlanDetail)))]
async fn one(
    Scoped(s): Scoped,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanDetail>> {
    actor.require(Role::Viewer)?;
    let book = &s.notifier.plans;
    let owner = crate::plans::PlanOwner::of(&actor);
    let p = book
        .get_of(owner, &id)
        .await
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok(Json(PlanDetail {
        plan: serde_json::to_value(&p.plan).unwrap_or(Value::Null),
        file: p.file.clone(),
        version_hash: p.content_hash.clone(),
        problems: book
            .problems_of(owner, &id)
            .await
            .iter()
            .map(ToString::to_string)
            .collect(),
    }))
}

/// Read the plan files again (a broken file keeps its last good version).
#[utoipa::path(post, path = "/api/v1/plans/reload", tag = "plans", security(("bearer" = ["admin"])),
    responses((status = 200, body = crate::planbook::Report)))]
async fn reload(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<crate::planbook::Report>> {
    actor.require(Role::Admin)?;
    let report = s.notifier.plans.reload(&s.db).await?;
    crate::drills::sync_from_plans(&s.db, &s.cfg.drills, &s.notifier.plans).await?;
    Ok(Json(report))
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum IncidentStatus {
    Open,
    Closed,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct IncidentQuery {
    #[param(inline)]
    status: Option<IncidentStatus>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "plans", security(("bearer" = ["viewer"])),
    params(IncidentQuery), responses((status = 200, body = Paged<IncidentSummary>)))]
async fn list_incidents(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<IncidentQuery>,
) -> ApiResult<Json<Paged<IncidentSummary>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let filter = match q.status {
        None => incidents::IncidentFilter::All,
        Some(IncidentStatus::Open) => incidents::IncidentFilter::Open,
        Some(IncidentStatus::Closed) => incidents::IncidentFilter::Closed,
    };
    let (rows, total) = incidents::list(&s.db, filter, page.limit(), page.offset()).await?;
    let items = rows.iter().map(|i| incidents::summary(i, s.tz)).collect();
    Ok(Json(page.of(items, total)))
}

/// Township activations reported to the county: each opening or raise of a
/// plan that follows a county plan, newest first (at most 500), with the
/// notice that went to the county's duty staff or why none did. The county
/// sees every township's, a township office only its own.
#[utoipa::path(get, path = "/api/v1/county/reports", tag = "plans", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<incidents::county::CountyReport>)))]
async fn county_reports(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<Json<Items<incidents::county::CountyReport>>> {
    actor.require(Role::Viewer)?;
    // The county sees every township's; a township office its own.
    let items = incidents::county::reports(&s.db, s.tz).await?;
    Ok(Json(Items { items }))
}

/// An incident with the notices just sent for it.
#[derive(Serialize, ToSchema)]
struct IncidentChanged {
    #[serde(flatten)]
    incident: IncidentSummary,
    /// Ids of the notices sent.
    alerts: Vec<i64>,
}

/// Activate a plan at a level for villages or an area; sends that level's notices.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "plans", security(("bearer" = ["dispatcher"])),
    request_body = OpenInput, responses((status = 201, body = IncidentChanged)))]
async fn open(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<OpenInput>,
) -> ApiResult<(StatusCode, Json<IncidentChanged>)> {
    actor.require(Role::Dispatcher)?;
    let (inc, alerts) = incidents::open(&s.notifier, &actor, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(IncidentChanged {
            incident: incidents::summary(&inc, s.tz),
            alerts,
        }),
    ))
}

/// Timeline: levels, notices, answers per village, plan version.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = incidents::Timeline)))]
async fn timeline(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<incidents::Timeline>> {
    actor.require(Role::Viewer)?;
    let inc = incidents::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(incidents::timeline(&s.db, &inc, s.tz).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LevelInput {
    level: Level,
    /// Villages to add, by id or code.
    #[serde(default)]
    #[schema(value_type = Vec<crate::notify::intake::targets::VillageRef>)]
    villages: Vec<Value>,
}

/// Raise or lower the level; an update notice to those the new level names.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/level", tag = "plans", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), request_body = LevelInput, responses((status = 200, body = IncidentChanged)))]
async fn level(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<LevelInput>,
) -> ApiResult<Json<IncidentChanged>> {
    actor.require(Role::Dispatcher)?;
    let level = input.level.get() as u8;
    let all = crate::registry::villages::list(&s.db, false).await?;
    let mut add = Vec::new();
    for (i, v) in input.villages.iter().enumerate() {
        let found = crate::registry::villages::find_ref(&all, v);
        add.push(
            found
                .ok_or_else(|| {
                    ApiError::invalid(format!("villages[{i}]"), format!("no village {v}"))
                })?
                .id,
        );
    }
    let (inc, alerts) = incidents::change_level(&s.notifier, &actor, id, level, &add).await?;
    Ok(Json(IncidentChanged {
        incident: incidents::summary(&inc, s.tz),
        alerts,
    }))
}

/// Confirm the level an activation awaits (two-person rule,
/// `incidents.two_person_levels`): the level is set and its notices go out.
/// Needs the leader permission, and someone other than the one who asked.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/confirm", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = IncidentChanged)))]
async fn confirm(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<IncidentChanged>> {
    actor.require(Role::Viewer)?;
    let (inc, alerts) = incidents::signoff::confirm(&s.notifier, &actor, id).await?;
    Ok(Json(IncidentChanged {
        incident: incidents::summary(&inc, s.tz),
        alerts,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ActivationRejection {
    /// 1–500 characters, kept in the audit trail and the timeline.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Reject the level an activation awaits, with the reason: nothing is sent;
/// an activation that was waiting to open ends rejected. Needs the leader
/// permission, and someone other than the one who asked.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/reject", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), request_body = ActivationRejection, responses((status = 200, body = IncidentSummary)))]
async fn reject(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ActivationRejection>,
) -> ApiResult<Json<IncidentSummary>> {
    actor.require(Role::Viewer)?;
    let inc = incidents::signoff::reject(&s.notifier, &actor, id, &input.reason).await?;
    Ok(Json(incidents::summary(&inc, s.tz)))
}

/// Optional; an empty body is the same as `{}`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloseInput {
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct IncidentClosed {
    #[serde(flatten)]
    incident: IncidentSummary,
    /// The all-clear notice sent to everyone notified.
    all_clear_alert: Option<i64>,
}

/// Stand down; the all-clear to everyone notified.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "plans", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), request_body(content = CloseInput, description = "Optional", content_type = "application/json"),
    responses((status = 200, body = IncidentClosed)))]
async fn close(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    body: axum::body::Bytes,
) -> ApiResult<Json<IncidentClosed>> {
    actor.require(Role::Dispatcher)?;
    let input: CloseInput = if body.iter().all(u8::is_ascii_whitespace) {
        CloseInput::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let note = crate::validate::optional_text("note", &input.note, 500)?;
    let (inc, all_clear) = incidents::close(&s.notifier, &actor, id, note).await?;
    Ok(Json(IncidentClosed {
        incident: incidents::summary(&inc, s.tz),
        all_clear_alert: all_clear,
    }))
}

/// A reading evaluated against every plan's triggers; suggests or opens/raises incidents.
#[utoipa::path(post, path = "/api/v1/observations", tag = "plans", security(("bearer" = ["dispatcher"])),
    request_body = observations::ObservationInput,
    responses((status = 201, description = "The reading and, per plan it triggers, what was done", body = serde_json::Value)))]
async fn observe(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<observations::ObservationInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Dispatcher)?;
    let v = observations::record(&s.notifier, &actor, &input).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Activations suggested by readings in the last 24 h, for a person to confirm.
#[utoipa::path(get, path = "/api/v1/observations/suggestions", tag = "plans", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<serde_json::Value>)))]
async fn suggestions(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Items<Value>>> {
    actor.require(Role::Viewer)?;
    Ok(Json(Items {
        items: observations::suggestions(&s.db, s.tz).await?,
    }))
}

/// Warnings (预警) in force: issued by readings, not lifted, within their hours.
#[utoipa::path(get, path = "/api/v1/warnings", tag = "plans", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<incidents::warnings::IssuedWarning>)))]
async fn warnings_in_force(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<Json<Items<incidents::warnings::IssuedWarning>>> {
    actor.require(Role::Viewer)?;
    Ok(Json(Items {
        items: incidents::warnings::in_force(&s.db).await?,
    }))
}

/// Lifts a warning: its notices are closed (no more repeats or escalation).
#[utoipa::path(post, path = "/api/v1/warnings/{id}/lift", tag = "plans", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), responses((status = 200, body = incidents::warnings::IssuedWarning)))]
async fn lift_warning(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<incidents::warnings::IssuedWarning>> {
    actor.require(Role::Dispatcher)?;
    Ok(Json(
        incidents::warnings::lift(&s.notifier, &actor, id)
            .await
            .map_err(|e| match e {
                IncidentError::NotFound => ApiError::not_found("warning"),
                e => e.into(),
            })?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueInput {
    /// "all", or a list of village ids or codes.
    #[schema(value_type = crate::notify::intake::targets::VillageRefs)]
    villages: Value,
}

#[derive(Serialize, ToSchema)]
struct WarningIssued {
    /// The warning record (new, or the one in force that already covers the villages).
    record: i64,
    /// false: a warning at least as severe already covers these villages; nothing was sent.
    sent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    notices: Option<incidents::warnings::Sent>,
}

/// Issues one of a plan's warnings by hand (a signal received by phone, or a warning no gauge reads, such as drought).
#[utoipa::path(post, path = "/api/v1/plans/{id}/warnings/{warning}/issue", tag = "plans", security(("bearer" = ["dispatcher"])),
    params(("id" = String, Path, description = "The plan's id"), ("warning" = String, Path, description = "The warning's id in the plan")),
    request_body = IssueInput, responses((status = 201, body = WarningIssued)))]
async fn issue_warning(
    Scoped(s): Scoped,
    actor: Actor,
    Path((id, warning)): Path<(String, String)>,
    Body(input): Body<IssueInput>,
) -> ApiResult<(StatusCode, Json<WarningIssued>)> {
    actor.require(Role::Dispatcher)?;
    let issued =
        incidents::warnings::issue_named(&s.notifier, &actor, &id, &warning, &Some(input.villages))
            .await?;
    Ok((
        StatusCode::CREATED,
        Json(match issued {
            incidents::warnings::Issued::New { record, sent } => WarningIssued {
                record,
                sent: true,
                notices: Some(sent),
            },
            incidents::warnings::Issued::InForce { record } => WarningIssued {
                record,
                sent: false,
                notices: None,
            },
        }),
    ))
}

/// Who an activation would notify, per rule of the level, without sending anything.
#[utoipa::path(post, path = "/api/v1/incidents/preview", tag = "plans", security(("bearer" = ["dispatcher"])),
    request_body = OpenInput, responses((status = 200, body = incidents::preview::ActivationPreview)))]
async fn preview(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<OpenInput>,
) -> ApiResult<Json<incidents::preview::ActivationPreview>> {
    actor.require(Role::Dispatcher)?;
    Ok(Json(
        incidents::preview::activation(&s.notifier, &s.db, &input).await?,
    ))
}

//! Reports upward of an incident (初报 / 续报 / 核报): made from the facts
//! the system knows plus the office's figures, every save a new version;
//! one version as `.xlsx`. The township office's job: a village user is
//! refused.

use axum::Json;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id, Scoped};
use super::query::{self, Params};
use super::{AppState, Items};
use crate::auth::{Actor, Role};
use crate::incidents::reports::{self, IncidentReport, IncidentReportInput, IncidentReportSummary};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reports, create_report))
        .routes(routes!(get_report, revise_report))
        .routes(routes!(report_xlsx))
}

/// A village user is refused: reports upward are the township office's.
fn office(actor: &Actor, role: Role) -> ApiResult<()> {
    actor.require(role)?;
    if !crate::app::township_office(&actor.scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "事件报告由乡镇应急办填报，村级账号不能查看或填写 / reports upward are the township office's: a village account may not read or write them",
        ));
    }
    Ok(())
}

async fn incident(s: &AppState, id: i64) -> ApiResult<crate::incidents::IncidentRow> {
    crate::incidents::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))
}

/// The reports of an incident, in the order they were made.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/reports", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<IncidentReportSummary>)))]
async fn list_reports(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<IncidentReportSummary>>> {
    office(&actor, Role::Viewer)?;
    let inc = incident(&s, id).await?;
    Ok(Json(Items {
        items: reports::list(&s.db, inc.id, s.tz).await?,
    }))
}

/// Make a report (初报 first; 续报 numbered on; one 核报) from the facts
/// known now and the office's figures; 紧急转移人数 left out is the
/// transfers' count of people moved.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/reports", tag = "plans", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = IncidentReportInput, responses((status = 201, body = IncidentReport)))]
async fn create_report(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<IncidentReportInput>,
) -> ApiResult<(StatusCode, Json<IncidentReport>)> {
    office(&actor, Role::Editor)?;
    let inc = incident(&s, id).await?;
    let kind = input.kind.ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "name the report: initial (初报), followup (续报) or verified (核报)",
        )
    })?;
    let facts = crate::app::report_facts(&s, &inc, kind).await?;
    let r = reports::create(&s.db, &actor.name, &inc, &input, facts, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// A report with every version, oldest first (each with its facts).
#[utoipa::path(get, path = "/api/v1/incident-reports/{id}", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = IncidentReport)))]
async fn get_report(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<IncidentReport>> {
    office(&actor, Role::Viewer)?;
    let r = reports::get(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    Ok(Json(r))
}

/// Save a new version (`version`: the one the edit was made from; a later
/// one answers 409). The facts are kept unless `refresh_facts`.
#[utoipa::path(put, path = "/api/v1/incident-reports/{id}", tag = "plans", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = IncidentReportInput, responses((status = 200, body = IncidentReport)))]
async fn revise_report(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<IncidentReportInput>,
) -> ApiResult<Json<IncidentReport>> {
    office(&actor, Role::Editor)?;
    let r = reports::get(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let refreshed = if input.refresh_facts {
        let inc = incident(&s, r.report.incident_id).await?;
        Some(crate::app::report_facts(&s, &inc, r.report.kind).await?)
    } else {
        None
    };
    Ok(Json(
        reports::revise(&s.db, &actor.name, id, &input, refreshed, s.tz).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// Which version (default: the latest).
    #[serde(default, deserialize_with = "query::int")]
    version: Option<i64>,
}

/// One version of a report as an Excel workbook (`.xlsx`): the report's
/// fields, each village's answers, the time line, the danger replies, and a
/// sheet per village with its notices and answers.
#[utoipa::path(get, path = "/api/v1/incident-reports/{id}/report.xlsx", tag = "plans", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn report_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Response> {
    office(&actor, Role::Viewer)?;
    let r = reports::get(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let v = match q.version {
        Some(n) => r
            .at(n)
            .ok_or_else(|| ApiError::invalid("version", format!("no version {n}")))?,
        None => r.current().ok_or_else(|| ApiError::not_found("report"))?,
    };
    let at = crate::time::fmt_ms(crate::store::now_ms(), s.tz);
    super::xlsx(
        reports::workbook(&r, v, &s.cfg.office_name, &actor.name, &at, s.tz),
        &format!("incident-report-{id}-v{}.xlsx", v.version),
    )
}

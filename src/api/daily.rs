//! The flood season's daily village reports: the rounds by day, one day's
//! villages with their answers and the text for the county, and its `.xlsx`.
//! A village user sees their own village's answer only.

use axum::Json;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::Scoped;
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::daily::{self, Round, RoundLine};

/// The `.xlsx` shares its route with the JSON (`{id}.xlsx` is one path
/// segment to the router); it is documented as its own operation.
#[derive(OpenApi)]
#[openapi(paths(daily_report_xlsx))]
struct XlsxDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(XlsxDoc::openapi())
        .routes(routes!(list_daily_reports))
        .routes(routes!(get_daily_report))
}

/// The daily report rounds (汛期日报), newest day first (at most 400), each
/// with its counts: villages asked, zero reports, reports, silent.
#[utoipa::path(get, path = "/api/v1/daily-reports", tag = "alerts", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<RoundLine>)))]
async fn list_daily_reports(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<Json<Counted<RoundLine>>> {
    actor.require(Role::Viewer)?;
    let items = daily::list(&s.db, s.tz, 400).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One day's round: every village with the person asked, the answer (零报告,
/// the report's text, or 未报), whether it was chased, and the text for the county.
#[utoipa::path(get, path = "/api/v1/daily-reports/{id}", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Round)))]
async fn get_daily_report(
    Scoped(s): Scoped,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    actor.require(Role::Viewer)?;
    if let Some(id) = id.strip_suffix(".xlsx") {
        return daily_report_xlsx(s, actor, number(id)?).await;
    }
    let round = found(&s, number(&id)?).await?;
    Ok(Json(round).into_response())
}

/// One day's round as an Excel workbook: 村, 值班人, 电话, 报告时间, 内容,
/// 类型, 是否催报; the title names the township and the day, the second row
/// who exported it and the text for the county.
#[utoipa::path(get, path = "/api/v1/daily-reports/{id}.xlsx", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn daily_report_xlsx(s: AppState, actor: Actor, id: i64) -> ApiResult<Response> {
    let round = found(&s, id).await?;
    let at = crate::transfer::board::zh_time(crate::store::now_ms(), s.tz);
    super::xlsx(
        daily::export::workbook(&round, s.tz, &actor.name, &at),
        &format!("daily-report-{}.xlsx", round.line.day),
    )
}

fn number(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| {
        ApiError::bad_request(
            Some("id".into()),
            "the id in the path must be a whole number",
        )
    })
}

async fn found(s: &AppState, id: i64) -> ApiResult<Round> {
    daily::get(&s.db, &s.notifier.plans, s.tz, id)
        .await?
        .ok_or_else(|| ApiError::not_found("daily report"))
}

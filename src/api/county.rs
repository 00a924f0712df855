//! The county's view across townships.

use super::extract::Scoped;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiResult;
use crate::auth::{Actor, Role};
use crate::county::{self, CountyOverview};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

/// Per township the asker sees (the county: every one; a township office:
/// its own): open incidents, the last seven days' notices with their answer
/// rate, and overdue worklist items.
#[utoipa::path(get, path = "/api/v1/county/overview", tag = "county", security(("bearer" = ["viewer"])),
    responses((status = 200, body = CountyOverview)))]
async fn overview(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<CountyOverview>> {
    actor.require(Role::Viewer)?;
    Ok(Json(county::overview(&s.db, &s.figures, s.tz).await?))
}

//! Replies: every inbound SMS kept, what it was matched to and whether it
//! reports danger; the inbox of those a person must read.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{Id, Scoped};
use super::query::{self, Params};
use super::{AppState, Counted};
use crate::auth::{Actor, Role};
use crate::notify::response::replies::{self, InboxLine, Which};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_replies))
        .routes(routes!(mark_read))
        .routes(routes!(mark_handled))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReplyQuery {
    /// Only those nobody has read yet.
    #[serde(default, deserialize_with = "query::flag")]
    unread: Option<bool>,
    /// Only danger reports (险情) not yet handled.
    #[serde(default, deserialize_with = "query::flag")]
    danger: Option<bool>,
    /// Only the replies matched to this notice.
    #[serde(default, deserialize_with = "query::int")]
    alert_id: Option<i64>,
}

/// Inbound SMS replies, newest first (at most 500): who sent it, the text,
/// the notice it was matched to, what it changed, danger, read and handled.
#[utoipa::path(get, path = "/api/v1/replies", tag = "alerts", security(("bearer" = ["viewer"])),
    params(ReplyQuery), responses((status = 200, body = Counted<InboxLine>)))]
async fn list_replies(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ReplyQuery>,
) -> ApiResult<Json<Counted<InboxLine>>> {
    actor.require(Role::Viewer)?;
    let which = Which {
        unread: q.unread.unwrap_or(false),
        danger_open: q.danger.unwrap_or(false),
        alert_id: q.alert_id,
    };
    let items = replies::inbox(&s.db, s.tz, which, 500).await?;
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// Mark a reply read (with who and when).
#[utoipa::path(post, path = "/api/v1/replies/{id}/read", tag = "alerts", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), responses((status = 204)))]
async fn mark_read(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<StatusCode> {
    actor.require(Role::Editor)?;
    replies::mark(&s.db, &actor.name, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a reply handled (a danger report acted on), which also reads it.
#[utoipa::path(post, path = "/api/v1/replies/{id}/handled", tag = "alerts", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), responses((status = 204)))]
async fn mark_handled(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<StatusCode> {
    actor.require(Role::Editor)?;
    replies::mark(&s.db, &actor.name, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

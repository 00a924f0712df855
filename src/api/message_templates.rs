//! Message templates (通知模板库): the township's named notice texts, with
//! the Chinese forms of their variables (〔姓名〕) and the notice form
//! (`{name}`) that POST /api/v1/alerts takes.

use axum::Json;
use axum::http::StatusCode;
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
use crate::notify::intake::library::{self, Category, MessageTemplate, TemplateInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, archive_template))
}

/// Templates are the township office's: a village's user reads them only.
fn township_office(actor: &Actor) -> ApiResult<()> {
    actor.require(Role::Editor)?;
    if actor.scope.village().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "message templates are kept by the township office (模板由乡镇应急办维护)",
        ));
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TemplateQuery {
    #[param(inline)]
    category: Option<Category>,
    /// Include archived templates.
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
}

/// List message templates (通知模板), by category then name.
#[utoipa::path(get, path = "/api/v1/message-templates", tag = "alerts", security(("bearer" = ["viewer"])),
    params(TemplateQuery), responses((status = 200, body = Counted<MessageTemplate>)))]
async fn list_templates(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<TemplateQuery>,
) -> ApiResult<Json<Counted<MessageTemplate>>> {
    actor.require(Role::Viewer)?;
    let f = library::Filter {
        category: q.category,
        include_archived: q.include_archived.unwrap_or(false),
    };
    let items: Vec<_> = library::list(&s.db, &f)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One message template.
#[utoipa::path(get, path = "/api/v1/message-templates/{id}", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = MessageTemplate)))]
async fn get_template(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<MessageTemplate>> {
    actor.require(Role::Viewer)?;
    let row = library::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message template"))?;
    Ok(Json(row.view(s.tz)))
}

/// Add a message template (name unique in the township; an unknown 〔…〕 or
/// `{…}` is refused naming the field).
#[utoipa::path(post, path = "/api/v1/message-templates", tag = "alerts", security(("bearer" = ["editor"])),
    request_body = TemplateInput, responses((status = 201, body = MessageTemplate)))]
async fn create_template(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<TemplateInput>,
) -> ApiResult<(StatusCode, Json<MessageTemplate>)> {
    township_office(&actor)?;
    let row = library::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Change a message template (send the version you edited; 409 if stale).
#[utoipa::path(put, path = "/api/v1/message-templates/{id}", tag = "alerts", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = TemplateInput, responses((status = 200, body = MessageTemplate)))]
async fn update_template(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<TemplateInput>,
) -> ApiResult<Json<MessageTemplate>> {
    township_office(&actor)?;
    let row = library::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a message template (out of the list and the compose page's picker).
#[utoipa::path(delete, path = "/api/v1/message-templates/{id}", tag = "alerts", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = MessageTemplate)))]
async fn archive_template(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<MessageTemplate>> {
    township_office(&actor)?;
    let row = library::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

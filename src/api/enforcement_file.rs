//! The enforcement file: checklists per site kind, dispositions of a
//! finding, enforcement documents (执法文书) issued and corrected, and the
//! major hidden dangers under supervision (挂牌督办). Thin handlers: the
//! rules are in `crate::enforcement`.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id, Scoped};
use super::query::{self, Params};
use super::{AppState, Items, Page, Paged};
use crate::auth::{Actor, Role};
use crate::enforcement::checklists::{self, Checklist};
use crate::enforcement::dispositions::{self, Disposition, DispositionInput};
use crate::enforcement::documents::{self, CorrectionInput, Document, DocumentLine, IssueInput};
use crate::enforcement::supervision::{self, Supervision};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checklists))
        .routes(routes!(list_dispositions, create_disposition))
        .routes(routes!(inspection_documents, issue_document))
        .routes(routes!(list_documents))
        .routes(routes!(get_document))
        .routes(routes!(correct_document))
        .routes(routes!(list_supervisions))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ChecklistQuery {
    /// A site kind (`hazchem_storage`, `fireworks_retail` …); none: every kind's.
    #[serde(default, deserialize_with = "query::text")]
    kind: Option<String>,
}

/// The checklists (检查表) per site kind: each item's code, text, the
/// criterion it comes from and whether it is a major hidden danger.
#[utoipa::path(get, path = "/api/v1/checklists", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(ChecklistQuery), responses((status = 200, body = Items<Checklist>)))]
async fn list_checklists(
    actor: Actor,
    Params(q): Params<ChecklistQuery>,
) -> ApiResult<Json<Items<Checklist>>> {
    actor.require(Role::Viewer)?;
    let items = match q.kind.as_deref().map(str::trim) {
        None | Some("") => checklists::all(),
        Some(k) => vec![checklists::for_kind(k).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                "no checklist for this site kind (无此类场所的检查表)",
            )
        })?],
    };
    Ok(Json(Items { items }))
}

/// A finding's dispositions (处置), in the order they were decided.
#[utoipa::path(get, path = "/api/v1/findings/{id}/dispositions", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<Disposition>)))]
async fn list_dispositions(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<Disposition>>> {
    actor.require(Role::Viewer)?;
    if crate::ledger::inspections::get_finding(&s.db, id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("finding"));
    }
    let items = dispositions::for_finding(&s.db, id).await?;
    Ok(Json(Items { items }))
}

/// Record a disposition of a finding: 责令整改 (issues its 责令限期整改指令书),
/// 约谈, 警告, 首违不罚 / 轻微免罚 (naming the 免罚清单 entry), 移送立案.
#[utoipa::path(post, path = "/api/v1/findings/{id}/dispositions", tag = "enforcement", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = DispositionInput, responses((status = 201, body = Disposition)))]
async fn create_disposition(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<DispositionInput>,
) -> ApiResult<(StatusCode, Json<Disposition>)> {
    actor.require(Role::Editor)?;
    let d = dispositions::record(&s.db, &actor, id, &input, s.tz).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

/// The documents issued for an inspection, newest first.
#[utoipa::path(get, path = "/api/v1/inspections/{id}/documents", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<DocumentLine>)))]
async fn inspection_documents(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<DocumentLine>>> {
    actor.require(Role::Viewer)?;
    if crate::ledger::inspections::get(&s.db, id).await?.is_none() {
        return Err(ApiError::not_found("inspection"));
    }
    let (items, _) = documents::list(&s.db, Some(id), 1000, 0).await?;
    Ok(Json(Items { items }))
}

/// Issue a document for an inspection: `inspection_record` (现场检查记录),
/// `rectification_order` (责令限期整改指令书, when it found hidden dangers),
/// `reinspection_opinion` (整改复查意见书, once a finding is rectified). Its
/// number is the next of the township's series for the kind and year.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/documents", tag = "enforcement", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = IssueInput, responses((status = 201, body = Document)))]
async fn issue_document(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<IssueInput>,
) -> ApiResult<(StatusCode, Json<Document>)> {
    actor.require(Role::Editor)?;
    let d = documents::issue(&s.db, &actor, id, input.kind, s.tz).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DocumentQuery {
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// Every document the asker may see, newest first.
#[utoipa::path(get, path = "/api/v1/documents", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(DocumentQuery), responses((status = 200, body = Paged<DocumentLine>)))]
async fn list_documents(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<DocumentQuery>,
) -> ApiResult<Json<Paged<DocumentLine>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let (items, total) = documents::list(&s.db, None, page.limit(), page.offset()).await?;
    Ok(Json(page.of(items, total)))
}

/// One document as issued (its content never changes).
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Document)))]
async fn get_document(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Document>> {
    actor.require(Role::Viewer)?;
    let d = documents::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("document"))?;
    Ok(Json(d))
}

/// Correct a document: a new number of its kind from the records as they
/// are now; the old one is marked superseded by it (409 if it already is).
#[utoipa::path(post, path = "/api/v1/documents/{id}/corrections", tag = "enforcement", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = CorrectionInput, responses((status = 201, body = Document)))]
async fn correct_document(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<CorrectionInput>,
) -> ApiResult<(StatusCode, Json<Document>)> {
    actor.require(Role::Editor)?;
    let d = documents::correct(&s.db, &actor, id, &input, s.tz).await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SupervisionQuery {
    /// Also the closed ones.
    #[serde(default, deserialize_with = "query::flag")]
    all: Option<bool>,
}

/// Major hidden dangers under supervision (挂牌督办): open ones by deadline,
/// with `all` the closed ones after them.
#[utoipa::path(get, path = "/api/v1/supervisions", tag = "enforcement", security(("bearer" = ["viewer"])),
    params(SupervisionQuery), responses((status = 200, body = Items<Supervision>)))]
async fn list_supervisions(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<SupervisionQuery>,
) -> ApiResult<Json<Items<Supervision>>> {
    actor.require(Role::Viewer)?;
    let items = supervision::list(&s.db, q.all.unwrap_or(false)).await?;
    Ok(Json(Items { items }))
}

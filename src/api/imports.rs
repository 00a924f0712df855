//! Imports from Excel or CSV: the template, a preview that writes nothing,
//! and the import itself. The file is the request body as it is
//! (`.xlsx`, `.xls`, `.ods` or `.csv`); its name comes in the query.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::Scoped;
use super::query::{self, Params};
use crate::auth::{Actor, Role};
use crate::import::{self, ImportError, Kind, Outcome, Preview};

/// The file, as the request's body: its bytes as they are.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(#[allow(dead_code)] Vec<u8>);

/// An office's workbook of a few thousand rows is a few MB at most.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template))
        .routes(routes!(preview))
        .routes(routes!(commit))
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// The file's name (its extension says CSV or a workbook).
    #[serde(default)]
    file: Option<String>,
    /// Import the rows without problems and leave out the others (listed
    /// in the answer); without it a file with any problem imports nothing.
    #[serde(default, deserialize_with = "query::flag")]
    only_good: Option<bool>,
}

fn kind_of(k: &str) -> ApiResult<Kind> {
    Kind::parse(k).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            "must be one of villages, contacts, sites, findings, duty_roster",
        )
    })
}

fn refused(e: ImportError) -> ApiError {
    match e {
        ImportError::Unreadable(m) => ApiError::invalid("file", m),
        ImportError::Problems(n) => ApiError::invalid(
            "file",
            format!(
                "{n} 行有问题，未导入任何内容：先预览（…/preview）查看每个问题，改好后再导入，或选择只导入没有问题的行（only_good=true）"
            ),
        ),
        ImportError::Conflict(m) => ApiError::conflict(m),
        ImportError::NotAllowed(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
        ImportError::Store(s) => s.into(),
    }
}

fn file_name(q: &FileQuery) -> String {
    q.file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("upload.xlsx")
        .chars()
        .take(200)
        .collect()
}

/// The import template of a kind: its headers (required ones marked *) and
/// a sheet saying what each column takes.
#[utoipa::path(get, path = "/api/v1/imports/{kind}/template.xlsx", tag = "registry", security(("bearer" = ["viewer"])),
    params(("kind" = Kind, Path)),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn template(
    Scoped(s): Scoped,
    actor: Actor,
    Path(kind): Path<String>,
) -> ApiResult<Response> {
    actor.require(Role::Viewer)?;
    let kind = kind_of(&kind)?;
    super::xlsx(
        import::template(kind, &s.cfg.office_name),
        &format!("import-{}.xlsx", kind.as_str()),
    )
}

/// What importing the file would do, row by row (新增 / 更新 / 不变 / 有问题),
/// with every problem as row, column and message; nothing is written.
#[utoipa::path(post, path = "/api/v1/imports/{kind}/preview", tag = "registry", security(("bearer" = ["editor"])),
    params(("kind" = Kind, Path), FileQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream"),
    responses((status = 200, body = Preview)))]
async fn preview(
    Scoped(s): Scoped,
    actor: Actor,
    Path(kind): Path<String>,
    Params(q): Params<FileQuery>,
    body: Bytes,
) -> ApiResult<Json<Preview>> {
    actor.require(Role::Editor)?;
    let kind = kind_of(&kind)?;
    import::preview(
        &s.db,
        &actor,
        s.tz,
        &s.cfg.enforcement,
        kind,
        &file_name(&q),
        &body,
    )
    .await
    .map(Json)
    .map_err(refused)
}

/// Imports the file in one transaction with one audit entry (file name and
/// SHA-256). A file with any problem imports nothing unless `only_good`;
/// the same file imported again changes nothing.
#[utoipa::path(post, path = "/api/v1/imports/{kind}", tag = "registry", security(("bearer" = ["editor"])),
    params(("kind" = Kind, Path), FileQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream"),
    responses((status = 200, body = Outcome)))]
async fn commit(
    Scoped(s): Scoped,
    actor: Actor,
    Path(kind): Path<String>,
    Params(q): Params<FileQuery>,
    body: Bytes,
) -> ApiResult<Json<Outcome>> {
    actor.require(Role::Editor)?;
    let kind = kind_of(&kind)?;
    import::commit(
        &s.db,
        &actor,
        s.tz,
        &s.cfg.enforcement,
        kind,
        &file_name(&q),
        &body,
        q.only_good.unwrap_or(false),
    )
    .await
    .map(Json)
    .map_err(refused)
}

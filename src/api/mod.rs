//! The JSON API under `/api/v1`. Every handler carries its own
//! `#[utoipa::path]` description (parameters, body, responses, role); the
//! router below mounts those handlers through `utoipa_axum`, which collects
//! the same descriptions into the OpenAPI document, so what is mounted and
//! what is documented cannot drift apart.

mod alerts;
mod county;
mod daily;
mod drills;
mod duty;
mod enforcement;
mod enforcement_file;
pub mod error;
pub mod extract;
mod imports;
mod incident_reports;
mod ledger;
mod message_templates;
pub mod openapi;
mod photos;
mod plans;
mod public;
pub mod query;
mod registry;
mod replies;
mod robots;
mod system;
mod transfer;
mod voice_hooks;

use std::sync::Arc;

use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::store::WriteError;
use error::ApiError;

/// The API's handlers with their descriptions, before they are split into
/// the axum router and the document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(system::routes())
        .merge(registry::routes())
        .merge(ledger::routes())
        .merge(photos::routes())
        .merge(enforcement::routes())
        .merge(enforcement_file::routes())
        .merge(county::routes())
        .merge(alerts::routes())
        .merge(drills::routes())
        .merge(plans::routes())
        .merge(public::routes())
        .merge(transfer::routes())
        .merge(replies::routes())
        .merge(imports::routes())
        .merge(message_templates::routes())
        .merge(incident_reports::routes())
        .merge(daily::routes())
        .merge(voice_hooks::routes())
        .merge(duty::routes())
        .merge(robots::routes())
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn document() -> serde_json::Value {
    let (_, doc) = routes().split_for_parts();
    openapi::finish(doc)
}

pub fn router(state: AppState) -> Router {
    let (router, doc) = routes().split_for_parts();
    let doc = Arc::new(openapi::finish(doc));
    router
        .route("/metrics", axum::routing::get(system::metrics))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .with_state(state)
}

/// A workbook as a download, or a bare 500 (logged) if it could not be written.
pub(super) fn xlsx(
    bytes: Result<Vec<u8>, rust_xlsxwriter::XlsxError>,
    file: &str,
) -> error::ApiResult<axum::response::Response> {
    let bytes = bytes.map_err(|e| {
        tracing::error!(error = %e, file, "writing a workbook");
        ApiError::internal()
    })?;
    Ok(crate::app::xlsx_download(bytes, file))
}

/// The first two rows of an export the API gives: the office, the asker, now.
fn heading(s: &AppState, actor: &crate::auth::Actor) -> crate::workbook::Heading {
    crate::workbook::Heading::now(&s.cfg.office_name, &actor.name, s.tz)
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Invalid(f) => ApiError::invalid(f.field, f.message),
            WriteError::NotFound => ApiError::not_found("record"),
            WriteError::Conflict(m) => ApiError::conflict(m),
            WriteError::Store(s) => ApiError::from(s),
        }
    }
}

/// Page parameters: `page` from 1, `per_page` up to 500.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Result<Page, ApiError> {
        let per_page = per_page.unwrap_or(50);
        if !(1..=500).contains(&per_page) {
            return Err(ApiError::invalid("per_page", "must be between 1 and 500"));
        }
        let page = page.unwrap_or(1);
        if !(1..=1_000_000).contains(&page) {
            return Err(ApiError::invalid("page", "must be 1 or more"));
        }
        Ok(Page { page, per_page })
    }
    pub fn limit(&self) -> i64 {
        self.per_page
    }
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
    pub fn of<T>(&self, items: Vec<T>, total: i64) -> Paged<T> {
        Paged {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A whole list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A whole list with its length.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counted<T> {
    pub items: Vec<T>,
    pub total: usize,
}

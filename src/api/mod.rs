//! The JSON API under `/api/v1`. Every route is declared once in `routes()`,
//! which both mounts it and describes it for the OpenAPI document.

mod alerts;
mod drills;
pub mod error;
pub mod extract;
mod ledger;
pub mod openapi;
mod plans;
mod public;
mod registry;
mod system;

use std::sync::Arc;

use axum::Router;
use axum::routing::MethodRouter;

use crate::app::AppState;
use crate::store::WriteError;
use error::ApiError;

/// One documented endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub role: &'static str,
    pub summary: &'static str,
    pub body: Option<&'static str>,
    pub query: &'static [&'static str],
}

pub struct Routes {
    router: Router<AppState>,
    pub endpoints: Vec<Endpoint>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            endpoints: Vec::new(),
        }
    }

    /// Mounts `handler` at `path` and records its description.
    fn add(mut self, ep: Endpoint, handler: MethodRouter<AppState>) -> Routes {
        self.router = self.router.route(ep.path, handler);
        self.endpoints.push(ep);
        self
    }

    /// Describes another method of a path already mounted by `add`.
    fn doc(mut self, ep: Endpoint) -> Routes {
        self.endpoints.push(ep);
        self
    }
}

pub(crate) const fn ep(
    method: &'static str,
    path: &'static str,
    role: &'static str,
    summary: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        role,
        summary,
        body: None,
        query: &[],
    }
}

impl Endpoint {
    pub(crate) const fn body(mut self, b: &'static str) -> Endpoint {
        self.body = Some(b);
        self
    }
    pub(crate) const fn query(mut self, q: &'static [&'static str]) -> Endpoint {
        self.query = q;
        self
    }
}

pub fn routes() -> Routes {
    let r = Routes::new();
    let r = system::mount(r);
    let r = registry::mount(r);
    let r = ledger::mount(r);
    let r = alerts::mount(r);
    let r = drills::mount(r);
    let r = plans::mount(r);
    public::mount(r)
}

pub fn router(state: AppState) -> Router {
    let Routes { router, endpoints } = routes();
    let doc = Arc::new(openapi::document(&endpoints));
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .with_state(state)
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
    pub fn from_query(q: &Query) -> Result<Page, ApiError> {
        let per_page = q.int("per_page")?.unwrap_or(50);
        if !(1..=500).contains(&per_page) {
            return Err(ApiError::invalid("per_page", "must be between 1 and 500"));
        }
        let page = q.int("page")?.unwrap_or(1);
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
    pub fn json<T: serde::Serialize>(&self, items: Vec<T>, total: i64) -> serde_json::Value {
        serde_json::json!({ "items": items, "total": total, "page": self.page, "per_page": self.per_page })
    }
}

/// Query-string values, read by name so a bad value is a 422 naming it.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        Ok(Query::parse(parts.uri.query().unwrap_or("")))
    }
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query(
            form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
        )
    }
    pub fn text(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    /// The search text `q`: one line of at most `max` characters (the
    /// `limits.search_chars` setting); blank is none.
    pub fn search(&self, max: usize) -> Result<Option<String>, ApiError> {
        Ok(crate::validate::optional_line(
            "q",
            &self.text("q").map(str::to_string),
            max,
        )?)
    }
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        self.text(k)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::invalid(k, format!("'{v}' is not a whole number")))
            })
            .transpose()
    }
    pub fn float(&self, k: &str) -> Result<Option<f64>, ApiError> {
        self.text(k)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| ApiError::invalid(k, format!("'{v}' is not a number")))
            })
            .transpose()
    }
    pub fn flag(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.text(k) {
            None => Ok(None),
            Some("1" | "true" | "yes") => Ok(Some(true)),
            Some("0" | "false" | "no") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(k, format!("'{v}' is not true or false"))),
        }
    }
    /// Rejects parameters the endpoint does not know (typos would silently widen a filter).
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.0 {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::invalid(
                    k.clone(),
                    format!("unknown query parameter; known: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

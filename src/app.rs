//! What every request handler shares, whether it answers the API or draws a
//! dashboard page: the application state. `api/` and `web/` both depend on
//! this module and on the domain modules, never on each other.

use std::sync::Arc;

use crate::config::Config;
use crate::store::{Db, Scope};

#[derive(Clone)]
pub struct AppState {
    /// The database as the one asking may see it. In the routers' state it
    /// is scoped to nothing; a handler's `Scoped` extractor (api/, web/)
    /// hands it the asker's scope, so a handler that forgot to ask sees
    /// nothing rather than every township.
    pub db: Db,
    /// The daemon's own view, every township: token and session look-ups,
    /// the public pages, answer links, provider callbacks, readiness.
    pub system: Db,
    pub cfg: Arc<Config>,
    pub tz: chrono_tz::Tz,
    pub notifier: Arc<crate::notify::delivery::outbox::Notifier>,
    /// Valid tokens seen lately (see `auth::TokenCache`).
    pub tokens: Arc<crate::auth::TokenCache>,
    /// Dashboard sign-in's bounded password checks and lock-out limits.
    pub signin: Arc<crate::accounts::signin::SigninGate>,
    /// Per-township figures counted for every township at once and kept
    /// (overviews and worklist counts; see `county::kept`).
    pub figures: Arc<crate::county::Kept>,
}

impl AppState {
    /// The state a request of someone with `scope` works with.
    pub fn acting(&self, scope: Scope) -> AppState {
        AppState {
            db: self.system.scoped(scope),
            ..self.clone()
        }
    }
}

/// The MIME type of an Excel workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A workbook the browser saves as `file` (the API's and the dashboard's exports alike).
pub fn xlsx_download(bytes: Vec<u8>, file: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, XLSX.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// A stored photo's bytes as the API and the dashboard answer them: its
/// checked type (only the image types `ledger::photos` accepts, never an
/// SVG or a page), not to be sniffed, kept by the asker's browser only, shown
/// inline and sandboxed should it ever be opened as a document.
pub fn photo_response(
    p: &crate::ledger::photos::PhotoView,
    bytes: Vec<u8>,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let ext = crate::ledger::photos::ImageType::from_content_type(&p.content_type)
        .map_or("bin", crate::ledger::photos::ImageType::ext);
    (
        [
            (header::CONTENT_TYPE, p.content_type.clone()),
            (header::CACHE_CONTROL, "private, max-age=86400".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"photo-{}.{ext}\"", p.id),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The title of the plan an incident runs under (its id when the plan is
/// no longer loaded).
pub async fn plan_title(s: &AppState, inc: &crate::incidents::IncidentRow) -> String {
    s.notifier
        .plans
        .get(&inc.plan_id)
        .await
        .map_or_else(|| inc.plan_id.clone(), |p| p.plan.title.clone())
}

/// The facts of an incident now, for a report upward of `kind` (the API's
/// and the dashboard's reports alike).
pub async fn report_facts(
    s: &AppState,
    inc: &crate::incidents::IncidentRow,
    kind: crate::incidents::reports::Kind,
) -> crate::store::Result<crate::incidents::reports::ReportFacts> {
    let title = plan_title(s, inc).await;
    crate::incidents::reports::facts(&s.db, inc, kind, &s.cfg.office_name, &title, s.tz).await
}

/// Reports upward are the township office's: a village user may neither
/// read nor write them (they hold every village's figures).
pub fn township_office(scope: &Scope) -> bool {
    scope.village().is_none()
}

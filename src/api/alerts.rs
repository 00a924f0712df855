//! Sending notices and watching them be answered.

use super::extract::Scoped;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::{AppState, Items, Page, Paged};
use crate::auth::{Actor, Role};
use crate::notify::intake::alerts::{Accepted, AlertError, AlertInput};
use crate::notify::response::status::{AlertSummary, BoardSummary, DeliveryView, StatusBoard};
use crate::notify::response::{answers, status};
use crate::notify::signoff::SignoffError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, send))
        .routes(routes!(board))
        .routes(routes!(board_summary))
        .routes(routes!(deliveries))
        .routes(routes!(answer_by_phone_call))
        .routes(routes!(close))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(signoffs))
}

impl From<SignoffError> for ApiError {
    fn from(e: SignoffError) -> Self {
        match e {
            SignoffError::Refused(r) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", r.to_string())
            }
            SignoffError::NotFound => ApiError::not_found("alert"),
            SignoffError::NotPending(_) => ApiError::conflict(e.to_string()),
            SignoffError::Invalid(f) => ApiError::invalid(f.field, f.message),
            SignoffError::Store(s) => ApiError::from(s),
        }
    }
}

impl From<AlertError> for ApiError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::Invalid(f) => ApiError::invalid(f.field, f.message),
            AlertError::KeyReused => ApiError::invalid(
                "Idempotency-Key",
                "this key was used for a different request",
            ),
            AlertError::Store(s) => ApiError::from(s),
        }
    }
}

/// Send a notice (202); an Idempotency-Key header makes retries safe.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = ["dispatcher"])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1–200 visible characters; a retry with the same key and body gets the first answer")),
    request_body = AlertInput, responses((status = 202, body = Accepted)))]
async fn send(
    Scoped(s): Scoped,
    actor: Actor,
    headers: HeaderMap,
    Body(input): Body<AlertInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    actor.require(Role::Dispatcher)?;
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    ApiError::invalid("Idempotency-Key", "must be 1–200 visible characters")
                })?,
        ),
        None => None,
    };
    // The workers are woken as each page of the outbox commits.
    let accepted = crate::notify::send(&s.notifier, &actor, &input, key).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum AlertStatus {
    Active,
    Closed,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[param(inline)]
    status: Option<AlertStatus>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// List notices, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = ["viewer"])),
    params(ListQuery), responses((status = 200, body = Paged<AlertSummary>)))]
async fn list(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<Paged<AlertSummary>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let filter = match q.status {
        None => status::AlertFilter::All,
        Some(AlertStatus::Active) => status::AlertFilter::Active,
        Some(AlertStatus::Closed) => status::AlertFilter::Closed,
    };
    let list = status::list(&s.db, filter, page.limit(), page.offset()).await?;
    let items = list.rows.iter().map(|a| status::summary(a, s.tz)).collect();
    Ok(Json(page.of(items, list.total)))
}

/// Status board: delivery counts, answers per village. It carries an ETag:
/// asked again with `If-None-Match`, a board nothing changed on is a 304.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path), ("If-None-Match" = Option<String>, Header, description = "The ETag of the board last read")),
    responses((status = 200, body = StatusBoard), (status = 304, description = "Unchanged since the ETag given")))]
async fn board(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    // The version first: the board read after it is at least as new.
    let version = status::board_version(&s.db, id).await?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let etag = status::board_etag(&a, version, "board", crate::store::now_ms());
    if let Some(unchanged) = not_modified(&headers, &etag) {
        return Ok(unchanged);
    }
    let board = status::board(&s.db, &a, s.tz).await?;
    Ok(with_etag(&etag, Json(board)))
}

/// A board's counts without its people: per village recipients and
/// answers (kept with every answer), delivery states. ETag as the board's.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/summary", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path), ("If-None-Match" = Option<String>, Header, description = "The ETag of the summary last read")),
    responses((status = 200, body = BoardSummary), (status = 304, description = "Unchanged since the ETag given")))]
async fn board_summary(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    let version = status::board_version(&s.db, id).await?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let etag = status::board_etag(&a, version, "summary", crate::store::now_ms());
    if let Some(unchanged) = not_modified(&headers, &etag) {
        return Ok(unchanged);
    }
    let summary = status::board_summary(&s.db, &a, version, s.tz).await?;
    Ok(with_etag(&etag, Json(summary)))
}

/// A 304 when the request's `If-None-Match` names `etag`.
fn not_modified(headers: &HeaderMap, etag: &str) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    let asked = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    status::etag_matches(asked, etag)
        .then(|| with_etag(etag, StatusCode::NOT_MODIFIED).into_response())
}

/// `r` with its ETag, to be asked again rather than cached.
fn with_etag(etag: &str, r: impl axum::response::IntoResponse) -> axum::response::Response {
    let mut r = r.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(etag) {
        r.headers_mut().insert(axum::http::header::ETAG, v);
    }
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-cache"),
    );
    r
}

/// Every delivery and attempt.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/deliveries", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<DeliveryView>)))]
async fn deliveries(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<DeliveryView>>> {
    actor.require(Role::Viewer)?;
    status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let items = status::deliveries(&s.db, id, s.tz).await?;
    Ok(Json(Items { items }))
}

/// Who answered by phone: a contact or a recipient row of this notice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PhoneAnswer {
    #[serde(default)]
    contact_id: Option<i64>,
    #[serde(default)]
    recipient_id: Option<i64>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct PhoneAnswered {
    recipient_id: i64,
    /// False when the person had already answered (the first answer counts).
    counted: bool,
}

/// Record an answer received by phone.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/answers", tag = "alerts", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), request_body = PhoneAnswer, responses((status = 200, body = PhoneAnswered)))]
async fn answer_by_phone_call(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<PhoneAnswer>,
) -> ApiResult<Json<PhoneAnswered>> {
    actor.require(Role::Dispatcher)?;
    status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let note = crate::validate::optional_text("note", &input.note, 500)?;
    let who = match (input.recipient_id, input.contact_id) {
        (Some(r), _) => status::RecipientRef::Recipient(r),
        (None, Some(c)) => status::RecipientRef::Contact(c),
        (None, None) => {
            return Err(ApiError::invalid(
                "contact_id",
                "name the contact_id or recipient_id who answered",
            ));
        }
    };
    let rid = status::find_recipient(&s.db, id, who).await?;
    let field = if input.recipient_id.is_some() {
        "recipient_id"
    } else {
        "contact_id"
    };
    let rid = rid.ok_or_else(|| ApiError::invalid(field, "is not a recipient of this alert"))?;
    let r = answers::record(&s.db, rid, "phone", &actor.name, note.as_deref()).await?;
    if matches!(r, answers::Answered::Closed { .. }) {
        return Err(ApiError::conflict(
            "the alert is closed; answers are no longer recorded",
        ));
    }
    Ok(Json(PhoneAnswered {
        recipient_id: rid,
        counted: matches!(r, answers::Answered::First { .. }),
    }))
}

/// Close a notice: stops repeats and escalation.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/close", tag = "alerts", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertSummary)))]
async fn close(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<AlertSummary>> {
    actor.require(Role::Dispatcher)?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    if a.status == "active" || a.status == "pending" {
        crate::notify::intake::alerts::close(&s.db, &actor.name, id).await?;
    }
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(status::summary(&a, s.tz)))
}

/// Approve a public notice awaiting sign-off (待签发): it is sent and
/// published now. Needs the leader permission, and someone other than its author.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/approve", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Accepted)))]
async fn approve(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Accepted>> {
    actor.require(Role::Viewer)?;
    Ok(Json(
        crate::incidents::signoff::approve_notice(&s.notifier, &actor, id).await?,
    ))
}

/// Why a leader turns something down.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rejection {
    /// 1–500 characters, kept in the audit trail and the incident timeline.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Reject a public notice awaiting sign-off, with the reason: nothing is
/// sent or published. Needs the leader permission, and someone other than its author.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/reject", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), request_body = Rejection, responses((status = 200, body = AlertSummary)))]
async fn reject(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<Rejection>,
) -> ApiResult<Json<AlertSummary>> {
    actor.require(Role::Viewer)?;
    crate::incidents::signoff::reject_notice(&s.db, &actor, id, &input.reason).await?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(status::summary(&a, s.tz)))
}

/// What awaits a leader's sign-off.
#[derive(Serialize, ToSchema)]
struct Signoffs {
    /// Public notices awaiting approval (待签发).
    notices: Vec<AlertSummary>,
    /// Activations whose level awaits confirmation (two-person rule).
    activations: Vec<crate::incidents::IncidentSummary>,
}

/// What awaits sign-off: public notices and high-level activations, oldest first.
#[utoipa::path(get, path = "/api/v1/signoffs", tag = "alerts", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Signoffs)))]
async fn signoffs(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Signoffs>> {
    actor.require(Role::Viewer)?;
    let notices = crate::notify::signoff::pending(&s.db)
        .await?
        .iter()
        .map(|a| status::summary(a, s.tz))
        .collect();
    let activations = crate::incidents::signoff::pending(&s.db)
        .await?
        .iter()
        .map(|i| crate::incidents::summary(i, s.tz))
        .collect();
    Ok(Json(Signoffs {
        notices,
        activations,
    }))
}

//! Sending notices and watching them be answered.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Page, Query, Routes, ep};
use crate::auth::{Actor, Role};
use crate::notify::intake::alerts::{AlertError, AlertInput};
use crate::notify::response::{answers, status};

pub fn mount(r: Routes) -> Routes {
    r.add(
        ep(
            "GET",
            "/api/v1/alerts",
            "viewer",
            "List notices, newest first",
        )
        .query(&["status", "page", "per_page"]),
        get(list).post(send),
    )
    .doc(
        ep(
            "POST",
            "/api/v1/alerts",
            "dispatcher",
            "Send a notice (202); Idempotency-Key header makes retries safe",
        )
        .body("AlertInput"),
    )
    .add(
        ep(
            "GET",
            "/api/v1/alerts/{id}",
            "viewer",
            "Status board: delivery counts, answers per village",
        ),
        get(board),
    )
    .add(
        ep(
            "GET",
            "/api/v1/alerts/{id}/deliveries",
            "viewer",
            "Every delivery and attempt",
        ),
        get(deliveries),
    )
    .add(
        ep(
            "POST",
            "/api/v1/alerts/{id}/answers",
            "dispatcher",
            "Record an answer received by phone",
        )
        .body("{contact_id | recipient_id, note?}"),
        post(answer_by_phone_call),
    )
    .add(
        ep(
            "POST",
            "/api/v1/alerts/{id}/close",
            "dispatcher",
            "Close a notice: stops repeats and escalation",
        ),
        post(close),
    )
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

async fn send(
    State(s): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Body(input): Body<AlertInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    Ok((StatusCode::ACCEPTED, Json(json!(accepted))))
}

async fn list(State(s): State<AppState>, actor: Actor, q: Query) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&["status", "page", "per_page"])?;
    let page = Page::from_query(&q)?;
    let filter = match q.text("status") {
        None => status::AlertFilter::All,
        Some("active") => status::AlertFilter::Active,
        Some("closed") => status::AlertFilter::Closed,
        Some(_) => return Err(ApiError::invalid("status", "use active or closed")),
    };
    let list = status::list(&s.db, filter, page.limit(), page.offset()).await?;
    let items: Vec<_> = list.rows.iter().map(|a| status::summary(a, s.tz)).collect();
    let total = list.total;
    Ok(Json(page.json(items, total)))
}

async fn board(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<status::StatusBoard>> {
    actor.require(Role::Viewer)?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(status::board(&s.db, &a, s.tz).await?))
}

async fn deliveries(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let items = status::deliveries(&s.db, id, s.tz).await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneAnswer {
    #[serde(default)]
    contact_id: Option<i64>,
    #[serde(default)]
    recipient_id: Option<i64>,
    #[serde(default)]
    note: Option<String>,
}

async fn answer_by_phone_call(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<PhoneAnswer>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "recipient_id": rid, "counted": matches!(r, answers::Answered::First { .. }) }),
    ))
}

async fn close(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<status::AlertSummary>> {
    actor.require(Role::Dispatcher)?;
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    if a.status == "active" {
        crate::notify::intake::alerts::close(&s.db, &actor.name, id).await?;
    }
    let a = status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(status::summary(&a, s.tz)))
}

//! Health, tokens and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Page, Query, Routes, ep};
use crate::auth::{Actor, Role};

pub fn mount(r: Routes) -> Routes {
    r.add(ep("GET", "/healthz", "none", "Process is up"), get(healthz))
        .add(
            ep(
                "GET",
                "/readyz",
                "none",
                "Ready or not; details (database, plans) with an admin token",
            ),
            get(readyz),
        )
        .add(
            ep(
                "GET",
                "/api/v1/channels",
                "viewer",
                "Each channel: on or off, its provider's circuit breaker (closed / open / probing), what waits",
            ),
            get(channels),
        )
        .add(
            ep(
                "GET",
                "/api/v1/tokens",
                "admin",
                "List API tokens (never their secrets)",
            ),
            get(list_tokens).post(create_token),
        )
        .doc(
            ep(
                "POST",
                "/api/v1/tokens",
                "admin",
                "Create an API token; the secret is shown once",
            )
            .body("{name, role}"),
        )
        .add(
            ep(
                "DELETE",
                "/api/v1/tokens/{id}",
                "admin",
                "Revoke an API token",
            ),
            delete(revoke_token),
        )
        .add(
            ep("GET", "/api/v1/audit", "viewer", "Audit log, newest first").query(&[
                "entity",
                "entity_id",
                "actor",
                "action",
                "since",
                "until",
                "page",
                "per_page",
            ]),
            get(audit),
        )
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready or not, for anyone (a load balancer, systemd, a monitor); the
/// details (plan files and their problems, which name paths, villages and
/// shelters) only for an admin token.
async fn readyz(State(s): State<AppState>, actor: Option<Actor>) -> (StatusCode, Json<Value>) {
    // A write, not a read: a daemon whose disk is full can still read but
    // cannot accept a notice, and must not say it is ready.
    let ready = match s.db.probe_write().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            false
        }
    };
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    };
    if actor.is_none_or(|a| a.role < Role::Admin) {
        return (status, Json(json!({ "status": word })));
    }
    // Plan problems are reported, not fatal: the last good version stays in force.
    let plans = s.notifier.plans.all().await.len();
    let problems: Vec<String> = s
        .notifier
        .plans
        .problems()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    let plan_state = json!({ "in_force": plans, "status": if problems.is_empty() { "ok" } else { "problems" }, "problems": problems });
    let database = if ready { "ok" } else { "cannot write" };
    (
        status,
        Json(json!({ "status": word, "database": database, "plans": plan_state })),
    )
}

async fn channels(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let items = crate::notify::delivery::outbox::channel_health(&s.notifier).await?;
    use std::sync::atomic::Ordering::Relaxed;
    let o = &s.notifier.outbox;
    Ok(Json(json!({
        "items": items,
        "outbox": {
            // Outcomes waiting for the database (disk full): nothing is claimed meanwhile.
            "recording_failing": o.record_failing.load(Relaxed),
            "outcome_batches_kept": o.outcomes_held.load(Relaxed),
            "unknown_outcomes": o.unknown_outcomes.load(Relaxed),
        }
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    name: String,
    role: Role,
}

async fn create_token(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<TokenInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Admin)?;
    let name = crate::validate::required_text("name", &input.name, 64)?;
    let (id, token) = crate::auth::issue_token(&s.db, &actor, &name, input.role).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": name, "role": input.role.as_str(), "token": token })),
    ))
}

async fn list_tokens(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Admin)?;
    let tokens = crate::auth::list_tokens(&s.db).await?;
    let items: Vec<Value> = tokens
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "role": t.role,
                "created_at": crate::time::fmt_ms(t.created_at, s.tz),
                "revoked_at": crate::time::fmt_opt(t.revoked_at, s.tz),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn revoke_token(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    actor.require(Role::Admin)?;
    if !crate::auth::revoke_token(&s.db, &actor, id).await? {
        return Err(ApiError::not_found("token"));
    }
    s.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(State(s): State<AppState>, actor: Actor, q: Query) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&[
        "entity",
        "entity_id",
        "actor",
        "action",
        "since",
        "until",
        "page",
        "per_page",
    ])?;
    let page = Page::from_query(&q)?;
    let time = |k: &str| -> ApiResult<Option<i64>> {
        q.text(k)
            .map(|v| {
                crate::time::parse_rfc3339(v).ok_or_else(|| {
                    ApiError::invalid(
                        k,
                        "must be an RFC 3339 time, e.g. 2026-11-26T08:00:00+08:00",
                    )
                })
            })
            .transpose()
    };
    let f = crate::audit::Filter {
        entity: q.text("entity").map(str::to_string),
        entity_id: q.int("entity_id")?,
        actor: q.text("actor").map(str::to_string),
        action: q.text("action").map(str::to_string),
        since_ms: time("since")?,
        until_ms: time("until")?,
    };
    let (items, total) = crate::audit::list(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    Ok(Json(page.json(items, total)))
}

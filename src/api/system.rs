//! Health, tokens and the audit log.

use super::extract::Scoped;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::{AppState, Items, Page, Paged};
use crate::auth::{Actor, Role};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(channels))
        .routes(routes!(canaries))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// Always "ok".
    status: &'static str,
}

/// Process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()),
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
struct Ready {
    /// "ready" or "not ready".
    status: &'static str,
    /// With an admin token: "ok" or "cannot write".
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'static str>,
    /// With an admin token: the plans in force and their files' problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    plans: Option<PlanState>,
}

#[derive(Serialize, ToSchema)]
struct PlanState {
    in_force: usize,
    /// "ok" or "problems".
    status: &'static str,
    problems: Vec<String>,
}

/// Ready or not (a write transaction is tried); details (database, plans) with an admin token.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, body = Ready), (status = 503, description = "Not ready: storage cannot write", body = Ready)))]
/// Ready or not, for anyone (a load balancer, systemd, a monitor); the
/// details (plan files and their problems, which name paths, villages and
/// shelters) only for an admin token.
async fn readyz(State(s): State<AppState>, actor: Option<Actor>) -> (StatusCode, Json<Ready>) {
    // A write, not a read: a daemon whose disk is full can still read but
    // cannot accept a notice, and must not say it is ready.
    let ready = match s.system.probe_write().await {
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
        return (
            status,
            Json(Ready {
                status: word,
                database: None,
                plans: None,
            }),
        );
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
    let plan_state = PlanState {
        in_force: plans,
        status: if problems.is_empty() {
            "ok"
        } else {
            "problems"
        },
        problems,
    };
    let database = if ready { "ok" } else { "cannot write" };
    (
        status,
        Json(Ready {
            status: word,
            database: Some(database),
            plans: Some(plan_state),
        }),
    )
}

#[derive(Serialize, ToSchema)]
struct Channels {
    items: Vec<crate::notify::delivery::outbox::ChannelHealth>,
    outbox: OutboxState,
}

/// Outcomes waiting for the database (disk full): nothing is claimed meanwhile.
#[derive(Serialize, ToSchema)]
struct OutboxState {
    recording_failing: bool,
    outcome_batches_kept: u64,
    unknown_outcomes: u64,
}

/// Each channel: on or off, its provider's circuit breaker (closed / open / probing), what waits.
#[utoipa::path(get, path = "/api/v1/channels", tag = "system", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Channels)))]
async fn channels(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Channels>> {
    actor.require(Role::Viewer)?;
    let items = crate::notify::delivery::outbox::channel_health(&s.notifier).await?;
    use std::sync::atomic::Ordering::Relaxed;
    let o = &s.notifier.outbox;
    Ok(Json(Channels {
        items,
        outbox: OutboxState {
            recording_failing: o.record_failing.load(Relaxed),
            outcome_batches_kept: o.outcomes_held.load(Relaxed),
            unknown_outcomes: o.unknown_outcomes.load(Relaxed),
        },
    }))
}

#[derive(Serialize, ToSchema)]
struct Canaries {
    /// Each configured SMS path's standing: failing when its latest self-check failed or
    /// the day's is missing.
    paths: Vec<crate::notify::delivery::canary::PathCheck>,
    /// The latest self-checks, newest first (samples marked).
    recent: Vec<crate::notify::delivery::canary::CanaryView>,
}

/// The SMS paths' daily self-checks (通道自检): a test text over each path to the duty phone,
/// its delivery receipt awaited.
#[utoipa::path(get, path = "/api/v1/canaries", tag = "system", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Canaries)))]
async fn canaries(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Canaries>> {
    actor.require(Role::Viewer)?;
    let n = &s.notifier;
    Ok(Json(Canaries {
        paths: crate::notify::delivery::canary::state(n, crate::store::now_ms()).await?,
        recent: crate::notify::delivery::canary::recent(&n.db, 30).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    role: Role,
    /// The leader permission (带班领导/签发人): may approve public notices
    /// and high-level activations someone else drafted.
    #[serde(default)]
    leader: bool,
    /// What the token may see and change: `county`, `township` or
    /// `village`; none: the maker's own scope. Never more than the maker's.
    #[serde(default)]
    scope: Option<ScopeKind>,
    /// The township (default: the maker's own).
    #[serde(default)]
    township_id: Option<i64>,
    /// The village, for a village scope.
    #[serde(default)]
    village_id: Option<i64>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ScopeKind {
    County,
    Township,
    Village,
}

impl ScopeKind {
    fn as_str(self) -> &'static str {
        match self {
            ScopeKind::County => "county",
            ScopeKind::Township => "township",
            ScopeKind::Village => "village",
        }
    }
}

#[derive(Serialize, ToSchema)]
struct TokenCreated {
    id: i64,
    name: String,
    role: Role,
    leader: bool,
    /// The secret, shown this once.
    token: String,
}

#[derive(Serialize, ToSchema)]
struct TokenView {
    id: i64,
    name: String,
    role: String,
    leader: bool,
    /// `county`, `township` or `village`.
    scope: String,
    township_id: i64,
    village_id: Option<i64>,
    created_at: String,
    revoked_at: Option<String>,
}

/// Create an API token; the secret is shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "system", security(("bearer" = ["admin"])),
    request_body = TokenInput,
    responses((status = 201, body = TokenCreated)))]
async fn create_token(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<TokenInput>,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    actor.require(Role::Admin)?;
    let name = crate::validate::required_text("name", &input.name, 64)?;
    let (scope, township) = crate::auth::grant_scope(
        &s.db,
        &actor,
        input.scope.map(ScopeKind::as_str),
        input.township_id,
        input.village_id,
    )
    .await?;
    crate::auth::check_role_within(input.role, &scope)?;
    let (id, token) = crate::auth::issue_token(
        &s.db,
        &actor,
        &name,
        input.role,
        input.leader,
        (&scope, township),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id,
            name,
            role: input.role,
            leader: input.leader,
            token,
        }),
    ))
}

/// List API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "system", security(("bearer" = ["admin"])),
    responses((status = 200, body = Items<TokenView>)))]
async fn list_tokens(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Items<TokenView>>> {
    actor.require(Role::Admin)?;
    let tokens = crate::auth::list_tokens(&s.db).await?;
    let items = tokens
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            leader: t.leader != 0,
            scope: t.scope,
            township_id: t.township_id,
            village_id: t.village_id,
            created_at: crate::time::fmt_ms(t.created_at, s.tz),
            revoked_at: crate::time::fmt_opt(t.revoked_at, s.tz),
        })
        .collect();
    Ok(Json(Items { items }))
}

/// Revoke an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "system", security(("bearer" = ["admin"])),
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked")))]
async fn revoke_token(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<StatusCode> {
    actor.require(Role::Admin)?;
    if !crate::auth::revoke_token(&s.db, &actor, id).await? {
        return Err(ApiError::not_found("token"));
    }
    s.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// village, contact, site, alert, token, …
    #[serde(default, deserialize_with = "query::text")]
    entity: Option<String>,
    #[serde(default, deserialize_with = "query::int")]
    entity_id: Option<i64>,
    #[serde(default, deserialize_with = "query::text")]
    actor: Option<String>,
    #[serde(default, deserialize_with = "query::text")]
    action: Option<String>,
    /// RFC 3339, e.g. 2026-11-26T08:00:00+08:00
    #[serde(default, deserialize_with = "query::text")]
    since: Option<String>,
    /// RFC 3339
    #[serde(default, deserialize_with = "query::text")]
    until: Option<String>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// Audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "system", security(("bearer" = ["viewer"])),
    params(AuditQuery),
    responses((status = 200, body = Paged<crate::audit::Entry>)))]
async fn audit(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Paged<crate::audit::Entry>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let time = |k: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
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
        since_ms: time("since", &q.since)?,
        until_ms: time("until", &q.until)?,
        entity: q.entity,
        entity_id: q.entity_id,
        actor: q.actor,
        action: q.action,
    };
    let (items, total) = crate::audit::list(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    Ok(Json(page.of(items, total)))
}

/// `GET /metrics` on the main listener: the Prometheus metrics, for an admin
/// token only (they tell how busy the office is). Not in the OpenAPI
/// document: it is for Prometheus, not API clients. Without a token, only on
/// `metrics.listen` (see `server::start`).
pub(super) async fn metrics(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    actor.require(Role::Admin)?;
    let text = crate::telemetry::render(&s.notifier).await;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            crate::telemetry::CONTENT_TYPE,
        )],
        text,
    )
        .into_response())
}

//! Plans in force, incidents opened from them, and observations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Page, Query, Routes, ep};
use crate::auth::{Actor, Role};
use crate::incidents::{self, IncidentError, OpenInput, observations};

pub fn mount(r: Routes) -> Routes {
    r.add(
        ep(
            "GET",
            "/api/v1/plans",
            "viewer",
            "Plans in force with their version hash and any problems in their files",
        ),
        get(list),
    )
    .add(
        ep(
            "GET",
            "/api/v1/plans/{id}",
            "viewer",
            "One plan, parsed, with its version hash and load errors",
        ),
        get(one),
    )
    .add(
        ep(
            "POST",
            "/api/v1/plans/reload",
            "admin",
            "Read the plan files again (a broken file keeps its last good version)",
        ),
        post(reload),
    )
    .add(
        ep(
            "GET",
            "/api/v1/incidents",
            "viewer",
            "Incidents, newest first",
        )
        .query(&["status", "page", "per_page"]),
        get(list_incidents).post(open),
    )
    .doc(
        ep(
            "POST",
            "/api/v1/incidents",
            "dispatcher",
            "Activate a plan at a level for villages or an area; sends that level's notices",
        )
        .body("{plan, level, villages|area, note?, exercise?}"),
    )
    .add(
        ep(
            "GET",
            "/api/v1/incidents/{id}",
            "viewer",
            "Timeline: levels, notices, answers per village, plan version",
        ),
        get(timeline),
    )
    .add(
        ep(
            "POST",
            "/api/v1/incidents/{id}/level",
            "dispatcher",
            "Raise or lower the level; an update notice to those the new level names",
        )
        .body("{level, villages?}"),
        post(level),
    )
    .add(
        ep(
            "POST",
            "/api/v1/incidents/{id}/close",
            "dispatcher",
            "Stand down; the all-clear to everyone notified",
        )
        .body("{note?}"),
        post(close),
    )
    .add(
        ep(
            "POST",
            "/api/v1/observations",
            "dispatcher",
            "A reading evaluated against every plan's triggers; suggests or opens/raises incidents",
        )
        .body("{kind, window_hours?, mm?, village?, colour?, rating?, hectares?, hours?}"),
        post(observe),
    )
    .add(
        ep(
            "GET",
            "/api/v1/observations/suggestions",
            "viewer",
            "Activations suggested by readings in the last 24 h, for a person to confirm",
        ),
        get(suggestions),
    )
}

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        match e {
            IncidentError::Invalid(f) => ApiError::invalid(f.field, f.message),
            IncidentError::NotFound => ApiError::not_found("incident"),
            IncidentError::Conflict(m) => ApiError::conflict(m),
            IncidentError::Store(s) => ApiError::from(s),
        }
    }
}

async fn list(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let book = &s.notifier.plans;
    let mut items = Vec::new();
    for p in book.all().await {
        items.push(json!({
            "id": p.plan.id, "title": p.plan.title, "hazard": p.plan.hazard, "version": p.plan.version,
            "approved_on": p.plan.approved_on, "approved_by": p.plan.approved_by, "file": p.file, "version_hash": p.content_hash,
            "levels": p.plan.levels.iter().map(|l| l.level).collect::<Vec<_>>(),
            "problems": book.problems_for(&p.plan.id).await.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    }
    let problems: Vec<String> = book
        .problems()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(json!({ "items": items, "problems": problems })))
}

async fn one(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let book = &s.notifier.plans;
    let p = book
        .get(&id)
        .await
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok(Json(json!({
        "plan": p.plan, "file": p.file, "version_hash": p.content_hash,
        "problems": book.problems_for(&id).await.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

async fn reload(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Admin)?;
    let report = s.notifier.plans.reload(&s.db).await?;
    crate::drills::sync_from_plans(&s.db, &s.cfg.drills, &s.notifier.plans).await?;
    Ok(Json(json!(report)))
}

async fn list_incidents(
    State(s): State<AppState>,
    actor: Actor,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&["status", "page", "per_page"])?;
    let page = Page::from_query(&q)?;
    let filter = match q.text("status") {
        None => incidents::IncidentFilter::All,
        Some("open") => incidents::IncidentFilter::Open,
        Some("closed") => incidents::IncidentFilter::Closed,
        Some(_) => return Err(ApiError::invalid("status", "use open or closed")),
    };
    let (rows, total) = incidents::list(&s.db, filter, page.limit(), page.offset()).await?;
    let items: Vec<_> = rows.iter().map(|i| incidents::summary(i, s.tz)).collect();
    Ok(Json(page.json(items, total)))
}

/// An activation and the notices it sent.
#[derive(serde::Serialize)]
struct Activation {
    #[serde(flatten)]
    incident: incidents::IncidentSummary,
    alerts: Vec<i64>,
}

/// A stood-down activation and its all-clear notice, if one went out.
#[derive(serde::Serialize)]
struct StoodDown {
    #[serde(flatten)]
    incident: incidents::IncidentSummary,
    all_clear_alert: Option<i64>,
}

async fn open(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<OpenInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Dispatcher)?;
    let (inc, alerts) = incidents::open(&s.notifier, &actor, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!(Activation {
            incident: incidents::summary(&inc, s.tz),
            alerts,
        })),
    ))
}

async fn timeline(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let inc = incidents::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(json!(incidents::timeline(&s.db, &inc, s.tz).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelInput {
    level: Value,
    #[serde(default)]
    villages: Vec<Value>,
}

async fn level(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<LevelInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Dispatcher)?;
    let level = incidents::parse_level(&input.level)?;
    let all = crate::registry::villages::list(&s.db, false).await?;
    let mut add = Vec::new();
    for (i, v) in input.villages.iter().enumerate() {
        let found = crate::registry::villages::find_ref(&all, v);
        add.push(
            found
                .ok_or_else(|| {
                    ApiError::invalid(format!("villages[{i}]"), format!("no village {v}"))
                })?
                .id,
        );
    }
    let (inc, alerts) = incidents::change_level(&s.notifier, &actor, id, level, &add).await?;
    Ok(Json(json!(Activation {
        incident: incidents::summary(&inc, s.tz),
        alerts,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloseInput {
    #[serde(default)]
    note: Option<String>,
}

async fn close(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Dispatcher)?;
    let input: CloseInput = if body.iter().all(u8::is_ascii_whitespace) {
        CloseInput::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let note = crate::validate::optional_text("note", &input.note, 500)?;
    let (inc, all_clear) = incidents::close(&s.notifier, &actor, id, note).await?;
    Ok(Json(json!(StoodDown {
        incident: incidents::summary(&inc, s.tz),
        all_clear_alert: all_clear,
    })))
}

async fn observe(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<observations::ObservationInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Dispatcher)?;
    let v = observations::record(&s.notifier, &actor, &input).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

async fn suggestions(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    Ok(Json(
        json!({ "items": observations::suggestions(&s.db, s.tz).await? }),
    ))
}

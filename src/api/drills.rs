//! Drill schedules, runs, records and scorecards.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Routes, ep};
use crate::auth::{Actor, Role};
use crate::drills::{self, DrillInput, records};

pub fn mount(r: Routes) -> Routes {
    r.add(
        ep(
            "GET",
            "/api/v1/drills",
            "viewer",
            "Drill schedules with their next occurrences",
        ),
        get(list).post(create),
    )
    .doc(
        ep(
            "POST",
            "/api/v1/drills",
            "editor",
            "Schedule a drill (cron or a single date-time, reminder lead times; occurrences at least \
             drills.min_interval_hours apart, leads at least drills.min_lead_minutes). A dispatcher's \
             schedule is active; an editor's is a draft (no reminders, cannot be started) until a \
             dispatcher activates it",
        )
        .body("DrillInput"),
    )
    .add(
        ep(
            "GET",
            "/api/v1/drills/{id}",
            "viewer",
            "One drill with its next occurrences in local time",
        ),
        get(one).put(update).delete(archive),
    )
    .doc(
        ep(
            "PUT",
            "/api/v1/drills/{id}",
            "editor",
            "Update a drill (send the version you edited); an editor's change makes it a draft again",
        )
        .body("DrillInput"),
    )
    .doc(ep(
        "DELETE",
        "/api/v1/drills/{id}",
        "editor",
        "Archive a drill",
    ))
    .add(
        ep(
            "POST",
            "/api/v1/drills/{id}/activate",
            "dispatcher",
            "Activate a draft drill schedule: its reminders go out (none owed from before) and it can be started",
        ),
        post(activate),
    )
    .add(
        ep(
            "POST",
            "/api/v1/drills/{id}/start",
            "dispatcher",
            "Run the drill now: an exercise notice through the real answer and escalation path (an active schedule only)",
        )
        .body("{ack_within_minutes?}"),
        post(start),
    )
    .add(
        ep(
            "GET",
            "/api/v1/drills/{id}/records",
            "viewer",
            "Records of the drill",
        ),
        get(scorecard).post(record),
    )
    .doc(
        ep(
            "POST",
            "/api/v1/drills/{id}/records",
            "editor",
            "Record a drill held: participants, duration, problems, follow-up",
        )
        .body("RecordInput"),
    )
    .add(
        ep(
            "GET",
            "/api/v1/drills/{id}/scorecard",
            "viewer",
            "Per-village answer rates and times compared with previous drills",
        ),
        get(scorecard),
    )
}

async fn list(State(s): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let items: Vec<Value> = drills::list(&s.db)
        .await?
        .iter()
        .map(|d| d.view(s.tz))
        .collect();
    Ok(Json(json!({ "items": items, "total": items.len() })))
}

async fn one(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let d = drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    Ok(Json(d.view(s.tz)))
}

async fn create(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<DrillInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Editor)?;
    let d = drills::create(&s.db, &s.cfg.drills, &actor, &input, "api", s.tz).await?;
    Ok((StatusCode::CREATED, Json(d.view(s.tz))))
}

async fn update(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<DrillInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    Ok(Json(
        drills::update(&s.db, &s.cfg.drills, &actor, id, &input, s.tz)
            .await?
            .view(s.tz),
    ))
}

async fn archive(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    Ok(Json(
        drills::archive(&s.db, &actor, id, s.tz).await?.view(s.tz),
    ))
}

async fn activate(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Dispatcher)?;
    Ok(Json(
        drills::activate(&s.db, &s.cfg.drills, &actor, id, s.tz)
            .await?
            .view(s.tz),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartInput {
    #[serde(default)]
    ack_within_minutes: Option<i64>,
}

async fn start(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Dispatcher)?;
    let input: StartInput = if body.iter().all(u8::is_ascii_whitespace) {
        StartInput::default()
    } else {
        super::extract::parse_json(&body)?
    };
    let d = drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    let started = drills::start_now(
        &s.notifier,
        &actor,
        &d,
        input.ack_within_minutes.unwrap_or(15),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(json!(started))))
}

async fn record(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<records::RecordInput>,
) -> ApiResult<(StatusCode, Json<records::DrillRecord>)> {
    actor.require(Role::Editor)?;
    Ok((
        StatusCode::CREATED,
        Json(records::create(&s.db, &actor, id, &input, s.tz).await?),
    ))
}

async fn scorecard(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<records::Scorecard>> {
    actor.require(Role::Viewer)?;
    drills::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("drill"))?;
    Ok(Json(records::scorecard(&s.db, id).await?))
}

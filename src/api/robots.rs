//! Work-group robots (工作群机器人): the register (the webhook's key and the
//! secret masked in every answer), a test message, and the posts of a robot
//! and of a notice.

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id, Scoped};
use super::query::Params;
use super::registry::VersionQuery;
use super::{AppState, Counted, Items};
use crate::auth::{Actor, Role};
use crate::notify::robots::{self, GroupPost, GroupRobot, RobotInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_robots, create_robot))
        .routes(routes!(get_robot, update_robot, archive_robot))
        .routes(routes!(test_robot))
        .routes(routes!(robot_posts))
        .routes(routes!(alert_group_posts))
}

/// The work-group robots (the office's group and the villages'), the
/// office's first; a village user sees their village's.
#[utoipa::path(get, path = "/api/v1/group-robots", tag = "alerts", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Counted<GroupRobot>)))]
async fn list_robots(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Counted<GroupRobot>>> {
    actor.require(Role::Viewer)?;
    let items: Vec<_> = robots::list(&s.db)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One robot (its key and secret masked).
#[utoipa::path(get, path = "/api/v1/group-robots/{id}", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = GroupRobot)))]
async fn get_robot(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<GroupRobot>> {
    actor.require(Role::Viewer)?;
    let row = robots::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("group robot"))?;
    Ok(Json(row.view(s.tz)))
}

/// Register a robot: `kind` (wecom / dingtalk / feishu), `name`, the
/// `webhook_url` as the provider shows it, the `secret` (DingTalk 加签,
/// starting with SEC; Feishu 签名校验 if set), `village_id` for a village's
/// group (none: the office's). A wrong address or secret is refused naming
/// the field.
#[utoipa::path(post, path = "/api/v1/group-robots", tag = "alerts", security(("bearer" = ["admin"])),
    request_body = RobotInput, responses((status = 201, body = GroupRobot)))]
async fn create_robot(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<RobotInput>,
) -> ApiResult<(StatusCode, Json<GroupRobot>)> {
    actor.require(Role::Admin)?;
    let row = robots::create(
        &s.db,
        &actor,
        &input,
        &s.cfg.robots.extra_hosts,
        false,
        s.tz,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Change a robot (send the version you edited; 409 if stale). An absent or
/// empty `webhook_url` or `secret` keeps the stored one; `active: false`
/// stops its posts.
#[utoipa::path(put, path = "/api/v1/group-robots/{id}", tag = "alerts", security(("bearer" = ["admin"])),
    params(("id" = i64, Path)), request_body = RobotInput, responses((status = 200, body = GroupRobot)))]
async fn update_robot(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<RobotInput>,
) -> ApiResult<Json<GroupRobot>> {
    actor.require(Role::Admin)?;
    let row = robots::update(&s.db, &actor, id, &input, &s.cfg.robots.extra_hosts, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a robot: nothing is posted to it any more; its posts stay on the
/// notices' pages.
#[utoipa::path(delete, path = "/api/v1/group-robots/{id}", tag = "alerts", security(("bearer" = ["admin"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = GroupRobot)))]
async fn archive_robot(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<GroupRobot>> {
    actor.require(Role::Admin)?;
    let row = robots::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

#[derive(Serialize, ToSchema)]
struct TestQueued {
    post_id: i64,
    /// queued: the daemon posts it within `robots.check_secs`; see
    /// `GET /group-robots/{id}/posts` for how it went.
    status: &'static str,
}

/// Send a test message to a robot's group (queued, posted by the daemon).
#[utoipa::path(post, path = "/api/v1/group-robots/{id}/test", tag = "alerts", security(("bearer" = ["dispatcher"])),
    params(("id" = i64, Path)), responses((status = 202, body = TestQueued)))]
async fn test_robot(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<(StatusCode, Json<TestQueued>)> {
    actor.require(Role::Dispatcher)?;
    let post_id = robots::posts::enqueue_test(&s.db, &actor, id, &s.cfg.office_name, s.tz).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestQueued {
            post_id,
            status: "queued",
        }),
    ))
}

/// A robot's latest 50 posts, newest first: sent, waiting or failed (with
/// the provider's message).
#[utoipa::path(get, path = "/api/v1/group-robots/{id}/posts", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<GroupPost>)))]
async fn robot_posts(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<GroupPost>>> {
    actor.require(Role::Viewer)?;
    robots::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("group robot"))?;
    let items = robots::posts::for_robot(&s.db, id, 50, s.tz).await?;
    Ok(Json(Items { items }))
}

/// A notice's posts to the work groups: which robot, when, sent or failed
/// (with the provider's message). They inform; none is an answer.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/group-posts", tag = "alerts", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<GroupPost>)))]
async fn alert_group_posts(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<GroupPost>>> {
    actor.require(Role::Viewer)?;
    crate::notify::response::status::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    let items = robots::posts::for_alert(&s.db, id, s.tz).await?;
    Ok(Json(Items { items }))
}

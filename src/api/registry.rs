//! Villages and contacts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::extract::Body;
use super::{AppState, Page, Query, Routes, ep};
use crate::auth::{Actor, Role};
use crate::registry::{contacts, roles, villages};

pub fn mount(r: Routes) -> Routes {
    r.add(
        ep("GET", "/api/v1/villages", "viewer", "List villages").query(&["include_archived"]),
        get(list_villages).post(create_village),
    )
    .doc(ep("POST", "/api/v1/villages", "editor", "Create a village").body("VillageInput"))
    .add(
        ep("GET", "/api/v1/villages/{id}", "viewer", "One village"),
        get(get_village).put(update_village).delete(archive_village),
    )
    .doc(
        ep(
            "PUT",
            "/api/v1/villages/{id}",
            "editor",
            "Update a village (send the version you edited)",
        )
        .body("VillageInput"),
    )
    .doc(
        ep(
            "DELETE",
            "/api/v1/villages/{id}",
            "editor",
            "Archive a village",
        )
        .query(&["version"]),
    )
    .add(
        ep(
            "GET",
            "/api/v1/roles",
            "viewer",
            "Contact roles known to the registry",
        ),
        get(list_roles),
    )
    .add(
        ep("GET", "/api/v1/contacts", "viewer", "List contacts").query(&[
            "village_id",
            "township",
            "role",
            "active",
            "include_archived",
            "q",
            "page",
            "per_page",
        ]),
        get(list_contacts).post(create_contact),
    )
    .doc(ep("POST", "/api/v1/contacts", "editor", "Create a contact").body("ContactInput"))
    .add(
        ep("GET", "/api/v1/contacts/{id}", "viewer", "One contact"),
        get(get_contact).put(update_contact).delete(archive_contact),
    )
    .doc(
        ep(
            "PUT",
            "/api/v1/contacts/{id}",
            "editor",
            "Update a contact (send the version you edited)",
        )
        .body("ContactInput"),
    )
    .doc(
        ep(
            "DELETE",
            "/api/v1/contacts/{id}",
            "editor",
            "Archive a contact",
        )
        .query(&["version"]),
    )
}

async fn list_villages(
    State(s): State<AppState>,
    actor: Actor,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&["include_archived"])?;
    let rows = villages::list(&s.db, q.flag("include_archived")?.unwrap_or(false)).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(json!({ "items": items, "total": items.len() })))
}

async fn get_village(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let row = villages::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("village"))?;
    Ok(Json(json!(row.view(s.tz))))
}

async fn create_village(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<villages::VillageInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Editor)?;
    let row = villages::create(&s.db, &actor, &input, &s.cfg.limits.geo(), false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(json!(row.view(s.tz)))))
}

async fn update_village(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<villages::VillageInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    let row = villages::update(&s.db, &actor, id, &input, &s.cfg.limits.geo(), s.tz).await?;
    Ok(Json(json!(row.view(s.tz))))
}

async fn archive_village(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    q.only(&["version"])?;
    let row = villages::archive(&s.db, &actor, id, q.int("version")?, s.tz).await?;
    Ok(Json(json!(row.view(s.tz))))
}

async fn list_roles(actor: Actor) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let items: Vec<Value> = roles::ROLES
        .iter()
        .map(|(zh, code, en)| json!({ "name": zh, "code": code, "label_en": en }))
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn list_contacts(
    State(s): State<AppState>,
    actor: Actor,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    q.only(&[
        "village_id",
        "township",
        "role",
        "active",
        "include_archived",
        "q",
        "page",
        "per_page",
    ])?;
    let page = Page::from_query(&q)?;
    let role = match q.text("role") {
        Some(r) => Some(
            roles::canonical(r)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "role",
                        format!("unknown role '{r}'; known roles: {}", roles::known_list()),
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    let f = contacts::Filter {
        village_id: q.int("village_id")?,
        township_only: q.flag("township")?.unwrap_or(false),
        role,
        active: q.flag("active")?,
        include_archived: q.flag("include_archived")?.unwrap_or(false),
        q: q.search(s.cfg.limits.search_chars)?,
    };
    let (items, total) = contacts::list(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    Ok(Json(page.json(items, total)))
}

async fn get_contact(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Viewer)?;
    let c = contacts::get(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(json!(c)))
}

async fn create_contact(
    State(s): State<AppState>,
    actor: Actor,
    Body(input): Body<contacts::ContactInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    actor.require(Role::Editor)?;
    let c = contacts::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(json!(c))))
}

async fn update_contact(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    Body(input): Body<contacts::ContactInput>,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    let c = contacts::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(json!(c)))
}

async fn archive_contact(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    q: Query,
) -> ApiResult<Json<Value>> {
    actor.require(Role::Editor)?;
    q.only(&["version"])?;
    let c = contacts::archive(&s.db, &actor, id, q.int("version")?, s.tz).await?;
    Ok(Json(json!(c)))
}

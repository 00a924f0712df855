//! Villages, contacts and shelters.

use super::extract::Scoped;
use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Body, Id};
use super::query::{self, Params};
use super::{AppState, Counted, Items, Page, Paged};
use crate::auth::{Actor, Role};
use crate::registry::contacts::{self, Contact, ContactInput};
use crate::registry::responsible;
use crate::registry::roles::{self, ContactRole};
use crate::registry::shelters::{self, Shelter, ShelterInput, ShelterStatus};
use crate::registry::townships::{self, Township};
use crate::registry::villages::{self, Village, VillageInput};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_villages, create_village))
        .routes(routes!(get_village, update_village, archive_village))
        .routes(routes!(list_roles))
        .routes(routes!(list_townships))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(contacts_xlsx))
        .routes(routes!(responsible_persons))
        .routes(routes!(responsible_persons_xlsx))
        .routes(routes!(get_contact, update_contact, archive_contact))
        .routes(routes!(list_shelters, create_shelter))
        .routes(routes!(get_shelter, update_shelter, archive_shelter))
}

/// The townships of this install (one on a single-township install), with
/// their division codes: the organisation tree every record belongs to.
#[utoipa::path(get, path = "/api/v1/townships", tag = "registry", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<Township>)))]
async fn list_townships(Scoped(s): Scoped, actor: Actor) -> ApiResult<Json<Items<Township>>> {
    actor.require(Role::Viewer)?;
    let items = townships::list(&s.db).await?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ArchivedQuery {
    /// Include archived records.
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
}

/// The version the editor saw, checked when archiving (409 if stale).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct VersionQuery {
    #[serde(default, deserialize_with = "query::int")]
    pub version: Option<i64>,
}

/// List villages.
#[utoipa::path(get, path = "/api/v1/villages", tag = "registry", security(("bearer" = ["viewer"])),
    params(ArchivedQuery), responses((status = 200, body = Counted<Village>)))]
async fn list_villages(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ArchivedQuery>,
) -> ApiResult<Json<Counted<Village>>> {
    actor.require(Role::Viewer)?;
    let rows = villages::list(&s.db, q.include_archived.unwrap_or(false)).await?;
    let items: Vec<_> = rows.iter().map(|r| r.view(s.tz)).collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One village.
#[utoipa::path(get, path = "/api/v1/villages/{id}", tag = "registry", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Village)))]
async fn get_village(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Village>> {
    actor.require(Role::Viewer)?;
    let row = villages::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("village"))?;
    Ok(Json(row.view(s.tz)))
}

/// Create a village.
#[utoipa::path(post, path = "/api/v1/villages", tag = "registry", security(("bearer" = ["editor"])),
    request_body = VillageInput, responses((status = 201, body = Village)))]
async fn create_village(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<VillageInput>,
) -> ApiResult<(StatusCode, Json<Village>)> {
    actor.require(Role::Editor)?;
    let row = villages::create(&s.db, &actor, &input, &s.cfg.limits.geo(), false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Update a village (send the version you edited).
#[utoipa::path(put, path = "/api/v1/villages/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = VillageInput, responses((status = 200, body = Village)))]
async fn update_village(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<VillageInput>,
) -> ApiResult<Json<Village>> {
    actor.require(Role::Editor)?;
    let row = villages::update(&s.db, &actor, id, &input, &s.cfg.limits.geo(), s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a village.
#[utoipa::path(delete, path = "/api/v1/villages/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Village)))]
async fn archive_village(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Village>> {
    actor.require(Role::Editor)?;
    let row = villages::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

#[derive(Serialize, ToSchema)]
struct RoleView {
    /// The stored (Chinese) name.
    name: &'static str,
    /// The English code, accepted wherever a role is named.
    code: &'static str,
    label_en: &'static str,
}

/// Contact roles known to the registry.
#[utoipa::path(get, path = "/api/v1/roles", tag = "registry", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<RoleView>)))]
async fn list_roles(actor: Actor) -> ApiResult<Json<Items<RoleView>>> {
    actor.require(Role::Viewer)?;
    let items = roles::ROLES
        .iter()
        .map(|(zh, code, en)| RoleView {
            name: zh,
            code,
            label_en: en,
        })
        .collect();
    Ok(Json(Items { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ContactQuery {
    /// One township's contacts (another township's than the asker's: none).
    #[serde(default, deserialize_with = "query::int")]
    township_id: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    village_id: Option<i64>,
    /// Only township-level contacts (no village).
    #[serde(default, deserialize_with = "query::flag")]
    township: Option<bool>,
    #[param(inline)]
    role: Option<ContactRole>,
    #[serde(default, deserialize_with = "query::flag")]
    active: Option<bool>,
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
    /// Search text: part of a name, or a phone number however it is typed
    /// (139 5951 2468, +86 139-5951-2468, 0595-2328 1234).
    #[serde(default, deserialize_with = "query::text")]
    q: Option<String>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<i64>,
    #[serde(default, deserialize_with = "query::int")]
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<i64>,
}

/// List contacts.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "registry", security(("bearer" = ["viewer"])),
    params(ContactQuery), responses((status = 200, body = Paged<Contact>)))]
async fn list_contacts(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ContactQuery>,
) -> ApiResult<Json<Paged<Contact>>> {
    actor.require(Role::Viewer)?;
    let page = Page::new(q.page, q.per_page)?;
    let f = contact_filter(&s, q)?;
    let (items, total) = contacts::list(&s.db, &f, page.limit(), page.offset(), s.tz).await?;
    Ok(Json(page.of(items, total)))
}

fn contact_filter(s: &AppState, q: ContactQuery) -> ApiResult<contacts::Filter> {
    Ok(contacts::Filter {
        township_id: q.township_id,
        village_id: q.village_id,
        township_only: q.township.unwrap_or(false),
        role: q.role.map(|r| r.name().to_string()),
        active: q.active,
        include_archived: q.include_archived.unwrap_or(false),
        q: query::search(&q.q, s.cfg.limits.search_chars)?,
    })
}

/// The contacts (通讯录) as an Excel workbook: the list's filters, every page
/// (`page` and `per_page` are checked, then ignored).
#[utoipa::path(get, path = "/api/v1/contacts.xlsx", tag = "registry", security(("bearer" = ["viewer"])),
    params(ContactQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn contacts_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ContactQuery>,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    // Checked as the list checks them, though the workbook holds every page.
    Page::new(q.page, q.per_page)?;
    let f = contact_filter(&s, q)?;
    let (items, _) = contacts::list(&s.db, &f, 1_000_000, 0, s.tz).await?;
    let villages = villages::names(&s.db).await?;
    super::xlsx(
        crate::registry::export::contacts_workbook(&super::heading(&s, &actor), &items, &villages),
        "contacts.xlsx",
    )
}

/// The list of responsible persons (责任人名单), village by village: the
/// holders of responsibility roles and each danger zone's 监测员, 预警员 and
/// 转移责任人.
#[utoipa::path(get, path = "/api/v1/responsible-persons", tag = "registry", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Items<responsible::ResponsiblePerson>)))]
async fn responsible_persons(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<Json<Items<responsible::ResponsiblePerson>>> {
    actor.require(Role::Viewer)?;
    Ok(Json(Items {
        items: responsible::list(&s.db, s.tz).await?,
    }))
}

/// The list of responsible persons as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/responsible-persons.xlsx", tag = "registry", security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
async fn responsible_persons_xlsx(
    Scoped(s): Scoped,
    actor: Actor,
) -> ApiResult<axum::response::Response> {
    actor.require(Role::Viewer)?;
    let items = responsible::list(&s.db, s.tz).await?;
    super::xlsx(
        responsible::workbook(&super::heading(&s, &actor), &items),
        "responsible-persons.xlsx",
    )
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "registry", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Contact)))]
async fn get_contact(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Contact>> {
    actor.require(Role::Viewer)?;
    let c = contacts::get(&s.db, id, s.tz)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(c))
}

/// Create a contact.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "registry", security(("bearer" = ["editor"])),
    request_body = ContactInput, responses((status = 201, body = Contact)))]
async fn create_contact(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<ContactInput>,
) -> ApiResult<(StatusCode, Json<Contact>)> {
    actor.require(Role::Editor)?;
    let c = contacts::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Update a contact (send the version you edited).
#[utoipa::path(put, path = "/api/v1/contacts/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = ContactInput, responses((status = 200, body = Contact)))]
async fn update_contact(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ContactInput>,
) -> ApiResult<Json<Contact>> {
    actor.require(Role::Editor)?;
    let c = contacts::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(c))
}

/// Archive a contact.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Contact)))]
async fn archive_contact(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Contact>> {
    actor.require(Role::Editor)?;
    let c = contacts::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(c))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ShelterQuery {
    #[serde(default, deserialize_with = "query::int")]
    village_id: Option<i64>,
    #[param(inline)]
    status: Option<ShelterStatus>,
    #[serde(default, deserialize_with = "query::flag")]
    include_archived: Option<bool>,
}

/// List shelters (避灾点), by code.
#[utoipa::path(get, path = "/api/v1/shelters", tag = "registry", security(("bearer" = ["viewer"])),
    params(ShelterQuery), responses((status = 200, body = Counted<Shelter>)))]
async fn list_shelters(
    Scoped(s): Scoped,
    actor: Actor,
    Params(q): Params<ShelterQuery>,
) -> ApiResult<Json<Counted<Shelter>>> {
    actor.require(Role::Viewer)?;
    let f = shelters::Filter {
        village_id: q.village_id,
        status: q.status,
        include_archived: q.include_archived.unwrap_or(false),
    };
    let items: Vec<_> = shelters::list(&s.db, &f)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(Json(Counted {
        total: items.len(),
        items,
    }))
}

/// One shelter.
#[utoipa::path(get, path = "/api/v1/shelters/{id}", tag = "registry", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Shelter)))]
async fn get_shelter(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Json<Shelter>> {
    actor.require(Role::Viewer)?;
    let row = shelters::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("shelter"))?;
    Ok(Json(row.view(s.tz)))
}

/// Register a shelter.
#[utoipa::path(post, path = "/api/v1/shelters", tag = "registry", security(("bearer" = ["editor"])),
    request_body = ShelterInput, responses((status = 201, body = Shelter)))]
async fn create_shelter(
    Scoped(s): Scoped,
    actor: Actor,
    Body(input): Body<ShelterInput>,
) -> ApiResult<(StatusCode, Json<Shelter>)> {
    actor.require(Role::Editor)?;
    let row = shelters::create(&s.db, &actor, &input, false, s.tz).await?;
    Ok((StatusCode::CREATED, Json(row.view(s.tz))))
}

/// Update a shelter (send the version you edited).
#[utoipa::path(put, path = "/api/v1/shelters/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path)), request_body = ShelterInput, responses((status = 200, body = Shelter)))]
async fn update_shelter(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Body(input): Body<ShelterInput>,
) -> ApiResult<Json<Shelter>> {
    actor.require(Role::Editor)?;
    let row = shelters::update(&s.db, &actor, id, &input, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

/// Archive a shelter (plans naming it then fail their check).
#[utoipa::path(delete, path = "/api/v1/shelters/{id}", tag = "registry", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), VersionQuery), responses((status = 200, body = Shelter)))]
async fn archive_shelter(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<Shelter>> {
    actor.require(Role::Editor)?;
    let row = shelters::archive(&s.db, &actor, id, q.version, s.tz).await?;
    Ok(Json(row.view(s.tz)))
}

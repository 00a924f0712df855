//! Photos of inspections (现场照片) and of findings' rectifications (整改前 /
//! 整改后). A photo is sent as the request body as it is (a JPEG, PNG,
//! WebP or HEIC file, its type told by its bytes), what comes with it in the
//! query; its bytes are read back with the same kind of token.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Id, Scoped};
use super::query::{self, Params};
use super::{AppState, Items};
use crate::auth::{Actor, Role};
use crate::ledger::photos::{self, Owner, Photo, PhotoError, PhotoInput, PhotoStore, Tag};

/// The photo, as the request's body: its bytes as they are.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PhotoBytes(#[allow(dead_code)] Vec<u8>);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_inspection_photos, add_inspection_photo))
        .routes(routes!(list_finding_photos, add_finding_photo))
        .routes(routes!(get_photo))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InspectionPhotoQuery {
    /// What the photo shows (at most 200 characters).
    #[serde(default, deserialize_with = "query::text")]
    caption: Option<String>,
    /// The file's name as the camera gave it.
    #[serde(default, deserialize_with = "query::text")]
    file: Option<String>,
    /// When it was taken (RFC 3339).
    #[serde(default, deserialize_with = "query::text")]
    taken_at: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FindingPhotoQuery {
    /// Before (整改前) or after (整改后) the rectification.
    #[param(inline)]
    tag: Option<Tag>,
    /// What the photo shows (at most 200 characters).
    #[serde(default, deserialize_with = "query::text")]
    caption: Option<String>,
    /// The file's name as the camera gave it.
    #[serde(default, deserialize_with = "query::text")]
    file: Option<String>,
    /// When it was taken (RFC 3339).
    #[serde(default, deserialize_with = "query::text")]
    taken_at: Option<String>,
}

fn refused(e: PhotoError) -> ApiError {
    match e {
        PhotoError::TooLarge(max) => too_large(max),
        PhotoError::Write(w) => w.into(),
        PhotoError::File(e) => {
            tracing::error!(error = %e, "keeping a photo's file");
            ApiError::internal()
        }
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the photo is larger than {max} bytes (limits.photo_bytes); 照片不能超过 {} MB",
            max / (1024 * 1024)
        ),
    )
    .with_field("photo")
}

/// The body, up to the size allowed: a longer one is refused (413) without
/// reading the rest.
async fn read_photo(store: &PhotoStore, headers: &HeaderMap, body: Body) -> ApiResult<Vec<u8>> {
    let max = store.max_bytes();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    match axum::body::to_bytes(body, max).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) if e.to_string().contains("length limit") => Err(too_large(max)),
        Err(e) => Err(ApiError::bad_request(
            Some("photo".into()),
            format!("cannot read the photo: {e}"),
        )),
    }
}

async fn add(
    s: &AppState,
    actor: &Actor,
    owner: Owner,
    input: PhotoInput,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Photo>)> {
    actor.require(Role::Editor)?;
    let not_found = || ApiError::not_found(owner.kind());
    if !photos::owner_exists(&s.db, owner).await? {
        return Err(not_found());
    }
    let store = PhotoStore::from_config(&s.cfg);
    let bytes = read_photo(&store, headers, body).await?;
    let p = photos::add(&s.db, &store, actor, owner, &input, &bytes)
        .await
        .map_err(refused)?;
    Ok((StatusCode::CREATED, Json(p.api(s.tz))))
}

async fn list(s: &AppState, actor: &Actor, owner: Owner) -> ApiResult<Json<Items<Photo>>> {
    actor.require(Role::Viewer)?;
    if !photos::owner_exists(&s.db, owner).await? {
        return Err(ApiError::not_found(owner.kind()));
    }
    let rows = match owner {
        Owner::Inspection(id) => photos::list_for_inspection(&s.db, id).await?,
        Owner::Finding(id) => photos::list_for_finding(&s.db, id).await?,
    };
    Ok(Json(Items {
        items: rows.iter().map(|p| p.api(s.tz)).collect(),
    }))
}

/// An inspection's photos (现场照片).
#[utoipa::path(get, path = "/api/v1/inspections/{id}/photos", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<Photo>)))]
async fn list_inspection_photos(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<Photo>>> {
    list(&s, &actor, Owner::Inspection(id)).await
}

/// Attach a photo to an inspection (现场照片): the body is the image file
/// itself (JPEG, PNG, WebP or HEIC, at most `limits.photo_bytes`, 10 MB
/// unless configured), e.g. `curl --data-binary @IMG_0001.jpg -H
/// 'Content-Type: image/jpeg'`. Anything else is refused (422, field
/// `photo`), a larger file too (413, field `photo`); nothing is kept then.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/photos", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), InspectionPhotoQuery),
    request_body(content(
        (PhotoBytes = "image/jpeg"), (PhotoBytes = "image/png"), (PhotoBytes = "image/webp"), (PhotoBytes = "image/heic")
    )),
    responses((status = 201, body = Photo), (status = 413, description = "The photo is over the size allowed",
        body = super::error::ErrorBody)))]
async fn add_inspection_photo(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<InspectionPhotoQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Photo>)> {
    let input = PhotoInput {
        tag: Some(Tag::Scene),
        caption: q.caption,
        file_name: q.file,
        taken_at: q.taken_at,
    };
    add(&s, &actor, Owner::Inspection(id), input, &headers, body).await
}

/// A finding's photos, those before the rectification (整改前) first.
#[utoipa::path(get, path = "/api/v1/findings/{id}/photos", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)), responses((status = 200, body = Items<Photo>)))]
async fn list_finding_photos(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
) -> ApiResult<Json<Items<Photo>>> {
    list(&s, &actor, Owner::Finding(id)).await
}

/// Attach a photo of a finding before (`tag=before`, 整改前) or after
/// (`tag=after`, 整改后) its rectification; the body is the image file as
/// for an inspection's photo.
#[utoipa::path(post, path = "/api/v1/findings/{id}/photos", tag = "ledger", security(("bearer" = ["editor"])),
    params(("id" = i64, Path), FindingPhotoQuery),
    request_body(content(
        (PhotoBytes = "image/jpeg"), (PhotoBytes = "image/png"), (PhotoBytes = "image/webp"), (PhotoBytes = "image/heic")
    )),
    responses((status = 201, body = Photo), (status = 413, description = "The photo is over the size allowed",
        body = super::error::ErrorBody)))]
async fn add_finding_photo(
    Scoped(s): Scoped,
    actor: Actor,
    Id(id): Id,
    Params(q): Params<FindingPhotoQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Photo>)> {
    let input = PhotoInput {
        tag: q.tag,
        caption: q.caption,
        file_name: q.file,
        taken_at: q.taken_at,
    };
    add(&s, &actor, Owner::Finding(id), input, &headers, body).await
}

/// A photo's bytes, with its type (never served as anything but the image
/// it was checked to be).
#[utoipa::path(get, path = "/api/v1/photos/{id}", tag = "ledger", security(("bearer" = ["viewer"])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The image", content(
        (PhotoBytes = "image/jpeg"), (PhotoBytes = "image/png"), (PhotoBytes = "image/webp"), (PhotoBytes = "image/heic")
    ))))]
async fn get_photo(Scoped(s): Scoped, actor: Actor, Id(id): Id) -> ApiResult<Response> {
    actor.require(Role::Viewer)?;
    let p = photos::get(&s.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let bytes = PhotoStore::from_config(&s.cfg)
        .read(&p)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, photo = id, "reading a photo's file");
            ApiError::internal()
        })?;
    Ok(crate::app::photo_response(&p, bytes))
}

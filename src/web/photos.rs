//! Photos of an inspection (现场照片, `/inspections/{id}/photos`) and of a
//! finding's rectification (整改前 / 整改后, `/findings/{id}/photos`): the
//! photos as thumbnails (the image scaled by CSS) and, for editors, an
//! upload form that opens a phone's camera. The upload is multipart; the
//! guard takes its `_csrf` from the first part, as for an import. The bytes
//! are served at `/photos/{id}` to signed-in users only.

use askama::Template;
use axum::extract::{Multipart, Path};
use axum::http::StatusCode;

use super::Scoped;
use super::html::{Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::photos::{self, Owner, PhotoError, PhotoInput, PhotoStore, Tag};
use crate::store::WriteError;

/// One photo as the page lists it.
struct Thumb {
    id: i64,
    tag: &'static str,
    caption: String,
    file_name: String,
    uploaded: String,
    by: String,
}

#[derive(Template)]
#[template(path = "photos/page.html")]
struct PhotoPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    /// Where the form posts (the page's own address).
    action: String,
    site_id: i64,
    site_name: String,
    /// "2026-11-20 · 张三、李四", and for a finding its item.
    heading: String,
    item: Option<String>,
    finding: bool,
    editor: bool,
    saved: bool,
    /// A refused upload: the field and the message.
    problem: Option<(String, String)>,
    /// What was typed with a refused upload.
    caption: String,
    tag: String,
    max_mb: usize,
    photos: Vec<Thumb>,
}

fn owner_path(owner: Owner) -> String {
    match owner {
        Owner::Inspection(id) => format!("/inspections/{id}/photos"),
        Owner::Finding(id) => format!("/findings/{id}/photos"),
    }
}

fn field_words(lang: Lang, field: &str) -> String {
    match field {
        "photo" => lang.t("照片", "Photo"),
        "tag" => lang.t("照片类别", "Before / after"),
        "caption" => lang.t("说明", "Caption"),
        other => other,
    }
    .to_string()
}

/// A refused upload, in the page's words.
struct Refusal {
    status: StatusCode,
    field: String,
    message: String,
}

async fn page(
    s: &AppState,
    ctx: &Ctx,
    owner: Owner,
    refusal: Option<Refusal>,
    typed: (String, String),
) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let o = photos::owner_summary(&s.db, owner)
        .await?
        .ok_or(WebError::NotFound)?;
    let list = match owner {
        Owner::Inspection(id) => photos::list_for_inspection(&s.db, id).await?,
        Owner::Finding(id) => photos::list_for_finding(&s.db, id).await?,
    };
    let photos = list
        .iter()
        .map(|p| {
            let (zh, en) = p.tag().words();
            Thumb {
                id: p.id,
                tag: lang.t(zh, en),
                caption: p.caption.clone().unwrap_or_default(),
                file_name: p.file_name.clone().unwrap_or_default(),
                uploaded: crate::time::fmt_ms(p.uploaded_at, s.tz)
                    .replace('T', " ")
                    .chars()
                    .take(16)
                    .collect(),
                by: super::audit_words::actor_words(lang, &p.uploaded_by),
            }
        })
        .collect();
    let title = match owner {
        Owner::Inspection(_) => ctx.t("现场照片", "Photos of the inspection"),
        Owner::Finding(_) => ctx.t("整改照片", "Photos of the rectification"),
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, |r| r.status);
    let q = ctx.path.split_once('?').map_or("", |(_, q)| q);
    let saved = form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "saved" && v == "1");
    Ok(render(
        status,
        &PhotoPage {
            shell: Shell::new(ctx, format!("{title} · {}", o.site_name), Nav::Ledger),
            lang,
            action: owner_path(owner),
            site_id: o.site_id,
            heading: format!("{} · {}", o.inspected_on, o.inspector_names().join("、")),
            site_name: o.site_name,
            item: o.item,
            finding: matches!(owner, Owner::Finding(_)),
            editor: ctx.can(Role::Editor) && o.archived == 0,
            saved,
            problem: refusal.map(|r| (field_words(lang, &r.field), r.message)),
            caption: typed.0,
            tag: typed.1,
            max_mb: s.cfg.limits.photo_bytes.div_ceil(1024 * 1024),
            photos,
        },
    ))
}

pub async fn of_inspection(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    page(&s, &ctx, Owner::Inspection(id), None, Default::default()).await
}

pub async fn of_finding(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    page(&s, &ctx, Owner::Finding(id), None, Default::default()).await
}

pub async fn to_inspection(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> WebResult {
    upload(&s, &ctx, Owner::Inspection(id), form.ok()).await
}

pub async fn to_finding(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> WebResult {
    upload(&s, &ctx, Owner::Finding(id), form.ok()).await
}

/// The upload: the photo with its caption (and for a finding before or
/// after), stored, then the page again; a refused one shows why.
async fn upload(s: &AppState, ctx: &Ctx, owner: Owner, form: Option<Multipart>) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    if photos::owner_summary(&s.db, owner).await?.is_none() {
        return Err(WebError::NotFound);
    }
    let store = PhotoStore::from_config(&s.cfg);
    let mut input = PhotoInput::default();
    let mut tag = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut too_large = false;
    if let Some(mut form) = form {
        while let Ok(Some(mut field)) = form.next_field().await {
            match field.name() {
                Some("caption") => input.caption = field.text().await.ok(),
                Some("tag") => tag = field.text().await.unwrap_or_default(),
                Some("photo") => {
                    input.file_name = field.file_name().map(str::to_string);
                    // Read chunk by chunk, stopping past the limit.
                    while let Ok(Some(chunk)) = field.chunk().await {
                        if bytes.len() + chunk.len() > store.max_bytes() {
                            too_large = true;
                            break;
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    if too_large {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    input.tag = match owner {
        Owner::Inspection(_) => Some(Tag::Scene),
        Owner::Finding(_) => Tag::parse(&tag),
    };
    let typed = (input.caption.clone().unwrap_or_default(), tag);
    let outcome = if too_large {
        Err(PhotoError::TooLarge(store.max_bytes()))
    } else {
        photos::add(&s.db, &store, &user.actor(), owner, &input, &bytes).await
    };
    let refusal = match outcome {
        Ok(_) => return Ok(see_other(&format!("{}?saved=1", owner_path(owner)))),
        Err(PhotoError::TooLarge(max)) => Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            field: "photo".into(),
            message: format!(
                "{}{} MB{}",
                ctx.t("照片太大，不能超过 ", "The photo is too large: at most "),
                max.div_ceil(1024 * 1024),
                ctx.t(
                    "（可在手机相机中调低分辨率）",
                    " (a lower camera resolution helps)"
                )
            ),
        },
        Err(PhotoError::Write(WriteError::Invalid(fe))) => Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: match fe.field.as_str() {
                "photo" if bytes.is_empty() => ctx
                    .t("请选择或拍摄一张照片", "Choose or take a photo")
                    .to_string(),
                "photo" => ctx
                    .t(
                        "只能上传照片（JPEG、PNG、WebP 或 HEIC 格式）",
                        "Only photos can be uploaded (JPEG, PNG, WebP or HEIC)",
                    )
                    .to_string(),
                "tag" => ctx
                    .t(
                        "请选择整改前或整改后",
                        "Choose before or after the rectification",
                    )
                    .to_string(),
                _ => fe.message,
            },
            field: fe.field,
        },
        Err(PhotoError::Write(WriteError::NotFound)) => return Err(WebError::NotFound),
        Err(PhotoError::Write(WriteError::Conflict(m))) => return Err(WebError::Internal(m)),
        Err(PhotoError::Write(WriteError::Store(e))) => return Err(e.into()),
        Err(PhotoError::File(e)) => return Err(WebError::Internal(format!("photo file: {e}"))),
    };
    page(s, ctx, owner, Some(refusal), typed).await
}

/// A photo's bytes, for a signed-in user whose scope covers it.
pub async fn serve(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let p = photos::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let bytes = PhotoStore::from_config(&s.cfg)
        .read(&p)
        .await
        .map_err(|e| WebError::Internal(format!("reading photo {id}: {e}")))?;
    Ok(crate::app::photo_response(&p, bytes))
}

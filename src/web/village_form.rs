//! Creating and editing a village (村): code, names, population and its
//! boundary as GeoJSON (as exported from a GIS program and pasted). The boundary decides which village a site's location falls in
//! and which villages an alert area reaches, so it is checked as through
//! the API; an edit of a village someone changed meanwhile is refused with
//! their version shown.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::html::{E, Errors, Fields, FormData, Nav, Page, csrf_field, error_summary};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::registry::villages::{self, VillageInput};
use crate::store::WriteError;

fn label(lang: Lang, field: &str) -> String {
    if field.starts_with("boundary") {
        return lang.t("边界（GeoJSON）", "Boundary (GeoJSON)").to_string();
    }
    match field {
        "code" => lang.t("代码", "Code"),
        "name" => lang.t("名称", "Name"),
        "name_en" => lang.t("英文名", "English name"),
        "population" => lang.t("人口", "Population"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

pub async fn new_form(ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    render(
        &ctx,
        None,
        &FormData::default(),
        &Errors::default(),
        StatusCode::OK,
    )
}

pub async fn edit_form(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let v = villages::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let f = as_form(&v);
    render(&ctx, Some(id), &f, &Errors::default(), StatusCode::OK)
}

fn as_form(v: &villages::VillageRow) -> FormData {
    let mut f = FormData::default();
    f.set("code", v.code.clone());
    f.set("name", v.name.clone());
    f.set("name_en", v.name_en.clone().unwrap_or_default());
    f.set(
        "population",
        v.population.map(|p| p.to_string()).unwrap_or_default(),
    );
    // Pretty-printed, so a person can find a corner in it.
    let boundary = serde_json::from_str::<Value>(&v.boundary)
        .ok()
        .and_then(|b| serde_json::to_string_pretty(&b).ok())
        .unwrap_or_else(|| v.boundary.clone());
    f.set("boundary", boundary);
    f.set("version", v.version.to_string());
    f
}

pub async fn create(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    save(s, ctx, None, f).await
}

pub async fn update(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    save(s, ctx, Some(id), f).await
}

async fn save(s: AppState, ctx: Ctx, id: Option<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    let boundary = match serde_json::from_str::<Value>(f.get("boundary")) {
        Ok(b) => b,
        Err(e) => {
            errors.add("boundary", format!("is not JSON: {e}"));
            Value::Null
        }
    };
    let population = f.whole("population", &mut errors);
    if !errors.is_empty() {
        return render(&ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let input = VillageInput {
        code: f.get("code").trim().to_string(),
        name: f.get("name").trim().to_string(),
        name_en: f.opt("name_en").filter(|n| !n.trim().is_empty()),
        boundary,
        population,
        version: f.get("version").parse().ok(),
    };
    let actor = user.actor();
    let saved = match id {
        None => villages::create(&s.db, &actor, &input, &s.cfg.limits.geo(), false, s.tz).await,
        Some(id) => villages::update(&s.db, &actor, id, &input, &s.cfg.limits.geo(), s.tz).await,
    };
    match saved {
        Ok(v) => Ok(see_other(&format!("/villages/{}", v.id))),
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            render(&ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(WriteError::Conflict(m)) => {
            // Keep what was typed; take the current version so saving again
            // is a deliberate overwrite, and show what is stored now.
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = villages::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
            let mut mine = f.clone();
            mine.set("version", cur.version.to_string());
            errors.add("version", m);
            let mut page = render_page(&ctx, Some(id), &mine, &errors)?;
            let stored = as_form(&cur);
            let _ = write!(
                page,
                "<div class=\"box error\" id=\"conflict\"><b>{}</b><pre>{}</pre></div>",
                ctx.t("现在保存的版本：", "What is stored now:"),
                E(&format!(
                    "{} {} · {}\n{}",
                    stored.get("code"),
                    stored.get("name"),
                    stored.get("population"),
                    stored.get("boundary")
                ))
            );
            let mut p = Page::new(ctx.t("编辑村庄", "Edit village"), Nav::Villages, page);
            p.status = StatusCode::CONFLICT;
            Ok(p.render(&ctx))
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

fn render(
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let b = render_page(ctx, id, v, errors)?;
    let title = match id {
        None => ctx.t("新建村庄", "New village"),
        Some(_) => ctx.t("编辑村庄", "Edit village"),
    };
    let mut page = Page::new(title, Nav::Villages, b);
    page.status = status;
    Ok(page.render(ctx))
}

fn render_page(
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
) -> Result<String, WebError> {
    let lang = ctx.lang;
    let (title, action) = match id {
        None => (
            ctx.t("新建村庄", "New village"),
            "/villages/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑村庄", "Edit village"),
            format!("/villages/{i}/edit"),
        ),
    };
    let mut b = format!("<h1>{title}</h1>");
    b.push_str(&error_summary(lang, errors, |f| label(lang, f)));
    let fl = Fields { lang, v, errors };
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{}\" class=\"form wide\" id=\"village-form\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">\
         <div class=\"cols\">{}{}</div><div class=\"cols\">{}{}</div>{}<p class=\"muted\">{}</p>\
         <button type=\"submit\" class=\"primary\">{}</button></form>",
        E(&action),
        csrf_field(ctx),
        E(v.get("version")),
        fl.input("code", ("代码", "Code"), "text", "required maxlength=\"32\"", ("字母、数字、-、_", "letters, digits, - and _")),
        fl.input("name", ("名称", "Name"), "text", "required", ("", "")),
        fl.input("name_en", ("英文名", "English name"), "text", "", ("", "")),
        fl.input("population", ("人口", "Population"), "number", "min=\"0\"", ("", "")),
        fl.textarea("boundary", ("边界（GeoJSON Polygon 或 MultiPolygon，经度在前）", "Boundary (GeoJSON Polygon or MultiPolygon, longitude first)"), 12),
        ctx.t(
            "边界决定场所位置归属哪个村、预警区域覆盖哪些村。可从 GIS 软件导出后粘贴。",
            "The boundary decides which village a site's location is in and which villages an alert area reaches. Export it from a GIS program and paste it here."
        ),
        ctx.t("保存", "Save"),
    );
    Ok(b)
}

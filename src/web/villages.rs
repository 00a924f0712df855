//! Villages (村): the list, a village's page (its contacts and sites), and
//! the form that creates and edits one: code, names, population and its
//! boundary as GeoJSON (as exported from a GIS program and pasted). The
//! boundary decides which village a site's location falls in and which
//! villages an alert area reaches, so it is checked as through the API; an
//! edit of a village someone changed meanwhile is refused with their version
//! shown.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::Value;

use super::contacts::{ContactRow, contact_rows};
use super::html::{Errors, Form, FormData, Nav, Shell, grade_label, kind_label, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::sites::{self, RiskGrade};
use crate::registry::contacts;
use crate::registry::villages::{self, VillageInput};
use crate::store::WriteError;

struct VillageRow {
    id: i64,
    code: String,
    name: String,
    name_en: String,
    population: String,
    area_code: String,
    contacts: i64,
    sites: i64,
}

#[derive(Template)]
#[template(path = "villages/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    villages: Vec<VillageRow>,
    population: i64,
    contacts: i64,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let list = villages::list(&s.db, false).await?;
    let nc = crate::registry::contacts::count_by_village(&s.db).await?;
    let ns = crate::ledger::sites::count_by_village(&s.db).await?;
    let population = list.iter().map(|v| v.population.unwrap_or(0)).sum();
    let rows = list
        .into_iter()
        .map(|v| VillageRow {
            contacts: nc.get(&Some(v.id)).copied().unwrap_or(0),
            sites: ns.get(&Some(v.id)).copied().unwrap_or(0),
            id: v.id,
            code: v.code,
            name: v.name,
            name_en: v.name_en.unwrap_or_default(),
            population: v.population.map(|p| p.to_string()).unwrap_or_default(),
            area_code: v.area_code.unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("村庄", "Villages"), Nav::Villages),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor),
            villages: rows,
            population,
            contacts: nc.values().sum(),
        },
    ))
}

struct SiteItem {
    id: i64,
    name: String,
    colour: &'static str,
    grade: &'static str,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "villages/show.html")]
struct ShowPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    v: VillageRow,
    contacts: Vec<ContactRow>,
    sites: Vec<SiteItem>,
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let v = villages::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let names = crate::registry::villages::names(&s.db).await?;
    let f = contacts::Filter {
        village_id: Some(id),
        ..Default::default()
    };
    let (cs, _) = contacts::list(&s.db, &f, 5000, 0, s.tz).await?;
    let sf = sites::Filter {
        village_id: Some(id),
        ..Default::default()
    };
    let (ss, _) = sites::search(&s.db, &sf, 5000, 0, s.tz).await?;
    let sites = ss
        .into_iter()
        .map(|r| SiteItem {
            colour: RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour),
            grade: grade_label(lang, &r.risk_grade),
            kind: kind_label(lang, &r.kind),
            id: r.id,
            name: r.name,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ShowPage {
            shell: Shell::new(&ctx, v.name.clone(), Nav::Villages),
            lang,
            editor: ctx.can(Role::Editor),
            contacts: contact_rows(lang, &cs, &names),
            sites,
            v: VillageRow {
                id: v.id,
                code: v.code,
                name: v.name,
                name_en: v.name_en.unwrap_or_default(),
                population: v.population.map(|p| p.to_string()).unwrap_or_default(),
                area_code: v.area_code.unwrap_or_default(),
                contacts: 0,
                sites: 0,
            },
        },
    ))
}

#[derive(Template)]
#[template(path = "villages/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    /// On a conflict, the version stored now.
    stored: Option<String>,
    /// The village being edited (empty when new): the boundary map leaves
    /// it out of the other villages it shows.
    self_id: String,
}

fn form_page(
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    stored: Option<String>,
    status: StatusCode,
) -> WebResult {
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
    Ok(render(
        status,
        &FormPage {
            shell: map_shell(ctx, title),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, label),
            stored,
            self_id: id.map(|i| i.to_string()).unwrap_or_default(),
        },
    ))
}

/// The form's shell with the boundary map's styles and scripts (Leaflet and
/// the vendored Leaflet-Geoman).
fn map_shell<'a>(ctx: &'a Ctx, title: &str) -> Shell<'a> {
    let mut shell = Shell::new(ctx, title, Nav::Villages);
    shell.styles = &[
        "vendor/leaflet/leaflet.css",
        "vendor/leaflet-geoman/leaflet-geoman.css",
        "map.css",
    ];
    shell.scripts = &[
        "vendor/leaflet/leaflet.js",
        "vendor/leaflet-geoman/leaflet-geoman.min.js",
        "mapform.js",
    ];
    shell
}

fn label(lang: Lang, field: &str) -> String {
    if field.starts_with("boundary") {
        return lang.t("边界（GeoJSON）", "Boundary (GeoJSON)").to_string();
    }
    match field {
        "code" => lang.t("代码", "Code"),
        "name" => lang.t("名称", "Name"),
        "name_en" => lang.t("英文名", "English name"),
        "population" => lang.t("人口", "Population"),
        "area_code" => lang.t("统计用区划代码", "Division code"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

pub async fn new_form(ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    form_page(
        &ctx,
        None,
        &FormData::default(),
        &Errors::default(),
        None,
        StatusCode::OK,
    )
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let v = villages::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let f = as_form(&v);
    form_page(&ctx, Some(id), &f, &Errors::default(), None, StatusCode::OK)
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
    f.set("area_code", v.area_code.clone().unwrap_or_default());
    // Pretty-printed, so a person can find a corner in it.
    let boundary = serde_json::from_str::<Value>(&v.boundary)
        .ok()
        .and_then(|b| serde_json::to_string_pretty(&b).ok())
        .unwrap_or_else(|| v.boundary.clone());
    f.set("boundary", boundary);
    f.set("version", v.version.to_string());
    f
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save(s, ctx, None, f).await
}

pub async fn update(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    save(s, ctx, Some(id), f).await
}

async fn save(s: AppState, ctx: Ctx, id: Option<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    let text = f.get("boundary").trim();
    let boundary = match serde_json::from_str::<Value>(text) {
        Ok(b) => b,
        Err(_) if text.is_empty() => {
            errors.add(
                "boundary",
                ctx.t(
                    "请在地图上画出边界，或粘贴、导入 GeoJSON",
                    "draw the boundary on the map, or paste or import GeoJSON",
                ),
            );
            Value::Null
        }
        Err(e) => {
            errors.add(
                "boundary",
                format!("{}{e}", ctx.t("不是有效的 JSON：", "is not JSON: ")),
            );
            Value::Null
        }
    };
    let population = f.whole("population", &mut errors);
    if !errors.is_empty() {
        return form_page(
            &ctx,
            id,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let input = VillageInput {
        code: f.get("code").trim().to_string(),
        name: f.get("name").trim().to_string(),
        name_en: f.opt("name_en").filter(|n| !n.trim().is_empty()),
        boundary,
        population,
        area_code: f.opt("area_code"),
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
            form_page(
                &ctx,
                id,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
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
            let stored = as_form(&cur);
            let stored = format!(
                "{} {} · {}\n{}",
                stored.get("code"),
                stored.get("name"),
                stored.get("population"),
                stored.get("boundary")
            );
            form_page(
                &ctx,
                Some(id),
                &mine,
                &errors,
                Some(stored),
                StatusCode::CONFLICT,
            )
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

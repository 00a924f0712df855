//! Shelters (避灾点): the register's list and the form that creates and
//! edits one (code, name, village, position, capacity, manager, phone,
//! status). The plans name shelters by code; the map draws them. An edit of
//! a shelter someone changed meanwhile is refused with their version shown.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::registry::shelters::{self, Location, ShelterInput, ShelterStatus};
use crate::store::WriteError;

struct Row {
    id: i64,
    code: String,
    name: String,
    village: String,
    capacity: i64,
    manager: String,
    phone: String,
    status: &'static str,
    open: bool,
    address: String,
    note: String,
}

#[derive(Template)]
#[template(path = "shelters/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    shelters: Vec<Row>,
    capacity: i64,
}

fn status_label(lang: Lang, s: &str) -> &'static str {
    match ShelterStatus::parse(s) {
        Some(st) => lang.t(st.label_zh(), st.label_en()),
        None => "",
    }
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let names = crate::registry::villages::names(&s.db).await?;
    let rows = shelters::list(&s.db, &shelters::Filter::default()).await?;
    let capacity = rows
        .iter()
        .filter(|r| r.status == ShelterStatus::Open.as_str())
        .map(|r| r.capacity)
        .sum();
    let shelters = rows
        .into_iter()
        .map(|r| Row {
            village: r
                .village_id
                .and_then(|v| names.get(&v).cloned())
                .unwrap_or_default(),
            status: status_label(lang, &r.status),
            open: r.status == ShelterStatus::Open.as_str(),
            id: r.id,
            code: r.code,
            name: r.name,
            capacity: r.capacity,
            manager: r.manager.unwrap_or_default(),
            phone: r
                .phone
                .as_deref()
                .map(crate::phone::dialled)
                .unwrap_or_default(),
            address: r.address.unwrap_or_default(),
            note: r.note.unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("避灾点", "Shelters"), Nav::Shelters),
            lang,
            editor: ctx.can(Role::Editor),
            shelters,
            capacity,
        },
    ))
}

#[derive(Template)]
#[template(path = "shelters/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    villages: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    /// On a conflict, the version stored now.
    stored: Option<String>,
}

fn label(lang: Lang, field: &str) -> String {
    match field {
        "code" => lang.t("编号", "Code"),
        "name" => lang.t("名称", "Name"),
        "village_id" => lang.t("所属村", "Village"),
        "location" | "lon" => lang.t("经度", "Longitude"),
        "lat" => lang.t("纬度", "Latitude"),
        "capacity" => lang.t("容纳人数", "Capacity"),
        "manager" => lang.t("管理员", "Manager"),
        "phone" => lang.t("管理员电话", "Manager's phone"),
        "status" => lang.t("状态", "Status"),
        "address" => lang.t("地址", "Address"),
        "note" => lang.t("备注", "Note"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

async fn form_page(
    s: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    stored: Option<String>,
    status: StatusCode,
) -> WebResult {
    let (title, action) = match id {
        None => (
            ctx.t("登记避灾点", "New shelter"),
            "/shelters/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑避灾点", "Edit shelter"),
            format!("/shelters/{i}/edit"),
        ),
    };
    let mut villages = vec![(
        String::new(),
        ctx.t("（按位置确定）", "(from the location)").to_string(),
    )];
    villages.extend(
        crate::registry::villages::list(&s.db, false)
            .await?
            .into_iter()
            .map(|v| (v.id.to_string(), format!("{} {}", v.code, v.name))),
    );
    let statuses = ShelterStatus::ALL
        .into_iter()
        .map(|st| {
            (
                st.as_str().to_string(),
                ctx.t(st.label_zh(), st.label_en()).to_string(),
            )
        })
        .collect();
    Ok(render(
        status,
        &FormPage {
            shell: super::map::form_shell(ctx, title, Nav::Shelters),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, label),
            villages,
            statuses,
            stored,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut f = FormData::default();
    f.set("status", ShelterStatus::Open.as_str());
    form_page(&s, &ctx, None, &f, &Errors::default(), None, StatusCode::OK).await
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let r = shelters::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    form_page(
        &s,
        &ctx,
        Some(id),
        &as_form(&r),
        &Errors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

fn as_form(r: &shelters::ShelterRow) -> FormData {
    let mut f = FormData::default();
    f.set("code", r.code.clone());
    f.set("name", r.name.clone());
    f.set(
        "village_id",
        r.village_id.map(|v| v.to_string()).unwrap_or_default(),
    );
    f.set("lon", r.lon.to_string());
    f.set("lat", r.lat.to_string());
    f.set("capacity", r.capacity.to_string());
    f.set("manager", r.manager.clone().unwrap_or_default());
    f.set("phone", r.phone.clone().unwrap_or_default());
    f.set("status", r.status.clone());
    f.set("address", r.address.clone().unwrap_or_default());
    f.set("note", r.note.clone().unwrap_or_default());
    f.set("version", r.version.to_string());
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
    let lon = f.decimal("lon", &mut errors);
    let lat = f.decimal("lat", &mut errors);
    if f.get("lon").trim().is_empty() {
        errors.add("lon", ctx.t("必填", "is required"));
    }
    if f.get("lat").trim().is_empty() {
        errors.add("lat", ctx.t("必填", "is required"));
    }
    let capacity = f.whole("capacity", &mut errors);
    let village_id = match f.get("village_id").trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add("village_id", "is not a village");
                None
            }
        },
    };
    let status = ShelterStatus::parse(f.get("status"));
    if status.is_none() {
        errors.add("status", "choose a status");
    }
    let phone = match f.opt("phone").filter(|p| !p.trim().is_empty()) {
        None => None,
        Some(p) => crate::phone::Phone::parse(&p)
            .map_err(|e| errors.add("phone", e.to_string()))
            .ok(),
    };
    let (Some(lon), Some(lat), Some(status), true) = (lon, lat, status, errors.is_empty()) else {
        return form_page(
            &s,
            &ctx,
            id,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let input = ShelterInput {
        code: f.get("code").trim().to_string(),
        name: f.get("name").trim().to_string(),
        village_id,
        location: Location { lon, lat },
        capacity: capacity.unwrap_or(0),
        manager: f.opt("manager"),
        phone,
        status,
        address: f.opt("address"),
        note: f.opt("note"),
        version: f.get("version").parse().ok(),
    };
    let actor = user.actor();
    let saved = match id {
        None => shelters::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => shelters::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match saved {
        Ok(_) => Ok(see_other("/shelters")),
        Err(WriteError::Invalid(e)) => {
            let field = if e.field == "location" {
                "lon"
            } else {
                &e.field
            };
            errors.add(field, e.message);
            form_page(
                &s,
                &ctx,
                id,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::Conflict(m)) => {
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = shelters::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
            let mut mine = f.clone();
            mine.set("version", cur.version.to_string());
            errors.add("version", m);
            let stored = format!(
                "{} {} · {} · {}, {} · {} {}",
                cur.code,
                cur.name,
                cur.capacity,
                cur.lon,
                cur.lat,
                cur.manager.as_deref().unwrap_or(""),
                cur.phone.as_deref().unwrap_or("")
            );
            form_page(
                &s,
                &ctx,
                Some(id),
                &mine,
                &errors,
                Some(stored),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

//! 执法人员: the inspectors register's list and the form that registers and
//! edits one (name, 执法证号, unit, validity, home village, declared
//! conflicts, phone); archive from the list.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::enforcement::inspectors::{self, InspectorInput, InspectorRow, UNITS};
use crate::store::WriteError;

struct Row {
    id: i64,
    version: i64,
    name: String,
    certificate_no: String,
    unit: String,
    valid: String,
    expired: bool,
    village: String,
    conflicts: usize,
    phone: String,
}

#[derive(Template)]
#[template(path = "inspectors/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    rows: Vec<Row>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let names = crate::registry::villages::names(&s.db).await?;
    let today = crate::time::today(s.tz).to_string();
    let rows = inspectors::list(&s.db, &inspectors::Filter::default())
        .await?
        .into_iter()
        .map(|r| Row {
            expired: !r.valid_on(&today),
            valid: format!("{} — {}", r.valid_from, r.valid_until),
            village: r
                .home_village_id
                .and_then(|v| names.get(&v).cloned())
                .unwrap_or_default(),
            conflicts: r.conflicts().len(),
            phone: r
                .phone
                .as_deref()
                .map(crate::phone::dialled)
                .unwrap_or_default(),
            id: r.id,
            version: r.version,
            name: r.name,
            certificate_no: r.certificate_no,
            unit: r.unit,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("执法人员", "Inspectors"), Nav::Ledger),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor),
            rows,
        },
    ))
}

#[derive(Template)]
#[template(path = "inspectors/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    villages: Vec<(String, String)>,
    sites: Vec<(String, String)>,
    units: &'static [&'static str],
}

fn label(lang: Lang, field: &str) -> String {
    match field {
        "name" => lang.t("姓名", "Name"),
        "certificate_no" => lang.t("执法证号", "Certificate no."),
        "unit" => lang.t("单位", "Unit"),
        "valid_from" => lang.t("有效期自", "Valid from"),
        "valid_until" => lang.t("有效期至", "Valid until"),
        "home_village_id" => lang.t("居住村", "Home village"),
        "conflict_site_ids" => lang.t("需回避的单位", "Declared conflicts"),
        "phone" => lang.t("电话", "Phone"),
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
    status: StatusCode,
) -> WebResult {
    let (title, action) = match id {
        None => (
            ctx.t("登记执法人员", "New inspector"),
            "/inspectors/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑执法人员", "Edit inspector"),
            format!("/inspectors/{i}/edit"),
        ),
    };
    let mut villages = vec![(String::new(), ctx.t("（不填）", "(none)").to_string())];
    villages.extend(
        crate::registry::villages::list(&s.db, false)
            .await?
            .into_iter()
            .map(|v| (v.id.to_string(), format!("{} {}", v.code, v.name))),
    );
    let sites = inspectors::site_choices(&s.db)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, title, Nav::Ledger),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, label),
            villages,
            sites,
            units: &UNITS,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    form_page(
        &s,
        &ctx,
        None,
        &FormData::default(),
        &Errors::default(),
        StatusCode::OK,
    )
    .await
}

fn as_form(r: &InspectorRow) -> FormData {
    let mut f = FormData::default();
    f.set("name", r.name.clone());
    f.set("certificate_no", r.certificate_no.clone());
    f.set("unit", r.unit.clone());
    f.set("valid_from", r.valid_from.clone());
    f.set("valid_until", r.valid_until.clone());
    f.set(
        "home_village_id",
        r.home_village_id.map(|v| v.to_string()).unwrap_or_default(),
    );
    for c in r.conflicts() {
        f.push("conflict_site_ids", c.to_string());
    }
    f.set("phone", r.phone.clone().unwrap_or_default());
    f.set("note", r.note.clone().unwrap_or_default());
    f.set("version", r.version.to_string());
    f
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let r = inspectors::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    form_page(
        &s,
        &ctx,
        Some(id),
        &as_form(&r),
        &Errors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save(s, ctx, None, f).await
}

pub async fn update(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    save(s, ctx, Some(id), f).await
}

async fn save(s: AppState, ctx: Ctx, id: Option<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    if let Some(id) = id {
        inspectors::get(&s.db, id)
            .await?
            .ok_or(WebError::NotFound)?;
    }
    let mut errors = Errors::default();
    let home_village_id = match f.get("home_village_id").trim() {
        "" => None,
        v => v
            .parse::<i64>()
            .map_err(|_| errors.add("home_village_id", "is not a village"))
            .ok(),
    };
    let phone = match f.opt("phone") {
        None => None,
        Some(p) => crate::phone::Phone::parse(&p)
            .map_err(|e| errors.add("phone", e.to_string()))
            .ok(),
    };
    if !errors.is_empty() {
        return form_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let input = InspectorInput {
        name: f.get("name").to_string(),
        certificate_no: f.get("certificate_no").to_string(),
        unit: f.get("unit").to_string(),
        valid_from: f.get("valid_from").to_string(),
        valid_until: f.get("valid_until").to_string(),
        home_village_id,
        conflict_site_ids: f
            .all("conflict_site_ids")
            .into_iter()
            .filter_map(|v| v.trim().parse().ok())
            .collect(),
        phone,
        note: f.opt("note"),
        version: f.get("version").trim().parse().ok(),
    };
    let actor = user.actor();
    let r = match id {
        None => inspectors::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => inspectors::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match r {
        Ok(_) => Ok(see_other("/inspectors?saved=1")),
        Err(WriteError::Invalid(fe)) => {
            errors.add(&fe.field, fe.message);
            form_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(WriteError::Conflict(m)) => {
            let mut mine = f.clone();
            if let Some(cur) = match id {
                Some(id) => inspectors::get(&s.db, id).await?,
                None => None,
            } {
                mine.set("version", cur.version.to_string());
            }
            errors.add("version", m);
            form_page(&s, &ctx, id, &mine, &errors, StatusCode::CONFLICT).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

pub async fn archive(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let version = f.get("version").trim().parse::<i64>().ok();
    match inspectors::archive(&s.db, &user.actor(), id, version, s.tz).await {
        Ok(_) => Ok(see_other("/inspectors")),
        Err(WriteError::Conflict(_)) => Ok(see_other("/inspectors?stale=1")),
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Invalid(_)) => Ok(see_other("/inspectors")),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

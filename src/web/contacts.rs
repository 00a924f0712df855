//! Contacts: the filtered list and the contact form (through
//! `registry::contacts`, like the API). Villages show their contacts with
//! the same table (`templates/contacts/table.html`).

use super::Scoped;
use std::collections::HashMap;

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Pager, Shell, contact_role_label, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::registry::contacts::{self, Contact, ContactInput};
use crate::registry::{roles, villages};
use crate::store::WriteError;

fn query_of(ctx: &Ctx) -> FormData {
    FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes())
}

/// A contact as the table shows it.
pub(super) struct ContactRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) roles: String,
    pub(super) village: String,
    pub(super) phone: String,
    pub(super) email: String,
    pub(super) order: i64,
    pub(super) active: bool,
    pub(super) note: String,
}

pub(super) fn contact_rows(
    lang: Lang,
    list: &[Contact],
    names: &HashMap<i64, String>,
) -> Vec<ContactRow> {
    list.iter()
        .map(|c| ContactRow {
            id: c.id,
            name: c.name.clone(),
            roles: c
                .roles
                .iter()
                .map(|r| contact_role_label(lang, r))
                .collect::<Vec<_>>()
                .join("、"),
            village: c.village_id.map_or_else(
                || lang.t("乡级", "township").to_string(),
                |v| names.get(&v).cloned().unwrap_or_default(),
            ),
            phone: crate::phone::dialled(&c.phone),
            email: c.email.clone().unwrap_or_default(),
            order: c.escalation_order,
            active: c.active,
            note: c.note.clone().unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "contacts/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    f: Form<'a>,
    villages: Vec<(String, String)>,
    roles: Vec<(String, String)>,
    states: Vec<(String, String)>,
    contacts: Vec<ContactRow>,
    pager: Pager,
    /// The list's filters for its `.xlsx` (`?…`, or nothing).
    xlsx_query: String,
}

/// The list's filters from the query string (the page and its `.xlsx` alike).
/// An over-long search is cut to the limit rather than refused: the list
/// still answers, and the box shows what was searched.
fn filter_of(q: &FormData, search_chars: usize) -> contacts::Filter {
    let mut f = contacts::Filter {
        q: q.opt("q").map(|t| {
            t.chars()
                .filter(|c| !c.is_control())
                .take(search_chars)
                .collect()
        }),
        ..Default::default()
    };
    match q.get("village_id") {
        "" => {}
        "township" => f.township_only = true,
        v => f.village_id = v.parse().ok(),
    }
    f.role = q
        .opt("role")
        .and_then(|r| roles::canonical(&r).map(str::to_string));
    f.active = match q.get("active") {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    f
}

/// The filtered list (every page) as `.xlsx`, naming who exported it.
pub async fn export(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let f = filter_of(&query_of(&ctx), s.cfg.limits.search_chars);
    let (list, _) = contacts::list(&s.db, &f, 1_000_000, 0, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    super::exports::download(
        crate::registry::export::contacts_workbook(
            &super::exports::heading(&s, &ctx),
            &list,
            &names,
        ),
        "contacts.xlsx",
    )
}

/// The filters shown, for the export link (the workbook has every page).
fn xlsx_query(q: &FormData) -> String {
    let kept =
        q.0.iter()
            .filter(|(k, v)| !v.is_empty() && k != "page" && k != "per_page");
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = query_of(&ctx);
    let names = crate::registry::villages::names(&s.db).await?;
    let f = filter_of(&q, s.cfg.limits.search_chars);
    // A county has a few thousand contacts: one page can show them all.
    let per_page = q
        .get("per_page")
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=5000).contains(n))
        .unwrap_or(200);
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (list, total) = contacts::list(&s.db, &f, per_page, (page - 1) * per_page, s.tz).await?;
    let errors = Errors::default();
    let mut vs = vec![
        (String::new(), ctx.t("全部", "All").to_string()),
        (
            "township".to_string(),
            ctx.t("乡级", "Township level").to_string(),
        ),
    ];
    let mut vn: Vec<(&i64, &String)> = names.iter().collect();
    vn.sort();
    vs.extend(vn.into_iter().map(|(id, n)| (id.to_string(), n.clone())));
    let mut rs = vec![(String::new(), ctx.t("全部", "All").to_string())];
    rs.extend(
        roles::ROLES
            .iter()
            .map(|(zh, _, _)| ((*zh).to_string(), contact_role_label(lang, zh))),
    );
    let act = vec![
        (String::new(), ctx.t("全部", "All").to_string()),
        ("1".to_string(), ctx.t("在用", "Active").to_string()),
        ("0".to_string(), ctx.t("停用", "Inactive").to_string()),
    ];
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("联系人", "Contacts"), Nav::Contacts),
            lang,
            editor: ctx.can(Role::Editor),
            f: Form::new(lang, &q, &errors, |_, f| f.to_string()),
            villages: vs,
            roles: rs,
            states: act,
            contacts: contact_rows(lang, &list, &names),
            pager: Pager::new("/contacts", &q.0, page, per_page, total),
            xlsx_query: xlsx_query(&q),
        },
    ))
}

const CFIELDS: &[(&str, &str, &str)] = &[
    ("name", "姓名", "Name"),
    ("roles", "角色", "Roles"),
    ("village_id", "所属村", "Village"),
    ("phone", "手机", "Phone"),
    ("email", "邮箱", "E-mail"),
    ("escalation_order", "叫应顺序", "Escalation order"),
    ("active", "在用", "Active"),
    ("note", "备注", "Note"),
];

fn clabel(lang: Lang, f: &str) -> String {
    let base = f.split('[').next().unwrap_or(f);
    CFIELDS
        .iter()
        .find(|(n, _, _)| *n == base)
        .map_or_else(|| f.to_string(), |(_, zh, en)| lang.t(zh, en).to_string())
}

fn form_from_contact(c: &Contact) -> FormData {
    let mut f = FormData::default();
    f.push("name", c.name.clone());
    for r in &c.roles {
        f.push("roles", r.clone());
    }
    f.push(
        "village_id",
        c.village_id.map(|v| v.to_string()).unwrap_or_default(),
    );
    f.push("phone", c.phone.clone());
    f.push("email", c.email.clone().unwrap_or_default());
    f.push("escalation_order", c.escalation_order.to_string());
    f.push("active", if c.active { "1" } else { "" });
    f.push("note", c.note.clone().unwrap_or_default());
    f.push("version", c.version.to_string());
    f
}

#[derive(Template)]
#[template(path = "contacts/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    /// What differs from the stored record, after a conflict.
    conflict: Option<Vec<(String, String, String)>>,
    roles: Vec<(&'static str, String)>,
    roles_error: Option<String>,
    villages: Vec<(String, String)>,
}

async fn contact_form(
    s: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    v: &FormData,
    errors: &Errors,
    conflict: Option<&FormData>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let title = if id.is_some() {
        ctx.t("编辑联系人", "Edit contact")
    } else {
        ctx.t("新增联系人", "New contact")
    };
    let conflict = conflict.map(|cur| {
        CFIELDS
            .iter()
            .filter_map(|(k, _, _)| {
                let (mine, theirs) = (v.all(k).join("、"), cur.all(k).join("、"));
                (mine.trim() != theirs.trim()).then(|| (clabel(lang, k), mine, theirs))
            })
            .collect()
    });
    let mut vs = vec![(
        String::new(),
        ctx.t("乡级（不属于某村）", "Township level (no village)")
            .to_string(),
    )];
    for vr in villages::list(&s.db, false).await? {
        vs.push((vr.id.to_string(), format!("{} · {}", vr.code, vr.name)));
    }
    let action = id.map_or_else(
        || "/contacts/new".to_string(),
        |i| format!("/contacts/{i}/edit"),
    );
    let roles_error = errors
        .0
        .iter()
        .find(|(f, _)| f.starts_with("roles"))
        .map(|(_, m)| super::i18n::message(lang, m));
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, title, Nav::Contacts),
            lang,
            action,
            f: Form::new(lang, v, errors, clabel),
            conflict,
            roles: roles::ROLES
                .iter()
                .map(|(zh, _, _)| (*zh, contact_role_label(lang, zh)))
                .collect(),
            roles_error,
            villages: vs,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("active", "1");
    contact_form(&s, &ctx, None, &v, &Errors::default(), None, StatusCode::OK).await
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let c = contacts::get(&s.db, id, s.tz)
        .await?
        .ok_or(WebError::NotFound)?;
    contact_form(
        &s,
        &ctx,
        Some(id),
        &form_from_contact(&c),
        &Errors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn contact_save(s: &AppState, ctx: &Ctx, f: FormData, id: Option<i64>) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    let village_id = match f.get("village_id").trim() {
        "" => None,
        v => v.parse::<i64>().ok(),
    };
    let mut order = f.whole("escalation_order", &mut errors);
    if order.is_none() && errors.is_empty() {
        // Left empty: after the last one of the village.
        order = Some(contacts::next_order(&s.db, village_id).await?);
    }
    // The same types the API parses its body into, with the same field errors.
    let mut roles = Vec::new();
    for (i, r) in f.all("roles").into_iter().enumerate() {
        match crate::registry::roles::ContactRole::parse(r) {
            Some(role) => roles.push(role),
            None => errors.add(
                &format!("roles[{i}]"),
                crate::registry::roles::ContactRole::unknown(r),
            ),
        }
    }
    let phone = crate::phone::Phone::parse(f.get("phone"));
    if let Err(e) = &phone {
        errors.add("phone", e.to_string());
    }
    let (Ok(phone), true) = (phone, errors.is_empty()) else {
        return contact_form(
            s,
            ctx,
            id,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let input = ContactInput {
        name: f.get("name").to_string(),
        roles,
        village_id,
        phone,
        email: f.opt("email"),
        escalation_order: order,
        active: Some(f.get("active") == "1"),
        note: f.opt("note"),
        version: f.get("version").trim().parse().ok(),
    };
    let actor = user.actor();
    let r = match id {
        None => contacts::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => contacts::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match r {
        Ok(_) => Ok(see_other("/contacts?saved=1")),
        Err(WriteError::Invalid(fe)) => {
            errors.add(&fe.field, fe.message);
            contact_form(
                s,
                ctx,
                id,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::Conflict(_)) => {
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = contacts::get(&s.db, id, s.tz)
                .await?
                .ok_or(WebError::NotFound)?;
            let mut mine = f.clone();
            mine.set("version", cur.version.to_string());
            contact_form(
                s,
                ctx,
                Some(id),
                &mine,
                &errors,
                Some(&form_from_contact(&cur)),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    contact_save(&s, &ctx, f, None).await
}

pub async fn update(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    contact_save(&s, &ctx, f, Some(id)).await
}

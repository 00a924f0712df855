//! Villages and contacts: lists, a village's page, and the contact forms
//! (through `registry::contacts`, like the API).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::html::{
    E, Errors, Fields, FormData, Nav, Page, contact_role_label, csrf_field, eo, error_summary,
    grade_label, kind_label, pager,
};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::sites::{self, RiskGrade};
use crate::registry::contacts::{self, Contact, ContactInput};
use crate::registry::{roles, villages};
use crate::store::WriteError;

fn query_of(ctx: &Ctx) -> FormData {
    FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes())
}

pub async fn villages(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let list = villages::list(&s.db, false).await?;
    let nc = crate::registry::contacts::count_by_village(&s.db).await?;
    let ns = crate::ledger::sites::count_by_village(&s.db).await?;
    let add = if ctx.can(Role::Editor) {
        format!(
            "<p><a class=\"button\" href=\"/villages/new\" id=\"new-village\">{}</a></p>",
            ctx.t("新建村庄", "New village")
        )
    } else {
        String::new()
    };
    let mut b = format!(
        "<h1>{}</h1>{add}<table class=\"grid\" id=\"villages\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("村庄", "Villages"),
        ctx.t("代码", "Code"),
        ctx.t("名称", "Name"),
        ctx.t("英文名", "English name"),
        ctx.t("人口", "Population"),
        ctx.t("联系人", "Contacts"),
        ctx.t("场所", "Sites"),
    );
    let mut pop = 0;
    for v in &list {
        pop += v.population.unwrap_or(0);
        let _ = write!(
            b,
            "<tr><td>{}</td><td><a href=\"/villages/{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            E(&v.code),
            v.id,
            E(&v.name),
            eo(&v.name_en),
            v.population.map(|p| p.to_string()).unwrap_or_default(),
            nc.get(&Some(v.id)).copied().unwrap_or(0),
            ns.get(&Some(v.id)).copied().unwrap_or(0),
        );
    }
    let _ = write!(
        b,
        "</tbody><tfoot><tr><th colspan=\"3\">{} · {} {}</th><td class=\"num\">{pop}</td><td class=\"num\">{}</td><td></td></tr></tfoot></table>",
        ctx.t("合计", "Total"),
        list.len(),
        ctx.t("个村", "villages"),
        nc.values().sum::<i64>(),
    );
    let _ = write!(
        b,
        "<p><a href=\"/map\">{}</a></p>",
        ctx.t("在地图上查看村界", "Village boundaries on the map")
    );
    Ok(Page::new(ctx.t("村庄", "Villages"), Nav::Villages, b).render(&ctx))
}

fn contacts_table(ctx: &Ctx, list: &[Contact], names: &HashMap<i64, String>) -> String {
    let lang = ctx.lang;
    let editor = ctx.can(Role::Editor);
    let mut b = format!(
        "<table class=\"grid\" id=\"contacts\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>{}</tr></thead><tbody>",
        ctx.t("姓名", "Name"),
        ctx.t("角色", "Roles"),
        ctx.t("所属", "Village"),
        ctx.t("手机", "Phone"),
        ctx.t("邮箱", "E-mail"),
        ctx.t("叫应顺序", "Escalation order"),
        ctx.t("状态", "Status"),
        if editor { "<th></th>" } else { "" },
    );
    for c in list {
        let roles: Vec<String> = c
            .roles
            .iter()
            .map(|r| contact_role_label(lang, r))
            .collect();
        let _ = write!(
            b,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>",
            if c.active { "" } else { " class=\"inactive\"" },
            E(&c.name),
            E(&roles.join("、")),
            E(&c.village_id.map_or_else(
                || lang.t("乡级", "township").to_string(),
                |v| names.get(&v).cloned().unwrap_or_default()
            )),
            E(&c.phone),
            eo(&c.email),
            c.escalation_order,
            if c.active {
                lang.t("在用", "active")
            } else {
                lang.t("停用", "inactive")
            },
        );
        if editor {
            let _ = write!(
                b,
                "<td><a href=\"/contacts/{}/edit\">{}</a></td>",
                c.id,
                lang.t("编辑", "Edit")
            );
        }
        b.push_str("</tr>");
    }
    if list.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"8\" class=\"muted\">{}</td></tr>",
            ctx.t("没有联系人。", "No contacts.")
        );
    }
    b.push_str("</tbody></table>");
    b
}

pub async fn village(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
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
    let mut b = format!(
        "<div class=\"head\"><h1>{} <small>{}</small></h1><a class=\"button\" href=\"/map?village={id}\">{}</a>{}</div>",
        E(&v.name),
        E(&v.code),
        ctx.t("在地图上查看", "Show on map"),
        if ctx.can(Role::Editor) {
            format!(
                " <a class=\"button\" href=\"/villages/{id}/edit\" id=\"edit-village\">{}</a>",
                ctx.t("编辑", "Edit")
            )
        } else {
            String::new()
        }
    );
    let _ = write!(
        b,
        "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        ctx.t("英文名", "English name"),
        eo(&v.name_en),
        ctx.t("人口", "Population"),
        v.population.map(|p| p.to_string()).unwrap_or_default()
    );
    let _ = write!(
        b,
        "<h2>{}</h2>",
        ctx.t("联系人（按叫应顺序）", "Contacts (in escalation order)")
    );
    b.push_str(&contacts_table(&ctx, &cs, &names));
    let _ = write!(
        b,
        "<h2>{}</h2><ul class=\"plain\">",
        ctx.t("台账场所", "Ledger sites")
    );
    for r in &ss {
        let colour = RiskGrade::parse(&r.risk_grade).map_or("grey", RiskGrade::colour);
        let _ = write!(
            b,
            "<li><span class=\"chip {colour}\">{}</span> <a href=\"/sites/{}\">{}</a> <small>{}</small></li>",
            grade_label(lang, &r.risk_grade),
            r.id,
            E(&r.name),
            kind_label(lang, &r.kind)
        );
    }
    if ss.is_empty() {
        let _ = write!(b, "<li class=\"muted\">{}</li>", ctx.t("无", "None"));
    }
    b.push_str("</ul>");
    Ok(Page::new(v.name.clone(), Nav::Villages, b).render(&ctx))
}

pub async fn contacts(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = query_of(&ctx);
    let names = crate::registry::villages::names(&s.db).await?;
    // An over-long search is cut to the limit rather than refused: the
    // list still answers, and the box shows what was searched.
    let mut f = contacts::Filter {
        q: q.opt("q").map(|t| {
            t.chars()
                .filter(|c| !c.is_control())
                .take(s.cfg.limits.search_chars)
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
    let mut b = format!(
        "<div class=\"head\"><h1>{}</h1>",
        ctx.t("联系人", "Contacts")
    );
    if ctx.can(Role::Editor) {
        let _ = write!(
            b,
            "<a class=\"button primary\" href=\"/contacts/new\">{}</a>",
            ctx.t("新增联系人", "New contact")
        );
    }
    b.push_str("</div>");
    let errors = Errors::default();
    let fl = Fields {
        lang,
        v: &q,
        errors: &errors,
    };
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
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/contacts\" class=\"filters\">{}{}{}{}<p><button type=\"submit\">{}</button> <a href=\"/contacts\">{}</a></p></form>",
        fl.input("q", ("姓名或电话", "Name or phone"), "search", "", ("", "")),
        fl.select("village_id", ("所属", "Village"), &vs),
        fl.select("role", ("角色", "Role"), &rs),
        fl.select("active", ("状态", "Status"), &act),
        ctx.t("筛选", "Filter"),
        ctx.t("清除", "Clear"),
    );
    b.push_str(&contacts_table(&ctx, &list, &names));
    b.push_str(&pager(lang, "/contacts", &q.0, page, per_page, total));
    Ok(Page::new(ctx.t("联系人", "Contacts"), Nav::Contacts, b).render(&ctx))
}

const CFIELDS: &[(&str, &str, &str)] = &[
    ("name", "姓名", "Name"),
    ("roles", "角色", "Roles"),
    ("village_id", "所属村", "Village"),
    ("phone", "手机", "Phone"),
    ("email", "邮箱", "E-mail"),
    (
        "escalation_order",
        "叫应顺序（小者先）",
        "Escalation order (lower first)",
    ),
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

#[allow(clippy::too_many_arguments)]
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
    let mut b = format!("<h1>{}</h1>", E(title));
    if let Some(cur) = conflict {
        let _ = write!(
            b,
            "<div class=\"box conflict\" id=\"conflict\" role=\"alert\"><b>{}</b><p>{}</p><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            ctx.t("未保存：有人在您编辑期间修改了这条记录。", "Not saved: someone changed this record while you were editing it."),
            ctx.t("您填写的内容仍在下方表单中；核对后再次保存将以您的内容为准。", "Your values are still in the form; saving again after checking makes yours the current ones."),
            ctx.t("字段", "Field"),
            ctx.t("您填写的", "Yours"),
            ctx.t("当前保存的", "Currently saved"),
        );
        for (k, _, _) in CFIELDS {
            let (mine, theirs) = (v.all(k).join("、"), cur.all(k).join("、"));
            if mine.trim() != theirs.trim() {
                let _ = write!(
                    b,
                    "<tr><th>{}</th><td>{}</td><td class=\"current\">{}</td></tr>",
                    E(&clabel(lang, k)),
                    E(&mine),
                    E(&theirs)
                );
            }
        }
        b.push_str("</tbody></table></div>");
    }
    b.push_str(&error_summary(lang, errors, |f| clabel(lang, f)));
    let fl = Fields { lang, v, errors };
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
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{}\" class=\"form\" id=\"contact-form\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">{}",
        E(&action),
        csrf_field(ctx),
        E(v.get("version")),
        fl.input("name", ("姓名", "Name"), "text", "required", ("", "")),
    );
    let bad = errors.0.iter().find(|(f, _)| f.starts_with("roles"));
    let _ = write!(
        b,
        "<div class=\"field{}\" id=\"f-roles\"><span class=\"label\">{}</span><div class=\"checks\">",
        if bad.is_some() { " bad" } else { "" },
        ctx.t("角色", "Roles")
    );
    for (zh, _, _) in roles::ROLES {
        let _ = write!(
            b,
            "<label><input type=\"checkbox\" name=\"roles\" value=\"{}\"{}> {}</label>",
            E(zh),
            if v.has("roles", zh) { " checked" } else { "" },
            E(&contact_role_label(lang, zh))
        );
    }
    b.push_str("</div>");
    if let Some((_, m)) = bad {
        let _ = write!(
            b,
            "<span class=\"err\">{}</span>",
            E(&super::i18n::message(lang, m))
        );
    }
    let _ = write!(
        b,
        "</div>{}{}{}{}{}{}<p class=\"actions\"><button type=\"submit\" class=\"primary\">{}</button> <a href=\"/contacts\">{}</a></p></form>",
        fl.select("village_id", ("所属村", "Village"), &vs),
        fl.input(
            "phone",
            ("手机", "Phone"),
            "tel",
            "required",
            ("如 138 0013 8000", "e.g. 138 0013 8000")
        ),
        fl.input("email", ("邮箱", "E-mail"), "email", "", ("", "")),
        fl.input(
            "escalation_order",
            ("叫应顺序（小者先）", "Escalation order (lower first)"),
            "number",
            "min=\"0\" max=\"10000\"",
            ("", "")
        ),
        fl.checkbox("active", ("在用", "Active")),
        fl.textarea("note", ("备注", "Note"), 2),
        ctx.t("保存", "Save"),
        ctx.t("取消", "Cancel"),
    );
    let mut p = Page::new(title, Nav::Contacts, b);
    p.status = status;
    Ok(p.render(ctx))
}

pub async fn contact_new(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("active", "1");
    v.set("escalation_order", "100");
    contact_form(&s, &ctx, None, &v, &Errors::default(), None, StatusCode::OK).await
}

pub async fn contact_edit(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
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
    let order = f.whole("escalation_order", &mut errors);
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

pub async fn contact_create(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    contact_save(&s, &ctx, f, None).await
}

pub async fn contact_update(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    contact_save(&s, &ctx, f, Some(id)).await
}

//! 双随机抽查: the draw plans' list, the plan form, a plan's page with its
//! 抽取 button (dispatcher), the draw's seed, lists and pairs, and each
//! drawn site's inspection outcome. The same draw is on `/public/`.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, grade_label, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::enforcement::draws::{self, DrawInput, Plan, PlanInput};
use crate::enforcement::inspectors;
use crate::ledger::sites::SiteKind;
use crate::store::WriteError;

const GRADES: [&str; 4] = ["major", "significant", "general", "low"];

#[derive(Template)]
#[template(path = "draws/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    dispatcher: bool,
    plans: Vec<Plan>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let plans = draws::list(&s.db)
        .await?
        .iter()
        .map(|r| r.view(s.tz))
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(
                &ctx,
                ctx.t("双随机抽查", "Random inspection draws"),
                Nav::Ledger,
            ),
            lang: ctx.lang,
            dispatcher: ctx.can(Role::Dispatcher),
            plans,
        },
    ))
}

#[derive(Template)]
#[template(path = "draws/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    f: Form<'a>,
    kinds: Vec<(String, String)>,
    grades: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    pool: Vec<(String, String)>,
}

fn label(lang: Lang, field: &str) -> String {
    let field = field.split('[').next().unwrap_or(field);
    match field {
        "title" => lang.t("计划名称", "Title"),
        "period_from" => lang.t("抽查期间自", "Period from"),
        "period_to" => lang.t("抽查期间至", "Period to"),
        "site_kinds" => lang.t("单位类型", "Site kinds"),
        "risk_grades" => lang.t("风险等级", "Risk grades"),
        "village_ids" => lang.t("村", "Villages"),
        "object_count" => lang.t("抽取单位数", "Sites to draw"),
        "inspector_ids" => lang.t("执法人员库", "Inspector pool"),
        "team_size" => lang.t("每组人数", "Inspectors per site"),
        "note" => lang.t("备注", "Note"),
        other => other,
    }
    .to_string()
}

async fn form_page(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let kinds = SiteKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_string(), k.label_zh().to_string()))
        .collect();
    let grades = GRADES
        .iter()
        .map(|g| (g.to_string(), grade_label(lang, g).to_string()))
        .collect();
    let villages = crate::registry::villages::list(&s.db, false)
        .await?
        .into_iter()
        .map(|v| (v.id.to_string(), v.name))
        .collect();
    let pool = inspectors::list(&s.db, &Default::default())
        .await?
        .into_iter()
        .map(|r| {
            (
                r.id.to_string(),
                format!("{} · {} · {}", r.label(), r.unit, r.valid_until),
            )
        })
        .collect();
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, ctx.t("新建抽查计划", "New draw plan"), Nav::Ledger),
            lang,
            f: Form::new(lang, v, errors, label),
            kinds,
            grades,
            villages,
            pool,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Dispatcher)?;
    let today = crate::time::today(s.tz);
    let mut v = FormData::default();
    v.set("period_from", today.to_string());
    v.set(
        "period_to",
        (today + chrono::Duration::days(30)).to_string(),
    );
    v.set("object_count", "3");
    v.set("team_size", "2");
    form_page(&s, &ctx, &v, &Errors::default(), StatusCode::OK).await
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let mut errors = Errors::default();
    let object_count = f.whole("object_count", &mut errors);
    let team_size = f.whole("team_size", &mut errors);
    let (Some(object_count), Some(team_size), true) = (object_count, team_size, errors.is_empty())
    else {
        return form_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let ids = |k: &str| -> Vec<i64> {
        f.all(k)
            .into_iter()
            .filter_map(|v| v.trim().parse().ok())
            .collect()
    };
    let input = PlanInput {
        title: f.get("title").to_string(),
        period_from: f.get("period_from").to_string(),
        period_to: f.get("period_to").to_string(),
        site_kinds: f
            .all("site_kinds")
            .into_iter()
            .map(str::to_string)
            .collect(),
        risk_grades: f
            .all("risk_grades")
            .into_iter()
            .map(str::to_string)
            .collect(),
        village_ids: ids("village_ids"),
        object_count,
        inspector_ids: ids("inspector_ids"),
        team_size,
        note: f.opt("note"),
    };
    match draws::create(&s.db, &user.actor(), &input, false, s.tz).await {
        Ok(row) => Ok(see_other(&format!("/draws/{}", row.id))),
        Err(WriteError::Invalid(fe)) => {
            let field = fe.field.split('[').next().unwrap_or(&fe.field).to_string();
            errors.add(&field, fe.message);
            form_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Conflict(m)) => Err(WebError::Internal(m)),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "draws/show.html")]
struct ShowPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    dispatcher: bool,
    p: Plan,
    kinds: Vec<String>,
    grades: Vec<&'static str>,
    villages: Vec<String>,
    pool: Vec<String>,
    /// Why the last draw was refused.
    refused: Option<String>,
}

async fn show_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    refused: Option<String>,
    status: StatusCode,
) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let row = draws::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let p = draws::with_outcomes(&s.db, &row, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let all = inspectors::list(
        &s.db,
        &inspectors::Filter {
            include_archived: true,
        },
    )
    .await?;
    Ok(render(
        status,
        &ShowPage {
            shell: Shell::new(ctx, p.title.clone(), Nav::Ledger),
            lang,
            dispatcher: ctx.can(Role::Dispatcher),
            kinds: p
                .site_kinds
                .iter()
                .map(|k| SiteKind::parse(k).map_or_else(|| k.clone(), |k| k.label_zh().to_string()))
                .collect(),
            grades: p.risk_grades.iter().map(|g| grade_label(lang, g)).collect(),
            villages: p
                .village_ids
                .iter()
                .map(|v| names.get(v).cloned().unwrap_or_else(|| v.to_string()))
                .collect(),
            pool: p
                .inspector_ids
                .iter()
                .map(|i| {
                    all.iter()
                        .find(|r| r.id == *i)
                        .map_or_else(|| i.to_string(), |r| r.label())
                })
                .collect(),
            p,
            refused,
        },
    ))
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    show_page(&s, &ctx, id, None, StatusCode::OK).await
}

pub async fn draw(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let input = DrawInput {
        public_value: f.opt("public_value"),
    };
    match draws::draw_plan(&s.db, &user.actor(), id, &input, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/draws/{id}"))),
        Err(WriteError::Invalid(fe)) => {
            show_page(
                &s,
                &ctx,
                id,
                Some(fe.message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::Conflict(m)) => {
            show_page(&s, &ctx, id, Some(m), StatusCode::CONFLICT).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

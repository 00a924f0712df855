//! Message templates (通知模板库): the list by category, the form that adds
//! and edits one (refusals beside the field; 〔姓名〕-style variables), a
//! preview for a sample person (张三, 东坑村) worked out by the server when
//! the page is drawn, and archiving. The compose page picks from them
//! (`web::alerts`).

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::notify::Channel;
use crate::notify::intake::library::{self, Category, TemplateInput, TemplateRow};
use crate::notify::intake::template;
use crate::store::WriteError;

struct Line {
    id: i64,
    name: String,
    title: String,
    body: String,
    variables: String,
    channels: String,
    sample: bool,
    version: i64,
}

struct Group {
    label: &'static str,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "message_templates/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    dispatcher: bool,
    groups: Vec<Group>,
    stale: bool,
}

fn channels_label(lang: Lang, cs: &[Channel]) -> String {
    cs.iter()
        .map(|c| super::i18n::channel_words(lang, *c))
        .collect::<Vec<_>>()
        .join(lang.t("、", ", "))
}

/// A village user reads the township's templates; only its office keeps them.
fn office(ctx: &Ctx) -> bool {
    ctx.can(Role::Editor)
        && ctx
            .user
            .as_ref()
            .is_some_and(|u| u.scope.village().is_none())
}

fn need_office(ctx: &Ctx) -> Result<&crate::accounts::sessions::SessionUser, WebError> {
    let user = ctx.need(Role::Editor)?;
    if user.scope.village().is_some() {
        return Err(WebError::Forbidden(Role::Editor));
    }
    Ok(user)
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = FormData::parse(q.0.unwrap_or_default().as_bytes());
    let rows = library::list(&s.db, &library::Filter::default()).await?;
    let mut groups: Vec<Group> = Vec::new();
    for c in Category::ALL {
        let lines: Vec<Line> = rows
            .iter()
            .filter(|r| r.category() == c)
            .map(|r| Line {
                id: r.id,
                name: r.name.clone(),
                title: template::to_chinese(&r.title),
                body: template::to_chinese(&r.body),
                variables: r.variables().join(" "),
                channels: channels_label(lang, &r.channels()),
                sample: r.sample != 0,
                version: r.version,
            })
            .collect();
        if !lines.is_empty() {
            groups.push(Group {
                label: lang.t(c.label_zh(), c.label_en()),
                lines,
            });
        }
    }
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("通知模板", "Message templates"), Nav::Alerts),
            lang,
            editor: office(&ctx),
            dispatcher: ctx.can(Role::Dispatcher),
            groups,
            stale: q.get("stale") == "1",
        },
    ))
}

#[derive(Template)]
#[template(path = "message_templates/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    categories: Vec<(String, String)>,
    known: String,
    /// The text for 张三 of 东坑村, when title and body are good.
    preview: Option<(String, String)>,
    /// On a conflict, the version stored now.
    stored: Option<String>,
}

fn label(lang: Lang, field: &str) -> String {
    match field {
        "name" => lang.t("模板名称", "Name"),
        "category" => lang.t("类别", "Category"),
        "title" => lang.t("标题", "Title"),
        "body" => lang.t("正文", "Text"),
        "channels" => lang.t("建议渠道", "Channels"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

/// Title and body for the sample person, when both are good templates.
fn preview(s: &AppState, v: &FormData) -> Option<(String, String)> {
    let title = template::from_chinese(v.get("title").trim()).ok()?;
    let body = template::from_chinese(v.get("body").trim()).ok()?;
    template::check(&title).ok()?;
    template::check(&body).ok()?;
    if title.is_empty() && body.is_empty() {
        return None;
    }
    let office = &s.cfg.office_name;
    let t = library::sample_text(&title, "", office);
    let b = library::sample_text(&body, &t, office);
    Some((t, b))
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
            ctx.t("新建通知模板", "New message template"),
            "/message-templates/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑通知模板", "Edit message template"),
            format!("/message-templates/{i}/edit"),
        ),
    };
    let categories = Category::ALL
        .into_iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                ctx.t(c.label_zh(), c.label_en()).to_string(),
            )
        })
        .collect();
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, title, Nav::Alerts),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, label),
            categories,
            known: template::chinese_known(),
            preview: preview(s, v),
            stored,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    need_office(&ctx)?;
    let mut f = FormData::default();
    f.set("category", Category::Flood.as_str());
    f.set("channels", "sms");
    form_page(&s, &ctx, None, &f, &Errors::default(), None, StatusCode::OK).await
}

pub async fn edit_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    need_office(&ctx)?;
    let r = library::get(&s.db, id)
        .await?
        .filter(|r| r.archived_at.is_none())
        .ok_or(WebError::NotFound)?;
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

fn as_form(r: &TemplateRow) -> FormData {
    let mut f = FormData::default();
    f.set("name", r.name.clone());
    f.set("category", r.category().as_str());
    f.set("title", template::to_chinese(&r.title));
    f.set("body", template::to_chinese(&r.body));
    for c in r.channels() {
        f.push("channels", c.as_str());
    }
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
    let user = need_office(&ctx)?;
    // 预览: the form again with the sample person's text, nothing saved.
    if f.get("_preview") == "1" {
        return form_page(&s, &ctx, id, &f, &Errors::default(), None, StatusCode::OK).await;
    }
    let mut errors = Errors::default();
    let category = Category::parse(f.get("category"));
    if category.is_none() {
        errors.add("category", "choose a category");
    }
    let channels: Vec<Channel> = f
        .all("channels")
        .into_iter()
        .filter_map(Channel::parse)
        .collect();
    let (Some(category), true) = (category, errors.is_empty()) else {
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
    let input = TemplateInput {
        name: f.get("name").to_string(),
        category,
        title: f.get("title").to_string(),
        body: f.get("body").to_string(),
        channels,
        version: f.get("version").trim().parse().ok(),
    };
    let actor = user.actor();
    let saved = match id {
        None => library::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => library::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match saved {
        Ok(_) => Ok(see_other("/message-templates")),
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
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
            let cur = library::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
            let mut mine = f.clone();
            mine.set("version", cur.version.to_string());
            errors.add("version", m);
            let stored = format!(
                "{} · {}\n{}",
                cur.name,
                template::to_chinese(&cur.title),
                template::to_chinese(&cur.body)
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

pub async fn archive(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = need_office(&ctx)?;
    let version = f.get("version").trim().parse::<i64>().ok();
    match library::archive(&s.db, &user.actor(), id, version, s.tz).await {
        Ok(_) | Err(WriteError::Invalid(_)) => Ok(see_other("/message-templates")),
        Err(WriteError::Conflict(_)) => Ok(see_other("/message-templates?stale=1")),
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

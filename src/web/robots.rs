//! 工作群机器人 (work-group robots): the list with each robot's last post and
//! a "send a test message" button, the form that registers and changes one
//! (its key and secret shown masked; left empty they are kept), archiving.
//! A notice's posts are on its page (`web::alerts`).

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::Scoped;
use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::notify::robots::{self, GroupPost, Kind, RobotInput, RobotRow};
use crate::store::WriteError;

/// A post as the pages show it.
pub struct PostLine {
    pub robot: String,
    pub group: String,
    pub kind: String,
    pub what: &'static str,
    pub status: &'static str,
    pub state: &'static str,
    pub at: String,
    pub error: Option<String>,
}

fn post_what(lang: Lang, k: &str) -> &'static str {
    match k {
        "summary" => lang.t("通报", "summary"),
        "update" => lang.t("叫应进展", "answer counts"),
        "final" => lang.t("全部叫应", "all answered"),
        _ => lang.t("测试消息", "test message"),
    }
}

fn post_status(lang: Lang, s: &str) -> (&'static str, &'static str) {
    match s {
        "sent" => (lang.t("已发送", "sent"), "sent"),
        "failed" => (lang.t("发送失败", "failed"), "failed"),
        "superseded" => (lang.t("已被全部叫应取代", "overtaken"), "waiting"),
        "sending" => (lang.t("发送中", "sending"), "waiting"),
        _ => (lang.t("等待发送", "waiting"), "waiting"),
    }
}

fn kind_label(lang: Lang, k: &str) -> String {
    Kind::parse(k).map_or_else(
        || k.to_string(),
        |k| lang.t(k.label_zh(), k.label_en()).to_string(),
    )
}

/// Lines for a list of posts (a notice's page, the robots' list).
pub fn post_lines(lang: Lang, tz: chrono_tz::Tz, posts: &[GroupPost]) -> Vec<PostLine> {
    posts
        .iter()
        .map(|p| {
            let (status, state) = post_status(lang, &p.status);
            let at = p.sent_at.as_deref().unwrap_or(&p.created_at);
            PostLine {
                robot: p.robot.clone(),
                group: p
                    .village
                    .clone()
                    .unwrap_or_else(|| lang.t("乡应急办", "the office").to_string()),
                kind: kind_label(lang, &p.robot_kind),
                what: post_what(lang, &p.kind),
                status,
                state,
                at: crate::time::parse_rfc3339(at)
                    .map(|ms| super::html::local(ms, tz))
                    .unwrap_or_default(),
                error: p.error.clone(),
            }
        })
        .collect()
}

struct Line {
    id: i64,
    name: String,
    group: String,
    kind: String,
    webhook: String,
    secret: String,
    active: bool,
    sample: bool,
    version: i64,
    last: Option<PostLine>,
}

#[derive(Template)]
#[template(path = "robots/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    admin: bool,
    dispatcher: bool,
    lines: Vec<Line>,
    /// The robot a test message was just queued for.
    tested: Option<String>,
    stale: bool,
    problem: Option<(String, String)>,
}

/// Robots are the township office's: a village's user reads their own.
fn office_admin(ctx: &Ctx) -> Result<&crate::accounts::sessions::SessionUser, WebError> {
    let user = ctx.need(Role::Admin)?;
    if user.scope.village().is_some() {
        return Err(WebError::Forbidden(Role::Admin));
    }
    Ok(user)
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = FormData::parse(q.0.unwrap_or_default().as_bytes());
    list_page(&s, &ctx, &q, None, StatusCode::OK).await
}

async fn list_page(
    s: &AppState,
    ctx: &Ctx,
    q: &FormData,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let rows = robots::list(&s.db).await?;
    let mut lines = Vec::new();
    let mut tested = None;
    for r in &rows {
        let v = r.view(s.tz);
        if q.get("tested") == r.id.to_string() {
            tested = Some(r.name.clone());
        }
        let last = robots::posts::for_robot(&s.db, r.id, 1, s.tz).await?;
        lines.push(Line {
            id: r.id,
            name: r.name.clone(),
            group: v
                .village
                .clone()
                .unwrap_or_else(|| lang.t("乡应急办工作群", "the office's group").to_string()),
            kind: kind_label(lang, &r.kind),
            webhook: v.webhook,
            secret: v.secret.unwrap_or_default(),
            active: v.active,
            sample: v.sample,
            version: r.version,
            last: post_lines(lang, s.tz, &last).into_iter().next(),
        });
    }
    let user_office = ctx
        .user
        .as_ref()
        .is_some_and(|u| u.scope.village().is_none());
    Ok(render(
        status,
        &ListPage {
            shell: Shell::new(ctx, ctx.t("工作群机器人", "Work-group robots"), Nav::Alerts),
            lang,
            admin: ctx.can(Role::Admin) && user_office,
            dispatcher: ctx.can(Role::Dispatcher),
            lines,
            tested,
            stale: q.get("stale") == "1",
            problem,
        },
    ))
}

#[derive(Template)]
#[template(path = "robots/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    kinds: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    /// On a change: the address and secret stored now, masked.
    stored: Option<(String, String)>,
}

fn label(lang: Lang, field: &str) -> String {
    match field {
        "name" => lang.t("名称", "Name"),
        "kind" => lang.t("类型", "Kind"),
        "village_id" => lang.t("所在群", "Group"),
        "webhook_url" => lang.t("Webhook 地址", "Webhook address"),
        "secret" => lang.t("密钥", "Secret"),
        "active" => lang.t("启用", "Active"),
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
            ctx.t("新增工作群机器人", "New work-group robot"),
            "/group-robots/new".to_string(),
        ),
        Some(i) => (
            ctx.t("编辑工作群机器人", "Edit work-group robot"),
            format!("/group-robots/{i}/edit"),
        ),
    };
    let kinds = Kind::ALL
        .into_iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                format!("{} · {}", ctx.t(k.label_zh(), k.label_en()), k.example()),
            )
        })
        .collect();
    let mut villages = vec![(
        String::new(),
        ctx.t(
            "乡应急办工作群（不属于某个村）",
            "The office's own group (no village)",
        )
        .to_string(),
    )];
    for vr in crate::registry::villages::list(&s.db, false).await? {
        villages.push((vr.id.to_string(), format!("{} · {}", vr.code, vr.name)));
    }
    let stored = match id {
        Some(i) => robots::get(&s.db, i).await?.map(|r| {
            let v = r.view(s.tz);
            (v.webhook, v.secret.unwrap_or_default())
        }),
        None => None,
    };
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, title, Nav::Alerts),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, label),
            kinds,
            villages,
            stored,
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    office_admin(&ctx)?;
    let mut f = FormData::default();
    f.set("kind", Kind::Wecom.as_str());
    f.set("active", "1");
    form_page(&s, &ctx, None, &f, &Errors::default(), StatusCode::OK).await
}

pub async fn edit(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    office_admin(&ctx)?;
    let r = robots::get(&s.db, id)
        .await?
        .filter(|r| r.archived_at.is_none())
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

/// A stored robot as its form: never its address or secret (left empty,
/// they are kept).
fn as_form(r: &RobotRow) -> FormData {
    let mut f = FormData::default();
    f.set("name", r.name.clone());
    f.set("kind", r.kind.clone());
    f.set(
        "village_id",
        r.village_id.map(|v| v.to_string()).unwrap_or_default(),
    );
    if r.active != 0 {
        f.set("active", "1");
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
    let user = office_admin(&ctx)?;
    let mut errors = Errors::default();
    let kind = Kind::parse(f.get("kind"));
    if kind.is_none() {
        errors.add("kind", "choose 企业微信, 钉钉 or 飞书");
    }
    let village_id = match f.get("village_id").trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.add("village_id", "is not a number");
                None
            }
        },
    };
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return form_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let input = RobotInput {
        name: f.get("name").to_string(),
        kind,
        village_id,
        webhook_url: f.opt("webhook_url"),
        secret: f.opt("secret"),
        active: Some(f.get("active") == "1"),
        version: f.get("version").trim().parse().ok(),
    };
    let actor = user.actor();
    let extra = &s.cfg.robots.extra_hosts;
    let saved = match id {
        None => robots::create(&s.db, &actor, &input, extra, false, s.tz).await,
        Some(id) => robots::update(&s.db, &actor, id, &input, extra, s.tz).await,
    };
    // What was typed is never shown back: the address and secret are kept
    // out of a form drawn again.
    let mut again = f.clone();
    again.set("webhook_url", "");
    again.set("secret", "");
    match saved {
        Ok(_) => Ok(see_other("/group-robots")),
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            form_page(
                &s,
                &ctx,
                id,
                &again,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::Conflict(m)) => {
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = robots::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
            again.set("version", cur.version.to_string());
            errors.add("version", m);
            form_page(&s, &ctx, Some(id), &again, &errors, StatusCode::CONFLICT).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

pub async fn archive(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = office_admin(&ctx)?;
    let version = f.get("version").trim().parse::<i64>().ok();
    match robots::archive(&s.db, &user.actor(), id, version, s.tz).await {
        Ok(_) | Err(WriteError::Invalid(_)) => Ok(see_other("/group-robots")),
        Err(WriteError::Conflict(_)) => Ok(see_other("/group-robots?stale=1")),
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

/// 发送测试消息: queued now, posted by the daemon within seconds.
pub async fn test(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    match robots::posts::enqueue_test(&s.db, &user.actor(), id, &s.cfg.office_name, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/group-robots?tested={id}"))),
        Err(WriteError::Invalid(e)) => {
            list_page(
                &s,
                &ctx,
                &FormData::default(),
                Some((e.field, e.message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::NotFound | WriteError::Conflict(_)) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

//! What awaits a leader's sign-off (待签发), on one page a phone can use:
//! public notices to approve or reject, and activations whose level awaits
//! confirmation. The buttons post to the alert's and the incident's own
//! actions (`alerts::approve`/`reject`, `incidents::confirm`/`reject`).

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;

use super::html::{Nav, Shell, level_class, level_label, local, render};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::auth::Role;

struct NoticeItem {
    id: i64,
    title: String,
    body: String,
    level: &'static str,
    class: &'static str,
    exercise: bool,
    author: String,
    at: String,
    can_sign: bool,
}

struct ActivationItem {
    id: i64,
    plan: String,
    level: &'static str,
    class: &'static str,
    villages: usize,
    asked_by: String,
    at: String,
    can_sign: bool,
}

#[derive(Template)]
#[template(path = "signoff/page.html")]
struct SignoffPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    leader: bool,
    notices: Vec<NoticeItem>,
    activations: Vec<ActivationItem>,
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let me = user.actor();
    let notices = crate::notify::signoff::pending(&s.db)
        .await?
        .into_iter()
        .map(|a| NoticeItem {
            id: a.id,
            level: level_label(lang, a.level),
            class: level_class(a.level),
            exercise: a.exercise != 0,
            can_sign: crate::auth::second_person(&me, &a.created_by).is_ok(),
            author: super::audit_words::actor_words(lang, &a.created_by),
            at: local(a.created_at, s.tz),
            title: crate::notify::intake::template::display(&a.title),
            body: a.body,
        })
        .collect();
    let mut activations = Vec::new();
    for i in crate::incidents::signoff::pending(&s.db).await? {
        let asked_by = i.pending_by.clone().unwrap_or_default();
        let plan = s
            .notifier
            .plans
            .get(&i.plan_id)
            .await
            .map_or_else(|| i.plan_id.clone(), |p| p.plan.title.clone());
        activations.push(ActivationItem {
            id: i.id,
            plan,
            level: level_label(lang, i.pending_level),
            class: level_class(i.pending_level),
            villages: i
                .pending_villages
                .as_deref()
                .and_then(|v| serde_json::from_str::<Vec<i64>>(v).ok())
                .map_or(0, |v| v.len()),
            can_sign: crate::auth::second_person(&me, &asked_by).is_ok(),
            asked_by: super::audit_words::actor_words(lang, &asked_by),
            at: local(i.pending_at.unwrap_or(i.opened_at), s.tz),
        });
    }
    Ok(render(
        StatusCode::OK,
        &SignoffPage {
            shell: Shell::new(&ctx, ctx.t("待签发", "Awaiting sign-off"), Nav::Signoff),
            lang,
            leader: me.leader,
            notices,
            activations,
        },
    ))
}

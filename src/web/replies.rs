//! 回复 (`/replies`): the inbox of SMS replies a person must read — questions,
//! replies with more than an acknowledgement, danger reports (险情) first
//! flagged — with who sent it, the notice it answered, and buttons to mark
//! it read or handled (who and when are kept).

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::auth::Role;
use crate::notify::response::replies::{self, InboxLine, Which};

#[derive(Template)]
#[template(path = "replies/page.html")]
struct InboxPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    editor: bool,
    all: bool,
    danger: bool,
    items: Vec<InboxLine>,
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = q.0.unwrap_or_default();
    let flag = |k: &str| form_urlencoded::parse(q.as_bytes()).any(|(n, v)| n == k && v == "1");
    let (all, danger) = (flag("all"), flag("danger"));
    let which = Which {
        unread: !all && !danger,
        danger_open: danger,
        alert_id: None,
    };
    let items = replies::inbox(&s.db, s.tz, which, 300).await?;
    Ok(render(
        StatusCode::OK,
        &InboxPage {
            shell: Shell::new(&ctx, ctx.t("短信回复", "SMS replies"), Nav::Replies),
            lang: ctx.lang,
            editor: ctx.can(Role::Editor),
            all,
            danger,
            items,
        },
    ))
}

async fn mark(s: crate::app::AppState, ctx: Ctx, id: i64, handled: bool) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    match replies::mark(&s.db, &format!("web:{}", user.name), id, handled).await {
        Ok(()) => Ok(see_other("/replies")),
        Err(crate::store::WriteError::Store(e)) => Err(e.into()),
        Err(_) => Err(WebError::NotFound),
    }
}

pub async fn read(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    mark(s, ctx, id, false).await
}

pub async fn handled(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    mark(s, ctx, id, true).await
}

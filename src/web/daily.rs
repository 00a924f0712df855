//! 汛期日报 (`/daily-reports`): the daily village report rounds by day, and
//! one day's table — every village with its answer (零报告, the report, or
//! 未报) and whether it was chased — with the text for the county ready to
//! paste and the `.xlsx`. A village user sees their own village only.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult};
use crate::auth::Role;
use crate::daily::{self, Round, RoundLine};

#[derive(Template)]
#[template(path = "daily/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    items: Vec<RoundLine>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let items = daily::list(&s.db, s.tz, 400).await?;
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("汛期日报", "Daily reports"), Nav::Daily),
            lang: ctx.lang,
            items,
        },
    ))
}

#[derive(Template)]
#[template(path = "daily/show.html")]
struct ShowPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    round: Round,
    signer: String,
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let round = daily::get(&s.db, &s.notifier.plans, s.tz, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(render(
        StatusCode::OK,
        &ShowPage {
            shell: Shell::new(&ctx, ctx.t("汛期日报", "Daily report"), Nav::Daily),
            lang: ctx.lang,
            round,
            signer: super::html::signer(&ctx),
        },
    ))
}

/// The day's table as `.xlsx`, naming who exported it.
pub async fn xlsx(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    let round = daily::get(&s.db, &s.notifier.plans, s.tz, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let by = super::html::signer(&ctx);
    let by = if by.is_empty() { user.name.clone() } else { by };
    let at = crate::transfer::board::zh_time(crate::store::now_ms(), s.tz);
    super::exports::download(
        daily::export::workbook(&round, s.tz, &by, &at),
        &format!("daily-report-{}.xlsx", round.line.day),
    )
}

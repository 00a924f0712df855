//! `/county`: the county's table across townships
//! (`templates/county/page.html`), from the same view as
//! `GET /api/v1/county/overview`.

use super::Scoped;

use askama::Template;
use axum::http::StatusCode;

use super::html::{Nav, Shell, clock, render};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::auth::Role;
use crate::county::{self, CountyOverview, TownshipLine};

#[derive(Template)]
#[template(path = "county/page.html")]
struct CountyPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    o: CountyOverview,
}

impl CountyPage<'_> {
    /// When the figures were counted, as a clock time.
    fn counted(&self) -> &str {
        clock(&self.o.counted_at)
    }

    /// "12/40 · 30%", or a dash when nobody was sent anything.
    fn rate(&self, t: &TownshipLine) -> String {
        match t.answer_rate {
            Some(r) => format!("{}/{} · {:.0}%", t.answered, t.recipients, r * 100.0),
            None => "—".into(),
        }
    }
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let o = county::overview(&s.db, &s.figures, s.tz).await?;
    Ok(render(
        StatusCode::OK,
        &CountyPage {
            shell: Shell::new(&ctx, ctx.t("全县概况", "County overview"), Nav::County),
            lang: ctx.lang,
            o,
        },
    ))
}

//! The daily worklist, laid out to be printed and carried
//! (`templates/worklist/page.html`).

use super::Scoped;
use std::collections::HashMap;

use askama::Template;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Pager, Shell, kind_label, local, render};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::auth::Role;
use crate::ledger::worklist::{self, Worklist};
use crate::store::now_ms;

#[derive(Template)]
#[template(path = "worklist/page.html")]
struct WorklistPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    wl: Worklist,
    names: HashMap<i64, String>,
    printed: String,
    preparer: String,
    f: Form<'a>,
    /// The township filter and column, for those who see several.
    townships: Option<Vec<(String, String)>>,
    towns: HashMap<i64, String>,
    /// Pages of the longest section (every section pages together).
    pager: Pager,
    /// The duty roster's gaps in the coming week (`duty::gaps`).
    roster_gaps: Vec<crate::duty::gaps::RosterGap>,
    /// The SMS paths whose daily self-check failed or is missing; `None`: SMS is not sent
    /// over a provider (no self-checks).
    canaries: Option<Vec<super::channel_paths::CanaryLine>>,
}

impl WorklistPage<'_> {
    /// When the sections' counts were counted, as a clock time.
    fn counted(&self) -> &str {
        super::html::clock(&self.wl.counts.counted_at)
    }

    fn village(&self, v: &Option<i64>) -> &str {
        v.and_then(|v| self.names.get(&v))
            .map_or("", String::as_str)
    }
    fn township(&self, s: &worklist::SiteRef) -> &str {
        self.towns.get(&s.township_id).map_or("", String::as_str)
    }
    fn town(&self, id: &i64) -> &str {
        self.towns.get(id).map_or("", String::as_str)
    }
    fn several(&self) -> bool {
        self.townships.is_some()
    }
    fn kind(&self, k: &str) -> &'static str {
        kind_label(self.lang, k)
    }
    fn phone(&self, s: &worklist::SiteRef) -> String {
        s.phone
            .as_deref()
            .map(crate::phone::dialled)
            .unwrap_or_default()
    }
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut errors = Errors::default();
    let township_id = q.whole("township_id", &mut errors);
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);
    let per_page = worklist::DEFAULT_PER_PAGE;
    let o = worklist::Options {
        township_id,
        page,
        per_page,
    };
    let wl = worklist::build(&s.db, &s.figures, s.tz, o).await?;
    let names = crate::registry::villages::names(&s.db).await?;
    let several = crate::county::sees_several(&s.db);
    let towns = if several {
        crate::county::township_names(&s.db).await?
    } else {
        HashMap::new()
    };
    let c = &wl.counts;
    let longest = [
        c.expiring_licences,
        c.overdue_rectifications,
        c.not_inspected,
        c.overdue_drills,
        c.over_stock,
        c.out_of_season,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let pager = Pager::new("/worklist", &q.0, page, per_page, longest);
    let mut roster_gaps =
        crate::duty::gaps::upcoming(&s.db, now_ms(), crate::duty::gaps::WORKLIST_DAYS, s.tz)
            .await?;
    if let Some(t) = township_id {
        roster_gaps.retain(|g| g.township_id == t);
    }
    let canaries = match s.notifier.senders.sms_paths {
        Some(_) => Some(super::channel_paths::failing(&s, ctx.lang).await?),
        None => None,
    };
    let mut shell = Shell::new(&ctx, ctx.t("工作清单", "Worklist"), Nav::Worklist);
    shell.class = "printable";
    Ok(render(
        StatusCode::OK,
        &WorklistPage {
            shell,
            lang: ctx.lang,
            wl,
            names,
            printed: local(now_ms(), s.tz),
            preparer: super::html::signer(&ctx),
            f: Form::new(ctx.lang, &q, &errors, |_, f| f.to_string()),
            townships: several.then(|| super::sites::township_options(&ctx, &towns)),
            towns,
            pager,
            roster_gaps,
            canaries,
        },
    ))
}

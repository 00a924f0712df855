//! The daily worklist, laid out to be printed and carried
//! (`templates/worklist/page.html`).

use super::Scoped;
use std::collections::HashMap;

use askama::Template;
use axum::http::StatusCode;

use super::html::{Nav, Shell, kind_label, local, render};
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
}

impl WorklistPage<'_> {
    fn village(&self, v: &Option<i64>) -> &str {
        v.and_then(|v| self.names.get(&v))
            .map_or("", String::as_str)
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
    let wl = worklist::build(&s.db, s.tz).await?;
    let names = crate::registry::villages::names(&s.db).await?;
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
        },
    ))
}

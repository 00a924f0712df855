//! The 叫应 chain as a printable sheet: per village, who is called in which
//! order, and the township duty officers the chain ends with when nobody in
//! the village answers (`notify::response::escalation` follows the same order).

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;

use super::html::{Nav, Shell, contact_role_label, local, render, signer};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::auth::Role;
use crate::registry::contacts::{self, Contact, Filter};
use crate::registry::roles::DUTY_OFFICER;
use crate::store::now_ms;

/// One person in a chain, as printed.
struct Link {
    name: String,
    roles: String,
    phone: String,
    tel: String,
}

struct VillageChain {
    name: String,
    code: String,
    links: Vec<Link>,
}

#[derive(Template)]
#[template(path = "contacts/chain.html")]
struct ChainPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    villages: Vec<VillageChain>,
    /// Township-level people (no village), in their order.
    township: Vec<Link>,
    /// Names of the township duty officers, who are told when a village's
    /// chain runs out.
    duty: Vec<String>,
    printed: String,
    preparer: String,
}

fn link(lang: Lang, c: &Contact) -> Link {
    Link {
        name: c.name.clone(),
        roles: c
            .roles
            .iter()
            .map(|r| contact_role_label(lang, r))
            .collect::<Vec<_>>()
            .join("、"),
        phone: crate::phone::dialled(&c.phone),
        tel: c.phone.clone(),
    }
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let filter = Filter {
        active: Some(true),
        ..Filter::default()
    };
    // Every active contact: a township has hundreds, not tens of thousands.
    let (all, _) = contacts::list(&s.db, &filter, 100_000, 0, s.tz).await?;
    let villages = crate::registry::villages::list(&s.db, false)
        .await?
        .into_iter()
        .map(|v| VillageChain {
            links: all
                .iter()
                .filter(|c| c.village_id == Some(v.id))
                .map(|c| link(ctx.lang, c))
                .collect(),
            name: v.name,
            code: v.code,
        })
        .collect();
    let township_people: Vec<&Contact> = all.iter().filter(|c| c.village_id.is_none()).collect();
    let duty = township_people
        .iter()
        .filter(|c| c.roles.iter().any(|r| r == DUTY_OFFICER))
        .map(|c| format!("{} {}", c.name, crate::phone::dialled(&c.phone)))
        .collect();
    let mut shell = Shell::new(&ctx, ctx.t("叫应联络表", "Call chain"), Nav::Contacts);
    shell.class = "printable";
    Ok(render(
        StatusCode::OK,
        &ChainPage {
            shell,
            lang: ctx.lang,
            villages,
            township: township_people.iter().map(|c| link(ctx.lang, c)).collect(),
            duty,
            printed: local(now_ms(), s.tz),
            preparer: signer(&ctx),
        },
    ))
}

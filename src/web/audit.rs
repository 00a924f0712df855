//! The audit log: every change, notice and answer, filterable, with what
//! changed shown field by field.

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;
use chrono::TimeZone;

use super::audit_words::{
    ACTIONS, Change, ENTITIES, Names, Words, action_key, action_label, actor_words, entity_label,
};
use super::html::{Errors, Form, FormData, Nav, Pager, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::audit::{self, Filter};
use crate::auth::Role;

struct Row {
    at: String,
    actor: String,
    action: String,
    record: String,
    href: Option<String>,
    /// Who did what to which record, in one sentence.
    summary: String,
    changes: Vec<Change>,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    f: Form<'a>,
    entities: Vec<(String, String)>,
    actions: Vec<(String, String)>,
    entries: Vec<Row>,
    pager: Pager,
}

fn day_start(tz: chrono_tz::Tz, d: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.timestamp_millis())
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut errors = Errors::default();
    let mut f = Filter {
        entity: q.opt("entity"),
        actor: q.opt("actor"),
        action: q.opt("action").map(|a| action_key(&a)),
        ..Default::default()
    };
    f.entity_id = q.whole("entity_id", &mut errors);
    if let Some(v) = q.opt("since") {
        f.since_ms = day_start(s.tz, &v);
        if f.since_ms.is_none() {
            errors.add("since", format!("'{v}' is not a date written YYYY-MM-DD"));
        }
    }
    if let Some(v) = q.opt("until") {
        // Until a day means to its end.
        f.until_ms = day_start(s.tz, &v).map(|t| t + 86_400_000);
        if f.until_ms.is_none() {
            errors.add("until", format!("'{v}' is not a date written YYYY-MM-DD"));
        }
    }
    let per_page = 100;
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (entries, total) = audit::list(&s.db, &f, per_page, (page - 1) * per_page, s.tz).await?;
    let mut entities = vec![(String::new(), ctx.t("全部", "All").to_string())];
    entities.extend(
        ENTITIES
            .iter()
            .map(|(n, zh, en)| ((*n).to_string(), lang.t(zh, en).to_string())),
    );
    let mut actions = vec![(String::new(), ctx.t("全部", "All").to_string())];
    actions.extend(
        ACTIONS
            .iter()
            .map(|(k, zh, en)| ((*k).to_string(), lang.t(zh, en).to_string())),
    );
    // An action typed by hand that the list does not offer stays selectable.
    if let Some(a) = &f.action
        && !actions.iter().any(|(k, _)| k == a)
    {
        actions.push((a.clone(), a.clone()));
    }
    // The filter shows the action chosen, however it was written.
    let mut shown = q.clone();
    if let Some(a) = &f.action {
        shown.set("action", a);
    }
    let names = names_for(&s, &entries).await?;
    let words = Words {
        lang,
        names: &names,
        tz: s.tz,
    };
    let records = record_names(&s, &entries).await?;
    let entries = entries
        .iter()
        .map(|e| {
            let label = entity_label(lang, &e.entity);
            let href = match (e.entity.as_str(), e.entity_id) {
                ("site", Some(id)) => Some(format!("/sites/{id}")),
                ("alert", Some(id)) => Some(format!("/alerts/{id}")),
                ("village", Some(id)) => Some(format!("/villages/{id}")),
                ("incident", Some(id)) => Some(format!("/incidents/{id}")),
                ("drill", Some(id)) => Some(format!("/drills/{id}")),
                ("contact", Some(id)) => Some(format!("/contacts/{id}/edit")),
                ("shelter", Some(id)) => Some(format!("/shelters/{id}/edit")),
                _ => None,
            };
            let name = Words::record_name(&e.entity, &e.before, &e.after).or_else(|| {
                e.entity_id
                    .and_then(|id| records.get(&(e.entity.clone(), id)).cloned())
            });
            let record = match (name, e.entity_id) {
                (Some(n), _) => format!("{label} 〔{n}〕"),
                (None, Some(id)) => format!("{label} #{id}"),
                (None, None) => label,
            };
            let actor = actor_words(lang, &e.actor);
            let action = action_label(lang, &e.action, &e.entity);
            let summary = match lang {
                Lang::Zh => format!("{actor} {action}了 {record}"),
                Lang::En => format!("{actor} {action} {record}"),
            };
            Row {
                at: e.at.replace('T', " ").chars().take(19).collect(),
                actor,
                action,
                record,
                href,
                summary,
                changes: words.changes(&e.entity, &e.before, &e.after),
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            shell: Shell::new(&ctx, ctx.t("审计日志", "Audit log"), Nav::Audit),
            lang,
            f: Form::new(lang, &shown, &errors, |_, f| f.to_string()),
            entities,
            actions,
            entries,
            pager: Pager::new("/audit", &q.0, page, per_page, total),
        },
    ))
}

/// The names the entries' values refer to: villages, recipients.
async fn names_for(s: &AppState, entries: &[audit::Entry]) -> WebResult<Names> {
    let mut recipients: Vec<i64> = entries
        .iter()
        .filter_map(|e| e.after.as_ref()?.get("recipient_id")?.as_i64())
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    Ok(Names {
        villages: crate::registry::villages::names(&s.db).await?,
        by_code: crate::registry::villages::names_by_code(&s.db).await?,
        recipients: crate::notify::response::status::recipient_names(&s.db, &recipients).await?,
        plans: s
            .notifier
            .plans
            .all()
            .await
            .into_iter()
            .map(|p| (p.plan.id.clone(), p.plan.title.clone()))
            .collect(),
    })
}

/// Names of records whose entries do not carry one (an answer to a notice,
/// a level changed): the notice's title, the drill's, the response's plan.
async fn record_names(
    s: &AppState,
    entries: &[audit::Entry],
) -> WebResult<std::collections::HashMap<(String, i64), String>> {
    let mut out = std::collections::HashMap::new();
    let mut asked = std::collections::HashSet::new();
    for e in entries {
        let Some(id) = e.entity_id else { continue };
        let k = (e.entity.clone(), id);
        if Words::record_name(&e.entity, &e.before, &e.after).is_some() || !asked.insert(k.clone())
        {
            continue;
        }
        let name = match e.entity.as_str() {
            "alert" => crate::notify::response::status::get(&s.db, id)
                .await?
                .map(|a| a.title),
            "incident" => match crate::incidents::get(&s.db, id).await? {
                Some(i) => Some(
                    s.notifier
                        .plans
                        .get(&i.plan_id)
                        .await
                        .map_or(i.plan_id.clone(), |p| p.plan.title.clone()),
                ),
                None => None,
            },
            "warning" => crate::incidents::warnings::get(&s.db, id)
                .await?
                .map(|w| w.title),
            "drill" => crate::drills::get(&s.db, id).await?.map(|d| d.title),
            "site" => crate::ledger::sites::get(&s.db, id).await?.map(|r| r.name),
            // An inspection by its site and day.
            "inspection" => {
                let after = e.after.as_ref();
                let on = after
                    .and_then(|a| a.get("inspected_on"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                match after
                    .and_then(|a| a.get("site_id"))
                    .and_then(|v| v.as_i64())
                {
                    Some(sid) => crate::ledger::sites::get(&s.db, sid)
                        .await?
                        .map(|r| format!("{} {on}", r.name).trim().to_string()),
                    None => None,
                }
            }
            _ => None,
        };
        if let Some(n) = name {
            out.insert(k, n);
        }
    }
    Ok(out)
}

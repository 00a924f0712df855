//! Drills (演练): the schedule list, a drill's page with its records and
//! scorecard, and starting or activating one as the API does. Recording a
//! drill that was held is `drill_records`.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::Value;

use super::html::{FormData, Nav, Shell, contact_role_label, render, span};
use super::i18n::{Lang, message};
use super::incidents::incident_error;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::drills::DrillRow;
use crate::store::now_ms;

/// Upcoming drill occurrences: (when in ms, drill id, title), soonest first.
pub async fn upcoming(
    s: &AppState,
    within_days: i64,
    limit: usize,
) -> WebResult<Vec<(i64, i64, String)>> {
    let until = now_ms() + within_days * 86_400_000;
    let mut out = Vec::new();
    for d in crate::drills::list(&s.db).await? {
        if d.active == 0 {
            continue;
        }
        if let Some(sch) = d.schedule() {
            for t in sch.after(chrono::Utc::now(), 3) {
                let ms = t.timestamp_millis();
                if ms <= until {
                    out.push((ms, d.id, d.title.clone()));
                }
            }
        }
    }
    out.sort();
    out.truncate(limit);
    Ok(out)
}

struct DrillLine {
    id: i64,
    title: String,
    draft: bool,
    plan: String,
    cron: String,
    next: String,
    leads: String,
    villages: String,
    roles: String,
}

#[derive(Template)]
#[template(path = "drills/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    drills: Vec<DrillLine>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let names = crate::registry::villages::names(&s.db).await?;
    let drills = crate::drills::list(&s.db)
        .await?
        .iter()
        .map(|d| DrillLine {
            id: d.id,
            title: d.title.clone(),
            draft: d.active == 0,
            plan: d.plan_id.clone().unwrap_or_default(),
            cron: crate::plans::cron_words(d.cron.as_deref().unwrap_or_default()),
            next: d
                .next(2)
                .iter()
                .map(|t| t.replace('T', " ").chars().take(16).collect::<String>())
                .collect::<Vec<_>>()
                .join("、"),
            leads: super::plans::leads_text(lang, d.leads().into_iter().map(|(l, _)| l)),
            villages: match d.village_ids() {
                Value::String(a) if a == "all" => lang.t("全部村", "all villages").to_string(),
                Value::Array(a) if a.is_empty() => lang.t("全部村", "all villages").to_string(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_i64)
                    .map(|v| names.get(&v).cloned().unwrap_or_else(|| v.to_string()))
                    .collect::<Vec<_>>()
                    .join("、"),
                _ => String::new(),
            },
            roles: d
                .role_names()
                .iter()
                .map(|r| contact_role_label(lang, r))
                .collect::<Vec<_>>()
                .join("、"),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("演练", "Drills"), Nav::Drills),
            lang,
            drills,
        },
    ))
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    drill_page(&s, &ctx, id, None, StatusCode::OK).await
}

/// Runs a drill now, as `POST /api/v1/drills/{id}/start` does: a drill of a
/// plan in force opens an exercise incident at Ⅳ; any other sends an exercise
/// notice with an answer deadline.
pub async fn start(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let actor = user.actor();
    let d = crate::drills::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let ack = f
        .get("ack_within_minutes")
        .trim()
        .parse::<i64>()
        .unwrap_or(15);
    let problem = match crate::drills::start_now(&s.notifier, &actor, &d, ack).await {
        Ok(started) => {
            let to = match (started.incident_id, started.alert_id) {
                (Some(inc), _) => format!("/incidents/{inc}"),
                (None, Some(a)) => format!("/alerts/{a}"),
                (None, None) => format!("/drills/{id}"),
            };
            return Ok(see_other(&to));
        }
        Err(e) => Some(incident_error(ctx.lang, e)?),
    };
    drill_page(&s, &ctx, id, problem, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// Activates a draft drill schedule, as `POST /api/v1/drills/{id}/activate` does.
pub async fn activate(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let problem = match crate::drills::activate(&s.db, &s.cfg.drills, &user.actor(), id, s.tz).await
    {
        Ok(_) => return Ok(see_other(&format!("/drills/{id}"))),
        Err(crate::store::WriteError::Invalid(f)) => (f.field, f.message),
        Err(crate::store::WriteError::Conflict(m)) => (ctx.t("状态", "status").to_string(), m),
        Err(crate::store::WriteError::NotFound) => return Err(WebError::NotFound),
        Err(crate::store::WriteError::Store(e)) => return Err(e.into()),
    };
    drill_page(
        &s,
        &ctx,
        id,
        Some(problem),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

struct VillageScore {
    name: String,
    rate: String,
    mean: String,
}

struct RecordView {
    held_on: String,
    minutes: String,
    /// Who took part, "、"-joined; empty when none were recorded.
    participants: String,
    problems: Option<String>,
    follow_up: Option<String>,
    /// The ledger site of a business's own drill: (id, name).
    site: Option<(i64, String)>,
    villages: Vec<VillageScore>,
    alert_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "drills/show.html")]
struct DrillPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    d: &'a DrillRow,
    next: String,
    problem: Option<(String, String)>,
    dispatcher: bool,
    editor: bool,
    records: Vec<RecordView>,
}

impl DrillPage<'_> {
    /// "每年4月10日 9:00，提前 7天、1天 提醒"; a one-off drill's reminders only.
    fn schedule(&self) -> String {
        let leads = self.d.leads().into_iter().map(|(l, _)| {
            l.parse::<crate::plans::LeadTime>()
                .map_or(l, |t| super::plans::lead_words(self.lang, t))
        });
        super::plans::schedule_words(self.lang, self.d.cron.as_deref().unwrap_or(""), leads)
            .trim_start_matches('，')
            .to_string()
    }
}

async fn drill_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let d = crate::drills::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let card = crate::drills::records::scorecard(&s.db, id).await?;
    let mut sites = std::collections::HashMap::new();
    for sid in card.records.iter().filter_map(|r| r.site_id) {
        if let std::collections::hash_map::Entry::Vacant(e) = sites.entry(sid) {
            let name = crate::ledger::sites::get(&s.db, sid)
                .await?
                .map_or_else(|| format!("#{sid}"), |site| site.name);
            e.insert(name);
        }
    }
    let records = card
        .records
        .iter()
        .map(|r| RecordView {
            participants: r.participants.join("、"),
            follow_up: r.follow_up.clone().filter(|t| !t.trim().is_empty()),
            site: r
                .site_id
                .map(|sid| (sid, sites.get(&sid).cloned().unwrap_or_default())),
            held_on: r.held_on.clone(),
            minutes: r
                .duration_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            problems: r.problems.clone(),
            villages: r
                .villages
                .iter()
                .map(|v| VillageScore {
                    name: if v.stats.village_id.is_none() {
                        lang.t("乡级", "Township level").to_string()
                    } else {
                        v.stats.village.clone()
                    },
                    rate: format!(
                        "{:.0}%{}",
                        v.stats.answer_rate * 100.0,
                        v.answer_rate_change
                            .map(|c| format!(" ({:+.0}%)", c * 100.0))
                            .unwrap_or_default()
                    ),
                    mean: v
                        .stats
                        .mean_seconds
                        .map(|m| span(lang, m as i64))
                        .unwrap_or_default(),
                })
                .collect(),
            alert_id: r.alert_id,
        })
        .collect();
    Ok(render(
        status,
        &DrillPage {
            shell: Shell::new(ctx, d.title.clone(), Nav::Drills),
            lang,
            next: d
                .next(5)
                .iter()
                .map(|t| t.replace('T', " ").chars().take(16).collect::<String>())
                .collect::<Vec<_>>()
                .join("、"),
            problem: problem.map(|(f, m)| (f, message(lang, &m))),
            dispatcher: ctx.can(Role::Dispatcher),
            editor: ctx.can(Role::Editor),
            records,
            d: &d,
        },
    ))
}

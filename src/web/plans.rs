//! Plans (预案) in force, read from the plan book: the list (with the
//! incidents opened from them), a plan's page, and activating one through
//! `incidents::open` like the API. Incidents are `incidents`, drills
//! `drills`.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{
    Errors, Form, FormData, Nav, Shell, contact_role_label, level_class, level_label, local, qv,
    render,
};
use super::i18n::{Lang, message};
use super::incidents::incident_error;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::{self, IncidentError, OpenInput};
use crate::plans::Plan;
use crate::plans::{Hazard, Villages};

pub(super) fn hazard_label(lang: Lang, h: Hazard) -> &'static str {
    match lang {
        Lang::Zh => h.label_zh(),
        Lang::En => match h {
            Hazard::ForestFire => "forest fire",
            Hazard::Flood => "flood",
            Hazard::Typhoon => "typhoon",
            Hazard::FloodTyphoon => "flood and typhoon",
            Hazard::Drought => "drought",
            Hazard::Geological => "geological hazard",
            Hazard::HazardousChemicals => "hazardous chemicals",
            Hazard::Other => "other",
        },
    }
}

/// The villages a plan names by code, by name with the code beside it:
/// "坑头村（S08）、溪口村（S10）"; an unregistered code as it is.
pub(super) fn villages_text(
    lang: Lang,
    v: &Villages,
    by_code: &std::collections::HashMap<String, String>,
) -> String {
    match v {
        Villages::All => lang.t("全部村", "all villages").to_string(),
        Villages::Codes(c) => c
            .iter()
            .map(|code| match by_code.get(code) {
                Some(name) => format!("{name}（{code}）"),
                None => code.clone(),
            })
            .collect::<Vec<_>>()
            .join(lang.t("、", ", ")),
    }
}

struct PlanLine {
    path: String,
    title: String,
    hazard: &'static str,
    version: String,
    hash: String,
    approved_on: String,
    approved_by: String,
    levels: String,
    shelters: usize,
}

struct IncidentLine {
    id: i64,
    opened: String,
    exercise: bool,
    plan: String,
    class: &'static str,
    level: &'static str,
    open: bool,
    by: String,
}

#[derive(Template)]
#[template(path = "plans/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    plans: Vec<PlanLine>,
    problems: Vec<String>,
    incidents: Vec<IncidentLine>,
    plans_dir: Option<crate::planbook::DirProblem>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    let owner = crate::plans::PlanOwner::of(&ctx.need(Role::Viewer)?.actor());
    let lang = ctx.lang;
    let book = &s.notifier.plans;
    let plans = book
        .of(owner)
        .await
        .iter()
        .map(|p| PlanLine {
            path: qv(&p.plan.id),
            title: p.plan.title.clone(),
            hazard: hazard_label(lang, p.plan.hazard),
            version: p.plan.version.clone(),
            hash: p.content_hash.get(..8).unwrap_or("").to_string(),
            approved_on: p.plan.approved_on.to_string(),
            approved_by: p.plan.approved_by.clone(),
            levels: p
                .plan
                .levels
                .iter()
                .map(|l| level_label(lang, Some(i64::from(l.level))))
                .collect::<Vec<_>>()
                .join(" · "),
            shelters: p.plan.shelters.len(),
        })
        .collect();
    let plans_dir = book.dir_problem().await;
    // An unreadable directory is said in words above, not as a file problem.
    let problems = book
        .problems()
        .await
        .iter()
        .filter(|p| plans_dir.as_ref().is_none_or(|d| d.path != p.file))
        .map(|p| p.to_string())
        .collect();
    let incidents = incidents::recent(&s.db, 50)
        .await?
        .into_iter()
        .map(|i| IncidentLine {
            id: i.id,
            opened: local(i.opened_at, s.tz),
            exercise: i.exercise != 0,
            class: level_class(Some(i.level)),
            level: level_label(lang, Some(i.level)),
            open: i.status == "open",
            plan: i.plan_id,
            by: super::audit_words::actor_words(lang, &i.opened_by),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("预案", "Plans"), Nav::Plans),
            lang,
            plans,
            problems,
            incidents,
            plans_dir,
        },
    ))
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<String>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    plan_page(&s, &ctx, &id, &q, None, StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "plans/show.html")]
struct PlanPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    p: &'a Plan,
    path: String,
    hazard: &'static str,
    file: &'a str,
    hash: &'a str,
    dispatcher: bool,
    problem: Option<(String, String)>,
    f: Form<'a>,
    villages: Vec<(String, String)>,
    /// This plan's warnings in force: (record id, title, issued at, villages).
    in_force: Vec<(i64, String, String, String)>,
    /// The plan's shelters as the register holds them, by code.
    shelters: Vec<ShelterLine>,
    /// Village names by code, for the villages the plan names by code.
    by_code: std::collections::HashMap<String, String>,
}

/// A shelter the plan names, from the register (`name` empty when the
/// code is not registered).
struct ShelterLine {
    code: String,
    name: String,
    village: String,
    capacity: String,
    manager: String,
    status: &'static str,
}

impl PlanPage<'_> {
    fn level(&self, l: &u8) -> &'static str {
        level_label(self.lang, Some(i64::from(*l)))
    }
    fn class(&self, l: &u8) -> &'static str {
        level_class(Some(i64::from(*l)))
    }
    fn role(&self, r: &str) -> String {
        contact_role_label(self.lang, r)
    }
    fn roles(&self, rs: &[String]) -> String {
        rs.iter()
            .map(|r| contact_role_label(self.lang, r))
            .collect::<Vec<_>>()
            .join("、")
    }
    fn villages(&self, v: &Villages) -> String {
        villages_text(self.lang, v, &self.by_code)
    }
    /// "每年4月10日 9:00，提前 7天、1天、2小时提醒"
    fn schedule(&self, d: &crate::plans::DrillSchedule) -> String {
        schedule_words(
            self.lang,
            &d.cron,
            d.remind_before.iter().map(|l| lead_words(self.lang, *l)),
        )
    }
}

/// A reminder lead time in words: "7天", "2小时", "30分钟" / "7 days", "2 hours".
pub(super) fn lead_words(lang: Lang, l: crate::plans::LeadTime) -> String {
    let m = l.minutes();
    match lang {
        Lang::Zh => l.words(),
        Lang::En => {
            let (n, unit) = if m > 0 && m.is_multiple_of(1440) {
                (m / 1440, "day")
            } else if m > 0 && m.is_multiple_of(60) {
                (m / 60, "hour")
            } else {
                (m, "minute")
            };
            format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
        }
    }
}

/// Reminder lead times as written in a drill ("7d", "1d", "2h") in words:
/// "提前7天、1天、2小时" / "7 days, 1 day, 2 hours before"; empty when none.
pub(super) fn leads_text(lang: Lang, leads: impl Iterator<Item = String>) -> String {
    let words: Vec<String> = leads
        .map(|l| {
            l.parse::<crate::plans::LeadTime>()
                .map_or(l, |t| lead_words(lang, t))
        })
        .collect();
    match (lang, words.is_empty()) {
        (_, true) => String::new(),
        (Lang::Zh, false) => format!("提前{}", words.join("、")),
        (Lang::En, false) => format!("{} before", words.join(", ")),
    }
}

/// A drill schedule and its reminders in words.
pub(super) fn schedule_words(
    lang: Lang,
    cron: &str,
    leads: impl Iterator<Item = String>,
) -> String {
    let leads: Vec<String> = leads.collect();
    let when = crate::plans::cron_words(cron);
    match (lang, leads.is_empty()) {
        (_, true) => when,
        (Lang::Zh, false) => format!("{when}，提前{}提醒", leads.join("、")),
        (Lang::En, false) => format!("{when}; reminders {} before", leads.join(", ")),
    }
}

async fn plan_page(
    s: &AppState,
    ctx: &Ctx,
    id: &str,
    v: &FormData,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let owner = crate::plans::PlanOwner::of(&ctx.need(Role::Viewer)?.actor());
    let lp = s
        .notifier
        .plans
        .get_of(owner, id)
        .await
        .ok_or(WebError::NotFound)?;
    let dispatcher = ctx.can(Role::Dispatcher);
    let villages = if dispatcher {
        crate::incidents::villages_seen(&s.db)
            .await?
            .into_iter()
            .map(|vr| (vr.id.to_string(), vr.name))
            .collect()
    } else {
        Vec::new()
    };
    let errors = Errors::default();
    let names = crate::registry::villages::names(&s.db).await?;
    let in_force = incidents::warnings::in_force(&s.db)
        .await?
        .into_iter()
        .filter(|w| w.plan_id == lp.plan.id)
        .map(|w| {
            let vs: Vec<String> = w
                .village_ids()
                .iter()
                .filter_map(|v| names.get(v).cloned())
                .collect();
            (
                w.id,
                w.title.clone(),
                crate::time::fmt_ms(w.issued_at, s.tz),
                vs.join("、"),
            )
        })
        .collect();
    let register =
        crate::registry::shelters::list(&s.db, &crate::registry::shelters::Filter::default())
            .await?;
    let shelters = lp
        .plan
        .shelters
        .iter()
        .map(|code| match register.iter().find(|r| &r.code == code) {
            Some(r) => ShelterLine {
                code: code.clone(),
                name: r.name.clone(),
                village: r
                    .village_id
                    .and_then(|v| names.get(&v).cloned())
                    .unwrap_or_default(),
                capacity: r.capacity.to_string(),
                manager: [
                    r.manager.clone(),
                    r.phone.as_deref().map(crate::phone::dialled),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
                status: crate::registry::shelters::ShelterStatus::parse(&r.status)
                    .map_or("", |st| lang.t(st.label_zh(), st.label_en())),
            },
            None => ShelterLine {
                code: code.clone(),
                name: String::new(),
                village: String::new(),
                capacity: String::new(),
                manager: String::new(),
                status: lang.t("未登记", "not registered"),
            },
        })
        .collect();
    Ok(render(
        status,
        &PlanPage {
            shell: Shell::new(ctx, lp.plan.title.clone(), Nav::Plans),
            lang,
            p: &lp.plan,
            path: qv(id),
            hazard: hazard_label(lang, lp.plan.hazard),
            file: &lp.file,
            hash: lp.content_hash.get(..12).unwrap_or(""),
            dispatcher,
            problem: problem.map(|(f, m)| (f, message(lang, &m))),
            f: Form::new(lang, v, &errors, |_, f| f.to_string()),
            villages,
            in_force,
            shelters,
            by_code: crate::registry::villages::names_by_code(&s.db).await?,
        },
    ))
}

fn villages_value(f: &FormData) -> Option<Value> {
    if f.has("villages", "all") {
        return Some(json!("all"));
    }
    let ids: Vec<Value> = f
        .all("villages")
        .into_iter()
        .filter_map(|v| v.parse::<i64>().ok())
        .map(Value::from)
        .collect();
    (!ids.is_empty()).then_some(Value::Array(ids))
}

pub async fn activate(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<String>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    // The level as the API parses it, refused with the same field error.
    let Some(level) = f
        .get("level")
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(incidents::Level::new)
    else {
        let e = IncidentError::Invalid(crate::validate::FieldError {
            field: "level".into(),
            message: crate::notify::intake::level::LEVEL_FORMS.into(),
        });
        let problem = incident_error(ctx.lang, e)?;
        return plan_page(
            &s,
            &ctx,
            &id,
            &f,
            Some(problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let input = OpenInput {
        plan: id.clone(),
        level,
        villages: villages_value(&f),
        area: None,
        note: f.opt("note"),
        exercise: f.get("exercise") == "1",
    };
    // First the preview: who gets what, per rule; only its confirm button sends.
    let result = if f.get("confirm") == "1" {
        incidents::open(&s.notifier, &user.actor(), &input)
            .await
            .map(Ok)
    } else {
        incidents::preview::activation(&s.notifier, &s.db, &input)
            .await
            .map(Err)
    };
    match result {
        Ok(Err(preview)) => {
            let hidden = hidden_fields(&f);
            Ok(render(
                StatusCode::OK,
                &PreviewPage {
                    shell: Shell::new(&ctx, ctx.t("确认启动", "Confirm activation"), Nav::Plans),
                    lang: ctx.lang,
                    path: qv(&id),
                    p: preview,
                    hidden,
                },
            ))
        }
        Ok(Ok((inc, _))) => Ok(see_other(&format!("/incidents/{}", inc.id))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            plan_page(
                &s,
                &ctx,
                &id,
                &f,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The activation's choices, carried from the preview to its confirm button.
fn hidden_fields(f: &FormData) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("level", f.get("level").to_string()),
        ("note", f.get("note").to_string()),
    ];
    // The exercise choice travels on the confirm button itself.
    for v in f.all("villages") {
        out.push(("villages", v.to_string()));
    }
    out
}

#[derive(Template)]
#[template(path = "plans/preview.html")]
struct PreviewPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    path: String,
    p: incidents::preview::ActivationPreview,
    hidden: Vec<(&'static str, String)>,
}

/// Issues one of the plan's warnings by hand, for the chosen villages.
pub async fn issue_warning(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path((id, warning)): Path<(String, String)>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    match incidents::warnings::issue_named(
        &s.notifier,
        &user.actor(),
        &id,
        &warning,
        &villages_value(&f),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/plans/{}#warnings", qv(&id)))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            plan_page(
                &s,
                &ctx,
                &id,
                &f,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// Lifts a warning in force: its notices stop repeating and escalating.
pub async fn lift_warning(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    _f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let w = incidents::warnings::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    match incidents::warnings::lift(&s.notifier, &user.actor(), id).await {
        Ok(_) | Err(IncidentError::Conflict(_)) => {
            Ok(see_other(&format!("/plans/{}#warnings", qv(&w.plan_id))))
        }
        Err(IncidentError::Store(e)) => Err(e.into()),
        Err(_) => Err(WebError::NotFound),
    }
}

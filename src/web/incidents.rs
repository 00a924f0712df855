//! An incident (事件) opened from a plan: its timeline in words (notices
//! linked with their answers), and the dispatcher's level change and stand
//! down, through `incidents` like the API.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{FormData, Nav, Shell, level_class, level_label, local, qv, render};
use super::i18n::{Lang, message};
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::warnings::skipped_in_words;
use crate::incidents::{self, Event, IncidentError, IncidentRow};
use crate::notify::intake::template;

pub(super) fn incident_error(lang: Lang, e: IncidentError) -> Result<(String, String), WebError> {
    match e {
        IncidentError::Invalid(f) => Ok((f.field, f.message)),
        IncidentError::Conflict(m) => Ok((lang.t("状态", "status").to_string(), m)),
        IncidentError::Refused(r) => Ok((lang.t("签发", "sign-off").to_string(), r.to_string())),
        IncidentError::NotFound => Err(WebError::NotFound),
        IncidentError::Store(s) => Err(s.into()),
    }
}

/// What kind of event a timeline line is, in words.
fn kind_label(lang: Lang, e: &Event, spooled: bool) -> String {
    match e {
        Event::Open { .. } => lang.t("启动响应", "activated"),
        Event::Notice { .. } if spooled => lang.t(
            "通知（写入测试文件，未真正发出）",
            "notice (written to test files, not really sent)",
        ),
        Event::Notice { .. } => lang.t("发出通知", "notice sent"),
        Event::NoticeSkipped { .. } => lang.t("未发出的通知", "notice not sent"),
        Event::Level { .. } => lang.t("调整级别", "level changed"),
        Event::AllClear { .. } => lang.t("解除通知", "all-clear"),
        Event::Close { .. } => lang.t("结束响应", "stood down"),
        Event::NoticeAwaiting { .. } => lang.t("公开通知待签发", "public notice awaits sign-off"),
        Event::NoticeApproved { .. } => lang.t("公开通知已签发", "public notice approved"),
        Event::NoticeRejected { .. } => lang.t("公开通知被退回", "public notice rejected"),
        Event::ActivationRequested { .. } => lang.t(
            "申请启动/提级，待确认",
            "level asked for, awaits confirmation",
        ),
        Event::ActivationConfirmed { .. } => lang.t("带班领导确认", "confirmed by a leader"),
        Event::ActivationRejected { .. } => lang.t("带班领导未同意", "rejected by a leader"),
        Event::CountyReport { reason: None, .. } => {
            lang.t("已报县应急局", "reported to the county")
        }
        Event::CountyReport { .. } => lang.t("未能报县", "not reported to the county"),
        Event::Other { .. } => lang.t("其他", "other"),
    }
    .to_string()
}

/// An event's particulars in a sentence (notices with an alert are linked
/// instead); villages by name.
fn event_words(lang: Lang, e: &Event, names: &std::collections::HashMap<i64, String>) -> String {
    let villages = |v: &[i64]| {
        let listed: Vec<&str> = v
            .iter()
            .filter_map(|id| names.get(id).map(String::as_str))
            .collect();
        match lang {
            Lang::Zh => format!("范围：{}", listed.join("、")),
            Lang::En => format!("villages: {}", listed.join(", ")),
        }
    };
    match (e, lang) {
        (Event::Open { villages: v, .. }, _) => villages(v),
        (
            Event::Level {
                from,
                to,
                villages: v,
            },
            _,
        ) => format!(
            "{} → {}，{}",
            level_label(lang, Some(*from)),
            level_label(lang, Some(*to)),
            villages(v)
        ),
        (
            Event::Notice {
                title, recipients, ..
            },
            Lang::Zh,
        ) => format!("{}（{recipients} 人）", template::display(title)),
        (
            Event::Notice {
                title, recipients, ..
            },
            Lang::En,
        ) => {
            format!("{} ({recipients} recipients)", template::display(title))
        }
        (Event::NoticeSkipped { reason, roles, .. }, Lang::Zh) => skipped_in_words(roles, reason),
        (Event::NoticeSkipped { reason, roles, .. }, Lang::En) => {
            format!("{}: not sent ({reason})", roles.join(", "))
        }
        (Event::AllClear { recipients }, Lang::Zh) => {
            format!("解除通知已发给 {recipients} 人（无需回复）")
        }
        (Event::AllClear { recipients }, Lang::En) => {
            format!("all-clear sent to {recipients} people (no answer needed)")
        }
        (Event::Close { note }, _) => note.clone().unwrap_or_default(),
        (Event::NoticeAwaiting { title, .. }, _) => title.clone(),
        (Event::NoticeApproved { title, recipients }, Lang::Zh) => {
            format!("{title}（{recipients} 人）")
        }
        (Event::NoticeApproved { title, recipients }, Lang::En) => {
            format!("{title} ({recipients} recipients)")
        }
        (Event::NoticeRejected { title, reason }, Lang::Zh) => format!("{title}：{reason}"),
        (Event::NoticeRejected { title, reason }, Lang::En) => format!("{title}: {reason}"),
        (Event::ActivationRequested { level, villages: v }, _) => {
            format!("{} · {}", level_label(lang, Some(*level)), villages(v))
        }
        (
            Event::ActivationConfirmed {
                level,
                requested_by,
            },
            Lang::Zh,
        ) => format!(
            "{}（{} 申请）",
            level_label(lang, Some(*level)),
            super::audit_words::actor_words(lang, requested_by)
        ),
        (
            Event::ActivationConfirmed {
                level,
                requested_by,
            },
            Lang::En,
        ) => format!(
            "{} (asked by {})",
            level_label(lang, Some(*level)),
            super::audit_words::actor_words(lang, requested_by)
        ),
        (
            Event::ActivationRejected {
                level,
                requested_by,
                reason,
            },
            Lang::Zh,
        ) => format!(
            "{}（{} 申请）：{reason}",
            level_label(lang, Some(*level)),
            super::audit_words::actor_words(lang, requested_by)
        ),
        (
            Event::ActivationRejected {
                level,
                requested_by,
                reason,
            },
            Lang::En,
        ) => format!(
            "{} (asked by {}): {reason}",
            level_label(lang, Some(*level)),
            super::audit_words::actor_words(lang, requested_by)
        ),
        (
            Event::CountyReport {
                county_title,
                recipients,
                reason,
                ..
            },
            Lang::Zh,
        ) => match reason {
            None => format!("依据{county_title}报县应急局值班人员（{recipients} 人）"),
            Some(r) => format!("依据{county_title}：{r}"),
        },
        (
            Event::CountyReport {
                county_plan,
                recipients,
                reason,
                ..
            },
            Lang::En,
        ) => match reason {
            None => format!(
                "reported under county plan {county_plan} to the county's duty staff ({recipients} people)"
            ),
            Some(r) => format!("county plan {county_plan}: {r}"),
        },
        (Event::Other { kind }, _) => kind.clone(),
    }
}

/// One line of the timeline as the page shows it.
struct EventLine {
    at: String,
    kind: String,
    level: &'static str,
    /// A notice with its alert: (alert id, title, answered, recipients).
    notice: Option<(i64, String, i64, i64)>,
    words: String,
    actor: String,
}

#[derive(Template)]
#[template(path = "incidents/show.html")]
struct IncidentPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    inc: &'a IncidentRow,
    class: &'static str,
    level: &'static str,
    exercise: bool,
    opened: String,
    open: bool,
    dispatcher: bool,
    problem: Option<(String, String)>,
    levels: Vec<(i64, &'static str)>,
    events: Vec<EventLine>,
    plan_path: String,
    /// A level awaiting a leader's confirmation, and who asked.
    pending: Option<(&'static str, String)>,
    /// The signed-in user may confirm or reject it (a leader, not the one who asked).
    can_sign: bool,
    plan_title: String,
}

impl IncidentPage<'_> {
    /// Who acted, in words ("demo（网页）" rather than "web:demo").
    fn actor(&self, a: &str) -> String {
        super::audit_words::actor_words(self.lang, a)
    }
    /// A notice title as stored: what differs per recipient as a placeholder.
    fn shown(&self, title: &str) -> String {
        template::display(title)
    }
}

pub async fn show(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    incident_page(&s, &ctx, id, None, StatusCode::OK).await
}

async fn incident_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let inc = incidents::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let tl = incidents::timeline(&s.db, &inc, s.tz).await?;
    let open = inc.status == "open";
    let dispatcher = ctx.can(Role::Dispatcher);
    let levels = if open && dispatcher {
        s.notifier
            .plans
            .get(&inc.plan_id)
            .await
            .iter()
            .flat_map(|p| p.plan.levels.iter())
            .map(|l| {
                let lv = i64::from(l.level);
                (lv, level_label(lang, Some(lv)))
            })
            .collect()
    } else {
        Vec::new()
    };
    let names = crate::registry::villages::names(&s.db).await?;
    let plan_title = s
        .notifier
        .plans
        .get(&inc.plan_id)
        .await
        .map_or_else(|| inc.plan_id.clone(), |p| p.plan.title.clone());
    let events = tl
        .timeline
        .iter()
        .map(|e| EventLine {
            at: local(e.at_ms, s.tz),
            kind: kind_label(lang, &e.event, ctx.test_mode.spooled()),
            level: e.level.map(|l| level_label(lang, Some(l))).unwrap_or(""),
            notice: match (e.alert_id, &e.notice) {
                (Some(a), Some(n)) => Some((a, n.title.clone(), n.answered, n.recipients)),
                _ => None,
            },
            words: event_words(lang, &e.event, &names),
            actor: super::audit_words::actor_words(lang, &e.actor),
        })
        .collect();
    Ok(render(
        status,
        &IncidentPage {
            shell: Shell::new(
                ctx,
                format!("{plan_title} {}", level_label(lang, Some(inc.level))),
                Nav::Plans,
            ),
            plan_title: plan_title.clone(),
            lang,
            class: level_class(Some(inc.level)),
            level: level_label(lang, Some(inc.level)),
            exercise: inc.exercise != 0,
            opened: local(inc.opened_at, s.tz),
            open,
            dispatcher,
            problem: problem.map(|(f, m)| (f, message(lang, &m))),
            levels,
            events,
            plan_path: qv(&inc.plan_id),
            pending: inc.pending_level.map(|l| {
                (
                    level_label(lang, Some(l)),
                    super::audit_words::actor_words(
                        lang,
                        inc.pending_by.as_deref().unwrap_or_default(),
                    ),
                )
            }),
            can_sign: ctx.user.as_ref().is_some_and(|u| {
                crate::auth::second_person(&u.actor(), inc.pending_by.as_deref().unwrap_or(""))
                    .is_ok()
            }),
            inc: &inc,
        },
    ))
}

pub async fn change_level(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let level = u8::try_from(f.get("level").parse::<i64>().unwrap_or(0)).unwrap_or(0);
    match incidents::change_level(&s.notifier, &user.actor(), id, level, &[]).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            incident_page(
                &s,
                &ctx,
                id,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

pub async fn close(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    match incidents::close(&s.notifier, &user.actor(), id, f.opt("note")).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            incident_page(&s, &ctx, id, Some(problem), StatusCode::CONFLICT).await
        }
    }
}

/// A leader confirms the level an activation awaits (two-person rule).
pub async fn confirm(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    match incidents::signoff::confirm(&s.notifier, &user.actor(), id).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            incident_page(&s, &ctx, id, Some(problem), StatusCode::FORBIDDEN).await
        }
    }
}

/// A leader rejects the level an activation awaits, with the reason.
pub async fn reject(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    match incidents::signoff::reject(&s.notifier, &user.actor(), id, f.get("reason")).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            incident_page(
                &s,
                &ctx,
                id,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

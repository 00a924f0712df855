//! Plans (预案) in force, incidents opened from them, and drills (演练):
//! read from the plan book and the drill tables, activated and changed
//! through `incidents` like the API.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{
    E, FormData, Nav, Page, contact_role_label, csrf_field, level_class, level_label, local,
};
use super::i18n::{Lang, message};
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::{self, Event, IncidentError, IncidentRow, OpenInput};
use crate::plans::{Hazard, Villages};
use crate::store::now_ms;

fn hazard_label(lang: Lang, h: Hazard) -> &'static str {
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

fn villages_text(lang: Lang, v: &Villages) -> String {
    match v {
        Villages::All => lang.t("全部村", "all villages").to_string(),
        Villages::Codes(c) => c.join(", "),
    }
}

pub async fn list(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let book = &s.notifier.plans;
    let mut b = format!(
        "<h1>{}</h1><p><a href=\"/observations\" id=\"observations-link\">{}</a></p>",
        ctx.t("应急预案", "Emergency plans"),
        ctx.t(
            "观测数据：录入雨量、预警信号、火险，查看启动建议",
            "Observations: enter rainfall, warning signals, fire danger; see suggested activations"
        )
    );
    let _ = write!(
        b,
        "<table class=\"grid\" id=\"plans\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("预案", "Plan"),
        ctx.t("灾种", "Hazard"),
        ctx.t("版本", "Version"),
        ctx.t("批准", "Approved"),
        ctx.t("响应级别", "Levels"),
        ctx.t("避灾点", "Shelters"),
    );
    let plans = book.all().await;
    for p in &plans {
        let levels: Vec<&str> = p
            .plan
            .levels
            .iter()
            .map(|l| level_label(lang, Some(i64::from(l.level))))
            .collect();
        let _ = write!(
            b,
            "<tr><td><a href=\"/plans/{}\">{}</a></td><td>{}</td><td>{} <small>{}</small></td><td>{} {}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            E(&super::html::qv(&p.plan.id)),
            E(&p.plan.title),
            hazard_label(lang, p.plan.hazard),
            E(&p.plan.version),
            E(p.content_hash.get(..8).unwrap_or("")),
            p.plan.approved_on,
            E(&p.plan.approved_by),
            E(&levels.join(" · ")),
            p.plan.shelters.len(),
        );
    }
    if plans.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            ctx.t("没有生效的预案文件。", "No plan files in force.")
        );
    }
    b.push_str("</tbody></table>");
    let problems = book.problems().await;
    if !problems.is_empty() {
        let _ = write!(
            b,
            "<div class=\"box error\"><b>{}</b><ul>",
            ctx.t(
                "预案文件有问题（上一次正确的版本仍然生效）：",
                "Problems in plan files (the last good version stays in force):"
            )
        );
        for p in &problems {
            let _ = write!(b, "<li><code>{}</code></li>", E(&p.to_string()));
        }
        b.push_str("</ul></div>");
    }
    b.push_str(&incidents_table(
        &ctx,
        &incidents::recent(&s.db, 50).await?,
        s.tz,
    ));
    Ok(Page::new(ctx.t("预案", "Plans"), Nav::Plans, b).render(&ctx))
}

fn incidents_table(ctx: &Ctx, rows: &[IncidentRow], tz: chrono_tz::Tz) -> String {
    let lang = ctx.lang;
    let mut b = format!(
        "<h2>{}</h2><table class=\"grid\" id=\"incidents\"><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("预案启动记录（事件）", "Incidents (plan activations)"),
        ctx.t("启动时间", "Opened"),
        ctx.t("预案", "Plan"),
        ctx.t("级别", "Level"),
        ctx.t("状态", "Status"),
        ctx.t("启动人", "By"),
    );
    for i in rows {
        let _ = write!(
            b,
            "<tr><td><a href=\"/incidents/{}\">{}</a></td><td>{}</td><td>{}{}</td><td><span class=\"chip {}\">{}</span></td><td>{}</td><td>{}</td></tr>",
            i.id,
            i.id,
            local(i.opened_at, tz),
            if i.exercise != 0 {
                lang.t("【演练】", "[Exercise] ")
            } else {
                ""
            },
            E(&i.plan_id),
            level_class(Some(i.level)),
            level_label(lang, Some(i.level)),
            if i.status == "open" {
                lang.t("响应中", "open")
            } else {
                lang.t("已结束", "closed")
            },
            E(&i.opened_by),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            ctx.t("尚未启动过预案。", "No plan has been activated.")
        );
    }
    b.push_str("</tbody></table>");
    b
}

pub async fn show(State(s): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    plan_page(&s, &ctx, &id, &q, None, StatusCode::OK).await
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
    let lp = s.notifier.plans.get(id).await.ok_or(WebError::NotFound)?;
    let p = &lp.plan;
    let mut b = format!(
        "<h1>{} <small>{}</small></h1><p class=\"meta\">{} · {} {} · {} {} {} · <code>{}</code></p>",
        E(&p.title),
        hazard_label(lang, p.hazard),
        E(&lp.file),
        ctx.t("版本", "version"),
        E(&p.version),
        ctx.t("批准于", "approved"),
        p.approved_on,
        E(&p.approved_by),
        E(lp.content_hash.get(..12).unwrap_or("")),
    );
    if let Some(sc) = &p.scope {
        let _ = write!(b, "<p>{}</p>", E(sc));
    }
    // Activation: the level's notices go out as the plan says.
    if ctx.can(Role::Dispatcher) {
        let _ = write!(
            b,
            "<section class=\"panel\" id=\"activate\"><h2>{}</h2>",
            ctx.t("启动预案", "Activate this plan")
        );
        if let Some((field, m)) = &problem {
            let _ = write!(
                b,
                "<div class=\"box error\" role=\"alert\">{}：{}</div>",
                E(field),
                E(&message(lang, m))
            );
        }
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/plans/{}/activate\" class=\"form wide\" data-confirm=\"{}\">{}<div class=\"cols\"><div class=\"field\"><label for=\"f-level\">{}</label><select id=\"f-level\" name=\"level\">",
            E(&super::html::qv(id)),
            E(ctx.t(
                "确定启动？将按预案向所选村发送通知。",
                "Activate? The plan's notices go to the chosen villages."
            )),
            csrf_field(ctx),
            ctx.t("响应级别", "Response level")
        );
        for l in &p.levels {
            let val = l.level.to_string();
            let _ = write!(
                b,
                "<option value=\"{val}\"{}>{}</option>",
                if v.get("level") == val {
                    " selected"
                } else {
                    ""
                },
                level_label(lang, Some(i64::from(l.level)))
            );
        }
        let _ = write!(
            b,
            "</select></div><div class=\"field check\"><label><input type=\"checkbox\" name=\"exercise\" value=\"1\"{}> {}</label></div></div><div class=\"field\"><span class=\"label\">{}</span><div class=\"checks cols3\"><label><input type=\"checkbox\" name=\"villages\" value=\"all\"{}> <b>{}</b></label>",
            if v.get("exercise") == "1" {
                " checked"
            } else {
                ""
            },
            ctx.t("演练", "Exercise"),
            ctx.t("范围（村）", "Villages"),
            if v.has("villages", "all") {
                " checked"
            } else {
                ""
            },
            ctx.t("全乡", "Whole township")
        );
        for vr in crate::registry::villages::list(&s.db, false).await? {
            let vid = vr.id.to_string();
            let _ = write!(
                b,
                "<label><input type=\"checkbox\" name=\"villages\" value=\"{vid}\"{}> {}</label>",
                if v.has("villages", &vid) {
                    " checked"
                } else {
                    ""
                },
                E(&vr.name)
            );
        }
        let _ = write!(
            b,
            "</div></div><div class=\"field\"><label for=\"f-note\">{}</label><input id=\"f-note\" name=\"note\" value=\"{}\"></div><p><button type=\"submit\" class=\"primary danger\">{}</button></p></form></section>",
            ctx.t("说明", "Note"),
            E(v.get("note")),
            ctx.t("启动", "Activate")
        );
    }
    for l in &p.levels {
        let lv = Some(i64::from(l.level));
        let _ = write!(
            b,
            "<section class=\"panel level\"><h2><span class=\"chip {}\">{}</span></h2>",
            level_class(lv),
            level_label(lang, lv)
        );
        let _ = write!(
            b,
            "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}{}</dd></dl>",
            ctx.t("启动条件", "Conditions"),
            E(&l.conditions.join("；")),
            ctx.t("牵头", "Lead"),
            E(&contact_role_label(lang, &l.lead)),
            l.lead_note
                .as_deref()
                .map(|n| format!(" <small>{}</small>", E(n)))
                .unwrap_or_default()
        );
        if !l.measures.is_empty() {
            let _ = write!(b, "<h3>{}</h3><ul>", ctx.t("措施", "Measures"));
            for m in &l.measures {
                let _ = write!(b, "<li>{}</li>", E(m));
            }
            b.push_str("</ul>");
        }
        if !l.duties.is_empty() {
            let _ = write!(
                b,
                "<h3>{}</h3><table class=\"grid\"><tbody>",
                ctx.t("职责", "Duties")
            );
            for d in &l.duties {
                let _ = write!(
                    b,
                    "<tr><th>{}</th><td>{}</td></tr>",
                    E(&contact_role_label(lang, &d.role)),
                    E(&d.tasks.join("；"))
                );
            }
            b.push_str("</tbody></table>");
        }
        if !l.notify.is_empty() {
            let _ = write!(
                b,
                "<h3>{}</h3><table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                ctx.t("通知", "Notices"),
                ctx.t("角色", "Roles"),
                ctx.t("村", "Villages"),
                ctx.t("模板", "Template"),
                ctx.t("确认时限", "Answer within"),
                ctx.t("未确认则上报", "Escalate to")
            );
            for n in &l.notify {
                let roles: Vec<String> = n
                    .roles
                    .iter()
                    .map(|r| contact_role_label(lang, r))
                    .collect();
                let esc: Vec<String> = n
                    .escalate_to
                    .iter()
                    .map(|r| contact_role_label(lang, r))
                    .collect();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    E(&roles.join("、")),
                    E(&villages_text(lang, &n.villages)),
                    E(&n.template),
                    n.ack_within_minutes
                        .map(|m| format!("{m} {}", lang.t("分钟", "min")))
                        .unwrap_or_default(),
                    E(&esc.join("、"))
                );
            }
            b.push_str("</tbody></table>");
        }
        b.push_str("</section>");
    }
    if !p.shelters.is_empty() {
        let _ = write!(
            b,
            "<h2>{}</h2><table class=\"grid\" id=\"shelters\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            ctx.t("避灾点", "Shelters"),
            ctx.t("名称", "Name"),
            ctx.t("村", "Village"),
            ctx.t("容量（人）", "Capacity"),
            ctx.t("地址", "Address"),
            ctx.t("位置", "Location")
        );
        for sh in &p.shelters {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{:.5}, {:.5}</td></tr>",
                E(&sh.name),
                E(&sh.village),
                sh.capacity,
                super::html::eo(&sh.address),
                sh.location.lon,
                sh.location.lat
            );
        }
        let _ = write!(
            b,
            "</tbody></table><p><a href=\"/map\">{}</a></p>",
            ctx.t("在地图上查看避灾点", "Shelters on the map")
        );
    }
    if !p.drills.is_empty() {
        let _ = write!(b, "<h2>{}</h2><ul>", ctx.t("演练安排", "Drill schedule"));
        for d in &p.drills {
            let _ = write!(
                b,
                "<li>{} <code>{}</code> · {}</li>",
                E(&d.name),
                E(&d.cron),
                E(&villages_text(lang, &d.villages))
            );
        }
        let _ = write!(
            b,
            "</ul><p><a href=\"/drills\">{}</a></p>",
            ctx.t("全部演练", "All drills")
        );
    }
    let mut page = Page::new(p.title.clone(), Nav::Plans, b);
    page.status = status;
    Ok(page.render(ctx))
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

fn incident_error(lang: Lang, e: IncidentError) -> Result<(String, String), WebError> {
    match e {
        IncidentError::Invalid(f) => Ok((f.field, f.message)),
        IncidentError::Conflict(m) => Ok((lang.t("状态", "status").to_string(), m)),
        IncidentError::NotFound => Err(WebError::NotFound),
        IncidentError::Store(s) => Err(s.into()),
    }
}

pub async fn activate(
    State(s): State<AppState>,
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
    match incidents::open(&s.notifier, &user.actor(), &input).await {
        Ok((inc, _)) => Ok(see_other(&format!("/incidents/{}", inc.id))),
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

/// What kind of event a timeline line is, in words.
fn kind_label(lang: Lang, e: &Event) -> String {
    match e {
        Event::Open { .. } => lang.t("启动响应", "activated"),
        Event::Notice { .. } => lang.t("发出通知", "notice sent"),
        Event::NoticeSkipped { .. } => lang.t("未发出的通知", "notice not sent"),
        Event::Level { .. } => lang.t("调整级别", "level changed"),
        Event::AllClear { .. } => lang.t("解除通知", "all-clear"),
        Event::Close { .. } => lang.t("结束响应", "stood down"),
        Event::Other { .. } => lang.t("其他", "other"),
    }
    .to_string()
}

/// An event's particulars in a sentence (notices with an alert are linked instead).
fn event_words(lang: Lang, e: &Event) -> String {
    let villages = |v: &[i64]| match lang {
        Lang::Zh => format!("{} 个村", v.len()),
        Lang::En => format!("{} villages", v.len()),
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
            "{} → {} · {}",
            level_label(lang, Some(*from)),
            level_label(lang, Some(*to)),
            villages(v)
        ),
        (
            Event::Notice {
                title, recipients, ..
            },
            Lang::Zh,
        ) => format!("{title}（{recipients} 人）"),
        (
            Event::Notice {
                title, recipients, ..
            },
            Lang::En,
        ) => {
            format!("{title} ({recipients} recipients)")
        }
        (Event::NoticeSkipped { title, reason, .. }, Lang::Zh) => format!("{title}：{reason}"),
        (Event::NoticeSkipped { title, reason, .. }, Lang::En) => format!("{title}: {reason}"),
        (Event::AllClear { recipients }, Lang::Zh) => format!("{recipients} 人"),
        (Event::AllClear { recipients }, Lang::En) => format!("{recipients} recipients"),
        (Event::Close { note }, _) => note.clone().unwrap_or_default(),
        (Event::Other { kind }, _) => kind.clone(),
    }
}

pub async fn incident(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
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
    let mut b = format!(
        "<h1><span class=\"chip {}\">{}</span> {}{} #{}</h1><p class=\"meta\">{} {} · {} {} · {}</p>",
        level_class(Some(inc.level)),
        level_label(lang, Some(inc.level)),
        if inc.exercise != 0 {
            lang.t("【演练】", "[Exercise] ")
        } else {
            ""
        },
        E(&inc.plan_id),
        inc.id,
        ctx.t("启动于", "opened"),
        local(inc.opened_at, s.tz),
        ctx.t("启动人", "by"),
        E(&inc.opened_by),
        if open {
            ctx.t("响应中", "open")
        } else {
            ctx.t("已结束", "closed")
        },
    );
    if let Some((field, m)) = &problem {
        let _ = write!(
            b,
            "<div class=\"box error\" role=\"alert\">{}：{}</div>",
            E(field),
            E(&message(lang, m))
        );
    }
    if open && ctx.can(Role::Dispatcher) {
        let plan = s.notifier.plans.get(&inc.plan_id).await;
        let _ = write!(
            b,
            "<div class=\"panel\"><form method=\"post\" action=\"/incidents/{id}/level\" class=\"inline\">{}<label>{} <select name=\"level\">",
            csrf_field(ctx),
            ctx.t("调整为", "Change to")
        );
        for l in plan.iter().flat_map(|p| p.plan.levels.iter()) {
            let lv = i64::from(l.level);
            let _ = write!(
                b,
                "<option value=\"{lv}\"{}>{}</option>",
                if lv == inc.level { " selected" } else { "" },
                level_label(lang, Some(lv))
            );
        }
        let _ = write!(
            b,
            "</select></label> <button type=\"submit\">{}</button></form> \
            <form method=\"post\" action=\"/incidents/{id}/close\" class=\"inline\" data-confirm=\"{}\">{}<input name=\"note\" placeholder=\"{}\" aria-label=\"{}\"> <button type=\"submit\" class=\"danger primary\">{}</button></form></div>",
            ctx.t("调整级别", "Change level"),
            E(ctx.t(
                "结束响应并向已通知的人发送解除通知？",
                "Stand down and send the all-clear to everyone notified?"
            )),
            csrf_field(ctx),
            ctx.t("说明（可选）", "Note (optional)"),
            ctx.t("说明", "Note"),
            ctx.t("结束响应", "Stand down")
        );
    }
    let _ = write!(
        b,
        "<h2>{}</h2><table class=\"grid\" id=\"timeline\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("时间线", "Timeline"),
        ctx.t("时间", "Time"),
        ctx.t("事件", "Event"),
        ctx.t("级别", "Level"),
        ctx.t("通知与确认", "Notice and answers"),
        ctx.t("操作人", "By")
    );
    for e in &tl.timeline {
        let what = match (e.alert_id, &e.notice) {
            (Some(a), Some(n)) => format!(
                "<a href=\"/alerts/{a}\">{}</a> · {}/{} {}",
                E(&n.title),
                n.answered,
                n.recipients,
                lang.t("人已确认", "answered")
            ),
            _ => E(&event_words(lang, &e.event)).to_string(),
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            local(e.at_ms, s.tz),
            E(&kind_label(lang, &e.event)),
            e.level.map(|l| level_label(lang, Some(l))).unwrap_or(""),
            what,
            E(&e.actor)
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<p><a href=\"/plans/{}\">{}</a></p>",
        E(&super::html::qv(&inc.plan_id)),
        ctx.t("查看预案", "The plan")
    );
    let mut p = Page::new(format!("{} #{id}", inc.plan_id), Nav::Plans, b);
    p.status = status;
    Ok(p.render(ctx))
}

pub async fn change_level(
    State(s): State<AppState>,
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

pub async fn close(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    match incidents::close(&s.notifier, &user.actor(), id, f.opt("note")).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}"))),
        Err(e) => {
            let problem = incident_error(ctx.lang, e)?;
            incident_page(&s, &ctx, id, Some(problem), StatusCode::CONFLICT).await
        }
    }
}

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

pub async fn drills(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let names = crate::registry::villages::names(&s.db).await?;
    let mut b = format!("<h1>{}</h1>", ctx.t("演练", "Drills"));
    let _ = write!(
        b,
        "<table class=\"grid\" id=\"drills\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("演练", "Drill"),
        ctx.t("预案", "Plan"),
        ctx.t("安排", "Schedule"),
        ctx.t("接下来", "Next"),
        ctx.t("提前提醒", "Reminders"),
        ctx.t("参加", "Participants")
    );
    let list = crate::drills::list(&s.db).await?;
    // Drafts are listed too (marked), so a dispatcher finds what waits to be activated.
    for d in &list {
        let villages = match d.village_ids() {
            Value::String(a) if a == "all" => lang.t("全部村", "all villages").to_string(),
            Value::Array(a) if a.is_empty() => lang.t("全部村", "all villages").to_string(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_i64)
                .map(|v| names.get(&v).cloned().unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join("、"),
            _ => String::new(),
        };
        let roles: Vec<String> = d
            .role_names()
            .iter()
            .map(|r| contact_role_label(lang, r))
            .collect();
        let next: Vec<String> = d
            .next(2)
            .iter()
            .map(|t| t.replace('T', " ").chars().take(16).collect())
            .collect();
        let leads: Vec<String> = d.leads().into_iter().map(|(l, _)| l).collect();
        let draft = if d.active == 0 {
            format!(
                " <small class=\"muted\">（{}）</small>",
                ctx.t("草稿", "draft")
            )
        } else {
            String::new()
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"/drills/{}\">{}</a>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}{}{}</td></tr>",
            d.id,
            E(&d.title),
            draft,
            E(d.plan_id.as_deref().unwrap_or("")),
            E(d.cron.as_deref().unwrap_or("")),
            E(&next.join("、")),
            E(&leads.join(" ")),
            E(&villages),
            if roles.is_empty() { "" } else { " · " },
            E(&roles.join("、"))
        );
    }
    if list.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"6\" class=\"muted\">{}</td></tr>",
            ctx.t("没有演练安排。", "No drills scheduled.")
        );
    }
    b.push_str("</tbody></table>");
    Ok(Page::new(ctx.t("演练", "Drills"), Nav::Drills, b).render(&ctx))
}

pub async fn drill(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    drill_page(&s, &ctx, id, None, StatusCode::OK).await
}

/// Runs a drill now, as `POST /api/v1/drills/{id}/start` does: a drill of a
/// plan in force opens an exercise incident at Ⅳ; any other sends an exercise
/// notice with an answer deadline.
pub async fn start_drill(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
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
pub async fn activate_drill(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
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
    let next: Vec<String> = d
        .next(5)
        .iter()
        .map(|t| t.replace('T', " ").chars().take(16).collect())
        .collect();
    let mut b = format!(
        "<h1>{}</h1><dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code> {}</dd><dt>{}</dt><dd>{}</dd></dl>",
        E(&d.title),
        ctx.t("预案", "Plan"),
        E(d.plan_id.as_deref().unwrap_or("—")),
        ctx.t("安排", "Schedule"),
        E(d.cron.as_deref().unwrap_or("")),
        E(&d.timezone),
        ctx.t("接下来", "Next"),
        E(&next.join("、"))
    );
    if let Some((field, m)) = &problem {
        let _ = write!(
            b,
            "<div class=\"box error\" role=\"alert\">{}：{}</div>",
            E(field),
            E(&message(lang, m))
        );
    }
    if d.archived_at.is_some() {
        let _ = write!(
            b,
            "<div class=\"box\" id=\"drill-archived\">{}</div>",
            ctx.t("已归档。", "Archived.")
        );
    } else if d.active == 0 {
        let _ = write!(
            b,
            "<div class=\"box warn\" id=\"drill-draft\">{}</div>",
            ctx.t(
                "草稿：不发送提醒，也不能开始，须由调度员启用。",
                "Draft: it sends no reminders and cannot be started until a dispatcher activates it."
            )
        );
        if ctx.can(Role::Dispatcher) {
            let _ = write!(
                b,
                "<form method=\"post\" action=\"/drills/{id}/activate\" class=\"panel\" data-confirm=\"{}\">{}<button type=\"submit\" class=\"primary\" id=\"activate-drill\">{}</button></form>",
                E(ctx.t(
                    "启用这个演练安排？此后将按时向参加人员发送提醒。",
                    "Activate this drill schedule? Participants will get its reminders."
                )),
                csrf_field(ctx),
                ctx.t("启用", "Activate"),
            );
        }
    }
    if ctx.can(Role::Dispatcher) && d.active != 0 {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/drills/{id}/start\" class=\"panel\" data-confirm=\"{}\">{}<label>{} <input name=\"ack_within_minutes\" type=\"number\" min=\"1\" max=\"1440\" value=\"15\"></label> <button type=\"submit\" class=\"primary\" id=\"start-drill\">{}</button></form>",
            E(ctx.t(
                "现在开始演练？将向参加人员发送演练通知。",
                "Start the drill now? Participants get an exercise notice."
            )),
            csrf_field(ctx),
            ctx.t("须在几分钟内确认", "Answer within (minutes)"),
            ctx.t("现在开始演练", "Start the drill now"),
        );
    }
    let _ = write!(
        b,
        "<h2 id=\"records\">{}</h2>",
        ctx.t("演练记录与成绩", "Records and scorecard")
    );
    if ctx.can(Role::Editor) {
        let _ = write!(
            b,
            "<p><a href=\"/drills/{id}/records/new\" class=\"button\" id=\"record-drill\">{}</a></p>",
            ctx.t("记录一次已举行的演练", "Record a drill that was held")
        );
    }
    if card.records.is_empty() {
        let _ = write!(
            b,
            "<p class=\"muted\">{}</p>",
            ctx.t("尚无演练记录。", "No drill recorded yet.")
        );
    }
    for r in &card.records {
        let _ = write!(
            b,
            "<section class=\"panel\"><h3>{} · {} {}</h3>",
            E(&r.held_on),
            r.duration_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            ctx.t("分钟", "min")
        );
        if let Some(p) = &r.problems {
            let _ = write!(
                b,
                "<p><b>{}</b> {}</p>",
                ctx.t("发现问题：", "Problems found:"),
                E(p)
            );
        }
        if !r.villages.is_empty() {
            let _ = write!(
                b,
                "<table class=\"grid\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                ctx.t("村", "Village"),
                ctx.t("确认率", "Answer rate"),
                ctx.t("平均确认用时", "Mean time to answer")
            );
            for v in &r.villages {
                let rate = v.stats.answer_rate * 100.0;
                let change = v
                    .answer_rate_change
                    .map(|c| format!(" ({:+.0}%)", c * 100.0))
                    .unwrap_or_default();
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"num\">{rate:.0}%{change}</td><td class=\"num\">{}</td></tr>",
                    E(&if v.stats.village_id.is_none() {
                        lang.t("乡级", "Township level").to_string()
                    } else {
                        v.stats.village.clone()
                    }),
                    v.stats
                        .mean_seconds
                        .map(|m| super::html::span(lang, m as i64))
                        .unwrap_or_default()
                );
            }
            b.push_str("</tbody></table>");
        }
        if let Some(a) = r.alert_id {
            let _ = write!(
                b,
                "<p><a href=\"/alerts/{a}\">{}</a></p>",
                ctx.t("演练通知的叫应情况", "Answers to the drill notice")
            );
        }
        b.push_str("</section>");
    }
    let mut p = Page::new(d.title.clone(), Nav::Drills, b);
    p.status = status;
    Ok(p.render(ctx))
}

/// Shelters of every plan in force, for the map.
pub async fn shelters(s: &AppState) -> Vec<Value> {
    let mut out = Vec::new();
    for p in s.notifier.plans.all().await {
        for sh in &p.plan.shelters {
            out.push(json!({
                "name": sh.name, "village": sh.village, "capacity": sh.capacity,
                "lon": sh.location.lon, "lat": sh.location.lat, "plan": p.plan.title,
                "address": sh.address,
            }));
        }
    }
    out
}

//! Observations (观测): the office types in a reading it was phoned
//! (rainfall at a village's gauge, a warning signal, the forest-fire danger
//! rating, a fire's size); every plan in force evaluates it as through the
//! API, and the activations it suggests are listed here for a person to
//! confirm on the plan's page.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::html::{E, Errors, Fields, FormData, Nav, Page, csrf_field, error_summary};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::IncidentError;
use crate::incidents::observations::{self, ObservationInput};
use crate::registry::villages;

const KINDS: [(&str, &str, &str); 6] = [
    ("rainfall", "降雨量", "Rainfall"),
    (
        "rainstorm_signal",
        "暴雨预警信号",
        "Rainstorm warning signal",
    ),
    ("typhoon_signal", "台风预警信号", "Typhoon warning signal"),
    ("fire_danger", "森林火险等级", "Forest-fire danger rating"),
    ("burned_area", "过火面积", "Burned area"),
    ("out_of_control", "火情失控时长", "Hours out of control"),
];

fn kind_label(lang: Lang, kind: &str) -> String {
    KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map_or_else(|| kind.to_string(), |k| lang.t(k.1, k.2).to_string())
}

fn field_label(lang: Lang, field: &str) -> String {
    match field {
        "kind" => lang.t("观测类型", "Kind"),
        "village" => lang.t("村（雨量站）", "Village (gauge)"),
        "window_hours" => lang.t("时段", "Window"),
        "mm" => lang.t("雨量（毫米）", "Rainfall (mm)"),
        "colour" => lang.t("信号颜色", "Signal colour"),
        "rating" => lang.t("火险等级", "Danger rating"),
        "hectares" => lang.t("过火面积（公顷）", "Burned area (ha)"),
        "hours" => lang.t("失控时长（小时）", "Hours out of control"),
        other => other,
    }
    .to_string()
}

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let v = FormData::default();
    render(&s, &ctx, &v, &Errors::default(), None, StatusCode::OK).await
}

pub async fn record(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let mut errors = Errors::default();
    let input = ObservationInput {
        kind: f.get("kind").to_string(),
        window_hours: f.get("window_hours").parse().ok(),
        mm: f.decimal("mm", &mut errors),
        village: f.opt("village").filter(|v| !v.is_empty()).map(Value::from),
        colour: f.opt("colour").filter(|c| !c.is_empty()),
        rating: f.get("rating").parse().ok(),
        hectares: f.decimal("hectares", &mut errors),
        hours: f.decimal("hours", &mut errors),
    };
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&s, &ctx, &f, &errors, None, status).await;
    }
    match observations::record(&s.notifier, &user.actor(), &input).await {
        Ok(results) => render(&s, &ctx, &f, &errors, Some(results), StatusCode::OK).await,
        Err(IncidentError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&s, &ctx, &f, &errors, None, status).await
        }
        Err(IncidentError::Conflict(m)) => {
            errors.add("kind", m);
            render(&s, &ctx, &f, &errors, None, StatusCode::CONFLICT).await
        }
        Err(IncidentError::NotFound) => Err(WebError::NotFound),
        Err(IncidentError::Store(e)) => Err(e.into()),
    }
}

/// What each plan did with a reading, one line each.
fn outcome_lines(ctx: &Ctx, results: &Value) -> String {
    let items = results["results"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return format!(
            "<p class=\"muted\">{}</p>",
            ctx.t(
                "已记录。没有预案因这条读数而需要启动。",
                "Recorded. No plan calls for a response on this reading."
            )
        );
    }
    let mut h = String::from("<ul id=\"observation-results\">");
    for r in &items {
        let plan = r["plan"].as_str().unwrap_or("");
        let what = match r["action"].as_str().unwrap_or("") {
            "suggested" => ctx.t(
                "建议启动，请到预案页确认",
                "suggested: confirm on the plan's page",
            ),
            "opened" => ctx.t("已自动启动", "opened automatically"),
            "raised" => ctx.t("已自动提级", "raised automatically"),
            "extended" => ctx.t("已扩大到该村", "extended to the village"),
            _ => ctx.t(
                "已在该级别响应，未重复发送",
                "already at this level: nothing resent",
            ),
        };
        let link = match r["incident_id"].as_i64() {
            Some(id) => format!("/incidents/{id}"),
            None => format!("/plans/{}", super::html::qv(plan)),
        };
        let _ = write!(
            h,
            "<li><a href=\"{}\">{}</a> · {} · {}</li>",
            E(&link),
            E(r["plan_title"].as_str().unwrap_or(plan)),
            E(r["level_label"].as_str().unwrap_or("")),
            E(what)
        );
    }
    h.push_str("</ul>");
    h
}

async fn render(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    results: Option<Value>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let mut b = format!("<h1>{}</h1>", ctx.t("观测数据", "Observations"));
    if let Some(r) = &results {
        let _ = write!(
            b,
            "<div class=\"box ok\" role=\"status\"><b>{}</b>{}</div>",
            ctx.t("已记录。", "Recorded."),
            outcome_lines(ctx, r)
        );
    }
    if ctx.can(Role::Dispatcher) {
        b.push_str(&error_summary(lang, errors, |f| field_label(lang, f)));
        let fl = Fields { lang, v, errors };
        let kinds: Vec<(String, String)> = KINDS
            .iter()
            .map(|k| (k.0.to_string(), lang.t(k.1, k.2).to_string()))
            .collect();
        let mut vs = vec![(
            String::new(),
            ctx.t("（全乡）", "(whole township)").to_string(),
        )];
        for vr in villages::list(&s.db, false).await? {
            vs.push((vr.code.clone(), format!("{} · {}", vr.code, vr.name)));
        }
        let windows: Vec<(String, String)> = crate::plans::RAINFALL_WINDOWS
            .iter()
            .map(|w| (w.to_string(), format!("{w} {}", ctx.t("小时", "h"))))
            .collect();
        let colours: Vec<(String, String)> = [
            ("", "—", "—"),
            ("blue", "蓝色", "blue"),
            ("yellow", "黄色", "yellow"),
            ("orange", "橙色", "orange"),
            ("red", "红色", "red"),
        ]
        .iter()
        .map(|c| (c.0.to_string(), lang.t(c.1, c.2).to_string()))
        .collect();
        let ratings: Vec<(String, String)> = std::iter::once((String::new(), "—".to_string()))
            .chain((1..=5).map(|r| (r.to_string(), format!("{r} {}", ctx.t("级", "")))))
            .collect();
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/observations\" class=\"form wide\" id=\"observation-form\">{}\
             <p class=\"muted\">{}</p><div class=\"cols\">{}{}</div><div class=\"cols\">{}{}</div>\
             <div class=\"cols\">{}{}</div><div class=\"cols\">{}{}</div>\
             <button type=\"submit\" class=\"primary\">{}</button></form>",
            csrf_field(ctx),
            ctx.t(
                "只填与观测类型有关的项：降雨量填村、时段和雨量；预警信号填颜色；火险填等级。",
                "Fill in what the kind needs: rainfall takes village, window and mm; a signal its colour; fire danger its rating."
            ),
            fl.select("kind", ("观测类型", "Kind"), &kinds),
            fl.select("village", ("村（雨量站）", "Village (gauge)"), &vs),
            fl.select("window_hours", ("时段", "Window"), &windows),
            fl.input("mm", ("雨量（毫米）", "Rainfall (mm)"), "number", "min=\"0\" step=\"0.1\"", ("", "")),
            fl.select("colour", ("信号颜色", "Signal colour"), &colours),
            fl.select("rating", ("火险等级", "Danger rating"), &ratings),
            fl.input("hectares", ("过火面积（公顷）", "Burned area (ha)"), "number", "min=\"0\" step=\"0.01\"", ("", "")),
            fl.input("hours", ("失控时长（小时）", "Hours out of control"), "number", "min=\"0\" step=\"0.1\"", ("", "")),
            ctx.t("记录并按预案评估", "Record and evaluate against the plans"),
        );
    }
    b.push_str(&suggestions_table(s, ctx).await?);
    let mut page = Page::new(ctx.t("观测数据", "Observations"), Nav::Plans, b);
    page.status = status;
    Ok(page.render(ctx))
}

/// Activations suggested by readings of the last 24 hours.
async fn suggestions_table(s: &AppState, ctx: &Ctx) -> Result<String, WebError> {
    let lang = ctx.lang;
    let rows = observations::suggestions(&s.db, s.tz).await?;
    let mut h = format!(
        "<h2>{}</h2><table class=\"grid\" id=\"suggestions\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t(
            "24 小时内的启动建议",
            "Suggested activations, last 24 hours"
        ),
        ctx.t("时间", "Time"),
        ctx.t("读数", "Reading"),
        ctx.t("预案", "Plan"),
        ctx.t("建议级别", "Suggested level"),
    );
    for row in &rows {
        let o = &row["observation"];
        let kind = o["kind"].as_str().unwrap_or("");
        let detail: Vec<String> = [
            "village",
            "window_hours",
            "mm",
            "colour",
            "rating",
            "hectares",
            "hours",
        ]
        .iter()
        .filter_map(|k| {
            let val = &o[*k];
            (!val.is_null()).then(|| {
                format!(
                    "{} {}",
                    field_label(lang, k),
                    val.to_string().trim_matches('"')
                )
            })
        })
        .collect();
        for sug in row["suggestions"].as_array().into_iter().flatten() {
            let plan = sug["plan"].as_str().unwrap_or("");
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}：{}</td><td><a href=\"/plans/{}\">{}</a></td><td>{}</td></tr>",
                E(row["at"].as_str().unwrap_or("")),
                E(&kind_label(lang, kind)),
                E(&detail.join("，")),
                E(&super::html::qv(plan)),
                E(sug["plan_title"].as_str().unwrap_or(plan)),
                E(sug["level_label"].as_str().unwrap_or("")),
            );
        }
    }
    if rows.is_empty() {
        let _ = write!(
            h,
            "<tr><td colspan=\"4\" class=\"muted\">{}</td></tr>",
            ctx.t("没有待确认的建议。", "No suggestions waiting.")
        );
    }
    h.push_str("</tbody></table>");
    Ok(h)
}

/// How many activations readings of the last 24 hours suggest that nobody
/// has acted on yet (no open incident of that plan at that level or more
/// severe): the overview shows it so a suggestion is not left unseen.
pub async fn pending(s: &AppState) -> Result<usize, WebError> {
    // The open incident's level, asked once per plan however many
    // readings suggested it.
    let mut open_level: std::collections::HashMap<String, Option<i64>> = Default::default();
    let mut n = 0;
    for row in observations::suggestions(&s.db, s.tz).await? {
        for sug in row["suggestions"].as_array().into_iter().flatten() {
            let plan = sug["plan"].as_str().unwrap_or("");
            let level = sug["level"].as_i64().unwrap_or(4);
            let open = match open_level.get(plan) {
                Some(l) => *l,
                None => {
                    let l = crate::incidents::open_for_plan(&s.db, plan, false)
                        .await?
                        .map(|inc| inc.level);
                    open_level.insert(plan.to_string(), l);
                    l
                }
            };
            // Acted on: an open incident at this level or more severe.
            if open.is_none_or(|l| l > level) {
                n += 1;
            }
        }
    }
    Ok(n)
}

//! Observations (观测): the office types in a reading it was phoned
//! (rainfall at a village's gauge, a warning signal, the forest-fire danger
//! rating, a fire's size); every plan in force evaluates it as through the
//! API, and the activations it suggests are listed here for a person to
//! confirm on the plan's page.

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;
use serde_json::Value;

use super::html::{Errors, Form, FormData, Nav, Shell, qv, render as render_page};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::IncidentError;
use crate::incidents::observations::{self, ObservationInput, PlanOutcome};

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

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let v = FormData::default();
    render(&s, &ctx, &v, &Errors::default(), None, StatusCode::OK).await
}

pub async fn record(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
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
        Err(IncidentError::Refused(r)) => {
            errors.add("kind", r.to_string());
            render(&s, &ctx, &f, &errors, None, StatusCode::FORBIDDEN).await
        }
        Err(IncidentError::Store(e)) => Err(e.into()),
    }
}

/// What a plan did with a reading, in words. `real` marks a real response
/// opened or raised without a person: the page shows it in red.
struct Outcome {
    href: String,
    plan: String,
    what: String,
    real: bool,
    skipped: Vec<String>,
}

/// What each plan did with a reading, one line each.
fn outcomes(ctx: &Ctx, results: &Value) -> Vec<Outcome> {
    let items: Vec<PlanOutcome> =
        serde_json::from_value(results["results"].clone()).unwrap_or_default();
    items
        .into_iter()
        .map(|r| {
            let level = r.level_label.clone().unwrap_or_default();
            let warning = r.warning_title.clone().unwrap_or_default();
            let people = r.recipients;
            let what = match r.action.as_str() {
                "warned" => tr(ctx,
                    &format!("已发布{warning}，通知 {people} 人"),
                    &format!("issued {warning}: {people} people notified"),
                ),
                "warning_in_force" => tr(ctx,
                    &format!("{warning}已在生效中，未重复发送"),
                    &format!("{warning} already in force: nothing resent"),
                ),
                "warning_suggested" => tr(ctx,
                    &format!("达到{warning}条件，请人工决定是否发布"),
                    &format!("meets {warning}: a person decides whether to issue it"),
                ),
                "suggested" => tr(ctx,
                    &format!("达到{level}响应条件：建议启动，请到预案页确认（未发送任何通知）"),
                    &format!("meets {level}: suggested, confirm on the plan's page (nothing sent)"),
                ),
                "opened" => tr(ctx,
                    &format!("已自动启动实战{level}响应，已通知 {people} 人，并已告知应急办值班"),
                    &format!("a REAL {level} response was opened automatically: {people} people notified, the duty officer told"),
                ),
                "raised" => tr(ctx,
                    &format!("已自动将实战响应提升到{level}，已通知 {people} 人，并已告知应急办值班"),
                    &format!("the REAL response was raised to {level} automatically: {people} people notified, the duty officer told"),
                ),
                "extended" => tr(ctx,
                    &format!("实战响应已自动扩大到该村，已通知 {people} 人，并已告知应急办值班"),
                    &format!("the REAL response was extended to the village: {people} people notified, the duty officer told"),
                ),
                _ => tr(ctx,
                    "响应已在该级别或更高级别，未重复发送",
                    "already at this level or higher: nothing resent",
                ),
            };
            Outcome {
                href: match r.incident_id {
                    Some(id) => format!("/incidents/{id}"),
                    None => format!("/plans/{}", qv(&r.plan)),
                },
                plan: r.plan_title.clone(),
                what,
                real: r.real_response,
                skipped: r.skipped.clone(),
            }
        })
        .collect()
}

fn tr(ctx: &Ctx, zh: &str, en: &str) -> String {
    ctx.t(zh, en).to_string()
}

/// A suggested activation, one table row.
struct Suggestion {
    at: String,
    reading: String,
    plan_path: String,
    plan: String,
    level: String,
}

#[derive(Template)]
#[template(path = "observations/page.html")]
struct ObservationsPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    outcomes: Option<Vec<Outcome>>,
    /// A real response was opened or raised by this reading.
    any_real: bool,
    dispatcher: bool,
    f: Form<'a>,
    kinds: Vec<(String, String)>,
    villages: Vec<(String, String)>,
    windows: Vec<(String, String)>,
    colours: Vec<(String, String)>,
    ratings: Vec<(String, String)>,
    suggestions: Vec<Suggestion>,
    any_readings: bool,
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
    let dispatcher = ctx.can(Role::Dispatcher);
    let kinds: Vec<(String, String)> = KINDS
        .iter()
        .map(|k| (k.0.to_string(), lang.t(k.1, k.2).to_string()))
        .collect();
    let mut vs = vec![(
        String::new(),
        ctx.t("（全乡）", "(whole township)").to_string(),
    )];
    if dispatcher {
        for vr in crate::incidents::villages_seen(&s.db).await? {
            vs.push((vr.code.clone(), format!("{} · {}", vr.code, vr.name)));
        }
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
    let (suggestions, any_readings) = suggestions(s, ctx).await?;
    let outcomes_list = results.as_ref().map(|r| outcomes(ctx, r));
    Ok(render_page(
        status,
        &ObservationsPage {
            shell: Shell::new(ctx, ctx.t("观测数据", "Observations"), Nav::Observations),
            lang,
            any_real: outcomes_list.iter().flatten().any(|o| o.real),
            outcomes: outcomes_list,
            dispatcher,
            f: Form::new(lang, v, errors, field_label),
            kinds,
            villages: vs,
            windows,
            colours,
            ratings,
            suggestions,
            any_readings,
        },
    ))
}

/// Activations suggested by readings of the last 24 hours; and whether
/// there were any such readings.
async fn suggestions(s: &AppState, ctx: &Ctx) -> Result<(Vec<Suggestion>, bool), WebError> {
    let lang = ctx.lang;
    let rows = observations::suggestions(&s.db, s.tz).await?;
    let mut out = Vec::new();
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
            out.push(Suggestion {
                at: row["at"].as_str().unwrap_or("").to_string(),
                reading: format!("{}：{}", kind_label(lang, kind), detail.join("，")),
                plan_path: qv(plan),
                plan: sug["plan_title"].as_str().unwrap_or(plan).to_string(),
                level: sug["level_label"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    Ok((out, !rows.is_empty()))
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

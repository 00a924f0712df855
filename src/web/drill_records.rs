//! Recording a drill that was held (演练记录): date, participants, length,
//! problems found and follow-up. The answer rates come from the drill's
//! last run, as through the API; the drill's page then shows the record in
//! its scorecard.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::html::{E, Errors, Fields, FormData, Nav, Page, csrf_field, error_summary};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::drills::records::{self, RecordInput};
use crate::store::WriteError;

fn label(lang: Lang, field: &str) -> String {
    let field = field.split('[').next().unwrap_or(field);
    match field {
        "held_on" => lang.t("演练日期", "Held on"),
        "participants" => lang.t("参加人员", "Participants"),
        "duration_minutes" => lang.t("时长（分钟）", "Length (minutes)"),
        "problems" => lang.t("发现的问题", "Problems found"),
        "follow_up" => lang.t("整改措施", "Follow-up"),
        "site_id" => lang.t("台账企业编号", "Ledger site id"),
        other => other,
    }
    .to_string()
}

pub async fn form(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("held_on", crate::time::today(s.tz).to_string());
    render(&s, &ctx, id, &v, &Errors::default(), StatusCode::OK).await
}

pub async fn create(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let mut errors = Errors::default();
    let duration_minutes = f.whole("duration_minutes", &mut errors);
    let site_id = f.whole("site_id", &mut errors);
    // One name per line, or separated by 、 or commas, as people write lists.
    let participants: Vec<String> = f
        .get("participants")
        .split(['\n', '、', ',', '，', ';', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if !errors.is_empty() {
        return render(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let input = RecordInput {
        held_on: f.get("held_on").trim().to_string(),
        participants,
        duration_minutes,
        problems: f.opt("problems").filter(|t| !t.trim().is_empty()),
        follow_up: f.opt("follow_up").filter(|t| !t.trim().is_empty()),
        alert_id: None,
        site_id,
    };
    match records::create(&s.db, &user.actor(), id, &input, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/drills/{id}#records"))),
        Err(WriteError::Invalid(e)) => {
            // "participants[2]" belongs to the one participants box.
            let field = e.field.split('[').next().unwrap_or(&e.field).to_string();
            errors.add(&field, e.message);
            render(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Conflict(m)) => {
            errors.add("held_on", m);
            render(&s, &ctx, id, &f, &errors, StatusCode::CONFLICT).await
        }
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

async fn render(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let d = crate::drills::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let mut b = format!(
        "<h1>{}：<a href=\"/drills/{id}\">{}</a></h1><p class=\"muted\">{}</p>",
        ctx.t("记录演练", "Record a drill"),
        E(&d.title),
        ctx.t(
            "各村的确认率和确认用时取自本演练最近一次发出的演练通知。",
            "Each village's answer rate and time come from this drill's latest exercise notice."
        )
    );
    b.push_str(&error_summary(lang, errors, |f| label(lang, f)));
    let fl = Fields { lang, v, errors };
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/drills/{id}/records\" class=\"form\" id=\"drill-record-form\">{}{}{}{}{}{}{}\
         <button type=\"submit\" class=\"primary\">{}</button></form>",
        csrf_field(ctx),
        fl.input(
            "held_on",
            ("演练日期", "Held on"),
            "date",
            "required",
            ("", "")
        ),
        fl.textarea(
            "participants",
            (
                "参加人员（每行一人，或用顿号分隔）",
                "Participants (one per line, or separated by commas)"
            ),
            4
        ),
        fl.input(
            "duration_minutes",
            ("时长（分钟）", "Length (minutes)"),
            "number",
            "min=\"1\" max=\"1440\"",
            ("", "")
        ),
        fl.textarea("problems", ("发现的问题", "Problems found"), 3),
        fl.textarea("follow_up", ("整改措施", "Follow-up"), 3),
        fl.input(
            "site_id",
            (
                "台账企业编号（企业自行组织的演练）",
                "Ledger site id (a business's own drill)"
            ),
            "number",
            "min=\"1\"",
            ("", "")
        ),
        ctx.t("保存演练记录", "Save the record"),
    );
    let mut page = Page::new(ctx.t("记录演练", "Record a drill"), Nav::Drills, b);
    page.status = status;
    Ok(page.render(ctx))
}

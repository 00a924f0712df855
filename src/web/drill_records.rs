//! Recording a drill that was held (演练记录): date, participants, length,
//! problems found and follow-up. The answer rates come from the drill's
//! last run, as through the API; the drill's page then shows the record in
//! its scorecard.

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render as render_page};
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

pub async fn form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("held_on", crate::time::today(s.tz).to_string());
    render(&s, &ctx, id, &v, &Errors::default(), StatusCode::OK).await
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
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

#[derive(Template)]
#[template(path = "drill_records/form.html")]
struct RecordForm<'a> {
    shell: Shell<'a>,
    lang: Lang,
    id: i64,
    title: String,
    f: Form<'a>,
}

async fn render(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let d = crate::drills::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(render_page(
        status,
        &RecordForm {
            shell: Shell::new(ctx, ctx.t("记录演练", "Record a drill"), Nav::Drills),
            lang: ctx.lang,
            id,
            title: d.title,
            f: Form::new(ctx.lang, v, errors, label),
        },
    ))
}

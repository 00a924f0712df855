//! A finding's (隐患) steps from a site's page: rectified, then closed out
//! after re-inspection, through `ledger::inspections::advance`. A refused
//! step re-renders the site's page with the message at that finding.

use super::Scoped;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::FormData;
use super::sites::show_page;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::inspections;
use crate::store::WriteError;

/// The step a finding's form offers.
pub(super) enum Step {
    Rectify,
    Close,
    None,
}

/// A refused rectification or close-out: shown at its finding, with what
/// was typed.
pub(super) struct FindingProblem {
    pub(super) finding_id: i64,
    pub(super) values: FormData,
    pub(super) field: String,
    pub(super) message: String,
    pub(super) status: StatusCode,
}

async fn advance(s: &AppState, ctx: &Ctx, fid: i64, f: FormData, close: bool) -> WebResult {
    use crate::ledger::inspections::{CloseInput, FindingStep, RectifyInput};
    let user = ctx.need(Role::Editor)?;
    let finding = inspections::get_finding(&s.db, fid)
        .await?
        .ok_or(WebError::NotFound)?;
    let version = f.get("version").trim().parse::<i64>().unwrap_or(-1);
    let step = if close {
        FindingStep::Close(CloseInput {
            version,
            closed_on: f.get("closed_on").to_string(),
            closed_by: f.get("closed_by").to_string(),
        })
    } else {
        FindingStep::Rectify(RectifyInput {
            version,
            rectified_on: f.get("rectified_on").to_string(),
            note: f.opt("note"),
        })
    };
    let problem = match inspections::advance(&s.db, &user.actor(), fid, step, s.tz).await {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/sites/{}?saved=1#finding-{fid}",
                finding.site_id
            )));
        }
        Err(WriteError::Invalid(fe)) => (fe.field, fe.message, StatusCode::UNPROCESSABLE_ENTITY),
        Err(WriteError::Conflict(m)) => (
            ctx.t("状态", "status").to_string(),
            format!(
                "{m} {}",
                ctx.t(
                    "（页面已显示最新状态，请核对后再操作）",
                    "(the page now shows the current state)"
                )
            ),
            StatusCode::CONFLICT,
        ),
        Err(WriteError::NotFound) => return Err(WebError::NotFound),
        Err(WriteError::Store(e)) => return Err(e.into()),
    };
    let p = FindingProblem {
        finding_id: fid,
        values: f,
        field: problem.0,
        message: problem.1,
        status: problem.2,
    };
    show_page(s, ctx, finding.site_id, Some(p)).await
}

pub async fn rectify(Scoped(s): Scoped, ctx: Ctx, Path(fid): Path<i64>, f: FormData) -> WebResult {
    advance(&s, &ctx, fid, f, false).await
}

pub async fn close(Scoped(s): Scoped, ctx: Ctx, Path(fid): Path<i64>, f: FormData) -> WebResult {
    advance(&s, &ctx, fid, f, true).await
}

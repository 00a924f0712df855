//! The dashboard's Excel downloads beside each list: the 隐患整改台账, the
//! 演练台账, the 责任人名单 and an incident's 叫应 record (the contacts' and the
//! site ledger's sit with their pages). The rows and cells are the domain
//! modules', the same the API's workbooks hold.

use axum::extract::Path;

use super::{Ctx, Scoped, WebError, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::workbook::Heading;

/// The office, the signed-in person (their 姓名 if given) and now.
pub(super) fn heading(s: &AppState, ctx: &Ctx) -> Heading {
    let by = super::html::signer(ctx);
    Heading::now(&s.cfg.office_name, &by, s.tz)
}

/// A workbook as a download.
pub(super) fn download(
    bytes: Result<Vec<u8>, rust_xlsxwriter::XlsxError>,
    file: &str,
) -> WebResult {
    let bytes = bytes.map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(crate::app::xlsx_download(bytes, file))
}

/// 隐患整改台账: every finding the user may see.
pub async fn findings(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    use crate::ledger::rectifications;
    let (items, _) = rectifications::list(&s.db, &Default::default(), 1_000_000, 0, s.tz).await?;
    download(
        rectifications::workbook(&heading(&s, &ctx), &items),
        "findings.xlsx",
    )
}

/// 演练台账: every drill held.
pub async fn drill_records(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    use crate::drills::ledger;
    let items = ledger::list(&s.db, &s.notifier.plans, s.tz).await?;
    download(
        ledger::workbook(&heading(&s, &ctx), &items),
        "drill-records.xlsx",
    )
}

/// 责任人名单.
pub async fn responsible_persons(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    use crate::registry::responsible;
    let items = responsible::list(&s.db, s.tz).await?;
    download(
        responsible::workbook(&heading(&s, &ctx), &items),
        "responsible-persons.xlsx",
    )
}

/// An incident's 叫应 record.
pub async fn incident_calls(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    use crate::incidents::calls;
    let items = calls::list(&s.db, id, s.tz)
        .await?
        .ok_or(WebError::NotFound)?;
    download(
        calls::workbook(&heading(&s, &ctx), id, &items),
        &format!("calls-{id}.xlsx"),
    )
}

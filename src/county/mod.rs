//! The county's view across townships: per township, its open incidents,
//! its notices of the last seven days with how many were answered, and its
//! overdue worklist items (the worklist's own definitions,
//! [`crate::ledger::worklist::Due`]).
//!
//! The figures are counted for every township at once and kept
//! ([`kept`]): the county sees every township, a township office its own
//! line.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Db, Result};

pub mod kept;

pub use kept::{Kept, NOTICE_DAYS};

/// One township's line.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct TownshipLine {
    pub id: i64,
    /// The 12-digit division code (统计用区划代码).
    pub code: String,
    pub name: String,
    /// `township`, or `county` for the county bureau's own row.
    pub kind: String,
    /// Incidents (activations) not closed.
    pub open_incidents: i64,
    /// Notices sent in the last seven days.
    pub notices: i64,
    /// Their recipients, and how many of them answered (叫应).
    pub recipients: i64,
    pub answered: i64,
    /// answered / recipients (0–1); none without recipients.
    pub answer_rate: Option<f64>,
    /// Active sites not inspected for six months.
    pub overdue_inspections: i64,
    /// Licences expired or expiring within 30 days.
    pub licences_due: i64,
    /// Findings (隐患) open past their deadline.
    pub overdue_findings: i64,
    /// The three above together.
    pub overdue_total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountyOverview {
    pub today: String,
    /// Notices are counted from this day on (seven days back).
    pub notices_since: String,
    /// When the figures were counted (they are kept for a few seconds, and
    /// counted again at once after a change to the ledger or an incident).
    pub counted_at: String,
    /// One line per township the asker sees, the county bureau first.
    pub townships: Vec<TownshipLine>,
    /// Every line added up.
    pub totals: TownshipLine,
}

/// The overview of every township `db`'s scope covers, from the kept
/// figures ([`kept`]).
pub async fn overview(db: &Db, kept: &Kept, tz: chrono_tz::Tz) -> Result<CountyOverview> {
    let figures = kept.figures(db, tz).await?;
    let mut tx = db.read().await?;
    let towns: Vec<(i64, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, code, name, kind FROM townships t WHERE {} \
         ORDER BY CASE WHEN kind = 'county' THEN 0 ELSE 1 END, code, id",
        db.township_filter("t.id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut sum = kept::Figures::default();
    let townships: Vec<TownshipLine> = towns
        .into_iter()
        .map(|(id, code, name, kind)| {
            let f = figures.of(id);
            sum.add(&f);
            line(id, code, name, kind, &f)
        })
        .collect();
    let totals = line(0, String::new(), String::new(), "total".into(), &sum);
    Ok(CountyOverview {
        today: crate::time::today(tz).to_string(),
        notices_since: figures.notices_since.to_string(),
        counted_at: crate::time::fmt_ms(figures.at, tz),
        townships,
        totals,
    })
}

/// One township's line (or the totals') from its figures.
fn line(id: i64, code: String, name: String, kind: String, f: &kept::Figures) -> TownshipLine {
    TownshipLine {
        id,
        code,
        name,
        kind,
        open_incidents: f.open_incidents,
        notices: f.notices,
        recipients: f.recipients,
        answered: f.answered,
        answer_rate: rate(f.answered, f.recipients),
        overdue_inspections: f.uninspected,
        licences_due: f.licences_due,
        overdue_findings: f.overdue_findings,
        overdue_total: f.uninspected + f.licences_due + f.overdue_findings,
    }
}

fn rate(answered: i64, recipients: i64) -> Option<f64> {
    (recipients > 0).then(|| answered as f64 / recipients as f64)
}

/// Every township's name by id, for the township column of county lists.
pub async fn township_names(db: &Db) -> Result<HashMap<i64, String>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM townships t WHERE {}",
        db.township_filter("t.id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

/// Whether the handle sees more than one township (the county, or an office
/// given several): its lists then name each row's township.
pub fn sees_several(db: &Db) -> bool {
    match db.scope() {
        None | Some(crate::store::Scope::County) => true,
        Some(crate::store::Scope::Townships(ids)) => ids.len() > 1,
        Some(crate::store::Scope::Village { .. }) => false,
    }
}

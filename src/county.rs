//! The county's view across townships: per township, its open incidents,
//! its notices of the last seven days with how many were answered, and its
//! overdue worklist items (the worklist's own definitions,
//! [`crate::ledger::worklist::Due`]).
//!
//! Every figure is an aggregate query grouped by township (a county has
//! tens of thousands of sites; nothing is counted row by row here), run in
//! one read transaction of the asker's scope: the county sees every
//! township, a township office its own line.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::ledger::worklist::Due;
use crate::store::{Db, Result, Sql, Tx};

/// The notices counted are those of the last this many days.
pub const NOTICE_DAYS: i64 = 7;

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
    /// One line per township the asker sees, the county bureau first.
    pub townships: Vec<TownshipLine>,
    /// Every line added up.
    pub totals: TownshipLine,
}

/// `(township, count)` rows of `sql` into a map.
async fn counts(tx: &mut Tx, sql: &Sql) -> Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sql.query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().collect())
}

pub async fn overview(db: &Db, tz: chrono_tz::Tz) -> Result<CountyOverview> {
    let today = crate::time::today(tz);
    let due = Due::on(today, tz);
    let since_day = today - chrono::Duration::days(NOTICE_DAYS - 1);
    let since_ms = since_day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| chrono::TimeZone::from_local_datetime(&tz, &t).earliest())
        .map_or(0, |t| t.timestamp_millis());
    let mut tx = db.read().await?;

    let towns: Vec<(i64, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, code, name, kind FROM townships t WHERE {} \
         ORDER BY CASE WHEN kind = 'county' THEN 0 ELSE 1 END, code, id",
        db.township_filter("t.id")
    )))
    .fetch_all(&mut *tx)
    .await?;

    let scope = db.township_filter("x.township_id");
    let incidents = counts(
        &mut tx,
        &Sql::new(&format!(
            "SELECT x.township_id, COUNT(*) FROM incidents x \
             WHERE x.status NOT IN ('closed', 'rejected') AND {scope} GROUP BY x.township_id"
        )),
    )
    .await?;

    // Drafts waiting for sign-off and refused ones reached nobody.
    let mut q = Sql::new(&format!(
        "SELECT x.township_id, COUNT(DISTINCT x.id), COUNT(r.id), COUNT(r.answered_at) \
         FROM alerts x LEFT JOIN alert_recipients r ON r.alert_id = x.id \
         WHERE x.status NOT IN ('pending', 'rejected') AND {scope} AND x.created_at >= "
    ));
    q.bind(since_ms).push(" GROUP BY x.township_id");
    let notices: Vec<(i64, i64, i64, i64)> = q.query_as().fetch_all(&mut *tx).await?;
    let notices: HashMap<i64, (i64, i64, i64)> = notices
        .into_iter()
        .map(|(t, n, r, a)| (t, (n, r, a)))
        .collect();

    let sites = format!(
        "{} AND {}",
        db.township_filter("s.township_id"),
        db.village_filter("s.village_id")
    );
    let mut q = Sql::new(&format!(
        "SELECT s.township_id, COUNT(*) FROM sites s WHERE {sites}"
    ));
    due.uninspected(&mut q);
    q.push(" GROUP BY s.township_id");
    let uninspected = counts(&mut tx, &q).await?;

    let mut q = Sql::new(&format!(
        "SELECT s.township_id, COUNT(*) FROM sites s WHERE {sites}"
    ));
    due.licence(&mut q);
    q.push(" GROUP BY s.township_id");
    let licences = counts(&mut tx, &q).await?;

    let mut q = Sql::new(&format!(
        "SELECT s.township_id, COUNT(*) FROM findings f JOIN sites s ON s.id = f.site_id WHERE {sites}"
    ));
    due.finding(&mut q);
    q.push(" GROUP BY s.township_id");
    let findings = counts(&mut tx, &q).await?;
    tx.commit().await?;

    let get = |m: &HashMap<i64, i64>, id: i64| m.get(&id).copied().unwrap_or(0);
    let mut totals = TownshipLine {
        kind: "total".into(),
        ..TownshipLine::default()
    };
    let townships: Vec<TownshipLine> = towns
        .into_iter()
        .map(|(id, code, name, kind)| {
            let (n, r, a) = notices.get(&id).copied().unwrap_or((0, 0, 0));
            let line = TownshipLine {
                id,
                code,
                name,
                kind,
                open_incidents: get(&incidents, id),
                notices: n,
                recipients: r,
                answered: a,
                answer_rate: rate(a, r),
                overdue_inspections: get(&uninspected, id),
                licences_due: get(&licences, id),
                overdue_findings: get(&findings, id),
                overdue_total: get(&uninspected, id) + get(&licences, id) + get(&findings, id),
            };
            totals.open_incidents += line.open_incidents;
            totals.notices += line.notices;
            totals.recipients += line.recipients;
            totals.answered += line.answered;
            totals.overdue_inspections += line.overdue_inspections;
            totals.licences_due += line.licences_due;
            totals.overdue_findings += line.overdue_findings;
            totals.overdue_total += line.overdue_total;
            line
        })
        .collect();
    totals.answer_rate = rate(totals.answered, totals.recipients);
    Ok(CountyOverview {
        today: today.to_string(),
        notices_since: since_day.to_string(),
        townships,
        totals,
    })
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

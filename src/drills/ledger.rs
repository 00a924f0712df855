//! 演练台账: every drill held, with its drill, plan and answers, as the API
//! lists it and as the office keeps it in Excel (one row per record).

use rust_xlsxwriter::XlsxError;
use serde::Serialize;

use super::records::AnswerStats;
use crate::store::{Db, Result};
use crate::workbook::{Cell, Heading};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    drill_id: i64,
    title: String,
    plan_id: Option<String>,
    villages: String,
    township_id: i64,
    organiser: Option<String>,
    site_id: Option<i64>,
    site_name: Option<String>,
    held_on: String,
    participants: String,
    duration_minutes: Option<i64>,
    problems: Option<String>,
    follow_up: Option<String>,
    alert_id: Option<i64>,
    notice_at: Option<i64>,
    answer_stats: Option<String>,
    created_by: String,
}

/// One drill held, as the 演练台账 lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LedgerRecord {
    pub id: i64,
    pub drill_id: i64,
    /// 演练名称: the drill's title.
    pub drill_title: String,
    pub plan_id: Option<String>,
    /// The plan's title while it is in force, else its id.
    pub plan: Option<String>,
    pub held_on: String,
    /// When the drill's exercise notice went out (RFC 3339, local).
    pub notice_at: Option<String>,
    /// 组织单位: the site for a business's own drill, else the township.
    pub organiser: String,
    pub site_id: Option<i64>,
    /// The drill's exercise notice.
    pub alert_id: Option<i64>,
    pub participants: Vec<String>,
    pub participant_count: i64,
    pub duration_minutes: Option<i64>,
    /// Recipients of the exercise notice who answered, of all (0–1).
    pub answer_rate: Option<f64>,
    /// Their mean time to answer, in minutes (one decimal).
    pub mean_answer_minutes: Option<f64>,
    pub problems: Option<String>,
    pub follow_up: Option<String>,
    pub recorded_by: String,
}

/// Whether a drill aimed at `villages` ("all" or ids) concerns `village`.
fn reaches(villages: &str, village: i64) -> bool {
    match serde_json::from_str::<serde_json::Value>(villages) {
        Ok(serde_json::Value::Array(ids)) => ids.iter().any(|v| v.as_i64() == Some(village)),
        _ => true,
    }
}

/// Every drill held that the handle's scope covers, oldest first (a
/// village scope: the drills aimed at its village or at every village).
pub async fn list(
    db: &Db,
    plans: &crate::planbook::PlanBook,
    tz: chrono_tz::Tz,
) -> Result<Vec<LedgerRecord>> {
    let mut tx = db.read().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.drill_id, d.title, d.plan_id, d.villages, r.township_id, t.name AS organiser, r.site_id, \
         s.name AS site_name, r.held_on, r.participants, r.duration_minutes, r.problems, r.follow_up, r.alert_id, \
         a.created_at AS notice_at, r.answer_stats, r.created_by \
         FROM drill_records r JOIN drills d ON d.id = r.drill_id LEFT JOIN sites s ON s.id = r.site_id \
         LEFT JOIN townships t ON t.id = r.township_id LEFT JOIN alerts a ON a.id = r.alert_id \
         WHERE r.held_on <> '' AND {} ORDER BY r.held_on, r.id",
        db.township_filter("r.township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let village = db.scope().and_then(crate::store::Scope::village);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if village.is_some_and(|v| !reaches(&r.villages, v)) {
            continue;
        }
        let plan = match &r.plan_id {
            Some(id) => Some(
                plans
                    .get_of(crate::plans::PlanOwner::Township(r.township_id), id)
                    .await
                    .map_or_else(|| id.clone(), |p| p.plan.title.clone()),
            ),
            None => None,
        };
        out.push(view(r, plan, tz));
    }
    Ok(out)
}

fn view(r: Row, plan: Option<String>, tz: chrono_tz::Tz) -> LedgerRecord {
    let stats: Option<AnswerStats> = r
        .answer_stats
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let (recipients, answered, seconds) =
        stats
            .iter()
            .flat_map(|s| &s.villages)
            .fold((0, 0, 0.0), |(n, a, secs), v| {
                (
                    n + v.recipients,
                    a + v.answered,
                    secs + v.mean_seconds.unwrap_or(0.0) * v.answered as f64,
                )
            });
    let participants: Vec<String> = serde_json::from_str(&r.participants).unwrap_or_default();
    LedgerRecord {
        id: r.id,
        drill_id: r.drill_id,
        drill_title: r.title,
        plan_id: r.plan_id,
        plan,
        held_on: r.held_on,
        notice_at: crate::time::fmt_opt(r.notice_at, tz),
        organiser: r.site_name.or(r.organiser).unwrap_or_default(),
        site_id: r.site_id,
        alert_id: r.alert_id,
        participant_count: participants.len() as i64,
        participants,
        duration_minutes: r.duration_minutes,
        answer_rate: (recipients > 0).then(|| answered as f64 / recipients as f64),
        mean_answer_minutes: (answered > 0)
            .then(|| crate::workbook::minutes((seconds / answered as f64 * 1000.0) as i64)),
        problems: r.problems,
        follow_up: r.follow_up,
        recorded_by: r.created_by,
    }
}

pub const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("演练名称", 24.0),
    ("预案", 20.0),
    ("演练日期", 12.0),
    ("通知发出时间", 17.0),
    ("组织单位", 18.0),
    ("参加人员", 24.0),
    ("参加人数", 8.0),
    ("时长(分钟)", 9.0),
    ("叫应率(%)", 9.0),
    ("平均叫应用时(分钟)", 11.0),
    ("发现问题", 30.0),
    ("整改措施", 30.0),
    ("记录人", 10.0),
];

/// One record's row, in the columns' order.
pub fn row(i: usize, r: &LedgerRecord) -> Vec<Cell> {
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&r.drill_title),
        Cell::opt(&r.plan),
        Cell::date(&Some(r.held_on.clone())),
        Cell::local(&r.notice_at),
        Cell::text(&r.organiser),
        Cell::text(r.participants.join("、")),
        Cell::num(r.participant_count as f64),
        Cell::opt_num(r.duration_minutes.map(|m| m as f64)),
        Cell::opt_num(r.answer_rate.map(|x| (x * 1000.0).round() / 10.0)),
        Cell::opt_num(r.mean_answer_minutes),
        Cell::opt(&r.problems),
        Cell::opt(&r.follow_up),
        Cell::text(&r.recorded_by),
    ]
}

pub fn workbook(h: &Heading, records: &[LedgerRecord]) -> Result<Vec<u8>, XlsxError> {
    let rows = records.iter().enumerate().map(|(i, r)| row(i, r)).collect();
    h.workbook("演练台账", "次", COLUMNS, rows, 2)
}

//! Drill records and scorecards. A drill run as an exercise notice fills in,
//! per village, the answer rate and the time to answer; the scorecard
//! compares each record with the one before.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldError, date, optional_text, required_text};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    pub held_on: String,
    pub participants: Vec<String>,
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    #[serde(default)]
    pub problems: Option<String>,
    #[serde(default)]
    pub follow_up: Option<String>,
    /// The exercise notice of this drill; defaults to the drill's latest run.
    #[serde(default)]
    pub alert_id: Option<i64>,
    #[serde(default)]
    pub site_id: Option<i64>,
}

fn fe(field: &str, message: impl Into<String>) -> WriteError {
    WriteError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// How one village answered a drill's exercise notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VillageStats {
    /// None: the township's own contacts.
    pub village_id: Option<i64>,
    pub village: String,
    pub recipients: i64,
    pub answered: i64,
    pub answer_rate: f64,
    pub mean_seconds: Option<f64>,
    pub median_seconds: Option<i64>,
}

/// The answers to a drill's exercise notice, per village (kept with the record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnswerStats {
    pub alert_id: i64,
    pub villages: Vec<VillageStats>,
}

/// Per village: recipients, answered, answer rate, mean and median seconds to answer.
pub async fn answer_stats(db: &Db, alert_id: i64) -> Result<AnswerStats> {
    let rows: Vec<(Option<i64>, i64, Option<i64>)> =
        sqlx::query_as("SELECT village_id, notified_at, answered_at FROM alert_recipients WHERE alert_id = $1 AND reason = 'target'")
            .bind(alert_id)
            .fetch_all(&db.pool)
            .await?;
    let names = crate::registry::villages::names(db).await?;
    let mut by: BTreeMap<Option<i64>, (i64, Vec<i64>)> = BTreeMap::new();
    for (v, notified, answered) in rows {
        let e = by.entry(v).or_default();
        e.0 += 1;
        if let Some(a) = answered {
            e.1.push((a - notified) / 1000);
        }
    }
    let villages = by
        .into_iter()
        .map(|(v, (n, mut secs))| {
            secs.sort_unstable();
            let answered = secs.len() as i64;
            VillageStats {
                village_id: v,
                village: v.map_or_else(
                    || crate::notify::response::status::TOWNSHIP_LEVEL.to_string(),
                    |id| names.get(&id).cloned().unwrap_or_default(),
                ),
                recipients: n,
                answered,
                answer_rate: if n == 0 {
                    0.0
                } else {
                    answered as f64 / n as f64
                },
                mean_seconds: (!secs.is_empty())
                    .then(|| secs.iter().sum::<i64>() as f64 / secs.len() as f64),
                median_seconds: secs.get(secs.len() / 2).copied(),
            }
        })
        .collect();
    Ok(AnswerStats { alert_id, villages })
}

/// A drill as it was held.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DrillRecord {
    pub id: i64,
    pub drill_id: i64,
    pub site_id: Option<i64>,
    pub held_on: String,
    pub participants: Vec<String>,
    pub duration_minutes: Option<i64>,
    pub problems: Option<String>,
    pub follow_up: Option<String>,
    pub alert_id: Option<i64>,
    pub answer_stats: Option<AnswerStats>,
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    drill_id: i64,
    i: &RecordInput,
    tz: chrono_tz::Tz,
) -> Result<DrillRecord, WriteError> {
    let held = date("held_on", &i.held_on)?;
    if held > crate::time::today(tz) {
        return Err(fe("held_on", "cannot be in the future"));
    }
    if i.participants.is_empty() {
        return Err(fe("participants", "name at least one participant"));
    }
    for (k, p) in i.participants.iter().enumerate() {
        required_text(&format!("participants[{k}]"), p, 64)?;
    }
    if let Some(m) = i.duration_minutes
        && !(1..=24 * 60).contains(&m)
    {
        return Err(fe("duration_minutes", "must be between 1 and 1440"));
    }
    let problems = optional_text("problems", &i.problems, 4000)?;
    let follow_up = optional_text("follow_up", &i.follow_up, 4000)?;
    let drill = super::get(db, drill_id)
        .await?
        .ok_or(WriteError::NotFound)?;
    let alert_id = match i.alert_id {
        Some(a) => {
            let notice = crate::notify::response::status::get(db, a).await?;
            let exercise = notice.filter(|n| n.exercise != 0);
            Some(
                exercise
                    .ok_or_else(|| fe("alert_id", format!("no exercise notice {a}")))?
                    .id,
            )
        }
        None => {
            let latest: Option<(i64,)> = sqlx::query_as(
                "SELECT alert_id FROM drill_records WHERE drill_id = $1 AND held_on = '' AND alert_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            )
            .bind(drill_id)
            .fetch_optional(&db.pool)
            .await?;
            latest.map(|r| r.0)
        }
    };
    let site_id = i.site_id.or(drill.site_id);
    let stats = match alert_id {
        Some(a) => Some(answer_stats(db, a).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    // A started run leaves a placeholder (held_on ''); the record completes it.
    sqlx::query("DELETE FROM drill_records WHERE drill_id = $1 AND held_on = ''")
        .bind(drill_id)
        .execute(&mut *tx)
        .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO drill_records (drill_id, site_id, held_on, participants, duration_minutes, problems, follow_up, alert_id, answer_stats, created_by, created_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(drill_id)
    .bind(site_id)
    .bind(held.to_string())
    .bind(json!(i.participants).to_string())
    .bind(i.duration_minutes)
    .bind(problems.clone())
    .bind(follow_up.clone())
    .bind(alert_id)
    .bind(stats.as_ref().map(|s| json!(s).to_string()))
    .bind(&actor.name)
    .bind(now_ms())
    // A record is its drill's township's.
    .bind(drill.township_id)
    .fetch_one(&mut *tx)
    .await?;
    let out = DrillRecord {
        id,
        drill_id,
        site_id,
        held_on: held.to_string(),
        participants: i.participants.clone(),
        duration_minutes: i.duration_minutes,
        problems,
        follow_up,
        alert_id,
        answer_stats: stats,
    };
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "drill_record",
        Some(id),
        None,
        Some(&json!(out)),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Records a started run (its exercise notice) so the record can find it.
pub async fn note_run(db: &Db, drill_id: i64, alert_id: i64, actor: &str) -> Result<()> {
    // The placeholder is its drill's township's.
    sqlx::query(
        "INSERT INTO drill_records (drill_id, held_on, participants, alert_id, created_by, created_at, township_id) \
         VALUES ($1, '', '[]', $2, $3, $4, COALESCE((SELECT township_id FROM drills WHERE id = $1), 1))",
    )
    .bind(drill_id)
    .bind(alert_id)
    .bind(actor)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

type RecordRow = (
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// A village's answers in one record, with the change since the record before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VillageScore {
    #[serde(flatten)]
    pub stats: VillageStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_rate_change: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_seconds_change: Option<f64>,
}

/// One record on the scorecard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScoredRecord {
    pub record_id: i64,
    pub held_on: String,
    pub participants: Vec<String>,
    pub duration_minutes: Option<i64>,
    pub problems: Option<String>,
    pub follow_up: Option<String>,
    pub alert_id: Option<i64>,
    /// The ledger site, for a business's own drill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_id: Option<i64>,
    pub villages: Vec<VillageScore>,
}

/// Every record of a drill, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Scorecard {
    pub drill_id: i64,
    pub records: Vec<ScoredRecord>,
}

/// Every record of a drill, oldest first, each compared with the previous.
pub async fn scorecard(db: &Db, drill_id: i64) -> Result<Scorecard> {
    let mut tx = db.read().await?;
    let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, held_on, participants, duration_minutes, problems, follow_up, alert_id, answer_stats, site_id FROM drill_records \
         WHERE drill_id = $1 AND held_on <> '' AND {} ORDER BY held_on, id",
        db.township_filter("township_id")
    )))
    .bind(drill_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut records = Vec::new();
    // The previous record's (answer rate, mean seconds) per village name.
    let mut prev: Option<BTreeMap<String, (f64, Option<f64>)>> = None;
    for (id, held_on, participants, duration, problems, follow_up, alert_id, stats, site_id) in rows
    {
        let stats: Option<AnswerStats> = stats.and_then(|s| serde_json::from_str(&s).ok());
        let mut villages = Vec::new();
        let mut now_map = BTreeMap::new();
        for v in stats.map(|s| s.villages).unwrap_or_default() {
            let before = prev.as_ref().and_then(|p| p.get(&v.village));
            now_map.insert(v.village.clone(), (v.answer_rate, v.mean_seconds));
            villages.push(VillageScore {
                answer_rate_change: before.map(|(rate, _)| v.answer_rate - rate),
                mean_seconds_change: before
                    .and_then(|(_, mean)| v.mean_seconds.zip(*mean).map(|(a, b)| a - b)),
                stats: v,
            });
        }
        if !now_map.is_empty() {
            prev = Some(now_map);
        }
        records.push(ScoredRecord {
            record_id: id,
            held_on,
            participants: serde_json::from_str(&participants).unwrap_or_default(),
            duration_minutes: duration,
            problems,
            follow_up,
            alert_id,
            site_id,
            villages,
        });
    }
    Ok(Scorecard { drill_id, records })
}

//! What the office reads of an activation: its summary, and the timeline of
//! what happened (levels, notices with their answers, the plan version), as
//! typed views that the API serialises and the dashboard renders in words.

use serde::{Deserialize, Serialize};

use super::IncidentRow;
use crate::notify::response::status::{self, DeliveryStates, VillageBoard};
use crate::store::{Db, Sql, StoreError};

/// One activation as lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentSummary {
    pub id: i64,
    pub plan: String,
    pub plan_version: String,
    pub level: i64,
    pub level_label: &'static str,
    pub exercise: bool,
    pub villages: Vec<i64>,
    pub note: Option<String>,
    pub status: String,
    pub opened_by: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub version: i64,
    /// A level asked for that awaits a leader's confirmation (two-person rule), and who asked.
    pub pending_level: Option<i64>,
    pub pending_by: Option<String>,
}

pub fn summary(i: &IncidentRow, tz: chrono_tz::Tz) -> IncidentSummary {
    IncidentSummary {
        id: i.id,
        plan: i.plan_id.clone(),
        plan_version: i.plan_hash.clone(),
        level: i.level,
        level_label: crate::notify::intake::template::level_zh(Some(i.level)),
        exercise: i.exercise != 0,
        villages: i.village_ids(),
        note: i.note.clone(),
        status: i.status.clone(),
        opened_by: i.opened_by.clone(),
        opened_at: crate::time::fmt_ms(i.opened_at, tz),
        closed_at: crate::time::fmt_opt(i.closed_at, tz),
        version: i.version,
        pending_level: i.pending_level,
        pending_by: i.pending_by.clone(),
    }
}

/// What happened in an activation. Stored as `kind` and a JSON `detail`,
/// and serialised the same way (`{"kind": "level", "detail": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Event {
    /// The plan was activated for these villages.
    Open {
        villages: Vec<i64>,
        plan_hash: String,
    },
    /// The response level changed (villages may have been added).
    Level {
        from: i64,
        to: i64,
        villages: Vec<i64>,
    },
    /// A plan rule's notice went out.
    Notice {
        title: String,
        recipients: i64,
        #[serde(default)]
        roles: Vec<String>,
    },
    /// A plan rule's notice reached nobody (no one holds its roles there).
    NoticeSkipped {
        title: String,
        reason: String,
        #[serde(default)]
        roles: Vec<String>,
    },
    /// The all-clear went to everyone notified.
    AllClear { recipients: i64 },
    /// The response was stood down.
    Close { note: Option<String> },
    /// A public notice of the activation awaits a leader's sign-off (待签发).
    NoticeAwaiting {
        title: String,
        #[serde(default)]
        roles: Vec<String>,
    },
    /// A leader approved a public notice (the event's actor): it went out.
    NoticeApproved { title: String, recipients: i64 },
    /// A leader rejected a public notice: nothing was sent.
    NoticeRejected { title: String, reason: String },
    /// Opening at, or raising to, a level that needs a second person: it
    /// waits for a leader's confirmation (the event's actor asked).
    ActivationRequested { level: i64, villages: Vec<i64> },
    /// A leader confirmed the level asked for (the event's actor).
    ActivationConfirmed { level: i64, requested_by: String },
    /// A leader rejected the level asked for: nothing was sent.
    ActivationRejected {
        level: i64,
        requested_by: String,
        reason: String,
    },
    /// The activation (opening or raise) of a plan that follows a county
    /// plan was reported to the county's duty staff (the event's alert), or
    /// could not be (`reason`).
    CountyReport {
        county_plan: String,
        county_title: String,
        /// The township's name.
        township: String,
        plan_title: String,
        raised: bool,
        recipients: i64,
        #[serde(default)]
        reason: Option<String>,
    },
    /// A kind this version does not know (written by a newer one).
    Other { kind: String },
}

impl Event {
    /// The stored `kind` and `detail` columns.
    pub fn to_stored(&self) -> (String, String) {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => {
                let kind = match m.remove("kind") {
                    Some(serde_json::Value::String(k)) => k,
                    _ => String::new(),
                };
                let detail = m.remove("detail").unwrap_or(serde_json::Value::Null);
                (kind, detail.to_string())
            }
            _ => (String::new(), "null".into()),
        }
    }

    /// An event read back from its columns; an unreadable one is `Other`.
    pub fn from_stored(kind: &str, detail: Option<&str>) -> Event {
        let detail: serde_json::Value = detail
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(serde_json::Value::Null);
        serde_json::from_value(serde_json::json!({ "kind": kind, "detail": detail })).unwrap_or(
            Event::Other {
                kind: kind.to_string(),
            },
        )
    }
}

/// A notice of the activation and how it was answered so far.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NoticeOutcome {
    pub title: String,
    pub msg_type: String,
    pub recipients: i64,
    pub answered: i64,
    pub villages: Vec<VillageBoard>,
    pub delivery_states: DeliveryStates,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at: String,
    /// UTC ms, for the page to show in the office's zone.
    #[serde(skip)]
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: Event,
    pub level: Option<i64>,
    pub alert_id: Option<i64>,
    pub actor: String,
    pub notice: Option<NoticeOutcome>,
}

/// An activation with everything that happened in it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    #[serde(flatten)]
    pub incident: IncidentSummary,
    pub timeline: Vec<TimelineEntry>,
    pub plan_file: Option<String>,
    pub plan_text: Option<String>,
}

/// (at, kind, level, alert_id, actor, detail)
type EventRow = (
    i64,
    String,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
);

/// The timeline: levels, notices with their per-village answers, the plan version.
pub async fn timeline(db: &Db, i: &IncidentRow, tz: chrono_tz::Tz) -> Result<Timeline, StoreError> {
    let events: Vec<EventRow> =
        sqlx::query_as("SELECT at, kind, level, alert_id, actor, detail FROM incident_events WHERE incident_id = $1 ORDER BY id")
            .bind(i.id)
            .fetch_all(&db.pool)
            .await?;
    let mut out = Vec::new();
    for (at, kind, level, alert_id, actor, detail) in events {
        let mut notice = None;
        if let Some(a) = alert_id
            && let Some(row) = status::get(db, a).await?
        {
            let board = status::board(db, &row, tz).await?;
            notice = Some(NoticeOutcome {
                title: row.title,
                msg_type: row.msg_type,
                recipients: row.recipients,
                answered: board.answered,
                villages: board.villages,
                delivery_states: board.delivery_states,
            });
        }
        out.push(TimelineEntry {
            at: crate::time::fmt_ms(at, tz),
            at_ms: at,
            event: Event::from_stored(&kind, detail.as_deref()),
            level,
            alert_id,
            actor,
            notice,
        });
    }
    let plan_text: Option<(String, String)> = sqlx::query_as(
        "SELECT file, content FROM plan_versions WHERE plan_id = $1 AND content_hash = $2",
    )
    .bind(&i.plan_id)
    .bind(&i.plan_hash)
    .fetch_optional(&db.pool)
    .await?;
    let (plan_file, plan_text) = plan_text.unzip();
    Ok(Timeline {
        incident: summary(i, tz),
        timeline: out,
        plan_file,
        plan_text,
    })
}

/// Which activations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentFilter {
    All,
    Open,
    Closed,
}

/// Activations, newest first, with how many there are in all.
pub async fn list(
    db: &Db,
    filter: IncidentFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<IncidentRow>, i64), StoreError> {
    let mut w = Sql::new(&format!(" WHERE {}", db.township_filter("township_id")));
    match filter {
        IncidentFilter::All => {}
        IncidentFilter::Open => {
            w.push(" AND status = ").bind("open");
        }
        IncidentFilter::Closed => {
            w.push(" AND status = ").bind("closed");
        }
    }
    Ok(
        w.page_with_total(db, super::COLS, "incidents", "id DESC", limit, offset)
            .await?,
    )
}

/// The latest `limit` activations, those still open first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<IncidentRow>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM incidents WHERE {} ORDER BY status DESC, id DESC LIMIT $1",
        super::COLS,
        db.township_filter("township_id")
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_their_stored_shape() {
        let e = Event::Level {
            from: 4,
            to: 2,
            villages: vec![3, 5],
        };
        let (kind, detail) = e.to_stored();
        assert_eq!(kind, "level");
        assert_eq!(detail, r#"{"from":4,"to":2,"villages":[3,5]}"#);
        assert_eq!(Event::from_stored(&kind, Some(&detail)), e);
        let close = Event::Close { note: None };
        let (kind, detail) = close.to_stored();
        assert_eq!(
            (kind.as_str(), detail.as_str()),
            ("close", r#"{"note":null}"#)
        );
        assert_eq!(
            Event::from_stored("exploded", Some("{}")),
            Event::Other {
                kind: "exploded".into()
            }
        );
    }
}

//! What the office sees of a notice: delivery counts, and per village who
//! answered (and how fast), who has not, who was escalated to, and whose
//! deliveries failed and why.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use crate::store::{Db, StoreError};

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub level: Option<i64>,
    pub exercise: i64,
    pub public: i64,
    pub channels: String,
    pub ack_within_minutes: Option<i64>,
    pub targets: String,
    pub plan: Option<String>,
    pub msg_type: String,
    pub references_alert: Option<i64>,
    pub status: String,
    pub recipients: i64,
    pub deliveries: i64,
    pub created_by: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

pub const ALERT_COLS: &str = "id, title, body, level, exercise, public, channels, ack_within_minutes, targets, plan, msg_type, \
    references_alert, status, recipients, deliveries, created_by, created_at, closed_at";

pub async fn get(db: &Db, id: i64) -> Result<Option<AlertRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLS} FROM alerts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

/// A notice as the API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertSummary {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// 1 (Ⅰ) … 4 (Ⅳ); none for a plain notice.
    pub level: Option<i64>,
    pub level_label: &'static str,
    pub exercise: bool,
    pub public: bool,
    pub channels: Vec<crate::notify::alerts::Channel>,
    pub ack_within_minutes: Option<i64>,
    pub plan: Option<String>,
    /// Alert, Update or Cancel (CAP msgType).
    pub msg_type: String,
    /// The notice this one updates.
    pub references: Option<i64>,
    /// accepting, active or closed.
    pub status: String,
    pub recipients: i64,
    pub deliveries: i64,
    pub created_by: String,
    pub created_at: String,
    pub closed_at: Option<String>,
}

pub fn summary(a: &AlertRow, tz: chrono_tz::Tz) -> AlertSummary {
    AlertSummary {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        level: a.level,
        level_label: crate::notify::template::level_zh(a.level),
        exercise: a.exercise != 0,
        public: a.public != 0,
        channels: serde_json::from_str(&a.channels).unwrap_or_default(),
        ack_within_minutes: a.ack_within_minutes,
        plan: a.plan.clone(),
        msg_type: a.msg_type.clone(),
        references: a.references_alert,
        status: a.status.clone(),
        recipients: a.recipients,
        deliveries: a.deliveries,
        created_by: a.created_by.clone(),
        created_at: crate::time::fmt_ms(a.created_at, tz),
        closed_at: crate::time::fmt_opt(a.closed_at, tz),
    }
}

#[derive(Debug, sqlx::FromRow)]
struct RecipientRow {
    id: i64,
    contact_id: Option<i64>,
    name: String,
    village_id: Option<i64>,
    reason: String,
    escalated_from: Option<i64>,
    notified_at: i64,
    ack_due_at: Option<i64>,
    repeats: i64,
    escalated: i64,
    answered_at: Option<i64>,
    answer_via: Option<String>,
}

/// The status board of one alert.
pub async fn board(db: &Db, a: &AlertRow, tz: chrono_tz::Tz) -> Result<Value, StoreError> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(a.id)
            .fetch_all(&db.pool)
            .await?;
    let mut by_state = serde_json::Map::new();
    for s in ["queued", "sending", "sent", "failed"] {
        by_state.insert(s.into(), json!(0));
    }
    let mut total = 0;
    for (s, n) in counts {
        total += n;
        by_state.insert(s, json!(n));
    }
    by_state.insert("total".into(), json!(total));
    // Sent again after a lost outcome: the person may have it twice (可能重复).
    let (maybe_duplicate,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND maybe_duplicate = 1",
    )
    .bind(a.id)
    .fetch_one(&db.pool)
    .await?;
    by_state.insert("maybe_duplicate".into(), json!(maybe_duplicate));
    let rows: Vec<RecipientRow> = sqlx::query_as(
        "SELECT id, contact_id, name, village_id, reason, escalated_from, notified_at, ack_due_at, repeats, escalated, answered_at, \
         answer_via FROM alert_recipients WHERE alert_id = $1 ORDER BY village_id, escalation_order, id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let names = crate::notify::alerts::village_names(db).await?;
    // Why a delivery failed is shown beside the person, not only in the
    // delivery list: the office must know whom to phone instead.
    // Those still being retried (a provider down for hours) are shown too,
    // with their last error: the office may phone them meanwhile.
    let failures: Vec<(i64, i64, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT recipient_id, id, channel, purpose, last_error, state FROM deliveries WHERE alert_id = $1 \
         AND (state = 'failed' OR (state = 'queued' AND last_error IS NOT NULL)) ORDER BY id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let mut failed: HashMap<i64, Vec<Value>> = HashMap::new();
    for (recipient, id, channel, purpose, error, state) in failures {
        failed.entry(recipient).or_default().push(json!({
            "delivery_id": id,
            "channel": channel,
            "purpose": purpose,
            "error": error,
            // true: not given up, tried again later.
            "retrying": state == "queued",
        }));
    }
    // Per village: (answered, not answered, escalated to).
    type Lists = (Vec<Value>, Vec<Value>, Vec<Value>);
    let mut villages: BTreeMap<Option<i64>, Lists> = BTreeMap::new();
    let mut answered = 0;
    let now = crate::store::now_ms();
    for r in &rows {
        let entry = villages.entry(r.village_id).or_default();
        let who = json!({
            "recipient_id": r.id,
            "contact_id": r.contact_id,
            "name": r.name,
            "reason": r.reason,
            "escalated_from": r.escalated_from,
            "notified_at": crate::time::fmt_ms(r.notified_at, tz),
            "failed_deliveries": failed.remove(&r.id).unwrap_or_default(),
        });
        if let Some(at) = r.answered_at {
            answered += 1;
            let mut w = who;
            w["answered_at"] = json!(crate::time::fmt_ms(at, tz));
            w["after_seconds"] = json!((at - r.notified_at) / 1000);
            w["via"] = json!(r.answer_via);
            entry.0.push(w);
        } else {
            let mut w = who;
            w["waiting_seconds"] = json!((now - r.notified_at) / 1000);
            w["repeats"] = json!(r.repeats);
            w["escalated"] = json!(r.escalated != 0);
            w["answer_due"] = json!(crate::time::fmt_opt(r.ack_due_at, tz));
            entry.1.push(w);
        }
        if r.reason == "escalation" {
            entry.2.push(
                json!({"name": r.name, "recipient_id": r.id, "escalated_from": r.escalated_from}),
            );
        }
    }
    let villages: Vec<Value> = villages
        .into_iter()
        .map(|(vid, (ans, pending, esc))| {
            let n = ans.len() + pending.len();
            json!({
                "village_id": vid,
                "village": vid.map_or_else(|| "乡级".to_string(), |v| names.get(&v).cloned().unwrap_or_default()),
                "answered": ans,
                "not_answered": pending,
                "escalated_to": esc,
                "answer_rate": if n == 0 { 0.0 } else { (n - pending.len()) as f64 / n as f64 },
            })
        })
        .collect();
    let mut out = json!(summary(a, tz));
    out["delivery_states"] = Value::Object(by_state);
    out["answered"] = json!(answered);
    out["villages"] = json!(villages);
    Ok(out)
}

#[derive(Debug, sqlx::FromRow)]
struct DeliveryListRow {
    id: i64,
    recipient_id: i64,
    name: String,
    channel: String,
    address: String,
    purpose: String,
    state: String,
    attempts: i64,
    provider_id: Option<String>,
    last_error: Option<String>,
    sent_at: Option<i64>,
    maybe_duplicate: i64,
}

/// One delivery of a notice (one person, one channel, one purpose).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub recipient_id: i64,
    pub name: String,
    pub channel: String,
    pub address: String,
    /// notice, repeat, escalation, …
    pub purpose: String,
    /// queued, sending, sent or failed.
    pub state: String,
    pub attempts: i64,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    /// Sent again after a lost outcome: the person may have it twice.
    pub maybe_duplicate: bool,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub at: String,
    /// sent, failed, retry or unknown.
    pub outcome: String,
    pub detail: Option<String>,
}

/// Every delivery and each of its attempts.
pub async fn deliveries(
    db: &Db,
    alert_id: i64,
    tz: chrono_tz::Tz,
) -> Result<Vec<DeliveryView>, StoreError> {
    let rows: Vec<DeliveryListRow> = sqlx::query_as(
        "SELECT d.id, d.recipient_id, r.name, d.channel, d.address, d.purpose, d.state, d.attempts, d.provider_id, d.last_error, d.sent_at, d.maybe_duplicate \
         FROM deliveries d JOIN alert_recipients r ON r.id = d.recipient_id WHERE d.alert_id = $1 ORDER BY d.id",
    )
    .bind(alert_id)
    .fetch_all(&db.pool)
    .await?;
    let attempts: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT t.delivery_id, t.at, t.outcome, t.detail FROM delivery_attempts t JOIN deliveries d ON d.id = t.delivery_id \
         WHERE d.alert_id = $1 ORDER BY t.id",
    )
    .bind(alert_id)
    .fetch_all(&db.pool)
    .await?;
    let mut by_delivery: BTreeMap<i64, Vec<AttemptView>> = BTreeMap::new();
    for (d, at, outcome, detail) in attempts {
        by_delivery.entry(d).or_default().push(AttemptView {
            at: crate::time::fmt_ms(at, tz),
            outcome,
            detail,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| DeliveryView {
            attempt_log: by_delivery.remove(&r.id).unwrap_or_default(),
            id: r.id,
            recipient_id: r.recipient_id,
            name: r.name,
            channel: r.channel,
            address: r.address,
            purpose: r.purpose,
            state: r.state,
            attempts: r.attempts,
            provider_id: r.provider_id,
            last_error: r.last_error,
            sent_at: crate::time::fmt_opt(r.sent_at, tz),
            maybe_duplicate: r.maybe_duplicate != 0,
        })
        .collect())
}

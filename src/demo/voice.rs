//! A past sample notice sent by SMS and phone call (叫应 by voice), so the demo's board shows what
//! calls look like beside each person: one answered by key 1, one picked up without a key
//! (reached, not answered: escalated), one not answered. Closed, named “（示例）”, its calls
//! marked `sample`.

use crate::notify::intake::alerts::answer_token;
use crate::notify::response::answers::token_hash;
use crate::store::{Db, StoreError};

use super::DemoError;

/// What became of each of the three calls: outcome, provider status, seconds, key.
const CALLS: [(&str, &str, i64, Option<&str>); 3] = [
    ("answered", "200000", 32, Some("1")),
    ("reached", "200000", 41, None),
    ("no_answer", "200003", 0, None),
];

/// Loads the sample notice into the first village with three contacts.
pub async fn load(db: &Db, village: i64) -> Result<(), DemoError> {
    let people: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT id, name, phone, escalation_order FROM contacts WHERE village_id = $1 \
         AND archived_at IS NULL ORDER BY escalation_order, id LIMIT 3",
    )
    .bind(village)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::from)?;
    if people.len() < CALLS.len() {
        return Ok(());
    }
    let sent = crate::store::now_ms() - 2 * 86_400_000 - 3 * 3_600_000;
    let mut tx = db.begin().await?;
    let (alert,): (i64,) = sqlx::query_as(
        "INSERT INTO alerts (title, body, level, exercise, public, urgent, channels, ack_within_minutes, targets, msg_type, \
         status, recipients, deliveries, created_by, created_at, closed_at) VALUES ($1, $2, 2, 0, 0, 1, '[\"sms\",\"voice\"]', 10, \
         $3, 'Alert', 'closed', 3, 6, 'demo-loader', $4, $5) RETURNING id",
    )
    .bind("暴雨橙色预警（示例）")
    .bind("预计今晚20:00前过程降雨量达150mm，请立即组织山洪危险区群众转移（示例）。")
    .bind(serde_json::json!({"villages": [village], "request": {"villages": [village]}}).to_string())
    .bind(sent)
    .bind(sent + 6 * 3_600_000)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    for (k, ((contact, name, phone, order), (outcome, status, secs, key))) in
        people.iter().zip(CALLS).enumerate()
    {
        let answered = (outcome == "answered").then_some(sent + 95_000);
        // A link nobody holds: the hash of a token never sent.
        let unusable = token_hash(&answer_token()?);
        let (rid,): (i64,) = sqlx::query_as(
            "INSERT INTO alert_recipients (alert_id, contact_id, name, phone, village_id, escalation_order, reason, \
             answer_token, answer_token_hash, token_expires_at, notified_at, ack_due_at, repeats, escalated, answered_at, answer_via) \
             VALUES ($1, $2, $3, $4, $5, $6, 'target', $7, $8, $9, $10, NULL, $11, $11, CAST($12 AS BIGINT), $13) RETURNING id",
        )
        .bind(alert)
        .bind(contact)
        .bind(name)
        .bind(phone)
        .bind(village)
        .bind(order)
        .bind(answer_token()?)
        .bind(unusable)
        .bind(sent + 72 * 3_600_000)
        .bind(sent)
        .bind(i64::from(answered.is_none()))
        .bind(answered)
        .bind(answered.map(|_| "voice"))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        for channel in ["sms", "voice"] {
            let (delivery,): (i64,) = sqlx::query_as(
                "INSERT INTO deliveries (alert_id, recipient_id, channel, address, purpose, state, attempts, due_at, \
                 provider_id, sent_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'notice', 'sent', 1, $5, $6, $5, $5, $5) \
                 RETURNING id",
            )
            .bind(alert)
            .bind(rid)
            .bind(channel)
            .bind(phone)
            .bind(sent)
            .bind(format!("sample-{channel}-{k}"))
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if channel == "voice" {
                sqlx::query(
                    "INSERT INTO voice_calls (delivery_id, alert_id, recipient_id, number, provider, call_id, at, counts, \
                     outcome, status, duration_secs, digits, ended_at, updated_at, sample) \
                     VALUES ($1, $2, $3, $4, 'aliyun', $5, $6, 1, $7, $8, $9, CAST($10 AS TEXT), $11, $11, 1)",
                )
                .bind(delivery)
                .bind(alert)
                .bind(rid)
                .bind(phone)
                .bind(format!("sample-call-{alert}-{k}"))
                .bind(sent + 2_000)
                .bind(outcome)
                .bind(status)
                .bind(secs)
                .bind(key)
                .bind(sent + 2_000 + (secs + 20) * 1000)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            }
        }
        if let Some(at) = answered {
            sqlx::query(
                "INSERT INTO answers (alert_id, recipient_id, at, via, actor, note, counted) \
                 VALUES ($1, $2, $3, 'voice', $4, '按键1', 1)",
            )
            .bind(alert)
            .bind(rid)
            .bind(at)
            .bind(format!("voice:aliyun:{phone}"))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
    }
    crate::audit::record(
        &mut tx,
        "demo-loader",
        "create",
        "alert",
        Some(alert),
        None,
        Some(&serde_json::json!({"title": "暴雨橙色预警（示例）", "channels": ["sms", "voice"], "sample": true})),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

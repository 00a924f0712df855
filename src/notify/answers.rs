//! Answers (叫应): by link, by SMS reply, or recorded by a dispatcher after a
//! phone call. The first answer per recipient counts; every answer is kept
//! and audited.

use serde_json::json;

use crate::store::{Db, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// This answer counted (the first for the recipient).
    First { alert_id: i64, recipient_id: i64 },
    /// Already answered earlier; kept, not counted (a repeated press of the
    /// answer link is not kept again).
    Again { alert_id: i64, recipient_id: i64 },
    /// The notice was closed: nothing is recorded, and the person is told.
    Closed { alert_id: i64, recipient_id: i64 },
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub recipient_id: i64,
    pub alert_id: i64,
    pub name: String,
    pub token_expires_at: i64,
    pub answered_at: Option<i64>,
    pub title: String,
    pub body: String,
    pub level: Option<i64>,
    pub exercise: i64,
    pub status: String,
    pub village_id: Option<i64>,
    pub ack_due_at: Option<i64>,
    pub plan: Option<String>,
    pub msg_type: String,
    pub answer_token: String,
}

impl TokenInfo {
    /// The shape the renderer works on, to show the notice as it was sent.
    pub fn as_delivery(&self) -> crate::notify::render::DeliveryRow {
        crate::notify::render::DeliveryRow {
            id: 0,
            channel: "page".into(),
            address: String::new(),
            purpose: "notice".into(),
            attempts: 0,
            recipient_name: self.name.clone(),
            village_id: self.village_id,
            answer_token: self.answer_token.clone(),
            ack_due_at: self.ack_due_at,
            escalated_from_name: None,
            escalated_from_village: None,
            title: self.title.clone(),
            body: self.body.clone(),
            level: self.level,
            exercise: self.exercise,
            plan: self.plan.clone(),
            msg_type: self.msg_type.clone(),
        }
    }
}

pub async fn by_token(db: &Db, token: &str) -> Result<Option<TokenInfo>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.id AS recipient_id, r.alert_id, r.name, r.token_expires_at, r.answered_at, a.title, a.body, a.level, \
         a.exercise, a.status, r.village_id, r.ack_due_at, a.plan, a.msg_type, r.answer_token FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id WHERE r.answer_token = $1",
    )
    .bind(token)
    .fetch_optional(&db.pool)
    .await?)
}

/// Records an answer for a recipient.
pub async fn record(
    db: &Db,
    recipient_id: i64,
    via: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<Answered, StoreError> {
    let mut tx = db.begin().await?;
    let answered = record_in(&mut tx, recipient_id, via, actor, note, now_ms()).await?;
    tx.commit().await?;
    Ok(answered)
}

/// [`record`] inside the caller's transaction, which the caller commits.
async fn record_in(
    tx: &mut sqlx::AnyConnection,
    recipient_id: i64,
    via: &str,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Answered, StoreError> {
    let (alert_id, status, answered_at): (i64, String, Option<i64>) = sqlx::query_as(
        "SELECT r.alert_id, a.status, r.answered_at FROM alert_recipients r \
         JOIN alerts a ON a.id = r.alert_id WHERE r.id = $1",
    )
    .bind(recipient_id)
    .fetch_one(&mut *tx)
    .await?;
    // A closed notice takes no more answers: its board is final, and an
    // answer now would say someone was reached while it mattered.
    if status == "closed" {
        return Ok(Answered::Closed {
            alert_id,
            recipient_id,
        });
    }
    // The same link pressed again (a double tap, a reload) adds nothing.
    if answered_at.is_some() && via == "link" {
        return Ok(Answered::Again {
            alert_id,
            recipient_id,
        });
    }
    let first = sqlx::query("UPDATE alert_recipients SET answered_at = $1, answer_via = $2 WHERE id = $3 AND answered_at IS NULL")
        .bind(now)
        .bind(via)
        .bind(recipient_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    sqlx::query("INSERT INTO answers (alert_id, recipient_id, at, via, actor, note, counted) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(alert_id)
        .bind(recipient_id)
        .bind(now)
        .bind(via)
        .bind(actor)
        .bind(note)
        .bind(i64::from(first))
        .execute(&mut *tx)
        .await?;
    let after = json!({ "recipient_id": recipient_id, "via": via, "counted": first, "note": note });
    crate::audit::record(
        &mut *tx,
        actor,
        "answer",
        "alert",
        Some(alert_id),
        None,
        Some(&after),
    )
    .await?;
    Ok(if first {
        Answered::First {
            alert_id,
            recipient_id,
        }
    } else {
        Answered::Again {
            alert_id,
            recipient_id,
        }
    })
}

/// Replies that mean "received".
pub fn is_acknowledgement(text: &str) -> bool {
    let t = text
        .trim()
        .trim_end_matches(['。', '.', '!', '！'])
        .trim()
        .to_lowercase();
    matches!(
        t.as_str(),
        "1" | "１"
            | "收到"
            | "已收到"
            | "确认"
            | "收到了"
            | "好"
            | "好的"
            | "ok"
            | "yes"
            | "y"
            | "是"
            | "明白"
    )
}

/// Longest reply text kept (Twilio's own limit for one message).
const MAX_REPLY_CHARS: usize = 1600;

/// What became of one inbound SMS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsReply {
    /// The provider's message was seen before (a replayed or repeated callback): nothing done.
    Replay,
    /// Not a "received" (e.g. a question): logged, answers nothing.
    NotAcknowledgement,
    /// No open notice sent to that number by SMS is waiting for its answer within the answer
    /// window: logged, answers nothing.
    NoOpenNotice,
    /// Recorded as the answer of one recipient (`First`, or `Closed` if the notice closed).
    Answered(Answered),
}

/// An SMS reply from `phone`, identified at its provider by `key`: logged once in
/// `inbound_messages`; a key seen before answers nothing (a replayed callback must not answer a
/// second notice). An acknowledgement answers the newest unanswered recipient row of that
/// number on an open notice that went out by SMS and whose answer window is still open. The
/// window is the one the answer link has (`token_expires_at`, `escalation.answer_token_hours`
/// after the person was notified); never an older notice already answered, and nothing outside
/// the window, so a late or stray "1" cannot stop another notice's repeats and escalation.
/// Logging and answering are one transaction: if answering fails nothing is logged, and the
/// provider's retry is handled as new.
pub async fn by_phone(
    db: &Db,
    provider: &str,
    key: &str,
    phone: &str,
    text: &str,
) -> Result<SmsReply, StoreError> {
    let now = now_ms();
    let text: String = text.chars().take(MAX_REPLY_CHARS).collect();
    let mut tx = db.begin().await?;
    // Claim the key first; a concurrent copy waits on the unique index and then finds it taken.
    let fresh = sqlx::query(
        "INSERT INTO inbound_messages (provider, message_key, received_at, phone, text, outcome) \
         VALUES ($1, $2, $3, $4, $5, 'received') ON CONFLICT (provider, message_key) DO NOTHING",
    )
    .bind(provider)
    .bind(key)
    .bind(now)
    .bind(phone)
    .bind(&text)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(SmsReply::Replay);
    }
    let reply = if !is_acknowledgement(&text) {
        SmsReply::NotAcknowledgement
    } else {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT r.id FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
             WHERE r.phone = $1 AND r.answered_at IS NULL AND r.token_expires_at >= $2 \
             AND a.status = 'active' AND a.channels LIKE '%\"sms\"%' \
             ORDER BY r.notified_at DESC, r.id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some((rid,)) => SmsReply::Answered(
                record_in(
                    &mut tx,
                    rid,
                    "sms",
                    &format!("sms:{provider}:{phone}"),
                    Some(&text),
                    now,
                )
                .await?,
            ),
            None => SmsReply::NoOpenNotice,
        }
    };
    let (outcome, alert_id) = match &reply {
        SmsReply::Answered(Answered::First { alert_id, .. }) => ("answered", Some(*alert_id)),
        SmsReply::Answered(Answered::Again { alert_id, .. }) => ("again", Some(*alert_id)),
        SmsReply::Answered(Answered::Closed { alert_id, .. }) => ("closed", Some(*alert_id)),
        SmsReply::NotAcknowledgement => ("not_acknowledgement", None),
        SmsReply::NoOpenNotice | SmsReply::Replay => ("no_open_notice", None),
    };
    sqlx::query(
        "UPDATE inbound_messages SET outcome = $1, alert_id = $2 WHERE provider = $3 AND message_key = $4",
    )
    .bind(outcome)
    .bind(alert_id)
    .bind(provider)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(reply)
}

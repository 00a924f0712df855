//! What the office sees of a notice: delivery counts, and per village who
//! answered (and how fast), who has not, who was escalated to, and whose
//! deliveries failed and why.

use std::collections::{BTreeMap, HashMap};

use crate::store::{Db, Sql, StoreError};
use serde::Serialize;

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
    /// The leader who approved or rejected a public notice, when, and why (a rejection).
    pub signoff_by: Option<String>,
    pub signoff_at: Option<i64>,
    pub signoff_note: Option<String>,
}

pub const ALERT_COLS: &str = "id, title, body, level, exercise, public, channels, ack_within_minutes, targets, plan, msg_type, \
    references_alert, status, recipients, deliveries, created_by, created_at, closed_at, signoff_by, signoff_at, signoff_note";

/// One notice, if the handle's scope covers its township (another
/// township's is None: 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<AlertRow>, StoreError> {
    db.get_in_scope(ALERT_COLS, "alerts", id).await
}

/// One notice as lists and boards show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertSummary {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub level: Option<i64>,
    pub level_label: &'static str,
    pub exercise: bool,
    pub public: bool,
    pub channels: Vec<String>,
    pub ack_within_minutes: Option<i64>,
    pub plan: Option<String>,
    pub msg_type: String,
    pub references: Option<i64>,
    pub status: String,
    pub recipients: i64,
    pub deliveries: i64,
    pub created_by: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    /// A public notice's sign-off: who approved (or rejected) it, when, and the reason given.
    pub signoff_by: Option<String>,
    pub signoff_at: Option<String>,
    pub signoff_note: Option<String>,
}

pub fn summary(a: &AlertRow, tz: chrono_tz::Tz) -> AlertSummary {
    AlertSummary {
        id: a.id,
        title: a.title.clone(),
        body: a.body.clone(),
        level: a.level,
        level_label: crate::notify::intake::template::level_zh(a.level),
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
        signoff_by: a.signoff_by.clone(),
        signoff_at: crate::time::fmt_opt(a.signoff_at, tz),
        signoff_note: a.signoff_note.clone(),
    }
}

/// A page of notices, newest first.
#[derive(Debug, Clone)]
pub struct AlertList {
    pub rows: Vec<AlertRow>,
    pub total: i64,
    /// Answered recipients per notice on this page.
    pub answered: HashMap<i64, i64>,
}

/// Which notices a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFilter {
    All,
    Active,
    Closed,
}

/// Notices, newest first, `limit` from `offset`, with each one's answered count.
pub async fn list(
    db: &Db,
    filter: AlertFilter,
    limit: i64,
    offset: i64,
) -> Result<AlertList, StoreError> {
    let mut w = Sql::new(&format!(" WHERE {}", db.township_filter("township_id")));
    match filter {
        AlertFilter::All => {}
        AlertFilter::Active => {
            w.push(" AND status = ").bind("active");
        }
        AlertFilter::Closed => {
            w.push(" AND status = ").bind("closed");
        }
    }
    let (rows, total): (Vec<AlertRow>, i64) = w
        .page_with_total(db, ALERT_COLS, "alerts", "id DESC", limit, offset)
        .await?;
    let mut answered = HashMap::new();
    if !rows.is_empty() {
        let mut sql = Sql::new(
            "SELECT alert_id, COUNT(*) FROM alert_recipients WHERE answered_at IS NOT NULL AND alert_id IN ",
        );
        sql.bind_list(rows.iter().map(|a| a.id))
            .push(" GROUP BY alert_id");
        let mut tx = db.read().await?;
        let counts: Vec<(i64, i64)> = sql.query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        answered.extend(counts);
    }
    Ok(AlertList {
        rows,
        total,
        answered,
    })
}

/// The newest `limit` notices still open (the overview shows each one's
/// board); receipts read back to a sender (msgType Ack) ask nothing and
/// are not among them.
pub async fn active(db: &Db, limit: i64) -> Result<Vec<AlertRow>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLS} FROM alerts WHERE status = 'active' AND msg_type <> 'Ack' AND {} ORDER BY id DESC LIMIT $1",
        db.township_filter("township_id")
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Recipients' names by recipient id, for the audit log (a few hundred ids
/// at most: one page of it).
pub async fn recipient_names(
    db: &Db,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let mut out = std::collections::HashMap::new();
    let mut tx = db.read().await?;
    for part in ids.chunks(200) {
        let mut q = crate::store::Sql::new(&format!(
            "SELECT r.id, r.name FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id WHERE {} AND r.id IN ",
            db.township_filter("a.township_id")
        ));
        q.bind_list(part.iter().copied());
        let rows: Vec<(i64, String)> = q.query_as().fetch_all(&mut *tx).await?;
        out.extend(rows);
    }
    tx.commit().await?;
    Ok(out)
}

/// The recipient of `alert_id` named by recipient or contact id, if it is one.
pub async fn find_recipient(
    db: &Db,
    alert_id: i64,
    who: RecipientRef,
) -> Result<Option<i64>, StoreError> {
    // Only of a notice the handle's scope covers.
    let mine = format!(
        "alert_id IN (SELECT id FROM alerts WHERE {})",
        db.township_filter("township_id")
    );
    let mut tx = db.read().await?;
    let row: Option<(i64,)> =
        match who {
            RecipientRef::Recipient(r) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM alert_recipients WHERE id = $1 AND alert_id = $2 AND {mine}"
                )))
                .bind(r)
                .bind(alert_id)
                .fetch_optional(&mut *tx)
                .await?
            }
            RecipientRef::Contact(c) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM alert_recipients WHERE contact_id = $1 AND alert_id = $2 AND {mine}"
            )))
            .bind(c)
            .bind(alert_id)
            .fetch_optional(&mut *tx)
            .await?,
        };
    tx.commit().await?;
    Ok(row.map(|(id,)| id))
}

/// How an office names the person who answered a notice.
#[derive(Debug, Clone, Copy)]
pub enum RecipientRef {
    Recipient(i64),
    Contact(i64),
}

/// Deliveries of one notice by state.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct DeliveryStates {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    /// Closed before they were sent.
    pub cancelled: i64,
    pub total: i64,
    /// Sent again after a lost outcome: the person may have it twice (可能重复).
    pub maybe_duplicate: i64,
    /// Sent, and the provider's delivery receipt says the handset got it.
    pub delivered: i64,
    /// Sent, and the provider's delivery receipt says the handset did not get it.
    pub undelivered: i64,
}

/// A delivery that failed, or is being retried, beside its person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailedDelivery {
    pub delivery_id: i64,
    pub channel: String,
    pub purpose: String,
    pub error: Option<String>,
    /// true: not given up, tried again later.
    pub retrying: bool,
    /// Sent, but the provider's delivery receipt says the handset did not get it; `error`
    /// is the receipt's code.
    pub at_handset: bool,
}

/// One recipient on the board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub recipient_id: i64,
    pub contact_id: Option<i64>,
    pub name: String,
    /// The number the notice went to (E.164), to phone someone who has not answered.
    pub phone: Option<String>,
    /// The contact's roles (村支书, 网格员 …), as the registry has them now.
    pub roles: Vec<String>,
    pub reason: String,
    pub escalated_from: Option<i64>,
    pub notified_at: String,
    pub failed_deliveries: Vec<FailedDelivery>,
    /// What they replied by SMS (every reply is kept), oldest first.
    pub replies: Vec<PersonReply>,
    /// The calls made to them (voice channel), oldest first: answered by key, picked up
    /// without a key (reached, not answered), no answer, busy, failed, with their length.
    pub calls: Vec<crate::notify::delivery::voice::calls::CallView>,
    /// The escalation's steps while they were silent (a call, a repeat,
    /// someone told), oldest first.
    pub steps: Vec<PersonStep>,
}

/// One escalation step taken for a silent person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonStep {
    pub at: String,
    /// The rung: sms, call, repeat, next, duty_officer, leader_on_duty.
    pub rung: String,
    /// What it did, in Chinese (“已拨打语音电话”, “告知 陈永福（带班领导）”).
    pub detail: String,
}

/// One SMS reply beside the person who sent it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonReply {
    pub text: String,
    pub at: String,
    /// Reports danger (险情).
    pub danger: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answered {
    #[serde(flatten)]
    pub person: Person,
    pub answered_at: String,
    pub after_seconds: i64,
    pub via: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotAnswered {
    #[serde(flatten)]
    pub person: Person,
    pub waiting_seconds: i64,
    pub repeats: i64,
    pub escalated: bool,
    pub answer_due: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EscalatedTo {
    pub name: String,
    pub recipient_id: i64,
    pub escalated_from: Option<i64>,
}

/// One village's part of a notice (or the township's own contacts).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VillageBoard {
    /// None: township-level contacts (乡级), not of one village.
    pub village_id: Option<i64>,
    pub village: String,
    pub answered: Vec<Answered>,
    pub not_answered: Vec<NotAnswered>,
    pub escalated_to: Vec<EscalatedTo>,
    pub answer_rate: f64,
}

impl VillageBoard {
    /// Whether these are the township's own contacts rather than a village's.
    pub fn is_township(&self) -> bool {
        self.village_id.is_none()
    }
}

/// The status board of one notice.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusBoard {
    #[serde(flatten)]
    pub alert: AlertSummary,
    pub delivery_states: DeliveryStates,
    pub answered: i64,
    pub villages: Vec<VillageBoard>,
}

/// The name a board gives the township's own contacts.
pub const TOWNSHIP_LEVEL: &str = "乡级";

#[derive(Debug, sqlx::FromRow)]
struct RecipientRow {
    id: i64,
    contact_id: Option<i64>,
    name: String,
    phone: Option<String>,
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
pub async fn board(db: &Db, a: &AlertRow, tz: chrono_tz::Tz) -> Result<StatusBoard, StoreError> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(a.id)
            .fetch_all(&db.pool)
            .await?;
    let mut states = DeliveryStates::default();
    for (s, n) in counts {
        states.total += n;
        match s.as_str() {
            "queued" => states.queued = n,
            "sending" => states.sending = n,
            "sent" => states.sent = n,
            "failed" => states.failed = n,
            "cancelled" => states.cancelled = n,
            _ => {}
        }
    }
    let (maybe_duplicate,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM deliveries WHERE alert_id = $1 AND maybe_duplicate = 1",
    )
    .bind(a.id)
    .fetch_one(&db.pool)
    .await?;
    states.maybe_duplicate = maybe_duplicate;
    let (delivered, undelivered): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE receipt_status = 'delivered'), \
         COUNT(*) FILTER (WHERE receipt_status = 'failed') FROM deliveries \
         WHERE alert_id = $1 AND state = 'sent' AND receipt_status IS NOT NULL",
    )
    .bind(a.id)
    .fetch_one(&db.pool)
    .await?;
    states.delivered = delivered;
    states.undelivered = undelivered;
    let rows: Vec<RecipientRow> = sqlx::query_as(
        "SELECT id, contact_id, name, phone, village_id, reason, escalated_from, notified_at, ack_due_at, repeats, escalated, answered_at, \
         answer_via FROM alert_recipients WHERE alert_id = $1 ORDER BY village_id, escalation_order, id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    // Whom to phone is read with the role they hold: 村支书 first, not a bare name.
    let contact_ids: Vec<i64> = {
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.contact_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let roles = crate::registry::contacts::roles_of(db, &contact_ids).await?;
    let names = crate::registry::villages::names(db).await?;
    // Why a delivery failed is shown beside the person, not only in the
    // delivery list: the office must know whom to phone instead.
    // Those still being retried (a provider down for hours) are shown too,
    // with their last error: the office may phone them meanwhile.
    // A receipt saying the handset did not get it is such a failure too.
    let failures: Vec<(i64, i64, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT recipient_id, id, channel, purpose, \
         CASE WHEN state = 'sent' THEN receipt_code ELSE last_error END, state FROM deliveries WHERE alert_id = $1 \
         AND (state = 'failed' OR (state = 'queued' AND last_error IS NOT NULL) \
              OR (state = 'sent' AND receipt_status = 'failed')) ORDER BY id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let mut failed: HashMap<i64, Vec<FailedDelivery>> = HashMap::new();
    for (recipient, id, channel, purpose, error, state) in failures {
        failed.entry(recipient).or_default().push(FailedDelivery {
            delivery_id: id,
            channel,
            purpose,
            error,
            retrying: state == "queued",
            at_handset: state == "sent",
        });
    }
    // Every SMS reply matched to someone on this notice, shown beside them.
    let texts: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT recipient_id, text, received_at, danger FROM inbound_messages \
         WHERE alert_id = $1 AND recipient_id IS NOT NULL ORDER BY id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let mut replies: HashMap<i64, Vec<PersonReply>> = HashMap::new();
    for (recipient, text, at, danger) in texts {
        replies.entry(recipient).or_default().push(PersonReply {
            text,
            at: crate::time::fmt_ms(at, tz),
            danger: danger != 0,
        });
    }
    let taken: Vec<(i64, String, i64, String)> = sqlx::query_as(
        "SELECT recipient_id, rung, at, detail FROM recipient_steps WHERE alert_id = $1 ORDER BY id",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let mut steps: HashMap<i64, Vec<PersonStep>> = HashMap::new();
    for (recipient, rung, at, detail) in taken {
        steps.entry(recipient).or_default().push(PersonStep {
            at: crate::time::fmt_ms(at, tz),
            rung,
            detail,
        });
    }
    let mut calls = crate::notify::delivery::voice::calls::of_alert(db, a.id, tz).await?;
    let mut villages: BTreeMap<Option<i64>, VillageBoard> = BTreeMap::new();
    let mut answered = 0;
    let now = crate::store::now_ms();
    for r in rows {
        let entry = villages
            .entry(r.village_id)
            .or_insert_with(|| VillageBoard {
                village_id: r.village_id,
                village: r.village_id.map_or_else(
                    || TOWNSHIP_LEVEL.to_string(),
                    |v| names.get(&v).cloned().unwrap_or_default(),
                ),
                answered: Vec::new(),
                not_answered: Vec::new(),
                escalated_to: Vec::new(),
                answer_rate: 0.0,
            });
        if r.reason == "escalation" {
            entry.escalated_to.push(EscalatedTo {
                name: r.name.clone(),
                recipient_id: r.id,
                escalated_from: r.escalated_from,
            });
        }
        let person = Person {
            recipient_id: r.id,
            contact_id: r.contact_id,
            name: r.name,
            phone: r.phone,
            roles: r
                .contact_id
                .and_then(|c| roles.get(&c).cloned())
                .unwrap_or_default(),
            reason: r.reason,
            escalated_from: r.escalated_from,
            notified_at: crate::time::fmt_ms(r.notified_at, tz),
            failed_deliveries: failed.remove(&r.id).unwrap_or_default(),
            replies: replies.remove(&r.id).unwrap_or_default(),
            steps: steps.remove(&r.id).unwrap_or_default(),
            calls: calls.remove(&r.id).unwrap_or_default(),
        };
        match r.answered_at {
            Some(at) => {
                answered += 1;
                entry.answered.push(Answered {
                    person,
                    answered_at: crate::time::fmt_ms(at, tz),
                    after_seconds: (at - r.notified_at) / 1000,
                    via: r.answer_via,
                });
            }
            None => entry.not_answered.push(NotAnswered {
                person,
                waiting_seconds: (now - r.notified_at) / 1000,
                repeats: r.repeats,
                escalated: r.escalated != 0,
                answer_due: crate::time::fmt_opt(r.ack_due_at, tz),
            }),
        }
    }
    let villages = villages
        .into_values()
        .map(|mut v| {
            let n = v.answered.len() + v.not_answered.len();
            v.answer_rate = if n == 0 {
                0.0
            } else {
                v.answered.len() as f64 / n as f64
            };
            v
        })
        .collect();
    Ok(StatusBoard {
        alert: summary(a, tz),
        delivery_states: states,
        answered,
        villages,
    })
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
    receipt_status: Option<String>,
    receipt_code: Option<String>,
    receipt_at: Option<i64>,
}

/// One try at a delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub at: String,
    pub outcome: String,
    pub detail: Option<String>,
}

/// One delivery of a notice, with each attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub recipient_id: i64,
    pub name: String,
    pub channel: String,
    pub address: String,
    pub purpose: String,
    pub state: String,
    pub attempts: i64,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub maybe_duplicate: bool,
    pub attempt_log: Vec<Attempt>,
    /// The provider's delivery receipt (状态报告): delivered or failed at the handset.
    pub receipt_status: Option<String>,
    /// The receipt's code, as the provider gives it.
    pub receipt_code: Option<String>,
    pub receipt_at: Option<String>,
}

/// Every delivery and each of its attempts.
pub async fn deliveries(
    db: &Db,
    alert_id: i64,
    tz: chrono_tz::Tz,
) -> Result<Vec<DeliveryView>, StoreError> {
    let rows: Vec<DeliveryListRow> = sqlx::query_as(
        "SELECT d.id, d.recipient_id, r.name, d.channel, d.address, d.purpose, d.state, d.attempts, d.provider_id, d.last_error, d.sent_at, d.maybe_duplicate, \
         d.receipt_status, d.receipt_code, d.receipt_at \
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
    let mut by_delivery: BTreeMap<i64, Vec<Attempt>> = BTreeMap::new();
    for (d, at, outcome, detail) in attempts {
        by_delivery.entry(d).or_default().push(Attempt {
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
            receipt_status: r.receipt_status,
            receipt_code: r.receipt_code,
            receipt_at: crate::time::fmt_opt(r.receipt_at, tz),
        })
        .collect())
}

/// The version of a notice's board: bumped, in the same transaction, by
/// every change the board shows (migration 0046's triggers); 0 if unknown.
/// Read it before the board, so that a board is never older than its tag.
pub async fn board_version(db: &Db, alert_id: i64) -> Result<i64, StoreError> {
    let v: Option<(i64,)> = sqlx::query_as("SELECT version FROM alert_boards WHERE alert_id = $1")
        .bind(alert_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(v.map_or(0, |v| v.0))
}

/// The ETag of a board: its version, the notice's own row, `variant` (what
/// else the response depends on: its form, the asker's language and role)
/// and the minute, so that the waiting times shown never go more than a
/// minute stale on a board nothing else changed on.
pub fn board_etag(a: &AlertRow, version: i64, variant: &str, now_ms: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(a).unwrap_or_default());
    h.update(version.to_le_bytes());
    h.update((now_ms / 60_000).to_le_bytes());
    h.update(variant.as_bytes());
    format!(
        "\"b{}-{version}-{}\"",
        a.id,
        hex::encode(&h.finalize()[..8])
    )
}

/// Whether an `If-None-Match` header names `etag` (or is `*`).
pub fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|h| {
        h.split(',').map(str::trim).any(|t| {
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
        })
    })
}

/// One village's counts on a board's summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VillageCounts {
    /// None: township-level contacts (乡级).
    pub village_id: Option<i64>,
    pub village: String,
    pub recipients: i64,
    pub answered: i64,
    pub answer_rate: f64,
}

/// A board without its people: what a screen refreshing every few seconds
/// needs, read from the counts kept with every answer (migration 0046)
/// rather than from every recipient.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardSummary {
    #[serde(flatten)]
    pub alert: AlertSummary,
    /// The board's version (bumped by every change it shows).
    pub version: i64,
    pub delivery_states: DeliveryStates,
    pub answered: i64,
    pub villages: Vec<VillageCounts>,
}

/// The summary of one notice's board.
pub async fn board_summary(
    db: &Db,
    a: &AlertRow,
    version: i64,
    tz: chrono_tz::Tz,
) -> Result<BoardSummary, StoreError> {
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE alert_id = $1 GROUP BY state")
            .bind(a.id)
            .fetch_all(&db.pool)
            .await?;
    let mut states = DeliveryStates::default();
    for (s, n) in counts {
        states.total += n;
        match s.as_str() {
            "queued" => states.queued = n,
            "sending" => states.sending = n,
            "sent" => states.sent = n,
            "failed" => states.failed = n,
            "cancelled" => states.cancelled = n,
            _ => {}
        }
    }
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT village_key, recipients, answered FROM alert_village_counts \
         WHERE alert_id = $1 AND recipients > 0 ORDER BY village_key",
    )
    .bind(a.id)
    .fetch_all(&db.pool)
    .await?;
    let names = crate::registry::villages::names(db).await?;
    let mut answered = 0;
    let villages = rows
        .into_iter()
        .map(|(key, recipients, done)| {
            answered += done;
            let village_id = (key != 0).then_some(key);
            VillageCounts {
                village_id,
                village: village_id.map_or_else(
                    || TOWNSHIP_LEVEL.to_string(),
                    |v| names.get(&v).cloned().unwrap_or_default(),
                ),
                recipients,
                answered: done,
                answer_rate: done as f64 / recipients as f64,
            }
        })
        .collect();
    Ok(BoardSummary {
        alert: summary(a, tz),
        version,
        delivery_states: states,
        answered,
        villages,
    })
}

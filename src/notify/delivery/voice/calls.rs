//! The calls themselves (`voice_calls`, migration 0039): a slot taken under the number's
//! limits before a call is placed, the provider's call id once it is, and what its receipts
//! say. A key "1" is the person's answer (叫应), recorded like a link answer
//! (`answers::record_in`, how: `voice`); a call picked up without it is only *reached*
//! (接通未按键): the person stays unanswered and escalation goes on.

use super::limits::{self, Wait};
use super::receipts::{CallEvent, CallStatus};
use super::settings::CallLimits;
use crate::notify::response::answers::{self, Answered};
use crate::store::{Backend, Db, StoreError};

/// The key that answers.
pub const ANSWER_KEY: char = '1';

/// Calls older than a day never count against a limit.
const DAY: i64 = 86_400_000;

/// Advisory lock namespace for the calls to one number (its hash is the second key).
const NUMBER_LOCK: i32 = 7_368_039;

/// The call a delivery is about to place.
#[derive(Debug, Clone)]
pub struct Placing<'a> {
    pub delivery_id: i64,
    pub alert_id: i64,
    pub number: &'a str,
    pub provider: &'a str,
}

/// What the number's limits allow now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Go: the call's row, counted already, so a call to the same number from another
    /// worker or daemon sees it.
    Go(i64),
    Wait(Wait),
}

/// When the calls counted against `number` were placed, from a day before `now` on.
async fn placed_at(
    conn: &mut sqlx::AnyConnection,
    number: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT at FROM voice_calls WHERE number = $1 AND counts = 1 AND at > $2 ORDER BY at",
    )
    .bind(number)
    .bind(now - DAY)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Whether a call to `number` at `now` would wait, and until when (reads only: the office's
/// question, and a test's driven clock).
pub async fn wait_for(
    db: &Db,
    number: &str,
    now: i64,
    limits: CallLimits,
) -> Result<Option<Wait>, StoreError> {
    let mut conn = db.pool.acquire().await?;
    Ok(limits::check(
        &placed_at(&mut conn, number, now).await?,
        now,
        limits,
    ))
}

/// Takes a slot for a call at `now`, or says until when the number's limits hold it back.
/// One transaction per number at a time (an advisory lock on PostgreSQL; SQLite's one
/// writer), so two calls to one number cannot both take the last slot.
pub async fn reserve(
    db: &Db,
    call: &Placing<'_>,
    now: i64,
    limits: CallLimits,
) -> Result<Slot, StoreError> {
    let mut tx = db.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1, hashtext($2))) AS l")
            .bind(NUMBER_LOCK)
            .bind(call.number)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(wait) = limits::check(&placed_at(&mut tx, call.number, now).await?, now, limits) {
        tx.rollback().await?;
        return Ok(Slot::Wait(wait));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO voice_calls (township_id, delivery_id, alert_id, recipient_id, number, provider, at, counts, \
         outcome, updated_at) SELECT a.township_id, d.id, d.alert_id, d.recipient_id, $1, $2, $3, 1, 'dialing', $3 \
         FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = $4 RETURNING id",
    )
    .bind(call.number)
    .bind(call.provider)
    .bind(now)
    .bind(call.delivery_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Slot::Go(id))
}

/// The provider placed the call: its id (empty when it gave none; its receipts then name the
/// delivery). An id already taken by another row (a gateway that reuses our reference) is
/// not stored twice.
pub async fn placed(
    db: &Db,
    call: i64,
    provider: &str,
    call_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE voice_calls SET outcome = 'placed', updated_at = $1, call_id = CASE WHEN CAST($2 AS TEXT) = '' \
         OR EXISTS (SELECT 1 FROM voice_calls o WHERE o.provider = $3 AND o.call_id = CAST($2 AS TEXT)) THEN NULL \
         ELSE CAST($2 AS TEXT) END WHERE id = $4",
    )
    .bind(now)
    .bind(call_id)
    .bind(provider)
    .bind(call)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// The provider did not place the call (refused, unreachable, its own limit): it does not
/// count against the number, and its reason is kept.
pub async fn not_placed(db: &Db, call: i64, why: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE voice_calls SET outcome = 'not_placed', counts = 0, status = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(why.chars().take(300).collect::<String>())
    .bind(now)
    .bind(call)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Whether the person a delivery is for has answered its notice already.
pub async fn answered(db: &Db, delivery: i64) -> Result<bool, StoreError> {
    let row: Option<(Option<i64>,)> = sqlx::query_as(
        "SELECT r.answered_at FROM deliveries d JOIN alert_recipients r ON r.id = d.recipient_id WHERE d.id = $1",
    )
    .bind(delivery)
    .fetch_optional(&db.pool)
    .await?;
    Ok(matches!(row, Some((Some(_),))))
}

/// What one receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// No call of ours has that id (or reference).
    Unknown,
    /// Recorded on the call (a status, a key other than "1", a receipt seen before).
    Recorded,
    /// The key "1": the person's answer (the first one counts; a closed notice takes none).
    Answered(Answered),
}

#[derive(sqlx::FromRow)]
struct CallRow {
    id: i64,
    recipient_id: Option<i64>,
    number: String,
    outcome: String,
}

/// Applies one receipt from `provider` in one transaction: the call's status and length, its
/// keys, and for a "1" the recipient's answer. Replays change nothing more: a call answered
/// once is not answered again, and its status never goes back from answered.
pub async fn apply(
    db: &Db,
    provider: &str,
    e: &CallEvent,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut tx = db.begin().await?;
    let mut row: Option<CallRow> = None;
    if let Some(id) = &e.call_id {
        row = sqlx::query_as(
            "SELECT id, recipient_id, number, outcome FROM voice_calls WHERE provider = $1 AND call_id = $2",
        )
        .bind(provider)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    }
    // By our reference (the delivery): its latest call.
    if row.is_none()
        && let Some(delivery) = e.reference.as_deref().and_then(|r| r.parse::<i64>().ok())
    {
        row = sqlx::query_as(
            "SELECT id, recipient_id, number, outcome FROM voice_calls WHERE provider = $1 \
             AND delivery_id = $2 AND counts = 1 ORDER BY id DESC LIMIT 1",
        )
        .bind(provider)
        .bind(delivery)
        .fetch_optional(&mut *tx)
        .await?;
    }
    let Some(call) = row else {
        tx.rollback().await?;
        return Ok(Applied::Unknown);
    };
    let digits = e.digits.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let pressed_one = digits.is_some_and(|d| d.starts_with(ANSWER_KEY));
    // A key means the call was picked up; the status, when it comes, keeps an answer.
    let outcome = match (pressed_one, e.status, digits) {
        (true, _, _) => Some("answered"),
        (false, Some(s), _) => Some(s.as_str()),
        (false, None, Some(_)) => Some(CallStatus::Reached.as_str()),
        (false, None, None) => None,
    };
    // The answer first, as a compare-and-set: of two copies of the key's receipt (a provider's
    // retry racing the first) only one answers.
    let first_key = pressed_one
        && call.outcome != "answered"
        && sqlx::query(
            "UPDATE voice_calls SET outcome = 'answered', updated_at = $1 WHERE id = $2 AND outcome <> 'answered'",
        )
        .bind(now)
        .bind(call.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    sqlx::query(
        "UPDATE voice_calls SET \
         outcome = CASE WHEN outcome = 'answered' OR CAST($1 AS TEXT) IS NULL THEN outcome ELSE CAST($1 AS TEXT) END, \
         status = COALESCE(CAST($2 AS TEXT), status), duration_secs = COALESCE(CAST($3 AS BIGINT), duration_secs), \
         digits = COALESCE(CAST($4 AS TEXT), digits), ended_at = CASE WHEN $5 = 1 THEN $6 ELSE ended_at END, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(outcome)
    .bind(e.provider_status.as_deref())
    .bind(e.duration_secs)
    .bind(digits)
    .bind(i64::from(e.status.is_some()))
    .bind(now)
    .bind(call.id)
    .execute(&mut *tx)
    .await?;
    let applied = match (first_key, call.recipient_id) {
        (true, Some(recipient)) => {
            let answered = answers::record_in(
                &mut tx,
                recipient,
                "voice",
                &format!("voice:{provider}:{}", call.number),
                Some("按键1"),
                now,
            )
            .await?;
            Applied::Answered(answered)
        }
        _ => Applied::Recorded,
    };
    tx.commit().await?;
    if let Applied::Answered(a) = &applied {
        answers::count("voice", a);
    }
    Ok(applied)
}

/// One call as the notice's page shows it beside the person.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CallView {
    pub at: String,
    /// dialing | placed | not_placed | answered | reached | no_answer | busy | failed
    pub outcome: String,
    /// The outcome in words: 按键确认, 接通未按键, 无人接听, 占线, 呼叫失败 …
    pub outcome_words: &'static str,
    pub duration_secs: Option<i64>,
    pub digits: Option<String>,
    /// The provider's own status, as it said it.
    pub status: Option<String>,
}

/// A call's outcome as the office reads it.
pub fn outcome_words(outcome: &str) -> &'static str {
    match outcome {
        "dialing" => "正在呼叫",
        "placed" => "已呼出，等待结果",
        "not_placed" => "未能呼出",
        "answered" => "按键确认",
        "reached" => "接通未按键",
        "no_answer" => "无人接听",
        "busy" => "占线",
        "failed" => "呼叫失败",
        _ => "其他",
    }
}

#[derive(sqlx::FromRow)]
struct ListedCall {
    recipient_id: i64,
    at: i64,
    outcome: String,
    duration_secs: Option<i64>,
    digits: Option<String>,
    status: Option<String>,
}

/// The calls of one notice, by recipient, oldest first.
pub async fn of_alert(
    db: &Db,
    alert_id: i64,
    tz: chrono_tz::Tz,
) -> Result<std::collections::HashMap<i64, Vec<CallView>>, StoreError> {
    let rows: Vec<ListedCall> = sqlx::query_as(
        "SELECT recipient_id, at, outcome, duration_secs, digits, status FROM voice_calls \
         WHERE alert_id = $1 AND recipient_id IS NOT NULL ORDER BY id",
    )
    .bind(alert_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out: std::collections::HashMap<i64, Vec<CallView>> = Default::default();
    for c in rows {
        out.entry(c.recipient_id).or_default().push(CallView {
            at: crate::time::fmt_ms(c.at, tz),
            outcome_words: outcome_words(&c.outcome),
            outcome: c.outcome,
            duration_secs: c.duration_secs,
            digits: c.digits,
            status: c.status,
        });
    }
    Ok(out)
}

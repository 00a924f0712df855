//! The two-person rule for public notices: a notice marked public is stored
//! `pending` (待签发) with nobody in its outbox, and goes out — sent to its
//! recipients, published as CAP and in the feed — only when a leader
//! (带班领导/签发人) who is not its author approves it. A rejection (with
//! its reason) sends nothing. Both are in the audit trail; the incident
//! timeline notes them through `incidents::signoff`.

use serde_json::json;

use crate::auth::{Actor, SignoffRefused};
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{self, Accepted, AlertError};
use crate::notify::response::status::{self, ALERT_COLS, AlertRow};
use crate::store::{Db, StoreError, now_ms};
use crate::validate::FieldError;

pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum SignoffError {
    #[error("{0}")]
    Refused(#[from] SignoffRefused),
    #[error("not found")]
    NotFound,
    /// Not awaiting sign-off (already approved, rejected, or never public).
    #[error("不在待签发状态 / not awaiting sign-off (status: {0})")]
    NotPending(String),
    #[error("{0}")]
    Invalid(FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SignoffError {
    fn from(e: sqlx::Error) -> Self {
        SignoffError::Store(StoreError::Db(e))
    }
}

impl From<AlertError> for SignoffError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::Invalid(f) => SignoffError::Invalid(f),
            AlertError::KeyReused => SignoffError::Store(StoreError::Corrupt("key".into())),
            AlertError::Store(s) => SignoffError::Store(s),
        }
    }
}

/// The notice and whether the actor may decide on it.
async fn awaiting(db: &Db, actor: &Actor, id: i64) -> Result<AlertRow, SignoffError> {
    let a = status::get(db, id).await?.ok_or(SignoffError::NotFound)?;
    if a.status != "pending" {
        return Err(SignoffError::NotPending(a.status));
    }
    crate::auth::second_person(actor, &a.created_by)?;
    Ok(a)
}

/// Approves a pending public notice: from now on it is sent and published.
pub async fn approve(n: &Notifier, actor: &Actor, id: i64) -> Result<Accepted, SignoffError> {
    let db = &n.db;
    // Seen as the actor sees it: another township's notice is not theirs to approve.
    let a = awaiting(&actor.db(db), actor, id).await?;
    let mut tx = db.begin().await?;
    let r = sqlx::query(
        "UPDATE alerts SET status = 'accepting', signoff_by = $1, signoff_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(&actor.name)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(SignoffError::NotPending("changed at the same time".into()));
    }
    crate::audit::record(
        &mut tx,
        &actor.name,
        "approve",
        "alert",
        Some(id),
        Some(&json!({"status": "pending", "author": a.created_by})),
        Some(&json!({"status": "accepting", "approved_by": actor.name})),
    )
    .await?;
    tx.commit().await?;
    Ok(alerts::fill_approved(db, &n.cfg, id, Some(&n.wake)).await?)
}

/// Rejects a pending public notice with the reason: nothing is sent.
pub async fn reject(db: &Db, actor: &Actor, id: i64, reason: &str) -> Result<(), SignoffError> {
    let reason = crate::validate::required_text("reason", reason, MAX_REASON_CHARS)
        .map_err(SignoffError::Invalid)?;
    let a = awaiting(db, actor, id).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let r = sqlx::query(
        "UPDATE alerts SET status = 'rejected', signoff_by = $1, signoff_at = $2, signoff_note = $3, closed_at = $2 \
         WHERE id = $4 AND status = 'pending'",
    )
    .bind(&actor.name)
    .bind(now)
    .bind(&reason)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(SignoffError::NotPending("changed at the same time".into()));
    }
    crate::audit::record(
        &mut tx,
        &actor.name,
        "reject",
        "alert",
        Some(id),
        Some(&json!({"status": "pending", "author": a.created_by})),
        Some(&json!({"status": "rejected", "rejected_by": actor.name, "reason": reason})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Public notices awaiting sign-off, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<AlertRow>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ALERT_COLS} FROM alerts WHERE status = 'pending' AND {} ORDER BY id LIMIT 200",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

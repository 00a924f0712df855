//! The outbox's SQL: claiming due deliveries with a lease, renewing and
//! releasing claims, and recording outcomes. One path per backend.
//!
//! SQLite has one writer at a time; its statements are multi-row, sized by
//! placeholders (see `rows_per_statement`). On PostgreSQL every statement
//! here has a text that never changes, a batch travelling as one array per
//! column (`store::pg_array`, expanded with `UNNEST`): each is parsed and
//! planned once per connection and kept prepared, where a statement with a
//! placeholder per row was a new statement for every batch size. A claim
//! (pick, lock, mark, read the rows to render) and a batch of outcomes
//! (update the deliveries, log the attempts) are one round trip each.

use crate::notify::Channel;
use crate::notify::delivery::render::{DELIVERY_COLUMNS, DELIVERY_SELECT, DeliveryRow};
use crate::store::{Backend, Db, Sql, StoreError, now_ms, pg_array, rows_per_statement};

/// What an outcome makes of its delivery, and what its attempt row says.
#[derive(Debug, Clone)]
pub struct Change {
    pub id: i64,
    /// The attempt count the claim gave the delivery. A delivery claimed
    /// again since (its lease ran out: a daemon that lost touch with the
    /// database) counts one more, and this outcome no longer decides its
    /// state; it is still logged as an attempt.
    pub attempts: i64,
    /// `sent`, `queued` (retry at `due_at`) or `failed`.
    pub state: &'static str,
    pub provider_id: Option<String>,
    pub due_at: Option<i64>,
    /// Kept on the delivery; none when it was sent.
    pub last_error: Option<String>,
    /// The attempt's outcome: `sent`, `retry` or `failed`.
    pub attempt: &'static str,
    pub detail: String,
    /// 1: the claim's attempt is given back (a call postponed by a limit was never tried).
    pub refund: i64,
}

fn pg_ids(ids: &[i64]) -> String {
    pg_array::bigints(ids.iter().map(|&i| Some(i)))
}

/// Claims up to `limit` due deliveries of `ch` for `lease_ms`: queued ones
/// that are due and, with `expired`, first the claims of others whose lease
/// ran out (except `own`: this daemon's claims, whose outcomes are on their
/// way). Returns them ready to render, by id. SQLite always looks for
/// expired claims (its range of `sending` rows holds only the open claims).
pub async fn claim(
    db: &Db,
    ch: Channel,
    limit: i64,
    lease_ms: i64,
    own: &[i64],
    expired: bool,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let now = now_ms();
    match db.backend {
        Backend::Postgres => {
            let mut q = sqlx::query_as(if expired { PG_CLAIM_EXPIRED } else { PG_CLAIM })
                .bind(ch.as_str())
                .bind(now)
                .bind(limit)
                .bind(now + lease_ms);
            if expired {
                q = q.bind(pg_ids(own));
            }
            let mut rows: Vec<DeliveryRow> = q.fetch_all(db.writer()).await?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        }
        Backend::Sqlite => claim_sqlite(db, ch, limit, now, now + lease_ms, own).await,
    }
}

/// Marks the picked rows claimed and returns what rendering needs. The
/// rows to render are read one by one by primary key (`LATERAL … OFFSET
/// 0` keeps the planner from joining them another way): the separate read
/// this replaces (`… WHERE d.id IN (…)`, a placeholder per id) was seen
/// in a 100k fan-out hashing and spilling to temporary files.
macro_rules! pg_claim {
    ($picked:literal) => {
        concat!(
            "WITH picked AS (",
            $picked,
            "), claimed AS (UPDATE deliveries d SET \
             maybe_duplicate = CASE WHEN d.state = 'sending' THEN 1 ELSE d.maybe_duplicate END, \
             state = 'sending', lease_until = $4, attempts = d.attempts + 1, updated_at = $2 \
             FROM picked WHERE d.id = picked.id \
             RETURNING d.id, d.channel, d.address, d.purpose, d.attempts, d.alert_id, d.recipient_id, d.created_at) \
             SELECT d.id, d.channel, d.address, d.purpose, d.attempts, r.name AS recipient_name, \
             r.village_id, r.answer_token, r.ack_due_at, o.name AS escalated_from_name, o.village_id AS escalated_from_village, \
             a.title, a.body, a.level, a.exercise, a.plan, a.msg_type, \
             CASE WHEN r.answer_token_hash IS NULL THEN 1 ELSE 0 END AS legacy_token, d.created_at, r.escalation_note, d.alert_id, \
             a.own_reply FROM claimed d \
             CROSS JOIN LATERAL (SELECT * FROM alert_recipients r WHERE r.id = d.recipient_id OFFSET 0) r \
             CROSS JOIN LATERAL (SELECT * FROM alerts a WHERE a.id = d.alert_id OFFSET 0) a \
             LEFT JOIN LATERAL (SELECT * FROM alert_recipients o WHERE o.id = r.escalated_from OFFSET 0) o ON true"
        )
    };
}

/// Due queued deliveries, locked with `SKIP LOCKED` (another worker's
/// claim is passed over, not waited for). Ordered by `due_at` alone: a
/// whole alert shares one `due_at`, and breaking the tie by id made
/// PostgreSQL sort every queued delivery on each claim.
const PG_CLAIM: &str = pg_claim!(
    "SELECT id FROM deliveries WHERE channel = $1 AND state = 'queued' AND due_at <= $2 \
     ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED"
);

/// Expired claims first, then queued ones, `$3` in all (SKIP LOCKED is
/// not allowed on a UNION itself, so inside each branch). Expired claims
/// only come from a daemon that stopped or died, and their range is
/// filtered row by row (`lease_until`, the worker's own claims): the
/// worker asks for them every third of a lease, not on every claim.
const PG_CLAIM_EXPIRED: &str = pg_claim!(
    "SELECT id FROM (SELECT id FROM deliveries WHERE channel = $1 AND state = 'sending' AND lease_until < $2 \
     AND id <> ALL(CAST($5 AS bigint[])) ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) expired \
     UNION ALL SELECT id FROM (SELECT id FROM deliveries WHERE channel = $1 AND state = 'queued' AND due_at <= $2 \
     ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) queued LIMIT $3"
);

async fn claim_sqlite(
    db: &Db,
    ch: Channel,
    limit: i64,
    now: i64,
    lease_until: i64,
    own: &[i64],
) -> Result<Vec<DeliveryRow>, StoreError> {
    // A claim whose lease ran out was with a daemon that stopped or died
    // mid-send: sending it again may reach the person twice.
    let mut q = Sql::new(
        "UPDATE deliveries SET maybe_duplicate = CASE WHEN state = 'sending' THEN 1 ELSE maybe_duplicate END, \
         state = 'sending', lease_until = ",
    );
    q.bind(lease_until)
        .push(", attempts = attempts + 1, updated_at = ")
        .bind(now);
    // SQLite does not split an OR of the two ranges into two index
    // ranges: it walked every delivery the channel ever had, so each claim
    // grew with the history. Two ranges of `deliveries_due`, each stopped
    // at `limit`, then merged.
    q.push(" WHERE id IN (SELECT id FROM (SELECT id, due_at FROM (SELECT id, due_at FROM deliveries WHERE channel = ")
        .bind(ch.as_str())
        .push(" AND state = 'queued' AND due_at <= ")
        .bind(now)
        .push(" ORDER BY due_at, id LIMIT ")
        .bind(limit);
    q.push(
        ") UNION ALL SELECT id, due_at FROM (SELECT id, due_at FROM deliveries WHERE channel = ",
    )
    .bind(ch.as_str())
    .push(" AND state = 'sending' AND lease_until < ")
    .bind(now);
    // Too many of its own to list (the database refusing outcomes): no
    // expired claims this time.
    if own.len() > 2000 {
        q.push(" AND 1 = 0");
    } else if !own.is_empty() {
        q.push(" AND id NOT IN ").bind_list(own.iter().copied());
    }
    q.push(" ORDER BY due_at, id LIMIT ").bind(limit);
    q.push(")) ORDER BY due_at, id LIMIT ")
        .bind(limit)
        .push(") RETURNING id");
    let ids: Vec<(i64,)> = q.query_as().fetch_all(db.writer()).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sel = Sql::new(DELIVERY_SELECT);
    sel.bind_list(ids.iter().map(|r| r.0))
        .push(" ORDER BY d.id");
    let mut rows: Vec<DeliveryRow> = db.fetch_rows(&sel, DELIVERY_COLUMNS).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Moves the leases of claims still `sending` to `until`.
pub async fn renew(db: &Db, ids: &[i64], until: i64) -> Result<(), StoreError> {
    if db.backend == Backend::Postgres {
        // Rows locked in id order, as `record` locks them: the heartbeat and
        // the outcome writer touch the same claims, and two statements
        // locking them in different orders can deadlock.
        sqlx::query(
            "UPDATE deliveries SET lease_until = $1 WHERE id IN (SELECT id FROM deliveries \
             WHERE state = 'sending' AND id = ANY(CAST($2 AS bigint[])) ORDER BY id FOR UPDATE)",
        )
        .bind(until)
        .bind(pg_ids(ids))
        .execute(db.writer())
        .await?;
        return Ok(());
    }
    for chunk in ids.chunks(rows_per_statement(true, 1)) {
        let mut q = Sql::new("UPDATE deliveries SET lease_until = ");
        q.bind(until)
            .push(" WHERE state = 'sending' AND id IN ")
            .bind_list(chunk.iter().copied());
        q.query().execute(db.writer()).await?;
    }
    Ok(())
}

/// Puts claims never handed to the provider back in the queue, due now,
/// without counting the attempt.
pub async fn release(db: &Db, ids: &[i64]) -> Result<(), StoreError> {
    let now = now_ms();
    if db.backend == Backend::Postgres {
        sqlx::query(
            "UPDATE deliveries SET state = 'queued', lease_until = NULL, attempts = attempts - 1, \
             due_at = $1, updated_at = $1 WHERE state = 'sending' AND id = ANY(CAST($2 AS bigint[]))",
        )
        .bind(now)
        .bind(pg_ids(ids))
        .execute(db.writer())
        .await?;
        return Ok(());
    }
    for chunk in ids.chunks(rows_per_statement(true, 1)) {
        let mut q = Sql::new(
            "UPDATE deliveries SET state = 'queued', lease_until = NULL, attempts = attempts - 1, due_at = ",
        );
        q.bind(now).push(", updated_at = ").bind(now);
        q.push(" WHERE state = 'sending' AND id IN ")
            .bind_list(chunk.iter().copied());
        q.query().execute(db.writer()).await?;
    }
    Ok(())
}

/// What [`mark_unknown`]'s attempt rows say.
const UNKNOWN: &str = "the outcome was lost (the daemon stopped or died mid-send); sent again, may reach the person twice";

/// Deliveries whose send may or may not have happened: queued again at
/// once, marked `maybe_duplicate`, with an attempt that says so.
pub async fn mark_unknown(db: &Db, ids: &[i64]) -> Result<(), StoreError> {
    let now = now_ms();
    if db.backend == Backend::Postgres {
        sqlx::query(
            "WITH u AS (UPDATE deliveries SET state = 'queued', lease_until = NULL, maybe_duplicate = 1, \
             due_at = $1, updated_at = $1 WHERE state = 'sending' AND id = ANY(CAST($2 AS bigint[])) RETURNING id) \
             INSERT INTO delivery_attempts (delivery_id, at, outcome, detail) \
             SELECT i, $1, 'unknown', $3 FROM unnest(CAST($2 AS bigint[])) AS i",
        )
        .bind(now)
        .bind(pg_ids(ids))
        .bind(UNKNOWN)
        .execute(db.writer())
        .await?;
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for chunk in ids.chunks(rows_per_statement(true, 1)) {
        let mut q = Sql::new(
            "UPDATE deliveries SET state = 'queued', lease_until = NULL, maybe_duplicate = 1, due_at = ",
        );
        q.bind(now).push(", updated_at = ").bind(now);
        q.push(" WHERE state = 'sending' AND id IN ")
            .bind_list(chunk.iter().copied());
        q.query().execute(&mut *tx).await?;
    }
    for chunk in ids.chunks(rows_per_statement(true, 3)) {
        let mut q =
            Sql::new("INSERT INTO delivery_attempts (delivery_id, at, outcome, detail) VALUES ");
        for (i, id) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(*id)
                .push(", ")
                .bind(now)
                .push(", 'unknown', ")
                .bind(UNKNOWN)
                .push(")");
        }
        q.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records a batch of outcomes, all or none: each delivery still `sending`
/// under the same claim (`attempts`) takes its new state, and every
/// outcome is logged as an attempt. A retry of a notice closed meanwhile
/// is not made: cancelled.
pub async fn record(db: &Db, changes: &[Change]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    match db.backend {
        Backend::Postgres => {
            // In id order: the statement's nested loop locks the rows in the
            // order of the batch (see `renew`).
            let mut changes: Vec<&Change> = changes.iter().collect();
            changes.sort_unstable_by_key(|c| c.id);
            let col =
                |f: fn(&Change) -> Option<&str>| pg_array::texts(changes.iter().map(|c| f(c)));
            sqlx::query(PG_RECORD)
                .bind(pg_array::bigints(changes.iter().map(|c| Some(c.id))))
                .bind(pg_array::bigints(changes.iter().map(|c| Some(c.attempts))))
                .bind(col(|c| Some(c.state)))
                .bind(col(|c| c.provider_id.as_deref()))
                .bind(pg_array::bigints(changes.iter().map(|c| c.due_at)))
                .bind(col(|c| c.last_error.as_deref()))
                .bind(col(|c| Some(c.attempt)))
                .bind(col(|c| Some(c.detail.as_str())))
                .bind(now)
                .bind(pg_array::bigints(changes.iter().map(|c| Some(c.refund))))
                .execute(db.writer())
                .await?;
            Ok(())
        }
        Backend::Sqlite => record_sqlite(db, changes, now).await,
    }
}

/// One statement, so one implicit transaction: the UPDATE in the `WITH`
/// runs to completion whether or not anything reads it. Planned as a
/// nested loop over the batch, each delivery found by primary key (an
/// extra `id = ANY(…)` made PostgreSQL scan the whole batch again for each
/// row: 2 s per 2,000).
const PG_RECORD: &str = "WITH v AS (SELECT * FROM UNNEST(CAST($1 AS bigint[]), CAST($2 AS bigint[]), \
    CAST($3 AS text[]), CAST($4 AS text[]), CAST($5 AS bigint[]), CAST($6 AS text[]), CAST($7 AS text[]), \
    CAST($8 AS text[]), CAST($10 AS bigint[])) AS v(id, attempts, state, provider_id, due_at, last_error, attempt, detail, refund)), \
    u AS (UPDATE deliveries d SET attempts = d.attempts - v.refund, state = CASE WHEN v.state = 'queued' AND EXISTS \
    (SELECT 1 FROM alerts a WHERE a.id = d.alert_id AND a.status = 'closed') THEN 'cancelled' ELSE v.state END, \
    provider_id = COALESCE(v.provider_id, d.provider_id), due_at = COALESCE(v.due_at, d.due_at), \
    last_error = v.last_error, lease_until = NULL, \
    sent_at = CASE WHEN v.state = 'sent' THEN $9 ELSE d.sent_at END, updated_at = $9 \
    FROM v WHERE d.id = v.id AND d.state = 'sending' \
    AND d.attempts = v.attempts RETURNING d.id) \
    INSERT INTO delivery_attempts (delivery_id, at, outcome, detail) SELECT id, $9, attempt, detail FROM v";

/// Set-based on SQLite too: one `UPDATE … FROM (VALUES …)` and one
/// multi-row INSERT of attempts per chunk of placeholders, in one
/// transaction. A statement costs ~20 µs through sqlx whatever its size,
/// so per-row statements capped recording near 10k/s.
async fn record_sqlite(db: &Db, changes: &[Change], now: i64) -> Result<(), StoreError> {
    let statements = record_statements(changes, now);
    if let Some(writer) = db.batched() {
        // One hand-off to the batched writer for the whole batch, in a
        // transaction shared with the answers arriving meanwhile.
        return writer
            .run(move |c| {
                for q in &statements {
                    c.execute(q)?;
                }
                Ok(())
            })
            .await;
    }
    let mut tx = db.begin().await?;
    for q in &statements {
        q.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The statements of [`record_sqlite`].
fn record_statements(changes: &[Change], now: i64) -> Vec<Sql> {
    let mut out = Vec::new();
    for chunk in changes.chunks(rows_per_statement(true, 7)) {
        let mut q = Sql::new(
            "UPDATE deliveries SET attempts = attempts - v.column7, state = CASE WHEN v.column2 = 'queued' AND EXISTS \
             (SELECT 1 FROM alerts a WHERE a.id = deliveries.alert_id AND a.status = 'closed') THEN 'cancelled' ELSE v.column2 END, \
             provider_id = COALESCE(v.column3, deliveries.provider_id), \
             due_at = COALESCE(v.column4, deliveries.due_at), last_error = v.column5, lease_until = NULL, \
             sent_at = CASE WHEN v.column2 = 'sent' THEN ",
        );
        q.bind(now)
            .push(" ELSE deliveries.sent_at END, updated_at = ")
            .bind(now)
            .push(" FROM (VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(c.id)
                .push(", ")
                .bind(c.state)
                .push(", ")
                .bind(c.provider_id.clone())
                .push(", ")
                .bind(c.due_at)
                .push(", ")
                .bind(c.last_error.clone())
                .push(", ")
                .bind(c.attempts)
                .push(", ")
                .bind(c.refund)
                .push(")");
        }
        q.push(
            ") AS v WHERE deliveries.id = v.column1 AND deliveries.state = 'sending' \
             AND deliveries.attempts = v.column6",
        );
        out.push(q);
    }
    for chunk in changes.chunks(rows_per_statement(true, 4)) {
        let mut q =
            Sql::new("INSERT INTO delivery_attempts (delivery_id, at, outcome, detail) VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(c.id)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(c.attempt)
                .push(", ")
                .bind(c.detail.as_str())
                .push(")");
        }
        out.push(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pg_ids;

    #[test]
    fn ids_travel_as_an_array_literal() {
        assert_eq!(pg_ids(&[]), "{}");
        assert_eq!(pg_ids(&[1, -2, 30]), "{1,-2,30}");
    }
}

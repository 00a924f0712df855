//! The daily self-check of each SMS path (通道自检, a canary): once a day at `canary.at` (local
//! time) a short test text goes over EACH configured path on its own — straight to that
//! provider, not through the failover — to the duty phone (`canary.to`, else the home
//! township's 应急办值班 contact), and its delivery receipt is awaited. A check fails when the
//! send fails, when the receipt says the handset did not get it, or when no receipt came within
//! `canary.receipt_minutes`; the path's latest check is on the overview, the worklist and
//! `GET /api/v1/channels` until the next good one.
//!
//! Driven by a clock the caller gives ([`tick`]); the daemon's loop ([`run`]) every
//! `canary.check_secs`. Each path's day is one row (`UNIQUE (channel, path, day)`): the insert
//! claims the day's send, so two daemons or a restart send it once; a daemon that died between
//! claiming and recording its send leaves a stale claim that is sent again (compare-and-set on
//! the claim) — as the outbox does with a cut send, the phone may then get it twice. A daemon
//! down at `canary.at` sends the day's check when it starts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;
use tokio::sync::watch;

use crate::notify::delivery::channel::{Outcome, SmsMessage};
use crate::notify::delivery::outbox::Notifier;
use crate::notify::delivery::paths::Failover;
use crate::store::{Db, Result};

const ACTOR: &str = "system:canary";

/// A claim whose send was never recorded (its daemon died) is sent again after this.
const STALE_CLAIM_MS: i64 = 120_000;

pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let secs = n.cfg.canary.check_secs;
    if !(secs.is_finite() && secs > 0.0) || n.senders.sms_paths.is_none() {
        return;
    }
    let every = Duration::from_secs_f64(secs.max(0.05));
    loop {
        if let Err(e) = tick(&n, crate::store::now_ms()).await {
            tracing::warn!(error = %e, "SMS self-check failed to run");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Self-checks sent (or found with nobody to send to).
    pub sent: usize,
    /// Checks given up waiting for their receipt.
    pub timed_out: usize,
}

fn local_day(tz: chrono_tz::Tz, now: i64) -> Option<NaiveDate> {
    chrono::Utc
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
}

fn instant(tz: chrono_tz::Tz, day: NaiveDate, t: NaiveTime) -> Option<i64> {
    tz.from_local_datetime(&day.and_time(t))
        .earliest()
        .map(|t| t.timestamp_millis())
}

fn at_time(n: &Notifier) -> NaiveTime {
    NaiveTime::parse_from_str(&n.cfg.canary.at, "%H:%M").unwrap_or(NaiveTime::MIN)
}

fn receipt_ms(n: &Notifier) -> i64 {
    n.cfg.canary.receipt_minutes.max(1) * 60_000
}

/// Sends the day's self-checks that are due at `now` and gives up on those whose receipt is
/// overdue.
pub async fn tick(n: &Notifier, now: i64) -> Result<TickReport> {
    let mut report = TickReport::default();
    let Some(f) = n.senders.sms_paths.clone() else {
        return Ok(report);
    };
    let tz = n.cfg.tz();
    if let Some(today) = local_day(tz, now)
        && instant(tz, today, at_time(n)).is_some_and(|at| now >= at)
    {
        let day = today.format("%Y-%m-%d").to_string();
        for i in 0..f.paths().len() {
            if let Some(id) = claim(&n.db, f.paths()[i].name, &day, now).await? {
                send(n, &f, i, id, now).await?;
                report.sent += 1;
            }
        }
    }
    report.timed_out = time_out(n, now).await?;
    Ok(report)
}

/// Takes the day's send of a path: a new row, or a claim left by a daemon that died before
/// recording its send. `None`: sent already, or being sent by someone else.
async fn claim(db: &Db, path: &str, day: &str, now: i64) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let new: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO canaries (township_id, channel, path, day, claimed_at) VALUES ($1, 'sms', $2, $3, $4) \
         ON CONFLICT (channel, path, day) DO NOTHING RETURNING id",
    )
    .bind(crate::registry::townships::HOME)
    .bind(path)
    .bind(day)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let id = match new {
        Some((id,)) => Some(id),
        None => {
            let stale: Option<(i64,)> = sqlx::query_as(
                "UPDATE canaries SET claimed_at = $1 WHERE channel = 'sms' AND path = $2 AND day = $3 \
                 AND status = 'sending' AND claimed_at <= $4 RETURNING id",
            )
            .bind(now)
            .bind(path)
            .bind(day)
            .bind(now - STALE_CLAIM_MS)
            .fetch_optional(&mut *tx)
            .await?;
            if stale.is_some() {
                tracing::warn!(
                    path,
                    day,
                    "a self-check claimed by a daemon that stopped is sent again"
                );
            }
            stale.map(|s| s.0)
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// The duty phone: `canary.to`, else the home township's first active 应急办值班 contact with a
/// phone.
async fn duty_phone(n: &Notifier) -> Result<Option<String>> {
    if let Ok(p) = crate::phone::normalise(&n.cfg.canary.to) {
        return Ok(Some(p));
    }
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT phone FROM contacts WHERE archived_at IS NULL AND active = 1 AND phone IS NOT NULL \
         AND phone <> '' AND township_id = $1 \
         AND id IN (SELECT contact_id FROM contact_roles WHERE role = $2) \
         ORDER BY escalation_order, id LIMIT 1",
    )
    .bind(crate::registry::townships::HOME)
    .bind(crate::registry::roles::DUTY_OFFICER)
    .fetch_optional(&n.db.pool)
    .await?;
    Ok(row.map(|r| r.0))
}

/// A path's name as the office reads it: (中文, English).
pub fn path_names(path: &str) -> (&'static str, &'static str) {
    match path {
        "aliyun" => ("阿里云短信", "Aliyun SMS"),
        "tencent" => ("腾讯云短信", "Tencent Cloud SMS"),
        "twilio" => ("Twilio 短信", "Twilio SMS"),
        "webhook" => ("短信网关接口", "SMS gateway (webhook)"),
        _ => ("短信通道", "SMS path"),
    }
}

/// The test text: “【…】烽火通道自检：阿里云短信 12月1日 09:00，无需回复”.
pub fn text(signature: &str, path: &str, tz: chrono_tz::Tz, now: i64) -> (String, String) {
    let when = chrono::Utc
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.with_timezone(&tz).format("%-m月%-d日 %H:%M").to_string())
        .unwrap_or_default();
    let body = format!("烽火通道自检：{} {when}，无需回复", path_names(path).0);
    (format!("{signature}{body}"), body)
}

/// Sends one path's self-check straight over that path and records what it answered.
async fn send(n: &Notifier, f: &Failover, i: usize, id: i64, now: i64) -> Result<()> {
    let path = f.paths()[i].name;
    let Some(phone) = duty_phone(n).await? else {
        tracing::warn!(
            path,
            "no SMS self-check: no canary.to and no 应急办值班 contact with a phone"
        );
        return finish(
            n,
            id,
            path,
            None,
            None,
            "failed",
            Some("no_phone"),
            None,
            now,
        )
        .await;
    };
    let (text, text_without_signature) = text(&n.cfg.sms.signature, path, n.cfg.tz(), now);
    let msg = SmsMessage {
        reference: format!("canary-{id}"),
        to: phone.clone(),
        text,
        text_without_signature,
    };
    match f.paths()[i].provider.send(&msg).await {
        Outcome::Sent { provider_id } => {
            finish(
                n,
                id,
                path,
                Some(&phone),
                Some(&provider_id),
                "waiting",
                None,
                None,
                now,
            )
            .await
        }
        Outcome::Transient(e)
        | Outcome::Permanent(e)
        | Outcome::Cancelled(e)
        | Outcome::Postponed { reason: e, .. } => {
            tracing::warn!(path, error = %e, "the SMS self-check could not be sent");
            finish(
                n,
                id,
                path,
                Some(&phone),
                None,
                "failed",
                Some("send_failed"),
                Some(&e),
                now,
            )
            .await
        }
    }
}

/// Records a send (or why there was none) on the claimed row, audited.
#[allow(clippy::too_many_arguments)]
async fn finish(
    n: &Notifier,
    id: i64,
    path: &str,
    phone: Option<&str>,
    provider_id: Option<&str>,
    status: &str,
    reason: Option<&str>,
    detail: Option<&str>,
    now: i64,
) -> Result<()> {
    let outcome = match (provider_id, reason) {
        (Some(_), _) => Some("sent"),
        (None, Some("send_failed")) => Some("failed"),
        _ => None,
    };
    let detail: Option<String> = detail.map(|d| d.chars().take(300).collect());
    let mut tx = n.db.begin().await?;
    let done = sqlx::query(
        "UPDATE canaries SET phone = $1, sent_at = $2, provider_id = $3, outcome = $4, detail = $5, \
         status = $6, reason = $7 WHERE id = $8 AND status = 'sending'",
    )
    .bind(phone)
    .bind(outcome.map(|_| now))
    .bind(provider_id)
    .bind(outcome)
    .bind(detail.clone())
    .bind(status)
    .bind(reason)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 1 {
        crate::audit::record(
            &mut tx,
            ACTOR,
            "send",
            "canary",
            Some(id),
            None,
            Some(&json!({ "path": path, "status": status, "reason": reason, "detail": detail })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Self-checks still waiting for their receipt after `canary.receipt_minutes`: failed.
async fn time_out(n: &Notifier, now: i64) -> Result<usize> {
    let mut tx = n.db.begin().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "UPDATE canaries SET status = 'failed', reason = 'no_receipt' \
         WHERE status = 'waiting' AND sent_at <= $1 RETURNING id, path",
    )
    .bind(now - receipt_ms(n))
    .fetch_all(&mut *tx)
    .await?;
    for (id, path) in &rows {
        tracing::warn!(
            path,
            minutes = n.cfg.canary.receipt_minutes,
            "no delivery receipt for the SMS self-check"
        );
        crate::audit::record(
            &mut tx,
            ACTOR,
            "fail",
            "canary",
            Some(*id),
            Some(&json!({ "status": "waiting" })),
            Some(&json!({ "path": path, "status": "failed", "reason": "no_receipt" })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// A receipt for a self-check (its path and that path's own message id), in the receipt's
/// transaction. A waiting check is good when delivered, failed otherwise; a late receipt is
/// kept but changes no verdict. True when it was a self-check's.
pub(crate) async fn receipt(
    conn: &mut AnyConnection,
    path: &str,
    provider_id: &str,
    delivered: bool,
    code: &str,
    at: i64,
) -> Result<bool> {
    let status = if delivered { "delivered" } else { "failed" };
    let done = sqlx::query(
        "UPDATE canaries SET receipt_status = $1, receipt_code = $2, receipt_at = $3, \
         reason = CASE WHEN status = 'waiting' AND $1 <> 'delivered' THEN 'undelivered' ELSE reason END, \
         status = CASE WHEN status <> 'waiting' THEN status WHEN $1 = 'delivered' THEN 'ok' ELSE 'failed' END \
         WHERE path = $4 AND provider_id = $5 AND receipt_status IS NULL",
    )
    .bind(status)
    .bind(code)
    .bind(at)
    .bind(path)
    .bind(provider_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// One self-check, as the overview and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct CanaryView {
    pub id: i64,
    /// The path: aliyun, tencent, twilio or webhook.
    pub path: String,
    /// The local day, YYYY-MM-DD.
    pub day: String,
    /// When it was sent (UTC ms); none when it could not be.
    pub sent_at: Option<i64>,
    /// sending, waiting (for its receipt), ok or failed.
    pub status: String,
    /// Why it failed: send_failed, no_receipt, undelivered (the receipt says so) or no_phone.
    pub reason: Option<String>,
    /// The provider's error text, when the send failed.
    pub detail: Option<String>,
    /// delivered or failed, as the receipt said.
    pub receipt_status: Option<String>,
    /// The provider's receipt code (DELIVERED, DELIVRD, 30003 …).
    pub receipt_code: Option<String>,
    pub receipt_at: Option<i64>,
    /// Sample data (`serve --demo`), never a real check.
    #[schema(value_type = bool)]
    pub sample: i64,
}

const COLUMNS: &str = "id, path, day, sent_at, status, reason, detail, receipt_status, receipt_code, receipt_at, sample";

/// The latest self-check of each path that has one (real ones before sample ones).
pub async fn latest(n: &Notifier) -> Result<Vec<CanaryView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM canaries c WHERE channel = 'sms' AND id = \
         (SELECT id FROM canaries l WHERE l.channel = 'sms' AND l.path = c.path \
          ORDER BY l.sample, l.day DESC, l.id DESC LIMIT 1) ORDER BY path"
    )))
    .fetch_all(&n.db.pool)
    .await?)
}

/// The most recent self-checks, newest first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<CanaryView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM canaries WHERE channel = 'sms' ORDER BY day DESC, id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// A configured path's self-check standing: its latest check, and whether it is failing
/// (failed, or missing: no check for the day one was due).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PathCheck {
    pub path: &'static str,
    pub failing: bool,
    /// The day a check was due and none was made, when that is why it is failing.
    pub missing_day: Option<String>,
    pub latest: Option<CanaryView>,
}

/// Every configured path's self-check standing at `now` (empty when SMS is spooled or off).
pub async fn state(n: &Notifier, now: i64) -> Result<Vec<PathCheck>> {
    let Some(f) = &n.senders.sms_paths else {
        return Ok(Vec::new());
    };
    let latest: Vec<CanaryView> = latest(n)
        .await?
        .into_iter()
        .filter(|c| c.sample == 0)
        .collect();
    let tz = n.cfg.tz();
    let on = n.cfg.canary.check_secs > 0.0;
    let today = local_day(tz, now);
    let due = today.and_then(|t| due_day(t, instant(tz, t, at_time(n))?, receipt_ms(n), now));
    Ok(f.paths()
        .iter()
        .map(|p| {
            let latest = latest.iter().find(|c| c.path == p.name).cloned();
            let missing_day = match (on, today, due) {
                (true, Some(today), Some(due)) => {
                    missing(latest.as_ref().map(|c| c.day.as_str()), today, due)
                }
                _ => None,
            };
            let failed = latest.as_ref().is_some_and(|c| c.status == "failed");
            PathCheck {
                path: p.name,
                failing: failed || missing_day.is_some(),
                missing_day,
                latest,
            }
        })
        .collect())
}

/// The day whose check should be there at `now`: today once its receipt had time to come
/// (`at` is today's `canary.at`), else yesterday.
fn due_day(today: NaiveDate, at: i64, receipt_ms: i64, now: i64) -> Option<NaiveDate> {
    if now >= at + receipt_ms {
        Some(today)
    } else {
        today.pred_opt()
    }
}

/// The day a check is missing for, given the latest one's day: the due day when the latest is
/// older. A path with no check at all is missing only once today's is due (one configured
/// after yesterday's time is not).
fn missing(latest: Option<&str>, today: NaiveDate, due: NaiveDate) -> Option<String> {
    let due_text = due.format("%Y-%m-%d").to_string();
    match latest {
        Some(day) if day < due_text.as_str() => Some(due_text),
        None if due == today => Some(due_text),
        _ => None,
    }
}

/// Sample self-checks for `serve --demo`: the last three days over 阿里云 and 腾讯云, one of
/// them without its receipt.
pub async fn load_samples(db: &Db, tz: chrono_tz::Tz, today: NaiveDate) -> Result<()> {
    let mut tx = db.begin().await?;
    for back in 1..=3_i64 {
        let Some(day) = today.checked_sub_days(chrono::Days::new(back as u64)) else {
            continue;
        };
        let at = instant(
            tz,
            day,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
        )
        .unwrap_or(0);
        for (k, path) in ["aliyun", "tencent"].iter().enumerate() {
            let lost = back == 2 && *path == "tencent";
            sqlx::query(
                "INSERT INTO canaries (township_id, channel, path, day, phone, claimed_at, sent_at, provider_id, \
                 outcome, receipt_status, receipt_code, receipt_at, status, reason, sample) \
                 VALUES ($1, 'sms', $2, $3, $4, $5, $5, $6, 'sent', $7, $8, $9, $10, $11, 1) \
                 ON CONFLICT (channel, path, day) DO NOTHING",
            )
            .bind(crate::registry::townships::HOME)
            .bind(*path)
            .bind(day.format("%Y-%m-%d").to_string())
            .bind("+8613905951200")
            .bind(at)
            .bind(format!("sample-{back}-{k}"))
            .bind((!lost).then_some("delivered"))
            .bind((!lost).then_some(if k == 0 { "DELIVERED" } else { "DELIVRD" }))
            .bind((!lost).then_some(at + 8_000))
            .bind(if lost { "failed" } else { "ok" })
            .bind(lost.then_some("no_receipt"))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_the_path_and_the_local_time() {
        // 2024-12-01 01:00 UTC is 09:00 in Shanghai.
        let now = 1_733_014_800_000;
        let (text, without) = text("【湖上乡应急办】", "aliyun", chrono_tz::Asia::Shanghai, now);
        assert_eq!(
            text,
            "【湖上乡应急办】烽火通道自检：阿里云短信 12月1日 09:00，无需回复"
        );
        assert_eq!(without, "烽火通道自检：阿里云短信 12月1日 09:00，无需回复");
        let (text, _) = text_for_tencent(now);
        assert!(text.contains("腾讯云短信"), "{text}");
    }

    #[test]
    fn a_missing_check_is_the_due_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day");
        let (today, yesterday) = (d("2024-12-02"), d("2024-12-01"));
        // 09:00 Shanghai on 2024-12-02, receipts within 15 minutes.
        let at = 1_733_101_200_000;
        let quarter = 15 * 60_000;
        assert_eq!(due_day(today, at, quarter, at), Some(yesterday));
        assert_eq!(due_day(today, at, quarter, at + quarter), Some(today));
        // Yesterday's was made: nothing missing before today's is due, today's after.
        assert_eq!(missing(Some("2024-12-01"), today, yesterday), None);
        assert_eq!(
            missing(Some("2024-12-01"), today, today).as_deref(),
            Some("2024-12-02")
        );
        assert_eq!(missing(Some("2024-12-02"), today, today), None);
        // The daemon was down yesterday: missing until today's is made.
        assert_eq!(
            missing(Some("2024-11-30"), today, yesterday).as_deref(),
            Some("2024-12-01")
        );
        // Never checked: only today's counts as missing.
        assert_eq!(missing(None, today, yesterday), None);
        assert_eq!(missing(None, today, today).as_deref(), Some("2024-12-02"));
    }

    fn text_for_tencent(now: i64) -> (String, String) {
        text("【x】", "tencent", chrono_tz::Asia::Shanghai, now)
    }
}

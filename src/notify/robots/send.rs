//! The worker that sends the robots' posts, a round at a time ([`tick`]:
//! the daemon's loop every `robots.check_secs`; tests drive it with their
//! own clock). A round first lets `follow` write what the open notices'
//! counts call for, then each robot with a post due is sent to by one
//! daemon at a time (a lease on the robot row), its posts in order, at most
//! 20 tries in any minute (the providers' limit, counted from
//! `robot_attempts` on the round's clock). A post that fails for a passing
//! reason is tried again with backoff for `robots.retry_for_mins`; one
//! refused for good is failed with the provider's message, shown on the
//! notice's page. A post found `sending` when its robot is claimed lost its
//! outcome with a daemon that stopped: it is sent again (an `unknown`
//! attempt is logged).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::RobotRow;
use super::client::{self, Post};
use super::message::{self, MsgType};
use crate::notify::delivery::channel::Outcome;
use crate::notify::delivery::outbox::Notifier;
use crate::store::{Db, StoreError, now_ms};

/// The providers' limit: messages a robot takes in any minute (WeCom,
/// DingTalk and Feishu alike).
pub const PER_MINUTE: i64 = 20;
const MINUTE_MS: i64 = 60_000;
/// How long a daemon holds a robot while it sends (plus the HTTP timeout per post).
const LEASE_MS: i64 = 60_000;
const BACKOFF_BASE_MS: i64 = 10_000;
const BACKOFF_MAX_MS: i64 = 300_000;
/// Robots sent to at once.
const CONCURRENCY: usize = 8;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Posts the providers took.
    pub sent: usize,
    /// Posts to try again later.
    pub retried: usize,
    /// Posts given up (refused, or out of time).
    pub failed: usize,
    /// Robots whose next post waits for the 20-a-minute limit.
    pub held: usize,
    /// Updates and final posts written.
    pub written: usize,
}

impl TickReport {
    fn add(&mut self, o: TickReport) {
        self.sent += o.sent;
        self.retried += o.retried;
        self.failed += o.failed;
        self.held += o.held;
        self.written += o.written;
    }
}

/// The daemon's loop: a round every `robots.check_secs` (0: never).
pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let secs = n.cfg.robots.check_secs;
    if !(secs.is_finite() && secs > 0.0) {
        return;
    }
    // One process owns a SQLite file: a robot it held when it stopped is its
    // own again at once (its post in flight is sent again).
    if n.db.backend == crate::store::Backend::Sqlite
        && let Err(e) = sqlx::query("UPDATE group_robots SET send_lease_until = NULL")
            .execute(&n.db.pool)
            .await
    {
        tracing::warn!(error = %e, "group robots: leases not released");
    }
    let every = Duration::from_secs_f64(secs.max(0.05));
    loop {
        tokio::select! {
            r = tick(&n, now_ms()) => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "group robot round failed");
                }
            }
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
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

/// One round at `now` (UTC ms): follow open notices, then send what is due.
pub async fn tick(n: &Arc<Notifier>, now: i64) -> Result<TickReport, StoreError> {
    let started = Instant::now();
    let mut report = TickReport {
        written: super::follow::follow(n, now).await?,
        ..TickReport::default()
    };
    let robots: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT robot_id FROM robot_posts WHERE status IN ('queued', 'sending') AND next_at <= $1 ORDER BY robot_id",
    )
    .bind(now)
    .fetch_all(&n.db.pool)
    .await?;
    let mut set = tokio::task::JoinSet::new();
    let mut first_error = None;
    let mut merge = |r: Result<Result<TickReport, StoreError>, tokio::task::JoinError>| match r {
        Ok(Ok(t)) => report.add(t),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "group robot: sending failed");
            first_error.get_or_insert(e);
        }
        Err(e) => tracing::error!(error = %e, "group robot: sender task failed"),
    };
    for (robot,) in robots {
        while set.len() >= CONCURRENCY {
            if let Some(r) = set.join_next().await {
                merge(r);
            }
        }
        let n = n.clone();
        set.spawn(async move { send_robot(&n, robot, now, started).await });
    }
    while let Some(r) = set.join_next().await {
        merge(r);
    }
    match first_error {
        Some(e) if report == TickReport::default() => Err(e),
        _ => Ok(report),
    }
}

/// `now` moved on by the time this round has taken: when a try really
/// happened on the round's clock (the limit counts tries a minute apart).
fn clock(now: i64, started: Instant) -> i64 {
    now + i64::try_from(started.elapsed().as_millis()).unwrap_or(0)
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    alert_id: Option<i64>,
    kind: String,
    msgtype: String,
    body: Option<String>,
    mentions: Option<String>,
    status: String,
    attempts: i64,
    next_at: i64,
    created_at: i64,
}

/// Until when a daemon holds a robot that it starts a post to at `at`.
fn lease(n: &Notifier, at: i64) -> i64 {
    let timeout = i64::try_from(n.cfg.robots.timeout_secs).unwrap_or(60);
    at + LEASE_MS + timeout.saturating_mul(1000)
}

/// Sends a robot's due posts, in order, if no other daemon is.
async fn send_robot(
    n: &Notifier,
    robot_id: i64,
    now: i64,
    started: Instant,
) -> Result<TickReport, StoreError> {
    let held = lease(n, now);
    let claimed = sqlx::query(
        "UPDATE group_robots SET send_lease_until = $1 WHERE id = $2 AND (send_lease_until IS NULL OR send_lease_until <= $3)",
    )
    .bind(held)
    .bind(robot_id)
    .bind(now)
    .execute(&n.db.pool)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(TickReport::default());
    }
    let result = send_claimed(n, robot_id, now, started, held).await;
    // Released whatever happened (a renewed lease is ours too).
    if let Err(e) = sqlx::query(
        "UPDATE group_robots SET send_lease_until = NULL WHERE id = $1 AND send_lease_until >= $2",
    )
    .bind(robot_id)
    .bind(held)
    .execute(&n.db.pool)
    .await
    {
        tracing::warn!(robot = robot_id, error = %e, "group robot: lease kept until it runs out");
    }
    result
}

async fn send_claimed(
    n: &Notifier,
    robot_id: i64,
    now: i64,
    started: Instant,
    held: i64,
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let robot: Option<RobotRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM group_robots WHERE id = $1",
        super::COLS
    )))
    .bind(robot_id)
    .fetch_optional(&n.db.pool)
    .await?;
    loop {
        let post: Option<PostRow> = sqlx::query_as(
            "SELECT id, alert_id, kind, msgtype, body, mentions, status, attempts, next_at, created_at FROM robot_posts \
             WHERE robot_id = $1 AND status IN ('queued', 'sending') ORDER BY id LIMIT 1",
        )
        .bind(robot_id)
        .fetch_optional(&n.db.pool)
        .await?;
        let Some(mut post) = post else { break };
        let at = clock(now, started);
        if post.next_at > at {
            break;
        }
        let usable = robot
            .as_ref()
            .filter(|r| r.active != 0 && r.archived_at.is_none())
            .and_then(|r| r.kind().map(|k| (r, k)));
        let Some((robot, kind)) = usable else {
            give_up(
                n,
                &post,
                at,
                "机器人已停用或已归档 / the robot is switched off",
            )
            .await?;
            report.failed += 1;
            continue;
        };
        if post.status == "sending" {
            // Claimed by a daemon that stopped while sending: whether the
            // group got it is not known; it is sent again.
            log_attempt(
                &n.db,
                post.id,
                robot_id,
                at,
                "unknown",
                Some("outcome lost: the daemon stopped while sending; sent again"),
            )
            .await?;
        }
        let (recent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM robot_attempts WHERE robot_id = $1 AND at > $2")
                .bind(robot_id)
                .bind(at - MINUTE_MS)
                .fetch_one(&n.db.pool)
                .await?;
        if recent >= PER_MINUTE {
            report.held += 1;
            break;
        }
        if post.body.is_none() {
            match super::follow::write_summary(n, robot, kind, post.id, post.alert_id, at).await? {
                Some((t, body, mentions)) => {
                    post.msgtype = t.as_str().into();
                    post.body = Some(body);
                    post.mentions = Some(mentions);
                }
                None => {
                    give_up(n, &post, at, "the notice is gone").await?;
                    report.failed += 1;
                    continue;
                }
            }
        }
        let marked = sqlx::query(
            "UPDATE robot_posts SET status = 'sending', attempts = attempts + 1, updated_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'sending')",
        )
        .bind(at)
        .bind(post.id)
        .execute(&n.db.pool)
        .await?
        .rows_affected()
            == 1;
        if !marked {
            continue;
        }
        sqlx::query("UPDATE group_robots SET send_lease_until = $1 WHERE id = $2 AND send_lease_until >= $3")
            .bind(held.max(lease(n, at)))
            .bind(robot_id)
            .bind(held)
            .execute(&n.db.pool)
            .await?;
        let mentions: Vec<String> = post
            .mentions
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        let payload = message::payload(
            kind,
            MsgType::parse(&post.msgtype),
            post.body.as_deref().unwrap_or(""),
            &mentions,
        );
        let outcome = client::send(
            &Post {
                kind,
                webhook_url: &robot.webhook_url,
                secret: robot.secret.as_deref(),
                payload,
            },
            n.cfg.robots.timeout_secs,
        )
        .await;
        let at = clock(now, started);
        let tries = post.attempts + 1;
        match record(n, &post, robot_id, tries, &outcome, at).await? {
            Recorded::Sent => report.sent += 1,
            Recorded::Retry => {
                report.retried += 1;
                // The head waits; so do the posts after it (in order).
                break;
            }
            Recorded::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

async fn log_attempt(
    db: &Db,
    post: i64,
    robot: i64,
    at: i64,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO robot_attempts (post_id, robot_id, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(post)
    .bind(robot)
    .bind(at)
    .bind(outcome)
    .bind(detail)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A post that will never go, with why.
async fn give_up(n: &Notifier, post: &PostRow, at: i64, why: &str) -> Result<(), StoreError> {
    let mut tx = n.db.begin().await?;
    sqlx::query(
        "UPDATE robot_posts SET status = 'failed', last_error = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(why)
    .bind(at)
    .bind(post.id)
    .execute(&mut *tx)
    .await?;
    if post.kind == "summary"
        && let Some(alert) = post.alert_id
    {
        sqlx::query("UPDATE robot_follows SET done = 1 WHERE alert_id = $1 AND robot_id = (SELECT robot_id FROM robot_posts WHERE id = $2)")
            .bind(alert)
            .bind(post.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

enum Recorded {
    Sent,
    Retry,
    Failed,
}

/// Records a try's outcome: sent; queued again after a backoff (while
/// `robots.retry_for_mins` lasts); or failed with the provider's message.
async fn record(
    n: &Notifier,
    post: &PostRow,
    robot_id: i64,
    tries: i64,
    outcome: &Outcome,
    at: i64,
) -> Result<Recorded, StoreError> {
    let retry_for = (n.cfg.robots.retry_for_mins * 60_000.0) as i64;
    let (status, error, next_at, attempt, recorded) = match outcome {
        Outcome::Sent { .. } => ("sent", None, at, "sent", Recorded::Sent),
        Outcome::Transient(d) if at - post.created_at < retry_for => {
            let backoff = BACKOFF_BASE_MS
                .saturating_mul(1 << (tries - 1).clamp(0, 20))
                .min(BACKOFF_MAX_MS);
            (
                "queued",
                Some(d.clone()),
                at + backoff,
                "retry",
                Recorded::Retry,
            )
        }
        Outcome::Transient(d) => (
            "failed",
            Some(format!("{d}（已重试 {tries} 次，放弃 / gave up）")),
            at,
            "failed",
            Recorded::Failed,
        ),
        Outcome::Permanent(d) | Outcome::Cancelled(d) => {
            ("failed", Some(d.clone()), at, "failed", Recorded::Failed)
        }
        Outcome::Postponed { until, reason } => (
            "queued",
            Some(reason.clone()),
            *until,
            "retry",
            Recorded::Retry,
        ),
    };
    let mut tx = n.db.begin().await?;
    sqlx::query(
        "UPDATE robot_posts SET status = $1, last_error = $2, next_at = $3, updated_at = $4, \
         sent_at = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_at END WHERE id = $5",
    )
    .bind(status)
    .bind(error.clone())
    .bind(next_at)
    .bind(at)
    .bind(post.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO robot_attempts (post_id, robot_id, at, outcome, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(post.id)
    .bind(robot_id)
    .bind(at)
    .bind(attempt)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    if status == "failed"
        && post.kind == "summary"
        && let Some(alert) = post.alert_id
    {
        // A group that never got the notice gets no counts about it.
        sqlx::query("UPDATE robot_follows SET done = 1 WHERE alert_id = $1 AND robot_id = $2")
            .bind(alert)
            .bind(robot_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(recorded)
}

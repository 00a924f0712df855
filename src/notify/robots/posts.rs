//! The robots' posts: an outbox like the deliveries', and the worker that
//! sends it and follows open notices.
//!
//! - A notice turning active writes a `summary` post (and a `robot_follows`
//!   row) for each active robot of its township's office and of the
//!   villages it reaches, in the very transaction that turns it active
//!   ([`on_active`], under a savepoint: a failure here is logged and never
//!   holds a notice back). The unique index keeps it one per robot.
//! - [`tick`] (the daemon's loop every `robots.check_secs`; tests drive it
//!   with their own clock) first looks at every followed notice: when its
//!   answer counts changed since the last post and `robots.update_secs`
//!   have passed, an `update` is written; when everyone has answered, the
//!   `final` 全部叫应; when it closes, nothing more. Each is a
//!   compare-and-set on the follow's post count, so two daemons write it once.
//! - Then each robot with a post due is sent to by one daemon at a time (a
//!   lease on the robot row), its posts in order, at most 20 tries in any
//!   minute (the providers' limit, counted from `robot_attempts`). A post
//!   that fails for a passing reason is tried again with backoff for
//!   `robots.retry_for_mins`; one refused for good is failed with the
//!   provider's message, shown on the notice's page. A post found `sending`
//!   when its robot is claimed lost its outcome with a daemon that stopped:
//!   it is sent again (an `unknown` attempt is logged).
//!
//! A summary's text is written when it is first sent, with the answer
//! counts then (they start the follow); updates and the final post are
//! written when they are decided.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use super::client::{self, Post};
use super::message::{self, Counts, Doc, MsgType, Notice};
use super::{Kind, RobotRow};
use crate::auth::Actor;
use crate::notify::delivery::channel::Outcome;
use crate::notify::delivery::outbox::Notifier;
use crate::store::{Db, Sql, StoreError, WriteError, now_ms};

const ACTOR: &str = "system:robots";

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

/// Writes the summary posts of a notice that has just turned active, inside
/// the transaction that turns it (`conn`), under a savepoint of its own.
pub(crate) async fn on_active(conn: &mut sqlx::AnyConnection, alert_id: i64) {
    let mut sp = match sqlx::Connection::begin(&mut *conn).await {
        Ok(sp) => sp,
        Err(e) => {
            tracing::warn!(alert = alert_id, error = %e, "group robots: no savepoint; no summary posted");
            return;
        }
    };
    match enqueue_summaries(&mut sp, alert_id, now_ms()).await {
        Ok(n) => {
            if let Err(e) = sp.commit().await {
                tracing::warn!(alert = alert_id, error = %e, "group robots: summaries not written");
            } else if n > 0 {
                tracing::debug!(alert = alert_id, robots = n, "group robot summaries queued");
            }
        }
        Err(e) => {
            tracing::warn!(alert = alert_id, error = %e, "group robots: summaries not written");
            let _ = sp.rollback().await;
        }
    }
}

/// The villages a notice concerns: those it named or its area reached
/// (`targets.villages`) and those of the people it reached, with each one's
/// township.
async fn notice_villages(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    targets: &str,
) -> Result<BTreeMap<i64, i64>, StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT v.id, v.township_id FROM villages v WHERE v.id IN \
         (SELECT DISTINCT r.village_id FROM alert_recipients r WHERE r.alert_id = $1 AND r.village_id IS NOT NULL)",
    )
    .bind(alert_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: BTreeMap<i64, i64> = rows.into_iter().collect();
    let named: Vec<i64> = serde_json::from_str::<serde_json::Value>(targets)
        .ok()
        .and_then(|v| v.get("villages").cloned())
        .and_then(|v| serde_json::from_value::<Vec<i64>>(v).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !out.contains_key(v))
        .collect();
    for part in named.chunks(500) {
        let mut q = Sql::new("SELECT id, township_id FROM villages WHERE id IN ");
        q.bind_list(part.iter().copied());
        let rows: Vec<(i64, i64)> = q.query_as().fetch_all(&mut *conn).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Queues a summary for every active robot of the notice's township office,
/// of the offices of the townships it reaches and of the villages it
/// reaches. Receipts and daily-report asks (which ask nothing of a group)
/// post nothing. Returns the robots queued for.
pub(crate) async fn enqueue_summaries(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let alert: Option<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT township_id, targets, msg_type, own_reply FROM alerts WHERE id = $1",
    )
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((township, targets, msg_type, own_reply)) = alert else {
        return Ok(0);
    };
    if msg_type == "Ack" || own_reply != 0 {
        return Ok(0);
    }
    let robots: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, township_id, village_id FROM group_robots WHERE active = 1 AND archived_at IS NULL ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    if robots.is_empty() {
        return Ok(0);
    }
    let villages = notice_villages(conn, alert_id, &targets).await?;
    let townships: BTreeSet<i64> = villages
        .values()
        .copied()
        .chain(std::iter::once(township))
        .collect();
    let mut queued = 0;
    for (robot, robot_township, village) in robots {
        let concerned = match village {
            Some(v) => villages.contains_key(&v),
            None => townships.contains(&robot_township),
        };
        if !concerned {
            continue;
        }
        sqlx::query(
            "INSERT INTO robot_posts (township_id, robot_id, alert_id, kind, msgtype, status, attempts, next_at, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, 'summary', 'text', 'queued', 0, $4, $5, $4, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(robot_township)
        .bind(robot)
        .bind(alert_id)
        .bind(now)
        .bind(ACTOR)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO robot_follows (alert_id, robot_id, township_id, posted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(alert_id)
        .bind(robot)
        .bind(robot_township)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        queued += 1;
    }
    Ok(queued)
}

/// Queues the office's "send a test message" for a robot; returns the post.
pub async fn enqueue_test(
    db: &Db,
    actor: &Actor,
    robot_id: i64,
    office: &str,
    tz: chrono_tz::Tz,
) -> Result<i64, WriteError> {
    let robot = super::get(db, robot_id)
        .await?
        .filter(|r| r.archived_at.is_none())
        .ok_or(WriteError::NotFound)?;
    if robot.active == 0 {
        return Err(WriteError::field(
            "active",
            "this robot is switched off: switch it on to test it (机器人已停用)",
        ));
    }
    let kind = robot.kind().ok_or(WriteError::NotFound)?;
    let now = now_ms();
    let doc = message::test(office, &robot.name, &local(now, tz, "%-m月%-d日 %H:%M"));
    let msgtype = MsgType::for_robot(kind, false);
    let body = message::write(&doc, kind, msgtype);
    let mut tx = db.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO robot_posts (township_id, robot_id, kind, msgtype, body, status, attempts, next_at, created_by, created_at, updated_at) \
         VALUES ($1, $2, 'test', $3, $4, 'queued', 0, $5, $6, $5, $5) RETURNING id",
    )
    .bind(robot.township_id)
    .bind(robot.id)
    .bind(msgtype.as_str())
    .bind(&body)
    .bind(now)
    .bind(&actor.name)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "test",
        "group_robot",
        Some(robot.id),
        None,
        Some(&json!({"post": id})),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

fn local(ms: i64, tz: chrono_tz::Tz, format: &str) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&tz).format(format).to_string())
        .unwrap_or_default()
}

/// One post of a group, as a notice's page and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupPost {
    pub id: i64,
    pub robot_id: i64,
    /// The robot's name (the group).
    pub robot: String,
    /// wecom | dingtalk | feishu
    pub robot_kind: String,
    /// The village whose group it is; None: the office's.
    pub village: Option<String>,
    pub alert_id: Option<i64>,
    /// summary | update | final | test
    pub kind: String,
    /// queued | sending | sent | failed | superseded (an update overtaken by 全部叫应)
    pub status: String,
    pub attempts: i64,
    pub created_at: String,
    pub sent_at: Option<String>,
    /// Why it failed, or why it is being tried again: the provider's message.
    pub error: Option<String>,
    /// What was posted (markdown or text), once written.
    pub body: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PostView {
    id: i64,
    robot_id: i64,
    robot: String,
    robot_kind: String,
    village: Option<String>,
    alert_id: Option<i64>,
    kind: String,
    status: String,
    attempts: i64,
    created_at: i64,
    sent_at: Option<i64>,
    last_error: Option<String>,
    body: Option<String>,
}

const POST_VIEW: &str = "SELECT p.id, p.robot_id, r.name AS robot, r.kind AS robot_kind, \
    (SELECT v.name FROM villages v WHERE v.id = r.village_id) AS village, p.alert_id, p.kind, p.status, \
    p.attempts, p.created_at, p.sent_at, p.last_error, p.body FROM robot_posts p JOIN group_robots r ON r.id = p.robot_id";

impl PostView {
    fn view(self, tz: chrono_tz::Tz) -> GroupPost {
        GroupPost {
            id: self.id,
            robot_id: self.robot_id,
            robot: self.robot,
            robot_kind: self.robot_kind,
            village: self.village,
            alert_id: self.alert_id,
            kind: self.kind,
            status: self.status,
            attempts: self.attempts,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            sent_at: crate::time::fmt_opt(self.sent_at, tz),
            error: self.last_error,
            body: self.body,
        }
    }
}

/// A notice's group posts the handle's scope covers, oldest first.
pub async fn for_alert(
    db: &Db,
    alert_id: i64,
    tz: chrono_tz::Tz,
) -> Result<Vec<GroupPost>, StoreError> {
    let mut tx = db.read().await?;
    let rows: Vec<PostView> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{POST_VIEW} WHERE p.alert_id = $1 AND {} AND {} ORDER BY p.id",
        db.township_filter("p.township_id"),
        db.village_filter("r.village_id")
    )))
    .bind(alert_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.view(tz)).collect())
}

/// A robot's latest posts (at most `limit`), newest first.
pub async fn for_robot(
    db: &Db,
    robot_id: i64,
    limit: i64,
    tz: chrono_tz::Tz,
) -> Result<Vec<GroupPost>, StoreError> {
    let mut tx = db.read().await?;
    let rows: Vec<PostView> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{POST_VIEW} WHERE p.robot_id = $1 AND {} AND {} ORDER BY p.id DESC LIMIT $2",
        db.township_filter("p.township_id"),
        db.village_filter("r.village_id")
    )))
    .bind(robot_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.view(tz)).collect())
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
        written: follow(n, now).await?,
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
            match write_summary(n, robot, kind, &post, at).await? {
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
        Outcome::Permanent(d) => ("failed", Some(d.clone()), at, "failed", Recorded::Failed),
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

#[derive(sqlx::FromRow)]
struct AlertFacts {
    id: i64,
    township_id: i64,
    title: String,
    body: String,
    level: Option<i64>,
    exercise: i64,
    msg_type: String,
    targets: String,
    ack_within_minutes: Option<i64>,
    created_at: i64,
}

async fn alert_facts(n: &Notifier, id: i64) -> Result<Option<AlertFacts>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, township_id, title, body, level, exercise, msg_type, targets, ack_within_minutes, created_at \
         FROM alerts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&n.db.pool)
    .await?)
}

/// The notice as a group's posts describe it: what differs per recipient
/// written for the group (各位, the group's village, the answer time) and
/// never an answer link.
async fn notice(
    n: &Notifier,
    a: &AlertFacts,
    robot: &RobotRow,
    with_villages: bool,
) -> Result<Notice, StoreError> {
    let tz = n.cfg.tz();
    let answer_within = a
        .ack_within_minutes
        .map(|m| (m, local(a.created_at + m * 60_000, tz, "%H:%M")));
    let deadline = answer_within
        .as_ref()
        .map_or_else(|| "规定时间".to_string(), |(_, by)| by.clone());
    let village = robot
        .village_name
        .clone()
        .unwrap_or_else(|| "各村".to_string());
    let fill = |t: &str| {
        crate::notify::intake::template::render(t, |v| match v {
            "name" => "各位".to_string(),
            "village" => village.clone(),
            "deadline" => deadline.clone(),
            "link" => "（确认链接见短信）".to_string(),
            _ => String::new(),
        })
        .unwrap_or_else(|_| t.to_string())
    };
    let villages = if with_villages {
        let mut conn = n.db.pool.acquire().await?;
        let ids = notice_villages(&mut conn, a.id, &a.targets).await?;
        let mine: Vec<i64> = ids
            .into_iter()
            .filter(|(_, t)| *t == robot.township_id)
            .map(|(v, _)| v)
            .collect();
        let mut names: Vec<(String, String)> = Vec::new();
        for part in mine.chunks(500) {
            let mut q = Sql::new("SELECT code, name FROM villages WHERE id IN ");
            q.bind_list(part.iter().copied());
            let rows: Vec<(String, String)> = q.query_as().fetch_all(&mut *conn).await?;
            names.extend(rows);
        }
        names.sort();
        names.into_iter().map(|(_, name)| name).collect()
    } else {
        Vec::new()
    };
    let base = n.cfg.public_base_url.trim_end_matches('/');
    Ok(Notice {
        title: fill(&a.title),
        body: fill(&a.body),
        level: a.level,
        exercise: a.exercise != 0,
        msg_type: a.msg_type.clone(),
        office: n.cfg.office_name.clone(),
        sent_at: local(a.created_at, tz, "%-m月%-d日 %H:%M"),
        answer_within,
        villages,
        board: (!base.is_empty()).then(|| format!("{base}/alerts/{}", a.id)),
    })
}

/// The answer counts a robot's group sees at `at`: a village's group its
/// village's people; an office's group every village of its township (and
/// the township's own contacts), village by village. With the last answer's time.
async fn counts(
    n: &Notifier,
    a: &AlertFacts,
    robot: &RobotRow,
    at: i64,
) -> Result<(Counts, Option<i64>), StoreError> {
    // Not answered within the notice's window: overdue.
    let cutoff = a.ack_within_minutes.map_or(i64::MIN, |m| at - m * 60_000);
    type Row = (
        Option<i64>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        Option<i64>,
    );
    let rows: Vec<Row> = match robot.village_id {
        Some(v) => sqlx::query_as(
            "SELECT r.village_id, CAST(NULL AS TEXT), CAST(NULL AS TEXT), COUNT(*), \
             CAST(COALESCE(SUM(CASE WHEN r.answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN r.answered_at IS NULL AND r.notified_at <= $3 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             MAX(r.answered_at) FROM alert_recipients r WHERE r.alert_id = $1 AND r.village_id = $2 GROUP BY r.village_id",
        )
        .bind(a.id)
        .bind(v)
        .bind(cutoff)
        .fetch_all(&n.db.pool)
        .await?,
        None => sqlx::query_as(
            "SELECT r.village_id, v.code, v.name, COUNT(*), \
             CAST(COALESCE(SUM(CASE WHEN r.answered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN r.answered_at IS NULL AND r.notified_at <= $2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             MAX(r.answered_at) FROM alert_recipients r \
             LEFT JOIN villages v ON v.id = r.village_id LEFT JOIN contacts c ON c.id = r.contact_id \
             WHERE r.alert_id = $1 AND COALESCE(v.township_id, c.township_id, $3) = $4 \
             GROUP BY r.village_id, v.code, v.name",
        )
        .bind(a.id)
        .bind(cutoff)
        .bind(a.township_id)
        .bind(robot.township_id)
        .fetch_all(&n.db.pool)
        .await?,
    };
    let mut rows = rows;
    // The township's own contacts first, then villages by code.
    rows.sort_by(|x, y| (x.0.is_some(), &x.1).cmp(&(y.0.is_some(), &y.1)));
    let mut c = Counts::default();
    let mut last = None;
    for (village, _, name, total, answered, overdue, at) in rows {
        c.total += total;
        c.answered += answered;
        c.overdue += overdue;
        last = last.max(at);
        let name = match village {
            None => crate::notify::response::status::TOWNSHIP_LEVEL.to_string(),
            Some(_) => name.unwrap_or_default(),
        };
        c.villages.push((name, total, answered, overdue));
    }
    Ok((c, last))
}

/// The phones @mentioned in a village's group: its 村支书 and 包村干部.
async fn mentions(n: &Notifier, village: i64) -> Result<Vec<String>, StoreError> {
    let phones: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT c.phone FROM contacts c JOIN contact_roles cr ON cr.contact_id = c.id \
         WHERE c.village_id = $1 AND cr.role IN ('村支书', '包村干部') AND c.active = 1 AND c.archived_at IS NULL \
         AND c.phone IS NOT NULL ORDER BY c.phone",
    )
    .bind(village)
    .fetch_all(&n.db.pool)
    .await?;
    Ok(phones
        .into_iter()
        .filter_map(|(p,)| message::mobile(&p))
        .collect())
}

/// Writes a summary's text as it is first sent (the counts now), and starts
/// its notice's follow from those counts. `None` when the notice is gone.
async fn write_summary(
    n: &Notifier,
    robot: &RobotRow,
    kind: Kind,
    post: &PostRow,
    at: i64,
) -> Result<Option<(MsgType, String, String)>, StoreError> {
    let Some(alert_id) = post.alert_id else {
        return Ok(None);
    };
    let Some(a) = alert_facts(n, alert_id).await? else {
        return Ok(None);
    };
    let facts = notice(n, &a, robot, true).await?;
    let (c, _) = counts(n, &a, robot, at).await?;
    let phones = match robot.village_id {
        Some(v) => mentions(n, v).await?,
        None => Vec::new(),
    };
    let t = MsgType::for_robot(kind, !phones.is_empty());
    let body = message::write(&message::summary(&facts, &c), kind, t);
    let phones = phones.join(",");
    let mut tx = n.db.begin().await?;
    sqlx::query(
        "UPDATE robot_posts SET msgtype = $1, body = $2, mentions = $3, updated_at = $4 WHERE id = $5 AND body IS NULL",
    )
    .bind(t.as_str())
    .bind(&body)
    .bind(&phones)
    .bind(at)
    .bind(post.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE robot_follows SET counts = $1, posted_at = $2 WHERE alert_id = $3 AND robot_id = $4 AND counts IS NULL",
    )
    .bind(c.snapshot())
    .bind(at)
    .bind(alert_id)
    .bind(robot.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((t, body, phones)))
}

#[derive(sqlx::FromRow)]
struct Open {
    alert_id: i64,
    robot_id: i64,
    counts: Option<String>,
    posted_at: i64,
    posts: i64,
    alert_status: String,
    summary: Option<String>,
    pending: i64,
}

/// Looks at every followed notice: writes an update when its counts changed
/// and `robots.update_secs` passed, the final post when everyone answered,
/// and ends the follow when the notice closed. Returns the posts written.
async fn follow(n: &Notifier, now: i64) -> Result<usize, StoreError> {
    let open: Vec<Open> = sqlx::query_as(
        "SELECT f.alert_id, f.robot_id, f.counts, f.posted_at, f.posts, a.status AS alert_status, \
         (SELECT p.status FROM robot_posts p WHERE p.alert_id = f.alert_id AND p.robot_id = f.robot_id AND p.kind = 'summary') AS summary, \
         (SELECT COUNT(*) FROM robot_posts p WHERE p.alert_id = f.alert_id AND p.robot_id = f.robot_id AND p.kind = 'update' \
          AND p.status IN ('queued', 'sending')) AS pending \
         FROM robot_follows f JOIN alerts a ON a.id = f.alert_id WHERE f.done = 0 ORDER BY f.alert_id, f.robot_id LIMIT 1000",
    )
    .fetch_all(&n.db.pool)
    .await?;
    let update_ms = (n.cfg.robots.update_secs * 1000.0) as i64;
    let tz = n.cfg.tz();
    let mut written = 0;
    for f in open {
        let robot: Option<RobotRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM group_robots WHERE id = $1",
            super::COLS
        )))
        .bind(f.robot_id)
        .fetch_optional(&n.db.pool)
        .await?;
        let robot = robot.filter(|r| r.active != 0 && r.archived_at.is_none());
        let (Some(robot), Some(kind)) = (robot.clone(), robot.as_ref().and_then(RobotRow::kind))
        else {
            end(n, &f).await?;
            continue;
        };
        if f.alert_status != "active" || f.summary.as_deref() == Some("failed") {
            end(n, &f).await?;
            continue;
        }
        // The group hears of the counts only after the summary.
        let Some(last) = f.counts.as_deref() else {
            continue;
        };
        if f.summary.as_deref() != Some("sent") {
            continue;
        }
        let Some(a) = alert_facts(n, f.alert_id).await? else {
            end(n, &f).await?;
            continue;
        };
        let (c, last_answer) = counts(n, &a, &robot, now).await?;
        let facts = notice(n, &a, &robot, false).await?;
        let per_village = robot.village_id.is_none();
        let (post_kind, doc) = if c.all_answered() {
            let minutes = (last_answer.unwrap_or(now) - a.created_at).max(0) / 60_000;
            ("final", message::all_answered(&facts, &c, minutes))
        } else if c.snapshot() != last && now - f.posted_at >= update_ms && f.pending == 0 {
            (
                "update",
                message::update(&facts, &c, &local(now, tz, "%H:%M"), per_village),
            )
        } else {
            continue;
        };
        if write_post(n, &f, &robot, kind, post_kind, &doc, &c, now).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Ends a follow: nothing more is posted about the notice to the robot.
async fn end(n: &Notifier, f: &Open) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE robot_follows SET done = 1 WHERE alert_id = $1 AND robot_id = $2 AND done = 0",
    )
    .bind(f.alert_id)
    .bind(f.robot_id)
    .execute(&n.db.pool)
    .await?;
    Ok(())
}

/// Writes an update or the final post, once: a compare-and-set on the
/// follow's post count (another daemon that saw the same change writes
/// nothing). The final post supersedes updates still waiting.
#[allow(clippy::too_many_arguments)]
async fn write_post(
    n: &Notifier,
    f: &Open,
    robot: &RobotRow,
    kind: Kind,
    post_kind: &str,
    doc: &Doc,
    c: &Counts,
    now: i64,
) -> Result<bool, StoreError> {
    let t = MsgType::for_robot(kind, false);
    let body = message::write(doc, kind, t);
    let last = post_kind == "final";
    let mut tx = n.db.begin().await?;
    let won = sqlx::query(
        "UPDATE robot_follows SET counts = $1, posted_at = $2, posts = posts + 1, done = $3 \
         WHERE alert_id = $4 AND robot_id = $5 AND posts = $6 AND done = 0",
    )
    .bind(c.snapshot())
    .bind(now)
    .bind(i64::from(last))
    .bind(f.alert_id)
    .bind(f.robot_id)
    .bind(f.posts)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !won {
        tx.rollback().await?;
        return Ok(false);
    }
    if last {
        sqlx::query(
            "UPDATE robot_posts SET status = 'superseded', updated_at = $1 \
             WHERE alert_id = $2 AND robot_id = $3 AND kind = 'update' AND status = 'queued'",
        )
        .bind(now)
        .bind(f.alert_id)
        .bind(f.robot_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO robot_posts (township_id, robot_id, alert_id, kind, msgtype, body, status, attempts, next_at, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $8, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(robot.township_id)
    .bind(robot.id)
    .bind(f.alert_id)
    .bind(post_kind)
    .bind(t.as_str())
    .bind(&body)
    .bind(now)
    .bind(ACTOR)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

//! The robots' posts: an outbox like the deliveries'. What writes them
//! (`send` sends them; `follow` writes the updates):
//!
//! - A notice turning active writes a `summary` post (and a `robot_follows`
//!   row) for each active robot of its township's office, of the offices of
//!   the other townships it reaches (a county notice) and of the villages it
//!   reaches, in the very transaction that turns it active ([`on_active`],
//!   under a savepoint: a failure here is logged and never holds a notice
//!   back). The unique index keeps it one per robot and notice.
//! - The office's "send a test message" ([`enqueue_test`]).
//!
//! A summary's text is written when it is first sent, with the answer
//! counts then (they start the follow); updates, the final post and test
//! messages are written when they are decided.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use super::message::{self, MsgType};
use crate::auth::Actor;
use crate::store::{Db, Sql, StoreError, WriteError, now_ms};

pub(super) const ACTOR: &str = "system:robots";

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
pub(super) async fn notice_villages(
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

pub(super) fn local(ms: i64, tz: chrono_tz::Tz, format: &str) -> String {
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

//! Following an open notice in each of its groups: when its answer counts
//! changed since the last post and `robots.update_secs` have passed, an
//! `update` is written; when everyone has answered, the `final` 全部叫应 at
//! once; when it closes (or the robot is switched off), nothing more. Each is
//! a compare-and-set on the follow's post count, so two daemons write it
//! once. Also the summary's text, written as it is first sent.

use super::message::{self, Counts, Doc, MsgType, Notice};
use super::posts::{ACTOR, local, notice_villages};
use super::{Kind, RobotRow};
use crate::notify::delivery::outbox::Notifier;
use crate::store::{Sql, StoreError};

/// Once an update is due, how often the counts are read again while they
/// stay the same.
const RECHECK_MS: i64 = 15_000;

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
pub(super) async fn write_summary(
    n: &Notifier,
    robot: &RobotRow,
    kind: Kind,
    post_id: i64,
    alert_id: Option<i64>,
    at: i64,
) -> Result<Option<(MsgType, String, String)>, StoreError> {
    let Some(alert_id) = alert_id else {
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
    .bind(post_id)
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
    checked_at: Option<i64>,
    posts: i64,
    alert_status: String,
    summary: Option<String>,
    pending: i64,
}

/// Looks at every followed notice: writes an update when its counts changed
/// and `robots.update_secs` passed, the final post when everyone answered,
/// and ends the follow when the notice closed. Returns the posts written.
pub(super) async fn follow(n: &Notifier, now: i64) -> Result<usize, StoreError> {
    let open: Vec<Open> = sqlx::query_as(
        "SELECT f.alert_id, f.robot_id, f.counts, f.posted_at, f.checked_at, f.posts, a.status AS alert_status, \
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
        let update_due = now - f.posted_at >= update_ms
            && f.pending == 0
            && f.checked_at.is_none_or(|c| now - c >= RECHECK_MS);
        // Before an update is due only 全部叫应 can be posted: a cheap look
        // for anyone still silent saves reading the counts every round.
        if !update_due && someone_silent(n, f.alert_id, robot.village_id).await? {
            continue;
        }
        let Some(a) = alert_facts(n, f.alert_id).await? else {
            end(n, &f).await?;
            continue;
        };
        let (c, last_answer) = counts(n, &a, &robot, now).await?;
        let (post_kind, minutes) = if c.all_answered() {
            let minutes = (last_answer.unwrap_or(now) - a.created_at).max(0) / 60_000;
            ("final", minutes)
        } else if update_due && c.snapshot() != last {
            ("update", 0)
        } else {
            if update_due {
                checked(n, &f, now).await?;
            }
            continue;
        };
        let facts = notice(n, &a, &robot, false).await?;
        let doc = if post_kind == "final" {
            message::all_answered(&facts, &c, minutes)
        } else {
            let per_village = robot.village_id.is_none();
            message::update(&facts, &c, &local(now, tz, "%H:%M"), per_village)
        };
        if write_post(n, &f, &robot, kind, post_kind, &doc, &c, now).await? {
            written += 1;
        }
    }
    Ok(written)
}

/// Whether anyone a group's counts cover has not answered: a village's
/// people for a village's group, the notice's for the office's (a county
/// notice's other townships too: the office's 全部叫应 then waits until
/// its next update is due).
async fn someone_silent(
    n: &Notifier,
    alert_id: i64,
    village: Option<i64>,
) -> Result<bool, StoreError> {
    let row: Option<(i64,)> = match village {
        Some(v) => sqlx::query_as(
            "SELECT 1 FROM alert_recipients WHERE alert_id = $1 AND village_id = $2 AND answered_at IS NULL LIMIT 1",
        )
        .bind(alert_id)
        .bind(v)
        .fetch_optional(&n.db.pool)
        .await?,
        None => sqlx::query_as(
            "SELECT 1 FROM alert_recipients WHERE alert_id = $1 AND answered_at IS NULL LIMIT 1",
        )
        .bind(alert_id)
        .fetch_optional(&n.db.pool)
        .await?,
    };
    Ok(row.is_some())
}

/// The counts were read and had not changed.
async fn checked(n: &Notifier, f: &Open, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE robot_follows SET checked_at = $1 WHERE alert_id = $2 AND robot_id = $3")
        .bind(now)
        .bind(f.alert_id)
        .bind(f.robot_id)
        .execute(&n.db.pool)
        .await?;
    Ok(())
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

//! The daily report cycle, driven by a clock the caller gives (`tick`):
//! at a plan's `ask_at` each village's duty contact is asked by SMS, at its
//! `deadline` the villages still silent are asked once more (their own
//! notice, one SMS each), at its `summary_at` the summary for the county is
//! written. Each step is a unique insert or a compare-and-set on the day's
//! round, and each notice carries an idempotency key from it: two daemons,
//! a restart or two ticks at the same moment ask once.
//!
//! A round is made only between `ask_at` and `deadline` (a daemon down all
//! afternoon asks nobody at night); a township with no village to ask has
//! no round. The notices ask for no answer in time (no `ack_within_minutes`),
//! so the escalation loop never chases them: the one chase is this one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use serde_json::json;
use tokio::sync::watch;

use crate::auth::{Actor, Role};
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{AlertError, AlertInput, Targets};
use crate::plans::DailyReport;
use crate::plans::PlanOwner;
use crate::store::{StoreError, now_ms};

const ACTOR: &str = "system:daily-reports";

/// A round claimed but whose notice was never recorded (its daemon died)
/// is asked again after this; the idempotency key keeps it one notice.
const STALE_ASK_MS: i64 = 120_000;

pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let secs = n.cfg.daily_reports.check_secs;
    if !(secs.is_finite() && secs > 0.0) {
        return;
    }
    let every = Duration::from_secs_f64(secs.max(0.05));
    loop {
        if let Err(e) = tick(&n, now_ms()).await {
            tracing::warn!(error = %e, "daily report check failed");
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
    /// Rounds asked (one per plan and township).
    pub asked: usize,
    /// Rounds whose silent villages were chased.
    pub chased: usize,
    pub summarised: usize,
}

/// One plan's day: its times as instants.
struct Day<'a> {
    township: i64,
    plan_id: &'a str,
    plan_title: &'a str,
    cfg: &'a DailyReport,
    day: NaiveDate,
    deadline: i64,
    summary: i64,
}

#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    asked_at: i64,
    ask_alert_id: Option<i64>,
    chased_at: Option<i64>,
    summarised_at: Option<i64>,
}

fn instant(tz: chrono_tz::Tz, day: NaiveDate, t: NaiveTime) -> Option<i64> {
    tz.from_local_datetime(&day.and_time(t))
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// Does what is due at `now` for every township plan with a `[daily_report]`.
pub async fn tick(n: &Notifier, now: i64) -> Result<TickReport, StoreError> {
    let tz = n.cfg.tz();
    let mut report = TickReport::default();
    let Some(today) = chrono::Utc
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
    else {
        return Ok(report);
    };
    let mut plans = n.plans.everything().await;
    plans.sort_by(|a, b| (a.owner, &a.plan.id).cmp(&(b.owner, &b.plan.id)));
    for lp in &plans {
        let PlanOwner::Township(township) = lp.owner else {
            continue;
        };
        let Some(cfg) = &lp.plan.daily_report else {
            continue;
        };
        let Some(times) = cfg.times() else {
            continue;
        };
        if !times.in_season(today) {
            continue;
        }
        let (Some(ask), Some(deadline), Some(summary)) = (
            instant(tz, today, times.ask_at),
            instant(tz, today, times.deadline),
            instant(tz, today, times.summary_at),
        ) else {
            continue;
        };
        if now < ask {
            continue;
        }
        let d = Day {
            township,
            plan_id: &lp.plan.id,
            plan_title: &lp.plan.title,
            cfg,
            day: today,
            deadline,
            summary,
        };
        let mut stored = stored(n, &d).await?;
        match &stored {
            None if now < deadline => {
                if ask_round(n, &d, now).await? {
                    report.asked += 1;
                }
                stored = self::stored(n, &d).await?;
            }
            Some(s)
                if s.ask_alert_id.is_none()
                    && now < deadline
                    && now - s.asked_at > STALE_ASK_MS =>
            {
                // Claimed by a daemon that stopped before its notice was
                // recorded: send it (the key makes it the same notice).
                send_ask(n, &d, s.id).await?;
            }
            _ => {}
        }
        let Some(s) = stored else { continue };
        if now >= deadline && s.chased_at.is_none() && chase(n, &d, s.id, now).await? {
            report.chased += 1;
        }
        if now >= summary && s.summarised_at.is_none() && summarise(n, s.id, now).await? {
            report.summarised += 1;
        }
    }
    Ok(report)
}

async fn stored(n: &Notifier, d: &Day<'_>) -> Result<Option<Stored>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, asked_at, ask_alert_id, chased_at, summarised_at FROM daily_rounds \
         WHERE township_id = $1 AND plan_id = $2 AND day = $3",
    )
    .bind(d.township)
    .bind(d.plan_id)
    .bind(d.day.format("%Y-%m-%d").to_string())
    .fetch_optional(&n.db.pool)
    .await?)
}

/// The person asked in each village: the plan's role, else a fallback.
#[derive(sqlx::FromRow)]
pub(crate) struct Asked {
    pub village_id: i64,
    pub contact_id: Option<i64>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub role: Option<String>,
}

pub(crate) async fn who_to_ask(
    tx: &mut sqlx::AnyConnection,
    township: i64,
    role: &str,
) -> Result<Vec<Asked>, StoreError> {
    let villages: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM villages WHERE township_id = $1 AND archived_at IS NULL ORDER BY code, id",
    )
    .bind(township)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::new();
    let roles: Vec<&str> = std::iter::once(role)
        .chain(super::FALLBACK_ROLES.iter().copied().filter(|r| *r != role))
        .collect();
    for (village_id,) in villages {
        let mut found = None;
        for r in &roles {
            let c: Option<(i64, String, String)> = sqlx::query_as(
                "SELECT c.id, c.name, c.phone FROM contacts c JOIN contact_roles cr ON cr.contact_id = c.id \
                 WHERE c.village_id = $1 AND cr.role = $2 AND c.active = 1 AND c.archived_at IS NULL \
                 ORDER BY c.escalation_order, c.id LIMIT 1",
            )
            .bind(village_id)
            .bind(*r)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, name, phone)) = c {
                found = Some(Asked {
                    village_id,
                    contact_id: Some(id),
                    name: Some(name),
                    phone: Some(phone),
                    role: Some((*r).to_string()),
                });
                break;
            }
        }
        out.push(found.unwrap_or(Asked {
            village_id,
            contact_id: None,
            name: None,
            phone: None,
            role: None,
        }));
    }
    Ok(out)
}

/// Claims the day's round (a unique insert), lists whom to ask, then sends.
async fn ask_round(n: &Notifier, d: &Day<'_>, now: i64) -> Result<bool, StoreError> {
    let mut tx = n.db.begin().await?;
    let asked = who_to_ask(&mut tx, d.township, &d.cfg.role).await?;
    if asked.iter().all(|a| a.contact_id.is_none()) {
        // No village, or nobody in any to ask: no round.
        tx.rollback().await?;
        return Ok(false);
    }
    let id: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO daily_rounds (township_id, plan_id, day, asked_at, deadline_at, summary_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (township_id, plan_id, day) DO NOTHING RETURNING id",
    )
    .bind(d.township)
    .bind(d.plan_id)
    .bind(d.day.format("%Y-%m-%d").to_string())
    .bind(now)
    .bind(d.deadline)
    .bind(d.summary)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id,)) = id else {
        tx.rollback().await?;
        return Ok(false);
    };
    for a in &asked {
        sqlx::query(
            "INSERT INTO daily_answers (round_id, township_id, village_id, contact_id, contact_name, phone, role) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(d.township)
        .bind(a.village_id)
        .bind(a.contact_id)
        .bind(a.name.clone())
        .bind(a.phone.clone())
        .bind(a.role.clone())
        .execute(&mut *tx)
        .await?;
    }
    let after = json!({
        "plan": d.plan_id,
        "day": d.day.format("%Y-%m-%d").to_string(),
        "villages": asked.len(),
        "asked": asked.iter().filter(|a| a.contact_id.is_some()).count(),
    });
    crate::audit::record(
        &mut tx,
        ACTOR,
        "ask",
        "daily_report",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    send_ask(n, d, id).await?;
    Ok(true)
}

async fn township_name(n: &Notifier, township: i64) -> Result<String, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT name FROM townships WHERE id = $1")
        .bind(township)
        .fetch_optional(&n.db.pool)
        .await?;
    Ok(row
        .map(|r| r.0)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| n.cfg.township_name.clone()))
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// The notice asking for the day's report, to `contacts`.
fn notice(d: &Day<'_>, township: &str, contacts: Vec<i64>, chase: bool) -> AlertInput {
    let times = d.cfg.times();
    let deadline = times.map(|t| hm(t.deadline)).unwrap_or_default();
    let summary = times.map(|t| hm(t.summary_at)).unwrap_or_default();
    let date = d.day.format("%-m月%-d日");
    let body = if chase {
        format!(
            "〔{township}〕尚未收到贵村{date}值班情况，请于{summary}前回复：无情况回复0，有情况请简要说明。"
        )
    } else {
        format!("〔{township}〕请于{deadline}前回复{date}值班情况：无情况回复0，有情况请简要说明。")
    };
    AlertInput {
        title: if chase {
            "汛期日报催报"
        } else {
            "汛期日报"
        }
        .into(),
        // Braces are template syntax: a township's name never has them, but
        // the text must not become a template either way.
        body: body.replace('{', "（").replace('}', "）"),
        level: None,
        exercise: false,
        public: false,
        channels: vec![Channel::Sms],
        ack_within_minutes: None,
        targets: Targets {
            contacts,
            ..Targets::default()
        },
        updates: None,
        plan: Some(d.plan_title.to_string()),
        urgent: Some(false),
        all_clear: false,
        receipt: false,
        own_reply: true,
        escalate_to: Vec::new(),
        ladder: Vec::new(),
    }
}

fn sender(township: i64) -> Actor {
    Actor {
        scope: crate::store::Scope::township(township),
        township,
        ..Actor::new(ACTOR, Role::Dispatcher)
    }
}

/// Sends the round's first notice and records it.
async fn send_ask(n: &Notifier, d: &Day<'_>, id: i64) -> Result<(), StoreError> {
    let contacts: Vec<(i64,)> = sqlx::query_as(
        "SELECT contact_id FROM daily_answers WHERE round_id = $1 AND contact_id IS NOT NULL ORDER BY village_id",
    )
    .bind(id)
    .fetch_all(&n.db.pool)
    .await?;
    let township = township_name(n, d.township).await?;
    let input = notice(
        d,
        &township,
        contacts.into_iter().map(|c| c.0).collect(),
        false,
    );
    let key = format!("daily-report:{id}:ask");
    let alert = send(n, d.township, &input, &key).await?;
    sqlx::query("UPDATE daily_rounds SET ask_alert_id = $1 WHERE id = $2")
        .bind(alert)
        .bind(id)
        .execute(&n.db.pool)
        .await?;
    Ok(())
}

async fn send(
    n: &Notifier,
    township: i64,
    input: &AlertInput,
    key: &str,
) -> Result<Option<i64>, StoreError> {
    match crate::notify::send(n, &sender(township), input, Some(key)).await {
        Ok(a) => Ok(Some(a.id)),
        Err(AlertError::Store(e)) => Err(e),
        Err(e) => {
            // Nobody reachable by SMS: recorded as asked, nobody texted.
            tracing::warn!(error = %e, "daily report notice could not be addressed");
            Ok(None)
        }
    }
}

/// At the deadline: the silent villages' people, once (compare-and-set).
async fn chase(n: &Notifier, d: &Day<'_>, id: i64, now: i64) -> Result<bool, StoreError> {
    let mut tx = n.db.begin().await?;
    let claimed =
        sqlx::query("UPDATE daily_rounds SET chased_at = $1 WHERE id = $2 AND chased_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if !claimed {
        tx.rollback().await?;
        return Ok(false);
    }
    let silent: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT village_id, contact_id FROM daily_answers \
         WHERE round_id = $1 AND kind = 'none' AND contact_id IS NOT NULL ORDER BY village_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE daily_answers SET chased = 1 WHERE round_id = $1 AND kind = 'none' AND contact_id IS NOT NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = json!({ "villages": silent.iter().map(|s| s.0).collect::<Vec<_>>() });
    crate::audit::record(
        &mut tx,
        ACTOR,
        "chase",
        "daily_report",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    if silent.is_empty() {
        return Ok(true);
    }
    let township = township_name(n, d.township).await?;
    let input = notice(d, &township, silent.iter().map(|s| s.1).collect(), true);
    let alert = send(n, d.township, &input, &format!("daily-report:{id}:chase")).await?;
    sqlx::query("UPDATE daily_rounds SET chase_alert_id = $1 WHERE id = $2")
        .bind(alert)
        .bind(id)
        .execute(&n.db.pool)
        .await?;
    Ok(true)
}

/// At the summary time: the text for the county, kept as it was then.
async fn summarise(n: &Notifier, id: i64, now: i64) -> Result<bool, StoreError> {
    let Some(round) = super::get(&n.db, &n.plans, n.cfg.tz(), id).await? else {
        return Ok(false);
    };
    let text = super::summary_text(&round.township, &round.line.day, &round.answers);
    let mut tx = n.db.begin().await?;
    let done = sqlx::query(
        "UPDATE daily_rounds SET summarised_at = $1, summary_text = $2 WHERE id = $3 AND summarised_at IS NULL",
    )
    .bind(now)
    .bind(&text)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !done {
        tx.rollback().await?;
        return Ok(false);
    }
    let after = json!({
        "villages": round.line.villages,
        "zero": round.line.zero,
        "reports": round.line.reports,
        "silent": round.line.silent,
    });
    crate::audit::record(
        &mut tx,
        ACTOR,
        "summarise",
        "daily_report",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

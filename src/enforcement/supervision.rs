//! 挂牌督办: a finding graded major is put under supervision when it is
//! stored (`open`, in the finding's transaction): the supervising unit
//! (督办单位, the township's government), the finding's deadline and the
//! person responsible (the finding's, else the site's safety officer). It is
//! closed when the finding is closed out (销号, `close`, in that
//! transaction).
//!
//! Until then the responsible person is reminded by SMS once a week
//! (`tick`, the daemon's loop every `supervision.check_secs`): the first
//! check of an ISO week at or after `supervision.remind_hour` claims the
//! week by a unique insert (`supervision_reminders`, one per record and
//! week) and sends through `notify::send` with the idempotency key
//! `supervision:{id}:{week}`, so several daemons or a restart remind once.
//! The person reminded is a registered contact of the township matched when
//! the record is opened (by the responsible person's name, else the site
//! officer's phone or name); without one nobody can be texted and the
//! record says so.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Timelike};
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::auth::{Actor, Role};
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{AlertError, AlertInput, Targets};
use crate::store::{Db, Result, StoreError, now_ms};

const ACTOR: &str = "system:supervision";

/// A claimed week whose notice was never recorded (its daemon died) is
/// sent again after this; the idempotency key keeps it one notice.
const STALE_CLAIM_MS: i64 = 120_000;

/// One record of supervision, as lists and pages show it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Supervision {
    pub id: i64,
    pub finding_id: i64,
    pub site_id: i64,
    pub site_name: String,
    /// The finding's hidden danger.
    pub item: String,
    pub checklist_item: Option<String>,
    /// 督办单位.
    pub unit: String,
    /// The finding's deadline (YYYY-MM-DD).
    pub deadline: String,
    pub responsible: Option<String>,
    /// The contact reminded; none: nobody can be texted.
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    pub opened_at: i64,
    pub closed_on: Option<String>,
    /// Weekly reminders sent so far.
    pub reminders: i64,
    /// The last reminded week (2026-W49).
    pub last_week: Option<String>,
    pub sample: i64,
}

/// Puts a major finding under supervision, in the transaction storing it.
/// A second call for the same finding changes nothing.
pub(crate) async fn open(conn: &mut sqlx::AnyConnection, finding_id: i64) -> Result<()> {
    #[derive(sqlx::FromRow)]
    struct Facts {
        township_id: i64,
        site_id: i64,
        deadline: String,
        responsible: Option<String>,
        safety_officer: Option<String>,
        safety_officer_phone: Option<String>,
        sample: i64,
        township: String,
    }
    let f: Option<Facts> = sqlx::query_as(
        "SELECT f.township_id, f.site_id, f.deadline, f.responsible, s.safety_officer, s.safety_officer_phone, \
         s.sample, t.name AS township FROM findings f JOIN sites s ON s.id = f.site_id \
         JOIN townships t ON t.id = f.township_id WHERE f.id = $1",
    )
    .bind(finding_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(f) = f else { return Ok(()) };
    // The person to remind: a live contact of the township by the
    // responsible person's name (one only), else by the site officer's
    // phone, else by the site officer's name.
    let mut contact = None;
    let names = [f.responsible.as_deref(), f.safety_officer.as_deref()];
    if let Some(name) = names[0].map(str::trim).filter(|n| !n.is_empty()) {
        contact = one_contact(conn, f.township_id, "name", name).await?;
    }
    if contact.is_none()
        && let Some(phone) = f.safety_officer_phone.as_deref().filter(|p| !p.is_empty())
    {
        contact = one_contact(conn, f.township_id, "phone", phone).await?;
    }
    if contact.is_none()
        && let Some(name) = names[1].map(str::trim).filter(|n| !n.is_empty())
    {
        contact = one_contact(conn, f.township_id, "name", name).await?;
    }
    let responsible = f
        .responsible
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            f.safety_officer.as_ref().map(|o| {
                match f.safety_officer_phone.as_deref().filter(|p| !p.is_empty()) {
                    Some(p) => format!("{o} {}", crate::phone::dialled(p)),
                    None => o.clone(),
                }
            })
        });
    let township = if f.township.trim().is_empty() {
        "乡".to_string()
    } else {
        f.township.trim().to_string()
    };
    sqlx::query(
        "INSERT INTO supervisions (township_id, finding_id, site_id, unit, deadline, responsible, contact_id, status, \
         opened_at, sample) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9) ON CONFLICT (finding_id) DO NOTHING",
    )
    .bind(f.township_id)
    .bind(finding_id)
    .bind(f.site_id)
    .bind(format!("{township}人民政府"))
    .bind(&f.deadline)
    .bind(responsible)
    .bind(contact)
    .bind(now_ms())
    .bind(f.sample)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn one_contact(
    conn: &mut sqlx::AnyConnection,
    township: i64,
    column: &str,
    value: &str,
) -> Result<Option<i64>> {
    let column = if column == "phone" { "phone" } else { "name" };
    let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM contacts WHERE township_id = $1 AND {column} = $2 AND archived_at IS NULL \
         AND active = 1 ORDER BY id LIMIT 2"
    )))
    .bind(township)
    .bind(value)
    .fetch_all(conn)
    .await?;
    Ok(match ids.as_slice() {
        [(id,)] => Some(*id),
        _ => None,
    })
}

/// Ends a finding's supervision when it is closed out, in that transaction.
pub(crate) async fn close(conn: &mut sqlx::AnyConnection, finding_id: i64, on: &str) -> Result<()> {
    sqlx::query(
        "UPDATE supervisions SET status = 'closed', closed_on = $1, closed_at = $2 \
         WHERE finding_id = $3 AND status = 'open'",
    )
    .bind(on)
    .bind(now_ms())
    .bind(finding_id)
    .execute(conn)
    .await?;
    Ok(())
}

const COLS: &str = "v.id, v.finding_id, v.site_id, s.name AS site_name, f.item, f.checklist_item, v.unit, v.deadline, \
    v.responsible, v.contact_id, c.name AS contact_name, v.status, v.opened_at, v.closed_on, \
    (SELECT COUNT(*) FROM supervision_reminders r WHERE r.supervision_id = v.id AND r.alert_id > 0) AS reminders, \
    (SELECT MAX(r.week) FROM supervision_reminders r WHERE r.supervision_id = v.id AND r.alert_id > 0) AS last_week, \
    v.sample";

fn from_where(db: &Db) -> String {
    format!(
        "FROM supervisions v JOIN findings f ON f.id = v.finding_id JOIN sites s ON s.id = v.site_id \
         LEFT JOIN contacts c ON c.id = v.contact_id WHERE {} AND {}",
        db.township_filter("v.township_id"),
        db.village_filter("s.village_id")
    )
}

/// The records the handle's scope sees: the open ones (by deadline) or,
/// with `all`, the closed ones after them.
pub async fn list(db: &Db, all: bool) -> Result<Vec<Supervision>> {
    list_in(db, all, None).await
}

/// [`list`], of one township if one is named.
pub async fn list_in(db: &Db, all: bool, township: Option<i64>) -> Result<Vec<Supervision>> {
    let mut tx = db.read().await?;
    let status = if all { "" } else { " AND v.status = 'open'" };
    let of = if township.is_some() {
        " AND v.township_id = $1"
    } else {
        " AND $1 = $1"
    };
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} {}{status}{of} ORDER BY CASE v.status WHEN 'open' THEN 0 ELSE 1 END, v.deadline, v.id",
        from_where(db)
    )))
    .bind(township.unwrap_or(0))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// A finding's supervision, if it has one in the handle's scope.
pub async fn for_finding(db: &Db, finding_id: i64) -> Result<Option<Supervision>> {
    let mut tx = db.read().await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} {} AND v.finding_id = $1",
        from_where(db)
    )))
    .bind(finding_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// How many are open, and how many of those are past their deadline.
pub async fn open_counts(db: &Db, today: &str) -> Result<(i64, i64)> {
    let mut tx = db.read().await?;
    let row: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN v.deadline < $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM supervisions v JOIN sites s ON s.id = v.site_id WHERE v.status = 'open' AND {} AND {}",
        db.township_filter("v.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(today)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let secs = n.cfg.supervision.check_secs;
    if !(secs.is_finite() && secs > 0.0) {
        return;
    }
    let every = Duration::from_secs_f64(secs.max(0.05));
    loop {
        if let Err(e) = tick(&n, now_ms()).await {
            tracing::warn!(error = %e, "supervision reminder check failed");
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

/// The ISO week of a local date, as stored: `2026-W49`.
pub fn week_of(day: chrono::NaiveDate) -> String {
    let w = day.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    township_id: i64,
    contact_id: i64,
    site_name: String,
    item: String,
    deadline: String,
    unit: String,
}

/// Sends this week's reminders due at `now` (UTC ms); returns how many
/// notices were sent. Before `remind_hour` local time nothing is due.
pub async fn tick(n: &Notifier, now: i64) -> Result<usize, StoreError> {
    let tz = n.cfg.tz();
    let Some(local) = chrono::Utc
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.with_timezone(&tz))
    else {
        return Ok(0);
    };
    if local.hour() < n.cfg.supervision.remind_hour {
        return Ok(0);
    }
    let week = week_of(local.date_naive());
    // Open records with someone to remind and no sent (or fresh) claim this week.
    let due: Vec<Due> = sqlx::query_as(
        "SELECT v.id, v.township_id, v.contact_id, s.name AS site_name, f.item, v.deadline, v.unit \
         FROM supervisions v JOIN findings f ON f.id = v.finding_id JOIN sites s ON s.id = v.site_id \
         WHERE v.status = 'open' AND v.contact_id IS NOT NULL AND NOT EXISTS (\
           SELECT 1 FROM supervision_reminders r WHERE r.supervision_id = v.id AND r.week = $1 \
           AND (r.alert_id IS NOT NULL OR r.claimed_at > $2)) ORDER BY v.id",
    )
    .bind(&week)
    .bind(now - STALE_CLAIM_MS)
    .fetch_all(&n.db.pool)
    .await?;
    let mut sent = 0;
    for d in due {
        // The claim: a unique insert, or taking over a stale one.
        let claimed = sqlx::query(
            "INSERT INTO supervision_reminders (township_id, supervision_id, week, claimed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (supervision_id, week) DO UPDATE SET claimed_at = EXCLUDED.claimed_at \
             WHERE supervision_reminders.alert_id IS NULL AND supervision_reminders.claimed_at <= $5",
        )
        .bind(d.township_id)
        .bind(d.id)
        .bind(&week)
        .bind(now)
        .bind(now - STALE_CLAIM_MS)
        .execute(n.db.writer())
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            continue;
        }
        let input = notice(n, &d);
        let actor = Actor {
            scope: crate::store::Scope::township(d.township_id),
            township: d.township_id,
            ..Actor::new(ACTOR, Role::Dispatcher)
        };
        let key = format!("supervision:{}:{week}", d.id);
        let alert = match crate::notify::send(n, &actor, &input, Some(&key)).await {
            Ok(a) => Some(a.id),
            Err(AlertError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, supervision = d.id, "supervision reminder could not be addressed");
                None
            }
        };
        // Recorded as reminded even when nobody could be addressed (-1):
        // the week is done either way.
        sqlx::query(
            "UPDATE supervision_reminders SET alert_id = $1 WHERE supervision_id = $2 AND week = $3",
        )
        .bind(alert.unwrap_or(-1))
        .bind(d.id)
        .bind(&week)
        .execute(n.db.writer())
        .await?;
        if alert.is_some() {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Braces are template syntax; a site's or finding's text must stay text.
fn inert(s: &str) -> String {
    let s: String = s.chars().take(40).collect();
    s.replace('{', "（").replace('}', "）")
}

fn notice(n: &Notifier, d: &Due) -> AlertInput {
    AlertInput {
        title: "挂牌督办隐患整改提醒".into(),
        body: format!(
            "{{name}}：{}挂牌督办的重大事故隐患“{}”（{}）整改期限为{}，请按期整改并报请复查销号。",
            inert(&d.unit),
            inert(&d.item),
            inert(&d.site_name),
            d.deadline
        ),
        level: None,
        exercise: false,
        public: false,
        channels: if n.senders.sms.is_some() {
            vec![Channel::Sms]
        } else {
            vec![Channel::Email]
        },
        ack_within_minutes: None,
        targets: Targets {
            contacts: vec![d.contact_id],
            ..Targets::default()
        },
        updates: None,
        plan: None,
        urgent: Some(false),
        escalate_to: Vec::new(),
        ladder: Vec::new(),
        all_clear: false,
        receipt: false,
        own_reply: false,
    }
}

#[cfg(test)]
mod tests {
    use super::week_of;

    #[test]
    fn weeks_are_iso_weeks() {
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(week_of(d("2026-12-01")), "2026-W49");
        assert_eq!(week_of(d("2027-01-01")), "2026-W53");
        assert_eq!(week_of(d("2026-12-07")), "2026-W50");
    }
}

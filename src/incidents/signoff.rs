//! The two-person rule in an activation. A real (not exercise) activation
//! opened at, or raised to, a level listed in `incidents.two_person_levels`
//! waits for a leader (带班领导/签发人) who is not the person who asked:
//! confirmed, the level is set and its notices go out; rejected (with a
//! reason), nothing is sent. Public notices of an activation wait the same
//! way (`notify::signoff`); their approval and rejection are noted here in
//! the incident's timeline. Every decision is in the timeline and the audit.

use serde_json::json;

use super::{
    Event, IncidentError, IncidentRow, apply_level, event, get, invalid, level_notices, send_all,
};
use crate::auth::Actor;
use crate::config::Config;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::Accepted;
use crate::notify::signoff::{self as notice_signoff, SignoffError};
use crate::store::{Db, StoreError, now_ms};

/// Whether going to `level` (from `current`, or opening) needs a second
/// person: a real activation, a listed level, and higher than now.
pub fn needs_second_person(cfg: &Config, exercise: bool, level: u8, current: Option<i64>) -> bool {
    !exercise
        && cfg.incidents.two_person_levels.contains(&level)
        && current.is_none_or(|c| i64::from(level) < c)
}

async fn audit(
    db: &Db,
    actor: &Actor,
    action: &str,
    id: i64,
    after: serde_json::Value,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        action,
        "incident",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Notes a level asked for (the incident row holds it as pending).
pub(super) async fn requested(
    db: &Db,
    actor: &Actor,
    id: i64,
    level: u8,
    villages: &[i64],
    what: &str,
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    let level = i64::from(level);
    event(
        db,
        id,
        Some(level),
        None,
        &actor.name,
        &Event::ActivationRequested {
            level,
            villages: villages.to_vec(),
        },
    )
    .await?;
    audit(
        db,
        actor,
        &format!("request_{what}"),
        id,
        json!({"pending_level": level, "villages": villages}),
    )
    .await?;
    let row = get(db, id).await?.ok_or(IncidentError::NotFound)?;
    Ok((row, Vec::new()))
}

/// Raising an open incident to a level that needs a second person: the
/// level waits on the incident.
pub(super) async fn request_level(
    n: &Notifier,
    actor: &Actor,
    inc: &IncidentRow,
    level: u8,
    villages: &[i64],
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    if inc.pending_level.is_some() {
        return Err(IncidentError::Conflict(
            "已有待确认的级别 / a level already awaits confirmation".into(),
        ));
    }
    let r = sqlx::query(
        "UPDATE incidents SET pending_level = $1, pending_villages = $2, pending_by = $3, pending_at = $4, version = version + 1 \
         WHERE id = $5 AND version = $6 AND status = 'open'",
    )
    .bind(i64::from(level))
    .bind(json!(villages).to_string())
    .bind(&actor.name)
    .bind(now_ms())
    .bind(inc.id)
    .bind(inc.version)
    .execute(&n.db.pool)
    .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {} was changed at the same time",
            inc.id
        )));
    }
    requested(&n.db, actor, inc.id, level, villages, "level").await
}

/// What awaits confirmation on an incident, once the actor may decide it.
fn awaiting(actor: &Actor, inc: &IncidentRow) -> Result<(i64, String, Vec<i64>), IncidentError> {
    let (Some(level), Some(by)) = (inc.pending_level, inc.pending_by.clone()) else {
        return Err(IncidentError::Conflict(
            "没有待确认的级别 / no level awaits confirmation".into(),
        ));
    };
    crate::auth::second_person(actor, &by).map_err(IncidentError::Refused)?;
    let villages = inc
        .pending_villages
        .as_deref()
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_else(|| inc.village_ids());
    Ok((level, by, villages))
}

/// A leader confirms the level asked for: it is set and its notices go out.
pub async fn confirm(
    n: &Notifier,
    actor: &Actor,
    id: i64,
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    let db = &n.db;
    let inc = get(&actor.db(db), id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let (level, by, villages) = awaiting(actor, &inc)?;
    let plan = n
        .plans
        .get_of(inc.plan_owner(), &inc.plan_id)
        .await
        .ok_or_else(|| {
            invalid(
                "plan",
                format!("plan '{}' is no longer in force", inc.plan_id),
            )
        })?;
    let level_u8 = u8::try_from(level).map_err(|_| invalid("level", "out of range"))?;
    let opening = match inc.status.as_str() {
        "pending" => true,
        "open" => false,
        _ => return Err(IncidentError::Conflict(format!("incident {id} is closed"))),
    };
    // Validate the notices before anything is written.
    let notices = if opening {
        level_notices(db, &plan, level_u8, &villages, false, None).await?
    } else {
        Vec::new()
    };
    event(
        db,
        id,
        Some(level),
        None,
        &actor.name,
        &Event::ActivationConfirmed {
            level,
            requested_by: by.clone(),
        },
    )
    .await?;
    audit(
        db,
        actor,
        "confirm",
        id,
        json!({"level": level, "requested_by": by}),
    )
    .await?;
    if !opening {
        return apply_level(n, actor, &inc, &plan, level_u8, villages).await;
    }
    let r = sqlx::query(
        "UPDATE incidents SET status = 'open', level = $1, villages = $2, pending_level = NULL, pending_villages = NULL, \
         pending_by = NULL, pending_at = NULL, version = version + 1 WHERE id = $3 AND version = $4 AND status = 'pending'",
    )
    .bind(level)
    .bind(json!(villages).to_string())
    .bind(id)
    .bind(inc.version)
    .execute(&db.pool)
    .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {id} was changed at the same time"
        )));
    }
    event(
        db,
        id,
        Some(level),
        None,
        &by,
        &Event::Open {
            villages: villages.clone(),
            plan_hash: inc.plan_hash.clone(),
        },
    )
    .await?;
    let alerts = send_all(n, actor, id, level, notices).await?;
    super::county::report(n, actor, id, &plan, level_u8, None, &villages).await?;
    let row = get(db, id).await?.ok_or(IncidentError::NotFound)?;
    Ok((row, alerts))
}

/// A leader rejects the level asked for, with the reason: nothing is sent.
/// An incident that was waiting to open ends `rejected`.
pub async fn reject(
    n: &Notifier,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<IncidentRow, IncidentError> {
    let db = &n.db;
    let reason = crate::validate::required_text("reason", reason, notice_signoff::MAX_REASON_CHARS)
        .map_err(IncidentError::Invalid)?;
    let inc = get(&actor.db(db), id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let (level, by, _) = awaiting(actor, &inc)?;
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE incidents SET status = CASE WHEN status = 'pending' THEN 'rejected' ELSE status END, \
         closed_by = CASE WHEN status = 'pending' THEN $1 ELSE closed_by END, \
         closed_at = CASE WHEN status = 'pending' THEN $2 ELSE closed_at END, \
         pending_level = NULL, pending_villages = NULL, pending_by = NULL, pending_at = NULL, version = version + 1 \
         WHERE id = $3 AND version = $4",
    )
    .bind(&actor.name)
    .bind(now)
    .bind(id)
    .bind(inc.version)
    .execute(&db.pool)
    .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {id} was changed at the same time"
        )));
    }
    event(
        db,
        id,
        Some(level),
        None,
        &actor.name,
        &Event::ActivationRejected {
            level,
            requested_by: by.clone(),
            reason: reason.clone(),
        },
    )
    .await?;
    audit(
        db,
        actor,
        "reject",
        id,
        json!({"level": level, "requested_by": by, "reason": reason}),
    )
    .await?;
    get(db, id).await?.ok_or(IncidentError::NotFound)
}

/// Incidents with a level awaiting confirmation, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<IncidentRow>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM incidents WHERE pending_level IS NOT NULL AND {} ORDER BY pending_at LIMIT 200",
        super::COLS,
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The incident (and level) a notice was sent in, if any.
async fn incident_of(db: &Db, alert_id: i64) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT incident_id, level FROM incident_events WHERE alert_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(alert_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Approves a pending public notice (`notify::signoff::approve`) and notes
/// it in its incident's timeline.
pub async fn approve_notice(
    n: &Notifier,
    actor: &Actor,
    alert_id: i64,
) -> Result<Accepted, SignoffError> {
    let accepted = notice_signoff::approve(n, actor, alert_id).await?;
    if let Some((incident, level)) = incident_of(&n.db, alert_id).await? {
        let title = crate::notify::response::status::get(&n.db, alert_id)
            .await?
            .map(|a| a.title)
            .unwrap_or_default();
        event(
            &n.db,
            incident,
            level,
            Some(alert_id),
            &actor.name,
            &Event::NoticeApproved {
                title,
                recipients: accepted.recipients,
            },
        )
        .await?;
    }
    Ok(accepted)
}

/// Rejects a pending public notice (`notify::signoff::reject`) and notes it
/// in its incident's timeline.
pub async fn reject_notice(
    db: &Db,
    actor: &Actor,
    alert_id: i64,
    reason: &str,
) -> Result<(), SignoffError> {
    notice_signoff::reject(db, actor, alert_id, reason).await?;
    if let Some((incident, level)) = incident_of(db, alert_id).await?
        && let Some(a) = crate::notify::response::status::get(db, alert_id).await?
    {
        event(
            db,
            incident,
            level,
            None,
            &actor.name,
            &Event::NoticeRejected {
                title: a.title,
                reason: a.signoff_note.unwrap_or_default(),
            },
        )
        .await?;
    }
    Ok(())
}

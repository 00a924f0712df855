//! Escalation: when an answer deadline passes, the notice is sent again to the
//! silent contact (up to `repeats` times) and, once, the next person up is
//! told: the next holder of the roles the notice names (`escalate_to`, a
//! plan's chain), or else the next contact in the village's escalation
//! order, then the township duty officer. The township duty officer
//! (应急办值班) and the leader on duty (带班领导) are whoever the duty roster
//! has on shift at the escalation's moment (`duty::resolve`); where the
//! roster has a gap, the contacts holding the role, and the audit entry
//! says so. The deadlines live in the database, and each firing
//! is a compare-and-set on the stored deadline, so a restart neither loses
//! an escalation nor fires it twice, even with several daemons.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::duty::resolve::{self, Duty, Pick};
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{
    Recipient, insert_deliveries, insert_recipients, parse_channels,
};
use crate::registry::roles::DUTY_OFFICER;
use crate::store::{StoreError, now_ms};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Due {
    pub id: i64,
    pub alert_id: i64,
    pub name: String,
    pub village_id: Option<i64>,
    pub escalation_order: i64,
    pub step: i64,
    pub ack_due_at: i64,
    pub repeats: i64,
    pub escalated: i64,
    pub channels: String,
    pub ack_within_minutes: i64,
    /// The alert's `escalate_to` roles (JSON list), if it names them.
    pub escalate_to: Option<String>,
    /// The silent person's township (their contact's, else their
    /// village's, else the notice's): the chain up is that township's own,
    /// so a county notice never escalates into another township.
    pub township: i64,
    /// The alert's escalation ladder (JSON), if it has one.
    pub ladder: Option<String>,
    /// The recipient's next rung of it.
    pub ladder_pos: Option<i64>,
    /// Whom a rung told this person for (they climb only reaching rungs).
    pub escalated_from: Option<i64>,
}

pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs_f64(n.cfg.escalation.check_secs.max(0.05));
    loop {
        match tick(&n, now_ms()).await {
            Ok(fired) if fired > 0 => n.wake.notify_waiters(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "escalation check failed"),
        }
        // Danger-zone transfers nobody has reported on are chased here too.
        match crate::transfer::orders::chase_silent(&n, now_ms()).await {
            Ok(chased) if chased > 0 => n.wake.notify_waiters(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "transfer silence check failed"),
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

/// Fires every deadline that has passed by `now`; returns how many fired.
pub async fn tick(n: &Notifier, now: i64) -> Result<usize, StoreError> {
    let due: Vec<Due> = sqlx::query_as(
        "SELECT r.id, r.alert_id, r.name, r.village_id, r.escalation_order, r.step, r.ack_due_at, r.repeats, \
         r.escalated, a.channels, a.ack_within_minutes, a.escalate_to, a.ladder, r.ladder_pos, r.escalated_from, \
         COALESCE((SELECT c.township_id FROM contacts c WHERE c.id = r.contact_id), \
         (SELECT v.township_id FROM villages v WHERE v.id = r.village_id), a.township_id) AS township \
         FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
         WHERE r.ack_due_at IS NOT NULL AND r.ack_due_at <= $1 AND r.answered_at IS NULL AND a.status = 'active' \
         AND a.ack_within_minutes IS NOT NULL ORDER BY r.ack_due_at, r.id LIMIT 500",
    )
    .bind(now)
    .fetch_all(&n.db.pool)
    .await?;
    let mut fired = 0;
    for d in due {
        // A notice with a ladder climbs it; one without escalates as configured.
        let ladder: Option<Vec<super::ladder::Step>> = d
            .ladder
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let done = match ladder {
            Some(steps) => super::climb::fire(n, &d, &steps, now).await?,
            None => fire(n, &d, now).await?,
        };
        if done {
            fired += 1;
        }
    }
    Ok(fired)
}

async fn fire(n: &Notifier, d: &Due, now: i64) -> Result<bool, StoreError> {
    let cfg = &n.cfg.escalation;
    let window = d.ack_within_minutes.max(1) * 60_000;
    let repeat = d.repeats < cfg.repeats;
    let next_due = if repeat { Some(now + window) } else { None };
    let mut tx = n.db.begin().await?;
    // Compare-and-set on the stored deadline: only one firing wins.
    let won = sqlx::query(
        "UPDATE alert_recipients SET ack_due_at = $1, repeats = repeats + $2, escalated = 1 \
         WHERE id = $3 AND ack_due_at = $4 AND answered_at IS NULL",
    )
    .bind(next_due)
    .bind(i64::from(repeat))
    .bind(d.id)
    .bind(d.ack_due_at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?
    .rows_affected()
        == 1;
    if !won {
        return Ok(false);
    }
    let channels = parse_channels(&d.channels);
    // Send at once: `now` may be a test's clock ahead of the real one.
    let send_at = now.min(now_ms());
    let mut added_deliveries = 0;
    let mut added_recipients = 0;
    if repeat {
        added_deliveries += insert_deliveries(
            &mut tx,
            d.alert_id,
            &channels,
            Some(&[d.id]),
            "repeat",
            send_at,
        )
        .await
        .map_err(to_store)?;
        super::climb::record_step(
            &mut tx,
            d.alert_id,
            d.id,
            None,
            super::ladder::Rung::Repeat,
            now,
            &format!("重发通知（第{}次）", d.repeats + 1),
            None,
        )
        .await?;
    }
    let mut told = None;
    let mut roster = Vec::new();
    if d.escalated == 0
        && d.step < cfg.max_steps
        && let Some((up, step)) = next_up(&mut tx, d, now, &mut roster).await?
    {
        {
            // Who in the silent person's village (or at township level) has
            // not answered, read before the person up is added: their
            // numbers go into the text that person gets.
            let note = not_answered_note(&mut tx, d).await?;
            let token_expiry = now + cfg.answer_token_hours.max(1) * 3_600_000;
            insert_recipients(
                &mut tx,
                d.alert_id,
                std::slice::from_ref(&up),
                "escalation",
                Some(d.id),
                step,
                now,
                Some(now + window),
                token_expiry,
                &n.cfg.answer_key,
            )
            .await
            .map_err(to_store)?;
            let (rid,): (i64,) = sqlx::query_as("SELECT id FROM alert_recipients WHERE alert_id = $1 AND escalated_from = $2 ORDER BY id DESC LIMIT 1")
                .bind(d.alert_id)
                .bind(d.id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE alert_recipients SET escalation_note = $1 WHERE id = $2")
                .bind(&note)
                .bind(rid)
                .execute(&mut *tx)
                .await?;
            added_deliveries += insert_deliveries(
                &mut tx,
                d.alert_id,
                &channels,
                Some(&[rid]),
                "escalation",
                send_at,
            )
            .await
            .map_err(to_store)?;
            super::climb::record_step(
                &mut tx,
                d.alert_id,
                d.id,
                None,
                super::ladder::Rung::Next,
                now,
                &format!("告知 {}", up.name),
                Some(rid),
            )
            .await?;
            told = Some(up.name.clone());
            added_recipients = 1;
        }
    }
    sqlx::query("UPDATE alerts SET recipients = recipients + $1, deliveries = deliveries + $2 WHERE id = $3")
        .bind(added_recipients)
        .bind(added_deliveries)
        .bind(d.alert_id)
        .execute(&mut *tx)
        .await?;
    let mut after = json!({ "recipient_id": d.id, "name": d.name, "repeat": repeat, "told": told, "step": d.step + 1 });
    if !roster.is_empty() {
        // What the duty roster said: the shift that decided, or its gap.
        after["roster"] = json!(roster);
    }
    crate::audit::record(
        &mut tx,
        "system:escalation",
        "escalate",
        "alert",
        Some(d.alert_id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    let m = crate::telemetry::metrics();
    if repeat {
        crate::telemetry::inc(&m.escalations, &[("step", "repeat")]);
    }
    if told.is_some() {
        crate::telemetry::inc(&m.escalations, &[("step", "next")]);
    }
    Ok(true)
}

/// How many people not yet answered are named, with their numbers, in an
/// escalation text; the rest are counted ("等 7 人"), so the SMS stays short.
pub const NAMED_IN_ESCALATION: usize = 3;

/// "张三 138 0013 8000、李四 139 5951 2468等 7 人": the people of the silent
/// person's village (township-level ones for a township-level person) who
/// have not answered this notice, the silent person first, each number as
/// dialled in China.
async fn not_answered_note(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
) -> Result<Option<String>, StoreError> {
    // Two statements rather than one with COALESCE, so that the
    // (alert_id, village_id) index serves both.
    let (list, count) = match d.village_id {
        Some(_) => (
            "SELECT id, name, phone FROM alert_recipients WHERE alert_id = $1 AND village_id = $2 \
             AND answered_at IS NULL ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END, escalation_order, id LIMIT 20",
            "SELECT COUNT(DISTINCT COALESCE(phone, name)) FROM alert_recipients WHERE alert_id = $1 \
             AND village_id = $2 AND answered_at IS NULL",
        ),
        // Township-level people of the silent person's own township: a
        // county notice has several townships' (`$2` is the township here).
        None => (
            "SELECT id, name, phone FROM alert_recipients WHERE alert_id = $1 AND village_id IS NULL \
             AND answered_at IS NULL AND (contact_id IS NULL OR contact_id IN (SELECT id FROM contacts WHERE township_id = $2)) \
             ORDER BY CASE WHEN id = $3 THEN 0 ELSE 1 END, escalation_order, id LIMIT 20",
            "SELECT COUNT(DISTINCT COALESCE(phone, name)) FROM alert_recipients WHERE alert_id = $1 \
             AND village_id IS NULL AND answered_at IS NULL \
             AND (contact_id IS NULL OR contact_id IN (SELECT id FROM contacts WHERE township_id = $2))",
        ),
    };
    let village = d.village_id.unwrap_or(d.township);
    let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(list)
        .bind(d.alert_id)
        .bind(village)
        .bind(d.id)
        .fetch_all(&mut *conn)
        .await?;
    let (total,): (i64,) = sqlx::query_as(count)
        .bind(d.alert_id)
        .bind(village)
        .fetch_one(&mut *conn)
        .await?;
    let total = usize::try_from(total).unwrap_or(0);
    Ok(note_text(&rows, total))
}

/// The list part of an escalation text from (id, name, phone) rows (the
/// first of them) and how many people in all have not answered; one person
/// (by number, else by name) once.
pub fn note_text(rows: &[(i64, String, Option<String>)], total: usize) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let people: Vec<String> = rows
        .iter()
        .filter(|(_, name, phone)| seen.insert(phone.clone().unwrap_or_else(|| name.clone())))
        .map(|(_, name, phone)| match phone {
            Some(p) => format!("{name} {}", crate::phone::dialled(p)),
            None => name.clone(),
        })
        .collect();
    if people.is_empty() {
        return None;
    }
    let shown = people
        .iter()
        .take(NAMED_IN_ESCALATION)
        .cloned()
        .collect::<Vec<_>>()
        .join("、");
    let total = total.max(people.len());
    Some(if total > NAMED_IN_ESCALATION {
        format!("{shown}等 {total} 人")
    } else {
        shown
    })
}

pub(crate) fn to_store(e: crate::notify::intake::alerts::AlertError) -> StoreError {
    match e {
        crate::notify::intake::alerts::AlertError::Store(s) => s,
        other => StoreError::Corrupt(other.to_string()),
    }
}

use crate::notify::intake::alerts::ContactRow;

const NOT_YET: &str = "id NOT IN (SELECT contact_id FROM alert_recipients WHERE alert_id = $1 AND contact_id IS NOT NULL)";

/// What the duty roster decided for a duty.
enum Roster {
    /// The person on shift not yet told; none when the shift's people were
    /// all told already (nobody more for this duty).
    Decided(Option<ContactRow>),
    /// A gap: the caller falls back to the role's holders, as before the roster.
    Gap,
}

/// Who holds `duty` at `now` and is not yet told: the roster's person on
/// shift, else (a gap) the role's holders; noted for the audit entry.
pub(crate) async fn duty_holder(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
    now: i64,
    duty: Duty,
    notes: &mut Vec<serde_json::Value>,
) -> Result<Option<Recipient>, StoreError> {
    match on_roster(conn, d, now, duty, notes).await? {
        Roster::Decided(c) => Ok(c.map(Recipient::from)),
        Roster::Gap => role_holder(conn, d, duty.role()).await,
    }
}

/// What the duty roster says for `duty` at `now`, noted for the audit entry.
async fn on_roster(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
    now: i64,
    duty: Duty,
    notes: &mut Vec<serde_json::Value>,
) -> Result<Roster, StoreError> {
    let role = duty.role();
    Ok(
        match resolve::next_for_alert(conn, d.alert_id, d.township, now, duty).await? {
            Pick::Person { shift_id, contact } => {
                notes.push(json!({ "role": role, "shift_id": shift_id }));
                Roster::Decided(Some(contact))
            }
            Pick::AllTold { shift_id } => {
                notes.push(json!({ "role": role, "shift_id": shift_id, "all_told": true }));
                Roster::Decided(None)
            }
            Pick::Gap { shift_id } => {
                // Loud where the township keeps a roster; a township that
                // keeps none escalates to the role's holders as it always did.
                let keeps: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM duty_shifts WHERE township_id = $1 AND archived_at IS NULL LIMIT 1",
                )
                .bind(d.township)
                .fetch_optional(&mut *conn)
                .await?;
                if keeps.is_some() {
                    tracing::warn!(
                        alert = d.alert_id,
                        township = d.township,
                        role,
                        "the duty roster has a gap at the moment of escalation: telling the role's holders"
                    );
                } else {
                    tracing::debug!(
                        alert = d.alert_id,
                        township = d.township,
                        role,
                        "no duty roster kept"
                    );
                }
                notes.push(json!({ "role": role, "gap": true, "shift_id": shift_id }));
                Roster::Gap
            }
        },
    )
}

/// The next person up who is not yet a recipient of this alert, and the
/// escalation step they are at.
pub(crate) async fn next_up(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
    now: i64,
    notes: &mut Vec<serde_json::Value>,
) -> Result<Option<(Recipient, i64)>, StoreError> {
    let roles: Vec<String> = d
        .escalate_to
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    if roles.is_empty() {
        return Ok(next_in_village(conn, d, now, notes)
            .await?
            .map(|r| (r, d.step + 1)));
    }
    // The alert's own chain: step k tells the (k+1)-th role, skipping roles
    // nobody (left) holds; someone in the silent person's village first,
    // then someone at township level, of their own township. After the
    // last role, nobody. The duty roster decides the township duty officer
    // and the leader on duty.
    for (k, role) in roles
        .iter()
        .enumerate()
        .skip(usize::try_from(d.step).unwrap_or(0))
    {
        if let Some(duty) = Duty::of_role(role) {
            match on_roster(conn, d, now, duty, notes).await? {
                Roster::Decided(Some(r)) => return Ok(Some((r.into(), k as i64 + 1))),
                Roster::Decided(None) => continue,
                Roster::Gap => {}
            }
        }
        let row: Option<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, phone, email, village_id, escalation_order FROM contacts \
             WHERE archived_at IS NULL AND active = 1 AND {NOT_YET} \
             AND id IN (SELECT contact_id FROM contact_roles WHERE role = $2) \
             AND (village_id = $3 OR village_id IS NULL) AND township_id = $4 \
             ORDER BY CASE WHEN village_id IS NULL THEN 1 ELSE 0 END, escalation_order, id LIMIT 1"
        )))
        .bind(d.alert_id)
        .bind(role)
        .bind(d.village_id)
        .bind(d.township)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            return Ok(Some((r.into(), k as i64 + 1)));
        }
    }
    Ok(None)
}

/// A holder of a township-level role in the silent person's township who is
/// not yet a recipient of the notice, first in escalation order.
pub(crate) async fn role_holder(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
    role: &str,
) -> Result<Option<Recipient>, StoreError> {
    let row: Option<ContactRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, phone, email, village_id, escalation_order FROM contacts \
         WHERE archived_at IS NULL AND active = 1 AND {NOT_YET} \
         AND id IN (SELECT contact_id FROM contact_roles WHERE role = $2) AND township_id = $3 \
         ORDER BY escalation_order, id LIMIT 1"
    )))
    .bind(d.alert_id)
    .bind(role)
    .bind(d.township)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Recipient::from))
}

/// Without a chain of roles: the next in the village's escalation order,
/// then the duty officer of the silent person's township: the one on shift
/// (the roster), else a holder of the role.
async fn next_in_village(
    conn: &mut sqlx::AnyConnection,
    d: &Due,
    now: i64,
    notes: &mut Vec<serde_json::Value>,
) -> Result<Option<Recipient>, StoreError> {
    let not_yet = NOT_YET;
    let mut row: Option<ContactRow> = None;
    if let Some(v) = d.village_id {
        row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, phone, email, village_id, escalation_order FROM contacts \
             WHERE archived_at IS NULL AND active = 1 AND village_id = $2 AND escalation_order > $3 AND {not_yet} \
             ORDER BY escalation_order, id LIMIT 1"
        )))
        .bind(d.alert_id)
        .bind(v)
        .bind(d.escalation_order)
        .fetch_optional(&mut *conn)
        .await?;
    }
    if row.is_some() {
        return Ok(row.map(Recipient::from));
    }
    if let Roster::Decided(on_shift) = on_roster(conn, d, now, Duty::Officer, notes).await? {
        return Ok(on_shift.map(Recipient::from));
    }
    row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, phone, email, village_id, escalation_order FROM contacts \
         WHERE archived_at IS NULL AND active = 1 AND {not_yet} \
         AND id IN (SELECT contact_id FROM contact_roles WHERE role = $2) AND township_id = $3 \
         ORDER BY escalation_order, id LIMIT 1"
    )))
    .bind(d.alert_id)
    .bind(DUTY_OFFICER)
    .bind(d.township)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Recipient::from))
}

#[cfg(test)]
mod tests {
    use super::note_text;

    #[test]
    fn names_the_first_three_with_numbers_then_counts() {
        let row = |id: i64, n: &str, p: Option<&str>| (id, n.to_string(), p.map(str::to_string));
        assert_eq!(note_text(&[], 0), None);
        assert_eq!(
            note_text(
                &[row(1, "张三", Some("+8613800138000")), row(2, "李四", None)],
                2
            )
            .as_deref(),
            Some("张三 138 0013 8000、李四")
        );
        let many = [
            row(1, "张三", Some("+8613800138000")),
            row(2, "李四", Some("+8613959512468")),
            row(3, "张三", Some("+8613800138000")),
            row(4, "王五", Some("+8659523281234")),
            row(5, "赵六", Some("+8613700000000")),
        ];
        assert_eq!(
            note_text(&many, 4).as_deref(),
            Some("张三 138 0013 8000、李四 139 5951 2468、王五 0595-2328 1234等 4 人")
        );
        // Only the first rows are read; the count comes from the database.
        assert_eq!(
            note_text(&many[..2], 40).as_deref(),
            Some("张三 138 0013 8000、李四 139 5951 2468等 40 人")
        );
    }
}

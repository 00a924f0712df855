//! Climbing a notice's escalation ladder (`ladder`): when a silent
//! person's deadline passes, the rung due is done (an SMS again, a call,
//! someone told), recorded as a step the board shows, and the next rung's
//! deadline set. Like the configured escalation, each firing is a
//! compare-and-set on the stored deadline, so a restart or a second daemon
//! neither loses a rung nor does it twice.

use std::collections::BTreeSet;

use serde_json::json;

use super::escalation::{Due, duty_holder, next_up, to_store};
use super::ladder::{Rung, Step, next_for};
use crate::duty::resolve::Duty;
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{
    Recipient, insert_deliveries, insert_recipients_returning, parse_channels,
};
use crate::store::{StoreError, now_ms};

/// Records one step taken for a silent person (the board's “↳” lines): the
/// row's columns one for one.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_step(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    recipient_id: i64,
    pos: Option<i64>,
    rung: Rung,
    at: i64,
    detail: &str,
    told: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recipient_steps (alert_id, recipient_id, pos, rung, at, detail, told_recipient_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(alert_id)
    .bind(recipient_id)
    .bind(pos)
    .bind(rung.as_str())
    .bind(at)
    .bind(detail)
    .bind(told)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether voice calls can be made (a provider is configured).
fn can_call(n: &Notifier) -> bool {
    n.senders.voice.is_some()
}

/// Does the rung due for `d` at `now`; false when another firing won.
pub(crate) async fn fire(
    n: &Notifier,
    d: &Due,
    steps: &[Step],
    now: i64,
) -> Result<bool, StoreError> {
    let told_person = d.escalated_from.is_some();
    let pos = usize::try_from(d.ladder_pos.unwrap_or(0)).unwrap_or(0);
    let due = next_for(steps, pos, told_person);
    // The rung after this one: its deadline counts from now.
    let after = due.and_then(|(i, _)| next_for(steps, i + 1, told_person));
    let mut tx = n.db.begin().await?;
    let won = sqlx::query(
        "UPDATE alert_recipients SET ack_due_at = $1, ladder_pos = $2, escalated = 1 \
         WHERE id = $3 AND ack_due_at = $4 AND answered_at IS NULL",
    )
    .bind(after.map(|(_, wait)| now + i64::from(wait) * 60_000))
    .bind(after.map(|(j, _)| j as i64))
    .bind(d.id)
    .bind(d.ack_due_at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let Some((i, _)) = due else {
        // Nothing left to climb: the deadline is cleared.
        tx.commit().await?;
        return Ok(false);
    };
    if !won {
        return Ok(false);
    }
    let rung = steps[i].then;
    // Send at once: `now` may be a test's clock ahead of the real one.
    let send_at = now.min(now_ms());
    let mut deliveries = 0;
    let mut recipients = 0;
    let mut told = None;
    // What the duty roster decided, for the audit entry.
    let mut roster = Vec::new();
    let detail = match rung {
        Rung::Sms | Rung::Call | Rung::Repeat => {
            let (channels, note) = match rung {
                Rung::Sms => (BTreeSet::from([Channel::Sms]), "再发短信"),
                Rung::Call if can_call(n) => (BTreeSet::from([Channel::Voice]), "拨打语音电话"),
                Rung::Call => (BTreeSet::from([Channel::Sms]), "未配置语音通道，改发短信"),
                _ => (parse_channels(&d.channels), "重发通知"),
            };
            let added = insert_deliveries(
                &mut tx,
                d.alert_id,
                &channels,
                Some(&[d.id]),
                "ladder",
                send_at,
            )
            .await
            .map_err(to_store)?;
            deliveries += added;
            if added == 0 {
                format!("{note}：无可用的号码或地址，未能发出")
            } else {
                note.to_string()
            }
        }
        Rung::Next | Rung::DutyOfficer | Rung::LeaderOnDuty => {
            let up = match rung {
                Rung::Next => next_up(&mut tx, d, now, &mut roster).await?,
                Rung::DutyOfficer => duty_holder(&mut tx, d, now, Duty::Officer, &mut roster)
                    .await?
                    .map(|r| (r, d.step + 1)),
                _ => duty_holder(&mut tx, d, now, Duty::Leader, &mut roster)
                    .await?
                    .map(|r| (r, d.step + 1)),
            };
            match up {
                None => "无人可告知（名单中没有尚未通知的人）".to_string(),
                Some((up, step)) => {
                    // The person told climbs the ladder's reaching rungs.
                    let theirs = next_for(steps, i + 1, true);
                    let token_expiry = now + n.cfg.escalation.answer_token_hours.max(1) * 3_600_000;
                    let ids = insert_recipients_returning(
                        &mut tx,
                        d.alert_id,
                        std::slice::from_ref(&up),
                        "escalation",
                        Some(d.id),
                        step,
                        now,
                        theirs.map(|(_, wait)| now + i64::from(wait) * 60_000),
                        token_expiry,
                        &n.cfg.answer_key,
                    )
                    .await
                    .map_err(to_store)?;
                    let Some(&rid) = ids.first() else {
                        return Err(StoreError::Corrupt(
                            "escalation recipient not stored".into(),
                        ));
                    };
                    sqlx::query("UPDATE alert_recipients SET ladder_pos = $1 WHERE id = $2")
                        .bind(theirs.map(|(j, _)| j as i64))
                        .bind(rid)
                        .execute(&mut *tx)
                        .await?;
                    // A later “next” rung goes further up the chain.
                    sqlx::query("UPDATE alert_recipients SET step = $1 WHERE id = $2")
                        .bind(step)
                        .bind(d.id)
                        .execute(&mut *tx)
                        .await?;
                    deliveries += insert_deliveries(
                        &mut tx,
                        d.alert_id,
                        &parse_channels(&d.channels),
                        Some(&[rid]),
                        "escalation",
                        send_at,
                    )
                    .await
                    .map_err(to_store)?;
                    recipients += 1;
                    told = Some(rid);
                    format!("告知 {}", who(&up))
                }
            }
        }
    };
    record_step(
        &mut tx,
        d.alert_id,
        d.id,
        Some(i as i64),
        rung,
        now,
        &detail,
        told,
    )
    .await?;
    sqlx::query("UPDATE alerts SET recipients = recipients + $1, deliveries = deliveries + $2 WHERE id = $3")
        .bind(recipients)
        .bind(deliveries)
        .bind(d.alert_id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut tx,
        "system:escalation",
        "escalate",
        "alert",
        Some(d.alert_id),
        None,
        Some(&json!({ "recipient_id": d.id, "name": d.name, "rung": rung.as_str(), "pos": i, "detail": detail,
                      "roster": roster })),
    )
    .await?;
    tx.commit().await?;
    crate::telemetry::inc(
        &crate::telemetry::metrics().escalations,
        &[("step", rung.as_str())],
    );
    Ok(true)
}

fn who(r: &Recipient) -> String {
    match &r.phone {
        Some(p) => format!("{} {}", r.name, crate::phone::dialled(p)),
        None => r.name.clone(),
    }
}

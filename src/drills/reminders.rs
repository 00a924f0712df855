//! Drill reminders: for every occurrence and lead time, one reminder, sent
//! once. The (drill, occurrence, lead) row is claimed under a unique key
//! before the notice is created, and the notice carries an idempotency key
//! derived from it, so neither a restart nor a second daemon sends it twice.
//! A reminder whose moment passed while the daemon was down is sent late if
//! the drill is still ahead, and recorded as missed otherwise. Reminders are
//! not urgent: inside quiet hours they wait for the morning.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, TimeZone, Timelike};
use tokio::sync::watch;

use super::{DrillRow, list, targets};
use crate::auth::{Actor, Role};
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{self, AlertInput};
use crate::store::{StoreError, now_ms};

pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs_f64(n.cfg.drills.check_secs.max(0.05));
    loop {
        // Each reminder sent woke the workers itself (`notify::send`).
        match tick(&n, now_ms()).await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "drill reminder check failed"),
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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub missed: usize,
    pub deferred: usize,
}

/// Whether `ms` falls inside the configured quiet hours (local time).
pub fn in_quiet_hours(n: &Notifier, ms: i64) -> bool {
    let parse = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
    let (Some(start), Some(end)) = (
        parse(&n.cfg.drills.quiet_start),
        parse(&n.cfg.drills.quiet_end),
    ) else {
        return false;
    };
    if start == end {
        return false;
    }
    let Some(t) = chrono::Utc.timestamp_millis_opt(ms).single() else {
        return false;
    };
    let local = t
        .with_timezone(&n.cfg.tz())
        .time()
        .with_nanosecond(0)
        .unwrap_or_default();
    if start < end {
        local >= start && local < end
    } else {
        local >= start || local < end
    }
}

/// Decides every reminder due by `now`.
pub async fn tick(n: &Notifier, now: i64) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let quiet = in_quiet_hours(n, now);
    let catch_up = n.cfg.drills.catch_up_days.max(1) * 86_400_000;
    for d in list(&n.db).await? {
        if d.active == 0 {
            continue;
        }
        let (Some(schedule), leads) = (d.schedule(), d.leads()) else {
            continue;
        };
        let Some(max_lead) = leads.iter().map(|(_, ms)| *ms).max() else {
            continue;
        };
        let sends_from = d.sends_from();
        let from = (now - catch_up).max(sends_from);
        let (Some(from_t), Some(to_t)) = (
            chrono::DateTime::from_timestamp_millis(from),
            chrono::DateTime::from_timestamp_millis(now + max_lead),
        ) else {
            continue;
        };
        for occ in schedule.between(from_t, to_t, 500) {
            let occ_ms = occ.timestamp_millis();
            for (lead, lead_ms) in &leads {
                let due = occ_ms - lead_ms;
                // Not yet due, or due before the drill was scheduled (or activated) at all.
                if due > now || due < sends_from {
                    continue;
                }
                let decision = decide(n, &d, occ_ms, lead, due, now, quiet).await?;
                count(n, &decision, due, now);
                match decision {
                    Decision::Sent => report.sent += 1,
                    Decision::Missed => report.missed += 1,
                    Decision::Deferred => report.deferred += 1,
                    Decision::AlreadyDone | Decision::Unaddressed => {}
                }
            }
        }
    }
    Ok(report)
}

/// A decided reminder in the metrics (`fenghuo_drill_reminders_total`): sent on time, sent
/// late (more than two checks, at least a minute, after it was due: the daemon was down, or
/// quiet hours held it), missed (its drill began before it could go), unaddressed (nobody to
/// send it to).
fn count(n: &Notifier, decision: &Decision, due: i64, now: i64) {
    let slack = ((n.cfg.drills.check_secs * 2000.0) as i64).max(60_000);
    let outcome = match decision {
        Decision::Sent if now - due > slack => "late",
        Decision::Sent => "sent",
        Decision::Missed => "missed",
        Decision::Unaddressed => "unaddressed",
        Decision::Deferred | Decision::AlreadyDone => return,
    };
    crate::telemetry::inc(
        &crate::telemetry::metrics().reminders,
        &[("outcome", outcome)],
    );
}

enum Decision {
    Unaddressed,
    Sent,
    Missed,
    Deferred,
    AlreadyDone,
}

async fn decide(
    n: &Notifier,
    d: &DrillRow,
    occ: i64,
    lead: &str,
    due: i64,
    now: i64,
    quiet: bool,
) -> Result<Decision, StoreError> {
    let existing: Option<(String, i64)> = sqlx::query_as("SELECT status, decided_at FROM drill_reminders WHERE drill_id = $1 AND occurrence_at = $2 AND lead = $3")
        .bind(d.id)
        .bind(occ)
        .bind(lead)
        .fetch_optional(&n.db.pool)
        .await?;
    match existing.as_ref().map(|(s, at)| (s.as_str(), *at)) {
        Some(("sent" | "missed", _)) => return Ok(Decision::AlreadyDone),
        // Claimed lately: another daemon is sending it now.
        Some(("claimed", at)) if at > now - STALE_CLAIM_MS => return Ok(Decision::AlreadyDone),
        // Claimed long ago and not finished (its daemon died), or nobody to
        // send it to last time: one daemon takes it over (compare-and-set on
        // what was read) and finishes it below.
        Some((status, at)) => {
            let r = sqlx::query(
                "UPDATE drill_reminders SET status = 'claimed', decided_at = $1 \
                 WHERE drill_id = $2 AND occurrence_at = $3 AND lead = $4 AND status = $5 AND decided_at = $6",
            )
            .bind(now)
            .bind(d.id)
            .bind(occ)
            .bind(lead)
            .bind(status)
            .bind(at)
            .execute(&n.db.pool)
            .await?;
            if r.rows_affected() == 0 {
                return Ok(Decision::AlreadyDone);
            }
        }
        None => {
            if occ <= now {
                let r = sqlx::query(
                    "INSERT INTO drill_reminders (drill_id, occurrence_at, lead, due_at, status, decided_at) VALUES ($1, $2, $3, $4, 'missed', $5) \
                     ON CONFLICT (drill_id, occurrence_at, lead) DO NOTHING",
                )
                .bind(d.id)
                .bind(occ)
                .bind(lead)
                .bind(due)
                .bind(now)
                .execute(&n.db.pool)
                .await?;
                return Ok(if r.rows_affected() == 1 {
                    Decision::Missed
                } else {
                    Decision::AlreadyDone
                });
            }
            if quiet {
                return Ok(Decision::Deferred);
            }
            let r = sqlx::query(
                "INSERT INTO drill_reminders (drill_id, occurrence_at, lead, due_at, status, decided_at) VALUES ($1, $2, $3, $4, 'claimed', $5) \
                 ON CONFLICT (drill_id, occurrence_at, lead) DO NOTHING",
            )
            .bind(d.id)
            .bind(occ)
            .bind(lead)
            .bind(due)
            .bind(now)
            .execute(&n.db.pool)
            .await?;
            if r.rows_affected() == 0 {
                return Ok(Decision::AlreadyDone);
            }
        }
    }
    let input = reminder_notice(n, d, occ, lead);
    let key = format!("drill-reminder:{}:{}:{}", d.id, occ, lead);
    // The drill's township's people only (and the notice is that township's).
    let actor = super::sender(&n.db, &Actor::new("system:drills", Role::Dispatcher), d).await?;
    let alert_id = match crate::notify::send(n, &actor, &input, Some(&key)).await {
        Ok(a) => Some(a.id),
        Err(alerts::AlertError::Store(e)) => return Err(e),
        Err(e) => {
            // Nobody to remind (e.g. the village has no contacts): record it rather than retry forever.
            tracing::warn!(drill = d.id, error = %e, "drill reminder could not be addressed");
            None
        }
    };
    sqlx::query("UPDATE drill_reminders SET status = $1, alert_id = $2, decided_at = $3 WHERE drill_id = $4 AND occurrence_at = $5 AND lead = $6")
        .bind(if alert_id.is_some() { "sent" } else { "unaddressed" })
        .bind(alert_id)
        .bind(now)
        .bind(d.id)
        .bind(occ)
        .bind(lead)
        .execute(&n.db.pool)
        .await?;
    Ok(if alert_id.is_some() {
        Decision::Sent
    } else {
        Decision::Unaddressed
    })
}

/// A claimed reminder older than this belonged to a daemon that stopped
/// before sending it; younger, it is being sent. Either way the notice's
/// idempotency key keeps it one notice.
const STALE_CLAIM_MS: i64 = 120_000;

/// Longest part of a drill's title quoted in its reminders.
pub const TITLE_CHARS: usize = 30;

/// A drill's title as its reminders quote it: at most [`TITLE_CHARS`] characters (cut with …),
/// on one line, without quotation marks that could close the quote around it, and with
/// template braces escaped. A reminder is a fixed text with this inserted, so whatever the title
/// says, the SMS reads as a drill reminder and never as the title alone.
pub fn quoted_title(title: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| match c {
            '“' | '”' | '"' | '＂' | '「' | '」' | '『' | '』' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let clean = clean.trim();
    let short: String = if clean.chars().count() > TITLE_CHARS {
        let mut s: String = clean.chars().take(TITLE_CHARS - 1).collect();
        s.push('…');
        s
    } else {
        clean.to_string()
    };
    short.replace('{', "{{").replace('}', "}}")
}

fn reminder_notice(n: &Notifier, d: &DrillRow, occ: i64, lead: &str) -> AlertInput {
    let tz = d.tz();
    let when = chrono::Utc
        .timestamp_millis_opt(occ)
        .single()
        .map(|t| t.with_timezone(&tz).format("%m月%d日 %H:%M").to_string())
        .unwrap_or_default();
    let title = quoted_title(&d.title);
    AlertInput {
        title: format!("演练提醒：“{title}”"),
        body: format!(
            "演练提醒（不是真实警报）：{{name}}，{{village}}将于 {when} 举行“{title}”演练（提前{lead}提醒），请做好准备。Drill reminder, not a real alert."
        ),
        level: None,
        exercise: true,
        public: false,
        channels: if n.senders.sms.is_some() {
            vec![Channel::Sms]
        } else {
            vec![Channel::Email]
        },
        ack_within_minutes: None,
        targets: targets(d),
        updates: None,
        plan: d.plan_id.clone(),
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
    use super::*;

    #[test]
    fn titles_are_quoted_short_and_inert() {
        assert_eq!(quoted_title("防汛转移演练"), "防汛转移演练");
        let long = "紧急通知：请全体村民立即撤离到安全地带，不要返回家中取物，听从村干部指挥";
        let q = quoted_title(long);
        assert_eq!(q.chars().count(), TITLE_CHARS);
        assert!(q.ends_with('…') && long.starts_with(q.trim_end_matches('…')));
        assert_eq!(
            quoted_title("演练”取消。紧急：撤离“"),
            "演练'取消。紧急：撤离'"
        );
        assert_eq!(quoted_title("a\nb {name}"), "a b {{name}}");
    }
}

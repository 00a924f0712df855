//! Progress as it comes back: an SMS report read by `keywords` (counted for
//! the transfer its sender is in charge of, read back to them), a household
//! ticked on the cadre's page, people checked in at a shelter, or figures an
//! office enters from a phone call. Every report is a row of its own, so two
//! cadres reporting at once both count; a correction ("更正 …") marks the
//! sender's previous figure replaced. Nothing here overwrites a figure
//! another person gave.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::keywords::{self, Reply};
use super::{Count, Direction, HouseholdStatus};
use crate::auth::Actor;
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::optional_text;

/// What became of an SMS that reads as a transfer report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// Counted for `transfer_id`; `confirmation` is read back to the sender.
    Counted {
        transfer_id: i64,
        report_id: i64,
        contact_id: i64,
        /// The sender's own transfer notice, to be answered (叫应) by the report.
        recipient_id: Option<i64>,
        confirmation: String,
        /// More moved than the zone has registered: accepted, shown flagged.
        flagged: bool,
    },
    /// From a person in charge, but no figure could be read: kept for a person to read.
    Unreadable { transfer_id: i64 },
    /// A report from a number not in charge of any open transfer: kept and shown, changes nothing.
    UnknownSender,
}

impl SmsOutcome {
    /// The outcome stored with the inbound message.
    pub fn code(&self) -> &'static str {
        match self {
            SmsOutcome::Counted { .. } => "transfer",
            SmsOutcome::Unreadable { .. } => "transfer_unreadable",
            SmsOutcome::UnknownSender => "transfer_unknown_sender",
        }
    }
    pub fn transfer_id(&self) -> Option<i64> {
        match self {
            SmsOutcome::Counted { transfer_id, .. } | SmsOutcome::Unreadable { transfer_id } => {
                Some(*transfer_id)
            }
            SmsOutcome::UnknownSender => None,
        }
    }
}

/// Reads an SMS `text` from `phone` as a transfer report, inside the
/// caller's transaction (the inbound message's). `None`: not a transfer
/// report at all (it goes on as any other reply).
pub async fn from_sms(
    conn: &mut sqlx::AnyConnection,
    phone: &str,
    text: &str,
    now: i64,
) -> Result<Option<SmsOutcome>> {
    let parsed = keywords::parse(text);
    if parsed == Reply::NotTransfer {
        return Ok(None);
    }
    // The open transfers whose notice went to this number: its sender is in
    // charge of them. Newest notice first.
    let mine: Vec<(i64, i64, String, i64)> = sqlx::query_as(
        "SELECT tn.transfer_id, tn.contact_id, t.direction, r.id FROM transfer_notices tn \
         JOIN transfers t ON t.id = tn.transfer_id \
         JOIN alert_recipients r ON r.alert_id = tn.alert_id AND r.contact_id = tn.contact_id \
         WHERE r.phone = $1 AND t.closed_at IS NULL AND tn.purpose IN ('out', 'back') \
         ORDER BY tn.alert_id DESC",
    )
    .bind(phone)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = mine.first() else {
        return Ok(Some(SmsOutcome::UnknownSender));
    };
    let report = match parsed {
        Reply::Report(r) => r,
        _ => {
            return Ok(Some(SmsOutcome::Unreadable {
                transfer_id: first.0,
            }));
        }
    };
    let wanted = match report.direction {
        keywords::Direction::Out => "out",
        keywords::Direction::Back => "back",
    };
    // "已转移" while only a return is open (or "已返回" while people are
    // still going out) is not counted the other way: a person reads it.
    let Some((transfer, contact, _, recipient)) = mine.iter().find(|m| m.2 == wanted).cloned()
    else {
        return Ok(Some(SmsOutcome::Unreadable {
            transfer_id: first.0,
        }));
    };
    // A correction that gives only some figures ("更正 转移 10": persons)
    // keeps the others from the figure it replaces.
    let before: Said = if report.correction {
        last_of(conn, transfer, Some(contact)).await?
    } else {
        None
    }
    .unwrap_or_default();
    let f = [
        report.moved.households,
        report.moved.persons,
        report.refused.households,
        report.refused.persons,
        report.away.households,
        report.away.persons,
        report.remaining.households,
        report.remaining.persons,
    ];
    let mut said: Said = [None; 8];
    for (k, v) in f.iter().enumerate() {
        said[k] = v.map(i64::from).or(before[k]);
    }
    let (report_id, flagged) = insert_report(
        conn,
        transfer,
        Some(contact),
        Some(phone),
        "sms",
        &said,
        report.correction,
        Some(text),
        now,
    )
    .await?;
    // The read-back names the zone: a cadre in charge of two knows which
    // one it was counted for.
    let (zone,): (String,) = sqlx::query_as(
        "SELECT z.name FROM transfers t JOIN danger_zones z ON z.id = t.zone_id WHERE t.id = $1",
    )
    .bind(transfer)
    .fetch_one(&mut *conn)
    .await?;
    let mut confirmation = report
        .confirmation_zh()
        .replacen('：', &format!("（{zone}）："), 1);
    if flagged {
        confirmation.push_str("（超过登记人数，请核实）");
    }
    Ok(Some(SmsOutcome::Counted {
        transfer_id: transfer,
        report_id,
        contact_id: contact,
        recipient_id: Some(recipient),
        confirmation,
        flagged,
    }))
}

/// What one report said: moved, refused, away, remaining × households,
/// persons; `None` where it said nothing of that figure.
pub(crate) type Said = [Option<i64>; 8];

/// Figures reported as a whole (each kind only when said).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    #[serde(default)]
    pub moved: Option<Count>,
    #[serde(default)]
    pub refused: Option<Count>,
    #[serde(default)]
    pub away: Option<Count>,
    #[serde(default)]
    pub remaining: Option<Count>,
}

impl Counts {
    fn said(&self) -> Said {
        let mut s: Said = [None; 8];
        for (k, c) in [self.moved, self.refused, self.away, self.remaining]
            .iter()
            .enumerate()
        {
            if let Some(c) = c {
                s[2 * k] = Some(c.households);
                s[2 * k + 1] = Some(c.persons);
            }
        }
        s
    }
}

type SaidRow = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The sender's figures that a correction would replace.
async fn last_of(
    conn: &mut sqlx::AnyConnection,
    transfer: i64,
    contact: Option<i64>,
) -> Result<Option<Said>> {
    let row: Option<SaidRow> = sqlx::query_as(
        "SELECT moved_households, moved_persons, refused_households, refused_persons, away_households, away_persons, \
         remaining_households, remaining_persons FROM transfer_reports WHERE transfer_id = $1 \
         AND contact_id IS NOT DISTINCT FROM CAST($2 AS BIGINT) AND replaced_by IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(transfer)
    .bind(contact)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| [r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7]))
}

/// Stores one report; a correction replaces the sender's last one. Gives
/// its id and whether the transfer's reported total now passes the persons
/// registered (accepted, flagged).
#[allow(clippy::too_many_arguments)]
async fn insert_report(
    conn: &mut sqlx::AnyConnection,
    transfer: i64,
    contact: Option<i64>,
    phone: Option<&str>,
    source: &str,
    said: &Said,
    correction: bool,
    text: Option<&str>,
    now: i64,
) -> Result<(i64, bool)> {
    let previous: Option<(i64,)> = if correction {
        sqlx::query_as(
            "SELECT id FROM transfer_reports WHERE transfer_id = $1 AND contact_id IS NOT DISTINCT FROM CAST($2 AS BIGINT) \
             AND replaced_by IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(transfer)
        .bind(contact)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO transfer_reports (transfer_id, contact_id, phone, source, moved_households, moved_persons, \
         refused_households, refused_persons, away_households, away_persons, remaining_households, remaining_persons, \
         correction, text, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(transfer)
    .bind(contact)
    .bind(phone)
    .bind(source)
    .bind(said[0])
    .bind(said[1])
    .bind(said[2])
    .bind(said[3])
    .bind(said[4])
    .bind(said[5])
    .bind(said[6])
    .bind(said[7])
    .bind(i64::from(correction))
    .bind(text)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if let Some((old,)) = previous {
        sqlx::query("UPDATE transfer_reports SET replaced_by = $1 WHERE id = $2")
            .bind(id)
            .bind(old)
            .execute(&mut *conn)
            .await?;
    }
    reported(conn, transfer, now).await?;
    // Each sender's latest moved persons, added up: more than registered is flagged.
    let (planned,): (i64,) = sqlx::query_as("SELECT planned_persons FROM transfers WHERE id = $1")
        .bind(transfer)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT contact_id, moved_persons FROM transfer_reports WHERE transfer_id = $1 AND replaced_by IS NULL ORDER BY id",
    )
    .bind(transfer)
    .fetch_all(&mut *conn)
    .await?;
    let mut latest: std::collections::HashMap<Option<i64>, i64> = Default::default();
    for (who, moved) in rows {
        if let Some(m) = moved {
            latest.insert(who, m);
        }
    }
    Ok((id, latest.values().sum::<i64>() > planned))
}

/// The transfer has been reported on: no more chasing. Always writes the
/// row, so on PostgreSQL it also holds the transfer's row lock until the
/// caller commits: two ticks at once are taken one after the other (the
/// last one of a return then sees everyone back).
async fn reported(conn: &mut sqlx::AnyConnection, transfer: i64, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE transfers SET first_report_at = COALESCE(first_report_at, $1) WHERE id = $2",
    )
    .bind(now)
    .bind(transfer)
    .execute(conn)
    .await?;
    Ok(())
}

/// Figures an office enters from a phone call.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    #[serde(flatten)]
    pub counts: Counts,
    /// Replaces the last figure entered for the same person.
    #[serde(default)]
    pub correction: bool,
    /// The cadre who reported by phone (a contact id).
    #[serde(default)]
    pub contact_id: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
}

pub async fn report(
    db: &Db,
    actor: &Actor,
    transfer: i64,
    i: &ReportInput,
) -> Result<i64, WriteError> {
    for (field, c) in [
        ("moved", i.counts.moved),
        ("refused", i.counts.refused),
        ("away", i.counts.away),
        ("remaining", i.counts.remaining),
    ] {
        if let Some(c) = c
            && (!(0..=100_000).contains(&c.households) || !(0..=100_000).contains(&c.persons))
        {
            return Err(WriteError::field(
                field,
                "households and persons are 0 to 100000",
            ));
        }
    }
    let note = optional_text("note", &i.note, 500)?;
    let mut tx = db.begin().await?;
    open_in_scope(db, &mut tx, transfer).await?;
    let (id, flagged) = insert_report(
        &mut tx,
        transfer,
        i.contact_id,
        None,
        "office",
        &i.counts.said(),
        i.correction,
        note.as_deref(),
        now_ms(),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "report",
        "transfer",
        Some(transfer),
        None,
        Some(&json!({"report": id, "counts": i.counts, "correction": i.correction, "flagged": flagged})),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The transfer must be open and the handle's to change.
async fn open_in_scope(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    transfer: i64,
) -> Result<String, WriteError> {
    let row: Option<(String, Option<i64>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.direction, t.closed_at, z.village_id FROM transfers t JOIN danger_zones z ON z.id = t.zone_id \
         WHERE t.id = $1 AND {}",
        db.township_filter("t.township_id")
    )))
    .bind(transfer)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((direction, closed, village)) = row else {
        return Err(WriteError::NotFound);
    };
    if db
        .scope()
        .and_then(crate::store::Scope::village)
        .is_some_and(|v| v != village)
    {
        return Err(WriteError::NotFound);
    }
    if closed.is_some() {
        return Err(WriteError::Conflict(
            "the transfer is closed (转移已结束)".into(),
        ));
    }
    Ok(direction)
}

/// A household ticked: who ticks (a cadre through their link, limited to
/// their own households; or a signed-in user), what state, a note.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TickInput {
    pub household_id: i64,
    pub status: HouseholdStatus,
    #[serde(default)]
    pub note: Option<String>,
}

/// Records a household's state. `cadre`: only that cadre's households (the
/// link page; `None` for office users, whose scope `db` carries). A return
/// whose every household is back (or away) closes by itself.
pub async fn tick(
    db: &Db,
    by: &str,
    transfer: i64,
    cadre: Option<i64>,
    i: &TickInput,
) -> Result<(), WriteError> {
    let note = optional_text("note", &i.note, 200)?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let direction = Direction::parse(&open_in_scope(db, &mut tx, transfer).await?);
    reported(&mut tx, transfer, now).await?;
    if !super::orders::allowed(direction, i.status) {
        return Err(WriteError::field(
            "status",
            format!(
                "'{}' is not a state of a {} (可选：{})",
                i.status.as_str(),
                direction.zh(),
                HouseholdStatus::choices(direction)
                    .iter()
                    .map(|s| s.zh())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    let before: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT status, cadre_id FROM transfer_households WHERE transfer_id = $1 AND household_id = $2",
    )
    .bind(transfer)
    .bind(i.household_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((was, owner)) = before else {
        return Err(WriteError::field(
            "household_id",
            "not a household of this transfer",
        ));
    };
    if cadre.is_some_and(|c| owner != Some(c)) {
        return Err(WriteError::field(
            "household_id",
            "not one of your households (不是您负责的户)",
        ));
    }
    sqlx::query(
        "UPDATE transfer_households SET status = $1, note = COALESCE($2, note), updated_at = $3, updated_by = $4 \
         WHERE transfer_id = $5 AND household_id = $6",
    )
    .bind(i.status.as_str())
    .bind(&note)
    .bind(now)
    .bind(by)
    .bind(transfer)
    .bind(i.household_id)
    .execute(&mut *tx)
    .await?;
    reported(&mut tx, transfer, now).await?;
    crate::audit::record(
        &mut tx,
        by,
        "tick",
        "transfer",
        Some(transfer),
        Some(&json!({"household": i.household_id, "status": was})),
        Some(&json!({"household": i.household_id, "status": i.status.as_str(), "note": note})),
    )
    .await?;
    if direction == Direction::Back {
        let (left,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM transfer_households WHERE transfer_id = $1 AND status NOT IN ('returned', 'away')",
        )
        .bind(transfer)
        .fetch_one(&mut *tx)
        .await?;
        if left == 0 {
            sqlx::query("UPDATE transfers SET closed_at = $1, closed_by = $2 WHERE id = $3 AND closed_at IS NULL")
                .bind(now)
                .bind(by)
                .bind(transfer)
                .execute(&mut *tx)
                .await?;
            crate::audit::record(
                &mut tx,
                by,
                "close",
                "transfer",
                Some(transfer),
                None,
                Some(&json!({"why": "everyone back (全部返回)"})),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// People of a household arriving at a shelter, entered by the shelter's manager.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinInput {
    pub household_id: i64,
    /// How many of its members arrived (0 undoes a mistaken check-in).
    pub arrived: i64,
}

pub async fn checkin(
    db: &Db,
    actor: &Actor,
    transfer: i64,
    i: &CheckinInput,
) -> Result<(), WriteError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let direction = Direction::parse(&open_in_scope(db, &mut tx, transfer).await?);
    if direction == Direction::Back {
        return Err(WriteError::Conflict(
            "people are going home on this transfer, not to a shelter".into(),
        ));
    }
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT members, status FROM transfer_households WHERE transfer_id = $1 AND household_id = $2",
    )
    .bind(transfer)
    .bind(i.household_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((members, status)) = row else {
        return Err(WriteError::field(
            "household_id",
            "not a household of this transfer",
        ));
    };
    if !(0..=members).contains(&i.arrived) {
        return Err(WriteError::field(
            "arrived",
            format!("must be between 0 and the household's {members} members"),
        ));
    }
    // Arriving means moved; an undone check-in leaves the cadre's tick alone.
    let status = match (i.arrived > 0, status.as_str()) {
        (true, "unknown" | "moved" | "refused") => "shelter",
        (false, "shelter") => "moved",
        (_, s) => s,
    };
    sqlx::query(
        "UPDATE transfer_households SET arrived = $1, arrived_at = $2, status = $3, updated_at = $2, updated_by = $4 \
         WHERE transfer_id = $5 AND household_id = $6",
    )
    .bind(i.arrived)
    .bind(now)
    .bind(status)
    .bind(&actor.name)
    .bind(transfer)
    .bind(i.household_id)
    .execute(&mut *tx)
    .await?;
    reported(&mut tx, transfer, now).await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "checkin",
        "transfer",
        Some(transfer),
        None,
        Some(&json!({"household": i.household_id, "arrived": i.arrived})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Who holds a transfer link: the answer token's notice → its transfer and
/// the contact it went to (their households), if it is a transfer notice.
pub async fn by_notice(db: &Db, alert_id: i64) -> Result<Option<(i64, i64, bool)>> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT tn.transfer_id, tn.contact_id, CASE WHEN z.leader_id = tn.contact_id THEN 1 ELSE 0 END \
         FROM transfer_notices tn JOIN transfers t ON t.id = tn.transfer_id JOIN danger_zones z ON z.id = t.zone_id \
         WHERE tn.alert_id = $1 AND tn.purpose IN ('out', 'back')",
    )
    .bind(alert_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(t, c, leader)| (t, c, leader != 0)))
}

/// Reads a counted SMS report back to its sender ("已记录：转移5户12人…"),
/// so a misread figure is caught by the person who sent it. A receipt:
/// it asks for no answer.
pub async fn read_back(
    n: &crate::notify::delivery::outbox::Notifier,
    transfer: i64,
    contact: i64,
    confirmation: &str,
) -> Result<(), WriteError> {
    let township: Option<(i64,)> =
        sqlx::query_as("SELECT township_id FROM transfers WHERE id = $1")
            .bind(transfer)
            .fetch_optional(&n.db.pool)
            .await?;
    let mut actor = Actor::system();
    actor.township = township.map_or(crate::registry::townships::HOME, |t| t.0);
    let notice = crate::notify::intake::alerts::AlertInput {
        title: "转移报告回执".into(),
        body: confirmation.replace('{', "{{").replace('}', "}}"),
        level: None,
        exercise: false,
        public: false,
        channels: vec![crate::notify::Channel::Sms],
        ack_within_minutes: None,
        targets: crate::notify::intake::targets::Targets {
            contacts: vec![contact],
            ..Default::default()
        },
        updates: None,
        plan: None,
        urgent: Some(true),
        escalate_to: Vec::new(),
        ladder: Vec::new(),
        all_clear: false,
        receipt: true,
        own_reply: false,
    };
    crate::notify::send(n, &actor, &notice, None)
        .await
        .map_err(super::orders::alert_error)?;
    Ok(())
}

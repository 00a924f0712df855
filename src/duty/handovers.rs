//! Handovers (交接班): who handed the duty to whom, when, and what was
//! pending (a reply still to read, a village to call back). Kept as
//! written and audited; never changed, so the record is what was said at
//! the time.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::shifts::DutyPerson;
use crate::auth::Actor;
use crate::store::{Db, Result, WriteError, now_ms};

/// How far ahead of now a handover may be dated: a clock a few minutes fast.
const AHEAD_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    /// Who handed over (交班人): a contact of the township.
    pub from_contact_id: i64,
    /// Who took over (接班人): a contact of the township.
    pub to_contact_id: i64,
    /// When, RFC 3339; now when left out.
    #[serde(default)]
    pub at: Option<String>,
    /// The shift taken over, if it is on the roster.
    #[serde(default)]
    pub shift_id: Option<i64>,
    /// What was handed over: matters pending, things to watch.
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Handover {
    pub id: i64,
    pub township_id: i64,
    pub shift_id: Option<i64>,
    pub from: DutyPerson,
    pub to: DutyPerson,
    /// RFC 3339 in the configured zone.
    pub at: String,
    pub notes: Option<String>,
    /// Who recorded it.
    pub recorded_by: String,
    pub sample: bool,
    pub created_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    township_id: i64,
    shift_id: Option<i64>,
    from_contact_id: i64,
    from_name: String,
    from_phone: String,
    from_ok: i64,
    to_contact_id: i64,
    to_name: String,
    to_phone: String,
    to_ok: i64,
    handed_at: i64,
    notes: Option<String>,
    recorded_by: String,
    sample: i64,
    created_at: i64,
}

const SELECT: &str = "SELECT h.id, h.township_id, h.shift_id, \
    h.from_contact_id, f.name AS from_name, f.phone AS from_phone, \
    CAST(CASE WHEN f.archived_at IS NULL AND f.active = 1 THEN 1 ELSE 0 END AS BIGINT) AS from_ok, \
    h.to_contact_id, t.name AS to_name, t.phone AS to_phone, \
    CAST(CASE WHEN t.archived_at IS NULL AND t.active = 1 THEN 1 ELSE 0 END AS BIGINT) AS to_ok, \
    h.handed_at, h.notes, h.recorded_by, h.sample, h.created_at \
    FROM duty_handovers h JOIN contacts f ON f.id = h.from_contact_id JOIN contacts t ON t.id = h.to_contact_id";

impl Row {
    fn view(self, tz: chrono_tz::Tz) -> Handover {
        Handover {
            id: self.id,
            township_id: self.township_id,
            shift_id: self.shift_id,
            from: DutyPerson {
                contact_id: self.from_contact_id,
                name: self.from_name,
                phone: self.from_phone,
                available: self.from_ok == 1,
            },
            to: DutyPerson {
                contact_id: self.to_contact_id,
                name: self.to_name,
                phone: self.to_phone,
                available: self.to_ok == 1,
            },
            at: crate::time::fmt_ms(self.handed_at, tz),
            notes: self.notes,
            recorded_by: self.recorded_by,
            sample: self.sample != 0,
            created_at: crate::time::fmt_ms(self.created_at, tz),
        }
    }
}

/// Most handovers one list returns.
pub const MAX_LISTED: i64 = 500;

/// The handovers the handle's scope covers made in [from, until), newest first.
pub async fn list(db: &Db, from: i64, until: i64, tz: chrono_tz::Tz) -> Result<Vec<Handover>> {
    let mut tx = db.read().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE h.handed_at >= $1 AND h.handed_at < $2 AND {} \
         ORDER BY h.handed_at DESC, h.id DESC LIMIT {MAX_LISTED}",
        db.township_filter("h.township_id")
    )))
    .bind(from)
    .bind(until)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.view(tz)).collect())
}

/// Records a handover in the actor's township (sample data: `sample`).
pub async fn record(
    db: &Db,
    actor: &Actor,
    input: &HandoverInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> std::result::Result<Handover, WriteError> {
    let now = now_ms();
    let at = match input.at.as_deref().map(str::trim) {
        None | Some("") => now,
        Some(t) => crate::time::parse_rfc3339(t)
            .ok_or_else(|| WriteError::field("at", format!("'{t}' is not an RFC 3339 time")))?,
    };
    if at > now + AHEAD_MS {
        return Err(WriteError::field(
            "at",
            "is in the future: record a handover when it happens (交接时间不能晚于现在)",
        ));
    }
    if input.from_contact_id == input.to_contact_id {
        return Err(WriteError::field(
            "to_contact_id",
            "must be someone else than who handed over (交班人和接班人不能是同一人)",
        ));
    }
    let notes = super::note("notes", &input.notes, 2000)?;
    let township = actor.township;
    let mut tx = db.begin().await?;
    for (field, id) in [
        ("from_contact_id", input.from_contact_id),
        ("to_contact_id", input.to_contact_id),
    ] {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM contacts WHERE id = $1 AND township_id = $2 AND archived_at IS NULL",
        )
        .bind(id)
        .bind(township)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(WriteError::field(
                field,
                format!("no contact with id {id} in the township (本乡镇没有此联系人)"),
            ));
        }
    }
    if let Some(s) = input.shift_id {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM duty_shifts WHERE id = $1 AND township_id = $2 AND archived_at IS NULL",
        )
        .bind(s)
        .bind(township)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(WriteError::field(
                "shift_id",
                format!("no shift with id {s} on the township's roster"),
            ));
        }
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO duty_handovers (township_id, shift_id, from_contact_id, to_contact_id, handed_at, notes, recorded_by, sample, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(township)
    .bind(input.shift_id)
    .bind(input.from_contact_id)
    .bind(input.to_contact_id)
    .bind(at)
    .bind(&notes)
    .bind(&actor.name)
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE h.id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let view = row.view(tz);
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "duty_handover",
        Some(id),
        None,
        Some(&json!(view)),
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

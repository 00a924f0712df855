//! Shifts of the duty roster: checked (the day and clock times, the people
//! contacts of the shift's township, no overlap with another shift of the
//! township), written with their officers in call order, audited; changed
//! through `store::versioned` (a stale edit is a conflict), deleted by
//! archiving so the record of who was on duty stays.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use crate::auth::Actor;
use crate::store::versioned::{self, Edit, Versioned, Written};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{FieldResult, err};

/// Officers one shift may name.
pub const MAX_OFFICERS: usize = 10;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftInput {
    /// The local day the shift starts on, `YYYY-MM-DD`.
    pub date: String,
    /// Local start time, `HH:MM` ("08:30").
    pub start: String,
    /// Local end time, `HH:MM`. At or before the start it is the next day's:
    /// 17:30 → 08:30 is a night shift; the start's own time, 24 hours.
    pub end: String,
    /// The leader on shift (带班领导): a contact of the township.
    #[serde(default)]
    pub leader_id: Option<i64>,
    /// The duty officers (值班员), in the order they are called.
    #[serde(default)]
    pub officer_ids: Vec<i64>,
    #[serde(default)]
    pub note: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A person of a shift.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DutyPerson {
    pub contact_id: i64,
    pub name: String,
    /// E.164.
    pub phone: String,
    /// False once the contact is disabled or archived: escalation passes
    /// them by, and the page says so.
    pub available: bool,
}

/// What kind of shift its times make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShiftKind {
    /// 白班: within one day.
    Day,
    /// 夜班: ends the next day.
    Night,
    /// 24小时班.
    Full,
}

impl ShiftKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            ShiftKind::Day => "白班",
            ShiftKind::Night => "夜班",
            ShiftKind::Full => "24小时班",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            ShiftKind::Day => "day",
            ShiftKind::Night => "night",
            ShiftKind::Full => "24 hours",
        }
    }
}

/// A shift as the office and the API read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DutyShift {
    pub id: i64,
    pub township_id: i64,
    /// The local day it starts on.
    pub date: String,
    /// Local start and end times as entered, `HH:MM`.
    pub start: String,
    pub end: String,
    /// Whether it ends on the next day.
    pub overnight: bool,
    pub kind: ShiftKind,
    /// 白班 / 夜班 / 24小时班
    pub kind_label: &'static str,
    /// RFC 3339 in the configured zone.
    pub starts_at: String,
    pub ends_at: String,
    /// The leader on shift (带班领导).
    pub leader: Option<DutyPerson>,
    /// The duty officers (值班员), in the order they are called.
    pub officers: Vec<DutyPerson>,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub starts_ms: i64,
    #[serde(skip)]
    pub ends_ms: i64,
}

impl DutyShift {
    /// Whether it covers the moment `at`.
    pub fn covers(&self, at: i64) -> bool {
        self.starts_ms <= at && at < self.ends_ms
    }
    /// "08:30–17:30", "17:30–次日08:30".
    pub fn hours_zh(&self) -> String {
        let next = if self.overnight { "次日" } else { "" };
        format!("{}–{next}{}", self.start, self.end)
    }
    pub fn hours_en(&self) -> String {
        let next = if self.overnight { " (next day)" } else { "" };
        format!("{}–{}{next}", self.start, self.end)
    }
}

/// A checked input: the day, its times and their span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Valid {
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub starts_at: i64,
    pub ends_at: i64,
    pub leader_id: Option<i64>,
    pub officer_ids: Vec<i64>,
    pub note: Option<String>,
}

/// The day and times of a shift as typed, or the field at fault.
pub(crate) fn times(
    tz: chrono_tz::Tz,
    date: &str,
    start: &str,
    end: &str,
) -> FieldResult<(NaiveDate, NaiveTime, NaiveTime, i64, i64)> {
    let d = crate::validate::date("date", date)?;
    if !(2000..=2100).contains(&chrono::Datelike::year(&d)) {
        return err("date", "must be a day between 2000 and 2100");
    }
    let Some(s) = super::parse_clock(start) else {
        return err("start", format!("'{start}' is not a time of day (HH:MM)"));
    };
    let Some(e) = super::parse_clock(end) else {
        return err("end", format!("'{end}' is not a time of day (HH:MM)"));
    };
    let Some((starts_at, ends_at, _)) = super::span(tz, d, s, e) else {
        return err(
            "start",
            "this local time does not exist in the configured zone",
        );
    };
    Ok((d, s, e, starts_at, ends_at))
}

pub(crate) fn validate(input: &ShiftInput, tz: chrono_tz::Tz) -> FieldResult<Valid> {
    let (date, start, end, starts_at, ends_at) = times(tz, &input.date, &input.start, &input.end)?;
    if input.officer_ids.len() > MAX_OFFICERS {
        return err(
            "officer_ids",
            format!("at most {MAX_OFFICERS} duty officers a shift"),
        );
    }
    for (i, id) in input.officer_ids.iter().enumerate() {
        if input.officer_ids[..i].contains(id) {
            return err(
                format!("officer_ids[{i}]"),
                format!("contact {id} is named twice"),
            );
        }
    }
    Ok(Valid {
        date,
        start,
        end,
        starts_at,
        ends_at,
        leader_id: input.leader_id,
        officer_ids: input.officer_ids.clone(),
        note: super::note("note", &input.note, 500)?,
    })
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    township_id: i64,
    duty_date: String,
    start_time: String,
    end_time: String,
    starts_at: i64,
    ends_at: i64,
    leader_id: Option<i64>,
    leader_name: Option<String>,
    leader_phone: Option<String>,
    leader_ok: Option<i64>,
    note: Option<String>,
    sample: i64,
    archived_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// A shift with its leader's name and phone (`s`, the leader `l`).
const SELECT: &str = "SELECT s.id, s.township_id, s.duty_date, s.start_time, s.end_time, s.starts_at, s.ends_at, \
    s.leader_id, l.name AS leader_name, l.phone AS leader_phone, \
    CAST(CASE WHEN l.archived_at IS NULL AND l.active = 1 THEN 1 ELSE 0 END AS BIGINT) AS leader_ok, \
    s.note, s.sample, s.archived_at, s.version, s.created_at, s.updated_at \
    FROM duty_shifts s LEFT JOIN contacts l ON l.id = s.leader_id";

impl Row {
    fn view(self, officers: Vec<DutyPerson>, tz: chrono_tz::Tz) -> DutyShift {
        let overnight =
            super::local_date(self.ends_at, tz) != super::local_date(self.starts_at, tz);
        let kind = if self.start_time == self.end_time {
            ShiftKind::Full
        } else if overnight {
            ShiftKind::Night
        } else {
            ShiftKind::Day
        };
        let leader = match (self.leader_id, self.leader_name, self.leader_phone) {
            (Some(id), Some(name), Some(phone)) => Some(DutyPerson {
                contact_id: id,
                name,
                phone,
                available: self.leader_ok == Some(1),
            }),
            _ => None,
        };
        DutyShift {
            id: self.id,
            township_id: self.township_id,
            date: self.duty_date,
            start: self.start_time,
            end: self.end_time,
            overnight,
            kind,
            kind_label: kind.label_zh(),
            starts_at: crate::time::fmt_ms(self.starts_at, tz),
            ends_at: crate::time::fmt_ms(self.ends_at, tz),
            leader,
            officers,
            note: self.note,
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
            starts_ms: self.starts_at,
            ends_ms: self.ends_at,
        }
    }
}

/// The officers of these shifts, by shift, in call order.
async fn officers_of(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<DutyPerson>>> {
    let mut out: HashMap<i64, Vec<DutyPerson>> = HashMap::new();
    let chunk = crate::store::rows_per_statement(crate::store::is_sqlite(conn), 1);
    for part in ids.chunks(chunk) {
        let mut q = Sql::new(
            "SELECT o.shift_id, c.id, c.name, c.phone, \
             CAST(CASE WHEN c.archived_at IS NULL AND c.active = 1 THEN 1 ELSE 0 END AS BIGINT) \
             FROM duty_shift_officers o JOIN contacts c ON c.id = o.contact_id WHERE o.shift_id IN ",
        );
        q.bind_list(part.iter().copied())
            .push(" ORDER BY o.shift_id, o.position");
        let rows: Vec<(i64, i64, String, String, i64)> = q.query_as().fetch_all(&mut *conn).await?;
        for (shift, id, name, phone, ok) in rows {
            out.entry(shift).or_default().push(DutyPerson {
                contact_id: id,
                name,
                phone,
                available: ok == 1,
            });
        }
    }
    Ok(out)
}

async fn views(
    conn: &mut AnyConnection,
    rows: Vec<Row>,
    tz: chrono_tz::Tz,
) -> Result<Vec<DutyShift>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut officers = officers_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let o = officers.remove(&r.id).unwrap_or_default();
            r.view(o, tz)
        })
        .collect())
}

pub(crate) async fn view_in(
    conn: &mut AnyConnection,
    id: i64,
    tz: chrono_tz::Tz,
) -> Result<Option<DutyShift>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(views(conn, vec![row], tz).await?.pop())
}

/// One shift, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64, tz: chrono_tz::Tz) -> Result<Option<DutyShift>> {
    let mut tx = db.read().await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE s.id = $1 AND {}",
        db.township_filter("s.township_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match row {
        Some(r) => views(&mut tx, vec![r], tz).await?.pop(),
        None => None,
    };
    tx.commit().await?;
    Ok(out)
}

/// Most shifts one list returns: two months of three shifts a day for a few
/// townships.
pub const MAX_LISTED: i64 = 5_000;

/// The shifts (not deleted) the handle's scope covers that overlap
/// [from, until), by township and start.
pub async fn list(db: &Db, from: i64, until: i64, tz: chrono_tz::Tz) -> Result<Vec<DutyShift>> {
    let mut tx = db.read().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE s.archived_at IS NULL AND s.starts_at < $1 AND s.ends_at > $2 AND {} \
         ORDER BY s.township_id, s.starts_at, s.id LIMIT {MAX_LISTED}",
        db.township_filter("s.township_id")
    )))
    .bind(until)
    .bind(from)
    .fetch_all(&mut *tx)
    .await?;
    let out = views(&mut tx, rows, tz).await?;
    tx.commit().await?;
    Ok(out)
}

/// One township's shifts (not deleted) overlapping [from, until), by start,
/// read in the caller's transaction (an import's).
pub(crate) async fn in_range(
    conn: &mut AnyConnection,
    township: i64,
    from: i64,
    until: i64,
    tz: chrono_tz::Tz,
) -> Result<Vec<DutyShift>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE s.archived_at IS NULL AND s.township_id = $1 AND s.starts_at < $2 AND s.ends_at > $3 \
         ORDER BY s.starts_at, s.id"
    )))
    .bind(township)
    .bind(until)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    views(conn, rows, tz).await
}

/// The shifts covering the moment `at`: at most one per township.
pub async fn covering(db: &Db, at: i64, tz: chrono_tz::Tz) -> Result<Vec<DutyShift>> {
    list(db, at, at + 1, tz).await
}

/// Who is on duty in one township at a moment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OnDutyNow {
    pub township_id: i64,
    pub township: String,
    /// RFC 3339: the moment asked about.
    pub at: String,
    /// The shift covering it; none is a gap in the roster (escalation then
    /// tells the contacts holding the roles).
    pub shift: Option<DutyShift>,
}

/// Who is on duty at `at` in each township the handle sees.
pub async fn on_duty_now(db: &Db, at: i64, tz: chrono_tz::Tz) -> Result<Vec<OnDutyNow>> {
    let mut tx = db.read().await?;
    let towns: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM townships t WHERE {} ORDER BY code, id",
        db.township_filter("t.id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut covering = covering(db, at, tz).await?;
    Ok(towns
        .into_iter()
        .map(|(id, name)| OnDutyNow {
            township_id: id,
            township: name,
            at: crate::time::fmt_ms(at, tz),
            shift: covering
                .iter()
                .position(|s| s.township_id == id)
                .map(|i| covering.swap_remove(i)),
        })
        .collect())
}

/// Checks that each person is a live, active contact of the township;
/// refusals name the field (`leader_id`, `officer_ids[i]`).
pub(crate) async fn check_people(
    conn: &mut AnyConnection,
    township: i64,
    leader: Option<i64>,
    officers: &[i64],
) -> std::result::Result<(), WriteError> {
    let named = leader
        .map(|l| ("leader_id".to_string(), l))
        .into_iter()
        .chain(
            officers
                .iter()
                .enumerate()
                .map(|(i, id)| (format!("officer_ids[{i}]"), *id)),
        );
    for (field, id) in named {
        let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT name, active, archived_at FROM contacts WHERE id = $1 AND township_id = $2",
        )
        .bind(id)
        .bind(township)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            None => {
                return Err(WriteError::field(
                    &field,
                    format!("no contact with id {id} in the township (本乡镇没有此联系人)"),
                ));
            }
            Some((name, _, Some(_))) => {
                return Err(WriteError::field(
                    &field,
                    format!("contact {id} ({name}) is archived (已归档)"),
                ));
            }
            Some((name, 0, None)) => {
                return Err(WriteError::field(
                    &field,
                    format!("contact {id} ({name}) is disabled (已停用)"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Another shift of the township (not `except`) overlapping [starts, ends):
/// (id, starts, ends).
pub(crate) async fn overlapping(
    conn: &mut AnyConnection,
    township: i64,
    starts: i64,
    ends: i64,
    except: Option<i64>,
) -> Result<Option<(i64, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, starts_at, ends_at FROM duty_shifts WHERE township_id = $1 AND archived_at IS NULL \
         AND starts_at < $2 AND ends_at > $3 AND id <> $4 ORDER BY starts_at LIMIT 1",
    )
    .bind(township)
    .bind(ends)
    .bind(starts)
    .bind(except.unwrap_or(0))
    .fetch_optional(&mut *conn)
    .await?)
}

/// The refusal of an overlap, naming the other shift's times.
pub(crate) fn overlap_message(starts: i64, ends: i64, tz: chrono_tz::Tz) -> String {
    format!(
        "overlaps the shift {} – {} (与已有班次重叠)",
        super::md_hm(starts, tz),
        super::md_hm(ends, tz)
    )
}

async fn write_officers(
    conn: &mut AnyConnection,
    shift: i64,
    township: i64,
    officers: &[i64],
) -> Result<()> {
    sqlx::query("DELETE FROM duty_shift_officers WHERE shift_id = $1")
        .bind(shift)
        .execute(&mut *conn)
        .await?;
    for (i, c) in officers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO duty_shift_officers (shift_id, position, contact_id, township_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(shift)
        .bind(i as i64 + 1)
        .bind(*c)
        .bind(township)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores a checked shift of `township` after the roster lock, the people
/// and overlap checks (the caller audits it). Also what an import writes.
pub(crate) async fn insert_valid(
    conn: &mut AnyConnection,
    township: i64,
    v: &Valid,
    sample: bool,
    tz: chrono_tz::Tz,
) -> std::result::Result<i64, WriteError> {
    super::lock_roster(conn, township).await?;
    check_people(conn, township, v.leader_id, &v.officer_ids).await?;
    if let Some((_, s, e)) = overlapping(conn, township, v.starts_at, v.ends_at, None).await? {
        return Err(WriteError::field("start", overlap_message(s, e, tz)));
    }
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO duty_shifts (township_id, duty_date, start_time, end_time, starts_at, ends_at, leader_id, note, sample, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(township)
    .bind(v.date.to_string())
    .bind(super::clock(v.start))
    .bind(super::clock(v.end))
    .bind(v.starts_at)
    .bind(v.ends_at)
    .bind(v.leader_id)
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    write_officers(conn, id, township, &v.officer_ids).await?;
    Ok(id)
}

/// Rewrites a stored shift's people and note (an import's update; the caller
/// audits it).
pub(crate) async fn update_people(
    conn: &mut AnyConnection,
    id: i64,
    township: i64,
    leader: Option<i64>,
    officers: &[i64],
    note: &Option<String>,
) -> Result<()> {
    sqlx::query(
        "UPDATE duty_shifts SET leader_id = $1, note = $2, version = version + 1, updated_at = $3 WHERE id = $4",
    )
    .bind(leader)
    .bind(note)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    write_officers(conn, id, township, officers).await
}

/// Adds a shift to the actor's township.
pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &ShiftInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> std::result::Result<DutyShift, WriteError> {
    let v = validate(input, tz)?;
    let mut tx = db.begin().await?;
    let id = insert_valid(&mut tx, actor.township, &v, sample, tz).await?;
    let after = view_in(&mut tx, id, tz)
        .await?
        .ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "duty_shift",
        Some(id),
        None,
        Some(&json!(after)),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Changes a shift's day, times, people or note (send the version edited).
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &ShiftInput,
    tz: chrono_tz::Tz,
) -> std::result::Result<DutyShift, WriteError> {
    let v = validate(input, tz)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, before: &DutyShift| {
        let township = before.township_id;
        let archived = before.archived;
        Box::pin(async move {
            if archived {
                return Err(WriteError::NotFound);
            }
            super::lock_roster(tx, township).await?;
            check_people(tx, township, v.leader_id, &v.officer_ids).await?;
            if let Some((_, s, e)) =
                overlapping(tx, township, v.starts_at, v.ends_at, Some(id)).await?
            {
                return Err(WriteError::field("start", overlap_message(s, e, tz)));
            }
            let r = sqlx::query(
                "UPDATE duty_shifts SET duty_date = $1, start_time = $2, end_time = $3, starts_at = $4, ends_at = $5, \
                 leader_id = $6, note = $7, version = version + 1, updated_at = $8 WHERE id = $9 AND version = $10",
            )
            .bind(v.date.to_string())
            .bind(super::clock(v.start))
            .bind(super::clock(v.end))
            .bind(v.starts_at)
            .bind(v.ends_at)
            .bind(v.leader_id)
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() > 0 {
                write_officers(tx, id, township, &v.officer_ids).await?;
            }
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

/// Deletes a shift from the roster: archived, so who was on duty stays on
/// record (and in the audit trail); its time becomes a gap.
pub async fn delete(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> std::result::Result<DutyShift, WriteError> {
    versioned::archive(db, Edit::new(actor, "delete", id, tz).seen(version), "").await
}

impl Versioned for DutyShift {
    const ENTITY: &'static str = "duty_shift";
    const TABLE: &'static str = "duty_shifts";
    fn read(
        conn: &mut AnyConnection,
        id: i64,
        tz: chrono_tz::Tz,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        view_in(conn, id, tz)
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn is_archived(&self) -> bool {
        self.archived
    }
    fn audit_view(&self, _: chrono_tz::Tz) -> serde_json::Value {
        json!(self)
    }
}

/// The live contacts of a township's own staff (no village), by name: whom
/// the dashboard's shift form offers (the API takes any contact of the
/// township). Also any contact already on the shift being edited.
pub async fn staff(db: &Db, township: i64) -> Result<Vec<(i64, String, String)>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, phone FROM contacts WHERE township_id = $1 AND village_id IS NULL \
         AND archived_at IS NULL AND active = 1 AND {} ORDER BY escalation_order, name, id LIMIT 2000",
        db.township_filter("township_id")
    )))
    .bind(township)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn input(date: &str, start: &str, end: &str) -> ShiftInput {
        ShiftInput {
            date: date.into(),
            start: start.into(),
            end: end.into(),
            leader_id: None,
            officer_ids: vec![3, 4],
            note: Some("  ".into()),
            version: None,
        }
    }

    #[test]
    fn times_and_people_are_checked_by_field() {
        let v = validate(&input("2025-12-03", "17:30", "8:30"), Shanghai).expect("valid");
        assert_eq!(v.ends_at - v.starts_at, 15 * 3_600_000);
        assert_eq!(v.note, None);
        let e = validate(&input("2025-12-32", "17:30", "08:30"), Shanghai).unwrap_err();
        assert_eq!(e.field, "date");
        let e = validate(&input("2025-12-03", "下午", "08:30"), Shanghai).unwrap_err();
        assert_eq!(e.field, "start");
        let e = validate(&input("2025-12-03", "08:30", "25:00"), Shanghai).unwrap_err();
        assert_eq!(e.field, "end");
        let mut twice = input("2025-12-03", "08:30", "17:30");
        twice.officer_ids = vec![3, 4, 3];
        assert_eq!(
            validate(&twice, Shanghai).unwrap_err().field,
            "officer_ids[2]"
        );
    }
}

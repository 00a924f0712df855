//! The shelter register (避灾点): one record per shelter, with a stable code
//! the plans refer to (`shelters = ["BZ-S08-1"]`), its village, position,
//! capacity, manager and status. Edited with a version and audited like the
//! other registry records.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::versioned::{self, Edit, Written, is_unique_violation, versioned_row};
use crate::store::{Db, Result, Scope, WriteError, now_ms};
use crate::validate::{FieldResult, err, optional_line, optional_text, required_text};

/// Whether a shelter can take people now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShelterStatus {
    /// 启用
    #[serde(alias = "启用")]
    Open,
    /// 维修中
    #[serde(alias = "维修中")]
    Repair,
    /// 停用
    #[serde(alias = "停用")]
    Closed,
}

impl ShelterStatus {
    pub const ALL: [ShelterStatus; 3] = [
        ShelterStatus::Open,
        ShelterStatus::Repair,
        ShelterStatus::Closed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ShelterStatus::Open => "open",
            ShelterStatus::Repair => "repair",
            ShelterStatus::Closed => "closed",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            ShelterStatus::Open => "启用",
            ShelterStatus::Repair => "维修中",
            ShelterStatus::Closed => "停用",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            ShelterStatus::Open => "open",
            ShelterStatus::Repair => "under repair",
            ShelterStatus::Closed => "closed",
        }
    }
    /// By its code or its Chinese label.
    pub fn parse(s: &str) -> Option<ShelterStatus> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label_zh() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShelterInput {
    /// Stable code the plans use, e.g. "BZ-S08-1" (letters, digits, '-', '_').
    pub code: String,
    pub name: String,
    /// The village it belongs to; found from the location when absent.
    #[serde(default)]
    pub village_id: Option<i64>,
    /// WGS-84.
    pub location: Location,
    /// People it can take.
    pub capacity: i64,
    /// 管理员.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default, deserialize_with = "crate::phone::optional")]
    pub phone: Option<crate::phone::Phone>,
    #[serde(default = "default_status")]
    pub status: ShelterStatus,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

fn default_status() -> ShelterStatus {
    ShelterStatus::Open
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShelterRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub village_id: Option<i64>,
    pub lon: f64,
    pub lat: f64,
    pub capacity: i64,
    pub manager: Option<String>,
    pub phone: Option<String>,
    pub status: String,
    pub address: Option<String>,
    pub note: Option<String>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub township_id: i64,
}

const COLS: &str = "id, code, name, village_id, lon, lat, capacity, manager, phone, status, address, note, sample, archived_at, version, created_at, updated_at, township_id";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shelter {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub village_id: Option<i64>,
    /// The township the shelter belongs to (its village's).
    pub township_id: i64,
    pub location: Location,
    pub capacity: i64,
    pub manager: Option<String>,
    pub phone: Option<String>,
    /// open | repair | closed
    pub status: String,
    /// 启用 / 维修中 / 停用
    pub status_label: &'static str,
    pub address: Option<String>,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ShelterRow {
    pub fn view(&self, tz: chrono_tz::Tz) -> Shelter {
        Shelter {
            id: self.id,
            code: self.code.clone(),
            name: self.name.clone(),
            village_id: self.village_id,
            township_id: self.township_id,
            location: Location {
                lon: self.lon,
                lat: self.lat,
            },
            capacity: self.capacity,
            manager: self.manager.clone(),
            phone: self.phone.clone(),
            status: self.status.clone(),
            status_label: ShelterStatus::parse(&self.status).map_or("", ShelterStatus::label_zh),
            address: self.address.clone(),
            note: self.note.clone(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

struct ValidShelter {
    code: String,
    name: String,
    village_id: Option<i64>,
    lon: f64,
    lat: f64,
    capacity: i64,
    manager: Option<String>,
    phone: Option<String>,
    status: ShelterStatus,
    address: Option<String>,
    note: Option<String>,
}

/// A shelter code: letters, digits, '-' and '_', at most 32.
pub fn code_ok(code: &str) -> bool {
    !code.is_empty()
        && code.chars().count() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate(input: &ShelterInput) -> FieldResult<ValidShelter> {
    let code = required_text("code", &input.code, 32)?;
    if !code_ok(&code) {
        return err(
            "code",
            "may hold only letters, digits, '-' and '_', e.g. BZ-S08-1",
        );
    }
    let name = required_text("name", &input.name, 64)?;
    crate::validate::lon_lat("location", input.location.lon, input.location.lat)?;
    if !(1..=100_000).contains(&input.capacity) {
        return err("capacity", "must be between 1 and 100000 people");
    }
    Ok(ValidShelter {
        code,
        name,
        village_id: input.village_id,
        lon: input.location.lon,
        lat: input.location.lat,
        capacity: input.capacity,
        manager: optional_line("manager", &input.manager, 64)?,
        phone: input.phone.as_ref().map(|p| p.as_str().to_string()),
        status: input.status,
        address: optional_line("address", &input.address, 256)?,
        note: optional_text("note", &input.note, 500)?,
    })
}

/// The village a shelter belongs to: the one named (which must exist for
/// the asker and contain the location), else the one its location falls in
/// among the asker's. Returns its village's township (none without a
/// village: a new shelter is then the actor's township's, an edited one
/// stays where it was).
async fn place(db: &Db, v: &mut ValidShelter) -> Result<Option<i64>, WriteError> {
    let found = crate::registry::villages::locate(db, v.lon, v.lat).await?;
    match v.village_id {
        None => {
            v.village_id = found.map(|f| f.0);
            if v.village_id.is_none() && db.scope().and_then(Scope::village).is_some() {
                return Err(WriteError::field(
                    "location",
                    "lies outside your village (位置不在本村内)",
                ));
            }
            Ok(found.map(|f| f.1))
        }
        Some(id) => {
            let Some(township) = crate::registry::villages::township_of(db, id).await? else {
                return Err(WriteError::field(
                    "village_id",
                    format!("no village with id {id}"),
                ));
            };
            if found.is_some_and(|f| f.0 != id) {
                return Err(WriteError::field(
                    "location",
                    "lies in another village than the one chosen (位置不在所选村内)",
                ));
            }
            Ok(Some(township))
        }
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub village_id: Option<i64>,
    pub status: Option<ShelterStatus>,
    pub include_archived: bool,
}

pub async fn list(db: &Db, f: &Filter) -> Result<Vec<ShelterRow>> {
    let mut q = crate::store::Sql::new(&format!(
        "SELECT {COLS} FROM shelters WHERE {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    ));
    if !f.include_archived {
        q.push(" AND archived_at IS NULL");
    }
    if let Some(v) = f.village_id {
        q.push(" AND village_id = ").bind(v);
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").bind(s.as_str());
    }
    q.push(" ORDER BY code");
    let mut tx = db.read().await?;
    let rows = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The codes of every shelter in the register (not archived): what plans may name.
pub async fn codes(db: &Db) -> Result<Vec<String>> {
    let mut tx = db.read().await?;
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT code FROM shelters WHERE archived_at IS NULL AND {} ORDER BY code",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The registered shelters' codes with their township: what each
/// township's plans are checked against.
pub async fn codes_by_township(db: &Db) -> Result<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT township_id, code FROM shelters WHERE archived_at IS NULL ORDER BY township_id, code",
    )
    .fetch_all(&db.pool)
    .await?)
}

/// One shelter, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<ShelterRow>> {
    db.get_in_scope(COLS, "shelters", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<ShelterRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM shelters WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

versioned_row!(ShelterRow, "shelter", "shelters", |row, tz| json!(
    row.view(tz)
));

fn code_used(code: &str, e: WriteError) -> WriteError {
    if is_unique_violation(&e) {
        WriteError::field("code", format!("shelter code '{code}' is already used"))
    } else {
        e
    }
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &ShelterInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<ShelterRow, WriteError> {
    let mut v = validate(input)?;
    let township = place(db, &mut v).await?.unwrap_or(actor.township);
    let mut tx = db.begin().await?;
    let now = now_ms();
    let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO shelters (code, name, village_id, lon, lat, capacity, manager, phone, status, address, note, sample, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING id",
    )
    .bind(&v.code)
    .bind(&v.name)
    .bind(v.village_id)
    .bind(v.lon)
    .bind(v.lat)
    .bind(v.capacity)
    .bind(&v.manager)
    .bind(&v.phone)
    .bind(v.status.as_str())
    .bind(&v.address)
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now)
    .bind(township)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = inserted.map_err(|e| code_used(&v.code, e.into()))?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "shelter",
        Some(id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &ShelterInput,
    tz: chrono_tz::Tz,
) -> Result<ShelterRow, WriteError> {
    let mut v = validate(input)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let township = place(db, &mut v).await?;
    let code = v.code.clone();
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &ShelterRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE shelters SET code = $1, name = $2, village_id = $3, lon = $4, lat = $5, capacity = $6, manager = $7, \
                 phone = $8, status = $9, address = $10, note = $11, version = version + 1, updated_at = $12, township_id = COALESCE($15, township_id) \
                 WHERE id = $13 AND version = $14",
            )
            .bind(&v.code)
            .bind(&v.name)
            .bind(v.village_id)
            .bind(v.lon)
            .bind(v.lat)
            .bind(v.capacity)
            .bind(&v.manager)
            .bind(&v.phone)
            .bind(v.status.as_str())
            .bind(&v.address)
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .bind(township)
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
    .map_err(|e| code_used(&code, e))
}

pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<ShelterRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

//! Villages: code, name, boundary polygon, population.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::geometry::{GeoLimits, Region, parse_area};
use crate::store::versioned::{self, Edit, Written, is_unique_violation, versioned_row};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{FieldResult, err, required_text};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VillageInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: Option<String>,
    /// A GeoJSON Polygon or MultiPolygon (WGS 84).
    #[schema(value_type = Object)]
    pub boundary: Value,
    #[serde(default)]
    pub population: Option<i64>,
    /// The 12-digit statistical division code (统计用区划代码), e.g.
    /// 350524208201; unique. CAP geocodes the village with it.
    #[serde(default)]
    pub area_code: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VillageRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub boundary: String,
    pub population: Option<i64>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub area_code: Option<String>,
    pub township_id: i64,
}

const COLS: &str = "id, code, name, name_en, boundary, population, sample, archived_at, version, created_at, updated_at, area_code, township_id";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Village {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub boundary: Value,
    pub population: Option<i64>,
    /// The 12-digit statistical division code (统计用区划代码).
    pub area_code: Option<String>,
    /// The township the village belongs to.
    pub township_id: i64,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl VillageRow {
    pub fn view(&self, tz: chrono_tz::Tz) -> Village {
        Village {
            id: self.id,
            code: self.code.clone(),
            name: self.name.clone(),
            name_en: self.name_en.clone(),
            boundary: serde_json::from_str(&self.boundary).unwrap_or(Value::Null),
            population: self.population,
            area_code: self.area_code.clone(),
            township_id: self.township_id,
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
    pub fn region(&self) -> Option<Region> {
        region_of(&self.boundary)
    }
}

/// A checked input, ready to store.
pub struct ValidVillage {
    code: String,
    name: String,
    name_en: Option<String>,
    boundary: String,
    region: Region,
    population: Option<i64>,
    area_code: Option<String>,
}

impl ValidVillage {
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// A 12-digit statistical division code, or none (an empty one is none).
pub fn check_area_code(v: &Option<String>) -> FieldResult<Option<String>> {
    let Some(code) = v.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return err(
            "area_code",
            "must be the 12-digit statistical division code (统计用区划代码), e.g. 350524208201",
        );
    }
    Ok(Some(code.to_string()))
}

pub fn validate(input: &VillageInput, limits: &GeoLimits) -> FieldResult<ValidVillage> {
    let code = required_text("code", &input.code, 32)?;
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return err("code", "may hold only letters, digits, '-' and '_'");
    }
    let name = required_text("name", &input.name, 64)?;
    let name_en = crate::validate::optional_line("name_en", &input.name_en, 128)?;
    let region = parse_area("boundary", &input.boundary, limits)?;
    if let Some(p) = input.population
        && !(0..=10_000_000).contains(&p)
    {
        return err("population", "must be between 0 and 10,000,000");
    }
    let area_code = check_area_code(&input.area_code)?;
    Ok(ValidVillage {
        code,
        name,
        name_en,
        boundary: input.boundary.to_string(),
        region,
        population: input.population,
        area_code,
    })
}

/// The villages the handle's scope covers (a village scope: its own).
pub async fn list(db: &Db, include_archived: bool) -> Result<Vec<VillageRow>> {
    let archived = if include_archived {
        ""
    } else {
        " AND archived_at IS NULL"
    };
    let sql = format!(
        "SELECT {COLS} FROM villages WHERE {} AND {}{archived} ORDER BY code",
        db.township_filter("township_id"),
        db.village_filter("id")
    );
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Stores a new village (the caller audits it).
pub(crate) async fn insert_valid(
    conn: &mut sqlx::AnyConnection,
    v: &ValidVillage,
    township: i64,
    sample: bool,
) -> Result<i64> {
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO villages (code, name, name_en, boundary, min_lon, min_lat, max_lon, max_lat, population, sample, created_at, updated_at, area_code, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) RETURNING id",
    )
    .bind(&v.code)
    .bind(&v.name)
    .bind(&v.name_en)
    .bind(&v.boundary)
    .bind(v.region.min_lon)
    .bind(v.region.min_lat)
    .bind(v.region.max_lon)
    .bind(v.region.max_lat)
    .bind(v.population)
    .bind(i64::from(sample))
    .bind(now)
    .bind(&v.area_code)
    .bind(township)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Rewrites a village from a checked input, a new version (the caller
/// audits it).
pub(crate) async fn update_valid(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    v: &ValidVillage,
) -> Result<()> {
    sqlx::query(
        "UPDATE villages SET code = $1, name = $2, name_en = $3, boundary = $4, min_lon = $5, min_lat = $6, \
         max_lon = $7, max_lat = $8, population = $9, version = version + 1, updated_at = $10, area_code = $11 \
         WHERE id = $12",
    )
    .bind(&v.code)
    .bind(&v.name)
    .bind(&v.name_en)
    .bind(&v.boundary)
    .bind(v.region.min_lon)
    .bind(v.region.min_lat)
    .bind(v.region.max_lon)
    .bind(v.region.max_lat)
    .bind(v.population)
    .bind(now_ms())
    .bind(&v.area_code)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A township's live villages (an import places its rows among them).
pub(crate) async fn live_in(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<Vec<VillageRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM villages WHERE township_id = $1 AND archived_at IS NULL ORDER BY code"
    )))
    .bind(township)
    .fetch_all(conn)
    .await?)
}

/// Every active village's township, code and area: what each township's
/// plans are checked against (`planbook`, `fenghuo plans check`). The
/// daemon's own read, across townships. A boundary that does not parse is
/// left out, as `list`'s callers do.
pub async fn areas_by_township(db: &Db) -> Result<Vec<(i64, String, Region)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT township_id, code, boundary FROM villages WHERE archived_at IS NULL ORDER BY township_id, code",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, code, boundary)| {
            let v: Value = serde_json::from_str(&boundary).ok()?;
            let r = parse_area("boundary", &v, &GeoLimits::STORED).ok()?;
            Some((t, code, r))
        })
        .collect())
}

/// One village, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<VillageRow>> {
    db.get_in_scope(COLS, "villages", id).await
}

/// The township of a village the handle's scope covers (not archived):
/// where a record placed in it belongs. `None`: no such village for this
/// asker (another township's is as good as missing).
pub async fn township_of(db: &Db, id: i64) -> Result<Option<i64>> {
    let mut tx = db.read().await?;
    let row: Option<(i64,)> = township_of_sql(db, id)
        .query_as()
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.0))
}

/// The statement behind [`township_of`] (one column: the township), for a
/// caller that runs it inside its own write (`store::batch`).
pub fn township_of_sql(db: &Db, id: i64) -> Sql {
    let mut s = Sql::new("SELECT township_id FROM villages WHERE id = ");
    s.bind(id).push(&format!(
        " AND archived_at IS NULL AND {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("id")
    ));
    s
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<VillageRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM villages WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

versioned_row!(VillageRow, "village", "villages", |row, tz| json!(
    row.view(tz)
));

/// The village code is unique (the database's constraint decides, so two
/// editors racing for one code cannot both win): name the field.
pub(crate) fn code_used(code: &str, e: WriteError) -> WriteError {
    if !is_unique_violation(&e) {
        return e;
    }
    // Both backends name the index or column in the message.
    let about_area_code = matches!(&e, WriteError::Store(crate::store::StoreError::Db(sqlx::Error::Database(d)))
        if d.message().contains("area_code") || d.constraint().is_some_and(|c| c.contains("area_code")));
    if about_area_code {
        WriteError::Invalid(crate::validate::FieldError {
            field: "area_code".into(),
            message: "this division code is another village's (区划代码已被其他村使用)".into(),
        })
    } else {
        WriteError::Invalid(crate::validate::FieldError {
            field: "code".into(),
            message: format!("village code '{code}' is already used"),
        })
    }
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &VillageInput,
    limits: &GeoLimits,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<VillageRow, WriteError> {
    let v = validate(input, limits)?;
    let mut tx = db.begin().await?;
    // A new village is the township of whoever registers it.
    let id = insert_valid(&mut tx, &v, actor.township, sample)
        .await
        .map_err(|e| code_used(&v.code, e.into()))?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    let after = json!(row.view(tz));
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "village",
        Some(id),
        None,
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &VillageInput,
    limits: &GeoLimits,
    tz: chrono_tz::Tz,
) -> Result<VillageRow, WriteError> {
    let v = validate(input, limits)?;
    let Some(version) = input.version else {
        return Err(WriteError::Invalid(crate::validate::FieldError {
            field: "version".into(),
            message: "is required on update (the version you edited)".into(),
        }));
    };
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    let code = v.code.clone();
    versioned::change(db, edit, move |tx, _: &VillageRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE villages SET code = $1, name = $2, name_en = $3, boundary = $4, min_lon = $5, min_lat = $6, \
                 max_lon = $7, max_lat = $8, population = $9, version = version + 1, updated_at = $10, area_code = $13 \
                 WHERE id = $11 AND version = $12",
            )
            .bind(&v.code)
            .bind(&v.name)
            .bind(&v.name_en)
            .bind(&v.boundary)
            .bind(v.region.min_lon)
            .bind(v.region.min_lat)
            .bind(v.region.max_lon)
            .bind(v.region.max_lat)
            .bind(v.population)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .bind(&v.area_code)
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
) -> Result<VillageRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

/// The village whose boundary contains the point, if any (first by code when
/// boundaries overlap), among those the handle's scope covers, with its
/// township.
pub async fn locate(db: &Db, lon: f64, lat: f64) -> Result<Option<(i64, i64)>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, i64, String)> = locate_sql(db, lon, lat)
        .query_as()
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(first_containing(&rows, lon, lat))
}

/// The statement behind [`locate`]: the villages whose bounding box holds
/// the point, as (id, township, boundary), by code; [`first_containing`]
/// picks among them. Apart so that a write can run it inside its own
/// transaction (`store::batch`).
pub fn locate_sql(db: &Db, lon: f64, lat: f64) -> Sql {
    let mut s = Sql::new(&format!(
        "SELECT id, township_id, boundary FROM villages WHERE archived_at IS NULL AND {} AND {} AND min_lon <= ",
        db.township_filter("township_id"),
        db.village_filter("id")
    ));
    s.bind(lon)
        .push(" AND max_lon >= ")
        .bind(lon)
        .push(" AND min_lat <= ")
        .bind(lat)
        .push(" AND max_lat >= ")
        .bind(lat)
        .push(" ORDER BY code");
    s
}

/// Of [`locate_sql`]'s rows, the first village whose boundary holds the
/// point, with its township.
pub fn first_containing(rows: &[(i64, i64, String)], lon: f64, lat: f64) -> Option<(i64, i64)> {
    rows.iter()
        .find(|(_, _, b)| region_of(b).is_some_and(|g| g.contains(lon, lat)))
        .map(|(id, township, _)| (*id, *township))
}

/// A stored boundary's region (`None` if it does not parse).
fn region_of(boundary: &str) -> Option<Region> {
    let v: Value = serde_json::from_str(boundary).ok()?;
    parse_area("boundary", &v, &GeoLimits::STORED).ok()
}

pub async fn exists(db: &Db, id: i64) -> Result<bool> {
    Ok(township_of(db, id).await?.is_some())
}

/// The village a request names: by id (a number) or by code (a string).
/// Every place that takes "villages" as ids or codes resolves them here.
pub fn find_ref<'a>(all: &'a [VillageRow], v: &serde_json::Value) -> Option<&'a VillageRow> {
    match v {
        serde_json::Value::Number(n) => all.iter().find(|x| Some(x.id) == n.as_i64()),
        serde_json::Value::String(c) => all.iter().find(|x| x.code == *c),
        _ => None,
    }
}

/// Every village's name by its code (S08 → 坑头村), for plans that name
/// villages by code; archived ones too.
pub async fn names_by_code(db: &Db) -> Result<std::collections::HashMap<String, String>> {
    let mut tx = db.read().await?;
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT code, name FROM villages WHERE {}",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

/// Every village's name by id (archived ones too: old notices name them).
pub async fn names(db: &Db) -> Result<std::collections::HashMap<i64, String>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM villages WHERE {}",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().collect())
}

//! The inspectors register (执法人员): who may inspect, with the enforcement
//! certificate (执法证号, unique in the township), its unit and validity. An
//! inspector's home village and declared conflicts (sites they must not
//! inspect) keep them out of a 双随机 draw for those sites; neither is ever
//! published. Versioned and audited like the other registers.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::versioned::{self, Edit, Written, is_unique_violation, versioned_row};
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldResult, date, err, optional_text, required_text};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectorInput {
    pub name: String,
    /// 执法证号, unique in the township.
    pub certificate_no: String,
    /// 单位, e.g. 镇安监站.
    pub unit: String,
    /// YYYY-MM-DD.
    pub valid_from: String,
    /// YYYY-MM-DD, the last day the certificate is valid.
    pub valid_until: String,
    /// The village they live in (never drawn for its sites).
    #[serde(default)]
    pub home_village_id: Option<i64>,
    /// Sites they declared a conflict with (a relative runs it).
    #[serde(default)]
    pub conflict_site_ids: Vec<i64>,
    #[serde(default, deserialize_with = "crate::phone::optional")]
    pub phone: Option<crate::phone::Phone>,
    #[serde(default)]
    pub note: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InspectorRow {
    pub id: i64,
    pub township_id: i64,
    pub name: String,
    pub certificate_no: String,
    pub unit: String,
    pub valid_from: String,
    pub valid_until: String,
    pub home_village_id: Option<i64>,
    pub conflict_site_ids: String,
    pub phone: Option<String>,
    pub note: Option<String>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, township_id, name, certificate_no, unit, valid_from, valid_until, home_village_id, \
    conflict_site_ids, phone, note, sample, archived_at, version, created_at, updated_at";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inspector {
    pub id: i64,
    pub township_id: i64,
    pub name: String,
    pub certificate_no: String,
    pub unit: String,
    pub valid_from: String,
    pub valid_until: String,
    pub home_village_id: Option<i64>,
    pub conflict_site_ids: Vec<i64>,
    pub phone: Option<String>,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl InspectorRow {
    pub fn conflicts(&self) -> Vec<i64> {
        serde_json::from_str(&self.conflict_site_ids).unwrap_or_default()
    }
    /// Whether the certificate is valid on `day` (YYYY-MM-DD).
    pub fn valid_on(&self, day: &str) -> bool {
        self.valid_from.as_str() <= day && day <= self.valid_until.as_str()
    }
    /// "姓名（执法证号）", as an inspection keeps it.
    pub fn label(&self) -> String {
        format!("{}（{}）", self.name, self.certificate_no)
    }
    pub fn view(&self, tz: chrono_tz::Tz) -> Inspector {
        Inspector {
            id: self.id,
            township_id: self.township_id,
            name: self.name.clone(),
            certificate_no: self.certificate_no.clone(),
            unit: self.unit.clone(),
            valid_from: self.valid_from.clone(),
            valid_until: self.valid_until.clone(),
            home_village_id: self.home_village_id,
            conflict_site_ids: self.conflicts(),
            phone: self.phone.clone(),
            note: self.note.clone(),
            sample: self.sample != 0,
            archived: self.archived_at.is_some(),
            version: self.version,
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

struct Valid {
    name: String,
    certificate_no: String,
    unit: String,
    valid_from: String,
    valid_until: String,
    home_village_id: Option<i64>,
    conflicts: String,
    phone: Option<String>,
    note: Option<String>,
}

fn validate(input: &InspectorInput) -> FieldResult<Valid> {
    let name = required_text("name", &input.name, 64)?;
    let certificate_no = required_text("certificate_no", &input.certificate_no, 64)?;
    let unit = required_text("unit", &input.unit, 64)?;
    let from = date("valid_from", &input.valid_from)?;
    let until = date("valid_until", &input.valid_until)?;
    if until < from {
        return err("valid_until", "must not be before valid_from");
    }
    if input.conflict_site_ids.len() > 200 {
        return err("conflict_site_ids", "at most 200 sites");
    }
    let mut conflicts = input.conflict_site_ids.clone();
    conflicts.sort_unstable();
    conflicts.dedup();
    Ok(Valid {
        name,
        certificate_no,
        unit,
        valid_from: from.to_string(),
        valid_until: until.to_string(),
        home_village_id: input.home_village_id,
        conflicts: json!(conflicts).to_string(),
        phone: input.phone.as_ref().map(|p| p.as_str().to_string()),
        note: optional_text("note", &input.note, 500)?,
    })
}

/// The home village and conflict sites must be the township's own.
async fn check_refs(
    conn: &mut sqlx::AnyConnection,
    township: i64,
    v: &Valid,
) -> Result<(), WriteError> {
    if let Some(village) = v.home_village_id {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM villages WHERE id = $1 AND township_id = $2")
                .bind(village)
                .bind(township)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(WriteError::field(
                "home_village_id",
                format!("no village with id {village}"),
            ));
        }
    }
    let ids: Vec<i64> = serde_json::from_str(&v.conflicts).unwrap_or_default();
    for id in ids {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM sites WHERE id = $1 AND township_id = $2")
                .bind(id)
                .bind(township)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(WriteError::field(
                "conflict_site_ids",
                format!("no site with id {id}"),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct Filter {
    pub include_archived: bool,
}

pub async fn list(db: &Db, f: &Filter) -> Result<Vec<InspectorRow>> {
    let mut q = crate::store::Sql::new(&format!(
        "SELECT {COLS} FROM inspectors WHERE {}",
        db.township_filter("township_id"),
    ));
    if !f.include_archived {
        q.push(" AND archived_at IS NULL");
    }
    q.push(" ORDER BY unit, name, id");
    let mut tx = db.read().await?;
    let rows = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// One inspector, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<InspectorRow>> {
    db.get_in_scope(COLS, "inspectors", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<InspectorRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM inspectors WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The inspectors of a township with these ids (any order; missing ones left out).
pub(crate) async fn by_ids(
    conn: &mut sqlx::AnyConnection,
    township: i64,
    ids: &[i64],
) -> Result<Vec<InspectorRow>> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let row: Option<InspectorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM inspectors WHERE id = $1 AND township_id = $2"
        )))
        .bind(id)
        .bind(township)
        .fetch_optional(&mut *conn)
        .await?;
        out.extend(row);
    }
    Ok(out)
}

/// A township's live inspectors: what an import matches names and
/// certificate numbers to.
pub(crate) async fn live_in(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<Vec<InspectorRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM inspectors WHERE township_id = $1 AND archived_at IS NULL ORDER BY id"
    )))
    .bind(township)
    .fetch_all(conn)
    .await?)
}

/// The rule an inspection's team must follow, as its message says it.
pub fn team_rule(min: usize) -> String {
    format!(
        "执法检查须有至少 {min} 名持有效执法证的执法人员 (an inspection names at least {min} registered inspectors with a certificate valid on its date)"
    )
}

/// Checks an inspection's team: at least `min` distinct inspectors of the
/// township, none archived, each certificate valid on `on`. Returns them
/// in the order given.
pub(crate) async fn check_team(
    conn: &mut sqlx::AnyConnection,
    township: i64,
    ids: &[i64],
    on: &str,
    min: usize,
) -> Result<Vec<InspectorRow>, WriteError> {
    let mut seen = std::collections::HashSet::new();
    if ids.iter().any(|id| !seen.insert(*id)) {
        return Err(WriteError::field(
            "inspector_ids",
            "names an inspector twice (执法人员重复)",
        ));
    }
    if ids.len() < min.max(1) {
        return Err(WriteError::field("inspector_ids", team_rule(min.max(1))));
    }
    let rows = by_ids(conn, township, ids).await?;
    for &id in ids {
        let Some(r) = rows.iter().find(|r| r.id == id) else {
            return Err(WriteError::field(
                "inspector_ids",
                format!("no inspector with id {id} (执法人员不存在)"),
            ));
        };
        if r.archived_at.is_some() {
            return Err(WriteError::field(
                "inspector_ids",
                format!("{} is archived (已归档)", r.label()),
            ));
        }
        if !r.valid_on(on) {
            return Err(WriteError::field(
                "inspector_ids",
                format!(
                    "{} 的执法证在 {on} 无效（有效期 {} 至 {}） (the certificate is not valid on {on})",
                    r.label(),
                    r.valid_from,
                    r.valid_until
                ),
            ));
        }
    }
    Ok(ids
        .iter()
        .filter_map(|id| rows.iter().find(|r| r.id == *id).cloned())
        .collect())
}

versioned_row!(InspectorRow, "inspector", "inspectors", |row, tz| json!(
    row.view(tz)
));

fn cert_used(cert: &str, e: WriteError) -> WriteError {
    if is_unique_violation(&e) {
        WriteError::field(
            "certificate_no",
            format!("执法证号 {cert} is already registered in the township"),
        )
    } else {
        e
    }
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &InspectorInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<InspectorRow, WriteError> {
    let v = validate(input)?;
    let township = actor.township;
    let mut tx = db.begin().await?;
    check_refs(&mut tx, township, &v).await?;
    let now = now_ms();
    let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO inspectors (name, certificate_no, unit, valid_from, valid_until, home_village_id, conflict_site_ids, \
         phone, note, sample, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING id",
    )
    .bind(&v.name)
    .bind(&v.certificate_no)
    .bind(&v.unit)
    .bind(&v.valid_from)
    .bind(&v.valid_until)
    .bind(v.home_village_id)
    .bind(&v.conflicts)
    .bind(&v.phone)
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now)
    .bind(township)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = inserted.map_err(|e| cert_used(&v.certificate_no, e.into()))?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "inspector",
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
    input: &InspectorInput,
    tz: chrono_tz::Tz,
) -> Result<InspectorRow, WriteError> {
    let v = validate(input)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    let cert = v.certificate_no.clone();
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, before: &InspectorRow| {
        let township = before.township_id;
        Box::pin(async move {
            check_refs(tx, township, &v).await?;
            let r = sqlx::query(
                "UPDATE inspectors SET name = $1, certificate_no = $2, unit = $3, valid_from = $4, valid_until = $5, \
                 home_village_id = $6, conflict_site_ids = $7, phone = $8, note = $9, version = version + 1, updated_at = $10 \
                 WHERE id = $11 AND version = $12",
            )
            .bind(&v.name)
            .bind(&v.certificate_no)
            .bind(&v.unit)
            .bind(&v.valid_from)
            .bind(&v.valid_until)
            .bind(v.home_village_id)
            .bind(&v.conflicts)
            .bind(&v.phone)
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
    .map_err(|e| cert_used(&cert, e))
}

pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    version: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<InspectorRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

/// Names typed in an import's cell matched to the township's inspectors,
/// by 执法证号 or by name (a name two inspectors share is ambiguous).
pub(crate) fn match_names(
    rows: &[InspectorRow],
    names: &[String],
) -> std::result::Result<Vec<i64>, String> {
    let mut out = Vec::new();
    for n in names {
        let n = n.trim();
        // "姓名（证号）" as exported is matched by its certificate number.
        let cert = n
            .split_once('（')
            .or_else(|| n.split_once('('))
            .map(|(_, c)| c.trim_end_matches(['）', ')']).trim());
        let by_cert: Vec<&InspectorRow> = rows
            .iter()
            .filter(|r| r.certificate_no == n || Some(r.certificate_no.as_str()) == cert)
            .collect();
        let hits = if by_cert.is_empty() {
            rows.iter().filter(|r| r.name == n).collect()
        } else {
            by_cert
        };
        match hits.as_slice() {
            [one] if out.contains(&one.id) => {
                return Err(format!("“{n}”重复填写"));
            }
            [one] => out.push(one.id),
            [] => return Err(format!("“{n}”不是已登记的执法人员（按姓名或执法证号）")),
            _ => return Err(format!("有不止一名执法人员叫“{n}”：请填执法证号")),
        }
    }
    Ok(out)
}

/// The units offered on the form (any other may be typed).
pub const UNITS: [&str; 3] = ["镇安监站", "镇综合执法队", "县应急局"];

/// The live sites in scope as (id, name): what a form offers as conflicts.
pub async fn site_choices(db: &Db) -> Result<Vec<(i64, String)>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM sites WHERE archived_at IS NULL AND {} ORDER BY name, id",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

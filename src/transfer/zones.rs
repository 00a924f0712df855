//! Danger zones (危险区): where people must be moved from when rain or a
//! signal passes the zone's thresholds. Each names its village (and 自然村),
//! its kind, a point or polygon, who watches (监测员), who warns (预警员)
//! and who leads the transfer (转移责任人), the shelter people go to and the
//! route. Edited with a version and audited like the other registry records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::geometry::GeoLimits;
use crate::store::versioned::{self, Edit, Written, is_unique_violation, versioned_row};
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{FieldResult, err, optional_line, optional_text, required_text};

/// The kinds of danger zone a Fujian township registers.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("flash_flood", "山洪", "flash flood"),
    ("geohazard", "地质灾害点", "geological hazard point"),
    ("slope_cut", "切坡建房", "houses below cut slopes"),
    ("low_lying", "低洼易涝", "low-lying, prone to waterlogging"),
    (
        "below_pond",
        "山塘下游",
        "below a hill pond or small reservoir",
    ),
    ("work_shed", "临时工棚", "temporary work sheds"),
    ("old_house", "危旧房", "dilapidated houses"),
    ("coastal", "沿海低洼", "coastal low ground"),
];

/// A kind by its code or Chinese name, as its code.
pub fn kind_code(s: &str) -> Option<&'static str> {
    let s = s.trim();
    KINDS
        .iter()
        .find(|(code, zh, _)| *code == s || *zh == s)
        .map(|k| k.0)
}

pub fn kind_zh(code: &str) -> &'static str {
    KINDS.iter().find(|k| k.0 == code).map_or("", |k| k.1)
}

/// When a zone must get ready to move (准备转移) or move now (立即转移):
/// rainfall over a window (hours → mm, 1/3/6/12/24 h), or a rainstorm or
/// typhoon signal of at least a colour. Either condition is enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// e.g. {"1": 40, "3": 60, "24": 150}: mm over that many hours.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rain_mm: BTreeMap<String, f64>,
    /// blue, yellow, orange or red: a rainstorm or typhoon signal at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// 准备转移.
    #[serde(default)]
    pub prepare: Trigger,
    /// 立即转移.
    #[serde(default, rename = "move")]
    pub move_now: Trigger,
}

/// A signal colour's rank (blue 1 … red 4).
pub fn colour_rank(s: &str) -> Option<u8> {
    match s.trim() {
        "blue" | "蓝" | "蓝色" => Some(1),
        "yellow" | "黄" | "黄色" => Some(2),
        "orange" | "橙" | "橙色" => Some(3),
        "red" | "红" | "红色" => Some(4),
        _ => None,
    }
}

impl Trigger {
    fn check(&self, field: &str) -> FieldResult<()> {
        for (hours, mm) in &self.rain_mm {
            let ok = hours
                .parse::<u32>()
                .is_ok_and(|h| crate::plans::RAINFALL_WINDOWS.contains(&h));
            if !ok {
                return err(
                    format!("{field}.rain_mm"),
                    format!("unknown window '{hours}': use 1, 3, 6, 12 or 24 hours"),
                );
            }
            if !(mm.is_finite() && *mm > 0.0 && *mm <= 2000.0) {
                return err(
                    format!("{field}.rain_mm.{hours}"),
                    "must be more than 0 and at most 2000 mm",
                );
            }
        }
        if let Some(s) = &self.signal
            && colour_rank(s).is_none()
        {
            return err(format!("{field}.signal"), "use blue, yellow, orange or red");
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.rain_mm.is_empty() && self.signal.is_none()
    }

    /// Whether a rainfall of `mm` over `hours` passes it.
    pub fn rain_passes(&self, hours: u32, mm: f64) -> bool {
        self.rain_mm
            .get(&hours.to_string())
            .is_some_and(|limit| mm >= *limit)
    }

    /// Whether a signal of this colour rank passes it.
    pub fn signal_passes(&self, rank: u8) -> bool {
        self.signal
            .as_deref()
            .and_then(colour_rank)
            .is_some_and(|need| rank >= need)
    }

    /// In words: "1小时≥40毫米 或 橙色及以上预警信号".
    pub fn words_zh(&self) -> String {
        let mut parts: Vec<String> = self
            .rain_mm
            .iter()
            .map(|(h, mm)| format!("{h}小时雨量≥{mm}毫米"))
            .collect();
        if let Some(s) = &self.signal {
            let zh = match colour_rank(s) {
                Some(1) => "蓝色",
                Some(2) => "黄色",
                Some(3) => "橙色",
                _ => "红色",
            };
            parts.push(format!("{zh}及以上暴雨或台风预警信号"));
        }
        if parts.is_empty() {
            "未设（仅人工下令）".into()
        } else {
            parts.join(" 或 ")
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneInput {
    /// Stable code, e.g. "WX-SH-01" (letters, digits, '-', '_').
    pub code: String,
    pub name: String,
    pub village_id: i64,
    /// 自然村.
    #[serde(default)]
    pub natural_village: Option<String>,
    /// flash_flood, geohazard, slope_cut, low_lying, below_pond, work_shed, old_house, coastal (or 山洪 …).
    pub kind: String,
    /// A GeoJSON Point or Polygon (WGS 84).
    #[schema(value_type = Object)]
    pub geometry: Value,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Order the transfer by itself when the 立即转移 threshold is passed.
    #[serde(default)]
    pub auto_move: bool,
    /// 监测员 (a contact id).
    #[serde(default)]
    pub monitor_id: Option<i64>,
    /// 预警员 (a contact id).
    #[serde(default)]
    pub warner_id: Option<i64>,
    /// 转移责任人 (a contact id): told with every household that has no 包户干部 of its own.
    pub leader_id: i64,
    /// The assigned shelter (from the register).
    #[serde(default)]
    pub shelter_id: Option<i64>,
    /// 转移路线.
    #[serde(default)]
    pub route: Option<String>,
    /// Minutes after an order with no report before the 包村干部, then the leader on duty, is told.
    #[serde(default)]
    pub report_minutes: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    /// Required on update: the version the editor saw.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ZoneRow {
    pub id: i64,
    pub township_id: i64,
    pub village_id: i64,
    pub natural_village: Option<String>,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub geometry: String,
    pub thresholds: String,
    pub auto_move: i64,
    pub monitor_id: Option<i64>,
    pub warner_id: Option<i64>,
    pub leader_id: Option<i64>,
    pub shelter_id: Option<i64>,
    pub route: Option<String>,
    pub report_minutes: i64,
    pub note: Option<String>,
    pub sample: i64,
    pub archived_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLS: &str = "id, township_id, village_id, natural_village, code, name, kind, geometry, thresholds, auto_move, \
    monitor_id, warner_id, leader_id, shelter_id, route, report_minutes, note, sample, archived_at, version, created_at, updated_at";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Zone {
    pub id: i64,
    pub township_id: i64,
    pub village_id: i64,
    pub natural_village: Option<String>,
    pub code: String,
    pub name: String,
    pub kind: String,
    /// 山洪 …
    pub kind_label: &'static str,
    #[schema(value_type = Object)]
    pub geometry: Value,
    pub thresholds: Thresholds,
    pub auto_move: bool,
    pub monitor_id: Option<i64>,
    pub warner_id: Option<i64>,
    pub leader_id: Option<i64>,
    pub shelter_id: Option<i64>,
    pub route: Option<String>,
    pub report_minutes: i64,
    pub note: Option<String>,
    pub sample: bool,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl ZoneRow {
    pub fn thresholds(&self) -> Thresholds {
        serde_json::from_str(&self.thresholds).unwrap_or_default()
    }

    pub fn geometry(&self) -> Value {
        serde_json::from_str(&self.geometry).unwrap_or(Value::Null)
    }

    /// A point for the zone's marker: the point, or the middle of the polygon's box.
    pub fn marker(&self) -> Option<(f64, f64)> {
        let g = self.geometry();
        let c = g.get("coordinates")?;
        match g.get("type")?.as_str()? {
            "Point" => Some((c.get(0)?.as_f64()?, c.get(1)?.as_f64()?)),
            _ => {
                let r = crate::geometry::parse_area("geometry", &g, &GeoLimits::STORED).ok()?;
                Some(((r.min_lon + r.max_lon) / 2.0, (r.min_lat + r.max_lat) / 2.0))
            }
        }
    }

    pub fn view(&self, tz: chrono_tz::Tz) -> Zone {
        Zone {
            id: self.id,
            township_id: self.township_id,
            village_id: self.village_id,
            natural_village: self.natural_village.clone(),
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            kind_label: kind_zh(&self.kind),
            geometry: self.geometry(),
            thresholds: self.thresholds(),
            auto_move: self.auto_move != 0,
            monitor_id: self.monitor_id,
            warner_id: self.warner_id,
            leader_id: self.leader_id,
            shelter_id: self.shelter_id,
            route: self.route.clone(),
            report_minutes: self.report_minutes,
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
    code: String,
    name: String,
    natural_village: Option<String>,
    kind: &'static str,
    geometry: String,
    thresholds: String,
    route: Option<String>,
    report_minutes: i64,
    note: Option<String>,
}

fn check_geometry(v: &Value, limits: &GeoLimits) -> FieldResult<String> {
    if v.get("type").and_then(Value::as_str) == Some("Point") {
        let c = v.get("coordinates");
        let (Some(lon), Some(lat)) = (
            c.and_then(|c| c.get(0)).and_then(Value::as_f64),
            c.and_then(|c| c.get(1)).and_then(Value::as_f64),
        ) else {
            return err("geometry", "a Point's coordinates are [lon, lat]");
        };
        crate::validate::lon_lat("geometry", lon, lat)?;
        return Ok(json!({"type": "Point", "coordinates": [lon, lat]}).to_string());
    }
    crate::geometry::parse_area("geometry", v, limits)?;
    Ok(v.to_string())
}

fn validate(input: &ZoneInput, limits: &GeoLimits) -> FieldResult<Valid> {
    let code = required_text("code", &input.code, 32)?;
    if !crate::registry::shelters::code_ok(&code) {
        return err(
            "code",
            "may hold only letters, digits, '-' and '_', e.g. WX-SH-01",
        );
    }
    let Some(kind) = kind_code(&input.kind) else {
        let known: Vec<String> = KINDS.iter().map(|k| format!("{} ({})", k.0, k.1)).collect();
        return err(
            "kind",
            format!("unknown kind '{}'; known: {}", input.kind, known.join(", ")),
        );
    };
    input.thresholds.prepare.check("thresholds.prepare")?;
    input.thresholds.move_now.check("thresholds.move")?;
    // Stored by the window's number as written plainly ("01" → "1"), the key readings look up.
    let mut thresholds = input.thresholds.clone();
    for t in [&mut thresholds.prepare, &mut thresholds.move_now] {
        t.rain_mm = t
            .rain_mm
            .iter()
            .filter_map(|(h, mm)| Some((h.trim().parse::<u32>().ok()?.to_string(), *mm)))
            .collect();
    }
    if input.auto_move && input.thresholds.move_now.is_empty() {
        return err(
            "auto_move",
            "needs a 立即转移 threshold (thresholds.move) to act on",
        );
    }
    let report_minutes = input.report_minutes.unwrap_or(30);
    if !(5..=720).contains(&report_minutes) {
        return err("report_minutes", "must be between 5 and 720 minutes");
    }
    Ok(Valid {
        code,
        name: required_text("name", &input.name, 64)?,
        natural_village: optional_line("natural_village", &input.natural_village, 64)?,
        kind,
        geometry: check_geometry(&input.geometry, limits)?,
        thresholds: json!(thresholds).to_string(),
        route: optional_text("route", &input.route, 500)?,
        report_minutes,
        note: optional_text("note", &input.note, 500)?,
    })
}

/// Checks the village and the people and shelter named, all in the asker's
/// scope and the village's township; gives the township.
async fn place(db: &Db, input: &ZoneInput) -> Result<i64, WriteError> {
    let Some(township) = crate::registry::villages::township_of(db, input.village_id).await? else {
        return Err(WriteError::field(
            "village_id",
            format!("no village with id {}", input.village_id),
        ));
    };
    for (field, id) in [
        ("monitor_id", input.monitor_id),
        ("warner_id", input.warner_id),
        ("leader_id", Some(input.leader_id)),
    ] {
        if let Some(id) = id
            && !super::contact_in(db, id, township).await?
        {
            return Err(WriteError::field(field, format!("no contact with id {id}")));
        }
    }
    if let Some(id) = input.shelter_id
        && !super::shelter_in(db, id, township).await?
    {
        return Err(WriteError::field(
            "shelter_id",
            format!("no shelter with id {id}"),
        ));
    }
    Ok(township)
}

#[derive(Debug, Default)]
pub struct Filter {
    pub village_id: Option<i64>,
    pub kind: Option<&'static str>,
    pub include_archived: bool,
}

pub async fn list(db: &Db, f: &Filter) -> Result<Vec<ZoneRow>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM danger_zones WHERE {}",
        db.scope_filter("danger_zones")
    ));
    if !f.include_archived {
        q.push(" AND archived_at IS NULL");
    }
    if let Some(v) = f.village_id {
        q.push(" AND village_id = ").bind(v);
    }
    if let Some(k) = f.kind {
        q.push(" AND kind = ").bind(k);
    }
    q.push(" ORDER BY village_id, code");
    let mut tx = db.read().await?;
    let rows = q.query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// One zone, if the handle's scope covers it (else `None`: a 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<ZoneRow>> {
    db.get_in_scope(COLS, "danger_zones", id).await
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<ZoneRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM danger_zones WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

versioned_row!(ZoneRow, "danger_zone", "danger_zones", |row, tz| json!(
    row.view(tz)
));

fn code_used(code: &str, e: WriteError) -> WriteError {
    if is_unique_violation(&e) {
        WriteError::field("code", format!("zone code '{code}' is already used"))
    } else {
        e
    }
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &ZoneInput,
    limits: &GeoLimits,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<ZoneRow, WriteError> {
    let v = validate(input, limits)?;
    let township = place(db, input).await?;
    let mut tx = db.begin().await?;
    let now = now_ms();
    let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO danger_zones (township_id, village_id, natural_village, code, name, kind, geometry, thresholds, auto_move, \
         monitor_id, warner_id, leader_id, shelter_id, route, report_minutes, note, sample, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) RETURNING id",
    )
    .bind(township)
    .bind(input.village_id)
    .bind(&v.natural_village)
    .bind(&v.code)
    .bind(&v.name)
    .bind(v.kind)
    .bind(&v.geometry)
    .bind(&v.thresholds)
    .bind(i64::from(input.auto_move))
    .bind(input.monitor_id)
    .bind(input.warner_id)
    .bind(input.leader_id)
    .bind(input.shelter_id)
    .bind(&v.route)
    .bind(v.report_minutes)
    .bind(&v.note)
    .bind(i64::from(sample))
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = inserted.map_err(|e| code_used(&v.code, e.into()))?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "danger_zone",
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
    input: &ZoneInput,
    limits: &GeoLimits,
    tz: chrono_tz::Tz,
) -> Result<ZoneRow, WriteError> {
    let v = validate(input, limits)?;
    let version = input.version.ok_or_else(|| {
        WriteError::field("version", "is required on update (the version you edited)")
    })?;
    if get(db, id).await?.is_none() {
        return Err(WriteError::NotFound);
    }
    let township = place(db, input).await?;
    let code = v.code.clone();
    let input = input.clone();
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &ZoneRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE danger_zones SET township_id = $1, village_id = $2, natural_village = $3, code = $4, name = $5, kind = $6, \
                 geometry = $7, thresholds = $8, auto_move = $9, monitor_id = $10, warner_id = $11, leader_id = $12, shelter_id = $13, \
                 route = $14, report_minutes = $15, note = $16, version = version + 1, updated_at = $17 WHERE id = $18 AND version = $19",
            )
            .bind(township)
            .bind(input.village_id)
            .bind(&v.natural_village)
            .bind(&v.code)
            .bind(&v.name)
            .bind(v.kind)
            .bind(&v.geometry)
            .bind(&v.thresholds)
            .bind(i64::from(input.auto_move))
            .bind(input.monitor_id)
            .bind(input.warner_id)
            .bind(input.leader_id)
            .bind(input.shelter_id)
            .bind(&v.route)
            .bind(v.report_minutes)
            .bind(&v.note)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            // Its households live where the zone is: a village user finds them there.
            sqlx::query("UPDATE households SET village_id = $1, township_id = $2 WHERE zone_id = $3")
                .bind(input.village_id)
                .bind(township)
                .bind(id)
                .execute(&mut *tx)
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
) -> Result<ZoneRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz).seen(version), "").await
}

/// Per zone the households registered, their people and the vulnerable
/// among them (counts only: no personal data, no audit).
pub async fn counts(db: &Db) -> Result<std::collections::HashMap<i64, (i64, i64, i64)>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT zone_id, COUNT(*), CAST(SUM(members) AS BIGINT), \
         CAST(SUM(CASE WHEN elderly + infirm + sick + disabled + pregnant + children > members THEN members \
         ELSE elderly + infirm + sick + disabled + pregnant + children END) AS BIGINT) \
         FROM households WHERE archived_at IS NULL AND {} GROUP BY zone_id",
        db.scope_filter("households")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(z, h, p, v)| (z, (h, p, v)))
        .collect())
}

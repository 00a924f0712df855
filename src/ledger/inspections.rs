//! Inspections and the hidden dangers (隐患) they find. Each finding follows
//! the "六定" rule: item, measures, funding, person, deadline, re-inspector;
//! it is rectified, then closed out (销号) after re-inspection.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Actor;
use crate::store::{Db, Result, Sql, WriteError, now_ms};
use crate::validate::{FieldResult, date, err, optional_line, optional_text, required_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 一般隐患
    General,
    /// 重大隐患
    Major,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::General => "general",
            Grade::Major => "major",
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingInput {
    pub grade: Grade,
    pub item: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub measures: Option<String>,
    #[serde(default)]
    pub funding: Option<String>,
    #[serde(default)]
    pub responsible: Option<String>,
    pub deadline: String,
    #[serde(default)]
    pub reinspector: Option<String>,
    /// The checklist item (检查表) found against, by code (`HC-05`): an item
    /// of the site's kind's list; a major item makes the finding major.
    #[serde(default)]
    pub checklist_item: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionInput {
    pub inspected_on: String,
    /// Registered inspectors (执法人员), at least `[enforcement]
    /// min_inspectors` (2), each with a certificate valid on the date.
    pub inspector_ids: Vec<i64>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub findings: Vec<FindingInput>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FindingRow {
    pub id: i64,
    pub inspection_id: i64,
    pub site_id: i64,
    pub grade: String,
    pub item: String,
    pub description: Option<String>,
    pub measures: Option<String>,
    pub funding: Option<String>,
    pub responsible: Option<String>,
    pub deadline: String,
    pub reinspector: Option<String>,
    pub status: String,
    pub rectified_on: Option<String>,
    pub rectification_note: Option<String>,
    pub closed_on: Option<String>,
    pub closed_by: Option<String>,
    pub version: i64,
    /// The checklist item's code, if the finding names one.
    pub checklist_item: Option<String>,
}

const FCOLS: &str = "id, inspection_id, site_id, grade, item, description, measures, funding, responsible, deadline, \
    reinspector, status, rectified_on, rectification_note, closed_on, closed_by, version, checklist_item";

#[derive(Debug, Clone, sqlx::FromRow)]
struct InspectionRow {
    id: i64,
    site_id: i64,
    inspected_on: String,
    inspectors: String,
    summary: Option<String>,
    version: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inspection {
    pub id: i64,
    pub site_id: i64,
    pub inspected_on: String,
    /// "姓名（执法证号）" of each inspector, as recorded.
    pub inspectors: Vec<String>,
    /// The registered inspectors (none for an inspection recorded before the register).
    pub inspector_ids: Vec<i64>,
    pub summary: Option<String>,
    pub version: i64,
    pub findings: Vec<FindingRow>,
}

pub(crate) fn validate(input: &InspectionInput, tz: chrono_tz::Tz) -> FieldResult<()> {
    let on = date("inspected_on", &input.inspected_on)?;
    if on > crate::time::today(tz) {
        return err("inspected_on", "cannot be in the future");
    }
    if input.inspector_ids.is_empty() {
        return err("inspector_ids", "name at least one inspector (执法人员)");
    }
    optional_text("summary", &input.summary, 2000)?;
    if input.findings.len() > 200 {
        return err("findings", "at most 200 findings per inspection");
    }
    for (i, f) in input.findings.iter().enumerate() {
        required_text(&format!("findings[{i}].item"), &f.item, 256)?;
        optional_text(&format!("findings[{i}].description"), &f.description, 2000)?;
        optional_text(&format!("findings[{i}].measures"), &f.measures, 2000)?;
        optional_text(&format!("findings[{i}].funding"), &f.funding, 256)?;
        optional_line(&format!("findings[{i}].responsible"), &f.responsible, 64)?;
        optional_line(&format!("findings[{i}].reinspector"), &f.reinspector, 64)?;
        let d = date(&format!("findings[{i}].deadline"), &f.deadline)?;
        if d < on {
            return err(
                format!("findings[{i}].deadline"),
                "must not be before the inspection date",
            );
        }
    }
    Ok(())
}

/// An inspection's findings in order (the caller checked its scope).
pub(crate) async fn findings_of(
    conn: &mut sqlx::AnyConnection,
    inspection: i64,
) -> Result<Vec<FindingRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FCOLS} FROM findings WHERE inspection_id = $1 ORDER BY id"
    )))
    .bind(inspection)
    .fetch_all(conn)
    .await?)
}

async fn load(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<Inspection>> {
    let row: Option<InspectionRow> = sqlx::query_as(
        "SELECT id, site_id, inspected_on, inspectors, summary, version FROM inspections WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let findings = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FCOLS} FROM findings WHERE inspection_id = $1 ORDER BY id"
    )))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let team: Vec<(i64,)> = sqlx::query_as(
        "SELECT inspector_id FROM inspection_inspectors WHERE inspection_id = $1 ORDER BY inspector_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(Inspection {
        id: r.id,
        site_id: r.site_id,
        inspected_on: r.inspected_on,
        inspectors: serde_json::from_str(&r.inspectors).unwrap_or_default(),
        inspector_ids: team.into_iter().map(|t| t.0).collect(),
        summary: r.summary,
        version: r.version,
        findings,
    }))
}

/// Records an inspection by at least `min_inspectors` registered
/// inspectors (`[enforcement] min_inspectors`) and its findings.
pub async fn create(
    db: &Db,
    actor: &Actor,
    site_id: i64,
    input: &InspectionInput,
    min_inspectors: usize,
    tz: chrono_tz::Tz,
) -> Result<Inspection, WriteError> {
    validate(input, tz)?;
    let mut tx = db.begin().await?;
    // The inspection and its findings belong to the site's township; a
    // site outside the asker's scope is not found.
    let site: Option<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT township_id, kind FROM sites WHERE id = $1 AND {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("village_id")
    )))
    .bind(site_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((township, kind)) = site else {
        return Err(WriteError::NotFound);
    };
    let team = crate::enforcement::inspectors::check_team(
        &mut tx,
        township,
        &input.inspector_ids,
        input.inspected_on.trim(),
        min_inspectors,
    )
    .await?;
    // Each finding's checklist item must be on the site's kind's list; a
    // major item makes the finding major.
    let mut findings = Vec::with_capacity(input.findings.len());
    for (i, f) in input.findings.iter().enumerate() {
        let (code, grade) = crate::enforcement::checklists::grade_for(
            &format!("findings[{i}].checklist_item"),
            &kind,
            f.checklist_item.as_deref(),
            f.grade,
        )?;
        findings.push(FindingInput {
            grade,
            checklist_item: code,
            ..f.clone()
        });
    }
    let now = now_ms();
    let inspectors: Vec<String> = team.iter().map(|r| r.label()).collect();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO inspections (site_id, inspected_on, inspectors, summary, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id",
    )
    .bind(site_id)
    .bind(input.inspected_on.trim())
    .bind(json!(inspectors).to_string())
    .bind(optional_text("summary", &input.summary, 2000).ok().flatten())
    .bind(now)
    .bind(township)
    .fetch_one(&mut *tx)
    .await?;
    link_team(&mut tx, id, township, &input.inspector_ids).await?;
    for f in &findings {
        insert_finding(&mut tx, id, site_id, township, f).await?;
    }
    let out = load(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "inspection",
        Some(id),
        None,
        Some(&json!(out)),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Links an inspection to its registered inspectors.
async fn link_team(
    conn: &mut sqlx::AnyConnection,
    inspection: i64,
    township: i64,
    ids: &[i64],
) -> Result<()> {
    for id in ids {
        sqlx::query(
            "INSERT INTO inspection_inspectors (inspection_id, inspector_id, township_id) VALUES ($1, $2, $3)",
        )
        .bind(inspection)
        .bind(id)
        .bind(township)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores one checked finding of an inspection (the caller audits it); a
/// major one is put under supervision (挂牌督办) in the same transaction.
pub(crate) async fn insert_finding(
    conn: &mut sqlx::AnyConnection,
    inspection: i64,
    site_id: i64,
    township: i64,
    f: &FindingInput,
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO findings (inspection_id, site_id, grade, item, description, measures, funding, responsible, deadline, \
         reinspector, status, created_at, updated_at, township_id, checklist_item) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $11, $12, $13) RETURNING id",
    )
    .bind(inspection)
    .bind(site_id)
    .bind(f.grade.as_str())
    .bind(f.item.trim())
    .bind(optional_text("", &f.description, 2000).ok().flatten())
    .bind(optional_text("", &f.measures, 2000).ok().flatten())
    .bind(optional_text("", &f.funding, 256).ok().flatten())
    .bind(optional_text("", &f.responsible, 64).ok().flatten())
    .bind(f.deadline.trim())
    .bind(optional_text("", &f.reinspector, 64).ok().flatten())
    .bind(now_ms())
    .bind(township)
    .bind(f.checklist_item.as_deref().map(str::trim))
    .fetch_one(&mut *conn)
    .await?;
    if f.grade == Grade::Major {
        crate::enforcement::supervision::open(conn, id).await?;
    }
    Ok(id)
}

/// The inspection of a site on a day by these inspectors: the one stored,
/// else a new one (the caller audits it). An import's rows of one visit
/// become one inspection.
pub(crate) async fn inspection_for(
    conn: &mut sqlx::AnyConnection,
    site_id: i64,
    township: i64,
    on: &str,
    inspectors: &[String],
    inspector_ids: &[i64],
) -> Result<i64> {
    let names = json!(inspectors).to_string();
    let found: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM inspections WHERE site_id = $1 AND inspected_on = $2 AND inspectors = $3 ORDER BY id LIMIT 1",
    )
    .bind(site_id)
    .bind(on)
    .bind(&names)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id,)) = found {
        return Ok(id);
    }
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO inspections (site_id, inspected_on, inspectors, summary, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, NULL, $4, $4, $5) RETURNING id",
    )
    .bind(site_id)
    .bind(on)
    .bind(names)
    .bind(now)
    .bind(township)
    .fetch_one(&mut *conn)
    .await?;
    link_team(conn, id, township, inspector_ids).await?;
    Ok(id)
}

/// Each stored finding of a township as (site, inspection date, item):
/// what an import matches its rows to.
pub(crate) async fn finding_keys(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<std::collections::HashSet<(i64, String, String)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT f.site_id, i.inspected_on, f.item FROM findings f JOIN inspections i ON i.id = f.inspection_id \
         WHERE f.township_id = $1",
    )
    .bind(township)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One inspection with its findings, if the handle's scope covers it.
pub async fn get(db: &Db, id: i64) -> Result<Option<Inspection>> {
    let mut tx = db.read().await?;
    let found: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.id FROM inspections i JOIN sites s ON s.id = i.site_id WHERE i.id = $1 AND {} AND {}",
        db.township_filter("i.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match found {
        Some(_) => load(&mut tx, id).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(out)
}

/// A site's inspections, newest first; none for a site outside the scope.
pub async fn list_for_site(db: &Db, site_id: i64) -> Result<Vec<Inspection>> {
    let mut tx = db.read().await?;
    let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.id FROM inspections i JOIN sites s ON s.id = i.site_id \
         WHERE i.site_id = $1 AND {} AND {} ORDER BY i.inspected_on DESC, i.id DESC",
        db.township_filter("i.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(site_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(i) = load(&mut tx, id).await? {
            out.push(i);
        }
    }
    tx.commit().await?;
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectifyInput {
    pub version: i64,
    pub rectified_on: String,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseInput {
    pub version: i64,
    pub closed_on: String,
    pub closed_by: String,
}

async fn finding_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<FindingRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {FCOLS} FROM findings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// One finding, if the handle's scope covers it (else `None`: a 404).
pub async fn get_finding(db: &Db, id: i64) -> Result<Option<FindingRow>> {
    let mut tx = db.read().await?;
    let row = finding_scoped(db, &mut tx, id).await?;
    tx.commit().await?;
    Ok(row)
}

/// A finding in the handle's scope (its township, and for a village scope
/// its site's village).
async fn finding_scoped(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<Option<FindingRow>> {
    let cols = FCOLS
        .split(", ")
        .map(|c| format!("f.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {cols} FROM findings f JOIN sites s ON s.id = f.site_id WHERE f.id = $1 AND {} AND {}",
        db.township_filter("f.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Moves a finding open → rectified → closed, checking the version and the
/// dates against the inspection.
pub async fn advance(
    db: &Db,
    actor: &Actor,
    id: i64,
    step: FindingStep,
    tz: chrono_tz::Tz,
) -> Result<FindingRow, WriteError> {
    let today = crate::time::today(tz);
    let mut tx = db.begin().await?;
    let before = finding_scoped(db, &mut tx, id)
        .await?
        .ok_or(WriteError::NotFound)?;
    let (inspected_on,): (String,) =
        sqlx::query_as("SELECT inspected_on FROM inspections WHERE id = $1")
            .bind(before.inspection_id)
            .fetch_one(&mut *tx)
            .await?;
    let (version, mut s) = match &step {
        FindingStep::Rectify(r) => {
            let d = date("rectified_on", &r.rectified_on)?;
            if d.to_string() < inspected_on || d > today {
                return Err(WriteError::field(
                    "rectified_on",
                    "must lie between the inspection date and today",
                ));
            }
            if before.status != "open" {
                return Err(WriteError::field(
                    "status",
                    format!("finding is already {}", before.status),
                ));
            }
            let mut s = Sql::new("UPDATE findings SET status = 'rectified', rectified_on = ");
            s.bind(d.to_string())
                .push(", rectification_note = ")
                .bind(optional_text("note", &r.note, 2000)?);
            (r.version, s)
        }
        FindingStep::Close(c) => {
            let d = date("closed_on", &c.closed_on)?;
            let by = required_text("closed_by", &c.closed_by, 64)?;
            if before.status != "rectified" {
                return Err(WriteError::field(
                    "status",
                    "a finding must be rectified before it is closed out (销号)",
                ));
            }
            if before
                .rectified_on
                .as_deref()
                .is_some_and(|r| d.to_string().as_str() < r)
                || d > today
            {
                return Err(WriteError::field(
                    "closed_on",
                    "must lie between the rectification date and today",
                ));
            }
            let mut s = Sql::new("UPDATE findings SET status = 'closed', closed_on = ");
            s.bind(d.to_string()).push(", closed_by = ").bind(by);
            (c.version, s)
        }
    };
    crate::store::check_version("finding", id, before.version, Some(version))?;
    s.push(", version = version + 1, updated_at = ")
        .bind(now_ms());
    s.push(" WHERE id = ")
        .bind(id)
        .push(" AND version = ")
        .bind(version);
    let r = s.query().execute(&mut *tx).await?;
    crate::store::changed_meanwhile("finding", id, r.rows_affected())?;
    let after = finding_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    if let (FindingStep::Close(_), Some(on)) = (&step, &after.closed_on) {
        // Closed out (销号): its supervision ends with it.
        crate::enforcement::supervision::close(&mut tx, id, on).await?;
    }
    let action = match step {
        FindingStep::Rectify(_) => "rectify",
        FindingStep::Close(_) => "close",
    };
    crate::audit::record(
        &mut tx,
        &actor.name,
        action,
        "finding",
        Some(id),
        Some(&json!(before)),
        Some(&json!(after)),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub enum FindingStep {
    Rectify(RectifyInput),
    Close(CloseInput),
}

//! Enforcement documents (执法文书): 现场检查记录 (per inspection), 责令限期
//! 整改指令书 (per inspection with findings, or per 责令整改 disposition) and
//! 整改复查意见书 (per re-inspection / close-out).
//!
//! Numbering: one series per township, kind and year
//! (`〔2026〕湖上乡应急检记〔001〕号`), the number taken from
//! `document_counters` by `INSERT … ON CONFLICT DO UPDATE SET n = n + 1
//! RETURNING n` in the transaction that stores the document: two sessions
//! issuing at once get two consecutive numbers (PostgreSQL holds the
//! counter's row until the first commits; SQLite has one writer), and a
//! transaction that fails gives its number back.
//!
//! Kept as issued: the facts (site, inspection, inspectors, findings with
//! their checklist items and deadlines) are copied into `content` when the
//! document is issued and never read again from the records; a later edit
//! of the inspection or a finding changes no issued document. A correction
//! issues a new number from the records as they are now, and marks the old
//! document superseded by it.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::optional_text;

/// The kinds of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// 现场检查记录
    InspectionRecord,
    /// 责令限期整改指令书
    RectificationOrder,
    /// 整改复查意见书
    ReinspectionOpinion,
}

impl DocKind {
    pub const ALL: [DocKind; 3] = [
        DocKind::InspectionRecord,
        DocKind::RectificationOrder,
        DocKind::ReinspectionOpinion,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::InspectionRecord => "inspection_record",
            DocKind::RectificationOrder => "rectification_order",
            DocKind::ReinspectionOpinion => "reinspection_opinion",
        }
    }
    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn title_zh(self) -> &'static str {
        match self {
            DocKind::InspectionRecord => "现场检查记录",
            DocKind::RectificationOrder => "责令限期整改指令书",
            DocKind::ReinspectionOpinion => "整改复查意见书",
        }
    }
    pub fn title_en(self) -> &'static str {
        match self {
            DocKind::InspectionRecord => "On-site inspection record",
            DocKind::RectificationOrder => "Order to rectify within a time limit",
            DocKind::ReinspectionOpinion => "Re-inspection opinion",
        }
    }
    /// The series' word in the number (检记 / 责改 / 复查).
    pub fn series(self) -> &'static str {
        match self {
            DocKind::InspectionRecord => "检记",
            DocKind::RectificationOrder => "责改",
            DocKind::ReinspectionOpinion => "复查",
        }
    }
}

/// A document's number as printed.
pub fn number(year: i32, township: &str, kind: DocKind, seq: i64) -> String {
    format!("〔{year}〕{township}应急{}〔{seq:03}〕号", kind.series())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    pub kind: DocKind,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// Why the document is corrected (shown on the new one).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The inspected site as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SiteFacts {
    pub name: String,
    pub kind: String,
    pub address: Option<String>,
    pub legal_representative: Option<String>,
    pub safety_officer: Option<String>,
    pub phone: Option<String>,
}

/// The checklist item a finding names, as it read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ItemFacts {
    pub code: String,
    pub text: String,
    pub source: String,
    pub major: bool,
}

/// A finding as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FindingFacts {
    pub id: i64,
    pub grade: String,
    pub item: String,
    pub description: Option<String>,
    pub checklist_item: Option<ItemFacts>,
    pub measures: Option<String>,
    pub responsible: Option<String>,
    pub deadline: String,
    pub status: String,
    pub rectified_on: Option<String>,
    pub rectification_note: Option<String>,
    pub closed_on: Option<String>,
    pub closed_by: Option<String>,
}

/// What a document says: the facts when it was issued, never re-read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Content {
    pub kind: DocKind,
    pub title: String,
    pub number: String,
    /// The issuing body (the township's government).
    pub issuer: String,
    pub township: String,
    pub site: SiteFacts,
    pub inspection_id: i64,
    pub inspected_on: String,
    /// As stored with the inspection ("姓名（执法证号）").
    pub inspectors: Vec<String>,
    pub summary: Option<String>,
    pub findings: Vec<FindingFacts>,
    /// The latest rectification order of the inspection (for a re-inspection opinion).
    pub order_number: Option<String>,
    /// The local date of issue.
    pub issued_on: String,
    pub issued_by: String,
    /// A correction: the number it replaces and why.
    pub corrects: Option<String>,
    pub reason: Option<String>,
}

/// An issued document.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Document {
    pub id: i64,
    pub kind: DocKind,
    pub number: String,
    pub year: i64,
    pub seq: i64,
    pub inspection_id: i64,
    pub finding_id: Option<i64>,
    pub site_id: i64,
    pub issued_at: i64,
    pub issued_by: String,
    pub supersedes: Option<i64>,
    pub superseded_by: Option<i64>,
    pub sample: bool,
    pub content: Content,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    kind: String,
    number: String,
    year: i64,
    seq: i64,
    inspection_id: i64,
    finding_id: Option<i64>,
    site_id: i64,
    content: String,
    issued_at: i64,
    issued_by: String,
    supersedes: Option<i64>,
    superseded_by: Option<i64>,
    sample: i64,
}

const COLS: &str = "d.id, d.kind, d.number, d.year, d.seq, d.inspection_id, d.finding_id, d.site_id, d.content, \
    d.issued_at, d.issued_by, d.supersedes, d.superseded_by, d.sample";

impl Row {
    fn view(self) -> Result<Document> {
        let content: Content = serde_json::from_str(&self.content)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("document {}: {e}", self.id)))?;
        Ok(Document {
            id: self.id,
            kind: DocKind::parse(&self.kind).unwrap_or(content.kind),
            number: self.number,
            year: self.year,
            seq: self.seq,
            inspection_id: self.inspection_id,
            finding_id: self.finding_id,
            site_id: self.site_id,
            issued_at: self.issued_at,
            issued_by: self.issued_by,
            supersedes: self.supersedes,
            superseded_by: self.superseded_by,
            sample: self.sample != 0,
            content,
        })
    }
}

/// A photo listed in a document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Photo {
    pub url: String,
    pub caption: String,
}

/// The photos a document lists (its 照片 section): the inspection's scene
/// photos and its findings' before/after ones, as they were when the
/// document was issued (`ledger::photos::list_for_document`).
pub async fn photos(db: &Db, doc: &Document) -> Result<Vec<Photo>> {
    let rows =
        crate::ledger::photos::list_for_document(db, doc.inspection_id, doc.issued_at).await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let what = match (p.owner_kind.as_str(), p.tag.as_str()) {
                ("finding", "before") => "整改前",
                ("finding", "after") => "整改后",
                _ => "现场",
            };
            let caption = match p.caption.as_deref().map(str::trim) {
                Some(c) if !c.is_empty() => format!("{what}：{c}"),
                _ => what.to_string(),
            };
            Photo {
                url: format!("/photos/{}", p.id),
                caption,
            }
        })
        .collect())
}

/// Who issues: the actor's display name (the dashboard's `web:NAME`
/// without its prefix).
fn issuer_name(actor: &Actor) -> String {
    actor
        .name
        .strip_prefix("web:")
        .unwrap_or(&actor.name)
        .to_string()
}

/// Issues a document of `kind` for an inspection the handle's scope covers.
pub async fn issue(
    db: &Db,
    actor: &Actor,
    inspection_id: i64,
    kind: DocKind,
    tz: chrono_tz::Tz,
) -> Result<Document, WriteError> {
    let mut tx = db.begin().await?;
    let id = issue_in(db, &mut tx, actor, inspection_id, kind, None, None, tz).await?;
    let doc = load(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    tx.commit().await?;
    Ok(doc)
}

/// Issues a document inside the caller's transaction (a disposition's),
/// with its audit entry; `finding` limits it to one finding, `corrects`
/// makes it the correction of a document (id, number, reason).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_in(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    actor: &Actor,
    inspection_id: i64,
    kind: DocKind,
    finding: Option<i64>,
    corrects: Option<(i64, String, Option<String>)>,
    tz: chrono_tz::Tz,
) -> Result<i64, WriteError> {
    #[derive(sqlx::FromRow)]
    struct Insp {
        township_id: i64,
        site_id: i64,
        inspected_on: String,
        inspectors: String,
        summary: Option<String>,
        name: String,
        kind: String,
        address: Option<String>,
        legal_representative: Option<String>,
        safety_officer: Option<String>,
        safety_officer_phone: Option<String>,
        phone_24h: Option<String>,
        sample: i64,
        township: String,
    }
    let i: Option<Insp> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.township_id, i.site_id, i.inspected_on, i.inspectors, i.summary, s.name, s.kind, s.address, \
         s.legal_representative, s.safety_officer, s.safety_officer_phone, s.phone_24h, s.sample, t.name AS township \
         FROM inspections i JOIN sites s ON s.id = i.site_id JOIN townships t ON t.id = i.township_id \
         WHERE i.id = $1 AND {} AND {}",
        db.township_filter("i.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(inspection_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(i) = i else {
        return Err(WriteError::NotFound);
    };
    let mut findings: Vec<crate::ledger::inspections::FindingRow> =
        crate::ledger::inspections::findings_of(&mut *conn, inspection_id).await?;
    if let Some(f) = finding {
        findings.retain(|r| r.id == f);
    }
    match kind {
        DocKind::InspectionRecord => {}
        DocKind::RectificationOrder => {
            if findings.is_empty() {
                return Err(WriteError::field(
                    "kind",
                    "检查未发现隐患，无需责令整改 / the inspection found no hidden danger to order rectified",
                ));
            }
        }
        DocKind::ReinspectionOpinion => {
            findings.retain(|f| f.status != "open");
            if findings.is_empty() {
                return Err(WriteError::field(
                    "kind",
                    "尚无已整改的隐患可复查 / no finding has been rectified yet",
                ));
            }
        }
    }
    let order_number: Option<(String,)> = if kind == DocKind::ReinspectionOpinion {
        sqlx::query_as(
            "SELECT number FROM documents WHERE inspection_id = $1 AND kind = 'rectification_order' \
             AND superseded_by IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(inspection_id)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    let now = now_ms();
    let today = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.with_timezone(&tz).date_naive())
        .unwrap_or_else(|| crate::time::today(tz));
    let year = chrono::Datelike::year(&today);
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO document_counters (township_id, kind, year, n) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (township_id, kind, year) DO UPDATE SET n = document_counters.n + 1 RETURNING n",
    )
    .bind(i.township_id)
    .bind(kind.as_str())
    .bind(i64::from(year))
    .fetch_one(&mut *conn)
    .await?;
    let township = i.township.trim().to_string();
    let number = number(year, &township, kind, seq);
    let reason = match &corrects {
        Some((_, _, r)) => optional_text("reason", r, 500)?,
        None => None,
    };
    let issued_by = issuer_name(actor);
    let content = Content {
        kind,
        title: kind.title_zh().to_string(),
        number: number.clone(),
        issuer: format!("{township}人民政府"),
        township: township.clone(),
        site: SiteFacts {
            name: i.name,
            kind: i.kind,
            address: i.address,
            legal_representative: i.legal_representative,
            safety_officer: i.safety_officer,
            phone: i
                .safety_officer_phone
                .or(i.phone_24h)
                .map(|p| crate::phone::dialled(&p)),
        },
        inspection_id,
        inspected_on: i.inspected_on,
        inspectors: serde_json::from_str(&i.inspectors).unwrap_or_default(),
        summary: i.summary,
        findings: findings
            .into_iter()
            .map(|f| FindingFacts {
                checklist_item: f
                    .checklist_item
                    .as_deref()
                    .and_then(super::checklists::item)
                    .map(|it| ItemFacts {
                        code: it.code.into(),
                        text: it.text.into(),
                        source: it.source.into(),
                        major: it.major,
                    }),
                id: f.id,
                grade: f.grade,
                item: f.item,
                description: f.description,
                measures: f.measures,
                responsible: f.responsible,
                deadline: f.deadline,
                status: f.status,
                rectified_on: f.rectified_on,
                rectification_note: f.rectification_note,
                closed_on: f.closed_on,
                closed_by: f.closed_by,
            })
            .collect(),
        order_number: order_number.map(|o| o.0),
        issued_on: today.to_string(),
        issued_by: issued_by.clone(),
        corrects: corrects.as_ref().map(|c| c.1.clone()),
        reason,
    };
    let text = serde_json::to_string(&content)
        .map_err(|e| WriteError::Conflict(format!("document content: {e}")))?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO documents (township_id, kind, year, seq, number, inspection_id, finding_id, site_id, content, \
         issued_at, issued_by, supersedes, sample) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(i.township_id)
    .bind(kind.as_str())
    .bind(i64::from(year))
    .bind(seq)
    .bind(&number)
    .bind(inspection_id)
    .bind(finding)
    .bind(i.site_id)
    .bind(&text)
    .bind(now)
    .bind(&actor.name)
    .bind(corrects.as_ref().map(|c| c.0))
    .bind(i.sample)
    .fetch_one(&mut *conn)
    .await?;
    if let Some((old, _, _)) = &corrects {
        let r = sqlx::query(
            "UPDATE documents SET superseded_by = $1 WHERE id = $2 AND superseded_by IS NULL",
        )
        .bind(id)
        .bind(old)
        .execute(&mut *conn)
        .await?;
        if r.rows_affected() != 1 {
            return Err(WriteError::Conflict(
                "该文书已被更正 / the document has been corrected already".into(),
            ));
        }
    }
    crate::audit::record(
        conn,
        &actor.name,
        if corrects.is_some() {
            "correct"
        } else {
            "issue"
        },
        "document",
        Some(id),
        None,
        Some(&json!({
            "kind": kind.as_str(),
            "number": number,
            "inspection_id": inspection_id,
            "finding_id": finding,
            "supersedes": corrects.as_ref().map(|c| c.0),
        })),
    )
    .await?;
    Ok(id)
}

async fn load(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<Document>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM documents d WHERE d.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Row::view).transpose()
}

/// One document, if the handle's scope covers it.
pub async fn get(db: &Db, id: i64) -> Result<Option<Document>> {
    let mut tx = db.read().await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM documents d JOIN sites s ON s.id = d.site_id WHERE d.id = $1 AND {} AND {}",
        db.township_filter("d.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(Row::view).transpose()
}

/// Corrects a document: a new number of the same kind from the records as
/// they are now; the old one is marked superseded by it.
pub async fn correct(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &CorrectionInput,
    tz: chrono_tz::Tz,
) -> Result<Document, WriteError> {
    let old = get(db, id).await?.ok_or(WriteError::NotFound)?;
    if old.superseded_by.is_some() {
        return Err(WriteError::Conflict(
            "该文书已被更正，请更正最新的文书 / the document has been corrected already; correct the newest".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let new = issue_in(
        db,
        &mut tx,
        actor,
        old.inspection_id,
        old.kind,
        old.finding_id,
        Some((old.id, old.number.clone(), input.reason.clone())),
        tz,
    )
    .await?;
    let doc = load(&mut tx, new).await?.ok_or(WriteError::NotFound)?;
    tx.commit().await?;
    Ok(doc)
}

/// A line of a document list.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DocumentLine {
    pub id: i64,
    pub kind: String,
    pub number: String,
    pub inspection_id: i64,
    pub finding_id: Option<i64>,
    pub site_id: i64,
    pub site_name: String,
    pub issued_at: i64,
    pub issued_by: String,
    pub superseded_by: Option<i64>,
    pub sample: i64,
}

impl DocumentLine {
    pub fn kind_zh(&self) -> &'static str {
        DocKind::parse(&self.kind).map_or("", DocKind::title_zh)
    }
    pub fn kind_en(&self) -> &'static str {
        DocKind::parse(&self.kind).map_or("", DocKind::title_en)
    }
}

/// The documents the handle's scope sees, newest first: an inspection's, or
/// all; with the total.
pub async fn list(
    db: &Db,
    inspection: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<DocumentLine>, i64)> {
    let mut tx = db.read().await?;
    let by = if inspection.is_some() {
        " AND d.inspection_id = $1"
    } else {
        " AND $1 = $1"
    };
    let from = format!(
        "FROM documents d JOIN sites s ON s.id = d.site_id WHERE {} AND {}{by}",
        db.township_filter("d.township_id"),
        db.village_filter("s.village_id")
    );
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COUNT(*) AS BIGINT) {from}"
    )))
    .bind(inspection.unwrap_or(0))
    .fetch_one(&mut *tx)
    .await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT d.id, d.kind, d.number, d.inspection_id, d.finding_id, d.site_id, s.name AS site_name, d.issued_at, \
         d.issued_by, d.superseded_by, d.sample {from} ORDER BY d.issued_at DESC, d.id DESC LIMIT {limit} OFFSET {offset}"
    )))
    .bind(inspection.unwrap_or(0))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_the_series() {
        assert_eq!(
            number(2026, "湖上乡", DocKind::InspectionRecord, 1),
            "〔2026〕湖上乡应急检记〔001〕号"
        );
        assert_eq!(
            number(2026, "湖上乡", DocKind::RectificationOrder, 12),
            "〔2026〕湖上乡应急责改〔012〕号"
        );
        assert_eq!(
            number(2027, "湖上乡", DocKind::ReinspectionOpinion, 1234),
            "〔2027〕湖上乡应急复查〔1234〕号"
        );
    }
}

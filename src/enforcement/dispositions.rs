//! Dispositions (处置) of a finding: 责令整改, 约谈, 警告, 首违不罚 / 轻微免罚
//! (naming the entry of the 免罚清单 applied), 移送立案 (to the county
//! bureau). Each is kept as recorded with its date, the person who decided
//! and the actor who recorded it; a 责令整改 issues its 责令限期整改指令书 for
//! the finding in the same transaction, the others may name a document
//! issued elsewhere (`document_ref`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::documents::{self, DocKind};
use crate::auth::Actor;
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{date, optional_line, optional_text, required_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DispositionKind {
    /// 责令整改 (issues a 责令限期整改指令书)
    OrderRectification,
    /// 约谈
    Interview,
    /// 警告
    Warning,
    /// 首违不罚 (needs the 免罚清单 entry)
    FirstOffenceExempt,
    /// 轻微免罚 (needs the 免罚清单 entry)
    MinorExempt,
    /// 移送立案 (to the county bureau)
    Referral,
}

impl DispositionKind {
    pub const ALL: [DispositionKind; 6] = [
        DispositionKind::OrderRectification,
        DispositionKind::Interview,
        DispositionKind::Warning,
        DispositionKind::FirstOffenceExempt,
        DispositionKind::MinorExempt,
        DispositionKind::Referral,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DispositionKind::OrderRectification => "order_rectification",
            DispositionKind::Interview => "interview",
            DispositionKind::Warning => "warning",
            DispositionKind::FirstOffenceExempt => "first_offence_exempt",
            DispositionKind::MinorExempt => "minor_exempt",
            DispositionKind::Referral => "referral",
        }
    }
    pub fn parse(s: &str) -> Option<DispositionKind> {
        DispositionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            DispositionKind::OrderRectification => "责令整改",
            DispositionKind::Interview => "约谈",
            DispositionKind::Warning => "警告",
            DispositionKind::FirstOffenceExempt => "首违不罚",
            DispositionKind::MinorExempt => "轻微免罚",
            DispositionKind::Referral => "移送立案",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            DispositionKind::OrderRectification => "Order to rectify",
            DispositionKind::Interview => "Interview",
            DispositionKind::Warning => "Warning",
            DispositionKind::FirstOffenceExempt => "First offence, no penalty",
            DispositionKind::MinorExempt => "Minor, no penalty",
            DispositionKind::Referral => "Referred for a case",
        }
    }
    fn exempt(self) -> bool {
        matches!(
            self,
            DispositionKind::FirstOffenceExempt | DispositionKind::MinorExempt
        )
    }
}

/// Where a 移送立案 goes when the input names nobody.
pub const COUNTY_BUREAU: &str = "县应急管理局";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionInput {
    pub kind: DispositionKind,
    /// YYYY-MM-DD, not before the inspection, not in the future.
    pub decided_on: String,
    /// Who decided (姓名、职务).
    pub decided_by: String,
    #[serde(default)]
    pub note: Option<String>,
    /// 首违不罚 / 轻微免罚: the entry of the 免罚清单 applied (its number and text).
    #[serde(default)]
    pub exemption_item: Option<String>,
    /// 移送立案: to whom (default 县应急管理局).
    #[serde(default)]
    pub referred_to: Option<String>,
    /// A document issued for it elsewhere (its number).
    #[serde(default)]
    pub document_ref: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Disposition {
    pub id: i64,
    pub finding_id: i64,
    pub kind: String,
    pub decided_on: String,
    pub decided_by: String,
    /// The actor who recorded it.
    pub recorded_by: String,
    pub note: Option<String>,
    pub exemption_item: Option<String>,
    pub referred_to: Option<String>,
    /// The document issued for it here (a 责令整改's 指令书).
    pub document_id: Option<i64>,
    pub document_number: Option<String>,
    pub document_ref: Option<String>,
    pub created_at: i64,
    pub sample: i64,
}

impl Disposition {
    pub fn kind_zh(&self) -> &'static str {
        DispositionKind::parse(&self.kind).map_or("", DispositionKind::label_zh)
    }
    pub fn kind_en(&self) -> &'static str {
        DispositionKind::parse(&self.kind).map_or("", DispositionKind::label_en)
    }
}

const COLS: &str = "p.id, p.finding_id, p.kind, p.decided_on, p.decided_by, p.recorded_by, p.note, p.exemption_item, \
    p.referred_to, p.document_id, d.number AS document_number, p.document_ref, p.created_at, p.sample";

/// Records a disposition of a finding the handle's scope covers.
pub async fn record(
    db: &Db,
    actor: &Actor,
    finding_id: i64,
    input: &DispositionInput,
    tz: chrono_tz::Tz,
) -> Result<Disposition, WriteError> {
    let on = date("decided_on", &input.decided_on)?;
    if on > crate::time::today(tz) {
        return Err(WriteError::field("decided_on", "cannot be in the future"));
    }
    let decided_by = required_text("decided_by", &input.decided_by, 64)?;
    let note = optional_text("note", &input.note, 2000)?;
    let exemption = optional_line("exemption_item", &input.exemption_item, 200)?;
    if input.kind.exempt() && exemption.is_none() {
        return Err(WriteError::field(
            "exemption_item",
            "首违不罚、轻微免罚须写明适用的免罚清单条目 / name the entry of the no-penalty list applied",
        ));
    }
    let exemption = exemption.filter(|_| input.kind.exempt());
    let referred_to = match input.kind {
        DispositionKind::Referral => Some(
            optional_line("referred_to", &input.referred_to, 64)?
                .unwrap_or_else(|| COUNTY_BUREAU.to_string()),
        ),
        _ => None,
    };
    let document_ref = optional_line("document_ref", &input.document_ref, 64)?;

    let mut tx = db.begin().await?;
    let found: Option<(i64, i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT f.inspection_id, f.township_id, i.inspected_on, s.sample FROM findings f \
         JOIN inspections i ON i.id = f.inspection_id JOIN sites s ON s.id = f.site_id \
         WHERE f.id = $1 AND {} AND {}",
        db.township_filter("f.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(finding_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((inspection_id, township, inspected_on, sample)) = found else {
        return Err(WriteError::NotFound);
    };
    if on.to_string() < inspected_on {
        return Err(WriteError::field(
            "decided_on",
            "must not be before the inspection date",
        ));
    }
    let document_id = if input.kind == DispositionKind::OrderRectification {
        Some(
            documents::issue_in(
                db,
                &mut tx,
                actor,
                inspection_id,
                DocKind::RectificationOrder,
                Some(finding_id),
                None,
                tz,
            )
            .await?,
        )
    } else {
        None
    };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO dispositions (township_id, finding_id, kind, decided_on, recorded_by, decided_by, note, \
         exemption_item, referred_to, document_id, document_ref, sample, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(township)
    .bind(finding_id)
    .bind(input.kind.as_str())
    .bind(on.to_string())
    .bind(&actor.name)
    .bind(&decided_by)
    .bind(note)
    .bind(exemption)
    .bind(referred_to)
    .bind(document_id)
    .bind(document_ref)
    .bind(sample)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await?;
    let out: Disposition = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM dispositions p LEFT JOIN documents d ON d.id = p.document_id WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "disposition",
        Some(id),
        None,
        Some(&json!(out)),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// A finding's dispositions in the order they were recorded (none for a
/// finding outside the scope).
pub async fn for_finding(db: &Db, finding_id: i64) -> Result<Vec<Disposition>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM dispositions p LEFT JOIN documents d ON d.id = p.document_id \
         JOIN findings f ON f.id = p.finding_id JOIN sites s ON s.id = f.site_id \
         WHERE p.finding_id = $1 AND {} AND {} ORDER BY p.decided_on, p.id",
        db.township_filter("p.township_id"),
        db.village_filter("s.village_id")
    )))
    .bind(finding_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

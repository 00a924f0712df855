//! 隐患整改台账: every hidden danger found at the township's sites, with its
//! site, village and inspection, as the API lists it and as the office keeps
//! it in Excel (one row per finding, the same records).

use std::collections::HashMap;

use rust_xlsxwriter::XlsxError;
use serde::{Deserialize, Serialize};

use super::inspections::Grade;
use crate::store::{Db, Result, Sql};
use crate::workbook::{Cell, Heading};

/// Which findings a list holds, by where they stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// 整改中 (late ones too).
    Open,
    /// 已整改, awaiting re-inspection.
    Rectified,
    /// 已销号.
    Closed,
    /// 整改中 past the deadline.
    Overdue,
}

#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<StatusFilter>,
    pub grade: Option<Grade>,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    site_id: i64,
    site_name: String,
    village_id: Option<i64>,
    inspection_id: i64,
    inspected_on: String,
    inspectors: String,
    grade: String,
    item: String,
    description: Option<String>,
    measures: Option<String>,
    funding: Option<String>,
    responsible: Option<String>,
    deadline: String,
    reinspector: Option<String>,
    status: String,
    rectified_on: Option<String>,
    closed_on: Option<String>,
    closed_by: Option<String>,
}

const COLS: &str = "f.id, f.site_id, s.name AS site_name, s.village_id, f.inspection_id, i.inspected_on, \
    i.inspectors, f.grade, f.item, f.description, f.measures, f.funding, f.responsible, f.deadline, \
    f.reinspector, f.status, f.rectified_on, f.closed_on, f.closed_by";

const FROM: &str =
    "findings f JOIN sites s ON s.id = f.site_id JOIN inspections i ON i.id = f.inspection_id";

/// One line of the 隐患整改台账.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LedgerFinding {
    pub id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub village_id: Option<i64>,
    /// The site's village (none: a site of no village).
    pub village: Option<String>,
    pub inspection_id: i64,
    pub inspected_on: String,
    pub inspectors: Vec<String>,
    /// general or major.
    pub grade: String,
    /// 一般 or 重大.
    pub grade_label: &'static str,
    pub item: String,
    pub description: Option<String>,
    pub measures: Option<String>,
    pub funding: Option<String>,
    pub responsible: Option<String>,
    pub deadline: String,
    pub reinspector: Option<String>,
    /// open, rectified or closed.
    pub status: String,
    /// Still open past its deadline.
    pub overdue: bool,
    /// 整改中 / 已整改 / 已销号, “（逾期）” after a late open one.
    pub status_label: String,
    pub rectified_on: Option<String>,
    pub closed_on: Option<String>,
    pub closed_by: Option<String>,
}

pub fn grade_label(g: &str) -> &'static str {
    match g {
        "major" => "重大",
        _ => "一般",
    }
}

fn status_label(status: &str, overdue: bool) -> String {
    let s = match status {
        "rectified" => "已整改",
        "closed" => "已销号",
        _ => "整改中",
    };
    if overdue {
        format!("{s}（逾期）")
    } else {
        s.to_string()
    }
}

/// The findings the handle's scope covers (a village scope: its sites'),
/// oldest inspection first, and how many match in all.
pub async fn list(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
    tz: chrono_tz::Tz,
) -> Result<(Vec<LedgerFinding>, i64)> {
    let today = crate::time::today(tz).to_string();
    let mut w = Sql::new(&format!(
        " WHERE {} AND {}",
        db.township_filter("f.township_id"),
        db.village_filter("s.village_id")
    ));
    match f.status {
        Some(StatusFilter::Open) => {
            w.push(" AND f.status = 'open'");
        }
        Some(StatusFilter::Rectified) => {
            w.push(" AND f.status = 'rectified'");
        }
        Some(StatusFilter::Closed) => {
            w.push(" AND f.status = 'closed'");
        }
        Some(StatusFilter::Overdue) => {
            w.push(" AND f.status = 'open' AND f.deadline < ")
                .bind(today.clone());
        }
        None => {}
    }
    if let Some(g) = f.grade {
        w.push(" AND f.grade = ").bind(g.as_str());
    }
    let (rows, total): (Vec<Row>, i64) = w
        .page_with_total(db, COLS, FROM, "i.inspected_on, f.id", limit, offset)
        .await?;
    let villages = crate::registry::villages::names(db).await?;
    Ok((
        rows.into_iter()
            .map(|r| view(r, &villages, &today))
            .collect(),
        total,
    ))
}

fn view(r: Row, villages: &HashMap<i64, String>, today: &str) -> LedgerFinding {
    let overdue = r.status == "open" && r.deadline.as_str() < today;
    LedgerFinding {
        id: r.id,
        site_id: r.site_id,
        site_name: r.site_name,
        village: r.village_id.and_then(|v| villages.get(&v).cloned()),
        village_id: r.village_id,
        inspection_id: r.inspection_id,
        inspected_on: r.inspected_on,
        inspectors: serde_json::from_str(&r.inspectors).unwrap_or_default(),
        grade_label: grade_label(&r.grade),
        grade: r.grade,
        item: r.item,
        description: r.description,
        measures: r.measures,
        funding: r.funding,
        responsible: r.responsible,
        deadline: r.deadline,
        reinspector: r.reinspector,
        status_label: status_label(&r.status, overdue),
        status: r.status,
        overdue,
        rectified_on: r.rectified_on,
        closed_on: r.closed_on,
        closed_by: r.closed_by,
    }
}

pub const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("单位名称", 24.0),
    ("所属村", 10.0),
    ("检查日期", 12.0),
    ("检查人员", 16.0),
    ("隐患内容", 36.0),
    ("等级", 6.0),
    ("整改措施", 30.0),
    ("资金", 12.0),
    ("责任人", 10.0),
    ("整改期限", 12.0),
    ("复查人", 10.0),
    ("状态", 14.0),
    ("整改日期", 12.0),
    ("销号日期", 12.0),
    ("销号人", 10.0),
];

/// 隐患内容 as one cell: the item, then its description.
pub fn content(f: &LedgerFinding) -> String {
    match f.description.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => format!("{}：{d}", f.item),
        _ => f.item.clone(),
    }
}

/// One finding's row, in the columns' order.
pub fn row(i: usize, f: &LedgerFinding) -> Vec<Cell> {
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&f.site_name),
        Cell::opt(&f.village),
        Cell::date(&Some(f.inspected_on.clone())),
        Cell::text(f.inspectors.join("、")),
        Cell::text(content(f)),
        Cell::text(f.grade_label),
        Cell::opt(&f.measures),
        Cell::opt(&f.funding),
        Cell::opt(&f.responsible),
        Cell::date(&Some(f.deadline.clone())),
        Cell::opt(&f.reinspector),
        Cell::text(&f.status_label),
        Cell::date(&f.rectified_on),
        Cell::date(&f.closed_on),
        Cell::opt(&f.closed_by),
    ]
}

pub fn workbook(h: &Heading, findings: &[LedgerFinding]) -> Result<Vec<u8>, XlsxError> {
    let rows = findings
        .iter()
        .enumerate()
        .map(|(i, f)| row(i, f))
        .collect();
    h.workbook("隐患整改台账", "条", COLUMNS, rows, 2)
}

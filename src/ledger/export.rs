//! The site ledger (台账) as the office keeps it in Excel: one row per site
//! with its licence and what it holds, Chinese headers, dates as dates,
//! widths set, a title row with the office and who exported it when.

use rust_xlsxwriter::XlsxError;

use crate::workbook::{self, Cell, Sheet};

use super::sites::{InventoryLine, Site};

const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("单位名称", 26.0),
    ("类型", 14.0),
    ("统一社会信用代码", 21.0),
    ("所属村", 10.0),
    ("地址", 24.0),
    ("法定代表人", 10.0),
    ("安全负责人", 10.0),
    ("安全负责人电话", 15.0),
    ("24小时值班电话", 15.0),
    ("许可证号", 22.0),
    ("许可种类", 16.0),
    ("发证机关", 16.0),
    ("发证日期", 12.0),
    ("有效期至", 12.0),
    ("核定储存量", 10.0),
    ("单位", 6.0),
    ("储存品种及最大储存量", 36.0),
    ("风险等级", 8.0),
    ("状态", 8.0),
    ("备注", 24.0),
    ("经度", 11.0),
    ("纬度", 11.0),
];

/// The column headers, in order (the tests read them back).
pub fn headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.0).collect()
}

pub fn grade_zh(g: &str) -> &'static str {
    match g {
        "major" => "重大",
        "significant" => "较大",
        "general" => "一般",
        "low" => "低",
        _ => "",
    }
}

pub fn status_zh(s: &str) -> &'static str {
    match s {
        "active" => "在营",
        "suspended" => "停业整顿",
        "closed" => "已关闭",
        _ => "",
    }
}

/// One row of the ledger, in the columns' order.
pub fn site_row(i: usize, s: &Site, village: &str) -> Vec<Cell> {
    let phone = |p: &Option<String>| Cell::opt(&p.as_deref().map(crate::phone::dialled));
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&s.name),
        Cell::text(s.kind_label),
        Cell::opt(&s.credit_code),
        Cell::text(village),
        Cell::opt(&s.address),
        Cell::opt(&s.legal_representative),
        Cell::opt(&s.safety_officer),
        phone(&s.safety_officer_phone),
        phone(&s.phone_24h),
        Cell::opt(&s.licence.number),
        Cell::opt(&s.licence.kind),
        Cell::opt(&s.licence.issuer),
        Cell::date(&s.licence.issued_on),
        Cell::date(&s.licence.expires_on),
        Cell::opt_num(s.max_stock),
        Cell::opt(&s.max_stock_unit),
        Cell::text(inventory_text(&s.inventory)),
        Cell::text(grade_zh(&s.risk_grade)),
        Cell::text(status_zh(&s.status)),
        Cell::opt(&s.note),
        Cell::opt_num(s.location.as_ref().map(|l| l.lon)),
        Cell::opt_num(s.location.as_ref().map(|l| l.lat)),
    ]
}

/// The inventory in one cell, as the import reads it back: each line
/// “品名 [CAS号] [UN号] 数量单位”, lines joined with “；”.
pub fn inventory_text(lines: &[InventoryLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let mut t = l.chemical.clone();
            for extra in [&l.cas, &l.un_number].into_iter().flatten() {
                t.push(' ');
                t.push_str(extra);
            }
            format!("{t} {}{}", l.max_quantity, l.unit)
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// The workbook: `villages` names each site's village.
pub fn sites_workbook(
    office: &str,
    sites: &[Site],
    villages: &std::collections::HashMap<i64, String>,
    by: &str,
    at: &str,
) -> Result<Vec<u8>, XlsxError> {
    let rows = sites
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let village = s
                .village_id
                .and_then(|v| villages.get(&v).map(String::as_str))
                .unwrap_or_default();
            site_row(i, s, village)
        })
        .collect();
    workbook::write(&[Sheet {
        name: "台账".into(),
        title: format!("{office} 危险化学品和烟花爆竹经营单位台账"),
        subtitle: workbook::exported_line(by, at, sites.len(), "家"),
        columns: workbook::cols(COLUMNS),
        rows,
        frozen_columns: 2,
    }])
}

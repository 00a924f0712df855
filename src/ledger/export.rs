//! The site ledger (台账) as the office keeps it in Excel: one row per site
//! with its licence and what it holds, Chinese headers, dates as dates,
//! widths set, a title row with the office and who exported it when.

use chrono::NaiveDate;
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, XlsxError};

use super::sites::Site;

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
];

/// The column headers, in order (the tests read them back).
pub fn headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.0).collect()
}

fn grade_zh(g: &str) -> &'static str {
    match g {
        "major" => "重大",
        "significant" => "较大",
        "general" => "一般",
        "low" => "低",
        _ => "",
    }
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "active" => "在营",
        "suspended" => "停业整顿",
        "closed" => "已关闭",
        _ => "",
    }
}

fn date(s: &Option<String>) -> Option<ExcelDateTime> {
    let d = NaiveDate::parse_from_str(s.as_deref()?, "%Y-%m-%d").ok()?;
    use chrono::Datelike;
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).ok()
}

/// The workbook: `villages` names each site's village.
pub fn sites_workbook(
    office: &str,
    sites: &[Site],
    villages: &std::collections::HashMap<i64, String>,
    by: &str,
    at: &str,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("台账")?;
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let day = Format::new()
        .set_num_format("yyyy-mm-dd")
        .set_border(FormatBorder::Thin);
    ws.write_string_with_format(
        0,
        0,
        format!("{office} 危险化学品和烟花爆竹经营单位台账"),
        &Format::new().set_bold().set_font_size(14),
    )?;
    ws.write_string(1, 0, format!("导出：{by} {at}，共{}家", sites.len()))?;
    for (c, (name, width)) in COLUMNS.iter().enumerate() {
        ws.set_column_width(c as u16, *width)?;
        ws.write_string_with_format(3, c as u16, *name, &head)?;
    }
    for (i, s) in sites.iter().enumerate() {
        let r = 4 + i as u32;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let held: Vec<String> = s
            .inventory
            .iter()
            .map(|l| format!("{} {}{}", l.chemical, l.max_quantity, l.unit))
            .collect();
        ws.write_number_with_format(r, 0, (i + 1) as f64, &cell)?;
        let strings: [(u16, String); 12] = [
            (1, s.name.clone()),
            (2, s.kind_label.to_string()),
            (3, text(&s.credit_code)),
            (
                4,
                s.village_id
                    .and_then(|v| villages.get(&v).cloned())
                    .unwrap_or_default(),
            ),
            (5, text(&s.address)),
            (6, text(&s.legal_representative)),
            (7, text(&s.safety_officer)),
            (
                8,
                s.safety_officer_phone
                    .as_deref()
                    .map(crate::phone::dialled)
                    .unwrap_or_default(),
            ),
            (
                9,
                s.phone_24h
                    .as_deref()
                    .map(crate::phone::dialled)
                    .unwrap_or_default(),
            ),
            (10, text(&s.licence.number)),
            (11, text(&s.licence.kind)),
            (12, text(&s.licence.issuer)),
        ];
        for (c, v) in strings {
            ws.write_string_with_format(r, c, v, &cell)?;
        }
        for (c, d) in [(13u16, &s.licence.issued_on), (14, &s.licence.expires_on)] {
            match date(d) {
                Some(d) => ws.write_datetime_with_format(r, c, &d, &day)?,
                None => ws.write_blank(r, c, &cell)?,
            };
        }
        match s.max_stock {
            Some(q) => ws.write_number_with_format(r, 15, q, &cell)?,
            None => ws.write_blank(r, 15, &cell)?,
        };
        ws.write_string_with_format(r, 16, text(&s.max_stock_unit), &cell)?;
        ws.write_string_with_format(r, 17, held.join("；"), &cell)?;
        ws.write_string_with_format(r, 18, grade_zh(&s.risk_grade), &cell)?;
        ws.write_string_with_format(r, 19, status_zh(&s.status), &cell)?;
        ws.write_string_with_format(r, 20, text(&s.note), &cell)?;
    }
    ws.set_freeze_panes(4, 2)?;
    wb.save_to_buffer()
}

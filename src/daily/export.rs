//! One day's reports as `.xlsx` (`crate::workbook`): a row per village with
//! the person asked, what they answered and when, and whether they were
//! chased; the text for the county below the table's title.

use rust_xlsxwriter::XlsxError;

use crate::workbook::{self, Cell, Sheet};

use super::Round;

const COLUMNS: &[(&str, f64)] = &[
    ("村", 12.0),
    ("值班人", 10.0),
    ("电话", 15.0),
    ("报告时间", 17.0),
    ("内容", 40.0),
    ("类型", 10.0),
    ("是否催报", 9.0),
];

/// The column headers, in order (the tests read them back).
pub fn headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.0).collect()
}

/// The workbook's bytes; `by` and `at` say who exported it when.
pub fn workbook(
    round: &Round,
    tz: chrono_tz::Tz,
    by: &str,
    at: &str,
) -> Result<Vec<u8>, XlsxError> {
    let date = chrono::NaiveDate::parse_from_str(&round.line.day, "%Y-%m-%d")
        .map(|d| d.format("%Y年%-m月%-d日").to_string())
        .unwrap_or_else(|_| round.line.day.clone());
    let rows = round
        .answers
        .iter()
        .zip(&round.answers_ms)
        .map(|(a, ms)| {
            let mut who = a
                .contact_name
                .clone()
                .unwrap_or_else(|| "（无联系人）".into());
            if a.fallback
                && let Some(r) = &a.role
            {
                who.push_str(&format!("（{r}）"));
            }
            vec![
                Cell::text(&a.village),
                Cell::text(who),
                Cell::opt(&a.phone.as_deref().map(crate::phone::dialled)),
                Cell::at_ms(*ms, tz),
                Cell::opt(&a.reply),
                Cell::text(&a.kind_zh),
                Cell::text(if a.chased { "是" } else { "否" }),
            ]
        })
        .collect::<Vec<_>>();
    let sheet = Sheet {
        name: "汛情日报".into(),
        title: format!("〔{}〕{date}汛情日报（值班报告）", round.township),
        subtitle: format!(
            "{}　{}",
            workbook::exported_line(by, at, rows.len(), "个村"),
            round.summary_text
        ),
        columns: workbook::cols(COLUMNS),
        rows,
        frozen_columns: 1,
    };
    workbook::write(&[sheet])
}

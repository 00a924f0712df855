//! The office's tables as Excel workbooks, the one shape every export takes:
//! a bold title row naming the township and the list, a second row with who
//! exported it and when, the Chinese column headers on row 4 (frozen), then
//! one row per record with dates as Excel dates and numbers as numbers.
//! A domain module says what its columns are and what goes in each cell;
//! this module says how a cell is written.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, XlsxError};

/// The row (0-based) that holds the column headers; records start below it.
pub const HEADER_ROW: u32 = 3;

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    /// A local (wall-clock) time in the office's zone.
    DateTime(NaiveDateTime),
    Blank,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }
    /// Text, or a blank cell for nothing.
    pub fn opt(s: &Option<String>) -> Cell {
        match s.as_deref().map(str::trim) {
            Some(v) if !v.is_empty() => Cell::Text(v.to_string()),
            _ => Cell::Blank,
        }
    }
    pub fn num(n: impl Into<f64>) -> Cell {
        Cell::Number(n.into())
    }
    pub fn opt_num(n: Option<f64>) -> Cell {
        n.map_or(Cell::Blank, Cell::Number)
    }
    /// A `YYYY-MM-DD` date; anything else is kept as the text it is.
    pub fn date(s: &Option<String>) -> Cell {
        match s.as_deref() {
            None | Some("") => Cell::Blank,
            Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Cell::Date)
                .unwrap_or_else(|_| Cell::Text(v.to_string())),
        }
    }
    /// A time as the API shows it (RFC 3339 with the office's offset), at
    /// its wall-clock time there.
    pub fn local(s: &Option<String>) -> Cell {
        s.as_deref()
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
            .map_or(Cell::Blank, |t| Cell::DateTime(t.naive_local()))
    }
    /// A stored UTC instant (milliseconds) shown in the office's zone.
    pub fn at_ms(ms: Option<i64>, tz: chrono_tz::Tz) -> Cell {
        ms.and_then(|ms| chrono::Utc.timestamp_millis_opt(ms).single())
            .map_or(Cell::Blank, |t| {
                Cell::DateTime(t.with_timezone(&tz).naive_local())
            })
    }
}

/// A column: its Chinese header and width (in characters).
pub struct Column {
    pub header: String,
    pub width: f64,
}

/// `cols(&[("序号", 6.0), ...])`.
pub fn cols(spec: &[(&str, f64)]) -> Vec<Column> {
    spec.iter()
        .map(|(header, width)| Column {
            header: header.to_string(),
            width: *width,
        })
        .collect()
}

/// One worksheet of a workbook.
pub struct Sheet {
    /// The tab's name (at most 31 characters).
    pub name: String,
    /// Row 1: "〔township〕 隐患整改台账".
    pub title: String,
    /// Row 2: who exported it, when, how many.
    pub subtitle: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Columns kept in view when scrolling right (the number and the name).
    pub frozen_columns: u16,
}

/// The second row every export carries.
pub fn exported_line(by: &str, at: &str, count: usize, unit: &str) -> String {
    format!("导出：{by} {at}，共{count}{unit}")
}

/// Whose list it is and who exported it when: the first two rows of
/// every export.
pub struct Heading {
    /// The township office's name (`office_name`).
    pub office: String,
    pub by: String,
    /// The export time as the office writes it (7月1日8时30分).
    pub at: String,
}

impl Heading {
    /// Exported now by `by` for `office`, the time in `tz`.
    pub fn now(office: &str, by: &str, tz: chrono_tz::Tz) -> Heading {
        Heading {
            office: office.to_string(),
            by: by.to_string(),
            at: crate::transfer::board::zh_time(crate::store::now_ms(), tz),
        }
    }

    /// A workbook of one sheet: “〔office〕 `list`”, the exported-by line
    /// counting the rows in `unit`, then `columns` and `rows`.
    pub fn workbook(
        &self,
        list: &str,
        unit: &str,
        columns: &[(&str, f64)],
        rows: Vec<Vec<Cell>>,
        frozen_columns: u16,
    ) -> Result<Vec<u8>, XlsxError> {
        write(&[Sheet {
            name: list.chars().take(31).collect(),
            title: format!("{} {list}", self.office),
            subtitle: exported_line(&self.by, &self.at, rows.len(), unit),
            columns: cols(columns),
            rows,
            frozen_columns,
        }])
    }
}

/// The header texts of a column list, in order (the tests read them back).
pub fn headers(columns: &[(&'static str, f64)]) -> Vec<&'static str> {
    columns.iter().map(|c| c.0).collect()
}

/// Minutes (one decimal) from milliseconds, as a 用时 column shows them.
pub fn minutes(ms: i64) -> f64 {
    (ms as f64 / 6_000.0).round() / 10.0
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

fn excel_datetime(t: NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    excel_date(t.date())?.and_hms(t.hour() as u16, t.minute() as u8, t.second())
}

/// The workbook's bytes, one tab per sheet.
pub fn write(sheets: &[Sheet]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let title = Format::new().set_bold().set_font_size(14);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let day = Format::new()
        .set_num_format("yyyy-mm-dd")
        .set_border(FormatBorder::Thin);
    let minute = Format::new()
        .set_num_format("yyyy-mm-dd hh:mm")
        .set_border(FormatBorder::Thin);
    for sheet in sheets {
        // Rows go out in order, so each is written to a temporary file as it
        // comes (shared strings kept): a large ledger is not held cell by
        // cell until the save.
        let ws = wb.add_worksheet_with_low_memory()?;
        ws.set_name(&sheet.name)?;
        ws.write_string_with_format(0, 0, &sheet.title, &title)?;
        ws.write_string(1, 0, &sheet.subtitle)?;
        for (c, col) in sheet.columns.iter().enumerate() {
            ws.set_column_width(c as u16, col.width)?;
            ws.write_string_with_format(HEADER_ROW, c as u16, &col.header, &head)?;
        }
        for (i, row) in sheet.rows.iter().enumerate() {
            let r = HEADER_ROW + 1 + i as u32;
            for (c, v) in row.iter().enumerate() {
                let c = c as u16;
                match v {
                    Cell::Text(s) => ws.write_string_with_format(r, c, s, &cell)?,
                    Cell::Number(n) => ws.write_number_with_format(r, c, *n, &cell)?,
                    Cell::Date(d) => ws.write_datetime_with_format(r, c, excel_date(*d)?, &day)?,
                    Cell::DateTime(t) => {
                        ws.write_datetime_with_format(r, c, excel_datetime(*t)?, &minute)?
                    }
                    Cell::Blank => ws.write_blank(r, c, &cell)?,
                };
            }
        }
        ws.set_freeze_panes(HEADER_ROW + 1, sheet.frozen_columns)?;
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_from_stored_values() {
        assert_eq!(
            Cell::date(&Some("2026-07-01".into())),
            Cell::Date(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap())
        );
        assert_eq!(Cell::date(&Some("七月".into())), Cell::text("七月"));
        assert_eq!(Cell::date(&None), Cell::Blank);
        assert_eq!(Cell::opt(&Some("  ".into())), Cell::Blank);
        // 2026-07-01 00:30 UTC is 08:30 in Shanghai.
        let ms = chrono::Utc
            .with_ymd_and_hms(2026, 7, 1, 0, 30, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            Cell::at_ms(Some(ms), chrono_tz::Asia::Shanghai),
            Cell::DateTime(
                NaiveDate::from_ymd_opt(2026, 7, 1)
                    .unwrap()
                    .and_hms_opt(8, 30, 0)
                    .unwrap()
            )
        );
    }
}

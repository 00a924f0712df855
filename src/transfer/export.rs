//! An incident's transfer table as an `.xlsx` workbook: a title row with
//! the township, the incident and when it was exported and by whom;
//! Chinese column headers; times as Excel date-times; a totals row; the
//! upward report text below. The same figures as the board.

use chrono::{Datelike, TimeZone, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::board::Table;

/// What the export is of and for whom.
pub struct Heading<'a> {
    pub township: &'a str,
    pub incident: &'a str,
    pub exported_by: &'a str,
    pub exported_at_ms: i64,
    pub upward: &'a str,
}

const HEADERS: &[(&str, f64)] = &[
    ("村", 10.0),
    ("危险区", 18.0),
    ("类型", 11.0),
    ("指令", 9.0),
    ("下令时间", 17.0),
    ("首报时间", 17.0),
    ("应转移户数", 10.0),
    ("应转移人数", 10.0),
    ("其中老弱病残孕等", 14.0),
    ("已转移户数", 10.0),
    ("已转移人数", 10.0),
    ("集中安置人数", 12.0),
    ("拒绝转移户数", 12.0),
    ("拒绝转移人数", 12.0),
    ("外出人数", 9.0),
    ("未报告人数", 10.0),
    ("已返回人数", 10.0),
];

fn local(ms: i64, tz: chrono_tz::Tz) -> Option<ExcelDateTime> {
    let t = chrono::Utc
        .timestamp_millis_opt(ms)
        .single()?
        .with_timezone(&tz);
    ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)
        .and_then(|d| d.and_hms(t.hour() as u16, t.minute() as u8, t.second()))
        .ok()
}

fn local_str(s: &Option<String>, tz: chrono_tz::Tz) -> Option<ExcelDateTime> {
    let t = chrono::DateTime::parse_from_rfc3339(s.as_deref()?).ok()?;
    local(t.timestamp_millis(), tz)
}

/// The workbook's bytes.
pub fn table_xlsx(t: &Table, h: &Heading, tz: chrono_tz::Tz) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("转移统计")?;
    let title = Format::new().set_bold().set_font_size(14);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let time = Format::new()
        .set_num_format("yyyy-mm-dd hh:mm")
        .set_border(FormatBorder::Thin);
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    ws.write_string_with_format(
        0,
        0,
        format!("{} {} 危险区群众转移统计表", h.township, h.incident),
        &title,
    )?;
    ws.write_string(
        1,
        0,
        format!(
            "导出：{} {}（统计于 {}）",
            h.exported_by,
            super::board::zh_time(h.exported_at_ms, tz),
            super::board::zh_time(t.counted_at_ms, tz)
        ),
    )?;
    for (c, (name, width)) in HEADERS.iter().enumerate() {
        let c = c as u16;
        ws.set_column_width(c, *width)?;
        ws.write_string_with_format(3, c, *name, &head)?;
    }
    let mut row = 4u32;
    for r in &t.rows {
        ws.write_string_with_format(row, 0, &r.village, &cell)?;
        ws.write_string_with_format(row, 1, &r.zone, &cell)?;
        ws.write_string_with_format(row, 2, r.kind, &cell)?;
        ws.write_string_with_format(row, 3, r.stage, &cell)?;
        match local(r.ordered_at_ms, tz) {
            Some(d) => ws.write_datetime_with_format(row, 4, &d, &time)?,
            None => ws.write_blank(row, 4, &cell)?,
        };
        match local_str(&r.first_report_at, tz) {
            Some(d) => ws.write_datetime_with_format(row, 5, &d, &time)?,
            None => ws.write_string_with_format(row, 5, "未报告", &cell)?,
        };
        let numbers = [
            r.planned.households,
            r.planned.persons,
            r.vulnerable,
            r.moved.households,
            r.moved.persons,
            r.at_shelters,
            r.refused.households,
            r.refused.persons,
            r.away.persons,
            r.unknown.persons,
        ];
        for (i, n) in numbers.iter().enumerate() {
            ws.write_number_with_format(row, 6 + i as u16, *n as f64, &cell)?;
        }
        match r.returned {
            Some(n) => ws.write_number_with_format(row, 16, n as f64, &cell)?,
            None => ws.write_blank(row, 16, &cell)?,
        };
        row += 1;
    }
    let f = &t.totals;
    ws.write_string_with_format(row, 0, "合计", &bold)?;
    for c in 1..6u16 {
        ws.write_blank(row, c, &bold)?;
    }
    let totals = [
        f.planned.households,
        f.planned.persons,
        f.vulnerable,
        f.moved.households,
        f.moved.persons,
        f.at_shelters.persons,
        f.refused.households,
        f.refused.persons,
        f.away.persons,
        f.unknown.persons,
        t.returned,
    ];
    for (i, n) in totals.iter().enumerate() {
        ws.write_number_with_format(row, 6 + i as u16, *n as f64, &bold)?;
    }
    ws.write_string(row + 2, 0, h.upward)?;
    ws.set_freeze_panes(4, 0)?;
    wb.save_to_buffer()
}

/// An incident's table as a workbook, headed with the office, the incident
/// and who exported it when.
pub fn incident_workbook(
    t: &Table,
    office: &str,
    incident: i64,
    by: &str,
    upward: &str,
    tz: chrono_tz::Tz,
) -> Result<Vec<u8>, XlsxError> {
    let heading = Heading {
        township: office,
        incident: &format!("事件#{incident}"),
        exported_by: by,
        exported_at_ms: crate::store::now_ms(),
        upward,
    };
    table_xlsx(t, &heading, tz)
}

/// One household as its zone's list exports it.
pub struct HouseholdLine<'a> {
    pub head: &'a str,
    pub members: i64,
    pub vulnerable: String,
    pub phone: String,
    pub cadre: &'a str,
    pub address: &'a str,
    pub note: &'a str,
}

/// A zone's households (转移对象名单) as a workbook. Personal data: the
/// title row says who exported it and when, so a copy that travels says
/// where it came from.
pub fn households_workbook(
    office: &str,
    zone: &str,
    rows: &[HouseholdLine],
    by: &str,
    tz: chrono_tz::Tz,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("转移对象名单")?;
    let head = Format::new().set_bold().set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    ws.write_string_with_format(
        0,
        0,
        format!("{office} {zone} 转移对象名单"),
        &Format::new().set_bold().set_font_size(14),
    )?;
    ws.write_string(
        1,
        0,
        format!(
            "导出：{by} {}（含个人信息，仅限防汛防台工作使用，不得外传）",
            super::board::zh_time(crate::store::now_ms(), tz)
        ),
    )?;
    for (c, (name, width)) in [
        ("户主", 10.0),
        ("人数", 6.0),
        ("老弱病残孕、留守儿童", 18.0),
        ("电话", 15.0),
        ("包户干部", 14.0),
        ("住址", 22.0),
        ("备注", 24.0),
    ]
    .iter()
    .enumerate()
    {
        ws.set_column_width(c as u16, *width)?;
        ws.write_string_with_format(3, c as u16, *name, &head)?;
    }
    for (i, h) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        ws.write_string_with_format(r, 0, h.head, &cell)?;
        ws.write_number_with_format(r, 1, h.members as f64, &cell)?;
        ws.write_string_with_format(r, 2, &h.vulnerable, &cell)?;
        ws.write_string_with_format(r, 3, &h.phone, &cell)?;
        ws.write_string_with_format(r, 4, h.cadre, &cell)?;
        ws.write_string_with_format(r, 5, h.address, &cell)?;
        ws.write_string_with_format(r, 6, h.note, &cell)?;
    }
    ws.set_freeze_panes(4, 0)?;
    wb.save_to_buffer()
}

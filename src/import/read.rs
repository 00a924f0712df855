//! A spreadsheet as rows of text: `.xlsx`, `.xls` and `.ods` through
//! calamine (the first sheet), `.csv` through the csv crate. Cells come out
//! as the office typed them: a whole number without ".0" (a phone number
//! Excel stored as a number), a date as `YYYY-MM-DD`.

use std::io::Cursor;

use calamine::{Data, Reader};

use super::ImportError;

/// One spreadsheet row: its number as the spreadsheet shows it (from 1) and
/// its cells, trimmed.
#[derive(Debug, Clone)]
pub struct Line {
    pub number: u32,
    pub cells: Vec<String>,
}

impl Line {
    fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.is_empty())
    }
}

/// The file's rows, blank ones left out.
pub fn lines(file_name: &str, bytes: &[u8]) -> Result<Vec<Line>, ImportError> {
    let lower = file_name.to_lowercase();
    let zipped = bytes.starts_with(b"PK\x03\x04");
    let ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let lines = if lower.ends_with(".csv") || lower.ends_with(".txt") || !(zipped || ole) {
        csv_lines(bytes)?
    } else {
        sheet_lines(bytes)?
    };
    Ok(lines.into_iter().filter(|l| !l.is_blank()).collect())
}

fn sheet_lines(bytes: &[u8]) -> Result<Vec<Line>, ImportError> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| ImportError::Unreadable(format!("无法读取工作簿：{e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| ImportError::Unreadable("工作簿中没有工作表".into()))?
        .map_err(|e| ImportError::Unreadable(format!("无法读取第一个工作表：{e}")))?;
    let first_row = range.start().map_or(0, |(r, _)| r);
    let first_col = range.start().map_or(0, |(_, c)| c) as usize;
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let mut cells = vec![String::new(); first_col];
            cells.extend(row.iter().map(cell_text));
            Line {
                number: first_row + i as u32 + 1,
                cells,
            }
        })
        .collect())
}

/// A cell as text: whole numbers without a decimal point, dates as dates.
pub fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(t) => match t.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.format("%Y-%m-%d").to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M").to_string(),
            None => number_text(t.as_f64()),
        },
        Data::Error(_) | Data::Empty => String::new(),
    }
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn csv_lines(bytes: &[u8]) -> Result<Vec<Line>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(ImportError::Unreadable(
            "CSV 文件不是 UTF-8 编码：请在 Excel 中“另存为”选择“CSV UTF-8（逗号分隔）”，或直接上传 .xlsx".into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec =
            rec.map_err(|e| ImportError::Unreadable(format!("CSV 第{}行无法读取：{e}", i + 1)))?;
        let number = rec.position().map_or(i as u32 + 1, |p| p.line() as u32);
        out.push(Line {
            number,
            cells: rec.iter().map(|c| c.trim().to_string()).collect(),
        });
    }
    Ok(out)
}

/// A header as written, compared without spaces, the required mark (*)
/// or a note in brackets: “单位名称*”, “ 电话（手机）” → “单位名称”, “电话”.
pub fn header_key(h: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in h.chars() {
        match c {
            '(' | '（' => depth += 1,
            ')' | '）' => depth -= 1,
            '*' | '＊' => {}
            c if c.is_whitespace() => {}
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_quotes_and_blank_rows() {
        let text = "\u{feff}单位名称*,地址\n\"甲,乙公司\",\"两行\n地址\"\n,\n丙, 丁 \n";
        let l = lines("a.csv", text.as_bytes()).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].cells, ["单位名称*", "地址"]);
        assert_eq!(l[1].cells, ["甲,乙公司", "两行\n地址"]);
        assert_eq!(l[2].cells, ["丙", "丁"]);
        assert_eq!(l[2].number, 5);
    }

    #[test]
    fn gbk_csv_is_refused_in_words() {
        let gbk = [0xB5u8, 0xA5, 0xCE, 0xBB, b'\n'];
        let e = lines("a.csv", &gbk).unwrap_err();
        assert!(e.to_string().contains("UTF-8"));
    }

    #[test]
    fn headers_compare_plainly() {
        assert_eq!(header_key("单位名称*"), "单位名称");
        assert_eq!(header_key(" 电话（手机） "), "电话");
        assert_eq!(header_key("24小时值班电话"), "24小时值班电话");
    }

    #[test]
    fn numbers_as_typed() {
        assert_eq!(cell_text(&Data::Float(13959512468.0)), "13959512468");
        assert_eq!(cell_text(&Data::Float(2.5)), "2.5");
    }
}

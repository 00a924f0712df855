//! A kind's columns, the file's header row found among its first rows
//! (an exported workbook has a title above its headers), and each data row
//! as the fields its cells give.

use std::collections::HashMap;

use super::read::{Line, header_key};
use super::{ImportError, Problem};
use crate::workbook::{self, Cell, Sheet};

/// A column an import understands.
pub struct Col {
    /// The field it fills (the kind's module asks by this).
    pub field: &'static str,
    /// Its header in the template (and the exports).
    pub header: &'static str,
    /// Other headers offices write for it.
    pub aliases: &'static [&'static str],
    pub required: bool,
    /// What it takes, for the template's notes.
    pub note: &'static str,
    /// The template's example.
    pub example: &'static str,
}

/// The rows above the headers an import looks through.
const HEADER_SEARCH_ROWS: usize = 10;

/// The file's layout.
pub struct Table {
    pub header_row: u32,
    /// Column index → the field it fills.
    fields: Vec<(usize, &'static Col)>,
    pub ignored: Vec<String>,
    /// Problems with the file as a whole (a required column missing).
    pub problems: Vec<Problem>,
}

/// A data row: its number and its non-empty cells by field.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u32,
    cells: HashMap<&'static str, String>,
}

impl Row {
    /// The cell of `field`, if the file has it and it is not empty.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.cells.get(field).map(String::as_str)
    }
    #[cfg(test)]
    pub fn of(number: u32, cells: &[(&'static str, &str)]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|(f, v)| (*f, v.to_string())).collect(),
        }
    }
}

fn matches(col: &Col, key: &str) -> bool {
    header_key(col.header) == key || col.aliases.iter().any(|a| header_key(a) == key)
}

impl Table {
    /// Finds the header row: the first of the first rows naming a required
    /// column. A required column missing is a problem of the file.
    pub fn find(cols: &'static [Col], lines: &[Line]) -> Result<Table, ImportError> {
        let first_required = cols.iter().filter(|c| c.required).collect::<Vec<_>>();
        let header = lines.iter().take(HEADER_SEARCH_ROWS).find(|l| {
            l.cells.iter().any(|cell| {
                let k = header_key(cell);
                first_required.iter().any(|c| matches(c, &k))
            })
        });
        let Some(header) = header else {
            let wanted: Vec<&str> = first_required.iter().map(|c| c.header).collect();
            return Err(ImportError::Unreadable(format!(
                "前{HEADER_SEARCH_ROWS}行中找不到表头：表头应包含 {}（可下载模板对照）",
                wanted.join("、")
            )));
        };
        let mut fields = Vec::new();
        let mut ignored = Vec::new();
        for (i, cell) in header.cells.iter().enumerate() {
            let k = header_key(cell);
            if k.is_empty() {
                continue;
            }
            match cols.iter().find(|c| matches(c, &k)) {
                Some(c)
                    if !fields
                        .iter()
                        .any(|(_, f): &(usize, &Col)| f.field == c.field) =>
                {
                    fields.push((i, c))
                }
                _ => ignored.push(cell.clone()),
            }
        }
        let problems = cols
            .iter()
            .filter(|c| c.required && !fields.iter().any(|(_, f)| f.field == c.field))
            .map(|c| Problem::new(header.number, c.header, "缺少必填列"))
            .collect();
        Ok(Table {
            header_row: header.number,
            fields,
            ignored,
            problems,
        })
    }

    /// The data rows below the header row.
    pub fn rows(&self, lines: &[Line]) -> Vec<Row> {
        lines
            .iter()
            .filter(|l| l.number > self.header_row)
            .map(|l| Row {
                number: l.number,
                cells: self
                    .fields
                    .iter()
                    .filter_map(|(i, c)| {
                        let v = l.cells.get(*i)?.trim();
                        (!v.is_empty()).then(|| (c.field, v.to_string()))
                    })
                    .collect(),
            })
            .collect()
    }
}

/// The header of `field` among `cols` (for a problem's column).
pub fn header(cols: &[Col], field: &str) -> &'static str {
    cols.iter()
        .find(|c| c.field == field)
        .map_or("", |c| c.header)
}

/// The import template: one sheet with the headers (required ones marked
/// *) and nothing below them, and one of notes on each column.
pub fn template(
    what: &str,
    cols: &[Col],
    office: &str,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let heads: Vec<workbook::Column> = cols
        .iter()
        .map(|c| workbook::Column {
            header: if c.required {
                format!("{}*", c.header)
            } else {
                c.header.to_string()
            },
            width: (c.header.chars().count() as f64 * 2.2 + 4.0).max(10.0),
        })
        .collect();
    workbook::write(&[
        Sheet {
            name: "导入".into(),
            title: format!("{office} {what}导入模板"),
            subtitle: "带 * 的列必填；从第5行起每行一条；表头行不要改动。说明见“填写说明”表。"
                .into(),
            columns: heads,
            rows: Vec::new(),
            frozen_columns: 1,
        },
        Sheet {
            name: "填写说明".into(),
            title: format!("{what}导入：各列填写说明"),
            subtitle: "同一文件重复导入不会重复登记；已登记的记录只按文件中非空的格更新。".into(),
            columns: workbook::cols(&[
                ("列", 22.0),
                ("必填", 6.0),
                ("填写说明", 60.0),
                ("示例", 30.0),
            ]),
            rows: cols
                .iter()
                .map(|c| {
                    vec![
                        Cell::text(c.header),
                        Cell::text(if c.required { "是" } else { "" }),
                        Cell::text(c.note),
                        Cell::text(c.example),
                    ]
                })
                .collect(),
            frozen_columns: 0,
        },
    ])
}

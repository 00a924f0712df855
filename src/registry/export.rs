//! The contacts (通讯录) as the office keeps them in Excel: one row per
//! contact of the list the API gives, with the same filters.

use std::collections::HashMap;

use rust_xlsxwriter::XlsxError;

use super::contacts::Contact;
use crate::notify::response::status::TOWNSHIP_LEVEL;
use crate::workbook::{Cell, Heading};

pub const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("姓名", 10.0),
    ("村", 12.0),
    ("职务/角色", 22.0),
    ("手机", 15.0),
    ("邮箱", 24.0),
    ("叫应顺序", 8.0),
    ("状态", 8.0),
    ("备注", 30.0),
];

/// 在用, 停用 or 已归档.
pub fn state_label(c: &Contact) -> &'static str {
    if c.archived {
        "已归档"
    } else if c.active {
        "在用"
    } else {
        "停用"
    }
}

/// The village a contact belongs to, or 乡级.
pub fn village_of(c: &Contact, villages: &HashMap<i64, String>) -> String {
    c.village_id.map_or_else(
        || TOWNSHIP_LEVEL.to_string(),
        |v| villages.get(&v).cloned().unwrap_or_default(),
    )
}

/// One contact's row, in the columns' order.
pub fn contact_row(i: usize, c: &Contact, villages: &HashMap<i64, String>) -> Vec<Cell> {
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&c.name),
        Cell::text(village_of(c, villages)),
        Cell::text(c.roles.join("、")),
        Cell::text(crate::phone::dialled(&c.phone)),
        Cell::opt(&c.email),
        Cell::num(c.escalation_order as f64),
        Cell::text(state_label(c)),
        Cell::opt(&c.note),
    ]
}

pub fn contacts_workbook(
    h: &Heading,
    contacts: &[Contact],
    villages: &HashMap<i64, String>,
) -> Result<Vec<u8>, XlsxError> {
    let rows = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| contact_row(i, c, villages))
        .collect();
    h.workbook("通讯录", "人", COLUMNS, rows, 2)
}

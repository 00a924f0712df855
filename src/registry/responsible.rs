//! 责任人名单: who answers for what, per village, as a township posts it:
//! the people holding a responsibility role in the village (村支书, 村主任,
//! 包村干部, 山洪监测员 …) and each danger zone's 监测员, 预警员 and
//! 转移责任人, and each pond or small reservoir's three responsible persons
//! (行政, 技术, 巡查责任人, kept on the ledger site). The API's list and the
//! workbook are the same rows.

use std::collections::HashMap;

use rust_xlsxwriter::XlsxError;
use serde::Serialize;

use super::contacts::{self, Contact};
use crate::notify::response::status::TOWNSHIP_LEVEL;
use crate::store::{Db, Result};
use crate::workbook::{Cell, Heading};

/// The roles that make a contact a responsible person, in the list's order.
pub const ROLES: &[&str] = &[
    "村支书",
    "村主任",
    "包村干部",
    "山洪监测员",
    "护林员",
    "网格员",
    "信息员",
];

/// One line of the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResponsiblePerson {
    /// None: township level (乡级).
    pub village_id: Option<i64>,
    pub village: String,
    /// 责任类别: the role (村支书 …), or 危险区监测员 / 危险区预警员 / 转移责任人,
    /// or 山塘行政责任人 / 山塘技术责任人 / 山塘巡查责任人.
    pub category: String,
    /// 责任区域/对象: the village, the danger zone (name and code), or the pond.
    pub area: String,
    pub zone_id: Option<i64>,
    /// The ledger site (a pond) the person answers for.
    pub site_id: Option<i64>,
    /// The contact; a pond's person is one only if a contact has that phone.
    pub contact_id: Option<i64>,
    pub name: String,
    /// 职务: every role the person holds.
    pub title: String,
    /// As dialled (139 5951 2468).
    pub phone: String,
}

fn person(
    c: &Contact,
    village: &str,
    category: &str,
    area: String,
    zone_id: Option<i64>,
) -> ResponsiblePerson {
    ResponsiblePerson {
        village_id: c.village_id,
        village: village.to_string(),
        category: category.to_string(),
        area,
        zone_id,
        site_id: None,
        contact_id: Some(c.id),
        name: c.name.clone(),
        title: c.roles.join("、"),
        phone: crate::phone::dialled(&c.phone),
    }
}

/// The list for the handle's scope (a village scope: its village), village
/// by village, township-level people last.
pub async fn list(db: &Db, tz: chrono_tz::Tz) -> Result<Vec<ResponsiblePerson>> {
    let (all, _) = contacts::list(db, &contacts::Filter::default(), 100_000, 0, tz).await?;
    let by_id: HashMap<i64, &Contact> = all.iter().map(|c| (c.id, c)).collect();
    let zones = crate::transfer::zones::list(db, &Default::default()).await?;
    let ponds = crate::ledger::sites::ponds(db).await?;
    let by_phone: HashMap<&str, &Contact> = all
        .iter()
        .filter(|c| c.active)
        .map(|c| (c.phone.as_str(), c))
        .collect();
    let mut places: Vec<(Option<i64>, String)> = crate::registry::villages::list(db, false)
        .await?
        .into_iter()
        .map(|v| (Some(v.id), v.name))
        .collect();
    places.push((None, TOWNSHIP_LEVEL.to_string()));
    let mut out = Vec::new();
    for (village_id, village) in &places {
        for role in ROLES {
            for c in all.iter().filter(|c| {
                c.active && c.village_id == *village_id && c.roles.iter().any(|r| r == role)
            }) {
                out.push(person(c, village, role, village.clone(), None));
            }
        }
        for z in zones.iter().filter(|z| Some(z.village_id) == *village_id) {
            let area = format!("{}（{}）", z.name, z.code);
            for (category, id) in [
                ("危险区监测员", z.monitor_id),
                ("危险区预警员", z.warner_id),
                ("转移责任人", z.leader_id),
            ] {
                if let Some(c) = id.and_then(|id| by_id.get(&id)) {
                    let mut p = person(c, village, category, area.clone(), Some(z.id));
                    // The zone's village, whichever village the person is of.
                    p.village_id = *village_id;
                    out.push(p);
                }
            }
        }
        for pond in ponds.iter().filter(|p| p.village_id == *village_id) {
            let area = format!("{}（山塘/小水库）", pond.name);
            for (_, category, who) in pond.pond.persons() {
                let Some(who) = who else { continue };
                let contact = by_phone.get(who.phone.as_str());
                out.push(ResponsiblePerson {
                    village_id: *village_id,
                    village: village.clone(),
                    category: category.to_string(),
                    area: area.clone(),
                    zone_id: None,
                    site_id: Some(pond.site_id),
                    contact_id: contact.map(|c| c.id),
                    name: who.name.clone(),
                    title: contact.map(|c| c.roles.join("、")).unwrap_or_default(),
                    phone: crate::phone::dialled(&who.phone),
                });
            }
        }
    }
    Ok(out)
}

pub const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("村", 12.0),
    ("责任类别", 14.0),
    ("责任区域/对象", 24.0),
    ("姓名", 10.0),
    ("职务", 22.0),
    ("联系电话", 15.0),
];

/// One person's row, in the columns' order.
pub fn row(i: usize, p: &ResponsiblePerson) -> Vec<Cell> {
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&p.village),
        Cell::text(&p.category),
        Cell::text(&p.area),
        Cell::text(&p.name),
        Cell::text(&p.title),
        Cell::text(&p.phone),
    ]
}

pub fn workbook(h: &Heading, people: &[ResponsiblePerson]) -> Result<Vec<u8>, XlsxError> {
    let rows = people.iter().enumerate().map(|(i, p)| row(i, p)).collect();
    h.workbook("责任人名单", "人次", COLUMNS, rows, 2)
}

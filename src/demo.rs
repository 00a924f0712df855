//! The sample township loaded by `fenghuo serve --demo`: 13 villages near
//! Hushang (湖上乡), ~40 contacts and ~30 ledger sites. Every record is marked
//! `sample` and named "（示例）" so it is never mistaken for a real record.

use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::auth::Actor;
use crate::ledger::inspections::{self, FindingInput, Grade, InspectionInput};
use crate::ledger::sites::{
    self, InventoryLine, Licence, Location, RiskGrade, SiteInput, SiteKind, SiteStatus,
};
use crate::registry::contacts::{self, ContactInput};
use crate::registry::villages::{self, VillageInput};
use crate::store::{Db, WriteError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("sample data could not be written: {0}")]
    Write(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<WriteError> for DemoError {
    fn from(e: WriteError) -> Self {
        DemoError::Write(match e {
            WriteError::Invalid(f) => f.to_string(),
            WriteError::NotFound => "not found".into(),
            WriteError::Conflict(m) => m,
            WriteError::Store(s) => s.to_string(),
        })
    }
}

const VILLAGES: [(&str, &str); 13] = [
    ("湖上村", "Hushang"),
    ("湖东村", "Hudong"),
    ("湖西村", "Huxi"),
    ("飞新村", "Feixin"),
    ("盛富村", "Shengfu"),
    ("上寮村", "Shangliao"),
    ("下寮村", "Xialiao"),
    ("坑头村", "Kengtou"),
    ("岭头村", "Lingtou"),
    ("溪口村", "Xikou"),
    ("石门村", "Shimen"),
    ("茶园村", "Chayuan"),
    ("后洋村", "Houyang"),
];

/// Sample 12-digit statistical division codes (统计用区划代码) of the sample
/// villages, by their index in `VILLAGES`: under the sample township code
/// 350524208 (安溪县 350524), village committees numbered from 201. Sample
/// values, like the villages.
const VILLAGE_AREA_CODES: [&str; 13] = [
    "350524208201",
    "350524208202",
    "350524208203",
    "350524208204",
    "350524208205",
    "350524208206",
    "350524208207",
    "350524208208",
    "350524208209",
    "350524208210",
    "350524208211",
    "350524208212",
    "350524208213",
];

const SURNAMES: [&str; 14] = [
    "张", "王", "李", "陈", "林", "黄", "吴", "刘", "郑", "苏", "许", "谢", "杨", "詹",
];

/// Grid cell corners: 4 columns × 4 rows, 13 cells used, ~7 km × 7 km in all.
fn cell(i: usize) -> (f64, f64, f64, f64) {
    let (w, h) = (0.0174, 0.0158);
    let (lon0, lat0) = (117.965, 25.17);
    let (col, row) = ((i % 4) as f64, (i / 4) as f64);
    (
        lon0 + col * w,
        lat0 + row * h,
        lon0 + (col + 1.0) * w,
        lat0 + (row + 1.0) * h,
    )
}

fn credit_code(seed: usize) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91350524MA{:07}", 3_100_000 + seed * 7);
    let sum: usize = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| CHARS.find(c).unwrap_or(0) * w)
        .sum();
    let check = CHARS.chars().nth((31 - sum % 31) % 31).unwrap_or('0');
    format!("{body}{check}")
}

fn chem(name: &str, cas: &str, un: &str, class: &str, qty: f64, unit: &str) -> InventoryLine {
    InventoryLine {
        chemical: name.into(),
        cas: Some(cas.into()),
        un_number: Some(un.into()),
        hazard_class: Some(class.into()),
        max_quantity: qty,
        unit: unit.into(),
    }
}

/// Loads the sample township if the database has no villages yet. Returns
/// whether anything was loaded.
pub async fn load(db: &Db, tz: chrono_tz::Tz) -> Result<bool, DemoError> {
    if !villages::list(db, true).await?.is_empty() {
        return Ok(false);
    }
    let actor = Actor::new("demo-loader", crate::auth::Role::Admin);
    let mut village_ids = Vec::new();
    for (i, (zh, en)) in VILLAGES.iter().enumerate() {
        let (x0, y0, x1, y1) = cell(i);
        let input = VillageInput {
            code: format!("S{:02}", i + 1),
            name: format!("{zh}（示例）"),
            name_en: Some(format!("{en} (sample)")),
            boundary: json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}),
            population: Some(1200 + (i as i64 * 137) % 900),
            area_code: VILLAGE_AREA_CODES.get(i).map(|c| c.to_string()),
            version: None,
        };
        village_ids.push(
            villages::create(
                db,
                &actor,
                &input,
                &crate::geometry::GeoLimits::STORED,
                true,
                tz,
            )
            .await?
            .id,
        );
    }
    let mut n = 0usize;
    let mut person = |role: &str| {
        n += 1;
        let name = format!("{}某{}（示例）", SURNAMES[n % SURNAMES.len()], n);
        (
            name,
            crate::phone::Phone::parse(&format!("+86138000{:05}", 10_000 + n))
                .map_err(|e| DemoError::Write(e.to_string())),
            role.to_string(),
        )
    };
    for (i, vid) in village_ids.iter().enumerate() {
        let third = if i % 2 == 0 { "护林员" } else { "网格员" };
        for (order, role) in [("村支书", 1), ("村主任", 2), (third, 3)].map(|(r, o)| (o, r)) {
            let (name, phone, role) = person(role);
            let input = ContactInput {
                name,
                roles: crate::registry::roles::known(&[
                    &role,
                    if order == 3 { "信息员" } else { &role },
                ]),
                village_id: Some(*vid),
                phone: phone?,
                email: (order == 1).then(|| format!("village{:02}@example.invalid", i + 1)),
                escalation_order: Some(order),
                active: Some(true),
                note: Some("示例数据 sample data".into()),
                version: None,
            };
            contacts::create(db, &actor, &input, true, tz).await?;
        }
    }
    for (role, order) in [
        ("应急办值班", 1),
        ("应急办值班", 2),
        ("分管领导", 3),
        ("乡长", 4),
    ] {
        let (name, phone, role) = person(role);
        let input = ContactInput {
            name,
            roles: crate::registry::roles::known(&[&role]),
            village_id: None,
            phone: phone?,
            email: Some(format!("duty{order}@example.invalid")),
            escalation_order: Some(order),
            active: Some(true),
            note: Some("示例数据 sample data".into()),
            version: None,
        };
        contacts::create(db, &actor, &input, true, tz).await?;
    }

    let today = crate::time::today(tz);
    let kinds = SiteKind::ALL;
    for s in 0..30usize {
        let kind = kinds[s % kinds.len()];
        let v = (s * 5) % 13;
        let (x0, y0, x1, y1) = cell(v);
        let loc = Location {
            lon: x0 + (x1 - x0) * (0.2 + 0.6 * ((s * 37 % 10) as f64 / 10.0)),
            lat: y0 + (y1 - y0) * (0.2 + 0.6 * ((s * 53 % 10) as f64 / 10.0)),
        };
        // Spread expiry dates: a few already expired or due within 30 days.
        let expires = today
            + Duration::days(match s % 6 {
                0 => 12 + s as i64,
                1 => -5,
                _ => 200 + 20 * s as i64,
            });
        let issued = expires - Duration::days(3 * 365);
        let (licence_kind, number, inventory, max_stock, unit) = if kind.is_fireworks() {
            (
                if kind == SiteKind::FireworksRetail {
                    "烟花爆竹经营（零售）许可证"
                } else {
                    "烟花爆竹经营（批发）许可证"
                },
                format!("(闽)LS〔{}〕{:04}", issued.format("%Y"), 300 + s),
                vec![chem("烟花爆竹（1.4G）", "", "UN0336", "1.4G", 500.0, "箱")],
                if kind == SiteKind::FireworksRetail {
                    200.0
                } else {
                    8000.0
                },
                "箱",
            )
        } else {
            let inv = match s % 4 {
                0 => vec![
                    chem("汽油", "86290-81-5", "UN1203", "3", 30.0, "t"),
                    chem("柴油", "68334-30-5", "UN1202", "3", 50.0, "t"),
                ],
                1 => vec![chem("液化石油气", "68476-85-7", "UN1075", "2.1", 5.0, "t")],
                2 => vec![
                    chem("硫酸", "7664-93-9", "UN1830", "8", 10.0, "t"),
                    chem("盐酸", "7647-01-0", "UN1789", "8", 5.0, "t"),
                ],
                _ => vec![
                    chem("乙炔", "74-86-2", "UN1001", "2.1", 40.0, "瓶"),
                    chem("氧", "7782-44-7", "UN1072", "2.2", 60.0, "瓶"),
                ],
            };
            (
                "危险化学品经营许可证",
                format!("闽泉安经〔{}〕{:04}", issued.format("%Y"), 100 + s),
                inv,
                60.0,
                "t",
            )
        };
        let mut inventory = inventory;
        for line in &mut inventory {
            if line.cas.as_deref() == Some("") {
                line.cas = None;
            }
        }
        let input = SiteInput {
            name: format!("示例{}点{:02}（示例）", kind.label_zh(), s + 1),
            kind,
            credit_code: Some(credit_code(s)),
            address: Some(format!("{}{}号（示例地址）", VILLAGES[v].0, 10 + s)),
            location: Some(loc),
            village_id: None,
            legal_representative: Some(format!("{}某（示例）", SURNAMES[(s + 3) % SURNAMES.len()])),
            safety_officer: Some(format!(
                "{}安全员（示例）",
                SURNAMES[(s + 5) % SURNAMES.len()]
            )),
            safety_officer_phone: crate::phone::Phone::parse(&format!(
                "+86139000{:05}",
                20_000 + s
            ))
            .ok(),
            phone_24h: crate::phone::Phone::parse(&format!("+86595{:08}", 23_000_000 + s)).ok(),
            licence: Some(Licence {
                number: Some(number),
                kind: Some(licence_kind.into()),
                issuer: Some("安溪县应急管理局（示例）".into()),
                issued_on: Some(issued.to_string()),
                expires_on: Some(expires.to_string()),
            }),
            max_stock: Some(max_stock),
            max_stock_unit: Some(unit.into()),
            inventory,
            risk_grade: [
                RiskGrade::Major,
                RiskGrade::Significant,
                RiskGrade::General,
                RiskGrade::Low,
            ][s % 4],
            status: if s == 29 {
                SiteStatus::Suspended
            } else {
                SiteStatus::Active
            },
            seasonal: kind == SiteKind::FireworksRetail,
            note: Some("示例数据 sample data".into()),
            version: None,
        };
        let site = sites::create(db, &actor, input, true, tz).await?;
        // Most sites were inspected some months ago; every fifth one not for
        // over six months, and some findings are overdue.
        let ago = if s % 5 == 0 {
            220
        } else {
            20 + (s as i64 * 7) % 120
        };
        let on: NaiveDate = today - Duration::days(ago);
        let findings = if s % 3 == 0 {
            vec![FindingInput {
                grade: if s % 2 == 0 {
                    Grade::Major
                } else {
                    Grade::General
                },
                item: "消防器材过期未更换（示例）".into(),
                description: Some("灭火器压力不足".into()),
                measures: Some("更换灭火器并建立检查台账".into()),
                funding: Some("企业自筹 2000 元".into()),
                responsible: Some("企业安全员".into()),
                deadline: (on + Duration::days(if s % 2 == 0 { 15 } else { 400 })).to_string(),
                reinspector: Some("乡应急办".into()),
            }]
        } else {
            Vec::new()
        };
        let inspection = InspectionInput {
            inspected_on: on.to_string(),
            inspectors: vec!["乡应急办（示例）".into(), "安监站（示例）".into()],
            summary: Some("例行检查（示例）".into()),
            findings,
        };
        inspections::create(db, &actor, site.id, &inspection, tz).await?;
    }
    db.meta_set("sample_data", "loaded").await?;
    Ok(true)
}

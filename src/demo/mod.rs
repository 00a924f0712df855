//! The sample township loaded by `fenghuo serve --demo`: 13 villages near
//! Hushang (湖上乡), ~80 contacts (someone for every role the shipped plans
//! notify), a shelter per village, 30 ledger sites, and danger zones with
//! the households in them (`zones`), a dozen message templates
//! (`templates`), a past notice sent by SMS and phone call with its calls
//! (`voice`). Every record is marked
//! `sample` and named "（示例）" so it is never mistaken for a real record.

use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::auth::Actor;
use crate::ledger::inspections::{self, FindingInput, Grade, InspectionInput};
use crate::ledger::sites::{
    self, InventoryLine, Licence, Location, RiskGrade, SiteInput, SiteKind, SiteStatus,
};
use crate::registry::contacts::{self, ContactInput};
use crate::registry::shelters::{self, Location as ShelterLocation, ShelterInput, ShelterStatus};
use crate::registry::villages::{self, VillageInput};
use crate::store::{Db, WriteError};

mod duty;
mod enforcement;
mod enforcement_file;
mod robots;
mod templates;
mod voice;
mod zones;

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

/// The sample township's villages lie on a 4 × 4 layout (13 places used,
/// ~1.7 km × 1.6 km each, ~7 km across). Each side is cut in `CUTS` and every
/// corner moved by a fixed pseudo-random amount (at most a tenth of a
/// village) that its neighbours share, and the whole bent gently, so the
/// shapes are irregular yet meet without gap or overlap. Anything placed at
/// 0.2–0.8 across a village (see [`inside`]) lies within it.
const LON0: f64 = 117.965;
const LAT0: f64 = 25.17;
const CELL: (f64, f64) = (0.0174, 0.0158);
const CUTS: i64 = 3;

fn bend(x: f64, y: f64) -> [f64; 2] {
    let (lon, lat) = (LON0 + x * CELL.0, LAT0 + y * CELL.1);
    [
        lon + 0.004 * ((lat - LAT0) / 0.011).sin(),
        lat + 0.003 * ((lon - LON0) / 0.013).sin(),
    ]
}

/// Corner (x, y) of the layout, in cuts.
fn corner(x: i64, y: i64) -> [f64; 2] {
    let shake = |salt: i64| {
        let h = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ salt)
            .wrapping_mul(0x9E37_79B9)
            >> 9;
        (h.rem_euclid(1024) as f64 / 1023.0 - 0.5) * 0.6
    };
    let n = CUTS as f64;
    bend((x as f64 + shake(5)) / n, (y as f64 + shake(1_000_003)) / n)
}

/// Village `i`'s boundary as a GeoJSON Polygon.
pub fn boundary(i: usize) -> serde_json::Value {
    let (x0, y0) = ((i % 4) as i64 * CUTS, (i / 4) as i64 * CUTS);
    let mut ring = Vec::new();
    for k in 0..CUTS {
        ring.push(corner(x0 + k, y0));
    }
    for k in 0..CUTS {
        ring.push(corner(x0 + CUTS, y0 + k));
    }
    for k in 0..CUTS {
        ring.push(corner(x0 + CUTS - k, y0 + CUTS));
    }
    for k in 0..CUTS {
        ring.push(corner(x0, y0 + CUTS - k));
    }
    ring.push(ring[0]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// A point (lon, lat) at fractions `fx`, `fy` across village `i`.
pub fn inside(i: usize, fx: f64, fy: f64) -> (f64, f64) {
    let [lon, lat] = bend((i % 4) as f64 + fx, (i / 4) as f64 + fy);
    (lon, lat)
}

/// The number of sample villages.
pub const VILLAGE_COUNT: usize = VILLAGES.len();

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
        gb18218_category: None,
        max_quantity: qty,
        unit: unit.into(),
    }
}

/// Flash-flood villages (山洪易发村) of the sample township, by index:
/// S08 坑头村, S10 溪口村, S11 石门村.
const FLASH_FLOOD: [usize; 3] = [7, 9, 10];

/// (name, capacity, where in the village, address, note)
type SampleShelter = (&'static str, i64, (f64, f64), &'static str, &'static str);

/// One shelter per village.
const SHELTERS: [SampleShelter; 13] = [
    (
        "湖上中心小学",
        400,
        (0.45, 0.55),
        "湖上村，教学楼二、三层",
        "",
    ),
    (
        "湖东村村委会避灾点",
        150,
        (0.5, 0.4),
        "湖东村村委会二楼",
        "",
    ),
    (
        "湖西村文化活动中心",
        120,
        (0.4, 0.5),
        "湖西村文化活动中心",
        "",
    ),
    (
        "飞新村村委会避灾点",
        100,
        (0.55, 0.45),
        "飞新村村委会二楼",
        "",
    ),
    (
        "盛富村老人活动中心",
        80,
        (0.45, 0.6),
        "盛富村老人活动中心",
        "",
    ),
    (
        "上寮村村委会避灾点",
        120,
        (0.5, 0.5),
        "上寮村村委会二楼",
        "",
    ),
    ("下寮村祠堂", 150, (0.4, 0.45), "下寮村林氏祠堂", ""),
    (
        "坑头村小学",
        250,
        (0.6, 0.65),
        "坑头村小学教学楼",
        "山洪易发村：地势高于溪沟 15 米以上，转移路线见村防御图",
    ),
    (
        "岭头村村委会避灾点",
        100,
        (0.5, 0.55),
        "岭头村村委会二楼",
        "",
    ),
    (
        "溪口村综合楼",
        200,
        (0.35, 0.7),
        "溪口村综合楼",
        "山洪易发村：只用二层及以上",
    ),
    (
        "石门村文化礼堂",
        180,
        (0.65, 0.6),
        "石门村文化礼堂",
        "山洪易发村",
    ),
    (
        "茶园村村委会避灾点",
        100,
        (0.5, 0.45),
        "茶园村村委会二楼",
        "",
    ),
    (
        "后洋村村委会避灾点",
        120,
        (0.45, 0.5),
        "后洋村村委会二楼",
        "",
    ),
];

/// The register code of village `i`'s shelter, as the shipped plans name it.
pub fn shelter_code(i: usize) -> String {
    format!("BZ-S{:02}-1", i + 1)
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
        let input = VillageInput {
            code: format!("S{:02}", i + 1),
            name: format!("{zh}（示例）"),
            name_en: Some(format!("{en} (sample)")),
            boundary: boundary(i),
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
    // Every village: its two leaders, a grid worker who is also the hazard
    // informant, a forest ranger, a flash-flood monitor where floods come
    // fast, and the township cadre who is its liaison (包村干部), last in
    // its escalation order.
    // Each village's people by their first role: who the danger zones name.
    let mut village_people: Vec<Vec<(&'static str, i64)>> = Vec::new();
    for (i, vid) in village_ids.iter().enumerate() {
        let mut mine = Vec::new();
        let mut people: Vec<(i64, Vec<&'static str>)> = vec![
            (1, vec!["村支书"]),
            (2, vec!["村主任"]),
            // The informant keeps the daily report (村值班员), but in two
            // villages nobody does: their 信息员 is asked instead.
            if i % 6 == 5 {
                (3, vec!["网格员", "信息员"])
            } else {
                (3, vec!["网格员", "信息员", "村值班员"])
            },
            (4, vec!["护林员"]),
        ];
        if FLASH_FLOOD.contains(&i) {
            people.push((4, vec!["山洪监测员"]));
        }
        people.push((5, vec!["包村干部"]));
        for (order, roles) in people {
            let (name, phone, _) = person(roles[0]);
            let input = ContactInput {
                name,
                roles: crate::registry::roles::known(&roles),
                village_id: Some(*vid),
                phone: phone?,
                email: (order == 1).then(|| format!("village{:02}@example.invalid", i + 1)),
                escalation_order: Some(order),
                active: Some(true),
                note: Some(if roles[0] == "包村干部" {
                    "乡干部，包本村（示例数据）".into()
                } else {
                    "示例数据".into()
                }),
                version: None,
            };
            mine.push((
                roles[0],
                contacts::create(db, &actor, &input, true, tz).await?.id,
            ));
        }
        village_people.push(mine);
    }
    // The township: duty officers first, then up the chain of command.
    let mut township_people: Vec<(&str, i64)> = Vec::new();
    for (k, (role, order)) in [
        ("应急办值班", 1),
        ("应急办值班", 2),
        ("带班领导", 3),
        ("应急办主任", 3),
        ("分管领导", 4),
        ("乡长", 5),
        ("乡党委书记", 6),
    ]
    .into_iter()
    .enumerate()
    {
        let (name, phone, role) = person(role);
        let input = ContactInput {
            name,
            roles: crate::registry::roles::known(&[&role]),
            village_id: None,
            phone: phone?,
            email: Some(format!("township{:02}@example.invalid", k + 1)),
            escalation_order: Some(order),
            active: Some(true),
            note: Some("示例数据".into()),
            version: None,
        };
        let id = contacts::create(db, &actor, &input, true, tz).await?.id;
        township_people.push((role_name(&role), id));
    }
    let mut shelter_ids = Vec::new();
    for (i, (name, capacity, (fx, fy), address, note)) in SHELTERS.iter().enumerate() {
        let (lon, lat) = inside(i, *fx, *fy);
        let input = ShelterInput {
            code: shelter_code(i),
            name: format!("{name}（示例）"),
            village_id: Some(village_ids[i]),
            location: ShelterLocation { lon, lat },
            capacity: *capacity,
            manager: Some(format!("{}某（示例）", SURNAMES[(i + 7) % SURNAMES.len()])),
            phone: crate::phone::Phone::parse(&format!("+86137000{:05}", 30_000 + i)).ok(),
            status: ShelterStatus::Open,
            address: Some(format!("{address}（示例地址）")),
            note: Some(if note.is_empty() {
                "示例数据".to_string()
            } else {
                format!("{note}（示例）")
            }),
            version: None,
        };
        shelter_ids.push(shelters::create(db, &actor, &input, true, tz).await?.id);
    }
    zones::load(db, &actor, &village_ids, &village_people, &shelter_ids, tz).await?;
    templates::load(db, &actor, tz).await?;
    duty::load(db, &actor, &township_people, tz).await?;
    robots::load(db, &actor, &village_ids, tz).await?;

    let today = crate::time::today(tz);
    let pool = enforcement::inspectors(db, &actor, &village_ids, today, tz).await?;
    // The hazchem and fireworks kinds in turn (the other kinds' samples follow).
    let kinds = &SiteKind::ALL[..7];
    for s in 0..30usize {
        let kind = kinds[s % kinds.len()];
        let v = (s * 5) % 13;
        let (lon, lat) = inside(
            v,
            0.2 + 0.6 * ((s * 37 % 10) as f64 / 10.0),
            0.2 + 0.6 * ((s * 53 % 10) as f64 / 10.0),
        );
        let loc = Location { lon, lat };
        let sample = sample_site(kind, s, today);
        // 春节 sales: this season's dates, and no stock before it opens;
        // one point still holds stock after last season (季节外储存).
        let sale_season =
            (kind == SiteKind::FireworksRetail).then(|| spring_festival_season(today, s == 13));
        let mut inventory = sample.inventory;
        if s != 13 && sale_season.as_ref().is_some_and(|se| !se.covers(today)) {
            inventory.clear();
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
            licence: Some(sample.licence),
            max_stock: sample.max_stock.map(|(q, _)| q),
            max_stock_unit: sample.max_stock.map(|(_, u)| u.to_string()),
            inventory,
            risk_grade: sample.risk,
            status: if s == 29 {
                SiteStatus::Suspended
            } else {
                SiteStatus::Active
            },
            seasonal: kind == SiteKind::FireworksRetail,
            note: Some(sample.note.unwrap_or("示例数据").into()),
            details: sites::SiteDetails {
                sale_season,
                ..Default::default()
            },
            people_within_500m: None,
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
            let (grade, item, description, measures, days) = finding(kind, s);
            // A major finding's weekly 挂牌督办 reminder goes to its person by
            // the township's contact book: the site's safety officer is in it.
            if grade == Grade::Major
                && let (Some(name), Some(phone)) = (
                    site.safety_officer.clone(),
                    site.safety_officer_phone.clone(),
                )
                && let Ok(phone) = crate::phone::Phone::parse(&phone)
            {
                let officer = ContactInput {
                    name,
                    roles: crate::registry::roles::known(&[crate::registry::roles::SAFETY_OFFICER]),
                    village_id: None,
                    phone,
                    email: None,
                    escalation_order: None,
                    active: Some(true),
                    note: Some(format!("{}的安全员（示例数据）", site.name)),
                    version: None,
                };
                contacts::create(db, &actor, &officer, true, tz).await?;
            }
            vec![FindingInput {
                grade,
                item: format!("{item}（示例）"),
                description: Some(description.into()),
                measures: Some(measures.into()),
                funding: Some("企业自筹（示例）".into()),
                responsible: site.safety_officer.clone(),
                deadline: (on + Duration::days(days)).to_string(),
                reinspector: Some("乡应急办".into()),
                checklist_item: Some(enforcement_file::checklist_code(kind, grade).into()),
            }]
        } else {
            Vec::new()
        };
        let inspection = InspectionInput {
            inspected_on: on.to_string(),
            inspector_ids: vec![pool[s % pool.len()], pool[(s + 1) % pool.len()]],
            summary: Some("例行检查（示例）".into()),
            findings,
        };
        let done = inspections::create(db, &actor, site.id, &inspection, 2, tz).await?;
        // Photos of one inspection and of its finding before and after the
        // rectification (built into the binary; no file is written).
        if s == 3 {
            let finding = done.findings.first().map(|f| f.id);
            crate::ledger::photos::load_samples(db, &actor, done.id, finding).await?;
        }
    }
    enforcement::plan(db, &actor, &pool, today, tz).await?;
    enforcement_file::load(db, tz).await?;
    other_kinds(db, &actor, today, tz).await?;
    incident_reports(db, &village_ids, tz).await?;
    // A past notice sent by SMS and call, with its calls answered, reached and missed.
    if let Some(&first) = village_ids.first() {
        voice::load(db, first).await?;
    }
    // The flood plan's daily reports (汛期日报) on the season's last two days.
    if let Some(season) = sample_daily_season() {
        crate::daily::load_samples(
            db,
            crate::registry::townships::HOME,
            "flood-typhoon",
            &season,
            tz,
            today,
        )
        .await
        .map_err(|e| DemoError::Write(e.to_string()))?;
    }
    // The SMS paths' daily self-checks (通道自检) of the last days.
    crate::notify::delivery::canary::load_samples(db, tz, today)
        .await
        .map_err(|e| DemoError::Write(e.to_string()))?;
    db.meta_set("sample_data", "loaded").await?;
    Ok(true)
}

/// A role's stored name as a constant, for the demo's lists.
fn role_name(role: &str) -> &'static str {
    crate::registry::roles::canonical(role).unwrap_or("")
}

/// A past (stood down) flood response of the sample township, with the 初报
/// and a 续报 it sent upward: sample data, marked as such.
async fn incident_reports(db: &Db, villages: &[i64], tz: chrono_tz::Tz) -> Result<(), DemoError> {
    use crate::incidents::reports::{self, IncidentReportInput, Kind};
    let opened = crate::store::now_ms() - 30 * 86_400_000;
    let closed = opened + 2 * 86_400_000;
    let affected: Vec<i64> = villages.iter().copied().skip(6).take(3).collect();
    let mut tx = db.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO incidents (plan_id, plan_hash, level, exercise, villages, note, status, opened_by, opened_at, \
         closed_by, closed_at, version) VALUES ('flood-typhoon', 'sample', 3, 0, $1, $2, 'closed', 'demo-loader', $3, \
         'demo-loader', $4, 1) RETURNING id",
    )
    .bind(serde_json::to_string(&affected).unwrap_or_else(|_| "[]".into()))
    .bind("强降雨过程（示例）")
    .bind(opened)
    .bind(closed)
    .fetch_one(&mut *tx)
    .await
    .map_err(crate::store::StoreError::from)?;
    for (at, kind, detail) in [
        (
            opened,
            "open",
            serde_json::json!({"villages": affected, "plan_hash": "sample"}),
        ),
        (
            closed,
            "close",
            serde_json::json!({"note": "雨情趋缓，结束响应（示例）"}),
        ),
    ] {
        sqlx::query(
            "INSERT INTO incident_events (incident_id, at, kind, level, actor, detail) VALUES ($1, $2, $3, 3, 'demo-loader', $4)",
        )
        .bind(id)
        .bind(at)
        .bind(kind)
        .bind(detail.to_string())
        .execute(&mut *tx)
        .await
        .map_err(crate::store::StoreError::from)?;
    }
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    let inc = crate::incidents::get(db, id)
        .await?
        .ok_or_else(|| DemoError::Write("the sample incident".into()))?;
    let sample = [
        (
            Kind::Initial,
            IncidentReportInput {
                kind: Some(Kind::Initial),
                deaths: Some(0),
                missing: Some(0),
                injured: Some(0),
                affected: Some(320),
                relocated: Some(46),
                houses_damaged: Some(2),
                economic_loss: Some(15.0),
                situation: Some("受强降雨影响，下寮村、坑头村部分路段出现塌方（示例）。".into()),
                handling: Some("已启动防汛Ⅲ级响应，转移危险区群众46人（示例）。".into()),
                reporter: Some("乡应急办（示例）".into()),
                signer: Some("带班领导（示例）".into()),
                ..Default::default()
            },
        ),
        (
            Kind::Followup,
            IncidentReportInput {
                kind: Some(Kind::Followup),
                deaths: Some(0),
                missing: Some(0),
                injured: Some(1),
                affected: Some(410),
                relocated: Some(63),
                houses_collapsed: Some(1),
                houses_damaged: Some(5),
                economic_loss: Some(38.5),
                situation: Some("塌方路段已抢通，1人轻伤已送医（示例）。".into()),
                handling: Some("累计转移63人，无人员死亡失踪（示例）。".into()),
                reporter: Some("乡应急办（示例）".into()),
                signer: Some("带班领导（示例）".into()),
                ..Default::default()
            },
        ),
    ];
    for (kind, input) in sample {
        let facts = reports::facts(db, &inc, kind, "", "防汛防台风应急预案（示例）", tz).await?;
        reports::create(db, "demo-loader", &inc, &input, facts, true, tz).await?;
    }
    Ok(())
}

/// What a sample site of a kind holds and is licensed for.
struct SampleSite {
    licence: Licence,
    max_stock: Option<(f64, &'static str)>,
    inventory: Vec<InventoryLine>,
    risk: RiskGrade,
    note: Option<&'static str>,
}

/// Licences as Fujian issues them: fireworks wholesale (闽)PF〔year〕serial
/// from the city's emergency bureau for 3 years, retail (闽)LS〔year〕serial
/// from the county's for at most 2 (here 1: a seasonal point); hazardous
/// chemicals by the county (trade without storage) or the city (with
/// storage, use), production by the province. Inventories fit the kind: a
/// shop without storage keeps none on its premises.
fn sample_site(kind: SiteKind, s: usize, today: NaiveDate) -> SampleSite {
    let county = "安溪县应急管理局（示例）";
    let city = "泉州市应急管理局（示例）";
    let (kind_name, prefix, issuer, years) = match kind {
        SiteKind::FireworksWholesale => ("烟花爆竹经营（批发）许可证", "(闽)PF", city, 3),
        SiteKind::FireworksRetail => ("烟花爆竹经营（零售）许可证", "(闽)LS", county, 1),
        SiteKind::HazchemProduction => (
            "安全生产许可证",
            "(闽)WH安许证字",
            "福建省应急管理厅（示例）",
            3,
        ),
        SiteKind::HazchemTradeWithoutStorage => ("危险化学品经营许可证", "闽泉安经", county, 3),
        SiteKind::HazchemUse => ("危险化学品安全使用许可证", "闽泉危化使字", city, 3),
        SiteKind::HazchemStorage | SiteKind::HazchemTradeWithStorage => {
            ("危险化学品经营许可证", "闽泉危化经字", city, 3)
        }
        // Not among the rotating samples (see `other_kinds`).
        SiteKind::NonCoalMine
        | SiteKind::FuelStation
        | SiteKind::LpgSupplyPoint
        | SiteKind::PondReservoir => ("", "", county, 3),
    };
    let days = 365 * years;
    // Spread expiry dates: a few already expired or due within 30 days.
    let expires = today
        + Duration::days(match s % 6 {
            0 => 12 + s as i64,
            1 => -5,
            _ => 60 + (s as i64 * 37) % (days - 90),
        });
    let issued = expires - Duration::days(days);
    let licence = Licence {
        number: Some(format!(
            "{prefix}〔{}〕{:05}",
            issued.format("%Y"),
            120 + s * 7
        )),
        kind: Some(kind_name.into()),
        issuer: Some(issuer.into()),
        issued_on: Some(issued.to_string()),
        expires_on: Some(expires.to_string()),
    };
    let fireworks = |qty: f64| {
        let mut l = chem("烟花爆竹（1.4G 类）", "", "UN0336", "1.4G", qty, "箱");
        l.cas = None;
        l
    };
    let (max_stock, inventory, risk, note) = match kind {
        // One wholesaler has taken more than it may store: the office sees
        // it flagged (a retail point is refused).
        SiteKind::FireworksWholesale if s == 26 => (
            Some((8000.0, "箱")),
            vec![fireworks(9200.0)],
            RiskGrade::Significant,
            Some("示例：库存超过核定储存量"),
        ),
        SiteKind::FireworksWholesale => (
            Some((8000.0, "箱")),
            vec![fireworks(5200.0)],
            RiskGrade::Significant,
            None,
        ),
        // One retail point still holds stock after the 春节 season.
        SiteKind::FireworksRetail if s == 13 => (
            Some((200.0, "箱")),
            vec![fireworks(80.0)],
            RiskGrade::General,
            Some("示例：销售季节已过，库存未清（季节外储存）"),
        ),
        SiteKind::FireworksRetail => (
            Some((200.0, "箱")),
            vec![fireworks(120.0 + (s % 4) as f64 * 20.0)],
            RiskGrade::Low,
            None,
        ),
        SiteKind::HazchemProduction => (
            Some((60.0, "t")),
            vec![
                chem("甲醇", "67-56-1", "UN1230", "3", 20.0, "t"),
                chem("硫酸", "7664-93-9", "UN1830", "8", 10.0, "t"),
            ],
            RiskGrade::Major,
            None,
        ),
        SiteKind::HazchemStorage => (
            Some((100.0, "t")),
            vec![
                chem("汽油", "86290-81-5", "UN1203", "3", 30.0, "t"),
                chem("柴油", "68334-30-5", "UN1202", "3", 50.0, "t"),
            ],
            RiskGrade::Significant,
            None,
        ),
        SiteKind::HazchemTradeWithStorage => (
            Some((10.0, "t")),
            vec![chem("液化石油气", "68476-85-7", "UN1075", "2.1", 5.0, "t")],
            RiskGrade::Significant,
            None,
        ),
        // 不带储存: trades on paper, keeps nothing on the premises.
        SiteKind::HazchemTradeWithoutStorage => (
            None,
            Vec::new(),
            RiskGrade::Low,
            Some("经营（不带储存），场所内不存放危险化学品（示例）"),
        ),
        SiteKind::NonCoalMine
        | SiteKind::FuelStation
        | SiteKind::LpgSupplyPoint
        | SiteKind::PondReservoir => (None, Vec::new(), RiskGrade::General, None),
        SiteKind::HazchemUse => (
            Some((100.0, "瓶")),
            vec![
                chem("乙炔", "74-86-2", "UN1001", "2.1", 20.0, "瓶"),
                chem("氧", "7782-44-7", "UN1072", "2.2", 40.0, "瓶"),
            ],
            RiskGrade::General,
            None,
        ),
    };
    SampleSite {
        licence,
        max_stock,
        inventory,
        risk,
        note,
    }
}

/// 春节 (Spring Festival) days, for the retail points' sale season: from
/// about the start of 腊月 (30 days before) to 正月十五 (14 days after).
const SPRING_FESTIVALS: [(i32, u32, u32); 8] = [
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
    (2031, 1, 23),
    (2032, 2, 11),
];

/// The 春节 sale season not yet over on `today`, or (`past`) the last one
/// that is.
fn spring_festival_season(today: NaiveDate, past: bool) -> crate::ledger::site_details::SaleSeason {
    let mut seasons = SPRING_FESTIVALS.iter().filter_map(|&(y, m, d)| {
        let day = NaiveDate::from_ymd_opt(y, m, d)?;
        Some((day - Duration::days(30), day + Duration::days(14)))
    });
    let found = if past {
        seasons.rfind(|(_, to)| *to < today)
    } else {
        seasons.find(|(_, to)| *to >= today)
    };
    let (from, to) = found.unwrap_or(if past {
        (today - Duration::days(400), today - Duration::days(356))
    } else {
        (today + Duration::days(30), today + Duration::days(74))
    });
    crate::ledger::site_details::SaleSeason {
        name: Some("春节".into()),
        from: from.to_string(),
        to: to.to_string(),
    }
}

/// One sample of each kind beyond hazchem and fireworks (a quarry, a fuel
/// station, a bottled-gas point, a pond with its three responsible
/// persons) and a water works' chlorine store that is a major hazard source.
async fn other_kinds(
    db: &Db,
    actor: &Actor,
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<(), DemoError> {
    use crate::ledger::site_details::{
        FuelStationDetails, LpgDetails, MineDetails, MineType, PondDetails, PondPerson, SiteDetails,
    };
    let person = |name: &str, n: usize| PondPerson {
        name: format!("{name}（示例）"),
        phone: format!("+86137000{:05}", 40_000 + n),
    };
    let licence = |kind: &str, number: &str, issuer: &str| Licence {
        number: Some(number.into()),
        kind: Some(kind.into()),
        issuer: Some(issuer.into()),
        issued_on: Some((today - Duration::days(400)).to_string()),
        expires_on: Some((today + Duration::days(695)).to_string()),
    };
    let mut diesel = chem("柴油", "68334-30-5", "UN1202", "3", 40.0, "t");
    diesel.gb18218_category = Some("W5.4".into());
    // (name, kind, village, risk, licence, inventory, details, people within 500 m)
    let samples = vec![
        (
            "示例坑头石场（示例）",
            SiteKind::NonCoalMine,
            7,
            RiskGrade::Significant,
            Some(licence(
                "安全生产许可证",
                "(闽)FM安许证字〔2025〕C0123",
                "泉州市应急管理局（示例）",
            )),
            Vec::new(),
            SiteDetails {
                mine: Some(MineDetails {
                    mining_licence_no: Some("C3505242011047130112345".into()),
                    mining_licence_expires: Some((today + Duration::days(420)).to_string()),
                    mine_type: Some(MineType::OpenPit),
                    tailings_pond: false,
                }),
                ..Default::default()
            },
            None,
        ),
        (
            "示例中石化湖上加油站（示例）",
            SiteKind::FuelStation,
            0,
            RiskGrade::General,
            Some(licence(
                "危险化学品经营许可证",
                "闽泉安经〔2025〕00231",
                "安溪县应急管理局（示例）",
            )),
            vec![chem("汽油", "86290-81-5", "UN1203", "3", 45.0, "t"), diesel],
            SiteDetails {
                fuel_station: Some(FuelStationDetails {
                    tank_count: Some(4),
                    tank_volume_m3: Some(120.0),
                    retail_licence_no: Some("油零售证书第 3505240012 号（示例）".into()),
                }),
                ..Default::default()
            },
            Some(200),
        ),
        (
            "示例溪口液化气供应站（示例）",
            SiteKind::LpgSupplyPoint,
            9,
            RiskGrade::General,
            Some(licence(
                "燃气经营许可证",
                "闽202503505240017",
                "安溪县住房和城乡建设局（示例）",
            )),
            vec![chem(
                "液化石油气",
                "68476-85-7",
                "UN1075",
                "2.1",
                900.0,
                "kg",
            )],
            SiteDetails {
                lpg: Some(LpgDetails {
                    gas_licence_no: Some("闽202503505240017".into()),
                    max_cylinders: Some(80),
                }),
                ..Default::default()
            },
            Some(45),
        ),
        (
            "示例石门后垄山塘（示例）",
            SiteKind::PondReservoir,
            10,
            RiskGrade::General,
            None,
            Vec::new(),
            SiteDetails {
                pond: Some(PondDetails {
                    capacity_10k_m3: Some(4.2),
                    dam_height_m: Some(9.5),
                    administrative: Some(person("林副乡长", 1)),
                    technical: Some(person("陈水利员", 2)),
                    patrol: Some(person("王巡查员", 3)),
                }),
                ..Default::default()
            },
            None,
        ),
        (
            // 液氯 8 t (Q 5): S = 1.6, β 4, α 2 (≥ 100 people) → R = 12.8, 三级.
            "示例湖东水厂加氯间（示例）",
            SiteKind::HazchemUse,
            1,
            RiskGrade::Major,
            Some(licence(
                "危险化学品安全使用许可证",
                "闽泉危化使字〔2025〕00017",
                "泉州市应急管理局（示例）",
            )),
            vec![chem("液氯", "7782-50-5", "UN1017", "2.3", 8.0, "t")],
            SiteDetails::default(),
            Some(120),
        ),
    ];
    for (k, (name, kind, v, risk, licence, inventory, details, people)) in
        samples.into_iter().enumerate()
    {
        let s = 30 + k;
        let (lon, lat) = inside(v, 0.35 + 0.1 * k as f64, 0.4);
        let input = SiteInput {
            name: name.into(),
            kind,
            credit_code: Some(credit_code(s)),
            address: Some(format!("{}{}号（示例地址）", VILLAGES[v].0, 10 + s)),
            location: Some(Location { lon, lat }),
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
            licence,
            max_stock: None,
            max_stock_unit: None,
            inventory,
            risk_grade: risk,
            status: SiteStatus::Active,
            seasonal: false,
            note: Some("示例数据".into()),
            details,
            people_within_500m: people,
            version: None,
        };
        sites::create(db, actor, input, true, tz).await?;
    }
    Ok(())
}

/// A hidden danger found at a site of this kind, graded as the national
/// criteria for major hidden dangers (重大事故隐患判定标准) grade it: a low
/// extinguisher is general; living in a fireworks shop or a dead gas alarm
/// at a tank farm is major. (grade, item, description, measures, days to fix)
fn finding(kind: SiteKind, s: usize) -> (Grade, &'static str, &'static str, &'static str, i64) {
    match (kind, s % 2) {
        (SiteKind::FireworksRetail, 0) => (
            Grade::Major,
            "零售点与居住场所设置在同一建筑物内（住店合一）",
            "店铺后间住人，与经营场所未有效分隔",
            "立即停止住人，搬离生活用品，经复查合格后方可营业",
            7,
        ),
        (SiteKind::HazchemStorage | SiteKind::HazchemTradeWithStorage, 0) => (
            Grade::Major,
            "可燃气体泄漏报警装置失效",
            "储存区可燃气体报警器不报警，未与应急切断联锁",
            "停用储存区，更换报警器并恢复联锁，检测合格后使用",
            15,
        ),
        _ => (
            Grade::General,
            "灭火器压力不足",
            "2 具干粉灭火器压力表指针在红区",
            "更换或充装灭火器，建立每月检查记录",
            if s.is_multiple_of(2) { 15 } else { 400 },
        ),
    }
}

/// The shipped flood plan's daily-report season and times.
fn sample_daily_season() -> Option<crate::plans::DailyTimes> {
    #[derive(serde::Deserialize)]
    struct Daily {
        daily_report: Option<crate::plans::DailyReport>,
    }
    let (_, text) = crate::plans::sample::PLANS
        .iter()
        .find(|(name, _)| *name == "flood-typhoon.toml")?;
    toml::from_str::<Daily>(text).ok()?.daily_report?.times()
}

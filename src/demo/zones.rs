//! Sample danger zones and the households living in them: a flash-flood
//! zone along the stream in each village with a flash-flood monitor
//! (ordered by itself when its 立即转移 rainfall is passed), landslide
//! points, houses below cut slopes, low ground, the land below hill ponds
//! and a work-shed camp; about three hundred households with their
//! vulnerable members, each with the village cadre who moves it. All
//! marked sample; names are masked (林某福) and phones are not real.

use serde_json::json;

use super::{DemoError, FLASH_FLOOD, SURNAMES, inside};
use crate::auth::Actor;
use crate::store::Db;
use crate::transfer::households::{self, HouseholdInput};
use crate::transfer::zones::{self, Thresholds, Trigger, ZoneInput};

const GIVEN: [&str; 16] = [
    "福", "金", "水", "木", "火", "土", "春", "秋", "明", "华", "英", "兰", "强", "忠", "德", "顺",
];

const NATURAL: [&str; 10] = [
    "下厝", "后垄", "溪边", "岭脚", "新厝", "上坂", "坑尾", "楼下", "洋中", "塘边",
];

/// (kind, name, households) of the zones of village `i`.
fn zones_of(i: usize, village: &str) -> Vec<(&'static str, String, usize)> {
    let stem = village.trim_end_matches('村');
    let mut out = Vec::new();
    if FLASH_FLOOD.contains(&i) {
        out.push(("flash_flood", format!("{stem}溪沿岸山洪危险区"), 32 + i % 4));
        out.push(("geohazard", format!("{stem}后山滑坡隐患点"), 10));
    } else {
        match i % 4 {
            0 => out.push(("slope_cut", format!("{stem}切坡建房户"), 10 + i % 3)),
            1 => out.push(("low_lying", format!("{stem}低洼易涝区"), 22 + i % 5)),
            2 => out.push(("below_pond", format!("{stem}山塘下游"), 16 + i % 4)),
            _ => out.push(("geohazard", format!("{stem}崩塌隐患点"), 8)),
        }
    }
    if i == 4 {
        out.push(("work_shed", format!("{stem}高速施工临时工棚"), 4));
    }
    out
}

fn rain(pairs: &[(u32, f64)]) -> std::collections::BTreeMap<String, f64> {
    pairs.iter().map(|(h, mm)| (h.to_string(), *mm)).collect()
}

/// Loads the sample zones and households. `people[i]` are village `i`'s
/// contacts by their first role; `shelters[i]` its shelter.
pub(super) async fn load(
    db: &Db,
    actor: &Actor,
    villages: &[i64],
    people: &[Vec<(&'static str, i64)>],
    shelters: &[i64],
    tz: chrono_tz::Tz,
) -> Result<(), DemoError> {
    let mut k = 0usize;
    for (i, vid) in villages.iter().enumerate() {
        let who = |role: &str| {
            people
                .get(i)
                .and_then(|p| p.iter().find(|(r, _)| *r == role))
                .map(|(_, id)| *id)
        };
        let (Some(secretary), Some(head), Some(grid)) =
            (who("村支书"), who("村主任"), who("网格员"))
        else {
            continue;
        };
        let monitor = who("山洪监测员").unwrap_or(grid);
        let village = super::VILLAGES[i].0;
        for (z, (kind, name, count)) in zones_of(i, village).into_iter().enumerate() {
            let natural = NATURAL[(i + z * 3) % NATURAL.len()];
            let (fx, fy) = (0.3 + 0.35 * z as f64, 0.35 + 0.1 * (i % 3) as f64);
            let geometry = if kind == "geohazard" {
                let (lon, lat) = inside(i, fx, fy);
                json!({"type": "Point", "coordinates": [lon, lat]})
            } else {
                let c = |dx: f64, dy: f64| {
                    let (lon, lat) = inside(i, fx + dx, fy + dy);
                    json!([lon, lat])
                };
                json!({"type": "Polygon", "coordinates": [[c(-0.08, -0.05), c(0.08, -0.05), c(0.08, 0.05), c(-0.08, 0.05), c(-0.08, -0.05)]]})
            };
            let flash = kind == "flash_flood";
            let thresholds = if flash {
                Thresholds {
                    prepare: Trigger {
                        rain_mm: rain(&[(1, 30.0), (3, 50.0)]),
                        signal: Some("orange".into()),
                    },
                    move_now: Trigger {
                        rain_mm: rain(&[(1, 50.0), (3, 80.0), (24, 150.0)]),
                        signal: Some("red".into()),
                    },
                }
            } else {
                Thresholds {
                    prepare: Trigger {
                        rain_mm: rain(&[(24, 80.0)]),
                        signal: None,
                    },
                    move_now: Trigger {
                        rain_mm: rain(&[(24, 120.0)]),
                        signal: Some("red".into()),
                    },
                }
            };
            let input = ZoneInput {
                code: format!("WX-S{:02}-{}", i + 1, z + 1),
                name: format!("{name}（示例）"),
                village_id: *vid,
                natural_village: Some(natural.into()),
                kind: kind.into(),
                geometry,
                thresholds,
                auto_move: flash,
                monitor_id: Some(monitor),
                warner_id: Some(grid),
                leader_id: head,
                shelter_id: shelters.get(i).copied(),
                route: Some(format!(
                    "沿{natural}村道步行至村委会避灾点，约{}分钟（示例）",
                    8 + (i + z) % 10
                )),
                report_minutes: Some(if flash { 20 } else { 30 }),
                note: Some("示例数据".into()),
                version: None,
            };
            let zone = zones::create(
                db,
                actor,
                &input,
                &crate::geometry::GeoLimits::STORED,
                true,
                tz,
            )
            .await?;
            for h in 0..count {
                k += 1;
                let members = [3, 2, 4, 1, 5, 3, 2, 6, 4, 3][k % 10];
                let elderly = match k % 5 {
                    0 | 3 => 1.min(members),
                    1 => 2.min(members),
                    _ => 0,
                };
                let input = HouseholdInput {
                    zone_id: zone.id,
                    head: format!(
                        "{}某{}",
                        SURNAMES[(k * 3) % SURNAMES.len()],
                        GIVEN[k % GIVEN.len()]
                    ),
                    members,
                    phone: crate::phone::Phone::parse(&format!("+86136{:08}", 10_000_000 + k)).ok(),
                    elderly,
                    infirm: i64::from(k.is_multiple_of(17)),
                    sick: i64::from(k.is_multiple_of(13)),
                    disabled: i64::from(k.is_multiple_of(19)),
                    pregnant: i64::from(k.is_multiple_of(31) && members >= 2),
                    children: if k.is_multiple_of(6) && members >= 3 {
                        1
                    } else {
                        0
                    },
                    // The village's cadres share the households; the
                    // village head (转移责任人) keeps the rest.
                    cadre_id: Some([grid, secretary, head, grid][h % 4]),
                    shelter_id: None,
                    address: Some(format!("{natural}{}号（示例地址）", 3 + h * 2)),
                    note: k
                        .is_multiple_of(23)
                        .then(|| "老人行动不便，需担架或轮椅（示例）".to_string()),
                    version: None,
                };
                households::create(db, actor, &input, true, tz).await?;
            }
        }
    }
    Ok(())
}

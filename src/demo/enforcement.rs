//! The sample township's enforcement records: seven inspectors of the
//! township's 安监站, 综合执法队 and the county's 应急局 (one certificate
//! expired last month), and a 双随机 plan for this quarter's fireworks and
//! chemical sites, drawn. Marked sample.

use chrono::{Duration, NaiveDate};

use super::DemoError;
use crate::auth::Actor;
use crate::enforcement::draws::{self, DrawInput, PlanInput};
use crate::enforcement::inspectors::{self, InspectorInput};
use crate::store::Db;

/// (name, unit, certificate number, home village index).
const PEOPLE: [(&str, &str, &str, Option<usize>); 7] = [
    ("林建华（示例）", "镇安监站", "闽35052420001", Some(0)),
    ("陈志明（示例）", "镇安监站", "闽35052420002", Some(3)),
    ("黄丽清（示例）", "镇安监站", "闽35052420003", None),
    ("吴国平（示例）", "镇综合执法队", "闽35052420011", Some(7)),
    ("郑海燕（示例）", "镇综合执法队", "闽35052420012", None),
    ("王振宇（示例）", "县应急局", "闽35052400107", None),
    ("刘秀英（示例）", "县应急局", "闽35052400093", Some(10)),
];

/// Registers the inspectors; returns the ids of those with a valid certificate.
pub async fn inspectors(
    db: &Db,
    actor: &Actor,
    village_ids: &[i64],
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<Vec<i64>, DemoError> {
    let mut valid = Vec::new();
    for (i, (name, unit, cert, home)) in PEOPLE.iter().enumerate() {
        // The last one's certificate ran out a month ago (换证 pending).
        let expired = i == PEOPLE.len() - 1;
        let input = InspectorInput {
            name: (*name).into(),
            certificate_no: (*cert).into(),
            unit: (*unit).into(),
            valid_from: (today - Duration::days(3 * 365)).to_string(),
            valid_until: if expired {
                (today - Duration::days(30)).to_string()
            } else {
                (today + Duration::days(2 * 365)).to_string()
            },
            home_village_id: home.and_then(|h| village_ids.get(h).copied()),
            conflict_site_ids: Vec::new(),
            phone: crate::phone::Phone::parse(&format!("+86137000{:05}", 30_000 + i)).ok(),
            note: Some("示例数据".into()),
            version: None,
        };
        let row = inspectors::create(db, actor, &input, true, tz).await?;
        if !expired {
            valid.push(row.id);
        }
    }
    Ok(valid)
}

/// This quarter's plan for fireworks and chemical sites, drawn.
pub async fn plan(
    db: &Db,
    actor: &Actor,
    pool: &[i64],
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<(), DemoError> {
    let input = PlanInput {
        title: "本季度烟花爆竹、危险化学品经营单位双随机抽查（示例）".into(),
        period_from: today.to_string(),
        period_to: (today + Duration::days(60)).to_string(),
        site_kinds: vec![
            "fireworks_retail".into(),
            "fireworks_wholesale".into(),
            "hazchem_storage".into(),
            "hazchem_trade_with_storage".into(),
        ],
        risk_grades: Vec::new(),
        village_ids: Vec::new(),
        object_count: 3,
        inspector_ids: pool.to_vec(),
        team_size: 2,
        note: Some("示例数据".into()),
    };
    let row = draws::create(db, actor, &input, true, tz).await?;
    draws::draw_plan(db, actor, row.id, &DrawInput::default(), tz).await?;
    Ok(())
}

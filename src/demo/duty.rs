//! The sample township's duty roster (值班表) for the weeks around today:
//! a day shift 08:30–17:30 and a night shift 17:30–08:30 every day, the
//! township's two duty officers taking a day and its night in turn (nobody
//! goes from a night straight into the next day) and its leaders taking the
//! day as 带班领导 in rotation; one night left unfilled next week, so the
//! worklist shows what a gap looks like; and the morning handovers of the
//! last days. Marked sample.

use chrono::{Duration, NaiveTime};

use super::DemoError;
use crate::auth::Actor;
use crate::duty::handovers::{self, HandoverInput};
use crate::duty::shifts::{self, ShiftInput};
use crate::store::Db;

/// What the sample handovers hand over.
const NOTES: &[&str] = &[
    "湖东村山塘水位偏高，已通知村主任加密巡查，请接班后 17:00 前回电确认。（示例）",
    "县气象台暴雨蓝色预警仍在生效；坑头村地灾点监测员未回复，已电话联系未接，请继续联系。（示例）",
    "夜间无险情。上寮村反映村道落石一处，已告知交通站，待处理。（示例）",
    "无未办结事项，值班电话、卫星电话电量正常。（示例）",
];

/// Loads the roster. `people` are the township's own contacts by role, in
/// the order the demo made them.
pub async fn load(
    db: &Db,
    actor: &Actor,
    people: &[(&str, i64)],
    tz: chrono_tz::Tz,
) -> Result<(), DemoError> {
    let of = |role: &str| -> Vec<i64> {
        people
            .iter()
            .filter(|(r, _)| *r == role)
            .map(|(_, id)| *id)
            .collect()
    };
    let officers = of("应急办值班");
    let leaders: Vec<i64> = ["带班领导", "应急办主任", "分管领导", "乡长"]
        .iter()
        .flat_map(|r| of(r))
        .collect();
    if officers.len() < 2 || leaders.is_empty() {
        return Err(DemoError::Write("the sample township's duty staff".into()));
    }
    let today = crate::time::today(tz);
    // Each day's day shift, which the morning's handover hands over.
    let mut mornings = std::collections::HashMap::new();
    for k in -7i64..=13 {
        let day = today + Duration::days(k);
        let turn = k.rem_euclid(2) as usize;
        let leader = leaders[k.rem_euclid(leaders.len() as i64) as usize];
        for (night, (start, end)) in [(false, ("08:30", "17:30")), (true, ("17:30", "08:30"))] {
            // Next week's one unfilled night: the worklist's sample gap.
            if night && k == 4 {
                continue;
            }
            let officer = officers[turn];
            let input = ShiftInput {
                date: day.to_string(),
                start: start.into(),
                end: end.into(),
                leader_id: Some(leader),
                officer_ids: vec![officer],
                note: None,
                version: None,
            };
            let made = shifts::create(db, actor, &input, true, tz).await?;
            if !night {
                mornings.insert(day, made.id);
            }
        }
    }
    // The handovers at 08:30 of the last four days: the day before's
    // officer to the day's.
    for (n, k) in (1..=4i64).rev().enumerate() {
        let day = today - Duration::days(k);
        let Some(at) =
            NaiveTime::from_hms_opt(8, 30, 0).and_then(|t| crate::duty::local_ms(tz, day, t))
        else {
            continue;
        };
        let turn = (-k).rem_euclid(2) as usize;
        let input = HandoverInput {
            from_contact_id: officers[(turn + 1) % 2],
            to_contact_id: officers[turn],
            at: Some(crate::time::fmt_ms(at, tz)),
            shift_id: mornings.get(&day).copied(),
            notes: Some(NOTES[n % NOTES.len()].into()),
        };
        handovers::record(db, actor, &input, true, tz).await?;
    }
    Ok(())
}

//! Unit tests of the checker: one broken plan per problem kind, with the
//! exact position and message, and `evaluate`.

use super::{
    Colour, LeadTime, Observation, Plan, Problem, VillageRef, evaluate, parse_and_check, parse_cron,
};
use crate::registry::roles;

// A small valid plan; each test breaks one line of it. Line numbers:
// header 1–10 (shelters on 8), Ⅳ 11–16, Ⅲ 17–22, Ⅱ 23–28, Ⅰ 29–34,
// comments 35–39, drill 40–43.
const HEAD: &str = r#"id = "test-plan"
title = "测试预案"
hazard = "forest_fire"
version = "1"
status = "draft"
approved_on = 2025-01-01
approved_by = "湖上乡人民政府"
shelters = ["BZ-S01-1"]
templates.t.title = "{plan}{level}"
templates.t.body = "{name}：请于{deadline}前打开{link}确认"
"#;
const L4: &str = r#"[[levels]]
level = 4
conditions = ["火险三级"]
lead = "分管领导"
triggers = { fire_danger = 3, rainfall = [{ hours = 1, mm = 20, by_village = { S02 = 15 } }] }
notify = [{ roles = ["村支书"], villages = ["S01"], template = "t", ack_within_minutes = 30 }]
"#;
const L3: &str = r#"[[levels]]
level = 3
conditions = ["火险四级"]
lead = "乡长"
triggers = { fire_danger = 4, rainfall = [{ hours = 1, mm = 30, by_village = { S02 = 25 } }] }
notify = [{ roles = ["village_head"], template = "t" }]
"#;
const L2: &str = r#"[[levels]]
level = 2
conditions = ["火险五级"]
lead = "乡长"
triggers = { fire_danger = 5, rainfall = [{ hours = 1, mm = 40 }] }
notify = [{ roles = ["护林员"], template = "t" }]
"#;
const L1: &str = r#"[[levels]]
level = 1
conditions = ["火场失控"]
lead = "乡长"
triggers = { out_of_control_hours = 12.0, rainfall = [{ hours = 1, mm = 50 }] }
notify = [{ roles = ["网格员"], template = "t" }]
"#;
const TAIL: &str = r#"# Shelters are kept in the register and named by code
# (line 8); these comment lines keep the drill at 40–43.
#
#
#
[[drills]]
name = "演练"
cron = "0 9 20 3 *"
level = 3
"#;

fn valid() -> String {
    [HEAD, L4, L3, L2, L1, TAIL].concat()
}

/// The first row of the demo grid: S01–S04.
fn villages() -> Vec<VillageRef> {
    (0..4)
        .map(|i| {
            let (w, h) = (0.0174, 0.0158);
            let x0 = 117.965 + f64::from(i) * w;
            let y0 = 25.17;
            let ring = vec![
                (x0, y0),
                (x0 + w, y0),
                (x0 + w, y0 + h),
                (x0, y0 + h),
                (x0, y0),
            ];
            VillageRef {
                code: format!("S{:02}", i + 1),
                boundary: geo::MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])]),
            }
        })
        .collect()
}

/// Problems of a text as "line:column: message".
fn problems(text: &str) -> Vec<String> {
    match parse_and_check("t.toml", text, Some(&villages())) {
        Ok(_) => Vec::new(),
        Err(ps) => ps
            .into_iter()
            .map(|p| {
                assert_eq!(p.file, "t.toml");
                format!("{}:{}: {}", p.line, p.column, p.message)
            })
            .collect(),
    }
}

fn broken(find: &str, replace: &str) -> Vec<String> {
    let v = valid();
    assert_eq!(v.matches(find).count(), 1, "{find} must be unique");
    problems(&v.replacen(find, replace, 1))
}

#[test]
fn valid_plan_parses_and_normalises_roles() {
    let plan = match parse_and_check("t.toml", &valid(), Some(&villages())) {
        Ok(p) => p,
        Err(ps) => panic!("{ps:?}"),
    };
    assert_eq!(plan.levels.len(), 4);
    // English role codes are stored under their Chinese name.
    assert_eq!(plan.levels[1].notify[0].roles, vec!["村主任"]);
    let n = plan.notices(4);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].title, "{plan}{level}");
    assert_eq!(n[0].ack_within_minutes, Some(30));
    let j = n[0].to_alert_json(&plan.title, false);
    assert_eq!(j["targets"]["villages"], serde_json::json!(["S01"]));
    assert_eq!(j["level"], 4);
}

#[test]
fn problem_displays_as_file_line_column_message() {
    let p = Problem {
        file: "plans/a.toml".into(),
        line: 3,
        column: 7,
        message: "m".into(),
    };
    assert_eq!(p.to_string(), "plans/a.toml:3:7: m");
}

#[test]
fn bad_toml() {
    assert_eq!(
        broken("lead = \"分管领导\"", "lead = \"分管领导"),
        vec!["14:13: TOML syntax error (TOML 格式错误): invalid basic string, expected `\"`"]
    );
}

#[test]
fn unknown_field() {
    let p = broken("conditions = [\"火险四级\"]", "condition = [\"火险四级\"]");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with(
            "19:1: unknown field `condition` (未知字段，请检查拼写), expected one of `level`, `conditions`"
        ),
        "{p:?}"
    );
}

#[test]
fn missing_field() {
    assert_eq!(
        broken(
            "lead = \"乡长\"\ntriggers = { fire_danger = 4",
            "triggers = { fire_danger = 4"
        ),
        vec!["17:1: missing field `lead` (缺少必填字段)"]
    );
}

#[test]
fn unknown_role() {
    assert_eq!(
        broken("roles = [\"village_head\"]", "roles = [\"村长老\"]"),
        vec![format!(
            "22:22: unknown role '村长老' (未知角色); known roles: {}",
            roles::known_list()
        )]
    );
    assert_eq!(
        broken("lead = \"分管领导\"", "lead = \"副乡长\""),
        vec![format!(
            "14:8: unknown role '副乡长' (未知角色); known roles: {}",
            roles::known_list()
        )]
    );
}

#[test]
fn unknown_village_code() {
    assert_eq!(
        broken("villages = [\"S01\"]", "villages = [\"S1\"]"),
        vec!["16:42: unknown village code 'S1' (未知村代码); known codes: S01, S02, S03, S04"]
    );
    // A per-village threshold names the village by its key.
    assert_eq!(
        broken("by_village = { S02 = 15 }", "by_village = { S20 = 15 }"),
        vec!["15:80: unknown village code 'S20' (未知村代码); known codes: S01, S02, S03, S04"]
    );
}

#[test]
fn unknown_template_variable() {
    assert_eq!(
        broken("body = \"{name}：", "body = \"{名字}："),
        vec![
            "10:21: unknown template variable {名字} in templates.t.body (未知模板变量); known: {name} {village} {level} {level_en} {plan} {title} {deadline} {link} {office}"
        ]
    );
    assert_eq!(
        broken("title = \"{plan}{level}\"", "title = \"{plan}{level\""),
        vec![
            "9:28: templates.t.title: unclosed '{' at character 6; write '{{' for a literal brace (模板大括号不配对)"
        ]
    );
}

#[test]
fn unknown_template_name() {
    assert_eq!(
        broken(
            "[\"护林员\"], template = \"t\"",
            "[\"护林员\"], template = \"tt\""
        ),
        vec![
            "28:41: unknown template 'tt' (未定义的通知模板); defined templates: t; add [templates.tt] or fix the name"
        ]
    );
}

#[test]
fn missing_level() {
    let text = [HEAD, L4, L3, L1, TAIL].concat();
    assert_eq!(
        problems(&text),
        vec![
            "11:1: level Ⅱ (2, orange) is missing (缺少Ⅱ级（橙色）响应); a plan has levels Ⅳ, Ⅲ, Ⅱ and Ⅰ — add a [[levels]] table with level = 2"
        ]
    );
}

#[test]
fn duplicated_level() {
    assert_eq!(
        broken("level = 2", "level = 4"),
        vec![
            "11:1: level Ⅱ (2, orange) is missing (缺少Ⅱ级（橙色）响应); a plan has levels Ⅳ, Ⅲ, Ⅱ and Ⅰ — add a [[levels]] table with level = 2",
            "24:9: level Ⅳ (4) is defined twice (响应级别重复); the first is at line 12",
        ]
    );
}

#[test]
fn level_out_of_range() {
    assert_eq!(
        broken("level = 1\n", "level = 5\n"),
        vec![
            "11:1: level Ⅰ (1, red) is missing (缺少Ⅰ级（红色）响应); a plan has levels Ⅳ, Ⅲ, Ⅱ and Ⅰ — add a [[levels]] table with level = 1",
            "30:9: level must be 4 (Ⅳ, blue), 3 (Ⅲ, yellow), 2 (Ⅱ, orange) or 1 (Ⅰ, red), not 5 (响应级别只能是 4、3、2、1)",
        ]
    );
}

#[test]
fn level_order_broken() {
    let text = [HEAD, L4, L2, L3, L1, TAIL].concat();
    assert_eq!(
        problems(&text),
        vec![
            "24:9: levels must be written in order Ⅳ → Ⅲ → Ⅱ → Ⅰ (4, 3, 2, 1) (响应级别须按Ⅳ→Ⅰ顺序书写); level Ⅲ (3) comes after level Ⅱ (2)"
        ]
    );
}

#[test]
fn threshold_not_rising() {
    assert_eq!(
        broken("fire_danger = 4", "fire_danger = 3"),
        vec![
            "21:28: threshold not rising with level (阈值须随级别升高：Ⅳ最低 → Ⅰ最高): fire danger rating 3 at level Ⅲ must be above 3 at level Ⅳ"
        ]
    );
    assert_eq!(
        broken("{ hours = 1, mm = 40 }", "{ hours = 1, mm = 30 }"),
        vec![
            "27:61: threshold not rising with level (阈值须随级别升高：Ⅳ最低 → Ⅰ最高): 1 h rainfall 30 mm at level Ⅱ must be above 30 mm at level Ⅲ"
        ]
    );
    // A village's own threshold is compared with the level next to it.
    assert_eq!(
        broken("by_village = { S02 = 25 }", "by_village = { S02 = 12 }"),
        vec![
            "21:86: threshold not rising with level (阈值须随级别升高：Ⅳ最低 → Ⅰ最高): 1 h rainfall for S02 12 mm at level Ⅲ must be above 15 mm at level Ⅳ"
        ]
    );
}

#[test]
fn invalid_cron() {
    let p = broken("cron = \"0 9 20 3 *\"", "cron = \"0 9 32 3 *\"");
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("42:8: invalid cron '0 9 32 3 *' (演练时间表达式无效): "),
        "{p:?}"
    );
    assert_eq!(
        broken("cron = \"0 9 20 3 *\"", "cron = \"0 9 * * 1\""),
        vec![
            "42:8: invalid cron '0 9 * * 1' (演练时间表达式无效): weekday '1' is a number; write weekdays by name, e.g. Mon-Fri or Sat (星期请写英文缩写 Mon…Sun); e.g. \"0 9 15 3 *\" is 09:00 on 15 March, \"30 9 1 4-10 *\" 09:30 on the 1st, April to October"
        ]
    );
    assert_eq!(
        broken("cron = \"0 9 20 3 *\"", "cron = \"0 9 31 2 *\""),
        vec![
            "42:8: cron '0 9 31 2 *' never fires (该时间表达式不会再触发), e.g. 31 February or a past year"
        ]
    );
}

fn with_register(text: &str, registered: &[&str]) -> Vec<String> {
    let codes: Vec<String> = registered.iter().map(|c| c.to_string()).collect();
    let known = super::Registry {
        villages: None,
        shelters: Some(&codes),
    };
    match super::parse_and_check_with("t.toml", text, known) {
        Ok(_) => Vec::new(),
        Err(p) => p
            .iter()
            .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
            .collect(),
    }
}

#[test]
fn shelter_not_in_the_register() {
    assert_eq!(with_register(&valid(), &["BZ-S01-1"]), Vec::<String>::new());
    assert_eq!(
        with_register(&valid(), &["BZ-S02-1"]),
        vec![
            "8:13: shelter 'BZ-S01-1' is not in the shelter register (避灾点未登记); register it on the dashboard (避灾点) or fix the code; registered: BZ-S02-1"
        ]
    );
    // Without the register (no database) the code is not checked.
    assert!(problems(&valid()).is_empty());
    // A rule's shelters are checked too.
    let text = valid().replacen(
        "roles = [\"网格员\"], template = \"t\"",
        "roles = [\"网格员\"], template = \"t\", shelters = [\"BZ-S09-9\"]",
        1,
    );
    let p = with_register(&text, &["BZ-S01-1"]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("34:") && p[0].contains("'BZ-S09-9'"),
        "{p:?}"
    );
}

#[test]
fn shelter_codes_well_formed_and_once() {
    assert_eq!(
        broken(
            "shelters = [\"BZ-S01-1\"]",
            "shelters = [\"BZ-S01-1\", \"BZ S01\", \"BZ-S01-1\"]"
        ),
        vec![
            "8:25: shelter code 'BZ S01' must be letters, digits, '-' and '_', e.g. \"BZ-S08-1\" (避灾点编号格式不对)",
            "8:35: shelter 'BZ-S01-1' is listed twice (避灾点重复); the first is at line 8",
        ]
    );
}

#[test]
fn old_shelter_tables_are_explained() {
    let text = format!(
        "{}[[shelters]]\nname = \"湖上村避灾点\"\nvillage = \"S01\"\nlocation = {{ lon = 117.9728, lat = 25.1787 }}\ncapacity = 100\n",
        valid().replacen("shelters = [\"BZ-S01-1\"]\n", "", 1)
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("shelter register (避灾点登记)"), "{p:?}");
}

#[test]
fn site_kinds_need_the_safety_officer_role() {
    let text = valid().replacen(
        "roles = [\"网格员\"], template = \"t\"",
        "roles = [\"网格员\"], template = \"t\", site_kinds = [\"fireworks_retail\"]",
        1,
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("34:") && p[0].contains("企业安全员"),
        "{p:?}"
    );
    let ok = valid().replacen(
        "roles = [\"网格员\"], template = \"t\"",
        "roles = [\"网格员\", \"safety_officer\"], template = \"t\", site_kinds = [\"fireworks_retail\", \"hazchem_storage\"]",
        1,
    );
    assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
    let bad = ok.replacen("hazchem_storage", "petrol_station", 1);
    assert!(
        problems(&bad)
            .iter()
            .any(|p| p.starts_with("34:") && p.contains("petrol_station")),
        "{:?}",
        problems(&bad)
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = valid()
        .replacen("roles = [\"护林员\"]", "roles = [\"护林\"]", 1)
        .replacen("condition", "kondition", 1)
        .replacen("cron = \"0 9 20 3 *\"", "cron = \"soon\"", 1);
    let p = problems(&text);
    let at: Vec<&str> = p
        .iter()
        .map(|s| s.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(at, vec!["13:1:", "28:22:", "42:8:"], "{p:?}");
}

#[test]
fn village_checks_are_skipped_without_villages() {
    let text = valid().replacen("villages = [\"S01\"]", "villages = [\"S99\"]", 1);
    assert!(parse_and_check("t.toml", &text, None).is_ok());
}

#[test]
fn positions_survive_crlf_and_bom() {
    let text = format!(
        "\u{feff}{}",
        valid()
            .replacen("lead = \"乡长\"", "lead = \"村长老\"", 1)
            .replace('\n', "\r\n")
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("20:8: unknown role '村长老'"), "{p:?}");
}

fn plan() -> Plan {
    match parse_and_check("t.toml", &valid(), None) {
        Ok(p) => p,
        Err(ps) => panic!("{ps:?}"),
    }
}

fn rain(mm: f64, village: Option<&str>) -> Observation {
    Observation::Rainfall {
        window_hours: 1,
        mm,
        village: village.map(str::to_string),
    }
}

#[test]
fn evaluate_picks_the_most_severe_level_met() {
    let p = plan();
    assert_eq!(evaluate(&p, &Observation::FireDanger(2)), None);
    assert_eq!(evaluate(&p, &Observation::FireDanger(3)), Some(4));
    assert_eq!(evaluate(&p, &Observation::FireDanger(4)), Some(3));
    assert_eq!(evaluate(&p, &Observation::FireDanger(5)), Some(2));
    assert_eq!(
        evaluate(&p, &Observation::OutOfControl { hours: 11.9 }),
        None
    );
    assert_eq!(
        evaluate(&p, &Observation::OutOfControl { hours: 12.0 }),
        Some(1)
    );
    assert_eq!(
        evaluate(&p, &Observation::BurnedArea { hectares: 500.0 }),
        None
    );
    assert_eq!(evaluate(&p, &rain(19.9, None)), None);
    assert_eq!(evaluate(&p, &rain(20.0, None)), Some(4));
    assert_eq!(evaluate(&p, &rain(45.0, None)), Some(2));
    assert_eq!(evaluate(&p, &rain(80.0, Some("S01"))), Some(1));
    // S02 has its own, lower thresholds at Ⅳ and Ⅲ.
    assert_eq!(evaluate(&p, &rain(14.0, Some("S02"))), None);
    assert_eq!(evaluate(&p, &rain(16.0, Some("S02"))), Some(4));
    assert_eq!(evaluate(&p, &rain(26.0, Some("S02"))), Some(3));
    assert_eq!(evaluate(&p, &rain(16.0, Some("S01"))), None);
    // Another window has no rule here.
    let three_hours = Observation::Rainfall {
        window_hours: 3,
        mm: 500.0,
        village: None,
    };
    assert_eq!(evaluate(&p, &three_hours), None);
    assert_eq!(
        evaluate(&p, &Observation::RainstormSignal(Colour::Red)),
        None
    );
}

#[test]
fn signals_compare_by_colour() {
    let text = valid().replacen(
        "triggers = { fire_danger = 4,",
        "triggers = { rainstorm_signal = \"黄色\", fire_danger = 4,",
        1,
    );
    let p = match parse_and_check("t.toml", &text, None) {
        Ok(p) => p,
        Err(ps) => panic!("{ps:?}"),
    };
    assert_eq!(
        evaluate(&p, &Observation::RainstormSignal(Colour::Blue)),
        None
    );
    assert_eq!(
        evaluate(&p, &Observation::RainstormSignal(Colour::Yellow)),
        Some(3)
    );
    assert_eq!(
        evaluate(&p, &Observation::RainstormSignal(Colour::Red)),
        Some(3)
    );
}

#[test]
fn lead_times_and_cron_forms() {
    assert_eq!("7d".parse::<LeadTime>().map(|l| l.minutes()), Ok(10080));
    assert_eq!(
        "2h".parse::<LeadTime>().map(|l| l.to_string()),
        Ok("2h".into())
    );
    assert!("2w".parse::<LeadTime>().is_err());
    assert!(parse_cron("0 9 15 3 *").is_ok());
    assert!(parse_cron("0 0 9 15 3 * 2030").is_ok());
    assert!(parse_cron("0 9 * * Mon-Fri").is_ok());
    assert!(parse_cron("0 9 15").is_err());
}

#[test]
fn drill_next_time_and_reminders_are_in_shanghai_time() {
    use chrono::TimeZone;
    let p = plan();
    let d = &p.drills[0];
    let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let next = d.next_after(&now).expect("fires");
    assert_eq!(next.to_rfc3339(), "2026-03-20T09:00:00+08:00");
    let r: Vec<String> = d
        .reminder_times(&next)
        .iter()
        .map(|(l, t)| format!("{l} {}", t.format("%m-%d %H:%M")))
        .collect();
    assert_eq!(
        r,
        vec!["7d 03-13 09:00", "1d 03-19 09:00", "2h 03-20 07:00"]
    );
}

#[test]
fn schedules_in_words() {
    use super::model::cron_words;
    assert_eq!(cron_words("0 9 10 4 *"), "每年4月10日 9:00");
    assert_eq!(cron_words("30 9 1 4-10 *"), "每年4–10月，每月1日 9:30");
    assert_eq!(cron_words("0 15 20 6 *"), "每年6月20日 15:00");
    assert_eq!(cron_words("0 9 1 */3 *"), "每3个月的1日 9:00");
    assert_eq!(cron_words("0 8 * * Mon-Fri"), "每周一至周五 8:00");
    assert_eq!(cron_words("0 8 * * Sat"), "每周六 8:00");
    assert_eq!(cron_words("0 9 15 * *"), "每月15日 9:00");
    assert_eq!(cron_words("0 9 1 9,12,3 *"), "每年9、12、3月，每月1日 9:00");
    assert_eq!(cron_words("*/5 * * * *"), "*/5 * * * *");
    assert_eq!(super::LeadTime(7 * 1440).words(), "7天");
    assert_eq!(super::LeadTime(120).words(), "2小时");
    assert_eq!(super::LeadTime(30).words(), "30分钟");
}

const DAILY: &str = r#"[daily_report]
season = ["04-01", "10-15"]
ask_at = "15:00"
deadline = "17:00"
summary_at = "18:00"
role = "village_duty"
"#;

#[test]
fn a_daily_report_reads_and_its_times_are_checked() {
    let text = format!("{}{DAILY}", valid());
    let plan = match parse_and_check("t.toml", &text, Some(&villages())) {
        Ok(p) => p,
        Err(ps) => panic!("{ps:?}"),
    };
    let d = plan.daily_report.expect("daily_report");
    assert_eq!(d.role, "村值班员");
    let t = d.times().expect("times");
    let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).expect("day");
    assert!(t.in_season(day(4, 1)) && t.in_season(day(10, 15)) && t.in_season(day(7, 1)));
    assert!(!t.in_season(day(3, 31)) && !t.in_season(day(10, 16)));
    let winter = super::DailyReport {
        season: vec!["11-01".into(), "02-28".into()],
        ..d.clone()
    };
    let w = winter.times().expect("times");
    assert!(w.in_season(day(12, 31)) && w.in_season(day(1, 5)) && !w.in_season(day(3, 1)));
    // The demo's sample rounds: yesterday and the day before in season,
    // the season's last two days out of it.
    let sample = |today| crate::daily::sample_days(&t, today);
    assert_eq!(sample(day(7, 10)), [day(7, 8), day(7, 9)]);
    assert_eq!(sample(day(12, 1)), [day(10, 14), day(10, 15)]);
    let last_year = chrono::NaiveDate::from_ymd_opt(2025, 10, 15).expect("day");
    assert_eq!(sample(day(4, 2)), [last_year, day(4, 1)]);

    let bad = |find: &str, replace: &str| {
        assert_eq!(text.matches(find).count(), 1, "{find}");
        problems(&text.replacen(find, replace, 1))
    };
    assert_eq!(
        bad("\"15:00\"", "\"25:00\""),
        ["46:10: '25:00' is not a time written HH:MM, e.g. \"15:00\" (时间格式应为 时:分)"]
    );
    assert_eq!(
        bad("\"10-15\"", "\"10-32\""),
        [
            "45:20: '10-32' is not a day of the year written MM-DD, e.g. \"04-01\" (日期格式应为 月-日)"
        ]
    );
    assert_eq!(
        bad("\"17:00\"", "\"14:00\""),
        ["47:12: deadline must be later in the day than ask_at (催报、汇总时间须晚于询问时间)"]
    );
    let p = bad("\"village_duty\"", "\"村长\"");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("49:8: unknown role '村长'"), "{p:?}");
    let p = bad("[\"04-01\", \"10-15\"]", "[\"04-01\"]");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("45:10: season must be two days"), "{p:?}");
}

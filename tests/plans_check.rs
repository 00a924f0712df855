//! The plan checker on the shipped plans (against the demo township's
//! villages) and on a directory of broken plans, one per problem kind.

use std::path::{Path, PathBuf};

use fenghuo::plans::{self, LoadResult, Observation, PlanStatus, Problem, VillageRef};
use sha2::{Digest, Sha256};

/// The demo township's villages, as `fenghuo::demo` draws them.
fn demo_villages() -> Vec<VillageRef> {
    (0..fenghuo::demo::VILLAGE_COUNT)
        .map(|i| {
            let b = fenghuo::demo::boundary(i);
            let region = fenghuo::geometry::parse_area(
                "boundary",
                &b,
                &fenghuo::geometry::GeoLimits::STORED,
            )
            .expect("demo boundary");
            VillageRef {
                code: format!("S{:02}", i + 1),
                boundary: region.shape,
            }
        })
        .collect()
}

/// The demo township's shelter register.
fn demo_shelters() -> Vec<String> {
    (0..fenghuo::demo::VILLAGE_COUNT)
        .map(fenghuo::demo::shelter_code)
        .collect()
}

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")
}

fn all_problems(r: &LoadResult) -> Vec<String> {
    r.problems().map(Problem::to_string).collect()
}

#[test]
fn shipped_plans_pass_the_check() {
    let villages = demo_villages();
    let shelters = demo_shelters();
    let r = plans::load_dir_with(
        &shipped_dir(),
        plans::Registry {
            villages: Some(&villages),
            shelters: Some(&shelters),
        },
    );
    assert!(r.is_ok(), "{:#?}", all_problems(&r));
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    for id in ["flood-typhoon", "forest-fire"] {
        assert!(r.plan(id).is_some(), "{id} is shipped");
    }
    for p in r.plans() {
        let bytes = std::fs::read(&p.file).expect("shipped plan is readable");
        assert_eq!(p.content_hash, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(p.text.as_bytes(), &bytes[..]);
        assert!(p.text.contains("模板，请各乡镇根据实际修改"), "{}", p.file);
        assert_eq!(p.plan.status, PlanStatus::Template);
        let levels: Vec<u8> = p.plan.levels.iter().map(|l| l.level).collect();
        assert_eq!(levels, vec![4, 3, 2, 1]);
        for l in &p.plan.levels {
            let notices = p.plan.notices(l.level);
            assert_eq!(notices.len(), l.notify.len(), "every rule has its template");
            assert!(notices.iter().all(|n| n.ack_within_minutes.is_some()));
        }
        assert!(!p.plan.shelters.is_empty() && !p.plan.drills.is_empty());
        // Listing plans as JSON works and carries no file text.
        let json = serde_json::to_value(p).expect("plan serialises");
        assert_eq!(json["plan"]["id"], p.plan.id.as_str());
        assert!(json.get("text").is_none());
    }
    // Every village of the demo township has a flood shelter, named by
    // its register code.
    let flood = &r.plan("flood-typhoon").expect("flood plan").plan;
    for i in 0..fenghuo::demo::VILLAGE_COUNT {
        let code = fenghuo::demo::shelter_code(i);
        assert!(flood.shelters.contains(&code), "no shelter {code}");
    }
}

#[test]
fn flood_plan_rainfall_maps_to_levels_per_village() {
    let r = plans::load_dir(&shipped_dir(), Some(&demo_villages()));
    let flood = &r.plan("flood-typhoon").expect("flood plan").plan;
    let rule = |level: u8| {
        flood
            .level(level)
            .and_then(|l| l.triggers.rainfall.iter().find(|r| r.hours == 1))
            .expect("1 h rainfall rule")
    };
    // A flash-flood village with its own, lower threshold.
    let (code, iv) = rule(4)
        .by_village
        .iter()
        .next()
        .map(|(c, mm)| (c.clone(), *mm))
        .expect("a per-village threshold at level Ⅳ");
    let iii = rule(3).threshold_for(Some(&code));
    assert!(iv < rule(4).mm && iv < iii);
    let reading = |mm: f64, village: &str| Observation::Rainfall {
        window_hours: 1,
        mm,
        village: Some(village.to_string()),
    };
    assert_eq!(
        plans::evaluate(flood, &reading((iv + iii) / 2.0, &code)),
        Some(4)
    );
    assert_eq!(plans::evaluate(flood, &reading(iv - 1.0, &code)), None);
    assert_eq!(plans::evaluate(flood, &reading(iii, &code)), Some(3));
    // The same reading elsewhere is below the township-wide threshold.
    assert_eq!(
        plans::evaluate(flood, &reading((iv + iii) / 2.0 - 1.0, "S01")),
        None
    );
    // A gauge reading at Ⅳ opens the real response by itself (auto); every
    // other level, and every signal, is only suggested.
    let auto =
        |level: u8, obs: &Observation| flood.level(level).is_some_and(|l| l.auto.allows(obs));
    assert!(auto(4, &reading(1.0, "S01")));
    assert!(!auto(3, &reading(1.0, "S01")));
    let red = Observation::RainstormSignal(plans::Colour::Red);
    assert!(!auto(4, &red));
    assert_eq!(plans::evaluate(flood, &red), Some(1));
    // Signals issue warnings; a blue one the blue warning.
    let blue = Observation::RainstormSignal(plans::Colour::Blue);
    assert_eq!(
        plans::evaluate_warning(flood, &blue).map(|w| w.id.as_str()),
        Some("rainstorm-blue")
    );
    let fire = &r.plan("forest-fire").expect("fire plan").plan;
    // A danger rating is a warning, never a response: there is no fire.
    for rating in 1..=5 {
        assert_eq!(
            plans::evaluate(fire, &Observation::FireDanger(rating)),
            None
        );
    }
    assert_eq!(
        plans::evaluate_warning(fire, &Observation::FireDanger(5)).map(|w| w.id.as_str()),
        Some("fire-danger-5")
    );
    assert_eq!(
        plans::evaluate_warning(fire, &Observation::FireDanger(4)).map(|w| w.id.as_str()),
        Some("fire-danger-4")
    );
    assert!(plans::evaluate_warning(fire, &Observation::FireDanger(2)).is_none());
    assert_eq!(
        plans::evaluate(fire, &Observation::OutOfControl { hours: 13.0 }),
        Some(1)
    );
    assert!(
        fire.levels.iter().all(|l| l.auto.is_never()),
        "every fire response is confirmed by a person"
    );
}

/// A small valid plan; broken copies change one line. Lines: header 1–10
/// (shelters on 8), Ⅳ 11–16, Ⅲ 17–22, Ⅱ 23–28, Ⅰ 29–34, comments 35–39,
/// drill 40–43.
const VALID: &str = r#"id = "small"
title = "小预案"
hazard = "flood"
version = "1"
status = "draft"
approved_on = 2025-04-01
approved_by = "湖上乡人民政府"
shelters = ["BZ-S08-1"]
templates.t.title = "{plan}{level}"
templates.t.body = "{name}：请于{deadline}前打开{link}确认"
[[levels]]
level = 4
conditions = ["暴雨蓝色预警"]
lead = "分管领导"
triggers = { rainstorm_signal = "blue", rainfall = [{ hours = 3, mm = 30, by_village = { S08 = 25 } }] }
notify = [{ roles = ["村支书", "山洪监测员"], villages = ["S08"], template = "t", ack_within_minutes = 15 }]
[[levels]]
level = 3
conditions = ["暴雨黄色预警"]
lead = "乡长"
triggers = { rainstorm_signal = "yellow", rainfall = [{ hours = 3, mm = 50 }] }
notify = [{ roles = ["村主任"], template = "t", ack_within_minutes = 15 }]
[[levels]]
level = 2
conditions = ["暴雨橙色预警"]
lead = "乡长"
triggers = { rainstorm_signal = "orange", rainfall = [{ hours = 3, mm = 80 }] }
notify = [{ roles = ["网格员"], template = "t", ack_within_minutes = 10 }]
[[levels]]
level = 1
conditions = ["暴雨红色预警"]
lead = "乡长"
triggers = { rainstorm_signal = "red", rainfall = [{ hours = 3, mm = 100 }] }
notify = [{ roles = ["村支书"], template = "t", ack_within_minutes = 5 }]
# Shelters are named by their register code (line 8);
# these lines keep the drill at 40–43.
#
#
#
[[drills]]
name = "汛前演练"
cron = "0 9 10 4 *"
level = 3
"#;

fn with(find: &str, replace: &str) -> String {
    assert_eq!(VALID.matches(find).count(), 1, "{find} must be unique");
    VALID.replacen(find, replace, 1)
}

/// (file name, text, line, column, part of the message)
fn broken_files() -> Vec<(&'static str, String, usize, usize, &'static str)> {
    let without_level_2 = {
        let start = VALID.find("[[levels]]\nlevel = 2").expect("level 2");
        let end = VALID.find("[[levels]]\nlevel = 1").expect("level 1");
        format!("{}{}", &VALID[..start], &VALID[end..])
    };
    let swapped = {
        let l3 = VALID.find("[[levels]]\nlevel = 3").expect("level 3");
        let l2 = VALID.find("[[levels]]\nlevel = 2").expect("level 2");
        let l1 = VALID.find("[[levels]]\nlevel = 1").expect("level 1");
        format!(
            "{}{}{}{}",
            &VALID[..l3],
            &VALID[l2..l1],
            &VALID[l3..l2],
            &VALID[l1..]
        )
    };
    let level_1_twice = {
        let l1 = VALID.find("[[levels]]\nlevel = 1").expect("level 1");
        let shelters = VALID.find("# Shelters are named").expect("comments");
        format!(
            "{}{}{}",
            &VALID[..shelters],
            &VALID[l1..shelters],
            &VALID[shelters..]
        )
    };
    vec![
        (
            "bad-toml.toml",
            with("lead = \"分管领导\"", "lead = 分管领导"),
            14,
            8,
            "TOML syntax error",
        ),
        (
            "unknown-field.toml",
            with(
                "cron = \"0 9 10 4 *\"",
                "cron = \"0 9 10 4 *\"\ncapacty = 250",
            ),
            43,
            1,
            "unknown field `capacty`",
        ),
        (
            "unknown-role.toml",
            with("roles = [\"村主任\"]", "roles = [\"村长老\"]"),
            22,
            22,
            "unknown role '村长老' (未知角色); known roles: 村支书 (party_secretary)",
        ),
        (
            "unknown-village.toml",
            with("villages = [\"S08\"]", "villages = [\"S14\"]"),
            16,
            51,
            "unknown village code 'S14' (未知村代码); known codes: S01,",
        ),
        (
            "unknown-variable.toml",
            with("{link}确认", "{url}确认"),
            10,
            43,
            "unknown template variable {url}",
        ),
        (
            "missing-level.toml",
            without_level_2,
            11,
            1,
            "level Ⅱ (2, orange) is missing",
        ),
        (
            "duplicate-level.toml",
            level_1_twice,
            36,
            9,
            "level Ⅰ (1) is defined twice (响应级别重复); the first is at line 30",
        ),
        (
            "level-order.toml",
            swapped,
            24,
            9,
            "levels must be written in order Ⅳ → Ⅲ → Ⅱ → Ⅰ",
        ),
        (
            "threshold.toml",
            with("mm = 80", "mm = 45"),
            27,
            73,
            "3 h rainfall 45 mm at level Ⅱ must be above 50 mm at level Ⅲ",
        ),
        (
            "village-threshold.toml",
            with("{ S08 = 25 }", "{ S08 = 60 }"),
            21,
            73,
            "3 h rainfall for S08 50 mm (the township-wide value) at level Ⅲ must be above 60 mm at level Ⅳ",
        ),
        (
            "bad-cron.toml",
            with("cron = \"0 9 10 4 *\"", "cron = \"every april\""),
            42,
            8,
            "invalid cron 'every april' (演练时间表达式无效)",
        ),
        (
            "bad-shelter-code.toml",
            with("shelters = [\"BZ-S08-1\"]", "shelters = [\"坑头村小学\"]"),
            8,
            13,
            "shelter code '坑头村小学' must be letters, digits, '-' and '_'",
        ),
    ]
}

#[test]
fn broken_plans_report_file_line_and_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = broken_files();
    for (name, text, ..) in &cases {
        std::fs::write(dir.path().join(name), text).expect("write plan");
    }
    // The valid plan, the same id again, and files that are not plans.
    std::fs::write(dir.path().join("a-valid.toml"), VALID).expect("write");
    std::fs::write(dir.path().join("z-same-id.toml"), VALID).expect("write");
    std::fs::write(dir.path().join("README.md"), "# not a plan = [").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "level = ").expect("write");

    let r = plans::load_dir(dir.path(), Some(&demo_villages()));
    assert!(!r.is_ok());
    assert_eq!(
        r.files.len(),
        cases.len() + 2,
        "README.md and notes.txt are ignored"
    );
    let valid: Vec<&str> = r.plans().map(|p| p.plan.id.as_str()).collect();
    assert_eq!(valid, vec!["small"]);
    let problems: Vec<&Problem> = r.problems().collect();
    for (name, _, line, column, message) in &cases {
        let file = dir.path().join(name).display().to_string();
        let found: Vec<&&Problem> = problems.iter().filter(|p| p.file == file).collect();
        assert!(
            found
                .iter()
                .any(|p| p.line == *line && p.column == *column && p.message.contains(message)),
            "{name}: expected {line}:{column} '{message}', got {:#?}",
            found.iter().map(|p| p.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(found.len(), 1, "{name}: {found:#?}");
    }
    let dup = dir.path().join("z-same-id.toml").display().to_string();
    let first = dir.path().join("a-valid.toml").display().to_string();
    let p = problems
        .iter()
        .find(|p| p.file == dup)
        .expect("duplicate id reported");
    assert_eq!((p.line, p.column), (1, 6));
    assert_eq!(
        p.message,
        format!(
            "plan id 'small' is already used by {first} (预案编号重复); give each plan its own id"
        )
    );
    // Display is what `fenghuo plans check` prints.
    assert!(
        p.to_string()
            .starts_with(&format!("{dup}:1:6: plan id 'small'"))
    );
}

#[test]
fn without_villages_the_village_checks_are_skipped_and_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = with("villages = [\"S08\"]", "villages = [\"S14\"]");
    std::fs::write(dir.path().join("p.toml"), text).expect("write");
    let r = plans::load_dir(dir.path(), None);
    assert!(r.is_ok(), "{:?}", all_problems(&r));
    assert_eq!(
        r.notes,
        vec![
            plans::NOTE_NO_VILLAGES.to_string(),
            plans::NOTE_NO_SHELTERS.to_string()
        ]
    );
}

#[test]
fn a_shelter_not_in_the_register_is_a_problem_at_its_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.toml"), VALID).expect("write");
    let villages = demo_villages();
    let only_s01 = vec!["BZ-S01-1".to_string()];
    let r = plans::load_dir_with(
        dir.path(),
        plans::Registry {
            villages: Some(&villages),
            shelters: Some(&only_s01),
        },
    );
    let p = all_problems(&r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].ends_with(
            "p.toml:8:13: shelter 'BZ-S08-1' is not in the shelter register (避灾点未登记); register it on the dashboard (避灾点) or fix the code; registered: BZ-S01-1"
        ),
        "{p:?}"
    );
    let registered = demo_shelters();
    let r = plans::load_dir_with(
        dir.path(),
        plans::Registry {
            villages: Some(&villages),
            shelters: Some(&registered),
        },
    );
    assert!(
        r.is_ok() && r.notes.is_empty(),
        "{:?} {:?}",
        all_problems(&r),
        r.notes
    );
}

#[test]
fn unreadable_and_non_utf8_files_are_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("latin1.toml"),
        b"id = \"x\"\ntitle = \"\xe9\"\n",
    )
    .expect("write");
    let r = plans::load_dir(dir.path(), None);
    let p: Vec<String> = all_problems(&r);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].ends_with(
            "latin1.toml:2:10: the file is not UTF-8 text (文件须为 UTF-8 编码); save it as UTF-8"
        ),
        "{p:?}"
    );
    let missing = plans::load_dir(&dir.path().join("nope"), None);
    assert!(!missing.is_ok());
}

/// The shipped plans follow Fujian's seasons: the forest-fire prevention
/// period runs 15 September – 30 April (its monthly call test reaches late
/// September), the flood season starts 1 April (the pre-season drill is
/// before it), and the township party secretary commands at Ⅱ and Ⅰ.
#[test]
fn shipped_plans_keep_fujian_seasons_and_command() {
    use chrono::{Datelike, TimeZone};
    let r = plans::load_dir(&shipped_dir(), Some(&demo_villages()));
    let tz = chrono_tz::Asia::Shanghai;
    let from = tz
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    let fires_in = |d: &plans::DrillSchedule, month: u32, days: std::ops::RangeInclusive<u32>| {
        let mut at = from;
        for _ in 0..400 {
            let Some(next) = d.next_after(&at) else {
                return false;
            };
            if next.year() > 2030 {
                return false;
            }
            if next.month() == month && days.contains(&next.day()) {
                return true;
            }
            at = next;
        }
        false
    };
    let fire = &r.plan("forest-fire").expect("fire plan").plan;
    assert!(
        fire.scope
            .as_deref()
            .is_some_and(|s| s.contains("9 月 15 日至次年 4 月 30 日"))
    );
    assert!(
        fire.drills.iter().any(|d| fires_in(d, 9, 15..=30)),
        "a fire-season test in late September"
    );
    for month in 5..=8 {
        assert!(
            fire.drills.iter().all(|d| !fires_in(d, month, 1..=31)),
            "no fire-season test in month {month}, outside the prevention period"
        );
    }
    let flood = &r.plan("flood-typhoon").expect("flood plan").plan;
    assert!(
        flood
            .scope
            .as_deref()
            .is_some_and(|s| s.contains("4 月 1 日"))
    );
    let pre = flood
        .drills
        .iter()
        .find(|d| d.name.contains("汛前"))
        .expect("a pre-season drill");
    assert!(
        !fires_in(pre, 4, 1..=30) && fires_in(pre, 3, 1..=31),
        "the pre-season drill falls before 1 April: {}",
        pre.cron
    );
    for p in [fire, flood] {
        for n in [2u8, 1] {
            let l = p.level(n).expect("level");
            assert_eq!(l.lead, "乡党委书记", "{} level {n}", p.id);
        }
    }
}

//! The rules a clerk can get wrong: the header, each level (duties, notify
//! rules and their templates), thresholds rising with the level, shelter
//! codes and drills.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::notify::intake::template::{self, TemplateError};
use crate::plans::VillageRef;
use crate::plans::model::{
    DailyReport, DrillSchedule, LEVELS, Level, Plan, RAINFALL_WINDOWS, Warning, clock_time,
    level_label_zh, level_roman, month_day, parse_cron,
};

use super::positions::Checker;
use super::*;

pub(super) fn check_header(h: &Plan, cx: &mut Checker<'_>) {
    let id_ok = !h.id.is_empty()
        && h.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        cx.at(
            "id",
            format!(
                "plan id '{}' must use lowercase letters, digits and '-' only, e.g. \"forest-fire\" (预案编号只能用小写字母、数字和 -)",
                h.id
            ),
        );
    }
    if let Some(f) = &h.follows
        && (f.is_empty()
            || !f
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        cx.at(
            "follows",
            format!(
                "follows '{f}' must be a county plan's id: lowercase letters, digits and '-' (应填写县级预案编号)"
            ),
        );
    }
    for (i, r) in h.report_to.iter().enumerate() {
        cx.role(&format!("report_to[{i}]"), r);
    }
    if h.report_channels.is_empty() {
        cx.at(
            "report_channels",
            "report_channels must name at least one channel: sms, email or voice (报送渠道不能为空)"
                .into(),
        );
    }
    for (field, value) in [
        ("title", &h.title),
        ("version", &h.version),
        ("approved_by", &h.approved_by),
    ] {
        if value.trim().is_empty() {
            cx.at(field, format!("{field} must not be empty (不能为空)"));
        }
    }
    for (name, t) in &h.templates {
        for (part, text, max) in [
            ("title", &t.title, MAX_TITLE_CHARS),
            ("body", &t.body, MAX_BODY_CHARS),
        ] {
            let path = format!("templates.{name}.{part}");
            if text.trim().is_empty() {
                cx.at(
                    &path,
                    format!("{path} must not be empty (通知模板不能为空)"),
                );
                continue;
            }
            let n = text.chars().count();
            if n > max {
                cx.at(
                    &path,
                    format!("{path} has {n} characters; at most {max} (通知模板过长)"),
                );
            }
            if let Err(e) = template::check(text) {
                let at = template_offset(cx, &path, text, &e);
                let msg = match &e {
                    TemplateError::Unknown(v) => format!(
                        "unknown template variable {{{v}}} in {path} (未知模板变量); known: {}",
                        template::VARIABLES
                            .iter()
                            .map(|(k, _)| format!("{{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    other => format!("{path}: {other} (模板大括号不配对)"),
                };
                cx.push(at, msg);
            }
        }
    }
}

/// Points at the faulty placeholder itself when the string is written
/// plainly, else at the string.
fn template_offset(cx: &Checker<'_>, path: &str, value: &str, e: &TemplateError) -> usize {
    let Some(span) = cx.spans.values.get(path).cloned() else {
        return cx.offset(path);
    };
    let raw = &cx.src.text[span.clone()];
    match e {
        TemplateError::Unknown(v) => raw
            .match_indices('{')
            .find(|(i, _)| raw[i + 1..].trim_start().starts_with(v.as_str()))
            .map_or(span.start, |(i, _)| span.start + i),
        TemplateError::Unclosed(at) | TemplateError::Stray(at) => {
            let q = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
                3
            } else {
                1
            };
            match (
                raw.get(q..).is_some_and(|r| r.starts_with(value)),
                value.char_indices().nth(*at),
            ) {
                (true, Some((b, _))) => span.start + q + b,
                _ => span.start,
            }
        }
    }
}

pub(super) fn check_level_numbers(numbers: &[Option<u8>], unreadable: bool, cx: &mut Checker<'_>) {
    let mut first: BTreeMap<u8, usize> = BTreeMap::new();
    let mut most_severe: Option<u8> = None;
    for (i, n) in numbers.iter().enumerate() {
        let Some(n) = *n else { continue };
        let path = format!("levels[{i}].level");
        if !LEVELS.contains(&n) {
            cx.at(
                &path,
                format!(
                    "level must be 4 (Ⅳ, blue), 3 (Ⅲ, yellow), 2 (Ⅱ, orange) or 1 (Ⅰ, red), not {n} (响应级别只能是 4、3、2、1)"
                ),
            );
            continue;
        }
        if let Some(j) = first.get(&n) {
            let line = cx.line_of(&format!("levels[{j}].level"));
            cx.at(
                &path,
                format!(
                    "level {} ({n}) is defined twice (响应级别重复); the first is at line {line}",
                    level_roman(n)
                ),
            );
            continue;
        }
        first.insert(n, i);
        if let Some(m) = most_severe
            && n > m
        {
            cx.at(
                &path,
                format!(
                    "levels must be written in order Ⅳ → Ⅲ → Ⅱ → Ⅰ (4, 3, 2, 1) (响应级别须按Ⅳ→Ⅰ顺序书写); level {} ({n}) comes after level {} ({m})",
                    level_roman(n),
                    level_roman(m)
                ),
            );
        }
        most_severe = Some(most_severe.map_or(n, |m| m.min(n)));
    }
    // A level whose number could not be read is reported already; guessing
    // which one is missing would only add noise.
    if unreadable || numbers.iter().any(Option::is_none) {
        return;
    }
    for n in LEVELS {
        if !first.contains_key(&n) {
            cx.at(
                "levels",
                format!(
                    "level {} ({n}, {}) is missing (缺少{}响应); a plan has levels Ⅳ, Ⅲ, Ⅱ and Ⅰ — add a [[levels]] table with level = {n}",
                    level_roman(n),
                    crate::plans::model::level_colour(n).map_or("", |c| c.as_str()),
                    level_label_zh(n)
                ),
            );
        }
    }
}

pub(super) fn check_level(
    i: usize,
    l: &Level,
    templates: Option<&BTreeMap<String, crate::plans::model::NoticeTemplate>>,
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    let p = format!("levels[{i}]");
    let name = level_roman(l.level);
    if l.conditions.iter().all(|c| c.trim().is_empty()) {
        cx.at(
            &format!("{p}.conditions"),
            format!("level {name} has no trigger conditions (未写启动条件); write at least one line in conditions"),
        );
    }
    cx.role(&format!("{p}.lead"), &l.lead);
    for (j, d) in l.duties.iter().enumerate() {
        cx.role(&format!("{p}.duties[{j}].role"), &d.role);
        if d.tasks.iter().all(|t| t.trim().is_empty()) {
            cx.at(
                &format!("{p}.duties[{j}].tasks"),
                format!(
                    "duty of '{}' at level {name} lists no tasks (职责未写内容)",
                    d.role
                ),
            );
        }
    }
    check_triggers(&p, name, &l.triggers, villages, cx);
    if l.notify.is_empty() {
        cx.at(
            &p,
            format!(
                "level {name} notifies nobody (该级别没有通知对象); add a [[levels.notify]] rule"
            ),
        );
    }
    check_notify_rules(&p, &l.notify, templates, villages, cx);
}

/// A warning (预警): named, with conditions, triggers if it is issued from
/// readings, known templates, and a public text that names no recipient.
pub(super) fn check_warning(
    i: usize,
    w: &Warning,
    seen: &mut BTreeSet<String>,
    templates: Option<&BTreeMap<String, crate::plans::model::NoticeTemplate>>,
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    let p = format!("warnings[{i}]");
    let ok_id = !w.id.is_empty()
        && w.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok_id {
        cx.at(
            &format!("{p}.id"),
            format!("warning id '{}' must use lowercase letters, digits and '-' (预警编号只能用小写字母、数字和 -)", w.id),
        );
    } else if !seen.insert(w.id.clone()) {
        cx.at(
            &format!("{p}.id"),
            format!("warning id '{}' is used twice (预警编号重复)", w.id),
        );
    }
    if w.title.trim().is_empty() {
        cx.at(
            &format!("{p}.title"),
            "warning has no title (预警未写名称)".into(),
        );
    }
    if w.conditions.iter().all(|c| c.trim().is_empty()) {
        cx.at(
            &format!("{p}.conditions"),
            format!(
                "warning '{}' has no conditions (未写发布条件); write at least one line",
                w.id
            ),
        );
    }
    if w.auto && w.triggers.is_empty() {
        cx.at(
            &p,
            format!("warning '{}' is issued automatically but has no triggers (自动发布的预警须写 triggers); add [warnings.triggers] or set auto = false", w.id),
        );
    }
    if !(1..=168).contains(&w.hours) {
        cx.at(
            &format!("{p}.hours"),
            format!(
                "hours must be between 1 and 168, not {} (预警有效时长须为 1–168 小时)",
                w.hours
            ),
        );
    }
    let name = w.title.as_str();
    check_triggers(&p, name, &w.triggers, villages, cx);
    if w.notify.is_empty() && w.public.is_none() {
        cx.at(
            &p,
            format!("warning '{}' tells nobody (该预警没有通知对象); add a [[warnings.notify]] rule or a public text", w.id),
        );
    }
    check_notify_rules(&p, &w.notify, templates, villages, cx);
    // A warning is not a response: its texts have no level to name.
    if let Some(ts) = templates {
        let used = w.notify.iter().map(|r| &r.template).chain(w.public.iter());
        for name in used {
            if let Some(t) = ts.get(name)
                && (t.title.contains("{level}") || t.body.contains("{level}"))
            {
                cx.at(
                    &p,
                    format!("template '{name}' names {{level}}, but a warning is not a response level (预警不是响应级别，模板不能用 {{level}}); write the warning's name with {{title}}"),
                );
            }
        }
    }
    if let (Some(public), Some(ts)) = (&w.public, templates) {
        match ts.get(public) {
            None => cx.at(
                &format!("{p}.public"),
                format!("unknown template '{public}' (未定义的通知模板); add [templates.{public}] or fix the name"),
            ),
            Some(t) => {
                for v in crate::notify::intake::template::RECIPIENT_VARIABLES {
                    let var = format!("{{{v}}}");
                    if t.title.contains(&var) || t.body.contains(&var) {
                        cx.at(
                            &format!("templates.{public}"),
                            format!("the public text '{public}' uses {var}, which names one recipient (公开发布的文本不能含 {var}); write it for everyone"),
                        );
                    }
                }
            }
        }
    }
}

fn check_triggers(
    p: &str,
    name: &str,
    t: &crate::plans::model::Triggers,
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    let mut windows = BTreeSet::new();
    for (k, r) in t.rainfall.iter().enumerate() {
        let rp = format!("{p}.triggers.rainfall[{k}]");
        if !RAINFALL_WINDOWS.contains(&r.hours) {
            cx.at(
                &format!("{rp}.hours"),
                format!("rainfall window must be 1, 3, 6, 12 or 24 hours, not {} (降雨时段只能是 1、3、6、12、24 小时)", r.hours),
            );
        } else if !windows.insert(r.hours) {
            cx.at(
                &format!("{rp}.hours"),
                format!("level {name} has two rainfall rules for {} h (同一时段降雨规则重复); merge them", r.hours),
            );
        }
        positive(cx, &format!("{rp}.mm"), "rainfall mm", r.mm);
        for (code, mm) in &r.by_village {
            let vp = format!("{rp}.by_village.{code}");
            cx.village(&vp, code, villages, true);
            positive(cx, &vp, "rainfall mm", *mm);
        }
    }
    if let Some(f) = t.fire_danger
        && !(1..=5).contains(&f)
    {
        cx.at(
            &format!("{p}.triggers.fire_danger"),
            format!("fire danger rating runs 1 to 5, not {f} (森林火险等级为 1–5 级)"),
        );
    }
    if let Some(a) = t.burned_area_ha {
        positive(
            cx,
            &format!("{p}.triggers.burned_area_ha"),
            "burned area",
            a,
        );
    }
    if let Some(h) = t.out_of_control_hours {
        positive(
            cx,
            &format!("{p}.triggers.out_of_control_hours"),
            "hours out of control",
            h,
        );
    }
}

fn check_notify_rules(
    p: &str,
    rules: &[crate::plans::model::NotifyRule],
    templates: Option<&BTreeMap<String, crate::plans::model::NoticeTemplate>>,
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    for (j, r) in rules.iter().enumerate() {
        let np = format!("{p}.notify[{j}]");
        if r.roles.is_empty() {
            cx.at(
                &format!("{np}.roles"),
                "notify rule lists no roles (通知对象角色为空)".into(),
            );
        }
        for (k, role) in r.roles.iter().enumerate() {
            cx.role(&format!("{np}.roles[{k}]"), role);
        }
        cx.villages(&format!("{np}.villages"), &r.villages, villages);
        if r.channels.is_empty() {
            cx.at(
                &format!("{np}.channels"),
                "channels is empty (通知渠道为空); use [\"sms\"], [\"email\"], [\"voice\"] or several".into(),
            );
        }
        if let Some(ts) = templates
            && !ts.contains_key(&r.template)
        {
            let defined = if ts.is_empty() {
                "none".to_string()
            } else {
                ts.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            cx.at(
                &format!("{np}.template"),
                format!(
                    "unknown template '{}' (未定义的通知模板); defined templates: {defined}; add [templates.{}] or fix the name",
                    r.template, r.template
                ),
            );
        }
        if let Some(m) = r.ack_within_minutes
            && !(1..=MAX_ACK_MINUTES).contains(&m)
        {
            cx.at(
                &format!("{np}.ack_within_minutes"),
                format!("ack_within_minutes must be between 1 and {MAX_ACK_MINUTES}, not {m} (叫应时限须为 1–1440 分钟)"),
            );
        }
        for (k, role) in r.escalate_to.iter().enumerate() {
            cx.role(&format!("{np}.escalate_to[{k}]"), role);
        }
        if let Err(e) = crate::notify::response::ladder::check(&r.ladder) {
            cx.at(&format!("{np}.ladder"), format!("{e} (叫应阶梯)"));
        }
        if !r.site_kinds.is_empty()
            && !r
                .roles
                .iter()
                .any(|x| roles::canonical(x) == Some(roles::SAFETY_OFFICER))
        {
            cx.at(
                &format!("{np}.site_kinds"),
                format!(
                    "site_kinds chooses which sites' safety officers are told, but the rule's roles do not include {} (须同时在 roles 中列出企业安全员)",
                    roles::SAFETY_OFFICER
                ),
            );
        }
    }
}

fn positive(cx: &mut Checker<'_>, path: &str, what: &str, v: f64) {
    if !(v.is_finite() && v > 0.0) {
        cx.at(
            path,
            format!("{what} must be a number above 0, not {v} (须为正数)"),
        );
    }
}

/// One level's threshold for one rule kind.
struct Step {
    level: u8,
    value: f64,
    shown: String,
    path: String,
    /// A per-village override (rather than the township-wide value).
    own: bool,
}

/// Severity rises Ⅳ → Ⅰ, so each rule's threshold must too. With
/// `overrides_only`, pairs of two township-wide values are skipped: the
/// township-wide check reports those once.
fn rising(cx: &mut Checker<'_>, what: &str, steps: &[Step], overrides_only: bool) {
    for w in steps.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if overrides_only && !a.own && !b.own {
            continue;
        }
        if b.value <= a.value {
            cx.at(
                &b.path,
                format!(
                    "threshold not rising with level (阈值须随级别升高：Ⅳ最低 → Ⅰ最高): {what} {} at level {} must be above {} at level {}",
                    b.shown,
                    level_roman(b.level),
                    a.shown,
                    level_roman(a.level)
                ),
            );
        }
    }
}

/// A rule kind's threshold in one level: (value, shown as, field name).
type Rule<'a> = &'a dyn Fn(&Level) -> Option<(f64, String, &'static str)>;

pub(super) fn check_thresholds(parts: &Parts, cx: &mut Checker<'_>) {
    // One level per number, least severe first; duplicates are reported elsewhere.
    let mut by_number: BTreeMap<u8, (usize, &Level)> = BTreeMap::new();
    for (i, l) in parts.levels() {
        if LEVELS.contains(&l.level) {
            by_number.entry(l.level).or_insert((i, l));
        }
    }
    let ordered: Vec<(usize, &Level)> = by_number.values().rev().copied().collect();
    let steps = |f: Rule<'_>| -> Vec<Step> {
        ordered
            .iter()
            .filter_map(|(i, l)| {
                f(l).map(|(value, shown, field)| Step {
                    level: l.level,
                    value,
                    shown,
                    path: format!("levels[{i}].triggers.{field}"),
                    own: false,
                })
            })
            .collect()
    };
    let colour = |c: Option<crate::plans::model::Colour>| {
        c.map(|c| (f64::from(c as u8), format!("'{}'", c.as_str())))
    };
    let kinds = [
        (
            "rainstorm signal",
            steps(&|l| {
                colour(l.triggers.rainstorm_signal).map(|(v, s)| (v, s, "rainstorm_signal"))
            }),
        ),
        (
            "typhoon signal",
            steps(&|l| colour(l.triggers.typhoon_signal).map(|(v, s)| (v, s, "typhoon_signal"))),
        ),
        (
            "fire danger rating",
            steps(&|l| {
                l.triggers
                    .fire_danger
                    .map(|f| (f64::from(f), f.to_string(), "fire_danger"))
            }),
        ),
        (
            "burned area",
            steps(&|l| {
                l.triggers
                    .burned_area_ha
                    .map(|a| (a, format!("{a} ha"), "burned_area_ha"))
            }),
        ),
        (
            "hours out of control",
            steps(&|l| {
                l.triggers
                    .out_of_control_hours
                    .map(|h| (h, format!("{h} h"), "out_of_control_hours"))
            }),
        ),
    ];
    for (what, s) in &kinds {
        rising(cx, what, s, false);
    }
    for w in RAINFALL_WINDOWS {
        // The first rule for this window in each level (a second one is reported).
        let rules: Vec<(usize, u8, usize, &crate::plans::model::RainfallRule)> = ordered
            .iter()
            .filter_map(|(i, l)| {
                l.triggers
                    .rainfall
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.hours == *w)
                    .map(|(k, r)| (*i, l.level, k, r))
            })
            .collect();
        let township: Vec<Step> = rules
            .iter()
            .map(|(i, level, k, r)| Step {
                level: *level,
                value: r.mm,
                shown: format!("{} mm", r.mm),
                path: format!("levels[{i}].triggers.rainfall[{k}].mm"),
                own: false,
            })
            .collect();
        rising(cx, &format!("{w} h rainfall"), &township, false);
        let codes: BTreeSet<&String> = rules
            .iter()
            .flat_map(|(.., r)| r.by_village.keys())
            .collect();
        for code in codes {
            let per_village: Vec<Step> = rules
                .iter()
                .map(|(i, level, k, r)| match r.by_village.get(code) {
                    Some(mm) => Step {
                        level: *level,
                        value: *mm,
                        shown: format!("{mm} mm"),
                        path: format!("levels[{i}].triggers.rainfall[{k}].by_village.{code}"),
                        own: true,
                    },
                    None => Step {
                        level: *level,
                        value: r.mm,
                        shown: format!("{} mm (the township-wide value)", r.mm),
                        path: format!("levels[{i}].triggers.rainfall[{k}].mm"),
                        own: false,
                    },
                })
                .collect();
            rising(
                cx,
                &format!("{w} h rainfall for {code}"),
                &per_village,
                true,
            );
        }
    }
}

/// Shelters named by register code (`path`, code): well-formed, each once
/// per list, and registered (when the register is known).
pub(super) fn check_shelters(
    named: &[(String, &str)],
    registered: Option<&[String]>,
    cx: &mut Checker<'_>,
) {
    let mut seen: HashMap<(String, &str), &str> = HashMap::new();
    for (path, code) in named {
        let list = super::positions::parent(path).unwrap_or("").to_string();
        if !crate::registry::shelters::code_ok(code.trim()) {
            cx.at(
                path,
                format!(
                    "shelter code '{code}' must be letters, digits, '-' and '_', e.g. \"BZ-S08-1\" (避灾点编号格式不对)"
                ),
            );
            continue;
        }
        if let Some(first) = seen.get(&(list.clone(), code.trim())) {
            let line = cx.line_of(first);
            cx.at(
                path,
                format!(
                    "shelter '{code}' is listed twice (避灾点重复); the first is at line {line}"
                ),
            );
            continue;
        }
        seen.insert((list, code.trim()), path);
        let Some(known) = registered else { continue };
        if !known.iter().any(|k| k == code.trim()) {
            let hint = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            cx.at(
                path,
                format!(
                    "shelter '{code}' is not in the shelter register (避灾点未登记); register it on the dashboard (避灾点) or fix the code; registered: {hint}"
                ),
            );
        }
    }
}

pub(super) fn check_drill(
    i: usize,
    d: &DrillSchedule,
    levels: &BTreeSet<u8>,
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    let p = format!("drills[{i}]");
    match parse_cron(&d.cron) {
        Err(e) => cx.at(
            &format!("{p}.cron"),
            format!(
                "invalid cron '{}' (演练时间表达式无效): {e}; e.g. \"0 9 15 3 *\" is 09:00 on 15 March, \"30 9 1 4-10 *\" 09:30 on the 1st, April to October",
                d.cron.trim()
            ),
        ),
        Ok(s) => {
            if s.upcoming(crate::plans::model::DRILL_TZ).next().is_none() {
                cx.at(
                    &format!("{p}.cron"),
                    format!("cron '{}' never fires (该时间表达式不会再触发), e.g. 31 February or a past year", d.cron.trim()),
                );
            }
        }
    }
    if let Some(n) = d.level
        && !levels.contains(&n)
    {
        cx.at(
            &format!("{p}.level"),
            format!(
                "drill level {n} is not a level of this plan (演练级别不存在); use 4, 3, 2 or 1"
            ),
        );
    }
    for (k, role) in d.roles.iter().enumerate() {
        cx.role(&format!("{p}.roles[{k}]"), role);
    }
    cx.villages(&format!("{p}.villages"), &d.villages, villages);
}

/// `[daily_report]`: a season of two "MM-DD" days, three "HH:MM" times in
/// order on one day (ask, chase, summary), a known role.
pub(super) fn check_daily_report(d: &DailyReport, cx: &mut Checker<'_>) {
    if d.season.len() != 2 {
        cx.at(
            "daily_report.season",
            "season must be two days, first and last, e.g. [\"04-01\", \"10-15\"] (汛期须写起止两个日期)".into(),
        );
    }
    for (i, day) in d.season.iter().enumerate().take(2) {
        if month_day(day).is_none() {
            cx.at(
                &format!("daily_report.season[{i}]"),
                format!("'{day}' is not a day of the year written MM-DD, e.g. \"04-01\" (日期格式应为 月-日)"),
            );
        }
    }
    let mut times = Vec::new();
    for (field, value) in [
        ("ask_at", &d.ask_at),
        ("deadline", &d.deadline),
        ("summary_at", &d.summary_at),
    ] {
        match clock_time(value) {
            Some(t) => times.push((field, t)),
            None => cx.at(
                &format!("daily_report.{field}"),
                format!(
                    "'{value}' is not a time written HH:MM, e.g. \"15:00\" (时间格式应为 时:分)"
                ),
            ),
        }
    }
    for pair in times.windows(2) {
        let ((a, ta), (b, tb)) = (pair[0], pair[1]);
        if tb <= ta {
            cx.at(
                &format!("daily_report.{b}"),
                format!("{b} must be later in the day than {a} (催报、汇总时间须晚于询问时间)"),
            );
        }
    }
    cx.role("daily_report.role", &d.role);
}

//! Reading one plan file: TOML syntax, then the serde model piece by piece
//! (so one typo does not hide the rest), then the rules a clerk can get
//! wrong. Every problem points at the value at fault, 1-based line and
//! column (columns count characters, as editors do).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use geo::{Intersects, Point};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::model::{
    DrillSchedule, LEVELS, Level, NotifyRule, Plan, RAINFALL_WINDOWS, Shelter, Villages,
    level_label_zh, level_roman, parse_cron,
};
use super::{Problem, VillageRef};
use crate::notify::template::{self, TemplateError};
use crate::registry::roles;

/// Same limits as a notice sent by hand (`notify::alerts`), so activating a
/// checked plan never fails validation.
const MAX_TITLE_CHARS: usize = 100;
const MAX_BODY_CHARS: usize = 1000;
const MAX_ACK_MINUTES: u32 = 1440;

/// A parsed, checked plan and where its `id` is written (for duplicate ids).
pub(crate) struct Checked {
    pub plan: Plan,
    pub id_at: (usize, usize),
}

pub(crate) fn parse(
    file: &str,
    text: &str,
    villages: Option<&[VillageRef]>,
) -> Result<Checked, Vec<Problem>> {
    // Windows editors may save a BOM; positions are counted after it, as editors show them.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cx = Checker::new(file, text);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let at = e.span().map_or(0, |s| s.start);
            cx.push(
                at,
                format!("TOML syntax error (TOML 格式错误): {}", e.message().trim()),
            );
        }
        return Err(cx.finish());
    }
    let root = Spanned::new(root.span(), DeValue::Table(root.into_inner()));
    index(&mut cx.spans, String::new(), &root);
    let parts = split(root, &mut cx);
    check(&parts, villages, &mut cx);
    let id_at = cx.position(cx.offset("id"));
    match parts.assemble() {
        Some(plan) if cx.problems.is_empty() => Ok(Checked {
            plan: normalise(plan),
            id_at,
        }),
        _ => Err(cx.finish()),
    }
}

/// Byte offset → line and character column.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl Source<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|s| *s <= offset);
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        (line, self.text[start..offset].chars().count() + 1)
    }
}

/// Spans of every key and value, by path (`levels[0].notify[1].roles[2]`).
#[derive(Default)]
struct Spans {
    values: HashMap<String, Range<usize>>,
    keys: HashMap<String, Range<usize>>,
}

fn index(spans: &mut Spans, path: String, v: &Spanned<DeValue<'_>>) {
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, x) in t.iter() {
                let p = if path.is_empty() {
                    k.get_ref().to_string()
                } else {
                    format!("{path}.{}", k.get_ref())
                };
                spans.keys.insert(p.clone(), k.span());
                index(spans, p, x);
            }
        }
        DeValue::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                index(spans, format!("{path}[{i}]"), x);
            }
        }
        _ => {}
    }
    spans.values.insert(path, v.span());
}

/// The path one step up: `a.b[2]` → `a.b` → `a`.
fn parent(path: &str) -> Option<&str> {
    if path.ends_with(']') {
        path.rfind('[').map(|i| &path[..i])
    } else {
        path.rfind('.')
            .map(|i| &path[..i])
            .or(Some(""))
            .filter(|_| !path.is_empty())
    }
}

/// Levenshtein distance, to tell a misspelt key from an unrelated one.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// From the start to the end of a value and everything nested in it (an
/// array of tables is spread over the file).
fn extent(v: &Spanned<DeValue<'_>>) -> Range<usize> {
    let mut r = v.span();
    let mut widen = |x: Range<usize>| {
        r.start = r.start.min(x.start);
        r.end = r.end.max(x.end);
    };
    match v.get_ref() {
        DeValue::Table(t) => {
            for (k, x) in t.iter() {
                widen(k.span());
                widen(extent(x));
            }
        }
        DeValue::Array(a) => a.iter().for_each(|x| widen(extent(x))),
        _ => {}
    }
    r
}

struct Checker<'a> {
    src: Source<'a>,
    spans: Spans,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn new(file: &'a str, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Checker {
            src: Source {
                file,
                text,
                line_starts,
            },
            spans: Spans::default(),
            problems: Vec::new(),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        self.src.position(offset)
    }

    fn push(&mut self, offset: usize, message: String) {
        let (line, column) = self.position(offset);
        self.problems.push(Problem {
            file: self.src.file.to_string(),
            line,
            column,
            message,
        });
    }

    /// Where a value is written; an absent optional value falls back to
    /// the nearest enclosing table.
    fn offset(&self, path: &str) -> usize {
        let mut p = Some(path);
        while let Some(q) = p {
            if let Some(s) = self.spans.values.get(q) {
                return s.start;
            }
            p = parent(q);
        }
        0
    }

    fn at(&mut self, path: &str, message: String) {
        let o = self.offset(path);
        self.push(o, message);
    }

    fn at_key(&mut self, path: &str, message: String) {
        let o = match self.spans.keys.get(path) {
            Some(s) => s.start,
            None => self.offset(path),
        };
        self.push(o, message);
    }

    fn line_of(&self, path: &str) -> usize {
        self.position(self.offset(path)).0
    }

    /// Deserializes one section. After an error in one key it drops that
    /// key and tries again, so the errors of the other keys are found too.
    fn de<T: DeserializeOwned>(&mut self, v: Spanned<DeValue<'_>>) -> Option<T> {
        let span = v.span();
        let mut value = v.into_inner();
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let attempt = ValueDeserializer::from(Spanned::new(span.clone(), value.clone()));
            let e = match T::deserialize(attempt) {
                Ok(t) => return dropped.is_empty().then_some(t),
                Err(e) => e,
            };
            if let Some(field) = e
                .message()
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                // A key dropped below is now missing (nothing more to learn),
                // or a misspelling of it was already reported as unknown.
                if dropped
                    .iter()
                    .any(|k| k == field || edit_distance(k, field) <= 2)
                {
                    return None;
                }
            }
            let at = e.span().map_or(span.start, |s| s.start);
            self.push(at, explain(e.message()));
            let DeValue::Table(t) = &mut value else {
                return None;
            };
            let culprit = t
                .iter()
                .find(|(k, v)| k.span().contains(&at) || extent(v).contains(&at))
                .map(|(k, _)| k.get_ref().to_string());
            match culprit {
                Some(k) if !dropped.contains(&k) => {
                    t.remove(k.as_str());
                    dropped.push(k);
                }
                _ => return None,
            }
        }
    }

    fn role(&mut self, path: &str, name: &str) {
        if roles::canonical(name).is_none() {
            self.at(
                path,
                format!(
                    "unknown role '{name}' (未知角色); known roles: {}",
                    roles::known_list()
                ),
            );
        }
    }

    fn village(&mut self, path: &str, code: &str, villages: Option<&[VillageRef]>, key: bool) {
        let Some(vs) = villages else { return };
        if vs.iter().any(|v| v.code == code) {
            return;
        }
        let known = vs
            .iter()
            .map(|v| v.code.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let msg = format!("unknown village code '{code}' (未知村代码); known codes: {known}");
        if key {
            self.at_key(path, msg);
        } else {
            self.at(path, msg);
        }
    }

    fn villages(&mut self, path: &str, sel: &Villages, villages: Option<&[VillageRef]>) {
        if let Villages::Codes(codes) = sel {
            if codes.is_empty() {
                self.at(
                    path,
                    "villages is an empty list (村范围为空); write \"all\" or at least one village code"
                        .into(),
                );
            }
            for (k, c) in codes.iter().enumerate() {
                self.village(&format!("{path}[{k}]"), c, villages, false);
            }
        }
    }

    fn finish(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| (p.line, p.column));
        self.problems.dedup();
        self.problems
    }
}

/// Adds the Chinese gloss to serde's English messages.
fn explain(msg: &str) -> String {
    let msg = msg.trim();
    let gloss = [
        ("unknown field", "未知字段，请检查拼写"),
        ("missing field", "缺少必填字段"),
        ("invalid type", "类型不对"),
        ("unknown variant", "取值不在允许范围内"),
        ("invalid value", "取值无效"),
        ("invalid length", "个数不对"),
        ("duplicate field", "字段重复"),
    ]
    .iter()
    .find(|(en, _)| msg.starts_with(en))
    .map(|(_, zh)| *zh);
    // serde names Rust types; say what to write instead.
    let msg = [
        ("expected u8", "expected a whole number (整数)"),
        ("expected u32", "expected a whole number (整数)"),
        ("expected f64", "expected a number (数字)"),
        ("expected a sequence", "expected a list [ … ] (列表)"),
        (
            "expected a string",
            "expected text in quotes (带引号的文字)",
        ),
    ]
    .iter()
    .fold(msg.to_string(), |m, (a, b)| m.replace(a, b));
    let msg = msg.as_str();
    match gloss {
        Some(zh) => match msg.find(", expected") {
            Some(i) => format!("{} ({zh}){}", &msg[..i], &msg[i..]),
            None => format!("{msg} ({zh})"),
        },
        // Our own messages already carry Chinese.
        None => msg.to_string(),
    }
}

/// The plan as deserialized, section by section; `None` where a piece did
/// not deserialize (its problem is already recorded).
struct Parts {
    header: Option<Plan>,
    levels: Vec<Option<Level>>,
    /// Each level's number, read even when the rest of the level is broken.
    numbers: Vec<Option<u8>>,
    shelters: Vec<Option<Shelter>>,
    drills: Vec<Option<DrillSchedule>>,
    /// A section that is not a list (already reported).
    broken: bool,
    /// `levels` is there but not a list: which level is missing is unknown.
    levels_unreadable: bool,
}

impl Parts {
    fn assemble(&self) -> Option<Plan> {
        if self.broken {
            return None;
        }
        let mut plan = self.header.clone()?;
        plan.levels = self.levels.iter().cloned().collect::<Option<_>>()?;
        plan.shelters = self.shelters.iter().cloned().collect::<Option<_>>()?;
        plan.drills = self.drills.iter().cloned().collect::<Option<_>>()?;
        Some(plan)
    }

    fn levels(&self) -> impl Iterator<Item = (usize, &Level)> {
        self.levels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (i, l)))
    }
}

#[derive(Deserialize)]
struct LevelNumber {
    level: u8,
}

fn split(root: Spanned<DeValue<'_>>, cx: &mut Checker<'_>) -> Parts {
    let span = root.span();
    let mut table = match root.into_inner() {
        DeValue::Table(t) => t,
        _ => DeTable::default(),
    };
    let levels_raw = table.remove("levels");
    let shelters_raw = table.remove("shelters");
    let drills_raw = table.remove("drills");
    let header = cx.de::<Plan>(Spanned::new(span, DeValue::Table(table)));
    let mut parts = Parts {
        header,
        levels: Vec::new(),
        numbers: Vec::new(),
        shelters: Vec::new(),
        drills: Vec::new(),
        broken: false,
        levels_unreadable: false,
    };
    let levels_listed = levels_raw
        .as_ref()
        .is_none_or(|v| matches!(v.get_ref(), DeValue::Array(_)));
    parts.levels_unreadable = !levels_listed;
    for mut item in items(levels_raw, "levels", cx, &mut parts.broken) {
        parts.numbers.push(
            LevelNumber::deserialize(ValueDeserializer::from(item.clone()))
                .ok()
                .map(|n| n.level),
        );
        let notify_raw = match item.get_mut() {
            DeValue::Table(t) => t.remove("notify"),
            _ => None,
        };
        let level = cx.de::<Level>(item);
        let mut rules = Vec::new();
        let mut all = true;
        for r in items(notify_raw, "levels.notify", cx, &mut parts.broken) {
            match cx.de::<NotifyRule>(r) {
                Some(r) => rules.push(r),
                None => all = false,
            }
        }
        parts.levels.push(match level {
            Some(mut l) if all => {
                l.notify = rules;
                Some(l)
            }
            _ => None,
        });
    }
    for s in items(shelters_raw, "shelters", cx, &mut parts.broken) {
        let s = cx.de::<Shelter>(s);
        parts.shelters.push(s);
    }
    for d in items(drills_raw, "drills", cx, &mut parts.broken) {
        let d = cx.de::<DrillSchedule>(d);
        parts.drills.push(d);
    }
    parts
}

fn items<'i>(
    raw: Option<Spanned<DeValue<'i>>>,
    name: &str,
    cx: &mut Checker<'_>,
    broken: &mut bool,
) -> Vec<Spanned<DeValue<'i>>> {
    let Some(raw) = raw else { return Vec::new() };
    let span = raw.span();
    match raw.into_inner() {
        DeValue::Array(a) => a.into_iter().collect(),
        _ => {
            *broken = true;
            cx.push(
                span.start,
                format!(
                    "`{name}` must be a list of [[{name}]] tables (须写成 [[{name}]] 表格数组)"
                ),
            );
            Vec::new()
        }
    }
}

fn check(parts: &Parts, villages: Option<&[VillageRef]>, cx: &mut Checker<'_>) {
    if let Some(h) = &parts.header {
        check_header(h, cx);
    }
    check_level_numbers(&parts.numbers, parts.levels_unreadable, cx);
    let templates = parts.header.as_ref().map(|h| &h.templates);
    for (i, l) in parts.levels() {
        check_level(i, l, templates, villages, cx);
    }
    check_thresholds(parts, cx);
    check_shelters(&parts.shelters, villages, cx);
    let levels: BTreeSet<u8> = parts.numbers.iter().flatten().copied().collect();
    for (i, d) in parts.drills.iter().enumerate() {
        if let Some(d) = d {
            check_drill(i, d, &levels, villages, cx);
        }
    }
}

fn check_header(h: &Plan, cx: &mut Checker<'_>) {
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

fn check_level_numbers(numbers: &[Option<u8>], unreadable: bool, cx: &mut Checker<'_>) {
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
                    super::model::level_colour(n).map_or("", |c| c.as_str()),
                    level_label_zh(n)
                ),
            );
        }
    }
}

fn check_level(
    i: usize,
    l: &Level,
    templates: Option<&BTreeMap<String, super::model::NoticeTemplate>>,
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
    let t = &l.triggers;
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
    if l.notify.is_empty() {
        cx.at(
            &p,
            format!(
                "level {name} notifies nobody (该级别没有通知对象); add a [[levels.notify]] rule"
            ),
        );
    }
    for (j, r) in l.notify.iter().enumerate() {
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
                "channels is empty (通知渠道为空); use [\"sms\"], [\"email\"] or both".into(),
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

fn check_thresholds(parts: &Parts, cx: &mut Checker<'_>) {
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
    let colour = |c: Option<super::model::Colour>| {
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
        let rules: Vec<(usize, u8, usize, &super::model::RainfallRule)> = ordered
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

fn check_shelters(
    shelters: &[Option<Shelter>],
    villages: Option<&[VillageRef]>,
    cx: &mut Checker<'_>,
) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, s) in shelters.iter().enumerate() {
        let Some(s) = s else { continue };
        let p = format!("shelters[{i}]");
        if s.name.trim().is_empty() {
            cx.at(
                &format!("{p}.name"),
                "shelter name must not be empty (避灾点名称不能为空)".into(),
            );
        } else if let Some(&j) = names.get(s.name.trim()) {
            let line = cx.line_of(&format!("shelters[{j}].name"));
            cx.at(
                &format!("{p}.name"),
                format!(
                    "shelter '{}' is listed twice (避灾点重复); the first is at line {line}",
                    s.name
                ),
            );
        } else {
            names.insert(s.name.trim(), i);
        }
        if s.capacity == 0 {
            cx.at(
                &format!("{p}.capacity"),
                "capacity must be above 0 (容纳人数须大于 0)".into(),
            );
        }
        let (lon, lat) = (s.location.lon, s.location.lat);
        let valid =
            |lon: f64, lat: f64| (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
        if !valid(lon, lat) {
            let hint = if valid(lat, lon) {
                "; lon and lat look swapped (经纬度可能写反)"
            } else {
                ""
            };
            cx.at(
                &format!("{p}.location"),
                format!("shelter '{}' location lon {lon}, lat {lat} is not a WGS-84 position (经纬度超出范围){hint}; write e.g. {{ lon = 117.97, lat = 25.18 }}", s.name),
            );
            continue;
        }
        let Some(vs) = villages else { continue };
        cx.village(&format!("{p}.village"), &s.village, villages, false);
        let pt = Point::new(lon, lat);
        let found: Vec<&str> = vs
            .iter()
            .filter(|v| v.boundary.intersects(&pt))
            .map(|v| v.code.as_str())
            .collect();
        if found.is_empty() {
            cx.at(
                &format!("{p}.location"),
                format!(
                    "shelter '{}' at lon {lon}, lat {lat} is outside every village (避灾点不在任何村的范围内); check the coordinates",
                    s.name
                ),
            );
        } else if vs.iter().any(|v| v.code == s.village) && !found.contains(&s.village.as_str()) {
            cx.at(
                &format!("{p}.location"),
                format!(
                    "shelter '{}' lies in village {}, not {} as its `village` says (避灾点位置与所属村不符)",
                    s.name,
                    found.join(", "),
                    s.village
                ),
            );
        }
    }
}

fn check_drill(
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
            if s.upcoming(super::model::DRILL_TZ).next().is_none() {
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

/// Roles are written in Chinese or as English codes; store the Chinese name,
/// as contacts do.
fn normalise(mut plan: Plan) -> Plan {
    let fix = |r: &mut String| {
        if let Some(c) = roles::canonical(r) {
            *r = c.to_string();
        }
    };
    for l in &mut plan.levels {
        fix(&mut l.lead);
        l.duties.iter_mut().for_each(|d| fix(&mut d.role));
        for n in &mut l.notify {
            n.roles.iter_mut().for_each(fix);
            n.escalate_to.iter_mut().for_each(fix);
        }
    }
    for d in &mut plan.drills {
        d.roles.iter_mut().for_each(fix);
    }
    plan
}

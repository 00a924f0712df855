//! Reading one plan file: TOML syntax, then the serde model piece by piece
//! (so one typo does not hide the rest), then the rules a clerk can get
//! wrong. Every problem points at the value at fault, 1-based line and
//! column (columns count characters, as editors do).
//!
//! `positions` turns byte offsets into lines and columns and records each
//! problem at the value at fault; `rules` holds the checks themselves.

mod positions;
mod rules;

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::model::{DrillSchedule, Level, NotifyRule, Plan, Warning};
use super::{Problem, Registry};
use crate::registry::roles;

use positions::{Checker, extent, index};
use rules::*;

/// Same limits as a notice sent by hand (`notify::intake::alerts`), so activating a
/// checked plan never fails validation.
const MAX_TITLE_CHARS: usize = 100;
const MAX_BODY_CHARS: usize = 1000;
const MAX_ACK_MINUTES: u32 = 1440;

/// A parsed, checked plan and where its `id` is written (for duplicate ids),
/// and its `follows` and `report_to` (checked against the other plans by
/// `plans::tree`).
pub(crate) struct Checked {
    pub plan: Plan,
    pub id_at: (usize, usize),
    pub follows_at: (usize, usize),
    pub report_to_at: (usize, usize),
}

pub(crate) fn parse(file: &str, text: &str, known: Registry<'_>) -> Result<Checked, Vec<Problem>> {
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
    check(&parts, known, &mut cx);
    let id_at = cx.position(cx.offset("id"));
    let follows_at = cx.position(cx.offset("follows"));
    let report_to_at = cx.position(cx.offset("report_to"));
    match parts.assemble() {
        Some(plan) if cx.problems.is_empty() => Ok(Checked {
            plan: normalise(plan),
            id_at,
            follows_at,
            report_to_at,
        }),
        _ => Err(cx.finish()),
    }
}

/// The plan as deserialized, section by section; `None` where a piece did
/// not deserialize (its problem is already recorded).
struct Parts {
    header: Option<Plan>,
    warnings: Vec<Option<Warning>>,
    levels: Vec<Option<Level>>,
    /// Each level's number, read even when the rest of the level is broken.
    numbers: Vec<Option<u8>>,
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
        plan.warnings = self.warnings.iter().cloned().collect::<Option<_>>()?;
        plan.levels = self.levels.iter().cloned().collect::<Option<_>>()?;
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
    let warnings_raw = table.remove("warnings");
    let levels_raw = table.remove("levels");
    // Shelters were once written here whole, as [[shelters]] tables: they
    // are registered now, and a plan names them by code.
    let mut broken = false;
    let tables = |v: &Spanned<DeValue<'_>>| match v.get_ref() {
        DeValue::Array(a) => a.iter().any(|x| matches!(x.get_ref(), DeValue::Table(_))),
        DeValue::Table(_) => true,
        _ => false,
    };
    if let Some(old) = table.get("shelters").filter(|v| tables(v)) {
        cx.push(
            extent(old).start,
            "shelters are kept in the shelter register (避灾点登记) now and named by code: write shelters = [\"BZ-S08-1\", …] before the first [table] (避灾点请在系统中登记，预案中按编号引用)".into(),
        );
        table.remove("shelters");
        broken = true;
    }
    let drills_raw = table.remove("drills");
    let header = cx.de::<Plan>(Spanned::new(span, DeValue::Table(table)));
    let mut parts = Parts {
        header,
        warnings: Vec::new(),
        levels: Vec::new(),
        numbers: Vec::new(),
        drills: Vec::new(),
        broken,
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
        let rules = notify_rules(notify_raw, "levels.notify", cx, &mut parts.broken);
        parts.levels.push(match (level, rules) {
            (Some(mut l), Some(rules)) => {
                l.notify = rules;
                Some(l)
            }
            _ => None,
        });
    }
    for mut item in items(warnings_raw, "warnings", cx, &mut parts.broken) {
        let notify_raw = match item.get_mut() {
            DeValue::Table(t) => t.remove("notify"),
            _ => None,
        };
        let warning = cx.de::<Warning>(item);
        let rules = notify_rules(notify_raw, "warnings.notify", cx, &mut parts.broken);
        parts.warnings.push(match (warning, rules) {
            (Some(mut w), Some(rules)) => {
                w.notify = rules;
                Some(w)
            }
            _ => None,
        });
    }
    for d in items(drills_raw, "drills", cx, &mut parts.broken) {
        let d = cx.de::<DrillSchedule>(d);
        parts.drills.push(d);
    }
    parts
}

/// A level's or a warning's `notify` rules; `None` if any did not read.
fn notify_rules(
    raw: Option<Spanned<DeValue<'_>>>,
    name: &str,
    cx: &mut Checker<'_>,
    broken: &mut bool,
) -> Option<Vec<NotifyRule>> {
    let mut rules = Vec::new();
    let mut all = true;
    for r in items(raw, name, cx, broken) {
        match cx.de::<NotifyRule>(r) {
            Some(r) => rules.push(r),
            None => all = false,
        }
    }
    all.then_some(rules)
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

fn check(parts: &Parts, known: Registry<'_>, cx: &mut Checker<'_>) {
    let villages = known.villages;
    if let Some(h) = &parts.header {
        check_header(h, cx);
        if let Some(d) = &h.daily_report {
            check_daily_report(d, cx);
        }
    }
    check_level_numbers(&parts.numbers, parts.levels_unreadable, cx);
    let templates = parts.header.as_ref().map(|h| &h.templates);
    for (i, l) in parts.levels() {
        check_level(i, l, templates, villages, cx);
    }
    let mut warning_ids = BTreeSet::new();
    for (i, w) in parts.warnings.iter().enumerate() {
        if let Some(w) = w {
            check_warning(i, w, &mut warning_ids, templates, villages, cx);
        }
    }
    check_thresholds(parts, cx);
    if let Some(h) = &parts.header {
        let mut named: Vec<(String, &str)> = h
            .shelters
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("shelters[{i}]"), c.as_str()))
            .collect();
        for (i, l) in parts.levels() {
            for (k, r) in l.notify.iter().enumerate() {
                for (j, c) in r.shelters.iter().enumerate() {
                    named.push((format!("levels[{i}].notify[{k}].shelters[{j}]"), c.as_str()));
                }
            }
        }
        for (i, w) in parts.warnings.iter().enumerate() {
            let Some(w) = w else { continue };
            for (k, r) in w.notify.iter().enumerate() {
                for (j, c) in r.shelters.iter().enumerate() {
                    named.push((
                        format!("warnings[{i}].notify[{k}].shelters[{j}]"),
                        c.as_str(),
                    ));
                }
            }
        }
        check_shelters(&named, known.shelters, cx);
    }
    let levels: BTreeSet<u8> = parts.numbers.iter().flatten().copied().collect();
    for (i, d) in parts.drills.iter().enumerate() {
        if let Some(d) = d {
            check_drill(i, d, &levels, villages, cx);
        }
    }
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
    for w in &mut plan.warnings {
        for n in &mut w.notify {
            n.roles.iter_mut().for_each(fix);
            n.escalate_to.iter_mut().for_each(fix);
        }
    }
    for d in &mut plan.drills {
        d.roles.iter_mut().for_each(fix);
    }
    plan.report_to.iter_mut().for_each(fix);
    if let Some(d) = &mut plan.daily_report {
        fix(&mut d.role);
    }
    plan
}

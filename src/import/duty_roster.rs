//! The duty roster (值班表) from the workbook the office already keeps: a
//! row a shift — the day, the shift (白班 / 夜班 / 24小时, or its times),
//! the leader on shift and the duty officers with their phones (several in
//! one cell, separated by 、or ,; the phones in the same order).
//!
//! A person is matched to the township's contacts by phone (by name when no
//! phone is given and exactly one contact has it); an unknown phone
//! becomes a township-level contact with the role (带班领导 / 应急办值班),
//! which the preview says. A row is matched to the stored shift with the
//! same start and end, so the same file imported twice changes nothing; a
//! row overlapping another stored shift is refused (the roster has one
//! shift at a time). An empty cell keeps what the stored shift has.

use std::collections::HashMap;

use chrono::NaiveTime;
use sqlx::AnyConnection;

use super::cells;
use super::columns::{Col, Row, header};
use super::{Action, Ctx, ImportError, Importer, Planned, Problem};
use crate::duty::shifts::{self, DutyShift, Valid};
use crate::duty::{self, parse_clock};
use crate::registry::contacts::{self, ValidContact};
use crate::registry::roles::{DUTY_OFFICER, LEADER_ON_DUTY};
use crate::store::WriteError;

pub const COLUMNS: &[Col] = &[
    Col {
        field: "date",
        header: "日期",
        aliases: &["值班日期"],
        required: true,
        note: "班次开始的那一天：夜班写开始的那天（如 12月3日 17:30 至 12月4日 08:30 的夜班写 2025-12-03）",
        example: "2025-12-03",
    },
    Col {
        field: "shift",
        header: "班次",
        aliases: &["班别", "值班班次"],
        required: false,
        note: "白班（08:30–17:30）、夜班（17:30–次日08:30）、24小时（08:30–次日08:30），或直接写时间如 08:00-18:00；填了开始、结束时间则以时间为准",
        example: "夜班",
    },
    Col {
        field: "start",
        header: "开始时间",
        aliases: &["开始", "接班时间", "上班时间"],
        required: false,
        note: "如 08:30",
        example: "",
    },
    Col {
        field: "end",
        header: "结束时间",
        aliases: &["结束", "交班时间", "下班时间"],
        required: false,
        note: "如 17:30；早于或等于开始时间即为次日",
        example: "",
    },
    Col {
        field: "leader",
        header: "带班领导",
        aliases: &["值班领导", "带班领导姓名"],
        required: false,
        note: "一人",
        example: "林志强",
    },
    Col {
        field: "leader_phone",
        header: "带班领导电话",
        aliases: &["带班领导手机", "领导电话", "值班领导电话"],
        required: false,
        note: "用它识别联系人；本乡镇没有的号码会新建乡级联系人（职务：带班领导）",
        example: "139 5951 2468",
    },
    Col {
        field: "officers",
        header: "值班员",
        aliases: &["值班人员", "值班人", "值班员姓名"],
        required: false,
        note: "可填多人，用“、”或“,”分开，按叫应顺序",
        example: "陈建华、黄丽",
    },
    Col {
        field: "officer_phones",
        header: "值班员电话",
        aliases: &["值班人员电话", "值班员手机", "值班电话"],
        required: false,
        note: "与值班员一一对应，同样用“、”或“,”分开；本乡镇没有的号码会新建乡级联系人（职务：应急办值班）",
        example: "138 5050 1234、137 0595 6789",
    },
    Col {
        field: "note",
        header: "备注",
        aliases: &[],
        required: false,
        note: "",
        example: "",
    },
];

/// 班次 words and the preset (`duty::PRESETS`) they stand for.
const SHIFTS: &[(&[&str], &str)] = &[
    (&["白班", "日班", "白天"], "day"),
    (&["夜班", "晚班", "夜间"], "night"),
    (
        &["24小时", "24小时班", "全天", "全日", "24h", "24H"],
        "full",
    ),
];

/// A person of a row: a stored contact, or one the import adds (by phone).
#[derive(Debug, Clone, PartialEq)]
pub enum Person {
    Known(i64),
    New(String),
}

/// A contact the import adds: first named in some row, with the roles its
/// rows give it.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub phone: String,
    pub name: String,
    pub role: &'static str,
}

pub enum Op {
    Create {
        row: u32,
        valid: Valid,
        leader: Option<Person>,
        officers: Vec<Person>,
        new: Vec<NewContact>,
    },
    Update {
        id: i64,
        leader: Option<Person>,
        officers: Vec<Person>,
        note: Option<String>,
        new: Vec<NewContact>,
    },
}

pub struct DutyRoster;

/// A time cell: "08:30", a time Excel stored as a day's fraction (0.354…)
/// or as a date-time on its epoch ("1899-12-30 08:30").
fn time_cell(v: &str) -> Option<NaiveTime> {
    let last = v.split_whitespace().last()?;
    if last.contains('.')
        && let Ok(f) = last.parse::<f64>()
        && (0.0..1.0).contains(&f)
    {
        let minutes = (f * 1440.0).round() as u32 % 1440;
        return NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0);
    }
    parse_clock(last)
}

/// A 班次 cell: a word, or "08:00-18:00" (also —, ~, 至, 次日).
fn shift_cell(v: &str) -> Option<(NaiveTime, NaiveTime)> {
    let plain: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    for (words, code) in SHIFTS {
        if words.iter().any(|w| plain == *w || plain.starts_with(w)) {
            let (s, e) = duty::preset(code)?;
            return Some((parse_clock(s)?, parse_clock(e)?));
        }
    }
    let plain = plain.replace("次日", "");
    let (a, b) = plain.split_once(['-', '—', '–', '~', '～', '至', '到'])?;
    Some((time_cell(a)?, time_cell(b)?))
}

/// What the planning knows of the township's people.
struct People {
    by_phone: HashMap<String, (i64, ValidContact)>,
    /// Live contacts by name: their ids.
    by_name: HashMap<String, Vec<i64>>,
    /// Names by id, for the preview.
    names: HashMap<i64, (String, String)>,
    /// Numbers this file adds: name, first row.
    added: HashMap<String, (String, u32)>,
}

impl People {
    fn shown(&self, p: &Person) -> String {
        match p {
            Person::Known(id) => self.names.get(id).map_or_else(String::new, |(n, ph)| {
                format!("{n} {}", crate::phone::dialled(ph))
            }),
            Person::New(phone) => {
                let name = self.added.get(phone).map_or("", |(n, _)| n.as_str());
                format!("{name} {}", crate::phone::dialled(phone))
            }
        }
    }
}

/// The people of one column pair (names, phones) of a row, each matched;
/// problems at the column at fault; notes for the preview.
#[allow(clippy::too_many_arguments)]
fn people(
    row: &Row,
    names_field: &str,
    phones_field: &str,
    role: &'static str,
    known: &mut People,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
    new: &mut Vec<NewContact>,
) -> Option<Vec<Person>> {
    let names = row.get(names_field).map(cells::list).unwrap_or_default();
    let phones = row.get(phones_field).map(cells::list).unwrap_or_default();
    if names.is_empty() && phones.is_empty() {
        return None;
    }
    let names_col = header(COLUMNS, names_field);
    let phones_col = header(COLUMNS, phones_field);
    let mut problem = |col: &str, m: String| problems.push(Problem::new(row.number, col, m));
    if !phones.is_empty() && !names.is_empty() && phones.len() != names.len() {
        problem(
            phones_col,
            format!(
                "{names_col}有 {} 人，电话有 {} 个：应一一对应",
                names.len(),
                phones.len()
            ),
        );
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..names.len().max(phones.len()) {
        let name = names.get(i).cloned();
        let Some(phone) = phones.get(i) else {
            // No phone: the one live contact of that name.
            let name = name.unwrap_or_default();
            match known.by_name.get(&name).map(Vec::as_slice) {
                Some([id]) => out.push(Person::Known(*id)),
                Some([_, _, ..]) => problem(
                    phones_col,
                    format!("本乡镇有多个名为“{name}”的联系人：请填写电话"),
                ),
                _ => problem(
                    phones_col,
                    format!("本乡镇没有名为“{name}”的联系人：请填写电话（将新建联系人）"),
                ),
            }
            continue;
        };
        let phone = match cells::phone(phone) {
            Ok(p) => p.as_str().to_string(),
            Err(m) => {
                problem(phones_col, m);
                continue;
            }
        };
        if let Some((id, c)) = known.by_phone.get(&phone) {
            if !c.active {
                problem(
                    phones_col,
                    format!(
                        "{} 是联系人“{}”，已停用：请先在联系人中启用",
                        crate::phone::dialled(&phone),
                        c.name
                    ),
                );
                continue;
            }
            if let Some(n) = &name
                && *n != c.name
            {
                notes.push(format!(
                    "{} 是联系人“{}”（表中写作“{n}”）",
                    crate::phone::dialled(&phone),
                    c.name
                ));
            }
            out.push(Person::Known(*id));
            continue;
        }
        if let Some(n) = &name
            && let Err(e) = crate::validate::required_text("name", n, 64)
        {
            problem(names_col, format!("“{n}”不能作为姓名：{}", e.message));
            continue;
        }
        let Some(name) = name else {
            problem(
                names_col,
                format!(
                    "{} 不是本乡镇联系人的号码：请填写姓名（将新建联系人）",
                    crate::phone::dialled(&phone)
                ),
            );
            continue;
        };
        match known.added.get(&phone) {
            Some((first_name, first)) if *first_name != name => {
                problem(
                    phones_col,
                    format!("与第{first}行同一号码，但姓名不同（“{first_name}”）"),
                );
                continue;
            }
            Some(_) => {}
            None => {
                known
                    .added
                    .insert(phone.clone(), (name.clone(), row.number));
            }
        }
        // Said on every row naming them: only the good rows may be imported.
        notes.push(format!(
            "新建联系人：{name} {}（{role}）",
            crate::phone::dialled(&phone)
        ));
        new.push(NewContact {
            phone: phone.clone(),
            name,
            role,
        });
        out.push(Person::New(phone));
    }
    Some(out)
}

impl Importer for DutyRoster {
    type Op = Op;

    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Op>>, ImportError> {
        // One roster write at a time per township, from the look to the write.
        duty::lock_roster(conn, ctx.township).await?;
        let by_phone = contacts::by_phone(conn, ctx.township).await?;
        let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
        let mut names = HashMap::new();
        for (phone, (id, c)) in &by_phone {
            by_name.entry(c.name.clone()).or_default().push(*id);
            names.insert(*id, (c.name.clone(), phone.clone()));
        }
        let mut known = People {
            by_phone,
            by_name,
            names,
            added: HashMap::new(),
        };
        // The stored shifts the file's days may touch.
        let spans: Vec<Option<(i64, i64)>> = rows.iter().map(|r| span_of(r, ctx).ok()).collect();
        let lo = spans.iter().flatten().map(|s| s.0).min().unwrap_or(0);
        let hi = spans.iter().flatten().map(|s| s.1).max().unwrap_or(0);
        let stored = if hi > lo {
            shifts::in_range(conn, ctx.township, lo, hi, ctx.tz).await?
        } else {
            Vec::new()
        };
        // People named on a stored shift who are no contact of the
        // township's now (archived): shown by name all the same.
        for s in &stored {
            for p in s.leader.iter().chain(&s.officers) {
                known
                    .names
                    .entry(p.contact_id)
                    .or_insert_with(|| (p.name.clone(), p.phone.clone()));
            }
        }
        let mut seen: Vec<(i64, i64, u32)> = Vec::new();
        Ok(rows
            .iter()
            .map(|row| plan_row(row, ctx, &stored, &mut known, &mut seen))
            .collect())
    }

    async fn apply(_: &mut AnyConnection, _: &Ctx, _: Op) -> Result<(), ImportError> {
        // Every row is written by `apply_all`: the people it adds first.
        Ok(())
    }

    async fn apply_all(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        ops: Vec<Op>,
    ) -> Result<(), ImportError> {
        // The people the rows add, each once, with every role the rows give.
        let mut adding: Vec<(String, String, Vec<&'static str>)> = Vec::new();
        for op in &ops {
            let (Op::Create { new, .. } | Op::Update { new, .. }) = op;
            for n in new {
                match adding.iter_mut().find(|(phone, _, _)| *phone == n.phone) {
                    Some((_, _, roles)) if !roles.contains(&n.role) => roles.push(n.role),
                    Some(_) => {}
                    None => adding.push((n.phone.clone(), n.name.clone(), vec![n.role])),
                }
            }
        }
        let mut added: HashMap<String, i64> = HashMap::new();
        for (phone, name, mut roles) in adding {
            roles.sort_unstable();
            let v = ValidContact {
                name,
                roles,
                village_id: None,
                phone: phone.clone(),
                email: None,
                escalation_order: 100,
                active: true,
                note: Some("由值班表导入".into()),
            };
            let id = contacts::insert_valid(conn, &v, ctx.township, false).await?;
            added.insert(phone, id);
        }
        let id_of = |p: &Person| match p {
            Person::Known(id) => Ok(*id),
            Person::New(phone) => added
                .get(phone)
                .copied()
                .ok_or_else(|| ImportError::Conflict(format!("{phone} 未能新建为联系人"))),
        };
        for op in ops {
            match op {
                Op::Create {
                    row,
                    mut valid,
                    leader,
                    officers,
                    ..
                } => {
                    valid.leader_id = leader.as_ref().map(id_of).transpose()?;
                    valid.officer_ids = officers.iter().map(id_of).collect::<Result<_, _>>()?;
                    shifts::insert_valid(conn, ctx.township, &valid, false, ctx.tz)
                        .await
                        .map_err(|e| refused(row, e))?;
                }
                Op::Update {
                    id,
                    leader,
                    officers,
                    note,
                    ..
                } => {
                    let leader = leader.as_ref().map(id_of).transpose()?;
                    let officers: Vec<i64> =
                        officers.iter().map(id_of).collect::<Result<_, _>>()?;
                    shifts::update_people(conn, id, ctx.township, leader, &officers, &note).await?;
                }
            }
        }
        Ok(())
    }
}

/// A write refused after the plan allowed it (it cannot, in one
/// transaction under the roster lock, but says which row if it does).
fn refused(row: u32, e: WriteError) -> ImportError {
    match e {
        WriteError::Store(s) => ImportError::Store(s),
        WriteError::Invalid(f) => ImportError::Conflict(format!("第{row}行：{}", f.message)),
        WriteError::Conflict(m) => ImportError::Conflict(format!("第{row}行：{m}")),
        WriteError::NotFound => ImportError::Conflict(format!("第{row}行：记录不存在")),
    }
}

/// The row's shift as UTC milliseconds, or the problem with its times.
fn span_of(row: &Row, ctx: &Ctx) -> Result<(i64, i64), Problem> {
    let (valid, _) = times_of(row, ctx)?;
    Ok((valid.starts_at, valid.ends_at))
}

/// The row's day and times as a checked shift (nobody on it yet).
fn times_of(row: &Row, ctx: &Ctx) -> Result<(Valid, String), Problem> {
    let p = |field: &str, m: String| Problem::new(row.number, header(COLUMNS, field), m);
    let date = match row.get("date").map(cells::date) {
        None => return Err(p("date", "必填".into())),
        Some(Err(m)) => return Err(p("date", m)),
        Some(Ok(d)) => d,
    };
    let explicit = match (row.get("start"), row.get("end")) {
        (Some(s), Some(e)) => match (time_cell(s), time_cell(e)) {
            (Some(s), Some(e)) => Some((s, e)),
            (None, _) => return Err(p("start", format!("“{s}”不是时间（应写作 08:30）"))),
            (_, None) => return Err(p("end", format!("“{e}”不是时间（应写作 17:30）"))),
        },
        (Some(_), None) => return Err(p("end", "填了开始时间，也要填结束时间".into())),
        (None, Some(_)) => return Err(p("start", "填了结束时间，也要填开始时间".into())),
        (None, None) => None,
    };
    let (start, end) = match (explicit, row.get("shift")) {
        (Some(t), _) => t,
        (None, Some(s)) => shift_cell(s).ok_or_else(|| {
            p(
                "shift",
                format!("“{s}”不是班次：应为 白班、夜班、24小时，或时间如 08:00-18:00"),
            )
        })?,
        (None, None) => {
            return Err(p(
                "shift",
                "请填写班次（白班、夜班、24小时）或开始、结束时间".into(),
            ));
        }
    };
    let (d, s, e, starts_at, ends_at) =
        shifts::times(ctx.tz, &date, &duty::clock(start), &duty::clock(end))
            .map_err(|f| p(if f.field == "date" { "date" } else { "shift" }, f.message))?;
    let hours = if e <= s {
        format!("{}–次日{}", duty::clock(s), duty::clock(e))
    } else {
        format!("{}–{}", duty::clock(s), duty::clock(e))
    };
    Ok((
        Valid {
            date: d,
            start: s,
            end: e,
            starts_at,
            ends_at,
            leader_id: None,
            officer_ids: Vec::new(),
            note: None,
        },
        hours,
    ))
}

fn plan_row(
    row: &Row,
    ctx: &Ctx,
    stored: &[DutyShift],
    known: &mut People,
    seen: &mut Vec<(i64, i64, u32)>,
) -> Planned<Op> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut new = Vec::new();
    let times = times_of(row, ctx);
    let leader = people(
        row,
        "leader",
        "leader_phone",
        LEADER_ON_DUTY,
        known,
        &mut problems,
        &mut notes,
        &mut new,
    );
    let officers = people(
        row,
        "officers",
        "officer_phones",
        DUTY_OFFICER,
        known,
        &mut problems,
        &mut notes,
        &mut new,
    );
    if leader.as_ref().is_some_and(|l| l.len() > 1) {
        problems.push(Problem::new(
            row.number,
            header(COLUMNS, "leader"),
            "带班领导只填一人",
        ));
    }
    if officers
        .as_ref()
        .is_some_and(|o| o.len() > shifts::MAX_OFFICERS)
    {
        problems.push(Problem::new(
            row.number,
            header(COLUMNS, "officers"),
            format!("值班员最多 {} 人", shifts::MAX_OFFICERS),
        ));
    }
    let note = row.get("note").map(str::to_string);
    if let Err(e) = duty::note("note", &note, 500) {
        problems.push(Problem::new(
            row.number,
            header(COLUMNS, "note"),
            format!("备注不符合要求：{}", e.message),
        ));
    }
    let (valid, hours) = match times {
        Ok(t) => t,
        Err(p) => {
            problems.insert(0, p);
            let shown = values(row, "", "", known, &leader, &officers, &notes);
            return Planned::refused(row, shown, problems);
        }
    };
    // Within the file: one shift at a time.
    match seen
        .iter()
        .find(|(s, e, _)| *s < valid.ends_at && *e > valid.starts_at)
    {
        Some((_, _, first)) => problems.push(Problem::new(
            row.number,
            header(COLUMNS, "date"),
            format!("与第{first}行的班次时间重叠"),
        )),
        None => seen.push((valid.starts_at, valid.ends_at, row.number)),
    }
    let same = stored
        .iter()
        .find(|s| s.starts_ms == valid.starts_at && s.ends_ms == valid.ends_at);
    if same.is_none()
        && let Some(other) = stored
            .iter()
            .find(|s| s.starts_ms < valid.ends_at && s.ends_ms > valid.starts_at)
    {
        problems.push(Problem::new(
            row.number,
            header(COLUMNS, "date"),
            format!(
                "与值班表中已有的班次（{} {}）重叠：请先在值班表中修改或删除那个班次",
                other.date,
                other.hours_zh()
            ),
        ));
    }
    // An empty cell keeps what the stored shift has.
    let leader = match (leader, same) {
        (Some(l), _) => l.into_iter().next(),
        (None, Some(s)) => s.leader.as_ref().map(|p| Person::Known(p.contact_id)),
        (None, None) => None,
    };
    let officers = match (officers, same) {
        (Some(o), _) => o,
        (None, Some(s)) => s
            .officers
            .iter()
            .map(|p| Person::Known(p.contact_id))
            .collect(),
        (None, None) => Vec::new(),
    };
    let note = note.or_else(|| same.and_then(|s| s.note.clone()));
    let kind = if valid.start == valid.end {
        "24小时班"
    } else if valid.end < valid.start {
        "夜班"
    } else {
        "白班"
    };
    if leader.is_none() {
        notes.push("无带班领导（将列入工作清单）".into());
    }
    if officers.is_empty() {
        notes.push("无值班员（将列入工作清单）".into());
    }
    let shown = if ctx.show_values {
        values(
            row,
            &hours,
            kind,
            known,
            &leader.clone().map(|l| vec![l]),
            &Some(officers.clone()),
            &notes,
        )
    } else {
        Vec::new()
    };
    if !problems.is_empty() {
        return Planned::refused(row, shown, problems);
    }
    match same {
        Some(s) => {
            let stored_leader = s.leader.as_ref().map(|p| Person::Known(p.contact_id));
            let stored_officers: Vec<Person> = s
                .officers
                .iter()
                .map(|p| Person::Known(p.contact_id))
                .collect();
            if stored_leader == leader && stored_officers == officers && s.note == note {
                Planned::ok(row, Action::Unchanged, shown, None)
            } else {
                Planned::ok(
                    row,
                    Action::Update,
                    shown,
                    Some(Op::Update {
                        id: s.id,
                        leader,
                        officers,
                        note,
                        new,
                    }),
                )
            }
        }
        None => {
            let mut valid = valid;
            valid.note = note;
            Planned::ok(
                row,
                Action::Create,
                shown,
                Some(Op::Create {
                    row: row.number,
                    valid,
                    leader,
                    officers,
                    new,
                }),
            )
        }
    }
}

fn values(
    row: &Row,
    hours: &str,
    kind: &str,
    known: &People,
    leader: &Option<Vec<Person>>,
    officers: &Option<Vec<Person>>,
    notes: &[String],
) -> Vec<(&'static str, String)> {
    let list = |ps: &Option<Vec<Person>>| {
        ps.as_ref()
            .map(|ps| {
                ps.iter()
                    .map(|p| known.shown(p))
                    .collect::<Vec<_>>()
                    .join("、")
            })
            .unwrap_or_default()
    };
    vec![
        ("日期", row.get("date").unwrap_or("").to_string()),
        ("时间", hours.to_string()),
        ("班次", kind.to_string()),
        ("带班领导", list(leader)),
        ("值班员", list(officers)),
        ("备注", row.get("note").unwrap_or("").to_string()),
        ("说明", notes.join("；")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_and_times_as_offices_write_them() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        assert_eq!(shift_cell("夜班"), Some((t(17, 30), t(8, 30))));
        assert_eq!(shift_cell(" 白 班 "), Some((t(8, 30), t(17, 30))));
        assert_eq!(shift_cell("24小时"), Some((t(8, 30), t(8, 30))));
        assert_eq!(shift_cell("08:00-18:00"), Some((t(8, 0), t(18, 0))));
        assert_eq!(shift_cell("18:00至次日8:00"), Some((t(18, 0), t(8, 0))));
        assert_eq!(shift_cell("8点—17点半"), Some((t(8, 0), t(17, 30))));
        assert_eq!(shift_cell("早上"), None);
        // Excel's time cells: a fraction of a day, or a time on its epoch.
        assert_eq!(time_cell("0.3541666666666667"), Some(t(8, 30)));
        assert_eq!(time_cell("1899-12-30 17:30"), Some(t(17, 30)));
        assert_eq!(time_cell("8:30"), Some(t(8, 30)));
    }
}

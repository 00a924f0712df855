//! 值班表 (`/duty`): this week and next, shift by shift, who is on now
//! highlighted and the gaps between shifts shown where they are; the form
//! that adds and edits a shift; deleting one; handovers (交接班) recorded
//! and listed. Laid out to be printed (the forms drop out on paper).

use std::collections::HashMap;

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone};

use super::html::{Errors, Form, FormData, Nav, Shell, local, render};
use super::i18n::Lang;
use super::{Ctx, Scoped, WebError, WebResult, see_other};
use crate::accounts::sessions::SessionUser;
use crate::app::AppState;
use crate::auth::Role;
use crate::duty::gaps::{self, GapKind};
use crate::duty::handovers::{self, HandoverInput};
use crate::duty::shifts::{self, DutyPerson, DutyShift, ShiftInput};
use crate::store::{WriteError, now_ms};

/// Days the page shows: this week and next.
const DAYS: i64 = 14;
/// Officer slots the form offers (more can be set through the API).
const SLOTS: usize = 4;

struct PersonLine {
    name: String,
    phone: String,
    tel: String,
    available: bool,
}

fn person(p: &DutyPerson) -> PersonLine {
    PersonLine {
        name: p.name.clone(),
        phone: crate::phone::dialled(&p.phone),
        tel: p.phone.clone(),
        available: p.available,
    }
}

struct ShiftLine {
    id: i64,
    date: String,
    weekday: &'static str,
    kind: &'static str,
    hours: String,
    leader: Option<PersonLine>,
    officers: Vec<PersonLine>,
    note: String,
    now: bool,
    sample: bool,
    version: i64,
}

struct GapLine {
    date: String,
    weekday: &'static str,
    text: String,
    add: String,
}

enum Line {
    Shift(ShiftLine),
    Gap(GapLine),
}

struct Section {
    township: Option<String>,
    lines: Vec<Line>,
}

struct NowLine {
    township: Option<String>,
    shift: Option<ShiftLine>,
}

struct HandoverLine {
    at: String,
    from: String,
    to: String,
    notes: String,
    recorded_by: String,
    sample: bool,
}

#[derive(Template)]
#[template(path = "duty/page.html")]
struct DutyPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    week: String,
    /// The Monday the page starts on (`?from=`), kept by its forms.
    from: String,
    prev: String,
    next: String,
    now_on: Vec<NowLine>,
    sections: Vec<Section>,
    editor: bool,
    handovers: Vec<HandoverLine>,
    hf: Form<'a>,
    staff: Vec<(String, String)>,
    printed: String,
    preparer: String,
    stale: bool,
}

fn weekday(lang: Lang, d: NaiveDate) -> &'static str {
    let zh = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    let en = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let i = d.weekday().num_days_from_monday() as usize;
    lang.t(zh[i], en[i])
}

fn md(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Zh => format!("{}月{}日", d.month(), d.day()),
        Lang::En => d.format("%-d %b").to_string(),
    }
}

fn shift_line(lang: Lang, s: &DutyShift, now: i64) -> ShiftLine {
    let d = NaiveDate::parse_from_str(&s.date, "%Y-%m-%d").ok();
    ShiftLine {
        id: s.id,
        date: d.map_or_else(|| s.date.clone(), |d| md(lang, d)),
        weekday: d.map_or("", |d| weekday(lang, d)),
        kind: lang.t(s.kind.label_zh(), s.kind.label_en()),
        hours: match lang {
            Lang::Zh => s.hours_zh(),
            Lang::En => s.hours_en(),
        },
        leader: s.leader.as_ref().map(person),
        officers: s.officers.iter().map(person).collect(),
        note: s.note.clone().unwrap_or_default(),
        now: s.covers(now),
        sample: s.sample,
        version: s.version,
    }
}

/// The township office keeps the roster; a village's user reads it.
fn office(ctx: &Ctx) -> bool {
    ctx.can(Role::Editor)
        && ctx
            .user
            .as_ref()
            .is_some_and(|u| u.scope.village().is_none())
}

fn need_office(ctx: &Ctx) -> Result<&SessionUser, WebError> {
    let user = ctx.need(Role::Editor)?;
    if user.scope.village().is_some() {
        return Err(WebError::Forbidden(Role::Editor));
    }
    Ok(user)
}

/// The Monday of the week the page starts (`?from=`, else this week).
fn week_start(q: &FormData, tz: chrono_tz::Tz) -> NaiveDate {
    let day = NaiveDate::parse_from_str(q.get("from").trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .unwrap_or_else(|| crate::time::today(tz));
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn staff_options(ctx: &Ctx, rows: &[(i64, String, String)]) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), ctx.t("（无）", "(none)").to_string())];
    out.extend(rows.iter().map(|(id, name, phone)| {
        (
            id.to_string(),
            format!("{name} {}", crate::phone::dialled(phone)),
        )
    }));
    out
}

fn handover_label(lang: Lang, field: &str) -> String {
    match field {
        "from_contact_id" => lang.t("交班人", "Handed over by"),
        "to_contact_id" => lang.t("接班人", "Taken over by"),
        "at" => lang.t("交接时间", "When"),
        "notes" => lang.t("交接事项", "What was handed over"),
        "shift_id" => lang.t("班次", "Shift"),
        other => other,
    }
    .to_string()
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut hf = FormData::default();
    hf.set(
        "at",
        chrono::Utc::now()
            .with_timezone(&s.tz)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
    );
    show(&s, &ctx, &q, hf, Errors::default(), StatusCode::OK).await
}

async fn show(
    s: &AppState,
    ctx: &Ctx,
    q: &FormData,
    mut hf: FormData,
    herrors: Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let tz = s.tz;
    let now = now_ms();
    let first = week_start(q, tz);
    let last = first + Duration::days(DAYS - 1);
    let (from, until) = crate::duty::days_span(tz, first, last).ok_or(WebError::NotFound)?;
    let all = shifts::list(&s.db, from, until, tz).await?;
    let several = crate::county::sees_several(&s.db);
    let towns = if several {
        crate::county::township_names(&s.db).await?
    } else {
        HashMap::new()
    };
    let own = ctx.user.as_ref().map_or(0, |u| u.township);
    let mut ids: Vec<i64> = all.iter().map(|x| x.township_id).collect();
    if !several || towns.contains_key(&own) {
        ids.push(own);
    }
    ids.sort_unstable();
    ids.dedup();
    let mut sections = Vec::new();
    for t in ids {
        let mine: Vec<&DutyShift> = all.iter().filter(|x| x.township_id == t).collect();
        let gaps: Vec<gaps::RosterGap> = if mine.is_empty() {
            Vec::new()
        } else {
            gaps::of_shifts(t, &mine, from, until, tz)
                .into_iter()
                .filter(|g| g.kind == GapKind::Uncovered)
                .collect()
        };
        let mut timed: Vec<(i64, Line)> = mine
            .iter()
            .map(|x| (x.starts_ms, Line::Shift(shift_line(lang, x, now))))
            .collect();
        for g in gaps {
            let d = NaiveDate::parse_from_str(&g.date, "%Y-%m-%d").unwrap_or(first);
            timed.push((
                g.from_ms,
                Line::Gap(GapLine {
                    date: md(lang, d),
                    weekday: weekday(lang, d),
                    text: match lang {
                        Lang::Zh => format!(
                            "{} – {}",
                            crate::duty::md_hm(g.from_ms, tz),
                            crate::duty::md_hm(
                                crate::time::parse_rfc3339(&g.until).unwrap_or(g.from_ms),
                                tz
                            )
                        ),
                        Lang::En => format!(
                            "{} – {}",
                            crate::duty::md_hm_en(g.from_ms, tz),
                            crate::duty::md_hm_en(
                                crate::time::parse_rfc3339(&g.until).unwrap_or(g.from_ms),
                                tz
                            )
                        ),
                    },
                    add: format!("/duty/shifts/new?date={}", g.date),
                }),
            ));
        }
        timed.sort_by_key(|(at, _)| *at);
        sections.push(Section {
            township: several.then(|| towns.get(&t).cloned().unwrap_or_default()),
            lines: timed.into_iter().map(|(_, l)| l).collect(),
        });
    }
    let now_on = shifts::on_duty_now(&s.db, now, tz)
        .await?
        .into_iter()
        .filter(|n| !several || n.shift.is_some() || n.township_id == own)
        .map(|n| NowLine {
            township: several.then(|| n.township.clone()),
            shift: n.shift.as_ref().map(|x| shift_line(lang, x, now)),
        })
        .collect();
    let editor = office(ctx);
    let staff = if editor {
        staff_options(ctx, &shifts::staff(&s.db, own).await?)
    } else {
        Vec::new()
    };
    // The handover form starts from who is on now and who comes next.
    if hf.get("from_contact_id").is_empty() && hf.get("to_contact_id").is_empty() {
        let mine: Vec<&DutyShift> = all.iter().filter(|x| x.township_id == own).collect();
        if let Some(cur) = mine.iter().find(|x| x.covers(now))
            && let Some(p) = cur.officers.first()
        {
            hf.set("from_contact_id", p.contact_id.to_string());
        }
        if let Some(next) = mine.iter().find(|x| x.starts_ms > now)
            && let Some(p) = next.officers.first()
        {
            hf.set("to_contact_id", p.contact_id.to_string());
        }
    }
    let handovers = handovers::list(&s.db, from, until, tz)
        .await?
        .into_iter()
        .map(|h| HandoverLine {
            at: crate::duty::md_hm(crate::time::parse_rfc3339(&h.at).unwrap_or(0), tz),
            from: format!("{} {}", h.from.name, crate::phone::dialled(&h.from.phone)),
            to: format!("{} {}", h.to.name, crate::phone::dialled(&h.to.phone)),
            notes: h.notes.unwrap_or_default(),
            recorded_by: super::audit_words::actor_words(lang, &h.recorded_by),
            sample: h.sample,
        })
        .collect();
    let mut shell = Shell::new(ctx, ctx.t("值班表", "Duty roster"), Nav::Duty);
    shell.class = "printable";
    let week = format!("{} – {}", md(lang, first), md(lang, last));
    Ok(render(
        status,
        &DutyPage {
            shell,
            lang,
            week,
            from: first.to_string(),
            prev: format!("/duty?from={}", first - Duration::days(7)),
            next: format!("/duty?from={}", first + Duration::days(7)),
            now_on,
            sections,
            editor,
            handovers,
            hf: Form::new(lang, &hf, &herrors, handover_label),
            staff,
            printed: local(now, tz),
            preparer: super::html::signer(ctx),
            stale: q.get("stale") == "1",
        },
    ))
}

/// 交接班: recorded, then the page again; refusals beside the field.
pub async fn handover(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    let user = need_office(&ctx)?;
    let mut errors = Errors::default();
    let from = f.whole("from_contact_id", &mut errors);
    let to = f.whole("to_contact_id", &mut errors);
    if from.is_none() && errors.get("from_contact_id").is_none() {
        errors.add("from_contact_id", "choose who handed over");
    }
    if to.is_none() && errors.get("to_contact_id").is_none() {
        errors.add("to_contact_id", "choose who took over");
    }
    let at = match f.opt("at") {
        None => None,
        Some(t) => match NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|d| s.tz.from_local_datetime(&d).earliest())
        {
            Some(d) => Some(d.to_rfc3339()),
            None => {
                errors.add("at", format!("'{t}' is not a date and time"));
                None
            }
        },
    };
    let q = FormData::default();
    let (Some(from), Some(to), true) = (from, to, errors.is_empty()) else {
        return show(&s, &ctx, &q, f, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let input = HandoverInput {
        from_contact_id: from,
        to_contact_id: to,
        at,
        shift_id: f.opt("shift_id").and_then(|v| v.parse().ok()),
        notes: f.opt("notes"),
    };
    match handovers::record(&s.db, &user.actor(), &input, false, s.tz).await {
        Ok(_) => Ok(see_other("/duty#handovers")),
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            show(&s, &ctx, &q, f, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Conflict(m)) => {
            errors.add("notes", m);
            show(&s, &ctx, &q, f, errors, StatusCode::CONFLICT).await
        }
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "duty/form.html")]
struct ShiftForm<'a> {
    shell: Shell<'a>,
    lang: Lang,
    action: String,
    f: Form<'a>,
    kinds: Vec<(String, String)>,
    people: Vec<(String, String)>,
    slots: Vec<(String, String)>,
    conflict: bool,
    back: String,
}

fn shift_label(lang: Lang, field: &str) -> String {
    if let Some(n) = field.strip_prefix("officer_") {
        return format!("{}{n}", lang.t("值班员", "Duty officer "));
    }
    match field {
        "date" => lang.t("日期", "Day"),
        "kind" => lang.t("班次", "Shift"),
        "start" => lang.t("开始时间", "Starts"),
        "end" => lang.t("结束时间", "Ends"),
        "leader_id" => lang.t("带班领导", "Leader on shift"),
        "note" => lang.t("备注", "Note"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    s: &AppState,
    ctx: &Ctx,
    id: Option<i64>,
    township: i64,
    on_shift: &[DutyPerson],
    v: &FormData,
    errors: &Errors,
    conflict: bool,
    status: StatusCode,
) -> WebResult {
    let (title, action) = match id {
        None => (
            ctx.t("新增班次", "New shift"),
            "/duty/shifts/new".to_string(),
        ),
        Some(i) => (
            ctx.t("修改班次", "Edit shift"),
            format!("/duty/shifts/{i}/edit"),
        ),
    };
    let mut kinds = vec![(
        "custom".to_string(),
        ctx.t("按下面的时间", "The times below").to_string(),
    )];
    kinds.extend(
        crate::duty::PRESETS.iter().map(|(code, zh, en, a, b)| {
            (code.to_string(), format!("{}（{a}–{b}）", ctx.t(zh, en)))
        }),
    );
    let mut rows = shifts::staff(&s.db, township).await?;
    for p in on_shift {
        if !rows.iter().any(|r| r.0 == p.contact_id) {
            rows.push((p.contact_id, p.name.clone(), p.phone.clone()));
        }
    }
    let n = on_shift.len().max(SLOTS);
    let slots = (1..=n)
        .map(|i| {
            (
                format!("officer_{i}"),
                format!(
                    "{}{i}{}",
                    ctx.t("值班员（第", "Duty officer "),
                    ctx.t("位）", "")
                ),
            )
        })
        .collect();
    let back = match NaiveDate::parse_from_str(v.get("date"), "%Y-%m-%d") {
        Ok(d) => format!("/duty?from={d}"),
        Err(_) => "/duty".to_string(),
    };
    Ok(render(
        status,
        &ShiftForm {
            shell: Shell::new(ctx, title, Nav::Duty),
            lang: ctx.lang,
            action,
            f: Form::new(ctx.lang, v, errors, shift_label),
            kinds,
            people: staff_options(ctx, &rows),
            slots,
            conflict,
            back,
        },
    ))
}

fn as_form(x: &DutyShift) -> FormData {
    let mut f = FormData::default();
    f.set("date", x.date.clone());
    f.set("kind", "custom");
    f.set("start", x.start.clone());
    f.set("end", x.end.clone());
    if let Some(l) = &x.leader {
        f.set("leader_id", l.contact_id.to_string());
    }
    for (i, o) in x.officers.iter().enumerate() {
        f.set(&format!("officer_{}", i + 1), o.contact_id.to_string());
    }
    f.set("note", x.note.clone().unwrap_or_default());
    f.set("version", x.version.to_string());
    f
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    let user = need_office(&ctx)?;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut f = FormData::default();
    let date = NaiveDate::parse_from_str(q.get("date"), "%Y-%m-%d")
        .unwrap_or_else(|_| crate::time::today(s.tz));
    f.set("date", date.to_string());
    let kind = q.get("kind");
    let (kind, (a, b)) = match crate::duty::preset(kind) {
        Some(t) => (kind, t),
        None => (
            "full",
            crate::duty::preset("full").unwrap_or(("08:30", "08:30")),
        ),
    };
    f.set("kind", kind);
    f.set("start", a);
    f.set("end", b);
    let township = user.township;
    form_page(
        &s,
        &ctx,
        None,
        township,
        &[],
        &f,
        &Errors::default(),
        false,
        StatusCode::OK,
    )
    .await
}

pub async fn edit(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    need_office(&ctx)?;
    let x = shifts::get(&s.db, id, s.tz)
        .await?
        .filter(|x| !x.archived)
        .ok_or(WebError::NotFound)?;
    let people: Vec<DutyPerson> = x.leader.iter().chain(&x.officers).cloned().collect();
    form_page(
        &s,
        &ctx,
        Some(id),
        x.township_id,
        &people,
        &as_form(&x),
        &Errors::default(),
        false,
        StatusCode::OK,
    )
    .await
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
    save(s, ctx, None, f).await
}

pub async fn update(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    save(s, ctx, Some(id), f).await
}

/// The form's officers in slot order, blanks left out; a slot that is not
/// a number is an error beside it.
fn officers(f: &FormData, errors: &mut Errors) -> (Vec<i64>, Vec<String>) {
    let mut ids = Vec::new();
    let mut slots = Vec::new();
    for i in 1..=shifts::MAX_OFFICERS {
        let name = format!("officer_{i}");
        if let Some(id) = f.whole(&name, errors) {
            ids.push(id);
            slots.push(name);
        }
    }
    (ids, slots)
}

async fn save(s: AppState, ctx: Ctx, id: Option<i64>, mut f: FormData) -> WebResult {
    let user = need_office(&ctx)?;
    // Another township's shift (or none): not found, before anything is shown.
    let before = match id {
        Some(id) => Some(
            shifts::get(&s.db, id, s.tz)
                .await?
                .filter(|x| !x.archived)
                .ok_or(WebError::NotFound)?,
        ),
        None => None,
    };
    let township = before.as_ref().map_or(user.township, |b| b.township_id);
    let on_shift: Vec<DutyPerson> = before
        .iter()
        .flat_map(|b| b.leader.iter().chain(&b.officers).cloned())
        .collect();
    // A preset fills the times it stands for.
    if let Some((a, b)) = crate::duty::preset(f.get("kind")) {
        f.set("start", a);
        f.set("end", b);
    }
    let mut errors = Errors::default();
    let leader_id = f.whole("leader_id", &mut errors);
    let (officer_ids, slots) = officers(&f, &mut errors);
    if !errors.is_empty() {
        return form_page(
            &s,
            &ctx,
            id,
            township,
            &on_shift,
            &f,
            &errors,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let input = ShiftInput {
        date: f.get("date").to_string(),
        start: f.get("start").to_string(),
        end: f.get("end").to_string(),
        leader_id,
        officer_ids,
        note: f.opt("note"),
        version: f.get("version").trim().parse().ok(),
    };
    let actor = user.actor();
    let saved = match id {
        None => shifts::create(&s.db, &actor, &input, false, s.tz).await,
        Some(id) => shifts::update(&s.db, &actor, id, &input, s.tz).await,
    };
    match saved {
        Ok(x) => {
            let monday = NaiveDate::parse_from_str(&x.date, "%Y-%m-%d")
                .map(|d| d - Duration::days(i64::from(d.weekday().num_days_from_monday())))
                .map_or_else(|_| String::new(), |d| d.to_string());
            Ok(see_other(&format!("/duty?from={monday}#shift-{}", x.id)))
        }
        Err(WriteError::Invalid(e)) => {
            // `officer_ids[i]` is the i-th filled slot.
            let field = match e.field.strip_prefix("officer_ids") {
                Some(rest) => rest
                    .trim_matches(['[', ']'])
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| slots.get(i).cloned())
                    .unwrap_or_else(|| "officer_1".into()),
                None => e.field.clone(),
            };
            let field = if field == "kind" {
                "start".into()
            } else {
                field
            };
            errors.add(&field, e.message);
            form_page(
                &s,
                &ctx,
                id,
                township,
                &on_shift,
                &f,
                &errors,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(WriteError::Conflict(m)) => {
            let Some(id) = id else {
                return Err(WebError::Internal("conflict on create".into()));
            };
            let cur = shifts::get(&s.db, id, s.tz)
                .await?
                .ok_or(WebError::NotFound)?;
            f.set("version", cur.version.to_string());
            errors.add("version", m);
            form_page(
                &s,
                &ctx,
                Some(id),
                township,
                &on_shift,
                &f,
                &errors,
                true,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

pub async fn delete(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = need_office(&ctx)?;
    let version = f.get("version").trim().parse::<i64>().ok();
    let back = f
        .opt("from")
        .filter(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
        .map_or_else(|| "/duty".to_string(), |d| format!("/duty?from={d}"));
    match shifts::delete(&s.db, &user.actor(), id, version, s.tz).await {
        Ok(_) | Err(WriteError::Invalid(_)) => Ok(see_other(&back)),
        Err(WriteError::Conflict(_)) => Ok(see_other("/duty?stale=1")),
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

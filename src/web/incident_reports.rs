//! 上报 (`/incidents/{id}/reports`): an incident's reports upward (初报,
//! 续报一 …, 核报) and the form for the next one, prefilled from what the
//! system knows now (and the last report's figures); one report printable
//! with its facts, the office's figures, the version history and an edit
//! form (each save a new version), and its `.xlsx`. Through
//! `incidents::reports`, like the API. Not for village users.

use super::Scoped;
use askama::Template;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render as render_page, signer};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::incidents::IncidentRow;
use crate::incidents::reports::{
    self, COUNTS, IncidentReport, IncidentReportInput, IncidentReportSummary, Kind, ReportFacts,
    ReportFields, ReportVersion,
};
use crate::store::WriteError;

fn label(lang: Lang, field: &str) -> String {
    if let Some((_, zh, en)) = COUNTS.iter().find(|(n, _, _)| *n == field) {
        return lang.t(zh, en).to_string();
    }
    match field {
        "kind" => lang.t("报告类别", "Report"),
        "economic_loss" => lang.t("直接经济损失（万元）", "Direct economic loss (10,000 yuan)"),
        "situation" => lang.t("基本情况", "What happened"),
        "handling" => lang.t("处置情况", "What was done"),
        "reporter" => lang.t("报告人", "Reported by"),
        "signer" => lang.t("签发领导", "Signed off by"),
        "version" => lang.t("版本", "Version"),
        other => other,
    }
    .to_string()
}

/// Signed in, at least `role`, and of the township office (not a village).
fn office(ctx: &Ctx, role: Role) -> Result<&crate::accounts::sessions::SessionUser, WebError> {
    let user = ctx.need(role)?;
    if !crate::app::township_office(&user.scope) {
        return Err(WebError::Forbidden(Role::Dispatcher));
    }
    Ok(user)
}

async fn incident(s: &AppState, id: i64) -> Result<IncidentRow, WebError> {
    crate::incidents::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// A form's values from a report's fields.
fn values(f: &ReportFields) -> FormData {
    let mut v = FormData::default();
    for (name, _, _) in COUNTS {
        if let Some(n) = f.count(name) {
            v.set(name, n.to_string());
        }
    }
    if let Some(x) = f.economic_loss {
        v.set("economic_loss", x.to_string());
    }
    for (k, t) in [
        ("situation", &f.situation),
        ("handling", &f.handling),
        ("reporter", &f.reporter),
        ("signer", &f.signer),
    ] {
        if let Some(t) = t {
            v.set(k, t.clone());
        }
    }
    v
}

/// The input a form gives; numbers that are not numbers go into `errors`.
fn input(f: &FormData, errors: &mut Errors) -> IncidentReportInput {
    let whole = |k: &str, errors: &mut Errors| f.whole(k, errors);
    IncidentReportInput {
        kind: Kind::parse(f.get("kind")),
        version: None,
        refresh_facts: f.get("refresh_facts") == "1",
        deaths: whole("deaths", errors),
        missing: whole("missing", errors),
        injured: whole("injured", errors),
        affected: whole("affected", errors),
        relocated: whole("relocated", errors),
        houses_collapsed: whole("houses_collapsed", errors),
        houses_damaged: whole("houses_damaged", errors),
        economic_loss: f.decimal("economic_loss", errors),
        situation: f.opt("situation"),
        handling: f.opt("handling"),
        reporter: f.opt("reporter"),
        signer: f.opt("signer"),
    }
}

/// One village's line as the pages show it.
struct VillageLine {
    village: String,
    notices: i64,
    recipients: i64,
    answered: i64,
    percent: f64,
}

fn village_lines(f: &ReportFacts) -> Vec<VillageLine> {
    f.village_answers
        .iter()
        .map(|v| VillageLine {
            village: v.village.clone(),
            notices: v.notices,
            recipients: v.recipients,
            answered: v.answered,
            percent: reports::percent(v.answer_rate),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "incidents/reports.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    incident: i64,
    plan_title: String,
    items: Vec<IncidentReportSummary>,
    editor: bool,
    kinds: Vec<(String, String)>,
    facts: ReportFacts,
    villages: Vec<VillageLine>,
    f: Form<'a>,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    office(&ctx, Role::Viewer)?;
    let inc = incident(&s, id).await?;
    let made = reports::list(&s.db, inc.id, s.tz).await?;
    let next = reports::next_kinds(&made);
    let kind = next.last().copied().unwrap_or(Kind::Initial);
    let facts = crate::app::report_facts(&s, &inc, kind).await?;
    // The figures carry on from the last report; 紧急转移人数 from the transfers.
    let mut v = match reports::latest_fields(&s.db, inc.id).await? {
        Some(f) => values(&f),
        None => FormData::default(),
    };
    if let Some(t) = &facts.transfers
        && v.get("relocated").is_empty()
    {
        v.set("relocated", t.totals.moved.persons.to_string());
    }
    v.set(
        "kind",
        next.first().copied().unwrap_or(Kind::Initial).as_str(),
    );
    list_page(
        &s,
        &ctx,
        &inc,
        made,
        facts,
        &v,
        &Errors::default(),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    s: &AppState,
    ctx: &Ctx,
    inc: &IncidentRow,
    items: Vec<IncidentReportSummary>,
    facts: ReportFacts,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let kinds = reports::next_kinds(&items)
        .into_iter()
        .map(|k| {
            let n = items.iter().filter(|r| r.kind == Kind::Followup).count() as i64 + 1;
            let name = match k {
                Kind::Followup => reports::label(k, n),
                k => k.zh().to_string(),
            };
            let shown = match lang {
                Lang::Zh => name,
                Lang::En => format!("{name} ({})", k.en()),
            };
            (k.as_str().to_string(), shown)
        })
        .collect();
    Ok(render_page(
        status,
        &ListPage {
            shell: Shell::new(ctx, ctx.t("事件上报", "Reports upward"), Nav::Plans),
            lang,
            incident: inc.id,
            plan_title: crate::app::plan_title(s, inc).await,
            editor: ctx.can(Role::Editor),
            kinds,
            villages: village_lines(&facts),
            facts,
            items,
            f: Form::new(lang, v, errors, label),
        },
    ))
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = office(&ctx, Role::Editor)?;
    let inc = incident(&s, id).await?;
    let mut errors = Errors::default();
    let input = input(&f, &mut errors);
    let kind = input.kind.unwrap_or(Kind::Initial);
    let facts = crate::app::report_facts(&s, &inc, kind).await?;
    let outcome = if errors.is_empty() {
        reports::create(
            &s.db,
            &user.actor().name,
            &inc,
            &input,
            facts.clone(),
            false,
            s.tz,
        )
        .await
        .map(Some)
    } else {
        Ok(None)
    };
    let status = match outcome {
        Ok(Some(r)) => {
            return Ok(see_other(&format!(
                "/incidents/{id}/reports/{}",
                r.report.id
            )));
        }
        Ok(None) => StatusCode::UNPROCESSABLE_ENTITY,
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(WriteError::Conflict(m)) => {
            errors.add("kind", m);
            StatusCode::CONFLICT
        }
        Err(WriteError::NotFound) => return Err(WebError::NotFound),
        Err(WriteError::Store(e)) => return Err(e.into()),
    };
    let made = reports::list(&s.db, inc.id, s.tz).await?;
    list_page(&s, &ctx, &inc, made, facts, &f, &errors, status).await
}

/// One history line.
struct VersionLine {
    version: i64,
    made_by: String,
    made_at: String,
}

#[derive(Template)]
#[template(path = "incidents/report.html")]
struct ReportPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    incident: i64,
    r: &'a IncidentReportSummary,
    v: &'a ReportVersion,
    /// The latest version (the edit is made from it).
    latest: i64,
    history: Vec<VersionLine>,
    counts: Vec<(String, String)>,
    villages: Vec<VillageLine>,
    editor: bool,
    signer: String,
    f: Form<'a>,
    problem: Option<(String, String)>,
}

impl ReportPage<'_> {
    fn actor(&self, a: &str) -> String {
        super::audit_words::actor_words(self.lang, a)
    }
    fn short(&self, t: &str) -> String {
        super::transfers::short(t)
    }
}

/// `?v=N`: which version to show.
fn wanted(q: &RawQuery) -> Option<i64> {
    let q = q.0.as_deref().unwrap_or_default();
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "v")
        .and_then(|(_, v)| v.parse().ok())
}

async fn report_of(s: &AppState, incident: i64, rid: i64) -> Result<IncidentReport, WebError> {
    // The incident in scope, and the report of it.
    let inc = self::incident(s, incident).await?;
    reports::get(&s.db, rid, s.tz)
        .await?
        .filter(|r| r.report.incident_id == inc.id)
        .ok_or(WebError::NotFound)
}

pub async fn show(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path((id, rid)): Path<(i64, i64)>,
    q: RawQuery,
) -> WebResult {
    office(&ctx, Role::Viewer)?;
    let r = report_of(&s, id, rid).await?;
    let shown = wanted(&q).unwrap_or(r.report.version);
    let v = r.at(shown).ok_or(WebError::NotFound)?;
    let form = values(&v.fields);
    report_page(&ctx, &r, v, &form, &Errors::default(), None, StatusCode::OK)
}

fn report_page(
    ctx: &Ctx,
    r: &IncidentReport,
    v: &ReportVersion,
    form: &FormData,
    errors: &Errors,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let counts = COUNTS
        .iter()
        .map(|(name, zh, en)| {
            (
                lang.t(zh, en).to_string(),
                v.fields
                    .count(name)
                    .map_or_else(String::new, |n| n.to_string()),
            )
        })
        .collect();
    let mut shell = Shell::new(
        ctx,
        format!("{} {}", r.report.label, lang.t("事件上报", "report upward")),
        Nav::Plans,
    );
    shell.class = "printable";
    Ok(render_page(
        status,
        &ReportPage {
            shell,
            lang,
            incident: r.report.incident_id,
            r: &r.report,
            v,
            latest: r.report.version,
            history: r
                .versions
                .iter()
                .map(|x| VersionLine {
                    version: x.version,
                    made_by: x.made_by.clone(),
                    made_at: x.made_at.clone(),
                })
                .collect(),
            counts,
            villages: village_lines(&v.facts),
            editor: ctx.can(Role::Editor),
            signer: signer(ctx),
            f: Form::new(lang, form, errors, label),
            problem,
        },
    ))
}

/// A new version of the report from the edit form.
pub async fn revise(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path((id, rid)): Path<(i64, i64)>,
    f: FormData,
) -> WebResult {
    let user = office(&ctx, Role::Editor)?;
    let r = report_of(&s, id, rid).await?;
    let mut errors = Errors::default();
    let mut input = input(&f, &mut errors);
    input.kind = None;
    input.version = f.whole("version", &mut errors);
    let latest = r.current().ok_or(WebError::NotFound)?;
    if !errors.is_empty() {
        return report_page(
            &ctx,
            &r,
            latest,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let refreshed = if input.refresh_facts {
        let inc = incident(&s, id).await?;
        Some(crate::app::report_facts(&s, &inc, r.report.kind).await?)
    } else {
        None
    };
    match reports::revise(&s.db, &user.actor().name, rid, &input, refreshed, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/incidents/{id}/reports/{rid}"))),
        Err(WriteError::Invalid(e)) => {
            errors.add(&e.field, e.message);
            report_page(
                &ctx,
                &r,
                latest,
                &f,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(WriteError::Conflict(m)) => {
            // Someone saved meanwhile: show theirs, keep what was typed.
            let r = report_of(&s, id, rid).await?;
            let latest = r.current().ok_or(WebError::NotFound)?;
            report_page(
                &ctx,
                &r,
                latest,
                &f,
                &errors,
                Some((ctx.t("版本", "version").to_string(), m)),
                StatusCode::CONFLICT,
            )
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

/// The report (the version shown, `?v=N`) as `.xlsx`, with who exported it.
pub async fn xlsx(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path((id, rid)): Path<(i64, i64)>,
    q: RawQuery,
) -> WebResult {
    let user = office(&ctx, Role::Viewer)?;
    let r = report_of(&s, id, rid).await?;
    let v = r
        .at(wanted(&q).unwrap_or(r.report.version))
        .ok_or(WebError::NotFound)?;
    let by = signer(&ctx);
    let by = if by.is_empty() { user.name.clone() } else { by };
    let at = crate::time::fmt_ms(crate::store::now_ms(), s.tz);
    super::exports::download(
        reports::workbook(&r, v, &s.cfg.office_name, &by, &at, s.tz),
        &format!("incident-report-{rid}-v{}.xlsx", v.version),
    )
}

//! Recording an inspection and the hidden dangers it found, through
//! `ledger::inspections::create` (the API's rules and messages).

use super::Scoped;
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Shell, render};
use super::i18n::{Lang, message};
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::inspections::{self, FindingInput, Grade, InspectionInput};
use crate::ledger::sites;
use crate::store::WriteError;

/// The columns of a finding row: the "六定" of a hidden danger.
const COLS: &[(&str, &str, &str)] = &[
    ("grade", "等级", "Grade"),
    ("item", "隐患", "Item"),
    ("description", "描述", "Description"),
    ("measures", "整改措施", "Measures"),
    ("funding", "资金", "Funding"),
    ("responsible", "责任人", "Responsible"),
    ("deadline", "整改期限", "Deadline"),
    ("reinspector", "复查人", "Re-inspector"),
    ("checklist_item", "检查表条目", "Checklist item"),
];

fn label(lang: Lang, name: &str) -> String {
    match name {
        "inspected_on" => lang.t("检查日期", "Inspected on").into(),
        "inspector_ids" => lang.t("执法人员", "Inspectors").into(),
        "summary" => lang.t("检查情况", "Summary").into(),
        "findings" => lang.t("隐患", "Findings").into(),
        _ => {
            if let Some(rest) = name.strip_prefix('f')
                && let Some((row, sub)) = rest.split_once('_')
                && let Some((_, zh, en)) = COLS.iter().find(|(n, _, _)| *n == sub)
            {
                let row: usize = row.parse().unwrap_or(0);
                return match lang {
                    Lang::Zh => format!("第 {} 项隐患 {zh}", row + 1),
                    Lang::En => format!("Finding {} {en}", row + 1),
                };
            }
            name.to_string()
        }
    }
}

fn rows(f: &FormData) -> usize {
    f.0.iter()
        .filter_map(|(k, _)| {
            k.strip_prefix('f')?
                .split_once('_')?
                .0
                .parse::<usize>()
                .ok()
        })
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// The form input a domain field error belongs to.
fn input_for(field: &str, rows: &[usize]) -> String {
    if field.starts_with("inspector") {
        return "inspector_ids".into();
    }
    if let Some(rest) = field.strip_prefix("findings[")
        && let Some((i, sub)) = rest.split_once("].")
    {
        let row = i
            .parse::<usize>()
            .ok()
            .and_then(|i| rows.get(i).copied())
            .unwrap_or(0);
        return format!("f{row}_{sub}");
    }
    field.to_string()
}

fn input_from(f: &FormData) -> (InspectionInput, Vec<usize>) {
    let inspector_ids = f
        .all("inspector_ids")
        .into_iter()
        .filter_map(|v| v.trim().parse::<i64>().ok())
        .collect();
    let mut findings = Vec::new();
    let mut used = Vec::new();
    for i in 0..rows(f) {
        let g = |sub: &str| f.get(&format!("f{i}_{sub}")).trim().to_string();
        // A row counts once anything but its grade is filled.
        if COLS.iter().skip(1).all(|(sub, _, _)| g(sub).is_empty()) {
            continue;
        }
        let opt = |sub: &str| Some(g(sub)).filter(|v| !v.is_empty());
        let checklist_item = opt("checklist_item");
        // An item picked from the checklist names the danger when no words were typed.
        let mut item = g("item");
        if item.is_empty()
            && let Some(it) = checklist_item
                .as_deref()
                .and_then(crate::enforcement::checklists::item)
        {
            item = it.text.chars().take(256).collect();
        }
        findings.push(FindingInput {
            grade: if g("grade") == "major" {
                Grade::Major
            } else {
                Grade::General
            },
            item,
            description: opt("description"),
            measures: opt("measures"),
            funding: opt("funding"),
            responsible: opt("responsible"),
            deadline: g("deadline"),
            reinspector: opt("reinspector"),
            checklist_item,
        });
        used.push(i);
    }
    (
        InspectionInput {
            inspected_on: f.get("inspected_on").trim().to_string(),
            inspector_ids,
            summary: f.opt("summary"),
            findings,
        },
        used,
    )
}

/// One cell of a finding row.
struct Cell {
    sub: &'static str,
    name: String,
    label: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "inspections/form.html")]
struct FormPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    site: String,
    site_kind: String,
    site_id: i64,
    f: Form<'a>,
    heads: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    /// The registered inspectors to tick: (id, "姓名（证号） 单位", valid until).
    inspectors: Vec<(String, String, String)>,
    /// The rule, Chinese first.
    rule: String,
    /// The site kind's checklist: (code, code and text).
    items: Vec<(String, String)>,
}

async fn form_page(
    s: &AppState,
    ctx: &Ctx,
    site_id: i64,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let site = sites::get(&s.db, site_id)
        .await?
        .ok_or(WebError::NotFound)?;
    // The rows typed so far and three empty ones.
    let table = (0..rows(v) + 3)
        .map(|i| {
            COLS.iter()
                .map(|(sub, _, _)| {
                    let name = format!("f{i}_{sub}");
                    Cell {
                        sub,
                        label: label(lang, &name),
                        error: errors.get(&name).map(|m| message(lang, m)),
                        name,
                    }
                })
                .collect()
        })
        .collect();
    Ok(render(
        status,
        &FormPage {
            shell: Shell::new(ctx, ctx.t("记录检查", "Record an inspection"), Nav::Ledger),
            lang,
            site_kind: site.kind.clone(),
            site: site.name,
            site_id,
            f: Form::new(lang, v, errors, label),
            heads: COLS.iter().map(|(_, zh, en)| lang.t(zh, en)).collect(),
            rows: table,
            inspectors: crate::enforcement::inspectors::list(&s.db, &Default::default())
                .await?
                .into_iter()
                .map(|r| {
                    (
                        r.id.to_string(),
                        format!("{} · {}", r.label(), r.unit),
                        r.valid_until,
                    )
                })
                .collect(),
            rule: match lang {
                Lang::Zh => format!(
                    "至少选 {} 名执法证在检查日期有效的执法人员",
                    s.cfg.enforcement.min_inspectors
                ),
                Lang::En => format!(
                    "tick at least {} inspectors whose certificate is valid on the date",
                    s.cfg.enforcement.min_inspectors
                ),
            },
            items: crate::enforcement::checklists::for_kind(&site.kind)
                .map(|l| {
                    l.items
                        .iter()
                        .map(|i| {
                            let mark = if i.major { "【重大】" } else { "" };
                            (i.code.to_string(), format!("{} {mark}{}", i.code, i.text))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
    ))
}

pub async fn new_form(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut v = FormData::default();
    v.set("inspected_on", crate::time::today(s.tz).to_string());
    form_page(&s, &ctx, id, &v, &Errors::default(), StatusCode::OK).await
}

pub async fn create(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let (input, used) = input_from(&f);
    let min = s.cfg.enforcement.min_inspectors;
    match inspections::create(&s.db, &user.actor(), id, &input, min, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/sites/{id}?saved=1"))),
        Err(WriteError::Invalid(fe)) => {
            let mut errors = Errors::default();
            errors.add(&input_for(&fe.field, &used), fe.message);
            form_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(WriteError::NotFound) => Err(WebError::NotFound),
        Err(WriteError::Conflict(m)) => Err(WebError::Internal(m)),
        Err(WriteError::Store(e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_and_maps_errors() {
        let mut f = FormData::default();
        f.push("inspector_ids", "3");
        f.push("inspector_ids", "7");
        f.push("f0_grade", "major");
        f.push("f2_item", "消防通道堵塞");
        f.push("f2_deadline", "2026-12-01");
        let (input, used) = input_from(&f);
        assert_eq!(input.inspector_ids, vec![3, 7]);
        assert_eq!(input.findings.len(), 1, "a row with only a grade is empty");
        assert_eq!(used, vec![2]);
        assert_eq!(input_for("findings[0].deadline", &used), "f2_deadline");
        assert_eq!(input_for("inspector_ids", &used), "inspector_ids");
    }
}

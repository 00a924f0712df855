//! The enforcement file on the dashboard: a checklist printable per site
//! kind (`/checklists/{kind}`), an inspection's page with its documents and
//! the buttons that issue them (`/inspections/{id}`), a document printable
//! on A4 as issued (`/documents/{id}`) and the list of all (`/documents`),
//! a finding's page with its dispositions and the form that records one
//! (`/findings/{id}`), and the major hidden dangers under supervision
//! (`/supervision`). The rules are `crate::enforcement`'s, as for the API.

use super::Scoped;
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;

use super::html::{Errors, Form, FormData, Nav, Pager, Shell, grade_label, kind_label, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::enforcement::checklists::{self, Checklist};
use crate::enforcement::dispositions::{self, Disposition, DispositionInput, DispositionKind};
use crate::enforcement::documents::{self, DocKind, Document, DocumentLine, Photo};
use crate::enforcement::supervision::{self, Supervision};
use crate::ledger::inspections::{self, FindingRow, Inspection};
use crate::ledger::sites;
use crate::store::WriteError;

/// A refused write's message, for the page.
fn refused(e: WriteError) -> WebResult<(String, String)> {
    match e {
        WriteError::Invalid(fe) => Ok((fe.field, fe.message)),
        WriteError::Conflict(m) => Ok(("status".into(), m)),
        WriteError::NotFound => Err(WebError::NotFound),
        WriteError::Store(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "enforcement/checklist.html")]
struct ChecklistPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    list: Checklist,
    kind_name: String,
    kinds: Vec<(String, String)>,
    signer: String,
}

pub async fn checklist(ctx: Ctx, Path(kind): Path<String>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let list = checklists::for_kind(&kind).ok_or(WebError::NotFound)?;
    let kinds = checklists::LISTS
        .iter()
        .map(|(k, _)| (k.to_string(), kind_label(lang, k).to_string()))
        .collect();
    Ok(render(
        StatusCode::OK,
        &ChecklistPage {
            shell: Shell::new(&ctx, ctx.t("检查表", "Checklist"), Nav::Ledger),
            lang,
            kind_name: kind_label(lang, &kind).to_string(),
            list,
            kinds,
            signer: super::html::signer(&ctx),
        },
    ))
}

#[derive(Template)]
#[template(path = "enforcement/inspection.html")]
struct InspectionPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    inspection: Inspection,
    site: String,
    docs: Vec<DocumentLine>,
    editor: bool,
    kinds: Vec<(&'static str, &'static str)>,
    problem: Option<(String, String)>,
}

async fn inspection_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let inspection = inspections::get(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let site = sites::get(&s.db, inspection.site_id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    let (docs, _) = documents::list(&s.db, Some(id), 1000, 0).await?;
    Ok(render(
        status,
        &InspectionPage {
            shell: Shell::new(ctx, ctx.t("检查记录", "Inspection"), Nav::Ledger),
            lang,
            inspection,
            site,
            docs,
            editor: ctx.can(Role::Editor),
            kinds: DocKind::ALL
                .iter()
                .map(|k| (k.as_str(), lang.t(k.title_zh(), k.title_en())))
                .collect(),
            problem,
        },
    ))
}

pub async fn inspection(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    inspection_page(&s, &ctx, id, None, StatusCode::OK).await
}

/// Issues a document of the kind the button names, then shows it.
pub async fn issue(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let Some(kind) = DocKind::parse(f.get("kind")) else {
        let p = ("kind".to_string(), "unknown document kind".to_string());
        return inspection_page(&s, &ctx, id, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match documents::issue(&s.db, &user.actor(), id, kind, s.tz).await {
        Ok(d) => Ok(see_other(&format!("/documents/{}", d.id))),
        Err(e) => {
            let p = refused(e)?;
            inspection_page(&s, &ctx, id, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "enforcement/document.html")]
struct DocumentPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    doc: Document,
    c: documents::Content,
    facts: Vec<(&'static str, String)>,
    kind: &'static str,
    superseded_number: Option<String>,
    photos: Vec<Photo>,
    editor: bool,
    problem: Option<(String, String)>,
}

async fn document_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let doc = documents::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let superseded_number = match doc.superseded_by {
        Some(n) => documents::get(&s.db, n).await?.map(|d| d.number),
        None => None,
    };
    let photos = documents::photos(&s.db, &doc).await?;
    let lang = ctx.lang;
    Ok(render(
        status,
        &DocumentPage {
            shell: Shell::new(ctx, doc.content.title.clone(), Nav::Ledger),
            lang,
            kind: doc.kind.as_str(),
            superseded_number,
            photos,
            editor: ctx.can(Role::Editor),
            problem,
            facts: {
                let c = &doc.content;
                let o = |v: &Option<String>| v.clone().unwrap_or_default();
                vec![
                    (lang.t("被检查单位", "Inspected"), c.site.name.clone()),
                    (lang.t("地址", "Address"), o(&c.site.address)),
                    (
                        lang.t("法定代表人（负责人）", "Legal representative"),
                        o(&c.site.legal_representative),
                    ),
                    (
                        lang.t("安全负责人及电话", "Safety officer and phone"),
                        format!("{} {}", o(&c.site.safety_officer), o(&c.site.phone))
                            .trim()
                            .to_string(),
                    ),
                    (lang.t("检查时间", "Inspected on"), c.inspected_on.clone()),
                    (
                        lang.t("检查人员（执法证号）", "Inspectors (certificate no.)"),
                        c.inspectors.join("、"),
                    ),
                ]
            },
            c: doc.content.clone(),
            doc,
        },
    ))
}

pub async fn document(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    document_page(&s, &ctx, id, None, StatusCode::OK).await
}

/// Corrects a document (a new number), then shows the new one.
pub async fn correct(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let input = documents::CorrectionInput {
        reason: f.opt("reason"),
    };
    match documents::correct(&s.db, &user.actor(), id, &input, s.tz).await {
        Ok(d) => Ok(see_other(&format!("/documents/{}", d.id))),
        Err(e) => {
            let p = refused(e)?;
            document_page(&s, &ctx, id, Some(p), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "enforcement/documents.html")]
struct DocumentsPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    items: Vec<DocumentLine>,
    pager: Pager,
    tz: chrono_tz::Tz,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<String>,
}

pub async fn documents_list(Scoped(s): Scoped, ctx: Ctx, Query(q): Query<PageQuery>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let per = 50;
    let page = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let (items, total) = documents::list(&s.db, None, per, (page - 1) * per).await?;
    Ok(render(
        StatusCode::OK,
        &DocumentsPage {
            shell: Shell::new(
                &ctx,
                ctx.t("执法文书", "Enforcement documents"),
                Nav::Ledger,
            ),
            lang: ctx.lang,
            items,
            pager: Pager::new("/documents", &[], page, per, total),
            tz: s.tz,
        },
    ))
}

fn disposition_label(lang: Lang, name: &str) -> String {
    match name {
        "kind" => lang.t("处置方式", "Disposition").into(),
        "decided_on" => lang.t("决定日期", "Decided on").into(),
        "decided_by" => lang.t("决定人", "Decided by").into(),
        "note" => lang.t("说明", "Note").into(),
        "exemption_item" => lang.t("免罚清单条目", "No-penalty list entry").into(),
        "referred_to" => lang.t("移送单位", "Referred to").into(),
        "document_ref" => lang.t("文书编号", "Document number").into(),
        _ => name.to_string(),
    }
}

#[derive(Template)]
#[template(path = "enforcement/finding.html")]
struct FindingPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    finding: FindingRow,
    site: String,
    item: Option<checklists::Item>,
    facts: Vec<(&'static str, String)>,
    supervision: Option<Supervision>,
    dispositions: Vec<Disposition>,
    editor: bool,
    saved: bool,
    kinds: Vec<(String, String)>,
    f: Form<'a>,
}

async fn finding_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let finding = inspections::get_finding(&s.db, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let site = sites::get(&s.db, finding.site_id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    Ok(render(
        status,
        &FindingPage {
            shell: Shell::new(ctx, ctx.t("隐患", "Hidden danger"), Nav::Ledger),
            lang,
            item: finding
                .checklist_item
                .as_deref()
                .and_then(checklists::item)
                .copied(),
            supervision: supervision::for_finding(&s.db, id).await?,
            dispositions: dispositions::for_finding(&s.db, id).await?,
            editor: ctx.can(Role::Editor),
            saved: ctx.path.contains("saved=1"),
            kinds: DispositionKind::ALL
                .iter()
                .map(|k| {
                    (
                        k.as_str().to_string(),
                        lang.t(k.label_zh(), k.label_en()).to_string(),
                    )
                })
                .collect(),
            f: Form::new(lang, v, errors, disposition_label),
            facts: vec![
                (
                    lang.t("整改措施", "Measures"),
                    finding.measures.clone().unwrap_or_default(),
                ),
                (
                    lang.t("责任人", "Responsible"),
                    finding.responsible.clone().unwrap_or_default(),
                ),
                (lang.t("整改期限", "Deadline"), finding.deadline.clone()),
                (lang.t("状态", "Status"), finding.status.clone()),
            ],
            finding,
            site,
        },
    ))
}

pub async fn finding(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let mut v = FormData::default();
    v.set("decided_on", crate::time::today(s.tz).to_string());
    finding_page(&s, &ctx, id, &v, &Errors::default(), StatusCode::OK).await
}

/// Records a disposition from the finding's page.
pub async fn dispose(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let Some(kind) = DispositionKind::parse(f.get("kind")) else {
        let mut errors = Errors::default();
        errors.add("kind", "choose a disposition");
        return finding_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let input = DispositionInput {
        kind,
        decided_on: f.get("decided_on").trim().to_string(),
        decided_by: f.get("decided_by").to_string(),
        note: f.opt("note"),
        exemption_item: f.opt("exemption_item"),
        referred_to: f.opt("referred_to"),
        document_ref: f.opt("document_ref"),
    };
    match dispositions::record(&s.db, &user.actor(), id, &input, s.tz).await {
        Ok(_) => Ok(see_other(&format!("/findings/{id}?saved=1"))),
        Err(e) => {
            let (field, message) = refused(e)?;
            let mut errors = Errors::default();
            errors.add(&field, message);
            finding_page(&s, &ctx, id, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "enforcement/supervision.html")]
struct SupervisionPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    items: Vec<Supervision>,
    all: bool,
    today: String,
    signer: String,
}

#[derive(serde::Deserialize)]
pub struct AllQuery {
    #[serde(default)]
    all: Option<String>,
}

pub async fn supervision_list(Scoped(s): Scoped, ctx: Ctx, Query(q): Query<AllQuery>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let all = matches!(q.all.as_deref(), Some("1" | "true"));
    Ok(render(
        StatusCode::OK,
        &SupervisionPage {
            shell: Shell::new(&ctx, ctx.t("挂牌督办", "Under supervision"), Nav::Ledger),
            lang: ctx.lang,
            items: supervision::list(&s.db, all).await?,
            all,
            today: crate::time::today(s.tz).to_string(),
            signer: super::html::signer(&ctx),
        },
    ))
}

/// A grade in words, for the templates.
pub fn grade(lang: impl std::borrow::Borrow<Lang>, g: impl AsRef<str>) -> &'static str {
    grade_label(*lang.borrow(), g.as_ref())
}

/// A local time of issue, for the templates.
pub fn when(
    ms: impl std::borrow::Borrow<i64>,
    tz: impl std::borrow::Borrow<chrono_tz::Tz>,
) -> String {
    super::html::local(*ms.borrow(), *tz.borrow())
}

/// Who recorded something, in words, for the templates.
pub fn actor(lang: impl std::borrow::Borrow<Lang>, a: impl AsRef<str>) -> String {
    super::audit_words::actor_words(*lang.borrow(), a.as_ref())
}

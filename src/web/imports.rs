//! 导入 (`/import`): the office's Excel or CSV lists loaded into the
//! registers. The file is uploaded and shown as it will be stored, row by
//! row, with every problem at its row and column; the confirmation form
//! carries the same file back (so nothing is kept between the two steps)
//! and the import writes it in one transaction, or nothing.

use askama::Template;
use axum::extract::{Multipart, Path};
use axum::http::StatusCode;
use base64::Engine;
use sha2::Digest;

use super::Scoped;
use super::html::{FormData, Nav, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::import::{self, Action, ImportError, Kind, Outcome, Preview};

/// Rows shown in a preview besides every row with a problem.
const SHOWN_ROWS: usize = 300;

#[derive(Template)]
#[template(path = "imports/page.html")]
struct ImportPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    kinds: Vec<(Kind, &'static str, &'static str)>,
    chosen: Option<Kind>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "imports/preview.html")]
struct PreviewPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    p: Preview,
    headers: Vec<String>,
    shown: Vec<import::RowPreview>,
    hidden_rows: usize,
    data: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "imports/done.html")]
struct DonePage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    o: Outcome,
    list: &'static str,
}

impl DonePage<'_> {
    fn skipped(&self) -> String {
        let rows: Vec<String> = self.o.skipped_rows.iter().map(u32::to_string).collect();
        rows.join("、")
    }
}

fn kinds() -> Vec<(Kind, &'static str, &'static str)> {
    vec![
        (
            Kind::Villages,
            "村（村代码、村名、区划代码、人口、边界）",
            "Villages",
        ),
        (Kind::Contacts, "联系人（姓名、手机、村、职务）", "Contacts"),
        (
            Kind::Sites,
            "危化品和烟花爆竹经营单位台账（含许可证和储存品种）",
            "Sites with licences and inventory",
        ),
        (
            Kind::Findings,
            "隐患（检查日期、检查人员、隐患内容、整改期限……）",
            "Findings (hidden dangers)",
        ),
        (
            Kind::DutyRoster,
            "值班表（日期、班次、带班领导、值班员及电话）",
            "Duty roster (day, shift, leader on shift, duty officers, phones)",
        ),
    ]
}

/// Where the imported records are listed.
fn list_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Villages => "/villages",
        Kind::Contacts => "/contacts",
        Kind::Sites => "/sites",
        Kind::Findings => "/worklist",
        Kind::DutyRoster => "/duty",
    }
}

fn page_with(
    ctx: &Ctx,
    status: StatusCode,
    chosen: Option<Kind>,
    error: Option<String>,
) -> WebResult {
    Ok(render(
        status,
        &ImportPage {
            shell: Shell::new(ctx, ctx.t("导入", "Import"), Nav::Ledger),
            lang: ctx.lang,
            kinds: kinds(),
            chosen,
            error,
        },
    ))
}

pub async fn page(ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Editor)?;
    let q = q.0.unwrap_or_default();
    let chosen = form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "kind")
        .and_then(|(_, v)| Kind::parse(&v));
    page_with(&ctx, StatusCode::OK, chosen, None)
}

pub async fn template(Scoped(s): Scoped, ctx: Ctx, Path(kind): Path<String>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let kind = Kind::parse(&kind).ok_or(WebError::NotFound)?;
    super::exports::download(
        import::template(kind, &s.cfg.office_name),
        &format!("import-{}.xlsx", kind.as_str()),
    )
}

/// What went wrong, in the page's words; storage trouble stays an error.
fn refusal(ctx: &Ctx, e: ImportError) -> Result<String, WebError> {
    match e {
        ImportError::Store(s) => Err(s.into()),
        ImportError::Problems(n) => Ok(format!(
            "{}{n}{}",
            ctx.t("有 ", ""),
            ctx.t(
                " 行有问题，未导入任何内容。请改好后重新上传，或勾选“只导入没有问题的行”。",
                " rows have problems; nothing was imported. Fix them and upload again, or import only the good rows."
            )
        )),
        ImportError::Unreadable(m) | ImportError::Conflict(m) | ImportError::NotAllowed(m) => Ok(m),
    }
}

async fn show_preview(
    s: &AppState,
    ctx: &Ctx,
    kind: Kind,
    name: &str,
    bytes: &[u8],
    error: Option<String>,
) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let actor = user.actor();
    let p = match import::preview(&s.db, &actor, s.tz, &s.cfg.enforcement, kind, name, bytes).await
    {
        Ok(p) => p,
        Err(e) => {
            let m = refusal(ctx, e)?;
            return page_with(ctx, StatusCode::UNPROCESSABLE_ENTITY, Some(kind), Some(m));
        }
    };
    let headers = p
        .rows
        .first()
        .map(|r| r.values.iter().map(|v| v.column.to_string()).collect())
        .unwrap_or_default();
    let mut shown = Vec::new();
    let mut hidden_rows = 0;
    for r in &p.rows {
        if r.action == Action::Refused || shown.len() < SHOWN_ROWS {
            shown.push(r.clone());
        } else {
            hidden_rows += 1;
        }
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &PreviewPage {
            shell: Shell::new(ctx, ctx.t("导入预览", "Import preview"), Nav::Ledger),
            lang: ctx.lang,
            headers,
            shown,
            hidden_rows,
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
            error,
            p,
        },
    ))
}

/// The upload: the file shown as it will be stored.
pub async fn preview(Scoped(s): Scoped, ctx: Ctx, mut form: Multipart) -> WebResult {
    ctx.need(Role::Editor)?;
    let mut kind = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("kind") => kind = field.text().await.ok().and_then(|k| Kind::parse(&k)),
            Some("file") => {
                let name = field.file_name().unwrap_or("upload.xlsx").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some((name, b.to_vec())),
                    Err(_) => break,
                }
            }
            _ => {}
        }
    }
    let Some(kind) = kind else {
        return page_with(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(
                ctx.t("请选择导入的内容", "Choose what the file holds")
                    .to_string(),
            ),
        );
    };
    match file {
        Some((name, bytes)) if !bytes.is_empty() => {
            show_preview(&s, &ctx, kind, &name, &bytes, None).await
        }
        _ => page_with(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(kind),
            Some(
                ctx.t("请选择要上传的文件", "Choose a file to upload")
                    .to_string(),
            ),
        ),
    }
}

/// The confirmation: the same file imported, or the preview again with why not.
pub async fn confirm(
    Scoped(s): Scoped,
    ctx: Ctx,
    axum::Extension(f): axum::Extension<FormData>,
) -> WebResult {
    let user = ctx.need(Role::Editor)?;
    let kind = Kind::parse(f.get("kind")).ok_or(WebError::NotFound)?;
    let name = f.get("name").to_string();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(f.get("data")) else {
        return page_with(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(kind),
            Some(
                ctx.t(
                    "上传的内容不完整，请重新上传",
                    "The upload was incomplete; upload again",
                )
                .to_string(),
            ),
        );
    };
    if hex::encode(sha2::Sha256::digest(&bytes)) != f.get("sha256") {
        return page_with(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(kind),
            Some(
                ctx.t(
                    "文件与预览时的不同，请重新上传",
                    "The file differs from the one previewed; upload again",
                )
                .to_string(),
            ),
        );
    }
    let only_good = f.get("only_good") == "1";
    let actor = user.actor();
    match import::commit(
        &s.db,
        &actor,
        s.tz,
        &s.cfg.enforcement,
        kind,
        &name,
        &bytes,
        only_good,
    )
    .await
    {
        Ok(o) => Ok(render(
            StatusCode::OK,
            &DonePage {
                shell: Shell::new(&ctx, ctx.t("导入完成", "Imported"), Nav::Ledger),
                lang: ctx.lang,
                list: list_of(kind),
                o,
            },
        )),
        Err(e) => {
            let m = refusal(&ctx, e)?;
            show_preview(&s, &ctx, kind, &name, &bytes, Some(m)).await
        }
    }
}

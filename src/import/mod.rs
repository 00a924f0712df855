//! Loading a township's existing lists from Excel or CSV: villages,
//! contacts, sites (with licence and inventory), findings (隐患) and the
//! duty roster (值班表).
//!
//! An import is looked at before it is written: [`preview`] shows every row
//! as it will be stored (新增 / 更新 / 不变) and every problem as row,
//! column and a message in Chinese. [`commit`] reads the file again and
//! writes nothing while a row has a problem, unless the person chose to
//! import only the good rows; it writes in one transaction with one audit
//! entry naming the file and its SHA-256. Rows are matched to what is
//! stored (credit code, phone, village code; a finding by its site, date
//! and item), so the same file imported twice changes nothing. A matched
//! record takes the file's non-empty cells and keeps the rest: an import
//! adds and corrects, it never blanks what the office already holds.
//!
//! - `read`: the spreadsheet as rows of text (calamine; csv).
//! - `columns`: the header row found and each column given its field.
//! - `villages`, `contacts`, `sites`, `findings`, `duty_roster`: each kind's
//!   columns, matching, checks and writes.

mod cells;
pub mod columns;
pub mod read;

mod contacts;
mod duty_roster;
mod findings;
mod sites;
mod villages;

use serde::Serialize;
use serde_json::json;
use sha2::Digest;
use sqlx::AnyConnection;

use crate::auth::Actor;
use crate::store::{Db, StoreError};
use columns::{Col, Row};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as a spreadsheet, or has no header row.
    #[error("{0}")]
    Unreadable(String),
    /// Rows have problems and the person did not choose to skip them.
    #[error("{0} 行有问题，未导入任何内容")]
    Problems(usize),
    /// A row would take a code another township's record holds.
    #[error("{0}")]
    Conflict(String),
    /// This person may not import (a village's account, a county's).
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Villages,
    Contacts,
    Sites,
    Findings,
    DutyRoster,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Villages,
        Kind::Contacts,
        Kind::Sites,
        Kind::Findings,
        Kind::DutyRoster,
    ];
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Villages => "villages",
            Kind::Contacts => "contacts",
            Kind::Sites => "sites",
            Kind::Findings => "findings",
            Kind::DutyRoster => "duty_roster",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Villages => "村",
            Kind::Contacts => "联系人",
            Kind::Sites => "危化品和烟花爆竹经营单位",
            Kind::Findings => "隐患",
            Kind::DutyRoster => "值班表",
        }
    }
    /// The columns a file of this kind may have, in the template's order.
    pub fn columns(self) -> &'static [Col] {
        match self {
            Kind::Villages => villages::COLUMNS,
            Kind::Contacts => contacts::COLUMNS,
            Kind::Sites => sites::COLUMNS,
            Kind::Findings => findings::COLUMNS,
            Kind::DutyRoster => duty_roster::COLUMNS,
        }
    }
    /// The audited record kind the rows become.
    fn entity(self) -> &'static str {
        match self {
            Kind::Villages => "village",
            Kind::Contacts => "contact",
            Kind::Sites => "site",
            Kind::Findings => "finding",
            Kind::DutyRoster => "duty_shift",
        }
    }
}

/// A problem in the file: a row (as the spreadsheet numbers it), a column
/// (its header) and what is wrong, in Chinese.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    pub row: u32,
    pub column: String,
    pub message: String,
}

impl Problem {
    pub fn new(row: u32, column: &str, message: impl Into<String>) -> Problem {
        Problem {
            row,
            column: column.to_string(),
            message: message.into(),
        }
    }
}

/// What importing a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 新增
    Create,
    /// 更新: a stored record the file changes.
    Update,
    /// 不变: stored already, as the file has it.
    Unchanged,
    /// 有问题: not imported.
    Refused,
}

impl Action {
    pub fn label_zh(self) -> &'static str {
        match self {
            Action::Create => "新增",
            Action::Update => "更新",
            Action::Unchanged => "不变",
            Action::Refused => "有问题",
        }
    }
}

/// One cell of a row as it will be stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Value {
    pub column: &'static str,
    pub value: String,
}

/// One row as it will be stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowPreview {
    pub row: u32,
    pub action: Action,
    /// Its values as they will be stored, in the columns' order.
    pub values: Vec<Value>,
    pub problems: Vec<Problem>,
}

fn shown(values: Vec<(&'static str, String)>) -> Vec<Value> {
    values
        .into_iter()
        .map(|(column, value)| Value { column, value })
        .collect()
}

/// A row planned by a kind's module, with what writing it takes.
pub(crate) struct Planned<Op> {
    pub preview: RowPreview,
    pub op: Option<Op>,
}

impl<Op> Planned<Op> {
    /// A row refused for these problems.
    pub fn refused(row: &Row, values: Vec<(&'static str, String)>, problems: Vec<Problem>) -> Self {
        Planned {
            preview: RowPreview {
                row: row.number,
                action: Action::Refused,
                values: shown(values),
                problems,
            },
            op: None,
        }
    }
    pub fn ok(
        row: &Row,
        action: Action,
        values: Vec<(&'static str, String)>,
        op: Option<Op>,
    ) -> Self {
        Planned {
            preview: RowPreview {
                row: row.number,
                action,
                values: shown(values),
                problems: Vec::new(),
            },
            op,
        }
    }
}

/// The figures of a preview or an import.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub rows: usize,
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// A file looked at, nothing written.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub kind: Kind,
    pub file: String,
    /// The SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The row holding the headers.
    pub header_row: u32,
    /// Headers of the file that no field takes (left out).
    pub ignored_columns: Vec<String>,
    pub counts: Counts,
    pub rows: Vec<RowPreview>,
    /// Every problem, in row order (the rows' own and the file's).
    pub problems: Vec<Problem>,
}

/// A file imported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub kind: Kind,
    pub file: String,
    pub sha256: String,
    pub counts: Counts,
    /// The rows left out for their problems (importing only the good rows).
    pub skipped_rows: Vec<u32>,
}

/// What a kind's module is given: who imports into which township.
pub(crate) struct Ctx {
    pub township: i64,
    pub actor: Actor,
    pub tz: chrono_tz::Tz,
    pub limits: crate::geometry::GeoLimits,
    /// Whether each row's values are wanted (a preview) or only what to
    /// write (an import: ten thousand rows of values are memory for nothing).
    pub show_values: bool,
    /// Registered inspectors an inspection names at least (`[enforcement]`).
    pub min_inspectors: usize,
}

/// A kind's module: plans every row against what is stored, then writes
/// the planned operations.
pub(crate) trait Importer {
    type Op: Send;
    async fn plan(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        rows: &[Row],
    ) -> Result<Vec<Planned<Self::Op>>, ImportError>;
    async fn apply(conn: &mut AnyConnection, ctx: &Ctx, op: Self::Op) -> Result<(), ImportError>;
    /// Writes every planned operation, in row order; a kind may write many
    /// rows a statement.
    async fn apply_all(
        conn: &mut AnyConnection,
        ctx: &Ctx,
        ops: Vec<Self::Op>,
    ) -> Result<(), ImportError> {
        for op in ops {
            Self::apply(conn, ctx, op).await?;
        }
        Ok(())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The township an import writes into: a township's own office only.
fn township_of(actor: &Actor) -> Result<i64, ImportError> {
    match &actor.scope {
        crate::store::Scope::Townships(ids) if ids.len() == 1 => Ok(ids[0]),
        crate::store::Scope::Village { .. } => Err(ImportError::NotAllowed(
            "村级账号不能导入：请由乡镇应急办导入".into(),
        )),
        _ => Err(ImportError::NotAllowed(
            "请用乡镇的账号导入（导入的内容属于一个乡镇）".into(),
        )),
    }
}

struct Looked<Op> {
    header_row: u32,
    ignored: Vec<String>,
    file_problems: Vec<Problem>,
    planned: Vec<Planned<Op>>,
}

async fn look<I: Importer>(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    kind: Kind,
    file: &str,
    bytes: &[u8],
) -> Result<Looked<I::Op>, ImportError> {
    let lines = read::lines(file, bytes)?;
    let table = columns::Table::find(kind.columns(), &lines)?;
    let rows = table.rows(&lines);
    drop(lines);
    let planned = if table.problems.is_empty() {
        I::plan(conn, ctx, &rows).await?
    } else {
        Vec::new()
    };
    Ok(Looked {
        header_row: table.header_row,
        ignored: table.ignored,
        file_problems: table.problems,
        planned,
    })
}

fn counts<Op>(planned: &[Planned<Op>]) -> Counts {
    let mut c = Counts {
        rows: planned.len(),
        ..Counts::default()
    };
    for p in planned {
        match p.preview.action {
            Action::Create => c.create += 1,
            Action::Update => c.update += 1,
            Action::Unchanged => c.unchanged += 1,
            Action::Refused => c.refused += 1,
        }
    }
    c
}

async fn preview_as<I: Importer>(
    db: &Db,
    ctx: &Ctx,
    kind: Kind,
    file: &str,
    bytes: &[u8],
) -> Result<Preview, ImportError> {
    let mut tx = db.read().await?;
    let looked = look::<I>(&mut tx, ctx, kind, file, bytes).await?;
    tx.commit().await?;
    let mut problems = looked.file_problems;
    problems.extend(
        looked
            .planned
            .iter()
            .flat_map(|p| p.preview.problems.iter().cloned()),
    );
    Ok(Preview {
        kind,
        file: file.to_string(),
        sha256: sha256_hex(bytes),
        header_row: looked.header_row,
        ignored_columns: looked.ignored,
        counts: counts(&looked.planned),
        rows: looked.planned.into_iter().map(|p| p.preview).collect(),
        problems,
    })
}

async fn commit_as<I: Importer>(
    db: &Db,
    ctx: &Ctx,
    kind: Kind,
    file: &str,
    bytes: &[u8],
    only_good: bool,
) -> Result<Outcome, ImportError> {
    let mut tx = db.begin().await?;
    let looked = look::<I>(&mut tx, ctx, kind, file, bytes).await?;
    if !looked.file_problems.is_empty() {
        return Err(ImportError::Problems(looked.file_problems.len()));
    }
    let counts = counts(&looked.planned);
    if counts.refused > 0 && !only_good {
        return Err(ImportError::Problems(counts.refused));
    }
    let mut skipped_rows = Vec::new();
    let mut ops = Vec::with_capacity(looked.planned.len());
    for p in looked.planned {
        if p.preview.action == Action::Refused {
            skipped_rows.push(p.preview.row);
        }
        ops.extend(p.op);
    }
    I::apply_all(&mut tx, ctx, ops).await?;
    let sha256 = sha256_hex(bytes);
    crate::audit::record(
        &mut tx,
        &ctx.actor.name,
        "import",
        "import",
        Some(ctx.township),
        None,
        Some(&json!({
            "records": kind.entity(),
            "file": file,
            "sha256": sha256,
            "kind": kind.as_str(),
            "rows": counts.rows,
            "created": counts.create,
            "updated": counts.update,
            "unchanged": counts.unchanged,
            "skipped_rows": skipped_rows,
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome {
        kind,
        file: file.to_string(),
        sha256,
        counts,
        skipped_rows,
    })
}

fn ctx(
    actor: &Actor,
    tz: chrono_tz::Tz,
    rules: &crate::config::EnforcementConfig,
    show_values: bool,
) -> Result<Ctx, ImportError> {
    Ok(Ctx {
        min_inspectors: rules.min_inspectors,
        township: township_of(actor)?,
        actor: actor.clone(),
        tz,
        limits: crate::geometry::GeoLimits::STORED,
        show_values,
    })
}

/// Reads the file and shows what importing it would do; writes nothing.
pub async fn preview(
    db: &Db,
    actor: &Actor,
    tz: chrono_tz::Tz,
    rules: &crate::config::EnforcementConfig,
    kind: Kind,
    file: &str,
    bytes: &[u8],
) -> Result<Preview, ImportError> {
    let ctx = ctx(actor, tz, rules, true)?;
    match kind {
        Kind::Villages => preview_as::<villages::Villages>(db, &ctx, kind, file, bytes).await,
        Kind::Contacts => preview_as::<contacts::Contacts>(db, &ctx, kind, file, bytes).await,
        Kind::Sites => preview_as::<sites::Sites>(db, &ctx, kind, file, bytes).await,
        Kind::Findings => preview_as::<findings::Findings>(db, &ctx, kind, file, bytes).await,
        Kind::DutyRoster => {
            preview_as::<duty_roster::DutyRoster>(db, &ctx, kind, file, bytes).await
        }
    }
}

/// Imports the file: all of it, or (`only_good`) the rows without problems.
#[allow(clippy::too_many_arguments)]
pub async fn commit(
    db: &Db,
    actor: &Actor,
    tz: chrono_tz::Tz,
    rules: &crate::config::EnforcementConfig,
    kind: Kind,
    file: &str,
    bytes: &[u8],
    only_good: bool,
) -> Result<Outcome, ImportError> {
    let ctx = ctx(actor, tz, rules, false)?;
    match kind {
        Kind::Villages => {
            commit_as::<villages::Villages>(db, &ctx, kind, file, bytes, only_good).await
        }
        Kind::Contacts => {
            commit_as::<contacts::Contacts>(db, &ctx, kind, file, bytes, only_good).await
        }
        Kind::Sites => commit_as::<sites::Sites>(db, &ctx, kind, file, bytes, only_good).await,
        Kind::Findings => {
            commit_as::<findings::Findings>(db, &ctx, kind, file, bytes, only_good).await
        }
        Kind::DutyRoster => {
            commit_as::<duty_roster::DutyRoster>(db, &ctx, kind, file, bytes, only_good).await
        }
    }
}

/// The kind's template: its headers (required ones marked *), a row of
/// notes saying what each column takes, and one sample row.
pub fn template(kind: Kind, office: &str) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    columns::template(kind.label_zh(), kind.columns(), office)
}

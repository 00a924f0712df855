//! Emergency plans (预案) as reviewed TOML files under `plans/`: the model,
//! the checker behind `fenghuo plans check`, and `evaluate`, which maps an
//! observation (rainfall, a warning signal, a fire report) to the level it
//! calls for. The file format is documented in `plans/README.md`.
//!
//! Village codes are checked against the villages the caller passes
//! (`VillageRef`, loaded from the database), shelter codes against the
//! shelter register (`Registry`). Without them (`None`, e.g. a CLI run with
//! no database) those checks are skipped and `load_dir` says so in
//! `LoadResult::notes`.

mod check;
mod model;
pub mod sample;
#[cfg(test)]
mod tests;
mod tree;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use model::{
    Auto, Colour, DRILL_TZ, DailyReport, DailyTimes, DrillSchedule, Duty, Hazard, LEVELS, LeadTime,
    Level, NoticeTemplate, NotifyRule, Observation, ObservationKind, Plan, PlanStatus,
    PlannedNotice, RAINFALL_WINDOWS, RainfallRule, Triggers, Villages, Warning, cron_words,
    level_colour, level_label_en, level_label_zh, level_response_zh, level_roman, parse_cron,
};
pub use tree::{COUNTY_DIR, TownshipKnown, Tree, UNMATCHED, load_tree};

/// Said when shelter codes were not checked.
pub const NOTE_NO_SHELTERS: &str = "shelter codes were not checked: the shelter register was not read or is empty (未读取避灾点登记或登记为空，未核对避灾点编号)";

/// What the checker compares a plan with, read from the registry; `None`
/// where it is not known (those checks are skipped, and a note says so).
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry<'a> {
    pub villages: Option<&'a [VillageRef]>,
    /// The codes of the registered shelters.
    pub shelters: Option<&'a [String]>,
}

/// Said when village checks were skipped.
pub const NOTE_NO_VILLAGES: &str = "village codes and shelter locations were not checked: no village list was given (未提供村列表，未核对村代码和避灾点位置)";

/// One thing wrong with a plan file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// A village as the checker needs it: its code and its boundary (WGS-84).
#[derive(Debug, Clone)]
pub struct VillageRef {
    pub code: String,
    pub boundary: geo::MultiPolygon<f64>,
}

/// Parses and checks one plan file; returns every problem found, ordered by
/// position. `file_name` is only used in the problems.
pub fn parse_and_check(
    file_name: &str,
    text: &str,
    villages: Option<&[VillageRef]>,
) -> Result<Plan, Vec<Problem>> {
    parse_and_check_with(
        file_name,
        text,
        Registry {
            villages,
            shelters: None,
        },
    )
}

/// [`parse_and_check`] against villages and the shelter register.
pub fn parse_and_check_with(
    file_name: &str,
    text: &str,
    known: Registry<'_>,
) -> Result<Plan, Vec<Problem>> {
    check::parse(file_name, text, known).map(|c| c.plan)
}

/// Whose plan it is: a township's (top-level files are the home township's,
/// `plans/<12-digit code>/` that township's) or the county bureau's
/// (`plans/county/`). Plan ids are unique per owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanOwner {
    Township(i64),
    County,
}

impl PlanOwner {
    /// The plans an office works with: its township's.
    pub fn of(actor: &crate::auth::Actor) -> PlanOwner {
        PlanOwner::Township(actor.township)
    }
}

impl Default for PlanOwner {
    fn default() -> Self {
        PlanOwner::Township(crate::registry::townships::HOME)
    }
}

/// A plan file that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedPlan {
    pub plan: Plan,
    pub owner: PlanOwner,
    /// The path as read (`dir` joined with the file name).
    pub file: String,
    /// SHA-256 (hex) of the file's exact bytes: which text an incident used.
    pub content_hash: String,
    /// The file text, for showing or archiving with an incident.
    #[serde(skip)]
    pub text: String,
}

/// Per `.toml` file (in file-name order), the plan or its problems.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub files: Vec<Result<LoadedPlan, Vec<Problem>>>,
    /// Things the caller should tell the user that are not problems.
    pub notes: Vec<String>,
}

impl LoadResult {
    pub fn plans(&self) -> impl Iterator<Item = &LoadedPlan> {
        self.files.iter().filter_map(|f| f.as_ref().ok())
    }

    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.files.iter().filter_map(|f| f.as_ref().err()).flatten()
    }

    /// No file has a problem.
    pub fn is_ok(&self) -> bool {
        self.files.iter().all(Result::is_ok)
    }

    pub fn plan(&self, id: &str) -> Option<&LoadedPlan> {
        self.plans().find(|p| p.plan.id == id)
    }
}

/// Loads every `*.toml` file in `dir` (not subdirectories; `README.md` and
/// other files are ignored). A plan id used by an earlier file (in name
/// order) makes the later file a problem.
pub fn load_dir(dir: &Path, villages: Option<&[VillageRef]>) -> LoadResult {
    load_dir_with(
        dir,
        Registry {
            villages,
            shelters: None,
        },
    )
}

/// [`load_dir`] against villages and the shelter register.
pub fn load_dir_with(dir: &Path, known: Registry<'_>) -> LoadResult {
    let mut out = load_files(dir, known, PlanOwner::default());
    if known.shelters.is_none() && out.plans().any(|p| names_shelters(&p.plan)) {
        out.notes.push(NOTE_NO_SHELTERS.to_string());
    }
    out
}

/// Whether a plan names any shelter (at plan level or in a rule).
fn names_shelters(p: &Plan) -> bool {
    !p.shelters.is_empty()
        || p.levels
            .iter()
            .any(|l| l.notify.iter().any(|r| !r.shelters.is_empty()))
}

fn load_files(dir: &Path, known: Registry<'_>, owner: PlanOwner) -> LoadResult {
    let villages = known.villages;
    let mut out = LoadResult::default();
    if villages.is_none() {
        out.notes.push(NOTE_NO_VILLAGES.to_string());
    }
    let whole_file = |file: String, message: String| Problem {
        file,
        line: 1,
        column: 1,
        message,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.files.push(Err(vec![whole_file(
                dir.display().to_string(),
                format!("cannot read the plans directory: {e} (无法读取预案目录)"),
            )]));
            return out;
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        out.notes.push(format!(
            "no plan files (*.toml) in {} (目录中没有预案文件)",
            dir.display()
        ));
    }
    // id → file that first used it
    let mut ids: Vec<(String, String)> = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                out.files.push(Err(vec![whole_file(
                    file,
                    format!("cannot read the file: {e} (无法读取文件)"),
                )]));
                continue;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let before = String::from_utf8_lossy(good);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                out.files.push(Err(vec![Problem {
                    file,
                    line,
                    column,
                    message: "the file is not UTF-8 text (文件须为 UTF-8 编码); save it as UTF-8"
                        .into(),
                }]));
                continue;
            }
        };
        add_text(&mut out, &mut ids, file, text, known, owner);
    }
    out
}

/// Checks one plan's text and adds it (or its problems) to `out`; `ids`
/// holds the plan ids already taken, with their files.
fn add_text(
    out: &mut LoadResult,
    ids: &mut Vec<(String, String)>,
    file: String,
    text: String,
    known: Registry<'_>,
    owner: PlanOwner,
) {
    let content_hash = hex::encode(Sha256::digest(text.as_bytes()));
    match check::parse(&file, &text, known) {
        Err(problems) => out.files.push(Err(problems)),
        Ok(c) => {
            if let Some((_, first)) = ids.iter().find(|(id, _)| *id == c.plan.id) {
                out.files.push(Err(vec![Problem {
                    file,
                    line: c.id_at.0,
                    column: c.id_at.1,
                    message: format!(
                        "plan id '{}' is already used by {first} (预案编号重复); give each plan its own id",
                        c.plan.id
                    ),
                }]));
                return;
            }
            ids.push((c.plan.id.clone(), file.clone()));
            out.files.push(Ok(LoadedPlan {
                plan: c.plan,
                owner,
                file,
                content_hash,
                text,
            }));
        }
    }
}

/// The most severe level (1 = Ⅰ … 4 = Ⅳ) whose numeric triggers the
/// observation meets, or `None`. Whether to act on it without a person is
/// the level's `auto`.
pub fn evaluate(plan: &Plan, obs: &Observation) -> Option<u8> {
    plan.levels
        .iter()
        .filter(|l| LEVELS.contains(&l.level) && l.triggers.met_by(obs))
        .map(|l| l.level)
        .min()
}

/// The most severe level the observation meets that is marked `auto` for
/// its kind: opened or raised without a person.
pub fn evaluate_auto(plan: &Plan, obs: &Observation) -> Option<u8> {
    plan.levels
        .iter()
        .filter(|l| LEVELS.contains(&l.level) && l.triggers.met_by(obs) && l.auto.allows(obs))
        .map(|l| l.level)
        .min()
}

/// The warning an observation issues: the last listed (most severe) whose
/// triggers it meets.
pub fn evaluate_warning<'p>(plan: &'p Plan, obs: &Observation) -> Option<&'p Warning> {
    plan.warnings.iter().rev().find(|w| w.triggers.met_by(obs))
}

//! The sample plans shipped in `plans/`, built into the binary: `serve
//! --demo` uses them when its plans directory does not exist, and `fenghuo
//! plans init DIR` writes them out for the office to adapt.

use std::path::{Path, PathBuf};

use super::{LoadResult, NOTE_NO_SHELTERS, NOTE_NO_VILLAGES, Registry, add_text, names_shelters};

/// (file name, text) of every shipped plan, in file-name order.
pub const PLANS: &[(&str, &str)] = &[
    (
        "flood-typhoon.toml",
        include_str!("../../plans/flood-typhoon.toml"),
    ),
    (
        "forest-fire.toml",
        include_str!("../../plans/forest-fire.toml"),
    ),
];

/// The field reference written beside them.
pub const README: &str = include_str!("../../plans/README.md");

/// Where the built-in plans are said to come from in problems and on pages.
pub const ORIGIN: &str = "(built-in sample)";

/// The built-in plans, checked as a directory of them would be.
pub fn load(known: Registry<'_>) -> LoadResult {
    let mut out = LoadResult::default();
    if known.villages.is_none() {
        out.notes.push(NOTE_NO_VILLAGES.to_string());
    }
    out.notes.push(
        "the plans directory does not exist: the sample plans built into fenghuo are in force (预案目录不存在，使用内置示例预案；用 fenghuo plans init 目录 导出后修改)"
            .to_string(),
    );
    let mut ids = Vec::new();
    for (name, text) in PLANS {
        add_text(
            &mut out,
            &mut ids,
            format!("{ORIGIN} {name}"),
            (*text).to_string(),
            known,
            super::PlanOwner::default(),
        );
    }
    if known.shelters.is_none() && out.plans().any(|p| names_shelters(&p.plan)) {
        out.notes.push(NOTE_NO_SHELTERS.to_string());
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} exists already (已存在); use --force to overwrite it")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes the sample plans and their README into `dir` (created if need
/// be). Refuses, before writing anything, when a file is there already,
/// unless `force`. Returns the files written.
pub fn write(dir: &Path, force: bool) -> Result<Vec<PathBuf>, InitError> {
    let files: Vec<(PathBuf, &str)> = PLANS
        .iter()
        .map(|(name, text)| (dir.join(name), *text))
        .chain([(dir.join("README.md"), README)])
        .collect();
    if !force && let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
        return Err(InitError::Exists(p.clone()));
    }
    std::fs::create_dir_all(dir).map_err(|source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|source| InitError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

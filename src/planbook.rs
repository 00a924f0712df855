//! The plans in force. Plan files are read at start, on SIGHUP and on
//! `POST /api/v1/plans/reload`; a file that no longer checks out does not
//! take its plan away: the last good version stays in force and the problem
//! is reported. Every version loaded is recorded by content hash, so an
//! incident shows exactly which text was in force.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::RwLock;

use crate::plans::{self, LoadedPlan, Problem, VillageRef};
use crate::store::{Db, StoreError, now_ms};

#[derive(Debug, Default)]
struct State {
    /// Plan id → the version in force.
    plans: BTreeMap<String, LoadedPlan>,
    /// File → plan id last loaded from it, to keep a plan when its file breaks.
    files: BTreeMap<String, String>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    loaded_at: i64,
    /// The plans directory could not be read at the last reload.
    dir_problem: Option<DirProblem>,
}

/// Why the plans directory gave no plans: shown on the overview and the
/// plans page in words, with the path and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirProblem {
    /// The directory as configured (`plans_dir`).
    pub path: String,
    /// It does not exist (rather than existing but unreadable).
    pub missing: bool,
}

pub struct PlanBook {
    dir: PathBuf,
    /// Use the built-in sample plans when `dir` does not exist (`serve --demo`).
    sample: bool,
    state: RwLock<State>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub plans: Vec<String>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl PlanBook {
    pub fn new(dir: PathBuf) -> PlanBook {
        PlanBook {
            dir,
            sample: false,
            state: RwLock::new(State::default()),
        }
    }

    /// A plan book that falls back to the built-in sample plans while its
    /// directory does not exist (`serve --demo` started anywhere).
    pub fn with_sample_fallback(dir: PathBuf) -> PlanBook {
        PlanBook {
            sample: true,
            ..PlanBook::new(dir)
        }
    }

    /// Reads the plan directory again, checking village codes and shelter
    /// codes against the registry. With `sample` set (`serve --demo`), a
    /// missing directory gives the sample plans built into the binary.
    pub async fn reload(&self, db: &Db) -> Result<Report, StoreError> {
        let villages: Vec<VillageRef> = crate::registry::villages::list(db, false)
            .await?
            .iter()
            .filter_map(|v| {
                v.region().map(|r| VillageRef {
                    code: v.code.clone(),
                    boundary: r.shape,
                })
            })
            .collect();
        // An empty register is not yet kept (a new install): shelter codes
        // are then not checked, and a note says so.
        let shelters = crate::registry::shelters::codes(db).await?;
        let dir = self.dir.clone();
        let sample = self.sample;
        let has_villages = !villages.is_empty();
        let (result, dir_problem) = tokio::task::spawn_blocking(move || {
            let dir_problem = if sample && !dir.exists() {
                None
            } else {
                std::fs::read_dir(&dir).err().map(|e| DirProblem {
                    path: dir.display().to_string(),
                    missing: e.kind() == std::io::ErrorKind::NotFound,
                })
            };
            let known = plans::Registry {
                villages: has_villages.then_some(&villages[..]),
                shelters: (!shelters.is_empty()).then_some(&shelters[..]),
            };
            let result = if sample && !dir.exists() {
                plans::sample::load(known)
            } else {
                plans::load_dir_with(&dir, known)
            };
            (result, dir_problem)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("plan loading stopped: {e}")))?;
        let mut st = self.state.write().await;
        let mut plans = BTreeMap::new();
        let mut files = BTreeMap::new();
        for p in result.files.iter().flatten() {
            files.insert(p.file.clone(), p.plan.id.clone());
            plans.insert(p.plan.id.clone(), p.clone());
        }
        // Broken files keep the plan they last gave.
        for problem_file in result
            .files
            .iter()
            .filter_map(|f| f.as_ref().err())
            .filter_map(|ps| ps.first())
            .map(|p| p.file.clone())
        {
            if let Some(id) = st.files.get(&problem_file).cloned()
                && !plans.contains_key(&id)
                && let Some(old) = st.plans.get(&id)
            {
                files.insert(problem_file.clone(), id.clone());
                plans.insert(id, old.clone());
            }
        }
        for p in plans.values() {
            sqlx::query(
                "INSERT INTO plan_versions (plan_id, content_hash, file, content, loaded_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (plan_id, content_hash) DO NOTHING",
            )
            .bind(&p.plan.id)
            .bind(&p.content_hash)
            .bind(&p.file)
            .bind(&p.text)
            .bind(now_ms())
            .execute(&db.pool)
            .await?;
        }
        st.plans = plans;
        st.files = files;
        st.problems = result.problems().cloned().collect();
        st.notes = result.notes.clone();
        st.loaded_at = now_ms();
        st.dir_problem = dir_problem;
        for p in &st.problems {
            tracing::warn!(problem = %p, "plan file problem; the last good version stays in force");
        }
        Ok(Report {
            plans: st.plans.keys().cloned().collect(),
            problems: st.problems.iter().map(ToString::to_string).collect(),
            notes: st.notes.clone(),
        })
    }

    pub async fn get(&self, id: &str) -> Option<LoadedPlan> {
        self.state.read().await.plans.get(id).cloned()
    }

    pub async fn all(&self) -> Vec<LoadedPlan> {
        self.state.read().await.plans.values().cloned().collect()
    }

    /// Whether the plans directory could not be read at the last reload.
    pub async fn dir_problem(&self) -> Option<DirProblem> {
        self.state.read().await.dir_problem.clone()
    }

    pub async fn problems(&self) -> Vec<Problem> {
        self.state.read().await.problems.clone()
    }

    /// Problems in the file a plan comes from.
    pub async fn problems_for(&self, id: &str) -> Vec<Problem> {
        let st = self.state.read().await;
        let file = st
            .files
            .iter()
            .find(|(_, pid)| pid.as_str() == id)
            .map(|(f, _)| f.clone());
        st.problems
            .iter()
            .filter(|p| Some(&p.file) == file.as_ref())
            .cloned()
            .collect()
    }
}

//! The plans in force. Plan files are read at start, on SIGHUP and on
//! `POST /api/v1/plans/reload`; a file that no longer checks out does not
//! take its plan away: the last good version stays in force and the problem
//! is reported. Every version loaded is recorded by content hash, so an
//! incident shows exactly which text was in force.
//!
//! Several daemons on one PostgreSQL agree on the plans in force: a reload
//! (by any daemon, including its start) publishes what it put in force in
//! `meta` (`plans_in_force`: each plan's id, file and content hash, the
//! problems and notes), and the other daemons take the same texts from
//! `plan_versions` within `FOLLOW_EVERY` ([`follow`]). The last reload wins,
//! whichever daemon made it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock, watch};

use crate::plans::{self, LoadedPlan, PlanOwner, Problem, VillageRef};
use crate::store::{Db, StoreError, now_ms};

/// A plan as the book keys it: its owner (township or county) and its id,
/// unique per owner.
type Key = (PlanOwner, String);

#[derive(Debug, Default)]
struct State {
    /// Owner and plan id → the version in force.
    plans: BTreeMap<Key, LoadedPlan>,
    /// File → plan last loaded from it, to keep a plan when its file breaks.
    files: BTreeMap<String, Key>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    loaded_at: i64,
    /// The plans directory could not be read at the last reload.
    dir_problem: Option<DirProblem>,
    /// Which publication this state is (see [`Published`]); empty before any.
    generation: String,
}

/// Why the plans directory gave no plans: shown on the overview and the
/// plans page in words, with the path and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Reloads and follows one at a time, so an older publication never
    /// replaces a newer one.
    changing: Mutex<()>,
}

/// The `meta` key the plans in force are published under.
const PUBLISHED: &str = "plans_in_force";
/// How soon a daemon follows another's reload.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// The plans in force as the daemon that last reloaded found them.
#[derive(Debug, Serialize, Deserialize)]
struct Published {
    /// New at every reload.
    generation: String,
    /// Plan id, file, content hash (the text is in `plan_versions`).
    plans: Vec<(String, String, String)>,
    /// Each plan's owner, in the order of `plans`; absent (a daemon from
    /// before townships had plans): every plan is the home township's.
    #[serde(default)]
    owners: Vec<PlanOwner>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    loaded_at: i64,
    dir_problem: Option<DirProblem>,
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
            changing: Mutex::new(()),
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
        let _one_at_a_time = self.changing.lock().await;
        let registers = Registers::read(db).await?;
        let dir = self.dir.clone();
        let sample = self.sample;
        let (result, dir_problem) = tokio::task::spawn_blocking(move || {
            let dir_problem = if sample && !dir.exists() {
                None
            } else {
                std::fs::read_dir(&dir).err().map(|e| DirProblem {
                    path: dir.display().to_string(),
                    missing: e.kind() == std::io::ErrorKind::NotFound,
                })
            };
            let result = if sample && !dir.exists() {
                plans::sample::load(registers.home())
            } else {
                registers.load(&dir)
            };
            (result, dir_problem)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("plan loading stopped: {e}")))?;
        let mut st = self.state.write().await;
        let mut plans = BTreeMap::new();
        let mut files = BTreeMap::new();
        for p in result.files.iter().flatten() {
            let key = (p.owner, p.plan.id.clone());
            files.insert(p.file.clone(), key.clone());
            plans.insert(key, p.clone());
        }
        // Broken files keep the plan they last gave.
        for problem_file in result
            .files
            .iter()
            .filter_map(|f| f.as_ref().err())
            .filter_map(|ps| ps.first())
            .map(|p| p.file.clone())
        {
            if let Some(key) = st.files.get(&problem_file).cloned()
                && !plans.contains_key(&key)
                && let Some(old) = st.plans.get(&key)
            {
                files.insert(problem_file.clone(), key.clone());
                plans.insert(key, old.clone());
            }
        }
        // Only asked when there are county plans (a single install has none).
        let county_row = if plans.keys().any(|k| k.0 == PlanOwner::County) {
            crate::registry::townships::county_id(db).await?
        } else {
            None
        };
        for p in plans.values() {
            // A county plan is kept as the county bureau's row's (the home
            // township's while there is none).
            let township = match p.owner {
                PlanOwner::Township(t) => t,
                PlanOwner::County => county_row.unwrap_or(crate::registry::townships::HOME),
            };
            sqlx::query(
                "INSERT INTO plan_versions (plan_id, content_hash, file, content, loaded_at, township_id) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (township_id, plan_id, content_hash) DO NOTHING",
            )
            .bind(&p.plan.id)
            .bind(&p.content_hash)
            .bind(&p.file)
            .bind(&p.text)
            .bind(now_ms())
            .bind(township)
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
        let published = Published {
            generation: crate::auth::random_token("")
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            plans: st
                .plans
                .values()
                .map(|p| (p.plan.id.clone(), p.file.clone(), p.content_hash.clone()))
                .collect(),
            owners: st.plans.keys().map(|k| k.0).collect(),
            problems: st.problems.clone(),
            notes: st.notes.clone(),
            loaded_at: st.loaded_at,
            dir_problem: st.dir_problem.clone(),
        };
        let text =
            serde_json::to_string(&published).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // Another daemon put other texts in force, and this one's files
        // replace them for all: said, as their plan files should not differ.
        if let Some(before) = db.meta_get(PUBLISHED).await?
            && let Ok(before) = serde_json::from_str::<Published>(&before)
            && before.generation != st.generation
            && before.plans != published.plans
        {
            tracing::warn!(
                was = ?before.plans.iter().map(|p| format!("{} {:.12}", p.0, p.2)).collect::<Vec<_>>(),
                now = ?published.plans.iter().map(|p| format!("{} {:.12}", p.0, p.2)).collect::<Vec<_>>(),
                "the plans in force on every daemon change to this daemon's plan files"
            );
        }
        db.meta_set(PUBLISHED, &text).await?;
        st.generation = published.generation;
        Ok(Report {
            plans: st.plans.keys().map(shown).collect(),
            problems: st.problems.iter().map(ToString::to_string).collect(),
            notes: st.notes.clone(),
        })
    }

    /// Takes the plans in force another daemon published, if they changed
    /// since this daemon's last reload or follow. The texts were checked by
    /// the daemon that read them; they are parsed again here without the
    /// registry. Returns whether anything changed.
    pub async fn follow_published(&self, db: &Db) -> Result<bool, StoreError> {
        let _one_at_a_time = self.changing.lock().await;
        let Some(text) = db.meta_get(PUBLISHED).await? else {
            return Ok(false);
        };
        let p: Published =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if self.state.read().await.generation == p.generation {
            return Ok(false);
        }
        let mut plans = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (i, (id, file, hash)) in p.plans.iter().enumerate() {
            let owner = p.owners.get(i).copied().unwrap_or_default();
            // The same text has the same hash whichever township stored it.
            let (text,): (String,) = sqlx::query_as(
                "SELECT content FROM plan_versions WHERE plan_id = $1 AND content_hash = $2 LIMIT 1",
            )
            .bind(id)
            .bind(hash)
            .fetch_one(&db.pool)
            .await?;
            let plan = plans::parse_and_check_with(file, &text, plans::Registry::default())
                .map_err(|problems| {
                    StoreError::Corrupt(format!(
                        "published plan {id} does not parse: {}",
                        problems
                            .first()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ))
                })?;
            files.insert(file.clone(), (owner, id.clone()));
            plans.insert(
                (owner, id.clone()),
                LoadedPlan {
                    plan,
                    owner,
                    file: file.clone(),
                    content_hash: hash.clone(),
                    text,
                },
            );
        }
        let mut st = self.state.write().await;
        st.plans = plans;
        st.files = files;
        st.problems = p.problems;
        st.notes = p.notes;
        st.loaded_at = p.loaded_at;
        st.dir_problem = p.dir_problem;
        st.generation = p.generation;
        Ok(true)
    }

    /// The home township's plan (a single install's plans; every caller
    /// from before townships had plans).
    pub async fn get(&self, id: &str) -> Option<LoadedPlan> {
        self.get_of(PlanOwner::default(), id).await
    }

    /// A township's plan, or the county's.
    pub async fn get_of(&self, owner: PlanOwner, id: &str) -> Option<LoadedPlan> {
        self.state
            .read()
            .await
            .plans
            .get(&(owner, id.to_string()))
            .cloned()
    }

    /// The county plan `id` (`plans/county/`).
    pub async fn county(&self, id: &str) -> Option<LoadedPlan> {
        self.get_of(PlanOwner::County, id).await
    }

    /// The home township's plans.
    pub async fn all(&self) -> Vec<LoadedPlan> {
        self.of(PlanOwner::default()).await
    }

    /// One owner's plans.
    pub async fn of(&self, owner: PlanOwner) -> Vec<LoadedPlan> {
        self.state
            .read()
            .await
            .plans
            .iter()
            .filter(|(k, _)| k.0 == owner)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Every plan in force: every township's and the county's.
    pub async fn everything(&self) -> Vec<LoadedPlan> {
        self.state.read().await.plans.values().cloned().collect()
    }

    /// Whether the plans directory could not be read at the last reload.
    pub async fn dir_problem(&self) -> Option<DirProblem> {
        self.state.read().await.dir_problem.clone()
    }

    pub async fn problems(&self) -> Vec<Problem> {
        self.state.read().await.problems.clone()
    }

    /// Problems in the file a home township's plan comes from.
    pub async fn problems_for(&self, id: &str) -> Vec<Problem> {
        self.problems_of(PlanOwner::default(), id).await
    }

    /// Problems in the file a plan comes from.
    pub async fn problems_of(&self, owner: PlanOwner, id: &str) -> Vec<Problem> {
        let st = self.state.read().await;
        let file = st
            .files
            .iter()
            .find(|(_, k)| k.0 == owner && k.1 == id)
            .map(|(f, _)| f.clone());
        st.problems
            .iter()
            .filter(|p| Some(&p.file) == file.as_ref())
            .cloned()
            .collect()
    }
}

/// How a report names a plan: the home township's by its id, another
/// township's and the county's by folder and id.
fn shown(key: &Key) -> String {
    match key.0 {
        PlanOwner::Township(crate::registry::townships::HOME) => key.1.clone(),
        PlanOwner::Township(t) => format!("township {t}/{}", key.1),
        PlanOwner::County => format!("{}/{}", plans::COUNTY_DIR, key.1),
    }
}

/// What the plans are checked against, read from the registry: each
/// township's villages and shelters. Also what `fenghuo plans check` reads.
#[derive(Debug, Default)]
pub struct Registers {
    /// Township id and division code.
    townships: Vec<(i64, String)>,
    villages: BTreeMap<i64, Vec<VillageRef>>,
    shelters: BTreeMap<i64, Vec<String>>,
    all_villages: Vec<VillageRef>,
    all_shelters: Vec<String>,
}

impl Registers {
    pub async fn read(db: &Db) -> Result<Registers, StoreError> {
        let mut r = Registers {
            // The county bureau's plans are in county/, not a folder of its code.
            townships: crate::registry::townships::list(db)
                .await?
                .into_iter()
                .filter(|t| t.kind != "county")
                .map(|t| (t.id, t.code))
                .collect(),
            ..Registers::default()
        };
        for (t, code, region) in crate::registry::villages::areas_by_township(db).await? {
            let v = VillageRef {
                code,
                boundary: region.shape,
            };
            r.all_villages.push(v.clone());
            r.villages.entry(t).or_default().push(v);
        }
        for (t, code) in crate::registry::shelters::codes_by_township(db).await? {
            r.all_shelters.push(code.clone());
            r.shelters.entry(t).or_default().push(code);
        }
        Ok(r)
    }

    /// A township's villages and shelters; an empty register is not yet
    /// kept (a new install): its checks are skipped, and a note says so.
    fn of(&self, township: i64) -> plans::Registry<'_> {
        plans::Registry {
            villages: self
                .villages
                .get(&township)
                .filter(|v| !v.is_empty())
                .map(Vec::as_slice),
            shelters: self
                .shelters
                .get(&township)
                .filter(|s| !s.is_empty())
                .map(Vec::as_slice),
        }
    }

    /// The home township's: what the top-level plan files are checked against.
    pub fn home(&self) -> plans::Registry<'_> {
        self.of(crate::registry::townships::HOME)
    }

    /// Loads the plans directory, each folder against its own township.
    pub fn load(&self, dir: &Path) -> plans::LoadResult {
        let townships: Vec<plans::TownshipKnown<'_>> = self
            .townships
            .iter()
            .map(|(id, code)| plans::TownshipKnown {
                id: *id,
                code: code.clone(),
                known: self.of(*id),
            })
            .collect();
        let tree = plans::Tree {
            home: self.home(),
            townships: Some(&townships),
            county: plans::Registry {
                villages: (!self.all_villages.is_empty()).then_some(&self.all_villages[..]),
                shelters: (!self.all_shelters.is_empty()).then_some(&self.all_shelters[..]),
            },
        };
        plans::load_tree(dir, &tree)
    }
}

/// Several daemons: follows the plans another daemon put in force (its
/// reload, or its start) every [`FOLLOW_EVERY`].
pub async fn follow(
    n: Arc<crate::notify::delivery::outbox::Notifier>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        match n.plans.follow_published(&n.db).await {
            Ok(true) => {
                let ids: Vec<String> = n
                    .plans
                    .everything()
                    .await
                    .into_iter()
                    .map(|p| shown(&(p.owner, p.plan.id)))
                    .collect();
                tracing::info!(plans = ?ids, "plans in force follow another daemon's reload");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "following the plans in force failed"),
        }
    }
}

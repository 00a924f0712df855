//! 双随机、一公开: draw plans (抽查计划) and their draws. A plan names its
//! objects by filter (site kinds, risk grades, villages: the township's
//! active sites matching all given), how many to draw, the inspector pool
//! and the team per object. The draw freezes the objects into a list of
//! site ids, derives a seed from the plan and a public value, picks the
//! objects and a team for each, and stores it all once (a plan is drawn
//! once; a second draw is refused). The result and each drawn site's
//! inspection outcome are published on `/public/` (no phones, no home
//! villages; inspectors by name and 执法证号 as 双随机 publicity does).
//!
//! # The algorithm (version `fenghuo-draw-v1`)
//!
//! Anyone can recompute a draw from what is published:
//!
//! 1. The canonical text is four lines, each ending in `\n`:
//!    `objects=<site ids ascending, comma-separated>`,
//!    `inspectors=<pool ids ascending, comma-separated>`, `count=<n>`,
//!    `team=<k>`, after a first line `fenghuo-draw-v1`.
//! 2. seed = SHA-256 of the UTF-8 bytes of the canonical text followed by
//!    `public=` and the public value (the draw's local date-time in RFC 3339
//!    as published, or a value the office typed, e.g. that day's 体彩 number).
//! 3. The generator is ChaCha20 (20 rounds, the `chacha20` crate's
//!    `ChaCha20Rng`, the same stream as `rand_chacha::ChaCha20Rng`) keyed
//!    with the 32 seed bytes, stream 0, from word 0. A 64-bit draw is two
//!    consecutive 32-bit little-endian words, the first the low half.
//! 4. `below(n)`: with r = 2^64 mod n, take 64-bit draws until one x has
//!    x ≤ 2^64 − 1 − r; the answer is x mod n (uniform, no modulo bias).
//! 5. Objects: the ascending list L of n ids; for i = 0 … count−1:
//!    j = i + below(n − i), swap L[i] and L[j]. The picks are L[0 … count−1]
//!    in that order.
//! 6. For each pick in order: the eligible inspectors E are the pool,
//!    ascending, without those who must recuse themselves for that site
//!    (published per pick as `recused`: the home village is the site's, or
//!    a declared conflict); fewer than k eligible fails the draw naming the
//!    site. Else for i = 0 … k−1: j = i + below(|E| − i), swap E[i] and E[j];
//!    the team is E[0 … k−1] in that order. The same generator continues
//!    from pick to pick.

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::ledger::sites::{RiskGrade, SiteKind};
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldResult, date, err, optional_text, required_text};

/// The algorithm's name, part of the canonical text.
pub const ALGORITHM: &str = "fenghuo-draw-v1";

/// An object of a draw: a site and its village.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    pub id: i64,
    pub village_id: Option<i64>,
}

/// An inspector of the pool: who must recuse themselves from which sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub home_village_id: Option<i64>,
    pub conflict_site_ids: Vec<i64>,
}

impl Candidate {
    /// Whether they must not inspect `o` (their village's site, or a declared conflict).
    pub fn recuses(&self, o: &Object) -> bool {
        (self.home_village_id.is_some() && self.home_village_id == o.village_id)
            || self.conflict_site_ids.contains(&o.id)
    }
}

/// One drawn object and its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pick {
    pub site_id: i64,
    /// The team, in the order drawn.
    pub inspector_ids: Vec<i64>,
    /// Pool members left out for this site (回避), ascending.
    pub recused: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("draw {count} of {available} objects: not enough objects")]
    TooFewObjects { count: usize, available: usize },
    #[error("site {site_id}: only {eligible} eligible inspectors for a team of {team}")]
    TooFewInspectors {
        site_id: i64,
        eligible: usize,
        team: usize,
    },
}

/// The canonical text of a draw (step 1).
pub fn canonical(objects: &[i64], inspectors: &[i64], count: usize, team: usize) -> String {
    let list = |ids: &[i64]| {
        let mut v = ids.to_vec();
        v.sort_unstable();
        v.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    };
    format!(
        "{ALGORITHM}\nobjects={}\ninspectors={}\ncount={count}\nteam={team}\n",
        list(objects),
        list(inspectors)
    )
}

/// The seed (step 2).
pub fn seed(canonical: &str, public_value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(canonical.as_bytes());
    h.update(b"public=");
    h.update(public_value.as_bytes());
    h.finalize().into()
}

/// A uniform number in [0, n) (step 4); n > 0.
fn below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    let r = (u64::MAX % n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= u64::MAX - r {
            return x % n;
        }
    }
}

/// The first `k` places of a forward Fisher–Yates shuffle of `v` (steps 5, 6).
fn partial_shuffle<T>(rng: &mut ChaCha20Rng, v: &mut [T], k: usize) {
    let n = v.len();
    for i in 0..k.min(n) {
        let j = i + below(rng, (n - i) as u64) as usize;
        v.swap(i, j);
    }
}

/// The draw itself: pure, the same for the same inputs on every machine.
pub fn draw(
    seed: [u8; 32],
    objects: &[Object],
    pool: &[Candidate],
    count: usize,
    team: usize,
) -> std::result::Result<Vec<Pick>, DrawError> {
    let mut objs = objects.to_vec();
    objs.sort_by_key(|o| o.id);
    let mut pool = pool.to_vec();
    pool.sort_by_key(|c| c.id);
    if count > objs.len() {
        return Err(DrawError::TooFewObjects {
            count,
            available: objs.len(),
        });
    }
    let mut rng = ChaCha20Rng::from_seed(seed);
    partial_shuffle(&mut rng, &mut objs, count);
    let mut out = Vec::with_capacity(count);
    for o in &objs[..count] {
        let (recused, mut eligible): (Vec<&Candidate>, Vec<&Candidate>) =
            pool.iter().partition(|c| c.recuses(o));
        if eligible.len() < team {
            return Err(DrawError::TooFewInspectors {
                site_id: o.id,
                eligible: eligible.len(),
                team,
            });
        }
        partial_shuffle(&mut rng, &mut eligible, team);
        out.push(Pick {
            site_id: o.id,
            inspector_ids: eligible[..team].iter().map(|c| c.id).collect(),
            recused: recused.iter().map(|c| c.id).collect(),
        });
    }
    Ok(out)
}

/// Recomputes a draw from published lists (recusals given per site).
pub fn recompute(
    seed: [u8; 32],
    objects: &[i64],
    pool: &[i64],
    recused: &std::collections::HashMap<i64, Vec<i64>>,
    count: usize,
    team: usize,
) -> std::result::Result<Vec<Pick>, DrawError> {
    let objs: Vec<Object> = objects
        .iter()
        .map(|&id| Object {
            id,
            village_id: None,
        })
        .collect();
    let cands: Vec<Candidate> = pool
        .iter()
        .map(|&id| Candidate {
            id,
            home_village_id: None,
            conflict_site_ids: recused
                .iter()
                .filter(|(_, who)| who.contains(&id))
                .map(|(site, _)| *site)
                .collect(),
        })
        .collect();
    draw(seed, &objs, &cands, count, team)
}

// ---- plans -------------------------------------------------------------

fn default_team() -> i64 {
    2
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub title: String,
    /// YYYY-MM-DD: the period the drawn sites are inspected in.
    pub period_from: String,
    pub period_to: String,
    /// Site kinds (empty: every kind).
    #[serde(default)]
    pub site_kinds: Vec<String>,
    /// Risk grades (empty: every grade).
    #[serde(default)]
    pub risk_grades: Vec<String>,
    /// Villages (empty: every village).
    #[serde(default)]
    pub village_ids: Vec<i64>,
    /// How many objects to draw.
    pub object_count: i64,
    /// The inspector pool.
    pub inspector_ids: Vec<i64>,
    /// Inspectors per object (2 unless given).
    #[serde(default = "default_team")]
    pub team_size: i64,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawInput {
    /// The public value hashed with the plan (e.g. that day's 体彩 number);
    /// empty: the draw's local date-time in RFC 3339.
    #[serde(default)]
    pub public_value: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub township_id: i64,
    pub title: String,
    pub period_from: String,
    pub period_to: String,
    pub site_kinds: String,
    pub risk_grades: String,
    pub village_ids: String,
    pub object_count: i64,
    pub pool: String,
    pub team_size: i64,
    pub note: Option<String>,
    pub created_by: String,
    pub sample: i64,
    pub version: i64,
    pub created_at: i64,
    pub drawn_at: Option<i64>,
    pub drawn_by: Option<String>,
    pub public_value: Option<String>,
    pub canonical: Option<String>,
    pub seed: Option<String>,
    pub objects: Option<String>,
    pub inspectors: Option<String>,
    pub result: Option<String>,
}

const COLS: &str = "id, township_id, title, period_from, period_to, site_kinds, risk_grades, village_ids, object_count, \
    pool, team_size, note, created_by, sample, version, created_at, drawn_at, drawn_by, public_value, canonical, seed, \
    objects, inspectors, result";

/// A drawn object as published: no personal data.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicObject {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub village: Option<String>,
}

/// A pool member as published: name, 执法证号, unit.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicInspector {
    pub id: i64,
    pub name: String,
    pub certificate_no: String,
    pub unit: String,
}

/// The inspection of a drawn site within the plan's period, once recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub inspected_on: String,
    pub findings: i64,
    pub major: bool,
    /// Every finding rectified or closed out (true with none).
    pub rectified: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PickView {
    pub site_id: i64,
    pub site: Option<PublicObject>,
    pub inspector_ids: Vec<i64>,
    pub inspectors: Vec<PublicInspector>,
    pub recused: Vec<i64>,
    pub outcome: Option<Outcome>,
}

/// The draw of a plan, as published and recomputable.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Drawn {
    pub drawn_at: String,
    pub drawn_by: String,
    pub algorithm: &'static str,
    pub public_value: String,
    pub canonical: String,
    /// SHA-256, hex.
    pub seed: String,
    /// Every object the plan's filter held, ascending by id.
    pub objects: Vec<PublicObject>,
    /// The pool, ascending by id.
    pub inspectors: Vec<PublicInspector>,
    pub picks: Vec<PickView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub id: i64,
    pub township_id: i64,
    pub title: String,
    pub period_from: String,
    pub period_to: String,
    pub site_kinds: Vec<String>,
    pub risk_grades: Vec<String>,
    pub village_ids: Vec<i64>,
    pub object_count: i64,
    pub inspector_ids: Vec<i64>,
    pub team_size: i64,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub sample: bool,
    pub version: i64,
    /// Absent until drawn.
    pub draw: Option<Drawn>,
}

fn ids(s: &str) -> Vec<i64> {
    serde_json::from_str(s).unwrap_or_default()
}

fn strings(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

impl PlanRow {
    /// The plan without outcomes (see [`with_outcomes`] for those).
    pub fn view(&self, tz: chrono_tz::Tz) -> Plan {
        let draw = match (
            self.drawn_at,
            &self.seed,
            &self.canonical,
            &self.objects,
            &self.inspectors,
            &self.result,
        ) {
            (
                Some(at),
                Some(seed),
                Some(canonical),
                Some(objects),
                Some(inspectors),
                Some(result),
            ) => {
                let objects: Vec<PublicObject> = serde_json::from_str(objects).unwrap_or_default();
                let inspectors: Vec<PublicInspector> =
                    serde_json::from_str(inspectors).unwrap_or_default();
                let picks: Vec<Pick> = serde_json::from_str(result).unwrap_or_default();
                let picks = picks
                    .into_iter()
                    .map(|p| PickView {
                        site: objects.iter().find(|o| o.id == p.site_id).cloned(),
                        inspectors: p
                            .inspector_ids
                            .iter()
                            .filter_map(|i| inspectors.iter().find(|x| x.id == *i).cloned())
                            .collect(),
                        site_id: p.site_id,
                        inspector_ids: p.inspector_ids,
                        recused: p.recused,
                        outcome: None,
                    })
                    .collect();
                Some(Drawn {
                    drawn_at: crate::time::fmt_ms(at, tz),
                    drawn_by: self.drawn_by.clone().unwrap_or_default(),
                    algorithm: ALGORITHM,
                    public_value: self.public_value.clone().unwrap_or_default(),
                    canonical: canonical.clone(),
                    seed: seed.clone(),
                    objects,
                    inspectors,
                    picks,
                })
            }
            _ => None,
        };
        Plan {
            id: self.id,
            township_id: self.township_id,
            title: self.title.clone(),
            period_from: self.period_from.clone(),
            period_to: self.period_to.clone(),
            site_kinds: strings(&self.site_kinds),
            risk_grades: strings(&self.risk_grades),
            village_ids: ids(&self.village_ids),
            object_count: self.object_count,
            inspector_ids: ids(&self.pool),
            team_size: self.team_size,
            note: self.note.clone(),
            created_by: self.created_by.clone(),
            created_at: crate::time::fmt_ms(self.created_at, tz),
            sample: self.sample != 0,
            version: self.version,
            draw,
        }
    }
}

struct ValidPlan {
    title: String,
    from: String,
    to: String,
    kinds: Vec<String>,
    grades: Vec<String>,
    villages: Vec<i64>,
    count: i64,
    pool: Vec<i64>,
    team: i64,
    note: Option<String>,
}

fn validate(input: &PlanInput) -> FieldResult<ValidPlan> {
    let title = required_text("title", &input.title, 128)?;
    let from = date("period_from", &input.period_from)?;
    let to = date("period_to", &input.period_to)?;
    if to < from {
        return err("period_to", "must not be before period_from");
    }
    let mut kinds = Vec::new();
    for (i, k) in input.site_kinds.iter().enumerate() {
        match SiteKind::parse(k.trim()) {
            Some(k) => kinds.push(k.as_str().to_string()),
            None => {
                return err(
                    format!("site_kinds[{i}]"),
                    format!("unknown site kind '{k}'"),
                );
            }
        }
    }
    let mut grades = Vec::new();
    for (i, g) in input.risk_grades.iter().enumerate() {
        match RiskGrade::parse(g.trim()) {
            Some(g) => grades.push(g.as_str().to_string()),
            None => {
                return err(
                    format!("risk_grades[{i}]"),
                    format!("unknown risk grade '{g}'"),
                );
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    grades.sort();
    grades.dedup();
    let mut villages = input.village_ids.clone();
    villages.sort_unstable();
    villages.dedup();
    if !(1..=500).contains(&input.object_count) {
        return err("object_count", "must be between 1 and 500");
    }
    if !(1..=10).contains(&input.team_size) {
        return err("team_size", "must be between 1 and 10");
    }
    let mut pool = input.inspector_ids.clone();
    pool.sort_unstable();
    pool.dedup();
    if pool.len() != input.inspector_ids.len() {
        return err("inspector_ids", "names an inspector twice (执法人员重复)");
    }
    if (pool.len() as i64) < input.team_size {
        return err(
            "inspector_ids",
            format!(
                "执法人员库至少需要 {} 人 (the pool needs at least the team size)",
                input.team_size
            ),
        );
    }
    Ok(ValidPlan {
        title,
        from: from.to_string(),
        to: to.to_string(),
        kinds,
        grades,
        villages,
        count: input.object_count,
        pool,
        team: input.team_size,
        note: optional_text("note", &input.note, 1000)?,
    })
}

pub async fn create(
    db: &Db,
    actor: &Actor,
    input: &PlanInput,
    sample: bool,
    tz: chrono_tz::Tz,
) -> Result<PlanRow, WriteError> {
    let v = validate(input)?;
    let township = actor.township;
    let mut tx = db.begin().await?;
    for &village in &v.villages {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM villages WHERE id = $1 AND township_id = $2")
                .bind(village)
                .bind(township)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Err(WriteError::field(
                "village_ids",
                format!("no village with id {village}"),
            ));
        }
    }
    let rows = super::inspectors::by_ids(&mut tx, township, &v.pool).await?;
    for &id in &v.pool {
        let Some(r) = rows.iter().find(|r| r.id == id) else {
            return Err(WriteError::field(
                "inspector_ids",
                format!("no inspector with id {id} (执法人员不存在)"),
            ));
        };
        if r.archived_at.is_some() {
            return Err(WriteError::field(
                "inspector_ids",
                format!("{} is archived (已归档)", r.label()),
            ));
        }
        if !(r.valid_on(&v.from) && r.valid_on(&v.to)) {
            return Err(WriteError::field(
                "inspector_ids",
                format!(
                    "{} 的执法证不覆盖抽查期间（有效期 {} 至 {}） (the certificate does not cover the period)",
                    r.label(),
                    r.valid_from,
                    r.valid_until
                ),
            ));
        }
    }
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO draw_plans (title, period_from, period_to, site_kinds, risk_grades, village_ids, object_count, pool, \
         team_size, note, created_by, sample, created_at, updated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING id",
    )
    .bind(&v.title)
    .bind(&v.from)
    .bind(&v.to)
    .bind(json!(v.kinds).to_string())
    .bind(json!(v.grades).to_string())
    .bind(json!(v.villages).to_string())
    .bind(v.count)
    .bind(json!(v.pool).to_string())
    .bind(v.team)
    .bind(&v.note)
    .bind(&actor.name)
    .bind(i64::from(sample))
    .bind(now)
    .bind(township)
    .fetch_one(&mut *tx)
    .await?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "draw_plan",
        Some(id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<PlanRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM draw_plans WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// One plan, if the handle's scope covers it.
pub async fn get(db: &Db, id: i64) -> Result<Option<PlanRow>> {
    if db.scope().and_then(crate::store::Scope::village).is_some() {
        return Ok(None);
    }
    db.get_in_scope(COLS, "draw_plans", id).await
}

/// The plans in scope, newest first.
pub async fn list(db: &Db) -> Result<Vec<PlanRow>> {
    if db.scope().and_then(crate::store::Scope::village).is_some() {
        return Ok(Vec::new());
    }
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM draw_plans WHERE {} ORDER BY created_at DESC, id DESC",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct SiteOf {
    id: i64,
    name: String,
    kind: String,
    village_id: Option<i64>,
    village: Option<String>,
}

/// Draws a plan (once): freezes its objects, seeds from the plan and the
/// public value, stores the result and audits it, in one transaction.
pub async fn draw_plan(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: &DrawInput,
    tz: chrono_tz::Tz,
) -> Result<PlanRow, WriteError> {
    let public_value = match optional_text("public_value", &input.public_value, 200)? {
        Some(v) => v,
        None => chrono::Utc::now()
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
    };
    if get(db, id).await?.is_none() {
        return Err(WriteError::NotFound);
    }
    let mut tx = db.begin().await?;
    let plan = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    if plan.drawn_at.is_some() {
        return Err(WriteError::Conflict(
            "this plan has been drawn already; a draw is never repeated (本计划已抽取，不能重新抽取)"
                .into(),
        ));
    }
    let township = plan.township_id;
    let kinds = strings(&plan.site_kinds);
    let grades = strings(&plan.risk_grades);
    let villages = ids(&plan.village_ids);
    let sites: Vec<SiteOf> = sqlx::query_as(
        "SELECT s.id, s.name, s.kind, s.village_id, v.name AS village FROM sites s LEFT JOIN villages v ON v.id = s.village_id \
         WHERE s.township_id = $1 AND s.archived_at IS NULL AND s.status = 'active' ORDER BY s.id",
    )
    .bind(township)
    .fetch_all(&mut *tx)
    .await?;
    let sites: Vec<SiteOf> = sites
        .into_iter()
        .filter(|s| kinds.is_empty() || kinds.contains(&s.kind))
        .filter(|s| villages.is_empty() || s.village_id.is_some_and(|v| villages.contains(&v)))
        .collect();
    let sites = if grades.is_empty() {
        sites
    } else {
        let graded: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, risk_grade FROM sites WHERE township_id = $1")
                .bind(township)
                .fetch_all(&mut *tx)
                .await?;
        sites
            .into_iter()
            .filter(|s| {
                graded
                    .iter()
                    .any(|(id, g)| *id == s.id && grades.contains(g))
            })
            .collect()
    };
    let pool_ids = ids(&plan.pool);
    let mut pool_rows = super::inspectors::by_ids(&mut tx, township, &pool_ids).await?;
    pool_rows.sort_by_key(|r| r.id);
    let objects: Vec<Object> = sites
        .iter()
        .map(|s| Object {
            id: s.id,
            village_id: s.village_id,
        })
        .collect();
    let candidates: Vec<Candidate> = pool_rows
        .iter()
        .map(|r| Candidate {
            id: r.id,
            home_village_id: r.home_village_id,
            conflict_site_ids: r.conflicts(),
        })
        .collect();
    let object_ids: Vec<i64> = objects.iter().map(|o| o.id).collect();
    let inspector_ids: Vec<i64> = candidates.iter().map(|c| c.id).collect();
    let count = usize::try_from(plan.object_count).unwrap_or(0);
    let team = usize::try_from(plan.team_size).unwrap_or(0);
    let text = canonical(&object_ids, &inspector_ids, count, team);
    let s = seed(&text, &public_value);
    let picks = draw(s, &objects, &candidates, count, team).map_err(|e| match e {
        DrawError::TooFewObjects { count, available } => WriteError::field(
            "object_count",
            format!(
                "计划抽取 {count} 家，但符合条件的只有 {available} 家 (only {available} sites match the plan's filter)"
            ),
        ),
        DrawError::TooFewInspectors {
            site_id,
            eligible,
            team,
        } => {
            let name = sites
                .iter()
                .find(|s| s.id == site_id)
                .map_or_else(|| site_id.to_string(), |s| s.name.clone());
            WriteError::field(
                "inspector_ids",
                format!(
                    "{name}：回避后只有 {eligible} 名执法人员可派，少于每组 {team} 人 (site {site_id} “{name}”: only {eligible} inspectors left after recusals for a team of {team})"
                ),
            )
        }
    })?;
    let objects_pub: Vec<PublicObject> = sites
        .iter()
        .map(|s| PublicObject {
            id: s.id,
            name: s.name.clone(),
            kind: s.kind.clone(),
            kind_label: SiteKind::parse(&s.kind)
                .map_or_else(|| s.kind.clone(), |k| k.label_zh().to_string()),
            village: s.village.clone(),
        })
        .collect();
    let pool_pub: Vec<PublicInspector> = pool_rows
        .iter()
        .map(|r| PublicInspector {
            id: r.id,
            name: r.name.clone(),
            certificate_no: r.certificate_no.clone(),
            unit: r.unit.clone(),
        })
        .collect();
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE draw_plans SET drawn_at = $1, drawn_by = $2, public_value = $3, canonical = $4, seed = $5, objects = $6, \
         inspectors = $7, result = $8, version = version + 1, updated_at = $1 WHERE id = $9 AND drawn_at IS NULL",
    )
    .bind(now)
    .bind(&actor.name)
    .bind(&public_value)
    .bind(&text)
    .bind(hex::encode(s))
    .bind(json!(objects_pub).to_string())
    .bind(json!(pool_pub).to_string())
    .bind(json!(picks).to_string())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(WriteError::Conflict(
            "this plan has been drawn already (本计划已抽取)".into(),
        ));
    }
    let after = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "draw",
        "draw_plan",
        Some(id),
        Some(&json!(plan.view(tz))),
        Some(&json!(after.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The plan's view with each drawn site's inspection outcome: the first
/// inspection of the site within the plan's period.
pub async fn with_outcomes(db: &Db, row: &PlanRow, tz: chrono_tz::Tz) -> Result<Plan> {
    let mut plan = row.view(tz);
    let Some(d) = plan.draw.as_mut() else {
        return Ok(plan);
    };
    let mut tx = db.read().await?;
    for p in &mut d.picks {
        let first: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, inspected_on FROM inspections WHERE site_id = $1 AND township_id = $2 \
             AND inspected_on >= $3 AND inspected_on <= $4 ORDER BY inspected_on, id LIMIT 1",
        )
        .bind(p.site_id)
        .bind(row.township_id)
        .bind(&row.period_from)
        .bind(&row.period_to)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((inspection, on)) = first else {
            continue;
        };
        let (n, major, open): (i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN grade = 'major' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM findings WHERE inspection_id = $1",
        )
        .bind(inspection)
        .fetch_one(&mut *tx)
        .await?;
        p.outcome = Some(Outcome {
            inspected_on: on,
            findings: n,
            major: major > 0,
            rectified: open == 0,
        });
    }
    tx.commit().await?;
    Ok(plan)
}

/// Every drawn plan of the install, newest first: what `/public/` lists.
pub async fn published(db: &Db, limit: i64) -> Result<Vec<PlanRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM draw_plans WHERE drawn_at IS NOT NULL ORDER BY drawn_at DESC, id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}

/// One drawn plan for `/public/` (an undrawn one is not published).
pub async fn published_one(db: &Db, id: i64) -> Result<Option<PlanRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM draw_plans WHERE id = $1 AND drawn_at IS NOT NULL"
    )))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(n: i64) -> Vec<Object> {
        (1..=n)
            .map(|id| Object {
                id,
                village_id: Some(id % 3),
            })
            .collect()
    }

    fn pool(n: i64) -> Vec<Candidate> {
        (100..100 + n)
            .map(|id| Candidate {
                id,
                home_village_id: None,
                conflict_site_ids: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn same_inputs_same_draw_whatever_the_order() {
        let s = seed(
            &canonical(&[3, 1, 2], &[9, 8], 2, 2),
            "2026-12-01T10:00:00+08:00",
        );
        let a = draw(s, &objs(10), &pool(5), 3, 2).expect("draw");
        let mut o = objs(10);
        o.reverse();
        let mut p = pool(5);
        p.reverse();
        assert_eq!(draw(s, &o, &p, 3, 2).expect("draw"), a);
        let other = seed(
            &canonical(&[3, 1, 2], &[9, 8], 2, 2),
            "2026-12-01T10:00:01+08:00",
        );
        let b = draw(other, &objs(10), &pool(5), 3, 2).expect("draw");
        assert_ne!(a, b);
        assert_eq!(a.len(), 3);
        let mut sites: Vec<i64> = a.iter().map(|p| p.site_id).collect();
        sites.sort_unstable();
        sites.dedup();
        assert_eq!(sites.len(), 3, "distinct objects");
        for p in &a {
            assert_eq!(p.inspector_ids.len(), 2);
            assert_ne!(p.inspector_ids[0], p.inspector_ids[1]);
        }
    }

    #[test]
    fn canonical_text_is_sorted_and_exact() {
        assert_eq!(
            canonical(&[5, 2, 9], &[7, 3], 2, 2),
            "fenghuo-draw-v1\nobjects=2,5,9\ninspectors=3,7\ncount=2\nteam=2\n"
        );
    }

    #[test]
    fn below_is_in_range_and_the_stream_is_chacha20() {
        let mut rng = ChaCha20Rng::from_seed([0u8; 32]);
        // RFC 7539's ChaCha20 block for a zero key and nonce, counter 0:
        // keystream begins 76 b8 e0 ad.
        assert_eq!(rng.next_u32(), u32::from_le_bytes([0x76, 0xb8, 0xe0, 0xad]));
        for n in [1u64, 2, 3, 7, 1000] {
            for _ in 0..100 {
                assert!(below(&mut rng, n) < n);
            }
        }
    }

    #[test]
    fn recusals_are_respected_and_too_few_fail_naming_the_site() {
        let mut p = pool(3);
        p[0].home_village_id = Some(1);
        p[1].conflict_site_ids = vec![4];
        for k in 0..200u8 {
            let picks = draw([k; 32], &objs(6), &p, 6, 1).expect("draw");
            for pick in picks {
                let o = objs(6)
                    .into_iter()
                    .find(|o| o.id == pick.site_id)
                    .expect("object");
                for id in &pick.inspector_ids {
                    let c = p.iter().find(|c| c.id == *id).expect("candidate");
                    assert!(!c.recuses(&o));
                }
            }
        }
        // Site 4 is in village 1: inspectors 100 and 101 recuse, one is left.
        let e = draw([1; 32], &objs(6), &p, 6, 2).expect_err("too few");
        assert!(
            matches!(e, DrawError::TooFewInspectors { eligible: 1, .. }),
            "{e}"
        );
        assert!(matches!(
            draw([1; 32], &objs(2), &p, 3, 1),
            Err(DrawError::TooFewObjects {
                count: 3,
                available: 2
            })
        ));
    }

    #[test]
    fn recomputed_from_published_recusals() {
        let mut p = pool(4);
        p[0].home_village_id = Some(2);
        p[3].conflict_site_ids = vec![5];
        let s = [7u8; 32];
        let a = draw(s, &objs(9), &p, 4, 2).expect("draw");
        let recused = a
            .iter()
            .map(|pk| (pk.site_id, pk.recused.clone()))
            .collect();
        let ids: Vec<i64> = (1..=9).collect();
        let b = recompute(s, &ids, &[100, 101, 102, 103], &recused, 4, 2).expect("again");
        assert_eq!(a, b);
    }
}

/// A drawn plan as `/public/` publishes it (no account names, no phones,
/// no home villages): everything needed to recompute the draw.
#[derive(Debug, Clone, Serialize)]
pub struct PublicDraw {
    pub id: i64,
    pub title: String,
    pub period_from: String,
    pub period_to: String,
    pub drawn_at: String,
    pub algorithm: &'static str,
    pub public_value: String,
    pub canonical: String,
    pub seed: String,
    pub count: i64,
    pub team_size: i64,
    pub object_ids: Vec<i64>,
    pub inspector_ids: Vec<i64>,
    pub objects: Vec<PublicObject>,
    pub inspectors: Vec<PublicInspector>,
    pub picks: Vec<PickView>,
}

impl Plan {
    /// The published form of a drawn plan; `None` until drawn.
    pub fn public(&self) -> Option<PublicDraw> {
        let d = self.draw.as_ref()?;
        Some(PublicDraw {
            id: self.id,
            title: self.title.clone(),
            period_from: self.period_from.clone(),
            period_to: self.period_to.clone(),
            drawn_at: d.drawn_at.clone(),
            algorithm: d.algorithm,
            public_value: d.public_value.clone(),
            canonical: d.canonical.clone(),
            seed: d.seed.clone(),
            count: self.object_count,
            team_size: self.team_size,
            object_ids: d.objects.iter().map(|o| o.id).collect(),
            inspector_ids: d.inspectors.iter().map(|i| i.id).collect(),
            objects: d.objects.clone(),
            inspectors: d.inspectors.clone(),
            picks: d.picks.clone(),
        })
    }
}

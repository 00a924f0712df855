//! Incidents: a plan activated at a level for some villages (or a drill of
//! it). Opening one sends that level's notices through the notice engine;
//! raising or lowering sends an update to those the new level names;
//! closing sends the all-clear to everyone notified. The timeline keeps
//! levels, notices and answers, and the plan version (content hash) used.

pub mod calls;
pub mod county;
pub mod observations;
pub mod preview;
pub mod reports;
pub mod signoff;
mod timeline;
pub mod warnings;

pub use timeline::{
    Event, IncidentFilter, IncidentSummary, NoticeOutcome, Timeline, TimelineEntry, list, recent,
    summary, timeline,
};

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::config::Config;
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{self, AlertError, AlertInput, Targets};
pub use crate::notify::intake::level::Level;
use crate::plans::{LoadedPlan, NotifyRule, Villages};
use crate::store::{Db, StoreError, now_ms};
use crate::validate::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The two-person rule: not a leader, or the one who asked.
    #[error("{0}")]
    Refused(crate::auth::SignoffRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IncidentError {
    fn from(e: sqlx::Error) -> Self {
        IncidentError::Store(StoreError::Db(e))
    }
}

impl From<AlertError> for IncidentError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::Invalid(f) => IncidentError::Invalid(f),
            AlertError::KeyReused => IncidentError::Conflict("idempotency key reused".into()),
            AlertError::Store(s) => IncidentError::Store(s),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInput {
    /// The plan's id.
    pub plan: String,
    pub level: Level,
    /// "all", or village ids or codes.
    #[serde(default)]
    #[schema(value_type = Option<crate::notify::intake::targets::VillageRefs>)]
    pub villages: Option<Value>,
    /// Optional GeoJSON area; the villages it touches are added.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub area: Option<Value>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub exercise: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub plan_id: String,
    pub plan_hash: String,
    pub level: i64,
    pub exercise: i64,
    pub villages: String,
    pub area: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub opened_by: String,
    pub opened_at: i64,
    pub closed_by: Option<String>,
    pub closed_at: Option<i64>,
    pub version: i64,
    /// A level asked for that awaits a leader (two-person rule): the level,
    /// the villages it would reach, who asked and when.
    pub pending_level: Option<i64>,
    pub pending_villages: Option<String>,
    pub pending_by: Option<String>,
    pub pending_at: Option<i64>,
    /// The township whose plan it is.
    pub township_id: i64,
}

const COLS: &str = "id, plan_id, plan_hash, level, exercise, villages, area, note, status, opened_by, opened_at, closed_by, closed_at, version, \
    pending_level, pending_villages, pending_by, pending_at, township_id";

impl IncidentRow {
    /// Whose plan it is run under: the incident's township's.
    pub fn plan_owner(&self) -> crate::plans::PlanOwner {
        crate::plans::PlanOwner::Township(self.township_id)
    }

    pub fn village_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.villages).unwrap_or_default()
    }
}

/// One incident, if the handle's scope covers its township (another
/// township's is None: 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<IncidentRow>, StoreError> {
    db.get_in_scope(COLS, "incidents", id).await
}

pub async fn open_for_plan(
    db: &Db,
    plan_id: &str,
    exercise: bool,
) -> Result<Option<IncidentRow>, StoreError> {
    let mut tx = db.read().await?;
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM incidents WHERE plan_id = $1 AND status = 'open' AND exercise = $2 AND {} ORDER BY id DESC LIMIT 1",
        db.township_filter("township_id")
    )))
    .bind(plan_id)
    .bind(i64::from(exercise))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The villages a scoped handle covers (`None`: unscoped, every village).
pub async fn villages_in_scope(
    db: &Db,
) -> Result<Option<std::collections::HashSet<i64>>, StoreError> {
    if db.scope().is_none() {
        return Ok(None);
    }
    let mut tx = db.read().await?;
    let mine: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM villages WHERE {} AND {}",
        db.township_filter("township_id"),
        db.village_filter("id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(mine.into_iter().collect()))
}

/// The registry's active villages as the handle's scope sees them: a
/// township office is offered only its own (in forms).
pub async fn villages_seen(
    db: &Db,
) -> Result<Vec<crate::registry::villages::VillageRow>, StoreError> {
    let mut all = crate::registry::villages::list(db, false).await?;
    if let Some(mine) = villages_in_scope(db).await? {
        all.retain(|v| mine.contains(&v.id));
    }
    Ok(all)
}

/// Resolves the affected villages: ids or codes, "all", plus those an area touches.
async fn affected(
    db: &Db,
    villages: &Option<Value>,
    area: &Option<Value>,
    limits: &crate::geometry::GeoLimits,
) -> Result<Vec<i64>, IncidentError> {
    let mut all = crate::registry::villages::list(db, false).await?;
    // Only the villages the handle's scope covers: another township's is
    // unknown to a township office.
    if let Some(mine) = villages_in_scope(db).await? {
        all.retain(|v| mine.contains(&v.id));
    }
    let mut set = BTreeSet::new();
    match villages {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "all" => set.extend(all.iter().map(|v| v.id)),
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                let found = crate::registry::villages::find_ref(&all, it);
                set.insert(
                    found
                        .ok_or_else(|| {
                            invalid(&format!("villages[{i}]"), format!("no village {it}"))
                        })?
                        .id,
                );
            }
        }
        Some(_) => {
            return Err(invalid(
                "villages",
                "use \"all\" or a list of village ids or codes",
            ));
        }
    }
    if let Some(a) = area {
        let region =
            crate::geometry::parse_area("area", a, limits).map_err(IncidentError::Invalid)?;
        for v in &all {
            if v.region().is_some_and(|g| g.intersects(&region)) {
                set.insert(v.id);
            }
        }
    }
    if set.is_empty() {
        return Err(invalid(
            "villages",
            "name the affected villages (or \"all\", or an area)",
        ));
    }
    Ok(set.into_iter().collect())
}

/// The notices a level sends to `villages` (ids): one per notify rule.
async fn level_notices(
    db: &Db,
    plan: &LoadedPlan,
    level: u8,
    villages: &[i64],
    exercise: bool,
    update_of: Option<i64>,
) -> Result<Vec<AlertInput>, IncidentError> {
    let Some(lv) = plan.plan.levels.iter().find(|l| l.level == level) else {
        return Err(invalid(
            "level",
            format!("plan '{}' has no level {level}", plan.plan.id),
        ));
    };
    rule_notices(
        db,
        plan,
        &lv.notify,
        Some(level),
        villages,
        exercise,
        update_of,
    )
    .await
}

/// One notice per rule, each reaching only `villages` (ids).
pub(crate) async fn rule_notices(
    db: &Db,
    plan: &LoadedPlan,
    rules: &[NotifyRule],
    level: Option<u8>,
    villages: &[i64],
    exercise: bool,
    update_of: Option<i64>,
) -> Result<Vec<AlertInput>, IncidentError> {
    let codes: Vec<(i64, String)> = crate::registry::villages::list(db, false)
        .await?
        .into_iter()
        .map(|v| (v.id, v.code))
        .collect();
    let mut out = Vec::new();
    for rule in rules {
        let Some(t) = plan.plan.templates.get(&rule.template) else {
            continue;
        };
        let rule_villages: Vec<i64> = match &rule.villages {
            Villages::All => villages.to_vec(),
            // A rule naming villages narrows the incident's villages, never
            // adds to them; a rule none of whose villages is affected does
            // not apply.
            Villages::Codes(cs) => {
                let named: Vec<i64> = codes
                    .iter()
                    .filter(|(id, c)| cs.contains(c) && villages.contains(id))
                    .map(|(id, _)| *id)
                    .collect();
                if named.is_empty() {
                    continue;
                }
                named
            }
        };
        out.push(AlertInput {
            // The exercise mark is added once, when the text is rendered.
            title: t.title.clone(),
            body: t.body.clone(),
            level: level.and_then(|l| Level::new(i64::from(l))),
            exercise,
            // A plan's duty notices are internal: addressed to named roles,
            // with answer links. Never published.
            public: false,
            channels: rule.channels.clone(),
            ack_within_minutes: rule.ack_within_minutes.map(i64::from),
            targets: Targets {
                villages: Some(json!(rule_villages)),
                roles: rule.roles.clone(),
                contacts: Vec::new(),
                area: None,
                township: true,
                // The plan role 企业安全员 is the safety officers of the
                // ledger sites (of the kinds the rule names) in these villages.
                site_kinds: if rule
                    .roles
                    .iter()
                    .any(|r| r == crate::registry::roles::SAFETY_OFFICER)
                {
                    if rule.site_kinds.is_empty() {
                        crate::ledger::sites::SiteKind::ALL.to_vec()
                    } else {
                        rule.site_kinds.clone()
                    }
                } else {
                    Vec::new()
                },
                townships: None,
            },
            updates: update_of,
            plan: Some(plan.plan.title.clone()),
            urgent: Some(true),
            escalate_to: rule.escalate_to.clone(),
            ladder: rule.ladder.clone(),
            all_clear: false,
            receipt: false,
            own_reply: false,
        });
    }
    Ok(out)
}

async fn event(
    db: &Db,
    incident: i64,
    level: Option<i64>,
    alert: Option<i64>,
    actor: &str,
    event: &Event,
) -> Result<(), StoreError> {
    let (kind, detail) = event.to_stored();
    sqlx::query("INSERT INTO incident_events (incident_id, at, kind, level, alert_id, actor, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(incident)
        .bind(now_ms())
        .bind(kind)
        .bind(level)
        .bind(alert)
        .bind(actor)
        .bind(detail)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Sends notices, skipping rules whose targets match nobody; records each.
async fn send_all(
    n: &Notifier,
    actor: &Actor,
    incident: i64,
    level: i64,
    notices: Vec<AlertInput>,
) -> Result<Vec<i64>, IncidentError> {
    let mut ids = Vec::new();
    for notice in notices {
        match crate::notify::send(n, actor, &notice, None).await {
            Ok(a) => {
                event(
                    &n.db,
                    incident,
                    Some(level),
                    Some(a.id),
                    &actor.name,
                    &if a.status == "pending" {
                        Event::NoticeAwaiting {
                            title: notice.title.clone(),
                            roles: notice.targets.roles.clone(),
                        }
                    } else {
                        Event::Notice {
                            title: notice.title.clone(),
                            recipients: a.recipients,
                            roles: notice.targets.roles.clone(),
                        }
                    },
                )
                .await?;
                ids.push(a.id);
            }
            // A rule whose roles nobody holds in these villages: note it, do not fail the activation.
            Err(AlertError::Invalid(f)) if f.field == "targets" || f.field == "channels" => {
                event(
                    &n.db,
                    incident,
                    Some(level),
                    None,
                    &actor.name,
                    &Event::NoticeSkipped {
                        title: notice.title.clone(),
                        reason: f.message.clone(),
                        roles: notice.targets.roles.clone(),
                    },
                )
                .await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ids)
}

pub async fn open(
    n: &Notifier,
    actor: &Actor,
    input: &OpenInput,
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    let (db, cfg, book): (&Db, &Config, _) = (&n.db, &n.cfg, &n.plans);
    // The plans of the asker's own township (a single install's: home).
    let plan = book
        .get_of(
            crate::plans::PlanOwner::Township(actor.township),
            &input.plan,
        )
        .await
        .ok_or_else(|| invalid("plan", format!("no plan '{}' is in force", input.plan)))?;
    let level = input.level.get() as u8;
    if !plan.plan.levels.iter().any(|l| l.level == level) {
        return Err(invalid(
            "level",
            format!("plan '{}' has no level {level}", plan.plan.id),
        ));
    }
    let villages = affected(
        &actor.db(db),
        &input.villages,
        &input.area,
        &cfg.limits.geo(),
    )
    .await?;
    let note = crate::validate::optional_text("note", &input.note, 2000)
        .map_err(IncidentError::Invalid)?;
    // Validate the notices before anything is written.
    let notices = level_notices(db, &plan, level, &villages, input.exercise, None).await?;
    // A real activation at a level needing a second person waits for one.
    let pending = signoff::needs_second_person(cfg, input.exercise, level, None);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO incidents (plan_id, plan_hash, level, exercise, villages, area, note, status, opened_by, opened_at, \
         pending_level, pending_villages, pending_by, pending_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $10, $8, $9, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(&plan.plan.id)
    .bind(&plan.content_hash)
    .bind(i64::from(level))
    .bind(i64::from(input.exercise))
    .bind(json!(villages).to_string())
    .bind(input.area.as_ref().map(Value::to_string))
    .bind(note)
    .bind(&actor.name)
    .bind(now_ms())
    .bind(if pending { "pending" } else { "open" })
    .bind(pending.then_some(i64::from(level)))
    .bind(pending.then(|| json!(villages).to_string()))
    .bind(pending.then(|| actor.name.clone()))
    .bind(pending.then(now_ms))
    // The activating office's township (a county activation: the county's).
    .bind(actor.township)
    .fetch_one(&db.pool)
    .await?;
    if pending {
        return signoff::requested(db, actor, id, level, &villages, "open").await;
    }
    event(
        db,
        id,
        Some(i64::from(level)),
        None,
        &actor.name,
        &Event::Open {
            villages: villages.clone(),
            plan_hash: plan.content_hash.clone(),
        },
    )
    .await?;
    let mut tx = db.begin().await?;
    crate::audit::record(&mut tx, &actor.name, "open", "incident", Some(id), None, Some(&json!({"plan": plan.plan.id, "level": level, "villages": villages, "exercise": input.exercise}))).await?;
    tx.commit().await?;
    let alerts = send_all(n, actor, id, i64::from(level), notices).await?;
    county::report(n, actor, id, &plan, level, None, &villages).await?;
    let row = get(db, id).await?.ok_or(IncidentError::NotFound)?;
    Ok((row, alerts))
}

/// How many people the notices went to.
async fn recipients_of(db: &Db, alerts: &[i64]) -> Result<i64, StoreError> {
    let mut total = 0;
    for a in alerts {
        let (c,): (i64,) = sqlx::query_as("SELECT recipients FROM alerts WHERE id = $1")
            .bind(a)
            .fetch_one(&db.pool)
            .await?;
        total += c;
    }
    Ok(total)
}

/// The plan's title, or its id if it is no longer in force.
async fn plan_title(n: &Notifier, inc: &IncidentRow) -> String {
    let plan_id = &inc.plan_id;
    n.plans
        .get_of(inc.plan_owner(), plan_id)
        .await
        .map_or_else(|| plan_id.to_string(), |p| p.plan.title.clone())
}

async fn incident_alerts(db: &Db, id: i64) -> Result<Vec<i64>, StoreError> {
    // The township's own notices: a report to the county is the county's
    // notice, not one the next level's notices update or the close ends.
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT alert_id FROM incident_events WHERE incident_id = $1 AND alert_id IS NOT NULL \
         AND kind <> 'county_report' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Raises or lowers the level (and may add villages); sends the new level's
/// notices as updates.
pub async fn change_level(
    n: &Notifier,
    actor: &Actor,
    id: i64,
    level: u8,
    add_villages: &[i64],
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    let (db, book) = (&n.db, &n.plans);
    // Another township's incident does not exist for the actor.
    let inc = get(&actor.db(db), id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    if inc.status != "open" {
        return Err(IncidentError::Conflict(format!("incident {id} is closed")));
    }
    let plan = book
        .get_of(inc.plan_owner(), &inc.plan_id)
        .await
        .ok_or_else(|| {
            invalid(
                "plan",
                format!("plan '{}' is no longer in force", inc.plan_id),
            )
        })?;
    if let Some(mine) = villages_in_scope(&actor.db(db)).await?
        && let Some(i) = add_villages.iter().position(|v| !mine.contains(v))
    {
        return Err(invalid(
            &format!("villages[{i}]"),
            format!("no village {}", add_villages[i]),
        ));
    }
    let mut villages = inc.village_ids();
    for v in add_villages {
        if !villages.contains(v) {
            villages.push(*v);
        }
    }
    if signoff::needs_second_person(&n.cfg, inc.exercise != 0, level, Some(inc.level)) {
        return signoff::request_level(n, actor, &inc, level, &villages).await;
    }
    apply_level(n, actor, &inc, &plan, level, villages).await
}

/// Changes the level of an open incident and sends the new level's notices.
async fn apply_level(
    n: &Notifier,
    actor: &Actor,
    inc: &IncidentRow,
    plan: &LoadedPlan,
    level: u8,
    villages: Vec<i64>,
) -> Result<(IncidentRow, Vec<i64>), IncidentError> {
    let (db, id) = (&n.db, inc.id);
    let previous = incident_alerts(db, id).await?.last().copied();
    let notices = level_notices(db, plan, level, &villages, inc.exercise != 0, previous).await?;
    let r = sqlx::query("UPDATE incidents SET level = $1, villages = $2, pending_level = NULL, pending_villages = NULL, pending_by = NULL, pending_at = NULL, \
         version = version + 1 WHERE id = $3 AND version = $4 AND status = 'open'")
        .bind(i64::from(level))
        .bind(json!(villages).to_string())
        .bind(id)
        .bind(inc.version)
        .execute(&db.pool)
        .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {id} was changed at the same time"
        )));
    }
    event(
        db,
        id,
        Some(i64::from(level)),
        None,
        &actor.name,
        &Event::Level {
            from: inc.level,
            to: i64::from(level),
            villages: villages.clone(),
        },
    )
    .await?;
    let mut tx = db.begin().await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "level",
        "incident",
        Some(id),
        Some(&json!({"level": inc.level})),
        Some(&json!({"level": level, "villages": villages})),
    )
    .await?;
    tx.commit().await?;
    let alerts = send_all(n, actor, id, i64::from(level), notices).await?;
    // A raise is reported to the county as an opening is; a lowering is not.
    if i64::from(level) < inc.level {
        county::report(n, actor, id, plan, level, Some(inc.level), &villages).await?;
    }
    let row = get(db, id).await?.ok_or(IncidentError::NotFound)?;
    Ok((row, alerts))
}

/// Stands down: the all-clear to everyone notified, and their notices closed
/// (no more repeats or escalation).
pub async fn close(
    n: &Notifier,
    actor: &Actor,
    id: i64,
    note: Option<String>,
) -> Result<(IncidentRow, Option<i64>), IncidentError> {
    let db = &n.db;
    let inc = get(&actor.db(db), id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    if inc.status != "open" {
        return Err(IncidentError::Conflict(format!(
            "incident {id} is already closed"
        )));
    }
    let alert_ids = incident_alerts(db, id).await?;
    let mut contacts = BTreeSet::new();
    for a in &alert_ids {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT contact_id FROM alert_recipients WHERE alert_id = $1 AND contact_id IS NOT NULL")
            .bind(a)
            .fetch_all(&db.pool)
            .await?;
        contacts.extend(rows.into_iter().map(|r| r.0));
    }
    let now = now_ms();
    let r = sqlx::query("UPDATE incidents SET status = 'closed', closed_by = $1, closed_at = $2, version = version + 1 WHERE id = $3 AND status = 'open'")
        .bind(&actor.name)
        .bind(now)
        .bind(id)
        .execute(&db.pool)
        .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "incident {id} is already closed"
        )));
    }
    let mut all_clear = None;
    if !contacts.is_empty() {
        let extra = note
            .as_deref()
            .map(|n| {
                format!(
                    "{}。",
                    n.trim_end_matches('。')
                        .replace('{', "{{")
                        .replace('}', "}}")
                )
            })
            .unwrap_or_default();
        let input = AlertInput {
            // The exercise mark is added once, when the text is rendered.
            title: "{plan}应急响应解除".into(),
            body: format!(
                "{{name}}：{{plan}}应急响应已解除，各岗位恢复正常值守。{extra}感谢坚守。本短信无需回复。"
            ),
            level: None,
            exercise: inc.exercise != 0,
            // Internal, like the notices it ends.
            public: false,
            channels: vec![Channel::Sms],
            ack_within_minutes: None,
            targets: Targets {
                contacts: contacts.into_iter().collect(),
                ..Default::default()
            },
            updates: alert_ids.last().copied(),
            plan: Some(plan_title(n, &inc).await),
            urgent: Some(true),
            escalate_to: Vec::new(),
            ladder: Vec::new(),
            all_clear: true,
            receipt: false,
            own_reply: false,
        };
        let a = crate::notify::send(n, actor, &input, None).await?;
        event(
            db,
            id,
            None,
            Some(a.id),
            &actor.name,
            &Event::AllClear {
                recipients: a.recipients,
            },
        )
        .await?;
        all_clear = Some(a.id);
    }
    for a in &alert_ids {
        alerts::close(db, &actor.name, *a).await?;
    }
    event(
        db,
        id,
        None,
        None,
        &actor.name,
        &Event::Close { note: note.clone() },
    )
    .await?;
    let mut tx = db.begin().await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "close",
        "incident",
        Some(id),
        Some(&json!({"status": "open"})),
        Some(&json!({"status": "closed"})),
    )
    .await?;
    tx.commit().await?;
    let row = get(db, id).await?.ok_or(IncidentError::NotFound)?;
    Ok((row, all_clear))
}

//! Drills (演练): schedules, reminders sent exactly once, records and
//! scorecards.

pub mod ledger;
pub mod records;
pub mod reminders;
pub mod schedule;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Actor, Role};
use crate::config::DrillsConfig;
use crate::registry::villages;
use crate::store::versioned::{self, Edit, Written, versioned_row};
use crate::store::{Db, Result, WriteError, now_ms};
use crate::validate::{FieldError, required_text};
use schedule::{Schedule, parse_cron, parse_lead, parse_once};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillInput {
    pub title: String,
    #[serde(default)]
    pub plan_id: Option<String>,
    /// Standard five-field cron, e.g. "0 9 1 */3 *" (09:00 on the 1st, every three months).
    #[serde(default)]
    pub cron: Option<String>,
    /// Or a single local date-time, e.g. "2026-12-05T09:30".
    #[serde(default)]
    pub at: Option<String>,
    /// Default Asia/Shanghai.
    #[serde(default)]
    pub timezone: Option<crate::time::Zone>,
    /// "all" or village ids/codes.
    #[serde(default)]
    #[schema(value_type = Option<crate::notify::intake::targets::VillageRefs>)]
    pub villages: Option<Value>,
    #[serde(default)]
    pub roles: Vec<crate::registry::roles::ContactRole>,
    #[serde(default = "default_leads")]
    pub lead_times: Vec<String>,
    /// A business's own drill (hazardous-chemical and fireworks sites must
    /// drill every six months).
    #[serde(default)]
    pub site_id: Option<i64>,
    #[serde(default)]
    pub version: Option<i64>,
}

fn default_leads() -> Vec<String> {
    vec!["7d".into(), "1d".into(), "2h".into()]
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DrillRow {
    pub id: i64,
    pub plan_id: Option<String>,
    pub title: String,
    pub cron: Option<String>,
    pub once_at: Option<i64>,
    pub timezone: String,
    pub villages: String,
    pub roles: String,
    pub lead_times: String,
    pub site_id: Option<i64>,
    pub source: String,
    /// 0: a draft (an editor's schedule, or archived): no reminders, cannot be started.
    pub active: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When a dispatcher activated it; `None` if it was active from creation.
    pub activated_at: Option<i64>,
    pub archived_at: Option<i64>,
    /// Whose drill it is: its reminders and starts reach this township's people.
    pub township_id: i64,
}

pub const COLS: &str = "id, plan_id, title, cron, once_at, timezone, villages, roles, lead_times, site_id, source, active, version, created_at, updated_at, activated_at, archived_at, township_id";

impl DrillRow {
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    pub fn schedule(&self) -> Option<Schedule> {
        match (&self.cron, self.once_at) {
            (Some(c), _) => parse_cron(c, self.tz()).ok(),
            (None, Some(ms)) => {
                chrono::DateTime::from_timestamp_millis(ms).map(|at| Schedule::Once { at })
            }
            _ => None,
        }
    }

    pub fn leads(&self) -> Vec<(String, i64)> {
        serde_json::from_str::<Vec<String>>(&self.lead_times)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| parse_lead(&l).ok().map(|ms| (l, ms)))
            .collect()
    }

    /// Reminders due before this moment are not owed: the schedule was not yet active.
    pub fn sends_from(&self) -> i64 {
        self.activated_at.unwrap_or(0).max(self.created_at)
    }

    pub fn village_ids(&self) -> Value {
        serde_json::from_str(&self.villages).unwrap_or(Value::Null)
    }

    pub fn role_names(&self) -> Vec<String> {
        serde_json::from_str(&self.roles).unwrap_or_default()
    }

    /// The next `n` occurrences after now, in the drill's zone.
    pub fn next(&self, n: usize) -> Vec<String> {
        let tz = self.tz();
        self.schedule()
            .map(|s| {
                s.after(chrono::Utc::now(), n)
                    .into_iter()
                    .map(|t| {
                        t.with_timezone(&tz)
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn view(&self, tz: chrono_tz::Tz) -> DrillView {
        DrillView {
            id: self.id,
            title: self.title.clone(),
            plan_id: self.plan_id.clone(),
            cron: self.cron.clone(),
            at: crate::time::fmt_opt(self.once_at, self.tz()),
            timezone: self.timezone.clone(),
            villages: self.village_ids(),
            roles: self.role_names(),
            lead_times: serde_json::from_str(&self.lead_times).unwrap_or_default(),
            site_id: self.site_id,
            source: self.source.clone(),
            active: self.active != 0,
            activated_at: crate::time::fmt_opt(self.activated_at, tz),
            version: self.version,
            next_occurrences: self.next(5),
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

/// A drill schedule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DrillView {
    pub id: i64,
    pub title: String,
    pub plan_id: Option<String>,
    pub cron: Option<String>,
    /// A single occurrence, in the drill's zone.
    pub at: Option<String>,
    pub timezone: String,
    /// "all", or village ids.
    #[schema(value_type = crate::notify::intake::targets::VillageRefs)]
    pub villages: Value,
    pub roles: Vec<String>,
    /// Reminder lead times, e.g. 7d, 1d, 2h.
    pub lead_times: Vec<String>,
    pub site_id: Option<i64>,
    /// api, web or plan:<id>.
    pub source: String,
    /// False: a draft, until a dispatcher activates it.
    pub active: bool,
    pub activated_at: Option<String>,
    pub version: i64,
    pub next_occurrences: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn fe(field: impl Into<String>, message: impl Into<String>) -> WriteError {
    WriteError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// How many coming occurrences of a cron schedule are checked against the shortest interval:
/// a five-field cron repeats its pattern within a day or a year, so a run this long shows its
/// closest pair.
const INTERVAL_RUN: usize = 50;

fn gap_text(d: chrono::Duration) -> (String, String) {
    let m = d.num_minutes();
    if m < 120 {
        (format!("{m} 分钟"), format!("{m} minutes"))
    } else {
        let h = d.num_hours();
        (format!("{h} 小时"), format!("{h} hours"))
    }
}

/// The limits on what a drill schedule may make the daemon send (`[drills]` settings): its
/// occurrences at least `min_interval_hours` apart, each reminder at least `min_lead_minutes`
/// ahead. `leads` are the lead times as written, with their length in milliseconds, in the
/// order of the `lead_times` field.
pub fn check_limits(
    cfg: &DrillsConfig,
    schedule: &Schedule,
    leads: &[(String, i64)],
) -> std::result::Result<(), FieldError> {
    let min_lead = cfg.min_lead_minutes.max(0);
    for (k, (text, ms)) in leads.iter().enumerate() {
        if *ms < min_lead * 60_000 {
            return Err(FieldError {
                field: format!("lead_times[{k}]"),
                message: format!(
                    "提前提醒不得少于 {min_lead} 分钟（“{text}”太短）。A reminder lead time must be at least {min_lead} minutes (drills.min_lead_minutes); '{text}' is shorter."
                ),
            });
        }
    }
    let min_hours = cfg.min_interval_hours.max(0);
    if let Schedule::Cron { expr, .. } = schedule
        && let Some(gap) = schedule.shortest_gap(chrono::Utc::now(), INTERVAL_RUN)
        && gap < chrono::Duration::hours(min_hours)
    {
        let (zh, en) = gap_text(gap);
        return Err(FieldError {
            field: "cron".into(),
            message: format!(
                "两次演练至少相隔 {min_hours} 小时，“{expr}”有两次只隔 {zh}。Drills must be at least {min_hours} hours apart (drills.min_interval_hours); '{expr}' has two {en} apart."
            ),
        });
    }
    Ok(())
}

struct Valid {
    title: String,
    cron: Option<String>,
    once_at: Option<i64>,
    timezone: String,
    villages: Value,
    roles: Vec<&'static str>,
    leads: Vec<String>,
}

async fn validate(db: &Db, limits: &DrillsConfig, i: &DrillInput) -> Result<Valid, WriteError> {
    let title = required_text("title", &i.title, 100)?;
    let tz = i.timezone.map_or(chrono_tz::Asia::Shanghai, |z| z.0);
    let timezone = tz.name().to_string();
    let (cron, once_at, schedule) = match (&i.cron, &i.at) {
        (Some(c), None) => {
            let schedule = parse_cron(c, tz).map_err(|e| fe("cron", e.0))?;
            (Some(c.trim().to_string()), None, schedule)
        }
        (None, Some(a)) => match parse_once(a, tz).map_err(|e| fe("at", e.0))? {
            s @ Schedule::Once { at } => (None, Some(at.timestamp_millis()), s),
            s @ Schedule::Cron { .. } => (None, None, s),
        },
        (Some(_), Some(_)) => return Err(fe("cron", "give either cron or at, not both")),
        (None, None) => {
            return Err(fe(
                "cron",
                "give a cron expression or a single date-time (at)",
            ));
        }
    };
    if i.lead_times.len() > 10 {
        return Err(fe("lead_times", "at most 10 lead times"));
    }
    let mut leads = Vec::new();
    let mut parsed = Vec::new();
    for (k, l) in i.lead_times.iter().enumerate() {
        let ms = parse_lead(l).map_err(|e| fe(format!("lead_times[{k}]"), e.0))?;
        parsed.push((l.trim().to_string(), ms));
        if !leads.contains(&l.trim().to_string()) {
            leads.push(l.trim().to_string());
        }
    }
    check_limits(limits, &schedule, &parsed)?;
    let rs: Vec<&'static str> = i.roles.iter().map(|r| r.name()).collect();
    let mut all = villages::list(db, false).await?;
    // Another township's villages are unknown to a township office.
    if let Some(mine) = crate::incidents::villages_in_scope(db).await? {
        all.retain(|v| mine.contains(&v.id));
    }
    let villages = match &i.villages {
        None | Some(Value::Null) => Value::Array(vec![]),
        Some(Value::String(s)) if s == "all" => Value::String("all".into()),
        Some(Value::Array(items)) => {
            let mut ids = Vec::new();
            for (k, it) in items.iter().enumerate() {
                let found = crate::registry::villages::find_ref(&all, it);
                ids.push(
                    found
                        .ok_or_else(|| fe(format!("villages[{k}]"), format!("no village {it}")))?
                        .id,
                );
            }
            json!(ids)
        }
        Some(_) => {
            return Err(fe(
                "villages",
                "use \"all\" or a list of village ids or codes",
            ));
        }
    };
    if villages.as_array().is_some_and(Vec::is_empty) && rs.is_empty() && i.site_id.is_none() {
        return Err(fe("villages", "name the villages or roles taking part"));
    }
    if let Some(sid) = i.site_id
        && (crate::ledger::sites::get(db, sid).await?.is_none() || !site_in_scope(db, sid).await?)
    {
        return Err(fe("site_id", format!("no site {sid}")));
    }
    Ok(Valid {
        title,
        cron,
        once_at,
        timezone,
        villages,
        roles: rs,
        leads,
    })
}

async fn get_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Option<DrillRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM drills WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Whether the handle's scope covers the site's township.
async fn site_in_scope(db: &Db, id: i64) -> Result<bool> {
    let mut tx = db.read().await?;
    let r: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM sites WHERE id = $1 AND {}",
        db.township_filter("township_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(r.is_some())
}

/// One drill schedule, if the handle's scope covers its township (another
/// township's is None: 404).
pub async fn get(db: &Db, id: i64) -> Result<Option<DrillRow>> {
    db.get_in_scope(COLS, "drills", id).await
}

/// The drill schedules the handle's scope covers (the daemon's: all).
pub async fn list(db: &Db) -> Result<Vec<DrillRow>> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM drills WHERE archived_at IS NULL AND {} ORDER BY id",
        db.township_filter("township_id")
    )))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Who a drill's notices are sent as: `actor` (its name, role), reaching
/// the drill's township's people and belonging to it. A drill of the county
/// bureau's row reaches what the county does.
pub async fn sender(db: &Db, actor: &Actor, d: &DrillRow) -> Result<Actor> {
    let kind: Option<(String,)> = sqlx::query_as("SELECT kind FROM townships WHERE id = $1")
        .bind(d.township_id)
        .fetch_optional(&db.pool)
        .await?;
    let scope = match kind {
        Some((k,)) if k == "county" => crate::store::Scope::County,
        _ => crate::store::Scope::township(d.township_id),
    };
    Ok(Actor {
        scope,
        township: d.township_id,
        ..actor.clone()
    })
}

/// Whether `actor` may make a drill schedule send (reminders, a start): sending is a
/// dispatcher's power; an editor's schedule is a draft.
fn may_send(actor: &Actor) -> bool {
    actor.role >= Role::Dispatcher
}

/// Schedules a drill. A dispatcher's (or admin's) schedule is active at once; an editor's is a
/// draft until a dispatcher [`activate`]s it.
pub async fn create(
    db: &Db,
    limits: &DrillsConfig,
    actor: &Actor,
    i: &DrillInput,
    source: &str,
    tz: chrono_tz::Tz,
) -> Result<DrillRow, WriteError> {
    let v = validate(db, limits, i).await?;
    let now = now_ms();
    let active = may_send(actor);
    let mut tx = db.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO drills (plan_id, title, cron, once_at, timezone, villages, roles, lead_times, site_id, source, created_at, updated_at, active, activated_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14) RETURNING id",
    )
    .bind(i.plan_id.clone())
    .bind(&v.title)
    .bind(v.cron.clone())
    .bind(v.once_at)
    .bind(&v.timezone)
    .bind(v.villages.to_string())
    .bind(json!(v.roles).to_string())
    .bind(json!(v.leads).to_string())
    .bind(i.site_id)
    .bind(source)
    .bind(now)
    .bind(i64::from(active))
    .bind(active.then_some(now))
    // The scheduling office's township.
    .bind(actor.township)
    .fetch_one(&mut *tx)
    .await?;
    let row = get_in(&mut tx, id).await?.ok_or(WriteError::NotFound)?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "create",
        "drill",
        Some(id),
        None,
        Some(&json!(row.view(tz))),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Changes a drill schedule. An editor's change makes it a draft again (what it sends is now
/// the editor's words and timing) until a dispatcher activates it; a dispatcher's keeps its state.
pub async fn update(
    db: &Db,
    limits: &DrillsConfig,
    actor: &Actor,
    id: i64,
    i: &DrillInput,
    tz: chrono_tz::Tz,
) -> Result<DrillRow, WriteError> {
    let version = i
        .version
        .ok_or_else(|| fe("version", "is required on update (the version you edited)"))?;
    let v = validate(db, limits, i).await?;
    let (plan_id, site_id, keeps_state) = (i.plan_id.clone(), i.site_id, may_send(actor));
    let edit = Edit::new(actor, "update", id, tz).seen(Some(version));
    versioned::change(db, edit, move |tx, _: &DrillRow| {
        Box::pin(async move {
            let r = sqlx::query(
                "UPDATE drills SET plan_id = $1, title = $2, cron = $3, once_at = $4, timezone = $5, villages = $6, roles = $7, \
                 lead_times = $8, site_id = $9, version = version + 1, updated_at = $10, active = active * $13 \
                 WHERE id = $11 AND version = $12",
            )
            .bind(plan_id)
            .bind(&v.title)
            .bind(v.cron.clone())
            .bind(v.once_at)
            .bind(&v.timezone)
            .bind(v.villages.to_string())
            .bind(json!(v.roles).to_string())
            .bind(json!(v.leads).to_string())
            .bind(site_id)
            .bind(now_ms())
            .bind(id)
            .bind(version)
            .bind(i64::from(keeps_state))
            .execute(tx)
            .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

pub async fn archive(
    db: &Db,
    actor: &Actor,
    id: i64,
    tz: chrono_tz::Tz,
) -> Result<DrillRow, WriteError> {
    versioned::archive(db, Edit::new(actor, "archive", id, tz), ", active = 0").await
}

/// Makes a draft drill schedule active: from now on its reminders go out and it can be started.
/// A dispatcher's (or admin's) power, which the caller checks. The limits are checked again (the
/// settings may have changed since it was drafted); reminders that fell due while it was a draft
/// are not sent. An archived schedule cannot be activated; an active one is returned as it is.
pub async fn activate(
    db: &Db,
    limits: &DrillsConfig,
    actor: &Actor,
    id: i64,
    tz: chrono_tz::Tz,
) -> Result<DrillRow, WriteError> {
    let edit = Edit::new(actor, "activate", id, tz);
    versioned::change(db, edit, move |tx, before: &DrillRow| {
        let ready = ready_to_activate(limits, before);
        Box::pin(async move {
            if !ready? {
                return Ok(Written::Nothing);
            }
            let r = sqlx::query("UPDATE drills SET active = 1, activated_at = $1, version = version + 1, updated_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(id)
                .execute(tx)
                .await?;
            Ok(Written::Rows(r.rows_affected()))
        })
    })
    .await
}

/// Whether a schedule may be activated: false if it already is; an error
/// if it is archived or breaks the limits.
fn ready_to_activate(limits: &DrillsConfig, d: &DrillRow) -> Result<bool, WriteError> {
    if d.archived_at.is_some() {
        let id = d.id;
        return Err(WriteError::Conflict(format!(
            "演练安排 {id} 已归档，不能启用。Drill {id} is archived and cannot be activated."
        )));
    }
    if d.active != 0 {
        return Ok(false);
    }
    let schedule = d
        .schedule()
        .ok_or_else(|| fe("cron", "the stored schedule cannot be read"))?;
    check_limits(limits, &schedule, &d.leads())?;
    Ok(true)
}

versioned_row!(DrillRow, "drill", "drills", |row, tz| json!(row.view(tz)));

/// Returns to draft every active schedule that breaks the limits, at start: one saved before
/// the limits existed (or before a setting was raised) must not keep texting villages. Each is
/// logged and audited; a dispatcher can fix it and activate it again. Plan files' drills are
/// checked when they are mirrored ([`sync_from_plans`]).
pub async fn draft_those_over_the_limits(db: &Db, limits: &DrillsConfig) -> Result<usize> {
    let mut drafted = 0;
    for d in list(db).await? {
        if d.active == 0 || d.source == "plan" {
            continue;
        }
        let Some(schedule) = d.schedule() else {
            continue;
        };
        let Err(problem) = check_limits(limits, &schedule, &d.leads()) else {
            continue;
        };
        let mut tx = db.begin().await?;
        let r = sqlx::query(
            "UPDATE drills SET active = 0, version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
        )
        .bind(now_ms())
        .bind(d.id)
        .bind(d.version)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            continue;
        }
        let after = json!({ "active": false, "field": problem.field, "problem": problem.message });
        crate::audit::record(
            &mut tx,
            "system:drills",
            "draft",
            "drill",
            Some(d.id),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(drill = d.id, title = %d.title, field = %problem.field, problem = %problem.message,
            "drill schedule returned to draft: it breaks the drill limits");
        drafted += 1;
    }
    Ok(drafted)
}

/// The targets a drill's notices go to.
pub fn targets(d: &DrillRow) -> crate::notify::intake::alerts::Targets {
    crate::notify::intake::alerts::Targets {
        villages: match d.village_ids() {
            Value::Array(a) if a.is_empty() => None,
            v => Some(v),
        },
        roles: d.role_names(),
        contacts: Vec::new(),
        area: None,
        township: false,
        site_kinds: Vec::new(),
        townships: None,
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Started {
    pub alert_id: Option<i64>,
    pub incident_id: Option<i64>,
}

/// Runs a drill now: an exercise notice to its participants with an answer
/// deadline, so the same answer and escalation path is tested as in a real
/// event. The run is noted so the record can pick up its answer statistics.
pub async fn start(
    n: &crate::notify::delivery::outbox::Notifier,
    actor: &Actor,
    d: &DrillRow,
    ack_within_minutes: i64,
) -> std::result::Result<Started, crate::notify::intake::alerts::AlertError> {
    let title = d.title.replace('{', "{{").replace('}', "}}");
    let input = crate::notify::intake::alerts::AlertInput {
        title: format!("演练：{title}"),
        body: format!(
            "{{name}}：“{title}”演练现在开始，请于 {{deadline}} 前确认收到。This is a drill."
        ),
        level: None,
        exercise: true,
        public: false,
        channels: vec![crate::notify::Channel::Sms],
        ack_within_minutes: Some(ack_within_minutes),
        targets: targets(d),
        updates: None,
        plan: d.plan_id.clone(),
        urgent: Some(true),
        escalate_to: Vec::new(),
        ladder: Vec::new(),
        all_clear: false,
        receipt: false,
        own_reply: false,
    };
    let sender = sender(&n.db, actor, d).await?;
    let accepted = crate::notify::send(n, &sender, &input, None).await?;
    records::note_run(&n.db, d.id, accepted.id, &actor.name).await?;
    Ok(Started {
        alert_id: Some(accepted.id),
        incident_id: None,
    })
}

fn lead_text(minutes: u32) -> String {
    if minutes.is_multiple_of(1440) {
        format!("{}d", minutes / 1440)
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// Mirrors the drill schedules written in plan files into the drill table
/// (source `plan`), so their reminders run like any other; a schedule that
/// left its plan file is archived.
///
/// A plan's drill that breaks the limits ([`check_limits`]) is not mirrored (and an earlier
/// mirror of it is archived): a plan file is no way around them. The shipped plans obey them.
pub async fn sync_from_plans(
    db: &Db,
    limits: &DrillsConfig,
    book: &crate::planbook::PlanBook,
) -> Result<()> {
    let existing: Vec<DrillRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM drills WHERE source = 'plan' AND archived_at IS NULL"
    )))
    .fetch_all(&db.pool)
    .await?;
    let codes: Vec<(i64, String)> = crate::registry::villages::list(db, false)
        .await?
        .into_iter()
        .map(|v| (v.id, v.code))
        .collect();
    let mut keep = Vec::new();
    let now = now_ms();
    for p in book.all().await {
        for s in &p.plan.drills {
            let villages = match &s.villages {
                crate::plans::Villages::All => json!("all"),
                crate::plans::Villages::Codes(cs) => json!(
                    codes
                        .iter()
                        .filter(|(_, c)| cs.contains(c))
                        .map(|(id, _)| *id)
                        .collect::<Vec<_>>()
                ),
            };
            let leads: Vec<String> = s
                .remind_before
                .iter()
                .map(|l| lead_text(l.minutes()))
                .collect();
            let within = parse_cron(&s.cron, crate::plans::DRILL_TZ).map(|schedule| {
                let parsed: Vec<(String, i64)> = leads
                    .iter()
                    .filter_map(|l| parse_lead(l).ok().map(|ms| (l.clone(), ms)))
                    .collect();
                check_limits(limits, &schedule, &parsed)
            });
            if let Ok(Err(e)) = within {
                tracing::warn!(plan = %p.plan.id, drill = %s.name, field = %e.field, problem = %e.message,
                    "drill of a plan file not scheduled: it breaks the drill limits");
                continue;
            }
            let found = existing
                .iter()
                .find(|d| d.plan_id.as_deref() == Some(p.plan.id.as_str()) && d.title == s.name);
            match found {
                Some(d) => {
                    keep.push(d.id);
                    sqlx::query("UPDATE drills SET cron = $1, villages = $2, roles = $3, lead_times = $4, updated_at = $5 WHERE id = $6")
                        .bind(&s.cron)
                        .bind(villages.to_string())
                        .bind(json!(s.roles).to_string())
                        .bind(json!(leads).to_string())
                        .bind(now)
                        .bind(d.id)
                        .execute(&db.pool)
                        .await?;
                }
                None => {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO drills (plan_id, title, cron, timezone, villages, roles, lead_times, source, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'plan', $8, $8) RETURNING id",
                    )
                    .bind(&p.plan.id)
                    .bind(&s.name)
                    .bind(&s.cron)
                    .bind(crate::plans::DRILL_TZ.name())
                    .bind(villages.to_string())
                    .bind(json!(s.roles).to_string())
                    .bind(json!(leads).to_string())
                    .bind(now)
                    .fetch_one(&db.pool)
                    .await?;
                    keep.push(id);
                }
            }
        }
    }
    for d in existing.iter().filter(|d| !keep.contains(&d.id)) {
        sqlx::query("UPDATE drills SET archived_at = $1, active = 0 WHERE id = $2")
            .bind(now)
            .bind(d.id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// Starts a drill now: a drill of a plan in force opens an exercise incident
/// of that plan (its Ⅳ notices, marked as drill); any other drill sends an
/// exercise notice with an answer deadline. Either way the run is noted so
/// the record picks up its answer statistics.
pub async fn start_now(
    n: &crate::notify::delivery::outbox::Notifier,
    actor: &Actor,
    d: &DrillRow,
    ack_within_minutes: i64,
) -> std::result::Result<Started, crate::incidents::IncidentError> {
    let (db, book) = (&n.db, &n.plans);
    if d.active == 0 {
        return Err(crate::incidents::IncidentError::Conflict(
            "这个演练安排是草稿（或已归档），须由调度员启用后才能开始。This drill schedule is a draft (or archived): a dispatcher must activate it first."
                .into(),
        ));
    }
    match d.plan_id.as_deref() {
        Some(pid) if book.get(pid).await.is_some() => {
            let villages = match d.village_ids() {
                Value::Array(a) if a.is_empty() => json!("all"),
                v => v,
            };
            let open = crate::incidents::OpenInput {
                plan: pid.to_string(),
                level: crate::notify::intake::level::Level::IV,
                villages: Some(villages),
                area: None,
                note: Some(format!("演练：{}", d.title)),
                exercise: true,
            };
            let sender = sender(db, actor, d).await?;
            let (inc, alerts) = crate::incidents::open(n, &sender, &open).await?;
            if let Some(first) = alerts.first() {
                records::note_run(db, d.id, *first, &actor.name).await?;
            }
            Ok(Started {
                alert_id: alerts.first().copied(),
                incident_id: Some(inc.id),
            })
        }
        _ => Ok(start(n, actor, d, ack_within_minutes).await?),
    }
}

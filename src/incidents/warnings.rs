//! Warnings (预警) issued from a plan: a signal or a rating that sends
//! readiness notices (publicity, patrols, bans) to named roles, and — when
//! the plan has a text for the public — a public notice that waits for a
//! leader's sign-off. A warning is not a response: no incident is opened and
//! nobody is mobilised. While a warning is in force (not lifted, not past
//! its hours) a reading at the same or a lesser warning sends nothing again.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;

use super::{IncidentError, rule_notices};
use crate::auth::Actor;
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{self, AlertError, AlertInput, Targets};
use crate::notify::intake::template;
use crate::plans::{LoadedPlan, Warning};
use crate::store::{Db, StoreError, now_ms};

/// A warning as issued, for the overview, the plan page and the API.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IssuedWarning {
    pub id: i64,
    pub plan_id: String,
    pub warning_id: String,
    pub title: String,
    pub severity: i64,
    /// JSON array of village ids.
    #[serde(skip)]
    pub villages: String,
    /// JSON array of the notices it sent.
    #[serde(skip)]
    pub alerts: String,
    pub observation_id: Option<i64>,
    pub issued_by: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<i64>,
}

impl IssuedWarning {
    pub fn village_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.villages).unwrap_or_default()
    }
    pub fn alert_ids(&self) -> Vec<i64> {
        serde_json::from_str(&self.alerts).unwrap_or_default()
    }
}

const COLS: &str = "id, plan_id, warning_id, title, severity, villages, alerts, observation_id, issued_by, issued_at, expires_at, lifted_by, lifted_at";

/// Warnings in force now, newest first.
/// (Those of the townships the handle's scope covers.)
pub async fn in_force(db: &Db) -> Result<Vec<IssuedWarning>, StoreError> {
    let mut tx = db.read().await?;
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM plan_warnings WHERE lifted_at IS NULL AND expires_at > $1 AND {} ORDER BY id DESC",
        db.township_filter("township_id")
    )))
    .bind(now_ms())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// One warning, if the handle's scope covers its township.
pub async fn get(db: &Db, id: i64) -> Result<Option<IssuedWarning>, StoreError> {
    db.get_in_scope(COLS, "plan_warnings", id).await
}

/// One notice a warning or a response sent, or why a rule sent nothing.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Sent {
    pub alerts: Vec<i64>,
    /// People the notices went to.
    pub recipients: i64,
    /// Rules that reached nobody, in words (“包村干部：无在职联系人，未发出”).
    pub skipped: Vec<String>,
    /// A public notice waiting for a leader's sign-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_alert: Option<i64>,
}

/// “包村干部、应急办主任：无在职联系人，未发出” — why a rule sent nothing.
pub fn skipped_in_words(roles: &[String], reason: &str) -> String {
    let who = if roles.is_empty() {
        "通知对象".to_string()
    } else {
        roles.join("、")
    };
    if reason.contains("no active contact") || reason.contains("match no") {
        format!("{who}：无在职联系人，未发出")
    } else if reason.contains("channel") {
        format!("{who}：没有可用的通知渠道，未发出")
    } else {
        format!("{who}：未发出（{reason}）")
    }
}

/// Sends each notice; a rule whose roles nobody holds is noted, not fatal.
pub(crate) async fn send_each(
    n: &Notifier,
    actor: &Actor,
    notices: Vec<AlertInput>,
) -> Result<Sent, IncidentError> {
    let mut sent = Sent {
        alerts: Vec::new(),
        recipients: 0,
        skipped: Vec::new(),
        public_alert: None,
    };
    for notice in notices {
        match crate::notify::send(n, actor, &notice, None).await {
            Ok(a) => {
                sent.recipients += a.recipients;
                sent.alerts.push(a.id);
                if notice.public {
                    sent.public_alert = Some(a.id);
                }
            }
            Err(AlertError::Invalid(f)) if f.field == "targets" || f.field == "channels" => {
                sent.skipped
                    .push(skipped_in_words(&notice.targets.roles, &f.message));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(sent)
}

/// What issuing a warning did.
#[derive(Debug, Clone, Serialize)]
pub enum Issued {
    /// Sent to the villages not yet covered by a warning in force.
    New { record: i64, sent: Sent },
    /// A warning at least as severe already covers these villages.
    InForce { record: i64 },
}

/// Issues warning `index` of `plan` for `villages` (ids), skipping villages
/// a warning at least as severe already covers.
pub async fn issue(
    n: &Notifier,
    actor: &Actor,
    plan: &LoadedPlan,
    index: usize,
    villages: &[i64],
    observation: Option<i64>,
) -> Result<Issued, IncidentError> {
    let db = &n.db;
    let Some(w) = plan.plan.warnings.get(index) else {
        return Err(IncidentError::NotFound);
    };
    let severity = i64::try_from(index).unwrap_or(i64::MAX);
    let mut covered = BTreeSet::new();
    let mut covering = None;
    // Only a warning of the same kind covers this one: a typhoon warning in
    // force does not stand for a rainstorm warning.
    let kinds = w.triggers.kinds();
    let same_kind = |other: &Warning| {
        other.id == w.id || other.triggers.kinds().iter().any(|k| kinds.contains(k))
    };
    // Only the actor's township's warnings cover its villages.
    for r in in_force(&actor.db(db)).await? {
        let comparable = usize::try_from(r.severity)
            .ok()
            .and_then(|i| plan.plan.warnings.get(i))
            .is_some_and(same_kind);
        if r.plan_id == plan.plan.id && r.severity >= severity && comparable {
            covered.extend(r.village_ids());
            covering.get_or_insert(r.id);
        }
    }
    let fresh: Vec<i64> = villages
        .iter()
        .copied()
        .filter(|v| !covered.contains(v))
        .collect();
    if fresh.is_empty() {
        return Ok(Issued::InForce {
            record: covering.unwrap_or_default(),
        });
    }
    let mut notices = rule_notices(db, plan, &w.notify, None, &fresh, false, None).await?;
    // {title} in a warning's texts is the warning's name.
    for n in &mut notices {
        n.title = with_title(&n.title, &w.title);
        n.body = with_title(&n.body, &w.title);
    }
    if let Some(public) = public_notice(n, plan, w, &fresh)? {
        notices.push(public);
    }
    let now = now_ms();
    // Recorded before sending, so a second reading arriving meanwhile finds it in force.
    let (record,): (i64,) = sqlx::query_as(
        "INSERT INTO plan_warnings (plan_id, warning_id, title, severity, villages, observation_id, alerts, issued_by, issued_at, expires_at, township_id) \
         VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, $8, $9, $10) RETURNING id",
    )
    .bind(&plan.plan.id)
    .bind(&w.id)
    .bind(&w.title)
    .bind(severity)
    .bind(json!(fresh).to_string())
    .bind(observation)
    .bind(&actor.name)
    .bind(now)
    .bind(now + i64::from(w.hours) * 3_600_000)
    // The issuing office's township, like the notices it sends.
    .bind(actor.township)
    .fetch_one(db.writer())
    .await?;
    let sent = match send_each(n, actor, notices).await {
        Ok(sent) => sent,
        Err(e) => {
            // Not left in force with nothing sent: the next reading tries again.
            sqlx::query(
                "UPDATE plan_warnings SET lifted_by = 'system', lifted_at = $1 WHERE id = $2",
            )
            .bind(now_ms())
            .bind(record)
            .execute(db.writer())
            .await?;
            return Err(e);
        }
    };
    sqlx::query("UPDATE plan_warnings SET alerts = $1 WHERE id = $2")
        .bind(json!(sent.alerts).to_string())
        .bind(record)
        .execute(db.writer())
        .await?;
    let mut tx = db.begin().await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "warn",
        "warning",
        Some(record),
        None,
        Some(&json!({"plan": plan.plan.id, "warning": w.title, "villages": fresh, "notices": sent.alerts, "skipped": sent.skipped})),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued::New { record, sent })
}

/// `text` with `{title}` filled in and every other variable left for
/// rendering.
fn with_title(text: &str, title: &str) -> String {
    template::prefill(text, |v| (v == "title").then(|| title.to_string()))
        .unwrap_or_else(|_| text.to_string())
}

/// The warning's public text, filled for everyone before it is stored; it
/// goes to the roles the warning notifies and is published once a leader
/// signs it off.
fn public_notice(
    n: &Notifier,
    plan: &LoadedPlan,
    w: &Warning,
    villages: &[i64],
) -> Result<Option<AlertInput>, IncidentError> {
    let Some(t) = w.public.as_ref().and_then(|p| plan.plan.templates.get(p)) else {
        return Ok(None);
    };
    let fill = |text: &str| {
        template::render(text, |v| match v {
            "plan" => plan.plan.title.clone(),
            "title" => w.title.clone(),
            "office" => n.cfg.office_name.clone(),
            _ => String::new(),
        })
        .map(|s| s.replace('{', "{{").replace('}', "}}"))
        .map_err(|e| super::invalid("public", e.to_string()))
    };
    let mut roles: Vec<String> = Vec::new();
    for r in w.notify.iter().flat_map(|r| r.roles.iter()) {
        if !roles.contains(r) {
            roles.push(r.clone());
        }
    }
    Ok(Some(AlertInput {
        title: fill(&t.title)?,
        body: fill(&t.body)?,
        level: None,
        exercise: false,
        public: true,
        channels: vec![Channel::Sms],
        ack_within_minutes: None,
        targets: Targets {
            villages: Some(json!(villages)),
            roles,
            contacts: Vec::new(),
            area: None,
            township: false,
            site_kinds: Vec::new(),
            townships: None,
        },
        updates: None,
        plan: Some(plan.plan.title.clone()),
        urgent: Some(true),
        escalate_to: Vec::new(),
        ladder: Vec::new(),
        all_clear: false,
        receipt: false,
        own_reply: false,
    }))
}

/// Lifts a warning: its notices are closed (no more repeats or escalation).
pub async fn lift(n: &Notifier, actor: &Actor, id: i64) -> Result<IssuedWarning, IncidentError> {
    let db = &n.db;
    // Another township's warning does not exist for the actor.
    let w = get(&actor.db(db), id)
        .await?
        .ok_or(IncidentError::NotFound)?;
    let r = sqlx::query(
        "UPDATE plan_warnings SET lifted_by = $1, lifted_at = $2 WHERE id = $3 AND lifted_at IS NULL",
    )
    .bind(&actor.name)
    .bind(now_ms())
    .bind(id)
    .execute(db.writer())
    .await?;
    if r.rows_affected() == 0 {
        return Err(IncidentError::Conflict(format!(
            "warning {id} was already lifted (该预警已解除)"
        )));
    }
    for a in w.alert_ids() {
        alerts::close(db, &actor.name, a).await?;
    }
    let mut tx = db.begin().await?;
    crate::audit::record(
        &mut tx,
        &actor.name,
        "lift",
        "warning",
        Some(id),
        Some(&json!({"lifted": false})),
        Some(&json!({"lifted": true})),
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or(IncidentError::NotFound)
}

/// Issues a plan's warning by hand (the office received the signal, or the
/// warning is not read from gauges, like drought): `villages` as an
/// activation names them.
pub async fn issue_named(
    n: &Notifier,
    actor: &Actor,
    plan_id: &str,
    warning_id: &str,
    villages: &Option<serde_json::Value>,
) -> Result<Issued, IncidentError> {
    let plan = n
        .plans
        .get_of(crate::plans::PlanOwner::of(actor), plan_id)
        .await
        .ok_or_else(|| super::invalid("plan", format!("no plan '{plan_id}' is in force")))?;
    let index = plan
        .plan
        .warnings
        .iter()
        .position(|w| w.id == warning_id)
        .ok_or_else(|| {
            super::invalid(
                "warning",
                format!("plan '{plan_id}' has no warning '{warning_id}'"),
            )
        })?;
    let villages = super::affected(&actor.db(&n.db), villages, &None, &n.cfg.limits.geo()).await?;
    issue(n, actor, &plan, index, &villages, None).await
}

//! Accepting a notice: validate it, resolve its recipients page by page
//! (`targets`), and commit the alert, its recipients and one delivery per
//! recipient per channel (the outbox) before anything is sent to them. The
//! first page commits with the alert so sending starts at once; the answer
//! (202) comes after the last.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::config::Config;
use crate::notify::Channel;
use crate::notify::intake::level::Level;
use crate::notify::intake::targets::within_sql;
pub use crate::notify::intake::targets::{
    ContactRow, Recipient, Resolution, Resolved, Targets, resolve, scope_townships,
};
use crate::notify::intake::template;
use crate::notify::response::answers::AnswerKey;
use crate::store::{Db, Sql, StoreError, now_ms};
use crate::validate::FieldError;

pub const MAX_BODY_CHARS: usize = 1000;
pub const MAX_TITLE_CHARS: usize = 100;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertInput {
    pub title: String,
    pub body: String,
    /// 1–4 (Ⅰ red … Ⅳ blue), "IV"/"Ⅳ"/"blue" …, or absent / "notice" for a plain notice.
    #[serde(
        default,
        deserialize_with = "crate::notify::intake::level::notice_or_level"
    )]
    #[schema(value_type = crate::notify::intake::level::NoticeLevel)]
    pub level: Option<Level>,
    #[serde(default)]
    pub exercise: bool,
    /// Publish as CAP and in the public feed.
    #[serde(default)]
    pub public: bool,
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub ack_within_minutes: Option<i64>,
    pub targets: Targets,
    /// Id of an earlier alert this one updates (CAP msgType Update).
    #[serde(default)]
    pub updates: Option<i64>,
    /// Plan title, for the {plan} variable.
    #[serde(default)]
    pub plan: Option<String>,
    /// Non-urgent notices (drill reminders) are held back during quiet hours
    /// by whoever schedules them; emergencies are urgent.
    #[serde(default)]
    pub urgent: Option<bool>,
    /// The all-clear of the notices it updates (CAP msgType Cancel): it
    /// informs and asks for no answer. Set by the daemon, not the API.
    #[serde(skip)]
    pub all_clear: bool,
    /// A receipt of what someone reported (CAP msgType Ack, e.g. a
    /// transfer figure read back to its sender): it asks for no answer.
    /// Set by the daemon, not the API.
    #[serde(skip)]
    pub receipt: bool,
    /// Its own text says how to reply (a daily report's 无情况回复0): the
    /// SMS carries no "回复1确认收到" and no link. Set by the daemon.
    #[serde(skip)]
    pub own_reply: bool,
    /// Roles told, in this order, when a recipient does not answer in time
    /// (a plan's `escalate_to`); empty: the next in the village's
    /// escalation order, then the township duty officer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<String>,
    /// The escalation ladder (叫应阶梯), rung by rung while a recipient is
    /// silent; its first rung's wait is the answer deadline. Empty: the
    /// configured repeats, then the next person up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ladder: Vec<crate::notify::response::ladder::Step>,
}

fn default_channels() -> Vec<Channel> {
    vec![Channel::Sms]
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("idempotency key reused with a different request")]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AlertError {
    fn from(e: sqlx::Error) -> Self {
        AlertError::Store(StoreError::Db(e))
    }
}
impl From<FieldError> for AlertError {
    fn from(e: FieldError) -> Self {
        AlertError::Invalid(e)
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> AlertError {
    AlertError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// Evaluates `$op` (an awaited expression giving a `Result<_, AlertError>`)
/// until it succeeds, trying again after a storage failure up to six times
/// (0.1 s doubling to 3.2 s, 6.3 s in all); `$retry` tells `$op` whether it
/// is a retry. Gives the result and whether it was retried. A macro, not a
/// function taking an async closure: such a closure's future cannot be
/// shown to be `Send`, which the daemon's tasks need.
macro_rules! retrying {
    ($db:expr, $alert_id:expr, |$retry:ident| $op:expr) => {{
        let mut tries = 0u32;
        loop {
            let $retry = tries > 0;
            match $op {
                Ok(x) => break Ok((x, $retry)),
                Err(AlertError::Store(e)) if tries < 6 => {
                    tracing::warn!(alert = $alert_id, error = %e, "writing a notice's outbox failed; trying again");
                    $db.retried_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                    tries += 1;
                }
                Err(e) => {
                    tracing::error!(alert = $alert_id, error = %e, "giving up on the rest of a notice's outbox for now; it is completed at the next start (on PostgreSQL, by any daemon within seconds)");
                    break Err::<_, AlertError>(e);
                }
            }
        }
    }};
}

use super::owner::Owner;
use super::template::RECIPIENT_VARIABLES as PER_RECIPIENT;

/// What the API answers when a notice is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: i64,
    pub recipients: i64,
    pub deliveries: i64,
    pub status: String,
}

pub fn request_hash(input: &AlertInput) -> String {
    hex::encode(Sha256::digest(json!(input).to_string().as_bytes()))
}

/// Validates, resolves and commits a notice, waking `wake` (the delivery
/// workers) as each page of the outbox commits, so sending starts while
/// later pages are still written. With an idempotency key, a retried
/// identical request from the same caller (`actor.name`) within
/// `delivery.idempotency_hours` returns the first answer; another caller's
/// key of the same text is another key. Callers outside `notify` use
/// [`crate::notify::send`].
///
/// What is durable when: the first transaction commits the alert (status
/// `accepting`), its idempotency key, its audit entry and the first
/// `FIRST_PAGE` recipients with their deliveries; each later transaction
/// commits `PAGE` more; the last turns the alert `active`. The answer
/// (202) comes only after that last commit, so an accepted alert has its
/// whole outbox durable. If the daemon dies in between, the alert is
/// durable from its first page on: `recover_incomplete` adds the missing
/// recipients when the daemon starts again, and a retry with the same
/// idempotency key gets the same alert back.
pub(crate) async fn create_and_wake(
    db: &Db,
    cfg: &Config,
    actor: &Actor,
    input: &AlertInput,
    idempotency_key: Option<&str>,
    wake: Option<&tokio::sync::Notify>,
) -> Result<Accepted, AlertError> {
    let hash = request_hash(input);
    let idempotency = idempotency_key.map(|key| IdempotencyKey {
        scope: &actor.name,
        key,
        since: now_ms() - idempotency_ms(cfg),
    });
    if let Some(k) = &idempotency
        && let Some(prev) = previous(db, k, &hash).await?
    {
        return Ok(prev);
    }
    let title = crate::validate::required_text("title", &input.title, MAX_TITLE_CHARS)?;
    if input.body.trim().is_empty() {
        return Err(invalid("body", "must not be empty"));
    }
    if input.body.chars().count() > MAX_BODY_CHARS {
        return Err(invalid(
            "body",
            format!(
                "must be at most {MAX_BODY_CHARS} characters (SMS are capped at {} parts)",
                cfg.sms.max_parts
            ),
        ));
    }
    let title_vars = template::check(&title).map_err(|e| invalid("title", e.to_string()))?;
    let body_vars = template::check(&input.body).map_err(|e| invalid("body", e.to_string()))?;
    if input.public {
        // The public reads one text: a recipient's own variables mean nothing there.
        for (field, vars) in [("title", &title_vars), ("body", &body_vars)] {
            if let Some(v) = vars.iter().find(|v| PER_RECIPIENT.contains(&v.as_str())) {
                return Err(invalid(
                    field,
                    format!(
                        "a public notice is read by everyone: {{{v}}} is one recipient's; write the text for the public (公开通知不能使用 {{{v}}})"
                    ),
                ));
            }
        }
    }
    let level = input.level.map(Level::get);
    // A public notice is stored as the public will read it: its notice-wide
    // variables filled in now, so no feed, page or person ever sees a `{…}`.
    let (title, body) = if input.public {
        public_text(cfg, input, level, &title)?
    } else {
        (title, input.body.trim().to_string())
    };
    if let Some(m) = input.ack_within_minutes
        && !(1..=1440).contains(&m)
    {
        return Err(invalid("ack_within_minutes", "must be between 1 and 1440"));
    }
    let escalate_to = crate::registry::roles::canonical_all("escalate_to", &input.escalate_to)?;
    crate::notify::response::ladder::check(&input.ladder).map_err(|e| invalid("ladder", e))?;
    // With a ladder, its first rung's wait is the answer deadline.
    let ack_within_minutes = match input.ladder.first() {
        Some(s) => Some(i64::from(s.after_minutes)),
        None => input.ack_within_minutes,
    };
    let channels: BTreeSet<Channel> = input.channels.iter().copied().collect();
    if channels.is_empty() {
        return Err(invalid(
            "channels",
            "choose at least one channel: sms, email or voice",
        ));
    }
    if channels.contains(&Channel::Sms) && cfg.sms.provider == "off" {
        return Err(invalid(
            "channels",
            "SMS is switched off in the configuration",
        ));
    }
    if channels.contains(&Channel::Email) && !cfg.email.enabled {
        return Err(invalid(
            "channels",
            "e-mail is switched off in the configuration",
        ));
    }
    if channels.contains(&Channel::Voice) && cfg.voice.provider == "off" {
        return Err(invalid(
            "channels",
            "voice calls are switched off in the configuration (voice.provider)",
        ));
    }
    // Whom the sender may reach: their scope's townships (a township office
    // its own people only; the county every township).
    let within = scope_townships(Some(&actor.scope));
    if let Some(u) = input.updates {
        // Only a notice the sender can see: another township's does not exist for them.
        let r: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM alerts WHERE id = $1 AND {}",
            within_sql(&within, "township_id")
        )))
        .bind(u)
        .fetch_optional(&db.pool)
        .await?;
        if r.is_none() {
            return Err(invalid("updates", format!("no alert {u}")));
        }
    }
    let started = std::time::Instant::now();
    let mut resolution = Resolution::new(db, &input.targets, &cfg.limits.geo(), within).await?;
    // Read ahead until someone can be reached on a chosen channel (normally
    // the first page): a notice that reaches nobody is refused before
    // anything is written.
    let mut ahead: std::collections::VecDeque<Vec<Recipient>> = Default::default();
    let mut anyone_reachable = false;
    while !anyone_reachable {
        let size = if ahead.is_empty() { FIRST_PAGE } else { PAGE };
        let Some(page) = resolution.next_page(db, size).await? else {
            break;
        };
        anyone_reachable = page.iter().any(|r| reachable(r, &channels));
        ahead.push_back(page);
    }
    if ahead.is_empty() {
        return Err(invalid("targets", "the targets match no active contact"));
    }
    if !anyone_reachable {
        return Err(invalid(
            "channels",
            "no recipient has an address on the chosen channels",
        ));
    }
    let resolved_after = started.elapsed();

    let now = now_ms();
    let ack_due = ack_within_minutes.map(|m| now + m * 60_000);
    let token_expiry = now + cfg.escalation.answer_token_hours.max(1) * 3_600_000;
    let mut targets_json = json!({
        "villages": resolution.village_ids,
        "request": input.targets,
        "circle": resolution.circle.map(|c| json!({"lon": c.lon, "lat": c.lat, "radius_m": c.radius_m})),
    });
    // The townships it may reach, for an approval or a recovery that reads
    // its targets again (absent: every township, as before townships).
    if let Some(t) = &resolution.townships {
        targets_json["townships"] = json!(t);
    }
    let channels_json = json!(channels.iter().map(|c| c.as_str()).collect::<Vec<_>>());
    // First page: the alert (still `accepting`, counts still 0), its
    // idempotency key and audit entry, and the first recipients with their
    // deliveries. From its commit on the alert is durable: the rest is
    // committed below, or by `recover_incomplete` when the daemon starts
    // again after a crash.
    // A public notice waits for a leader's sign-off (`signoff::approve`):
    // it is stored with nobody in its outbox, and its recipients are read
    // when it is approved.
    let pending = input.public;
    // What is the same for every recipient is filled in now, so lists,
    // boards and the feed read words; only the recipient's own variables
    // are left for the moment each message is written.
    let shared = |v: &str| match v {
        "plan" => Some(input.plan.clone().unwrap_or_default()),
        "level" => Some(template::level_zh(level).to_string()),
        "level_en" => Some(template::level_en(level).to_string()),
        "office" => Some(cfg.office_name.clone()),
        _ => None,
    };
    let stored_title =
        template::prefill(&title, shared).map_err(|e| invalid("title", e.to_string()))?;
    let title_is_whole = template::check(&stored_title).is_ok_and(|v| v.is_empty());
    let stored_body = template::prefill(&body, |v| match v {
        "title" if title_is_whole => {
            Some(template::render(&stored_title, |_| String::new()).unwrap_or_default())
        }
        other => shared(other),
    })
    .map_err(|e| invalid("body", e.to_string()))?;
    // The connection that will hold the alert's lock, taken before the
    // transaction's (`store::lock`).
    let slot = if pending {
        None
    } else {
        Some(crate::store::lock::slot(db).await?)
    };
    let mut tx = db.begin().await?;
    let (alert_id,): (i64,) = sqlx::query_as(
        "INSERT INTO alerts (title, body, level, exercise, public, urgent, channels, ack_within_minutes, targets, plan, msg_type, \
         references_alert, status, created_by, created_at, recipients, deliveries, escalate_to, township_id, own_reply, ladder) VALUES ($1, $2, $3, $4, $5, $14, $6, $7, $8, $9, $10, $11, $16, $12, $13, 0, 0, $15, $17, $18, $19) RETURNING id",
    )
    .bind(&stored_title)
    .bind(&stored_body)
    .bind(level)
    .bind(i64::from(input.exercise))
    .bind(i64::from(input.public))
    .bind(channels_json.to_string())
    .bind(ack_within_minutes)
    .bind(targets_json.to_string())
    .bind(input.plan.clone())
    .bind(match (input.all_clear, input.receipt, input.updates.is_some()) {
        (true, _, _) => "Cancel",
        (false, true, _) => "Ack",
        (false, false, true) => "Update",
        (false, false, false) => "Alert",
    })
    .bind(input.updates)
    .bind(&actor.name)
    .bind(now)
    .bind(i64::from(input.urgent.unwrap_or(true)))
    .bind((!escalate_to.is_empty()).then(|| json!(escalate_to).to_string()))
    .bind(if pending { "pending" } else { "accepting" })
    // The sender's township (a county user's: the county's row).
    .bind(actor.township)
    .bind(i64::from(input.own_reply))
    .bind((!input.ladder.is_empty()).then(|| json!(input.ladder).to_string()))
    .fetch_one(&mut *tx)
    .await?;
    // Taken before the alert is visible: while this daemon writes its pages,
    // no other daemon's recovery touches it (`owner`).
    let _owner = match slot {
        Some(slot) => Some(Owner::of_new(slot, alert_id).await?),
        None => None,
    };
    let so_far = Accepted {
        id: alert_id,
        recipients: 0,
        deliveries: 0,
        status: if pending { "pending" } else { "accepting" }.into(),
    };
    if let Some(k) = &idempotency {
        // The answer so far; `finish` writes the final one.
        // This caller's key, expired, names nothing any more: it makes way.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at <= $3",
        )
        .bind(k.scope)
        .bind(k.key)
        .bind(k.since)
        .execute(&mut *tx)
        .await?;
        let stored = sqlx::query("INSERT INTO idempotency_keys (scope, key, request_hash, alert_id, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(k.scope)
            .bind(k.key)
            .bind(&hash)
            .bind(alert_id)
            .bind(json!(so_far).to_string())
            .bind(now)
            .execute(&mut *tx)
            .await;
        // PostgreSQL refuses the second of two concurrent requests with one
        // key here, not at the commit (another daemon, or a drill reminder
        // finished by two): it answers as the first did.
        if let Err(e) = stored {
            drop(tx);
            return previous(db, k, &hash).await?.ok_or(AlertError::from(e));
        }
    }
    // The title as stored (plan, level and office filled in), as every page shows it.
    let summary = json!({ "title": stored_title, "level": level, "exercise": input.exercise, "channels": channels_json,
        "targets": targets_json });
    crate::audit::record(
        &mut tx,
        &actor.name,
        if pending { "draft" } else { "send" },
        "alert",
        Some(alert_id),
        None,
        Some(&summary),
    )
    .await?;
    if pending {
        tx.commit().await.map_err(AlertError::from)?;
        return Ok(so_far);
    }
    let times = PageTimes {
        now,
        ack_due,
        token_expiry,
        key: cfg.answer_key.clone(),
    };
    let (mut recipients, mut deliveries) = (0i64, 0i64);
    if let Some(first) = ahead.pop_front() {
        recipients += first.len() as i64;
        deliveries += insert_page(&mut tx, alert_id, &first, &channels, &times).await?;
    }
    match tx.commit().await {
        Ok(()) => {}
        // A concurrent request with the same key won the race: answer as it did.
        Err(e) => {
            return match &idempotency {
                Some(k) => previous(db, k, &hash).await?.ok_or(AlertError::from(e)),
                None => Err(e.into()),
            };
        }
    }
    wake_workers(wake).await;
    if let Some(k) = &idempotency {
        prune_idempotency_keys(db, k.since).await;
    }
    tracing::debug!(
        alert = alert_id,
        resolve_ms = resolved_after.as_secs_f64() * 1000.0,
        first_page_ms = started.elapsed().as_secs_f64() * 1000.0,
        "first page of the outbox committed"
    );
    // Later pages: a failure here (the database busy or briefly gone)
    // would leave people unwarned until the next start, so each read and
    // each page is retried a few times first.
    let mut retried = false;
    let mut page = match ahead.pop_front() {
        Some(p) => Some(p),
        None => retrying!(db, alert_id, |_retry| resolution.next_page(db, PAGE).await)?.0,
    };
    while let Some(current) = page {
        // The next page is read while this one is written, on another
        // connection: on a large notice the writing of the outbox is what
        // the sending waits for, and the reading need not wait for it.
        let read_next = ahead.is_empty();
        let (written, next) = tokio::join!(
            async {
                retrying!(db, alert_id, |retry| {
                    commit_page(db, alert_id, &current, &channels, &times, !retry).await
                })
            },
            async {
                if read_next {
                    retrying!(db, alert_id, |_retry| resolution.next_page(db, PAGE).await)
                        .map(|(p, _)| p)
                } else {
                    Ok(None)
                }
            }
        );
        let ((r, d), again) = written?;
        retried |= again;
        recipients += r;
        deliveries += d;
        wake_workers(wake).await;
        page = match next? {
            Some(p) => Some(p),
            None => ahead.pop_front(),
        };
    }
    // After a retry the counts come from the tables: a commit whose answer
    // was lost may have written a page after all.
    let counts = (!retried).then_some((recipients, deliveries));
    finish(db, alert_id, counts).await
}

/// The title and text of a public notice as everyone reads them: the
/// notice-wide variables filled in. A literal brace is refused: nothing a
/// feed or a page shows may look like an unfilled `{…}`.
fn public_text(
    cfg: &Config,
    input: &AlertInput,
    level: Option<i64>,
    title: &str,
) -> Result<(String, String), AlertError> {
    let fill = |field: &str, t: &str, title: &str| -> Result<String, AlertError> {
        let value = |v: &str| match v {
            "level" => template::level_zh(level).to_string(),
            "level_en" => template::level_en(level).to_string(),
            "plan" => input.plan.clone().unwrap_or_default(),
            "title" => title.to_string(),
            "office" => cfg.office_name.clone(),
            _ => String::new(),
        };
        let filled = template::render(t, value).map_err(|e| invalid(field, e.to_string()))?;
        if filled.contains(['{', '}']) {
            return Err(invalid(
                field,
                "a public notice may not contain braces (公开通知不能含有花括号)",
            ));
        }
        Ok(filled)
    };
    let title = fill("title", title, "")?;
    let body = fill("body", input.body.trim(), &title)?;
    Ok((title, body))
}

/// Fills the outbox of a notice turned from `pending` to `accepting` by its
/// approval: its stored targets are read again, now, page by page, and the
/// workers woken as each page commits; then it turns `active`. If the
/// daemon stops on the way, `recover_incomplete` finishes it at the start.
pub(crate) async fn fill_approved(
    db: &Db,
    cfg: &Config,
    alert_id: i64,
    wake: Option<&tokio::sync::Notify>,
) -> Result<Accepted, AlertError> {
    // Another daemon's recovery may have started on it between the approval
    // and now: then it is filled by that daemon, and this one answers with
    // what it wrote.
    let _owner = Owner::take(db, alert_id).await?;
    type Row = (String, String, Option<i64>, i64, String, i64, i64);
    let (targets, channels, ack_minutes, approved_at, status, recipients, deliveries): Row = sqlx::query_as(
        "SELECT targets, channels, ack_within_minutes, COALESCE(signoff_at, created_at), status, recipients, deliveries FROM alerts WHERE id = $1",
    )
    .bind(alert_id)
    .fetch_one(&db.pool)
    .await?;
    if status != "accepting" {
        return Ok(Accepted {
            id: alert_id,
            recipients,
            deliveries,
            status: "accepted".into(),
        });
    }
    let (request, within) =
        stored_request(&targets).ok_or_else(|| invalid("targets", "unreadable"))?;
    let mut resolution =
        Resolution::new(db, &request, &crate::geometry::GeoLimits::STORED, within).await?;
    let channels = parse_channels(&channels);
    let times = PageTimes {
        now: now_ms(),
        ack_due: ack_minutes.map(|m| approved_at + m * 60_000),
        token_expiry: approved_at + cfg.escalation.answer_token_hours.max(1) * 3_600_000,
        key: cfg.answer_key.clone(),
    };
    let (mut recipients, mut deliveries) = (0i64, 0i64);
    let mut retried = false;
    let mut size = FIRST_PAGE;
    loop {
        let (next, _) = retrying!(db, alert_id, |_retry| resolution.next_page(db, size).await)?;
        let Some(page) = next else { break };
        size = PAGE;
        let ((r, d), again) = retrying!(db, alert_id, |retry| {
            commit_page(db, alert_id, &page, &channels, &times, !retry).await
        })?;
        retried |= again;
        recipients += r;
        deliveries += d;
        wake_workers(wake).await;
    }
    finish(db, alert_id, (!retried).then_some((recipients, deliveries))).await
}

/// A stored notice's targets as requested, and the townships it may reach
/// (`None`: every one).
fn stored_request(targets: &str) -> Option<(Targets, Option<Vec<i64>>)> {
    let v = serde_json::from_str::<Value>(targets).ok()?;
    let request = serde_json::from_value::<Targets>(v.get("request")?.clone()).ok()?;
    let within = v
        .get("townships")
        .and_then(|t| serde_json::from_value::<Vec<i64>>(t.clone()).ok());
    Some((request, within))
}

/// Commits one later page; returns the recipients and deliveries written.
/// Not the first try: whoever an earlier try committed after all (its
/// answer lost with the connection) is left out, so nobody is written twice.
async fn commit_page(
    db: &Db,
    alert_id: i64,
    page: &[Recipient],
    channels: &BTreeSet<Channel>,
    times: &PageTimes,
    first_try: bool,
) -> Result<(i64, i64), AlertError> {
    let left: Vec<Recipient>;
    let page = if first_try {
        page
    } else {
        let written = Written::load(db, alert_id).await?;
        left = page.iter().filter(|x| written.lacks(x)).cloned().collect();
        &left
    };
    let mut tx = db.begin().await?;
    let deliveries = insert_page(&mut tx, alert_id, page, channels, times).await?;
    tx.commit().await?;
    Ok((page.len() as i64, deliveries))
}

/// Who an alert already has: its recipients' contacts and phones.
struct Written {
    contacts: HashSet<i64>,
    phones: HashSet<String>,
}

impl Written {
    async fn load(db: &Db, alert_id: i64) -> Result<Written, AlertError> {
        let have: Vec<(Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT contact_id, phone FROM alert_recipients WHERE alert_id = $1")
                .bind(alert_id)
                .fetch_all(&db.pool)
                .await?;
        let mut w = Written {
            contacts: HashSet::new(),
            phones: HashSet::new(),
        };
        for (c, p) in have {
            w.contacts.extend(c);
            w.phones.extend(p);
        }
        Ok(w)
    }

    /// True when neither the contact nor (for a site officer) the phone
    /// is among the alert's recipients yet.
    fn lacks(&self, r: &Recipient) -> bool {
        match r.contact_id {
            Some(c) => !self.contacts.contains(&c),
            None => r.phone.as_ref().is_none_or(|p| !self.phones.contains(p)),
        }
    }
}

fn reachable(r: &Recipient, channels: &BTreeSet<Channel>) -> bool {
    channels.iter().any(|ch| match ch.address_column() {
        "phone" => r.phone.is_some(),
        _ => r.email.is_some(),
    })
}

async fn wake_workers(wake: Option<&tokio::sync::Notify>) {
    if let Some(w) = wake {
        w.notify_waiters();
        // Let the woken workers ask for the writer connection before the
        // next page does: its queue is fair, and a page holds it for tens
        // of milliseconds.
        tokio::task::yield_now().await;
    }
}

/// Recipients committed with the alert itself: small, so the first
/// deliveries are claimable within milliseconds of the request.
const FIRST_PAGE: usize = 200;
/// Recipients per later transaction: large enough that per-transaction
/// costs vanish, small enough that other writers (the outbox recording
/// outcomes, API writes) get the SQLite write lock between pages.
const PAGE: usize = 1000;

struct PageTimes {
    now: i64,
    ack_due: Option<i64>,
    token_expiry: i64,
    key: AnswerKey,
}

/// One page: its recipients, then one delivery per recipient per channel.
async fn insert_page(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    rs: &[Recipient],
    channels: &BTreeSet<Channel>,
    t: &PageTimes,
) -> Result<i64, AlertError> {
    if !crate::store::is_sqlite(conn) {
        let p = RecipientParams {
            alert_id,
            reason: "target",
            escalated_from: None,
            step: 0,
            now: t.now,
            ack_due: t.ack_due,
            token_expiry: t.token_expiry,
        };
        return insert_page_pg(conn, rs, &p, channels, &t.key).await;
    }
    let ids = insert_recipients_returning(
        conn,
        alert_id,
        rs,
        "target",
        None,
        0,
        t.now,
        t.ack_due,
        t.token_expiry,
        &t.key,
    )
    .await?;
    // A page's recipients are this alert's only rows between its lowest and
    // highest id: pages are written one after the other, and nothing else
    // adds recipients to an alert that is still `accepting`.
    let (Some(&lo), Some(&hi)) = (ids.iter().min(), ids.iter().max()) else {
        return Ok(0);
    };
    insert_deliveries_range(conn, alert_id, channels, (lo, hi), "notice", t.now).await
}

/// Marks an accepting alert complete (`active`) with its final counts
/// (counted from the tables when not given), and stores the answer a retry
/// with the same idempotency key gets.
async fn finish(
    db: &Db,
    alert_id: i64,
    counts: Option<(i64, i64)>,
) -> Result<Accepted, AlertError> {
    let mut tx = db.begin().await?;
    let (recipients, deliveries) = match counts {
        Some(c) => c,
        None => {
            let (r,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM alert_recipients WHERE alert_id = $1")
                    .bind(alert_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let (d,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM deliveries WHERE alert_id = $1")
                    .bind(alert_id)
                    .fetch_one(&mut *tx)
                    .await?;
            (r, d)
        }
    };
    let turned = sqlx::query(
        "UPDATE alerts SET status = 'active', recipients = $1, deliveries = $2 WHERE id = $3 AND status = 'accepting'",
    )
    .bind(recipients)
    .bind(deliveries)
    .bind(alert_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if turned == 1 {
        // The work groups' summaries, written with the turn (never lost nor
        // doubled by a restart); a failure there never holds the notice.
        crate::notify::robots::posts::on_active(&mut tx, alert_id).await;
    }
    let accepted = Accepted {
        id: alert_id,
        recipients,
        deliveries,
        status: "accepted".into(),
    };
    sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE alert_id = $2")
        .bind(json!(accepted).to_string())
        .bind(alert_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(accepted)
}

/// Completes alerts whose acceptance was cut short (the daemon stopped
/// between pages): their targets are resolved again and every recipient
/// not yet in the outbox is added, then they turn `active`. Run at start,
/// before the workers, and on PostgreSQL every few seconds by every daemon:
/// an alert whose writer still lives (holds its `Owner` lock) is left to
/// it. Returns how many alerts were completed.
pub async fn recover_incomplete(db: &Db, cfg: &Config) -> Result<usize, AlertError> {
    type Row = (i64, String, String, Option<i64>, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, targets, channels, ack_within_minutes, COALESCE(signoff_at, created_at) FROM alerts WHERE status = 'accepting' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut n = 0;
    for (alert_id, targets, channels, ack_minutes, created_at) in rows {
        let Some(_owner) = Owner::try_take(db, alert_id).await? else {
            continue;
        };
        // Finished between the read above and the lock.
        let (status,): (String,) = sqlx::query_as("SELECT status FROM alerts WHERE id = $1")
            .bind(alert_id)
            .fetch_one(&db.pool)
            .await?;
        if status != "accepting" {
            continue;
        }
        n += 1;
        let resolution = match stored_request(&targets) {
            // Checked when the notice was accepted.
            Some((t, within)) => {
                Resolution::new(db, &t, &crate::geometry::GeoLimits::STORED, within).await
            }
            None => Err(invalid("targets", "unreadable")),
        };
        match resolution {
            Ok(mut resolution) => {
                let written = Written::load(db, alert_id).await?;
                let t = PageTimes {
                    now: now_ms(),
                    ack_due: ack_minutes.map(|m| created_at + m * 60_000),
                    token_expiry: created_at + cfg.escalation.answer_token_hours.max(1) * 3_600_000,
                    key: cfg.answer_key.clone(),
                };
                let channels = parse_channels(&channels);
                let mut added = 0;
                while let Some(page) = resolution.next_page(db, PAGE).await? {
                    let missing: Vec<Recipient> =
                        page.into_iter().filter(|x| written.lacks(x)).collect();
                    if missing.is_empty() {
                        continue;
                    }
                    let mut tx = db.begin().await?;
                    insert_page(&mut tx, alert_id, &missing, &channels, &t).await?;
                    tx.commit().await?;
                    added += missing.len();
                }
                tracing::warn!(
                    alert = alert_id,
                    added,
                    "completed a notice whose acceptance was cut short"
                );
            }
            Err(e) => {
                tracing::error!(alert = alert_id, error = %e, "cannot resolve the targets of a notice cut short; it keeps the recipients it has");
            }
        }
        finish(db, alert_id, None).await?;
    }
    Ok(n)
}

/// An idempotency key as the caller who sent it owns it.
struct IdempotencyKey<'a> {
    /// The caller: the actor recorded for the alert (`token:NAME`, `web:USER`, `system:…`).
    scope: &'a str,
    key: &'a str,
    /// Keys stored at or before this time (UTC ms) have expired.
    since: i64,
}

fn idempotency_ms(cfg: &Config) -> i64 {
    // Validated positive and finite; the cast saturates, so even a huge setting cannot wrap.
    (cfg.delivery.idempotency_hours * 3_600_000.0) as i64
}

/// Forgets every expired key. Only housekeeping: an expired key already
/// matches nothing, so a failure here is logged, not the request's.
async fn prune_idempotency_keys(db: &Db, since: i64) {
    let pruned = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(since)
        .execute(db.writer())
        .await;
    if let Err(e) = pruned {
        tracing::warn!(error = %e, "could not prune expired idempotency keys");
    }
}

async fn previous(
    db: &Db,
    k: &IdempotencyKey<'_>,
    hash: &str,
) -> Result<Option<Accepted>, AlertError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at > $3",
    )
    .bind(k.scope)
    .bind(k.key)
    .bind(k.since)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        None => Ok(None),
        Some((h, _)) if h != hash => Err(AlertError::KeyReused),
        Some((_, resp)) => serde_json::from_str(&resp)
            .map(Some)
            .map_err(|e| AlertError::Store(StoreError::Corrupt(e.to_string()))),
    }
}

/// 128 random bits: unguessable, and short enough that the link does not
/// eat a whole SMS part on a feature phone.
pub fn answer_token() -> Result<String, StoreError> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Corrupt(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// Inserts recipients in multi-row statements.
#[allow(clippy::too_many_arguments)]
pub async fn insert_recipients(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    rs: &[Recipient],
    reason: &str,
    escalated_from: Option<i64>,
    step: i64,
    now: i64,
    ack_due: Option<i64>,
    token_expiry: i64,
    key: &AnswerKey,
) -> Result<(), AlertError> {
    insert_recipients_returning(
        conn,
        alert_id,
        rs,
        reason,
        escalated_from,
        step,
        now,
        ack_due,
        token_expiry,
        key,
    )
    .await
    .map(drop)
}

/// [`insert_recipients`], returning the new rows' ids.
#[allow(clippy::too_many_arguments)]
pub async fn insert_recipients_returning(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    rs: &[Recipient],
    reason: &str,
    escalated_from: Option<i64>,
    step: i64,
    now: i64,
    ack_due: Option<i64>,
    token_expiry: i64,
    key: &AnswerKey,
) -> Result<Vec<i64>, AlertError> {
    if !crate::store::is_sqlite(conn) {
        let p = RecipientParams {
            alert_id,
            reason,
            escalated_from,
            step,
            now,
            ack_due,
            token_expiry,
        };
        return insert_recipients_pg(conn, rs, &p, key).await;
    }
    let mut ids = Vec::with_capacity(rs.len());
    let rows = crate::store::rows_per_statement(true, 15);
    for chunk in rs.chunks(rows) {
        let mut q = Sql::new(
            "INSERT INTO alert_recipients (alert_id, contact_id, name, phone, email, village_id, escalation_order, reason, \
             escalated_from, step, answer_token, answer_token_hash, token_expires_at, notified_at, ack_due_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(alert_id)
                .push(", ")
                .bind(r.contact_id)
                .push(", ")
                .bind(r.name.as_str())
                .push(", ");
            q.bind(r.phone.clone())
                .push(", ")
                .bind(r.email.clone())
                .push(", ")
                .bind(r.village_id)
                .push(", ");
            q.bind(r.escalation_order)
                .push(", ")
                .bind(reason)
                .push(", ")
                .bind(escalated_from)
                .push(", ")
                .bind(step)
                .push(", ");
            // The seed is stored; the link's token is derived from it with
            // the key, and only the token's hash is kept.
            let seed = answer_token()?;
            let hash = crate::notify::response::answers::token_hash(&key.token(&seed));
            q.bind(seed)
                .push(", ")
                .bind(hash)
                .push(", ")
                .bind(token_expiry)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(ack_due)
                .push(")");
        }
        q.push(" RETURNING id");
        let rows: Vec<(i64,)> = q.query_as().fetch_all(&mut *conn).await?;
        ids.extend(rows.into_iter().map(|r| r.0));
    }
    Ok(ids)
}

/// What the recipients of one insert share.
struct RecipientParams<'a> {
    alert_id: i64,
    reason: &'a str,
    escalated_from: Option<i64>,
    step: i64,
    now: i64,
    ack_due: Option<i64>,
    token_expiry: i64,
}

/// PostgreSQL: the recipients as one array per column expanded by
/// `UNNEST` (`store::pg_array`), so the statement's text is the same for
/// every page (prepared once per connection) instead of a VALUES list of
/// 15 placeholders a row, a new statement for each page size.
async fn insert_recipients_pg(
    conn: &mut sqlx::AnyConnection,
    rs: &[Recipient],
    p: &RecipientParams<'_>,
    key: &AnswerKey,
) -> Result<Vec<i64>, AlertError> {
    let ids: Vec<(i64,)> =
        bind_recipients_pg(sqlx::query_as(recipients_pg(" RETURNING id")), rs, p, key)?
            .fetch_all(&mut *conn)
            .await?;
    Ok(ids.into_iter().map(|r| r.0).collect())
}

/// A later page on PostgreSQL in one statement: the recipients' `INSERT`
/// and, from what it returns, one delivery per recipient per channel
/// (`$16`, the channels' names). Returns the deliveries written.
async fn insert_page_pg(
    conn: &mut sqlx::AnyConnection,
    rs: &[Recipient],
    p: &RecipientParams<'_>,
    channels: &BTreeSet<Channel>,
    key: &AnswerKey,
) -> Result<i64, AlertError> {
    const DELIVERIES: &str = " RETURNING id, phone, email), \
        d AS (INSERT INTO deliveries (alert_id, recipient_id, channel, address, purpose, state, attempts, due_at, created_at, updated_at) \
        SELECT $1, r.id, c.channel, CASE WHEN c.channel IN ('sms', 'voice') THEN r.phone ELSE r.email END, 'notice', 'queued', 0, $6, $6, $6 \
        FROM r CROSS JOIN UNNEST(CAST($16 AS text[])) AS c(channel) \
        WHERE CASE WHEN c.channel IN ('sms', 'voice') THEN r.phone ELSE r.email END IS NOT NULL \
        ORDER BY c.channel, r.id RETURNING 1) \
        SELECT COUNT(*) FROM d";
    let sql = recipients_pg(DELIVERIES);
    let sql = sqlx::AssertSqlSafe(format!("WITH r AS ({}", sql.0));
    let (n,): (i64,) = bind_recipients_pg(sqlx::query_as(sql), rs, p, key)?
        .bind(crate::store::pg_array::texts(
            channels.iter().map(|c| Some(c.as_str())),
        ))
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}

/// Binds the parameters of [`recipients_pg`] ($1–$15).
fn bind_recipients_pg<'q, T>(
    q: sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments>,
    rs: &[Recipient],
    p: &RecipientParams<'q>,
    key: &AnswerKey,
) -> Result<sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments>, AlertError> {
    use crate::store::pg_array::{bigints, texts};
    // The seed is stored; the link's token is derived from it with the
    // key, and only the token's hash is kept.
    let mut seeds = Vec::with_capacity(rs.len());
    let mut hashes = Vec::with_capacity(rs.len());
    for _ in rs {
        let seed = answer_token()?;
        hashes.push(crate::notify::response::answers::token_hash(
            &key.token(&seed),
        ));
        seeds.push(seed);
    }
    Ok(q.bind(p.alert_id)
        .bind(p.reason)
        .bind(p.escalated_from)
        .bind(p.step)
        .bind(p.token_expiry)
        .bind(p.now)
        .bind(p.ack_due)
        .bind(bigints(rs.iter().map(|r| r.contact_id)))
        .bind(texts(rs.iter().map(|r| Some(r.name.as_str()))))
        .bind(texts(rs.iter().map(|r| r.phone.as_deref())))
        .bind(texts(rs.iter().map(|r| r.email.as_deref())))
        .bind(bigints(rs.iter().map(|r| r.village_id)))
        .bind(bigints(rs.iter().map(|r| Some(r.escalation_order))))
        .bind(texts(seeds.iter().map(|s| Some(s.as_str()))))
        .bind(texts(hashes.iter().map(|s| Some(s.as_str())))))
}

/// The recipients' `INSERT … SELECT … FROM UNNEST(…)` on PostgreSQL
/// ($1–$15, bound by [`bind_recipients_pg`]), with `tail` after it (a
/// `RETURNING`, or the rest of a statement around it).
fn recipients_pg(tail: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "INSERT INTO alert_recipients (alert_id, contact_id, name, phone, email, village_id, escalation_order, reason, \
         escalated_from, step, answer_token, answer_token_hash, token_expires_at, notified_at, ack_due_at) \
         SELECT $1, v.contact_id, v.name, v.phone, v.email, v.village_id, v.escalation_order, $2, $3, $4, \
         v.answer_token, v.answer_token_hash, $5, $6, $7 FROM UNNEST(CAST($8 AS bigint[]), CAST($9 AS text[]), \
         CAST($10 AS text[]), CAST($11 AS text[]), CAST($12 AS bigint[]), CAST($13 AS bigint[]), CAST($14 AS text[]), \
         CAST($15 AS text[])) WITH ORDINALITY AS v(contact_id, name, phone, email, village_id, escalation_order, \
         answer_token, answer_token_hash, n) ORDER BY v.n{tail}"
    ))
}

/// One delivery per recipient (of the alert, or just `recipient`) per channel
/// where the recipient has an address. Returns how many were queued.
pub async fn insert_deliveries(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    channels: &BTreeSet<Channel>,
    only: Option<&[i64]>,
    purpose: &str,
    now: i64,
) -> Result<i64, AlertError> {
    insert_deliveries_where(conn, alert_id, channels, purpose, now, |q| {
        if let Some(ids) = only {
            q.push(" AND id IN ").bind_list(ids.iter().copied());
        }
    })
    .await
}

/// [`insert_deliveries`] for the recipients `lo..=hi` of the alert (a
/// page: its ids, read back from the insert, as a range rather than a long
/// IN list).
async fn insert_deliveries_range(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    channels: &BTreeSet<Channel>,
    (lo, hi): (i64, i64),
    purpose: &str,
    now: i64,
) -> Result<i64, AlertError> {
    insert_deliveries_where(conn, alert_id, channels, purpose, now, |q| {
        q.push(" AND id BETWEEN ").bind(lo).push(" AND ").bind(hi);
    })
    .await
}

async fn insert_deliveries_where(
    conn: &mut sqlx::AnyConnection,
    alert_id: i64,
    channels: &BTreeSet<Channel>,
    purpose: &str,
    now: i64,
    filter: impl Fn(&mut Sql),
) -> Result<i64, AlertError> {
    let mut total = 0;
    for ch in channels {
        let col = ch.address_column();
        let mut q = Sql::new(
            "INSERT INTO deliveries (alert_id, recipient_id, channel, address, purpose, state, attempts, due_at, created_at, updated_at) SELECT alert_id, id, ",
        );
        q.bind(ch.as_str())
            .push(&format!(", {col}, "))
            .bind(purpose)
            .push(", 'queued', 0, ")
            .bind(now);
        q.push(", ").bind(now).push(", ").bind(now);
        q.push(" FROM alert_recipients WHERE alert_id = ")
            .bind(alert_id)
            .push(&format!(" AND {col} IS NOT NULL"));
        filter(&mut q);
        total += q.query().execute(&mut *conn).await?.rows_affected() as i64;
    }
    Ok(total)
}

pub fn parse_channels(s: &str) -> BTreeSet<Channel> {
    let v: Vec<String> = serde_json::from_str(s).unwrap_or_default();
    v.iter().filter_map(|c| Channel::parse(c)).collect()
}

/// A closed notice's deliveries still waiting (a provider down, a retry
/// ahead) are not sent: an evacuation order must not arrive after the
/// all-clear. Those already with a provider finish.
async fn cancel_queued(conn: &mut sqlx::AnyConnection, alert_id: i64) -> Result<u64, StoreError> {
    let now = crate::store::now_ms();
    Ok(sqlx::query(
        "UPDATE deliveries SET state = 'cancelled', last_error = $1, updated_at = $2 \
         WHERE alert_id = $3 AND state = 'queued'",
    )
    .bind("通知已结束，未再发送 / the notice was closed before this could be sent")
    .bind(now)
    .bind(alert_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Closes a notice: no more repeats or escalation; one still awaiting
/// sign-off is withdrawn unsent. Closing a closed notice changes nothing.
pub async fn close(db: &Db, actor: &str, id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    // Another township's notice is not closed (nor seen) by this handle.
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE alerts SET status = 'closed', closed_at = $1 WHERE id = $2 AND status IN ('active', 'pending') AND {}",
        db.township_filter("township_id")
    )))
    .bind(crate::store::now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 1 {
        cancel_queued(&mut tx, id).await?;
        crate::audit::record(
            &mut tx,
            actor,
            "close",
            "alert",
            Some(id),
            Some(&json!({"status": "active"})),
            Some(&json!({"status": "closed"})),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

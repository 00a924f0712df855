//! The delivery workers. Per channel a worker claims due deliveries with a
//! lease (a crashed worker's claims come back when it runs out), renders and
//! hands them to the channel, and passes the outcome to one writer task that
//! records outcomes in batches. No transaction is held across a send.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;
use crate::notify::Channel;
use crate::notify::delivery::breaker::{Breaker, Gate};
use crate::notify::delivery::channel::{EmailSender, Outcome, SmsProvider};
use crate::notify::delivery::claims::{self, Change};
use crate::notify::delivery::render::{DeliveryRow, Renderer};
use crate::notify::delivery::voice::{self, VoiceProvider};
use crate::store::{Db, StoreError, now_ms};

/// The channels as configured.
#[derive(Clone)]
pub struct Senders {
    pub sms: Option<Arc<dyn SmsProvider>>,
    pub email: Option<Arc<dyn EmailSender>>,
    pub voice: Option<Arc<dyn VoiceProvider>>,
    /// The SMS paths behind `sms` (the same provider), for their health and the daily
    /// self-checks over each one; `None` when SMS is spooled or off.
    pub sms_paths: Option<Arc<crate::notify::delivery::paths::Failover>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SenderError(pub String);

impl Senders {
    /// Builds the channels the configuration names. Spool is the default for
    /// SMS, and for e-mail when no SMTP host is set.
    pub fn from_config(cfg: &Config) -> Result<Senders, SenderError> {
        let spool = Arc::new(crate::notify::delivery::spool::Spool::new(
            cfg.data_dir.join("outbox"),
        ));
        let mut sms_paths = None;
        let sms: Option<Arc<dyn SmsProvider>> = match cfg.sms.provider.as_str() {
            "off" => None,
            "spool" | "" => Some(spool.clone()),
            _ => {
                let paths = crate::notify::delivery::paths::build(cfg)
                    .map_err(|e| SenderError(e.to_string()))?
                    .map(Arc::new);
                sms_paths = paths.clone();
                paths.map(|p| p as Arc<dyn SmsProvider>)
            }
        };
        let email: Option<Arc<dyn EmailSender>> = if !cfg.email.enabled {
            None
        } else if cfg.email.host.is_empty() {
            Some(spool)
        } else {
            Some(Arc::new(
                crate::notify::delivery::email::SmtpSender::new(&cfg.email)
                    .map_err(|e| SenderError(e.to_string()))?,
            ))
        };
        let voice =
            voice::build_provider(&cfg.voice, &cfg.public_base(), &cfg.data_dir.join("outbox"))
                .map_err(|e| SenderError(e.to_string()))?;
        Ok(Senders {
            sms,
            email,
            voice,
            sms_paths,
        })
    }
}

/// Shared by the API (to wake workers) and the workers.
pub struct Notifier {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub wake: Notify,
    pub senders: Senders,
    /// The plans in force (incidents, observations and drill reminders use them).
    pub plans: crate::planbook::PlanBook,
    /// One circuit breaker per channel's provider.
    pub breakers: Breakers,
    pub outbox: OutboxState,
}

/// The channels' circuit breakers.
pub struct Breakers {
    pub sms: Breaker,
    pub email: Breaker,
    pub voice: Breaker,
}

impl Breakers {
    pub fn new(cfg: &Config) -> Breakers {
        let d = &cfg.delivery;
        let make = || Breaker::new(d.breaker_failures, d.breaker_secs, d.breaker_max_secs);
        Breakers {
            sms: make(),
            email: make(),
            voice: make(),
        }
    }

    pub fn of(&self, ch: Channel) -> &Breaker {
        match ch {
            Channel::Sms => &self.sms,
            Channel::Email => &self.email,
            Channel::Voice => &self.voice,
        }
    }
}

/// What the outbox knows about its own health.
#[derive(Default)]
pub struct OutboxState {
    /// Outcomes are waiting to be recorded (the database refuses writes):
    /// nothing more is claimed until they are, so no delivery whose outcome
    /// is only in memory can be claimed and sent again.
    pub record_failing: std::sync::atomic::AtomicBool,
    /// Times a batch of outcomes could not be recorded at once and was kept
    /// in memory to be recorded later.
    pub outcomes_held: std::sync::atomic::AtomicU64,
    /// Deliveries sent again because their outcome was lost (marked
    /// `maybe_duplicate`).
    pub unknown_outcomes: std::sync::atomic::AtomicU64,
    /// Deliveries this daemon has claimed and whose outcome is not yet
    /// recorded: their leases are renewed, and no claim of this daemon takes
    /// them again even if a lease ran out (a heartbeat that could not write).
    pub held: Held,
}

/// Outcomes recorded in one transaction at most.
const RECORD_BATCH: usize = 2000;

struct Done {
    id: i64,
    channel: Channel,
    attempts: i64,
    created_at: i64,
    outcome: Outcome,
}

/// How early a paced send may go: one tick of tokio's timer.
const PACE_SLACK: Duration = Duration::from_millis(1);

/// Paces sends to a rate: each caller waits for the next free slot.
struct Pace {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(per_second: u32) -> Pace {
        Pace {
            interval: Duration::from_secs_f64(1.0 / f64::from(per_second.max(1))),
            next: Mutex::new(Instant::now()),
        }
    }
    async fn wait(&self) {
        let now = Instant::now();
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        // tokio's timer ticks in whole milliseconds: even a sleep until
        // `now` waits for the next tick, which capped sending near 1,000
        // messages/s whatever the rate. A slot due within a tick is taken
        // at once; `next` keeps counting, so the rate holds on average.
        if slot > now + PACE_SLACK {
            tokio::time::sleep_until(slot).await;
        }
    }
}

/// Exponential backoff with jitter: base·2^(n-1), capped, times 0.5–1.0.
pub fn backoff_ms(cfg: &Config, attempts: i64) -> i64 {
    let exp = (attempts - 1).clamp(0, 30) as i32;
    let raw = (cfg.delivery.backoff_base_secs * 2f64.powi(exp)).min(cfg.delivery.backoff_max_secs);
    let mut b = [0u8; 2];
    let jitter = if getrandom::fill(&mut b).is_ok() {
        0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0
    } else {
        0.75
    };
    (raw * jitter * 1000.0) as i64
}

/// Starts one worker per enabled channel, the outcome writer, and returns
/// their handles; they stop when `stop` turns true.
pub fn spawn(n: Arc<Notifier>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let (tx, rx) = mpsc::channel::<Done>(4096);
    let mut handles = vec![tokio::spawn(run_writer(n.clone(), rx, stop.clone()))];
    handles.push(tokio::spawn(renew_leases(n.clone(), stop.clone())));
    if let Some(p) = n.senders.sms.clone() {
        let conc = n.cfg.sms.concurrency.max(1);
        let rate = n.cfg.sms.rate_per_second;
        let send = Arc::new(
            move |n: Arc<Notifier>, d: DeliveryRow, v: Arc<HashMap<i64, String>>| {
                let p = p.clone();
                Box::pin(async move {
                    let msg = Renderer {
                        cfg: &n.cfg,
                        villages: &v,
                    }
                    .sms(&d);
                    p.send(&msg).await
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
            },
        );
        handles.push(tokio::spawn(run_channel(
            n.clone(),
            Channel::Sms,
            conc,
            rate,
            send,
            tx.clone(),
            stop.clone(),
        )));
    }
    if let Some(e) = n.senders.email.clone() {
        let conc = n.cfg.email.pool_size.max(1) as usize;
        let rate = n.cfg.email.rate_per_second;
        let send = Arc::new(
            move |n: Arc<Notifier>, d: DeliveryRow, v: Arc<HashMap<i64, String>>| {
                let e = e.clone();
                Box::pin(async move {
                    let msg = Renderer {
                        cfg: &n.cfg,
                        villages: &v,
                    }
                    .email(&d);
                    e.send(&msg).await
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
            },
        );
        handles.push(tokio::spawn(run_channel(
            n.clone(),
            Channel::Email,
            conc,
            rate,
            send,
            tx.clone(),
            stop.clone(),
        )));
    }
    if let Some(p) = n.senders.voice.clone() {
        let conc = n.cfg.voice.concurrency.max(1);
        let rate = n.cfg.voice.rate_per_second;
        let send = Arc::new(
            move |n: Arc<Notifier>, d: DeliveryRow, v: Arc<HashMap<i64, String>>| {
                let p = p.clone();
                Box::pin(async move {
                    let msg = Renderer {
                        cfg: &n.cfg,
                        villages: &v,
                    }
                    .voice(&d, p.takes_keys());
                    let delivery = voice::Delivery {
                        id: d.id,
                        alert_id: d.alert_id,
                    };
                    voice::place(&n.db, &n.cfg, p.as_ref(), &delivery, &msg, now_ms()).await
                })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
            },
        );
        handles.push(tokio::spawn(run_channel(
            n.clone(),
            Channel::Voice,
            conc,
            rate,
            send,
            tx.clone(),
            stop,
        )));
    }
    handles
}

type SendFn = Arc<
    dyn Fn(
            Arc<Notifier>,
            DeliveryRow,
            Arc<HashMap<i64, String>>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>
        + Send
        + Sync,
>;

/// Claims for this daemon: its own claims are never taken again, even
/// with a lease that ran out (a heartbeat the database refused): their
/// outcome is on its way.
/// Claims whose lease ran out (a daemon that died) are looked for every
/// third of a lease, not on every claim (see `claims::PG_CLAIM_EXPIRED`):
/// `expired_at` is when next.
async fn claim(
    n: &Notifier,
    ch: Channel,
    limit: i64,
    expired_at: &mut Instant,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let lease_ms = (n.cfg.delivery.lease_secs * 1000.0) as i64;
    let now = Instant::now();
    let expired = now >= *expired_at;
    let own: Vec<i64> = if expired {
        held_lock(&n.outbox.held).iter().copied().collect()
    } else {
        Vec::new()
    };
    let rows = claims::claim(&n.db, ch, limit, lease_ms, &own, expired).await?;
    if expired {
        *expired_at = now + Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(0).max(10));
    }
    drop_closed(&n.db, rows).await
}

/// Claimed deliveries of notices closed meanwhile are cancelled, not sent:
/// an order to move must not arrive after the all-clear. Closing cancels
/// what is queued, but a retry written back while the close was being
/// committed is queued again without seeing it; the claim is the last
/// moment to look before the text leaves.
async fn drop_closed(db: &Db, rows: Vec<DeliveryRow>) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut alerts: Vec<i64> = rows.iter().map(|r| r.alert_id).collect();
    alerts.sort_unstable();
    alerts.dedup();
    if alerts.is_empty() {
        return Ok(rows);
    }
    let mut q = crate::store::Sql::new("SELECT id FROM alerts WHERE status = 'closed' AND id IN (");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(*a);
    }
    q.push(")");
    let closed: Vec<(i64,)> = q.query_as().fetch_all(&db.pool).await?;
    if closed.is_empty() {
        return Ok(rows);
    }
    let closed: std::collections::HashSet<i64> = closed.into_iter().map(|c| c.0).collect();
    let (drop, keep): (Vec<DeliveryRow>, Vec<DeliveryRow>) =
        rows.into_iter().partition(|r| closed.contains(&r.alert_id));
    let mut q = crate::store::Sql::new(
        "UPDATE deliveries SET state = 'cancelled', lease_until = NULL, last_error = ",
    );
    q.bind("通知已结束，未再发送 / the notice was closed before this could be sent")
        .push(", updated_at = ")
        .bind(now_ms())
        .push(" WHERE state = 'sending' AND id IN (");
    for (i, r) in drop.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(r.id);
    }
    q.push(")");
    q.query().execute(db.writer()).await?;
    tracing::info!(
        deliveries = drop.len(),
        "claimed deliveries of a closed notice cancelled"
    );
    Ok(keep)
}

/// A set of delivery ids shared between tasks.
pub type Held = Arc<std::sync::Mutex<std::collections::HashSet<i64>>>;

fn held_lock(h: &Held) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run_channel(
    n: Arc<Notifier>,
    ch: Channel,
    concurrency: usize,
    rate: u32,
    send: SendFn,
    results: mpsc::Sender<Done>,
    mut stop: watch::Receiver<bool>,
) {
    let sem = Arc::new(Semaphore::new(concurrency));
    let pace = Arc::new(Pace::new(rate));
    // Claim no more than can be sent within half a lease.
    let per_lease = (f64::from(rate.max(1)) * n.cfg.delivery.lease_secs / 2.0).max(1.0) as i64;
    let limit = n.cfg.delivery.batch.clamp(1, per_lease.max(1));
    let held = n.outbox.held.clone();
    // With a provider now: what a stop cuts short.
    let sending: Held = Arc::default();
    let mut inflight = tokio::task::JoinSet::new();
    // Which delivery each send task carries (and whether it is the
    // breaker's probe), to clean up after a task that panicked.
    let mut task_ids: HashMap<tokio::task::Id, (i64, bool)> = HashMap::new();
    let mut villages = Arc::new(HashMap::new());
    let breaker = n.breakers.of(ch);
    let mut expired_at = Instant::now();
    'work: loop {
        if *stop.borrow() {
            break;
        }
        while let Some(done) = inflight.try_join_next_with_id() {
            forget_panicked(&n, breaker, &held, &sending, &mut task_ids, done);
        }
        // Registered before claiming, so a wake-up that comes while the
        // claim runs (a page of a new alert committed) is not missed.
        let wake = n.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let idle = Duration::from_millis(n.cfg.delivery.poll_ms.max(10));
        // Outcomes not yet recorded: claim nothing until they are.
        if n.outbox
            .record_failing
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let gate = breaker.gate(now_ms());
        let probing = gate == Gate::Probe;
        let limit = match gate {
            Gate::Closed => limit,
            Gate::Probe => 1,
            Gate::Open { until } => {
                let wait = Duration::from_millis(u64::try_from(until - now_ms()).unwrap_or(0));
                tokio::select! {
                    _ = tokio::time::sleep(wait.max(Duration::from_millis(1))) => {}
                    _ = wake => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let rows = match claim(&n, ch, limit, &mut expired_at).await {
            Ok(r) => r,
            Err(e) => {
                if probing {
                    breaker.probe_abandoned();
                }
                tracing::warn!(error = %e, channel = ch.as_str(), "claiming deliveries failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        if rows.is_empty() {
            if probing {
                breaker.probe_abandoned();
            }
            tokio::select! {
                _ = wake => {}
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        held_lock(&held).extend(rows.iter().map(|r| r.id));
        if rows
            .iter()
            .any(|r| r.village_id.is_some_and(|v| !villages.contains_key(&v)))
            || villages.is_empty()
        {
            match crate::registry::villages::names(&n.db).await {
                Ok(v) => villages = Arc::new(v),
                Err(e) => tracing::warn!(error = %e, "loading village names failed"),
            }
        }
        let mut unsent = Vec::new();
        let mut rows = rows.into_iter();
        while let Some(d) = rows.next() {
            let permit = tokio::select! {
                p = sem.clone().acquire_owned() => p,
                _ = stop.changed() => {
                    // Stopping: what is not yet with the provider goes back
                    // to the queue for the next start.
                    unsent.push(d.id);
                    unsent.extend(rows.map(|r| r.id));
                    release(&n, &held, &unsent, probing.then_some(breaker)).await;
                    break 'work;
                }
            };
            let Ok(permit) = permit else {
                unsent.push(d.id);
                continue;
            };
            // The provider went down while this batch was being sent: the
            // rest waits, queued, instead of failing one by one against it.
            if !probing && breaker.is_open(now_ms()) {
                unsent.push(d.id);
                unsent.extend(rows.by_ref().map(|r| r.id));
                break;
            }
            pace.wait().await;
            let (n2, send, results, v, sending) = (
                n.clone(),
                send.clone(),
                results.clone(),
                villages.clone(),
                sending.clone(),
            );
            held_lock(&sending).insert(d.id);
            let delivery = d.id;
            let task = inflight.spawn(async move {
                let (id, attempts, created_at) = (d.id, d.attempts, d.created_at);
                let started = std::time::Instant::now();
                let outcome = send(n2.clone(), d, v).await;
                observe_send(&n2, ch, &outcome, started.elapsed());
                let b = n2.breakers.of(ch);
                match &outcome {
                    Outcome::Sent { .. } => {
                        if probing {
                            tracing::info!(channel = ch.as_str(), "provider answers again; sending resumes");
                            n2.wake.notify_waiters();
                        }
                        b.success();
                    }
                    // With a second path, only when every path is failing.
                    Outcome::Transient(reason) if probing || whole_channel_down(&n2, ch) => {
                        if b.failure(now_ms(), reason) {
                            tracing::warn!(channel = ch.as_str(), error = %reason, "provider taken as down; deliveries wait for it");
                        }
                    }
                    Outcome::Transient(_) => {}
                    // A call held back by a limit says nothing of the provider.
                    Outcome::Permanent(_) | Outcome::Postponed { .. } | Outcome::Cancelled(_)
                        if probing =>
                    {
                        b.probe_abandoned()
                    }
                    Outcome::Permanent(_) | Outcome::Postponed { .. } | Outcome::Cancelled(_) => {}
                }
                let _ = results
                    .send(Done {
                        id,
                        channel: ch,
                        attempts,
                        created_at,
                        outcome,
                    })
                    .await;
                // Held until the writer has recorded it.
                held_lock(&sending).remove(&id);
                drop(permit);
            });
            task_ids.insert(task.id(), (delivery, probing));
        }
        if !unsent.is_empty() {
            release(&n, &held, &unsent, None).await;
        }
    }
    // Sends already with a provider may finish within the grace period;
    // those still open then are cut, and may or may not have gone out.
    let grace = Duration::from_secs_f64(n.cfg.delivery.shutdown_grace_secs.max(0.0));
    let drained = tokio::time::timeout(grace, async {
        while inflight.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        inflight.abort_all();
        while inflight.join_next().await.is_some() {}
    }
    let cut: Vec<i64> = held_lock(&sending).drain().collect();
    {
        let mut h = held_lock(&held);
        for id in &cut {
            h.remove(id);
        }
    }
    if !cut.is_empty() {
        tracing::warn!(
            channel = ch.as_str(),
            deliveries = cut.len(),
            "stopping with sends still open; they are sent again at the next start"
        );
        if let Err(e) = mark_unknown(&n.db, &cut).await {
            tracing::error!(error = %e, "recording cut sends failed; their leases bring them back");
        }
        crate::telemetry::metrics()
            .deliveries
            .get_or_create(&vec![
                ("channel", ch.as_str().to_string()),
                (
                    "provider",
                    crate::telemetry::provider_of(&n, ch).to_string(),
                ),
                ("outcome", "unknown".to_string()),
            ])
            .inc_by(cut.len() as u64);
        n.outbox
            .unknown_outcomes
            .fetch_add(cut.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether a passing failure is the channel's (the circuit breaker counts it): an SMS path
/// failing while another still sends is not.
fn whole_channel_down(n: &Notifier, ch: Channel) -> bool {
    match ch {
        Channel::Sms => n.senders.sms.as_ref().is_none_or(|p| p.all_paths_failing()),
        _ => true,
    }
}

/// A send's time and, when it did not go out, its class, in the metrics.
fn observe_send(n: &Notifier, ch: Channel, outcome: &Outcome, took: Duration) {
    let m = crate::telemetry::metrics();
    let provider = crate::telemetry::provider_of(n, ch);
    let labels = [("channel", ch.as_str()), ("provider", provider)];
    crate::telemetry::observe(&m.send_seconds, &labels, took.as_secs_f64());
    let class = match outcome {
        Outcome::Sent { .. } | Outcome::Postponed { .. } | Outcome::Cancelled(_) => return,
        Outcome::Transient(_) => "transient",
        Outcome::Permanent(_) => "permanent",
    };
    crate::telemetry::inc(
        &m.send_errors,
        &[
            ("channel", ch.as_str()),
            ("provider", provider),
            ("class", class),
        ],
    );
}

/// How one channel is doing, as the overview and `GET /api/v1/channels` show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    pub channel: &'static str,
    /// Configured to send (a provider for SMS and voice, SMTP or the spool for e-mail).
    pub enabled: bool,
    /// Who sends: the SMS or voice provider's name, "smtp" or "spool".
    pub provider: String,
    pub breaker: crate::notify::delivery::breaker::BreakerView,
    /// Queued or being sent now.
    pub waiting: i64,
    /// Sent again after a lost outcome (可能重复).
    pub maybe_duplicate: i64,
    /// The last successful send (UTC ms).
    pub last_sent_at: Option<i64>,
    /// Failed attempts in the last hour.
    pub failures_last_hour: i64,
    /// The channel's paths in order (SMS: `sms.provider`, then `sms.fallback`), which one is
    /// in use since when, each one's recent failures and latest self-check. Empty for a
    /// channel with one sender of its own (e-mail, the spool).
    pub paths: Vec<crate::notify::delivery::paths::PathView>,
}

/// A channel's queue as the metrics show it.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub channel: &'static str,
    /// Queued or being sent.
    pub waiting: i64,
    /// How long the oldest queued delivery that is due has waited (0: none due).
    pub oldest_due_age_ms: i64,
    /// Queued deliveries still waiting after their notice's answer window
    /// (`ack_within_minutes`) has passed: the person cannot answer in time.
    pub past_answer_window: i64,
}

/// Every channel's queue, read when the metrics are scraped (on the
/// `deliveries_due` index: channel, state, due_at).
pub async fn queue_stats(n: &Notifier) -> Result<Vec<QueueStats>, StoreError> {
    let now = now_ms();
    let mut out = Vec::new();
    for ch in Channel::ALL {
        let (waiting, oldest_due): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(due_at) FILTER (WHERE state = 'queued' AND due_at <= $2) \
             FROM deliveries WHERE channel = $1 AND state IN ('queued', 'sending')",
        )
        .bind(ch.as_str())
        .bind(now)
        .fetch_one(&n.db.pool)
        .await?;
        let (past_answer_window,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries d JOIN alerts a ON a.id = d.alert_id \
             WHERE d.channel = $1 AND d.state = 'queued' AND a.ack_within_minutes IS NOT NULL \
             AND d.due_at <= $2 - a.ack_within_minutes * 60000",
        )
        .bind(ch.as_str())
        .bind(now)
        .fetch_one(&n.db.pool)
        .await?;
        out.push(QueueStats {
            channel: ch.as_str(),
            waiting,
            oldest_due_age_ms: oldest_due.map_or(0, |t| (now - t).max(0)),
            past_answer_window,
        });
    }
    Ok(out)
}

/// Every channel's health, SMS first, then e-mail and voice.
pub async fn channel_health(n: &Notifier) -> Result<Vec<ChannelHealth>, StoreError> {
    let hour_ago = crate::store::now_ms() - 3_600_000;
    let mut out = Vec::new();
    for ch in Channel::ALL {
        let (waiting, maybe_duplicate, last_sent_at): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE state IN ('queued', 'sending')), COUNT(*) FILTER (WHERE maybe_duplicate = 1), \
             MAX(sent_at) FILTER (WHERE state = 'sent') FROM deliveries WHERE channel = $1",
        )
        .bind(ch.as_str())
        .fetch_one(&n.db.pool)
        .await?;
        let (failures_last_hour,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM delivery_attempts t JOIN deliveries d ON d.id = t.delivery_id \
             WHERE t.at > $1 AND d.channel = $2 AND t.outcome NOT IN ('sent', 'postponed', 'cancelled')",
        )
        .bind(hour_ago)
        .bind(ch.as_str())
        .fetch_one(&n.db.pool)
        .await?;
        let (enabled, provider) = match ch {
            Channel::Sms => (
                n.senders.sms.is_some(),
                n.senders
                    .sms_paths
                    .as_ref()
                    .map_or_else(|| n.cfg.sms.provider.clone(), |f| f.in_use().to_string()),
            ),
            Channel::Voice => (n.senders.voice.is_some(), n.cfg.voice.provider.clone()),
            Channel::Email => (
                n.senders.email.is_some(),
                if n.cfg.email.host.is_empty() {
                    "spool".to_string()
                } else {
                    "smtp".to_string()
                },
            ),
        };
        out.push(ChannelHealth {
            channel: ch.as_str(),
            enabled,
            provider,
            breaker: n.breakers.of(ch).view(),
            waiting,
            maybe_duplicate,
            last_sent_at,
            failures_last_hour,
            paths: match ch {
                Channel::Sms => crate::notify::delivery::paths::views(n).await?,
                _ => Vec::new(),
            },
        });
    }
    Ok(out)
}

/// A finished send task: a panic (a bug in rendering or a provider) must not
/// leave its delivery held for ever or the breaker waiting for a probe that
/// never ends; the delivery goes back to the queue.
fn forget_panicked(
    n: &Arc<Notifier>,
    breaker: &Breaker,
    held: &Held,
    sending: &Held,
    task_ids: &mut HashMap<tokio::task::Id, (i64, bool)>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match &done {
        Ok((id, ())) => *id,
        Err(e) => e.id(),
    };
    let Some((delivery, probe)) = task_ids.remove(&id) else {
        return;
    };
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!(
            delivery,
            "a send task panicked; the delivery goes back to the queue"
        );
        held_lock(sending).remove(&delivery);
        if probe {
            breaker.probe_abandoned();
        }
        let (n, held) = (n.clone(), held.clone());
        tokio::spawn(async move { release(&n, &held, &[delivery], None).await });
    }
}

/// Puts claimed deliveries that were never handed to the provider back in
/// the queue, due now, without counting the attempt.
/// Whatever happens, they are no longer held: if the database refused the
/// release, their leases run out and a later claim takes them.
async fn release(n: &Notifier, held: &Held, ids: &[i64], probe: Option<&Breaker>) {
    if let Some(b) = probe {
        b.probe_abandoned();
    }
    if ids.is_empty() {
        return;
    }
    {
        let mut h = held_lock(held);
        for id in ids {
            h.remove(id);
        }
    }
    if let Err(e) = claims::release(&n.db, ids).await {
        tracing::warn!(error = %e, "releasing claims failed; their leases bring them back");
    }
}

/// Deliveries whose send may or may not have happened (cut at shutdown, or
/// claimed by a daemon that died): queued again at once and marked
/// `maybe_duplicate`, with an attempt that says so.
pub async fn mark_unknown(db: &Db, ids: &[i64]) -> Result<(), StoreError> {
    claims::mark_unknown(db, ids).await
}

/// At the start of the one process that owns a SQLite file: every claim
/// left `sending` belonged to a run that is gone, so it is sent again at
/// once instead of after its lease, as of unknown outcome. Returns how many.
pub async fn release_orphaned_claims(db: &Db) -> Result<usize, StoreError> {
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM deliveries WHERE state = 'sending'")
        .fetch_all(&db.pool)
        .await?;
    let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
    if !ids.is_empty() {
        mark_unknown(db, &ids).await?;
    }
    Ok(ids.len())
}

/// Renews the leases of the deliveries this worker holds, every third of a
/// lease, so a lease can be short: a dead daemon's claims come back soon,
/// a live one's never run out mid-send.
async fn renew_leases(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let held = n.outbox.held.clone();
    let lease_ms = (n.cfg.delivery.lease_secs * 1000.0).max(30.0) as i64;
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(10).max(10));
    // Stopping, it renews while sends drain and outcomes are recorded, for
    // at most the grace period and a little more.
    let mut until: Option<Instant> = None;
    loop {
        // Stopping, look often: the wait ends when nothing is held.
        let wait = if until.is_some() {
            every.min(Duration::from_millis(50))
        } else {
            every
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed(), if until.is_none() => {}
        }
        if *stop.borrow() {
            let end = *until.get_or_insert_with(|| {
                Instant::now()
                    + Duration::from_secs_f64(n.cfg.delivery.shutdown_grace_secs.max(0.0) + 1.0)
            });
            if Instant::now() >= end || held_lock(&held).is_empty() {
                break;
            }
        }
        let ids: Vec<i64> = held_lock(&held).iter().copied().collect();
        if ids.is_empty() {
            continue;
        }
        if let Err(e) = claims::renew(&n.db, &ids, now_ms() + lease_ms).await {
            tracing::warn!(error = %e, "renewing delivery leases failed");
        }
    }
}

/// Records outcomes in batches. A batch the database refuses is kept and
/// tried again (0.1 s doubling to 5 s) until it is recorded: meanwhile no
/// worker claims, so no delivery whose outcome is only here is sent again.
/// Stopping, it tries for the shutdown grace period, then leaves the rest
/// to the next start (their deliveries are still `sending`: SQLite sends
/// them again at once as of unknown outcome, PostgreSQL after the lease).
async fn run_writer(n: Arc<Notifier>, mut rx: mpsc::Receiver<Done>, stop: watch::Receiver<bool>) {
    use std::sync::atomic::Ordering;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(100);
        let mut gave_up_at: Option<Instant> = None;
        let mut other_errors = 0;
        while let Err(e) = record(&n, &batch).await {
            // Only the storage being away is waited out; anything else is
            // tried a few times, then left to the leases.
            if !e.is_unavailable() {
                other_errors += 1;
                if other_errors >= 10 {
                    tracing::error!(error = %e, outcomes = batch.len(), "giving up recording these outcomes; their leases bring the deliveries back");
                    break;
                }
            }
            if !n.outbox.record_failing.swap(true, Ordering::Relaxed) {
                n.outbox.outcomes_held.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, outcomes = batch.len(), "recording delivery outcomes failed; keeping them and trying again");
            }
            if *stop.borrow() {
                let deadline = *gave_up_at.get_or_insert_with(|| {
                    Instant::now()
                        + Duration::from_secs_f64(n.cfg.delivery.shutdown_grace_secs.max(0.0))
                });
                if Instant::now() >= deadline {
                    tracing::error!(
                        outcomes = batch.len(),
                        "stopping with outcomes not recorded; those deliveries are sent again at the next start"
                    );
                    break;
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        {
            let mut h = held_lock(&n.outbox.held);
            for d in &batch {
                h.remove(&d.id);
            }
        }
        if n.outbox.record_failing.swap(false, Ordering::Relaxed) {
            tracing::info!("delivery outcomes recorded again");
            n.wake.notify_waiters();
        }
    }
}

/// Whether a passing failure is tried again: while the delivery is within
/// `retry_for_hours` of being queued (and under `max_attempts`, if set).
fn retry(cfg: &Config, d: &Done, now: i64) -> bool {
    let window = (cfg.delivery.retry_for_hours * 3_600_000.0) as i64;
    let by_count = cfg.delivery.max_attempts <= 0 || d.attempts < cfg.delivery.max_attempts;
    by_count && now < d.created_at + window
}

/// Records a batch of outcomes (`claims::record`: set-based, one
/// transaction) and counts them in the metrics.
async fn record(n: &Notifier, batch: &[Done]) -> Result<(), StoreError> {
    let now = now_ms();
    let changes: Vec<Change> = batch.iter().map(|d| change(&n.cfg, d, now)).collect();
    claims::record(&n.db, &changes).await?;
    let m = crate::telemetry::metrics();
    for (d, c) in batch.iter().zip(&changes) {
        crate::telemetry::inc(
            &m.deliveries,
            &[
                ("channel", d.channel.as_str()),
                ("provider", crate::telemetry::provider_of(n, d.channel)),
                ("outcome", c.attempt),
            ],
        );
    }
    Ok(())
}

/// What an outcome makes of its delivery: sent, queued again after a
/// backoff, or failed for good.
fn change(cfg: &Config, d: &Done, now: i64) -> Change {
    let (state, provider_id, due_at, attempt, detail) = match &d.outcome {
        Outcome::Sent { provider_id } => (
            "sent",
            Some(provider_id.clone()),
            None,
            "sent",
            provider_id.clone(),
        ),
        Outcome::Transient(reason) if retry(cfg, d, now) => (
            "queued",
            None,
            Some(now + backoff_ms(cfg, d.attempts)),
            "retry",
            reason.clone(),
        ),
        Outcome::Transient(reason) => (
            "failed",
            None,
            None,
            "failed",
            format!(
                "gave up after {} attempts over {:.1} h: {reason}",
                d.attempts,
                (now - d.created_at) as f64 / 3_600_000.0
            ),
        ),
        Outcome::Permanent(reason) => ("failed", None, None, "failed", reason.clone()),
        // Queued for the moment the limit allows, whatever the retry window: nothing was
        // tried, and the reason stays on the delivery for the notice's page.
        Outcome::Postponed { until, reason } => {
            ("queued", None, Some(*until), "postponed", reason.clone())
        }
        Outcome::Cancelled(reason) => ("cancelled", None, None, "cancelled", reason.clone()),
    };
    Change {
        id: d.id,
        attempts: d.attempts,
        state,
        provider_id,
        due_at,
        last_error: (state != "sent").then(|| detail.clone()),
        attempt,
        detail,
        refund: i64::from(matches!(
            d.outcome,
            Outcome::Postponed { .. } | Outcome::Cancelled(_)
        )),
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    fn done(attempts: i64, created_at: i64) -> Done {
        Done {
            id: 1,
            channel: Channel::Sms,
            attempts,
            created_at,
            outcome: Outcome::Transient("503".into()),
        }
    }

    #[test]
    fn a_passing_failure_is_retried_for_the_window_whatever_the_attempts() {
        let mut cfg = Config::default();
        cfg.delivery.retry_for_hours = 24.0;
        cfg.delivery.max_attempts = 0;
        let hour = 3_600_000;
        let now = 100 * hour;
        assert!(
            retry(&cfg, &done(500, now - 23 * hour), now),
            "23 h in, attempt 500"
        );
        assert!(
            !retry(&cfg, &done(2, now - 24 * hour), now),
            "the window is over"
        );
        cfg.delivery.max_attempts = 8;
        assert!(retry(&cfg, &done(7, now - hour), now));
        assert!(
            !retry(&cfg, &done(8, now - hour), now),
            "a count limit, when set, holds too"
        );
    }
}

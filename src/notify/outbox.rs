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
use crate::notify::alerts::{Channel, village_names};
use crate::notify::channel::{EmailSender, Outcome, SmsProvider};
use crate::notify::render::{DELIVERY_COLUMNS, DELIVERY_SELECT, DeliveryRow, Renderer};
use crate::store::{Backend, Db, Sql, StoreError, now_ms, rows_per_statement};

/// The channels as configured.
#[derive(Clone)]
pub struct Senders {
    pub sms: Option<Arc<dyn SmsProvider>>,
    pub email: Option<Arc<dyn EmailSender>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SenderError(pub String);

impl Senders {
    /// Builds the channels the configuration names. Spool is the default for
    /// SMS, and for e-mail when no SMTP host is set.
    pub fn from_config(cfg: &Config) -> Result<Senders, SenderError> {
        let spool = Arc::new(crate::notify::spool::Spool::new(
            cfg.data_dir.join("outbox"),
        ));
        let sms: Option<Arc<dyn SmsProvider>> = match cfg.sms.provider.as_str() {
            "off" => None,
            "spool" | "" => Some(spool.clone()),
            _ => crate::notify::sms::build_provider(&cfg.sms)
                .map_err(|e| SenderError(e.to_string()))?,
        };
        let email: Option<Arc<dyn EmailSender>> = if !cfg.email.enabled {
            None
        } else if cfg.email.host.is_empty() {
            Some(spool)
        } else {
            Some(Arc::new(
                crate::notify::email::SmtpSender::new(&cfg.email)
                    .map_err(|e| SenderError(e.to_string()))?,
            ))
        };
        Ok(Senders { sms, email })
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
}

/// Outcomes recorded in one transaction at most.
const RECORD_BATCH: usize = 2000;

struct Done {
    id: i64,
    attempts: i64,
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
    let mut handles = vec![tokio::spawn(run_writer(n.clone(), rx))];
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

async fn claim(n: &Notifier, ch: Channel, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
    let now = now_ms();
    let lease = now + (n.cfg.delivery.lease_secs * 1000.0) as i64;
    let mut q = Sql::new("UPDATE deliveries SET state = 'sending', lease_until = ");
    q.bind(lease)
        .push(", attempts = attempts + 1, updated_at = ")
        .bind(now);
    match n.db.backend {
        // SQLite does not split the OR below into two index ranges: it
        // walks every delivery the channel ever had, so each claim grew
        // with the history. Two ranges of `deliveries_due`, each stopped
        // at `limit`, then merged.
        Backend::Sqlite => {
            q.push(" WHERE id IN (SELECT id FROM (SELECT id, due_at FROM (SELECT id, due_at FROM deliveries WHERE channel = ")
                .bind(ch.as_str())
                .push(" AND state = 'queued' AND due_at <= ")
                .bind(now)
                .push(" ORDER BY due_at, id LIMIT ")
                .bind(limit);
            q.push(") UNION ALL SELECT id, due_at FROM (SELECT id, due_at FROM deliveries WHERE channel = ")
                .bind(ch.as_str())
                .push(" AND state = 'sending' AND lease_until < ")
                .bind(now)
                .push(" ORDER BY due_at, id LIMIT ")
                .bind(limit);
            q.push(")) ORDER BY due_at, id LIMIT ")
                .bind(limit)
                .push(") RETURNING id");
        }
        // The same two ranges, each locked with SKIP LOCKED (not allowed
        // on a UNION itself, so inside each branch), expired leases first,
        // `limit` in all. Ordered by `due_at` alone: a whole alert shares
        // one `due_at`, and breaking the tie by id made PostgreSQL sort
        // every queued delivery on each claim (1.7k/s at 100k).
        Backend::Postgres => {
            q.push(" WHERE id IN (SELECT id FROM (SELECT id FROM deliveries WHERE channel = ")
                .bind(ch.as_str())
                .push(" AND state = 'sending' AND lease_until < ")
                .bind(now)
                .push(" ORDER BY due_at LIMIT ")
                .bind(limit)
                .push(n.db.skip_locked());
            q.push(
                ") expired UNION ALL SELECT id FROM (SELECT id FROM deliveries WHERE channel = ",
            )
            .bind(ch.as_str())
            .push(" AND state = 'queued' AND due_at <= ")
            .bind(now)
            .push(" ORDER BY due_at LIMIT ")
            .bind(limit)
            .push(n.db.skip_locked())
            .push(") queued LIMIT ")
            .bind(limit)
            .push(") RETURNING id");
        }
    }
    let ids: Vec<(i64,)> = q.query_as().fetch_all(n.db.writer()).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sel = Sql::new(DELIVERY_SELECT);
    sel.bind_list(ids.iter().map(|r| r.0))
        .push(" ORDER BY d.id");
    let mut rows: Vec<DeliveryRow> = n.db.fetch_rows(&sel, DELIVERY_COLUMNS).await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
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
    let mut villages = Arc::new(HashMap::new());
    loop {
        if *stop.borrow() {
            break;
        }
        // Registered before claiming, so a wake-up that comes while the
        // claim runs (a page of a new alert committed) is not missed.
        let wake = n.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let rows = match claim(&n, ch, limit).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, channel = ch.as_str(), "claiming deliveries failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        if rows.is_empty() {
            tokio::select! {
                _ = wake => {}
                _ = tokio::time::sleep(Duration::from_millis(n.cfg.delivery.poll_ms.max(10))) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if rows
            .iter()
            .any(|r| r.village_id.is_some_and(|v| !villages.contains_key(&v)))
            || villages.is_empty()
        {
            match village_names(&n.db).await {
                Ok(v) => villages = Arc::new(v),
                Err(e) => tracing::warn!(error = %e, "loading village names failed"),
            }
        }
        for d in rows {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            pace.wait().await;
            let (n2, send, results, v) =
                (n.clone(), send.clone(), results.clone(), villages.clone());
            tokio::spawn(async move {
                let (id, attempts) = (d.id, d.attempts);
                let outcome = send(n2, d, v).await;
                let _ = results
                    .send(Done {
                        id,
                        attempts,
                        outcome,
                    })
                    .await;
                drop(permit);
            });
        }
    }
    // Let in-flight sends finish so their outcomes are recorded.
    let _ = sem.acquire_many(concurrency as u32).await;
}

async fn run_writer(n: Arc<Notifier>, mut rx: mpsc::Receiver<Done>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let mut tries = 0;
        while let Err(e) = record(&n, &batch).await {
            tries += 1;
            tracing::warn!(error = %e, tries, "recording delivery outcomes failed");
            if tries >= 10 {
                // The leases bring these deliveries back; they will be sent again.
                break;
            }
            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
        }
    }
}

/// Records a batch of outcomes with set-based statements: one UPDATE joined
/// to the batch's values (`UPDATE … FROM (VALUES …)`, which SQLite ≥ 3.33
/// and PostgreSQL both accept) and one multi-row INSERT of attempts, per
/// chunk of placeholders, in one transaction. A statement costs ~20 µs through sqlx
/// whatever its size, so per-row statements capped recording near 10k/s.
async fn record(n: &Notifier, batch: &[Done]) -> Result<(), StoreError> {
    /// What one outcome changes: the delivery's new state, and what its
    /// attempt row says.
    struct Change {
        id: i64,
        state: &'static str,
        provider_id: Option<String>,
        due_at: Option<i64>,
        attempt: &'static str,
        detail: String,
    }
    let now = now_ms();
    let changes: Vec<Change> = batch
        .iter()
        .map(|d| match &d.outcome {
            Outcome::Sent { provider_id } => Change {
                id: d.id,
                state: "sent",
                provider_id: Some(provider_id.clone()),
                due_at: None,
                attempt: "sent",
                detail: provider_id.clone(),
            },
            Outcome::Transient(reason) if d.attempts < n.cfg.delivery.max_attempts => Change {
                id: d.id,
                state: "queued",
                provider_id: None,
                due_at: Some(now + backoff_ms(&n.cfg, d.attempts)),
                attempt: "retry",
                detail: reason.clone(),
            },
            Outcome::Transient(reason) => Change {
                id: d.id,
                state: "failed",
                provider_id: None,
                due_at: None,
                attempt: "failed",
                detail: format!("gave up after {} attempts: {reason}", d.attempts),
            },
            Outcome::Permanent(reason) => Change {
                id: d.id,
                state: "failed",
                provider_id: None,
                due_at: None,
                attempt: "failed",
                detail: reason.clone(),
            },
        })
        .collect();
    let sqlite = n.db.backend == Backend::Sqlite;
    let mut tx = n.db.begin().await?;
    // Every outcome in one statement per chunk: the values say what each
    // delivery becomes; a sent one keeps no error, the others no new id.
    for chunk in changes.chunks(rows_per_statement(sqlite, 5)) {
        let mut q = Sql::new(
            "UPDATE deliveries SET state = v.column2, provider_id = COALESCE(v.column3, deliveries.provider_id), \
             due_at = COALESCE(v.column4, deliveries.due_at), last_error = v.column5, lease_until = NULL, \
             sent_at = CASE WHEN v.column2 = 'sent' THEN ",
        );
        q.bind(now)
            .push(" ELSE deliveries.sent_at END, updated_at = ")
            .bind(now)
            .push(" FROM (VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(c.id)
                .push(", ")
                .bind(c.state)
                .push(", ")
                .bind(c.provider_id.clone())
                .push(", ")
                .bind(c.due_at)
                .push(", ")
                .bind((c.state != "sent").then(|| c.detail.clone()))
                .push(")");
        }
        q.push(") AS v WHERE deliveries.id = v.column1 AND deliveries.state = 'sending'");
        q.query().execute(&mut *tx).await?;
    }
    for chunk in changes.chunks(rows_per_statement(sqlite, 4)) {
        let mut q =
            Sql::new("INSERT INTO delivery_attempts (delivery_id, at, outcome, detail) VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(c.id)
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(c.attempt)
                .push(", ")
                .bind(c.detail.as_str())
                .push(")");
        }
        q.query().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

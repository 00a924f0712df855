//! What the daemon tells about itself: Prometheus metrics (`/metrics`), the
//! request id and span of every HTTP request (`http`), the process's own
//! figures (`process`).
//!
//! The counters and histograms live in one registry per process
//! ([`metrics`]), moved where things happen (the outbox, the SMS providers,
//! answers and escalation, drill reminders, the HTTP middleware). What is a
//! state rather than an event (queue depth, the oldest due delivery, the
//! circuit breakers, the database pools, memory, disk) is read when the
//! registry is scraped ([`render`]).
//!
//! Names follow Prometheus conventions: `fenghuo_` prefix, base units in the
//! name (`_seconds`, `_bytes`), counters end in `_total`. Label values come
//! from short fixed lists (channel, provider name, outcome, route template,
//! status code): never a phone number, an address, a name or a token.

pub mod http;
pub mod process;

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;

/// A metric's labels: fixed names, values from a bounded set.
pub type Labels = Vec<(&'static str, String)>;

type Histograms = Family<Labels, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// The content type of [`render`]'s text (OpenMetrics 1.0, which Prometheus
/// asks for first and parses as its own text format).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// Delivery outcomes as recorded: `channel`, `provider`, `outcome`
    /// (sent, retry, failed, unknown).
    pub deliveries: Family<Labels, Counter>,
    /// Time a channel took to answer one send (whatever the outcome).
    pub send_seconds: Histograms,
    /// Sends that did not go out: `channel`, `provider`, `class`
    /// (transient: tried again; permanent: given up).
    pub send_errors: Family<Labels, Counter>,
    /// HTTP requests to an SMS provider: `provider`.
    pub provider_request_seconds: Histograms,
    /// Failed HTTP requests to an SMS provider: `provider`, `class`
    /// (network: no answer, a timeout included; http_429, http_4xx, http_5xx).
    pub provider_errors: Family<Labels, Counter>,
    /// Answers recorded: `via` (link, sms, phone, dashboard), `counted`
    /// (first: the person's first answer; again).
    pub answers: Family<Labels, Counter>,
    /// Escalation firings: `step` (repeat: the same person again; next: the
    /// next person up told).
    pub escalations: Family<Labels, Counter>,
    /// Calls held back by a limit on calls per number and postponed: `provider`.
    pub voice_postponed: Family<Labels, Counter>,
    /// Drill reminders decided: `outcome` (sent, late, missed, unaddressed).
    pub reminders: Family<Labels, Counter>,
    /// HTTP requests answered: `method`, `route` (the route template), `status`.
    pub http_requests: Family<Labels, Counter>,
    /// Time to answer an HTTP request: `method`, `route`, `status`.
    pub http_seconds: Histograms,
    /// Time a write transaction waited for the (SQLite: single) writer connection.
    pub db_write_wait_seconds: Histogram,
    /// SQLite's batched writer: time a job waited from being queued until
    /// its transaction began (`store::batch`).
    pub db_batch_queue_seconds: Histogram,
    /// SQLite's batched writer: time it waited for the sqlx writer
    /// connection (the gate the two share) before a run of its batches.
    pub db_batch_gate_wait_seconds: Histogram,
    /// Moves of a channel's path in use: `channel`, `from`, `to` (provider names).
    pub path_switches: Family<Labels, Counter>,
    path_in_use: Family<Labels, Gauge>,
    canary_failing: Family<Labels, Gauge>,
    // States, set when scraped.
    queue_depth: Family<Labels, Gauge>,
    oldest_due_age: Family<Labels, FloatGauge>,
    past_answer_window: Family<Labels, Gauge>,
    write_probe_ok: Gauge,
    breaker_open: Family<Labels, Gauge>,
    breaker_failures: Family<Labels, Gauge>,
    pool_connections: Family<Labels, Gauge>,
    pool_max: Family<Labels, Gauge>,
    outcomes_held: Gauge,
    resident_memory: Gauge,
    open_fds: Gauge,
    start_time: FloatGauge,
    uptime: FloatGauge,
    disk_free: Gauge,
    disk_size: Gauge,
    build_info: Family<Labels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 5 ms … 30 s: a page, a provider's answer, a slow SMTP server.
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// 0.1 ms … 5 s: waits inside the daemon, most of them well under 10 ms.
fn fine_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    ])
}

fn histograms() -> Histograms {
    Family::new_with_constructor(latency_histogram as fn() -> Histogram)
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            deliveries: Family::default(),
            send_seconds: histograms(),
            send_errors: Family::default(),
            provider_request_seconds: histograms(),
            provider_errors: Family::default(),
            answers: Family::default(),
            escalations: Family::default(),
            voice_postponed: Family::default(),
            reminders: Family::default(),
            http_requests: Family::default(),
            http_seconds: histograms(),
            db_write_wait_seconds: Histogram::new([
                0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
            ]),
            db_batch_queue_seconds: fine_histogram(),
            db_batch_gate_wait_seconds: fine_histogram(),
            path_switches: Family::default(),
            path_in_use: Family::default(),
            canary_failing: Family::default(),
            queue_depth: Family::default(),
            oldest_due_age: Family::default(),
            past_answer_window: Family::default(),
            write_probe_ok: Gauge::default(),
            breaker_open: Family::default(),
            breaker_failures: Family::default(),
            pool_connections: Family::default(),
            pool_max: Family::default(),
            outcomes_held: Gauge::default(),
            resident_memory: Gauge::default(),
            open_fds: Gauge::default(),
            start_time: FloatGauge::default(),
            uptime: FloatGauge::default(),
            disk_free: Gauge::default(),
            disk_size: Gauge::default(),
            build_info: Family::default(),
        };
        let r = &mut m.registry;
        // Counters are registered without `_total`: the encoder adds it.
        r.register(
            "fenghuo_deliveries",
            "Delivery outcomes recorded, by channel, provider and outcome (sent, retry, failed, unknown)",
            m.deliveries.clone(),
        );
        r.register(
            "fenghuo_send_duration_seconds",
            "Time a channel took to answer one send",
            m.send_seconds.clone(),
        );
        r.register(
            "fenghuo_send_errors",
            "Sends that did not go out, by channel, provider and class (transient, permanent)",
            m.send_errors.clone(),
        );
        r.register(
            "fenghuo_sms_provider_request_duration_seconds",
            "HTTP requests to the SMS provider",
            m.provider_request_seconds.clone(),
        );
        r.register(
            "fenghuo_sms_provider_errors",
            "Failed HTTP requests to the SMS provider, by class",
            m.provider_errors.clone(),
        );
        r.register(
            "fenghuo_answers",
            "Answers (叫应) recorded, by how they came and whether they were the first",
            m.answers.clone(),
        );
        r.register(
            "fenghuo_escalations",
            "Unanswered notices escalated: repeat to the same person, or next person up",
            m.escalations.clone(),
        );
        r.register(
            "fenghuo_voice_postponed",
            "Calls postponed because a limit on calls per number held them back",
            m.voice_postponed.clone(),
        );
        r.register(
            "fenghuo_drill_reminders",
            "Drill reminders decided, by outcome (sent, late, missed, unaddressed)",
            m.reminders.clone(),
        );
        r.register(
            "fenghuo_http_requests",
            "HTTP requests answered, by method, route template and status",
            m.http_requests.clone(),
        );
        r.register(
            "fenghuo_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            m.http_seconds.clone(),
        );
        r.register(
            "fenghuo_db_write_wait_seconds",
            "Time a write transaction waited for the writer connection",
            m.db_write_wait_seconds.clone(),
        );
        r.register(
            "fenghuo_db_batch_queue_seconds",
            "SQLite's batched writer: time a job waited from being queued until its transaction began",
            m.db_batch_queue_seconds.clone(),
        );
        r.register(
            "fenghuo_db_batch_gate_wait_seconds",
            "SQLite's batched writer: time it waited for the writer connection it shares with other writes",
            m.db_batch_gate_wait_seconds.clone(),
        );
        r.register(
            "fenghuo_sms_path_switches",
            "Moves of a channel's path in use, by channel and the providers left and taken",
            m.path_switches.clone(),
        );
        r.register(
            "fenghuo_sms_path_in_use",
            "1 for the path deliveries go on now, 0 for the other paths of the channel",
            m.path_in_use.clone(),
        );
        r.register(
            "fenghuo_canary_failing",
            "1 while a path's latest daily self-check (通道自检) failed or is missing, else 0",
            m.canary_failing.clone(),
        );
        r.register(
            "fenghuo_delivery_queue_depth",
            "Deliveries queued or being sent, by channel",
            m.queue_depth.clone(),
        );
        r.register(
            "fenghuo_delivery_oldest_due_age_seconds",
            "Age of the oldest queued delivery that is due, by channel (0: none due)",
            m.oldest_due_age.clone(),
        );
        r.register(
            "fenghuo_delivery_past_answer_window",
            "Queued deliveries still waiting after their notice's answer window passed, by channel",
            m.past_answer_window.clone(),
        );
        r.register(
            "fenghuo_write_probe_ok",
            "1 if a small write transaction (as /readyz tries) succeeded at this scrape, else 0",
            m.write_probe_ok.clone(),
        );
        r.register(
            "fenghuo_circuit_breaker_open",
            "1 while a channel's circuit breaker holds sends back (open or probing), else 0",
            m.breaker_open.clone(),
        );
        r.register(
            "fenghuo_circuit_breaker_consecutive_failures",
            "Passing failures in a row counted by a channel's circuit breaker",
            m.breaker_failures.clone(),
        );
        r.register(
            "fenghuo_db_pool_connections",
            "Database connections by pool (read, write) and state (idle, in_use)",
            m.pool_connections.clone(),
        );
        r.register(
            "fenghuo_db_pool_max_connections",
            "Largest number of connections of each database pool",
            m.pool_max.clone(),
        );
        r.register(
            "fenghuo_delivery_outcomes_unrecorded",
            "1 while delivery outcomes wait in memory because the database refuses them",
            m.outcomes_held.clone(),
        );
        r.register(
            "process_resident_memory_bytes",
            "Resident memory of the daemon",
            m.resident_memory.clone(),
        );
        r.register(
            "process_open_fds",
            "Open file descriptors of the daemon",
            m.open_fds.clone(),
        );
        r.register(
            "process_start_time_seconds",
            "Start of the daemon, seconds since the Unix epoch",
            m.start_time.clone(),
        );
        r.register(
            "fenghuo_uptime_seconds",
            "Seconds since the daemon started",
            m.uptime.clone(),
        );
        r.register(
            "fenghuo_data_dir_free_bytes",
            "Bytes free for the daemon on the file system of data_dir",
            m.disk_free.clone(),
        );
        r.register(
            "fenghuo_data_dir_size_bytes",
            "Size of the file system of data_dir",
            m.disk_size.clone(),
        );
        r.register(
            "fenghuo_build_info",
            "Always 1; the version of the running daemon in its label",
            m.build_info.clone(),
        );
        m.build_info
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())])
            .set(1);
        // Counters start at 0 for every label value known now, so that
        // `rate()` and the alert rules see them before the first event.
        for outcome in ["sent", "late", "missed", "unaddressed"] {
            zero(&m.reminders, &[("outcome", outcome)]);
        }
        for step in ["repeat", "next"] {
            zero(&m.escalations, &[("step", step)]);
        }
        for via in ["link", "sms", "phone", "voice"] {
            for counted in ["first", "again"] {
                zero(&m.answers, &[("via", via), ("counted", counted)]);
            }
        }
        m
    }
}

fn zero(family: &Family<Labels, Counter>, labels: &[(&'static str, &str)]) {
    family.get_or_create(&owned(labels)).inc_by(0);
}

/// Starts the counters of the channels as configured at 0 (called by
/// `server::start`): deliveries by outcome, send errors by class, and the
/// HTTP SMS provider's errors by class.
pub fn prepare(n: &Notifier) {
    let m = metrics();
    for (ch, on) in [
        (Channel::Sms, n.senders.sms.is_some()),
        (Channel::Email, n.senders.email.is_some()),
        (Channel::Voice, n.senders.voice.is_some()),
    ] {
        if !on {
            continue;
        }
        let provider = provider_of(n, ch);
        for outcome in ["sent", "retry", "failed", "unknown", "postponed"] {
            zero(
                &m.deliveries,
                &[
                    ("channel", ch.as_str()),
                    ("provider", provider),
                    ("outcome", outcome),
                ],
            );
        }
        for class in ["transient", "permanent"] {
            zero(
                &m.send_errors,
                &[
                    ("channel", ch.as_str()),
                    ("provider", provider),
                    ("class", class),
                ],
            );
        }
        if let (Channel::Sms, Some(f)) = (ch, &n.senders.sms_paths) {
            for from in f.paths() {
                for to in f.paths().iter().filter(|t| t.name != from.name) {
                    zero(
                        &m.path_switches,
                        &[("channel", "sms"), ("from", from.name), ("to", to.name)],
                    );
                }
            }
        }
        if ch == Channel::Sms && provider != "spool" {
            for class in ["network", "http_429", "http_4xx", "http_5xx"] {
                zero(
                    &m.provider_errors,
                    &[("provider", provider), ("class", class)],
                );
            }
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Adds one to a counter of a family.
pub fn inc(family: &Family<Labels, Counter>, labels: &[(&'static str, &str)]) {
    family.get_or_create(&owned(labels)).inc();
}

/// Records seconds in a histogram of a family.
pub fn observe(family: &Histograms, labels: &[(&'static str, &str)], seconds: f64) {
    family.get_or_create(&owned(labels)).observe(seconds);
}

fn owned(labels: &[(&'static str, &str)]) -> Labels {
    labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// The name a channel's sender goes by in labels: the SMS provider
/// (`aliyun`, `tencent`, `twilio`, `webhook`, `spool`) or `smtp`/`spool`.
pub fn provider_of(n: &Notifier, ch: Channel) -> &'static str {
    match ch {
        Channel::Sms if n.senders.sms_paths.is_some() => {
            n.senders.sms_paths.as_ref().map_or("spool", |f| f.in_use())
        }
        Channel::Sms => match n.cfg.sms.provider.trim() {
            "aliyun" => "aliyun",
            "tencent" => "tencent",
            "twilio" => "twilio",
            "webhook" => "webhook",
            "off" => "off",
            _ => "spool",
        },
        Channel::Email if n.cfg.email.host.is_empty() => "spool",
        Channel::Email => "smtp",
        Channel::Voice => match n.cfg.voice.provider.trim() {
            "aliyun" => "aliyun",
            "tencent" => "tencent",
            "twilio" => "twilio",
            "webhook" => "webhook",
            "spool" => "spool",
            _ => "off",
        },
    }
}

/// Reads the states (queues, breakers, pools, the process) and renders every
/// metric in the text format. A query that fails leaves its figures as they
/// were at the last scrape and is logged.
pub async fn render(n: &Notifier) -> String {
    let m = metrics();
    match crate::notify::delivery::outbox::queue_stats(n).await {
        Ok(stats) => {
            for s in stats {
                let l = vec![("channel", s.channel.to_string())];
                m.queue_depth.get_or_create(&l).set(s.waiting);
                m.oldest_due_age
                    .get_or_create(&l)
                    .set(s.oldest_due_age_ms.max(0) as f64 / 1000.0);
                m.past_answer_window
                    .get_or_create(&l)
                    .set(s.past_answer_window);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the delivery queue failed"),
    }
    let writable = match n.db.probe_write().await {
        Ok(()) => 1,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the write probe failed");
            0
        }
    };
    m.write_probe_ok.set(writable);
    for ch in Channel::ALL {
        let l = vec![("channel", ch.as_str().to_string())];
        let view = n.breakers.of(ch).view();
        m.breaker_open
            .get_or_create(&l)
            .set(i64::from(view.state != "closed"));
        m.breaker_failures
            .get_or_create(&l)
            .set(i64::from(view.failures));
    }
    if let Some(f) = &n.senders.sms_paths {
        let in_use = f.in_use();
        for p in f.paths() {
            m.path_in_use
                .get_or_create(&vec![
                    ("channel", "sms".to_string()),
                    ("path", p.name.to_string()),
                ])
                .set(i64::from(p.name == in_use));
        }
        match crate::notify::delivery::canary::state(n, crate::store::now_ms()).await {
            Ok(paths) => {
                for c in paths {
                    m.canary_failing
                        .get_or_create(&vec![("path", c.path.to_string())])
                        .set(i64::from(c.failing));
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: reading the self-checks failed"),
        }
    }
    for (pool, p) in n.db.pools() {
        let size = i64::from(p.size());
        let idle = i64::try_from(p.num_idle()).unwrap_or(i64::MAX);
        let l = |state: &str| vec![("pool", pool.to_string()), ("state", state.to_string())];
        m.pool_connections.get_or_create(&l("idle")).set(idle);
        m.pool_connections
            .get_or_create(&l("in_use"))
            .set((size - idle).max(0));
        m.pool_max
            .get_or_create(&vec![("pool", pool.to_string())])
            .set(i64::from(p.options().get_max_connections()));
    }
    m.outcomes_held.set(i64::from(
        n.outbox
            .record_failing
            .load(std::sync::atomic::Ordering::Relaxed),
    ));
    let p = process::read(&n.cfg.data_dir);
    if let Some(rss) = p.resident_bytes {
        m.resident_memory.set(rss);
    }
    if let Some(fds) = p.open_fds {
        m.open_fds.set(fds);
    }
    m.start_time.set(p.start_time_secs);
    m.uptime.set(p.uptime_secs);
    if let Some((free, size)) = p.disk {
        m.disk_free.set(free);
        m.disk_size.set(size);
    }
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &m.registry) {
        tracing::error!(error = %e, "metrics: encoding failed");
    }
    out
}

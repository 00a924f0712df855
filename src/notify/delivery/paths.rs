//! A second path when a provider fails (备用通道): the SMS providers in order — `sms.provider`
//! first, then `sms.fallback` — sent through one [`Failover`], which the outbox sees as a
//! single provider.
//!
//! What moves deliveries between paths ([`Machine`], pure, the time passed in):
//! - A send goes on the path in use. Its passing failures (`Transient`) count in a row and a
//!   success starts the count again; at `sms.failover_after` deliveries move to the next path
//!   that is not failing itself, and the message that tipped it over is sent there at once.
//!   A message that failed on a path that is no longer in use (it started before a switch)
//!   also goes on the path in use at once.
//! - A refusal for good (`Permanent`: a bad number) does not count against a path. The message
//!   is offered to the next healthy path: if that one refuses it too, it was the number; if it
//!   sends it, the refusal was the path's own (an account in arrears, keys revoked) and counts
//!   as a failure of that path.
//! - While a later path is in use, every `sms.primary_retry_secs` one send tries the first
//!   path first; when that one goes through, deliveries move back.
//! - When every path is failing, each message tries every path once, from the one in use on:
//!   the first that sends it is in use again. Only then does a passing failure reach the
//!   outbox's circuit breaker ([`SmsProvider::all_paths_failing`]), which then holds the
//!   queue and probes.
//!
//! One attempt of a delivery sends its message on at most one path: a path that refused it
//! (HTTP 429/5xx, an error code, no connection) did not send it. The exception is an answer
//! that leaves it unknown ([`super::sms::ambiguous`]: a timeout, a connection cut mid-way):
//! the message is still sent on the next path, so the person may get it twice — a warning
//! twice is better than none. Every switch is logged, counted in `/metrics`
//! (`fenghuo_sms_path_switches_total`) and written to the audit log (entity `sms_path`).
//!
//! The state is the daemon's own, in memory, like the circuit breaker: a restart starts on the
//! first path; daemons sharing a database each keep their own.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, SmsConfig};
use crate::notify::delivery::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};
use crate::notify::delivery::outbox::Notifier;
use crate::notify::delivery::sms::{self, SmsConfigError};
use crate::store::now_ms;

/// The audit log's actor for path switches.
const ACTOR: &str = "system:paths";

/// Failures older than this are not "recent".
const RECENT_MS: i64 = 3_600_000;

/// The providers a path may be, as their names go into labels and the audit log.
const PROVIDERS: [&str; 4] = ["aliyun", "tencent", "twilio", "webhook"];

fn static_name(name: &str) -> Option<&'static str> {
    PROVIDERS.iter().copied().find(|p| *p == name.trim())
}

/// A path list that cannot work, found at start (`serve` refuses it, `config check` says it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// `sms.provider` itself (its own setting named).
    #[error(transparent)]
    First(SmsConfigError),
    #[error(
        "a fallback needs sms.provider to be a provider that sends (aliyun, tencent, twilio or webhook), not \"{0}\""
    )]
    NoFirstPath(String),
    #[error(
        "sms.fallback[{index}] = \"{name}\" is not a provider (expected aliyun, tencent, twilio or webhook)"
    )]
    Unknown { index: usize, name: String },
    #[error("sms.fallback[{index}] = \"{name}\" is already a path (each provider once)")]
    Twice { index: usize, name: String },
    #[error("sms.fallback[{index}] = \"{name}\": {error}")]
    Setting {
        index: usize,
        name: String,
        error: SmsConfigError,
    },
}

/// The paths' names in order: the first, then the fallbacks. Empty when SMS is spooled or off.
pub fn names(sms: &SmsConfig) -> Result<Vec<&'static str>, PathError> {
    let first = sms.provider.trim();
    let mut out = match static_name(first) {
        Some(p) => vec![p],
        None if !matches!(first, "" | "spool" | "off") => {
            return Err(PathError::First(SmsConfigError::UnknownProvider(
                first.to_string(),
            )));
        }
        None if sms.fallback.is_empty() => return Ok(Vec::new()),
        None => return Err(PathError::NoFirstPath(first.to_string())),
    };
    for (index, name) in sms.fallback.iter().enumerate() {
        let Some(p) = static_name(name) else {
            return Err(PathError::Unknown {
                index,
                name: name.clone(),
            });
        };
        if out.contains(&p) {
            return Err(PathError::Twice {
                index,
                name: name.clone(),
            });
        }
        out.push(p);
    }
    Ok(out)
}

/// Checks the fallbacks as `serve` builds them: each a provider, once, with its
/// `[sms.<name>]` settings complete (the first path is checked as `sms.provider`).
pub fn check(sms: &SmsConfig) -> Result<(), PathError> {
    let names = match names(sms) {
        // `sms.provider` is checked as such.
        Err(PathError::First(_)) => return Ok(()),
        other => other?,
    };
    for (index, name) in names.iter().enumerate().skip(1) {
        one(sms, name, "").map_err(|error| PathError::Setting {
            index: index - 1,
            name: name.to_string(),
            error,
        })?;
    }
    Ok(())
}

/// One provider as a path. Twilio is asked to post its delivery receipts back to us.
fn one(
    sms: &SmsConfig,
    name: &'static str,
    public_base: &str,
) -> Result<Arc<dyn SmsProvider>, SmsConfigError> {
    use crate::notify::delivery::sms::{aliyun, tencent, twilio, webhook};
    let t = sms.timeout_secs;
    Ok(match name {
        "aliyun" => Arc::new(aliyun::AliyunSms::new(&sms.aliyun, t)?),
        "tencent" => Arc::new(tencent::TencentSms::new(&sms.tencent, t)?),
        "twilio" => Arc::new(
            twilio::TwilioSms::new(&sms.twilio, t)?
                .with_status_callback(receipt_url(public_base, "twilio")),
        ),
        "webhook" => Arc::new(webhook::WebhookSms::new(&sms.webhook, t)?),
        other => return Err(SmsConfigError::UnknownProvider(other.to_string())),
    })
}

/// Where a provider's delivery receipts come in.
pub fn receipt_url(public_base: &str, provider: &str) -> String {
    if public_base.is_empty() {
        return String::new();
    }
    format!("{public_base}/hooks/sms/{provider}/receipts")
}

/// The configured paths behind one [`Failover`]; `None` when SMS is spooled or off.
pub fn build(cfg: &Config) -> Result<Option<Failover>, PathError> {
    let names = names(&cfg.sms)?;
    if names.is_empty() {
        return Ok(None);
    }
    // Twilio posts receipts only to where the daemon says it is reached, never to the listen
    // address it would fall back to.
    let base = if cfg.public_base_url.trim().is_empty() {
        String::new()
    } else {
        cfg.public_base()
    };
    let mut paths = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let provider = one(&cfg.sms, name, &base).map_err(|error| match index {
            0 => PathError::First(error),
            _ => PathError::Setting {
                index: index - 1,
                name: name.to_string(),
                error,
            },
        })?;
        paths.push(Path { name, provider });
    }
    let retry_ms = (cfg.sms.primary_retry_secs * 1000.0).max(1.0) as i64;
    Ok(Some(Failover::new(
        paths,
        cfg.sms.failover_after,
        retry_ms,
        now_ms(),
    )))
}

// ---------------------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Stats {
    /// Passing failures in a row (and refusals another path then sent).
    failures: u32,
    /// When the failures of the last hour happened.
    recent: VecDeque<i64>,
    last_error: Option<String>,
    last_failure_at: Option<i64>,
    last_success_at: Option<i64>,
}

/// Why the path in use moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The path in use failed `failover_after` times in a row.
    Failing,
    /// The first path went through again (its retry).
    Back,
    /// Every path was failing and this one sent a message.
    Answered,
}

/// A move of the path in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub from: &'static str,
    pub to: &'static str,
    pub at: i64,
    pub why: Why,
    /// The failures in a row of the path left, and its last error.
    pub failures: u32,
    pub error: Option<String>,
}

/// What a path answered for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    Sent,
    /// A passing failure, with its reason.
    Failed(&'a str),
    /// A refusal for good.
    Refused,
}

/// What follows an answer: the path the same message goes on now (none: the attempt is
/// over) and the move of the path in use it caused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub then: Option<usize>,
    pub switched: Option<Switch>,
}

/// The ordered paths' health and which is in use. Every method takes the time, so tests drive it.
#[derive(Debug, Clone)]
pub struct Machine {
    names: Vec<&'static str>,
    after: u32,
    retry_ms: i64,
    current: usize,
    since: i64,
    stats: Vec<Stats>,
    /// When a send may next try the first path while a later one is in use.
    primary_due: i64,
}

impl Machine {
    pub fn new(names: Vec<&'static str>, after: u32, retry_ms: i64, now: i64) -> Machine {
        Machine {
            stats: vec![Stats::default(); names.len()],
            names,
            after: after.max(1),
            retry_ms: retry_ms.max(1),
            current: 0,
            since: now,
            primary_due: now,
        }
    }

    /// The path in use.
    pub fn current(&self) -> usize {
        self.current
    }

    fn failing(&self, i: usize) -> bool {
        self.stats[i].failures >= self.after
    }

    /// Every path has failed `failover_after` times in a row: only now is a passing failure
    /// the whole channel's.
    pub fn all_failing(&self) -> bool {
        (0..self.stats.len()).all(|i| self.failing(i))
    }

    /// Where an attempt starts, and whether it is the first path's retry: while a later path
    /// is in use, one send every `retry_ms` tries the first path first.
    pub fn start(&mut self, now: i64) -> (usize, bool) {
        if self.current != 0 && now >= self.primary_due {
            self.primary_due = now + self.retry_ms;
            return (0, true);
        }
        (self.current, false)
    }

    /// The first path after `p` (in order, round) not tried yet for this message, and, unless
    /// `any`, not failing.
    fn after_p(&self, p: usize, tried: &[usize], any: bool) -> Option<usize> {
        let n = self.names.len();
        (1..n)
            .map(|k| (p + k) % n)
            .find(|q| !tried.contains(q) && (any || !self.failing(*q)))
    }

    fn switch(&mut self, to: usize, now: i64, why: Why) -> Switch {
        let from = self.current;
        self.current = to;
        self.since = now;
        if to != 0 {
            self.primary_due = now + self.retry_ms;
        }
        Switch {
            from: self.names[from],
            to: self.names[to],
            at: now,
            why,
            failures: self.stats[from].failures,
            error: self.stats[from].last_error.clone(),
        }
    }

    /// Counts a failure of path `p`; the path in use reaching the limit moves deliveries to
    /// the next path that is not failing (none: every path is failing, and it stays).
    pub fn fail(&mut self, p: usize, error: &str, now: i64) -> Option<Switch> {
        let s = &mut self.stats[p];
        s.failures = s.failures.saturating_add(1);
        s.last_error = Some(error.chars().take(300).collect());
        s.last_failure_at = Some(now);
        s.recent.push_back(now);
        while s.recent.front().is_some_and(|t| *t <= now - RECENT_MS) {
            s.recent.pop_front();
        }
        if p == self.current && self.failing(p) {
            let to = self.after_p(p, &[], false)?;
            return Some(self.switch(to, now, Why::Failing));
        }
        None
    }

    /// What path `p` answered for a message that has been on the paths `tried` (`p`
    /// included) in this attempt; `retry` when it was the first path's retry.
    pub fn answered(
        &mut self,
        p: usize,
        answer: Answer<'_>,
        tried: &[usize],
        retry: bool,
        now: i64,
    ) -> Step {
        match answer {
            Answer::Sent => {
                let s = &mut self.stats[p];
                s.failures = 0;
                s.last_success_at = Some(now);
                let switched = if p == self.current {
                    None
                } else if p == 0 && retry {
                    Some(self.switch(0, now, Why::Back))
                } else if self.failing(self.current) {
                    Some(self.switch(p, now, Why::Answered))
                } else {
                    // A send begun before a switch: it says nothing about now.
                    None
                };
                Step {
                    then: None,
                    switched,
                }
            }
            Answer::Failed(error) => {
                let switched = self.fail(p, error, now);
                let c = self.current;
                let then = if c != p && !tried.contains(&c) && !self.failing(c) {
                    Some(c)
                } else if self.all_failing() {
                    self.after_p(p, tried, true)
                } else {
                    None
                };
                Step { then, switched }
            }
            Answer::Refused => {
                let c = self.current;
                let then = if c != p && !tried.contains(&c) && !self.failing(c) {
                    Some(c)
                } else if p == c {
                    self.after_p(p, tried, false)
                } else {
                    None
                };
                Step {
                    then,
                    switched: None,
                }
            }
        }
    }

    /// Each path as the overview and the API show it, in order.
    pub fn view(&self, now: i64) -> Vec<PathView> {
        self.names
            .iter()
            .zip(&self.stats)
            .enumerate()
            .map(|(i, (name, s))| PathView {
                name,
                order: i + 1,
                in_use: i == self.current,
                since: (i == self.current).then_some(self.since),
                failures_in_a_row: s.failures,
                failing: s.failures >= self.after,
                failures_last_hour: s.recent.iter().filter(|t| **t > now - RECENT_MS).count(),
                last_error: s.last_error.clone(),
                last_failure_at: s.last_failure_at,
                last_success_at: s.last_success_at,
                canary: None,
            })
            .collect()
    }
}

/// One path of a channel, as the overview and `GET /api/v1/channels` show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PathView {
    /// The provider: aliyun, tencent, twilio or webhook.
    pub name: &'static str,
    /// 1 for the first path (`sms.provider`), then the fallbacks in order.
    pub order: usize,
    /// Deliveries go on this path now.
    pub in_use: bool,
    /// In use since (UTC ms): the last switch, or the daemon's start.
    pub since: Option<i64>,
    /// Passing failures in a row (a success starts the count again).
    pub failures_in_a_row: u32,
    /// Failed `sms.failover_after` times in a row: not used until it goes through again.
    pub failing: bool,
    pub failures_last_hour: usize,
    pub last_error: Option<String>,
    pub last_failure_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// The path's latest daily self-check (通道自检).
    pub canary: Option<crate::notify::delivery::canary::CanaryView>,
}

// ---------------------------------------------------------------------------------------------
// The provider
// ---------------------------------------------------------------------------------------------

/// One provider as a path.
pub struct Path {
    pub name: &'static str,
    pub provider: Arc<dyn SmsProvider>,
}

/// The ordered paths as one SMS provider.
pub struct Failover {
    paths: Vec<Path>,
    machine: std::sync::Mutex<Machine>,
    /// A time set by a test; `None`: the wall clock.
    clock: std::sync::Mutex<Option<i64>>,
    switches: mpsc::UnboundedSender<Switch>,
    /// Taken by [`run`], which writes each switch to the audit log.
    inbox: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Switch>>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Failover {
    pub fn new(paths: Vec<Path>, after: u32, retry_ms: i64, now: i64) -> Failover {
        let names = paths.iter().map(|p| p.name).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        Failover {
            paths,
            machine: std::sync::Mutex::new(Machine::new(names, after, retry_ms, now)),
            clock: std::sync::Mutex::new(None),
            switches: tx,
            inbox: std::sync::Mutex::new(Some(rx)),
        }
    }

    /// The paths in order.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// Drives the paths' clock (tests); `None` goes back to the wall clock.
    pub fn drive_clock(&self, at: Option<i64>) {
        *lock(&self.clock) = at;
    }

    fn now(&self) -> i64 {
        lock(&self.clock).unwrap_or_else(now_ms)
    }

    /// The name of the path in use.
    pub fn in_use(&self) -> &'static str {
        self.paths[lock(&self.machine).current()].name
    }

    /// Each path's state, in order (without its self-check).
    pub fn view(&self) -> Vec<PathView> {
        lock(&self.machine).view(self.now())
    }

    fn announce(&self, s: Switch) {
        match s.why {
            Why::Failing => tracing::warn!(
                from = s.from,
                to = s.to,
                failures = s.failures,
                error = s.error.as_deref().unwrap_or(""),
                "SMS path failing; deliveries move to the next path"
            ),
            Why::Back => tracing::info!(
                from = s.from,
                to = s.to,
                "the first SMS path answers again; deliveries move back"
            ),
            Why::Answered => tracing::info!(
                from = s.from,
                to = s.to,
                "every SMS path was failing; this one answered and is in use"
            ),
        }
        crate::telemetry::inc(
            &crate::telemetry::metrics().path_switches,
            &[("channel", "sms"), ("from", s.from), ("to", s.to)],
        );
        // Only gone when the daemon is stopping: the log line above stays.
        let _ = self.switches.send(s);
    }
}

impl SmsProvider for Failover {
    fn name(&self) -> &'static str {
        self.in_use()
    }

    fn all_paths_failing(&self) -> bool {
        // One path is the channel: each of its failures counts, as without a fallback.
        self.paths.len() == 1 || lock(&self.machine).all_failing()
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let (mut p, retry) = lock(&self.machine).start(self.now());
            let mut tried = Vec::with_capacity(self.paths.len());
            // The first refusal for good, and the last passing failure, of this attempt.
            let mut refused: Option<(usize, String)> = None;
            let mut passing: Option<String> = None;
            loop {
                tried.push(p);
                let outcome = self.paths[p].provider.send(msg).await;
                let now = self.now();
                let answer = match &outcome {
                    Outcome::Sent { .. } => Answer::Sent,
                    Outcome::Transient(r) => Answer::Failed(r),
                    Outcome::Permanent(_) => Answer::Refused,
                    // A limit of the provider's, not a failure of the path: tried later.
                    Outcome::Postponed { .. } | Outcome::Cancelled(_) => return outcome.clone(),
                };
                let (step, charged) = {
                    let mut m = lock(&self.machine);
                    let step = m.answered(p, answer, &tried, retry && p == 0, now);
                    // Refused by one path, sent by another: the refusal was the path's.
                    let charged = match (&outcome, &refused) {
                        (Outcome::Sent { .. }, Some((q, reason))) => m.fail(
                            *q,
                            &format!("refused what {} then sent: {reason}", self.paths[p].name),
                            now,
                        ),
                        _ => None,
                    };
                    (step, charged)
                };
                for s in step.switched.into_iter().chain(charged) {
                    self.announce(s);
                }
                match outcome {
                    Outcome::Sent { provider_id } => {
                        return Outcome::Sent {
                            provider_id: format!("{}:{provider_id}", self.paths[p].name),
                        };
                    }
                    Outcome::Transient(reason) => {
                        if let Some(q) = step.then
                            && sms::ambiguous(&reason)
                        {
                            tracing::warn!(
                                reference = %msg.reference,
                                from = self.paths[p].name,
                                to = self.paths[q].name,
                                "sent on another path after an answer that leaves it unknown; the person may get it twice"
                            );
                        }
                        passing = Some(reason);
                    }
                    Outcome::Permanent(reason) => {
                        refused.get_or_insert((p, reason));
                    }
                    other @ (Outcome::Postponed { .. } | Outcome::Cancelled(_)) => return other,
                }
                match step.then {
                    Some(q) => p = q,
                    None => break,
                }
            }
            // A passing failure leaves the message for its next attempt; a refusal for good
            // stands only when no path that was asked could send it.
            match (passing, refused) {
                (Some(reason), _) => Outcome::Transient(reason),
                (None, Some((_, reason))) => Outcome::Permanent(reason),
                (None, None) => Outcome::Transient("no SMS path was tried".into()),
            }
        })
    }
}

/// Writes each switch of the path in use to the audit log (entity `sms_path`), until the
/// daemon stops.
pub async fn run(n: Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    let Some(f) = n.senders.sms_paths.clone() else {
        return;
    };
    let Some(mut inbox) = lock(&f.inbox).take() else {
        return;
    };
    loop {
        let s = tokio::select! {
            s = inbox.recv() => s,
            _ = stop.changed() => None,
        };
        let Some(s) = s else {
            return;
        };
        if let Err(e) = audit(&n, &s).await {
            tracing::error!(error = %e, from = s.from, to = s.to, "writing an SMS path switch to the audit log failed");
        }
    }
}

async fn audit(n: &Notifier, s: &Switch) -> Result<(), crate::store::StoreError> {
    let mut tx = n.db.begin().await?;
    crate::audit::record(
        &mut tx,
        ACTOR,
        "switch",
        "sms_path",
        None,
        Some(&json!({ "path": s.from })),
        Some(&json!({
            "path": s.to,
            "why": s.why,
            "failures": s.failures,
            "error": s.error,
            "at": crate::time::fmt_ms(s.at, n.cfg.tz()),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every SMS path in order with its state and latest self-check; empty when SMS is spooled
/// or off.
pub async fn views(n: &Notifier) -> Result<Vec<PathView>, crate::store::StoreError> {
    let Some(f) = &n.senders.sms_paths else {
        return Ok(Vec::new());
    };
    let mut out = f.view();
    let latest = crate::notify::delivery::canary::latest(n).await?;
    for p in &mut out {
        p.canary = latest.iter().find(|c| c.path == p.name).cloned();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: u32 = 3;
    const RETRY: i64 = 60_000;

    fn machine(paths: usize) -> Machine {
        Machine::new(PROVIDERS[..paths].to_vec(), N, RETRY, 0)
    }

    /// One attempt as `Failover::send` runs it, with what each path answers.
    fn attempt(m: &mut Machine, now: i64, answers: &[Answer<'_>]) -> (Vec<usize>, Vec<Switch>) {
        let (mut p, retry) = m.start(now);
        let mut tried = Vec::new();
        let mut switches = Vec::new();
        loop {
            tried.push(p);
            let step = m.answered(p, answers[p], &tried, retry && p == 0, now);
            switches.extend(step.switched);
            match step.then {
                Some(q) => p = q,
                None => return (tried, switches),
            }
        }
    }

    const DOWN: Answer<'static> = Answer::Failed("HTTP 503");
    const UP: Answer<'static> = Answer::Sent;

    #[test]
    fn the_nth_failure_moves_to_the_next_path_and_takes_its_message_along() {
        let mut m = machine(2);
        for t in 0..2 {
            let (tried, sw) = attempt(&mut m, t, &[DOWN, UP]);
            assert_eq!(tried, [0], "below the limit a message waits for its retry");
            assert!(sw.is_empty());
        }
        let (tried, sw) = attempt(&mut m, 2, &[DOWN, UP]);
        assert_eq!(
            tried,
            [0, 1],
            "the message that tipped it goes on the next path at once"
        );
        assert_eq!(sw.len(), 1);
        assert_eq!(
            (sw[0].from, sw[0].to, &sw[0].why, sw[0].failures),
            ("aliyun", "tencent", &Why::Failing, 3)
        );
        assert_eq!(sw[0].error.as_deref(), Some("HTTP 503"));
        assert_eq!(m.current(), 1);
        let (tried, _) = attempt(&mut m, 3, &[DOWN, UP]);
        assert_eq!(tried, [1], "later messages start on the new path");
        assert!(!m.all_failing());
        let v = m.view(3);
        assert_eq!(
            (v[0].in_use, v[1].in_use, v[1].since, v[0].failures_in_a_row),
            (false, true, Some(2), 3)
        );
        assert_eq!((v[0].failing, v[0].failures_last_hour), (true, 3));
    }

    #[test]
    fn a_success_starts_the_count_again() {
        let mut m = machine(2);
        attempt(&mut m, 0, &[DOWN, UP]);
        attempt(&mut m, 1, &[DOWN, UP]);
        attempt(&mut m, 2, &[UP, UP]);
        let (tried, sw) = attempt(&mut m, 3, &[DOWN, UP]);
        assert_eq!((tried, sw.len(), m.current()), (vec![0], 0, 0));
    }

    #[test]
    fn a_send_begun_before_the_switch_fails_over_at_once() {
        let mut m = machine(2);
        // Three messages on the first path at once; all fail.
        let (a, _) = m.start(0);
        let (b, _) = m.start(0);
        let (c, _) = m.start(0);
        assert_eq!((a, b, c), (0, 0, 0));
        assert_eq!(m.answered(0, DOWN, &[0], false, 1).then, None);
        assert_eq!(m.answered(0, DOWN, &[0], false, 1).then, None);
        let step = m.answered(0, DOWN, &[0], false, 1);
        assert_eq!(step.then, Some(1));
        assert!(step.switched.is_some());
        // A fourth, sent before the switch and failing after it: to the path in use, no
        // second switch.
        let step = m.answered(0, DOWN, &[0], false, 2);
        assert_eq!(
            step,
            Step {
                then: Some(1),
                switched: None
            }
        );
        // And one that went through on the old path says nothing about moving back.
        let step = m.answered(0, UP, &[0], false, 3);
        assert_eq!(
            step,
            Step {
                then: None,
                switched: None
            }
        );
        assert_eq!(m.current(), 1);
    }

    #[test]
    fn the_first_path_is_retried_after_the_interval_and_taken_back() {
        let mut m = machine(2);
        for t in 0..3 {
            attempt(&mut m, t, &[DOWN, UP]);
        }
        assert_eq!(m.current(), 1);
        // Before the interval: the first path is left alone.
        let (tried, _) = attempt(&mut m, RETRY, &[UP, UP]);
        assert_eq!(tried, [1]);
        // At the interval one send tries it; still down, the message goes on the path in use.
        let (tried, sw) = attempt(&mut m, 2 + RETRY, &[DOWN, UP]);
        assert_eq!((tried, sw.len()), (vec![0, 1], 0));
        // Only one retry per interval.
        assert_eq!(m.start(2 + RETRY + 1), (1, false));
        // It recovered: the retry goes through and deliveries move back.
        let (tried, sw) = attempt(&mut m, 2 + 2 * RETRY, &[UP, UP]);
        assert_eq!(tried, [0]);
        assert_eq!(
            (sw[0].from, sw[0].to, &sw[0].why),
            ("tencent", "aliyun", &Why::Back)
        );
        assert_eq!(m.current(), 0);
        assert_eq!(m.view(2 + 2 * RETRY)[0].failures_in_a_row, 0);
        assert_eq!(
            m.start(3 + 3 * RETRY),
            (0, false),
            "no retries on the first path"
        );
    }

    #[test]
    fn a_refusal_for_good_is_the_number_unless_another_path_sends_it() {
        let mut m = machine(2);
        // A bad number: refused by both, counted against neither.
        for t in 0..5 {
            let (tried, sw) = attempt(&mut m, t, &[Answer::Refused, Answer::Refused]);
            assert_eq!((tried, sw.len()), (vec![0, 1], 0));
        }
        assert_eq!(m.view(5)[0].failures_in_a_row, 0);
        assert_eq!(m.view(5)[1].failures_in_a_row, 0);
        // An account in arrears: refused by the first, sent by the second.
        let (tried, _) = attempt(&mut m, 6, &[Answer::Refused, UP]);
        assert_eq!(tried, [0, 1]);
        // (`Failover::send` then charges the refusal to the first path.)
        for t in 7..9 {
            assert!(m.fail(0, "refused what tencent then sent", t).is_none());
        }
        let sw = m
            .fail(0, "refused what tencent then sent", 9)
            .expect("a switch");
        assert_eq!((sw.to, m.current()), ("tencent", 1));
    }

    #[test]
    fn when_every_path_fails_each_message_tries_them_all_and_the_breaker_may_open() {
        let mut m = machine(2);
        for t in 0..3 {
            attempt(&mut m, t, &[DOWN, DOWN]);
        }
        assert_eq!(m.current(), 1);
        assert!(!m.all_failing(), "the second path has not failed yet");
        for t in 3..6 {
            attempt(&mut m, t, &[DOWN, DOWN]);
        }
        assert!(m.all_failing());
        assert_eq!(m.current(), 1, "nowhere better to go: it stays");
        let (tried, sw) = attempt(&mut m, 6, &[DOWN, DOWN]);
        assert_eq!((tried, sw.len()), (vec![1, 0], 0), "every path, once each");
        // The first recovers: the message it sent puts it in use.
        let (tried, sw) = attempt(&mut m, 7, &[UP, DOWN]);
        assert_eq!(tried, [1, 0]);
        assert_eq!((sw[0].to, &sw[0].why), ("aliyun", &Why::Answered));
        assert!(!m.all_failing());
    }

    #[test]
    fn three_paths_skip_a_failing_one() {
        let mut m = machine(3);
        for t in 0..3 {
            attempt(&mut m, t, &[DOWN, DOWN, UP]);
        }
        assert_eq!(m.current(), 1);
        // The message that tipped the first path failed on the second too: its first failure.
        assert_eq!(m.view(2)[1].failures_in_a_row, 1);
        attempt(&mut m, 3, &[DOWN, DOWN, UP]);
        let (tried, sw) = attempt(&mut m, 4, &[DOWN, DOWN, UP]);
        assert_eq!(tried, [1, 2]);
        assert_eq!((sw[0].from, sw[0].to), ("tencent", "twilio"));
        // Back to the first straight from the third.
        let (tried, sw) = attempt(&mut m, 4 + RETRY, &[UP, DOWN, UP]);
        assert_eq!((tried, sw[0].to), (vec![0], "aliyun"));
    }

    #[test]
    fn one_path_never_moves() {
        let mut m = machine(1);
        for t in 0..10 {
            let (tried, sw) = attempt(&mut m, t, &[DOWN]);
            assert_eq!((tried, sw.len()), (vec![0], 0));
        }
        assert!(m.all_failing());
        let (tried, _) = attempt(&mut m, 11, &[Answer::Refused]);
        assert_eq!(tried, [0]);
    }

    #[test]
    fn recent_failures_are_the_last_hours() {
        let mut m = machine(2);
        m.fail(1, "x", 0);
        m.fail(1, "x", RECENT_MS / 2);
        assert_eq!(m.view(RECENT_MS / 2)[1].failures_last_hour, 2);
        assert_eq!(m.view(RECENT_MS + 1)[1].failures_last_hour, 1);
    }

    /// A provider answering what it is told, counting its sends.
    struct Fake {
        name: &'static str,
        answer: std::sync::Mutex<Outcome>,
        sends: std::sync::atomic::AtomicUsize,
    }

    impl Fake {
        fn new(name: &'static str, answer: Outcome) -> Arc<Fake> {
            Arc::new(Fake {
                name,
                answer: std::sync::Mutex::new(answer),
                sends: Default::default(),
            })
        }
        fn answer(&self, o: Outcome) {
            *lock(&self.answer) = o;
        }
        fn sends(&self) -> usize {
            self.sends.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl SmsProvider for Fake {
        fn name(&self) -> &'static str {
            self.name
        }
        fn send<'a>(&'a self, _: &'a SmsMessage) -> SendFuture<'a> {
            self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let o = lock(&self.answer).clone();
            Box::pin(async move { o })
        }
    }

    fn failover(fakes: &[&Arc<Fake>]) -> Failover {
        let paths = fakes
            .iter()
            .map(|f| Path {
                name: f.name,
                provider: (*f).clone(),
            })
            .collect();
        let f = Failover::new(paths, N, RETRY, 0);
        f.drive_clock(Some(0));
        f
    }

    fn msg() -> SmsMessage {
        SmsMessage {
            reference: "7".into(),
            to: "+8613800138000".into(),
            text: "【湖上乡应急办】测试".into(),
            text_without_signature: "测试".into(),
        }
    }

    fn sent(id: &str) -> Outcome {
        Outcome::Sent {
            provider_id: id.into(),
        }
    }

    #[tokio::test]
    async fn the_failover_provider_moves_on_and_tells_the_breaker_only_when_all_fail() {
        let a = Fake::new("aliyun", Outcome::Transient("aliyun: HTTP 503".into()));
        let b = Fake::new("tencent", sent("b-1"));
        let f = failover(&[&a, &b]);
        let m = msg();
        for _ in 0..2 {
            assert!(matches!(f.send(&m).await, Outcome::Transient(_)));
            assert!(!f.all_paths_failing(), "the second path still sends");
        }
        assert_eq!(
            f.send(&m).await,
            sent("tencent:b-1"),
            "the third goes on at once"
        );
        assert_eq!((a.sends(), b.sends(), f.in_use()), (3, 1, "tencent"));
        let switch = lock(&f.inbox)
            .as_mut()
            .and_then(|rx| rx.try_recv().ok())
            .expect("the switch, for the audit log");
        assert_eq!(
            (switch.from, switch.to, switch.why),
            ("aliyun", "tencent", Why::Failing)
        );
        assert_eq!(f.send(&m).await, sent("tencent:b-1"));
        assert_eq!(a.sends(), 3, "the failing path is left alone");
        // The second path fails too: now, and only now, the channel is down.
        b.answer(Outcome::Transient("tencent: InternalError".into()));
        for _ in 0..3 {
            assert!(!f.all_paths_failing());
            assert!(matches!(f.send(&m).await, Outcome::Transient(_)));
        }
        assert!(f.all_paths_failing());
        // Then every message tries both; the first to answer is in use.
        a.answer(sent("a-9"));
        assert_eq!(f.send(&m).await, sent("aliyun:a-9"));
        assert_eq!(f.in_use(), "aliyun");
        assert!(!f.all_paths_failing());
    }

    #[tokio::test]
    async fn a_refusal_another_path_sends_counts_against_the_path() {
        let a = Fake::new(
            "aliyun",
            Outcome::Permanent("aliyun isv.AMOUNT_NOT_ENOUGH".into()),
        );
        let b = Fake::new("tencent", sent("b-2"));
        let f = failover(&[&a, &b]);
        let m = msg();
        for k in 1..=2 {
            assert_eq!(f.send(&m).await, sent("tencent:b-2"));
            assert_eq!(f.view()[0].failures_in_a_row, k);
        }
        f.send(&m).await;
        assert_eq!(
            f.in_use(),
            "tencent",
            "an account in arrears is a failing path"
        );
        // A bad number is refused by both and counts against neither.
        let a = Fake::new("aliyun", Outcome::Permanent("aliyun: bad number".into()));
        let b = Fake::new("tencent", Outcome::Permanent("tencent: bad number".into()));
        let f = failover(&[&a, &b]);
        for _ in 0..5 {
            assert_eq!(
                f.send(&m).await,
                Outcome::Permanent("aliyun: bad number".into())
            );
        }
        assert_eq!((f.in_use(), f.view()[0].failures_in_a_row), ("aliyun", 0));
    }

    #[tokio::test]
    async fn one_path_is_the_channel() {
        let a = Fake::new("webhook", Outcome::Transient("webhook HTTP 503".into()));
        let f = failover(&[&a]);
        assert!(
            f.all_paths_failing(),
            "its first failure counts for the breaker"
        );
        assert!(matches!(f.send(&msg()).await, Outcome::Transient(_)));
        assert_eq!(a.sends(), 1);
    }

    #[test]
    fn names_and_checks() {
        let mut sms = SmsConfig {
            provider: "aliyun".into(),
            fallback: vec!["tencent".into(), "webhook".into()],
            ..SmsConfig::default()
        };
        assert_eq!(names(&sms), Ok(vec!["aliyun", "tencent", "webhook"]));
        sms.fallback = vec!["tencent".into(), "aliyun".into()];
        assert_eq!(
            names(&sms),
            Err(PathError::Twice {
                index: 1,
                name: "aliyun".into()
            })
        );
        sms.fallback = vec!["pigeon".into()];
        assert!(matches!(
            names(&sms),
            Err(PathError::Unknown { index: 0, .. })
        ));
        sms.provider = "spool".into();
        sms.fallback = vec!["tencent".into()];
        assert!(matches!(names(&sms), Err(PathError::NoFirstPath(_))));
        sms.fallback.clear();
        assert_eq!(names(&sms), Ok(vec![]));
        // A fallback whose section is not filled in is named with the missing setting.
        sms.provider = "aliyun".into();
        sms.fallback = vec!["tencent".into()];
        let err = check(&sms).expect_err("tencent is not configured");
        assert!(
            err.to_string().contains("sms.fallback[0] = \"tencent\"")
                && err.to_string().contains("sms.tencent."),
            "{err}"
        );
    }
}

//! A circuit breaker per channel: when the provider keeps failing for
//! passing reasons, stop sending to it (deliveries wait, queued, instead of
//! burning attempts against a dead server), probe it with one delivery at a
//! growing interval, and resume as soon as a probe goes through.
//!
//! Time is passed in (milliseconds), so the behaviour can be driven by tests.

use std::sync::Mutex;

use serde::Serialize;

/// What the worker may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send as usual.
    Closed,
    /// Send exactly one delivery: its outcome decides.
    Probe,
    /// Send nothing before this time.
    Open { until: i64 },
}

/// A channel's breaker as the overview and the API show it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct BreakerView {
    /// "closed" (sending), "open" (provider down, waiting) or "probing".
    pub state: &'static str,
    /// Passing failures in a row.
    pub failures: u32,
    /// When the next probe may go (UTC ms), while open.
    pub next_probe_at: Option<i64>,
    /// Since when the provider has been taken as down (UTC ms).
    pub open_since: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<i64>,
    open_since: Option<i64>,
    probing: bool,
    /// The wait before the next probe, grown by each failed probe.
    cooldown_ms: i64,
    last_error: Option<String>,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    base_ms: i64,
    max_ms: i64,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(threshold: u32, base_secs: f64, max_secs: f64) -> Breaker {
        let base_ms = (base_secs * 1000.0).max(1.0) as i64;
        Breaker {
            threshold: threshold.max(1),
            base_ms,
            max_ms: ((max_secs * 1000.0) as i64).max(base_ms),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the worker may send now. An open breaker whose wait is over
    /// lets exactly one probe through; the others wait for its outcome.
    pub fn gate(&self, now: i64) -> Gate {
        let mut s = self.lock();
        match s.open_until {
            None => Gate::Closed,
            Some(_) if s.probing => Gate::Open {
                until: now + self.base_ms,
            },
            Some(until) if now < until => Gate::Open { until },
            Some(_) => {
                s.probing = true;
                Gate::Probe
            }
        }
    }

    /// True while nothing may be sent (open, or a probe under way).
    pub fn is_open(&self, now: i64) -> bool {
        let s = self.lock();
        s.probing || s.open_until.is_some_and(|u| now < u)
    }

    /// The provider accepted a message: close.
    pub fn success(&self) {
        let mut s = self.lock();
        *s = State::default();
    }

    /// A passing failure (a refusal for good says nothing about the
    /// provider's health and is not counted). Opens after `threshold` in a
    /// row; a failed probe opens again for twice as long. True when this
    /// failure opened it (so the opening is logged once).
    pub fn failure(&self, now: i64, reason: &str) -> bool {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        s.last_error = Some(reason.chars().take(300).collect());
        let reopen = s.probing;
        if reopen || (s.open_until.is_none() && s.failures >= self.threshold) {
            s.cooldown_ms = if reopen {
                (s.cooldown_ms * 2).clamp(self.base_ms, self.max_ms)
            } else {
                self.base_ms
            };
            s.open_until = Some(now + s.cooldown_ms);
            let first = s.open_since.is_none();
            s.open_since.get_or_insert(now);
            s.probing = false;
            return first;
        }
        false
    }

    /// A probe that ended without an outcome (the daemon stopping): let
    /// another go.
    pub fn probe_abandoned(&self) {
        self.lock().probing = false;
    }

    pub fn view(&self) -> BreakerView {
        let s = self.lock();
        BreakerView {
            state: match (s.open_until, s.probing) {
                (None, _) => "closed",
                (Some(_), true) => "probing",
                (Some(_), false) => "open",
            },
            failures: s.failures,
            next_probe_at: s.open_until.filter(|_| !s.probing),
            open_since: s.open_since,
            last_error: s.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(3, 10.0, 60.0)
    }

    #[test]
    fn a_few_failures_keep_sending() {
        let b = breaker();
        b.failure(0, "503");
        b.failure(1, "503");
        assert_eq!(b.gate(2), Gate::Closed);
        b.success();
        b.failure(3, "503");
        b.failure(4, "503");
        assert_eq!(b.gate(5), Gate::Closed, "a success starts the count again");
        assert_eq!(b.view().failures, 2);
    }

    #[test]
    fn opens_after_the_threshold_and_probes_once_when_the_wait_is_over() {
        let b = breaker();
        let opened: Vec<bool> = (0..3).map(|t| b.failure(t, "connection refused")).collect();
        assert_eq!(opened, [false, false, true], "the opening is told once");
        assert_eq!(b.gate(100), Gate::Open { until: 10_002 });
        assert!(b.is_open(100));
        let v = b.view();
        assert_eq!(
            (v.state, v.next_probe_at, v.open_since),
            ("open", Some(10_002), Some(2))
        );
        assert_eq!(v.last_error.as_deref(), Some("connection refused"));
        assert_eq!(
            b.gate(10_002),
            Gate::Probe,
            "one probe when the wait is over"
        );
        assert!(
            matches!(b.gate(10_003), Gate::Open { .. }),
            "only one probe at a time"
        );
        assert_eq!(b.view().state, "probing");
    }

    #[test]
    fn a_failed_probe_doubles_the_wait_up_to_the_maximum() {
        let b = breaker();
        for t in 0..3 {
            b.failure(t, "503");
        }
        let mut now = 10_002;
        for want in [20_000, 40_000, 60_000, 60_000] {
            assert_eq!(b.gate(now), Gate::Probe);
            assert!(!b.failure(now, "503"), "a failed probe is no new opening");
            assert_eq!(b.gate(now), Gate::Open { until: now + want });
            now += want;
        }
        assert_eq!(b.view().open_since, Some(2), "down since the first opening");
    }

    #[test]
    fn a_successful_probe_closes() {
        let b = breaker();
        for t in 0..3 {
            b.failure(t, "503");
        }
        assert_eq!(b.gate(10_002), Gate::Probe);
        b.success();
        assert_eq!(b.gate(10_003), Gate::Closed);
        assert!(!b.is_open(10_003));
        assert_eq!(
            b.view(),
            BreakerView {
                state: "closed",
                failures: 0,
                next_probe_at: None,
                open_since: None,
                last_error: None
            }
        );
    }

    #[test]
    fn an_abandoned_probe_lets_another_go() {
        let b = breaker();
        for t in 0..3 {
            b.failure(t, "503");
        }
        assert_eq!(b.gate(10_002), Gate::Probe);
        b.probe_abandoned();
        assert_eq!(b.gate(10_003), Gate::Probe);
    }
}

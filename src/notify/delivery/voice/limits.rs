//! The providers' limits on calls to one number (Aliyun: 1 a minute, 5 an hour, 20 in 24
//! hours, every placed call counting, answered or not). A call that would exceed one is not
//! placed and refused: it is postponed to the first moment all limits allow it, and the
//! notice's page says which limit and until when. Time is passed in, so tests drive it.

use chrono::TimeZone;

use super::settings::CallLimits;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// The window a limit counts calls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Minute,
    Hour,
    Day,
}

impl Span {
    fn ms(self) -> i64 {
        match self {
            Span::Minute => MINUTE,
            Span::Hour => HOUR,
            Span::Day => DAY,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Span::Minute => "每分钟",
            Span::Hour => "每小时",
            Span::Day => "每24小时",
        }
    }
}

/// A call held back by a limit: allowed from `until` (UTC ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub until: i64,
    pub span: Span,
    /// The limit of that span (calls in it).
    pub limit: u32,
}

/// Whether a call at `now` is allowed given when the calls already placed to the number were
/// (`placed`, UTC ms, any order); if not, the first moment it is and the limit that binds
/// longest. A call counts in a span at `now` when it was placed less than the span before.
pub fn check(placed: &[i64], now: i64, limits: CallLimits) -> Option<Wait> {
    let mut wait: Option<Wait> = None;
    for (span, limit) in [
        (Span::Minute, limits.per_minute),
        (Span::Hour, limits.per_hour),
        (Span::Day, limits.per_day),
    ] {
        if limit == 0 {
            continue;
        }
        let mut inside: Vec<i64> = placed
            .iter()
            .copied()
            .filter(|&t| t <= now && now - t < span.ms())
            .collect();
        let limit_n = limit as usize;
        if inside.len() < limit_n {
            continue;
        }
        // The call must wait until enough of them have left the window: the
        // (len - limit + 1)-th oldest leaves it at its time plus the span.
        inside.sort_unstable();
        let until = inside[inside.len() - limit_n] + span.ms();
        if wait.is_none_or(|w| until > w.until) {
            wait = Some(Wait { until, span, limit });
        }
    }
    wait
}

/// What the notice's page says: “阿里云限制：同一号码每分钟1次，已顺延至 02:04”. The time is
/// the zone's; another day than `now`'s is named with its date.
pub fn reason(provider: &str, wait: Wait, now: i64, tz: chrono_tz::Tz) -> String {
    format!(
        "{}限制：同一号码{}{}次，已顺延至 {}",
        provider_words(provider),
        wait.span.words(),
        wait.limit,
        moment(wait.until, now, tz)
    )
}

/// The provider refused for its own flow control (calls made from elsewhere on the account):
/// “阿里云限流（isv.BUSINESS_LIMIT_CONTROL …），已顺延至 02:05”.
pub fn provider_limited(
    provider: &str,
    detail: &str,
    until: i64,
    now: i64,
    tz: chrono_tz::Tz,
) -> String {
    format!(
        "{}限流（{detail}），已顺延至 {}",
        provider_words(provider),
        moment(until, now, tz)
    )
}

/// 02:04, or 07月02日 02:04 on another day than `now`'s.
fn moment(at: i64, now: i64, tz: chrono_tz::Tz) -> String {
    let local = |ms: i64| tz.timestamp_millis_opt(ms).single();
    match (local(at), local(now)) {
        (Some(u), Some(n)) if u.date_naive() == n.date_naive() => u.format("%H:%M").to_string(),
        (Some(u), _) => u.format("%m月%d日 %H:%M").to_string(),
        (None, _) => String::new(),
    }
}

/// A provider's name as the office knows it.
pub fn provider_words(provider: &str) -> &'static str {
    match provider {
        "aliyun" => "阿里云",
        "tencent" => "腾讯云",
        "twilio" => "Twilio",
        "webhook" => "语音网关",
        _ => "语音呼叫",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIYUN: CallLimits = CallLimits {
        per_minute: 1,
        per_hour: 5,
        per_day: 20,
    };

    #[test]
    fn one_call_a_minute() {
        let t0 = 1_800_000_000_000;
        assert_eq!(check(&[], t0, ALIYUN), None);
        let w = check(&[t0], t0 + 30_000, ALIYUN).expect("held back");
        assert_eq!((w.until, w.span, w.limit), (t0 + MINUTE, Span::Minute, 1));
        assert_eq!(
            check(&[t0], t0 + MINUTE - 1, ALIYUN).map(|w| w.until),
            Some(t0 + MINUTE)
        );
        assert_eq!(
            check(&[t0], t0 + MINUTE, ALIYUN),
            None,
            "a minute later it goes"
        );
    }

    #[test]
    fn five_an_hour_then_twenty_a_day() {
        let t0 = 1_800_000_000_000;
        // Five calls a minute apart: the sixth waits for the first to be an hour old.
        let five: Vec<i64> = (0..5).map(|i| t0 + i * MINUTE).collect();
        let w = check(&five, t0 + 5 * MINUTE, ALIYUN).expect("held back");
        assert_eq!((w.until, w.span), (t0 + HOUR, Span::Hour));
        assert_eq!(check(&five, t0 + HOUR, ALIYUN), None);
        // Twenty in the day (five each hour): the 21st waits for the first to be 24 h old,
        // even though the last hour is free.
        let twenty: Vec<i64> = (0..20)
            .map(|i| t0 + (i / 5) * HOUR + (i % 5) * MINUTE)
            .collect();
        let now = t0 + 5 * HOUR;
        let w = check(&twenty, now, ALIYUN).expect("held back");
        assert_eq!((w.until, w.span, w.limit), (t0 + DAY, Span::Day, 20));
        // Two limits at once: the later moment wins.
        let w = check(&twenty, t0 + 3 * HOUR + 4 * MINUTE + 1, ALIYUN).expect("held back");
        assert_eq!(w.span, Span::Day);
    }

    #[test]
    fn zero_is_no_limit_and_calls_ahead_of_now_are_not_counted() {
        let t0 = 1_800_000_000_000;
        let none = CallLimits {
            per_minute: 0,
            per_hour: 0,
            per_day: 0,
        };
        assert_eq!(check(&[t0, t0, t0], t0, none), None);
        assert_eq!(check(&[t0 + 1], t0, ALIYUN), None);
    }

    #[test]
    fn the_reason_in_words() {
        let tz = chrono_tz::Asia::Shanghai;
        // 2026-07-01 02:03:10 in Shanghai.
        let now = tz
            .with_ymd_and_hms(2026, 7, 1, 2, 3, 10)
            .single()
            .expect("time")
            .timestamp_millis();
        let w = Wait {
            until: now + 50_000,
            span: Span::Minute,
            limit: 1,
        };
        assert_eq!(
            reason("aliyun", w, now, tz),
            "阿里云限制：同一号码每分钟1次，已顺延至 02:04"
        );
        let w = Wait {
            until: now + DAY,
            span: Span::Day,
            limit: 20,
        };
        assert_eq!(
            reason("tencent", w, now, tz),
            "腾讯云限制：同一号码每24小时20次，已顺延至 07月02日 02:03"
        );
        assert_eq!(
            provider_limited(
                "aliyun",
                "isv.BUSINESS_LIMIT_CONTROL",
                now + 60_000,
                now,
                tz
            ),
            "阿里云限流（isv.BUSINESS_LIMIT_CONTROL），已顺延至 02:04"
        );
    }
}

//! Drill schedules: a cron expression (standard five fields, or the `cron`
//! crate's six or seven with seconds) or a single date-time, in a time zone;
//! and reminder lead times such as `7d`, `1d`, `2h`, `30m`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

/// A checked schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Cron {
        expr: String,
        schedule: Box<cron::Schedule>,
        tz: Tz,
    },
    Once {
        at: DateTime<Utc>,
    },
}

/// Standard cron numbers Sunday 0 (or 7) … Saturday 6; the `cron` crate
/// numbers Sunday 1 … Saturday 7. Names are the same in both.
fn translate_dow(field: &str) -> Result<String, ScheduleError> {
    let bad = || {
        ScheduleError(format!(
            "day-of-week '{field}' is not valid (0–7 or SUN–SAT)"
        ))
    };
    let map = |n: &str| -> Result<u32, ScheduleError> {
        match n.parse::<u32>() {
            Ok(v @ 0..=6) => Ok(v + 1),
            Ok(7) => Ok(1),
            Ok(_) => Err(bad()),
            Err(_) => Err(bad()),
        }
    };
    let mut out = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let numeric = range.chars().all(|c| c.is_ascii_digit() || c == '-');
        if !numeric || range.is_empty() {
            out.push(item.to_string());
            continue;
        }
        let piece = match range.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.parse::<u32>().map_err(|_| bad())?,
                    b.parse::<u32>().map_err(|_| bad())?,
                );
                if a > b || b > 7 {
                    return Err(bad());
                }
                if b == 7 && a > 0 {
                    // `5-7` is Fri, Sat, Sun: Sunday wraps to the crate's 1.
                    let mut p = format!("{}-7", a + 1);
                    if step.is_none() {
                        p.push_str(",1");
                    }
                    p
                } else if b == 7 {
                    "1-7".to_string()
                } else {
                    format!("{}-{}", a + 1, b + 1)
                }
            }
            None => map(range)?.to_string(),
        };
        out.push(match step {
            Some(s) => format!("{piece}/{s}"),
            None => piece,
        });
    }
    Ok(out.join(","))
}

/// Parses a cron expression; five fields are read as standard cron.
pub fn parse_cron(expr: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!(
            "0 {} {} {} {} {}",
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            translate_dow(fields[4])?
        ),
        6 | 7 => fields.join(" "),
        n => {
            return Err(ScheduleError(format!(
                "a cron expression has 5 fields (minute hour day month weekday), not {n}"
            )));
        }
    };
    let schedule = cron::Schedule::from_str(&full)
        .map_err(|e| ScheduleError(format!("invalid cron expression '{expr}': {e}")))?;
    Ok(Schedule::Cron {
        expr: expr.trim().to_string(),
        schedule: Box::new(schedule),
        tz,
    })
}

/// Parses `2026-12-05T09:30` (local, in `tz`) or RFC 3339.
pub fn parse_once(at: &str, tz: Tz) -> Result<Schedule, ScheduleError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(at.trim()) {
        return Ok(Schedule::Once {
            at: t.with_timezone(&Utc),
        });
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(at.trim(), f) {
            return match tz.from_local_datetime(&n).earliest() {
                Some(t) => Ok(Schedule::Once {
                    at: t.with_timezone(&Utc),
                }),
                None => Err(ScheduleError(format!("'{at}' does not exist in {tz}"))),
            };
        }
    }
    Err(ScheduleError(format!(
        "'{at}' is not a date-time such as 2026-12-05T09:30"
    )))
}

impl Schedule {
    /// Occurrences strictly after `after`, up to `limit`, as UTC.
    pub fn after(&self, after: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        match self {
            Schedule::Cron { schedule, tz, .. } => schedule
                .after(&after.with_timezone(tz))
                .take(limit)
                .map(|t| t.with_timezone(&Utc))
                .collect(),
            Schedule::Once { at } => {
                if *at > after {
                    vec![*at]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The shortest time between two of the next `run` occurrences after `after`, read on the
    /// schedule's own clock (so a daily drill stays 24 hours apart across a clock change);
    /// `None` with fewer than two.
    pub fn shortest_gap(&self, after: DateTime<Utc>, run: usize) -> Option<chrono::Duration> {
        let Schedule::Cron { tz, .. } = self else {
            return None;
        };
        let local: Vec<_> = self
            .after(after, run)
            .into_iter()
            .map(|t| t.with_timezone(tz).naive_local())
            .collect();
        local.windows(2).map(|w| w[1] - w[0]).min()
    }

    /// Occurrences in (from, to].
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = from;
        while out.len() < cap {
            let next = self.after(cursor, 64);
            if next.is_empty() {
                break;
            }
            for t in next {
                if t > to || out.len() >= cap {
                    return out;
                }
                cursor = t;
                out.push(t);
            }
        }
        out
    }
}

/// A reminder lead time: `7d`, `1d`, `2h`, `30m`; returns milliseconds.
pub fn parse_lead(s: &str) -> Result<i64, ScheduleError> {
    let t = s.trim();
    let bad = || ScheduleError(format!("lead time '{s}' is not like 7d, 1d, 2h or 30m"));
    // Split before the last character, not byte: the text may end in any character.
    let (num, unit) = t.split_at(t.char_indices().last().map_or(0, |(i, _)| i));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let unit_ms: i64 = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        _ => return Err(bad()),
    };
    let ms = n.saturating_mul(unit_ms);
    if n <= 0 || ms > 90 * 86_400_000 {
        return Err(ScheduleError(format!(
            "lead time '{s}' must be between 1m and 90d"
        )));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_lead_time_text_is_answered_not_a_panic() {
        assert_eq!(parse_lead("2h"), Ok(7_200_000));
        for bad in ["", "ÊW", "7日", "99999999999999999d", "-1d", "0m", "91d"] {
            assert!(parse_lead(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn standard_weekdays_translate() {
        assert_eq!(translate_dow("1-5").unwrap(), "2-6");
        assert_eq!(translate_dow("0").unwrap(), "1");
        assert_eq!(translate_dow("7").unwrap(), "1");
        assert_eq!(translate_dow("5-7").unwrap(), "6-7,1");
        assert_eq!(translate_dow("MON-FRI").unwrap(), "MON-FRI");
        assert_eq!(translate_dow("*").unwrap(), "*");
        assert!(translate_dow("8").is_err());
    }

    #[test]
    fn next_monday_morning_in_shanghai() {
        let s = parse_cron("30 9 * * 1", chrono_tz::Asia::Shanghai).unwrap();
        // 2026-11-26 is a Thursday.
        let from = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let next = s.after(from, 1);
        assert_eq!(
            next[0],
            Utc.with_ymd_and_hms(2026, 11, 30, 1, 30, 0).unwrap()
        );
    }

    #[test]
    fn shortest_gaps() {
        let from = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
        let gap = |e: &str, tz: Tz| parse_cron(e, tz).unwrap().shortest_gap(from, 50);
        let sh = chrono_tz::Asia::Shanghai;
        assert_eq!(gap("* * * * *", sh), Some(chrono::Duration::minutes(1)));
        assert_eq!(gap("0 9 * * *", sh), Some(chrono::Duration::hours(24)));
        assert_eq!(gap("0 8,9 * * *", sh), Some(chrono::Duration::hours(1)));
        // Every minute, but only on 1 January: still found in the run.
        assert_eq!(gap("* * 1 1 *", sh), Some(chrono::Duration::minutes(1)));
        assert_eq!(
            gap("0 9 1 */3 *", sh).map(|d| d.num_days() >= 89),
            Some(true)
        );
        // Across Berlin's clock change in March a daily 09:00 is still a day apart.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let march = Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap();
        let daily = parse_cron("0 9 * * *", berlin).unwrap();
        assert_eq!(
            daily.shortest_gap(march, 50),
            Some(chrono::Duration::hours(24))
        );
        let once = parse_once("2026-12-05T09:30", sh).unwrap();
        assert_eq!(once.shortest_gap(from, 50), None);
    }

    #[test]
    fn leads() {
        assert_eq!(parse_lead("7d").unwrap(), 7 * 86_400_000);
        assert_eq!(parse_lead("2h").unwrap(), 7_200_000);
        assert!(parse_lead("2w").is_err());
        assert!(parse_lead("0h").is_err());
        assert!(parse_lead("").is_err());
    }
}

//! The duty roster (值班表, migration 0037): a township's shifts — a day
//! shift 08:30–17:30, a night shift 17:30–08:30 the next day, a 24-hour
//! shift — each with the leader on shift (带班领导) and its duty officers
//! (值班员) in the order they are called, all contacts of the township.
//!
//! - `shifts`: the shifts (entered on `/duty`, the API, or imported from
//!   the office's workbook, `import::duty_roster`), versioned and audited;
//!   a township's shifts never overlap, so at most one covers a moment.
//! - `resolve`: who is on duty at a moment — what escalation asks when its
//!   chain reaches the township duty officer (应急办值班) or the leader on
//!   duty (带班领导). No shift, or nobody named: a gap, and the caller falls
//!   back to the contacts holding the role.
//! - `gaps`: time in the next days no shift covers, and shifts without a
//!   leader or an officer: items of the worklist.
//! - `handovers`: 交接班, who handed over to whom, when, what was pending.
//!
//! Times are stored as UTC milliseconds with the local day and clock times
//! kept as entered, so a shift reads as the office wrote it.

pub mod gaps;
pub mod handovers;
pub mod resolve;
pub mod shifts;

use chrono::{NaiveDate, NaiveTime, TimeZone, Timelike};

/// The usual shifts: (code, 中文, English, start, end). The dashboard's form
/// and the import's 班次 words use them; any other times may be entered.
pub const PRESETS: &[(&str, &str, &str, &str, &str)] = &[
    ("day", "白班", "Day", "08:30", "17:30"),
    ("night", "夜班", "Night", "17:30", "08:30"),
    ("full", "24小时班", "24 hours", "08:30", "08:30"),
];

/// The times of a preset by its code.
pub fn preset(code: &str) -> Option<(&'static str, &'static str)> {
    PRESETS.iter().find(|p| p.0 == code).map(|p| (p.3, p.4))
}

/// A clock time as offices write it: `08:30`, `8:30`, `0830`, `8点30`,
/// `8时30分`, `8点半`, `8`; `24:00` is midnight.
pub fn parse_clock(s: &str) -> Option<NaiveTime> {
    let t = s
        .trim()
        .replace('：', ":")
        .replace('半', "30")
        .replace(['点', '时'], ":")
        .replace('分', "");
    let t = t.trim().trim_end_matches(':');
    let (h, m) = match t.split_once(':') {
        Some((h, rest)) => (h, rest.split(':').next().unwrap_or("0")),
        None if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) => (&t[..2], &t[2..]),
        None => (t, "0"),
    };
    let h: u32 = h.trim().parse().ok()?;
    let m: u32 = if m.trim().is_empty() {
        0
    } else {
        m.trim().parse().ok()?
    };
    match (h, m) {
        (24, 0) => NaiveTime::from_hms_opt(0, 0, 0),
        (0..=23, 0..=59) => NaiveTime::from_hms_opt(h, m, 0),
        _ => None,
    }
}

/// Free text (a note, what was handed over): trimmed, empty is none, at
/// most `max` characters, line breaks allowed but no other control
/// character (PostgreSQL refuses a NUL in text).
pub(crate) fn note(
    field: &str,
    v: &Option<String>,
    max: usize,
) -> crate::validate::FieldResult<Option<String>> {
    let t = crate::validate::optional_text(field, v, max)?;
    if t.as_deref().is_some_and(|t| {
        t.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    }) {
        return crate::validate::err(field, "must not contain control characters");
    }
    Ok(t)
}

/// `08:30`.
pub fn clock(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A local day and clock time as UTC milliseconds (the earlier of a
/// repeated hour; none in a skipped one).
pub fn local_ms(tz: chrono_tz::Tz, date: NaiveDate, t: NaiveTime) -> Option<i64> {
    tz.from_local_datetime(&date.and_time(t))
        .earliest()
        .map(|d| d.timestamp_millis())
}

/// A shift's [start, end) in UTC milliseconds from its local day and clock
/// times: an end at or before the start is the next day's (the same time:
/// 24 hours). Also whether it ends the next day.
pub fn span(
    tz: chrono_tz::Tz,
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
) -> Option<(i64, i64, bool)> {
    let end_date = if end <= start { date.succ_opt()? } else { date };
    Some((
        local_ms(tz, date, start)?,
        local_ms(tz, end_date, end)?,
        end_date != date,
    ))
}

/// "12月3日 17:30" in the zone.
pub fn md_hm(ms: i64, tz: chrono_tz::Tz) -> String {
    match chrono::Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%-m月%-d日 %H:%M").to_string(),
        None => String::new(),
    }
}

/// "3 Dec 17:30" in the zone.
pub fn md_hm_en(ms: i64, tz: chrono_tz::Tz) -> String {
    match chrono::Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%-d %b %H:%M").to_string(),
        None => String::new(),
    }
}

/// The local day of a moment.
pub fn local_date(ms: i64, tz: chrono_tz::Tz) -> Option<NaiveDate> {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
}

/// Local days `from` to `to` (inclusive) as UTC milliseconds [start, end).
pub fn days_span(tz: chrono_tz::Tz, from: NaiveDate, to: NaiveDate) -> Option<(i64, i64)> {
    Some((
        local_ms(tz, from, NaiveTime::MIN)?,
        local_ms(tz, to.succ_opt()?, NaiveTime::MIN)?,
    ))
}

/// On PostgreSQL, one roster write per township at a time (the overlap
/// check and the write in one transaction); SQLite's one writer already
/// runs them one at a time.
pub(crate) async fn lock_roster(
    conn: &mut sqlx::AnyConnection,
    township: i64,
) -> Result<(), crate::store::StoreError> {
    if !crate::store::is_sqlite(conn) {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(crate::store::lock::keys::DUTY_ROSTER + township)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    #[test]
    fn clock_times_as_offices_write_them() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        for (s, want) in [
            ("08:30", t(8, 30)),
            ("8:30", t(8, 30)),
            ("0830", t(8, 30)),
            ("8点30", t(8, 30)),
            ("8时30分", t(8, 30)),
            ("8点半", t(8, 30)),
            ("17：30", t(17, 30)),
            ("8", t(8, 0)),
            ("8点", t(8, 0)),
            ("24:00", t(0, 0)),
            ("08:30:00", t(8, 30)),
        ] {
            assert_eq!(parse_clock(s), want, "{s}");
        }
        for bad in ["25:00", "8:60", "早上", "", "24:30"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_night_shift_ends_the_next_morning() {
        let d = NaiveDate::from_ymd_opt(2025, 12, 3).expect("date");
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let (s, e, overnight) = span(Shanghai, d, at(17, 30), at(8, 30)).expect("span");
        assert!(overnight);
        assert_eq!(e - s, 15 * 3_600_000);
        assert_eq!(md_hm(s, Shanghai), "12月3日 17:30");
        assert_eq!(md_hm(e, Shanghai), "12月4日 08:30");
        assert_eq!(md_hm_en(e, Shanghai), "4 Dec 08:30");
        // The same time at both ends: 24 hours.
        let (s, e, overnight) = span(Shanghai, d, at(8, 30), at(8, 30)).expect("span");
        assert!(overnight);
        assert_eq!(e - s, 24 * 3_600_000);
        let (s, e, overnight) = span(Shanghai, d, at(8, 30), at(17, 30)).expect("span");
        assert!(!overnight);
        assert_eq!(e - s, 9 * 3_600_000);
    }
}

//! Gaps in the roster ahead: time in the coming days that no shift covers,
//! and shifts without a leader or without a duty officer. The worklist
//! shows them a week ahead so the office fills them before escalation has
//! to fall back to whoever holds the role.
//!
//! A township that keeps no roster (no shift ending within the last 30
//! days or later) has no gaps: its escalation goes to the role holders as
//! it always did, and its worklist is not filled with one long gap.

use serde::Serialize;

use super::shifts::{self, DutyShift};
use crate::store::{Db, Result};

/// Days ahead the worklist looks.
pub const WORKLIST_DAYS: i64 = 7;

/// How recently a township must have had a shift for its roster to count as kept.
const KEPT_WITHIN_MS: i64 = 30 * 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// No shift covers the time.
    Uncovered,
    /// A shift names no leader on shift (带班领导).
    NoLeader,
    /// A shift names no duty officer (值班员).
    NoOfficer,
}

/// One item: a stretch of time or a shift lacking someone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RosterGap {
    pub township_id: i64,
    pub kind: GapKind,
    /// RFC 3339 in the configured zone.
    pub from: String,
    pub until: String,
    /// The local day it starts on (for the roster page's week).
    pub date: String,
    /// The shift lacking someone (none for an uncovered stretch).
    pub shift_id: Option<i64>,
    /// "值班表缺口：12月3日 17:30 起无人值班（至12月4日 08:30）".
    pub text: String,
    pub text_en: String,
    #[serde(skip)]
    pub from_ms: i64,
}

fn uncovered(township: i64, from: i64, until: i64, tz: chrono_tz::Tz) -> RosterGap {
    RosterGap {
        township_id: township,
        kind: GapKind::Uncovered,
        from: crate::time::fmt_ms(from, tz),
        until: crate::time::fmt_ms(until, tz),
        date: super::local_date(from, tz)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        shift_id: None,
        text: format!(
            "值班表缺口：{} 起无人值班（至{}）",
            super::md_hm(from, tz),
            super::md_hm(until, tz)
        ),
        text_en: format!(
            "Roster gap: nobody on duty from {} (until {})",
            super::md_hm_en(from, tz),
            super::md_hm_en(until, tz)
        ),
        from_ms: from,
    }
}

fn lacking(s: &DutyShift, kind: GapKind, tz: chrono_tz::Tz) -> RosterGap {
    let (zh, en) = match kind {
        GapKind::NoLeader => ("无带班领导", "has no leader on shift"),
        _ => ("无值班员", "has no duty officer"),
    };
    RosterGap {
        township_id: s.township_id,
        kind,
        from: s.starts_at.clone(),
        until: s.ends_at.clone(),
        date: s.date.clone(),
        shift_id: Some(s.id),
        text: format!(
            "值班表缺口：{} 起的{}（{}）{zh}",
            super::md_hm(s.starts_ms, tz),
            s.kind_label,
            s.hours_zh()
        ),
        text_en: format!(
            "Roster gap: the {} shift from {} ({}) {en}",
            s.kind.label_en(),
            super::md_hm_en(s.starts_ms, tz),
            s.hours_en()
        ),
        from_ms: s.starts_ms,
    }
}

/// The items of one township's shifts (sorted by start) over [from, until).
pub fn of_shifts(
    township: i64,
    shifts: &[&DutyShift],
    from: i64,
    until: i64,
    tz: chrono_tz::Tz,
) -> Vec<RosterGap> {
    let mut out = Vec::new();
    let mut cursor = from;
    for s in shifts {
        if s.starts_ms > cursor {
            out.push(uncovered(township, cursor, s.starts_ms.min(until), tz));
        }
        cursor = cursor.max(s.ends_ms);
        // Someone without a leader or an officer counts only while it is to come.
        if s.ends_ms > from {
            if s.leader.as_ref().is_none_or(|p| !p.available) {
                out.push(lacking(s, GapKind::NoLeader, tz));
            }
            if !s.officers.iter().any(|p| p.available) {
                out.push(lacking(s, GapKind::NoOfficer, tz));
            }
        }
    }
    if cursor < until {
        out.push(uncovered(township, cursor, until, tz));
    }
    out
}

/// The gaps of the next `days` from `now` in every township the handle sees
/// that keeps a roster; none for a village's user (the roster is the
/// township's).
pub async fn upcoming(db: &Db, now: i64, days: i64, tz: chrono_tz::Tz) -> Result<Vec<RosterGap>> {
    if db.scope().and_then(crate::store::Scope::village).is_some() {
        return Ok(Vec::new());
    }
    let until = now + days.clamp(1, 62) * 24 * 3_600_000;
    let kept = keeping(db, now).await?;
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let all = shifts::list(db, now, until, tz).await?;
    let mut out = Vec::new();
    for t in kept {
        let mine: Vec<&DutyShift> = all.iter().filter(|s| s.township_id == t).collect();
        out.extend(of_shifts(t, &mine, now, until, tz));
    }
    out.sort_by_key(|g| (g.from_ms, g.township_id));
    Ok(out)
}

/// The townships the handle sees that keep a roster.
async fn keeping(db: &Db, now: i64) -> Result<Vec<i64>> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT township_id FROM duty_shifts WHERE archived_at IS NULL AND ends_at > $1 AND {} \
         ORDER BY township_id",
        db.township_filter("township_id")
    )))
    .bind(now - KEPT_WITHIN_MS)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duty::shifts::{DutyPerson, ShiftKind};
    use chrono_tz::Asia::Shanghai;

    const H: i64 = 3_600_000;

    fn shift(id: i64, from: i64, until: i64, leader: bool, officers: usize) -> DutyShift {
        let person = |n: i64| DutyPerson {
            contact_id: n,
            name: format!("p{n}"),
            phone: "+8613800000000".into(),
            available: true,
        };
        DutyShift {
            id,
            township_id: 1,
            date: "2025-12-03".into(),
            start: "08:30".into(),
            end: "17:30".into(),
            overnight: false,
            kind: ShiftKind::Day,
            kind_label: "白班",
            starts_at: String::new(),
            ends_at: String::new(),
            leader: leader.then(|| person(1)),
            officers: (0..officers as i64).map(|n| person(10 + n)).collect(),
            note: None,
            sample: false,
            archived: false,
            version: 1,
            created_at: String::new(),
            updated_at: String::new(),
            starts_ms: from,
            ends_ms: until,
        }
    }

    #[test]
    fn uncovered_time_and_shifts_lacking_someone() {
        // 2025-12-03 08:30 in Shanghai.
        let t0 = 1_764_721_800_000;
        let a = shift(1, t0 - 2 * H, t0 + 9 * H, true, 1);
        let b = shift(2, t0 + 9 * H, t0 + 24 * H, false, 2);
        let c = shift(3, t0 + 30 * H, t0 + 40 * H, true, 0);
        let g = of_shifts(1, &[&a, &b, &c], t0, t0 + 48 * H, Shanghai);
        let kinds: Vec<(GapKind, Option<i64>)> = g.iter().map(|x| (x.kind, x.shift_id)).collect();
        assert_eq!(
            kinds,
            vec![
                (GapKind::NoLeader, Some(2)),
                (GapKind::Uncovered, None),
                (GapKind::NoOfficer, Some(3)),
                (GapKind::Uncovered, None),
            ]
        );
        assert_eq!(
            g[1].text,
            "值班表缺口：12月4日 08:30 起无人值班（至12月4日 14:30）"
        );
        assert_eq!(g[3].from_ms, t0 + 40 * H);
        // Covered throughout: nothing.
        let full = shift(4, t0 - H, t0 + 50 * H, true, 1);
        assert!(of_shifts(1, &[&full], t0, t0 + 48 * H, Shanghai).is_empty());
        // Nothing at all: one gap over the whole window.
        let g = of_shifts(1, &[], t0, t0 + 48 * H, Shanghai);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].kind, GapKind::Uncovered);
    }
}

//! Replies as people write them: whether an SMS reply acknowledges a
//! notice (叫应), whether it reports danger (险情), and whether it says
//! anything beyond the acknowledgement (then a person reads it in the
//! inbox). The words are in the tables below, kept in one place with the
//! tests of real phrasings.

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// It acknowledges the notice: answers it.
    pub ack: bool,
    /// It reports danger: flagged on the inbox and the overview.
    pub danger: bool,
    /// Nothing but an acknowledgement (and words like 马上落实): no person need read it.
    pub plain: bool,
}

/// Words that acknowledge on their own, at the start of a reply. "Strong"
/// ones acknowledge even with more after them ("收到后山有滑坡"); the
/// others only as the whole first clause ("好", "1": "好像不对" is not).
const ACK_STRONG: &[&str] = &[
    "已收到",
    "收到了",
    "收到",
    "收悉",
    "已收悉",
    "已阅",
    "已知悉",
    "知悉",
    "已确认",
    "确认收到",
    "确认",
];
const ACK_WEAK: &[&str] = &[
    "1",
    "ok",
    "okay",
    "yes",
    "y",
    "好的",
    "好",
    "是",
    "是的",
    "明白",
    "明白了",
    "知道",
    "知道了",
    "嗯",
    "嗯嗯",
    "行",
    "可以",
    "没问题",
    "收",
    "已读",
    "谢谢",
    "好的谢谢",
];
/// What often follows an acknowledgement and needs no reading.
const FOLLOW: &[&str] = &[
    "马上落实",
    "立即落实",
    "正在落实",
    "已落实",
    "会落实",
    "马上办",
    "马上去",
    "马上安排",
    "立即安排",
    "立即执行",
    "马上执行",
    "照办",
    "遵照执行",
    "坚决落实",
    "请放心",
    "放心",
    "谢谢",
    "谢谢提醒",
    "辛苦了",
    "明白",
    "知道了",
    "好的",
    "收到",
    "已通知",
    "已转告",
    "马上通知",
    "马上转告",
    "正在通知",
    "马上通知到户",
    "已通知到户",
    "通知到户",
];
/// Words that mean danger where the person is.
const DANGER: &[&str] = &[
    "滑坡",
    "塌方",
    "崩塌",
    "垮塌",
    "倒塌",
    "坍塌",
    "泥石流",
    "山洪",
    "洪水",
    "进水",
    "被淹",
    "淹了",
    "淹没",
    "被困",
    "受伤",
    "伤亡",
    "死亡",
    "失踪",
    "失联",
    "险情",
    "裂缝",
    "溃坝",
    "决口",
    "漫顶",
    "管涌",
    "起火",
    "着火",
    "火情",
    "冒烟",
    "爆炸",
    "泄漏",
    "水位上涨",
    "涨水",
    "漫堤",
    "冲毁",
    "停电",
    "断路",
    "路断",
];

/// Half-width, lower-case, without spaces: what the tables are written in.
fn normalise(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                c => c,
            };
            (!c.is_whitespace()).then(|| c.to_ascii_lowercase())
        })
        .collect()
}

fn is_break(c: char) -> bool {
    matches!(
        c,
        ',' | '，'
            | '.'
            | '。'
            | '!'
            | '！'
            | ';'
            | '；'
            | '、'
            | '~'
            | '～'
            | '…'
            | ':'
            | '：'
            | '-'
            | '—'
    )
}

/// Strips acknowledgement words off the front, longest first; gives what is
/// left and whether a strong one was among them.
fn strip_acks(mut s: &str) -> (&str, bool, bool) {
    let (mut any, mut strong) = (false, false);
    loop {
        let next = ACK_STRONG
            .iter()
            .map(|w| (w, true))
            .chain(ACK_WEAK.iter().map(|w| (w, false)))
            .filter(|(w, _)| s.starts_with(**w))
            .max_by_key(|(w, _)| w.len());
        match next {
            Some((w, st)) => {
                s = &s[w.len()..];
                any = true;
                strong |= st;
            }
            None => return (s, any, strong),
        }
    }
}

fn only_follow(s: &str) -> bool {
    let mut s = s.trim_start_matches(is_break);
    while !s.is_empty() {
        match FOLLOW
            .iter()
            .filter(|w| s.starts_with(**w))
            .max_by_key(|w| w.len())
        {
            Some(w) => s = s[w.len()..].trim_start_matches(is_break),
            None => return false,
        }
    }
    true
}

/// Reads one reply.
pub fn read(text: &str) -> Reading {
    let t = normalise(text);
    let danger = DANGER.iter().any(|w| t.contains(w));
    // A question is for a person, whatever it starts with ("收到了吗？").
    let question =
        t.contains('?') || t.contains('？') || t.trim_end_matches(is_break).ends_with('吗');
    let body = t.trim_start_matches(is_break).trim_end_matches(is_break);
    let (rest, any, strong) = strip_acks(body);
    let first_clause_done = rest.is_empty() || rest.starts_with(is_break);
    let ack = !question && any && (strong || first_clause_done || only_follow(rest));
    Reading {
        ack,
        danger,
        plain: ack && !danger && only_follow(rest),
    }
}

/// What a reply to a daily report (值班报告) says: nothing to report
/// (零报告), or a report a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daily {
    Zero,
    Report,
}

/// Words that mean "nothing to report" as a whole clause.
const ZERO: &[&str] = &[
    "0",
    "00",
    "零",
    "零报告",
    "无",
    "没有",
    "没",
    "无事",
    "没事",
    "无情况",
    "没有情况",
    "无特殊情况",
    "无异常",
    "无异常情况",
    "没有异常",
    "无险情",
    "没有险情",
    "无灾情",
    "无险情灾情",
    "正常",
    "一切正常",
    "情况正常",
    "正常无异常",
    "平安",
    "一切平安",
    "平安无事",
    "安全",
    "一切安全",
    "安全无事",
];
/// What may stand before those words ("今日无情况", "本村正常").
const ZERO_LEAD: &[&str] = &[
    "今天", "今日", "本村", "我村", "村里", "全村", "目前", "暂时", "暂", "当前", "均",
];

/// Reads a reply to a daily report. Zero when every clause is a "nothing
/// to report" word (perhaps after 今日/本村), an acknowledgement or a polite
/// word, and one of them says nothing to report; anything else — and
/// anything naming danger — is a report.
pub fn daily(text: &str) -> Daily {
    let t = normalise(text);
    if DANGER.iter().any(|w| t.contains(w)) || t.contains('?') || t.contains('？') {
        return Daily::Report;
    }
    let mut zero = false;
    for clause in t.split(is_break).filter(|c| !c.is_empty()) {
        let mut c = clause;
        // "收到0", "已收到无异常": a strong acknowledgement first.
        while let Some(w) = ACK_STRONG
            .iter()
            .filter(|w| c.starts_with(**w))
            .max_by_key(|w| w.len())
        {
            c = &c[w.len()..];
        }
        while let Some(w) = ZERO_LEAD.iter().find(|w| c.starts_with(**w)) {
            c = &c[w.len()..];
        }
        if c.is_empty() {
            continue;
        }
        if ZERO.contains(&c) {
            zero = true;
        } else if !(ACK_WEAK.contains(&c) || FOLLOW.contains(&c)) {
            return Daily::Report;
        }
    }
    if zero { Daily::Zero } else { Daily::Report }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(ack: bool, danger: bool, plain: bool) -> Reading {
        Reading { ack, danger, plain }
    }

    #[test]
    fn acknowledgements_as_people_write_them() {
        for t in [
            "收到",
            "收到，马上落实",
            "好的收到",
            "1",
            "１",
            "已收到！",
            "ok",
            "OK",
            "Ｏｋ",
            "收到了",
            "收到。",
            "好的",
            "明白",
            "知道了",
            "收悉",
            "已阅",
            "确认",
            "收到，谢谢",
            "收到！马上通知到户",
            "嗯嗯，收到",
            "好的，马上落实",
            "收到收到",
            " 收到 ",
            "收到~",
            "收到，已转告",
            "是",
            "yes",
            "收到，请放心",
            "已收到，正在通知",
            "好的，知道了",
        ] {
            assert_eq!(read(t), r(true, false, true), "{t}");
        }
    }

    #[test]
    fn acknowledgements_with_more_to_read() {
        for t in [
            "收到，但是张三联系不上",
            "收到，我在县城，明天回村",
            "收到后马上去山塘看",
            "好的，老人不愿意走怎么办",
        ] {
            let got = read(t);
            assert!(got.ack && !got.plain, "{t}: {got:?}");
        }
        // A question is read by a person, even starting with an acknowledgement word.
        assert!(!read("好的，老人不愿意走怎么办？").ack);
    }

    #[test]
    fn danger_is_flagged_with_or_without_an_acknowledgement() {
        for t in [
            "收到，后山有滑坡",
            "收到后山有滑坡",
            "收到，村口路段塌方，车过不去",
            "1，下游涨水了",
        ] {
            assert_eq!(read(t), r(true, true, false), "{t}");
        }
        for t in [
            "后山滑坡了，有两户被困",
            "溪水进水了",
            "山上冒烟，可能着火",
            "桥被冲毁",
        ] {
            assert_eq!(read(t), r(false, true, false), "{t}");
        }
    }

    #[test]
    fn daily_reports_nothing_to_report() {
        for t in [
            "0",
            "０",
            "无",
            "正常",
            "无异常",
            "平安",
            "0。",
            " 0 ",
            "无，谢谢",
            "收到，无异常",
            "收到0",
            "今日无情况",
            "本村一切正常",
            "好的，正常",
            "一切平安！",
            "零报告",
        ] {
            assert_eq!(daily(t), Daily::Zero, "{t}");
        }
    }

    #[test]
    fn daily_reports_to_read() {
        for t in [
            "今天后山有小塌方，已设警示",
            "正常，但东头水渠堵了",
            "无法联系到张三",
            "10",
            "1",
            "收到",
            "无异常？",
            "正常，后山有裂缝",
            "",
            "有两户房屋漏雨",
        ] {
            assert_eq!(daily(t), Daily::Report, "{t}");
        }
    }

    #[test]
    fn what_is_not_an_acknowledgement() {
        for t in [
            "没收到",
            "不收到",
            "收到了吗？",
            "收到了吗",
            "你是谁",
            "好像不对",
            "请再发一遍",
            "",
            "12",
            "？",
            "我不在村里",
            "是谁发的",
        ] {
            let got = read(t);
            assert!(!got.ack && !got.plain, "{t}: {got:?}");
        }
    }
}

use serde::Serialize;

use crate::store::{Db, Result, WriteError, now_ms};

/// One inbound reply as the inbox shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxLine {
    pub id: i64,
    pub received_at: String,
    pub phone: String,
    /// Who it is from, when the number was sent a notice.
    pub name: Option<String>,
    pub village: Option<String>,
    pub text: String,
    /// answered | again | closed | not_acknowledgement | no_open_notice | transfer …
    pub outcome: String,
    /// The notice it was matched to.
    pub alert_id: Option<i64>,
    pub alert_title: Option<String>,
    pub transfer_id: Option<i64>,
    /// Reports danger (险情).
    pub danger: bool,
    pub read_at: Option<String>,
    pub read_by: Option<String>,
    pub handled_at: Option<String>,
    pub handled_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    received_at: i64,
    phone: String,
    name: Option<String>,
    village: Option<String>,
    text: String,
    outcome: String,
    alert_id: Option<i64>,
    alert_title: Option<String>,
    transfer_id: Option<i64>,
    danger: i64,
    read_at: Option<i64>,
    read_by: Option<String>,
    handled_at: Option<i64>,
    handled_by: Option<String>,
}

/// Which replies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Which {
    /// Only those nobody has read yet (every reply but plain acknowledgements and counted reports).
    pub unread: bool,
    /// Only danger reports not yet handled.
    pub danger_open: bool,
    /// Only the replies matched to this notice.
    pub alert_id: Option<i64>,
}

/// The replies the handle may see (its townships; a village user: those
/// from their village's people), newest first.
pub async fn inbox(db: &Db, tz: chrono_tz::Tz, w: Which, limit: i64) -> Result<Vec<InboxLine>> {
    let mut cond = format!(
        "{} AND {}",
        db.township_filter("m.township_id"),
        db.village_filter("r.village_id")
    );
    if w.unread {
        cond.push_str(" AND m.needs_reading = 1 AND m.read_at IS NULL");
    }
    if w.danger_open {
        cond.push_str(" AND m.danger = 1 AND m.handled_at IS NULL");
    }
    if let Some(a) = w.alert_id {
        cond.push_str(&format!(" AND m.alert_id = {a}"));
    }
    let mut tx = db.read().await?;
    let rows: Vec<InboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT m.id, m.received_at, m.phone, r.name, v.name AS village, m.text, m.outcome, m.alert_id, \
         a.title AS alert_title, m.transfer_id, m.danger, m.read_at, m.read_by, m.handled_at, m.handled_by \
         FROM inbound_messages m LEFT JOIN alert_recipients r ON r.id = m.recipient_id \
         LEFT JOIN villages v ON v.id = r.village_id LEFT JOIN alerts a ON a.id = m.alert_id \
         WHERE {cond} ORDER BY m.id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| InboxLine {
            id: r.id,
            received_at: crate::time::fmt_ms(r.received_at, tz),
            phone: r.phone,
            name: r.name,
            village: r.village,
            text: r.text,
            outcome: r.outcome,
            alert_id: r.alert_id,
            alert_title: r.alert_title,
            transfer_id: r.transfer_id,
            danger: r.danger != 0,
            read_at: r.read_at.map(|ms| crate::time::fmt_ms(ms, tz)),
            read_by: r.read_by,
            handled_at: r.handled_at.map(|ms| crate::time::fmt_ms(ms, tz)),
            handled_by: r.handled_by,
        })
        .collect())
}

/// How many replies await a person: (unread, danger reports not handled).
pub async fn waiting(db: &Db) -> Result<(i64, i64)> {
    let mut tx = db.read().await?;
    let row: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(SUM(CASE WHEN m.needs_reading = 1 AND m.read_at IS NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN m.danger = 1 AND m.handled_at IS NULL THEN 1 ELSE 0 END), 0) \
         FROM inbound_messages m LEFT JOIN alert_recipients r ON r.id = m.recipient_id WHERE {} AND {}",
        db.township_filter("m.township_id"),
        db.village_filter("r.village_id")
    )))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Marks a reply read, or handled (which reads it too), by `who`; audited.
pub async fn mark(db: &Db, who: &str, id: i64, handled: bool) -> Result<(), WriteError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let set = if handled {
        "read_at = COALESCE(read_at, $1), read_by = COALESCE(read_by, $2), handled_at = COALESCE(handled_at, $1), \
         handled_by = COALESCE(handled_by, $2)"
    } else {
        "read_at = COALESCE(read_at, $1), read_by = COALESCE(read_by, $2)"
    };
    // A village user: only replies from their village's people.
    let village = match db.scope().and_then(crate::store::Scope::village) {
        Some(_) => format!(
            " AND recipient_id IN (SELECT r.id FROM alert_recipients r WHERE {})",
            db.village_filter("r.village_id")
        ),
        None => String::new(),
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE inbound_messages SET {set} WHERE id = $3 AND {}{village}",
        db.township_filter("township_id"),
    )))
    .bind(now)
    .bind(who)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(WriteError::NotFound);
    }
    crate::audit::record(
        &mut tx,
        who,
        if handled { "handle" } else { "read" },
        "reply",
        Some(id),
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

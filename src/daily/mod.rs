//! The flood season's daily village reports (值班报告 / 零报告). A plan's
//! `[daily_report]` sets the season and three times of day; `cycle::tick`
//! asks each village's duty contact by SMS at the first, chases the silent
//! once at the second and writes the township's summary for the county at
//! the third. A reply to the notice (`notify::response::answers::by_phone`)
//! is the village's answer: "0", "无", "正常" … a zero report (零报告),
//! anything else a report a person reads. This module keeps the rounds and
//! answers (migration 0034) and shows them: the list, one day's table, the
//! text to paste to the county, and the `.xlsx` (`export`).

pub mod cycle;
pub mod export;

use serde::Serialize;

use crate::notify::response::replies::Daily;
use crate::store::{Db, Result, StoreError};

/// The roles asked, in order: the plan's, then these for a village where
/// nobody holds it.
pub const FALLBACK_ROLES: &[&str] = &["信息员", "村主任"];

/// What a village answered.
pub fn kind_code(d: Daily) -> &'static str {
    match d {
        Daily::Zero => "zero",
        Daily::Report => "report",
    }
}

/// A kind as the office reads it.
pub fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "zero" => "零报告",
        "report" => "报告情况",
        _ => "未报",
    }
}

/// One day's round as the list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundLine {
    pub id: i64,
    pub township_id: i64,
    pub plan_id: String,
    /// The local day, YYYY-MM-DD.
    pub day: String,
    pub asked_at: String,
    pub deadline_at: String,
    pub chased_at: Option<String>,
    pub summarised_at: Option<String>,
    /// Villages asked (those the asker may see).
    pub villages: i64,
    /// 零报告.
    pub zero: i64,
    /// Villages that reported something.
    pub reports: i64,
    /// 未报: not answered (yet).
    pub silent: i64,
    /// Sample data (`serve --demo`).
    pub sample: bool,
}

/// One village's answer in a round.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerLine {
    pub village_id: i64,
    pub village: String,
    pub contact_id: Option<i64>,
    /// The person asked; none when the village has nobody to ask.
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    /// The role they hold: the plan's, or a fallback (信息员, 村主任).
    pub role: Option<String>,
    /// The person asked holds a fallback role, not the plan's.
    pub fallback: bool,
    /// zero | report | none
    pub kind: String,
    /// 零报告 | 报告情况 | 未报
    pub kind_zh: String,
    pub reply: Option<String>,
    pub answered_at: Option<String>,
    /// Asked a second time at the deadline.
    pub chased: bool,
}

/// One day's round with every village.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Round {
    #[serde(flatten)]
    pub line: RoundLine,
    pub township: String,
    pub plan_title: Option<String>,
    /// The role the plan asks.
    pub role: Option<String>,
    pub summary_at: String,
    /// The notices that asked and chased.
    pub ask_alert_id: Option<i64>,
    pub chase_alert_id: Option<i64>,
    /// The text for the county: as written at the summary time, or (before
    /// it, or for a village user) as the answers stand now.
    pub summary_text: String,
    pub answers: Vec<AnswerLine>,
    #[serde(skip)]
    pub answers_ms: Vec<Option<i64>>,
}

#[derive(sqlx::FromRow)]
struct RoundRow {
    id: i64,
    township_id: i64,
    plan_id: String,
    day: String,
    asked_at: i64,
    deadline_at: i64,
    summary_at: i64,
    ask_alert_id: Option<i64>,
    chased_at: Option<i64>,
    chase_alert_id: Option<i64>,
    summarised_at: Option<i64>,
    summary_text: Option<String>,
    sample: i64,
    villages: i64,
    zero: i64,
    reports: i64,
}

const ROUND_COLUMNS: &str = "d.id, d.township_id, d.plan_id, d.day, d.asked_at, d.deadline_at, d.summary_at, \
    d.ask_alert_id, d.chased_at, d.chase_alert_id, d.summarised_at, d.summary_text, d.sample";

impl RoundRow {
    fn line(&self, tz: chrono_tz::Tz) -> RoundLine {
        RoundLine {
            id: self.id,
            township_id: self.township_id,
            plan_id: self.plan_id.clone(),
            day: self.day.clone(),
            asked_at: crate::time::fmt_ms(self.asked_at, tz),
            deadline_at: crate::time::fmt_ms(self.deadline_at, tz),
            chased_at: crate::time::fmt_opt(self.chased_at, tz),
            summarised_at: crate::time::fmt_opt(self.summarised_at, tz),
            villages: self.villages,
            zero: self.zero,
            reports: self.reports,
            silent: self.villages - self.zero - self.reports,
            sample: self.sample != 0,
        }
    }
}

/// The rounds the handle may see, newest day first (a village user: their
/// village's answer counted).
pub async fn list(db: &Db, tz: chrono_tz::Tz, limit: i64) -> Result<Vec<RoundLine>> {
    let mut tx = db.read().await?;
    let rows: Vec<RoundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROUND_COLUMNS}, \
         CAST(COUNT(a.village_id) AS BIGINT) AS villages, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'zero' THEN 1 ELSE 0 END), 0) AS BIGINT) AS zero, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'report' THEN 1 ELSE 0 END), 0) AS BIGINT) AS reports \
         FROM daily_rounds d LEFT JOIN daily_answers a ON a.round_id = d.id AND {} \
         WHERE {} GROUP BY {ROUND_COLUMNS} ORDER BY d.day DESC, d.id DESC LIMIT $1",
        db.village_filter("a.village_id"),
        db.township_filter("d.township_id"),
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.iter().map(|r| r.line(tz)).collect())
}

#[derive(sqlx::FromRow)]
struct AnswerRow {
    village_id: i64,
    village: String,
    contact_id: Option<i64>,
    contact_name: Option<String>,
    phone: Option<String>,
    role: Option<String>,
    kind: String,
    reply: Option<String>,
    answered_at: Option<i64>,
    chased: i64,
}

/// One round with its villages (in the register's order), if the handle
/// may see it.
pub async fn get(
    db: &Db,
    plans: &crate::planbook::PlanBook,
    tz: chrono_tz::Tz,
    id: i64,
) -> Result<Option<Round>> {
    let mut tx = db.read().await?;
    let row: Option<RoundRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROUND_COLUMNS}, 0 AS villages, 0 AS zero, 0 AS reports \
         FROM daily_rounds d WHERE d.id = $1 AND {}",
        db.township_filter("d.township_id"),
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let answers: Vec<AnswerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT a.village_id, v.name AS village, a.contact_id, a.contact_name, a.phone, a.role, a.kind, \
         a.reply, a.answered_at, a.chased FROM daily_answers a JOIN villages v ON v.id = a.village_id \
         WHERE a.round_id = $1 AND {} ORDER BY v.code, v.id",
        db.village_filter("a.village_id"),
    )))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let township: Option<(String,)> = sqlx::query_as("SELECT name FROM townships WHERE id = $1")
        .bind(row.township_id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    row.villages = answers.len() as i64;
    row.zero = answers.iter().filter(|a| a.kind == "zero").count() as i64;
    row.reports = answers.iter().filter(|a| a.kind == "report").count() as i64;
    let plan = plans
        .get_of(
            crate::plans::PlanOwner::Township(row.township_id),
            &row.plan_id,
        )
        .await;
    let role = plan
        .as_ref()
        .and_then(|p| p.plan.daily_report.as_ref())
        .map(|d| d.role.clone());
    let township = township.map(|t| t.0).unwrap_or_default();
    let lines: Vec<AnswerLine> = answers
        .iter()
        .map(|a| AnswerLine {
            village_id: a.village_id,
            village: a.village.clone(),
            contact_id: a.contact_id,
            contact_name: a.contact_name.clone(),
            phone: a.phone.clone(),
            role: a.role.clone(),
            fallback: a
                .role
                .as_deref()
                .is_some_and(|r| FALLBACK_ROLES.contains(&r) && role.as_deref() != Some(r)),
            kind: a.kind.clone(),
            kind_zh: kind_zh(&a.kind).to_string(),
            reply: a.reply.clone(),
            answered_at: crate::time::fmt_opt(a.answered_at, tz),
            chased: a.chased != 0,
        })
        .collect();
    let whole = db.scope().and_then(crate::store::Scope::village).is_none();
    let summary_text = match (&row.summary_text, whole) {
        (Some(t), true) => t.clone(),
        _ => summary_text(&township, &row.day, &lines),
    };
    Ok(Some(Round {
        line: row.line(tz),
        township,
        plan_title: plan.as_ref().map(|p| p.plan.title.clone()),
        role,
        summary_at: crate::time::fmt_ms(row.summary_at, tz),
        ask_alert_id: row.ask_alert_id,
        chase_alert_id: row.chase_alert_id,
        summary_text,
        answers_ms: answers.iter().map(|a| a.answered_at).collect(),
        answers: lines,
    }))
}

/// "湖上乡6月1日汛情日报：全乡4个村，零报告2个，报告情况1个（东坑村：…），未报1个（西坑村）。"
pub fn summary_text(township: &str, day: &str, answers: &[AnswerLine]) -> String {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| d.format("%-m月%-d日").to_string())
        .unwrap_or_else(|_| day.to_string());
    let of = |kind: &'static str| answers.iter().filter(move |a| a.kind == kind);
    let reports: Vec<String> = of("report")
        .map(|a| {
            format!(
                "{}：{}",
                a.village,
                a.reply
                    .as_deref()
                    .unwrap_or("")
                    .trim()
                    .trim_end_matches('。')
            )
        })
        .collect();
    let silent: Vec<&str> = of("none").map(|a| a.village.as_str()).collect();
    let mut text = format!(
        "{township}{date}汛情日报：全乡{}个村，零报告{}个，报告情况{}个",
        answers.len(),
        of("zero").count(),
        reports.len()
    );
    if !reports.is_empty() {
        text.push_str(&format!("（{}）", reports.join("；")));
    }
    text.push_str(&format!("，未报{}个", silent.len()));
    if !silent.is_empty() {
        text.push_str(&format!("（{}）", silent.join("、")));
    }
    text.push('。');
    text
}

/// The daily report round a notice belongs to, and the village of its
/// recipient: how a reply to it is recognised.
pub async fn round_of_recipient(
    tx: &mut sqlx::AnyConnection,
    recipient_id: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT d.id, r.village_id FROM alert_recipients r JOIN daily_rounds d \
         ON d.ask_alert_id = r.alert_id OR d.chase_alert_id = r.alert_id \
         WHERE r.id = $1 AND r.village_id IS NOT NULL",
    )
    .bind(recipient_id)
    .fetch_optional(&mut *tx)
    .await?)
}

/// A village's reply, in the caller's transaction: the first answer counts;
/// a later report replaces a zero report and adds to an earlier report.
pub async fn record_answer(
    tx: &mut sqlx::AnyConnection,
    round_id: i64,
    village_id: i64,
    kind: Daily,
    text: &str,
    now: i64,
) -> Result<(), StoreError> {
    let before: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT kind, reply FROM daily_answers WHERE round_id = $1 AND village_id = $2",
    )
    .bind(round_id)
    .bind(village_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((was, reply)) = before else {
        return Ok(());
    };
    let text = text.trim();
    let (kind, reply, first) = match (was.as_str(), kind) {
        ("none", k) => (kind_code(k), text.to_string(), true),
        ("zero", Daily::Report) => ("report", text.to_string(), false),
        ("report", Daily::Report) => (
            "report",
            format!("{}；{text}", reply.unwrap_or_default()),
            false,
        ),
        _ => return Ok(()),
    };
    sqlx::query(
        "UPDATE daily_answers SET kind = $1, reply = $2, answered_at = CASE WHEN $3 = 1 THEN $4 ELSE answered_at END \
         WHERE round_id = $5 AND village_id = $6",
    )
    .bind(kind)
    .bind(reply)
    .bind(i64::from(first))
    .bind(now)
    .bind(round_id)
    .bind(village_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The two most recent days before `today` inside the season, older first:
/// sample rounds on days the plan does not ask would be a season nobody kept.
pub fn sample_days(
    season: &crate::plans::DailyTimes,
    today: chrono::NaiveDate,
) -> Vec<chrono::NaiveDate> {
    let mut days: Vec<_> = (1..=366)
        .map(|ago| today - chrono::Duration::days(ago))
        .filter(|d| season.in_season(*d))
        .take(2)
        .collect();
    days.reverse();
    days
}

/// Sample rounds for `serve --demo` (marked sample) on the season's two
/// most recent days: most villages a zero report, one a report, one silent
/// and chased.
pub async fn load_samples(
    db: &Db,
    township: i64,
    plan_id: &str,
    season: &crate::plans::DailyTimes,
    tz: chrono_tz::Tz,
    today: chrono::NaiveDate,
) -> Result<()> {
    use chrono::TimeZone;
    const ZERO: &[&str] = &["0", "无", "正常", "0", "平安", "无异常", "0"];
    const REPORTS: &[&str] = &[
        "溪边便道积水约20厘米，已设警示牌，暂未影响群众出行（示例）",
        "后山排水沟堵塞，已组织清理（示例）",
    ];
    for (k, day) in sample_days(season, today).into_iter().enumerate() {
        let at = |h: u32, m: u32| {
            tz.from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap_or_default())
                .earliest()
                .map_or(0, |t| t.timestamp_millis())
        };
        let mut tx = db.begin().await?;
        let asked = cycle::who_to_ask(&mut tx, township, "村值班员").await?;
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO daily_rounds (township_id, plan_id, day, asked_at, deadline_at, summary_at, chased_at, sample) \
             VALUES ($1, $2, $3, $4, $5, $6, $5, 1) ON CONFLICT (township_id, plan_id, day) DO NOTHING RETURNING id",
        )
        .bind(township)
        .bind(plan_id)
        .bind(day.format("%Y-%m-%d").to_string())
        .bind(at(15, 0))
        .bind(at(17, 0))
        .bind(at(18, 0))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id,)) = id else {
            tx.rollback().await?;
            continue;
        };
        let n = asked.len();
        for (i, a) in asked.iter().enumerate() {
            // The last village silent, one (another each day) reporting.
            let (kind, reply, minutes) = if a.contact_id.is_none() || i + 1 == n {
                ("none", None, None)
            } else if i == 3 + k * 4 {
                (
                    "report",
                    Some(REPORTS[k % REPORTS.len()]),
                    Some(40 + i as i64),
                )
            } else {
                (
                    "zero",
                    Some(ZERO[(i + k) % ZERO.len()]),
                    Some(3 + 7 * i as i64),
                )
            };
            sqlx::query(
                "INSERT INTO daily_answers (round_id, township_id, village_id, contact_id, contact_name, phone, role, \
                 kind, reply, answered_at, chased) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(id)
            .bind(township)
            .bind(a.village_id)
            .bind(a.contact_id)
            .bind(a.name.clone())
            .bind(a.phone.clone())
            .bind(a.role.clone())
            .bind(kind)
            .bind(reply)
            .bind(minutes.map(|m| at(15, 0) + m * 60_000))
            .bind(i64::from(kind == "none" && a.contact_id.is_some()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(round) = get_plain(db, tz, id).await? {
            sqlx::query("UPDATE daily_rounds SET summarised_at = summary_at, summary_text = $1 WHERE id = $2")
                .bind(summary_text(&round.0, &round.1, &round.2))
                .bind(id)
                .execute(&db.pool)
                .await?;
        }
    }
    Ok(())
}

/// A round's township name, day and answers, without the plan book.
async fn get_plain(
    db: &Db,
    tz: chrono_tz::Tz,
    id: i64,
) -> Result<Option<(String, String, Vec<AnswerLine>)>> {
    let book = crate::planbook::PlanBook::new(std::path::PathBuf::new());
    Ok(get(db, &book, tz, id)
        .await?
        .map(|r| (r.township, r.line.day, r.answers)))
}

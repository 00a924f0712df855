//! Reports upward of an incident (初报 / 续报 / 核报): the facts the system
//! knows, generated when a report (or a version of it) is made — the time
//! line, the level, the notices with each village's answer rate, the
//! transfer figures (`transfer::board::table` and its `upward_text`), the
//! replies that reported danger — kept as a JSON snapshot beside the
//! figures and words the office fills in (casualties, damage, the
//! narrative, who reports and who signs). Every save is a new version;
//! none is overwritten. 续报 are numbered within the incident (续报一,
//! 续报二 …); a 续报 or the 核报 needs the 初报 first. Also the report as an
//! `.xlsx` workbook (`crate::workbook`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Event, IncidentRow};
use crate::notify::intake::template;
use crate::store::{Db, Result, WriteError, now_ms};
use crate::transfer::Count;
use crate::transfer::board::{self, Figures};
use crate::validate::{FieldError, optional_line, optional_text};
use crate::workbook::{self, Cell, Sheet};

/// Which report it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 初报: the first report, as soon as the incident is known.
    Initial,
    /// 续报: a follow-up, as many as the incident needs.
    Followup,
    /// 核报: the verified figures, once it is over.
    Verified,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Initial, Kind::Followup, Kind::Verified];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Initial => "initial",
            Kind::Followup => "followup",
            Kind::Verified => "verified",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn zh(self) -> &'static str {
        match self {
            Kind::Initial => "初报",
            Kind::Followup => "续报",
            Kind::Verified => "核报",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            Kind::Initial => "initial report",
            Kind::Followup => "follow-up report",
            Kind::Verified => "verified report",
        }
    }
}

/// 1 → 一, 12 → 十二, 20 → 二十, 105 → 105.
pub fn zh_number(n: i64) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n as usize].to_string(),
        10..=19 => format!("十{}", if n == 10 { "" } else { D[(n - 10) as usize] }),
        20..=99 => format!(
            "{}十{}",
            D[(n / 10) as usize],
            if n % 10 == 0 {
                ""
            } else {
                D[(n % 10) as usize]
            }
        ),
        _ => n.to_string(),
    }
}

/// The report's name: 初报, 续报一, 续报二, 核报.
pub fn label(kind: Kind, number: i64) -> String {
    match kind {
        Kind::Followup => format!("续报{}", zh_number(number)),
        k => k.zh().to_string(),
    }
}

/// The figures and words the office fills in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportFields {
    /// 死亡（人）
    pub deaths: Option<i64>,
    /// 失踪（人）
    pub missing: Option<i64>,
    /// 受伤（人）
    pub injured: Option<i64>,
    /// 受灾人口（人）
    pub affected: Option<i64>,
    /// 紧急转移人数（人）: prefilled from the incident's transfers when not given.
    pub relocated: Option<i64>,
    /// 倒塌房屋（间）
    pub houses_collapsed: Option<i64>,
    /// 损坏房屋（间）
    pub houses_damaged: Option<i64>,
    /// 直接经济损失（万元）
    pub economic_loss: Option<f64>,
    /// 基本情况
    pub situation: Option<String>,
    /// 处置情况
    pub handling: Option<String>,
    /// 报告人
    pub reporter: Option<String>,
    /// 签发领导
    pub signer: Option<String>,
}

/// The counted fields: (name, 中文, English).
pub const COUNTS: &[(&str, &str, &str)] = &[
    ("deaths", "死亡（人）", "Dead"),
    ("missing", "失踪（人）", "Missing"),
    ("injured", "受伤（人）", "Injured"),
    ("affected", "受灾人口（人）", "People affected"),
    ("relocated", "紧急转移人数（人）", "People moved to safety"),
    ("houses_collapsed", "倒塌房屋（间）", "Houses collapsed"),
    ("houses_damaged", "损坏房屋（间）", "Houses damaged"),
];

impl ReportFields {
    /// A counted field by its name (see [`COUNTS`]).
    pub fn count(&self, name: &str) -> Option<i64> {
        match name {
            "deaths" => self.deaths,
            "missing" => self.missing,
            "injured" => self.injured,
            "affected" => self.affected,
            "relocated" => self.relocated,
            "houses_collapsed" => self.houses_collapsed,
            "houses_damaged" => self.houses_damaged,
            _ => None,
        }
    }
}

/// A report made or edited (POST: `kind`; PUT: `version`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentReportInput {
    /// initial (初报) | followup (续报) | verified (核报): when making a report.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// The version the edit was made from: when editing. Someone else's
    /// later version answers 409.
    #[serde(default)]
    pub version: Option<i64>,
    /// When editing: generate the facts again (otherwise the edited
    /// version's facts are kept).
    #[serde(default)]
    pub refresh_facts: bool,
    #[serde(default)]
    pub deaths: Option<i64>,
    #[serde(default)]
    pub missing: Option<i64>,
    #[serde(default)]
    pub injured: Option<i64>,
    #[serde(default)]
    pub affected: Option<i64>,
    /// Left out: the people moved out as the transfers count them.
    #[serde(default)]
    pub relocated: Option<i64>,
    #[serde(default)]
    pub houses_collapsed: Option<i64>,
    #[serde(default)]
    pub houses_damaged: Option<i64>,
    /// 万元.
    #[serde(default)]
    pub economic_loss: Option<f64>,
    #[serde(default)]
    pub situation: Option<String>,
    #[serde(default)]
    pub handling: Option<String>,
    #[serde(default)]
    pub reporter: Option<String>,
    #[serde(default)]
    pub signer: Option<String>,
}

const MAX_COUNT: i64 = 100_000_000;

fn fe(field: &str, message: impl Into<String>) -> WriteError {
    WriteError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

impl IncidentReportInput {
    /// The fields as they will be kept: numbers 0 or more, texts trimmed;
    /// 紧急转移人数 left out is the transfers' figure.
    fn fields(&self, facts: &ReportFacts) -> std::result::Result<ReportFields, WriteError> {
        let count = |name: &str, v: Option<i64>| match v {
            Some(n) if n < 0 => Err(fe(name, "must be 0 or more")),
            Some(n) if n > MAX_COUNT => Err(fe(name, format!("must be at most {MAX_COUNT}"))),
            v => Ok(v),
        };
        let economic_loss = match self.economic_loss {
            Some(x) if !x.is_finite() || x < 0.0 => {
                return Err(fe("economic_loss", "must be 0 or more (万元)"));
            }
            Some(x) if x > 1e9 => return Err(fe("economic_loss", "must be at most 1000000000")),
            x => x,
        };
        let relocated = count("relocated", self.relocated)?
            .or_else(|| facts.transfers.as_ref().map(|t| t.totals.moved.persons));
        Ok(ReportFields {
            deaths: count("deaths", self.deaths)?,
            missing: count("missing", self.missing)?,
            injured: count("injured", self.injured)?,
            affected: count("affected", self.affected)?,
            relocated,
            houses_collapsed: count("houses_collapsed", self.houses_collapsed)?,
            houses_damaged: count("houses_damaged", self.houses_damaged)?,
            economic_loss,
            situation: optional_text("situation", &self.situation, 4000)?,
            handling: optional_text("handling", &self.handling, 4000)?,
            reporter: optional_line("reporter", &self.reporter, 64)?,
            signer: optional_line("signer", &self.signer, 64)?,
        })
    }
}

/// One line of the time line, in words.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactLine {
    pub at: String,
    pub at_ms: i64,
    pub what: String,
    pub level: Option<i64>,
    pub alert_id: Option<i64>,
    pub actor: String,
}

/// A notice of the incident and how it was answered.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoticeFact {
    pub alert_id: i64,
    pub title: String,
    pub at: String,
    pub at_ms: i64,
    pub recipients: i64,
    pub answered: i64,
    pub answer_rate: f64,
}

/// One village's answers to the incident's notices (`village_id` null: the
/// township's own contacts, 乡级).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VillageAnswers {
    pub village_id: Option<i64>,
    pub village: String,
    /// Notices that reached the village.
    pub notices: i64,
    /// People told, over all those notices.
    pub recipients: i64,
    pub answered: i64,
    pub answer_rate: f64,
    /// Notice by notice.
    pub by_notice: Vec<NoticeFact>,
}

/// One zone's row of the transfer table.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferRowFact {
    pub village: String,
    pub zone: String,
    pub stage: String,
    pub planned: Count,
    pub vulnerable: i64,
    pub moved: Count,
    pub at_shelters: i64,
    pub refused: Count,
    pub away: Count,
    pub unknown: Count,
    pub returned: Option<i64>,
}

/// The transfers of the incident as the transfer table counts them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferFacts {
    /// The transfer table's text to report upward.
    pub text: String,
    pub totals: Figures,
    pub returned: i64,
    pub rows: Vec<TransferRowFact>,
}

/// A reply to one of the incident's notices (or transfers) that reported danger.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DangerReply {
    pub id: i64,
    pub at: String,
    pub at_ms: i64,
    pub phone: String,
    pub name: Option<String>,
    pub village: Option<String>,
    pub text: String,
    pub alert_id: Option<i64>,
    pub handled: bool,
}

/// What the system knew of the incident when a report version was made.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportFacts {
    pub generated_at: String,
    pub generated_at_ms: i64,
    pub incident_id: i64,
    pub plan: String,
    pub plan_title: String,
    pub exercise: bool,
    /// open | closed …
    pub status: String,
    pub opened_at: String,
    pub opened_at_ms: i64,
    pub closed_at: Option<String>,
    /// The current response level (4 = Ⅳ … 1 = Ⅰ) and in words.
    pub level: i64,
    pub level_label: String,
    /// The villages of the incident, by name.
    pub villages: Vec<String>,
    pub timeline: Vec<FactLine>,
    pub notices: Vec<NoticeFact>,
    /// Per village: notices sent, people told, answered, answer rate.
    pub village_answers: Vec<VillageAnswers>,
    /// Null when the incident ordered no transfer.
    pub transfers: Option<TransferFacts>,
    pub danger_replies: Vec<DangerReply>,
}

fn rate(answered: i64, n: i64) -> f64 {
    if n == 0 {
        0.0
    } else {
        answered as f64 / n as f64
    }
}

/// An event of the time line in a sentence, in Chinese (reports upward are).
fn event_zh(e: &Event, names: &HashMap<i64, String>) -> String {
    let villages = |v: &[i64]| {
        v.iter()
            .filter_map(|id| names.get(id).map(String::as_str))
            .collect::<Vec<_>>()
            .join("、")
    };
    let level = |l: i64| template::level_zh(Some(l));
    match e {
        Event::Open { villages: v, .. } => format!("启动响应，范围：{}", villages(v)),
        Event::Level {
            from,
            to,
            villages: v,
        } => {
            format!(
                "响应级别由{}调整为{}，范围：{}",
                level(*from),
                level(*to),
                villages(v)
            )
        }
        Event::Notice {
            title, recipients, ..
        } => format!("发出通知：{}（{recipients}人）", template::display(title)),
        Event::NoticeSkipped { title, reason, .. } => {
            format!("通知未发出：{}（{reason}）", template::display(title))
        }
        Event::AllClear { recipients } => format!("发出解除通知（{recipients}人）"),
        Event::Close { note } => match note {
            Some(n) if !n.trim().is_empty() => format!("结束响应：{n}"),
            _ => "结束响应".into(),
        },
        Event::NoticeAwaiting { title, .. } => format!("公开通知待签发：{title}"),
        Event::NoticeApproved { title, recipients } => {
            format!("公开通知已签发：{title}（{recipients}人）")
        }
        Event::NoticeRejected { title, reason } => format!("公开通知被退回：{title}（{reason}）"),
        Event::ActivationRequested { level: l, .. } => {
            format!("申请{}响应，待带班领导确认", level(*l))
        }
        Event::ActivationConfirmed { level: l, .. } => format!("带班领导确认{}响应", level(*l)),
        Event::ActivationRejected {
            level: l, reason, ..
        } => format!("带班领导未同意{}响应：{reason}", level(*l)),
        Event::CountyReport {
            county_title,
            recipients,
            reason,
            ..
        } => match reason {
            None => format!("依据{county_title}报县应急局（{recipients}人）"),
            Some(r) => format!("未能报县：{r}"),
        },
        Event::Other { kind } => kind.clone(),
    }
}

#[derive(sqlx::FromRow)]
struct DangerRow {
    id: i64,
    received_at: i64,
    phone: String,
    name: Option<String>,
    village: Option<String>,
    text: String,
    alert_id: Option<i64>,
    handled_at: Option<i64>,
}

/// The facts of `inc` now, for a report of `kind`: `office` names the
/// township in the transfer text, `plan_title` the plan.
pub async fn facts(
    db: &Db,
    inc: &IncidentRow,
    kind: Kind,
    office: &str,
    plan_title: &str,
    tz: chrono_tz::Tz,
) -> Result<ReportFacts> {
    let tl = super::timeline(db, inc, tz).await?;
    let names = crate::registry::villages::names(db).await?;
    let mut notices = Vec::new();
    let mut by_village: BTreeMap<Option<i64>, VillageAnswers> = BTreeMap::new();
    let mut timeline = Vec::new();
    for e in &tl.timeline {
        timeline.push(FactLine {
            at: e.at.clone(),
            at_ms: e.at_ms,
            what: event_zh(&e.event, &names),
            level: e.level,
            alert_id: e.alert_id,
            actor: e.actor.clone(),
        });
        // The notices that ask for an answer: the level's and the approved
        // public ones (not the all-clear, nor the report to the county).
        let asks = matches!(e.event, Event::Notice { .. } | Event::NoticeApproved { .. });
        let (Some(alert_id), Some(n), true) = (e.alert_id, &e.notice, asks) else {
            continue;
        };
        let title = template::display(&n.title);
        let mut recipients = 0;
        for v in &n.villages {
            let told = (v.answered.len() + v.not_answered.len()) as i64;
            let answered = v.answered.len() as i64;
            recipients += told;
            let entry = by_village
                .entry(v.village_id)
                .or_insert_with(|| VillageAnswers {
                    village_id: v.village_id,
                    village: v.village.clone(),
                    notices: 0,
                    recipients: 0,
                    answered: 0,
                    answer_rate: 0.0,
                    by_notice: Vec::new(),
                });
            entry.notices += 1;
            entry.recipients += told;
            entry.answered += answered;
            entry.by_notice.push(NoticeFact {
                alert_id,
                title: title.clone(),
                at: e.at.clone(),
                at_ms: e.at_ms,
                recipients: told,
                answered,
                answer_rate: rate(answered, told),
            });
        }
        notices.push(NoticeFact {
            alert_id,
            title,
            at: e.at.clone(),
            at_ms: e.at_ms,
            recipients,
            answered: n.answered,
            answer_rate: rate(n.answered, recipients),
        });
    }
    // Villages first in registry order, the township's own contacts last.
    let mut village_answers: Vec<VillageAnswers> = by_village
        .into_values()
        .map(|mut v| {
            v.answer_rate = rate(v.answered, v.recipients);
            v
        })
        .collect();
    village_answers.sort_by_key(|v| (v.village_id.is_none(), v.village_id));

    let table = board::table(db, tz, inc.id).await?;
    let transfers = (!table.rows.is_empty()).then(|| TransferFacts {
        text: board::upward_text(office, &table, kind == Kind::Initial, tz),
        totals: table.totals.clone(),
        returned: table.returned,
        rows: table
            .rows
            .iter()
            .map(|r| TransferRowFact {
                village: r.village.clone(),
                zone: r.zone.clone(),
                stage: r.stage.to_string(),
                planned: r.planned,
                vulnerable: r.vulnerable,
                moved: r.moved,
                at_shelters: r.at_shelters,
                refused: r.refused,
                away: r.away,
                unknown: r.unknown,
                returned: r.returned,
            })
            .collect(),
    });

    // Danger reported in reply to the incident's notices, its transfers'
    // notices, or as a transfer report.
    let mut tx = db.read().await?;
    let rows: Vec<DangerRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT m.id, m.received_at, m.phone, r.name, v.name AS village, m.text, m.alert_id, m.handled_at \
         FROM inbound_messages m LEFT JOIN alert_recipients r ON r.id = m.recipient_id \
         LEFT JOIN villages v ON v.id = r.village_id \
         WHERE m.danger = 1 AND {} AND (\
         m.alert_id IN (SELECT alert_id FROM incident_events WHERE incident_id = $1 AND alert_id IS NOT NULL) \
         OR m.alert_id IN (SELECT n.alert_id FROM transfer_notices n JOIN transfers t ON t.id = n.transfer_id WHERE t.incident_id = $1) \
         OR m.transfer_id IN (SELECT id FROM transfers WHERE incident_id = $1)) ORDER BY m.id",
        db.township_filter("m.township_id")
    )))
    .bind(inc.id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let danger_replies = rows
        .into_iter()
        .map(|r| DangerReply {
            id: r.id,
            at: crate::time::fmt_ms(r.received_at, tz),
            at_ms: r.received_at,
            phone: r.phone,
            name: r.name,
            village: r.village,
            text: r.text,
            alert_id: r.alert_id,
            handled: r.handled_at.is_some(),
        })
        .collect();
    let now = now_ms();
    Ok(ReportFacts {
        generated_at: crate::time::fmt_ms(now, tz),
        generated_at_ms: now,
        incident_id: inc.id,
        plan: inc.plan_id.clone(),
        plan_title: plan_title.to_string(),
        exercise: inc.exercise != 0,
        status: inc.status.clone(),
        opened_at: crate::time::fmt_ms(inc.opened_at, tz),
        opened_at_ms: inc.opened_at,
        closed_at: crate::time::fmt_opt(inc.closed_at, tz),
        level: inc.level,
        level_label: template::level_zh(Some(inc.level)).to_string(),
        villages: inc
            .village_ids()
            .iter()
            .filter_map(|v| names.get(v).cloned())
            .collect(),
        timeline,
        notices,
        village_answers,
        transfers,
        danger_replies,
    })
}

/// A report as lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentReportSummary {
    pub id: i64,
    pub incident_id: i64,
    pub kind: Kind,
    /// 续报: 1, 2 …; 初报 and 核报: 1.
    pub number: i64,
    /// 初报, 续报一, 核报.
    pub label: String,
    /// The latest version.
    pub version: i64,
    /// Sample data (示例).
    pub sample: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// One version of a report: what the office wrote and the facts of then.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportVersion {
    pub version: i64,
    pub made_by: String,
    pub made_at: String,
    pub made_at_ms: i64,
    #[serde(flatten)]
    pub fields: ReportFields,
    pub facts: ReportFacts,
}

/// A report with every version, oldest first (the last is the current one).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentReport {
    #[serde(flatten)]
    pub report: IncidentReportSummary,
    pub versions: Vec<ReportVersion>,
}

impl IncidentReport {
    /// A version by number; None for one that is not there.
    pub fn at(&self, version: i64) -> Option<&ReportVersion> {
        self.versions.iter().find(|v| v.version == version)
    }
    pub fn current(&self) -> Option<&ReportVersion> {
        self.versions.last()
    }
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    incident_id: i64,
    kind: String,
    number: i64,
    version: i64,
    sample: i64,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

const REPORT_COLS: &str =
    "id, incident_id, kind, number, version, sample, created_by, created_at, updated_at";

impl ReportRow {
    fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Followup)
    }
    fn summary(&self, tz: chrono_tz::Tz) -> IncidentReportSummary {
        IncidentReportSummary {
            id: self.id,
            incident_id: self.incident_id,
            kind: self.kind(),
            number: self.number,
            label: label(self.kind(), self.number),
            version: self.version,
            sample: self.sample != 0,
            created_by: self.created_by.clone(),
            created_at: crate::time::fmt_ms(self.created_at, tz),
            updated_at: crate::time::fmt_ms(self.updated_at, tz),
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    facts: String,
    deaths: Option<i64>,
    missing: Option<i64>,
    injured: Option<i64>,
    affected: Option<i64>,
    relocated: Option<i64>,
    houses_collapsed: Option<i64>,
    houses_damaged: Option<i64>,
    economic_loss: Option<f64>,
    situation: Option<String>,
    handling: Option<String>,
    reporter: Option<String>,
    signer: Option<String>,
    made_by: String,
    made_at: i64,
}

const VERSION_COLS: &str = "version, facts, deaths, missing, injured, affected, relocated, houses_collapsed, houses_damaged, \
    economic_loss, situation, handling, reporter, signer, made_by, made_at";

impl VersionRow {
    fn fields(&self) -> ReportFields {
        ReportFields {
            deaths: self.deaths,
            missing: self.missing,
            injured: self.injured,
            affected: self.affected,
            relocated: self.relocated,
            houses_collapsed: self.houses_collapsed,
            houses_damaged: self.houses_damaged,
            economic_loss: self.economic_loss,
            situation: self.situation.clone(),
            handling: self.handling.clone(),
            reporter: self.reporter.clone(),
            signer: self.signer.clone(),
        }
    }
}

/// The reports of an incident (which the caller has found in scope), in
/// the order they were made.
pub async fn list(db: &Db, incident: i64, tz: chrono_tz::Tz) -> Result<Vec<IncidentReportSummary>> {
    let mut tx = db.read().await?;
    let rows: Vec<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLS} FROM incident_reports WHERE incident_id = $1 AND {} ORDER BY id",
        db.township_filter("township_id")
    )))
    .bind(incident)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.iter().map(|r| r.summary(tz)).collect())
}

/// One report with all its versions, if the handle's scope covers it.
pub async fn get(db: &Db, id: i64, tz: chrono_tz::Tz) -> Result<Option<IncidentReport>> {
    let mut tx = db.read().await?;
    let row: Option<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REPORT_COLS} FROM incident_reports WHERE id = $1 AND {}",
        db.township_filter("township_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let versions: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLS} FROM incident_report_versions WHERE report_id = $1 AND {} ORDER BY version",
        db.township_filter("township_id")
    )))
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for v in versions {
        let facts: ReportFacts = serde_json::from_str(&v.facts).map_err(|e| {
            crate::store::StoreError::Corrupt(format!("report {id} version {}: {e}", v.version))
        })?;
        out.push(ReportVersion {
            version: v.version,
            made_by: v.made_by.clone(),
            made_at: crate::time::fmt_ms(v.made_at, tz),
            made_at_ms: v.made_at,
            fields: v.fields(),
            facts,
        });
    }
    Ok(Some(IncidentReport {
        report: row.summary(tz),
        versions: out,
    }))
}

/// What the audit trail keeps of a version.
fn audited(label: &str, version: i64, f: &ReportFields) -> Value {
    json!({
        "name": label, "version": version,
        "deaths": f.deaths, "missing": f.missing, "injured": f.injured, "affected": f.affected,
        "relocated": f.relocated, "houses_collapsed": f.houses_collapsed, "houses_damaged": f.houses_damaged,
        "economic_loss": f.economic_loss, "situation": f.situation, "handling": f.handling,
        "reporter": f.reporter, "signer": f.signer,
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_version(
    tx: &mut crate::store::Tx,
    township: i64,
    report: i64,
    version: i64,
    facts: &ReportFacts,
    f: &ReportFields,
    by: &str,
    at: i64,
) -> Result<()> {
    let facts = serde_json::to_string(facts)
        .map_err(|e| crate::store::StoreError::Corrupt(format!("report facts: {e}")))?;
    sqlx::query(
        "INSERT INTO incident_report_versions (township_id, report_id, version, facts, deaths, missing, injured, affected, \
         relocated, houses_collapsed, houses_damaged, economic_loss, situation, handling, reporter, signer, made_by, made_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(township)
    .bind(report)
    .bind(version)
    .bind(facts)
    .bind(f.deaths)
    .bind(f.missing)
    .bind(f.injured)
    .bind(f.affected)
    .bind(f.relocated)
    .bind(f.houses_collapsed)
    .bind(f.houses_damaged)
    .bind(f.economic_loss)
    .bind(f.situation.clone())
    .bind(f.handling.clone())
    .bind(f.reporter.clone())
    .bind(f.signer.clone())
    .bind(by)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes a report of `inc` (found in the handle's scope) with the facts
/// generated for it: the 初报 once, 续报 numbered on, the 核报 once, and
/// neither of those before the 初报. `sample` marks sample data. Audited.
pub async fn create(
    db: &Db,
    by: &str,
    inc: &IncidentRow,
    input: &IncidentReportInput,
    facts: ReportFacts,
    sample: bool,
    tz: chrono_tz::Tz,
) -> std::result::Result<IncidentReport, WriteError> {
    let kind = input.kind.ok_or_else(|| {
        fe(
            "kind",
            "name the report: initial (初报), followup (续报) or verified (核报)",
        )
    })?;
    if input.version.is_some() {
        return Err(fe(
            "version",
            "a new report has no version; edit one with PUT",
        ));
    }
    let fields = input.fields(&facts)?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let made: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT kind, number FROM incident_reports WHERE incident_id = $1 AND {}",
        db.township_filter("township_id")
    )))
    .bind(inc.id)
    .fetch_all(&mut *tx)
    .await?;
    let has = |k: Kind| made.iter().any(|(m, _)| m == k.as_str());
    match kind {
        Kind::Initial if has(Kind::Initial) => {
            return Err(WriteError::Conflict(
                "本事件已有初报，请修改初报或作续报 / the incident has its initial report: edit it or make a follow-up".into(),
            ));
        }
        Kind::Followup | Kind::Verified if !has(Kind::Initial) => {
            return Err(fe(
                "kind",
                "须先有初报 / an initial report (初报) must come first",
            ));
        }
        Kind::Verified if has(Kind::Verified) => {
            return Err(WriteError::Conflict(
                "本事件已有核报，请修改核报 / the incident has its verified report: edit it".into(),
            ));
        }
        _ => {}
    }
    let number = match kind {
        Kind::Followup => {
            made.iter()
                .filter(|(m, _)| m == Kind::Followup.as_str())
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0)
                + 1
        }
        _ => 1,
    };
    let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO incident_reports (township_id, incident_id, kind, number, version, sample, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7) RETURNING id",
    )
    .bind(inc.township_id)
    .bind(inc.id)
    .bind(kind.as_str())
    .bind(number)
    .bind(i64::from(sample))
    .bind(by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await;
    let (id,) = match inserted.map_err(WriteError::from) {
        Ok(id) => id,
        // Two offices saving the same 续报 number at once: the second is told.
        Err(e) if crate::store::versioned::is_unique_violation(&e) => {
            return Err(WriteError::Conflict(
                "同时有人保存了同一份报告，请刷新后重试 / someone saved the same report at the same moment: reload and try again".into(),
            ));
        }
        Err(e) => return Err(e),
    };
    insert_version(&mut tx, inc.township_id, id, 1, &facts, &fields, by, now).await?;
    crate::audit::record(
        &mut tx,
        by,
        "create",
        "incident_report",
        Some(id),
        None,
        Some(&audited(&label(kind, number), 1, &fields)),
    )
    .await?;
    tx.commit().await?;
    get(db, id, tz).await?.ok_or(WriteError::NotFound)
}

/// Saves a new version of report `id` from `input` (its `version` the one
/// the edit was made from: another's later version is a conflict). The
/// facts are `refreshed` when given, else the edited version's. Audited.
pub async fn revise(
    db: &Db,
    by: &str,
    id: i64,
    input: &IncidentReportInput,
    refreshed: Option<ReportFacts>,
    tz: chrono_tz::Tz,
) -> std::result::Result<IncidentReport, WriteError> {
    let seen = input
        .version
        .ok_or_else(|| fe("version", "give the version this edit was made from"))?;
    let current = get(db, id, tz).await?.ok_or(WriteError::NotFound)?;
    if let Some(k) = input.kind
        && k != current.report.kind
    {
        return Err(fe(
            "kind",
            "a report's kind cannot change; make a new report",
        ));
    }
    let latest = current.current().ok_or(WriteError::NotFound)?;
    if seen != current.report.version {
        return Err(stale(current.report.version, &latest.made_by));
    }
    let facts = refreshed.unwrap_or_else(|| latest.facts.clone());
    let fields = input.fields(&facts)?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let (township,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT township_id FROM incident_reports WHERE id = $1 AND {}",
        db.township_filter("township_id")
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(WriteError::NotFound)?;
    // Compare and set: of two edits of the same version, one is saved.
    let done = sqlx::query(
        "UPDATE incident_reports SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3",
    )
    .bind(now)
    .bind(id)
    .bind(seen)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Err(stale(seen + 1, "?"));
    }
    let version = seen + 1;
    insert_version(&mut tx, township, id, version, &facts, &fields, by, now).await?;
    let name = current.report.label.clone();
    crate::audit::record(
        &mut tx,
        by,
        "update",
        "incident_report",
        Some(id),
        Some(&audited(&name, seen, &latest.fields)),
        Some(&audited(&name, version, &fields)),
    )
    .await?;
    tx.commit().await?;
    get(db, id, tz).await?.ok_or(WriteError::NotFound)
}

fn stale(now: i64, by: &str) -> WriteError {
    WriteError::Conflict(format!(
        "报告已被修改（现为第{now}版，{by}），请刷新后再改 / the report was changed meanwhile (now version {now}, by {by}): reload it and edit again"
    ))
}

/// The latest version's fields of the newest report of an incident: what a
/// new report's form starts from (the figures carry on).
pub async fn latest_fields(db: &Db, incident: i64) -> Result<Option<ReportFields>> {
    let mut tx = db.read().await?;
    let row: Option<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLS} FROM incident_report_versions WHERE {} AND report_id = \
         (SELECT MAX(r.id) FROM incident_reports r WHERE r.incident_id = $1) ORDER BY version DESC LIMIT 1",
        db.township_filter("township_id")
    )))
    .bind(incident)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.fields()))
}

/// Which kinds may be made next for an incident with these reports.
pub fn next_kinds(made: &[IncidentReportSummary]) -> Vec<Kind> {
    let has = |k: Kind| made.iter().any(|r| r.kind == k);
    if !has(Kind::Initial) {
        return vec![Kind::Initial];
    }
    let mut out = vec![Kind::Followup];
    if !has(Kind::Verified) {
        out.push(Kind::Verified);
    }
    out
}

/// A rate as the workbook and the page write it: 66.7 (per cent).
pub fn percent(rate: f64) -> f64 {
    (rate * 1000.0).round() / 10.0
}

/// The report fields' rows of the workbook's first sheet: (项目, value).
pub fn field_rows(
    r: &IncidentReportSummary,
    v: &ReportVersion,
    tz: chrono_tz::Tz,
) -> Vec<(String, Cell)> {
    let f = &v.fields;
    let facts = &v.facts;
    let opt_count = |n: Option<i64>| n.map_or(Cell::Blank, |n| Cell::num(n as f64));
    let mut rows = vec![
        ("报告类别".to_string(), Cell::text(&r.label)),
        ("版本".to_string(), Cell::num(v.version as f64)),
        (
            "事件".to_string(),
            Cell::text(format!("事件#{}", r.incident_id)),
        ),
        ("预案".to_string(), Cell::text(&facts.plan_title)),
        (
            "性质".to_string(),
            Cell::text(if facts.exercise { "演练" } else { "实战" }),
        ),
        (
            "启动时间".to_string(),
            Cell::at_ms(Some(facts.opened_at_ms), tz),
        ),
        ("当前响应级别".to_string(), Cell::text(&facts.level_label)),
        ("涉及村".to_string(), Cell::text(facts.villages.join("、"))),
        (
            "数据截至".to_string(),
            Cell::at_ms(Some(facts.generated_at_ms), tz),
        ),
    ];
    for (name, zh, _) in COUNTS {
        rows.push((zh.to_string(), opt_count(f.count(name))));
    }
    rows.push((
        "直接经济损失（万元）".into(),
        Cell::opt_num(f.economic_loss),
    ));
    rows.push(("基本情况".into(), Cell::opt(&f.situation)));
    rows.push(("处置情况".into(), Cell::opt(&f.handling)));
    rows.push(("报告人".into(), Cell::opt(&f.reporter)));
    rows.push(("签发领导".into(), Cell::opt(&f.signer)));
    let (told, answered) = facts
        .notices
        .iter()
        .fold((0, 0), |(t, a), n| (t + n.recipients, a + n.answered));
    rows.push((
        "发出通知（条）".into(),
        Cell::num(facts.notices.len() as f64),
    ));
    rows.push(("通知人次".into(), Cell::num(told as f64)));
    rows.push(("已确认人次".into(), Cell::num(answered as f64)));
    rows.push((
        "确认率（%）".into(),
        Cell::num(percent(rate(answered, told))),
    ));
    rows.push((
        "群众转移".into(),
        facts
            .transfers
            .as_ref()
            .map_or(Cell::Blank, |t| Cell::text(&t.text)),
    ));
    rows.push((
        "险情回复（条）".into(),
        Cell::num(facts.danger_replies.len() as f64),
    ));
    rows
}

/// A sheet name Excel accepts: no `[]:*?/\`, at most 31 characters, unique.
fn sheet_name(name: &str, taken: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(28)
        .collect();
    let clean = if clean.trim().is_empty() {
        "村".to_string()
    } else {
        clean
    };
    let mut out = clean.clone();
    let mut k = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&out)) {
        out = format!("{clean}({k})");
        k += 1;
    }
    taken.push(out.clone());
    out
}

/// The report (one version) as a workbook: the report's fields, each
/// village's answers, the time line and the danger replies, then a sheet
/// per village with its notices and answers.
pub fn workbook(
    r: &IncidentReport,
    v: &ReportVersion,
    office: &str,
    by: &str,
    at: &str,
    tz: chrono_tz::Tz,
) -> std::result::Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let s = &r.report;
    let facts = &v.facts;
    let head = format!("{office} {}（第{}版）", s.label, v.version);
    let mut taken: Vec<String> = vec![
        "报告".into(),
        "各村叫应".into(),
        "时间线".into(),
        "险情回复".into(),
    ];
    let fields = field_rows(s, v, tz);
    let mut sheets = vec![
        Sheet {
            name: "报告".into(),
            title: format!("{head} 事件#{}", s.incident_id),
            subtitle: workbook::exported_line(by, at, fields.len(), "项"),
            columns: workbook::cols(&[("项目", 22.0), ("内容", 80.0)]),
            rows: fields
                .into_iter()
                .map(|(k, c)| vec![Cell::text(k), c])
                .collect(),
            frozen_columns: 1,
        },
        Sheet {
            name: "各村叫应".into(),
            title: format!("{head} 各村通知与叫应"),
            subtitle: workbook::exported_line(by, at, facts.village_answers.len(), "个村"),
            columns: workbook::cols(&[
                ("村", 14.0),
                ("通知（条）", 10.0),
                ("通知人次", 10.0),
                ("已确认人次", 10.0),
                ("确认率（%）", 10.0),
            ]),
            rows: facts
                .village_answers
                .iter()
                .map(|a| {
                    vec![
                        Cell::text(&a.village),
                        Cell::num(a.notices as f64),
                        Cell::num(a.recipients as f64),
                        Cell::num(a.answered as f64),
                        Cell::num(percent(a.answer_rate)),
                    ]
                })
                .collect(),
            frozen_columns: 1,
        },
        Sheet {
            name: "时间线".into(),
            title: format!("{head} 时间线"),
            subtitle: workbook::exported_line(by, at, facts.timeline.len(), "条"),
            columns: workbook::cols(&[("时间", 17.0), ("事项", 70.0), ("操作人", 18.0)]),
            rows: facts
                .timeline
                .iter()
                .map(|l| {
                    vec![
                        Cell::at_ms(Some(l.at_ms), tz),
                        Cell::text(&l.what),
                        Cell::text(&l.actor),
                    ]
                })
                .collect(),
            frozen_columns: 1,
        },
        Sheet {
            name: "险情回复".into(),
            title: format!("{head} 报告险情的回复"),
            subtitle: workbook::exported_line(by, at, facts.danger_replies.len(), "条"),
            columns: workbook::cols(&[
                ("时间", 17.0),
                ("村", 12.0),
                ("姓名", 10.0),
                ("号码", 15.0),
                ("内容", 50.0),
                ("已处理", 8.0),
            ]),
            rows: facts
                .danger_replies
                .iter()
                .map(|d| {
                    vec![
                        Cell::at_ms(Some(d.at_ms), tz),
                        Cell::opt(&d.village),
                        Cell::opt(&d.name),
                        Cell::text(crate::phone::dialled(&d.phone)),
                        Cell::text(&d.text),
                        Cell::text(if d.handled { "是" } else { "否" }),
                    ]
                })
                .collect(),
            frozen_columns: 1,
        },
    ];
    for a in &facts.village_answers {
        let mut rows: Vec<Vec<Cell>> = a
            .by_notice
            .iter()
            .map(|n| {
                vec![
                    Cell::text(&n.title),
                    Cell::at_ms(Some(n.at_ms), tz),
                    Cell::num(n.recipients as f64),
                    Cell::num(n.answered as f64),
                    Cell::num(percent(n.answer_rate)),
                ]
            })
            .collect();
        rows.push(vec![
            Cell::text("合计"),
            Cell::Blank,
            Cell::num(a.recipients as f64),
            Cell::num(a.answered as f64),
            Cell::num(percent(a.answer_rate)),
        ]);
        sheets.push(Sheet {
            name: sheet_name(&a.village, &mut taken),
            title: format!("{head} {} 通知与叫应", a.village),
            subtitle: workbook::exported_line(by, at, a.by_notice.len(), "条通知"),
            columns: workbook::cols(&[
                ("通知", 36.0),
                ("发出时间", 17.0),
                ("通知人数", 10.0),
                ("已确认", 10.0),
                ("确认率（%）", 10.0),
            ]),
            rows,
            frozen_columns: 1,
        });
    }
    workbook::write(&sheets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_numbered_in_chinese() {
        assert_eq!(label(Kind::Initial, 1), "初报");
        assert_eq!(label(Kind::Followup, 1), "续报一");
        assert_eq!(label(Kind::Followup, 10), "续报十");
        assert_eq!(label(Kind::Followup, 12), "续报十二");
        assert_eq!(label(Kind::Followup, 20), "续报二十");
        assert_eq!(label(Kind::Followup, 35), "续报三十五");
        assert_eq!(label(Kind::Verified, 1), "核报");
    }

    #[test]
    fn what_may_come_next() {
        assert_eq!(next_kinds(&[]), vec![Kind::Initial]);
    }

    #[test]
    fn sheet_names_excel_accepts() {
        let mut taken = vec!["报告".to_string()];
        assert_eq!(sheet_name("报告", &mut taken), "报告(2)");
        assert_eq!(sheet_name("a/b", &mut taken), "a_b");
        assert_eq!(sheet_name("", &mut taken), "村");
    }
}

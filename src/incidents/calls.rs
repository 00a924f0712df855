//! An incident's 叫应 record: for every notice of the incident, one line per
//! person it reached: when it went out, by which channel, whether it was
//! delivered, who answered, how fast and how, and to whom a silent person
//! was escalated. The API's list and the workbook are the same rows.

use std::collections::{BTreeSet, HashMap};

use rust_xlsxwriter::XlsxError;
use serde::Serialize;

use crate::store::{Db, StoreError};
use crate::workbook::{Cell, Heading};

/// Someone a silent person's notice was escalated to (催办).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallEscalation {
    pub name: String,
    /// When they were told (RFC 3339, local).
    pub at: String,
}

/// One person on one notice of the incident.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub alert_id: i64,
    /// 通知: the notice's title.
    pub notice: String,
    pub recipient_id: i64,
    /// target (as addressed) or escalation (told because someone was silent).
    pub reason: String,
    /// When the notice went to this person (RFC 3339, local).
    pub sent_at: String,
    /// None: township level (乡级).
    pub village_id: Option<i64>,
    pub village: String,
    pub name: String,
    /// 职务: the contact's roles.
    pub title: String,
    /// The number it went to, as dialled.
    pub phone: Option<String>,
    /// sms, email.
    pub channels: Vec<String>,
    /// sent, pending, failed, cancelled or none (no delivery).
    pub delivery: String,
    pub delivery_label: &'static str,
    pub answered_at: Option<String>,
    /// Minutes from the notice to the answer (one decimal).
    pub answer_minutes: Option<f64>,
    /// sms (回复短信), link (链接) or phone (人工标记).
    pub via: Option<String>,
    pub via_label: Option<&'static str>,
    pub escalated_to: Vec<CallEscalation>,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    alert_id: i64,
    title: String,
    contact_id: Option<i64>,
    name: String,
    phone: Option<String>,
    village_id: Option<i64>,
    reason: String,
    notified_at: i64,
    answered_at: Option<i64>,
    answer_via: Option<String>,
}

/// The incident's own notices (a report to the county is the county's).
const NOTICES: &str = "SELECT alert_id FROM incident_events WHERE incident_id = $1 \
    AND alert_id IS NOT NULL AND kind <> 'county_report'";

pub fn channel_label(c: &str) -> &'static str {
    match c {
        "sms" => "短信",
        "email" => "邮件",
        "voice" => "语音电话",
        _ => "其他",
    }
}

pub fn via_label(v: &str) -> &'static str {
    match v {
        "sms" => "回复短信",
        "link" => "链接",
        "phone" => "人工标记",
        "voice" => "电话按键",
        _ => "其他",
    }
}

fn delivery_of(states: &BTreeSet<String>) -> (&'static str, &'static str) {
    let has = |s: &str| states.contains(s);
    if has("sent") {
        ("sent", "已送达")
    } else if has("queued") || has("sending") {
        ("pending", "发送中")
    } else if has("failed") {
        ("failed", "发送失败")
    } else if has("cancelled") {
        ("cancelled", "已取消")
    } else {
        ("none", "")
    }
}

/// The 叫应 record of an incident the handle's scope covers (`None`: no
/// such incident there); a village scope sees its village's people only.
pub async fn list(
    db: &Db,
    incident: i64,
    tz: chrono_tz::Tz,
) -> Result<Option<Vec<Call>>, StoreError> {
    if super::get(db, incident).await?.is_none() {
        return Ok(None);
    }
    let mut tx = db.read().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.alert_id, a.title, r.contact_id, r.name, r.phone, r.village_id, r.reason, r.notified_at, \
         r.answered_at, r.answer_via FROM alert_recipients r JOIN alerts a ON a.id = r.alert_id \
         WHERE r.alert_id IN ({NOTICES}) AND {} ORDER BY r.alert_id, r.village_id, r.escalation_order, r.id",
        db.village_filter("r.village_id")
    )))
    .bind(incident)
    .fetch_all(&mut *tx)
    .await?;
    let deliveries: Vec<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT recipient_id, channel, state FROM deliveries WHERE alert_id IN ({NOTICES}) ORDER BY id"
    )))
    .bind(incident)
    .fetch_all(&mut *tx)
    .await?;
    let escalations: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT escalated_from, name, notified_at FROM alert_recipients WHERE alert_id IN ({NOTICES}) \
         AND escalated_from IS NOT NULL ORDER BY id"
    )))
    .bind(incident)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut channels: HashMap<i64, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    for (r, channel, state) in deliveries {
        let e = channels.entry(r).or_default();
        e.0.insert(channel);
        e.1.insert(state);
    }
    let mut told: HashMap<i64, Vec<CallEscalation>> = HashMap::new();
    for (from, name, at) in escalations {
        told.entry(from).or_default().push(CallEscalation {
            name,
            at: crate::time::fmt_ms(at, tz),
        });
    }
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.contact_id).collect();
    let roles = crate::registry::contacts::roles_of(db, &ids).await?;
    let villages = crate::registry::villages::names(db).await?;
    let calls = rows
        .into_iter()
        .map(|r| {
            let (chans, states) = channels.remove(&r.id).unwrap_or_default();
            let (delivery, delivery_label) = delivery_of(&states);
            Call {
                alert_id: r.alert_id,
                notice: r.title,
                recipient_id: r.id,
                reason: r.reason,
                sent_at: crate::time::fmt_ms(r.notified_at, tz),
                village: r.village_id.map_or_else(
                    || crate::notify::response::status::TOWNSHIP_LEVEL.to_string(),
                    |v| villages.get(&v).cloned().unwrap_or_default(),
                ),
                village_id: r.village_id,
                name: r.name,
                title: r
                    .contact_id
                    .and_then(|c| roles.get(&c))
                    .map(|rs| rs.join("、"))
                    .unwrap_or_default(),
                phone: r.phone.as_deref().map(crate::phone::dialled),
                channels: chans.into_iter().collect(),
                delivery: delivery.to_string(),
                delivery_label,
                answered_at: crate::time::fmt_opt(r.answered_at, tz),
                answer_minutes: r
                    .answered_at
                    .map(|a| crate::workbook::minutes(a - r.notified_at)),
                via_label: r.answer_via.as_deref().map(via_label),
                via: r.answer_via,
                escalated_to: told.remove(&r.id).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Some(calls))
}

pub const COLUMNS: &[(&str, f64)] = &[
    ("序号", 6.0),
    ("通知", 28.0),
    ("发送时间", 17.0),
    ("村", 10.0),
    ("姓名", 10.0),
    ("职务", 16.0),
    ("电话", 15.0),
    ("渠道", 10.0),
    ("送达状态", 9.0),
    ("叫应时间", 17.0),
    ("用时(分钟)", 9.0),
    ("叫应方式", 10.0),
    ("催办", 30.0),
];

/// 催办 as one cell: each person told, with the time (2026-07-01 08:30).
pub fn escalation_text(c: &Call) -> String {
    c.escalated_to
        .iter()
        .map(|e| {
            let at = chrono::DateTime::parse_from_rfc3339(&e.at)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            format!("{} {at}", e.name)
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// One person's row, in the columns' order.
pub fn row(i: usize, c: &Call) -> Vec<Cell> {
    vec![
        Cell::num((i + 1) as f64),
        Cell::text(&c.notice),
        Cell::local(&Some(c.sent_at.clone())),
        Cell::text(&c.village),
        Cell::text(&c.name),
        Cell::text(&c.title),
        Cell::opt(&c.phone),
        Cell::text(
            c.channels
                .iter()
                .map(|x| channel_label(x))
                .collect::<Vec<_>>()
                .join("、"),
        ),
        Cell::text(c.delivery_label),
        Cell::local(&c.answered_at),
        Cell::opt_num(c.answer_minutes),
        Cell::text(c.via_label.unwrap_or_default()),
        Cell::text(escalation_text(c)),
    ]
}

pub fn workbook(h: &Heading, incident: i64, calls: &[Call]) -> Result<Vec<u8>, XlsxError> {
    let rows = calls.iter().enumerate().map(|(i, c)| row(i, c)).collect();
    h.workbook(&format!("事件{incident}叫应记录"), "人次", COLUMNS, rows, 2)
}

//! Public warnings: a notice marked public becomes a CAP 1.2 message, and
//! the active ones are listed in an Atom feed.

use chrono::{FixedOffset, TimeZone, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::geometry::{GeoLimits, Region, parse_area};
use crate::notify::intake::template;
use crate::notify::publishing::cap;
use crate::notify::response::status::AlertRow;
use crate::registry::villages;
use crate::store::{Db, StoreError};

fn local(ms: i64, tz: chrono_tz::Tz) -> chrono::DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&tz)
        .fixed_offset()
}

/// The issuing unit's code in the shape of GB/T 35965.1 (annex A.1.2,
/// `ZZZZZZDDDUUUXX`, 14 digits): the county's 6-digit GB/T 2260 code (the
/// first 6 of the township's 12-digit `area_code`), the unit's 3-digit
/// organisation code (`cap_unit_code`), the township's own 3 digits (the
/// 7th–9th of `area_code`) as the unit's internal second-level code, and
/// the 2-digit extension `00`. Used as CAP `<sender>`.
pub fn sender_code(cfg: &Config) -> String {
    let area = &cfg.area_code;
    let (county, township) = (
        area.get(..6).unwrap_or(area),
        area.get(6..9).unwrap_or("000"),
    );
    format!("{county}{}{township}00", cfg.cap_unit_code)
}

/// When a notice was published: its sign-off (a public notice goes out
/// when a leader approves it), or its creation.
pub fn published_ms(a: &AlertRow) -> i64 {
    a.signoff_at.unwrap_or(a.created_at)
}

/// A CAP identifier in the shape of GB/T 35965.1 (annex A.1.1):
/// `<sender code>_<YYYYMMDDhhmmss>_<N>`, 31 characters: the time of
/// publication in Beijing time, and N (0–9) numbering the unit's messages
/// of that second. N is the notice's id modulo 10: ten notices published
/// in one second get ten different digits, and the identifier of a
/// published notice never changes.
pub fn identifier(cfg: &Config, id: i64, published_ms: i64) -> String {
    let at = Utc
        .timestamp_millis_opt(published_ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&chrono_tz::Asia::Shanghai);
    format!(
        "{}_{}_{}",
        sender_code(cfg),
        at.format("%Y%m%d%H%M%S"),
        id.rem_euclid(10)
    )
}

/// The public page of a notice, for people (CAP `<web>`).
pub fn public_page(cfg: &Config, id: i64) -> String {
    format!("{}/public/warnings/{id}", cfg.public_base())
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot express alert as CAP: {0}")]
    Cap(String),
}

/// A public notice's title or text as the public reads it: the notice-wide
/// variables filled in. A public notice may not use a recipient's own
/// variables (refused when it is accepted); one stored before that check
/// reads them as neutral words, never as a raw `{name}`.
fn public_fill(cfg: &Config, a: &AlertRow, t: &str, title: &str) -> String {
    let value = |v: &str| match v {
        "level" => template::level_zh(a.level).to_string(),
        "level_en" => template::level_en(a.level).to_string(),
        "plan" => a.plan.clone().unwrap_or_default(),
        "title" => title.to_string(),
        "office" => cfg.office_name.clone(),
        "name" => "各位".to_string(),
        _ => String::new(),
    };
    template::render(t, value).unwrap_or_else(|_| t.replace(['{', '}'], ""))
}

/// The title as published, variables filled in.
pub fn public_title(cfg: &Config, a: &AlertRow) -> String {
    public_fill(cfg, a, &a.title, "")
}

/// The text as published, variables filled in.
pub fn public_body(cfg: &Config, a: &AlertRow) -> String {
    public_fill(cfg, a, &a.body, &public_title(cfg, a))
}

/// The headline: the level, unless the filled title names it already.
fn public_headline(cfg: &Config, a: &AlertRow) -> String {
    let title = public_title(cfg, a);
    let level = template::level_zh(a.level);
    if a.level.is_some() && !title.contains(level) {
        format!("{level}{title}")
    } else {
        title
    }
}

/// CAP `<geocode>` `valueName` of a village's 12-digit statistical division code.
pub const GEOCODE_NAME: &str = "统计用区划代码";

/// The area a notice was sent to, as CAP says it: a posted polygon as
/// posted (each polygon's outer ring), a posted circle as `<circle>`, the
/// boundaries of the villages named as targets, and the code of every
/// village concerned as a geocode. A village the area only touches is not
/// drawn whole: the warning does not cover all of it.
async fn cap_area(db: &Db, cfg: &Config, targets: &Value) -> Result<cap::Area, PublishError> {
    let ids: Vec<i64> = targets["villages"]
        .as_array()
        .map(|v| v.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let concerned: Vec<villages::VillageRow> = villages::list(db, true)
        .await?
        .into_iter()
        .filter(|v| ids.contains(&v.id))
        .collect();
    let request = &targets["request"];
    let named: Vec<i64> = match &request["villages"] {
        Value::String(s) if s == "all" => ids.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(|it| villages::find_ref(&concerned, it).map(|v| v.id))
            .collect(),
        _ => Vec::new(),
    };
    let mut area = cap::Area {
        area_desc: if concerned.is_empty() {
            cfg.office_name.clone()
        } else {
            concerned
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join("、")
        },
        ..Default::default()
    };
    // CAP points are latitude,longitude; CAP has no holes, so a hole is
    // published as part of the area (the safe side for a warning).
    let outer_rings = |region: &Region| -> Vec<Vec<(f64, f64)>> {
        region
            .shape
            .0
            .iter()
            .map(|poly| poly.exterior().0.iter().map(|c| (c.y, c.x)).collect())
            .collect()
    };
    for v in &concerned {
        // The village's 12-digit statistical division code where it is
        // registered; the office's own village code otherwise.
        area.geocodes.push(match &v.area_code {
            Some(code) => (GEOCODE_NAME.into(), code.clone()),
            None => ("village_code".into(), v.code.clone()),
        });
        if named.contains(&v.id)
            && let Some(region) = v.region()
        {
            area.polygons.extend(outer_rings(&region));
        }
    }
    let posted = &request["area"];
    if posted.is_object() && posted.get("circle").is_none() {
        match parse_area("area", posted, &GeoLimits::STORED) {
            Ok(region) => area.polygons.extend(outer_rings(&region)),
            // Checked when the notice was accepted; never expected.
            Err(e) => return Err(PublishError::Cap(format!("stored area: {e}"))),
        }
    }
    let c = &targets["circle"];
    if let (Some(lon), Some(lat), Some(r)) =
        (c["lon"].as_f64(), c["lat"].as_f64(), c["radius_m"].as_f64())
    {
        area.circles.push((lat, lon, r / 1000.0));
    }
    Ok(area)
}

/// The CAP message for a public alert.
pub async fn cap_xml(db: &Db, cfg: &Config, a: &AlertRow) -> Result<String, PublishError> {
    let tz = cfg.tz();
    let targets: Value = serde_json::from_str(&a.targets).unwrap_or(Value::Null);
    let area = cap_area(db, cfg, &targets).await?;
    let published = published_ms(a);
    let sent = local(published, tz);
    let level = a.level.and_then(|l| u8::try_from(l).ok());
    let mut references = Vec::new();
    if let Some(r) = a.references_alert {
        let orig: Option<(i64,)> =
            sqlx::query_as("SELECT COALESCE(signoff_at, created_at) FROM alerts WHERE id = $1")
                .bind(r)
                .fetch_optional(&db.pool)
                .await
                .map_err(StoreError::from)?;
        if let Some((at,)) = orig {
            references.push(cap::Reference {
                sender: sender_code(cfg),
                identifier: identifier(cfg, r, at),
                sent: local(at, tz),
            });
        }
    }
    let msg_type = match a.msg_type.as_str() {
        "Update" => cap::MsgType::Update,
        "Cancel" => cap::MsgType::Cancel,
        _ => cap::MsgType::Alert,
    };
    let info = cap::Info {
        language: "zh-CN".into(),
        categories: vec![cap::Category::Safety],
        event: a.plan.clone().unwrap_or_else(|| public_title(cfg, a)),
        urgency: if level.is_some() {
            cap::Urgency::Immediate
        } else {
            cap::Urgency::Expected
        },
        severity: cap::severity_for_level(level),
        certainty: if level.is_some() {
            cap::Certainty::Likely
        } else {
            cap::Certainty::Possible
        },
        sender_name: Some(cfg.office_name.clone()),
        headline: Some(public_headline(cfg, a)),
        description: Some(public_body(cfg, a)),
        web: Some(public_page(cfg, a.id)),
        areas: vec![area],
        ..Default::default()
    };
    let alert = cap::Alert {
        identifier: identifier(cfg, a.id, published),
        sender: sender_code(cfg),
        sent,
        status: if a.exercise != 0 {
            cap::Status::Exercise
        } else {
            cap::Status::Actual
        },
        msg_type,
        scope: cap::Scope::Public,
        note: None,
        references,
        incidents: None,
        infos: vec![info],
    };
    cap::xml::to_xml(&alert).map_err(|e| PublishError::Cap(e.to_string()))
}

/// The Atom feed of active public alerts.
pub async fn feed(db: &Db, cfg: &Config) -> Result<String, PublishError> {
    let tz = cfg.tz();
    let rows: Vec<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM alerts WHERE public = 1 AND status = 'active' ORDER BY id DESC LIMIT 200",
        crate::notify::response::status::ALERT_COLS
    )))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::from)?;
    let entries: Vec<cap::atom::FeedEntry> = rows
        .iter()
        .map(|a| cap::atom::FeedEntry {
            id: format!("urn:fenghuo:{}", identifier(cfg, a.id, published_ms(a))),
            title: format!(
                "{}{}",
                if a.exercise != 0 && !a.title.contains("演练") {
                    "[演练]"
                } else {
                    ""
                },
                public_headline(cfg, a)
            ),
            updated: local(published_ms(a), tz),
            summary: public_body(cfg, a),
            cap_url: format!("{}/public/alerts/{}.cap", cfg.public_base(), a.id),
        })
        .collect();
    let updated = rows.first().map_or_else(
        || Utc::now().with_timezone(&tz).fixed_offset(),
        |a| local(published_ms(a), tz),
    );
    Ok(cap::atom::atom_feed(
        &format!("urn:fenghuo:{}:feed", sender_code(cfg)),
        &format!("{} 预警信息 / public warnings", cfg.office_name),
        &cfg.office_name,
        &format!("{}/public/feed.atom", cfg.public_base()),
        updated,
        &entries,
    ))
}

/// One message of a public warning as the public page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicMessage {
    pub id: i64,
    pub headline: String,
    pub body: String,
    pub level: Option<i64>,
    pub exercise: bool,
    /// When it was published (UTC ms).
    pub published_ms: i64,
    pub active: bool,
}

/// A public warning: its latest message, its area, and the messages
/// before it (the warning it updates, and so on), newest first. Nothing
/// about recipients.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicWarning {
    pub current: PublicMessage,
    pub area_desc: String,
    /// The area for the map: `{"polygons": [[[lat, lon], …]], "circles": [[lat, lon, radius_m]]}`.
    pub area: Value,
    pub cap_url: String,
    pub earlier: Vec<PublicMessage>,
}

fn public_message(cfg: &Config, a: &AlertRow) -> PublicMessage {
    PublicMessage {
        id: a.id,
        headline: public_headline(cfg, a),
        body: public_body(cfg, a),
        level: a.level,
        exercise: a.exercise != 0,
        published_ms: published_ms(a),
        active: a.status == "active",
    }
}

/// Public notices that went out (approved: active or closed since), newest first.
async fn published(db: &Db) -> Result<Vec<AlertRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM alerts WHERE public = 1 AND status IN ('active', 'closed') ORDER BY id DESC LIMIT 500",
        crate::notify::response::status::ALERT_COLS
    )))
    .fetch_all(&db.pool)
    .await?)
}

async fn warning_of(
    db: &Db,
    cfg: &Config,
    latest: &AlertRow,
    earlier: Vec<&AlertRow>,
) -> Result<PublicWarning, PublishError> {
    let targets: Value = serde_json::from_str(&latest.targets).unwrap_or(Value::Null);
    let area = cap_area(db, cfg, &targets).await?;
    let map = serde_json::json!({
        "polygons": area.polygons,
        "circles": area.circles.iter().map(|(lat, lon, km)| [*lat, *lon, km * 1000.0]).collect::<Vec<_>>(),
    });
    Ok(PublicWarning {
        current: public_message(cfg, latest),
        area_desc: area.area_desc,
        area: map,
        cap_url: format!("{}/public/alerts/{}.cap", cfg.public_base(), latest.id),
        earlier: earlier
            .into_iter()
            .map(|a| public_message(cfg, a))
            .collect(),
    })
}

/// The active public warnings, newest first: an update and the warnings
/// it updates are one warning, shown by its latest message.
pub async fn active_warnings(db: &Db, cfg: &Config) -> Result<Vec<PublicWarning>, PublishError> {
    let rows = published(db).await?;
    let by_id: std::collections::HashMap<i64, &AlertRow> = rows.iter().map(|a| (a.id, a)).collect();
    let superseded: std::collections::HashSet<i64> =
        rows.iter().filter_map(|a| a.references_alert).collect();
    let mut out = Vec::new();
    for a in rows
        .iter()
        .filter(|a| a.status == "active" && !superseded.contains(&a.id))
    {
        let mut earlier = Vec::new();
        let mut at = a.references_alert;
        while let Some(id) = at
            && let Some(prev) = by_id.get(&id)
            && earlier.len() < 50
        {
            earlier.push(*prev);
            at = prev.references_alert;
        }
        out.push(warning_of(db, cfg, a, earlier).await?);
    }
    Ok(out)
}

/// One public warning that went out, by the id of any of its messages;
/// none for a notice that is not public or was never approved.
pub async fn warning(
    db: &Db,
    cfg: &Config,
    id: i64,
) -> Result<Option<PublicWarning>, PublishError> {
    let rows = published(db).await?;
    let Some(mut latest) = rows.iter().find(|a| a.id == id) else {
        return Ok(None);
    };
    // The latest message of its chain: follow the updates forward.
    while let Some(next) = rows.iter().find(|a| a.references_alert == Some(latest.id)) {
        latest = next;
    }
    let mut earlier = Vec::new();
    let mut at = latest.references_alert;
    while let Some(prev_id) = at
        && let Some(prev) = rows.iter().find(|a| a.id == prev_id)
        && earlier.len() < 50
    {
        earlier.push(prev);
        at = prev.references_alert;
    }
    Ok(Some(warning_of(db, cfg, latest, earlier).await?))
}

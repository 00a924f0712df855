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

pub fn identifier(cfg: &Config, id: i64) -> String {
    cap::xml::sanitize_id(&format!("{}.alert.{id}", cfg.cap_sender))
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
        area.geocodes.push(("village_code".into(), v.code.clone()));
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
    let sent = local(a.created_at, tz);
    let level = a.level.and_then(|l| u8::try_from(l).ok());
    let mut references = Vec::new();
    if let Some(r) = a.references_alert {
        let orig: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM alerts WHERE id = $1")
            .bind(r)
            .fetch_optional(&db.pool)
            .await
            .map_err(StoreError::from)?;
        if let Some((at,)) = orig {
            references.push(cap::Reference {
                sender: cfg.cap_sender.clone(),
                identifier: identifier(cfg, r),
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
        web: Some(format!("{}/public/alerts/{}.cap", cfg.public_base(), a.id)),
        areas: vec![area],
        ..Default::default()
    };
    let alert = cap::Alert {
        identifier: identifier(cfg, a.id),
        sender: cfg.cap_sender.clone(),
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
            id: format!("urn:fenghuo:{}", identifier(cfg, a.id)),
            title: format!(
                "{}{}",
                if a.exercise != 0 && !a.title.contains("演练") {
                    "[演练]"
                } else {
                    ""
                },
                public_headline(cfg, a)
            ),
            updated: local(a.created_at, tz),
            summary: public_body(cfg, a),
            cap_url: format!("{}/public/alerts/{}.cap", cfg.public_base(), a.id),
        })
        .collect();
    let updated = rows.first().map_or_else(
        || Utc::now().with_timezone(&tz).fixed_offset(),
        |a| local(a.created_at, tz),
    );
    Ok(cap::atom::atom_feed(
        &format!(
            "urn:fenghuo:{}:feed",
            cap::xml::sanitize_id(&cfg.cap_sender)
        ),
        &format!("{} 预警信息 / public warnings", cfg.office_name),
        &cfg.office_name,
        &format!("{}/public/feed.atom", cfg.public_base()),
        updated,
        &entries,
    ))
}

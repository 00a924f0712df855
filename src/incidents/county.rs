//! Reports to the county: a township plan that `follows` a county plan
//! reports its activations. When a township opens the plan, or raises its
//! level, the county bureau's duty staff (the contacts of the county's row
//! in `townships` holding the county plan's `report_to` roles) get a notice
//! through `notify::send`, and the incident's timeline gets a `CountyReport`
//! event, which is also the county's list (`GET /api/v1/county/reports`).
//! Exercises are not reported: drills are the township's own.

use serde::Serialize;

use super::{Event, IncidentError, Level, event};
use crate::auth::Actor;
use crate::notify::Channel;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{AlertError, AlertInput, Targets};
use crate::plans::{LoadedPlan, level_label_en, level_label_zh};
use crate::store::{Db, StoreError};

/// How many villages a report names before "等 N 个村".
const VILLAGES_NAMED: usize = 5;
/// The newest reports the county's list shows.
const LIST_LIMIT: i64 = 500;

/// Braces in names written into a notice's text stay text.
fn literal(s: &str) -> String {
    s.replace('{', "{{").replace('}', "}}")
}

/// Reports an opening (`from` None) or a raise (`from` the level before) of
/// incident `incident` under `plan` at `level`, if the plan follows a county
/// plan. A report that reaches nobody is still recorded, with the reason.
pub(super) async fn report(
    n: &Notifier,
    actor: &Actor,
    incident: i64,
    plan: &LoadedPlan,
    level: u8,
    from: Option<i64>,
    villages: &[i64],
) -> Result<(), IncidentError> {
    let Some(county_id) = plan.plan.follows.clone() else {
        return Ok(());
    };
    let db = &n.db;
    let (township_id, exercise): (i64, i64) =
        sqlx::query_as("SELECT township_id, exercise FROM incidents WHERE id = $1")
            .bind(incident)
            .fetch_one(&db.pool)
            .await?;
    if exercise != 0 {
        return Ok(());
    }
    let township = crate::registry::townships::list(db)
        .await?
        .into_iter()
        .find(|t| t.id == township_id)
        .map(|t| t.name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| n.cfg.office_name.clone());
    let raised = from.is_some();
    let record =
        |county_title: String, recipients: i64, reason: Option<String>| Event::CountyReport {
            county_plan: county_id.clone(),
            county_title,
            township: township.clone(),
            plan_title: plan.plan.title.clone(),
            raised,
            recipients,
            reason,
        };
    let Some(county) = n.plans.county(&county_id).await else {
        let e = record(
            county_id.clone(),
            0,
            Some(format!(
                "县级预案 {county_id} 未生效，未能报送 / county plan '{county_id}' is not in force: nothing was sent"
            )),
        );
        return Ok(event(db, incident, Some(i64::from(level)), None, &actor.name, &e).await?);
    };
    let county_title = county.plan.title.clone();
    let bureau = crate::registry::townships::county_id(db).await?;
    let staff = match bureau {
        Some(c) => crate::registry::contacts::holding_roles(db, c, &county.plan.report_to).await?,
        None => Vec::new(),
    };
    if staff.is_empty() {
        let e = record(
            county_title,
            0,
            Some(format!(
                "县应急局没有担任 {} 的联系人，未能报送 / no contact of the county bureau holds {}: nothing was sent",
                county.plan.report_to.join("、"),
                county.plan.report_to.join(", ")
            )),
        );
        return Ok(event(db, incident, Some(i64::from(level)), None, &actor.name, &e).await?);
    }
    let what = What {
        plan: &plan.plan.title,
        township: &township,
        county_title: &county_title,
        level,
        from,
        villages: villages_in_words(db, villages).await?,
    };
    let input = report_notice(&what, staff, county.plan.report_channels.clone());
    // The report is the county's notice, to the county's own staff: sent in
    // the bureau's name and scope (the township office may not reach them).
    let reporter = Actor {
        scope: crate::store::Scope::township(bureau.unwrap_or(township_id)),
        township: bureau.unwrap_or(township_id),
        ..actor.clone()
    };
    match crate::notify::send(n, &reporter, &input, None).await {
        Ok(a) => {
            let e = record(county_title, a.recipients, None);
            event(
                db,
                incident,
                Some(i64::from(level)),
                Some(a.id),
                &actor.name,
                &e,
            )
            .await?;
        }
        // Nobody reachable on these channels (no e-mail address, say): noted.
        Err(AlertError::Invalid(f)) => {
            let e = record(county_title, 0, Some(f.message));
            event(db, incident, Some(i64::from(level)), None, &actor.name, &e).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// "湖上乡S01村、S02村 等 7 个村" from the incident's village ids.
async fn villages_in_words(db: &Db, ids: &[i64]) -> Result<String, StoreError> {
    let names = crate::registry::villages::names(db).await?;
    let listed: Vec<&str> = ids
        .iter()
        .filter_map(|id| names.get(id).map(String::as_str))
        .take(VILLAGES_NAMED)
        .collect();
    Ok(if ids.len() > VILLAGES_NAMED {
        format!("{} 等 {} 个村", listed.join("、"), ids.len())
    } else {
        listed.join("、")
    })
}

/// The notice to the county's duty staff, Chinese first, then English. Only
/// `{name}` and `{plan}` are left to fill; the rest is written out.
/// What a report says.
struct What<'a> {
    /// The township's plan's title.
    plan: &'a str,
    township: &'a str,
    county_title: &'a str,
    level: u8,
    /// The level before a raise.
    from: Option<i64>,
    villages: String,
}

fn report_notice(what: &What<'_>, staff: Vec<i64>, channels: Vec<Channel>) -> AlertInput {
    let (plan, level, from) = (what.plan, what.level, what.from);
    let (t, c, v) = (
        literal(what.township),
        literal(what.county_title),
        literal(&what.villages),
    );
    let (zh, en) = (level_label_zh(level), level_label_en(level));
    let (did_zh, did_en) = match from.and_then(|f| u8::try_from(f).ok()) {
        Some(f) => (
            format!("由{}提升至{zh}", level_label_zh(f)),
            format!("raised {{plan}} from {} to {en}", level_label_en(f)),
        ),
        None => (format!("启动{zh}"), format!("opened {{plan}} at {en}")),
    };
    AlertInput {
        title: format!("{t}响应报告"),
        body: format!(
            "{{name}}：{t}{{plan}}{did_zh}响应（执行{c}），涉及：{v}。请县应急局掌握。/ Report to the county: {t} {did_en} (county plan: {c})."
        ),
        level: Level::new(i64::from(level)),
        exercise: false,
        public: false,
        channels,
        ack_within_minutes: None,
        targets: Targets {
            contacts: staff,
            ..Default::default()
        },
        updates: None,
        plan: Some(plan.to_string()),
        urgent: Some(true),
        escalate_to: Vec::new(),
        ladder: Vec::new(),
        all_clear: false,
        receipt: false,
        own_reply: false,
    }
}

/// One report as the county's list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CountyReport {
    /// When, in the configured zone.
    pub at: String,
    pub incident: i64,
    pub township_id: i64,
    /// The township's name.
    pub township: String,
    /// The township's plan: its id and title.
    pub plan_id: String,
    pub plan: String,
    /// The county plan it follows: its id and title.
    pub county_plan: String,
    pub county_title: String,
    /// The level opened or raised to (1 = Ⅰ … 4 = Ⅳ).
    pub level: Option<i64>,
    /// Raised rather than opened.
    pub raised: bool,
    /// The notice to the county's duty staff, if one went out.
    pub alert_id: Option<i64>,
    pub recipients: i64,
    /// Why nothing was sent, when nothing was.
    pub reason: Option<String>,
    /// The incident's status now: pending, open, closed, rejected.
    pub incident_status: String,
}

/// The reports of the townships `db`'s scope covers, newest first.
pub async fn reports(db: &Db, tz: chrono_tz::Tz) -> Result<Vec<CountyReport>, StoreError> {
    type Row = (
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        i64,
        String,
        i64,
        String,
    );
    let mut tx = db.read().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT e.at, e.level, e.alert_id, e.detail, i.id, i.plan_id, i.township_id, i.status \
         FROM incident_events e JOIN incidents i ON i.id = e.incident_id \
         WHERE e.kind = 'county_report' AND {} ORDER BY e.id DESC LIMIT $1",
        db.township_filter("i.township_id")
    )))
    .bind(LIST_LIMIT)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(at, level, alert_id, detail, incident, plan_id, township_id, status)| {
                let Event::CountyReport {
                    county_plan,
                    county_title,
                    township,
                    plan_title,
                    raised,
                    recipients,
                    reason,
                } = Event::from_stored("county_report", detail.as_deref())
                else {
                    return None;
                };
                Some(CountyReport {
                    at: crate::time::fmt_ms(at, tz),
                    incident,
                    township_id,
                    township,
                    plan_id,
                    plan: plan_title,
                    county_plan,
                    county_title,
                    level,
                    raised,
                    alert_id,
                    recipients,
                    reason,
                    incident_status: status,
                })
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_leaves_only_known_variables() {
        let what = What {
            plan: "湖上乡防汛预案",
            township: "湖上{乡}",
            county_title: "县防汛预案",
            level: 2,
            from: Some(3),
            villages: "S01村".into(),
        };
        let n = report_notice(&what, vec![1], vec![Channel::Sms]);
        assert!(
            n.body.contains("由Ⅲ级（黄色）提升至Ⅱ级（橙色）"),
            "{}",
            n.body
        );
        assert!(
            n.body.contains("湖上{{乡}}"),
            "braces kept as text: {}",
            n.body
        );
        assert!(
            crate::notify::intake::template::check(&n.body).is_ok()
                && crate::notify::intake::template::check(&n.title).is_ok(),
            "{} / {}",
            n.title,
            n.body
        );
    }
}

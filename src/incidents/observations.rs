//! Observations (rainfall, warning signals, fire reports) evaluated against
//! every plan's numeric triggers. A reading may issue a warning (预警) by
//! itself; a response (响应) it only suggests, unless the plan marks that
//! level `auto`. A reading never lowers a level, and a reading at the level
//! or warning already in force sends nothing again.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{IncidentError, OpenInput, change_level, open, open_for_plan, warnings};
use crate::auth::Actor;
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{AlertInput, Targets};
use crate::plans::{Colour, Observation, evaluate, evaluate_auto, evaluate_warning};
use crate::store::{Db, now_ms};
use crate::validate::FieldError;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationInput {
    /// rainfall, rainstorm_signal, typhoon_signal, fire_danger, burned_area, out_of_control
    pub kind: String,
    #[serde(default)]
    pub window_hours: Option<u32>,
    #[serde(default)]
    pub mm: Option<f64>,
    /// Village code (or id) of the gauge.
    #[serde(default)]
    #[schema(value_type = Option<crate::notify::intake::targets::VillageRef>)]
    pub village: Option<Value>,
    #[serde(default)]
    pub colour: Option<String>,
    #[serde(default)]
    pub rating: Option<u8>,
    #[serde(default)]
    pub hectares: Option<f64>,
    #[serde(default)]
    pub hours: Option<f64>,
}

fn invalid(field: &str, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

fn colour(v: &Option<String>) -> Result<Colour, IncidentError> {
    match v.as_deref().map(str::trim) {
        Some("blue" | "蓝" | "蓝色") => Ok(Colour::Blue),
        Some("yellow" | "黄" | "黄色") => Ok(Colour::Yellow),
        Some("orange" | "橙" | "橙色") => Ok(Colour::Orange),
        Some("red" | "红" | "红色") => Ok(Colour::Red),
        _ => Err(invalid("colour", "use blue, yellow, orange or red")),
    }
}

fn positive(field: &str, v: Option<f64>) -> Result<f64, IncidentError> {
    match v {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(invalid(field, "must be a number of at least 0")),
    }
}

/// Checks a reading and resolves its village to (id, code).
async fn parse(
    db: &Db,
    i: &ObservationInput,
) -> Result<(Observation, Option<(i64, String)>), IncidentError> {
    let village = match &i.village {
        None | Some(Value::Null) => None,
        Some(v) => {
            let all = crate::registry::villages::list(db, false).await?;
            let found = crate::registry::villages::find_ref(&all, v);
            Some(
                found
                    .map(|x| (x.id, x.code.clone()))
                    .ok_or_else(|| invalid("village", format!("no village {v}")))?,
            )
        }
    };
    let obs = match i.kind.as_str() {
        "rainfall" => {
            let w = i
                .window_hours
                .ok_or_else(|| invalid("window_hours", "give the window: 1, 3, 6, 12 or 24"))?;
            if !crate::plans::RAINFALL_WINDOWS.contains(&w) {
                return Err(invalid("window_hours", "must be 1, 3, 6, 12 or 24"));
            }
            let mm = positive("mm", i.mm)?;
            if mm > 2000.0 {
                return Err(invalid(
                    "mm",
                    "more than 2000 mm is not a plausible reading",
                ));
            }
            Observation::Rainfall {
                window_hours: w,
                mm,
                village: village.as_ref().map(|v| v.1.clone()),
            }
        }
        "rainstorm_signal" => Observation::RainstormSignal(colour(&i.colour)?),
        "typhoon_signal" => Observation::TyphoonSignal(colour(&i.colour)?),
        "fire_danger" => match i.rating {
            Some(r @ 1..=5) => Observation::FireDanger(r),
            _ => return Err(invalid("rating", "forest-fire danger rating is 1 to 5")),
        },
        "burned_area" => Observation::BurnedArea {
            hectares: positive("hectares", i.hectares)?,
        },
        "out_of_control" => Observation::OutOfControl {
            hours: positive("hours", i.hours)?,
        },
        other => {
            return Err(invalid(
                "kind",
                format!(
                    "unknown kind '{other}'; use rainfall, rainstorm_signal, typhoon_signal, fire_danger, burned_area or out_of_control"
                ),
            ));
        }
    };
    Ok((obs, village))
}

/// What one plan did with a reading. Stored with the observation and
/// returned by the API; the dashboard says it in words.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanOutcome {
    pub plan: String,
    pub plan_title: String,
    /// warned, warning_in_force, warning_suggested (a warning, 预警);
    /// suggested, opened, raised, extended, none (a response, 响应).
    pub action: String,
    /// The response level the reading meets (1 = Ⅰ … 4 = Ⅳ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_label: Option<String>,
    /// A real (not exercise) response was opened or raised without a person.
    #[serde(default)]
    pub real_response: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_record: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<i64>,
    /// A warning's public text, waiting for a leader's sign-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_alert: Option<i64>,
    /// People notified.
    #[serde(default)]
    pub recipients: i64,
    /// Rules that reached nobody, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The reading in words, for texts and pages: “坑头村 3 小时雨量 55 毫米”.
pub fn reading_zh(obs: &Observation, village_name: Option<&str>) -> String {
    let at = village_name.map(|v| format!("{v} ")).unwrap_or_default();
    match obs {
        Observation::Rainfall {
            window_hours, mm, ..
        } => {
            format!("{at}{window_hours} 小时雨量 {mm} 毫米")
        }
        Observation::RainstormSignal(c) => format!("暴雨{}预警信号", c.label_zh()),
        Observation::TyphoonSignal(c) => format!("台风{}预警信号", c.label_zh()),
        Observation::FireDanger(r) => format!("森林火险等级 {r} 级"),
        Observation::BurnedArea { hectares } => format!("过火面积 {hectares} 公顷"),
        Observation::OutOfControl { hours } => format!("火情失控 {hours} 小时"),
    }
}

/// Readings decided one at a time in this daemon (the advisory lock does it
/// across daemons on PostgreSQL).
static ONE_AT_A_TIME: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Evaluates a reading against every plan in force. A warning the reading
/// meets is issued when the plan lets readings issue it; a response level
/// is only suggested for a person to confirm, unless the plan marks that
/// level `auto` for this kind of reading — then the real response is opened
/// or raised and the duty officer is told at once.
pub async fn record(
    n: &Notifier,
    actor: &Actor,
    input: &ObservationInput,
) -> Result<Value, IncidentError> {
    let (db, book) = (&n.db, &n.plans);
    let (obs, village) = parse(db, input).await?;
    // The reader's own villages only: another township's is unknown to them.
    let mine = super::villages_in_scope(&actor.db(db)).await?;
    if let (Some(mine), Some((vid, _))) = (&mine, &village)
        && !mine.contains(vid)
    {
        return Err(invalid(
            "village",
            format!("no village {}", input.village.clone().unwrap_or_default()),
        ));
    }
    // Readings are decided one at a time, here and across daemons: two at
    // once must not both find no warning in force (or no incident open) and
    // both send.
    let _here = ONE_AT_A_TIME.lock().await;
    let _everywhere = crate::store::lock::wait(db, crate::store::lock::keys::OBSERVATIONS).await?;
    let payload = json!({
        "kind": input.kind, "window_hours": input.window_hours, "mm": input.mm, "village": village.as_ref().map(|v| &v.1),
        "colour": input.colour, "rating": input.rating, "hectares": input.hectares, "hours": input.hours,
    });
    // Written first so a warning can name the reading that issued it.
    let (id,): (i64,) = sqlx::query_as("INSERT INTO observations (at, kind, payload, results, actor, township_id) VALUES ($1, $2, $3, '[]', $4, $5) RETURNING id")
        .bind(now_ms())
        .bind(&input.kind)
        .bind(payload.to_string())
        .bind(&actor.name)
        // The reader's township (a county reading: the county's).
        .bind(actor.township)
        .fetch_one(db.writer())
        .await?;
    let all_villages: Vec<i64> = match &village {
        Some((vid, _)) => vec![*vid],
        None => crate::registry::villages::list(db, false)
            .await?
            .into_iter()
            .map(|v| v.id)
            .filter(|v| mine.as_ref().is_none_or(|m| m.contains(v)))
            .collect(),
    };
    let village_name = match &village {
        Some((vid, _)) => crate::registry::villages::names(db)
            .await?
            .get(vid)
            .cloned(),
        None => None,
    };
    let reading = reading_zh(&obs, village_name.as_deref());
    let mut results = Vec::new();
    // The reader's township's plans decide.
    for plan in book.of(crate::plans::PlanOwner::of(actor)).await {
        let base = PlanOutcome {
            plan: plan.plan.id.clone(),
            plan_title: plan.plan.title.clone(),
            ..Default::default()
        };
        if let Some(w) = evaluate_warning(&plan.plan, &obs) {
            let index = plan
                .plan
                .warnings
                .iter()
                .position(|x| x.id == w.id)
                .unwrap_or(0);
            let mut r = PlanOutcome {
                warning: Some(w.id.clone()),
                warning_title: Some(w.title.clone()),
                ..base.clone()
            };
            if w.auto {
                match warnings::issue(n, actor, &plan, index, &all_villages, Some(id)).await? {
                    warnings::Issued::New { record, sent } => {
                        r.action = "warned".into();
                        r.warning_record = Some(record);
                        r.alerts = sent.alerts;
                        r.public_alert = sent.public_alert;
                        r.recipients = sent.recipients;
                        r.skipped = sent.skipped;
                    }
                    warnings::Issued::InForce { record } => {
                        r.action = "warning_in_force".into();
                        r.warning_record = Some(record);
                        r.reason = Some("该预警已在生效中，未重复发送".into());
                    }
                }
            } else {
                r.action = "warning_suggested".into();
            }
            results.push(r);
        }
        let Some(met) = evaluate(&plan.plan, &obs) else {
            continue;
        };
        let with_level = |level: u8| PlanOutcome {
            level: Some(level),
            level_label: Some(
                crate::notify::intake::template::level_zh(Some(i64::from(level))).to_string(),
            ),
            ..base.clone()
        };
        let auto = evaluate_auto(&plan.plan, &obs);
        // A more severe level than the one opened by itself is for a person.
        if auto.is_none_or(|a| met < a) {
            let mut r = with_level(met);
            r.action = "suggested".into();
            results.push(r);
        }
        let Some(level) = auto else {
            continue;
        };
        let mut r = with_level(level);
        let villages_v = match &village {
            Some((vid, _)) => json!([vid]),
            None => json!("all"),
        };
        let sent_before = match open_for_plan(&actor.db(db), &plan.plan.id, false).await? {
            None => {
                let input = OpenInput {
                    plan: plan.plan.id.clone(),
                    level: crate::notify::intake::level::Level::new(i64::from(level)).ok_or_else(
                        || invalid("level", crate::notify::intake::level::LEVEL_FORMS),
                    )?,
                    villages: Some(villages_v),
                    area: None,
                    note: Some(format!("由观测数据自动启动：{reading}")),
                    exercise: false,
                };
                let (inc, alerts) = open(n, actor, &input).await?;
                r.action = "opened".into();
                r.incident_id = Some(inc.id);
                r.alerts = alerts;
                true
            }
            Some(inc) => {
                let current = u8::try_from(inc.level).unwrap_or(4);
                let new_village = village
                    .as_ref()
                    .map(|v| v.0)
                    .filter(|v| !inc.village_ids().contains(v));
                // Level 1 is the most severe: a smaller number is a raise.
                if level < current || new_village.is_some() {
                    let to = level.min(current);
                    let add: Vec<i64> = new_village.into_iter().collect();
                    let (inc2, alerts) = change_level(n, actor, inc.id, to, &add).await?;
                    r.action = if level < current {
                        "raised"
                    } else {
                        "extended"
                    }
                    .into();
                    r.incident_id = Some(inc2.id);
                    r.alerts = alerts;
                    true
                } else {
                    r.action = "none".into();
                    r.incident_id = Some(inc.id);
                    r.reason = Some("该响应已在此级别或更高级别，读数不会降级，未重复发送".into());
                    false
                }
            }
        };
        if sent_before {
            r.real_response = true;
            r.recipients = super::recipients_of(db, &r.alerts).await?;
            let told = tell_duty_officer(n, actor, &plan.plan.title, level, &reading, &r).await?;
            r.skipped.extend(told.skipped);
            r.alerts.extend(told.alerts);
        }
        results.push(r);
    }
    // Danger zones whose 准备转移 / 立即转移 thresholds the reading passes:
    // a warning, not a response; zones that act by themselves are ordered.
    let rain = match &obs {
        Observation::Rainfall {
            window_hours, mm, ..
        } => Some((*window_hours, *mm, village.as_ref().map(|v| v.0))),
        _ => None,
    };
    let signal = match &obs {
        Observation::RainstormSignal(c) | Observation::TyphoonSignal(c) => Some(match c {
            Colour::Blue => 1,
            Colour::Yellow => 2,
            Colour::Orange => 3,
            Colour::Red => 4,
        }),
        _ => None,
    };
    let zones = if rain.is_some() || signal.is_some() {
        crate::transfer::orders::on_reading(n, actor, &actor.db(db), rain, signal, &reading)
            .await
            .map_err(|e| match e {
                crate::store::WriteError::Invalid(f) => IncidentError::Invalid(f),
                crate::store::WriteError::NotFound => IncidentError::NotFound,
                crate::store::WriteError::Conflict(m) => IncidentError::Conflict(m),
                crate::store::WriteError::Store(s) => IncidentError::Store(s),
            })?
    } else {
        Vec::new()
    };
    sqlx::query("UPDATE observations SET results = $1 WHERE id = $2")
        .bind(json!(results).to_string())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(json!({ "id": id, "observation": payload, "results": results, "danger_zones": zones }))
}

/// A real response opened by a reading: the duty officer and the leader on
/// duty hear it at once, with what triggered it and how many were told.
async fn tell_duty_officer(
    n: &Notifier,
    actor: &Actor,
    plan_title: &str,
    level: u8,
    reading: &str,
    r: &PlanOutcome,
) -> Result<warnings::Sent, IncidentError> {
    let what = if r.action == "opened" {
        "自动启动"
    } else {
        "自动调整"
    };
    let notice = AlertInput {
        title: format!("读数{what}实战{{level}}响应"),
        body: format!(
            "{{name}}：{reading}达到{plan}{{level}}响应的自动启动条件，系统已{what}实战响应并通知{n}人。请立即核实情况，报告带班领导，决定是否维持。",
            plan = plan_title.replace('{', "{{").replace('}', "}}"),
            n = r.recipients,
            reading = reading.replace('{', "{{").replace('}', "}}"),
        ),
        level: crate::notify::intake::level::Level::new(i64::from(level)),
        exercise: false,
        public: false,
        channels: vec![crate::notify::Channel::Sms],
        ack_within_minutes: Some(10),
        targets: Targets {
            villages: None,
            roles: vec!["应急办值班".into(), "带班领导".into()],
            contacts: Vec::new(),
            area: None,
            township: true,
            site_kinds: Vec::new(),
            townships: None,
        },
        updates: None,
        plan: Some(plan_title.to_string()),
        urgent: Some(true),
        escalate_to: vec!["应急办主任".into()],
        ladder: Vec::new(),
        all_clear: false,
        receipt: false,
        own_reply: false,
    };
    warnings::send_each(n, actor, vec![notice]).await
}

/// Recent observations whose plans only suggest an activation: for a person to confirm.
pub async fn suggestions(
    db: &Db,
    tz: chrono_tz::Tz,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let mut tx = db.read().await?;
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, at, payload, results FROM observations WHERE at >= $1 AND {} ORDER BY id DESC LIMIT 100",
        db.township_filter("township_id")
    )))
    .bind(now_ms() - 86_400_000)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at, payload, results)| {
            let results: Vec<Value> = serde_json::from_str(&results).ok()?;
            let suggested: Vec<Value> = results.into_iter().filter(|r| r["action"] == "suggested").collect();
            (!suggested.is_empty()).then(|| {
                json!({"observation_id": id, "at": crate::time::fmt_ms(at, tz),
                       "observation": serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null), "suggestions": suggested})
            })
        })
        .collect())
}

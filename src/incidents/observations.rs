//! Observations (rainfall, warning signals, fire reports) evaluated against
//! every plan's numeric triggers. Per plan, a setting decides: only suggest
//! the activation, or open / raise the incident automatically. A reading
//! never lowers a level, and a reading at the level already in force sends
//! nothing again.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{IncidentError, OpenInput, change_level, open, open_for_plan};
use crate::auth::Actor;
use crate::notify::delivery::outbox::Notifier;
use crate::plans::{Colour, Observation, ObservationMode, evaluate};
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

/// Evaluates a reading against every plan in force and acts where the plan says so.
pub async fn record(
    n: &Notifier,
    actor: &Actor,
    input: &ObservationInput,
) -> Result<Value, IncidentError> {
    let (db, book) = (&n.db, &n.plans);
    let (obs, village) = parse(db, input).await?;
    let mut results = Vec::new();
    for plan in book.all().await {
        let Some(level) = evaluate(&plan.plan, &obs) else {
            continue;
        };
        let mode = plan.plan.observation.mode_for(&obs);
        let mut r = json!({
            "plan": plan.plan.id, "plan_title": plan.plan.title, "level": level,
            "level_label": crate::notify::intake::template::level_zh(Some(i64::from(level))),
            "mode": match mode { ObservationMode::Auto => "auto", ObservationMode::Suggest => "suggest" },
        });
        if mode == ObservationMode::Suggest {
            r["action"] = json!("suggested");
            results.push(r);
            continue;
        }
        let villages_v = match &village {
            Some((id, _)) => json!([id]),
            None => json!("all"),
        };
        match open_for_plan(db, &plan.plan.id, false).await? {
            None => {
                let input = OpenInput {
                    plan: plan.plan.id.clone(),
                    level: crate::notify::intake::level::Level::new(i64::from(level)).ok_or_else(
                        || {
                            IncidentError::Invalid(crate::validate::FieldError {
                                field: "level".into(),
                                message: crate::notify::intake::level::LEVEL_FORMS.into(),
                            })
                        },
                    )?,
                    villages: Some(villages_v),
                    area: None,
                    note: Some("由观测数据自动启动 opened automatically by an observation".into()),
                    exercise: false,
                };
                let (inc, alerts) = open(n, actor, &input).await?;
                r["action"] = json!("opened");
                r["incident_id"] = json!(inc.id);
                r["alerts"] = json!(alerts);
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
                    r["action"] = json!(if level < current {
                        "raised"
                    } else {
                        "extended"
                    });
                    r["incident_id"] = json!(inc2.id);
                    r["alerts"] = json!(alerts);
                } else {
                    r["action"] = json!("none");
                    r["incident_id"] = json!(inc.id);
                    r["reason"] = json!(
                        "the incident is already at this level or higher (readings never lower a level)"
                    );
                }
            }
        }
        results.push(r);
    }
    let payload = json!({
        "kind": input.kind, "window_hours": input.window_hours, "mm": input.mm, "village": village.as_ref().map(|v| &v.1),
        "colour": input.colour, "rating": input.rating, "hectares": input.hectares, "hours": input.hours,
    });
    let (id,): (i64,) = sqlx::query_as("INSERT INTO observations (at, kind, payload, results, actor) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(now_ms())
        .bind(&input.kind)
        .bind(payload.to_string())
        .bind(json!(results).to_string())
        .bind(&actor.name)
        .fetch_one(db.writer())
        .await?;
    Ok(json!({ "id": id, "observation": payload, "results": results }))
}

/// Recent observations whose plans only suggest an activation: for a person to confirm.
pub async fn suggestions(
    db: &Db,
    tz: chrono_tz::Tz,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as("SELECT id, at, payload, results FROM observations WHERE at >= $1 ORDER BY id DESC LIMIT 100")
        .bind(now_ms() - 86_400_000)
        .fetch_all(&db.pool)
        .await?;
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

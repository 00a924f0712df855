//! Who gets what before an activation is confirmed: per notify rule of the
//! level, the notice's title as people will read it, the villages it
//! reaches (only the incident's) and every recipient by name — or, in
//! words, why the rule reaches nobody. Nothing is written.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{IncidentError, OpenInput, affected, invalid, level_notices, warnings};
use crate::notify::delivery::outbox::Notifier;
use crate::notify::intake::alerts::{self, AlertError};
use crate::notify::intake::template;

/// One rule's notice as it would go out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RulePreview {
    /// The title with the plan and level filled in.
    pub title: String,
    pub roles: Vec<String>,
    /// Village names the notice reaches.
    pub villages: Vec<String>,
    /// “张三（湖上村）”, in the order they are notified.
    pub recipients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_within_minutes: Option<i64>,
    /// Why the rule reaches nobody, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivationPreview {
    pub plan: String,
    pub plan_title: String,
    pub level: u8,
    pub level_label: String,
    pub exercise: bool,
    /// The incident's villages, by name.
    pub villages: Vec<String>,
    pub rules: Vec<RulePreview>,
    /// People notified in all (one person in two rules counts twice).
    pub total: usize,
}

/// The notices `open` would send for `input`, without sending them, as
/// the asker (`db`, scoped to them) would send them: their villages, their
/// township's people.
pub async fn activation(
    n: &Notifier,
    db: &crate::store::Db,
    input: &OpenInput,
) -> Result<ActivationPreview, IncidentError> {
    let plan = n
        .plans
        .get(&input.plan)
        .await
        .ok_or_else(|| invalid("plan", format!("no plan '{}' is in force", input.plan)))?;
    let level = input.level.get() as u8;
    let villages = affected(db, &input.villages, &input.area, &n.cfg.limits.geo()).await?;
    let notices = level_notices(db, &plan, level, &villages, input.exercise, None).await?;
    let names: BTreeMap<i64, String> = crate::registry::villages::names(db)
        .await?
        .into_iter()
        .collect();
    let village_name = |v: Option<i64>| {
        v.map_or_else(
            || "乡级".to_string(),
            |v| names.get(&v).cloned().unwrap_or_default(),
        )
    };
    let level_label = template::level_zh(Some(i64::from(level))).to_string();
    let mut rules = Vec::new();
    let mut total = 0;
    for notice in notices {
        let title = template::render(&notice.title, |v| match v {
            "plan" => plan.plan.title.clone(),
            "level" => level_label.clone(),
            "office" => n.cfg.office_name.clone(),
            _ => String::new(),
        })
        .unwrap_or_else(|_| notice.title.clone());
        let rule_villages: Vec<i64> = notice
            .targets
            .villages
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let (recipients, skipped) =
            match alerts::resolve(db, &notice.targets, &n.cfg.limits.geo()).await {
                Ok(r) if !r.recipients.is_empty() => (
                    r.recipients
                        .iter()
                        .map(|p| format!("{}（{}）", p.name, village_name(p.village_id)))
                        .collect(),
                    None,
                ),
                Ok(_) => (
                    Vec::new(),
                    Some(warnings::skipped_in_words(
                        &notice.targets.roles,
                        "no active contact",
                    )),
                ),
                Err(AlertError::Invalid(f)) => (
                    Vec::new(),
                    Some(warnings::skipped_in_words(
                        &notice.targets.roles,
                        &f.message,
                    )),
                ),
                Err(AlertError::Store(e)) => return Err(e.into()),
                Err(AlertError::KeyReused) => (Vec::new(), None),
            };
        total += recipients.len();
        rules.push(RulePreview {
            title,
            roles: notice.targets.roles.clone(),
            villages: rule_villages
                .iter()
                .map(|v| village_name(Some(*v)))
                .collect(),
            recipients,
            ack_within_minutes: notice.ack_within_minutes,
            skipped,
        });
    }
    Ok(ActivationPreview {
        plan: plan.plan.id.clone(),
        plan_title: plan.plan.title.clone(),
        level,
        level_label,
        exercise: input.exercise,
        villages: villages.iter().map(|v| village_name(Some(*v))).collect(),
        rules,
        total,
    })
}

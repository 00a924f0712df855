//! The audit trail: every change, notice and answer with who, when, before
//! and after. Written in the same transaction as the change it describes.

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::store::{Db, Result, Sql, now_ms};

/// The table whose row an audit entry of `entity` describes: the entry
/// belongs to that row's township, so the township sees who changed its
/// records, a county user's changes included.
fn owner_table(entity: &str) -> Option<&'static str> {
    Some(match entity {
        "village" => "villages",
        "contact" => "contacts",
        "shelter" => "shelters",
        "message_template" => "message_templates",
        "group_robot" => "group_robots",
        "danger_zone" => "danger_zones",
        "household" => "households",
        "transfer" => "transfers",
        "reply" => "inbound_messages",
        "daily_report" => "daily_rounds",
        "duty_shift" => "duty_shifts",
        "duty_handover" => "duty_handovers",
        "canary" => "canaries",
        "site" => "sites",
        "inspection" => "inspections",
        "finding" => "findings",
        "photo" => "photos",
        "inspector" => "inspectors",
        "draw_plan" => "draw_plans",
        "disposition" => "dispositions",
        "document" => "documents",
        "alert" => "alerts",
        "incident" => "incidents",
        "incident_report" => "incident_reports",
        "observation" => "observations",
        "drill" => "drills",
        "drill_record" => "drill_records",
        "warning" => "plan_warnings",
        "user" => "users",
        "token" => "api_tokens",
        _ => return None,
    })
}

/// Writes one audit entry, in the transaction of the change. Its township
/// is the changed record's (see [`owner_table`]); an entry about anything
/// else belongs to the home township.
pub async fn record(
    conn: &mut AnyConnection,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<()> {
    entry(actor, action, entity, entity_id, before, after)
        .query()
        .execute(conn)
        .await?;
    Ok(())
}

/// [`record`] in a job of the batched SQLite writer (`store::batch`).
pub fn record_sync(
    conn: &crate::store::batch::SyncConn<'_>,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<()> {
    conn.execute(&entry(actor, action, entity, entity_id, before, after))?;
    Ok(())
}

/// The statement writing one audit entry.
fn entry(
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Sql {
    // An import's entry names the township it wrote into as its id.
    let township = match owner_table(entity) {
        None if entity == "import" => format!(
            "COALESCE(CAST($5 AS BIGINT), {})",
            crate::registry::townships::HOME
        ),
        Some(table) => format!(
            "COALESCE((SELECT township_id FROM {table} WHERE id = $5), {})",
            crate::registry::townships::HOME
        ),
        None => crate::registry::townships::HOME.to_string(),
    };
    Sql {
        text: format!(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after, township_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, {township})"
        ),
        args: vec![
            now_ms().into(),
            actor.into(),
            action.into(),
            entity.into(),
            entity_id.into(),
            before.map(Value::to_string).into(),
            after.map(Value::to_string).into(),
        ],
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    entity: String,
    entity_id: Option<i64>,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Default)]
pub struct Filter {
    pub entity: Option<String>,
    pub entity_id: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

pub async fn list(
    db: &Db,
    f: &Filter,
    limit: i64,
    offset: i64,
    tz: chrono_tz::Tz,
) -> Result<(Vec<Entry>, i64)> {
    // A township sees its own records' entries (the county every one).
    let mut w = Sql::new(&format!(" WHERE {}", db.township_filter("township_id")));
    if let Some(v) = &f.entity {
        w.push(" AND entity = ").bind(v.as_str());
    }
    if let Some(v) = f.entity_id {
        w.push(" AND entity_id = ").bind(v);
    }
    if let Some(v) = &f.actor {
        if v.contains(':') {
            w.push(" AND actor = ").bind(v.as_str());
        } else {
            // A person's name finds what they did on the dashboard and with
            // their API token alike.
            w.push(" AND actor IN (")
                .bind(v.as_str())
                .push(", ")
                .bind(format!("web:{v}"))
                .push(", ")
                .bind(format!("token:{v}"))
                .push(")");
        }
    }
    if let Some(v) = &f.action {
        w.push(" AND action = ").bind(v.as_str());
    }
    if let Some(v) = f.since_ms {
        w.push(" AND at >= ").bind(v);
    }
    if let Some(v) = f.until_ms {
        w.push(" AND at < ").bind(v);
    }
    let (rows, total): (Vec<Row>, i64) = w
        .page_with_total(
            db,
            "id, at, actor, action, entity, entity_id, before, after",
            "audit_log",
            "id DESC",
            limit,
            offset,
        )
        .await?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    let entries = rows
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            at: crate::time::fmt_ms(r.at, tz),
            actor: r.actor,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            before: parse(r.before),
            after: parse(r.after),
        })
        .collect();
    Ok((entries, total))
}

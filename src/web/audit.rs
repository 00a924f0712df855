//! The audit log: every change, notice and answer, filterable, with what
//! changed shown field by field.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::TimeZone;
use serde_json::Value;

use super::html::{Errors, Form, FormData, Nav, Pager, Shell, render};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::audit::{self, Filter};
use crate::auth::Role;

const ENTITIES: &[(&str, &str, &str)] = &[
    ("site", "场所", "site"),
    ("inspection", "检查", "inspection"),
    ("finding", "隐患", "finding"),
    ("village", "村", "village"),
    ("contact", "联系人", "contact"),
    ("alert", "预警", "alert"),
    ("user", "用户", "user"),
];

fn entity_label(lang: Lang, e: &str) -> String {
    ENTITIES
        .iter()
        .find(|(n, _, _)| *n == e)
        .map_or_else(|| e.to_string(), |(_, zh, en)| lang.t(zh, en).to_string())
}

fn action_label(lang: Lang, a: &str) -> String {
    let l = match a {
        "create" => lang.t("新建", "create"),
        "update" => lang.t("修改", "update"),
        "archive" => lang.t("归档", "archive"),
        "send" => lang.t("发送", "send"),
        "answer" => lang.t("确认收到", "answer"),
        "answer_undo" => lang.t("撤销电话确认", "phone answer undone"),
        "close" => lang.t("结束 / 销号", "close"),
        "rectify" => lang.t("整改", "rectify"),
        "set_password" => lang.t("设置密码", "set password"),
        _ => return a.to_string(),
    };
    l.to_string()
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// One line of what an entry changed.
enum Change {
    /// A field of an update: before → after.
    Field(String, String, String),
    /// A field of anything else.
    Value(String, String),
    /// A value that is not a record.
    Whole(String),
}

/// Changed fields of an update; the main fields of anything else.
fn changes(before: &Option<Value>, after: &Option<Value>) -> Vec<Change> {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => a
            .iter()
            .filter(|(k, _)| *k != "updated_at" && *k != "version")
            .filter_map(|(k, av)| {
                let bv = b.get(k).unwrap_or(&Value::Null);
                (bv != av).then(|| Change::Field(k.clone(), short(bv), short(av)))
            })
            .collect(),
        (_, Some(Value::Object(a))) => a
            .iter()
            .take(6)
            .map(|(k, v)| Change::Value(k.clone(), short(v)))
            .collect(),
        (_, Some(v)) => vec![Change::Whole(short(v))],
        _ => Vec::new(),
    }
}

struct Row {
    at: String,
    actor: String,
    action: String,
    record: String,
    href: Option<String>,
    changes: Vec<Change>,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    f: Form<'a>,
    entities: Vec<(String, String)>,
    entries: Vec<Row>,
    pager: Pager,
}

fn day_start(tz: chrono_tz::Tz, d: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.timestamp_millis())
}

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let mut errors = Errors::default();
    let mut f = Filter {
        entity: q.opt("entity"),
        actor: q.opt("actor"),
        action: q.opt("action"),
        ..Default::default()
    };
    f.entity_id = q.whole("entity_id", &mut errors);
    if let Some(v) = q.opt("since") {
        f.since_ms = day_start(s.tz, &v);
        if f.since_ms.is_none() {
            errors.add("since", format!("'{v}' is not a date written YYYY-MM-DD"));
        }
    }
    if let Some(v) = q.opt("until") {
        // Until a day means to its end.
        f.until_ms = day_start(s.tz, &v).map(|t| t + 86_400_000);
        if f.until_ms.is_none() {
            errors.add("until", format!("'{v}' is not a date written YYYY-MM-DD"));
        }
    }
    let per_page = 100;
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let (entries, total) = audit::list(&s.db, &f, per_page, (page - 1) * per_page, s.tz).await?;
    let mut entities = vec![(String::new(), ctx.t("全部", "All").to_string())];
    entities.extend(
        ENTITIES
            .iter()
            .map(|(n, zh, en)| ((*n).to_string(), lang.t(zh, en).to_string())),
    );
    let entries = entries
        .iter()
        .map(|e| {
            let label = entity_label(lang, &e.entity);
            let href = match (e.entity.as_str(), e.entity_id) {
                ("site", Some(id)) => Some(format!("/sites/{id}")),
                ("alert", Some(id)) => Some(format!("/alerts/{id}")),
                ("village", Some(id)) => Some(format!("/villages/{id}")),
                _ => None,
            };
            Row {
                at: e.at.replace('T', " ").chars().take(19).collect(),
                actor: e.actor.clone(),
                action: action_label(lang, &e.action),
                record: match e.entity_id {
                    Some(id) => format!("{label} #{id}"),
                    None => label,
                },
                href,
                changes: changes(&e.before, &e.after),
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            shell: Shell::new(&ctx, ctx.t("审计日志", "Audit log"), Nav::Audit),
            lang,
            f: Form::new(lang, &q, &errors, |_, f| f.to_string()),
            entities,
            entries,
            pager: Pager::new("/audit", &q.0, page, per_page, total),
        },
    ))
}

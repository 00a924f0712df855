//! The audit log: every change, notice and answer, filterable, with what
//! changed shown field by field.

use std::fmt::Write as _;

use axum::extract::State;
use chrono::TimeZone;
use serde_json::Value;

use super::html::{E, Errors, Fields, FormData, Nav, Page, pager};
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

/// Changed fields of an update; the main fields of anything else.
fn changes(before: &Option<Value>, after: &Option<Value>) -> String {
    let mut h = String::from("<ul class=\"diff\">");
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            for (k, av) in a {
                if k == "updated_at" || k == "version" {
                    continue;
                }
                let bv = b.get(k).unwrap_or(&Value::Null);
                if bv != av {
                    let _ = write!(
                        h,
                        "<li><b>{}</b>: <del>{}</del> → <ins>{}</ins></li>",
                        E(k),
                        E(&short(bv)),
                        E(&short(av))
                    );
                }
            }
        }
        (_, Some(Value::Object(a))) => {
            for (k, v) in a.iter().take(6) {
                let _ = write!(h, "<li><b>{}</b>: {}</li>", E(k), E(&short(v)));
            }
        }
        (_, Some(v)) => {
            let _ = write!(h, "<li>{}</li>", E(&short(v)));
        }
        _ => {}
    }
    h.push_str("</ul>");
    h
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
    let fl = Fields {
        lang,
        v: &q,
        errors: &errors,
    };
    let mut ents = vec![(String::new(), ctx.t("全部", "All").to_string())];
    ents.extend(
        ENTITIES
            .iter()
            .map(|(n, zh, en)| ((*n).to_string(), lang.t(zh, en).to_string())),
    );
    let mut b = format!("<h1>{}</h1>", ctx.t("审计日志", "Audit log"));
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/audit\" class=\"filters\">{}{}{}{}{}{}<p><button type=\"submit\">{}</button> <a href=\"/audit\">{}</a></p></form>",
        fl.select("entity", ("对象", "Record type"), &ents),
        fl.input("entity_id", ("编号", "Record id"), "number", "", ("", "")),
        fl.input(
            "actor",
            ("操作人", "Actor"),
            "text",
            "",
            ("如 web:张三", "e.g. web:alice")
        ),
        fl.input(
            "action",
            ("操作", "Action"),
            "text",
            "",
            ("create / update / send …", "create / update / send …")
        ),
        fl.input("since", ("从（日期）", "From (date)"), "date", "", ("", "")),
        fl.input("until", ("到（日期）", "To (date)"), "date", "", ("", "")),
        ctx.t("筛选", "Filter"),
        ctx.t("清除", "Clear"),
    );
    let _ = write!(
        b,
        "<table class=\"grid\" id=\"audit\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("时间", "Time"),
        ctx.t("操作人", "Actor"),
        ctx.t("操作", "Action"),
        ctx.t("对象", "Record"),
        ctx.t("内容", "What changed"),
    );
    for e in &entries {
        let link = match (e.entity.as_str(), e.entity_id) {
            ("site", Some(id)) => format!(
                "<a href=\"/sites/{id}\">{} #{id}</a>",
                E(&entity_label(lang, &e.entity))
            ),
            ("alert", Some(id)) => format!(
                "<a href=\"/alerts/{id}\">{} #{id}</a>",
                E(&entity_label(lang, &e.entity))
            ),
            ("village", Some(id)) => format!(
                "<a href=\"/villages/{id}\">{} #{id}</a>",
                E(&entity_label(lang, &e.entity))
            ),
            (_, Some(id)) => format!("{} #{id}", E(&entity_label(lang, &e.entity))),
            (_, None) => E(&entity_label(lang, &e.entity)).to_string(),
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            E(&e.at.replace('T', " ").chars().take(19).collect::<String>()),
            E(&e.actor),
            E(&action_label(lang, &e.action)),
            link,
            changes(&e.before, &e.after),
        );
    }
    if entries.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"5\" class=\"muted\">{}</td></tr>",
            ctx.t("没有记录。", "No entries.")
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&pager(lang, "/audit", &q.0, page, per_page, total));
    Ok(Page::new(ctx.t("审计日志", "Audit log"), Nav::Audit, b).render(&ctx))
}

//! Alerts: compose (villages and roles as targets), review (recipient count
//! and SMS parts before anything is sent), send, and the live status board
//! where answers come in and a dispatcher records phone answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{
    E, Errors, Fields, FormData, Nav, Page, ago, contact_role_label, csrf_field, error_summary,
    level_class, level_label, local, pager, span,
};
use super::i18n::{Lang, message};
use super::overview::REFRESH_SECS;
use super::{Ctx, WebError, WebResult, see_other};
use crate::app::AppState;
use crate::auth::Role;
use crate::notify::Channel;
use crate::notify::delivery::render::{DeliveryRow, Renderer};
use crate::notify::delivery::segments;
use crate::notify::intake::alerts::{self, AlertError, AlertInput, Targets};
use crate::notify::intake::template;
use crate::notify::response::answers;
use crate::notify::response::status::{self, AlertRow};
use crate::registry::roles;
use crate::store::now_ms;

const LABELS: &[(&str, &str, &str)] = &[
    ("title", "标题", "Title"),
    ("body", "正文", "Text"),
    ("level", "级别", "Level"),
    ("channels", "渠道", "Channels"),
    (
        "ack_within_minutes",
        "须在几分钟内确认",
        "Answer within (minutes)",
    ),
    ("targets", "发送对象", "Recipients"),
    ("villages", "村", "Villages"),
    ("roles", "角色", "Roles"),
];

fn label(lang: Lang, f: &str) -> String {
    let base = f
        .trim_start_matches("targets.")
        .split('[')
        .next()
        .unwrap_or(f);
    LABELS
        .iter()
        .find(|(n, _, _)| *n == base)
        .map_or_else(|| f.to_string(), |(_, zh, en)| lang.t(zh, en).to_string())
}

/// The form input a domain field error belongs to.
fn input_for(field: &str) -> String {
    let f = field.trim_start_matches("targets.");
    f.split('[').next().unwrap_or(f).to_string()
}

/// The form as the domain's notice input.
fn input_from(f: &FormData, errors: &mut Errors) -> AlertInput {
    let villages = if f.has("villages", "all") {
        Some(json!("all"))
    } else {
        let ids: Vec<Value> = f
            .all("villages")
            .into_iter()
            .filter_map(|v| v.parse::<i64>().ok())
            .map(Value::from)
            .collect();
        (!ids.is_empty()).then_some(Value::Array(ids))
    };
    let ack = match f.get("ack_within_minutes").trim() {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add("ack_within_minutes", format!("'{v}' is not a whole number"));
                None
            }
        },
    };
    let channels = f
        .all("channels")
        .into_iter()
        .filter_map(|c| match c {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            _ => None,
        })
        .collect();
    AlertInput {
        title: f.get("title").to_string(),
        body: f.get("body").replace("\r\n", "\n"),
        level: match f.opt("level") {
            // The level as the API parses it, with the same field error.
            Some(l) => crate::notify::intake::level::Level::parse_or_notice(&l)
                .map_err(|m| errors.add("level", m))
                .ok()
                .flatten(),
            None => None,
        },
        exercise: f.get("exercise") == "1",
        public: f.get("public") == "1",
        channels,
        ack_within_minutes: ack,
        targets: Targets {
            villages,
            roles: f.all("roles").into_iter().map(str::to_string).collect(),
            contacts: Vec::new(),
            area: None,
            township: f.has("villages", "township"),
        },
        updates: None,
        plan: None,
        urgent: None,
        escalate_to: Vec::new(),
    }
}

/// What the office sees before confirming.
struct Preview {
    recipients: usize,
    by_village: Vec<(String, usize)>,
    sms: usize,
    email: usize,
    sample: String,
    parts: usize,
    units: usize,
    ucs2: bool,
}

fn invalid(errors: &mut Errors, field: &str, msg: impl Into<String>) {
    errors.add(&input_for(field), msg);
}

/// Checks a notice the way `notify::intake::alerts::create` will (same rules, same
/// messages) and works out who gets it and how long the SMS is. `create`
/// checks again when it is sent; this only lets the office see first.
async fn check(
    s: &AppState,
    input: &AlertInput,
    errors: &mut Errors,
) -> WebResult<Option<Preview>> {
    let cfg = &s.cfg;
    if let Err(e) = crate::validate::required_text("title", &input.title, alerts::MAX_TITLE_CHARS) {
        invalid(errors, "title", e.message);
    } else if let Err(e) = template::check(&input.title) {
        invalid(errors, "title", e.to_string());
    }
    if input.body.trim().is_empty() {
        invalid(errors, "body", "must not be empty");
    } else if input.body.chars().count() > alerts::MAX_BODY_CHARS {
        invalid(
            errors,
            "body",
            format!("must be at most {} characters", alerts::MAX_BODY_CHARS),
        );
    } else if let Err(e) = template::check(&input.body) {
        invalid(errors, "body", e.to_string());
    }
    if let Some(m) = input.ack_within_minutes
        && !(1..=1440).contains(&m)
    {
        invalid(errors, "ack_within_minutes", "must be between 1 and 1440");
    }
    if input.channels.is_empty() {
        invalid(errors, "channels", "choose sms, email or both");
    }
    if input.channels.contains(&Channel::Sms) && cfg.sms.provider == "off" {
        invalid(
            errors,
            "channels",
            "SMS is switched off in the configuration",
        );
    }
    if input.channels.contains(&Channel::Email) && !cfg.email.enabled {
        invalid(
            errors,
            "channels",
            "e-mail is switched off in the configuration",
        );
    }
    let resolved = match alerts::resolve(&s.db, &input.targets, &s.cfg.limits.geo()).await {
        Ok(r) => r,
        Err(AlertError::Invalid(fe)) => {
            invalid(errors, &fe.field, fe.message);
            return Ok(None);
        }
        Err(AlertError::Store(e)) => return Err(e.into()),
        Err(AlertError::KeyReused) => return Ok(None),
    };
    if resolved.recipients.is_empty() {
        invalid(errors, "targets", "the targets match no active contact");
        return Ok(None);
    }
    let sms = if input.channels.contains(&Channel::Sms) {
        resolved
            .recipients
            .iter()
            .filter(|r| r.phone.is_some())
            .count()
    } else {
        0
    };
    let email = if input.channels.contains(&Channel::Email) {
        resolved
            .recipients
            .iter()
            .filter(|r| r.email.is_some())
            .count()
    } else {
        0
    };
    if sms + email == 0 {
        invalid(
            errors,
            "channels",
            "no recipient has an address on the chosen channels",
        );
    }
    if !errors.is_empty() {
        return Ok(None);
    }
    let names = crate::registry::villages::names(&s.db).await?;
    let mut by: BTreeMap<Option<i64>, usize> = BTreeMap::new();
    for r in &resolved.recipients {
        *by.entry(r.village_id).or_default() += 1;
    }
    let by_village = by
        .into_iter()
        .map(|(v, n)| {
            (
                v.map_or_else(
                    || "乡级".to_string(),
                    |v| names.get(&v).cloned().unwrap_or_default(),
                ),
                n,
            )
        })
        .collect();
    // The SMS exactly as the first recipient will get it; answer tokens all
    // have one length, so a fresh one makes the count exact.
    let first = &resolved.recipients[0];
    let row = DeliveryRow {
        id: 0,
        channel: "sms".into(),
        address: first.phone.clone().unwrap_or_default(),
        purpose: "notice".into(),
        attempts: 0,
        recipient_name: first.name.clone(),
        village_id: first.village_id,
        answer_token: alerts::answer_token()?,
        ack_due_at: input.ack_within_minutes.map(|m| now_ms() + m * 60_000),
        escalated_from_name: None,
        escalated_from_village: None,
        title: input.title.trim().to_string(),
        body: input.body.trim().to_string(),
        level: input.level.map(crate::notify::intake::level::Level::get),
        exercise: i64::from(input.exercise),
        plan: None,
        msg_type: "Alert".into(),
        legacy_token: 0,
        created_at: now_ms(),
    };
    let text = Renderer {
        cfg,
        villages: &names,
    }
    .sms(&row)
    .text;
    let seg = segments::count(&text);
    Ok(Some(Preview {
        recipients: resolved.recipients.len(),
        by_village,
        sms,
        email,
        sample: text,
        parts: seg.parts,
        units: seg.units,
        ucs2: seg.encoding == segments::Encoding::Ucs2,
    }))
}

fn level_options(lang: Lang) -> Vec<(String, String)> {
    vec![
        (String::new(), level_label(lang, None).to_string()),
        ("4".into(), level_label(lang, Some(4)).to_string()),
        ("3".into(), level_label(lang, Some(3)).to_string()),
        ("2".into(), level_label(lang, Some(2)).to_string()),
        ("1".into(), level_label(lang, Some(1)).to_string()),
    ]
}

async fn compose_page(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let fl = Fields { lang, v, errors };
    let mut b = format!("<h1>{}</h1>", ctx.t("发布预警", "Send an alert"));
    b.push_str(&error_summary(lang, errors, |f| label(lang, f)));
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/alerts/new\" class=\"form wide\" id=\"compose\">{}<div class=\"two\"><div>{}{}",
        csrf_field(ctx),
        fl.input(
            "title",
            ("标题", "Title"),
            "text",
            "required maxlength=\"100\"",
            ("", "")
        ),
        fl.textarea("body", ("正文", "Text"), 5),
    );
    let _ = write!(
        b,
        "<p class=\"hint\">{} <code>{{name}} {{village}} {{level}} {{deadline}} {{office}}</code></p>",
        ctx.t("可用变量：", "Variables:")
    );
    let _ = write!(
        b,
        "{}{}{}{}",
        fl.select("level", ("级别", "Level"), &level_options(lang)),
        fl.checkbox(
            "exercise",
            ("演练（消息标注【演练】）", "Exercise (marked as a drill)")
        ),
        fl.checkbox(
            "public",
            ("公开发布（CAP 和订阅源）", "Publish (CAP and public feed)")
        ),
        fl.input(
            "ack_within_minutes",
            ("须在几分钟内确认", "Answer within (minutes)"),
            "number",
            "min=\"1\" max=\"1440\"",
            ("", "")
        ),
    );
    let chan_bad = errors.get("channels");
    let _ = write!(
        b,
        "<div class=\"field{}\" id=\"f-channels\"><span class=\"label\">{}</span><div class=\"checks\">\
         <label><input type=\"checkbox\" name=\"channels\" value=\"sms\"{}> {}</label>\
         <label><input type=\"checkbox\" name=\"channels\" value=\"email\"{}> {}</label></div>{}</div>",
        if chan_bad.is_some() { " bad" } else { "" },
        ctx.t("渠道", "Channels"),
        if v.has("channels", "sms") {
            " checked"
        } else {
            ""
        },
        ctx.t("短信", "SMS"),
        if v.has("channels", "email") {
            " checked"
        } else {
            ""
        },
        ctx.t("邮件", "E-mail"),
        chan_bad
            .map(|m| format!(
                "<span class=\"err\" id=\"err-channels\">{}</span>",
                E(&message(lang, m))
            ))
            .unwrap_or_default(),
    );
    b.push_str("</div><div>");
    let tbad = errors
        .get("targets")
        .or(errors.get("villages"))
        .or(errors.get("roles"));
    let _ = write!(
        b,
        "<div class=\"field{}\" id=\"f-villages\"><span class=\"label\">{}</span><div class=\"checks cols3\">\
         <label><input type=\"checkbox\" name=\"villages\" value=\"all\"{}> <b>{}</b></label>",
        if tbad.is_some() { " bad" } else { "" },
        ctx.t("发送到村（可多选）", "To villages (any number)"),
        if v.has("villages", "all") {
            " checked"
        } else {
            ""
        },
        ctx.t("全乡（含乡级）", "Whole township"),
    );
    let _ = write!(
        b,
        "<label><input type=\"checkbox\" name=\"villages\" value=\"township\"{}> {}</label>",
        if v.has("villages", "township") {
            " checked"
        } else {
            ""
        },
        ctx.t("乡级联系人", "Township-level contacts"),
    );
    for vr in crate::registry::villages::list(&s.db, false).await? {
        let id = vr.id.to_string();
        let _ = write!(
            b,
            "<label><input type=\"checkbox\" name=\"villages\" value=\"{id}\"{}> {}</label>",
            if v.has("villages", &id) {
                " checked"
            } else {
                ""
            },
            E(&vr.name)
        );
    }
    let _ = write!(
        b,
        "</div></div><div class=\"field\" id=\"f-roles\"><span class=\"label\">{}</span><div class=\"checks cols3\">",
        ctx.t(
            "只发给这些角色（不选则发给所选村的所有人）",
            "Only these roles (none: everyone in the chosen villages)"
        )
    );
    for (zh, _, _) in roles::ROLES {
        let _ = write!(
            b,
            "<label><input type=\"checkbox\" name=\"roles\" value=\"{}\"{}> {}</label>",
            E(zh),
            if v.has("roles", zh) { " checked" } else { "" },
            E(&contact_role_label(lang, zh))
        );
    }
    b.push_str("</div>");
    if let Some(m) = tbad {
        let _ = write!(
            b,
            "<span class=\"err\" id=\"err-targets\">{}</span>",
            E(&message(lang, m))
        );
    }
    let _ = write!(
        b,
        "</div><div class=\"box info\" id=\"live-preview\" aria-live=\"polite\" data-l-recipients=\"{}\" data-l-parts=\"{}\" data-l-none=\"{}\"></div>\
         </div></div><p class=\"actions\"><button type=\"submit\" class=\"primary\" id=\"review\">{}</button> <a href=\"/alerts\">{}</a></p></form>",
        ctx.t("收件人", "recipients"),
        ctx.t("条短信（每人）", "SMS parts each"),
        ctx.t("请选择发送对象", "Choose recipients"),
        ctx.t("下一步：核对", "Next: review"),
        ctx.t("取消", "Cancel"),
    );
    let mut p = Page::new(ctx.t("发布预警", "Send an alert"), Nav::Alerts, b);
    p.status = status;
    Ok(p.render(ctx))
}

pub async fn compose(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Dispatcher)?;
    let mut v = FormData::default();
    v.set("channels", "sms");
    v.set("ack_within_minutes", "30");
    compose_page(&s, &ctx, &v, &Errors::default(), StatusCode::OK).await
}

/// POST of the compose form: the review page, or the form again with errors.
pub async fn review(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    ctx.need(Role::Dispatcher)?;
    let lang = ctx.lang;
    if f.get("_edit") == "1" {
        return compose_page(&s, &ctx, &f, &Errors::default(), StatusCode::OK).await;
    }
    let mut errors = Errors::default();
    let input = input_from(&f, &mut errors);
    let preview = check(&s, &input, &mut errors).await?;
    let Some(p) = preview.filter(|_| errors.is_empty()) else {
        return compose_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let mut b = format!(
        "<h1>{}</h1><div class=\"box {}\"><b>{}{}</b> {}</div>",
        ctx.t("核对后发送", "Review, then send"),
        if input.exercise { "info" } else { "warn" },
        if input.exercise {
            ctx.t("【演练】", "[Exercise] ")
        } else {
            ""
        },
        E(input.title.trim()),
        level_label(
            lang,
            input.level.map(crate::notify::intake::level::Level::get)
        ),
    );
    let _ = write!(
        b,
        "<dl class=\"facts\"><dt>{}</dt><dd id=\"recipient-count\">{}</dd><dt>{}</dt><dd>{} / {}</dd><dt>{}</dt><dd id=\"sms-parts\">{} <small>({} {}, {})</small></dd></dl>",
        ctx.t("收件人", "Recipients"),
        p.recipients,
        ctx.t("短信 / 邮件", "SMS / e-mail"),
        p.sms,
        p.email,
        ctx.t("每条短信计费条数", "SMS parts per message"),
        p.parts,
        p.units,
        if p.ucs2 {
            ctx.t("个 UCS-2 字符", "UCS-2 units")
        } else {
            ctx.t("个 GSM-7 字符", "GSM-7 units")
        },
        ctx.t("含签名和确认链接", "with signature and answer link"),
    );
    let _ = write!(
        b,
        "<h2>{}</h2><table class=\"grid\"><tbody>",
        ctx.t("各村人数", "Recipients by village")
    );
    for (v, n) in &p.by_village {
        let name = if v == "乡级" {
            lang.t("乡级", "township")
        } else {
            v.as_str()
        };
        let _ = write!(b, "<tr><td>{}</td><td class=\"num\">{n}</td></tr>", E(name));
    }
    let _ = write!(
        b,
        "</tbody></table><h2>{}</h2><pre class=\"sms\" id=\"sms-sample\">{}</pre><p class=\"hint\">{}</p>",
        ctx.t(
            "短信样例（第一位收件人）",
            "SMS as the first recipient gets it"
        ),
        E(&p.sample),
        ctx.t(
            "链接中的确认码每人不同（长度相同）。",
            "The code in the link differs per person (its length does not)."
        ),
    );
    // The reviewed notice travels as hidden fields, so what is sent is what
    // was reviewed; the idempotency key makes a double click send once.
    let key = format!("web:{}", crate::accounts::sessions::new_token()?);
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/alerts/send\" class=\"inline\">{}<input type=\"hidden\" name=\"idempotency_key\" value=\"{}\">",
        csrf_field(&ctx),
        E(&key)
    );
    let mut back = String::from("<form method=\"post\" action=\"/alerts/new\" class=\"inline\">");
    back.push_str(&csrf_field(&ctx));
    for (k, v) in &f.0 {
        if k == "_csrf" {
            continue;
        }
        let hidden = format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            E(k),
            E(v)
        );
        b.push_str(&hidden);
        back.push_str(&hidden);
    }
    let _ = write!(
        b,
        "<button type=\"submit\" class=\"primary danger\" id=\"confirm-send\">{}</button></form> ",
        if input.exercise {
            ctx.t("确认发送演练", "Send the exercise")
        } else {
            ctx.t("确认发送", "Send now")
        },
    );
    // "Change" goes back to the form with everything kept.
    let _ = write!(
        back,
        "<input type=\"hidden\" name=\"_edit\" value=\"1\"><button type=\"submit\">{}</button></form>",
        ctx.t("返回修改", "Change")
    );
    b.push_str(&back);
    Ok(Page::new(ctx.t("核对后发送", "Review"), Nav::Alerts, b).render(&ctx))
}

pub async fn send(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let mut errors = Errors::default();
    let input = input_from(&f, &mut errors);
    if !errors.is_empty() {
        return compose_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let key = f.opt("idempotency_key");
    match crate::notify::send(&s.notifier, &user.actor(), &input, key.as_deref()).await {
        Ok(a) => Ok(see_other(&format!("/alerts/{}", a.id))),
        Err(AlertError::Invalid(fe)) => {
            errors.add(&input_for(&fe.field), fe.message);
            compose_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AlertError::KeyReused) => {
            errors.add(
                "title",
                "this form was already used for a different notice; review it again",
            );
            compose_page(&s, &ctx, &f, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AlertError::Store(e)) => Err(e.into()),
    }
}

/// Live counts for the compose form: recipients and SMS parts.
pub async fn preview(State(s): State<AppState>, ctx: Ctx, f: FormData) -> WebResult<Json<Value>> {
    ctx.need(Role::Dispatcher)?;
    let lang = ctx.lang;
    let mut errors = Errors::default();
    let mut input = input_from(&f, &mut errors);
    // Counting needs only targets and text: fill what is not typed yet.
    if input.title.trim().is_empty() {
        input.title = "-".into();
    }
    if input.body.trim().is_empty() {
        input.body = "-".into();
    }
    let p = check(&s, &input, &mut errors).await?;
    Ok(Json(match p {
        Some(p) => json!({
            "ok": true,
            "recipients": p.recipients,
            "sms": p.sms,
            "email": p.email,
            "parts": p.parts,
            "units": p.units,
            "encoding": if p.ucs2 { "UCS-2" } else { "GSM-7" },
        }),
        None => json!({
            "ok": false,
            "errors": errors.0.iter().map(|(k, m)| json!({"field": k, "label": label(lang, k), "message": message(lang, m)})).collect::<Vec<_>>(),
        }),
    }))
}

pub async fn list(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let q = FormData::parse(ctx.path.split_once('?').map_or("", |(_, q)| q).as_bytes());
    let per_page = 50;
    let page = q
        .get("page")
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let status::AlertList {
        rows,
        total,
        answered,
    } = status::list(
        &s.db,
        status::AlertFilter::All,
        per_page,
        (page - 1) * per_page,
    )
    .await?;
    let mut b = format!(
        "<div class=\"head\"><h1>{}</h1>",
        ctx.t("预警与通知", "Alerts and notices")
    );
    if ctx.can(Role::Dispatcher) {
        let _ = write!(
            b,
            "<a class=\"button primary\" href=\"/alerts/new\" id=\"new-alert\">{}</a>",
            ctx.t("发布预警", "Send an alert")
        );
    }
    let _ = write!(
        b,
        "</div><table class=\"grid\" id=\"alerts\"><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ctx.t("发送时间", "Sent"),
        ctx.t("级别", "Level"),
        ctx.t("标题", "Title"),
        ctx.t("已确认 / 收件人", "Answered / recipients"),
        ctx.t("状态", "Status"),
        ctx.t("发送人", "By"),
    );
    for a in &rows {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><span class=\"chip {}\">{}</span></td><td>{}<a href=\"/alerts/{}\">{}</a></td><td class=\"num\">{} / {}</td><td>{}</td><td>{}</td></tr>",
            a.id,
            local(a.created_at, s.tz),
            level_class(a.level),
            level_label(lang, a.level),
            if a.exercise != 0 {
                lang.t("【演练】", "[Exercise] ")
            } else {
                ""
            },
            a.id,
            E(&a.title),
            answered.get(&a.id).copied().unwrap_or(0),
            a.recipients,
            if a.status == "active" {
                lang.t("进行中", "open")
            } else {
                lang.t("已结束", "closed")
            },
            E(&a.created_by),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            ctx.t("尚未发送过预警。", "No alerts sent yet.")
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&pager(lang, "/alerts", &q.0, page, per_page, total));
    Ok(Page::new(ctx.t("预警", "Alerts"), Nav::Alerts, b).render(&ctx))
}

fn via_label(lang: Lang, via: &str) -> &'static str {
    match via {
        "link" => lang.t("链接", "link"),
        "sms" => lang.t("短信回复", "SMS reply"),
        "phone" => lang.t("电话", "phone"),
        _ => lang.t("其他", "other"),
    }
}

/// A person's failed deliveries, one line per channel and reason (repeats
/// that failed alike are one line), escaped: the reason is the provider's
/// text.
fn failures_html(lang: Lang, person: &status::Person) -> String {
    let mut seen = Vec::new();
    let mut out = String::new();
    for f in &person.failed_deliveries {
        let channel = f.channel.as_str();
        let error = f.error.as_deref().unwrap_or("");
        if seen.contains(&(channel, error)) {
            continue;
        }
        seen.push((channel, error));
        let retrying = f.retrying;
        let what = match (channel, retrying) {
            ("sms", true) => lang.t("短信暂未送达，重试中", "SMS not through yet, retrying"),
            ("email", true) => lang.t("邮件暂未送达，重试中", "E-mail not through yet, retrying"),
            (_, true) => lang.t("暂未送达，重试中", "Not through yet, retrying"),
            ("sms", false) => lang.t("短信发送失败", "SMS not delivered"),
            ("email", false) => lang.t("邮件发送失败", "E-mail not delivered"),
            _ => lang.t("发送失败", "Not delivered"),
        };
        let _ = write!(
            out,
            "<small class=\"failed\" data-channel=\"{}\">{what}{}{}</small>",
            E(channel),
            lang.t("：", ": "),
            E(if error.is_empty() {
                lang.t("原因未记录", "no reason recorded")
            } else {
                error
            }),
        );
    }
    out
}

/// The refreshing part of the status board.
fn board_html(ctx: &Ctx, a: &AlertRow, board: &status::StatusBoard) -> String {
    let lang = ctx.lang;
    let st = &board.delivery_states;
    let answered = board.answered;
    let mut h = format!(
        "<ul class=\"counts\"><li><b id=\"answered-count\">{answered}</b> / {} {}</li><li><b>{}</b> {}</li><li><b>{}</b> {}</li><li><b>{}</b> {}</li></ul>",
        a.recipients,
        lang.t("人已确认", "answered"),
        st.sent,
        lang.t("条已发出", "sent"),
        st.queued + st.sending,
        lang.t("条待发", "waiting"),
        st.failed,
        lang.t("条失败", "failed"),
    );
    if st.maybe_duplicate > 0 {
        // Sends whose outcome was lost went out again: say so, so that a
        // village asking "why twice?" gets an answer.
        let _ = write!(
            h,
            "<p class=\"box warn\" id=\"maybe-duplicate\"><b>{}</b> {}</p>",
            st.maybe_duplicate,
            lang.t(
                "条可能重复：发送时结果丢失（系统停止或重启），已重新发送，对方可能收到两次",
                "may be duplicates: their outcome was lost (the daemon stopped or restarted) and they were sent again",
            ),
        );
    }
    let _ = write!(
        h,
        "<table class=\"grid board\" id=\"board-table\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("村", "Village"),
        lang.t("已确认", "Answered"),
        lang.t("未确认", "Not yet"),
        lang.t("已催办（上报给）", "Escalated to"),
    );
    let dispatcher = ctx.can(Role::Dispatcher) && a.status == "active";
    for v in &board.villages {
        let village = if v.is_township() {
            lang.t("乡级", "township")
        } else {
            v.village.as_str()
        };
        let pending = v.not_answered.len();
        let done = v.answered.len();
        let _ = write!(
            h,
            "<tr class=\"ans-{}\" data-village=\"{}\"><th>{}<br><small>{done}/{}</small></th><td class=\"answered\">",
            if pending == 0 {
                "all"
            } else if done > 0 {
                "some"
            } else {
                "none"
            },
            E(village),
            E(village),
            done + pending,
        );
        for p in &v.answered {
            let _ = write!(
                h,
                "<div class=\"who ok\">✓ {} <small>{} {} · {}</small>{}</div>",
                E(&p.person.name),
                lang.t("用时", "after"),
                span(lang, p.after_seconds),
                via_label(lang, p.via.as_deref().unwrap_or("")),
                failures_html(lang, &p.person),
            );
        }
        h.push_str("</td><td class=\"pending\">");
        for p in &v.not_answered {
            let _ = write!(
                h,
                "<div class=\"who wait\">… {} <small>{} {}{}{}</small>",
                E(&p.person.name),
                lang.t("已等", "waiting"),
                span(lang, p.waiting_seconds),
                match p.repeats {
                    0 => String::new(),
                    r => format!(" · {} {r}", lang.t("重发", "repeats")),
                },
                if p.escalated {
                    lang.t(" · 已上报", " · escalated")
                } else {
                    ""
                },
            );
            h.push_str(&failures_html(lang, &p.person));
            if dispatcher {
                let rid = p.person.recipient_id;
                let _ = write!(
                    h,
                    " <form method=\"post\" action=\"/alerts/{}/answer\" class=\"inline\">{}<input type=\"hidden\" name=\"recipient_id\" value=\"{rid}\"><button type=\"submit\" class=\"small\">{}</button></form>",
                    a.id,
                    csrf_field(ctx),
                    lang.t("电话已确认", "Answered by phone"),
                );
            }
            h.push_str("</div>");
        }
        h.push_str("</td><td>");
        for p in &v.escalated_to {
            let _ = write!(h, "<div class=\"who\">↑ {}</div>", E(&p.name));
        }
        h.push_str("</td></tr>");
    }
    h.push_str("</tbody></table>");
    let _ = write!(
        h,
        "<p class=\"muted\">{} {}</p>",
        lang.t("更新于", "Updated"),
        local(now_ms(), ctx.tz)
    );
    h
}

async fn load(s: &AppState, id: i64) -> WebResult<(AlertRow, status::StatusBoard)> {
    let a = status::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let board = status::board(&s.db, &a, s.tz).await?;
    Ok((a, board))
}

pub async fn board(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let (a, board) = load(&s, id).await?;
    let active = a.status == "active";
    let mut b = format!(
        "<div class=\"head\"><h1><span class=\"chip {}\">{}</span> {}{}</h1>",
        level_class(a.level),
        level_label(lang, a.level),
        if a.exercise != 0 {
            lang.t("【演练】", "[Exercise] ")
        } else {
            ""
        },
        E(&a.title)
    );
    if active && ctx.can(Role::Dispatcher) {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/alerts/{id}/close\" class=\"inline\" data-confirm=\"{}\">{}<button type=\"submit\">{}</button></form>",
            E(ctx.t(
                "结束此预警？将停止重发和上报。",
                "Close this alert? Repeats and escalation stop."
            )),
            csrf_field(&ctx),
            ctx.t("结束预警", "Close alert"),
        );
    }
    let _ = write!(
        b,
        "</div><p class=\"meta\">{} {} ({}) · {} {} · {}{}</p><blockquote>{}</blockquote>",
        ctx.t("发送于", "Sent"),
        local(a.created_at, s.tz),
        ago(lang, (now_ms() - a.created_at) / 1000),
        ctx.t("发送人", "by"),
        E(&a.created_by),
        if active {
            ctx.t("进行中", "open")
        } else {
            ctx.t("已结束", "closed")
        },
        a.ack_within_minutes
            .map(|m| format!(
                " · {} {m} {}",
                lang.t("须在", "answer within"),
                lang.t("分钟内确认", "min")
            ))
            .unwrap_or_default(),
        E(&a.body).to_string().replace('\n', "<br>"),
    );
    let _ = write!(
        b,
        "<section id=\"board\" data-alert=\"{id}\"{}>{}</section>",
        if active {
            format!(
                " data-refresh=\"/web/alerts/{id}/board\" data-every=\"{}\"",
                REFRESH_SECS.min(3)
            )
        } else {
            String::new()
        },
        board_html(&ctx, &a, &board)
    );
    let _ = write!(
        b,
        "<p><a href=\"/audit?entity=alert&amp;entity_id={id}\">{}</a></p>",
        ctx.t("此预警的审计记录", "Audit entries of this alert")
    );
    Ok(Page::new(a.title.clone(), Nav::Alerts, b).render(&ctx))
}

pub async fn board_fragment(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    let (a, board) = load(&s, id).await?;
    Ok(super::overview::fragment(
        board_html(&ctx, &a, &board),
        a.status == "active",
    ))
}

/// A dispatcher records an answer received by phone.
pub async fn mark_answered(
    State(s): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    f: FormData,
) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let rid: i64 = f
        .get("recipient_id")
        .parse()
        .map_err(|_| WebError::NotFound)?;
    let ok = status::find_recipient(&s.db, id, status::RecipientRef::Recipient(rid)).await?;
    if ok.is_none() {
        return Err(WebError::NotFound);
    }
    answers::record(
        &s.db,
        rid,
        "phone",
        &user.actor().name,
        f.opt("note").as_deref(),
    )
    .await?;
    Ok(see_other(&format!("/alerts/{id}")))
}

/// Closes an alert: stops repeats and escalation (as the API's close does).
pub async fn close(State(s): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let a = status::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    if a.status == "active" {
        crate::notify::intake::alerts::close(&s.db, &user.actor().name, id).await?;
    }
    Ok(see_other(&format!("/alerts/{id}")))
}

//! Alerts: compose (villages and roles as targets), review (recipient count
//! and SMS parts before anything is sent), send, and the live status board
//! where answers come in and a dispatcher records phone answers.

use super::Scoped;
use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::html::{
    Errors, Form, FormData, Nav, Pager, Shell, ago, contact_role_label, level_class, level_label,
    local, render, span,
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
use crate::notify::signoff::SignoffError;
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
    ("ladder", "叫应阶梯", "Escalation ladder"),
    ("targets", "发送对象", "Recipients"),
    ("villages", "村", "Villages"),
    ("roles", "角色", "Roles"),
    ("townships", "乡镇", "Townships"),
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
    // A county notice: "all" townships or the ones ticked (the form shows
    // them to county users only; the service refuses them to others).
    let townships = if f.has("townships", "all") {
        Some(json!("all"))
    } else {
        let ids: Vec<Value> = f
            .all("townships")
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
        .filter_map(Channel::parse)
        .collect();
    // The office writes 〔姓名〕; the notice carries {name}.
    let mut text = |field: &str, v: String| match template::from_chinese(&v) {
        Ok(t) => t,
        Err(e) => {
            errors.add(field, e.to_string());
            v
        }
    };
    let title = text("title", f.get("title").to_string());
    let body = text("body", f.get("body").replace("\r\n", "\n"));
    AlertInput {
        title,
        body,
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
            site_kinds: Vec::new(),
            townships,
        },
        updates: None,
        plan: None,
        urgent: None,
        escalate_to: Vec::new(),
        ladder: crate::notify::response::ladder::parse_text(f.get("ladder"))
            .map_err(|e| errors.add("ladder", e))
            .unwrap_or_default(),
        all_clear: false,
        receipt: false,
        own_reply: false,
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
    /// Calls placed (voice chosen) and what the first recipient hears.
    calls: usize,
    voice_sample: Option<String>,
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
        invalid(
            errors,
            "channels",
            "choose at least one channel: sms, email or voice",
        );
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
    if input.channels.contains(&Channel::Voice) && cfg.voice.provider.trim() == "off" {
        invalid(
            errors,
            "channels",
            "voice calls are switched off in the configuration (voice.provider)",
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
    let calls = if input.channels.contains(&Channel::Voice) {
        resolved
            .recipients
            .iter()
            .filter(|r| r.phone.is_some())
            .count()
    } else {
        0
    };
    if sms + email + calls == 0 {
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
        escalation_note: None,
        alert_id: 0,
        own_reply: 0,
    };
    let renderer = Renderer {
        cfg,
        villages: &names,
    };
    let text = renderer.sms(&row).text;
    // What a call reads out, as the configured provider would ask (a key, or the SMS reply).
    let keys = s
        .notifier
        .senders
        .voice
        .as_ref()
        .is_some_and(|p| p.takes_keys());
    let voice_sample = (calls > 0).then(|| renderer.voice(&row, keys).text);
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
        calls,
        voice_sample,
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

#[derive(Template)]
#[template(path = "alerts/compose.html")]
struct ComposePage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    f: Form<'a>,
    levels: Vec<(String, String)>,
    channels_error: Option<String>,
    targets_error: Option<String>,
    villages: Vec<(String, String)>,
    /// The townships a county user may send to (empty for everyone else).
    townships: Vec<(String, String)>,
    roles: Vec<(&'static str, String)>,
    /// The message templates to pick from, by category.
    templates: Vec<(&'static str, Vec<Pick>)>,
    /// The variables in their Chinese forms, for the hint.
    known: String,
    /// Voice calls are configured (`voice.provider`): the channel is offered.
    voice_on: bool,
}

/// A message template as the compose page's picker offers it.
struct Pick {
    id: i64,
    name: String,
    title: String,
    body: String,
    channels: String,
}

async fn picks(s: &AppState, lang: Lang) -> WebResult<Vec<(&'static str, Vec<Pick>)>> {
    use crate::notify::intake::library::{self, Category};
    let rows = library::list(&s.db, &library::Filter::default()).await?;
    Ok(Category::ALL
        .into_iter()
        .map(|c| {
            let picks: Vec<Pick> = rows
                .iter()
                .filter(|r| r.category() == c)
                .map(|r| Pick {
                    id: r.id,
                    name: r.name.clone(),
                    title: template::to_chinese(&r.title),
                    body: template::to_chinese(&r.body),
                    channels: r
                        .channels()
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                })
                .collect();
            (lang.t(c.label_zh(), c.label_en()), picks)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect())
}

async fn compose_page(
    s: &AppState,
    ctx: &Ctx,
    v: &FormData,
    errors: &Errors,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let targets_error = errors
        .get("targets")
        .or(errors.get("villages"))
        .or(errors.get("roles"))
        .or(errors.get("townships"))
        .map(|m| message(lang, m));
    let county = ctx
        .user
        .as_ref()
        .is_some_and(|u| u.scope == crate::store::Scope::County);
    let townships = if county {
        crate::registry::townships::list(&s.db)
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), t.name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(render(
        status,
        &ComposePage {
            shell: Shell::new(ctx, ctx.t("发布预警", "Send an alert"), Nav::Alerts),
            lang,
            f: Form::new(lang, v, errors, label),
            levels: level_options(lang),
            channels_error: errors.get("channels").map(|m| message(lang, m)),
            targets_error,
            villages: crate::incidents::villages_seen(&s.db)
                .await?
                .into_iter()
                .map(|vr| (vr.id.to_string(), vr.name))
                .collect(),
            townships,
            roles: roles::ROLES
                .iter()
                .map(|(zh, _, _)| (*zh, contact_role_label(lang, zh)))
                .collect(),
            templates: picks(s, lang).await?,
            known: template::chinese_known(),
            voice_on: s.cfg.voice.provider.trim() != "off",
        },
    ))
}

#[derive(Template)]
#[template(path = "alerts/review.html")]
struct ReviewPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    exercise: bool,
    title: String,
    level: &'static str,
    p: Preview,
    key: String,
    kept: Vec<(String, String)>,
}

/// The compose form; `?template=ID` fills title, text and channels from a
/// message template (the picker without JavaScript).
pub async fn compose(Scoped(s): Scoped, ctx: Ctx, q: axum::extract::RawQuery) -> WebResult {
    ctx.need(Role::Dispatcher)?;
    let q = FormData::parse(q.0.unwrap_or_default().as_bytes());
    let mut v = FormData::default();
    v.set("channels", "sms");
    v.set("ack_within_minutes", "30");
    if let Some(id) = q.opt("template") {
        let id = id.parse::<i64>().map_err(|_| WebError::NotFound)?;
        let t = crate::notify::intake::library::get(&s.db, id)
            .await?
            .filter(|t| t.archived_at.is_none())
            .ok_or(WebError::NotFound)?;
        v.set("template", id.to_string());
        v.set("title", template::to_chinese(&t.title));
        v.set("body", template::to_chinese(&t.body));
        v.0.retain(|(k, _)| k != "channels");
        for c in t.channels() {
            v.push("channels", c.as_str());
        }
    }
    compose_page(&s, &ctx, &v, &Errors::default(), StatusCode::OK).await
}

/// POST of the compose form: the review page, or the form again with errors.
pub async fn review(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
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
    // The reviewed notice travels as hidden fields, so what is sent is what
    // was reviewed; the idempotency key makes a double click send once.
    let key = format!("web:{}", crate::accounts::sessions::new_token()?);
    let kept =
        f.0.iter()
            .filter(|(k, _)| k != "_csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    Ok(render(
        StatusCode::OK,
        &ReviewPage {
            shell: Shell::new(&ctx, ctx.t("核对后发送", "Review"), Nav::Alerts),
            lang,
            exercise: input.exercise,
            title: input.title.trim().to_string(),
            level: level_label(
                lang,
                input.level.map(crate::notify::intake::level::Level::get),
            ),
            p,
            key,
            kept,
        },
    ))
}

pub async fn send(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult {
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
pub async fn preview(Scoped(s): Scoped, ctx: Ctx, f: FormData) -> WebResult<Json<Value>> {
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
            "encoding": if p.ucs2 { "ucs2" } else { "gsm7" },
            "encoding_words": encoding_words(lang, p.ucs2, p.units),
        }),
        None => json!({
            "ok": false,
            "errors": errors.0.iter().map(|(k, m)| json!({"field": k, "label": label(lang, k), "message": message(lang, m)})).collect::<Vec<_>>(),
        }),
    }))
}

/// How an SMS is counted, in words: "中文短信（每条70字），共 84 字" rather
/// than the encoding's name.
pub(super) fn encoding_words(lang: Lang, ucs2: bool, units: usize) -> String {
    match (lang, ucs2) {
        (Lang::Zh, true) => format!("中文短信（每条70字），共 {units} 字"),
        (Lang::Zh, false) => format!("英文短信（每条160字），共 {units} 字"),
        (Lang::En, true) => format!("Chinese SMS (70 characters a part), {units} characters"),
        (Lang::En, false) => format!("English SMS (160 characters a part), {units} characters"),
    }
}

struct AlertLine {
    id: i64,
    sent: String,
    class: &'static str,
    level: &'static str,
    exercise: bool,
    title: String,
    answered: i64,
    recipients: i64,
    active: bool,
    /// The stored status: `pending` (待签发) and `rejected` are said as such.
    state: String,
    by: String,
}

#[derive(Template)]
#[template(path = "alerts/list.html")]
struct ListPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    dispatcher: bool,
    alerts: Vec<AlertLine>,
    pager: Pager,
}

pub async fn list(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
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
    let alerts = rows
        .iter()
        .map(|a| AlertLine {
            id: a.id,
            sent: local(a.created_at, s.tz),
            class: level_class(a.level),
            level: level_label(lang, a.level),
            exercise: a.exercise != 0,
            title: crate::notify::intake::template::display(&a.title),
            answered: answered.get(&a.id).copied().unwrap_or(0),
            recipients: a.recipients,
            active: a.status == "active",
            state: a.status.clone(),
            by: super::audit_words::actor_words(lang, &a.created_by),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&ctx, ctx.t("预警", "Alerts"), Nav::Alerts),
            lang,
            dispatcher: ctx.can(Role::Dispatcher),
            alerts,
            pager: Pager::new("/alerts", &q.0, page, per_page, total),
        },
    ))
}

fn via_label(lang: Lang, via: &str) -> &'static str {
    match via {
        "link" => lang.t("链接", "link"),
        "sms" => lang.t("短信回复", "SMS reply"),
        "phone" => lang.t("电话", "phone"),
        "voice" => lang.t("电话按键", "phone key"),
        _ => lang.t("其他", "other"),
    }
}

/// The calls made to a person, one line each: when, and what became of it (接通未按键 is not an
/// answer: escalation goes on).
fn call_lines(lang: Lang, person: &status::Person) -> Vec<(String, String)> {
    person
        .calls
        .iter()
        .map(|c| {
            let at = chrono::DateTime::parse_from_rfc3339(&c.at)
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_default();
            let what = match lang {
                Lang::Zh => c.outcome_words,
                Lang::En => match c.outcome.as_str() {
                    "dialing" => "dialling",
                    "placed" => "placed, waiting for its result",
                    "not_placed" => "not placed",
                    "answered" => "answered by key 1",
                    "reached" => "picked up, no key pressed",
                    "no_answer" => "no answer",
                    "busy" => "busy",
                    "failed" => "call failed",
                    _ => "other",
                },
            };
            let length = match c.duration_secs {
                Some(s) if s > 0 => {
                    format!("{}{s}{}", lang.t("（通话", " ("), lang.t("秒）", " s)"))
                }
                _ => String::new(),
            };
            (
                c.outcome.clone(),
                format!(
                    "{} {at}{}{what}{length}",
                    lang.t("电话", "Call"),
                    lang.t("：", ": ")
                ),
            )
        })
        .collect()
}

/// A failed delivery as the board says it: one line per channel and reason
/// (repeats that failed alike are one line); the reason is the provider's
/// text.
struct Failure {
    channel: String,
    what: &'static str,
    reason: String,
}

fn failures(lang: Lang, person: &status::Person) -> Vec<Failure> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for f in &person.failed_deliveries {
        let channel = f.channel.as_str();
        let error = f.error.as_deref().unwrap_or("");
        if seen.contains(&(channel, error)) {
            continue;
        }
        seen.push((channel, error));
        let what = match (channel, f.retrying) {
            _ if f.at_handset => lang.t(
                "短信已发出，但未送达手机（状态报告）",
                "SMS sent but not received by the phone (delivery receipt)",
            ),
            ("sms", true) => lang.t("短信暂未送达，重试中", "SMS not through yet, retrying"),
            ("email", true) => lang.t("邮件暂未送达，重试中", "E-mail not through yet, retrying"),
            ("voice", true) => lang.t("电话待拨", "Call waiting"),
            (_, true) => lang.t("暂未送达，重试中", "Not through yet, retrying"),
            ("sms", false) => lang.t("短信发送失败", "SMS not delivered"),
            ("email", false) => lang.t("邮件发送失败", "E-mail not delivered"),
            ("voice", false) => lang.t("电话呼叫失败", "Call failed"),
            _ => lang.t("发送失败", "Not delivered"),
        };
        out.push(Failure {
            channel: channel.to_string(),
            what,
            reason: if error.is_empty() {
                lang.t("原因未记录", "no reason recorded").to_string()
            } else {
                error.to_string()
            },
        });
    }
    out
}

struct AnsweredLine {
    name: String,
    recipient_id: i64,
    roles: String,
    after: String,
    via: &'static str,
    /// Recorded by a dispatcher after a call: it may be taken back (撤销).
    by_phone: bool,
    failures: Vec<Failure>,
    /// Their SMS replies: (text, danger).
    replies: Vec<(String, bool)>,
    /// The escalation's steps for them, as lines.
    steps: Vec<String>,
    /// The calls made to them: (outcome, line).
    calls: Vec<(String, String)>,
}

struct WaitingLine {
    name: String,
    recipient_id: i64,
    roles: String,
    /// `tel:+86…` and the number as dialled in China, to call them.
    tel: Option<(String, String)>,
    waited: String,
    repeats: i64,
    escalated: bool,
    failures: Vec<Failure>,
    replies: Vec<(String, bool)>,
    steps: Vec<String>,
    calls: Vec<(String, String)>,
}

/// A person's SMS replies as the board shows them: (text, danger).
fn said(p: &crate::notify::response::status::Person) -> Vec<(String, bool)> {
    p.replies
        .iter()
        .map(|r| (r.text.clone(), r.danger))
        .collect()
}

/// A person's escalation steps as the board shows them: “02:10 拨打语音电话：…”.
fn steps_lines(lang: Lang, p: &crate::notify::response::status::Person) -> Vec<String> {
    use crate::notify::response::ladder::Rung;
    p.steps
        .iter()
        .map(|s| {
            let rung = Rung::parse(&s.rung)
                .map_or(s.rung.as_str(), |r| lang.t(r.label_zh(), r.label_en()));
            let at = s.at.get(11..16).unwrap_or(&s.at);
            format!("{at} {rung}{}{}", lang.t("：", ": "), s.detail)
        })
        .collect()
}

/// A contact's roles as one line: 村支书、网格员.
fn roles_text(lang: Lang, roles: &[String]) -> String {
    roles.join(lang.t("、", ", "))
}

/// A stored number as a link a phone dials (`tel:+8613800138000`) and as
/// it is read out in China (138 0013 8000); none for what is not a number.
fn tel_link(e164: &str) -> Option<(String, String)> {
    let n = e164.trim();
    let digits = n.strip_prefix('+').unwrap_or(n);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((format!("tel:+{digits}"), crate::phone::dialled(n)))
}

struct BoardVillage {
    name: String,
    state: &'static str,
    done: usize,
    total: usize,
    answered: Vec<AnsweredLine>,
    waiting: Vec<WaitingLine>,
    escalated_to: Vec<String>,
}

/// The refreshing part of the status board (`templates/alerts/board.html`).
struct BoardView {
    id: i64,
    csrf: String,
    dispatcher: bool,
    answered: i64,
    recipients: i64,
    sent: i64,
    /// What `sent` counts: sent, or only written to test files.
    sent_words: &'static str,
    waiting: i64,
    failed: i64,
    maybe_duplicate: i64,
    /// Delivery receipts: received by the phone, and not.
    delivered: i64,
    undelivered: i64,
    villages: Vec<BoardVillage>,
    updated: String,
}

fn board_view(ctx: &Ctx, a: &AlertRow, board: &status::StatusBoard) -> BoardView {
    let lang = ctx.lang;
    let st = &board.delivery_states;
    let villages = board
        .villages
        .iter()
        .map(|v| {
            let pending = v.not_answered.len();
            let done = v.answered.len();
            BoardVillage {
                name: if v.is_township() {
                    lang.t("乡级", "township").to_string()
                } else {
                    v.village.clone()
                },
                state: if pending == 0 {
                    "all"
                } else if done > 0 {
                    "some"
                } else {
                    "none"
                },
                done,
                total: done + pending,
                answered: v
                    .answered
                    .iter()
                    .map(|p| AnsweredLine {
                        name: p.person.name.clone(),
                        recipient_id: p.person.recipient_id,
                        roles: roles_text(lang, &p.person.roles),
                        after: span(lang, p.after_seconds),
                        via: via_label(lang, p.via.as_deref().unwrap_or("")),
                        by_phone: p.via.as_deref() == Some("phone"),
                        failures: failures(lang, &p.person),
                        replies: said(&p.person),
                        steps: steps_lines(lang, &p.person),
                        calls: call_lines(lang, &p.person),
                    })
                    .collect(),
                waiting: v
                    .not_answered
                    .iter()
                    .map(|p| WaitingLine {
                        name: p.person.name.clone(),
                        recipient_id: p.person.recipient_id,
                        roles: roles_text(lang, &p.person.roles),
                        tel: p.person.phone.as_deref().and_then(tel_link),
                        waited: span(lang, p.waiting_seconds),
                        repeats: p.repeats,
                        escalated: p.escalated,
                        failures: failures(lang, &p.person),
                        replies: said(&p.person),
                        steps: steps_lines(lang, &p.person),
                        calls: call_lines(lang, &p.person),
                    })
                    .collect(),
                escalated_to: v.escalated_to.iter().map(|p| p.name.clone()).collect(),
            }
        })
        .collect();
    BoardView {
        id: a.id,
        csrf: ctx.csrf.clone(),
        dispatcher: ctx.can(Role::Dispatcher) && a.status == "active",
        answered: board.answered,
        recipients: a.recipients,
        sent: st.sent,
        sent_words: ctx.test_mode.done_words(lang),
        waiting: st.queued + st.sending,
        failed: st.failed,
        maybe_duplicate: st.maybe_duplicate,
        delivered: st.delivered,
        undelivered: st.undelivered,
        villages,
        updated: local(now_ms(), ctx.tz),
    }
}

#[derive(Template)]
#[template(path = "alerts/board.html")]
struct BoardFragment {
    lang: Lang,
    b: BoardView,
}

#[derive(Template)]
#[template(path = "alerts/show.html")]
struct BoardPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    a: &'a AlertRow,
    /// The title as stored, what differs per recipient as a placeholder.
    title: String,
    class: &'static str,
    level: &'static str,
    exercise: bool,
    active: bool,
    dispatcher: bool,
    sent: String,
    ago: String,
    /// The text as stored, what differs per recipient as a placeholder.
    body: Vec<String>,
    refresh: u32,
    b: BoardView,
    /// A public notice awaiting sign-off (待签发): nothing sent yet.
    pending: bool,
    /// The signed-in user may approve or reject it (a leader, not its author).
    can_sign: bool,
    /// The sign-off: who approved or rejected it, when (local time), and why.
    signoff: Option<(String, String)>,
    problem: Option<(String, String)>,
    /// Its posts to the work groups (`notify::robots`).
    group_posts: Vec<super::robots::PostLine>,
}

impl BoardPage<'_> {
    /// Who sent it, in words ("demo（网页）" rather than "web:demo").
    fn sender(&self) -> String {
        super::audit_words::actor_words(self.lang, &self.a.created_by)
    }
}

async fn load(s: &AppState, id: i64) -> WebResult<(AlertRow, status::StatusBoard)> {
    let a = status::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let board = status::board(&s.db, &a, s.tz).await?;
    Ok((a, board))
}

pub async fn board(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    ctx.need(Role::Viewer)?;
    board_page(&s, &ctx, id, None, StatusCode::OK).await
}

async fn board_page(
    s: &AppState,
    ctx: &Ctx,
    id: i64,
    problem: Option<(String, String)>,
    status: StatusCode,
) -> WebResult {
    let lang = ctx.lang;
    let (a, board) = load(s, id).await?;
    let posts = crate::notify::robots::posts::for_alert(&s.db, id, s.tz).await?;
    Ok(render(
        status,
        &BoardPage {
            group_posts: super::robots::post_lines(lang, s.tz, &posts),
            shell: Shell::new(
                ctx,
                crate::notify::intake::template::display(&a.title),
                Nav::Alerts,
            ),
            title: crate::notify::intake::template::display(&a.title),
            lang,
            class: level_class(a.level),
            level: level_label(lang, a.level),
            exercise: a.exercise != 0,
            active: a.status == "active",
            dispatcher: ctx.can(Role::Dispatcher),
            sent: local(a.created_at, s.tz),
            ago: ago(lang, (now_ms() - a.created_at) / 1000),
            body: crate::notify::intake::template::display(&a.body)
                .split('\n')
                .map(str::to_string)
                .collect(),
            refresh: REFRESH_SECS.min(3),
            b: board_view(ctx, &a, &board),
            pending: a.status == "pending",
            can_sign: a.status == "pending"
                && ctx
                    .user
                    .as_ref()
                    .is_some_and(|u| crate::auth::second_person(&u.actor(), &a.created_by).is_ok()),
            signoff: a.signoff_by.clone().map(|by| {
                let at = a.signoff_at.map(|t| local(t, s.tz)).unwrap_or_default();
                let why = a.signoff_note.clone().unwrap_or_default();
                (
                    format!("{} · {at}", super::audit_words::actor_words(ctx.lang, &by)),
                    why,
                )
            }),
            problem,
            a: &a,
        },
    ))
}

fn signoff_problem(lang: Lang, e: SignoffError) -> Result<(String, String), WebError> {
    match e {
        SignoffError::NotFound => Err(WebError::NotFound),
        SignoffError::Store(s) => Err(s.into()),
        SignoffError::Invalid(f) => Ok((f.field, f.message)),
        other => Ok((lang.t("签发", "sign-off").to_string(), other.to_string())),
    }
}

/// A leader approves a public notice awaiting sign-off: it goes out now.
pub async fn approve(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    match crate::incidents::signoff::approve_notice(&s.notifier, &user.actor(), id).await {
        Ok(_) => Ok(see_other(&format!("/alerts/{id}"))),
        Err(e) => {
            let problem = signoff_problem(ctx.lang, e)?;
            board_page(&s, &ctx, id, Some(problem), StatusCode::FORBIDDEN).await
        }
    }
}

/// A leader rejects a public notice awaiting sign-off, with the reason.
pub async fn reject(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>, f: FormData) -> WebResult {
    let user = ctx.need(Role::Viewer)?;
    match crate::incidents::signoff::reject_notice(&s.db, &user.actor(), id, f.get("reason")).await
    {
        Ok(()) => Ok(see_other(&format!("/alerts/{id}"))),
        Err(e) => {
            let problem = signoff_problem(ctx.lang, e)?;
            board_page(
                &s,
                &ctx,
                id,
                Some(problem),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The board's part the page reloads every few seconds. It carries an
/// ETag (the board's version, the asker's language, role and form token):
/// asked with `If-None-Match` (app.js), a board nothing changed on is a
/// 304 with no body, and nothing of the board is read but its version.
pub async fn board_fragment(
    Scoped(s): Scoped,
    ctx: Ctx,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> WebResult {
    ctx.need(Role::Viewer)?;
    let version = status::board_version(&s.db, id).await?;
    let a = status::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    let variant = format!(
        "fragment {:?} {} {} {}",
        ctx.lang,
        ctx.can(Role::Dispatcher),
        ctx.csrf,
        ctx.test_mode.done_words(ctx.lang)
    );
    let etag = status::board_etag(&a, version, &variant, now_ms());
    let asked = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let mut r = if status::etag_matches(asked, &etag) {
        let mut r = super::overview::fragment(String::new(), a.status == "active");
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let board = status::board(&s.db, &a, s.tz).await?;
        let h = BoardFragment {
            lang: ctx.lang,
            b: board_view(&ctx, &a, &board),
        }
        .render()
        .map_err(|e| WebError::Internal(e.to_string()))?;
        super::overview::fragment(h, a.status == "active")
    };
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag) {
        r.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(r)
}

/// A dispatcher records an answer received by phone.
pub async fn mark_answered(
    Scoped(s): Scoped,
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

/// A dispatcher takes back a phone answer recorded by mistake: the person
/// is unanswered again and back on the escalation path (see
/// `answers::undo_phone`); audited.
pub async fn undo_answer(
    Scoped(s): Scoped,
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
    let lang = ctx.lang;
    let problem = match answers::undo_phone(&s.db, rid, &user.actor().name).await? {
        answers::Undone::Undone { .. } => return Ok(see_other(&format!("/alerts/{id}"))),
        answers::Undone::NotAnswered => lang.t(
            "此人没有可撤销的确认。",
            "This person has no answer to undo.",
        ),
        answers::Undone::NotByPhone => lang.t(
            "只能撤销电话确认；本人通过链接或短信的确认不能撤销。",
            "Only an answer recorded by phone can be undone; one the person gave by link or SMS cannot.",
        ),
        answers::Undone::Closed => lang.t(
            "此预警已结束，确认情况不再更改。",
            "This alert is closed; its answers no longer change.",
        ),
    };
    board_page(
        &s,
        &ctx,
        id,
        Some((lang.t("撤销", "undo").to_string(), problem.to_string())),
        StatusCode::CONFLICT,
    )
    .await
}

/// Closes an alert: stops repeats and escalation (as the API's close does).
pub async fn close(Scoped(s): Scoped, ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let user = ctx.need(Role::Dispatcher)?;
    let a = status::get(&s.db, id).await?.ok_or(WebError::NotFound)?;
    if a.status == "active" || a.status == "pending" {
        crate::notify::intake::alerts::close(&s.db, &user.actor().name, id).await?;
    }
    Ok(see_other(&format!("/alerts/{id}")))
}

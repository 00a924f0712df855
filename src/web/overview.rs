//! The overview (总览): open alerts with a per-village answer board, today's
//! worklist counts, and the health of the sending channels. While an alert is
//! open the board section reloads itself every few seconds.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;

use super::html::{E, Nav, Page, ago, html_response, level_class, level_label, local};
use super::i18n::Lang;
use super::{Ctx, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::notify::response::status::{self, StatusBoard, VillageBoard};
use crate::store::now_ms;

/// A board's village in the page's language (the township's own contacts
/// belong to no village).
pub fn village_name(lang: Lang, v: &VillageBoard) -> String {
    if v.is_township() {
        lang.t("乡级", "Township level").to_string()
    } else {
        v.village.clone()
    }
}

/// Seconds between reloads of the live section while an alert is open.
pub const REFRESH_SECS: u32 = 5;

/// One alert's answer board, compact: per village answered / not yet /
/// escalated, with how long ago.
pub fn village_rows(lang: Lang, board: &StatusBoard) -> String {
    let mut h = String::new();
    for v in &board.villages {
        let answered = v.answered.len();
        let pending = v.not_answered.len();
        let escalated = v.escalated_to.len();
        let last_answer = v
            .answered
            .iter()
            .map(|a| a.answered_at.as_str())
            .max()
            .and_then(crate::time::parse_rfc3339);
        let waiting = v.not_answered.iter().map(|a| a.waiting_seconds).max();
        let state = if pending == 0 {
            "all"
        } else if answered > 0 {
            "some"
        } else {
            "none"
        };
        let _ = write!(
            h,
            "<tr class=\"ans-{state}\" data-village=\"{}\"><td>{}</td><td class=\"num answered\">{answered}</td><td class=\"num pending\">{pending}</td><td class=\"num\">{escalated}</td><td>{}</td></tr>",
            E(&v.village),
            E(&village_name(lang, v)),
            match (last_answer, waiting) {
                (_, Some(w)) if pending > 0 => format!(
                    "{} {}",
                    lang.t("已等待", "waiting"),
                    ago(lang, w).replace(lang.t("前", " ago"), "")
                ),
                (Some(at), _) => format!(
                    "{} {}",
                    lang.t("最后确认", "last answer"),
                    ago(lang, (now_ms() - at) / 1000)
                ),
                _ => String::new(),
            }
        );
    }
    h
}

pub fn board_table(lang: Lang, board: &StatusBoard) -> String {
    format!(
        "<table class=\"grid board\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
        lang.t("村", "Village"),
        lang.t("已确认", "Answered"),
        lang.t("未确认", "Not yet"),
        lang.t("已催办", "Escalated"),
        lang.t("时间", "When"),
        village_rows(lang, board)
    )
}

async fn live_html(s: &AppState, ctx: &Ctx) -> WebResult<(String, bool)> {
    let lang = ctx.lang;
    let rows = status::active(&s.db, 10).await?;
    let mut h = String::new();
    if rows.is_empty() {
        let _ = write!(
            h,
            "<p class=\"muted\" id=\"no-alerts\">{}</p>",
            ctx.t("当前没有进行中的预警。", "No alert is open.")
        );
        return Ok((h, false));
    }
    for a in &rows {
        let board = status::board(&s.db, a, s.tz).await?;
        let answered = board.answered;
        let _ = write!(
            h,
            "<article class=\"alert {}\" data-alert=\"{}\"><h3><span class=\"chip {}\">{}</span> {}<a href=\"/alerts/{}\">{}</a></h3>\
             <p class=\"meta\">{} {} · {} · {}/{} {}</p>{}</article>",
            level_class(a.level),
            a.id,
            level_class(a.level),
            level_label(lang, a.level),
            if a.exercise != 0 {
                lang.t("【演练】", "[Exercise] ")
            } else {
                ""
            },
            a.id,
            E(&a.title),
            lang.t("发送于", "sent"),
            local(a.created_at, s.tz),
            ago(lang, (now_ms() - a.created_at) / 1000),
            answered,
            a.recipients,
            lang.t("人已确认", "answered"),
            board_table(lang, &board),
        );
    }
    Ok((h, true))
}

/// The live section alone, for the page's own refresh.
pub async fn live(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let (h, active) = live_html(&s, &ctx).await?;
    Ok(fragment(h, active))
}

pub fn fragment(h: String, active: bool) -> Response {
    let mut r = html_response(axum::http::StatusCode::OK, h);
    if let Ok(v) = axum::http::HeaderValue::from_str(if active { "1" } else { "0" }) {
        r.headers_mut().insert("x-fenghuo-active", v);
    }
    r
}

pub async fn page(State(s): State<AppState>, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let (live, active) = live_html(&s, &ctx).await?;
    let mut b = String::new();
    let _ = write!(
        b,
        "<section class=\"panel\"><div class=\"head\"><h2>{}</h2>{}</div><div id=\"live\"{}>{}</div></section>",
        ctx.t("进行中的预警与叫应", "Open alerts and answers"),
        if ctx.can(Role::Dispatcher) {
            format!(
                "<a class=\"button primary\" href=\"/alerts/new\">{}</a>",
                ctx.t("发布预警", "Send an alert")
            )
        } else {
            String::new()
        },
        if active {
            format!(" data-refresh=\"/web/overview/live\" data-every=\"{REFRESH_SECS}\"")
        } else {
            String::new()
        },
        live
    );
    let pending = super::observations::pending(&s).await?;
    if pending > 0 {
        let (zh, en) = (
            format!("观测数据建议启动预案 {pending} 项，尚未处理。"),
            format!("Readings suggest {pending} plan activation(s) nobody has acted on yet."),
        );
        let _ = write!(
            b,
            "<div class=\"box error\" id=\"pending-suggestions\" role=\"status\"><b>{}</b> <a href=\"/observations\">{}</a></div>",
            E(ctx.t(&zh, &en)),
            ctx.t("查看并确认", "Review and confirm")
        );
    }
    let wl = crate::ledger::worklist::build(&s.db, s.tz).await?;
    let _ = write!(
        b,
        "<div class=\"two\"><section class=\"panel\"><h2>{}</h2><ul class=\"counts\">\
         <li><a href=\"/worklist#licences\"><b id=\"count-licences\">{}</b> {}</a></li>\
         <li><a href=\"/worklist#overdue\"><b id=\"count-overdue\">{}</b> {}</a></li>\
         <li><a href=\"/worklist#uninspected\"><b id=\"count-uninspected\">{}</b> {}</a></li>\
         <li><a href=\"/worklist#undrilled\"><b id=\"count-undrilled\">{}</b> {}</a></li></ul>\
         <p><a href=\"/worklist\">{}</a></p></section>",
        ctx.t("今日工作清单", "Today's worklist"),
        wl.expiring_licences.len(),
        ctx.t(
            "个许可证已过期或 30 天内到期",
            "licences expired or expiring within 30 days"
        ),
        wl.overdue_rectifications.len(),
        ctx.t("项隐患整改已逾期", "rectifications overdue"),
        wl.not_inspected.len(),
        ctx.t("个场所半年以上未检查", "sites not inspected for six months"),
        wl.overdue_drills.len(),
        ctx.t(
            "个企业半年以上未演练",
            "businesses without a drill for six months"
        ),
        ctx.t("查看并打印工作清单", "Open and print the worklist"),
    );
    b.push_str(&channels(&s, lang).await?);
    b.push_str("</div>");
    let drills = super::plans::upcoming(&s, 30, 5).await?;
    let _ = write!(
        b,
        "<section class=\"panel\" id=\"upcoming-drills\"><h2>{}</h2><ul class=\"plain\">",
        ctx.t("近期演练（30 天内）", "Upcoming drills (30 days)")
    );
    for (at, id, title) in &drills {
        let _ = write!(
            b,
            "<li>{} · <a href=\"/drills/{id}\">{}</a></li>",
            local(*at, s.tz),
            E(title)
        );
    }
    if drills.is_empty() {
        let _ = write!(
            b,
            "<li class=\"muted\">{}</li>",
            ctx.t("30 天内没有安排演练。", "No drill in the next 30 days.")
        );
    }
    b.push_str("</ul></section>");
    Ok(Page::new(ctx.t("总览", "Overview"), Nav::Overview, b).render(&ctx))
}

/// Per channel: last successful send, failed attempts in the last hour, and
/// what is waiting.
async fn channels(s: &AppState, lang: Lang) -> WebResult<String> {
    let mut h = format!(
        "<section class=\"panel\"><h2>{}</h2><table class=\"grid\" id=\"channels\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("发送渠道状态", "Channel health"),
        lang.t("渠道", "Channel"),
        lang.t("供应商", "Provider"),
        lang.t("最近成功", "Last success"),
        lang.t("近一小时失败", "Failures, last hour"),
        lang.t("待发送", "Waiting"),
    );
    for c in crate::notify::delivery::outbox::channel_health(&s.notifier).await? {
        let (zh, en) = if c.channel == "sms" {
            ("短信", "SMS")
        } else {
            ("邮件", "E-mail")
        };
        let (on, provider, last, fails, waiting, breaker) = (
            c.enabled,
            c.provider.as_str(),
            c.last_sent_at,
            c.failures_last_hour,
            c.waiting,
            &c.breaker,
        );
        let cls = if !on {
            "off"
        } else if breaker.state != "closed" {
            "bad"
        } else if fails > 0 {
            "warn"
        } else {
            "ok"
        };
        let state = match breaker.state {
            "closed" => lang.t("正常", "sending").to_string(),
            "probing" => lang.t("故障，正在探测", "down, probing").to_string(),
            _ => {
                let next = breaker
                    .next_probe_at
                    .map(|t| local(t, s.tz).to_string())
                    .unwrap_or_default();
                let since = breaker
                    .open_since
                    .map(|t| local(t, s.tz).to_string())
                    .unwrap_or_default();
                match lang {
                    Lang::Zh => {
                        format!("故障，暂停发送（自 {since} 起，下次探测 {next}），通知排队等待")
                    }
                    Lang::En => format!(
                        "down since {since}, sending paused (next probe {next}); notices wait in the queue"
                    ),
                }
            }
        };
        let error = breaker
            .last_error
            .as_deref()
            .filter(|_| breaker.state != "closed")
            .map(|e| format!("<br><small>{}</small>", E(e)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"{cls}\" data-channel=\"{}\" data-breaker=\"{}\"><td>{} <small>({})</small></td><td>{}{error}</td><td>{}</td><td class=\"num\">{fails}</td><td class=\"num\">{waiting}</td></tr>",
            c.channel,
            breaker.state,
            lang.t(zh, en),
            if on {
                E(provider).to_string()
            } else {
                lang.t("已关闭", "off").to_string()
            },
            E(&state),
            last.map_or_else(
                || lang.t("从未", "never").to_string(),
                |t| format!("{} ({})", local(t, s.tz), ago(lang, (now_ms() - t) / 1000))
            ),
        );
    }
    h.push_str("</tbody></table></section>");
    Ok(h)
}

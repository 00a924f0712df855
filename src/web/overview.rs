//! The overview (总览): open alerts with a per-village answer board, today's
//! worklist counts, and the health of the sending channels. While an alert is
//! open the board section reloads itself every few seconds.

use super::Scoped;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{Nav, Shell, ago, html_response, level_class, level_label, local, qv, render};
use super::i18n::Lang;
use super::{Ctx, WebError, WebResult};
use crate::app::AppState;
use crate::auth::Role;
use crate::ledger::worklist::WorklistCounts;
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

/// One village's line of an answer board: answered / not yet / escalated,
/// with how long ago.
pub struct VillageLine {
    pub village: String,
    pub name: String,
    /// all, some or none answered.
    pub state: &'static str,
    pub answered: usize,
    pub pending: usize,
    pub escalated: usize,
    pub when: String,
}

/// One alert's answer board, compact: per village.
pub fn village_lines(lang: Lang, board: &StatusBoard) -> Vec<VillageLine> {
    board
        .villages
        .iter()
        .map(|v| {
            let answered = v.answered.len();
            let pending = v.not_answered.len();
            let last_answer = v
                .answered
                .iter()
                .map(|a| a.answered_at.as_str())
                .max()
                .and_then(crate::time::parse_rfc3339);
            let waiting = v.not_answered.iter().map(|a| a.waiting_seconds).max();
            VillageLine {
                village: v.village.clone(),
                name: village_name(lang, v),
                state: if pending == 0 {
                    "all"
                } else if answered > 0 {
                    "some"
                } else {
                    "none"
                },
                answered,
                pending,
                escalated: v.escalated_to.len(),
                when: match (last_answer, waiting) {
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
                },
            }
        })
        .collect()
}

/// An open alert on the overview.
pub struct LiveAlert {
    id: i64,
    class: &'static str,
    level: &'static str,
    exercise: bool,
    title: String,
    sent: String,
    ago: String,
    answered: i64,
    recipients: i64,
    villages: Vec<VillageLine>,
}

async fn live_alerts(s: &AppState, lang: Lang) -> WebResult<Vec<LiveAlert>> {
    let mut out = Vec::new();
    for a in status::active(&s.db, 10).await? {
        let board = status::board(&s.db, &a, s.tz).await?;
        out.push(LiveAlert {
            id: a.id,
            class: level_class(a.level),
            level: level_label(lang, a.level),
            exercise: a.exercise != 0,
            sent: local(a.created_at, s.tz),
            ago: ago(lang, (now_ms() - a.created_at) / 1000),
            answered: board.answered,
            recipients: a.recipients,
            villages: village_lines(lang, &board),
            title: crate::notify::intake::template::display(&a.title),
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "overview/live.html")]
struct Live {
    lang: Lang,
    alerts: Vec<LiveAlert>,
}

/// The live section alone, for the page's own refresh.
pub async fn live(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let alerts = live_alerts(&s, ctx.lang).await?;
    let active = !alerts.is_empty();
    let h = Live {
        lang: ctx.lang,
        alerts,
    }
    .render()
    .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(fragment(h, active))
}

pub fn fragment(h: String, active: bool) -> Response {
    let mut r = html_response(StatusCode::OK, h);
    if let Ok(v) = axum::http::HeaderValue::from_str(if active { "1" } else { "0" }) {
        r.headers_mut().insert("x-fenghuo-active", v);
    }
    r
}

/// A sending channel's health, one table row.
struct ChannelLine {
    channel: String,
    breaker: &'static str,
    class: &'static str,
    name: &'static str,
    provider: String,
    state: String,
    error: Option<String>,
    last: String,
    fails: i64,
    waiting: i64,
}

#[derive(Template)]
#[template(path = "overview/page.html")]
struct OverviewPage<'a> {
    shell: Shell<'a>,
    lang: Lang,
    dispatcher: bool,
    alerts: Vec<LiveAlert>,
    refresh_secs: u32,
    pending: usize,
    counts: WorklistCounts,
    channels: Vec<ChannelLine>,
    drills: Vec<(String, i64, String)>,
    /// Warnings in force: (plan id, title, issued at).
    warnings: Vec<(String, String, String)>,
    plans_dir: Option<crate::planbook::DirProblem>,
    /// Replies awaiting a person: (unread, danger reports not handled).
    replies: (i64, i64),
    /// The SMS paths and their daily self-checks.
    paths: super::channel_paths::Panel,
    /// Major hidden dangers under supervision (挂牌督办): (open, past the deadline).
    supervision: (i64, i64),
}

impl OverviewPage<'_> {
    /// When the worklist's counts were counted, as a clock time.
    fn counted(&self) -> &str {
        super::html::clock(&self.counts.counted_at)
    }
}

pub async fn page(Scoped(s): Scoped, ctx: Ctx) -> WebResult {
    ctx.need(Role::Viewer)?;
    let lang = ctx.lang;
    let drills = super::drills::upcoming(&s, 30, 5)
        .await?
        .into_iter()
        .map(|(at, id, title)| (local(at, s.tz), id, title))
        .collect();
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            shell: Shell::new(&ctx, ctx.t("总览", "Overview"), Nav::Overview),
            lang,
            dispatcher: ctx.can(Role::Dispatcher),
            alerts: live_alerts(&s, lang).await?,
            refresh_secs: REFRESH_SECS,
            pending: super::observations::pending(&s).await?,
            counts: WorklistCounts::of(&s.db, &s.figures, s.tz, None).await?,
            channels: channels(&s, lang).await?,
            drills,
            warnings: crate::incidents::warnings::in_force(&s.db)
                .await?
                .into_iter()
                .map(|w| (qv(&w.plan_id), w.title, local(w.issued_at, s.tz)))
                .collect(),
            plans_dir: s.notifier.plans.dir_problem().await,
            replies: crate::notify::response::replies::waiting(&s.db).await?,
            paths: super::channel_paths::panel(&s, lang).await?,
            supervision: crate::enforcement::supervision::open_counts(
                &s.db,
                &crate::time::today(s.tz).to_string(),
            )
            .await?,
        },
    ))
}

/// Per channel: last successful send, failed attempts in the last hour, and
/// what is waiting.
async fn channels(s: &AppState, lang: Lang) -> WebResult<Vec<ChannelLine>> {
    let mut out = Vec::new();
    for c in crate::notify::delivery::outbox::channel_health(&s.notifier).await? {
        let (zh, en) = match c.channel {
            "sms" => ("短信", "SMS"),
            "voice" => ("语音电话", "Voice calls"),
            _ => ("邮件", "E-mail"),
        };
        let (on, provider, last, fails, waiting, breaker) = (
            c.enabled,
            c.provider.as_str(),
            c.last_sent_at,
            c.failures_last_hour,
            c.waiting,
            &c.breaker,
        );
        // Written to files, not sent: said so, not shown as a provider.
        let spool = on && matches!(provider, "spool" | "");
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
            "closed" if spool => lang
                .t(
                    "只写入测试文件，未真正发出",
                    "only written to test files, not sent",
                )
                .to_string(),
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
        out.push(ChannelLine {
            channel: c.channel.to_string(),
            breaker: breaker.state,
            class: cls,
            name: lang.t(zh, en),
            provider: if spool {
                lang.t("测试文件", "test files").to_string()
            } else if on {
                provider_words(lang, provider)
            } else {
                lang.t("已关闭", "off").to_string()
            },
            state,
            error: breaker
                .last_error
                .clone()
                .filter(|_| breaker.state != "closed"),
            last: last.map_or_else(
                || lang.t("从未", "never").to_string(),
                |t| format!("{} ({})", local(t, s.tz), ago(lang, (now_ms() - t) / 1000)),
            ),
            fails,
            waiting,
        });
    }
    Ok(out)
}

/// Who sends, in words: the spool is "测试文件", not a provider.
fn provider_words(lang: Lang, provider: &str) -> String {
    match provider {
        "spool" => lang.t("测试文件，不真正发出", "test files, nothing is sent"),
        "smtp" => lang.t("邮件服务器", "mail server"),
        "aliyun" => lang.t("阿里云短信", "Aliyun SMS"),
        "tencent" => lang.t("腾讯云短信", "Tencent Cloud SMS"),
        "webhook" => lang.t("短信网关接口", "SMS gateway (webhook)"),
        other => return other.to_string(),
    }
    .to_string()
}

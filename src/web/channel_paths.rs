//! The SMS paths in words (备用通道 and 通道自检): which path is in use since when, each one's
//! recent failures and latest daily self-check, for the overview
//! (`templates/overview/paths.html`) and the worklist (`templates/worklist/canaries.html`).

use super::WebResult;
use super::html::local;
use super::i18n::Lang;
use crate::app::AppState;
use crate::notify::delivery::canary::{self, CanaryView, PathCheck};
use crate::store::now_ms;

/// One path, one table row.
pub struct PathLine {
    pub key: &'static str,
    pub order: usize,
    pub name: &'static str,
    pub in_use: bool,
    /// "in use since …", "standby" or "failing".
    pub state: String,
    pub class: &'static str,
    pub fails: usize,
    pub error: Option<String>,
    /// The latest self-check in words.
    pub check: String,
}

/// A path whose self-check failed or is missing.
pub struct CanaryLine {
    pub key: &'static str,
    pub name: &'static str,
    pub why: String,
    pub when: String,
}

/// The overview's part: the paths (none when SMS is spooled or off) and the failed checks.
#[derive(Default)]
pub struct Panel {
    pub paths: Vec<PathLine>,
    pub failing: Vec<CanaryLine>,
}

fn name(lang: Lang, path: &str) -> &'static str {
    let (zh, en) = canary::path_names(path);
    lang.t(zh, en)
}

/// Why a check failed, in words.
fn why(s: &AppState, lang: Lang, c: &CanaryView) -> String {
    let code = c.receipt_code.clone().unwrap_or_default();
    match (c.reason.as_deref(), lang) {
        (Some("send_failed"), Lang::Zh) => {
            format!("发送失败：{}", c.detail.as_deref().unwrap_or("原因未记录"))
        }
        (Some("send_failed"), Lang::En) => format!(
            "could not be sent: {}",
            c.detail.as_deref().unwrap_or("no reason recorded")
        ),
        (Some("no_receipt"), Lang::Zh) => {
            format!("{} 分钟内未收到送达回执", s.cfg.canary.receipt_minutes)
        }
        (Some("no_receipt"), Lang::En) => format!(
            "no delivery receipt within {} minutes",
            s.cfg.canary.receipt_minutes
        ),
        (Some("undelivered"), Lang::Zh) => format!("回执显示未送达手机（{code}）"),
        (Some("undelivered"), Lang::En) => {
            format!("the receipt says the phone did not get it ({code})")
        }
        (Some("no_phone"), _) => lang
            .t(
                "没有可发送的值班电话：请设置 canary.to，或为应急办值班联系人填写手机号",
                "no duty phone to send to: set canary.to, or give the 应急办值班 contact a phone",
            )
            .to_string(),
        _ => lang.t("未通过", "failed").to_string(),
    }
}

fn check_words(s: &AppState, lang: Lang, c: &PathCheck) -> String {
    if let Some(day) = &c.missing_day {
        return match lang {
            Lang::Zh => format!("{day} 未做自检"),
            Lang::En => format!("no self-check on {day}"),
        };
    }
    let Some(v) = &c.latest else {
        return lang.t("尚无自检", "not checked yet").to_string();
    };
    let sample = if v.sample != 0 {
        lang.t("（示例）", " (sample)")
    } else {
        ""
    };
    let state = match v.status.as_str() {
        "ok" => lang
            .t("通过：已送达手机", "passed: received by the phone")
            .to_string(),
        "waiting" => lang
            .t("已发出，等待送达回执", "sent, waiting for its receipt")
            .to_string(),
        "sending" => lang.t("发送中", "sending").to_string(),
        _ => format!("{}{}", lang.t("未通过：", "failed: "), why(s, lang, v)),
    };
    format!("{} {state}{sample}", v.day)
}

fn failing_line(s: &AppState, lang: Lang, c: &PathCheck) -> Option<CanaryLine> {
    if !c.failing {
        return None;
    }
    let (why, when) = match (&c.missing_day, &c.latest) {
        (Some(day), _) => (
            lang.t(
                "当天没有做自检（系统是否停止过？）",
                "no self-check that day (was the daemon stopped?)",
            )
            .to_string(),
            day.clone(),
        ),
        (None, Some(v)) => (
            why(s, lang, v),
            v.sent_at.map_or_else(|| v.day.clone(), |t| local(t, s.tz)),
        ),
        (None, None) => return None,
    };
    Some(CanaryLine {
        key: c.path,
        name: name(lang, c.path),
        why,
        when,
    })
}

/// The failed or missing self-checks (for the overview and the worklist).
pub async fn failing(s: &AppState, lang: Lang) -> WebResult<Vec<CanaryLine>> {
    let checks = canary::state(&s.notifier, now_ms()).await?;
    Ok(checks
        .iter()
        .filter_map(|c| failing_line(s, lang, c))
        .collect())
}

/// The overview's paths table and failed checks.
pub async fn panel(s: &AppState, lang: Lang) -> WebResult<Panel> {
    let views = crate::notify::delivery::paths::views(&s.notifier).await?;
    if views.is_empty() {
        return Ok(Panel::default());
    }
    let checks = canary::state(&s.notifier, now_ms()).await?;
    let paths = views
        .iter()
        .map(|p| {
            let check = checks.iter().find(|c| c.path == p.name);
            let state = if p.in_use {
                match (lang, p.since) {
                    (Lang::Zh, Some(t)) => format!("在用（自 {} 起）", local(t, s.tz)),
                    (Lang::En, Some(t)) => format!("in use since {}", local(t, s.tz)),
                    _ => lang.t("在用", "in use").to_string(),
                }
            } else if p.failing {
                lang.t("故障，暂不使用", "failing, not used").to_string()
            } else {
                lang.t("备用", "standby").to_string()
            };
            PathLine {
                key: p.name,
                order: p.order,
                name: name(lang, p.name),
                in_use: p.in_use,
                class: if p.failing {
                    "bad"
                } else if check.is_some_and(|c| c.failing) || p.failures_last_hour > 0 {
                    "warn"
                } else {
                    "ok"
                },
                state,
                fails: p.failures_last_hour,
                error: p.last_error.clone().filter(|_| p.failures_in_a_row > 0),
                check: check.map_or_else(String::new, |c| check_words(s, lang, c)),
            }
        })
        .collect();
    Ok(Panel {
        paths,
        failing: checks
            .iter()
            .filter_map(|c| failing_line(s, lang, c))
            .collect(),
    })
}

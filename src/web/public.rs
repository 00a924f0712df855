//! 信息公开: the public page of active public warnings, in Chinese, without
//! sign-in: each warning's text, its area on a map (village outlines, no
//! tiles unless configured) and the messages it updates. Nothing about
//! recipients is ever on it. CAP's `<web>` points at a warning's own page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::html::{level_class, local, render};
use super::{Ctx, WebError, WebResult};
use crate::app::AppState;
use crate::enforcement::draws::{self, PublicDraw};
use crate::notify::intake::template::level_zh;
use crate::notify::publishing::publish::{self, PublicMessage, PublicWarning};

/// A message as the page shows it.
pub struct Message {
    pub id: i64,
    pub headline: String,
    pub body: Vec<String>,
    pub level: &'static str,
    pub class: &'static str,
    pub exercise: bool,
    pub at: String,
    pub active: bool,
}

/// A warning as the page shows it.
pub struct Warning {
    pub current: Message,
    pub area_desc: String,
    /// The map's area as JSON, for `public.js` (in a data attribute, escaped).
    pub area: String,
    pub cap_url: String,
    pub earlier: Vec<Message>,
}

fn message(m: &PublicMessage, tz: chrono_tz::Tz) -> Message {
    Message {
        id: m.id,
        headline: m.headline.clone(),
        body: m.body.lines().map(str::to_string).collect(),
        // A public notice without a response level is a warning to the public.
        level: if m.level.is_some() {
            level_zh(m.level)
        } else {
            "预警"
        },
        class: level_class(m.level),
        exercise: m.exercise,
        at: local(m.published_ms, tz),
        active: m.active,
    }
}

fn warning(w: &PublicWarning, tz: chrono_tz::Tz) -> Warning {
    Warning {
        current: message(&w.current, tz),
        area_desc: w.area_desc.clone(),
        area: w.area.to_string(),
        cap_url: w.cap_url.clone(),
        earlier: w.earlier.iter().map(|m| message(m, tz)).collect(),
    }
}

#[derive(Template)]
#[template(path = "public/page.html")]
struct PublicPage {
    office: String,
    tiles: String,
    warnings: Vec<Warning>,
    draws: Vec<PublicDraw>,
}

#[derive(Template)]
#[template(path = "public/draw.html")]
struct DrawPage {
    office: String,
    d: PublicDraw,
}

#[derive(Template)]
#[template(path = "public/warning.html")]
struct WarningPage {
    office: String,
    tiles: String,
    w: Warning,
}

fn publish_error(e: publish::PublishError) -> WebError {
    match e {
        publish::PublishError::Store(s) => WebError::Store(s),
        publish::PublishError::Cap(m) => WebError::Internal(m),
    }
}

/// `/public/`: every active public warning.
pub async fn page(State(s): State<AppState>, _ctx: Ctx) -> WebResult {
    let list = publish::active_warnings(&s.system, &s.cfg)
        .await
        .map_err(publish_error)?;
    let mut shown = Vec::new();
    for row in draws::published(&s.system, 20).await? {
        shown.extend(draws::with_outcomes(&s.system, &row, s.tz).await?.public());
    }
    Ok(render(
        StatusCode::OK,
        &PublicPage {
            office: s.cfg.office_name.clone(),
            tiles: s.cfg.map_tile_url.clone(),
            warnings: list.iter().map(|w| warning(w, s.tz)).collect(),
            draws: shown,
        },
    ))
}

/// `/public/draws/{id}` (the page) and `/public/draws/{id}.json` (for
/// recomputation): a drawn plan, its lists, seed and pairs, and each drawn
/// site's inspection outcome once recorded.
pub async fn draw_page(
    State(s): State<AppState>,
    _ctx: Ctx,
    Path(file): Path<String>,
) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    let (id, json) = match file.strip_suffix(".json") {
        Some(id) => (id, true),
        None => (file.as_str(), false),
    };
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let row = draws::published_one(&s.system, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let d = draws::with_outcomes(&s.system, &row, s.tz)
        .await?
        .public()
        .ok_or(WebError::NotFound)?;
    if json {
        return Ok(axum::Json(d).into_response());
    }
    Ok(render(
        StatusCode::OK,
        &DrawPage {
            office: s.cfg.office_name.clone(),
            d,
        },
    ))
}

/// `/public/warnings/{id}`: one public warning that went out (CAP `<web>`).
pub async fn warning_page(State(s): State<AppState>, _ctx: Ctx, Path(id): Path<i64>) -> WebResult {
    let w = publish::warning(&s.system, &s.cfg, id)
        .await
        .map_err(publish_error)?
        .ok_or(WebError::NotFound)?;
    Ok(render(
        StatusCode::OK,
        &WarningPage {
            office: s.cfg.office_name.clone(),
            tiles: s.cfg.map_tile_url.clone(),
            w: warning(&w, s.tz),
        },
    ))
}

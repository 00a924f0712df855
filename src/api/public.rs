//! Public pages: answer links (no login), the CAP messages and the Atom feed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, HeaderValue};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ErrorBody;
use crate::notify::delivery::render::esc;
use crate::notify::publishing::publish;
use crate::notify::response::{answers, status};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbound_sms))
        .routes(routes!(sms_receipts))
        .routes(routes!(answer_page, answer_post))
        .routes(routes!(cap))
        .routes(routes!(feed))
}

/// The SMS providers whose reply callbacks are understood.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Aliyun,
    Tencent,
    Twilio,
    Webhook,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aliyun => "aliyun",
            Provider::Tencent => "tencent",
            Provider::Twilio => "twilio",
            Provider::Webhook => "webhook",
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HookQuery {
    /// The shared secret, only if sms.inbound_token_in_query is on (Aliyun, Tencent).
    #[allow(dead_code)] // read by `notify::sms::parse_inbound` from the raw query
    token: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct HookAnswer {
    /// Always 0 (what Aliyun and Tencent expect).
    code: i64,
    received: usize,
    answered: usize,
    /// Replies already seen (a provider's retry): nothing answered again.
    replayed: usize,
}

/// 503 for a storage fault that will pass (the sender may try again), 500
/// otherwise.
fn unavailable_or_500(e: &crate::store::StoreError) -> StatusCode {
    if e.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// The answer page's only style, inline so a feature phone needs one request.
const PAGE_STYLE: &str = "body{font-family:sans-serif;max-width:36em;margin:1em auto;padding:0 1em;font-size:18px;overflow-wrap:anywhere}\
     button{font-size:1.4em;padding:.6em 2em;background:#c0392b;color:#fff;border:0;border-radius:6px}\
     .en{color:#666;font-size:.85em}";

/// The answer pages' policy: nothing but that style and a form posting
/// back here; never framed, never cached (the link is the person's key),
/// never sent on as a referrer.
fn page_csp() -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PAGE_STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <link rel=\"icon\" href=\"/favicon.ico\" type=\"image/svg+xml\"><style>{PAGE_STYLE}</style></head><body>{body}</body></html>",
        t = esc(title)
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&page_csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The recipient behind an answer link, or the page explaining why not.
async fn token_info(s: &AppState, token: &str) -> Result<answers::TokenInfo, Response> {
    let info = match answers::by_token(&s.system, token).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return Err(page(
                StatusCode::NOT_FOUND,
                "链接无效",
                "<h1>链接无效</h1><p class=en>This answer link is not valid.</p>",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "answer link");
            return Err(page(
                unavailable_or_500(&e),
                "出错了",
                "<h1>暂时无法处理，请回复短信“1”或致电应急办。</h1>",
            ));
        }
    };
    if crate::store::now_ms() > info.token_expires_at {
        return Err(page(
            StatusCode::GONE,
            "链接已过期",
            "<h1>链接已过期</h1><p>请回复短信“1”或致电应急办确认。</p><p class=en>This link has expired.</p>",
        ));
    }
    Ok(info)
}

/// For a transfer notice, the link to the cadre's household list.
async fn household_link(s: &AppState, alert_id: i64, token: &str) -> String {
    match crate::transfer::progress::by_notice(&s.system, alert_id).await {
        Ok(Some(_)) => format!(
            "<p><a class=button id=households href=\"/a/{}/households\">查看我负责的户并逐户登记（转移名单）</a></p>",
            esc(token)
        ),
        _ => String::new(),
    }
}

/// Answer page for one recipient (shows the notice and a confirm button).
#[utoipa::path(get, path = "/a/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The recipient's answer token, from the link in the notice")),
    responses(
        (status = 200, description = "The notice and a confirm button", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link", content_type = "text/html", body = String),
        (status = 410, description = "The link has expired", content_type = "text/html", body = String),
        (status = 503, description = "Storage unavailable", content_type = "text/html", body = String)))]
async fn answer_page(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let info = match token_info(&s, &token).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    let villages = crate::registry::villages::names(&s.system)
        .await
        .unwrap_or_default();
    let (headline, text) = crate::notify::delivery::render::Renderer {
        cfg: &s.cfg,
        villages: &villages,
    }
    .page(&info.as_delivery());
    let drill = if info.exercise != 0 {
        "<p><b>【演练】</b>这是一次演练。<span class=en>This is a drill.</span></p>"
    } else {
        ""
    };
    let state = if info.answered_at.is_some() {
        "<p>✅ 您已确认收到。<span class=en>You have already confirmed.</span></p>".to_string()
    } else if info.status == "closed" {
        "<p>此通知已结束，无需再确认。<span class=en>This notice has been closed; no confirmation is needed.</span></p>".to_string()
    } else {
        format!(
            "<form method=post action=\"/a/{}\"><button type=submit>确认收到（叫应）</button></form><p class=en>Press to confirm you received this notice.</p>",
            esc(&token)
        )
    };
    let body = format!(
        "{drill}<h1>{}</h1><p>{}</p>{state}{}",
        esc(&headline),
        esc(&text).replace('\n', "<br>"),
        household_link(&s, info.alert_id, &token).await
    );
    page(StatusCode::OK, &headline, &body)
}

/// Confirm receipt (叫应); the first answer counts.
#[utoipa::path(post, path = "/a/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "The recipient's answer token")),
    responses(
        (status = 200, description = "Recorded (or already recorded)", content_type = "text/html", body = String),
        (status = 404, description = "Not a valid link", content_type = "text/html", body = String),
        (status = 409, description = "The notice is closed", content_type = "text/html", body = String),
        (status = 410, description = "The link has expired", content_type = "text/html", body = String),
        (status = 503, description = "Storage unavailable", content_type = "text/html", body = String)))]
async fn answer_post(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let info = match token_info(&s, &token).await {
        Ok(i) => i,
        Err(page) => return page,
    };
    match answers::record(
        &s.system,
        info.recipient_id,
        "link",
        &format!("link:{}", info.name),
        None,
    )
    .await
    {
        Ok(answers::Answered::Closed { .. }) => page(
            StatusCode::CONFLICT,
            "通知已结束",
            "<h1>此通知已结束，无需再确认。</h1><p>如有险情，请立即致电乡应急办。</p><p class=en>This notice has been closed; no confirmation is needed. Report any danger to the township emergency office by phone.</p>",
        ),
        Ok(_) => page(
            StatusCode::OK,
            "已确认",
            &format!(
                "<h1>✅ 已确认收到</h1><p>{}，谢谢。应急办已收到您的确认。</p><p class=en>Thank you, your answer was recorded.</p>{}",
                esc(&info.name),
                household_link(&s, info.alert_id, &token).await
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "recording answer");
            page(
                unavailable_or_500(&e),
                "出错了",
                "<h1>暂时无法记录，请回复短信“1”或致电应急办。</h1>",
            )
        }
    }
}

/// A public notice as CAP 1.2 (`{id}.cap`).
#[utoipa::path(get, path = "/public/alerts/{file}", tag = "public", security(()),
    params(("file" = String, Path, description = "`{id}.cap`, e.g. 12.cap")),
    responses(
        (status = 200, description = "CAP 1.2", content_type = "application/cap+xml", body = String),
        (status = 404, description = "No such public notice", content_type = "text/plain", body = String)))]
async fn cap(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(id) = file
        .strip_suffix(".cap")
        .and_then(|i| i.parse::<i64>().ok())
    else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let alert = match status::get(&s.system, id).await {
        // Published once approved: never while awaiting sign-off, never when rejected.
        Ok(Some(a)) if a.public != 0 && matches!(a.status.as_str(), "active" | "closed") => a,
        Ok(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cap");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match publish::cap_xml(&s.system, &s.cfg, &alert).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cap");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Atom feed of active public notices.
#[utoipa::path(get, path = "/public/feed.atom", tag = "public", security(()),
    responses((status = 200, description = "Atom 1.0", content_type = "application/atom+xml", body = String)))]
async fn feed(State(s): State<AppState>) -> Response {
    match publish::feed(&s.system, &s.cfg).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "feed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// What both SMS callbacks (replies and receipts) read from the request
/// before their own parsing: the provider named in the path, the URL the
/// provider signed (the public base and the path as called) and a `?token=`
/// in the query. The query may hold the shared secret (when allowed): it is
/// read here and never logged, and neither is the URL.
fn sms_hook(
    s: &AppState,
    provider: &str,
    uri: &Uri,
) -> Result<(Provider, String, Option<String>), super::error::ApiError> {
    let Ok(parsed) =
        serde_json::from_value::<Provider>(serde_json::Value::String(provider.to_string()))
    else {
        return Err(super::error::ApiError::bad_request(
            Some("provider".into()),
            format!("unknown SMS provider '{provider}'; use aliyun, tencent, twilio or webhook"),
        ));
    };
    let full_url = format!(
        "{}{}",
        s.cfg.public_base(),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let token = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, v)| k == "token" && !v.is_empty())
        .map(|(_, v)| v.into_owned());
    Ok((parsed, full_url, token))
}

/// Inbound SMS replies (1 / 收到) from aliyun, tencent, twilio or webhook. Authentication:
/// aliyun/tencent the sms.inbound_token in the X-Fenghuo-Token header or as the key of an
/// X-Fenghuo-Signature HMAC of the body (?token= only if sms.inbound_token_in_query is on);
/// twilio X-Twilio-Signature; webhook X-Fenghuo-Signature. Each provider message counts once
/// (a replay answers nothing, still 200 with replayed); an acknowledgement answers the newest
/// unanswered open SMS notice to that number within its answer-link validity.
#[utoipa::path(post, path = "/hooks/sms/{provider}", tag = "public", security(("signature" = [])),
    params(("provider" = inline(Provider), Path), HookQuery),
    request_body(content = String, description = "The provider's callback: JSON, or a form for Twilio",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded; Twilio gets empty TwiML (text/xml) instead", body = HookAnswer),
        (status = 400, description = "Not in the provider's format", body = ErrorBody),
        (status = 401, description = "Bad signature or token", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 503, description = "Storage unavailable: the provider should retry")))]
async fn inbound_sms(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (provider, full_url, token) = match sms_hook(&s, &provider, &uri) {
        Ok(parts) => parts,
        Err(refused) => return refused.into_response(),
    };
    let replies = match crate::notify::delivery::sms::inbound::parse_inbound(
        &s.cfg.sms,
        provider.as_str(),
        &full_url,
        &headers,
        &body,
        token.as_deref(),
    ) {
        Ok(r) => r,
        Err(
            e @ (crate::notify::delivery::sms::inbound::InboundError::Unauthorized
            | crate::notify::delivery::sms::inbound::InboundError::QueryTokenRefused),
        ) => {
            let message = match e {
                crate::notify::delivery::sms::inbound::InboundError::QueryTokenRefused => {
                    e.to_string()
                }
                _ => "bad signature or token".to_string(),
            };
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    serde_json::json!({"error": {"code": "unauthorized", "message": message}}),
                ),
            )
                .into_response();
        }
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    serde_json::json!({"error": {"code": "bad_request", "message": e.to_string()}}),
                ),
            )
                .into_response();
        }
    };
    let (mut answered, mut replayed) = (0, 0);
    for r in &replies {
        match answers::by_phone(&s.system, provider.as_str(), &r.key, &r.from, &r.text).await {
            Ok(answers::SmsReply::Answered(answers::Answered::First { .. })) => answered += 1,
            // Still 200: a provider retries an error, and a replay must end, not loop.
            Ok(answers::SmsReply::Replay) => replayed += 1,
            Ok(answers::SmsReply::Transfer(crate::transfer::progress::SmsOutcome::Counted {
                transfer_id,
                contact_id,
                confirmation,
                ..
            })) => {
                // The report is stored; a read-back that fails is logged, not retried by the provider.
                if let Err(e) = crate::transfer::progress::read_back(
                    &s.notifier,
                    transfer_id,
                    contact_id,
                    &confirmation,
                )
                .await
                {
                    tracing::warn!(transfer = transfer_id, error = ?e, "reading a transfer report back to its sender failed");
                }
            }
            Ok(_) => {}
            Err(e) => {
                // 503 when the storage is away: the provider delivers the
                // reply again later instead of it being lost.
                tracing::error!(error = %e, "recording an SMS answer");
                return unavailable_or_500(&e).into_response();
            }
        }
    }
    if matches!(provider, Provider::Twilio) {
        // Twilio wants TwiML back; an empty response sends no reply SMS.
        return (
            [(header::CONTENT_TYPE, "text/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
        )
            .into_response();
    }
    axum::Json(HookAnswer {
        code: 0,
        received: replies.len(),
        answered,
        replayed,
    })
    .into_response()
}

/// 401/400 for a receipt or reply callback that does not authenticate or parse.
fn refused_callback(e: crate::notify::delivery::sms::inbound::InboundError) -> Response {
    use crate::notify::delivery::sms::inbound::InboundError;
    let (status, code, message) = match e {
        InboundError::QueryTokenRefused => {
            (StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
        }
        InboundError::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "bad signature or token".to_string(),
        ),
        InboundError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
struct ReceiptAnswer {
    /// Always 0: what Aliyun (`code`) and Tencent (`result`) expect.
    code: i64,
    result: i64,
    msg: &'static str,
    errmsg: &'static str,
    #[serde(flatten)]
    recorded: crate::notify::delivery::sms::receipts::Recorded,
}

/// SMS delivery receipts (状态报告) from aliyun (SmsReport), tencent (短信下发状态回调), twilio
/// (StatusCallback) or webhook, recorded on the delivery (or daily self-check) whose provider
/// message id they name. Authenticated as the reply callbacks: aliyun/tencent the
/// sms.inbound_token in X-Fenghuo-Token or an X-Fenghuo-Signature HMAC of the body; twilio
/// X-Twilio-Signature; webhook X-Fenghuo-Signature. A receipt already recorded changes nothing.
#[utoipa::path(post, path = "/hooks/sms/{provider}/receipts", tag = "public", security(("signature" = [])),
    params(("provider" = inline(Provider), Path), HookQuery),
    request_body(content = String, description = "The provider's receipts: JSON, or a form for Twilio",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = ReceiptAnswer),
        (status = 400, description = "Not in the provider's format", body = ErrorBody),
        (status = 401, description = "Bad signature or token", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 503, description = "Storage unavailable: the provider should retry")))]
async fn sms_receipts(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (provider, full_url, token) = match sms_hook(&s, &provider, &uri) {
        Ok(parts) => parts,
        Err(refused) => return refused.into_response(),
    };
    let receipts = match crate::notify::delivery::sms::receipts::parse_receipts(
        &s.cfg.sms,
        provider.as_str(),
        &full_url,
        &headers,
        &body,
        token.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => return refused_callback(e),
    };
    let recorded = match crate::notify::delivery::sms::receipts::record(
        &s.system,
        provider.as_str(),
        &receipts,
        crate::store::now_ms(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            // 503 when the storage is away: the provider pushes the receipts again.
            tracing::error!(error = %e, "recording SMS receipts");
            return unavailable_or_500(&e).into_response();
        }
    };
    if recorded.unmatched > 0 {
        tracing::debug!(
            provider = provider.as_str(),
            unmatched = recorded.unmatched,
            "SMS receipts for no waiting delivery"
        );
    }
    axum::Json(ReceiptAnswer {
        code: 0,
        result: 0,
        msg: "接收成功",
        errmsg: "OK",
        recorded,
    })
    .into_response()
}

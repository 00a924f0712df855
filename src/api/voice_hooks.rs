//! `/hooks/voice/{provider}`: call receipts and key presses from the voice providers. A key
//! "1" answers the called person's notice (叫应); anything else is recorded on the call. The
//! parsing and authentication is `notify::delivery::voice::receipts`, the recording `calls`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::ErrorBody;
use crate::notify::delivery::sms::inbound::InboundError;
use crate::notify::delivery::voice::{calls, receipts};
use crate::notify::response::answers::Answered;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(voice_receipts))
}

/// The voice providers whose receipts are understood.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoiceProviderName {
    Aliyun,
    Tencent,
    Twilio,
    Webhook,
}

impl VoiceProviderName {
    fn as_str(self) -> &'static str {
        match self {
            VoiceProviderName::Aliyun => "aliyun",
            VoiceProviderName::Tencent => "tencent",
            VoiceProviderName::Twilio => "twilio",
            VoiceProviderName::Webhook => "webhook",
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReceiptQuery {
    /// The shared secret, only if voice.callback_token_in_query is on (Aliyun, Tencent).
    #[allow(dead_code)] // read from the raw query by `receipts::parse`
    token: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ReceiptAnswer {
    /// Always 0: Aliyun's push expects `code`, Tencent's `result`.
    code: i64,
    result: i64,
    errmsg: &'static str,
    received: usize,
    /// Key presses that answered a notice (the person's first answer).
    answered: usize,
    /// Receipts naming no call of this daemon's.
    unknown: usize,
}

fn refused(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Call receipts and key presses from aliyun, tencent, twilio or webhook. Authentication:
/// aliyun/tencent the voice.callback_token in the X-Fenghuo-Token header or as the key of an
/// X-Fenghuo-Signature HMAC of the body (?token= only if voice.callback_token_in_query is on);
/// twilio X-Twilio-Signature; webhook X-Fenghuo-Signature with voice.webhook.secret. A key "1"
/// answers the called person's notice (叫应); a call picked up without it is recorded as
/// reached, not answered. Receipts are idempotent: a replay changes nothing more.
#[utoipa::path(post, path = "/hooks/voice/{provider}", tag = "public", security(("signature" = [])),
    params(("provider" = inline(VoiceProviderName), Path), ReceiptQuery),
    request_body(content = String, description = "The provider's receipt: JSON, or a form for Twilio",
        content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded; Twilio gets TwiML (text/xml) instead", body = ReceiptAnswer),
        (status = 400, description = "Unknown provider, or not in its format", body = ErrorBody),
        (status = 403, description = "Bad signature or token: nothing recorded", body = ErrorBody),
        (status = 503, description = "Storage unavailable: the provider should retry")))]
async fn voice_receipts(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(provider) =
        serde_json::from_value::<VoiceProviderName>(serde_json::Value::String(provider.clone()))
    else {
        return super::error::ApiError::bad_request(
            Some("provider".into()),
            format!("unknown voice provider '{provider}'; use aliyun, tencent, twilio or webhook"),
        )
        .into_response();
    };
    // As the provider called it (Twilio signs it); never logged: the query may hold the secret.
    let full_url = format!(
        "{}{}",
        s.cfg.public_base(),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let token = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, v)| k == "token" && !v.is_empty())
        .map(|(_, v)| v.into_owned());
    let events = match receipts::parse(
        &s.cfg.voice,
        provider.as_str(),
        &full_url,
        &headers,
        &body,
        token.as_deref(),
    ) {
        Ok(e) => e,
        Err(e @ InboundError::QueryTokenRefused) => {
            return refused(StatusCode::FORBIDDEN, "forbidden", e.to_string());
        }
        Err(InboundError::Unauthorized) => {
            return refused(
                StatusCode::FORBIDDEN,
                "forbidden",
                "bad signature or token".into(),
            );
        }
        Err(InboundError::BadRequest(m)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("bad receipt: {m}"),
            );
        }
    };
    let (mut answered, mut unknown, mut confirmed) = (0, 0, false);
    let now = crate::store::now_ms();
    for e in &events {
        match calls::apply(&s.system, provider.as_str(), e, now).await {
            Ok(calls::Applied::Answered(a)) => {
                confirmed |= !matches!(a, Answered::Closed { .. });
                if matches!(a, Answered::First { .. }) {
                    answered += 1;
                }
            }
            Ok(calls::Applied::Recorded) => {}
            Ok(calls::Applied::Unknown) => unknown += 1,
            Err(e) => {
                // 503 when the storage is away: the provider sends the receipt again later.
                tracing::error!(error = %e, "recording a call receipt");
                return if e.is_unavailable() {
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                };
            }
        }
    }
    if matches!(provider, VoiceProviderName::Twilio) {
        // The `<Gather>` action's answer is what the caller hears next.
        let twiml = if confirmed {
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say language=\"zh-CN\">已确认收到，谢谢。</Say></Response>"
        } else {
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"
        };
        return ([(header::CONTENT_TYPE, "text/xml")], twiml).into_response();
    }
    axum::Json(ReceiptAnswer {
        code: 0,
        result: 0,
        errmsg: "OK",
        received: events.len(),
        answered,
        unknown,
    })
    .into_response()
}

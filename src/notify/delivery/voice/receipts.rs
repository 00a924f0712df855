//! What the voice providers post back to `/hooks/voice/{provider}`: a call's result (picked up,
//! no answer, busy, failed, with its length) and the key pressed. Each provider's format is
//! read into [`CallEvent`]s after its authentication is checked, before the body is looked at:
//! - Aliyun (呼叫结果回执 VoiceReport, 中间状态/按键 VoiceCallReport, a JSON array) and Tencent
//!   (`voiceprompt_callback`, `voicekey_callback`) sign nothing: the relay that forwards them
//!   adds `voice.callback_token` (header `X-Fenghuo-Token`, or an `X-Fenghuo-Signature` HMAC
//!   of the body keyed with it; `?token=` only with `voice.callback_token_in_query`);
//! - Twilio signs every request (`X-Twilio-Signature`, keyed with the auth token);
//! - the generic webhook signs as the SMS webhook does, with `voice.webhook.secret`.

use axum::http::HeaderMap;
use serde_json::Value;

use super::settings::VoiceConfig;
use crate::notify::delivery::sms::inbound::{
    InboundError, TWILIO_SIGNATURE_HEADER, check_shared_secret, check_webhook_signature,
    twilio_verify,
};
use crate::notify::delivery::sms::webhook::WEBHOOK_SIGNATURE_HEADER;

/// How a call ended, as the office reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// Picked up (listened, hung up early, or no key in time): reached, not answered.
    Reached,
    NoAnswer,
    Busy,
    /// Not placed through: a wrong, switched-off or suspended number, a carrier fault.
    Failed,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Reached => "reached",
            CallStatus::NoAnswer => "no_answer",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
        }
    }
}

/// One thing a provider said about one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallEvent {
    /// The provider's call id (CallId, callid, CallSid, call_id).
    pub call_id: Option<String>,
    /// Our reference the call carried (Aliyun OutId, the webhook's `reference`): the delivery.
    pub reference: Option<String>,
    pub status: Option<CallStatus>,
    /// The provider's own word for it (200003, no-answer …), kept as said.
    pub provider_status: Option<String>,
    pub duration_secs: Option<i64>,
    /// The keys pressed, in order.
    pub digits: Option<String>,
}

/// Reads and authenticates a provider's callback. `full_url` is the URL as the provider called
/// it (Twilio signs it: `public_base_url` + path and query); `query_token` the `?token=`.
pub fn parse(
    cfg: &VoiceConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
) -> Result<Vec<CallEvent>, InboundError> {
    parse_at(
        cfg,
        provider,
        full_url,
        headers,
        body,
        query_token,
        chrono::Utc::now().timestamp(),
    )
}

pub fn parse_at(
    cfg: &VoiceConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> Result<Vec<CallEvent>, InboundError> {
    let shared = || {
        check_shared_secret(
            &cfg.callback_token,
            cfg.callback_token_in_query,
            headers,
            body,
            query_token,
            now,
        )
    };
    match provider {
        "aliyun" => {
            shared()?;
            Ok(items(body)?.iter().filter_map(aliyun_event).collect())
        }
        "tencent" => {
            shared()?;
            Ok(items(body)?.iter().filter_map(tencent_event).collect())
        }
        "twilio" => {
            let signature = headers
                .get(TWILIO_SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(InboundError::Unauthorized)?;
            let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
            if !twilio_verify(&cfg.twilio.auth_token, full_url, &params, signature) {
                return Err(InboundError::Unauthorized);
            }
            Ok(twilio_event(&params).into_iter().collect())
        }
        "webhook" => {
            let header = headers
                .get(WEBHOOK_SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(InboundError::Unauthorized)?;
            check_webhook_signature(&cfg.webhook.secret, header, body, now)?;
            Ok(items(body)?.iter().filter_map(webhook_event).collect())
        }
        other => Err(InboundError::BadRequest(format!(
            "unknown voice provider '{other}'"
        ))),
    }
}

/// A JSON object or an array of them.
fn items(body: &[u8]) -> Result<Vec<Value>, InboundError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Ok(item @ Value::Object(_)) => Ok(vec![item]),
        Ok(_) => Err(InboundError::BadRequest(
            "expected a JSON object or an array of objects".into(),
        )),
        Err(e) => Err(InboundError::BadRequest(format!("not JSON: {e}"))),
    }
}

/// A text field (numbers too: gateways send ids unquoted); empty is none.
fn text(item: &Value, name: &str) -> Option<String> {
    let s = match item.get(name)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn seconds(item: &Value, name: &str) -> Option<i64> {
    text(item, name)?
        .trim_end_matches('秒')
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
}

/// Aliyun's call status codes (呼叫状态码) as the office reads them; the in-call ones that say
/// nothing final (calling, ringing, ended) give none.
pub fn aliyun_status(code: &str) -> Option<CallStatus> {
    Some(match code {
        // Listened to the end, hung up early, no key in time, picked up.
        "200000" | "200001" | "200008" | "200102" => CallStatus::Reached,
        "200002" => CallStatus::Busy,
        // Rang without an answer, refused, out of the service area.
        "200003" | "200005" | "200007" => CallStatus::NoAnswer,
        // Calling, ringing, call ended, a key (its `dtmf` says which).
        "200101" | "200201" | "200100" | "300000" => return None,
        // Invalid, switched off, suspended number; carrier and system faults.
        _ => CallStatus::Failed,
    })
}

fn aliyun_event(item: &Value) -> Option<CallEvent> {
    let code = text(item, "status_code");
    let e = CallEvent {
        call_id: text(item, "call_id"),
        reference: text(item, "out_id"),
        status: code.as_deref().and_then(aliyun_status),
        duration_secs: seconds(item, "duration"),
        digits: text(item, "dtmf"),
        provider_status: code,
    };
    (e.call_id.is_some() || e.reference.is_some()).then_some(e)
}

fn tencent_event(item: &Value) -> Option<CallEvent> {
    if let Some(key) = item.get("voicekey_callback") {
        return Some(CallEvent {
            call_id: Some(text(key, "callid")?),
            digits: text(key, "keypress"),
            ..CallEvent::default()
        });
    }
    let p = item.get("voiceprompt_callback")?;
    let result = text(p, "result");
    let status = match result.as_deref() {
        Some("0") => CallStatus::Reached,
        Some("1") => CallStatus::NoAnswer,
        _ => CallStatus::Failed,
    };
    // Unix seconds; a call never picked up has no answer time.
    let accepted = seconds(p, "accept_time").filter(|t| *t > 0);
    let ended = seconds(p, "end_calltime");
    Some(CallEvent {
        call_id: Some(text(p, "callid")?),
        status: Some(status),
        provider_status: result.map(|r| format!("result {r}")),
        duration_secs: match (accepted, ended) {
            (Some(a), Some(e)) if e >= a => Some(e - a),
            _ => Some(0),
        },
        ..CallEvent::default()
    })
}

fn twilio_event(params: &[(String, String)]) -> Option<CallEvent> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let status = get("CallStatus");
    let digits = get("Digits");
    Some(CallEvent {
        call_id: Some(get("CallSid")?),
        // A `<Gather>` result arrives while the call is in progress: its key is what counts.
        status: if digits.is_some() {
            None
        } else {
            status.as_deref().and_then(super::twilio::status_words)
        },
        duration_secs: get("CallDuration").and_then(|d| d.parse().ok()),
        digits,
        provider_status: status,
        reference: None,
    })
}

fn webhook_event(item: &Value) -> Option<CallEvent> {
    let status = text(item, "status");
    let e = CallEvent {
        call_id: text(item, "call_id"),
        reference: text(item, "reference"),
        status: status.as_deref().and_then(|s| match s {
            "answered" | "completed" | "reached" => Some(CallStatus::Reached),
            "no_answer" | "no-answer" => Some(CallStatus::NoAnswer),
            "busy" => Some(CallStatus::Busy),
            "failed" => Some(CallStatus::Failed),
            _ => None,
        }),
        duration_secs: seconds(item, "duration"),
        digits: text(item, "digits"),
        provider_status: status,
    };
    (e.call_id.is_some() || e.reference.is_some()).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::inbound::{INBOUND_TOKEN_HEADER, twilio_request_signature};
    use crate::notify::delivery::sms::webhook::webhook_signature_header;
    use crate::notify::delivery::voice::test_support::voice_config;
    use axum::http::{HeaderName, HeaderValue};

    const NOW: i64 = 1_782_000_000;

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
        h
    }

    fn read(
        provider: &str,
        url: &str,
        h: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<CallEvent>, InboundError> {
        parse_at(&voice_config(), provider, url, h, body, None, NOW)
    }

    #[test]
    fn aliyun_receipts_and_key_presses() {
        // Aliyun's documented VoiceReport and a VoiceCallReport with its key.
        let body = r#"[{"status_code":"200000","smart_status_code":"ANSWERED","hangup_direction":"用户",
            "callee":"1390000****","ring_time":"2023-03-15 14:46:12","duration":"10","voice_type":"voice",
            "call_id":"116012354148^1","out_id":"42","dtmf":""},
            {"status_code":"300000","dtmf":"1","status_time":"2023-03-06 16:21:12","out_id":"43","call_id":"116012354149^1"},
            {"status_code":"200003","duration":"0","call_id":"116012354150^1","out_id":"44"}]"#;
        let token = with(INBOUND_TOKEN_HEADER, "voice-callback-secret");
        let got = read(
            "aliyun",
            "https://f.example/hooks/voice/aliyun",
            &token,
            body.as_bytes(),
        )
        .expect("read");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].status, Some(CallStatus::Reached));
        assert_eq!(got[0].duration_secs, Some(10));
        assert_eq!(got[0].digits, None);
        assert_eq!(got[0].reference.as_deref(), Some("42"));
        assert_eq!((got[1].status, got[1].digits.as_deref()), (None, Some("1")));
        assert_eq!(got[2].status, Some(CallStatus::NoAnswer));
        for (code, want) in [
            ("200001", Some(CallStatus::Reached)),
            ("200002", Some(CallStatus::Busy)),
            ("200004", Some(CallStatus::Failed)),
            ("200010", Some(CallStatus::Failed)),
            ("200201", None),
        ] {
            assert_eq!(aliyun_status(code), want, "{code}");
        }
        // Without the token, with a wrong one, or with a stale HMAC: refused.
        for h in [
            HeaderMap::new(),
            with(INBOUND_TOKEN_HEADER, "wrong"),
            with(
                WEBHOOK_SIGNATURE_HEADER,
                &webhook_signature_header("voice-callback-secret", NOW - 3600, body.as_bytes()),
            ),
        ] {
            assert_eq!(
                read("aliyun", "u", &h, body.as_bytes()),
                Err(InboundError::Unauthorized)
            );
        }
        let signed = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("voice-callback-secret", NOW, body.as_bytes()),
        );
        assert_eq!(
            read("aliyun", "u", &signed, body.as_bytes()).map(|e| e.len()),
            Ok(3)
        );
    }

    #[test]
    fn tencent_status_and_key() {
        let token = with(INBOUND_TOKEN_HEADER, "voice-callback-secret");
        // Tencent's documented examples.
        let status = r#"{"voiceprompt_callback":{"result":"0","accept_time":"1470197211","call_from":"",
            "callid":"xxxxxx","end_calltime":"1470197221","fee":"1","mobile":"13xxxxxxxxx","nationcode":"86",
            "start_calltime":"1470197196"}}"#;
        let got = read("tencent", "u", &token, status.as_bytes()).expect("read");
        assert_eq!(
            got,
            vec![CallEvent {
                call_id: Some("xxxxxx".into()),
                status: Some(CallStatus::Reached),
                provider_status: Some("result 0".into()),
                duration_secs: Some(10),
                ..CallEvent::default()
            }]
        );
        let key = r#"{"voicekey_callback":{"call_from":"","callid":"xxxxxx","keypress":"1","mobile":"13xxxxxxxxx","nationcode":"86"}}"#;
        let got = read("tencent", "u", &token, key.as_bytes()).expect("read");
        assert_eq!(got[0].digits.as_deref(), Some("1"));
        let missed = r#"{"voiceprompt_callback":{"result":"1","accept_time":"0","callid":"y","end_calltime":"1470197221"}}"#;
        let got = read("tencent", "u", &token, missed.as_bytes()).expect("read");
        assert_eq!(
            (got[0].status, got[0].duration_secs),
            (Some(CallStatus::NoAnswer), Some(0))
        );
        assert_eq!(
            read("tencent", "u", &HeaderMap::new(), key.as_bytes()),
            Err(InboundError::Unauthorized)
        );
    }

    #[test]
    fn twilio_published_signature_example_verifies() {
        // Twilio's documentation page on validating requests: a Gather's Digits posted to
        // this URL with auth token 12345 carries X-Twilio-Signature 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params: Vec<(String, String)> = [
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
            ("CallSid", "CA1234567890ABCDE"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(twilio_verify(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_verify(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_verify(
            "12345",
            "https://mycompany.com/myapp.php",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let mut changed = params.clone();
        changed[0].1 = "1".into();
        assert!(!twilio_verify(
            "12345",
            url,
            &changed,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_verify(
            "",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_verify("12345", url, &params, "not base64"));
    }

    #[test]
    fn twilio_gather_and_status_are_signed() {
        let url = "https://fenghuo.example/hooks/voice/twilio";
        let form = |pairs: &[(&str, &str)]| -> (String, Vec<(String, String)>) {
            let p: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&p)
                .finish();
            (body, p)
        };
        let (body, p) = form(&[
            ("CallSid", "CA01"),
            ("Digits", "1"),
            ("CallStatus", "in-progress"),
            ("To", "+8613800138000"),
        ]);
        let sig = twilio_request_signature("twilioVoiceToken", url, &p);
        let got = read(
            "twilio",
            url,
            &with("X-Twilio-Signature", &sig),
            body.as_bytes(),
        )
        .expect("read");
        assert_eq!(got[0].digits.as_deref(), Some("1"));
        assert_eq!(got[0].status, None, "the key, not the in-progress status");
        let (body, p) = form(&[
            ("CallSid", "CA01"),
            ("CallStatus", "completed"),
            ("CallDuration", "35"),
        ]);
        let sig = twilio_request_signature("twilioVoiceToken", url, &p);
        let got = read(
            "twilio",
            url,
            &with("X-Twilio-Signature", &sig),
            body.as_bytes(),
        )
        .expect("read");
        assert_eq!(
            (got[0].status, got[0].duration_secs),
            (Some(CallStatus::Reached), Some(35))
        );
        // Signed for another URL, or with another token: refused.
        let bad = twilio_request_signature("twilioVoiceToken", "https://evil.example/x", &p);
        assert_eq!(
            read(
                "twilio",
                url,
                &with("X-Twilio-Signature", &bad),
                body.as_bytes()
            ),
            Err(InboundError::Unauthorized)
        );
        let bad = twilio_request_signature("other", url, &p);
        assert_eq!(
            read(
                "twilio",
                url,
                &with("X-Twilio-Signature", &bad),
                body.as_bytes()
            ),
            Err(InboundError::Unauthorized)
        );
    }

    #[test]
    fn webhook_status_and_key() {
        let body = br#"[{"call_id":"gw-1","reference":"42","status":"completed","duration":12,"digits":"1"},
            {"call_id":"gw-2","status":"busy"}]"#;
        let sig = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("voiceHook", NOW, body),
        );
        let got = read("webhook", "u", &sig, body).expect("read");
        assert_eq!(got[0].digits.as_deref(), Some("1"));
        assert_eq!(got[0].duration_secs, Some(12));
        assert_eq!(got[1].status, Some(CallStatus::Busy));
        let forged = with(
            WEBHOOK_SIGNATURE_HEADER,
            &webhook_signature_header("guess", NOW, body),
        );
        assert_eq!(
            read("webhook", "u", &forged, body),
            Err(InboundError::Unauthorized)
        );
    }
}

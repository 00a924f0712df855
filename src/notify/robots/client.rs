//! One post to a robot over HTTP, signed as its provider documents, and the
//! provider's answer as an [`Outcome`]: sent, worth trying again (HTTP
//! 429/5xx, timeouts, the providers' "busy" and "too fast" codes), or
//! refused for good (errcode ≠ 0 / code ≠ 0 otherwise: a wrong key, a bad
//! sign), with the provider's own message kept for the notice's page.
//! Neither the URL (it carries the key) nor the secret is ever logged or
//! put in a message.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode, Url};
use serde_json::Value;

use super::Kind;
use super::sign;
use crate::notify::delivery::channel::Outcome;

/// Largest answer read from a provider (theirs are a few dozen bytes).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// What is posted, and where, before it is signed.
pub struct Post<'a> {
    pub kind: Kind,
    pub webhook_url: &'a str,
    pub secret: Option<&'a str>,
    pub payload: Value,
}

static CLIENT: OnceLock<Option<Client>> = OnceLock::new();

/// The daemon's one client for robots (made on first use with the
/// configured timeout); `None` when the TLS stack cannot be set up.
fn client(timeout_secs: u64) -> Option<&'static Client> {
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::builder()
                .timeout(Duration::from_secs(timeout_secs.max(1)))
                // A signed POST is never followed somewhere else.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("fenghuo/", env!("CARGO_PKG_VERSION")))
                .build()
                .ok()
        })
        .as_ref()
}

/// The request's URL and body, signed at `now_ms` (the real clock: the
/// providers compare it with theirs).
pub fn signed(p: &Post<'_>, now_ms: i64) -> Result<(Url, Vec<u8>), String> {
    let mut url =
        Url::parse(p.webhook_url).map_err(|_| "the webhook address is not valid".to_string())?;
    let mut payload = p.payload.clone();
    match (p.kind, p.secret) {
        (Kind::Dingtalk, Some(secret)) => {
            let sign = sign::dingtalk_sign(secret, now_ms).ok_or("cannot sign")?;
            // `append_pair` URL-encodes the base64 (+ / = as %2B %2F %3D).
            url.query_pairs_mut()
                .append_pair("timestamp", &now_ms.to_string())
                .append_pair("sign", &sign);
        }
        (Kind::Feishu, Some(secret)) => {
            let ts = now_ms.div_euclid(1000);
            let sign = sign::feishu_sign(secret, ts).ok_or("cannot sign")?;
            if let Some(o) = payload.as_object_mut() {
                o.insert("timestamp".into(), Value::String(ts.to_string()));
                o.insert("sign".into(), Value::String(sign));
            }
        }
        _ => {}
    }
    let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
    Ok((url, body))
}

/// Posts it; the outcome says whether it went, may go later, or never will.
pub async fn send(p: &Post<'_>, timeout_secs: u64) -> Outcome {
    let name = p.kind.label_zh();
    let Some(client) = client(timeout_secs) else {
        return Outcome::Transient(format!("{name}: cannot set up HTTPS"));
    };
    let (url, body) = match signed(p, crate::store::now_ms()) {
        Ok(x) => x,
        Err(e) => return Outcome::Permanent(format!("{name}: {e}")),
    };
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            // The URL carries the key: never in the message.
            let e = e.without_url();
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            return Outcome::Transient(format!("{name}: {what}"));
        }
    };
    let status = response.status();
    let mut answer = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        answer.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER_BYTES - answer.len())]);
        if answer.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    outcome(p.kind, status, &answer)
}

/// Codes the providers answer when busy or when a robot posts too fast:
/// tried again later. WeCom −1 (system busy) and 45009 (frequency), DingTalk
/// 130101 (too fast), Feishu 11232 (frequency) and 9499's server-side kin.
fn passing(kind: Kind, code: i64) -> bool {
    match kind {
        Kind::Wecom => matches!(code, -1 | 45009),
        Kind::Dingtalk => matches!(code, -1 | 130101),
        Kind::Feishu => matches!(code, 11232 | 11233),
    }
}

fn clip(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one.trim().to_string()
}

/// A provider's answer read: HTTP status first, then its code and message.
pub fn outcome(kind: Kind, status: StatusCode, answer: &[u8]) -> Outcome {
    let name = kind.label_zh();
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        return Outcome::Transient(format!("{name} HTTP {}: {}", status.as_u16(), clip(answer)));
    }
    if !status.is_success() {
        return Outcome::Permanent(format!("{name} HTTP {}: {}", status.as_u16(), clip(answer)));
    }
    let Ok(v) = serde_json::from_slice::<Value>(answer) else {
        // Accepted, perhaps; unreadable all the same: trying again may post
        // twice, which is better than a group never told.
        return Outcome::Transient(format!("{name}: unreadable answer: {}", clip(answer)));
    };
    let (code, message) = match kind {
        Kind::Wecom | Kind::Dingtalk => (v.get("errcode"), v.get("errmsg")),
        // Feishu's older answers carry StatusCode / StatusMessage.
        Kind::Feishu => (
            v.get("code").or_else(|| v.get("StatusCode")),
            v.get("msg").or_else(|| v.get("StatusMessage")),
        ),
    };
    let Some(code) = code.and_then(Value::as_i64) else {
        return Outcome::Transient(format!("{name}: answer without a code: {}", clip(answer)));
    };
    if code == 0 {
        return Outcome::Sent {
            provider_id: String::new(),
        };
    }
    let message = message.and_then(Value::as_str).unwrap_or("");
    let key = match kind {
        Kind::Feishu => "code",
        _ => "errcode",
    };
    let detail = format!("{name} {key} {code}: {}", clip(message.as_bytes()));
    if passing(kind, code) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_as_each_provider_writes_them() {
        let ok = StatusCode::OK;
        assert!(matches!(
            outcome(Kind::Wecom, ok, br#"{"errcode":0,"errmsg":"ok"}"#),
            Outcome::Sent { .. }
        ));
        assert_eq!(
            outcome(
                Kind::Dingtalk,
                ok,
                br#"{"errcode":310000,"errmsg":"sign not match"}"#
            ),
            Outcome::Permanent("钉钉 errcode 310000: sign not match".into())
        );
        assert_eq!(
            outcome(
                Kind::Wecom,
                ok,
                br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#
            ),
            Outcome::Permanent("企业微信 errcode 93000: invalid webhook url".into())
        );
        assert!(matches!(
            outcome(
                Kind::Wecom,
                ok,
                br#"{"errcode":45009,"errmsg":"api freq out of limit"}"#
            ),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            outcome(Kind::Feishu, ok, br#"{"code":0,"msg":"success","data":{}}"#),
            Outcome::Sent { .. }
        ));
        assert!(matches!(
            outcome(
                Kind::Feishu,
                ok,
                br#"{"StatusCode":0,"StatusMessage":"success"}"#
            ),
            Outcome::Sent { .. }
        ));
        assert_eq!(
            outcome(Kind::Feishu, ok, br#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#),
            Outcome::Permanent("飞书 code 19021: sign match fail or timestamp is not within one hour from current time".into())
        );
        assert!(matches!(
            outcome(Kind::Feishu, StatusCode::BAD_GATEWAY, b"<html>"),
            Outcome::Transient(_)
        ));
        assert!(matches!(
            outcome(Kind::Feishu, StatusCode::NOT_FOUND, b"no"),
            Outcome::Permanent(_)
        ));
        assert!(matches!(
            outcome(Kind::Wecom, ok, b"<html>"),
            Outcome::Transient(_)
        ));
    }

    #[test]
    fn requests_are_signed_where_the_provider_looks() {
        let now = 1_577_262_236_757;
        let p = Post {
            kind: Kind::Dingtalk,
            webhook_url: "https://oapi.dingtalk.com/robot/send?access_token=tok",
            secret: Some("this is secret"),
            payload: json!({"msgtype": "text", "text": {"content": "x"}}),
        };
        let (url, body) = signed(&p, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=tok&timestamp=1577262236757&sign=hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"
        );
        assert_eq!(
            body,
            br#"{"msgtype":"text","text":{"content":"x"}}"#.to_vec()
        );
        let p = Post {
            kind: Kind::Feishu,
            webhook_url: "https://open.feishu.cn/open-apis/bot/v2/hook/t",
            secret: Some("test-secret"),
            payload: json!({"msg_type": "text", "content": {"text": "x"}}),
        };
        let (url, body) = signed(&p, 1_599_360_473_999).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url.as_str(),
            "https://open.feishu.cn/open-apis/bot/v2/hook/t"
        );
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(v["timestamp"], "1599360473");
        assert_eq!(v["sign"], "wSds2BzzFIIGf/WrhUO+NI1q/9j+FRJd3JNHKAq0NZY=");
        assert_eq!(v["msg_type"], "text");
    }
}

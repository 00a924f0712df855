//! Inbound replies (叫应 by SMS): parsing and authenticating each provider's reply callback.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use subtle::ConstantTimeEq as _;

use crate::config::SmsConfig;

use super::webhook::*;
use super::*;

/// How far the `t=` of a signed inbound webhook may be from our clock before it is refused as a
/// possible replay.
const WEBHOOK_TOLERANCE_SECS: u64 = 300;
pub const TWILIO_SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The header that carries the inbound shared secret (`sms.inbound_token`) of Aliyun and Tencent
/// callbacks. A relay or proxy in front adds it; the secret never needs to be in a URL.
pub const INBOUND_TOKEN_HEADER: &str = "X-Fenghuo-Token";

/// Longest dedupe key stored as given; a longer one is stored as its digest.
const MAX_KEY_CHARS: usize = 128;

/// One SMS a contact sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReply {
    /// E.164, normalised with [`crate::phone::normalise`].
    pub from: String,
    pub text: String,
    /// What identifies this message at its provider (see [`parse_inbound`]); a second callback
    /// with the same key is a replay and answers nothing.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// Missing or wrong token or signature (answer 401/403).
    #[error("the callback is not authenticated")]
    Unauthorized,
    /// The secret came as `?token=` while `sms.inbound_token_in_query` is off (answer 401).
    #[error(
        "?token= is not accepted: send the secret in the X-Fenghuo-Token header (or set sms.inbound_token_in_query)"
    )]
    QueryTokenRefused,
    /// Authenticated but not in the provider's format (answer 400).
    #[error("bad callback: {0}")]
    BadRequest(String),
}

/// Parses and authenticates a provider's inbound-reply callback.
///
/// `full_url` is the URL the provider called, as it sees it (scheme, host, path and query; Twilio
/// signs it); `query_token` is the `?token=` of the call, accepted for Aliyun and Tencent only when
/// `sms.inbound_token_in_query` is on (they otherwise authenticate with [`INBOUND_TOKEN_HEADER`]
/// or an `X-Fenghuo-Signature` HMAC of the body keyed with the same secret). Authentication is
/// checked before the body is looked at. Messages from numbers that do not normalise are
/// skipped: they could never match a contact.
///
/// Each reply carries a dedupe key: Aliyun's `sequence_id`, Twilio's `MessageSid`, a webhook
/// item's `id`; Tencent's reply callback has no message id, so its key is a digest of the
/// reply's fields (number, its `time` in seconds, text, sign, extend); a webhook item without
/// an `id` is keyed by the signed timestamp and signature (recomputed, so a reordered header
/// cannot make a new key) and its place in the body.
pub fn parse_inbound(
    cfg: &SmsConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
) -> Result<Vec<InboundReply>, InboundError> {
    parse_inbound_at(
        cfg,
        provider,
        full_url,
        headers,
        body,
        query_token,
        unix_now(),
    )
}

fn parse_inbound_at(
    cfg: &SmsConfig,
    provider: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> Result<Vec<InboundReply>, InboundError> {
    match provider {
        "aliyun" => {
            check_inbound_secret(cfg, headers, body, query_token, now)?;
            json_items(body)?
                .iter()
                .map(|item| {
                    let (number, text) = (need(item, "phone_number")?, need(item, "content")?);
                    Ok(reply(&number, text, &need(item, "sequence_id")?))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(flatten)
        }
        "tencent" => {
            check_inbound_secret(cfg, headers, body, query_token, now)?;
            json_items(body)?
                .iter()
                .map(|item| {
                    let mobile = need(item, "mobile")?;
                    let code = field(item, "nationcode").unwrap_or_default();
                    let number = if code.is_empty() {
                        mobile.clone()
                    } else {
                        format!("+{}{mobile}", code.trim_start_matches('+'))
                    };
                    let text = need(item, "text")?;
                    // No message id in Tencent's reply callback: the same reply sent again
                    // has the same fields, a new one at least another time or text.
                    let key = digest_key(&[
                        &code,
                        &mobile,
                        &need(item, "time")?,
                        &text,
                        &field(item, "sign").unwrap_or_default(),
                        &field(item, "extend").unwrap_or_default(),
                    ]);
                    Ok(reply(&number, text, &key))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(flatten)
        }
        "twilio" => parse_twilio(&cfg.twilio.auth_token, full_url, headers, body),
        "webhook" => {
            let secret = cfg.webhook.secret.trim();
            let t = webhook_verified(secret, headers, body, now)?;
            let signed = webhook_signature(secret, t, body);
            json_items(body)?
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let key = match field(item, "id") {
                        Some(id) if !id.trim().is_empty() => format!("id:{id}"),
                        _ => format!("sig:{t}.{signed}.{i}"),
                    };
                    Ok(reply(&need(item, "from")?, need(item, "text")?, &key))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(flatten)
        }
        other => Err(InboundError::BadRequest(format!(
            "unknown SMS provider '{other}'"
        ))),
    }
}

/// Checks a webhook callback's `X-Fenghuo-Signature` (keyed with `sms.webhook.secret`) and
/// that it is fresh; its signed timestamp.
pub(super) fn webhook_verified(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<i64, InboundError> {
    let header = headers
        .get(WEBHOOK_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(InboundError::Unauthorized)?;
    if secret.is_empty() || !webhook_verify(secret, header, body) {
        return Err(InboundError::Unauthorized);
    }
    // A correctly signed but old request is a replay.
    match webhook_header_timestamp(header) {
        Some(t) if now.abs_diff(t) <= WEBHOOK_TOLERANCE_SECS => Ok(t),
        _ => Err(InboundError::Unauthorized),
    }
}

/// Aliyun and Tencent call a URL with the shared secret: from a header, or an HMAC of the body
/// keyed with it, or (only if allowed) the query.
pub(super) fn check_inbound_secret(
    cfg: &SmsConfig,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> Result<(), InboundError> {
    check_shared_secret(
        &cfg.inbound_token,
        cfg.inbound_token_in_query,
        headers,
        body,
        query_token,
        now,
    )
}

/// A callback authenticated by a shared secret (SMS replies, voice receipts of providers that
/// sign nothing themselves): the secret in the [`INBOUND_TOKEN_HEADER`], or the key of a fresh
/// `X-Fenghuo-Signature` HMAC of the body, or — only when `in_query` allows it — `?token=`.
/// An empty secret refuses everything.
pub fn check_shared_secret(
    secret: &str,
    in_query: bool,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> Result<(), InboundError> {
    // An unset secret means these callbacks are off, not open to anyone.
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(InboundError::Unauthorized);
    }
    // Refused even beside a good header: the URL carrying it is the leak to be fixed.
    if query_token.is_some() && !in_query {
        return Err(InboundError::QueryTokenRefused);
    }
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(given) = header(INBOUND_TOKEN_HEADER) {
        return check_token(secret, Some(given));
    }
    if let Some(sig) = header(WEBHOOK_SIGNATURE_HEADER) {
        return check_webhook_signature(secret, sig, body, now);
    }
    check_token(secret, query_token)
}

/// A fresh (within five minutes of `now`) and correct `X-Fenghuo-Signature` of `body`.
pub fn check_webhook_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), InboundError> {
    let secret = secret.trim();
    let fresh =
        webhook_header_timestamp(header).is_some_and(|t| now.abs_diff(t) <= WEBHOOK_TOLERANCE_SECS);
    if !secret.is_empty() && fresh && webhook_verify(secret, header, body) {
        Ok(())
    } else {
        Err(InboundError::Unauthorized)
    }
}

fn check_token(expected: &str, given: Option<&str>) -> Result<(), InboundError> {
    let expected = expected.trim();
    match given {
        // Constant time: the answer's timing does not tell where the first wrong byte is.
        Some(given)
            if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())) =>
        {
            Ok(())
        }
        _ => Err(InboundError::Unauthorized),
    }
}

/// A JSON object or an array of them.
pub(super) fn json_items(body: &[u8]) -> Result<Vec<Value>, InboundError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Ok(item @ Value::Object(_)) => Ok(vec![item]),
        Ok(_) => Err(InboundError::BadRequest(
            "expected a JSON object or an array of objects".into(),
        )),
        Err(e) => Err(InboundError::BadRequest(format!("not JSON: {e}"))),
    }
}

/// A string field; numbers are accepted too since some gateways send numbers unquoted.
pub(super) fn field(item: &Value, name: &str) -> Option<String> {
    match item.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn need(item: &Value, name: &str) -> Result<String, InboundError> {
    field(item, name).ok_or_else(|| InboundError::BadRequest(format!("missing field '{name}'")))
}

fn reply(number: &str, text: String, key: &str) -> Option<InboundReply> {
    let from = crate::phone::normalise(number).ok()?;
    let key = if key.chars().count() <= MAX_KEY_CHARS && !key.chars().any(char::is_control) {
        key.to_string()
    } else {
        digest_key(&[key])
    };
    Some(InboundReply { from, text, key })
}

/// A key from several fields: SHA-256 of them, each length-prefixed so no two lists collide.
fn digest_key(parts: &[&str]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

fn flatten(replies: Vec<Option<InboundReply>>) -> Vec<InboundReply> {
    replies.into_iter().flatten().collect()
}

fn parse_twilio(
    auth_token: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<InboundReply>, InboundError> {
    let params = twilio_verified(auth_token, full_url, headers, body)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| InboundError::BadRequest(format!("missing field '{name}'")))
    };
    let (from, text) = (get("From")?, get("Body")?);
    // MessageSid is the id; SmsMessageSid and SmsSid are its older names.
    let sid = get("MessageSid")
        .or_else(|_| get("SmsMessageSid"))
        .or_else(|_| get("SmsSid"))
        .map_err(|_| InboundError::BadRequest("missing field 'MessageSid'".into()))?;
    Ok(reply(&from, text, &sid).into_iter().collect())
}

/// Checks a Twilio callback's `X-Twilio-Signature` over the URL it called and its form
/// fields; the fields when it verifies.
pub(super) fn twilio_verified(
    auth_token: &str,
    full_url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, InboundError> {
    let signature = headers
        .get(TWILIO_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| BASE64.decode(v.trim()).ok())
        .ok_or(InboundError::Unauthorized)?;
    let auth_token = auth_token.trim();
    if auth_token.is_empty() {
        return Err(InboundError::Unauthorized);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let verified = twilio_url_variants(full_url).iter().any(|url| {
        twilio_mac(auth_token, url, &params).is_some_and(|mac| mac.verify_slice(&signature).is_ok())
    });
    if !verified {
        return Err(InboundError::Unauthorized);
    }
    Ok(params)
}

fn twilio_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<Hmac<Sha1>> {
    // Twilio's algorithm: the URL, then each parameter name immediately followed by its value,
    // sorted by name; its own libraries also sort a repeated name's values and drop duplicates.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// Whether `X-Twilio-Signature` (`signature`, base64) is Twilio's for a form POST of `params`
/// to `full_url` (as given, or with the default port toggled, as Twilio's libraries accept).
pub fn twilio_verify(
    auth_token: &str,
    full_url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let auth_token = auth_token.trim();
    let Ok(signature) = BASE64.decode(signature.trim()) else {
        return false;
    };
    !auth_token.is_empty()
        && twilio_url_variants(full_url).iter().any(|url| {
            twilio_mac(auth_token, url, params)
                .is_some_and(|mac| mac.verify_slice(&signature).is_ok())
        })
}

/// The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url`, for tests
/// and tools that play Twilio.
pub fn twilio_request_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
) -> String {
    twilio_mac(auth_token, url, params)
        .map(|mac| BASE64.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// The URL as given, plus the same URL with the default port added or removed: depending on
/// the proxy in front, Twilio may have signed either form (its own libraries try both).
fn twilio_url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The port follows the last ':' unless that ':' is inside an IPv6 literal.
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            if port != default_port {
                return variants;
            }
            host.to_string()
        }
        _ => format!("{authority}:{default_port}"),
    };
    variants.push(format!("{scheme}://{host}{tail}"));
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::test_support::*;
    use axum::http::HeaderValue;

    fn no_headers() -> HeaderMap {
        HeaderMap::new()
    }

    fn inbound(
        cfg: &SmsConfig,
        provider: &str,
        url: &str,
        headers: &HeaderMap,
        body: &[u8],
        token: Option<&str>,
    ) -> Result<Vec<InboundReply>, InboundError> {
        parse_inbound_at(cfg, provider, url, headers, body, token, 1_700_000_100)
    }

    fn from(number: &str, text: &str, key: &str) -> InboundReply {
        InboundReply {
            from: number.into(),
            text: text.into(),
            key: key.into(),
        }
    }

    fn with_header(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn inbound_aliyun() {
        let cfg = sms_config();
        let body = r#"[{"phone_number":"13800138000","content":"1 收到","send_time":"2024-07-01 10:00:00",
            "sign_name":"湖上乡应急办","dest_code":"1234","sequence_id":1234567},
            {"phone_number":"not a number","content":"x","send_time":"","sign_name":"","dest_code":"","sequence_id":1}]"#;
        let url = "https://fenghuo.example/hooks/sms/aliyun";
        let token = with_header(INBOUND_TOKEN_HEADER, "inbound-secret");
        let got = inbound(&cfg, "aliyun", url, &token, body.as_bytes(), None);
        assert_eq!(got, Ok(vec![from("+8613800138000", "1 收到", "1234567")]));
        for wrong in ["", "inbound-secreT", "inbound-secret x", "inbound"] {
            assert_eq!(
                inbound(
                    &cfg,
                    "aliyun",
                    url,
                    &with_header(INBOUND_TOKEN_HEADER, wrong),
                    body.as_bytes(),
                    None
                ),
                Err(InboundError::Unauthorized),
                "{wrong:?}"
            );
        }
        assert_eq!(
            inbound(&cfg, "aliyun", url, &no_headers(), body.as_bytes(), None),
            Err(InboundError::Unauthorized)
        );
        // The secret in the URL is refused unless the setting allows it.
        let query_url = format!("{url}?token=inbound-secret");
        assert_eq!(
            inbound(
                &cfg,
                "aliyun",
                &query_url,
                &no_headers(),
                body.as_bytes(),
                Some("inbound-secret")
            ),
            Err(InboundError::QueryTokenRefused)
        );
        assert_eq!(
            inbound(
                &cfg,
                "aliyun",
                &query_url,
                &token,
                body.as_bytes(),
                Some("inbound-secret")
            ),
            Err(InboundError::QueryTokenRefused),
            "not even beside a good header"
        );
        let mut query_ok = cfg.clone();
        query_ok.inbound_token_in_query = true;
        assert_eq!(
            inbound(
                &query_ok,
                "aliyun",
                &query_url,
                &no_headers(),
                body.as_bytes(),
                Some("inbound-secret")
            ),
            Ok(vec![from("+8613800138000", "1 收到", "1234567")])
        );
        assert_eq!(
            inbound(
                &query_ok,
                "aliyun",
                url,
                &with_header(INBOUND_TOKEN_HEADER, "wrong"),
                body.as_bytes(),
                Some("inbound-secret")
            ),
            Err(InboundError::Unauthorized),
            "a wrong header is not saved by a right query"
        );
        for wrong in [
            None,
            Some(""),
            Some("inbound-secreT"),
            Some("inbound-secret "),
        ] {
            assert_eq!(
                inbound(
                    &query_ok,
                    "aliyun",
                    url,
                    &no_headers(),
                    body.as_bytes(),
                    wrong
                ),
                Err(InboundError::Unauthorized),
                "{wrong:?}"
            );
        }
        // Or an HMAC of the body keyed with the secret, fresh.
        let sig = |secret: &str, t: i64, b: &[u8]| {
            with_header(
                WEBHOOK_SIGNATURE_HEADER,
                &webhook_signature_header(secret, t, b),
            )
        };
        assert_eq!(
            inbound(
                &cfg,
                "aliyun",
                url,
                &sig("inbound-secret", 1_700_000_050, body.as_bytes()),
                body.as_bytes(),
                None
            ),
            Ok(vec![from("+8613800138000", "1 收到", "1234567")])
        );
        for (secret, t) in [("inbound-secret", 1_699_999_000), ("other", 1_700_000_050)] {
            assert_eq!(
                inbound(
                    &cfg,
                    "aliyun",
                    url,
                    &sig(secret, t, body.as_bytes()),
                    body.as_bytes(),
                    None
                ),
                Err(InboundError::Unauthorized),
                "{secret} {t}"
            );
        }
        // Authentication comes first: garbage from a stranger is unauthorised, not malformed.
        assert_eq!(
            inbound(&cfg, "aliyun", url, &no_headers(), b"garbage", None),
            Err(InboundError::Unauthorized)
        );
        assert!(matches!(
            inbound(&cfg, "aliyun", url, &token, b"garbage", None),
            Err(InboundError::BadRequest(_))
        ));
        let got = inbound(&cfg, "aliyun", url, &token, br#"[{"content":"1"}]"#, None);
        assert!(
            matches!(&got, Err(InboundError::BadRequest(m)) if m.contains("phone_number")),
            "{got:?}"
        );
        let no_id = br#"[{"phone_number":"13800138000","content":"1"}]"#;
        let got = inbound(&cfg, "aliyun", url, &token, no_id, None);
        assert!(
            matches!(&got, Err(InboundError::BadRequest(m)) if m.contains("sequence_id")),
            "{got:?}"
        );
        let mut open = query_ok.clone();
        open.inbound_token.clear();
        for (headers, query) in [
            (with_header(INBOUND_TOKEN_HEADER, ""), None),
            (no_headers(), Some("")),
        ] {
            assert_eq!(
                inbound(&open, "aliyun", url, &headers, body.as_bytes(), query),
                Err(InboundError::Unauthorized),
                "an unset token disables inbound replies"
            );
        }
    }

    #[test]
    fn inbound_keys_are_bounded() {
        let cfg = sms_config();
        let token = with_header(INBOUND_TOKEN_HEADER, "inbound-secret");
        let long = "9".repeat(500);
        let body =
            format!(r#"{{"phone_number":"13800138000","content":"1","sequence_id":"{long}"}}"#);
        let got = inbound(&cfg, "aliyun", "", &token, body.as_bytes(), None).expect("parsed");
        assert!(
            got[0].key.starts_with("sha256:") && got[0].key.len() == 71,
            "{got:?}"
        );
    }

    #[test]
    fn inbound_tencent() {
        let cfg = sms_config();
        let token = with_header(INBOUND_TOKEN_HEADER, "inbound-secret");
        let one = r#"{"extend":"","mobile":"13800138000","nationcode":"86","sign":"湖上乡应急办",
            "text":"已转移","time":1470724678}"#;
        let got = inbound(&cfg, "tencent", "", &token, one.as_bytes(), None).expect("parsed");
        assert_eq!(
            (got.len(), got[0].from.as_str(), got[0].text.as_str()),
            (1, "+8613800138000", "已转移")
        );
        // No message id: the same reply gives the same key, another time or text another.
        let again = inbound(&cfg, "tencent", "", &token, one.as_bytes(), None).expect("parsed");
        assert_eq!(got[0].key, again[0].key);
        let later = one.replace("1470724678", "1470724679");
        let later = inbound(&cfg, "tencent", "", &token, later.as_bytes(), None).expect("parsed");
        assert_ne!(got[0].key, later[0].key);
        let many = r#"[{"mobile":"4155550100","nationcode":"1","text":"OK","sign":"","time":1,"extend":""},
            {"mobile":"13900139000","nationcode":"","text":"2","sign":"","time":1,"extend":""}]"#;
        let got = inbound(&cfg, "tencent", "", &token, many.as_bytes(), None).expect("parsed");
        let got: Vec<(&str, &str)> = got.iter().map(|r| (&*r.from, &*r.text)).collect();
        assert_eq!(got, [("+14155550100", "OK"), ("+8613900139000", "2")]);
        assert_eq!(
            inbound(
                &cfg,
                "tencent",
                "",
                &with_header(INBOUND_TOKEN_HEADER, "wrong"),
                one.as_bytes(),
                None
            ),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            inbound(
                &cfg,
                "tencent",
                "",
                &no_headers(),
                one.as_bytes(),
                Some("inbound-secret")
            ),
            Err(InboundError::QueryTokenRefused)
        );
        assert!(matches!(
            inbound(&cfg, "tencent", "", &token, b"42", None),
            Err(InboundError::BadRequest(_))
        ));
        let timeless = br#"{"mobile":"13800138000","nationcode":"86","text":"1"}"#;
        assert!(matches!(
            inbound(&cfg, "tencent", "", &token, timeless, None),
            Err(InboundError::BadRequest(m)) if m.contains("time")
        ));
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn twilio_signature_matches_published_examples() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        // Twilio's documentation page on validating requests.
        let docs = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            twilio_request_signature("12345", url, &docs),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        // twilio-python's request-validator test, fields given out of order.
        let python = pairs(&[
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("Caller", "+14158675309"),
        ]);
        assert_eq!(
            twilio_request_signature("12345", url, &python),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn twilio_url_variants_toggle_the_default_port() {
        assert_eq!(
            twilio_url_variants("https://a.example/sms?x=1"),
            ["https://a.example/sms?x=1", "https://a.example:443/sms?x=1"]
        );
        assert_eq!(
            twilio_url_variants("https://a.example:443/sms"),
            ["https://a.example:443/sms", "https://a.example/sms"]
        );
        assert_eq!(
            twilio_url_variants("http://[::1]/sms"),
            ["http://[::1]/sms", "http://[::1]:80/sms"]
        );
        assert_eq!(
            twilio_url_variants("https://a.example:8443/sms"),
            ["https://a.example:8443/sms"]
        );
        assert_eq!(twilio_url_variants("not a url"), ["not a url"]);
    }

    fn twilio_inbound(
        cfg: &SmsConfig,
        url: &str,
        signed_url: &str,
        params: &[(&str, &str)],
        token: &str,
    ) -> Result<Vec<InboundReply>, InboundError> {
        let params = pairs(params);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let mut headers = HeaderMap::new();
        let sig = twilio_request_signature(token, signed_url, &params);
        headers.insert(
            "x-twilio-signature",
            HeaderValue::from_str(&sig).expect("header"),
        );
        inbound(cfg, "twilio", url, &headers, body.as_bytes(), None)
    }

    #[test]
    fn inbound_twilio() {
        let cfg = sms_config();
        let url = "https://fenghuo.example/api/v1/sms/inbound/twilio";
        let params = [
            ("ToCountry", "US"),
            ("SmsMessageSid", "SM00"),
            ("From", "+8613800138000"),
            ("To", "+14155550100"),
            ("Body", "1 收到 + ok & more"),
            ("AccountSid", "AC00000000000000000000000000000000"),
        ];
        let want = Ok(vec![from("+8613800138000", "1 收到 + ok & more", "SM00")]);
        assert_eq!(twilio_inbound(&cfg, url, url, &params, "twilioToken"), want);
        // Signed with the explicit default port, checked without it.
        let with_port = "https://fenghuo.example:443/api/v1/sms/inbound/twilio";
        assert_eq!(
            twilio_inbound(&cfg, url, with_port, &params, "twilioToken"),
            want
        );
        assert_eq!(
            twilio_inbound(&cfg, url, url, &params, "wrongToken"),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            twilio_inbound(&cfg, url, &format!("{url}?x=1"), &params, "twilioToken"),
            Err(InboundError::Unauthorized)
        );
        // Tampered body under a valid signature.
        let mut headers = HeaderMap::new();
        let sig = twilio_request_signature("twilioToken", url, &pairs(&params));
        headers.insert(
            "x-twilio-signature",
            HeaderValue::from_str(&sig).expect("header"),
        );
        assert_eq!(
            inbound(
                &cfg,
                "twilio",
                url,
                &headers,
                b"From=%2B8613800138000&Body=2",
                None
            ),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            inbound(&cfg, "twilio", url, &no_headers(), b"From=x&Body=y", None),
            Err(InboundError::Unauthorized),
            "no signature header"
        );
        let mut open = cfg.clone();
        open.twilio.auth_token.clear();
        assert_eq!(
            twilio_inbound(&open, url, url, &params, ""),
            Err(InboundError::Unauthorized)
        );
        assert!(matches!(
            twilio_inbound(&cfg, url, url, &[("From", "+8613800138000")], "twilioToken"),
            Err(InboundError::BadRequest(m)) if m.contains("Body")
        ));
        // MessageSid is the key; without any message id the callback is refused.
        let mut current = params.to_vec();
        current.push(("MessageSid", "SM11"));
        assert_eq!(
            twilio_inbound(&cfg, url, url, &current, "twilioToken").map(|r| r[0].key.clone()),
            Ok("SM11".to_string())
        );
        assert!(matches!(
            twilio_inbound(&cfg, url, url, &[("From", "+8613800138000"), ("Body", "1")], "twilioToken"),
            Err(InboundError::BadRequest(m)) if m.contains("MessageSid")
        ));
    }

    #[test]
    fn inbound_webhook() {
        let cfg = sms_config();
        let body = r#"{"from":"138 0013 8000","text":"收到，正在转移"}"#.as_bytes();
        let signed = |secret: &str, t: i64, body: &[u8]| {
            let mut h = HeaderMap::new();
            let v = webhook_signature_header(secret, t, body);
            h.insert(
                WEBHOOK_SIGNATURE_HEADER,
                HeaderValue::from_str(&v).expect("header"),
            );
            h
        };
        let good = signed("whsec", 1_700_000_000, body);
        let key = format!(
            "sig:1700000000.{}.0",
            webhook_signature("whsec", 1_700_000_000, body)
        );
        assert_eq!(
            inbound(&cfg, "webhook", "", &good, body, None),
            Ok(vec![from("+8613800138000", "收到，正在转移", &key)])
        );
        // The key is the signature recomputed: extra fields in the header do not make a new one.
        let padded = format!(
            "{},v2=zz,v1={}",
            webhook_signature_header("whsec", 1_700_000_000, body),
            "00".repeat(32)
        );
        let got = inbound(
            &cfg,
            "webhook",
            "",
            &with_header(WEBHOOK_SIGNATURE_HEADER, &padded),
            body,
            None,
        );
        assert_eq!(got.map(|r| r[0].key.clone()), Ok(key));
        // A gateway's own message id is the key when it sends one.
        let with_id =
            br#"[{"id":"gw-9","from":"13800138000","text":"1"},{"from":"13800138001","text":"1"}]"#;
        let got = inbound(
            &cfg,
            "webhook",
            "",
            &signed("whsec", 1_700_000_000, with_id),
            with_id,
            None,
        )
        .expect("parsed");
        assert_eq!(got[0].key, "id:gw-9");
        assert!(got[1].key.starts_with("sig:1700000000.") && got[1].key.ends_with(".1"));
        assert_eq!(
            inbound(
                &cfg,
                "webhook",
                "",
                &signed("other", 1_700_000_000, body),
                body,
                None
            ),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            inbound(
                &cfg,
                "webhook",
                "",
                &good,
                br#"{"from":"13800138000","text":"2"}"#,
                None
            ),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            inbound(
                &cfg,
                "webhook",
                "",
                &signed("whsec", 1_699_999_000, body),
                body,
                None
            ),
            Err(InboundError::Unauthorized),
            "stale: a replay"
        );
        assert_eq!(
            inbound(&cfg, "webhook", "", &no_headers(), body, None),
            Err(InboundError::Unauthorized)
        );
        assert_eq!(
            inbound(
                &cfg,
                "webhook",
                "",
                &signed("whsec", i64::MIN, body),
                body,
                None
            ),
            Err(InboundError::Unauthorized),
            "an extreme t= neither panics nor passes"
        );
        let bad = br#"{"text":"no sender"}"#;
        assert!(matches!(
            inbound(
                &cfg,
                "webhook",
                "",
                &signed("whsec", 1_700_000_000, bad),
                bad,
                None
            ),
            Err(InboundError::BadRequest(_))
        ));
    }

    #[test]
    fn inbound_unknown_provider() {
        assert!(matches!(
            inbound(&sms_config(), "pager", "", &no_headers(), b"", None),
            Err(InboundError::BadRequest(m)) if m.contains("pager")
        ));
    }
}

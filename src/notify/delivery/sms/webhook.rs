//! Fenghuo's generic webhook for gateways with no built-in client: the HMAC signature header,
//! the signed JSON POST, and how its answers are classified.

use hmac::Mac;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder, Url};
use serde_json::{Value, json};

use crate::config::WebhookConfig;
use crate::notify::delivery::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};

use super::mac::*;
use super::*;

/// Name of the HTTP header that carries [`webhook_signature_header`].
pub const WEBHOOK_SIGNATURE_HEADER: &str = "X-Fenghuo-Signature";

// ---------------------------------------------------------------------------------------------
// Signature
// ---------------------------------------------------------------------------------------------

fn webhook_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = hmac_sha256(secret.as_bytes());
    // The timestamp is signed with the body so a captured request cannot be replayed under
    // a fresh `t=`.
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Generic webhook: hex(HMAC-SHA256(secret, timestamp + "." + body)). Sent as header `X-Fenghuo-Signature: t=<timestamp>,v1=<hex>`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(webhook_mac(secret, timestamp, body).finalize().into_bytes())
}

/// The value of the [`WEBHOOK_SIGNATURE_HEADER`] header: `t=<timestamp>,v1=<hex>`.
pub fn webhook_signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        webhook_signature(secret, timestamp, body)
    )
}

/// Parsed `t=` and every `v1=` of a webhook signature header. Unknown keys are skipped so a
/// later scheme (`v2=`) can be sent alongside; several `v1=` are allowed for key rotation.
fn parse_webhook_header(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for field in header.split(',') {
        let (name, value) = field.trim().split_once('=')?;
        match name {
            // Two timestamps would make "which one was signed" ambiguous.
            "t" if timestamp.is_some() => return None,
            "t" => timestamp = Some(value.parse::<i64>().ok()?),
            "v1" => signatures.push(hex::decode(value).ok()?),
            _ => {}
        }
    }
    if signatures.is_empty() {
        return None;
    }
    Some((timestamp?, signatures))
}

/// The `t=` of a webhook signature header, so the receiver can reject stale requests
/// (`webhook_verify` does not know the current time).
pub fn webhook_header_timestamp(header: &str) -> Option<i64> {
    parse_webhook_header(header).map(|(timestamp, _)| timestamp)
}

/// Parses the header, recomputes, compares in constant time (hmac's verify_slice).
pub fn webhook_verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((timestamp, signatures)) = parse_webhook_header(header) else {
        return false;
    };
    signatures.iter().any(|signature| {
        webhook_mac(secret, timestamp, body)
            .verify_slice(signature)
            .is_ok()
    })
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// Fenghuo's own webhook: a signed JSON POST for gateways we have no built-in client for.
pub struct WebhookSms {
    client: Client,
    url: Url,
    secret: String,
}

impl WebhookSms {
    pub fn new(cfg: &WebhookConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        Ok(WebhookSms {
            url: http_url(&cfg.url, "sms.webhook.url")?,
            secret: required(&cfg.secret, "sms.webhook.secret")?,
            client: http_client(timeout_secs)?,
        })
    }

    fn request(&self, msg: &SmsMessage, timestamp: i64) -> RequestBuilder {
        let body = json!({ "reference": msg.reference, "to": msg.to, "text": msg.text })
            .to_string()
            .into_bytes();
        let signature = webhook_signature_header(&self.secret, timestamp, &body);
        self.client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(WEBHOOK_SIGNATURE_HEADER, signature)
            .body(body)
    }
}

fn webhook_outcome(reply: &Reply, reference: &str) -> Outcome {
    if reply.status.is_success() {
        let id = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| match v.get("id")? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        return Outcome::Sent {
            provider_id: id.unwrap_or_else(|| reference.to_string()),
        };
    }
    let detail = format!(
        "webhook HTTP {}: {}",
        reply.status.as_u16(),
        clip_bytes(&reply.body)
    );
    refused(reply.status, detail)
}

impl SmsProvider for WebhookSms {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            match execute("webhook", self.request(msg, unix_now())).await {
                Ok(reply) => webhook_outcome(&reply, &msg.reference),
                Err(outcome) => outcome,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::test_support::*;

    #[test]
    fn webhook_round_trip() {
        let body = br#"{"alert":"flood","level":2}"#;
        let header = webhook_signature_header("whsec", 1_700_000_000, body);
        assert_eq!(
            header,
            format!(
                "t=1700000000,v1={}",
                webhook_signature("whsec", 1_700_000_000, body)
            )
        );
        // The definition, spelled out independently.
        assert_eq!(
            webhook_signature("whsec", 1_700_000_000, body),
            hex::encode(hmac_sha256_bytes(
                b"whsec",
                &[b"1700000000.".as_slice(), body].concat()
            ))
        );
        assert!(webhook_verify("whsec", &header, body));
        assert_eq!(webhook_header_timestamp(&header), Some(1_700_000_000));
        // Whitespace, unknown schemes and a rotated-out key alongside are tolerated.
        let rotated = format!(
            "t=1700000000, v0=ignored, v1={}, v1={}",
            webhook_signature("old", 1_700_000_000, body),
            webhook_signature("whsec", 1_700_000_000, body)
        );
        assert!(webhook_verify("whsec", &rotated, body));
        // Negative timestamps are still well-formed.
        let early = webhook_signature_header("s", -5, b"");
        assert!(webhook_verify("s", &early, b""));
    }

    #[test]
    fn webhook_tamper_is_rejected() {
        let body = br#"{"alert":"flood","level":2}"#;
        let header = webhook_signature_header("whsec", 1_700_000_000, body);
        assert!(!webhook_verify(
            "whsec",
            &header,
            br#"{"alert":"flood","level":3}"#
        ));
        assert!(!webhook_verify("other", &header, body));
        assert!(!webhook_verify(
            "whsec",
            &header.replace("t=1700000000", "t=1700000001"),
            body
        ));
        let sig = webhook_signature("whsec", 1_700_000_000, body);
        assert!(!webhook_verify("whsec", &format!("v1={sig}"), body));
        assert!(!webhook_verify("whsec", "t=1700000000", body));
        assert!(!webhook_verify(
            "whsec",
            &format!("t=1700000000,t=1700000000,v1={sig}"),
            body
        ));
        assert!(!webhook_verify("whsec", "t=1700000000,v1=zz", body));
        assert!(!webhook_verify("whsec", "t=abc,v1=00", body));
        assert!(!webhook_verify("whsec", "", body));
        assert_eq!(webhook_header_timestamp("garbage"), None);
    }

    #[test]
    fn webhook_request_is_signed() {
        let p = WebhookSms::new(&sms_config().webhook, 5).expect("provider");
        let req = p
            .request(&message(), 1_700_000_000)
            .build()
            .expect("request");
        assert_eq!(req.url().as_str(), "https://gateway.example/sms");
        let body = body_text(&req);
        let sig = header(&req, "x-fenghuo-signature");
        assert!(sig.starts_with("t=1700000000,v1="), "{sig}");
        assert!(webhook_verify("whsec", sig, body.as_bytes()));
        assert!(!webhook_verify("other", sig, body.as_bytes()));
        let sent: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            sent,
            json!({
                "reference": "dlv-42",
                "to": "+8613800138000",
                "text": "【湖上乡应急办】暴雨红色预警：请立即转移。回复1确认",
            })
        );
    }

    #[test]
    fn webhook_outcomes() {
        assert_eq!(
            webhook_outcome(&reply(200, r#"{"id":"gw-7"}"#), "dlv-42"),
            sent("gw-7")
        );
        assert_eq!(
            webhook_outcome(&reply(202, r#"{"id":77}"#), "dlv-42"),
            sent("77")
        );
        assert_eq!(webhook_outcome(&reply(204, ""), "dlv-42"), sent("dlv-42"));
        assert_eq!(webhook_outcome(&reply(200, "ok"), "dlv-42"), sent("dlv-42"));
        assert!(is_transient(&webhook_outcome(&reply(429, ""), "r")));
        assert!(is_transient(&webhook_outcome(&reply(500, ""), "r")));
        assert_eq!(
            webhook_outcome(&reply(400, "bad number"), "r"),
            Outcome::Permanent("webhook HTTP 400: bad number".into())
        );
        assert!(is_permanent(&webhook_outcome(&reply(301, ""), "r")));
    }
}

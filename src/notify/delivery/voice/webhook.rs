//! Fenghuo's generic voice webhook, for a telephony gateway with no built-in client: a JSON
//! POST signed as the SMS webhook is (`X-Fenghuo-Signature: t=…,v1=hex(HMAC-SHA256(secret,
//! t + "." + body))`). The gateway answers `{"call_id": …}` and later posts the call's status
//! and key to `/hooks/voice/webhook`, signed the same way with the same secret.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, RequestBuilder, Url};
use serde_json::{Value, json};

use super::{CallFuture, CallRefused, VoiceProvider};
use crate::config::WebhookConfig;
use crate::notify::delivery::channel::VoiceMessage;
use crate::notify::delivery::sms::webhook::{WEBHOOK_SIGNATURE_HEADER, webhook_signature_header};
use crate::notify::delivery::sms::{
    Reply, SmsConfigError, clip_bytes, execute, http_client, http_url, refused, required, unix_now,
};

pub struct WebhookVoice {
    client: Client,
    url: Url,
    secret: String,
    callback: String,
    play_times: u32,
}

impl WebhookVoice {
    pub fn new(
        cfg: &WebhookConfig,
        play_times: u32,
        timeout_secs: u64,
        callback: String,
    ) -> Result<Self, SmsConfigError> {
        Ok(WebhookVoice {
            url: http_url(&cfg.url, "voice.webhook.url")?,
            secret: required(&cfg.secret, "voice.webhook.secret")?,
            client: http_client(timeout_secs)?,
            callback,
            play_times: play_times.clamp(1, 3),
        })
    }

    fn request(&self, msg: &VoiceMessage, timestamp: i64) -> RequestBuilder {
        let body = json!({
            "reference": msg.reference,
            "to": msg.to,
            "text": msg.text,
            "play_times": self.play_times,
            // "1" is the answer key when the call asks for one.
            "answer_key": if msg.asks_key { Some("1") } else { None },
            "callback_url": self.callback,
        })
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

pub(super) fn outcome(reply: &Reply, reference: &str) -> Result<String, CallRefused> {
    if reply.status.is_success() {
        let id = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| match v.get("call_id")? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        // Without an id of its own, the gateway's receipts name the call by our reference.
        return Ok(id.unwrap_or_else(|| format!("ref:{reference}")));
    }
    let detail = format!(
        "webhook HTTP {}: {}",
        reply.status.as_u16(),
        clip_bytes(&reply.body)
    );
    if reply.status.as_u16() == 429 {
        return Err(CallRefused::Limited { detail });
    }
    Err(CallRefused::Outcome(refused(reply.status, detail)))
}

impl VoiceProvider for WebhookVoice {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn takes_keys(&self) -> bool {
        true
    }

    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a> {
        Box::pin(async move {
            match execute("webhook_voice", self.request(msg, unix_now())).await {
                Ok(reply) => outcome(&reply, &msg.reference),
                Err(o) => Err(CallRefused::Outcome(o)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::channel::Outcome;
    use crate::notify::delivery::sms::test_support::{body_text, header, reply};
    use crate::notify::delivery::sms::webhook::webhook_verify;
    use crate::notify::delivery::voice::test_support::*;

    #[test]
    fn the_call_is_signed_and_names_its_callback() {
        let p = WebhookVoice::new(
            &voice_config().webhook,
            3,
            5,
            "https://fenghuo.example/hooks/voice/webhook".into(),
        )
        .expect("provider");
        let req = p.request(&call(), 1_782_000_000).build().expect("request");
        let body = body_text(&req);
        let sig = header(&req, "x-fenghuo-signature");
        assert!(sig.starts_with("t=1782000000,v1="), "{sig}");
        assert!(webhook_verify("voiceHook", sig, body.as_bytes()));
        assert!(!webhook_verify("other", sig, body.as_bytes()));
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["to"], "+8613800138000");
        assert_eq!(v["reference"], "dlv-42");
        assert_eq!(v["answer_key"], "1");
        assert_eq!(v["play_times"], 3);
        assert_eq!(
            v["callback_url"],
            "https://fenghuo.example/hooks/voice/webhook"
        );
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            outcome(&reply(200, r#"{"call_id":"gw-7"}"#), "9")
                .ok()
                .as_deref(),
            Some("gw-7")
        );
        assert_eq!(
            outcome(&reply(202, "ok"), "9").ok().as_deref(),
            Some("ref:9")
        );
        assert!(matches!(
            outcome(&reply(400, "bad number"), "9"),
            Err(CallRefused::Outcome(Outcome::Permanent(_)))
        ));
        assert!(matches!(
            outcome(&reply(503, "down"), "9"),
            Err(CallRefused::Outcome(Outcome::Transient(_)))
        ));
    }
}

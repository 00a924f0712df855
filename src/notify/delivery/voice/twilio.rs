//! Twilio Calls API: a form POST with HTTP Basic auth carrying inline TwiML — the text read
//! in Chinese inside a one-digit `<Gather>` whose key comes back to `/hooks/voice/twilio`,
//! as does the call's final status (`StatusCallback`); both signed `X-Twilio-Signature`.

use reqwest::header::AUTHORIZATION;
use reqwest::{Client, RequestBuilder, Url};
use serde_json::Value;

use super::{CallFuture, CallRefused, VoiceProvider};
use crate::config::TwilioConfig;
use crate::notify::delivery::channel::VoiceMessage;
use crate::notify::delivery::sms::twilio::basic_auth;
use crate::notify::delivery::sms::{
    Reply, SmsConfigError, clip, clip_bytes, execute, header_safe, http_client, http_url, refused,
    required, unreadable,
};
use crate::notify::publishing::cap::xml::{escape_attr, escape_text};

pub struct TwilioVoice {
    client: Client,
    url: Url,
    authorization: String,
    from: String,
    /// Where Twilio posts the key and the status: `<public_base_url>/hooks/voice/twilio`.
    callback: String,
    play_times: u32,
}

impl TwilioVoice {
    pub fn new(
        cfg: &TwilioConfig,
        play_times: u32,
        timeout_secs: u64,
        callback: String,
    ) -> Result<Self, SmsConfigError> {
        let account_sid = required(&cfg.account_sid, "voice.twilio.account_sid")?;
        let auth_token = required(&cfg.auth_token, "voice.twilio.auth_token")?;
        let mut url = http_url(&cfg.base_url, "voice.twilio.base_url")?;
        url.path_segments_mut()
            .map_err(|()| SmsConfigError::Invalid {
                setting: "voice.twilio.base_url",
                message: "cannot carry a path".into(),
            })?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &account_sid, "Calls.json"]);
        let authorization = basic_auth(&account_sid, &auth_token);
        header_safe(&authorization, "voice.twilio.auth_token")?;
        Ok(TwilioVoice {
            client: http_client(timeout_secs)?,
            url,
            authorization,
            from: required(&cfg.from, "voice.twilio.from")?,
            callback,
            play_times: play_times.clamp(1, 3),
        })
    }

    /// The call's TwiML: the text in Chinese inside a one-digit gather; without a key the call
    /// ends after a short goodbye.
    pub fn twiml(&self, msg: &VoiceMessage) -> String {
        format!(
            "<Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"10\" method=\"POST\" action=\"{action}\">\
             <Say language=\"zh-CN\" loop=\"{times}\">{text}</Say></Gather>\
             <Say language=\"zh-CN\">未收到按键，再见。</Say></Response>",
            action = escape_attr(&self.callback),
            times = self.play_times,
            text = escape_text(&msg.text),
        )
    }

    fn request(&self, msg: &VoiceMessage) -> RequestBuilder {
        self.client
            .post(self.url.clone())
            .header(AUTHORIZATION, &self.authorization)
            .form(&[
                ("To", msg.to.as_str()),
                ("From", &self.from),
                ("Twiml", &self.twiml(msg)),
                ("StatusCallback", &self.callback),
                ("StatusCallbackMethod", "POST"),
                ("StatusCallbackEvent", "completed"),
            ])
    }
}

pub(super) fn outcome(reply: &Reply) -> Result<String, CallRefused> {
    let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let field = |name: &str| -> Option<String> {
        match parsed.as_ref()?.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    if reply.status.is_success() {
        return field("sid").ok_or_else(|| CallRefused::Outcome(unreadable("twilio", reply)));
    }
    let detail = match (field("code"), field("message")) {
        (Some(code), Some(message)) => format!(
            "twilio HTTP {} code {code}: {}",
            reply.status.as_u16(),
            clip(&message)
        ),
        _ => format!(
            "twilio HTTP {}: {}",
            reply.status.as_u16(),
            clip_bytes(&reply.body)
        ),
    };
    if reply.status.as_u16() == 429 {
        return Err(CallRefused::Limited { detail });
    }
    Err(CallRefused::Outcome(refused(reply.status, detail)))
}

impl VoiceProvider for TwilioVoice {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn takes_keys(&self) -> bool {
        true
    }

    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a> {
        Box::pin(async move {
            match execute("twilio_voice", self.request(msg)).await {
                Ok(reply) => outcome(&reply),
                Err(o) => Err(CallRefused::Outcome(o)),
            }
        })
    }
}

/// Twilio's call statuses: `completed` was picked up (reached, or answered by its key);
/// the others were not.
pub fn status_words(status: &str) -> Option<super::receipts::CallStatus> {
    use super::receipts::CallStatus;
    Some(match status {
        "completed" | "in-progress" | "answered" => CallStatus::Reached,
        "no-answer" | "canceled" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::channel::Outcome;
    use crate::notify::delivery::sms::test_support::{body_text, header, reply};
    use crate::notify::delivery::sms::twilio::basic_auth_verify;
    use crate::notify::delivery::voice::test_support::*;

    fn provider() -> TwilioVoice {
        let mut cfg = voice_config().twilio;
        cfg.base_url = "http://127.0.0.1:9000/".into();
        TwilioVoice::new(
            &cfg,
            2,
            5,
            "https://fenghuo.example/hooks/voice/twilio".into(),
        )
        .expect("provider")
    }

    #[test]
    fn the_call_carries_gather_and_say_in_chinese() {
        let p = provider();
        let mut msg = call();
        msg.text = "暴雨<预警> & 转移。收到请按1。".into();
        let req = p.request(&msg).build().expect("request");
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:9000/2010-04-01/Accounts/AC00000000000000000000000000000001/Calls.json"
        );
        assert!(basic_auth_verify(
            header(&req, "authorization"),
            "AC00000000000000000000000000000001",
            "twilioVoiceToken"
        ));
        let form: Vec<(String, String)> = form_urlencoded::parse(body_text(&req).as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| {
            form.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("To"), "+8613800138000");
        assert_eq!(get("From"), "+14155550100");
        assert_eq!(
            get("StatusCallback"),
            "https://fenghuo.example/hooks/voice/twilio"
        );
        let twiml = get("Twiml");
        assert!(
            twiml.starts_with("<Response><Gather input=\"dtmf\" numDigits=\"1\""),
            "{twiml}"
        );
        assert!(twiml.contains("action=\"https://fenghuo.example/hooks/voice/twilio\""));
        assert!(twiml.contains(
            "<Say language=\"zh-CN\" loop=\"2\">暴雨&lt;预警&gt; &amp; 转移。收到请按1。</Say></Gather>"
        ));
    }

    #[test]
    fn answers_are_classified() {
        let ok = r#"{"sid":"CA1234567890abcdef1234567890abcdef","status":"queued"}"#;
        assert_eq!(
            outcome(&reply(201, ok)).ok().as_deref(),
            Some("CA1234567890abcdef1234567890abcdef")
        );
        let err = r#"{"code":21215,"message":"Geo Permission configuration is not permitting call","status":400}"#;
        assert!(matches!(
            outcome(&reply(400, err)),
            Err(CallRefused::Outcome(Outcome::Permanent(_)))
        ));
        assert!(matches!(
            outcome(&reply(
                429,
                r#"{"code":20429,"message":"Too Many Requests"}"#
            )),
            Err(CallRefused::Limited { .. })
        ));
        assert!(matches!(
            outcome(&reply(500, "oops")),
            Err(CallRefused::Outcome(Outcome::Transient(_)))
        ));
    }
}

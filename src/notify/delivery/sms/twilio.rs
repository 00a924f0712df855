//! Twilio Messages API: HTTP Basic auth, the form POST, and how its answers are classified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::AUTHORIZATION;
use reqwest::{Client, RequestBuilder, Url};
use serde_json::Value;
use subtle::ConstantTimeEq as _;

use crate::config::TwilioConfig;
use crate::notify::delivery::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};

use super::*;

// ---------------------------------------------------------------------------------------------
// HTTP Basic
// ---------------------------------------------------------------------------------------------

/// HTTP Basic auth header value ("Basic " + base64(user:pass)) — Twilio.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
}

/// True when `header` is a Basic credential for exactly `user` and `password`.
/// The scheme name is matched case-insensitively (RFC 7617).
pub fn basic_auth_verify(header: &str, user: &str, password: &str) -> bool {
    let Some((scheme, encoded)) = header.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("Basic") {
        return false;
    }
    let Ok(received) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    // Constant time, so a caller cannot learn the credential byte by byte from response timing
    // (the length itself is not secret).
    received
        .ct_eq(format!("{user}:{password}").as_bytes())
        .into()
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// Twilio Messages API, HTTP Basic auth.
pub struct TwilioSms {
    client: Client,
    url: Url,
    authorization: String,
    /// `From`, or `MessagingServiceSid` when the configured sender is a messaging service.
    from_field: &'static str,
    from: String,
    /// Where Twilio posts the message's delivery receipts (`StatusCallback`), if anywhere.
    status_callback: Option<String>,
}

impl TwilioSms {
    pub fn new(cfg: &TwilioConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        let account_sid = required(&cfg.account_sid, "sms.twilio.account_sid")?;
        let auth_token = required(&cfg.auth_token, "sms.twilio.auth_token")?;
        let from = required(&cfg.from, "sms.twilio.from")?;
        let mut url = http_url(&cfg.base_url, "sms.twilio.base_url")?;
        url.path_segments_mut()
            .map_err(|()| SmsConfigError::Invalid {
                setting: "sms.twilio.base_url",
                message: "cannot carry a path".into(),
            })?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &account_sid, "Messages.json"]);
        let authorization = basic_auth(&account_sid, &auth_token);
        header_safe(&authorization, "sms.twilio.auth_token")?;
        // Twilio sends from a messaging service (MG…) through a different field.
        let from_field = if from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        Ok(TwilioSms {
            client: http_client(timeout_secs)?,
            url,
            authorization,
            from_field,
            from,
            status_callback: None,
        })
    }

    /// Asks Twilio to post each message's delivery receipt (`StatusCallback`) to `url`.
    pub fn with_status_callback(mut self, url: String) -> Self {
        self.status_callback = Some(url).filter(|u| !u.is_empty());
        self
    }

    fn request(&self, msg: &SmsMessage) -> RequestBuilder {
        let mut form = vec![
            ("To", msg.to.as_str()),
            (self.from_field, &self.from),
            ("Body", &msg.text),
        ];
        if let Some(url) = &self.status_callback {
            form.push(("StatusCallback", url));
        }
        self.client
            .post(self.url.clone())
            .header(AUTHORIZATION, &self.authorization)
            .form(&form)
    }
}

fn twilio_outcome(reply: &Reply) -> Outcome {
    let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let field = |name: &str| -> Option<String> {
        match parsed.as_ref()?.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    if reply.status.is_success() {
        return match field("sid") {
            Some(provider_id) => Outcome::Sent { provider_id },
            None => unreadable("twilio", reply),
        };
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
    refused(reply.status, detail)
}

impl SmsProvider for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            match execute("twilio", self.request(msg)).await {
                Ok(reply) => twilio_outcome(&reply),
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
    fn basic_auth_refuses_near_misses() {
        let verify = |header: &str| basic_auth_verify(header, "AC1", "secret");
        assert!(verify(&basic_auth("AC1", "secret")));
        // One byte more, one byte less, the last byte changed, the whole credential empty.
        assert!(!verify(&basic_auth("AC1", "secret ")));
        assert!(!verify(&basic_auth("AC1", "secre")));
        assert!(!verify(&basic_auth("AC1", "secreu")));
        assert!(!verify(&basic_auth("", "")));
        assert!(!verify("Basic "));
        // An empty password is a credential like any other: it matches only itself.
        assert!(basic_auth_verify(&basic_auth("AC1", ""), "AC1", ""));
        assert!(!basic_auth_verify(&basic_auth("AC1", "x"), "AC1", ""));
    }

    #[test]
    fn basic_auth_round_trip_and_tamper() {
        // RFC 7617's example.
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let header = basic_auth("ACxxxxxxxx", "token:with:colons");
        assert!(basic_auth_verify(
            &header,
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(basic_auth_verify(
            &header.replace("Basic", "basic"),
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify(
            &header,
            "ACxxxxxxxx",
            "token:with:colon"
        ));
        assert!(!basic_auth_verify(
            &header,
            "ACyyyyyyyy",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify(
            &header.replace("Basic", "Bearer"),
            "ACxxxxxxxx",
            "token:with:colons"
        ));
        assert!(!basic_auth_verify("Basic !!!", "a", "b"));
        assert!(!basic_auth_verify("", "a", "b"));
    }

    #[test]
    fn twilio_request_shape() {
        let mut cfg = sms_config().twilio;
        cfg.base_url = "http://127.0.0.1:9000/".into();
        let p = TwilioSms::new(&cfg, 5).expect("provider");
        let req = p.request(&message()).build().expect("request");
        assert_eq!(req.method(), reqwest::Method::POST);
        assert_eq!(
            req.url().as_str(),
            "http://127.0.0.1:9000/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
        );
        assert!(basic_auth_verify(
            header(&req, "authorization"),
            "AC00000000000000000000000000000000",
            "twilioToken"
        ));
        assert_eq!(
            header(&req, "content-type"),
            "application/x-www-form-urlencoded"
        );
        let form: Vec<(String, String)> = form_urlencoded::parse(body_text(&req).as_bytes())
            .into_owned()
            .collect();
        let want = [
            ("To", "+8613800138000"),
            ("From", "+14155550100"),
            (
                "Body",
                "【湖上乡应急办】暴雨红色预警：请立即转移。回复1确认",
            ),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(form, want);

        cfg.from = "MG00000000000000000000000000000000".into();
        let p = TwilioSms::new(&cfg, 5).expect("provider");
        let body = body_text(&p.request(&message()).build().expect("request"));
        assert!(body.contains("MessagingServiceSid=MG0000"), "{body}");
    }

    #[test]
    fn twilio_outcomes() {
        let ok =
            r#"{"sid":"SM1234567890abcdef1234567890abcdef","status":"queued","error_code":null}"#;
        assert_eq!(
            twilio_outcome(&reply(201, ok)),
            sent("SM1234567890abcdef1234567890abcdef")
        );
        let err = |code: u32, status: u16| {
            format!(
                r#"{{"code":{code},"message":"The 'To' number is not valid.","more_info":"x","status":{status}}}"#
            )
        };
        assert!(is_transient(&twilio_outcome(&reply(429, &err(20429, 429)))));
        assert!(is_transient(&twilio_outcome(&reply(500, &err(20500, 500)))));
        assert!(is_transient(&twilio_outcome(&reply(503, "down"))));
        assert_eq!(
            twilio_outcome(&reply(400, &err(21211, 400))),
            Outcome::Permanent("twilio HTTP 400 code 21211: The 'To' number is not valid.".into())
        );
        assert!(is_permanent(&twilio_outcome(&reply(401, &err(20003, 401)))));
        assert!(is_transient(&twilio_outcome(&reply(201, "{}"))));
    }
}

//! Tencent Cloud 语音消息 (VMS 2020-09-02) `SendTtsVoice`: a template voice notice, signed with
//! TC3-HMAC-SHA256 as Tencent SMS is (`sms::tencent`), service `vms`.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::json;

use super::settings::VoiceTencentConfig;
use super::{CallFuture, CallRefused, VoiceProvider};
use crate::notify::delivery::channel::{Outcome, VoiceMessage};
use crate::notify::delivery::sms::tencent::{TC3_CONTENT_TYPE, Tc3Request, tc3_authorization};
use crate::notify::delivery::sms::{
    Reply, SmsConfigError, clip, execute, header_safe, http_client, http_url, required, retryable,
    unix_now, unreadable,
};

pub struct TencentVoice {
    client: Client,
    url: Url,
    host: String,
    secret_id: String,
    secret_key: String,
    region: String,
    app_id: String,
    template_id: String,
    play_times: u32,
}

impl TencentVoice {
    pub fn new(
        cfg: &VoiceTencentConfig,
        play_times: u32,
        timeout_secs: u64,
    ) -> Result<Self, SmsConfigError> {
        let url = http_url(&cfg.base_url, "voice.tencent.base_url")?;
        // TC3 canonicalises `POST /` with no query.
        if url.path() != "/" || url.query().is_some() {
            return Err(SmsConfigError::Invalid {
                setting: "voice.tencent.base_url",
                message: format!(
                    "'{url}' must have no path or query (e.g. https://vms.tencentcloudapi.com/)"
                ),
            });
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(SmsConfigError::Missing("voice.tencent.base_url")),
        };
        let region = required(&cfg.region, "voice.tencent.region")?;
        header_safe(&region, "voice.tencent.region")?;
        Ok(TencentVoice {
            secret_id: required(&cfg.secret_id, "voice.tencent.secret_id")?,
            secret_key: required(&cfg.secret_key, "voice.tencent.secret_key")?,
            app_id: required(&cfg.voice_sdk_app_id, "voice.tencent.voice_sdk_app_id")?,
            template_id: required(&cfg.template_id, "voice.tencent.template_id")?,
            region,
            play_times: play_times.clamp(1, 3),
            client: http_client(timeout_secs)?,
            url,
            host,
        })
    }

    fn request(&self, msg: &VoiceMessage, timestamp: i64) -> RequestBuilder {
        let body = json!({
            "TemplateId": self.template_id,
            "TemplateParamSet": [msg.text],
            "CalledNumber": msg.to,
            "VoiceSdkAppid": self.app_id,
            "PlayTimes": self.play_times,
            "SessionContext": msg.reference,
        })
        .to_string();
        let authorization = tc3_authorization(&Tc3Request {
            secret_id: &self.secret_id,
            secret_key: &self.secret_key,
            service: "vms",
            host: &self.host,
            timestamp,
            body: &body,
        });
        // The exact bytes that were signed.
        self.client
            .post(self.url.clone())
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, TC3_CONTENT_TYPE)
            .header(AUTHORIZATION, authorization)
            .header("X-TC-Action", "SendTtsVoice")
            .header("X-TC-Version", "2020-09-02")
            .header("X-TC-Region", &self.region)
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(body)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Answer,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    send_status: Option<SendStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendStatus {
    #[serde(default)]
    call_id: String,
}

pub(super) fn outcome(reply: &Reply) -> Result<String, CallRefused> {
    let Ok(Envelope { response }) = serde_json::from_slice(&reply.body) else {
        return Err(CallRefused::Outcome(unreadable("tencent", reply)));
    };
    match (response.error, response.send_status) {
        (None, Some(status)) if reply.status.is_success() => Ok(status.call_id),
        (Some(e), _) => {
            let detail = format!("tencent {}: {}", e.code, clip(&e.message));
            if e.code.starts_with("LimitExceeded") || e.code.starts_with("RequestLimitExceeded") {
                Err(CallRefused::Limited { detail })
            } else if e.code.starts_with("InternalError") || retryable(reply.status) {
                Err(CallRefused::Outcome(Outcome::Transient(detail)))
            } else {
                Err(CallRefused::Outcome(Outcome::Permanent(detail)))
            }
        }
        _ => Err(CallRefused::Outcome(unreadable("tencent", reply))),
    }
}

impl VoiceProvider for TencentVoice {
    fn name(&self) -> &'static str {
        "tencent"
    }

    fn takes_keys(&self) -> bool {
        // A voice notice template may ask for a key; its presses come to the callback.
        true
    }

    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a> {
        Box::pin(async move {
            match execute("tencent_voice", self.request(msg, unix_now())).await {
                Ok(reply) => outcome(&reply),
                Err(o) => Err(CallRefused::Outcome(o)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::tencent::tc3_verify;
    use crate::notify::delivery::sms::test_support::{body_text, header, reply};
    use crate::notify::delivery::voice::test_support::*;

    #[test]
    fn send_tts_voice_is_signed_for_vms() {
        let mut cfg = voice_config().tencent;
        cfg.base_url = "http://127.0.0.1:9000/".into();
        let p = TencentVoice::new(&cfg, 2, 5).expect("provider");
        let req = p.request(&call(), 1_782_000_000).build().expect("request");
        let body = body_text(&req);
        let auth = header(&req, "authorization");
        assert!(auth.contains("/vms/tc3_request"), "{auth}");
        assert!(tc3_verify(
            "AKIDvoice",
            "tcVoiceKey",
            "127.0.0.1:9000",
            1_782_000_000,
            &body,
            auth
        ));
        assert!(!tc3_verify(
            "AKIDvoice",
            "other",
            "127.0.0.1:9000",
            1_782_000_000,
            &body,
            auth
        ));
        assert_eq!(header(&req, "x-tc-action"), "SendTtsVoice");
        assert_eq!(header(&req, "x-tc-version"), "2020-09-02");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["CalledNumber"], "+8613800138000");
        assert_eq!(v["TemplateId"], "4356");
        assert_eq!(v["VoiceSdkAppid"], "1400006666");
        assert_eq!(v["TemplateParamSet"][0], call().text);
        assert_eq!(v["SessionContext"], "dlv-42");
        assert_eq!(v["PlayTimes"], 2);
    }

    #[test]
    fn answers_are_classified() {
        // Tencent's documented answer.
        let ok = r#"{"Response":{"SendStatus":{"CallId":"12582bce-4c4e-4b1d-a8f2-2d5e0c2b0a63","SessionContext":"sc-t"},"RequestId":"r"}}"#;
        assert_eq!(
            outcome(&reply(200, ok)).ok().as_deref(),
            Some("12582bce-4c4e-4b1d-a8f2-2d5e0c2b0a63")
        );
        let err = |code: &str| {
            format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            )
        };
        assert!(matches!(
            outcome(&reply(200, &err("LimitExceeded.CallLimit"))),
            Err(CallRefused::Limited { .. })
        ));
        assert!(matches!(
            outcome(&reply(200, &err("AuthFailure.SignatureFailure"))),
            Err(CallRefused::Outcome(Outcome::Permanent(_)))
        ));
        assert!(matches!(
            outcome(&reply(200, &err("InternalError.Timeout"))),
            Err(CallRefused::Outcome(Outcome::Transient(_)))
        ));
    }
}

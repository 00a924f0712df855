//! Aliyun 语音服务 (Dyvmsapi 2017-05-25): `SingleCallByTts` (a notification read out) or,
//! when an IVR start template is configured, `IvrCall` (read out, then a key: "1" answers).
//! Signed as Aliyun SMS is (signature V1, `sms::aliyun`), as a signed GET.

use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::json;

use super::settings::VoiceAliyunConfig;
use super::{CallFuture, CallRefused, VoiceProvider};
use crate::notify::delivery::channel::{Outcome, VoiceMessage};
use crate::notify::delivery::sms::aliyun::{aliyun_phone, aliyun_signed_query, aliyun_timestamp};
use crate::notify::delivery::sms::{
    SmsConfigError, clip, execute, http_client, http_url, new_nonce, required, retryable,
    unreadable,
};

/// What an `IvrCall` needs beyond a notification.
struct Ivr {
    start_code: String,
    confirm_code: String,
    timeout_ms: u32,
}

pub struct AliyunVoice {
    client: Client,
    url: Url,
    access_key_id: String,
    access_key_secret: String,
    region_id: String,
    tts_code: String,
    show_number: String,
    ivr: Option<Ivr>,
    play_times: u32,
}

impl AliyunVoice {
    pub fn new(
        cfg: &VoiceAliyunConfig,
        play_times: u32,
        timeout_secs: u64,
    ) -> Result<Self, SmsConfigError> {
        let ivr_start = cfg.ivr_start_code.trim();
        let ivr = if ivr_start.is_empty() {
            None
        } else {
            Some(Ivr {
                start_code: ivr_start.to_string(),
                confirm_code: required(&cfg.ivr_confirm_code, "voice.aliyun.ivr_confirm_code")?,
                timeout_ms: cfg.ivr_timeout_ms.clamp(1000, 60_000),
            })
        };
        Ok(AliyunVoice {
            url: http_url(&cfg.base_url, "voice.aliyun.base_url")?,
            access_key_id: required(&cfg.access_key_id, "voice.aliyun.access_key_id")?,
            access_key_secret: required(&cfg.access_key_secret, "voice.aliyun.access_key_secret")?,
            region_id: required(&cfg.region_id, "voice.aliyun.region_id")?,
            // IvrCall calls from a number of the account's own; a notification may use the
            // public pool, but then needs its TTS template.
            show_number: if ivr.is_some() {
                required(&cfg.called_show_number, "voice.aliyun.called_show_number")?
            } else {
                cfg.called_show_number.trim().to_string()
            },
            tts_code: if ivr.is_some() {
                cfg.tts_code.trim().to_string()
            } else {
                required(&cfg.tts_code, "voice.aliyun.tts_code")?
            },
            ivr,
            play_times: play_times.clamp(1, 3),
            client: http_client(timeout_secs)?,
        })
    }

    /// The signed request; `timestamp` is `YYYY-MM-DDThh:mm:ssZ` in UTC.
    fn request(&self, msg: &VoiceMessage, nonce: &str, timestamp: &str) -> RequestBuilder {
        let content = json!({ "content": msg.text }).to_string();
        let play_times = self.play_times.to_string();
        let mut params: Vec<(&str, String)> = vec![
            ("AccessKeyId", self.access_key_id.clone()),
            ("Format", "JSON".into()),
            ("RegionId", self.region_id.clone()),
            ("SignatureMethod", "HMAC-SHA1".into()),
            ("SignatureNonce", nonce.into()),
            ("SignatureVersion", "1.0".into()),
            ("Timestamp", timestamp.into()),
            ("Version", "2017-05-25".into()),
            ("CalledNumber", aliyun_phone(&msg.to)),
            ("PlayTimes", play_times),
            ("OutId", msg.reference.clone()),
        ];
        match &self.ivr {
            Some(ivr) => params.extend([
                ("Action", "IvrCall".into()),
                ("CalledShowNumber", self.show_number.clone()),
                ("StartCode", ivr.start_code.clone()),
                ("StartTtsParams", content),
                // The menu: key 1 is the answer, and hears the confirmation.
                ("MenuKeyMap.1.Key", "1".into()),
                ("MenuKeyMap.1.Code", ivr.confirm_code.clone()),
                ("Timeout", ivr.timeout_ms.to_string()),
            ]),
            None => {
                params.extend([
                    ("Action", "SingleCallByTts".into()),
                    ("TtsCode", self.tts_code.clone()),
                    ("TtsParam", content),
                ]);
                if !self.show_number.is_empty() {
                    params.push(("CalledShowNumber", self.show_number.clone()));
                }
            }
        }
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut url = self.url.clone();
        // Set verbatim: the query is encoded exactly as it was signed.
        url.set_query(Some(&aliyun_signed_query(
            &self.access_key_secret,
            "GET",
            &params,
        )));
        self.client.get(url)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliyunCallReply {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    call_id: String,
}

/// Aliyun's answers that mean "not now" for this number or account: its flow control
/// (`isv.BUSINESS_LIMIT_CONTROL`, a day limit, `Throttling.*`). The call waits; it is not a
/// failure of the provider.
fn is_limit(code: &str) -> bool {
    code.contains("LIMIT_CONTROL") || code.starts_with("Throttling")
}

pub(super) fn outcome(reply: &crate::notify::delivery::sms::Reply) -> Result<String, CallRefused> {
    let parsed = serde_json::from_slice::<AliyunCallReply>(&reply.body)
        .ok()
        .filter(|r| !r.code.is_empty());
    let Some(r) = parsed else {
        return Err(CallRefused::Outcome(unreadable("aliyun", reply)));
    };
    // Without a CallId (never seen) the call is still placed: its receipts are matched by
    // the OutId it carries.
    if r.code == "OK" && reply.status.is_success() {
        return Ok(r.call_id);
    }
    let detail = format!("aliyun {}: {}", r.code, clip(&r.message));
    if is_limit(&r.code) {
        // A day's limit frees a call no sooner than the oldest call leaves the day; the
        // engine's own count decides when, at least a minute from now.
        return Err(CallRefused::Limited { detail });
    }
    let transient = r.code == "isp.SYSTEM_ERROR"
        || r.code == "SignatureNonceUsed"
        || r.code.starts_with("InternalError")
        || r.code.starts_with("ServiceUnavailable")
        || retryable(reply.status);
    Err(CallRefused::Outcome(if transient {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }))
}

impl VoiceProvider for AliyunVoice {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn takes_keys(&self) -> bool {
        self.ivr.is_some()
    }

    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a> {
        Box::pin(async move {
            let timestamp = aliyun_timestamp(chrono::Utc::now());
            let request = self.request(msg, &new_nonce(), &timestamp);
            match execute("aliyun_voice", request).await {
                Ok(reply) => outcome(&reply),
                Err(o) => Err(CallRefused::Outcome(o)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::sms::aliyun::aliyun_verify;
    use crate::notify::delivery::sms::test_support::reply;
    use crate::notify::delivery::voice::test_support::*;

    fn get<'a>(pairs: &'a [(String, String)], k: &str) -> &'a str {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    #[test]
    fn a_notification_call_is_signed_and_complete() {
        let cfg = voice_config().aliyun;
        let p = AliyunVoice::new(&cfg, 2, 5).expect("provider");
        assert!(!p.takes_keys());
        let req = p
            .request(
                &call(),
                "45e25e9b-0a6f-4070-8c85-2956eda1b466",
                "2026-07-01T02:03:04Z",
            )
            .build()
            .expect("request");
        assert_eq!(req.method(), reqwest::Method::GET);
        assert_eq!(req.url().host_str(), Some("dyvmsapi.aliyuncs.com"));
        let pairs: Vec<(String, String)> = req.url().query_pairs().into_owned().collect();
        assert!(aliyun_verify("voiceSecret", "GET", &pairs));
        assert!(!aliyun_verify("otherSecret", "GET", &pairs));
        assert_eq!(get(&pairs, "Action"), "SingleCallByTts");
        assert_eq!(get(&pairs, "Version"), "2017-05-25");
        assert_eq!(get(&pairs, "CalledNumber"), "13800138000");
        assert_eq!(get(&pairs, "TtsCode"), "TTS_100001");
        assert_eq!(get(&pairs, "PlayTimes"), "2");
        assert_eq!(get(&pairs, "OutId"), "dlv-42");
        let param: serde_json::Value = serde_json::from_str(get(&pairs, "TtsParam")).expect("json");
        assert_eq!(param, json!({"content": call().text}));
        // The public number pool: no CalledShowNumber at all.
        assert!(!pairs.iter().any(|(k, _)| k == "CalledShowNumber"));
    }

    #[test]
    fn an_ivr_call_offers_key_one() {
        let mut cfg = voice_config().aliyun;
        cfg.ivr_start_code = "TTS_200001".into();
        cfg.called_show_number.clear();
        assert!(matches!(
            AliyunVoice::new(&cfg, 2, 5).err(),
            Some(SmsConfigError::Missing("voice.aliyun.called_show_number"))
        ));
        cfg.called_show_number = "059523281234".into();
        let p = AliyunVoice::new(&cfg, 9, 5).expect("provider");
        assert!(p.takes_keys());
        let req = p
            .request(&call(), "n", "2026-07-01T02:03:04Z")
            .build()
            .expect("request");
        let pairs: Vec<(String, String)> = req.url().query_pairs().into_owned().collect();
        assert!(aliyun_verify("voiceSecret", "GET", &pairs));
        assert_eq!(get(&pairs, "Action"), "IvrCall");
        assert_eq!(get(&pairs, "StartCode"), "TTS_200001");
        assert_eq!(get(&pairs, "MenuKeyMap.1.Key"), "1");
        assert_eq!(get(&pairs, "MenuKeyMap.1.Code"), "TTS_200002");
        assert_eq!(get(&pairs, "CalledShowNumber"), "059523281234");
        assert_eq!(get(&pairs, "PlayTimes"), "3", "at most 3");
        assert!(get(&pairs, "StartTtsParams").contains("收到请按1"));
    }

    #[test]
    fn answers_are_classified() {
        let ok = r#"{"Code":"OK","Message":"OK","RequestId":"r","CallId":"116012354148^1"}"#;
        assert_eq!(outcome(&reply(200, ok)).ok(), Some("116012354148^1".into()));
        for code in [
            "isv.BUSINESS_LIMIT_CONTROL",
            "isv.DAY_LIMIT_CONTROL",
            "Throttling.User",
        ] {
            let body = format!(r#"{{"Code":"{code}","Message":"触发流控"}}"#);
            assert!(
                matches!(
                    outcome(&reply(200, &body)),
                    Err(CallRefused::Limited { .. })
                ),
                "{code}"
            );
        }
        let bad = r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"号码格式非法"}"#;
        assert!(matches!(
            outcome(&reply(200, bad)),
            Err(CallRefused::Outcome(Outcome::Permanent(_)))
        ));
        assert!(matches!(
            outcome(&reply(503, "busy")),
            Err(CallRefused::Outcome(Outcome::Transient(_)))
        ));
        assert_eq!(
            outcome(&reply(200, r#"{"Code":"OK"}"#)).ok(),
            Some(String::new()),
            "placed; its receipts are matched by OutId"
        );
    }
}

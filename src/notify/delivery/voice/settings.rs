//! `[voice]`: which provider calls, its account, and the limits on calls to one number. Every
//! key is documented in `deploy/fenghuo.example.toml` and the README.

use serde::{Deserialize, Serialize};

use crate::config::{TwilioConfig, WebhookConfig};

/// Phone calls (叫应 by voice). Off unless a provider is chosen.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// "aliyun", "tencent", "twilio", "webhook", "spool" (write each call's text to
    /// `<data_dir>/outbox`, for the demo) or "off".
    pub provider: String,
    /// Times the text is read out in one call (1–3; the providers' own range).
    pub play_times: u32,
    /// Calls handed to the provider per second.
    pub rate_per_second: u32,
    /// Parallel requests to the provider.
    pub concurrency: usize,
    /// Request timeout in seconds.
    pub timeout_secs: u64,
    /// Shared secret of Aliyun's and Tencent's call receipts and key presses at
    /// `/hooks/voice/{provider}`: in the `X-Fenghuo-Token` header, or as the key of an
    /// `X-Fenghuo-Signature` HMAC of the body. Empty: their callbacks are refused.
    pub callback_token: String,
    /// Also accept the secret as `?token=` (a provider that can call nothing but a URL).
    pub callback_token_in_query: bool,
    /// Calls to one number the provider allows; the engine postpones a call that would
    /// exceed them to the first moment it is allowed.
    pub limits: CallLimits,
    pub aliyun: VoiceAliyunConfig,
    pub tencent: VoiceTencentConfig,
    pub twilio: TwilioConfig,
    pub webhook: WebhookConfig,
}

/// Calls to one number within a minute, an hour and 24 hours (0: no limit of that span).
/// Aliyun counts every call it places, answered or not: 1, 5 and 20.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CallLimits {
    pub per_minute: u32,
    pub per_hour: u32,
    pub per_day: u32,
}

/// Aliyun 语音服务 (Dyvmsapi 2017-05-25), signed as Aliyun SMS is.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceAliyunConfig {
    pub base_url: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub region_id: String,
    /// `SingleCallByTts`: an approved TTS template (TTS_…) with one variable `${content}`.
    pub tts_code: String,
    /// The number shown to the called person; empty for the shared public pool
    /// (`SingleCallByTts` only: `IvrCall` needs a number of your own).
    pub called_show_number: String,
    /// `IvrCall` with press-1 (叫应 by key): its start template (TTS_…, variable
    /// `${content}`). When set, calls are IVR calls and a key "1" answers.
    pub ivr_start_code: String,
    /// `IvrCall`: the template read after the key "1" (e.g. “已确认收到，谢谢”).
    pub ivr_confirm_code: String,
    /// `IvrCall`: how long to wait for a key, in milliseconds.
    pub ivr_timeout_ms: u32,
}

/// Tencent Cloud 语音消息 (VMS 2020-09-02), TC3-signed as Tencent SMS is (service `vms`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceTencentConfig {
    pub base_url: String,
    pub secret_id: String,
    pub secret_key: String,
    pub region: String,
    /// The application's VoiceSdkAppid (140…).
    pub voice_sdk_app_id: String,
    /// An approved voice notice template with one parameter carrying the text; its key
    /// presses come back when the template asks for one.
    pub template_id: String,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        VoiceConfig {
            provider: "off".into(),
            play_times: 2,
            rate_per_second: 10,
            concurrency: 8,
            timeout_secs: 10,
            callback_token: String::new(),
            callback_token_in_query: false,
            limits: CallLimits::default(),
            aliyun: VoiceAliyunConfig::default(),
            tencent: VoiceTencentConfig::default(),
            twilio: TwilioConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            per_minute: 1,
            per_hour: 5,
            per_day: 20,
        }
    }
}

impl Default for VoiceAliyunConfig {
    fn default() -> Self {
        VoiceAliyunConfig {
            base_url: "https://dyvmsapi.aliyuncs.com/".into(),
            access_key_id: String::new(),
            access_key_secret: String::new(),
            region_id: "cn-hangzhou".into(),
            tts_code: String::new(),
            called_show_number: String::new(),
            ivr_start_code: String::new(),
            ivr_confirm_code: String::new(),
            ivr_timeout_ms: 10_000,
        }
    }
}

impl Default for VoiceTencentConfig {
    fn default() -> Self {
        VoiceTencentConfig {
            base_url: "https://vms.tencentcloudapi.com/".into(),
            secret_id: String::new(),
            secret_key: String::new(),
            region: "ap-guangzhou".into(),
            voice_sdk_app_id: String::new(),
            template_id: String::new(),
        }
    }
}

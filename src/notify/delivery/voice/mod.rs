//! The voice channel (叫应 by phone call): a notice read out to the person's phone, answered
//! by pressing 1. One file per provider (Aliyun 语音服务, Tencent 语音消息, Twilio, Fenghuo's
//! generic webhook), each with its signed request (the SMS providers' signers, `sms/`); what
//! is read out is `spoken`; the calls per number the providers allow are `limits`, the calls
//! placed and what their receipts say `calls`, the receipts' formats `receipts`.
//!
//! A call goes: the outbox's voice worker claims the delivery and renders the spoken text;
//! [`place`] takes a slot under the number's limits (or postpones the delivery to the first
//! allowed moment, saying why), asks the provider to call, and keeps its call id; the
//! provider's receipts (`/hooks/voice/{provider}`) then record the call as answered (key 1),
//! reached without a key, no answer, busy or failed.

pub mod aliyun;
pub mod calls;
pub mod limits;
pub mod receipts;
pub mod settings;
pub mod spoken;
pub mod tencent;
pub mod twilio;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use settings::{CallLimits, VoiceConfig};

use crate::notify::delivery::channel::{Outcome, VoiceMessage};
use crate::notify::delivery::sms::SmsConfigError;
use crate::store::Db;

/// Why a provider did not place a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallRefused {
    /// Its own limit (flow control, throttling): the call waits; it is neither retried at once
    /// nor a failure of the provider.
    Limited { detail: String },
    /// Anything else, as the SMS providers classify it (passing or permanent).
    Outcome(Outcome),
}

/// A placed call's id at the provider (empty when it gave none).
pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<String, CallRefused>> + Send + 'a>>;

/// A voice provider: places one call. Implementations build and sign the provider's request.
pub trait VoiceProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether its calls can report a key press (IVR, `<Gather>`, a key callback): then the
    /// call says “收到请按1”, otherwise it asks for the SMS reply.
    fn takes_keys(&self) -> bool;
    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a>;
}

/// A setting that makes the voice channel unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoiceConfigError {
    #[error(
        "unknown voice provider '{0}' (expected aliyun, tencent, twilio, webhook, spool or off)"
    )]
    UnknownProvider(String),
    #[error("voice.play_times must be 1, 2 or 3")]
    PlayTimes,
    #[error(transparent)]
    Provider(#[from] SmsConfigError),
}

impl VoiceConfigError {
    /// The setting at fault, as `config check` names it.
    pub fn setting(&self) -> &'static str {
        match self {
            VoiceConfigError::UnknownProvider(_) => "voice.provider",
            VoiceConfigError::PlayTimes => "voice.play_times",
            VoiceConfigError::Provider(
                SmsConfigError::Missing(s) | SmsConfigError::Invalid { setting: s, .. },
            ) => s,
            VoiceConfigError::Provider(SmsConfigError::UnknownProvider(_)) => "voice.provider",
            VoiceConfigError::Provider(SmsConfigError::Client(_)) => "voice",
        }
    }
}

/// Builds the configured provider; `off` gives none. `public_base` is where the providers
/// that are told a callback (Twilio, the webhook) post receipts and keys:
/// `<public_base>/hooks/voice/<provider>`.
pub fn build_provider(
    cfg: &VoiceConfig,
    public_base: &str,
    spool_dir: &std::path::Path,
) -> Result<Option<Arc<dyn VoiceProvider>>, VoiceConfigError> {
    if !(1..=3).contains(&cfg.play_times) {
        return Err(VoiceConfigError::PlayTimes);
    }
    let callback = |p: &str| format!("{}/hooks/voice/{p}", public_base.trim_end_matches('/'));
    let (times, secs) = (cfg.play_times, cfg.timeout_secs);
    let provider: Arc<dyn VoiceProvider> = match cfg.provider.trim() {
        "off" | "" => return Ok(None),
        "spool" => Arc::new(SpoolVoice {
            dir: spool_dir.to_path_buf(),
        }),
        "aliyun" => Arc::new(aliyun::AliyunVoice::new(&cfg.aliyun, times, secs)?),
        "tencent" => Arc::new(tencent::TencentVoice::new(&cfg.tencent, times, secs)?),
        "twilio" => Arc::new(twilio::TwilioVoice::new(
            &cfg.twilio,
            times,
            secs,
            callback("twilio"),
        )?),
        "webhook" => Arc::new(webhook::WebhookVoice::new(
            &cfg.webhook,
            times,
            secs,
            callback("webhook"),
        )?),
        other => return Err(VoiceConfigError::UnknownProvider(other.to_string())),
    };
    Ok(Some(provider))
}

/// `voice.provider = "spool"`: each call's text is written to `<data_dir>/outbox` instead of
/// being called, so the demo and a newcomer see what would be read out.
pub struct SpoolVoice {
    dir: std::path::PathBuf,
}

impl VoiceProvider for SpoolVoice {
    fn name(&self) -> &'static str {
        "spool"
    }

    fn takes_keys(&self) -> bool {
        true
    }

    fn call<'a>(&'a self, msg: &'a VoiceMessage) -> CallFuture<'a> {
        Box::pin(async move {
            let spool = crate::notify::delivery::spool::Spool::new(self.dir.clone());
            let content = format!(
                "Channel: voice call\nTo: {}\nReference: {}\nKey: {}\n\n{}\n",
                msg.to,
                msg.reference,
                if msg.asks_key { "1" } else { "-" },
                msg.text
            );
            match spool
                .write(format!("{:0>8}-voice.txt", msg.reference), content)
                .await
            {
                Outcome::Sent { provider_id } => Ok(provider_id),
                other => Err(CallRefused::Outcome(other)),
            }
        })
    }
}

/// What a delivery's call needs besides its text.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub alert_id: i64,
}

/// Places one rendered call for a claimed delivery at `now`: a slot under the number's limits
/// first (none free: the delivery is postponed to the first allowed moment, with the reason
/// in the office's words), then the provider, then its call id kept for the receipts. A call
/// the provider did not place frees its slot.
pub async fn place(
    db: &Db,
    cfg: &crate::config::Config,
    provider: &dyn VoiceProvider,
    d: &Delivery,
    msg: &VoiceMessage,
    now: i64,
) -> Outcome {
    let tz = cfg.tz();
    // 叫应 done meanwhile (the SMS answered, an earlier call's key): nobody is woken for it.
    match calls::answered(db, d.id).await {
        Ok(true) => {
            return Outcome::Cancelled(
                "已确认收到，不再拨打 / answered meanwhile, not called".into(),
            );
        }
        Ok(false) => {}
        Err(e) => return Outcome::Transient(format!("cannot read the answer: {e}")),
    }
    let placing = calls::Placing {
        delivery_id: d.id,
        alert_id: d.alert_id,
        number: &msg.to,
        provider: provider.name(),
    };
    let slot = match calls::reserve(db, &placing, now, cfg.voice.limits).await {
        Ok(calls::Slot::Go(id)) => id,
        Ok(calls::Slot::Wait(wait)) => {
            crate::telemetry::inc(
                &crate::telemetry::metrics().voice_postponed,
                &[("provider", provider.name())],
            );
            return Outcome::Postponed {
                until: wait.until,
                reason: limits::reason(provider.name(), wait, now, tz),
            };
        }
        // Nothing was called: tried again after the backoff.
        Err(e) => return Outcome::Transient(format!("cannot take a call slot: {e}")),
    };
    let result = provider.call(msg).await;
    let done = crate::store::now_ms().max(now);
    let recorded = match &result {
        Ok(call_id) => calls::placed(db, slot, provider.name(), call_id, done).await,
        Err(CallRefused::Limited { detail }) => calls::not_placed(db, slot, detail, done).await,
        Err(CallRefused::Outcome(o)) => {
            let why = match o {
                Outcome::Transient(s) | Outcome::Permanent(s) => s.as_str(),
                _ => "",
            };
            calls::not_placed(db, slot, why, done).await
        }
    };
    if let Err(e) = recorded {
        // The call went (or not) either way; its row keeps counting against the number,
        // which errs on the side of the provider's limit.
        tracing::warn!(delivery = d.id, error = %e, "recording a placed call failed");
    }
    match result {
        Ok(call_id) => Outcome::Sent {
            provider_id: if call_id.is_empty() {
                format!("{}:{}", provider.name(), d.id)
            } else {
                call_id
            },
        },
        Err(CallRefused::Limited { detail }) => {
            // The provider's own count disagrees with ours (calls made from elsewhere on the
            // account): wait a minute, or for our own count if that says longer.
            let ours = calls::wait_for(db, &msg.to, now + 60_000, cfg.voice.limits)
                .await
                .ok()
                .flatten();
            let until = ours.map_or(now + 60_000, |w| w.until.max(now + 60_000));
            Outcome::Postponed {
                until,
                reason: limits::provider_limited(provider.name(), &detail, until, now, tz),
            }
        }
        Err(CallRefused::Outcome(o)) => o,
    }
}

#[cfg(test)]
pub(in crate::notify::delivery) mod test_support {
    use super::settings::*;
    use crate::config::{TwilioConfig, WebhookConfig};
    use crate::notify::delivery::channel::VoiceMessage;

    pub fn call() -> VoiceMessage {
        VoiceMessage {
            reference: "dlv-42".into(),
            to: "+8613800138000".into(),
            text: "湖上乡应急办通知：三级，黄色。暴雨黄色预警。请立即组织转移。收到请按1。".into(),
            asks_key: true,
        }
    }

    pub fn voice_config() -> VoiceConfig {
        VoiceConfig {
            provider: "aliyun".into(),
            callback_token: "voice-callback-secret".into(),
            aliyun: VoiceAliyunConfig {
                access_key_id: "voiceId".into(),
                access_key_secret: "voiceSecret".into(),
                tts_code: "TTS_100001".into(),
                ivr_confirm_code: "TTS_200002".into(),
                ..VoiceAliyunConfig::default()
            },
            tencent: VoiceTencentConfig {
                secret_id: "AKIDvoice".into(),
                secret_key: "tcVoiceKey".into(),
                voice_sdk_app_id: "1400006666".into(),
                template_id: "4356".into(),
                ..VoiceTencentConfig::default()
            },
            twilio: TwilioConfig {
                account_sid: "AC00000000000000000000000000000001".into(),
                auth_token: "twilioVoiceToken".into(),
                from: "+14155550100".into(),
                ..TwilioConfig::default()
            },
            webhook: WebhookConfig {
                url: "https://gateway.example/call".into(),
                secret: "voiceHook".into(),
            },
            ..VoiceConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn build_provider_picks_the_configured_one_and_names_what_is_missing() {
        let dir = std::path::Path::new("/tmp");
        let mut cfg = voice_config();
        for (name, want) in [
            ("aliyun", Some(("aliyun", false))),
            ("tencent", Some(("tencent", true))),
            ("twilio", Some(("twilio", true))),
            ("webhook", Some(("webhook", true))),
            ("spool", Some(("spool", true))),
            ("off", None),
        ] {
            cfg.provider = name.into();
            let built = build_provider(&cfg, "https://f.example", dir).expect(name);
            assert_eq!(built.map(|p| (p.name(), p.takes_keys())), want, "{name}");
        }
        cfg.provider = "pigeon".into();
        assert_eq!(
            build_provider(&cfg, "", dir).err().map(|e| e.setting()),
            Some("voice.provider")
        );
        cfg.provider = "aliyun".into();
        cfg.aliyun.tts_code.clear();
        let e = build_provider(&cfg, "", dir).err().expect("an error");
        assert_eq!(e.setting(), "voice.aliyun.tts_code");
        cfg = voice_config();
        cfg.play_times = 4;
        assert_eq!(
            build_provider(&cfg, "", dir).err(),
            Some(VoiceConfigError::PlayTimes)
        );
        cfg = voice_config();
        cfg.provider = "tencent".into();
        cfg.tencent.voice_sdk_app_id = " ".into();
        assert_eq!(
            build_provider(&cfg, "", dir).err().map(|e| e.setting()),
            Some("voice.tencent.voice_sdk_app_id")
        );
    }
}

//! The SMS providers that send over HTTP, one file each: Aliyun, Tencent Cloud, Twilio and
//! Fenghuo's generic webhook, each with its request signing (and the verifier the loopback
//! provider simulators check real requests with); the parsing of their inbound-reply
//! callbacks (叫应 by SMS) is `inbound`.
//!
//! Every provider answers with an [`Outcome`]: the outbox worker retries `Transient` ones and
//! gives up on `Permanent` ones, so the classification in each provider decides whether an
//! alert is retried. Anything that comes off the network is parsed defensively: a provider
//! never panics. The signers are checked against the providers' published worked examples.

pub mod aliyun;
pub mod inbound;
mod mac;
pub mod receipts;
pub mod tencent;
pub mod twilio;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Client, RequestBuilder, StatusCode, Url};

use crate::config::SmsConfig;
use crate::notify::delivery::channel::{Outcome, SmsProvider};

use aliyun::AliyunSms;
use tencent::TencentSms;
use twilio::TwilioSms;
use webhook::WebhookSms;

/// Largest response body read from a provider; their answers are a few hundred bytes, and a
/// misbehaving endpoint must not make us buffer without bound.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Longest piece of provider text copied into an outcome message (they end up in the database).
const MAX_DETAIL_CHARS: usize = 300;

/// A setting that makes the configured provider unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsConfigError {
    #[error("unknown SMS provider '{0}' (expected spool, aliyun, tencent, twilio, webhook or off)")]
    UnknownProvider(String),
    #[error("setting {0} must be set for this SMS provider")]
    Missing(&'static str),
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
    #[error("cannot create the HTTP client: {0}")]
    Client(String),
}

/// Builds the configured HTTP provider. `spool` (also spelt as an empty setting) and `off` are
/// not HTTP providers: the caller handles them, so they give `None`.
pub fn build_provider(cfg: &SmsConfig) -> Result<Option<Arc<dyn SmsProvider>>, SmsConfigError> {
    let provider: Arc<dyn SmsProvider> = match cfg.provider.trim() {
        "" | "spool" | "off" => return Ok(None),
        "aliyun" => Arc::new(AliyunSms::new(&cfg.aliyun, cfg.timeout_secs)?),
        "tencent" => Arc::new(TencentSms::new(&cfg.tencent, cfg.timeout_secs)?),
        "twilio" => Arc::new(TwilioSms::new(&cfg.twilio, cfg.timeout_secs)?),
        "webhook" => Arc::new(WebhookSms::new(&cfg.webhook, cfg.timeout_secs)?),
        other => return Err(SmsConfigError::UnknownProvider(other.to_string())),
    };
    Ok(Some(provider))
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing
// ---------------------------------------------------------------------------------------------

fn required(value: &str, setting: &'static str) -> Result<String, SmsConfigError> {
    // Trimmed because a stray newline from a TOML heredoc or env file would only surface later
    // as a signature mismatch at the provider.
    let value = value.trim();
    if value.is_empty() {
        Err(SmsConfigError::Missing(setting))
    } else {
        Ok(value.to_string())
    }
}

fn http_url(value: &str, setting: &'static str) -> Result<Url, SmsConfigError> {
    let value = required(value, setting)?;
    let invalid = |message: String| SmsConfigError::Invalid { setting, message };
    let url = Url::parse(&value).map_err(|e| invalid(format!("'{value}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(format!("'{value}' is not an http(s) URL")));
    }
    Ok(url)
}

/// A value that goes into an HTTP header must be checked now, not fail every send later.
fn header_safe(value: &str, setting: &'static str) -> Result<(), SmsConfigError> {
    HeaderValue::from_str(value)
        .map(drop)
        .map_err(|_| SmsConfigError::Invalid {
            setting,
            message: "contains characters not allowed in an HTTP header".into(),
        })
}

fn http_client(timeout_secs: u64) -> Result<Client, SmsConfigError> {
    // Another part of the daemon may have installed it already; either way one is in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        // A zero timeout would fail every request; one second is the least that can work.
        .timeout(Duration::from_secs(timeout_secs.max(1)))
        // A redirected signed POST would be re-sent (or turned into a GET) somewhere we did not
        // configure; the providers never redirect API calls.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fenghuo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SmsConfigError::Client(error_chain(&e)))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// At most [`MAX_DETAIL_CHARS`] characters of provider-supplied text, on one line.
fn clip(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    match one_line.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line.to_string(),
    }
}

fn clip_bytes(body: &[u8]) -> String {
    clip(&String::from_utf8_lossy(body))
}

/// Statuses worth retrying: throttling, request timeout and server errors.
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

/// A refused send: tried again later when the provider's status says so
/// (busy, timed out, its own fault), given up otherwise.
fn refused(status: StatusCode, detail: String) -> Outcome {
    if retryable(status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

fn network_outcome(provider: &str, err: reqwest::Error) -> Outcome {
    // The Aliyun URL carries the number, the text and the signature; none belongs in a log.
    let err = err.without_url();
    if err.is_builder() {
        return Outcome::Permanent(format!(
            "{provider}: cannot build the request: {}",
            error_chain(&err)
        ));
    }
    let what = if err.is_timeout() {
        TIMED_OUT
    } else if err.is_connect() {
        "cannot connect"
    } else {
        REQUEST_FAILED
    };
    Outcome::Transient(format!("{provider}: {what}: {}", error_chain(&err)))
}

/// One request to a provider, timed and, when it fails, counted by class in the metrics
/// (`fenghuo_sms_provider_*`; the provider's name is one of the fixed few).
async fn execute(provider: &'static str, request: RequestBuilder) -> Result<Reply, Outcome> {
    let started = std::time::Instant::now();
    let result = execute_timed(provider, request).await;
    let m = crate::telemetry::metrics();
    crate::telemetry::observe(
        &m.provider_request_seconds,
        &[("provider", provider)],
        started.elapsed().as_secs_f64(),
    );
    let class = match &result {
        Err(_) => Some("network"),
        Ok(r) if r.status == StatusCode::TOO_MANY_REQUESTS => Some("http_429"),
        Ok(r) if r.status.is_server_error() => Some("http_5xx"),
        Ok(r) if r.status.is_client_error() => Some("http_4xx"),
        Ok(_) => None,
    };
    if let Some(class) = class {
        provider_error(provider, class);
    }
    result
}

/// Counts a failed request to a provider: `class` is one of a fixed few (network, http_429,
/// http_4xx, http_5xx).
fn provider_error(provider: &'static str, class: &'static str) {
    crate::telemetry::inc(
        &crate::telemetry::metrics().provider_errors,
        &[("provider", provider), ("class", class)],
    );
}

async fn execute_timed(provider: &str, request: RequestBuilder) -> Result<Reply, Outcome> {
    let mut response = request
        .send()
        .await
        .map_err(|e| network_outcome(provider, e))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| network_outcome(provider, e))?
    {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(Reply { status, body })
}

/// How a timeout, a request cut off mid-way and an answer we cannot read are worded in a
/// `Transient` outcome: [`ambiguous`] recognises them by these.
const TIMED_OUT: &str = "timed out";
const REQUEST_FAILED: &str = "request failed";
const UNREADABLE: &str = "with an unreadable answer";

/// Whether a passing failure leaves it unknown if the message went out: the request may have
/// reached the provider but no answer we could read came back (a timeout, a connection cut
/// mid-way, a 2xx we cannot read). A refusal (HTTP 429/5xx, a provider's error code, a
/// connection never made) is not: nothing was sent. Sending an ambiguous one again, on this
/// path or another, may reach the person twice.
pub fn ambiguous(reason: &str) -> bool {
    reason.contains(&format!(": {TIMED_OUT}:"))
        || reason.contains(&format!(": {REQUEST_FAILED}:"))
        || (reason.contains(UNREADABLE) && reason.contains(": HTTP 2"))
}

/// An answer we cannot read. After a 2xx the message may well have gone out, but retrying
/// (a possible duplicate) is better than silently losing an alert.
fn unreadable(provider: &str, reply: &Reply) -> Outcome {
    let detail = format!(
        "{provider}: HTTP {} {UNREADABLE}: {}",
        reply.status.as_u16(),
        clip_bytes(&reply.body)
    );
    if reply.status.is_success() || retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A random UUID-v4-shaped string for Aliyun's `SignatureNonce`.
fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: time plus a process-wide counter is still unique, which is all
        // Aliyun needs (a reused nonce is refused as SignatureNonceUsed).
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_be_bytes();
        bytes[..8].copy_from_slice(&nanos);
        bytes[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod test_support {
    use super::*;
    use crate::config::{AliyunConfig, TencentConfig, TwilioConfig, WebhookConfig};
    use crate::notify::delivery::channel::SmsMessage;

    pub(super) fn message() -> SmsMessage {
        SmsMessage {
            reference: "dlv-42".into(),
            to: "+8613800138000".into(),
            text: "【湖上乡应急办】暴雨红色预警：请立即转移。回复1确认".into(),
            text_without_signature: "暴雨红色预警：请立即转移。回复1确认".into(),
        }
    }

    pub(super) fn sms_config() -> SmsConfig {
        SmsConfig {
            inbound_token: "inbound-secret".into(),
            aliyun: AliyunConfig {
                access_key_id: "testId".into(),
                access_key_secret: "testSecret".into(),
                sign_name: "湖上乡应急办".into(),
                template_code: "SMS_71390007".into(),
                ..AliyunConfig::default()
            },
            tencent: TencentConfig {
                secret_id: "AKIDfenghuo".into(),
                secret_key: "tencentKey".into(),
                sdk_app_id: "1400000000".into(),
                sign_name: "湖上乡应急办".into(),
                template_id: "123456".into(),
                ..TencentConfig::default()
            },
            twilio: TwilioConfig {
                account_sid: "AC00000000000000000000000000000000".into(),
                auth_token: "twilioToken".into(),
                from: "+14155550100".into(),
                ..TwilioConfig::default()
            },
            webhook: WebhookConfig {
                url: "https://gateway.example/sms".into(),
                secret: "whsec".into(),
            },
            ..SmsConfig::default()
        }
    }

    pub(super) fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("status"),
            body: body.as_bytes().to_vec(),
        }
    }

    pub(super) fn sent(id: &str) -> Outcome {
        Outcome::Sent {
            provider_id: id.into(),
        }
    }

    pub(super) fn is_transient(o: &Outcome) -> bool {
        matches!(o, Outcome::Transient(_))
    }

    pub(super) fn is_permanent(o: &Outcome) -> bool {
        matches!(o, Outcome::Permanent(_))
    }

    pub(super) fn header<'a>(req: &'a reqwest::Request, name: &str) -> &'a str {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub(super) fn body_text(req: &reqwest::Request) -> String {
        let bytes = req
            .body()
            .and_then(|b| b.as_bytes())
            .expect("buffered body");
        String::from_utf8(bytes.to_vec()).expect("utf-8 body")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::*;

    // --- build_provider ---------------------------------------------------------------------

    #[test]
    fn build_provider_picks_the_configured_one() {
        let mut cfg = sms_config();
        for (name, want) in [
            ("aliyun", Some("aliyun")),
            ("tencent", Some("tencent")),
            ("twilio", Some("twilio")),
            ("webhook", Some("webhook")),
            ("spool", None),
            ("off", None),
            ("", None),
        ] {
            cfg.provider = name.into();
            let built = build_provider(&cfg).expect(name);
            assert_eq!(built.map(|p| p.name()), want, "{name}");
        }
        cfg.provider = "carrier-pigeon".into();
        assert_eq!(
            build_provider(&cfg).err(),
            Some(SmsConfigError::UnknownProvider("carrier-pigeon".into()))
        );
    }

    #[test]
    fn build_provider_names_the_missing_setting() {
        type Break = fn(&mut SmsConfig);
        let cases: [(&str, Break, &str); 8] = [
            (
                "aliyun",
                |c| c.aliyun.access_key_secret.clear(),
                "sms.aliyun.access_key_secret",
            ),
            (
                "aliyun",
                |c| c.aliyun.template_code = "  ".into(),
                "sms.aliyun.template_code",
            ),
            (
                "tencent",
                |c| c.tencent.secret_key.clear(),
                "sms.tencent.secret_key",
            ),
            (
                "tencent",
                |c| c.tencent.sdk_app_id.clear(),
                "sms.tencent.sdk_app_id",
            ),
            (
                "twilio",
                |c| c.twilio.auth_token.clear(),
                "sms.twilio.auth_token",
            ),
            ("twilio", |c| c.twilio.from.clear(), "sms.twilio.from"),
            (
                "webhook",
                |c| c.webhook.secret.clear(),
                "sms.webhook.secret",
            ),
            ("webhook", |c| c.webhook.url.clear(), "sms.webhook.url"),
        ];
        for (provider, break_it, setting) in cases {
            let mut cfg = sms_config();
            cfg.provider = provider.into();
            break_it(&mut cfg);
            let err = build_provider(&cfg).err().expect("an error");
            assert_eq!(err, SmsConfigError::Missing(setting));
            assert!(err.to_string().contains(setting), "{err}");
        }
    }

    #[test]
    fn build_provider_rejects_unusable_urls() {
        let mut cfg = sms_config();
        cfg.provider = "webhook".into();
        cfg.webhook.url = "ftp://gateway.example/".into();
        assert!(matches!(
            build_provider(&cfg).err(),
            Some(SmsConfigError::Invalid {
                setting: "sms.webhook.url",
                ..
            })
        ));
        cfg.provider = "tencent".into();
        cfg.tencent.base_url = "https://sms.tencentcloudapi.com/v3".into();
        assert!(matches!(
            build_provider(&cfg).err(),
            Some(SmsConfigError::Invalid {
                setting: "sms.tencent.base_url",
                ..
            })
        ));
    }

    #[test]
    fn ambiguous_answers_are_told_from_refusals() {
        assert!(ambiguous("tencent: timed out: operation timed out"));
        assert!(ambiguous("aliyun: request failed: connection reset"));
        let garbled = unreadable("webhook", &test_support::reply(200, "<html>"));
        let Outcome::Transient(garbled) = garbled else {
            panic!("an unreadable 200 is retried");
        };
        assert!(ambiguous(&garbled), "{garbled}");
        let refused = unreadable("webhook", &test_support::reply(503, "<html>"));
        let Outcome::Transient(refused) = refused else {
            panic!("a 503 is retried");
        };
        assert!(!ambiguous(&refused), "{refused}");
        assert!(!ambiguous("aliyun: cannot connect: connection refused"));
        assert!(!ambiguous(
            "aliyun isv.BUSINESS_LIMIT_CONTROL: 触发号码天级流控"
        ));
    }

    #[test]
    fn clip_bounds_provider_text() {
        let long = "错".repeat(1000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_DETAIL_CHARS + 1);
        assert_eq!(clip("a\nb\r\n"), "a b");
    }
}

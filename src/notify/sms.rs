//! The SMS providers that send over HTTP (Aliyun, Tencent Cloud, Twilio, Fenghuo's generic
//! webhook), and the parsing of their inbound-reply callbacks (叫应 by SMS).
//!
//! Every provider answers with an [`Outcome`]: the outbox worker retries `Transient` ones and
//! gives up on `Permanent` ones, so the classification below decides whether an alert is retried.
//! Anything that comes off the network is parsed defensively: a provider never panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Sha1;
use subtle::ConstantTimeEq as _;

use crate::config::{AliyunConfig, SmsConfig, TencentConfig, TwilioConfig, WebhookConfig};
use crate::notify::channel::{Outcome, SendFuture, SmsMessage, SmsProvider};
use crate::notify::sms_sign;

/// Largest response body read from a provider; their answers are a few hundred bytes, and a
/// misbehaving endpoint must not make us buffer without bound.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Longest piece of provider text copied into an outcome message (they end up in the database).
const MAX_DETAIL_CHARS: usize = 300;

/// How far the `t=` of a signed inbound webhook may be from our clock before it is refused as a
/// possible replay.
const WEBHOOK_TOLERANCE_SECS: u64 = 300;

const TC3_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const TWILIO_SIGNATURE_HEADER: &str = "X-Twilio-Signature";

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
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    Outcome::Transient(format!("{provider}: {what}: {}", error_chain(&err)))
}

async fn execute(provider: &str, request: RequestBuilder) -> Result<Reply, Outcome> {
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

/// An answer we cannot read. After a 2xx the message may well have gone out, but retrying
/// (a possible duplicate) is better than silently losing an alert.
fn unreadable(provider: &str, reply: &Reply) -> Outcome {
    let detail = format!(
        "{provider}: HTTP {} with an unreadable answer: {}",
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

// ---------------------------------------------------------------------------------------------
// Aliyun
// ---------------------------------------------------------------------------------------------

/// Aliyun dysmsapi `SendSms`, signature V1, as a signed GET.
pub struct AliyunSms {
    client: Client,
    url: Url,
    access_key_id: String,
    access_key_secret: String,
    sign_name: String,
    template_code: String,
    region_id: String,
}

impl AliyunSms {
    pub fn new(cfg: &AliyunConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        Ok(AliyunSms {
            url: http_url(&cfg.base_url, "sms.aliyun.base_url")?,
            access_key_id: required(&cfg.access_key_id, "sms.aliyun.access_key_id")?,
            access_key_secret: required(&cfg.access_key_secret, "sms.aliyun.access_key_secret")?,
            sign_name: required(&cfg.sign_name, "sms.aliyun.sign_name")?,
            template_code: required(&cfg.template_code, "sms.aliyun.template_code")?,
            region_id: required(&cfg.region_id, "sms.aliyun.region_id")?,
            client: http_client(timeout_secs)?,
        })
    }

    /// The signed request; `timestamp` is `YYYY-MM-DDThh:mm:ssZ` in UTC.
    fn request(&self, msg: &SmsMessage, nonce: &str, timestamp: &str) -> RequestBuilder {
        let template_param = json!({ "content": msg.text_without_signature }).to_string();
        let params: Vec<(String, String)> = [
            ("AccessKeyId", self.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("RegionId", &self.region_id),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("Timestamp", timestamp),
            ("Version", "2017-05-25"),
            ("PhoneNumbers", &aliyun_phone(&msg.to)),
            ("SignName", &self.sign_name),
            ("TemplateCode", &self.template_code),
            ("TemplateParam", &template_param),
            ("OutId", &msg.reference),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut url = self.url.clone();
        // The query is already percent-encoded exactly as signed; set it verbatim rather than
        // through a form serializer that would encode differently (space as `+`).
        url.set_query(Some(&sms_sign::aliyun_signed_query(
            &self.access_key_secret,
            "GET",
            &params,
        )));
        self.client.get(url)
    }
}

/// Aliyun wants Chinese numbers without the country code and others as country code plus
/// number, without `+`.
fn aliyun_phone(e164: &str) -> String {
    match e164.strip_prefix("+86") {
        Some(national) => national.to_string(),
        None => e164.trim_start_matches('+').to_string(),
    }
}

fn aliyun_timestamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliyunReply {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    biz_id: String,
    #[serde(default)]
    request_id: String,
}

fn aliyun_code_is_transient(code: &str) -> bool {
    let family = |name: &str| code == name || code.starts_with(&format!("{name}."));
    code == "isv.BUSINESS_LIMIT_CONTROL"
        || code.starts_with("Throttling")
        || code == "SignatureNonceUsed"
        || code == "isp.SYSTEM_ERROR"
        || family("InternalError")
        || family("ServiceUnavailable")
}

fn aliyun_outcome(reply: &Reply) -> Outcome {
    let parsed = serde_json::from_slice::<AliyunReply>(&reply.body)
        .ok()
        .filter(|r| !r.code.is_empty());
    let Some(r) = parsed else {
        return unreadable("aliyun", reply);
    };
    if r.code == "OK" && reply.status.is_success() {
        let provider_id = if r.biz_id.is_empty() {
            r.request_id
        } else {
            r.biz_id
        };
        return Outcome::Sent { provider_id };
    }
    let detail = format!("aliyun {}: {}", r.code, clip(&r.message));
    if aliyun_code_is_transient(&r.code) || retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

impl SmsProvider for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let timestamp = aliyun_timestamp(chrono::Utc::now());
            let request = self.request(msg, &new_nonce(), &timestamp);
            match execute("aliyun", request).await {
                Ok(reply) => aliyun_outcome(&reply),
                Err(outcome) => outcome,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tencent Cloud
// ---------------------------------------------------------------------------------------------

/// Tencent Cloud SMS `SendSms` (2021-01-11), TC3-HMAC-SHA256.
pub struct TencentSms {
    client: Client,
    url: Url,
    /// What we send as `Host` and sign; must be what the server sees.
    host: String,
    secret_id: String,
    secret_key: String,
    sdk_app_id: String,
    sign_name: String,
    template_id: String,
    region: String,
}

impl TencentSms {
    pub fn new(cfg: &TencentConfig, timeout_secs: u64) -> Result<Self, SmsConfigError> {
        let url = http_url(&cfg.base_url, "sms.tencent.base_url")?;
        // The signer canonicalises `POST /` with an empty query, so any other path or query
        // would make every signature wrong.
        if url.path() != "/" || url.query().is_some() {
            return Err(SmsConfigError::Invalid {
                setting: "sms.tencent.base_url",
                message: format!(
                    "'{url}' must have no path or query (e.g. https://sms.tencentcloudapi.com/)"
                ),
            });
        }
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(SmsConfigError::Missing("sms.tencent.base_url")),
        };
        let region = required(&cfg.region, "sms.tencent.region")?;
        header_safe(&region, "sms.tencent.region")?;
        Ok(TencentSms {
            secret_id: required(&cfg.secret_id, "sms.tencent.secret_id")?,
            secret_key: required(&cfg.secret_key, "sms.tencent.secret_key")?,
            sdk_app_id: required(&cfg.sdk_app_id, "sms.tencent.sdk_app_id")?,
            sign_name: required(&cfg.sign_name, "sms.tencent.sign_name")?,
            template_id: required(&cfg.template_id, "sms.tencent.template_id")?,
            region,
            client: http_client(timeout_secs)?,
            url,
            host,
        })
    }

    fn request(&self, msg: &SmsMessage, timestamp: i64) -> RequestBuilder {
        let body = json!({
            "PhoneNumberSet": [msg.to],
            "SmsSdkAppId": self.sdk_app_id,
            "TemplateId": self.template_id,
            "SignName": self.sign_name,
            "TemplateParamSet": [msg.text_without_signature],
            "SessionContext": msg.reference,
        })
        .to_string();
        let authorization = sms_sign::tc3_authorization(&sms_sign::Tc3Request {
            secret_id: &self.secret_id,
            secret_key: &self.secret_key,
            service: "sms",
            host: &self.host,
            timestamp,
            body: &body,
        });
        // The body is sent as the exact bytes that were signed; `.json()` would re-serialise
        // and set a content type that differs from the signed one.
        self.client
            .post(self.url.clone())
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, TC3_CONTENT_TYPE)
            .header(AUTHORIZATION, authorization)
            .header("X-TC-Action", "SendSms")
            .header("X-TC-Version", "2021-01-11")
            .header("X-TC-Region", &self.region)
            .header("X-TC-Timestamp", timestamp.to_string())
            .body(body)
    }
}

#[derive(Deserialize)]
struct TencentEnvelope {
    #[serde(rename = "Response")]
    response: TencentResponse,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentResponse {
    #[serde(default)]
    error: Option<TencentStatus>,
    #[serde(default)]
    send_status_set: Vec<TencentStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TencentStatus {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    serial_no: String,
}

fn tencent_code_is_transient(code: &str) -> bool {
    code.starts_with("LimitExceeded")
        || code.starts_with("InternalError")
        || code.starts_with("RequestLimitExceeded")
}

fn tencent_outcome(reply: &Reply) -> Outcome {
    let Ok(TencentEnvelope { response }) = serde_json::from_slice(&reply.body) else {
        return unreadable("tencent", reply);
    };
    // A request-level error, else the status of our one number.
    let status = match response.error {
        Some(error) => error,
        None => match response.send_status_set.into_iter().next() {
            Some(status) => status,
            None => return unreadable("tencent", reply),
        },
    };
    if status.code == "Ok" && reply.status.is_success() {
        return Outcome::Sent {
            provider_id: status.serial_no,
        };
    }
    let detail = format!("tencent {}: {}", status.code, clip(&status.message));
    if tencent_code_is_transient(&status.code) || retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
}

impl SmsProvider for TencentSms {
    fn name(&self) -> &'static str {
        "tencent"
    }

    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a> {
        Box::pin(async move {
            match execute("tencent", self.request(msg, unix_now())).await {
                Ok(reply) => tencent_outcome(&reply),
                Err(outcome) => outcome,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Twilio
// ---------------------------------------------------------------------------------------------

/// Twilio Messages API, HTTP Basic auth.
pub struct TwilioSms {
    client: Client,
    url: Url,
    authorization: String,
    /// `From`, or `MessagingServiceSid` when the configured sender is a messaging service.
    from_field: &'static str,
    from: String,
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
        let authorization = sms_sign::basic_auth(&account_sid, &auth_token);
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
        })
    }

    fn request(&self, msg: &SmsMessage) -> RequestBuilder {
        self.client
            .post(self.url.clone())
            .header(AUTHORIZATION, &self.authorization)
            .form(&[
                ("To", msg.to.as_str()),
                (self.from_field, &self.from),
                ("Body", &msg.text),
            ])
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
    if retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
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

// ---------------------------------------------------------------------------------------------
// Generic webhook
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
        let signature = sms_sign::webhook_signature_header(&self.secret, timestamp, &body);
        self.client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(sms_sign::WEBHOOK_SIGNATURE_HEADER, signature)
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
    if retryable(reply.status) {
        Outcome::Transient(detail)
    } else {
        Outcome::Permanent(detail)
    }
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

// ---------------------------------------------------------------------------------------------
// Inbound replies
// ---------------------------------------------------------------------------------------------

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
            let header = headers
                .get(sms_sign::WEBHOOK_SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(InboundError::Unauthorized)?;
            if secret.is_empty() || !sms_sign::webhook_verify(secret, header, body) {
                return Err(InboundError::Unauthorized);
            }
            // A correctly signed but old request is a replay.
            let t = match sms_sign::webhook_header_timestamp(header) {
                Some(t) if now.abs_diff(t) <= WEBHOOK_TOLERANCE_SECS => t,
                _ => return Err(InboundError::Unauthorized),
            };
            let signed = sms_sign::webhook_signature(secret, t, body);
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

/// Aliyun and Tencent call a URL with the shared secret: from a header, or an HMAC of the body
/// keyed with it, or (only if allowed) the query.
fn check_inbound_secret(
    cfg: &SmsConfig,
    headers: &HeaderMap,
    body: &[u8],
    query_token: Option<&str>,
    now: i64,
) -> Result<(), InboundError> {
    // An unset secret means inbound replies are off, not open to anyone.
    let secret = cfg.inbound_token.trim();
    if secret.is_empty() {
        return Err(InboundError::Unauthorized);
    }
    // Refused even beside a good header: the URL carrying it is the leak to be fixed.
    if query_token.is_some() && !cfg.inbound_token_in_query {
        return Err(InboundError::QueryTokenRefused);
    }
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(given) = header(INBOUND_TOKEN_HEADER) {
        return check_token(secret, Some(given));
    }
    if let Some(sig) = header(sms_sign::WEBHOOK_SIGNATURE_HEADER) {
        let fresh = sms_sign::webhook_header_timestamp(sig)
            .is_some_and(|t| now.abs_diff(t) <= WEBHOOK_TOLERANCE_SECS);
        return if fresh && sms_sign::webhook_verify(secret, sig, body) {
            Ok(())
        } else {
            Err(InboundError::Unauthorized)
        };
    }
    check_token(secret, query_token)
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
fn json_items(body: &[u8]) -> Result<Vec<Value>, InboundError> {
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
fn field(item: &Value, name: &str) -> Option<String> {
    match item.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn need(item: &Value, name: &str) -> Result<String, InboundError> {
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
    use axum::http::HeaderValue;

    fn message() -> SmsMessage {
        SmsMessage {
            reference: "dlv-42".into(),
            to: "+8613800138000".into(),
            text: "【湖上乡应急办】暴雨红色预警：请立即转移。回复1确认".into(),
            text_without_signature: "暴雨红色预警：请立即转移。回复1确认".into(),
        }
    }

    fn sms_config() -> SmsConfig {
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

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("status"),
            body: body.as_bytes().to_vec(),
        }
    }

    fn sent(id: &str) -> Outcome {
        Outcome::Sent {
            provider_id: id.into(),
        }
    }

    fn is_transient(o: &Outcome) -> bool {
        matches!(o, Outcome::Transient(_))
    }

    fn is_permanent(o: &Outcome) -> bool {
        matches!(o, Outcome::Permanent(_))
    }

    fn header<'a>(req: &'a reqwest::Request, name: &str) -> &'a str {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn body_text(req: &reqwest::Request) -> String {
        let bytes = req
            .body()
            .and_then(|b| b.as_bytes())
            .expect("buffered body");
        String::from_utf8(bytes.to_vec()).expect("utf-8 body")
    }

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

    // --- Aliyun -----------------------------------------------------------------------------

    #[test]
    fn aliyun_phone_format() {
        assert_eq!(aliyun_phone("+8613800138000"), "13800138000");
        assert_eq!(aliyun_phone("+8659523456789"), "59523456789");
        assert_eq!(aliyun_phone("+85291234567"), "85291234567");
        assert_eq!(aliyun_phone("+14155550100"), "14155550100");
    }

    #[test]
    fn aliyun_timestamp_format() {
        let t = chrono::DateTime::from_timestamp(1_499_827_339, 0).expect("time");
        assert_eq!(aliyun_timestamp(t), "2017-07-12T02:42:19Z");
    }

    #[test]
    fn nonces_are_uuid_shaped_and_differ() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn aliyun_request_is_signed_and_complete() {
        let p = AliyunSms::new(&sms_config().aliyun, 5).expect("provider");
        let nonce = "45e25e9b-0a6f-4070-8c85-2956eda1b466";
        let req = p
            .request(&message(), nonce, "2017-07-12T02:42:19Z")
            .build()
            .expect("request");
        assert_eq!(req.method(), reqwest::Method::GET);
        assert_eq!(req.url().host_str(), Some("dysmsapi.aliyuncs.com"));
        assert_eq!(req.url().path(), "/");
        let raw = req.url().query().expect("query");
        assert!(!raw.contains('+'), "spaces and pluses are %-encoded: {raw}");
        let pairs: Vec<(String, String)> = req.url().query_pairs().into_owned().collect();
        assert!(sms_sign::aliyun_verify("testSecret", "GET", &pairs));
        assert!(!sms_sign::aliyun_verify("otherSecret", "GET", &pairs));
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert_eq!(get("AccessKeyId"), "testId");
        assert_eq!(get("Action"), "SendSms");
        assert_eq!(get("Format"), "JSON");
        assert_eq!(get("RegionId"), "cn-hangzhou");
        assert_eq!(get("SignatureMethod"), "HMAC-SHA1");
        assert_eq!(get("SignatureNonce"), nonce);
        assert_eq!(get("SignatureVersion"), "1.0");
        assert_eq!(get("Timestamp"), "2017-07-12T02:42:19Z");
        assert_eq!(get("Version"), "2017-05-25");
        assert_eq!(get("PhoneNumbers"), "13800138000");
        assert_eq!(get("SignName"), "湖上乡应急办");
        assert_eq!(get("TemplateCode"), "SMS_71390007");
        assert_eq!(get("OutId"), "dlv-42");
        let param: Value = serde_json::from_str(get("TemplateParam")).expect("json");
        assert_eq!(
            param,
            json!({"content": "暴雨红色预警：请立即转移。回复1确认"})
        );
        assert_eq!(pairs.len(), 15, "14 parameters and the signature");
    }

    #[test]
    fn aliyun_outcomes() {
        let ok = r#"{"Message":"OK","RequestId":"r1","BizId":"900619746936498440^0","Code":"OK"}"#;
        assert_eq!(
            aliyun_outcome(&reply(200, ok)),
            sent("900619746936498440^0")
        );
        for code in [
            "isv.BUSINESS_LIMIT_CONTROL",
            "Throttling.User",
            "Throttling",
            "SignatureNonceUsed",
            "InternalError",
            "ServiceUnavailable",
        ] {
            let body = format!(r#"{{"Code":"{code}","Message":"m","RequestId":"r"}}"#);
            let o = aliyun_outcome(&reply(200, &body));
            assert!(is_transient(&o), "{code}: {o:?}");
        }
        for code in [
            "isv.MOBILE_NUMBER_ILLEGAL",
            "isv.TEMPLATE_MISSING_PARAMETERS",
            "isv.SMS_TEMPLATE_ILLEGAL",
            "InvalidAccessKeyId.NotFound",
            "SignatureDoesNotMatch",
        ] {
            let body = format!(r#"{{"Code":"{code}","Message":"非法手机号","RequestId":"r"}}"#);
            let o = aliyun_outcome(&reply(400, &body));
            assert_eq!(o, Outcome::Permanent(format!("aliyun {code}: 非法手机号")));
        }
        assert!(is_transient(&aliyun_outcome(&reply(
            503,
            "<html>busy</html>"
        ))));
        assert!(is_transient(&aliyun_outcome(&reply(
            500,
            r#"{"Code":"Whatever"}"#
        ))));
        assert!(is_transient(&aliyun_outcome(&reply(200, "not json"))));
        assert!(is_permanent(&aliyun_outcome(&reply(404, "not found"))));
    }

    // --- Tencent ----------------------------------------------------------------------------

    #[test]
    fn tencent_request_is_signed_and_complete() {
        let mut cfg = sms_config().tencent;
        cfg.base_url = "http://127.0.0.1:8443/".into();
        let p = TencentSms::new(&cfg, 5).expect("provider");
        let req = p
            .request(&message(), 1_709_164_800)
            .build()
            .expect("request");
        assert_eq!(req.method(), reqwest::Method::POST);
        assert_eq!(header(&req, "host"), "127.0.0.1:8443");
        assert_eq!(header(&req, "content-type"), TC3_CONTENT_TYPE);
        assert_eq!(header(&req, "x-tc-action"), "SendSms");
        assert_eq!(header(&req, "x-tc-version"), "2021-01-11");
        assert_eq!(header(&req, "x-tc-region"), "ap-guangzhou");
        assert_eq!(header(&req, "x-tc-timestamp"), "1709164800");
        let body = body_text(&req);
        let auth = header(&req, "authorization");
        assert!(
            auth.contains("Credential=AKIDfenghuo/2024-02-29/sms/tc3_request"),
            "{auth}"
        );
        assert!(sms_sign::tc3_verify(
            "AKIDfenghuo",
            "tencentKey",
            "127.0.0.1:8443",
            1_709_164_800,
            &body,
            auth
        ));
        assert!(!sms_sign::tc3_verify(
            "AKIDfenghuo",
            "tencentKey",
            "127.0.0.1",
            1_709_164_800,
            &body,
            auth
        ));
        let sent: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            sent,
            json!({
                "PhoneNumberSet": ["+8613800138000"],
                "SmsSdkAppId": "1400000000",
                "TemplateId": "123456",
                "SignName": "湖上乡应急办",
                "TemplateParamSet": ["暴雨红色预警：请立即转移。回复1确认"],
                "SessionContext": "dlv-42",
            })
        );
        assert!(
            body.contains("暴雨"),
            "UTF-8 is sent as is, not \\u-escaped"
        );
    }

    #[test]
    fn tencent_host_omits_default_port() {
        let p = TencentSms::new(&sms_config().tencent, 5).expect("provider");
        assert_eq!(p.host, "sms.tencentcloudapi.com");
        let mut cfg = sms_config().tencent;
        cfg.base_url = "https://sms.tencentcloudapi.com:443".into();
        assert_eq!(
            TencentSms::new(&cfg, 5).expect("provider").host,
            "sms.tencentcloudapi.com"
        );
    }

    #[test]
    fn tencent_outcomes() {
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619",
            "PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"dlv-42","Code":"Ok",
            "Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}"#;
        assert_eq!(
            tencent_outcome(&reply(200, ok)),
            sent("5000:1045710669157053657849499619")
        );
        let status = |code: &str| {
            format!(
                r#"{{"Response":{{"SendStatusSet":[{{"SerialNo":"","Code":"{code}","Message":"m"}}],"RequestId":"r"}}}}"#
            )
        };
        let error = |code: &str| {
            format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            )
        };
        for code in [
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "LimitExceeded.PhoneNumberDailyLimit",
            "InternalError.Timeout",
            "RequestLimitExceeded",
        ] {
            assert!(
                is_transient(&tencent_outcome(&reply(200, &status(code)))),
                "{code}"
            );
            assert!(
                is_transient(&tencent_outcome(&reply(200, &error(code)))),
                "{code}"
            );
        }
        for code in [
            "InvalidParameterValue.IncorrectPhoneNumber",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "AuthFailure.SignatureFailure",
            "InvalidParameter",
        ] {
            let o = tencent_outcome(&reply(200, &error(code)));
            assert_eq!(o, Outcome::Permanent(format!("tencent {code}: m")));
            assert!(
                is_permanent(&tencent_outcome(&reply(200, &status(code)))),
                "{code}"
            );
        }
        assert!(is_transient(&tencent_outcome(&reply(502, "bad gateway"))));
        assert!(is_transient(&tencent_outcome(&reply(
            200,
            r#"{"Response":{}}"#
        ))));
        assert!(is_permanent(&tencent_outcome(&reply(403, "forbidden"))));
    }

    // --- Twilio -----------------------------------------------------------------------------

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
        assert!(sms_sign::basic_auth_verify(
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

    // --- Webhook ----------------------------------------------------------------------------

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
        assert!(sms_sign::webhook_verify("whsec", sig, body.as_bytes()));
        assert!(!sms_sign::webhook_verify("other", sig, body.as_bytes()));
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

    #[test]
    fn clip_bounds_provider_text() {
        let long = "错".repeat(1000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_DETAIL_CHARS + 1);
        assert_eq!(clip("a\nb\r\n"), "a b");
    }

    // --- Inbound ----------------------------------------------------------------------------

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
                sms_sign::WEBHOOK_SIGNATURE_HEADER,
                &sms_sign::webhook_signature_header(secret, t, b),
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
            let v = sms_sign::webhook_signature_header(secret, t, body);
            h.insert(
                sms_sign::WEBHOOK_SIGNATURE_HEADER,
                HeaderValue::from_str(&v).expect("header"),
            );
            h
        };
        let good = signed("whsec", 1_700_000_000, body);
        let key = format!(
            "sig:1700000000.{}.0",
            sms_sign::webhook_signature("whsec", 1_700_000_000, body)
        );
        assert_eq!(
            inbound(&cfg, "webhook", "", &good, body, None),
            Ok(vec![from("+8613800138000", "收到，正在转移", &key)])
        );
        // The key is the signature recomputed: extra fields in the header do not make a new one.
        let padded = format!(
            "{},v2=zz,v1={}",
            sms_sign::webhook_signature_header("whsec", 1_700_000_000, body),
            "00".repeat(32)
        );
        let got = inbound(
            &cfg,
            "webhook",
            "",
            &with_header(sms_sign::WEBHOOK_SIGNATURE_HEADER, &padded),
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

//! A loopback stand-in for the voice providers (Aliyun 语音服务, Tencent 语音消息, Twilio Voice,
//! Fenghuo's voice webhook).
//!
//! It verifies every call request the way the provider documents it (Aliyun's RPC signature
//! with `SingleCallByTts`/`IvrCall`, Tencent's TC3 for service `vms`, Twilio's Basic auth and
//! TwiML, the webhook's HMAC) with the same verifiers the signers are tested with, refuses a
//! bad one as the provider would (and what the provider itself refuses: a TTS variable of 250
//! characters or more, a link in it, a reused Aliyun nonce), records the call, and plays back
//! what happens on the phone — a key pressed, picked up without a key, no answer, busy — to the
//! daemon's callback, signed as the provider (or, for Aliyun and Tencent, which sign nothing,
//! the relay in front of the daemon) signs it.
//!
//! Include it with `#[path = "support/voice_provider_sim.rs"] mod voice_provider_sim;`.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fenghuo::notify::delivery::sms::aliyun::aliyun_verify;
use fenghuo::notify::delivery::sms::inbound::twilio_request_signature;
use fenghuo::notify::delivery::sms::tencent::tc3_verify;
use fenghuo::notify::delivery::sms::twilio::basic_auth_verify;
use fenghuo::notify::delivery::sms::webhook::{
    WEBHOOK_SIGNATURE_HEADER, webhook_signature_header, webhook_verify,
};
use serde_json::{Value, json};

/// Which provider the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `IvrCall` with key 1 (an IVR start template configured).
    AliyunIvr,
    /// `SingleCallByTts`: read out, no key.
    AliyunTts,
    Tencent,
    Twilio,
    Webhook,
}

impl Kind {
    pub fn provider(self) -> &'static str {
        match self {
            Kind::AliyunIvr | Kind::AliyunTts => "aliyun",
            Kind::Tencent => "tencent",
            Kind::Twilio => "twilio",
            Kind::Webhook => "webhook",
        }
    }
}

/// The credentials it accepts: Aliyun AccessKeyId/Secret, Tencent SecretId/SecretKey, Twilio
/// AccountSid/AuthToken, the webhook's (unused id)/secret.
#[derive(Debug, Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

impl Creds {
    pub fn new(id: &str, secret: &str) -> Creds {
        Creds {
            id: id.into(),
            secret: secret.into(),
        }
    }
}

/// One call request as it reached the simulator.
#[derive(Debug, Clone)]
pub struct Call {
    /// The id the simulator gave the call (empty if refused).
    pub call_id: String,
    /// E.164 (Aliyun's national numbers get +86 back).
    pub to: String,
    /// What would be read out: the TTS variable, template parameter, `<Say>` or `text`.
    pub text: String,
    /// The API asked: SingleCallByTts, IvrCall, SendTtsVoice, Calls, webhook.
    pub action: String,
    /// OutId, SessionContext, the webhook's reference (Twilio carries none).
    pub reference: String,
    /// Twilio's `<Gather action>`, the webhook's `callback_url`: where the key goes.
    pub key_url: Option<String>,
    /// Twilio's StatusCallback, the webhook's `callback_url`.
    pub status_url: Option<String>,
    pub signature_ok: bool,
    pub accepted: bool,
    /// Why it was refused, as the provider would say.
    pub refused: Option<String>,
}

pub struct Sim {
    pub base_url: String,
    pub kind: Kind,
    pub creds: Creds,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    client: reqwest::Client,
}

struct Shared {
    kind: Kind,
    creds: Creds,
    state: Mutex<SimState>,
}

#[derive(Default)]
struct SimState {
    calls: Vec<Call>,
    rejected: usize,
    next_id: u64,
    /// Coming correctly signed requests to answer with the provider's flow control.
    limit_next: VecDeque<()>,
    nonces: HashSet<String>,
    /// Where the daemon really listens (callbacks are delivered there).
    daemon: Option<String>,
    /// The shared secret the relay in front of the daemon adds to Aliyun's and Tencent's
    /// callbacks.
    relay_secret: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub async fn start(kind: Kind, creds: Creds) -> Sim {
    // The client that plays receipts back needs a TLS provider chosen, as the daemon's does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let shared = Arc::new(Shared {
        kind,
        creds: creds.clone(),
        state: Mutex::new(SimState::default()),
    });
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base_url = match kind {
        Kind::Twilio => format!("http://{addr}"),
        Kind::Webhook => format!("http://{addr}/call"),
        _ => format!("http://{addr}/"),
    };
    Sim {
        base_url,
        kind,
        creds,
        shared,
        server,
        client: reqwest::Client::new(),
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The shared secret of Aliyun's and Tencent's callbacks in these tests.
pub const RELAY_SECRET: &str = "relay-secret";

impl Sim {
    /// Points `voice` at this simulator (and the callback secret the relay adds).
    pub fn configure(&self, voice: &mut fenghuo::notify::delivery::voice::VoiceConfig) {
        let (id, secret) = (self.creds.id.clone(), self.creds.secret.clone());
        voice.provider = self.kind.provider().into();
        voice.callback_token = RELAY_SECRET.into();
        self.shared.lock().relay_secret = RELAY_SECRET.into();
        match self.kind {
            Kind::AliyunIvr | Kind::AliyunTts => {
                voice.aliyun.base_url = self.base_url.clone();
                voice.aliyun.access_key_id = id;
                voice.aliyun.access_key_secret = secret;
                voice.aliyun.tts_code = "TTS_100001".into();
                if self.kind == Kind::AliyunIvr {
                    voice.aliyun.ivr_start_code = "TTS_200001".into();
                    voice.aliyun.ivr_confirm_code = "TTS_200002".into();
                    voice.aliyun.called_show_number = "059523281234".into();
                }
            }
            Kind::Tencent => {
                voice.tencent.base_url = self.base_url.clone();
                voice.tencent.secret_id = id;
                voice.tencent.secret_key = secret;
                voice.tencent.voice_sdk_app_id = "1400006666".into();
                voice.tencent.template_id = "4356".into();
            }
            Kind::Twilio => {
                voice.twilio.base_url = self.base_url.clone();
                voice.twilio.account_sid = id;
                voice.twilio.auth_token = secret;
                voice.twilio.from = "+14155550100".into();
            }
            Kind::Webhook => {
                voice.webhook.url = self.base_url.clone();
                voice.webhook.secret = secret;
            }
        }
    }

    /// Where the daemon listens: callbacks go there (as a proxy in front of it would forward
    /// them), while Twilio still signs the public URL it was given.
    pub fn deliver_to(&self, daemon_base: &str) {
        self.shared.lock().daemon = Some(daemon_base.trim_end_matches('/').to_string());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn accepted(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.accepted).collect()
    }

    /// Requests whose signature or credentials did not verify.
    pub fn rejected(&self) -> usize {
        self.shared.lock().rejected
    }

    /// Answers the next `n` correctly signed calls with the provider's flow control
    /// (Aliyun `isv.BUSINESS_LIMIT_CONTROL`, Tencent `LimitExceeded…`, Twilio/webhook 429).
    pub fn limit_next(&self, n: usize) {
        self.shared
            .lock()
            .limit_next
            .extend(std::iter::repeat_n((), n));
    }

    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?}: {} of {n} calls after {timeout:?}: {:?}",
                self.kind,
                accepted.len(),
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // --- What happens on the phone ----------------------------------------------------------

    /// The person picks up and presses `key`; the call then ends (25 s).
    pub async fn press(&self, call: &Call, key: &str) -> StatusCode {
        let first = self
            .post_key(call, key, &self.creds.secret.clone(), RELAY_SECRET)
            .await;
        if first != StatusCode::OK {
            return first;
        }
        self.post_status(call, Outcome::Listened, 25, Some(key))
            .await
    }

    /// A key press signed with the wrong secret (a forger who knows the call).
    pub async fn forged_press(&self, call: &Call, key: &str) -> StatusCode {
        self.post_key(call, key, "not-the-secret", "not-the-secret")
            .await
    }

    /// Picked up, listened, no key (40 s).
    pub async fn pick_up_no_key(&self, call: &Call) -> StatusCode {
        self.post_status(call, Outcome::Listened, 40, None).await
    }

    pub async fn no_answer(&self, call: &Call) -> StatusCode {
        self.post_status(call, Outcome::NoAnswer, 0, None).await
    }

    pub async fn busy(&self, call: &Call) -> StatusCode {
        self.post_status(call, Outcome::Busy, 0, None).await
    }

    fn daemon(&self) -> String {
        self.shared
            .lock()
            .daemon
            .clone()
            .expect("deliver_to(the daemon's base URL) first")
    }

    /// `url` (as the provider was told it) on the daemon's real address.
    fn on_daemon(&self, url: &str) -> String {
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        format!("{}{path}", self.daemon())
    }

    fn hook(&self) -> String {
        format!("{}/hooks/voice/{}", self.daemon(), self.kind.provider())
    }

    async fn post_json(&self, url: &str, body: String, header: (&str, String)) -> StatusCode {
        self.client
            .post(url)
            .header("content-type", "application/json")
            .header(header.0, header.1)
            .body(body)
            .send()
            .await
            .map(|r| r.status())
            .unwrap_or(StatusCode::BAD_GATEWAY)
    }

    async fn post_twilio(
        &self,
        signed_url: &str,
        params: &[(&str, String)],
        token: &str,
    ) -> StatusCode {
        let pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let signature = twilio_request_signature(token, signed_url, &pairs);
        self.client
            .post(self.on_daemon(signed_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
            .body(body)
            .send()
            .await
            .map(|r| r.status())
            .unwrap_or(StatusCode::BAD_GATEWAY)
    }

    /// The relay's authentication of Aliyun's and Tencent's callbacks: Aliyun's with the
    /// token header, Tencent's with an HMAC of the body (both ways the daemon accepts).
    fn relay_header(&self, body: &str, secret: &str) -> (&'static str, String) {
        match self.kind {
            Kind::Tencent => (
                WEBHOOK_SIGNATURE_HEADER,
                webhook_signature_header(secret, chrono::Utc::now().timestamp(), body.as_bytes()),
            ),
            _ => ("X-Fenghuo-Token", secret.to_string()),
        }
    }

    async fn post_key(&self, call: &Call, key: &str, secret: &str, relay: &str) -> StatusCode {
        let now = chrono::Utc::now();
        match self.kind {
            Kind::AliyunIvr | Kind::AliyunTts => {
                // VoiceCallReport: the DTMF message.
                let body = json!([{
                    "status_code": "300000",
                    "smart_status_code": "ANSWERED",
                    "dtmf": key,
                    "status_time": now.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "out_id": call.reference,
                    "call_id": call.call_id,
                }])
                .to_string();
                let h = self.relay_header(&body, relay);
                self.post_json(&self.hook(), body, h).await
            }
            Kind::Tencent => {
                let body = json!({"voicekey_callback": {
                    "call_from": "", "callid": call.call_id, "keypress": key,
                    "mobile": call.to.trim_start_matches("+86"), "nationcode": "86",
                }})
                .to_string();
                let h = self.relay_header(&body, relay);
                self.post_json(&self.hook(), body, h).await
            }
            Kind::Twilio => {
                let url = call.key_url.clone().expect("the <Gather> action");
                let params = [
                    ("AccountSid", self.creds.id.clone()),
                    ("CallSid", call.call_id.clone()),
                    ("CallStatus", "in-progress".to_string()),
                    ("Digits", key.to_string()),
                    ("From", "+14155550100".to_string()),
                    ("To", call.to.clone()),
                ];
                self.post_twilio(&url, &params, secret).await
            }
            Kind::Webhook => {
                let url = call.key_url.clone().expect("callback_url");
                let body =
                    json!({"call_id": call.call_id, "reference": call.reference, "digits": key})
                        .to_string();
                let sig = webhook_signature_header(secret, now.timestamp(), body.as_bytes());
                self.post_json(&self.on_daemon(&url), body, (WEBHOOK_SIGNATURE_HEADER, sig))
                    .await
            }
        }
    }

    async fn post_status(
        &self,
        call: &Call,
        o: Outcome,
        secs: i64,
        key: Option<&str>,
    ) -> StatusCode {
        let now = chrono::Utc::now();
        let secret = self.creds.secret.clone();
        match self.kind {
            Kind::AliyunIvr | Kind::AliyunTts => {
                // VoiceReport: the call record.
                let code = match o {
                    Outcome::Listened => "200000",
                    Outcome::NoAnswer => "200003",
                    Outcome::Busy => "200002",
                };
                let body = json!([{
                    "status_code": code,
                    "smart_status_code": "ANSWERED",
                    "hangup_direction": "用户",
                    "callee": call.to.trim_start_matches("+86"),
                    "duration": secs.to_string(),
                    "voice_type": "voice",
                    "end_time": now.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "call_id": call.call_id,
                    "caller": "059523281234",
                    "status_msg": "执行完成",
                    "out_id": call.reference,
                    "dtmf": key.unwrap_or(""),
                    "toll_type": "LOCAL",
                }])
                .to_string();
                let h = self.relay_header(&body, RELAY_SECRET);
                self.post_json(&self.hook(), body, h).await
            }
            Kind::Tencent => {
                let end = now.timestamp();
                let (result, accept) = match o {
                    Outcome::Listened => ("0", end - secs),
                    Outcome::NoAnswer => ("1", 0),
                    Outcome::Busy => ("2", 0),
                };
                let body = json!({"voiceprompt_callback": {
                    "result": result, "accept_time": accept.to_string(), "call_from": "",
                    "callid": call.call_id, "end_calltime": end.to_string(), "fee": "1",
                    "mobile": call.to.trim_start_matches("+86"), "nationcode": "86",
                    "start_calltime": (end - secs - 5).to_string(),
                }})
                .to_string();
                let h = self.relay_header(&body, RELAY_SECRET);
                self.post_json(&self.hook(), body, h).await
            }
            Kind::Twilio => {
                let url = call.status_url.clone().expect("StatusCallback");
                let status = match o {
                    Outcome::Listened => "completed",
                    Outcome::NoAnswer => "no-answer",
                    Outcome::Busy => "busy",
                };
                let params = [
                    ("AccountSid", self.creds.id.clone()),
                    ("CallSid", call.call_id.clone()),
                    ("CallStatus", status.to_string()),
                    ("CallDuration", secs.to_string()),
                    ("To", call.to.clone()),
                ];
                self.post_twilio(&url, &params, &secret).await
            }
            Kind::Webhook => {
                let url = call.status_url.clone().expect("callback_url");
                let status = match o {
                    Outcome::Listened => "completed",
                    Outcome::NoAnswer => "no_answer",
                    Outcome::Busy => "busy",
                };
                let body = json!({"call_id": call.call_id, "reference": call.reference,
                    "status": status, "duration": secs})
                .to_string();
                let sig = webhook_signature_header(&secret, now.timestamp(), body.as_bytes());
                self.post_json(&self.on_daemon(&url), body, (WEBHOOK_SIGNATURE_HEADER, sig))
                    .await
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Listened,
    NoAnswer,
    Busy,
}

// --- Receiving a call request -----------------------------------------------------------------

struct Incoming {
    to: String,
    text: String,
    action: String,
    reference: String,
    key_url: Option<String>,
    status_url: Option<String>,
    signature_ok: bool,
    /// Refused for what it carries (the provider's rules), not its signature.
    refused: Option<(&'static str, String)>,
}

fn decode_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn param(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// What Aliyun refuses in a TTS variable: 250 characters or more, or a link.
fn tts_rules(text: &str) -> Option<(&'static str, String)> {
    if text.chars().count() >= 250 {
        return Some((
            "isv.TEMPLATE_PARAMS_ILLEGAL",
            format!("变量超长：{} 字", text.chars().count()),
        ));
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("http") || lower.contains("www.") || lower.contains("://") {
        return Some(("isv.TEMPLATE_PARAMS_ILLEGAL", "变量中不允许包含链接".into()));
    }
    None
}

fn aliyun_incoming(s: &Shared, method: &Method, uri: &Uri, body: &[u8]) -> Incoming {
    let mut pairs = decode_form(uri.query().unwrap_or_default().as_bytes());
    if method == Method::POST {
        pairs.extend(decode_form(body));
    }
    let action = param(&pairs, "Action");
    let want = if s.kind == Kind::AliyunIvr {
        "IvrCall"
    } else {
        "SingleCallByTts"
    };
    let signature_ok = aliyun_verify(&s.creds.secret, method.as_str(), &pairs)
        && param(&pairs, "AccessKeyId") == s.creds.id
        && param(&pairs, "Version") == "2017-05-25"
        && action == want;
    let variable = if action == "IvrCall" {
        param(&pairs, "StartTtsParams")
    } else {
        param(&pairs, "TtsParam")
    };
    let text = serde_json::from_str::<Value>(&variable)
        .ok()
        .and_then(|v| v.get("content")?.as_str().map(str::to_string))
        .unwrap_or(variable);
    let number = param(&pairs, "CalledNumber");
    let mut refused = tts_rules(&text);
    if action == "IvrCall" && param(&pairs, "MenuKeyMap.1.Key") != "1" {
        refused = Some(("isv.MENU_KEY_MAP_ILLEGAL", "no key 1 in the menu".into()));
    }
    let out_id = param(&pairs, "OutId");
    if out_id.len() > 15 {
        refused = Some(("isv.OUT_ID_OVER_LIMIT", "OutId is 1–15 bytes".into()));
    }
    // Aliyun refuses a nonce seen before.
    let nonce = param(&pairs, "SignatureNonce");
    if signature_ok && !s.lock().nonces.insert(nonce) {
        refused = Some((
            "SignatureNonceUsed",
            "Specified signature nonce was used already.".into(),
        ));
    }
    Incoming {
        to: if number.starts_with('1') && number.len() == 11 {
            format!("+86{number}")
        } else {
            format!("+{number}")
        },
        text,
        action,
        reference: out_id,
        key_url: None,
        status_url: None,
        signature_ok,
        refused,
    }
}

fn tencent_incoming(s: &Shared, method: &Method, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let text_body = std::str::from_utf8(body).unwrap_or_default();
    let authorization = header(headers, "authorization");
    let signature_ok = method == Method::POST
        && header(headers, "x-tc-action") == "SendTtsVoice"
        && header(headers, "x-tc-version") == "2020-09-02"
        && header(headers, "content-type") == "application/json; charset=utf-8"
        && authorization.contains("/vms/tc3_request")
        && header(headers, "x-tc-timestamp")
            .parse::<i64>()
            .is_ok_and(|ts| {
                tc3_verify(
                    &s.creds.id,
                    &s.creds.secret,
                    header(headers, "host"),
                    ts,
                    text_body,
                    authorization,
                )
            });
    let v: Value = serde_json::from_str(text_body).unwrap_or(Value::Null);
    let text = v["TemplateParamSet"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refused = if text.chars().count() > 350 {
        Some((
            "InvalidParameterValue.ContentTooLong",
            "语音消息内容超过350字".into(),
        ))
    } else {
        None
    };
    Incoming {
        to: v["CalledNumber"].as_str().unwrap_or_default().to_string(),
        text,
        action: "SendTtsVoice".into(),
        reference: v["SessionContext"].as_str().unwrap_or_default().to_string(),
        key_url: None,
        status_url: None,
        signature_ok,
        refused,
    }
}

/// The value of `name="…"` in a tag, entities decoded.
fn attr(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("{name}=\""))? + name.len() + 2;
    let end = xml[start..].find('"')? + start;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn twilio_incoming(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Incoming {
    let form = decode_form(body);
    let twiml = param(&form, "Twiml");
    let path = format!("/2010-04-01/Accounts/{}/Calls.json", s.creds.id);
    let signature_ok = method == Method::POST
        && uri.path() == path
        && basic_auth_verify(
            header(headers, "authorization"),
            &s.creds.id,
            &s.creds.secret,
        );
    // The text is what `<Say language="zh-CN">` reads, inside a one-digit `<Gather>`.
    let say_open = "<Say language=\"zh-CN\"";
    let text = twiml
        .find(say_open)
        .and_then(|i| {
            let rest = &twiml[i..];
            let start = rest.find('>')? + 1;
            let end = rest.find("</Say>")?;
            Some(unescape(&rest[start..end]))
        })
        .unwrap_or_default();
    let refused = if !twiml.contains("<Gather") || attr(&twiml, "numDigits").as_deref() != Some("1")
    {
        Some(("21220", "TwiML has no one-digit <Gather>".into()))
    } else {
        None
    };
    Incoming {
        to: param(&form, "To"),
        text,
        action: "Calls".into(),
        reference: String::new(),
        key_url: attr(&twiml, "action"),
        status_url: Some(param(&form, "StatusCallback")).filter(|u| !u.is_empty()),
        signature_ok,
        refused,
    }
}

fn webhook_incoming(s: &Shared, method: &Method, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let signature_ok = method == Method::POST
        && webhook_verify(
            &s.creds.secret,
            header(headers, WEBHOOK_SIGNATURE_HEADER),
            body,
        );
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let get = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let callback = Some(get("callback_url")).filter(|u| !u.is_empty());
    Incoming {
        to: get("to"),
        text: get("text"),
        action: "webhook".into(),
        reference: get("reference"),
        key_url: callback.clone(),
        status_url: callback,
        signature_ok,
        refused: None,
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = match s.kind {
        Kind::AliyunIvr | Kind::AliyunTts => aliyun_incoming(&s, &method, &uri, &body),
        Kind::Tencent => tencent_incoming(&s, &method, &headers, &body),
        Kind::Twilio => twilio_incoming(&s, &method, &uri, &headers, &body),
        Kind::Webhook => webhook_incoming(&s, &method, &headers, &body),
    };
    let (verdict, call_id) = {
        let mut st = s.lock();
        let verdict = if !incoming.signature_ok {
            st.rejected += 1;
            Verdict::Rejected
        } else if let Some((code, message)) = incoming.refused.clone() {
            Verdict::Refused(code, message)
        } else if st.limit_next.pop_front().is_some() {
            Verdict::Limited
        } else {
            st.next_id += 1;
            Verdict::Accepted
        };
        let call_id = match (verdict_ok(&verdict), s.kind) {
            (false, _) => String::new(),
            (true, Kind::AliyunIvr | Kind::AliyunTts) => {
                format!("11601235{:04}^1000{}", st.next_id, st.next_id)
            }
            (true, Kind::Tencent) => format!("sim-vms-{:08}-4c4e", st.next_id),
            (true, Kind::Twilio) => format!("CA{:032}", st.next_id),
            (true, Kind::Webhook) => format!("gw-{}", st.next_id),
        };
        st.calls.push(Call {
            call_id: call_id.clone(),
            to: incoming.to.clone(),
            text: incoming.text.clone(),
            action: incoming.action.clone(),
            reference: incoming.reference.clone(),
            key_url: incoming.key_url.clone(),
            status_url: incoming.status_url.clone(),
            signature_ok: incoming.signature_ok,
            accepted: verdict_ok(&verdict),
            refused: match &verdict {
                Verdict::Refused(c, m) => Some(format!("{c}: {m}")),
                Verdict::Limited => Some("flow control".into()),
                Verdict::Rejected => Some("signature".into()),
                Verdict::Accepted => None,
            },
        });
        (verdict, call_id)
    };
    answer(s.kind, verdict, &call_id, &incoming)
}

enum Verdict {
    Rejected,
    Refused(&'static str, String),
    Limited,
    Accepted,
}

fn verdict_ok(v: &Verdict) -> bool {
    matches!(v, Verdict::Accepted)
}

fn answer(kind: Kind, verdict: Verdict, call_id: &str, incoming: &Incoming) -> Response {
    let json = |status: u16, v: Value| {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(v),
        )
            .into_response()
    };
    match kind {
        Kind::AliyunIvr | Kind::AliyunTts => match verdict {
            Verdict::Accepted => json(
                200,
                json!({"Code": "OK", "Message": "OK", "RequestId": "sim", "CallId": call_id}),
            ),
            Verdict::Rejected => json(
                403,
                json!({"Code": "SignatureDoesNotMatch", "Message": "Specified signature does not match our calculation.", "RequestId": "sim"}),
            ),
            Verdict::Limited => json(
                200,
                json!({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码分钟级流控", "RequestId": "sim"}),
            ),
            Verdict::Refused(code, message) => json(
                200,
                json!({"Code": code, "Message": message, "RequestId": "sim"}),
            ),
        },
        Kind::Tencent => {
            let error = |code: &str, message: &str| {
                json(
                    200,
                    json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "sim"}}),
                )
            };
            match verdict {
                Verdict::Accepted => json(
                    200,
                    json!({"Response": {"SendStatus": {"CallId": call_id, "SessionContext": incoming.reference}, "RequestId": "sim"}}),
                ),
                Verdict::Rejected => error(
                    "AuthFailure.SignatureFailure",
                    "The provided credentials could not be validated.",
                ),
                Verdict::Limited => error("LimitExceeded.PhoneNumberLimit", "number call limit"),
                Verdict::Refused(code, message) => error(code, &message),
            }
        }
        Kind::Twilio => match verdict {
            Verdict::Accepted => json(
                201,
                json!({"sid": call_id, "status": "queued", "to": incoming.to}),
            ),
            Verdict::Rejected => json(
                401,
                json!({"code": 20003, "message": "Authenticate", "status": 401}),
            ),
            Verdict::Limited => json(
                429,
                json!({"code": 20429, "message": "Too Many Requests", "status": 429}),
            ),
            Verdict::Refused(code, message) => json(
                400,
                json!({"code": code, "message": message, "status": 400}),
            ),
        },
        Kind::Webhook => match verdict {
            Verdict::Accepted => json(200, json!({"call_id": call_id})),
            Verdict::Rejected => json(403, json!({"error": "bad signature"})),
            Verdict::Limited => json(429, json!({"error": "slow down"})),
            Verdict::Refused(_, message) => json(400, json!({"error": message})),
        },
    }
}

//! A loopback stand-in for the SMS providers (Aliyun, Tencent Cloud, Twilio, Fenghuo's webhook).
//!
//! It verifies the signature of every real request with the same verifiers the
//! providers' schemes are tested with, records what arrived, and answers the way the real
//! provider would: success, a scripted failure (`fail_next`, `fail_number`), or an
//! authentication error.
//!
//! Include it from an integration test with
//! `#[path = "support/sms_provider_sim.rs"] mod sms_provider_sim;`.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fenghuo::notify::delivery::sms::aliyun::aliyun_verify;
use fenghuo::notify::delivery::sms::tencent::tc3_verify;
use fenghuo::notify::delivery::sms::twilio::basic_auth_verify;
use fenghuo::notify::delivery::sms::webhook::{WEBHOOK_SIGNATURE_HEADER, webhook_verify};
use serde_json::{Value, json};

/// Which provider the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aliyun,
    Tencent,
    Twilio,
    Webhook,
}

/// The credentials the simulator accepts: Aliyun AccessKeyId/AccessKeySecret, Tencent
/// SecretId/SecretKey, Twilio AccountSid/AuthToken, webhook (unused id)/secret.
#[derive(Debug, Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

impl Creds {
    pub fn new(id: &str, secret: &str) -> Creds {
        Creds {
            id: id.to_string(),
            secret: secret.to_string(),
        }
    }
}

/// One message as it reached the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// E.164. Aliyun's national numbers get `+86` back when they look like a Chinese mobile
    /// (11 digits, `1[3-9]…`), otherwise just a `+`.
    pub to: String,
    /// The text as the provider got it: Aliyun's TemplateParam `content`, Tencent's first
    /// TemplateParamSet entry (both without the signature), Twilio's Body, the webhook's text.
    pub text: String,
    pub signature_ok: bool,
    /// OutId (Aliyun), SessionContext (Tencent), `reference` (webhook); empty for Twilio,
    /// whose request carries none.
    pub reference: String,
    /// Whether the simulator answered that it sent the message.
    pub accepted: bool,
    /// The message id it answered with (BizId, SerialNo, sid, id), when accepted: what its
    /// delivery receipt names.
    pub provider_id: Option<String>,
    /// Where Twilio was asked to post the receipt (`StatusCallback`).
    pub status_callback: Option<String>,
}

/// A running simulator; stopped when dropped.
pub struct Sim {
    /// What to configure as the provider's base URL / webhook URL.
    pub base_url: String,
    pub kind: Kind,
    pub creds: Creds,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    kind: Kind,
    creds: Creds,
    state: Mutex<SimState>,
}

#[derive(Default)]
struct SimState {
    received: Vec<Received>,
    /// HTTP statuses to answer with, one per coming (correctly signed) request.
    failures: VecDeque<u16>,
    /// E.164 numbers every message to which fails: status and error text.
    failing_numbers: HashMap<String, (u16, String)>,
    requests: usize,
    rejected: usize,
    next_id: u64,
    /// Take requests and never answer them (a hung provider).
    hang: bool,
    /// Fail every correctly signed request with this status until [`Sim::recover`].
    down: Option<u16>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panicking test thread must not hide what the simulator saw.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub async fn start(kind: Kind, creds: Creds) -> Sim {
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
        Kind::Aliyun | Kind::Tencent => format!("http://{addr}/"),
        // The client appends /2010-04-01/Accounts/… itself.
        Kind::Twilio => format!("http://{addr}"),
        Kind::Webhook => format!("http://{addr}/sms"),
    };
    Sim {
        base_url,
        kind,
        creds,
        shared,
        server,
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Sim {
    /// Every message that arrived, including rejected and failed ones, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Only the messages the simulator answered as sent.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    /// Makes the next `n` correctly signed requests fail. For Aliyun and Tencent, which report
    /// errors inside an HTTP 200, 429 becomes the provider's throttling code and 400 a permanent
    /// error code; any other status (e.g. 500) is answered as that HTTP status.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.shared
            .lock()
            .failures
            .extend(std::iter::repeat_n(status, n));
    }

    /// Answers the failures queued by [`Sim::fail_next`] no more, and ends [`Sim::down`]:
    /// the provider is back.
    pub fn recover(&self) {
        let mut s = self.shared.lock();
        s.failures.clear();
        s.down = None;
    }

    /// From now on fails every correctly signed request with `status` (as in
    /// [`Sim::fail_next`]) until [`Sim::recover`].
    pub fn down(&self, status: u16) {
        self.shared.lock().down = Some(status);
    }

    /// How many times each reference (our delivery id) was accepted.
    pub fn accepted_by_reference(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for r in self.accepted() {
            *out.entry(r.reference).or_insert(0) += 1;
        }
        out
    }

    /// From now on takes every request and never answers it (or, with
    /// false, answers again).
    pub fn hang(&self, on: bool) {
        self.shared.lock().hang = on;
    }

    /// Makes every correctly signed request to `to` (E.164) fail with
    /// `status`, whatever else is scripted. The webhook answers `message` as
    /// its error text; the other providers answer as in [`Sim::fail_next`].
    pub fn fail_number(&self, to: &str, status: u16, message: &str) {
        self.shared
            .lock()
            .failing_numbers
            .insert(to.to_string(), (status, message.to_string()));
    }

    /// Requests whose signature (or credentials) did not verify; each was refused.
    pub fn rejected(&self) -> usize {
        self.shared.lock().rejected
    }

    /// All HTTP requests seen, whatever their fate.
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }

    /// Waits until at least `n` messages were accepted (for senders that run in the
    /// background), or panics after `timeout`.
    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?} simulator: {} of {n} messages accepted after {timeout:?}; received: {:?}",
                self.kind,
                accepted.len(),
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The provider's name in the configuration.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Aliyun => "aliyun",
            Kind::Tencent => "tencent",
            Kind::Twilio => "twilio",
            Kind::Webhook => "webhook",
        }
    }

    /// Points `sms` at this simulator with its credentials (and placeholder sign name and
    /// template, which the simulator does not check).
    pub fn configure(&self, sms: &mut fenghuo::config::SmsConfig) {
        self.configure_section(sms);
        sms.provider = self.name().into();
    }

    /// Adds this simulator as the next fallback path (`sms.fallback`), with its section.
    pub fn configure_as_fallback(&self, sms: &mut fenghuo::config::SmsConfig) {
        self.configure_section(sms);
        sms.fallback.push(self.name().into());
    }

    /// Fills in `[sms.<provider>]` for this simulator, leaving the paths as they are.
    pub fn configure_section(&self, sms: &mut fenghuo::config::SmsConfig) {
        let (id, secret) = (self.creds.id.clone(), self.creds.secret.clone());
        match self.kind {
            Kind::Aliyun => {
                sms.aliyun.base_url = self.base_url.clone();
                sms.aliyun.access_key_id = id;
                sms.aliyun.access_key_secret = secret;
                sms.aliyun.sign_name = "湖上乡应急办".into();
                sms.aliyun.template_code = "SMS_000000001".into();
            }
            Kind::Tencent => {
                sms.tencent.base_url = self.base_url.clone();
                sms.tencent.secret_id = id;
                sms.tencent.secret_key = secret;
                sms.tencent.sdk_app_id = "1400000000".into();
                sms.tencent.sign_name = "湖上乡应急办".into();
                sms.tencent.template_id = "100001".into();
            }
            Kind::Twilio => {
                sms.twilio.base_url = self.base_url.clone();
                sms.twilio.account_sid = id;
                sms.twilio.auth_token = secret;
                sms.twilio.from = "+14155550100".into();
            }
            Kind::Webhook => {
                sms.webhook.url = self.base_url.clone();
                sms.webhook.secret = secret;
            }
        }
    }
}

/// What a handler learnt from one request before the simulator decides how to answer.
struct Incoming {
    to: Vec<String>,
    text: String,
    reference: String,
    signature_ok: bool,
    status_callback: Option<String>,
}

enum Verdict {
    Rejected,
    /// The HTTP status to fail with, and the error text (webhook only).
    Failed(u16, Option<String>),
    Accepted(u64),
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = match shared.kind {
        Kind::Aliyun => aliyun_incoming(&shared.creds, &method, &uri, &body),
        Kind::Tencent => tencent_incoming(&shared.creds, &method, &headers, &body),
        Kind::Twilio => twilio_incoming(&shared.creds, &method, &uri, &headers, &body),
        Kind::Webhook => webhook_incoming(&shared.creds, &method, &headers, &body),
    };
    if shared.lock().hang {
        shared.lock().requests += 1;
        std::future::pending::<()>().await;
    }
    let verdict = {
        let mut state = shared.lock();
        state.requests += 1;
        let verdict = if !incoming.signature_ok {
            state.rejected += 1;
            Verdict::Rejected
        } else if let Some((status, message)) = incoming
            .to
            .iter()
            .find_map(|to| state.failing_numbers.get(to).cloned())
        {
            Verdict::Failed(status, Some(message))
        } else if let Some(status) = state.failures.pop_front() {
            Verdict::Failed(status, None)
        } else if let Some(status) = state.down {
            Verdict::Failed(status, None)
        } else {
            state.next_id += 1;
            Verdict::Accepted(state.next_id)
        };
        let accepted = matches!(verdict, Verdict::Accepted(_));
        for (i, to) in incoming.to.iter().enumerate() {
            let provider_id = match verdict {
                Verdict::Accepted(id) => Some(message_id(shared.kind, id, i)),
                _ => None,
            };
            state.received.push(Received {
                to: to.clone(),
                text: incoming.text.clone(),
                signature_ok: incoming.signature_ok,
                reference: incoming.reference.clone(),
                accepted,
                provider_id,
                status_callback: incoming.status_callback.clone(),
            });
        }
        verdict
    };
    match shared.kind {
        Kind::Aliyun => aliyun_answer(verdict),
        Kind::Tencent => tencent_answer(verdict, &incoming),
        Kind::Twilio => twilio_answer(verdict, &incoming),
        Kind::Webhook => webhook_answer(verdict),
    }
}

/// The id the simulator answers an accepted message with (the `i`th number of a request).
fn message_id(kind: Kind, id: u64, i: usize) -> String {
    match kind {
        Kind::Aliyun => format!("sim-biz-{id}"),
        Kind::Tencent => format!("sim-serial-{id}-{i}"),
        Kind::Twilio => format!("SMsim{id:029}"),
        Kind::Webhook => format!("sim-{id}"),
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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

// --- Aliyun ----------------------------------------------------------------------------------

fn aliyun_e164(number: &str) -> String {
    let b = number.as_bytes();
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) {
        format!("+86{number}")
    } else {
        format!("+{number}")
    }
}

fn aliyun_incoming(creds: &Creds, method: &Method, uri: &Uri, body: &[u8]) -> Incoming {
    // Aliyun takes the parameters in the query (GET) or a form body (POST).
    let mut pairs = decode_form(uri.query().unwrap_or_default().as_bytes());
    if method == Method::POST {
        pairs.extend(decode_form(body));
    }
    let signature_ok = aliyun_verify(&creds.secret, method.as_str(), &pairs)
        && param(&pairs, "AccessKeyId") == creds.id
        && param(&pairs, "Action") == "SendSms";
    let template_param = param(&pairs, "TemplateParam");
    let text = serde_json::from_str::<Value>(&template_param)
        .ok()
        .and_then(|v| v.get("content")?.as_str().map(str::to_string))
        .unwrap_or(template_param);
    Incoming {
        to: param(&pairs, "PhoneNumbers")
            .split(',')
            .filter(|n| !n.is_empty())
            .map(aliyun_e164)
            .collect(),
        text,
        reference: param(&pairs, "OutId"),
        signature_ok,
        status_callback: None,
    }
}

fn aliyun_answer(verdict: Verdict) -> Response {
    let (http, code, message) = match verdict {
        Verdict::Rejected => (
            403,
            "SignatureDoesNotMatch",
            "Specified signature does not match our calculation.",
        ),
        Verdict::Failed(429, _) => (200, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控"),
        Verdict::Failed(400, _) => (200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"),
        Verdict::Failed(other, _) if other >= 500 => (other, "InternalError", "simulated failure"),
        Verdict::Failed(other, _) => (other, "SimulatedFailure", "simulated failure"),
        Verdict::Accepted(id) => {
            let body = json!({
                "Code": "OK",
                "Message": "OK",
                "BizId": message_id(Kind::Aliyun, id, 0),
                "RequestId": format!("sim-request-{id}"),
            });
            return (StatusCode::OK, axum::Json(body)).into_response();
        }
    };
    let body = json!({ "Code": code, "Message": message, "RequestId": "sim-request" });
    (status(http), axum::Json(body)).into_response()
}

// --- Tencent ---------------------------------------------------------------------------------

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn tencent_incoming(creds: &Creds, method: &Method, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let text_body = std::str::from_utf8(body).unwrap_or_default();
    let authorization = header(headers, "authorization");
    let signature_ok = method == Method::POST
        && header(headers, "x-tc-action") == "SendSms"
        && header(headers, "content-type") == "application/json; charset=utf-8"
        && authorization.contains("/sms/tc3_request")
        && header(headers, "x-tc-timestamp")
            .parse::<i64>()
            .is_ok_and(|ts| {
                tc3_verify(
                    &creds.id,
                    &creds.secret,
                    header(headers, "host"),
                    ts,
                    text_body,
                    authorization,
                )
            });
    let json: Value = serde_json::from_str(text_body).unwrap_or(Value::Null);
    let strings = |name: &str| -> Vec<String> {
        json.get(name)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Incoming {
        to: strings("PhoneNumberSet"),
        text: strings("TemplateParamSet").join(""),
        reference: json
            .get("SessionContext")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        signature_ok,
        status_callback: None,
    }
}

fn tencent_answer(verdict: Verdict, incoming: &Incoming) -> Response {
    // Tencent answers HTTP 200 for request errors too, with Response.Error.
    let error = |code: &str, message: &str| {
        json!({ "Response": {
            "Error": { "Code": code, "Message": message },
            "RequestId": "sim-request",
        }})
    };
    let statuses = |code: &str, message: &str, id: u64| -> Value {
        let serial = |i: usize| match code {
            "Ok" => message_id(Kind::Tencent, id, i),
            _ => String::new(),
        };
        let set: Vec<Value> = incoming
            .to
            .iter()
            .enumerate()
            .map(|(i, to)| {
                json!({
                    "SerialNo": serial(i),
                    "PhoneNumber": to,
                    "Fee": i64::from(code == "Ok"),
                    "SessionContext": incoming.reference,
                    "Code": code,
                    "Message": message,
                    "IsoCode": "CN",
                })
            })
            .collect();
        json!({ "Response": { "SendStatusSet": set, "RequestId": format!("sim-request-{id}") } })
    };
    let (http, body) = match verdict {
        Verdict::Rejected => (
            200,
            error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated.",
            ),
        ),
        Verdict::Failed(429, _) => (
            200,
            statuses(
                "LimitExceeded.PhoneNumberThirtySecondLimit",
                "the number of sms messages sent from a single mobile number within 30 seconds exceeds the upper limit",
                0,
            ),
        ),
        Verdict::Failed(400, _) => (
            200,
            statuses(
                "InvalidParameterValue.IncorrectPhoneNumber",
                "incorrect phone number",
                0,
            ),
        ),
        Verdict::Failed(other, _) => (other, error("InternalError", "simulated failure")),
        Verdict::Accepted(id) => (200, statuses("Ok", "send success", id)),
    };
    (status(http), axum::Json(body)).into_response()
}

// --- Twilio ----------------------------------------------------------------------------------

fn twilio_incoming(
    creds: &Creds,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Incoming {
    let form = decode_form(body);
    let path = format!("/2010-04-01/Accounts/{}/Messages.json", creds.id);
    let signature_ok = method == Method::POST
        && uri.path() == path
        && basic_auth_verify(header(headers, "authorization"), &creds.id, &creds.secret);
    Incoming {
        to: vec![param(&form, "To")],
        text: param(&form, "Body"),
        reference: String::new(),
        signature_ok,
        status_callback: Some(param(&form, "StatusCallback")).filter(|u| !u.is_empty()),
    }
}

fn twilio_answer(verdict: Verdict, incoming: &Incoming) -> Response {
    let error = |http: u16, code: u32, message: &str| {
        let body = json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": http,
        });
        (status(http), axum::Json(body)).into_response()
    };
    match verdict {
        Verdict::Rejected => error(401, 20003, "Authenticate"),
        Verdict::Failed(429, _) => error(429, 20429, "Too Many Requests"),
        Verdict::Failed(400, _) => {
            error(400, 21211, "The 'To' number is not a valid phone number.")
        }
        Verdict::Failed(other, _) => error(other, 20500, "Internal Server Error"),
        Verdict::Accepted(id) => {
            let body = json!({
                "sid": message_id(Kind::Twilio, id, 0),
                "status": "queued",
                "to": incoming.to.first(),
                "body": incoming.text,
                "error_code": null,
                "error_message": null,
            });
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
    }
}

// --- Webhook ---------------------------------------------------------------------------------

fn webhook_incoming(creds: &Creds, method: &Method, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let signature_ok = method == Method::POST
        && webhook_verify(
            &creds.secret,
            header(headers, WEBHOOK_SIGNATURE_HEADER),
            body,
        );
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Incoming {
        to: vec![field("to")],
        text: field("text"),
        reference: field("reference"),
        signature_ok,
        status_callback: None,
    }
}

fn webhook_answer(verdict: Verdict) -> Response {
    match verdict {
        Verdict::Rejected => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "error": "bad signature" })),
        )
            .into_response(),
        Verdict::Failed(code, message) => (
            status(code),
            axum::Json(json!({ "error": message.as_deref().unwrap_or("simulated failure") })),
        )
            .into_response(),
        Verdict::Accepted(id) => {
            axum::Json(json!({ "id": message_id(Kind::Webhook, id, 0) })).into_response()
        }
    }
}

// --- Delivery receipts -----------------------------------------------------------------------

/// One receipt the simulator plays back: the message id it answered, whether the handset got
/// it, and the provider's code.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub provider_id: String,
    pub delivered: bool,
    pub code: String,
}

impl Sim {
    /// Receipts for every accepted message whose reference `pick` chooses (delivered or not,
    /// and the code), in the provider's own shape.
    pub fn receipts_for(
        &self,
        pick: impl Fn(&Received) -> Option<(bool, &'static str)>,
    ) -> Vec<Receipt> {
        self.accepted()
            .iter()
            .filter_map(|r| {
                let (delivered, code) = pick(r)?;
                Some(Receipt {
                    provider_id: r.provider_id.clone()?,
                    delivered,
                    code: code.to_string(),
                })
            })
            .collect()
    }

    /// Posts `receipts` to the daemon as the provider would, signed with `secret`: Aliyun and
    /// Tencent through the relay's `X-Fenghuo-Signature` HMAC keyed with `sms.inbound_token`,
    /// Twilio with `X-Twilio-Signature` (its auth token) to each message's `StatusCallback`,
    /// the webhook with `X-Fenghuo-Signature` (its secret). Returns each answer's status.
    pub async fn play_receipts(
        &self,
        daemon: &str,
        secret: &str,
        receipts: &[Receipt],
    ) -> Vec<StatusCode> {
        let client = reqwest::Client::new();
        let url = format!("{daemon}/hooks/sms/{}/receipts", self.name());
        let mut out = Vec::new();
        match self.kind {
            Kind::Twilio => {
                for r in receipts {
                    // Twilio signs the StatusCallback it was given (the daemon's public
                    // address); the request reaches the daemon itself, as through its proxy.
                    let signed_url = self
                        .received()
                        .into_iter()
                        .find(|x| x.provider_id.as_deref() == Some(r.provider_id.as_str()))
                        .and_then(|x| x.status_callback)
                        .unwrap_or_else(|| url.clone());
                    let status = if r.delivered {
                        "delivered"
                    } else {
                        "undelivered"
                    };
                    let mut params = vec![
                        ("MessageSid".to_string(), r.provider_id.clone()),
                        ("MessageStatus".to_string(), status.to_string()),
                        ("AccountSid".to_string(), self.creds.id.clone()),
                    ];
                    if !r.delivered {
                        params.push(("ErrorCode".to_string(), r.code.clone()));
                    }
                    let sig = fenghuo::notify::delivery::sms::inbound::twilio_request_signature(
                        secret,
                        &signed_url,
                        &params,
                    );
                    let body: String = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&params)
                        .finish();
                    let resp = client
                        .post(&url)
                        .header("X-Twilio-Signature", sig)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await
                        .expect("post a receipt");
                    out.push(resp.status());
                }
            }
            _ => {
                let items: Vec<Value> = receipts
                    .iter()
                    .map(|r| match self.kind {
                        Kind::Aliyun => json!({
                            "phone_number": "13800138000", "send_time": "2024-12-01 09:00:00",
                            "report_time": "2024-12-01 09:00:08", "success": r.delivered,
                            "err_code": r.code, "err_msg": if r.delivered { "用户接收成功" } else { "用户接收失败" },
                            "sms_size": "1", "biz_id": r.provider_id, "out_id": "",
                        }),
                        Kind::Tencent => json!({
                            "user_receive_time": "2024-12-01 09:00:08", "nationcode": "86",
                            "mobile": "13800138000",
                            "report_status": if r.delivered { "SUCCESS" } else { "FAIL" },
                            "errmsg": r.code, "description": "", "sid": r.provider_id,
                        }),
                        _ => json!({
                            "id": r.provider_id,
                            "status": if r.delivered { "delivered" } else { "failed" },
                            "code": r.code,
                        }),
                    })
                    .collect();
                let body = Value::Array(items).to_string();
                let sig = fenghuo::notify::delivery::sms::webhook::webhook_signature_header(
                    secret,
                    chrono::Utc::now().timestamp(),
                    body.as_bytes(),
                );
                let resp = client
                    .post(&url)
                    .header(WEBHOOK_SIGNATURE_HEADER, sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("post receipts");
                out.push(resp.status());
            }
        }
        out
    }
}

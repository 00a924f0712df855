//! What a channel is given and what it answers. Channels never touch the
//! database: the outbox worker records the outcome.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// How a notice reaches a person. One type for hand-sent notices, plan rules and the outbox;
/// the names are those of the API, the plan files and `deliveries.channel`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// The result of one send attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the provider / SMTP server, with its message id.
    Sent { provider_id: String },
    /// Worth retrying later: SMTP 4xx, HTTP 429/5xx, timeouts, connection errors.
    Transient(String),
    /// Will never succeed as is: bad number, 4xx rejections, SMTP 5xx.
    Permanent(String),
}

/// One SMS, fully rendered.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    /// Our delivery id, sent as the provider's reference (OutId, SessionContext …).
    pub reference: String,
    /// E.164, e.g. +8613800138000.
    pub to: String,
    /// The full text as the phone shows it, signature 【…】 first.
    pub text: String,
    /// The same text without the signature, for providers that add the
    /// signature themselves from their own SignName setting (Aliyun, Tencent).
    pub text_without_signature: String,
}

/// One e-mail, fully rendered.
#[derive(Debug, Clone)]
pub struct EmailMessage {
    pub reference: String,
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// An SMS provider. Implementations build and sign the provider's request;
/// boxed futures keep the trait usable as `dyn SmsProvider`.
pub trait SmsProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, msg: &'a SmsMessage) -> SendFuture<'a>;
    /// Whether a passing failure means the whole channel is down (the outbox's circuit
    /// breaker counts it): yes for one provider; for ordered paths only once every path is
    /// failing (`paths::Failover`).
    fn all_paths_failing(&self) -> bool {
        true
    }
}

/// An e-mail sender (SMTP or spool).
pub trait EmailSender: Send + Sync {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, msg: &'a EmailMessage) -> SendFuture<'a>;
}

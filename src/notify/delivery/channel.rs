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
    /// A phone call read out by the provider's text-to-speech (语音电话); a key "1" answers.
    Voice,
}

impl Channel {
    /// Every channel, in the order lists, the overview and the metrics show them.
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Voice => "voice",
        }
    }

    /// A channel by its stored name (`deliveries.channel`, a plan's or a form's value).
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The recipient's column the channel reaches them at: a call dials the same number an SMS
    /// goes to.
    pub fn address_column(self) -> &'static str {
        match self {
            Channel::Sms | Channel::Voice => "phone",
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
    /// Not tried now: a limit (a provider's calls per number) allows it at `until` (UTC ms).
    /// Queued again for then, without counting as an attempt or a failure; `reason` says
    /// which limit, in words the office reads on the notice's page.
    Postponed { until: i64, reason: String },
    /// Not sent, and never to be: no longer needed (a call to someone who has answered since
    /// it was queued). Recorded as cancelled with the reason; not an attempt.
    Cancelled(String),
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

/// One phone call, fully rendered.
#[derive(Debug, Clone)]
pub struct VoiceMessage {
    /// Our delivery id, sent as the provider's reference (OutId, SessionContext …).
    pub reference: String,
    /// E.164, e.g. +8613800138000.
    pub to: String,
    /// What is read out, as one text (`notify::delivery::voice::spoken`): no links, no roman
    /// numerals, under the template variables' limit, ending with the key instruction.
    pub text: String,
    /// Whether the call asks for a key press (收到请按1): the provider must be able to
    /// report it back.
    pub asks_key: bool,
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

//! Notices: accepting them (alerts), delivering them (outbox, channels),
//! answering them (answers), chasing silence (escalation), and publishing
//! them (cap).

pub mod alerts;
pub mod answers;
pub mod breaker;
pub mod cap;
pub mod channel;
pub mod email;
pub mod escalation;
pub mod level;
pub mod outbox;
pub mod publish;
pub mod render;
pub mod segments;
pub mod sms;
pub mod sms_sign;
pub mod spool;
pub mod status;
pub mod targets;
pub mod template;

use crate::auth::Actor;
use alerts::{Accepted, AlertError, AlertInput};
use outbox::Notifier;

/// The one way a notice is sent, whoever sends it (the API, the dashboard,
/// a plan's activation, a drill): validate it whole, commit it page by page,
/// and wake the delivery workers as each page commits, so the first message
/// leaves while later pages are still being written. With an idempotency
/// key, a retried identical request returns the first answer.
pub async fn send(
    n: &Notifier,
    actor: &Actor,
    input: &AlertInput,
    idempotency_key: Option<&str>,
) -> Result<Accepted, AlertError> {
    alerts::create_and_wake(&n.db, &n.cfg, actor, input, idempotency_key, Some(&n.wake)).await
}

//! Notices, in four parts that follow a notice's life:
//! - `intake`: accepting one (validation, templates, who the targets reach);
//! - `delivery`: sending it (the outbox, the channels and their providers);
//! - `response`: what comes back (answers, escalation of silence, the status board);
//! - `publishing`: the public face (CAP 1.2, Atom);
//! - `robots`: work-group robots (WeCom, DingTalk, Feishu) that tell a
//!   notice's summary and answer counts to the office's and villages' groups.

pub mod delivery;
pub mod intake;
pub mod publishing;
pub mod response;
pub mod robots;
pub mod signoff;

/// Named by intake, delivery and the plan files alike.
pub use delivery::channel::Channel;

use crate::auth::Actor;
use delivery::outbox::Notifier;
use intake::alerts::{self, Accepted, AlertError, AlertInput};

/// The one way a notice is sent, whoever sends it (the API, the dashboard,
/// a plan's activation, a drill): validate it whole, commit it page by page,
/// and wake the delivery workers as each page commits, so the first message
/// leaves while later pages are still being written. With an idempotency
/// key, a retried identical request from the same caller (within
/// `delivery.idempotency_hours`) returns the first answer.
pub async fn send(
    n: &Notifier,
    actor: &Actor,
    input: &AlertInput,
    idempotency_key: Option<&str>,
) -> Result<Accepted, AlertError> {
    alerts::create_and_wake(&n.db, &n.cfg, actor, input, idempotency_key, Some(&n.wake)).await
}

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

//! Sending a notice: the outbox's per-channel workers, the circuit breaker, rendering, and the
//! channels (SMS providers, SMTP e-mail, voice calls, the file spool).

pub mod breaker;
pub mod canary;
pub mod channel;
pub mod claims;
pub mod email;
pub mod outbox;
pub mod paths;
pub mod render;
pub mod segments;
pub mod sms;
pub mod spool;
pub mod voice;

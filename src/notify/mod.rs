//! Notices, in four parts that follow a notice's life:
//! - `intake`: accepting one (validation, templates, who the targets reach);
//! - `delivery`: sending it (the outbox, the channels and their providers);
//! - `response`: what comes back (answers, escalation of silence, the status board);
//! - `publishing`: the public face (CAP 1.2, Atom).

pub mod delivery;
pub mod intake;
pub mod publishing;
pub mod response;

/// Named by intake, delivery and the plan files alike.
pub use delivery::channel::Channel;

//! What comes back from a notice: answers (叫应), escalation when nobody answers, and the
//! status board.

pub mod answers;
mod climb;
pub mod escalation;
pub mod ladder;
pub mod replies;
pub mod status;

//! Notices: composing, delivering and answering them.

pub mod cap;
pub mod channel;
pub mod segments;
pub mod sms_sign;

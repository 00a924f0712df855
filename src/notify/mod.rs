//! Notices: composing, delivering and answering them.

pub mod cap;
pub mod segments;
pub mod sms_sign;

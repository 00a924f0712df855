//! Placeholder until the SMTP sender lands (being written now).
use crate::notify::channel::{EmailMessage, EmailSender, Outcome, SendFuture};

#[derive(Debug, thiserror::Error)]
#[error("SMTP is not available")]
pub struct EmailConfigError;

pub struct SmtpSender;

impl SmtpSender {
    pub fn new(_cfg: &crate::config::EmailConfig) -> Result<SmtpSender, EmailConfigError> {
        Err(EmailConfigError)
    }
}

impl EmailSender for SmtpSender {
    fn name(&self) -> &'static str {
        "smtp"
    }
    fn send<'a>(&'a self, _msg: &'a EmailMessage) -> SendFuture<'a> {
        Box::pin(async { Outcome::Permanent("SMTP is not available".into()) })
    }
}

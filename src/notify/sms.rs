//! Placeholder until the provider clients land (being written now).
use std::sync::Arc;

use crate::notify::channel::SmsProvider;

#[derive(Debug, thiserror::Error)]
#[error("SMS provider '{0}' is not available")]
pub struct SmsConfigError(String);

pub fn build_provider(
    cfg: &crate::config::SmsConfig,
) -> Result<Option<Arc<dyn SmsProvider>>, SmsConfigError> {
    Err(SmsConfigError(cfg.provider.clone()))
}

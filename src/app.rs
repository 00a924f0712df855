//! What every request handler shares, whether it answers the API or draws a
//! dashboard page: the application state. `api/` and `web/` both depend on
//! this module and on the domain modules, never on each other.

use std::sync::Arc;

use crate::config::Config;
use crate::store::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub tz: chrono_tz::Tz,
    pub notifier: Arc<crate::notify::delivery::outbox::Notifier>,
    /// Valid tokens seen lately (see `auth::TokenCache`).
    pub tokens: Arc<crate::auth::TokenCache>,
    /// Dashboard sign-in's bounded password checks and lock-out limits.
    pub signin: Arc<crate::accounts::signin::SigninGate>,
}

//! Accepting a notice: validate it, check its templates, read who its targets reach, and
//! commit the alert with its recipients and deliveries.

pub mod alerts;
pub mod level;
pub mod library;
pub mod owner;
pub mod targets;
pub mod template;

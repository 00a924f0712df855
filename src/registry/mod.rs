//! The registry: villages with their boundaries, and the contacts who must
//! receive and answer notices.

pub mod contacts;
pub mod roles;
pub mod villages;

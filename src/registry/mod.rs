//! The registry: villages with their boundaries, the contacts who must
//! receive and answer notices, and the shelters (避灾点) the plans name.

pub mod contacts;
pub mod roles;
pub mod shelters;
pub mod villages;

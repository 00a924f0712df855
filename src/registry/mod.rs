//! The registry: villages with their boundaries, the contacts who must
//! receive and answer notices, the shelters (避灾点) the plans name, and the
//! townships that own them all.

pub mod contacts;
pub mod export;
pub mod responsible;
pub mod roles;
pub mod shelters;
pub mod townships;
pub mod villages;

//! The ledger (台账) of regulated sites, their inspections and hidden dangers,
//! their photos, and the daily worklist drawn from them.

pub mod export;
pub mod hazard_source;
pub mod inspections;
pub mod photos;
pub mod rectifications;
pub mod site_details;
pub mod sites;
pub mod worklist;

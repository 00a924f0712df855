//! Enforcement (执法) around the ledger's inspections: the inspectors
//! register and the 双随机 draws, the checklists per site kind,
//! dispositions of findings, the numbered enforcement documents (执法文书)
//! kept as issued, and the supervision of major hidden dangers (挂牌督办).

pub mod checklists;
pub mod dispositions;
pub mod documents;
pub mod draws;
pub mod inspectors;
pub mod supervision;

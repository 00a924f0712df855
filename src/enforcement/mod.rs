//! Enforcement (执法): the inspectors register and the 双随机 draws (issue 20).

pub mod draws;
pub mod inspectors;

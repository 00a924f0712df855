//! The public face of a notice: CAP 1.2 documents and the Atom feed.

pub mod cap;
pub mod publish;

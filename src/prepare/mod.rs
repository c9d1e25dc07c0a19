//! `prepare`: from arXiv source files to documents, with a ledger row per paper.

pub mod latex;
pub mod ledger;
pub mod neardup;
pub mod normalize;
pub mod quality;

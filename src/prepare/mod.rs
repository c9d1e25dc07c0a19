//! `prepare`: from arXiv source files to documents, with a ledger row per paper.

pub mod ledger;

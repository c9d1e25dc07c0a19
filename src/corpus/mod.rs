//! The arXiv corpus as it is distributed: ids, bulk source tars with their
//! manifest, per-paper files, and the OAI metadata snapshot.
//!
//! Readers here stream: one paper's bytes are in memory at a time per reader,
//! whatever the size of the input.

pub mod id;
pub mod manifest;
pub mod metadata;
pub mod source;
//! The corpus side: arXiv ids, bulk tars, manifest, OAI metadata and the synthetic corpus.
pub mod synth;

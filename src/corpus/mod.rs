//! The arXiv corpus as it is distributed: ids, bulk source tars with their
//! manifest, per-paper files, and the OAI metadata snapshot.
//!
//! Readers here stream: one paper's bytes are in memory at a time per reader,
//! whatever the size of the input. [`synth`] writes the embedded synthetic
//! corpus in the same format.

pub mod id;
pub(crate) mod manifest;
pub mod metadata;
pub mod metadata_synth;
pub mod real;
pub(crate) mod source;
pub mod synth;

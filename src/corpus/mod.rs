//! The corpus side: arXiv ids, bulk tars, manifest, OAI metadata and the synthetic corpus.

pub mod synth;

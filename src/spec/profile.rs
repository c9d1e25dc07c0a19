//! Profiles: the scale a spec runs at.
//!
//! A profile names the model shapes (the final shape and the five-rung ladder),
//! the vocabulary sizes and the embedded corpus size, and overrides the scale
//! settings (context, batch, token budget, …) of every spec. Specs never set
//! what a profile overrides, so the ratios a run is about survive scaling.

use serde::{Deserialize, Serialize};

use super::model::Dims;

pub const PROFILES: [&str; 4] = ["paper", "gpu", "ci", "smoke"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub profile: String,
    pub description: String,
    pub corpus: CorpusScale,
    pub shapes: Shapes,
    pub vocab: Vocabs,
    /// Training seeds per run (each varies weight init and data order). Verdicts need at
    /// least two for a noise estimate; with one every verdict reads "not judged: one seed".
    pub seeds: u32,
    /// Merged over every resolved spec (a YAML mapping in the spec's layout).
    pub overrides: serde_norway::Value,
}

/// The embedded synthetic corpus that `replicate --all` generates when no `--src` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusScale {
    pub papers: u32,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shapes {
    #[serde(rename = "final")]
    pub final_shape: Dims,
    /// Five rungs on a geometric ladder of non-embedding parameters; the last is `final`.
    pub ladder: [Dims; 5],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabs {
    pub standard: u32,
    pub large: u32,
    /// Where the legacy `u16` shard format wraps ids (paper: 65,536). Scaled
    /// with `large` so the share of wrapped ids in T06 stays the paper's.
    pub u16_limit: u32,
}

//! The `train` and `loader` sections.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds weight init and data order.
    pub seed: u64,
    /// Sequence length in tokens (paper: 768).
    pub context: u32,
    /// Sequences per device per micro-batch.
    pub batch_sequences: u32,
    pub accumulation: u32,
    pub devices: u32,
    /// Training tokens (paper: 52.18B).
    pub tokens: u64,
    pub optimizer: AdamW,
    /// Global gradient-norm clip.
    pub clip_norm: f64,
    pub warmup_steps: u32,
    pub decay: Decay,
    /// The learning rate decays to this fraction of its peak.
    pub min_lr_ratio: f64,
    pub precision: Precision,
    pub gradient_checkpointing: bool,
    pub eval_every: u32,
    pub eval_batches: u32,
    pub checkpoint_every: u32,
    pub stability: Stability,
    pub data: TrainData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamW {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decay {
    Linear,
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    F32,
    Bf16Mixed,
}

/// How instability is detected and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stability {
    /// A step is a spike when its loss exceeds the running median by this many robust
    /// standard deviations of the window (`train::metrics::SpikeDetector`).
    pub spike_sigmas: f64,
    /// Steps in the running-median window (shortened to an eighth of a short run).
    pub window: u32,
}

/// Which part of the prepared corpus a run trains on, in which order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainData {
    /// Fraction of the training documents used; the token budget stays, so a
    /// small fraction means repeated epochs (D01).
    pub fraction: f64,
    /// When set, replaces `fraction`: the run uses the first share of the training
    /// tokens that its token budget covers this many times (D03 1, D01 10), at any
    /// profile and with any `--src`. The resolved share is recorded (`data_fraction`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    pub order: DataOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataOrder {
    Shuffled,
    /// Two stages of half the token budget each (D02): the prose-heavy half of the
    /// documents (below the median math density), then the math-dense half, each shuffled.
    Curriculum,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    pub kind: LoaderKind,
    /// Batches decoded ahead by the background thread (`packed-prefetch`).
    pub prefetch_depth: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoaderKind {
    /// Released: whole JSONL in memory, tokenized per batch, padded/truncated, no packing.
    JsonlOnTheFly,
    /// Pre-tokenized packed shards, memory-mapped.
    PackedMmap,
    /// zstd-compressed shards decoded on a background thread.
    PackedPrefetch,
}

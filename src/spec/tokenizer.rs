//! The `tokenizer` section: the recipes the T runs compare.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    pub recipe: Recipe,
    /// `standard` (paper: 32,000), `large` (paper: 102,400) or an explicit size;
    /// the profile turns names into sizes.
    pub vocab: VocabRef,
    pub min_frequency: u32,
    /// BPE trains on at most this many bytes of documents, so memory stays bounded.
    pub train_sample_bytes: u64,
    pub shard_dtype: ShardDtype,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// Byte-level BPE with the GPT-2 split regex (T01).
    Gpt2Bytelevel,
    /// T01 plus individual digits (T02).
    Gpt2BytelevelDigits,
    /// Commands, environments and math delimiters pre-split as units; digits individual (T03, T05).
    LatexAware,
    /// The released script: whitespace split, individual digits, `[PAD] [UNK] [BOS] [EOS]` (T04).
    Released,
}

/// A vocabulary size, by name (resolved by the profile) or explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VocabRef {
    Size(u32),
    Named(VocabName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VocabName {
    Standard,
    Large,
}

impl VocabRef {
    /// The size once the profile has resolved names; `None` before.
    pub fn size(self) -> Option<u32> {
        match self {
            VocabRef::Size(n) => Some(n),
            VocabRef::Named(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShardDtype {
    /// `u16` when the vocabulary fits, else `u32`.
    Auto,
    /// The released bug: ids are stored as `u16` whatever the vocabulary, so ids
    /// at or above the profile's `u16_limit` wrap. Only for T06-style runs.
    LegacyU16,
}

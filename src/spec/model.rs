//! The `model` section: a Llama-style decoder described by its shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// `final` (the F01 shape at this profile), `ladder-1` … `ladder-5` (the S
    /// runs; `ladder-5` is `final`), or explicit dimensions.
    pub shape: ShapeRef,
    /// Size of the embedding and LM head. `tokenizer` uses the tokenizer's
    /// vocabulary; a name or number sizes it for another tokenizer (T06).
    pub vocab: ModelVocab,
    pub rope_theta: f64,
    pub norm_eps: f64,
    pub init_std: f64,
    pub tied_embeddings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShapeRef {
    Dims(Dims),
    Named(ShapeName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShapeName {
    Final,
    #[serde(rename = "ladder-1")]
    Ladder1,
    #[serde(rename = "ladder-2")]
    Ladder2,
    #[serde(rename = "ladder-3")]
    Ladder3,
    #[serde(rename = "ladder-4")]
    Ladder4,
    #[serde(rename = "ladder-5")]
    Ladder5,
}

impl ShapeName {
    /// Index into the profile's ladder, `None` for `final`.
    pub fn ladder_rung(self) -> Option<usize> {
        match self {
            ShapeName::Final => None,
            ShapeName::Ladder1 => Some(0),
            ShapeName::Ladder2 => Some(1),
            ShapeName::Ladder3 => Some(2),
            ShapeName::Ladder4 => Some(3),
            ShapeName::Ladder5 => Some(4),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelVocab {
    Size(u32),
    Named(ModelVocabName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelVocabName {
    /// Whatever the tokenizer of this run has.
    Tokenizer,
    Standard,
    Large,
}

/// A `model` section with its shape and vocabulary resolved to numbers: what the
/// trainer builds (see [`super::ValidatedSpec::resolved_model`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub dims: Dims,
    pub vocab: u32,
    pub config: ModelConfig,
}

/// The decoder's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dims {
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    pub ffn: u32,
}

impl Dims {
    pub fn head_dim(&self) -> u32 {
        self.hidden / self.heads
    }

    /// What makes these dimensions unbuildable, if anything: the one statement of the
    /// decoder's shape rules, for spec loading and for anyone building a decoder by hand.
    pub fn problem(&self) -> Option<String> {
        if self.heads == 0 || self.hidden % self.heads != 0 {
            return Some(format!("{} heads do not divide hidden {}", self.heads, self.hidden));
        }
        if self.head_dim() % 2 != 0 {
            return Some("RoPE needs an even head dimension".into());
        }
        if self.layers == 0 || self.ffn == 0 {
            return Some("layers and ffn must be positive".into());
        }
        None
    }

    /// Parameters outside the embedding and LM head: per block two RMSNorm
    /// gains, Q/K/V/O projections and the three SwiGLU matrices (no biases),
    /// plus the final RMSNorm. This is the N of the scaling fit.
    /// Saturates at `u64::MAX` rather than wrap; spec validation rejects
    /// shapes whose count does not fit ([`Self::checked_parameters`]).
    pub fn non_embedding_parameters(&self) -> u64 {
        self.checked_non_embedding_parameters().unwrap_or(u64::MAX)
    }

    /// Exact parameter count with the embedding and an LM head (untied unless `tied`).
    pub fn parameters(&self, vocab: u32, tied: bool) -> u64 {
        self.checked_parameters(vocab, tied).unwrap_or(u64::MAX)
    }

    /// [`Self::non_embedding_parameters`], `None` when it overflows `u64`.
    pub fn checked_non_embedding_parameters(&self) -> Option<u64> {
        let (l, d, f) = (self.layers as u64, self.hidden as u64, self.ffn as u64);
        let attention = d.checked_mul(d)?.checked_mul(4)?;
        let mlp = d.checked_mul(f)?.checked_mul(3)?;
        let block = attention.checked_add(mlp)?.checked_add(d.checked_mul(2)?)?;
        l.checked_mul(block)?.checked_add(d)
    }

    /// [`Self::parameters`], `None` when it overflows `u64`.
    pub fn checked_parameters(&self, vocab: u32, tied: bool) -> Option<u64> {
        let tables: u64 = if tied { 1 } else { 2 };
        let embedding = tables.checked_mul(vocab as u64)?.checked_mul(self.hidden as u64)?;
        self.checked_non_embedding_parameters()?.checked_add(embedding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER: Dims = Dims { layers: 24, hidden: 2048, heads: 16, ffn: 5504 };

    #[test]
    fn paper_shape_matches_the_model_card_counts() {
        // PAPER.md: 32k vocab untied gives 1.345B (closest to the stated 1.36B), 102,400 gives 1.634B.
        assert_eq!(PAPER.parameters(32_000, false), 1_345_423_360);
        assert_eq!(PAPER.parameters(102_400, false), 1_633_781_760);
        assert_eq!(PAPER.head_dim(), 128);
    }

    #[test]
    fn tying_removes_one_table() {
        let diff = PAPER.parameters(32_000, false) - PAPER.parameters(32_000, true);
        assert_eq!(diff, 32_000 * 2048);
    }
}

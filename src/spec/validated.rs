//! A spec the loader resolved and checked.

use std::ops::Deref;

use serde::{Serialize, Serializer};

use super::model::{Dims, ModelVocab, ResolvedModel, ShapeRef};
use super::tokenizer::VocabRef;
use super::Spec;

/// A spec that loaded, resolved against its profile and passed every meaning check.
/// Only the loader makes one, so the stages read its sizes as plain numbers and check
/// nothing again. Reads as the [`Spec`] it wraps, and serializes as it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedSpec {
    spec: Spec,
    dims: Dims,
    tokenizer_vocab: u32,
    model_vocab: u32,
}

impl ValidatedSpec {
    /// Wraps a resolved, validated spec; `Err` names what is still symbolic.
    pub(super) fn new(spec: Spec) -> Result<Self, (&'static str, String)> {
        let ShapeRef::Dims(dims) = spec.model.shape else {
            return Err(("model.shape", format!("`{:?}` did not resolve to dimensions", spec.model.shape)));
        };
        let VocabRef::Size(tokenizer_vocab) = spec.tokenizer.vocab else {
            return Err((
                "tokenizer.vocab",
                format!("`{:?}` did not resolve to a size", spec.tokenizer.vocab),
            ));
        };
        let ModelVocab::Size(model_vocab) = spec.model.vocab else {
            return Err(("model.vocab", format!("`{:?}` did not resolve to a size", spec.model.vocab)));
        };
        Ok(Self { spec, dims, tokenizer_vocab, model_vocab })
    }

    /// The decoder's dimensions.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// The vocabulary the tokenizer is trained to.
    pub fn tokenizer_vocab(&self) -> u32 {
        self.tokenizer_vocab
    }

    /// The model's embedding rows.
    pub fn model_vocab(&self) -> u32 {
        self.model_vocab
    }

    /// The model section as the trainer builds it.
    pub fn resolved_model(&self) -> ResolvedModel {
        ResolvedModel { dims: self.dims, vocab: self.model_vocab, config: self.spec.model.clone() }
    }

    /// The same run under another training seed (the seed is not part of any check).
    pub fn with_seed(&self, seed: u64) -> Self {
        let mut seeded = self.clone();
        seeded.spec.train.seed = seed;
        seeded
    }

    pub fn into_spec(self) -> Spec {
        self.spec
    }
}

impl Deref for ValidatedSpec {
    type Target = Spec;

    fn deref(&self) -> &Spec {
        &self.spec
    }
}

impl Serialize for ValidatedSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.spec.serialize(serializer)
    }
}

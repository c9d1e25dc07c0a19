//! What is fixed before the first step: the decoder shape, the number of
//! steps and the schedule.

use anyhow::{bail, ensure, Result};

use super::model::{self, DecoderShape};
use super::schedule;
use crate::spec::model::{ModelConfig, ModelVocab, ShapeRef};
use crate::spec::train::{Precision, TrainConfig};

/// The decoder shape of a resolved spec.
pub fn decoder_shape(model: &ModelConfig, train: &TrainConfig) -> Result<DecoderShape> {
    let ShapeRef::Dims(dims) = model.shape else {
        bail!(
            "model.shape is still `{:?}`: load the spec with a profile so it resolves to dimensions",
            model.shape
        );
    };
    let ModelVocab::Size(vocab) = model.vocab else {
        bail!(
            "model.vocab is still `{:?}`: load the spec with a profile so it resolves to a size",
            model.vocab
        );
    };
    ensure!(
        dims.heads > 0 && dims.hidden % dims.heads == 0 && dims.head_dim() % 2 == 0,
        "model.shape: hidden {} must split into {} heads of an even size (RoPE rotates pairs)",
        dims.hidden,
        dims.heads
    );
    Ok(DecoderShape {
        dims,
        vocab,
        context: train.context,
        rope_theta: model.rope_theta,
        norm_eps: model.norm_eps,
        init_std: model.init_std,
        tied_embeddings: model.tied_embeddings,
    })
}

/// Optimizer steps of a run: tokens / (context · batch · accumulation · devices).
pub fn planned_steps(train: &TrainConfig) -> u64 {
    let per_step = train.context as u64
        * train.batch_sequences as u64
        * train.accumulation as u64
        * train.devices as u64;
    (train.tokens / per_step.max(1)).max(1)
}

/// Everything fixed for the run: shape, steps, loaders' setup.
pub(crate) struct Plan {
    pub shape: DecoderShape,
    pub steps: u64,
    /// Micro-batches per replica per optimizer step.
    pub accumulation: usize,
    /// Data-parallel replicas (`train.devices`).
    pub replicas: usize,
    pub rows: usize,
    pub schedule: schedule::Schedule,
    pub fingerprint: String,
}

pub(crate) fn plan(model: &ModelConfig, train: &TrainConfig) -> Result<Plan> {
    let shape = decoder_shape(model, train)?;
    ensure!(
        train.context > 0 && train.batch_sequences > 0,
        "train.context and train.batch_sequences must be positive"
    );
    let steps = planned_steps(train);
    let fingerprint = {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&(model, train))?;
        hex::encode(&Sha256::digest(text.as_bytes())[..8])
    };
    Ok(Plan {
        shape,
        steps,
        accumulation: train.accumulation.max(1) as usize,
        replicas: train.devices.max(1) as usize,
        rows: train.batch_sequences as usize,
        schedule: schedule::Schedule::from_spec(train, steps),
        fingerprint,
    })
}

pub(crate) fn matmul_precision(train: &TrainConfig) -> model::MatmulPrecision {
    match train.precision {
        Precision::F32 => model::MatmulPrecision::F32,
        Precision::Bf16Mixed => model::MatmulPrecision::Bf16,
    }
}

//! What is fixed before the first step: the decoder shape, the number of
//! steps and the schedule.

use anyhow::{bail, Result};

use super::model::{self, DecoderShape};
use super::schedule;
use crate::spec::model::ResolvedModel;
use crate::spec::train::{Precision, TrainConfig};

/// The decoder a run trains, at the run's context length.
pub fn decoder_shape(model: &ResolvedModel, train: &TrainConfig) -> Result<DecoderShape> {
    if let Some(problem) = model.dims.problem() {
        bail!("model.shape: {problem}");
    }
    let config = &model.config;
    Ok(DecoderShape {
        dims: model.dims,
        vocab: model.vocab,
        context: train.context,
        rope_theta: config.rope_theta,
        norm_eps: config.norm_eps,
        init_std: config.init_std,
        tied_embeddings: config.tied_embeddings,
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

pub(crate) fn plan(model: &ResolvedModel, train: &TrainConfig) -> Result<Plan> {
    let shape = decoder_shape(model, train)?;
    let steps = planned_steps(train);
    let fingerprint = {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&(&model.config, train))?;
        hex::encode(&Sha256::digest(text.as_bytes())[..8])
    };
    Ok(Plan {
        shape,
        steps,
        accumulation: train.accumulation as usize,
        replicas: train.devices as usize,
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

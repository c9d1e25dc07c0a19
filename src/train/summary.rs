//! `summary.json`: what a finished run measured, from its state and plan.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::backend::{adapter_note, default_peak, BackendChoice};
use super::checkpoint::RunState;
use super::metrics;
use super::plan::{matmul_precision, Plan};
use super::TrainOptions;
use crate::spec::train::{LoaderConfig, LoaderKind, Precision, TrainConfig};

/// What `summary.json` holds; metric names follow `crate::metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    pub train_loss: f64,
    pub train_bpb: f64,
    pub val_loss: f64,
    pub val_bpb: f64,
    pub steps: u64,
    pub planned_steps: u64,
    /// Input positions trained on (padding included: the budget counts them).
    pub tokens: u64,
    pub real_tokens: u64,
    pub wall_seconds: f64,
    pub tokens_per_s: f64,
    /// 6 · N · tokens with N = non-embedding parameters + LM head.
    pub flops: f64,
    pub peak_flops: f64,
    pub peak_flops_source: String,
    pub mfu: f64,
    pub loss_spikes: u64,
    pub grad_norm_cv: f64,
    pub data_wait_share: f64,
    pub padding_share: f64,
    /// Share of the tokens of the documents read that were cut off at the
    /// context length: truncated / (truncated + real targets).
    pub truncated_share: f64,
    pub bytes_read: u64,
    pub non_embedding_params: u64,
    pub params: u64,
    pub tokens_per_param: f64,
    pub precision: String,
    pub precision_note: String,
    pub backend: String,
    /// The `--device` that trained (absent in older summaries: the CPU).
    #[serde(default)]
    pub device: BackendChoice,
    pub loader: LoaderKind,
    /// Data-parallel replicas (`train.devices`).
    pub devices: u32,
    /// The devices the replicas ran on, in replica order (round-robin).
    pub device_placement: Vec<String>,
    pub data_parallel: String,
    pub resumed_from_step: Option<u64>,
    /// Whether activations were recomputed in the backward pass.
    pub gradient_checkpointing: bool,
    /// Activations kept for the backward pass of one micro-batch without
    /// checkpointing, f32 (see `DecoderShape::activation_bytes`).
    pub activation_bytes_estimate: u64,
}

/// A run at its end: everything its summary is computed from.
pub(crate) struct Finished<'a> {
    pub plan: &'a Plan,
    pub train: &'a TrainConfig,
    pub loader: &'a LoaderConfig,
    pub bytes_per_token: f64,
    pub state: &'a RunState,
    pub val_loss: f64,
    pub started: Instant,
    pub opts: &'a TrainOptions,
    pub resumed_from: Option<u64>,
    /// The device of each replica, in replica order.
    pub device_placement: Vec<String>,
}

/// The summary of a finished run.
pub(crate) fn summarize(run: Finished<'_>) -> TrainSummary {
    let Finished {
        plan,
        train,
        loader: loader_cfg,
        bytes_per_token,
        state,
        val_loss,
        started,
        opts,
        resumed_from,
        device_placement,
    } = run;
    let (default_peak_flops, default_source) = default_peak(opts.backend, matmul_precision(train));
    let (peak, peak_source) = match opts.peak_flops {
        Some(p) => (p, "given by the caller".to_string()),
        None => (default_peak_flops, default_source),
    };
    let flops = 6.0 * plan.shape.flop_parameters() as f64 * state.tokens_seen as f64;
    let seconds = state.train_seconds.max(1e-9);
    let params = plan.shape.parameters();
    let (precision, precision_note) = match (train.precision, opts.backend) {
        (Precision::F32, _) => ("f32", String::new()),
        (Precision::Bf16Mixed, backend) => (
            "bf16-mixed",
            format!(
                "matmul operands cast to bf16 per op; weights, optimizer state, norms, softmax and loss in f32{}",
                if backend == BackendChoice::Cpu { " (the CPU backend rounds to bf16 but multiplies in f32: slower, not faster)" } else { "" }
            ),
        ),
    };
    TrainSummary {
        train_loss: state.last_train_loss,
        train_bpb: metrics::bits_per_byte(state.last_train_loss, bytes_per_token),
        val_loss,
        val_bpb: metrics::bits_per_byte(val_loss, bytes_per_token),
        steps: state.step,
        planned_steps: plan.steps,
        tokens: state.tokens_seen,
        real_tokens: state.real_tokens,
        wall_seconds: started.elapsed().as_secs_f64(),
        tokens_per_s: state.tokens_seen as f64 / seconds,
        flops,
        peak_flops: peak,
        peak_flops_source: peak_source,
        mfu: flops / seconds / peak,
        loss_spikes: state.spikes.spikes,
        grad_norm_cv: metrics::windowed_grad_norm_cv(
            &state.grad_norms_after_warmup,
            train.stability.window as usize,
        ),
        data_wait_share: state.data_wait_seconds / seconds,
        padding_share: state.padding_tokens as f64 / state.tokens_seen.max(1) as f64,
        truncated_share: state.truncated_tokens as f64
            / (state.truncated_tokens + state.real_tokens).max(1) as f64,
        bytes_read: state.bytes_read,
        non_embedding_params: plan.shape.dims.non_embedding_parameters(),
        params,
        tokens_per_param: state.tokens_seen as f64 / params as f64,
        precision: precision.to_string(),
        precision_note,
        backend: match opts.backend {
            BackendChoice::Cpu => "burn 0.21 flex (CPU)".to_string(),
            BackendChoice::Cuda => "burn 0.21 cuda".to_string(),
            BackendChoice::Wgpu => format!("burn 0.21 wgpu{}", adapter_note(&device_placement[0])),
        },
        device: opts.backend,
        loader: loader_cfg.kind,
        devices: train.devices,
        data_parallel: if plan.replicas > 1 {
            format!(
                "{} replicas, one thread each, on {} device(s); gradients summed on the first in replica order",
                plan.replicas,
                device_placement.iter().collect::<std::collections::BTreeSet<_>>().len()
            )
        } else {
            "single replica".to_string()
        },
        device_placement,
        resumed_from_step: resumed_from,
        gradient_checkpointing: train.gradient_checkpointing,
        activation_bytes_estimate: plan.shape.activation_bytes(plan.rows),
    }
}

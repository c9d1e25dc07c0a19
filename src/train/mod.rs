//! Training: the paper's Llama-style decoder on Burn, AdamW with warmup and
//! decay, global-norm clipping, gradient accumulation, data-parallel replicas
//! (`train.devices`, one thread each), bf16-mixed matmuls, the three loaders
//! of the I runs, atomic checkpoints with exact resume, and the metrics the
//! claims read (`metrics.csv`, `summary.json`).
//!
//! Entry point: [`run`], whose loop ([`run_on`]) reads top to bottom. The
//! parts: `backend` (which backend and devices), `plan` (shape, steps,
//! schedule), `data` (loaders), `step` (one optimizer step, shared with the
//! bench), `eval`, `resume` (checkpoints), `summary`; below them `model`,
//! `schedule`, `optim`, `loader`, `checkpoint`, `metrics`.

pub(crate) mod backend;
pub mod bench;
pub(crate) mod checkpoint;
mod data;
mod eval;
mod fused;
pub mod inputs;
pub(crate) mod loader;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod optim;
mod plan;
mod resume;
pub(crate) mod rng;
pub(crate) mod schedule;
mod step;
mod summary;

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use crate::spec::model::ResolvedModel;
use crate::spec::train::{DataOrder, LoaderConfig, TrainConfig};

use self::backend::{check_precision, on_backend, placement, BackendTask};
pub use self::backend::{default_peak, BackendChoice};
use self::data::make_loader;
pub use self::data::TrainData;
use self::loader::LoaderSetup;
pub use self::loader::{Encode, TokenSource, TokenStore, VecStore};
use self::metrics::MetricsRow;
pub use self::plan::{decoder_shape, planned_steps};
pub use self::step::summed_nll;
pub use self::summary::TrainSummary;

/// Per-step metrics of a training run, one row per logged step.
pub const METRICS_FILE: &str = "metrics.csv";
/// The training summary, written last (see [`TrainSummary`]).
pub const SUMMARY_FILE: &str = "summary.json";

/// Keeps freed tensor buffers in the heap for reuse. Burn's CPU backend allocates a fresh
/// output for every op; with glibc's defaults each buffer above its mmap threshold is mapped
/// and unmapped again, so every step page-faults its activations back in (about a seventh of
/// a ci training step's samples under `perf`). Raising the thresholds made the ci F01 step
/// 12-15% faster (`bench train`: 27.3-28.2 ms against 31.5-32.2 ms, same machine and hour).
/// Allocation only: no output changes. For a binary's `main` (the `replicate` binary and the
/// `train_step` bench call it first thing); a library call would change its host's allocator.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds, which take effect for
    // later allocations; callers make it their first call in `main`.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the newest checkpoint in `out/checkpoints`.
    pub resume: bool,
    /// Print one line per eval interval to stderr.
    pub progress: bool,
    /// What the progress lines name, e.g. `F01 train` (they may go to a log, not a terminal).
    pub label: Option<String>,
    pub backend: BackendChoice,
    /// Devices the spec's `train.devices` data-parallel replicas are spread
    /// over, round-robin (cuda: GPUs 0..N−1). `None`: one per replica, capped
    /// by the GPUs present; on the CPU every replica is a thread on the one
    /// CPU device.
    pub devices: Option<usize>,
    /// Peak FLOP/s the MFU is computed against; `None` uses the stated
    /// default of the backend (see [`default_peak`]).
    pub peak_flops: Option<f64>,
    /// Stop after this many optimizer steps in total (the schedule still
    /// spans the whole run). Simulates an interruption; tests use it.
    pub stop_after: Option<u64>,
}

/// Trains the run described by `model`, `train` and `loader` on `data`,
/// writing `metrics.csv`, `summary.json` and `checkpoints/` under `out`.
pub fn run(
    model: &ResolvedModel,
    train: &TrainConfig,
    loader: &LoaderConfig,
    data: TrainData,
    out: &Path,
    opts: &TrainOptions,
) -> Result<TrainSummary> {
    let replicas = train.devices as usize;
    let task = Training { model, train, loader, data, out, opts };
    on_backend(opts.backend, train.gradient_checkpointing, opts.devices, replicas, task)
}

struct Training<'a> {
    model: &'a ResolvedModel,
    train: &'a TrainConfig,
    loader: &'a LoaderConfig,
    data: TrainData,
    out: &'a Path,
    opts: &'a TrainOptions,
}

impl BackendTask for Training<'_> {
    type Output = TrainSummary;

    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> Result<TrainSummary> {
        run_on::<B>(devices, self.model, self.train, self.loader, self.data, self.out, self.opts)
    }
}

fn run_on<B: AutodiffBackend>(
    devices: &[B::Device],
    model_cfg: &ResolvedModel,
    train: &TrainConfig,
    loader_cfg: &LoaderConfig,
    data: TrainData,
    out: &Path,
    opts: &TrainOptions,
) -> Result<TrainSummary> {
    let plan = plan::plan(model_cfg, train)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let ckpt_dir = out.join("checkpoints");
    let started = Instant::now();

    let device = devices[0].clone();
    let placement = placement(devices, plan.replicas);
    check_precision::<B>(train, &placement)?;
    let resume::Start { mut model, mut optim, mut state, resumed_from } =
        resume::start::<B>(&plan, train, &device, &ckpt_dir, opts.resume)?;
    let mut log = metrics::MetricsLog::open(&out.join(METRICS_FILE), resumed_from)?;
    let setup = LoaderSetup {
        context: train.context as usize,
        rows: plan.rows,
        seed: train.seed,
        shuffle: train.data.order == DataOrder::Shuffled,
        fraction: train.data.fraction,
        pad_id: data.pad_id,
        eos_id: data.eos_id,
        start: state.loader,
    };
    let mut batches =
        make_loader(&data.train, loader_cfg.kind, setup, loader_cfg.prefetch_depth as usize, out)?;
    let last_step = opts.stop_after.unwrap_or(plan.steps).min(plan.steps);
    let mut val_loss = f64::NAN;

    while state.step < last_step {
        let step = state.step;
        let t0 = Instant::now();
        let (micro_batches, wait) =
            step::next_micro_batches(batches.as_mut(), plan.accumulation * plan.replicas, plan.shape.vocab)?;
        let (loss, grad_norm, grads) =
            step::clipped_gradients(&model, &placement, &micro_batches, plan.accumulation, train.clip_norm)?;
        if !loss.is_finite() || !grad_norm.is_finite() {
            let last = checkpoint::list(&ckpt_dir)?.into_iter().max();
            bail!(
                "training diverged at step {}: loss {loss}, gradient norm {grad_norm}. {}",
                step + 1,
                match last {
                    Some(s) => format!("The last good checkpoint is {} (lower train.optimizer.lr or raise warmup, then --resume)", checkpoint::path_for(&ckpt_dir, s).display()),
                    None => "No checkpoint was written yet.".to_string(),
                }
            );
        }
        let lr = plan.schedule.lr(step);
        model = optim.step(lr, model, grads);
        let step_time = t0.elapsed().as_secs_f64();

        let spike = state.spikes.observe(loss);
        let measured = step::measures(&micro_batches, lr, grad_norm, step_time, wait, spike);
        step::account(&mut state, &micro_batches, &measured, loss, step >= train.warmup_steps as u64);
        state.loader = batches.position();
        log.append(&MetricsRow::train(state.step, state.tokens_seen, loss, data.bytes_per_token, &measured))?;

        let at_end = state.step == plan.steps;
        if state.step.is_multiple_of(u64::from(train.eval_every)) || at_end {
            val_loss = eval::validate(&model.valid(), &data, train, plan.rows * plan.replicas, &device)?;
            log.append(&MetricsRow::val(state.step, state.tokens_seen, val_loss, data.bytes_per_token))?;
            if opts.progress {
                eprintln!(
                    "{}step {}/{}: train loss {loss:.4}, val loss {val_loss:.4}, lr {lr:.2e}, grad norm {grad_norm:.3}, {:.0} tokens/s",
                    opts.label.as_deref().map(|l| format!("{l}: ")).unwrap_or_default(),
                    state.step,
                    plan.steps,
                    state.tokens_seen as f64 / state.train_seconds
                );
            }
        }
        if state.step.is_multiple_of(train.checkpoint_every.max(1) as u64)
            || at_end
            || state.step == last_step
        {
            resume::save(&ckpt_dir, &state, &model, &optim)?;
        }
    }
    if val_loss.is_nan() {
        val_loss = eval::validate(&model.valid(), &data, train, plan.rows * plan.replicas, &device)?;
    }
    let summary = summary::summarize(summary::Finished {
        plan: &plan,
        train,
        loader: loader_cfg,
        bytes_per_token: data.bytes_per_token,
        state: &state,
        val_loss,
        started,
        opts,
        resumed_from,
        device_placement: placement.iter().map(|d| format!("{d:?}")).collect(),
    });
    crate::io::write_json_atomic(&out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests;

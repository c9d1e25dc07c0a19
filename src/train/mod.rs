//! Training (issue 6): the paper's Llama-style decoder on Burn, AdamW with
//! warmup and decay, global-norm clipping, gradient accumulation,
//! data-parallel replicas (`train.devices`, one thread each), bf16-mixed
//! matmuls, the three loaders of the I runs, atomic checkpoints with exact
//! resume, and the metrics the claims read (`metrics.csv`, `summary.json`).
//!
//! Entry point: [`run`]. Reading order: `model` (the decoder), `schedule`,
//! `optim`, `loader`, `checkpoint`, `metrics`, then [`run`] top to bottom
//! (one step is `data_parallel_step`).

pub mod bench;
pub mod checkpoint;
pub mod inputs;
pub mod loader;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod rng;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::ElementConversion;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::spec::model::{ModelConfig, ModelVocab, ShapeRef};
use crate::spec::train::{DataOrder, LoaderConfig, LoaderKind, Precision, TrainConfig};

use loader::{BatchLoader, LoaderPosition, LoaderSetup};
pub use loader::{Encode, TokenSource, TokenStore, VecStore};
use model::{Decoder, DecoderShape};

/// The one place the concrete backends are named.
pub mod backend {
    use burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
    use burn::backend::{Autodiff, Flex};

    /// Burn's pure-Rust CPU backend (see README: why burn 0.21 and `flex`).
    pub type CpuBackend = Flex;
    pub type TrainBackend = Autodiff<CpuBackend>;
    /// `gradient_checkpointing: true`: activations of cheap operations are
    /// recomputed in the backward pass instead of kept (paper: "gradient
    /// checkpointing"; burn's balanced strategy).
    pub type CheckpointedTrainBackend = Autodiff<CpuBackend, BalancedCheckpointing>;

    #[cfg(feature = "cuda")]
    pub type CudaBackend = burn::backend::Cuda;
    #[cfg(feature = "cuda")]
    pub type CudaTrainBackend = Autodiff<CudaBackend>;
    #[cfg(feature = "cuda")]
    pub type CheckpointedCudaTrainBackend = Autodiff<CudaBackend, BalancedCheckpointing>;

    /// GPUs 0..N−1, N = `requested` or one per replica, never more than the
    /// driver reports.
    #[cfg(feature = "cuda")]
    pub fn cuda_devices(
        requested: Option<usize>,
        replicas: usize,
    ) -> anyhow::Result<Vec<burn::backend::cuda::CudaDevice>> {
        use burn::tensor::backend::Backend;
        let present = <CudaBackend as Backend>::device_count(0);
        let wanted = requested.unwrap_or_else(|| replicas.min(present.max(1)));
        anyhow::ensure!(
            wanted >= 1 && wanted <= present,
            "--devices {wanted} asks for more GPUs than the {present} the CUDA driver reports"
        );
        Ok((0..wanted).map(burn::backend::cuda::CudaDevice::new).collect())
    }
}

/// Which device trains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    #[default]
    Cpu,
    /// Needs the `cuda` cargo feature and an NVIDIA driver at run time.
    Cuda,
}

/// The tokens a run trains and validates on.
pub struct TrainData {
    pub train: TokenSource,
    pub val: TokenSource,
    pub pad_id: u32,
    pub eos_id: u32,
    /// UTF-8 bytes per token of this tokenizer on this corpus, to report
    /// losses in bits per byte (tokenizer-independent; the T runs need it).
    pub bytes_per_token: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the newest checkpoint in `out/checkpoints`.
    pub resume: bool,
    /// Print one line per eval interval to stderr.
    pub progress: bool,
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

/// Stated peak FLOP/s per backend and matmul precision: CPU = cores ×
/// 2.5 GHz × 32 f32 FLOP per cycle (two AVX2 FMA units of 8 lanes; bf16 is
/// multiplied in f32 there); H100/H200 SXM = 67 TFLOP/s f32 (no tensor
/// cores) or 989 TFLOP/s dense bf16 (tensor cores, the paper's regime).
pub fn default_peak(backend: BackendChoice, precision: model::MatmulPrecision) -> (f64, String) {
    match (backend, precision) {
        (BackendChoice::Cpu, _) => {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            (
                cores as f64 * 2.5e9 * 32.0,
                format!("{cores} cores x 2.5 GHz x 32 f32 FLOP/cycle (AVX2 FMA), stated"),
            )
        }
        (BackendChoice::Cuda, model::MatmulPrecision::F32) => {
            (67e12, "NVIDIA H100/H200 SXM f32 peak 67 TFLOP/s, stated".to_string())
        }
        (BackendChoice::Cuda, model::MatmulPrecision::Bf16) => {
            (989e12, "NVIDIA H100/H200 SXM dense bf16 peak 989 TFLOP/s, stated".to_string())
        }
    }
}

/// Trains the run described by `model`, `train` and `loader` on `data`,
/// writing `metrics.csv`, `summary.json` and `checkpoints/` under `out`.
pub fn run(
    model: &ModelConfig,
    train: &TrainConfig,
    loader: &LoaderConfig,
    data: TrainData,
    out: &Path,
    opts: &TrainOptions,
) -> Result<TrainSummary> {
    let replicas = train.devices.max(1) as usize;
    let task = Training { model, train, loader, data, out, opts };
    on_backend(opts.backend, train.gradient_checkpointing, opts.devices, replicas, task)
}

/// Work generic over the training backend. Rust has no generic closures,
/// so `run` and the bench each implement this once and [`on_backend`] holds
/// the one choice of backend type and devices.
pub(crate) trait BackendTask {
    type Output;
    /// `devices`: the devices the replicas are placed on, round-robin.
    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> Result<Self::Output>;
}

/// Runs `task` on the backend `backend` and `checkpointing` pick, with the
/// devices `requested` (`--devices`) or, by default, one per replica.
// `replicas` only matters where there are several devices to place them on.
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
pub(crate) fn on_backend<T: BackendTask>(
    backend: BackendChoice,
    checkpointing: bool,
    requested: Option<usize>,
    replicas: usize,
    task: T,
) -> Result<T::Output> {
    match (backend, checkpointing) {
        (BackendChoice::Cpu, false) => task.run::<backend::TrainBackend>(&cpu_devices(requested)?),
        (BackendChoice::Cpu, true) => task.run::<backend::CheckpointedTrainBackend>(&cpu_devices(requested)?),
        #[cfg(feature = "cuda")]
        (BackendChoice::Cuda, false) => {
            task.run::<backend::CudaTrainBackend>(&backend::cuda_devices(requested, replicas)?)
        }
        #[cfg(feature = "cuda")]
        (BackendChoice::Cuda, true) => {
            task.run::<backend::CheckpointedCudaTrainBackend>(&backend::cuda_devices(requested, replicas)?)
        }
        #[cfg(not(feature = "cuda"))]
        (BackendChoice::Cuda, _) => {
            bail!("this binary was built without CUDA: rebuild with `cargo build --release --features cuda`")
        }
    }
}

struct Training<'a> {
    model: &'a ModelConfig,
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

/// The CPU is one device: replicas run as threads on it.
fn cpu_devices(requested: Option<usize>) -> Result<Vec<burn::backend::flex::FlexDevice>> {
    ensure!(
        requested.is_none_or(|n| n == 1),
        "--devices {} asks for several CPU devices; the CPU backend has one (data-parallel replicas run as threads on it): drop --devices or use --device cuda",
        requested.unwrap_or(1)
    );
    Ok(vec![Default::default()])
}

/// Everything fixed for the run: shape, steps, loaders' setup.
struct Plan {
    shape: DecoderShape,
    steps: u64,
    /// Micro-batches per replica per optimizer step.
    accumulation: usize,
    /// Data-parallel replicas (`train.devices`).
    replicas: usize,
    rows: usize,
    schedule: schedule::Schedule,
    fingerprint: String,
}

fn plan(model: &ModelConfig, train: &TrainConfig) -> Result<Plan> {
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

fn make_loader(
    source: &TokenSource,
    kind: LoaderKind,
    setup: LoaderSetup,
    prefetch_depth: usize,
    out: &Path,
) -> Result<Box<dyn BatchLoader>> {
    Ok(match (kind, source) {
        (LoaderKind::JsonlOnTheFly, TokenSource::Documents { docs, encode }) => {
            Box::new(loader::DocumentLoader::new(docs.clone(), encode.clone(), setup)?)
        }
        (LoaderKind::PackedMmap, TokenSource::Packed(store)) => Box::new(loader::PackedLoader::new(store.clone(), setup)?),
        (LoaderKind::PackedPrefetch, TokenSource::Chunks(path)) => {
            ensure!(setup.fraction == 1.0, "a prebuilt chunk file cannot apply train.data.fraction: pass the packed store instead");
            Box::new(loader::PrefetchLoader::new(path, setup, prefetch_depth)?)
        }
        (LoaderKind::PackedPrefetch, TokenSource::Packed(store)) => {
            let path = chunk_file(out, store.as_ref(), setup)?;
            let setup = LoaderSetup { fraction: 1.0, ..setup };
            Box::new(loader::PrefetchLoader::new(&path, setup, prefetch_depth)?)
        }
        (kind, _) => bail!("loader `{kind:?}` cannot read the token source the caller passed (documents for jsonl-on-the-fly, a packed store for the packed loaders)"),
    })
}

/// Windows per zstd frame of a chunk file: about 64 × context tokens per
/// frame decodes in well under a millisecond, small enough to shuffle well.
const WINDOWS_PER_CHUNK: usize = 64;

/// Compresses the training stream into `out/train.chunks` once per run.
fn chunk_file(out: &Path, store: &dyn TokenStore, setup: LoaderSetup) -> Result<PathBuf> {
    let path = out.join("train.chunks");
    let usable = loader::fraction_of(store.len(), setup.fraction);
    let current = loader::read_chunk_index(&path).ok().map(|(h, _)| h);
    let expected_windows = (usable.saturating_sub(1) / setup.context) as u64;
    if current.is_none_or(|h| h.context as usize != setup.context || h.windows != expected_windows) {
        loader::write_chunks(store, usable, setup.context, WINDOWS_PER_CHUNK, &path)?;
    }
    Ok(path)
}

/// Host-side tensors of one micro-batch.
fn batch_tensors<B: Backend>(
    batch: &loader::Batch,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2>) {
    let shape = [batch.rows, batch.context];
    let inputs = Tensor::from_data(TensorData::new(batch.inputs.clone(), shape), device);
    let targets = Tensor::from_data(TensorData::new(batch.targets.clone(), shape), device);
    let weights = Tensor::from_data(TensorData::new(batch.weights.clone(), shape), device);
    (inputs, targets, weights)
}

/// Summed negative log-likelihood of the real (weight 1) targets.
pub fn summed_nll<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    weights: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let logp = log_softmax(logits, 2);
    let picked: Tensor<B, 2> = logp.gather(2, targets.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2);
    (picked.neg() * weights).sum()
}

/// Refuses ids the embedding has no row for: an out-of-range id would
/// index past the table. Happens when the tokenizer's vocabulary is larger
/// than `model.vocab` (the T06 mismatch must remap ids before training).
fn check_ids(batch: &loader::Batch, vocab: u32) -> Result<()> {
    let max = batch.inputs.iter().chain(&batch.targets).copied().max().unwrap_or(0);
    ensure!(
        max < vocab as i64,
        "token id {max} is outside the model's vocabulary of {vocab}: the tokenizer and \
         model.vocab disagree (remap ids or size model.vocab to the tokenizer)"
    );
    Ok(())
}

fn real_targets(batch: &loader::Batch) -> u64 {
    batch.positions() - batch.padding_tokens
}

/// Mean validation loss over `eval_batches` batches from the start of the
/// validation split, in stream order.
fn validate<B: Backend>(
    model: &Decoder<B>,
    data: &TrainData,
    train: &TrainConfig,
    rows: usize,
    device: &B::Device,
) -> Result<f64> {
    let vocab = model.embedding.weight.dims()[0] as u32;
    let setup = LoaderSetup {
        context: train.context as usize,
        rows,
        seed: train.seed,
        shuffle: false,
        fraction: 1.0,
        pad_id: data.pad_id,
        eos_id: data.eos_id,
        start: LoaderPosition::default(),
    };
    let mut loader: Box<dyn BatchLoader> = match &data.val {
        TokenSource::Documents { docs, encode } => {
            Box::new(loader::DocumentLoader::new(docs.clone(), encode.clone(), setup)?)
        }
        TokenSource::Packed(store) => {
            Box::new(loader::PackedLoader::new(store.clone(), setup).context("validation split")?)
        }
        TokenSource::Chunks(path) => Box::new(loader::PrefetchLoader::new(path, setup, 1)?),
    };
    let (mut nll, mut count) = (0.0, 0u64);
    for _ in 0..train.eval_batches.max(1) {
        let batch = loader.next_batch()?;
        check_ids(&batch, vocab).context("validation split")?;
        let (inputs, targets, weights) = batch_tensors::<B>(&batch, device);
        nll += summed_nll(model.forward(inputs), targets, weights).into_scalar().elem::<f64>();
        count += real_targets(&batch);
    }
    Ok(nll / count.max(1) as f64)
}

/// Which device each replica runs on: round-robin over `devices`.
fn placement<D: Clone>(devices: &[D], replicas: usize) -> Vec<D> {
    (0..replicas).map(|r| devices[r % devices.len()].clone()).collect()
}

fn matmul_precision(train: &TrainConfig) -> model::MatmulPrecision {
    match train.precision {
        Precision::F32 => model::MatmulPrecision::F32,
        Precision::Bf16Mixed => model::MatmulPrecision::Bf16,
    }
}

/// One optimizer step's loss and summed gradients, data parallel: replica
/// r takes micro-batches `r·accumulation ..` on `placement[r]`, each replica
/// in its own thread with its own copy of the weights (fresh autodiff
/// leaves, the same parameter ids), and the gradients are summed on the
/// master's device in replica order, so the result does not depend on
/// thread timing and equals `accumulation × replicas` accumulation on one
/// device. This is what DDP's all-reduce computes; it keeps the master
/// weights in one place instead of one copy per device.
fn data_parallel_step<B: AutodiffBackend>(
    model: &Decoder<B>,
    placement: &[B::Device],
    micro_batches: &[loader::Batch],
    accumulation: usize,
) -> Result<(f64, GradientsParams)> {
    let real: u64 = micro_batches.iter().map(real_targets).sum();
    let shares: Vec<&[loader::Batch]> = micro_batches.chunks(accumulation).collect();
    let results: Vec<(f64, GradientsParams)> = if shares.len() == 1 {
        vec![replica_step(model, shares[0], real)]
    } else {
        let inner = model.valid();
        let replicas: Vec<Decoder<B>> = placement
            .iter()
            .map(|device| Decoder::from_inner(inner.clone().fork(device)).map(&mut model::Trainable))
            .collect();
        std::thread::scope(|scope| {
            let running: Vec<_> = replicas
                .into_iter()
                .zip(&shares)
                .map(|(replica, share)| scope.spawn(move || replica_step(&replica, share, real)))
                .collect();
            running
                .into_iter()
                .enumerate()
                .map(|(r, handle)| {
                    handle.join().map_err(|_| anyhow::anyhow!("data-parallel replica {r} panicked"))
                })
                .collect::<Result<Vec<_>>>()
        })?
    };
    let master = model.devices()[0].clone();
    let mut accumulator = GradientsAccumulator::<Decoder<B>>::new();
    let mut loss = 0.0;
    for (part, grads) in results {
        loss += part;
        accumulator.accumulate(model, grads.to_device(&master, model));
    }
    Ok((loss, accumulator.grads()))
}

/// Forward and backward over one replica's micro-batches: the summed loss
/// and gradients, each divided by `real`, the real targets of the whole
/// step, so padding-heavy micro-batches (I01) weigh by what they hold.
fn replica_step<B: AutodiffBackend>(
    model: &Decoder<B>,
    batches: &[loader::Batch],
    real: u64,
) -> (f64, GradientsParams) {
    let device = model.devices()[0].clone();
    let mut accumulator = GradientsAccumulator::<Decoder<B>>::new();
    let mut loss = 0.0;
    for batch in batches {
        let (inputs, targets, weights) = batch_tensors::<B>(batch, &device);
        let part = summed_nll(model.forward(inputs), targets, weights).div_scalar(real.max(1) as f64);
        loss += part.clone().into_scalar().elem::<f64>();
        accumulator.accumulate(model, GradientsParams::from_grads(part.backward(), model));
    }
    (loss, accumulator.grads())
}

type Recorder32 = BinBytesRecorder<FullPrecisionSettings>;

fn model_bytes<B: Backend>(model: &Decoder<B>) -> Result<Vec<u8>> {
    Recorder::<B>::record(&Recorder32::default(), model.clone().into_record(), ())
        .context("cannot serialize the model")
}

fn run_on<B: AutodiffBackend>(
    devices: &[B::Device],
    model_cfg: &ModelConfig,
    train: &TrainConfig,
    loader_cfg: &LoaderConfig,
    data: TrainData,
    out: &Path,
    opts: &TrainOptions,
) -> Result<TrainSummary> {
    let plan = plan(model_cfg, train)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let ckpt_dir = out.join("checkpoints");
    let started = Instant::now();

    let device = devices[0].clone();
    let placement = placement(devices, plan.replicas);
    let mut model: Decoder<B> = plan.shape.init(&device, train.seed).with_precision(matmul_precision(train));
    let mut optim = optim::DecoupledAdamW::<B, Decoder<B>>::new(&train.optimizer);
    let warmup = train.warmup_steps as u64;
    let mut state = checkpoint::RunState {
        step: 0,
        tokens_seen: 0,
        real_tokens: 0,
        padding_tokens: 0,
        truncated_tokens: 0,
        bytes_read: 0,
        train_seconds: 0.0,
        data_wait_seconds: 0.0,
        loader: LoaderPosition::default(),
        spikes: metrics::SpikeDetector::new(
            train.stability.spike_sigmas,
            metrics::spike_window(train.stability.window as usize, plan.steps),
        ),
        grad_norms_after_warmup: Vec::new(),
        last_train_loss: f64::NAN,
        config_fingerprint: plan.fingerprint.clone(),
    };
    let mut resumed_from = None;
    if !opts.resume {
        checkpoint::clear(&ckpt_dir)?;
    }
    if opts.resume {
        if let Some(ckpt) = checkpoint::load_latest(&ckpt_dir)? {
            ensure!(
                ckpt.state.config_fingerprint == plan.fingerprint,
                "the checkpoints in {} come from a different model/train configuration: use a fresh --out",
                ckpt_dir.display()
            );
            let record = Recorder::<B>::load(&Recorder32::default(), ckpt.model, &device)
                .context("cannot decode the model of the checkpoint")?;
            model = model.load_record(record);
            optim = optim.load_bytes(ckpt.optim_decay, ckpt.optim_no_decay, &device)?;
            resumed_from = Some(ckpt.state.step);
            state = ckpt.state;
        }
    }
    let mut log = metrics::MetricsLog::open(&out.join("metrics.csv"), resumed_from)?;

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
        let mut wait = 0.0;
        let mut micro_batches = Vec::with_capacity(plan.accumulation * plan.replicas);
        for _ in 0..plan.accumulation * plan.replicas {
            let tw = Instant::now();
            let batch = batches.next_batch()?;
            check_ids(&batch, plan.shape.vocab)?;
            micro_batches.push(batch);
            wait += tw.elapsed().as_secs_f64();
        }
        let real: u64 = micro_batches.iter().map(real_targets).sum();
        let (loss, mut grads) = data_parallel_step(&model, &placement, &micro_batches, plan.accumulation)?;
        let grad_norm = optim::clip_global_norm(&model, &mut grads, train.clip_norm);
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

        state.step += 1;
        let positions: u64 = micro_batches.iter().map(loader::Batch::positions).sum();
        let padding: u64 = micro_batches.iter().map(|b| b.padding_tokens).sum();
        let bytes: u64 = micro_batches.iter().map(|b| b.bytes_read).sum();
        state.tokens_seen += positions;
        state.real_tokens += real;
        state.padding_tokens += padding;
        state.truncated_tokens += micro_batches.iter().map(|b| b.truncated_tokens).sum::<u64>();
        state.bytes_read += bytes;
        state.train_seconds += step_time;
        state.data_wait_seconds += wait;
        state.loader = batches.position();
        state.last_train_loss = loss;
        let spike = state.spikes.observe(loss);
        if step >= warmup {
            state.grad_norms_after_warmup.push(grad_norm);
        }
        log.append(&metrics::MetricsRow {
            split: "train".into(),
            step: state.step,
            tokens_seen: state.tokens_seen,
            loss,
            bits_per_byte: metrics::bits_per_byte(loss, data.bytes_per_token),
            lr: Some(lr),
            grad_norm: Some(grad_norm),
            step_time_s: Some(step_time),
            data_wait_s: Some(wait),
            tokens_per_s: Some(positions as f64 / step_time),
            padding_tokens: Some(padding),
            bytes_read: Some(bytes),
            spike: Some(spike),
        })?;

        let at_end = state.step == plan.steps;
        if state.step.is_multiple_of(train.eval_every.max(1) as u64) || at_end {
            val_loss = validate(&model.valid(), &data, train, plan.rows * plan.replicas, &device)?;
            log.append(&metrics::MetricsRow {
                split: "val".into(),
                step: state.step,
                tokens_seen: state.tokens_seen,
                loss: val_loss,
                bits_per_byte: metrics::bits_per_byte(val_loss, data.bytes_per_token),
                lr: None,
                grad_norm: None,
                step_time_s: None,
                data_wait_s: None,
                tokens_per_s: None,
                padding_tokens: None,
                bytes_read: None,
                spike: None,
            })?;
            if opts.progress {
                eprintln!(
                    "step {}/{}: train loss {loss:.4}, val loss {val_loss:.4}, lr {lr:.2e}, grad norm {grad_norm:.3}, {:.0} tokens/s",
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
            let (optim_decay, optim_no_decay) = optim.to_bytes()?;
            checkpoint::save(
                &ckpt_dir,
                &checkpoint::Checkpoint {
                    state: state.clone(),
                    model: model_bytes(&model)?,
                    optim_decay,
                    optim_no_decay,
                },
            )?;
        }
    }
    if val_loss.is_nan() {
        val_loss = validate(&model.valid(), &data, train, plan.rows * plan.replicas, &device)?;
    }
    let placement = placement.iter().map(|d| format!("{d:?}")).collect();
    let summary =
        summarize(&plan, train, loader_cfg, &data, &state, val_loss, started, opts, resumed_from, placement);
    crate::io::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    plan: &Plan,
    train: &TrainConfig,
    loader_cfg: &LoaderConfig,
    data: &TrainData,
    state: &checkpoint::RunState,
    val_loss: f64,
    started: Instant,
    opts: &TrainOptions,
    resumed_from: Option<u64>,
    device_placement: Vec<String>,
) -> TrainSummary {
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
        train_bpb: metrics::bits_per_byte(state.last_train_loss, data.bytes_per_token),
        val_loss,
        val_bpb: metrics::bits_per_byte(val_loss, data.bytes_per_token),
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
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// F01 at the `smoke` profile from the real spec files, with the token
    /// budget and learning rate a learning test needs.
    fn smoke_spec(steps: u64, lr: f64) -> (ModelConfig, TrainConfig, LoaderConfig) {
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        let (spec, _) = crate::spec::load_one(&runs, "F01", "smoke").expect("smoke spec loads");
        let mut train = spec.train.clone();
        let per_step = (train.context * train.batch_sequences * train.accumulation * train.devices) as u64;
        train.tokens = steps * per_step;
        train.optimizer.lr = lr;
        let mut model = spec.model.clone();
        model.vocab = ModelVocab::Size(64);
        let loader = LoaderConfig { kind: LoaderKind::PackedMmap, prefetch_depth: 2 };
        (model, train, loader)
    }

    /// A period-16 sequence of tokens drawn from 0..32, repeated: perfectly
    /// predictable from 16 tokens of context.
    fn repetitive(len: usize) -> Vec<u32> {
        let period: Vec<u32> = (0..16u32).map(|i| (i * 7 + 3) % 32).collect();
        period.iter().copied().cycle().take(len).collect()
    }

    /// Entropy (nats) of the empirical unigram distribution: the loss of the
    /// best model that ignores context.
    fn unigram_entropy(tokens: &[u32]) -> f64 {
        let mut counts = std::collections::HashMap::new();
        for t in tokens {
            *counts.entry(t).or_insert(0u64) += 1;
        }
        let n = tokens.len() as f64;
        counts.values().map(|&c| c as f64 / n).map(|p| -p * p.ln()).sum()
    }

    fn data(tokens: &[u32]) -> TrainData {
        let store: Arc<dyn TokenStore> = Arc::new(VecStore::new(tokens.to_vec(), 2));
        TrainData {
            train: TokenSource::Packed(store.clone()),
            val: TokenSource::Packed(store),
            pad_id: 0,
            eos_id: 1,
            bytes_per_token: 3.0,
        }
    }

    fn curve(out: &Path) -> Vec<(String, u64, f64)> {
        csv::Reader::from_path(out.join("metrics.csv"))
            .unwrap()
            .deserialize::<metrics::MetricsRow>()
            .map(|r| r.unwrap())
            .map(|r| (r.split, r.step, r.loss))
            .collect()
    }

    #[test]
    fn smoke_run_learns_a_repetitive_sequence_below_unigram_entropy() {
        let tokens = repetitive(8192);
        let bound = unigram_entropy(&tokens);
        approx::assert_relative_eq!(bound, 16f64.ln(), max_relative = 1e-9);
        let (model, train, loader) = smoke_spec(60, 3e-3);
        let dir = tempfile::tempdir().unwrap();
        let summary =
            run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default()).unwrap();
        assert_eq!(summary.steps, 60);
        // A context-free model cannot beat H; a decoder that uses its
        // context must go far below it on a periodic sequence.
        assert!(summary.val_loss < 0.1 * bound, "val loss {} vs unigram entropy {bound}", summary.val_loss);
        assert!(summary.train_loss < 0.1 * bound, "train loss {}", summary.train_loss);
        assert_eq!(summary.padding_share, 0.0);
        assert!(summary.tokens_per_s > 0.0 && summary.mfu > 0.0 && summary.mfu < 1.0);
        let rows = curve(dir.path());
        assert_eq!(rows.iter().filter(|r| r.0 == "train").count(), 60);
        assert!(rows.iter().any(|r| r.0 == "val"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
        for name in [
            "train_loss",
            "val_loss",
            "val_bpb",
            "loss_spikes",
            "grad_norm_cv",
            "data_wait_share",
            "padding_share",
            "tokens_per_s",
            "mfu",
            "non_embedding_params",
            "tokens_per_param",
        ] {
            assert!(crate::metrics::find(name).is_some(), "{name} is a registered metric");
            assert!(json.get(name).is_some(), "summary.json lacks {name}");
        }
    }

    #[test]
    fn resume_reproduces_the_uninterrupted_loss_curve() {
        let tokens: Vec<u32> = (0..6000u32).map(|i| (i * i + 7 * i) % 61).collect();
        let (model, mut train, loader) = smoke_spec(24, 2e-3);
        train.checkpoint_every = 10;
        train.eval_every = 8;
        let straight = tempfile::tempdir().unwrap();
        let full =
            run(&model, &train, &loader, data(&tokens), straight.path(), &TrainOptions::default()).unwrap();

        let split = tempfile::tempdir().unwrap();
        let interrupted = TrainOptions { stop_after: Some(13), ..Default::default() };
        run(&model, &train, &loader, data(&tokens), split.path(), &interrupted).unwrap();
        // Steps 11..13 ran after the step-10 checkpoint; drop the final
        // checkpoint of step 13 so resume must replay them from step 10.
        std::fs::remove_file(checkpoint::path_for(&split.path().join("checkpoints"), 13)).unwrap();
        let resume = TrainOptions { resume: true, ..Default::default() };
        let resumed = run(&model, &train, &loader, data(&tokens), split.path(), &resume).unwrap();
        assert_eq!(resumed.resumed_from_step, Some(10));

        let (a, b) = (curve(straight.path()), curve(split.path()));
        assert_eq!(a.len(), b.len(), "same rows after resume");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.0, x.1), (&y.0, y.1));
            approx::assert_relative_eq!(x.2, y.2, max_relative = 1e-4);
        }
        approx::assert_relative_eq!(full.val_loss, resumed.val_loss, max_relative = 1e-4);
        assert_eq!(full.tokens, resumed.tokens);
    }

    #[test]
    fn jsonl_loader_counts_padding_and_trains() {
        let docs: Vec<String> = (0..40).map(|i| "abc ".repeat(1 + i % 9)).collect();
        let encode: Encode = Arc::new(|s: &str| s.bytes().map(|b| b as u32 % 64).collect());
        let (model, train, _) = smoke_spec(6, 1e-3);
        let loader = LoaderConfig { kind: LoaderKind::JsonlOnTheFly, prefetch_depth: 2 };
        let docs = Arc::new(docs);
        let data = TrainData {
            train: TokenSource::Documents { docs: docs.clone(), encode: encode.clone() },
            val: TokenSource::Documents { docs, encode },
            pad_id: 0,
            eos_id: 1,
            bytes_per_token: 1.0,
        };
        let dir = tempfile::tempdir().unwrap();
        let s = run(&model, &train, &loader, data, dir.path(), &TrainOptions::default()).unwrap();
        // Documents of 4..36 bytes in a 64-token context: most positions pad.
        assert!(s.padding_share > 0.4 && s.padding_share < 1.0, "{}", s.padding_share);
        assert!(s.bytes_read > 0 && s.train_loss.is_finite());
    }

    #[test]
    fn prefetch_loader_trains_like_packed_when_not_shuffled() {
        let tokens: Vec<u32> = (0..3000u32).map(|i| (i * 13) % 64).collect();
        let (model, mut train, mut loader) = smoke_spec(5, 1e-3);
        train.data.order = DataOrder::Curriculum;
        let packed_dir = tempfile::tempdir().unwrap();
        let packed =
            run(&model, &train, &loader, data(&tokens), packed_dir.path(), &TrainOptions::default()).unwrap();
        loader.kind = LoaderKind::PackedPrefetch;
        let dir = tempfile::tempdir().unwrap();
        let prefetch =
            run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default()).unwrap();
        assert!(dir.path().join("train.chunks").exists());
        approx::assert_relative_eq!(packed.train_loss, prefetch.train_loss, max_relative = 1e-5);
        assert!(prefetch.bytes_read > 0 && prefetch.bytes_read < packed.bytes_read * 2);
    }

    #[test]
    fn divergence_stops_with_a_clear_message() {
        let tokens = repetitive(4000);
        let (model, mut train, loader) = smoke_spec(12, 1e12);
        train.clip_norm = 0.0;
        train.checkpoint_every = 2;
        let dir = tempfile::tempdir().unwrap();
        let err = run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default())
            .expect_err("lr 1e12 must diverge");
        let msg = format!("{err:#}");
        assert!(msg.contains("training diverged at step"), "{msg}");
        assert!(
            !checkpoint::list(&dir.path().join("checkpoints")).unwrap().is_empty()
                || msg.contains("No checkpoint")
        );
    }

    #[test]
    fn gradient_checkpointing_recomputes_the_same_gradients() {
        let tokens: Vec<u32> = (0..3000u32).map(|i| (i * 11 + i / 7) % 64).collect();
        let (model, mut train, loader) = smoke_spec(4, 2e-3);
        let plain_dir = tempfile::tempdir().unwrap();
        let plain =
            run(&model, &train, &loader, data(&tokens), plain_dir.path(), &TrainOptions::default()).unwrap();
        train.gradient_checkpointing = true;
        let dir = tempfile::tempdir().unwrap();
        let ckpt = run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default()).unwrap();
        assert!(ckpt.gradient_checkpointing && !plain.gradient_checkpointing);
        let (a, b) = (curve(plain_dir.path()), curve(dir.path()));
        for (x, y) in a.iter().zip(&b) {
            approx::assert_relative_eq!(x.2, y.2, max_relative = 1e-4);
        }
    }

    #[test]
    fn two_replicas_in_threads_equal_accumulation_on_one_device() {
        let tokens: Vec<u32> = (0..6000u32).map(|i| (i * 17 + i / 5) % 64).collect();
        let (model, mut train, loader) = smoke_spec(6, 2e-3);
        train.devices = 1;
        train.accumulation = 2;
        let one_dir = tempfile::tempdir().unwrap();
        let one =
            run(&model, &train, &loader, data(&tokens), one_dir.path(), &TrainOptions::default()).unwrap();
        train.devices = 2;
        train.accumulation = 1;
        let dp_dir = tempfile::tempdir().unwrap();
        let dp =
            run(&model, &train, &loader, data(&tokens), dp_dir.path(), &TrainOptions::default()).unwrap();
        assert_eq!((one.steps, one.tokens), (dp.steps, dp.tokens), "same global batch");
        assert_eq!(dp.devices, 2);
        assert_eq!(dp.device_placement.len(), 2);
        assert!(dp.data_parallel.starts_with("2 replicas"), "{}", dp.data_parallel);
        assert_eq!(one.data_parallel, "single replica");
        // Train rows only: validation batches are `rows × replicas` wide, so
        // they differ between the two layouts by design.
        let train_rows = |dir: &Path| curve(dir).into_iter().filter(|r| r.0 == "train").collect::<Vec<_>>();
        let (a, b) = (train_rows(one_dir.path()), train_rows(dp_dir.path()));
        assert_eq!(a.len(), 6);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((&x.0, x.1), (&y.0, y.1));
            approx::assert_relative_eq!(x.2, y.2, max_relative = 1e-5);
        }
    }

    #[test]
    fn more_cpu_devices_than_one_are_refused() {
        let (model, train, loader) = smoke_spec(1, 1e-3);
        let dir = tempfile::tempdir().unwrap();
        let opts = TrainOptions { devices: Some(2), ..Default::default() };
        let err = run(&model, &train, &loader, data(&repetitive(2000)), dir.path(), &opts).unwrap_err();
        assert!(format!("{err:#}").contains("the CPU backend has one"), "{err:#}");
    }

    #[test]
    fn bf16_mixed_precision_learns_like_f32_and_says_what_ran() {
        let tokens = repetitive(8192);
        let bound = unigram_entropy(&tokens);
        let (model, mut train, loader) = smoke_spec(40, 3e-3);
        let f32_dir = tempfile::tempdir().unwrap();
        let full =
            run(&model, &train, &loader, data(&tokens), f32_dir.path(), &TrainOptions::default()).unwrap();
        train.precision = Precision::Bf16Mixed;
        let dir = tempfile::tempdir().unwrap();
        let mixed =
            run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default()).unwrap();
        assert_eq!((full.precision.as_str(), mixed.precision.as_str()), ("f32", "bf16-mixed"));
        assert!(mixed.precision_note.contains("f32"), "{}", mixed.precision_note);
        // Rounded matmuls change the numbers but not whether it learns.
        assert_ne!(full.train_loss, mixed.train_loss);
        assert!(mixed.val_loss < 0.2 * bound, "bf16-mixed val loss {} vs entropy {bound}", mixed.val_loss);
        // The master weights stay f32 in the checkpoint.
        let latest = checkpoint::load_latest(&dir.path().join("checkpoints")).unwrap().unwrap();
        let record = Recorder::<backend::TrainBackend>::load(
            &Recorder32::default(),
            latest.model,
            &Default::default(),
        )
        .unwrap();
        let restored: Decoder<backend::TrainBackend> =
            decoder_shape(&model, &train).unwrap().init(&Default::default(), 0).load_record(record);
        assert_eq!(restored.blocks[0].attn.q.weight.val().dtype(), burn::tensor::DType::F32);
    }

    #[test]
    fn ids_beyond_the_model_vocabulary_are_a_clear_error() {
        // smoke_spec sizes the model for 64 ids; 70 has no embedding row.
        let tokens: Vec<u32> = (0..2000u32).map(|i| if i == 5 { 70 } else { i % 64 }).collect();
        let (model, train, loader) = smoke_spec(3, 1e-3);
        let dir = tempfile::tempdir().unwrap();
        let err = run(&model, &train, &loader, data(&tokens), dir.path(), &TrainOptions::default())
            .expect_err("id 70 must be refused");
        assert!(format!("{err:#}").contains("token id 70 is outside"), "{err:#}");
    }

    #[test]
    fn unresolved_specs_are_refused() {
        let (mut model, train, _) = smoke_spec(1, 1e-3);
        model.shape = ShapeRef::Named(crate::spec::model::ShapeName::Final);
        let err = decoder_shape(&model, &train).unwrap_err().to_string();
        assert!(err.contains("load the spec with a profile"), "{err}");
    }

    #[test]
    fn steps_follow_the_token_budget_formula() {
        let (_, mut train, _) = smoke_spec(1, 1e-3);
        train.tokens = 1_000_000;
        train.context = 100;
        train.batch_sequences = 5;
        train.accumulation = 2;
        train.devices = 2;
        assert_eq!(planned_steps(&train), 500);
    }
}

//! One optimizer step's forward and backward passes, data parallel over
//! replicas; the training loop and the step benchmark both run it.

use anyhow::{ensure, Result};
use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use super::checkpoint::RunState;
use super::loader;
use super::metrics::StepMeasures;
use super::model::{self, Decoder};

/// Host-side tensors of one micro-batch.
pub(crate) fn batch_tensors<B: Backend>(
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
    let logp = super::fused::log_softmax(logits, 2);
    let picked: Tensor<B, 2> = logp.gather(2, targets.unsqueeze_dim::<3>(2)).squeeze_dim::<2>(2);
    (picked.neg() * weights).sum()
}

/// Refuses ids the embedding has no row for: an out-of-range id would
/// index past the table. Happens when the tokenizer's vocabulary is larger
/// than `model.vocab` (the T06 mismatch must remap ids before training).
pub(crate) fn check_ids(batch: &loader::Batch, vocab: u32) -> Result<()> {
    let max = batch.inputs.iter().chain(&batch.targets).copied().max().unwrap_or(0);
    ensure!(
        max < vocab as i64,
        "token id {max} is outside the model's vocabulary of {vocab}: the tokenizer and \
         model.vocab disagree (remap ids or size model.vocab to the tokenizer)"
    );
    Ok(())
}

pub(crate) fn real_targets(batch: &loader::Batch) -> u64 {
    batch.positions() - batch.padding_tokens
}

/// One optimizer step's loss and summed gradients, data parallel: replica
/// r takes micro-batches `r·accumulation ..` on `placement[r]`, the
/// replicas running concurrently ([`run_replicas`]), each with its own copy
/// of the weights (fresh autodiff leaves, the same parameter ids), and the
/// gradients are summed on the master's device in replica order, so the
/// result does not depend on thread timing and equals `accumulation ×
/// replicas` accumulation on one device. This is what DDP's all-reduce
/// computes; it keeps the master weights in one place instead of one copy
/// per device.
pub(crate) fn data_parallel_step<B: AutodiffBackend>(
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
        run_replicas(replicas, &shares, real)?
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

/// Runs each replica's `replica_step` concurrently, results in replica order.
/// On rayon's pool when it has a worker per replica: the backend's own
/// parallel loops inside a replica (flex's batched matmuls, reductions, the
/// LM head's GEMM) then run in-worker, instead of each replica thread
/// handing them to the pool and sleeping until they finish (measured at the
/// `ci` shape: see README, "Benchmarks"). More replicas than workers (many
/// GPUs, few cores) get a thread each, so none waits for another.
fn run_replicas<B: AutodiffBackend>(
    replicas: Vec<Decoder<B>>,
    shares: &[&[loader::Batch]],
    real: u64,
) -> Result<Vec<(f64, GradientsParams)>> {
    let run = |(replica, share): (Decoder<B>, &&[loader::Batch])| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replica_step(&replica, share, real)))
    };
    let outcomes: Vec<std::thread::Result<(f64, GradientsParams)>> =
        if replicas.len() <= rayon::current_num_threads() {
            use rayon::prelude::*;
            replicas.into_par_iter().zip(shares.par_iter()).map(run).collect()
        } else {
            std::thread::scope(|scope| {
                let running: Vec<_> =
                    replicas.into_iter().zip(shares).map(|pair| scope.spawn(move || run(pair))).collect();
                running.into_iter().map(|h| h.join().and_then(|r| r)).collect()
            })
        };
    outcomes
        .into_iter()
        .enumerate()
        .map(|(r, outcome)| outcome.map_err(|_| anyhow::anyhow!("data-parallel replica {r} panicked")))
        .collect()
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

/// One optimizer step's summed gradients, clipped to `clip_norm` (0: no
/// clipping), with the step's loss and the gradient norm before clipping.
pub(crate) fn clipped_gradients<B: AutodiffBackend>(
    model: &Decoder<B>,
    placement: &[B::Device],
    micro_batches: &[loader::Batch],
    accumulation: usize,
    clip_norm: f64,
) -> Result<(f64, f64, GradientsParams)> {
    let (loss, mut grads) = data_parallel_step(model, placement, micro_batches, accumulation)?;
    let grad_norm = super::optim::clip_global_norm(model, &mut grads, clip_norm);
    Ok((loss, grad_norm, grads))
}

/// The micro-batches of one optimizer step (`accumulation` per replica) and
/// the seconds spent waiting for them; ids beyond `vocab` are refused.
pub(crate) fn next_micro_batches(
    batches: &mut dyn loader::BatchLoader,
    count: usize,
    vocab: u32,
) -> Result<(Vec<loader::Batch>, f64)> {
    let mut wait = 0.0;
    let mut micro_batches = Vec::with_capacity(count);
    for _ in 0..count {
        let tw = std::time::Instant::now();
        let batch = batches.next_batch()?;
        check_ids(&batch, vocab)?;
        micro_batches.push(batch);
        wait += tw.elapsed().as_secs_f64();
    }
    Ok((micro_batches, wait))
}

/// What `micro_batches` measured, for the train row of `metrics.csv`.
pub(crate) fn measures(
    micro_batches: &[loader::Batch],
    lr: f64,
    grad_norm: f64,
    step_time_s: f64,
    data_wait_s: f64,
    spike: bool,
) -> StepMeasures {
    StepMeasures {
        lr,
        grad_norm,
        step_time_s,
        data_wait_s,
        positions: micro_batches.iter().map(loader::Batch::positions).sum(),
        padding_tokens: micro_batches.iter().map(|b| b.padding_tokens).sum(),
        bytes_read: micro_batches.iter().map(|b| b.bytes_read).sum(),
        spike,
    }
}

/// Adds a finished step to the run's counters.
pub(crate) fn account(
    state: &mut RunState,
    micro_batches: &[loader::Batch],
    m: &StepMeasures,
    loss: f64,
    after_warmup: bool,
) {
    state.step += 1;
    state.tokens_seen += m.positions;
    state.real_tokens += micro_batches.iter().map(real_targets).sum::<u64>();
    state.padding_tokens += m.padding_tokens;
    state.truncated_tokens += micro_batches.iter().map(|b| b.truncated_tokens).sum::<u64>();
    state.bytes_read += m.bytes_read;
    state.train_seconds += m.step_time_s;
    state.data_wait_seconds += m.data_wait_s;
    state.last_train_loss = loss;
    if after_warmup {
        state.grad_norms_after_warmup.push(m.grad_norm);
    }
}

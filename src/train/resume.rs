//! Where a run starts (fresh, or from its newest checkpoint with `--resume`)
//! and how its model and optimizer are written into a checkpoint.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::checkpoint;
use super::loader::LoaderPosition;
use super::metrics;
use super::model::Decoder;
use super::optim;
use super::plan::{matmul_precision, Plan};
use crate::spec::train::TrainConfig;

pub(crate) type Recorder32 = BinBytesRecorder<FullPrecisionSettings>;

fn model_bytes<B: Backend>(model: &Decoder<B>) -> Result<Vec<u8>> {
    Recorder::<B>::record(&Recorder32::default(), model.clone().into_record(), ())
        .context("cannot serialize the model")
}

/// The model, optimizer and counters a run continues from.
pub(crate) struct Start<B: AutodiffBackend> {
    pub model: Decoder<B>,
    pub optim: optim::DecoupledAdamW<B, Decoder<B>>,
    pub state: checkpoint::RunState,
    /// The step of the checkpoint resumed from.
    pub resumed_from: Option<u64>,
}

/// A fresh start (clearing old checkpoints), or with `resume` the newest
/// checkpoint in `ckpt_dir` when there is one.
pub(crate) fn start<B: AutodiffBackend>(
    plan: &Plan,
    train: &TrainConfig,
    device: &B::Device,
    ckpt_dir: &Path,
    resume: bool,
) -> Result<Start<B>> {
    let mut model: Decoder<B> = plan.shape.init(device, train.seed).with_precision(matmul_precision(train));
    let mut optim = optim::DecoupledAdamW::<B, Decoder<B>>::new(&train.optimizer);
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
    if !resume {
        checkpoint::clear(ckpt_dir)?;
    }
    if resume {
        if let Some(ckpt) = checkpoint::load_latest(ckpt_dir)? {
            ensure!(
                ckpt.state.config_fingerprint == plan.fingerprint,
                "the checkpoints in {} come from a different model/train configuration: use a fresh --out",
                ckpt_dir.display()
            );
            let record = Recorder::<B>::load(&Recorder32::default(), ckpt.model, device)
                .context("cannot decode the model of the checkpoint")?;
            model = model.load_record(record);
            optim = optim.load_bytes(ckpt.optim_decay, ckpt.optim_no_decay, device)?;
            resumed_from = Some(ckpt.state.step);
            state = ckpt.state;
        }
    }
    Ok(Start { model, optim, state, resumed_from })
}

/// Writes the checkpoint of the step `state` ends.
pub(crate) fn save<B: AutodiffBackend>(
    ckpt_dir: &Path,
    state: &checkpoint::RunState,
    model: &Decoder<B>,
    optim: &optim::DecoupledAdamW<B, Decoder<B>>,
) -> Result<()> {
    let (optim_decay, optim_no_decay) = optim.to_bytes()?;
    checkpoint::save(
        ckpt_dir,
        &checkpoint::Checkpoint {
            state: state.clone(),
            model: model_bytes(model)?,
            optim_decay,
            optim_no_decay,
        },
    )?;
    Ok(())
}

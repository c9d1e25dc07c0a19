//! Validation loss: the same batches from the start of the validation split every time.

use anyhow::{Context, Result};
use burn::prelude::ElementConversion;
use burn::tensor::backend::Backend;

use super::data::TrainData;
use super::loader::{self, BatchLoader, LoaderPosition, LoaderSetup, TokenSource};
use super::model::Decoder;
use super::step::{batch_tensors, check_ids, real_targets, summed_nll};
use crate::spec::train::TrainConfig;

/// Mean validation loss over `eval_batches` batches from the start of the
/// validation split, in stream order.
pub(crate) fn validate<B: Backend>(
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
    };
    let (mut nll, mut count) = (0.0, 0u64);
    for _ in 0..train.eval_batches {
        let batch = loader.next_batch()?;
        check_ids(&batch, vocab).context("validation split")?;
        let (inputs, targets, weights) = batch_tensors::<B>(&batch, device);
        nll += summed_nll(model.forward(inputs), targets, weights).into_scalar().elem::<f64>();
        count += real_targets(&batch);
    }
    Ok(nll / count.max(1) as f64)
}

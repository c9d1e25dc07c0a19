//! From the tokenize stage's outputs to what a training run reads: the
//! memory-mapped shards as token stores, the documents for the released
//! loader, the curriculum order, and bytes per token for bits per byte.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::loader::{epoch_order, fraction_of, Encode, TokenSource, TokenStore, VecStore};
use super::TrainData;
use crate::prepare::output::{read_documents, Split};
use crate::spec::train::{DataOrder, LoaderKind, TrainConfig};
use crate::spec::Spec;
use crate::tex::math::math_spans;
use crate::tokenize::recipes::{eos_id, pad_id};
use crate::tokenize::shards::{load_tokenizer, ShardReader, TRAIN_SHARD, VALIDATION_SHARD};

/// A packed shard, memory-mapped.
impl TokenStore for ShardReader {
    fn len(&self) -> usize {
        ShardReader::len(self)
    }

    fn read(&self, start: usize, out: &mut [u32]) {
        let tokens = self.tokens(start..start + out.len());
        out.copy_from_slice(&tokens);
    }

    /// Bytes of the token stream on disk (the I runs compare bytes read).
    fn source_bytes(&self) -> u64 {
        self.len() as u64 * u64::from(self.header().token_bytes)
    }
}

/// Where the stages before training left their outputs.
pub struct StageInputs<'a> {
    /// The tokenize stage's directory (`train.bin`, `validation.bin`, `shards.json`).
    pub shards: &'a Path,
    pub tokenizer: &'a Path,
    /// `documents.jsonl` of the prepare stage (the released loader and the curriculum read it).
    pub documents: &'a Path,
}

/// How much of the training data a run uses, resolved against the real shard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// Share of the training tokens (documents for the released loader) the run reads.
    pub fraction: f64,
    /// Training tokens in that share.
    pub used_tokens: u64,
    /// Passes of the token budget over them.
    pub epochs: f64,
}

/// The share of the training data a run uses: `data.epochs` resolved into a fraction of this
/// shard (`budget / (epochs × train tokens)`, at most all of it), else `data.fraction`.
pub fn sizing(train: &TrainConfig, train_tokens: usize) -> Sizing {
    let fraction = match train.data.epochs {
        Some(epochs) => (train.tokens as f64 / (epochs * train_tokens.max(1) as f64)).min(1.0),
        None => train.data.fraction,
    };
    let used_tokens = fraction_of(train_tokens, fraction) as u64;
    Sizing { fraction, used_tokens, epochs: train.tokens as f64 / used_tokens.max(1) as f64 }
}

/// The run's train settings with its data share resolved on the real shard (see [`sizing`]),
/// and that sizing. The curriculum builds its own stream of the budget's length, so the
/// loader reads all of it once.
pub fn sized_train(spec: &Spec, inputs: &StageInputs<'_>) -> Result<(TrainConfig, Sizing)> {
    let (_, hash) = load_tokenizer(inputs.tokenizer)?;
    let path = inputs.shards.join(TRAIN_SHARD);
    let shard = ShardReader::open(&path, Some(&hash))
        .with_context(|| format!("cannot open the token shard {}", path.display()))?;
    let sizing = sizing(&spec.train, shard.len());
    let mut train = spec.train.clone();
    train.data.fraction = if train.data.order == DataOrder::Curriculum { 1.0 } else { sizing.fraction };
    Ok((train, sizing))
}

/// Builds the run's train and validation token sources as its spec asks.
pub fn train_data(spec: &Spec, inputs: &StageInputs<'_>) -> Result<TrainData> {
    let (tokenizer, hash) = load_tokenizer(inputs.tokenizer)?;
    let open = |name: &str| {
        let path = inputs.shards.join(name);
        ShardReader::open(&path, Some(&hash))
            .with_context(|| format!("cannot open the token shard {}", path.display()))
    };
    let train = open(TRAIN_SHARD)?;
    let val = open(VALIDATION_SHARD)?;
    if val.is_empty() {
        bail!(
            "the validation shard in {} is empty: the corpus kept too few documents for data.split.validation_every; \
             use a larger corpus or a smaller validation_every",
            inputs.shards.display()
        );
    }
    let eos = train.header().eos_id;
    let pad = pad_id(&tokenizer).or(eos_id(&tokenizer)).unwrap_or(eos);
    // Bits per byte: the validation text's UTF-8 bytes over its tokens.
    let bytes_per_token = val.header().source_bytes as f64 / val.len() as f64;
    let curriculum = spec.train.data.order == DataOrder::Curriculum;
    let train_source = match spec.loader.kind {
        LoaderKind::JsonlOnTheFly => {
            let mut texts: Vec<String> = read_documents(inputs.documents)?
                .into_iter()
                .filter(|d| d.split == Split::Train)
                .map(|d| d.text)
                .collect();
            if curriculum {
                texts.sort_by(|a, b| math_density(a).total_cmp(&math_density(b)));
            }
            let tokenizer = Arc::new(tokenizer);
            let encode: Encode = Arc::new(move |text: &str| {
                tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
            });
            TokenSource::Documents { docs: Arc::new(texts), encode }
        }
        LoaderKind::PackedMmap | LoaderKind::PackedPrefetch if curriculum => {
            let stages = curriculum_stages(&train, inputs.documents, &spec.train)?;
            TokenSource::Packed(Arc::new(stages))
        }
        LoaderKind::PackedMmap | LoaderKind::PackedPrefetch => TokenSource::Packed(Arc::new(train)),
    };
    Ok(TrainData {
        train: train_source,
        val: TokenSource::Packed(Arc::new(val)),
        pad_id: pad,
        eos_id: eos,
        bytes_per_token,
    })
}

/// Share of a document's characters inside math: D02 trains prose-heavy documents first.
pub fn math_density(text: &str) -> f64 {
    let math: usize = math_spans(text).iter().map(|r| r.len()).sum();
    math as f64 / text.len().max(1) as f64
}

/// D02's two-stage curriculum as one token stream of the budget's length: the run's share of
/// the train shard's documents (split at eos, in `documents.jsonl` order; the same share
/// D03 reads) is split at the median math density; the first half of the budget draws from
/// the prose-heavy half, the second from the math-dense half, each in seeded shuffled passes
/// (repeating a stage's documents only if the stage is longer than them).
fn curriculum_stages(train: &ShardReader, documents: &Path, cfg: &TrainConfig) -> Result<VecStore> {
    let eos = train.header().eos_id;
    let tokens = train.tokens(0..train.len());
    let pieces: Vec<&[u32]> = tokens.split_inclusive(|&t| t == eos).collect();
    let densities: Vec<f64> = read_documents(documents)?
        .into_iter()
        .filter(|d| d.split == Split::Train)
        .map(|d| math_density(&d.text))
        .collect();
    if densities.len() != pieces.len() {
        bail!(
            "the train shard holds {} documents but {} lists {} train documents; rerun tokenize on these documents",
            pieces.len(),
            documents.display(),
            densities.len()
        );
    }
    let share = sizing(cfg, tokens.len()).fraction;
    let used = fraction_of(pieces.len(), share).max(2.min(pieces.len()));
    let (prose, math) = split_by_density(&densities[..used]);
    // Windows are context + 1 tokens at stride context: one extra window of slack per stage.
    let stage_len = (cfg.tokens as usize).div_ceil(2) + cfg.context as usize + 1;
    let mut stream = Vec::with_capacity(2 * stage_len);
    for (stage, docs) in [prose, math].iter().enumerate() {
        stream.extend(fill_stage(&pieces, docs, stage_len, cfg.seed ^ (stage as u64 + 1)));
    }
    Ok(VecStore::new(stream, u64::from(train.header().token_bytes)))
}

/// Document indices below and at-or-above the median density, each in document order.
fn split_by_density(densities: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..densities.len()).collect();
    order.sort_by(|&a, &b| densities[a].total_cmp(&densities[b]).then(a.cmp(&b)));
    let (low, high) = order.split_at(order.len() / 2);
    let (mut low, mut high) = (low.to_vec(), high.to_vec());
    low.sort_unstable();
    high.sort_unstable();
    (low, high)
}

/// `len` tokens from shuffled passes over `docs` (a new seeded order each pass).
fn fill_stage(pieces: &[&[u32]], docs: &[usize], len: usize, seed: u64) -> Vec<u32> {
    let mut out = Vec::with_capacity(len);
    let mut pass = 0;
    while out.len() < len && !docs.is_empty() {
        for i in epoch_order(docs.len(), seed, pass, true) {
            out.extend_from_slice(pieces[docs[i as usize]]);
            if out.len() >= len {
                break;
            }
        }
        pass += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curriculum_stages_split_at_the_median_and_fill_each_half() {
        let (low, high) = split_by_density(&[0.5, 0.1, 0.9, 0.2, 0.3]);
        assert_eq!((low, high), (vec![1, 3], vec![0, 2, 4]));
        let docs: Vec<Vec<u32>> = (0..4u32).map(|d| vec![d, d, 99]).collect();
        let pieces: Vec<&[u32]> = docs.iter().map(Vec::as_slice).collect();
        let stage = fill_stage(&pieces, &[0, 2], 10, 7);
        assert_eq!(stage.len(), 10, "a stage repeats its documents to its length");
        assert!(stage.iter().all(|t| [0, 2, 99].contains(t)), "{stage:?}");
        assert!(stage.contains(&0) && stage.contains(&2));
    }

    #[test]
    fn epochs_size_the_share_of_the_data() {
        let spec = crate::spec::load_one(crate::spec::SpecFiles::Embedded, "D01", "ci").unwrap().0;
        let mut train = spec.train.clone();
        let tokens = train.tokens as usize;
        let s = sizing(&train, 100 * tokens);
        assert!((s.epochs - 10.0).abs() < 0.01, "{s:?}");
        train.data.epochs = Some(1.0);
        assert!((sizing(&train, 100 * tokens).epochs - 1.0).abs() < 0.01);
        // A corpus smaller than the budget: all of it, repeated.
        let s = sizing(&train, tokens / 4);
        assert_eq!(s.fraction, 1.0);
        assert!((s.epochs - 4.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn math_density_counts_math_characters() {
        assert_eq!(math_density("plain prose only"), 0.0);
        let dense = math_density("$a+b=c$ and $x$");
        let light = math_density("Some words here and $x$");
        assert!(dense > light && light > 0.0, "{dense} {light}");
    }
}

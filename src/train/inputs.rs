//! From the tokenize stage's outputs to what a training run reads: the
//! memory-mapped shards as token stores, the documents for the released
//! loader, the curriculum order, and bytes per token for bits per byte.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::loader::{Encode, TokenSource, TokenStore, VecStore};
use super::TrainData;
use crate::prepare::latex::math::math_spans;
use crate::spec::train::{DataOrder, LoaderKind};
use crate::spec::Spec;
use crate::tokenize::documents::{read_documents, Split};
use crate::tokenize::recipes::{eos_id, pad_id};
use crate::tokenize::shards::{load_tokenizer, ShardReader};

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

/// Builds the run's train and validation token sources as its spec asks.
pub fn train_data(spec: &Spec, inputs: &StageInputs<'_>) -> Result<TrainData> {
    let (tokenizer, hash) = load_tokenizer(inputs.tokenizer)?;
    let open = |name: &str| {
        let path = inputs.shards.join(name);
        ShardReader::open(&path, Some(&hash))
            .with_context(|| format!("cannot open the token shard {}", path.display()))
    };
    let train = open("train.bin")?;
    let val = open("validation.bin")?;
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
            TokenSource::Packed(Arc::new(curriculum_order(&train, inputs.documents)?))
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

/// The train shard's documents (split at eos, in `documents.jsonl` order)
/// reordered by rising math density, stable, into memory. Fine at the `ci`
/// and `gpu` scales; at `paper` scale the shard would be rewritten in this order instead.
fn curriculum_order(train: &ShardReader, documents: &Path) -> Result<VecStore> {
    let eos = train.header().eos_id;
    let tokens = train.tokens(0..train.len());
    let mut pieces: Vec<&[u32]> = tokens.split_inclusive(|&t| t == eos).collect();
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
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by(|&a, &b| densities[a].total_cmp(&densities[b]));
    let reordered: Vec<u32> = order.iter().flat_map(|&i| pieces[i].iter().copied()).collect();
    pieces.clear();
    Ok(VecStore::new(reordered, u64::from(train.header().token_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_density_counts_math_characters() {
        assert_eq!(math_density("plain prose only"), 0.0);
        let dense = math_density("$a+b=c$ and $x$");
        let light = math_density("Some words here and $x$");
        assert!(dense > light && light > 0.0, "{dense} {light}");
    }
}

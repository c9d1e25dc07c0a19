//! The tokens a run trains and validates on, and the loader over them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::loader::{self, BatchLoader, LoaderSetup, TokenSource, TokenStore};
use crate::spec::train::LoaderKind;

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

pub(crate) fn make_loader(
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

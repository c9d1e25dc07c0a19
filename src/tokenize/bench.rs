//! `replicate bench tokenize` (and `cargo bench --bench tokenize`): encode
//! throughput of the shard path against the raw `tokenizers` call it is built
//! on, `encode_batch_fast` (no offsets), on the same text and thread pool, as
//! alternating pairs (see [`crate::bench`]).

use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::shards::{encode_texts, load_tokenizer, packing_for};
use crate::bench::{measure_pairs, Paired, Spread};
use crate::prepare::output::read_documents;
use crate::spec::tokenizer::ShardDtype;

/// The ratio of our throughput to raw `encode_batch_fast` we aim for.
pub const TARGET_RATIO: f64 = 0.9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub jobs: usize,
    pub documents: usize,
    pub text_bytes: u64,
    pub tokens: u64,
    /// A: raw `Tokenizer::encode_batch_fast`, B: ours (encode + pack into
    /// shard bytes, what `write_shards` does minus the disk).
    pub pairs: Paired,
}

impl BenchReport {
    /// Our throughput over the raw call's, per pair (target >= [`TARGET_RATIO`]).
    pub fn ratios(&self) -> Vec<f64> {
        self.pairs.speedups()
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokenize bench: {} documents, {:.2} MB, {} tokens, jobs {}",
            self.documents,
            self.text_bytes as f64 / 1e6,
            self.tokens,
            self.jobs,
        )?;
        for (name, seconds) in [
            ("raw encode_batch_fast", &self.pairs.a_seconds),
            ("ours (encode + pack)", &self.pairs.b_seconds),
        ] {
            if let Some(t) = Spread::of(seconds) {
                writeln!(
                    f,
                    "  {name:<24} {:>8.2} MB/s {:>12.0} tokens/s (median {:.3} s)",
                    self.text_bytes as f64 / 1e6 / t.median,
                    self.tokens as f64 / t.median,
                    t.median
                )?;
            }
        }
        writeln!(
            f,
            "  {}",
            self.pairs.describe(
                &format!("throughput ours/raw encode_batch_fast (target >= {TARGET_RATIO}x)"),
                &self.ratios()
            )
        )?;
        write!(f, "  {}", self.pairs.load)
    }
}

/// Times our path and the raw `encode_batch_fast` on every document of
/// `docs`, `pairs` alternating pairs, on a pool of `jobs` threads.
pub fn bench(tokenizer: &Path, docs: &Path, jobs: usize, pairs: usize) -> Result<BenchReport> {
    let (tok, _) = load_tokenizer(tokenizer)?;
    let documents = read_documents(docs)?;
    let texts: Vec<&str> = documents.iter().map(|d| d.text.as_str()).collect();
    let text_bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .context("cannot start the encode thread pool")?;
    let tokens = std::sync::atomic::AtomicU64::new(0);
    let pairs = measure_pairs(
        "raw encode_batch_fast",
        "ours",
        pairs,
        || pool.install(|| time(|| raw_fast(&tok, &texts))),
        || {
            pool.install(|| {
                time(|| {
                    let n = encode_and_pack(&tok, &texts)?;
                    tokens.store(n, std::sync::atomic::Ordering::Relaxed);
                    Ok(n)
                })
            })
        },
    )?;
    Ok(BenchReport {
        jobs: jobs.max(1),
        documents: texts.len(),
        text_bytes,
        tokens: tokens.into_inner(),
        pairs,
    })
}

fn time(f: impl FnOnce() -> Result<u64>) -> Result<f64> {
    let start = Instant::now();
    std::hint::black_box(f()?);
    Ok(start.elapsed().as_secs_f64())
}

/// The shard path: encode, then pack ids into the stored integers.
fn encode_and_pack(tok: &Tokenizer, texts: &[&str]) -> Result<u64> {
    let packing = packing_for(tok.get_vocab_size(true) as u32, ShardDtype::Auto, 0)?;
    let mut buf = Vec::new();
    let mut tokens = 0u64;
    for ids in encode_texts(tok, texts)? {
        buf.clear();
        packing.pack(&ids, &mut buf);
        tokens += ids.len() as u64;
    }
    std::hint::black_box(&buf);
    Ok(tokens)
}

fn raw_fast(tok: &Tokenizer, texts: &[&str]) -> Result<u64> {
    let encodings =
        tok.encode_batch_fast(texts.to_vec(), false).map_err(|e| anyhow!("encoding failed: {e}"))?;
    Ok(encodings.iter().map(|e| e.len() as u64).sum())
}

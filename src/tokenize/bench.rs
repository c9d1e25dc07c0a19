//! `replicate bench tokenize`: encode throughput of the shard path against the
//! raw `tokenizers` batch encode of the same text, in the same process and on
//! the same thread pool, so the ratio is free of machine noise between runs.

use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::documents::read_documents;
use super::shards::{encode_texts, load_tokenizer, packing_for};
use crate::spec::tokenizer::ShardDtype;

/// The ratio of our throughput to raw `encode_batch` we aim for.
pub const TARGET_RATIO: f64 = 0.9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub seconds: f64,
    pub mb_per_s: f64,
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub jobs: usize,
    pub repeats: usize,
    pub documents: usize,
    pub text_bytes: u64,
    pub tokens: u64,
    /// Encode + pack into shard bytes (what `write_shards` does, minus the disk).
    pub ours: Throughput,
    /// `Tokenizer::encode_batch` (offsets computed, as most callers use it).
    pub raw_encode_batch: Throughput,
    /// `Tokenizer::encode_batch_fast` (no offsets), the fastest raw path.
    pub raw_encode_batch_fast: Throughput,
    /// ours / raw `encode_batch`, throughput ratio (target >= 0.9).
    pub ratio: f64,
    pub ratio_vs_fast: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokenize bench: {} documents, {:.2} MB, {} tokens, jobs {}, best of {}",
            self.documents,
            self.text_bytes as f64 / 1e6,
            self.tokens,
            self.jobs,
            self.repeats
        )?;
        for (name, t) in [
            ("ours (encode + pack)", &self.ours),
            ("raw encode_batch", &self.raw_encode_batch),
            ("raw encode_batch_fast", &self.raw_encode_batch_fast),
        ] {
            writeln!(
                f,
                "  {name:<24} {:>8.2} MB/s {:>12.0} tokens/s ({:.3} s)",
                t.mb_per_s, t.tokens_per_s, t.seconds
            )?;
        }
        write!(
            f,
            "  ratio ours/raw encode_batch {:.2}x (target >= {TARGET_RATIO}x), ours/encode_batch_fast {:.2}x",
            self.ratio, self.ratio_vs_fast
        )
    }
}

/// Times the three encode paths on every document of `docs`, `repeats` times
/// each (interleaved, best kept), on a pool of `jobs` threads.
pub fn bench(tokenizer: &Path, docs: &Path, jobs: usize, repeats: usize) -> Result<BenchReport> {
    let (tok, _) = load_tokenizer(tokenizer)?;
    let documents = read_documents(docs)?;
    let texts: Vec<&str> = documents.iter().map(|d| d.text.as_str()).collect();
    let text_bytes: u64 = texts.iter().map(|t| t.len() as u64).sum();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .context("cannot start the encode thread pool")?;
    let repeats = repeats.max(1);
    let mut best = [f64::INFINITY; 3];
    let mut tokens = 0u64;
    for _ in 0..repeats {
        let (t, n) = pool.install(|| time(|| encode_and_pack(&tok, &texts)))?;
        best[0] = best[0].min(t);
        tokens = n;
        let (t, _) = pool.install(|| time(|| raw(&tok, &texts, false)))?;
        best[1] = best[1].min(t);
        let (t, _) = pool.install(|| time(|| raw(&tok, &texts, true)))?;
        best[2] = best[2].min(t);
    }
    let throughput = |seconds: f64| Throughput {
        seconds,
        mb_per_s: text_bytes as f64 / 1e6 / seconds,
        tokens_per_s: tokens as f64 / seconds,
    };
    Ok(BenchReport {
        jobs: jobs.max(1),
        repeats,
        documents: texts.len(),
        text_bytes,
        tokens,
        ours: throughput(best[0]),
        raw_encode_batch: throughput(best[1]),
        raw_encode_batch_fast: throughput(best[2]),
        ratio: best[1] / best[0],
        ratio_vs_fast: best[2] / best[0],
    })
}

fn time(f: impl FnOnce() -> Result<u64>) -> Result<(f64, u64)> {
    let start = Instant::now();
    let n = f()?;
    Ok((start.elapsed().as_secs_f64(), n))
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

fn raw(tok: &Tokenizer, texts: &[&str], fast: bool) -> Result<u64> {
    let encodings = if fast {
        tok.encode_batch_fast(texts.to_vec(), false)
    } else {
        tok.encode_batch(texts.to_vec(), false)
    }
    .map_err(|e| anyhow!("encoding failed: {e}"))?;
    Ok(encodings.iter().map(|e| e.len() as u64).sum())
}

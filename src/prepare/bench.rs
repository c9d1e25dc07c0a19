//! `replicate bench prepare`: throughput of each stage on a real input, with
//! a raw decompression pass over the same input in the same run as the yardstick.

use std::io::Read;
use std::time::Instant;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::driver::{run, PrepareInput, PrepareOptions};
use crate::corpus::source::{plan_inputs, read_unit, RawContent, RawPaper};
use crate::spec::data::DataConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageThroughput {
    pub stage: String,
    pub papers_in: u64,
    /// Worker seconds summed over threads.
    pub seconds: f64,
    /// Compressed input MB (10^6 bytes) per worker-second.
    pub compressed_mb_per_s: f64,
    pub papers_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub papers: u64,
    pub compressed_bytes: u64,
    pub jobs: usize,
    pub stages: Vec<StageThroughput>,
    /// Wall time of the whole prepare run (read, stages, finishing pass).
    pub total_seconds: f64,
    pub total_compressed_mb_per_s: f64,
    pub total_papers_per_s: f64,
    /// Wall time of reading and gunzipping every paper, nothing else.
    pub raw_decompress_seconds: f64,
    /// `total_seconds / raw_decompress_seconds`.
    pub ratio_to_raw: f64,
    /// Peak resident memory of this process (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
}

fn per_second(amount: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        amount / seconds
    } else {
        0.0
    }
}

/// Runs `prepare` into a scratch directory and a raw decompression pass over
/// the same input with the same worker count, returns the report (`render` formats it).
pub fn bench(cfg: &DataConfig, input: &PrepareInput, opts: &PrepareOptions) -> Result<BenchReport> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory for the benchmark")?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.jobs).build()?;

    let raw_seconds = raw_decompression_pass(input, &pool)?;
    let clock = Instant::now();
    let summary = run(cfg, input, scratch.path(), &PrepareOptions { shard: None, ..opts.clone() })?;
    let total_seconds = clock.elapsed().as_secs_f64();

    let mb = summary.bytes_in as f64 / 1e6;
    let stages = summary
        .timings
        .stages
        .iter()
        .zip(&summary.waterfall)
        .map(|(time, row)| StageThroughput {
            stage: time.stage.clone(),
            papers_in: row.papers_in,
            seconds: time.seconds,
            compressed_mb_per_s: per_second(mb, time.seconds),
            papers_per_s: per_second(row.papers_in as f64, time.seconds),
        })
        .collect();
    let report = BenchReport {
        papers: summary.papers_seen,
        compressed_bytes: summary.bytes_in,
        jobs: pool.current_num_threads(),
        stages,
        total_seconds,
        total_compressed_mb_per_s: per_second(mb, total_seconds),
        total_papers_per_s: per_second(summary.papers_seen as f64, total_seconds),
        raw_decompress_seconds: raw_seconds,
        ratio_to_raw: per_second(total_seconds, raw_seconds),
        peak_rss_kib: crate::io::peak_rss_bytes().map(|b| b / 1024),
    };
    Ok(report)
}

/// Reads every paper and gunzips it into the void: the floor any prepare run stands on.
fn raw_decompression_pass(input: &PrepareInput, pool: &rayon::ThreadPool) -> Result<f64> {
    let clock = Instant::now();
    let batch_size = pool.current_num_threads() * 2;
    let mut batch: Vec<RawPaper> = Vec::new();
    let gunzip_all = |batch: &mut Vec<RawPaper>| {
        pool.install(|| {
            batch.par_drain(..).for_each(|paper| {
                if let RawContent::Bytes(bytes) = paper.content {
                    let _ = std::io::copy(
                        &mut MultiGzDecoder::new(&bytes[..]).take(u64::MAX),
                        &mut std::io::sink(),
                    );
                }
            })
        })
    };
    for unit in plan_inputs(&input.src)? {
        read_unit(&unit, u64::MAX, false, &|_| true, &mut |paper| {
            batch.push(paper);
            if batch.len() >= batch_size {
                gunzip_all(&mut batch);
            }
            Ok(())
        })?;
    }
    gunzip_all(&mut batch);
    Ok(clock.elapsed().as_secs_f64())
}

pub fn render(r: &BenchReport) -> String {
    let mut s = format!(
        "prepare bench: {} papers, {:.1} MB compressed, {} worker(s)\n{:<12} {:>9} {:>10} {:>10} {:>11}\n",
        r.papers,
        r.compressed_bytes as f64 / 1e6,
        r.jobs,
        "stage",
        "papers",
        "worker s",
        "MB/s",
        "papers/s"
    );
    for st in &r.stages {
        s.push_str(&format!(
            "{:<12} {:>9} {:>10.3} {:>10.1} {:>11.1}\n",
            st.stage, st.papers_in, st.seconds, st.compressed_mb_per_s, st.papers_per_s
        ));
    }
    s.push_str(&format!(
        "{:<12} {:>9} {:>10.3} {:>10.1} {:>11.1}   (wall)\nraw read+gunzip pass: {:.3} s wall; prepare/raw = {:.2}x\npeak RSS: {}\n",
        "total",
        r.papers,
        r.total_seconds,
        r.total_compressed_mb_per_s,
        r.total_papers_per_s,
        r.raw_decompress_seconds,
        r.ratio_to_raw,
        r.peak_rss_kib.map_or("unknown".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_of_zero_seconds_is_zero_not_infinite() {
        assert_eq!(per_second(5.0, 0.0), 0.0);
        assert_eq!(per_second(5.0, 2.0), 2.5);
    }
}

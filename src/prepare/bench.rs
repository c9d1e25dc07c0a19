//! `replicate bench prepare` (and `cargo bench --bench prepare`): `prepare`
//! against a raw read-and-decompress pass over the same input, `--jobs N`
//! against `--jobs 1`, and the manifest hashing of a first run against a
//! rerun, each as alternating pairs (see [`crate::bench`]).
//!
//! The raw pass is the floor any prepare run stands on: the same reader and
//! the same streaming workers, every paper read, gunzipped, and every member
//! of its tar read out (into a reused buffer), nothing else. It is timed on
//! one worker (the floor issue 15's target is set against) and on as many
//! workers as prepare gets.
//!
//! A dump is prepared many times (Y01–Y06, reruns) and only the first run
//! hashes its bulk tars ([`crate::corpus::manifest::VerifiedTars`]), so the
//! comparisons time reruns: one untimed run records the stamps first. The
//! last comparison shows what the first run's hashing costs on top.

use std::io::Read;
use std::time::Instant;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::driver::{run, worker_count, PrepareInput, PrepareOptions, IN_FLIGHT_PER_WORKER};
use super::output::PrepareSummary;
use super::stream::{ordered_map, Feed, Feeder};
use super::validate::{sniff, Sniffed};
use crate::bench::{measure_pairs, Paired};
use crate::corpus::source::{plan_inputs, read_unit, RawContent, RawPaper};
use crate::spec::data::DataConfig;

/// Stage times below this are too short for a rate (it would be a division by ~0).
const MIN_RATED_SECONDS: f64 = 1e-3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageThroughput {
    pub stage: String,
    pub papers_in: u64,
    /// Worker seconds summed over threads.
    pub seconds: f64,
    /// Compressed input MB (10^6 bytes) per worker-second; `None` below [`MIN_RATED_SECONDS`].
    pub compressed_mb_per_s: Option<f64>,
    pub papers_per_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub papers: u64,
    pub compressed_bytes: u64,
    pub jobs: usize,
    /// Per-stage worker time of the last timed prepare run.
    pub stages: Vec<StageThroughput>,
    /// A: the raw pass on one worker, B: prepare with `jobs` workers (wall seconds).
    pub vs_raw_one_worker: Paired,
    /// A: the raw pass, B: prepare, both with `jobs` workers (wall seconds).
    pub vs_raw: Paired,
    /// A: prepare `--jobs 1`, B: prepare `--jobs {jobs}`; `None` when `jobs` is 1.
    pub vs_one_job: Option<Paired>,
    /// A: a rerun, B: a first run that hashes every bulk tar against its
    /// manifest, both with `jobs` workers; `None` when nothing is hashed (no
    /// manifest, or the spec does not check it).
    pub first_run: Option<Paired>,
    /// Peak resident memory of this process (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
}

fn rate(amount: f64, seconds: f64) -> Option<f64> {
    (seconds >= MIN_RATED_SECONDS).then(|| amount / seconds)
}

/// Measures `prepare` of `input` under `cfg` against the raw pass, and
/// against itself at one job, `pairs` alternating pairs each.
pub fn bench(
    cfg: &DataConfig,
    input: &PrepareInput,
    opts: &PrepareOptions,
    pairs: usize,
) -> Result<BenchReport> {
    let jobs = worker_count(opts.jobs);
    let stamps = tempfile::tempdir().context("cannot create a scratch directory for the benchmark")?;
    let rerun =
        PrepareOptions { shard: None, verified_tars: Some(stamps.path().to_path_buf()), ..opts.clone() };
    let first = PrepareOptions { verified_tars: None, ..rerun.clone() };
    let last: std::cell::RefCell<Option<PrepareSummary>> = Default::default();
    let prepare = |jobs: usize, opts: &PrepareOptions| -> Result<f64> {
        let (seconds, summary) = timed_prepare(cfg, input, &PrepareOptions { jobs, ..opts.clone() })?;
        *last.borrow_mut() = Some(summary);
        Ok(seconds)
    };
    // Records the stamps that make every later run a rerun.
    prepare(jobs, &rerun)?;
    let hashes_tars = std::fs::read_dir(stamps.path()).is_ok_and(|mut d| d.next().is_some());
    let vs_raw_one_worker = measure_pairs(
        "raw, 1 worker",
        "prepare",
        pairs,
        || raw_pass(cfg, input, 1),
        || prepare(jobs, &rerun),
    )?;
    let vs_raw =
        measure_pairs("raw", "prepare", pairs, || raw_pass(cfg, input, jobs), || prepare(jobs, &rerun))?;
    let vs_one_job = if jobs > 1 {
        Some(measure_pairs(
            "jobs 1",
            &format!("jobs {jobs}"),
            pairs,
            || prepare(1, &rerun),
            || prepare(jobs, &rerun),
        )?)
    } else {
        None
    };
    let first_run = if hashes_tars {
        Some(measure_pairs("rerun", "first run", pairs, || prepare(jobs, &rerun), || prepare(jobs, &first))?)
    } else {
        None
    };
    let summary = last.into_inner().context("internal: the prepare bench timed no run")?;
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
            compressed_mb_per_s: rate(mb, time.seconds),
            papers_per_s: rate(row.papers_in as f64, time.seconds),
        })
        .collect();
    Ok(BenchReport {
        papers: summary.papers_seen,
        compressed_bytes: summary.bytes_in,
        jobs,
        stages,
        vs_raw_one_worker,
        vs_raw,
        vs_one_job,
        first_run,
        peak_rss_kib: crate::io::peak_rss_bytes().map(|b| b / 1024),
    })
}

/// One prepare run into a fresh scratch directory (a reused one would resume).
fn timed_prepare(
    cfg: &DataConfig,
    input: &PrepareInput,
    opts: &PrepareOptions,
) -> Result<(f64, PrepareSummary)> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory for the benchmark")?;
    let clock = Instant::now();
    let summary = run(cfg, input, scratch.path(), opts)?;
    Ok((clock.elapsed().as_secs_f64(), summary))
}

/// Reads every paper (same size cap as prepare) and decompresses all of it on
/// `workers` streaming workers; returns wall seconds.
fn raw_pass(cfg: &DataConfig, input: &PrepareInput, workers: usize) -> Result<f64> {
    let units = plan_inputs(&input.src)?;
    let cap = cfg.validation.max_paper_bytes;
    let clock = Instant::now();
    ordered_map(
        workers,
        workers * IN_FLIGHT_PER_WORKER + 2,
        |feeder: &Feeder<'_, RawPaper, u64>| {
            for unit in &units {
                read_unit(unit, cap, false, &|_| true, &mut |raw| {
                    let weight = match &raw.content {
                        RawContent::Bytes(bytes) => bytes.len() as u64,
                        _ => 0,
                    };
                    feeder.feed(Feed::Work { input: raw, weight })
                })?;
            }
            Ok(())
        },
        |raw: RawPaper| {
            Ok(match raw.content {
                RawContent::Bytes(bytes) => decompress_everything(&bytes),
                _ => 0,
            })
        },
        |bytes| {
            std::hint::black_box(bytes);
            Ok(())
        },
    )?;
    Ok(clock.elapsed().as_secs_f64())
}

/// Gunzips `bytes` when gzipped, then reads every member of the tar it holds;
/// returns the bytes decompressed and read. Damage ends the pass early (the
/// floor does not judge papers).
fn decompress_everything(bytes: &[u8]) -> u64 {
    let mut owned = Vec::new();
    let content: &[u8] = if sniff(bytes) == Sniffed::Gzip {
        let _ = MultiGzDecoder::new(bytes).read_to_end(&mut owned);
        &owned
    } else {
        bytes
    };
    if sniff(content) != Sniffed::Tar {
        return content.len() as u64;
    }
    let mut total = 0;
    let mut member = Vec::new();
    let mut archive = tar::Archive::new(content);
    let Ok(entries) = archive.entries() else {
        return content.len() as u64;
    };
    for entry in entries {
        let Ok(mut entry) = entry else { break };
        member.clear();
        if entry.read_to_end(&mut member).is_err() {
            break;
        }
        total += member.len() as u64;
    }
    total
}

pub fn render(r: &BenchReport) -> String {
    let mut s = format!(
        "prepare bench: {} papers, {:.1} MB compressed, {} worker(s)\n\
         stage times of the last prepare run (worker seconds; no rate under {} ms)\n\
         {:<12} {:>9} {:>10} {:>10} {:>11}\n",
        r.papers,
        r.compressed_bytes as f64 / 1e6,
        r.jobs,
        MIN_RATED_SECONDS * 1e3,
        "stage",
        "papers",
        "worker s",
        "MB/s",
        "papers/s"
    );
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    for st in &r.stages {
        s.push_str(&format!(
            "{:<12} {:>9} {:>10.3} {:>10} {:>11}\n",
            st.stage,
            st.papers_in,
            st.seconds,
            show(st.compressed_mb_per_s),
            show(st.papers_per_s)
        ));
    }
    s.push_str("reruns (bulk tars verified by an earlier run are not hashed again; the last line adds the hashing)\n");
    let mut line = |p: &Paired, what: &str, ratios: Vec<f64>| {
        s.push_str(&p.describe(what, &ratios));
        s.push_str(&format!("\n  {}\n", p.load));
    };
    let one = &r.vs_raw_one_worker;
    line(
        one,
        &format!("prepare on {} / raw on 1 worker, wall time (target <= 1.3x)", r.jobs),
        one.time_ratios(),
    );
    line(&r.vs_raw, &format!("prepare / raw, both on {}, wall time", r.jobs), r.vs_raw.time_ratios());
    if let Some(p) = &r.vs_one_job {
        line(p, &format!("speedup of --jobs {} over --jobs 1 (target >= 1.8x on 2)", r.jobs), p.speedups());
    }
    if let Some(p) = &r.first_run {
        line(p, "first run (every bulk tar hashed) / rerun, wall time", p.time_ratios());
    }
    s.push_str(&format!(
        "peak RSS: {}\n",
        r.peak_rss_kib.map_or("unknown".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rate_from_a_near_zero_time() {
        assert_eq!(rate(5.0, 0.0), None);
        assert_eq!(rate(5.0, 2e-5), None);
        assert_eq!(rate(5.0, 2.0), Some(2.5));
    }

    #[test]
    fn the_raw_pass_reads_every_member_of_a_gzipped_tar() {
        let tar =
            crate::corpus::source::tests::tar_with(&[("a.tex", &[b'a'; 3000]), ("fig.eps", &[b'b'; 700])]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress_everything(&gz), 3700, "member bytes, not the outer gunzip's");
        assert_eq!(decompress_everything(&tar), 3700);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut single, b"\\documentclass{article}").unwrap();
        assert_eq!(decompress_everything(&single.finish().unwrap()), 23);
    }
}

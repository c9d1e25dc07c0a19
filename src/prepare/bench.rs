//! `replicate bench prepare` (and `cargo bench --bench prepare`): `prepare`
//! against a raw read-and-decompress pass over the same input, `--jobs N`
//! against `--jobs 1`, and the manifest hashing of a first run against a
//! rerun, each as alternating pairs (see [`crate::bench`]). With `--redpajama
//! DIR` a last comparison times RedPajama's arXiv cleaner on the same bulk
//! tars and compares the papers each keeps ([`super::redpajama`]).
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
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::driver::{run, worker_count, PrepareInput, PrepareOptions, IN_FLIGHT_PER_WORKER};
use super::output::PrepareSummary;
use super::redpajama::{self, Cleaner, OurRun, RedPajamaRow};
use super::stream::{ordered_map, Feed, Feeder};
use super::validate::{sniff, Sniffed};
use crate::bench::{measure_pairs, Paired, Spread};
use crate::corpus::source::{plan_inputs, read_unit, RawContent, RawPaper};
use crate::spec::data::{DataConfig, LanguageMode};

/// Stage times below this are too short for a rate (it would be a division by ~0).
const MIN_RATED_SECONDS: f64 = 1e-3;

/// Issue 15's targets: prepare on every worker within this multiple of the
/// raw pass on one worker, wall time ...
pub const RAW_RATIO_TARGET: f64 = 1.3;
/// ... and `--jobs 2` this many times as fast as `--jobs 1`.
pub const JOBS_SPEEDUP_TARGET: f64 = 1.8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageThroughput {
    pub stage: String,
    /// Papers the workers took into the stage: every copy of a paper the input
    /// repeats, as the worker seconds count them (the ledger counts one).
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
    /// A: the raw pass on one worker, B: prepare with `jobs` workers and its
    /// language filter off (no prose mask, no detector): what the rest of
    /// prepare costs against [`RAW_RATIO_TARGET`] without the costliest
    /// filter; `None` when the spec has it off already. Papers the filter
    /// would drop are kept, so this times a slightly different run: a
    /// diagnosis, not a result.
    #[serde(default)]
    pub vs_raw_without_language: Option<Paired>,
    /// A: prepare `--jobs 1`, B: prepare `--jobs {jobs}`; `None` when `jobs` is 1.
    pub vs_one_job: Option<Paired>,
    /// The CPU time behind `vs_one_job`, which bounds the speedup it can show.
    #[serde(default)]
    pub one_job_cpu: Option<CpuUse>,
    /// A: a rerun, B: a first run that hashes every bulk tar against its
    /// manifest, both with `jobs` workers; `None` when nothing is hashed (no
    /// manifest, or the spec does not check it).
    pub first_run: Option<Paired>,
    /// A: RedPajama's arXiv cleaner, B: prepare, both with `jobs` workers, and the
    /// papers each kept; `None` without `--redpajama`, a skipped row when the
    /// cleaner could not run.
    #[serde(default)]
    pub redpajama: Option<RedPajamaRow>,
    /// Peak resident memory of this process (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
}

/// CPU seconds (this process, every thread) of the runs of a [`Paired`] comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuUse {
    pub a_cpu_seconds: Vec<f64>,
    pub b_cpu_seconds: Vec<f64>,
}

impl CpuUse {
    /// Median cores busy (CPU over wall seconds) of A's runs and of B's.
    pub fn cores_busy(&self, timing: &Paired) -> Option<(f64, f64)> {
        let busy = |cpu: &[f64], wall: &[f64]| {
            let per_run: Vec<f64> = cpu.iter().zip(wall).map(|(c, w)| c / w).collect();
            Spread::of(&per_run).map(|s| s.median)
        };
        Some((busy(&self.a_cpu_seconds, &timing.a_seconds)?, busy(&self.b_cpu_seconds, &timing.b_seconds)?))
    }

    /// The speedup B would show over A with all `cores` busy on B's CPU work:
    /// `cores` x A's median wall / B's median CPU seconds. Below `cores` when A
    /// already overlaps work on other threads or B does more work in all.
    pub fn speedup_ceiling(&self, timing: &Paired, cores: usize) -> Option<f64> {
        let a_wall = Spread::of(&timing.a_seconds)?.median;
        let b_cpu = Spread::of(&self.b_cpu_seconds)?.median;
        (b_cpu > 0.0).then(|| cores as f64 * a_wall / b_cpu)
    }
}

/// What [`RAW_RATIO_TARGET`] leaves prepare to spend, against what it spends:
/// the CPU its `--jobs N` runs may take at the cores they keep busy, and how
/// much of that the decompression takes, which the raw pass does too and
/// prepare cannot skip (a gzipped tar is inflated whole to reach its members).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawTargetBudget {
    /// Target x the raw pass's median wall seconds x prepare's median cores busy.
    pub cpu_allowed: f64,
    /// Prepare's median CPU seconds (every thread).
    pub cpu_now: f64,
    /// Worker seconds of the validation stage (gunzip and tar walk) in the last run.
    pub decompression: f64,
}

impl BenchReport {
    /// `None` without a `--jobs N` comparison (one worker) or a validation stage time.
    pub fn raw_target_budget(&self) -> Option<RawTargetBudget> {
        let (timing, cpu) = (self.vs_one_job.as_ref()?, self.one_job_cpu.as_ref()?);
        let (_, busy) = cpu.cores_busy(timing)?;
        let raw = Spread::of(&self.vs_raw_one_worker.a_seconds)?.median;
        let validation = super::output::stage_name(crate::ledger::LedgerStage::Validation);
        Some(RawTargetBudget {
            cpu_allowed: RAW_RATIO_TARGET * raw * busy,
            cpu_now: Spread::of(&cpu.b_cpu_seconds)?.median,
            decompression: self.stages.iter().find(|s| s.stage == validation)?.seconds,
        })
    }
}

/// Runs `run` (which returns wall seconds) and pushes the CPU seconds this
/// process spent meanwhile onto `cpu` (nothing where they cannot be read).
fn with_cpu(cpu: &mut Vec<f64>, run: impl FnOnce() -> Result<f64>) -> Result<f64> {
    let before = crate::io::process_cpu_seconds();
    let wall = run()?;
    if let (Some(before), Some(after)) = (before, crate::io::process_cpu_seconds()) {
        cpu.push(after - before);
    }
    Ok(wall)
}

fn rate(amount: f64, seconds: f64) -> Option<f64> {
    (seconds >= MIN_RATED_SECONDS).then(|| amount / seconds)
}

/// Measures `prepare` of `input` under `cfg` against the raw pass, and
/// against itself at one job, `pairs` alternating pairs each; with `redpajama`
/// (a checkout of RedPajama-Data's `data_prep/arxiv`) against its cleaner too.
pub fn bench(
    cfg: &DataConfig,
    input: &PrepareInput,
    opts: &PrepareOptions,
    pairs: usize,
    redpajama: Option<&Path>,
) -> Result<BenchReport> {
    let jobs = worker_count(opts.jobs);
    let stamps = tempfile::tempdir().context("cannot create a scratch directory for the benchmark")?;
    let rerun =
        PrepareOptions { shard: None, verified_tars: Some(stamps.path().to_path_buf()), ..opts.clone() };
    let first = PrepareOptions { verified_tars: None, ..rerun.clone() };
    let last: std::cell::RefCell<Option<PrepareSummary>> = Default::default();
    let quiet_run = |cfg: &DataConfig, jobs: usize, opts: &PrepareOptions| {
        without_warnings(|| timed_prepare(cfg, input, &PrepareOptions { jobs, ..opts.clone() }))
    };
    let prepare = |jobs: usize, opts: &PrepareOptions| -> Result<f64> {
        let (seconds, summary) = quiet_run(cfg, jobs, opts)?;
        *last.borrow_mut() = Some(summary);
        Ok(seconds)
    };
    // Records the stamps that make every later run a rerun, and logs the
    // input's warnings, which every later run would repeat word for word.
    timed_prepare(cfg, input, &PrepareOptions { jobs, ..rerun.clone() })?;
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
    let vs_raw_without_language = match without_language_filter(cfg) {
        Some(unfiltered) => Some(measure_pairs(
            "raw, 1 worker",
            "prepare, language filter off",
            pairs,
            || raw_pass(cfg, input, 1),
            || quiet_run(&unfiltered, jobs, &rerun).map(|(seconds, _)| seconds),
        )?),
        None => None,
    };
    let (mut a_cpu, mut b_cpu) = (Vec::new(), Vec::new());
    let vs_one_job = if jobs > 1 {
        Some(measure_pairs(
            "jobs 1",
            &format!("jobs {jobs}"),
            pairs,
            || with_cpu(&mut a_cpu, || prepare(1, &rerun)),
            || with_cpu(&mut b_cpu, || prepare(jobs, &rerun)),
        )?)
    } else {
        None
    };
    let one_job_cpu = (vs_one_job.is_some() && !a_cpu.is_empty())
        .then_some(CpuUse { a_cpu_seconds: a_cpu, b_cpu_seconds: b_cpu });
    let first_run = if hashes_tars {
        Some(measure_pairs("rerun", "first run", pairs, || prepare(jobs, &rerun), || prepare(jobs, &first))?)
    } else {
        None
    };
    let redpajama = match redpajama {
        Some(dir) => Some(redpajama::compare(&Cleaner::new(dir), &input.src, jobs, pairs, || {
            let opts = PrepareOptions { jobs, ..rerun.clone() };
            let (seconds, summary, outcome) =
                without_warnings(|| timed_prepare_then(cfg, input, &opts, redpajama::our_outcome))?;
            Ok(OurRun { seconds, papers: summary.papers_seen, outcome })
        })?),
        None => None,
    };
    let summary = last.into_inner().context("internal: the prepare bench timed no run")?;
    let mb = summary.bytes_in as f64 / 1e6;
    let stages = summary
        .timings
        .stages
        .iter()
        .map(|time| StageThroughput {
            stage: time.stage.clone(),
            papers_in: time.papers,
            seconds: time.seconds,
            compressed_mb_per_s: rate(mb, time.seconds),
            papers_per_s: rate(time.papers as f64, time.seconds),
        })
        .collect();
    Ok(BenchReport {
        papers: summary.papers_seen,
        compressed_bytes: summary.bytes_in,
        jobs,
        stages,
        vs_raw_one_worker,
        vs_raw,
        vs_raw_without_language,
        vs_one_job,
        one_job_cpu,
        first_run,
        redpajama,
        peak_rss_kib: crate::io::peak_rss_bytes().map(|b| b / 1024),
    })
}

/// `cfg` with its language filter off; `None` when it is off already.
fn without_language_filter(cfg: &DataConfig) -> Option<DataConfig> {
    (cfg.filters.language.mode != LanguageMode::Off).then(|| {
        let mut unfiltered = cfg.clone();
        unfiltered.filters.language.mode = LanguageMode::Off;
        unfiltered
    })
}

/// Runs `f` with this thread's log events dropped: the end-of-run warnings
/// (papers given twice, as in copies of a corpus) come from the thread that
/// called prepare, once per timed run, 36 times in a bench with 5 pairs.
fn without_warnings<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

/// One prepare run into a fresh scratch directory (a reused one would resume).
fn timed_prepare(
    cfg: &DataConfig,
    input: &PrepareInput,
    opts: &PrepareOptions,
) -> Result<(f64, PrepareSummary)> {
    timed_prepare_then(cfg, input, opts, |_| Ok(())).map(|(seconds, summary, ())| (seconds, summary))
}

/// [`timed_prepare`], then `inspect` of its output directory (untimed) before it goes.
fn timed_prepare_then<T>(
    cfg: &DataConfig,
    input: &PrepareInput,
    opts: &PrepareOptions,
    inspect: impl FnOnce(&Path) -> Result<T>,
) -> Result<(f64, PrepareSummary, T)> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory for the benchmark")?;
    let clock = Instant::now();
    let summary = run(cfg, input, scratch.path(), opts)?;
    let seconds = clock.elapsed().as_secs_f64();
    Ok((seconds, summary, inspect(scratch.path())?))
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

/// Why the jobs speedup is what it is: how many cores each side kept busy,
/// and the most `jobs` fully busy cores could give on the work measured.
fn render_cpu_use(cpu: &CpuUse, timing: &Paired, jobs: usize) -> String {
    let (Some((one, many)), Some(ceiling)) = (cpu.cores_busy(timing), cpu.speedup_ceiling(timing, jobs))
    else {
        return String::new();
    };
    let median = |v: &[f64]| Spread::of(v).map_or(f64::NAN, |s| s.median);
    format!(
        "  cores busy (CPU / wall, medians): jobs 1 {one:.2}, jobs {jobs} {many:.2}; CPU seconds {:.2} / {:.2}; \
         ceiling with {jobs} fully busy cores: {ceiling:.2}x (jobs 1's reader and finisher threads already \
         overlap its worker)\n",
        median(&cpu.a_cpu_seconds),
        median(&cpu.b_cpu_seconds),
    )
}

/// Where prepare stands against [`RAW_RATIO_TARGET`] in CPU terms: the cut the
/// target asks for, of all the work and of the work past the decompression.
fn render_raw_budget(b: &RawTargetBudget) -> String {
    let cut = |allowed: f64, now: f64| {
        if allowed >= now {
            "met".to_string()
        } else {
            format!("{:.0}% less", 100.0 * (1.0 - allowed.max(0.0) / now))
        }
    };
    let rest_allowed = b.cpu_allowed - b.decompression;
    let rest_now = b.cpu_now - b.decompression;
    format!(
        "  what {RAW_RATIO_TARGET}x leaves at the cores prepare keeps busy: {:.2} CPU s (now {:.2} s: {}); \
         its decompression (validation, the raw pass's work too) takes {:.2} s of them, leaving the rest \
         {:.2} s (now {:.2} s: {})\n",
        b.cpu_allowed,
        b.cpu_now,
        cut(b.cpu_allowed, b.cpu_now),
        b.decompression,
        rest_allowed,
        rest_now,
        cut(rest_allowed, rest_now),
    )
}

pub fn render(r: &BenchReport) -> String {
    let mut s = format!(
        "prepare bench: {} papers, {:.1} MB compressed, {} worker(s)\n\
         stage times of the last prepare run (papers the workers took in, every copy; worker seconds; no rate under {} ms)\n\
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
    let line =
        |p: &Paired, what: &str, ratios: Vec<f64>| format!("{}\n  {}\n", p.describe(what, &ratios), p.load);
    let one = &r.vs_raw_one_worker;
    s.push_str(&line(
        one,
        &format!("prepare on {} / raw on 1 worker, wall time (target <= {RAW_RATIO_TARGET}x)", r.jobs),
        one.time_ratios(),
    ));
    if let Some(budget) = r.raw_target_budget() {
        s.push_str(&render_raw_budget(&budget));
    }
    if let Some(p) = &r.vs_raw_without_language {
        let what = format!(
            "prepare without its language filter (no prose mask, no detector; a diagnosis: it keeps papers the filter drops) on {} / raw on 1 worker, wall time",
            r.jobs
        );
        s.push_str(&line(p, &what, p.time_ratios()));
    }
    s.push_str(&line(
        &r.vs_raw,
        &format!("prepare / raw, both on {}, wall time", r.jobs),
        r.vs_raw.time_ratios(),
    ));
    if let Some(p) = &r.vs_one_job {
        let what =
            format!("speedup of --jobs {} over --jobs 1 (target >= {JOBS_SPEEDUP_TARGET}x on 2)", r.jobs);
        s.push_str(&line(p, &what, p.speedups()));
        if let Some(cpu) = &r.one_job_cpu {
            s.push_str(&render_cpu_use(cpu, p, r.jobs));
        }
    }
    if let Some(p) = &r.first_run {
        s.push_str(&line(p, "first run (every bulk tar hashed) / rerun, wall time", p.time_ratios()));
    }
    if let Some(row) = &r.redpajama {
        s.push_str(&redpajama::render(row));
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

    fn paired(a: &[f64], b: &[f64]) -> Paired {
        Paired {
            a: "a".into(),
            b: "b".into(),
            a_seconds: a.to_vec(),
            b_seconds: b.to_vec(),
            load: crate::bench::Load { before: None, after: None },
        }
    }

    #[test]
    fn cpu_use_gives_cores_busy_and_the_speedup_ceiling() {
        let timing = paired(&[3.0, 3.2, 3.1], &[2.0, 1.8, 1.9]);
        // jobs 1 keeps 1.1 cores busy; jobs 2 spends 3.5 CPU seconds in 1.9 s.
        let cpu = CpuUse { a_cpu_seconds: vec![3.3, 3.52, 3.41], b_cpu_seconds: vec![3.6, 3.42, 3.5] };
        let (one, two) = cpu.cores_busy(&timing).unwrap();
        approx::assert_relative_eq!(one, 1.1, epsilon = 1e-9);
        approx::assert_relative_eq!(two, 3.5 / 1.9, epsilon = 1e-9);
        // 2 x 3.1 s / 3.5 s: below 2 because jobs 1 already overlapped work.
        approx::assert_relative_eq!(cpu.speedup_ceiling(&timing, 2).unwrap(), 6.2 / 3.5, epsilon = 1e-9);
        let text = render_cpu_use(&cpu, &timing, 2);
        assert!(
            text.contains(
                "jobs 1 1.10, jobs 2 1.84; CPU seconds 3.41 / 3.50; ceiling with 2 fully busy cores: 1.77x"
            ),
            "{text}"
        );
        let none = CpuUse { a_cpu_seconds: vec![], b_cpu_seconds: vec![] };
        assert_eq!(none.cores_busy(&timing), None);
        assert_eq!(render_cpu_use(&none, &timing, 2), "");
    }

    fn report_with(
        raw_one_worker: &[f64],
        jobs2_wall: &[f64],
        jobs2_cpu: &[f64],
        validation: f64,
    ) -> BenchReport {
        let stage = |stage: &str, seconds: f64| StageThroughput {
            stage: stage.into(),
            papers_in: 10,
            seconds,
            compressed_mb_per_s: None,
            papers_per_s: None,
        };
        BenchReport {
            papers: 10,
            compressed_bytes: 1,
            jobs: 2,
            stages: vec![stage("metadata", 0.0), stage("validation", validation), stage("cleaning", 0.9)],
            vs_raw_one_worker: paired(raw_one_worker, jobs2_wall),
            vs_raw: paired(&[0.4], &[1.0]),
            vs_raw_without_language: None,
            vs_one_job: Some(paired(&[2.0, 2.0, 2.0], jobs2_wall)),
            one_job_cpu: Some(CpuUse { a_cpu_seconds: vec![2.1; 3], b_cpu_seconds: jobs2_cpu.to_vec() }),
            first_run: None,
            redpajama: None,
            peak_rss_kib: None,
        }
    }

    #[test]
    fn the_raw_target_budget_is_the_cpu_the_target_allows_at_the_cores_kept_busy() {
        let report = report_with(&[0.70, 0.68, 0.66], &[1.0, 1.1, 1.05], &[2.0, 2.1, 2.05], 0.75);
        let budget = report.raw_target_budget().unwrap();
        // Cores busy per run: 2.0, 1.909, 1.952 (median); the raw pass's median 0.68 s.
        let busy = 2.05 / 1.05;
        approx::assert_relative_eq!(budget.cpu_allowed, RAW_RATIO_TARGET * 0.68 * busy, epsilon = 1e-9);
        approx::assert_relative_eq!(budget.cpu_now, 2.05, epsilon = 1e-9);
        approx::assert_relative_eq!(budget.decompression, 0.75, epsilon = 1e-9);
        let text = render_raw_budget(&budget);
        // 1.73 of 2.05 s is 16% less; past the 0.75 s of decompression, 0.98 of 1.30 s is 25% less.
        assert!(text.contains("1.73 CPU s (now 2.05 s: 16% less)"), "{text}");
        assert!(
            text.contains("takes 0.75 s of them, leaving the rest 0.98 s (now 1.30 s: 25% less)"),
            "{text}"
        );
        let fast = report_with(&[0.70, 0.68, 0.66], &[0.8, 0.8, 0.8], &[1.5, 1.5, 1.5], 0.75);
        let text = render_raw_budget(&fast.raw_target_budget().unwrap());
        assert!(text.contains("(now 1.50 s: met)") && text.contains("(now 0.75 s: met)"), "{text}");
        let one_worker = BenchReport { vs_one_job: None, one_job_cpu: None, ..report };
        assert_eq!(one_worker.raw_target_budget(), None);
    }

    #[test]
    fn the_diagnosis_run_differs_from_the_spec_in_the_language_filter_only() {
        let (spec, _) = crate::spec::load_one(crate::spec::SpecFiles::Embedded, "Y06", "ci").unwrap();
        assert_eq!(spec.data.filters.language.mode, LanguageMode::ProseOnly);
        let unfiltered = without_language_filter(&spec.data).unwrap();
        assert_eq!(unfiltered.filters.language.mode, LanguageMode::Off);
        let mut back = unfiltered.clone();
        back.filters.language.mode = LanguageMode::ProseOnly;
        assert_eq!(back, spec.data);
        assert_eq!(without_language_filter(&unfiltered), None, "nothing to take away");
    }

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

//! `replicate bench metadata`: the metadata index against a raw read of the
//! snapshot in the same run (the targets: index build ≤ 3× the raw
//! read; `prepare` with the index ≤ 200 MB RSS at 2.7M records; the same
//! ledger and yield table through the index as through the snapshot).
//!
//! The raw read is what every shard paid before the index: one pass of the
//! snapshot reader (gunzip, split lines, parse JSON) keeping nothing. Raw
//! read and index build alternate (A B, B A, …) so drift in the machine's
//! load falls on both; the paired ratios are reported min–median–max with
//! the load average. Peak memory comes from `prepare` children, each
//! reporting its own `VmHWM` (`REPLICATE_PEAK_RSS`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::metadata_index::build;
use super::output::{LEDGER_FILE, YIELD_FILE};
use crate::corpus::metadata::for_each_record;
use crate::corpus::metadata_synth;

pub struct MetadataBenchOptions {
    /// An existing snapshot; `None` generates one of `records` records.
    pub snapshot: Option<PathBuf>,
    pub records: u64,
    pub pairs: usize,
    /// Appended to a generated snapshot (gzip member) so the papers of
    /// `prepare_args`' `--src` have records: the real corpus's metadata.
    pub extra_records: Option<PathBuf>,
    /// `replicate prepare` arguments except `--metadata` and `--out`.
    pub prepare_args: Vec<String>,
    /// Where the snapshot, the index and the prepare outputs go.
    pub scratch: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareMeasure {
    pub metadata: PathBuf,
    pub peak_rss_bytes: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataBenchReport {
    pub snapshot: PathBuf,
    pub records: u64,
    pub snapshot_bytes: u64,
    pub index_bytes: u64,
    /// (raw read seconds, index build seconds) per pair.
    pub pairs: Vec<(f64, f64)>,
    /// Index build / raw read, min, median, max over the pairs.
    pub build_ratio: [f64; 3],
    /// /proc/loadavg (1, 5, 15 min) before and after the pairs.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
    pub prepare_with_index: PrepareMeasure,
    pub prepare_with_snapshot: PrepareMeasure,
    /// ledger.csv and yield.csv of both prepare runs are byte-identical.
    pub identical_results: bool,
}

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

fn raw_read(snapshot: &Path) -> Result<f64> {
    let clock = Instant::now();
    let mut records = 0u64;
    for_each_record(snapshot, |r| {
        records += u64::from(!r.id.is_empty());
        Ok(())
    })?;
    std::hint::black_box(records);
    Ok(clock.elapsed().as_secs_f64())
}

/// `[min, median, max]` (median of an even count: the mean of the middle two).
pub fn spread(values: &[f64]) -> [f64; 3] {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return [f64::NAN; 3];
    }
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    [v[0], median, v[n - 1]]
}

fn prepare_child(opts: &MetadataBenchOptions, metadata: &Path, out: &Path) -> Result<PrepareMeasure> {
    let exe = std::env::current_exe().context("cannot locate this program to run `prepare` as a child")?;
    let clock = Instant::now();
    let output = Command::new(exe)
        .arg("--quiet")
        .arg("prepare")
        .args(&opts.prepare_args)
        .arg("--metadata")
        .arg(metadata)
        .arg("--out")
        .arg(out)
        .env("REPLICATE_PEAK_RSS", "1")
        .output()
        .context("cannot start `replicate prepare`")?;
    let seconds = clock.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("`replicate prepare --metadata {}` failed:\n{stderr}", metadata.display());
    }
    let peak = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .context("the prepare child did not report its peak memory (not Linux?)")?;
    Ok(PrepareMeasure { metadata: metadata.to_path_buf(), peak_rss_bytes: peak, seconds })
}

fn append_gzip_member(snapshot: &Path, extra: &Path) -> Result<()> {
    let text = std::fs::read(extra).with_context(|| format!("cannot read {}", extra.display()))?;
    let file = std::fs::OpenOptions::new().append(true).open(snapshot)?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(&text)?;
    if !text.ends_with(b"\n") {
        gz.write_all(b"\n")?;
    }
    gz.finish()?;
    Ok(())
}

pub fn bench(opts: &MetadataBenchOptions) -> Result<MetadataBenchReport> {
    if opts.pairs == 0 {
        bail!("--pairs must be at least 1");
    }
    std::fs::create_dir_all(&opts.scratch)
        .with_context(|| format!("cannot create the scratch directory {}", opts.scratch.display()))?;
    let snapshot = match &opts.snapshot {
        Some(path) => path.clone(),
        None => {
            let path = opts.scratch.join("arxiv-metadata-oai-snapshot.json.gz");
            eprintln!("generating a {}-record snapshot at {}", opts.records, path.display());
            metadata_synth::generate(opts.records, 2602, true, &path)?;
            if let Some(extra) = &opts.extra_records {
                append_gzip_member(&path, extra)?;
            }
            path
        }
    };
    let index = opts.scratch.join("metadata-index.parquet");
    let load_before = load_average();
    let mut pairs = Vec::new();
    let mut records = 0;
    for k in 0..opts.pairs {
        let mut build_once = || -> Result<f64> {
            let report = build(&snapshot, &index)?;
            records = report.records;
            Ok(report.seconds)
        };
        let (raw, built) = if k % 2 == 0 {
            let raw = raw_read(&snapshot)?;
            (raw, build_once()?)
        } else {
            let built = build_once()?;
            (raw_read(&snapshot)?, built)
        };
        eprintln!("pair {}: raw read {raw:.2} s, index build {built:.2} s, ratio {:.2}", k + 1, built / raw);
        pairs.push((raw, built));
    }
    let load_after = load_average();
    let ratios: Vec<f64> = pairs.iter().map(|(raw, built)| built / raw).collect();

    let with_index = prepare_child(opts, &index, &opts.scratch.join("prepare-index"))?;
    let with_snapshot = prepare_child(opts, &snapshot, &opts.scratch.join("prepare-snapshot"))?;
    let mut identical = true;
    for file in [LEDGER_FILE, YIELD_FILE] {
        let a = std::fs::read(opts.scratch.join("prepare-index").join(file))?;
        let b = std::fs::read(opts.scratch.join("prepare-snapshot").join(file))?;
        identical &= a == b;
    }
    Ok(MetadataBenchReport {
        snapshot_bytes: std::fs::metadata(&snapshot)?.len(),
        index_bytes: std::fs::metadata(&index)?.len(),
        snapshot,
        records,
        build_ratio: spread(&ratios),
        pairs,
        load_before,
        load_after,
        prepare_with_index: with_index,
        prepare_with_snapshot: with_snapshot,
        identical_results: identical,
    })
}

pub fn render(r: &MetadataBenchReport) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    let load =
        |l: Option<[f64; 3]>| l.map_or("n/a".to_string(), |l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]));
    let [lo, mid, hi] = r.build_ratio;
    format!(
        "metadata bench: {} records, snapshot {:.0} MB ({}), index {:.0} MB\n\
         index build / raw read over {} alternating pairs: min {lo:.2}, median {mid:.2}, max {hi:.2} (target <= 3)\n\
         raw read median {:.2} s, index build median {:.2} s\n\
         load average before {}, after {}\n\
         prepare peak RSS with the index: {:.0} MB in {:.1} s (target <= 200 MB); with the snapshot: {:.0} MB in {:.1} s\n\
         ledger.csv and yield.csv identical through index and snapshot: {}\n",
        r.records,
        mb(r.snapshot_bytes),
        r.snapshot.display(),
        mb(r.index_bytes),
        r.pairs.len(),
        spread(&r.pairs.iter().map(|p| p.0).collect::<Vec<_>>())[1],
        spread(&r.pairs.iter().map(|p| p.1).collect::<Vec<_>>())[1],
        load(r.load_before),
        load(r.load_after),
        mb(r.prepare_with_index.peak_rss_bytes),
        r.prepare_with_index.seconds,
        mb(r.prepare_with_snapshot.peak_rss_bytes),
        r.prepare_with_snapshot.seconds,
        if r.identical_results { "yes" } else { "NO" },
    )
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_is_min_median_max() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), [1.0, 2.0, 3.0]);
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), [1.0, 2.5, 4.0]);
    }
}

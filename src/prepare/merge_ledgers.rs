//! `prepare merge`'s account of the shards' ledgers: the outcome counts of
//! every shard's own `ledger.parquet`, concatenated and grouped by
//! (stage, reason) with polars, beside the same counts of the merged ledger
//! (`merge.csv`).
//!
//! The merged ledger and yield table themselves come from the finishing pass
//! over every shard's parts ([`super::finish`]), not from adding the shards'
//! tables: exact and near dedup and the duplicate-input rule span shards, so
//! a paper a shard kept can leave at dedup once merged, and the yield
//! table's per-stage characters are not in any ledger. What the shards'
//! ledgers can tell, at millions of rows without parsing text, is whether
//! the merge accounted for the same papers (same rows, same input bytes:
//! else the merge fails) and which outcomes it re-decided across shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::{ChunkAgg, DataFrame, ParquetReader, SerReader};
use serde::{Deserialize, Serialize};

use super::output::{stage_name, write_csv_rows, AtomicFile, LEDGER_PARQUET_FILE};
use crate::ledger::LedgerStage;

/// The file `merge` writes beside the merged outputs.
pub const MERGE_FILE: &str = "merge.csv";

/// One `merge.csv` row: how many papers left at (stage, reason) by the
/// shards' own ledgers and by the merged one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCount {
    pub stage: String,
    /// Empty for kept papers.
    pub reason: String,
    pub papers_in_shards: u64,
    pub papers_merged: u64,
}

/// The columns the account reads (never the ids).
const COLUMNS: [&str; 3] = ["stage", "reason", "bytes_in"];

/// Fails unless every shard directory has its `ledger.parquet`; run before
/// the finishing pass so that a shard from an older version fails the merge
/// at once, not after the documents are rewritten.
pub fn require_shard_ledgers(shard_dirs: &[PathBuf]) -> Result<()> {
    for dir in shard_dirs {
        let path = dir.join(LEDGER_PARQUET_FILE);
        if !path.is_file() {
            bail!(
                "{} is missing: the shard in {} was prepared by a version that wrote ledger.csv only; \
                 rerun its `prepare --shard i/N` with the same arguments (its parts are reused, only the \
                 finishing pass reruns), then merge again",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

fn read_ledger(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ParquetReader::new(file)
        .with_columns(Some(COLUMNS.iter().map(|c| c.to_string()).collect()))
        .finish()
        .with_context(|| {
            format!("{} is not a readable ledger (damaged, or not written by `prepare`)", path.display())
        })
}

/// Papers that left at (stage, reason).
type Outcomes = Vec<(String, String, u64)>;

/// Papers per (stage, reason), and the input bytes of them all.
fn outcome_counts(ledger: &DataFrame) -> Result<(Outcomes, u64)> {
    let bytes = ledger.column("bytes_in")?.u64()?.sum().unwrap_or(0);
    let counts = ledger.group_by(["stage", "reason"])?.select(["bytes_in"]).count()?;
    let stages = counts.column("stage")?.str()?;
    let reasons = counts.column("reason")?.str()?;
    let papers = counts.column("bytes_in_count")?.idx()?;
    let mut rows = Vec::with_capacity(counts.height());
    for ((stage, reason), n) in stages.iter().zip(reasons.iter()).zip(papers.iter()) {
        rows.push((
            stage.unwrap_or_default().to_string(),
            reason.unwrap_or_default().to_string(),
            u64::from(n.unwrap_or(0)),
        ));
    }
    Ok((rows, bytes))
}

/// Position in the waterfall (kept papers last): rows read in the yield table's order.
fn stage_rank(stage: &str) -> usize {
    LedgerStage::WATERFALL
        .iter()
        .chain(std::iter::once(&LedgerStage::End))
        .position(|s| stage_name(*s) == stage)
        .unwrap_or(usize::MAX)
}

/// Counts the shards' ledgers against the merged one in `out`, fails if
/// they do not hold the same papers, and writes [`MERGE_FILE`].
pub fn account(shard_dirs: &[PathBuf], out: &Path) -> Result<Vec<OutcomeCount>> {
    let mut shards: Option<DataFrame> = None;
    for dir in shard_dirs {
        let ledger = read_ledger(&dir.join(LEDGER_PARQUET_FILE))?;
        match &mut shards {
            None => shards = Some(ledger),
            Some(all) => {
                all.vstack_mut(&ledger).with_context(|| {
                    format!("{} has other columns than the first shard's ledger", dir.display())
                })?;
            }
        }
    }
    let shards = shards.context("nothing to merge: no shard directory given")?;
    let merged_path = out.join(LEDGER_PARQUET_FILE);
    let merged = read_ledger(&merged_path)?;
    let (shard_counts, shard_bytes) = outcome_counts(&shards)?;
    let (merged_counts, merged_bytes) = outcome_counts(&merged)?;
    if shards.height() != merged.height() || shard_bytes != merged_bytes {
        bail!(
            "the merged ledger {} holds {} papers ({merged_bytes} input bytes) but the shards' ledgers hold {} \
             ({shard_bytes} bytes): a shard's outputs do not match its parts; rerun every shard's `prepare`, then merge",
            merged_path.display(),
            merged.height(),
            shards.height()
        );
    }
    let mut rows: BTreeMap<(usize, String), OutcomeCount> = BTreeMap::new();
    for (merged, counts) in [(false, shard_counts), (true, merged_counts)] {
        for (stage, reason, papers) in counts {
            let key = (stage_rank(&stage), reason.clone());
            let row = rows.entry(key).or_insert_with(|| OutcomeCount { stage, reason, ..Default::default() });
            *if merged { &mut row.papers_merged } else { &mut row.papers_in_shards } += papers;
        }
    }
    let rows: Vec<OutcomeCount> = rows.into_values().collect();
    let moved: u64 = rows.iter().map(|r| r.papers_merged.saturating_sub(r.papers_in_shards)).sum();
    if moved > 0 {
        tracing::info!(
            papers = moved,
            "the merge re-decided papers across shards (dedup, repeated input); see {MERGE_FILE}"
        );
    }
    write_csv_rows(AtomicFile::create(&out.join(MERGE_FILE))?, &rows)?;
    Ok(rows)
}

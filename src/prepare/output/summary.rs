//! `summary.json` and `shard.json`: what a prepare run (or one shard of it)
//! read, kept, dropped and owns.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::YieldRow;
use crate::prepare::paper::{StageSeconds, PER_PAPER_STAGES};
use crate::spec::data::DataConfig;

/// How a bulk tar fared against `arXiv_src_manifest.xml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ManifestCheck {
    /// `check_manifest` is off, or the unit is not a bulk tar.
    NotChecked,
    NoManifest,
    /// The manifest does not list this tar.
    NoEntry,
    Match,
    Mismatch {
        expected: String,
        actual: String,
    },
}

impl ManifestCheck {
    /// The tar differs from the manifest: its papers cannot be trusted.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Self::Mismatch { .. })
    }
}

/// Written next to each part: what reading the unit found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitReport {
    pub index: usize,
    pub label: String,
    pub papers: u64,
    pub bytes_in: u64,
    pub manifest: ManifestCheck,
    pub read_errors: Vec<String>,
    pub stage_seconds: StageSeconds,
    /// Papers the workers took into each per-paper stage (every copy of a
    /// repeated paper, which the ledger counts once).
    #[serde(default)]
    pub stage_papers: [u64; PER_PAPER_STAGES],
    pub read_seconds: f64,
}

impl UnitReport {
    /// The report of unit `index` before its first paper.
    pub fn new(index: usize, label: String) -> Self {
        Self {
            index,
            label,
            papers: 0,
            bytes_in: 0,
            manifest: ManifestCheck::NotChecked,
            read_errors: Vec::new(),
            stage_seconds: [0.0; PER_PAPER_STAGES],
            stage_papers: [0; PER_PAPER_STAGES],
            read_seconds: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRef {
    pub index: usize,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataSummary {
    pub path: PathBuf,
    pub records: u64,
    pub malformed_lines: u64,
    pub first_errors: Vec<String>,
    /// Records dropped for repeating an id (the one with most versions is kept).
    #[serde(default)]
    pub duplicate_ids: u64,
    pub seconds: f64,
}

/// `shard.json`: what one run or shard owns, for `merge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    pub settings_hash: String,
    pub settings: DataConfig,
    pub shard: Option<(usize, usize)>,
    pub units_total: usize,
    pub metadata: Option<MetadataSummary>,
    pub parts: Vec<PartRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub stage: String,
    /// Summed over workers (CPU-seconds of the stage).
    pub seconds: f64,
    /// Papers the workers took into the stage, the ones `seconds` was spent on.
    #[serde(default)]
    pub papers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub stages: Vec<StageTime>,
    /// Reading input units (sequential).
    pub read_seconds: f64,
    /// The finishing pass: dedup, split, writing the outputs (the time it
    /// worked; in `prepare` most of it overlaps the per-paper stages).
    pub finish_seconds: f64,
    /// Wall time of this call.
    pub wall_seconds: f64,
}

/// `summary.json`. Everything but `timings` is the same for the same input and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareSummary {
    pub papers_seen: u64,
    pub papers_kept: u64,
    pub papers_dropped: u64,
    pub bytes_in: u64,
    pub chars_kept: u64,
    pub words_kept: u64,
    pub train_documents: u64,
    pub validation_documents: u64,
    /// Drop reason → papers.
    pub drops: BTreeMap<String, u64>,
    /// Near-duplicate id → the kept document it matched.
    #[serde(default)]
    pub near_duplicate_of: BTreeMap<String, String>,
    /// Kept papers whose macro expansion hit its cap (text kept as far as expanded).
    #[serde(default)]
    pub degraded: Vec<String>,
    /// Stages that did not run (`metadata` without `--metadata`).
    pub skipped_stages: Vec<String>,
    pub waterfall: Vec<YieldRow>,
    pub inputs: Vec<UnitReport>,
    pub metadata: Option<MetadataSummary>,
    pub shard: Option<(usize, usize)>,
    pub units_total: usize,
    /// Units this call processed; the rest of its share were resumed from parts.
    pub units_processed: usize,
    pub units_resumed: usize,
    pub settings: DataConfig,
    pub timings: Timings,
}

//! What the prepare stage leaves behind, as types that own their file names:
//! a [`PreparedCorpus`] directory holding `documents.jsonl` ([`Document`]),
//! `ledger.csv` ([`LedgerRow`]), `yield.csv` ([`YieldRow`]) and `summary.json`
//! ([`PrepareSummary`]), and the files that write them.
//!
//! Output files are streamed to a temporary file and renamed into place, so a
//! killed run never leaves a half-written file that looks complete. (Small
//! files use [`crate::io::write_atomic`]; these can be hundreds of GB.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::ledger::{DropReason, LedgerStage};

mod documents;
mod summary;

pub use documents::{for_each_document, read_documents, Document, Split};
pub use summary::{
    ManifestCheck, MetadataSummary, PartRef, PrepareSummary, ShardManifest, StageTime, Timings, UnitReport,
};

pub const DOCUMENTS_FILE: &str = "documents.jsonl";
pub const LEDGER_FILE: &str = "ledger.csv";
pub const YIELD_FILE: &str = "yield.csv";
/// The ledger and the yield table as Parquet, beside their CSV (`prepare::parquet`).
pub const LEDGER_PARQUET_FILE: &str = "ledger.parquet";
pub const YIELD_PARQUET_FILE: &str = "yield.parquet";
/// Written last: its presence means the other outputs are whole.
pub const SUMMARY_FILE: &str = "summary.json";

/// A finished prepare output directory.
#[derive(Debug, Clone)]
pub struct PreparedCorpus {
    dir: PathBuf,
}

impl PreparedCorpus {
    /// Opens `dir`, refusing one whose run did not finish (no `summary.json`).
    pub fn open(dir: &Path) -> Result<Self> {
        let summary = dir.join(SUMMARY_FILE);
        anyhow::ensure!(
            summary.is_file(),
            "{} is not a finished prepare output (no {SUMMARY_FILE}): run or resume `replicate prepare` into it",
            dir.display()
        );
        Ok(Self { dir: dir.to_path_buf() })
    }

    pub fn documents(&self) -> PathBuf {
        self.dir.join(DOCUMENTS_FILE)
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.join(LEDGER_FILE)
    }

    pub fn summary(&self) -> Result<PrepareSummary> {
        crate::io::read_json(&self.dir.join(SUMMARY_FILE))
    }
}

pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = temp_file_beside(path)?;
        Ok(Self { path: path.to_path_buf(), writer: BufWriter::with_capacity(1 << 20, tmp) })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", path.display()))?;
        persist_synced(tmp, &path)
    }

    /// Writes `value` as one JSON line.
    pub fn write_json_line(&mut self, value: &impl Serialize) -> Result<()> {
        serde_json::to_writer(&mut self.writer, value)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.writer.write_all(b"\n").with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes `line` (one serialized value, no newline) and a newline.
    pub fn write_line(&mut self, line: &[u8]) -> Result<()> {
        self.writer
            .write_all(line)
            .and_then(|()| self.writer.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// A temporary file in `path`'s directory (created if missing), with the umask's permissions,
/// to be renamed onto `path` by [`persist_synced`] once whole.
pub(crate) fn temp_file_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(crate::io::umask_permissions(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}; is it writable?", dir.display()))
}

/// Syncs a finished temporary file and renames it onto `path`.
pub(crate) fn persist_synced(tmp: NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file().sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("cannot move the finished file onto {}", path.display()))?;
    Ok(())
}

/// One `ledger.csv` row; columns in the contract's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub id: String,
    /// `kept` or `dropped`.
    pub status: String,
    /// Kebab name of the stage the paper left at, or `end`.
    pub stage: String,
    /// Empty only when kept.
    pub reason: String,
    pub bytes_in: u64,
    pub chars_out: u64,
}

impl LedgerRow {
    pub fn new(id: &str, dropped: Option<DropReason>, bytes_in: u64, chars_out: u64) -> Self {
        let stage = dropped.map_or(LedgerStage::End, DropReason::stage);
        Self {
            id: id.to_string(),
            status: if dropped.is_some() { "dropped" } else { "kept" }.to_string(),
            stage: stage_name(stage),
            reason: dropped.map(DropReason::as_str).unwrap_or_default(),
            bytes_in,
            chars_out,
        }
    }
}

pub fn stage_name(stage: LedgerStage) -> String {
    serde_json::to_value(stage).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// One `yield.csv` row: the waterfall at one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct YieldRow {
    pub stage: String,
    pub papers_in: u64,
    pub papers_out: u64,
    /// Compressed input bytes of the papers that passed.
    pub bytes_out: u64,
    /// Characters of the passed papers' text after this stage.
    pub chars_out: u64,
}

pub fn write_csv_rows<T: Serialize>(file: AtomicFile, rows: &[T]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(file);
    for row in rows {
        writer.serialize(row)?;
    }
    let file = writer.into_inner().map_err(|e| anyhow::anyhow!("cannot finish a CSV file: {}", e.error()))?;
    file.commit()
}

/// Opens a part file for reading.
pub fn open_lines(path: &Path) -> Result<std::io::BufReader<File>> {
    Ok(std::io::BufReader::new(
        File::open(path)
            .with_context(|| format!("cannot open {}; rerun the shard that wrote it", path.display()))?,
    ))
}

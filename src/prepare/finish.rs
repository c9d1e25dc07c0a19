//! The finishing pass: every unit's per-paper records, in global input
//! order, through the order-dependent rules (manifest verdict, exact and near
//! dedup, the split) into `documents.jsonl`, `ledger.csv`, `yield.csv` (the
//! two tables also as Parquet, [`super::parquet`]) and `summary.json`
//! (written last, so its presence means the outputs are whole).
//!
//! `run` applies it to its own records as they are written (a [`Finisher`]
//! fed in input order beside the workers, so little is left to finish when
//! they are done) and `merge` to the union of every shard's parts, which is
//! why dedup across shards is exact.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::dedup::{split_for, ExactDedup};
use super::neardup::{NearDupIndex, NEAR_DEDUP_SEED};
use super::output::{
    open_lines, stage_name, write_csv_rows, AtomicFile, Document, LedgerRow, PrepareSummary, ShardManifest,
    Split, StageTime, Timings, UnitReport, YieldRow, DOCUMENTS_FILE, LEDGER_FILE, LEDGER_PARQUET_FILE,
    SUMMARY_FILE, YIELD_FILE, YIELD_PARQUET_FILE,
};
use super::paper::{DocumentDraft, PaperRecord, StageSeconds, PER_PAPER_STAGES};
use super::parquet::{write_parquet_rows, ParquetTable};
use crate::ledger::{DropReason, LedgerStage};
use crate::spec::data::DataConfig;

/// Bookkeeping of the unit counts for the summary.
pub struct UnitCounts {
    pub processed: usize,
    pub resumed: usize,
}

/// Records judged together: the near-duplicate signatures of a batch are
/// computed in parallel (MinHash is most of this pass's work, and it would
/// otherwise run on one core after every worker is done), then checked in
/// input order. A batch ends at this many records or [`BATCH_TEXT_BYTES`].
const BATCH_RECORDS: usize = 64;
const BATCH_TEXT_BYTES: usize = 64 << 20;

/// Runs the pass over `parts` (paths without extension, in input order),
/// with `workers` threads for the near-duplicate signatures.
pub fn finish(
    manifest: &ShardManifest,
    parts: &[PathBuf],
    out: &Path,
    units: UnitCounts,
    workers: usize,
    started: Instant,
) -> Result<PrepareSummary> {
    let mut pass = Finisher::new(manifest, out, workers)?;
    for part in parts {
        pass.add_unit(part)?;
    }
    pass.complete(out, units, started)
}

/// The same paper given twice (two copies in `--src`, a tar and its
/// unpacked files): the first copy is the paper, a later one leaves at
/// validation as `duplicate-input`, so it is never kept twice. The workers
/// have processed it all the same: the rule is applied here, in input order,
/// where the papers of units resumed from an earlier run are known too.
fn mark_duplicate_input(record: &mut PaperRecord) {
    record.dropped = Some(DropReason::DuplicateInput);
    record.doc = None;
    record.chars_after.truncate(waterfall_position(LedgerStage::Validation));
}

/// The one warning about later copies of papers, `None` when there were none.
fn repeated_papers_warning(repeated: &[String]) -> Option<String> {
    if repeated.is_empty() {
        return None;
    }
    let shown = repeated.iter().take(REPEATED_IDS_SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    let more = repeated.len().saturating_sub(REPEATED_IDS_SHOWN);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Some(format!(
        "the input holds {} paper copies whose id came earlier ({shown}{more}): each later copy is \
         dropped as duplicate-input (see ledger.csv); pass each paper once",
        repeated.len()
    ))
}

/// The finishing pass, fed one unit's part at a time in input order.
pub struct Finisher<'a> {
    cfg: &'a DataConfig,
    /// Time spent in this pass (not waiting for parts).
    busy: std::time::Duration,
    documents: AtomicFile,
    ledger: csv::Writer<AtomicFile>,
    /// The same rows as `ledger.csv`, columnar.
    ledger_parquet: ParquetTable<LedgerRow>,
    exact: ExactDedup,
    near: Option<NearDupIndex>,
    /// Computes a batch's near-duplicate signatures; `None` on one worker.
    pool: Option<rayon::ThreadPool>,
    /// Records of the current unit not judged yet, and their text bytes.
    batch: Vec<PaperRecord>,
    batch_bytes: usize,
    /// Ids of the documents the near-duplicate index kept, in its order.
    near_kept: Vec<String>,
    waterfall: Vec<YieldRow>,
    stage_seconds: StageSeconds,
    stage_papers: [u64; PER_PAPER_STAGES],
    summary: PrepareSummary,
    /// Paper ids met so far, in input order.
    seen_ids: std::collections::HashSet<String>,
    /// Ids of the later copies dropped as duplicate-input, in input order; one
    /// warning names them at the end (a tar given twice would otherwise print a
    /// line per paper).
    repeated: Vec<String>,
}

/// Repeated ids the end-of-run warning names; the ledger has them all.
const REPEATED_IDS_SHOWN: usize = 5;

impl<'a> Finisher<'a> {
    /// Opens the outputs in `out`; `workers` threads compute near-duplicate signatures.
    pub fn new(manifest: &'a ShardManifest, out: &Path, workers: usize) -> Result<Self> {
        let cfg = &manifest.settings;
        let skipped_stages =
            if manifest.metadata.is_none() { vec![stage_name(LedgerStage::Metadata)] } else { Vec::new() };
        Ok(Self {
            cfg,
            busy: std::time::Duration::ZERO,
            documents: AtomicFile::create(&out.join(DOCUMENTS_FILE))?,
            ledger: csv::Writer::from_writer(AtomicFile::create(&out.join(LEDGER_FILE))?),
            ledger_parquet: ParquetTable::create(&out.join(LEDGER_PARQUET_FILE))?,
            exact: ExactDedup::default(),
            near: cfg.dedup.near.as_ref().map(|n| NearDupIndex::new(n, NEAR_DEDUP_SEED)).transpose()?,
            pool: match (workers, &cfg.dedup.near) {
                (2.., Some(_)) => Some(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(workers)
                        .build()
                        .context("cannot start the threads that compute near-duplicate signatures")?,
                ),
                _ => None,
            },
            batch: Vec::new(),
            batch_bytes: 0,
            near_kept: Vec::new(),
            waterfall: LedgerStage::WATERFALL
                .iter()
                .map(|s| YieldRow { stage: stage_name(*s), ..YieldRow::default() })
                .collect(),
            stage_seconds: [0.0; PER_PAPER_STAGES],
            stage_papers: [0; PER_PAPER_STAGES],
            seen_ids: std::collections::HashSet::new(),
            repeated: Vec::new(),
            summary: PrepareSummary {
                papers_seen: 0,
                papers_kept: 0,
                papers_dropped: 0,
                near_duplicate_of: BTreeMap::new(),
                degraded: Vec::new(),
                bytes_in: 0,
                chars_kept: 0,
                words_kept: 0,
                train_documents: 0,
                validation_documents: 0,
                drops: BTreeMap::new(),
                skipped_stages,
                waterfall: Vec::new(),
                inputs: Vec::new(),
                metadata: manifest.metadata.clone(),
                shard: manifest.shard,
                units_total: manifest.units_total,
                units_processed: 0,
                units_resumed: 0,
                settings: cfg.clone(),
                timings: Timings {
                    stages: Vec::new(),
                    read_seconds: 0.0,
                    finish_seconds: 0.0,
                    wall_seconds: 0.0,
                },
            },
        })
    }

    /// The next unit's part (its path without extension), once it is complete on disk.
    pub fn add_unit(&mut self, part: &Path) -> Result<()> {
        self.timed(|pass| pass.read_unit(part))
    }

    /// The next record of a unit handed over as it is written rather than
    /// read back from its part (see `driver`): one whose manifest verdict was
    /// known before its first paper, so no record needs the verdict applied.
    pub fn add_record(&mut self, record: PaperRecord) -> Result<()> {
        self.timed(|pass| pass.stage(record))
    }

    /// Judges the records taken so far without waiting for a full batch
    /// (the verdicts do not depend on where batches end).
    pub fn catch_up(&mut self) -> Result<()> {
        self.timed(Self::judge_batch)
    }

    /// The end of the unit whose records [`Self::add_record`] took.
    pub fn end_unit(&mut self, report: UnitReport) -> Result<()> {
        if report.manifest.is_mismatch() {
            bail!("internal: the records of {} were judged before its md5 verdict", report.label);
        }
        self.timed(|pass| pass.close_unit(report))
    }

    fn timed(&mut self, work: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let clock = Instant::now();
        let done = work(self);
        self.busy += clock.elapsed();
        done
    }

    fn read_unit(&mut self, part: &Path) -> Result<()> {
        let report_path = part.with_extension("unit.json");
        let records_path = part.with_extension("jsonl");
        let report: UnitReport =
            serde_json::from_str(&std::fs::read_to_string(&report_path).with_context(|| {
                format!("cannot read {}; rerun the shard that wrote it", report_path.display())
            })?)
            .with_context(|| format!("{} is damaged; delete it and rerun", report_path.display()))?;
        let mismatch = report.manifest.is_mismatch();
        for line in open_lines(&records_path)?.lines() {
            let line = line.with_context(|| format!("cannot read {}", records_path.display()))?;
            let mut record: PaperRecord = serde_json::from_str(&line)
                .with_context(|| format!("{} is damaged; delete it and rerun", records_path.display()))?;
            if mismatch {
                apply_manifest_mismatch(&mut record);
            }
            self.stage(record)?;
        }
        self.close_unit(report)
    }

    /// Adds `record` to the batch, judging the batch when it is full.
    fn stage(&mut self, record: PaperRecord) -> Result<()> {
        self.batch_bytes += record.doc.as_ref().map_or(0, |d| d.text.len());
        self.batch.push(record);
        if self.batch.len() == BATCH_RECORDS || self.batch_bytes >= BATCH_TEXT_BYTES {
            self.judge_batch()?;
        }
        Ok(())
    }

    fn judge_batch(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch_bytes = 0;
        let records = std::mem::take(&mut self.batch);
        self.add_papers(records)
    }

    /// Judges what is left of the unit's records and adds its report.
    fn close_unit(&mut self, report: UnitReport) -> Result<()> {
        self.judge_batch()?;
        self.stage_seconds.iter_mut().zip(report.stage_seconds).for_each(|(a, b)| *a += b);
        self.stage_papers.iter_mut().zip(report.stage_papers).for_each(|(a, b)| *a += b);
        self.summary.timings.read_seconds += report.read_seconds;
        self.summary.inputs.push(report);
        Ok(())
    }

    /// Input-order rules over a batch: repeated inputs and exact dedup, the
    /// near-duplicate signatures of what is left (in parallel), then near
    /// dedup and the outputs, one record at a time.
    fn add_papers(&mut self, records: Vec<PaperRecord>) -> Result<()> {
        let mut staged = Vec::with_capacity(records.len());
        for mut record in records {
            if !self.seen_ids.insert(record.id.clone()) {
                self.repeated.push(record.id.clone());
                mark_duplicate_input(&mut record);
            }
            let doc = exact_dedup(&mut record, self.cfg.dedup.exact, &mut self.exact)?;
            staged.push((record, doc));
        }
        let signatures = self.near_signatures(&staged);
        for ((mut record, doc), signature) in staged.into_iter().zip(signatures) {
            let kept = doc.and_then(|doc| self.near_dedup(&mut record, doc, signature));
            self.add_paper(record, kept)?;
        }
        Ok(())
    }

    /// Per staged document, its signature (`None` without near dedup, a document, or words).
    fn near_signatures(&self, staged: &[(PaperRecord, Option<DocumentDraft>)]) -> Vec<Option<Vec<u64>>> {
        let Some(index) = &self.near else {
            return vec![None; staged.len()];
        };
        let signature = |(_, doc): &(PaperRecord, Option<DocumentDraft>)| {
            doc.as_ref().and_then(|d| index.signature(&d.text))
        };
        match &self.pool {
            Some(pool) => pool.install(|| {
                use rayon::prelude::*;
                staged.par_iter().map(signature).collect()
            }),
            None => staged.iter().map(signature).collect(),
        }
    }

    /// Keeps `doc` unless it near-duplicates a kept document, which is then recorded.
    fn near_dedup(
        &mut self,
        record: &mut PaperRecord,
        doc: DocumentDraft,
        signature: Option<Vec<u64>>,
    ) -> Option<DocumentDraft> {
        // A document without words has no signature: kept, and not indexed
        // (so `near_kept` stays aligned with the index's kept documents).
        let (Some(index), Some(signature)) = (self.near.as_mut(), signature) else {
            return Some(doc);
        };
        match index.check_signature(signature) {
            Some(k) => {
                record.dropped = Some(DropReason::NearDuplicate);
                self.summary.near_duplicate_of.insert(record.id.clone(), self.near_kept[k].clone());
                None
            }
            None => {
                self.near_kept.push(record.id.clone());
                Some(doc)
            }
        }
    }

    fn add_paper(&mut self, record: PaperRecord, kept: Option<DocumentDraft>) -> Result<()> {
        self.count_in_waterfall(&record);
        self.summary.papers_seen += 1;
        self.summary.bytes_in += record.bytes_in;
        let chars_out = match &kept {
            Some(doc) => doc.chars,
            None => record.chars_after.last().copied().unwrap_or(0),
        };
        let row = LedgerRow::new(&record.id, record.dropped, record.bytes_in, chars_out);
        self.ledger.serialize(&row)?;
        self.ledger_parquet.push(&row)?;
        match kept {
            Some(doc) => self.keep(record, doc),
            None => {
                self.summary.papers_dropped += 1;
                let reason = record.dropped.map(DropReason::as_str).unwrap_or_default();
                *self.summary.drops.entry(reason).or_default() += 1;
                Ok(())
            }
        }
    }

    /// A paper counts as out of every stage before the one it left at.
    fn count_in_waterfall(&mut self, record: &PaperRecord) {
        let passed = record.dropped.map_or(LedgerStage::WATERFALL.len(), |r| waterfall_position(r.stage()));
        for (k, row) in self.waterfall.iter_mut().enumerate().take(passed) {
            row.papers_out += 1;
            row.bytes_out += record.bytes_in;
            row.chars_out += chars_after_stage(record, k);
        }
    }

    fn keep(&mut self, record: PaperRecord, doc: DocumentDraft) -> Result<()> {
        let summary = &mut self.summary;
        summary.papers_kept += 1;
        let split = split_for(summary.papers_kept, self.cfg.split.validation_every);
        match split {
            Split::Train => summary.train_documents += 1,
            Split::Validation => summary.validation_documents += 1,
        }
        summary.chars_kept += doc.chars;
        summary.words_kept += doc.words;
        if doc.degraded {
            summary.degraded.push(record.id.clone());
        }
        self.documents.write_json_line(&Document {
            id: record.id,
            text: doc.text,
            categories: doc.categories,
            title: doc.title,
            split,
            bytes_in: record.bytes_in,
            chars: doc.chars,
            words: doc.words,
            encoding: doc.encoding,
            source: Some(doc.source),
            degraded: doc.degraded,
        })
    }

    /// Writes the remaining outputs, `summary.json` last; `started` is when the run began.
    pub fn complete(mut self, out: &Path, units: UnitCounts, started: Instant) -> Result<PrepareSummary> {
        let clock = Instant::now();
        if let Some(warning) = repeated_papers_warning(&self.repeated) {
            tracing::warn!("{warning}");
        }
        self.summary.units_processed = units.processed;
        self.summary.units_resumed = units.resumed;
        let mut papers_in = self.summary.papers_seen;
        for row in &mut self.waterfall {
            row.papers_in = papers_in;
            papers_in = row.papers_out;
        }
        self.summary.waterfall = self.waterfall;
        self.summary.timings.stages = LedgerStage::WATERFALL[..PER_PAPER_STAGES]
            .iter()
            .zip(self.stage_seconds)
            .zip(self.stage_papers)
            .map(|((s, seconds), papers)| StageTime { stage: stage_name(*s), seconds, papers })
            .collect();
        self.documents.commit()?;
        self.ledger
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot finish ledger.csv: {}", e.error()))?
            .commit()?;
        self.ledger_parquet.commit()?;
        write_csv_rows(AtomicFile::create(&out.join(YIELD_FILE))?, &self.summary.waterfall)?;
        write_parquet_rows(&out.join(YIELD_PARQUET_FILE), &self.summary.waterfall)?;
        let mut summary = self.summary;
        summary.timings.finish_seconds = (self.busy + clock.elapsed()).as_secs_f64();
        summary.timings.wall_seconds = started.elapsed().as_secs_f64();
        crate::io::write_json_atomic(&out.join(SUMMARY_FILE), &summary)?;
        Ok(summary)
    }
}

/// Position of a stage in the waterfall.
fn waterfall_position(stage: LedgerStage) -> usize {
    LedgerStage::WATERFALL.iter().position(|s| *s == stage).unwrap_or(LedgerStage::WATERFALL.len())
}
/// A bulk tar whose md5 differs from the manifest cannot be trusted: every
/// paper that entered validation is dropped there (metadata drops stand).
fn apply_manifest_mismatch(record: &mut PaperRecord) {
    let entered_validation = record
        .dropped
        .is_none_or(|r| waterfall_position(r.stage()) >= waterfall_position(LedgerStage::Validation));
    if entered_validation {
        record.dropped = Some(DropReason::ManifestMd5Mismatch);
        record.chars_after.truncate(waterfall_position(LedgerStage::Validation));
        record.doc = None;
    }
}

/// The document of a record that passed every per-paper stage, unless it
/// repeats an earlier one exactly (when exact dedup is on); in input order.
fn exact_dedup(
    record: &mut PaperRecord,
    exact_on: bool,
    exact: &mut ExactDedup,
) -> Result<Option<DocumentDraft>> {
    if record.dropped.is_some() {
        return Ok(None);
    }
    let Some(doc) = record.doc.take() else {
        bail!("internal: {} passed every stage without a document", record.id);
    };
    if exact_on && !exact.first_occurrence(&doc.md5) {
        record.dropped = Some(DropReason::ExactDuplicate);
        return Ok(None);
    }
    Ok(Some(doc))
}

/// Characters after waterfall stage `k`: recorded per stage; dedup keeps the document's.
fn chars_after_stage(record: &PaperRecord, k: usize) -> u64 {
    record.chars_after.get(k.min(PER_PAPER_STAGES - 1)).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn record(dropped: Option<DropReason>, chars_after: Vec<u64>) -> PaperRecord {
        PaperRecord { id: "x".into(), bytes_in: 1, dropped, chars_after, doc: None }
    }

    #[rstest]
    #[case::metadata_drop_stands(Some(DropReason::Category), vec![], Some(DropReason::Category), 0)]
    #[case::validation_drop_becomes_mismatch(Some(DropReason::NotATar), vec![0], Some(DropReason::ManifestMd5Mismatch), 1)]
    #[case::quality_drop_becomes_mismatch(Some(DropReason::NotEnglish), vec![0, 0, 9, 9, 8], Some(DropReason::ManifestMd5Mismatch), 1)]
    #[case::kept_becomes_mismatch(None, vec![0, 0, 9, 9, 8, 7], Some(DropReason::ManifestMd5Mismatch), 1)]
    fn manifest_mismatch_overrides_from_validation_on(
        #[case] dropped: Option<DropReason>,
        #[case] chars: Vec<u64>,
        #[case] want: Option<DropReason>,
        #[case] stages_passed: usize,
    ) {
        let mut r = record(dropped, chars);
        apply_manifest_mismatch(&mut r);
        assert_eq!(r.dropped, want);
        assert_eq!(r.chars_after.len(), stages_passed);
    }

    #[test]
    fn repeats_are_exact_duplicates_only_when_exact_dedup_is_on() {
        let doc = DocumentDraft {
            text: "t".into(),
            title: String::new(),
            categories: None,
            encoding: "UTF-8".into(),
            source: super::super::validate::SourceKind::TarGz,
            words: 1,
            chars: 1,
            md5: super::super::dedup::document_md5("t"),
            degraded: false,
        };
        let mut exact = ExactDedup::default();
        let kept = |on: bool, exact: &mut ExactDedup| {
            let mut r = record(None, vec![0; 6]);
            r.doc = Some(doc.clone());
            let got = exact_dedup(&mut r, on, exact).unwrap();
            (got.is_some(), r.dropped)
        };
        assert_eq!(kept(true, &mut exact), (true, None));
        assert_eq!(kept(true, &mut exact), (false, Some(DropReason::ExactDuplicate)));
        assert_eq!(kept(false, &mut exact), (true, None));
    }

    #[test]
    fn later_copies_are_named_in_one_capped_warning() {
        assert_eq!(repeated_papers_warning(&[]), None);
        let ids = |n: usize| (0..n).map(|i| format!("2612.{i:05}")).collect::<Vec<_>>();
        let one = repeated_papers_warning(&ids(1)).unwrap();
        assert!(
            one.starts_with("the input holds 1 paper copies whose id came earlier (2612.00000): "),
            "{one}"
        );
        let many = repeated_papers_warning(&ids(7)).unwrap();
        assert!(
            many.contains("7 paper copies whose id came earlier (2612.00000, 2612.00001, 2612.00002, 2612.00003, 2612.00004 and 2 more)"),
            "{many}"
        );
    }
}

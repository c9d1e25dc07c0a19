//! The `prepare` run: input units through the per-paper stages in parallel,
//! one part file per unit (the resume grain), and the finishing pass of
//! [`super::finish`] (dedup, split, ledger, waterfall, summary) over every
//! record in input order, beside the workers: a unit's records as they are
//! written when its manifest verdict is already known, otherwise its part
//! once it is complete.
//!
//! Output directory layout:
//! - `parts/NNNNNN-KEY.jsonl`: per-paper records of unit NNNNNN (renamed into
//!   place when the unit is complete: a rerun skips it), `…unit.json` beside it;
//! - `shard.json`: which parts this run (or shard) owns, for `merge`;
//! - `documents.jsonl`, `ledger.csv`, `yield.csv`, `summary.json`: the results.
//!
//! Exact dedup spans shards because `merge` reruns the finishing pass over the
//! union of every shard's parts in global unit order: a document kept in shard
//! 2 and repeated in shard 5 is kept once, in the unit that comes first.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::finish::{finish, Finisher, UnitCounts};
use super::metadata_table::MetadataTable;
use super::output::{
    AtomicFile, ManifestCheck, MetadataSummary, PartRef, PrepareSummary, ShardManifest, UnitReport,
};
use super::paper::{process_paper, stages_entered, PaperContext, PaperRecord, StageSeconds};
use super::stream::{ordered_map, Feed, Feeder};
use crate::corpus::manifest::{manifest_next_to, read_manifest, Manifest, TarStamp, VerifiedTars};
use crate::corpus::metadata::MetadataReadStats;
use crate::corpus::source::{plan_inputs, read_unit, InputUnit, RawContent, RawPaper, UnitReadReport};
use crate::spec::data::DataConfig;

/// What to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrepareInput {
    /// Bulk tars, directories of per-paper files, or per-paper files.
    pub src: Vec<PathBuf>,
    /// OAI metadata snapshot (JSON lines, plain or .gz) or its index; `None` skips the metadata filter.
    pub metadata: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrepareOptions {
    /// `(index, count)`, 0-based: process input units with `unit % count == index`.
    pub shard: Option<(usize, usize)>,
    /// Worker threads; 0 uses every core.
    pub jobs: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Accept an input without any paper instead of failing.
    pub allow_empty: bool,
    /// Where stamps of bulk tars whose manifest MD5 matched in an earlier run
    /// are kept ([`VerifiedTars`]): those are not hashed again. `None` hashes
    /// every tar and records nothing.
    pub verified_tars: Option<PathBuf>,
}

/// Parses `--shard i/N` (0-based `i`, as `$SLURM_ARRAY_TASK_ID` with `--array=0-(N-1)`).
pub fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<usize>().ok()?, n.trim().parse::<usize>().ok()?)));
    match parsed {
        Some((index, count)) if count > 0 && index < count => Ok((index, count)),
        _ => bail!("--shard {text}: expected i/N with 0 <= i < N, e.g. 0/8 … 7/8"),
    }
}

pub const PARTS_DIR: &str = "parts";
pub const SHARD_FILE: &str = "shard.json";

/// Runs `prepare` over `input`, writing into `out`. Fails only when the run
/// cannot proceed (no input, unreadable input file, unwritable output, bad
/// settings such as a malformed `--shard`); bad papers are ledger rows.
pub fn run(
    cfg: &DataConfig,
    input: &PrepareInput,
    out: &Path,
    opts: &PrepareOptions,
) -> Result<PrepareSummary> {
    let started = Instant::now();
    if let Some((index, count)) = opts.shard {
        if count == 0 || index >= count {
            bail!("--shard {index}/{count}: the index must be below the count (0-based, e.g. 0/8 … 7/8)");
        }
    }
    let units = plan_inputs(&input.src)?;
    if units.is_empty() && !opts.allow_empty {
        bail!(
            "--src {}: no paper found (bulk tars arXiv_src_*.tar or files named like an arXiv id); \
             check the path, or pass --allow-empty to accept an empty input",
            input.src.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
        );
    }
    let parts_dir = out.join(PARTS_DIR);
    std::fs::create_dir_all(&parts_dir).with_context(|| {
        format!("cannot create the output directory {}; is it writable?", parts_dir.display())
    })?;

    let (metadata, metadata_summary) = load_metadata(cfg, input.metadata.as_deref())?;
    let ctx = PaperContext::new(cfg, metadata.as_ref())?;
    let settings_hash = settings_hash(cfg, input.metadata.as_deref())?;

    let mine: Vec<(usize, &InputUnit)> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|(index, count)| i % count == index))
        .collect();
    let bar = progress_bar(opts.progress, mine.iter().map(|(_, u)| u.size_on_disk()).sum());
    let mut parts = Vec::new();
    let mut todo = Vec::new();
    for (index, unit) in mine {
        let name = part_name(index, &settings_hash, unit);
        if part_paths(&parts_dir, &name).iter().all(|p| p.is_file()) {
            bar.inc(unit.size_on_disk());
        } else {
            todo.push(UnitTask { index, unit, name: name.clone() });
        }
        parts.push(PartRef { index, name });
    }
    let resumed = parts.len() - todo.len();
    let manifest = ShardManifest {
        settings_hash,
        settings: cfg.clone(),
        shard: opts.shard,
        units_total: units.len(),
        metadata: metadata_summary,
        parts,
    };
    let workers = worker_count(opts.jobs);
    // Opened first: a bad near-dedup setting fails before hours of per-paper work.
    let finisher = Finisher::new(&manifest, out, workers)?;
    let verified = opts.verified_tars.clone().map(VerifiedTars::new);
    let (send, receive) = std::sync::mpsc::sync_channel(FINISH_QUEUE);
    let mut feed = FinishFeed::new(&manifest.parts, &todo, &parts_dir, send);
    // The finishing pass runs on its own thread beside the workers, in input
    // order: when they are done, little is left to it (all of a hashed tar,
    // whose verdict comes with its last byte).
    let (processed, finisher) = std::thread::scope(|scope| {
        let finishing = scope.spawn(move || finish_as_handed(finisher, receive));
        let processed = feed.flush().and_then(|()| {
            process_units(&ctx, todo, verified.as_ref(), workers, &parts_dir, &bar, &mut feed)
        });
        drop(feed);
        let finisher = finishing.join().unwrap_or_else(|_| bail!("internal: the finishing pass panicked"));
        (processed, finisher)
    });
    // The finishing pass's error first: it is why the writer could not hand it a part.
    let finisher = finisher?;
    let processed = processed?;
    bar.finish_and_clear();
    crate::io::write_json_atomic(&out.join(SHARD_FILE), &manifest)?;
    finisher.complete(out, UnitCounts { processed, resumed }, started)
}

/// The finishing pass's thread: everything `receive` hands over, in order.
fn finish_as_handed<'a>(
    mut finisher: Finisher<'a>,
    receive: std::sync::mpsc::Receiver<FinishInput>,
) -> Result<Finisher<'a>> {
    use std::sync::mpsc::TryRecvError;
    loop {
        let input = match receive.try_recv() {
            Ok(input) => Some(input),
            Err(TryRecvError::Disconnected) => None,
            // Nothing waiting: judge the records taken so far rather than
            // idle until a batch is full (a unit of 51 papers, one batch, was
            // judged only after the workers were done).
            Err(TryRecvError::Empty) => {
                finisher.catch_up()?;
                receive.recv().ok()
            }
        };
        let Some(input) = input else { break };
        match input {
            FinishInput::Part(part) => finisher.add_unit(&part)?,
            FinishInput::Record(record) => finisher.add_record(*record)?,
            FinishInput::UnitEnd(report) => finisher.end_unit(*report)?,
        }
    }
    Ok(finisher)
}

/// What the finishing pass is handed, in input order.
enum FinishInput {
    /// A unit's part, complete on disk: resumed, or a unit whose manifest
    /// verdict came only with its last byte (a mismatch drops its papers).
    Part(PathBuf),
    /// A record of the unit being written, handed over as it is written: its
    /// verdict was known before its first paper.
    Record(Box<PaperRecord>),
    /// The end of that unit.
    UnitEnd(Box<UnitReport>),
}

/// Messages the finishing pass may lag behind the writer. When it lags
/// more, the writer waits, and the workers with it: memory stays bounded.
const FINISH_QUEUE: usize = 64;

/// Hands units to the finishing pass in input order. A unit whose verdict is
/// known at its start and whose predecessors are all handed over streams its
/// records as they are written (a run over one bulk tar would otherwise
/// finish all of it after the workers are done); any other unit is handed
/// over as its part, once it and every part before it are complete
/// (resumed ones are from the start).
struct FinishFeed {
    /// Unit index, part path without extension, whether it is complete.
    parts: Vec<(usize, PathBuf, bool)>,
    next: usize,
    /// The unit at `next` streams its records.
    streaming: bool,
    send: std::sync::mpsc::SyncSender<FinishInput>,
}

impl FinishFeed {
    fn new(
        parts: &[PartRef],
        todo: &[UnitTask],
        parts_dir: &Path,
        send: std::sync::mpsc::SyncSender<FinishInput>,
    ) -> Self {
        let pending: std::collections::HashSet<usize> = todo.iter().map(|t| t.index).collect();
        let parts =
            parts.iter().map(|p| (p.index, parts_dir.join(&p.name), !pending.contains(&p.index))).collect();
        Self { parts, next: 0, streaming: false, send }
    }

    /// Unit `index` starts being written; `verdict_known` when no md5 check
    /// is left to come with its last byte.
    fn started(&mut self, index: usize, verdict_known: bool) {
        self.streaming = verdict_known && self.parts.get(self.next).is_some_and(|(i, _, _)| *i == index);
    }

    /// A record of the unit being written (and already in its part).
    fn record(&mut self, record: PaperRecord) -> Result<()> {
        if self.streaming {
            self.send(FinishInput::Record(Box::new(record)))?;
        }
        Ok(())
    }

    /// Unit `index` is complete on disk, with `report`.
    fn completed(&mut self, index: usize, report: UnitReport) -> Result<()> {
        if std::mem::take(&mut self.streaming) {
            self.send(FinishInput::UnitEnd(Box::new(report)))?;
            self.next += 1;
        } else if let Some(part) = self.parts.iter_mut().skip(self.next).find(|(i, _, _)| *i == index) {
            part.2 = true;
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        while let Some((_, path, true)) = self.parts.get(self.next) {
            let part = FinishInput::Part(path.clone());
            self.send(part)?;
            self.next += 1;
        }
        Ok(())
    }

    /// The unit being written streams its records.
    fn streaming(&self) -> bool {
        self.streaming
    }

    fn send(&self, input: FinishInput) -> Result<()> {
        self.send.send(input).map_err(|_| anyhow::anyhow!("the finishing pass stopped"))
    }
}

/// Joins the outputs of `run` with `--shard i/N` for every i into `out`,
/// rerunning the finishing pass over all parts in global input order (so
/// exact dedup and the split are exactly those of one unsharded run).
pub fn merge(shard_dirs: &[PathBuf], out: &Path) -> Result<PrepareSummary> {
    let started = Instant::now();
    let Some(first_dir) = shard_dirs.first() else {
        bail!("nothing to merge: pass the output directories of every `prepare --shard i/N` run");
    };
    let mut manifests = Vec::new();
    for dir in shard_dirs {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: is {} a finished `prepare` output directory?",
                path.display(),
                dir.display()
            )
        })?;
        let manifest: ShardManifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a shard manifest", path.display()))?;
        manifests.push((dir, manifest));
    }
    let reference = &manifests[0].1;
    let mut sources: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for (dir, manifest) in &manifests {
        if manifest.settings_hash != reference.settings_hash || manifest.units_total != reference.units_total
        {
            bail!(
                "{} was prepared with other settings or inputs than {}; rerun it with the same spec, --src and --metadata",
                dir.display(),
                first_dir.display()
            );
        }
        for part in &manifest.parts {
            sources.insert(part.index, dir.join(PARTS_DIR).join(&part.name));
        }
    }
    let missing: Vec<usize> = (0..reference.units_total).filter(|i| !sources.contains_key(i)).collect();
    if !missing.is_empty() {
        bail!(
            "input units {:?} are in no shard directory given: merge needs every shard's output (units total {})",
            &missing[..missing.len().min(10)],
            reference.units_total
        );
    }
    super::merge_ledgers::require_shard_ledgers(shard_dirs)?;
    let merged = ShardManifest { shard: None, parts: Vec::new(), ..reference.clone() };
    let parts: Vec<PathBuf> = sources.into_values().collect();
    let units = UnitCounts { processed: 0, resumed: 0 };
    let summary = finish(&merged, &parts, out, units, worker_count(0), started)?;
    super::merge_ledgers::account(shard_dirs, out)?;
    Ok(summary)
}

fn load_metadata(
    cfg: &DataConfig,
    path: Option<&Path>,
) -> Result<(Option<MetadataTable>, Option<MetadataSummary>)> {
    let Some(path) = path else {
        return Ok((None, None));
    };
    let clock = Instant::now();
    let table = MetadataTable::load(path, &cfg.metadata_filter)?;
    let MetadataReadStats { records, malformed_lines, first_errors, duplicate_ids } = table.stats.clone();
    if records == 0 {
        bail!(
            "--metadata {} holds no usable record; pass the OAI snapshot JSON lines or its index",
            path.display()
        );
    }
    table.stats.check(path)?;
    let summary = MetadataSummary {
        path: path.to_path_buf(),
        records,
        malformed_lines,
        first_errors,
        duplicate_ids,
        seconds: clock.elapsed().as_secs_f64(),
    };
    Ok((Some(table), Some(summary)))
}

/// Parts are valid only for the same settings and the same metadata file.
fn settings_hash(cfg: &DataConfig, metadata: Option<&Path>) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(cfg)?);
    if let Some(path) = metadata {
        hash.update(InputUnit::PaperFiles { files: vec![path.to_path_buf()] }.fingerprint());
    }
    Ok(hex::encode(hash.finalize()))
}

fn part_name(index: usize, settings_hash: &str, unit: &InputUnit) -> String {
    let mut hash = Sha256::new();
    hash.update(settings_hash);
    hash.update(unit.fingerprint());
    format!("{index:06}-{}", &hex::encode(hash.finalize())[..16])
}

/// `[records, report]`; the records file is renamed into place last, so its
/// presence means the unit is complete.
fn part_paths(parts_dir: &Path, name: &str) -> [PathBuf; 2] {
    [parts_dir.join(format!("{name}.jsonl")), parts_dir.join(format!("{name}.unit.json"))]
}

#[derive(Default)]
struct ManifestCache {
    by_dir: HashMap<PathBuf, Option<Manifest>>,
}

impl ManifestCache {
    /// `Ok(Err(check))` when there is nothing to compare against.
    fn expected_md5(&mut self, cfg: &DataConfig, unit: &InputUnit) -> Result<Result<String, ManifestCheck>> {
        let InputUnit::BulkTar { path } = unit else {
            return Ok(Err(ManifestCheck::NotChecked));
        };
        if !cfg.validation.check_manifest {
            return Ok(Err(ManifestCheck::NotChecked));
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if !self.by_dir.contains_key(&dir) {
            let manifest = manifest_next_to(path).map(|m| read_manifest(&m)).transpose()?;
            self.by_dir.insert(dir.clone(), manifest);
        }
        Ok(match self.by_dir.get(&dir).and_then(Option::as_ref) {
            None => Err(ManifestCheck::NoManifest),
            Some(manifest) => {
                manifest.entry_for(path).map(|e| e.md5sum.clone()).ok_or(ManifestCheck::NoEntry)
            }
        })
    }
}

/// Worker threads for `--jobs`: 0 means every core (or `RAYON_NUM_THREADS`).
pub fn worker_count(jobs: usize) -> usize {
    if jobs == 0 {
        rayon::current_num_threads()
    } else {
        jobs
    }
}

/// Papers in flight per worker (read and not yet written): enough for every
/// worker to find the next paper waiting and for the largest waiting paper
/// to start early, few enough that memory is a handful of papers per worker.
pub const IN_FLIGHT_PER_WORKER: usize = 4;

/// A unit this call processes (not resumed from its part).
struct UnitTask<'a> {
    index: usize,
    unit: &'a InputUnit,
    name: String,
}

/// What flows from the reader to the writer, in input order.
enum Event {
    /// The reader starts a unit: the writer opens its part. `expected_md5` is
    /// `Err` with the check's outcome when the tar is not hashed (no manifest,
    /// not checked, or verified in an earlier run); `stamp` is where a match
    /// is recorded.
    UnitStart {
        index: usize,
        label: String,
        name: String,
        expected_md5: Result<String, ManifestCheck>,
        stamp: Option<TarStamp>,
    },
    /// One paper through the per-paper stages.
    Paper(PaperLine),
    /// The reader finished a unit: the writer completes its part.
    UnitEnd { read: UnitReadReport, read_seconds: f64, size_on_disk: u64 },
}

/// A paper's record as its part holds it, serialized by the worker that
/// processed it: the one writer thread then only copies bytes. Serializing
/// there cost 4% of a paper's CPU, which on 16 workers is most of a core
/// spent in series.
struct PaperLine {
    json: Vec<u8>,
    /// The record itself, for a unit whose records stream to the finishing pass.
    record: PaperRecord,
    seconds: StageSeconds,
}

impl PaperLine {
    fn new(record: PaperRecord, seconds: StageSeconds) -> Result<Self> {
        let json = serde_json::to_vec(&record)
            .with_context(|| format!("internal: cannot serialize the record of {}", record.id))?;
        Ok(Self { json, record, seconds })
    }
}

/// Streams every paper of `units` through the per-paper stages: one reader
/// thread (this unit's papers, then the next unit's: no barrier between
/// units), `workers` threads taking papers as they come (the largest waiting
/// first), this thread writing each unit's part in input order, and one
/// thread making the parts durable. Returns the number of units completed.
fn process_units(
    ctx: &PaperContext,
    units: Vec<UnitTask>,
    verified: Option<&VerifiedTars>,
    workers: usize,
    parts_dir: &Path,
    bar: &ProgressBar,
    feed: &mut FinishFeed,
) -> Result<usize> {
    let (commits, pending) = std::sync::mpsc::sync_channel(PARTS_COMMITTING);
    std::thread::scope(|scope| {
        let committer = scope.spawn(move || pending.into_iter().try_for_each(PartCommit::run));
        let mut writer = PartWriter { parts_dir, bar, feed, open: None, completed: 0, commits };
        let capacity = workers * IN_FLIGHT_PER_WORKER + 2;
        let written = ordered_map(
            workers,
            capacity,
            |feeder: &Feeder<'_, RawPaper, Event>| read_units(ctx, &units, verified, feeder),
            |raw: RawPaper| {
                let (record, seconds) = process_paper(ctx, raw)?;
                PaperLine::new(record, seconds).map(Event::Paper)
            },
            |event| writer.write(event),
        );
        let completed = writer.completed;
        drop(writer);
        let committed =
            committer.join().unwrap_or_else(|_| bail!("internal: the thread that commits parts panicked"));
        // The committer's error first: it is why the writer could not hand it a part.
        committed?;
        written?;
        Ok(completed)
    })
}

/// Parts written and waiting for their sync, beyond which the writer waits.
const PARTS_COMMITTING: usize = 8;

/// The reader thread: every unit's papers in stored order, framed by unit markers.
fn read_units(
    ctx: &PaperContext,
    units: &[UnitTask],
    verified: Option<&VerifiedTars>,
    feeder: &Feeder<'_, RawPaper, Event>,
) -> Result<()> {
    let cfg = ctx.cfg;
    let mut manifests = ManifestCache::default();
    for task in units {
        let (expected_md5, stamp) = match (manifests.expected_md5(cfg, task.unit)?, verified) {
            (Ok(md5), Some(store)) => {
                let stamp = store.stamp_for(&task.unit.fingerprint(), &md5);
                if stamp.is_recorded() {
                    tracing::debug!("{}: md5 matched the manifest in an earlier run", task.unit.label());
                    (Err(ManifestCheck::Match), None)
                } else {
                    (Ok(md5), Some(stamp))
                }
            }
            (expected, _) => (expected, None),
        };
        let hash = expected_md5.is_ok();
        feeder.feed(Feed::Ready(Event::UnitStart {
            index: task.index,
            label: task.unit.label(),
            name: task.name.clone(),
            expected_md5,
            stamp,
        }))?;
        let clock = Instant::now();
        let mut blocked = 0.0;
        let read = read_unit(
            task.unit,
            cfg.validation.max_paper_bytes,
            hash,
            &|id| ctx.wants_content(id),
            &mut |raw| {
                // Compressed size stands in for the work a paper needs.
                let weight = match &raw.content {
                    RawContent::Bytes(bytes) => bytes.len() as u64,
                    _ => 0,
                };
                let waiting = Instant::now();
                feeder.feed(Feed::Work { input: raw, weight })?;
                blocked += waiting.elapsed().as_secs_f64();
                Ok(())
            },
        )?;
        let read_seconds = (clock.elapsed().as_secs_f64() - blocked).max(0.0);
        feeder.feed(Feed::Ready(Event::UnitEnd {
            read,
            read_seconds,
            size_on_disk: task.unit.size_on_disk(),
        }))?;
    }
    Ok(())
}

/// The writer: the part of the unit being read, completed at its end marker.
struct PartWriter<'a> {
    parts_dir: &'a Path,
    bar: &'a ProgressBar,
    feed: &'a mut FinishFeed,
    open: Option<OpenPart>,
    completed: usize,
    /// To the thread that syncs parts nothing waits to read back.
    commits: std::sync::mpsc::SyncSender<PartCommit>,
}

struct OpenPart {
    records: AtomicFile,
    report_path: PathBuf,
    report: UnitReport,
    expected_md5: Result<String, ManifestCheck>,
    stamp: Option<TarStamp>,
}

impl PartWriter<'_> {
    fn write(&mut self, event: Event) -> Result<()> {
        match event {
            Event::UnitStart { index, label, name, expected_md5, stamp } => {
                let [records_path, report_path] = part_paths(self.parts_dir, &name);
                self.bar.set_message(label.clone());
                self.feed.started(index, expected_md5.is_err());
                self.open = Some(OpenPart {
                    records: AtomicFile::create(&records_path)?,
                    report_path,
                    report: UnitReport::new(index, label),
                    expected_md5,
                    stamp,
                });
            }
            Event::Paper(paper) => {
                let part = self.open.as_mut().context("internal: a paper arrived outside any unit")?;
                part.report.papers += 1;
                part.report.bytes_in += paper.record.bytes_in;
                part.report.stage_seconds.iter_mut().zip(paper.seconds).for_each(|(a, b)| *a += b);
                part.report.stage_papers[..stages_entered(&paper.record)].iter_mut().for_each(|n| *n += 1);
                part.records.write_line(&paper.json)?;
                self.feed.record(paper.record)?;
            }
            Event::UnitEnd { read, read_seconds, size_on_disk } => {
                let part = self.open.take().context("internal: a unit ended that never started")?;
                let index = part.report.index;
                let (report, commit) = part.close(read, read_seconds);
                if self.feed.streaming() {
                    // The finishing pass has its records: syncing the part
                    // (0.5–190 ms measured on this VM's disk, more on network
                    // file systems) must not hold the workers' results back.
                    self.commits
                        .send(commit)
                        .map_err(|_| anyhow::anyhow!("the thread that commits parts stopped"))?;
                } else {
                    commit.run()?;
                }
                self.feed.completed(index, report)?;
                self.bar.set_message(String::new());
                self.bar.inc(size_on_disk);
                self.completed += 1;
            }
        }
        Ok(())
    }
}

impl OpenPart {
    /// The unit's report, and its part ready to commit.
    fn close(mut self, read: UnitReadReport, read_seconds: f64) -> (UnitReport, PartCommit) {
        let report = &mut self.report;
        report.read_seconds = read_seconds;
        for error in &read.errors {
            tracing::warn!("{error}");
        }
        report.read_errors = read.errors;
        report.manifest = match (self.expected_md5, read.md5) {
            (Err(check), _) => check,
            (Ok(expected), Some(actual)) if expected == actual => {
                // The stamp only saves the next run a hash: failing to write it
                // (a read-only work directory) must not fail this run.
                if let Some(Err(e)) = self.stamp.as_ref().map(|s| s.record(&report.label, &actual)) {
                    tracing::warn!("{e:#}; {} will be hashed again on the next run", report.label);
                }
                ManifestCheck::Match
            }
            (Ok(expected), actual) => {
                ManifestCheck::Mismatch { expected, actual: actual.unwrap_or_default() }
            }
        };
        if let ManifestCheck::Mismatch { expected, actual } = &report.manifest {
            tracing::warn!(
                "{}: md5 {actual} differs from the manifest's {expected}; its papers are dropped",
                report.label
            );
        }
        let commit = PartCommit { records: self.records, report_path: self.report_path, report: self.report };
        (commit.report.clone(), commit)
    }
}

/// A unit's part, written and waiting to be made durable: its report, then
/// its records synced and renamed into place (their presence marks the unit
/// complete for a rerun).
struct PartCommit {
    records: AtomicFile,
    report_path: PathBuf,
    report: UnitReport,
}

impl PartCommit {
    fn run(self) -> Result<()> {
        crate::io::write_json_atomic(&self.report_path, &self.report)?;
        self.records.commit()
    }
}

fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0/8", Some((0, 8)))]
    #[case("7/8", Some((7, 8)))]
    #[case(" 3 / 4 ", Some((3, 4)))]
    #[case("8/8", None)]
    #[case("1/0", None)]
    #[case("1-8", None)]
    #[case("a/8", None)]
    fn shards_parse_zero_based(#[case] text: &str, #[case] want: Option<(usize, usize)>) {
        assert_eq!(parse_shard(text).ok(), want);
    }

    fn handed_over(receive: &std::sync::mpsc::Receiver<FinishInput>) -> Vec<String> {
        receive
            .try_iter()
            .map(|input| match input {
                FinishInput::Part(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
                FinishInput::Record(r) => format!("record {}", r.id),
                FinishInput::UnitEnd(report) => format!("end {}", report.index),
            })
            .collect()
    }

    /// A feed over units 0..units, of which `pending` are processed (the rest resumed).
    fn feed_over(units: usize, pending: &[usize]) -> (FinishFeed, std::sync::mpsc::Receiver<FinishInput>) {
        let parts: Vec<PartRef> =
            (0..units).map(|index| PartRef { index, name: format!("p{index}") }).collect();
        let unit = InputUnit::PaperFiles { files: Vec::new() };
        let todo: Vec<UnitTask> =
            pending.iter().map(|&index| UnitTask { index, unit: &unit, name: String::new() }).collect();
        let (send, receive) = std::sync::mpsc::sync_channel(FINISH_QUEUE);
        (FinishFeed::new(&parts, &todo, Path::new("parts"), send), receive)
    }

    fn paper(id: &str) -> PaperRecord {
        PaperRecord { id: id.into(), bytes_in: 1, dropped: None, chars_after: Vec::new(), doc: None }
    }

    #[test]
    fn parts_reach_the_finishing_pass_in_input_order_resumed_ones_in_their_place() {
        let (mut feed, receive) = feed_over(5, &[1, 3, 4]);
        let report = |index| UnitReport::new(index, String::new());
        feed.flush().unwrap();
        assert_eq!(handed_over(&receive), ["p0"], "the resumed part before the first pending one");
        feed.started(1, false);
        feed.record(paper("a")).unwrap();
        assert!(handed_over(&receive).is_empty(), "a unit whose verdict is to come is not streamed");
        feed.completed(1, report(1)).unwrap();
        assert_eq!(handed_over(&receive), ["p1", "p2"], "a completed part releases the resumed one after it");
        feed.started(3, true);
        feed.record(paper("b")).unwrap();
        feed.record(paper("c")).unwrap();
        assert_eq!(handed_over(&receive), ["record b", "record c"], "a unit with its verdict streams");
        feed.completed(3, report(3)).unwrap();
        assert_eq!(handed_over(&receive), ["end 3"]);
        feed.started(4, true);
        feed.record(paper("d")).unwrap();
        feed.completed(4, report(4)).unwrap();
        assert_eq!(handed_over(&receive), ["record d", "end 4"]);
        let (mut feed, receive) = feed_over(5, &[]);
        drop(receive);
        assert!(feed.flush().is_err(), "a finishing pass that stopped fails the writer");
    }

    #[test]
    fn only_the_unit_next_in_line_streams() {
        let (mut feed, receive) = feed_over(3, &[0, 1, 2]);
        feed.started(1, true);
        feed.record(paper("early")).unwrap();
        feed.completed(1, UnitReport::new(1, String::new())).unwrap();
        assert!(handed_over(&receive).is_empty(), "unit 1 must wait for unit 0");
        feed.started(0, true);
        feed.record(paper("first")).unwrap();
        feed.completed(0, UnitReport::new(0, String::new())).unwrap();
        assert_eq!(handed_over(&receive), ["record first", "end 0", "p1"]);
    }
}

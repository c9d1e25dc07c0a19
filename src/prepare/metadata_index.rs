//! The metadata index: the OAI snapshot read once (`replicate metadata index`)
//! into a Parquet file that holds only what the metadata filter and the
//! documents read, with the verdict inputs precomputed (abstract word count,
//! withdrawn flag, first-version year).
//!
//! Why: the snapshot is ~4 GB of JSON lines (2.7M records); every shard of a
//! Slurm array parsed all of it and held every verdict with its text (22 s and
//! 1.57 GB RSS per shard, measured). With the index a shard holds the ids and
//! their verdicts (tens of MB) and reads title and abstract only for the row
//! groups its kept papers are in.
//!
//! The index keeps every usable record in snapshot order (row = record
//! ordinal) and the read statistics of the snapshot (malformed lines,
//! duplicate ids) in the file's key-value metadata, with the rows that the
//! duplicate rule ([`DuplicateIds`]) set aside: the rules run once, in the
//! code the snapshot reader uses, and `prepare` gives the same results
//! through either file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use polars::io::parquet::read::_internal::to_deserializer;
use polars::io::parquet::read::infer_schema;
use polars::prelude::{
    BatchedWriter, Column, DataFrame, IntoColumn, ParquetCompression, ParquetReader, ParquetWriter,
    PolarsResult, SerReader, Series, StatisticsOptions,
};
use polars_parquet::write::{schema_to_metadata_key, KeyValue, ZstdLevel};
use serde::{Deserialize, Serialize};

use super::metadata_filter::{judge, warn_duplicates, MetadataFields, VerdictInputs};
use super::output::{persist_synced, temp_file_beside};
use crate::corpus::metadata::{for_each_record, DuplicateIds, MetadataReadStats, MetadataRecord, Offer};
use crate::ledger::DropReason;
use crate::spec::data::MetadataFilter;

/// The key of the index header in the Parquet key-value metadata.
pub const INDEX_KEY: &str = "arxiv-to-model.metadata-index";
/// Bumped when the columns or the header change: an older index is refused.
pub const INDEX_FORMAT: u32 = 1;
/// Rows per row group: the grain at which a shard reads text. Measured at
/// 2.7M records: loading the verdicts peaks at 94 MB; with 16,384-row groups
/// decoding text pushed `prepare` to 243 MB, so groups are 4,096 rows
/// (~5 MB of title and abstract).
pub const ROW_GROUP_ROWS: usize = 4_096;
/// Decoded row groups of text kept at once (bulk tars hold one month of
/// papers, so a unit's papers sit in few, neighbouring row groups).
const TEXT_CACHE_GROUPS: usize = 4;

const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// zstd level 1, not polars' default 3: the encoder was a fifth of the
/// build's CPU time at level 3 (the bench's target: build <= 3x the raw read).
const INDEX_ZSTD_LEVEL: i32 = 1;

mod col {
    pub const ID: &str = "id";
    pub const VERSIONS: &str = "versions";
    pub const CATEGORIES: &str = "categories";
    pub const ABSTRACT_WORDS: &str = "abstract_words";
    pub const FIRST_VERSION_YEAR: &str = "first_version_year";
    pub const WITHDRAWN: &str = "withdrawn";
    pub const LICENSE: &str = "license";
    pub const TITLE: &str = "title";
    pub const ABSTRACT: &str = "abstract";
}

/// Stored in the key-value metadata under [`INDEX_KEY`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexHeader {
    pub format: u32,
    /// The snapshot the index was built from, as given.
    pub snapshot: PathBuf,
    /// How reading the snapshot went (malformed lines, duplicate ids).
    pub stats: MetadataReadStats,
    /// Rows (record ordinals) that the duplicate rule set aside, ascending.
    pub superseded: Vec<u64>,
}

/// What `replicate metadata index` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexBuildReport {
    pub snapshot: PathBuf,
    pub index: PathBuf,
    pub records: u64,
    pub malformed_lines: u64,
    pub duplicate_ids: u64,
    pub row_groups: usize,
    pub index_bytes: u64,
    pub seconds: f64,
}

/// Whether `path` is a Parquet file (the magic, never the name): `--metadata`
/// takes the snapshot or its index.
pub fn is_index(path: &Path) -> Result<bool> {
    crate::io::require_regular_file(path, "--metadata")?;
    let mut file = File::open(path).with_context(|| {
        format!(
            "cannot open the metadata file {}; pass the OAI snapshot (JSON lines, plain or .gz) or its index",
            path.display()
        )
    })?;
    let mut magic = [0u8; 4];
    let got = file.read(&mut magic)?;
    Ok(got == 4 && &magic == PARQUET_MAGIC)
}

/// Column builders for one row group.
#[derive(Default)]
struct Columns {
    id: Vec<String>,
    versions: Vec<u32>,
    categories: Vec<Option<String>>,
    abstract_words: Vec<u32>,
    first_version_year: Vec<Option<u32>>,
    withdrawn: Vec<bool>,
    license: Vec<Option<String>>,
    title: Vec<Option<String>>,
    abstract_text: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, record: MetadataRecord) {
        let inputs = VerdictInputs::of(&record);
        self.abstract_words.push(inputs.abstract_words);
        self.withdrawn.push(inputs.withdrawn);
        self.first_version_year.push(inputs.first_version_year.map(u32::from));
        self.id.push(record.id);
        self.versions.push(record.versions);
        self.categories.push(record.categories);
        self.license.push(record.license);
        self.title.push(record.title);
        self.abstract_text.push(record.abstract_text);
    }

    fn len(&self) -> usize {
        self.id.len()
    }

    fn take_frame(&mut self) -> PolarsResult<DataFrame> {
        let c = std::mem::take(self);
        let height = c.id.len();
        DataFrame::new(
            height,
            vec![
                Column::new(col::ID.into(), c.id),
                Column::new(col::VERSIONS.into(), c.versions),
                Column::new(col::CATEGORIES.into(), c.categories),
                Column::new(col::ABSTRACT_WORDS.into(), c.abstract_words),
                Column::new(col::FIRST_VERSION_YEAR.into(), c.first_version_year),
                Column::new(col::WITHDRAWN.into(), c.withdrawn),
                Column::new(col::LICENSE.into(), c.license),
                Column::new(col::TITLE.into(), c.title),
                Column::new(col::ABSTRACT.into(), c.abstract_text),
            ],
        )
    }
}

/// Reads `snapshot` once and writes its index to `out` (atomically: a
/// failed build leaves no file behind). Parsing and Parquet encoding run on
/// two threads.
pub fn build(snapshot: &Path, out: &Path) -> Result<IndexBuildReport> {
    let clock = Instant::now();
    let tmp = temp_file_beside(out)?;
    let schema = Columns::default().take_frame()?.schema().clone();
    let file = tmp.reopen()?;
    let writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(Some(ZstdLevel::try_new(INDEX_ZSTD_LEVEL)?)))
        .with_statistics(StatisticsOptions::empty())
        .batched(&schema)?;

    let (send, receive) = mpsc::sync_channel::<DataFrame>(2);
    let encoder = std::thread::spawn(move || -> PolarsResult<(BatchedWriter<File>, usize)> {
        let mut writer = writer;
        let mut groups = 0;
        for frame in receive {
            writer.write_batch(&frame)?;
            groups += 1;
        }
        Ok((writer, groups))
    });

    let mut columns = Columns::default();
    let mut duplicates = DuplicateIds::default();
    let mut superseded = Vec::new();
    let mut ordinal = 0u64;
    let read = for_each_record(snapshot, |record| {
        match duplicates.offer(&record.id, record.versions, ordinal) {
            Offer::First => {}
            Offer::Replaces(old) => superseded.push(old),
            Offer::Loses => superseded.push(ordinal),
        }
        ordinal += 1;
        columns.push(record);
        if columns.len() >= ROW_GROUP_ROWS {
            send.send(columns.take_frame()?).context("the index encoder stopped")?;
        }
        Ok(())
    });
    if read.is_ok() && columns.len() > 0 {
        send.send(columns.take_frame()?).ok();
    }
    drop(send);
    let encoded = encoder.join().map_err(|_| anyhow::anyhow!("the index encoder panicked"))?;
    let (writer, row_groups) =
        encoded.with_context(|| format!("cannot write the metadata index {}", out.display()))?;
    let mut stats = read?;
    stats.duplicate_ids = duplicates.repeats;
    drop(duplicates);

    superseded.sort_unstable();
    warn_duplicates(snapshot, &stats);
    if let Err(why) = stats.check(snapshot) {
        tracing::warn!(
            "{why:#}; the index records this and `prepare` will refuse it as it refuses the snapshot"
        );
    }
    let header = IndexHeader {
        format: INDEX_FORMAT,
        snapshot: snapshot.to_path_buf(),
        stats: stats.clone(),
        superseded,
    };
    {
        let mut file_writer =
            writer.get_writer().lock().map_err(|_| anyhow::anyhow!("index writer poisoned"))?;
        let arrow_schema = schema_to_metadata_key(file_writer.schema());
        let ours = KeyValue { key: INDEX_KEY.to_string(), value: Some(serde_json::to_string(&header)?) };
        file_writer
            .end(Some(vec![arrow_schema, ours]))
            .with_context(|| format!("cannot write the metadata index {}", out.display()))?;
    }
    drop(writer);
    persist_synced(tmp, out)?;
    let index_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(IndexBuildReport {
        snapshot: snapshot.to_path_buf(),
        index: out.to_path_buf(),
        records: stats.records,
        malformed_lines: stats.malformed_lines,
        duplicate_ids: stats.duplicate_ids,
        row_groups,
        index_bytes,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// Every id's verdict, sorted by id for lookup; ids live in one arena (a
/// `HashMap<String, _>` of 2.7M ids alone costs ~150 MB).
#[derive(Debug, Default)]
struct Verdicts {
    arena: String,
    /// End of each entry's id in `arena` (entry `i` starts at `ends[i - 1]`).
    ends: Vec<u32>,
    rows: Vec<u32>,
    verdicts: Vec<Option<DropReason>>,
    /// Entry numbers sorted by id.
    order: Vec<u32>,
}

impl Verdicts {
    fn id(&self, entry: u32) -> &str {
        let entry = entry as usize;
        let start = if entry == 0 { 0 } else { self.ends[entry - 1] as usize };
        &self.arena[start..self.ends[entry] as usize]
    }

    fn reserve(&mut self, rows: usize) {
        self.ends.reserve_exact(rows);
        self.rows.reserve_exact(rows);
        self.verdicts.reserve_exact(rows);
    }

    fn push(&mut self, id: &str, row: u32, verdict: Option<DropReason>) -> Result<()> {
        self.arena.push_str(id);
        let end = u32::try_from(self.arena.len()).context("the index holds more than 4 GiB of ids")?;
        self.ends.push(end);
        self.rows.push(row);
        self.verdicts.push(verdict);
        Ok(())
    }

    fn seal(&mut self) {
        let mut order: Vec<u32> = (0..self.rows.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.id(a).cmp(self.id(b)));
        self.order = order;
        self.arena.shrink_to_fit();
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.order.binary_search_by(|&e| self.id(e).cmp(id)).ok().map(|i| self.order[i] as usize)
    }
}

/// An opened index: verdicts in memory, text on demand.
pub struct MetadataIndex {
    path: PathBuf,
    file: Mutex<File>,
    footer: polars::io::parquet::metadata::FileMetadataRef,
    schema: polars::prelude::ArrowSchema,
    /// First row of each row group, and the row count as the last element.
    group_starts: Vec<usize>,
    verdicts: Verdicts,
    pub header: IndexHeader,
    pub stats: MetadataReadStats,
    /// Recently decoded text row groups, most recent first.
    text_cache: Mutex<Vec<(usize, Arc<DataFrame>)>>,
}

impl std::fmt::Debug for MetadataIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataIndex").field("path", &self.path).field("ids", &self.len()).finish()
    }
}

fn rebuild_hint(path: &Path) -> String {
    format!("rebuild it with `replicate metadata index SNAPSHOT --out {}`", path.display())
}

impl MetadataIndex {
    /// Opens the index at `path` and judges every id by `filter`.
    pub fn open(path: &Path, filter: &MetadataFilter) -> Result<Self> {
        let footer = read_footer(path)?;
        let header = read_header(path, &footer)?;
        if footer.num_rows as u64 != header.stats.records {
            bail!(
                "the metadata index {} holds {} rows but its header counts {} records; {}",
                path.display(),
                footer.num_rows,
                header.stats.records,
                rebuild_hint(path)
            );
        }
        let mut group_starts = vec![0usize];
        for group in &footer.row_groups {
            group_starts.push(group_starts.last().copied().unwrap_or(0) + group.num_rows());
        }
        let schema = infer_schema(&footer).map_err(|e| {
            anyhow::anyhow!(
                "the metadata index {} has an unreadable schema ({e}); {}",
                path.display(),
                rebuild_hint(path)
            )
        })?;
        let file =
            File::open(path).with_context(|| format!("cannot open the metadata index {}", path.display()))?;
        let mut index = Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            footer,
            schema,
            group_starts,
            verdicts: Verdicts::default(),
            stats: header.stats.clone(),
            header,
            text_cache: Mutex::new(Vec::new()),
        };
        index.load_verdicts(filter)?;
        Ok(index)
    }

    /// Reads `columns` of row group `group` with positioned reads of just
    /// their column chunks. Why not `ParquetReader`: it maps the whole file,
    /// and every page it touches counts toward the process's resident memory
    /// (measured ~50 MB of mapped index pages on top of the heap at 2.7M records).
    fn read_group(&self, group: usize, columns: &[&str]) -> Result<DataFrame> {
        let damaged = || {
            format!(
                "cannot read row group {group} of the metadata index {}: is it damaged? {}",
                self.path.display(),
                rebuild_hint(&self.path)
            )
        };
        let row_group = &self.footer.row_groups[group];
        let mut out = Vec::with_capacity(columns.len());
        for name in columns {
            let field = self.schema.get(name).with_context(|| {
                format!(
                    "the metadata index {} lacks the column {name}; {}",
                    self.path.display(),
                    rebuild_hint(&self.path)
                )
            })?;
            let mut chunks = Vec::new();
            for meta in row_group.columns_under_root_iter(name).with_context(damaged)? {
                let range = meta.byte_range();
                let mut bytes = vec![0u8; usize::try_from(range.end - range.start)?];
                let mut file =
                    self.file.lock().map_err(|_| anyhow::anyhow!("metadata index file poisoned"))?;
                file.seek(SeekFrom::Start(range.start)).with_context(damaged)?;
                file.read_exact(&mut bytes).with_context(damaged)?;
                chunks.push((meta, bytes.into()));
            }
            let (arrays, _) = to_deserializer(chunks, field.clone(), None).with_context(damaged)?;
            out.push(Series::try_from((field, arrays)).with_context(damaged)?.into_column());
        }
        DataFrame::new(row_group.num_rows(), out).with_context(damaged)
    }

    fn load_verdicts(&mut self, filter: &MetadataFilter) -> Result<()> {
        let columns = [
            col::ID,
            col::CATEGORIES,
            col::ABSTRACT_WORDS,
            col::FIRST_VERSION_YEAR,
            col::WITHDRAWN,
            col::LICENSE,
        ];
        let mut superseded = self.header.superseded.iter().copied().peekable();
        let groups = self.footer.row_groups.len();
        let mut verdicts = Verdicts::default();
        verdicts.reserve(self.footer.num_rows);
        for group in 0..groups {
            let frame = self.read_group(group, &columns)?;
            let start = self.group_starts[group];
            let typed = || -> PolarsResult<_> {
                Ok((
                    frame.column(col::ID)?.str()?.clone(),
                    frame.column(col::CATEGORIES)?.str()?.clone(),
                    frame.column(col::ABSTRACT_WORDS)?.u32()?.clone(),
                    frame.column(col::FIRST_VERSION_YEAR)?.u32()?.clone(),
                    frame.column(col::WITHDRAWN)?.bool()?.clone(),
                    frame.column(col::LICENSE)?.str()?.clone(),
                ))
            };
            let (ids, categories, words, years, withdrawn, licenses) = typed().with_context(|| {
                format!(
                    "the metadata index {} lacks a column or has another type; {}",
                    self.path.display(),
                    rebuild_hint(&self.path)
                )
            })?;
            let rows = ids
                .iter()
                .zip(categories.iter())
                .zip(words.iter())
                .zip(years.iter())
                .zip(withdrawn.iter())
                .zip(licenses.iter());
            for (i, (((((id, categories), words), year), withdrawn), license)) in rows.enumerate() {
                let row = (start + i) as u64;
                if superseded.next_if_eq(&row).is_some() {
                    continue;
                }
                let inputs = VerdictInputs {
                    categories,
                    abstract_words: words.unwrap_or(0),
                    first_version_year: year.and_then(|y| u16::try_from(y).ok()),
                    withdrawn: withdrawn.unwrap_or(false),
                    license,
                };
                let id = id.with_context(|| {
                    format!("the metadata index {} has a row without id", self.path.display())
                })?;
                let row = u32::try_from(row).context("the index holds more than 4G rows")?;
                verdicts.push(id, row, judge(&inputs, filter).err())?;
            }
        }
        verdicts.seal();
        self.verdicts = verdicts;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.verdicts.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn verdict(&self, id: &str) -> Result<(), DropReason> {
        match self.verdicts.find(id) {
            None => Err(DropReason::NoMetadataRecord),
            Some(entry) => self.verdicts.verdicts[entry].map_or(Ok(()), Err),
        }
    }

    /// The verdict, with the kept paper's text read from its row group.
    pub fn judge(&self, id: &str) -> Result<Result<MetadataFields, DropReason>> {
        let Some(entry) = self.verdicts.find(id) else { return Ok(Err(DropReason::NoMetadataRecord)) };
        if let Some(reason) = self.verdicts.verdicts[entry] {
            return Ok(Err(reason));
        }
        let row = self.verdicts.rows[entry] as usize;
        let group = self.group_starts.partition_point(|&s| s <= row) - 1;
        let frame = self.text_group(group)?;
        let at = row - self.group_starts[group];
        let text = |name: &str| -> Result<String> {
            let column = frame.column(name).and_then(|c| c.str().cloned()).with_context(|| {
                format!("the metadata index {} lacks the text column {name}", self.path.display())
            })?;
            Ok(column.get(at).unwrap_or_default().to_string())
        };
        Ok(Ok(MetadataFields {
            title: text(col::TITLE)?,
            abstract_text: text(col::ABSTRACT)?,
            categories: text(col::CATEGORIES)?,
        }))
    }

    fn text_group(&self, group: usize) -> Result<Arc<DataFrame>> {
        let mut cache =
            self.text_cache.lock().map_err(|_| anyhow::anyhow!("metadata text cache poisoned"))?;
        if let Some(i) = cache.iter().position(|(g, _)| *g == group) {
            let hit = cache.remove(i);
            let frame = hit.1.clone();
            cache.insert(0, hit);
            return Ok(frame);
        }
        let frame = Arc::new(self.read_group(group, &[col::TITLE, col::ABSTRACT, col::CATEGORIES])?);
        cache.insert(0, (group, frame.clone()));
        cache.truncate(TEXT_CACHE_GROUPS);
        Ok(frame)
    }
}

/// The Parquet footer, or an error that names the file and says what to do.
fn read_footer(path: &Path) -> Result<polars::io::parquet::metadata::FileMetadataRef> {
    let mut file =
        File::open(path).with_context(|| format!("cannot open the metadata index {}", path.display()))?;
    let len = file.metadata()?.len();
    let mut tail = [0u8; 4];
    let complete = len >= 12 && {
        file.seek(SeekFrom::End(-4))?;
        file.read_exact(&mut tail)?;
        &tail == PARQUET_MAGIC
    };
    if !complete {
        bail!(
            "the metadata index {} is truncated or damaged (it starts like Parquet but has no Parquet footer, {len} bytes); {}",
            path.display(),
            rebuild_hint(path)
        );
    }
    file.seek(SeekFrom::Start(0))?;
    let mut reader = ParquetReader::new(file);
    let footer = reader.get_metadata().map(Arc::clone).map_err(|e| {
        anyhow::anyhow!(
            "the metadata index {} has an unreadable Parquet footer ({e}); {}",
            path.display(),
            rebuild_hint(path)
        )
    })?;
    Ok(footer)
}

fn read_header(path: &Path, footer: &polars::io::parquet::metadata::FileMetadata) -> Result<IndexHeader> {
    let value = footer
        .key_value_metadata
        .as_ref()
        .and_then(|kv| kv.iter().find(|kv| kv.key == INDEX_KEY))
        .and_then(|kv| kv.value.as_deref());
    let Some(value) = value else {
        bail!(
            "{} is a Parquet file but not a metadata index of this program (no {INDEX_KEY} header); {}",
            path.display(),
            rebuild_hint(path)
        );
    };
    let header: IndexHeader = serde_json::from_str(value).with_context(|| {
        format!("the metadata index {} has a damaged header; {}", path.display(), rebuild_hint(path))
    })?;
    if header.format != INDEX_FORMAT {
        bail!(
            "the metadata index {} has format {} but this program reads format {INDEX_FORMAT}; {}",
            path.display(),
            header.format,
            rebuild_hint(path)
        );
    }
    Ok(header)
}

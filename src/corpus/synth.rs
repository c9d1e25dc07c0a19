//! The embedded synthetic corpus: bulk tars, manifest, OAI metadata and the
//! ground truth of every paper under every Y run.
//!
//! `replicate corpus synth --papers N --seed S --out DIR` writes, under `DIR`:
//! - `src/arXiv_src_2401_NNN.tar`: bulk tars as arXiv ships them (50 papers
//!   each, members `YYMM/<id>.gz`, old-style ids without their slash), and
//!   `src/arXiv_src_manifest.xml` in arXiv's `arXivSRC` format, so
//!   `--src DIR/src` reads exactly the tars and the manifest sits next to them;
//! - `arxiv-metadata-oai-snapshot.json`: OAI snapshot JSON lines;
//! - `ground_truth.csv`: `id,spec,status,stage,reason` for every paper and Y run;
//! - `include_markers.csv`: `id,file,kind,sentence`, the marker sentences of
//!   included files and hidden text (see [`MarkerKind`]);
//! - `synth_summary.json`: the [`SynthSummary`].
//!
//! The papers cycle through every [`Case`] of data stages parts 1 and 2 in
//! blocks of [`Case::BLOCK`]; the first 33 papers hold every case, so the
//! smoke profile's 40 papers cover them all. Same `papers` and `seed`, same
//! bytes.

mod cases;
pub mod pack;
mod papers;
pub(crate) mod prose;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

pub use self::cases::{Behaviour, Case, GroundTruthRow, Status, Y_RUNS};
pub use self::papers::{Marker, MarkerKind, Record, Version, HUGE_TEX_BYTES, OVERSIZED_MEMBER_BYTES};

use self::pack::Member;
use self::papers::{Paper, PaperFactory};

/// Papers per bulk tar; arXiv's are ~500 MB, ours just need to be several.
pub const PAPERS_PER_TAR: usize = 50;

/// New-style ids are `2401.NNNNN`: five digits.
pub const MAX_PAPERS: u32 = 99_999;

/// The month every bulk tar is named after.
const TAR_YYMM: &str = "2401";

/// Manifest timestamps: fixed, so the manifest is byte-stable.
const MANIFEST_FILE_TIMESTAMP: &str = "2024-02-01 04:17:12";
const MANIFEST_TIMESTAMP: &str = "Thu Feb  1 04:17:12 2024";

pub const SRC_DIR: &str = "src";
pub const MANIFEST_FILE: &str = "arXiv_src_manifest.xml";
pub const METADATA_FILE: &str = "arxiv-metadata-oai-snapshot.json";
pub const GROUND_TRUTH_FILE: &str = "ground_truth.csv";
pub const MARKERS_FILE: &str = "include_markers.csv";
pub const SUMMARY_FILE: &str = "synth_summary.json";

/// What `generate` wrote, for the CLI to print and for tests to open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthSummary {
    pub papers: u32,
    pub seed: u64,
    pub out_dir: PathBuf,
    /// The directory to pass as `--src`: the tars and the manifest.
    pub src_dir: PathBuf,
    pub tars: Vec<PathBuf>,
    pub manifest: PathBuf,
    pub metadata: PathBuf,
    pub ground_truth: PathBuf,
    pub markers: PathBuf,
    /// Papers per case (kebab-case names).
    pub cases: BTreeMap<String, u32>,
    /// Papers the ground truth keeps, per Y run.
    pub kept: BTreeMap<String, u32>,
    /// Metadata records written (papers minus the missing-metadata case, plus
    /// records of papers that are in no tar, as in the real snapshot).
    pub metadata_records: u32,
}

/// One `<file>` of the manifest.
struct ManifestEntry {
    file_name: String,
    content_md5: String,
    md5: String,
    size: usize,
    num_items: usize,
    first_item: String,
    last_item: String,
    seq_num: usize,
}

/// Writes the synthetic corpus of `papers` papers drawn with `seed` into `out`.
pub fn generate(papers: u32, seed: u64, out: &Path) -> Result<SynthSummary> {
    anyhow::ensure!(
        (1..=MAX_PAPERS).contains(&papers),
        "--papers must be between 1 and {MAX_PAPERS} (new-style ids have five digits); got {papers}"
    );
    let src_dir = out.join(SRC_DIR);
    std::fs::create_dir_all(&src_dir)
        .with_context(|| format!("cannot create the corpus directory {}", src_dir.display()))?;

    let mut factory = PaperFactory::new(seed);
    let all: Vec<Paper> = (0..papers).map(|i| factory.build(i)).collect::<Result<_>>()?;

    let mut tars = Vec::new();
    let mut manifest = Vec::new();
    for (k, chunk) in all.chunks(PAPERS_PER_TAR).enumerate() {
        let seq_num = k + 1;
        let file_name = format!("arXiv_src_{TAR_YYMM}_{seq_num:03}.tar");
        let members: Vec<Member> =
            chunk.iter().map(|p| Member::new(p.member.clone(), p.bytes.clone())).collect();
        let bytes = pack::tar(&members, true)?;
        let path = src_dir.join(&file_name);
        crate::io::write_atomic(&path, &bytes)?;
        manifest.push(manifest_entry(&file_name, seq_num, chunk, &bytes));
        tars.push(path);
    }
    let manifest_path = src_dir.join(MANIFEST_FILE);
    crate::io::write_atomic(&manifest_path, render_manifest(&manifest).as_bytes())?;

    let metadata_path = out.join(METADATA_FILE);
    let metadata_records = write_metadata(&metadata_path, &all)?;
    let ground_truth_path = out.join(GROUND_TRUTH_FILE);
    let rows = ground_truth(&all);
    write_csv(&ground_truth_path, &rows)?;
    let markers_path = out.join(MARKERS_FILE);
    let markers: Vec<&Marker> = all.iter().flat_map(|p| &p.markers).collect();
    write_csv(&markers_path, &markers)?;

    let mut cases = BTreeMap::new();
    for paper in &all {
        *cases.entry(paper.case.name()).or_insert(0) += 1;
    }
    let mut kept = BTreeMap::new();
    for row in &rows {
        let n = kept.entry(row.spec.clone()).or_insert(0);
        *n += u32::from(row.status == Status::Kept);
    }
    let summary = SynthSummary {
        papers,
        seed,
        out_dir: out.to_path_buf(),
        src_dir,
        tars,
        manifest: manifest_path,
        metadata: metadata_path,
        ground_truth: ground_truth_path,
        markers: markers_path,
        cases,
        kept,
        metadata_records,
    };
    crate::io::write_json_atomic(&out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// The expected ledger row of every paper under every Y run, papers in input order.
pub fn ground_truth_rows(papers: &[(String, Case)]) -> Vec<GroundTruthRow> {
    papers
        .iter()
        .flat_map(|(id, case)| {
            Y_RUNS
                .iter()
                .map(move |(run, behaviour)| GroundTruthRow::new(id, run, case.expected_drop(behaviour)))
        })
        .collect()
}

fn ground_truth(all: &[Paper]) -> Vec<GroundTruthRow> {
    let ids: Vec<(String, Case)> = all.iter().map(|p| (p.id.clone(), p.case)).collect();
    ground_truth_rows(&ids)
}

/// Reads a `ground_truth.csv` back, e.g. for the pipeline's end-to-end tests.
pub fn read_ground_truth(path: &Path) -> Result<Vec<GroundTruthRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| {
        format!("cannot open the ground truth {} (run `replicate corpus synth` to write it)", path.display())
    })?;
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.with_context(|| format!("{}: bad ground-truth row {}", path.display(), i + 2)))
        .collect()
}

/// Reads an `include_markers.csv` back.
pub fn read_markers(path: &Path) -> Result<Vec<Marker>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("cannot open the marker list {}", path.display()))?;
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.with_context(|| format!("{}: bad marker row {}", path.display(), i + 2)))
        .collect()
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row)?;
    }
    let bytes = writer.into_inner().context("finishing a CSV buffer")?;
    crate::io::write_atomic(path, &bytes)
}

/// Manifest items are named like the member stem: `2401.00001`, `math0601001`.
fn item_name(paper: &Paper) -> String {
    let file = paper.member.rsplit('/').next().unwrap_or(&paper.member);
    file.rsplit_once('.').map_or(file, |(stem, _)| stem).to_string()
}

fn manifest_entry(file_name: &str, seq_num: usize, chunk: &[Paper], tar_bytes: &[u8]) -> ManifestEntry {
    // arXiv's content_md5sum is the md5 of the members' bytes in archive
    // order (checked on the real sample: directory entries add nothing).
    let mut content = Md5::new();
    for paper in chunk {
        content.update(&paper.bytes);
    }
    ManifestEntry {
        file_name: file_name.to_string(),
        content_md5: hex::encode(content.finalize()),
        md5: hex::encode(Md5::digest(tar_bytes)),
        size: tar_bytes.len(),
        num_items: chunk.len(),
        first_item: chunk.first().map(item_name).unwrap_or_default(),
        last_item: chunk.last().map(item_name).unwrap_or_default(),
        seq_num,
    }
}

/// The `arXivSRC` XML, laid out exactly like `arXiv_src_manifest.xml`.
fn render_manifest(entries: &[ManifestEntry]) -> String {
    let mut xml = String::from("<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n");
    for e in entries {
        xml.push_str(&format!(
            "  <file>\n    <content_md5sum>{}</content_md5sum>\n    <filename>{SRC_DIR}/{}</filename>\n    \
             <first_item>{}</first_item>\n    <last_item>{}</last_item>\n    <md5sum>{}</md5sum>\n    \
             <num_items>{}</num_items>\n    <seq_num>{}</seq_num>\n    <size>{}</size>\n    \
             <timestamp>{MANIFEST_FILE_TIMESTAMP}</timestamp>\n    <yymm>{TAR_YYMM}</yymm>\n  </file>\n",
            e.content_md5, e.file_name, e.first_item, e.last_item, e.md5, e.num_items, e.seq_num, e.size
        ));
    }
    xml.push_str(&format!("<timestamp>{MANIFEST_TIMESTAMP}</timestamp>\n</arXivSRC>\n"));
    xml
}

/// JSON lines in paper order, plus one record per block for a paper that is
/// in no tar (the real snapshot lists all of arXiv, not just the tars read).
fn write_metadata(path: &Path, all: &[Paper]) -> Result<u32> {
    let mut out = Vec::new();
    let mut count = 0u32;
    for (i, paper) in all.iter().enumerate() {
        if let Some(record) = &paper.record {
            serde_json::to_writer(&mut out, record)?;
            out.push(b'\n');
            count += 1;
        }
        if (i + 1) % Case::BLOCK as usize == 0 || i + 1 == all.len() {
            if let Some(record) = &all[i / Case::BLOCK as usize * Case::BLOCK as usize].record {
                let mut absent = record.clone();
                absent.id = format!("2312.{:05}", i / Case::BLOCK as usize + 1);
                serde_json::to_writer(&mut out, &absent)?;
                out.push(b'\n');
                count += 1;
            }
        }
    }
    crate::io::write_atomic(path, &out)?;
    Ok(count)
}

#[cfg(test)]
mod tests;

//! The OAI metadata snapshot (`arxiv-metadata-oai-snapshot.json`): one JSON
//! record per line, plain or gzipped, read as a stream.
//!
//! Every field may be null or missing: the released filter crashes on a null
//! abstract, this reader turns such a field into `None` and lets the filter
//! decide. A line that is not a JSON object is counted, never fatal.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::id::canonical_id;

/// The fields of one snapshot record that the pipeline uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRecord {
    pub id: String,
    pub title: Option<String>,
    pub abstract_text: Option<String>,
    /// Space-separated, as in the snapshot (`"math.LO cs.LO"`).
    pub categories: Option<String>,
    pub comments: Option<String>,
    pub license: Option<String>,
    /// Year of `versions[0].created`.
    pub first_version_year: Option<u16>,
    /// Length of `versions`: which of two records of one id is the later.
    pub versions: u32,
}

/// How a snapshot read went: lines that could not be used are counted and
/// the first few are quoted so a user can find them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataReadStats {
    pub records: u64,
    pub malformed_lines: u64,
    pub first_errors: Vec<String>,
    /// Records whose id an earlier line already had (see `MetadataTable::load`).
    #[serde(default)]
    pub duplicate_ids: u64,
}

impl MetadataReadStats {
    /// Above this share of malformed lines the file is taken for something
    /// other than the OAI snapshot (or a damaged one), not a few bad records.
    pub const MAX_MALFORMED_SHARE: f64 = 0.01;

    /// Warns about any malformed line; an error when they are more than
    /// [`Self::MAX_MALFORMED_SHARE`] of the lines, naming the first ones.
    pub fn check(&self, path: &Path) -> Result<()> {
        if self.malformed_lines == 0 {
            return Ok(());
        }
        let lines = self.records + self.malformed_lines;
        let share = self.malformed_lines as f64 / lines as f64;
        let first = self.first_errors.join("\n  ");
        if share > Self::MAX_MALFORMED_SHARE {
            anyhow::bail!(
                "--metadata {}: {} of {lines} lines ({:.1}%) are not usable records, more than the {}% allowed; \
                 is it the OAI snapshot? First bad lines:\n  {first}",
                path.display(),
                self.malformed_lines,
                share * 100.0,
                Self::MAX_MALFORMED_SHARE * 100.0
            );
        }
        tracing::warn!(
            "--metadata {}: {} of {lines} lines are not usable records and were skipped; first:\n  {first}",
            path.display(),
            self.malformed_lines
        );
        Ok(())
    }
}

/// Longest snapshot line read: real records are a few KiB; a file without
/// newlines (`/dev/zero`, a binary) must not be read into memory whole.
pub const MAX_LINE_BYTES: u64 = 16 << 20;

#[derive(Deserialize)]
struct OaiLine {
    id: Option<String>,
    title: Option<String>,
    #[serde(rename = "abstract")]
    abstract_text: Option<String>,
    categories: Option<String>,
    comments: Option<String>,
    license: Option<String>,
    versions: Option<Vec<OaiVersion>>,
}

#[derive(Deserialize)]
struct OaiVersion {
    created: Option<String>,
}

const QUOTED_ERRORS: usize = 5;

/// Calls `visit` for every usable record of the snapshot at `path`; an error
/// from `visit` stops the read and is returned.
pub fn for_each_record(
    path: &Path,
    mut visit: impl FnMut(MetadataRecord) -> Result<()>,
) -> Result<MetadataReadStats> {
    let reader = open_maybe_gzip(path)?;
    let mut stats = MetadataReadStats::default();
    let mut line = Vec::new();
    let mut reader = BufReader::new(reader);
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader).take(MAX_LINE_BYTES + 1).read_until(b'\n', &mut line).with_context(|| {
            format!(
                "cannot read the metadata snapshot {} (line {}); is the gzip stream complete?",
                path.display(),
                number + 1
            )
        })?;
        if n == 0 {
            break;
        }
        number += 1;
        if n as u64 > MAX_LINE_BYTES {
            anyhow::bail!(
                "--metadata {}: line {number} is longer than {} MiB; pass the OAI snapshot JSON lines (plain or .gz)",
                path.display(),
                MAX_LINE_BYTES >> 20
            );
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_record(&line) {
            Ok(record) => {
                stats.records += 1;
                visit(record)?;
            }
            Err(why) => {
                stats.malformed_lines += 1;
                if stats.first_errors.len() < QUOTED_ERRORS {
                    stats.first_errors.push(format!("{}:{number}: {why}", path.display()));
                }
            }
        }
    }
    Ok(stats)
}

/// The rule for a snapshot that repeats an id: the record with the most
/// versions (the latest snapshot of the paper) wins; on a tie, the later
/// line. The snapshot table and the index builder both ask it, so the rule
/// has one implementation.
#[derive(Debug, Default)]
pub struct DuplicateIds {
    /// Per id: versions and ordinal (0-based record number) of the record kept so far.
    kept: HashMap<String, (u32, u64)>,
    /// Records whose id an earlier record already had.
    pub repeats: u64,
}

/// What [`DuplicateIds::offer`] decided about a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The first record of its id.
    First,
    /// It replaces the record of this ordinal.
    Replaces(u64),
    /// An earlier record of its id stays.
    Loses,
}

impl DuplicateIds {
    pub fn offer(&mut self, id: &str, versions: u32, ordinal: u64) -> Offer {
        match self.kept.get_mut(id) {
            None => {
                self.kept.insert(id.to_string(), (versions, ordinal));
                Offer::First
            }
            Some(seen) => {
                self.repeats += 1;
                if versions < seen.0 {
                    return Offer::Loses;
                }
                let old = seen.1;
                *seen = (versions, ordinal);
                Offer::Replaces(old)
            }
        }
    }
}

fn open_maybe_gzip(path: &Path) -> Result<Box<dyn Read>> {
    crate::io::require_regular_file(path, "--metadata")?;
    let mut file = File::open(path).with_context(|| {
        format!(
            "cannot open the metadata snapshot {}; pass the OAI snapshot JSON lines (plain or .gz) to --metadata",
            path.display()
        )
    })?;
    let mut magic = [0u8; 2];
    let got = file.read(&mut magic)?;
    let file = File::open(path)?;
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(BufReader::new(file))))
    } else {
        Ok(Box::new(file))
    }
}

/// One snapshot line to a record; `Err` says why the line is unusable.
pub fn parse_record(line: &[u8]) -> std::result::Result<MetadataRecord, String> {
    let raw: OaiLine = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let id = raw
        .id
        .as_deref()
        .map(canonical_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "record has no id".to_string())?;
    let first_version_year = raw
        .versions
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|v| v.created.as_deref())
        .and_then(year_of_created);
    Ok(MetadataRecord {
        id,
        title: raw.title,
        abstract_text: raw.abstract_text,
        categories: raw.categories,
        comments: raw.comments,
        license: raw.license,
        first_version_year,
        versions: raw.versions.as_ref().map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX)),
    })
}

/// The year of an OAI `created` stamp such as `"Mon, 2 Apr 2007 19:18:42 GMT"`.
pub fn year_of_created(created: &str) -> Option<u16> {
    created
        .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .filter(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()))
        .find_map(|t| t.parse::<u16>().ok())
        .filter(|y| (1900..=2200).contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::io::Write;

    #[rstest]
    #[case("Mon, 2 Apr 2007 19:18:42 GMT", Some(2007))]
    #[case("Tue, 13 Mar 1990 00:00:00 GMT", Some(1990))]
    #[case("2026-11-28", Some(2026))]
    #[case("yesterday", None)]
    #[case("", None)]
    fn first_version_year_comes_from_created(#[case] created: &str, #[case] want: Option<u16>) {
        assert_eq!(year_of_created(created), want);
    }

    #[rstest]
    #[case(r#"{"id":"0704.0001","abstract":null,"categories":null,"versions":null}"#)]
    #[case(r#"{"id":"0704.0001"}"#)]
    #[case(r#"{"id":"0704.0001","versions":[]}"#)]
    #[case(r#"{"id":"0704.0001","versions":[{"created":null}]}"#)]
    fn null_and_missing_fields_become_none(#[case] line: &str) {
        let record = parse_record(line.as_bytes()).unwrap();
        assert_eq!(record.id, "0704.0001");
        assert_eq!(record.abstract_text, None);
        assert_eq!(record.first_version_year, None);
    }

    #[rstest]
    #[case(r#"{"id":null}"#)]
    #[case(r#"["not", "an", "object"]"#)]
    #[case(r#"{"id":"0704.0001","versions":"v1"}"#)]
    #[case("{truncated")]
    fn unusable_lines_are_errors_not_panics(#[case] line: &str) {
        assert!(parse_record(line.as_bytes()).is_err());
    }

    #[test]
    fn gzipped_and_plain_snapshots_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"id\":\"math/0601001v1\",\"categories\":\"math.AG\",\"versions\":[{\"created\":\"Sun, 1 Jan 2006 00:00:00 GMT\"}]}\n\nnot json\n{\"id\":\"2612.90003\"}\n";
        let plain = dir.path().join("m.json");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.path().join("m.json.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
        for path in [&plain, &gz] {
            let mut ids = Vec::new();
            let stats = for_each_record(path, |r| {
                ids.push((r.id, r.first_version_year));
                Ok(())
            })
            .unwrap();
            assert_eq!(ids, vec![("math/0601001".to_string(), Some(2006)), ("2612.90003".to_string(), None)]);
            assert_eq!(stats.records, 2);
            assert_eq!(stats.malformed_lines, 1);
            assert!(stats.first_errors[0].contains(":3:"), "{:?}", stats.first_errors);
        }
    }

    #[test]
    fn a_repeated_id_keeps_the_record_with_most_versions_then_the_later() {
        let mut dups = DuplicateIds::default();
        assert_eq!(dups.offer("a", 2, 0), Offer::First);
        assert_eq!(dups.offer("a", 1, 1), Offer::Loses);
        assert_eq!(dups.offer("a", 2, 2), Offer::Replaces(0));
        assert_eq!(dups.offer("a", 3, 3), Offer::Replaces(2));
        assert_eq!(dups.offer("b", 0, 4), Offer::First);
        assert_eq!(dups.repeats, 3);
    }

    #[test]
    fn the_real_oai_head_reads_without_malformed_lines() {
        let path =
            Path::new(crate::corpus::real::REAL_CORPUS_DIR).join("arxiv-metadata-oai-snapshot.head200.json");
        let path = path.as_path();
        let mut years = Vec::new();
        let stats = for_each_record(path, |r| {
            years.push(r.first_version_year);
            Ok(())
        })
        .unwrap();
        assert_eq!(stats.records, 200);
        assert_eq!(stats.malformed_lines, 0);
        assert!(years.iter().all(Option::is_some));
        assert_eq!(years[0], Some(2007));
    }
}

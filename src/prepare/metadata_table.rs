//! The metadata a prepare run judges papers by: every paper id `--metadata`
//! knows with its verdict under the run's filter, read from the OAI snapshot
//! or from its index; both give the same answers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use super::metadata_filter::{judge_record, warn_duplicates, MetadataFields};
use super::metadata_index::{is_index, MetadataIndex};
use crate::corpus::metadata::{for_each_record, DuplicateIds, MetadataReadStats, Offer};
use crate::ledger::DropReason;
use crate::spec::data::MetadataFilter;

/// Verdicts for every paper id `--metadata` knows, from the snapshot or from
/// its index (`replicate metadata index`); both give the same answers.
#[derive(Debug)]
pub struct MetadataTable {
    source: Source,
    pub stats: MetadataReadStats,
}

#[derive(Debug)]
enum Source {
    /// Every record's verdict in memory; only records that pass keep their
    /// title and abstract, so the table holds text for kept papers only.
    Snapshot(HashMap<String, Result<MetadataFields, DropReason>>),
    /// Verdicts in memory, text read from the index for the papers that ask.
    Index(Box<MetadataIndex>),
}

impl MetadataTable {
    /// Reads `path`, an OAI snapshot (JSON lines, plain or gzipped) or a
    /// metadata index; the content decides (the Parquet magic), not the name.
    pub fn load(path: &Path, filter: &MetadataFilter) -> Result<Self> {
        if is_index(path)? {
            let index = MetadataIndex::open(path, filter)?;
            let stats = index.stats.clone();
            return Ok(Self { source: Source::Index(Box::new(index)), stats });
        }
        Self::load_snapshot(path, filter)
    }

    fn load_snapshot(path: &Path, filter: &MetadataFilter) -> Result<Self> {
        let mut verdicts = HashMap::new();
        let mut duplicates = DuplicateIds::default();
        let mut ordinal = 0u64;
        let mut stats = for_each_record(path, |record| {
            ordinal += 1;
            if duplicates.offer(&record.id, record.versions, ordinal - 1) == Offer::Loses {
                return Ok(());
            }
            let verdict = judge_record(&record, filter).map(|()| MetadataFields {
                title: record.title.unwrap_or_default(),
                abstract_text: record.abstract_text.unwrap_or_default(),
                categories: record.categories.unwrap_or_default(),
            });
            verdicts.insert(record.id, verdict);
            Ok(())
        })?;
        stats.duplicate_ids = duplicates.repeats;
        warn_duplicates(path, &stats);
        Ok(Self { source: Source::Snapshot(verdicts), stats })
    }

    /// The verdict alone (no text is read): whether a paper's bytes are worth reading.
    pub fn verdict(&self, id: &str) -> Result<(), DropReason> {
        match &self.source {
            Source::Snapshot(verdicts) => match verdicts.get(id) {
                None => Err(DropReason::NoMetadataRecord),
                Some(verdict) => verdict.as_ref().map(|_| ()).map_err(|r| *r),
            },
            Source::Index(index) => index.verdict(id),
        }
    }

    /// A paper without a record is dropped: `--metadata` promises a record
    /// per paper. `Err` only when the index cannot be read.
    pub fn judge(&self, id: &str) -> Result<Result<Cow<'_, MetadataFields>, DropReason>> {
        match &self.source {
            Source::Snapshot(verdicts) => Ok(match verdicts.get(id) {
                None => Err(DropReason::NoMetadataRecord),
                Some(Err(reason)) => Err(*reason),
                Some(Ok(fields)) => Ok(Cow::Borrowed(fields)),
            }),
            Source::Index(index) => index.judge(id).map(|v| v.map(Cow::Owned)),
        }
    }

    /// Paper ids known (after the duplicate rule).
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Snapshot(verdicts) => verdicts.len(),
            Source::Index(index) => index.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::data::{CategoryMatch, YearRange};

    #[test]
    fn the_table_answers_no_record_for_unknown_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(
            &path,
            "{\"id\":\"0704.0001\",\"title\":\"T\",\"abstract\":\"a b c\",\"categories\":\"math.LO\"}\n{\"id\":\"0704.0002\",\"abstract\":null,\"categories\":\"math.LO\"}\n",
        )
        .unwrap();
        let f = MetadataFilter {
            categories: vec!["math".into()],
            category_match: CategoryMatch::Substring,
            min_abstract_words: 3,
            first_version_years: YearRange { from: Some(1995), to: None },
            drop_withdrawn: true,
            licenses: None,
        };
        let table = MetadataTable::load(&path, &f).unwrap();
        assert_eq!(table.judge("0704.0001").unwrap().map(|m| m.title.clone()), Ok("T".to_string()));
        assert_eq!(table.judge("0704.0002").unwrap(), Err(DropReason::AbstractTooShort));
        assert_eq!(table.verdict("0704.0002"), Err(DropReason::AbstractTooShort));
        assert_eq!(table.judge("0704.0003").unwrap(), Err(DropReason::NoMetadataRecord));
    }
}

//! Stage 1, the metadata filter: which papers enter, judged on the OAI record alone.
//!
//! One function per rule, applied in a fixed order so that each drop names
//! the first rule it fails: category → abstract length → first-version year
//! → withdrawn → licence.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use super::ledger::DropReason;
use crate::corpus::metadata::{for_each_record, MetadataReadStats, MetadataRecord};
use crate::spec::data::{CategoryMatch, MetadataFilter, YearRange};

/// Released: the raw `categories` string contains a listed name anywhere, so
/// `physics.optics` passes via "physi*cs*" and `math-ph` via "math".
pub fn category_matches_substring(categories: &str, wanted: &[String]) -> bool {
    wanted.iter().any(|w| categories.contains(w.as_str()))
}

/// One space-separated category equals a listed name, or its archive (before
/// the dot) does: `math` takes `math.LO` but neither `math-ph` nor `physics.optics`.
pub fn category_matches_exact(categories: &str, wanted: &[String]) -> bool {
    categories.split_whitespace().any(|c| {
        let archive = c.split('.').next().unwrap_or(c);
        wanted.iter().any(|w| c == w || archive == w)
    })
}

/// One space-separated category starts with a listed name (`math` takes
/// `math.LO` and `math-ph`, not `physics.optics`).
pub fn category_matches_prefix(categories: &str, wanted: &[String]) -> bool {
    categories.split_whitespace().any(|c| wanted.iter().any(|w| c.starts_with(w.as_str())))
}

pub fn category_matches(categories: &str, wanted: &[String], mode: CategoryMatch) -> bool {
    match mode {
        CategoryMatch::Substring => category_matches_substring(categories, wanted),
        CategoryMatch::Exact => category_matches_exact(categories, wanted),
        CategoryMatch::Prefix => category_matches_prefix(categories, wanted),
    }
}

/// A null abstract counts as zero words (the released filter crashes on it).
pub fn abstract_long_enough(abstract_text: Option<&str>, min_words: u32) -> bool {
    abstract_text.map_or(0, |a| a.split_whitespace().count()) >= min_words as usize
}

/// An unknown first-version year passes: the rule can only drop what it can
/// date (every real snapshot record has `versions`; the sample's do not).
pub fn first_version_in_range(year: Option<u16>, range: &YearRange) -> bool {
    let Some(year) = year else { return true };
    range.from.is_none_or(|from| year >= from) && range.to.is_none_or(|to| year <= to)
}

/// `comments` mentions "withdrawn" in any case ("This paper has been withdrawn by the author").
pub fn is_withdrawn(comments: Option<&str>) -> bool {
    comments.is_some_and(|c| c.to_lowercase().contains("withdrawn"))
}

/// `None` allow-list keeps every licence (released); a null licence is not on any list.
pub fn license_allowed(license: Option<&str>, allowed: Option<&[String]>) -> bool {
    match allowed {
        None => true,
        Some(list) => license.is_some_and(|l| list.iter().any(|a| a == l)),
    }
}

/// The first rule `record` fails, or `Ok` when it enters.
pub fn judge_record(record: &MetadataRecord, filter: &MetadataFilter) -> Result<(), DropReason> {
    let categories = record.categories.as_deref().unwrap_or_default();
    if !category_matches(categories, &filter.categories, filter.category_match) {
        return Err(DropReason::Category);
    }
    if !abstract_long_enough(record.abstract_text.as_deref(), filter.min_abstract_words) {
        return Err(DropReason::AbstractTooShort);
    }
    if !first_version_in_range(record.first_version_year, &filter.first_version_years) {
        return Err(DropReason::FirstVersionYear);
    }
    if filter.drop_withdrawn && is_withdrawn(record.comments.as_deref()) {
        return Err(DropReason::Withdrawn);
    }
    if !license_allowed(record.license.as_deref(), filter.licenses.as_deref()) {
        return Err(DropReason::License);
    }
    Ok(())
}

/// What a kept record contributes to its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFields {
    pub title: String,
    pub abstract_text: String,
    pub categories: String,
}

/// Verdicts for every record of the snapshot. Only records that pass keep
/// their title and abstract, so the table holds text for kept papers only.
#[derive(Debug, Default)]
pub struct MetadataTable {
    verdicts: HashMap<String, Result<MetadataFields, DropReason>>,
    pub stats: MetadataReadStats,
}

impl MetadataTable {
    pub fn load(path: &Path, filter: &MetadataFilter) -> Result<Self> {
        let mut verdicts = HashMap::new();
        // Duplicate ids: the record with the most versions (the latest
        // snapshot of the paper) wins; on a tie, the later line.
        let mut versions: HashMap<String, u32> = HashMap::new();
        let mut duplicates = 0u64;
        let mut stats = for_each_record(path, |record| {
            if let Some(&seen) = versions.get(&record.id) {
                duplicates += 1;
                if record.versions < seen {
                    return;
                }
            }
            versions.insert(record.id.clone(), record.versions);
            let verdict = judge_record(&record, filter).map(|()| MetadataFields {
                title: record.title.unwrap_or_default(),
                abstract_text: record.abstract_text.unwrap_or_default(),
                categories: record.categories.unwrap_or_default(),
            });
            verdicts.insert(record.id, verdict);
        })?;
        stats.duplicate_ids = duplicates;
        if duplicates > 0 {
            tracing::warn!(
                metadata = %path.display(),
                duplicates,
                "the metadata snapshot repeats paper ids; the record with the most versions was kept for each"
            );
        }
        Ok(Self { verdicts, stats })
    }

    /// A paper without a record is dropped: `--metadata` promises a record per paper.
    pub fn judge(&self, id: &str) -> Result<&MetadataFields, DropReason> {
        match self.verdicts.get(id) {
            None => Err(DropReason::NoMetadataRecord),
            Some(Err(reason)) => Err(*reason),
            Some(Ok(fields)) => Ok(fields),
        }
    }

    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn released() -> Vec<String> {
        ["math", "cs", "hep-th", "hep-ph", "quant-ph", "stat.ML", "stat.TH"].map(String::from).to_vec()
    }

    #[rstest]
    // The released substring bug: "physi-cs" and "math-ph" pass.
    #[case("physics.optics", CategoryMatch::Substring, true)]
    #[case("math-ph", CategoryMatch::Substring, true)]
    #[case("astro-ph.IM physics.data-an stat.CO", CategoryMatch::Substring, true)]
    #[case("econ.EM", CategoryMatch::Substring, false)]
    #[case("cond-mat.stat-mech", CategoryMatch::Substring, false)]
    #[case("physics.optics", CategoryMatch::Exact, false)]
    #[case("math-ph", CategoryMatch::Exact, false)]
    #[case("math-ph math.MP", CategoryMatch::Exact, true)]
    #[case("cs.CL cs.DL", CategoryMatch::Exact, true)]
    #[case("stat.ML", CategoryMatch::Exact, true)]
    #[case("stat.CO", CategoryMatch::Exact, false)]
    #[case("hep-th", CategoryMatch::Exact, true)]
    #[case("math-ph", CategoryMatch::Prefix, true)]
    #[case("physics.optics", CategoryMatch::Prefix, false)]
    #[case("", CategoryMatch::Substring, false)]
    fn category_modes(#[case] categories: &str, #[case] mode: CategoryMatch, #[case] pass: bool) {
        assert_eq!(category_matches(categories, &released(), mode), pass);
    }

    #[rstest]
    #[case(None, 20, false)]
    #[case(Some(""), 0, true)]
    #[case(Some("one two three"), 3, true)]
    #[case(Some("  one\ntwo  "), 3, false)]
    fn abstract_words(#[case] text: Option<&str>, #[case] min: u32, #[case] pass: bool) {
        assert_eq!(abstract_long_enough(text, min), pass);
    }

    #[rstest]
    #[case(Some(1994), Some(1995), None, false)]
    #[case(Some(1995), Some(1995), None, true)]
    #[case(Some(2030), Some(1995), Some(2026), false)]
    #[case(None, Some(1995), None, true)]
    fn first_version_years(
        #[case] year: Option<u16>,
        #[case] from: Option<u16>,
        #[case] to: Option<u16>,
        #[case] pass: bool,
    ) {
        assert_eq!(first_version_in_range(year, &YearRange { from, to }), pass);
    }

    #[rstest]
    #[case(Some("This paper has been WITHDRAWN by the author"), true)]
    #[case(Some("12 pages; Withdrawn"), true)]
    #[case(Some("12 pages, 3 figures"), false)]
    #[case(None, false)]
    fn withdrawn(#[case] comments: Option<&str>, #[case] want: bool) {
        assert_eq!(is_withdrawn(comments), want);
    }

    #[rstest]
    #[case(None, None, true)]
    #[case(Some("http://creativecommons.org/licenses/by/4.0/"), None, true)]
    #[case(Some("http://creativecommons.org/licenses/by/4.0/"), Some(vec!["http://creativecommons.org/licenses/by/4.0/"]), true)]
    #[case(Some("http://arxiv.org/licenses/nonexclusive-distrib/1.0/"), Some(vec!["http://creativecommons.org/licenses/by/4.0/"]), false)]
    #[case(None, Some(vec!["http://creativecommons.org/licenses/by/4.0/"]), false)]
    fn licences(#[case] license: Option<&str>, #[case] allow: Option<Vec<&str>>, #[case] pass: bool) {
        let allow: Option<Vec<String>> = allow.map(|v| v.into_iter().map(String::from).collect());
        assert_eq!(license_allowed(license, allow.as_deref()), pass);
    }

    fn filter() -> MetadataFilter {
        MetadataFilter {
            categories: released(),
            category_match: CategoryMatch::Substring,
            min_abstract_words: 3,
            first_version_years: YearRange { from: Some(1995), to: None },
            drop_withdrawn: true,
            licenses: Some(vec!["cc-by".into()]),
        }
    }

    fn record() -> MetadataRecord {
        MetadataRecord {
            id: "0704.0001".into(),
            title: Some("T".into()),
            abstract_text: Some("a b c".into()),
            categories: Some("hep-ph".into()),
            comments: Some("withdrawn".into()),
            license: None,
            first_version_year: Some(1990),
            versions: 1,
        }
    }

    #[test]
    fn each_drop_names_the_first_rule_it_fails() {
        let f = filter();
        let mut r = record();
        assert_eq!(judge_record(&r, &f), Err(DropReason::FirstVersionYear));
        r.abstract_text = None;
        assert_eq!(judge_record(&r, &f), Err(DropReason::AbstractTooShort));
        r.categories = None;
        assert_eq!(judge_record(&r, &f), Err(DropReason::Category));
        let mut r = record();
        r.first_version_year = Some(2007);
        assert_eq!(judge_record(&r, &f), Err(DropReason::Withdrawn));
        r.comments = None;
        assert_eq!(judge_record(&r, &f), Err(DropReason::License));
        r.license = Some("cc-by".into());
        assert_eq!(judge_record(&r, &f), Ok(()));
    }

    #[test]
    fn the_table_answers_no_record_for_unknown_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(
            &path,
            "{\"id\":\"0704.0001\",\"title\":\"T\",\"abstract\":\"a b c\",\"categories\":\"math.LO\"}\n{\"id\":\"0704.0002\",\"abstract\":null,\"categories\":\"math.LO\"}\n",
        )
        .unwrap();
        let mut f = filter();
        f.licenses = None;
        let table = MetadataTable::load(&path, &f).unwrap();
        assert_eq!(table.judge("0704.0001").map(|m| m.title.as_str()), Ok("T"));
        assert_eq!(table.judge("0704.0002"), Err(DropReason::AbstractTooShort));
        assert_eq!(table.judge("0704.0003"), Err(DropReason::NoMetadataRecord));
    }
}

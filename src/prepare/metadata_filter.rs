//! Stage 1, the metadata filter: which papers enter, judged on the OAI record alone.
//!
//! One function per rule, applied in a fixed order so that each drop names
//! the first rule it fails: category → abstract length → first-version year
//! → withdrawn → licence.

use std::path::Path;

use anyhow::Result;

use super::quality::word_count;
use crate::corpus::metadata::{MetadataReadStats, MetadataRecord};
use crate::ledger::DropReason;
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
pub fn abstract_words(abstract_text: Option<&str>) -> u32 {
    abstract_text.map_or(0, |a| u32::try_from(word_count(a)).unwrap_or(u32::MAX))
}

pub fn abstract_long_enough(words: u32, min_words: u32) -> bool {
    words >= min_words
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

/// What the rules read of a record, with the costly parts (word count,
/// withdrawn scan) computed once: the metadata index stores exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerdictInputs<'a> {
    pub categories: Option<&'a str>,
    pub abstract_words: u32,
    pub first_version_year: Option<u16>,
    pub withdrawn: bool,
    pub license: Option<&'a str>,
}

impl<'a> VerdictInputs<'a> {
    pub fn of(record: &'a MetadataRecord) -> Self {
        Self {
            categories: record.categories.as_deref(),
            abstract_words: abstract_words(record.abstract_text.as_deref()),
            first_version_year: record.first_version_year,
            withdrawn: is_withdrawn(record.comments.as_deref()),
            license: record.license.as_deref(),
        }
    }
}

/// The first rule a record fails, or `Ok` when it enters.
pub fn judge(inputs: &VerdictInputs, filter: &MetadataFilter) -> Result<(), DropReason> {
    let categories = inputs.categories.unwrap_or_default();
    if !category_matches(categories, &filter.categories, filter.category_match) {
        return Err(DropReason::Category);
    }
    if !abstract_long_enough(inputs.abstract_words, filter.min_abstract_words) {
        return Err(DropReason::AbstractTooShort);
    }
    if !first_version_in_range(inputs.first_version_year, &filter.first_version_years) {
        return Err(DropReason::FirstVersionYear);
    }
    if filter.drop_withdrawn && inputs.withdrawn {
        return Err(DropReason::Withdrawn);
    }
    if !license_allowed(inputs.license, filter.licenses.as_deref()) {
        return Err(DropReason::License);
    }
    Ok(())
}

pub fn judge_record(record: &MetadataRecord, filter: &MetadataFilter) -> Result<(), DropReason> {
    judge(&VerdictInputs::of(record), filter)
}

/// What a kept record contributes to its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFields {
    pub title: String,
    pub abstract_text: String,
    pub categories: String,
}

pub(super) fn warn_duplicates(path: &Path, stats: &MetadataReadStats) {
    if stats.duplicate_ids > 0 {
        tracing::warn!(
            metadata = %path.display(),
            duplicates = stats.duplicate_ids,
            "the metadata snapshot repeats paper ids; the record with the most versions was kept for each"
        );
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
    fn abstract_word_counts(#[case] text: Option<&str>, #[case] min: u32, #[case] pass: bool) {
        assert_eq!(abstract_long_enough(abstract_words(text), min), pass);
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
}

//! The cases the synthetic corpus exercises, and the ledger outcome each one
//! must get under each Y run.
//!
//! The ground truth is derived from the case design and the four switches of
//! a run that decide any case's fate ([`Behaviour`]), never from running the
//! pipeline. A test checks [`Y_RUNS`] against `runs/Y0*.yaml`, so a spec edit
//! that changes a switch fails loudly here instead of silently invalidating
//! the oracle.

use serde::{Deserialize, Serialize};

use crate::ledger::{DropReason, LedgerStage};
use crate::spec::data::{CategoryMatch, DataConfig, LanguageMode, ValidationMode};

/// One kind of synthetic paper. The kebab-case name appears in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// A single `main.tex` in a gzipped tar: kept by every run.
    Ordinary,
    /// An old-style id (`math/0601001`, stored as `math0601001.gz`).
    OldStyleId,
    /// `main.tex` with `\input`/`\include` of files in subdirectories, one
    /// nested include, and a commented-out `\input` of a file in the tar.
    MultiFile,
    /// `\newcommand` with arguments and an optional default, `\def`,
    /// `\DeclareMathOperator`, and a prose macro.
    Macros,
    /// `%` inside `verbatim`, `\verb` and `\url`.
    VerbatimPercent,
    /// `\%` in prose followed by more prose on the same line.
    EscapedPercent,
    /// `\iffalse … \fi`, a `comment` environment and line comments.
    HiddenText,
    /// A Latin-1 encoded `main.tex` with accented names (pre-2005 arXiv).
    Latin1,
    /// macOS `._*` AppleDouble files and `.DS_Store` inside the tar.
    MacosDotfiles,
    /// A gzipped single `.tex` (arXiv's single-file submissions).
    SingleFileGzip,
    /// Plain uncompressed LaTeX stored under a `.gz` name.
    PlainTexNamedGz,
    /// `%PDF-1.5` under a `.pdf` name.
    PdfOnly,
    /// A gzipped HTML page.
    HtmlOnly,
    /// A gzipped PostScript file.
    PostScript,
    /// A gzipped tar cut in half.
    TruncatedGzip,
    /// A zero-byte `.gz`.
    ZeroByte,
    /// A gzipped tar with a `../evil.tex` member.
    PathTraversal,
    /// A gzipped tar with a member decompressing past `max_member_bytes`.
    OversizedMember,
    /// A gzipped tar with only `.png` and `.eps` files.
    FiguresOnly,
    /// A gzipped tar whose only `.tex` is above `max_tex_bytes`.
    HugeTex,
    /// The same source and metadata as the latest `Ordinary` paper, new id.
    ExactDuplicate,
    /// The latest `Ordinary` paper with a few words changed, new id.
    NearDuplicate,
    /// English so math-dense that a whole-text detector does not say English.
    FormulaHeavy,
    /// French or German prose (alternating).
    NonEnglish,
    /// Fewer than 50 words in the assembled document.
    TooShort,
    /// `physics.optics`: passes the released substring list via "physi*cs*".
    CategoryPhysics,
    /// `math-ph`: passes the released substring list via "math".
    CategoryMathPh,
    /// `comments` says the paper was withdrawn.
    Withdrawn,
    /// First version created in 1993.
    Pre1995,
    /// An abstract under 20 words.
    AbstractTooShort,
    /// A `null` abstract (the released filter crashes on it).
    AbstractNull,
    /// No record in the metadata snapshot.
    MissingMetadata,
}

impl Case {
    /// Every case once, in the order the first block of the corpus uses.
    /// `Ordinary` comes right before each duplicate case, which copy it.
    pub const ALL: [Case; 33] = [
        Case::Ordinary,
        Case::MultiFile,
        Case::ExactDuplicate,
        Case::Macros,
        Case::VerbatimPercent,
        Case::Ordinary,
        Case::NearDuplicate,
        Case::EscapedPercent,
        Case::HiddenText,
        Case::Latin1,
        Case::SingleFileGzip,
        Case::PlainTexNamedGz,
        Case::PdfOnly,
        Case::HtmlOnly,
        Case::PostScript,
        Case::TruncatedGzip,
        Case::ZeroByte,
        Case::PathTraversal,
        Case::OversizedMember,
        Case::FiguresOnly,
        Case::HugeTex,
        Case::FormulaHeavy,
        Case::NonEnglish,
        Case::TooShort,
        Case::CategoryPhysics,
        Case::CategoryMathPh,
        Case::Withdrawn,
        Case::Pre1995,
        Case::AbstractTooShort,
        Case::AbstractNull,
        Case::MissingMetadata,
        Case::MacosDotfiles,
        Case::OldStyleId,
    ];

    /// After every case once, the block continues with papers that a good
    /// pipeline keeps, weighted roughly like arXiv: plain and multi-file
    /// LaTeX dominate, single-file gzip submissions are common.
    const FILL: [Case; 17] = [
        Case::MultiFile,
        Case::SingleFileGzip,
        Case::Macros,
        Case::Ordinary,
        Case::FormulaHeavy,
        Case::MultiFile,
        Case::SingleFileGzip,
        Case::EscapedPercent,
        Case::Ordinary,
        Case::OldStyleId,
        Case::HiddenText,
        Case::SingleFileGzip,
        Case::Macros,
        Case::MultiFile,
        Case::Latin1,
        Case::PlainTexNamedGz,
        Case::Ordinary,
    ];

    /// Papers per repeating block of the schedule.
    pub const BLOCK: u32 = (Case::ALL.len() + Case::FILL.len()) as u32;

    /// The case of the paper at `index` (0-based, input order).
    pub fn at(index: u32) -> Case {
        let i = (index % Case::BLOCK) as usize;
        if i < Case::ALL.len() {
            Case::ALL[i]
        } else {
            Case::FILL[i - Case::ALL.len()]
        }
    }

    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// The ledger outcome under a run's behaviour: `None` when kept.
    ///
    /// Each arm states the rule of the waterfall that decides the case; a
    /// case is designed to trip exactly one rule, so the first failing stage
    /// is never in doubt.
    pub fn expected_drop(self, run: &Behaviour) -> Option<DropReason> {
        use Case::*;
        match self {
            Ordinary | OldStyleId | MultiFile | Macros | VerbatimPercent | EscapedPercent | HiddenText
            | Latin1 | MacosDotfiles => None,
            // Released validation opens the file as a tar and nothing else.
            SingleFileGzip | PlainTexNamedGz => {
                (run.validation == ValidationMode::TarOnly).then_some(DropReason::NotATar)
            }
            PdfOnly => Some(DropReason::PdfOnly),
            HtmlOnly => Some(DropReason::HtmlOnly),
            PostScript => Some(DropReason::PostscriptOnly),
            TruncatedGzip => Some(DropReason::Corrupt),
            ZeroByte => Some(DropReason::Empty),
            PathTraversal => Some(DropReason::UnsafeMember),
            OversizedMember => Some(DropReason::TooLarge),
            FiguresOnly => Some(DropReason::NoTex),
            HugeTex => Some(DropReason::NoUsableTex),
            ExactDuplicate => Some(DropReason::ExactDuplicate),
            NearDuplicate => run.near_dedup.then_some(DropReason::NearDuplicate),
            FormulaHeavy => (run.language == LanguageMode::WholeText).then_some(DropReason::NotEnglish),
            NonEnglish => (run.language != LanguageMode::Off).then_some(DropReason::NotEnglish),
            TooShort => Some(DropReason::TooFewWords),
            // `physics.optics` starts with no listed name, so prefix drops it too.
            CategoryPhysics => {
                (run.category_match != CategoryMatch::Substring).then_some(DropReason::Category)
            }
            // `math-ph` starts with "math", so only exact matching drops it.
            CategoryMathPh => (run.category_match == CategoryMatch::Exact).then_some(DropReason::Category),
            Withdrawn => Some(DropReason::Withdrawn),
            Pre1995 => Some(DropReason::FirstVersionYear),
            AbstractTooShort | AbstractNull => Some(DropReason::AbstractTooShort),
            MissingMetadata => Some(DropReason::NoMetadataRecord),
        }
    }
}

/// The settings of a run that decide any synthetic case's outcome. Encoding,
/// extraction, comments, macros and normalization change the text a paper
/// yields, never whether a synthetic paper survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    pub validation: ValidationMode,
    pub category_match: CategoryMatch,
    pub language: LanguageMode,
    pub near_dedup: bool,
}

impl Behaviour {
    pub fn of(data: &DataConfig) -> Behaviour {
        Behaviour {
            validation: data.validation.mode,
            category_match: data.metadata_filter.category_match,
            language: data.filters.language.mode,
            near_dedup: data.dedup.near.is_some(),
        }
    }
}

const RELEASED: Behaviour = Behaviour {
    validation: ValidationMode::TarOnly,
    category_match: CategoryMatch::Substring,
    language: LanguageMode::WholeText,
    near_dedup: false,
};
const SNIFF: Behaviour = Behaviour { validation: ValidationMode::Sniff, ..RELEASED };
const PROSE_ONLY: Behaviour = Behaviour { language: LanguageMode::ProseOnly, ..SNIFF };

/// The Y runs and their deciding switches, as `runs/Y01.yaml`…`Y06.yaml` set them.
pub const Y_RUNS: [(&str, Behaviour); 6] = [
    ("Y01", RELEASED),
    ("Y02", SNIFF),
    ("Y03", SNIFF),
    ("Y04", SNIFF),
    ("Y05", PROSE_ONLY),
    ("Y06", Behaviour { category_match: CategoryMatch::Exact, near_dedup: true, ..PROSE_ONLY }),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Kept,
    Dropped,
}

/// One row of `ground_truth.csv`: the ledger outcome a paper must get under one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruthRow {
    pub id: String,
    pub spec: String,
    pub status: Status,
    pub stage: LedgerStage,
    /// Empty in the CSV when kept.
    pub reason: Option<DropReason>,
}

impl GroundTruthRow {
    pub fn new(id: &str, spec: &str, drop: Option<DropReason>) -> Self {
        GroundTruthRow {
            id: id.to_string(),
            spec: spec.to_string(),
            status: if drop.is_some() { Status::Dropped } else { Status::Kept },
            stage: drop.map_or(LedgerStage::End, DropReason::stage),
            reason: drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn first_block_lists_every_case_once() {
        let mut seen: Vec<Case> = Case::ALL.to_vec();
        seen.sort();
        seen.dedup();
        // Ordinary appears twice on purpose (a source for each duplicate case);
        // 32 is the number of variants of `Case`.
        assert_eq!(seen.len(), 32);
        assert_eq!(seen.len(), Case::ALL.len() - 1);
        assert!(Case::ALL.len() <= 40, "the smoke profile's 40 papers must cover every case");
    }

    #[test]
    fn duplicates_follow_an_ordinary_source_in_the_same_block() {
        for (i, case) in Case::ALL.iter().enumerate() {
            if matches!(case, Case::ExactDuplicate | Case::NearDuplicate) {
                assert!(Case::ALL[..i].contains(&Case::Ordinary));
            }
        }
    }

    #[test]
    fn schedule_repeats_by_block() {
        assert_eq!(Case::at(0), Case::Ordinary);
        assert_eq!(Case::at(Case::BLOCK), Case::Ordinary);
        assert_eq!(Case::at(Case::BLOCK + 2), Case::ExactDuplicate);
        assert_eq!(Case::at(Case::BLOCK - 1), Case::Ordinary);
        assert_eq!(Case::BLOCK, 50);
    }

    #[rstest]
    #[case::single_gzip_y01(Case::SingleFileGzip, "Y01", Some(DropReason::NotATar))]
    #[case::single_gzip_y02(Case::SingleFileGzip, "Y02", None)]
    #[case::plain_tex_y01(Case::PlainTexNamedGz, "Y01", Some(DropReason::NotATar))]
    #[case::plain_tex_y06(Case::PlainTexNamedGz, "Y06", None)]
    #[case::formula_y04(Case::FormulaHeavy, "Y04", Some(DropReason::NotEnglish))]
    #[case::formula_y05(Case::FormulaHeavy, "Y05", None)]
    #[case::physics_y05(Case::CategoryPhysics, "Y05", None)]
    #[case::physics_y06(Case::CategoryPhysics, "Y06", Some(DropReason::Category))]
    #[case::math_ph_y01(Case::CategoryMathPh, "Y01", None)]
    #[case::math_ph_y06(Case::CategoryMathPh, "Y06", Some(DropReason::Category))]
    #[case::near_dup_y05(Case::NearDuplicate, "Y05", None)]
    #[case::near_dup_y06(Case::NearDuplicate, "Y06", Some(DropReason::NearDuplicate))]
    #[case::exact_dup_y01(Case::ExactDuplicate, "Y01", Some(DropReason::ExactDuplicate))]
    #[case::non_english_y06(Case::NonEnglish, "Y06", Some(DropReason::NotEnglish))]
    #[case::huge_tex_y03(Case::HugeTex, "Y03", Some(DropReason::NoUsableTex))]
    #[case::null_abstract(Case::AbstractNull, "Y01", Some(DropReason::AbstractTooShort))]
    #[case::latin1_y01(Case::Latin1, "Y01", None)]
    #[case::multi_file_y01(Case::MultiFile, "Y01", None)]
    fn outcome_per_run(#[case] case: Case, #[case] run: &str, #[case] expected: Option<DropReason>) {
        let (_, behaviour) = Y_RUNS.iter().find(|(id, _)| *id == run).expect("a Y run");
        assert_eq!(case.expected_drop(behaviour), expected);
    }

    #[rstest]
    #[case::prefix_drops_physics(Case::CategoryPhysics, true)]
    #[case::prefix_keeps_math_ph(Case::CategoryMathPh, false)]
    fn prefix_matching(#[case] case: Case, #[case] dropped: bool) {
        let run = Behaviour { category_match: CategoryMatch::Prefix, ..SNIFF };
        assert_eq!(case.expected_drop(&run).is_some(), dropped);
    }

    #[test]
    fn language_off_keeps_non_english() {
        let run = Behaviour { language: LanguageMode::Off, ..SNIFF };
        assert_eq!(Case::NonEnglish.expected_drop(&run), None);
        assert_eq!(Case::FormulaHeavy.expected_drop(&run), None);
    }

    #[test]
    fn y_run_table_matches_the_specs() {
        let runs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        for (id, behaviour) in Y_RUNS {
            for profile in ["smoke", "ci", "paper"] {
                let (spec, _) = crate::spec::load_one(&runs, id, profile)
                    .unwrap_or_else(|e| panic!("loading {id} at {profile}: {e}"));
                assert_eq!(Behaviour::of(&spec.data), behaviour, "{id} at {profile}");
            }
        }
    }

    #[test]
    fn rows_use_ledger_spelling() {
        let kept = GroundTruthRow::new("2401.00001", "Y01", None);
        assert_eq!((kept.status, kept.stage), (Status::Kept, LedgerStage::End));
        let dropped = GroundTruthRow::new("2401.00002", "Y01", Some(DropReason::HtmlOnly));
        assert_eq!(dropped.stage, LedgerStage::Validation);
    }
}

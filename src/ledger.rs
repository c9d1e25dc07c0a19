//! The ledger vocabulary: where a paper can leave the pipeline and why.
//!
//! Every paper that enters `prepare` gets exactly one ledger row: kept, or
//! dropped at one stage for one reason. These enums are the contract between
//! the stages, the synthetic corpus's ground truth and the reports, so a
//! reason is spelled in one place only.

use serde::{Deserialize, Serialize};

/// Pipeline stages in waterfall order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LedgerStage {
    /// The OAI metadata filter.
    Metadata,
    /// Archive sniffing, safety checks and manifest md5.
    Validation,
    /// Byte decoding of the LaTeX sources.
    Encoding,
    /// Choosing and joining the `.tex` text (concat or main file + includes).
    Extraction,
    /// Comments, preamble, macros, environment and command drops, normalization.
    Cleaning,
    /// Document filters: length and language.
    Quality,
    /// Exact and near-duplicate removal.
    Dedup,
    /// Not a drop: the paper left as a document.
    End,
}

impl LedgerStage {
    pub const WATERFALL: [LedgerStage; 7] = [
        LedgerStage::Metadata,
        LedgerStage::Validation,
        LedgerStage::Encoding,
        LedgerStage::Extraction,
        LedgerStage::Cleaning,
        LedgerStage::Quality,
        LedgerStage::Dedup,
    ];
}

/// Why a paper was dropped. Each reason belongs to one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    // metadata
    /// `--metadata` was given but has no record for this id.
    NoMetadataRecord,
    Category,
    AbstractTooShort,
    /// First version outside the year range.
    FirstVersionYear,
    Withdrawn,
    License,
    // validation
    ManifestMd5Mismatch,
    /// `tar-only` mode and the content is not a tar archive (released behaviour).
    NotATar,
    Empty,
    /// A gzip or tar stream that ends early or fails its checksum.
    Corrupt,
    PdfOnly,
    PostscriptOnly,
    HtmlOnly,
    UnknownFormat,
    /// Absolute paths, `..`, links or devices inside the archive.
    UnsafeMember,
    /// Decompressed size or member count above the spec's caps.
    TooLarge,
    /// A valid archive without any `.tex` source (figures only, PDF inside a tar, …).
    NoTex,
    /// The same paper id appeared earlier in the input; only the first is processed.
    DuplicateInput,
    // encoding
    Undecodable,
    // extraction
    /// No `.tex` member within `max_tex_bytes`.
    NoUsableTex,
    NoMainFile,
    /// Include resolution inlined more text than the paper's budget
    /// (an include fan-out bomb); see `latex::includes::InlineBudget`.
    IncludeBudget,
    /// The stage's per-paper wall-time budget was spent (`tex::watchdog`).
    ExtractionTimeLimit,
    // cleaning
    EmptyAfterCleaning,
    CleaningTimeLimit,
    // quality
    TooFewWords,
    NotEnglish,
    QualityTimeLimit,
    // dedup
    ExactDuplicate,
    NearDuplicate,
}

impl DropReason {
    pub fn stage(self) -> LedgerStage {
        use DropReason::*;
        match self {
            NoMetadataRecord | Category | AbstractTooShort | FirstVersionYear | Withdrawn | License => {
                LedgerStage::Metadata
            }
            ManifestMd5Mismatch | NotATar | Empty | Corrupt | PdfOnly | PostscriptOnly | HtmlOnly
            | UnknownFormat | UnsafeMember | TooLarge | NoTex | DuplicateInput => LedgerStage::Validation,
            Undecodable => LedgerStage::Encoding,
            NoUsableTex | NoMainFile | IncludeBudget | ExtractionTimeLimit => LedgerStage::Extraction,
            EmptyAfterCleaning | CleaningTimeLimit => LedgerStage::Cleaning,
            TooFewWords | NotEnglish | QualityTimeLimit => LedgerStage::Quality,
            ExactDuplicate | NearDuplicate => LedgerStage::Dedup,
        }
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_spell_in_kebab_case() {
        assert_eq!(DropReason::NoMetadataRecord.as_str(), "no-metadata-record");
        assert_eq!(DropReason::ManifestMd5Mismatch.as_str(), "manifest-md5-mismatch");
    }
}

//! The `data` section: every preprocessing decision the Y runs compare.
//!
//! Each enum variant *is* a behaviour: the variants documented "Released" are
//! what the author's released scripts do, the others are the pipeline the paper
//! describes. Stages match on these variants; no behaviour is switched by a
//! string elsewhere, and no setting is silently overridden by another: a
//! combination the code could not honour is refused when the spec loads.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub metadata_filter: MetadataFilter,
    pub validation: Validation,
    pub encoding: EncodingMode,
    pub extraction: Extraction,
    pub cleaning: Cleaning,
    pub normalization: Normalization,
    pub filters: DocumentFilters,
    pub dedup: Dedup,
    pub split: Split,
}

/// Which papers enter, judged on the OAI metadata record alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataFilter {
    /// Category names or prefixes, interpreted by `category_match`.
    pub categories: Vec<String>,
    pub category_match: CategoryMatch,
    pub min_abstract_words: u32,
    /// Inclusive range of the year the first version was created.
    pub first_version_years: YearRange,
    /// Drop records whose `comments` mention "withdrawn" (any case).
    pub drop_withdrawn: bool,
    /// Licence URLs to keep; `null` keeps every licence (the released behaviour).
    pub licenses: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CategoryMatch {
    /// Released: the raw `categories` string contains the name anywhere, so
    /// `physics.optics` passes via "physi*cs*" and `math-ph` via "math".
    Substring,
    /// One of the space-separated categories equals the name, or its archive
    /// (the part before the dot) does: `math` takes `math.LO` but not `math-ph`.
    Exact,
    /// One of the space-separated categories starts with the name (`math` matches `math.LO`).
    Prefix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearRange {
    pub from: Option<u16>,
    pub to: Option<u16>,
}

/// How a per-paper source file is judged usable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub mode: ValidationMode,
    /// Check member md5 sums against `arXiv_src_manifest.xml` when one is present.
    pub check_manifest: bool,
    /// Cap on decompressed bytes per paper (zip-bomb guard).
    pub max_paper_bytes: u64,
    /// Cap on decompressed bytes per archive member.
    pub max_member_bytes: u64,
    pub max_members: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValidationMode {
    /// Released: anything that does not open as a tar archive is invalid,
    /// including arXiv's single-file gzipped `.tex` submissions.
    TarOnly,
    /// Sniff the content: accept gzipped tars, gzipped single LaTeX files and
    /// plain LaTeX stored under a `.gz` name.
    Sniff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EncodingMode {
    /// Released: decode as UTF-8, invalid bytes become U+FFFD.
    Replace,
    /// UTF-8 first, else detect the encoding (Latin-1 is common before 2005) and transcode.
    Detect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    pub mode: ExtractionMode,
    /// `.tex` members above this size are skipped (released: 5,000,000 bytes).
    pub max_tex_bytes: u64,
    pub max_include_depth: u32,
    /// Inline the `.bbl` at `\bibliography` when resolving.
    pub keep_bibliography: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtractionMode {
    /// Released: every `.tex` member concatenated in archive order.
    Concat,
    /// Detect the main file and resolve `\input`/`\include` recursively.
    Resolve,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cleaning {
    pub cleaner: Cleaner,
    pub macros: MacroMode,
    /// Expansion budget per paper; past it the paper is kept and marked degraded.
    pub max_macro_expansions: u32,
    /// Largest allowed ratio of expanded to source length.
    pub max_macro_growth: f64,
    /// Environments removed with their content (`figure`, `table`, …).
    pub drop_environments: Vec<String>,
    /// Commands removed with their braced arguments (`\cite`, `\label`, …).
    pub drop_commands: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cleaner {
    /// Released: the author's six regex passes, in order (`prepare::clean`):
    /// `%.*` comments (eating text after an escaped `\%`), the preamble,
    /// `\end{document}`, `drop_commands` with one brace level,
    /// `drop_environments` and `\includegraphics`, then every whitespace run
    /// to one space. That last pass is the cleaner's own, so it needs
    /// `normalization.whitespace: collapse-all` (paragraphs would already be gone).
    Released,
    /// TeX-aware passes: comments honour `\%`, verbatim-like environments,
    /// `\url{}`, `comment` environments and `\iffalse … \fi`; preamble,
    /// environment and command drops parse nested braces; whitespace is
    /// left to `normalization.whitespace`.
    Tex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacroMode {
    /// Released: user macros stay unexpanded.
    Keep,
    /// Expand `\newcommand`, `\def`, `\DeclareMathOperator`, `\let` definitions.
    Expand,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    pub unicode: UnicodeForm,
    /// Accent commands to characters (`\'e` → é).
    pub accents: bool,
    pub whitespace: WhitespaceMode,
    pub strip_control: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnicodeForm {
    None,
    Nfc,
    Nfkc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhitespaceMode {
    /// Released: every whitespace run, newlines included, becomes one space.
    CollapseAll,
    /// Runs inside a paragraph collapse; blank lines between paragraphs stay.
    Paragraphs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentFilters {
    /// Minimum whitespace-separated words in the assembled document.
    pub min_words: u32,
    pub language: LanguageCheck,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageCheck {
    pub mode: LanguageMode,
    /// ISO 639-3 code the detector must report.
    pub expect: String,
    pub min_confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LanguageMode {
    Off,
    /// Released: the detector sees the whole text, formulas included, so
    /// formula-heavy English papers are false negatives.
    WholeText,
    /// Math, commands and environments are masked before detection, and
    /// the detector reads a bounded sample of the prose
    /// (`prepare::quality::language_sample`).
    ProseOnly,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dedup {
    /// Exact MD5 deduplication of the document text (released).
    pub exact: bool,
    pub near: Option<NearDedup>,
}

/// MinHash + LSH near-duplicate removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearDedup {
    /// Estimated Jaccard similarity at or above which a later document is dropped.
    pub threshold: f64,
    /// Shingle length in words.
    pub shingle_words: u32,
    pub permutations: u32,
    pub bands: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Every n-th kept document goes to validation (released: 100, i.e. 1%).
    pub validation_every: u32,
}

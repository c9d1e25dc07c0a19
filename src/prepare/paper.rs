//! One paper through the per-paper stages, metadata to quality.
//!
//! Everything here depends on the paper alone, so workers run it in parallel;
//! dedup and the split depend on input order and happen in the finishing pass.

use std::borrow::Cow;
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use whatlang::Lang;

use super::clean::ReleasedCleaner;
use super::dedup::document_md5;
use super::encoding::{decode_members, encoding_label, DecodedMember};
use super::extract::{concat_tex, latex_abstract, latex_title};
use super::latex;
use super::metadata_filter::MetadataFields;
use super::metadata_table::MetadataTable;
use super::normalize::{collapse_all, normalize};
use super::quality::{
    assemble_document, has_enough_words, is_expected_language, language_sample, mask_for_language, word_count,
};
use super::validate::{is_tex_member, validate_source, SourceKind};
use crate::corpus::source::{RawContent, RawPaper};
use crate::ledger::{DropReason, LedgerStage};
use crate::spec::data::{Cleaner, DataConfig, ExtractionMode, LanguageMode, MacroMode};
use crate::tex::watchdog;

/// Per-paper stages, in waterfall order (dedup is the finishing pass's).
pub const PER_PAPER_STAGES: usize = 6;

/// How many per-paper stages the workers took `record` into: every stage it
/// passed and the one it left at.
pub fn stages_entered(record: &PaperRecord) -> usize {
    (record.chars_after.len() + 1).min(PER_PAPER_STAGES)
}

/// What the per-paper stages made of one paper; one line of a unit's part file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRecord {
    pub id: String,
    /// Compressed bytes as stored.
    pub bytes_in: u64,
    pub dropped: Option<DropReason>,
    /// Characters of the paper's text after each stage it passed, in
    /// waterfall order (0 before any text exists).
    pub chars_after: Vec<u64>,
    pub doc: Option<DocumentDraft>,
}

/// A document that passed every per-paper stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentDraft {
    pub text: String,
    pub title: String,
    pub categories: Option<String>,
    pub encoding: String,
    pub source: SourceKind,
    pub words: u64,
    pub chars: u64,
    pub md5: String,
    /// Macro expansion hit its cap: the paper is kept, with its text as far as expanded.
    #[serde(default)]
    pub degraded: bool,
}

/// Seconds spent in each per-paper stage.
pub type StageSeconds = [f64; PER_PAPER_STAGES];

/// Everything a worker needs, built once per run.
pub struct PaperContext<'a> {
    pub cfg: &'a DataConfig,
    pub metadata: Option<&'a MetadataTable>,
    pub cleaner: ReleasedCleaner,
    pub language: Lang,
}

impl<'a> PaperContext<'a> {
    pub fn new(cfg: &'a DataConfig, metadata: Option<&'a MetadataTable>) -> Result<Self> {
        Ok(Self {
            cfg,
            metadata,
            cleaner: ReleasedCleaner::new(&cfg.cleaning)?,
            language: super::quality::expected_language(&cfg.filters.language.expect)?,
        })
    }

    /// Whether the reader should load a paper's bytes at all: a paper the
    /// metadata filter drops is only counted.
    pub fn wants_content(&self, id: &str) -> bool {
        self.metadata.is_none_or(|m| m.verdict(id).is_ok())
    }
}

/// Tracks the stage a paper is in, its text size and the time spent.
struct Progress {
    record: PaperRecord,
    seconds: StageSeconds,
    clock: Instant,
}

impl Progress {
    fn new(raw: &RawPaper) -> Self {
        Self {
            record: PaperRecord {
                id: raw.id.clone(),
                bytes_in: raw.bytes_in,
                dropped: None,
                chars_after: Vec::with_capacity(PER_PAPER_STAGES),
                doc: None,
            },
            seconds: [0.0; PER_PAPER_STAGES],
            clock: Instant::now(),
        }
    }

    fn stage(&self) -> usize {
        self.record.chars_after.len()
    }

    fn tick(&mut self) {
        let i = self.stage().min(PER_PAPER_STAGES - 1);
        self.seconds[i] += self.clock.elapsed().as_secs_f64();
        self.clock = Instant::now();
    }

    fn pass(&mut self, chars: u64) {
        self.tick();
        self.record.chars_after.push(chars);
    }

    fn leave(mut self, reason: DropReason) -> (PaperRecord, StageSeconds) {
        debug_assert_eq!(LedgerStage::WATERFALL[self.stage()], reason.stage());
        self.tick();
        self.record.dropped = Some(reason);
        (self.record, self.seconds)
    }
}

fn chars(text: &str) -> u64 {
    text.chars().count() as u64
}

/// Runs metadata → validation → encoding → extraction → cleaning → quality.
/// Bad input becomes a drop reason; `Err` only for a metadata index that
/// cannot be read or an internal fault.
pub fn process_paper(ctx: &PaperContext, raw: RawPaper) -> Result<(PaperRecord, StageSeconds)> {
    let mut p = Progress::new(&raw);
    let cfg = ctx.cfg;

    let meta: Option<Cow<MetadataFields>> = match ctx.metadata.map(|m| m.judge(&raw.id)).transpose()? {
        Some(Err(reason)) => return Ok(p.leave(reason)),
        Some(Ok(fields)) => Some(fields),
        None => None,
    };
    p.pass(0);

    let bytes = match raw.content {
        RawContent::Bytes(bytes) => bytes,
        RawContent::TooLarge => return Ok(p.leave(DropReason::TooLarge)),
        RawContent::Unreadable(why) => {
            // The ledger's reason is the category; the cause (an I/O error, a member cut
            // short) is only known here, so it goes to the log with the member's name.
            tracing::warn!(paper = %raw.id, member = %raw.name, "unreadable source, dropped as corrupt: {why}");
            return Ok(p.leave(DropReason::Corrupt));
        }
        RawContent::NotRead => {
            anyhow::bail!("internal: {} passed the metadata filter but was not read", raw.id)
        }
    };
    let reads = extraction_reads(cfg.extraction.mode);
    let source = match validate_source(&bytes, &raw.id, &cfg.validation, reads) {
        Ok(source) => source,
        Err(reason) => return Ok(p.leave(reason)),
    };
    drop(bytes);
    p.pass(0);

    let decoded = match decode_members(&source.members, cfg.encoding) {
        Ok(decoded) => decoded,
        Err(reason) => return Ok(p.leave(reason)),
    };
    drop(source.members);
    p.pass(decoded.iter().map(|m| chars(&m.text)).sum());

    let encoding = encoding_label(&decoded);
    // Local packages hold macro definitions for cleaning; kept aside (they are
    // small) so that extraction can take every member's text without a copy.
    let sty_texts: Vec<String> =
        decoded.iter().filter(|m| m.name.ends_with(".sty")).map(|m| m.text.clone()).collect();
    let limit = watchdog::stage_limit();
    let armed = watchdog::arm(limit);
    let tex = match extract_text(cfg, decoded, &raw.id) {
        Ok(_) if armed.tripped() => return Ok(p.leave(DropReason::ExtractionTimeLimit)),
        Ok(tex) => tex,
        Err(reason) => return Ok(p.leave(reason)),
    };
    drop(armed);
    p.pass(chars(&tex));

    // Without --metadata the released scripts have no title or abstract to
    // prepend; they come from the LaTeX instead (`\title`, `abstract`).
    let (title, abstract_text, categories) = match meta {
        Some(m) => (collapse_all(&m.title), collapse_all(&m.abstract_text), Some(m.categories.clone())),
        None => (latex_title(&tex).unwrap_or_default(), latex_abstract(&tex).unwrap_or_default(), None),
    };
    let sty_files: Vec<&str> = sty_texts.iter().map(String::as_str).collect();
    let armed = watchdog::arm(limit);
    let (body, degraded) = clean_and_normalize(ctx, &tex, &sty_files);
    if armed.tripped() {
        return Ok(p.leave(DropReason::CleaningTimeLimit));
    }
    drop(armed);
    drop(tex);
    if body.trim().is_empty() {
        return Ok(p.leave(DropReason::EmptyAfterCleaning));
    }
    p.pass(chars(&body));

    let text = assemble_document(&title, &abstract_text, &body);
    let words = word_count(&text);
    if !has_enough_words(words, cfg.filters.min_words) {
        return Ok(p.leave(DropReason::TooFewWords));
    }
    let armed = watchdog::arm(limit);
    let language_ok = language_passes(ctx, &text);
    if armed.tripped() {
        return Ok(p.leave(DropReason::QualityTimeLimit));
    }
    drop(armed);
    if !language_ok {
        return Ok(p.leave(DropReason::NotEnglish));
    }
    let text_chars = chars(&text);
    p.pass(text_chars);

    p.record.doc = Some(DocumentDraft {
        md5: document_md5(&text),
        text,
        title,
        categories,
        encoding,
        source: source.kind,
        words,
        chars: text_chars,
        degraded,
    });
    Ok((p.record, p.seconds))
}

/// Which members the encoding stage decodes: the released concatenation reads
/// `.tex` only; resolving also needs arXiv's `00README` markers, local `.sty`
/// packages (macro definitions) and the `.bbl` it may inline.
fn extraction_reads(mode: ExtractionMode) -> fn(&str) -> bool {
    match mode {
        ExtractionMode::Concat => is_tex_member,
        ExtractionMode::Resolve => is_resolve_input,
    }
}

fn is_resolve_input(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    is_tex_member(file) || file.ends_with(".sty") || file.ends_with(".bbl") || file.starts_with("00README")
}

/// Stage 4: the released concatenation, or main-file detection with includes resolved.
fn extract_text(cfg: &DataConfig, decoded: Vec<DecodedMember>, id: &str) -> Result<String, DropReason> {
    match cfg.extraction.mode {
        ExtractionMode::Concat => {
            concat_tex(&decoded, cfg.extraction.max_tex_bytes).ok_or(DropReason::NoUsableTex)
        }
        ExtractionMode::Resolve => {
            // Same reason as the released concatenation when no source is small enough to read.
            let max = cfg.extraction.max_tex_bytes;
            if !decoded.iter().any(|m| is_tex_member(&m.name) && m.raw_len <= max) {
                return Err(DropReason::NoUsableTex);
            }
            // Moved, not copied: a book's sources are megabytes. (A name given
            // twice is resolved by `collect` exactly as before.)
            let files = decoded.into_iter().map(|m| (m.name, m.text)).collect();
            // arXiv names old-style archives without the slash (`math0601001`).
            let stem = id.replace('/', "");
            latex::extract_resolved(&files, &stem, &cfg.extraction).map(|resolved| resolved.text)
        }
    }
}

/// Stage 5: comments, preamble, macros, environment and command drops, then
/// normalization. Returns the text and whether macro expansion hit its cap.
fn clean_and_normalize(ctx: &PaperContext, tex: &str, sty_files: &[&str]) -> (String, bool) {
    let cleaning = &ctx.cfg.cleaning;
    let (text, degraded) = match cleaning.cleaner {
        Cleaner::Released => {
            // The released cleaner removes the preamble itself, so definitions
            // must be read (and uses expanded) before it runs.
            let expanded = match cleaning.macros {
                MacroMode::Keep => None,
                MacroMode::Expand => {
                    let (preamble, _) = latex::split_preamble(tex);
                    let table = latex::harvest_macros(preamble, sty_files);
                    Some(latex::expand_macros(
                        tex,
                        &table,
                        cleaning.max_macro_expansions,
                        cleaning.max_macro_growth,
                    ))
                }
            };
            let degraded = expanded.as_ref().is_some_and(|e| e.degraded);
            (ctx.cleaner.clean(expanded.as_ref().map_or(tex, |e| e.text.as_str())), degraded)
        }
        Cleaner::Tex => {
            let cleaned = latex::clean_after_comments(&latex::strip_comments(tex), sty_files, cleaning);
            (cleaned.text, cleaned.degraded)
        }
    };
    (normalize(&text, &ctx.cfg.normalization), degraded)
}

/// Stage 6's language rule.
fn language_passes(ctx: &PaperContext, document: &str) -> bool {
    let check = &ctx.cfg.filters.language;
    match check.mode {
        LanguageMode::Off => true,
        LanguageMode::WholeText => is_expected_language(document, ctx.language, check.min_confidence),
        LanguageMode::ProseOnly => {
            let prose = mask_for_language(document);
            is_expected_language(&language_sample(&prose), ctx.language, check.min_confidence)
        }
    }
}

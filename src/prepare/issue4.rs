//! Call sites for the pipeline the paper *describes* (issue 4).
//!
//! Each setting below is implemented by another engineer as its own rule.
//! Until it is wired in, its function fails the run with a message naming the
//! setting: a run that asks for `extraction: resolve` must never silently get
//! `concat`. To wire a rule in, replace the body of the matching function with
//! a call to it; the pipeline calls these and nothing else for these settings.

use anyhow::{bail, Result};

use super::encoding::DecodedMember;
use super::ledger::DropReason;
use crate::spec::data::{Cleaning, Extraction, LanguageCheck, NearDedup, UnicodeForm};

fn not_yet<T>(setting: &str) -> Result<T> {
    bail!("{setting} is implemented in issue 4; use a spec with the released setting (e.g. Y01/Y02) until it is merged")
}

/// `extraction.mode: resolve`: main-file detection and `\input`/`\include`
/// resolution. `Ok(Err(reason))` drops the paper (`no-main-file`, `no-usable-tex`).
pub fn extraction_resolve(
    _members: &[DecodedMember],
    _extraction: &Extraction,
) -> Result<Result<String, DropReason>> {
    not_yet("extraction: resolve")
}

/// `cleaning.macros: expand`: user macro expansion; runs before the cleaner
/// because definitions live in the preamble that cleaning removes.
pub fn macros_expand(_tex: &str, _cleaning: &Cleaning) -> Result<String> {
    not_yet("cleaning.macros: expand")
}

/// `cleaning.comments: tex`: the TeX-aware cleaner (comments that honour
/// `\%` and verbatim, `\iffalse`, environments and commands from the spec lists).
pub fn comments_tex(_tex: &str, _cleaning: &Cleaning) -> Result<String> {
    not_yet("cleaning.comments: tex")
}

/// `normalization.accents: true`: accent commands to characters (`\'e` → é).
pub fn accents_to_unicode(_text: &str) -> Result<String> {
    not_yet("normalization.accents: true")
}

/// `normalization.unicode: nfc|nfkc`.
pub fn unicode_normalize(_text: &str, form: UnicodeForm) -> Result<String> {
    not_yet(&format!(
        "normalization.unicode: {}",
        serde_json::to_value(form)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    ))
}

/// `normalization.whitespace: paragraphs`.
pub fn whitespace_paragraphs(_text: &str) -> Result<String> {
    not_yet("normalization.whitespace: paragraphs")
}

/// `filters.language.mode: prose-only`: math and commands masked before detection.
pub fn language_prose_only(_document: &str, _check: &LanguageCheck) -> Result<bool> {
    not_yet("filters.language.mode: prose-only")
}

/// `dedup.near`: MinHash + LSH, fed documents in input order after exact dedup.
pub trait NearDuplicateIndex {
    /// True when `text` is a near-duplicate of an earlier document (it is then not indexed).
    fn is_near_duplicate(&mut self, text: &str) -> bool;
}

pub fn near_dedup_index(_near: &NearDedup) -> Result<Box<dyn NearDuplicateIndex>> {
    not_yet("dedup.near")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unwired_setting_fails_loudly_naming_itself() {
        let errors = [
            macros_expand(
                "",
                &crate::spec::load_one(std::path::Path::new("runs"), "Y06", "ci")
                    .unwrap()
                    .0
                    .data
                    .cleaning,
            )
            .unwrap_err(),
            accents_to_unicode("").unwrap_err(),
            unicode_normalize("", UnicodeForm::Nfkc).unwrap_err(),
            whitespace_paragraphs("").unwrap_err(),
        ];
        let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(messages[0].starts_with("cleaning.macros: expand is implemented in issue 4"));
        assert!(messages[2].starts_with("normalization.unicode: nfkc is implemented in issue 4"));
        assert!(messages
            .iter()
            .all(|m| m.contains("is implemented in issue 4")));
    }
}

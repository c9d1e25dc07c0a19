//! Stage 6, document filters: assembly, length and language.

use anyhow::{Context, Result};
use whatlang::Lang;

/// Released document layout.
pub fn assemble_document(title: &str, abstract_text: &str, body: &str) -> String {
    format!("Title: {title}\nAbstract: {abstract_text}\nBody: {body}")
}

pub fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Released: at least `min_words` whitespace-separated words in the whole document.
pub fn has_enough_words(words: u64, min_words: u32) -> bool {
    words >= u64::from(min_words)
}

/// The language the spec's `expect` code names (ISO 639-3, e.g. `eng`).
pub fn expected_language(code: &str) -> Result<Lang> {
    Lang::from_code(code).with_context(|| {
        format!("data.filters.language.expect: `{code}` is not an ISO 639-3 code whatlang knows (use e.g. `eng`)")
    })
}

/// Released whole-text check: the detector sees formulas and commands too,
/// so formula-heavy English papers come out as another language or with low
/// confidence (false negatives the paper's yield study counts). Passes iff
/// whatlang answers, with the expected language, at `min_confidence` or more.
pub fn is_expected_language_whole_text(document: &str, expect: Lang, min_confidence: f64) -> bool {
    whatlang::detect(document)
        .is_some_and(|info| info.lang() == expect && info.confidence() >= min_confidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const ENGLISH: &str = "We study the convergence of stochastic gradient descent for training large language models on scientific text, and we show that the choice of preprocessing changes how many usable tokens remain after filtering.";
    const GERMAN: &str = "Wir untersuchen die Konvergenz des stochastischen Gradientenverfahrens beim Training großer Sprachmodelle auf wissenschaftlichen Texten und zeigen, dass die Vorverarbeitung die Zahl der nutzbaren Wörter verändert.";

    #[test]
    fn documents_have_the_released_layout() {
        assert_eq!(
            assemble_document("T", "A b", "C"),
            "Title: T\nAbstract: A b\nBody: C"
        );
        // "Title:", "Abstract:" and "Body:" count as words, as in the released `len(text.split())`.
        assert_eq!(word_count(&assemble_document("T", "A b", "C")), 7);
    }

    #[rstest]
    #[case(49, 50, false)]
    #[case(50, 50, true)]
    #[case(0, 0, true)]
    fn min_words(#[case] words: u64, #[case] min: u32, #[case] pass: bool) {
        assert_eq!(has_enough_words(words, min), pass);
    }

    #[rstest]
    #[case::english(ENGLISH, 0.5, true)]
    #[case::german(GERMAN, 0.5, false)]
    #[case::nothing_to_detect("$$ = + - 1 2 3 $$", 0.0, false)]
    #[case::formula_heavy_english_is_a_false_negative(
        "Let $\\mathcal{H}_{\\alpha\\beta}^{(k)} = \\sum_{i,j} \\Gamma^{ij}_{\\alpha} \\otimes \\Xi_{\\beta}$ and $\\Psi_{\\kappa\\lambda} = \\int_{\\Omega} \\nabla\\phi \\wedge \\star d\\psi_{\\mu\\nu}$ then $\\mathfrak{g} \\ltimes \\mathbb{Z}_{p}$ holds.",
        0.5,
        false
    )]
    #[case::impossible_confidence(ENGLISH, 1.01, false)]
    fn whole_text_language(#[case] text: &str, #[case] min_conf: f64, #[case] pass: bool) {
        let eng = expected_language("eng").unwrap();
        assert_eq!(is_expected_language_whole_text(text, eng, min_conf), pass);
    }

    #[test]
    fn an_unknown_language_code_is_a_spec_error() {
        let err = expected_language("english").unwrap_err().to_string();
        assert!(err.contains("language.expect"), "{err}");
    }
}

//! Stage 6, document filters: assembly, length and language.
//!
//! For `prose-only` (Y05 on), the detector sees the prose only: a
//! formula-heavy English paper fed whole to a language detector reads as
//! noise (`\alpha_{ij}`, `\frac`, `\begin{align}`), and the released check
//! drops it as "not English". [`mask_for_language`] masks math, commands and
//! environment markers first, and the detector reads a bounded sample of
//! that prose ([`language_sample`]).

use std::borrow::Cow;

use anyhow::{Context, Result};
use whatlang::Lang;

use super::normalize::{collapse_all, is_ascii_white_space};
use crate::tex::math::math_spans;
use crate::tex::scan::{control_seq, environment_name, indexed, is_word, next_where, skip_blanks};
use crate::tex::watchdog;

/// Released document layout.
pub fn assemble_document(title: &str, abstract_text: &str, body: &str) -> String {
    format!("Title: {title}\nAbstract: {abstract_text}\nBody: {body}")
}

/// `split_whitespace().count()`, counted over 64-byte chunks: an ASCII chunk
/// (nearly every chunk of a paper) counts the places where a non-space
/// follows a space in a branch-free loop the compiler vectorizes, 4x the
/// rate of counting over whole ASCII runs with a short-circuiting test; a
/// chunk holding a non-ASCII byte is decoded a character at a time up to the
/// first character boundary past its end.
pub fn word_count(text: &str) -> u64 {
    const CHUNK: usize = 64;
    let bytes = text.as_bytes();
    let mut words = 0;
    let mut after_space = true;
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + CHUNK).min(bytes.len());
        let chunk = &bytes[at..end];
        if chunk.is_ascii() {
            words += u64::from(ascii_word_starts(chunk, after_space));
            after_space = is_ascii_white_space(chunk[chunk.len() - 1]);
            at = end;
            continue;
        }
        for c in text[at..].chars() {
            words += u64::from(after_space && !c.is_whitespace());
            after_space = c.is_whitespace();
            at += c.len_utf8();
            if at >= end {
                break;
            }
        }
    }
    words
}

/// Word starts in a non-empty ASCII chunk, the first one counting when a
/// space came before it. `&`, not `&&`: a short-circuit is a branch per byte.
fn ascii_word_starts(chunk: &[u8], after_space: bool) -> u32 {
    let space = is_ascii_white_space;
    let first = u32::from(after_space & !space(chunk[0]));
    first + chunk.iter().zip(&chunk[1..]).map(|(&a, &b)| u32::from(space(a) & !space(b))).sum::<u32>()
}

/// Released: at least `min_words` whitespace-separated words in the whole document.
pub fn has_enough_words(words: u64, min_words: u32) -> bool {
    words >= u64::from(min_words)
}

/// The language the spec's `expect` code names (ISO 639-3, e.g. `eng`).
pub fn expected_language(code: &str) -> Result<Lang> {
    Lang::from_code(code).with_context(|| {
        format!(
            "data.filters.language.expect: `{code}` is not an ISO 639-3 code whatlang knows (use e.g. `eng`)"
        )
    })
}

/// The detector's verdict: whatlang answers with the expected language at
/// `min_confidence` or more. Released (`whole-text`), it sees formulas and
/// commands too, so formula-heavy English papers come out as another language
/// or with low confidence (false negatives the yield study counts);
/// `prose-only` gives it [`mask_for_language`]'s output instead.
pub fn is_expected_language(text: &str, expect: Lang, min_confidence: f64) -> bool {
    whatlang::detect(text).is_some_and(|info| info.lang() == expect && info.confidence() >= min_confidence)
}

/// Windows of masked prose the `prose-only` detector reads, spread evenly
/// over the document.
pub const LANGUAGE_SAMPLE_WINDOWS: usize = 4;
/// Bytes per window. whatlang's cost grows with its input while its verdict
/// on a paper's language settles within a few pages of prose, so a
/// book-length paper is judged by 16 KiB taken from its beginning, middle
/// and end rather than read whole.
pub const LANGUAGE_SAMPLE_WINDOW_BYTES: usize = 4096;

/// What the `prose-only` detector reads of `prose` (the output of
/// [`mask_for_language`]): all of it when it fits in the windows, otherwise
/// the whole words of [`LANGUAGE_SAMPLE_WINDOWS`] windows starting at even
/// strides, joined by spaces.
pub fn language_sample(prose: &str) -> Cow<'_, str> {
    let budget = LANGUAGE_SAMPLE_WINDOWS * LANGUAGE_SAMPLE_WINDOW_BYTES;
    if prose.len() <= budget {
        return Cow::Borrowed(prose);
    }
    let stride = prose.len() / LANGUAGE_SAMPLE_WINDOWS;
    let mut sample = String::with_capacity(budget + LANGUAGE_SAMPLE_WINDOWS);
    for window in 0..LANGUAGE_SAMPLE_WINDOWS {
        let from = window * stride;
        let words = whole_words(prose, from, from + LANGUAGE_SAMPLE_WINDOW_BYTES);
        if !sample.is_empty() && !words.is_empty() {
            sample.push(' ');
        }
        sample.push_str(words);
    }
    Cow::Owned(sample)
}

/// The words of `text[from..to]` not cut by either edge (text ends are not
/// cuts). Words are split on ASCII spaces, so every cut is a char boundary.
fn whole_words(text: &str, from: usize, to: usize) -> &str {
    let bytes = text.as_bytes();
    let to = to.min(text.len());
    let start = match from {
        0 => 0,
        _ => bytes[from - 1..to].iter().position(|&b| b == b' ').map_or(to, |i| from + i),
    };
    let end = if to == text.len() || bytes[to] == b' ' {
        to
    } else {
        bytes[start..to].iter().rposition(|&b| b == b' ').map_or(start, |i| start + i)
    };
    text[start..end].trim_matches(' ')
}

/// The prose of `text`: math spans and `\begin{…}`/`\end{…}` markers become
/// a space, control words and braces disappear (the words inside
/// `\emph{…}` stay), and whitespace collapses.
pub fn mask_for_language(text: &str) -> String {
    indexed(text, || mask_prose(text))
}

fn mask_prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    let mask = |out: &mut String, copied: &mut usize, from: usize, to: usize| {
        out.push_str(&text[*copied..from]);
        out.push(' ');
        *copied = to;
    };
    let math = math_spans(text);
    let mut math = math.iter().peekable();
    while at < bytes.len() {
        if watchdog::expired() {
            break;
        }
        if let Some(m) = math.peek().filter(|m| m.start == at) {
            let end = m.end;
            math.next();
            mask(&mut out, &mut copied, at, end);
            at = end;
            continue;
        }
        match bytes[at] {
            b'\\' => {
                let cs = control_seq(text, at, false);
                let mut end = cs.end;
                if matches!(cs.name, "begin" | "end") {
                    if let Some((_, name_end)) = environment_name(text, skip_blanks(text, cs.end)) {
                        end = name_end;
                    }
                }
                // `\%`, `\&`, `\$` are the characters themselves.
                let keeps_char = !is_word(cs.name) && matches!(cs.name, "%" | "&" | "$" | "#" | "_");
                if keeps_char {
                    out.push_str(&text[copied..at]);
                    copied = at + 1;
                } else {
                    mask(&mut out, &mut copied, at, end);
                }
                at = end.max(at + 1);
            }
            b'{' | b'}' | b'~' => {
                let replacement_end = at + 1;
                mask(&mut out, &mut copied, at, replacement_end);
                at = replacement_end;
            }
            // Nothing else changes: on to the next byte one of the arms
            // above acts on, or the next math span.
            _ => {
                let limit = math.peek().map_or(bytes.len(), |m| m.start.max(at + 1));
                at = next_where(&bytes[..limit], at + 1, |b| {
                    (b == b'\\') | (b == b'{') | (b == b'}') | (b == b'~')
                });
            }
        }
        while math.peek().is_some_and(|m| m.start < at) {
            math.next();
        }
    }
    out.push_str(&text[copied..]);
    collapse_all(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const ENGLISH: &str = "We study the convergence of stochastic gradient descent for training large language models on scientific text, and we show that the choice of preprocessing changes how many usable tokens remain after filtering.";
    const GERMAN: &str = "Wir untersuchen die Konvergenz des stochastischen Gradientenverfahrens beim Training großer Sprachmodelle auf wissenschaftlichen Texten und zeigen, dass die Vorverarbeitung die Zahl der nutzbaren Wörter verändert.";

    #[test]
    fn documents_have_the_released_layout() {
        assert_eq!(assemble_document("T", "A b", "C"), "Title: T\nAbstract: A b\nBody: C");
        // "Title:", "Abstract:" and "Body:" count as words, as in the released `len(text.split())`.
        assert_eq!(word_count(&assemble_document("T", "A b", "C")), 7);
    }

    #[rstest]
    #[case("")]
    #[case("   ")]
    #[case("one")]
    #[case(" one  two\tthree\nfour\r\nfive ")]
    #[case("a\x0bb\x0cc")]
    #[case("a\x1cb\x1fc\x00d")]
    #[case("na\u{ef}ve\u{a0}word\u{3000}three\u{2028}")]
    #[case("\u{85}x")]
    #[case("é\u{2003}ü x\u{1680}")]
    fn word_counts_are_split_whitespace_counts(#[case] text: &str) {
        assert_eq!(word_count(text), text.split_whitespace().count() as u64, "{text:?}");
    }

    #[test]
    fn word_counts_of_mixed_soup_are_split_whitespace_counts() {
        const PIECES: &[&str] = &[" ", "a", "bc", "\n", "\t", "é", "\u{a0}", "\u{3000}", "\u{85}", "日本"];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        // Long soups cross the 64-byte chunks: ASCII chunks next to ones
        // that hold a multi-byte character, and characters cut by a chunk edge.
        const LONG: &str = " the quick brown fox jumps over the lazy dog, lorem ipsum dolor sit amet ";
        let long_pieces = [PIECES, &[LONG, LONG, LONG]].concat();
        for (pieces, max) in [(PIECES, 24), (&long_pieces[..], 300)] {
            for _ in 0..2000 {
                let text = crate::tex::scan::soup(&mut state, pieces, max);
                assert_eq!(word_count(&text), text.split_whitespace().count() as u64, "{text:?}");
            }
        }
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
        assert_eq!(is_expected_language(text, eng, min_conf), pass);
    }

    #[test]
    fn an_unknown_language_code_is_a_spec_error() {
        let err = expected_language("english").unwrap_err().to_string();
        assert!(err.contains("language.expect"), "{err}");
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;

    fn numbered_words(count: usize) -> String {
        (0..count).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn prose_within_the_windows_is_read_whole() {
        let prose = numbered_words(100);
        assert!(matches!(language_sample(&prose), Cow::Borrowed(p) if p == prose));
    }

    /// A long text is read as whole words from each quarter, within the budget.
    #[test]
    fn long_prose_is_sampled_in_whole_words_from_every_quarter() {
        let prose = numbered_words(40_000);
        let words: Vec<&str> = prose.split(' ').collect();
        let sample = language_sample(&prose);
        assert!(sample.len() <= LANGUAGE_SAMPLE_WINDOWS * (LANGUAGE_SAMPLE_WINDOW_BYTES + 1));
        assert!(sample.len() >= LANGUAGE_SAMPLE_WINDOWS * (LANGUAGE_SAMPLE_WINDOW_BYTES - 16));
        let sampled: Vec<usize> = sample
            .split(' ')
            .map(|w| w.strip_prefix('w').and_then(|n| n.parse().ok()).expect("a whole word"))
            .collect();
        assert!(sampled.iter().all(|&i| i < words.len()));
        let quarter = words.len() / LANGUAGE_SAMPLE_WINDOWS;
        for q in 0..LANGUAGE_SAMPLE_WINDOWS {
            assert!(sampled.iter().any(|&i| i / quarter == q), "no word from quarter {q}");
        }
        assert_eq!(sampled[0], 0, "the first window starts at the text");
    }

    /// Multi-byte characters next to a window edge are never cut.
    #[test]
    fn windows_cut_only_between_words() {
        let prose = "é".repeat(3) + " " + &"übergroß ".repeat(6000);
        let sample = language_sample(prose.trim_end());
        assert!(sample.split(' ').all(|w| w == "übergroß" || w == "ééé"), "{}", &sample[..80]);
    }

    #[test]
    fn a_book_of_english_prose_is_english_on_the_sample() {
        let english = "We study the convergence of stochastic gradient descent for training large language models on scientific text, and we show that the choice of preprocessing changes how many usable tokens remain after filtering. ";
        let book = english.repeat(400);
        let eng = expected_language("eng").unwrap();
        assert!(is_expected_language(&language_sample(book.trim_end()), eng, 0.5));
    }
}

#[cfg(test)]
mod masking_tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::inline_math("Let $x^2$ be positive.", "Let be positive.")]
    #[case::display_math("We have \\[\\sum_i a_i\\] here.", "We have here.")]
    #[case::environment("\\begin{align}a&=b\\end{align} and \\begin{theorem}Text\\end{theorem}", "and Text")]
    #[case::command_keeps_argument_words("an \\emph{important} result", "an important result")]
    #[case::escaped_characters("50\\% of A\\&B", "50% of A&B")]
    #[case::tie("Section~3", "Section 3")]
    fn masks_math_commands_and_environments(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(mask_for_language(text), expected);
    }

    /// Formula-heavy English sentences that whatlang, fed the whole text,
    /// calls Swedish and Latin; masked, the same sentences read as English.
    #[rstest]
    #[case::inline_formulas(
        "Let $\\alpha_{ij}=\\sum_k\\beta_{ik}\\gamma_{kj}$ and $x_{n+1}=x_n-\\eta\\nabla f(x_n)$ then $\\|x_n-x^*\\|\\le C\\rho^n$ holds."
    )]
    #[case::display_and_inline(
        "Then \\[\\mathcal{H}_{\\alpha\\beta}^{(k)}=\\sum_{i,j}\\frac{\\partial^2 \\phi_{ij}}{\\partial x_i\\partial x_j}\\] where \
         $\\Gamma_{\\mu\\nu}^{\\lambda}=\\tfrac12 g^{\\lambda\\sigma}(\\partial_\\mu g_{\\nu\\sigma}+\\partial_\\nu g_{\\mu\\sigma}-\\partial_\\sigma g_{\\mu\\nu})$ \
         so $\\Xi_{k}=\\int_{\\Omega}\\nabla\\psi_k\\cdot\\nabla\\bar\\psi_k\\,d\\mu(x)$ is finite."
    )]
    fn masking_recovers_formula_heavy_english(#[case] text: &str) {
        let lang = |t: &str| whatlang::detect(t).map(|info| info.lang());
        assert_ne!(lang(text), Some(whatlang::Lang::Eng));
        assert_eq!(lang(&mask_for_language(text)), Some(whatlang::Lang::Eng));
    }
}

//! Text normalization (`normalization:` in the spec): control characters,
//! accent commands, Unicode form, whitespace. One function per rule;
//! `normalize` composes them in that order.

use std::borrow::Cow;

use unicode_normalization::{is_nfc_quick, is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::spec::data::{Normalization, UnicodeForm, WhitespaceMode};
use crate::tex::math::math_spans;
use crate::tex::scan::{control_seq, group_content, next_of, next_where, SCAN_CHUNK};

/// Applies every normalization rule the spec switches on. A rule with
/// nothing to change (the common case for each) hands its input on uncopied.
pub fn normalize(text: &str, cfg: &Normalization) -> String {
    let mut text = Cow::Borrowed(text);
    if cfg.strip_control {
        text = owned_if_changed(text, strip_control);
    }
    if cfg.accents {
        text = owned_if_changed(text, accents_to_characters);
    }
    text = owned_if_changed(text, |t| unicode_form(t, cfg.unicode));
    match cfg.whitespace {
        WhitespaceMode::CollapseAll => collapse_all(&text),
        WhitespaceMode::Paragraphs => paragraphs(&text),
    }
}

/// `rule(text)`, keeping `text` itself when the rule changed nothing.
fn owned_if_changed<'a>(text: Cow<'a, str>, rule: impl FnOnce(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match rule(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(changed) => Cow::Owned(changed),
    }
}

/// Removes control characters except newline and tab, and the byte-order
/// mark Windows editors put at the start of files. CRLF becomes LF and a
/// lone CR (classic Mac OS line ends) becomes LF, so lines survive.
pub fn strip_control(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Filled from the first change on: plain text (the common case) is not copied.
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    loop {
        at = next_control_candidate(bytes, at);
        if at >= bytes.len() {
            break;
        }
        let (len, replacement) = match bytes[at] {
            b'\r' if bytes.get(at + 1) == Some(&b'\n') => (1, ""),
            b'\r' => (1, "\n"),
            b'\n' | b'\t' => (0, ""),
            0..0x20 | 0x7f => (1, ""),
            // C1 controls, U+0080..U+009F (`C2` also leads `°` or `±`, which stay).
            0xc2 if bytes.get(at + 1).is_some_and(|c| (0x80..=0x9f).contains(c)) => (2, ""),
            // The byte-order mark, U+FEFF (`EF` also leads `ﬁ`).
            0xef if bytes.get(at + 1..at + 3) == Some(&[0xbb, 0xbf][..]) => (3, ""),
            _ => (0, ""),
        };
        if len == 0 {
            at += 1;
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..at]);
        out.push_str(replacement);
        at += len;
        copied = at;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// The first byte at or after `from` that [`strip_control`] may act at (a
/// control character but newline and tab, DEL, and the lead bytes of C1
/// controls and the byte-order mark), or the end of `bytes`.
fn next_control_candidate(bytes: &[u8], from: usize) -> usize {
    next_where(bytes, from, |b| {
        (b < 0x20 && b != b'\n' && b != b'\t') | (b == 0x7f) | (b == 0xc2) | (b == 0xef)
    })
}

/// NFC composes (`e` + U+0301 → `é`); NFKC also folds compatibility forms
/// (ligature `ﬁ` → `fi`, fullwidth digits), common in text pasted from PDFs.
/// Most LaTeX is ASCII, already in every form: the quick check skips the
/// rewrite then.
pub fn unicode_form(text: &str, form: UnicodeForm) -> Cow<'_, str> {
    match form {
        UnicodeForm::None => Cow::Borrowed(text),
        _ if text.is_ascii() => Cow::Borrowed(text),
        UnicodeForm::Nfc if quick_check(text, |s| is_nfc_quick(s)) == IsNormalized::Yes => {
            Cow::Borrowed(text)
        }
        UnicodeForm::Nfc => Cow::Owned(text.nfc().collect()),
        UnicodeForm::Nfkc if quick_check(text, |s| is_nfkc_quick(s)) == IsNormalized::Yes => {
            Cow::Borrowed(text)
        }
        UnicodeForm::Nfkc => Cow::Owned(text.nfkc().collect()),
    }
}

/// Unicode's quick check (`check`) of `text`, run on its non-ASCII stretches
/// only. An ASCII character is in every form and resets the order of
/// combining classes the check follows, so the check of the whole text is
/// the checks of those stretches combined; a paper is mostly ASCII, which the
/// check otherwise decodes a character at a time (1.6% of a Y06 run).
fn quick_check(text: &str, check: impl Fn(std::str::Chars<'_>) -> IsNormalized) -> IsNormalized {
    let bytes = text.as_bytes();
    let mut verdict = IsNormalized::Yes;
    let mut at = 0;
    loop {
        let start = next_where(bytes, at, |b| !b.is_ascii());
        if start == bytes.len() {
            break;
        }
        let end = next_where(bytes, start, |b| b.is_ascii());
        match check(text[start..end].chars()) {
            IsNormalized::No => return IsNormalized::No,
            IsNormalized::Maybe => verdict = IsNormalized::Maybe,
            IsNormalized::Yes => {}
        }
        at = end;
    }
    verdict
}

/// Released: every whitespace run, newlines included, becomes one space; ends
/// trimmed. The released cleaner's last pass and `whitespace: collapse-all`.
/// Same classes as the regex `\s` (Unicode `White_Space`), without its cost.
pub fn collapse_all(text: &str) -> String {
    rewrite_gaps(text, |_| " ")
}

/// Whitespace runs inside a paragraph become one space; paragraphs (split at
/// blank lines, as TeX splits them) are joined by one blank line.
pub fn paragraphs(text: &str) -> String {
    // Two words are a blank line apart when the run between them holds a
    // second newline: the line after the first newline has no word.
    rewrite_gaps(
        text,
        |gap| if memchr::memchr_iter(b'\n', gap.as_bytes()).nth(1).is_some() { "\n\n" } else { " " },
    )
}

/// The words of `text` (as `split_whitespace` finds them) joined by
/// `separator(gap)` for the whitespace run between each two; `separator` of
/// one space must be one space. That gap (nearly every gap in prose) is passed
/// over by a table lookup and a look at the next byte, and copied with the
/// words around it; only the other runs (line ends, space runs, non-ASCII
/// spaces, the ends) are measured and rewritten.
fn rewrite_gaps(text: &str, separator: impl Fn(&str) -> &'static str) -> String {
    let bytes = text.as_bytes();
    let starts_space = |b: &u8| MAY_START_SPACE[*b as usize];
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    // Chunks before this were found to hold a gap to look at: not tested again.
    let mut tested_until = 1;
    loop {
        if at >= tested_until {
            at = pass_word_gaps(bytes, at);
            tested_until = at + SCAN_CHUNK;
        }
        let Some(skipped) = bytes[at..].iter().position(starts_space) else { break };
        let start = at + skipped;
        let between_words = start > 0 && bytes.get(start + 1).is_some_and(|b| !starts_space(b));
        if bytes[start] == b' ' && between_words {
            at = start + 1;
            continue;
        }
        let end = whitespace_run_end(text, start);
        if end == start {
            at = start + 1; // the lead byte of a character that is no whitespace
            continue;
        }
        at = end;
        let replacement = if start == 0 || end == text.len() { "" } else { separator(&text[start..end]) };
        if replacement != &text[start..end] {
            out.push_str(&text[copied..start]);
            out.push_str(replacement);
            copied = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The ASCII characters with Unicode's White_Space property, the ones
/// `char::is_whitespace` accepts (`u8::is_ascii_whitespace` leaves out U+000B).
pub(crate) const fn is_ascii_white_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b' ')
}

/// Bytes that can start a `char::is_whitespace` character: the ASCII
/// whitespace and the lead bytes of the non-ASCII ones (U+0085, U+00A0;
/// U+1680; U+2000–U+205F; U+3000).
const fn may_start_space(b: u8) -> bool {
    is_ascii_white_space(b) | matches!(b, 0xc2 | 0xe1 | 0xe2 | 0xe3)
}

/// [`may_start_space`] as a table, for the searches that stop at the first.
const MAY_START_SPACE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = may_start_space(b as u8);
        b += 1;
    }
    table
};

/// From `at` (past the text's first byte), passes over the whole chunks whose
/// only whitespace is single spaces followed by a word, gaps [`rewrite_gaps`]
/// keeps as they are, and returns where the first other chunk starts. A
/// chunk is tested without a branch per byte, which the compiler vectorizes;
/// stepping from gap to gap was most of the two whitespace passes' 7% of a
/// prepare run.
fn pass_word_gaps(bytes: &[u8], mut at: usize) -> usize {
    debug_assert!(at > 0, "a space at the text's start is trimmed, not kept");
    while let Some(window) = bytes.get(at..at + SCAN_CHUNK + 1) {
        let kept = |b: u8, next: u8| (b == b' ') & !may_start_space(next);
        let to_look_at = window
            .iter()
            .zip(&window[1..])
            .fold(false, |any, (&b, &next)| any | (may_start_space(b) & !kept(b, next)));
        if to_look_at {
            break;
        }
        at += SCAN_CHUNK;
    }
    at
}

/// Where the run of `char::is_whitespace` characters from byte `start` (a char
/// boundary) ends; `start` when none starts there. Only a non-ASCII lead byte
/// in [`MAY_START_SPACE`] makes it decode a character.
fn whitespace_run_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = start;
    while let Some(&byte) = bytes.get(at) {
        if !MAY_START_SPACE[byte as usize] {
            break;
        }
        if byte.is_ascii() {
            at += 1;
            continue;
        }
        match text[at..].chars().next() {
            Some(c) if c.is_whitespace() => at += c.len_utf8(),
            _ => break,
        }
    }
    at
}

/// Combining marks of LaTeX's text accents. Symbol accents take their
/// argument directly (`\'e`, `\'{e}`); letter accents only in braces
/// (`\v{c}`), because `\c x` or `\r x` is as likely a user macro.
const SYMBOL_ACCENTS: &[(&str, char)] = &[
    ("'", '\u{301}'),
    ("`", '\u{300}'),
    ("^", '\u{302}'),
    ("\"", '\u{308}'),
    ("~", '\u{303}'),
    ("=", '\u{304}'),
    (".", '\u{307}'),
];
const LETTER_ACCENTS: &[(&str, char)] = &[
    ("u", '\u{306}'),
    ("v", '\u{30c}'),
    ("H", '\u{30b}'),
    ("c", '\u{327}'),
    ("k", '\u{328}'),
    ("r", '\u{30a}'),
];

/// Special letters written as commands (`Erd\H{o}s`, `Stra\ss e`, `Bj\o rn`).
const LETTERS: &[(&str, &str)] = &[
    ("ss", "ß"),
    ("o", "ø"),
    ("O", "Ø"),
    ("ae", "æ"),
    ("AE", "Æ"),
    ("oe", "œ"),
    ("OE", "Œ"),
    ("aa", "å"),
    ("AA", "Å"),
    ("l", "ł"),
    ("L", "Ł"),
    ("i", "ı"),
    ("j", "ȷ"),
];

/// Turns accent commands into characters outside math: `\'e` and `{\'e}`
/// → `é`, `\"{o}` → `ö`, `\v{c}` → `č`, `\'{\i}` → `í`, `\ss{}` → `ß`.
/// Math is left alone: `\O` and `\L` there are usually user notation.
pub fn accents_to_characters(text: &str) -> Cow<'_, str> {
    // Most text holds no accent command at all: look for the first before
    // paying for the math spans (a match inside math is sorted out below).
    let bytes = text.as_bytes();
    let Some(first) = memchr::memchr_iter(b'\\', bytes).find(|&at| accent_at(text, at).is_some()) else {
        return Cow::Borrowed(text);
    };
    let math = math_spans(text);
    let mut math = math.iter().peekable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    // Nothing before the first command changes; one byte back for `{\'e}`.
    let mut at = first.saturating_sub(1);
    while at < bytes.len() {
        while math.peek().is_some_and(|m| m.end <= at) {
            math.next();
        }
        if let Some(m) = math.peek().filter(|m| m.start <= at) {
            at = m.end;
            continue;
        }
        let found = match bytes[at] {
            // `{\'e}`: the braces only scoped the accent; drop them with it.
            b'{' if bytes.get(at + 1) == Some(&b'\\') => accent_at(text, at + 1)
                .filter(|(_, end)| bytes.get(*end) == Some(&b'}'))
                .map(|(c, end)| (c, end + 1)),
            b'\\' => accent_at(text, at),
            _ => None,
        };
        match found {
            Some((replacement, end)) => {
                out.push_str(&text[copied..at]);
                out.push_str(&replacement);
                copied = end;
                at = end;
            }
            // Only `{` and `\` start a replacement; a jump into a math span
            // lands inside it and leaves at its end, as stepping would.
            None => at = next_of(bytes, at + 1, b'{', b'\\'),
        }
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The character an accent or letter command at `at` stands for, and the byte after it.
fn accent_at(text: &str, at: usize) -> Option<(String, usize)> {
    let cs = control_seq(text, at, false);
    if let Some(&(_, letter)) = LETTERS.iter().find(|(name, _)| *name == cs.name) {
        return Some((letter.to_string(), after_letter_command(text, cs.end)));
    }
    let symbol = SYMBOL_ACCENTS.iter().find(|(name, _)| *name == cs.name);
    let letter = LETTER_ACCENTS.iter().find(|(name, _)| *name == cs.name);
    let (mark, braced_only) = match (symbol, letter) {
        (Some(&(_, mark)), _) => (mark, false),
        (_, Some(&(_, mark))) => (mark, true),
        _ => return None,
    };
    let (base, end) = accent_argument(text, cs.end, braced_only)?;
    let composed: String = format!("{base}{mark}").nfc().collect();
    Some((composed, end))
}

/// The accented letter: `{e}`, `{\i}`, or (symbol accents) a bare `e`.
fn accent_argument(text: &str, after: usize, braced_only: bool) -> Option<(char, usize)> {
    let bytes = text.as_bytes();
    match bytes.get(after)? {
        b'{' => {
            let (inner, end) = group_content(text, after)?;
            let base = match inner.trim() {
                "\\i" => 'i',
                "\\j" => 'j',
                other => {
                    let mut chars = other.chars();
                    let c = chars.next()?;
                    (chars.next().is_none() && c.is_alphabetic()).then_some(c)?
                }
            };
            Some((base, end))
        }
        _ if braced_only => None,
        b'\\' => {
            let cs = control_seq(text, after, false);
            let base = match cs.name {
                "i" => 'i',
                "j" => 'j',
                _ => return None,
            };
            Some((base, after_letter_command(text, cs.end)))
        }
        _ => {
            let c = text[after..].chars().next()?;
            c.is_alphabetic().then_some((c, after + c.len_utf8()))
        }
    }
}

/// TeX ends a control word at the first non-letter and eats the spaces
/// after it (`Bj\o rn` is "Bjørn"); `\ss{}` ends it with an empty group.
fn after_letter_command(text: &str, end: usize) -> usize {
    let rest = &text[end..];
    if rest.starts_with("{}") {
        return end + 2;
    }
    end + rest.len() - rest.trim_start_matches([' ', '\t']).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Whitespace of every class `char::is_whitespace` knows, the lead bytes
    /// of non-ASCII whitespace inside other characters (`Â`, `ሀ`, `€`, `あ`),
    /// and controls that are not whitespace.
    const WHITESPACE_SOUP: &[&str] = &[
        " ", "  ", "\n", "\n\n", "\r\n", "\t", "\x0b", "\x0c", "\r", "a", "bc", "\u{85}", "\u{a0}",
        "\u{1680}", "\u{2003}", "\u{2028}", "\u{202f}", "\u{205f}", "\u{3000}", "Â", "ሀ", "€", "あ", "\x1c",
        "\u{200b}", "é",
    ];

    #[test]
    fn collapsing_joins_the_split_whitespace_words_with_spaces() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5000 {
            let text = crate::tex::scan::soup(&mut state, WHITESPACE_SOUP, 16);
            let want = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse_all(&text), want, "{text:?}");
        }
    }

    /// The line-by-line definition: a line without words ends a paragraph.
    fn paragraphs_by_lines(text: &str) -> String {
        let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let open = paragraphs.len() - 1;
            if !words.is_empty() {
                paragraphs[open].extend(words);
            } else if !paragraphs[open].is_empty() {
                paragraphs.push(Vec::new());
            }
        }
        let joined: Vec<String> = paragraphs.iter().filter(|p| !p.is_empty()).map(|p| p.join(" ")).collect();
        joined.join("\n\n")
    }

    #[test]
    fn paragraphs_are_the_lines_definition() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            let text = crate::tex::scan::soup(&mut state, WHITESPACE_SOUP, 16);
            assert_eq!(paragraphs(&text), paragraphs_by_lines(&text), "{text:?}");
        }
    }

    /// Prose-like texts, long enough for whole chunks of single spaces
    /// between words to be passed over, with the soup's whitespace on and
    /// across chunk edges.
    #[test]
    fn long_texts_agree_with_both_definitions() {
        let mut pieces = WHITESPACE_SOUP.to_vec();
        pieces.extend([
            "lorem ipsum dolor sit amet ",
            "consectetur adipiscing elit sed do",
            " eiusmod tempor",
        ]);
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5000 {
            let text = crate::tex::scan::soup(&mut state, &pieces, 40);
            let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse_all(&text), words, "{text:?}");
            assert_eq!(paragraphs(&text), paragraphs_by_lines(&text), "{text:?}");
        }
    }

    #[test]
    fn rules_with_nothing_to_change_hand_the_text_on_uncopied() {
        let borrowed = |c: Cow<'_, str>| matches!(c, Cow::Borrowed(_));
        // `°` and `ﬁ` start with the lead bytes of C1 controls and of the BOM.
        assert!(borrowed(strip_control("20 °C, the ﬁrst\tline\n")));
        assert_eq!(strip_control("20 °C\u{85}, \u{feff}ﬁ"), "20 °C, ﬁ");
        assert!(borrowed(accents_to_characters(r"no accent \emph{here}, $\alpha$")));
        assert_eq!(accents_to_characters(r"$\L$ and \L{}\'od\'z"), "$\\L$ and Łódź");
        assert!(borrowed(unicode_form("café", UnicodeForm::Nfc)));
    }

    #[rstest]
    #[case::acute(r"caf\'e", "café")]
    #[case::acute_braced(r"caf\'{e}", "café")]
    #[case::outer_braces(r#"Schr{\"o}dinger"#, "Schrödinger")]
    #[case::umlaut(r#"G\"odel"#, "Gödel")]
    #[case::grave(r"\`a la", "à la")]
    #[case::circumflex(r"h\^otel", "hôtel")]
    #[case::tilde(r"Nu\~nez", "Nuñez")]
    #[case::caron_braced(r"\v{C}ech", "Čech")]
    #[case::hungarian(r"Erd\H{o}s", "Erdős")]
    #[case::cedilla(r"Fran\c{c}ois", "François")]
    #[case::dotless_i(r"Mart\'{\i}n", "Martín")]
    #[case::dotless_i_unbraced(r"Mart\'\i n", "Martín")]
    #[case::eszett_space(r"Stra\ss e", "Straße")]
    #[case::slashed_o(r"Bj\o rn", "Bjørn")]
    #[case::empty_group(r"Gro\ss{}", "Groß")]
    #[case::letter_accent_needs_braces(r"\c x", r"\c x")]
    #[case::math_untouched(r"$\O(n)$ and \O", r"$\O(n)$ and Ø")]
    #[case::not_an_accent(r"\cite{x}", r"\cite{x}")]
    fn converts_accent_commands(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(accents_to_characters(text), expected);
    }

    /// The stretch-wise quick check gives the crate's verdict on the whole
    /// text: combining marks after ASCII and after letters, in and out of
    /// canonical order, compatibility forms, and long ASCII runs between them.
    #[test]
    fn quick_check_by_stretches_agrees_with_the_whole_text_check() {
        const PIECES: &[&str] = &[
            "e",
            "\u{301}",
            "\u{323}",
            "é",
            "ﬁ",
            "Å",
            "\u{30a}",
            "한",
            "\u{1100}\u{1161}",
            "½",
            " ",
            ".",
            "a",
        ];
        let long_ascii = "x".repeat(40);
        let mut pieces: Vec<&str> = PIECES.to_vec();
        pieces.push(&long_ascii);
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut verdicts = std::collections::HashSet::new();
        for _ in 0..5000 {
            let text = crate::tex::scan::soup(&mut state, &pieces, 12);
            let nfc = is_nfc_quick(text.chars());
            let nfkc = is_nfkc_quick(text.chars());
            assert_eq!(quick_check(&text, |s| is_nfc_quick(s)), nfc, "{text:?}");
            assert_eq!(quick_check(&text, |s| is_nfkc_quick(s)), nfkc, "{text:?}");
            verdicts.extend([format!("{nfc:?}"), format!("{nfkc:?}")]);
        }
        assert_eq!(verdicts.len(), 3, "the soup reached every verdict: {verdicts:?}");
    }

    /// The rule as first written, one char at a time: the byte scan must agree with it.
    fn strip_control_by_chars(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' if chars.peek() == Some(&'\n') => {}
                '\r' => out.push('\n'),
                '\n' | '\t' => out.push(c),
                '\u{feff}' => {}
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn strip_control_agrees_with_the_char_rule_on_a_soup() {
        let alphabet: Vec<char> = (0u32..0x100)
            .filter_map(char::from_u32)
            .chain(['\u{feff}', '\u{fb01}', '\u{2028}', '\u{10ffff}', '\u{ef}', '\u{c2}'])
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let text: String = (0..64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(strip_control(&text), strip_control_by_chars(&text), "{text:?}");
        }
    }

    /// Long plain runs with a few controls, so whole chunks are cleared and
    /// controls (multi-byte ones and CRLF too) fall on and across chunk edges.
    #[test]
    fn strip_control_agrees_with_the_char_rule_on_sparse_controls() {
        const SPECIALS: &[&str] =
            &["\r\n", "\r", "\u{0}", "\u{7f}", "\u{85}", "\u{9f}", "\u{feff}", "°", "ﬁ", "\n", "\t"];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..2000 {
            let mut text = "x".repeat(next(130));
            for _ in 0..next(4) {
                let mut at = next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, SPECIALS[next(SPECIALS.len())]);
            }
            assert_eq!(strip_control(&text), strip_control_by_chars(&text), "{text:?}");
        }
    }

    #[rstest]
    #[case::crlf("a\r\nb", "a\nb")]
    #[case::lone_cr("a\rb", "a\nb")]
    #[case::nul_and_bell("a\u{0}b\u{7}c", "abc")]
    #[case::form_feed("a\u{c}b", "ab")]
    #[case::tab_kept("a\tb", "a\tb")]
    #[case::bom("\u{feff}text", "text")]
    #[case::c1_control("a\u{85}b", "ab")]
    fn strips_control_characters(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(strip_control(text), expected);
    }

    #[rstest]
    #[case::nfc_composes("e\u{301}", UnicodeForm::Nfc, "é")]
    #[case::nfc_keeps_ligature("\u{fb01}", UnicodeForm::Nfc, "\u{fb01}")]
    #[case::nfkc_folds_ligature("\u{fb01}nd", UnicodeForm::Nfkc, "find")]
    #[case::none_keeps("e\u{301}", UnicodeForm::None, "e\u{301}")]
    fn applies_unicode_form(#[case] text: &str, #[case] form: UnicodeForm, #[case] expected: &str) {
        assert_eq!(unicode_form(text, form), expected);
    }

    #[rstest]
    #[case::collapse_all("a  b\n\nc\td ", WhitespaceMode::CollapseAll, "a b c d")]
    #[case::paragraphs_kept("a  b\nc\n\n\n  d\n", WhitespaceMode::Paragraphs, "a b c\n\nd")]
    #[case::blank_line_with_spaces("a\n   \nb", WhitespaceMode::Paragraphs, "a\n\nb")]
    #[case::leading_blank_lines("\n\n a", WhitespaceMode::Paragraphs, "a")]
    fn normalizes_whitespace(#[case] text: &str, #[case] mode: WhitespaceMode, #[case] expected: &str) {
        let cfg = Normalization {
            unicode: UnicodeForm::None,
            accents: false,
            whitespace: mode,
            strip_control: false,
        };
        assert_eq!(normalize(text, &cfg), expected);
    }

    #[test]
    fn composes_rules_in_order() {
        let cfg = Normalization {
            unicode: UnicodeForm::Nfc,
            accents: true,
            whitespace: WhitespaceMode::Paragraphs,
            strip_control: true,
        };
        let text = "G\\\"odel\u{0}  and\r\n Erd\\H{o}s\r\n\r\nCafe\u{301}";
        assert_eq!(normalize(text, &cfg), "Gödel and Erdős\n\nCafé");
    }
}

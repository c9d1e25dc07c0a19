//! Where the math is: `$…$`, `$$…$$`, `\(…\)`, `\[…\]` and display
//! environments. Cleaning keeps these spans verbatim and the prose-only
//! language check masks them.

use std::ops::Range;

use super::scan::{
    control_seq, environment_name, find_end, indexed, next_of, skip_blanks, VERBATIM_ENVIRONMENTS,
};
use super::watchdog;

/// Display-math environments of LaTeX and amsmath.
pub const MATH_ENVIRONMENTS: &[&str] = &[
    "equation",
    "equation*",
    "align",
    "align*",
    "alignat",
    "alignat*",
    "flalign",
    "flalign*",
    "gather",
    "gather*",
    "multline",
    "multline*",
    "eqnarray",
    "eqnarray*",
    "displaymath",
    "math",
    "dmath",
    "dmath*",
];

/// Byte ranges of the math spans in `text`, delimiters included, in order.
/// An unclosed `$` is not math (a stray dollar in prose).
pub fn math_spans(text: &str) -> Vec<Range<usize>> {
    indexed(text, || spans_of(text))
}

fn spans_of(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut misses = Misses::default();
    let mut find_unescaped = |text: &str, from: usize, close: &'static str| misses.find(text, from, close);
    let mut at = 0;
    while at < bytes.len() {
        if watchdog::expired() {
            break;
        }
        let span_end = match bytes[at] {
            b'$' if bytes.get(at + 1) == Some(&b'$') => find_unescaped(text, at + 2, "$$"),
            b'$' => find_unescaped(text, at + 1, "$"),
            b'\\' => {
                let cs = control_seq(text, at, false);
                let end = match cs.name {
                    "(" => find_unescaped(text, cs.end, "\\)"),
                    "[" => find_unescaped(text, cs.end, "\\]"),
                    "begin" => match environment_name(text, skip_blanks(text, cs.end)) {
                        Some((env, body)) if MATH_ENVIRONMENTS.contains(&env) => {
                            find_end(text, body, env).map(|(_, end)| end)
                        }
                        // Math inside verbatim is code, not math.
                        Some((env, body)) if VERBATIM_ENVIRONMENTS.contains(&env) => {
                            at = find_end(text, body, env).map_or(bytes.len(), |(_, end)| end);
                            continue;
                        }
                        _ => None,
                    },
                    _ => None,
                };
                if end.is_none() {
                    at = cs.end.max(at + 1);
                    continue;
                }
                end
            }
            _ => {
                at = next_of(bytes, at + 1, b'$', b'\\');
                continue;
            }
        };
        match span_end {
            Some(end) => {
                spans.push(at..end);
                at = end;
            }
            None => at += 1,
        }
    }
    spans
}

/// Per closing delimiter, the start of a search for it that failed.
///
/// The search steps one byte, or two at a backslash. Two searches from
/// different starts meet at the first byte not preceded by a backslash and
/// walk the same bytes from there, so a later search that reaches such a
/// byte past a failed start fails too: 40,000 unclosed `\[` cost one walk
/// to the end of the text, not 40,000.
#[derive(Default)]
struct Misses(std::collections::HashMap<&'static str, usize>);

impl Misses {
    fn find(&mut self, text: &str, from: usize, close: &'static str) -> Option<usize> {
        let missed = self.0.get(close).copied();
        let found = find_unescaped(text, from, close, missed);
        if found.is_none() && missed.is_none_or(|m| from < m) {
            self.0.insert(close, from);
        }
        found
    }
}

/// The byte past the first `close` at or after `from` that is not escaped
/// by a backslash (`\$` is a dollar sign, not the end of math). With
/// `missed`, the start of a search for `close` that found none (see [`Misses`]).
///
/// The walk visits every byte but acts only at a backslash or the first byte
/// of `close`, so it jumps between those with a vectorized search (a math
/// body is mostly other bytes). A jump passes no byte the walk would act at,
/// and every byte it passes follows a byte that is no backslash, so it joins
/// `missed` exactly when the walk would have.
fn find_unescaped(text: &str, from: usize, close: &str, missed: Option<usize>) -> Option<usize> {
    let bytes = text.as_bytes();
    let first = close.as_bytes()[0];
    let mut at = from;
    while at < bytes.len() {
        let joins_the_miss = missed.is_some_and(|m| at == m || (at > m && bytes[at - 1] != b'\\'));
        if joins_the_miss {
            return None;
        }
        if bytes[at] != b'\\' && bytes[at] != first {
            let next = next_of(bytes, at + 1, b'\\', first);
            if next == bytes.len() || missed.is_some_and(|m| m <= next) {
                return None;
            }
            at = next;
            continue;
        }
        if bytes[at..].starts_with(close.as_bytes()) {
            return Some(at + close.len());
        }
        // A backslash pair (`\$`, or `\` inside `\[…\]`) is one unit.
        at += if bytes[at] == b'\\' { 2 } else { 1 };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Remembered misses change no answer: searches from increasing starts
    /// (as `math_spans` makes them) agree with fresh searches.
    #[test]
    fn remembered_misses_agree_with_fresh_searches() {
        const PIECES: &[&str] = &["\\", "]", "\\]", "$", "x", "\\[", "\\\\"];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let text = super::super::scan::soup(&mut state, PIECES, 20);
            for close in ["\\]", "$", "$$"] {
                let mut misses = Misses::default();
                for from in 0..=text.len() {
                    assert_eq!(
                        misses.find(&text, from, close),
                        find_unescaped(&text, from, close, None),
                        "{text:?} {from}"
                    );
                }
            }
        }
    }

    /// The walk a byte (or a backslash pair) at a time, as it was before
    /// the jumps.
    fn find_unescaped_stepwise(text: &str, from: usize, close: &str, missed: Option<usize>) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut at = from;
        while at < bytes.len() {
            if missed.is_some_and(|m| at == m || (at > m && bytes[at - 1] != b'\\')) {
                return None;
            }
            if bytes[at..].starts_with(close.as_bytes()) {
                return Some(at + close.len());
            }
            at += if bytes[at] == b'\\' { 2 } else { 1 };
        }
        None
    }

    /// The jumps change no answer: every start, every remembered miss
    /// (before, at and after the start), every closing delimiter.
    #[test]
    fn jumping_walk_agrees_with_the_stepwise_walk() {
        const PIECES: &[&str] = &["\\", "]", "\\]", "$", "x", "yz", "\\[", "\\\\", ")", "\\)"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            let text = super::super::scan::soup(&mut state, PIECES, 24);
            for close in ["\\]", "\\)", "$", "$$"] {
                for from in 0..=text.len() {
                    for missed in std::iter::once(None).chain((0..=text.len()).map(Some)) {
                        assert_eq!(
                            find_unescaped(&text, from, close, missed),
                            find_unescaped_stepwise(&text, from, close, missed),
                            "{text:?} from {from} close {close:?} missed {missed:?}"
                        );
                    }
                }
            }
        }
    }

    #[rstest]
    #[case::inline("a $x^2$ b", vec!["$x^2$"])]
    #[case::escaped_dollar(r"costs \$5 and $y$", vec!["$y$"])]
    #[case::dollar_inside_math(r"$a\$b$", vec![r"$a\$b$"])]
    #[case::display_dollars("$$ x $$ and $y$", vec!["$$ x $$", "$y$"])]
    #[case::parens(r"\(a\) and \[b\]", vec![r"\(a\)", r"\[b\]"])]
    #[case::line_break_in_display(r"\[a\\b\]", vec![r"\[a\\b\]"])]
    #[case::environment("\\begin{align*}a&=b\\\\c\\end{align*}", vec!["\\begin{align*}a&=b\\\\c\\end{align*}"])]
    #[case::unclosed_dollar("a $ b", vec![])]
    #[case::verbatim_is_not_math("\\begin{verbatim}$x$\\end{verbatim} $y$", vec!["$y$"])]
    fn finds_math(#[case] text: &str, #[case] expected: Vec<&str>) {
        let found: Vec<&str> = math_spans(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, expected);
    }
}

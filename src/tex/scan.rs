//! Byte-level TeX surface syntax shared by every LaTeX rule: control words,
//! balanced groups, optional arguments.
//!
//! Every character TeX treats specially (`\ { } [ ] % $`) is ASCII, and UTF-8
//! never uses ASCII bytes inside a multi-byte sequence, so scanning bytes and
//! slicing only at ASCII positions keeps every `&str` slice valid.

/// Environments whose body TeX reads verbatim: `%` inside is text, not a comment.
pub const VERBATIM_ENVIRONMENTS: &[&str] = &[
    "verbatim",
    "verbatim*",
    "Verbatim",
    "Verbatim*",
    "BVerbatim",
    "lstlisting",
    "minted",
    "filecontents",
    "filecontents*",
];

/// A control sequence found at a backslash: its name and the byte just past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlSeq<'a> {
    /// `input` for `\input`, `%` for `\%`, empty for a backslash at the end of input.
    pub name: &'a str,
    pub end: usize,
}

/// Reads the control sequence whose backslash is at `at`: a run of ASCII
/// letters (a control word) or one other character (a control symbol).
/// With `at_letter`, `@` counts as a letter, as inside `.sty` files.
pub fn control_seq(text: &str, at: usize, at_letter: bool) -> ControlSeq<'_> {
    let bytes = text.as_bytes();
    debug_assert_eq!(bytes.get(at), Some(&b'\\'));
    let start = at + 1;
    let is_letter = |b: u8| b.is_ascii_alphabetic() || (at_letter && b == b'@');
    let mut end = start;
    while end < bytes.len() && is_letter(bytes[end]) {
        end += 1;
    }
    if end == start {
        // A control symbol: one character, which may be multi-byte.
        end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
    }
    ControlSeq { name: &text[start..end], end }
}

/// The first position at or after `from` holding `a` or `b`, or the end of
/// `bytes`. The scanners act only at a few ASCII bytes; jumping between
/// them with a vectorized search instead of stepping every byte halved the
/// comment and math passes.
pub fn next_of(bytes: &[u8], from: usize, a: u8, b: u8) -> usize {
    bytes.get(from..).and_then(|rest| memchr::memchr2(a, b, rest)).map_or(bytes.len(), |i| from + i)
}

/// Bytes the chunked scans ([`next_where`], the whitespace rewrite's pass
/// over kept gaps) test at once: one AVX2 vector, and short enough
/// that a chunk of prose often holds none of the bytes sought.
pub const SCAN_CHUNK: usize = 32;

/// The first position at or after `from` whose byte is `wanted`, or the end
/// of `bytes`: [`next_of`] for a set of more than two bytes. A 32-byte chunk
/// without one is passed by a branch-free test the compiler vectorizes, where
/// a test per byte with an early exit is not (a byte at a time cost the
/// prose mask 3% and the control-character pass 2% of a prepare run).
pub fn next_where(bytes: &[u8], from: usize, wanted: impl Fn(u8) -> bool) -> usize {
    let mut at = from.min(bytes.len());
    for chunk in bytes[at..].chunks(SCAN_CHUNK) {
        if chunk.iter().fold(false, |any, &b| any | wanted(b)) {
            return at + chunk.iter().position(|&b| wanted(b)).unwrap_or(0);
        }
        at += chunk.len();
    }
    bytes.len()
}

/// Where the first `byte` (ASCII) of `text` is. `str::find(char)` searches
/// short gaps a byte at a time, and the gaps between a paper's backslashes
/// are short: memchr's vectorized search took the include, macro and
/// command scans' share of a prepare run from 3.7% to under 1%.
pub fn find_byte(text: &str, byte: u8) -> Option<usize> {
    debug_assert!(byte.is_ascii(), "a non-ASCII byte is not a char");
    memchr::memchr(byte, text.as_bytes())
}

/// True when `name` is a control word (letters), not a control symbol.
pub fn is_word(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

/// Skips spaces and tabs, and at most one newline (a blank line is a
/// paragraph break, which ends an argument search in TeX).
pub fn skip_blanks(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut newlines = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\r' => at += 1,
            b'\n' if newlines == 0 => {
                newlines += 1;
                at += 1
            }
            _ => break,
        }
    }
    at
}

/// Given `{` at `open`, returns the byte just past its matching `}`, or
/// `None` when the group never closes. `\{` and `\}` do not count.
pub fn group_end(text: &str, open: usize) -> Option<usize> {
    if text.as_bytes().get(open) != Some(&b'{') {
        return None;
    }
    index::lookup(text, |ix| ix.delimited_end(text, open, b'{', b'}'))
        .unwrap_or_else(|| delimited_end(text, open, b'{', b'}'))
}

/// Given `[` at `open`, returns the byte just past the matching `]`; a `]`
/// inside braces does not close it (`\cite[{a]b}]{k}`).
pub fn optional_end(text: &str, open: usize) -> Option<usize> {
    if text.as_bytes().get(open) != Some(&b'[') {
        return None;
    }
    index::lookup(text, |ix| ix.delimited_end(text, open, b'[', b']'))
        .unwrap_or_else(|| delimited_end(text, open, b'[', b']'))
}

fn delimited_end(text: &str, open: usize, left: u8, right: u8) -> Option<usize> {
    delimited_end_within(text, open, left, right, usize::MAX).and_then(|(end, _)| end)
}

/// The scan behind [`group_end`] and [`optional_end`], giving up (`None`)
/// once it has walked more than `budget` bytes; otherwise the answer and the
/// bytes walked.
fn delimited_end_within(
    text: &str,
    open: usize,
    left: u8,
    right: u8,
    budget: usize,
) -> Option<(Option<usize>, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&left) {
        return Some((None, 0));
    }
    let mut braces = 0usize;
    let mut at = open + 1;
    while at < bytes.len() {
        if at - open > budget {
            return None;
        }
        match bytes[at] {
            b'\\' => at += 1,
            b'{' => braces += 1,
            b'}' if braces > 0 => braces -= 1,
            b'}' if left == b'{' => return Some((Some(at + 1), at - open)),
            b'}' => return Some((None, at - open)),
            b if b == right && braces == 0 => return Some((Some(at + 1), at - open)),
            _ => {}
        }
        at += 1;
    }
    Some((None, at - open))
}

/// The text inside `{…}` starting at `open`, and the byte past the group.
pub fn group_content(text: &str, open: usize) -> Option<(&str, usize)> {
    let end = group_end(text, open)?;
    Some((&text[open + 1..end - 1], end))
}

/// The name in `\begin{name}` / `\end{name}` when `at` points at its `{`.
pub fn environment_name(text: &str, open: usize) -> Option<(&str, usize)> {
    let (name, end) = group_content(text, open)?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'-' || b == b'_');
    valid.then_some((name, end))
}

/// Finds `\end{name}` at or after `from`, returning its start and the byte past it.
pub fn find_end(text: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let needle = format!("\\end{{{name}}}");
    let search = || text[from..].find(&needle).map(|i| (from + i, from + i + needle.len()));
    index::lookup(text, |ix| ix.find_end(from, &needle, search)).unwrap_or_else(search)
}

pub use index::indexed;

/// Linear-time answers for the scans above, per text.
///
/// Each scan is linear on its own, but the rules call them at every
/// candidate: 100,000 unclosed `\cite{` or `\begin{equation}` in a 1 MB
/// paper made every call run to the end of the text, quadratic in all. A
/// pass that calls them over one text wraps itself in [`indexed`]; inside,
/// calls on that same text are answered from tables built in one backward
/// pass (brace matching) or from remembered searches (`\end{…}`), with
/// exactly the answers of the plain scans. Calls on any other text (a slice,
/// a replacement text) scan as before.
///
/// The tables cost a pass and 8 bytes per byte of text, while most texts
/// only ask about short groups (`\cite{key}`): so the plain scans answer
/// until they have walked as many bytes as the text holds, and only then
/// are the tables built. Work stays linear (at most twice the text before
/// the tables, one pass to build them, constant time after), and a paper
/// without pathological groups never pays for the tables.
mod index {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;

    const NONE: u32 = u32::MAX;

    /// A search for `\\end{name}`: where it started and what it found.
    type EndSearch = (usize, Option<(usize, usize)>);

    pub struct TextIndex {
        ptr: usize,
        len: usize,
        /// Bytes the plain brace scans have walked on this text so far.
        walked: Cell<usize>,
        /// Built once `walked` reaches `len`.
        tables: RefCell<Option<Tables>>,
        /// Per `\end{name}` needle: the last search's start and answer.
        ends: RefCell<HashMap<String, EndSearch>>,
    }

    /// For each position `p` (as the delimiter scans reach it; a backslash
    /// takes the next byte with it): `close[p]`, the first `}` at brace depth
    /// zero from `p`, and `stop[p]`, the first `]` or `}` at depth zero;
    /// `NONE` when a `{` on the way never closes or the text ends first.
    struct Tables {
        close: Vec<u32>,
        stop: Vec<u32>,
    }

    impl Tables {
        fn build(bytes: &[u8]) -> Self {
            let n = bytes.len();
            let mut close = vec![NONE; n + 2];
            let mut stop = vec![NONE; n + 2];
            for p in (0..n).rev() {
                let (c, s) = match bytes[p] {
                    b'\\' => (close[p + 2], stop[p + 2]),
                    b'}' => (p as u32, p as u32),
                    b']' => (close[p + 1], p as u32),
                    b'{' => match close[p + 1] {
                        NONE => (NONE, NONE),
                        m => (close[m as usize + 1], stop[m as usize + 1]),
                    },
                    _ => (close[p + 1], stop[p + 1]),
                };
                close[p] = c;
                stop[p] = s;
            }
            Self { close, stop }
        }
    }

    impl TextIndex {
        /// [`super::delimited_end`] for `{` or `[` at `open`: scanned while
        /// the budget lasts, from the tables after.
        pub fn delimited_end(&self, text: &str, open: usize, left: u8, right: u8) -> Option<usize> {
            let mut tables = self.tables.borrow_mut();
            if tables.is_none() {
                let budget = self.len.saturating_sub(self.walked.get());
                if let Some((end, walked)) = super::delimited_end_within(text, open, left, right, budget) {
                    self.walked.set(self.walked.get() + walked);
                    return end;
                }
            }
            if text.as_bytes().get(open) != Some(&left) {
                return None;
            }
            let t = tables.get_or_insert_with(|| Tables::build(text.as_bytes()));
            let found = if left == b'{' { t.close[open + 1] } else { t.stop[open + 1] };
            match found {
                NONE => None,
                x if text.as_bytes()[x as usize] == right => Some(x as usize + 1),
                _ => None,
            }
        }

        #[cfg(test)]
        pub fn has_tables(&self) -> bool {
            self.tables.borrow().is_some()
        }

        /// A search from `from` repeats an earlier one from `start` when
        /// `from` lies between that start and its answer (or the end of the
        /// text, when there was none).
        pub fn find_end(
            &self,
            from: usize,
            needle: &str,
            search: impl FnOnce() -> Option<(usize, usize)>,
        ) -> Option<(usize, usize)> {
            let mut ends = self.ends.borrow_mut();
            if let Some(&(start, answer)) = ends.get(needle) {
                let reach = answer.map_or(usize::MAX, |(at, _)| at);
                if start <= from && from <= reach {
                    return answer;
                }
            }
            let answer = search();
            ends.insert(needle.to_string(), (from, answer));
            answer
        }
    }

    thread_local! {
        static SCOPES: RefCell<Vec<Rc<TextIndex>>> = const { RefCell::new(Vec::new()) };
    }

    /// Runs `f` with the scans on `text` answered from its index.
    pub fn indexed<R>(text: &str, f: impl FnOnce() -> R) -> R {
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                SCOPES.with(|s| s.borrow_mut().pop());
            }
        }
        let (ptr, len) = (text.as_ptr() as usize, text.len());
        let reuse =
            SCOPES.with(|s| s.borrow().iter().rev().find(|ix| ix.ptr == ptr && ix.len == len).cloned());
        let index = reuse.unwrap_or_else(|| {
            Rc::new(TextIndex {
                ptr,
                len,
                walked: Cell::new(0),
                tables: RefCell::new(None),
                ends: RefCell::new(HashMap::new()),
            })
        });
        SCOPES.with(|s| s.borrow_mut().push(index));
        let _pop = Pop;
        f()
    }

    /// `f`'s answer from the index of `text` when a scope holds it. The
    /// text is borrowed for the whole scope, so an index matching its
    /// address and length is an index of these very bytes.
    pub fn lookup<R>(text: &str, f: impl FnOnce(&TextIndex) -> R) -> Option<R> {
        if text.is_empty() || text.len() >= NONE as usize - 2 {
            return None;
        }
        let (ptr, len) = (text.as_ptr() as usize, text.len());
        let index =
            SCOPES.with(|s| s.borrow().iter().rev().find(|ix| ix.ptr == ptr && ix.len == len).cloned())?;
        Some(f(&index))
    }
}

/// For the rules' property tests: up to `max_pieces` of `pieces` joined,
/// drawn with xorshift from `state` (fixed seeds keep the tests repeatable).
#[cfg(test)]
pub(crate) fn soup(state: &mut u64, pieces: &[&str], max_pieces: u64) -> String {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let len = next() % (max_pieces + 1);
    (0..len).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The chunked search finds what a byte-at-a-time search finds, from
    /// every start, with wanted bytes on and across chunk edges.
    #[test]
    fn next_where_agrees_with_a_bytewise_search() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let wanted = |b: u8| matches!(b, b'\\' | b'{' | b'~');
        for _ in 0..500 {
            let text =
                soup(&mut state, &["x", "abcdefghijklmnopqrstuvwxyz0123456789", "\\", "{", "~", "é"], 12);
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() + 1 {
                let bytewise = bytes
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|&(_, &b)| wanted(b))
                    .map_or(bytes.len(), |(i, _)| i);
                assert_eq!(next_where(bytes, from, wanted), bytewise, "{text:?} from {from}");
            }
        }
    }

    #[rstest]
    #[case::word(r"\input{a}", false, "input", 6)]
    #[case::symbol(r"\%x", false, "%", 2)]
    #[case::double_backslash(r"\\%", false, "\\", 2)]
    #[case::at_is_other(r"\foo@bar", false, "foo", 4)]
    #[case::at_is_letter(r"\foo@bar", true, "foo@bar", 8)]
    #[case::multibyte_symbol("\\é", false, "é", 3)]
    #[case::at_end("\\", false, "", 1)]
    fn reads_control_sequences(
        #[case] text: &str,
        #[case] at_letter: bool,
        #[case] name: &str,
        #[case] end: usize,
    ) {
        assert_eq!(control_seq(text, 0, at_letter), ControlSeq { name, end });
    }

    #[rstest]
    #[case::first_of_either("ab%c\\d", 0, 2)]
    #[case::at_from("ab%c", 2, 2)]
    #[case::after_from(r"a\b%", 2, 3)]
    #[case::none_left("abc", 1, 3)]
    #[case::from_past_the_end("abc", 7, 3)]
    fn jumps_to_the_next_special_byte(#[case] text: &str, #[case] from: usize, #[case] want: usize) {
        assert_eq!(next_of(text.as_bytes(), from, b'%', b'\\'), want);
    }

    #[rstest]
    #[case::flat("{ab}c", Some(4))]
    #[case::nested("{a{b}c}d", Some(7))]
    #[case::escaped_brace(r"{a\}b}c", Some(6))]
    #[case::unclosed("{a{b}", None)]
    fn matches_braces(#[case] text: &str, #[case] end: Option<usize>) {
        assert_eq!(group_end(text, 0), end);
    }

    /// Inside [`indexed`], every answer equals the plain scan's, for every
    /// start position of arbitrary bracket soup (escapes included).
    #[test]
    fn indexed_answers_equal_the_plain_scans() {
        const PIECES: &[&str] = &["{", "}", "[", "]", "\\", "x", "\\{", "\\end{a}", "é"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let text = soup(&mut state, PIECES, 30);
            let positions: Vec<usize> = (0..text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            let plain: Vec<_> = positions
                .iter()
                .map(|&i| {
                    let ends = text[i..].find("\\end{a}").map(|k| (i + k, i + k + 7));
                    (delimited_end(&text, i, b'{', b'}'), delimited_end(&text, i, b'[', b']'), ends)
                })
                .collect();
            indexed(&text, || {
                for (&i, want) in positions.iter().zip(&plain) {
                    let got = (group_end(&text, i), optional_end(&text, i), find_end(&text, i, "a"));
                    assert_eq!(&got, want, "{text:?} at {i}");
                }
            });
        }
    }

    /// Short groups are answered by the plain scans and never pay for the
    /// tables; groups that run on make the scans walk the text, and then the
    /// tables take over.
    #[test]
    fn tables_are_built_only_once_the_scans_have_walked_the_text() {
        let short = r"\cite{a} and \ref{b}. ".repeat(200);
        indexed(&short, || {
            let ends: Vec<_> = short.match_indices('{').map(|(i, _)| group_end(&short, i)).collect();
            assert!(ends.iter().all(Option::is_some));
            assert_eq!(index::lookup(&short, |ix| ix.has_tables()), Some(false));
        });
        let unclosed = r"\cite{".repeat(200);
        indexed(&unclosed, || {
            assert!(unclosed.match_indices('{').all(|(i, _)| group_end(&unclosed, i).is_none()));
            assert_eq!(index::lookup(&unclosed, |ix| ix.has_tables()), Some(true));
        });
    }

    #[rstest]
    #[case::flat("[p. 3]{k}", Some(6))]
    #[case::bracket_in_braces("[{a]b}]{k}", Some(7))]
    #[case::unclosed("[abc", None)]
    fn matches_brackets(#[case] text: &str, #[case] end: Option<usize>) {
        assert_eq!(optional_end(text, 0), end);
    }
}

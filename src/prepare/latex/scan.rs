//! Byte-level TeX surface syntax shared by every LaTeX rule: control words,
//! balanced groups, optional arguments.
//!
//! Every character TeX treats specially (`\ { } [ ] % $`) is ASCII, and UTF-8
//! never uses ASCII bytes inside a multi-byte sequence, so scanning bytes and
//! slicing only at ASCII positions keeps every `&str` slice valid.

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
    delimited_end(text, open, b'{', b'}')
}

/// Given `[` at `open`, returns the byte just past the matching `]`; a `]`
/// inside braces does not close it (`\cite[{a]b}]{k}`).
pub fn optional_end(text: &str, open: usize) -> Option<usize> {
    delimited_end(text, open, b'[', b']')
}

fn delimited_end(text: &str, open: usize, left: u8, right: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(open) != Some(&left) {
        return None;
    }
    let mut braces = 0usize;
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 1,
            b'{' => braces += 1,
            b'}' if braces > 0 => braces -= 1,
            b'}' if left == b'{' => return Some(at + 1),
            b'}' => return None,
            b if b == right && braces == 0 => return Some(at + 1),
            _ => {}
        }
        at += 1;
    }
    None
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
    text[from..].find(&needle).map(|i| (from + i, from + i + needle.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

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
    #[case::flat("{ab}c", Some(4))]
    #[case::nested("{a{b}c}d", Some(7))]
    #[case::escaped_brace(r"{a\}b}c", Some(6))]
    #[case::unclosed("{a{b}", None)]
    fn matches_braces(#[case] text: &str, #[case] end: Option<usize>) {
        assert_eq!(group_end(text, 0), end);
    }

    #[rstest]
    #[case::flat("[p. 3]{k}", Some(6))]
    #[case::bracket_in_braces("[{a]b}]{k}", Some(7))]
    #[case::unclosed("[abc", None)]
    fn matches_brackets(#[case] text: &str, #[case] end: Option<usize>) {
        assert_eq!(optional_end(text, 0), end);
    }
}

//! TeX-aware comment stripping (the first pass of `cleaner: tex`).
//!
//! The released scripts delete `%.*`, which also eats everything after an
//! escaped `\%` ("50\% of the data" loses the rest of the line) and inside
//! URLs and verbatim code. Here the source is split into spans the way TeX's
//! reader sees it: code, verbatim material (where `%` is an ordinary
//! character) and comments. Include resolution reuses the same spans so a
//! commented-out `\input` is never followed.

use std::ops::Range;

use crate::tex::scan::{
    control_seq, environment_name, find_byte, find_end, group_end, indexed, next_of, optional_end,
    skip_blanks, VERBATIM_ENVIRONMENTS,
};
use crate::tex::watchdog;

/// What a span of source is to TeX's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Ordinary LaTeX: commands here take effect.
    Code,
    /// Verbatim material (`verbatim`, `\verb|…|`, `\url{…}`): kept as written.
    Verbatim,
    /// Never typeset: `%` comments, `comment` environments, `\iffalse … \fi`.
    Comment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub kind: SpanKind,
    pub range: Range<usize>,
}

/// Removes comments as TeX would, keeping verbatim material intact.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for span in tex_spans(text) {
        if span.kind != SpanKind::Comment {
            out.push_str(&text[span.range]);
        }
    }
    out
}

/// Splits `text` into code, verbatim and comment spans covering it exactly.
pub fn tex_spans(text: &str) -> Vec<Span> {
    indexed(text, || spans_of(text))
}

fn spans_of(text: &str) -> Vec<Span> {
    let mut spans = SpanList::default();
    let mut verb_misses = VerbMisses::default();
    let bytes = text.as_bytes();
    let mut pending_fis: Vec<usize> = Vec::new();
    let mut code_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if watchdog::expired() {
            break;
        }
        let special = match bytes[at] {
            b'%' => Some((SpanKind::Comment, line_comment_end(text, at))),
            b'\\' => {
                let cs = control_seq(text, at, false);
                if cs.name == "fi" && pending_fis.last() == Some(&at) {
                    // The `\fi` closing an `\iffalse … \else` whose else branch we kept.
                    pending_fis.pop();
                    Some((SpanKind::Comment, cs.end))
                } else if let Some((end, fi)) = false_conditional_end(text, cs.name, cs.end) {
                    pending_fis.extend(fi);
                    Some((SpanKind::Comment, end))
                } else {
                    verbatim_command_end(text, cs.name, cs.end, &mut verb_misses)
                        .map(|end| (SpanKind::Verbatim, end))
                        .or_else(|| special_environment_end(text, cs.name, cs.end))
                        .or(Some((SpanKind::Code, cs.end)))
                }
            }
            _ => None,
        };
        match special {
            Some((SpanKind::Code, end)) => at = end.max(at + 1),
            Some((kind, end)) => {
                spans.push(SpanKind::Code, code_start..at);
                spans.push(kind, at..end);
                at = end.max(at + 1);
                code_start = at;
            }
            None => at = next_of(bytes, at + 1, b'%', b'\\'),
        }
    }
    spans.push(SpanKind::Code, code_start..bytes.len().max(code_start));
    spans.0
}

#[derive(Default)]
struct SpanList(Vec<Span>);

impl SpanList {
    /// Appends a span, merging it into the previous one of the same kind.
    fn push(&mut self, kind: SpanKind, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.kind == kind && last.range.end == range.start => last.range.end = range.end,
            _ => self.0.push(Span { kind, range }),
        }
    }
}

/// End of a `%` comment. TeX drops the rest of the line, the newline and the
/// next line's leading spaces, so `word%\nfollows` reads as `wordfollows`.
/// When the next line is blank we keep the newline: TeX still sees that
/// blank line as a paragraph break, and eating the newline would merge the
/// two paragraphs in our text.
fn line_comment_end(text: &str, percent: usize) -> usize {
    let bytes = text.as_bytes();
    let Some(newline) = find_byte(&text[percent..], b'\n').map(|i| percent + i) else {
        return bytes.len();
    };
    let mut next = newline + 1;
    while next < bytes.len() && matches!(bytes[next], b' ' | b'\t') {
        next += 1;
    }
    let next_line_blank = next < bytes.len() && matches!(bytes[next], b'\n' | b'\r');
    if next_line_blank {
        // Keep a `\r` that precedes the newline with it (CRLF files).
        if newline > percent && bytes[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        }
    } else {
        next
    }
}

/// `\verb|…|` (any delimiter), `\lstinline`, `\url{…}` and the URL of
/// `\href{…}{text}`: their argument is read verbatim, so `%` there is text
/// (`\url{http://x.org/a%20b}` in countless bibliographies).
fn verbatim_command_end(text: &str, name: &str, after: usize, misses: &mut VerbMisses) -> Option<usize> {
    let bytes = text.as_bytes();
    match name {
        "verb" | "lstinline" => {
            let mut at = after;
            if bytes.get(at) == Some(&b'*') {
                at += 1;
            }
            if bytes.get(at) == Some(&b'[') {
                at = optional_end(text, at)?;
            }
            let delimiter = *bytes.get(at)?;
            if delimiter == b'{' {
                return group_end(text, at);
            }
            // A non-ASCII delimiter is not something LaTeX accepts either.
            if !delimiter.is_ascii() || delimiter.is_ascii_alphabetic() || delimiter.is_ascii_whitespace() {
                return None;
            }
            misses.find(text, at + 1, delimiter)
        }
        "url" | "href" => {
            let open = skip_blanks(text, after);
            (bytes.get(open) == Some(&b'{')).then(|| group_end(text, open)).flatten()
        }
        _ => None,
    }
}

/// Where `\verb`'s closing delimiter was last looked for in vain, per
/// delimiter: from that start to the end of its line there is none, so a
/// later `\verb` on the same line needs no second search (a line of
/// 100,000 `\verb!` otherwise searched to its end 100,000 times).
#[derive(Default)]
struct VerbMisses(std::collections::HashMap<u8, std::ops::Range<usize>>);

impl VerbMisses {
    /// The byte past the first `delimiter` from `from` on the same line.
    fn find(&mut self, text: &str, from: usize, delimiter: u8) -> Option<usize> {
        if self.0.get(&delimiter).is_some_and(|miss| miss.contains(&from) || miss.end == from) {
            return None;
        }
        let bytes = text.as_bytes();
        let found = bytes[from..].iter().position(|&b| b == delimiter || b == b'\n').map(|i| from + i);
        match found {
            Some(at) if bytes[at] == delimiter => Some(at + 1),
            other => {
                self.0.insert(delimiter, from..other.unwrap_or(bytes.len()));
                None
            }
        }
    }
}

/// `\begin{verbatim}` and friends run verbatim to their `\end`; a `comment`
/// environment (the `comment` package) is never typeset.
fn special_environment_end(text: &str, name: &str, after: usize) -> Option<(SpanKind, usize)> {
    if name != "begin" {
        return None;
    }
    let open = skip_blanks(text, after);
    let (env, body) = environment_name(text, open)?;
    let kind = if env == "comment" {
        SpanKind::Comment
    } else if VERBATIM_ENVIRONMENTS.contains(&env) {
        SpanKind::Verbatim
    } else {
        return None;
    };
    // An unterminated verbatim runs to the end of the file, as in TeX.
    let end = find_end(text, body, env).map_or(text.len(), |(_, end)| end);
    Some((kind, end))
}

/// For `\iffalse` and `\if0`, the end of the skipped text and, when an
/// `\else` branch is kept, the position of the `\fi` that closes it.
/// Authors park whole sections inside `\iffalse … \fi`; TeX matches
/// conditionals by nesting, so `\ifx…\fi` inside does not end the block.
fn false_conditional_end(text: &str, name: &str, after: usize) -> Option<(usize, Option<usize>)> {
    let bytes = text.as_bytes();
    let is_false = match name {
        "iffalse" => true,
        // `\if0` compares `0` with the next token: false unless that is `0` too.
        "if" => {
            let first = skip_blanks(text, after);
            bytes.get(first) == Some(&b'0') && bytes.get(first + 1) != Some(&b'0')
        }
        _ => false,
    };
    if !is_false {
        return None;
    }
    match conditional_branch_end(text, after, true)? {
        (end, BranchEnd::Fi) => Some((end, None)),
        (end, BranchEnd::Else) => {
            let fi = conditional_branch_end(text, end, false).and_then(|(fi_end, _)| fi_start(text, fi_end));
            Some((end, fi))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchEnd {
    Fi,
    Else,
}

/// Scans a conditional branch from `from` to the `\fi` (or, with
/// `stop_at_else`, an `\else`) of nesting depth one; returns the byte past it.
/// An unterminated `\iffalse` skips to the end of the file, as TeX does.
fn conditional_branch_end(text: &str, from: usize, stop_at_else: bool) -> Option<(usize, BranchEnd)> {
    let bytes = text.as_bytes();
    let mut depth = 1usize;
    let mut at = from;
    let mut previous = "";
    while at < bytes.len() {
        match bytes[at] {
            b'%' => at = find_byte(&text[at..], b'\n').map_or(bytes.len(), |i| at + i),
            b'\\' => {
                let cs = control_seq(text, at, false);
                match cs.name {
                    "fi" => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((cs.end, BranchEnd::Fi));
                        }
                    }
                    "else" if depth == 1 && stop_at_else => return Some((cs.end, BranchEnd::Else)),
                    // `\newif\iffoo` declares a conditional; it opens nothing.
                    name if is_conditional(name) && previous != "newif" => depth += 1,
                    _ => {}
                }
                previous = cs.name;
                at = cs.end.max(at + 1);
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    Some((bytes.len(), BranchEnd::Fi))
}

/// Primitive and `\newif` conditionals (`\ifx`, `\ifnum`, `\ifdraft`), but
/// not LaTeX commands that merely start with "if" (`\ifthenelse`).
fn is_conditional(name: &str) -> bool {
    name.starts_with("if") && name != "ifthenelse" && name != "ifstrequal"
}

/// Start of the `\fi` that ends at `fi_end`.
fn fi_start(text: &str, fi_end: usize) -> Option<usize> {
    let start = fi_end.checked_sub(3)?;
    (text.get(start..fi_end) == Some("\\fi")).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain_comment("text % note\nmore", "text more")]
    #[case::comment_at_end_of_line_joins_words("hyphen-%\nated", "hyphen-ated")]
    #[case::comment_eats_next_indent("a%\n    b", "ab")]
    #[case::comment_before_blank_line_keeps_paragraph("a % x\n\nb", "a \n\nb")]
    #[case::comment_at_end_of_file("a % x", "a ")]
    #[case::whole_line_comment("a\n% drop me\nb", "a\nb")]
    #[case::escaped_percent("50\\% of data % note\nnext", "50\\% of data next")]
    #[case::line_break_then_comment("row \\\\% note\nnext", "row \\\\next")]
    #[case::percent_in_url("\\url{http://x.org/a%20b} ok", "\\url{http://x.org/a%20b} ok")]
    #[case::percent_in_href("\\href{http://x.org/%7Eme}{home} % c\n", "\\href{http://x.org/%7Eme}{home} ")]
    #[case::percent_in_verb("\\verb|a%b| c % d\n", "\\verb|a%b| c ")]
    #[case::percent_in_verb_other_delimiter("\\verb+%+ x", "\\verb+%+ x")]
    #[case::percent_in_verbatim(
        "\\begin{verbatim}\nx % y\n\\end{verbatim}% z\nw",
        "\\begin{verbatim}\nx % y\n\\end{verbatim}w"
    )]
    #[case::percent_in_lstlisting(
        "\\begin{lstlisting}[language=C]\nprintf(\"%d\");\n\\end{lstlisting}",
        "\\begin{lstlisting}[language=C]\nprintf(\"%d\");\n\\end{lstlisting}"
    )]
    #[case::percent_in_minted(
        "\\begin{minted}{python}\n'%s' % x\n\\end{minted}",
        "\\begin{minted}{python}\n'%s' % x\n\\end{minted}"
    )]
    #[case::comment_environment("a\\begin{comment}\nsecret\n\\end{comment}b", "ab")]
    #[case::iffalse_block("a\\iffalse old draft \\fi b", "a b")]
    #[case::iffalse_nested("a\\iffalse x \\ifx\\a\\b y \\fi z \\fi b", "a b")]
    #[case::iffalse_commented_fi("a\\iffalse x % \\fi\n y \\fi b", "a b")]
    #[case::iffalse_else_keeps_else_branch("a\\iffalse x\\else y\\fi b", "a y b")]
    #[case::if0_block("a\\if0 x \\fi b", "a b")]
    #[case::if00_is_true("a\\if00 x \\fi b", "a\\if00 x \\fi b")]
    #[case::ifthenelse_is_not_a_conditional("\\iffalse \\ifthenelse{a}{b}{c} \\fi x", " x")]
    #[case::newif_inside_iffalse("\\iffalse \\newif\\ifdraft \\fi x", " x")]
    #[case::commented_input("% \\input{old}\n\\input{new}", "\\input{new}")]
    fn strips_comments_as_tex_does(#[case] source: &str, #[case] expected: &str) {
        assert_eq!(strip_comments(source), expected);
    }

    #[test]
    fn spans_cover_the_source_exactly() {
        let source = "a % c\n\\verb|%| \\begin{comment}x\\end{comment} \\iffalse y\\fi z";
        let spans = tex_spans(source);
        let mut at = 0;
        for span in &spans {
            assert_eq!(span.range.start, at);
            at = span.range.end;
        }
        assert_eq!(at, source.len());
        assert!(spans.iter().any(|s| s.kind == SpanKind::Verbatim));
    }
}

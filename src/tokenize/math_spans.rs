//! Where the math is in raw LaTeX text: `$…$`, `$$…$$`, `\(…\)`, `\[…\]` and
//! the display environments. The symbol-stability metrics split every count
//! into math and prose by these spans.

use std::ops::Range;

/// Environments whose body is math (starred forms included).
pub const MATH_ENVIRONMENTS: [&str; 11] = [
    "equation",
    "align",
    "gather",
    "multline",
    "eqnarray",
    "flalign",
    "alignat",
    "displaymath",
    "math",
    "split",
    "dmath",
];

/// One math span: `outer` includes the delimiters, `inner` is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MathSpan {
    pub outer: Range<usize>,
    pub inner: Range<usize>,
}

/// The math spans of `text`, in order, non-overlapping. An opening delimiter
/// without its closing one is not math (a stray `$`, as in "costs $5", must not
/// turn the rest of the paper into math).
pub fn math_spans(text: &str) -> Vec<MathSpan> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let found = match b[i] {
            b'\\' => backslash_math(text, i),
            b'$' => dollar_math(text, i),
            _ => None,
        };
        match found {
            Some(span) => {
                i = span.outer.end;
                spans.push(span);
            }
            // `\$` and `\\` are escapes, not delimiters: skip the escaped byte too.
            None if b[i] == b'\\' => i += 2,
            None => i += 1,
        }
    }
    spans
}

/// `\(…\)`, `\[…\]` or `\begin{env}…\end{env}` for a math environment.
fn backslash_math(text: &str, at: usize) -> Option<MathSpan> {
    let rest = &text[at..];
    if rest.starts_with("\\(") {
        return delimited(text, at, "\\(", "\\)");
    }
    if rest.starts_with("\\[") {
        return delimited(text, at, "\\[", "\\]");
    }
    let name = rest.strip_prefix("\\begin{")?.split('}').next()?;
    let base = name.strip_suffix('*').unwrap_or(name);
    if !MATH_ENVIRONMENTS.contains(&base) {
        return None;
    }
    let open = format!("\\begin{{{name}}}");
    let close = format!("\\end{{{name}}}");
    delimited(text, at, &open, &close)
}

/// `$$…$$` or `$…$`.
fn dollar_math(text: &str, at: usize) -> Option<MathSpan> {
    if text[at..].starts_with("$$") {
        delimited(text, at, "$$", "$$")
    } else {
        delimited(text, at, "$", "$")
    }
}

fn delimited(text: &str, at: usize, open: &str, close: &str) -> Option<MathSpan> {
    let body = at + open.len();
    let end = find_closing(text, body, close)?;
    Some(MathSpan { outer: at..end + close.len(), inner: body..end })
}

/// Start of the first unescaped `close` at or after `from`. Inline `$` math
/// never crosses a blank line: LaTeX itself rejects a paragraph break there.
fn find_closing(text: &str, from: usize, close: &str) -> Option<usize> {
    // Byte-wise: delimiters are ASCII, and an ASCII byte never occurs inside a
    // multi-byte UTF-8 character, so every match is on a character boundary.
    let b = text.as_bytes();
    let close = close.as_bytes();
    let inline = close == b"$";
    let mut j = from;
    while j < b.len() {
        if b[j..].starts_with(close) {
            return Some(j);
        }
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        if inline && b[j..].starts_with(b"\n\n") {
            return None;
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn outer(text: &str) -> Vec<&str> {
        math_spans(text).into_iter().map(|s| &text[s.outer]).collect()
    }

    #[rstest]
    #[case::inline("a $x^2$ b", vec!["$x^2$"])]
    #[case::display("$$\\int f$$ and $y$", vec!["$$\\int f$$", "$y$"])]
    #[case::parens("so \\(a+b\\) and \\[c\\]", vec!["\\(a+b\\)", "\\[c\\]"])]
    #[case::escaped_dollar("costs \\$5 and $x$", vec!["$x$"])]
    #[case::stray_dollar("costs $5\n\nnext $x$", vec!["$x$"])]
    #[case::unclosed("a $x", vec![])]
    #[case::align("\\begin{align*}a&=b\\end{align*} t", vec!["\\begin{align*}a&=b\\end{align*}"])]
    #[case::not_math_env("\\begin{itemize}$a$\\end{itemize}", vec!["$a$"])]
    #[case::escaped_dollar_inside("$a\\$b$", vec!["$a\\$b$"])]
    #[case::unicode("é $α$ ü", vec!["$α$"])]
    fn finds_math_spans(#[case] text: &str, #[case] expected: Vec<&str>) {
        assert_eq!(outer(text), expected);
    }

    #[test]
    fn inner_excludes_delimiters() {
        let text = "\\begin{equation}x\\end{equation}";
        let span = &math_spans(text)[0];
        assert_eq!(&text[span.inner.clone()], "x");
    }
}

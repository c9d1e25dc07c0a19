//! Configurable environment and command drops (`drop_environments`,
//! `drop_commands`): figures, tables, citations, labels, footnotes.
//!
//! The released regex `\\cite\{[^}]*\}` stops at the first `}`, so
//! `\footnote{see \cite{x} here}` leaves `here}` behind; these rules match
//! braces at any depth. Math is kept verbatim: a drop never reaches inside
//! `$…$` or an equation.

use super::math::math_spans;
use super::scan::{control_seq, environment_name, group_end, optional_end, skip_blanks};

/// Removes each `\begin{name}…\end{name}` for `name` in `names` (nesting of
/// the same environment respected). An environment that never ends is kept:
/// dropping to the end of the paper would lose more than it cleans.
pub fn drop_environments(text: &str, names: &[String]) -> String {
    if names.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find("\\begin") {
        let start = at + offset;
        let cs = control_seq(text, start, false);
        at = cs.end;
        if cs.name != "begin" {
            continue;
        }
        let Some((env, body)) = environment_name(text, skip_blanks(text, cs.end)) else {
            continue;
        };
        if !names.iter().any(|n| n == env) {
            continue;
        }
        if let Some(end) = matching_end(text, body, env) {
            out.push_str(&text[copied..start]);
            copied = end;
            at = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte past the `\end{env}` that closes an environment whose body
/// starts at `from`, counting nested `\begin{env}`.
fn matching_end(text: &str, from: usize, env: &str) -> Option<usize> {
    let begin = format!("\\begin{{{env}}}");
    let end = format!("\\end{{{env}}}");
    let mut depth = 1usize;
    let mut at = from;
    loop {
        let next_end = at + text[at..].find(&end)?;
        let next_begin = text[at..next_end].find(&begin).map(|i| at + i);
        match next_begin {
            Some(b) => {
                depth += 1;
                at = b + begin.len();
            }
            None => {
                depth -= 1;
                at = next_end + end.len();
                if depth == 0 {
                    return Some(at);
                }
            }
        }
    }
}

/// Removes `\name`, `\name*` and their arguments (`[…]` and `{…}` groups
/// directly after it, braces balanced at any depth) for `name` in `names`,
/// outside math. A command whose argument never closes is kept.
pub fn drop_commands(text: &str, names: &[String]) -> String {
    if names.is_empty() {
        return text.to_string();
    }
    let math = math_spans(text);
    let mut math = math.iter().peekable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find('\\') {
        let start = at + offset;
        while math.peek().is_some_and(|m| m.end <= start) {
            math.next();
        }
        if let Some(m) = math.peek().filter(|m| m.start <= start) {
            at = m.end;
            continue;
        }
        let cs = control_seq(text, start, false);
        at = cs.end.max(start + 1);
        if !names.iter().any(|n| n == cs.name) {
            continue;
        }
        if let Some(end) = command_end(text, cs.end) {
            out.push_str(&text[copied..start]);
            copied = end;
            at = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// End of a command's star and arguments, starting right after its name.
/// Spaces may precede the first argument (`\cite {k}`); later arguments
/// must follow directly, so `\label{x} {\bf y}` keeps `{\bf y}`.
fn command_end(text: &str, after: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = after;
    if bytes.get(at) == Some(&b'*') {
        at += 1;
    }
    let first = skip_blanks(text, at);
    if matches!(bytes.get(first), Some(b'{' | b'[')) {
        at = first;
    }
    loop {
        at = match bytes.get(at) {
            Some(b'{') => group_end(text, at)?,
            Some(b'[') => optional_end(text, at)?,
            _ => return Some(at),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[rstest]
    #[case::figure("a\\begin{figure}[t]x\\end{figure}b", &["figure"], "ab")]
    #[case::starred_name("a\\begin{table*}x\\end{table*}b", &["table*"], "ab")]
    #[case::star_not_implied("a\\begin{table*}x\\end{table*}b", &["table"], "a\\begin{table*}x\\end{table*}b")]
    #[case::nested_same("a\\begin{figure}\\begin{figure}x\\end{figure}y\\end{figure}b", &["figure"], "ab")]
    #[case::nested_other("a\\begin{figure}\\begin{center}x\\end{center}\\end{figure}b", &["figure"], "ab")]
    #[case::unclosed_kept("a\\begin{figure}x", &["figure"], "a\\begin{figure}x")]
    #[case::other_kept("\\begin{theorem}x\\end{theorem}", &["figure"], "\\begin{theorem}x\\end{theorem}")]
    fn drops_environments(#[case] text: &str, #[case] drop: &[&str], #[case] expected: &str) {
        assert_eq!(drop_environments(text, &names(drop)), expected);
    }

    #[rstest]
    #[case::cite("see~\\cite{a,b}.", &["cite"], "see~.")]
    #[case::optional_arg("see \\cite[p.~3]{a}.", &["cite"], "see .")]
    #[case::two_optional_args("\\citep[see][p.~3]{a}", &["citep"], "")]
    #[case::starred("\\footnote*{x}y", &["footnote"], "y")]
    #[case::nested_braces("a\\footnote{see \\cite{x} {here}}b", &["footnote"], "ab")]
    #[case::two_args("\\href{http://x}{text} y", &["href"], " y")]
    #[case::space_before_arg("\\label {x}y", &["label"], "y")]
    #[case::later_group_not_eaten("\\label{x} {\\bf y}", &["label"], " {\\bf y}")]
    #[case::no_prefix_match("\\citet{a}\\cite{b}", &["cite"], "\\citet{a}")]
    #[case::math_kept("$x\\label{e}$ \\label{s}", &["label"], "$x\\label{e}$ ")]
    #[case::equation_kept("\\begin{equation}\\ref{a}\\end{equation}\\ref{b}", &["ref"], "\\begin{equation}\\ref{a}\\end{equation}")]
    #[case::unclosed_kept("\\footnote{x", &["footnote"], "\\footnote{x")]
    #[case::bare_command("a\\label b", &["label"], "a b")]
    fn drops_commands(#[case] text: &str, #[case] drop: &[&str], #[case] expected: &str) {
        assert_eq!(drop_commands(text, &names(drop)), expected);
    }
}

//! Configurable environment and command drops (`drop_environments`,
//! `drop_commands`): figures, tables, citations, labels, footnotes.
//!
//! The released regex `\\cite\{[^}]*\}` stops at the first `}`, so
//! `\footnote{see \cite{x} here}` leaves `here}` behind; these rules match
//! braces at any depth. Math is kept verbatim: a drop never reaches inside
//! `$…$` or an equation.

use crate::tex::math::math_spans;
use std::collections::HashMap;

use crate::tex::scan::{
    control_seq, environment_name, find_byte, group_end, indexed, optional_end, skip_blanks,
};
use crate::tex::watchdog;

/// Removes each `\begin{name}…\end{name}` for `name` in `names` (nesting of
/// the same environment respected). An environment that never ends is kept:
/// dropping to the end of the paper would lose more than it cleans.
pub fn drop_environments(text: &str, names: &[String]) -> String {
    if names.is_empty() {
        return text.to_string();
    }
    indexed(text, || drop_environments_in(text, names))
}

fn drop_environments_in(text: &str, names: &[String]) -> String {
    let mut matchers: HashMap<&str, EnvMatcher> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    let begin = memchr::memmem::Finder::new("\\begin");
    while let Some(offset) = begin.find(&text.as_bytes()[at..]) {
        if watchdog::expired() {
            break;
        }
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
        let matcher = matchers.entry(env).or_insert_with(|| EnvMatcher::new(text, env));
        if let Some(end) = matcher.matching_end(body) {
            out.push_str(&text[copied..start]);
            copied = end;
            at = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Answers [`matching_end`] for one environment in constant time after one
/// pass over the text: with `depth[i]` the count of `\begin{env}` minus
/// `\end{env}` among the first `i` markers, the environment whose body
/// starts before marker `s` closes at the first marker `k > s` with
/// `depth[k] < depth[s]`, a "next smaller element" computed once for all.
/// (Searching anew for each of 100,000 unclosed `\begin{figure}` walked
/// the rest of the text each time.)
struct EnvMatcher {
    /// Start of each marker, in text order.
    starts: Vec<usize>,
    /// Byte past each marker.
    ends: Vec<usize>,
    /// For each prefix `s` of markers, the first `k > s` with a smaller depth.
    closes_at: Vec<Option<usize>>,
}

impl EnvMatcher {
    fn new(text: &str, env: &str) -> Self {
        let begin = format!("\\begin{{{env}}}");
        let end = format!("\\end{{{env}}}");
        // memmem's vectorized search: these two scans are over the whole
        // text once per environment name the text uses.
        let find = |marker: &str, step: i64| {
            memchr::memmem::find_iter(text.as_bytes(), marker.as_bytes())
                .map(move |at| (at, at + marker.len(), step))
                .collect::<Vec<_>>()
        };
        let mut markers = find(&begin, 1);
        markers.extend(find(&end, -1));
        markers.sort_unstable();
        let mut depth = Vec::with_capacity(markers.len() + 1);
        depth.push(0i64);
        for (_, _, step) in &markers {
            depth.push(depth[depth.len() - 1] + step);
        }
        let mut closes_at = vec![None; depth.len()];
        let mut waiting: Vec<usize> = Vec::new();
        for (k, &d) in depth.iter().enumerate() {
            while waiting.last().is_some_and(|&s| depth[s] > d) {
                if let Some(s) = waiting.pop() {
                    closes_at[s] = Some(k);
                }
            }
            waiting.push(k);
        }
        Self {
            starts: markers.iter().map(|m| m.0).collect(),
            ends: markers.iter().map(|m| m.1).collect(),
            closes_at,
        }
    }

    /// The byte past the `\end{env}` closing an environment whose body starts at `from`.
    fn matching_end(&self, from: usize) -> Option<usize> {
        let s = self.starts.partition_point(|&at| at < from);
        self.closes_at[s].map(|k| self.ends[k - 1])
    }
}

/// The byte past the `\end{env}` that closes an environment whose body
/// starts at `from`, counting nested `\begin{env}`.
#[cfg(test)]
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
    indexed(text, || drop_commands_in(text, names))
}

fn drop_commands_in(text: &str, names: &[String]) -> String {
    let math = math_spans(text);
    let mut math = math.iter().peekable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = find_byte(&text[at..], b'\\') {
        if watchdog::expired() {
            break;
        }
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

    /// The one-pass matcher answers exactly as the search it replaces, on
    /// arbitrary sequences of markers, text and near-misses.
    #[test]
    fn env_matcher_agrees_with_the_search() {
        const PIECES: &[&str] =
            &["\\begin{figure}", "\\end{figure}", "\\begin{table}", "x", "\\end{fig", "{figure}"];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let text = crate::tex::scan::soup(&mut state, PIECES, 24);
            let matcher = EnvMatcher::new(&text, "figure");
            for from in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                assert_eq!(
                    matcher.matching_end(from),
                    matching_end(&text, from, "figure"),
                    "{text:?} from {from}"
                );
            }
        }
    }

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

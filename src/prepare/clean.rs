//! Stage 5, cleaning and normalization.
//!
//! [`ReleasedCleaner`] is the author's regex cleaner exactly as PAPER.md
//! lists it, in order, bugs included (each pinned by a test named after it):
//!
//! 1. `%.*` comments;
//! 2. the preamble up to the first `\begin{document}`;
//! 3. `\end{document}`;
//! 4. `\cmd{…}` with one brace level (`drop_commands`);
//! 5. `drop_environments` (released: `figure`) and `\includegraphics`;
//! 6. every whitespace run → one space.
//!
//! Math is kept. The TeX-aware cleaner, macro expansion and the other
//! normalizations are [`super::latex`]'s and [`super::normalize`]'s.

use std::sync::LazyLock;

use anyhow::{Context, Result};
use regex::Regex;

use super::normalize::collapse_all;
use crate::spec::data::Cleaning;

static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"%.*").expect("static regex"));
static PREAMBLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)\A.*?\\begin\{document\}").expect("static regex"));
static END_DOCUMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\end\{document\}").expect("static regex"));

/// Released pass 5 treats `\includegraphics` with the figures, optional `[…]` included.
const INCLUDEGRAPHICS: &str = "includegraphics";

/// The released cleaner with its command and environment lists from the spec.
#[derive(Debug, Clone)]
pub struct ReleasedCleaner {
    commands: Option<Regex>,
    figures: Option<Regex>,
}

impl ReleasedCleaner {
    pub fn new(cleaning: &Cleaning) -> Result<Self> {
        let commands: Vec<String> = cleaning
            .drop_commands
            .iter()
            .filter(|c| c.as_str() != INCLUDEGRAPHICS)
            .map(|c| regex::escape(c))
            .collect();
        let commands = (!commands.is_empty())
            .then(|| Regex::new(&format!(r"\\(?:{})\{{[^{{}}]*\}}", commands.join("|"))))
            .transpose()
            .context("data.cleaning.drop_commands does not make a valid pattern")?;
        let mut figure_parts: Vec<String> = cleaning
            .drop_environments
            .iter()
            .map(|e| {
                let e = regex::escape(e);
                format!(r"\\begin\{{{e}\}}.*?\\end\{{{e}\}}")
            })
            .collect();
        if cleaning.drop_commands.iter().any(|c| c == INCLUDEGRAPHICS) {
            figure_parts.push(r"\\includegraphics(?:\[[^\]]*\])?\{[^{}]*\}".to_string());
        }
        let figures = (!figure_parts.is_empty())
            .then(|| Regex::new(&format!("(?s){}", figure_parts.join("|"))))
            .transpose()
            .context("data.cleaning.drop_environments does not make a valid pattern")?;
        Ok(Self { commands, figures })
    }

    /// All six passes, in the released order.
    pub fn clean(&self, tex: &str) -> String {
        let text = strip_comments_regex(tex);
        let text = strip_preamble_regex(&text);
        let text = strip_end_document_regex(&text);
        let text = self.drop_commands_regex(&text);
        let text = self.drop_figures_regex(&text);
        collapse_all(&text)
    }

    /// Pass 4: `\cmd{arg}` where `arg` holds no brace at all (one level).
    pub fn drop_commands_regex(&self, text: &str) -> String {
        match &self.commands {
            Some(re) => re.replace_all(text, "").into_owned(),
            None => text.to_string(),
        }
    }

    /// Pass 5: listed environments (shortest match) and `\includegraphics`.
    pub fn drop_figures_regex(&self, text: &str) -> String {
        match &self.figures {
            Some(re) => re.replace_all(text, "").into_owned(),
            None => text.to_string(),
        }
    }
}

/// Pass 1: `%` to the end of the line, whether or not it is escaped.
pub fn strip_comments_regex(text: &str) -> String {
    COMMENT.replace_all(text, "").into_owned()
}

/// Pass 2: everything up to and including the first `\begin{document}`.
pub fn strip_preamble_regex(text: &str) -> String {
    PREAMBLE.replace(text, "").into_owned()
}

/// Pass 3: the `\end{document}` marker itself, not what follows it.
pub fn strip_end_document_regex(text: &str) -> String {
    END_DOCUMENT.replace_all(text, "").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn released() -> ReleasedCleaner {
        ReleasedCleaner::new(&Cleaning {
            cleaner: crate::spec::data::Cleaner::Released,
            macros: crate::spec::data::MacroMode::Keep,
            max_macro_expansions: 0,
            max_macro_growth: 1.0,
            drop_environments: vec!["figure".into()],
            drop_commands: ["url", "href", "cite", "label", "ref", "footnote", "includegraphics"]
                .map(String::from)
                .to_vec(),
        })
        .unwrap()
    }

    fn clean(body: &str) -> String {
        released()
            .clean(&format!("\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"))
    }

    #[test]
    fn released_cleaner_keeps_prose_and_math() {
        assert_eq!(
            clean("We prove $x^2 + y^2 = z^2$ for all\n\n\\[ n > 2 \\]."),
            "We prove $x^2 + y^2 = z^2$ for all \\[ n > 2 \\]."
        );
    }

    #[rstest]
    #[case::label(r"A\label{thm:1} B", "A B")]
    #[case::cite(r"as shown \cite{knuth84}.", "as shown .")]
    #[case::url(r"at \url{https://x.org}.", "at .")]
    #[case::figure("X \\begin{figure}\\centering\n\\includegraphics{a}\n\\caption{C}\\end{figure} Y", "X Y")]
    #[case::includegraphics_with_options(r"X \includegraphics[width=\linewidth]{fig.pdf} Y", "X Y")]
    fn released_cleaner_drops(#[case] body: &str, #[case] want: &str) {
        assert_eq!(clean(body), want);
    }

    #[test]
    fn released_comment_regex_eats_text_after_escaped_percent() {
        assert_eq!(
            clean("Accuracy rose by 5\\% over the baseline.\nNext line."),
            "Accuracy rose by 5\\ Next line."
        );
    }

    #[test]
    fn released_comment_regex_eats_percent_in_verbatim_and_urls() {
        assert_eq!(
            clean("\\begin{verbatim}printf(\"%d\", n);\\end{verbatim}\nsee \\url{http://x.org/a%20b} now"),
            "\\begin{verbatim}printf(\" see \\url{http://x.org/a"
        );
    }

    #[test]
    fn released_comment_regex_can_remove_begin_document_and_keep_the_preamble() {
        // A commented-out `% \begin{document}` line is gone before pass 2 looks, so a
        // file whose only \begin{document} sits after `%` keeps its preamble.
        let text = released()
            .clean("\\usepackage{amsmath}\n\\newcommand{\\R}{\\mathbb{R}} % \\begin{document}\nBody");
        assert_eq!(text, "\\usepackage{amsmath} \\newcommand{\\R}{\\mathbb{R}} Body");
    }

    #[test]
    fn released_preamble_regex_keeps_preamble_without_begin_document() {
        let text = released().clean("\\section{Intro}\\usepackage{x} Text.");
        assert_eq!(text, "\\section{Intro}\\usepackage{x} Text.");
    }

    #[test]
    fn released_preamble_regex_eats_members_before_the_main_file() {
        // concat joins `intro.tex` (no \begin{document}) before `main.tex`: the
        // intro's text is removed as if it were preamble.
        let joined =
            "Intro text of the paper.\n\\documentclass{article}\\begin{document}Main text.\\end{document}";
        assert_eq!(released().clean(joined), "Main text.");
    }

    #[test]
    fn released_end_document_regex_keeps_text_after_end_document() {
        // A second full document after the first (two .tex files concatenated)
        // keeps its whole preamble: pass 2 only strips up to the first marker.
        let joined = "\\begin{document}One.\\end{document}\n\\documentclass{article}\\usepackage{x}\\begin{document}Two.\\end{document}";
        assert_eq!(
            released().clean(joined),
            "One. \\documentclass{article}\\usepackage{x}\\begin{document}Two."
        );
    }

    #[test]
    fn released_command_regex_leaves_commands_with_nested_braces() {
        assert_eq!(
            clean(r"Data\footnote{See \cite{x} and \emph{y}.} here."),
            r"Data\footnote{See and \emph{y}.} here."
        );
    }

    #[test]
    fn released_command_regex_ignores_optional_arguments() {
        assert_eq!(clean(r"as in \cite[p.~3]{knuth}."), r"as in \cite[p.~3]{knuth}.");
    }

    #[test]
    fn released_href_regex_keeps_the_link_text_in_braces() {
        assert_eq!(clean(r"see \href{https://x.org}{our site}."), "see {our site}.");
    }

    #[test]
    fn released_command_regex_misses_starred_and_longer_names() {
        assert_eq!(clean(r"\citep{a} \label*{b} \refs{c}"), r"\citep{a} \label*{b} \refs{c}");
    }

    #[test]
    fn released_figure_regex_misses_starred_figures() {
        assert_eq!(clean("A \\begin{figure*}wide\\end{figure*} B"), "A \\begin{figure*}wide\\end{figure*} B");
    }

    #[test]
    fn released_whitespace_regex_joins_paragraphs() {
        assert_eq!(clean("First paragraph.\n\nSecond\tparagraph."), "First paragraph. Second paragraph.");
    }

    #[rstest]
    #[case("  a \t\n\r\u{0b}\u{0c} b\u{a0}\u{2003}c\u{3000}", "a b c")]
    #[case("\n\n", "")]
    #[case("x", "x")]
    fn collapse_matches_the_released_regex_whitespace_class(#[case] text: &str, #[case] want: &str) {
        assert_eq!(collapse_all(text), want);
        let regex = Regex::new(r"\s+").unwrap();
        assert_eq!(regex.replace_all(text, " ").trim(), want);
    }

    #[test]
    fn spec_lists_become_patterns_safely() {
        let cleaning = Cleaning {
            cleaner: crate::spec::data::Cleaner::Released,
            macros: crate::spec::data::MacroMode::Keep,
            max_macro_expansions: 0,
            max_macro_growth: 1.0,
            drop_environments: vec!["figure*".into(), "table".into()],
            drop_commands: vec![],
        };
        let cleaner = ReleasedCleaner::new(&cleaning).unwrap();
        assert_eq!(
            cleaner.clean("\\begin{document}A \\begin{figure*}x\\end{figure*} B \\begin{table}t\\end{table} C \\cite{k}"),
            "A B C \\cite{k}"
        );
    }
}

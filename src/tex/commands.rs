//! What counts as a LaTeX command: the pieces of the regular expressions that
//! the symbol-stability metrics count with and the `latex-aware` pre-tokenizer
//! splits with.

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

/// `\begin{align}` / `\end{align*}` with its name: one unit, because the name
/// is what carries meaning and arXiv papers use a few dozen of them.
pub const ENVIRONMENT_DELIMITER: &str = r"\\(?:begin|end)\{[A-Za-z]+\*?\}";
/// `\alpha`: a backslash and a run of ASCII letters.
pub const CONTROL_WORD: &str = r"\\[A-Za-z]+";
/// `\\`, `\{`, `\,`: a backslash and one character that is not a letter or a space.
pub const CONTROL_SYMBOL: &str = r"\\[^A-Za-z\s]";

/// The commands of `text`, in order: environment delimiters, control words and
/// control symbols. A starred form (`\section*`) counts as the command `\section`.
pub fn command_spans(text: &str) -> Vec<Range<usize>> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(&[ENVIRONMENT_DELIMITER, CONTROL_WORD, CONTROL_SYMBOL].join("|")).expect("constant regex")
    });
    re.find_iter(text).map(|m| m.range()).collect()
}

//! The `prose-only` language check's input: what the detector should see.
//!
//! A formula-heavy English paper fed whole to a language detector reads as
//! noise (`\alpha_{ij}`, `\frac`, `\begin{align}`), and the released check
//! drops it as "not English". Masking math, commands and environment markers
//! first leaves the prose the language is judged on. The detector call
//! itself belongs to the quality stage.

use crate::prepare::latex::math::math_spans;
use crate::prepare::latex::scan::{control_seq, environment_name, is_word, skip_blanks};

/// The prose of `text`: math spans and `\begin{…}`/`\end{…}` markers become
/// a space, control words and braces disappear (the words inside
/// `\emph{…}` stay), and whitespace collapses.
pub fn mask_for_language(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    let mask = |out: &mut String, copied: &mut usize, from: usize, to: usize| {
        out.push_str(&text[*copied..from]);
        out.push(' ');
        *copied = to;
    };
    let math = math_spans(text);
    let mut math = math.iter().peekable();
    while at < bytes.len() {
        if let Some(m) = math.peek().filter(|m| m.start == at) {
            let end = m.end;
            math.next();
            mask(&mut out, &mut copied, at, end);
            at = end;
            continue;
        }
        match bytes[at] {
            b'\\' => {
                let cs = control_seq(text, at, false);
                let mut end = cs.end;
                if matches!(cs.name, "begin" | "end") {
                    if let Some((_, name_end)) = environment_name(text, skip_blanks(text, cs.end)) {
                        end = name_end;
                    }
                }
                // `\%`, `\&`, `\$` are the characters themselves.
                let keeps_char =
                    !is_word(cs.name) && matches!(cs.name, "%" | "&" | "$" | "#" | "_");
                if keeps_char {
                    out.push_str(&text[copied..at]);
                    copied = at + 1;
                } else {
                    mask(&mut out, &mut copied, at, end);
                }
                at = end.max(at + 1);
            }
            b'{' | b'}' | b'~' => {
                let replacement_end = at + 1;
                mask(&mut out, &mut copied, at, replacement_end);
                at = replacement_end;
            }
            _ => at += 1,
        }
        while math.peek().is_some_and(|m| m.start < at) {
            math.next();
        }
    }
    out.push_str(&text[copied..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::inline_math("Let $x^2$ be positive.", "Let be positive.")]
    #[case::display_math("We have \\[\\sum_i a_i\\] here.", "We have here.")]
    #[case::environment(
        "\\begin{align}a&=b\\end{align} and \\begin{theorem}Text\\end{theorem}",
        "and Text"
    )]
    #[case::command_keeps_argument_words("an \\emph{important} result", "an important result")]
    #[case::escaped_characters("50\\% of A\\&B", "50% of A&B")]
    #[case::tie("Section~3", "Section 3")]
    fn masks_math_commands_and_environments(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(mask_for_language(text), expected);
    }

    /// Formula-heavy English sentences that whatlang, fed the whole text,
    /// calls Swedish and Latin; masked, the same sentences read as English.
    #[rstest]
    #[case::inline_formulas(
        "Let $\\alpha_{ij}=\\sum_k\\beta_{ik}\\gamma_{kj}$ and $x_{n+1}=x_n-\\eta\\nabla f(x_n)$ then $\\|x_n-x^*\\|\\le C\\rho^n$ holds."
    )]
    #[case::display_and_inline(
        "Then \\[\\mathcal{H}_{\\alpha\\beta}^{(k)}=\\sum_{i,j}\\frac{\\partial^2 \\phi_{ij}}{\\partial x_i\\partial x_j}\\] where \
         $\\Gamma_{\\mu\\nu}^{\\lambda}=\\tfrac12 g^{\\lambda\\sigma}(\\partial_\\mu g_{\\nu\\sigma}+\\partial_\\nu g_{\\mu\\sigma}-\\partial_\\sigma g_{\\mu\\nu})$ \
         so $\\Xi_{k}=\\int_{\\Omega}\\nabla\\psi_k\\cdot\\nabla\\bar\\psi_k\\,d\\mu(x)$ is finite."
    )]
    fn masking_recovers_formula_heavy_english(#[case] text: &str) {
        let lang = |t: &str| whatlang::detect(t).map(|info| info.lang());
        assert_ne!(lang(text), Some(whatlang::Lang::Eng));
        assert_eq!(lang(&mask_for_language(text)), Some(whatlang::Lang::Eng));
    }
}

//! Stage 4, extraction: which LaTeX text a paper contributes.
//!
//! Released (`concat`): every `.tex` member at most `max_tex_bytes` long,
//! joined in archive order, with no main-file detection, so a paper's
//! standalone figure snippets and unused drafts are glued in too.
//! `resolve` (main file + `\input`) is [`super::latex::extract_resolved`].

use super::encoding::DecodedMember;
use super::normalize::collapse_all;

/// Released concatenation; `None` when no member is small enough (`no-usable-tex`).
pub fn concat_tex(members: &[DecodedMember], max_tex_bytes: u64) -> Option<String> {
    let usable: Vec<&str> =
        members.iter().filter(|m| m.raw_len <= max_tex_bytes).map(|m| m.text.as_str()).collect();
    (!usable.is_empty()).then(|| usable.join("\n"))
}

/// The argument of the first `\title{…}` (an optional `[short]` argument is
/// skipped, braces are balanced), whitespace collapsed. Used when no
/// `--metadata` is given.
pub fn latex_title(tex: &str) -> Option<String> {
    let mut rest = tex;
    while let Some(at) = rest.find("\\title") {
        rest = &rest[at + "\\title".len()..];
        // `\titlepage`, `\titlerunning` are other commands.
        if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let after = skip_optional_argument(rest.trim_start());
        if let Some(arg) = braced_argument(after) {
            let title = collapse_all(arg);
            return (!title.is_empty()).then_some(title);
        }
    }
    None
}

/// The body of the first `abstract` environment, whitespace collapsed.
pub fn latex_abstract(tex: &str) -> Option<String> {
    let start = tex.find("\\begin{abstract}")? + "\\begin{abstract}".len();
    let end = start + tex[start..].find("\\end{abstract}")?;
    let text = collapse_all(&tex[start..end]);
    (!text.is_empty()).then_some(text)
}

fn skip_optional_argument(s: &str) -> &str {
    if !s.starts_with('[') {
        return s;
    }
    match s.find(']') {
        Some(end) => s[end + 1..].trim_start(),
        None => s,
    }
}

/// The text inside a leading `{…}` with nested braces balanced (`\{` is not a brace).
fn braced_argument(s: &str) -> Option<&str> {
    if !s.starts_with('{') {
        return None;
    }
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[1..i]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn member(name: &str, text: &str) -> DecodedMember {
        DecodedMember { name: name.into(), raw_len: text.len() as u64, text: text.into(), encoding: "UTF-8" }
    }

    #[test]
    fn concat_joins_every_small_tex_in_archive_order() {
        let members = [member("z.tex", "zed"), member("big.tex", "0123456789"), member("a.tex", "ay")];
        assert_eq!(concat_tex(&members, 5).as_deref(), Some("zed\nay"));
        assert_eq!(concat_tex(&members, 1), None);
        assert_eq!(concat_tex(&[], 5), None);
    }

    #[rstest]
    #[case(r"\title{S2ORC: The {Semantic} Scholar}", Some("S2ORC: The {Semantic} Scholar"))]
    #[case("\\title[Short]{Long\n  title}", Some("Long title"))]
    #[case(r"\titlerunning{Run}\title {Real}", Some("Real"))]
    #[case(r"\title{50\}% off}", Some(r"50\}% off"))]
    #[case(r"\title{}", None)]
    #[case(r"\title{unclosed", None)]
    #[case(r"no title here", None)]
    fn titles(#[case] tex: &str, #[case] want: Option<&str>) {
        assert_eq!(latex_title(tex).as_deref(), want);
    }

    #[rstest]
    #[case("\\begin{abstract}\n We  study\nX.\n\\end{abstract}", Some("We study X."))]
    #[case("\\begin{abstract} never closed", None)]
    #[case("nothing", None)]
    fn abstracts(#[case] tex: &str, #[case] want: Option<&str>) {
        assert_eq!(latex_abstract(tex).as_deref(), want);
    }
}

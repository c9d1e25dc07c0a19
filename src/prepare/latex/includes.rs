//! Include resolution: `\input`, `\include`, `\subfile`, `\import`,
//! `\subimport`, `\InputIfFileExists`, and the `.bbl` at `\bibliography`.
//!
//! Includes are looked for in code spans only (see `comments::tex_spans`),
//! so a commented-out `\input{old-intro}` is never followed; the text that
//! comes out keeps its comments, because stripping them is a separate
//! cleaning setting (`cleaner: released | tex`) that runs afterwards.

use std::collections::BTreeMap;
use std::ops::Range;

use super::comments::{tex_spans, SpanKind};
use crate::tex::scan::{control_seq, find_byte, group_content, skip_blanks};

/// One include command found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeRef {
    /// The bytes of the command and its arguments, replaced by the file's text.
    pub range: Range<usize>,
    pub target: IncludeTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncludeTarget {
    /// `\input`, `\include`, `\subfile`, `\InputIfFileExists`: a path read
    /// from the directory the document is compiled in.
    File(String),
    /// `\import{dir}{file}`: `dir` from the compile directory; files that
    /// `file` includes are then read from `dir` (the `import` package).
    Import { dir: String, file: String },
    /// `\subimport{dir}{file}`: like `Import`, with `dir` relative to the
    /// importing file's import directory.
    SubImport { dir: String, file: String },
    /// `\bibliography{refs}`: where BibTeX's `.bbl` is read.
    Bibliography,
}

/// Every include command in the code spans of `text`, in order.
pub fn find_includes(text: &str) -> Vec<IncludeRef> {
    crate::tex::scan::indexed(text, || includes_in(text))
}

fn includes_in(text: &str) -> Vec<IncludeRef> {
    let mut found = Vec::new();
    // Where the last include's arguments ended: they may run past the end of
    // their code span (`\input{a%}`), and the matches must not overlap.
    let mut resume = 0;
    for span in tex_spans(text) {
        if span.kind != SpanKind::Code || span.range.end <= resume {
            continue;
        }
        let mut at = span.range.start.max(resume);
        while let Some(offset) = find_byte(&text[at..span.range.end], b'\\') {
            if crate::tex::watchdog::expired() {
                return found;
            }
            let start = at + offset;
            let cs = control_seq(text, start, false);
            match include_at(text, cs.name, cs.end) {
                Some((target, end)) => {
                    found.push(IncludeRef { range: start..end, target });
                    at = end;
                    resume = end;
                }
                None => at = cs.end.max(start + 1),
            }
            if at >= span.range.end {
                break;
            }
        }
    }
    found
}

/// Parses the arguments of include command `name` whose name ends at `after`.
fn include_at(text: &str, name: &str, after: usize) -> Option<(IncludeTarget, usize)> {
    match name {
        "input" => {
            let (file, end) = file_argument(text, after, true)?;
            Some((IncludeTarget::File(file), end))
        }
        "include" | "subfile" => {
            let (file, end) = file_argument(text, after, false)?;
            Some((IncludeTarget::File(file), end))
        }
        // `\InputIfFileExists{file}{then}{else}`: the branches are setup code,
        // not text, so they go with the command.
        "InputIfFileExists" => {
            let (file, mut end) = file_argument(text, after, false)?;
            for _ in 0..2 {
                let open = skip_blanks(text, end);
                match group_content(text, open) {
                    Some((_, group_end)) => end = group_end,
                    None => break,
                }
            }
            Some((IncludeTarget::File(file), end))
        }
        "import" | "subimport" | "inputfrom" | "subinputfrom" | "includefrom" | "subincludefrom" => {
            let mut at = after;
            if text.as_bytes().get(at) == Some(&b'*') {
                at += 1;
            }
            let (dir, at) = braced_argument(text, at)?;
            let (file, end) = braced_argument(text, at)?;
            let target = if name.starts_with("sub") {
                IncludeTarget::SubImport { dir, file }
            } else {
                IncludeTarget::Import { dir, file }
            };
            Some((target, end))
        }
        "bibliography" => {
            let (_, end) = braced_argument(text, after)?;
            Some((IncludeTarget::Bibliography, end))
        }
        _ => None,
    }
}

fn braced_argument(text: &str, after: usize) -> Option<(String, usize)> {
    let open = skip_blanks(text, after);
    let (content, end) = group_content(text, open)?;
    Some((content.trim().to_string(), end))
}

/// `{name}`, or for `\input` also TeX's bare form `\input intro` (the name
/// runs to the next space, brace or backslash).
fn file_argument(text: &str, after: usize, bare_allowed: bool) -> Option<(String, usize)> {
    let open = skip_blanks(text, after);
    if text.as_bytes().get(open) == Some(&b'{') {
        return braced_argument(text, after);
    }
    if !bare_allowed || open == after {
        return None;
    }
    let len = text[open..]
        .find(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '\\' | '%'))
        .unwrap_or(text.len() - open);
    (len > 0).then(|| (text[open..open + len].to_string(), open + len))
}

/// Joins archive-relative `dir` and `name`, resolving `.` and `..`; `None`
/// when the path climbs out of the archive.
pub fn join_path(dir: &str, name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let name = name.trim_start_matches('/');
    for part in dir.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// The directory part of an archive path (`""` at the top level).
pub fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Finds `name` in the archive, trying each base directory in order; a name
/// without `.tex` is tried with it first, as TeX does.
pub fn locate<'f>(files: &'f BTreeMap<String, String>, bases: &[&str], name: &str) -> Option<&'f str> {
    let with_tex = (!name.to_ascii_lowercase().ends_with(".tex")).then(|| format!("{name}.tex"));
    for base in bases {
        for candidate in with_tex.iter().map(String::as_str).chain([name]) {
            if let Some(path) = join_path(base, candidate) {
                if let Some((key, _)) = files.get_key_value(&path) {
                    return Some(key.as_str());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn file(name: &str) -> Vec<IncludeTarget> {
        vec![IncludeTarget::File(name.to_string())]
    }

    #[rstest]
    #[case::input_braced(r"\input{intro}", file("intro"))]
    #[case::input_with_extension(r"\input{sec/intro.tex}", file("sec/intro.tex"))]
    #[case::input_bare(r"\input intro more", file("intro"))]
    #[case::input_bare_then_command(r"\input intro\relax", file("intro"))]
    #[case::include(r"\include{chap1}", file("chap1"))]
    #[case::subfile(r"\subfile{parts/a}", file("parts/a"))]
    #[case::input_if_exists(r"\InputIfFileExists{x.cfg}{}{\relax}", file("x.cfg"))]
    #[case::import(
        r"\import{sections/}{intro}",
        vec![IncludeTarget::Import { dir: "sections/".into(), file: "intro".into() }]
    )]
    #[case::subimport_starred(
        r"\subimport*{a}{b}",
        vec![IncludeTarget::SubImport { dir: "a".into(), file: "b".into() }]
    )]
    #[case::commented_out("% \\input{old}\n", vec![])]
    #[case::in_verbatim("\\begin{verbatim}\\input{x}\\end{verbatim}", vec![])]
    #[case::inputenc_is_not_input(r"\usepackage[utf8]{inputenc}\inputencoding{x}", vec![])]
    #[case::bibliography(r"\bibliography{refs}", vec![IncludeTarget::Bibliography])]
    fn finds_include_commands(#[case] text: &str, #[case] expected: Vec<IncludeTarget>) {
        let found: Vec<IncludeTarget> = find_includes(text).into_iter().map(|r| r.target).collect();
        assert_eq!(found, expected);
    }

    #[rstest]
    #[case::top("", "a.tex", Some("a.tex"))]
    #[case::sub("sec", "a.tex", Some("sec/a.tex"))]
    #[case::dot("sec", "./a", Some("sec/a"))]
    #[case::up("sec/x", "../a", Some("sec/a"))]
    #[case::out_of_archive("", "../etc/passwd", None)]
    fn joins_archive_paths(#[case] dir: &str, #[case] name: &str, #[case] expected: Option<&str>) {
        assert_eq!(join_path(dir, name).as_deref(), expected);
    }
}

//! Main-file detection: which `.tex` file of a multi-file submission is the
//! document, and which rule decided it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::comments::strip_comments;
use super::includes::{find_includes, locate, parent_dir, IncludeTarget};
use crate::tex::scan::{control_seq, group_content, optional_end, skip_blanks};

/// The rule that picked the main file, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MainFileRule {
    /// arXiv's `00README.XXX` names it with `toplevelfile`.
    ReadmeToplevel,
    /// arXiv's `00README.json` lists it with `"usage": "toplevel"`.
    ReadmeJson,
    /// Only one file has `\documentclass` and `\begin{document}`.
    SoleCandidate,
    /// Several candidates; exactly one is not included by another file.
    NotIncluded,
    /// Ties broken by a conventional name (`main.tex`, `ms.tex`, …).
    ConventionalName,
    /// Ties broken by size.
    Largest,
}

/// Names authors and journals give the main file, most common first; the
/// archive's own stem (`1703.09710.tex`) is tried after them.
const CONVENTIONAL_NAMES: &[&str] = &["main.tex", "ms.tex", "paper.tex"];

/// Extensions TeX sources carry in arXiv archives (`.TEX` in old submissions).
const TEX_EXTENSIONS: &[&str] = &["tex", "ltx", "latex"];

/// Document classes that are never the paper: `standalone` compiles one
/// TikZ figure, `subfiles` makes a chapter compilable on its own; both have
/// their own `\begin{document}`.
const NON_MAIN_CLASSES: &[&str] = &["standalone", "subfiles"];

pub fn is_tex_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    // macOS AppleDouble companions (`._paper.tex`, as in 1801.03879) hold
    // resource forks, not LaTeX.
    if name.starts_with("._") {
        return false;
    }
    name.rsplit_once('.').is_some_and(|(_, ext)| TEX_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Picks the main file among `files` (archive path → text).
pub fn detect_main_file(
    files: &BTreeMap<String, String>,
    archive_stem: &str,
    max_tex_bytes: u64,
) -> Option<(String, MainFileRule)> {
    if let Some(found) = readme_toplevel(files) {
        return Some(found);
    }
    let candidates: Vec<&str> = files
        .iter()
        .filter(|(path, text)| is_tex_path(path) && text.len() as u64 <= max_tex_bytes && is_document(text))
        .map(|(path, _)| path.as_str())
        .collect();
    match candidates.as_slice() {
        [] => None,
        [only] => Some((only.to_string(), MainFileRule::SoleCandidate)),
        _ => choose_among(files, &candidates, archive_stem),
    }
}

fn choose_among(
    files: &BTreeMap<String, String>,
    candidates: &[&str],
    archive_stem: &str,
) -> Option<(String, MainFileRule)> {
    let included = included_paths(files);
    let roots: Vec<&str> = candidates.iter().copied().filter(|c| !included.contains(*c)).collect();
    if let [only] = roots.as_slice() {
        return Some((only.to_string(), MainFileRule::NotIncluded));
    }
    let pool = if roots.is_empty() { candidates } else { &roots };
    let stem_name = format!("{archive_stem}.tex");
    let conventional = CONVENTIONAL_NAMES
        .iter()
        .copied()
        .chain([stem_name.as_str()])
        .find_map(|name| pool.iter().find(|path| path.rsplit('/').next() == Some(name)));
    if let Some(path) = conventional {
        return Some((path.to_string(), MainFileRule::ConventionalName));
    }
    // Largest; among equal sizes the first path in archive order, so the
    // choice never depends on anything but the input.
    pool.iter()
        .max_by(|a, b| {
            let size = |p: &str| files.get(p).map_or(0, String::len);
            size(a).cmp(&size(b)).then_with(|| b.cmp(a))
        })
        .map(|path| (path.to_string(), MainFileRule::Largest))
}

/// Paths that some other `.tex` file includes (resolved from the including
/// file's directory or the archive root).
fn included_paths(files: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut included = BTreeSet::new();
    for (path, text) in files.iter().filter(|(p, _)| is_tex_path(p)) {
        let dir = parent_dir(path);
        for include in find_includes(text) {
            let name = match &include.target {
                IncludeTarget::File(file) => file.clone(),
                IncludeTarget::Import { dir, file } | IncludeTarget::SubImport { dir, file } => {
                    format!("{dir}/{file}")
                }
                IncludeTarget::Bibliography => continue,
            };
            if let Some(found) = locate(files, &[dir, ""], &name) {
                if found != path {
                    included.insert(found.to_string());
                }
            }
        }
    }
    included
}

/// A file that compiles on its own: `\documentclass` (or LaTeX 2.09's
/// `\documentstyle`, still in 1990s submissions) and `\begin{document}`,
/// outside comments, and not a standalone figure or subfile.
pub fn is_document(text: &str) -> bool {
    // Cheap test first: most files of a paper (sections, figures) lack the markers.
    let has_markers = (text.contains("\\documentclass") || text.contains("\\documentstyle"))
        && text.contains("\\begin{document}");
    if !has_markers {
        return false;
    }
    let code = strip_comments(text);
    let Some(class) = document_class(&code) else {
        return false;
    };
    code.contains("\\begin{document}") && !NON_MAIN_CLASSES.contains(&class)
}

/// The class name of the first `\documentclass[opts]{class}`.
fn document_class(code: &str) -> Option<&str> {
    for marker in ["\\documentclass", "\\documentstyle"] {
        let Some(start) = code.find(marker) else {
            continue;
        };
        let cs = control_seq(code, start, false);
        if cs.name != &marker[1..] {
            continue;
        }
        let mut at = skip_blanks(code, cs.end);
        if code.as_bytes().get(at) == Some(&b'[') {
            at = skip_blanks(code, optional_end(code, at)?);
        }
        return group_content(code, at).map(|(class, _)| class.trim());
    }
    None
}

/// arXiv's own record of the top-level file, when the submitter left one.
fn readme_toplevel(files: &BTreeMap<String, String>) -> Option<(String, MainFileRule)> {
    let exists = |name: &str| files.contains_key(name).then(|| name.to_string());
    if let Some(readme) = files.get("00README.XXX") {
        // Lines are `<file> <directive>`, e.g. `paper.tex toplevelfile`.
        for line in readme.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [file, "toplevelfile"] | ["toplevelfile", file] = words.as_slice() {
                if let Some(found) = exists(file.trim_start_matches("./")) {
                    return Some((found, MainFileRule::ReadmeToplevel));
                }
            }
        }
    }
    let readme: ReadmeJson = serde_json::from_str(files.get("00README.json")?).ok()?;
    readme
        .sources
        .iter()
        .filter(|s| s.usage.as_deref() == Some("toplevel"))
        .find_map(|s| exists(s.filename.trim_start_matches("./")))
        .map(|found| (found, MainFileRule::ReadmeJson))
}

#[derive(Deserialize)]
struct ReadmeJson {
    #[serde(default)]
    sources: Vec<ReadmeSource>,
}

#[derive(Deserialize)]
struct ReadmeSource {
    filename: String,
    usage: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const DOC: &str = "\\documentclass{article}\n\\begin{document}\nText.\n\\end{document}\n";

    fn archive(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
    }

    #[rstest]
    #[case::readme_xxx(
        &[("00README.XXX", "b.tex toplevelfile\n"), ("a.tex", DOC), ("b.tex", DOC)],
        Some(("b.tex", MainFileRule::ReadmeToplevel))
    )]
    #[case::readme_json(
        &[("00README.json", r#"{"sources":[{"filename":"b.tex","usage":"toplevel"}]}"#),
          ("a.tex", DOC), ("b.tex", DOC)],
        Some(("b.tex", MainFileRule::ReadmeJson))
    )]
    #[case::readme_names_missing_file(
        &[("00README.XXX", "gone.tex toplevelfile\n"), ("a.tex", DOC), ("intro.tex", "Hi")],
        Some(("a.tex", MainFileRule::SoleCandidate))
    )]
    #[case::sole_candidate(&[("intro.tex", "Hello"), ("paper.tex", DOC)], Some(("paper.tex", MainFileRule::SoleCandidate)))]
    #[case::standalone_figure_never_main(
        &[("fig.tex", "\\documentclass[tikz]{standalone}\\begin{document}x\\end{document}"), ("p.tex", DOC)],
        Some(("p.tex", MainFileRule::SoleCandidate))
    )]
    #[case::commented_documentclass(
        &[("old.tex", "%\\documentclass{article}\n\\begin{document}"), ("p.tex", DOC)],
        Some(("p.tex", MainFileRule::SoleCandidate))
    )]
    #[case::not_included_wins(
        &[("a.tex", "\\documentclass{article}\\begin{document}\\input{b}\\end{document}"), ("b.tex", DOC)],
        Some(("a.tex", MainFileRule::NotIncluded))
    )]
    #[case::conventional_name(&[("draft.tex", DOC), ("ms.tex", DOC)], Some(("ms.tex", MainFileRule::ConventionalName)))]
    #[case::archive_stem(&[("draft.tex", DOC), ("2101.00001.tex", DOC)], Some(("2101.00001.tex", MainFileRule::ConventionalName)))]
    #[case::largest(&[("a.tex", DOC), ("b.tex", "\\documentclass{book}\\begin{document}A longer text than the other one.\\end{document}")], Some(("b.tex", MainFileRule::Largest)))]
    #[case::old_documentstyle(&[("p.tex", "\\documentstyle[12pt]{article}\\begin{document}x")], Some(("p.tex", MainFileRule::SoleCandidate)))]
    #[case::apple_double_ignored(&[("._p.tex", DOC), ("p.tex", DOC)], Some(("p.tex", MainFileRule::SoleCandidate)))]
    #[case::none(&[("intro.tex", "Hello"), ("macros.sty", "\\def\\x{}")], None)]
    fn detects_the_main_file(#[case] files: &[(&str, &str)], #[case] expected: Option<(&str, MainFileRule)>) {
        let found = detect_main_file(&archive(files), "2101.00001", 5_000_000);
        assert_eq!(found.as_ref().map(|(p, r)| (p.as_str(), *r)), expected);
    }
}

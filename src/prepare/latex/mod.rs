//! LaTeX extraction and cleaning as the paper describes it (`extraction:
//! resolve`, `cleaner: tex`, `macros: expand`, environment and command drops).
//!
//! Pure functions over std types: the `prepare` stage decodes the archive,
//! calls these, and writes the ledger. Each rule lives in one file:
//! `main_file` (which file is the paper), `includes` (`\input` and friends),
//! `comments`, `macros` (preamble, definitions, expansion), `drops`, `math`.

pub mod comments;
pub mod drops;
pub mod includes;
pub mod macros;
pub mod main_file;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use comments::strip_comments;
pub use drops::{drop_commands, drop_environments};
pub use macros::{expand_macros, harvest_macros, split_preamble, Expanded, MacroTable};
pub use main_file::MainFileRule;

use crate::ledger::DropReason;
use crate::spec::data::{Cleaning, Extraction, MacroMode};
use includes::{find_includes, join_path, locate, parent_dir, IncludeTarget};
use main_file::detect_main_file;

/// The paper's text with its includes spliced in, and how it was assembled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    /// Main file with every resolvable include inlined; comments are kept
    /// (the cleaner removes them later).
    pub text: String,
    pub main_file: String,
    pub rule: MainFileRule,
    /// Archive paths inlined, in the order they were first reached.
    pub included: Vec<String>,
    /// Include names that matched no file (the command is removed, the rest kept).
    pub missing: Vec<String>,
    /// Include chains that would loop, as `a.tex -> b.tex -> a.tex`.
    pub cycles: Vec<String>,
    /// True when an include was skipped for being deeper than `max_include_depth`.
    pub depth_capped: bool,
}

/// How much text include resolution may produce for one paper.
///
/// Depth and per-file size are capped by the spec, but a file that includes
/// another ten times, fifteen levels deep, multiplies a 600-byte archive
/// into gigabytes. A real paper inlines each file about once, so its
/// resolved text is about the size of its sources: past `GROWTH` times the
/// archive's text (with a floor for small papers that repeat a snippet),
/// or past twice `max_tex_bytes`, the paper is dropped (`include-budget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineBudget {
    pub max_bytes: usize,
}

impl InlineBudget {
    pub const GROWTH: usize = 4;
    pub const FLOOR: usize = 1 << 20;

    pub fn for_archive(files: &BTreeMap<String, String>, max_tex_bytes: u64) -> Self {
        let source: usize = files.values().map(String::len).sum();
        let relative = source.saturating_mul(Self::GROWTH).max(Self::FLOOR);
        let absolute = usize::try_from(max_tex_bytes.saturating_mul(2)).unwrap_or(usize::MAX);
        Self { max_bytes: relative.min(absolute.max(Self::FLOOR)) }
    }
}

/// Finds the main file of an archive and inlines its includes.
///
/// `files` maps archive paths (`sections/intro.tex`, `00README.XXX`,
/// `paper.bbl`) to decoded text; a leading `./` is ignored. `archive_stem`
/// is the paper id the archive is named after (`1703.09710`).
pub fn extract_resolved(
    files: &BTreeMap<String, String>,
    archive_stem: &str,
    cfg: &Extraction,
) -> Result<Resolved, DropReason> {
    let files = normalized_paths(files);
    let budget = InlineBudget::for_archive(&files, cfg.max_tex_bytes);
    let (main_file, rule) =
        detect_main_file(&files, archive_stem, cfg.max_tex_bytes).ok_or(DropReason::NoMainFile)?;
    let mut resolver = Resolver {
        files: &files,
        cfg,
        main_dir: parent_dir(&main_file).to_string(),
        bbl: bibliography_path(&files, &main_file),
        stack: Vec::new(),
        budget,
        over_budget: false,
        include_cost: 0,
        report: Resolved {
            text: String::new(),
            main_file: main_file.clone(),
            rule,
            included: Vec::new(),
            missing: Vec::new(),
            cycles: Vec::new(),
            depth_capped: false,
        },
    };
    let main_dir = resolver.main_dir.clone();
    let mut text = String::new();
    resolver.inline(&main_file, &main_dir, 0, &mut text);
    if resolver.over_budget {
        return Err(DropReason::IncludeBudget);
    }
    if crate::tex::watchdog::expired() {
        return Err(DropReason::ExtractionTimeLimit);
    }
    resolver.report.text = text;
    Ok(resolver.report)
}

/// The body after the cleaning rules that follow comment removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cleaned {
    pub text: String,
    /// Macro definitions harvested from the preamble and local `.sty` files.
    pub macros_harvested: usize,
    pub expansions: u32,
    /// The macro expansion cap was hit (the paper is kept, marked degraded).
    pub degraded: bool,
}

/// The TeX-aware cleaner after comments are gone: drop the
/// preamble (harvesting its macros and those of `sty_files` when
/// `cfg.macros` is `expand`), expand, then environment and command drops.
pub fn clean_after_comments(text: &str, sty_files: &[&str], cfg: &Cleaning) -> Cleaned {
    let (preamble, body) = split_preamble(text);
    let (body, macros_harvested, expansions, degraded) = match cfg.macros {
        MacroMode::Keep => (body.to_string(), 0, 0, false),
        MacroMode::Expand => {
            let table = harvest_macros(preamble, sty_files);
            let expanded = expand_macros(body, &table, cfg.max_macro_expansions, cfg.max_macro_growth);
            (expanded.text, table.len(), expanded.expansions, expanded.degraded)
        }
    };
    let body = drop_environments(&body, &cfg.drop_environments);
    let text = drop_commands(&body, &cfg.drop_commands);
    Cleaned { text, macros_harvested, expansions, degraded }
}

/// The archive's local packages (`macros.sty`), whose definitions the
/// preamble pulls in with `\usepackage`; in path order.
pub fn local_sty_files(files: &BTreeMap<String, String>) -> Vec<&str> {
    files
        .iter()
        .filter(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name.ends_with(".sty") && !name.starts_with("._")
        })
        .map(|(_, text)| text.as_str())
        .collect()
}

/// Archive keys without `./` (arXiv tars often store `./paper.tex`); the
/// map is copied only when some key needs it.
fn normalized_paths(files: &BTreeMap<String, String>) -> Cow<'_, BTreeMap<String, String>> {
    if !files.keys().any(|p| p.starts_with("./")) {
        return Cow::Borrowed(files);
    }
    Cow::Owned(
        files
            .iter()
            .map(|(path, text)| {
                let mut path = path.as_str();
                while let Some(rest) = path.strip_prefix("./") {
                    path = rest;
                }
                (path.to_string(), text.clone())
            })
            .collect(),
    )
}

/// BibTeX writes `<jobname>.bbl` next to the main file; arXiv requires it
/// to be uploaded, since arXiv does not run BibTeX.
fn bibliography_path(files: &BTreeMap<String, String>, main_file: &str) -> Option<String> {
    let stem = main_file.rsplit_once('.').map_or(main_file, |(stem, _)| stem);
    let own = format!("{stem}.bbl");
    if files.contains_key(&own) {
        return Some(own);
    }
    let mut bbls = files.keys().filter(|p| p.ends_with(".bbl") && !p.contains("._"));
    match (bbls.next(), bbls.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}

struct Resolver<'a> {
    files: &'a BTreeMap<String, String>,
    cfg: &'a Extraction,
    main_dir: String,
    bbl: Option<String>,
    /// Files being inlined, outermost first, for cycle detection.
    stack: Vec<String>,
    budget: InlineBudget,
    /// Set once the output passed the budget; nothing more is inlined.
    over_budget: bool,
    /// Bytes of include commands followed so far: charged to the budget
    /// too, so includes of empty files cannot loop for free.
    include_cost: usize,
    report: Resolved,
}

impl<'a> Resolver<'a> {
    /// Appends `path`'s text to `out` with its includes inlined. `import_dir`
    /// is where plain `\input`s are read from: the main file's directory,
    /// or the directory of the enclosing `\import`.
    fn inline(&mut self, path: &str, import_dir: &str, depth: u32, out: &mut String) {
        let files = self.files;
        let Some(text) = files.get(path) else {
            return;
        };
        self.stack.push(path.to_string());
        let mut copied = 0;
        for include in find_includes(text) {
            if self.spent(out.len() + include.range.start - copied) {
                break;
            }
            out.push_str(&text[copied..include.range.start]);
            copied = include.range.end;
            let command = &text[include.range.clone()];
            self.inline_include(path, command, &include.target, import_dir, depth, out);
        }
        if !self.spent(out.len() + text.len() - copied) {
            out.push_str(&text[copied..]);
        }
        self.stack.pop();
    }

    /// Whether output of `len` bytes would pass the budget (or the stage's
    /// time is up); once spent, it stays spent and inlining stops.
    fn spent(&mut self, len: usize) -> bool {
        self.over_budget |= len.saturating_add(self.include_cost) > self.budget.max_bytes;
        self.over_budget || crate::tex::watchdog::expired()
    }

    /// Where an include points: the archive path (if any), the import
    /// directory for the included file's own includes, and the name as written.
    fn target_path(
        &self,
        from: &str,
        target: &IncludeTarget,
        import_dir: &str,
    ) -> (Option<&'a str>, String, String) {
        let files = self.files;
        let here = parent_dir(from);
        match target {
            IncludeTarget::File(name) => (
                locate(files, &[import_dir, here, &self.main_dir, ""], name),
                import_dir.to_string(),
                name.clone(),
            ),
            IncludeTarget::Import { dir, file } => {
                let dir = join_path(&self.main_dir, dir).unwrap_or_default();
                (locate(files, &[&dir], file), dir, file.clone())
            }
            IncludeTarget::SubImport { dir, file } => {
                let dir = join_path(import_dir, dir).unwrap_or_default();
                (locate(files, &[&dir], file), dir, file.clone())
            }
            IncludeTarget::Bibliography => {
                let bbl = self.bbl.as_deref().and_then(|p| files.get_key_value(p));
                let bbl = bbl.map(|(path, _)| path.as_str());
                (bbl, import_dir.to_string(), bbl.unwrap_or_default().to_string())
            }
        }
    }

    fn inline_include(
        &mut self,
        from: &str,
        command: &str,
        target: &IncludeTarget,
        import_dir: &str,
        depth: u32,
        out: &mut String,
    ) {
        self.include_cost += command.len();
        if *target == IncludeTarget::Bibliography && (!self.cfg.keep_bibliography || self.bbl.is_none()) {
            // Without a .bbl, or when the spec drops the bibliography, the
            // command stays for the cleaning rules.
            out.push_str(command);
            return;
        }
        let (found, child_import_dir, name) = self.target_path(from, target, import_dir);
        let Some(found) = found else {
            self.report.missing.push(name);
            return;
        };
        if self.stack.iter().any(|open| open == found) {
            let mut chain = self.stack.clone();
            chain.push(found.to_string());
            self.report.cycles.push(chain.join(" -> "));
            return;
        }
        if depth + 1 > self.cfg.max_include_depth {
            self.report.depth_capped = true;
            return;
        }
        let oversize = self.files.get(found).is_some_and(|t| t.len() as u64 > self.cfg.max_tex_bytes);
        if oversize {
            self.report.missing.push(format!("{name} (over max_tex_bytes)"));
            return;
        }
        if self.spent(out.len()) {
            return;
        }
        if !self.report.included.iter().any(|p| p == found) {
            self.report.included.push(found.to_string());
        }
        self.inline(found, &child_import_dir, depth + 1, out);
        // A file that ends inside a comment must not comment out the rest of
        // the including line: TeX ends the comment with the file.
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn extraction(max_include_depth: u32, keep_bibliography: bool) -> Extraction {
        Extraction {
            mode: crate::spec::data::ExtractionMode::Resolve,
            max_tex_bytes: 5_000_000,
            max_include_depth,
            keep_bibliography,
        }
    }

    fn archive(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
    }

    fn main_with(body: &str) -> String {
        format!("\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n")
    }

    #[test]
    fn nested_includes_in_subdirectories() {
        let files = archive(&[
            ("./paper/main.tex", &main_with("\\input{sections/intro}\n\\include{sections/method}")),
            ("paper/sections/intro.tex", "INTRO \\input{sections/deep/detail.tex}"),
            ("paper/sections/deep/detail.tex", "DETAIL"),
            ("paper/sections/method.tex", "METHOD"),
        ]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert_eq!(resolved.main_file, "paper/main.tex");
        assert!(resolved.text.contains("INTRO DETAIL\n\nMETHOD\n"), "{}", resolved.text);
        assert_eq!(
            resolved.included,
            ["paper/sections/intro.tex", "paper/sections/deep/detail.tex", "paper/sections/method.tex"]
        );
        assert!(resolved.missing.is_empty() && resolved.cycles.is_empty());
    }

    #[rstest]
    #[case::relative_to_including_file(
        "main.tex",
        "\\input{sub/b}",
        "sub/b.tex",
        "\\input{a}",
        "sub/a.tex",
        "A"
    )]
    #[case::bare_name("main.tex", "\\input b", "b.tex", "A", "c.tex", "\\input c")]
    #[case::import("main.tex", "\\import{chap/}{one}", "chap/one.tex", "\\input{two}", "chap/two.tex", "A")]
    #[case::subimport(
        "main.tex",
        "\\subimport{chap/}{one}",
        "chap/one.tex",
        "\\subimport{sec/}{two}",
        "chap/sec/two.tex",
        "A"
    )]
    fn resolves_include_forms(
        #[case] main: &str,
        #[case] body: &str,
        #[case] first: &str,
        #[case] first_text: &str,
        #[case] second: &str,
        #[case] second_text: &str,
    ) {
        let files = archive(&[(main, &main_with(body)), (first, first_text), (second, second_text)]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert!(resolved.text.contains('A'), "{}", resolved.text);
        assert!(!resolved.text.contains("\\input") && !resolved.text.contains("import{"));
        assert!(resolved.missing.is_empty(), "{:?}", resolved.missing);
    }

    #[test]
    fn commented_out_include_is_not_followed() {
        let files = archive(&[
            ("main.tex", &main_with("% \\input{old}\n\\input{new}")),
            ("old.tex", "OLD"),
            ("new.tex", "NEW"),
        ]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert!(resolved.text.contains("NEW") && !resolved.text.contains("OLD"));
        assert_eq!(resolved.included, ["new.tex"]);
    }

    #[test]
    fn missing_file_is_recorded_and_the_rest_kept() {
        let files = archive(&[("main.tex", &main_with("before \\input{gone} after"))]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert_eq!(resolved.missing, ["gone"]);
        assert!(resolved.text.contains("before  after"));
    }

    #[test]
    fn include_cycle_is_cut_and_recorded() {
        let files = archive(&[
            ("main.tex", &main_with("\\input{a}")),
            ("a.tex", "A \\input{b}"),
            ("b.tex", "B \\input{a}"),
        ]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert_eq!(resolved.cycles, ["main.tex -> a.tex -> b.tex -> a.tex"]);
        assert_eq!(resolved.text.matches('A').count(), 1);
        assert_eq!(resolved.text.matches('B').count(), 1);
    }

    #[rstest]
    #[case::within_cap(3, false, 3)]
    #[case::capped(2, true, 2)]
    fn include_depth_is_capped(#[case] cap: u32, #[case] capped: bool, #[case] levels: usize) {
        let files = archive(&[
            ("main.tex", &main_with("\\input{l1}")),
            ("l1.tex", "L1 \\input{l2}"),
            ("l2.tex", "L2 \\input{l3}"),
            ("l3.tex", "L3"),
        ]);
        let resolved = extract_resolved(&files, "x", &extraction(cap, false)).unwrap();
        assert_eq!(resolved.depth_capped, capped);
        assert_eq!(resolved.included.len(), levels);
    }

    /// An include bomb: `l<i>.tex` includes `l<i+1>` ten times, 15 levels deep.
    #[test]
    fn include_fan_out_bomb_is_dropped_within_budget() {
        let mut files = vec![("main.tex".to_string(), main_with(&"\\input{l1}\n".repeat(10)))];
        for i in 1..15 {
            files.push((format!("l{i}.tex"), format!("\\input{{l{}}}\n", i + 1).repeat(10)));
        }
        files.push(("l15.tex".to_string(), "x".repeat(60)));
        let files: BTreeMap<String, String> = files.into_iter().collect();
        let result = extract_resolved(&files, "x", &extraction(16, false));
        assert_eq!(result, Err(DropReason::IncludeBudget));
        // Includes of empty files cost their command length, so they cannot loop for free.
        let mut files = files;
        files.insert("l15.tex".to_string(), String::new());
        assert_eq!(extract_resolved(&files, "x", &extraction(16, false)), Err(DropReason::IncludeBudget));
    }

    #[test]
    fn repeated_snippet_within_budget_is_kept() {
        let files =
            archive(&[("main.tex", &main_with(&"\\input{row}\n".repeat(50))), ("row.tex", "a & b \\\\")]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert_eq!(resolved.text.matches("a & b").count(), 50);
    }

    #[rstest]
    #[case::kept(true, true)]
    #[case::not_kept(false, false)]
    fn bbl_is_inlined_at_bibliography(#[case] keep: bool, #[case] inlined: bool) {
        let files = archive(&[
            ("ms.tex", &main_with("text \\bibliography{refs}")),
            ("ms.bbl", "\\begin{thebibliography}{1}\\bibitem{a} A. Author.\\end{thebibliography}"),
        ]);
        let resolved = extract_resolved(&files, "x", &extraction(16, keep)).unwrap();
        assert_eq!(resolved.text.contains("A. Author."), inlined);
        assert_eq!(resolved.text.contains("\\bibliography{refs}"), !inlined);
    }

    #[test]
    fn no_main_file_is_a_drop_reason() {
        let files = archive(&[("intro.tex", "just a fragment")]);
        assert_eq!(extract_resolved(&files, "x", &extraction(16, false)), Err(DropReason::NoMainFile));
    }

    #[test]
    fn included_file_ending_in_a_comment_does_not_swallow_the_line() {
        let files =
            archive(&[("main.tex", &main_with("\\input{a} tail")), ("a.tex", "A % trailing comment")]);
        let resolved = extract_resolved(&files, "x", &extraction(16, false)).unwrap();
        assert!(strip_comments(&resolved.text).contains("tail"));
    }

    #[test]
    fn cleaning_chain_expands_and_drops() {
        let text = "\\documentclass{article}\n\\newcommand{\\R}{\\mathbb{R}}\n\\begin{document}\nLet $x\\in\\R$~\\cite{k}.\n\\begin{figure}x\\end{figure}\n\\end{document}";
        let cfg = Cleaning {
            cleaner: crate::spec::data::Cleaner::Tex,
            macros: MacroMode::Expand,
            max_macro_expansions: 100,
            max_macro_growth: 4.0,
            drop_environments: vec!["figure".into()],
            drop_commands: vec!["cite".into()],
        };
        let cleaned = clean_after_comments(text, &[], &cfg);
        assert_eq!(cleaned.text, "\nLet $x\\in\\mathbb{R}$~.\n\n");
        assert_eq!((cleaned.macros_harvested, cleaned.expansions, cleaned.degraded), (1, 1, false));
    }

    /// Arbitrary LaTeX-like input, multi-byte characters next to every
    /// syntax character: no rule may panic (they slice by byte offsets).
    #[test]
    fn no_rule_panics_on_arbitrary_input() {
        const PIECES: &[&str] = &[
            "\\",
            "{",
            "}",
            "[",
            "]",
            "%",
            "$",
            "$$",
            "\\verb",
            "§",
            "é",
            "\\begin{verbatim}",
            "\\end{verbatim}",
            "\\iffalse",
            "\\if0",
            "\\fi",
            "\\else",
            "#1",
            "##",
            "\\newcommand",
            "\\def",
            "\\let",
            "\\x",
            "\\input",
            "\\input ",
            "\\url",
            "\\[",
            "\\]",
            "\\(",
            "\\)",
            "\\'",
            "\\\"",
            "\\v",
            "\\ss",
            "\\cite",
            "\\footnote",
            "\\begin{figure}",
            "\\end{figure}",
            "\\begin{document}",
            "\\end{document}",
            "\\documentclass",
            "\n",
            " ",
            "a",
            "\u{85}",
            "\r",
            "\\DeclareMathOperator",
            "\\import",
            "\\begin{comment}",
            "[2]",
            "{\\x}",
            "\\bibliography{r}",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let names = vec!["figure".to_string(), "cite".to_string(), "footnote".to_string()];
        let normalization = crate::spec::data::Normalization {
            unicode: crate::spec::data::UnicodeForm::Nfkc,
            accents: true,
            whitespace: crate::spec::data::WhitespaceMode::Paragraphs,
            strip_control: true,
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            let table = harvest_macros(&text, &[&text]);
            let expanded = expand_macros(&text, &table, 50, 2.0);
            let _ = strip_comments(&text);
            let _ = drop_environments(&text, &names);
            let _ = drop_commands(&text, &names);
            let _ = crate::prepare::normalize::normalize(&expanded.text, &normalization);
            let _ = crate::prepare::quality::mask_for_language(&text);
            let files = archive(&[
                ("main.tex", &format!("\\documentclass{{article}}\\begin{{document}}{text}")),
                ("x.tex", &text),
            ]);
            let _ = extract_resolved(&files, "x", &extraction(4, true));
        }
    }
}

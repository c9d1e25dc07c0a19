//! One synthetic paper per case: its source bytes as arXiv would store them,
//! its OAI metadata record, and the marker sentences tests look for.

use std::io::Read;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::cases::Case;
use super::pack::{gzip, tar_gz, Member};
use super::prose::{self, capitalise, Dice, Field, Language, Writer};

/// One entry of `versions` in the OAI snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    /// RFC 2822 as in the snapshot: `Mon, 2 Apr 2007 19:18:42 GMT`.
    pub created: String,
}

/// A record of `arxiv-metadata-oai-snapshot.json`, fields in the snapshot's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub submitter: Option<String>,
    pub authors: String,
    pub title: String,
    pub comments: Option<String>,
    #[serde(rename = "journal-ref")]
    pub journal_ref: Option<String>,
    pub doi: Option<String>,
    #[serde(rename = "report-no")]
    pub report_no: Option<String>,
    pub categories: String,
    pub license: Option<String>,
    #[serde(rename = "abstract")]
    pub abstract_text: Option<String>,
    pub versions: Vec<Version>,
    pub update_date: String,
    pub authors_parsed: Vec<[String; 3]>,
}

/// Where a marker sentence sits, which decides where it must (not) survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerKind {
    /// In a file reached by `\input`/`\include`: present under `resolve` and `concat`.
    IncludedFile,
    /// In a file only a commented-out `\input` names: absent under `resolve`.
    CommentedInclude,
    /// Inside `\iffalse … \fi` (after a nested `\iffalse … \fi`): absent under `cleaner: tex`.
    Iffalse,
    /// Inside a `comment` environment: absent under `cleaner: tex`.
    CommentEnvironment,
    /// After `%` on its own line: absent under every comment mode.
    LineComment,
}

/// One row of `include_markers.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub id: String,
    pub file: String,
    pub kind: MarkerKind,
    pub sentence: String,
}

/// A generated paper, ready to be packed into a bulk tar.
#[derive(Debug, Clone)]
pub struct Paper {
    pub id: String,
    pub case: Case,
    /// Member name inside the bulk tar, e.g. `0601/math0601001.gz`.
    pub member: String,
    pub bytes: Vec<u8>,
    pub record: Option<Record>,
    pub markers: Vec<Marker>,
    /// The LaTeX a duplicate case copies (ordinary papers only).
    main_tex: Option<String>,
}

/// The cap the oversized case must exceed: `validation.max_member_bytes` in
/// `runs/base.yaml` (64 MiB, no profile overrides it); a test checks it.
pub const OVERSIZED_MEMBER_BYTES: u64 = 64 * 1024 * 1024 + 1024 * 1024;

/// Size of the huge case's only `.tex`: above the released 5,000,000-byte
/// `extraction.max_tex_bytes`, below the member cap; a test checks both.
pub const HUGE_TEX_BYTES: usize = 5_200_000;

/// Builds papers in input order, remembering the latest ordinary paper for
/// the duplicate cases and counting old-style ids.
pub struct PaperFactory {
    seed: u64,
    last_ordinary: Option<Paper>,
    old_style_count: u32,
    pre_1995_count: u32,
}

impl PaperFactory {
    pub fn new(seed: u64) -> Self {
        PaperFactory { seed, last_ordinary: None, old_style_count: 0, pre_1995_count: 0 }
    }

    /// The paper at `index` (0-based) of the input order.
    pub fn build(&mut self, index: u32) -> Result<Paper> {
        let case = Case::at(index);
        let mut dice = Dice::for_paper(self.seed, index);
        let id = self.id_for(case, index);
        let paper = match case {
            Case::ExactDuplicate => self.exact_duplicate(&id)?,
            Case::NearDuplicate => self.near_duplicate(&id)?,
            _ => fresh_paper(&mut dice, case, &id, index)?,
        };
        if case == Case::Ordinary {
            self.last_ordinary = Some(paper.clone());
        }
        Ok(paper)
    }

    fn id_for(&mut self, case: Case, index: u32) -> String {
        match case {
            Case::OldStyleId => {
                self.old_style_count += 1;
                old_style_id("math", 2006, 1, self.old_style_count)
            }
            Case::Pre1995 => {
                self.pre_1995_count += 1;
                old_style_id("hep-th", 1993, 11, self.pre_1995_count)
            }
            _ => format!("2401.{:05}", index + 1),
        }
    }

    fn source(&self) -> Result<&Paper> {
        self.last_ordinary.as_ref().context("a duplicate case needs an earlier ordinary paper (schedule bug)")
    }

    /// The same bytes and metadata under a new id: a paper submitted twice.
    fn exact_duplicate(&self, id: &str) -> Result<Paper> {
        let source = self.source()?;
        let mut paper = source.clone();
        paper.case = Case::ExactDuplicate;
        rename(&mut paper, id);
        paper.main_tex = None;
        Ok(paper)
    }

    /// A resubmission with a few words changed: same metadata, new id.
    fn near_duplicate(&self, id: &str) -> Result<Paper> {
        let source = self.source()?;
        let tex =
            source.main_tex.as_deref().context("the near-duplicate source has no LaTeX (schedule bug)")?;
        let changed = change_a_few_words(tex, 3);
        anyhow::ensure!(changed != tex, "near-duplicate identical to its source");
        let mut paper = source.clone();
        paper.case = Case::NearDuplicate;
        paper.bytes = tar_gz(&[Member::new("main.tex", changed.into_bytes())])?;
        rename(&mut paper, id);
        paper.main_tex = None;
        Ok(paper)
    }
}

fn rename(paper: &mut Paper, id: &str) {
    paper.id = id.to_string();
    paper.member = member_name(id, ".gz");
    if let Some(record) = &mut paper.record {
        record.id = id.to_string();
    }
}

/// `math/0601001`: archive, two-digit year and month, three-digit number;
/// the month advances every 999 papers as arXiv's numbering did.
fn old_style_id(archive: &str, year: u32, month: u32, ordinal: u32) -> String {
    let months = (ordinal - 1) / 999;
    let number = (ordinal - 1) % 999 + 1;
    let m0 = month - 1 + months;
    let (y, m) = (year + m0 / 12, m0 % 12 + 1);
    format!("{archive}/{:02}{m:02}{number:03}", y % 100)
}

/// Bulk-tar member name: `YYMM/<id without slash><ext>`, as arXiv stores
/// old-style ids (`0601/math0601001.gz` holds `math/0601001`).
pub fn member_name(id: &str, ext: &str) -> String {
    let stem = id.replace('/', "");
    let digits = id.rsplit('/').next().unwrap_or(id);
    let yymm: String = digits.chars().take(4).collect();
    format!("{yymm}/{stem}{ext}")
}

/// Swaps the first `n` adjectives of the document body for others: the
/// near-duplicate is the same paper with a few words edited.
fn change_a_few_words(tex: &str, n: usize) -> String {
    let start = tex.find("\\begin{document}").unwrap_or(0);
    let (head, body) = tex.split_at(start);
    let mut changed = 0;
    let words: Vec<String> = body
        .split(' ')
        .map(|word| match prose::adjective_index(word) {
            Some(k) if changed < n => {
                changed += 1;
                prose::adjective_after(k).to_string()
            }
            _ => word.to_string(),
        })
        .collect();
    format!("{head}{}", words.join(" "))
}

/// An English paper's parts before rendering to LaTeX.
struct Draft {
    preamble: Vec<String>,
    title: String,
    authors: Vec<(String, String)>,
    abstract_text: String,
    /// Whether the body repeats the abstract in an `abstract` environment.
    abstract_in_body: bool,
    body: Vec<String>,
    bibliography: Vec<String>,
}

impl Draft {
    fn render(&self) -> String {
        let mut out = String::from("\\documentclass[11pt]{article}\n");
        out.push_str("\\usepackage{amsmath,amssymb,amsthm}\n\\usepackage{hyperref}\n");
        for line in &self.preamble {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("\\newtheorem{theorem}{Theorem}\n\\newtheorem{lemma}[theorem]{Lemma}\n\n");
        out.push_str(&format!("\\title{{{}}}\n", self.title));
        let names: Vec<String> = self.authors.iter().map(|(first, last)| format!("{first} {last}")).collect();
        out.push_str(&format!("\\author{{{}}}\n", names.join(" \\and ")));
        out.push_str("\\begin{document}\n\\maketitle\n");
        if self.abstract_in_body {
            out.push_str(&format!("\\begin{{abstract}}\n{}\n\\end{{abstract}}\n", self.abstract_text));
        }
        out.push('\n');
        out.push_str(&self.body.join("\n\n"));
        out.push_str("\n\n");
        if !self.bibliography.is_empty() {
            out.push_str("\\begin{thebibliography}{99}\n");
            out.push_str(&self.bibliography.join("\n"));
            out.push_str("\n\\end{thebibliography}\n");
        }
        out.push_str("\\end{document}\n");
        out
    }
}

/// Sections of English prose with equations, theorems and the odd comment.
fn english_sections(w: &mut Writer, count: usize, first_label: usize) -> Vec<String> {
    let mut blocks = Vec::new();
    for s in 0..count {
        let label = first_label + s;
        let title = if s == 0 && first_label == 1 { "Introduction" } else { w.section_title() };
        blocks.push(format!("\\section{{{title}}}\\label{{sec:{label}}}"));
        let paragraphs = w.dice.between(2, 3);
        for p in 0..paragraphs {
            blocks.push(w.paragraph(3, 6));
            if p == 0 && w.dice.chance(60) {
                blocks.push(prose::equation(w.dice, label * 10 + p));
            }
        }
        if w.dice.chance(40) {
            let statement = w.sentence();
            let proof = w.paragraph(2, 3);
            blocks.push(format!(
                "\\begin{{theorem}}\\label{{thm:{label}}}\n{statement}\n\\end{{theorem}}\n\\begin{{proof}}\n{proof}\n\\end{{proof}}"
            ));
        }
        if w.dice.chance(25) {
            // Authors leave notes to themselves; every comment mode removes these.
            blocks.push(format!("% TODO: tighten the constant in ({label}.{p})", p = s + 1));
        }
    }
    blocks
}

fn bibliography(dice: &mut Dice) -> Vec<String> {
    (1..=12).map(|k| prose::bibitem(dice, k)).collect()
}

/// The ordinary English paper every LaTeX case starts from.
fn english_draft(dice: &mut Dice, field: Field, sections: usize) -> Draft {
    let mut w = Writer::new(dice, field, Language::English);
    let title = w.title();
    let sentences = w.dice.between(4, 6);
    let abstract_text = w.abstract_text(sentences);
    let body = english_sections(&mut w, sections, 1);
    let n_authors = dice.between(1, 4);
    Draft {
        preamble: Vec::new(),
        title,
        authors: prose::authors(dice, n_authors),
        abstract_text,
        abstract_in_body: true,
        body,
        bibliography: bibliography(dice),
    }
}

/// What a fresh (non-duplicate) paper is made of before packing.
struct Parts {
    draft: Draft,
    field: Field,
    bytes: Vec<u8>,
    markers: Vec<Marker>,
    main_tex: Option<String>,
}

fn fresh_paper(dice: &mut Dice, case: Case, id: &str, index: u32) -> Result<Paper> {
    let field = Field::roll(dice);
    let parts = match case {
        Case::Ordinary | Case::OldStyleId => {
            let draft = full_draft(dice, field);
            let tex = draft.render();
            let bytes = tar_gz(&[Member::new("main.tex", tex.clone().into_bytes())])?;
            Parts { draft, field, bytes, markers: Vec::new(), main_tex: Some(tex) }
        }
        Case::MultiFile => multi_file(dice, field, id)?,
        Case::Macros => packed(macros(dice, field), field)?,
        Case::VerbatimPercent => packed(verbatim_percent(dice, field), field)?,
        Case::EscapedPercent => packed(escaped_percent(dice, field), field)?,
        Case::HiddenText => hidden_text(dice, field, id)?,
        Case::Latin1 => latin1(dice, field)?,
        Case::MacosDotfiles => {
            let draft = full_draft(dice, field);
            let bytes = tar_gz(&[
                Member::new("._main.tex", apple_double()),
                Member::new("main.tex", draft.render().into_bytes()),
                Member::new(".DS_Store", ds_store()),
            ])?;
            simple(draft, field, bytes)
        }
        Case::SingleFileGzip => {
            let draft = full_draft(dice, field);
            let bytes = gzip(draft.render().as_bytes())?;
            simple(draft, field, bytes)
        }
        Case::PlainTexNamedGz => {
            let draft = full_draft(dice, field);
            let bytes = draft.render().into_bytes();
            simple(draft, field, bytes)
        }
        Case::PdfOnly => {
            let draft = english_draft(dice, field, 1);
            let bytes = pdf(&draft.title);
            simple(draft, field, bytes)
        }
        Case::HtmlOnly => {
            let draft = english_draft(dice, field, 1);
            let bytes = gzip(html(&draft).as_bytes())?;
            simple(draft, field, bytes)
        }
        Case::PostScript => {
            let draft = english_draft(dice, field, 1);
            let bytes = gzip(postscript(&draft.title).as_bytes())?;
            simple(draft, field, bytes)
        }
        Case::TruncatedGzip => {
            let draft = full_draft(dice, field);
            let full = tar_gz(&[Member::new("main.tex", draft.render().into_bytes())])?;
            // Cut well past the 10-byte gzip header, so sniffing still says gzip.
            let bytes = full[..full.len() / 2].to_vec();
            simple(draft, field, bytes)
        }
        Case::ZeroByte => simple(english_draft(dice, field, 1), field, Vec::new()),
        Case::PathTraversal => {
            let draft = full_draft(dice, field);
            let bytes = tar_gz(&[
                Member::new("main.tex", draft.render().into_bytes()),
                Member::new(
                    "../evil.tex",
                    b"\\input{/etc/passwd}\nThis file tries to escape the extraction directory.\n".to_vec(),
                ),
            ])?;
            simple(draft, field, bytes)
        }
        Case::OversizedMember => {
            let draft = english_draft(dice, field, 1);
            simple(draft, field, oversized_package()?)
        }
        Case::FiguresOnly => {
            let draft = english_draft(dice, field, 1);
            let bytes =
                tar_gz(&[Member::new("fig1.png", png()), Member::new("fig2.eps", eps().into_bytes())])?;
            simple(draft, field, bytes)
        }
        Case::HugeTex => {
            let draft = english_draft(dice, field, 1);
            simple(draft, field, huge_tex_package()?)
        }
        Case::FormulaHeavy => {
            let draft = formula_heavy(dice);
            let bytes = tar_gz(&[Member::new("main.tex", draft.render().into_bytes())])?;
            simple(draft, field, bytes)
        }
        Case::NonEnglish => {
            let language =
                if (index / Case::BLOCK).is_multiple_of(2) { Language::French } else { Language::German };
            packed(foreign(dice, Field::Math, language), Field::Math)?
        }
        Case::TooShort => packed(too_short(dice), field)?,
        Case::CategoryPhysics
        | Case::CategoryMathPh
        | Case::Withdrawn
        | Case::Pre1995
        | Case::AbstractTooShort
        | Case::AbstractNull
        | Case::MissingMetadata => {
            let draft = full_draft(dice, field);
            packed(draft, field)?
        }
        Case::ExactDuplicate | Case::NearDuplicate => {
            anyhow::bail!("duplicates are built from their source paper")
        }
    };
    let record = metadata_record(dice, case, id, index, &parts);
    let ext = if case == Case::PdfOnly { ".pdf" } else { ".gz" };
    Ok(Paper {
        id: id.to_string(),
        case,
        member: member_name(id, ext),
        bytes: parts.bytes,
        record,
        markers: parts.markers,
        main_tex: parts.main_tex,
    })
}

/// An ordinary English paper of three to five sections.
fn full_draft(dice: &mut Dice, field: Field) -> Draft {
    let sections = dice.between(3, 5);
    english_draft(dice, field, sections)
}

fn simple(draft: Draft, field: Field, bytes: Vec<u8>) -> Parts {
    Parts { draft, field, bytes, markers: Vec::new(), main_tex: None }
}

/// A one-file paper as `main.tex` in a gzipped tar.
fn packed(draft: Draft, field: Field) -> Result<Parts> {
    let bytes = tar_gz(&[Member::new("main.tex", draft.render().into_bytes())])?;
    Ok(simple(draft, field, bytes))
}

fn marker(id: &str, file: &str, kind: MarkerKind, sentence: String) -> Marker {
    Marker { id: id.to_string(), file: file.to_string(), kind, sentence }
}

/// `main.tex` includes `sections/intro` (spelled with or without `.tex`, or as
/// a bare name), `\include`s `sections/method`, which `\input`s the nested
/// `sections/proofs/lemma.tex` (paths relative to the main file's directory,
/// as LaTeX resolves them), and names `sections/old` only in a comment.
fn multi_file(dice: &mut Dice, field: Field, id: &str) -> Result<Parts> {
    let mut draft = english_draft(dice, field, 1);
    let mut w = Writer::new(dice, field, Language::English);
    let intro_include = match w.dice.below(3) {
        0 => "\\input{sections/intro}",
        1 => "\\input{sections/intro.tex}",
        _ => "\\input sections/intro",
    };
    let lemma_include = if w.dice.chance(50) {
        "\\input{sections/proofs/lemma.tex}"
    } else {
        "\\input{sections/proofs/lemma}"
    };
    let file_sentence =
        |path: &str| format!("The material in the file {path} of paper {id} is collected in this paragraph.");
    let intro = format!(
        "\\section{{Background}}\\label{{sec:8}}\n{} {}\n",
        file_sentence("sections/intro.tex"),
        w.paragraph(3, 5)
    );
    let method = format!(
        "\\section{{{}}}\\label{{sec:9}}\n{}\n\n{} {}\n\n{lemma_include}\n",
        w.section_title(),
        w.paragraph(3, 5),
        file_sentence("sections/method.tex"),
        w.paragraph(2, 4)
    );
    let lemma = format!(
        "\\begin{{lemma}}\\label{{lem:key}}\n{}\n\\end{{lemma}}\n\\begin{{proof}}\n{} {}\n\\end{{proof}}\n",
        w.sentence(),
        file_sentence("sections/proofs/lemma.tex"),
        w.paragraph(2, 3)
    );
    let old =
        format!("\\section{{Earlier draft}}\n{} {}\n", file_sentence("sections/old.tex"), w.paragraph(2, 3));
    let conclusion = w.paragraph(2, 4);
    draft.body.push(intro_include.to_string());
    draft.body.push(format!("% {}", "\\input{sections/old}"));
    draft.body.push("\\include{sections/method}".to_string());
    draft.body.push(format!("\\section{{Conclusion}}\n{conclusion}"));
    let markers = vec![
        marker(id, "sections/intro.tex", MarkerKind::IncludedFile, file_sentence("sections/intro.tex")),
        marker(id, "sections/method.tex", MarkerKind::IncludedFile, file_sentence("sections/method.tex")),
        marker(
            id,
            "sections/proofs/lemma.tex",
            MarkerKind::IncludedFile,
            file_sentence("sections/proofs/lemma.tex"),
        ),
        marker(id, "sections/old.tex", MarkerKind::CommentedInclude, file_sentence("sections/old.tex")),
    ];
    let bytes = tar_gz(&[
        Member::new("main.tex", draft.render().into_bytes()),
        Member::new("sections/intro.tex", intro.into_bytes()),
        Member::new("sections/method.tex", method.into_bytes()),
        Member::new("sections/proofs/lemma.tex", lemma.into_bytes()),
        Member::new("sections/old.tex", old.into_bytes()),
    ])?;
    Ok(Parts { draft, field, bytes, markers, main_tex: None })
}

const METHOD_NAMES: &[&str] =
    &["FlowSketch", "GraphMender", "SpecTrace", "LatticeNet", "QuickHull", "DeepRidge"];

/// Definitions with arguments, an optional default, `\def`, `\let` and
/// `\DeclareMathOperator`, used in math and (the prose macro) in text.
fn macros(dice: &mut Dice, field: Field) -> Draft {
    let mut draft = full_draft(dice, field);
    let name = dice.pick(METHOD_NAMES);
    draft.preamble.extend([
        "\\newcommand{\\R}{\\mathbb{R}}".to_string(),
        "\\newcommand{\\norm}[1]{\\lVert #1\\rVert}".to_string(),
        "\\newcommand{\\inner}[2][\\mu]{\\langle #2 \\rangle_{#1}}".to_string(),
        "\\providecommand{\\abs}[1]{\\lvert #1\\rvert}".to_string(),
        "\\renewcommand{\\vec}[1]{\\mathbf{#1}}".to_string(),
        "\\DeclareMathOperator{\\Tr}{Tr}".to_string(),
        "\\def\\eps{\\varepsilon}".to_string(),
        "\\let\\phi\\varphi".to_string(),
        format!("\\newcommand{{\\method}}{{{name}}}"),
    ]);
    let mut w = Writer::new(dice, field, Language::English);
    let usage = format!(
        "We call the resulting procedure \\method{{}} and compare \\method{{}} with the {} baseline. \
         For $\\vec{{x}} \\in \\R^{{{n}}}$ we write $\\norm{{\\vec{{x}}}}^2 = \\inner{{\\vec{{x}}, \\vec{{x}}}}$ \
         and, for a second weight, $\\inner[\\nu]{{\\vec{{x}}, \\vec{{y}}}} \\le \\abs{{\\lambda}} \\norm{{\\vec{{y}}}}$. \
         Moreover $\\Tr(A) \\le \\eps \\phi(\\vec{{x}})$ whenever {}. {}",
        w.dice.pick(&["standard", "classical", "greedy", "spectral"]),
        w.dice.pick(&["the step is small", "the graph is sparse", "the data are bounded"]),
        w.paragraph(2, 3),
        n = w.dice.between(2, 9),
    );
    draft.body.insert(2.min(draft.body.len()), usage);
    draft
}

/// `%` that is not a comment: in `verbatim`, `\verb` and `\url`.
fn verbatim_percent(dice: &mut Dice, field: Field) -> Draft {
    let mut draft = full_draft(dice, field);
    let mut w = Writer::new(dice, field, Language::English);
    let width = w.dice.between(3, 9);
    let block = format!(
        "The experiments print one line per run with the format string \\verb|%{width}.2f %s| and the data are available at \\url{{https://example.org/data%20sets/v{}}}. {}\n\
         \\begin{{verbatim}}\n\
         for (i = 0; i < n; i++) printf(\"%d %s\\n\", i, name[i]); % not a comment\n\
         rate = 100 * hits / total  % percent of cache hits\n\
         \\end{{verbatim}}\n\
         {}",
        w.dice.between(1, 9),
        w.paragraph(1, 2),
        w.paragraph(2, 3),
    );
    draft.body.insert(2.min(draft.body.len()), block);
    draft
}

/// `\%` in prose with more prose after it on the same line: the released
/// `%.*` regex eats everything after the backslash.
fn escaped_percent(dice: &mut Dice, field: Field) -> Draft {
    let mut draft = full_draft(dice, field);
    let mut w = Writer::new(dice, field, Language::English);
    let block = format!(
        "{} On the largest instance the error drops by {}\\% relative to the {} baseline, and {} {}",
        w.sentence(),
        w.dice.between(5, 60),
        w.dice.pick(&["standard", "classical", "greedy", "spectral"]),
        lowercase_first(&w.sentence()),
        w.paragraph(2, 3),
    );
    draft.body.insert(2.min(draft.body.len()), block);
    draft
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Text that is never typeset: `\iffalse` with a nested conditional, a
/// `comment` environment and a line comment, each with a marker sentence.
fn hidden_text(dice: &mut Dice, field: Field, id: &str) -> Result<Parts> {
    let mut draft = full_draft(dice, field);
    draft.preamble.push("\\usepackage{comment}".to_string());
    let mut w = Writer::new(dice, field, Language::English);
    let iffalse =
        format!("This draft remark of paper {id} sat inside an iffalse block and was never typeset.");
    let comment_env =
        format!("This draft remark of paper {id} sat inside a comment environment and was never typeset.");
    let line = format!("This draft remark of paper {id} sat behind a percent sign and was never typeset.");
    let block = format!(
        "\\iffalse\n{}\n\\iffalse nested \\fi\n{iffalse}\n\\fi\n\\begin{{comment}}\n{comment_env} {}\n\\end{{comment}}\n% {line}\n{}",
        w.paragraph(1, 2),
        w.paragraph(1, 2),
        w.paragraph(2, 3),
    );
    draft.body.insert(2.min(draft.body.len()), block);
    let markers = vec![
        marker(id, "main.tex", MarkerKind::Iffalse, iffalse),
        marker(id, "main.tex", MarkerKind::CommentEnvironment, comment_env),
        marker(id, "main.tex", MarkerKind::LineComment, line),
    ];
    let bytes = tar_gz(&[Member::new("main.tex", draft.render().into_bytes())])?;
    Ok(Parts { draft, field, bytes, markers, main_tex: None })
}

const ACCENTED_AUTHORS: &[(&str, &str)] = &[
    ("José", "Muñoz"),
    ("Françoise", "Lévêque"),
    ("Jürgen", "Müller"),
    ("Åsa", "Ström"),
    ("Søren", "Jørgensen"),
    ("Inês", "Conceição"),
];

/// A Latin-1 file, as many pre-2005 submissions were: accented names in the
/// author list and in the text, `\usepackage[latin1]{inputenc}`.
fn latin1(dice: &mut Dice, field: Field) -> Result<Parts> {
    let mut draft = full_draft(dice, field);
    draft.preamble.push("\\usepackage[latin1]{inputenc}".to_string());
    let (first, last) = ACCENTED_AUTHORS[dice.below(ACCENTED_AUTHORS.len())];
    draft.authors.insert(0, (first.to_string(), last.to_string()));
    let mut w = Writer::new(dice, field, Language::English);
    let history = format!(
        "The estimate goes back to Poincaré and Hölder, and the sharp constant was found by Fréchet; \
         we follow the presentation of {first} {last}. {}",
        w.paragraph(2, 3)
    );
    draft.body.insert(1.min(draft.body.len()), history);
    let bytes = tar_gz(&[Member::new("main.tex", to_latin1(&draft.render())?)])?;
    Ok(simple(draft, field, bytes))
}

/// Encodes text as ISO-8859-1; every character of the synthetic text is in range.
fn to_latin1(text: &str) -> Result<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).with_context(|| format!("{c:?} is not Latin-1")))
        .collect()
}

/// Sections of a formula-heavy paper: [`ALIGNS_PER_SECTION`] `align`
/// blocks each, the first opened by a glue sentence. Tuned against
/// `whatlang`: with this much math the whole text stays below 0.5 English
/// confidence on every seed tried, while the masked prose scores 1.0.
const SECTIONS: usize = 4;
const ALIGNS_PER_SECTION: usize = 8;

const FORMULA_SECTIONS: &[&str] = &["Identities", "Estimates", "Computations", "Proofs", "Bounds"];

/// The short sentences formula-heavy papers use between displays.
const FORMULA_GLUE: &[&str] = &[
    "We begin with the basic identities.",
    "A direct computation gives the following relations.",
    "Summing over all indices we obtain",
    "The remaining identities follow in the same way.",
    "Hence the following estimates hold.",
    "By the previous lemma we also have",
    "In particular, the following bounds are sharp.",
    "Expanding both sides we find",
];

/// English glue around dense display math: whole-text language detection
/// sees mostly command names and single letters (the released false
/// negative), while the prose alone is plainly English.
fn formula_heavy(dice: &mut Dice) -> Draft {
    let title = format!(
        "Explicit identities for ${}$-valued kernels of order ${}$",
        dice.pick(&["\\mathfrak{g}", "\\mathfrak{sl}_{2}", "\\mathbb{C}^{n}", "L^{p}", "\\mathcal{H}"]),
        dice.between(2, 12)
    );
    let abstract_text = format!(
        "We prove that {} and {} for all {} with {}. {}",
        prose::inline_math(dice),
        prose::inline_math(dice),
        prose::inline_math(dice),
        prose::inline_math(dice),
        (0..6).map(|_| format!("${}$", prose::display_expression(dice))).collect::<Vec<_>>().join(", ")
    );
    let mut body = Vec::new();
    for s in 1..=SECTIONS {
        body.push(format!("\\section{{{}}}\\label{{sec:{s}}}", dice.pick(FORMULA_SECTIONS)));
        if s == 1 {
            body.push(dice.pick(FORMULA_GLUE).to_string());
        }
        for _ in 0..ALIGNS_PER_SECTION {
            let lines = dice.between(8, 10);
            body.push(prose::align_block(dice, lines));
        }
    }
    let n_authors = dice.between(1, 3);
    Draft {
        preamble: Vec::new(),
        title,
        authors: prose::authors(dice, n_authors),
        abstract_text,
        abstract_in_body: false,
        body,
        bibliography: Vec::new(),
    }
}

/// A French or German paper with the usual math.
fn foreign(dice: &mut Dice, field: Field, language: Language) -> Draft {
    let mut w = Writer::new(dice, field, language);
    let (title, headings) = match language {
        Language::French => (
            "Sur le comportement asymptotique des solutions".to_string(),
            ["Introduction", "Notations et rappels", "Démonstration du théorème principal"],
        ),
        _ => (
            "Über das asymptotische Verhalten der Lösungen".to_string(),
            ["Einleitung", "Bezeichnungen", "Beweis des Hauptsatzes"],
        ),
    };
    let abstract_text = w.abstract_text(4);
    let mut body = Vec::new();
    for (s, heading) in headings.iter().enumerate() {
        body.push(format!("\\section{{{heading}}}\\label{{sec:{}}}", s + 1));
        body.push(w.paragraph(4, 6));
        if w.dice.chance(60) {
            body.push(prose::equation(w.dice, s));
        }
        body.push(w.paragraph(3, 5));
    }
    let n_authors = dice.between(1, 3);
    Draft {
        preamble: vec!["\\usepackage[utf8]{inputenc}".to_string()],
        title,
        authors: prose::authors(dice, n_authors),
        abstract_text,
        abstract_in_body: true,
        body,
        bibliography: Vec::new(),
    }
}

/// A short correction: title (≤ 5 words) + abstract (23–26 words) + body
/// (≤ 10 words) + the three labels stays below 50 words, while the abstract
/// clears the 20-word metadata rule.
fn too_short(dice: &mut Dice) -> Draft {
    let adjective = prose::ADJECTIVES[dice.below(prose::ADJECTIVES.len())];
    let noun = dice.pick(&["operator", "graph", "model", "estimate", "lattice", "kernel"]);
    let quantity = dice.pick(&["regularity", "latency", "accuracy", "regret", "throughput", "entropy"]);
    let mut title = format!("A correction on {adjective} {noun}s");
    capitalise(&mut title);
    let abstract_text = format!(
        "We correct an error in the {quantity} stated for {adjective} {noun}s in our earlier paper on this subject; all other results remain unchanged."
    );
    let body = vec![format!(
        "\\section{{Correction}}\nThe constant in Lemma {} should read {}.",
        dice.between(2, 9),
        dice.between(10, 99)
    )];
    let n_authors = dice.between(1, 2);
    Draft {
        preamble: Vec::new(),
        title,
        authors: prose::authors(dice, n_authors),
        abstract_text,
        abstract_in_body: false,
        body,
        bibliography: Vec::new(),
    }
}

/// The AppleDouble companion macOS tar writes for `main.tex`: header,
/// Finder info and an extended-attribute block with a quarantine flag.
fn apple_double() -> Vec<u8> {
    let mut bytes = vec![0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00];
    bytes.extend_from_slice(b"Mac OS X        ");
    bytes.extend_from_slice(&[0x00, 0x02]);
    // Entry 9 (Finder info) at 50, 3760 bytes long; entry 2 (resource fork), empty.
    bytes.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 0x32, 0, 0, 0x0e, 0xb0]);
    bytes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0x0e, 0xe2, 0, 0, 0, 0]);
    bytes.extend_from_slice(b"TEXTMSWD");
    bytes.extend_from_slice(&[0; 24]);
    bytes.extend_from_slice(b"ATTR");
    bytes.extend_from_slice(&[0; 30]);
    bytes.extend_from_slice(b"com.apple.quarantine\0");
    bytes.extend_from_slice(b"0083;65a1b2c3;Safari;");
    bytes.resize(4096, 0);
    bytes
}

fn ds_store() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 1];
    bytes.extend_from_slice(b"Bud1");
    bytes.resize(6148, 0);
    bytes
}

fn pdf(title: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n".to_vec();
    bytes.extend_from_slice(
        format!(
            "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
             2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n\
             3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n\
             4 0 obj\n<< /Title ({title}) /Producer (pdfTeX-1.40.25) >>\nendobj\n\
             trailer\n<< /Root 1 0 R /Info 4 0 R >>\n%%EOF\n"
        )
        .as_bytes(),
    );
    bytes
}

fn html(draft: &Draft) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{t}</title></head>\n\
         <body>\n<h1>{t}</h1>\n<p>{a}</p>\n</body>\n</html>\n",
        t = draft.title,
        a = draft.abstract_text
    )
}

fn postscript(title: &str) -> String {
    format!(
        "%!PS-Adobe-2.0\n%%Creator: dvips(k) 5.86 Copyright 1999 Radical Eye Software\n%%Title: {title}\n\
         %%Pages: 1\n%%EndComments\n/Times-Roman findfont 12 scalefont setfont\n\
         72 720 moveto ({title}) show\nshowpage\n%%EOF\n"
    )
}

fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 13]);
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&[0, 0, 0, 64, 0, 0, 0, 48, 8, 2, 0, 0, 0]);
    bytes.extend_from_slice(&[0x5b, 0x8f, 0x3a, 0x71]);
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(b"IEND");
    bytes.extend_from_slice(&[0xae, 0x42, 0x60, 0x82]);
    bytes
}

fn eps() -> String {
    "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%Creator: matplotlib\n\
     newpath 10 10 moveto 90 90 lineto stroke\nshowpage\n%%EOF\n"
        .to_string()
}

/// A reader yielding `line` repeated until `len` bytes: lets the oversized
/// member stream through tar and gzip without 65 MiB in memory.
struct Repeat {
    line: &'static [u8],
    pos: usize,
    left: u64,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            buf[n] = self.line[self.pos];
            self.pos = (self.pos + 1) % self.line.len();
            self.left -= 1;
            n += 1;
        }
        Ok(n)
    }
}

/// A small valid paper plus `anc/mesh.tex` of [`OVERSIZED_MEMBER_BYTES`]:
/// highly compressible (about 65 KB gzipped) so the tar stays small.
/// Built once per process; every oversized paper carries these bytes.
fn oversized_package() -> Result<Vec<u8>> {
    static PACKAGE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(bytes) = PACKAGE.get() {
        return Ok(bytes.clone());
    }
    let mut dice = Dice::for_paper(0, u32::MAX);
    let main = english_draft(&mut dice, Field::Physics, 1).render();
    let encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, len, reader) in [
        ("main.tex", main.len() as u64, Box::new(std::io::Cursor::new(main.into_bytes())) as Box<dyn Read>),
        (
            "anc/mesh.tex",
            OVERSIZED_MEMBER_BYTES,
            Box::new(Repeat {
                line: b"\\draw (0.000,0.000) -- (1.000,0.000) -- (1.000,1.000) -- cycle;\n",
                pos: 0,
                left: OVERSIZED_MEMBER_BYTES,
            }),
        ),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(len);
        header.set_mode(0o644);
        header.set_mtime(super::pack::TAR_MTIME);
        header.set_cksum();
        builder.append(&header, reader)?;
    }
    let bytes = builder.into_inner()?.finish()?;
    Ok(PACKAGE.get_or_init(|| bytes).clone())
}

/// A paper whose only `.tex` is [`HUGE_TEX_BYTES`]: a real paper body with a
/// giant generated data table, as some simulation papers paste in.
fn huge_tex_package() -> Result<Vec<u8>> {
    static PACKAGE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(bytes) = PACKAGE.get() {
        return Ok(bytes.clone());
    }
    let mut dice = Dice::for_paper(0, u32::MAX - 1);
    let mut draft = english_draft(&mut dice, Field::Physics, 2);
    let mut table = String::from("\\begin{tabular}{rrrr}\n");
    let mut row = 0u32;
    while table.len() < HUGE_TEX_BYTES {
        let k = row % 100;
        table.push_str(&format!(
            "{k} & 0.{:03} & {:.3} & {} \\\\\n",
            k * 7 % 1000,
            f64::from(k) / 8.0,
            k * k
        ));
        row += 1;
    }
    table.push_str("\\end{tabular}");
    draft.body.push(table);
    let bytes = tar_gz(&[Member::new("main.tex", draft.render().into_bytes())])?;
    Ok(PACKAGE.get_or_init(|| bytes).clone())
}

// ---------------------------------------------------------------------------
// Metadata

const LICENSES: &[Option<&str>] = &[
    None,
    Some("http://arxiv.org/licenses/nonexclusive-distrib/1.0/"),
    Some("http://creativecommons.org/licenses/by/4.0/"),
    Some("http://arxiv.org/licenses/nonexclusive-distrib/1.0/"),
];

/// The OAI record of a fresh paper; `None` for the missing-metadata case.
/// Each metadata case breaks exactly one rule of the filter.
fn metadata_record(dice: &mut Dice, case: Case, id: &str, index: u32, parts: &Parts) -> Option<Record> {
    let draft = &parts.draft;
    let mut categories = parts.field.categories(dice);
    let mut abstract_text = Some(draft.abstract_text.clone());
    let mut comments = match dice.below(3) {
        0 => None,
        1 => Some(format!("{} pages, {} figures", dice.between(8, 40), dice.between(0, 9))),
        _ => Some(format!("{} pages", dice.between(5, 60))),
    };
    let day = index % 28 + 1;
    let mut first = (2024, 1, day);
    match case {
        Case::MissingMetadata => return None,
        Case::CategoryPhysics => categories = "physics.optics".to_string(),
        Case::CategoryMathPh => categories = "math-ph".to_string(),
        Case::Withdrawn => {
            comments = Some(format!(
                "This paper has been withdrawn by the author due to a crucial error in equation ({})",
                dice.between(2, 9)
            ))
        }
        Case::Pre1995 => first = (1993, 11, day),
        Case::OldStyleId => first = (2006, 1, day),
        Case::AbstractTooShort => {
            abstract_text =
                Some("We study a question raised by the referee and give a short answer.".to_string())
        }
        Case::AbstractNull => abstract_text = None,
        _ => {}
    }
    let (y, m, d) = first;
    let mut versions = vec![Version { version: "v1".to_string(), created: rfc2822(y, m, d, dice) }];
    let mut last = first;
    if dice.chance(30) {
        // A revision a month later.
        last = if m == 12 { (y + 1, 1, d) } else { (y, m + 1, d) };
        versions.push(Version { version: "v2".to_string(), created: rfc2822(last.0, last.1, last.2, dice) });
    }
    let names: Vec<String> = draft.authors.iter().map(|(first, last)| format!("{first} {last}")).collect();
    Some(Record {
        id: id.to_string(),
        submitter: draft.authors.first().map(|(f, l)| format!("{f} {l}")),
        authors: tex_accents(&join_authors(&names)),
        title: wrap_title(&draft.title),
        comments,
        journal_ref: None,
        doi: dice
            .chance(20)
            .then(|| format!("10.1103/PhysRevD.{}.{:06}", dice.between(60, 110), dice.between(1, 999_999))),
        report_no: None,
        categories,
        license: LICENSES[dice.below(LICENSES.len())].map(str::to_string),
        abstract_text: abstract_text.map(|a| wrap_abstract(&a)),
        versions,
        update_date: format!("{:04}-{:02}-{:02}", last.0, last.1, last.2),
        authors_parsed: draft
            .authors
            .iter()
            .map(|(first, last)| [last.clone(), first.clone(), String::new()])
            .collect(),
    })
}

/// "A and B", "A, B and C", as in the snapshot's `authors`.
fn join_authors(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The snapshot spells accents in `authors` as TeX (`Bal\'azs`).
fn tex_accents(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let spelled = match c {
            'é' => "\\'e",
            'è' => "\\`e",
            'ê' => "\\^e",
            'ü' => "\\\"u",
            'ö' => "\\\"o",
            'ñ' => "\\~n",
            'ç' => "\\c{c}",
            'ã' => "\\~a",
            'Å' => "\\AA ",
            'ø' => "{\\o}",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(spelled);
    }
    out
}

/// Titles in the snapshot are wrapped near 70 columns with "\n  ".
fn wrap_title(title: &str) -> String {
    wrap(title, 70).join("\n  ")
}

/// Abstracts in the snapshot start with two spaces, wrap near 80 columns
/// and end with a newline.
fn wrap_abstract(text: &str) -> String {
    format!("  {}\n", wrap(text, 78).join("\n"))
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `Mon, 2 Apr 2007 19:18:42 GMT`, with the weekday the date really has.
fn rfc2822(year: u32, month: u32, day: u32, dice: &mut Dice) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[weekday(year, month, day)],
        MONTHS[(month - 1) as usize],
        dice.between(0, 23),
        dice.between(0, 59),
        dice.between(0, 59)
    )
}

/// Sakamoto's day of week, 0 = Sunday.
fn weekday(year: u32, month: u32, day: u32) -> usize {
    const T: [u32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    ((y + y / 4 - y / 100 + y / 400 + T[(month - 1) as usize] + day) % 7) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("2401.00001", ".gz", "2401/2401.00001.gz")]
    #[case("math/0601001", ".gz", "0601/math0601001.gz")]
    #[case("hep-th/9311002", ".gz", "9311/hep-th9311002.gz")]
    #[case("2401.00013", ".pdf", "2401/2401.00013.pdf")]
    fn member_names_follow_arxiv(#[case] id: &str, #[case] ext: &str, #[case] expected: &str) {
        assert_eq!(member_name(id, ext), expected);
    }

    #[rstest]
    #[case("math", 2006, 1, 1, "math/0601001")]
    #[case("math", 2006, 1, 999, "math/0601999")]
    #[case("math", 2006, 1, 1000, "math/0602001")]
    #[case("hep-th", 1993, 11, 1999, "hep-th/9401001")]
    fn old_style_ids_roll_over_months(
        #[case] archive: &str,
        #[case] year: u32,
        #[case] month: u32,
        #[case] ordinal: u32,
        #[case] expected: &str,
    ) {
        assert_eq!(old_style_id(archive, year, month, ordinal), expected);
    }

    #[rstest]
    #[case(2007, 4, 2, 1)] // Mon, 2 Apr 2007: the snapshot's first record
    #[case(2024, 1, 1, 1)]
    #[case(1993, 11, 2, 2)]
    #[case(2000, 2, 29, 2)]
    fn weekdays_are_real(#[case] y: u32, #[case] m: u32, #[case] d: u32, #[case] expected: usize) {
        assert_eq!(weekday(y, m, d), expected);
    }

    #[test]
    fn near_duplicate_changes_exactly_a_few_words() {
        let tex = "\\begin{document} a stable flow and a compact set and a sparse graph and a smooth map";
        let changed = change_a_few_words(tex, 3);
        let differing = tex.split(' ').zip(changed.split(' ')).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 3);
        assert!(changed.ends_with("smooth map"));
    }

    #[test]
    fn latin1_rejects_characters_out_of_range() {
        assert_eq!(to_latin1("Poincaré").expect("latin-1"), b"Poincar\xe9".to_vec());
        assert!(to_latin1("Erdős").is_err());
    }

    #[test]
    fn abstracts_wrap_like_the_snapshot() {
        let wrapped = wrap_abstract(&"word ".repeat(40));
        assert!(wrapped.starts_with("  word"));
        assert!(wrapped.ends_with('\n'));
        assert!(wrapped.lines().all(|l| l.len() <= 80));
    }
}

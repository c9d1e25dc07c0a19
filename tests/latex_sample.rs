//! The resolve + clean chain on the embedded real arXiv corpus (`tests/data/arxiv-real`).
//!
//! Run `cargo test --release --test latex_sample -- --nocapture` for the
//! per-paper table; timings against decompression are `replicate bench
//! prepare`'s stage table and raw-pass ratio.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use arxiv_to_model::ledger::DropReason;
use arxiv_to_model::prepare::latex::main_file::MainFileRule;
use arxiv_to_model::prepare::latex::{
    self, clean_after_comments, extract_resolved, local_sty_files, split_preamble, strip_comments, Resolved,
};
use arxiv_to_model::prepare::normalize::normalize;
use arxiv_to_model::spec::data::DataConfig;
use arxiv_to_model::spec::load_one;
use arxiv_to_model::tex::math::math_spans;

/// One paper: its id and its files (archive path → text).
struct Paper {
    id: String,
    files: BTreeMap<String, String>,
}

/// Papers no file of which is a complete document, so extraction must drop them
/// (`no-main-file`): 2612.90016's print.tex leaves `\begin{document}` to the
/// blueprint.tex it `\input`s.
const WITHOUT_MAIN_FILE: [&str; 1] = ["2612.90016"];

/// Every paper of the embedded real corpus that has a main file (see [`WITHOUT_MAIN_FILE`]).
fn sample() -> Vec<Paper> {
    let (with, without): (Vec<Paper>, Vec<Paper>) =
        all_papers().into_iter().partition(|p| !WITHOUT_MAIN_FILE.contains(&p.id.as_str()));
    assert_eq!(
        without.len(),
        WITHOUT_MAIN_FILE.len(),
        "a paper listed without a main file is not in the corpus"
    );
    let data = data_config("Y06");
    for paper in &without {
        let result = extract_resolved(&paper.files, &paper.id, &data.extraction);
        assert_eq!(result.err(), Some(DropReason::NoMainFile), "{}", paper.id);
    }
    with
}

/// Every paper of the embedded real corpus's bulk tars.
fn all_papers() -> Vec<Paper> {
    let corpus = arxiv_to_model::corpus::real::RealCorpus::locate().expect("the embedded real corpus");
    corpus
        .tars
        .iter()
        .flat_map(|tar| read_bulk_tar(&std::fs::read(tar).expect("a real corpus tar")))
        .collect()
}

/// A deliberately small reader: bulk tar → `YYMM/<id>.gz` → gzipped tar or
/// gzipped single `.tex` (sniffed by the tar magic). The real ingest,
/// with its safety checks, belongs to the prepare stage.
fn read_bulk_tar(bytes: &[u8]) -> Vec<Paper> {
    let mut papers = Vec::new();
    let mut outer = tar::Archive::new(bytes);
    for entry in outer.entries().expect("the sample is a tar") {
        let mut entry = entry.expect("readable tar entry");
        let name = entry.path().expect("entry path").to_string_lossy().into_owned();
        let Some(id) = arxiv_to_model::corpus::id::arxiv_id_from_name(&name) else {
            continue;
        };
        let mut gz = Vec::new();
        entry.read_to_end(&mut gz).expect("read member");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw).expect("gzip member");
        let is_tar = raw.get(257..262) == Some(b"ustar");
        let mut files = BTreeMap::new();
        if is_tar {
            for member in tar::Archive::new(&raw[..]).entries().expect("inner tar") {
                let mut member = member.expect("inner entry");
                if !member.header().entry_type().is_file() {
                    continue;
                }
                let path = member.path().expect("inner path").to_string_lossy().into_owned();
                let mut content = Vec::new();
                member.read_to_end(&mut content).expect("inner member");
                if !is_source(&path) {
                    continue;
                }
                files.insert(path, String::from_utf8_lossy(&content).into_owned());
            }
        } else {
            files.insert(format!("{id}.tex"), String::from_utf8_lossy(&raw).into_owned());
        }
        papers.push(Paper { id, files });
    }
    papers
}

/// Members the text pipeline reads; figures and PDFs are decompressed but not decoded.
fn is_source(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".tex", ".ltx", ".sty", ".bbl", ".cls"].iter().any(|ext| lower.ends_with(ext))
        || lower.contains("00readme")
}

fn data_config(run: &str) -> DataConfig {
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    load_one(&runs, run, "paper").expect("spec loads").0.into_spec().data
}

/// The described chain under `data` (Y05, Y06): resolve, TeX comments,
/// preamble + macros, drops, normalization.
fn chain_text(paper: &Paper, data: &DataConfig) -> (Resolved, String) {
    let resolved = extract_resolved(&paper.files, &paper.id, &data.extraction)
        .unwrap_or_else(|reason| panic!("{}: no document ({reason:?})", paper.id));
    let code = strip_comments(&resolved.text);
    let cleaned = clean_after_comments(&code, &local_sty_files(&paper.files), &data.cleaning);
    let text = normalize(&cleaned.text, &data.normalization);
    (resolved, text)
}

/// Raw characters of every `.tex` member: what concatenation starts from.
fn tex_chars(paper: &Paper) -> usize {
    paper.files.iter().filter(|(p, _)| latex::main_file::is_tex_path(p)).map(|(_, t)| t.chars().count()).sum()
}

/// The longest line of an included file that is plain enough to survive
/// as written in the resolved text.
fn marker_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.contains("input") && !l.contains("include") && !l.contains("import"))
        .max_by_key(|l| l.len())
        .filter(|l| l.len() >= 10)
}

#[test]
fn every_sample_paper_resolves_and_cleans() {
    let papers = sample();
    assert!(papers.len() + WITHOUT_MAIN_FILE.len() >= 60, "{} papers", papers.len());
    let data = data_config("Y06");
    let y05 = data_config("Y05");
    println!(
        "{:<11} {:<34} {:<17} {:>9} {:>9} {:>5} {:>5} {:>6} {:>6}",
        "paper", "main file", "rule", "tex chars", "Y06 out", "incl", "miss", "math_in", "Y06 math"
    );
    for paper in &papers {
        let (resolved, text) = chain_text(paper, &data);
        // Every included file's text appears in the resolved paper.
        for path in &resolved.included {
            let normalized = path.trim_start_matches("./");
            let source = paper
                .files
                .iter()
                .find(|(p, _)| p.trim_start_matches("./") == normalized)
                .map(|(_, t)| t.as_str())
                .unwrap_or_default();
            if let Some(marker) = marker_line(source) {
                assert!(resolved.text.contains(marker), "{}: {path} not inlined", paper.id);
            }
        }
        // No include command survives cleaning.
        for command in ["\\input{", "\\input ", "\\include{", "\\subfile{", "\\import{"] {
            assert!(!text.contains(command), "{}: `{command}` survived", paper.id);
        }
        // Math spans survive. Without macro expansion (Y05) every span of
        // the source body outside dropped environments and commands is
        // still math in the output; expansion (Y06) may legitimately add
        // spans (1406.2692's `\um` is `$\mu$m`) or merge a few (2509.12337's
        // `\Lim` puts `$…$` inside a `\raisebox` used in math), so Y06 may
        // lose at most 1% of that count.
        let code = strip_comments(&resolved.text);
        let (_, body) = split_preamble(&code);
        // The spans outside what a run's cleaning drops (Y05 keeps tables and the
        // bibliography; Y06 drops them).
        let math_kept_by = |run: &DataConfig| {
            let kept = latex::drop_commands(
                &latex::drop_environments(body, &run.cleaning.drop_environments),
                &run.cleaning.drop_commands,
            );
            math_spans(&kept).len()
        };
        let math_in = math_kept_by(&data);
        let math_y05 = math_spans(&chain_text(paper, &y05).1).len();
        let math_out = math_spans(&text).len();
        // Drafts and stubs are real too (2612.90031 is 2 kB, 2612.90037 has no
        // formula); only full papers must have math and yield a paper's worth.
        let full_paper = tex_chars(paper) >= 20_000;
        assert!(math_in > 0 || !full_paper, "{}: no math found in the source", paper.id);
        assert_eq!(math_y05, math_kept_by(&y05), "{}: math spans changed", paper.id);
        assert!(
            math_out * 100 >= math_in * 99,
            "{}: macro expansion lost math spans {math_in} -> {math_out}",
            paper.id
        );
        if full_paper {
            assert!(text.split_whitespace().count() >= 500, "{}: too little text", paper.id);
        }
        println!(
            "{:<11} {:<34} {:<17} {:>9} {:>9} {:>5} {:>5} {:>6} {:>6}",
            paper.id,
            resolved.main_file,
            serde_json::to_value(resolved.rule).unwrap_or_default().as_str().unwrap_or("?"),
            tex_chars(paper),
            text.chars().count(),
            resolved.included.len(),
            resolved.missing.len(),
            math_in,
            math_out,
        );
        if !resolved.missing.is_empty() {
            println!("            missing: {:?}", resolved.missing);
        }
    }
}

/// The file each multi-file paper was submitted with, and where the choice is
/// the `00README` marker's, that rule.
const MAIN_FILES: [(&str, &str, Option<MainFileRule>); 8] = [
    // 00README.XXX names ms63.tex; the conventional ms.tex is an \input draft.
    ("2612.90035", "ms63.tex", Some(MainFileRule::ReadmeToplevel)),
    // 00README.json names the flattened arxiv.tex over the \input draft ms.tex.
    ("2612.90034", "arxiv.tex", Some(MainFileRule::ReadmeJson)),
    // The authors' 00README.XXX names a main.tex that is not in the package: fall back.
    ("2612.90033", "paper.tex", None),
    // ms.tex \include-s its sections; master.tex is an older complete draft.
    ("2612.90026", "ms.tex", None),
    // The cover letter and the rebuttal are complete documents too.
    ("2612.90024", "paper.tex", None),
    // main.tex \input-s 14 section files.
    ("2612.90011", "main.tex", None),
    // The supplement sm-rnns-causal.tex is a second document.
    ("2612.90020", "rnns-causal.tex", None),
    // A blueprint: print.tex (the paper) beside web.tex (the plasTeX site).
    ("2612.90012", "print.tex", None),
];

#[test]
fn main_file_resolution_finds_the_submitted_file() {
    let papers = sample();
    let data = data_config("Y06");
    for (id, main, rule) in MAIN_FILES {
        let paper = papers.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("{id} is not in the corpus"));
        let resolved = extract_resolved(&paper.files, &paper.id, &data.extraction)
            .unwrap_or_else(|reason| panic!("{id}: no document ({reason:?})"));
        assert_eq!(resolved.main_file, main, "{id}: main file ({:?})", resolved.rule);
        if let Some(rule) = rule {
            assert_eq!(resolved.rule, rule, "{id}");
        }
        assert!(resolved.missing.len() <= resolved.included.len(), "{id}: {:?}", resolved.missing);
    }
    // The markers decide: without them the conventional name would win.
    for (id, marker) in [("2612.90035", "00README.XXX"), ("2612.90034", "00README.json")] {
        let paper = papers.iter().find(|p| p.id == id).expect("listed above");
        let mut files = paper.files.clone();
        assert!(files.remove(marker).is_some(), "{id} has no {marker}");
        let resolved = extract_resolved(&files, id, &data.extraction).expect("a document");
        assert_eq!(resolved.main_file, "ms.tex", "{id} without {marker}");
    }
    // \input trees are inlined: stardate's ms.tex pulls its sections in.
    let stardate = papers.iter().find(|p| p.id == "2612.90026").expect("stardate");
    let resolved = extract_resolved(&stardate.files, &stardate.id, &data.extraction).expect("a document");
    for section in ["intro.tex", "method.tex", "results.tex", "conclusion.tex"] {
        assert!(
            resolved.included.iter().any(|p| p == section),
            "{section} not inlined: {:?}",
            resolved.included
        );
    }
}

#[test]
fn sample_output_is_deterministic() {
    let papers = sample();
    let data = data_config("Y06");
    for paper in papers.iter().take(3) {
        assert_eq!(chain_text(paper, &data).1, chain_text(paper, &data).1, "{}", paper.id);
    }
}

/// Two real papers are versions of one (RuthAngus/gauge and action-time:
/// "Measuring stellar ages with vertical kinematics"); the later is caught as a
/// near-duplicate of the earlier, every other paper is distinct, and an edited
/// copy of one is caught and points at the original.
#[test]
fn near_dedup_on_sample() {
    let papers = sample();
    let data = data_config("Y06");
    let near = data.dedup.near.clone().expect("Y06 sets near-dedup");
    let mut texts: Vec<String> = papers.iter().map(|p| chain_text(p, &data).1).collect();
    let copy = texts[3].replacen("the", "a", 20);
    texts.push(copy);
    let docs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let found = arxiv_to_model::prepare::neardup::near_duplicates(&docs, &near, 0)
        .expect("valid near-dedup settings");
    let at = |id: &str| papers.iter().position(|p| p.id == id).unwrap_or_else(|| panic!("{id} missing"));
    let mut expected = vec![None; papers.len()];
    expected[at("2612.90048")] = Some(at("2612.90047"));
    expected.push(Some(3));
    assert_eq!(found, expected);
}

/// Masked for the prose-only check, every sample paper reads as English.
#[test]
fn masked_sample_papers_read_as_english() {
    let papers = sample();
    let data = data_config("Y06");
    for paper in &papers {
        let prose = arxiv_to_model::prepare::quality::mask_for_language(&chain_text(paper, &data).1);
        let info = whatlang::detect(&prose).expect("detectable text");
        assert_eq!(info.lang(), whatlang::Lang::Eng, "{}", paper.id);
        assert!(
            info.confidence() >= data.filters.language.min_confidence,
            "{}: confidence {}",
            paper.id,
            info.confidence()
        );
    }
}

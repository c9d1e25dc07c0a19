//! Every LaTeX pass is linear in its input: each pass is timed
//! on 0.5 MB and 1 MB of each pathological pattern in the same run, and
//! doubling the input must not much more than double the time. A quadratic
//! pass quadruples it (measured before the fix: 0.59/1.86/6.47 s for 10k,
//! 20k, 40k unclosed `\[`). Ratios, not wall-clock limits, so a slow or
//! busy machine does not fail it.

use std::collections::BTreeMap;
use std::time::Instant;

use arxiv_to_model::prepare::clean::ReleasedCleaner;
use arxiv_to_model::prepare::latex::{self, includes::find_includes};
use arxiv_to_model::prepare::normalize::normalize;
use arxiv_to_model::prepare::quality::mask_for_language;
use arxiv_to_model::spec::data::{
    Cleaner, Cleaning, Extraction, ExtractionMode, MacroMode, Normalization, UnicodeForm, WhitespaceMode,
};
use arxiv_to_model::tex::math::math_spans;

/// The patterns once found quadratic and their relatives, each repeated to the size asked.
const PATTERNS: &[&str] = &[
    "\\[",
    "\\(",
    "$",
    "$$",
    "\\cite{",
    "\\footnote{",
    "\\verb",
    "\\verb!",
    "\\begin{",
    "\\begin{figure}",
    "\\begin{equation}",
    "\\begin{verbatim}",
    "\\end{",
    "\\end{figure}",
    "\\x{",
    "\\x[",
    "\\url{",
    "\\iffalse",
    "{",
    "[",
    "%",
    "\\input{",
    "\\\\",
];

/// Above this ratio for twice the input a pass is called superlinear
/// (linear: 2; quadratic: 4).
const MAX_RATIO: f64 = 3.5;

/// Times below this are too short to judge by ratio: a linear pass that
/// crosses the cache size between 0.5 and 1 MB, on a loaded 2-core machine,
/// showed x4.7 at 91 ms (and x2.7 from 1 to 2 MB, x2.7 from 2 to 4 MB when
/// measured alone), while a quadratic pass over 1 MB takes seconds (before
/// the fix, 40,000 unclosed `\[` in 87 KB took 6.5 s), far above this floor.
const NOISE_FLOOR_S: f64 = 0.2;

fn cleaning() -> Cleaning {
    Cleaning {
        cleaner: Cleaner::Tex,
        macros: MacroMode::Expand,
        max_macro_expansions: 100_000,
        max_macro_growth: 4.0,
        drop_environments: ["figure", "figure*", "table", "table*", "thebibliography"]
            .map(String::from)
            .to_vec(),
        drop_commands: ["cite", "citep", "label", "ref", "url", "href", "footnote", "includegraphics"]
            .map(String::from)
            .to_vec(),
    }
}

fn extraction() -> Extraction {
    Extraction {
        mode: ExtractionMode::Resolve,
        max_tex_bytes: 5_000_000,
        max_include_depth: 16,
        keep_bibliography: true,
    }
}

fn normalization() -> Normalization {
    Normalization {
        unicode: UnicodeForm::Nfc,
        accents: true,
        whitespace: WhitespaceMode::Paragraphs,
        strip_control: true,
    }
}

type Pass = Box<dyn Fn(&str)>;

fn passes() -> Vec<(&'static str, Pass)> {
    let released = ReleasedCleaner::new(&Cleaning { cleaner: Cleaner::Released, ..cleaning() }).unwrap();
    vec![
        ("comments: tex", Box::new(|t: &str| drop(latex::strip_comments(t)))),
        ("includes", Box::new(|t: &str| drop(find_includes(t)))),
        ("math spans", Box::new(|t: &str| drop(math_spans(t)))),
        ("prose-only mask", Box::new(|t: &str| drop(mask_for_language(t)))),
        (
            "cleaning (macros, drops)",
            Box::new(|t: &str| {
                let doc = format!("\\newcommand{{\\x}}[2][d]{{X#1#2}}\\begin{{document}}{t}");
                drop(latex::clean_after_comments(&doc, &[], &cleaning()))
            }),
        ),
        ("macro harvest", Box::new(|t: &str| drop(latex::harvest_macros(t, &[t])))),
        (
            "environment drops",
            Box::new(|t: &str| drop(latex::drop_environments(t, &cleaning().drop_environments))),
        ),
        ("command drops", Box::new(|t: &str| drop(latex::drop_commands(t, &cleaning().drop_commands)))),
        ("released cleaner", Box::new(move |t: &str| drop(released.clean(t)))),
        ("normalize", Box::new(|t: &str| drop(normalize(t, &normalization())))),
        (
            "extraction",
            Box::new(|t: &str| {
                let main = format!("\\documentclass{{article}}\\begin{{document}}{t}");
                let files: BTreeMap<String, String> = [("main.tex".to_string(), main)].into();
                drop(latex::extract_resolved(&files, "x", &extraction()))
            }),
        ),
    ]
}

fn repeated(pattern: &str, bytes: usize) -> String {
    pattern.repeat(bytes / pattern.len())
}

/// Best of five, to shed scheduling noise on a shared machine.
fn seconds(pass: &dyn Fn(&str), text: &str) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            pass(text);
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn every_pass_is_linear_on_every_pathological_pattern() {
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    let mut slowest = (0.0f64, String::new());
    for (name, pass) in passes() {
        for pattern in PATTERNS {
            let half = seconds(&*pass, &repeated(pattern, 500_000));
            let full = seconds(&*pass, &repeated(pattern, 1_000_000));
            let ratio = full / half.max(1e-9);
            let judged = full >= NOISE_FLOOR_S;
            if full > slowest.0 {
                slowest = (full, format!("{name} on {pattern:?}"));
            }
            if ratio > worst.0 {
                worst = (ratio, format!("{name} on {pattern:?}: {half:.4} s -> {full:.4} s"));
            }
            if judged && ratio > MAX_RATIO {
                failures.push(format!(
                    "{name} on {pattern:?}: {half:.3} s at 0.5 MB, {full:.3} s at 1 MB (x{ratio:.1})"
                ));
            }
        }
    }
    eprintln!("worst ratio (judged or not): x{:.2} ({})", worst.0, worst.1);
    eprintln!("slowest pass at 1 MB: {:.3} s ({})", slowest.0, slowest.1);
    assert!(failures.is_empty(), "superlinear passes:\n{}", failures.join("\n"));
}

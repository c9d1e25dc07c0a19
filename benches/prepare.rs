//! `cargo bench --bench prepare [-- SRC...]`: prepare throughput per stage
//! under Y01 (ci profile) against a raw decompression pass, on the embedded real
//! arXiv corpus by default. The CLI's `replicate bench prepare --src …` calls the same
//! `arxiv_to_model::prepare::bench`.

use std::path::{Path, PathBuf};

use arxiv_to_model::prepare::{bench, PrepareInput, PrepareOptions};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut src: Vec<PathBuf> =
        std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    if src.is_empty() {
        src = arxiv_to_model::corpus::real::RealCorpus::locate()?.tars;
    }
    let (spec, _) = arxiv_to_model::spec::load_one(root.join("runs"), "Y01", "ci")?;
    let jobs = std::env::var("PREPARE_JOBS").ok().and_then(|j| j.parse().ok()).unwrap_or(0);
    let report = bench(
        &spec.data,
        &PrepareInput { src, metadata: None },
        &PrepareOptions { jobs, ..Default::default() },
    )?;
    print!("{}", arxiv_to_model::prepare::bench::render(&report));
    Ok(())
}

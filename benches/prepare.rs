//! `cargo bench --bench prepare [-- SRC...]`: the figures `replicate bench
//! prepare` prints with its defaults (spec Y06 at the ci profile, every core,
//! `MIN_PAIRS` alternating pairs), on the embedded real arXiv corpus unless
//! sources are given. Both call `arxiv_to_model::prepare::bench`.
//! `PREPARE_JOBS` and `PREPARE_PAIRS` override the worker count and the pairs;
//! `REDPAJAMA_DIR` adds the comparison with RedPajama's cleaner (`--redpajama`).

use std::path::{Path, PathBuf};

use arxiv_to_model::prepare::{bench, PrepareInput, PrepareOptions};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut src: Vec<PathBuf> =
        std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    if src.is_empty() {
        src = arxiv_to_model::corpus::real::RealCorpus::locate()?.tars;
    }
    let (spec, _) = arxiv_to_model::spec::load_one(root.join("runs"), "Y06", "ci")?;
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let jobs = env("PREPARE_JOBS").unwrap_or(0);
    let pairs = env("PREPARE_PAIRS").unwrap_or(arxiv_to_model::bench::MIN_PAIRS);
    let redpajama = std::env::var_os("REDPAJAMA_DIR").map(PathBuf::from);
    let report = bench(
        &spec.data,
        &PrepareInput { src, metadata: None },
        &PrepareOptions { jobs, ..Default::default() },
        pairs,
        redpajama.as_deref(),
    )?;
    print!("{}", arxiv_to_model::prepare::bench::render(&report));
    Ok(())
}

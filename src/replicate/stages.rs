//! Dispatch from a planned stage to the module that does the work.
//!
//! The contract every stage keeps: it writes its outputs into the directory it
//! is given and, when it measures anything, a `values.json` there (a flat map
//! of metric names from `crate::metrics`, or `count.*` keys, to numbers). The
//! runner merges those into the run's values and copies the stage's
//! [`artifacts`] into the run's report folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::plan::StageName;
use crate::spec::{Profile, Spec};

/// The files a stage's values are written to, in its output directory.
pub const VALUES_FILE: &str = "values.json";

/// Real input files, whether given with `--src` or generated.
#[derive(Debug, Clone)]
pub struct Sources {
    pub src: Vec<PathBuf>,
    pub metadata: Option<PathBuf>,
}

impl Sources {
    /// The bulk tars (`arXiv_src_*.tar`, sorted) and the OAI snapshot of a corpus directory.
    pub fn in_corpus_dir(dir: &Path) -> Result<Sources> {
        let mut src = Vec::new();
        let mut metadata = None;
        for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("arXiv_src_") && name.ends_with(".tar") {
                src.push(path.clone());
            } else if name.starts_with("arxiv-metadata-oai-snapshot") {
                metadata = Some(path.clone());
            }
        }
        src.sort();
        if src.is_empty() {
            bail!("{} holds no arXiv_src_*.tar bulk archives", dir.display());
        }
        Ok(Sources { src, metadata })
    }
}

/// Everything a stage may read.
pub struct StageContext<'a> {
    pub spec: &'a Spec,
    pub profile: &'a Profile,
    pub sources: &'a Sources,
    /// Output directories of this stage's inputs, in `PlannedStage::inputs` order.
    pub input_dirs: Vec<&'a Path>,
}

/// What runs the stages; the runner is generic over it so its bookkeeping can be tested alone.
pub trait Executor {
    /// Writes the embedded synthetic corpus (bulk tars, manifest, metadata) into `out`,
    /// laid out as arXiv publishes it (see [`Sources::in_corpus_dir`]).
    fn synthesize(&self, papers: u32, seed: u64, out: &Path) -> Result<()>;
    /// Runs `stage`, writing its outputs into `out`.
    fn execute(&self, stage: StageName, ctx: &StageContext<'_>, out: &Path) -> Result<()>;
}

/// Files of a stage's output that belong in `reports/<profile>/runs/<ID>/`, with the name they get there.
pub fn artifacts(stage: StageName) -> &'static [(&'static str, &'static str)] {
    match stage {
        StageName::Prepare => &[("yield.csv", "yield.csv"), ("summary.json", "prepare.json")],
        StageName::Tokenizer => {
            &[("tokenizer.record.json", "tokenizer.json"), ("stats.json", "tokenizer-stats.json")]
        }
        StageName::Tokenize => &[("shards.json", "shards.json")],
        StageName::Train => &[("metrics.csv", "metrics.csv"), ("summary.json", "train.json")],
    }
}

/// Reads a stage's `values.json`; absent means the stage measured nothing.
pub fn read_values(dir: &Path) -> Result<BTreeMap<String, f64>> {
    let path = dir.join(VALUES_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a map of numbers", path.display()))
}

/// The stages as they exist in this build.
pub struct Pipeline;

/// The issue that builds each stage, named in the error until it lands.
fn tracking_issue(stage: StageName) -> u32 {
    match stage {
        StageName::Prepare => 3,
        StageName::Tokenizer | StageName::Tokenize => 5,
        StageName::Train => 6,
    }
}

impl Executor for Pipeline {
    fn synthesize(&self, _papers: u32, _seed: u64, _out: &Path) -> Result<()> {
        bail!("the embedded synthetic corpus is not implemented yet (tracked in issue 3); pass --src and --metadata")
    }

    fn execute(&self, stage: StageName, _ctx: &StageContext<'_>, _out: &Path) -> Result<()> {
        // Stages are wired in here as their issues land. Until then a stage fails
        // loudly rather than producing anything that could pass for a result.
        bail!(
            "stage `{stage}` is not implemented yet (tracked in issue {}); no output was produced",
            tracking_issue(stage)
        )
    }
}

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
use crate::ledger::DropReason;
use crate::metrics::Values;
use crate::prepare::output::stage_name;
use crate::prepare::{PrepareInput, PrepareOptions, PreparedCorpus};
use crate::spec::{Profile, ValidatedSpec};
use crate::tokenize::train::TOKENIZER_FILE;
use crate::train::inputs::{sized_train, train_data, StageInputs};
use crate::train::{BackendChoice, TrainOptions, TrainSummary};

/// The files a stage's values are written to, in its output directory.
pub const VALUES_FILE: &str = "values.json";

/// Real input files, whether given with `--src` or generated.
#[derive(Debug, Clone)]
pub struct Sources {
    pub src: Vec<PathBuf>,
    pub metadata: Option<PathBuf>,
}

impl Sources {
    /// The bulk tars (`arXiv_src_*.tar`, sorted; at the top or under `src/`, as
    /// `corpus synth` writes them) and the OAI snapshot of a corpus directory.
    pub fn in_corpus_dir(dir: &Path) -> Result<Sources> {
        let mut src = Vec::new();
        let mut metadata = None;
        let listing = |d: &Path| -> Result<Vec<PathBuf>> {
            if !d.is_dir() {
                return Ok(Vec::new());
            }
            let entries = std::fs::read_dir(d).with_context(|| format!("cannot list {}", d.display()))?;
            entries.map(|e| Ok(e?.path())).collect()
        };
        for path in listing(dir)?.into_iter().chain(listing(&dir.join("src"))?) {
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
    pub spec: &'a ValidatedSpec,
    pub profile: &'a Profile,
    pub sources: &'a Sources,
    pub upstream: Upstream,
}

/// The output directories of the earlier stages a stage reads, by stage.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    pub prepared: Option<PathBuf>,
    pub tokenizer: Option<PathBuf>,
    pub shards: Option<PathBuf>,
}

impl Upstream {
    /// Files the named outputs by the stage that wrote them.
    pub fn insert(&mut self, stage: StageName, dir: PathBuf) {
        match stage {
            StageName::Prepare => self.prepared = Some(dir),
            StageName::Tokenizer => self.tokenizer = Some(dir),
            StageName::Tokenize => self.shards = Some(dir),
            StageName::Train => {}
        }
    }

    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        [&self.prepared, &self.tokenizer, &self.shards].into_iter().flatten().map(PathBuf::as_path)
    }

    fn prepared(&self) -> Result<PreparedCorpus> {
        PreparedCorpus::open(
            self.prepared.as_deref().context("internal: this stage has no prepared corpus as input")?,
        )
    }

    /// `tokenizer.json` of the tokenizer stage.
    fn tokenizer(&self) -> Result<PathBuf> {
        Ok(self
            .tokenizer
            .as_deref()
            .context("internal: this stage has no tokenizer as input")?
            .join(TOKENIZER_FILE))
    }

    fn shards(&self) -> Result<&Path> {
        self.shards.as_deref().context("internal: this stage has no token shards as input")
    }
}

/// What runs the stages; the runner is generic over it so its bookkeeping can be tested alone.
pub trait Executor {
    /// Writes the embedded synthetic corpus (bulk tars, manifest, metadata) into `out`,
    /// laid out as arXiv publishes it (see [`Sources::in_corpus_dir`]).
    fn synthesize(&self, papers: u32, seed: u64, out: &Path) -> Result<()>;
    /// Runs `stage`, writing its outputs into `out`.
    fn execute(&self, stage: StageName, ctx: &StageContext<'_>, out: &Path) -> Result<()>;
    /// The device the train stage runs on (part of its cache key).
    fn train_device(&self) -> BackendChoice {
        BackendChoice::Cpu
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
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// Worker threads for data stages (0: all cores).
    pub jobs: usize,
    pub progress: bool,
    /// Where training runs.
    pub backend: BackendChoice,
    /// See `TrainOptions::devices`.
    pub devices: Option<usize>,
    /// See `PrepareOptions::verified_tars`.
    pub verified_tars: Option<PathBuf>,
}

impl Executor for Pipeline {
    fn train_device(&self) -> BackendChoice {
        self.backend
    }

    fn synthesize(&self, papers: u32, seed: u64, out: &Path) -> Result<()> {
        crate::corpus::synth::generate(papers, seed, out)?;
        Ok(())
    }

    fn execute(&self, stage: StageName, ctx: &StageContext<'_>, out: &Path) -> Result<()> {
        let values = match stage {
            StageName::Prepare => self.prepare(ctx, out)?,
            StageName::Tokenizer => tokenizer(ctx, out)?,
            StageName::Tokenize => tokenize(ctx, out)?,
            StageName::Train => self.train(ctx, out)?,
        };
        crate::io::write_json_atomic(&out.join(VALUES_FILE), &values)
    }
}

impl Pipeline {
    fn prepare(&self, ctx: &StageContext<'_>, out: &Path) -> Result<Values> {
        let input = PrepareInput { src: ctx.sources.src.clone(), metadata: ctx.sources.metadata.clone() };
        let opts = PrepareOptions {
            shard: None,
            jobs: self.jobs,
            progress: self.progress,
            allow_empty: false,
            verified_tars: self.verified_tars.clone(),
        };
        let summary = crate::prepare::run(&ctx.spec.data, &input, out, &opts)?;
        let mut values = Values::default();
        values.set("papers_seen", summary.papers_seen as f64);
        values.set("papers_kept", summary.papers_kept as f64);
        values.set("chars_kept", summary.chars_kept as f64);
        values.set("words_kept", summary.words_kept as f64);
        for (reason, papers) in &summary.drops {
            let stage = serde_json::from_value::<DropReason>(serde_json::Value::String(reason.clone()))
                .map_or_else(|_| "unknown".into(), |r| stage_name(r.stage()));
            values.count(&stage, reason, *papers);
        }
        Ok(values)
    }
}

impl Pipeline {
    fn train(&self, ctx: &StageContext<'_>, out: &Path) -> Result<Values> {
        let inputs = StageInputs {
            shards: ctx.upstream.shards()?,
            tokenizer: &ctx.upstream.tokenizer()?,
            documents: &ctx.upstream.prepared()?.documents(),
        };
        let data = train_data(ctx.spec, &inputs)?;
        let (train, sizing) = sized_train(ctx.spec, &inputs)?;
        // The cache hands a killed run's working directory back (see
        // `StageCache::run_resumable`): continue from its last good checkpoint.
        let resume =
            crate::train::checkpoint::list(&out.join("checkpoints")).is_ok_and(|steps| !steps.is_empty());
        if resume {
            tracing::info!(run = %ctx.spec.id, dir = %out.display(), "resuming training from the last good checkpoint of a killed run");
        }
        let opts = TrainOptions {
            resume,
            progress: self.progress,
            label: Some(format!("{} {}", ctx.spec.id, StageName::Train)),
            backend: self.backend,
            devices: self.devices,
            ..Default::default()
        };
        let summary =
            crate::train::run(&ctx.spec.resolved_model(), &train, &ctx.spec.loader, data, out, &opts)?;
        if let Some(step) = summary.resumed_from_step {
            eprintln!("{}: training resumed from the checkpoint of step {step}", ctx.spec.id);
        }
        let mut values = train_values(&summary);
        values.set("data_fraction", sizing.fraction);
        values.set("epochs", sizing.epochs);
        // Only a GPU has a utilisation to compare with the paper's "> 95%"; on a CPU the
        // claim reads "not run" rather than comparing an unlike quantity.
        if self.backend != BackendChoice::Cpu {
            values.set("gpu_busy_share", 1.0 - summary.data_wait_share);
        }
        Ok(values)
    }
}

/// The registry metrics a training run reports.
pub fn train_values(s: &TrainSummary) -> Values {
    let mut values = Values::default();
    for (name, value) in [
        ("train_loss", s.train_loss),
        ("val_loss", s.val_loss),
        ("val_bpb", s.val_bpb),
        ("loss_spikes", s.loss_spikes as f64),
        ("grad_norm_cv", s.grad_norm_cv),
        ("data_wait_share", s.data_wait_share),
        ("padding_share", s.padding_share),
        ("truncated_share", s.truncated_share),
        ("tokens_per_s", s.tokens_per_s),
        ("mfu", s.mfu),
        ("non_embedding_params", s.non_embedding_params as f64),
        ("tokens_per_param", s.tokens_per_param),
    ] {
        values.set(name, value);
    }
    values
}

/// Trains the run's tokenizer on its prepared corpus and measures symbol stability on it.
fn tokenizer(ctx: &StageContext<'_>, out: &Path) -> Result<Values> {
    let docs = ctx.upstream.prepared()?.documents();
    let record =
        crate::tokenize::train_tokenizer(&ctx.spec.tokenizer, ctx.spec.tokenizer_vocab(), &docs, out)?;
    let stats = crate::tokenize::stats(&out.join(TOKENIZER_FILE), &docs)?;
    stats.save(&out.join(crate::tokenize::train::STATS_FILE))?;
    let mut values = Values::default();
    for (name, value) in &stats.metrics {
        values.set(name, *value);
    }
    values.set("vocab_size", f64::from(record.vocab_size));
    Ok(values)
}

/// Packs the prepared corpus into token shards with the run's tokenizer.
fn tokenize(ctx: &StageContext<'_>, out: &Path) -> Result<Values> {
    let docs = ctx.upstream.prepared()?.documents();
    let summary = crate::tokenize::write_shards(
        &ctx.upstream.tokenizer()?,
        &docs,
        ctx.spec.tokenizer.shard_dtype,
        ctx.profile.vocab.u16_limit,
        out,
    )?;
    let mut values = Values::default();
    values.set("tokens_kept", summary.tokens() as f64);
    values.set("wrapped_share", summary.wrapped_share());
    Ok(values)
}

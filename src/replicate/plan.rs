//! Which stages a run needs and the cache key of each.
//!
//! Keys chain: a stage's key includes its inputs' keys, so runs that agree on
//! everything upstream share outputs (the six T runs share one prepared corpus;
//! the S ladder shares one tokenizer and one shard set).

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::cache::StageKey;
use crate::corpus::real::RealCorpus;
use crate::spec::tokenizer::{Recipe, ShardDtype, VocabRef};
use crate::spec::{Profile, Spec};
use crate::train::BackendChoice;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageName {
    Prepare,
    Tokenizer,
    Tokenize,
    Train,
}

impl StageName {
    pub const ALL: [StageName; 4] =
        [StageName::Prepare, StageName::Tokenizer, StageName::Tokenize, StageName::Train];

    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Prepare => "prepare",
            StageName::Tokenizer => "tokenizer",
            StageName::Tokenize => "tokenize",
            StageName::Train => "train",
        }
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the papers come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Input {
    /// The embedded synthetic corpus (`corpus synth`), sized by the profile.
    Synthetic { papers: u32, seed: u64 },
    /// Real arXiv bulk tars or per-paper files, with optional OAI metadata.
    Sources { src: Vec<PathBuf>, metadata: Option<PathBuf>, fingerprint: String },
    /// The embedded real arXiv corpus (`corpus::real`), for the groups the profile names.
    Real { papers: u64, fingerprint: String },
}

impl Input {
    pub fn synthetic(profile: &Profile) -> Self {
        Input::Synthetic { papers: profile.corpus.papers, seed: profile.corpus.seed }
    }

    /// Real inputs, fingerprinted by path, size and modification time so edits invalidate the cache.
    pub fn sources(src: Vec<PathBuf>, metadata: Option<PathBuf>) -> std::io::Result<Self> {
        let mut parts = Vec::new();
        for path in src.iter().chain(metadata.iter()) {
            let meta = std::fs::metadata(path)?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            parts.push((path.display().to_string(), meta.len(), modified));
        }
        let fingerprint = StageKey::new("input", &parts, &[]).hash;
        Ok(Input::Sources { src, metadata, fingerprint })
    }

    /// The embedded real corpus, fingerprinted by content (tar names and sizes, the manifest's
    /// md5 sums, the metadata) rather than by path, so checkouts in different places share keys.
    pub fn real(corpus: &RealCorpus) -> std::io::Result<Self> {
        let mut parts = Vec::new();
        for tar in &corpus.tars {
            let name = tar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            parts.push((name, std::fs::metadata(tar)?.len(), String::new()));
        }
        let metadata = std::fs::read_to_string(&corpus.metadata)?;
        let manifest_path = corpus.dir.join(crate::corpus::manifest::MANIFEST_FILE_NAME);
        let manifest = std::fs::read_to_string(manifest_path)?;
        parts.push(("manifest".into(), 0, manifest));
        let papers = metadata.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        parts.push(("metadata".into(), papers, metadata));
        Ok(Input::Real { papers, fingerprint: StageKey::new("input", &parts, &[]).hash })
    }

    fn key(&self) -> StageKey {
        StageKey::new("input", self, &[])
    }
}

/// The settings the tokenizer-training stage depends on (not the shard format).
#[derive(Serialize)]
struct TokenizerTraining {
    recipe: Recipe,
    vocab: VocabRef,
    min_frequency: u32,
    train_sample_bytes: u64,
}

/// The settings the sharding stage depends on.
#[derive(Serialize)]
struct Sharding {
    dtype: ShardDtype,
    /// Only meaningful (and only hashed) for the legacy format.
    u16_limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    pub stage: StageName,
    pub key: StageKey,
    /// Keys of the stages whose outputs this one reads.
    pub inputs: Vec<StageKey>,
}

/// The four stages of `spec` with their keys, upstream first.
/// `device` keys training apart from the CPU's (a GPU's losses differ in the
/// last bits, and verify judges them with cross-device tolerances); CPU keys
/// carry no device, so they match those of builds without the choice.
pub fn plan(spec: &Spec, profile: &Profile, input: &Input, device: BackendChoice) -> Vec<PlannedStage> {
    let input_key = input.key();
    let prepare = StageKey::new("prepare", &spec.data, &[&input_key]);
    let t = &spec.tokenizer;
    let training = TokenizerTraining {
        recipe: t.recipe,
        vocab: t.vocab,
        min_frequency: t.min_frequency,
        train_sample_bytes: t.train_sample_bytes,
    };
    let tokenizer = StageKey::new("tokenizer", &training, &[&prepare]);
    let sharding = Sharding {
        dtype: t.shard_dtype,
        u16_limit: (t.shard_dtype == ShardDtype::LegacyU16).then_some(profile.vocab.u16_limit),
    };
    let tokenize = StageKey::new("tokenize", &sharding, &[&tokenizer, &prepare]);
    let settings = (&spec.model, &spec.train, &spec.loader);
    let train = match device {
        BackendChoice::Cpu => StageKey::new("train", &settings, &[&tokenize, &tokenizer]),
        other => StageKey::new("train", &(settings, other), &[&tokenize, &tokenizer]),
    };
    vec![
        PlannedStage { stage: StageName::Prepare, key: prepare.clone(), inputs: vec![input_key] },
        PlannedStage { stage: StageName::Tokenizer, key: tokenizer.clone(), inputs: vec![prepare.clone()] },
        PlannedStage {
            stage: StageName::Tokenize,
            key: tokenize.clone(),
            inputs: vec![tokenizer.clone(), prepare.clone()],
        },
        PlannedStage { stage: StageName::Train, key: train, inputs: vec![tokenize, tokenizer, prepare] },
    ]
}

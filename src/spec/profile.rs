//! Profiles: the scale a spec runs at.
//!
//! A profile names the model shapes (the final shape and the five-rung ladder),
//! the vocabulary sizes and the embedded corpus size, and overrides the scale
//! settings (context, batch, token budget, …) of every spec. Specs never set
//! what a profile overrides, so the ratios a run is about survive scaling.

use serde::{Deserialize, Serialize};

use super::model::Dims;
use super::Group;

pub const PROFILES: [&str; 4] = ["paper", "gpu", "ci", "smoke"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub profile: String,
    pub description: String,
    pub corpus: CorpusScale,
    pub shapes: Shapes,
    pub vocab: Vocabs,
    /// Training seeds per run (each varies weight init and data order). Verdicts need at
    /// least two for a noise estimate; with one every verdict reads "not judged: one seed".
    pub seeds: u32,
    /// Merged over every resolved spec (a YAML mapping in the spec's layout).
    pub overrides: serde_norway::Value,
    /// Token budgets and learning rates of the size-dependent runs (S, F); absent, they
    /// train `train.tokens` at `train.optimizer.lr` like every other run.
    #[serde(default)]
    pub budget: Option<Budget>,
}

/// What the scaling ladder (S01–S05) and the final run (F01) train on, set by model
/// size rather than by one number for every run: a loss-versus-size curve means little
/// when the small rungs see a hundred tokens per parameter and the large ones a tenth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Training tokens per non-embedding parameter (Kaplan et al.'s count: embeddings
    /// left out) for the S runs, and for F01 unless `final_tokens` is set.
    pub tokens_per_param: f64,
    /// F01's training tokens, when the profile keeps the paper's own budget.
    #[serde(default)]
    pub final_tokens: Option<u64>,
    /// How each rung of the ladder sets its peak learning rate.
    pub ladder_lr: LadderLr,
    /// The ladder rung (1-5) the ablation runs (Y, T, D, I) train instead of the final
    /// shape: at the paper's scale an ablation at 1.36B costs as much as the final run.
    #[serde(default)]
    pub ablation_rung: Option<usize>,
    /// Trainings of F01 when fewer than `seeds` (it is judged against the paper's number,
    /// not against another run, and at full scale each seed costs the final run again).
    #[serde(default)]
    pub final_seeds: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LadderLr {
    /// Every rung keeps the spec's `train.optimizer.lr`.
    Spec,
    /// Kaplan et al. (2020, eq. D.1): LR(N) = 0.003239 − 0.0001395 · ln N, N the rung's
    /// non-embedding parameters (about 2e-3 at 10k, 3e-4 at the paper's 1.2B).
    Kaplan,
}

impl LadderLr {
    pub fn lr(self, non_embedding_params: u64, spec_lr: f64) -> f64 {
        match self {
            LadderLr::Spec => spec_lr,
            LadderLr::Kaplan => 0.003239 - 0.0001395 * (non_embedding_params.max(1) as f64).ln(),
        }
    }
}

impl Profile {
    /// Trainings (seeds) a run of `group` gets.
    pub fn seeds_for(&self, group: Group) -> u32 {
        match (&self.budget, group) {
            (Some(Budget { final_seeds: Some(n), .. }), Group::Final) => *n,
            _ => self.seeds,
        }
    }
}

impl Budget {
    /// Training tokens of a run of `group` with `non_embedding_params`, rounded up to whole
    /// optimizer steps of `tokens_per_step`; `None` for groups the budget leaves alone.
    pub fn tokens(&self, group: Group, non_embedding_params: u64, tokens_per_step: u64) -> Option<u64> {
        let wanted = match group {
            Group::Final => self.final_tokens.unwrap_or_else(|| self.per_param(non_embedding_params)),
            Group::Scaling => self.per_param(non_embedding_params),
            _ => return None,
        };
        Some(wanted.div_ceil(tokens_per_step.max(1)) * tokens_per_step.max(1))
    }

    fn per_param(&self, non_embedding_params: u64) -> u64 {
        (self.tokens_per_param * non_embedding_params as f64).ceil() as u64
    }
}

/// What `replicate --all` reads when no `--src` is given: the embedded real
/// corpus (`corpus::real`) for the groups in `real`, the synthetic corpus it
/// generates (sized here) for the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusScale {
    pub papers: u32,
    pub seed: u64,
    /// Groups whose runs read the embedded real arXiv corpus instead.
    #[serde(default)]
    pub real: Vec<Group>,
}

impl CorpusScale {
    /// Whether runs of `group` read the embedded real corpus.
    pub fn is_real(&self, group: Group) -> bool {
        self.real.contains(&group)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shapes {
    #[serde(rename = "final")]
    pub final_shape: Dims,
    /// Five rungs on a geometric ladder of non-embedding parameters; the last is `final`.
    pub ladder: [Dims; 5],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabs {
    pub standard: u32,
    pub large: u32,
    /// Where the legacy `u16` shard format wraps ids (paper: 65,536). Scaled
    /// with `large` so the share of wrapped ids in T06 stays the paper's.
    pub u16_limit: u32,
}

//! `replicate plan`: what a set of runs costs before any compute is spent.
//!
//! Training FLOPs are 6·N·T per seed, N the model's total parameters (embeddings
//! included) and T the run's training tokens; runs that are one configuration under
//! several names train once. Device hours assume a stated peak and MFU; CPU hours use
//! the FLOP rate this machine's earlier runs of the profile measured.

use std::path::Path;

use super::cache::StageCache;
use super::layout::{values_path, RunValues};
use super::plan::{plan, StageName};
use super::runner::{same_run_as, InputKeys};
use crate::spec::{SpecSet, ValidatedSpec};
use crate::train::BackendChoice;

/// The device the GPU-hour column assumes: the paper's A100 80GB, dense bf16.
pub const DEVICE: &str = "NVIDIA A100 80GB";
pub const DEVICE_PEAK_FLOPS: f64 = 312e12;
/// Model FLOP utilisation assumed for the GPU-hour column (typical of a well-tuned dense run).
pub const ASSUMED_MFU: f64 = 0.4;

#[derive(Debug, Clone, PartialEq)]
pub struct RunCost {
    pub id: String,
    pub same_run_as: Option<String>,
    pub params: u64,
    pub non_embedding_params: u64,
    /// Training tokens per seed.
    pub tokens: u64,
    /// Trainings this run adds (0 when it is another run's configuration).
    pub trainings: u32,
    /// 6·N·T over the trainings it adds.
    pub flops: f64,
    /// Stages whose outputs the cache already holds (seed 0).
    pub cached: Vec<StageName>,
}

impl RunCost {
    pub fn gpu_hours(&self) -> f64 {
        self.flops / (DEVICE_PEAK_FLOPS * ASSUMED_MFU) / 3600.0
    }
}

/// Costs of `ids` (all when `None`) under the set's profile, trained on `device`.
pub fn costs(
    set: &SpecSet,
    inputs: &InputKeys,
    device: BackendChoice,
    cache: &StageCache,
    ids: Option<&[String]>,
) -> Vec<RunCost> {
    set.specs
        .iter()
        .filter(|s| ids.is_none_or(|ids| ids.contains(&s.id)))
        .map(|spec| {
            let (params, non_embedding_params) = parameters(spec);
            let same = same_run_as(set, inputs, device, &spec.id);
            let trainings = if same.is_some() { 0 } else { set.profile.seeds_for(spec.group) };
            let tokens = spec.train.tokens;
            let cached = inputs
                .of(spec, set)
                .map(|input| plan(spec, &set.profile, input, device))
                .into_iter()
                .flatten()
                .filter(|p| cache.contains(&p.key))
                .map(|p| p.stage)
                .collect();
            RunCost {
                id: spec.id.clone(),
                same_run_as: same,
                params,
                non_embedding_params,
                tokens,
                trainings,
                flops: 6.0 * params as f64 * tokens as f64 * f64::from(trainings),
                cached,
            }
        })
        .collect()
}

/// Total and non-embedding parameters.
fn parameters(spec: &ValidatedSpec) -> (u64, u64) {
    let dims = spec.dims();
    (dims.parameters(spec.model_vocab(), spec.model.tied_embeddings), dims.non_embedding_parameters())
}

/// FLOP/s this machine reached on the profile's earlier runs (median of 6·N·tokens/s over
/// the runs that report a throughput, N all parameters as in the plan), or `None` before any run.
pub fn measured_cpu_flops(set: &SpecSet, reports_dir: &Path) -> Option<f64> {
    let mut rates: Vec<f64> = set
        .specs
        .iter()
        .filter_map(|s| {
            let v = RunValues::read(&values_path(reports_dir, &set.profile.profile, &s.id)).ok()?;
            let per_s = *v.values.get("tokens_per_s")?;
            (per_s > 0.0).then(|| 6.0 * parameters(s).0 as f64 * per_s)
        })
        .collect();
    if rates.is_empty() {
        return None;
    }
    rates.sort_by(f64::total_cmp);
    Some(rates[rates.len() / 2])
}

/// The plan as a table with a total line; numbers a reader can recheck by hand.
pub fn render(profile: &str, seeds: u32, costs: &[RunCost], cpu_flops: Option<f64>) -> String {
    let cpu_hours =
        |flops: f64| cpu_flops.map_or("–".to_string(), |r| format!("{:.2}", flops / r / 3600.0));
    let mut out = format!(
        "plan for profile {profile}: {seeds} seed(s) per run; FLOPs = 6 x N (all parameters) x T (training tokens) \
         per training; GPU-hours on an {DEVICE} at {:.0} TFLOP/s peak and {:.0}% MFU; CPU-hours at {}\n",
        DEVICE_PEAK_FLOPS / 1e12,
        ASSUMED_MFU * 100.0,
        cpu_flops.map_or("(no measured rate: run the profile once)".to_string(), |r| format!(
            "{:.1} GFLOP/s (measured on this machine's earlier runs of the profile, 6 x N x tokens/s)",
            r / 1e9
        )),
    );
    out.push_str(&format!(
        "{:<4} {:>15} {:>13} {:>17} {:>5} {:>11} {:>12} {:>10}  cached / note\n",
        "run", "params", "non-emb", "tokens/seed", "runs", "FLOPs", "GPU-hours", "CPU-hours"
    ));
    for c in costs {
        let cached: Vec<&str> = c.cached.iter().map(|s| s.as_str()).collect();
        let note = match &c.same_run_as {
            Some(first) => format!("same run as {first}"),
            None if cached.is_empty() => "nothing cached".to_string(),
            None => format!("cached: {}", cached.join(", ")),
        };
        out.push_str(&format!(
            "{:<4} {:>15} {:>13} {:>17} {:>5} {:>11.3e} {:>12.2} {:>10}  {note}\n",
            c.id,
            c.params,
            c.non_embedding_params,
            c.tokens,
            c.trainings,
            c.flops,
            c.gpu_hours(),
            cpu_hours(c.flops),
        ));
    }
    let flops: f64 = costs.iter().map(|c| c.flops).sum();
    let trainings: u32 = costs.iter().map(|c| c.trainings).sum();
    out.push_str(&format!(
        "total: {trainings} trainings, {flops:.3e} FLOPs, {:.1} GPU-hours, {} CPU-hours\n",
        flops / (DEVICE_PEAK_FLOPS * ASSUMED_MFU) / 3600.0,
        cpu_hours(flops)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f01_at_paper_scale_costs_what_6nt_says() {
        let set = crate::spec::load_set(crate::spec::SpecFiles::Embedded, "paper").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let selected: Vec<&ValidatedSpec> = set.specs.iter().collect();
        let inputs = InputKeys::resolve(&set, None, &selected).unwrap();
        let all = costs(&set, &inputs, BackendChoice::Cpu, &StageCache::new(dir.path()), None);
        let named = all.iter().find(|c| c.id == "F01").unwrap();
        assert_eq!(named.params, 1_345_423_360);
        // F01's configuration may train under the id that comes first in the set (I01).
        let first = named.same_run_as.clone().unwrap_or_else(|| "F01".into());
        let f01 = all.iter().find(|c| c.id == first).unwrap();
        let seeds = f64::from(set.profile.seeds_for(crate::spec::Group::Final));
        // The paper's 52.18B tokens, rounded up to whole steps of 2,048 x 768.
        assert_eq!(f01.tokens, 52_180_000_000u64.div_ceil(1_572_864) * 1_572_864);
        let want = 6.0 * 1_345_423_360.0 * f01.tokens as f64 * seeds;
        assert!((f01.flops / want - 1.0).abs() < 1e-12);
        // 4.2e20 FLOPs per seed at 40% of 312 TFLOP/s: about 937 A100-hours.
        let per_seed = f01.gpu_hours() / seeds;
        assert!((per_seed - 937.0).abs() < 1.0, "{per_seed}");
        assert!(all.iter().filter(|c| c.same_run_as.is_some()).all(|c| c.flops == 0.0));
        assert!(f01.cached.is_empty());
        let text = render("paper", set.profile.seeds, &all, None);
        assert!(text.contains("total:") && text.contains("same run as"), "{text}");
    }
}

//! What the `replicate` commands do, composed from the stage modules, so the
//! binary only parses arguments and prints. Nothing here is depended on by
//! the pipeline modules.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::replicate::runner::InputKeys;
use crate::replicate::stages::Pipeline;
use crate::replicate::{self, RunOptions, RunSummary};
use crate::spec::{self, Group, SpecFiles, SpecSet};
use crate::train::BackendChoice;

/// Loads the whole set, or one error listing every problem found.
pub fn load_set(files: &SpecFiles, profile: &str) -> Result<SpecSet> {
    spec::load_set(files.clone(), profile).map_err(spec::set_error)
}

/// `replicate --all` / `run`: the selected runs through the cache, then the
/// report of every run the profile has outputs for (this invocation's or earlier).
pub fn run_and_report(opts: &RunOptions, pipeline: &Pipeline) -> Result<(RunSummary, PathBuf)> {
    let summary = replicate::run(opts, pipeline)?;
    let index = report(&opts.runs, &opts.profile, &opts.reports_dir)?;
    Ok((summary, index))
}

/// `replicate plan`: parameters, tokens, FLOPs, GPU- and CPU-hours and cached stages of
/// the selected runs, trained on `device`, with a total.
pub fn plan(opts: &RunOptions, device: BackendChoice) -> Result<String> {
    use crate::replicate::cache::StageCache;
    use crate::replicate::cost;
    let set = load_set(&opts.runs, &opts.profile)?;
    let selected = replicate::runner::select(&set, opts.ids.as_deref())?;
    let inputs = InputKeys::resolve(&set, opts.sources.as_ref(), &selected)?;
    let costs = cost::costs(&set, &inputs, device, &StageCache::new(&opts.work_dir), opts.ids.as_deref());
    let rate = cost::measured_cpu_flops(&set, &opts.reports_dir);
    Ok(cost::render(&set.profile.profile, set.profile.seeds, &costs, rate))
}

/// Writes `reports/<profile>/index.md` with its tables and figures.
pub fn report(files: &SpecFiles, profile: &str, reports_dir: &Path) -> Result<PathBuf> {
    crate::report::write_report(load_set(files, profile)?, reports_dir)
}

/// The 24 runs by group: id and title.
pub fn list(files: &SpecFiles) -> Result<String> {
    let set = load_set(files, "paper")?;
    let mut out = String::new();
    for group in Group::ALL {
        out.push_str(&format!("{} ({})\n", group.name(), group.letter()));
        for spec in set.specs.iter().filter(|s| s.group == group) {
            out.push_str(&format!("  {}  {}\n", spec.id, spec.title));
        }
    }
    Ok(out)
}

/// A run's resolved spec as YAML, headed by its parameter count.
pub fn show(files: &SpecFiles, id: &str, profile: &str) -> Result<String> {
    let (spec, _) = spec::load_one(files.clone(), id, profile)?;
    let mut out = format!("# {id} resolved under profile `{profile}`\n");
    let dims = spec.dims();
    out.push_str(&format!(
        "# model: {} parameters, {} outside the embeddings\n",
        grouped(dims.parameters(spec.model_vocab(), spec.model.tied_embeddings)),
        grouped(dims.non_embedding_parameters())
    ));
    out.push_str(&serde_norway::to_string(&spec)?);
    Ok(out)
}

/// Where a run's spec comes from: the set, its `extends` chain root first, and the profile file.
pub fn show_source(files: &SpecFiles, id: &str, profile: &str) -> Result<String> {
    let mut out = format!("spec set: {}\n", files.describe());
    for path in spec::spec_sources(files.clone(), id, profile)? {
        out.push_str(&format!("{}\n", path.display()));
    }
    Ok(out)
}

/// 1345423360 -> "1,345,423,360".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

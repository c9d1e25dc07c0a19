//! `replicate --all` / `replicate run`: every stage of every selected run,
//! through the cache, with a record per run. One run failing never stops the others.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::cache::{StageCache, StageKey};
use super::plan::{plan, Input, StageName};
use super::record::{Host, RunRecord, RunStatus, Seeds, StageRecord, StageStatus, Versions};
use super::stages::{execute, StageContext};
use crate::io::{tree_size, write_json_atomic};
use crate::spec::{load_set, Spec, SpecSet};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub runs_dir: PathBuf,
    pub work_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub profile: String,
    /// `None` runs all 24.
    pub ids: Option<Vec<String>>,
    /// Real sources; `None` uses the embedded synthetic corpus.
    pub sources: Option<(Vec<PathBuf>, Option<PathBuf>)>,
    /// Redo stages even when their output is cached (once per stage key per invocation).
    pub force: bool,
    pub show_progress: bool,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub id: String,
    pub status: RunStatus,
    pub failed_stage: Option<StageName>,
    pub error: Option<String>,
    pub record: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub profile: String,
    pub runs: Vec<RunOutcome>,
}

impl RunSummary {
    pub fn failed(&self) -> usize {
        self.runs.iter().filter(|r| r.status == RunStatus::Failed).count()
    }

    /// One line per run: what happened and, for failures, where and why.
    pub fn render(&self) -> String {
        let mut out =
            format!("profile {}: {} runs, {} failed\n", self.profile, self.runs.len(), self.failed());
        for run in &self.runs {
            match (&run.failed_stage, &run.error) {
                (Some(stage), Some(error)) => {
                    out.push_str(&format!("  {}  FAILED at {stage}: {error}\n", run.id))
                }
                _ => out.push_str(&format!("  {}  ok\n", run.id)),
            }
        }
        out
    }
}

pub fn run(opts: &RunOptions) -> Result<RunSummary> {
    let set = load_set(&opts.runs_dir, &opts.profile).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!("the spec set does not load ({} errors):\n{}", errors.len(), lines.join("\n"))
    })?;
    let selected = select(&set, opts.ids.as_deref())?;
    let input = match &opts.sources {
        None => Input::synthetic(&set.profile),
        Some((src, metadata)) => {
            Input::sources(src.clone(), metadata.clone()).context("cannot read an input path")?
        }
    };
    let cache = StageCache::new(&opts.work_dir);
    let progress = progress_bar(opts.show_progress, selected.len());
    let mut forced = HashSet::new();
    let mut runs = Vec::new();
    for spec in selected {
        progress.set_message(spec.id.clone());
        let outcome = run_one(spec, &set, &input, &cache, opts, &mut forced)?;
        if let Some(stage) = outcome.failed_stage {
            tracing::error!(run = %outcome.id, %stage, "run failed: {}", outcome.error.as_deref().unwrap_or(""));
        }
        runs.push(outcome);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(RunSummary { profile: opts.profile.clone(), runs })
}

fn select<'a>(set: &'a SpecSet, ids: Option<&[String]>) -> Result<Vec<&'a Spec>> {
    let Some(ids) = ids else {
        return Ok(set.specs.iter().collect());
    };
    let unknown: Vec<&str> = ids.iter().map(String::as_str).filter(|id| set.get(id).is_none()).collect();
    if !unknown.is_empty() {
        bail!("unknown run id(s): {} (run `replicate list` for the 24 ids)", unknown.join(", "));
    }
    Ok(set.specs.iter().filter(|s| ids.contains(&s.id)).collect())
}

fn run_one(
    spec: &Spec,
    set: &SpecSet,
    input: &Input,
    cache: &StageCache,
    opts: &RunOptions,
    forced: &mut HashSet<StageKey>,
) -> Result<RunOutcome> {
    let started = Instant::now();
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut stages = Vec::new();
    let mut failure: Option<(StageName, String)> = None;
    for planned in plan(spec, &set.profile, input) {
        if failure.is_some() {
            stages.push(stage_record(&planned.key, planned.stage, StageStatus::Skipped, 0.0, 0, 0, None));
            continue;
        }
        let input_dirs: Vec<PathBuf> =
            planned.inputs.iter().filter(|k| k.stage != "input").map(|k| cache.dir(k)).collect();
        let ctx = StageContext {
            spec,
            profile: &set.profile,
            input,
            input_dirs: input_dirs.iter().map(PathBuf::as_path).collect(),
        };
        let force = opts.force && forced.insert(planned.key.clone());
        let clock = Instant::now();
        let result = cache.run(&planned.key, force, |out| execute(planned.stage, &ctx, out));
        let wall = clock.elapsed().as_secs_f64();
        let bytes_read = input_dirs.iter().map(|d| tree_size(d)).sum();
        match result {
            Ok(done) => {
                let status = if done.reused { StageStatus::Reused } else { StageStatus::Ran };
                stages.push(stage_record(
                    &planned.key,
                    planned.stage,
                    status,
                    wall,
                    bytes_read,
                    tree_size(&done.dir),
                    None,
                ));
            }
            Err(error) => {
                let message = format!("{error:#}");
                stages.push(stage_record(
                    &planned.key,
                    planned.stage,
                    StageStatus::Failed,
                    wall,
                    bytes_read,
                    0,
                    Some(message.clone()),
                ));
                failure = Some((planned.stage, message));
            }
        }
    }
    let status = if failure.is_some() { RunStatus::Failed } else { RunStatus::Succeeded };
    let record = RunRecord {
        id: spec.id.clone(),
        profile: set.profile.profile.clone(),
        status,
        started_at,
        wall_s: started.elapsed().as_secs_f64(),
        seeds: Seeds {
            train: spec.train.seed,
            corpus: match input {
                Input::Synthetic { seed, .. } => Some(*seed),
                Input::Sources { .. } => None,
            },
        },
        input: input.clone(),
        versions: Versions::current(),
        host: Host::current(),
        stages,
        spec: spec.clone(),
    };
    let path = run_dir(&opts.reports_dir, &set.profile.profile, &spec.id).join("record.json");
    write_json_atomic(&path, &record)?;
    let (failed_stage, error) = failure.map_or((None, None), |(s, e)| (Some(s), Some(e)));
    Ok(RunOutcome { id: spec.id.clone(), status, failed_stage, error, record: path })
}

fn stage_record(
    key: &StageKey,
    stage: StageName,
    status: StageStatus,
    wall_s: f64,
    bytes_read: u64,
    bytes_written: u64,
    error: Option<String>,
) -> StageRecord {
    StageRecord { stage, key: key.to_string(), status, wall_s, bytes_read, bytes_written, error }
}

/// `reports/<profile>/runs/<ID>/`.
pub fn run_dir(reports_dir: &Path, profile: &str, id: &str) -> PathBuf {
    reports_dir.join(profile).join("runs").join(id)
}

fn progress_bar(show: bool, len: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    let style =
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} runs  {msg}  ({elapsed})")
            .expect("static template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix("replicate");
    bar
}

//! `replicate --all` / `replicate run`: every stage of every selected run,
//! through the cache, with a record per run. One run failing never stops the others.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::cache::{StageCache, StageKey};
use super::layout::{
    artifacts, profile_dir, run_dir, run_values, values_path, RunValues, CLAIMS_FILE, RECORD_FILE,
    SCALING_FILE, TIMING_DIR,
};
use super::plan::{plan, Input, PlannedStage, StageName};
use super::record::{Host, RunRecord, RunStatus, Seeds, StageRecord, StageStatus, Versions};
use super::scaling::{fit_with_interval, ScalingPoint, ScalingReport, SCALING_RUNS};
use super::stages::{read_values, Executor, Sources, StageContext, Upstream};
use super::verdicts::{judge, ClaimVerdict, Samples};
use crate::corpus::real::RealCorpus;
use crate::io::{tree_size, write_json_atomic};
use crate::spec::{load_set, set_error, Spec, SpecFiles, SpecSet, ValidatedSpec};
use crate::train::BackendChoice;

/// Bootstrap resamples for the scaling interval, and their seed.
const SCALING_RESAMPLES: usize = 1000;
const SCALING_SEED: u64 = 2602;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub runs: SpecFiles,
    pub work_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub profile: String,
    /// `None` runs all 24.
    pub ids: Option<Vec<String>>,
    /// Real sources for every run; `None` uses the embedded corpora the profile names.
    pub sources: Option<Sources>,
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
    pub claims: Vec<ClaimVerdict>,
    pub scaling: Option<ScalingReport>,
}

impl RunSummary {
    pub fn failed(&self) -> usize {
        self.runs.iter().filter(|r| r.status == RunStatus::Failed).count()
    }

    /// One line per run and per claim: what happened and, for failures, where and why.
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
        if let Some(s) = &self.scaling {
            out.push_str(&format!(
                "scaling: L(N) = {:.3} + {:.3} N^-{:.3} (alpha 95% interval {:.3}..{:.3})\n",
                s.fit.e, s.fit.a, s.fit.alpha, s.alpha_interval.0, s.alpha_interval.1
            ));
        }
        if !self.claims.is_empty() {
            out.push_str("claims:\n");
        }
        for c in &self.claims {
            out.push_str(&format!("  {:<22} {:<34} {}\n", c.label, c.id, c.check));
        }
        out
    }
}

/// Runs the selected specs with `executor`, then fits scaling and judges claims over every
/// run of the profile that has values (this invocation's or an earlier one's).
pub fn run(opts: &RunOptions, executor: &impl Executor) -> Result<RunSummary> {
    let set = load_set(opts.runs.clone(), &opts.profile).map_err(set_error)?;
    let selected = select(&set, opts.ids.as_deref())?;
    let cache = StageCache::new(&opts.work_dir);
    let inputs = Inputs::materialize(opts, &set, &selected, &cache, executor)?;
    let progress = progress_bar(opts.show_progress, selected.len());
    let mut forced = HashSet::new();
    let mut runs = Vec::new();
    for spec in selected {
        progress.set_message(spec.id.clone());
        let (input, sources) = inputs.of(spec, &set)?;
        let job = Job { set: &set, input, keys: &inputs.keys, sources, cache: &cache, opts, executor };
        let outcome = job.run(spec, &mut forced)?;
        if let Some(stage) = outcome.failed_stage {
            tracing::error!(run = %outcome.id, %stage, "run failed: {}", outcome.error.as_deref().unwrap_or(""));
        }
        runs.push(outcome);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let (scaling, claims) = finalize(&set, &opts.reports_dir)?;
    Ok(RunSummary { profile: opts.profile.clone(), runs, claims, scaling })
}

/// The runs `ids` names (all when `None`), in set order; an unknown id is an error.
pub fn select<'a>(set: &'a SpecSet, ids: Option<&[String]>) -> Result<Vec<&'a ValidatedSpec>> {
    let Some(ids) = ids else {
        return Ok(set.specs.iter().collect());
    };
    let unknown: Vec<&str> = ids.iter().map(String::as_str).filter(|id| set.get(id).is_none()).collect();
    if !unknown.is_empty() {
        bail!("unknown run id(s): {} (run `replicate list` for the 24 ids)", unknown.join(", "));
    }
    Ok(set.specs.iter().filter(|s| ids.contains(&s.id)).collect())
}

/// The input each run reads, as stage keys name it, before any corpus is
/// materialized: the sources given with `--src` for every run, else the embedded
/// real corpus for the groups the profile names and the synthetic corpus for the rest.
pub struct InputKeys {
    given: Option<Input>,
    real: Option<(Input, RealCorpus)>,
    synthetic: Input,
}

impl InputKeys {
    /// Keys for `set`'s runs; the real corpus is located (and fingerprinted) only when
    /// one of `selected` reads it.
    pub fn resolve(set: &SpecSet, sources: Option<&Sources>, selected: &[&ValidatedSpec]) -> Result<Self> {
        let synthetic = Input::synthetic(&set.profile);
        if let Some(sources) = sources {
            let input = Input::sources(sources.src.clone(), sources.metadata.clone())
                .context("cannot read an input path given with --src/--metadata")?;
            return Ok(InputKeys { given: Some(input), real: None, synthetic });
        }
        let real = if selected.iter().any(|s| set.profile.corpus.is_real(s.group)) {
            let located = RealCorpus::locate()?;
            let input = Input::real(&located)
                .with_context(|| format!("cannot read the real corpus in {}", located.dir.display()))?;
            Some((input, located))
        } else {
            None
        };
        Ok(InputKeys { given: None, real, synthetic })
    }

    /// The input of `spec`'s runs; `None` for a real-corpus run when none was located.
    pub fn of(&self, spec: &Spec, set: &SpecSet) -> Option<&Input> {
        match self.corpus_of(spec, set) {
            CorpusChoice::Given => self.given.as_ref(),
            CorpusChoice::Real => self.real.as_ref().map(|(input, _)| input),
            CorpusChoice::Synthetic => Some(&self.synthetic),
        }
    }

    /// The one rule for which corpus a run reads.
    fn corpus_of(&self, spec: &Spec, set: &SpecSet) -> CorpusChoice {
        if self.given.is_some() {
            CorpusChoice::Given
        } else if set.profile.corpus.is_real(spec.group) {
            CorpusChoice::Real
        } else {
            CorpusChoice::Synthetic
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CorpusChoice {
    /// `--src`/`--metadata`, for every run.
    Given,
    /// The embedded real corpus, for the groups the profile names.
    Real,
    Synthetic,
}

/// [`InputKeys`] with each input's files on disk (the synthetic corpus generated
/// once into the cache when a selected run needs it).
struct Inputs {
    keys: InputKeys,
    given: Option<Sources>,
    real: Option<Sources>,
    synthetic: Option<Sources>,
}

impl Inputs {
    fn materialize(
        opts: &RunOptions,
        set: &SpecSet,
        selected: &[&ValidatedSpec],
        cache: &StageCache,
        executor: &impl Executor,
    ) -> Result<Self> {
        let keys = InputKeys::resolve(set, opts.sources.as_ref(), selected)?;
        let real = keys.real.as_ref().map(|(_, located)| Sources {
            src: located.tars.clone(),
            metadata: Some(located.metadata.clone()),
        });
        let corpus = &set.profile.corpus;
        let synthetic = if opts.sources.is_none() && selected.iter().any(|s| !corpus.is_real(s.group)) {
            let key = StageKey::new("corpus", &keys.synthetic, &[]);
            let made = cache
                .run(&key, false, |out| executor.synthesize(corpus.papers, corpus.seed, out))
                .context("cannot generate the embedded synthetic corpus")?;
            Some(Sources::in_corpus_dir(&made.dir)?)
        } else {
            None
        };
        Ok(Inputs { keys, given: opts.sources.clone(), real, synthetic })
    }

    /// The input of `spec`'s runs and its files.
    fn of(&self, spec: &Spec, set: &SpecSet) -> Result<(&Input, &Sources)> {
        let sources = match self.keys.corpus_of(spec, set) {
            CorpusChoice::Given => self.given.as_ref(),
            CorpusChoice::Real => self.real.as_ref(),
            CorpusChoice::Synthetic => self.synthetic.as_ref(),
        };
        let input = self.keys.of(spec, set);
        input.zip(sources).with_context(|| format!("internal: no input was materialized for {}", spec.id))
    }
}

/// One invocation's shared state.
struct Job<'a, E> {
    set: &'a SpecSet,
    input: &'a Input,
    keys: &'a InputKeys,
    sources: &'a Sources,
    cache: &'a StageCache,
    opts: &'a RunOptions,
    executor: &'a E,
}

impl<E: Executor> Job<'_, E> {
    fn run(&self, spec: &ValidatedSpec, forced: &mut HashSet<StageKey>) -> Result<RunOutcome> {
        let started = Instant::now();
        let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let run_dir = run_dir(&self.opts.reports_dir, &self.set.profile.profile, &spec.id);
        // One process at a time writes a run's reports; a second waits, then reuses every stage.
        let _reports_lock =
            crate::io::exclusive_lock(&run_lock_path(&run_dir), "this run's report directory")?;
        let mut stages = Vec::new();
        let mut values = BTreeMap::new();
        let mut failure: Option<(StageName, String)> = None;
        for planned in plan(spec, &self.set.profile, self.input, self.executor.train_device()) {
            if failure.is_some() {
                stages.push(stage_record(&planned, StageStatus::Skipped, 0.0, 0, 0, None));
                continue;
            }
            let force = self.opts.force && forced.insert(planned.key.clone());
            match self.run_stage(spec, &planned, force) {
                Ok((record, dir)) => {
                    values.extend(read_values(&dir)?);
                    copy_artifacts(planned.stage, &dir, &run_dir)?;
                    stages.push(record);
                }
                Err((record, message)) => {
                    stages.push(record);
                    failure = Some((planned.stage, message));
                }
            }
        }
        let mut train_seeds = vec![spec.train.seed];
        let mut seeds = Vec::new();
        for k in 1..u64::from(self.set.profile.seeds_for(spec.group)) {
            if failure.is_some() {
                break;
            }
            let seeded = spec.with_seed(spec.train.seed + k);
            let planned = plan(&seeded, &self.set.profile, self.input, self.executor.train_device())
                .pop()
                .expect("train is the last stage");
            let force = self.opts.force && forced.insert(planned.key.clone());
            match self.run_stage(&seeded, &planned, force) {
                Ok((record, dir)) => {
                    seeds.push(read_values(&dir)?);
                    train_seeds.push(seeded.train.seed);
                    stages.push(record);
                }
                Err((record, message)) => {
                    stages.push(record);
                    failure = Some((planned.stage, format!("seed {}: {message}", seeded.train.seed)));
                }
            }
        }
        let status = if failure.is_some() { RunStatus::Failed } else { RunStatus::Succeeded };
        let profile = self.set.profile.profile.clone();
        // A failed run still reports what its finished stages measured, so a
        // claim about data yield does not hang on a training failure.
        RunValues { id: spec.id.clone(), profile: profile.clone(), values, seeds }.write(&values_path(
            &self.opts.reports_dir,
            &profile,
            &spec.id,
        ))?;
        let record = RunRecord {
            id: spec.id.clone(),
            profile,
            status,
            started_at,
            wall_s: started.elapsed().as_secs_f64(),
            seeds: Seeds {
                train: train_seeds,
                corpus: match self.input {
                    Input::Synthetic { seed, .. } => Some(*seed),
                    Input::Sources { .. } | Input::Real { .. } => None,
                },
            },
            same_run_as: same_run_as(self.set, self.keys, self.executor.train_device(), &spec.id),
            input: self.input.clone(),
            versions: Versions::current(),
            host: Host::current(),
            stages,
            spec: (**spec).clone(),
        };
        let path = run_dir.join(RECORD_FILE);
        write_json_atomic(&path, &record)?;
        let (failed_stage, error) = failure.map_or((None, None), |(s, e)| (Some(s), Some(e)));
        Ok(RunOutcome { id: spec.id.clone(), status, failed_stage, error, record: path })
    }

    /// Runs or reuses one stage; on failure returns its record and the message.
    fn run_stage(
        &self,
        spec: &ValidatedSpec,
        planned: &PlannedStage,
        force: bool,
    ) -> std::result::Result<(StageRecord, PathBuf), (StageRecord, String)> {
        let mut upstream = Upstream::default();
        for key in &planned.inputs {
            if let Some(stage) = StageName::ALL.into_iter().find(|s| s.as_str() == key.stage) {
                upstream.insert(stage, self.cache.dir(key));
            }
        }
        let bytes_read = upstream.dirs().map(tree_size).sum();
        let ctx = StageContext { spec, profile: &self.set.profile, sources: self.sources, upstream };
        let clock = Instant::now();
        let produce = |out: &Path| self.executor.execute(planned.stage, &ctx, out);
        // Training checkpoints: a killed run resumes from the last good one.
        let result = if planned.stage == StageName::Train {
            self.cache.run_resumable(&planned.key, force, produce)
        } else {
            self.cache.run(&planned.key, force, produce)
        };
        let wall = clock.elapsed().as_secs_f64();
        match result {
            Ok(done) => {
                let status = if done.reused { StageStatus::Reused } else { StageStatus::Ran };
                let written = if done.reused { 0 } else { tree_size(&done.dir) };
                Ok((stage_record(planned, status, wall, bytes_read, written, None), done.dir))
            }
            Err(error) => {
                let message = format!("{error:#}");
                let record =
                    stage_record(planned, StageStatus::Failed, wall, bytes_read, 0, Some(message.clone()));
                Err((record, message))
            }
        }
    }
}

/// The first run of the set whose training stage has the same key as `id`'s (the same
/// configuration under another name), if it is not `id` itself.
pub fn same_run_as(set: &SpecSet, inputs: &InputKeys, device: BackendChoice, id: &str) -> Option<String> {
    let train_key =
        |spec: &Spec| plan(spec, &set.profile, inputs.of(spec, set)?, device).pop().map(|p| p.key);
    let key = train_key(set.get(id)?)?;
    let first = set.specs.iter().find(|s| train_key(s).as_ref() == Some(&key))?;
    (first.id != id).then(|| first.id.clone())
}

fn stage_record(
    planned: &PlannedStage,
    status: StageStatus,
    wall_s: f64,
    bytes_read: u64,
    bytes_written: u64,
    error: Option<String>,
) -> StageRecord {
    StageRecord {
        stage: planned.stage,
        key: planned.key.to_string(),
        status,
        wall_s,
        bytes_read,
        bytes_written,
        error,
    }
}

fn copy_artifacts(stage: StageName, from: &Path, run_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(run_dir).with_context(|| format!("cannot create {}", run_dir.display()))?;
    for (name, renamed) in artifacts(stage) {
        let source = from.join(name);
        if source.is_file() {
            let bytes =
                std::fs::read(&source).with_context(|| format!("cannot read {}", source.display()))?;
            crate::io::write_atomic(&run_dir.join(renamed), &bytes)?;
        }
    }
    Ok(())
}

/// Scaling fit over S01–S05 per seed (alpha and E added to S05's values, one per seed) and
/// claim verdicts, written next to the runs.
fn finalize(set: &SpecSet, reports_dir: &Path) -> Result<(Option<ScalingReport>, Vec<ClaimVerdict>)> {
    let profile_dir = profile_dir(reports_dir, &set.profile.profile);
    let _lock = crate::io::exclusive_lock(&profile_dir.join(".finalize.lock"), "the profile's reports")?;
    let mut values = run_values(set, reports_dir)?;
    let seeds =
        SCALING_RUNS.iter().map(|id| values.get(*id).map_or(0, |v| 1 + v.seeds.len())).min().unwrap_or(0);
    let fits: Vec<ScalingReport> = (0..seeds).map_while(|k| fit_scaling(&values, k)).collect();
    let scaling = fits.first().cloned();
    if let Some(report) = &scaling {
        write_json_atomic(&profile_dir.join(SCALING_FILE), report)?;
        let last = SCALING_RUNS[SCALING_RUNS.len() - 1];
        let run = values.entry(last.to_string()).or_default();
        for (k, fit) in fits.iter().enumerate() {
            let target = if k == 0 { &mut run.values } else { &mut run.seeds[k - 1] };
            target.insert("scaling_alpha".into(), fit.fit.alpha);
            target.insert("scaling_e".into(), fit.fit.e);
        }
        run.write(&values_path(reports_dir, &set.profile.profile, last))?;
    }
    let samples: Samples = values.iter().map(|(id, v)| (id.clone(), v.samples())).collect();
    let claims = judge(set, &samples);
    if !samples.is_empty() {
        let (reproducible, timing): (Vec<&ClaimVerdict>, Vec<&ClaimVerdict>) =
            claims.iter().partition(|c| c.reproducible());
        write_json_atomic(&profile_dir.join(CLAIMS_FILE), &reproducible)?;
        write_json_atomic(&profile_dir.join(TIMING_DIR).join(CLAIMS_FILE), &timing)?;
    }
    Ok((scaling, claims))
}

/// The fit on seed `k`'s final losses (0: the spec's seed).
fn fit_scaling(values: &BTreeMap<String, RunValues>, k: usize) -> Option<ScalingReport> {
    let points: Option<Vec<ScalingPoint>> = SCALING_RUNS
        .iter()
        .map(|id| {
            let run = values.get(*id)?;
            let loss =
                if k == 0 { run.values.get("val_loss") } else { run.seeds.get(k - 1)?.get("val_loss") };
            Some(ScalingPoint { params: *run.values.get("non_embedding_params")?, loss: *loss? })
        })
        .collect();
    fit_with_interval(&points?, SCALING_RESAMPLES, SCALING_SEED)
}

/// Beside the run directory, not in it: the run directory holds exactly the reports.
fn run_lock_path(run_dir: &Path) -> PathBuf {
    let name = run_dir.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    run_dir.with_file_name(format!(".{name}.lock"))
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

//! Where a profile's reports live and what each run leaves there:
//! `reports/<profile>/runs/<ID>/` with the run's record, its values and the
//! stage artifacts copied beside them, and the profile's claims and scaling
//! fit one level up. The runner writes these paths; golden files, the cost
//! plan and the report read them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::plan::StageName;
use super::verdicts::{Measured, Samples};
use crate::io::write_atomic;
use crate::metrics::{tolerance_for, Tolerance};
use crate::spec::SpecSet;

/// A run's record (`record.json`): resolved spec, seeds, versions, stages, timings.
pub const RECORD_FILE: &str = "record.json";
/// A run's values (`values.json`); the timing values sit beside it (see [`timing_path`]).
pub const VALUES_FILE: &str = "values.json";
/// The training summary, as the train stage's `summary.json` is named in the run folder.
pub const TRAIN_SUMMARY_FILE: &str = "train.json";
/// The verdicts of a profile's claims, under `reports/<profile>/` (reproducible claims) and
/// under its [`TIMING_DIR`] (claims on timing metrics).
pub const CLAIMS_FILE: &str = "claims.json";
/// Where a profile's machine-dependent outputs go (`reports/<profile>/timing/`): timing
/// claims and the timing report. Not committed: they change on every rerun.
pub const TIMING_DIR: &str = "timing";
/// The scaling fit over the S ladder, under `reports/<profile>/`.
pub const SCALING_FILE: &str = "scaling.json";

/// `reports/<profile>/`.
pub fn profile_dir(reports_dir: &Path, profile: &str) -> PathBuf {
    reports_dir.join(profile)
}

/// `reports/<profile>/runs/<ID>/`.
pub fn run_dir(reports_dir: &Path, profile: &str, id: &str) -> PathBuf {
    reports_dir.join(profile).join("runs").join(id)
}

pub fn values_path(reports_dir: &Path, profile: &str, id: &str) -> PathBuf {
    run_dir(reports_dir, profile, id).join(VALUES_FILE)
}

/// Files of a stage's output that belong in the run folder, with the name they get there.
pub fn artifacts(stage: StageName) -> &'static [(&'static str, &'static str)] {
    use crate::{prepare::output as prepared, tokenize::shards, tokenize::train as tokenizer, train};
    match stage {
        StageName::Prepare => &[
            (prepared::YIELD_FILE, prepared::YIELD_FILE),
            (prepared::SUMMARY_FILE, "prepare.json"),
            (prepared::LEDGER_FILE, prepared::LEDGER_FILE),
        ],
        StageName::Tokenizer => {
            &[(tokenizer::RECORD_FILE, "tokenizer.json"), (tokenizer::STATS_FILE, "tokenizer-stats.json")]
        }
        StageName::Tokenize => &[
            (shards::SUMMARY_FILE, shards::SUMMARY_FILE),
            (shards::DOCUMENT_TOKENS_FILE, shards::DOCUMENT_TOKENS_FILE),
        ],
        StageName::Train => {
            &[(train::METRICS_FILE, train::METRICS_FILE), (train::SUMMARY_FILE, TRAIN_SUMMARY_FILE)]
        }
    }
}

/// What a run reports: registry metrics by name, plus stage counts under `count.*`.
/// The same shape is written to `reports/<profile>/runs/<ID>/values.json` and pinned
/// in `golden/<profile>/<ID>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunValues {
    pub id: String,
    pub profile: String,
    /// The first seed's values (every stage).
    pub values: BTreeMap<String, f64>,
    /// The training values of every further seed, in seed order (empty with one seed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<BTreeMap<String, f64>>,
}

impl RunValues {
    /// Every metric with one value per seed, seed 0 first; metrics only the first seed
    /// measures (data stages, which no seed changes) repeat its value.
    pub fn samples(&self) -> BTreeMap<String, Vec<f64>> {
        self.values
            .iter()
            .map(|(key, first)| {
                let rest = self.seeds.iter().map(|s| s.get(key).copied().unwrap_or(*first));
                (key.clone(), std::iter::once(*first).chain(rest).collect())
            })
            .collect()
    }
}

/// Where the timing values of the values file at `path` live (`values.json` ->
/// `values.timing.json`): throughput, MFU and data wait differ on every rerun, so they stay
/// out of the file a checkout commits (the reports' `.gitignore` lists this name).
pub fn timing_path(path: &Path) -> PathBuf {
    path.with_extension("timing.json")
}

impl RunValues {
    /// The values at `path`, with the timing values beside it merged back in.
    pub fn read(path: &Path) -> Result<Self> {
        let mut values = Self::read_one(path)?;
        let timing = timing_path(path);
        if timing.exists() {
            values.absorb(Self::read_one(&timing)?);
        }
        Ok(values)
    }

    fn read_one(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a values file", path.display()))
    }

    /// Writes the reproducible values to `path` and the timing values (unpinned metrics) to
    /// [`timing_path`], so that rerunning on the same machine rewrites `path` byte for byte.
    pub fn write(&self, path: &Path) -> Result<()> {
        let (values, timing) = self.split_timing();
        write_pretty(path, &values)?;
        let timing_file = timing_path(path);
        if timing.values.is_empty() && timing.seeds.iter().all(BTreeMap::is_empty) {
            return match std::fs::remove_file(&timing_file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            };
        }
        write_pretty(&timing_file, &timing)
    }

    /// (reproducible values, timing values): the registry's unpinned metrics are timings.
    fn split_timing(&self) -> (RunValues, RunValues) {
        let is_timing = |key: &String| tolerance_for(key) == Tolerance::Unpinned;
        let part = |keep: &dyn Fn(&String) -> bool| RunValues {
            id: self.id.clone(),
            profile: self.profile.clone(),
            values: self.values.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), *v)).collect(),
            seeds: self
                .seeds
                .iter()
                .map(|s| s.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), *v)).collect())
                .collect(),
        };
        (part(&|k| !is_timing(k)), part(&is_timing))
    }

    fn absorb(&mut self, other: RunValues) {
        self.values.extend(other.values);
        self.seeds.resize_with(self.seeds.len().max(other.seeds.len()), BTreeMap::new);
        for (mine, theirs) in self.seeds.iter_mut().zip(other.seeds) {
            mine.extend(theirs);
        }
    }
}

fn write_pretty(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Seed-0 values of every run of the profile that has them.
pub fn measured(set: &SpecSet, reports_dir: &Path) -> Result<Measured> {
    Ok(run_values(set, reports_dir)?.into_iter().map(|(id, v)| (id, v.values)).collect())
}

/// Values per seed of every run of the profile that has them.
pub fn samples(set: &SpecSet, reports_dir: &Path) -> Result<Samples> {
    Ok(run_values(set, reports_dir)?.into_iter().map(|(id, v)| (id, v.samples())).collect())
}

pub fn run_values(set: &SpecSet, reports_dir: &Path) -> Result<BTreeMap<String, RunValues>> {
    let mut found = BTreeMap::new();
    for spec in &set.specs {
        let path = values_path(reports_dir, &set.profile.profile, &spec.id);
        if path.exists() {
            found.insert(spec.id.clone(), RunValues::read(&path)?);
        }
    }
    Ok(found)
}

#[cfg(test)]
impl RunValues {
    /// T03's values at smoke with the given first-seed metrics (tests).
    pub(crate) fn smoke_t03(pairs: &[(&str, f64)]) -> Self {
        RunValues {
            id: "T03".into(),
            profile: "smoke".into(),
            values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            seeds: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_values_live_beside_the_values_and_read_back_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("values.json");
        let mut run = RunValues::smoke_t03(&[("val_loss", 3.0), ("tokens_per_s", 5000.0)]);
        run.seeds = vec![[("val_loss".to_string(), 3.1), ("mfu".to_string(), 0.2)].into()];
        run.write(&path).unwrap();
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed.contains("val_loss")
                && !committed.contains("tokens_per_s")
                && !committed.contains("mfu")
        );
        let timing = std::fs::read_to_string(timing_path(&path)).unwrap();
        assert!(timing.contains("tokens_per_s") && timing.contains("mfu") && !timing.contains("val_loss"));
        assert_eq!(RunValues::read(&path).unwrap(), run);
        // Values without timings leave no stale timing file behind.
        RunValues::smoke_t03(&[("val_loss", 3.0)]).write(&path).unwrap();
        assert!(!timing_path(&path).exists());
    }
}

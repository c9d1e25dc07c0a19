//! Golden outputs: each run's values pinned per profile, compared with the
//! tolerance the metric registry gives (`crate::metrics::tolerance_for`), or
//! its cross-device tolerance for runs trained on another backend than
//! golden's CPU (`crate::metrics::cross_device_tolerance_for`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::io::write_atomic;
use crate::metrics::{cross_device_tolerance_for, tolerance_for, Tolerance};
use crate::train::BackendChoice;

/// What a run reports: registry metrics by name, plus stage counts under `count.*`.
/// The same shape is written to `reports/<profile>/runs/<ID>/values.json` and pinned
/// in `golden/<profile>/<ID>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunValues {
    pub id: String,
    pub profile: String,
    pub values: BTreeMap<String, f64>,
}

impl RunValues {
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a values file", path.display()))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub run: String,
    pub key: String,
    pub expected: Option<f64>,
    pub got: Option<f64>,
    pub tolerance: Tolerance,
}

/// Which backend trained a run's values, from the `train.json` in its report
/// folder; CPU (golden's) when it did not train.
pub fn trained_on(reports_dir: &Path, profile: &str, id: &str) -> Result<BackendChoice> {
    let path = super::runner::run_dir(reports_dir, profile, id).join("train.json");
    if !path.exists() {
        return Ok(BackendChoice::Cpu);
    }
    /// Only the field verify needs, so summaries of older builds still read.
    #[derive(Deserialize)]
    struct Trained {
        #[serde(default)]
        device: BackendChoice,
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let trained: Trained = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a training summary", path.display()))?;
    Ok(trained.device)
}

/// Every key whose value differs beyond its tolerance, or is present on one
/// side only. `on`: the backend that trained `got` (golden's is the CPU).
pub fn compare(expected: &RunValues, got: &RunValues, on: BackendChoice) -> Vec<Mismatch> {
    let keys: std::collections::BTreeSet<&String> = expected.values.keys().chain(got.values.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let tolerance =
                if on == BackendChoice::Cpu { tolerance_for(key) } else { cross_device_tolerance_for(key) };
            let (e, g) = (expected.values.get(key).copied(), got.values.get(key).copied());
            let fine = match (e, g) {
                (Some(e), Some(g)) => tolerance.accepts(e, g),
                _ => tolerance == Tolerance::Unpinned,
            };
            (!fine).then(|| Mismatch {
                run: expected.id.clone(),
                key: key.clone(),
                expected: e,
                got: g,
                tolerance,
            })
        })
        .collect()
}

pub fn golden_path(golden_dir: &Path, profile: &str, id: &str) -> PathBuf {
    golden_dir.join(profile).join(format!("{id}.json"))
}

pub fn values_path(reports_dir: &Path, profile: &str, id: &str) -> PathBuf {
    super::runner::run_dir(reports_dir, profile, id).join("values.json")
}

/// Compares the latest outputs of `ids` with golden; a missing file on either side is an error
/// naming it and saying what to run.
pub fn verify(golden_dir: &Path, reports_dir: &Path, profile: &str, ids: &[&str]) -> Result<Vec<Mismatch>> {
    let unknown: Vec<&str> = ids.iter().copied().filter(|id| !crate::spec::RUN_IDS.contains(id)).collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "unknown run id(s): {}; the run ids are {} (`replicate list`)",
            unknown.join(", "),
            crate::spec::RUN_IDS.join(" ")
        );
    }
    let mut mismatches = Vec::new();
    for id in ids {
        let golden = golden_path(golden_dir, profile, id);
        let expected = RunValues::read(&golden).with_context(|| {
            format!("no golden values for {id} at profile {profile}: run `replicate bless --profile {profile}` after reviewing the outputs")
        })?;
        let got_path = values_path(reports_dir, profile, id);
        let got = RunValues::read(&got_path).with_context(|| {
            format!("no outputs for {id}: run `replicate run {id} --profile {profile}` first")
        })?;
        mismatches.extend(compare(&expected, &got, trained_on(reports_dir, profile, id)?));
    }
    Ok(mismatches)
}

/// Rewrites golden files from the latest outputs; returns what changed, as `verify` would report it.
pub fn bless(golden_dir: &Path, reports_dir: &Path, profile: &str, ids: &[&str]) -> Result<Vec<Mismatch>> {
    let mut changes = Vec::new();
    for id in ids {
        let got = RunValues::read(&values_path(reports_dir, profile, id)).with_context(|| {
            format!("no outputs for {id}: run `replicate run {id} --profile {profile}` first")
        })?;
        let on = trained_on(reports_dir, profile, id)?;
        anyhow::ensure!(
            on == BackendChoice::Cpu,
            "{id} was trained on {on:?}: golden values come from the CPU (the other devices are checked \
             against them); rerun it without --device before blessing"
        );
        let path = golden_path(golden_dir, profile, id);
        let before =
            RunValues::read(&path).unwrap_or_else(|_| RunValues { id: id.to_string(), ..Default::default() });
        changes.extend(compare(&before, &got, BackendChoice::Cpu));
        got.write(&path)?;
    }
    Ok(changes)
}

/// A table of mismatches: run, key, expected, got, tolerance.
pub fn render(mismatches: &[Mismatch]) -> String {
    let show = |v: Option<f64>| v.map_or("(absent)".to_string(), |v| format!("{v}"));
    let mut out = format!("{:<5} {:<40} {:>16} {:>16}  tolerance\n", "run", "key", "expected", "got");
    for m in mismatches {
        out.push_str(&format!(
            "{:<5} {:<40} {:>16} {:>16}  {}\n",
            m.run,
            m.key,
            show(m.expected),
            show(m.got),
            m.tolerance
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, f64)]) -> RunValues {
        RunValues {
            id: "T03".into(),
            profile: "smoke".into(),
            values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn compare_uses_each_metrics_tolerance() {
        let golden = values(&[("papers_kept", 30.0), ("val_loss", 3.0), ("tokens_per_s", 5000.0)]);
        let close = values(&[("papers_kept", 30.0), ("val_loss", 3.05), ("tokens_per_s", 9000.0)]);
        assert!(compare(&golden, &close, BackendChoice::Cpu).is_empty());
        let off = values(&[("papers_kept", 31.0), ("val_loss", 3.2), ("tokens_per_s", 1.0)]);
        let keys: Vec<String> =
            compare(&golden, &off, BackendChoice::Cpu).into_iter().map(|m| m.key).collect();
        assert_eq!(keys, vec!["papers_kept", "val_loss"]);
        // 3% off: beyond the CPU's tolerance, within another device's.
        let other_device = values(&[("papers_kept", 30.0), ("val_loss", 3.09)]);
        assert_eq!(compare(&golden, &other_device, BackendChoice::Cpu).len(), 1);
        assert!(compare(&golden, &other_device, BackendChoice::Wgpu).is_empty());
        let keys: Vec<String> =
            compare(&golden, &off, BackendChoice::Wgpu).into_iter().map(|m| m.key).collect();
        assert_eq!(keys, vec!["papers_kept", "val_loss"], "counts stay exact across devices");
    }

    #[test]
    fn keys_on_one_side_only_are_mismatches() {
        let golden = values(&[("count.validation.pdf-only", 2.0)]);
        let got = values(&[("count.validation.empty", 1.0)]);
        let found = compare(&golden, &got, BackendChoice::Cpu);
        assert_eq!(found.len(), 2);
        assert!(render(&found).contains("(absent)"));
    }

    #[test]
    fn bless_then_verify_is_clean_and_reports_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (golden, reports) = (dir.path().join("golden"), dir.path().join("reports"));
        let out = values(&[("papers_kept", 30.0)]);
        out.write(&values_path(&reports, "smoke", "T03")).unwrap();
        let err = verify(&golden, &reports, "smoke", &["T03"]).unwrap_err();
        assert!(format!("{err:#}").contains("replicate bless"), "{err:#}");
        let changes = bless(&golden, &reports, "smoke", &["T03"]).unwrap();
        assert_eq!(changes.len(), 1, "a new key is a change");
        assert!(verify(&golden, &reports, "smoke", &["T03"]).unwrap().is_empty());
        values(&[("papers_kept", 29.0)]).write(&values_path(&reports, "smoke", "T03")).unwrap();
        assert_eq!(verify(&golden, &reports, "smoke", &["T03"]).unwrap().len(), 1);
    }
}

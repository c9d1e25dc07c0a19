//! Golden outputs: each run's values pinned per profile, compared with the
//! tolerance the metric registry gives (`crate::metrics::tolerance_for`), or
//! its cross-device tolerance for runs trained on another backend than
//! golden's CPU (`crate::metrics::cross_device_tolerance_for`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::layout::{run_dir, values_path, RunValues, RECORD_FILE, TRAIN_SUMMARY_FILE};
use crate::metrics::{cross_device_tolerance_for, tolerance_for, Tolerance};
use crate::train::BackendChoice;

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
    let path = run_dir(reports_dir, profile, id).join(TRAIN_SUMMARY_FILE);
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

/// Every key whose value differs beyond its tolerance, or is present on one side only;
/// further seeds' keys read `seed<k>.<metric>`. `on`: the backend that trained `got`
/// (golden's is the CPU).
pub fn compare(expected: &RunValues, got: &RunValues, on: BackendChoice) -> Vec<Mismatch> {
    let empty = BTreeMap::new();
    let seeds = expected.seeds.len().max(got.seeds.len());
    let mut mismatches = compare_maps(&expected.id, "", &expected.values, &got.values, on);
    for k in 0..seeds {
        let (e, g) = (expected.seeds.get(k).unwrap_or(&empty), got.seeds.get(k).unwrap_or(&empty));
        mismatches.extend(compare_maps(&expected.id, &format!("seed{}.", k + 1), e, g, on));
    }
    mismatches
}

fn compare_maps(
    run: &str,
    prefix: &str,
    expected: &BTreeMap<String, f64>,
    got: &BTreeMap<String, f64>,
    on: BackendChoice,
) -> Vec<Mismatch> {
    let keys: std::collections::BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let tolerance =
                if on == BackendChoice::Cpu { tolerance_for(key) } else { cross_device_tolerance_for(key) };
            let (e, g) = (expected.get(key).copied(), got.get(key).copied());
            let fine = match (e, g) {
                (Some(e), Some(g)) => tolerance.accepts(e, g),
                _ => tolerance == Tolerance::Unpinned,
            };
            (!fine).then(|| Mismatch {
                run: run.to_string(),
                key: format!("{prefix}{key}"),
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

/// What a run record must show before its values are compared or pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordCheck {
    /// Built by this source (verify).
    CurrentBuild,
    /// Built by this source, succeeded, and every stage ran or was reused (bless).
    CompleteRun,
}

/// Refuses outputs that a different build made, or (for bless) a failed or partial run.
fn check_record(reports_dir: &Path, profile: &str, id: &str, want: RecordCheck) -> Result<()> {
    let path = run_dir(reports_dir, profile, id).join(RECORD_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no run record for {id} at {}: run `replicate run {id} --profile {profile}` first",
            path.display()
        )
    })?;
    let record: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not a run record", path.display()))?;
    let current = super::record::Versions::current().source_hash;
    let recorded = record["versions"]["source_hash"].as_str().unwrap_or("(none)");
    anyhow::ensure!(
        recorded == current,
        "the outputs of {id} were made by another build (source hash {recorded}, this build {current}): \
         rerun `replicate run {id} --profile {profile}` with this build"
    );
    if want == RecordCheck::CompleteRun {
        let status = record["status"].as_str().unwrap_or("(none)");
        anyhow::ensure!(
            status == "succeeded",
            "{id} did not succeed (status {status}): fix and rerun it before blessing"
        );
        let unfinished: Vec<String> = record["stages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| !matches!(s["status"].as_str(), Some("ran" | "reused")))
            .map(|s| s["stage"].as_str().unwrap_or("?").to_string())
            .collect();
        anyhow::ensure!(
            unfinished.is_empty() && record["stages"].as_array().is_some_and(|a| !a.is_empty()),
            "{id} is a partial run (stages not finished: {}): rerun it before blessing",
            unfinished.join(", ")
        );
    }
    Ok(())
}

/// Golden files hold what a rerun must reproduce: timing values (unpinned) are left out.
fn pinned(mut values: RunValues) -> RunValues {
    let keep = |m: &mut BTreeMap<String, f64>| m.retain(|k, _| tolerance_for(k) != Tolerance::Unpinned);
    keep(&mut values.values);
    values.seeds.iter_mut().for_each(keep);
    values
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
        check_record(reports_dir, profile, id, RecordCheck::CurrentBuild)?;
        mismatches.extend(compare(&expected, &got, trained_on(reports_dir, profile, id)?));
    }
    Ok(mismatches)
}

/// Rewrites golden files from the latest outputs of complete runs of this build; returns what
/// changed, as `verify` would report it.
pub fn bless(golden_dir: &Path, reports_dir: &Path, profile: &str, ids: &[&str]) -> Result<Vec<Mismatch>> {
    let mut changes = Vec::new();
    for id in ids {
        let got = RunValues::read(&values_path(reports_dir, profile, id)).with_context(|| {
            format!("no outputs for {id}: run `replicate run {id} --profile {profile}` first")
        })?;
        check_record(reports_dir, profile, id, RecordCheck::CompleteRun)?;
        let on = trained_on(reports_dir, profile, id)?;
        anyhow::ensure!(
            on == BackendChoice::Cpu,
            "{id} was trained on {on:?}: golden values come from the CPU (the other devices are checked \
             against them); rerun it without --device before blessing"
        );
        let got = pinned(got);
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

    #[test]
    fn compare_uses_each_metrics_tolerance() {
        let golden =
            RunValues::smoke_t03(&[("papers_kept", 30.0), ("val_loss", 3.0), ("tokens_per_s", 5000.0)]);
        let close =
            RunValues::smoke_t03(&[("papers_kept", 30.0), ("val_loss", 3.000001), ("tokens_per_s", 9000.0)]);
        assert!(compare(&golden, &close, BackendChoice::Cpu).is_empty());
        let off = RunValues::smoke_t03(&[("papers_kept", 31.0), ("val_loss", 3.2), ("tokens_per_s", 1.0)]);
        let keys: Vec<String> =
            compare(&golden, &off, BackendChoice::Cpu).into_iter().map(|m| m.key).collect();
        assert_eq!(keys, vec!["papers_kept", "val_loss"]);
        // 1.7% off: beyond the CPU's tolerance, within another device's.
        let other_device = RunValues::smoke_t03(&[("papers_kept", 30.0), ("val_loss", 3.05)]);
        assert_eq!(compare(&golden, &other_device, BackendChoice::Cpu).len(), 1);
        assert!(compare(&golden, &other_device, BackendChoice::Wgpu).is_empty());
        let keys: Vec<String> =
            compare(&golden, &off, BackendChoice::Wgpu).into_iter().map(|m| m.key).collect();
        assert_eq!(keys, vec!["papers_kept", "val_loss"], "counts stay exact across devices");
    }

    #[test]
    fn keys_on_one_side_only_are_mismatches() {
        let golden = RunValues::smoke_t03(&[("count.validation.pdf-only", 2.0)]);
        let got = RunValues::smoke_t03(&[("count.validation.empty", 1.0)]);
        let found = compare(&golden, &got, BackendChoice::Cpu);
        assert_eq!(found.len(), 2);
        assert!(render(&found).contains("(absent)"));
    }

    fn write_record(reports: &Path, status: &str, hash: &str, stage_status: &str) {
        let record = serde_json::json!({
            "status": status,
            "versions": { "source_hash": hash },
            "stages": [{ "stage": "prepare", "status": "ran" }, { "stage": "train", "status": stage_status }],
        });
        let path = run_dir(reports, "smoke", "T03").join(RECORD_FILE);
        crate::io::write_json_atomic(&path, &record).unwrap();
    }

    #[test]
    fn bless_refuses_failed_partial_or_foreign_runs_and_verify_foreign_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (golden, reports) = (dir.path().join("golden"), dir.path().join("reports"));
        RunValues::smoke_t03(&[("papers_kept", 30.0)]).write(&values_path(&reports, "smoke", "T03")).unwrap();
        let current = crate::replicate::record::Versions::current().source_hash;
        for (status, hash, stage, needle) in [
            ("failed", current, "failed", "did not succeed"),
            ("succeeded", current, "skipped", "partial run"),
            ("succeeded", "0123", "ran", "another build"),
        ] {
            write_record(&reports, status, hash, stage);
            let err = bless(&golden, &reports, "smoke", &["T03"]).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{err:#}");
        }
        write_record(&reports, "succeeded", current, "ran");
        bless(&golden, &reports, "smoke", &["T03"]).unwrap();
        write_record(&reports, "succeeded", "0123", "ran");
        let err = verify(&golden, &reports, "smoke", &["T03"]).unwrap_err();
        assert!(format!("{err:#}").contains("another build"), "{err:#}");
    }

    #[test]
    fn bless_drops_timings_and_pins_every_seed() {
        let dir = tempfile::tempdir().unwrap();
        let (golden, reports) = (dir.path().join("golden"), dir.path().join("reports"));
        let mut out = RunValues::smoke_t03(&[("val_loss", 3.0), ("tokens_per_s", 5000.0)]);
        out.seeds = vec![BTreeMap::from([("val_loss".to_string(), 3.1), ("tokens_per_s".to_string(), 1.0)])];
        out.write(&values_path(&reports, "smoke", "T03")).unwrap();
        write_record(&reports, "succeeded", crate::replicate::record::Versions::current().source_hash, "ran");
        bless(&golden, &reports, "smoke", &["T03"]).unwrap();
        let pinned = RunValues::read(&golden_path(&golden, "smoke", "T03")).unwrap();
        assert!(!pinned.values.contains_key("tokens_per_s") && !pinned.seeds[0].contains_key("tokens_per_s"));
        out.seeds[0].insert("val_loss".into(), 3.2);
        out.write(&values_path(&reports, "smoke", "T03")).unwrap();
        let found = verify(&golden, &reports, "smoke", &["T03"]).unwrap();
        assert_eq!(found.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), vec!["seed1.val_loss"]);
    }

    #[test]
    fn bless_then_verify_is_clean_and_reports_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (golden, reports) = (dir.path().join("golden"), dir.path().join("reports"));
        let out = RunValues::smoke_t03(&[("papers_kept", 30.0)]);
        out.write(&values_path(&reports, "smoke", "T03")).unwrap();
        write_record(&reports, "succeeded", crate::replicate::record::Versions::current().source_hash, "ran");
        let err = verify(&golden, &reports, "smoke", &["T03"]).unwrap_err();
        assert!(format!("{err:#}").contains("replicate bless"), "{err:#}");
        let changes = bless(&golden, &reports, "smoke", &["T03"]).unwrap();
        assert_eq!(changes.len(), 1, "a new key is a change");
        assert!(verify(&golden, &reports, "smoke", &["T03"]).unwrap().is_empty());
        RunValues::smoke_t03(&[("papers_kept", 29.0)]).write(&values_path(&reports, "smoke", "T03")).unwrap();
        assert_eq!(verify(&golden, &reports, "smoke", &["T03"]).unwrap().len(), 1);
    }
}

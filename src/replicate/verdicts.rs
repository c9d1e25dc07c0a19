//! Judging the paper's claims on measured values, over seeds.
//!
//! The rule (documented in `paper/verdicts.md`): each side of a check is the
//! mean over the run's seeds (times the check's factor); the effect is the
//! difference of the means in the stated direction and the noise the pooled
//! standard deviation of the measured sides (sample sd, n - 1). A claim is
//! `replicated` only when the effect exceeds twice the noise (strictly, so
//! equal values never pass), `not replicated` when it is at most minus twice
//! the noise (an effect of exactly zero with no noise is not replicated), and
//! `inconclusive` in between. With fewer than two seeds there is no noise
//! estimate and nothing is judged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::{tolerance_for, Tolerance};
use crate::spec::claims::{ClaimKind, Comparison, MetricRef, Operand};
use crate::spec::{Source, SpecSet};

/// How many pooled standard deviations an effect must clear.
pub const NOISE_MARGIN: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Replicated,
    NotReplicated,
    Inconclusive,
    /// Fewer than two seeds: no noise estimate, so no verdict.
    NotJudged,
    /// A run the check reads did not produce the metric (not run, failed, or not
    /// measurable here: a GPU-only metric on a CPU, a paper-profile claim at another profile).
    NotRun,
}

impl Verdict {
    /// The verdict as a reader sees it; pipeline checks are never called a replication.
    pub fn label(self, kind: ClaimKind) -> &'static str {
        match (self, kind) {
            (Verdict::Replicated, ClaimKind::Paper) => "replicated",
            (Verdict::NotReplicated, ClaimKind::Paper) => "not replicated",
            (Verdict::Replicated, ClaimKind::Pipeline) => "check holds",
            (Verdict::NotReplicated, ClaimKind::Pipeline) => "check fails",
            (Verdict::Inconclusive, _) => "inconclusive",
            (Verdict::NotJudged, _) => "not judged: one seed",
            (Verdict::NotRun, _) => "not run",
        }
    }
}

/// Mean, spread and count of one side of a check (factor applied).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SideStats {
    pub mean: f64,
    /// Sample standard deviation over seeds; 0 for a bare number or one seed.
    pub sd: f64,
    /// Seeds measured; 0 for a bare number.
    pub n: usize,
}

impl SideStats {
    pub fn of(values: &[f64]) -> SideStats {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let var =
            if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        SideStats { mean, sd: var.sqrt(), n }
    }

    fn constant(value: f64) -> SideStats {
        SideStats { mean: value, sd: 0.0, n: 0 }
    }
}

/// What the rule concluded from two sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Difference of the means in the stated direction (positive supports the claim).
    pub effect: f64,
    /// Pooled standard deviation of the measured sides.
    pub noise: f64,
    /// `effect / noise` (Cohen's d); `None` when the noise is zero.
    pub effect_size: Option<f64>,
}

/// The three-way rule on two summarized sides; see the module doc.
pub fn decide(op: Comparison, lhs: SideStats, rhs: SideStats) -> Judgement {
    let effect = match op {
        Comparison::Gt => lhs.mean - rhs.mean,
        Comparison::Lt => rhs.mean - lhs.mean,
    };
    let measured: Vec<&SideStats> = [&lhs, &rhs].into_iter().filter(|s| s.n > 0).collect();
    let noise = (measured.iter().map(|s| s.sd * s.sd).sum::<f64>() / measured.len().max(1) as f64).sqrt();
    let effect_size = (noise > 0.0).then(|| effect / noise);
    let verdict = if measured.iter().any(|s| s.n < 2) {
        Verdict::NotJudged
    } else if effect > NOISE_MARGIN * noise {
        Verdict::Replicated
    } else if effect <= -NOISE_MARGIN * noise {
        Verdict::NotReplicated
    } else {
        Verdict::Inconclusive
    };
    Judgement { verdict, effect, noise, effect_size }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimVerdict {
    /// The spec that states the claim.
    pub run: String,
    pub id: String,
    pub kind: ClaimKind,
    pub statement: String,
    pub source: Source,
    /// The paper's own number for this finding, when it gives one.
    pub paper_value: Option<String>,
    pub check: String,
    pub lhs: Option<SideStats>,
    pub rhs: Option<SideStats>,
    /// Difference of means in the stated direction, the pooled sd and their ratio.
    pub judgement: Option<Judgement>,
    /// `effect / lhs mean`: for the yield claim the share of the described pipeline's tokens
    /// the released scripts lose.
    pub relative_effect: Option<f64>,
    pub verdict: Verdict,
    /// What a reader sees: the verdict in the claim's kind's words.
    pub label: String,
    /// `RUN.metric` references without a value.
    pub missing: Vec<String>,
    /// Why a claim was not judged or not run, when there is more to say than `missing`.
    pub note: Option<String>,
    /// Whether the check reads a timing metric (data wait, throughput): its numbers change on
    /// every rerun, so it is reported with the machine-dependent outputs.
    #[serde(default)]
    pub timing: bool,
}

impl ClaimVerdict {
    /// Whether this claim's numbers are reproducible run to run (it reads no timing metric).
    pub fn reproducible(&self) -> bool {
        !self.timing
    }
}

/// Seed-0 values per run: `values[run][metric]` (tables and figures).
pub type Measured = BTreeMap<String, BTreeMap<String, f64>>;
/// Values per seed: `samples[run][metric]` holds one value per seed, seed 0 first.
pub type Samples = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

fn side(operand: &Operand, samples: &Samples) -> Option<SideStats> {
    match &operand.reference {
        None => Some(SideStats::constant(operand.factor)),
        Some(r) => {
            let values = lookup(samples, r)?;
            let scaled: Vec<f64> = values.iter().map(|v| operand.factor * v).collect();
            Some(SideStats::of(&scaled))
        }
    }
}

fn lookup<'a>(samples: &'a Samples, r: &MetricRef) -> Option<&'a Vec<f64>> {
    samples.get(&r.run).and_then(|m| m.get(&r.metric)).filter(|v| !v.is_empty())
}

pub fn judge(set: &SpecSet, samples: &Samples) -> Vec<ClaimVerdict> {
    let profile = &set.profile.profile;
    let mut verdicts = Vec::new();
    for spec in &set.specs {
        for claim in &spec.claims {
            let check = &claim.check;
            let missing: Vec<String> = check
                .references()
                .filter(|r| lookup(samples, r).is_none())
                .map(|r| format!("{}.{}", r.run, r.metric))
                .collect();
            let off_profile = claim.profiles.as_ref().filter(|ps| !ps.contains(profile));
            let (lhs, rhs) = (side(&check.lhs, samples), side(&check.rhs, samples));
            let judgement = match (off_profile, lhs, rhs) {
                (None, Some(l), Some(r)) => Some(decide(check.op, l, r)),
                _ => None,
            };
            let verdict = judgement.map_or(Verdict::NotRun, |j| j.verdict);
            let note = match (off_profile, verdict) {
                (Some(ps), _) => Some(format!("judged only at profile {}", ps.join(", "))),
                (None, Verdict::NotJudged) => Some("one seed gives no noise estimate".to_string()),
                _ => None,
            };
            verdicts.push(ClaimVerdict {
                run: spec.id.clone(),
                id: claim.id.clone(),
                kind: claim.kind,
                statement: claim.statement.clone(),
                source: claim.source,
                paper_value: claim.paper_value.clone(),
                check: check.to_string(),
                lhs,
                rhs,
                judgement,
                relative_effect: judgement
                    .zip(lhs)
                    .filter(|(_, l)| l.mean != 0.0)
                    .map(|(j, l)| j.effect / l.mean.abs()),
                verdict,
                label: verdict.label(claim.kind).to_string(),
                missing,
                note,
                timing: check.references().any(|r| tolerance_for(&r.metric) == Tolerance::Unpinned),
            });
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::Path;

    fn stats(values: &[f64]) -> SideStats {
        SideStats::of(values)
    }

    #[rstest]
    // Clear effect, small noise: replicated.
    #[case(&[10.0, 10.2, 9.8], &[5.0, 5.1, 4.9], Comparison::Gt, Verdict::Replicated)]
    // The same values against `<`: on the wrong side beyond the noise.
    #[case(&[10.0, 10.2, 9.8], &[5.0, 5.1, 4.9], Comparison::Lt, Verdict::NotReplicated)]
    // Effect 0.1 inside a pooled sd of 1: inconclusive either way.
    #[case(&[1.0, 2.0, 3.0], &[0.9, 1.9, 2.9], Comparison::Gt, Verdict::Inconclusive)]
    #[case(&[1.0, 2.0, 3.0], &[0.9, 1.9, 2.9], Comparison::Lt, Verdict::Inconclusive)]
    // Equal zeros never pass: no effect is no replication.
    #[case(&[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0], Comparison::Gt, Verdict::NotReplicated)]
    #[case(&[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0], Comparison::Lt, Verdict::NotReplicated)]
    // Deterministic metrics (no spread) pass on any strict difference.
    #[case(&[3.0, 3.0, 3.0], &[2.0, 2.0, 2.0], Comparison::Gt, Verdict::Replicated)]
    // One seed: nothing to judge, even on a large effect.
    #[case(&[10.0], &[1.0], Comparison::Gt, Verdict::NotJudged)]
    fn three_way_rule(
        #[case] lhs: &[f64],
        #[case] rhs: &[f64],
        #[case] op: Comparison,
        #[case] want: Verdict,
    ) {
        assert_eq!(decide(op, stats(lhs), stats(rhs)).verdict, want);
    }

    #[test]
    fn margin_is_twice_the_pooled_sd() {
        // sd 1 on both sides; an effect of exactly 2 sd is not enough, slightly more is.
        let (a, b) = ([1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]);
        let j = decide(Comparison::Gt, stats(&a), stats(&b));
        assert_eq!((j.effect, j.noise, j.effect_size), (2.0, 1.0, Some(2.0)));
        assert_eq!(j.verdict, Verdict::Inconclusive);
        let j = decide(Comparison::Gt, stats(&[1.01, 2.01, 3.01]), stats(&b));
        assert_eq!(j.verdict, Verdict::Replicated);
        let j = decide(Comparison::Gt, stats(&b), stats(&a));
        assert_eq!(j.verdict, Verdict::NotReplicated, "exactly -2 sd lies on the wrong side");
    }

    #[test]
    fn a_bare_number_adds_no_noise_and_needs_no_seeds() {
        let constant = SideStats::constant(0.5);
        let j = decide(Comparison::Gt, stats(&[0.9, 0.8, 0.85]), constant);
        assert_eq!(j.verdict, Verdict::Replicated);
        assert!((j.noise - 0.05).abs() < 1e-12, "{}", j.noise);
    }

    fn samples(pairs: &[(&str, &str, &[f64])]) -> Samples {
        let mut s = Samples::new();
        for (run, metric, values) in pairs {
            s.entry(run.to_string()).or_default().insert(metric.to_string(), values.to_vec());
        }
        s
    }

    #[test]
    fn verdicts_follow_the_values_and_name_what_is_missing() {
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        let set = crate::spec::load_set(&runs, "ci").unwrap();
        let measured = samples(&[
            ("Y01", "tokens_kept", &[100.0, 100.0, 100.0]),
            ("Y06", "tokens_kept", &[130.0, 130.0, 130.0]),
        ]);
        let verdicts = judge(&set, &measured);
        let gap = verdicts.iter().find(|v| v.id == "yield-gap").unwrap();
        assert_eq!(gap.verdict, Verdict::Replicated);
        assert!((gap.relative_effect.unwrap() - 30.0 / 130.0).abs() < 1e-12);
        let papers = verdicts.iter().find(|v| v.id == "yield-papers").unwrap();
        assert_eq!(papers.verdict, Verdict::NotRun);
        assert_eq!(papers.missing, vec!["Y06.papers_kept", "Y01.papers_kept"]);

        let equal = samples(&[
            ("Y01", "tokens_kept", &[100.0, 100.0, 100.0]),
            ("Y06", "tokens_kept", &[100.0, 100.0, 100.0]),
        ]);
        let gap = judge(&set, &equal).into_iter().find(|v| v.id == "yield-gap").unwrap();
        assert_eq!(gap.verdict, Verdict::NotReplicated);
    }

    #[test]
    fn paper_profile_claims_are_not_run_elsewhere() {
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        let set = crate::spec::load_set(&runs, "ci").unwrap();
        let measured = samples(&[("F01", "val_loss", &[1.40, 1.41, 1.42])]);
        let loss = judge(&set, &measured).into_iter().find(|v| v.id == "final-loss").unwrap();
        assert_eq!(loss.verdict, Verdict::NotRun);
        assert!(loss.note.unwrap().contains("paper"));
    }
}

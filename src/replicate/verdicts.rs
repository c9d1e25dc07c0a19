//! Judging the paper's claims on measured values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::spec::claims::MetricRef;
use crate::spec::{Source, SpecSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Replicated,
    NotReplicated,
    /// A run the check reads did not produce the metric (not run, or failed).
    NotRun,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Replicated => "replicated",
            Verdict::NotReplicated => "not replicated",
            Verdict::NotRun => "not run",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimVerdict {
    /// The spec that states the claim.
    pub run: String,
    pub id: String,
    pub statement: String,
    pub source: Source,
    pub check: String,
    pub lhs: Option<f64>,
    pub rhs: Option<f64>,
    pub verdict: Verdict,
    /// `RUN.metric` references without a value.
    pub missing: Vec<String>,
}

/// Values per run: `values[run][metric]`.
pub type Measured = BTreeMap<String, BTreeMap<String, f64>>;

pub fn judge(set: &SpecSet, measured: &Measured) -> Vec<ClaimVerdict> {
    let lookup = |r: &MetricRef| measured.get(&r.run).and_then(|m| m.get(&r.metric)).copied();
    let mut verdicts = Vec::new();
    for spec in &set.specs {
        for claim in &spec.claims {
            let missing: Vec<String> = claim
                .check
                .references()
                .filter(|r| lookup(r).is_none())
                .map(|r| format!("{}.{}", r.run, r.metric))
                .collect();
            let evaluation = claim.check.evaluate(lookup);
            let verdict = match evaluation {
                None => Verdict::NotRun,
                Some(e) if e.holds => Verdict::Replicated,
                Some(_) => Verdict::NotReplicated,
            };
            verdicts.push(ClaimVerdict {
                run: spec.id.clone(),
                id: claim.id.clone(),
                statement: claim.statement.clone(),
                source: claim.source,
                check: claim.check.to_string(),
                lhs: evaluation.map(|e| e.lhs),
                rhs: evaluation.map(|e| e.rhs),
                verdict,
                missing,
            });
        }
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn verdicts_follow_the_values() {
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        let set = crate::spec::load_set(&runs, "smoke").unwrap();
        let mut measured = Measured::new();
        measured.entry("Y01".into()).or_default().insert("tokens_kept".into(), 100.0);
        measured.entry("Y06".into()).or_default().insert("tokens_kept".into(), 130.0);
        let verdicts = judge(&set, &measured);
        let gap = verdicts.iter().find(|v| v.id == "yield-gap").unwrap();
        assert_eq!(gap.verdict, Verdict::Replicated);
        assert_eq!((gap.lhs, gap.rhs), (Some(130.0), Some(120.0)));
        let papers = verdicts.iter().find(|v| v.id == "yield-papers").unwrap();
        assert_eq!(papers.verdict, Verdict::NotRun);
        assert_eq!(papers.missing, vec!["Y06.papers_kept", "Y01.papers_kept"]);

        measured.get_mut("Y06").unwrap().insert("tokens_kept".into(), 110.0);
        let gap = judge(&set, &measured).into_iter().find(|v| v.id == "yield-gap").unwrap();
        assert_eq!(gap.verdict, Verdict::NotReplicated);
    }
}

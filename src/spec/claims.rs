//! Claims: the paper's findings as machine-checkable comparisons between runs.
//!
//! A check reads like `Y06.tokens_kept > 1.2 * Y01.tokens_kept`: each side is
//! a number, a `RUN.metric` reference, or a number times a reference. Only strict
//! comparisons exist, so no claim can pass on equal values. Parsing happens at
//! load time so a typo in a metric name fails `check-specs`, not a reviewer's run
//! hours later.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Source;
use crate::metrics;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// Short stable name, unique within the spec set (`yield-gap`).
    pub id: String,
    /// The finding in the paper's words.
    pub statement: String,
    /// Where the finding comes from.
    pub source: Source,
    /// A finding of the study, or a property of the pipeline that holds by construction.
    pub kind: ClaimKind,
    /// The paper's own number for the finding, quoted (`up to 30%`), when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper_value: Option<String>,
    /// Profiles at which the claim is judged (`None`: all); elsewhere it reads "not run".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    pub check: Check,
}

/// What a verdict on the claim means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimKind {
    /// What the study states: judged as replicated or not.
    Paper,
    /// True by construction of the pipeline (e.g. the LaTeX-aware pre-split keeps commands
    /// whole): still checked, never called a replication.
    Pipeline,
}

/// `lhs op rhs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Check {
    pub lhs: Operand,
    pub op: Comparison,
    pub rhs: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Lt,
}

/// `factor * RUN.metric`, or a bare number when `reference` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    pub factor: f64,
    pub reference: Option<MetricRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricRef {
    pub run: String,
    pub metric: String,
}

impl Comparison {
    const ALL: [(&'static str, Comparison); 2] = [(">", Comparison::Gt), ("<", Comparison::Lt)];

    pub fn symbol(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map(|(s, _)| *s).unwrap_or("?")
    }

    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Comparison::Gt => lhs > rhs,
            Comparison::Lt => lhs < rhs,
        }
    }
}

impl Check {
    /// Every `RUN.metric` the check reads.
    pub fn references(&self) -> impl Iterator<Item = &MetricRef> {
        self.lhs.reference.iter().chain(self.rhs.reference.iter())
    }

    /// Evaluates the check given a way to look metrics up; `None` when a metric is missing.
    pub fn evaluate(&self, lookup: impl Fn(&MetricRef) -> Option<f64>) -> Option<Evaluation> {
        let value = |o: &Operand| match &o.reference {
            Some(r) => lookup(r).map(|v| o.factor * v),
            None => Some(o.factor),
        };
        let (lhs, rhs) = (value(&self.lhs)?, value(&self.rhs)?);
        Some(Evaluation { lhs, rhs, holds: self.op.holds(lhs, rhs) })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub lhs: f64,
    pub rhs: f64,
    pub holds: bool,
}

impl TryFrom<String> for Check {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text.contains(">=") || text.contains("<=") {
            return Err(format!(
                "claim check `{text}` uses >= or <=: use a strict > or < so equal values cannot pass"
            ));
        }
        let (at, symbol, op) = Comparison::ALL
            .iter()
            .filter_map(|(s, c)| text.find(s).map(|at| (at, *s, *c)))
            .min_by_key(|(at, s, _)| (*at, std::cmp::Reverse(s.len())))
            .ok_or_else(|| format!("claim check `{text}` has no comparison (use > or <)"))?;
        let (lhs, rhs) = (&text[..at], &text[at + symbol.len()..]);
        Ok(Check { lhs: parse_operand(lhs, &text)?, op, rhs: parse_operand(rhs, &text)? })
    }
}

fn parse_operand(side: &str, whole: &str) -> Result<Operand, String> {
    let side = side.trim();
    if side.is_empty() {
        return Err(format!("claim check `{whole}` has an empty side"));
    }
    let (factor, rest) = match side.split_once('*') {
        Some((f, r)) => (parse_number(f.trim(), whole)?, r.trim()),
        None => match side.parse::<f64>() {
            Ok(n) => return Ok(Operand { factor: n, reference: None }),
            Err(_) => (1.0, side),
        },
    };
    Ok(Operand { factor, reference: Some(parse_reference(rest, whole)?) })
}

fn parse_number(text: &str, whole: &str) -> Result<f64, String> {
    text.parse().map_err(|_| format!("claim check `{whole}`: `{text}` is not a number"))
}

fn parse_reference(text: &str, whole: &str) -> Result<MetricRef, String> {
    let (run, metric) =
        text.split_once('.').ok_or_else(|| format!("claim check `{whole}`: `{text}` is not RUN.metric"))?;
    if !super::is_run_id(run) {
        return Err(format!("claim check `{whole}`: `{run}` is not a run id like Y01"));
    }
    if metrics::find(metric).is_none() {
        return Err(format!(
            "claim check `{whole}`: unknown metric `{metric}` (known: {})",
            metrics::names().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(MetricRef { run: run.to_string(), metric: metric.to_string() })
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.reference, self.factor) {
            (None, n) => write!(f, "{n}"),
            (Some(r), 1.0) => write!(f, "{}.{}", r.run, r.metric),
            (Some(r), n) => write!(f, "{n} * {}.{}", r.run, r.metric),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op.symbol(), self.rhs)
    }
}

impl From<Check> for String {
    fn from(check: Check) -> String {
        check.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(s: &str) -> Result<Check, String> {
        Check::try_from(s.to_string())
    }

    #[rstest]
    #[case("Y06.tokens_kept > 1.2 * Y01.tokens_kept", Comparison::Gt, 1.0, 1.2)]
    #[case("T06.val_bpb > T05.val_bpb", Comparison::Gt, 1.0, 1.0)]
    #[case("0.5*S05.val_loss<S01.val_loss", Comparison::Lt, 0.5, 1.0)]
    fn parses_and_round_trips(
        #[case] text: &str,
        #[case] op: Comparison,
        #[case] lhs_factor: f64,
        #[case] rhs_factor: f64,
    ) {
        let check = parse(text).unwrap();
        assert_eq!(check.op, op);
        assert_eq!(check.lhs.factor, lhs_factor);
        assert_eq!(check.rhs.factor, rhs_factor);
        assert_eq!(parse(&check.to_string()).unwrap(), check);
    }

    #[test]
    fn bare_number_side_has_no_reference() {
        let check = parse("S05.scaling_alpha > 0").unwrap();
        assert_eq!(check.rhs, Operand { factor: 0.0, reference: None });
    }

    #[rstest]
    #[case("Y06.tokens_kept", "no comparison")]
    #[case("Y06.tokens_kept > ", "empty side")]
    #[case("Y06.tokens_kep > Y01.tokens_kept", "unknown metric `tokens_kep`")]
    #[case("X06.tokens_kept > Y01.tokens_kept", "not a run id")]
    #[case("Y06 > 2", "not RUN.metric")]
    #[case("a * Y06.tokens_kept > 2", "not a number")]
    #[case("D01.loss_spikes >= D03.loss_spikes", "strict")]
    #[case("D01.loss_spikes <= D03.loss_spikes", "strict")]
    fn rejects_malformed_checks(#[case] text: &str, #[case] needle: &str) {
        let err = parse(text).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }

    #[test]
    fn evaluation_applies_factors_and_reports_missing_metrics() {
        let check = parse("Y06.tokens_kept > 1.2 * Y01.tokens_kept").unwrap();
        let got = check.evaluate(|r| Some(if r.run == "Y06" { 130.0 } else { 100.0 })).unwrap();
        assert_eq!((got.lhs, got.rhs, got.holds), (130.0, 120.0, true));
        let got = check.evaluate(|r| Some(if r.run == "Y06" { 120.0 } else { 100.0 }));
        assert!(!got.unwrap().holds, "equal values do not pass");
        assert_eq!(check.evaluate(|_| None), None);
    }
}

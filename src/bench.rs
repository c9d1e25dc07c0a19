//! Paired A/B timing, shared by every benchmark (`replicate bench …` and
//! `cargo bench` call the same code, so they print the same figures).
//!
//! Why paired: on a shared machine the load changes between two runs by more
//! than the effects we measure. Timing A and B back to back, several times
//! (A B A B …), and taking the median of the per-pair ratios cancels slow
//! drifts; the min–max of the ratios shows how much noise is left, and the
//! load average before and after says whether the machine was idle.

use std::fmt;

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Fewest pairs a benchmark may report.
pub const MIN_PAIRS: usize = 5;

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), where the system has them.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// Load before and after a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub before: Option<[f64; 3]>,
    pub after: Option<[f64; 3]>,
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |l: Option<[f64; 3]>| {
            l.map_or("unknown".to_string(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
        };
        write!(f, "load average before {} / after {}", show(self.before), show(self.after))
    }
}

/// Seconds of A and B per pair, in the order measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub a: String,
    pub b: String,
    pub a_seconds: Vec<f64>,
    pub b_seconds: Vec<f64>,
    pub load: Load,
}

/// min, median and max of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for an empty sample or one holding a NaN.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Some(Self { min: sorted[0], median, max: sorted[n - 1] })
    }
}

impl Paired {
    /// `b / a` per pair: B's time in units of A's (above 1: B is slower).
    pub fn time_ratios(&self) -> Vec<f64> {
        self.a_seconds.iter().zip(&self.b_seconds).map(|(a, b)| b / a).collect()
    }

    /// `a / b` per pair: B's speed in units of A's (above 1: B is faster).
    pub fn speedups(&self) -> Vec<f64> {
        self.time_ratios().iter().map(|r| 1.0 / r).collect()
    }

    /// One line: the median ratio with its min–max and the median seconds of each side.
    pub fn describe(&self, what: &str, ratios: &[f64]) -> String {
        let (a, b) = (Spread::of(&self.a_seconds), Spread::of(&self.b_seconds));
        match Spread::of(ratios) {
            Some(r) => format!(
                "{what}: median {:.2}x (min {:.2} – max {:.2}) over {} pairs; median {} {:.3} s, {} {:.3} s",
                r.median,
                r.min,
                r.max,
                ratios.len(),
                self.a,
                a.map_or(f64::NAN, |s| s.median),
                self.b,
                b.map_or(f64::NAN, |s| s.median),
            ),
            None => format!("{what}: no pairs measured"),
        }
    }
}

/// Times `a` then `b`, `pairs` times (at least [`MIN_PAIRS`]), each call
/// returning the seconds of the part it times (setup excluded).
pub fn measure_pairs(
    a_name: &str,
    b_name: &str,
    pairs: usize,
    mut a: impl FnMut() -> Result<f64>,
    mut b: impl FnMut() -> Result<f64>,
) -> Result<Paired> {
    let before = load_average();
    let mut paired = Paired {
        a: a_name.to_string(),
        b: b_name.to_string(),
        a_seconds: Vec::new(),
        b_seconds: Vec::new(),
        load: Load { before, after: None },
    };
    for _ in 0..pairs.max(MIN_PAIRS) {
        paired.a_seconds.push(a()?);
        paired.b_seconds.push(b()?);
    }
    paired.load.after = load_average();
    Ok(paired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle_of_odd_and_even_samples() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { min: 1.0, median: 2.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]), Some(Spread { min: 1.0, median: 2.5, max: 4.0 }));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn pairs_alternate_and_ratios_are_per_pair() {
        let order = std::cell::RefCell::new(String::new());
        let mut t = 0.0;
        let paired = measure_pairs(
            "a",
            "b",
            2,
            || {
                order.borrow_mut().push('A');
                t += 1.0;
                Ok(t)
            },
            || {
                order.borrow_mut().push('B');
                Ok(2.0)
            },
        )
        .unwrap();
        assert_eq!(*order.borrow(), "ABABABABAB", "at least MIN_PAIRS pairs, alternating");
        assert_eq!(paired.a_seconds, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(paired.time_ratios(), vec![2.0, 1.0, 2.0 / 3.0, 0.5, 0.4]);
        assert_eq!(paired.speedups()[0], 0.5);
        let line = paired.describe("b/a", &paired.time_ratios());
        assert!(line.contains("median 0.67x (min 0.40 – max 2.00) over 5 pairs"), "{line}");
    }

    #[test]
    fn load_average_parses_proc_loadavg_where_present() {
        if std::path::Path::new("/proc/loadavg").exists() {
            let load = load_average().expect("/proc/loadavg exists but did not parse");
            assert!(load.iter().all(|l| *l >= 0.0));
        }
    }
}

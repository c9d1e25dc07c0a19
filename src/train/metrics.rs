//! Per-step metrics (`metrics.csv`) and the stability counters behind the D01
//! claim (PAPER.md: the small-data regime "converged unstably"): loss spikes
//! against a running median and the gradient-norm coefficient of variation.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Counts loss spikes: a step whose loss exceeds the median of the previous
/// `window` steps' losses by more than `sigmas` robust standard deviations
/// (1.4826 × the median absolute deviation of the window). A fixed multiple
/// of the median (1.5×) cannot fire on a small model whose loss sits near
/// ln(vocab); a multiple of the loss's own step-to-step noise can at any scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeDetector {
    pub sigmas: f64,
    pub window: usize,
    recent: VecDeque<f64>,
    pub spikes: u64,
}

/// Fewest steps in a spike window: fewer give no usable median absolute deviation.
pub const MIN_SPIKE_WINDOW: usize = 8;

/// The window a run of `steps` optimizer steps uses: the spec's, shortened to an eighth of the
/// run so that a window fills (and a spike can fire) early in any profile's run.
pub fn spike_window(configured: usize, steps: u64) -> usize {
    configured.min((steps / 8) as usize).max(MIN_SPIKE_WINDOW)
}

impl SpikeDetector {
    pub fn new(sigmas: f64, window: usize) -> Self {
        Self { sigmas, window: window.max(1), recent: VecDeque::new(), spikes: 0 }
    }

    /// Records `loss`; returns whether it was a spike. The median needs a
    /// full window so that the first steps of training (loss falling fast
    /// from ln(vocab)) never count.
    pub fn observe(&mut self, loss: f64) -> bool {
        let spike = self.recent.len() == self.window && {
            let center = median(&self.recent);
            let deviations: VecDeque<f64> = self.recent.iter().map(|l| (l - center).abs()).collect();
            // A floor of 1e-3 nats keeps a perfectly flat window from calling any wiggle a spike.
            let sd = (1.4826 * median(&deviations)).max(1e-3);
            loss > center + self.sigmas * sd
        };
        self.spikes += spike as u64;
        self.recent.push_back(loss);
        if self.recent.len() > self.window {
            self.recent.pop_front();
        }
        spike
    }
}

fn median(values: &VecDeque<f64>) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Coefficient of variation (std / mean) of `values`; 0 for fewer than 2.
pub fn coefficient_of_variation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    if mean == 0.0 {
        0.0
    } else {
        var.sqrt() / mean
    }
}

/// Gradient-norm variability after warmup: the mean CV over consecutive
/// windows of `window` steps (a trailing partial window counts when it is
/// the only one). Windows, not the whole run, so the slow downward drift of
/// the norm during decay does not read as instability.
pub fn windowed_grad_norm_cv(norms_after_warmup: &[f64], window: usize) -> f64 {
    let window = window.max(2);
    let full: Vec<f64> = norms_after_warmup.chunks_exact(window).map(coefficient_of_variation).collect();
    if full.is_empty() {
        return coefficient_of_variation(norms_after_warmup);
    }
    full.iter().sum::<f64>() / full.len() as f64
}

/// One row of `metrics.csv`. Train rows carry every column; `val` rows
/// carry step, tokens seen, loss and bits per byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub split: String,
    pub step: u64,
    pub tokens_seen: u64,
    pub loss: f64,
    pub bits_per_byte: f64,
    pub lr: Option<f64>,
    pub grad_norm: Option<f64>,
    pub step_time_s: Option<f64>,
    pub data_wait_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub padding_tokens: Option<u64>,
    pub bytes_read: Option<u64>,
    /// Train rows: whether this step's loss was a spike (the report marks them).
    pub spike: Option<bool>,
}

/// What one optimizer step measured besides its loss (the train row's extra columns).
pub struct StepMeasures {
    pub lr: f64,
    pub grad_norm: f64,
    pub step_time_s: f64,
    pub data_wait_s: f64,
    /// Input positions of the step, padding included.
    pub positions: u64,
    pub padding_tokens: u64,
    pub bytes_read: u64,
    pub spike: bool,
}

impl MetricsRow {
    /// The row of a training step.
    pub fn train(step: u64, tokens_seen: u64, loss: f64, bytes_per_token: f64, m: &StepMeasures) -> Self {
        MetricsRow {
            split: "train".into(),
            step,
            tokens_seen,
            loss,
            bits_per_byte: bits_per_byte(loss, bytes_per_token),
            lr: Some(m.lr),
            grad_norm: Some(m.grad_norm),
            step_time_s: Some(m.step_time_s),
            data_wait_s: Some(m.data_wait_s),
            tokens_per_s: Some(m.positions as f64 / m.step_time_s),
            padding_tokens: Some(m.padding_tokens),
            bytes_read: Some(m.bytes_read),
            spike: Some(m.spike),
        }
    }

    /// The row of a validation pass after `step`.
    pub fn val(step: u64, tokens_seen: u64, loss: f64, bytes_per_token: f64) -> Self {
        MetricsRow {
            split: "val".into(),
            step,
            tokens_seen,
            loss,
            bits_per_byte: bits_per_byte(loss, bytes_per_token),
            lr: None,
            grad_norm: None,
            step_time_s: None,
            data_wait_s: None,
            tokens_per_s: None,
            padding_tokens: None,
            bytes_read: None,
            spike: None,
        }
    }
}

/// Bits per byte from a loss in nats per token (tokenizer-independent, the
/// unit the T runs compare in).
pub fn bits_per_byte(loss_nats: f64, bytes_per_token: f64) -> f64 {
    loss_nats / std::f64::consts::LN_2 / bytes_per_token
}

/// Appends rows to `metrics.csv`, flushing each so a crash loses nothing.
pub struct MetricsLog {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl MetricsLog {
    /// Starts a new log, or on resume keeps only the rows up to `keep_through`
    /// (the checkpoint's step) so the file matches an uninterrupted run.
    pub fn open(path: &Path, keep_through: Option<u64>) -> Result<Self> {
        let kept: Vec<MetricsRow> = match keep_through {
            Some(step) if path.exists() => csv::Reader::from_path(path)
                .and_then(|mut r| r.deserialize().collect::<std::result::Result<Vec<MetricsRow>, _>>())
                .with_context(|| {
                    format!(
                        "cannot read {} to resume: delete the run directory to start over",
                        path.display()
                    )
                })?
                .into_iter()
                .filter(|row| row.step <= step)
                .collect(),
            _ => Vec::new(),
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in &kept {
            w.serialize(row)?;
        }
        if kept.is_empty() {
            w.write_record(Self::HEADER)?;
        }
        crate::io::write_atomic(path, &w.into_inner().context("csv buffer")?)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new().has_headers(false).from_writer(file),
        })
    }

    const HEADER: [&'static str; 13] = [
        "split",
        "step",
        "tokens_seen",
        "loss",
        "bits_per_byte",
        "lr",
        "grad_norm",
        "step_time_s",
        "data_wait_s",
        "tokens_per_s",
        "padding_tokens",
        "bytes_read",
        "spike",
    ];

    pub fn append(&mut self, row: &MetricsRow) -> Result<()> {
        self.writer
            .serialize(row)
            .and_then(|_| Ok(self.writer.flush()?))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rstest::rstest;

    #[test]
    fn spikes_need_a_full_window_and_exceed_sigmas_robust_sds() {
        let mut d = SpikeDetector::new(3.0, 3);
        // The first steps are high but the window is not full yet.
        assert!(!d.observe(10.0));
        assert!(!d.observe(2.0));
        assert!(!d.observe(2.1));
        // Window [10, 2, 2.1]: median 2.1, MAD 0.1, sd 0.148: the bar is 2.545.
        assert!(!d.observe(2.5));
        // Window [2, 2.1, 2.5]: median 2.1, MAD 0.1: 2.6 clears 2.545.
        assert!(d.observe(2.6));
        assert_eq!(d.spikes, 1);
    }

    /// A noisy, slowly falling loss curve of `steps` steps, deterministic.
    fn noisy_curve(steps: usize) -> Vec<f64> {
        let mut rng = crate::train::rng::SplitMix64::new(11);
        (0..steps).map(|i| 6.0 * (-(i as f64) / 200.0).exp() + 3.0 + 0.05 * rng.normal()).collect()
    }

    #[rstest]
    #[case(97)]
    #[case(600)]
    fn an_injected_spike_is_found_at_any_run_length(#[case] steps: usize) {
        let window = spike_window(50, steps as u64);
        let count = |curve: &[f64]| {
            let mut d = SpikeDetector::new(6.0, window);
            curve.iter().for_each(|l| {
                d.observe(*l);
            });
            d.spikes
        };
        let mut curve = noisy_curve(steps);
        assert_eq!(count(&curve), 0, "a smooth noisy curve has no spikes");
        curve[steps * 3 / 4] += 1.0;
        assert_eq!(count(&curve), 1, "the injected spike at step {}", steps * 3 / 4);
    }

    #[rstest]
    #[case(&[1.0, 1.0, 1.0], 0.0)]
    #[case(&[1.0, 3.0], 0.5)]
    #[case(&[5.0], 0.0)]
    fn cv_is_std_over_mean(#[case] values: &[f64], #[case] want: f64) {
        assert_relative_eq!(coefficient_of_variation(values), want, epsilon = 1e-12);
    }

    #[test]
    fn windowed_cv_ignores_drift_between_windows() {
        // Two flat windows at different levels: no variation inside windows.
        let norms = [4.0, 4.0, 4.0, 1.0, 1.0, 1.0];
        assert_relative_eq!(windowed_grad_norm_cv(&norms, 3), 0.0);
        assert!(coefficient_of_variation(&norms) > 0.5);
        // A noisy window counts: [1, 3] has CV 0.5, [2, 2] has 0.
        assert_relative_eq!(windowed_grad_norm_cv(&[1.0, 3.0, 2.0, 2.0], 2), 0.25);
    }

    #[test]
    fn bits_per_byte_converts_nats_per_token() {
        // ln 2 nats per token at 2 bytes per token is half a bit per byte.
        assert_relative_eq!(bits_per_byte(std::f64::consts::LN_2, 2.0), 0.5);
    }

    fn row(step: u64) -> MetricsRow {
        MetricsRow {
            split: "train".into(),
            step,
            tokens_seen: step * 10,
            loss: 1.0,
            bits_per_byte: 0.5,
            lr: Some(1e-3),
            grad_norm: Some(0.3),
            step_time_s: Some(0.1),
            data_wait_s: Some(0.01),
            tokens_per_s: Some(100.0),
            padding_tokens: Some(0),
            bytes_read: Some(40),
            spike: Some(false),
        }
    }

    #[test]
    fn resume_truncates_rows_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for s in 1..=5 {
            log.append(&row(s)).unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&path, Some(3)).unwrap();
        log.append(&row(4)).unwrap();
        drop(log);
        let rows: Vec<MetricsRow> =
            csv::Reader::from_path(&path).unwrap().deserialize().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    }
}

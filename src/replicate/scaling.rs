//! The scaling fit over S01–S05: L(N) = E + A·N^(−α).
//!
//! Following Chinchilla's approach 3 (Hoffmann et al. 2022, appendix D.2):
//! parameters are fitted in log space, `e = ln E`, `a = ln A`, minimising the
//! Huber loss (δ = 1e-3) between `ln(E + A·N^−α)` (computed as a log-sum-exp)
//! and the observed log-loss, from a grid of starting points, keeping the
//! best. With five points the fit is nearly determined, so the bootstrap
//! interval (resampling points with replacement) is what says how much to
//! trust α.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The S runs whose final losses the scaling fit reads, smallest first; the fit is reported on the last.
pub const SCALING_RUNS: [&str; 5] = ["S01", "S02", "S03", "S04", "S05"];

/// Chinchilla's δ: small enough that the loss is nearly L1 in log space.
const HUBER_DELTA: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScalingPoint {
    /// Non-embedding parameters.
    pub params: f64,
    /// Final validation loss, nats per token.
    pub loss: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScalingFit {
    pub e: f64,
    pub a: f64,
    pub alpha: f64,
    /// Summed Huber loss at the optimum.
    pub objective: f64,
}

impl ScalingFit {
    pub fn predict(&self, params: f64) -> f64 {
        self.e + self.a * params.powf(-self.alpha)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingReport {
    pub points: Vec<ScalingPoint>,
    pub fit: ScalingFit,
    /// 2.5th and 97.5th bootstrap percentiles.
    pub alpha_interval: (f64, f64),
    pub e_interval: (f64, f64),
    /// Bootstrap resamples that could be fitted (those with at least three distinct sizes).
    pub resamples: usize,
    /// Observed minus fitted loss per point, in `points` order.
    #[serde(default)]
    pub residuals: Vec<f64>,
    /// Why the fit is no estimate (a parameter at its bound, too few points), if it is not.
    #[serde(default)]
    pub degenerate: Option<String>,
}

/// Parameters of L(N) = E + A·N^(−α).
const FIT_PARAMETERS: usize = 3;

/// Why a fit cannot be read as an estimate: fewer points than parameters + 2 leave no
/// degrees of freedom to check it; E driven to its bound 0 (below 1e-6 of the smallest loss)
/// or α at or below 0 mean the curve did not bend the way the law assumes.
pub fn degenerate(fit: &ScalingFit, points: &[ScalingPoint]) -> Option<String> {
    let min_loss = points.iter().map(|p| p.loss).fold(f64::INFINITY, f64::min);
    if points.len() < FIT_PARAMETERS + 2 {
        Some(format!(
            "{} points for {FIT_PARAMETERS} parameters (needs at least {})",
            points.len(),
            FIT_PARAMETERS + 2
        ))
    } else if fit.e < 1e-6 * min_loss {
        Some(format!("E = {:.2e} sits at its bound 0", fit.e))
    } else if fit.alpha <= 0.0 {
        Some(format!("alpha = {:.3} is not a falling power law", fit.alpha))
    } else {
        None
    }
}

fn huber(r: f64) -> f64 {
    if r.abs() <= HUBER_DELTA {
        0.5 * r * r
    } else {
        HUBER_DELTA * (r.abs() - 0.5 * HUBER_DELTA)
    }
}

fn log_sum_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// θ = (ln E, ln A, α).
fn objective(theta: [f64; 3], points: &[ScalingPoint]) -> f64 {
    let [e, a, alpha] = theta;
    points.iter().map(|p| huber(log_sum_exp(e, a - alpha * p.params.ln()) - p.loss.ln())).sum()
}

/// Fits from Chinchilla's grid of starting points; `None` with fewer than three sizes.
pub fn fit(points: &[ScalingPoint]) -> Option<ScalingFit> {
    let usable = points.iter().all(|p| p.params > 0.0 && p.loss > 0.0 && p.loss.is_finite());
    if distinct_sizes(points) < 3 || !usable {
        return None;
    }
    let mut starts = Vec::new();
    for e0 in [-1.0, -0.5, 0.0, 0.5, 1.0] {
        for a0 in [0.0, 5.0, 10.0, 15.0, 20.0, 25.0] {
            for alpha0 in [0.0, 0.5, 1.0, 1.5, 2.0] {
                starts.push([e0, a0, alpha0]);
            }
        }
    }
    fit_from(points, &starts)
}

fn fit_from(points: &[ScalingPoint], starts: &[[f64; 3]]) -> Option<ScalingFit> {
    let (theta, objective) = starts
        .iter()
        .map(|&start| nelder_mead(|t| self::objective(t, points), start))
        .min_by(|x, y| x.1.total_cmp(&y.1))?;
    let [e, a, alpha] = theta;
    Some(ScalingFit { e: e.exp(), a: a.exp(), alpha, objective })
}

fn distinct_sizes(points: &[ScalingPoint]) -> usize {
    let mut sizes: Vec<f64> = points.iter().map(|p| p.params).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    sizes.len()
}

/// The fit plus a percentile bootstrap over points; deterministic for a seed.
pub fn fit_with_interval(points: &[ScalingPoint], resamples: usize, seed: u64) -> Option<ScalingReport> {
    let fit = fit(points)?;
    // Resamples start from the full fit: the grid search already found the basin.
    let start = [fit.e.ln(), fit.a.ln(), fit.alpha];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut alphas = Vec::new();
    let mut es = Vec::new();
    for _ in 0..resamples {
        let sample: Vec<ScalingPoint> =
            (0..points.len()).map(|_| points[(rng.next_u64() % points.len() as u64) as usize]).collect();
        if distinct_sizes(&sample) < 3 {
            continue;
        }
        if let Some(f) = fit_from(&sample, &[start]) {
            alphas.push(f.alpha);
            es.push(f.e);
        }
    }
    if alphas.is_empty() {
        alphas.push(fit.alpha);
        es.push(fit.e);
    }
    Some(ScalingReport {
        points: points.to_vec(),
        residuals: points.iter().map(|p| p.loss - fit.predict(p.params)).collect(),
        degenerate: degenerate(&fit, points),
        fit,
        alpha_interval: percentile_interval(&mut alphas),
        e_interval: percentile_interval(&mut es),
        resamples: alphas.len(),
    })
}

fn percentile_interval(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// Derivative-free simplex minimisation (Nelder and Mead 1965, standard coefficients).
fn nelder_mead(f: impl Fn([f64; 3]) -> f64, start: [f64; 3]) -> ([f64; 3], f64) {
    let mut simplex: Vec<([f64; 3], f64)> = (0..4)
        .map(|i| {
            let mut x = start;
            if i > 0 {
                x[i - 1] += if x[i - 1] == 0.0 { 0.25 } else { 0.1 * x[i - 1].abs() + 0.1 };
            }
            (x, f(x))
        })
        .collect();
    let combine = |a: [f64; 3], b: [f64; 3], t: f64| {
        [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])]
    };
    for _ in 0..4000 {
        simplex.sort_by(|x, y| x.1.total_cmp(&y.1));
        let width = (0..3).map(|k| (simplex[3].0[k] - simplex[0].0[k]).abs()).fold(0.0, f64::max);
        if (simplex[3].1 - simplex[0].1).abs() < 1e-18 && width < 1e-9 {
            break;
        }
        let mut centroid = [0.0; 3];
        for (x, _) in &simplex[..3] {
            for k in 0..3 {
                centroid[k] += x[k] / 3.0;
            }
        }
        let worst = simplex[3];
        let reflected = combine(centroid, worst.0, -1.0);
        let fr = f(reflected);
        if fr < simplex[0].1 {
            let expanded = combine(centroid, worst.0, -2.0);
            let fe = f(expanded);
            simplex[3] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
        } else if fr < simplex[2].1 {
            simplex[3] = (reflected, fr);
        } else {
            let contracted = combine(centroid, worst.0, 0.5);
            let fc = f(contracted);
            if fc < worst.1 {
                simplex[3] = (contracted, fc);
            } else {
                let best = simplex[0].0;
                for vertex in simplex.iter_mut().skip(1) {
                    vertex.0 = combine(best, vertex.0, 0.5);
                    vertex.1 = f(vertex.0);
                }
            }
        }
    }
    simplex.sort_by(|x, y| x.1.total_cmp(&y.1));
    simplex[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_fits_are_flagged() {
        let points: Vec<ScalingPoint> = [1e3, 1e4, 1e5, 1e6, 1e7]
            .iter()
            .map(|&n| ScalingPoint { params: n, loss: 2.0 + 50.0 * f64::powf(n, -0.5) })
            .collect();
        let good = fit_with_interval(&points, 50, 1).unwrap();
        assert_eq!(good.degenerate, None);
        assert!(good.residuals.iter().all(|r| r.abs() < 1e-2), "{:?}", good.residuals);
        let at_bound = ScalingFit { e: 1e-13, a: 10.0, alpha: 0.1, objective: 0.0 };
        assert!(degenerate(&at_bound, &points).unwrap().contains("bound"));
        assert!(degenerate(&good.fit, &points[..4]).unwrap().contains("4 points"));
    }
    use approx::assert_relative_eq;

    fn ladder(e: f64, a: f64, alpha: f64, noise: &[f64]) -> Vec<ScalingPoint> {
        // Sizes of the paper ladder (non-embedding parameters).
        [56.6e6, 116e6, 255e6, 566e6, 1214e6]
            .iter()
            .zip(noise)
            .map(|(&n, &eps)| ScalingPoint { params: n, loss: (e + a * f64::powf(n, -alpha)) * (1.0 + eps) })
            .collect()
    }

    #[test]
    fn recovers_known_parameters_from_exact_points() {
        let points = ladder(1.69, 406.4, 0.34, &[0.0; 5]);
        let fit = fit(&points).unwrap();
        for p in &points {
            assert_relative_eq!(fit.predict(p.params), p.loss, max_relative = 1e-4);
        }
        assert_relative_eq!(fit.alpha, 0.34, epsilon = 0.02);
        assert_relative_eq!(fit.e, 1.69, epsilon = 0.05);
    }

    #[test]
    fn recovers_exponent_with_small_noise_and_interval_covers_it() {
        let points = ladder(1.2, 60.0, 0.3, &[0.002, -0.001, 0.0015, -0.002, 0.001]);
        let report = fit_with_interval(&points, 200, 7).unwrap();
        assert!((report.fit.alpha - 0.3).abs() < 0.1, "alpha {}", report.fit.alpha);
        let (lo, hi) = report.alpha_interval;
        assert!(lo <= report.fit.alpha + 1e-9 && report.fit.alpha <= hi + 1e-9, "{lo}..{hi}");
        assert!(report.resamples > 100);
        assert_eq!(report, fit_with_interval(&points, 200, 7).unwrap(), "deterministic for a seed");
    }

    #[test]
    fn refuses_fewer_than_three_sizes_or_bad_losses() {
        let points = ladder(1.0, 10.0, 0.3, &[0.0; 5]);
        assert!(fit(&points[..2]).is_none());
        let mut bad = points.clone();
        bad[0].loss = f64::NAN;
        assert!(fit(&bad).is_none());
    }

    #[test]
    fn huber_is_quadratic_then_linear() {
        assert_relative_eq!(huber(5e-4), 0.5 * 25e-8);
        assert_relative_eq!(huber(-2e-3), 1e-3 * (2e-3 - 0.5e-3));
    }
}

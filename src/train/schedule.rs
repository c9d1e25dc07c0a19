//! Learning-rate schedule: linear warmup, then linear or cosine decay to
//! `min_lr_ratio · lr` at the last step (PAPER.md: 500 warmup steps; the
//! released config says linear, one config says cosine, so both exist).
//!
//! The schedule is a pure function of the step, so "scheduler state" in a
//! checkpoint is just the step counter.

use crate::spec::train::{Decay, TrainConfig};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub peak: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
    pub decay: Decay,
    pub min_ratio: f64,
}

impl Schedule {
    pub fn from_spec(train: &TrainConfig, total_steps: u64) -> Self {
        Self {
            peak: train.optimizer.lr,
            warmup_steps: train.warmup_steps as u64,
            total_steps,
            decay: train.decay,
            min_ratio: train.min_lr_ratio,
        }
    }

    /// Learning rate of the optimizer step with index `step` (0-based).
    /// Warmup ramps to the peak at step `warmup_steps - 1` so that step 0
    /// does not update with lr 0.
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        let shape = match self.decay {
            Decay::Linear => 1.0 - progress,
            Decay::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        };
        self.peak * (self.min_ratio + (1.0 - self.min_ratio) * shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rstest::rstest;

    fn schedule(decay: Decay, min_ratio: f64) -> Schedule {
        Schedule { peak: 1e-3, warmup_steps: 10, total_steps: 110, decay, min_ratio }
    }

    #[rstest]
    // Warmup is the same for both decays: (step + 1) / warmup of the peak.
    #[case(Decay::Linear, 0.0, 0, 1e-4)]
    #[case(Decay::Cosine, 0.0, 4, 5e-4)]
    #[case(Decay::Linear, 0.0, 9, 1e-3)]
    // Decay starts at the peak right after warmup ...
    #[case(Decay::Linear, 0.0, 10, 1e-3)]
    #[case(Decay::Cosine, 0.0, 10, 1e-3)]
    // ... is halfway (100 decay steps) at step 60 ...
    #[case(Decay::Linear, 0.0, 60, 5e-4)]
    #[case(Decay::Cosine, 0.0, 60, 5e-4)]
    // ... cosine is above linear in the first half: 0.5(1 + cos(pi/4)).
    #[case(Decay::Cosine, 0.0, 35, 1e-3 * 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2))]
    #[case(Decay::Linear, 0.0, 35, 7.5e-4)]
    // ... and ends at min_ratio of the peak, also past the end.
    #[case(Decay::Linear, 0.1, 110, 1e-4)]
    #[case(Decay::Cosine, 0.1, 500, 1e-4)]
    #[case(Decay::Linear, 0.1, 60, 1e-3 * (0.1 + 0.9 * 0.5))]
    fn lr_at_chosen_steps(
        #[case] decay: Decay,
        #[case] min_ratio: f64,
        #[case] step: u64,
        #[case] want: f64,
    ) {
        assert_relative_eq!(schedule(decay, min_ratio).lr(step), want, max_relative = 1e-12);
    }

    #[test]
    fn no_warmup_starts_at_peak() {
        let s = Schedule { warmup_steps: 0, ..schedule(Decay::Linear, 0.0) };
        assert_relative_eq!(s.lr(0), 1e-3);
    }
}

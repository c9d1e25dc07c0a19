//! A wall-time budget per paper and text stage (extraction, cleaning,
//! quality), checked cooperatively inside the LaTeX scanners.
//!
//! A worker is never interrupted from outside: the scanners call
//! [`expired`] in their loops and stop early once the budget is spent, and
//! the stage then drops the paper with a `*-time-limit` reason. The limit is
//! generous (every scanner is linear, so ordinary papers finish far below
//! it), which keeps results deterministic on ordinary input: only a paper
//! that would stall a worker can reach it. `REPLICATE_STAGE_SECONDS`
//! overrides it (tests use a tiny value to exercise the path).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Default per-paper, per-stage budget.
pub const DEFAULT_STAGE_SECONDS: f64 = 300.0;

/// Scanner iterations between two clock reads.
const CHECK_EVERY: u32 = 4096;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
    static TRIPPED: Cell<bool> = const { Cell::new(false) };
}

/// The budget: `REPLICATE_STAGE_SECONDS` when set to a positive number, else the default.
pub fn stage_limit() -> Duration {
    let seconds = std::env::var("REPLICATE_STAGE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_STAGE_SECONDS);
    Duration::from_secs_f64(seconds)
}

/// An armed budget for the current thread; disarmed on drop.
pub struct Armed(());

impl Armed {
    /// True when some scanner saw the budget spent while this was armed.
    pub fn tripped(&self) -> bool {
        TRIPPED.with(Cell::get)
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
        TRIPPED.with(|t| t.set(false));
    }
}

/// Starts a budget of `limit` for the work this thread does until the guard drops.
pub fn arm(limit: Duration) -> Armed {
    DEADLINE.with(|d| d.set(Some(Instant::now() + limit)));
    TICKS.with(|t| t.set(0));
    TRIPPED.with(|t| t.set(false));
    Armed(())
}

/// For scanner loops: true once the armed budget is spent (always false
/// when none is armed). Reads the clock every few thousand calls only.
pub fn expired() -> bool {
    if TRIPPED.with(Cell::get) {
        return true;
    }
    let Some(deadline) = DEADLINE.with(Cell::get) else {
        return false;
    };
    let ticks = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if !ticks.is_multiple_of(CHECK_EVERY) {
        return false;
    }
    let over = Instant::now() >= deadline;
    if over {
        TRIPPED.with(|t| t.set(true));
    }
    over
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unarmed_never_expires() {
        assert!((0..10 * CHECK_EVERY).all(|_| !expired()));
    }

    #[test]
    fn armed_budget_trips_and_disarms() {
        let armed = arm(Duration::ZERO);
        assert!((0..2 * CHECK_EVERY).any(|_| expired()));
        assert!(armed.tripped());
        drop(armed);
        assert!(!expired());
        let armed = arm(Duration::from_secs(3600));
        assert!((0..2 * CHECK_EVERY).all(|_| !expired()));
        assert!(!armed.tripped());
    }
}

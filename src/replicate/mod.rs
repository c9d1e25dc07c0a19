//! Joining the stages: planning, the stage cache, run records and the runner.

pub mod cache;
pub mod cost;
pub mod golden;
pub mod layout;
pub mod plan;
pub mod record;
pub mod runner;
pub mod scaling;
pub mod stages;
pub mod verdicts;

pub use self::runner::{run, RunOptions, RunOutcome, RunSummary};

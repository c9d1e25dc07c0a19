//! Joining the stages: planning, the stage cache, run records and the runner.

pub(crate) mod cache;
pub(crate) mod cost;
pub mod golden;
pub mod layout;
pub mod plan;
pub mod record;
pub mod runner;
pub(crate) mod scaling;
pub mod stages;
pub mod verdicts;

pub use self::runner::{run, RunOptions, RunOutcome, RunSummary};

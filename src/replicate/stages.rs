//! Dispatch from a planned stage to the module that does the work.

use std::path::Path;

use anyhow::{bail, Result};

use super::plan::{Input, StageName};
use crate::spec::{Profile, Spec};

/// Everything a stage may read.
pub struct StageContext<'a> {
    pub spec: &'a Spec,
    pub profile: &'a Profile,
    pub input: &'a Input,
    /// Output directories of this stage's inputs, in `PlannedStage::inputs` order.
    pub input_dirs: Vec<&'a Path>,
}

/// The issue that builds each stage, named in the error until it lands.
fn tracking_issue(stage: StageName) -> u32 {
    match stage {
        StageName::Prepare => 3,
        StageName::Tokenizer | StageName::Tokenize => 5,
        StageName::Train => 6,
    }
}

/// Runs `stage`, writing its outputs into `out`.
pub fn execute(stage: StageName, _ctx: &StageContext<'_>, _out: &Path) -> Result<()> {
    // Stages are wired in here as their issues land. Until then a stage fails
    // loudly rather than producing anything that could pass for a result.
    bail!(
        "stage `{stage}` is not implemented yet (tracked in issue {}); no output was produced",
        tracking_issue(stage)
    )
}

//! `cargo bench --bench train_step`: tokens/s and MFU of the `ci` model shape
//! on the CPU backend, next to the same step in PyTorch when it is installed.
//! Optional argument: timed steps (default 20).

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let steps = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    let (shape, rows) = arxiv_to_model::train::bench::ci_shape(&runs)?;
    arxiv_to_model::train::bench::bench(&shape, rows, steps)?;
    Ok(())
}

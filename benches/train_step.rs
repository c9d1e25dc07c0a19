//! Training-step throughput of F01's shape, next to the same step in PyTorch
//! on CPU when `python3 -c "import torch"` works.
//!
//! - CPU, `ci` shape:      `cargo bench --bench train_step`
//! - per op, `ci` shape:   `cargo bench --bench train_step -- --per-op`
//! - GPU, paper shape:     `cargo bench --features cuda --bench train_step -- --cuda --profile paper 10`
//!
//! Arguments: `--cuda`, `--per-op` (the same table as `replicate bench train
//! --per-op`), `--profile NAME` (default ci), timed steps, or with `--per-op`
//! timed calls of each op per round (default 20).

use std::path::Path;

use arxiv_to_model::train::{bench, BackendChoice};

fn main() -> anyhow::Result<()> {
    arxiv_to_model::train::keep_freed_buffers();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20);
    let on = if args.iter().any(|a| a == "--cuda") { BackendChoice::Cuda } else { BackendChoice::Cpu };
    let profile =
        args.iter().position(|a| a == "--profile").and_then(|i| args.get(i + 1)).map_or("ci", String::as_str);
    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    let shape = bench::f01_shape(&runs, profile)?;
    if args.iter().any(|a| a == "--per-op") {
        bench::per_op::bench(&shape, steps)?;
    } else {
        bench::bench(&shape, steps, on)?;
    }
    Ok(())
}

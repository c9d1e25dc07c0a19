//! `replicate bench train`: training throughput of one model shape on the
//! CPU backend, next to the same step in PyTorch measured in the same run
//! (when `python3 -c "import torch"` works), so the ratio is like for like.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::AutodiffModule;
use burn::prelude::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::backend::{default_peak, on_backend, placement, BackendChoice, BackendTask};
use super::loader::{BatchLoader, LoaderPosition, LoaderSetup, PackedLoader, VecStore};
use super::model::{Decoder, DecoderShape, MatmulPrecision};
use super::optim;
use super::step::clipped_gradients;
use crate::spec::train::AdamW;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub backend: String,
    pub shape: String,
    /// Sequences per replica per step.
    pub rows: usize,
    /// Data-parallel replicas, one thread each (`train.devices`).
    pub replicas: usize,
    pub gradient_checkpointing: bool,
    pub precision: String,
    pub context: usize,
    pub steps: usize,
    pub step_seconds: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub peak_flops: f64,
    pub peak_flops_source: String,
    pub torch: Option<TorchReport>,
    /// Burn tokens/s divided by PyTorch tokens/s (target ≥ 0.5).
    pub ratio_to_torch: Option<f64>,
    /// Why there is no PyTorch figure, when there is none.
    pub torch_note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchReport {
    pub version: String,
    pub threads: usize,
    pub step_seconds: f64,
    pub tokens_per_s: f64,
}

/// What one bench step trains: F01's decoder at a profile, `rows`
/// sequences on each of `replicas` data-parallel replicas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchShape {
    pub decoder: DecoderShape,
    pub rows: usize,
    pub replicas: usize,
    /// The spec's `train.gradient_checkpointing`: the paper shape needs it
    /// to fit 32 × 768 tokens per replica on an 80 GB GPU.
    pub checkpointing: bool,
    /// The spec's `train.precision` (paper: bf16-mixed).
    pub precision: MatmulPrecision,
}

impl BenchShape {
    fn tokens_per_step(&self) -> usize {
        self.rows * self.replicas * self.decoder.context as usize
    }
}

/// F01's shape, per-replica micro-batch and replicas at `profile`, read
/// from the spec files so the bench follows them: at `ci` 4 layers, hidden
/// 128, 4 heads, FFN 344, context 128, 2 replicas of 4 sequences; at
/// `paper` the 1.36B shape at context 768, 2 replicas of 32.
pub fn f01_shape(runs: impl Into<crate::spec::SpecFiles>, profile: &str) -> Result<BenchShape> {
    let (spec, _) = crate::spec::load_one(runs, "F01", profile)
        .map_err(|e| anyhow::anyhow!("cannot load F01 at the {profile} profile: {e}"))?;
    Ok(BenchShape {
        decoder: super::plan::decoder_shape(&spec.model, &spec.train)?,
        rows: spec.train.batch_sequences as usize,
        replicas: spec.train.devices.max(1) as usize,
        checkpointing: spec.train.gradient_checkpointing,
        precision: super::plan::matmul_precision(&spec.train),
    })
}

/// Times `steps` full training steps (forward and backward on every
/// replica, gradient sum, clip, AdamW) after two warmup steps, then the
/// same global batch in PyTorch on CPU.
/// On `BackendChoice::Cuda` (feature `cuda`) the replicas go to GPUs
/// 0..replicas−1, the PyTorch comparison is skipped and MFU is against the
/// stated GPU peak.
pub fn bench(shape: &BenchShape, steps: usize, on: BackendChoice) -> Result<BenchReport> {
    let task = BenchTask { shape, steps, on };
    let report = on_backend(on, shape.checkpointing, None, shape.replicas, task)?;
    println!("{}", format_report(&report));
    Ok(report)
}

struct BenchTask<'a> {
    shape: &'a BenchShape,
    steps: usize,
    on: BackendChoice,
}

impl BackendTask for BenchTask<'_> {
    type Output = BenchReport;

    fn run<B: AutodiffBackend>(self, devices: &[B::Device]) -> Result<BenchReport> {
        bench_on::<B>(self.shape, devices, self.steps, self.on)
    }
}

fn bench_on<B: AutodiffBackend>(
    bench: &BenchShape,
    devices: &[B::Device],
    steps: usize,
    on: BackendChoice,
) -> Result<BenchReport> {
    let shape = &bench.decoder;
    let placement = placement(devices, bench.replicas);
    let device = placement[0].clone();
    let context = shape.context as usize;
    let mut model: Decoder<B> = shape.init(&device, 1).with_precision(bench.precision);
    let spec = AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
    let mut optim = optim::DecoupledAdamW::<B, Decoder<B>>::new(&spec);
    let tokens: Vec<u32> = (0..(bench.tokens_per_step() * (steps + 2) + 1) as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % shape.vocab)
        .collect();
    let setup = LoaderSetup {
        context,
        rows: bench.rows,
        seed: 1,
        shuffle: false,
        fraction: 1.0,
        pad_id: 0,
        eos_id: 0,
        start: LoaderPosition::default(),
    };
    let mut loader = PackedLoader::new(std::sync::Arc::new(VecStore::new(tokens, 4)), setup)?;
    let mut timed = 0.0;
    for i in 0..steps + 2 {
        let batches = (0..bench.replicas).map(|_| loader.next_batch()).collect::<Result<Vec<_>>>()?;
        let t0 = Instant::now();
        let (_, _, grads) = clipped_gradients(&model, &placement, &batches, 1, 1.0)?;
        model = optim.step(1e-3, model, grads);
        // Read one value back so lazy backends finish the step inside the timer.
        let _ = model.valid().norm.gain.val().sum().into_scalar().elem::<f64>();
        if i >= 2 {
            timed += t0.elapsed().as_secs_f64();
        }
    }
    let step_seconds = timed / steps.max(1) as f64;
    let tokens_per_s = bench.tokens_per_step() as f64 / step_seconds;
    let (peak, peak_source) = default_peak(on, bench.precision);
    let mfu = 6.0 * shape.flop_parameters() as f64 * tokens_per_s / peak;
    let (torch, torch_note) = match on {
        BackendChoice::Cpu => match torch_step(shape, bench.rows * bench.replicas, steps) {
            Ok(t) => (Some(t), String::new()),
            Err(e) => (None, format!("{e:#}")),
        },
        BackendChoice::Cuda | BackendChoice::Wgpu => (None, "compared on CPU only".to_string()),
    };
    Ok(BenchReport {
        backend: format!("{on:?}"),
        shape: format!("{:?} vocab {} context {}", shape.dims, shape.vocab, shape.context),
        rows: bench.rows,
        replicas: bench.replicas,
        gradient_checkpointing: bench.checkpointing,
        precision: format!("{:?}", bench.precision).to_lowercase(),
        context,
        steps,
        step_seconds,
        tokens_per_s,
        mfu,
        peak_flops: peak,
        peak_flops_source: peak_source,
        ratio_to_torch: torch.as_ref().map(|t| tokens_per_s / t.tokens_per_s),
        torch,
        torch_note,
    })
}

pub fn format_report(r: &BenchReport) -> String {
    let mut s = format!(
        "burn 0.21 ({}, {} matmuls{}): {} | {} replica(s) x {} x {} tokens/step | {:.1} ms/step | {:.0} tokens/s | MFU {:.1}% of {:.0} GFLOP/s ({})",
        r.backend,
        r.precision,
        if r.gradient_checkpointing { ", gradient checkpointing" } else { "" },
        r.shape,
        r.replicas,
        r.rows,
        r.context,
        r.step_seconds * 1e3,
        r.tokens_per_s,
        r.mfu * 100.0,
        r.peak_flops / 1e9,
        r.peak_flops_source
    );
    match (&r.torch, r.ratio_to_torch) {
        (Some(t), Some(ratio)) => s.push_str(&format!(
            "\npytorch {} ({} threads): {:.1} ms/step | {:.0} tokens/s | burn/pytorch = {ratio:.2}x (target >= 0.5x)",
            t.version,
            t.threads,
            t.step_seconds * 1e3,
            t.tokens_per_s
        )),
        _ => s.push_str(&format!("\npytorch: not measured ({})", r.torch_note)),
    }
    s
}

/// The same decoder and step in PyTorch (RMSNorm, RoPE rotate-half, SwiGLU,
/// untied head, causal SDPA, AdamW, clip), timed the same way.
const TORCH_STEP: &str = r#"
import sys, time, json, math, os
import torch, torch.nn as nn, torch.nn.functional as F
L, D, H, FF, V, T, R, S = map(int, sys.argv[1:9])
torch.manual_seed(1)
threads = os.cpu_count() or 1
torch.set_num_threads(threads)
class RMS(nn.Module):
    def __init__(s, d): super().__init__(); s.g = nn.Parameter(torch.ones(d))
    def forward(s, x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * s.g
def rope(T, hd):
    half = hd // 2
    f = 10000.0 ** (-2 * torch.arange(half) / hd)
    a = torch.arange(T)[:, None] * f[None, :]
    a = torch.cat([a, a], -1)
    return a.cos(), a.sin()
def rot(x, c, s):
    h = x.shape[-1] // 2
    return x * c + torch.cat([-x[..., h:], x[..., :h]], -1) * s
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.n1, s.n2 = RMS(D), RMS(D)
        s.q, s.k, s.v, s.o = (nn.Linear(D, D, bias=False) for _ in range(4))
        s.g, s.u = nn.Linear(D, FF, bias=False), nn.Linear(D, FF, bias=False)
        s.d = nn.Linear(FF, D, bias=False)
    def forward(s, x, c, sn):
        b, t, _ = x.shape
        h = s.n1(x)
        sp = lambda y: y.view(b, t, H, D // H).transpose(1, 2)
        q, k, v = rot(sp(s.q(h)), c, sn), rot(sp(s.k(h)), c, sn), sp(s.v(h))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.o(y.transpose(1, 2).reshape(b, t, D))
        h = s.n2(x)
        return x + s.d(F.silu(s.g(h)) * s.u(h))
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.e = nn.Embedding(V, D); s.b = nn.ModuleList(Block() for _ in range(L))
        s.n = RMS(D); s.h = nn.Linear(D, V, bias=False)
    def forward(s, x):
        c, sn = rope(x.shape[1], D // H)
        x = s.e(x)
        for b in s.b: x = b(x, c, sn)
        return s.h(s.n(x))
m = M()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
x = torch.randint(0, V, (R, T + 1))
tot = 0.0
for i in range(S + 2):
    t0 = time.perf_counter()
    logits = m(x[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    if i >= 2: tot += time.perf_counter() - t0
print(json.dumps({"version": torch.__version__, "threads": threads, "step_seconds": tot / S}))
"#;

fn torch_step(shape: &DecoderShape, rows: usize, steps: usize) -> Result<TorchReport> {
    let d = shape.dims;
    let args = [d.layers, d.hidden, d.heads, d.ffn, shape.vocab, shape.context, rows as u32, steps as u32];
    let output = Command::new("python3")
        .arg("-c")
        .arg(TORCH_STEP)
        .args(args.iter().map(u32::to_string))
        .output()
        .context("python3 is not available")?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "the PyTorch step failed (install the CPU wheel with `pip install torch`): {}",
            err.lines().last().unwrap_or("no message")
        );
    }
    #[derive(Deserialize)]
    struct Raw {
        version: String,
        threads: usize,
        step_seconds: f64,
    }
    let raw: Raw =
        serde_json::from_slice(&output.stdout).context("unexpected output from the PyTorch step")?;
    Ok(TorchReport {
        tokens_per_s: (rows * shape.context as usize) as f64 / raw.step_seconds,
        version: raw.version,
        threads: raw.threads,
        step_seconds: raw.step_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs")
    }

    #[test]
    fn ci_bench_shape_is_the_profile_final_shape() {
        let bench = f01_shape(runs(), "ci").unwrap();
        let profile = crate::spec::load_profile(runs(), "ci").unwrap();
        assert_eq!(bench.decoder.dims, profile.shapes.final_shape);
        let train = &profile.overrides["train"];
        let context = train["context"].as_u64().unwrap() as u32;
        let batch = train["batch_sequences"].as_u64().unwrap() as usize;
        let devices = train["devices"].as_u64().unwrap() as usize;
        assert_eq!(
            (bench.decoder.vocab, bench.decoder.context, bench.rows, bench.replicas),
            (profile.vocab.standard, context, batch, devices)
        );
    }

    #[test]
    fn paper_shape_counts_the_model_card_parameters_without_allocating() {
        // PAPER.md: 24/2048/16/5504 with a 32k untied vocabulary is 1.345B.
        let bench = f01_shape(runs(), "paper").unwrap();
        let shape = bench.decoder;
        assert_eq!((shape.context, bench.rows, bench.replicas, bench.checkpointing), (768, 32, 2, true));
        assert_eq!(bench.precision, MatmulPrecision::Bf16, "the paper trained in bf16-mixed");
        assert_eq!(shape.parameters(), 1_345_423_360);
        let large = DecoderShape { vocab: 102_400, ..shape };
        assert_eq!(large.parameters(), 1_633_781_760);
    }
}

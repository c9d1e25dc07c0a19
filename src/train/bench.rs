//! `replicate bench train` (and `cargo bench --bench train_step`): training
//! throughput of one model shape, next to the same step in PyTorch on CPU
//! (when `python3 -c "import torch"` works) as alternating blocks of steps:
//! Burn, PyTorch at 1 thread, PyTorch at 2 threads, repeated (see
//! [`crate::bench`]). PyTorch runs with `OMP_WAIT_POLICY=PASSIVE` in one
//! long-lived process: spinning OpenMP threads slowed it 5–65× whenever
//! anything else held a core, which made a single Burn-then-PyTorch run
//! print ratios of 2×–50× that measured the load, not the code.

pub mod per_op;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
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
use crate::bench::{load_average, Load, Spread, MIN_PAIRS};
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
    /// Timed steps per block.
    pub steps: usize,
    /// Burn's seconds per step, one per block.
    pub step_seconds: Vec<f64>,
    /// At Burn's median step time.
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub peak_flops: f64,
    pub peak_flops_source: String,
    pub torch: Option<TorchReport>,
    /// Per pair: PyTorch's better step time (of 1 and 2 threads) over Burn's,
    /// i.e. Burn's throughput relative to PyTorch's (target >= 1.0).
    pub ratio_to_torch: Vec<f64>,
    /// Why there is no PyTorch figure, when there is none.
    pub torch_note: String,
    pub load: Load,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchReport {
    pub version: String,
    /// `OMP_WAIT_POLICY` the PyTorch process ran with.
    pub omp_wait_policy: String,
    /// Thread counts measured, and per count the seconds per step of each block.
    pub threads: Vec<usize>,
    pub step_seconds: Vec<Vec<f64>>,
}

/// PyTorch thread counts compared (best of them per pair).
const TORCH_THREADS: [usize; 2] = [1, 2];

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
        decoder: super::plan::decoder_shape(&spec.resolved_model(), &spec.train)?,
        rows: spec.train.batch_sequences as usize,
        replicas: spec.train.devices as usize,
        checkpointing: spec.train.gradient_checkpointing,
        precision: super::plan::matmul_precision(&spec.train),
    })
}

/// Times blocks of `steps` full training steps (forward and backward on
/// every replica, gradient sum, clip, AdamW) after two warmup steps,
/// alternating with the same global batch in PyTorch on CPU, at least
/// [`MIN_PAIRS`] blocks each.
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
    let steps = steps.max(1);
    let placement = placement(devices, bench.replicas);
    let device = placement[0].clone();
    let context = shape.context as usize;
    // In an `Option` so that a block can move the model through the
    // optimizer (a clone would keep a second reference to every parameter).
    let mut model: Option<Decoder<B>> = Some(shape.init(&device, 1).with_precision(bench.precision));
    let spec = AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
    let mut optim = optim::DecoupledAdamW::<B, Decoder<B>>::new(&spec);
    let total_steps = steps * MIN_PAIRS + 2;
    let tokens: Vec<u32> = (0..(bench.tokens_per_step() * total_steps + 1) as u32)
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
    // One block of `n` steps; seconds per step.
    let mut burn_block = |n: usize| -> Result<f64> {
        let mut timed = 0.0;
        for _ in 0..n {
            let batches = (0..bench.replicas).map(|_| loader.next_batch()).collect::<Result<Vec<_>>>()?;
            let t0 = Instant::now();
            let current = model.take().context("internal: the bench model is gone")?;
            let (_, _, grads) = clipped_gradients(&current, &placement, &batches, 1, 1.0)?;
            let next = optim.step(1e-3, current, grads);
            // Read one value back so lazy backends finish the step inside the timer.
            let _ = next.valid().norm.gain.val().sum().into_scalar().elem::<f64>();
            model = Some(next);
            timed += t0.elapsed().as_secs_f64();
        }
        Ok(timed / n as f64)
    };
    burn_block(2)?;
    let mut torch = match on {
        BackendChoice::Cpu => {
            TorchSession::start(TORCH_STEP, shape, bench.rows * bench.replicas).map_err(|e| format!("{e:#}"))
        }
        BackendChoice::Cuda | BackendChoice::Wgpu => Err("compared on CPU only".to_string()),
    };
    let before = load_average();
    let mut step_seconds = Vec::new();
    let mut torch_seconds: Vec<Vec<f64>> = vec![Vec::new(); TORCH_THREADS.len()];
    for _ in 0..MIN_PAIRS {
        step_seconds.push(burn_block(steps)?);
        if let Ok(session) = &mut torch {
            for (i, threads) in TORCH_THREADS.iter().enumerate() {
                match session.block(*threads, steps) {
                    Ok(seconds) => torch_seconds[i].push(seconds),
                    Err(e) => {
                        torch = Err(format!("{e:#}"));
                        break;
                    }
                }
            }
        }
    }
    let load = Load { before, after: load_average() };
    let median = Spread::of(&step_seconds).context("internal: no Burn block timed")?.median;
    let tokens_per_s = bench.tokens_per_step() as f64 / median;
    let (peak, peak_source) = default_peak(on, bench.precision);
    let mfu = 6.0 * shape.flop_parameters() as f64 * tokens_per_s / peak;
    let (torch, torch_note, ratio_to_torch) = match torch {
        Ok(session) => {
            let ratios = step_seconds
                .iter()
                .enumerate()
                .map(|(pair, burn)| {
                    torch_seconds.iter().map(|t| t[pair]).fold(f64::INFINITY, f64::min) / burn
                })
                .collect();
            let report = TorchReport {
                version: session.version.clone(),
                omp_wait_policy: TORCH_WAIT_POLICY.to_string(),
                threads: TORCH_THREADS.to_vec(),
                step_seconds: torch_seconds,
            };
            (Some(report), String::new(), ratios)
        }
        Err(note) => (None, note, Vec::new()),
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
        torch,
        ratio_to_torch,
        torch_note,
        load,
    })
}

pub fn format_report(r: &BenchReport) -> String {
    let spread = |v: &[f64]| {
        Spread::of(v).map_or("-".to_string(), |s| {
            format!("{:.1} ms/step (min {:.1} – max {:.1})", s.median * 1e3, s.min * 1e3, s.max * 1e3)
        })
    };
    let mut s = format!(
        "burn 0.21 ({}, {} matmuls{}): {} | {} replica(s) x {} x {} tokens/step | {} over {} blocks of {} steps | {:.0} tokens/s | MFU {:.1}% of {:.0} GFLOP/s ({})",
        r.backend,
        r.precision,
        if r.gradient_checkpointing { ", gradient checkpointing" } else { "" },
        r.shape,
        r.replicas,
        r.rows,
        r.context,
        spread(&r.step_seconds),
        r.step_seconds.len(),
        r.steps,
        r.tokens_per_s,
        r.mfu * 100.0,
        r.peak_flops / 1e9,
        r.peak_flops_source
    );
    match (&r.torch, Spread::of(&r.ratio_to_torch)) {
        (Some(t), Some(ratio)) => {
            for (threads, seconds) in t.threads.iter().zip(&t.step_seconds) {
                s.push_str(&format!(
                    "\npytorch {} ({threads} thread(s), OMP_WAIT_POLICY={}): {}",
                    t.version,
                    t.omp_wait_policy,
                    spread(seconds)
                ));
            }
            s.push_str(&format!(
                "\nburn throughput / pytorch's better thread count, per pair: median {:.2}x (min {:.2} – max {:.2}) over {} pairs (target >= 1.0x)",
                ratio.median,
                ratio.min,
                ratio.max,
                r.ratio_to_torch.len()
            ));
        }
        _ => s.push_str(&format!("\npytorch: not measured ({})", r.torch_note)),
    }
    s.push_str(&format!("\n{}", r.load));
    s
}

/// The wait policy PyTorch's OpenMP threads run with: passive threads sleep
/// when idle instead of spinning on a core the other side of the pair needs.
const TORCH_WAIT_POLICY: &str = "PASSIVE";

/// PyTorch in one process for the whole bench: `script` ([`TORCH_MODEL`]
/// and what to time) builds the model once, prints a JSON line with its
/// version, then answers each stdin line with a JSON line. [`TORCH_STEP`]
/// answers `THREADS STEPS` with the seconds per step of that block (after
/// two warmup steps at that thread count).
struct TorchSession {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    version: String,
}

impl TorchSession {
    fn start(script: &str, shape: &DecoderShape, rows: usize) -> Result<Self> {
        let d = shape.dims;
        let args = [d.layers, d.hidden, d.heads, d.ffn, shape.vocab, shape.context, rows as u32];
        let mut child = Command::new("python3")
            .arg("-c")
            .arg([TORCH_MODEL, script].concat())
            .args(args.iter().map(u32::to_string))
            .env("OMP_WAIT_POLICY", TORCH_WAIT_POLICY)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("python3 is not available")?;
        let stdin = child.stdin.take().context("no stdin to the PyTorch process")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout from the PyTorch process")?);
        let mut session = Self { child, stdin, stdout, version: String::new() };
        #[derive(Deserialize)]
        struct Ready {
            version: String,
        }
        let ready: Ready = session.answer()?;
        session.version = ready.version;
        Ok(session)
    }

    /// Seconds per step of a block of `steps` at `threads` threads ([`TORCH_STEP`]).
    fn block(&mut self, threads: usize, steps: usize) -> Result<f64> {
        #[derive(Deserialize)]
        struct Block {
            step_seconds: f64,
        }
        Ok(self.ask::<Block>(&format!("{threads} {steps}"))?.step_seconds)
    }

    /// Sends one request line and reads its answer.
    fn ask<T: for<'de> Deserialize<'de>>(&mut self, request: &str) -> Result<T> {
        writeln!(self.stdin, "{request}").context("the PyTorch process stopped")?;
        self.stdin.flush().context("the PyTorch process stopped")?;
        self.answer()
    }

    fn answer<T: for<'de> Deserialize<'de>>(&mut self) -> Result<T> {
        let mut line = String::new();
        self.stdout.read_line(&mut line).context("cannot read from the PyTorch process")?;
        if line.trim().is_empty() {
            let mut err = String::new();
            if let Some(stderr) = self.child.stderr.as_mut() {
                let _ = std::io::Read::read_to_string(stderr, &mut err);
            }
            anyhow::bail!(
                "the PyTorch step failed (install the CPU wheel with `pip install torch`): {}",
                err.lines().last().unwrap_or("no message")
            );
        }
        serde_json::from_str(&line)
            .with_context(|| format!("unexpected output from the PyTorch step: {line}"))
    }
}

impl Drop for TorchSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same decoder in PyTorch (RMSNorm, RoPE rotate-half, SwiGLU, untied
/// head, causal SDPA); the scripts below time it.
const TORCH_MODEL: &str = r#"
import sys, time, json
import torch, torch.nn as nn, torch.nn.functional as F
L, D, H, FF, V, T, R = map(int, sys.argv[1:8])
torch.manual_seed(1)
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
"#;

/// The training step in PyTorch (the model above, AdamW, clip), timed the
/// same way as Burn's.
const TORCH_STEP: &str = r#"
m = M()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
x = torch.randint(0, V, (R, T + 1))
def step():
    logits = m(x[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
print(json.dumps({"version": torch.__version__}), flush=True)
for line in sys.stdin:
    threads, steps = map(int, line.split())
    torch.set_num_threads(threads)
    for _ in range(2): step()
    tot = 0.0
    for _ in range(steps):
        t0 = time.perf_counter(); step(); tot += time.perf_counter() - t0
    print(json.dumps({"step_seconds": tot / steps}), flush=True)
"#;

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

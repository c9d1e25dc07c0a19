//! `replicate bench train --per-op` (and `cargo bench --bench train_step --
//! --per-op`): each piece of the decoder, forward and backward, at one
//! replica's shape on the CPU training backend, next to the same pieces in
//! PyTorch, to name what holds the training step back per core.
//!
//! Burn runs inside a one-thread rayon pool, as one replica runs in the
//! step (flex's parallel loops then stay on that core). PyTorch runs in one
//! process at 1 and at 2 threads with `OMP_WAIT_POLICY=PASSIVE`, and each op
//! is compared with its better thread count. Rounds alternate (Burn,
//! PyTorch 1 thread, PyTorch 2 threads; at least [`MIN_PAIRS`] rounds); a
//! round times every op `calls` times and keeps the median.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{BenchShape, TorchSession, TORCH_THREADS, TORCH_WAIT_POLICY};
use crate::bench::{load_average, Load, Spread, MIN_PAIRS};

mod pieces;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerOpReport {
    pub shape: String,
    pub rows: usize,
    pub context: usize,
    /// Timed calls of each op per round (the round keeps their median).
    pub calls: usize,
    pub rounds: usize,
    pub ops: Vec<OpTimes>,
    /// PyTorch's version, when it ran.
    pub torch_version: Option<String>,
    /// Why there is no PyTorch column, when there is none.
    pub torch_note: String,
    pub load: Load,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpTimes {
    pub name: String,
    /// How often one replica's step runs the op.
    pub calls_per_step: usize,
    /// Burn's median milliseconds, one per round.
    pub burn_ms: Vec<f64>,
    /// PyTorch's median milliseconds per thread count of [`TORCH_THREADS`],
    /// one per round; empty when the op was not compared.
    pub torch_ms: Vec<Vec<f64>>,
}

impl OpTimes {
    /// Per round: Burn's time over PyTorch's at its better thread count of
    /// that round (above 1: Burn is slower).
    pub fn ratios(&self) -> Vec<f64> {
        (0..self.burn_ms.len())
            .filter_map(|round| {
                let torch = self.torch_ms.iter().filter_map(|t| t.get(round)).copied().reduce(f64::min)?;
                Some(self.burn_ms[round] / torch)
            })
            .collect()
    }

    /// PyTorch's thread count with the lower median, and its spread.
    fn torch_best(&self) -> Option<(usize, Spread)> {
        TORCH_THREADS
            .iter()
            .zip(&self.torch_ms)
            .filter_map(|(threads, ms)| Some((*threads, Spread::of(ms)?)))
            .min_by(|a, b| a.1.median.total_cmp(&b.1.median))
    }
}

/// Times every piece at `shape`'s model and one replica's rows, `calls`
/// times per round, and prints the table.
pub fn bench(shape: &BenchShape, calls: usize) -> Result<PerOpReport> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("cannot start a one-thread rayon pool for the per-op bench")?;
    let report = pool.install(|| measure(shape, calls.max(1)))?;
    println!("{}", render(&report));
    Ok(report)
}

/// Median milliseconds of `calls` calls, after two untimed ones.
fn median_ms(calls: usize, run: &dyn Fn()) -> f64 {
    run();
    run();
    let times: Vec<f64> = (0..calls)
        .map(|_| {
            let t0 = Instant::now();
            run();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    Spread::of(&times).map_or(f64::NAN, |s| s.median)
}

#[derive(Deserialize)]
struct TorchRound {
    ms: BTreeMap<String, f64>,
}

fn measure(shape: &BenchShape, calls: usize) -> Result<PerOpReport> {
    let inputs = pieces::Inputs::new(&shape.decoder, shape.rows, shape.precision);
    let pieces = inputs.pieces();
    let burn_round = || pieces.iter().map(|p| median_ms(calls, &p.run)).collect::<Vec<_>>();
    burn_round();
    let mut torch =
        TorchSession::start(TORCH_PER_OP, &shape.decoder, shape.rows).map_err(|e| format!("{e:#}"));
    let before = load_average();
    let mut burn: Vec<Vec<f64>> = vec![Vec::new(); pieces.len()];
    let mut torch_rounds: Vec<Vec<BTreeMap<String, f64>>> = vec![Vec::new(); TORCH_THREADS.len()];
    for _ in 0..MIN_PAIRS {
        for (op, ms) in burn_round().into_iter().enumerate() {
            burn[op].push(ms);
        }
        if let Ok(session) = &mut torch {
            for (i, threads) in TORCH_THREADS.iter().enumerate() {
                match session.ask::<TorchRound>(&format!("{threads} {calls}")) {
                    Ok(round) => torch_rounds[i].push(round.ms),
                    Err(e) => {
                        torch = Err(format!("{e:#}"));
                        break;
                    }
                }
            }
        }
    }
    let load = Load { before, after: load_average() };
    let ops = pieces
        .iter()
        .zip(burn)
        .map(|(piece, burn_ms)| {
            let torch_ms = match (&torch, piece.torch) {
                (Ok(_), Some(key)) => torch_rounds
                    .iter()
                    .map(|rounds| {
                        rounds
                            .iter()
                            .map(|r| r.get(key).copied())
                            .collect::<Option<Vec<f64>>>()
                            .with_context(|| format!("internal: the PyTorch per-op script has no op {key:?}"))
                    })
                    .collect::<Result<Vec<_>>>()?,
                _ => Vec::new(),
            };
            Ok(OpTimes { name: piece.name.to_string(), calls_per_step: piece.calls, burn_ms, torch_ms })
        })
        .collect::<Result<Vec<_>>>()?;
    let (torch_version, torch_note) = match torch {
        Ok(session) => (Some(session.version.clone()), String::new()),
        Err(note) => (None, note),
    };
    let d = &shape.decoder;
    Ok(PerOpReport {
        shape: format!("F01 {:?} vocab {} context {}", d.dims, d.vocab, d.context),
        rows: shape.rows,
        context: d.context as usize,
        calls,
        rounds: MIN_PAIRS,
        ops,
        torch_version,
        torch_note,
        load,
    })
}

pub fn render(r: &PerOpReport) -> String {
    let ms = |s: Spread| format!("{:.3} ({:.3}–{:.3})", s.median, s.min, s.max);
    let mut out = format!(
        "per op, forward + backward, one replica ({} x {} tokens) of {}: burn 0.21 Autodiff<Flex> in a \
         one-thread rayon pool; each figure the median of {} calls, over {} alternating rounds\n",
        r.rows, r.context, r.shape, r.calls, r.rounds
    );
    match &r.torch_version {
        Some(v) => out.push_str(&format!(
            "pytorch {v} at {:?} threads, OMP_WAIT_POLICY={TORCH_WAIT_POLICY}, the better count per op\n",
            TORCH_THREADS
        )),
        None => out.push_str(&format!("pytorch: not measured ({})\n", r.torch_note)),
    }
    out.push_str(
        "| op (calls per replica step) | Burn ms, median (min–max) | PyTorch ms, better thread count \
         | Burn / PyTorch, median of per-round ratios (min–max) |\n|---|---|---|---|\n",
    );
    for op in &r.ops {
        let burn = Spread::of(&op.burn_ms).map_or("-".to_string(), ms);
        let torch = op.torch_best().map_or("-".to_string(), |(t, s)| format!("{}, {t} thread(s)", ms(s)));
        let ratio = Spread::of(&op.ratios())
            .map_or("-".to_string(), |s| format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max));
        out.push_str(&format!("| {} ({}) | {burn} | {torch} | {ratio} |\n", op.name, op.calls_per_step));
    }
    out.push_str(&r.load.to_string());
    out
}

/// The same pieces in PyTorch, after [`super::TORCH_MODEL`]: answers each
/// stdin line `THREADS CALLS` with each op's median milliseconds of `CALLS`
/// forward + backward calls (`y.backward(ones_like(y))`) at that thread count.
/// The keys of `ops` are the `torch` keys of the Burn pieces (tested).
const TORCH_PER_OP: &str = r#"
import statistics
m = M()
blk, hd = m.b[0], D // H
c, sn = rope(T, hd)
mask = torch.full((T, T), float("-inf")).triu(1)
leaf = lambda *shape: torch.randn(*shape, requires_grad=True)
x, q, k, v, s, g, logits = leaf(R, T, D), leaf(R, H, T, hd), leaf(R, H, T, hd), leaf(R, H, T, hd), leaf(R, H, T, T), leaf(R, T, FF), leaf(R, T, V)
masked = (s.detach() + mask).requires_grad_()
toks, tgt = torch.randint(0, V, (R, T)), torch.randint(0, V, (R * T,))
sp = lambda y: y.view(R, T, H, hd).transpose(1, 2)
def attn(x):
    qq, kk, vv = rot(sp(blk.q(x)), c, sn), rot(sp(blk.k(x)), c, sn), sp(blk.v(x))
    y = F.scaled_dot_product_attention(qq, kk, vv, is_causal=True)
    return blk.o(y.transpose(1, 2).reshape(R, T, D))
ce = lambda lg: F.cross_entropy(lg.reshape(-1, V), tgt, reduction="sum")
ops = {
    "embedding": lambda: m.e(toks),
    "RMSNorm": lambda: blk.n1(x),
    "linear DxD (q/k/v/o)": lambda: blk.q(x),
    "RoPE": lambda: rot(sp(x), c, sn),
    "q.k^T matmul": lambda: q @ k.transpose(2, 3),
    "scale + mask add": lambda: s * (1 / hd ** 0.5) + mask,
    "attention softmax": lambda: torch.softmax(masked, -1),
    "probs.v matmul": lambda: s @ v,
    "attention core": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    "attention block": lambda: attn(x),
    "linear D->FF (gate/up)": lambda: blk.g(x),
    "SiLU": lambda: F.silu(g),
    "linear FF->D (down)": lambda: blk.d(g),
    "SwiGLU block": lambda: blk.d(F.silu(blk.g(x)) * blk.u(x)),
    "residual add": lambda: x + x,
    "LM head": lambda: m.h(x),
    "log-softmax": lambda: F.log_softmax(logits, -1),
    "cross-entropy": lambda: ce(logits),
    "one replica": lambda: ce(m(toks)),
}
def fb(f):
    y = f(); y.backward(torch.ones_like(y))
print(json.dumps({"version": torch.__version__}), flush=True)
for line in sys.stdin:
    threads, calls = map(int, line.split())
    torch.set_num_threads(threads)
    ms = {}
    for name, f in ops.items():
        for _ in range(2): fb(f)
        ts = []
        for _ in range(calls):
            t0 = time.perf_counter(); fb(f); ts.append(time.perf_counter() - t0)
        ms[name] = statistics.median(ts) * 1e3
    print(json.dumps({"ms": ms}), flush=True)
"#;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn op(name: &str, burn_ms: Vec<f64>, torch_ms: Vec<Vec<f64>>) -> OpTimes {
        OpTimes { name: name.into(), calls_per_step: 3, burn_ms, torch_ms }
    }

    #[test]
    fn ratio_per_round_is_burn_over_the_faster_pytorch_thread_count() {
        let times = op("x", vec![2.0, 3.0, 8.0], vec![vec![1.0, 2.0, 4.0], vec![4.0, 1.0, 5.0]]);
        assert_eq!(times.ratios(), vec![2.0, 3.0, 2.0]);
        let (threads, best) = times.torch_best().unwrap();
        assert_eq!((threads, best.median), (1, 2.0), "1 thread has the lower median (2 < 4)");
        assert!(op("y", vec![1.0], Vec::new()).ratios().is_empty());
    }

    fn report(torch: bool) -> PerOpReport {
        let rounds = |v: f64| vec![v; 5];
        let torch_ms = |v: f64| if torch { vec![rounds(v), rounds(v * 2.0)] } else { Vec::new() };
        PerOpReport {
            shape: "F01".into(),
            rows: 4,
            context: 128,
            calls: 20,
            rounds: 5,
            ops: vec![
                op("SiLU (one node)", rounds(0.24), torch_ms(0.15)),
                op("LM head", rounds(2.0), torch_ms(1.0)),
            ],
            torch_version: torch.then(|| "2.15".to_string()),
            torch_note: if torch { String::new() } else { "python3 is not available".into() },
            load: Load { before: Some([0.5, 0.6, 0.7]), after: None },
        }
    }

    #[test]
    fn table_has_a_row_per_op_with_its_ratio() {
        let text = render(&report(true));
        let rows: Vec<&str> =
            text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| op")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], "| SiLU (one node) (3) | 0.240 (0.240–0.240) | 0.150 (0.150–0.150), 1 thread(s) | 1.60 (1.60–1.60) |");
        assert_eq!(
            rows[1],
            "| LM head (3) | 2.000 (2.000–2.000) | 1.000 (1.000–1.000), 1 thread(s) | 2.00 (2.00–2.00) |"
        );
        assert!(text.ends_with("load average before 0.50 0.60 0.70 / after unknown"), "{text}");
    }

    #[test]
    fn without_pytorch_the_table_keeps_burn_and_says_why() {
        let text = render(&report(false));
        assert!(text.contains("pytorch: not measured (python3 is not available)"), "{text}");
        assert!(text.contains("| LM head (3) | 2.000 (2.000–2.000) | - | - |"), "{text}");
    }

    /// The keys of the script's `ops` dict, one entry per line.
    fn script_ops() -> BTreeSet<String> {
        let body = TORCH_PER_OP.split_once("ops = {\n").unwrap().1.split_once("\n}").unwrap().0;
        body.lines().map(|l| l.trim().split('"').nth(1).unwrap().to_string()).collect()
    }

    #[test]
    fn every_burn_piece_names_a_pytorch_op_and_every_pytorch_op_is_used() {
        let runs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
        let shape = super::super::f01_shape(&runs, "ci").unwrap();
        let inputs = pieces::Inputs::new(&shape.decoder, 1, shape.precision);
        let pieces = inputs.pieces();
        let keys: BTreeSet<String> = pieces.iter().filter_map(|p| p.torch).map(str::to_string).collect();
        assert_eq!(keys, script_ops());
        assert!(pieces.iter().all(|p| p.torch.is_some()), "every Burn row has a PyTorch counterpart");
        for must in
            ["embedding", "RMSNorm", "RoPE", "SiLU", "SwiGLU block", "LM head", "log-softmax", "one replica"]
        {
            assert!(keys.contains(must), "{must}");
        }
    }
}

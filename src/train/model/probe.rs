//! Per-op timing probe of one training step at the `ci` F01 shape (issue 15):
//! each piece of the decoder, forward and forward+backward on `Autodiff<Flex>`,
//! timed in isolation at the shape one replica sees (4 rows × 128 tokens),
//! with the model's own code. The same pieces in PyTorch are timed by the
//! script in the notes of issue 15, so the two tables read side by side.
//!
//! `PROBE_POOL=1 RAYON_NUM_THREADS=1 cargo test --release --lib train::model::probe -- --ignored --nocapture`
//! (one core, flex's parallel loops run in-worker, as in a replica of the
//! step). A probe, not a test: it asserts nothing; the figures are for reading.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::tensor::activation::{log_softmax, silu, softmax};
use burn::tensor::{Distribution, Int, Tensor, TensorData};

use super::*;
use crate::train::backend::TrainBackend as B;
use crate::train::loader::Batch;
use crate::train::optim::{clip_global_norm, DecoupledAdamW};
use crate::train::step::{clipped_gradients, summed_nll};

type Dev = burn::tensor::Device<B>;
type Inner = burn::backend::Flex;

/// What fusion would buy in attention: softmax as one autodiff op (forward:
/// flex's fused kernel; backward from the saved output, no second `exp`
/// pass), measured here only. Not used by the model: it changes the
/// result's last bits (printed below).
mod fused {
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
    use burn::tensor::ops::{ActivationOps, FloatTensor, FloatTensorOps};
    use burn::tensor::{Tensor, TensorPrimitive};

    use super::{Inner, B};

    #[derive(Debug)]
    struct Softmax(usize);

    impl Backward<Inner, 1> for Softmax {
        type State = FloatTensor<Inner>;
        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (y, dim) = (ops.state, self.0);
            unary::<Inner, _>(ops.parents, ops.node, grads, |g| {
                let s = Inner::float_sum_dim(Inner::float_mul(g.clone(), y.clone()), dim);
                Inner::float_mul(Inner::float_sub(g, s), y)
            });
        }
    }

    fn run<const D: usize, O: Backward<Inner, 1, State = FloatTensor<Inner>>>(
        x: Tensor<B, D>,
        op: O,
        f: impl Fn(FloatTensor<Inner>) -> FloatTensor<Inner>,
    ) -> Tensor<B, D> {
        let t = x.into_primitive().tensor();
        let out = match op.prepare::<NoCheckpointing>([t.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = f(t.primitive);
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(f(t.primitive)),
        };
        Tensor::from_primitive(TensorPrimitive::Float(out))
    }

    pub fn softmax<const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
        run(x, Softmax(dim), |t| <Inner as ActivationOps<Inner>>::softmax(t, dim))
    }
}

/// The `ci` profile's final shape (runs/profiles/ci.yaml) and per-replica batch.
const ROWS: usize = 4;
const LEN: usize = 128;

fn ci_shape() -> DecoderShape {
    let runs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runs");
    crate::train::bench::f01_shape(&runs, "ci").expect("F01 ci loads").decoder
}

/// Median milliseconds of `reps` calls after 10 warmup calls.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn leaf<const D: usize>(shape: [usize; D], dev: &Dev) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), dev).require_grad()
}

/// Forward, and forward + backward (gradient of ones, as `y.backward()`
/// seeds it; PyTorch's side uses `y.backward(ones_like(y))`).
fn row<const D: usize>(name: &str, reps: usize, f: impl Fn() -> Tensor<B, D>) {
    let fwd = median_ms(reps, || drop(f()));
    let both = median_ms(reps, || drop(f().backward()));
    println!("PROBE | {name} | {fwd:.4} | {both:.4}");
}

fn batch(vocab: u32, seed: u32) -> Batch {
    let n = ROWS * LEN;
    let ids = |k: u32| (0..n as u32).map(|i| ((i + k).wrapping_mul(2_654_435_761) % vocab) as i64).collect();
    Batch {
        inputs: ids(seed),
        targets: ids(seed + 1),
        weights: vec![1.0; n],
        rows: ROWS,
        context: LEN,
        padding_tokens: 0,
        truncated_tokens: 0,
        bytes_read: 0,
    }
}

#[test]
#[ignore = "a timing probe; run by hand (see the module doc)"]
fn per_op_times_at_the_ci_shape() {
    // PROBE_POOL=N: run inside a rayon pool of N threads (nested rayon calls
    // then run in-worker), instead of on the test's own thread.
    match std::env::var("PROBE_POOL").ok().and_then(|v| v.parse().ok()) {
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(probe),
        None => probe(),
    }
}

fn probe() {
    let dev: Dev = Default::default();
    let shape = ci_shape();
    let (d, heads, ffn, vocab) = (
        shape.dims.hidden as usize,
        shape.dims.heads as usize,
        shape.dims.ffn as usize,
        shape.vocab as usize,
    );
    let (n, hd) = (ROWS * LEN, d / heads);
    let model = shape.init::<B>(&dev, 1);
    let block = &model.blocks[0];
    let pass = || Pass {
        batch: ROWS,
        len: LEN,
        rope: Rope::new(ROWS, LEN, d, heads, shape.rope_theta, &dev),
        mask: causal_mask(LEN, &dev),
        precision: MatmulPrecision::F32,
    };
    let p = pass();
    let reps = 200;
    let x = leaf([n, d], &dev);
    let tokens = Tensor::<B, 2, Int>::from_data(
        TensorData::new((0..n as i64).map(|i| i * 7 % vocab as i64).collect::<Vec<_>>(), [ROWS, LEN]),
        &dev,
    );
    println!("PROBE | op | fwd ms | fwd+bwd ms");
    row("embedding", reps, || model.embedding.forward(tokens.clone()));
    row("rmsnorm", reps, || block.attn_norm.forward(x.clone()));
    row("linear DxD (q/k/v/o)", reps, || p.precision.linear(x.clone(), &block.attn.q));
    row("rope", reps, || p.rope.apply(x.clone()));
    let q4 = leaf([ROWS, heads, LEN, hd], &dev);
    let k4 = leaf([ROWS, heads, LEN, hd], &dev);
    let v4 = leaf([ROWS, heads, LEN, hd], &dev);
    let core = || {
        let scores = q4.clone().matmul(k4.clone().swap_dims(2, 3)).mul_scalar(1.0 / (hd as f64).sqrt());
        let scores =
            (scores.reshape([ROWS * heads, LEN * LEN]) + p.mask.clone()).reshape([ROWS, heads, LEN, LEN]);
        softmax(scores, 3).matmul(v4.clone())
    };
    row("attention core (qk, mask, softmax, pv)", reps, core);
    row("  qk^T matmul", reps, || q4.clone().matmul(k4.clone().swap_dims(2, 3)));
    let s4 = leaf([ROWS, heads, LEN, LEN], &dev);
    row("  scale + mask add", reps, || {
        (s4.clone().mul_scalar(0.2).reshape([ROWS * heads, LEN * LEN]) + p.mask.clone())
            .reshape([ROWS, heads, LEN, LEN])
    });
    let masked = (s4.clone().inner().reshape([ROWS * heads, LEN * LEN])
        + causal_mask::<burn::backend::Flex>(LEN, &dev))
    .reshape([ROWS, heads, LEN, LEN]);
    let masked = Tensor::<B, 4>::from_inner(masked).require_grad();
    row("  softmax (burn: 5 nodes)", reps, || softmax(masked.clone(), 3));
    row("  softmax, one node (train::fused, same bits)", reps, || {
        crate::train::fused::softmax(masked.clone(), 3)
    });
    row("  softmax as one op (flex fused kernel)", reps, || fused::softmax(masked.clone(), 3));
    let same = |a: Tensor<B, 4>, b: Tensor<B, 4>| a.into_data() == b.into_data();
    println!(
        "PROBE | (fused softmax bit-identical to burn's: {}) | - | -",
        same(fused::softmax(masked.clone(), 3), softmax(masked.clone(), 3))
    );
    row("  probs @ v", reps, || s4.clone().matmul(v4.clone()));
    row("  head split + merge (swap_dims, reshape)", reps, || {
        x.clone().reshape([ROWS, LEN, heads, hd]).swap_dims(1, 2).swap_dims(1, 2).reshape([n, d])
    });
    row("attention block (qkv+rope+core+o)", reps, || block.attn.forward(x.clone(), &p));
    row("linear D->FF (gate/up)", reps, || p.precision.linear(x.clone(), &block.mlp.gate));
    let f1 = leaf([n, ffn], &dev);
    let f2 = leaf([n, ffn], &dev);
    row("silu*up", reps, || silu(f1.clone()) * f2.clone());
    row("  silu (burn: 2 nodes)", reps, || silu(f1.clone()));
    row("  silu, one node (train::fused, same bits)", reps, || crate::train::fused::silu(f1.clone()));
    row("linear FF->D (down)", reps, || f1.clone().matmul(block.mlp.down.weight.val()));
    row("swiglu block", reps, || block.mlp.forward(x.clone(), p.precision));
    row("residual add", reps, || x.clone() + x.clone());
    let head = model.head.as_ref().expect("F01 is untied");
    row("lm head", reps, || p.precision.linear(x.clone(), head));
    let logits = leaf([ROWS, LEN, vocab], &dev);
    let b0 = batch(shape.vocab, 0);
    let (_, targets, weights) = crate::train::step::batch_tensors::<B>(&b0, &dev);
    row("cross-entropy (summed_nll)", reps, || summed_nll(logits.clone(), targets.clone(), weights.clone()));
    row("  log_softmax (burn: 6 nodes)", reps, || log_softmax(logits.clone(), 2));
    row("  log_softmax, one node (train::fused, same bits)", reps, || {
        crate::train::fused::log_softmax(logits.clone(), 2)
    });
    let ex = logits.clone().inner();
    let exp_ms = median_ms(reps, || drop(ex.clone().exp()));
    println!("PROBE | exp alone, [4,128,1024], no autodiff | {exp_ms:.4} | -");
    row("decoder forward (no loss)", 50, || model.forward(tokens.clone()));
    row("decoder + loss (one replica)", 50, || {
        summed_nll(model.forward(tokens.clone()), targets.clone(), weights.clone())
    });

    // Whole-step pieces: the gradient merge, clip and AdamW; the step itself.
    let spec = crate::spec::train::AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
    let mut optim = DecoupledAdamW::<B, Decoder<B>>::new(&spec);
    let mut current = Some(shape.init::<B>(&dev, 1));
    let placement = vec![dev, dev];
    let batches = vec![b0.clone(), batch(shape.vocab, 7)];
    let one = [b0.clone()];
    let grads_of = |m: &Decoder<B>| {
        let (_, _, g) = clipped_gradients(m, &placement[..1], &one, 1, 0.0).unwrap();
        g
    };
    let opt_ms = median_ms(50, || {
        let mut g = grads_of(current.as_ref().unwrap());
        let _ = clip_global_norm(current.as_ref().unwrap(), &mut g, 1.0);
        let next = optim.step(1e-3, current.take().unwrap(), g);
        current = Some(next);
    });
    let m = &model;
    let grads_ms = median_ms(50, || drop(grads_of(m)));
    let replica_ms = grads_ms;
    let two_ms = median_ms(50, || drop(clipped_gradients(m, &placement, &batches, 1, 1.0).unwrap()));
    let seq_ms = median_ms(50, || drop(clipped_gradients(m, &placement[..1], &batches, 2, 1.0).unwrap()));
    println!("PROBE | one replica fwd+bwd+GradientsParams (4 rows) | - | {replica_ms:.4}");
    println!("PROBE | clip + AdamW (step minus one replica's grads) | - | {:.4}", opt_ms - grads_ms);
    println!("PROBE | 2 replicas in 2 threads + merge + clip (no AdamW) | - | {two_ms:.4}");
    println!("PROBE | 2 micro-batches in 1 thread + clip (no AdamW) | - | {seq_ms:.4}");
    let _ = model.valid();
}
